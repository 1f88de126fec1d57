/*
 * spawnd wire protocol: encoders and decoders for proto.h.
 *
 * Everything here is pure: no I/O, no globals but const tables, no logging.
 * Integers are packed one byte at a time so that no struct layout, padding
 * or host byte order ever reaches the wire.
 *
 * Error codes of proto_decode_spawn(), in the terms of proto.h: a body that
 * cannot be parsed (truncation, bad string, unknown tag or action kind,
 * nonzero reserved field, a repeated record that may appear once, trailing
 * bytes in a record) is -EPROTO; too many strings or records is -E2BIG; a
 * well-formed value the daemon must not act on (unknown spawn flags, bad
 * fd index, out of range number, missing ARGV) is -EINVAL.
 */

#include <sys/resource.h>

#include <errno.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

/* A bounded read cursor: reads never pass p + left. */
struct rd {
	const uint8_t	*p;
	size_t		 left;
};

/* State of one pass of proto_decode_spawn(). */
struct dec {
	struct proto_spawn	*req;
	size_t			 nfds;
	uint32_t		 seen;		/* 1 << tag, records seen */
	uint32_t		 rlimits;	/* 1 << resource, seen */
	uint64_t		 used[(PROTO_MAX_FDS + 63) / 64];
};

#define REPEATABLE(tag) \
	((tag) == PROTO_REC_FD || (tag) == PROTO_REC_RLIMIT || \
	 (tag) == PROTO_REC_ACTION || (tag) == PROTO_REC_FD_CLOEXEC)

static uint8_t	*buf_reserve(struct proto_buf *, size_t);
static void	 put_raw(struct proto_buf *, const void *, size_t);
static void	 put_i32(struct proto_buf *, int32_t);

static int	 rd_u16(struct rd *, uint16_t *);
static int	 rd_u32(struct rd *, uint32_t *);
static int	 rd_i32(struct rd *, int32_t *);
static int	 rd_u64(struct rd *, uint64_t *);
static int	 rd_str(struct rd *, const char **);

static void	 spawn_init(struct proto_spawn *);
static void	 dec_init(struct dec *, struct proto_spawn *, size_t);
static int	 dec_pass(struct dec *, const uint8_t *, size_t);
static int	 dec_record(struct dec *, uint16_t, struct rd *);
static int	 dec_strv(struct rd *, char **, uint32_t, int, uint32_t *);
static int	 dec_argv(struct dec *, struct rd *);
static int	 dec_path(struct rd *, const char **);
static int	 dec_fdidx(struct dec *, struct rd *, int32_t *);
static int	 dec_fdmap(struct dec *, struct rd *, uint32_t);
static int	 dec_sig(struct dec *, uint16_t, struct rd *);
static int	 dec_u32rec(struct dec *, uint16_t, struct rd *);
static int	 dec_nice_sched(struct dec *, uint16_t, struct rd *);
static int	 dec_rlimit(struct dec *, struct rd *);
static int	 dec_act_fd(struct rd *, int32_t *);
static int	 dec_act_open(struct rd *, struct proto_action *);
static int	 dec_action(struct dec *, struct rd *);
static int	 dec_check(const struct dec *);
static int	 dec_distinct(const struct proto_spawn *);
static size_t	 align_up(size_t);
static int	 dec_alloc(const struct proto_spawn *, struct proto_spawn *);

static void	 enc_strv(struct proto_buf *, uint16_t, char *const *,
		     uint32_t);
static void	 enc_str(struct proto_buf *, uint16_t, const char *);
static void	 enc_u32(struct proto_buf *, uint16_t, uint32_t);
static void	 enc_u64(struct proto_buf *, uint16_t, uint64_t);
static void	 enc_scalars(struct proto_buf *, const struct proto_spawn *);
static void	 enc_lists(struct proto_buf *, const struct proto_spawn *);
static void	 enc_action(struct proto_buf *, const struct proto_action *);

static const char *const step_names[] = {
	[PROTO_STEP_NONE] = "none",
	[PROTO_STEP_REQUEST] = "request",
	[PROTO_STEP_FORK] = "fork",
	[PROTO_STEP_SIGNALS] = "signals",
	[PROTO_STEP_SETSID] = "setsid",
	[PROTO_STEP_PGROUP] = "setpgid",
	[PROTO_STEP_SCHED] = "scheduler",
	[PROTO_STEP_RESETIDS] = "reset ids",
	[PROTO_STEP_RLIMIT] = "rlimit",
	[PROTO_STEP_NICE] = "nice",
	[PROTO_STEP_CWD] = "chdir",
	[PROTO_STEP_FDS] = "fd setup",
	[PROTO_STEP_ACTION] = "file action",
	[PROTO_STEP_EXEC] = "exec",
	[PROTO_STEP_CTTY] = "controlling terminal",
};

/* Little-endian helpers. */

void
proto_le16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

void
proto_le32(uint8_t *p, uint32_t v)
{
	proto_le16(p, v & 0xffff);
	proto_le16(p + 2, v >> 16);
}

void
proto_le64(uint8_t *p, uint64_t v)
{
	proto_le32(p, v & 0xffffffffu);
	proto_le32(p + 4, v >> 32);
}

uint16_t
proto_get16(const uint8_t *p)
{
	return ((uint16_t)(p[0] | (p[1] << 8)));
}

