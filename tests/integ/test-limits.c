/*
 * test-limits: every limit flag of spawnd(8) is enforced with its
 * documented error, against a real daemon started with that flag:
 *
 *   --max-connections, --max-connections-per-uid: ERROR EAGAIN at accept
 *   --max-children-per-connection, --max-children: FAILED EAGAIN, request
 *   --max-queue: a client that never reads its exit records is dropped
 *   --max-request: FAILED EMSGSIZE (one frame), ERROR EMSGSIZE (split)
 *   --max-fds: FAILED E2BIG, the fds closed in the daemon
 *   --handshake-timeout: no HELLO, ERROR ETIMEDOUT, closed in time
 *   --request-timeout: a half-sent request holding fds is dropped in
 *	time, its fds closed in the daemon
 *
 * Each case also checks that the daemon still serves and that its fd
 * count is back to its idle value.
 */

#include "testlib.h"
#include "../stress/stresslib.h"

#define SLEEP_ARGV	{ "/bin/sleep", "30", NULL }

static int	idle_base;

/* Starts a daemon with args; 0 or -1. */
static int
start(struct tl_daemon *d, const char *const *args)
{
	struct st_opts	o = { .args = args };

	if (st_start(d, &o) != 0)
		return -1;
	idle_base = tl_idle_fds(d);
	return 0;
}

/* Spawns argv through c; returns spawnd_spawn()'s result. */
static int
spawn(struct spawnd_client *c, const char *const *argv, unsigned int flags,
    struct spawnd_child **ret, struct spawnd_failure *f)
{
	struct spawnd_req	*req;
	int			 r;

	*ret = NULL;
	if ((r = spawnd_req_new(&req)) < 0)
		return r;
	if ((r = spawnd_req_set_argv(req, argv)) == 0 &&
	    (r = spawnd_req_set_flags(req, flags)) == 0)
		r = spawnd_spawn(c, req, ret, f);
	spawnd_req_free(req);
	return r;
}

/* Counters from a ping on a fresh connection (which counts itself). */
static int
status(const struct tl_daemon *d, struct spawnd_status *st)
{
	struct spawnd_client	*c;
	int			 r;

	memset(st, 0, sizeof *st);
	if ((r = spawnd_connect(d->sock, 5000, &c)) < 0)
		return r;
	r = spawnd_ping(c, 5000, st);
	spawnd_client_free(c);
	return r;
}

/*
 * A connection over a limit, through the library: ERROR EAGAIN is what
 * is documented.  The daemon answers at accept, before reading anything,
 * then closes; the library sends HELLO right after connect(), and when
 * that send meets the closed socket (EPIPE) it gives up without reading
 * the ERROR already queued for it (a raw client always finds it: see
 * raw_refused).  Tries n times; returns how many got -EAGAIN, CHECKs that
 * none got in and logs the others.
 */
static int
refused(const struct tl_daemon *d, int n)
{
	struct spawnd_client	*x;
	int			 i, r, eagain = 0, reset = 0;

	for (i = 0; i < n; i++) {
		r = spawnd_connect(d->sock, 5000, &x);
		if (r == 0) {
			tl_fail(__FILE__, __LINE__, "over the limit, admitted");
			spawnd_client_free(x);
		} else if (r == -EAGAIN)
			eagain++;
		else if (r == -ECONNRESET || r == -EPIPE)
			reset++;
		else
			tl_fail(__FILE__, __LINE__, "over the limit: %s",
			    strerror(-r));
	}
	ST_DEFECT(eagain == n, "spawnd_connect over a connection limit: "
	    "%d of %d got EAGAIN, %d ECONNRESET/EPIPE (client_open gives up "
	    "on EPIPE from the HELLO send without reading the queued ERROR)",
	    eagain, n, reset);
	return eagain;
}

/* Ends a case: the daemon serves, holds its idle fds, exits 0. */
static void
finish(struct tl_daemon *d)
{
	uint64_t	t0 = tl_now_ms();
	int		r;

	CHECK(st_alive(d));
	/* Closes just made may not be seen yet by a connection-capped one. */
	while ((r = tl_spawn_true(d)) != 0 && (r == -EAGAIN ||
	    r == -ECONNRESET) && tl_now_ms() - t0 < 2000)
		tl_sleep_ms(20);
	CHECK_OK(r);
	TL_CHECK_FDS(d, idle_base);
	CHECK_INT(st_lasting_zombies(d->pid, 1000), ==, 0);
	tl_stop(d);
}

