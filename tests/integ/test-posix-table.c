/*
 * test-posix-table: the posix face against glibc's posix_spawn, compared
 * through the probe's report (tests/helpers/probe.c).
 *
 * Every row of the table is run twice with the same argv, envp, file
 * actions and attributes, and the same state of ours (umask, cwd, signal
 * mask and dispositions, rlimits, nice, scheduling, open fds): through
 * glibc's posix_spawn[p]() + waitpid(), and through spawnd_posix_spawn[p]()
 * + spawnd_waitpid().  The return values must be equal, the wait statuses
 * must be equal, and the two reports must be equal key by key, except:
 *
 *	pid, ppid	two different processes; the daemon, not we, is the
 *			parent of spawnd's child
 *	sid, pgid,	glibc's child starts in our session and process
 *	tpgid		group, spawnd's in the daemon's (which left ours at
 *			start-up): the numbers differ by design.  Whether the
 *			child leads its own group or session (pgid_is_pid,
 *			sid_is_pid) is compared.
 *	sig.32, sig.33	glibc's posix_spawn sets its internal signals
 *	(and their	(SIGCANCEL, SIGSETXID), which it handles, to
 *	sig.ign bits)	SIG_IGN in the child, and exec keeps that: its
 *			children start with 32 and 33 ignored.  spawnd's
 *			start with them at SIG_DFL, as after fork+exec.
 *
 * Not in the table: glibc's posix_spawnattr_setschedpolicy() takes only
 * SCHED_OTHER, SCHED_FIFO and SCHED_RR, spawnd's also SCHED_BATCH and
 * SCHED_IDLE (documented in posix.c); checked on its own.
 *
 * The report goes to fd OUTFD, one pipe for all runs, inherited by both
 * children (not close-on-exec), so its target is the same string in both.
 */

#include <sys/resource.h>

#include <sched.h>
#include <spawn.h>

#include "testlib.h"

#define OUTFD		60	/* the report's pipe, inherited */
#define FD_DIR		40	/* ours, CLOEXEC: the directory "sub" */
#define FD_FILE		41	/* ours, CLOEXEC: the file "f.txt" */
#define FD_KEEP		42	/* ours, inherited: /dev/null */
#define FD_HIGH		300	/* ours, inherited: "f.txt" */
#define KV_MAX		1024
#define REP_SIZE	(256 * 1024)
#define MAX_ACTS	8

enum { A_NONE, A_OPEN, A_CLOSE, A_DUP2, A_CHDIR, A_FCHDIR, A_CLOSEFROM,
    A_TCSETPGRP };

struct act {
	int		 kind;
	int		 fd;
	int		 newfd;
	const char	*path;		/* "@pty": the pty's slave */
	int		 oflag;
};

/* One row: the request, and our own state while it runs. */
struct pcase {
	const char	*name;
	const char	*file;		/* NULL: the probe, full path */
	int		 usep;		/* posix_spawnp */
	const char	*extra[4];	/* probe arguments after -o OUTFD */
	int		 env;		/* 0 {"A=1"}, 1 NULL, 2 our PATH */
	short		 flags;		/* POSIX_SPAWN_* */
	pid_t		 pgroup;
	int		 mask[4];	/* 0-terminated signal lists */
	int		 def[4];
	int		 policy;
	int		 prio;
	struct act	 acts[MAX_ACTS];
	/* Our state. */
	mode_t		 umask;		/* 0: 022 */
	int		 nice;
	int		 batch;		/* SCHED_BATCH for this thread */
	rlim_t		 nofile;	/* 0: unchanged */
	const char	*cwd;		/* NULL: the test directory */
	const char	*path;		/* our PATH; NULL: the test dir */
	int		 pty;		/* needs the pty */
	int		 known;		/* a documented difference */
};

struct rep {
	char	 buf[REP_SIZE];
	int	 n;
	char	*key[KV_MAX];
	char	*val[KV_MAX];
};

struct result {
	int		 ret;
	int		 status;
	struct rep	 rep;
};

