/*
 * test-spawn: what a spawn request asks for is what the child gets.
 *
 * argv, envp, cwd (path and fd), the fd map (exact fd table, overlapping
 * maps), exit statuses, death by signal, exec errors with their step, a
 * 1 MiB argv, and a clean signal state and environment even when the
 * daemon itself has odd ones.  A child stuck before its exec (opening a
 * FIFO) holds up only its own connection.
 */

#include <sys/stat.h>

#include <pthread.h>

#include "testlib.h"

#define ENV_PATH	"PATH=/usr/bin:/bin"
#define OUT_MAX		(2u << 20)

static struct tl_daemon	 d;
static int		 devnull = -1;
static char		 realdir[1024];

static void	test_argv(struct spawnd_client *);
static void	test_env(struct spawnd_client *);
static void	test_cwd(struct spawnd_client *);
static void	test_stdio(struct spawnd_client *);
static void	test_exit_codes(struct spawnd_client *);
static void	test_signal(struct spawnd_client *);
static void	test_exec_errors(struct spawnd_client *);
static void	test_fd_table(struct spawnd_client *);
static void	test_fd_overlap(struct spawnd_client *);
static void	test_big_argv(struct spawnd_client *);
static void	test_pidfd(struct spawnd_client *);
static void	test_daemon_env(void);
static void	test_stuck_launch(void);
static void	test_stuck_quit(void);
static void	test_stuck_hangup(void);
static void	test_own_fds(struct spawnd_client *);

/*
 * Spawns req with child fd 0 = /dev/null, 1 = a pipe we read into out,
 * 2 = our stderr, then waits.  Returns spawnd_spawn()'s result; on
 * success *ret_status is the wait status.
 */
static int
run(struct spawnd_client *c, struct spawnd_req *req, char *out,
    size_t outlen, int *ret_status, struct spawnd_failure *ret_f)
{
	struct spawnd_child	*ch = NULL;
	struct spawnd_exit	 ex;
	struct spawnd_failure	 f;
	int			 p[2], r;

	out[0] = '\0';
	*ret_status = -1;
	memset(&f, 0, sizeof f);
	if (pipe2(p, O_CLOEXEC) == -1) {
		tl_fail(__FILE__, __LINE__, "pipe2: %s", strerror(errno));
		return -errno;
	}
	CHECK_OK(spawnd_req_set_fd(req, devnull, 0));
	CHECK_OK(spawnd_req_set_fd(req, p[1], 1));
	CHECK_OK(spawnd_req_set_fd(req, STDERR_FILENO, 2));
	r = spawnd_spawn(c, req, &ch, &f);
	close(p[1]);
	if (ret_f != NULL)
		*ret_f = f;
	if (r < 0) {
		close(p[0]);
		return r;
	}
	if (tl_read_all(p[0], out, outlen, tl_scale(20000)) < 0)
		tl_fail(__FILE__, __LINE__, "reading child output: %s",
		    strerror(errno));
	close(p[0]);
	r = spawnd_child_wait(ch, tl_scale(20000), &ex);
	CHECK_OK(r);
	if (r == 0) {
		CHECK_INT(ex.pid, ==, spawnd_child_pid(ch));
		*ret_status = ex.status;
	}
	spawnd_child_free(ch);
	return 0;
}

/*
 * Pings through c until the daemon counts this many children (and, unless
 * -1, connections), for up to 5 s.  Returns the last ping's result.
 */
static int
await_counts(struct spawnd_client *c, unsigned int children, int conns,
    struct spawnd_status *ss)
{
	uint64_t	 end = tl_now_ms() + (uint64_t)tl_scale(5000);
	int		 r;

	while ((r = spawnd_ping(c, tl_scale(5000), ss)) == 0 &&
	    (ss->children != children ||
	    (conns != -1 && ss->connections != (unsigned int)conns)) &&
	    tl_now_ms() < end)
		tl_sleep_ms(10);
	return r;
}

/* A spawn whose child opens a FIFO: it cannot exec before a writer comes. */
struct stuck {
	const struct tl_daemon	*d;
	const char		*fifo;
	unsigned int		 flags;		/* SPAWND_* */
	int			 quit;		/* the daemon is stopped */
	int			 r;		/* run()'s, or spawnd_spawn()'s */
	int			 wait_r;	/* with quit: the wait's */
	int			 status;
};

