/*
 * Unit tests of proto.c: header, fixed messages, spawn bodies.  Table
 * driven where a table fits; every limit at and past its edge; truncation
 * at every byte.  Exit 0 on success, 1 on any failed check.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

#define CHECK(c)	check((c), __FILE__, __LINE__, #c)
#define CHECK_EQ(a, b)	check_eq((long long)(a), (long long)(b), __FILE__, \
			    __LINE__, #a, #b)

/* Defines build_NAME(), which appends a body to b. */
#define CASE(name, ...)	\
	static void build_##name(struct proto_buf *b) { __VA_ARGS__; }
#define T(name, nfds, want) { #name, build_##name, nfds, want, __LINE__ }
#define V(...)		((const char *const []){ __VA_ARGS__, NULL })

struct spawn_case {
	const char	*name;
	void		(*build)(struct proto_buf *);
	size_t		 nfds;
	int		 want;
	int		 line;
};

static int	checks, failures;

static int	check(int, const char *, int, const char *);
static int	check_eq(long long, long long, const char *, int, const char *,
		    const char *);
static void	flags(struct proto_buf *, uint32_t);
static void	argv1(struct proto_buf *);
static void	rec_strs(struct proto_buf *, uint16_t, const char *const *);
static void	rec_str(struct proto_buf *, uint16_t, const char *);
static void	rec_u32(struct proto_buf *, uint16_t, uint32_t);
static void	rec_u64(struct proto_buf *, uint16_t, uint64_t);
static void	rec_2u32(struct proto_buf *, uint16_t, uint32_t, uint32_t);
static void	rec_rl(struct proto_buf *, uint32_t, uint64_t, uint64_t);
static void	rec_raw(struct proto_buf *, uint16_t, const void *, size_t);
static void	act1(struct proto_buf *, uint32_t, int32_t);
static void	act2(struct proto_buf *, uint32_t, int32_t, int32_t);
static void	act_open(struct proto_buf *, int32_t, const char *);
static void	act_chdir(struct proto_buf *, const char *);
static void	add_valid_rec(struct proto_buf *, uint16_t, unsigned int);
static int	decode_copy(const uint8_t *, size_t, size_t,
		    struct proto_spawn *);
static void	check_untouched(int, const struct proto_spawn *, int);
static void	test_hdr(void);
static void	test_frame(void);
static void	test_fixed(void);
static void	test_fixed_bad(void);
static void	test_error_msg(void);
static void	test_buf(void);
static void	test_names(void);
static void	test_list_watch(void);
static void	test_nofile(void);
static void	test_cases(void);
static void	test_records_once(void);
static void	full_request(struct proto_spawn *, int);
static void	compare_spawn(const struct proto_spawn *,
		    const struct proto_spawn *);
static void	test_round_trip(int);
static void	test_truncation(int);
static void	test_strv_limit(uint16_t, uint32_t, int);
static void	test_fdmap_limit(uint32_t, int);
static void	test_action_limit(uint32_t, int);
static void	test_request_size(void);
static void	test_big_argv(void);
static void	test_free(void);

static int
check(int ok, const char *file, int line, const char *what)
{
	checks++;
	if (!ok) {
		failures++;
		printf("%s:%d: check failed: %s\n", file, line, what);
	}
	return (ok);
}

static int
check_eq(long long a, long long b, const char *file, int line,
    const char *sa, const char *sb)
{
	checks++;
	if (a != b) {
		failures++;
		printf("%s:%d: check failed: %s == %s (%lld != %lld)\n", file,
		    line, sa, sb, a, b);
	}
	return (a == b);
}

/* Body builders. */

static void
flags(struct proto_buf *b, uint32_t f)
{
	proto_put_u32(b, f);
}

static void
argv1(struct proto_buf *b)
{
	rec_strs(b, PROTO_REC_ARGV, V("prog"));
}

static void
rec_strs(struct proto_buf *b, uint16_t tag, const char *const *v)
{
	size_t	off = proto_rec_begin(b, tag);

	proto_put_strv(b, v);
	proto_rec_end(b, off);
}

static void
rec_str(struct proto_buf *b, uint16_t tag, const char *s)
{
	size_t	off = proto_rec_begin(b, tag);

	proto_put_str(b, s);
	proto_rec_end(b, off);
}

static void
rec_u32(struct proto_buf *b, uint16_t tag, uint32_t v)
{
	size_t	off = proto_rec_begin(b, tag);

	proto_put_u32(b, v);
	proto_rec_end(b, off);
}

static void
rec_u64(struct proto_buf *b, uint16_t tag, uint64_t v)
{
	size_t	off = proto_rec_begin(b, tag);

	proto_put_u64(b, v);
	proto_rec_end(b, off);
}

static void
rec_2u32(struct proto_buf *b, uint16_t tag, uint32_t v1, uint32_t v2)
{
	size_t	off = proto_rec_begin(b, tag);

	proto_put_u32(b, v1);
	proto_put_u32(b, v2);
	proto_rec_end(b, off);
}

static void
rec_rl(struct proto_buf *b, uint32_t res, uint64_t cur, uint64_t max)
{
	size_t	off = proto_rec_begin(b, PROTO_REC_RLIMIT);

	proto_put_u32(b, res);
	proto_put_u64(b, cur);
	proto_put_u64(b, max);
	proto_rec_end(b, off);
}

/* A record whose value is n raw bytes (proto_buf has no byte append). */
static void
rec_raw(struct proto_buf *b, uint16_t tag, const void *p, size_t n)
{
	size_t	off = proto_rec_begin(b, tag), i;

	for (i = 0; i < n && b->err == 0; i++) {
		proto_put_u16(b, 0);
		b->len--;
	}
	if (b->err == 0 && n != 0)
		memcpy(b->data + b->len - n, p, n);
	proto_rec_end(b, off);
}

static void
act1(struct proto_buf *b, uint32_t kind, int32_t fd)
{
	rec_2u32(b, PROTO_REC_ACTION, kind, (uint32_t)fd);
}

static void
act2(struct proto_buf *b, uint32_t kind, int32_t fd, int32_t newfd)
{
	size_t	off = proto_rec_begin(b, PROTO_REC_ACTION);

	proto_put_u32(b, kind);
	proto_put_u32(b, (uint32_t)fd);
	proto_put_u32(b, (uint32_t)newfd);
	proto_rec_end(b, off);
}

static void
act_open(struct proto_buf *b, int32_t fd, const char *path)
{
	size_t	off = proto_rec_begin(b, PROTO_REC_ACTION);

	proto_put_u32(b, PROTO_ACT_OPEN);
	proto_put_u32(b, (uint32_t)fd);
	proto_put_u32(b, 01101);
	proto_put_u32(b, 0644);
	proto_put_str(b, path);
	proto_rec_end(b, off);
}

static void
act_chdir(struct proto_buf *b, const char *path)
{
	size_t	off = proto_rec_begin(b, PROTO_REC_ACTION);

	proto_put_u32(b, PROTO_ACT_CHDIR);
	proto_put_str(b, path);
	proto_rec_end(b, off);
}

/*
 * Decodes from an exact-size heap copy, so that ASan sees any read past
 * len.
 */
static int
decode_copy(const uint8_t *buf, size_t len, size_t nfds,
    struct proto_spawn *ret)
{
	uint8_t	*copy;
	int	 error;

	if ((copy = malloc(len ? len : 1)) == NULL)
		abort();
	if (len != 0)
		memcpy(copy, buf, len);
	error = proto_decode_spawn(copy, len, nfds, ret);
	if (error == 0)
		proto_spawn_free(ret);
	free(copy);
	return (error);
}

static void
check_untouched(int error, const struct proto_spawn *req, int line)
{
	struct proto_spawn	poison;

	if (error == 0)
		return;
	memset(&poison, 0xa5, sizeof poison);
	if (!CHECK(memcmp(req, &poison, sizeof poison) == 0))
		printf("  (case at line %d)\n", line);
}

/* Header and frames. */

