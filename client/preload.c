/*
 * preload.c: libspawnd-preload.so, the shim that "spawnctl wrap" loads
 * with LD_PRELOAD so that an unmodified program's posix_spawn,
 * posix_spawnp, system and popen go through spawnd, and its wait calls
 * and SIGCHLD treat those children as its own.  See
 * libspawnd-preload(8).
 *
 * It interposes, translates and forwards; it may touch:
 *   - the posix face (spawnd_posix_* calls, and client_posix_* of
 *     client-int.h for its table), linked in statically, never exported;
 *   - glibc's real functions, found with dlsym/dlvsym(RTLD_NEXT);
 *   - glibc's posix_spawn_file_actions_t, read only, through a decoder of
 *     glibc's layout that a probe checks at load time (glibc has no
 *     getters for file actions; the probe builds one of each action with
 *     glibc's own calls and reads it back, and any mismatch turns the
 *     decoder off: such spawns then go to glibc);
 *   - its own few process-wide flags, the SIGCHLD watcher thread and
 *     popen's stream list (which FILE is which child, as glibc keeps it).
 * It keeps no request building, fd collection or child table of its own.
 *
 * Safe in any process: the real functions are resolved in a constructor
 * (and once more, lazily, if a spawn comes first); a thread-local depth
 * counter sends any call the library itself makes back to glibc; fork()
 * handlers give the child of a fork empty state (the parent's brokered
 * children are not its children); the watcher thread blocks all signals.
 */

#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client-int.h"
#include "spawnd.h"

#define WRAP_API	__attribute__((visibility("default")))
#define WRAP_WATCH_MAX	512	/* children the watcher polls at once */
#define WRAP_ANY_MAX	256	/* children an any-child wait polls */
#define WRAP_SLICE_MS	10	/* any-child wait, real children too */
#define WRAP_IDLE_MS	50	/* any-child wait, brokered ones only */
#define WRAP_SHELL	"/bin/sh"

/* glibc's struct __spawn_action (posix/spawn_int.h, 2.35 and later). */
struct wrap_gaction {
	int	 tag;
	union {
		struct { int fd; } close;
		struct { int fd; int newfd; } dup2;
		struct { int fd; char *path; int oflag; mode_t mode; } open;
		struct { char *path; } chdir;
		struct { int fd; } fchdir;
		struct { int from; } closefrom;
		struct { int fd; } tcsetpgrp;
	} u;
};

enum {
	WRAP_G_CLOSE, WRAP_G_DUP2, WRAP_G_OPEN, WRAP_G_CHDIR, WRAP_G_FCHDIR,
	WRAP_G_CLOSEFROM, WRAP_G_TCSETPGRP
};

typedef int	 wrap_spawn_fn(pid_t *, const char *,
		    const posix_spawn_file_actions_t *,
		    const posix_spawnattr_t *, char *const [], char *const []);

/* The real functions: written once (under wrap_once), then only read. */
static struct {
	wrap_spawn_fn	*spawn, *spawnp, *spawn_old, *spawnp_old;
	pid_t		(*wait4)(pid_t, int *, int, struct rusage *);
	int		(*waitid)(idtype_t, id_t, siginfo_t *, int);
	int		(*system)(const char *);
	FILE		*(*popen)(const char *, const char *);
	int		(*pclose)(FILE *);
} wrap_real;

/* Settings from the environment and the decoder probe, set once. */
static struct {
	int		 off;		/* SPAWND_WRAP=off */
	int		 strict;	/* SPAWND_WRAP=strict */
	int		 debug;		/* SPAWND_WRAP_DEBUG=1 */
	pid_t		 sid;		/* SPAWND_WRAP_SID: the daemon's */
	int		 fa_ok;		/* the decoder passed its probe */
} wrap_conf;

static pthread_once_t	wrap_once = PTHREAD_ONCE_INIT;
static int		wrap_noted;	/* the fallback note was printed */
static __thread int	wrap_depth __attribute__((tls_model("initial-exec")));

/* The SIGCHLD watcher: one thread per process, started on first use. */
static struct {
	pthread_mutex_t	 lock;
	pid_t		 pid;		/* the process it runs in, or 0 */
	int		 evfd;		/* wakes it for a new child */
} wrap_watch = { PTHREAD_MUTEX_INITIALIZER, 0, -1 };

/* popen()'s streams and their children. */
struct wrap_stream {
	FILE			*f;
	pid_t			 pid;
	int			 fd;
	struct wrap_stream	*next;
};
static pthread_mutex_t		 wrap_streams_lock = PTHREAD_MUTEX_INITIALIZER;
static struct wrap_stream	*wrap_streams;

extern char	**environ;

static void	wrap_init(void);
static void	wrap_resolve(void);
static int	wrap_probe(void);
static void	wrap_fork_prepare(void);
static void	wrap_fork_parent(void);
static void	wrap_fork_child(void);
static void	wrap_say(const char *, ...)
		    __attribute__((format(printf, 1, 2)));
static int	wrap_fa(spawnd_posix_spawn_file_actions_t *,
		    const posix_spawn_file_actions_t *);
static int	wrap_fa_one(spawnd_posix_spawn_file_actions_t *,
		    const struct wrap_gaction *);
