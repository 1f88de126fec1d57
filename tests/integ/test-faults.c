/*
 * test-faults: the daemon short of fds, pids and memory degrades to
 * errors, never to a crash, a leak, a hang or a busy loop.
 *
 *   ctrunc	daemon at 0, 1 and 2 free fd slots (RLIMIT_NOFILE 32, table
 *		filled with idle connections): a request carrying one more
 *		fd than fits gets its fds truncated (MSG_CTRUNC): rejected,
 *		every passed fd closed, fd count unchanged but for the
 *		dropped connection; served again once slots free up.
 *   nofile	RLIMIT_NOFILE 64, flooded with connections: daemon CPU under
 *		5 % over 5 s while the flood holds, served within 2 s after.
 *   nproc	RLIMIT_NPROC (daemon as nobody) and, where one can be made,
 *		a pids cgroup: spawns fail with EAGAIN at step fork, the
 *		daemon lives, and serves again once a child is gone.
 *   alloc	failalloc.so in the daemon: the n-th allocation of a
 *		client's session (connect, spawns with fds, a split request,
 *		ping, a tied child left behind) fails, for every n: each
 *		session ends in success or a clean error, the daemon never
 *		dies or hangs, its fd count and heap come back.
 *
 * FAULTS=ctrunc,alloc runs some only.  Needs root for nproc and the
 * cgroup (skipped otherwise).  Run against the ASan build (make
 * check-asan, make stress) the shim sits in front of ASan's allocator, and
 * LeakSanitizer checks the daemon's heap at exit.  (valgrind cannot stand
 * in: 3.19 lacks pidfd_send_signal, so tied children are never stopped.)
 */

#include "testlib.h"
#include "../stress/stresslib.h"

static int
wanted(const char *name)
{
	const char	*f = getenv("FAULTS");

	return f == NULL || *f == '\0' || strstr(f, name) != NULL;
}

/* Raw connection that said HELLO, or -1. */
static int
idle_conn(const struct tl_daemon *d)
{
	int	s = st_raw_connect(d->sock);

	if (s >= 0 && st_hello(s, 1) != 0) {
		close(s);
		s = -1;
	}
	return s;
}

/* Free fd slots of the daemon: its limit less its open fds. */
static long
free_slots(const struct tl_daemon *d)
{
	return st_fd_limit(d->pid) - tl_fd_count(d->pid);
}

/*
 * One MSG_CTRUNC round.  A connection needs two free slots to be accepted
 * (its socket and, for the namespace check, the peer's pidfd), so idle
 * connections fill the table down to one free slot at best; the last slot
 * is taken by a holder connection's half-sent request with one fd.  Then
 * a connection accepted before sends a spawn with slots + 1 fds.
 */
