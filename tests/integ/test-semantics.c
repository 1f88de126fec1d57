/*
 * test-semantics: a table of spawn requests run with the probe (see
 * tests/helpers/probe.c), the child's state compared field by field with
 * what each request asked for.
 *
 * Handle API: fd maps (overlapping, swapped, one fd at two numbers, a
 * high child fd), cwd by path and by fd, env, signal mask and ignored
 * signals, setsid, process groups (new, joining), umask, rlimits
 * (RLIMIT_NOFILE left unset: the client's soft limit), nice, scheduling,
 * reset ids, a controlling terminal; every file action and their order;
 * failures with their errno,
 * step and action index; execvp's PATH search.  Nothing of one request
 * may leak into the next.  Then a few requests through the posix face.
 *
 * The daemon starts with odd signal state (TL_DIRTY_SIGNALS) and a lower
 * RLIMIT_NOFILE soft limit than the one it raises itself to; as root a
 * second daemon runs with real uid/gid 65534 and effective 0, to see
 * SPAWND_RESETIDS act and the steps after it fail without privileges.
 */

#include <sys/resource.h>
#include <sys/sysmacros.h>

#include <grp.h>

#include <sched.h>
#include <spawn.h>

#include "testlib.h"

#define KV_MAX		1024
#define REP_SIZE	(256 * 1024)
#define NOBODY		65534
#define HIGH_FD		4000
#define NOFILE_DAEMON	1000	/* soft limit the daemon starts with */
#define NOFILE_CLIENT	777	/* ours once the daemon runs */

/* A probe's report, parsed, and how its spawn ended. */
struct rep {
	char			 buf[REP_SIZE];
	int			 n;
	char			*key[KV_MAX];
	char			*val[KV_MAX];
	int			 ret;		/* spawnd_spawn() */
	struct spawnd_failure	 f;
	int			 status;	/* wait status, -1: none */
};

static struct tl_daemon		 d;
static struct spawnd_client	*cl;
static char			 probe[PATH_MAX];
static char			 tmp[512];	/* realpath of d.dir */
static const char		*what = "";	/* the case, for messages */
static int			 devnull = -1;
static int			 devnull_w = -1;
static int			 outslot = -1;	/* see run() */
static struct rep		 rep;
static struct rlimit		 nofile_hard;
static char			 daemon_cwd[PATH_MAX];
static char			 daemon_umask[16];

static void	 parse(struct rep *, size_t);
static const char *rget(const struct rep *, const char *);
static void	 want_kv(int, const struct rep *, const char *, ...)
		    __attribute__((__format__(__printf__, 3, 4)));
static void	 absent_kv(int, const struct rep *, const char *, ...)
		    __attribute__((__format__(__printf__, 3, 4)));
static struct spawnd_req *probe_req(const char *const *);
static int	 run(struct spawnd_client *, struct spawnd_req *, int,
		    struct rep *);
static void	 fails(int, struct spawnd_client *, struct spawnd_req *, int,
		    int, int);
static int	 run_out(struct spawnd_req *, char *, size_t);
static void	 mkfile(const char *, const char *, mode_t);
static void	 check_clean(const struct rep *);
static int	 can_raise(const struct rlimit *);
static int	 start_nobody(struct tl_daemon *);
static void	 pathf(char *, size_t, const char *, ...)
		    __attribute__((__format__(__printf__, 3, 4)));

#define PATHF(b, ...)	pathf((b), sizeof (b), __VA_ARGS__)
#define WANT(r, ...)	want_kv(__LINE__, (r), __VA_ARGS__)
#define ABSENT(r, ...)	absent_kv(__LINE__, (r), __VA_ARGS__)
#define FAILS(c, req, err, step, act) \
	fails(__LINE__, (c), (req), (err), (step), (act))

/* snprintf that fails the test rather than truncate. */
static void
pathf(char *buf, size_t len, const char *fmt, ...)
{
	va_list	ap;
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len)
		tl_fail(__FILE__, __LINE__, "path too long: %s", buf);
}

/* Splits "k=v" lines in place. */
static void
parse(struct rep *r, size_t len)
{
	char	*p = r->buf, *nl, *eq;

	r->n = 0;
	r->buf[len] = '\0';
	while (*p != '\0' && r->n < KV_MAX) {
		if ((nl = strchr(p, '\n')) == NULL)
			break;
		*nl = '\0';
		if ((eq = strchr(p, '=')) != NULL) {
			*eq = '\0';
			r->key[r->n] = p;
			r->val[r->n++] = eq + 1;
		}
		p = nl + 1;
	}
}

static const char *
rget(const struct rep *r, const char *key)
{
	int	i;

	for (i = 0; i < r->n; i++)
		if (strcmp(r->key[i], key) == 0)
			return r->val[i];
	return NULL;
}

/* CHECKs that the report has "key=value" (fmt formats both). */
static void
want_kv(int line, const struct rep *r, const char *fmt, ...)
{
	va_list		 ap;
	char		 kv[8192], *eq;
	const char	*got;

	va_start(ap, fmt);
	vsnprintf(kv, sizeof kv, fmt, ap);
	va_end(ap);
	if ((eq = strchr(kv, '=')) == NULL)
		return;
	*eq = '\0';
	got = rget(r, kv);
	if (got == NULL || strcmp(got, eq + 1) != 0)
		tl_fail(__FILE__, line, "%s: %s: expected \"%s\", got %s%s%s",
		    what, kv, eq + 1, got ? "\"" : "", got ? got : "nothing",
		    got ? "\"" : "");
}

static void
absent_kv(int line, const struct rep *r, const char *fmt, ...)
{
	va_list		 ap;
	char		 key[256];
	const char	*got;

	va_start(ap, fmt);
	vsnprintf(key, sizeof key, fmt, ap);
	va_end(ap);
	if ((got = rget(r, key)) != NULL)
		tl_fail(__FILE__, line, "%s: %s: expected nothing, got \"%s\"",
		    what, key, got);
}

/* A request running the probe (argv[0] is anything; path is the probe). */
static struct spawnd_req *
probe_req(const char *const *argv)
{
	struct spawnd_req	*req = NULL;

	CHECK_OK(spawnd_req_new(&req));
	CHECK_OK(spawnd_req_set_argv(req, argv));
	CHECK_OK(spawnd_req_set_path(req, probe));
	return req;
}

/*
 * Spawns req with a fresh pipe at child fd ofd (the probe's -o), reads the
 * report to EOF and waits.  Returns spawnd_spawn()'s result.
 */
static int
run(struct spawnd_client *c, struct spawnd_req *req, int ofd, struct rep *r)
{
	struct spawnd_child	*ch = NULL;
	struct spawnd_exit	 ex;
	ssize_t			 n;
	int			 p[2];

	r->n = 0;
	r->status = -1;
	r->buf[0] = '\0';
	/*
	 * The pipe's write end goes through outslot, an fd number that
	 * stays open (on /dev/null between runs): req may be used again
	 * after this run, by FAILS() too, and must not pass a closed fd.
	 */
	if (pipe2(p, O_CLOEXEC) == -1 ||
	    dup3(p[1], outslot, O_CLOEXEC) == -1) {
		tl_fail(__FILE__, __LINE__, "pipe2: %s", strerror(errno));
		return -errno;
	}
	close(p[1]);
	CHECK_OK(spawnd_req_set_fd(req, outslot, ofd));
	r->ret = spawnd_spawn(c, req, &ch, &r->f);
	(void)dup3(devnull_w, outslot, O_CLOEXEC);
	if (r->ret < 0) {
		tl_log("%s: spawn failed: %s at step %s, action %d", what,
		    strerror(-r->ret), spawnd_step_name(r->f.step),
		    r->f.action);
		close(p[0]);
		return r->ret;
	}
	n = tl_read_all(p[0], r->buf, sizeof r->buf, tl_scale(10000));
	close(p[0]);
	if (n < 0)
		tl_fail(__FILE__, __LINE__, "%s: reading the report: %s", what,
		    strerror(errno));
	parse(r, n < 0 ? strlen(r->buf) : (size_t)n);
	if (spawnd_child_wait(ch, tl_scale(10000), &ex) == 0)
		r->status = ex.status;
	else
		tl_fail(__FILE__, __LINE__, "%s: no exit record", what);
	spawnd_child_free(ch);
	if (rget(r, "end") == NULL)
		tl_fail(__FILE__, __LINE__, "%s: incomplete report (status "
		    "0x%x)", what, r->status);
	else if (r->status != 0)
		tl_fail(__FILE__, __LINE__, "%s: probe status 0x%x", what,
		    r->status);
	return 0;
}

/* CHECKs that req fails with err at step (and action index act). */
static void
fails(int line, struct spawnd_client *c, struct spawnd_req *req, int err,
    int step, int act)
{
	struct spawnd_child	*ch = NULL;
	struct spawnd_failure	 f;
	struct spawnd_exit	 ex;
	int			 r;

	r = spawnd_spawn(c, req, &ch, &f);
	if (r == 0 && tl_skip_exec_errors(what)) {
		(void)spawnd_child_wait(ch, tl_scale(5000), &ex);
		spawnd_child_free(ch);
		return;
	}
	if (r == 0) {
		tl_fail(__FILE__, line, "%s: spawned, expected %s at %s",
		    what, strerror(err), spawnd_step_name(step));
		(void)spawnd_child_kill(ch, SIGKILL, 0);
		(void)spawnd_child_wait(ch, tl_scale(5000), &ex);
		spawnd_child_free(ch);
		return;
	}
	if (r != -err || f.error != err || f.step != step || f.action != act)
		tl_fail(__FILE__, line, "%s: expected %s (%d) at step %s, "
		    "action %d; got %s (%d) / %d at step %s (%d), action %d",
		    what, strerror(err), err, spawnd_step_name(step), act,
		    strerror(-r), r, f.error, spawnd_step_name(f.step), f.step,
		    f.action);
}

