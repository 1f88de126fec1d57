/*
 * test-lifetime: how long children live, and what their exit record says.
 *
 *  - A client killed with SIGKILL: its tied children get SIGTERM, then
 *    SIGKILL after their grace period (one ignores SIGTERM and dies about
 *    a grace later, one traps it and exits at once, one records it and
 *    carries on until the SIGKILL); a tied SPAWND_SETSID|KILL_GROUP child
 *    takes its grandchildren with it; a SPAWND_DETACH child survives, and
 *    when it exits later the daemon reaps it (no zombie).
 *  - Timeouts: SIGTERM at the timeout, SIGKILL a grace later; none for a
 *    child that exits first.
 *  - spawnd_child_kill(SPAWND_KILL_GROUP) reaches grandchildren; without a
 *    group it is refused; a plain kill spares them.
 *  - The exit record carries rusage, is filed while the client waits for
 *    something else or not at all, and is kept.
 *  - 50 children on one connection at once, each with its own handle.
 *
 * The client that gets killed is this program re-executed with --client
 * (it holds its own connection).  We are a child subreaper, so orphaned
 * grandchildren come to us and we can read how they died.
 */

#include <sys/prctl.h>
#include <sys/syscall.h>

#include "testlib.h"

#define GRACE_MS	1500
#define NMANY		50

static struct tl_daemon		 d;
static struct spawnd_client	*cl;
static char			 probe[PATH_MAX];
static char			 tmp[512];
static int			 devnull = -1;

static int	 client_main(int, char **);
static int	 pidfd_of(pid_t);
static int64_t	 wait_exit(int, int);
static int	 zombie_or_alive(pid_t);
static void	 check_reaped(pid_t, const char *);
static int	 reap_grandchild(pid_t, int);
static int	 marker_has(const char *, pid_t);
static struct spawnd_child *spawn_probe(struct spawnd_client *,
		    const char *const *, unsigned int, unsigned int,
		    unsigned int);
static struct spawnd_child *spawn_probe_in(struct spawnd_client *,
		    const char *const *, int, unsigned int, unsigned int,
		    unsigned int);
static void	 wait_reaped(pid_t);
static int	 read_grandchildren(int, pid_t *, int);

static int
pidfd_of(pid_t pid)
{
	return (int)syscall(SYS_pidfd_open, pid, 0);
}

/* Milliseconds until the pidfd polls readable (the process exited), -1. */
static int64_t
wait_exit(int pidfd, int timeout_ms)
{
	struct pollfd	pfd = { .fd = pidfd, .events = POLLIN };
	uint64_t	t0 = tl_now_ms();
	int		r;

	do
		r = poll(&pfd, 1, timeout_ms);
	while (r == -1 && errno == EINTR);
	return r == 1 ? (int64_t)(tl_now_ms() - t0) : -1;
}

/* 1 alive, 2 zombie, 0 gone. */
static int
zombie_or_alive(pid_t pid)
{
	char	path[64], buf[512], *p;
	int	fd;
	ssize_t	n;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL || p[1] == '\0')
		return 0;
	return p[2] == 'Z' ? 2 : 1;
}

/* CHECKs that the daemon reaped pid (gone, not a zombie) within 2 s. */
static void
check_reaped(pid_t pid, const char *what)
{
	uint64_t	end = tl_now_ms() + (uint64_t)tl_scale(2000);

	while (zombie_or_alive(pid) != 0 && tl_now_ms() < end)
		tl_sleep_ms(10);
	if (zombie_or_alive(pid) != 0)
		tl_fail(__FILE__, __LINE__, "%s (pid %d) not reaped: %s", what,
		    (int)pid, zombie_or_alive(pid) == 2 ? "zombie" : "alive");
}

/*
 * Waits (we are the subreaper) for a grandchild and returns its status,
 * -1 if it did not end within timeout_ms.
 */