static struct tl_daemon	 d;
static char		 probe[PATH_MAX];
static char		 tmp[512];
static char		 ptyname[128];
static char		 pathenv[PATH_MAX + 8];
static int		 outr = -1;	/* the report pipe's read end */
static struct result	 res[2];
static int		 ndiff;

static const struct pcase cases[] = {
	{ .name = "plain" },
	{ .name = "exit 3", .extra = { "-x", "3" } },
	{ .name = "killed by SIGTERM", .extra = { "-k", "15" } },
	{ .name = "envp NULL", .env = 1 },
	{ .name = "spawnp, our PATH in envp", .file = "probe", .usep = 1,
	    .env = 2 },
	{ .name = "spawnp, another PATH in envp", .file = "probe", .usep = 1 },
	{ .name = "spawnp missing", .file = "no-such-probe", .usep = 1 },
	/*
	 * A relative PATH entry is searched from the child's cwd after the
	 * file actions.  With envp's PATH equal to ours the daemon searches
	 * and matches glibc; with another one the library searches from our
	 * cwd, which posix.c documents as the one inexact case.
	 */
	{ .name = "spawnp, relative PATH after chdir", .file = "probe",
	    .usep = 1, .env = 2, .path = "pbin", .acts = {
	    { A_CHDIR, 0, 0, "sub", 0 } } },
	{ .name = "spawnp, relative PATH after chdir, other envp",
	    .file = "probe", .usep = 1, .path = "pbin", .known = 1, .acts = {
	    { A_CHDIR, 0, 0, "sub", 0 } } },
	{ .name = "spawnp not executable", .file = "noexec", .usep = 1,
	    .env = 2 },
	{ .name = "spawnp ENOEXEC", .file = "garbage", .usep = 1, .env = 2 },
	{ .name = "spawn ENOENT", .file = "missing" },
	{ .name = "spawn EACCES", .file = "noexec" },
	{ .name = "spawn ENOEXEC", .file = "garbage" },
	{ .name = "spawn ENOTDIR", .file = "garbage/x" },
	{ .name = "spawn a directory", .file = "sub" },
	{ .name = "caller's umask 027", .umask = 027 },
	{ .name = "caller's cwd sub", .cwd = "sub" },
	{ .name = "caller's RLIMIT_NOFILE 900, FSIZE 1 TiB", .nofile = 900 },
	{ .name = "caller's nice 3", .nice = 3 },
	{ .name = "caller's SCHED_BATCH", .batch = 1 },
	{ .name = "SETSIGMASK", .flags = POSIX_SPAWN_SETSIGMASK,
	    .mask = { SIGUSR1, SIGHUP, 40 } },
	{ .name = "SETSIGDEF", .flags = POSIX_SPAWN_SETSIGDEF,
	    .def = { SIGINT, SIGUSR2, SIGHUP } },
	{ .name = "SETPGROUP 0", .flags = POSIX_SPAWN_SETPGROUP },
	{ .name = "SETPGROUP missing", .flags = POSIX_SPAWN_SETPGROUP,
	    .pgroup = 999999 },
	{ .name = "SETSID", .flags = POSIX_SPAWN_SETSID },
	{ .name = "SETSID and SETPGROUP 0", .flags = POSIX_SPAWN_SETSID |
	    POSIX_SPAWN_SETPGROUP },
	{ .name = "SETSCHEDULER rr 3", .flags = POSIX_SPAWN_SETSCHEDULER,
	    .policy = SCHED_RR, .prio = 3 },
	{ .name = "SETSCHEDULER fifo 5", .flags = POSIX_SPAWN_SETSCHEDULER,
	    .policy = SCHED_FIFO, .prio = 5 },
	{ .name = "SETSCHEDULER fifo 500", .flags = POSIX_SPAWN_SETSCHEDULER,
	    .policy = SCHED_FIFO, .prio = 500 },
	{ .name = "SETSCHEDPARAM 0", .flags = POSIX_SPAWN_SETSCHEDPARAM },
	{ .name = "RESETIDS", .flags = POSIX_SPAWN_RESETIDS },
	{ .name = "open, chdir, open", .acts = {
	    { A_OPEN, 3, 0, "f.txt", O_RDONLY },
	    { A_CHDIR, 0, 0, "sub", 0 },
	    { A_OPEN, 4, 0, "g.txt", O_RDWR },
	    { A_OPEN, 5, 0, "new.txt", O_WRONLY | O_CREAT | O_TRUNC } } },
	{ .name = "open, dup2, close", .acts = {
	    { A_OPEN, 5, 0, "f.txt", O_RDONLY },
	    { A_DUP2, 5, 6, NULL, 0 },
	    { A_CLOSE, 5, 0, NULL, 0 } } },
	{ .name = "open, close, dup2", .acts = {
	    { A_OPEN, 5, 0, "f.txt", O_RDONLY },
	    { A_CLOSE, 5, 0, NULL, 0 },
	    { A_DUP2, 5, 6, NULL, 0 } } },
	{ .name = "close not open, close inherited", .acts = {
	    { A_CLOSE, 9, 0, NULL, 0 },
	    { A_CLOSE, FD_KEEP, 0, NULL, 0 } } },
	{ .name = "dup2(fd, fd) of a CLOEXEC fd", .acts = {
	    { A_DUP2, FD_FILE, FD_FILE, NULL, 0 } } },
	{ .name = "dup2 from a CLOEXEC fd", .acts = {
	    { A_DUP2, FD_FILE, 7, NULL, 0 } } },
	{ .name = "dup2 from a bad fd", .acts = {
	    { A_DUP2, 77, 7, NULL, 0 } } },
	{ .name = "dup2 over the inherited", .acts = {
	    { A_DUP2, FD_FILE, FD_KEEP, NULL, 0 } } },
	{ .name = "fchdir to a CLOEXEC dir fd", .acts = {
	    { A_FCHDIR, FD_DIR, 0, NULL, 0 },
	    { A_OPEN, 3, 0, "g.txt", O_RDONLY } } },
	{ .name = "fchdir to a file", .acts = {
	    { A_FCHDIR, FD_FILE, 0, NULL, 0 } } },
	{ .name = "chdir missing", .acts = {
	    { A_OPEN, 3, 0, "f.txt", O_RDONLY },
	    { A_CHDIR, 0, 0, "nope", 0 } } },
	{ .name = "open missing", .acts = {
	    { A_OPEN, 3, 0, "nope", O_RDONLY } } },
	{ .name = "open a directory to write", .acts = {
	    { A_OPEN, 3, 0, "sub", O_WRONLY } } },
	{ .name = "closefrom 61", .acts = {
	    { A_OPEN, 70, 0, "f.txt", O_RDONLY },
	    { A_OPEN, 61, 0, "f.txt", O_RDONLY },
	    { A_CLOSEFROM, 61, 0, NULL, 0 } } },
	{ .name = "closefrom 3, OUTFD kept through 1", .acts = {
	    { A_DUP2, OUTFD, 1, NULL, 0 },
	    { A_CLOSEFROM, 3, 0, NULL, 0 },
	    { A_DUP2, 1, OUTFD, NULL, 0 } } },
	{ .name = "tcsetpgrp of the new session's tty", .pty = 1,
	    .flags = POSIX_SPAWN_SETSID, .acts = {
	    { A_OPEN, 0, 0, "@pty", O_RDWR },
	    { A_TCSETPGRP, 0, 0, NULL, 0 } } },
	{ .name = "tcsetpgrp of no ctty", .pty = 1, .acts = {
	    { A_OPEN, 0, 0, "@pty", O_RDWR | O_NOCTTY },
	    { A_TCSETPGRP, 0, 0, NULL, 0 } } },
	{ .name = "many at once", .umask = 077, .flags =
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
	    POSIX_SPAWN_SETPGROUP, .mask = { SIGTERM }, .def = { SIGINT },
	    .acts = {
	    { A_CHDIR, 0, 0, "sub", 0 },
	    { A_OPEN, 8, 0, "g.txt", O_RDONLY | O_CLOEXEC },
	    { A_DUP2, 8, 9, NULL, 0 },
	    { A_CLOSE, FD_KEEP, 0, NULL, 0 } } },
};

