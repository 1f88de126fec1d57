/*
 * child.c: the only place that forks, and the reaper.
 *
 * A child is made with clone(CLONE_VM|CLONE_VFORK|CLONE_PIDFD), as glibc's
 * posix_spawn does, but with a set-up written for a broker: the daemon
 * knows which signal dispositions it changed, so the child resets only
 * those instead of all 64; rlimits equal to the daemon's are not set again.
 * The child shares our memory until it execs or exits, so it reports a
 * failure (errno, step, action index) by writing into struct setup, and it
 * may only make async-signal-safe calls and must not allocate.  Everything
 * it needs is prepared here in the parent.
 *
 * Reaping uses the pidfd: it polls readable when the child has exited, and
 * waitid(P_PIDFD) cannot reap a recycled pid.
 */

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#include "spawnd-int.h"

#ifndef PIDFD_SIGNAL_PROCESS_GROUP
#define PIDFD_SIGNAL_PROCESS_GROUP	(1U << 2)
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC		(1U << 2)
#endif

#define CHILD_STACK_SIZE	((size_t)256 * 1024)
#define CHILD_GRACE_MS		5000

struct child {
	TAILQ_ENTRY(child)	 entry;
	struct conn		*conn;		/* NULL once orphaned */
	uint32_t		 id;
	pid_t			 pid;
	int			 pidfd;
	uint32_t		 flags;		/* PROTO_SPAWN_* */
	uint32_t		 grace_ms;
	int			 leader;	/* leads its process group */
	int			 stopping;	/* SIGTERM sent */
	struct event		*ev;		/* pidfd readable */
	struct event		*timer;		/* timeout, then grace */
	uid_t			 uid;		/* of the client that asked */
	pid_t			 client_pid;
	struct timespec		 started;	/* CLOCK_MONOTONIC */
	char			*summary;	/* argv, for PROTO_LIST */
	struct watcher		*watchers;	/* PROTO_WATCH requests */
	size_t			 nwatchers;
};

/* A connection waiting for a child's exit record (spawnctl wait). */
struct watcher {
	struct conn		*conn;
	uint32_t		 id;
};

/* What the cloned child reads, and writes back on failure. */
struct setup {
	const struct proto_spawn *req;
	const int		*fds;
	size_t			 nfds;
	int			 direct;	/* no source fd is a target */
	int			 top;		/* first fd above every target */
	int			 exec_fd;	/* lands at top, or -1 */
	uint64_t		 mask;		/* kernel sigset, 64 bits */
	const char		*path;		/* NULL: exec_fd */
	const char		*search;	/* PATH for path search, or NULL */
	int			 error;
	int			 step;
	int			 index;
};

static int	child_main(void *);
static int	child_signals(const struct setup *);
static int	child_ids(const struct setup *);
static int	child_rlimits_apply(const struct proto_spawn *);
static int	child_fds(const struct setup *);
static int	child_keep(int, int, int);
static int	child_action(struct setup *, const struct proto_action *);
static int	child_guard(struct setup *, const struct proto_action *);
static void	child_exec(struct setup *);
static int	child_is_script(int);
static void	child_search(const struct setup *, char *const *, int *);
static void	child_prepare(struct setup *, const struct child_spec *);
static int	child_cmp_fd(const void *, const void *);
static void	child_reaped(int, short, void *);
static void	child_timer(int, short, void *);
static void	child_stop(struct child *);
static void	child_free(struct child *);
static void	child_fail(struct setup *, int, int);
static char	*child_summary(const struct proto_spawn *);
static void	child_report(struct child *, const siginfo_t *,
		    const struct rusage *);
static void	child_unpoison(void);

static TAILQ_HEAD(, child) children = TAILQ_HEAD_INITIALIZER(children);
static char		*child_stack;
static struct rlimit	 child_rlimits[PROTO_RLIMIT_COUNT];	/* ours now */
static struct rlimit	 child_nofile;	/* RLIMIT_NOFILE as we found it */

/*
 * Allocates the clone stack once (CLONE_VFORK suspends us until the child
 * execs, so one stack serves every spawn), records the daemon's rlimits
 * and raises its own RLIMIT_NOFILE soft limit to the hard one: many
 * connections need many fds, but children get the soft limit back.
 */
