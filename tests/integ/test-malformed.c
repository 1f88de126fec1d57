/*
 * test-malformed: bad frames on a raw socket leave the daemon serving.
 *
 * Frames are built byte by byte from the tables in proto.h (included for
 * its constants only).  For each bad frame the daemon must answer
 * PROTO_ERROR and close, or just close, within 2 s; a malformed spawn body
 * may instead be refused alone (PROTO_FAILED at the request step).  Then
 * any fd sent with the bad frame must be closed in the daemon (the read
 * end of a pipe whose write end we sent sees EOF), a fresh client is
 * served, and the daemon's fd count is back to its idle value.
 */

#include <sys/socket.h>
#include <sys/un.h>

#include "testlib.h"
#include "proto.h"

#define REPLY_MS	2000
#define BIG		(PROTO_MAX_FRAME + 4096)

static struct tl_daemon	 d;
static uint8_t		 buf[BIG];

/* How a case may end. */
#define END_CLOSE	0x1	/* PROTO_ERROR and/or close */
#define END_FAILED	0x2	/* PROTO_FAILED, request step, conn kept */

struct tcase {
	const char	*name;
	int		 hello;		/* do the handshake first */
	int		 nattach;	/* pipe write ends to attach */
	int		 ends;		/* END_* allowed */
	int		(*send)(int, const int *, int);
};

static void
le16(uint8_t *p, uint16_t v)
{
	p[0] = v & 0xff;
	p[1] = v >> 8;
}

static void
le32(uint8_t *p, uint32_t v)
{
	le16(p, v & 0xffff);
	le16(p + 2, v >> 16);
}

static uint32_t
get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* Writes a header with every field given. */
static void
hdr_raw(uint8_t *p, uint16_t magic, uint16_t version, uint16_t type,
    uint16_t flags, uint32_t length, uint16_t nfds, uint16_t reserved,
    uint32_t id)
{
	le16(p, magic);
	le16(p + 2, version);
	le16(p + 4, type);
	le16(p + 6, flags);
	le32(p + 8, length);
	le16(p + 12, nfds);
	le16(p + 14, reserved);
	le32(p + 16, id);
}

static void
hdr(uint8_t *p, uint16_t type, uint16_t flags, uint32_t length,
    uint16_t nfds, uint32_t id)
{
	hdr_raw(p, PROTO_MAGIC, PROTO_VERSION, type, flags, length, nfds, 0,
	    id);
}

/* Sends len bytes of b with fds attached; waits 2 s for room. */
static int
send_raw(int s, const void *b, size_t len, const int *fds, int nfds)
{
	union {
		struct cmsghdr	 h;
		char		 b[CMSG_SPACE(sizeof(int) * 16)];
	} cm;
	struct iovec	 iov = { .iov_base = (void *)(uintptr_t)b,
			    .iov_len = len };
	struct msghdr	 msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr	*c;
	struct pollfd	 pfd = { .fd = s, .events = POLLOUT };
	ssize_t		 n;

	if (nfds > 0) {
		memset(&cm, 0, sizeof cm);
		msg.msg_control = cm.b;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nfds);
	}
	if (poll(&pfd, 1, tl_scale(REPLY_MS)) != 1)
		return -ETIMEDOUT;
	n = sendmsg(s, &msg, MSG_NOSIGNAL);
	if (n == -1)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/*
 * Receives one frame within timeout_ms.  Returns its size, 0 at end of
 * stream (or ECONNRESET), -ETIMEDOUT, or a negative errno.  Fds that
 * came with it are closed.
 */
static ssize_t
recv_frame(int s, uint8_t *b, size_t len, int timeout_ms)
{
	union {
		struct cmsghdr	 h;
		char		 b[CMSG_SPACE(sizeof(int) * 16)];
	} cm;
	struct iovec	 iov = { .iov_base = b, .iov_len = len };
	struct msghdr	 msg = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = cm.b,
			    .msg_controllen = sizeof cm.b };
	struct cmsghdr	*c;
	struct pollfd	 pfd = { .fd = s, .events = POLLIN };
	ssize_t		 n;
	size_t		 i, nfds;
	int		 fds[16];

	if (poll(&pfd, 1, timeout_ms) != 1)
		return -ETIMEDOUT;
	n = recvmsg(s, &msg, MSG_CMSG_CLOEXEC|MSG_DONTWAIT);
	if (n == -1)
		return errno == ECONNRESET ? 0 : -errno;
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		memcpy(fds, CMSG_DATA(c), nfds * sizeof(int));
		for (i = 0; i < nfds; i++)
			close(fds[i]);
	}
	return n;
}