uint32_t
proto_get32(const uint8_t *p)
{
	return ((uint32_t)proto_get16(p) | ((uint32_t)proto_get16(p + 2) << 16));
}

uint64_t
proto_get64(const uint8_t *p)
{
	return ((uint64_t)proto_get32(p) | ((uint64_t)proto_get32(p + 4) << 32));
}

/* Header. */

void
proto_encode_hdr(uint8_t out[PROTO_HDR_SIZE], const struct proto_hdr *hdr)
{
	proto_le16(out, PROTO_MAGIC);
	proto_le16(out + 2, PROTO_VERSION);
	proto_le16(out + 4, hdr->type);
	proto_le16(out + 6, hdr->flags);
	proto_le32(out + 8, hdr->length);
	proto_le16(out + 12, hdr->nfds);
	proto_le16(out + 14, 0);
	proto_le32(out + 16, hdr->id);
}

/*
 * Magic is checked before version so that a stranger is a protocol error,
 * and version before the rest so that a future layout is reported as such.
 */
int
proto_decode_hdr(const uint8_t *buf, size_t len, struct proto_hdr *ret_hdr)
{
	struct proto_hdr	hdr;

	if (len < PROTO_HDR_SIZE)
		return (-EPROTO);
	if (proto_get16(buf) != PROTO_MAGIC)
		return (-EPROTO);
	if (proto_get16(buf + 2) != PROTO_VERSION)
		return (-EPROTONOSUPPORT);
	hdr.type = proto_get16(buf + 4);
	hdr.flags = proto_get16(buf + 6);
	hdr.length = proto_get32(buf + 8);
	hdr.nfds = proto_get16(buf + 12);
	hdr.id = proto_get32(buf + 16);
	if (proto_get16(buf + 14) != 0 || (hdr.flags & ~PROTO_F_ALL) != 0)
		return (-EPROTO);
	if (hdr.nfds > PROTO_MAX_FDS)
		return (-EPROTO);
	if (hdr.length > PROTO_MAX_PAYLOAD)
		return (-EMSGSIZE);
	*ret_hdr = hdr;
	return (0);
}

int
proto_check_frame(const uint8_t *buf, size_t len, size_t nfds,
    struct proto_hdr *ret_hdr)
{
	struct proto_hdr	hdr;
	int			error;

	if ((error = proto_decode_hdr(buf, len, &hdr)) != 0)
		return (error);
	if (len > PROTO_MAX_FRAME)
		return (-EMSGSIZE);
	if (hdr.length != len - PROTO_HDR_SIZE || hdr.nfds != nfds)
		return (-EPROTO);
	*ret_hdr = hdr;
	return (0);
}

/* Output buffer. */

void
proto_buf_init(struct proto_buf *b)
{
	memset(b, 0, sizeof *b);
}

void
proto_buf_free(struct proto_buf *b)
{
	if (b == NULL)
		return;
	free(b->data);
	proto_buf_init(b);
}

/* Makes room for n more bytes and returns where they go, or NULL. */
static uint8_t *
buf_reserve(struct proto_buf *b, size_t n)
{
	size_t	 cap;
	uint8_t	*data;

	if (b->err != 0)
		return (NULL);
	if (n > PROTO_MAX_REQUEST - b->len) {
		b->err = -EMSGSIZE;
		return (NULL);
	}
	if (b->cap - b->len < n) {
		cap = b->cap < 256 ? 256 : b->cap;
		while (cap - b->len < n)
			cap *= 2;
		if (cap > PROTO_MAX_REQUEST)
			cap = PROTO_MAX_REQUEST;
		if ((data = realloc(b->data, cap)) == NULL) {
			b->err = -ENOMEM;
			return (NULL);
		}
		b->data = data;
		b->cap = cap;
	}
	data = b->data + b->len;
	b->len += n;
	return (data);
}

static void
put_raw(struct proto_buf *b, const void *p, size_t n)
{
	uint8_t	*dst;

	if ((dst = buf_reserve(b, n)) != NULL && n != 0)
		memcpy(dst, p, n);
}

void
proto_put_u16(struct proto_buf *b, uint16_t v)
{
	uint8_t	*p;

	if ((p = buf_reserve(b, 2)) != NULL)
		proto_le16(p, v);
}

void
proto_put_u32(struct proto_buf *b, uint32_t v)
{
	uint8_t	*p;

	if ((p = buf_reserve(b, 4)) != NULL)
		proto_le32(p, v);
}

void
proto_put_u64(struct proto_buf *b, uint64_t v)
{
	uint8_t	*p;

	if ((p = buf_reserve(b, 8)) != NULL)
		proto_le64(p, v);
}

static void
put_i32(struct proto_buf *b, int32_t v)
{
	proto_put_u32(b, (uint32_t)v);
}

/* A NULL string is a caller bug; it poisons the buffer with -EINVAL. */
void
proto_put_str(struct proto_buf *b, const char *s)
{
	size_t	n;

	if (s == NULL) {
		if (b->err == 0)
			b->err = -EINVAL;
		return;
	}
	n = strlen(s);
	if (n > PROTO_MAX_REQUEST) {
		if (b->err == 0)
			b->err = -EMSGSIZE;
		return;
	}
	proto_put_u32(b, (uint32_t)n);
	put_raw(b, s, n + 1);
}