/* Spawns req with stdout on a pipe; returns the status, output in out. */
static int
run_out(struct spawnd_req *req, char *out, size_t len)
{
	struct spawnd_child	*ch = NULL;
	struct spawnd_failure	 f;
	struct spawnd_exit	 ex;
	int			 p[2], r;

	out[0] = '\0';
	if (pipe2(p, O_CLOEXEC) == -1 ||
	    dup3(p[1], outslot, O_CLOEXEC) == -1)
		return -1;
	close(p[1]);
	CHECK_OK(spawnd_req_set_fd(req, devnull, 0));
	CHECK_OK(spawnd_req_set_fd(req, outslot, 1));
	CHECK_OK(spawnd_req_set_fd(req, STDERR_FILENO, 2));
	r = spawnd_spawn(cl, req, &ch, &f);
	(void)dup3(devnull_w, outslot, O_CLOEXEC);
	if (r < 0) {
		tl_fail(__FILE__, __LINE__, "%s: spawn: %s at %s", what,
		    strerror(-r), spawnd_step_name(f.step));
		close(p[0]);
		return -1;
	}
	(void)tl_read_all(p[0], out, len, tl_scale(10000));
	close(p[0]);
	r = spawnd_child_wait(ch, tl_scale(10000), &ex);
	spawnd_child_free(ch);
	return r == 0 ? ex.status : -1;
}

static void
mkfile(const char *path, const char *content, mode_t mode)
{
	if (tl_write_file(path, content, strlen(content), mode) != 0)
		tl_fail(__FILE__, __LINE__, "writing %s: %s", path,
		    strerror(errno));
}

/*
 * What every request without attributes gets: default dispositions, an
 * empty mask, the daemon's session, cwd and umask, default scheduling.
 */
static void
check_clean(const struct rep *r)
{
	char	key[32];
	int	sig;

	WANT(r, "sig.blk=0000000000000000");
	WANT(r, "sig.ign=0000000000000000");
	WANT(r, "sig.cgt=0000000000000000");
	for (sig = 1; sig <= 64; sig++) {
		PATHF(key, "sig.%d", sig);
		WANT(r, "%s=dfl", key);
	}
	WANT(r, "sid=%d", (int)d.pid);
	WANT(r, "pgid=%d", (int)d.pid);
	WANT(r, "cwd=%s", daemon_cwd);
	WANT(r, "umask=%s", daemon_umask);
	WANT(r, "nice=0");
	WANT(r, "sched.policy=%d", SCHED_OTHER);
	WANT(r, "sched.priority=0");
	WANT(r, "ruid=%u", (unsigned)getuid());
	WANT(r, "euid=%u", (unsigned)geteuid());
	WANT(r, "rlimit.%d=%u:%llu", RLIMIT_NOFILE, NOFILE_CLIENT,
	    (unsigned long long)nofile_hard.rlim_max);
}

static void
test_baseline(void)
{
	const char		*argv[] = { "probe-zero", "one", "", "three",
				    NULL };
	const char		*envp[] = { "A=1", "B=x y", "C=", "D==d",
				    "PATH=/nowhere", NULL };
	struct spawnd_req	*req;

	what = "baseline";
	req = probe_req(argv);
	CHECK_OK(spawnd_req_set_envp(req, envp));
	CHECK_OK(spawnd_req_set_fd(req, devnull, 0));
	CHECK_OK(spawnd_req_set_fd(req, STDERR_FILENO, 2));
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "fds=0,1,2");
	WANT(&rep, "fd.0.target=/dev/null");
	WANT(&rep, "fd.0.mode=r");
	WANT(&rep, "fd.0.cloexec=0");
	WANT(&rep, "fd.1.mode=w");
	WANT(&rep, "fd.1.cloexec=0");
	WANT(&rep, "fd.2.cloexec=0");
	WANT(&rep, "argc=4");
	WANT(&rep, "argv.0=probe-zero");
	WANT(&rep, "argv.2=");
	WANT(&rep, "argv.3=three");
	WANT(&rep, "exe=%s", probe);
	WANT(&rep, "envc=5");
	WANT(&rep, "env.0=A=1");
	WANT(&rep, "env.1=B=x y");
	WANT(&rep, "env.2=C=");
	WANT(&rep, "env.3=D==d");
	WANT(&rep, "env.4=PATH=/nowhere");
	WANT(&rep, "ppid=%d", (int)d.pid);
	WANT(&rep, "pgid_is_pid=0");
	WANT(&rep, "sid_is_pid=0");
	check_clean(&rep);
	spawnd_req_free(req);

	/* No envp at all: an empty environment, not the daemon's. */
	what = "no envp";
	req = probe_req(argv);
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "envc=0");
	WANT(&rep, "fds=1");
	spawnd_req_free(req);
}

/* The fd map: swaps, overlaps with the daemon's own numbers, a high fd. */
static void
test_fdmap(void)
{
	const char		*argv[] = { "probe", NULL };
	struct spawnd_req	*req;
	const struct rlimit	 low = { 64, 64 };
	char			 path[8][PATH_MAX];
	int			 fd[8], i, a, b;

	what = "fd map";
	for (i = 0; i < 8; i++) {
		snprintf(path[i], sizeof path[i], "%s/map%d", tmp, i);
		mkfile(path[i], "x", 0644);
		fd[i] = open(path[i], (i % 2 ? O_RDWR | O_APPEND : O_RDONLY) |
		    O_CLOEXEC);
		CHECK(fd[i] >= 0);
	}
	/*
	 * Child fds 3..10 in reverse: the daemon receives the fds at numbers
	 * of its own, likely in that range, so sources and targets overlap.
	 */
	req = probe_req(argv);
	for (i = 0; i < 8; i++)
		CHECK_OK(spawnd_req_set_fd(req, fd[i], 10 - i));
	CHECK_OK(spawnd_req_set_fd(req, fd[0], HIGH_FD));
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "fds=1,3,4,5,6,7,8,9,10,%d", HIGH_FD);
	for (i = 0; i < 8; i++) {
		WANT(&rep, "fd.%d.target=%s", 10 - i, path[i]);
		WANT(&rep, "fd.%d.mode=%s", 10 - i, i % 2 ? "rw" : "r");
		WANT(&rep, "fd.%d.fl=%x", 10 - i, i % 2 ? O_APPEND : 0);
		WANT(&rep, "fd.%d.cloexec=0", 10 - i);
	}
	WANT(&rep, "fd.%d.target=%s", HIGH_FD, path[0]);
	spawnd_req_free(req);

	/* Our own numbers swapped: a at b and b at a. */
	what = "fd swap";
	a = fd[2];
	b = fd[3];
	req = probe_req(argv);
	CHECK_OK(spawnd_req_set_fd(req, a, b));
	CHECK_OK(spawnd_req_set_fd(req, b, a));
	CHECK_OK(spawnd_req_set_fd(req, fd[4], fd[4]));
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "fd.%d.target=%s", b, path[2]);
	WANT(&rep, "fd.%d.target=%s", a, path[3]);
	WANT(&rep, "fd.%d.target=%s", fd[4], path[4]);
	spawnd_req_free(req);

	/* The same child fd twice: the later fd wins. */
	what = "fd replaced";
	req = probe_req(argv);
	CHECK_OK(spawnd_req_set_fd(req, fd[5], 7));
	CHECK_OK(spawnd_req_set_fd(req, fd[6], 7));
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "fds=1,7");
	WANT(&rep, "fd.7.target=%s", path[6]);
	spawnd_req_free(req);

	/* A child fd above the child's RLIMIT_NOFILE: limits come last. */
	what = "fd above nofile";
	req = probe_req(argv);
	CHECK_OK(spawnd_req_set_fd(req, fd[1], 100));
	CHECK_OK(spawnd_req_set_rlimit(req, RLIMIT_NOFILE, &low));
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "fds=1,100");
	WANT(&rep, "rlimit.%d=64:64", RLIMIT_NOFILE);
	spawnd_req_free(req);

	/* Bad requests are refused by the library. */
	what = "fd map arguments";
	CHECK_OK(spawnd_req_new(&req));
	CHECK_INT(spawnd_req_set_fd(req, -1, 3), ==, -EINVAL);
	CHECK_INT(spawnd_req_set_fd(req, 0, -1), ==, -EINVAL);
	spawnd_req_free(req);
	for (i = 0; i < 8; i++)
		close(fd[i]);
}