static void	compare_reports(const struct pcase *);

static void
parse(struct rep *r, size_t len)
{
	char	*p = r->buf, *nl, *eq;

	r->n = 0;
	r->buf[len] = '\0';
	while (r->n < KV_MAX && (nl = strchr(p, '\n')) != NULL) {
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

/* Reads the pipe up to the report's "end=1" line (5 s at most). */
static ssize_t
read_report(char *buf, size_t len)
{
	struct pollfd	pfd = { .fd = outr, .events = POLLIN };
	uint64_t	end = tl_now_ms() + (uint64_t)tl_scale(5000), t;
	size_t		got = 0;
	ssize_t		n;

	buf[0] = '\0';
	while (strstr(buf, "end=1\n") == NULL) {
		t = tl_now_ms();
		if (t >= end || got + 1 >= len ||
		    poll(&pfd, 1, (int)(end - t)) != 1)
			return -1;
		n = read(outr, buf + got, len - 1 - got);
		if (n <= 0)
			return -1;
		got += (size_t)n;
		buf[got] = '\0';
	}
	return (ssize_t)got;
}

/* The same two functions for both faces, from one template. */
#define SPAWN_FN(NAME, PFX, SPAWN, SPAWNP)				\
static int								\
NAME(const struct pcase *c, pid_t *pid, char *const argv[],		\
    char *const envp[])							\
{									\
	PFX##_file_actions_t	fa;					\
	PFX##attr_t		at;					\
	sigset_t		set;					\
	struct sched_param	sp = { .sched_priority = c->prio };	\
	const struct act	*a;					\
	const char		*path;				\
	int			 i, e;				\
									\
	PFX##_file_actions_init(&fa);					\
	PFX##attr_init(&at);						\
	for (a = c->acts; a < c->acts + MAX_ACTS && a->kind; a++) {	\
		path = a->path != NULL && strcmp(a->path, "@pty") == 0 ? \
		    ptyname : a->path;					\
		switch (a->kind) {					\
		case A_OPEN:						\
			e = PFX##_file_actions_addopen(&fa, a->fd, path, \
			    a->oflag, 0640);				\
			break;						\
		case A_CLOSE:						\
			e = PFX##_file_actions_addclose(&fa, a->fd);	\
			break;						\
		case A_DUP2:						\
			e = PFX##_file_actions_adddup2(&fa, a->fd,	\
			    a->newfd);					\
			break;						\
		case A_CHDIR:						\
			e = PFX##_file_actions_addchdir_np(&fa, path);	\
			break;						\
		case A_FCHDIR:						\
			e = PFX##_file_actions_addfchdir_np(&fa, a->fd); \
			break;						\
		case A_CLOSEFROM:					\
			e = PFX##_file_actions_addclosefrom_np(&fa,	\
			    a->fd);					\
			break;						\
		default:						\
			e = PFX##_file_actions_addtcsetpgrp_np(&fa,	\
			    a->fd);					\
			break;						\
		}							\
		if (e != 0)						\
			tl_fail(__FILE__, __LINE__, "%s: action %d: %s", \
			    c->name, (int)(a - c->acts), strerror(e));	\
	}								\
	PFX##attr_setflags(&at, c->flags);				\
	PFX##attr_setpgroup(&at, c->pgroup);				\
	sigemptyset(&set);						\
	for (i = 0; i < 4 && c->mask[i] != 0; i++)			\
		sigaddset(&set, c->mask[i]);				\
	PFX##attr_setsigmask(&at, &set);				\
	sigemptyset(&set);						\
	for (i = 0; i < 4 && c->def[i] != 0; i++)			\
		sigaddset(&set, c->def[i]);				\
	PFX##attr_setsigdefault(&at, &set);				\
	PFX##attr_setschedpolicy(&at, c->policy);			\
	PFX##attr_setschedparam(&at, &sp);				\
	path = c->file != NULL ? c->file : probe;			\
	if (c->usep)							\
		e = SPAWNP(pid, path, &fa, &at, argv, envp);		\
	else								\
		e = SPAWN(pid, path, &fa, &at, argv, envp);		\
	PFX##attr_destroy(&at);						\
	PFX##_file_actions_destroy(&fa);				\
	return e;							\
}

