/*
 * libspawnd: the posix_spawn face.  Same arguments, flags and return
 * values as POSIX; the daemon forks.  Each outstanding child has a
 * connection of its own (so any thread may spawn or wait): a new one sends
 * HELLO and SPAWN back to back, or an idle one from the pool is reused.
 * The connection then carries the child's exit record, owned by the table
 * below, until spawnd_waitpid() reaps the child and it goes to the pool.
 *
 * A posix_spawn child starts with the caller's state, but the daemon's
 * child would start with the daemon's: so the caller's non-CLOEXEC fds,
 * cwd, umask, rlimits, signal mask and ignored signals are read here and
 * sent explicitly, then the attributes and file actions apply over them.
 */

#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client-int.h"
#include "proto.h"
#include "spawnd.h"

#ifndef POSIX_SPAWN_USEVFORK
#define POSIX_SPAWN_USEVFORK	0x40
#endif
#ifndef POSIX_SPAWN_SETSID
#define POSIX_SPAWN_SETSID	0x80
#endif
#define POSIX_FLAGS_ALL		(POSIX_SPAWN_RESETIDS | \
	    POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | \
	    POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSCHEDPARAM | \
	    POSIX_SPAWN_SETSCHEDULER | POSIX_SPAWN_USEVFORK | \
	    POSIX_SPAWN_SETSID)

#define POSIX_TIED		0x1	/* in attr->at_spawnd_flags */
#define POSIX_DEFAULT_PATH	"/bin:/usr/bin"	/* execvp's, glibc's */
#define POSIX_SPAWN_TRIES	16	/* fds closed under us */
#define POSIX_WAIT_SLICE_MS	50	/* waitpid(-1) sees new entries */
#define POSIX_POOL_MAX		8	/* idle connections kept for reuse */
#define POSIX_PATH_MAX		sizeof(((struct sockaddr_un *)0)->sun_path)

/* collect results for waitpid(-1) */
#define POSIX_READY		0
#define POSIX_EMPTY		1
#define POSIX_NONE		2

/* One file action; the object owns path (a copy, as glibc makes). */
struct posix_action {
	int		 kind;		/* PROTO_ACT_* */
	int		 fd;
	int		 newfd;
	int		 oflag;
	mode_t		 mode;
	char		*path;
};

/* An outstanding child and the connection its exit record will come on. */
struct posix_entry {
	pid_t			 pid;
	uint64_t		 serial;	/* names it across unlocks */
	int			 busy;		/* a thread reads it */
	int			 noted;		/* client_posix_note()d */
	pid_t			 pgid;		/* its group if known, else -1 */
	struct spawnd_client	*client;
	struct spawnd_child	*child;
	char			 path[POSIX_PATH_MAX];	/* of the socket */
	TAILQ_ENTRY(posix_entry) entry;
};

struct posix_pollset {
	struct pollfd		*pfd;
	uint64_t		*serial;
	size_t			 n;
};

/*
 * The library's one piece of process-wide mutable state, process-wide by
 * nature as the kernel's child list is: the children spawnd_posix_spawn*()
 * started and spawnd_waitpid() has not reaped.  lock guards everything;
 * an entry marked busy is being read by one thread with the lock dropped,
 * and only that thread may free it; cond is broadcast whenever an entry is
 * added, released or removed.
 */
static struct {
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	uint64_t		 serial;
	TAILQ_HEAD(, posix_entry) entries;
} posix_table = {
	PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP,
	PTHREAD_COND_INITIALIZER,
	0,
	TAILQ_HEAD_INITIALIZER(posix_table.entries)
};

/* Set by client_posix_spawn(): how far a failed spawn got. */
#define POSIX_STAGE_LOCAL	0	/* before connecting */
#define POSIX_STAGE_DAEMON	1	/* the daemon had not answered */
#define POSIX_STAGE_CHILD	2	/* the daemon answered */

/*
 * Connections that have said HELLO and carry no child, kept so that the
 * next spawn skips the connect and the handshake: a reaped child's
 * connection goes back here.  Each remembers the socket path it was made
 * for (SPAWND_SOCKET may change).  They belong to the process that made
 * them: after a fork the child shares the sockets with its parent, so the
 * first use in another process drops them all (closing its copies).
 */
static struct {
	pthread_mutex_t		 lock;
	pid_t			 pid;		/* whose they are */
	size_t			 n;
	struct spawnd_client	*client[POSIX_POOL_MAX];
	char			 path[POSIX_POOL_MAX][POSIX_PATH_MAX];
} posix_pool = { .lock = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP };

/*
 * The fds the posix face holds for itself: every connection it made (of
 * a call in progress, of an outstanding child, in the pool) and the cwd
 * fd a call sends.  They are not in the caller's fd table as the caller
 * knows it (with glibc's posix_spawn those numbers would be closed), so a
 * file action that reads one (fchdir, dup2 from, tcsetpgrp) must find it
 * closed: such a number is never passed.  An fd is listed from just after
 * it is made until just after it is closed; a number that another
 * thread's call takes meanwhile is a race like any concurrent open().
 */
static struct {
	pthread_mutex_t		 lock;
	int			*fd;
	size_t			 n;
	size_t			 cap;
} posix_own = { .lock = PTHREAD_ERRORCHECK_MUTEX_INITIALIZER_NP };

static int	posix_own_add(int);
static void	posix_own_forget(int);
static int	posix_own_open_cwd(int *);
static void	posix_own_fork_child(void);
static void	posix_own_close(int);
static int	posix_own_has(int);
static int	posix_client_open(const char *, struct spawnd_client **);
static void	posix_client_free(struct spawnd_client *);
static struct spawnd_client *posix_pool_take(const char *);
static void	posix_pool_put(struct spawnd_client *, const char *);
static void	posix_pool_own(void);
static int	posix_spawn_common(pid_t *, const char *, int,
		    const spawnd_posix_spawn_file_actions_t *,
		    const spawnd_posix_spawnattr_t *, char *const [],
		    char *const [], int *);
static int	posix_same_path(char *const []);
static int	posix_search(const char *, char **);
static int	posix_program(struct spawnd_req *, const char *, int,
		    char *const [], char **);
static int	posix_status_field(const char *, const char *, int,
		    uint64_t *);
static int	posix_inherit_signals(struct spawnd_req *);
static ssize_t	posix_read_proc(const char *, char *, size_t);
static int	posix_inherit_state(struct spawnd_req *);
static int	posix_caller_policy(void);
static void	posix_inherit_sched(struct spawnd_req *);
static int	posix_limit_value(const char *, rlim_t *);
static int	posix_parse_limits(struct spawnd_req *, const char *);
static void	posix_inherit_rlimits(struct spawnd_req *);
static int	posix_inherit_one(struct spawnd_req *, int, const char *);
static int	posix_inherit_fds(struct spawnd_req *,
		    const spawnd_posix_spawn_file_actions_t *);
static int	posix_action_src(const struct posix_action *);
static int	posix_action_fds(struct spawnd_req *,
		    const spawnd_posix_spawn_file_actions_t *);
static int	posix_apply_attr(struct spawnd_req *,
		    const spawnd_posix_spawnattr_t *);
static int	posix_apply_actions(struct spawnd_req *,
		    const spawnd_posix_spawn_file_actions_t *);
static int	posix_request(struct spawnd_req *,
		    const spawnd_posix_spawn_file_actions_t *,
		    const spawnd_posix_spawnattr_t *, char *const [],
		    char *const [], int *);
static int	posix_start(struct spawnd_req *,
		    const spawnd_posix_spawn_file_actions_t *,
		    struct posix_entry *, int *);