static int
raw_connect(void)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };
	int			s, sz = 1 << 20;

	if (strlen(d.sock) >= sizeof sun.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, d.sock, strlen(d.sock) + 1);
	s = socket(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC, 0);
	if (s == -1)
		return -1;
	(void)setsockopt(s, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
	if (connect(s, (struct sockaddr *)&sun, sizeof sun) == -1) {
		close(s);
		return -1;
	}
	return s;
}

static size_t
hello_frame(uint8_t *p, uint32_t min, uint32_t max)
{
	hdr(p, PROTO_HELLO, 0, 8, 0, 0);
	le32(p + 20, min);
	le32(p + 24, max);
	return 28;
}

/* The handshake; returns 0 when HELLO_OK came back. */
static int
do_hello(int s)
{
	uint8_t	b[256];
	ssize_t	n;

	if (send_raw(s, b, hello_frame(b, 1, 1), NULL, 0) != 0)
		return -1;
	n = recv_frame(s, b, sizeof b, tl_scale(REPLY_MS));
	if (n != 36 || get32(b) != (PROTO_MAGIC | PROTO_VERSION << 16) ||
	    b[4] != PROTO_HELLO_OK || get32(b + 20) != 1) {
		tl_log("bad HELLO_OK: %zd bytes, type 0x%x", n,
		    n >= 6 ? b[4] : 0);
		return -1;
	}
	return 0;
}

/* Appends a str (u32 n, bytes, NUL) at p; returns bytes written. */
static size_t
put_str(uint8_t *p, const char *s)
{
	size_t	n = strlen(s);

	le32(p, (uint32_t)n);
	memcpy(p + 4, s, n + 1);
	return 4 + n + 1;
}

/* Appends a record header; returns 8. */
static size_t
put_rec(uint8_t *p, uint16_t tag, uint32_t len)
{
	le16(p, tag);
	le16(p + 2, 0);
	le32(p + 4, len);
	return 8;
}

/* A spawn body: flags, ARGV {argv...} (argc may be 0). */
static size_t
spawn_body(uint8_t *p, const char *const *argv)
{
	size_t	off = 4, rec, n = 0, i;

	le32(p, 0);
	rec = off;
	off += 8;
	for (i = 0; argv[i] != NULL; i++)
		n++;
	le32(p + off, (uint32_t)n);
	off += 4;
	for (i = 0; i < n; i++)
		off += put_str(p + off, argv[i]);
	put_rec(p + rec, PROTO_REC_ARGV, (uint32_t)(off - rec - 8));
	return off;
}

/* Sends a one-frame spawn whose body is argv plus extra bytes. */
static int
send_spawn(int s, const char *const *argv, const uint8_t *extra,
    size_t extralen, int hnfds, const int *fds, int nfds)
{
	size_t	n = spawn_body(buf + 20, argv);

	if (extralen > 0)
		memcpy(buf + 20 + n, extra, extralen);
	n += extralen;
	hdr(buf, PROTO_SPAWN, 0, (uint32_t)n, (uint16_t)hnfds, 7);
	return send_raw(s, buf, 20 + n, fds, nfds);
}

static const char *const true_argv[] = { "/bin/true", NULL };

/* The cases. */

static int
c_bad_magic(int s, const int *fds, int nfds)
{
	uint8_t	b[64];

	hello_frame(b, 1, 1);
	le16(b, 0x4242);
	le16(b + 12, (uint16_t)nfds);
	return send_raw(s, b, 28, fds, nfds);
}

static int
c_bad_version_hello(int s, const int *fds, int nfds)
{
	uint8_t	b[64];

	hello_frame(b, 1, 1);
	le16(b + 2, 99);
	(void)fds;
	(void)nfds;
	return send_raw(s, b, 28, NULL, 0);
}