/*
 * The errno of the ERROR (id 0) a raw socket gets without sending
 * anything, if the stream then ends; -1 otherwise.  Closes s.
 */
static int
raw_error(int s)
{
	struct st_frame	 f;
	int		 e = -1;

	if (s < 0)
		return -1;
	if (st_recv(s, &f, 2000, NULL) == 1 && f.type == PROTO_ERROR &&
	    f.id == 0)
		e = (int)f.err;
	if (st_recv(s, &f, 2000, NULL) != 0)
		e = -1;
	close(s);
	return e;
}

/*
 * A peer over the limit gets ERROR EAGAIN, then EOF: one that sends
 * nothing, and one that sends HELLO at once (which may meet EPIPE, the
 * daemon having answered and closed already: the ERROR still waits).
 */
static void
raw_refused(const struct tl_daemon *d)
{
	uint8_t	b[28];
	int	s, i;

	CHECK_INT(raw_error(st_raw_connect(d->sock)), ==, EAGAIN);
	for (i = 0; i < 10; i++) {
		if ((s = st_raw_connect(d->sock)) < 0)
			continue;
		st_hdr(b, PROTO_HELLO, 0, 8, 0, 0);
		st_le32(b + 20, 1);
		st_le32(b + 24, 1);
		(void)send(s, b, sizeof b, MSG_NOSIGNAL);
		CHECK_INT(raw_error(s), ==, EAGAIN);
	}
}

static void
test_max_connections(void)
{
	static const char *const args[] = { "--max-connections", "3", NULL };
	struct spawnd_client	*c[3] = { NULL };
	struct tl_daemon	 d;
	uint64_t		 t0;
	int			 i, r;

	tl_log("== --max-connections 3");
	if (start(&d, args) != 0)
		return;
	for (i = 0; i < 3; i++)
		CHECK_OK(spawnd_connect(d.sock, 5000, &c[i]));
	(void)refused(&d, 20);
	raw_refused(&d);
	/* A freed slot is usable at once. */
	spawnd_client_free(c[0]);
	c[0] = NULL;
	t0 = tl_now_ms();
	while ((r = spawnd_connect(d.sock, 5000, &c[0])) < 0 &&
	    (r == -EAGAIN || r == -ECONNRESET) && tl_now_ms() - t0 < 2000)
		tl_sleep_ms(10);
	CHECK_OK(r);
	for (i = 0; i < 3; i++)
		spawnd_client_free(c[i]);
	finish(&d);
}

/*
 * Per uid: root's connections are capped while another uid still gets
 * in.  The daemon runs as nobody (it serves its own uid and root); a
 * forked client runs as nobody too.
 */
static void
test_max_connections_per_uid(void)
{
	static const char *const args[] = { "--max-connections", "20",
	    "--max-connections-per-uid", "2", "--allow-foreign-namespaces",
	    NULL };
	struct st_opts		 o = { .args = args, .uid = 65534,
				    .gid = 65534 };
	struct spawnd_client	*c[2] = { NULL }, *x;
	struct tl_daemon	 d;
	int			 i, status, s[2] = { -1, -1 };
	pid_t			 pid;

	tl_log("== --max-connections-per-uid 2");
	if (geteuid() != 0) {
		tl_log("  (not root: per-uid case with one uid only)");
		o.uid = o.gid = 0;
	}
	if (st_start(&d, &o) != 0)
		return;
	idle_base = tl_idle_fds(&d);
	if (o.uid == 0) {
		for (i = 0; i < 2; i++)
			CHECK_OK(spawnd_connect(d.sock, 5000, &c[i]));
		(void)refused(&d, 20);
	} else {
		/*
		 * Root's library sends nothing to a daemon not run by root
		 * (issue 12): root's connections are raw ones here.
		 */
		CHECK_INT(spawnd_connect(d.sock, 5000, &x), ==, -EPERM);
		for (i = 0; i < 2; i++) {
			s[i] = st_raw_connect(d.sock);
			CHECK_OK(st_hello(s[i], 1));
		}
	}
	raw_refused(&d);
	if (o.uid != 0) {
		/* Another uid is counted apart: 2 more get in, the 3rd not. */
		if ((pid = fork()) == 0) {
			struct spawnd_client	*y[3] = { NULL };
			int			 bad = 0;

			if (setgroups(0, NULL) == -1 ||
			    setresgid(65534, 65534, 65534) == -1 ||
			    setresuid(65534, 65534, 65534) == -1)
				_exit(3);
			for (i = 0; i < 2; i++)
				bad |= spawnd_connect(d.sock, 5000, &y[i]) != 0;
			i = st_raw_connect(d.sock);
			bad |= (raw_error(i) != EAGAIN) << 1;
			_exit(bad);
		}
		CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
		CHECK(WIFEXITED(status));
		CHECK_INT(WEXITSTATUS(status), ==, 0);
	}
	for (i = 0; i < 2; i++) {
		spawnd_client_free(c[i]);
		if (s[i] != -1)
			close(s[i]);
	}
	st_euid(o.uid);		/* finish() spawns through the library */
	finish(&d);
	st_euid(0);
}