static void
ctrunc_round(struct tl_daemon *d, int slots, int base)
{
	const char	*argv[] = { "/bin/true", NULL };
	const char	*hold_argv[] = { "/bin/true", "held", NULL };
	struct st_frame	 f;
	int		 idle[64], nidle = 0, c, h, p[4][2], w[4], hp[2], i, n;
	int		 before;
	long		 fr;

	tl_log("-- %d free slot(s), a request with %d fds", slots, slots + 1);
	if ((c = idle_conn(d)) < 0 || (h = idle_conn(d)) < 0) {
		tl_fail(__FILE__, __LINE__, "connect");
		return;
	}
	CHECK(pipe2(hp, O_CLOEXEC) == 0);
	for (i = 0; i <= slots; i++) {
		CHECK(pipe2(p[i], O_CLOEXEC) == 0);
		w[i] = p[i][1];
	}
	while ((fr = free_slots(d)) > (slots > 1 ? slots : 1) && nidle < 64) {
		if ((idle[nidle] = idle_conn(d)) < 0)
			break;
		nidle++;
	}
	if (slots == 0 && fr == 1) {
		CHECK_OK(st_send_half_spawn(h, 99, hold_argv, &hp[1], 1));
		(void)tl_settle_fds(d, tl_fd_count(d->pid) + 1, 1000);
		fr = free_slots(d);
	}
	CHECK_INT(fr, ==, slots);
	before = tl_fd_count(d->pid);
	CHECK_OK(st_send_spawn(c, 1, argv, w, (size_t)slots + 1, 0));
	for (i = 0; i <= slots; i++)
		close(p[i][1]);
	/* Rejected: ERROR EPROTO and the end, or the end at once. */
	n = st_recv(c, &f, 3000, NULL);
	if (n == 1) {
		if (f.type != PROTO_ERROR || f.err != EPROTO)
			tl_fail(__FILE__, __LINE__, "%d slots: got frame "
			    "type 0x%x errno %u, expected ERROR EPROTO", slots,
			    f.type, f.err);
		n = st_recv(c, &f, 3000, NULL);
	}
	CHECK_INT(n, ==, 0);
	close(c);
	for (i = 0; i <= slots; i++) {
		if (!st_pipe_eof(p[i][0], 2000))
			tl_fail(__FILE__, __LINE__, "%d slots: passed fd %d "
			    "left open in the daemon", slots, i);
		close(p[i][0]);
	}
	/* Nothing gained: only the dropped connection's socket is gone. */
	CHECK_INT(tl_settle_fds(d, before - 1, 2000), ==, before - 1);
	CHECK(st_alive(d));
	for (i = 0; i < nidle; i++)
		close(idle[i]);
	close(h);
	close(hp[1]);
	CHECK(st_pipe_eof(hp[0], 2000));
	close(hp[0]);
	/* Slots free again: served (the listener may sit out its 1 s pause). */
	CHECK_OK(tl_spawn_true(d));
	TL_CHECK_FDS(d, base);
}

/*
 * With one free slot a new client cannot be checked (its pidfd needs a
 * second slot).  It should wait in the backlog, or be told EAGAIN: it is
 * not in another namespace.
 */
static void
last_slot_client(struct tl_daemon *d, int base)
{
	int	 idle[64], nidle = 0, s, i;
	long	 fr;
	struct st_frame	 f;

	while ((fr = free_slots(d)) > 1 && nidle < 64) {
		if ((idle[nidle] = idle_conn(d)) < 0)
			break;
		nidle++;
	}
	if (fr == 1 && (s = st_raw_connect(d->sock)) >= 0) {
		i = st_recv(s, &f, 1500, NULL);
		ST_DEFECT(!(i == 1 && f.type == PROTO_ERROR &&
		    f.err == EACCES), "a client arriving at the daemon's last "
		    "free fd slot is refused with ERROR EACCES (\"another "
		    "namespace\"): listener_foreign() fails closed when it "
		    "cannot get the peer's pidfd (EMFILE)");
		close(s);
	}
	for (i = 0; i < nidle; i++)
		close(idle[i]);
	TL_CHECK_FDS(d, base);
}

static void
test_ctrunc(void)
{
	struct st_opts		 o = { .nofile = 32 };
	struct tl_daemon	 d;
	int			 base, slots;

	tl_log("== MSG_CTRUNC: RLIMIT_NOFILE 32");
	if (st_start(&d, &o) != 0)
		return;
	base = tl_idle_fds(&d);
	CHECK_INT(st_fd_limit(d.pid), ==, 32);
	tl_log("   idle fds %d, limit %ld", base, st_fd_limit(d.pid));
	for (slots = 0; slots <= 2; slots++)
		ctrunc_round(&d, slots, base);
	last_slot_client(&d, base);
	tl_stop(&d);
}

/*
 * The flood: a child process opening n connections and holding them until
 * ctl closes; it reports on rep how many it made, then how many the daemon
 * refused.  Every connection says HELLO, so the accepted ones stay.  The
 * first ones fill the daemon's table down to one free slot (waiting for
 * HELLO_OK), one of them takes the last slot with a half-sent request
 * holding an fd, and the rest wait in the listen backlog: accept() can
 * only fail with EMFILE now.
 */