void
child_init(void)
{
	int	 r;

	child_stack = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (child_stack == MAP_FAILED)
		fatal("mmap child stack");
	for (r = 0; r < PROTO_RLIMIT_COUNT; r++)
		if (getrlimit(r, &child_rlimits[r]) == -1)
			fatal("getrlimit %d", r);
	child_nofile = child_rlimits[RLIMIT_NOFILE];
	if (child_nofile.rlim_cur < child_nofile.rlim_max) {
		child_rlimits[RLIMIT_NOFILE].rlim_cur = child_nofile.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &child_rlimits[RLIMIT_NOFILE]))
			log_warn("raising RLIMIT_NOFILE, ignoring");
		(void)getrlimit(RLIMIT_NOFILE, &child_rlimits[RLIMIT_NOFILE]);
	}
}

/*
 * Under AddressSanitizer: the clone child's frames never return (it execs
 * or exits), so the poison ASan left on their redzones would still be on
 * the shared stack at the next spawn.  Wipe it first.
 */
static void
child_unpoison(void)
{
#if defined(__SANITIZE_ADDRESS__)
	__asan_unpoison_memory_region(child_stack, CHILD_STACK_SIZE);
#endif
}

static void
child_fail(struct setup *s, int step, int index)
{
	s->error = errno != 0 ? errno : EINVAL;
	s->step = step;
	s->index = index;
}

/* Runs in the cloned child: set-up in POSIX order, then exec. */
static int
child_main(void *arg)
{
	struct setup			*s = arg;
	const struct proto_spawn	*req = s->req;
	uint32_t			 i;
	int				 step;

	step = PROTO_STEP_SIGNALS;
	if (child_signals(s) == -1)
		goto fail;
	/*
	 * A tied child must not outlive a daemon that dies without closing
	 * its connections (SIGKILL, crash): nobody could stop it then.
	 */
	if (!(req->flags & PROTO_SPAWN_DETACH) &&
	    prctl(PR_SET_PDEATHSIG, SIGTERM) == -1)
		goto fail;
	step = PROTO_STEP_SETSID;
	if ((req->flags & PROTO_SPAWN_SETSID) && setsid() == -1)
		goto fail;
	step = PROTO_STEP_PGROUP;
	if ((req->has & PROTO_HAS_PGROUP) &&
	    setpgid(0, (pid_t)req->pgroup) == -1)
		goto fail;
	if ((step = child_ids(s)) != PROTO_STEP_NONE)
		goto fail;
	if (req->has & PROTO_HAS_UMASK)
		umask((mode_t)req->umask);
	step = PROTO_STEP_CWD;
	if (req->cwd_fd >= 0 && fchdir(s->fds[req->cwd_fd]) == -1)
		goto fail;
	if (req->cwd != NULL && chdir(req->cwd) == -1)
		goto fail;
	step = PROTO_STEP_FDS;
	if (child_fds(s) == -1)
		goto fail;
	for (i = 0; i < req->nactions; i++)
		if (child_action(s, &req->actions[i]) == -1) {
			child_fail(s, PROTO_STEP_ACTION, (int)i);
			return 127;
		}
	step = PROTO_STEP_RLIMIT;
	if (child_rlimits_apply(req) == -1)
		goto fail;
	step = PROTO_STEP_SIGNALS;
	/* Raw: glibc would drop signals 32 and 33 from the mask. */
	if (syscall(SYS_rt_sigprocmask, SIG_SETMASK, &s->mask, NULL,
	    sizeof s->mask) == -1)
		goto fail;
	child_exec(s);
	return 127;
fail:
	child_fail(s, step, -1);
	return 127;
}

/*
 * Dispositions: every signal the daemon changed goes back to SIG_DFL, and
 * the request's ignored signals to SIG_IGN; the rest already are SIG_DFL
 * (main.c resets them at start-up).  Signals stay blocked until the end.
 */
static int
child_signals(const struct setup *s)
{
	int		 sig;
	uint64_t	 ign = s->req->sigign;

	for (sig = 1; sig <= PROTO_MAX_SIG; sig++) {
		int	 want_ign = (int)((ign >> (sig - 1)) & 1);

		if (!want_ign && !sigismember(&sd.sigchanged, sig))
			continue;
		if (child_sigaction(sig, want_ign) == -1)
			return -1;
	}
	return 0;
}

/*
 * Sets sig to SIG_IGN or SIG_DFL with the raw system call: glibc refuses
 * its internal signals 32 and 33, which a parent may still have ignored.
 * No handler is installed, so no sa_restorer is needed.
 */