static int
c_bad_version_ping(int s, const int *fds, int nfds)
{
	uint8_t	b[64];

	hdr_raw(b, PROTO_MAGIC, 2, PROTO_PING, 0, 0, (uint16_t)nfds, 0, 3);
	return send_raw(s, b, 20, fds, nfds);
}

static int
c_unsupported_hello(int s, const int *fds, int nfds)
{
	uint8_t	b[64];

	(void)fds;
	(void)nfds;
	return send_raw(s, b, hello_frame(b, 2, 99), NULL, 0);
}

static int
c_short(int s, const int *fds, int nfds)
{
	uint8_t	b[64];

	hdr(b, PROTO_PING, 0, 0, (uint16_t)nfds, 1);
	return send_raw(s, b, 19, fds, nfds);
}

static int
c_tiny(int s, const int *fds, int nfds)
{
	uint8_t	b[4] = { 0x53, 0x50, 1, 0 };

	return send_raw(s, b, sizeof b, fds, nfds);
}

static int
c_length_long(int s, const int *fds, int nfds)
{
	uint8_t	b[64];

	hdr(b, PROTO_PING, 0, 8, (uint16_t)nfds, 1);
	memset(b + 20, 0, 4);
	return send_raw(s, b, 24, fds, nfds);
}

static int
c_length_short(int s, const int *fds, int nfds)
{
	uint8_t	b[64];

	hdr(b, PROTO_PING, 0, 4, (uint16_t)nfds, 1);
	memset(b + 20, 0, 12);
	return send_raw(s, b, 32, fds, nfds);
}

static int
c_oversized(int s, const int *fds, int nfds)
{
	size_t	n = sizeof buf;

	memset(buf, 'x', n);
	hdr(buf, PROTO_SPAWN, 0, (uint32_t)(n - 20), (uint16_t)nfds, 1);
	return send_raw(s, buf, n, fds, nfds);
}

static int
c_nfds_none_attached(int s, const int *fds, int nfds)
{
	uint8_t	b[64];

	(void)fds;
	(void)nfds;
	hdr(b, PROTO_PING, 0, 0, 1, 1);
	return send_raw(s, b, 20, NULL, 0);
}

static int
c_nfds_too_few(int s, const int *fds, int nfds)
{
	(void)nfds;
	return send_spawn(s, true_argv, NULL, 0, 2, fds, 1);
}

static int
c_fds_but_nfds0(int s, const int *fds, int nfds)
{
	uint8_t	b[64];

	hdr(b, PROTO_PING, 0, 0, 0, 1);
	return send_raw(s, b, 20, fds, nfds);
}

static int
c_spawn_fds_but_nfds0(int s, const int *fds, int nfds)
{
	return send_spawn(s, true_argv, NULL, 0, 0, fds, nfds);
}

static int
c_spawn_before_hello(int s, const int *fds, int nfds)
{
	uint8_t	ext[24];

	/* FD record: passed fd 0 becomes child fd 3: otherwise valid. */
	put_rec(ext, PROTO_REC_FD, 8);
	le32(ext + 8, 0);
	le32(ext + 12, 3);
	return send_spawn(s, true_argv, ext, 16, nfds, fds, nfds);
}

static int
c_ping_before_hello(int s, const int *fds, int nfds)
{
	uint8_t	b[64];

	hdr(b, PROTO_PING, 0, 0, (uint16_t)nfds, 1);
	return send_raw(s, b, 20, fds, nfds);
}

static int
c_garbage(int s, const int *fds, int nfds)
{
	uint8_t		b[200];
	unsigned int	x = 12345;
	size_t		i;

	for (i = 0; i < sizeof b; i++) {
		x = x * 1103515245 + 12345;
		b[i] = (uint8_t)(x >> 16);
	}
	return send_raw(s, b, sizeof b, fds, nfds);
}

static int
c_empty_datagram(int s, const int *fds, int nfds)
{
	uint8_t	b[1] = { 0 };

	return send_raw(s, b, 0, fds, nfds);
}

static int
c_argc0(int s, const int *fds, int nfds)
{
	static const char *const none[] = { NULL };

	(void)fds;
	(void)nfds;
	return send_spawn(s, none, NULL, 0, 0, NULL, 0);
}