static void
test_hdr(void)
{
	struct proto_hdr	h = { PROTO_SPAWN, PROTO_F_MORE, 1234, 7,
				    0xdeadbeef }, g;
	uint8_t			out[PROTO_HDR_SIZE], bad[PROTO_HDR_SIZE];
	static const uint8_t	want[PROTO_HDR_SIZE] = { 0x53, 0x50, 1, 0,
				    2, 0, 1, 0, 0xd2, 4, 0, 0, 7, 0, 0, 0,
				    0xef, 0xbe, 0xad, 0xde };

	proto_encode_hdr(out, &h);
	CHECK(memcmp(out, want, sizeof want) == 0);
	CHECK_EQ(proto_decode_hdr(out, sizeof out, &g), 0);
	CHECK_EQ(g.type, h.type);
	CHECK_EQ(g.flags, h.flags);
	CHECK_EQ(g.length, h.length);
	CHECK_EQ(g.nfds, h.nfds);
	CHECK_EQ(g.id, h.id);
	CHECK_EQ(proto_decode_hdr(out, sizeof out - 1, &g), -EPROTO);
	CHECK_EQ(proto_decode_hdr(out, 0, &g), -EPROTO);

	memcpy(bad, out, sizeof bad);
	bad[0] ^= 1;
	CHECK_EQ(proto_decode_hdr(bad, sizeof bad, &g), -EPROTO);
	memcpy(bad, out, sizeof bad);
	proto_le16(bad + 2, 2);
	CHECK_EQ(proto_decode_hdr(bad, sizeof bad, &g), -EPROTONOSUPPORT);
	proto_le16(bad + 2, 0);
	CHECK_EQ(proto_decode_hdr(bad, sizeof bad, &g), -EPROTONOSUPPORT);
	memcpy(bad, out, sizeof bad);
	proto_le16(bad + 14, 1);
	CHECK_EQ(proto_decode_hdr(bad, sizeof bad, &g), -EPROTO);
	memcpy(bad, out, sizeof bad);
	proto_le16(bad + 6, 2);
	CHECK_EQ(proto_decode_hdr(bad, sizeof bad, &g), -EPROTO);
	proto_le16(bad + 6, 0x8000);
	CHECK_EQ(proto_decode_hdr(bad, sizeof bad, &g), -EPROTO);
	memcpy(bad, out, sizeof bad);
	proto_le32(bad + 8, PROTO_MAX_PAYLOAD + 1);
	CHECK_EQ(proto_decode_hdr(bad, sizeof bad, &g), -EMSGSIZE);
	proto_le32(bad + 8, PROTO_MAX_PAYLOAD);
	CHECK_EQ(proto_decode_hdr(bad, sizeof bad, &g), 0);
	proto_le16(bad + 12, PROTO_MAX_FDS + 1);
	CHECK_EQ(proto_decode_hdr(bad, sizeof bad, &g), -EPROTO);
	proto_le16(bad + 12, PROTO_MAX_FDS);
	CHECK_EQ(proto_decode_hdr(bad, sizeof bad, &g), 0);
}

static void
test_frame(void)
{
	struct proto_hdr	 h = { PROTO_PING, 0, 4, 1, 9 }, g;
	uint8_t			*f;
	size_t			 n = PROTO_HDR_SIZE + 4;

	if ((f = calloc(1, PROTO_MAX_FRAME + 1)) == NULL)
		abort();
	proto_encode_hdr(f, &h);
	CHECK_EQ(proto_check_frame(f, n, 1, &g), 0);
	CHECK_EQ(g.length, 4);
	CHECK_EQ(proto_check_frame(f, n - 1, 1, &g), -EPROTO);
	CHECK_EQ(proto_check_frame(f, n + 1, 1, &g), -EPROTO);
	CHECK_EQ(proto_check_frame(f, n, 0, &g), -EPROTO);
	CHECK_EQ(proto_check_frame(f, n, 2, &g), -EPROTO);
	CHECK_EQ(proto_check_frame(f, 19, 1, &g), -EPROTO);
	h.nfds = 0;
	h.length = 0;
	proto_encode_hdr(f, &h);
	CHECK_EQ(proto_check_frame(f, PROTO_HDR_SIZE, 0, &g), 0);
	CHECK_EQ(proto_check_frame(f, PROTO_HDR_SIZE, 1, &g), -EPROTO);
	h.length = PROTO_MAX_PAYLOAD;
	proto_encode_hdr(f, &h);
	CHECK_EQ(proto_check_frame(f, PROTO_MAX_FRAME, 0, &g), 0);
	h.length = PROTO_MAX_PAYLOAD + 1;
	proto_encode_hdr(f, &h);
	CHECK_EQ(proto_check_frame(f, PROTO_MAX_FRAME + 1, 0, &g), -EMSGSIZE);
	f[0] = 0;
	CHECK_EQ(proto_check_frame(f, PROTO_HDR_SIZE, 0, &g), -EPROTO);
	free(f);
}

/* Fixed messages. */

static void
test_fixed(void)
{
	uint8_t			o[64];
	struct proto_hello	he = { 1, 3 }, he2;
	struct proto_hello_ok	ok = { 1, 42, PROTO_MAX_REQUEST, 253 }, ok2;
	struct proto_started	st = { 0xfffffffe, 0 }, st2;
	struct proto_failed	fa = { ENOENT, PROTO_STEP_EXEC, 7 }, fa2;
	struct proto_exited	ex = { 99, 2, 9, 1ull << 40, 3, ~0ull }, ex2;
	struct proto_kill	ki = { 5, 15, PROTO_KILL_GROUP }, ki2;
	struct proto_pong	po = { 1, 2, 3, 1ull << 33 }, po2;

	CHECK_EQ(proto_encode_hello(o, &he), 8);
	CHECK(proto_decode_hello(o, 8, &he2) == 0 &&
	    memcmp(&he, &he2, sizeof he) == 0);
	CHECK_EQ(proto_encode_hello_ok(o, &ok), 16);
	CHECK(proto_decode_hello_ok(o, 16, &ok2) == 0 &&
	    memcmp(&ok, &ok2, sizeof ok) == 0);
	CHECK_EQ(proto_encode_started(o, &st), 4);
	CHECK(proto_decode_started(o, 4, &st2) == 0 && st2.pid == st.pid &&
	    st2.flags == 0);
	st.flags = PROTO_STARTED_EXEC_FD;
	CHECK_EQ(proto_encode_started(o, &st), 8);
	CHECK(proto_decode_started(o, 8, &st2) == 0 && st2.pid == st.pid &&
	    st2.flags == PROTO_STARTED_EXEC_FD);
	o[4] = 3;			/* an unknown flag */
	CHECK(proto_decode_started(o, 8, &st2) == -EPROTO);
	CHECK(proto_decode_started(o, 6, &st2) == -EPROTO);
	CHECK_EQ(proto_encode_failed(o, &fa), 12);
	CHECK(proto_decode_failed(o, 12, &fa2) == 0 && fa2.error == fa.error &&
	    fa2.step == fa.step && fa2.index == fa.index);
	CHECK_EQ(proto_encode_exited(o, &ex), 40);
	CHECK(proto_decode_exited(o, 40, &ex2) == 0 && ex2.pid == ex.pid &&
	    ex2.code == ex.code && ex2.status == ex.status &&
	    ex2.utime_us == ex.utime_us && ex2.stime_us == ex.stime_us &&
	    ex2.maxrss_kib == ex.maxrss_kib);
	CHECK_EQ(proto_encode_kill(o, &ki), 12);
	CHECK(proto_decode_kill(o, 12, &ki2) == 0 &&
	    memcmp(&ki, &ki2, sizeof ki) == 0);
	CHECK_EQ(proto_encode_pong(o, &po), 24);
	CHECK(proto_decode_pong(o, 24, &po2) == 0 && po2.pid == po.pid &&
	    po2.connections == po.connections &&
	    po2.children == po.children && po2.spawns == po.spawns);
}