static void *
stuck_spawn(void *arg)
{
	struct stuck		*st = arg;
	struct spawnd_client	*c;
	struct spawnd_req	*req;
	const char		*argv[] = { "/bin/true", NULL };
	char			 out[16];

	st->r = -1;
	if ((c = tl_connect(st->d)) == NULL)
		return NULL;
	CHECK_OK(spawnd_req_new(&req));
	CHECK_OK(spawnd_req_set_argv(req, argv));
	CHECK_OK(spawnd_req_set_flags(req, st->flags));
	CHECK_OK(spawnd_req_add_open(req, 5, st->fifo, O_RDONLY, 0));
	if (st->quit) {
		struct spawnd_child	*ch = NULL;
		struct spawnd_exit	 ex;

		/* The outcome, whatever it is, is checked by the caller. */
		st->wait_r = -1;
		if ((st->r = spawnd_spawn(c, req, &ch, NULL)) == 0 &&
		    (st->wait_r = spawnd_child_wait(ch, tl_scale(20000),
		    &ex)) == 0)
			st->status = ex.status;
		spawnd_child_free(ch);
	} else
		st->r = run(c, req, out, sizeof out, &st->status, NULL);
	spawnd_req_free(req);
	spawnd_client_free(c);
	return NULL;
}

/*
 * While one child waits in open() for a FIFO's writer, another client is
 * served: it pings (the daemon counts the stuck child) and spawns.  A
 * daemon that waited for each exec would answer neither.  Then the writer
 * comes, and the stuck child execs.
 */
static void
test_stuck_launch(void)
{
	struct spawnd_client	*c;
	struct spawnd_status	 ss;
	struct stuck		 st = { 0 };
	pthread_t		 t;
	char			 fifo[1100], out[16];
	const char		*argv[] = { "/bin/true", NULL };
	struct spawnd_req	*req;
	uint64_t		 end;
	int			 wfd = -1, status = -1, r;

	tl_log("== a child stuck before exec holds up no other client");
	snprintf(fifo, sizeof fifo, "%s/fifo", d.dir);
	if (mkfifo(fifo, 0600) == -1 || (c = tl_connect(&d)) == NULL) {
		tl_fail(__FILE__, __LINE__, "mkfifo: %s", strerror(errno));
		return;
	}
	st.d = &d;
	st.fifo = fifo;
	if (pthread_create(&t, NULL, stuck_spawn, &st) != 0) {
		tl_fail(__FILE__, __LINE__, "pthread_create");
		spawnd_client_free(c);
		return;
	}
	r = await_counts(c, 1, -1, &ss);
	CHECK_OK(r);
	CHECK_INT(ss.children, ==, 1);
	CHECK_OK(spawnd_req_new(&req));
	CHECK_OK(spawnd_req_set_argv(req, argv));
	if (r == 0)
		CHECK_OK(run(c, req, out, sizeof out, &status, NULL));
	CHECK_INT(status, ==, 0);
	spawnd_req_free(req);
	/* The writer; the reader may not be in open() yet if all failed. */
	end = tl_now_ms() + (uint64_t)tl_scale(5000);
	while ((wfd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) == -1 &&
	    errno == ENXIO && tl_now_ms() < end)
		tl_sleep_ms(10);
	pthread_join(t, NULL);
	if (wfd != -1)
		close(wfd);
	CHECK_INT(st.r, ==, 0);
	CHECK_INT(st.status, ==, 0);
	spawnd_client_free(c);
	unlink(fifo);
}

/*
 * A client dies while its child is stuck before exec: the daemon sees the
 * hang-up although it reads nothing from that connection meanwhile, and
 * stops the tied child (SIGKILL after a 100 ms grace: its signals are
 * blocked until just before the exec).
 */
static void
test_stuck_hangup(void)
{
	struct spawnd_client	*c;
	struct spawnd_status	 ss = { 0 };
	struct spawnd_req	*req;
	const char		*argv[] = { "/bin/true", NULL };
	char			 fifo[1100];
	pid_t			 pid;
	int			 wfd;

	tl_log("== a client dies while its child is stuck before exec");
	snprintf(fifo, sizeof fifo, "%s/fifo-hangup", d.dir);
	if (mkfifo(fifo, 0600) == -1 || (c = tl_connect(&d)) == NULL) {
		tl_fail(__FILE__, __LINE__, "mkfifo: %s", strerror(errno));
		return;
	}
	if ((pid = fork()) == 0) {
		struct spawnd_client	*c2;
		struct spawnd_child	*ch;

		if (spawnd_connect(d.sock, 5000, &c2) < 0 ||
		    spawnd_req_new(&req) < 0 ||
		    spawnd_req_set_argv(req, argv) < 0 ||
		    spawnd_req_set_grace(req, 100) < 0 ||
		    spawnd_req_add_open(req, 5, fifo, O_RDONLY, 0) < 0)
			_exit(1);
		(void)spawnd_spawn(c2, req, &ch, NULL);
		_exit(0);
	}
	CHECK_OK(await_counts(c, 1, 2, &ss));
	CHECK_INT(ss.children, ==, 1);
	CHECK_INT(ss.connections, ==, 2);
	if (pid > 0) {
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
	}
	CHECK_OK(await_counts(c, 0, 1, &ss));
	CHECK_INT(ss.connections, ==, 1);
	CHECK_INT(ss.children, ==, 0);
	wfd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	CHECK(wfd == -1 && errno == ENXIO);
	if (wfd != -1)
		close(wfd);
	spawnd_client_free(c);
	unlink(fifo);
}

