/*
 * test-posix: the posix_spawn face behaves as glibc's posix_spawn.
 *
 * Every case runs the same program with the same attributes and file
 * actions through glibc's posix_spawn() + waitpid() and through
 * spawnd_posix_spawn() + spawnd_waitpid(), and checks both against the
 * expected result (return value, output, wait status): inherited fds,
 * cwd, umask, signal mask and ignored signals, exec errors, file actions,
 * process group and session, statuses, WNOHANG, pid -1.
 */

#include <spawn.h>

#include "testlib.h"

#define OUTFD		33	/* non-CLOEXEC pipe the child's stdout dups */

enum { GLIBC, SPAWND };
static const char *const how_name[] = { "glibc", "spawnd" };

static struct tl_daemon	 d;
static char		 realdir[1024];
static int		 same_output = 1;	/* both() compares outputs */

struct presult;
static struct presult	*last;		/* both()'s two results */

/* One run's description, for both implementations. */
struct prun {
	const char	*path;		/* default /bin/sh */
	const char	*script;	/* sh -c script, if path is NULL */
	const char	*arg;		/* $1 */
	int		 usep;		/* posix_spawnp */
	short		 flags;		/* POSIX_SPAWN_* */
	pid_t		 pgroup;
	const sigset_t	*sigmask;
	const sigset_t	*sigdefault;
	int		 no_stdout;	/* no dup2(OUTFD, 1) action */
	/* File actions after the stdout dup2, in this order. */
	const char	*open_path;
	int		 open_fd;
	int		 close_fd;
	const char	*chdir_path;
	int		 fchdir_fd;	/* 0 = none */
	int		 closefrom;	/* 0 = none */
	int		 dup2_from;	/* 0 = none */
	int		 dup2_to;
};

struct presult {
	int	ret;		/* posix_spawn's return */
	int	status;		/* wait status, -1 if none */
	char	out[4096];
};

static int
spawn_glibc(pid_t *pid, const struct prun *r, char *const argv[],
    char *const envp[])
{
	posix_spawn_file_actions_t	fa;
	posix_spawnattr_t		at;
	int				e;

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	if (!r->no_stdout)
		posix_spawn_file_actions_adddup2(&fa, OUTFD, 1);
	if (r->open_path != NULL)
		posix_spawn_file_actions_addopen(&fa, r->open_fd,
		    r->open_path, O_WRONLY|O_CREAT|O_TRUNC, 0640);
	if (r->close_fd > 0)
		posix_spawn_file_actions_addclose(&fa, r->close_fd);
	if (r->chdir_path != NULL)
		posix_spawn_file_actions_addchdir_np(&fa, r->chdir_path);
	if (r->fchdir_fd > 0)
		posix_spawn_file_actions_addfchdir_np(&fa, r->fchdir_fd);
	if (r->closefrom > 0)
		posix_spawn_file_actions_addclosefrom_np(&fa, r->closefrom);
	if (r->dup2_from > 0)
		posix_spawn_file_actions_adddup2(&fa, r->dup2_from,
		    r->dup2_to);
	posix_spawnattr_setflags(&at, r->flags);
	posix_spawnattr_setpgroup(&at, r->pgroup);
	if (r->sigmask != NULL)
		posix_spawnattr_setsigmask(&at, r->sigmask);
	if (r->sigdefault != NULL)
		posix_spawnattr_setsigdefault(&at, r->sigdefault);
	if (r->usep)
		e = posix_spawnp(pid, argv[0], &fa, &at, argv, envp);
	else
		e = posix_spawn(pid, r->path ? r->path : "/bin/sh", &fa, &at,
		    argv, envp);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	return e;
}