static int	wrap_attr(spawnd_posix_spawnattr_t *,
		    const posix_spawnattr_t *);
static int	wrap_fallback(int, int);
static int	wrap_spawn(int, int, pid_t *, const char *,
		    const posix_spawn_file_actions_t *,
		    const posix_spawnattr_t *, char *const [], char *const []);
static int	wrap_broker(int, pid_t *, const char *,
		    const posix_spawn_file_actions_t *,
		    const posix_spawnattr_t *, char *const [], char *const [],
		    int *);
static void	wrap_watch_start(void);
static void	*wrap_watch_main(void *);
static void	wrap_sigchld(pid_t);
static size_t	wrap_watch_list(struct client_posix_watch *, size_t);
static pid_t	wrap_reap(pid_t, int, struct spawnd_exit *);
static void	wrap_rusage(const struct spawnd_exit *, struct rusage *);
static int	wrap_in_group(const struct client_posix_watch *, pid_t);
static pid_t	wrap_wait_any(pid_t, int *, int, struct rusage *,
		    idtype_t, id_t, siginfo_t *);
static pid_t	wrap_wait4(pid_t, int *, int, struct rusage *);
static void	wrap_siginfo(siginfo_t *, pid_t, int);
static pid_t	wrap_pidfd_pid(int);
static int	wrap_system(const char *);
static int	wrap_popen_spawn(const char *, int, int, pid_t *);

/* The exported names (see the .symver lines and preload.map). */
wrap_spawn_fn	wrap_posix_spawn, wrap_posix_spawnp, wrap_posix_spawn_old,
		wrap_posix_spawnp_old;
pid_t		__waitpid(pid_t, int *, int);	/* NOLINT: glibc's name */

/* Set-up. */

__attribute__((constructor)) static void
wrap_ctor(void)
{
	wrap_init();
}

static void
wrap_init(void)
{
	(void)pthread_once(&wrap_once, wrap_resolve);
}

static void
wrap_resolve(void)
{
	const char	*v;

	wrap_real.spawn = (wrap_spawn_fn *)dlvsym(RTLD_NEXT, "posix_spawn",
	    "GLIBC_2.15");
	wrap_real.spawnp = (wrap_spawn_fn *)dlvsym(RTLD_NEXT, "posix_spawnp",
	    "GLIBC_2.15");
	wrap_real.spawn_old = (wrap_spawn_fn *)dlvsym(RTLD_NEXT,
	    "posix_spawn", "GLIBC_2.2.5");
	wrap_real.spawnp_old = (wrap_spawn_fn *)dlvsym(RTLD_NEXT,
	    "posix_spawnp", "GLIBC_2.2.5");
	if (wrap_real.spawn == NULL)
		wrap_real.spawn = (wrap_spawn_fn *)dlsym(RTLD_NEXT,
		    "posix_spawn");
	if (wrap_real.spawnp == NULL)
		wrap_real.spawnp = (wrap_spawn_fn *)dlsym(RTLD_NEXT,
		    "posix_spawnp");
	if (wrap_real.spawn_old == NULL)
		wrap_real.spawn_old = wrap_real.spawn;
	if (wrap_real.spawnp_old == NULL)
		wrap_real.spawnp_old = wrap_real.spawnp;
	wrap_real.wait4 = (pid_t (*)(pid_t, int *, int, struct rusage *))
	    dlsym(RTLD_NEXT, "wait4");
	wrap_real.waitid = (int (*)(idtype_t, id_t, siginfo_t *, int))
	    dlsym(RTLD_NEXT, "waitid");
	wrap_real.system = (int (*)(const char *))dlsym(RTLD_NEXT, "system");
	wrap_real.popen = (FILE *(*)(const char *, const char *))
	    dlsym(RTLD_NEXT, "popen");
	wrap_real.pclose = (int (*)(FILE *))dlsym(RTLD_NEXT, "pclose");

	v = getenv("SPAWND_WRAP");
	wrap_conf.off = v != NULL && strcmp(v, "off") == 0;
	wrap_conf.strict = v != NULL && strcmp(v, "strict") == 0;
	v = getenv("SPAWND_WRAP_DEBUG");
	wrap_conf.debug = v != NULL && *v != '\0' && strcmp(v, "0") != 0;
	/* 0 is a session whose leader is outside our pid namespace. */
	v = getenv("SPAWND_WRAP_SID");
	wrap_conf.sid = v != NULL && *v >= '0' && *v <= '9' ?
	    (pid_t)strtol(v, NULL, 10) : -1;
	wrap_conf.fa_ok = wrap_probe();
	if (wrap_real.spawn == NULL || wrap_real.spawnp == NULL ||
	    wrap_real.wait4 == NULL || wrap_real.waitid == NULL)
		wrap_conf.off = 1;
	(void)pthread_atfork(wrap_fork_prepare, wrap_fork_parent,
	    wrap_fork_child);
}

/*
 * Builds one file action of each kind with glibc's own calls and checks
 * that the decoder reads them back: 1 if it does.
 */
