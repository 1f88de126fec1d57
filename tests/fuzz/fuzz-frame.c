/*
 * libFuzzer target for proto_check_frame() and the decoders behind it.
 * The first byte is the number of fds that came with the datagram, the
 * rest is the datagram.  A payload that decodes must re-encode to the
 * same bytes: every fixed message has one encoding.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	same(const uint8_t *, size_t, const uint8_t *, size_t);
static void	fixed(uint16_t, const uint8_t *, size_t);
static void	error_msg(const uint8_t *, size_t);

static void
same(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	if (alen != blen || memcmp(a, b, alen) != 0)
		abort();
}

static void
fixed(uint16_t type, const uint8_t *p, size_t len)
{
	uint8_t			o[64];
	struct proto_hello	he;
	struct proto_hello_ok	ok;
	struct proto_started	st;
	struct proto_failed	fa;
	struct proto_exited	ex;
	struct proto_kill	ki;
	struct proto_pong	po;

	switch (type) {
	case PROTO_HELLO:
		if (proto_decode_hello(p, len, &he) == 0)
			same(p, len, o, proto_encode_hello(o, &he));
		break;
	case PROTO_HELLO_OK:
		if (proto_decode_hello_ok(p, len, &ok) == 0)
			same(p, len, o, proto_encode_hello_ok(o, &ok));
		break;
	case PROTO_STARTED:
		if (proto_decode_started(p, len, &st) == 0)
			same(p, len, o, proto_encode_started(o, &st));
		break;
	case PROTO_FAILED:
		if (proto_decode_failed(p, len, &fa) == 0) {
			same(p, len, o, proto_encode_failed(o, &fa));
			(void)strlen(proto_step_name(fa.step));
		}
		break;
	case PROTO_EXITED:
		if (proto_decode_exited(p, len, &ex) == 0)
			same(p, len, o, proto_encode_exited(o, &ex));
		break;
	case PROTO_KILL:
		if (proto_decode_kill(p, len, &ki) == 0)
			same(p, len, o, proto_encode_kill(o, &ki));
		break;
	case PROTO_PONG:
		if (proto_decode_pong(p, len, &po) == 0)
			same(p, len, o, proto_encode_pong(o, &po));
		break;
	}
}

static void
error_msg(const uint8_t *p, size_t len)
{
	struct proto_error	e;
	struct proto_buf	b;

	if (proto_decode_error(p, len, &e) != 0)
		return;
	proto_buf_init(&b);
	proto_encode_error(&b, &e);
	if (b.err != 0)
		abort();
	same(p, len, b.data, b.len);
	proto_buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_hdr	 hdr;
	struct proto_spawn	 req;
	const uint8_t		*p;
	size_t			 len;

	if (size < 1)
		return (0);
	if (proto_check_frame(data + 1, size - 1, data[0], &hdr) != 0)
		return (0);
	p = data + 1 + PROTO_HDR_SIZE;
	len = hdr.length;
	(void)strlen(proto_type_name(hdr.type));
	if (hdr.type == PROTO_ERROR)
		error_msg(p, len);
	else if (hdr.type == PROTO_SPAWN) {
		if (proto_decode_spawn(p, len, hdr.nfds, &req) == 0)
			proto_spawn_free(&req);
	} else
		fixed(hdr.type, p, len);
	return (0);
}