static void
test_max_children_per_connection(void)
{
	static const char *const args[] = {
	    "--max-children-per-connection", "2", NULL };
	const char		*argv[] = SLEEP_ARGV;
	struct spawnd_client	*a = NULL, *b = NULL;
	struct spawnd_child	*ch[4] = { NULL };
	struct spawnd_failure	 f;
	struct spawnd_exit	 ex;
	struct tl_daemon	 d;
	int			 r, i;

	tl_log("== --max-children-per-connection 2");
	if (start(&d, args) != 0)
		return;
	if ((a = tl_connect(&d)) == NULL || (b = tl_connect(&d)) == NULL)
		goto out;
	CHECK_OK(spawn(a, argv, 0, &ch[0], &f));
	CHECK_OK(spawn(a, argv, 0, &ch[1], &f));
	r = spawn(a, argv, 0, &ch[2], &f);
	CHECK_INT(r, ==, -EAGAIN);
	CHECK_INT(f.step, ==, SPAWND_STEP_REQUEST);
	/* The connection lives on; another connection has its own quota. */
	CHECK_OK(spawn(b, argv, 0, &ch[3], &f));
	/* One child gone: room again. */
	if (ch[0] != NULL) {
		CHECK_OK(spawnd_child_kill(ch[0], SIGKILL, 0));
		CHECK_OK(spawnd_child_wait(ch[0], 5000, &ex));
		CHECK(WIFSIGNALED(ex.status));
	}
	spawnd_child_free(ch[2]);
	CHECK_OK(spawn(a, argv, 0, &ch[2], &f));
out:
	for (i = 0; i < 4; i++) {
		if (ch[i] != NULL)
			(void)spawnd_child_kill(ch[i], SIGKILL, 0);
		spawnd_child_free(ch[i]);
	}
	spawnd_client_free(a);
	spawnd_client_free(b);
	finish(&d);
}

static void
test_max_children(void)
{
	static const char *const args[] = { "--max-children", "3", NULL };
	const char		*argv[] = SLEEP_ARGV;
	struct spawnd_client	*a = NULL, *b = NULL;
	struct spawnd_child	*ch[5] = { NULL };
	struct spawnd_failure	 f;
	struct spawnd_status	 st;
	struct tl_daemon	 d;
	uint64_t		 t0;
	int			 r, i;

	tl_log("== --max-children 3 (detached children count)");
	if (start(&d, args) != 0)
		return;
	if ((a = tl_connect(&d)) == NULL || (b = tl_connect(&d)) == NULL)
		goto out;
	CHECK_OK(spawn(a, argv, 0, &ch[0], &f));
	CHECK_OK(spawn(a, argv, SPAWND_DETACH, &ch[1], &f));
	CHECK_OK(spawn(b, argv, 0, &ch[2], &f));
	r = spawn(b, argv, 0, &ch[3], &f);
	CHECK_INT(r, ==, -EAGAIN);
	CHECK_INT(f.step, ==, SPAWND_STEP_REQUEST);
	r = spawn(a, argv, 0, &ch[3], &f);
	CHECK_INT(r, ==, -EAGAIN);
	CHECK_INT(f.step, ==, SPAWND_STEP_REQUEST);
	/* a goes: its tied child is stopped, its detached one still counts. */
	spawnd_client_free(a);
	a = NULL;
	t0 = tl_now_ms();
	do {
		tl_sleep_ms(20);
		CHECK_OK(status(&d, &st));
	} while (st.children > 2 && tl_now_ms() - t0 < 3000);
	CHECK_INT(st.children, ==, 2);
	CHECK_OK(spawn(b, argv, 0, &ch[3], &f));
	r = spawn(b, argv, 0, &ch[4], &f);
	CHECK_INT(r, ==, -EAGAIN);
out:
	for (i = 0; i < 5; i++) {
		if (ch[i] != NULL)
			(void)spawnd_child_kill(ch[i], SIGKILL, 0);
		spawnd_child_free(ch[i]);
	}
	spawnd_client_free(a);
	spawnd_client_free(b);
	finish(&d);
}