/*
 * SIGTERM while a detached child is stuck before its exec: the daemon
 * kills it and exits (it must not wait for the FIFO's writer, nor free
 * what the child still runs on).  Its client learns that it never ran:
 * the spawn fails (STARTED after the exec: it was reported to no one; or
 * the daemon's hang-up seen first), or, STARTED before the exec, the
 * child started and was killed (its EXITED), or the daemon went before
 * it could say how it ended.  Never a child that ran and exited.
 */
static void
test_stuck_quit(void)
{
	struct tl_daemon	 d2;
	struct spawnd_client	*c;
	struct spawnd_status	 ss = { 0 };
	struct stuck		 st = { 0 };
	pthread_t		 t;
	char			 fifo[1100];
	int			 wfd;

	tl_log("== SIGTERM while a detached child is stuck before exec");
	if (tl_start(&d2) != 0)
		return;
	snprintf(fifo, sizeof fifo, "%s/fifo-quit", d.dir);
	if (mkfifo(fifo, 0600) == -1 || (c = tl_connect(&d2)) == NULL) {
		tl_fail(__FILE__, __LINE__, "mkfifo: %s", strerror(errno));
		tl_stop(&d2);
		return;
	}
	st.d = &d2;
	st.fifo = fifo;
	st.flags = SPAWND_DETACH;
	st.quit = 1;
	if (pthread_create(&t, NULL, stuck_spawn, &st) != 0) {
		tl_fail(__FILE__, __LINE__, "pthread_create");
		spawnd_client_free(c);
		tl_stop(&d2);
		return;
	}
	CHECK_OK(await_counts(c, 1, -1, &ss));
	CHECK_INT(ss.children, ==, 1);
	spawnd_client_free(c);
	/* Fails the test if the daemon is still there after 10 s. */
	tl_stop(&d2);
	pthread_join(t, NULL);
	tl_log("spawn %d, wait %d, status 0x%x", st.r, st.wait_r, st.status);
	CHECK(st.r < 0 || st.wait_r < 0 ||
	    (WIFSIGNALED(st.status) && WTERMSIG(st.status) == SIGKILL));
	/* No reader is left on the FIFO: the stuck child is gone. */
	wfd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	CHECK(wfd == -1 && errno == ENXIO);
	if (wfd != -1)
		close(wfd);
	unlink(fifo);
}

/*
 * The daemon's own fds in the child (the exec fd, the notify pipe of
 * --launch async) are invisible to file actions: dup2(n, n) is EBADF for
 * every n the map did not fill, and an open onto each number gives the
 * child exactly those fds.  A target at the top of RLIMIT_NOFILE leaves no
 * room for the pipe above it: the spawn still works (it waits instead).
 */
static void
test_own_fds(struct spawnd_client *c)
{
	const char		*argv[] = { "/bin/sh", "-c",
				    "ls /proc/$$/fd | tr '\\n' ' '", NULL };
	const char		*envp[] = { ENV_PATH, NULL };
	struct spawnd_req	*req;
	struct spawnd_failure	 f;
	struct rlimit		 rl;
	static char		 big[1 << 16];
	char			 out[512], want[512], probe[1024];
	const char		*helpers, *pargv[] = { NULL, NULL };
	size_t			 len;
	int			 n, st, bad = 0;

	tl_log("== the daemon's fds in the child stay its own");
	for (n = 3; n < 64; n++) {
		CHECK_OK(spawnd_req_new(&req));
		CHECK_OK(spawnd_req_set_argv(req, argv));
		CHECK_OK(spawnd_req_set_envp(req, envp));
		CHECK_OK(spawnd_req_add_dup2(req, n, n));
		if (run(c, req, out, sizeof out, &st, &f) != -EBADF ||
		    f.step != SPAWND_STEP_ACTION || f.action != 0) {
			tl_fail(__FILE__, __LINE__, "dup2(%d, %d): error %d at "
			    "%s, output '%s'", n, n, f.error,
			    spawnd_step_name(f.step), out);
			bad++;
		}
		spawnd_req_free(req);
		if (bad > 3)
			break;
	}
	/* The probe reports "fds=..." of exactly what it got. */
	if ((helpers = getenv("HELPERS")) != NULL && *helpers != '\0') {
		snprintf(probe, sizeof probe, "%s/probe", helpers);
		pargv[0] = probe;
		CHECK_OK(spawnd_req_new(&req));
		CHECK_OK(spawnd_req_set_argv(req, pargv));
		CHECK_OK(spawnd_req_set_envp(req, envp));
		len = (size_t)snprintf(want, sizeof want, "\nfds=0,1,2");
		for (n = 3; n < 64; n++) {
			CHECK_OK(spawnd_req_add_open(req, n, "/dev/null",
			    O_RDONLY, 0));
			len += (size_t)snprintf(want + len, sizeof want - len,
			    ",%d", n);
		}
		(void)snprintf(want + len, sizeof want - len, "\n");
		CHECK_OK(run(c, req, big, sizeof big, &st, NULL));
		spawnd_req_free(req);
		CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		/* fds is the report's first key. */
		if (strncmp(big, want + 1, strlen(want + 1)) != 0)
			tl_fail(__FILE__, __LINE__, "opens onto 3..63: want "
			    "'%s' in the probe's report: '%.300s'", want + 1,
			    big);
	}

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1 || rl.rlim_max < 100 ||
	    rl.rlim_max > (1 << 20))
		return;
	CHECK_OK(spawnd_req_new(&req));
	CHECK_OK(spawnd_req_set_argv(req, argv));
	CHECK_OK(spawnd_req_set_envp(req, envp));
	CHECK_OK(spawnd_req_set_fd(req, devnull, (int)rl.rlim_max - 1));
	CHECK_OK(run(c, req, out, sizeof out, &st, NULL));
	spawnd_req_free(req);
	snprintf(want, sizeof want, " %d ", (int)rl.rlim_max - 1);
	if (strstr(out, want) == NULL)
		tl_fail(__FILE__, __LINE__, "fd %d not in '%s'",
		    (int)rl.rlim_max - 1, out);
}