static pid_t
flood_start(const struct tl_daemon *d, int n, int *ret_ctl, int *ret_rep)
{
	const char	*argv[] = { "/bin/true", NULL };
	int		 ctl[2], rep[2], hp[2], i, s, made = 0, held = 0;
	char		 c;
	pid_t		 pid;

	if (pipe2(ctl, O_CLOEXEC) == -1 || pipe2(rep, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == 0) {
		close(ctl[1]);
		close(rep[0]);
		for (i = 0; i < n; i++) {
			if ((s = st_raw_connect(d->sock)) < 0)
				break;
			made++;
			if (held) {
				(void)st_hello(s, 0);
				continue;
			}
			(void)st_hello(s, 1);
			if (free_slots(d) == 1 && pipe2(hp, O_CLOEXEC) == 0) {
				(void)st_send_half_spawn(s, 1, argv, &hp[1],
				    1);
				(void)tl_settle_fds(d, tl_fd_count(d->pid) + 1,
				    1000);
				held = 1;
			}
		}
		(void)!write(rep[1], &made, sizeof made);
		(void)!read(ctl[0], &c, 1);
		/*
		 * How many did the daemon refuse (ERROR, or the reset a close
		 * with our HELLO unread turns into)?  None should be: they
		 * wait for a free fd.
		 */
		made = 0;
		for (s = 3; s < 3 + n + 16; s++) {
			struct st_frame	 f;
			int		 r;

			if (fcntl(s, F_GETFD) == -1 || s == ctl[0] ||
			    s == rep[1])
				continue;
			r = st_recv(s, &f, 0, NULL);
			if (r == 0 || (r == 1 && f.type == PROTO_ERROR))
				made++;
		}
		(void)!write(rep[1], &made, sizeof made);
		_exit(0);
	}
	close(ctl[0]);
	close(rep[1]);
	*ret_ctl = ctl[1];
	*ret_rep = rep[0];
	return pid;
}

static void
test_nofile(void)
{
	static const char *const args[] = { "--request-timeout", "60000",
	    NULL };
	struct st_opts		 o = { .nofile = 64, .args = args };
	struct tl_daemon	 d;
	long long		 t0, t1;
	uint64_t		 w0, w1, s0;
	double			 pct;
	int			 base, ctl, rep, made = 0, status, r;
	long			 hz = sysconf(_SC_CLK_TCK);
	pid_t			 flood;

	tl_log("== fd exhaustion: RLIMIT_NOFILE 64, 300 connections");
	st_raise_nofile(1024);
	if (st_start(&d, &o) != 0)
		return;
	base = tl_idle_fds(&d);
	if ((flood = flood_start(&d, 300, &ctl, &rep)) < 0) {
		tl_fail(__FILE__, __LINE__, "fork");
		goto out;
	}
	CHECK(read(rep, &made, sizeof made) == sizeof made);
	CHECK_INT(made, ==, 300);
	tl_sleep_ms(300);
	CHECK_INT(tl_fd_count(d.pid), ==, 64);
	/* While the flood holds: the daemon sleeps. */
	t0 = st_cpu_ticks(d.pid);
	w0 = tl_now_ms();
	tl_sleep_ms(5000);
	t1 = st_cpu_ticks(d.pid);
	w1 = tl_now_ms();
	pct = 100.0 * (double)(t1 - t0) / (double)hz /
	    ((double)(w1 - w0) / 1000);
	tl_log("   daemon CPU over %.1f s of flood: %lld ticks = %.2f %%",
	    (double)(w1 - w0) / 1000, t1 - t0, pct);
	CHECK(t0 >= 0 && t1 >= 0);
	CHECK(pct < 5.0);
	CHECK(st_alive(&d));
	/* The flood ends: served again within 2 s. */
	close(ctl);
	CHECK(read(rep, &made, sizeof made) == sizeof made);
	close(rep);
	CHECK(waitpid(flood, &status, 0) == flood);
	ST_DEFECT(made == 0, "%d of the 300 flood connections were refused "
	    "(ERROR EACCES \"another namespace\", or reset) instead of "
	    "waiting for a free fd: listener_foreign() fails closed without "
	    "a slot for the peer's pidfd", made);
	s0 = tl_now_ms();
	while ((r = tl_spawn_true(&d)) != 0 && tl_now_ms() - s0 < 5000)
		tl_sleep_ms(10);
	CHECK_OK(r);
	tl_log("   served again %llu ms after the flood ended",
	    (unsigned long long)(tl_now_ms() - s0));
	CHECK_INT(tl_now_ms() - s0, <, 2000);
	TL_CHECK_FDS(&d, base);
out:
	tl_stop(&d);
}

/* Spawns /bin/sleep 30 through c: spawnd_spawn()'s result. */
static int
spawn_sleep(struct spawnd_client *c, struct spawnd_child **ret,
    struct spawnd_failure *f)
{
	const char		*argv[] = { "/bin/sleep", "30", NULL };
	struct spawnd_req	*req;
	int			 r;

	*ret = NULL;
	if ((r = spawnd_req_new(&req)) < 0)
		return r;
	if ((r = spawnd_req_set_argv(req, argv)) == 0)
		r = spawnd_spawn(c, req, ret, f);
	spawnd_req_free(req);
	return r;
}

/* Waits up to ms for the daemon to have no child process left. */
static void
wait_no_children(const struct tl_daemon *d, int ms)
{
	uint64_t	end = tl_now_ms() + (uint64_t)ms;

	while (st_children(d->pid, NULL, 0, NULL) > 0 && tl_now_ms() < end)
		tl_sleep_ms(20);
}

/*
 * Spawns sleepers until the pid limit bites (at most max): it must be
 * EAGAIN at step fork, after at least one success.  Then the daemon
 * answers, and once one sleeper is gone it spawns again.
 */
static void
pid_limit_round(struct tl_daemon *d, int max)
{
	struct spawnd_client	*c;
	struct spawnd_child	*ch[16] = { NULL };
	struct spawnd_failure	 f;
	struct spawnd_exit	 ex;
	struct spawnd_status	 st;
	int			 i, n = 0, r = 0;

	if ((c = tl_connect(d)) == NULL)
		return;
	for (i = 0; i < max && i < 16; i++) {
		if ((r = spawn_sleep(c, &ch[i], &f)) < 0)
			break;
		n++;
	}
	tl_log("   %d children started, then: %s at step %s", n,
	    r < 0 ? strerror(-r) : "no failure", spawnd_step_name(f.step));
	CHECK_INT(n, >=, 1);
	CHECK_INT(r, ==, -EAGAIN);
	CHECK_INT(f.step, ==, SPAWND_STEP_FORK);
	CHECK(st_alive(d));
	CHECK_OK(spawnd_ping(c, 5000, &st));
	CHECK_INT(st.children, ==, n);
	if (n > 0) {
		CHECK_OK(spawnd_child_kill(ch[0], SIGKILL, 0));
		CHECK_OK(spawnd_child_wait(ch[0], 5000, &ex));
		spawnd_child_free(ch[0]);
		ch[0] = NULL;
		CHECK_OK(spawn_sleep(c, &ch[0], &f));
	}
	for (i = 0; i < 16; i++) {
		if (ch[i] != NULL)
			(void)spawnd_child_kill(ch[i], SIGKILL, 0);
		spawnd_child_free(ch[i]);
	}
	spawnd_client_free(c);
	/* Reaped: the pids are free again. */
	wait_no_children(d, 5000);
}

/* Tasks whose real uid is uid, all processes together. */
static int
tasks_of(uid_t uid)
{
	DIR		*dir;
	struct dirent	*de;
	char		 buf[4096], *p;
	int		 n = 0;

	if ((dir = opendir("/proc")) == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		if (st_proc_read(atoi(de->d_name), "status", buf,
		    sizeof buf) < 0 || (p = strstr(buf, "\nUid:")) == NULL ||
		    (uid_t)strtoul(p + 5, NULL, 10) != uid ||
		    (p = strstr(buf, "\nThreads:")) == NULL)
			continue;
		n += atoi(p + 9);
	}
	closedir(dir);
	return n;
}

static void
test_nproc_rlimit(void)
{
	static const char *const args[] = { "--allow-foreign-namespaces",
	    NULL };
	struct st_opts		 o = { .args = args, .uid = 65534,
				    .gid = 65534 };
	struct tl_daemon	 d;
	int			 others, base, r, i;

	tl_log("== pid exhaustion: RLIMIT_NPROC, daemon as uid 65534");
	if (geteuid() != 0) {
		tl_log("   (not root: skipped)");
		return;
	}
	others = tasks_of(65534);
	/* The daemon, its 3 children; no 4th. */
	o.nproc = (rlim_t)others + 1 + 3;
	if (st_start(&d, &o) != 0)
		return;
	base = tl_idle_fds(&d);
	/* A root client trusts only root's daemon: talk to it as 65534. */
	st_euid(65534);
	pid_limit_round(&d, 10);
	CHECK_OK(tl_spawn_true(&d));
	TL_CHECK_FDS(&d, base);
	st_euid(0);
	tl_stop(&d);

	/*
	 * The daemon serves its own uid and root, but a root client sends
	 * nothing to a daemon not run by root (issue 12): EPERM.
	 */
	tl_log("== a root client of a daemon run as nobody (default flags)");
	o.args = NULL;
	o.nproc = 0;
	o.no_ping = 1;
	if (st_start(&d, &o) == 0) {
		for (r = -ENOENT, i = 0; i < 100 && r != -EPERM; i++) {
			r = tl_ping(d.sock, 2000);
			if (r != -EPERM)
				tl_sleep_ms(20);
		}
		CHECK_INT(r, ==, -EPERM);
		tl_stop(&d);
	}
}

/* A writable pids controller: v2 (with pids enabled) or v1. */
static int
pids_cgroup(char *buf, size_t len)
{
	char	 ctl[4096];
	ssize_t	 n;
	int	 fd;

	snprintf(buf, len, "/sys/fs/cgroup/spawnd-test.%d", (int)getpid());
	if ((fd = open("/sys/fs/cgroup/cgroup.subtree_control", O_RDONLY)) !=
	    -1) {
		n = read(fd, ctl, sizeof ctl - 1);
		close(fd);
		ctl[n > 0 ? n : 0] = '\0';
		if (strstr(ctl, "pids") != NULL && mkdir(buf, 0755) == 0)
			return 0;
	}
	snprintf(buf, len, "/sys/fs/cgroup/pids/spawnd-test.%d", (int)getpid());
	if (mkdir(buf, 0755) == 0)
		return 0;
	return -1;
}

static int
write_file(const char *dir, const char *name, const char *val)
{
	char	path[PATH_MAX];
	int	fd, r;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1)
		return -1;
	r = write(fd, val, strlen(val)) == (ssize_t)strlen(val) ? 0 : -1;
	close(fd);
	return r;
}