static int
wrap_probe(void)
{
	posix_spawn_file_actions_t	 fa;
	const struct wrap_gaction	*a;
	int				 ok;

	if (posix_spawn_file_actions_init(&fa) != 0)
		return (0);
	ok = posix_spawn_file_actions_addclose(&fa, 5) == 0 &&
	    posix_spawn_file_actions_adddup2(&fa, 6, 7) == 0 &&
	    posix_spawn_file_actions_addopen(&fa, 8, "/p", O_RDWR, 0640) == 0 &&
	    posix_spawn_file_actions_addchdir_np(&fa, "/d") == 0 &&
	    posix_spawn_file_actions_addfchdir_np(&fa, 9) == 0 &&
	    posix_spawn_file_actions_addclosefrom_np(&fa, 10) == 0 &&
	    posix_spawn_file_actions_addtcsetpgrp_np(&fa, 11) == 0 &&
	    fa.__used == 7;
	a = (const struct wrap_gaction *)(const void *)fa.__actions;
	ok = ok && a[0].tag == WRAP_G_CLOSE && a[0].u.close.fd == 5 &&
	    a[1].tag == WRAP_G_DUP2 && a[1].u.dup2.fd == 6 &&
	    a[1].u.dup2.newfd == 7 &&
	    a[2].tag == WRAP_G_OPEN && a[2].u.open.fd == 8 &&
	    strcmp(a[2].u.open.path, "/p") == 0 &&
	    a[2].u.open.oflag == O_RDWR && a[2].u.open.mode == 0640 &&
	    a[3].tag == WRAP_G_CHDIR && strcmp(a[3].u.chdir.path, "/d") == 0 &&
	    a[4].tag == WRAP_G_FCHDIR && a[4].u.fchdir.fd == 9 &&
	    a[5].tag == WRAP_G_CLOSEFROM && a[5].u.closefrom.from == 10 &&
	    a[6].tag == WRAP_G_TCSETPGRP && a[6].u.tcsetpgrp.fd == 11;
	(void)posix_spawn_file_actions_destroy(&fa);
	return (ok);
}

static void
wrap_fork_prepare(void)
{
	(void)pthread_mutex_lock(&wrap_watch.lock);
	client_posix_atfork_prepare();
}

static void
wrap_fork_parent(void)
{
	client_posix_atfork_parent();
	(void)pthread_mutex_unlock(&wrap_watch.lock);
}

/* The watcher thread is the parent's; so are the popen children. */
static void
wrap_fork_child(void)
{
	struct wrap_stream	*s;

	client_posix_atfork_child();
	if (wrap_watch.evfd != -1)
		(void)close(wrap_watch.evfd);
	wrap_watch.evfd = -1;
	wrap_watch.pid = 0;
	(void)pthread_mutex_init(&wrap_watch.lock, NULL);
	(void)pthread_mutex_init(&wrap_streams_lock, NULL);
	while ((s = wrap_streams) != NULL) {
		wrap_streams = s->next;
		free(s);
	}
}

/* One line on stderr, written at once (no stdio lock). */
static void
wrap_say(const char *fmt, ...)
{
	char	 buf[512];
	va_list	 ap;
	int	 n, saved = errno;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof buf - 2)
		n = sizeof buf - 2;
	buf[n++] = '\n';
	(void)write(STDERR_FILENO, buf, (size_t)n);
	errno = saved;
}

/* Translation. */

/* glibc's file actions, in order, into the posix face's; ENOTSUP if unsure. */
static int
wrap_fa(spawnd_posix_spawn_file_actions_t *fa,
    const posix_spawn_file_actions_t *g)
{
	const struct wrap_gaction	*a;
	int				 i, r;

	if ((r = spawnd_posix_spawn_file_actions_init(fa)) != 0)
		return (r);
	if (g == NULL || g->__used <= 0)
		return (0);
	if (!wrap_conf.fa_ok)
		return (ENOTSUP);
	a = (const struct wrap_gaction *)(const void *)g->__actions;
	for (i = 0; i < g->__used; i++) {
		if ((r = wrap_fa_one(fa, &a[i])) != 0) {
			(void)spawnd_posix_spawn_file_actions_destroy(fa);
			return (r);
		}
	}
	return (0);
}

static int
wrap_fa_one(spawnd_posix_spawn_file_actions_t *fa,
    const struct wrap_gaction *a)
{
	switch (a->tag) {
	case WRAP_G_CLOSE:
		return (spawnd_posix_spawn_file_actions_addclose(fa,
		    a->u.close.fd));
	case WRAP_G_DUP2:
		return (spawnd_posix_spawn_file_actions_adddup2(fa,
		    a->u.dup2.fd, a->u.dup2.newfd));
	case WRAP_G_OPEN:
		return (spawnd_posix_spawn_file_actions_addopen(fa,
		    a->u.open.fd, a->u.open.path, a->u.open.oflag,
		    a->u.open.mode));
	case WRAP_G_CHDIR:
		return (spawnd_posix_spawn_file_actions_addchdir_np(fa,
		    a->u.chdir.path));
	case WRAP_G_FCHDIR:
		return (spawnd_posix_spawn_file_actions_addfchdir_np(fa,
		    a->u.fchdir.fd));
	case WRAP_G_CLOSEFROM:
		return (spawnd_posix_spawn_file_actions_addclosefrom_np(fa,
		    a->u.closefrom.from));
	case WRAP_G_TCSETPGRP:
		return (spawnd_posix_spawn_file_actions_addtcsetpgrp_np(fa,
		    a->u.tcsetpgrp.fd));
	default:
		return (ENOTSUP);
	}
}