static int
spawn_spawnd(pid_t *pid, const struct prun *r, char *const argv[],
    char *const envp[])
{
	spawnd_posix_spawn_file_actions_t	fa;
	spawnd_posix_spawnattr_t		at;
	int					e;

	CHECK_INT(spawnd_posix_spawn_file_actions_init(&fa), ==, 0);
	CHECK_INT(spawnd_posix_spawnattr_init(&at), ==, 0);
	if (!r->no_stdout)
		CHECK_INT(spawnd_posix_spawn_file_actions_adddup2(&fa, OUTFD,
		    1), ==, 0);
	if (r->open_path != NULL)
		CHECK_INT(spawnd_posix_spawn_file_actions_addopen(&fa,
		    r->open_fd, r->open_path, O_WRONLY|O_CREAT|O_TRUNC, 0640),
		    ==, 0);
	if (r->close_fd > 0)
		CHECK_INT(spawnd_posix_spawn_file_actions_addclose(&fa,
		    r->close_fd), ==, 0);
	if (r->chdir_path != NULL)
		CHECK_INT(spawnd_posix_spawn_file_actions_addchdir_np(&fa,
		    r->chdir_path), ==, 0);
	if (r->fchdir_fd > 0)
		CHECK_INT(spawnd_posix_spawn_file_actions_addfchdir_np(&fa,
		    r->fchdir_fd), ==, 0);
	if (r->closefrom > 0)
		CHECK_INT(spawnd_posix_spawn_file_actions_addclosefrom_np(&fa,
		    r->closefrom), ==, 0);
	if (r->dup2_from > 0)
		CHECK_INT(spawnd_posix_spawn_file_actions_adddup2(&fa,
		    r->dup2_from, r->dup2_to), ==, 0);
	CHECK_INT(spawnd_posix_spawnattr_setflags(&at, r->flags), ==, 0);
	CHECK_INT(spawnd_posix_spawnattr_setpgroup(&at, r->pgroup), ==, 0);
	if (r->sigmask != NULL)
		CHECK_INT(spawnd_posix_spawnattr_setsigmask(&at, r->sigmask),
		    ==, 0);
	if (r->sigdefault != NULL)
		CHECK_INT(spawnd_posix_spawnattr_setsigdefault(&at,
		    r->sigdefault), ==, 0);
	if (r->usep)
		e = spawnd_posix_spawnp(pid, argv[0], &fa, &at, argv, envp);
	else
		e = spawnd_posix_spawn(pid, r->path ? r->path : "/bin/sh",
		    &fa, &at, argv, envp);
	spawnd_posix_spawnattr_destroy(&at);
	spawnd_posix_spawn_file_actions_destroy(&fa);
	return e;
}

/* Runs r through one implementation; fills res. */
static void
prun(int how, const struct prun *r, struct presult *res)
{
	extern char	**environ;
	char		 *argv[6];
	int		  p[2], n = 0;
	pid_t		  pid = -1, w;

	memset(res, 0, sizeof *res);
	res->status = -1;
	if (r->path != NULL || r->usep)
		argv[n++] = TL_UNCONST(r->path ? r->path : r->script);
	else {
		argv[n++] = TL_UNCONST("sh");
		argv[n++] = TL_UNCONST("-c");
		argv[n++] = TL_UNCONST(r->script);
		argv[n++] = TL_UNCONST("sh");
		if (r->arg != NULL)
			argv[n++] = TL_UNCONST(r->arg);
	}
	argv[n] = NULL;
	if (pipe2(p, O_CLOEXEC) == -1 || dup2(p[1], OUTFD) != OUTFD) {
		tl_fail(__FILE__, __LINE__, "pipe: %s", strerror(errno));
		return;
	}
	close(p[1]);
	if (how == GLIBC)
		res->ret = spawn_glibc(&pid, r, argv, environ);
	else
		res->ret = spawn_spawnd(&pid, r, argv, environ);
	close(OUTFD);
	if (res->ret == 0 && tl_read_all(p[0], res->out, sizeof res->out,
	    tl_scale(10000)) < 0)
		tl_fail(__FILE__, __LINE__, "%s: reading output: %s",
		    how_name[how], strerror(errno));
	close(p[0]);
	if (res->ret != 0)
		return;
	if (how == GLIBC)
		w = waitpid(pid, &res->status, 0);
	else
		w = spawnd_waitpid(pid, &res->status, 0);
	if (w != pid)
		tl_fail(__FILE__, __LINE__, "%s: waitpid(%d) = %d: %s",
		    how_name[how], (int)pid, (int)w, strerror(errno));
}