int
child_sigaction(int sig, int ign)
{
	struct {
		void		*handler;
		unsigned long	 flags;
		void		*restorer;
		uint64_t	 mask;
	} ksa = { ign ? (void *)SIG_IGN : (void *)SIG_DFL, 0, NULL, 0 };

	if (sig == SIGKILL || sig == SIGSTOP)
		return 0;
	return (int)syscall(SYS_rt_sigaction, sig, &ksa, NULL, sizeof ksa.mask);
}

/*
 * Scheduling, ids and nice: the attributes applied before the fds.
 * Returns the step that failed, or PROTO_STEP_NONE.
 */
static int
child_ids(const struct setup *s)
{
	const struct proto_spawn	*req = s->req;
	struct sched_param		 sp = { .sched_priority =
					    req->sched_priority };

	if (req->flags & PROTO_SPAWN_SETSCHEDULER) {
		if (sched_setscheduler(0, (int)req->sched_policy, &sp) == -1)
			return PROTO_STEP_SCHED;
	} else if ((req->has & PROTO_HAS_SCHED) &&
	    sched_setparam(0, &sp) == -1)
		return PROTO_STEP_SCHED;
	/* Raw syscalls: glibc's set*id would signal every thread. */
	if ((req->flags & PROTO_SPAWN_RESETIDS) &&
	    (syscall(SYS_setresgid, -1, getgid(), -1) == -1 ||
	    syscall(SYS_setresuid, -1, getuid(), -1) == -1))
		return PROTO_STEP_RESETIDS;
	if ((req->has & PROTO_HAS_NICE) &&
	    setpriority(PRIO_PROCESS, 0, req->nice) == -1)
		return PROTO_STEP_NICE;
	return PROTO_STEP_NONE;
}

/*
 * Resource limits come last, after the fds are placed: a lowered
 * RLIMIT_NOFILE must not stop the child from getting an fd the caller holds
 * above it (posix_spawn's child keeps such fds too).
 */