/*
 * --max-queue: K children block reading a shared pipe; the client never
 * reads once they are started, and the pipe is closed: K exit records
 * (60 bytes each) pile up.  Past the socket buffer and the queue limit
 * the daemon must drop the connection instead of queueing without bound.
 */
#define QUEUE_CHILDREN	450

static void
free_cats(struct spawnd_child **ch)
{
	int	 i;

	for (i = 0; i < QUEUE_CHILDREN; i++)
		spawnd_child_free(ch[i]);
	free(ch);
}

/* QUEUE_CHILDREN cats reading rfd, into ch[]; returns how many started. */
static int
spawn_cats(struct spawnd_client *c, int rfd, int null,
    struct spawnd_child **ch)
{
	const char		*argv[] = { "/bin/cat", NULL };
	struct spawnd_req	*req;
	struct spawnd_failure	 f;
	int			 i, r;

	CHECK_OK(spawnd_req_new(&req));
	CHECK_OK(spawnd_req_set_argv(req, argv));
	CHECK_OK(spawnd_req_set_fd(req, rfd, 0));
	CHECK_OK(spawnd_req_set_fd(req, null, 1));
	for (i = 0; i < QUEUE_CHILDREN; i++)
		if ((r = spawnd_spawn(c, req, &ch[i], &f)) < 0) {
			tl_fail(__FILE__, __LINE__, "spawn %d: %s", i,
			    strerror(-r));
			break;
		}
	spawnd_req_free(req);
	return i;
}

static void
test_max_queue(void)
{
	static const char *const args[] = { "--max-queue", "1024", NULL };
	struct spawnd_client	*c = NULL;
	struct spawnd_child	**ch;
	struct spawnd_status	 st;
	struct st_frame		 fr;
	struct tl_daemon	 d;
	uint64_t		 t0;
	int			 p[2], null, n = 0, exited = 0, r, eof = 0;

	tl_log("== --max-queue 1024: %d exit records nobody reads",
	    QUEUE_CHILDREN);
	ch = calloc(QUEUE_CHILDREN, sizeof *ch);
	if (ch == NULL || start(&d, args) != 0)
		return;
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK((null = open("/dev/null", O_WRONLY | O_CLOEXEC)) >= 0);
	if ((c = tl_connect(&d)) == NULL)
		goto out;
	n = spawn_cats(c, p[0], null, ch);
	close(p[0]);
	close(p[1]);	/* every cat sees EOF and exits */
	/* Wait until the daemon has reaped them all, without reading. */
	t0 = tl_now_ms();
	do {
		tl_sleep_ms(50);
		CHECK_OK(status(&d, &st));
	} while (st.children > 0 && tl_now_ms() - t0 < 10000);
	CHECK_INT(st.children, ==, 0);
	/* Only the pinging connection is left. */
	CHECK_INT(st.connections, ==, 1);
	/* What did reach us: some records, then the end of the stream. */
	while ((r = st_recv(spawnd_client_fd(c), &fr, 2000, NULL)) == 1)
		if (fr.type == PROTO_EXITED)
			exited++;
	eof = r == 0;
	tl_log("  %d children, %d exit records delivered, then %s", n,
	    exited, eof ? "end of stream" : strerror(-r));
	CHECK(eof);
	CHECK_INT(exited, <, n);
out:
	free_cats(ch);
	spawnd_client_free(c);
	close(null);
	finish(&d);
}

/*
 * --max-queue does not cut a LIST short: with 1024 bytes of queue, a
 * second client lists the 450 children of the first, more than the socket
 * buffer and the queue together hold.  The LIST's replies may go past the
 * limit (by one LIST at most); the connection must stay.
 */