static int
c_empty_argv0(int s, const int *fds, int nfds)
{
	static const char *const empty[] = { "", "x", NULL };

	(void)fds;
	(void)nfds;
	return send_spawn(s, empty, NULL, 0, 0, NULL, 0);
}

static int
c_str_no_nul(int s, const int *fds, int nfds)
{
	size_t	n = spawn_body(buf + 20, true_argv);

	(void)fds;
	(void)nfds;
	/* "/bin/true" is 9 bytes; its NUL sits at body offset 4+8+4+4+9. */
	buf[20 + 4 + 8 + 4 + 4 + 9] = 'X';
	hdr(buf, PROTO_SPAWN, 0, (uint32_t)n, 0, 7);
	return send_raw(s, buf, 20 + n, NULL, 0);
}

static int
c_rec_len_huge(int s, const int *fds, int nfds)
{
	uint8_t	ext[16];

	(void)fds;
	(void)nfds;
	put_rec(ext, PROTO_REC_UMASK, 0xffffffffu);
	le32(ext + 8, 022);
	return send_spawn(s, true_argv, ext, 12, 0, NULL, 0);
}

static int
c_env_no_equals(int s, const int *fds, int nfds)
{
	uint8_t	ext[64];
	size_t	n = 8;

	(void)fds;
	(void)nfds;
	le32(ext + n, 1);
	n += 4;
	n += put_str(ext + n, "NOEQUALS");
	put_rec(ext, PROTO_REC_ENV, (uint32_t)(n - 8));
	return send_spawn(s, true_argv, ext, n, 0, NULL, 0);
}

static int
c_unknown_record(int s, const int *fds, int nfds)
{
	uint8_t	ext[16];

	(void)fds;
	(void)nfds;
	put_rec(ext, 0x7777, 4);
	le32(ext + 8, 0);
	return send_spawn(s, true_argv, ext, 12, 0, NULL, 0);
}

static int
c_bad_fd_index(int s, const int *fds, int nfds)
{
	uint8_t	ext[32];

	put_rec(ext, PROTO_REC_FD, 8);
	le32(ext + 8, 0);
	le32(ext + 12, 1);
	put_rec(ext + 16, PROTO_REC_FD, 8);
	le32(ext + 24, 5);		/* only one fd came */
	le32(ext + 28, 2);
	return send_spawn(s, true_argv, ext, 32, nfds, fds, nfds);
}

static int
c_unused_fd(int s, const int *fds, int nfds)
{
	return send_spawn(s, true_argv, NULL, 0, nfds, fds, nfds);
}

static int
c_dup_child_fd(int s, const int *fds, int nfds)
{
	uint8_t	ext[32];

	put_rec(ext, PROTO_REC_FD, 8);
	le32(ext + 8, 0);
	le32(ext + 12, 4);
	put_rec(ext + 16, PROTO_REC_FD, 8);
	le32(ext + 24, 1);
	le32(ext + 28, 4);
	return send_spawn(s, true_argv, ext, 32, nfds, fds, nfds);
}

static int
c_unknown_spawn_flag(int s, const int *fds, int nfds)
{
	size_t	n = spawn_body(buf + 20, true_argv);

	(void)fds;
	(void)nfds;
	le32(buf + 20, 0x80000000u);
	hdr(buf, PROTO_SPAWN, 0, (uint32_t)n, 0, 7);
	return send_raw(s, buf, 20 + n, NULL, 0);
}

static int
c_unknown_type(int s, const int *fds, int nfds)
{
	uint8_t	b[64];

	hdr(b, 0x7e, 0, 0, (uint16_t)nfds, 1);
	return send_raw(s, b, 20, fds, nfds);
}

static int
c_reply_type(int s, const int *fds, int nfds)
{
	uint8_t	b[64];

	hdr(b, PROTO_PONG, 0, 24, (uint16_t)nfds, 1);
	memset(b + 20, 0, 24);
	return send_raw(s, b, 44, fds, nfds);
}

static int
c_unknown_flag(int s, const int *fds, int nfds)
{
	uint8_t	b[64];

	hdr(b, PROTO_PING, 0x8000, 0, (uint16_t)nfds, 1);
	return send_raw(s, b, 20, fds, nfds);
}

