/*
 * spawnd.h: the client library of spawnd, a spawn broker for Linux.
 *
 * A program linked with libspawnd never forks: it sends spawn requests,
 * with the child's file descriptors attached, to the spawnd daemon over a
 * Unix socket, and the daemon forks and execs on its behalf.  Writable
 * files held by other threads therefore never leak into children (no
 * ETXTBSY, no late pipe EOF).
 *
 * Two faces:
 *   - the handle API (spawnd_connect, spawnd_req_*, spawnd_spawn,
 *     spawnd_child_*): a child is a handle with a pid and a pollable fd;
 *   - the posix_spawn face (spawnd_posix_spawn*, spawnd_waitpid): same
 *     arguments and semantics as POSIX, so porting a caller is a rename.
 *
 * Errors: functions returning int return >= 0 on success and a negative
 * errno on failure, except the posix face, which returns what POSIX does.
 * Out-parameters (ret_*) that are not NULL are always written: on
 * failure a pointer is set to NULL, a count to 0 and a struct to zeroes
 * (struct spawnd_failure: error 0, SPAWND_STEP_NONE, action -1), so that a
 * caller that ignores the result never sees stale data.
 * Nothing here logs, prints, aborts, exits, installs signal handlers or
 * forks.  Every fd the library creates is O_CLOEXEC.
 *
 * Threads: a struct spawnd_client and the children spawned through it are
 * used by one thread at a time; distinct clients share nothing and may be
 * used concurrently.  spawnd_run() and the posix face are safe from any
 * thread at any time.  The posix face keeps one process-wide, locked table
 * of the children it started (the only shared state in the library).
 *
 * Finding the daemon: $SPAWND_SOCKET if set and not empty; else
 * $XDG_RUNTIME_DIR/spawnd/socket if XDG_RUNTIME_DIR is set to an absolute
 * path; else, for effective uid 0, the system socket /run/spawnd/socket;
 * else /tmp/spawnd-EUID/socket (EUID in decimal), a private directory as
 * tmux's /tmp/tmux-UID: autostart creates it 0700 and refuses it unless
 * it is ours, mode 0700 and not a symlink.
 */

#ifndef SPAWND_H
#define SPAWND_H

#include <sys/resource.h>
#include <sys/types.h>

#include <sched.h>
#include <signal.h>
#include <spawn.h>		/* sigset_t in every dialect, -std=c11 too */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SPAWND_VERSION		"0.1.0"
#define SPAWND_SYSTEM_SOCKET	"/run/spawnd/socket"

struct spawnd_client;
struct spawnd_req;
struct spawnd_child;

/* Why a spawn failed: the step of the child's set-up, with its errno. */
#define SPAWND_STEP_NONE	0
#define SPAWND_STEP_REQUEST	1	/* the daemon refused the request */
#define SPAWND_STEP_FORK	2
#define SPAWND_STEP_SIGNALS	3
#define SPAWND_STEP_SETSID	4
#define SPAWND_STEP_PGROUP	5
#define SPAWND_STEP_SCHED	6
#define SPAWND_STEP_RESETIDS	7
#define SPAWND_STEP_RLIMIT	8
#define SPAWND_STEP_NICE	9
#define SPAWND_STEP_CWD		10
#define SPAWND_STEP_FDS		11
#define SPAWND_STEP_ACTION	12	/* a file action; see .action */
#define SPAWND_STEP_EXEC	13
#define SPAWND_STEP_CTTY	14	/* spawnd_req_set_ctty() */

struct spawnd_failure {
	int		 error;		/* positive errno value */
	int		 step;		/* SPAWND_STEP_* */
	int		 action;	/* file action index, or -1 */
};

/* The end of a child. */
struct spawnd_exit {
	pid_t		 pid;
	int		 status;	/* as waitpid(2): use WIFEXITED() etc. */
	uint64_t	 utime_us;	/* user CPU time */
	uint64_t	 stime_us;	/* system CPU time */
	uint64_t	 maxrss_kib;	/* peak resident set size */
};

struct spawnd_status {
	pid_t		 pid;		/* the daemon's */
	unsigned int	 connections;
	unsigned int	 children;
	uint64_t	 spawns;	/* children started since start-up */
};

/* Returns a static name for a SPAWND_STEP_* value ("exec", "chdir"...). */
const char	*spawnd_step_name(int step);