/*
 * glibc's attributes through its getters.  When the daemon lives in the
 * caller's session (spawnctl wrap's own daemon), a child that would stay
 * in the caller's process group is put there, as posix_spawn leaves it:
 * Ctrl-C and job control then reach it.
 */
static int
wrap_attr(spawnd_posix_spawnattr_t *a, const posix_spawnattr_t *g)
{
	struct sched_param	 sp;
	sigset_t		 set;
	short			 flags = 0;
	pid_t			 pgrp = 0;
	int			 policy, r;

	(void)spawnd_posix_spawnattr_init(a);
	if (g != NULL) {
		if ((r = posix_spawnattr_getflags(g, &flags)) != 0 ||
		    (r = posix_spawnattr_getpgroup(g, &pgrp)) != 0 ||
		    (r = spawnd_posix_spawnattr_setpgroup(a, pgrp)) != 0)
			return (r);
		if (posix_spawnattr_getsigmask(g, &set) == 0)
			(void)spawnd_posix_spawnattr_setsigmask(a, &set);
		if (posix_spawnattr_getsigdefault(g, &set) == 0)
			(void)spawnd_posix_spawnattr_setsigdefault(a, &set);
		if (posix_spawnattr_getschedpolicy(g, &policy) == 0)
			(void)spawnd_posix_spawnattr_setschedpolicy(a, policy);
		if (posix_spawnattr_getschedparam(g, &sp) == 0)
			(void)spawnd_posix_spawnattr_setschedparam(a, &sp);
	}
	if (!(flags & (POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSID)) &&
	    wrap_conf.sid != -1 && getsid(0) == wrap_conf.sid &&
	    (pgrp = getpgrp()) > 0) {
		flags |= POSIX_SPAWN_SETPGROUP;
		(void)spawnd_posix_spawnattr_setpgroup(a, pgrp);
	}
	/*
	 * The posix face refuses a flag it does not know, such as a newer
	 * glibc's (2.39's SETCGROUP): that spawn is glibc's to do.
	 */
	r = spawnd_posix_spawnattr_setflags(a, flags);
	return (r == EINVAL ? ENOTSUP : r);
}

/*
 * Whether a spawn that failed with err at stage goes to glibc instead:
 * the daemon was not reached (or the request cannot be expressed: too
 * many fds, actions the decoder does not know).  The first time, one
 * line says so; SPAWND_WRAP=strict refuses instead.
 */
static int
wrap_fallback(int err, int stage)
{
	if (err == ENOTSUP || err == E2BIG)
		return (!wrap_conf.strict);
	if (stage != 1)
		return (0);
	if (!__atomic_exchange_n(&wrap_noted, 1, __ATOMIC_RELAXED))
		wrap_say("spawnd-wrap: cannot reach spawnd (%s): %s",
		    strerror(err), wrap_conf.strict ? "refusing to spawn "
		    "(SPAWND_WRAP=strict)" : "spawning directly");
	return (!wrap_conf.strict);
}

/* Spawning. */

/* The posix face with glibc's types; a positive errno, as POSIX. */
static int
wrap_broker(int search, pid_t *pid, const char *path,
    const posix_spawn_file_actions_t *gfa, const posix_spawnattr_t *gattr,
    char *const argv[], char *const envp[], int *ret_stage)
{
	spawnd_posix_spawn_file_actions_t	 fa;
	spawnd_posix_spawnattr_t		 attr;
	int					 r;

	*ret_stage = 0;
	if ((r = wrap_fa(&fa, gfa)) != 0)
		return (r);
	if ((r = wrap_attr(&attr, gattr)) == 0)
		r = client_posix_spawn(pid, path, search, &fa, &attr, argv,
		    envp, ret_stage);
	(void)spawnd_posix_spawn_file_actions_destroy(&fa);
	return (r);
}

/*
 * posix_spawn and posix_spawnp, both versions: old is the GLIBC_2.2.5
 * one, which runs a file without "#!" (ENOEXEC) with /bin/sh.
 */
static int
wrap_spawn(int search, int old, pid_t *pid, const char *path,
    const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
    char *const argv[], char *const envp[])
{
	wrap_spawn_fn	*real;
	char		**shargv;
	pid_t		 child = 0;
	size_t		 n;
	int		 r, stage, saved = errno;

	wrap_init();
	real = search ? (old ? wrap_real.spawnp_old : wrap_real.spawnp) :
	    (old ? wrap_real.spawn_old : wrap_real.spawn);
	if (wrap_conf.off || wrap_depth > 0)
		return (real(pid, path, fa, attr, argv, envp));
	wrap_depth++;
	r = wrap_broker(search, &child, path, fa, attr, argv, envp, &stage);
	if (r == ENOEXEC && old && !search && argv != NULL) {
		for (n = 0; argv[n] != NULL; n++)
			continue;
		if ((shargv = calloc(n + 2, sizeof *shargv)) != NULL) {
			shargv[0] = (char *)(uintptr_t)WRAP_SHELL;
			shargv[1] = (char *)(uintptr_t)path;
			memcpy(shargv + 2, argv + (n > 0), (n - (n > 0)) *
			    sizeof *shargv);
			r = wrap_broker(0, &child, WRAP_SHELL, fa, attr, shargv,
			    envp, &stage);
			free(shargv);
		}
	}
	wrap_depth--;
	if (r != 0 && wrap_fallback(r, stage)) {
		errno = saved;
		return (real(pid, path, fa, attr, argv, envp));
	}
	if (r == 0) {
		if (pid != NULL)
			*pid = child;
		if (wrap_conf.debug)
			wrap_say("spawnd-wrap[%ld]: brokered pid %ld: %s",
			    (long)getpid(), (long)child, path);
		wrap_watch_start();
	}
	errno = saved;
	return (r);
}