static pid_t	posix_pgid(const spawnd_posix_spawnattr_t *, pid_t);
static void	posix_entry_free(struct posix_entry *);
static void	posix_table_add(struct posix_entry *);
static struct posix_entry *posix_find_pid(pid_t);
static struct posix_entry *posix_find_serial(uint64_t);
static void	posix_unlock(void *);
static void	posix_release(void *);
static void	posix_read(struct posix_entry *, int, struct spawnd_exit *,
		    int *);
static pid_t	posix_reap(struct posix_entry *, int, int *,
		    struct spawnd_exit *);
static void	posix_claim_locked(pid_t, int, struct posix_entry **, int *);
static void	posix_claim(pid_t, int, struct posix_entry **, int *);
static pid_t	posix_wait_one(pid_t, int *, int);
static int	posix_fill(struct posix_pollset *, size_t);
static void	posix_collect_locked(struct posix_pollset *, int, int *);
static int	posix_collect(struct posix_pollset *, int);
static void	posix_pollset_free(void *);
static pid_t	posix_try_ready(const struct posix_pollset *, int *);
static void	posix_poll(struct posix_pollset *, int, int *, pid_t *);
static pid_t	posix_wait_any(int *, int);
static int	posix_fd_ok(int);
static int	posix_fa_add(spawnd_posix_spawn_file_actions_t *,
		    const struct posix_action *);

/* Spawning. */

SPAWND_EXPORT int
spawnd_posix_spawn(pid_t *pid, const char *path,
    const spawnd_posix_spawn_file_actions_t *file_actions,
    const spawnd_posix_spawnattr_t *attrp, char *const argv[],
    char *const envp[])
{
	return (posix_spawn_common(pid, path, 0, file_actions, attrp, argv,
	    envp, NULL));
}

SPAWND_EXPORT int
spawnd_posix_spawnp(pid_t *pid, const char *file,
    const spawnd_posix_spawn_file_actions_t *file_actions,
    const spawnd_posix_spawnattr_t *attrp, char *const argv[],
    char *const envp[])
{
	return (posix_spawn_common(pid, file, 1, file_actions, attrp, argv,
	    envp, NULL));
}

/*
 * Cancellation is held off: a cancelled spawn would leave a running child
 * nobody can reap.  Returns 0 or a positive errno, as POSIX does, and in
 * *ret_stage (if not NULL) a POSIX_STAGE_* value.
 */
static int
posix_spawn_common(pid_t *pid, const char *path, int search,
    const spawnd_posix_spawn_file_actions_t *fa,
    const spawnd_posix_spawnattr_t *attr, char *const argv[],
    char *const envp[], int *ret_stage)
{
	struct spawnd_req	*req = NULL;
	struct posix_entry	*e;
	char			*found = NULL;
	int			 cwd = -1, r, cancel, stage = POSIX_STAGE_LOCAL;

	if (ret_stage == NULL)
		ret_stage = &stage;
	*ret_stage = POSIX_STAGE_LOCAL;
	if (path == NULL || argv == NULL)
		return (EINVAL);
	if ((e = calloc(1, sizeof *e)) == NULL)
		return (ENOMEM);
	(void)pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cancel);
	if ((r = spawnd_req_new(&req)) != 0)
		goto fail;
	if ((r = posix_program(req, path, search, envp, &found)) != 0 ||
	    (r = posix_request(req, fa, attr, argv, envp, &cwd)) != 0 ||
	    (r = posix_start(req, fa, e, ret_stage)) != 0)
		goto fail;
	e->pgid = posix_pgid(attr, e->pid);
	if (pid != NULL)
		*pid = e->pid;
	posix_table_add(e);
	e = NULL;
fail:
	posix_entry_free(e);
	if (cwd != -1)
		posix_own_close(cwd);
	spawnd_req_free(req);
	free(found);
	(void)pthread_setcancelstate(cancel, NULL);
	return (-r);
}

/* Whether envp's PATH is the caller's (both unset counts as the same). */
static int
posix_same_path(char *const envp[])
{
	const char	*mine = getenv("PATH"), *theirs = NULL;
	size_t		 i;

	for (i = 0; envp != NULL && envp[i] != NULL; i++) {
		if (strncmp(envp[i], "PATH=", 5) == 0) {
			theirs = envp[i] + 5;
			break;
		}
	}
	if (mine == NULL || theirs == NULL)
		return (mine == theirs);
	return (strcmp(mine, theirs) == 0);
}

/*
 * execvp's search over the caller's PATH: the first regular file we may
 * execute.  ENOENT if none, EACCES if one existed that we may not run.
 */
static int
posix_search(const char *file, char **ret_path)
{
	const char	*p, *end;
	char		*buf;
	struct stat	 st;
	int		 eacces = 0;

	if ((p = getenv("PATH")) == NULL)
		p = POSIX_DEFAULT_PATH;
	for (;; p = end + 1) {
		end = strchrnul(p, ':');
		if (asprintf(&buf, "%.*s%s%s", (int)(end - p), p,
		    end == p ? "" : "/", file) == -1)
			return (-ENOMEM);
		if (faccessat(AT_FDCWD, buf, X_OK, AT_EACCESS) == 0 &&
		    stat(buf, &st) == 0 && S_ISREG(st.st_mode)) {
			*ret_path = buf;
			return (0);
		}
		if (errno == EACCES)
			eacces = 1;
		free(buf);
		if (*end == '\0')
			break;
	}
	return (eacces ? -EACCES : -ENOENT);
}

/*
 * What to exec.  POSIX has posix_spawnp() search the caller's PATH, while
 * the protocol's PATH_SEARCH has the daemon search the PATH of envp (with
 * execvp's rules, relative entries against the child's cwd, after the
 * file actions: exactly what a posix_spawn child would do).  So when the
 * two PATHs are the same, the daemon searches.  When they differ, the
 * client searches the caller's PATH itself (faccessat X_OK + S_ISREG, the
 * first hit wins) and sends the full path: the only inexactness left is a
 * relative PATH entry combined with a chdir file action.
 */
static int
posix_program(struct spawnd_req *req, const char *file, int search,
    char *const envp[], char **ret_found)
{
	int	r;

	if (*file == '\0')
		return (-ENOENT);
	if (!search || strchr(file, '/') != NULL)
		return (spawnd_req_set_path(req, file));
	if (posix_same_path(envp)) {
		req->flags |= PROTO_SPAWN_PATH_SEARCH;
		return (spawnd_req_set_path(req, file));
	}
	if ((r = posix_search(file, ret_found)) != 0)
		return (r);
	return (spawnd_req_set_path(req, *ret_found));
}

/* Reads "Key:\t<number>\n" from a /proc status text. */
static int
posix_status_field(const char *text, const char *key, int base,
    uint64_t *ret)
{
	const char	*p;
	char		*end;

	if ((p = strstr(text, key)) == NULL)
		return (-ENOENT);
	p += strlen(key);
	*ret = strtoull(p, &end, base);
	if (end == p || *end != '\n')
		return (-EINVAL);
	return (0);
}

/* Without /proc: the same from the signal calls (no umask: racy). */
static int
posix_inherit_signals(struct spawnd_req *req)
{
	struct sigaction	sa;
	sigset_t		set;
	int			sig;

	if (pthread_sigmask(SIG_BLOCK, NULL, &set) != 0)
		return (-EINVAL);
	req->sigmask = client_sigset_bits(&set);
	req->sigign = 0;
	for (sig = 1; sig <= PROTO_MAX_SIG; sig++) {
		if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
			req->sigign |= (uint64_t)1 << (sig - 1);
	}
	req->has |= PROTO_HAS_SIGMASK | PROTO_HAS_SIGIGN;
	return (0);
}