/* Every fixed decoder: one byte short, one byte long, reserved set. */
static void
test_fixed_bad(void)
{
	uint8_t			o[64];
	struct proto_hello	he;
	struct proto_hello_ok	ok;
	struct proto_started	st;
	struct proto_failed	fa = { 1, 2, 3 };
	struct proto_exited	ex = { 0 };
	struct proto_kill	ki;
	struct proto_pong	po = { 0 };

	memset(o, 0, sizeof o);
	CHECK_EQ(proto_decode_hello(o, 7, &he), -EPROTO);
	CHECK_EQ(proto_decode_hello(o, 9, &he), -EPROTO);
	CHECK_EQ(proto_decode_hello_ok(o, 15, &ok), -EPROTO);
	CHECK_EQ(proto_decode_hello_ok(o, 17, &ok), -EPROTO);
	CHECK_EQ(proto_decode_started(o, 3, &st), -EPROTO);
	CHECK_EQ(proto_decode_started(o, 5, &st), -EPROTO);
	CHECK_EQ(proto_decode_failed(o, 11, &fa), -EPROTO);
	CHECK_EQ(proto_decode_failed(o, 13, &fa), -EPROTO);
	CHECK_EQ(proto_decode_exited(o, 39, &ex), -EPROTO);
	CHECK_EQ(proto_decode_exited(o, 41, &ex), -EPROTO);
	CHECK_EQ(proto_decode_kill(o, 11, &ki), -EPROTO);
	CHECK_EQ(proto_decode_kill(o, 13, &ki), -EPROTO);
	CHECK_EQ(proto_decode_pong(o, 23, &po), -EPROTO);
	CHECK_EQ(proto_decode_pong(o, 25, &po), -EPROTO);
	CHECK_EQ(proto_decode_pong(NULL, 0, &po), -EPROTO);

	proto_encode_failed(o, &fa);
	o[7] = 1;
	CHECK_EQ(proto_decode_failed(o, 12, &fa), -EPROTO);
	proto_encode_exited(o, &ex);
	o[12] = 1;
	CHECK_EQ(proto_decode_exited(o, 40, &ex), -EPROTO);
	proto_encode_pong(o, &po);
	o[15] = 0x80;
	CHECK_EQ(proto_decode_pong(o, 24, &po), -EPROTO);
}

static void
test_error_msg(void)
{
	struct proto_buf	b;
	struct proto_error	e = { EPROTO, "bad frame" }, g;
	size_t			i;

	proto_buf_init(&b);
	proto_encode_error(&b, &e);
	CHECK_EQ(b.err, 0);
	CHECK_EQ(b.len, 4 + 4 + 9 + 1);
	CHECK(proto_decode_error(b.data, b.len, &g) == 0 &&
	    g.error == EPROTO && strcmp(g.message, "bad frame") == 0 &&
	    g.message == (const char *)b.data + 8);
	for (i = 0; i < b.len; i++)
		CHECK_EQ(proto_decode_error(b.data, i, &g), -EPROTO);
	proto_put_u16(&b, 0);
	CHECK_EQ(proto_decode_error(b.data, b.len, &g), -EPROTO);
	b.len -= 2;
	b.data[b.len - 1] = 'x';
	CHECK_EQ(proto_decode_error(b.data, b.len, &g), -EPROTO);
	b.data[b.len - 1] = 0;
	b.data[10] = 0;
	CHECK_EQ(proto_decode_error(b.data, b.len, &g), -EPROTO);
	proto_buf_free(&b);

	e.message = NULL;
	proto_encode_error(&b, &e);
	CHECK(proto_decode_error(b.data, b.len, &g) == 0 &&
	    *g.message == '\0');
	proto_buf_free(&b);
}

/* proto_buf: growth, record lengths, sticky errors, the size cap. */
static void
test_buf(void)
{
	struct proto_buf	b;
	size_t			off, i;
	static const char	*v[] = { "a", "bc", NULL };

	proto_buf_init(&b);
	CHECK(b.data == NULL && b.len == 0 && b.err == 0);
	off = proto_rec_begin(&b, 0x1234);
	proto_put_strv(&b, v);
	proto_rec_end(&b, off);
	CHECK_EQ(b.len, 8 + 4 + 6 + 7);
	CHECK_EQ(proto_get16(b.data), 0x1234);
	CHECK_EQ(proto_get16(b.data + 2), 0);
	CHECK_EQ(proto_get32(b.data + 4), 4 + 6 + 7);
	for (i = 0; i < 100000; i++)
		proto_put_u64(&b, i);
	CHECK_EQ(b.err, 0);
	CHECK_EQ(proto_get64(b.data + b.len - 8), 99999);
	proto_put_str(&b, NULL);
	CHECK_EQ(b.err, -EINVAL);
	i = b.len;
	proto_put_u32(&b, 1);
	CHECK_EQ(b.len, i);
	proto_buf_free(&b);
	CHECK(b.data == NULL && b.len == 0 && b.err == 0);

	if ((b.data = malloc(PROTO_MAX_REQUEST)) == NULL)
		abort();
	b.cap = b.len = PROTO_MAX_REQUEST - 3;
	proto_put_u16(&b, 7);
	CHECK_EQ(b.err, 0);
	CHECK_EQ(b.len, PROTO_MAX_REQUEST - 1);
	proto_put_u16(&b, 7);
	CHECK_EQ(b.err, -EMSGSIZE);
	CHECK_EQ(b.len, PROTO_MAX_REQUEST - 1);
	proto_buf_free(&b);
	proto_buf_free(NULL);
}

/* LIST_ENTRY and WATCH: round trips, and every truncation fails. */
static void
test_list_watch(void)
{
	struct proto_list_entry	 e = { 42, 7, 1000, PROTO_LIST_ORPHAN,
				    123456789012ull, "sleep 10" }, d;
	struct proto_buf	 b;
	uint8_t			 w[4];
	uint32_t		 pid = 0;
	size_t			 i;

	proto_buf_init(&b);
	proto_encode_list_entry(&b, &e);
	CHECK(b.err == 0);
	CHECK_EQ(proto_decode_list_entry(b.data, b.len, &d), 0);
	CHECK(d.pid == 42 && d.client_pid == 7 && d.uid == 1000 &&
	    d.state == PROTO_LIST_ORPHAN && d.age_ms == 123456789012ull &&
	    strcmp(d.argv, "sleep 10") == 0);
	for (i = 0; i < b.len; i++)
		CHECK_EQ(proto_decode_list_entry(b.data, i, &d), -EPROTO);
	proto_buf_free(&b);
	CHECK(proto_encode_watch(w, 4242) == 4);
	CHECK_EQ(proto_decode_watch(w, 4, &pid), 0);
	CHECK(pid == 4242);
	CHECK_EQ(proto_decode_watch(w, 3, &pid), -EPROTO);
	CHECK_EQ(proto_decode_watch(w, 5, &pid), -EPROTO);
}

/* NOFILE: decodes; with an RLIMIT record for RLIMIT_NOFILE, -EINVAL. */
static void
test_nofile(void)
{
	struct proto_buf	 b;
	struct proto_spawn	 req;

	proto_buf_init(&b);
	flags(&b, 0);
	argv1(&b);
	rec_u64(&b, PROTO_REC_NOFILE, 777);
	memset(&req, 0, sizeof req);
	CHECK_EQ(proto_decode_spawn(b.data, b.len, 0, &req), 0);
	CHECK((req.has & PROTO_HAS_NOFILE) && req.nofile == 777);
	proto_spawn_free(&req);
	rec_rl(&b, 7, 1, 1);
	CHECK_EQ(proto_decode_spawn(b.data, b.len, 0, &req), -EINVAL);
	proto_buf_free(&b);
}

static void
test_names(void)
{
	static const struct {
		unsigned int	 v;
		const char	*name;
	} steps[] = {
		{ PROTO_STEP_REQUEST, "request" }, { PROTO_STEP_FORK, "fork" },
		{ PROTO_STEP_SIGNALS, "signals" },
		{ PROTO_STEP_SETSID, "setsid" },
		{ PROTO_STEP_PGROUP, "setpgid" },
		{ PROTO_STEP_SCHED, "scheduler" },
		{ PROTO_STEP_RESETIDS, "reset ids" },
		{ PROTO_STEP_RLIMIT, "rlimit" }, { PROTO_STEP_NICE, "nice" },
		{ PROTO_STEP_CWD, "chdir" }, { PROTO_STEP_FDS, "fd setup" },
		{ PROTO_STEP_ACTION, "file action" },
		{ PROTO_STEP_EXEC, "exec" },
		{ PROTO_STEP_CTTY, "controlling terminal" },
		{ PROTO_STEP_MAX + 1, "unknown" },
		{ ~0u, "unknown" },
	};
	size_t	i;

	for (i = 0; i < sizeof steps / sizeof steps[0]; i++)
		CHECK(strcmp(proto_step_name(steps[i].v), steps[i].name) == 0);
	CHECK(strcmp(proto_type_name(PROTO_SPAWN), "spawn") == 0);
	CHECK(strcmp(proto_type_name(PROTO_ERROR), "error") == 0);
	CHECK(strcmp(proto_type_name(PROTO_HELLO_OK), "hello_ok") == 0);
	CHECK(strcmp(proto_type_name(0), "unknown") == 0);
	CHECK(strcmp(proto_type_name(PROTO_LIST_ENTRY), "list_entry") == 0);
	CHECK(strcmp(proto_type_name(0x89), "unknown") == 0);
	for (i = 0; i < 0x100; i++)
		CHECK(proto_type_name((unsigned int)i) != NULL);
}