/*
 * Runs r both ways; CHECKs they agree with each other and with want_ret,
 * want_out (NULL: any) and want_status (-1: any).  Returns spawnd's.
 */
static void
both(const char *name, const struct prun *r, int want_ret,
    const char *want_out, int want_status, struct presult *ret_res)
{
	static struct presult	res[2];
	int			how;

	last = res;
	tl_log("== %s", name);
	for (how = GLIBC; how <= SPAWND; how++) {
		prun(how, r, &res[how]);
		if (res[how].ret != want_ret)
			tl_fail(__FILE__, __LINE__, "%s: %s returned %d (%s), "
			    "want %d (%s)", name, how_name[how], res[how].ret,
			    strerror(res[how].ret), want_ret,
			    strerror(want_ret));
		if (want_out != NULL && strcmp(res[how].out, want_out) != 0)
			tl_fail(__FILE__, __LINE__, "%s: %s output \"%s\", "
			    "want \"%s\"", name, how_name[how], res[how].out,
			    want_out);
		if (want_status != -1 && res[how].status != want_status)
			tl_fail(__FILE__, __LINE__, "%s: %s status 0x%x, want "
			    "0x%x", name, how_name[how], res[how].status,
			    want_status);
	}
	if (res[0].ret != res[1].ret || res[0].status != res[1].status ||
	    (same_output && strcmp(res[0].out, res[1].out) != 0))
		tl_fail(__FILE__, __LINE__, "%s: glibc (%d, 0x%x, \"%s\") and "
		    "spawnd (%d, 0x%x, \"%s\") differ", name, res[0].ret,
		    res[0].status, res[0].out, res[1].ret, res[1].status,
		    res[1].out);
	if (ret_res != NULL)
		*ret_res = res[SPAWND];
}

#define EXIT(n)	((n) << 8)	/* a wait status for exit(n) */

static const char sigline[] =
    "while read k v; do [ \"$k\" = \"$1\" ] && echo $v; done "
    "</proc/$$/status; exit 0";

/*
 * glibc's posix_spawn child ignores glibc's two internal signals (32 and
 * 33) until exec; they are no concern of the caller's.
 */
#define GLIBC_INTERNAL	(3ULL << 31)

/*
 * Runs the sigline script for field (SigBlk:/SigIgn:) both ways; CHECKs
 * both agree (but for glibc's internal signals) and returns the mask.
 */
static unsigned long long
sigmask_of(const char *name, struct prun *r, const char *field)
{
	unsigned long long	v[2];
	int			how;

	r->script = sigline;
	r->arg = field;
	same_output = 0;
	both(name, r, 0, NULL, EXIT(0), NULL);
	same_output = 1;
	for (how = GLIBC; how <= SPAWND; how++)
		v[how] = strtoull(last[how].out, NULL, 16) & ~GLIBC_INTERNAL;
	if (v[GLIBC] != v[SPAWND])
		tl_fail(__FILE__, __LINE__, "%s: %s glibc %llx, spawnd %llx",
		    name, field, v[GLIBC], v[SPAWND]);
	return v[SPAWND];
}

static void
on_signal(int sig)
{
	(void)sig;
}

static unsigned long long
sigbit(int sig)
{
	return 1ULL << (sig - 1);
}

static void
test_fds(void)
{
	struct prun	r = { .script =
			    "test -e /proc/$$/fd/30 || exit 1; "
			    "test -e /proc/$$/fd/31 && exit 2; exit 0" };
	int		fd;

	fd = open("/dev/null", O_RDONLY);
	CHECK(dup2(fd, 30) == 30);
	close(fd);
	fd = open("/dev/null", O_RDONLY|O_CLOEXEC);
	CHECK(dup3(fd, 31, O_CLOEXEC) == 31);
	close(fd);
	both("non-CLOEXEC fd inherited, CLOEXEC not", &r, 0, "", EXIT(0),
	    NULL);
	close(30);
	close(31);
}