static void
test_nproc_cgroup(void)
{
	struct st_opts		 o = { 0 };
	struct tl_daemon	 d;
	char			 cg[PATH_MAX], v[32];
	uint64_t		 t0;
	int			 base;

	tl_log("== pid exhaustion: pids cgroup, pids.max 4");
	if (pids_cgroup(cg, sizeof cg) != 0) {
		tl_log("   (no writable pids cgroup: skipped)");
		return;
	}
	if (st_start(&d, &o) != 0)
		goto out;
	base = tl_idle_fds(&d);
	snprintf(v, sizeof v, "%d", (int)d.pid);
	if (write_file(cg, "pids.max", "4") != 0 ||
	    write_file(cg, "cgroup.procs", v) != 0) {
		tl_fail(__FILE__, __LINE__, "cgroup set-up: %s",
		    strerror(errno));
		tl_stop(&d);
		goto out;
	}
	pid_limit_round(&d, 10);
	CHECK_OK(tl_spawn_true(&d));
	TL_CHECK_FDS(&d, base);
	tl_stop(&d);
out:
	/* Empty once the stopped children are gone. */
	t0 = tl_now_ms();
	while (rmdir(cg) == -1 && errno == EBUSY && tl_now_ms() - t0 < 5000)
		tl_sleep_ms(50);
}