/* Runs sh -c script with args; returns the status, output in out. */
static int
run_sh(struct spawnd_client *c, const char *script, const char *const *args,
    char *out, size_t outlen)
{
	const char		*argv[32] = { "/bin/sh", "-c", script, "sh" };
	const char		*envp[] = { ENV_PATH, NULL };
	struct spawnd_req	*req;
	int			 status = -1, i, n = 4;

	for (i = 0; args != NULL && args[i] != NULL && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	CHECK_OK(spawnd_req_new(&req));
	CHECK_OK(spawnd_req_set_argv(req, argv));
	CHECK_OK(spawnd_req_set_envp(req, envp));
	CHECK_OK(run(c, req, out, outlen, &status, NULL));
	spawnd_req_free(req);
	return status;
}

static void
test_argv(struct spawnd_client *c)
{
	const char	*argv[] = { "/bin/sh", "-c",
			    "printf '%s|' \"$0\" \"$@\"", "zero", "one two",
			    "", "three\nlines", "*", NULL };
	const char	*envp[] = { ENV_PATH, NULL };
	struct spawnd_req *req;
	char		 out[4096];
	int		 status;

	tl_log("== argv");
	CHECK_OK(spawnd_req_new(&req));
	CHECK_OK(spawnd_req_set_argv(req, argv));
	CHECK_OK(spawnd_req_set_envp(req, envp));
	CHECK_OK(run(c, req, out, sizeof out, &status, NULL));
	CHECK_STR(out, "zero|one two||three\nlines|*|");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	/* An explicit path, with argv[0] free to be anything. */
	argv[0] = "not-a-program";
	CHECK_OK(spawnd_req_set_argv(req, argv));
	CHECK_OK(spawnd_req_set_path(req, "/bin/sh"));
	CHECK_OK(run(c, req, out, sizeof out, &status, NULL));
	CHECK_STR(out, "zero|one two||three\nlines|*|");
	spawnd_req_free(req);
}

static void
test_env(struct spawnd_client *c)
{
	const char	*argv[] = { "/usr/bin/env", NULL };
	const char	*envp[] = { "A=1", "B=x y", "C=", "D==d", NULL };
	struct spawnd_req *req;
	char		 out[4096];
	int		 status;

	tl_log("== env");
	CHECK_OK(spawnd_req_new(&req));
	CHECK_OK(spawnd_req_set_argv(req, argv));
	/* Unset: an empty environment, not the daemon's. */
	CHECK_OK(run(c, req, out, sizeof out, &status, NULL));
	CHECK_STR(out, "");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

	CHECK_OK(spawnd_req_set_envp(req, envp));
	CHECK_OK(run(c, req, out, sizeof out, &status, NULL));
	CHECK_STR(out, "A=1\nB=x y\nC=\nD==d\n");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	spawnd_req_free(req);
}

static void
test_cwd(struct spawnd_client *c)
{
	const char	*argv[] = { "/bin/sh", "-c", "pwd -P", NULL };
	const char	*argv2[] = { "./hello.sh", NULL };
	struct spawnd_req *req;
	char		 out[PATH_MAX], want[PATH_MAX], sub[2048];
	char		 script[PATH_MAX];
	int		 status, dfd;

	tl_log("== cwd");
	snprintf(want, sizeof want, "%s\n", realdir);
	CHECK_OK(spawnd_req_new(&req));
	CHECK_OK(spawnd_req_set_argv(req, argv));
	CHECK_OK(spawnd_req_set_cwd(req, d.dir));
	CHECK_OK(run(c, req, out, sizeof out, &status, NULL));
	CHECK_STR(out, want);
	spawnd_req_free(req);

	/* By fd: a directory we open, then rename, still is the cwd. */
	snprintf(script, sizeof script, "%s/sub", realdir);
	CHECK(mkdir(script, 0755) == 0);
	dfd = open(script, O_RDONLY|O_DIRECTORY|O_CLOEXEC);
	CHECK(dfd != -1);
	snprintf(sub, sizeof sub, "%s/sub2", realdir);
	CHECK(rename(script, sub) == 0);
	snprintf(want, sizeof want, "%s\n", sub);
	CHECK_OK(spawnd_req_new(&req));
	CHECK_OK(spawnd_req_set_argv(req, argv));
	CHECK_OK(spawnd_req_set_cwd_fd(req, dfd));
	CHECK_OK(run(c, req, out, sizeof out, &status, NULL));
	CHECK_STR(out, want);
	spawnd_req_free(req);
	close(dfd);

	/* A relative program path is resolved in the child's cwd. */
	snprintf(script, sizeof script, "%s/hello.sh", sub);
	CHECK(tl_write_file(script, "#!/bin/sh\necho hello from sub\n", 30,
	    0755) == 0);
	CHECK_OK(spawnd_req_new(&req));
	CHECK_OK(spawnd_req_set_argv(req, argv2));
	CHECK_OK(spawnd_req_set_cwd(req, sub));
	CHECK_OK(run(c, req, out, sizeof out, &status, NULL));
	CHECK_STR(out, "hello from sub\n");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	spawnd_req_free(req);
}

static void
test_stdio(struct spawnd_client *c)
{
	const char	*argv[] = { "/bin/sh", "-c",
			    "read line; echo \"out:$line\"; echo err >&2",
			    NULL };
	struct spawnd_req *req;
	struct spawnd_child *ch = NULL;
	struct spawnd_exit ex;
	char		 out[256], err[256];
	int		 in[2], po[2], pe[2];

	tl_log("== stdin/stdout/stderr through pipes");
	CHECK(pipe2(in, O_CLOEXEC) == 0);
	CHECK(pipe2(po, O_CLOEXEC) == 0);
	CHECK(pipe2(pe, O_CLOEXEC) == 0);
	CHECK_OK(spawnd_req_new(&req));
	CHECK_OK(spawnd_req_set_argv(req, argv));
	CHECK_OK(spawnd_req_set_fd(req, in[0], 0));
	CHECK_OK(spawnd_req_set_fd(req, po[1], 1));
	CHECK_OK(spawnd_req_set_fd(req, pe[1], 2));
	CHECK_OK(spawnd_spawn(c, req, &ch, NULL));
	close(in[0]);
	close(po[1]);
	close(pe[1]);
	CHECK(write(in[1], "ping\n", 5) == 5);
	close(in[1]);
	CHECK(tl_read_all(po[0], out, sizeof out, tl_scale(10000)) >= 0);
	CHECK(tl_read_all(pe[0], err, sizeof err, tl_scale(10000)) >= 0);
	CHECK_STR(out, "out:ping\n");
	CHECK_STR(err, "err\n");
	if (ch != NULL) {
		CHECK_OK(spawnd_child_wait(ch, tl_scale(10000), &ex));
		CHECK(WIFEXITED(ex.status) && WEXITSTATUS(ex.status) == 0);
	}
	spawnd_child_free(ch);
	spawnd_req_free(req);
	close(po[0]);
	close(pe[0]);
}

static void
test_exit_codes(struct spawnd_client *c)
{
	static const int	 codes[] = { 0, 1, 7, 255 };
	char			 script[64], out[64];
	size_t			 i;
	int			 st;

	tl_log("== exit codes");
	for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
		snprintf(script, sizeof script, "exit %d", codes[i]);
		st = run_sh(c, script, NULL, out, sizeof out);
		CHECK(WIFEXITED(st));
		CHECK_INT(WEXITSTATUS(st), ==, codes[i]);
	}
}