/* The table of hand-built bodies. */

CASE(minimal, flags(b, 0); argv1(b))
CASE(all_flags, flags(b, PROTO_SPAWN_ALL); argv1(b))
CASE(flag_unknown, flags(b, PROTO_SPAWN_ALL + 1); argv1(b))
CASE(flag_high, flags(b, 0x80000000u); argv1(b))
CASE(no_argv, flags(b, 0))
CASE(no_argv_env, flags(b, 0); rec_strs(b, PROTO_REC_ENV, V("A=b")))
CASE(argc0, flags(b, 0); rec_strs(b, PROTO_REC_ARGV, V(NULL)))
CASE(argv0_empty, flags(b, 0); rec_strs(b, PROTO_REC_ARGV, V("", "x")))
CASE(argv1_empty, flags(b, 0); rec_strs(b, PROTO_REC_ARGV, V("x", "")))
CASE(env_ok, flags(b, 0); argv1(b);
    rec_strs(b, PROTO_REC_ENV, V("A=b", "B=", "C==d")))
CASE(env_empty, flags(b, 0); argv1(b); rec_strs(b, PROTO_REC_ENV, V(NULL)))
CASE(env_no_eq, flags(b, 0); argv1(b);
    rec_strs(b, PROTO_REC_ENV, V("A=b", "FOO")))
CASE(env_eq_first, flags(b, 0); argv1(b);
    rec_strs(b, PROTO_REC_ENV, V("=x")))
CASE(env_empty_str, flags(b, 0); argv1(b); rec_strs(b, PROTO_REC_ENV, V("")))
CASE(path_ok, flags(b, 0); argv1(b); rec_str(b, PROTO_REC_PATH, "/bin/x"))
CASE(path_empty, flags(b, 0); argv1(b); rec_str(b, PROTO_REC_PATH, ""))
CASE(cwd_empty, flags(b, 0); argv1(b); rec_str(b, PROTO_REC_CWD, ""))
CASE(cwd_and_cwd_fd, flags(b, 0); argv1(b); rec_str(b, PROTO_REC_CWD, "/");
    rec_u32(b, PROTO_REC_CWD_FD, 0))
CASE(path_and_exec_fd, flags(b, 0); argv1(b);
    rec_u32(b, PROTO_REC_EXEC_FD, 0); rec_str(b, PROTO_REC_PATH, "/x"))
CASE(cwd_fd_ok, flags(b, 0); argv1(b); rec_u32(b, PROTO_REC_CWD_FD, 0))
CASE(exec_fd_ok, flags(b, 0); argv1(b); rec_u32(b, PROTO_REC_EXEC_FD, 0))
CASE(cwd_fd_oob, flags(b, 0); argv1(b); rec_u32(b, PROTO_REC_CWD_FD, 1))
CASE(exec_fd_oob, flags(b, 0); argv1(b); rec_u32(b, PROTO_REC_EXEC_FD, 0))
CASE(fd_ok, flags(b, 0); argv1(b); rec_2u32(b, PROTO_REC_FD, 0, 0);
    rec_2u32(b, PROTO_REC_FD, 1, 1))
CASE(fd_index_twice, flags(b, 0); argv1(b); rec_2u32(b, PROTO_REC_FD, 0, 0);
    rec_2u32(b, PROTO_REC_FD, 0, 5))
CASE(fd_dup_child, flags(b, 0); argv1(b); rec_2u32(b, PROTO_REC_FD, 0, 3);
    rec_2u32(b, PROTO_REC_FD, 1, 3))
CASE(fd_index_oob, flags(b, 0); argv1(b); rec_2u32(b, PROTO_REC_FD, 0, 3);
    rec_2u32(b, PROTO_REC_FD, 1, 4))
CASE(fd_index_huge, flags(b, 0); argv1(b);
    rec_2u32(b, PROTO_REC_FD, 0xffffffffu, 3))
CASE(fd_unused, flags(b, 0); argv1(b); rec_2u32(b, PROTO_REC_FD, 0, 3))
CASE(fd_shared_use, flags(b, 0); argv1(b); rec_u32(b, PROTO_REC_CWD_FD, 0);
    rec_2u32(b, PROTO_REC_FD, 1, 0); rec_u32(b, PROTO_REC_EXEC_FD, 2))
CASE(child_fd_neg, flags(b, 0); argv1(b);
    rec_2u32(b, PROTO_REC_FD, 0, 0xffffffffu))
CASE(child_fd_max_m1, flags(b, 0); argv1(b);
    rec_2u32(b, PROTO_REC_FD, 0, PROTO_MAX_CHILD_FD - 1))
CASE(child_fd_max, flags(b, 0); argv1(b);
    rec_2u32(b, PROTO_REC_FD, 0, PROTO_MAX_CHILD_FD))
CASE(nice_m21, flags(b, 0); argv1(b); rec_u32(b, PROTO_REC_NICE, -21u))
CASE(nice_m20, flags(b, 0); argv1(b); rec_u32(b, PROTO_REC_NICE, -20u))
CASE(nice_19, flags(b, 0); argv1(b); rec_u32(b, PROTO_REC_NICE, 19))
CASE(nice_20, flags(b, 0); argv1(b); rec_u32(b, PROTO_REC_NICE, 20))
CASE(umask_0777, flags(b, 0); argv1(b); rec_u32(b, PROTO_REC_UMASK, 0777))
CASE(umask_01000, flags(b, 0); argv1(b); rec_u32(b, PROTO_REC_UMASK, 01000))
CASE(rlimit_15, flags(b, 0); argv1(b); rec_rl(b, 15, 1, 2))
CASE(rlimit_16, flags(b, 0); argv1(b); rec_rl(b, 16, 1, 2))
CASE(rlimit_eq, flags(b, 0); argv1(b); rec_rl(b, 3, 7, 7))
CASE(rlimit_gt, flags(b, 0); argv1(b); rec_rl(b, 3, 8, 7))
CASE(rlimit_inf, flags(b, 0); argv1(b); rec_rl(b, 3, ~0ull, ~0ull))
CASE(rlimit_cur_fin, flags(b, 0); argv1(b); rec_rl(b, 3, 5, ~0ull))
CASE(rlimit_cur_inf, flags(b, 0); argv1(b); rec_rl(b, 3, ~0ull, 5))
CASE(rlimit_dup, flags(b, 0); argv1(b); rec_rl(b, 3, 1, 1);
    rec_rl(b, 4, 1, 1); rec_rl(b, 3, 2, 2))
CASE(sig_all, flags(b, 0); argv1(b); rec_u64(b, PROTO_REC_SIGMASK, ~0ull);
    rec_u64(b, PROTO_REC_SIGIGN, ~0ull))
CASE(pgroup_0, flags(b, 0); argv1(b); rec_u32(b, PROTO_REC_PGROUP, 0))
CASE(pgroup_neg, flags(b, 0); argv1(b);
    rec_u32(b, PROTO_REC_PGROUP, 0x80000000u))
CASE(sched_any, flags(b, 0); argv1(b);
    rec_2u32(b, PROTO_REC_SCHED, 0xffffffffu, 0x80000000u))