WRAP_API int
wrap_posix_spawn(pid_t *pid, const char *path,
    const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
    char *const argv[], char *const envp[])
{
	return (wrap_spawn(0, 0, pid, path, fa, attr, argv, envp));
}

WRAP_API int
wrap_posix_spawnp(pid_t *pid, const char *file,
    const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
    char *const argv[], char *const envp[])
{
	return (wrap_spawn(1, 0, pid, file, fa, attr, argv, envp));
}

WRAP_API int
wrap_posix_spawn_old(pid_t *pid, const char *path,
    const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
    char *const argv[], char *const envp[])
{
	return (wrap_spawn(0, 1, pid, path, fa, attr, argv, envp));
}

WRAP_API int
wrap_posix_spawnp_old(pid_t *pid, const char *file,
    const posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
    char *const argv[], char *const envp[])
{
	return (wrap_spawn(1, 1, pid, file, fa, attr, argv, envp));
}

__asm__(".symver wrap_posix_spawn, posix_spawn@@GLIBC_2.15");
__asm__(".symver wrap_posix_spawnp, posix_spawnp@@GLIBC_2.15");
__asm__(".symver wrap_posix_spawn_old, posix_spawn@GLIBC_2.2.5");
__asm__(".symver wrap_posix_spawnp_old, posix_spawnp@GLIBC_2.2.5");

/* SIGCHLD. */

/*
 * A brokered child's exit reaches the program as SIGCHLD, as a child of
 * its own would: a thread (all signals blocked) polls the children's
 * connections, where the daemon writes the exit record, and queues
 * SIGCHLD to the process once per child.  Started with the first
 * brokered child; an eventfd tells it of later ones.
 */
static void
wrap_watch_start(void)
{
	pthread_attr_t	 at;
	pthread_t	 t;
	sigset_t	 all, old;
	pid_t		 me = getpid();
	uint64_t	 one = 1;

	if (__atomic_load_n(&wrap_watch.pid, __ATOMIC_ACQUIRE) != me) {
		(void)pthread_mutex_lock(&wrap_watch.lock);
		if (wrap_watch.pid != me && (wrap_watch.evfd = eventfd(0,
		    EFD_CLOEXEC | EFD_NONBLOCK)) != -1) {
			(void)sigfillset(&all);
			(void)pthread_sigmask(SIG_SETMASK, &all, &old);
			(void)pthread_attr_init(&at);
			(void)pthread_attr_setdetachstate(&at,
			    PTHREAD_CREATE_DETACHED);
			if (pthread_create(&t, &at, wrap_watch_main, NULL) == 0)
				__atomic_store_n(&wrap_watch.pid, me,
				    __ATOMIC_RELEASE);
			else {
				(void)close(wrap_watch.evfd);
				wrap_watch.evfd = -1;
			}
			(void)pthread_attr_destroy(&at);
			(void)pthread_sigmask(SIG_SETMASK, &old, NULL);
		}
		(void)pthread_mutex_unlock(&wrap_watch.lock);
	}
	if (wrap_watch.evfd != -1)
		(void)write(wrap_watch.evfd, &one, sizeof one);
}

static void *
wrap_watch_main(void *arg)
{
	struct client_posix_watch	 w[WRAP_WATCH_MAX];
	struct pollfd			 pfd[WRAP_WATCH_MAX + 1];
	uint64_t			 v;
	size_t				 i, n;
	pid_t				 pid;

	(void)arg;
	for (;;) {
		n = client_posix_watch(w, WRAP_WATCH_MAX, 1);
		if (n > WRAP_WATCH_MAX)
			n = WRAP_WATCH_MAX;
		pfd[0].fd = wrap_watch.evfd;
		pfd[0].events = POLLIN;
		for (i = 0; i < n; i++) {
			pfd[i + 1].fd = w[i].fd;
			pfd[i + 1].events = POLLIN;
		}
		if (poll(pfd, n + 1, n == WRAP_WATCH_MAX ? WRAP_IDLE_MS :
		    -1) <= 0)
			continue;
		if (pfd[0].revents & POLLIN)
			(void)read(wrap_watch.evfd, &v, sizeof v);
		for (i = 0; i < n; i++) {
			if (pfd[i + 1].revents != 0 &&
			    (pid = client_posix_note(w[i].serial)) > 0)
				wrap_sigchld(pid);
		}
	}
	return (NULL);
}

/*
 * SIGCHLD to the process with si_pid, as the kernel's: si_code says
 * CLD_EXITED and si_status 0 whatever the end was (the record is left
 * for waitpid to read; see libspawnd-preload(8)).
 */