static void
test_signal(struct spawnd_client *c)
{
	char	out[64];
	int	st;

	tl_log("== death by signal");
	st = run_sh(c, "kill -9 $$", NULL, out, sizeof out);
	CHECK(WIFSIGNALED(st));
	CHECK_INT(WTERMSIG(st), ==, 9);
	st = run_sh(c, "kill -TERM $$", NULL, out, sizeof out);
	CHECK(WIFSIGNALED(st));
	CHECK_INT(WTERMSIG(st), ==, SIGTERM);
}

/* Spawns path (argv {path}); CHECKs failure -err at step. */
static void
expect_failure(struct spawnd_client *c, const char *path, const char *cwd,
    int err, int step, int line)
{
	const char		*argv[] = { path, NULL };
	struct spawnd_req	*req;
	struct spawnd_failure	 f;
	char			 out[256];
	int			 r, st;

	CHECK_OK(spawnd_req_new(&req));
	CHECK_OK(spawnd_req_set_argv(req, argv));
	if (cwd != NULL)
		CHECK_OK(spawnd_req_set_cwd(req, cwd));
	r = run(c, req, out, sizeof out, &st, &f);
	if (r != -err || f.error != err || f.step != step)
		tl_fail(__FILE__, line, "%s: want %s at step %s, got %d (%s) "
		    "error %d (%s) at step %d (%s)", path, strerror(err),
		    spawnd_step_name(step), r, strerror(r < 0 ? -r : 0),
		    f.error, strerror(f.error), f.step,
		    spawnd_step_name(f.step));
	spawnd_req_free(req);
}