static void
test_cwd(void)
{
	const char		*argv[] = { "probe", NULL };
	struct spawnd_req	*req;
	char			 dir[PATH_MAX], file[PATH_MAX];
	int			 dfd;

	what = "cwd by path";
	PATHF(dir, "%s/cwd", tmp);
	CHECK(mkdir(dir, 0755) == 0);
	req = probe_req(argv);
	CHECK_OK(spawnd_req_set_cwd(req, dir));
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "cwd=%s", dir);
	spawnd_req_free(req);

	/* By fd: not in the child's table; O_PATH works too. */
	what = "cwd by fd";
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(dfd >= 0);
	req = probe_req(argv);
	CHECK_OK(spawnd_req_set_cwd_fd(req, dfd));
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "cwd=%s", dir);
	WANT(&rep, "fds=1");
	spawnd_req_free(req);
	close(dfd);
	what = "cwd by O_PATH fd";
	dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(dfd >= 0);
	req = probe_req(argv);
	CHECK_OK(spawnd_req_set_cwd_fd(req, dfd));
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "cwd=%s", dir);
	spawnd_req_free(req);
	close(dfd);

	what = "cwd missing";
	req = probe_req(argv);
	PATHF(file, "%s/missing", tmp);
	CHECK_OK(spawnd_req_set_cwd(req, file));
	FAILS(cl, req, ENOENT, SPAWND_STEP_CWD, -1);
	what = "cwd a file";
	PATHF(file, "%s/cwdfile", tmp);
	mkfile(file, "", 0644);
	CHECK_OK(spawnd_req_set_cwd(req, file));
	FAILS(cl, req, ENOTDIR, SPAWND_STEP_CWD, -1);
	what = "cwd fd a file";
	dfd = open(file, O_RDONLY | O_CLOEXEC);
	CHECK_OK(spawnd_req_set_cwd_fd(req, dfd));
	FAILS(cl, req, ENOTDIR, SPAWND_STEP_CWD, -1);
	close(dfd);
	spawnd_req_free(req);
}

static void
test_signals(void)
{
	const char		*argv[] = { "probe", NULL };
	struct spawnd_req	*req;
	sigset_t		 set;
	char			 hex[32];
	uint64_t		 bits;
	int			 sigs[] = { SIGHUP, SIGUSR1, SIGTERM,
				    SIGCHLD, SIGRTMIN + 2, 64 }, i, sig;

	what = "sigmask";
	sigemptyset(&set);
	bits = 0;
	for (i = 0; i < (int)(sizeof sigs / sizeof sigs[0]); i++) {
		sigaddset(&set, sigs[i]);
		bits |= 1ULL << (sigs[i] - 1);
	}
	/* SIGKILL and SIGSTOP cannot be blocked: the kernel drops them. */
	sigaddset(&set, SIGKILL);
	sigaddset(&set, SIGSTOP);
	req = probe_req(argv);
	CHECK_OK(spawnd_req_set_sigmask(req, &set));
	CHECK_OK(run(cl, req, 1, &rep));
	PATHF(hex, "%016llx", (unsigned long long)bits);
	WANT(&rep, "sig.blk=%s", hex);
	WANT(&rep, "sig.ign=0000000000000000");
	spawnd_req_free(req);

	what = "sigignore";
	req = probe_req(argv);
	sigemptyset(&set);
	bits = 0;
	for (i = 0; i < (int)(sizeof sigs / sizeof sigs[0]); i++) {
		sigaddset(&set, sigs[i] == SIGTERM ? SIGPIPE : sigs[i]);
		bits |= 1ULL << ((sigs[i] == SIGTERM ? SIGPIPE : sigs[i]) - 1);
	}
	sigaddset(&set, SIGKILL);
	CHECK_OK(spawnd_req_set_sigignore(req, &set));
	CHECK_OK(run(cl, req, 1, &rep));
	PATHF(hex, "%016llx", (unsigned long long)bits);
	WANT(&rep, "sig.ign=%s", hex);
	WANT(&rep, "sig.blk=0000000000000000");
	for (sig = 1; sig <= 64; sig++)
		WANT(&rep, "sig.%d=%s", sig, (bits >> (sig - 1)) & 1 ? "ign" :
		    "dfl");
	spawnd_req_free(req);
}

static void
test_session(void)
{
	const char		*argv[] = { "probe", NULL };
	const char		*largv[] = { "probe", "-s", "10000", NULL };
	struct spawnd_req	*req;
	struct spawnd_child	*leader = NULL;
	struct spawnd_failure	 f;
	struct spawnd_exit	 ex;
	pid_t			 lpid;

	what = "setsid";
	req = probe_req(argv);
	CHECK_OK(spawnd_req_set_flags(req, SPAWND_SETSID));
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "sid_is_pid=1");
	WANT(&rep, "pgid_is_pid=1");
	spawnd_req_free(req);

	what = "pgroup 0";
	req = probe_req(argv);
	CHECK_OK(spawnd_req_set_pgroup(req, 0));
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "pgid_is_pid=1");
	WANT(&rep, "sid=%d", (int)d.pid);
	spawnd_req_free(req);

	/* Joining the group of a running child. */
	what = "pgroup join";
	req = probe_req(largv);
	CHECK_OK(spawnd_req_set_fd(req, devnull_w, 1));
	CHECK_OK(spawnd_req_set_pgroup(req, 0));
	CHECK_OK(spawnd_spawn(cl, req, &leader, &f));
	spawnd_req_free(req);
	lpid = leader != NULL ? spawnd_child_pid(leader) : 1;
	req = probe_req(argv);
	CHECK_OK(spawnd_req_set_pgroup(req, lpid));
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "pgid=%d", (int)lpid);
	WANT(&rep, "pgid_is_pid=0");

	/* A group of another session (ours), and one that does not exist. */
	what = "pgroup of another session";
	CHECK_OK(spawnd_req_set_pgroup(req, getpgrp()));
	FAILS(cl, req, EPERM, SPAWND_STEP_PGROUP, -1);
	what = "pgroup missing";
	CHECK_OK(spawnd_req_set_pgroup(req, 999999));
	FAILS(cl, req, EPERM, SPAWND_STEP_PGROUP, -1);
	/* A session leader cannot change its group: as glibc, EPERM. */
	what = "setsid and pgroup";
	CHECK_OK(spawnd_req_set_pgroup(req, 0));
	CHECK_OK(spawnd_req_set_flags(req, SPAWND_SETSID));
	FAILS(cl, req, EPERM, SPAWND_STEP_PGROUP, -1);
	spawnd_req_free(req);
	if (leader != NULL) {
		CHECK_OK(spawnd_child_kill(leader, SIGKILL, 0));
		CHECK_OK(spawnd_child_wait(leader, tl_scale(5000), &ex));
		spawnd_child_free(leader);
	}
	CHECK_INT(spawnd_req_new(&req), ==, 0);
	CHECK_INT(spawnd_req_set_pgroup(req, -1), ==, -EINVAL);
	spawnd_req_free(req);
}

static void
test_umask_rlimits(void)
{
	const char		*argv[] = { "probe", NULL };
	struct spawnd_req	*req;
	static const struct {
		int		 res;
		struct rlimit	 rl;
		const char	*want;
	} lim[] = {
		{ RLIMIT_CORE, { 0, 4096 }, "0:4096" },
		{ RLIMIT_FSIZE, { 1 << 30, RLIM_INFINITY }, "1073741824:inf" },
		{ RLIMIT_STACK, { 4 << 20, 64 << 20 }, "4194304:67108864" },
		{ RLIMIT_NPROC, { 5000, 6000 }, "5000:6000" },
		{ RLIMIT_CPU, { 100, 200 }, "100:200" },
		{ RLIMIT_MEMLOCK, { 65536, 65536 }, "65536:65536" },
		{ RLIMIT_MSGQUEUE, { 1000, 2000 }, "1000:2000" },
		{ RLIMIT_NOFILE, { 256, 512 }, "256:512" },
	};
	struct rlimit		 rl;
	size_t			 i;

	what = "umask";
	req = probe_req(argv);
	CHECK_OK(spawnd_req_set_umask(req, 027));
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "umask=0027");
	CHECK_OK(spawnd_req_set_umask(req, 0));
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "umask=0000");
	/* Only the permission bits count. */
	CHECK_OK(spawnd_req_set_umask(req, 07777));
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "umask=0777");
	spawnd_req_free(req);

	what = "rlimits";
	req = probe_req(argv);
	for (i = 0; i < sizeof lim / sizeof lim[0]; i++)
		CHECK_OK(spawnd_req_set_rlimit(req, lim[i].res, &lim[i].rl));
	CHECK_OK(run(cl, req, 1, &rep));
	for (i = 0; i < sizeof lim / sizeof lim[0]; i++)
		WANT(&rep, "rlimit.%d=%s", lim[i].res, lim[i].want);
	spawnd_req_free(req);

	/*
	 * RLIMIT_NOFILE not in the request: the client's soft limit, not
	 * the daemon's (it raised its own soft limit to the hard one).
	 */
	what = "rlimit nofile unset";
	req = probe_req(argv);
	rl.rlim_cur = 1000;
	rl.rlim_max = 2000;
	CHECK_OK(spawnd_req_set_rlimit(req, RLIMIT_CORE, &rl));
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "rlimit.%d=1000:2000", RLIMIT_CORE);
	WANT(&rep, "rlimit.%d=%u:%llu", RLIMIT_NOFILE, NOFILE_CLIENT,
	    (unsigned long long)nofile_hard.rlim_max);
	spawnd_req_free(req);

	/* A hard limit above ours needs CAP_SYS_RESOURCE, else EPERM. */
	what = "rlimit nofile raised";
	req = probe_req(argv);
	rl.rlim_cur = nofile_hard.rlim_max;
	rl.rlim_max = nofile_hard.rlim_max + 100;
	CHECK_OK(spawnd_req_set_rlimit(req, RLIMIT_NOFILE, &rl));
	if (can_raise(&rl)) {
		CHECK_OK(run(cl, req, 1, &rep));
		WANT(&rep, "rlimit.%d=%llu:%llu", RLIMIT_NOFILE,
		    (unsigned long long)rl.rlim_cur,
		    (unsigned long long)rl.rlim_max);
	} else
		FAILS(cl, req, EPERM, SPAWND_STEP_RLIMIT, -1);
	spawnd_req_free(req);

	what = "rlimit arguments";
	CHECK_OK(spawnd_req_new(&req));
	rl.rlim_cur = 10;
	rl.rlim_max = 9;
	CHECK_INT(spawnd_req_set_rlimit(req, RLIMIT_CORE, &rl), ==, -EINVAL);
	rl.rlim_cur = RLIM_INFINITY;
	rl.rlim_max = 10;
	CHECK_INT(spawnd_req_set_rlimit(req, RLIMIT_CORE, &rl), ==, -EINVAL);
	rl.rlim_cur = 1;
	CHECK_INT(spawnd_req_set_rlimit(req, RLIMIT_NLIMITS, &rl), ==,
	    -EINVAL);
	CHECK_INT(spawnd_req_set_rlimit(req, -1, &rl), ==, -EINVAL);
	CHECK_INT(spawnd_req_set_rlimit(req, RLIMIT_CORE, NULL), ==, -EINVAL);
	spawnd_req_free(req);
}