static void
test_list_queue(void)
{
	static const char *const args[] = { "--max-queue", "1024", NULL };
	struct spawnd_client	*c = NULL, *c2 = NULL;
	struct spawnd_child	**ch;
	struct spawnd_ps	*ps = NULL;
	struct spawnd_status	 st;
	struct tl_daemon	 d;
	size_t			 nps = 0;
	int			 p[2] = { -1, -1 }, null, n = 0;

	tl_log("== --max-queue 1024: a LIST of %d children", QUEUE_CHILDREN);
	ch = calloc(QUEUE_CHILDREN, sizeof *ch);
	if (ch == NULL || start(&d, args) != 0)
		return;
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK((null = open("/dev/null", O_WRONLY | O_CLOEXEC)) >= 0);
	if ((c = tl_connect(&d)) == NULL || (c2 = tl_connect(&d)) == NULL)
		goto out;
	n = spawn_cats(c, p[0], null, ch);
	CHECK_OK(spawnd_list(c2, tl_scale(10000), &ps, &nps));
	CHECK_INT((int)nps, ==, n);
	/* And the connection is still served. */
	CHECK_OK(spawnd_ping(c2, tl_scale(5000), &st));
	CHECK_INT(st.connections, ==, 2);
out:
	free(ps);
	close(p[0]);
	close(p[1]);	/* every cat sees EOF and exits */
	spawnd_client_free(c2);
	free_cats(ch);
	spawnd_client_free(c);
	close(null);
	finish(&d);
}

/*
 * A TIMEOUT record of 0 (which libspawnd never sends: 0 clears its
 * timeout) stops the child at once: SIGTERM, long before sleep 30 ends.
 */
static void
test_timeout_zero(void)
{
	static const char *const args[] = { NULL };
	const char		*argv[] = { "/bin/sleep", "30", NULL };
	static uint8_t		 b[4096];
	struct st_frame		 f;
	struct tl_daemon	 d;
	size_t			 n;
	int			 s = -1;

	tl_log("== TIMEOUT 0 on the wire: stopped at once");
	if (start(&d, args) != 0)
		return;
	if ((s = st_raw_connect(d.sock)) < 0 || st_hello(s, 1) != 0) {
		tl_fail(__FILE__, __LINE__, "raw connect");
		goto out;
	}
	n = st_spawn_body(b + PROTO_HDR_SIZE, sizeof b - PROTO_HDR_SIZE - 12,
	    argv, 0, 0);
	CHECK(n > 0);
	st_le16(b + PROTO_HDR_SIZE + n, PROTO_REC_TIMEOUT);
	st_le16(b + PROTO_HDR_SIZE + n + 2, 0);
	st_le32(b + PROTO_HDR_SIZE + n + 4, 4);
	st_le32(b + PROTO_HDR_SIZE + n + 8, 0);
	n += 12;
	st_hdr(b, PROTO_SPAWN, 0, (uint32_t)n, 0, 1);
	CHECK_OK(st_send(s, b, PROTO_HDR_SIZE + n, NULL, 0));
	CHECK_INT(st_recv(s, &f, 5000, NULL), ==, 1);
	CHECK_INT(f.type, ==, PROTO_STARTED);
	CHECK_INT(st_recv_type(s, PROTO_EXITED, &f, tl_scale(10000)), ==, 1);
	CHECK_INT(f.code, ==, CLD_KILLED);
	CHECK_INT(f.status, ==, SIGTERM);
out:
	if (s != -1)
		close(s);
	finish(&d);
}

/* A body of exactly len bytes: /bin/true with one padding argument. */
static size_t
body_of(uint8_t *b, size_t cap, size_t len)
{
	static char	 pad[PROTO_MAX_FRAME * 2];
	const char	*argv[] = { "/bin/true", pad, NULL };
	size_t		 base;

	pad[0] = '\0';
	base = st_spawn_body(b, cap, argv, 0, 0);	/* with "" */
	if (len < base + 1 || len - base >= sizeof pad)
		return 0;
	memset(pad, 'x', len - base);
	pad[len - base] = '\0';
	return st_spawn_body(b, cap, argv, 0, 0);
}