static void
test_exec_errors(struct spawnd_client *c)
{
	static const char	garbage[] = "\x01\x02\x03\x04garbage\xff\xfe\n";
	char			p[PATH_MAX], q[PATH_MAX];

	tl_log("== exec errors");
	if (tl_skip_exec_errors("exec errors"))
		return;
	snprintf(p, sizeof p, "%s/missing", d.dir);
	expect_failure(c, p, NULL, ENOENT, SPAWND_STEP_EXEC, __LINE__);

	snprintf(p, sizeof p, "%s/noexec", d.dir);
	CHECK(tl_write_file(p, "#!/bin/sh\nexit 0\n", 17, 0644) == 0);
	expect_failure(c, p, NULL, EACCES, SPAWND_STEP_EXEC, __LINE__);

	snprintf(p, sizeof p, "%s/garbage", d.dir);
	CHECK(tl_write_file(p, garbage, sizeof garbage - 1, 0755) == 0);
	expect_failure(c, p, NULL, ENOEXEC, SPAWND_STEP_EXEC, __LINE__);

	snprintf(p, sizeof p, "%s/regular", d.dir);
	CHECK(tl_write_file(p, "x\n", 2, 0644) == 0);
	snprintf(q, sizeof q, "%s/regular/prog", d.dir);
	expect_failure(c, q, NULL, ENOTDIR, SPAWND_STEP_EXEC, __LINE__);

	snprintf(p, sizeof p, "%s/nodir", d.dir);
	expect_failure(c, "/bin/true", p, ENOENT, SPAWND_STEP_CWD, __LINE__);
}

static void
test_fd_table(struct spawnd_client *c)
{
	const char	*argv[] = { "/bin/sh", "-c", "ls /proc/$$/fd; exit 0",
			    NULL };
	const char	*envp[] = { ENV_PATH, NULL };
	struct spawnd_req *req;
	char		 out[256];
	int		 st;

	tl_log("== the child's fd table is exactly the map");
	CHECK_OK(spawnd_req_new(&req));
	CHECK_OK(spawnd_req_set_argv(req, argv));
	CHECK_OK(spawnd_req_set_envp(req, envp));
	CHECK_OK(spawnd_req_set_fd(req, devnull, 5));
	CHECK_OK(spawnd_req_set_fd(req, devnull, 9));
	CHECK_OK(run(c, req, out, sizeof out, &st, NULL));
	CHECK_STR(out, "0\n1\n2\n5\n9\n");
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	spawnd_req_free(req);
}

/*
 * Five caller fds go to child fds 5..9 (dash redirects only 0..9), under
 * several permutations: the daemon receives them at numbers of its own,
 * around those same small numbers, so its moves overlap; each child fd
 * must still reach the pipe of the caller fd mapped onto it.
 */
static void
test_fd_overlap(struct spawnd_client *c)
{
	static const int	 from[] = { 40, 41, 42, 43, 44 };
	static const int	 perm[][5] = {
		{ 5, 6, 7, 8, 9 }, { 9, 8, 7, 6, 5 }, { 6, 5, 8, 9, 7 },
		{ 8, 9, 5, 6, 7 }, { 7, 9, 6, 5, 8 },
	};
	const char		*argv[] = { "/bin/sh", "-c",
				    "for n in 5 6 7 8 9; do "
				    "eval \"echo child$n >&$n\"; done",
				    NULL };
	struct spawnd_req	*req;
	struct spawnd_child	*ch;
	struct spawnd_exit	 ex;
	char			 out[64], want[64];
	int			 p[5][2];
	size_t			 i, k;

	tl_log("== overlapping fd maps");
	for (k = 0; k < sizeof perm / sizeof perm[0]; k++) {
		CHECK_OK(spawnd_req_new(&req));
		CHECK_OK(spawnd_req_set_argv(req, argv));
		CHECK_OK(spawnd_req_set_fd(req, devnull, 0));
		CHECK_OK(spawnd_req_set_fd(req, STDERR_FILENO, 2));
		for (i = 0; i < 5; i++) {
			CHECK(pipe2(p[i], O_CLOEXEC) == 0);
			CHECK(dup3(p[i][1], from[i], O_CLOEXEC) == from[i]);
			close(p[i][1]);
			CHECK_OK(spawnd_req_set_fd(req, from[i],
			    perm[k][i]));
		}
		ch = NULL;
		CHECK_OK(spawnd_spawn(c, req, &ch, NULL));
		for (i = 0; i < 5; i++)
			close(from[i]);
		for (i = 0; i < 5; i++) {
			CHECK(tl_read_all(p[i][0], out, sizeof out,
			    tl_scale(10000)) >= 0);
			snprintf(want, sizeof want, "child%d\n", perm[k][i]);
			if (strcmp(out, want) != 0)
				tl_fail(__FILE__, __LINE__, "caller fd %d "
				    "mapped to child fd %d got \"%s\"",
				    from[i], perm[k][i], out);
			close(p[i][0]);
		}
		if (ch != NULL) {
			CHECK_OK(spawnd_child_wait(ch, tl_scale(10000), &ex));
			CHECK(WIFEXITED(ex.status) &&
			    WEXITSTATUS(ex.status) == 0);
		}
		spawnd_child_free(ch);
		spawnd_req_free(req);
	}
}