/*
 * The calling thread's policy, for a child that must keep it (as a
 * posix_spawn child would: it is a copy of the caller); -1 when it is the
 * default, which the daemon's child has already.
 */
static int
posix_caller_policy(void)
{
	int	 policy = sched_getscheduler(0);

	if (policy == -1)
		return (-1);
	policy &= ~SCHED_RESET_ON_FORK;
	return (policy == SCHED_OTHER ? -1 : policy);
}

/* The calling thread's nice value and scheduling, as a fork would copy. */
static void
posix_inherit_sched(struct spawnd_req *req)
{
	struct sched_param	 sp;
	int			 nice, policy;

	errno = 0;
	nice = getpriority(PRIO_PROCESS, 0);
	if (errno == 0)
		(void)spawnd_req_set_nice(req, nice);
	if ((policy = posix_caller_policy()) != -1 &&
	    sched_getparam(0, &sp) == 0)
		(void)spawnd_req_set_sched(req, policy, &sp);
}

/*
 * A small /proc file in buf, NUL-terminated; its length or -1.  One read:
 * the kernel prints such a file whole into a buffer it fits in, and the
 * callers check that what they need is there (else they ask otherwise).
 */
static ssize_t
posix_read_proc(const char *path, char *buf, size_t size)
{
	ssize_t	n;
	int	fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	while ((n = read(fd, buf, size - 1)) == -1 && errno == EINTR)
		continue;
	(void)close(fd);
	buf[n > 0 ? n : 0] = '\0';
	return (n);
}

/*
 * umask, the calling thread's blocked signals and the ignored ones, in
 * one read: /proc is the only way to read the umask without setting it.
 */
static int
posix_inherit_state(struct spawnd_req *req)
{
	char		buf[4096];
	uint64_t	um, blk, ign;

	if (posix_read_proc("/proc/thread-self/status", buf, sizeof buf) == -1)
		return (posix_inherit_signals(req));
	if (posix_status_field(buf, "\nUmask:", 8, &um) == 0) {
		req->umask = (uint32_t)um & 0777;
		req->has |= PROTO_HAS_UMASK;
	}
	if (posix_status_field(buf, "\nSigBlk:", 16, &blk) != 0 ||
	    posix_status_field(buf, "\nSigIgn:", 16, &ign) != 0)
		return (posix_inherit_signals(req));
	req->sigmask = blk;
	req->sigign = ign;
	req->has |= PROTO_HAS_SIGMASK | PROTO_HAS_SIGIGN;
	return (0);
}

/* One limit of /proc/self/limits: a number or "unlimited", then a space. */
static int
posix_limit_value(const char *p, rlim_t *ret)
{
	unsigned long long	 v;
	char			*end;

	if (strncmp(p, "unlimited ", 10) == 0) {
		*ret = RLIM_INFINITY;
		return (0);
	}
	if (*p < '0' || *p > '9')
		return (-1);
	errno = 0;
	v = strtoull(p, &end, 10);
	if (errno != 0 || *end != ' ')
		return (-1);
	*ret = (rlim_t)v;
	return (0);
}

/*
 * /proc/self/limits as the kernel has printed it since 2.6.24: a header,
 * then a line per resource in resource order, the name in 25 columns, the
 * soft and hard limits in 20 each, a space after each field.  One read
 * instead of a prlimit per resource (3 system calls, not 16).
 */
static int
posix_parse_limits(struct spawnd_req *req, const char *buf)
{
	struct rlimit	 rl;
	const char	*line = buf, *nl;
	int		 r;

	if (strncmp(buf, "Limit ", 6) != 0)
		return (-1);
	for (r = 0; r < RLIMIT_NLIMITS && r < PROTO_RLIMIT_COUNT; r++) {
		if ((nl = strchr(line, '\n')) == NULL)
			return (-1);
		line = nl + 1;
		if ((nl = strchr(line, '\n')) == NULL || nl - line < 68 ||
		    line[25] != ' ' || line[46] != ' ' ||
		    posix_limit_value(line + 26, &rl.rlim_cur) != 0 ||
		    posix_limit_value(line + 47, &rl.rlim_max) != 0 ||
		    spawnd_req_set_rlimit(req, r, &rl) != 0)
			return (-1);
	}
	return (0);
}

/* A resource the kernel does not know is left at the daemon's value. */
static void
posix_inherit_rlimits(struct spawnd_req *req)
{
	struct rlimit	rl;
	char		buf[4096];
	int		r;

	if (posix_read_proc("/proc/self/limits", buf, sizeof buf) > 0 &&
	    posix_parse_limits(req, buf) == 0)
		return;
	for (r = 0; r < RLIMIT_NLIMITS && r < PROTO_RLIMIT_COUNT; r++) {
		if (prlimit(0, r, NULL, &rl) == 0)
			(void)spawnd_req_set_rlimit(req, r, &rl);
	}
}

/*
 * One /proc/self/fd entry: passed at its own number unless CLOEXEC (or
 * closed meanwhile).  The request holds PROTO_MAX_FDS fds and the cwd
 * takes one, so a caller with more inheritable fds than PROTO_MAX_FDS - 1
 * gets E2BIG: there is no way to pass them all, and silently dropping
 * some would break the posix_spawn contract.
 */
static int
posix_inherit_one(struct spawnd_req *req, int dirfd, const char *name)
{
	char	*end;
	long	 fd;
	int	 fl;

	if (name[0] < '0' || name[0] > '9')
		return (0);
	fd = strtol(name, &end, 10);
	if (*end != '\0' || fd == dirfd || fd > INT32_MAX)
		return (0);
	if ((fl = fcntl((int)fd, F_GETFD)) == -1 || (fl & FD_CLOEXEC))
		return (0);
	if (req->nfdmap >= PROTO_MAX_FDS - 1 || fd >= PROTO_MAX_CHILD_FD)
		return (-E2BIG);
	return (spawnd_req_set_fd(req, (int)fd, (int)fd));
}

/*
 * The fd map: every fd without CLOEXEC, then those the file actions use.
 * getdents64 rather than readdir: no DIR allocation per spawn.
 */