/*
 * Reads frames until the answer to id (not a LIST_ENTRY): its type, 0 at
 * the end of the stream, -1 after 5 s without it.
 */
static int
raw_answer(int s, uint32_t id)
{
	struct st_frame	 f;
	int		 r;

	for (;;) {
		if ((r = st_recv(s, &f, 5000, NULL)) < 0)
			return -1;
		if (r == 0)
			return 0;
		if (f.type == PROTO_ERROR)
			return PROTO_ERROR;
		if (f.id == id && f.type != PROTO_LIST_ENTRY)
			return f.type;
	}
}

/*
 * The messages the library does not send: a raw session spawns a sleeper,
 * lists, watches it by pid, kills it.  0 all answered, 1 a clean refusal
 * or close, 3 an answer missing (a hang).
 */
static int
raw_session(const char *sock)
{
	const char	*argv[] = { "/bin/sleep", "30", NULL };
	uint8_t		 b[64];
	struct st_frame	 f;
	uint32_t	 pid = 0;
	int		 s, t, r = 1;

	if ((s = st_raw_connect(sock)) < 0)
		return 1;
	if (st_hello(s, 1) != 0 || st_send_spawn(s, 1, argv, NULL, 0, 0) != 0)
		goto out;
	if ((t = st_recv(s, &f, 5000, NULL)) < 0) {
		r = 3;
		goto out;
	}
	if (t == 0 || f.type != PROTO_STARTED)
		goto out;
	pid = f.pid;
	st_hdr(b, PROTO_LIST, 0, 0, 0, 2);
	if (st_send(s, b, PROTO_HDR_SIZE, NULL, 0) != 0)
		goto out;
	if ((t = raw_answer(s, 2)) != PROTO_OK) {
		r = t < 0 ? 3 : 1;
		goto out;
	}
	st_hdr(b, PROTO_WATCH, 0, 4, 0, 3);
	st_le32(b + PROTO_HDR_SIZE, pid);
	if (st_send(s, b, PROTO_HDR_SIZE + 4, NULL, 0) != 0)
		goto out;
	if ((t = raw_answer(s, 3)) != PROTO_OK) {
		r = t < 0 ? 3 : 1;
		goto out;
	}
	st_hdr(b, PROTO_KILL, 0, 12, 0, 4);
	st_le32(b + PROTO_HDR_SIZE, 1);
	st_le32(b + PROTO_HDR_SIZE + 4, SIGTERM);
	st_le32(b + PROTO_HDR_SIZE + 8, 0);
	if (st_send(s, b, PROTO_HDR_SIZE + 12, NULL, 0) != 0)
		goto out;
	if ((t = raw_answer(s, 4)) != PROTO_OK) {
		r = t < 0 ? 3 : 1;
		goto out;
	}
	/* Its exit, to the spawning request and to the watch. */
	if ((t = raw_answer(s, 1)) != PROTO_EXITED ||
	    (t = raw_answer(s, 3)) != PROTO_EXITED) {
		r = t < 0 ? 3 : 1;
		goto out;
	}
	r = 0;
out:
	close(s);
	return r;
}

