/*
 * test-budget: what pending requests hold is budgeted per uid (issue 12,
 * items 3 and 7).
 *
 * A request split over several frames holds its fds (up to 253) and its
 * buffer (up to 16 MiB) in the daemon until its last frame or
 * --request-timeout.  Without a budget one uid with ~80 of them used up
 * the daemon's RLIMIT_NOFILE, and every other uid, root included, timed
 * out; 40 of 16 MiB took its RSS to 653 MiB.  Here the daemon runs as
 * nobody (it serves its uid and root) with RLIMIT_NOFILE 1024 and the
 * default fd budget, or a 2 MiB byte budget: nobody's requests fill its
 * budget and the next is refused with ERROR EAGAIN, while root connects,
 * pings, spawns and sends split requests of its own as usual.
 */

#include <sys/ioctl.h>
#include <linux/sockios.h>

#include <grp.h>

#include "testlib.h"
#include "../stress/stresslib.h"

#define USER		65534
#define NFDS		100	/* fds per split request */
#define NREQ		12	/* nobody's split requests: 3 fit */
#define FRAME		60000

/* Sends body[0..upto) of a request id in frames, fds on the first. */
static int
send_split(int s, uint32_t id, const uint8_t *body, size_t len, size_t upto,
    const int *fds, size_t nfds)
{
	static uint8_t	 b[PROTO_MAX_FRAME];
	size_t		 off = 0, n;
	int		 r, first = 1;

	while (off < upto) {
		n = upto - off < FRAME ? upto - off : FRAME;
		if (first && n == len)
			n = len / 2;	/* split even when small */
		st_hdr(b, PROTO_SPAWN, off + n < len ? PROTO_F_MORE : 0,
		    (uint32_t)n, first ? (uint16_t)nfds : 0, id);
		memcpy(b + PROTO_HDR_SIZE, body + off, n);
		if ((r = st_send(s, b, PROTO_HDR_SIZE + n, first ? fds : NULL,
		    first ? nfds : 0)) != 0)
			return r;
		off += n;
		first = 0;
	}
	return 0;
}

/* A raw connection that said HELLO, or -1. */
static int
raw(const struct tl_daemon *d)
{
	int	 s;

	if ((s = st_raw_connect(d->sock)) < 0)
		return -1;
	if (st_hello(s, 1) != 0) {
		close(s);
		return -1;
	}
	return s;
}

/*
 * Waits until the daemon has read all we sent on s (SIOCOUTQ: nothing of
 * ours left in the socket): it handles each frame as it reads it, so its
 * answers to them, if any, are in our receive queue then.
 */
static int
drained(int s)
{
	uint64_t	 end = tl_now_ms() + (uint64_t)tl_scale(5000);
	int		 n;

	while (ioctl(s, SIOCOUTQ, &n) == 0 && n > 0 && tl_now_ms() < end)
		tl_sleep_ms(5);
	return ioctl(s, SIOCOUTQ, &n) == 0 && n == 0 ? 0 : -1;
}

/* Sends the whole split request and CHECKs STARTED then EXITED 0. */
static void
split_runs(int s, uint32_t id, const uint8_t *body, size_t len,
    const int *fds, size_t nfds)
{
	struct st_frame	 f;

	CHECK_OK(send_split(s, id, body, len, len, fds, nfds));
	CHECK_INT(st_recv(s, &f, 5000, NULL), ==, 1);
	CHECK_INT(f.type, ==, PROTO_STARTED);
	CHECK_INT(f.id, ==, id);
	CHECK_INT(st_recv_type(s, PROTO_EXITED, &f, 5000), ==, 1);
	CHECK_INT(f.status, ==, 0);
}

/* Becomes nobody, as the daemon. */
static int
become_user(void)
{
	return setgroups(0, NULL) == -1 || setresgid(USER, USER, USER) == -1 ||
	    setresuid(USER, USER, USER) == -1 ? -1 : 0;
}

/* Waits for one byte on fd; 0 or -1. */
static int
await_byte(int fd, int ms)
{
	struct pollfd	 pfd = { fd, POLLIN, 0 };
	char		 c;

	return poll(&pfd, 1, ms) == 1 && read(fd, &c, 1) == 1 ? 0 : -1;
}