static void
test_max_request(void)
{
	static const char *const args[] = { "--max-request", "4096", NULL };
	static uint8_t		 b[PROTO_MAX_FRAME + PROTO_HDR_SIZE];
	struct st_frame		 f;
	struct tl_daemon	 d;
	size_t			 n;
	int			 s;

	tl_log("== --max-request 4096");
	if (start(&d, args) != 0)
		return;
	if ((s = st_raw_connect(d.sock)) < 0) {
		tl_fail(__FILE__, __LINE__, "raw connect");
		goto out;
	}
	/* HELLO_OK tells the client the limit ("PROTO_MAX_REQUEST or lower"). */
	st_hdr(b, PROTO_HELLO, 0, 8, 0, 0);
	st_le32(b + 20, 1);
	st_le32(b + 24, 1);
	CHECK_OK(st_send(s, b, 28, NULL, 0));
	if (recv(s, b, sizeof b, 0) != 36 || b[4] != PROTO_HELLO_OK) {
		tl_fail(__FILE__, __LINE__, "no HELLO_OK");
		goto out;
	}
	ST_DEFECT(st_get32(b + 28) == 4096, "HELLO_OK max_request is %u, "
	    "not the --max-request 4096 in force (conn_hello sends "
	    "PROTO_MAX_REQUEST)", st_get32(b + 28));
	/* 4096 bytes: at the limit, served. */
	n = body_of(b + PROTO_HDR_SIZE, sizeof b - PROTO_HDR_SIZE, 4096);
	CHECK_INT(n, ==, 4096);
	st_hdr(b, PROTO_SPAWN, 0, (uint32_t)n, 0, 1);
	CHECK_OK(st_send(s, b, PROTO_HDR_SIZE + n, NULL, 0));
	CHECK_INT(st_recv(s, &f, 5000, NULL), ==, 1);
	CHECK_INT(f.type, ==, PROTO_STARTED);
	CHECK_INT(st_recv_type(s, PROTO_EXITED, &f, 5000), ==, 1);
	/* 4097 bytes: FAILED EMSGSIZE at the request step, link kept. */
	n = body_of(b + PROTO_HDR_SIZE, sizeof b - PROTO_HDR_SIZE, 4097);
	st_hdr(b, PROTO_SPAWN, 0, (uint32_t)n, 0, 2);
	CHECK_OK(st_send(s, b, PROTO_HDR_SIZE + n, NULL, 0));
	CHECK_INT(st_recv(s, &f, 5000, NULL), ==, 1);
	CHECK_INT(f.type, ==, PROTO_FAILED);
	CHECK_INT(f.err, ==, EMSGSIZE);
	CHECK_INT(f.step, ==, PROTO_STEP_REQUEST);
	CHECK_INT(f.id, ==, 2);
	/* Split in two frames of 3000: the second passes the limit. */
	n = body_of(b + PROTO_HDR_SIZE, sizeof b - PROTO_HDR_SIZE, 6000);
	st_hdr(b, PROTO_SPAWN, PROTO_F_MORE, 3000, 0, 3);
	CHECK_OK(st_send(s, b, PROTO_HDR_SIZE + 3000, NULL, 0));
	memmove(b + PROTO_HDR_SIZE, b + PROTO_HDR_SIZE + 3000, n - 3000);
	st_hdr(b, PROTO_SPAWN, 0, (uint32_t)(n - 3000), 0, 3);
	(void)st_send(s, b, PROTO_HDR_SIZE + n - 3000, NULL, 0);
	CHECK_INT(st_recv(s, &f, 5000, NULL), ==, 1);
	CHECK_INT(f.type, ==, PROTO_ERROR);
	CHECK_INT(f.err, ==, EMSGSIZE);
	CHECK_INT(st_recv(s, &f, 5000, NULL), ==, 0);
	close(s);
out:
	finish(&d);
}