static void
test_cwd(void)
{
	struct prun	r = { .script = "pwd -P" };
	char		want[1100];

	snprintf(want, sizeof want, "%s\n", realdir);
	CHECK(chdir(d.dir) == 0);
	both("cwd", &r, 0, want, EXIT(0), NULL);
	CHECK(chdir("/") == 0);
}

static void
test_umask(void)
{
	struct prun	r = { .script = "umask" };
	mode_t		old = umask(027);

	both("umask", &r, 0, "0027\n", EXIT(0), NULL);
	umask(old);
}

static void
test_signals(void)
{
	struct prun		r = { 0 };
	struct sigaction	sa, old_hup, old_usr2, old_int;
	sigset_t		set, oset, mask, def;
	unsigned long long	v;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	CHECK(pthread_sigmask(SIG_BLOCK, &set, &oset) == 0);
	v = sigmask_of("calling thread's signal mask", &r, "SigBlk:");
	CHECK((v & sigbit(SIGUSR1)) != 0);

	/* POSIX_SPAWN_SETSIGMASK replaces it. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGWINCH);
	r.flags = POSIX_SPAWN_SETSIGMASK;
	r.sigmask = &mask;
	v = sigmask_of("POSIX_SPAWN_SETSIGMASK", &r, "SigBlk:");
	CHECK((v & sigbit(SIGUSR1)) == 0);
	CHECK((v & sigbit(SIGWINCH)) != 0);
	CHECK(pthread_sigmask(SIG_SETMASK, &oset, NULL) == 0);

	/* Ignored stay ignored; caught become default. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGUSR2, &sa, &old_usr2);
	sigaction(SIGINT, &sa, &old_int);
	sa.sa_handler = on_signal;
	sigaction(SIGHUP, &sa, &old_hup);
	r = (struct prun){ 0 };
	v = sigmask_of("ignored signals", &r, "SigIgn:");
	CHECK((v & sigbit(SIGUSR2)) != 0);
	CHECK((v & sigbit(SIGINT)) != 0);
	CHECK((v & sigbit(SIGHUP)) == 0);

	/* POSIX_SPAWN_SETSIGDEF resets chosen ones. */
	sigemptyset(&def);
	sigaddset(&def, SIGUSR2);
	r.flags = POSIX_SPAWN_SETSIGDEF;
	r.sigdefault = &def;
	v = sigmask_of("POSIX_SPAWN_SETSIGDEF", &r, "SigIgn:");
	CHECK((v & sigbit(SIGUSR2)) == 0);
	CHECK((v & sigbit(SIGINT)) != 0);
	sigaction(SIGUSR2, &old_usr2, NULL);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGHUP, &old_hup, NULL);
}

static void
test_exec_errors(void)
{
	static const char	garbage[] = "\x01\x02\x03\x04garbage\n";
	struct prun		r = { 0 };
	char			p1[256], p2[256], p3[256], p4[256];

	if (tl_skip_exec_errors("exec errors"))
		return;
	snprintf(p1, sizeof p1, "%s/missing", d.dir);
	r.path = p1;
	both("exec ENOENT", &r, ENOENT, NULL, -1, NULL);

	snprintf(p2, sizeof p2, "%s/noexec", d.dir);
	CHECK(tl_write_file(p2, "#!/bin/sh\n", 10, 0644) == 0);
	r.path = p2;
	both("exec EACCES", &r, EACCES, NULL, -1, NULL);

	snprintf(p3, sizeof p3, "%s/garbage", d.dir);
	CHECK(tl_write_file(p3, garbage, sizeof garbage - 1, 0755) == 0);
	r.path = p3;
	both("exec ENOEXEC", &r, ENOEXEC, NULL, -1, NULL);

	snprintf(p4, sizeof p4, "%s/noexec/x", d.dir);
	r.path = p4;
	both("exec ENOTDIR", &r, ENOTDIR, NULL, -1, NULL);

	r = (struct prun){ .script = "no-such-program-spawnd-test",
	    .usep = 1 };
	both("spawnp ENOENT", &r, ENOENT, NULL, -1, NULL);
	r = (struct prun){ .script = "true", .usep = 1 };
	both("spawnp true", &r, 0, "", EXIT(0), NULL);

	r = (struct prun){ .script = "exit 0" };
	r.chdir_path = p1;
	both("addchdir to a missing dir", &r, ENOENT, NULL, -1, NULL);
}