/*
 * nobody: NREQ split requests with NFDS fds each, left pending; the first
 * 3 fit the default budget (RLIMIT_NOFILE 1024: 768 for pending requests,
 * 384 per uid), the others get ERROR EAGAIN.  Tells the parent (one byte
 * on up), waits for its go (down), completes one held request: STARTED.
 * Exit status: a bit per failed expectation.
 */
static int
user_main(const struct tl_daemon *d, int up, int down, const uint8_t *body,
    size_t len, const int *fds)
{
	struct st_frame	 f;
	int		 s[NREQ], i, bad = 0, held = 0, refused = 0;

	if (become_user() == -1)
		_exit(100);
	for (i = 0; i < NREQ; i++) {
		if ((s[i] = raw(d)) < 0)
			_exit(101);
		(void)send_split(s[i], 1, body, len, len / 2, fds, NFDS);
		if (drained(s[i]) == -1)
			_exit(102);
	}
	for (i = 0; i < NREQ; i++) {
		int	 r = st_recv(s[i], &f, 0, NULL);

		if (r == -ETIMEDOUT)
			held++;
		else if (r == 1 && f.type == PROTO_ERROR && f.err == EAGAIN)
			refused++;
		if (r != -ETIMEDOUT) {
			close(s[i]);
			s[i] = -1;
		}
	}
	fprintf(stderr, "nobody: %d requests of %d fds held, %d refused "
	    "EAGAIN\n", held, NFDS, refused);
	bad |= (held != 3) | (refused != NREQ - 3) << 1;
	(void)!write(up, "r", 1);
	if (await_byte(down, 60000) == -1)
		bad |= 4;
	for (i = 0; i < NREQ && s[i] == -1; i++)
		;
	if (i < NREQ) {
		if (send_split(s[i], 1, body + len / 2, len - len / 2,
		    len - len / 2, NULL, 0) != 0)
			bad |= 16;
		if (st_recv(s[i], &f, 5000, NULL) != 1 ||
		    f.type != PROTO_STARTED)
			bad |= 8;
	}
	return bad;
}

/* Root's requests while nobody sits at its fd budget. */
static void
root_served(const struct tl_daemon *d, const uint8_t *body, size_t len,
    const int *fds)
{
	int			 s;

	/*
	 * Raw frames: libspawnd, run as root, talks to root's daemon only
	 * (this one runs as nobody); the daemon serves root all the same.
	 */
	if ((s = raw(d)) < 0) {
		tl_fail(__FILE__, __LINE__, "root: raw connect");
		return;
	}
	split_runs(s, 7, body, len, fds, NFDS);
	split_runs(s, 8, body, len, fds, NFDS);
	close(s);
}

static void
test_fd_budget(void)
{
	static const char *const args[] = { "--request-timeout", "60000",
	    "--allow-foreign-namespaces", NULL };
	struct st_opts		 o = { .args = args, .uid = USER, .gid = USER,
				    .nofile = 1024 };
	const char		*argv[] = { "/bin/true", NULL };
	struct tl_daemon	 d;
	uint8_t			 body[8192];
	int			 fds[NFDS], p[2], up[2], down[2], i, status;
	size_t			 len;
	pid_t			 pid;

	tl_log("== fds of pending requests: default budget, "
	    "RLIMIT_NOFILE 1024");
	len = st_spawn_body(body, sizeof body, argv, NFDS, 0);
	if (pipe2(p, O_CLOEXEC) == -1 || pipe2(up, O_CLOEXEC) == -1 ||
	    pipe2(down, O_CLOEXEC) == -1 || len == 0) {
		tl_fail(__FILE__, __LINE__, "set-up");
		return;
	}
	/* The child's fds 0..NFDS-1: the pipe's write end, NFDS times. */
	for (i = 0; i < NFDS; i++)
		fds[i] = p[1];
	if (st_start(&d, &o) != 0)
		return;
	if ((pid = fork()) == 0) {
		close(up[0]);
		close(down[1]);
		_exit(user_main(&d, up[1], down[0], body, len, fds));
	}
	close(up[1]);
	close(down[0]);
	CHECK(pid > 0);
	CHECK_INT(await_byte(up[0], 30000), ==, 0);
	tl_log("  nobody at its budget; root is served");
	root_served(&d, body, len, fds);
	(void)!write(down[1], "g", 1);
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_INT(WEXITSTATUS(status), ==, 0);
	CHECK_OK(st_ping_as(d.sock, 65534, 5000));
	tl_stop(&d);
	close(p[0]);
	close(p[1]);
	close(up[0]);
	close(down[1]);
}