static void
wrap_sigchld(pid_t child)
{
	siginfo_t	si;

	memset(&si, 0, sizeof si);
	si.si_signo = SIGCHLD;
	si.si_code = CLD_EXITED;
	si.si_pid = child;
	si.si_uid = getuid();
	if (syscall(SYS_rt_sigqueueinfo, getpid(), SIGCHLD, &si) == -1)
		(void)kill(getpid(), SIGCHLD);
}

/* Waiting. */

/*
 * The table's calls, marked as inside the library: a signal handler that
 * interrupts them and waits (a SIGCHLD handler calling waitpid) goes to
 * glibc rather than into the table's lock this thread holds.
 */
static size_t
wrap_watch_list(struct client_posix_watch *w, size_t max)
{
	size_t	n;

	wrap_depth++;
	n = client_posix_watch(w, max, 0);
	wrap_depth--;
	return (n);
}

static pid_t
wrap_reap(pid_t pid, int options, struct spawnd_exit *ex)
{
	pid_t	r;

	wrap_depth++;
	r = client_posix_reap(pid, options, ex);
	wrap_depth--;
	return (r);
}

static void
wrap_rusage(const struct spawnd_exit *ex, struct rusage *ru)
{
	if (ru == NULL)
		return;
	memset(ru, 0, sizeof *ru);
	ru->ru_utime.tv_sec = (time_t)(ex->utime_us / 1000000);
	ru->ru_utime.tv_usec = (suseconds_t)(ex->utime_us % 1000000);
	ru->ru_stime.tv_sec = (time_t)(ex->stime_us / 1000000);
	ru->ru_stime.tv_usec = (suseconds_t)(ex->stime_us % 1000000);
	ru->ru_maxrss = (long)ex->maxrss_kib;
}

/* Whether a brokered child is in the group a wait names (0: any). */
static int
wrap_in_group(const struct client_posix_watch *w, pid_t grp)
{
	if (grp == 0)
		return (1);
	if (w->pgid != -1)
		return (w->pgid == grp);
	return (getpgid(w->pid) == grp);
}

static void
wrap_siginfo(siginfo_t *si, pid_t pid, int status)
{
	memset(si, 0, sizeof *si);
	si->si_signo = SIGCHLD;
	si->si_pid = pid;
	si->si_uid = getuid();
	if (WIFEXITED(status)) {
		si->si_code = CLD_EXITED;
		si->si_status = WEXITSTATUS(status);
	} else {
		si->si_code = WCOREDUMP(status) ? CLD_DUMPED : CLD_KILLED;
		si->si_status = WTERMSIG(status);
	}
}

/*
 * Any child of a set (pid -1, 0 or -pgid; or for waitid, idtype/id):
 * brokered and real children alike, whichever ends first.  Real ones are
 * asked with WNOHANG, brokered ones are read without blocking, then the
 * brokered connections are polled, in slices so that real children and
 * new brokered ones are seen.  si is NULL for the wait4 family.
 */
static pid_t
wrap_wait_any(pid_t pid, int *status, int options, struct rusage *ru,
    idtype_t idtype, id_t id, siginfo_t *si)
{
	struct client_posix_watch	 w[WRAP_ANY_MAX];
	struct pollfd			 pfd[WRAP_ANY_MAX];
	struct spawnd_exit		 ex;
	pid_t				 grp, r;
	size_t				 i, n, m;
	int				 none, saved = errno;

	grp = pid == 0 ? getpgrp() : pid < -1 ? -pid : 0;
	for (;;) {
		n = wrap_watch_list(w, WRAP_ANY_MAX);
		for (i = m = 0; i < n && i < WRAP_ANY_MAX; i++) {
			if (wrap_in_group(&w[i], grp))
				w[m++] = w[i];
		}
		if (m == 0)
			return (si != NULL ? wrap_real.waitid(idtype, id, si,
			    options) : wrap_real.wait4(pid, status, options,
			    ru));
		if (si != NULL) {
			si->si_pid = 0;
			r = wrap_real.waitid(idtype, id, si, options | WNOHANG);
			if (r == 0 && si->si_pid != 0)
				return (0);
		} else if ((r = wrap_real.wait4(pid, status,
		    options | WNOHANG, ru)) > 0)
			return (r);
		if (r == -1 && errno != ECHILD)
			return (-1);
		none = r == -1;
		errno = saved;
		for (i = 0; i < m; i++) {
			r = wrap_reap(w[i].pid, WNOHANG | (options & WNOWAIT),
			    &ex);
			if (r <= 0)
				continue;
			if (si != NULL) {
				wrap_siginfo(si, r, ex.status);
				return (0);
			}
			if (status != NULL)
				*status = ex.status;
			wrap_rusage(&ex, ru);
			return (r);
		}
		if (options & WNOHANG) {
			if (si != NULL)
				memset(si, 0, sizeof *si);
			return (0);
		}
		for (i = 0; i < m; i++) {
			pfd[i].fd = w[i].fd;
			pfd[i].events = POLLIN;
		}
		if (poll(pfd, m, none ? WRAP_IDLE_MS : WRAP_SLICE_MS) == -1 &&
		    errno == EINTR)
			return (-1);
		errno = saved;
	}
}