/*
 * One client session through the library, the path whose allocations
 * are failed one by one.  Returns 0 when everything succeeded, 1 when
 * something failed cleanly (a negative errno from the library).
 */
static int
alloc_session(const char *sock)
{
	static char		 big[100 * 1024];
	const char		*argv_true[] = { "/bin/true", NULL };
	const char		*argv_big[] = { "/bin/true", big, NULL };
	const char		*argv_sleep[] = { "/bin/sleep", "30", NULL };
	const char		*const *argvs[] = { argv_true, argv_big,
				    argv_sleep };
	struct spawnd_client	*c;
	struct spawnd_req	*req = NULL;
	struct spawnd_child	*ch = NULL;
	struct spawnd_failure	 f;
	struct spawnd_exit	 ex;
	struct spawnd_status	 st;
	int			 p[2], r, i, bad = 0;

	memset(big, 'b', sizeof big - 1);
	if (pipe2(p, O_CLOEXEC) == -1)
		return 2;
	if (spawnd_connect(sock, 5000, &c) != 0)
		return 1;
	for (i = 0; i < 3; i++) {
		if (spawnd_req_new(&req) != 0)
			return 2;
		(void)spawnd_req_set_argv(req, argvs[i]);
		(void)spawnd_req_set_fd(req, p[1], 1);
		r = spawnd_spawn(c, req, &ch, &f);
		spawnd_req_free(req);
		if (r < 0) {
			bad = 1;
			if (r == -ECONNRESET || r == -EPIPE || r == -ENOTCONN ||
			    r == -EPROTO)
				break;
			continue;
		}
		if (i < 2 && (spawnd_child_wait(ch, 5000, &ex) != 0 ||
		    !WIFEXITED(ex.status)))
			bad = 1;
		/* The sleeper stays: the daemon stops it when we go. */
		spawnd_child_free(ch);
	}
	if (spawnd_ping(c, 5000, &st) != 0)
		bad = 1;
	spawnd_client_free(c);
	r = raw_session(sock);
	return r > bad ? r : bad;
}