/*
 * Writes the socket path the library would use (see "Finding the daemon")
 * to buf.  Returns its length, -ENAMETOOLONG if it does not fit in len or
 * in a sockaddr_un.
 */
int	spawnd_socket_path(char *buf, size_t len);

/*
 * Connects to the daemon at path (NULL: the default path) and performs the
 * version handshake.  timeout_ms bounds the handshake (-1: no bound).
 * Before sending anything, even the handshake, it checks who listens
 * (SO_PEERCRED): the caller's effective uid or root, and for a root
 * caller root only.  The process that answers the handshake (as the
 * kernel's SCM_CREDENTIALS name it) is taken as the daemon: pidfds of
 * children are then believed only for its children (spawnd_spawn()).
 * Returns 0 and *ret_client,
 * or -ENOENT/-ECONNREFUSED (no daemon), -EACCES (not allowed), -EPERM
 * (the server is another user's: nothing was sent; see
 * spawnd_socket_peer() to name it), -EPROTONOSUPPORT (version),
 * -ETIMEDOUT, -EPROTO.
 */
int	spawnd_connect(const char *path, int timeout_ms,
	    struct spawnd_client **ret_client);

/*
 * Who listens at path (NULL: the default path), as SO_PEERCRED tells:
 * its uid and pid (the daemon's, or under socket activation its service
 * manager's).  It connects and closes at once, sending nothing.  For the
 * message after spawnd_connect() returned -EPERM: returns 0 when that uid
 * is trusted (the caller's effective uid, or root; for root only root),
 * -EPERM when not (*ret_uid and *ret_pid are set in both cases), or the
 * errors of connect(2).
 */
int	spawnd_socket_peer(const char *path, uid_t *ret_uid, pid_t *ret_pid);

/*
 * As spawnd_connect(), but when no daemon answers at path (NULL: the
 * default), starts a private one there and connects to it: the one place
 * where the library starts a process (with posix_spawn), so only when the
 * caller asks.  spawnd is the daemon to run (NULL: $SPAWND_DAEMON, else
 * "spawnd" searched in PATH); it runs in its own session with
 * --exit-idle-time=60.  Any number of callers racing on one path end with
 * one daemon and all connected: starters serialize on an flock of
 * PATH.start.lock.  Before starting anything it walks the socket's
 * directory from / one component at a time: no symlink anywhere (-ELOOP),
 * no ".." (-EINVAL), every directory ours or root's and not writable by
 * group or others unless sticky with our (or root's) entry in it, the
 * socket's own directory never writable by others (-EPERM otherwise; for
 * the default /tmp/spawnd-EUID: ours and mode 0700).  It creates that
 * last directory 0700 if missing and opens the lock file in it without
 * following symlinks (-ELOOP).  Returns 0 (a daemon was there), 1 (this
 * call started it), or a negative errno as spawnd_connect(); -EIO if the
 * daemon failed to start.
 */
int	spawnd_connect_autostart(const char *path, const char *spawnd,
	    int timeout_ms, struct spawnd_client **ret_client);

/*
 * Closes the connection.  Children spawned through it without
 * SPAWND_DETACH are stopped by the daemon (SIGTERM, then SIGKILL after
 * their grace period).  Handles of its children stay valid for
 * spawnd_child_free() and the pid, but can no longer be waited for.
 * Accepts NULL.
 */
void	spawnd_client_free(struct spawnd_client *client);

/* The connection's socket: readable when a reply is waiting. */
int	spawnd_client_fd(const struct spawnd_client *client);

/* Round trip to the daemon, returning its counters.  -ETIMEDOUT. */
int	spawnd_ping(struct spawnd_client *client, int timeout_ms,
	    struct spawnd_status *ret_status);

/*
 * The daemon's children, by pid: for tools such as spawnctl ps/kill/wait.
 * A client sees the children of its own uid (root: all), whichever
 * connection started them; pids are resolved in the daemon's table and
 * signalled through pidfds, never passed to kill(2).
 */
#define SPAWND_PS_DETACHED	0x1	/* outlives its connection */
#define SPAWND_PS_ORPHAN	0x2	/* its connection is gone */
#define SPAWND_PS_STOPPING	0x4	/* being stopped: SIGTERM sent */