static void
test_file_actions(void)
{
	struct prun	r = { 0 };
	char		path[256], buf[256], want[1100];
	int		fd;

	snprintf(path, sizeof path, "%s/opened", d.dir);
	r.script = "echo to-fd-5 >&5";
	r.open_path = path;
	r.open_fd = 5;
	both("addopen", &r, 0, "", EXIT(0), NULL);
	fd = open(path, O_RDONLY|O_CLOEXEC);
	CHECK(fd != -1);
	CHECK(tl_read_all(fd, buf, sizeof buf, 1000) >= 0);
	CHECK_STR(buf, "to-fd-5\n");
	close(fd);

	fd = open("/dev/null", O_RDONLY);
	CHECK(dup2(fd, 30) == 30);
	close(fd);
	r = (struct prun){ .script = "test -e /proc/$$/fd/30 && exit 1; "
	    "exit 0", .close_fd = 30 };
	both("addclose", &r, 0, "", EXIT(0), NULL);

	r = (struct prun){ .script = "echo moved >&7", .dup2_from = OUTFD,
	    .dup2_to = 7 };
	both("adddup2 to a free fd", &r, 0, "moved\n", EXIT(0), NULL);

	snprintf(want, sizeof want, "%s\n", realdir);
	r = (struct prun){ .script = "pwd -P", .chdir_path = d.dir };
	both("addchdir_np", &r, 0, want, EXIT(0), NULL);

	fd = open(d.dir, O_RDONLY|O_DIRECTORY);
	CHECK(dup2(fd, 32) == 32);
	close(fd);
	r = (struct prun){ .script = "pwd -P", .fchdir_fd = 32 };
	both("addfchdir_np", &r, 0, want, EXIT(0), NULL);
	close(32);

	fd = open("/dev/null", O_RDONLY);
	CHECK(dup2(fd, 30) == 30);
	close(fd);
	r = (struct prun){ .script = "ls /proc/$$/fd; exit 0",
	    .closefrom = 3 };
	both("addclosefrom_np", &r, 0, "0\n1\n2\n", EXIT(0), NULL);
	close(30);

	/*
	 * dup2 from a CLOEXEC fd of the caller: posix_spawn's child has all
	 * the caller's fds until exec, so this works there.
	 */
	fd = open("/dev/null", O_WRONLY|O_CLOEXEC);
	CHECK(dup3(fd, 34, O_CLOEXEC) == 34);
	close(fd);
	r = (struct prun){ .script = "test -e /proc/$$/fd/7 && "
	    "! test -e /proc/$$/fd/34 && exit 0; exit 1", .dup2_from = 34,
	    .dup2_to = 7 };
	both("adddup2 from a CLOEXEC fd", &r, 0, "", EXIT(0), NULL);

	/* adddup2(fd, fd) clears FD_CLOEXEC: the child keeps it. */
	r = (struct prun){ .script = "test -e /proc/$$/fd/34 || exit 1; "
	    "exit 0", .dup2_from = 34, .dup2_to = 34 };
	both("adddup2(fd, fd) of a CLOEXEC fd", &r, 0, "", EXIT(0), NULL);
	close(34);
}

/* Prints "pid pgrp session" of the shell. */
static const char statline[] =
    "read l </proc/$$/stat; set -- $l; echo $1 $5 $6";