static int
reap_grandchild(pid_t pid, int timeout_ms)
{
	uint64_t	end = tl_now_ms() + (uint64_t)timeout_ms;
	int		st;
	pid_t		r;

	for (;;) {
		r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return st;
		if (r == -1 || tl_now_ms() >= end)
			return -1;
		tl_sleep_ms(10);
	}
}

/* Whether the marker file has the line "TERM pid". */
static int
marker_has(const char *path, pid_t pid)
{
	char	buf[4096], want[32];
	int	fd;
	ssize_t	n;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	snprintf(want, sizeof want, "TERM %d\n", (int)pid);
	return strstr(buf, want) != NULL;
}

/*
 * Spawns the probe with args (after argv[0]), stdin /dev/null, stderr
 * ours; flags, grace and timeout (0: unset).  Its stdout is a pipe, read
 * to EOF before we return: the probe closes it only once its SIGTERM
 * disposition is in place, so a stop signal sent after this returns
 * never finds it still at the default (slow starts under ASan).
 */
static struct spawnd_child *
spawn_probe(struct spawnd_client *c, const char *const *args,
    unsigned int flags, unsigned int grace, unsigned int timeout)
{
	return spawn_probe_in(c, args, devnull, flags, grace, timeout);
}

/* As spawn_probe(), with infd as the probe's stdin. */
static struct spawnd_child *
spawn_probe_in(struct spawnd_client *c, const char *const *args, int infd,
    unsigned int flags, unsigned int grace, unsigned int timeout)
{
	const char		*argv[16] = { "probe" };
	struct spawnd_req	*req;
	struct spawnd_child	*ch = NULL;
	struct spawnd_failure	 f;
	char			 buf[65536];
	int			 i, r, p[2];

	for (i = 0; args[i] != NULL && i < 14; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	if (pipe2(p, O_CLOEXEC) == -1)
		return NULL;
	if (spawnd_req_new(&req) < 0) {
		close(p[0]);
		close(p[1]);
		return NULL;
	}
	(void)spawnd_req_set_argv(req, argv);
	(void)spawnd_req_set_path(req, probe);
	(void)spawnd_req_set_fd(req, infd, 0);
	(void)spawnd_req_set_fd(req, p[1], 1);
	(void)spawnd_req_set_fd(req, STDERR_FILENO, 2);
	(void)spawnd_req_set_flags(req, flags);
	if (grace != 0)
		(void)spawnd_req_set_grace(req, grace);
	if (timeout != 0)
		(void)spawnd_req_set_timeout(req, timeout);
	r = spawnd_spawn(c, req, &ch, &f);
	close(p[1]);
	if (r < 0)
		tl_fail(__FILE__, __LINE__, "spawn probe %s: %s at step %s",
		    args[0] ? args[0] : "", strerror(-r),
		    spawnd_step_name(f.step));
	else if (tl_read_all(p[0], buf, sizeof buf, tl_scale(10000)) < 0)
		tl_fail(__FILE__, __LINE__, "probe %s: no report: %s",
		    args[0] ? args[0] : "", strerror(errno));
	close(p[0]);
	spawnd_req_free(req);
	return r < 0 ? NULL : ch;
}

/* Reads "grandchild.I=pid" lines from the probe's report on fd. */
static int
read_grandchildren(int fd, pid_t *pids, int max)
{
	char		 buf[65536], key[32], *p;
	int		 i;

	/* A leading newline: every key is then found as "\nkey=". */
	buf[0] = '\n';
	if (tl_read_all(fd, buf + 1, sizeof buf - 1, tl_scale(5000)) < 0)
		return -1;
	for (i = 0; i < max; i++) {
		snprintf(key, sizeof key, "\ngrandchild.%d=", i);
		if ((p = strstr(buf, key)) == NULL)
			return -1;
		pids[i] = (pid_t)atoi(p + strlen(key));
	}
	return 0;
}

/*
 * --client SOCK PROBE DIR: the client that gets killed.  Spawns its
 * children, prints their pids on stdout, then waits to be killed.
 */
static int
client_main(int argc, char **argv)
{
	struct spawnd_client	*c;
	struct spawnd_child	*ch[5];
	char			 m1[PATH_MAX], m2[PATH_MAX], g[4096];
	char			 grace[16];
	int			 p[2], i;
	pid_t			 gp[2];

	if (argc != 5)
		return 2;
	snprintf(probe, sizeof probe, "%s", argv[3]);
	snprintf(m1, sizeof m1, "%s/trap-exit", argv[4]);
	snprintf(m2, sizeof m2, "%s/trap-stay", argv[4]);
	snprintf(grace, sizeof grace, "%d", GRACE_MS);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (spawnd_connect(argv[2], 5000, &c) < 0)
		return 3;
	{
		const char	*a0[] = { "-T", "-s", "60000", NULL };
		const char	*a1[] = { "-t", m1, "-s", "60000", NULL };
		const char	*a2[] = { "-w", m2, "-s", "60000", NULL };
		const char	*a3[] = { "-s", "60000", NULL };

		ch[0] = spawn_probe(c, a0, 0, GRACE_MS, 0);
		ch[1] = spawn_probe(c, a1, 0, GRACE_MS, 0);
		ch[2] = spawn_probe(c, a2, 0, GRACE_MS, 0);
		ch[3] = spawn_probe(c, a3, SPAWND_DETACH, 0, 0);
	}
	/* A group leader whose grandchildren report on a pipe. */
	{
		const char		*a4[] = { "probe", "-q", "-g", "2",
					    "-s", "60000", NULL };
		struct spawnd_req	*req;
		struct spawnd_failure	 f;

		if (pipe2(p, O_CLOEXEC) == -1 || spawnd_req_new(&req) < 0)
			return 4;
		(void)spawnd_req_set_argv(req, a4);
		(void)spawnd_req_set_path(req, probe);
		(void)spawnd_req_set_fd(req, p[1], 1);
		(void)spawnd_req_set_flags(req, SPAWND_SETSID |
		    SPAWND_KILL_GROUP);
		(void)spawnd_req_set_grace(req, GRACE_MS);
		ch[4] = NULL;
		(void)spawnd_spawn(c, req, &ch[4], &f);
		close(p[1]);
		spawnd_req_free(req);
		if (ch[4] == NULL || read_grandchildren(p[0], gp, 2) != 0)
			return 5;
	}
	for (i = 0; i < 5; i++)
		if (ch[i] == NULL)
			return 6;
	snprintf(g, sizeof g, "%d %d %d %d %d %d %d\n",
	    (int)spawnd_child_pid(ch[0]), (int)spawnd_child_pid(ch[1]),
	    (int)spawnd_child_pid(ch[2]), (int)spawnd_child_pid(ch[3]),
	    (int)spawnd_child_pid(ch[4]), (int)gp[0], (int)gp[1]);
	if (write(1, g, strlen(g)) != (ssize_t)strlen(g))
		return 7;
	for (;;)
		pause();
}

/* A client dies by SIGKILL: what happens to each of its children. */
static void
test_client_killed(void)
{
	char		 self[PATH_MAX], m1[PATH_MAX], m2[PATH_MAX];
	char		 buf[512];
	char		*cargv[6];
	pid_t		 cpid, pids[7];
	int		 p[2], pfd[7], st, i;
	int64_t		 t[7];
	uint64_t	 t0;
	ssize_t		 n;

	tl_log("== client killed");
	snprintf(m1, sizeof m1, "%s/trap-exit", tmp);
	snprintf(m2, sizeof m2, "%s/trap-stay", tmp);
	if ((n = readlink("/proc/self/exe", self, sizeof self - 1)) < 0) {
		tl_fail(__FILE__, __LINE__, "readlink: %s", strerror(errno));
		return;
	}
	self[n] = '\0';
	cargv[0] = self;
	cargv[1] = TL_UNCONST("--client");
	cargv[2] = d.sock;
	cargv[3] = probe;
	cargv[4] = tmp;
	cargv[5] = NULL;
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	if ((cpid = fork()) == 0) {
		(void)dup2(p[1], 1);
		execv(self, cargv);
		_exit(127);
	}
	close(p[1]);
	CHECK(cpid > 0);
	memset(buf, 0, sizeof buf);
	for (i = 0; i < (int)sizeof buf - 1; ) {
		n = read(p[0], buf + i, sizeof buf - 1 - (size_t)i);
		if (n <= 0)
			break;
		i += (int)n;
		if (strchr(buf, '\n') != NULL)
			break;
	}
	close(p[0]);
	if (sscanf(buf, "%d %d %d %d %d %d %d", &pids[0], &pids[1], &pids[2],
	    &pids[3], &pids[4], &pids[5], &pids[6]) != 7) {
		tl_fail(__FILE__, __LINE__, "client said \"%s\"", buf);
		(void)kill(cpid, SIGKILL);
		(void)waitpid(cpid, &st, 0);
		return;
	}
	for (i = 0; i < 7; i++) {
		pfd[i] = pidfd_of(pids[i]);
		CHECK(pfd[i] >= 0);
	}
	t0 = tl_now_ms();
	CHECK(kill(cpid, SIGKILL) == 0);
	CHECK(waitpid(cpid, &st, 0) == cpid);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

	/* Everything but the detached one ends within grace + 2 s. */
	for (i = 0; i < 7; i++)
		t[i] = -1;
	for (;;) {
		struct pollfd	pp[7];
		int		np = 0, idx[7];
		int64_t		left;

		left = (int64_t)tl_scale(GRACE_MS + 2000) -
		    (int64_t)(tl_now_ms() - t0);

		for (i = 0; i < 7; i++)
			if (i != 3 && t[i] < 0 && pfd[i] >= 0) {
				pp[np].fd = pfd[i];
				pp[np].events = POLLIN;
				idx[np++] = i;
			}
		if (np == 0 || left <= 0)
			break;
		if (poll(pp, (nfds_t)np, (int)left) <= 0)
			continue;
		for (i = 0; i < np; i++)
			if (pp[i].revents != 0)
				t[idx[i]] = (int64_t)(tl_now_ms() - t0);
	}
	tl_log("after the client's SIGKILL: ignores TERM %lld ms, traps TERM "
	    "%lld ms, records TERM %lld ms, group leader %lld ms, "
	    "grandchildren %lld/%lld ms (grace %d ms)", (long long)t[0],
	    (long long)t[1], (long long)t[2], (long long)t[4],
	    (long long)t[5], (long long)t[6], GRACE_MS);
	/* SIGTERM first, then SIGKILL a grace later. */
	CHECK(t[0] >= GRACE_MS - 100 && t[0] < tl_scale(GRACE_MS + 2000));
	CHECK(t[1] >= 0 && t[1] < tl_scale(GRACE_MS - 200));
	CHECK(marker_has(m1, pids[1]));
	CHECK(marker_has(m2, pids[2]));
	CHECK(t[2] >= GRACE_MS - 100 && t[2] < tl_scale(GRACE_MS + 2000));
	CHECK(t[4] >= 0 && t[4] < tl_scale(GRACE_MS - 200));
	CHECK(t[5] >= 0 && t[5] < tl_scale(GRACE_MS - 200));
	CHECK(t[6] >= 0 && t[6] < tl_scale(GRACE_MS - 200));
	for (i = 5; i < 7; i++) {
		st = reap_grandchild(pids[i], tl_scale(2000));
		if (st == -1 || !WIFSIGNALED(st) || WTERMSIG(st) != SIGTERM)
			tl_fail(__FILE__, __LINE__, "grandchild %d: status "
			    "0x%x, expected SIGTERM", (int)pids[i], st);
	}
	/* Reaped by the daemon, not left as zombies. */
	check_reaped(pids[0], "ignores TERM");
	check_reaped(pids[1], "traps TERM");
	check_reaped(pids[2], "records TERM");
	check_reaped(pids[4], "group leader");

	/* The detached child outlived all that, and is reaped when done. */
	CHECK_INT(zombie_or_alive(pids[3]), ==, 1);
	CHECK(kill(pids[3], SIGTERM) == 0);
	CHECK(wait_exit(pfd[3], tl_scale(5000)) >= 0);
	check_reaped(pids[3], "detached");
	for (i = 0; i < 7; i++)
		if (pfd[i] >= 0)
			close(pfd[i]);
}

/* Timeouts: SIGTERM, then SIGKILL a grace later. */
static void
test_timeout(void)
{
	const char		*plain[] = { "-s", "60000", NULL };
	const char		*deaf[] = { "-T", "-s", "60000", NULL };
	const char		*quick[] = { "-s", "100", "-x", "5", NULL };
	const char		*trap[] = { NULL, NULL, "-s", "60000", NULL };
	struct spawnd_child	*ch;
	struct spawnd_exit	 ex;
	char			 mark[PATH_MAX];
	uint64_t		 t0, dt;

	tl_log("== timeout");
	t0 = tl_now_ms();
	ch = spawn_probe(cl, plain, 0, 700, 300);
	CHECK(ch != NULL);
	if (ch != NULL) {
		CHECK_OK(spawnd_child_wait(ch, tl_scale(10000), &ex));
		dt = tl_now_ms() - t0;
		CHECK(WIFSIGNALED(ex.status) && WTERMSIG(ex.status) == SIGTERM);
		CHECK(dt >= 250 && dt < (uint64_t)tl_scale(1500));
		tl_log("timeout 300 ms: SIGTERM after %llu ms",
		    (unsigned long long)dt);
		spawnd_child_free(ch);
	}

	t0 = tl_now_ms();
	ch = spawn_probe(cl, deaf, 0, 700, 300);
	if (ch != NULL) {
		CHECK_OK(spawnd_child_wait(ch, tl_scale(10000), &ex));
		dt = tl_now_ms() - t0;
		CHECK(WIFSIGNALED(ex.status) && WTERMSIG(ex.status) == SIGKILL);
		CHECK(dt >= 950 && dt < (uint64_t)tl_scale(2500));
		tl_log("timeout 300 ms, grace 700 ms, TERM ignored: SIGKILL "
		    "after %llu ms", (unsigned long long)dt);
		spawnd_child_free(ch);
	}

	snprintf(mark, sizeof mark, "%s/timeout-trap", tmp);
	trap[0] = "-t";
	trap[1] = mark;
	ch = spawn_probe(cl, trap, 0, 700, 200);
	if (ch != NULL) {
		CHECK_OK(spawnd_child_wait(ch, tl_scale(10000), &ex));
		CHECK_INT(ex.status, ==, 0);
		CHECK(marker_has(mark, ex.pid));
		spawnd_child_free(ch);
	}

	/* Exits before its timeout: its own status, and nothing later. */
	ch = spawn_probe(cl, quick, 0, 100, 400);
	if (ch != NULL) {
		CHECK_OK(spawnd_child_wait(ch, tl_scale(10000), &ex));
		CHECK(WIFEXITED(ex.status) && WEXITSTATUS(ex.status) == 5);
		spawnd_child_free(ch);
	}
}

/* Kills of a process group reach the grandchildren. */
static void
test_group_kill(void)
{
	const char		*argv[] = { "probe", "-q", "-g", "3", "-s",
				    "60000", NULL };
	struct spawnd_req	*req;
	struct spawnd_child	*ch;
	struct spawnd_failure	 f;
	struct spawnd_exit	 ex;
	pid_t			 g[3];
	int			 p[2], i, k, st;
	static const struct {
		const char	*name;
		unsigned int	 flags;
		int		 pgroup0;
		int		 how;	/* 0 group kill, 1 timeout, 2 kill */
	} cases[] = {
		{ "setsid, kill group", SPAWND_SETSID, 0, 0 },
		{ "pgroup 0, kill group", 0, 1, 0 },
		{ "setsid, KILL_GROUP timeout", SPAWND_SETSID |
		    SPAWND_KILL_GROUP, 0, 1 },
		{ "setsid, plain kill", SPAWND_SETSID, 0, 2 },
	};

	tl_log("== group kill");
	for (k = 0; k < (int)(sizeof cases / sizeof cases[0]); k++) {
		CHECK(pipe2(p, O_CLOEXEC) == 0);
		CHECK_OK(spawnd_req_new(&req));
		CHECK_OK(spawnd_req_set_argv(req, argv));
		CHECK_OK(spawnd_req_set_path(req, probe));
		CHECK_OK(spawnd_req_set_fd(req, p[1], 1));
		CHECK_OK(spawnd_req_set_flags(req, cases[k].flags));
		if (cases[k].pgroup0)
			CHECK_OK(spawnd_req_set_pgroup(req, 0));
		if (cases[k].how == 1)
			CHECK_OK(spawnd_req_set_timeout(req, 200));
		ch = NULL;
		CHECK_OK(spawnd_spawn(cl, req, &ch, &f));
		close(p[1]);
		spawnd_req_free(req);
		if (ch == NULL || read_grandchildren(p[0], g, 3) != 0) {
			tl_fail(__FILE__, __LINE__, "%s: no grandchildren",
			    cases[k].name);
			close(p[0]);
			if (ch != NULL) {
				(void)spawnd_child_kill(ch, SIGKILL, 0);
				(void)spawnd_child_wait(ch, tl_scale(5000),
				    &ex);
			}
			spawnd_child_free(ch);
			continue;
		}
		close(p[0]);
		if (cases[k].how == 0)
			CHECK_OK(spawnd_child_kill(ch, SIGTERM,
			    SPAWND_KILL_GROUP));
		else if (cases[k].how == 2)
			CHECK_OK(spawnd_child_kill(ch, SIGTERM, 0));
		CHECK_OK(spawnd_child_wait(ch, tl_scale(5000), &ex));
		CHECK(WIFSIGNALED(ex.status) && WTERMSIG(ex.status) == SIGTERM);
		for (i = 0; i < 3; i++) {
			if (cases[k].how == 2) {
				/* Spared: still there; we end them. */
				CHECK_INT(zombie_or_alive(g[i]), ==, 1);
				(void)kill(g[i], SIGKILL);
			}
			st = reap_grandchild(g[i], tl_scale(3000));
			if (st == -1 || !WIFSIGNALED(st) ||
			    WTERMSIG(st) != (cases[k].how == 2 ? SIGKILL :
			    SIGTERM))
				tl_fail(__FILE__, __LINE__, "%s: grandchild "
				    "%d status 0x%x", cases[k].name, (int)g[i],
				    st);
		}
		spawnd_child_free(ch);
	}

	/* No group to signal: refused, by the library or the daemon. */
	{
		const char	*a[] = { "-s", "5000", NULL };

		ch = spawn_probe(cl, a, 0, 0, 0);
		if (ch != NULL) {
			CHECK_INT(spawnd_child_kill(ch, SIGTERM,
			    SPAWND_KILL_GROUP), ==, -EINVAL);
			CHECK_OK(spawnd_child_kill(ch, SIGKILL, 0));
			CHECK_OK(spawnd_child_wait(ch, tl_scale(5000), &ex));
			CHECK_INT(spawnd_child_kill(ch, SIGKILL, 0), ==,
			    -ESRCH);
			spawnd_child_free(ch);
		}
		CHECK_OK(spawnd_req_new(&req));
		CHECK_OK(spawnd_req_set_argv(req, argv));
		CHECK_OK(spawnd_req_set_path(req, probe));
		CHECK_OK(spawnd_req_set_flags(req, SPAWND_KILL_GROUP));
		ch = NULL;
		CHECK_INT(spawnd_spawn(cl, req, &ch, &f), ==, -EINVAL);
		CHECK_INT(f.step, ==, SPAWND_STEP_REQUEST);
		spawnd_child_free(ch);
		spawnd_req_free(req);
	}
}

/*
 * Waits until the daemon has reaped pid: signal 0 finds a zombie, but
 * not a reaped process.
 */
static void
wait_reaped(pid_t pid)
{
	uint64_t	end = tl_now_ms() + (uint64_t)tl_scale(30000);

	while (kill(pid, 0) == 0 || errno != ESRCH) {
		if (tl_now_ms() > end) {
			tl_fail(__FILE__, __LINE__, "pid %d not reaped",
			    (int)pid);
			return;
		}
		tl_sleep_ms(5);
	}
}

/* rusage, and records filed while nobody waits for them. */
static void
test_exit_record(void)
{
	const char		*busy[] = { "-q", "-b", "300", "-m", "50000",
				    NULL };
	const char		*now7[] = { "-q", "-x", "7", NULL };
	const char		*late3[] = { "-q", "-r", "-x", "3", NULL };
	const char		*seg[] = { "-q", "-k", "11", NULL };
	struct spawnd_child	*a, *b, *c;
	struct spawnd_exit	 ex, ex2;
	struct spawnd_status	 ps;
	int			 in[2] = { -1, -1 };

	tl_log("== exit record");
	a = spawn_probe(cl, busy, 0, 0, 0);
	if (a != NULL) {
		CHECK_OK(spawnd_child_wait(a, tl_scale(10000), &ex));
		tl_log("busy child: utime %llu us, stime %llu us, maxrss "
		    "%llu KiB", (unsigned long long)ex.utime_us,
		    (unsigned long long)ex.stime_us,
		    (unsigned long long)ex.maxrss_kib);
		CHECK_INT(ex.status, ==, 0);
		CHECK(ex.utime_us >= 100000);
		CHECK(ex.maxrss_kib >= 50000);
		CHECK_INT(ex.pid, ==, spawnd_child_pid(a));
		spawnd_child_free(a);
	}

	/*
	 * Exited while we did something else: filed by a ping.  Once the
	 * daemon has reaped it, its record is queued before the PONG.
	 */
	a = spawn_probe(cl, now7, 0, 0, 0);
	if (a != NULL)
		wait_reaped(spawnd_child_pid(a));
	CHECK_OK(spawnd_ping(cl, tl_scale(5000), &ps));
	if (a != NULL) {
		CHECK_OK(spawnd_child_wait(a, 0, &ex));
		CHECK(WIFEXITED(ex.status) && WEXITSTATUS(ex.status) == 7);
		CHECK(ex.maxrss_kib > 0);
		/* Kept: the same record again. */
		CHECK_OK(spawnd_child_wait(a, 0, &ex2));
		CHECK(memcmp(&ex, &ex2, sizeof ex) == 0);
		spawnd_child_free(a);
	}

	/*
	 * c ends first, while we wait for b: filed on the way.  b waits for
	 * EOF on its stdin, which we give once the daemon has reaped c (its
	 * record is then queued before b's).
	 */
	if (pipe2(in, O_CLOEXEC) == -1) {
		tl_fail(__FILE__, __LINE__, "pipe2: %s", strerror(errno));
		return;
	}
	b = spawn_probe_in(cl, late3, in[0], 0, 0, 0);
	(void)close(in[0]);
	c = spawn_probe(cl, seg, 0, 0, 0);
	if (b != NULL && c != NULL) {
		CHECK_INT(spawnd_child_wait(b, 0, &ex), ==, -ETIMEDOUT);
		wait_reaped(spawnd_child_pid(c));
		(void)close(in[1]);
		in[1] = -1;
		CHECK_OK(spawnd_child_wait(b, tl_scale(10000), &ex));
		CHECK(WIFEXITED(ex.status) && WEXITSTATUS(ex.status) == 3);
		CHECK_OK(spawnd_child_wait(c, 0, &ex));
		CHECK(WIFSIGNALED(ex.status) && WTERMSIG(ex.status) == SIGSEGV);
		/* Its pidfd polls readable too. */
		CHECK(wait_exit(spawnd_child_fd(c), 0) >= 0);
	}
	if (in[1] != -1)
		(void)close(in[1]);
	spawnd_child_free(b);
	spawnd_child_free(c);
}

/*
 * 50 children on one connection at once: they all wait for EOF on their
 * stdin, one pipe we close once the daemon counts them all.
 */
static void
test_many(void)
{
	struct spawnd_child	*ch[NMANY];
	struct spawnd_exit	 ex;
	struct spawnd_status	 ps;
	char			 code[NMANY][16];
	const char		*args[NMANY][5];
	int			 i, p[2], keep;
	uint64_t		 t0 = tl_now_ms();

	tl_log("== %d children at once", NMANY);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	keep = devnull;
	devnull = p[0];		/* spawn_probe()'s stdin */
	for (i = 0; i < NMANY; i++) {
		snprintf(code[i], sizeof code[i], "%d", i);
		args[i][0] = "-q";
		args[i][1] = "-r";
		args[i][2] = "-x";
		args[i][3] = code[i];
		args[i][4] = NULL;
		ch[i] = spawn_probe(cl, args[i], 0, 0, 0);
	}
	devnull = keep;
	close(p[0]);
	CHECK_OK(spawnd_ping(cl, tl_scale(5000), &ps));
	tl_log("%u children running after %llu ms", ps.children,
	    (unsigned long long)(tl_now_ms() - t0));
	CHECK_INT(ps.children, ==, NMANY);
	close(p[1]);
	for (i = NMANY - 1; i >= 0; i--) {
		if (ch[i] == NULL)
			continue;
		CHECK_OK(spawnd_child_wait(ch[i], tl_scale(10000), &ex));
		CHECK_INT(ex.pid, ==, spawnd_child_pid(ch[i]));
		CHECK(WIFEXITED(ex.status) && WEXITSTATUS(ex.status) == i);
		spawnd_child_free(ch[i]);
	}
	CHECK_OK(spawnd_ping(cl, tl_scale(5000), &ps));
	CHECK_INT(ps.children, ==, 0);
}

int
main(int argc, char *argv[])
{
	char		 buf[PATH_MAX + 64];
	int		 dfds;

	signal(SIGPIPE, SIG_IGN);
	if (argc > 1 && strcmp(argv[1], "--client") == 0)
		return client_main(argc, argv);
	if (tl_probe(probe) != 0)
		return TL_SKIP;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1) {
		fprintf(stderr, "PR_SET_CHILD_SUBREAPER: %s: skipping\n",
		    strerror(errno));
		return TL_SKIP;
	}
	if (tl_start(&d) != 0)
		goto out;
	if (realpath(d.dir, buf) == NULL || strlen(buf) >= sizeof tmp) {
		tl_fail(__FILE__, __LINE__, "realpath: %s", strerror(errno));
		goto out;
	}
	memcpy(tmp, buf, strlen(buf) + 1);
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if ((cl = tl_connect(&d)) == NULL)
		goto out;
	dfds = tl_idle_fds(&d);
	test_client_killed();
	test_timeout();
	test_group_kill();
	test_exit_record();
	test_many();
	TL_CHECK_FDS(&d, dfds);
out:
	spawnd_client_free(cl);
	tl_stop(&d);
	return tl_exit();
}