/* Whether we (so the daemon, same credentials) may set rl. */
static int
can_raise(const struct rlimit *rl)
{
	pid_t	pid;
	int	st;

	if ((pid = fork()) == 0)
		_exit(setrlimit(RLIMIT_NOFILE, rl) == 0 ? 0 : 1);
	if (pid == -1 || waitpid(pid, &st, 0) != pid)
		return 0;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static void
test_sched(void)
{
	const char		*argv[] = { "probe", NULL };
	struct spawnd_req	*req;
	struct sched_param	 sp;
	int			 root = geteuid() == 0;

	what = "nice";
	req = probe_req(argv);
	CHECK_OK(spawnd_req_set_nice(req, 7));
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "nice=7");
	CHECK_OK(spawnd_req_set_nice(req, 19));
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "nice=19");
	CHECK_OK(spawnd_req_set_nice(req, -20));
	if (root) {
		CHECK_OK(run(cl, req, 1, &rep));
		WANT(&rep, "nice=-20");
	} else
		FAILS(cl, req, EACCES, SPAWND_STEP_NICE, -1);
	what = "nice out of range";
	CHECK_INT(spawnd_req_set_nice(req, 20), ==, -EINVAL);
	CHECK_INT(spawnd_req_set_nice(req, -21), ==, -EINVAL);
	spawnd_req_free(req);

	what = "sched batch";
	req = probe_req(argv);
	sp.sched_priority = 0;
	CHECK_OK(spawnd_req_set_sched(req, SCHED_BATCH, &sp));
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "sched.policy=%d", SCHED_BATCH);
	WANT(&rep, "sched.priority=0");
	what = "sched param only";
	CHECK_OK(spawnd_req_set_sched(req, -1, &sp));
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "sched.policy=%d", SCHED_OTHER);
	what = "sched other priority 5";
	sp.sched_priority = 5;
	CHECK_OK(spawnd_req_set_sched(req, SCHED_OTHER, &sp));
	FAILS(cl, req, EINVAL, SPAWND_STEP_SCHED, -1);
	what = "sched fifo priority 100";
	sp.sched_priority = 100;
	CHECK_OK(spawnd_req_set_sched(req, SCHED_FIFO, &sp));
	FAILS(cl, req, EINVAL, SPAWND_STEP_SCHED, -1);
	what = "sched fifo 10";
	sp.sched_priority = 10;
	CHECK_OK(spawnd_req_set_sched(req, SCHED_FIFO, &sp));
	if (root) {
		CHECK_OK(run(cl, req, 1, &rep));
		WANT(&rep, "sched.policy=%d", SCHED_FIFO);
		WANT(&rep, "sched.priority=10");
	} else
		FAILS(cl, req, EPERM, SPAWND_STEP_SCHED, -1);
	what = "sched rr 3";
	sp.sched_priority = 3;
	CHECK_OK(spawnd_req_set_sched(req, SCHED_RR, &sp));
	if (root) {
		CHECK_OK(run(cl, req, 1, &rep));
		WANT(&rep, "sched.policy=%d", SCHED_RR);
		WANT(&rep, "sched.priority=3");
	}
	spawnd_req_free(req);
}