static void
test_pgroup_setsid(void)
{
	struct prun	r = { .script = statline };
	struct presult	res;
	long		pid, pgrp, sid;

	same_output = 0;	/* pids differ */
	r.flags = POSIX_SPAWN_SETPGROUP;
	r.pgroup = 0;
	both("POSIX_SPAWN_SETPGROUP 0", &r, 0, NULL, EXIT(0), &res);
	CHECK(sscanf(res.out, "%ld %ld %ld", &pid, &pgrp, &sid) == 3);
	CHECK_INT(pgrp, ==, pid);
	CHECK_INT(sid, !=, pid);

	r.flags = POSIX_SPAWN_SETSID;
	both("POSIX_SPAWN_SETSID", &r, 0, NULL, EXIT(0), &res);
	CHECK(sscanf(res.out, "%ld %ld %ld", &pid, &pgrp, &sid) == 3);
	CHECK_INT(sid, ==, pid);
	CHECK_INT(pgrp, ==, pid);
	same_output = 1;
}

static void
test_statuses(void)
{
	static const struct {
		const char	*script;
		int		 status;
	} t[] = {
		{ "exit 0", EXIT(0) },
		{ "exit 3", EXIT(3) },
		{ "exit 255", EXIT(255) },
		{ "kill -TERM $$", SIGTERM },
		{ "kill -KILL $$", SIGKILL },
	};
	struct prun	r = { 0 };
	char		name[64];
	size_t		i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		r.script = t[i].script;
		snprintf(name, sizeof name, "status of '%s'", t[i].script);
		both(name, &r, 0, "", t[i].status, NULL);
	}
}

static pid_t
spawn_sh(const char *script)
{
	extern char	**environ;
	char		 *argv[] = { TL_UNCONST("sh"), TL_UNCONST("-c"),
			    TL_UNCONST(script), NULL };
	pid_t		  pid = -1;
	int		  e;

	e = spawnd_posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ);
	if (e != 0)
		tl_fail(__FILE__, __LINE__, "spawnd_posix_spawn: %s",
		    strerror(e));
	return pid;
}

static void
test_waitpid(void)
{
	pid_t	pid, a, b, w1, w2;
	int	st, st1, st2;

	tl_log("== spawnd_waitpid WNOHANG");
	if ((pid = spawn_sh("sleep 0.5; exit 6")) > 0) {
		st = 12345;
		CHECK_INT(spawnd_waitpid(pid, &st, WNOHANG), ==, 0);
		CHECK_INT(spawnd_waitpid(pid, &st, 0), ==, pid);
		CHECK_INT(st, ==, EXIT(6));
		errno = 0;
		CHECK_INT(spawnd_waitpid(pid, &st, WNOHANG), ==, -1);
		CHECK_INT(errno, ==, ECHILD);
	}

	tl_log("== spawnd_waitpid(-1)");
	a = spawn_sh("exit 4");
	b = spawn_sh("sleep 0.2; exit 5");
	if (a > 0 && b > 0) {
		w1 = spawnd_waitpid(-1, &st1, 0);
		w2 = spawnd_waitpid(-1, &st2, 0);
		CHECK((w1 == a && w2 == b) || (w1 == b && w2 == a));
		CHECK_INT(w1 == a ? st1 : st2, ==, EXIT(4));
		CHECK_INT(w1 == b ? st1 : st2, ==, EXIT(5));
		/*
		 * None of ours left: waitpid(2)'s business, and this process
		 * has a live child of its own (the daemon), so 0.
		 */
		CHECK_INT(spawnd_waitpid(-1, &st, WNOHANG), ==, 0);
	}
	/* NULL status is allowed, as for waitpid. */
	if ((pid = spawn_sh("exit 0")) > 0)
		CHECK_INT(spawnd_waitpid(pid, NULL, 0), ==, pid);
}

/* Runs script through the posix face and returns its wait status. */
static int
run_sh(const char *script)
{
	pid_t	pid;
	int	st = -1;

	if ((pid = spawn_sh(script)) > 0 &&
	    spawnd_waitpid(pid, &st, 0) != pid)
		tl_fail(__FILE__, __LINE__, "spawnd_waitpid: %s",
		    strerror(errno));
	return st;
}