struct spawnd_ps {
	pid_t		 pid;
	pid_t		 client_pid;	/* 0 once that connection is gone */
	uid_t		 uid;		/* of the client that spawned it */
	unsigned int	 state;		/* SPAWND_PS_* */
	uint64_t	 age_ms;
	char		 argv[257];	/* joined by spaces, cut at 256 bytes */
};

/*
 * Lists the running children this client may see.  On success *ret_list
 * is a malloc'ed array of *ret_n entries (free() it; NULL when empty).
 * -ETIMEDOUT, -ENOTCONN, -EPROTO, -ENOMEM.
 */
int	spawnd_list(struct spawnd_client *client, int timeout_ms,
	    struct spawnd_ps **ret_list, size_t *ret_n);
/*
 * Sends sig to the daemon's child pid (or, with SPAWND_KILL_GROUP, to the
 * group it leads).  0, -ESRCH (not a live child of the daemon), -EPERM
 * (another uid's), -EINVAL, -ETIMEDOUT (5 s).
 */
int	spawnd_kill_pid(struct spawnd_client *client, pid_t pid, int sig,
	    unsigned int flags);
/*
 * Waits up to timeout_ms (-1: forever) for the daemon's child pid to exit
 * and returns its exit record.  -ESRCH, -EPERM, -ETIMEDOUT.
 */
int	spawnd_wait_pid(struct spawnd_client *client, pid_t pid,
	    int timeout_ms, struct spawnd_exit *ret_exit);

/*
 * Requests.  A request only records what the child should get; it is sent
 * by spawnd_spawn() and may be reused.  It borrows every pointer and fd it
 * is given (argv, envp, paths, fds): they must stay valid until the last
 * spawnd_spawn() that uses them returns.  Setters return 0, -EINVAL for a
 * bad argument, -ENOMEM, or -E2BIG past a limit of the protocol.
 */
int	spawnd_req_new(struct spawnd_req **ret_req);
void	spawnd_req_free(struct spawnd_req *req);	/* accepts NULL */

/* argv: NULL-terminated, argc >= 1, argv[0] not empty.  Required. */
int	spawnd_req_set_argv(struct spawnd_req *req, const char *const argv[]);
/* envp: NULL-terminated "K=V" strings; NULL or unset = empty environment. */
int	spawnd_req_set_envp(struct spawnd_req *req, const char *const envp[]);
/* The program to run; unset = argv[0].  See SPAWND_PATH_SEARCH. */
int	spawnd_req_set_path(struct spawnd_req *req, const char *path);
/*
 * Runs the program open at fd (execveat AT_EMPTY_PATH): exactly that inode,
 * scripts included.  Not with spawnd_req_set_path().
 */
int	spawnd_req_set_exec_fd(struct spawnd_req *req, int fd);
/* The child's working directory, by path or by an open directory fd. */
int	spawnd_req_set_cwd(struct spawnd_req *req, const char *path);
int	spawnd_req_set_cwd_fd(struct spawnd_req *req, int dirfd);
/*
 * The child gets a copy of the caller's fd as child_fd.  Every child fd not
 * set here is closed: the child's fd table is exactly the map (then the file
 * actions).  Mapping the same child_fd twice replaces the earlier fd.
 */
int	spawnd_req_set_fd(struct spawnd_req *req, int fd, int child_fd);

#define SPAWND_SETSID		0x0001	/* setsid() in the child */
#define SPAWND_RESETIDS		0x0002	/* effective ids := real ids */
#define SPAWND_PATH_SEARCH	0x0004	/* execvp rules with envp's PATH */
#define SPAWND_DETACH		0x0008	/* outlive the connection */
#define SPAWND_KILL_GROUP	0x0040	/* stop signals go to the pgroup */
/* Replaces the request's flags with flags (a mask of the above). */
int	spawnd_req_set_flags(struct spawnd_req *req, unsigned int flags);

/* setpgid(0, pgid) in the child; 0 = a new group led by the child. */
int	spawnd_req_set_pgroup(struct spawnd_req *req, pid_t pgid);
/* The child's signal mask (default: empty). */
int	spawnd_req_set_sigmask(struct spawnd_req *req, const sigset_t *mask);
/* Signals the child starts with ignored; all others start at default. */
int	spawnd_req_set_sigignore(struct spawnd_req *req, const sigset_t *set);
int	spawnd_req_set_umask(struct spawnd_req *req, mode_t mask);
/* -EINVAL for an unknown resource or rlim_cur > rlim_max. */
int	spawnd_req_set_rlimit(struct spawnd_req *req, int resource,
	    const struct rlimit *rl);