/* Every file action, their order, and their failures. */
static void
test_actions(void)
{
	const char		*argv[] = { "probe", NULL };
	const char		*argv4[] = { "probe", "-o", "4", NULL };
	struct spawnd_req	*req;
	char			 dir[PATH_MAX], sub[PATH_MAX], p[PATH_MAX];
	char			 p2[PATH_MAX];
	int			 dfd, i;

	PATHF(dir, "%s/act", tmp);
	PATHF(sub, "%s/act/sub", tmp);
	CHECK(mkdir(dir, 0755) == 0);
	CHECK(mkdir(sub, 0755) == 0);
	PATHF(p, "%s/f.txt", dir);
	mkfile(p, "f", 0644);
	PATHF(p, "%s/g.txt", sub);
	mkfile(p, "g", 0644);

	/* open relative to the cwd of that moment: before and after chdir. */
	what = "open, chdir, open";
	req = probe_req(argv);
	CHECK_OK(spawnd_req_set_cwd(req, dir));
	CHECK_OK(spawnd_req_add_open(req, 3, "f.txt", O_RDONLY, 0));
	CHECK_OK(spawnd_req_add_chdir(req, "sub"));
	CHECK_OK(spawnd_req_add_open(req, 4, "g.txt", O_RDWR, 0));
	CHECK_OK(spawnd_req_add_open(req, 5, "new.txt",
	    O_WRONLY | O_CREAT | O_EXCL | O_APPEND, 0640));
	CHECK_OK(spawnd_req_set_umask(req, 022));
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "fds=1,3,4,5");
	WANT(&rep, "fd.3.target=%s/f.txt", dir);
	WANT(&rep, "fd.3.mode=r");
	WANT(&rep, "fd.4.target=%s/g.txt", sub);
	WANT(&rep, "fd.4.mode=rw");
	WANT(&rep, "fd.5.target=%s/new.txt", sub);
	WANT(&rep, "fd.5.fl=%x", O_APPEND);
	WANT(&rep, "cwd=%s", sub);
	{
		struct stat	st;

		PATHF(p, "%s/new.txt", sub);
		CHECK(stat(p, &st) == 0 && (st.st_mode & 07777) == 0640);
	}
	/* Again: O_EXCL now fails, at action 3 (the fourth). */
	what = "open O_EXCL existing";
	FAILS(cl, req, EEXIST, SPAWND_STEP_ACTION, 3);
	spawnd_req_free(req);

	/* open, dup2, close: the order decides. */
	what = "open, dup2, close";
	req = probe_req(argv);
	CHECK_OK(spawnd_req_set_cwd(req, dir));
	CHECK_OK(spawnd_req_add_open(req, 5, "f.txt", O_RDONLY, 0));
	CHECK_OK(spawnd_req_add_dup2(req, 5, 6));
	CHECK_OK(spawnd_req_add_close(req, 5));
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "fds=1,6");
	WANT(&rep, "fd.6.target=%s/f.txt", dir);
	WANT(&rep, "fd.6.cloexec=0");
	spawnd_req_free(req);
	what = "open, close, dup2";
	req = probe_req(argv);
	CHECK_OK(spawnd_req_set_cwd(req, dir));
	CHECK_OK(spawnd_req_add_open(req, 5, "f.txt", O_RDONLY, 0));
	CHECK_OK(spawnd_req_add_close(req, 5));
	CHECK_OK(spawnd_req_add_dup2(req, 5, 6));
	FAILS(cl, req, EBADF, SPAWND_STEP_ACTION, 2);
	spawnd_req_free(req);

	/* dup2 over a mapped fd; dup2 onto the report's fd is refused. */
	what = "dup2 over a mapped fd";
	req = probe_req(argv);
	CHECK_OK(spawnd_req_set_fd(req, devnull, 0));
	CHECK_OK(spawnd_req_set_cwd(req, dir));
	CHECK_OK(spawnd_req_add_open(req, 3, "f.txt", O_RDONLY, 0));
	CHECK_OK(spawnd_req_add_dup2(req, 3, 0));
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "fd.0.target=%s/f.txt", dir);
	WANT(&rep, "fd.3.target=%s/f.txt", dir);
	spawnd_req_free(req);

	/* close of an fd that is not open succeeds, as in glibc. */
	what = "close not open";
	req = probe_req(argv);
	CHECK_OK(spawnd_req_add_close(req, 9));
	CHECK_OK(spawnd_req_add_close(req, HIGH_FD));
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "fds=1");
	spawnd_req_free(req);

	/*
	 * dup2(fd, fd) clears FD_CLOEXEC.  fds 0..6 taken, so the O_CLOEXEC
	 * open lands at 7 itself and keeps its flag: without the dup2 exec
	 * closes it.
	 */
	what = "dup2(fd, fd)";
	for (i = 0; i < 2; i++) {
		int	j;

		req = probe_req(argv);
		for (j = 0; j < 7; j++)
			if (j != 1)
				CHECK_OK(spawnd_req_set_fd(req, devnull, j));
		CHECK_OK(spawnd_req_add_open(req, 7, "/dev/null",
		    O_RDONLY | O_CLOEXEC, 0));
		if (i == 1)
			CHECK_OK(spawnd_req_add_dup2(req, 7, 7));
		CHECK_OK(run(cl, req, 1, &rep));
		if (i == 0) {
			WANT(&rep, "fds=0,1,2,3,4,5,6");
		} else {
			WANT(&rep, "fds=0,1,2,3,4,5,6,7");
			WANT(&rep, "fd.7.cloexec=0");
		}
		spawnd_req_free(req);
	}
	what = "dup2(fd, fd) not open";
	req = probe_req(argv);
	CHECK_OK(spawnd_req_add_dup2(req, 8, 8));
	FAILS(cl, req, EBADF, SPAWND_STEP_ACTION, 0);
	spawnd_req_free(req);
	what = "dup2 from a bad fd";
	req = probe_req(argv);
	CHECK_OK(spawnd_req_add_close(req, 3));
	CHECK_OK(spawnd_req_add_dup2(req, 77, 3));
	FAILS(cl, req, EBADF, SPAWND_STEP_ACTION, 1);
	spawnd_req_free(req);

	/* fchdir to a mapped directory fd, then open relative to it. */
	what = "fchdir";
	dfd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(dfd >= 0);
	req = probe_req(argv);
	CHECK_OK(spawnd_req_set_cwd(req, "/"));
	CHECK_OK(spawnd_req_set_fd(req, dfd, 9));
	CHECK_OK(spawnd_req_add_fchdir(req, 9));
	CHECK_OK(spawnd_req_add_close(req, 9));
	CHECK_OK(spawnd_req_add_open(req, 3, "g.txt", O_RDONLY, 0));
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "cwd=%s", sub);
	WANT(&rep, "fds=1,3");
	WANT(&rep, "fd.3.target=%s/g.txt", sub);
	spawnd_req_free(req);
	close(dfd);
	what = "fchdir to a file";
	req = probe_req(argv);
	CHECK_OK(spawnd_req_set_fd(req, devnull, 3));
	CHECK_OK(spawnd_req_add_fchdir(req, 3));
	FAILS(cl, req, ENOTDIR, SPAWND_STEP_ACTION, 0);
	spawnd_req_free(req);
	what = "fchdir not open";
	req = probe_req(argv);
	CHECK_OK(spawnd_req_add_fchdir(req, 3));
	FAILS(cl, req, EBADF, SPAWND_STEP_ACTION, 0);
	spawnd_req_free(req);
	what = "chdir missing";
	req = probe_req(argv);
	CHECK_OK(spawnd_req_set_cwd(req, dir));
	CHECK_OK(spawnd_req_add_chdir(req, "sub"));
	CHECK_OK(spawnd_req_add_chdir(req, "nope"));
	FAILS(cl, req, ENOENT, SPAWND_STEP_ACTION, 1);
	spawnd_req_free(req);

	/* closefrom: everything from 5 up, the mapped and the opened. */
	what = "closefrom";
	req = probe_req(argv4);
	for (i = 5; i < 9; i++)
		CHECK_OK(spawnd_req_set_fd(req, devnull, i));
	CHECK_OK(spawnd_req_set_fd(req, devnull, 3));
	CHECK_OK(spawnd_req_add_open(req, HIGH_FD, "/dev/null", O_RDONLY, 0));
	CHECK_OK(spawnd_req_add_closefrom(req, 5));
	CHECK_OK(run(cl, req, 4, &rep));
	WANT(&rep, "fds=3,4");
	spawnd_req_free(req);

	/* A missing file at action 2: ENOENT with that index. */
	what = "open missing";
	req = probe_req(argv);
	CHECK_OK(spawnd_req_add_open(req, 3, "/dev/null", O_RDONLY, 0));
	CHECK_OK(spawnd_req_add_dup2(req, 3, 4));
	PATHF(p2, "%s/missing", dir);
	CHECK_OK(spawnd_req_add_open(req, 5, p2, O_RDONLY, 0));
	CHECK_OK(spawnd_req_add_close(req, 3));
	FAILS(cl, req, ENOENT, SPAWND_STEP_ACTION, 2);
	spawnd_req_free(req);
	what = "open a directory for writing";
	req = probe_req(argv);
	CHECK_OK(spawnd_req_add_open(req, 3, dir, O_WRONLY, 0));
	FAILS(cl, req, EISDIR, SPAWND_STEP_ACTION, 0);
	spawnd_req_free(req);

	what = "action arguments";
	CHECK_OK(spawnd_req_new(&req));
	CHECK_INT(spawnd_req_add_open(req, -1, "x", O_RDONLY, 0), ==,
	    -EINVAL);
	CHECK_INT(spawnd_req_add_open(req, 3, NULL, O_RDONLY, 0), ==,
	    -EINVAL);
	CHECK_INT(spawnd_req_add_close(req, -1), ==, -EINVAL);
	CHECK_INT(spawnd_req_add_dup2(req, 3, -1), ==, -EINVAL);
	CHECK_INT(spawnd_req_add_chdir(req, NULL), ==, -EINVAL);
	CHECK_INT(spawnd_req_add_fchdir(req, -1), ==, -EINVAL);
	CHECK_INT(spawnd_req_add_closefrom(req, -1), ==, -EINVAL);
	CHECK_INT(spawnd_req_add_tcsetpgrp(req, -1), ==, -EINVAL);
	spawnd_req_free(req);
}

/* tcsetpgrp on a pty made the child's controlling terminal. */
static void
test_tcsetpgrp(void)
{
	const char		*argv[] = { "probe", NULL };
	struct spawnd_req	*req;
	char			 name[128];
	int			 m, s;

	what = "tcsetpgrp";
	if ((m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1 ||
	    grantpt(m) == -1 || unlockpt(m) == -1 ||
	    ptsname_r(m, name, sizeof name) != 0) {
		tl_log("note: no pty (%s): tcsetpgrp case skipped",
		    strerror(errno));
		if (m != -1)
			close(m);
		return;
	}
	s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	CHECK(s >= 0);
	/* A session leader opening the pty makes it its terminal. */
	req = probe_req(argv);
	CHECK_OK(spawnd_req_set_flags(req, SPAWND_SETSID));
	CHECK_OK(spawnd_req_add_open(req, 0, name, O_RDWR, 0));
	CHECK_OK(spawnd_req_add_tcsetpgrp(req, 0));
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "fd.0.target=%s", name);
	WANT(&rep, "fd.0.fg_is_pgrp=1");
	spawnd_req_free(req);
	/* Not its controlling terminal: ENOTTY, and for /dev/null too. */
	what = "tcsetpgrp not the ctty";
	req = probe_req(argv);
	CHECK_OK(spawnd_req_set_fd(req, s, 0));
	CHECK_OK(spawnd_req_add_tcsetpgrp(req, 0));
	FAILS(cl, req, ENOTTY, SPAWND_STEP_ACTION, 0);
	spawnd_req_free(req);
	what = "tcsetpgrp on /dev/null";
	req = probe_req(argv);
	CHECK_OK(spawnd_req_set_fd(req, devnull, 0));
	CHECK_OK(spawnd_req_add_close(req, 5));
	CHECK_OK(spawnd_req_add_tcsetpgrp(req, 0));
	FAILS(cl, req, ENOTTY, SPAWND_STEP_ACTION, 1);
	spawnd_req_free(req);
	what = "tcsetpgrp not open";
	req = probe_req(argv);
	CHECK_OK(spawnd_req_add_tcsetpgrp(req, 6));
	FAILS(cl, req, EBADF, SPAWND_STEP_ACTION, 0);
	spawnd_req_free(req);
	close(s);
	close(m);
}