SPAWN_FN(spawn_glibc, posix_spawn, posix_spawn, posix_spawnp)
SPAWN_FN(spawn_spawnd, spawnd_posix_spawn, spawnd_posix_spawn,
    spawnd_posix_spawnp)

/* Runs c one way (0 glibc, 1 spawnd) into res[how]. */
static void
run_one(const struct pcase *c, int how)
{
	char *const	 argv[] = { TL_UNCONST("probe"), TL_UNCONST("-o"),
			    TL_UNCONST("60"), TL_UNCONST(c->extra[0]),
			    TL_UNCONST(c->extra[1]), NULL };
	char		*envp[3] = { NULL, NULL, NULL };
	struct result	*r = &res[how];
	pid_t		 pid = -1, w;
	ssize_t		 n;

	if (c->env == 0)
		envp[0] = TL_UNCONST("A=1");
	else if (c->env == 2)
		envp[0] = pathenv;
	r->status = -1;
	r->rep.n = 0;
	r->ret = how == 0 ?
	    spawn_glibc(c, &pid, argv, c->env == 1 ? NULL : envp) :
	    spawn_spawnd(c, &pid, argv, c->env == 1 ? NULL : envp);
	if (r->ret != 0)
		return;
	n = read_report(r->rep.buf, sizeof r->rep.buf);
	if (n < 0 && c->extra[0] == NULL)
		tl_fail(__FILE__, __LINE__, "%s: %s: no report", c->name,
		    how ? "spawnd" : "glibc");
	parse(&r->rep, n < 0 ? 0 : (size_t)n);
	w = how == 0 ? waitpid(pid, &r->status, 0) :
	    spawnd_waitpid(pid, &r->status, 0);
	if (w != pid)
		tl_fail(__FILE__, __LINE__, "%s: %s: wait: %s", c->name,
		    how ? "spawnd_waitpid" : "waitpid", strerror(errno));
	if (rget(&r->rep, "pid") != NULL && atoi(rget(&r->rep, "pid")) != pid)
		tl_fail(__FILE__, __LINE__, "%s: pid %d, the child says %s",
		    c->name, (int)pid, rget(&r->rep, "pid"));
}