static void
test_max_fds(void)
{
	static const char *const args[] = { "--max-fds", "2", NULL };
	const char		*argv[] = { "/bin/true", NULL };
	uint8_t			 b[64];
	struct st_frame		 f;
	struct tl_daemon	 d;
	int			 s, p[3][2], w[3], i;

	tl_log("== --max-fds 2");
	if (start(&d, args) != 0)
		return;
	if ((s = st_raw_connect(d.sock)) < 0) {
		tl_fail(__FILE__, __LINE__, "raw connect");
		goto out;
	}
	st_hdr(b, PROTO_HELLO, 0, 8, 0, 0);
	st_le32(b + 20, 1);
	st_le32(b + 24, 1);
	CHECK_OK(st_send(s, b, 28, NULL, 0));
	if (recv(s, b, sizeof b, 0) != 36 || b[4] != PROTO_HELLO_OK) {
		tl_fail(__FILE__, __LINE__, "no HELLO_OK");
		goto out;
	}
	ST_DEFECT(st_get32(b + 32) == 2, "HELLO_OK max_fds is %u, not the "
	    "--max-fds 2 in force (conn_hello sends PROTO_MAX_FDS)",
	    st_get32(b + 32));
	for (i = 0; i < 3; i++) {
		CHECK(pipe2(p[i], O_CLOEXEC) == 0);
		w[i] = p[i][1];
	}
	/* 2 fds: served (the child gets them as 0 and 1). */
	CHECK_OK(st_send_spawn(s, 1, argv, w, 2, 0));
	CHECK_INT(st_recv(s, &f, 5000, NULL), ==, 1);
	CHECK_INT(f.type, ==, PROTO_STARTED);
	CHECK_INT(st_recv_type(s, PROTO_EXITED, &f, 5000), ==, 1);
	/* 3 fds: FAILED E2BIG, and all three closed in the daemon. */
	CHECK_OK(st_send_spawn(s, 2, argv, w, 3, 0));
	CHECK_INT(st_recv(s, &f, 5000, NULL), ==, 1);
	CHECK_INT(f.type, ==, PROTO_FAILED);
	CHECK_INT(f.err, ==, E2BIG);
	CHECK_INT(f.step, ==, PROTO_STEP_REQUEST);
	/* 3 fds on the first frame of a split request: ERROR E2BIG. */
	CHECK_OK(st_send_half_spawn(s, 3, argv, w, 3));
	CHECK_INT(st_recv(s, &f, 5000, NULL), ==, 1);
	CHECK_INT(f.type, ==, PROTO_ERROR);
	CHECK_INT(f.err, ==, E2BIG);
	close(s);
	/*
	 * 3 fds on the last frame of a split request: fds on a continuation
	 * break the protocol whatever their number (ERROR, closed), rather
	 * than FAILED E2BIG with the request left half open.
	 */
	if ((s = st_raw_connect(d.sock)) < 0 || st_hello(s, 1) != 0) {
		tl_fail(__FILE__, __LINE__, "raw connect");
		goto out;
	}
	CHECK_OK(st_send_half_spawn(s, 4, argv, NULL, 0));
	st_hdr(b, PROTO_SPAWN, 0, 1, 3, 4);
	b[PROTO_HDR_SIZE] = 0;
	CHECK_OK(st_send(s, b, PROTO_HDR_SIZE + 1, w, 3));
	CHECK_INT(st_recv(s, &f, 5000, NULL), ==, 1);
	CHECK_INT(f.type, ==, PROTO_ERROR);
	CHECK_INT(f.err, ==, EPROTO);
	CHECK_INT(st_recv(s, &f, 5000, NULL), ==, 0);
	close(s);
	for (i = 0; i < 3; i++) {
		close(p[i][1]);
		if (!st_pipe_eof(p[i][0], 2000))
			tl_fail(__FILE__, __LINE__, "fd %d still open in the "
			    "daemon", i);
		close(p[i][0]);
	}
out:
	finish(&d);
}

/* A connection that never says HELLO is dropped after the deadline. */
static void
test_handshake_timeout(void)
{
	static const char *const args[] = { "--handshake-timeout", "1000",
	    NULL };
	struct st_frame		 f;
	struct tl_daemon	 d;
	uint64_t		 t0, dt;
	int			 s, ok, r;

	tl_log("== --handshake-timeout 1000");
	if (start(&d, args) != 0)
		return;
	ok = st_raw_connect(d.sock);
	CHECK(ok >= 0 && st_hello(ok, 1) == 0);
	t0 = tl_now_ms();
	if ((s = st_raw_connect(d.sock)) < 0) {
		tl_fail(__FILE__, __LINE__, "connect");
		goto out;
	}
	/* Others are served meanwhile. */
	CHECK_OK(tl_spawn_true(&d));
	r = st_recv(s, &f, 5000, NULL);
	dt = tl_now_ms() - t0;
	CHECK_INT(r, ==, 1);
	CHECK_INT(f.type, ==, PROTO_ERROR);
	CHECK_INT(f.err, ==, ETIMEDOUT);
	CHECK_INT(st_recv(s, &f, 1000, NULL), ==, 0);
	dt = tl_now_ms() - t0;
	tl_log("  closed after %llu ms", (unsigned long long)dt);
	CHECK_INT(dt, >=, 950);
	CHECK_INT(dt, <=, 2000 + 300);
	close(s);
	/* The one that said HELLO is still there. */
	if (ok >= 0) {
		uint8_t	b[PROTO_HDR_SIZE];

		st_hdr(b, PROTO_PING, 0, 0, 0, 9);
		CHECK_OK(st_send(ok, b, sizeof b, NULL, 0));
		CHECK_INT(st_recv(ok, &f, 2000, NULL), ==, 1);
		CHECK_INT(f.type, ==, PROTO_PONG);
		close(ok);
	}
out:
	finish(&d);
}

/*
 * A request left half sent (first frame with fds and PROTO_F_MORE, then
 * nothing) is dropped after --request-timeout, and its fds closed.
 */