void
proto_put_strv(struct proto_buf *b, const char *const *v)
{
	uint32_t	n;

	for (n = 0; v != NULL && v[n] != NULL; n++)
		;
	proto_put_u32(b, n);
	for (n = 0; v != NULL && v[n] != NULL; n++)
		proto_put_str(b, v[n]);
}

size_t
proto_rec_begin(struct proto_buf *b, uint16_t tag)
{
	size_t	off = b->len;

	proto_put_u16(b, tag);
	proto_put_u16(b, 0);
	proto_put_u32(b, 0);
	return (off);
}

void
proto_rec_end(struct proto_buf *b, size_t off)
{
	if (b->err != 0 || off > b->len || b->len - off < 8)
		return;
	proto_le32(b->data + off + 4, (uint32_t)(b->len - off - 8));
}

/* Fixed-size payloads. */

size_t
proto_encode_hello(uint8_t out[8], const struct proto_hello *m)
{
	proto_le32(out, m->min_version);
	proto_le32(out + 4, m->max_version);
	return (8);
}

int
proto_decode_hello(const uint8_t *buf, size_t len, struct proto_hello *ret)
{
	if (len != 8)
		return (-EPROTO);
	ret->min_version = proto_get32(buf);
	ret->max_version = proto_get32(buf + 4);
	return (0);
}

size_t
proto_encode_hello_ok(uint8_t out[16], const struct proto_hello_ok *m)
{
	proto_le32(out, m->version);
	proto_le32(out + 4, m->pid);
	proto_le32(out + 8, m->max_request);
	proto_le32(out + 12, m->max_fds);
	return (16);
}

int
proto_decode_hello_ok(const uint8_t *buf, size_t len,
    struct proto_hello_ok *ret)
{
	if (len != 16)
		return (-EPROTO);
	ret->version = proto_get32(buf);
	ret->pid = proto_get32(buf + 4);
	ret->max_request = proto_get32(buf + 8);
	ret->max_fds = proto_get32(buf + 12);
	return (0);
}

size_t
proto_encode_started(uint8_t out[8], const struct proto_started *m)
{
	proto_le32(out, m->pid);
	if (m->flags == 0)
		return (4);	/* as before PROTO_SPAWN_EXEC_FD */
	proto_le32(out + 4, m->flags);
	return (8);
}

int
proto_decode_started(const uint8_t *buf, size_t len,
    struct proto_started *ret)
{
	if (len != 4 && len != 8)
		return (-EPROTO);
	ret->pid = proto_get32(buf);
	ret->flags = len == 8 ? proto_get32(buf + 4) : 0;
	if (len == 8 && ret->flags != PROTO_STARTED_EXEC_FD)
		return (-EPROTO);
	return (0);
}

size_t
proto_encode_failed(uint8_t out[12], const struct proto_failed *m)
{
	proto_le32(out, m->error);
	proto_le16(out + 4, m->step);
	proto_le16(out + 6, 0);
	proto_le32(out + 8, m->index);
	return (12);
}

int
proto_decode_failed(const uint8_t *buf, size_t len, struct proto_failed *ret)
{
	if (len != 12 || proto_get16(buf + 6) != 0)
		return (-EPROTO);
	ret->error = proto_get32(buf);
	ret->step = proto_get16(buf + 4);
	ret->index = proto_get32(buf + 8);
	return (0);
}

size_t
proto_encode_exited(uint8_t out[40], const struct proto_exited *m)
{
	proto_le32(out, m->pid);
	proto_le32(out + 4, m->code);
	proto_le32(out + 8, m->status);
	proto_le32(out + 12, 0);
	proto_le64(out + 16, m->utime_us);
	proto_le64(out + 24, m->stime_us);
	proto_le64(out + 32, m->maxrss_kib);
	return (40);
}

int
proto_decode_exited(const uint8_t *buf, size_t len, struct proto_exited *ret)
{
	if (len != 40 || proto_get32(buf + 12) != 0)
		return (-EPROTO);
	ret->pid = proto_get32(buf);
	ret->code = proto_get32(buf + 4);
	ret->status = proto_get32(buf + 8);
	ret->utime_us = proto_get64(buf + 16);
	ret->stime_us = proto_get64(buf + 24);
	ret->maxrss_kib = proto_get64(buf + 32);
	return (0);
}

size_t
proto_encode_kill(uint8_t out[12], const struct proto_kill *m)
{
	proto_le32(out, m->child);
	proto_le32(out + 4, m->signal);
	proto_le32(out + 8, m->flags);
	return (12);
}

/* Signal and flag values are the daemon's to judge: it answers EINVAL. */
int
proto_decode_kill(const uint8_t *buf, size_t len, struct proto_kill *ret)
{
	if (len != 12)
		return (-EPROTO);
	ret->child = proto_get32(buf);
	ret->signal = proto_get32(buf + 4);
	ret->flags = proto_get32(buf + 8);
	return (0);
}

size_t
proto_encode_pong(uint8_t out[24], const struct proto_pong *m)
{
	proto_le32(out, m->pid);
	proto_le32(out + 4, m->connections);
	proto_le32(out + 8, m->children);
	proto_le32(out + 12, 0);
	proto_le64(out + 16, m->spawns);
	return (24);
}

int
proto_decode_pong(const uint8_t *buf, size_t len, struct proto_pong *ret)
{
	if (len != 24 || proto_get32(buf + 12) != 0)
		return (-EPROTO);
	ret->pid = proto_get32(buf);
	ret->connections = proto_get32(buf + 4);
	ret->children = proto_get32(buf + 8);
	ret->spawns = proto_get64(buf + 16);
	return (0);
}

