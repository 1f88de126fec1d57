/*
 * child.c: the only place that forks, and the reaper.
 *
 * A child is made with clone(CLONE_VM|CLONE_VFORK|CLONE_PIDFD), as glibc's
 * posix_spawn does, but with a set-up written for a broker: the daemon
 * changes no signal disposition (main.c), so the child resets none instead
 * of all 64; rlimits equal to the daemon's are not set again.
 * The child shares our memory until it execs or exits, so it reports a
 * failure (errno, step, action index) by writing into struct setup, and it
 * may only make async-signal-safe calls and must not allocate.  Everything
 * it needs is prepared here in the parent.
 *
 * Reaping uses the pidfd: it polls readable when the child has exited, and
 * waitid(P_PIDFD) cannot reap a recycled pid.
 */

#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <linux/futex.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "rawsys.h"
#include "spawnd-int.h"

/* No sanitizer runtime in the child: its state is the daemon's. */
#define CHILD_CODE	__attribute__((no_sanitize("address", "thread", \
			    "undefined")))
/*
 * In the child's loops: the compiler would make a call to strlen or
 * memcpy of a loop that is one (test-child-code.sh checks it did not).
 */
#define CHILD_OPAQUE(x)	__asm__("" : "+r" (x))

#ifndef PIDFD_SIGNAL_PROCESS_GROUP
#define PIDFD_SIGNAL_PROCESS_GROUP	(1U << 2)
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC		(1U << 2)
#endif

#define CHILD_STACK_SIZE	((size_t)256 * 1024)
#define CHILD_STACK_POOL	8	/* idle stacks kept */
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
	struct launch		*launch;	/* until exec'd: see there */
	int			 early;		/* STARTED went before exec */
	int			 has_timeout;	/* TIMEOUT 0: stop at once */
	uint32_t		 timeout_ms;
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
	int			 exec_fd;	/* index of the exec fd, or -1 */
	int			 own[2];	/* exec fd, notify pipe: or -1 */
	uint64_t		 mask;		/* kernel sigset, 64 bits */
	const char		*path;		/* NULL: exec_fd */
	const char		*search;	/* PATH for path search, or NULL */
	pid_t			 ppid;		/* the daemon */
	int			 early;		/* the client reads the pipe */
	int			 error;
	int			 step;
	int			 index;
};

/*
 * A child between clone and exec: it runs on our memory, so all it reads
 * is kept here until the notify pipe's EOF says it has exec'd or is gone.
 * An early child's client has the pipe: then the kernel's clearing of
 * ctid (CLONE_CHILD_CLEARTID: at its exec or exit, once it is off our
 * memory) says so, looked at on each read of a connection (so before a
 * spawn), at status, before a group signal, and when the child is reaped.
 */
struct launch {
	struct setup		 s;
	TAILQ_ENTRY(launch)	 pend;		/* early: on child_pending */
	struct child		*ch;
	int			 pending;
	int			 sent;		/* early: rfd went with STARTED */
	pid_t			 ctid;		/* early: 0 once off our memory */
	struct proto_spawn	 req;
	void			*body;		/* req's strings */
	size_t			 charged;	/* to uid: conn_charge() */
	uid_t			 uid;
	char			*stack;
	int			 rfd;		/* notify pipe, read end */
	struct event		*ev;
	int			 fds[];		/* the request's, numbers */
};

/* The kernel's struct rlimit64, which prlimit64 takes. */
struct krlimit {
	uint64_t		 cur;
	uint64_t		 max;
};

static int	child_main(void *);
static long	child_signals(const struct setup *);
static long	child_ids(const struct setup *, int *);
static long	child_rlimits_apply(const struct proto_spawn *);
static long	child_fds(struct setup *);
static long	child_keep(int, int, int);
static long	child_action(struct setup *, const struct proto_action *);
static long	child_guard(struct setup *, const struct proto_action *);
static long	child_ctty(const struct setup *);
static long	child_exec(const struct setup *);
static int	child_is_script(int);
static long	child_search(const struct setup *, char *const *);
static void	child_fail(struct setup *, int, int, long);
static void	child_prepare(struct setup *, const struct proto_spawn *,
		    const int *, size_t);
static int	child_cmp_fd(const void *, const void *);
static int	child_fd_used(const struct setup *, int);
static int	child_notify_pipe(struct launch *);
static void	child_launched(int, short, void *);
static void	child_unwatched(struct child *);
static int	child_watch_new(struct child *, struct proto_failed *);
static void	child_reaped(int, short, void *);
static void	child_timer(int, short, void *);
static void	child_stop(struct child *);
static void	child_free(struct child *);
static void	child_launch_free(struct launch *);
static void	child_started(struct child *);
static void	child_dropped(struct child *, const struct proto_failed *);
static int	child_settle(struct child *);
static char	*child_stack_get(void);
static void	child_stack_put(char *);
static char	*child_summary(const struct proto_spawn *);
static void	child_report(struct child *, const siginfo_t *,
		    const struct rusage *);

static TAILQ_HEAD(, child) children = TAILQ_HEAD_INITIALIZER(children);
static TAILQ_HEAD(, launch) child_pending =
    TAILQ_HEAD_INITIALIZER(child_pending);
static char		*child_stacks[CHILD_STACK_POOL];	/* idle ones */
static int		 child_nstacks;
static long		 child_page;
static struct krlimit	 child_rlimits[PROTO_RLIMIT_COUNT];	/* ours now */
static struct krlimit	 child_nofile;	/* RLIMIT_NOFILE as we found it */
static unsigned int	 child_ncpu;	/* CPUs we may run on */
static unsigned int	 child_nlaunching;	/* async, before exec */

/*
 * Records the daemon's rlimits, and raises its own RLIMIT_NOFILE soft
 * limit to the hard one: many connections need many fds, but children get
 * the soft limit back.
 */