static void
test_request_timeout(void)
{
	static const char *const args[] = { "--request-timeout", "1000",
	    NULL };
	const char		*argv[] = { "/bin/true", NULL };
	struct st_frame		 f;
	struct tl_daemon	 d;
	uint64_t		 t0, dt;
	int			 s = -1, p[2][2], w[2], i, r;

	tl_log("== --request-timeout 1000");
	if (start(&d, args) != 0)
		return;
	for (i = 0; i < 2; i++) {
		CHECK(pipe2(p[i], O_CLOEXEC) == 0);
		w[i] = p[i][1];
	}
	if ((s = st_raw_connect(d.sock)) < 0 || st_hello(s, 1) != 0) {
		tl_fail(__FILE__, __LINE__, "raw connect");
		goto out;
	}
	t0 = tl_now_ms();
	CHECK_OK(st_send_half_spawn(s, 5, argv, w, 2));
	for (i = 0; i < 2; i++)
		close(p[i][1]);
	CHECK_OK(tl_spawn_true(&d));
	/* The daemon holds the fds until the deadline... */
	CHECK(!st_pipe_eof(p[0][0], 500));
	r = st_recv(s, &f, 5000, NULL);
	dt = tl_now_ms() - t0;
	CHECK_INT(r, ==, 1);
	CHECK_INT(f.type, ==, PROTO_ERROR);
	CHECK_INT(f.err, ==, ETIMEDOUT);
	CHECK_INT(f.id, ==, 5);
	CHECK_INT(st_recv(s, &f, 1000, NULL), ==, 0);
	tl_log("  dropped after %llu ms", (unsigned long long)dt);
	CHECK_INT(dt, >=, 950);
	CHECK_INT(dt, <=, 2000 + 300);
	/* ... and closes them with the request. */
	for (i = 0; i < 2; i++) {
		if (!st_pipe_eof(p[i][0], 1000))
			tl_fail(__FILE__, __LINE__, "passed fd %d still open "
			    "in the daemon", i);
		close(p[i][0]);
	}
out:
	if (s >= 0)
		close(s);
	finish(&d);
}

/* A connection watches a child once: repeats are refused, not stored. */
static void
test_watch_twice(void)
{
	const char		*argv[] = { "/bin/sleep", "30", NULL };
	uint8_t			 b[64];
	struct st_frame		 f;
	struct tl_daemon	 d;
	uint32_t		 pid, id;
	int			 s, exited = 0;

	tl_log("== WATCH of one child twice from one connection");
	if (start(&d, NULL) != 0)
		return;
	if ((s = st_raw_connect(d.sock)) < 0 || st_hello(s, 1) != 0) {
		tl_fail(__FILE__, __LINE__, "raw connect");
		goto out;
	}
	CHECK_OK(st_send_spawn(s, 1, argv, NULL, 0, 0));
	CHECK_INT(st_recv(s, &f, 5000, NULL), ==, 1);
	CHECK_INT(f.type, ==, PROTO_STARTED);
	pid = f.pid;
	for (id = 2; id <= 11; id++) {
		st_hdr(b, PROTO_WATCH, 0, 4, 0, id);
		st_le32(b + PROTO_HDR_SIZE, pid);
		CHECK_OK(st_send(s, b, PROTO_HDR_SIZE + 4, NULL, 0));
		CHECK_INT(st_recv(s, &f, 5000, NULL), ==, 1);
		CHECK_INT(f.id, ==, id);
		CHECK_INT(f.type, ==, id == 2 ? PROTO_OK : PROTO_FAILED);
		if (id > 2)
			CHECK_INT(f.err, ==, EALREADY);
	}
	st_hdr(b, PROTO_KILL, 0, 12, 0, 12);
	st_le32(b + PROTO_HDR_SIZE, 1);
	st_le32(b + PROTO_HDR_SIZE + 4, SIGKILL);
	st_le32(b + PROTO_HDR_SIZE + 8, 0);
	CHECK_OK(st_send(s, b, PROTO_HDR_SIZE + 12, NULL, 0));
	/* Exactly two exit records: the spawn's and the one watch's. */
	while (st_recv(s, &f, 1000, NULL) == 1)
		if (f.type == PROTO_EXITED) {
			CHECK(f.id == 1 || f.id == 2);
			exited++;
		}
	CHECK_INT(exited, ==, 2);
	close(s);
out:
	finish(&d);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	alarm(100);
	st_raise_nofile(4096);
	test_max_connections();
	test_max_connections_per_uid();
	test_max_children_per_connection();
	test_max_children();
	test_max_queue();
	test_list_queue();
	test_timeout_zero();
	test_max_request();
	test_max_fds();
	test_watch_twice();
	test_handshake_timeout();
	test_request_timeout();
	return tl_exit();
}