static int
c_reserved(int s, const int *fds, int nfds)
{
	uint8_t	b[64];

	hdr_raw(b, PROTO_MAGIC, PROTO_VERSION, PROTO_PING, 0, 0,
	    (uint16_t)nfds, 1, 1);
	return send_raw(s, b, 20, fds, nfds);
}

static int
c_second_hello(int s, const int *fds, int nfds)
{
	uint8_t	b[64];

	hello_frame(b, 1, 1);
	le16(b + 12, (uint16_t)nfds);
	return send_raw(s, b, 28, fds, nfds);
}

static int
c_hello_short_payload(int s, const int *fds, int nfds)
{
	uint8_t	b[64];

	hdr(b, PROTO_HELLO, 0, 4, (uint16_t)nfds, 0);
	le32(b + 20, 1);
	return send_raw(s, b, 24, fds, nfds);
}

static int
c_ping_with_payload(int s, const int *fds, int nfds)
{
	uint8_t	b[64];

	hdr(b, PROTO_PING, 0, 4, (uint16_t)nfds, 1);
	le32(b + 20, 0);
	return send_raw(s, b, 24, fds, nfds);
}

static int
c_kill_short(int s, const int *fds, int nfds)
{
	uint8_t	b[64];

	hdr(b, PROTO_KILL, 0, 4, (uint16_t)nfds, 1);
	le32(b + 20, 1);
	return send_raw(s, b, 24, fds, nfds);
}

/* The first half of a spawn (F_MORE), then a PING in between. */
static int
c_interleaved(int s, const int *fds, int nfds)
{
	size_t	n = spawn_body(buf + 20, true_argv);
	uint8_t	b[64];
	int	r;

	hdr(buf, PROTO_SPAWN, PROTO_F_MORE, 10, (uint16_t)nfds, 9);
	if ((r = send_raw(s, buf, 30, fds, nfds)) != 0)
		return r;
	(void)n;
	hdr(b, PROTO_PING, 0, 0, 0, 10);
	return send_raw(s, b, 20, NULL, 0);
}

/* A continuation with a different id. */
static int
c_continuation_id(int s, const int *fds, int nfds)
{
	size_t	n = spawn_body(buf + 20, true_argv);
	int	r;

	hdr(buf, PROTO_SPAWN, PROTO_F_MORE, 10, (uint16_t)nfds, 9);
	if ((r = send_raw(s, buf, 30, fds, nfds)) != 0)
		return r;
	memmove(buf + 20, buf + 30, n - 10);
	hdr(buf, PROTO_SPAWN, 0, (uint32_t)(n - 10), 0, 11);
	return send_raw(s, buf, 20 + n - 10, NULL, 0);
}

/* Fds on a continuation frame: only the first may carry them. */
static int
c_fds_on_continuation(int s, const int *fds, int nfds)
{
	size_t	n = spawn_body(buf + 20, true_argv);
	int	r;

	hdr(buf, PROTO_SPAWN, PROTO_F_MORE, 10, 0, 9);
	if ((r = send_raw(s, buf, 30, NULL, 0)) != 0)
		return r;
	memmove(buf + 20, buf + 30, n - 10);
	hdr(buf, PROTO_SPAWN, 0, (uint32_t)(n - 10), (uint16_t)nfds, 9);
	return send_raw(s, buf, 20 + n - 10, fds, nfds);
}

/* Continuation frames past PROTO_MAX_REQUEST. */
static int
c_request_too_big(int s, const int *fds, int nfds)
{
	size_t	sent = 0, n = PROTO_MAX_PAYLOAD;
	int	r, first = 1;

	memset(buf + 20, 'y', n);
	while (sent <= PROTO_MAX_REQUEST + n) {
		hdr(buf, PROTO_SPAWN, PROTO_F_MORE, (uint32_t)n,
		    first ? (uint16_t)nfds : 0, 13);
		r = send_raw(s, buf, 20 + n, first ? fds : NULL,
		    first ? nfds : 0);
		/* The daemon may (and should) give up early. */
		if (r == -EPIPE || r == -ECONNRESET)
			return 0;
		if (r != 0)
			return r;
		first = 0;
		sent += n;
	}
	return 0;
}