/* A pty's subsidiary side at fd 0 (and its name), or -1 with a note. */
static int
pty_open(int *ret_m, char *name, size_t len)
{
	int	 m, s;

	if ((m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1 ||
	    grantpt(m) == -1 || unlockpt(m) == -1 ||
	    ptsname_r(m, name, len) != 0 ||
	    (s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1) {
		tl_log("note: no pty (%s): ctty cases skipped",
		    strerror(errno));
		if (m != -1)
			close(m);
		return -1;
	}
	*ret_m = m;
	return s;
}

/*
 * spawnd_req_set_ctty(): the child leads a new session whose controlling
 * terminal (as /proc/self/stat shows it) is the pty, with its group in
 * the foreground; and each way it can fail, at SPAWND_STEP_CTTY.
 */
static void
test_ctty(void)
{
	const char		*argv[] = { "probe", NULL };
	const char		*largv[] = { "probe", "-q", "-s", "60000",
				    NULL };
	struct spawnd_req	*req;
	struct spawnd_child	*holder = NULL;
	struct spawnd_failure	 f;
	struct spawnd_exit	 ex;
	struct stat		 st;
	char			 name[128];
	unsigned int		 mj, mn, nr;
	int			 m = -1, s;

	what = "ctty arguments";
	CHECK_OK(spawnd_req_new(&req));
	CHECK_INT(spawnd_req_set_ctty(NULL, 0), ==, -EINVAL);
	CHECK_INT(spawnd_req_set_ctty(req, -2), ==, -EINVAL);
	CHECK_INT(spawnd_req_set_ctty(req, 1 << 20), ==, -EINVAL);
	CHECK_OK(spawnd_req_set_ctty(req, (1 << 20) - 1));
	CHECK_OK(spawnd_req_set_ctty(req, -1));
	spawnd_req_free(req);
	if ((s = pty_open(&m, name, sizeof name)) == -1)
		return;
	CHECK(fstat(s, &st) == 0);
	/* /proc's tty_nr is the kernel's new_encode_dev() of the device. */
	mj = major(st.st_rdev);
	mn = minor(st.st_rdev);
	nr = (mn & 0xff) | (mj << 8) | ((mn & ~0xffu) << 12);

	what = "ctty";
	req = probe_req(argv);
	CHECK_OK(spawnd_req_set_fd(req, s, 0));
	CHECK_OK(spawnd_req_set_ctty(req, 0));
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "sid_is_pid=1");
	WANT(&rep, "pgid_is_pid=1");
	WANT(&rep, "tty_nr=%u", nr);
	WANT(&rep, "tpgid=%s", rget(&rep, "pid") ? rget(&rep, "pid") : "?");
	WANT(&rep, "fd.0.fg_is_pgrp=1");
	/* Taken back: no terminal, and no session of its own either. */
	what = "ctty taken back";
	CHECK_OK(spawnd_req_set_ctty(req, -1));
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "tty_nr=0");
	WANT(&rep, "sid_is_pid=0");
	spawnd_req_free(req);

	/* An fd a file action opened, without O_NOCTTY's side door. */
	what = "ctty of an opened fd";
	req = probe_req(argv);
	CHECK_OK(spawnd_req_set_fd(req, devnull, 0));
	CHECK_OK(spawnd_req_add_open(req, 5, name, O_RDWR | O_NOCTTY, 0));
	CHECK_OK(spawnd_req_set_ctty(req, 5));
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "tty_nr=%u", nr);
	WANT(&rep, "fd.5.fg_is_pgrp=1");
	spawnd_req_free(req);

	/* Another session has it: not stolen. */
	what = "ctty of another session";
	req = probe_req(largv);
	CHECK_OK(spawnd_req_set_fd(req, s, 0));
	CHECK_OK(spawnd_req_set_fd(req, devnull_w, 1));
	CHECK_OK(spawnd_req_set_ctty(req, 0));
	CHECK_OK(spawnd_spawn(cl, req, &holder, &f));
	FAILS(cl, req, EPERM, SPAWND_STEP_CTTY, -1);
	if (holder != NULL) {
		CHECK_OK(spawnd_child_kill(holder, SIGKILL, 0));
		CHECK_OK(spawnd_child_wait(holder, tl_scale(5000), &ex));
		spawnd_child_free(holder);
	}
	spawnd_req_free(req);

	what = "ctty not a terminal";
	req = probe_req(argv);
	CHECK_OK(spawnd_req_set_fd(req, devnull, 0));
	CHECK_OK(spawnd_req_set_ctty(req, 0));
	FAILS(cl, req, ENOTTY, SPAWND_STEP_CTTY, -1);
	what = "ctty not open";
	CHECK_OK(spawnd_req_set_ctty(req, 7));
	FAILS(cl, req, EBADF, SPAWND_STEP_CTTY, -1);
	what = "ctty closed by an action";
	CHECK_OK(spawnd_req_set_fd(req, s, 0));
	CHECK_OK(spawnd_req_add_close(req, 0));
	CHECK_OK(spawnd_req_set_ctty(req, 0));
	FAILS(cl, req, EBADF, SPAWND_STEP_CTTY, -1);
	spawnd_req_free(req);
	/* A session leader keeps its group. */
	what = "ctty and pgroup";
	req = probe_req(argv);
	CHECK_OK(spawnd_req_set_fd(req, s, 0));
	CHECK_OK(spawnd_req_set_ctty(req, 0));
	CHECK_OK(spawnd_req_set_pgroup(req, 0));
	FAILS(cl, req, EPERM, SPAWND_STEP_PGROUP, -1);
	spawnd_req_free(req);
	close(s);
	close(m);
}

/* Exec failures, each at SPAWND_STEP_EXEC with the kernel's errno. */
static void
test_exec_errors(void)
{
	const char		*argv[] = { "prog", NULL };
	struct spawnd_req	*req;
	char			 p[PATH_MAX], lp[PATH_MAX + 64];
	char			*longp;

	CHECK_OK(spawnd_req_new(&req));
	CHECK_OK(spawnd_req_set_argv(req, argv));

	what = "exec missing";
	PATHF(p, "%s/missing", tmp);
	CHECK_OK(spawnd_req_set_path(req, p));
	FAILS(cl, req, ENOENT, SPAWND_STEP_EXEC, -1);

	what = "exec without x bit";
	PATHF(p, "%s/nox", tmp);
	mkfile(p, "#!/bin/sh\nexit 0\n", 0644);
	CHECK_OK(spawnd_req_set_path(req, p));
	FAILS(cl, req, EACCES, SPAWND_STEP_EXEC, -1);

	what = "exec garbage";
	PATHF(p, "%s/garbage", tmp);
	mkfile(p, "\x01\x02 not a program\n", 0755);
	CHECK_OK(spawnd_req_set_path(req, p));
	FAILS(cl, req, ENOEXEC, SPAWND_STEP_EXEC, -1);

	what = "exec through a file";
	PATHF(p, "%s/garbage/x", tmp);
	CHECK_OK(spawnd_req_set_path(req, p));
	FAILS(cl, req, ENOTDIR, SPAWND_STEP_EXEC, -1);

	/* A directory: the kernel says EACCES (not EISDIR) for execve. */
	what = "exec a directory";
	CHECK_OK(spawnd_req_set_path(req, tmp));
	FAILS(cl, req, EACCES, SPAWND_STEP_EXEC, -1);

	what = "exec a symlink loop";
	PATHF(p, "%s/loop", tmp);
	CHECK(symlink("loop", p) == 0);
	CHECK_OK(spawnd_req_set_path(req, p));
	FAILS(cl, req, ELOOP, SPAWND_STEP_EXEC, -1);

	what = "exec a missing interpreter";
	PATHF(p, "%s/badinterp", tmp);
	mkfile(p, "#!/nonexistent/sh\n", 0755);
	CHECK_OK(spawnd_req_set_path(req, p));
	FAILS(cl, req, ENOENT, SPAWND_STEP_EXEC, -1);

	what = "exec a long path";
	longp = lp;
	memset(lp, 'a', sizeof lp - 1);
	lp[0] = '/';
	lp[sizeof lp - 1] = '\0';
	CHECK_OK(spawnd_req_set_path(req, longp));
	FAILS(cl, req, ENAMETOOLONG, SPAWND_STEP_EXEC, -1);

	/* A relative path is the child's cwd's, not searched. */
	what = "exec relative";
	CHECK_OK(spawnd_req_set_cwd(req, "/"));
	CHECK_OK(spawnd_req_set_path(req, "probe-nowhere"));
	CHECK_OK(spawnd_req_set_flags(req, 0));
	FAILS(cl, req, ENOENT, SPAWND_STEP_EXEC, -1);
	spawnd_req_free(req);
}