static int
child_rlimits_apply(const struct proto_spawn *req)
{
	struct rlimit	 rl;
	uint32_t	 i;
	int		 nofile = 0;

	for (i = 0; i < req->nrlimits; i++) {
		const struct proto_rlimit	*r = &req->rlimits[i];

		if (r->resource == RLIMIT_NOFILE)
			nofile = 1;
		rl.rlim_cur = r->cur == UINT64_MAX ? RLIM_INFINITY : r->cur;
		rl.rlim_max = r->max == UINT64_MAX ? RLIM_INFINITY : r->max;
		if (rl.rlim_cur == child_rlimits[r->resource].rlim_cur &&
		    rl.rlim_max == child_rlimits[r->resource].rlim_max)
			continue;
		if (setrlimit((int)r->resource, &rl) == -1)
			return -1;
	}
	if (nofile)
		return 0;
	/* The client's soft limit, or the one we started with. */
	rl = child_rlimits[RLIMIT_NOFILE];
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -1;
	if (req->has & PROTO_HAS_NOFILE)
		rl.rlim_cur = req->nofile < rl.rlim_max ? req->nofile :
		    rl.rlim_max;
	else
		rl.rlim_cur = child_nofile.rlim_cur;
	if (rl.rlim_cur != child_rlimits[RLIMIT_NOFILE].rlim_cur &&
	    setrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -1;
	return 0;
}

/*
 * Makes the fd table exactly the map.  The map is sorted by child fd.  When
 * a source fd number is also a target, every passed fd is first copied
 * above all of them (passed fd j to top + 1 + j), so that no dup2 can
 * clobber a source still needed.  Then all that is not a target (or the
 * exec fd, kept at s->top) is closed.
 */
static int
child_fds(const struct setup *s)
{
	const struct proto_spawn	*req = s->req;
	int				 src, prev = -1;
	uint32_t			 i, idx;
	size_t				 j;

	if (s->exec_fd != -1 &&
	    child_keep(s->fds[s->exec_fd], s->top, 0) == -1)
		return -1;
	for (j = 0; !s->direct && j < s->nfds; j++)
		if (dup3(s->fds[j], s->top + 1 + (int)j, O_CLOEXEC) == -1)
			return -1;
	for (i = 0; i < req->nfdmap; i++) {
		idx = req->fdmap[i].index;
		src = s->direct ? s->fds[idx] : s->top + 1 + (int)idx;
		if (child_keep(src, req->fdmap[i].child_fd,
		    (req->fdmap[i].flags & PROTO_FD_CLOEXEC) != 0) == -1)
			return -1;
	}
	for (i = 0; i < req->nfdmap; i++) {
		int	 fd = req->fdmap[i].child_fd;

		if (fd > prev + 1 &&
		    close_range((unsigned)prev + 1, (unsigned)fd - 1, 0) == -1)
			return -1;
		prev = fd;
	}
	if (s->exec_fd != -1) {
		if (s->top > prev + 1 && close_range((unsigned)prev + 1,
		    (unsigned)s->top - 1, 0) == -1)
			return -1;
		prev = s->top;
	}
	return close_range((unsigned)prev + 1, ~0U, 0);
}

/* Puts a copy of src at dst, close-on-exec only if asked. */
static int
child_keep(int src, int dst, int cloexec)
{
	if (src == dst)
		return fcntl(dst, F_SETFD, cloexec ? FD_CLOEXEC : 0);
	return dup3(src, dst, cloexec ? O_CLOEXEC : 0) == -1 ? -1 : 0;
}

/*
 * The exec fd is ours, not the client's: file actions must neither see
 * nor destroy it.  An action on its number acts as if it were not open
 * (close: nothing; dup2 from, fchdir, tcsetpgrp: EBADF); one that puts
 * a new fd there moves it away first; closefrom spares it.  Returns 1 when
 * the action is done, -1 on error, 0 to go on.
 */
static int
child_guard(struct setup *s, const struct proto_action *a)
{
	int	 fd;

	if (s->exec_fd == -1)
		return 0;
	if ((a->kind == PROTO_ACT_OPEN && a->fd == s->top) ||
	    (a->kind == PROTO_ACT_DUP2 && a->newfd == s->top)) {
		if ((fd = fcntl(s->top, F_DUPFD, s->top + 1)) == -1)
			return -1;
		s->top = fd;
		return 0;
	}
	switch (a->kind) {
	case PROTO_ACT_CLOSE:
		return a->fd == s->top ? 1 : 0;
	case PROTO_ACT_DUP2:
	case PROTO_ACT_FCHDIR:
	case PROTO_ACT_TCSETPGRP:
		if (a->fd != s->top)
			return 0;
		errno = EBADF;
		return -1;
	case PROTO_ACT_CLOSEFROM:
		if (a->fd > s->top)
			return 0;
		if (a->fd < s->top && close_range((unsigned)a->fd,
		    (unsigned)s->top - 1, 0) == -1)
			return -1;
		return close_range((unsigned)s->top + 1, ~0U, 0) == -1 ? -1 : 1;
	}
	return 0;
}

/* One file action, as glibc's posix_spawn performs it. */
static int
child_action(struct setup *s, const struct proto_action *a)
{
	int	 fd, flags, r;

	if ((r = child_guard(s, a)) != 0)
		return r == 1 ? 0 : -1;
	switch (a->kind) {
	case PROTO_ACT_OPEN:
		fd = open(a->path, (int)a->oflags, (mode_t)a->mode);
		if (fd == -1)
			return -1;
		if (fd != a->fd) {
			if (dup2(fd, a->fd) == -1)
				return -1;
			(void)close(fd);
		}
		return 0;
	case PROTO_ACT_CLOSE:
		/* As glibc: closing a descriptor that is not open is fine. */
		if (close(a->fd) == -1 && errno != EBADF)
			return -1;
		return 0;
	case PROTO_ACT_DUP2:
		if (a->fd != a->newfd)
			return dup2(a->fd, a->newfd) == -1 ? -1 : 0;
		if ((flags = fcntl(a->fd, F_GETFD)) == -1)
			return -1;
		return fcntl(a->fd, F_SETFD, flags & ~FD_CLOEXEC);
	case PROTO_ACT_CHDIR:
		return chdir(a->path);
	case PROTO_ACT_FCHDIR:
		return fchdir(a->fd);
	case PROTO_ACT_CLOSEFROM:
		return close_range((unsigned)a->fd, ~0U, 0);
	case PROTO_ACT_TCSETPGRP:
		return tcsetpgrp(a->fd, getpgrp());
	}
	errno = EINVAL;
	return -1;
}

/*
 * Does fd hold a "#!" script?  1 yes, 0 no, -1 cannot tell.  An O_PATH fd
 * cannot be read: read it through /proc/self/fd/N (the path is built by
 * hand: snprintf is not async-signal-safe).
 */
static int
child_is_script(int fd)
{
	char	 magic[2], path[32] = "/proc/self/fd/", digits[12];
	int	 n = 0, len = 14, rfd, r;

	if ((r = (int)pread(fd, magic, 2, 0)) == -1 && errno == EBADF) {
		do
			digits[n++] = (char)('0' + fd % 10);
		while ((fd /= 10) > 0);
		while (n > 0)
			path[len++] = digits[--n];
		path[len] = '\0';
		if ((rfd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			return -1;
		r = (int)pread(rfd, magic, 2, 0);
		(void)close(rfd);
	}
	if (r != 2)
		return r == -1 ? -1 : 0;
	return magic[0] == '#' && magic[1] == '!';
}

/* The last step: exec by fd, by path, or by a search of PATH. */
static void
child_exec(struct setup *s)
{
	char *const	*argv = s->req->argv;
	char *const	*envp = s->req->envp;
	int		 err = 0;

	if (s->path == NULL) {
		/*
		 * An interpreter reopens a script through /dev/fd/N, so the
		 * fd must survive exec for "#!" files; a file we can read and
		 * is not one gets it close-on-exec and never sees it (an
		 * O_PATH fd cannot be read: it is left open, to be safe).
		 */
		if (child_is_script(s->top) == 0)
			(void)fcntl(s->top, F_SETFD, FD_CLOEXEC);
		(void)syscall(SYS_execveat, s->top, "", argv, envp,
		    AT_EMPTY_PATH);
	}
	else if (s->search == NULL)
		(void)execve(s->path, argv, envp);
	else {
		child_search(s, argv, &err);
		errno = err;
	}
	child_fail(s, PROTO_STEP_EXEC, -1);
}

/*
 * execvp's search: each entry of PATH in turn (empty = the cwd); ENOENT,
 * ENOTDIR and the like go on to the next, EACCES is remembered, anything
 * else stops.  Like glibc's posix_spawnp (and unlike execvp) there is no
 * /bin/sh retry on ENOEXEC.
 */
static void
child_search(const struct setup *s, char *const *argv, int *ret_err)
{
	const char	*p = s->search, *end;
	size_t		 plen = strlen(s->path), dlen;
	char		 buf[PATH_MAX];
	int		 eacces = 0;

	*ret_err = ENOENT;
	for (;; p = end + 1) {
		end = strchrnul(p, ':');
		dlen = (size_t)(end - p);
		if (dlen + 1 + plen + 1 > sizeof buf) {
			*ret_err = ENAMETOOLONG;
			if (*end == '\0')
				break;
			continue;
		}
		memcpy(buf, p, dlen);
		if (dlen > 0)
			buf[dlen++] = '/';
		memcpy(buf + dlen, s->path, plen + 1);
		(void)execve(buf, argv, s->req->envp);
		switch (errno) {
		case EACCES:
			eacces = 1;
			/* FALLTHROUGH */
		case ENOENT: case ENOTDIR: case ESTALE: case ENODEV:
		case ETIMEDOUT: case ENAMETOOLONG: case ELOOP:
			break;
		default:
			*ret_err = errno;
			return;
		}
		if (*end == '\0')
			break;
	}
	if (eacces)
		*ret_err = EACCES;
}

static int
child_cmp_fd(const void *a, const void *b)
{
	const struct proto_fdmap	*x = a, *y = b;

	return (x->child_fd > y->child_fd) - (x->child_fd < y->child_fd);
}

/* Everything the child needs, computed before the clone. */
static void
child_prepare(struct setup *s, const struct child_spec *spec)
{
	const struct proto_spawn	*req = spec->req;
	uint32_t			 i;
	size_t				 j;
	int				 maxsrc = -1;

	memset(s, 0, sizeof *s);
	s->req = req;
	s->fds = spec->fds;
	s->nfds = spec->nfds;
	s->index = -1;
	s->exec_fd = req->exec_fd;
	/* The caller's map is ours to sort: it lives in req->alloc. */
	qsort(req->fdmap, req->nfdmap, sizeof *req->fdmap, child_cmp_fd);
	s->top = req->nfdmap ? req->fdmap[req->nfdmap - 1].child_fd + 1 : 0;
	for (j = 0; j < spec->nfds; j++)
		if (spec->fds[j] > maxsrc)
			maxsrc = spec->fds[j];
	s->direct = 1;
	for (i = 0; i < req->nfdmap; i++)
		for (j = 0; j < spec->nfds; j++)
			if (spec->fds[j] == req->fdmap[i].child_fd)
				s->direct = 0;
	if (!s->direct && maxsrc >= s->top)
		s->top = maxsrc + 1;
	/*
	 * The exec fd lands at top: above every target and source, and never
	 * on 0..2, where it would pose as stdio.
	 */
	if (s->exec_fd != -1 && s->top <= maxsrc)
		s->top = maxsrc + 1;
	if (s->exec_fd != -1 && s->top < 3)
		s->top = 3;
	s->mask = req->sigmask;
	if (req->exec_fd < 0) {
		s->path = req->path != NULL ? req->path : req->argv[0];
		if ((req->flags & PROTO_SPAWN_PATH_SEARCH) &&
		    strchr(s->path, '/') == NULL) {
			s->search = "/bin:/usr/bin";
			for (i = 0; i < req->envc; i++)
				if (strncmp(req->envp[i], "PATH=", 5) == 0) {
					/* The first, as getenv() finds. */
					s->search = req->envp[i] + 5;
					break;
				}
		}
	}
}

/*
 * Starts the child a request describes.  Returns 0 with *ret_child for a
 * child that has exec'd, or -1 with *fail filled (the child's own errno and
 * step, or the fork's).  The request's fds stay the caller's.
 */
int
child_spawn(const struct child_spec *spec, struct conn *c, uint32_t id,
    struct child **ret_child, struct proto_failed *fail)
{
	struct setup		 s;
	struct child		*ch;
	sigset_t		 all, old;
	siginfo_t		 si;
	int			 pidfd = -1, saved;
	pid_t			 pid;

	child_prepare(&s, spec);
	if ((ch = calloc(1, sizeof *ch)) == NULL) {
		fail->error = ENOMEM;
		fail->step = PROTO_STEP_REQUEST;
		return -1;
	}
	child_unpoison();
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid = clone(child_main, child_stack + CHILD_STACK_SIZE,
	    CLONE_VM | CLONE_VFORK | CLONE_PIDFD | SIGCHLD, &s, &pidfd);
	saved = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid == -1) {
		free(ch);
		fail->error = saved;
		fail->step = PROTO_STEP_FORK;
		return -1;
	}
	if (s.step != PROTO_STEP_NONE) {
		/* The child has already called _exit: reap it now. */
		(void)waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED);
		(void)close(pidfd);
		free(ch);
		fail->error = s.error;
		fail->step = (uint16_t)s.step;
		fail->index = s.index < 0 ? PROTO_NO_INDEX : (uint32_t)s.index;
		return -1;
	}
	ch->conn = c;
	ch->id = id;
	ch->pid = pid;
	ch->uid = spec->uid;
	ch->client_pid = spec->client_pid;
	ch->summary = child_summary(spec->req);
	(void)clock_gettime(CLOCK_MONOTONIC, &ch->started);
	ch->pidfd = pidfd;
	ch->flags = spec->req->flags;
	ch->leader = (ch->flags & PROTO_SPAWN_SETSID) ||
	    ((spec->req->has & PROTO_HAS_PGROUP) && spec->req->pgroup == 0);
	ch->grace_ms = (spec->req->has & PROTO_HAS_GRACE) ?
	    spec->req->grace_ms : CHILD_GRACE_MS;
	ch->ev = event_new(sd.base, pidfd, EV_READ, child_reaped, ch);
	ch->timer = evtimer_new(sd.base, child_timer, ch);
	if (ch->ev == NULL || ch->timer == NULL || event_add(ch->ev, NULL)) {
		/* Cannot watch it: do not lose it, kill and reap it now. */
		log_warnx("cannot watch child %d, killing it", (int)pid);
		(void)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
		(void)waitid((idtype_t)P_PIDFD, (id_t)pidfd, &si, WEXITED);
		child_free(ch);
		fail->error = ENOMEM;
		fail->step = PROTO_STEP_REQUEST;
		return -1;
	}
	if (spec->req->has & PROTO_HAS_TIMEOUT) {
		struct timeval	 tv = { spec->req->timeout_ms / 1000,
		    (suseconds_t)(spec->req->timeout_ms % 1000) * 1000 };

		evtimer_add(ch->timer, &tv);
	}
	TAILQ_INSERT_TAIL(&children, ch, entry);
	sd.nchildren++;
	sd.spawns++;
	notify_changed();
	*ret_child = ch;
	return 0;
}

pid_t
child_pid(const struct child *ch)
{
	return ch->pid;
}

int
child_pidfd(const struct child *ch)
{
	return ch->pidfd;
}

uint32_t
child_id(const struct child *ch)
{
	return ch->id;
}

/* The live child that request id of connection c started, if any. */
struct child *
child_find(const struct conn *c, uint32_t id)
{
	struct child	*ch;

	TAILQ_FOREACH(ch, &children, entry)
		if (ch->conn == c && ch->id == id)
			return ch;
	return NULL;
}

/*
 * Signals the child, or the process group it leads, through its pidfd: a
 * reaped child's pidfd fails with ESRCH, it never reaches a new process.
 */
int
child_signal(struct child *ch, int sig, int group)
{
	unsigned int	 flags = 0;

	if (group) {
		if (!ch->leader)
			return -EINVAL;
		flags = PIDFD_SIGNAL_PROCESS_GROUP;
	}
	if (syscall(SYS_pidfd_send_signal, ch->pidfd, sig, NULL, flags) == -1)
		return -errno;
	return 0;
}

/* The pidfd is readable: the child has exited.  Reap and report it. */
static void
child_reaped(int fd, short what, void *arg)
{
	struct child		*ch = arg;
	struct rusage		 ru;
	siginfo_t		 si;

	(void)fd;
	(void)what;
	memset(&si, 0, sizeof si);
	memset(&ru, 0, sizeof ru);
	if (syscall(SYS_waitid, P_PIDFD, ch->pidfd, &si, WEXITED | WNOHANG,
	    &ru) == -1 || si.si_pid == 0) {
		log_warn("waitid child %d, retrying", (int)ch->pid);
		event_add(ch->ev, NULL);
		return;
	}
	child_report(ch, &si, &ru);
	log_debug("child %d exited, code %d status %d", (int)ch->pid,
	    si.si_code, si.si_status);
	TAILQ_REMOVE(&children, ch, entry);
	sd.nchildren--;
	child_free(ch);
	notify_changed();
	daemon_quit_done();
}

/* Children that are stopped with their connection: what shutdown waits for. */
unsigned int
child_tied(void)
{
	struct child	*ch;
	unsigned int	 n = 0;

	TAILQ_FOREACH(ch, &children, entry)
		if (!(ch->flags & PROTO_SPAWN_DETACH))
			n++;
	return n;
}

/* At exit: forget the children still running (detached ones). */
void
child_free_all(void)
{
	struct child	*ch;

	while ((ch = TAILQ_FIRST(&children)) != NULL) {
		TAILQ_REMOVE(&children, ch, entry);
		child_free(ch);
	}
}

/* Sends the exit record to the child's connection and its watchers. */
static void
child_report(struct child *ch, const siginfo_t *si, const struct rusage *ru)
{
	struct proto_exited	 m;
	uint8_t			 buf[40];
	size_t			 n, i;

	m.pid = (uint32_t)ch->pid;
	m.code = (uint32_t)si->si_code;
	m.status = (uint32_t)si->si_status;
	m.utime_us = (uint64_t)ru->ru_utime.tv_sec * 1000000 +
	    (uint64_t)ru->ru_utime.tv_usec;
	m.stime_us = (uint64_t)ru->ru_stime.tv_sec * 1000000 +
	    (uint64_t)ru->ru_stime.tv_usec;
	m.maxrss_kib = (uint64_t)ru->ru_maxrss;
	n = proto_encode_exited(buf, &m);
	if (ch->conn != NULL) {
		conn_send(ch->conn, PROTO_EXITED, ch->id, buf, n, -1);
		conn_child_gone(ch->conn, ch);
	}
	for (i = 0; i < ch->nwatchers; i++)
		conn_send(ch->watchers[i].conn, PROTO_EXITED,
		    ch->watchers[i].id, buf, n, -1);
}

/* argv joined by spaces, cut at PROTO_MAX_SUMMARY bytes; NULL if no memory. */
static char *
child_summary(const struct proto_spawn *req)
{
	char		*s;
	size_t		 n = 0, l;
	uint32_t	 i;

	if ((s = malloc(PROTO_MAX_SUMMARY + 1)) == NULL)
		return NULL;
	for (i = 0; i < req->argc && n < PROTO_MAX_SUMMARY; i++) {
		if (i > 0)
			s[n++] = ' ';
		l = strnlen(req->argv[i], PROTO_MAX_SUMMARY - n);
		memcpy(s + n, req->argv[i], l);
		n += l;
	}
	s[n] = '\0';
	return s;
}

/* The live child with this pid, if spawnd started it. */
struct child *
child_find_pid(pid_t pid)
{
	struct child	*ch;

	TAILQ_FOREACH(ch, &children, entry)
		if (ch->pid == pid)
			return ch;
	return NULL;
}

/* Whether a client of uid may see and signal ch: its own, or root. */
int
child_visible(const struct child *ch, uid_t uid)
{
	return uid == 0 || ch->uid == uid;
}

/* One PROTO_LIST_ENTRY per child uid may see, sent to c with id. */
void
child_list(struct conn *c, uint32_t id, uid_t uid)
{
	struct proto_list_entry	 e;
	struct proto_buf	 b;
	struct timespec		 now;
	struct child		*ch;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	TAILQ_FOREACH(ch, &children, entry) {
		if (!child_visible(ch, uid))
			continue;
		e.pid = (uint32_t)ch->pid;
		e.client_pid = ch->conn != NULL ? (uint32_t)ch->client_pid : 0;
		e.uid = (uint32_t)ch->uid;
		e.state = ((ch->flags & PROTO_SPAWN_DETACH) ?
		    PROTO_LIST_DETACHED : 0) |
		    (ch->conn == NULL ? PROTO_LIST_ORPHAN : 0) |
		    (ch->stopping ? PROTO_LIST_STOPPING : 0);
		e.age_ms = (uint64_t)(((int64_t)now.tv_sec -
		    ch->started.tv_sec) * 1000 + ((int64_t)now.tv_nsec -
		    ch->started.tv_nsec) / 1000000);
		e.argv = ch->summary;
		proto_buf_init(&b);
		proto_encode_list_entry(&b, &e);
		if (b.err == 0)
			conn_send(c, PROTO_LIST_ENTRY, id, b.data, b.len, -1);
		proto_buf_free(&b);
	}
}

/* Connection c wants ch's exit record, under id. */
int
child_watch(struct child *ch, struct conn *c, uint32_t id)
{
	struct watcher	*w;
	size_t		 i;

	/* One watch per connection: watchers stay bounded by connections. */
	for (i = 0; i < ch->nwatchers; i++)
		if (ch->watchers[i].conn == c)
			return -EALREADY;
	w = reallocarray(ch->watchers, ch->nwatchers + 1, sizeof *w);
	if (w == NULL)
		return -ENOMEM;
	ch->watchers = w;
	w[ch->nwatchers].conn = c;
	w[ch->nwatchers++].id = id;
	return 0;
}

/* Timeout reached, or grace after SIGTERM over. */
static void
child_timer(int fd, short what, void *arg)
{
	struct child	*ch = arg;

	(void)fd;
	(void)what;
	if (!ch->stopping)
		child_stop(ch);
	else
		(void)child_signal(ch, SIGKILL,
		    (ch->flags & PROTO_SPAWN_KILL_GROUP) != 0);
}

/* SIGTERM now, SIGKILL after the grace period. */
static void
child_stop(struct child *ch)
{
	struct timeval	 tv = { ch->grace_ms / 1000,
			    (suseconds_t)(ch->grace_ms % 1000) * 1000 };

	ch->stopping = 1;
	(void)child_signal(ch, SIGTERM,
	    (ch->flags & PROTO_SPAWN_KILL_GROUP) != 0);
	evtimer_add(ch->timer, &tv);
}

/* Connection c is gone: its children are orphans, stopped unless detached. */
void
child_conn_closed(const struct conn *c)
{
	struct child	*ch;

	TAILQ_FOREACH(ch, &children, entry) {
		size_t	 i, n = 0;

		for (i = 0; i < ch->nwatchers; i++)
			if (ch->watchers[i].conn != c)
				ch->watchers[n++] = ch->watchers[i];
		ch->nwatchers = n;
		if (ch->conn != c)
			continue;
		ch->conn = NULL;
		if (!(ch->flags & PROTO_SPAWN_DETACH) && !ch->stopping)
			child_stop(ch);
	}
}

static void
child_free(struct child *ch)
{
	if (ch == NULL)
		return;
	if (ch->ev != NULL)
		event_free(ch->ev);
	if (ch->timer != NULL)
		event_free(ch->timer);
	if (ch->pidfd != -1)
		(void)close(ch->pidfd);
	free(ch->summary);
	free(ch->watchers);
	free(ch);
}