static const struct tcase cases[] = {
	{ "bad magic",			0, 1, END_CLOSE, c_bad_magic },
	{ "bad magic after hello",	1, 1, END_CLOSE, c_bad_magic },
	{ "bad version on hello",	0, 0, END_CLOSE, c_bad_version_hello },
	{ "bad version on ping",	1, 1, END_CLOSE, c_bad_version_ping },
	{ "unsupported hello versions",	0, 0, END_CLOSE, c_unsupported_hello },
	{ "short frame (19 bytes)",	1, 1, END_CLOSE, c_short },
	{ "tiny frame (4 bytes)",	0, 1, END_CLOSE, c_tiny },
	{ "length field > payload",	1, 1, END_CLOSE, c_length_long },
	{ "length field < payload",	1, 1, END_CLOSE, c_length_short },
	{ "oversized datagram",		1, 1, END_CLOSE, c_oversized },
	{ "nfds 1, none attached",	1, 0, END_CLOSE, c_nfds_none_attached },
	{ "nfds 2, one attached",	1, 1, END_CLOSE, c_nfds_too_few },
	{ "fds attached, nfds 0",	1, 3, END_CLOSE, c_fds_but_nfds0 },
	{ "spawn with fds, nfds 0",	1, 2, END_CLOSE,
	    c_spawn_fds_but_nfds0 },
	{ "spawn before hello",		0, 1, END_CLOSE, c_spawn_before_hello },
	{ "ping before hello",		0, 1, END_CLOSE, c_ping_before_hello },
	{ "garbage",			0, 1, END_CLOSE, c_garbage },
	{ "garbage after hello",	1, 1, END_CLOSE, c_garbage },
	{ "empty datagram",		1, 1, END_CLOSE, c_empty_datagram },
	{ "spawn argc 0",		1, 0, END_CLOSE|END_FAILED, c_argc0 },
	{ "spawn empty argv[0]",	1, 0, END_CLOSE|END_FAILED,
	    c_empty_argv0 },
	{ "spawn str without NUL",	1, 0, END_CLOSE|END_FAILED,
	    c_str_no_nul },
	{ "spawn record length huge",	1, 0, END_CLOSE|END_FAILED,
	    c_rec_len_huge },
	{ "spawn env without =",	1, 0, END_CLOSE|END_FAILED,
	    c_env_no_equals },
	{ "spawn unknown record",	1, 0, END_CLOSE|END_FAILED,
	    c_unknown_record },
	{ "spawn unknown flag",		1, 0, END_CLOSE|END_FAILED,
	    c_unknown_spawn_flag },
	{ "spawn bad fd index",		1, 1, END_CLOSE|END_FAILED,
	    c_bad_fd_index },
	{ "spawn unused passed fd",	1, 1, END_CLOSE|END_FAILED,
	    c_unused_fd },
	{ "spawn duplicate child fd",	1, 2, END_CLOSE|END_FAILED,
	    c_dup_child_fd },
	{ "unknown type",		1, 1, END_CLOSE, c_unknown_type },
	{ "daemon-only type",		1, 1, END_CLOSE, c_reply_type },
	{ "unknown header flag",	1, 1, END_CLOSE, c_unknown_flag },
	{ "reserved header field",	1, 1, END_CLOSE, c_reserved },
	{ "second hello",		1, 1, END_CLOSE, c_second_hello },
	{ "hello payload short",	0, 1, END_CLOSE,
	    c_hello_short_payload },
	{ "ping with payload",		1, 1, END_CLOSE, c_ping_with_payload },
	{ "kill payload short",		1, 1, END_CLOSE, c_kill_short },
	{ "continuation interleaved",	1, 1, END_CLOSE, c_interleaved },
	{ "continuation other id",	1, 1, END_CLOSE, c_continuation_id },
	{ "fds on continuation",	1, 1, END_CLOSE,
	    c_fds_on_continuation },
	{ "request > PROTO_MAX_REQUEST", 1, 1, END_CLOSE|END_FAILED,
	    c_request_too_big },
};

/*
 * Reads the daemon's answer.  Returns END_CLOSE (error frame and/or
 * close), END_FAILED, or 0 with a message logged for anything else.
 */