/* execvp's PATH search, over the request's envp PATH. */
static void
test_path_search(void)
{
	const char		*argv[] = { "prog", NULL };
	const char		*shargv[] = { "sh", "-c", "echo sh", NULL };
	const char		*argv2[] = { "rel/bin/prog", NULL };
	const char		*env[2] = { NULL, NULL };
	char			 a[PATH_MAX], b[PATH_MAX], nox[PATH_MAX];
	char			 p[PATH_MAX], pathenv[4 * PATH_MAX];
	const char		*env2[] = { pathenv, "PATH=/nonexistent",
				    NULL };
	struct spawnd_req	*req;
	char			 out[256];
	int			 st;

	PATHF(a, "%s/pa", tmp);
	PATHF(b, "%s/pb", tmp);
	PATHF(nox, "%s/pnox", tmp);
	CHECK(mkdir(a, 0755) == 0 && mkdir(b, 0755) == 0 &&
	    mkdir(nox, 0755) == 0);
	PATHF(p, "%s/prog", a);
	mkfile(p, "#!/bin/sh\necho A\n", 0755);
	PATHF(p, "%s/prog", b);
	mkfile(p, "#!/bin/sh\necho B\n", 0755);
	PATHF(p, "%s/prog", nox);
	mkfile(p, "#!/bin/sh\necho NOX\n", 0644);
	PATHF(p, "%s/rel", a);
	CHECK(mkdir(p, 0755) == 0);
	PATHF(p, "%s/rel/bin", a);
	CHECK(mkdir(p, 0755) == 0);
	PATHF(p, "%s/rel/bin/prog", a);
	mkfile(p, "#!/bin/sh\necho REL\n", 0755);
	PATHF(p, "%s/garbage", b);
	mkfile(p, "\x01\x02\n", 0755);

	CHECK_OK(spawnd_req_new(&req));
	CHECK_OK(spawnd_req_set_argv(req, argv));
	CHECK_OK(spawnd_req_set_flags(req, SPAWND_PATH_SEARCH));
	CHECK_OK(spawnd_req_set_envp(req, env));

#define SEARCH(pathval, wantout) do {					\
	PATHF(pathenv, "PATH=%s", (pathval));	\
	env[0] = pathenv;						\
	st = run_out(req, out, sizeof out);				\
	if (st != 0 || strcmp(out, (wantout)) != 0)			\
		tl_fail(__FILE__, __LINE__, "%s: PATH=%s: status "	\
		    "0x%x, output \"%s\", expected \"%s\"", what,	\
		    (pathval), st, out, (wantout));			\
} while (0)

	what = "search skips ENOENT";
	PATHF(p, "/nonexistent:%s:%s", a, b);
	SEARCH(p, "A\n");
	what = "search skips ENOTDIR";
	PATHF(p, "/etc/passwd:%s/garbage:%s", b, b);
	SEARCH(p, "B\n");
	what = "search passes EACCES";
	PATHF(p, "%s:%s", nox, b);
	SEARCH(p, "B\n");
	what = "search relative entry";
	CHECK_OK(spawnd_req_set_cwd(req, a));
	SEARCH("/nonexistent:rel/bin", "REL\n");
	what = "search empty entry is the cwd";
	SEARCH("/nonexistent::", "A\n");
	/* Relative to the cwd after the file actions. */
	what = "search after chdir action";
	CHECK_OK(spawnd_req_set_cwd(req, "/"));
	CHECK_OK(spawnd_req_add_chdir(req, a));
	SEARCH("rel/bin", "REL\n");

	what = "search EACCES remembered";
	PATHF(p, "%s:/nonexistent", nox);
	env[0] = NULL;
	PATHF(pathenv, "PATH=%s", p);
	env[0] = pathenv;
	FAILS(cl, req, EACCES, SPAWND_STEP_EXEC, -1);
	what = "search nothing found";
	PATHF(pathenv, "PATH=/nonexistent:%s/rel", a);
	FAILS(cl, req, ENOENT, SPAWND_STEP_EXEC, -1);
	what = "search ENOEXEC, no /bin/sh fallback";
	argv[0] = "garbage";
	PATHF(pathenv, "PATH=/nonexistent:%s:%s", b, a);
	FAILS(cl, req, ENOEXEC, SPAWND_STEP_EXEC, -1);
	argv[0] = "prog";

	/* Without PATH: /bin:/usr/bin, not the cwd and not the daemon's. */
	what = "search default PATH";
	env[0] = "HOME=/";
	CHECK_OK(spawnd_req_set_cwd(req, a));
	FAILS(cl, req, ENOENT, SPAWND_STEP_EXEC, -1);
	CHECK_OK(spawnd_req_set_argv(req, shargv));
	st = run_out(req, out, sizeof out);
	CHECK_INT(st, ==, 0);
	CHECK_STR(out, "sh\n");

	/* The first PATH= of envp wins, as getenv() finds it. */
	what = "search first PATH";
	CHECK_OK(spawnd_req_set_argv(req, argv));
	PATHF(pathenv, "PATH=%s", b);
	CHECK_OK(spawnd_req_set_envp(req, env2));
	st = run_out(req, out, sizeof out);
	CHECK_INT(st, ==, 0);
	CHECK_STR(out, "B\n");
	/* A name with a slash is not searched. */
	what = "search with a slash";
	CHECK_OK(spawnd_req_set_argv(req, argv2));
	st = run_out(req, out, sizeof out);
	CHECK_INT(st, ==, 0);
	CHECK_STR(out, "REL\n");
	spawnd_req_free(req);
#undef SEARCH
}

/* After a request that changes everything, a plain one gets nothing. */
static void
test_no_leak(void)
{
	const char		*argv[] = { "probe", NULL };
	struct spawnd_req	*req;
	struct rlimit		 rl = { 10, 20 };
	struct sched_param	 sp = { 0 };
	sigset_t		 set;

	what = "everything";
	req = probe_req(argv);
	sigfillset(&set);
	CHECK_OK(spawnd_req_set_sigmask(req, &set));
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	CHECK_OK(spawnd_req_set_sigignore(req, &set));
	CHECK_OK(spawnd_req_set_umask(req, 077));
	CHECK_OK(spawnd_req_set_cwd(req, "/"));
	CHECK_OK(spawnd_req_set_rlimit(req, RLIMIT_CORE, &rl));
	rl.rlim_cur = rl.rlim_max = 50;
	CHECK_OK(spawnd_req_set_rlimit(req, RLIMIT_NOFILE, &rl));
	CHECK_OK(spawnd_req_set_nice(req, 9));
	CHECK_OK(spawnd_req_set_sched(req, SCHED_IDLE, &sp));
	CHECK_OK(spawnd_req_set_flags(req, SPAWND_SETSID));
	CHECK_OK(spawnd_req_add_chdir(req, "/tmp"));
	CHECK_OK(run(cl, req, 1, &rep));
	WANT(&rep, "umask=0077");
	WANT(&rep, "sig.15=ign");
	WANT(&rep, "nice=9");
	WANT(&rep, "sched.policy=%d", SCHED_IDLE);
	spawnd_req_free(req);

	what = "nothing leaked";
	req = probe_req(argv);
	CHECK_OK(run(cl, req, 1, &rep));
	check_clean(&rep);
	/* The daemon's RLIMIT_CORE, which is ours. */
	(void)getrlimit(RLIMIT_CORE, &rl);
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_cur != RLIM_INFINITY)
		WANT(&rep, "rlimit.%d=%llu:%llu", RLIMIT_CORE,
		    (unsigned long long)rl.rlim_cur,
		    (unsigned long long)rl.rlim_max);
	WANT(&rep, "fds=1");
	spawnd_req_free(req);
}

/* A few requests through the posix face, checked against the request. */
static void
test_posix_face(void)
{
	char *const		 argv[] = { TL_UNCONST("probe"),
				    TL_UNCONST("-o"), TL_UNCONST("3"), NULL };
	char *const		 envp[] = { TL_UNCONST("X=1"), NULL };
	spawnd_posix_spawn_file_actions_t fa;
	spawnd_posix_spawnattr_t at;
	sigset_t		 mask, def;
	struct rlimit		 rl;
	ssize_t			 n;
	pid_t			 pid;
	int			 p[2], st, e;

	what = "posix face";
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK_INT(spawnd_posix_spawn_file_actions_init(&fa), ==, 0);
	CHECK_INT(spawnd_posix_spawnattr_init(&at), ==, 0);
	CHECK_INT(spawnd_posix_spawn_file_actions_adddup2(&fa, p[1], 3), ==,
	    0);
	CHECK_INT(spawnd_posix_spawn_file_actions_addclose(&fa, 0), ==, 0);
	sigemptyset(&mask);
	sigaddset(&mask, SIGUSR2);
	sigemptyset(&def);
	sigaddset(&def, SIGINT);
	CHECK_INT(spawnd_posix_spawnattr_setsigmask(&at, &mask), ==, 0);
	CHECK_INT(spawnd_posix_spawnattr_setsigdefault(&at, &def), ==, 0);
	CHECK_INT(spawnd_posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP), ==, 0);
	CHECK_INT(spawnd_posix_spawnattr_setpgroup(&at, 0), ==, 0);
	(void)signal(SIGINT, SIG_IGN);
	(void)signal(SIGQUIT, SIG_IGN);
	e = spawnd_posix_spawn(&pid, probe, &fa, &at, argv, envp);
	(void)signal(SIGINT, SIG_DFL);
	(void)signal(SIGQUIT, SIG_DFL);
	close(p[1]);
	CHECK_INT(e, ==, 0);
	n = e == 0 ? tl_read_all(p[0], rep.buf, sizeof rep.buf,
	    tl_scale(10000)) : -1;
	close(p[0]);
	parse(&rep, n < 0 ? 0 : (size_t)n);
	if (e == 0) {
		CHECK_INT(spawnd_waitpid(pid, &st, 0), ==, pid);
		CHECK_INT(st, ==, 0);
	}
	WANT(&rep, "pid=%d", (int)pid);
	WANT(&rep, "pgid_is_pid=1");
	WANT(&rep, "sig.blk=%016llx", 1ULL << (SIGUSR2 - 1));
	WANT(&rep, "sig.2=dfl");
	WANT(&rep, "sig.3=ign");
	ABSENT(&rep, "fd.0.cloexec");
	WANT(&rep, "fd.3.cloexec=0");
	WANT(&rep, "envc=1");
	/* The posix face sends our limits, RLIMIT_NOFILE included. */
	(void)getrlimit(RLIMIT_NOFILE, &rl);
	WANT(&rep, "rlimit.%d=%llu:%llu", RLIMIT_NOFILE,
	    (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
	{
		char	cwd[PATH_MAX];

		if (getcwd(cwd, sizeof cwd) != NULL)
			WANT(&rep, "cwd=%s", cwd);
	}
	spawnd_posix_spawnattr_destroy(&at);
	spawnd_posix_spawn_file_actions_destroy(&fa);
}

/*
 * As tl_start(), but the daemon runs with real uid and gid NOBODY (and no
 * supplementary groups), effective 0.  tl_start() cannot do it: we would
 * have to take those ids ourselves, and its access() on the socket would
 * then use the real uid.
 */
static int
start_nobody(struct tl_daemon *dd)
{
	extern char	**environ;
	char		 *argv[4];
	int		  p[2];
	uint64_t	  end;
	pid_t		  parent = getpid();

	memset(dd, 0, sizeof *dd);
	dd->logfd = -1;
	PATHF(dd->dir, "%s/spawnd-test.XXXXXX", getenv("TMPDIR") != NULL &&
	    *getenv("TMPDIR") != '\0' && strlen(getenv("TMPDIR")) <= 60 ?
	    getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dd->dir) == NULL || pipe2(p, O_CLOEXEC) == -1) {
		tl_fail(__FILE__, __LINE__, "mkdtemp: %s", strerror(errno));
		return -1;
	}
	PATHF(dd->sock, "%s/socket", dd->dir);
	argv[0] = TL_UNCONST(tl_spawnd_path());
	argv[1] = TL_UNCONST("--socket");
	argv[2] = dd->sock;
	argv[3] = NULL;
	if ((dd->pid = fork()) == 0) {
		if (setgroups(0, NULL) == -1 ||
		    setresgid(NOBODY, 0, 0) == -1 ||
		    setresuid(NOBODY, 0, 0) == -1)
			_exit(127);
		tl_exec_daemon(p[1], parent, 0, argv, environ);
	}
	close(p[1]);
	dd->logfd = p[0];
	if (pthread_create(&dd->relay, NULL, tl_relay_main, dd) == 0)
		dd->relay_started = 1;
	if (dd->pid == -1)
		return -1;
	for (end = tl_now_ms() + (uint64_t)tl_scale(5000);
	    tl_now_ms() < end; tl_sleep_ms(20))
		if (tl_ping(dd->sock, tl_scale(1000)) == 0)
			return 0;
	tl_fail(__FILE__, __LINE__, "daemon with real uid %d not answering",
	    NOBODY);
	return -1;
}

