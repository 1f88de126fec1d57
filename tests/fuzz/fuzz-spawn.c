/*
 * libFuzzer target for proto_decode_spawn().  The first byte is the number
 * of fds that came with the body, the rest is the body.  Beyond "no crash,
 * no leak, no read past the end", whatever decodes must re-encode into a
 * body that decodes, and re-encoding that must give the same bytes: the
 * encoder's output is canonical.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	touch(const struct proto_spawn *);
static void	reencode(const struct proto_spawn *, size_t);

/* Reads every string the decoder handed out, so ASan checks each one. */
static void
touch(const struct proto_spawn *req)
{
	volatile size_t	n = 0;
	uint32_t	i;

	for (i = 0; i < req->argc; i++)
		n += strlen(req->argv[i]);
	for (i = 0; i < req->envc; i++)
		n += strlen(req->envp[i]);
	if (req->argv[req->argc] != NULL || req->envp[req->envc] != NULL)
		abort();
	if (req->path != NULL)
		n += strlen(req->path);
	if (req->cwd != NULL)
		n += strlen(req->cwd);
	for (i = 0; i < req->nactions; i++) {
		if (req->actions[i].path != NULL)
			n += strlen(req->actions[i].path);
	}
	(void)n;
}

static void
reencode(const struct proto_spawn *req, size_t nfds)
{
	struct proto_buf	b1, b2;
	struct proto_spawn	req2;

	proto_buf_init(&b1);
	proto_buf_init(&b2);
	proto_encode_spawn(&b1, req);
	if (b1.err != 0)
		abort();
	if (proto_decode_spawn(b1.data, b1.len, nfds, &req2) != 0)
		abort();
	touch(&req2);
	proto_encode_spawn(&b2, &req2);
	if (b2.err != 0 || b2.len != b1.len ||
	    memcmp(b1.data, b2.data, b1.len) != 0)
		abort();
	proto_spawn_free(&req2);
	proto_buf_free(&b2);
	proto_buf_free(&b1);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_spawn	req;
	size_t			nfds;

	if (size < 1)
		return (0);
	nfds = data[0];
	if (proto_decode_spawn(data + 1, size - 1, nfds, &req) != 0)
		return (0);
	touch(&req);
	reencode(&req, nfds);
	proto_spawn_free(&req);
	return (0);
}