static int
posix_inherit_fds(struct spawnd_req *req,
    const spawnd_posix_spawn_file_actions_t *fa)
{
	union {
		struct dirent64	d;
		char		b[4096];
	}			 u;
	struct dirent64		*d;
	ssize_t			 n, off;
	int			 dirfd, r = 0;

	req->nfdmap = 0;
	if ((dirfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return (-errno);
	while ((n = getdents64(dirfd, u.b, sizeof u.b)) > 0) {
		for (off = 0; off < n; off += d->d_reclen) {
			d = (struct dirent64 *)(void *)(u.b + off);
			if ((r = posix_inherit_one(req, dirfd,
			    d->d_name)) != 0)
				goto out;
		}
	}
	if (n == -1)
		r = -errno;
out:
	(void)close(dirfd);
	return (r != 0 ? r : posix_action_fds(req, fa));
}

/* The caller's fd an action reads (dup2 from, fchdir, tcsetpgrp), or -1. */
static int
posix_action_src(const struct posix_action *a)
{
	switch (a->kind) {
	case PROTO_ACT_DUP2:
	case PROTO_ACT_FCHDIR:
	case PROTO_ACT_TCSETPGRP:
		return (a->fd);
	default:
		return (-1);
	}
}

/*
 * A posix_spawn child holds all the caller's fds until exec, CLOEXEC ones
 * too, so file actions may read those: such an fd is passed at its own
 * number as well, and stays close-on-exec in the child (PROTO_FD_CLOEXEC),
 * so exec closes it unless an action made that number its own.
 */
static int
posix_action_fds(struct spawnd_req *req,
    const spawnd_posix_spawn_file_actions_t *fa)
{
	const struct posix_action	*a;
	size_t				 j;
	int				 i, fd, r;

	for (i = 0, a = fa != NULL ? fa->fa_actions : NULL;
	    fa != NULL && i < fa->fa_used; i++, a++) {
		if ((fd = posix_action_src(a)) < 0 || posix_own_has(fd) ||
		    fcntl(fd, F_GETFD) == -1)
			continue;
		for (j = 0; j < req->nfdmap; j++) {
			if (req->fdmap[j].child_fd == fd)
				break;
		}
		if (j < req->nfdmap)
			continue;
		if (req->nfdmap >= PROTO_MAX_FDS - 1)
			return (-E2BIG);
		if ((r = client_req_map_fd(req, fd, fd, PROTO_FD_CLOEXEC)) != 0)
			return (r);
	}
	return (0);
}

static int
posix_apply_attr(struct spawnd_req *req, const spawnd_posix_spawnattr_t *a)
{
	int	r = 0;

	req->flags |= PROTO_SPAWN_NO_PIDFD;
	if (a == NULL || !(a->at_spawnd_flags & POSIX_TIED))
		req->flags |= PROTO_SPAWN_DETACH;
	if (a == NULL)
		return (0);
	if (a->at_flags & POSIX_SPAWN_SETSIGMASK)
		req->sigmask = client_sigset_bits(&a->at_ss);
	if (a->at_flags & POSIX_SPAWN_SETSIGDEF)
		req->sigign &= ~client_sigset_bits(&a->at_sd);
	if (a->at_flags & POSIX_SPAWN_RESETIDS)
		req->flags |= PROTO_SPAWN_RESETIDS;
	if (a->at_flags & POSIX_SPAWN_SETSID)
		req->flags |= PROTO_SPAWN_SETSID;
	if (a->at_flags & POSIX_SPAWN_SETPGROUP)
		r = spawnd_req_set_pgroup(req, a->at_pgrp);
	if (r == 0 && (a->at_flags & POSIX_SPAWN_SETSCHEDULER))
		r = spawnd_req_set_sched(req, a->at_policy, &a->at_sp);
	else if (r == 0 && (a->at_flags & POSIX_SPAWN_SETSCHEDPARAM))
		r = spawnd_req_set_sched(req, posix_caller_policy(), &a->at_sp);
	if (r == 0 && (a->at_spawnd_flags & POSIX_TIED) && a->at_grace_ms != 0)
		r = spawnd_req_set_grace(req, a->at_grace_ms);
	return (r);
}

/* The request borrows the actions' paths: fa outlives the call. */
static int
posix_apply_actions(struct spawnd_req *req,
    const spawnd_posix_spawn_file_actions_t *fa)
{
	const struct posix_action	*a;
	int				 i, r;

	if (fa == NULL)
		return (0);
	for (i = 0, a = fa->fa_actions; i < fa->fa_used; i++, a++) {
		switch (a->kind) {
		case PROTO_ACT_OPEN:
			r = spawnd_req_add_open(req, a->fd, a->path, a->oflag,
			    a->mode);
			break;
		case PROTO_ACT_CLOSE:
			r = spawnd_req_add_close(req, a->fd);
			break;
		case PROTO_ACT_DUP2:
			r = spawnd_req_add_dup2(req, a->fd, a->newfd);
			break;
		case PROTO_ACT_CHDIR:
			r = spawnd_req_add_chdir(req, a->path);
			break;
		case PROTO_ACT_FCHDIR:
			r = spawnd_req_add_fchdir(req, a->fd);
			break;
		case PROTO_ACT_CLOSEFROM:
			r = spawnd_req_add_closefrom(req, a->fd);
			break;
		case PROTO_ACT_TCSETPGRP:
			r = spawnd_req_add_tcsetpgrp(req, a->fd);
			break;
		default:
			r = -EINVAL;
			break;
		}
		if (r != 0)
			return (r);
	}
	return (0);
}

/* Everything but the fd map, which posix_start() takes at the last moment. */
static int
posix_request(struct spawnd_req *req,
    const spawnd_posix_spawn_file_actions_t *fa,
    const spawnd_posix_spawnattr_t *attr, char *const argv[],
    char *const envp[], int *ret_cwd)
{
	int	r;

	if ((r = spawnd_req_set_argv(req, (const char *const *)argv)) != 0 ||
	    (r = spawnd_req_set_envp(req, (const char *const *)envp)) != 0 ||
	    (r = posix_inherit_state(req)) != 0)
		return (r);
	posix_inherit_rlimits(req);
	posix_inherit_sched(req);
	if ((r = posix_own_open_cwd(ret_cwd)) != 0)
		return (r);
	if ((r = spawnd_req_set_cwd_fd(req, *ret_cwd)) != 0 ||
	    (r = posix_apply_attr(req, attr)) != 0)
		return (r);
	return (posix_apply_actions(req, fa));
}

/*
 * HELLO and SPAWN go out back to back on a new connection, and the
 * handshake reply is read after; a pooled connection skips both.  One
 * found dead (the daemon restarted or exited idle) fails the send before
 * the daemon could act on anything: a new one is made.  An fd closed by
 * another thread between listing and sending makes sendmsg fail with
 * EBADF before anything went out: list again (a program that opens and
 * closes files in many threads, as a JVM does, may need several goes).
 */
static int
posix_start(struct spawnd_req *req,
    const spawnd_posix_spawn_file_actions_t *fa, struct posix_entry *e,
    int *ret_stage)
{
	struct spawnd_failure	f;
	int			r, hs, tries, pooled;

	*ret_stage = POSIX_STAGE_DAEMON;
	if ((r = spawnd_socket_path(e->path, sizeof e->path)) < 0)
		return (r);
	pooled = (e->client = posix_pool_take(e->path)) != NULL;
	if (!pooled && (r = posix_client_open(e->path, &e->client)) != 0)
		return (r);
	for (tries = 1;; tries++) {
		if ((r = posix_inherit_fds(req, fa)) != 0)
			return (r);
		r = client_spawn_send(e->client, req, &e->child);
		if (pooled && (r == -EPIPE || r == -ECONNRESET)) {
			posix_client_free(e->client);
			e->client = NULL;
			pooled = 0;
			if ((r = posix_client_open(e->path, &e->client)) != 0)
				return (r);
			tries--;
			continue;
		}
		if (r != -EBADF || tries == POSIX_SPAWN_TRIES)
			break;
	}
	/* The daemon's ERROR for HELLO explains a failed send best. */
	if (!pooled && (hs = client_handshake(e->client, -1)) != 0)
		return (hs);
	if (r != 0)
		return (r);
	*ret_stage = POSIX_STAGE_CHILD;
	if ((r = client_spawn_recv(e->client, e->child, &f)) != 0)
		return (r);
	e->pid = spawnd_child_pid(e->child);
	return (0);
}

/* The group the child went to, when the attributes say; else -1. */
static pid_t
posix_pgid(const spawnd_posix_spawnattr_t *a, pid_t pid)
{
	if (a == NULL)
		return (-1);
	if (a->at_flags & POSIX_SPAWN_SETSID)
		return (pid);
	if (a->at_flags & POSIX_SPAWN_SETPGROUP)
		return (a->at_pgrp == 0 ? pid : a->at_pgrp);
	return (-1);
}

/*
 * The posix face's own fds, which file actions must see as closed.  A
 * number is listed just after its fd is made and unlisted and closed as
 * one step under the lock, so that another thread's file actions, which
 * ask posix_own_has() under the same lock, never see the caller's new fd
 * at a number just freed by one of ours as ours.  (Between the making and
 * the listing, an action naming a number the caller never had could take
 * ours: the one window left.)
 */

static int
posix_own_add(int fd)
{
	int	*p;
	size_t	 cap;
	int	 r = 0;

	(void)pthread_mutex_lock(&posix_own.lock);
	if (posix_own.n == posix_own.cap) {
		cap = posix_own.cap > 0 ? posix_own.cap * 2 : 16;
		if ((p = reallocarray(posix_own.fd, cap, sizeof *p)) == NULL)
			r = -ENOMEM;
		else {
			posix_own.fd = p;
			posix_own.cap = cap;
		}
	}
	if (r == 0)
		posix_own.fd[posix_own.n++] = fd;
	(void)pthread_mutex_unlock(&posix_own.lock);
	return (r);
}

/* Lock held. */
static void
posix_own_forget(int fd)
{
	size_t	i;

	for (i = 0; i < posix_own.n; i++) {
		if (posix_own.fd[i] == fd) {
			posix_own.fd[i] = posix_own.fd[--posix_own.n];
			break;
		}
	}
}

/*
 * The caller's cwd as an O_PATH fd of ours.  Opened before it is listed,
 * not under the lock: an open(".") can wait on a network filesystem, and
 * fork() (the shim's handlers) and other threads' spawns take the lock.
 */
static int
posix_own_open_cwd(int *ret_fd)
{
	int	fd, r;

	*ret_fd = -1;
	if ((fd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1)
		return (-errno);
	if ((r = posix_own_add(fd)) != 0) {
		(void)close(fd);
		return (r);
	}
	*ret_fd = fd;
	return (0);
}

/* Closes an fd of ours and forgets its number, as one step. */
static void
posix_own_close(int fd)
{
	(void)pthread_mutex_lock(&posix_own.lock);
	posix_own_forget(fd);
	(void)close(fd);
	(void)pthread_mutex_unlock(&posix_own.lock);
}

static int
posix_own_has(int fd)
{
	size_t	i;
	int	found = 0;

	(void)pthread_mutex_lock(&posix_own.lock);
	for (i = 0; i < posix_own.n && !found; i++)
		found = posix_own.fd[i] == fd;
	(void)pthread_mutex_unlock(&posix_own.lock);
	return (found);
}

/* A new connection, listed as ours. */
static int
posix_client_open(const char *path, struct spawnd_client **ret_client)
{
	struct spawnd_client	*c;
	int			 r;

	if ((r = client_open(path, &c)) != 0)
		return (r);
	if ((r = posix_own_add(spawnd_client_fd(c))) != 0) {
		spawnd_client_free(c);
		return (r);
	}
	client_set_own(c, posix_own_add, posix_own_close);
	*ret_client = c;
	return (0);
}

/* Closes a connection of ours and forgets its number, as one step. */
static void
posix_client_free(struct spawnd_client *c)
{
	if (c == NULL)
		return;
	(void)pthread_mutex_lock(&posix_own.lock);
	posix_own_forget(spawnd_client_fd(c));
	spawnd_client_free(c);
	(void)pthread_mutex_unlock(&posix_own.lock);
}

/* The pool. */

/* Drops connections another process made (lock held). */
static void
posix_pool_own(void)
{
	pid_t	pid = getpid();

	if (posix_pool.pid == pid)
		return;
	while (posix_pool.n > 0)
		posix_client_free(posix_pool.client[--posix_pool.n]);
	posix_pool.pid = pid;
}

/* An idle connection to path, or NULL. */
static struct spawnd_client *
posix_pool_take(const char *path)
{
	struct spawnd_client	*c = NULL;
	size_t			 i;

	(void)pthread_mutex_lock(&posix_pool.lock);
	posix_pool_own();
	for (i = posix_pool.n; i-- > 0;) {
		if (strcmp(posix_pool.path[i], path) != 0)
			continue;
		c = posix_pool.client[i];
		posix_pool.n--;
		posix_pool.client[i] = posix_pool.client[posix_pool.n];
		memcpy(posix_pool.path[i], posix_pool.path[posix_pool.n],
		    POSIX_PATH_MAX);
		break;
	}
	(void)pthread_mutex_unlock(&posix_pool.lock);
	return (c);
}

/* Keeps c for reuse if it is fit and there is room; frees it otherwise. */
static void
posix_pool_put(struct spawnd_client *c, const char *path)
{
	if (c == NULL)
		return;
	if (client_idle(c)) {
		(void)pthread_mutex_lock(&posix_pool.lock);
		posix_pool_own();
		if (posix_pool.n < POSIX_POOL_MAX) {
			posix_pool.client[posix_pool.n] = c;
			memcpy(posix_pool.path[posix_pool.n], path,
			    POSIX_PATH_MAX);
			posix_pool.n++;
			c = NULL;
		}
		(void)pthread_mutex_unlock(&posix_pool.lock);
	}
	posix_client_free(c);
}

/* The table. */

static void
posix_entry_free(struct posix_entry *e)
{
	if (e == NULL)
		return;
	spawnd_child_free(e->child);
	posix_client_free(e->client);
	free(e);
}

static void
posix_table_add(struct posix_entry *e)
{
	(void)pthread_mutex_lock(&posix_table.lock);
	e->serial = ++posix_table.serial;
	TAILQ_INSERT_TAIL(&posix_table.entries, e, entry);
	(void)pthread_cond_broadcast(&posix_table.cond);
	(void)pthread_mutex_unlock(&posix_table.lock);
}

static struct posix_entry *
posix_find_pid(pid_t pid)
{
	struct posix_entry	*e;

	TAILQ_FOREACH(e, &posix_table.entries, entry) {
		if (e->pid == pid)
			return (e);
	}
	return (NULL);
}

static struct posix_entry *
posix_find_serial(uint64_t serial)
{
	struct posix_entry	*e;

	TAILQ_FOREACH(e, &posix_table.entries, entry) {
		if (e->serial == serial)
			return (e);
	}
	return (NULL);
}

static void
posix_unlock(void *arg)
{
	(void)arg;
	(void)pthread_mutex_unlock(&posix_table.lock);
}

/* Gives a busy entry back, also when its reader is cancelled. */
static void
posix_release(void *arg)
{
	struct posix_entry	*e = arg;

	(void)pthread_mutex_lock(&posix_table.lock);
	e->busy = 0;
	(void)pthread_cond_broadcast(&posix_table.cond);
	(void)pthread_mutex_unlock(&posix_table.lock);
}

/*
 * The blocking read of a busy entry, a cancellation point.  Cleanup
 * regions are setjmp-based, so results go out through pointers rather
 * than locals of the function that pushes the handler.
 */
static void
posix_read(struct posix_entry *e, int timeout_ms, struct spawnd_exit *ex,
    int *ret)
{
	pthread_cleanup_push(posix_release, e);
	*ret = spawnd_child_wait(e->child, timeout_ms, ex);
	pthread_cleanup_pop(0);
}

/*
 * Reads a busy entry's connection for its exit record.  Returns the pid
 * (the entry is gone), 0 (not yet: released), or -1/ECHILD when the
 * connection broke (the entry is dropped: its exit will never be known).
 */
static pid_t
posix_reap(struct posix_entry *e, int timeout_ms, int *status,
    struct spawnd_exit *ret_exit)
{
	struct spawnd_exit	ex;
	int			r;

	posix_read(e, timeout_ms, &ex, &r);
	if (r == -ETIMEDOUT) {
		posix_release(e);
		return (0);
	}
	(void)pthread_mutex_lock(&posix_table.lock);
	TAILQ_REMOVE(&posix_table.entries, e, entry);
	(void)pthread_cond_broadcast(&posix_table.cond);
	(void)pthread_mutex_unlock(&posix_table.lock);
	if (r == 0) {
		/* The child is gone and its record read: the connection is free. */
		spawnd_child_free(e->child);
		e->child = NULL;
		posix_pool_put(e->client, e->path);
		e->client = NULL;
	}
	posix_entry_free(e);
	if (r != 0) {
		errno = ECHILD;
		return (-1);
	}
	if (status != NULL)
		*status = ex.status;
	if (ret_exit != NULL)
		*ret_exit = ex;
	return (ex.pid);
}

/*
 * Finds pid and marks it busy; a second waiter for the same pid waits its
 * turn (then usually finds it gone).  *ret_busy: WNOHANG met a busy one.
 */
static void
posix_claim_locked(pid_t pid, int options, struct posix_entry **ret_e,
    int *ret_busy)
{
	struct posix_entry	*e;

	*ret_busy = 0;
	while ((e = posix_find_pid(pid)) != NULL && e->busy) {
		if (options & WNOHANG) {
			*ret_busy = 1;
			e = NULL;
			break;
		}
		(void)pthread_cond_wait(&posix_table.cond, &posix_table.lock);
	}
	if (e != NULL)
		e->busy = 1;
	*ret_e = e;
}

static void
posix_claim(pid_t pid, int options, struct posix_entry **ret_e,
    int *ret_busy)
{
	(void)pthread_mutex_lock(&posix_table.lock);
	pthread_cleanup_push(posix_unlock, NULL);
	posix_claim_locked(pid, options, ret_e, ret_busy);
	pthread_cleanup_pop(1);
}

static pid_t
posix_wait_one(pid_t pid, int *status, int options)
{
	struct posix_entry	*e;
	int			 busy;

	posix_claim(pid, options, &e, &busy);
	if (busy)
		return (0);
	if (e == NULL)
		return (waitpid(pid, status, options));
	return (posix_reap(e, (options & WNOHANG) ? 0 : -1, status, NULL));
}

/* The pollfds of the n entries nobody is reading; lock held. */
static int
posix_fill(struct posix_pollset *ps, size_t n)
{
	struct posix_entry	*e;

	ps->pfd = calloc(n, sizeof *ps->pfd);
	ps->serial = calloc(n, sizeof *ps->serial);
	if (ps->pfd == NULL || ps->serial == NULL)
		return (-ENOMEM);
	TAILQ_FOREACH(e, &posix_table.entries, entry) {
		if (e->busy)
			continue;
		ps->pfd[ps->n].fd = spawnd_client_fd(e->client);
		ps->pfd[ps->n].events = POLLIN;
		ps->serial[ps->n++] = e->serial;
	}
	return (POSIX_READY);
}

/* Waits until the table is empty or has a free entry; lock held. */
static void
posix_collect_locked(struct posix_pollset *ps, int options, int *ret)
{
	struct posix_entry	*e;
	size_t			 n;

	for (;;) {
		if (TAILQ_EMPTY(&posix_table.entries)) {
			*ret = POSIX_EMPTY;
			return;
		}
		n = 0;
		TAILQ_FOREACH(e, &posix_table.entries, entry)
			n += !e->busy;
		if (n != 0) {
			*ret = posix_fill(ps, n);
			return;
		}
		if (options & WNOHANG) {
			*ret = POSIX_NONE;
			return;
		}
		(void)pthread_cond_wait(&posix_table.cond, &posix_table.lock);
	}
}

static int
posix_collect(struct posix_pollset *ps, int options)
{
	int	r;

	memset(ps, 0, sizeof *ps);
	(void)pthread_mutex_lock(&posix_table.lock);
	pthread_cleanup_push(posix_unlock, NULL);
	posix_collect_locked(ps, options, &r);
	pthread_cleanup_pop(1);
	return (r);
}

static void
posix_pollset_free(void *arg)
{
	struct posix_pollset	*ps = arg;

	free(ps->pfd);
	free(ps->serial);
}

/*
 * Reaps the first readable entry still there and free.  The fds were
 * taken under the lock, so one may have been closed and reused since:
 * the serial lookup makes that harmless.
 */
static pid_t
posix_try_ready(const struct posix_pollset *ps, int *status)
{
	struct posix_entry	*e;
	size_t			 i;
	pid_t			 pid;

	for (i = 0; i < ps->n; i++) {
		if (ps->pfd[i].revents == 0)
			continue;
		(void)pthread_mutex_lock(&posix_table.lock);
		if ((e = posix_find_serial(ps->serial[i])) != NULL && e->busy)
			e = NULL;
		if (e != NULL)
			e->busy = 1;
		(void)pthread_mutex_unlock(&posix_table.lock);
		if (e != NULL && (pid = posix_reap(e, 0, status, NULL)) > 0)
			return (pid);
	}
	return (0);
}

/* One slice of waiting on the set; frees it, also when cancelled. */
static void
posix_poll(struct posix_pollset *ps, int options, int *status,
    pid_t *ret_pid)
{
	pthread_cleanup_push(posix_pollset_free, ps);
	*ret_pid = 0;
	if (poll(ps->pfd, ps->n, (options & WNOHANG) ? 0 :
	    POSIX_WAIT_SLICE_MS) > 0)
		*ret_pid = posix_try_ready(ps, status);
	pthread_cleanup_pop(1);
}

/*
 * Any child in the table: poll all free entries' sockets, in slices of
 * POSIX_WAIT_SLICE_MS so that entries added or released meanwhile are
 * seen.  With an empty table this is waitpid(2)'s business; the caller's
 * own children are not looked at while the table is not empty.
 */
static pid_t
posix_wait_any(int *status, int options)
{
	struct posix_pollset	ps;
	pid_t			pid;
	int			r;

	for (;;) {
		r = posix_collect(&ps, options);
		if (r == POSIX_EMPTY)
			return (waitpid(-1, status, options));
		if (r == POSIX_NONE)
			return (0);
		if (r < 0) {
			posix_pollset_free(&ps);
			errno = -r;
			return (-1);
		}
		posix_poll(&ps, options, status, &pid);
		if (pid != 0 || (options & WNOHANG))
			return (pid);
	}
}

SPAWND_EXPORT pid_t
spawnd_waitpid(pid_t pid, int *status, int options)
{
	if ((options & ~WNOHANG) != 0 || (pid <= 0 && pid != -1))
		return (waitpid(pid, status, options));
	if (pid == -1)
		return (posix_wait_any(status, options));
	return (posix_wait_one(pid, status, options));
}

/* File actions. */

/* As glibc: fd numbers the process could never have are EBADF. */
static int
posix_fd_ok(int fd)
{
	long	max = sysconf(_SC_OPEN_MAX);

	return (fd >= 0 && (max == -1 || fd < max) &&
	    fd < PROTO_MAX_CHILD_FD);
}

/* Past the protocol's PROTO_MAX_ACTIONS the object is "full": ENOMEM. */
static int
posix_fa_add(spawnd_posix_spawn_file_actions_t *fa,
    const struct posix_action *a)
{
	struct posix_action	*p;
	int			 cap;

	if (fa->fa_used >= PROTO_MAX_ACTIONS)
		return (ENOMEM);
	if (fa->fa_used >= fa->fa_allocated) {
		cap = fa->fa_allocated > 0 ? fa->fa_allocated * 2 : 8;
		if ((p = reallocarray(fa->fa_actions, (size_t)cap,
		    sizeof *p)) == NULL)
			return (ENOMEM);
		fa->fa_actions = p;
		fa->fa_allocated = cap;
	}
	p = fa->fa_actions;
	p[fa->fa_used++] = *a;
	return (0);
}

SPAWND_EXPORT int
spawnd_posix_spawn_file_actions_init(spawnd_posix_spawn_file_actions_t *fa)
{
	if (fa == NULL)
		return (EINVAL);
	memset(fa, 0, sizeof *fa);
	return (0);
}

SPAWND_EXPORT int
spawnd_posix_spawn_file_actions_destroy(
    spawnd_posix_spawn_file_actions_t *fa)
{
	struct posix_action	*a;
	int			 i;

	if (fa == NULL)
		return (EINVAL);
	for (i = 0, a = fa->fa_actions; i < fa->fa_used; i++)
		free(a[i].path);
	free(fa->fa_actions);
	memset(fa, 0, sizeof *fa);
	return (0);
}

/* Adds an action with a copy of path (NULL for none). */
static int
posix_fa_path(spawnd_posix_spawn_file_actions_t *fa, struct posix_action *a,
    const char *path)
{
	int	r;

	if ((a->path = strdup(path)) == NULL)
		return (ENOMEM);
	if ((r = posix_fa_add(fa, a)) != 0)
		free(a->path);
	return (r);
}

SPAWND_EXPORT int
spawnd_posix_spawn_file_actions_addopen(
    spawnd_posix_spawn_file_actions_t *fa, int fd, const char *path,
    int oflag, mode_t mode)
{
	struct posix_action	a = { .kind = PROTO_ACT_OPEN, .fd = fd,
				    .oflag = oflag, .mode = mode };

	if (fa == NULL || path == NULL)
		return (EINVAL);
	if (!posix_fd_ok(fd))
		return (EBADF);
	return (posix_fa_path(fa, &a, path));
}

SPAWND_EXPORT int
spawnd_posix_spawn_file_actions_addclose(
    spawnd_posix_spawn_file_actions_t *fa, int fd)
{
	struct posix_action	a = { .kind = PROTO_ACT_CLOSE, .fd = fd };

	if (fa == NULL)
		return (EINVAL);
	if (!posix_fd_ok(fd))
		return (EBADF);
	return (posix_fa_add(fa, &a));
}

SPAWND_EXPORT int
spawnd_posix_spawn_file_actions_adddup2(
    spawnd_posix_spawn_file_actions_t *fa, int fd, int newfd)
{
	struct posix_action	a = { .kind = PROTO_ACT_DUP2, .fd = fd,
				    .newfd = newfd };

	if (fa == NULL)
		return (EINVAL);
	if (!posix_fd_ok(fd) || !posix_fd_ok(newfd))
		return (EBADF);
	return (posix_fa_add(fa, &a));
}

SPAWND_EXPORT int
spawnd_posix_spawn_file_actions_addchdir(
    spawnd_posix_spawn_file_actions_t *fa, const char *path)
{
	struct posix_action	a = { .kind = PROTO_ACT_CHDIR };

	if (fa == NULL || path == NULL)
		return (EINVAL);
	return (posix_fa_path(fa, &a, path));
}

SPAWND_EXPORT int
spawnd_posix_spawn_file_actions_addchdir_np(
    spawnd_posix_spawn_file_actions_t *fa, const char *path)
{
	return (spawnd_posix_spawn_file_actions_addchdir(fa, path));
}

SPAWND_EXPORT int
spawnd_posix_spawn_file_actions_addfchdir(
    spawnd_posix_spawn_file_actions_t *fa, int fd)
{
	struct posix_action	a = { .kind = PROTO_ACT_FCHDIR, .fd = fd };

	if (fa == NULL)
		return (EINVAL);
	if (!posix_fd_ok(fd))
		return (EBADF);
	return (posix_fa_add(fa, &a));
}

SPAWND_EXPORT int
spawnd_posix_spawn_file_actions_addfchdir_np(
    spawnd_posix_spawn_file_actions_t *fa, int fd)
{
	return (spawnd_posix_spawn_file_actions_addfchdir(fa, fd));
}

SPAWND_EXPORT int
spawnd_posix_spawn_file_actions_addclosefrom_np(
    spawnd_posix_spawn_file_actions_t *fa, int from)
{
	struct posix_action	a = { .kind = PROTO_ACT_CLOSEFROM,
				    .fd = from };

	if (fa == NULL)
		return (EINVAL);
	if (!posix_fd_ok(from))
		return (EBADF);
	return (posix_fa_add(fa, &a));
}

SPAWND_EXPORT int
spawnd_posix_spawn_file_actions_addtcsetpgrp_np(
    spawnd_posix_spawn_file_actions_t *fa, int fd)
{
	struct posix_action	a = { .kind = PROTO_ACT_TCSETPGRP,
				    .fd = fd };

	if (fa == NULL)
		return (EINVAL);
	if (!posix_fd_ok(fd))
		return (EBADF);
	return (posix_fa_add(fa, &a));
}

/* Attributes. */

SPAWND_EXPORT int
spawnd_posix_spawnattr_init(spawnd_posix_spawnattr_t *attr)
{
	if (attr == NULL)
		return (EINVAL);
	memset(attr, 0, sizeof *attr);
	return (0);
}

SPAWND_EXPORT int
spawnd_posix_spawnattr_destroy(spawnd_posix_spawnattr_t *attr)
{
	if (attr == NULL)
		return (EINVAL);
	return (0);
}

SPAWND_EXPORT int
spawnd_posix_spawnattr_setflags(spawnd_posix_spawnattr_t *attr, short flags)
{
	if (attr == NULL || ((unsigned short)flags & ~POSIX_FLAGS_ALL) != 0)
		return (EINVAL);
	attr->at_flags = flags;
	return (0);
}

SPAWND_EXPORT int
spawnd_posix_spawnattr_getflags(const spawnd_posix_spawnattr_t *attr,
    short *flags)
{
	if (attr == NULL || flags == NULL)
		return (EINVAL);
	*flags = attr->at_flags;
	return (0);
}

SPAWND_EXPORT int
spawnd_posix_spawnattr_setpgroup(spawnd_posix_spawnattr_t *attr,
    pid_t pgroup)
{
	if (attr == NULL)
		return (EINVAL);
	attr->at_pgrp = pgroup;
	return (0);
}

SPAWND_EXPORT int
spawnd_posix_spawnattr_getpgroup(const spawnd_posix_spawnattr_t *attr,
    pid_t *pgroup)
{
	if (attr == NULL || pgroup == NULL)
		return (EINVAL);
	*pgroup = attr->at_pgrp;
	return (0);
}

SPAWND_EXPORT int
spawnd_posix_spawnattr_setsigmask(spawnd_posix_spawnattr_t *attr,
    const sigset_t *sigmask)
{
	if (attr == NULL || sigmask == NULL)
		return (EINVAL);
	attr->at_ss = *sigmask;
	return (0);
}

SPAWND_EXPORT int
spawnd_posix_spawnattr_getsigmask(const spawnd_posix_spawnattr_t *attr,
    sigset_t *sigmask)
{
	if (attr == NULL || sigmask == NULL)
		return (EINVAL);
	*sigmask = attr->at_ss;
	return (0);
}

SPAWND_EXPORT int
spawnd_posix_spawnattr_setsigdefault(spawnd_posix_spawnattr_t *attr,
    const sigset_t *sigdefault)
{
	if (attr == NULL || sigdefault == NULL)
		return (EINVAL);
	attr->at_sd = *sigdefault;
	return (0);
}

SPAWND_EXPORT int
spawnd_posix_spawnattr_getsigdefault(const spawnd_posix_spawnattr_t *attr,
    sigset_t *sigdefault)
{
	if (attr == NULL || sigdefault == NULL)
		return (EINVAL);
	*sigdefault = attr->at_sd;
	return (0);
}

/* glibc takes OTHER, FIFO and RR; Linux's BATCH and IDLE are taken too. */
SPAWND_EXPORT int
spawnd_posix_spawnattr_setschedpolicy(spawnd_posix_spawnattr_t *attr,
    int policy)
{
	if (attr == NULL)
		return (EINVAL);
	switch (policy) {
	case SCHED_OTHER:
	case SCHED_FIFO:
	case SCHED_RR:
	case SCHED_BATCH:
	case SCHED_IDLE:
		attr->at_policy = policy;
		return (0);
	default:
		return (EINVAL);
	}
}

SPAWND_EXPORT int
spawnd_posix_spawnattr_getschedpolicy(const spawnd_posix_spawnattr_t *attr,
    int *policy)
{
	if (attr == NULL || policy == NULL)
		return (EINVAL);
	*policy = attr->at_policy;
	return (0);
}

SPAWND_EXPORT int
spawnd_posix_spawnattr_setschedparam(spawnd_posix_spawnattr_t *attr,
    const struct sched_param *param)
{
	if (attr == NULL || param == NULL)
		return (EINVAL);
	attr->at_sp = *param;
	return (0);
}

SPAWND_EXPORT int
spawnd_posix_spawnattr_getschedparam(const spawnd_posix_spawnattr_t *attr,
    struct sched_param *param)
{
	if (attr == NULL || param == NULL)
		return (EINVAL);
	*param = attr->at_sp;
	return (0);
}

SPAWND_EXPORT int
spawnd_posix_spawnattr_settied_np(spawnd_posix_spawnattr_t *attr, int tied,
    unsigned int grace_ms)
{
	if (attr == NULL)
		return (EINVAL);
	if (tied)
		attr->at_spawnd_flags |= POSIX_TIED;
	else
		attr->at_spawnd_flags &= ~(unsigned int)POSIX_TIED;
	attr->at_grace_ms = grace_ms;
	return (0);
}

/*
 * Internal entry points for the preload shim (client/preload.c), declared
 * in client-int.h and not exported: it reads the table through these
 * rather than keeping a copy of it.
 */

int
client_posix_spawn(pid_t *pid, const char *path, int search,
    const spawnd_posix_spawn_file_actions_t *fa,
    const spawnd_posix_spawnattr_t *attr, char *const argv[],
    char *const envp[], int *ret_stage)
{
	return (posix_spawn_common(pid, path, search, fa, attr, argv, envp,
	    ret_stage));
}

/*
 * Lists up to max outstanding children (with unnoted, only those not yet
 * passed to client_posix_note()).  Returns how many there are in all.
 */
size_t
client_posix_watch(struct client_posix_watch *w, size_t max, int unnoted)
{
	struct posix_entry	*e;
	size_t			 n = 0;

	(void)pthread_mutex_lock(&posix_table.lock);
	TAILQ_FOREACH(e, &posix_table.entries, entry) {
		if (unnoted && e->noted)
			continue;
		if (n < max) {
			w[n].fd = spawnd_client_fd(e->client);
			w[n].pid = e->pid;
			w[n].pgid = e->pgid;
			w[n].serial = e->serial;
		}
		n++;
	}
	(void)pthread_mutex_unlock(&posix_table.lock);
	return (n);
}

/* Marks the entry serial as noted; its pid, or 0 once it is gone. */
pid_t
client_posix_note(uint64_t serial)
{
	struct posix_entry	*e;
	pid_t			 pid = 0;

	(void)pthread_mutex_lock(&posix_table.lock);
	if ((e = posix_find_serial(serial)) != NULL) {
		e->noted = 1;
		pid = e->pid;
	}
	(void)pthread_mutex_unlock(&posix_table.lock);
	return (pid);
}

/*
 * Reaps pid if the table has it: options WNOHANG and WNOWAIT (read the
 * record but leave the child to be reaped again).  Returns pid and
 * *ret_exit, 0 (WNOHANG: not yet, or another thread reads it), or -ECHILD
 * (not in the table, or its connection broke).
 */
pid_t
client_posix_reap(pid_t pid, int options, struct spawnd_exit *ret_exit)
{
	struct posix_entry	*e;
	struct spawnd_exit	 ex;
	int			 busy, r, timeout = (options & WNOHANG) ? 0 : -1;

	posix_claim(pid, options, &e, &busy);
	if (busy)
		return (0);
	if (e == NULL)
		return (-ECHILD);
	if (!(options & WNOWAIT)) {
		pid = posix_reap(e, timeout, NULL, ret_exit);
		return (pid == -1 ? -ECHILD : pid);
	}
	posix_read(e, timeout, &ex, &r);
	posix_release(e);
	if (r == -ETIMEDOUT)
		return (0);
	if (r != 0)
		return (-ECHILD);
	*ret_exit = ex;
	return (pid);
}

/*
 * fork() handlers: the locks are held across the fork so the child gets
 * them in a known state; in the child, the table's children are the
 * parent's (it may not wait for them, nor read their connections), so the
 * table is emptied there, closing only the child's copies of the sockets.
 * A fork from a handler that interrupted this thread inside the table
 * finds the (error-checking) lock its own: it is then left alone.
 */
static int	posix_fork_table, posix_fork_pool, posix_fork_own;

void
client_posix_atfork_prepare(void)
{
	posix_fork_pool = pthread_mutex_lock(&posix_pool.lock) == 0;
	posix_fork_table = pthread_mutex_lock(&posix_table.lock) == 0;
	posix_fork_own = pthread_mutex_lock(&posix_own.lock) == 0;
}

void
client_posix_atfork_parent(void)
{
	if (posix_fork_own)
		(void)pthread_mutex_unlock(&posix_own.lock);
	if (posix_fork_table)
		(void)pthread_mutex_unlock(&posix_table.lock);
	if (posix_fork_pool)
		(void)pthread_mutex_unlock(&posix_pool.lock);
}

/* An error-checking lock knows its owner's tid, which the child lacks. */
static void
posix_lock_reinit(pthread_mutex_t *m)
{
	pthread_mutexattr_t	ma;

	(void)pthread_mutexattr_init(&ma);
	(void)pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_ERRORCHECK);
	(void)pthread_mutex_init(m, &ma);
	(void)pthread_mutexattr_destroy(&ma);
}

void
client_posix_atfork_child(void)
{
	struct posix_entry	*e;

	/* First: emptying the table below takes the list of our own fds. */
	if (posix_fork_own)
		posix_lock_reinit(&posix_own.lock);
	if (posix_fork_table) {
		while ((e = TAILQ_FIRST(&posix_table.entries)) != NULL) {
			TAILQ_REMOVE(&posix_table.entries, e, entry);
			posix_entry_free(e);
		}
		(void)pthread_cond_init(&posix_table.cond, NULL);
		posix_lock_reinit(&posix_table.lock);
	}
	if (posix_fork_own && posix_fork_pool)
		posix_own_fork_child();
	if (posix_fork_pool)
		posix_lock_reinit(&posix_pool.lock);
}

/*
 * In the child of a fork: the fds of spawns other threads had in flight
 * (a cwd fd, a new connection) are ours no more, and no thread here will
 * close them.  Close them and forget their numbers, or the child could
 * reuse one and have its file actions treat it as ours.  The pool's
 * connections stay: the pool drops them, unlisting them, when first used.
 */
static void
posix_own_fork_child(void)
{
	size_t	i, j;
	int	pooled;

	for (i = 0; i < posix_own.n;) {
		for (j = 0, pooled = 0; j < posix_pool.n && !pooled; j++)
			pooled = spawnd_client_fd(posix_pool.client[j]) ==
			    posix_own.fd[i];
		if (pooled) {
			i++;
			continue;
		}
		(void)close(posix_own.fd[i]);
		posix_own.fd[i] = posix_own.fd[--posix_own.n];
	}
}