void
proto_encode_error(struct proto_buf *b, const struct proto_error *m)
{
	proto_put_u32(b, m->error);
	proto_put_str(b, m->message != NULL ? m->message : "");
}

int
proto_decode_error(const uint8_t *buf, size_t len, struct proto_error *ret)
{
	struct rd	 r = { buf, len };
	uint32_t	 error;
	const char	*message;

	if (rd_u32(&r, &error) != 0 || rd_str(&r, &message) != 0 ||
	    r.left != 0)
		return (-EPROTO);
	ret->error = error;
	ret->message = message;
	return (0);
}

void
proto_encode_list_entry(struct proto_buf *b, const struct proto_list_entry *m)
{
	proto_put_u32(b, m->pid);
	proto_put_u32(b, m->client_pid);
	proto_put_u32(b, m->uid);
	proto_put_u32(b, m->state);
	proto_put_u64(b, m->age_ms);
	proto_put_str(b, m->argv != NULL ? m->argv : "");
}

int
proto_decode_list_entry(const uint8_t *buf, size_t len,
    struct proto_list_entry *ret)
{
	struct rd		 r = { buf, len };
	struct proto_list_entry	 m;

	if (rd_u32(&r, &m.pid) != 0 || rd_u32(&r, &m.client_pid) != 0 ||
	    rd_u32(&r, &m.uid) != 0 || rd_u32(&r, &m.state) != 0 ||
	    rd_u64(&r, &m.age_ms) != 0 || rd_str(&r, &m.argv) != 0 ||
	    r.left != 0)
		return (-EPROTO);
	*ret = m;
	return (0);
}

size_t
proto_encode_watch(uint8_t out[4], uint32_t pid)
{
	proto_le32(out, pid);
	return (4);
}

int
proto_decode_watch(const uint8_t *buf, size_t len, uint32_t *ret_pid)
{
	if (len != 4)
		return (-EPROTO);
	*ret_pid = proto_get32(buf);
	return (0);
}

/* Read cursor.  A failed read consumes nothing. */

static int
rd_u16(struct rd *r, uint16_t *v)
{
	if (r->left < 2)
		return (-EPROTO);
	*v = proto_get16(r->p);
	r->p += 2;
	r->left -= 2;
	return (0);
}

static int
rd_u32(struct rd *r, uint32_t *v)
{
	if (r->left < 4)
		return (-EPROTO);
	*v = proto_get32(r->p);
	r->p += 4;
	r->left -= 4;
	return (0);
}

static int
rd_i32(struct rd *r, int32_t *v)
{
	uint32_t	u;

	if (rd_u32(r, &u) != 0)
		return (-EPROTO);
	*v = (int32_t)u;
	return (0);
}

static int
rd_u64(struct rd *r, uint64_t *v)
{
	if (r->left < 8)
		return (-EPROTO);
	*v = proto_get64(r->p);
	r->p += 8;
	r->left -= 8;
	return (0);
}

/*
 * A str: u32 n, n bytes without NUL, a NUL.  n is compared against what is
 * left, never added to a pointer first, so a huge n cannot wrap.
 */
static int
rd_str(struct rd *r, const char **ret)
{
	struct rd	 t = *r;
	uint32_t	 n;
	const char	*s;

	if (rd_u32(&t, &n) != 0 || t.left == 0 || n > t.left - 1)
		return (-EPROTO);
	s = (const char *)t.p;
	if (s[n] != '\0' || memchr(s, '\0', n) != NULL)
		return (-EPROTO);
	r->p = t.p + (size_t)n + 1;
	r->left = t.left - (size_t)n - 1;
	*ret = s;
	return (0);
}

/* Spawn body decoding. */

static void
spawn_init(struct proto_spawn *req)
{
	memset(req, 0, sizeof *req);
	req->cwd_fd = -1;
	req->exec_fd = -1;
	req->ctty = -1;
}

static void
dec_init(struct dec *d, struct proto_spawn *req, size_t nfds)
{
	memset(d, 0, sizeof *d);
	d->req = req;
	d->nfds = nfds;
}

/*
 * One walk over the body.  With d->req's arrays NULL it validates and
 * counts; with them allocated it fills them.  Both walks run the same code,
 * so the second cannot disagree with the first.
 */
static int
dec_pass(struct dec *d, const uint8_t *buf, size_t len)
{
	struct rd	body = { buf, len }, val;
	uint16_t	tag, reserved;
	uint32_t	vlen;
	int		error;

	if (rd_u32(&body, &d->req->flags) != 0)
		return (-EPROTO);
	if ((d->req->flags & ~(uint32_t)PROTO_SPAWN_ALL) != 0)
		return (-EINVAL);
	while (body.left != 0) {
		if (rd_u16(&body, &tag) != 0 || rd_u16(&body, &reserved) != 0 ||
		    rd_u32(&body, &vlen) != 0)
			return (-EPROTO);
		if (reserved != 0 || vlen > body.left)
			return (-EPROTO);
		if (tag == 0 || tag > PROTO_REC_MAX)
			return (-EPROTO);
		if (!REPEATABLE(tag) && (d->seen & (1u << tag)) != 0)
			return (-EPROTO);
		d->seen |= 1u << tag;
		val.p = body.p;
		val.left = vlen;
		if ((error = dec_record(d, tag, &val)) != 0)
			return (error);
		if (val.left != 0)
			return (-EPROTO);
		body.p += vlen;
		body.left -= vlen;
	}
	return (0);
}