/* Fields that differ by design: see the top of the file. */
static int
excluded(const char *key)
{
	return strcmp(key, "pid") == 0 || strcmp(key, "ppid") == 0 ||
	    strcmp(key, "sid") == 0 || strcmp(key, "pgid") == 0 ||
	    strcmp(key, "tpgid") == 0 ||
	    strcmp(key, "sig.32") == 0 || strcmp(key, "sig.33") == 0;
}

/* Whether two values of key are the same (sig.ign without 32, 33). */
static int
same(const char *key, const char *a, const char *b)
{
	const unsigned long long internal = 3ULL << 31;

	if (strcmp(key, "sig.ign") == 0)
		return (strtoull(a, NULL, 16) & ~internal) ==
		    (strtoull(b, NULL, 16) & ~internal);
	return strcmp(a, b) == 0;
}

static void
compare(const struct pcase *c)
{
	if (res[0].ret != 0 && tl_skip_exec_errors(c->name))
		return;
	if (c->known) {
		tl_log("%-40s ret %d/%d status 0x%x/0x%x: a documented "
		    "difference, not checked", c->name, res[0].ret,
		    res[1].ret, res[0].status, res[1].status);
		return;
	}
	compare_reports(c);
}

static void
compare_reports(const struct pcase *c)
{
	const struct rep	*g = &res[0].rep, *s = &res[1].rep;
	const char		*v;
	int			 i, before = ndiff;

	if (res[0].ret != res[1].ret) {
		tl_fail(__FILE__, __LINE__, "%s: returns: glibc %d (%s), "
		    "spawnd %d (%s)", c->name, res[0].ret,
		    strerror(res[0].ret), res[1].ret, strerror(res[1].ret));
		ndiff++;
	}
	if (res[0].status != res[1].status) {
		tl_fail(__FILE__, __LINE__, "%s: wait status: glibc 0x%x, "
		    "spawnd 0x%x", c->name, res[0].status, res[1].status);
		ndiff++;
	}
	for (i = 0; i < g->n; i++) {
		if (excluded(g->key[i]))
			continue;
		v = rget(s, g->key[i]);
		if (v == NULL || !same(g->key[i], g->val[i], v)) {
			tl_fail(__FILE__, __LINE__, "%s: %s: glibc \"%s\", "
			    "spawnd %s%s%s", c->name, g->key[i], g->val[i],
			    v ? "\"" : "", v ? v : "nothing", v ? "\"" : "");
			ndiff++;
		}
	}
	for (i = 0; i < s->n; i++) {
		if (!excluded(s->key[i]) && rget(g, s->key[i]) == NULL) {
			tl_fail(__FILE__, __LINE__, "%s: %s: glibc nothing, "
			    "spawnd \"%s\"", c->name, s->key[i], s->val[i]);
			ndiff++;
		}
	}
	tl_log("%-40s ret %d/%d status 0x%x/0x%x, %d keys: %s", c->name,
	    res[0].ret, res[1].ret, res[0].status, res[1].status, g->n,
	    ndiff == before ? "same" : "DIFFERENT");
}