CASE(tag_0, flags(b, 0); argv1(b); rec_u32(b, 0, 0))
CASE(tag_18, flags(b, 0); argv1(b); rec_u32(b, PROTO_REC_MAX + 1, 0))
CASE(tag_ffff, flags(b, 0); argv1(b); rec_u32(b, 0xffff, 0))
CASE(reserved_set, flags(b, 0); argv1(b); proto_put_u16(b, PROTO_REC_UMASK);
    proto_put_u16(b, 1); proto_put_u32(b, 4); proto_put_u32(b, 0))
CASE(rec_past_end, flags(b, 0); argv1(b); proto_put_u16(b, PROTO_REC_UMASK);
    proto_put_u16(b, 0); proto_put_u32(b, 5); proto_put_u32(b, 0))
CASE(rec_huge_len, flags(b, 0); argv1(b); proto_put_u16(b, PROTO_REC_UMASK);
    proto_put_u16(b, 0); proto_put_u32(b, ~0u); proto_put_u32(b, 0))
CASE(rec_trailing, flags(b, 0); argv1(b);
    rec_raw(b, PROTO_REC_UMASK, "\0\0\0\0\0", 5))
CASE(rec_short, flags(b, 0); argv1(b); rec_raw(b, PROTO_REC_UMASK, "\0\0", 3))
CASE(rec_empty, flags(b, 0); argv1(b); rec_raw(b, PROTO_REC_UMASK, "", 0))
CASE(argv_trailing, flags(b, 0);
    rec_raw(b, PROTO_REC_ARGV, "\1\0\0\0\1\0\0\0a\0z", 11))
CASE(body_trailing, flags(b, 0); argv1(b); proto_put_u16(b, 1))
CASE(str_no_nul, flags(b, 0); argv1(b);
    rec_raw(b, PROTO_REC_PATH, "\3\0\0\0abcx", 8))
CASE(str_embedded_nul, flags(b, 0); argv1(b);
    rec_raw(b, PROTO_REC_PATH, "\3\0\0\0a\0b", 8))
CASE(str_past_end, flags(b, 0); argv1(b);
    rec_raw(b, PROTO_REC_PATH, "\144\0\0\0abc", 8))
CASE(str_huge, flags(b, 0); argv1(b);
    rec_raw(b, PROTO_REC_PATH, "\377\377\377\377abc", 8))
CASE(str_huge_m1, flags(b, 0); argv1(b);
    rec_raw(b, PROTO_REC_PATH, "\376\377\377\377abc", 8))
CASE(str_at_end, flags(b, 0); argv1(b);
    rec_raw(b, PROTO_REC_PATH, "\3\0\0\0abc", 7))
CASE(argv_str_at_end, flags(b, 0);
    rec_raw(b, PROTO_REC_ARGV, "\1\0\0\0\3\0\0\0abc", 11))
CASE(str_no_bytes, flags(b, 0); argv1(b); rec_raw(b, PROTO_REC_PATH, "\0\0\0", 4))
CASE(str_short_n, flags(b, 0); argv1(b); rec_raw(b, PROTO_REC_PATH, "\0", 2))
CASE(strv_count_lies, flags(b, 0);
    rec_raw(b, PROTO_REC_ARGV, "\2\0\0\0\1\0\0\0a", 10))
CASE(strv_count_huge, flags(b, 0);
    rec_raw(b, PROTO_REC_ARGV, "\377\377\377\377", 4))
CASE(strv_count_max, flags(b, 0);
    rec_raw(b, PROTO_REC_ARGV, "\0\0\20\0\1\0\0\0a", 10))
CASE(argv_str_huge, flags(b, 0);
    rec_raw(b, PROTO_REC_ARGV, "\1\0\0\0\377\377\377\377a", 10))
CASE(env_count_huge, flags(b, 0); argv1(b);
    rec_raw(b, PROTO_REC_ENV, "\377\377\377\377", 4))
CASE(act_all, flags(b, 0); argv1(b); act_open(b, 3, "/dev/null");
    act1(b, PROTO_ACT_CLOSE, 4); act2(b, PROTO_ACT_DUP2, 3, 1);
    act_chdir(b, "/"); act1(b, PROTO_ACT_FCHDIR, 5);
    act1(b, PROTO_ACT_CLOSEFROM, 3); act1(b, PROTO_ACT_TCSETPGRP, 0))
CASE(act_kind_0, flags(b, 0); argv1(b); act1(b, 0, 1))
CASE(act_kind_8, flags(b, 0); argv1(b); act1(b, 8, 1))
CASE(act_fd_neg, flags(b, 0); argv1(b); act1(b, PROTO_ACT_CLOSE, -1))
CASE(act_fd_max, flags(b, 0); argv1(b);
    act1(b, PROTO_ACT_CLOSEFROM, PROTO_MAX_CHILD_FD))
CASE(act_fd_max_m1, flags(b, 0); argv1(b);
    act1(b, PROTO_ACT_CLOSEFROM, PROTO_MAX_CHILD_FD - 1))
CASE(dup2_new_neg, flags(b, 0); argv1(b); act2(b, PROTO_ACT_DUP2, 1, -1))
CASE(dup2_new_max, flags(b, 0); argv1(b);
    act2(b, PROTO_ACT_DUP2, 1, PROTO_MAX_CHILD_FD))
CASE(dup2_short, flags(b, 0); argv1(b); act1(b, PROTO_ACT_DUP2, 1))
CASE(close_long, flags(b, 0); argv1(b); act2(b, PROTO_ACT_CLOSE, 1, 2))
CASE(open_fd_neg, flags(b, 0); argv1(b); act_open(b, -5, "/x"))
CASE(open_path_empty, flags(b, 0); argv1(b); act_open(b, 1, ""))
CASE(chdir_path_empty, flags(b, 0); argv1(b); act_chdir(b, ""))
CASE(act_kind_only, flags(b, 0); argv1(b);
    rec_u32(b, PROTO_REC_ACTION, PROTO_ACT_CLOSE))
CASE(act_empty, flags(b, 0); argv1(b); rec_raw(b, PROTO_REC_ACTION, "", 0))
CASE(ctty_0, flags(b, PROTO_SPAWN_SETSID); argv1(b);
    rec_u32(b, PROTO_REC_CTTY, 0))
CASE(ctty_max_m1, flags(b, PROTO_SPAWN_SETSID); argv1(b);
    rec_u32(b, PROTO_REC_CTTY, PROTO_MAX_CHILD_FD - 1))
CASE(ctty_max, flags(b, PROTO_SPAWN_SETSID); argv1(b);
    rec_u32(b, PROTO_REC_CTTY, PROTO_MAX_CHILD_FD))
CASE(ctty_neg, flags(b, PROTO_SPAWN_SETSID); argv1(b);
    rec_u32(b, PROTO_REC_CTTY, 0xffffffffu))
CASE(ctty_no_setsid, flags(b, PROTO_SPAWN_DETACH); argv1(b);
    rec_u32(b, PROTO_REC_CTTY, 0))
CASE(ctty_pgroup, flags(b, PROTO_SPAWN_SETSID); argv1(b);
    rec_u32(b, PROTO_REC_CTTY, 1); rec_u32(b, PROTO_REC_PGROUP, 0))
CASE(ctty_short, flags(b, PROTO_SPAWN_SETSID); argv1(b);
    rec_raw(b, PROTO_REC_CTTY, "\0\0\0", 3))
CASE(ctty_long, flags(b, PROTO_SPAWN_SETSID); argv1(b);
    rec_u64(b, PROTO_REC_CTTY, 0))
CASE(ctty_twice, flags(b, PROTO_SPAWN_SETSID); argv1(b);
    rec_u32(b, PROTO_REC_CTTY, 0); rec_u32(b, PROTO_REC_CTTY, 0))