static int
read_outcome(int s, const struct tcase *tc)
{
	uint8_t		b[4096];
	uint64_t	end = tl_now_ms() + (uint64_t)tl_scale(REPLY_MS), t;
	ssize_t		n;
	int		saw_error = 0;

	for (;;) {
		t = tl_now_ms();
		n = recv_frame(s, b, sizeof b, t >= end ? 0 : (int)(end - t));
		if (n == 0)
			return END_CLOSE;
		if (n == -ETIMEDOUT) {
			tl_log("  no %s within %d ms", saw_error ?
			    "close after PROTO_ERROR" : "answer", REPLY_MS);
			return 0;
		}
		if (n < 0) {
			tl_log("  recv: %s", strerror((int)-n));
			return 0;
		}
		if (n < 20) {
			tl_log("  a %zd-byte frame from the daemon", n);
			return 0;
		}
		if (b[4] == PROTO_ERROR && n >= 24) {
			tl_log("  PROTO_ERROR %s: \"%.*s\"",
			    strerror((int)get32(b + 20)),
			    n > 28 ? (int)(n - 28) : 0, (const char *)b + 28);
			saw_error = 1;
			continue;
		}
		if (b[4] == PROTO_FAILED && n >= 32 && !saw_error &&
		    (tc->ends & END_FAILED)) {
			tl_log("  PROTO_FAILED %s step %u",
			    strerror((int)get32(b + 20)), b[24] | b[25] << 8);
			if ((b[24] | b[25] << 8) != PROTO_STEP_REQUEST) {
				tl_log("  ... but not at the request step");
				return 0;
			}
			return END_FAILED;
		}
		tl_log("  unexpected frame type 0x%x (%zd bytes)", b[4], n);
		return 0;
	}
}

/* The read end sees EOF within 2 s: every copy of the write end is shut. */
static int
pipe_eof(int rfd)
{
	char	b[64];

	return tl_read_all(rfd, b, sizeof b, tl_scale(REPLY_MS)) == 0;
}

static void
run_case(const struct tcase *tc, int base)
{
	int	s, r, i, outcome, p[4][2], wfds[4];

	tl_log("== %s", tc->name);
	for (i = 0; i < tc->nattach; i++) {
		CHECK(pipe2(p[i], O_CLOEXEC) == 0);
		wfds[i] = p[i][1];
	}
	if ((s = raw_connect()) == -1) {
		tl_fail(__FILE__, __LINE__, "%s: connect: %s", tc->name,
		    strerror(errno));
		return;
	}
	if (tc->hello && do_hello(s) != 0)
		tl_fail(__FILE__, __LINE__, "%s: handshake failed", tc->name);
	r = tc->send(s, wfds, tc->nattach);
	if (r != 0 && r != -EPIPE && r != -ECONNRESET)
		tl_fail(__FILE__, __LINE__, "%s: send: %s", tc->name,
		    strerror(-r));
	outcome = read_outcome(s, tc);
	if (outcome == 0)
		tl_fail(__FILE__, __LINE__, "%s: not rejected", tc->name);
	close(s);
	for (i = 0; i < tc->nattach; i++) {
		close(p[i][1]);
		if (!pipe_eof(p[i][0])) {
			tl_fail(__FILE__, __LINE__, "%s: passed fd %d still "
			    "open in the daemon", tc->name, i);
			tl_fd_dump(d.pid);
		}
		close(p[i][0]);
	}
	r = tl_spawn_true(&d);
	if (r != 0)
		tl_fail(__FILE__, __LINE__, "%s: daemon no longer serving: %s",
		    tc->name, strerror(r < 0 ? -r : EIO));
	TL_CHECK_FDS(&d, base);
}

int
main(void)
{
	size_t	i;
	int	base;

	signal(SIGPIPE, SIG_IGN);
	if (tl_start(&d) != 0)
		goto out;
	CHECK_OK(tl_spawn_true(&d));
	base = tl_idle_fds(&d);
	tl_log("daemon idle fds: %d", base);
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		if (kill(d.pid, 0) == -1) {
			tl_fail(__FILE__, __LINE__, "daemon died");
			break;
		}
		run_case(&cases[i], base);
	}
out:
	tl_stop(&d);
	return tl_exit();
}