int	spawnd_req_set_nice(struct spawnd_req *req, int nice);
/* setscheduler (policy >= 0) or setparam (policy < 0) in the child. */
int	spawnd_req_set_sched(struct spawnd_req *req, int policy,
	    const struct sched_param *param);
/* Stop the child this long after it started (SIGTERM, grace, SIGKILL). */
int	spawnd_req_set_timeout(struct spawnd_req *req, unsigned int ms);
/* Time between SIGTERM and SIGKILL when the child is stopped (5000). */
int	spawnd_req_set_grace(struct spawnd_req *req, unsigned int ms);
/*
 * Gives the child a controlling terminal, as a login or a terminal
 * emulator does: the child starts a new session (SPAWND_SETSID is implied),
 * and after the fd map and the file actions the terminal open at its fd
 * child_fd (a pty's subsidiary, usually also 0, 1 and 2) becomes the
 * session's controlling terminal (TIOCSCTTY) with the child's process group
 * in the foreground (TIOCSPGRP).  Failures are step SPAWND_STEP_CTTY:
 * -ENOTTY (not a terminal), -EBADF (not open), -EPERM (the terminal is
 * another session's).  Not with spawnd_req_set_pgroup() (a session leader
 * keeps its group: -EPERM at SPAWND_STEP_PGROUP).  A daemon older than this
 * call refuses the request: -EPROTO at SPAWND_STEP_REQUEST.  child_fd -1
 * removes the setting; -EINVAL below -1 or past the protocol's fd limit.
 */
int	spawnd_req_set_ctty(struct spawnd_req *req, int child_fd);

/*
 * File actions, applied in the child in the order added, after the fd
 * map and the working directory, exactly as posix_spawn applies them.
 * fd numbers are the child's.
 */
int	spawnd_req_add_open(struct spawnd_req *req, int fd, const char *path,
	    int oflag, mode_t mode);
int	spawnd_req_add_close(struct spawnd_req *req, int fd);
int	spawnd_req_add_dup2(struct spawnd_req *req, int fd, int newfd);
int	spawnd_req_add_chdir(struct spawnd_req *req, const char *path);
int	spawnd_req_add_fchdir(struct spawnd_req *req, int fd);
int	spawnd_req_add_closefrom(struct spawnd_req *req, int from);
int	spawnd_req_add_tcsetpgrp(struct spawnd_req *req, int fd);

/*
 * Spawns req through client.  On success returns 0 and *ret_child, whose
 * child is running (exec succeeded).  On failure returns a negative errno:
 * when the child's set-up or exec failed that is its errno, and
 * *ret_failure (if not NULL) says which step failed; other failures
 * (-EPIPE, -ECONNRESET: the daemon went away; -EPROTO) leave
 * ret_failure->step at SPAWND_STEP_NONE.  -EPROTO also comes when the
 * pidfd sent with the child is not a pidfd for the pid the daemon named,
 * or that process's parent is not the daemon (/proc/self/fdinfo,
 * /proc/PID/stat): the pidfd is closed and the connection dropped (tied
 * children are then stopped).  A child already reaped is accepted: its
 * pidfd signals nobody, and its pid must name no live process but a
 * child of the daemon.
 */
int	spawnd_spawn(struct spawnd_client *client, const struct spawnd_req *req,
	    struct spawnd_child **ret_child, struct spawnd_failure *ret_failure);

pid_t	spawnd_child_pid(const struct spawnd_child *child);
/*
 * A pidfd for the child, owned by the handle: it polls readable once the
 * child has exited (then spawnd_child_wait() returns promptly).  It can be
 * used with pidfd_send_signal(2), not with waitid(2): the daemon is the
 * parent.  -1 if the daemon did not send one.
 */
int	spawnd_child_fd(const struct spawnd_child *child);
/*
 * Waits up to timeout_ms (0: do not block, -1: forever) for the exit
 * record.  Returns 0 and *ret_exit, -ETIMEDOUT, or -ENOTCONN when the
 * connection is gone.  The record is kept: later calls return it again.
 */
int	spawnd_child_wait(struct spawnd_child *child, int timeout_ms,
	    struct spawnd_exit *ret_exit);