static void
test_pool(void)
{
	struct tl_daemon d2;
	unsigned long	 a[64], b[64];
	char		 link[256];
	int		 na = 0, nb;
	pid_t		 pid, kid;
	int		 st, i;

	tl_log("== a reaped child's connection serves the next spawn");
	CHECK_INT(run_sh("exit 0"), ==, EXIT(0));
	if ((pid = spawn_sh("sleep 0.2")) > 0) {
		na = tl_sockets(a, 64);
		CHECK_INT(spawnd_waitpid(pid, &st, 0), ==, pid);
	}
	if ((pid = spawn_sh("sleep 0.2")) > 0) {
		nb = tl_sockets(b, 64);
		CHECK_INT(spawnd_waitpid(pid, &st, 0), ==, pid);
		CHECK_INT(nb, ==, na);
		CHECK(na > 0 && na <= 64 &&
		    memcmp(a, b, (size_t)na * sizeof a[0]) == 0);
	}
	for (i = 0; i < 20; i++)
		CHECK_INT(run_sh("exit 0"), ==, EXIT(0));
	nb = tl_sockets(b, 64);
	CHECK_INT(nb, <=, na);

	tl_log("== a fork's child makes its own connections");
	CHECK_INT(run_sh("exit 0"), ==, EXIT(0));
	if ((kid = fork()) == 0) {
		/* Both use the pool at once: the parent must not see this. */
		_exit(run_sh("sleep 0.3; exit 3") == EXIT(3) ? 0 : 1);
	}
	CHECK_INT(run_sh("exit 4"), ==, EXIT(4));
	CHECK_INT(run_sh("sleep 0.4; exit 5"), ==, EXIT(5));
	CHECK_INT(waitpid(kid, &st, 0), ==, kid);
	CHECK_INT(st, ==, 0);

	tl_log("== a pooled connection to a daemon since restarted");
	snprintf(link, sizeof link, "%s/link", d.dir);
	CHECK_INT(setenv("SPAWND_SOCKET", link, 1), ==, 0);
	if (tl_start(&d2) == 0) {
		CHECK_INT(symlink(d2.sock, link), ==, 0);
		CHECK_INT(run_sh("exit 7"), ==, EXIT(7));
		tl_stop(&d2);
		CHECK_INT(tl_start(&d2), ==, 0);
		CHECK_INT(unlink(link), ==, 0);
		CHECK_INT(symlink(d2.sock, link), ==, 0);
		/* Its pooled connection is dead: a new one is made. */
		CHECK_INT(run_sh("exit 8"), ==, EXIT(8));
		CHECK_INT(run_sh("exit 9"), ==, EXIT(9));
		tl_stop(&d2);
	}
	CHECK_INT(setenv("SPAWND_SOCKET", d.sock, 1), ==, 0);
	CHECK_INT(run_sh("exit 10"), ==, EXIT(10));
}

int
main(void)
{
	char	*rp;

	signal(SIGPIPE, SIG_IGN);
	if (tl_valgrind()) {
		/*
		 * valgrind 3.19 fails the exec of these children inside its
		 * execve emulation (no exec syscall is made: exit 127).
		 */
		fprintf(stderr, "posix-face children do not exec under "
		    "valgrind: skipping\n");
		return TL_SKIP;
	}
	if (tl_start(&d) != 0)
		goto out;
	if ((rp = realpath(d.dir, NULL)) == NULL) {
		tl_fail(__FILE__, __LINE__, "realpath: %s", strerror(errno));
		goto out;
	}
	snprintf(realdir, sizeof realdir, "%s", rp);
	free(rp);
	if (setenv("SPAWND_SOCKET", d.sock, 1) == -1 ||
	    setenv("PATH", "/usr/bin:/bin", 1) == -1) {
		tl_fail(__FILE__, __LINE__, "setenv: %s", strerror(errno));
		goto out;
	}

	test_fds();
	test_cwd();
	test_umask();
	test_signals();
	test_exec_errors();
	test_file_actions();
	test_pgroup_setsid();
	test_statuses();
	test_waitpid();
	test_pool();
out:
	tl_stop(&d);
	return tl_exit();
}