/* Our state for c, around both runs. */
static void
run_case(const struct pcase *c)
{
	struct sched_param	 sp = { 0 };
	struct rlimit		 rl, old_rl, old_fsize;
	mode_t			 old_umask;
	int			 old_nice, how;

	if (c->pty && ptyname[0] == '\0') {
		tl_log("%-40s skipped: no pty", c->name);
		return;
	}
	old_umask = umask(c->umask ? c->umask : 022);
	errno = 0;
	old_nice = getpriority(PRIO_PROCESS, 0);
	if (c->nice)
		CHECK(setpriority(PRIO_PROCESS, 0, c->nice) == 0);
	if (c->batch)
		CHECK(sched_setscheduler(0, SCHED_BATCH, &sp) == 0);
	(void)getrlimit(RLIMIT_NOFILE, &old_rl);
	(void)getrlimit(RLIMIT_FSIZE, &old_fsize);
	if (c->nofile) {
		rl = old_rl;
		rl.rlim_cur = c->nofile;
		CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
		/* A 13-digit soft limit under an unlimited hard one. */
		rl = old_fsize;
		if (rl.rlim_max == RLIM_INFINITY ||
		    rl.rlim_max > ((rlim_t)1 << 40)) {
			rl.rlim_cur = (rlim_t)1 << 40;
			CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
		}
	}
	if (c->cwd != NULL)
		CHECK(chdir(c->cwd) == 0);
	snprintf(pathenv, sizeof pathenv, "PATH=%s", c->path ? c->path : tmp);
	CHECK(setenv("PATH", pathenv + 5, 1) == 0);
	for (how = 0; how < 2; how++)
		run_one(c, how);
	if (c->cwd != NULL)
		CHECK(chdir(tmp) == 0);
	(void)setrlimit(RLIMIT_NOFILE, &old_rl);
	(void)setrlimit(RLIMIT_FSIZE, &old_fsize);
	if (c->batch)
		(void)sched_setscheduler(0, SCHED_OTHER, &sp);
	(void)setpriority(PRIO_PROCESS, 0, old_nice);
	(void)umask(old_umask);
	compare(c);
}