/* 1020 arguments of 1023 bytes: just under PROTO_MAX_ARGV, many frames. */
static void
test_big_argv(struct spawnd_client *c)
{
	enum { NARGS = 1020, ARGLEN = 1023 };
	const char		**argv;
	const char		*envp[] = { ENV_PATH, NULL };
	struct spawnd_req	*req;
	struct spawnd_child	*ch = NULL;
	struct spawnd_exit	 ex;
	char			*store, *out, *want, *w;
	int			 i, st;

	tl_log("== 1 MiB argv");
	argv = calloc(NARGS + 5, sizeof *argv);
	store = malloc((size_t)NARGS * (ARGLEN + 1));
	out = malloc(OUT_MAX);
	want = malloc(OUT_MAX);
	if (argv == NULL || store == NULL || out == NULL || want == NULL) {
		tl_fail(__FILE__, __LINE__, "out of memory");
		goto out;
	}
	argv[0] = "/bin/sh";
	argv[1] = "-c";
	argv[2] = "printf '%s\\n' \"$@\"";
	argv[3] = "sh";
	w = want;
	for (i = 0; i < NARGS; i++) {
		char *a = store + (size_t)i * (ARGLEN + 1);

		memset(a, 'a' + i % 26, ARGLEN);
		snprintf(a, 8, "%05d", i);
		a[5] = '-';
		a[ARGLEN] = '\0';
		argv[4 + i] = a;
		memcpy(w, a, ARGLEN);
		w += ARGLEN;
		*w++ = '\n';
	}
	*w = '\0';
	argv[4 + NARGS] = NULL;
	CHECK_OK(spawnd_req_new(&req));
	CHECK_OK(spawnd_req_set_argv(req, argv));
	CHECK_OK(spawnd_req_set_envp(req, envp));
	CHECK_OK(run(c, req, out, OUT_MAX, &st, NULL));
	CHECK_INT(strlen(out), ==, strlen(want));
	CHECK(strcmp(out, want) == 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	spawnd_req_free(req);

	/* Many frames and no fds at all: the child only has its status. */
	argv[2] = "[ $# = 1020 ] && [ ${#1} = 1023 ]";
	CHECK_OK(spawnd_req_new(&req));
	CHECK_OK(spawnd_req_set_argv(req, argv));
	CHECK_OK(spawnd_req_set_envp(req, envp));
	CHECK_OK(spawnd_spawn(c, req, &ch, NULL));
	if (ch != NULL) {
		CHECK_OK(spawnd_child_wait(ch, tl_scale(20000), &ex));
		CHECK(WIFEXITED(ex.status) && WEXITSTATUS(ex.status) == 0);
	}
	spawnd_child_free(ch);
	spawnd_req_free(req);
out:
	free(want);
	free(out);
	free(store);
	free(argv);
}

/* The child handle's fd polls readable once the child has exited. */
static void
test_pidfd(struct spawnd_client *c)
{
	const char		*argv[] = { "/bin/sh", "-c", "sleep 0.2", NULL };
	const char		*envp[] = { ENV_PATH, NULL };
	struct spawnd_req	*req;
	struct spawnd_child	*ch = NULL;
	struct spawnd_exit	 ex;
	struct pollfd		 pfd;
	uint64_t		 t0;

	tl_log("== child fd polls readable at exit");
	CHECK_OK(spawnd_req_new(&req));
	CHECK_OK(spawnd_req_set_argv(req, argv));
	CHECK_OK(spawnd_req_set_envp(req, envp));
	CHECK_OK(spawnd_spawn(c, req, &ch, NULL));
	if (ch != NULL) {
		CHECK(spawnd_child_pid(ch) > 0);
		pfd.fd = spawnd_child_fd(ch);
		pfd.events = POLLIN;
		CHECK(pfd.fd >= 0);
		t0 = tl_now_ms();
		if (pfd.fd >= 0) {
			CHECK_INT(poll(&pfd, 1, 0), ==, 0);
			CHECK_INT(poll(&pfd, 1, tl_scale(10000)), ==, 1);
			CHECK(tl_now_ms() - t0 >= 100);
		}
		CHECK_OK(spawnd_child_wait(ch, tl_scale(10000), &ex));
		CHECK(WIFEXITED(ex.status) && WEXITSTATUS(ex.status) == 0);
		/* The record is kept. */
		CHECK_OK(spawnd_child_wait(ch, 0, &ex));
		CHECK(WIFEXITED(ex.status) && WEXITSTATUS(ex.status) == 0);
	}
	spawnd_child_free(ch);
	spawnd_req_free(req);
}

/*
 * A daemon whose own environment holds NOTIFY_SOCKET and LISTEN_*, whose
 * signal mask blocks SIGUSR1/SIGALRM and which ignores SIGHUP, SIGUSR2 and
 * SIGPIPE: its children get none of it.
 */
static void
test_daemon_env(void)
{
	const char		*env[] = { "NOTIFY_SOCKET=/nonexistent",
				    "LISTEN_FDS=0", "LISTEN_FDNAMES=x", NULL };
	const char		*argv_env[] = { "/usr/bin/env", NULL };
	const char		*argv_st[] = { "/bin/cat", "/proc/self/status",
				    NULL };
	const char		*envp[] = { "X=1", NULL };
	struct tl_daemon	 d2;
	struct spawnd_client	*c;
	struct spawnd_req	*req;
	char			 out[8192], *l;
	int			 st, seen = 0;

	tl_log("== daemon's environment and signal state stay out");
	if (tl_start_opts(&d2, env, TL_DIRTY_SIGNALS) != 0)
		goto out;
	if ((c = tl_connect(&d2)) == NULL)
		goto out;
	CHECK_OK(spawnd_req_new(&req));
	CHECK_OK(spawnd_req_set_argv(req, argv_env));
	CHECK_OK(run(c, req, out, sizeof out, &st, NULL));
	CHECK_STR(out, "");
	CHECK_OK(spawnd_req_set_envp(req, envp));
	CHECK_OK(run(c, req, out, sizeof out, &st, NULL));
	CHECK_STR(out, "X=1\n");
	spawnd_req_free(req);

	CHECK_OK(spawnd_req_new(&req));
	CHECK_OK(spawnd_req_set_argv(req, argv_st));
	CHECK_OK(run(c, req, out, sizeof out, &st, NULL));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	for (l = strtok(out, "\n"); l != NULL; l = strtok(NULL, "\n")) {
		if (strncmp(l, "SigBlk:", 7) == 0 ||
		    strncmp(l, "SigIgn:", 7) == 0) {
			seen++;
			if (strcmp(l + 7, "\t0000000000000000") != 0)
				tl_fail(__FILE__, __LINE__, "child has "
				    "\"%s\", want all zero", l);
		}
	}
	CHECK_INT(seen, ==, 2);
	spawnd_req_free(req);
	spawnd_client_free(c);
out:
	tl_stop(&d2);
}

int
main(void)
{
	struct spawnd_client	*c;
	char			*rp;
	const char		*launch;
	int			 base;

	signal(SIGPIPE, SIG_IGN);
	devnull = open("/dev/null", O_RDWR|O_CLOEXEC);
	if (devnull == -1 || tl_start(&d) != 0)
		goto out;
	if ((rp = realpath(d.dir, NULL)) == NULL) {
		tl_fail(__FILE__, __LINE__, "realpath: %s", strerror(errno));
		goto out;
	}
	snprintf(realdir, sizeof realdir, "%s", rp);
	free(rp);
	CHECK_OK(tl_spawn_true(&d));
	base = tl_idle_fds(&d);
	tl_log("daemon idle fds: %d", base);

	if ((c = tl_connect(&d)) == NULL)
		goto out;
	test_argv(c);
	test_env(c);
	test_cwd(c);
	test_stdio(c);
	test_exit_codes(c);
	test_signal(c);
	test_exec_errors(c);
	test_fd_table(c);
	test_fd_overlap(c);
	test_big_argv(c);
	test_pidfd(c);
	test_own_fds(c);
	spawnd_client_free(c);
	/* --launch vfork waits for every exec: it trusts every client. */
	if ((launch = getenv("SPAWND_TEST_LAUNCH")) != NULL &&
	    strcmp(launch, "vfork") == 0)
		tl_log("note: --launch vfork: the stuck-child cases skipped");
	else {
		test_stuck_launch();
		test_stuck_hangup();
		test_stuck_quit();
	}
	TL_CHECK_FDS(&d, base);

	test_daemon_env();
out:
	tl_stop(&d);
	return tl_exit();
}