/*
 * Sends sig to the child, or with SPAWND_KILL_GROUP to its process group
 * (the child must lead one: SPAWND_SETSID or pgroup 0), free of pid reuse:
 * through the child's pidfd, or, for a group or without a pidfd, through
 * the daemon (waiting at most 5 s for its answer).  Returns 0, -ESRCH
 * (already exited), -EINVAL, -ENOTCONN, -ETIMEDOUT.
 */
int	spawnd_child_kill(struct spawnd_child *child, int sig,
	    unsigned int flags);
/* Forgets the handle; does not signal the child.  Accepts NULL. */
void	spawnd_child_free(struct spawnd_child *child);

/*
 * One shot: connect to path (NULL: default), spawn req, wait for the
 * child and return 0 with *ret_exit, or a negative errno as spawnd_spawn()
 * does.  Safe from any thread.
 */
int	spawnd_run(const char *path, const struct spawnd_req *req,
	    struct spawnd_exit *ret_exit, struct spawnd_failure *ret_failure);

/*
 * The posix_spawn face.  Types, argument order, flags (the POSIX_SPAWN_*
 * values of <spawn.h>) and return values are POSIX's.  The child starts as
 * a posix_spawn child starts, though the daemon is its parent: it gets the
 * caller's fds that lack FD_CLOEXEC at the same numbers, the caller's cwd,
 * umask and rlimits, the calling thread's signal mask and the caller's
 * ignored signals; then the attributes and the file actions apply.  It
 * outlives the caller unless spawnd_posix_spawnattr_settied_np() ties it.
 * Reap it with spawnd_waitpid(), not waitpid().  The typedefs are the one
 * exception to the library's no-typedef rule: POSIX names them so.
 */
typedef struct {
	int		 fa_allocated;
	int		 fa_used;
	void		*fa_actions;
	int		 fa_pad[16];
} spawnd_posix_spawn_file_actions_t;

typedef struct {
	short		 at_flags;
	pid_t		 at_pgrp;
	sigset_t	 at_sd;
	sigset_t	 at_ss;
	struct sched_param at_sp;
	int		 at_policy;
	unsigned int	 at_spawnd_flags;
	unsigned int	 at_grace_ms;
	int		 at_pad[14];
} spawnd_posix_spawnattr_t;

int	spawnd_posix_spawn(pid_t *pid, const char *path,
	    const spawnd_posix_spawn_file_actions_t *file_actions,
	    const spawnd_posix_spawnattr_t *attrp,
	    char *const argv[], char *const envp[]);
int	spawnd_posix_spawnp(pid_t *pid, const char *file,
	    const spawnd_posix_spawn_file_actions_t *file_actions,
	    const spawnd_posix_spawnattr_t *attrp,
	    char *const argv[], char *const envp[]);
/*
 * As waitpid(2) for children of spawnd_posix_spawn*: pid > 0 or -1 (any of
 * them), options 0 or WNOHANG.  Returns the pid, 0 (WNOHANG, none ready)
 * or -1 with errno (ECHILD: none outstanding).  Any other pid, or options,
 * is passed to waitpid(2).
 */
pid_t	spawnd_waitpid(pid_t pid, int *status, int options);

int	spawnd_posix_spawn_file_actions_init(
	    spawnd_posix_spawn_file_actions_t *fa);
int	spawnd_posix_spawn_file_actions_destroy(
	    spawnd_posix_spawn_file_actions_t *fa);
int	spawnd_posix_spawn_file_actions_addopen(
	    spawnd_posix_spawn_file_actions_t *fa, int fd, const char *path,
	    int oflag, mode_t mode);
int	spawnd_posix_spawn_file_actions_addclose(
	    spawnd_posix_spawn_file_actions_t *fa, int fd);
int	spawnd_posix_spawn_file_actions_adddup2(
	    spawnd_posix_spawn_file_actions_t *fa, int fd, int newfd);
int	spawnd_posix_spawn_file_actions_addchdir(
	    spawnd_posix_spawn_file_actions_t *fa, const char *path);
int	spawnd_posix_spawn_file_actions_addchdir_np(
	    spawnd_posix_spawn_file_actions_t *fa, const char *path);
int	spawnd_posix_spawn_file_actions_addfchdir(
	    spawnd_posix_spawn_file_actions_t *fa, int fd);
int	spawnd_posix_spawn_file_actions_addfchdir_np(
	    spawnd_posix_spawn_file_actions_t *fa, int fd);