static int
dec_record(struct dec *d, uint16_t tag, struct rd *r)
{
	struct proto_spawn	*req = d->req;

	switch (tag) {
	case PROTO_REC_ARGV:
		return (dec_argv(d, r));
	case PROTO_REC_ENV:
		return (dec_strv(r, req->envp, PROTO_MAX_ENV, 1, &req->envc));
	case PROTO_REC_PATH:
		return (dec_path(r, &req->path));
	case PROTO_REC_CWD:
		return (dec_path(r, &req->cwd));
	case PROTO_REC_CWD_FD:
		return (dec_fdidx(d, r, &req->cwd_fd));
	case PROTO_REC_EXEC_FD:
		return (dec_fdidx(d, r, &req->exec_fd));
	case PROTO_REC_FD:
		return (dec_fdmap(d, r, 0));
	case PROTO_REC_FD_CLOEXEC:
		return (dec_fdmap(d, r, PROTO_FD_CLOEXEC));
	case PROTO_REC_SIGMASK:
	case PROTO_REC_SIGIGN:
		return (dec_sig(d, tag, r));
	case PROTO_REC_NICE:
	case PROTO_REC_SCHED:
		return (dec_nice_sched(d, tag, r));
	case PROTO_REC_RLIMIT:
		return (dec_rlimit(d, r));
	case PROTO_REC_ACTION:
		return (dec_action(d, r));
	case PROTO_REC_NOFILE:
		if (rd_u64(r, &req->nofile) != 0)
			return (-EPROTO);
		req->has |= PROTO_HAS_NOFILE;
		return (0);
	case PROTO_REC_CTTY:
		req->has |= PROTO_HAS_CTTY;
		return (dec_act_fd(r, &req->ctty));
	default:
		return (dec_u32rec(d, tag, r));
	}
}

/*
 * A strv into vec (when not NULL, which has room for count + 1).  The count
 * is bounded first by max, then by the bytes left (a str is >= 5 bytes) so
 * that a lying count fails fast.
 */
static int
dec_strv(struct rd *r, char **vec, uint32_t max, int env, uint32_t *ret_n)
{
	uint32_t	 count, i;
	const char	*s;

	if (rd_u32(r, &count) != 0)
		return (-EPROTO);
	if (count > max)
		return (-E2BIG);
	if (count > r->left / 5)
		return (-EPROTO);
	for (i = 0; i < count; i++) {
		if (rd_str(r, &s) != 0)
			return (-EPROTO);
		if (env && (s[0] == '=' || strchr(s, '=') == NULL))
			return (-EINVAL);
		if (vec != NULL)
			vec[i] = (char *)(uintptr_t)s;
	}
	if (vec != NULL)
		vec[count] = NULL;
	*ret_n = count;
	return (0);
}

static int
dec_argv(struct dec *d, struct rd *r)
{
	struct proto_spawn	*req = d->req;
	struct rd		 first;
	const char		*s;
	int			 error;

	first = *r;
	error = dec_strv(r, req->argv, PROTO_MAX_ARGV, 0, &req->argc);
	if (error != 0)
		return (error);
	if (req->argc == 0)
		return (-EINVAL);
	first.p += 4;
	first.left -= 4;
	if (rd_str(&first, &s) != 0 || *s == '\0')
		return (-EINVAL);
	return (0);
}

/* PATH, CWD and the paths of file actions: a non-empty str. */
static int
dec_path(struct rd *r, const char **ret)
{
	const char	*s;

	if (rd_str(r, &s) != 0)
		return (-EPROTO);
	if (*s == '\0')
		return (-EINVAL);
	*ret = s;
	return (0);
}

/* A passed fd's index: must exist, and counts as a use of that fd. */
static int
dec_fdidx(struct dec *d, struct rd *r, int32_t *ret)
{
	uint32_t	idx;

	if (rd_u32(r, &idx) != 0)
		return (-EPROTO);
	if (idx >= d->nfds)
		return (-EINVAL);
	d->used[idx / 64] |= (uint64_t)1 << (idx % 64);
	*ret = (int32_t)idx;
	return (0);
}

static int
dec_fdmap(struct dec *d, struct rd *r, uint32_t flags)
{
	struct proto_spawn	*req = d->req;
	int32_t			 idx, child_fd;
	int			 error;

	if (req->nfdmap >= PROTO_MAX_FDMAP)
		return (-E2BIG);
	if ((error = dec_fdidx(d, r, &idx)) != 0)
		return (error);
	if (rd_i32(r, &child_fd) != 0)
		return (-EPROTO);
	if (child_fd < 0 || child_fd >= PROTO_MAX_CHILD_FD)
		return (-EINVAL);
	if (req->fdmap != NULL) {
		req->fdmap[req->nfdmap].index = (uint32_t)idx;
		req->fdmap[req->nfdmap].child_fd = child_fd;
		req->fdmap[req->nfdmap].flags = flags;
	}
	req->nfdmap++;
	return (0);
}