/*
 * A daemon with real ids 65534 and effective 0 (root only): RESETIDS
 * makes the effective ids the real ones, and the steps after it then run
 * without privilege (nice, rlimit); scheduling runs before it.
 */
static void
test_resetids(void)
{
	const char		*argv[] = { "probe", NULL };
	struct tl_daemon	 d2;
	struct spawnd_client	*c2;
	struct spawnd_req	*req;
	struct sched_param	 sp = { .sched_priority = 1 };
	struct rlimit		 rl;
	char			 mine[PATH_MAX];

	what = "resetids";
	if (geteuid() != 0) {
		tl_log("note: not root: RESETIDS cases skipped");
		return;
	}
	/* RESETIDS runs the probe as nobody: it must reach it. */
	memcpy(mine, probe, sizeof mine);
	if (tl_share(mine, NOBODY, NOBODY, probe, sizeof probe) != 0)
		return;
	if (start_nobody(&d2) != 0 || (c2 = tl_connect(&d2)) == NULL) {
		tl_stop(&d2);
		memcpy(probe, mine, sizeof probe);
		return;
	}
	req = probe_req(argv);
	CHECK_OK(run(c2, req, 1, &rep));
	WANT(&rep, "ruid=%d", NOBODY);
	WANT(&rep, "euid=0");
	WANT(&rep, "rgid=%d", NOBODY);
	WANT(&rep, "egid=0");
	CHECK_OK(spawnd_req_set_flags(req, SPAWND_RESETIDS));
	CHECK_OK(run(c2, req, 1, &rep));
	WANT(&rep, "ruid=%d", NOBODY);
	WANT(&rep, "euid=%d", NOBODY);
	WANT(&rep, "rgid=%d", NOBODY);
	WANT(&rep, "egid=%d", NOBODY);
	spawnd_req_free(req);

	what = "resetids then nice -5";
	req = probe_req(argv);
	CHECK_OK(spawnd_req_set_flags(req, SPAWND_RESETIDS));
	CHECK_OK(spawnd_req_set_nice(req, -5));
	FAILS(c2, req, EACCES, SPAWND_STEP_NICE, -1);
	what = "nice -5 without resetids";
	CHECK_OK(spawnd_req_set_flags(req, 0));
	CHECK_OK(run(c2, req, 1, &rep));
	WANT(&rep, "nice=-5");
	spawnd_req_free(req);

	what = "resetids then raise a hard limit";
	req = probe_req(argv);
	(void)getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = nofile_hard.rlim_max;
	rl.rlim_max = nofile_hard.rlim_max + 100;
	CHECK_OK(spawnd_req_set_rlimit(req, RLIMIT_NOFILE, &rl));
	CHECK_OK(spawnd_req_set_flags(req, SPAWND_RESETIDS));
	FAILS(c2, req, EPERM, SPAWND_STEP_RLIMIT, -1);
	spawnd_req_free(req);

	/* Lowering needs no privilege. */
	what = "resetids then lower a limit";
	req = probe_req(argv);
	rl.rlim_cur = 100;
	rl.rlim_max = 200;
	CHECK_OK(spawnd_req_set_rlimit(req, RLIMIT_NOFILE, &rl));
	CHECK_OK(spawnd_req_set_flags(req, SPAWND_RESETIDS));
	CHECK_OK(run(c2, req, 1, &rep));
	WANT(&rep, "rlimit.%d=100:200", RLIMIT_NOFILE);
	spawnd_req_free(req);

	/* Scheduling comes before the ids change, as in glibc. */
	what = "sched fifo then resetids";
	req = probe_req(argv);
	CHECK_OK(spawnd_req_set_sched(req, SCHED_FIFO, &sp));
	CHECK_OK(spawnd_req_set_flags(req, SPAWND_RESETIDS));
	CHECK_OK(run(c2, req, 1, &rep));
	WANT(&rep, "sched.policy=%d", SCHED_FIFO);
	WANT(&rep, "sched.priority=1");
	WANT(&rep, "euid=%d", NOBODY);
	spawnd_req_free(req);
	spawnd_client_free(c2);
	tl_stop(&d2);
	memcpy(probe, mine, sizeof probe);
}

int
main(void)
{
	struct rlimit	rl;
	const char	*helpers;
	char		 buf[PATH_MAX + 64];
	ssize_t		 n;
	int		 dfds, socks;

	signal(SIGPIPE, SIG_IGN);
	umask(022);
	if ((helpers = getenv("HELPERS")) == NULL || *helpers == '\0') {
		fprintf(stderr, "HELPERS is not set: skipping\n");
		return TL_SKIP;
	}
	PATHF(buf, "%s/probe", helpers);
	if (realpath(buf, probe) == NULL || access(probe, X_OK) != 0) {
		fprintf(stderr, "no probe at %s: skipping\n", buf);
		return TL_SKIP;
	}
	/* The daemon starts at NOFILE_DAEMON and raises itself. */
	(void)getrlimit(RLIMIT_NOFILE, &nofile_hard);
	if (nofile_hard.rlim_max != RLIM_INFINITY &&
	    nofile_hard.rlim_max <= NOFILE_DAEMON) {
		fprintf(stderr, "RLIMIT_NOFILE hard limit too low: skipping\n");
		return TL_SKIP;
	}
	rl.rlim_cur = NOFILE_DAEMON;
	rl.rlim_max = nofile_hard.rlim_max;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (tl_start_opts(&d, NULL, TL_DIRTY_SIGNALS) != 0)
		goto out;
	rl.rlim_cur = NOFILE_CLIENT;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (realpath(d.dir, buf) == NULL || strlen(buf) >= sizeof tmp) {
		tl_fail(__FILE__, __LINE__, "realpath: %s", strerror(errno));
		goto out;
	}
	memcpy(tmp, buf, strlen(buf) + 1);
	PATHF(buf, "/proc/%d/cwd", (int)d.pid);
	n = readlink(buf, daemon_cwd, sizeof daemon_cwd - 1);
	daemon_cwd[n < 0 ? 0 : n] = '\0';
	/* Our umask (022, set above) is the daemon's. */
	PATHF(daemon_umask, "0022");
	devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
	devnull_w = open("/dev/null", O_WRONLY | O_CLOEXEC);
	outslot = fcntl(devnull_w, F_DUPFD_CLOEXEC, 100);
	if (setenv("SPAWND_SOCKET", d.sock, 1) == -1)
		goto out;
	if ((cl = tl_connect(&d)) == NULL)
		goto out;
	dfds = tl_idle_fds(&d);
	socks = tl_sockets(NULL, 0);

	test_baseline();
	test_fdmap();
	test_cwd();
	test_signals();
	test_session();
	test_umask_rlimits();
	test_sched();
	test_actions();
	test_tcsetpgrp();
	test_ctty();
	test_exec_errors();
	test_path_search();
	test_no_leak();
	test_posix_face();
	test_resetids();
	/*
	 * Every request's fds are gone from the daemon; it holds only the
	 * connections the posix face keeps for reuse.
	 */
	TL_CHECK_FDS(&d, dfds + tl_sockets(NULL, 0) - socks);
out:
	spawnd_client_free(cl);
	tl_stop(&d);
	return tl_exit();
}