void
child_init(void)
{
	struct rlimit	 rl;
	cpu_set_t	 cpus;
	int		 r;

	if ((child_page = sysconf(_SC_PAGESIZE)) <= 0)
		child_page = 4096;
	child_ncpu = 1;
	if (sched_getaffinity(0, sizeof cpus, &cpus) == 0 &&
	    CPU_COUNT(&cpus) > 1)
		child_ncpu = (unsigned int)CPU_COUNT(&cpus);
	for (r = 0; r < PROTO_RLIMIT_COUNT; r++) {
		if (getrlimit(r, &rl) == -1)
			fatal("getrlimit %d", r);
		child_rlimits[r].cur = rl.rlim_cur;
		child_rlimits[r].max = rl.rlim_max;
	}
	child_nofile = child_rlimits[RLIMIT_NOFILE];
	if (child_nofile.cur < child_nofile.max) {
		rl.rlim_cur = rl.rlim_max = child_nofile.max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("raising RLIMIT_NOFILE, ignoring");
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
			child_rlimits[RLIMIT_NOFILE].cur = rl.rlim_cur;
	}
}

/*
 * A stack for one clone child, from a small pool: a child holds it only
 * until it execs.  The lowest page is a guard.
 */
static char *
child_stack_get(void)
{
	char	*p;

	if (child_nstacks > 0)
		return child_stacks[--child_nstacks];
	p = mmap(NULL, CHILD_STACK_SIZE, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (mprotect(p, (size_t)child_page, PROT_NONE) == -1) {
		(void)munmap(p, CHILD_STACK_SIZE);
		return NULL;
	}
	return p;
}

static void
child_stack_put(char *p)
{
	if (p == NULL)
		return;
	if (child_nstacks < CHILD_STACK_POOL)
		child_stacks[child_nstacks++] = p;
	else
		(void)munmap(p, CHILD_STACK_SIZE);
}

/*
 * Everything from here to child_cmp_fd() runs in the clone child, on its
 * own stack but in our memory while we go on: no libc (errno, locks,
 * sanitizer state are shared), only rs_call() and plain loops.
 */
static void CHILD_CODE
child_fail(struct setup *s, int step, int index, long err)
{
	uint64_t	all = ~(uint64_t)0;
	char		b = 1;

	s->error = err < 0 ? (int)-err : EINVAL;
	s->index = index;
	s->step = step;
	/*
	 * An early child's client waits on the pipe: a byte says "failed,
	 * FAILED follows".  No SIGPIPE if it is gone: block all again.
	 * Whether the byte went, the daemon sees in the pipe (a flag set
	 * after the write could miss a SIGKILL between the two).
	 */
	if (!s->early)
		return;
	(void)RS4(SYS_rt_sigprocmask, SIG_BLOCK, &all, NULL, sizeof all);
	(void)RS3(SYS_write, s->own[1], &b, 1);
}

/* Runs in the cloned child: set-up in POSIX order, then exec. */
static int CHILD_CODE
child_main(void *arg)
{
	struct setup			*s = arg;
	const struct proto_spawn	*req = s->req;
	uint32_t			 i;
	long				 r;
	int				 step;

	step = PROTO_STEP_SIGNALS;
	if ((r = child_signals(s)) < 0)
		goto fail;
	/*
	 * A tied child must not outlive a daemon that dies without closing
	 * its connections (SIGKILL, crash): nobody could stop it then.
	 */
	if (!(req->flags & PROTO_SPAWN_DETACH)) {
		if ((r = RS2(SYS_prctl, PR_SET_PDEATHSIG, SIGTERM)) < 0)
			goto fail;
		/*
		 * Not stopped by a CLONE_VFORK, the daemon may have died
		 * before the call: then no signal will come.
		 */
		if (RS0(SYS_getppid) != s->ppid) {
			r = -ESRCH;
			goto fail;
		}
	}
	step = PROTO_STEP_SETSID;
	if ((req->flags & PROTO_SPAWN_SETSID) && (r = RS0(SYS_setsid)) < 0)
		goto fail;
	step = PROTO_STEP_PGROUP;
	if ((req->has & PROTO_HAS_PGROUP) &&
	    (r = RS2(SYS_setpgid, 0, req->pgroup)) < 0)
		goto fail;
	if ((r = child_ids(s, &step)) < 0)
		goto fail;
	if (req->has & PROTO_HAS_UMASK)
		(void)RS1(SYS_umask, req->umask);
	step = PROTO_STEP_CWD;
	if (req->cwd_fd >= 0 &&
	    (r = RS1(SYS_fchdir, s->fds[req->cwd_fd])) < 0)
		goto fail;
	if (req->cwd != NULL && (r = RS1(SYS_chdir, req->cwd)) < 0)
		goto fail;
	step = PROTO_STEP_FDS;
	if ((r = child_fds(s)) < 0)
		goto fail;
	for (i = 0; i < req->nactions; i++)
		if ((r = child_action(s, &req->actions[i])) < 0) {
			child_fail(s, PROTO_STEP_ACTION, (int)i, r);
			return 127;
		}
	step = PROTO_STEP_CTTY;
	if ((req->has & PROTO_HAS_CTTY) && (r = child_ctty(s)) < 0)
		goto fail;
	step = PROTO_STEP_RLIMIT;
	if ((r = child_rlimits_apply(req)) < 0)
		goto fail;
	step = PROTO_STEP_SIGNALS;
	/* Raw: glibc would drop signals 32 and 33 from the mask. */
	if ((r = RS4(SYS_rt_sigprocmask, SIG_SETMASK, &s->mask, NULL,
	    sizeof s->mask)) < 0)
		goto fail;
	r = child_exec(s);
	step = PROTO_STEP_EXEC;
fail:
	child_fail(s, step, -1, r);
	return 127;
}

/*
 * Dispositions: the request's ignored signals go to SIG_IGN; the rest
 * already are SIG_DFL (main.c resets them at start-up and changes none).
 * Signals stay blocked until the end.
 */
static long CHILD_CODE
child_signals(const struct setup *s)
{
	uint64_t	 ign = s->req->sigign;
	long		 r;
	int		 sig;

	for (sig = 1; sig <= PROTO_MAX_SIG; sig++) {
		uint64_t	 bit = (uint64_t)1 << (sig - 1);

		if (!(ign & bit))
			continue;
		if ((r = child_sigaction(sig, (ign & bit) != 0)) < 0)
			return r;
	}
	return 0;
}

/*
 * Sets sig to SIG_IGN or SIG_DFL with the raw system call: glibc refuses
 * its internal signals 32 and 33, which a parent may still have ignored.
 * No handler is installed, so no sa_restorer is needed.  Returns -errno.
 */
long CHILD_CODE
child_sigaction(int sig, int ign)
{
	struct {
		void		*handler;
		unsigned long	 flags;
		void		*restorer;
		uint64_t	 mask;
	} ksa;

	if (sig == SIGKILL || sig == SIGSTOP)
		return 0;
	ksa.handler = ign ? (void *)SIG_IGN : (void *)SIG_DFL;
	ksa.flags = 0;
	ksa.restorer = NULL;
	ksa.mask = 0;
	return RS4(SYS_rt_sigaction, sig, &ksa, NULL, sizeof ksa.mask);
}

/*
 * Scheduling, ids and nice: the attributes applied before the fds.
 * Returns -errno with *step set to the step that failed.
 */
static long CHILD_CODE
child_ids(const struct setup *s, int *step)
{
	const struct proto_spawn	*req = s->req;
	struct sched_param		 sp;
	long				 r;

	sp.sched_priority = req->sched_priority;
	*step = PROTO_STEP_SCHED;
	if (req->flags & PROTO_SPAWN_SETSCHEDULER) {
		if ((r = RS3(SYS_sched_setscheduler, 0, req->sched_policy,
		    &sp)) < 0)
			return r;
	} else if ((req->has & PROTO_HAS_SCHED) &&
	    (r = RS2(SYS_sched_setparam, 0, &sp)) < 0)
		return r;
	/* Raw syscalls: glibc's set*id would signal every thread. */
	*step = PROTO_STEP_RESETIDS;
	if ((req->flags & PROTO_SPAWN_RESETIDS) &&
	    ((r = RS3(SYS_setresgid, -1, RS0(SYS_getgid), -1)) < 0 ||
	    (r = RS3(SYS_setresuid, -1, RS0(SYS_getuid), -1)) < 0))
		return r;
	*step = PROTO_STEP_NICE;
	if ((req->has & PROTO_HAS_NICE) &&
	    (r = RS3(SYS_setpriority, PRIO_PROCESS, 0, req->nice)) < 0)
		return r;
	return 0;
}

/*
 * Resource limits come last, after the fds are placed: a lowered
 * RLIMIT_NOFILE must not stop the child from getting an fd the caller holds
 * above it (posix_spawn's child keeps such fds too).
 */
static long CHILD_CODE
child_rlimits_apply(const struct proto_spawn *req)
{
	struct krlimit	 rl = { 0, 0 };	/* the analyzer cannot see asm write */
	uint32_t	 i;
	long		 r;
	int		 nofile = 0;

	for (i = 0; i < req->nrlimits; i++) {
		const struct proto_rlimit	*pr = &req->rlimits[i];

		if (pr->resource == RLIMIT_NOFILE)
			nofile = 1;
		rl.cur = pr->cur;	/* UINT64_MAX is RLIM64_INFINITY */
		rl.max = pr->max;
		if (rl.cur == child_rlimits[pr->resource].cur &&
		    rl.max == child_rlimits[pr->resource].max)
			continue;
		if ((r = RS4(SYS_prlimit64, 0, pr->resource, &rl, NULL)) < 0)
			return r;
	}
	if (nofile)
		return 0;
	/* The client's soft limit, or the one we started with. */
	if ((r = RS4(SYS_prlimit64, 0, RLIMIT_NOFILE, NULL, &rl)) < 0)
		return r;
	if (req->has & PROTO_HAS_NOFILE)
		rl.cur = req->nofile < rl.max ? req->nofile : rl.max;
	else
		rl.cur = child_nofile.cur;
	if (rl.cur != child_rlimits[RLIMIT_NOFILE].cur &&
	    (r = RS4(SYS_prlimit64, 0, RLIMIT_NOFILE, &rl, NULL)) < 0)
		return r;
	return 0;
}

/*
 * Makes the fd table exactly the map.  The map is sorted by child fd.  When
 * a source fd number is also a target, every passed fd is first copied
 * above all of them (passed fd j to top + 1 + j), so that no dup2 can
 * clobber a source still needed.  Then all that is not a target, or one of
 * our own fds (the exec fd, put at s->top, and the notify pipe, already
 * above top + nfds), is closed.
 */
static long CHILD_CODE
child_fds(struct setup *s)
{
	const struct proto_spawn	*req = s->req;
	int				 src, prev = -1, k;
	uint32_t			 i, idx;
	size_t				 j;
	long				 r;

	if (s->exec_fd != -1) {
		if ((r = child_keep(s->fds[s->exec_fd], s->top, 0)) < 0)
			return r;
		s->own[0] = s->top;
	}
	for (j = 0; !s->direct && j < s->nfds; j++)
		if ((r = RS3(SYS_dup3, s->fds[j], s->top + 1 + (int)j,
		    O_CLOEXEC)) < 0)
			return r;
	for (i = 0; i < req->nfdmap; i++) {
		idx = req->fdmap[i].index;
		src = s->direct ? s->fds[idx] : s->top + 1 + (int)idx;
		if ((r = child_keep(src, req->fdmap[i].child_fd,
		    (req->fdmap[i].flags & PROTO_FD_CLOEXEC) != 0)) < 0)
			return r;
	}
	/* Close every gap between the kept: targets (sorted) and ours. */
	for (i = 0;;) {
		int	 next = -1;

		while (i < req->nfdmap && req->fdmap[i].child_fd <= prev)
			i++;
		if (i < req->nfdmap)
			next = req->fdmap[i].child_fd;
		for (k = 0; k < 2; k++)
			if (s->own[k] > prev && (next == -1 ||
			    s->own[k] < next))
				next = s->own[k];
		if (next == -1)
			break;
		if (next > prev + 1 && (r = RS3(SYS_close_range,
		    (unsigned)prev + 1, (unsigned)next - 1, 0)) < 0)
			return r;
		prev = next;
	}
	r = RS3(SYS_close_range, (unsigned)prev + 1, ~0U, 0);
	return r < 0 ? r : 0;
}

/* Puts a copy of src at dst, close-on-exec only if asked. */
static long CHILD_CODE
child_keep(int src, int dst, int cloexec)
{
	long	 r;

	if (src == dst)
		r = RS3(SYS_fcntl, dst, F_SETFD, cloexec ? FD_CLOEXEC : 0);
	else
		r = RS3(SYS_dup3, src, dst, cloexec ? O_CLOEXEC : 0);
	return r < 0 ? r : 0;
}

/*
 * The exec fd and the notify pipe are ours, not the client's: file actions
 * must neither see nor destroy them.  An action on such a number acts as
 * if it were not open (close: nothing; dup2 from, fchdir, tcsetpgrp:
 * EBADF); one that puts a new fd there moves ours away first; closefrom
 * spares them.  Returns 1 when the action is done, -errno on error, 0 to
 * go on.
 */
static long CHILD_CODE
child_guard(struct setup *s, const struct proto_action *a)
{
	long	 r;
	int	 k, lo, hi, from;

	for (k = 0; k < 2; k++) {
		int	 fd = s->own[k];

		if (fd == -1)
			continue;
		/* First: dup2(own, own) is EBADF, not a move. */
		switch (a->kind) {
		case PROTO_ACT_CLOSE:
			if (a->fd == fd)
				return 1;
			break;
		case PROTO_ACT_DUP2:
		case PROTO_ACT_FCHDIR:
		case PROTO_ACT_TCSETPGRP:
			if (a->fd == fd)
				return -EBADF;
			break;
		}
		if ((a->kind == PROTO_ACT_OPEN && a->fd == fd) ||
		    (a->kind == PROTO_ACT_DUP2 && a->newfd == fd)) {
			/* The exec fd is not close-on-exec yet, the pipe is. */
			if ((r = RS3(SYS_fcntl, fd, k == 0 ? F_DUPFD :
			    F_DUPFD_CLOEXEC, fd + 1)) < 0)
				return r;
			s->own[k] = (int)r;
		}
	}
	if (a->kind != PROTO_ACT_CLOSEFROM || (s->own[0] == -1 &&
	    s->own[1] == -1))
		return 0;
	/* closefrom: close around ours, lowest first. */
	lo = s->own[0] < s->own[1] ? s->own[0] : s->own[1];
	hi = s->own[0] < s->own[1] ? s->own[1] : s->own[0];
	from = a->fd;
	for (k = 0; k < 2; k++) {
		int	 fd = k == 0 ? lo : hi;

		if (fd < from)
			continue;
		if (fd > from && (r = RS3(SYS_close_range, (unsigned)from,
		    (unsigned)fd - 1, 0)) < 0)
			return r;
		from = fd + 1;
	}
	r = RS3(SYS_close_range, (unsigned)from, ~0U, 0);
	return r < 0 ? r : 1;
}

/* One file action, as glibc's posix_spawn performs it.  Returns -errno. */
static long CHILD_CODE
child_action(struct setup *s, const struct proto_action *a)
{
	long	 fd, r;
	int	 pgrp;

	if ((r = child_guard(s, a)) != 0)
		return r == 1 ? 0 : r;
	switch (a->kind) {
	case PROTO_ACT_OPEN:
		fd = RS4(SYS_openat, AT_FDCWD, a->path, a->oflags, a->mode);
		if (fd < 0)
			return fd;
		if (fd != a->fd) {
			if ((r = RS3(SYS_dup3, fd, a->fd, 0)) < 0)
				return r;
			(void)RS1(SYS_close, fd);
		}
		return 0;
	case PROTO_ACT_CLOSE:
		/* As glibc: closing a descriptor that is not open is fine. */
		r = RS1(SYS_close, a->fd);
		return r == -EBADF ? 0 : r;
	case PROTO_ACT_DUP2:
		if (a->fd != a->newfd) {
			r = RS3(SYS_dup3, a->fd, a->newfd, 0);
			return r < 0 ? r : 0;
		}
		if ((r = RS2(SYS_fcntl, a->fd, F_GETFD)) < 0)
			return r;
		return RS3(SYS_fcntl, a->fd, F_SETFD, r & ~FD_CLOEXEC);
	case PROTO_ACT_CHDIR:
		return RS1(SYS_chdir, a->path);
	case PROTO_ACT_FCHDIR:
		return RS1(SYS_fchdir, a->fd);
	case PROTO_ACT_CLOSEFROM:
		return RS3(SYS_close_range, a->fd, ~0U, 0);
	case PROTO_ACT_TCSETPGRP:
		if ((r = RS1(SYS_getpgid, 0)) < 0)
			return r;
		pgrp = (int)r;
		return RS3(SYS_ioctl, a->fd, TIOCSPGRP, &pgrp);
	}
	return -EINVAL;
}

/*
 * The CTTY record: the terminal at the child's fd becomes the controlling
 * terminal of its session (SETSID made it a leader with none; 0: never
 * steal one another session has) and its group the foreground one.  The
 * signals are still blocked, so TIOCSPGRP cannot stop us with SIGTTOU.
 * Our own fds are not the client's: as for the file actions, EBADF.
 */
static long CHILD_CODE
child_ctty(const struct setup *s)
{
	long	 r;
	int	 fd = s->req->ctty, pgrp;

	if (fd == s->own[0] || fd == s->own[1])
		return -EBADF;
	if ((r = RS3(SYS_ioctl, fd, TIOCSCTTY, 0)) < 0)
		return r;
	if ((r = RS1(SYS_getpgid, 0)) < 0)
		return r;
	pgrp = (int)r;
	r = RS3(SYS_ioctl, fd, TIOCSPGRP, &pgrp);
	return r < 0 ? r : 0;
}

/*
 * Does fd hold a "#!" script?  1 yes, 0 no (or not readable, so that no
 * interpreter could read it either), -1 cannot tell.  Only a regular file
 * is read, and opened without waiting: a FIFO's open waits for a writer,
 * a leased file's for the lease-break time.  An O_PATH fd cannot be read:
 * read it through /proc/self/fd/N.
 */
static int CHILD_CODE
child_is_script(int fd)
{
	static const char	 prefix[] = "/proc/self/fd/";
	struct statx		 stx;
	char			 magic[2] = { 0, 0 }, path[32], digits[12];
	int			 n = 0, len, rfd;
	long			 r;

	stx.stx_mode = 0;	/* the analyzer cannot see the asm write */
	if (RS5(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_TYPE, &stx) < 0)
		return -1;
	if (!S_ISREG(stx.stx_mode))
		return 0;
	if ((r = RS4(SYS_pread64, fd, magic, 2, 0)) == -EBADF) {
		for (len = 0; prefix[len] != '\0'; len++) {
			path[len] = prefix[len];
			CHILD_OPAQUE(len);
		}
		do
			digits[n++] = (char)('0' + fd % 10);
		while ((fd /= 10) > 0);
		while (n > 0)
			path[len++] = digits[--n];
		path[len] = '\0';
		r = RS4(SYS_openat, AT_FDCWD, path, O_RDONLY | O_NONBLOCK |
		    O_NOCTTY | O_CLOEXEC, 0);
		if (r == -EACCES || r == -EPERM)
			return 0;
		if (r < 0)
			return -1;
		rfd = (int)r;
		r = RS4(SYS_pread64, rfd, magic, 2, 0);
		(void)RS1(SYS_close, rfd);
	}
	if (r != 2)
		return r < 0 ? -1 : 0;
	return magic[0] == '#' && magic[1] == '!';
}

/* The last step: exec by fd, by path, or by a search of PATH.  -errno. */
static long CHILD_CODE
child_exec(const struct setup *s)
{
	char *const	*argv = s->req->argv;
	char *const	*envp = s->req->envp;

	if (s->path == NULL) {
		/*
		 * An interpreter reopens a script through /dev/fd/N, so the
		 * fd must survive exec for "#!" files; any other file, and
		 * one nobody may read (an execute-only binary), gets it
		 * close-on-exec and never sees it.  Only a file that cannot
		 * be told (its open would wait) keeps it, to be safe.
		 */
		if (child_is_script(s->own[0]) == 0)
			(void)RS3(SYS_fcntl, s->own[0], F_SETFD, FD_CLOEXEC);
		return RS5(SYS_execveat, s->own[0], "", argv, envp,
		    AT_EMPTY_PATH);
	}
	if (s->search == NULL)
		return RS3(SYS_execve, s->path, argv, envp);
	return child_search(s, argv);
}

/*
 * execvp's search: each entry of PATH in turn (empty = the cwd); ENOENT,
 * ENOTDIR and the like go on to the next, EACCES is remembered, anything
 * else stops.  Like glibc's posix_spawnp (and unlike execvp) there is no
 * /bin/sh retry on ENOEXEC.  Returns -errno.
 */
static long CHILD_CODE
child_search(const struct setup *s, char *const *argv)
{
	const char	*p = s->search, *end;
	size_t		 plen, dlen, i;
	char		 buf[PATH_MAX];
	long		 err = -ENOENT, r;
	int		 eacces = 0;

	for (plen = 0; s->path[plen] != '\0'; plen++)
		CHILD_OPAQUE(plen);
	for (;; p = end + 1) {
		for (end = p; *end != '\0' && *end != ':'; end++)
			CHILD_OPAQUE(end);
		dlen = (size_t)(end - p);
		if (dlen + 1 + plen + 1 > sizeof buf) {
			err = -ENAMETOOLONG;
			if (*end == '\0')
				break;
			continue;
		}
		for (i = 0; i < dlen; i++) {
			buf[i] = p[i];
			CHILD_OPAQUE(i);
		}
		if (dlen > 0)
			buf[dlen++] = '/';
		for (i = 0; i <= plen; i++) {
			buf[dlen + i] = s->path[i];
			CHILD_OPAQUE(i);
		}
		r = RS3(SYS_execve, buf, argv, s->req->envp);
		switch (-r) {
		case EACCES:
			eacces = 1;
			/* FALLTHROUGH */
		case ENOENT: case ENOTDIR: case ESTALE: case ENODEV:
		case ETIMEDOUT: case ENAMETOOLONG: case ELOOP:
			break;
		default:
			return r;
		}
		if (*end == '\0')
			break;
	}
	return eacces ? -EACCES : err;
}

static int
child_cmp_fd(const void *a, const void *b)
{
	const struct proto_fdmap	*x = a, *y = b;

	return (x->child_fd > y->child_fd) - (x->child_fd < y->child_fd);
}

/* Everything the child needs, computed before the clone. */
static void
child_prepare(struct setup *s, const struct proto_spawn *req, const int *fds,
    size_t nfds)
{
	uint32_t	 i;
	size_t		 j;
	int		 maxsrc = -1;

	memset(s, 0, sizeof *s);
	s->req = req;
	s->fds = fds;
	s->nfds = nfds;
	s->index = -1;
	s->exec_fd = req->exec_fd;
	s->own[0] = s->own[1] = -1;
	/* The caller's map is ours to sort: it lives in req->alloc. */
	qsort(req->fdmap, req->nfdmap, sizeof *req->fdmap, child_cmp_fd);
	s->top = req->nfdmap ? req->fdmap[req->nfdmap - 1].child_fd + 1 : 0;
	for (j = 0; j < nfds; j++)
		if (fds[j] > maxsrc)
			maxsrc = fds[j];
	s->direct = 1;
	for (i = 0; i < req->nfdmap; i++)
		for (j = 0; j < nfds; j++)
			if (fds[j] == req->fdmap[i].child_fd)
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
 * Whether to clone without CLONE_VFORK.  With it the daemon is stopped in
 * the kernel until the child has exec'd, and only SIGKILL ends that wait;
 * but what the child waits for before its exec is the client's to choose:
 * an open() of a FIFO waits for a writer, an exec of a file the client
 * holds a write lease on waits out the lease-break time, a path on a FUSE
 * mount waits for its server.  So the daemon never waits for a child
 * unless told to (--launch vfork, which trusts every client), or cannot do
 * otherwise (no raw system calls for the child: RS_ASYNC is 0).
 */
static int
child_async(void)
{
	return RS_ASYNC && sd.launch != LAUNCH_VFORK;
}

/*
 * Whether the child's fd set-up uses number fd: a target, the exec fd's
 * place (top) or, when sources are copied first, a copy's.
 */
static int
child_fd_used(const struct setup *s, int fd)
{
	const struct proto_spawn	*req = s->req;
	uint32_t			 lo = 0, hi = req->nfdmap, mid;

	if (s->exec_fd != -1 && fd == s->top)
		return 1;
	if (!s->direct && fd > s->top && fd <= s->top + (int)s->nfds)
		return 1;
	while (lo < hi) {		/* the map is sorted by child fd */
		mid = lo + (hi - lo) / 2;
		if (req->fdmap[mid].child_fd == fd)
			return 1;
		if (req->fdmap[mid].child_fd < fd)
			lo = mid + 1;
		else
			hi = mid;
	}
	return 0;
}

/*
 * The notify pipe: its write end goes to the child close-on-exec, so the
 * read end sees EOF once the child has exec'd or exited, and no sooner.
 * The child keeps it through its fd set-up, so it must sit on a number
 * the set-up does not use: where pipe2() put it if that is free, else
 * above all the set-up uses, else the lowest free one (targets near
 * RLIMIT_NOFILE).  Returns the write end, or -1 with errno set.
 */
static int
child_notify_pipe(struct launch *l)
{
	int	 p[2], fd, from, saved;

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	fd = p[1];
	if (child_fd_used(&l->s, fd)) {
		fd = fcntl(p[1], F_DUPFD_CLOEXEC, l->s.top + 1 +
		    (int)l->s.nfds);
		from = 3;
		while (fd == -1 && errno == EINVAL) {
			if ((fd = fcntl(p[1], F_DUPFD_CLOEXEC, from)) == -1)
				break;
			if (child_fd_used(&l->s, fd)) {
				(void)close(fd);
				from = fd + 1;
				fd = -1;
				errno = EINVAL;
			}
		}
		saved = errno;
		(void)close(p[1]);
		if (fd == -1) {
			(void)close(p[0]);
			errno = saved;
			return -1;
		}
	}
	l->rfd = p[0];
	l->s.own[1] = fd;
	return fd;
}

/*
 * Starts the child a request describes.  Returns -1 with *fail filled if
 * no child was made.  Otherwise 0, having taken spec->body and the
 * request's arrays (its fds stay the caller's): the
 * child runs, and conn_spawned() tells c (if still open) whether it
 * exec'd, once it has, or failed: later, when the notify pipe says so, or,
 * without RS_ASYNC, before this returns.
 */
int
child_spawn(const struct child_spec *spec, struct conn *c, uint32_t id,
    struct proto_failed *fail)
{
	struct child		*ch;
	struct launch		*l;
	int			 pidfd = -1, saved, async, early, wfd;
	pid_t			 pid;

	ch = calloc(1, sizeof *ch);
	l = calloc(1, sizeof *l + spec->nfds * sizeof *l->fds);
	if (ch == NULL || l == NULL) {
		free(ch);
		free(l);
		fail->error = ENOMEM;
		fail->step = PROTO_STEP_REQUEST;
		return -1;
	}
	l->req = *spec->req;
	l->body = spec->body;
	l->rfd = -1;
	if (spec->nfds > 0)
		memcpy(l->fds, spec->fds, spec->nfds * sizeof *l->fds);
	ch->launch = l;
	ch->pidfd = -1;
	ch->conn = c;
	ch->id = id;
	ch->uid = spec->uid;
	ch->client_pid = spec->client_pid;
	ch->flags = l->req.flags;
	ch->leader = (ch->flags & PROTO_SPAWN_SETSID) ||
	    ((l->req.has & PROTO_HAS_PGROUP) && l->req.pgroup == 0);
	ch->grace_ms = (l->req.has & PROTO_HAS_GRACE) ?
	    l->req.grace_ms : CHILD_GRACE_MS;
	ch->has_timeout = (l->req.has & PROTO_HAS_TIMEOUT) != 0;
	ch->timeout_ms = l->req.timeout_ms;
	child_prepare(&l->s, &l->req, l->fds, spec->nfds);
	fail->step = PROTO_STEP_REQUEST;
	fail->error = ENOMEM;
	if ((ch->timer = evtimer_new(sd.base, child_timer, ch)) == NULL)
		goto fail;
	/* The timeout counts from the clone: a child may never get to exec. */
	if (ch->has_timeout) {
		struct timeval	 tv = { ch->timeout_ms / 1000,
		    (suseconds_t)(ch->timeout_ms % 1000) * 1000 };

		if (evtimer_add(ch->timer, &tv) == -1)
			goto fail;
	}
	fail->step = PROTO_STEP_FORK;
	if ((l->stack = child_stack_get()) == NULL) {
		fail->error = (uint32_t)errno;
		goto fail;
	}
	/*
	 * Without room for the pipe (fds near the limit, or targets close
	 * to it), fail: waiting for the exec instead would let this
	 * request stop the daemon.
	 */
	async = child_async();
	early = async && sd.launch == LAUNCH_AUTO &&
	    (l->req.flags & PROTO_SPAWN_EXEC_FD);
	l->s.early = early;
	l->ctid = 1;
	wfd = -1;
	if (async && (wfd = child_notify_pipe(l)) == -1) {
		fail->error = errno == EINVAL ? EMFILE : (uint32_t)errno;
		goto fail;
	}
	l->s.ppid = sd.pid;
	/*
	 * The child starts with our signal mask, which blocks everything
	 * (main.c): no handler of ours can run on its stack.
	 */
	pid = clone(child_main, l->stack + CHILD_STACK_SIZE, CLONE_VM |
	    (async ? 0 : CLONE_VFORK) | (early ? CLONE_CHILD_CLEARTID : 0) |
	    CLONE_PIDFD | SIGCHLD, &l->s, &pidfd, NULL, &l->ctid);
	saved = errno;
	/*
	 * The child's now.  So is l->s: the child moves its own fds and
	 * records where, so not a byte of it is read here.
	 */
	if (wfd != -1)
		(void)close(wfd);
	if (pid == -1) {
		fail->error = (uint32_t)saved;
		goto fail;
	}
	ch->pid = pid;
	ch->pidfd = pidfd;
	l->uid = spec->uid;
	l->charged = spec->charged;	/* ours now, with the body */
	(void)clock_gettime(CLOCK_MONOTONIC, &ch->started);
	TAILQ_INSERT_TAIL(&children, ch, entry);
	sd.nchildren++;
	if (!async) {
		child_launched(-1, EV_READ, ch);
		return 0;
	}
	if (early) {
		child_started(ch);
		return 0;
	}
	if ((l->ev = event_new(sd.base, l->rfd, EV_READ, child_launched,
	    ch)) == NULL || event_add(l->ev, NULL) == -1) {
		child_unwatched(ch);
		return 0;
	}
	/*
	 * What CLONE_VFORK gave for free when the CPUs are idle: the child
	 * runs at once, on our CPU, and we learn of its exec sooner (about
	 * 5 % of a spawn's latency, measured).  A yield is no wait: if the
	 * child blocks, we run on.  Under load it would give our CPU away to
	 * busy children, and other clients with it: then not.
	 */
	if (child_nlaunching++ == 0 && sd.nchildren <= child_ncpu)
		(void)sched_yield();
	return 0;
fail:
	l->body = NULL;		/* the caller's again */
	l->req.alloc = NULL;
	child_free(ch);
	return -1;
}

/*
 * An early child (PROTO_SPAWN_EXEC_FD): STARTED goes now, with the
 * notify pipe's read end, and the client, not the loop, waits there for
 * the exec: one wake-up and four system calls fewer here, and the exec's
 * news reaches the client straight from the kernel.  The launch stays
 * until the child is off our memory (child_settle()); a failure is
 * reported when it is reaped, as FAILED if the child told the client.
 */
static void
child_started(struct child *ch)
{
	struct launch		*l = ch->launch;
	struct proto_failed	 fail;

	ch->early = 1;
	l->ch = ch;
	l->pending = 1;
	TAILQ_INSERT_TAIL(&child_pending, l, pend);
	if (child_watch_new(ch, &fail) == -1) {
		child_dropped(ch, &fail);	/* killed and reaped */
		return;
	}
	conn_spawned(ch->conn, ch->id, &l->req, ch, NULL);
	l->sent = 1;		/* rfd stays: child_report() looks in it */
	notify_changed();
}

/*
 * Frees an early child's launch once the child is off our memory, unless
 * it failed (its reaping reports that).  Returns whether ch has no launch
 * left: whether it has exec'd, for an early child.
 */
static int
child_settle(struct child *ch)
{
	struct launch	*l = ch->launch;

	if (l == NULL)
		return 1;
	if (!ch->early || __atomic_load_n(&l->ctid, __ATOMIC_ACQUIRE) != 0 ||
	    l->s.step != PROTO_STEP_NONE)
		return 0;
	sd.spawns++;
	child_launch_free(l);
	ch->launch = NULL;
	return 1;
}

/* child_settle() for every early child still on our memory. */
void
child_settle_all(void)
{
	struct launch	*l, *next;

	for (l = TAILQ_FIRST(&child_pending); l != NULL; l = next) {
		next = TAILQ_NEXT(l, pend);
		(void)child_settle(l->ch);
	}
}

/*
 * The notify pipe's EOF (or, without RS_ASYNC, the clone's return): the
 * child has exec'd, or failed and exited, or was killed before it could
 * exec (a start, as posix_spawn's; its exit says how it ended).  Nothing
 * of the launch is in use now.  Tell the connection.
 */
static void
child_launched(int fd, short what, void *arg)
{
	struct child		*ch = arg;
	struct launch		*l = ch->launch;
	struct proto_failed	 fail;
	siginfo_t		 si;

	/*
	 * No read: nobody writes the pipe, so readable means EOF, and the
	 * pipe is closed unread.
	 */
	(void)what;
	if (fd != -1)
		child_nlaunching--;
	fail.index = PROTO_NO_INDEX;
	if (l->s.step != PROTO_STEP_NONE) {
		/* It wrote why and called _exit: reap it now. */
		while (waitid((idtype_t)P_PIDFD, (id_t)ch->pidfd, &si,
		    WEXITED) == -1 && errno == EINTR)
			continue;
		fail.error = (uint32_t)l->s.error;
		fail.step = (uint16_t)l->s.step;
		if (l->s.index >= 0)
			fail.index = (uint32_t)l->s.index;
	} else if (child_watch_new(ch, &fail) == 0) {
		if (ch->conn != NULL)
			conn_spawned(ch->conn, ch->id, &l->req, ch, NULL);
		sd.spawns++;
		child_launch_free(l);
		ch->launch = NULL;
		notify_changed();
		return;
	}
	child_dropped(ch, &fail);
}

/* A launch that failed, its child gone: say so, and forget it. */
static void
child_dropped(struct child *ch, const struct proto_failed *fail)
{
	if (ch->conn != NULL)
		conn_spawned(ch->conn, ch->id, &ch->launch->req, NULL, fail);
	TAILQ_REMOVE(&children, ch, entry);
	sd.nchildren--;
	child_free(ch);
	notify_changed();
	daemon_quit_done();
}

/*
 * No watch on the notify pipe (no memory for epoll): the child cannot be
 * left to the loop, and waiting for its exec would be waiting for the
 * client.  Kill it (it runs on our memory, so wait for it to be gone,
 * which SIGKILL makes short), and fail the request.
 */
static void
child_unwatched(struct child *ch)
{
	struct launch	*l = ch->launch;
	char		 b;

	log_warnx("cannot watch a launching child, killing it");
	(void)syscall(SYS_pidfd_send_signal, ch->pidfd, SIGKILL, NULL, 0);
	while (read(l->rfd, &b, 1) == -1 && errno == EINTR)
		continue;
	if (l->s.step == PROTO_STEP_NONE) {
		l->s.error = ENOMEM;
		l->s.step = PROTO_STEP_REQUEST;
	}
	child_launched(-1, EV_READ, ch);
}

/*
 * A started child: watch its pidfd.  If that cannot be done, do not lose
 * it: kill and reap it, and fail with ENOMEM.
 */
static int
child_watch_new(struct child *ch, struct proto_failed *fail)
{
	siginfo_t	 si;

	ch->summary = child_summary(&ch->launch->req);
	ch->ev = event_new(sd.base, ch->pidfd, EV_READ, child_reaped, ch);
	if (ch->ev == NULL || event_add(ch->ev, NULL) == -1) {
		log_warnx("cannot watch child %d, killing it", (int)ch->pid);
		(void)syscall(SYS_pidfd_send_signal, ch->pidfd, SIGKILL, NULL,
		    0);
		(void)waitid((idtype_t)P_PIDFD, (id_t)ch->pidfd, &si, WEXITED);
		fail->error = ENOMEM;
		fail->step = PROTO_STEP_REQUEST;
		return -1;
	}
	return 0;
}

static void
child_launch_free(struct launch *l)
{
	if (l == NULL)
		return;
	if (l->pending)
		TAILQ_REMOVE(&child_pending, l, pend);
	if (l->ev != NULL)
		event_free(l->ev);
	if (l->rfd != -1)
		(void)close(l->rfd);
	child_stack_put(l->stack);
	proto_spawn_free(&l->req);
	free(l->body);
	conn_uncharge(l->uid, 0, l->charged);
	free(l);
}

pid_t
child_pid(const struct child *ch)
{
	return ch->pid;
}

/* An early child's notify pipe, read end, until STARTED has gone; or -1. */
int
child_exec_fd(const struct child *ch)
{
	return ch->early && ch->launch != NULL && !ch->launch->sent ?
	    ch->launch->rfd : -1;
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
		if (ch->conn == c && ch->id == id &&
		    (ch->launch == NULL || ch->early))
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
		/*
		 * Before its exec the child may not have made its group yet
		 * (the signal would find none), and is its only member.
		 */
		if (child_settle(ch))
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
		if (event_add(ch->ev, NULL) == 0)
			return;
		/* It would never be reaped: make sure it is gone, reap it. */
		log_warnx("cannot watch child %d, killing it", (int)ch->pid);
		(void)syscall(SYS_pidfd_send_signal, ch->pidfd, SIGKILL, NULL,
		    0);
		if (syscall(SYS_waitid, P_PIDFD, ch->pidfd, &si, WEXITED,
		    &ru) == -1)
			return;
	}
	(void)child_settle(ch);		/* an early child exec'd: counted */
	child_report(ch, &si, &ru);
	log_debug("child %d exited, code %d status %d", (int)ch->pid,
	    si.si_code, si.si_status);
	TAILQ_REMOVE(&children, ch, entry);
	sd.nchildren--;
	child_free(ch);
	notify_changed();
	daemon_quit_done();
}

/*
 * What shutdown waits for: children that are stopped with their
 * connection, and any child still running on our memory before its exec.
 */
unsigned int
child_tied(void)
{
	struct child	*ch;
	unsigned int	 n = 0;

	TAILQ_FOREACH(ch, &children, entry)
		if (!(ch->flags & PROTO_SPAWN_DETACH) || !child_settle(ch))
			n++;
	return n;
}

/*
 * Shutting down: a child still before its exec has been reported to no
 * one, and may wait there for good (a FIFO's writer): kill it, so that the
 * loop, which waits for it (child_tied), can end.
 */
void
child_quit(void)
{
	struct child	*ch, *next;
	struct pollfd	 pfd;

	for (ch = TAILQ_FIRST(&children); ch != NULL; ch = next) {
		next = TAILQ_NEXT(ch, entry);
		if (child_settle(ch))
			continue;
		/* Exec'd, and we have not looked yet: it started. */
		pfd.fd = ch->early ? -1 : ch->launch->rfd;
		pfd.events = POLLIN;
		if (pfd.fd != -1 && poll(&pfd, 1, 0) == 1) {
			child_launched(pfd.fd, EV_READ, ch);
			continue;
		}
		(void)syscall(SYS_pidfd_send_signal, ch->pidfd, SIGKILL,
		    NULL, 0);
	}
}

/*
 * At exit: forget the children still running (detached ones).  One still
 * before its exec (a second signal cut the wait short) runs on our memory:
 * it is killed, and its launch freed only once it is gone.
 */
void
child_free_all(void)
{
	struct child	*ch;
	pid_t		 tid;
	char		 b;

	while ((ch = TAILQ_FIRST(&children)) != NULL) {
		TAILQ_REMOVE(&children, ch, entry);
		if (ch->early && ch->launch != NULL) {
			(void)syscall(SYS_pidfd_send_signal, ch->pidfd, SIGKILL,
			    NULL, 0);
			/* The kernel wakes ctid's futex as it clears it. */
			while ((tid = __atomic_load_n(&ch->launch->ctid,
			    __ATOMIC_ACQUIRE)) != 0)
				(void)syscall(SYS_futex, &ch->launch->ctid,
				    FUTEX_WAIT, tid, NULL, NULL, 0);
		} else if (ch->launch != NULL && ch->launch->rfd != -1) {
			(void)syscall(SYS_pidfd_send_signal, ch->pidfd, SIGKILL,
			    NULL, 0);
			while (read(ch->launch->rfd, &b, 1) == -1 &&
			    errno == EINTR)
				continue;
		}
		child_free(ch);
	}
}

/* Sends the exit record to the child's connection and its watchers. */
static void
child_report(struct child *ch, const siginfo_t *si, const struct rusage *ru)
{
	struct proto_exited	 m;
	struct proto_failed	 f;
	uint8_t			 buf[40], fbuf[12];
	size_t			 n, i;
	const struct setup	*s;
	int			 unread = 0;

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
		/*
		 * An early child that failed and told its client so: its
		 * byte is in the pipe (the client polls, it does not read).
		 */
		if (ch->launch != NULL &&
		    (s = &ch->launch->s)->step != PROTO_STEP_NONE &&
		    ioctl(ch->launch->rfd, FIONREAD, &unread) == 0 &&
		    unread > 0) {
			log_debug("child %d failed at %s: %s", (int)ch->pid,
			    proto_step_name(s->step), strerror(s->error));
			f.error = (uint32_t)s->error;
			f.step = (uint16_t)s->step;
			f.index = s->index >= 0 ? (uint32_t)s->index :
			    PROTO_NO_INDEX;
			conn_send(ch->conn, PROTO_FAILED, ch->id, fbuf,
			    proto_encode_failed(fbuf, &f), -1);
		} else
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
		if (ch->pid == pid && (ch->launch == NULL || ch->early))
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
		if (!child_visible(ch, uid) ||
		    (ch->launch != NULL && !ch->early))
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
	/* No timer, no SIGKILL later: no grace then. */
	if (evtimer_add(ch->timer, &tv) == -1) {
		log_warnx("child %d: cannot time its grace, killing it",
		    (int)ch->pid);
		(void)child_signal(ch, SIGKILL,
		    (ch->flags & PROTO_SPAWN_KILL_GROUP) != 0);
	}
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
	child_launch_free(ch->launch);
	free(ch->summary);
	free(ch->watchers);
	free(ch);
}