static int
dec_sig(struct dec *d, uint16_t tag, struct rd *r)
{
	struct proto_spawn	*req = d->req;
	uint64_t		 v;

	if (rd_u64(r, &v) != 0)
		return (-EPROTO);
	if (tag == PROTO_REC_SIGMASK) {
		req->sigmask = v;
		req->has |= PROTO_HAS_SIGMASK;
	} else {
		req->sigign = v;
		req->has |= PROTO_HAS_SIGIGN;
	}
	return (0);
}

/* PGROUP, UMASK, GRACE, TIMEOUT: one u32 each. */
static int
dec_u32rec(struct dec *d, uint16_t tag, struct rd *r)
{
	struct proto_spawn	*req = d->req;
	uint32_t		 v;

	if (rd_u32(r, &v) != 0)
		return (-EPROTO);
	switch (tag) {
	case PROTO_REC_PGROUP:
		if (v > INT32_MAX)	/* a pid_t */
			return (-EINVAL);
		req->pgroup = v;
		req->has |= PROTO_HAS_PGROUP;
		break;
	case PROTO_REC_UMASK:
		if ((v & ~0777u) != 0)
			return (-EINVAL);
		req->umask = v;
		req->has |= PROTO_HAS_UMASK;
		break;
	case PROTO_REC_GRACE:
		req->grace_ms = v;
		req->has |= PROTO_HAS_GRACE;
		break;
	default:
		req->timeout_ms = v;
		req->has |= PROTO_HAS_TIMEOUT;
		break;
	}
	return (0);
}

static int
dec_nice_sched(struct dec *d, uint16_t tag, struct rd *r)
{
	struct proto_spawn	*req = d->req;
	uint32_t		 policy;
	int32_t			 v;

	if (tag == PROTO_REC_NICE) {
		if (rd_i32(r, &v) != 0)
			return (-EPROTO);
		if (v < -20 || v > 19)
			return (-EINVAL);
		req->nice = v;
		req->has |= PROTO_HAS_NICE;
		return (0);
	}
	if (rd_u32(r, &policy) != 0 || rd_i32(r, &v) != 0)
		return (-EPROTO);
	req->sched_policy = policy;
	req->sched_priority = v;
	req->has |= PROTO_HAS_SCHED;
	return (0);
}

static int
dec_rlimit(struct dec *d, struct rd *r)
{
	struct proto_spawn	*req = d->req;
	struct proto_rlimit	 rl;

	if (rd_u32(r, &rl.resource) != 0 || rd_u64(r, &rl.cur) != 0 ||
	    rd_u64(r, &rl.max) != 0)
		return (-EPROTO);
	if (rl.resource >= PROTO_RLIMIT_COUNT || rl.cur > rl.max)
		return (-EINVAL);
	if ((d->rlimits & (1u << rl.resource)) != 0)
		return (-EINVAL);
	d->rlimits |= 1u << rl.resource;
	if (req->rlimits != NULL)
		req->rlimits[req->nrlimits] = rl;
	req->nrlimits++;
	return (0);
}

/* A child-side fd of a file action. */
static int
dec_act_fd(struct rd *r, int32_t *ret)
{
	if (rd_i32(r, ret) != 0)
		return (-EPROTO);
	if (*ret < 0 || *ret >= PROTO_MAX_CHILD_FD)
		return (-EINVAL);
	return (0);
}

static int
dec_act_open(struct rd *r, struct proto_action *a)
{
	int	error;

	if ((error = dec_act_fd(r, &a->fd)) != 0)
		return (error);
	if (rd_u32(r, &a->oflags) != 0 || rd_u32(r, &a->mode) != 0)
		return (-EPROTO);
	return (dec_path(r, &a->path));
}

static int
dec_action(struct dec *d, struct rd *r)
{
	struct proto_spawn	*req = d->req;
	struct proto_action	 a;
	int			 error;

	if (req->nactions >= PROTO_MAX_ACTIONS)
		return (-E2BIG);
	memset(&a, 0, sizeof a);
	a.fd = a.newfd = -1;
	if (rd_u32(r, &a.kind) != 0)
		return (-EPROTO);
	switch (a.kind) {
	case PROTO_ACT_OPEN:
		error = dec_act_open(r, &a);
		break;
	case PROTO_ACT_DUP2:
		if ((error = dec_act_fd(r, &a.fd)) == 0)
			error = dec_act_fd(r, &a.newfd);
		break;
	case PROTO_ACT_CHDIR:
		error = dec_path(r, &a.path);
		break;
	case PROTO_ACT_CLOSE:
	case PROTO_ACT_FCHDIR:
	case PROTO_ACT_CLOSEFROM:
	case PROTO_ACT_TCSETPGRP:
		error = dec_act_fd(r, &a.fd);
		break;
	default:
		return (-EPROTO);
	}
	if (error != 0)
		return (error);
	if (req->actions != NULL)
		req->actions[req->nactions] = a;
	req->nactions++;
	return (0);
}