static const struct spawn_case spawn_cases[] = {
	T(minimal, 0, 0),
	T(minimal, PROTO_MAX_FDS + 1, -E2BIG),
	T(minimal, 1, -EINVAL),
	T(all_flags, 0, 0),
	T(flag_unknown, 0, -EINVAL),
	T(flag_high, 0, -EINVAL),
	T(no_argv, 0, -EINVAL),
	T(no_argv_env, 0, -EINVAL),
	T(argc0, 0, -EINVAL),
	T(argv0_empty, 0, -EINVAL),
	T(argv1_empty, 0, 0),
	T(env_ok, 0, 0),
	T(env_empty, 0, 0),
	T(env_no_eq, 0, -EINVAL),
	T(env_eq_first, 0, -EINVAL),
	T(env_empty_str, 0, -EINVAL),
	T(path_ok, 0, 0),
	T(path_empty, 0, -EINVAL),
	T(cwd_empty, 0, -EINVAL),
	T(cwd_and_cwd_fd, 1, -EINVAL),
	T(path_and_exec_fd, 1, -EINVAL),
	T(cwd_fd_ok, 1, 0),
	T(exec_fd_ok, 1, 0),
	T(cwd_fd_oob, 1, -EINVAL),
	T(exec_fd_oob, 0, -EINVAL),
	T(fd_ok, 2, 0),
	T(fd_index_twice, 1, 0),
	T(fd_dup_child, 2, -EINVAL),
	T(fd_index_oob, 1, -EINVAL),
	T(fd_index_huge, 1, -EINVAL),
	T(fd_unused, 2, -EINVAL),
	T(fd_shared_use, 3, 0),
	T(fd_shared_use, 4, -EINVAL),
	T(child_fd_neg, 1, -EINVAL),
	T(child_fd_max_m1, 1, 0),
	T(child_fd_max, 1, -EINVAL),
	T(nice_m21, 0, -EINVAL),
	T(nice_m20, 0, 0),
	T(nice_19, 0, 0),
	T(nice_20, 0, -EINVAL),
	T(umask_0777, 0, 0),
	T(umask_01000, 0, -EINVAL),
	T(rlimit_15, 0, 0),
	T(rlimit_16, 0, -EINVAL),
	T(rlimit_eq, 0, 0),
	T(rlimit_gt, 0, -EINVAL),
	T(rlimit_inf, 0, 0),
	T(rlimit_cur_fin, 0, 0),
	T(rlimit_cur_inf, 0, -EINVAL),
	T(rlimit_dup, 0, -EINVAL),
	T(sig_all, 0, 0),
	T(pgroup_0, 0, 0),
	T(pgroup_neg, 0, -EINVAL),
	T(sched_any, 0, 0),
	T(tag_0, 0, -EPROTO),
	T(tag_18, 0, -EPROTO),
	T(tag_ffff, 0, -EPROTO),
	T(reserved_set, 0, -EPROTO),
	T(rec_past_end, 0, -EPROTO),
	T(rec_huge_len, 0, -EPROTO),
	T(rec_trailing, 0, -EPROTO),
	T(rec_short, 0, -EPROTO),
	T(rec_empty, 0, -EPROTO),
	T(argv_trailing, 0, -EPROTO),
	T(body_trailing, 0, -EPROTO),
	T(str_no_nul, 0, -EPROTO),
	T(str_embedded_nul, 0, -EPROTO),
	T(str_past_end, 0, -EPROTO),
	T(str_huge, 0, -EPROTO),
	T(str_huge_m1, 0, -EPROTO),
	T(str_at_end, 0, -EPROTO),
	T(argv_str_at_end, 0, -EPROTO),
	T(str_no_bytes, 0, -EPROTO),
	T(str_short_n, 0, -EPROTO),
	T(strv_count_lies, 0, -EPROTO),
	T(strv_count_huge, 0, -E2BIG),
	T(strv_count_max, 0, -EPROTO),
	T(argv_str_huge, 0, -EPROTO),
	T(env_count_huge, 0, -E2BIG),
	T(act_all, 0, 0),
	T(act_kind_0, 0, -EPROTO),
	T(act_kind_8, 0, -EPROTO),
	T(act_fd_neg, 0, -EINVAL),
	T(act_fd_max, 0, -EINVAL),
	T(act_fd_max_m1, 0, 0),
	T(dup2_new_neg, 0, -EINVAL),
	T(dup2_new_max, 0, -EINVAL),
	T(dup2_short, 0, -EPROTO),
	T(close_long, 0, -EPROTO),
	T(open_fd_neg, 0, -EINVAL),
	T(open_path_empty, 0, -EINVAL),
	T(chdir_path_empty, 0, -EINVAL),
	T(act_kind_only, 0, -EPROTO),
	T(act_empty, 0, -EPROTO),
	T(ctty_0, 0, 0),
	T(ctty_max_m1, 0, 0),
	T(ctty_max, 0, -EINVAL),
	T(ctty_neg, 0, -EINVAL),
	T(ctty_no_setsid, 0, -EINVAL),
	T(ctty_pgroup, 0, 0),
	T(ctty_short, 0, -EPROTO),
	T(ctty_long, 0, -EPROTO),
	T(ctty_twice, 0, -EPROTO),
};

/*
 * Each case: decode must give the expected result, leave the output alone
 * on failure, and a successful decode must survive encode + decode.
 */
static void
test_cases(void)
{
	const struct spawn_case	*c;
	struct proto_buf	 b, b2;
	struct proto_spawn	 req, req2;
	size_t			 i;
	int			 error;

	for (i = 0; i < sizeof spawn_cases / sizeof spawn_cases[0]; i++) {
		c = &spawn_cases[i];
		proto_buf_init(&b);
		c->build(&b);
		CHECK_EQ(b.err, 0);
		memset(&req, 0xa5, sizeof req);
		error = proto_decode_spawn(b.data, b.len, c->nfds, &req);
		if (!CHECK_EQ(error, c->want))
			printf("  (case %s at line %d)\n", c->name, c->line);
		check_untouched(error, &req, c->line);
		CHECK_EQ(decode_copy(b.data, b.len, c->nfds, &req2), c->want);
		if (error == 0) {
			proto_buf_init(&b2);
			proto_encode_spawn(&b2, &req);
			CHECK_EQ(b2.err, 0);
			CHECK_EQ(proto_decode_spawn(b2.data, b2.len, c->nfds,
			    &req2), 0);
			compare_spawn(&req, &req2);
			proto_spawn_free(&req2);
			proto_spawn_free(&req);
			proto_buf_free(&b2);
		}
		proto_buf_free(&b);
	}
}

/* Appends a valid instance of record tag; n varies repeatable values. */
static void
add_valid_rec(struct proto_buf *b, uint16_t tag, unsigned int n)
{
	switch (tag) {
	case PROTO_REC_ARGV:
		argv1(b);
		break;
	case PROTO_REC_ENV:
		rec_strs(b, tag, V("A=1"));
		break;
	case PROTO_REC_PATH:
	case PROTO_REC_CWD:
		rec_str(b, tag, "/");
		break;
	case PROTO_REC_FD:
	case PROTO_REC_FD_CLOEXEC:
		rec_2u32(b, tag, 0, n);
		break;
	case PROTO_REC_SIGMASK:
	case PROTO_REC_SIGIGN:
	case PROTO_REC_NOFILE:
		rec_u64(b, tag, 1);
		break;
	case PROTO_REC_RLIMIT:
		rec_rl(b, n, 1, 1);
		break;
	case PROTO_REC_SCHED:
		rec_2u32(b, tag, 0, 0);
		break;
	case PROTO_REC_ACTION:
		act1(b, PROTO_ACT_CLOSE, 3);
		break;
	default:
		rec_u32(b, tag, 0);
		break;
	}
}

/* Every record kind once decodes; twice only if repeatable. */
static void
test_records_once(void)
{
	struct proto_buf	b;
	struct proto_spawn	req;
	uint16_t		tag;
	size_t			nfds;
	int			k, rep;

	for (tag = 1; tag <= PROTO_REC_MAX; tag++) {
		rep = tag == PROTO_REC_FD || tag == PROTO_REC_RLIMIT ||
		    tag == PROTO_REC_ACTION || tag == PROTO_REC_FD_CLOEXEC;
		nfds = tag == PROTO_REC_FD || tag == PROTO_REC_CWD_FD ||
		    tag == PROTO_REC_EXEC_FD || tag == PROTO_REC_FD_CLOEXEC;
		for (k = 1; k <= 2; k++) {
			proto_buf_init(&b);
			flags(&b, tag == PROTO_REC_CTTY ?
			    PROTO_SPAWN_SETSID : 0);
			if (tag != PROTO_REC_ARGV)
				argv1(&b);
			add_valid_rec(&b, tag, 1);
			if (k == 2)
				add_valid_rec(&b, tag, 2);
			memset(&req, 0xa5, sizeof req);
			if (!CHECK_EQ(decode_copy(b.data, b.len, nfds, &req),
			    k == 1 || rep ? 0 : -EPROTO))
				printf("  (tag %u, %d times)\n", tag, k);
			proto_buf_free(&b);
		}
	}
}