/*
 * Bytes: --max-pending-bytes-per-uid 2 MiB.  nobody holds a split request
 * whose buffer takes it all; its second big pending request is refused
 * with ERROR EAGAIN; root's own 900 KB request runs meanwhile.
 */
static void
test_byte_budget(void)
{
	static const char *const args[] = { "--max-pending-bytes-per-uid",
	    "2097152", "--request-timeout", "60000",
	    "--allow-foreign-namespaces", NULL };
	struct st_opts		 o = { .args = args, .uid = USER, .gid = USER };
	const char		*argv[11] = { "/bin/true" };
	struct tl_daemon	 d;
	struct st_frame		 f;
	uint8_t			*body;
	char			*pad;
	size_t			 len, cap = 2u << 20, i;
	int			 up[2], down[2], s, status;
	pid_t			 pid;

	tl_log("== bytes of pending requests: --max-pending-bytes-per-uid "
	    "2 MiB");
	body = malloc(cap);
	pad = malloc(900001);
	if (body == NULL || pad == NULL || pipe2(up, O_CLOEXEC) == -1 ||
	    pipe2(down, O_CLOEXEC) == -1) {
		tl_fail(__FILE__, __LINE__, "set-up");
		return;
	}
	/* Nine strings of 100000 (execve takes 128 KiB at most per string). */
	memset(pad, 'x', 900000);
	for (i = 1; i <= 9; i++) {
		pad[i * 100000 - 1] = '\0';
		argv[i] = pad + (i - 1) * 100000;
	}
	len = st_spawn_body(body, cap, argv, 0, 0);
	CHECK(len > 900000);
	if (st_start(&d, &o) != 0)
		goto out;
	if ((pid = fork()) == 0) {
		int	 s1, s2, bad = 0;

		close(up[0]);
		close(down[1]);
		if (become_user() == -1 || (s1 = raw(&d)) < 0 ||
		    (s2 = raw(&d)) < 0)
			_exit(100);
		/* 1.5 MB of 1.8: a 2 MiB buffer, all of the budget. */
		(void)send_split(s1, 1, body, len * 2, len, NULL, 0);
		(void)send_split(s1, 1, body, len * 2, len * 2 / 3 + len / 2,
		    NULL, 0);
		if (drained(s1) == -1 || st_recv(s1, &f, 0, NULL) !=
		    -ETIMEDOUT)
			bad |= 1;
		(void)send_split(s2, 2, body, len, len / 2, NULL, 0);
		if (st_recv(s2, &f, 5000, NULL) != 1 ||
		    f.type != PROTO_ERROR || f.err != EAGAIN)
			bad |= 2;
		fprintf(stderr, "nobody: second big request: %s %u\n",
		    f.type == PROTO_ERROR ? "ERROR" : "not ERROR", f.err);
		(void)!write(up[1], "r", 1);
		if (await_byte(down[0], 60000) == -1)
			bad |= 4;
		/* The first still held, not dropped. */
		if (st_recv(s1, &f, 0, NULL) != -ETIMEDOUT)
			bad |= 8;
		_exit(bad);
	}
	close(up[1]);
	close(down[0]);
	CHECK_INT(await_byte(up[0], 30000), ==, 0);
	tl_log("  nobody at its byte budget; root is served");
	CHECK_OK(st_ping_as(d.sock, 65534, 5000));
	if ((s = raw(&d)) >= 0) {
		split_runs(s, 9, body, len, NULL, 0);
		close(s);
	} else
		tl_fail(__FILE__, __LINE__, "root: raw connect");
	(void)!write(down[1], "g", 1);
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status));
	CHECK_INT(WEXITSTATUS(status), ==, 0);
	tl_log("  daemon RSS %ld KiB", st_rss_kib(d.pid));
	tl_stop(&d);
	close(up[0]);
	close(down[1]);
out:
	free(body);
	free(pad);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (geteuid() != 0) {
		fprintf(stderr, "not root: cannot run the daemon and a client "
		    "as another uid\n");
		return TL_SKIP;
	}
	test_fd_budget();
	test_byte_budget();
	return tl_exit();
}