/* Checks across records, after the counting pass. */
static int
dec_check(const struct dec *d)
{
	size_t	i;

	if ((d->seen & (1u << PROTO_REC_ARGV)) == 0)
		return (-EINVAL);
	if ((d->seen & (1u << PROTO_REC_CWD)) != 0 &&
	    (d->seen & (1u << PROTO_REC_CWD_FD)) != 0)
		return (-EINVAL);
	if ((d->seen & (1u << PROTO_REC_PATH)) != 0 &&
	    (d->seen & (1u << PROTO_REC_EXEC_FD)) != 0)
		return (-EINVAL);
	if ((d->seen & (1u << PROTO_REC_NOFILE)) != 0 &&
	    (d->rlimits & (1u << RLIMIT_NOFILE)) != 0)
		return (-EINVAL);
	/* A terminal is acquired by a session leader with none yet. */
	if ((d->seen & (1u << PROTO_REC_CTTY)) != 0 &&
	    (d->req->flags & PROTO_SPAWN_SETSID) == 0)
		return (-EINVAL);
	/* An fd nobody uses would be smuggled into the daemon for nothing. */
	for (i = 0; i < d->nfds; i++) {
		if ((d->used[i / 64] & ((uint64_t)1 << (i % 64))) == 0)
			return (-EINVAL);
	}
	return (0);
}

/* Quadratic, but over at most PROTO_MAX_FDMAP entries. */
static int
dec_distinct(const struct proto_spawn *req)
{
	uint32_t	i, j;

	for (i = 0; i < req->nfdmap; i++) {
		for (j = i + 1; j < req->nfdmap; j++) {
			if (req->fdmap[i].child_fd == req->fdmap[j].child_fd)
				return (-EINVAL);
		}
	}
	return (0);
}

static size_t
align_up(size_t n)
{
	size_t	a = alignof(max_align_t);

	return ((n + a - 1) / a * a);
}

/*
 * Sets up *out for the filling pass: every array in one allocation, sized
 * by the counts of the first pass (each bounded, so no overflow).
 */
static int
dec_alloc(const struct proto_spawn *n, struct proto_spawn *out)
{
	size_t	 o_act, o_argv, o_envp, o_fd, total;
	uint8_t	*p;

	o_act = align_up(n->nrlimits * sizeof(struct proto_rlimit));
	o_argv = o_act + align_up(n->nactions * sizeof(struct proto_action));
	o_envp = o_argv + align_up(((size_t)n->argc + 1) * sizeof(char *));
	o_fd = o_envp + align_up(((size_t)n->envc + 1) * sizeof(char *));
	total = o_fd + n->nfdmap * sizeof(struct proto_fdmap);
	if ((p = calloc(1, total)) == NULL)
		return (-ENOMEM);
	spawn_init(out);
	out->alloc = p;
	out->rlimits = (struct proto_rlimit *)(void *)p;
	out->actions = (struct proto_action *)(void *)(p + o_act);
	out->argv = (char **)(void *)(p + o_argv);
	out->envp = (char **)(void *)(p + o_envp);
	out->fdmap = (struct proto_fdmap *)(void *)(p + o_fd);
	return (0);
}

int
proto_decode_spawn(const uint8_t *buf, size_t len, size_t nfds,
    struct proto_spawn *ret_req)
{
	struct proto_spawn	count, req;
	struct dec		d;
	int			error;

	if (len > PROTO_MAX_REQUEST)
		return (-EMSGSIZE);
	if (nfds > PROTO_MAX_FDS)
		return (-E2BIG);
	spawn_init(&count);
	dec_init(&d, &count, nfds);
	if ((error = dec_pass(&d, buf, len)) != 0)
		return (error);
	if ((error = dec_check(&d)) != 0)
		return (error);
	if ((error = dec_alloc(&count, &req)) != 0)
		return (error);
	dec_init(&d, &req, nfds);
	if ((error = dec_pass(&d, buf, len)) != 0)
		goto fail;
	if ((error = dec_distinct(&req)) != 0)
		goto fail;
	*ret_req = req;
	return (0);

fail:
	proto_spawn_free(&req);
	return (error);
}

void
proto_spawn_free(struct proto_spawn *req)
{
	if (req == NULL)
		return;
	free(req->alloc);
	spawn_init(req);
}

/* Spawn body encoding. */

static void
enc_strv(struct proto_buf *b, uint16_t tag, char *const *v, uint32_t n)
{
	size_t		off;
	uint32_t	i;

	off = proto_rec_begin(b, tag);
	proto_put_u32(b, n);
	for (i = 0; i < n; i++)
		proto_put_str(b, v[i]);
	proto_rec_end(b, off);
}

static void
enc_str(struct proto_buf *b, uint16_t tag, const char *s)
{
	size_t	off;

	if (s == NULL)
		return;
	off = proto_rec_begin(b, tag);
	proto_put_str(b, s);
	proto_rec_end(b, off);
}

static void
enc_u32(struct proto_buf *b, uint16_t tag, uint32_t v)
{
	size_t	off;

	off = proto_rec_begin(b, tag);
	proto_put_u32(b, v);
	proto_rec_end(b, off);
}

static void
enc_u64(struct proto_buf *b, uint16_t tag, uint64_t v)
{
	size_t	off;

	off = proto_rec_begin(b, tag);
	proto_put_u64(b, v);
	proto_rec_end(b, off);
}