/* A request using every record kind; alt picks CWD+PATH over the fds. */
static void
full_request(struct proto_spawn *r, int alt)
{
	static char		 a0[] = "/bin/echo", a1[] = "hello", a2[] = "",
				 a3[] = "w o", e0[] = "PATH=/bin", e1[] = "X=",
				 e2[] = "Y=a=b";
	static char		*argv[] = { a0, a1, a2, a3, NULL };
	static char		*envp[] = { e0, e1, e2, NULL };
	static struct proto_fdmap fdmap[] = { { 0, 0, 0 },
				    { 1, 1, PROTO_FD_CLOEXEC }, { 0, 2, 0 },
				    { 2, PROTO_MAX_CHILD_FD - 1, 0 } };
	static struct proto_rlimit rl[] = { { 0, 1, 2 }, { 7, 1024, 4096 },
				    { 15, ~0ull, ~0ull } };
	static struct proto_action act[] = {
		{ PROTO_ACT_OPEN, 5, -1, 0101, 0600, "/tmp/f" },
		{ PROTO_ACT_CLOSE, 4, -1, 0, 0, NULL },
		{ PROTO_ACT_DUP2, 5, 6, 0, 0, NULL },
		{ PROTO_ACT_CHDIR, -1, -1, 0, 0, "/var" },
		{ PROTO_ACT_FCHDIR, 6, -1, 0, 0, NULL },
		{ PROTO_ACT_CLOSEFROM, 7, -1, 0, 0, NULL },
		{ PROTO_ACT_TCSETPGRP, 0, -1, 0, 0, NULL },
	};

	memset(r, 0, sizeof *r);
	r->flags = PROTO_SPAWN_ALL;
	r->has = 0xff;
	r->argc = 4;
	r->argv = argv;
	r->envc = 3;
	r->envp = envp;
	r->path = alt ? "/bin/echo" : NULL;
	r->cwd = alt ? "/tmp" : NULL;
	r->cwd_fd = alt ? -1 : 2;
	r->exec_fd = alt ? -1 : 1;
	r->nfdmap = 4;
	r->fdmap = fdmap;
	r->sigmask = 1ull << 63 | 1;
	r->sigign = 0x5555;
	r->pgroup = 77;
	r->umask = 022;
	r->nrlimits = 3;
	r->rlimits = rl;
	r->nice = -20;
	r->sched_policy = 3;
	r->sched_priority = -7;
	r->nactions = 7;
	r->actions = act;
	r->grace_ms = 100;
	r->timeout_ms = 0xffffffffu;
	r->has |= PROTO_HAS_CTTY;
	r->ctty = PROTO_MAX_CHILD_FD - 1;
}

static void
compare_spawn(const struct proto_spawn *a, const struct proto_spawn *b)
{
	uint32_t	i;

	CHECK_EQ(a->flags, b->flags);
	CHECK_EQ(a->has, b->has);
	if (CHECK_EQ(a->argc, b->argc)) {
		for (i = 0; i < a->argc; i++)
			CHECK(strcmp(a->argv[i], b->argv[i]) == 0);
	}
	CHECK(b->argv != NULL && b->argv[b->argc] == NULL);
	if (CHECK_EQ(a->envc, b->envc)) {
		for (i = 0; i < a->envc; i++)
			CHECK(strcmp(a->envp[i], b->envp[i]) == 0);
	}
	CHECK(b->envp != NULL && b->envp[b->envc] == NULL);
	CHECK((a->path == NULL) == (b->path == NULL));
	CHECK(a->path == NULL || strcmp(a->path, b->path) == 0);
	CHECK((a->cwd == NULL) == (b->cwd == NULL));
	CHECK(a->cwd == NULL || strcmp(a->cwd, b->cwd) == 0);
	CHECK_EQ(a->cwd_fd, b->cwd_fd);
	CHECK_EQ(a->exec_fd, b->exec_fd);
	if (CHECK_EQ(a->nfdmap, b->nfdmap))
		CHECK(a->nfdmap == 0 || memcmp(a->fdmap, b->fdmap,
		    a->nfdmap * sizeof *a->fdmap) == 0);
	if (a->has & PROTO_HAS_SIGMASK)
		CHECK(a->sigmask == b->sigmask);
	if (a->has & PROTO_HAS_SIGIGN)
		CHECK(a->sigign == b->sigign);
	if (a->has & PROTO_HAS_PGROUP)
		CHECK_EQ(a->pgroup, b->pgroup);
	if (a->has & PROTO_HAS_UMASK)
		CHECK_EQ(a->umask, b->umask);
	if (a->has & PROTO_HAS_NICE)
		CHECK_EQ(a->nice, b->nice);
	if (a->has & PROTO_HAS_SCHED)
		CHECK(a->sched_policy == b->sched_policy &&
		    a->sched_priority == b->sched_priority);
	if (a->has & PROTO_HAS_GRACE)
		CHECK_EQ(a->grace_ms, b->grace_ms);
	if (a->has & PROTO_HAS_TIMEOUT)
		CHECK_EQ(a->timeout_ms, b->timeout_ms);
	if (a->has & PROTO_HAS_NOFILE)
		CHECK(a->nofile == b->nofile);
	if (a->has & PROTO_HAS_CTTY)
		CHECK_EQ(a->ctty, b->ctty);
	if (CHECK_EQ(a->nrlimits, b->nrlimits)) {
		for (i = 0; i < a->nrlimits; i++)
			CHECK(a->rlimits[i].resource == b->rlimits[i].resource &&
			    a->rlimits[i].cur == b->rlimits[i].cur &&
			    a->rlimits[i].max == b->rlimits[i].max);
	}
	if (CHECK_EQ(a->nactions, b->nactions)) {
		for (i = 0; i < a->nactions; i++) {
			CHECK(a->actions[i].kind == b->actions[i].kind &&
			    a->actions[i].fd == b->actions[i].fd &&
			    a->actions[i].newfd == b->actions[i].newfd &&
			    a->actions[i].oflags == b->actions[i].oflags &&
			    a->actions[i].mode == b->actions[i].mode);
			CHECK((a->actions[i].path == NULL) ==
			    (b->actions[i].path == NULL));
			CHECK(a->actions[i].path == NULL ||
			    strcmp(a->actions[i].path, b->actions[i].path) == 0);
		}
	}
}

/* Encode, decode, compare, re-encode: the bytes must be identical. */
static void
test_round_trip(int alt)
{
	struct proto_spawn	in, out;
	struct proto_buf	b, b2;
	size_t			nfds = 3;
	uint32_t		i;

	full_request(&in, alt);
	proto_buf_init(&b);
	proto_encode_spawn(&b, &in);
	CHECK_EQ(b.err, 0);
	if (!CHECK_EQ(proto_decode_spawn(b.data, b.len, nfds, &out), 0))
		goto out;
	compare_spawn(&in, &out);
	for (i = 0; i < out.argc; i++)
		CHECK((uint8_t *)out.argv[i] > b.data &&
		    (uint8_t *)out.argv[i] < b.data + b.len);
	CHECK(out.alloc != NULL && (void *)out.argv >= out.alloc);
	proto_buf_init(&b2);
	proto_encode_spawn(&b2, &out);
	CHECK(b2.err == 0 && b2.len == b.len &&
	    memcmp(b.data, b2.data, b.len) == 0);
	proto_buf_free(&b2);
	proto_spawn_free(&out);
	CHECK(out.alloc == NULL && out.argv == NULL);
	CHECK_EQ(proto_decode_spawn(b.data, b.len, nfds + 1, &out), -EINVAL);
	CHECK_EQ(proto_decode_spawn(b.data, b.len, nfds - 1, &out), -EINVAL);
out:
	proto_buf_free(&b);
}

/*
 * Every prefix of a full body.  Inside a record (or the flags) it must be
 * -EPROTO; at a record boundary the body is well formed, so it may decode
 * or fail a cross-record check (ARGV missing, fd unused).
 */