/* wait4(2) and the calls made of it. */
static pid_t
wrap_wait4(pid_t pid, int *status, int options, struct rusage *ru)
{
	struct spawnd_exit	ex;
	pid_t			r;

	wrap_init();
	if (wrap_depth > 0 || wrap_watch_list(NULL, 0) == 0)
		return (wrap_real.wait4(pid, status, options, ru));
	if (pid <= 0)
		return (wrap_wait_any(pid, status, options, ru, P_ALL, 0,
		    NULL));
	if ((r = wrap_reap(pid, options & WNOHANG, &ex)) == -ECHILD)
		return (wrap_real.wait4(pid, status, options, ru));
	if (r > 0) {
		if (status != NULL)
			*status = ex.status;
		wrap_rusage(&ex, ru);
	}
	return (r);
}

WRAP_API pid_t
wait4(pid_t pid, int *status, int options, struct rusage *ru)
{
	return (wrap_wait4(pid, status, options, ru));
}

WRAP_API pid_t
waitpid(pid_t pid, int *status, int options)
{
	return (wrap_wait4(pid, status, options, NULL));
}

WRAP_API pid_t
__waitpid(pid_t pid, int *status, int options)	/* NOLINT: glibc's */
{
	return (wrap_wait4(pid, status, options, NULL));
}

WRAP_API pid_t
wait(int *status)
{
	return (wrap_wait4(-1, status, 0, NULL));
}

WRAP_API pid_t
wait3(int *status, int options, struct rusage *ru)
{
	return (wrap_wait4(-1, status, options, ru));
}

/*
 * The pid a pidfd refers to, from /proc/self/fdinfo ("Pid:"), or -1
 * (not a pidfd, or its process is gone and reaped: the daemon reaps its
 * children at once, so a pidfd on a brokered child that has ended no
 * longer names it).
 */