/* Files, fds and signal state shared by every row. */
static int
setup(void)
{
	struct sigaction	sa;
	sigset_t		set;
	int			p[2], fd, m;

	CHECK(chdir(tmp) == 0);
	CHECK(mkdir("sub", 0755) == 0);
	CHECK(tl_write_file("f.txt", "f\n", 2, 0644) == 0);
	CHECK(tl_write_file("sub/g.txt", "g\n", 2, 0644) == 0);
	CHECK(tl_write_file("noexec", "#!/bin/sh\n", 10, 0644) == 0);
	CHECK(tl_write_file("garbage", "\x01\x02garbage\n", 10, 0755) == 0);
	/* The probe by name, for spawnp: in our PATH, and in sub/pbin. */
	CHECK(symlink(probe, "probe") == 0);
	CHECK(mkdir("sub/pbin", 0755) == 0);
	CHECK(symlink(probe, "sub/pbin/probe") == 0);

	if (pipe2(p, O_CLOEXEC) == -1 || dup2(p[1], OUTFD) == -1)
		return -1;
	close(p[1]);
	outr = p[0];
	fd = open("sub", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(fd != -1 && dup3(fd, FD_DIR, O_CLOEXEC) == FD_DIR);
	close(fd);
	fd = open("f.txt", O_RDONLY | O_CLOEXEC);
	CHECK(fd != -1 && dup3(fd, FD_FILE, O_CLOEXEC) == FD_FILE);
	CHECK(dup2(fd, FD_HIGH) == FD_HIGH);
	close(fd);
	fd = open("/dev/null", O_RDWR);
	CHECK(fd != -1 && dup2(fd, FD_KEEP) == FD_KEEP);
	close(fd);

	/*
	 * Signal state a child inherits: ignored (stay ignored), handled
	 * (SIGHUP, SIGUSR1 in main: back to default), blocked in this
	 * thread.
	 */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGUSR2, &sa, NULL);
	sigaction(SIGRTMIN + 5, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGRTMIN + 7);
	CHECK(pthread_sigmask(SIG_BLOCK, &set, NULL) == 0);

	/* A pty, for tcsetpgrp. */
	if ((m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) != -1 &&
	    grantpt(m) == 0 && unlockpt(m) == 0 &&
	    ptsname_r(m, ptyname, sizeof ptyname) == 0)
		return 0;	/* m stays open: the pty lives */
	ptyname[0] = '\0';
	return 0;
}

/* Policies beyond POSIX's: glibc refuses them, spawnd takes them. */
static void
test_sched_policies(void)
{
	posix_spawnattr_t		ga;
	spawnd_posix_spawnattr_t	sa;

	posix_spawnattr_init(&ga);
	spawnd_posix_spawnattr_init(&sa);
	CHECK_INT(posix_spawnattr_setschedpolicy(&ga, SCHED_BATCH), ==,
	    EINVAL);
	CHECK_INT(spawnd_posix_spawnattr_setschedpolicy(&sa, SCHED_BATCH), ==,
	    0);
	CHECK_INT(spawnd_posix_spawnattr_setschedpolicy(&sa, SCHED_IDLE), ==,
	    0);
	CHECK_INT(spawnd_posix_spawnattr_setschedpolicy(&sa, 77), ==, EINVAL);
	CHECK_INT(posix_spawnattr_setschedpolicy(&ga, 77), ==, EINVAL);
	posix_spawnattr_destroy(&ga);
	spawnd_posix_spawnattr_destroy(&sa);
}

static void
on_hup(int sig)
{
	(void)sig;
}

int
main(void)
{
	char		 buf[PATH_MAX + 64];
	size_t		 i;

	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, on_hup);
	signal(SIGUSR1, on_hup);
	if (tl_probe(probe) != 0)
		return TL_SKIP;
	if (tl_start(&d) != 0)
		goto out;
	if (setenv("SPAWND_SOCKET", d.sock, 1) == -1)
		goto out;
	if (realpath(d.dir, buf) == NULL || strlen(buf) >= sizeof tmp) {
		tl_fail(__FILE__, __LINE__, "realpath: %s", strerror(errno));
		goto out;
	}
	memcpy(tmp, buf, strlen(buf) + 1);
	if (setup() != 0) {
		tl_fail(__FILE__, __LINE__, "setup: %s", strerror(errno));
		goto out;
	}
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		run_case(&cases[i]);
	test_sched_policies();
	tl_log("%zu rows, %d differences", sizeof cases / sizeof cases[0],
	    ndiff);
out:
	tl_stop(&d);
	return tl_exit();
}