static void
test_truncation(int alt)
{
	struct proto_spawn	 in, out;
	struct proto_buf	 b;
	uint8_t			*bound;
	size_t			 off, n;
	int			 error;

	full_request(&in, alt);
	proto_buf_init(&b);
	proto_encode_spawn(&b, &in);
	if ((bound = calloc(1, b.len + 1)) == NULL)
		abort();
	for (off = 4; off < b.len; off += 8 + proto_get32(b.data + off + 4))
		bound[off] = 1;
	for (n = 0; n < b.len; n++) {
		memset(&out, 0xa5, sizeof out);
		error = decode_copy(b.data, n, 3, &out);
		if (bound[n]) {
			if (!CHECK(error == 0 || error == -EINVAL))
				printf("  (prefix %zu: %d)\n", n, error);
		} else if (!CHECK_EQ(error, -EPROTO))
			printf("  (prefix %zu of %zu)\n", n, b.len);
		check_untouched(error, &out, __LINE__);
	}
	CHECK_EQ(decode_copy(b.data, b.len, 3, &out), 0);
	free(bound);
	proto_buf_free(&b);
}

/* ARGV or ENV with count strings, built programmatically. */
static void
test_strv_limit(uint16_t tag, uint32_t count, int want)
{
	struct proto_buf	b;
	struct proto_spawn	req;
	const char		*s = tag == PROTO_REC_ARGV ? "a" : "a=";
	size_t			off;
	uint32_t		i;
	int			error;

	proto_buf_init(&b);
	flags(&b, 0);
	if (tag != PROTO_REC_ARGV)
		argv1(&b);
	off = proto_rec_begin(&b, tag);
	proto_put_u32(&b, count);
	for (i = 0; i < count; i++)
		proto_put_str(&b, s);
	proto_rec_end(&b, off);
	CHECK_EQ(b.err, 0);
	error = proto_decode_spawn(b.data, b.len, 0, &req);
	if (!CHECK_EQ(error, want))
		printf("  (tag %u count %u)\n", tag, count);
	if (error == 0) {
		if (tag == PROTO_REC_ARGV)
			CHECK(req.argc == count && req.argv[count] == NULL &&
			    strcmp(req.argv[count - 1], "a") == 0);
		else
			CHECK(req.envc == count && req.envp[count] == NULL &&
			    strcmp(req.envp[count - 1], "a=") == 0);
		proto_spawn_free(&req);
	}
	proto_buf_free(&b);
}

static void
test_fdmap_limit(uint32_t count, int want)
{
	struct proto_buf	b;
	struct proto_spawn	req;
	uint32_t		i;
	int			error;

	proto_buf_init(&b);
	flags(&b, 0);
	argv1(&b);
	for (i = 0; i < count; i++)
		rec_2u32(&b, PROTO_REC_FD, 0, i);
	error = proto_decode_spawn(b.data, b.len, 1, &req);
	CHECK_EQ(error, want);
	if (error == 0) {
		CHECK(req.nfdmap == count &&
		    req.fdmap[count - 1].child_fd == (int32_t)count - 1);
		proto_spawn_free(&req);
	}
	proto_buf_free(&b);
}

static void
test_action_limit(uint32_t count, int want)
{
	struct proto_buf	b;
	struct proto_spawn	req;
	uint32_t		i;
	int			error;

	proto_buf_init(&b);
	flags(&b, 0);
	argv1(&b);
	for (i = 0; i < count; i++)
		act1(&b, PROTO_ACT_CLOSE, (int32_t)i);
	error = proto_decode_spawn(b.data, b.len, 0, &req);
	CHECK_EQ(error, want);
	if (error == 0) {
		CHECK(req.nactions == count &&
		    req.actions[count - 1].fd == (int32_t)count - 1);
		proto_spawn_free(&req);
	}
	proto_buf_free(&b);
}

/* A body of exactly PROTO_MAX_REQUEST bytes: one huge argv[0]. */
static void
test_request_size(void)
{
	struct proto_buf	 b;
	struct proto_spawn	 req;
	size_t			 n = PROTO_MAX_REQUEST - 21;
	char			*s;
	uint8_t			*big;

	if ((s = malloc(n + 1)) == NULL)
		abort();
	memset(s, 'x', n);
	s[n] = '\0';
	proto_buf_init(&b);
	flags(&b, 0);
	rec_strs(&b, PROTO_REC_ARGV, V(s));
	CHECK_EQ(b.err, 0);
	CHECK_EQ(b.len, PROTO_MAX_REQUEST);
	if (CHECK_EQ(proto_decode_spawn(b.data, b.len, 0, &req), 0)) {
		CHECK_EQ(strlen(req.argv[0]), n);
		proto_spawn_free(&req);
	}
	proto_put_u16(&b, 0);
	CHECK_EQ(b.err, -EMSGSIZE);
	if ((big = malloc(PROTO_MAX_REQUEST + 1)) == NULL)
		abort();
	memcpy(big, b.data, PROTO_MAX_REQUEST);
	big[PROTO_MAX_REQUEST] = 0;
	memset(&req, 0xa5, sizeof req);
	CHECK_EQ(proto_decode_spawn(big, PROTO_MAX_REQUEST + 1, 0, &req),
	    -EMSGSIZE);
	check_untouched(-1, &req, __LINE__);
	CHECK_EQ(proto_decode_spawn(big, SIZE_MAX, 0, &req), -EMSGSIZE);
	free(big);
	free(s);
	proto_buf_free(&b);
}

/* 1 MiB of argv: 1024 strings of 1 KiB. */
static void
test_big_argv(void)
{
	struct proto_spawn	 in, out;
	struct proto_buf	 b;
	char			**argv, *s;
	uint32_t		 i;

	if ((argv = calloc(1025, sizeof *argv)) == NULL ||
	    (s = malloc(1024 * 1024)) == NULL)
		abort();
	for (i = 0; i < 1024; i++) {
		argv[i] = s + i * 1024;
		memset(argv[i], 'a' + i % 26, 1023);
		argv[i][1023] = '\0';
	}
	memset(&in, 0, sizeof in);
	in.cwd_fd = in.exec_fd = -1;
	in.argc = 1024;
	in.argv = argv;
	proto_buf_init(&b);
	proto_encode_spawn(&b, &in);
	CHECK_EQ(b.err, 0);
	CHECK(b.len > 1024 * 1024);
	if (CHECK_EQ(proto_decode_spawn(b.data, b.len, 0, &out), 0)) {
		compare_spawn(&in, &out);
		proto_spawn_free(&out);
	}
	proto_buf_free(&b);
	free(s);
	free(argv);
}

static void
test_free(void)
{
	struct proto_spawn	req;

	proto_spawn_free(NULL);
	memset(&req, 0, sizeof req);
	proto_spawn_free(&req);
	proto_spawn_free(&req);
	CHECK(req.alloc == NULL && req.cwd_fd == -1);
}

int
main(void)
{
	test_hdr();
	test_frame();
	test_fixed();
	test_fixed_bad();
	test_error_msg();
	test_list_watch();
	test_nofile();
	test_buf();
	test_names();
	test_cases();
	test_records_once();
	test_round_trip(0);
	test_round_trip(1);
	test_truncation(0);
	test_truncation(1);
	test_strv_limit(PROTO_REC_ARGV, PROTO_MAX_ARGV, 0);
	test_strv_limit(PROTO_REC_ARGV, PROTO_MAX_ARGV + 1, -E2BIG);
	test_strv_limit(PROTO_REC_ENV, PROTO_MAX_ENV, 0);
	test_strv_limit(PROTO_REC_ENV, PROTO_MAX_ENV + 1, -E2BIG);
	test_fdmap_limit(PROTO_MAX_FDMAP, 0);
	test_fdmap_limit(PROTO_MAX_FDMAP + 1, -E2BIG);
	test_action_limit(PROTO_MAX_ACTIONS, 0);
	test_action_limit(PROTO_MAX_ACTIONS + 1, -E2BIG);
	test_request_size();
	test_big_argv();
	test_free();
	if (failures != 0) {
		printf("test-proto: %d of %d checks failed\n", failures,
		    checks);
		return (1);
	}
	printf("test-proto: %d checks passed\n", checks);
	return (0);
}