/*
 * Runs one session in a child process with a 20 s alarm: returns its
 * result, 3 for a hang (killed by the alarm), 4 for any other death.
 */
static int
alloc_run(const char *sock)
{
	int	status;
	pid_t	pid;

	if ((pid = fork()) == 0) {
		alarm(20);
		_exit(alloc_session(sock));
	}
	if (pid == -1 || waitpid(pid, &status, 0) != pid)
		return 4;
	if (WIFSIGNALED(status))
		return WTERMSIG(status) == SIGALRM ? 3 : 4;
	return WEXITSTATUS(status);
}

/* The daemon is back at rest: no children, its idle fds. */
static int
alloc_settled(struct tl_daemon *d, int base)
{
	uint64_t	end = tl_now_ms() + (uint64_t)tl_scale(10000);
	int		n, z;

	do {
		n = st_children(d->pid, NULL, 0, &z);
		if (n == 0 && tl_fd_count(d->pid) == base)
			return 1;
		tl_sleep_ms(20);
	} while (tl_now_ms() < end);
	return 0;
}

static void
test_alloc(void)
{
	static char		 env[2][PATH_MAX + 64];
	const char		*envp[3] = { env[0], env[1], NULL };
	struct st_opts		 o = { .env = envp };
	struct st_failalloc	*fa;
	struct tl_daemon	 d;
	char			 shim[PATH_MAX], ctlpath[PATH_MAX];
	const char		*asan = getenv("ASAN_OPTIONS");
	uint64_t		 c0, per, n, t0;
	int64_t			 live0 = 0, live1;
	int			 base, r, counts[5] = { 0 }, bad = 0, warm;

	tl_log("== allocation failure: failalloc.so in the daemon");
	st_helper("failalloc.so", shim, sizeof shim);
	if (access(shim, R_OK) != 0) {
		tl_log("   (no %s: skipped)", shim);
		return;
	}
	snprintf(ctlpath, sizeof ctlpath, "%s/spawnd-failalloc.%d",
	    getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
	if ((fa = st_failalloc_map(ctlpath)) == NULL) {
		tl_fail(__FILE__, __LINE__, "control file: %s",
		    strerror(errno));
		return;
	}
	snprintf(env[0], sizeof env[0], "FAILALLOC_CTL=%s", ctlpath);
	/* Under ASan the shim goes in front of libasan (see failalloc.c). */
	snprintf(env[1], sizeof env[1], "ASAN_OPTIONS=%s%sverify_asan_link_"
	    "order=0", asan ? asan : "", asan ? ":" : "");
	o.preload = shim;
	if (st_start(&d, &o) != 0)
		goto out;
	if (atomic_load(&fa->magic) != ST_FAILALLOC_MAGIC) {
		tl_fail(__FILE__, __LINE__, "the shim is not in the daemon");
		tl_stop(&d);
		goto out;
	}
	base = tl_idle_fds(&d);
	/* Warm up (libevent's tables reach their size), then count. */
	for (warm = 0; warm < 3; warm++)
		CHECK_INT(alloc_run(d.sock), ==, 0);
	CHECK(alloc_settled(&d, base));
	live0 = atomic_load(&fa->live);
	c0 = atomic_load(&fa->count);
	CHECK_INT(alloc_run(d.sock), ==, 0);
	CHECK(alloc_settled(&d, base));
	per = atomic_load(&fa->count) - c0;
	tl_log("   %llu allocations in the daemon for one session, %lld "
	    "bytes in use at rest", (unsigned long long)per,
	    (long long)live0);
	CHECK_INT(per, >, 10);
	t0 = tl_now_ms();
	for (n = 1; n <= per + 2; n++) {
		atomic_store(&fa->fail_at, atomic_load(&fa->count) + n);
		r = alloc_run(d.sock);
		atomic_store(&fa->fail_at, 0);
		counts[r > 4 ? 4 : r]++;
		if (r >= 2) {
			tl_fail(__FILE__, __LINE__, "allocation %llu failed: "
			    "session %s", (unsigned long long)n,
			    r == 3 ? "hung (no answer in 20 s)" :
			    "broke");
			bad++;
		}
		if (!st_alive(&d)) {
			tl_fail(__FILE__, __LINE__, "allocation %llu failed: "
			    "the daemon died", (unsigned long long)n);
			break;
		}
		if (!alloc_settled(&d, base)) {
			tl_fail(__FILE__, __LINE__, "allocation %llu failed: "
			    "fds %d (idle %d), %d children left", (unsigned
			    long long)n, tl_fd_count(d.pid), base,
			    st_children(d.pid, NULL, 0, NULL));
			tl_fd_dump(d.pid);
			bad++;
		}
		if (bad > 5)
			break;
	}
	tl_log("   %llu runs in %.1f s: %d succeeded, %d failed cleanly, %d "
	    "broke, %d hung; %llu allocations failed", (unsigned long long)
	    (n - 1), (double)(tl_now_ms() - t0) / 1000, counts[0], counts[1],
	    counts[2] + counts[4], counts[3],
	    (unsigned long long)atomic_load(&fa->failed));
	/* Served again, and the heap back to where it was at rest. */
	if (st_alive(&d)) {
		CHECK_INT(alloc_run(d.sock), ==, 0);
		CHECK(alloc_settled(&d, base));
		live1 = atomic_load(&fa->live);
		tl_log("   heap in use at rest: %lld bytes before, %lld after "
		    "(%+lld)", (long long)live0, (long long)live1,
		    (long long)(live1 - live0));
		CHECK_INT(live1 - live0, <=, 1024);
	}
	tl_stop(&d);
out:
	(void)unlink(ctlpath);
	(void)munmap(fa, 4096);
}

int
main(void)
{
	signal(SIGPIPE, SIG_IGN);
	alarm(110);
	if (wanted("ctrunc"))
		test_ctrunc();
	if (wanted("nofile"))
		test_nofile();
	if (wanted("nproc")) {
		test_nproc_rlimit();
		test_nproc_cgroup();
	}
	if (wanted("alloc"))
		test_alloc();
	return tl_exit();
}