static pid_t
wrap_pidfd_pid(int fd)
{
	char	 path[64], buf[1024], *p;
	ssize_t	 n;
	int	 f;

	(void)snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	if ((f = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	n = read(f, buf, sizeof buf - 1);
	(void)close(f);
	if (n <= 0)
		return (-1);
	buf[n] = '\0';
	if ((p = strstr(buf, "\nPid:")) == NULL)
		return (-1);
	return ((pid_t)strtol(p + 5, NULL, 10));
}

WRAP_API int
waitid(idtype_t idtype, id_t id, siginfo_t *si, int options)
{
	struct spawnd_exit	ex;
	pid_t			pid, r;
	int			saved = errno;

	wrap_init();
	if (wrap_depth > 0 || si == NULL || !(options & WEXITED) ||
	    wrap_watch_list(NULL, 0) == 0)
		return (wrap_real.waitid(idtype, id, si, options));
	switch (idtype) {
	case P_ALL:
		return (wrap_wait_any(-1, NULL, options, NULL, idtype, id, si));
	case P_PGID:
		return (wrap_wait_any(id == 0 ? 0 : -(pid_t)id, NULL, options,
		    NULL, idtype, id, si));
	case P_PID:
		pid = (pid_t)id;
		break;
	case P_PIDFD:
		if (wrap_real.waitid(idtype, id, si, options) == 0 ||
		    errno != ECHILD || (pid = wrap_pidfd_pid((int)id)) <= 0)
			return (wrap_real.waitid(idtype, id, si, options));
		errno = saved;
		break;
	default:
		return (wrap_real.waitid(idtype, id, si, options));
	}
	r = wrap_reap(pid, options & (WNOHANG | WNOWAIT), &ex);
	if (r == -ECHILD)
		return (wrap_real.waitid(idtype, id, si, options));
	if (r == 0)
		memset(si, 0, sizeof *si);
	else
		wrap_siginfo(si, r, ex.status);
	return (0);
}

/* system() and popen(). */

/*
 * As glibc's system(): "sh -c line" with SIGINT and SIGQUIT ignored and
 * SIGCHLD blocked in the caller while it runs (a count keeps concurrent
 * calls from restoring them early), default in the child unless the
 * caller ignored them.
 */
static pthread_mutex_t	wrap_system_lock = PTHREAD_MUTEX_INITIALIZER;
static int		wrap_system_n;
static struct sigaction	wrap_system_int, wrap_system_quit;

static int
wrap_system(const char *line)
{
	struct sigaction	 ign;
	posix_spawnattr_t	 attr;
	sigset_t		 chld, omask, def;
	char *const		 argv[] = { (char *)(uintptr_t)"sh",
				    (char *)(uintptr_t)"-c",
				    (char *)(uintptr_t)line, NULL };
	pid_t			 pid;
	int			 r, status = 0;

	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	(void)sigemptyset(&ign.sa_mask);
	(void)pthread_mutex_lock(&wrap_system_lock);
	if (wrap_system_n++ == 0) {
		(void)sigaction(SIGINT, &ign, &wrap_system_int);
		(void)sigaction(SIGQUIT, &ign, &wrap_system_quit);
	}
	(void)pthread_mutex_unlock(&wrap_system_lock);
	(void)sigemptyset(&chld);
	(void)sigaddset(&chld, SIGCHLD);
	(void)pthread_sigmask(SIG_BLOCK, &chld, &omask);

	(void)sigemptyset(&def);
	if (wrap_system_int.sa_handler != SIG_IGN)
		(void)sigaddset(&def, SIGINT);
	if (wrap_system_quit.sa_handler != SIG_IGN)
		(void)sigaddset(&def, SIGQUIT);
	(void)posix_spawnattr_init(&attr);
	(void)posix_spawnattr_setsigmask(&attr, &omask);
	(void)posix_spawnattr_setsigdefault(&attr, &def);
	(void)posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF |
	    POSIX_SPAWN_SETSIGMASK);
	r = wrap_spawn(0, 0, &pid, WRAP_SHELL, NULL, &attr, argv, environ);
	(void)posix_spawnattr_destroy(&attr);
	if (r != 0)
		status = W_EXITCODE(127, 0);
	else {
		while (wrap_wait4(pid, &status, 0, NULL) == -1 &&
		    errno == EINTR)
			continue;
	}

	(void)pthread_mutex_lock(&wrap_system_lock);
	if (--wrap_system_n == 0) {
		(void)sigaction(SIGINT, &wrap_system_int, NULL);
		(void)sigaction(SIGQUIT, &wrap_system_quit, NULL);
	}
	(void)pthread_mutex_unlock(&wrap_system_lock);
	(void)pthread_sigmask(SIG_SETMASK, &omask, NULL);
	return (status);
}

WRAP_API int
system(const char *line)
{
	wrap_init();
	if (line == NULL || wrap_conf.off || wrap_depth > 0)
		return (wrap_real.system(line));
	return (wrap_system(line));
}

/*
 * "sh -c cmd" with fd (the child's end of the pipe) as its stdin or
 * stdout (target), and without the pipes of earlier popen() streams
 * (POSIX asks that; the list is locked by the caller).
 */
static int
wrap_popen_spawn(const char *cmd, int fd, int target, pid_t *ret_pid)
{
	posix_spawn_file_actions_t	 fa;
	struct wrap_stream		*s;
	char *const			 argv[] = { (char *)(uintptr_t)"sh",
					    (char *)(uintptr_t)"-c",
					    (char *)(uintptr_t)cmd, NULL };
	int				 r;

	if ((r = posix_spawn_file_actions_init(&fa)) != 0)
		return (r);
	r = posix_spawn_file_actions_adddup2(&fa, fd, target);
	for (s = wrap_streams; r == 0 && s != NULL; s = s->next) {
		if (s->fd != target && fcntl(s->fd, F_GETFD) == 0)
			r = posix_spawn_file_actions_addclose(&fa, s->fd);
	}
	if (r == 0)
		r = wrap_spawn(0, 0, ret_pid, WRAP_SHELL, &fa, NULL, argv,
		    environ);
	(void)posix_spawn_file_actions_destroy(&fa);
	return (r);
}

WRAP_API FILE *
popen(const char *cmd, const char *mode)
{
	struct wrap_stream	*s;
	pid_t			 pid;
	int			 p[2], rd, cloexec, mine, r;

	wrap_init();
	if (wrap_conf.off || wrap_depth > 0 || cmd == NULL || mode == NULL ||
	    (mode[0] != 'r' && mode[0] != 'w'))
		return (wrap_real.popen(cmd, mode));
	rd = mode[0] == 'r';
	cloexec = strchr(mode + 1, 'e') != NULL;
	if ((s = calloc(1, sizeof *s)) == NULL)
		return (NULL);
	if (pipe2(p, O_CLOEXEC) == -1) {
		free(s);
		return (NULL);
	}
	mine = rd ? p[0] : p[1];
	(void)pthread_mutex_lock(&wrap_streams_lock);
	r = wrap_popen_spawn(cmd, rd ? p[1] : p[0], rd ? 1 : 0, &pid);
	(void)close(rd ? p[1] : p[0]);
	if (r == 0 && !cloexec)
		(void)fcntl(mine, F_SETFD, 0);
	if (r != 0 || (s->f = fdopen(mine, rd ? "r" : "w")) == NULL) {
		if (r == 0) {
			r = errno;
			(void)close(mine);
			while (wrap_wait4(pid, NULL, 0, NULL) == -1 &&
			    errno == EINTR)
				continue;
		} else
			(void)close(mine);
		(void)pthread_mutex_unlock(&wrap_streams_lock);
		free(s);
		errno = r;
		return (NULL);
	}
	s->pid = pid;
	s->fd = mine;
	s->next = wrap_streams;
	wrap_streams = s;
	(void)pthread_mutex_unlock(&wrap_streams_lock);
	return (s->f);
}

WRAP_API int
pclose(FILE *f)
{
	struct wrap_stream	**sp, *s;
	pid_t			  r;
	int			  status = 0;

	wrap_init();
	(void)pthread_mutex_lock(&wrap_streams_lock);
	for (sp = &wrap_streams; (s = *sp) != NULL; sp = &s->next) {
		if (s->f == f) {
			*sp = s->next;
			break;
		}
	}
	(void)pthread_mutex_unlock(&wrap_streams_lock);
	if (s == NULL)
		return (wrap_real.pclose(f));
	(void)fclose(f);
	while ((r = wrap_wait4(s->pid, &status, 0, NULL)) == -1 &&
	    errno == EINTR)
		continue;
	free(s);
	return (r == -1 ? -1 : status);
}