int	spawnd_posix_spawn_file_actions_addclosefrom_np(
	    spawnd_posix_spawn_file_actions_t *fa, int from);
int	spawnd_posix_spawn_file_actions_addtcsetpgrp_np(
	    spawnd_posix_spawn_file_actions_t *fa, int fd);

int	spawnd_posix_spawnattr_init(spawnd_posix_spawnattr_t *attr);
int	spawnd_posix_spawnattr_destroy(spawnd_posix_spawnattr_t *attr);
int	spawnd_posix_spawnattr_setflags(spawnd_posix_spawnattr_t *attr,
	    short flags);
int	spawnd_posix_spawnattr_getflags(const spawnd_posix_spawnattr_t *attr,
	    short *flags);
int	spawnd_posix_spawnattr_setpgroup(spawnd_posix_spawnattr_t *attr,
	    pid_t pgroup);
int	spawnd_posix_spawnattr_getpgroup(const spawnd_posix_spawnattr_t *attr,
	    pid_t *pgroup);
int	spawnd_posix_spawnattr_setsigmask(spawnd_posix_spawnattr_t *attr,
	    const sigset_t *sigmask);
int	spawnd_posix_spawnattr_getsigmask(const spawnd_posix_spawnattr_t *attr,
	    sigset_t *sigmask);
int	spawnd_posix_spawnattr_setsigdefault(spawnd_posix_spawnattr_t *attr,
	    const sigset_t *sigdefault);
int	spawnd_posix_spawnattr_getsigdefault(
	    const spawnd_posix_spawnattr_t *attr, sigset_t *sigdefault);
int	spawnd_posix_spawnattr_setschedpolicy(spawnd_posix_spawnattr_t *attr,
	    int policy);
int	spawnd_posix_spawnattr_getschedpolicy(
	    const spawnd_posix_spawnattr_t *attr, int *policy);
int	spawnd_posix_spawnattr_setschedparam(spawnd_posix_spawnattr_t *attr,
	    const struct sched_param *param);
int	spawnd_posix_spawnattr_getschedparam(
	    const spawnd_posix_spawnattr_t *attr, struct sched_param *param);
/*
 * spawnd's own: tie the child to the calling process (tied != 0): it is
 * stopped (SIGTERM, then SIGKILL after grace_ms, 0 = 5000) when the
 * caller's connection for it closes, that is when the caller exits.
 */
int	spawnd_posix_spawnattr_settied_np(spawnd_posix_spawnattr_t *attr,
	    int tied, unsigned int grace_ms);

/*
 * Race-free file primitives: the check-then-act races on files that
 * programs hit next to the fork race.  They need no daemon and are safe
 * from any thread.  dirfd arguments are as for openat(2): AT_FDCWD or an
 * open directory, used for relative paths only and never closed.  A
 * negative return is the errno of the system call that failed (as its
 * manual page describes it), or one of the codes listed; -EINVAL for a
 * NULL path or an unknown flag.
 */

/*
 * Opens path, creating it (with mode, less the umask, as open(2) does) if
 * it does not exist, and reports whether this call created it: open with
 * O_CREAT|O_EXCL, on EEXIST open without O_CREAT, on ENOENT (deleted in
 * between) start again.  A racing creator or deleter therefore never
 * causes EEXIST or ENOENT, and exactly one caller is told it created each
 * file.  flags are open(2)'s (access mode, O_TRUNC, O_NOFOLLOW, ...);
 * O_CREAT is implied, O_CLOEXEC always added; O_EXCL in flags asks for a
 * plain exclusive create (-EEXIST if path exists).  O_PATH and O_TMPFILE
 * are -EINVAL, as is a mode beyond 07777.
 *
 * Returns the new fd (owned by the caller) and, if ret_created is not
 * NULL, *ret_created = 1 when this call created the file, 0 when it
 * opened an existing one.  Errors: -EBUSY when the file was deleted under
 * us 1000 times in a row (a livelock bound: the path is being churned;
 * retrying is safe); -ENOENT when a directory in path is missing, or when
 * path is a dangling symbolic link (O_EXCL never follows a final symlink,
 * so creation through one cannot be race-free: pass the link's target);
 * the other errors of open(2).  *ret_created is 0 on failure.
 */
int	spawnd_create_or_open(int dirfd, const char *path, int flags,
	    mode_t mode, int *ret_created);

/*
 * Force spawnd_rename_noreplace()'s link+unlink fallback: for tests, and
 * for filesystems that misreport RENAME_NOREPLACE.
 */