static void
enc_scalars(struct proto_buf *b, const struct proto_spawn *req)
{
	size_t	off;

	if (req->has & PROTO_HAS_SIGMASK)
		enc_u64(b, PROTO_REC_SIGMASK, req->sigmask);
	if (req->has & PROTO_HAS_SIGIGN)
		enc_u64(b, PROTO_REC_SIGIGN, req->sigign);
	if (req->has & PROTO_HAS_PGROUP)
		enc_u32(b, PROTO_REC_PGROUP, req->pgroup);
	if (req->has & PROTO_HAS_UMASK)
		enc_u32(b, PROTO_REC_UMASK, req->umask);
	if (req->has & PROTO_HAS_NICE)
		enc_u32(b, PROTO_REC_NICE, (uint32_t)req->nice);
	if (req->has & PROTO_HAS_SCHED) {
		off = proto_rec_begin(b, PROTO_REC_SCHED);
		proto_put_u32(b, req->sched_policy);
		put_i32(b, req->sched_priority);
		proto_rec_end(b, off);
	}
	if (req->has & PROTO_HAS_GRACE)
		enc_u32(b, PROTO_REC_GRACE, req->grace_ms);
	if (req->has & PROTO_HAS_TIMEOUT)
		enc_u32(b, PROTO_REC_TIMEOUT, req->timeout_ms);
	if (req->has & PROTO_HAS_NOFILE)
		enc_u64(b, PROTO_REC_NOFILE, req->nofile);
	if (req->has & PROTO_HAS_CTTY)
		enc_u32(b, PROTO_REC_CTTY, (uint32_t)req->ctty);
}

static void
enc_lists(struct proto_buf *b, const struct proto_spawn *req)
{
	size_t		off;
	uint32_t	i;

	for (i = 0; req->fdmap != NULL && i < req->nfdmap; i++) {
		off = proto_rec_begin(b, (req->fdmap[i].flags &
		    PROTO_FD_CLOEXEC) ? PROTO_REC_FD_CLOEXEC : PROTO_REC_FD);
		proto_put_u32(b, req->fdmap[i].index);
		put_i32(b, req->fdmap[i].child_fd);
		proto_rec_end(b, off);
	}
	for (i = 0; req->rlimits != NULL && i < req->nrlimits; i++) {
		off = proto_rec_begin(b, PROTO_REC_RLIMIT);
		proto_put_u32(b, req->rlimits[i].resource);
		proto_put_u64(b, req->rlimits[i].cur);
		proto_put_u64(b, req->rlimits[i].max);
		proto_rec_end(b, off);
	}
	for (i = 0; req->actions != NULL && i < req->nactions; i++)
		enc_action(b, &req->actions[i]);
}

/* An unknown kind is a caller bug; it poisons the buffer with -EINVAL. */
static void
enc_action(struct proto_buf *b, const struct proto_action *a)
{
	size_t	off;

	off = proto_rec_begin(b, PROTO_REC_ACTION);
	proto_put_u32(b, a->kind);
	switch (a->kind) {
	case PROTO_ACT_OPEN:
		put_i32(b, a->fd);
		proto_put_u32(b, a->oflags);
		proto_put_u32(b, a->mode);
		proto_put_str(b, a->path);
		break;
	case PROTO_ACT_DUP2:
		put_i32(b, a->fd);
		put_i32(b, a->newfd);
		break;
	case PROTO_ACT_CHDIR:
		proto_put_str(b, a->path);
		break;
	case PROTO_ACT_CLOSE:
	case PROTO_ACT_FCHDIR:
	case PROTO_ACT_CLOSEFROM:
	case PROTO_ACT_TCSETPGRP:
		put_i32(b, a->fd);
		break;
	default:
		if (b->err == 0)
			b->err = -EINVAL;
		break;
	}
	proto_rec_end(b, off);
}

/*
 * Records go out in tag order.  ENV is sent only when it has entries:
 * absent and empty mean the same.  cwd_fd and exec_fd are present when
 * >= 0, so a caller building a request must set them to -1 otherwise.
 */
void
proto_encode_spawn(struct proto_buf *b, const struct proto_spawn *req)
{
	proto_put_u32(b, req->flags);
	if (req->argv != NULL)
		enc_strv(b, PROTO_REC_ARGV, req->argv, req->argc);
	if (req->envp != NULL && req->envc != 0)
		enc_strv(b, PROTO_REC_ENV, req->envp, req->envc);
	enc_str(b, PROTO_REC_PATH, req->path);
	enc_str(b, PROTO_REC_CWD, req->cwd);
	if (req->cwd_fd >= 0)
		enc_u32(b, PROTO_REC_CWD_FD, (uint32_t)req->cwd_fd);
	if (req->exec_fd >= 0)
		enc_u32(b, PROTO_REC_EXEC_FD, (uint32_t)req->exec_fd);
	enc_scalars(b, req);
	enc_lists(b, req);
}

/* Names for logs. */

const char *
proto_step_name(unsigned int step)
{
	if (step >= sizeof step_names / sizeof step_names[0] ||
	    step_names[step] == NULL)
		return ("unknown");
	return (step_names[step]);
}

const char *
proto_type_name(unsigned int type)
{
	switch (type) {
	case PROTO_HELLO:
		return ("hello");
	case PROTO_SPAWN:
		return ("spawn");
	case PROTO_KILL:
		return ("kill");
	case PROTO_PING:
		return ("ping");
	case PROTO_LIST:
		return ("list");
	case PROTO_WATCH:
		return ("watch");
	case PROTO_LIST_ENTRY:
		return ("list_entry");
	case PROTO_HELLO_OK:
		return ("hello_ok");
	case PROTO_STARTED:
		return ("started");
	case PROTO_FAILED:
		return ("failed");
	case PROTO_EXITED:
		return ("exited");
	case PROTO_OK:
		return ("ok");
	case PROTO_PONG:
		return ("pong");
	case PROTO_ERROR:
		return ("error");
	default:
		return ("unknown");
	}
}