#define SPAWND_RENAME_FORCE_LINK	0x0001

/*
 * Renames oldpath to newpath unless newpath exists (-EEXIST: then both
 * are left untouched).  Uses renameat2(RENAME_NOREPLACE); where the
 * filesystem or kernel lacks it (EINVAL, ENOSYS), or with
 * SPAWND_RENAME_FORCE_LINK, it falls back to linkat() then unlinkat() of
 * oldpath, which never overwrites either, with two differences: it cannot
 * move directories (-EINVAL) and it is two steps, so a crash between them
 * leaves both names on the file (nothing is lost or overwritten; remove
 * the old name by hand).  If the old name cannot be removed (-EACCES,
 * -EPERM: a sticky directory) the new name is removed again and the
 * error returned.  The fallback also needs the filesystem to support hard
 * links (-EPERM on vfat).  Returns 0 or a negative errno.
 */
int	spawnd_rename_noreplace(int olddirfd, const char *oldpath,
	    int newdirfd, const char *newpath, unsigned int flags);

/*
 * Atomically exchanges oldpath and newpath (renameat2 RENAME_EXCHANGE),
 * both of which must exist (-ENOENT): for swapping an installed file with
 * its replacement while either name always shows a complete file.  No
 * fallback: two renames cannot emulate an exchange atomically, so where
 * unsupported it returns -EINVAL or -ENOSYS.  Returns 0 or a negative
 * errno.
 */
int	spawnd_rename_exchange(int olddirfd, const char *oldpath,
	    int newdirfd, const char *newpath);

#define SPAWND_INSTALL_NOREPLACE	0x0001	/* -EEXIST if path exists */
#define SPAWND_INSTALL_FSYNC		0x0002	/* fsync file and directory */
/* Do not try O_TMPFILE; use the hidden temp name (for tests). */
#define SPAWND_INSTALL_NO_TMPFILE	0x0004

/*
 * Installs a file, typically a program, at path without ever exposing a
 * partial file there, and returns a read-only fd on it, ready for
 * spawnd_req_set_exec_fd().
 *
 * Content: len bytes from buf (srcfd must then be -1), or, with buf NULL
 * (len must then be 0), everything from srcfd's current offset to its end
 * (a file, pipe or socket; copy_file_range, sendfile or read/write; the
 * offset advances; srcfd stays the caller's, and should be blocking:
 * -EAGAIN otherwise).  The bytes go to an unnamed
 * O_TMPFILE in path's directory, or where that is unsupported (or with
 * SPAWND_INSTALL_NO_TMPFILE, or without /proc) to a hidden temp file
 * ".NAME.XXXXXX" beside it, created 0600.  The file then gets exactly mode
 * (fchmod: the umask does not apply; mode <= 07777), is fsync'd with
 * SPAWND_INSTALL_FSYNC, and its writable fd is closed.  Then it is placed:
 * by default replacing path (rename(2): path shows the old file or the
 * new one, never neither); with SPAWND_INSTALL_NOREPLACE only if path does
 * not exist (-EEXIST otherwise: linkat() of the unnamed file, or
 * spawnd_rename_noreplace() of the hidden one).  SPAWND_INSTALL_FSYNC
 * finally fsyncs the directory (opening it needs read permission then).
 *
 * Returns the read-only fd (O_RDONLY|O_CLOEXEC, the caller's), open on the
 * inode just written even if path is replaced again since.  No writable fd
 * on the file remains in this process, so exec'ing it cannot fail with
 * ETXTBSY because of this call, provided the process does not fork(2)
 * while the call runs (through spawnd it need not fork at all).  On
 * failure nothing is left behind: no temp file, path untouched.
 *
 * Errors: -EINVAL (bad arguments; a path ending in "/", "." or ".."),
 * -ENAMETOOLONG, -EEXIST (SPAWND_INSTALL_NOREPLACE), -EBUSY (no /proc and
 * the hidden file was swapped under us), -ENOSPC, -EDQUOT, -EIO, -EACCES,
 * -ENOENT (no such directory), -EBADF (srcfd), and other errors of the
 * system calls above.
 */
int	spawnd_install(int dirfd, const char *path, const void *buf,
	    size_t len, int srcfd, mode_t mode, unsigned int flags);

#ifdef __cplusplus
}
#endif

#endif
