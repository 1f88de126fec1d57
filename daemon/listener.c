/*
 * listener.c: the listening socket, from systemd or bound by hand, and
 * accept() with peer checks and limits.
 *
 * Binding by hand must be race-free when two daemons start on one path: a
 * lock file next to the socket (PATH.lock, opened read-only: the daemon
 * holds no writable file) is flock()ed first, so exactly one daemon gets
 * to look at, replace and bind the socket; the other exits.  A socket file
 * that still answers connect() is live (systemd may own it) and is never
 * removed.
 */

#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "fdio.h"
#include "spawnd-int.h"

#define LISTENER_ACCEPTS_PER_WAKE	64

#ifndef SO_PEERPIDFD
#define SO_PEERPIDFD	77
#endif

static void	listener_accept(int, short, void *);
static void	listener_pause(void);
static void	listener_pause_done(int, short, void *);
static void	listener_reject(int, int, const char *);
static int	listener_admit(int, uid_t, pid_t);
static int	listener_foreign(int, uid_t, pid_t);
static void	listener_check_dir(const char *);
static void	listener_check_one(const char *, const struct stat *, int);
static char	*listener_skip(char *);
static void	listener_lock(const char *);
static void	listener_clear_stale(const char *);
static int	listener_bind(const char *);

static int		 listener_fd = -1;
static struct event	*listener_ev;
static struct event	*listener_pause_ev;
static int		 listener_paused;
static char		*listener_path;		/* bound by us, to unlink */
static struct stat	 listener_st;
static int		 listener_lock_fd = -1;

/*
 * Returns systemd's socket when activated, or -1 when there is none.  Any
 * other hand-over than one listening AF_UNIX SOCK_SEQPACKET is fatal: a
 * misconfigured unit should fail loudly, not serve the wrong socket.
 */
int
listener_open_activated(void)
{
	int	 n, fd = SD_LISTEN_FDS_START;

	if ((n = sd_listen_fds(1)) < 0)
		fatalx("sd_listen_fds: %s", strerror(-n));
	if (n == 0)
		return -1;
	if (n > 1)
		fatalx("systemd passed %d sockets, expected one", n);
	if (sd_is_socket_unix(fd, SOCK_SEQPACKET, 1, NULL, 0) <= 0)
		fatalx("systemd passed a socket that is not a listening "
		    "AF_UNIX SOCK_SEQPACKET socket (use ListenSequentialPacket=)");
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
		fatal("fcntl listening socket");
	sd.activated = 1;
	return fd;
}

/* Creates, locks, cleans and binds PATH; fatal on any refusal. */
int
listener_open_path(const char *path)
{
	struct sockaddr_un	 sun;

	if (strlen(path) >= sizeof sun.sun_path)
		fatalx("socket path too long (%zu bytes at most): %s",
		    sizeof sun.sun_path - 1, path);
	listener_check_dir(path);
	listener_lock(path);
	listener_clear_stale(path);
	return listener_bind(path);
}

/*
 * The directory must exist (or be created 0700) and be ours alone, and so
 * must the way to it: anyone who can rename a directory on the path could
 * put another one, and a fake daemon, in its place.  So every directory
 * from / down is walked with O_NOFOLLOW (a symbolic link anywhere is
 * refused, "link/." as "link"), and each must be owned by us or root, and
 * writable by group or others only if sticky (as /tmp: then nobody else may
 * rename what is ours in it).  ".." is refused: the walk would not be the
 * path the clients take.  Nobody else can change the path after this.
 */
static void
listener_check_dir(const char *path)
{
	char		*copy, *cwd, *dir, *comp, *next, *sofar;
	struct stat	 st;
	size_t		 n;
	int		 fd, nfd, last;

	if (path[0] == '/')
		copy = strdup(path);
	else if ((cwd = getcwd(NULL, 0)) == NULL)
		fatal("getcwd");
	else {
		if (asprintf(&copy, "%s/%s", cwd, path) == -1)
			copy = NULL;
		free(cwd);
	}
	if (copy == NULL || (sofar = malloc(strlen(copy) + 2)) == NULL)
		fatal("strdup");
	dir = dirname(copy);
	sofar[0] = '/';
	sofar[1] = '\0';
	if ((fd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1)
		fatal("/");
	for (comp = listener_skip(dir);; comp = listener_skip(next)) {
		if (fstat(fd, &st) == -1)
			fatal("%s", sofar);
		if ((next = strchr(comp, '/')) != NULL)
			*next++ = '\0';
		else
			next = comp + strlen(comp);
		last = *comp == '\0';
		listener_check_one(sofar, &st, last);
		if (last)
			break;
		if (strcmp(comp, "..") == 0)
			fatalx("%s: '..' in the socket's path is refused", path);
		nfd = openat(fd, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW |
		    O_CLOEXEC);
		/* Only the socket's own directory is made. */
		if (nfd == -1 && errno == ENOENT && *listener_skip(next) ==
		    '\0' && mkdirat(fd, comp, 0700) == 0)
			nfd = openat(fd, comp, O_PATH | O_DIRECTORY |
			    O_NOFOLLOW | O_CLOEXEC);
		if (nfd == -1 && errno == ENOTDIR)
			fatalx("%s: '%s' is not a directory (symbolic links are "
			    "refused)", path, comp);
		if (nfd == -1)
			fatal("%s: '%s'", path, comp);
		n = strlen(sofar);
		(void)snprintf(sofar + n, strlen(copy) + 2 - n, "%s%s",
		    n > 1 ? "/" : "", comp);
		(void)close(fd);
		fd = nfd;
	}
	(void)close(fd);
	free(sofar);
	free(copy);
}

/* Past the slashes and "." components at p. */
static char *
listener_skip(char *p)
{
	for (;;) {
		while (*p == '/')
			p++;
		if (p[0] != '.' || (p[1] != '/' && p[1] != '\0'))
			return p;
		p++;
	}
}

/*
 * One directory of the socket's path, st: the last (the socket's own) is
 * ours alone; those above it are ours or root's, and sticky if others
 * may write there.
 */
static void
listener_check_one(const char *dir, const struct stat *st, int last)
{
	uid_t	 me = geteuid();

	if (last) {
		if (st->st_uid != me)
			fatalx("%s is owned by uid %u, not by us (uid %u)",
			    dir, (unsigned)st->st_uid, (unsigned)me);
		if (st->st_mode & (S_IWGRP | S_IWOTH))
			fatalx("%s is writable by group or others; use a "
			    "private directory such as "
			    "$XDG_RUNTIME_DIR/spawnd", dir);
		return;
	}
	if (st->st_uid != me && st->st_uid != 0)
		fatalx("%s: a directory on the way is owned by uid %u, "
		    "neither us (uid %u) nor root", dir,
		    (unsigned)st->st_uid, (unsigned)me);
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(st->st_mode & S_ISVTX))
		fatalx("%s: a directory on the way is writable by group or "
		    "others and not sticky", dir);
}

static void
listener_lock(const char *path)
{
	char	*lock;

	if (asprintf(&lock, "%s.lock", path) == -1)
		fatal("asprintf");
	listener_lock_fd = open(lock, O_RDONLY | O_CREAT | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (listener_lock_fd == -1)
		fatal("%s", lock);
	if (flock(listener_lock_fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			fatalx("another spawnd is already serving %s", path);
		fatal("flock %s", lock);
	}
	free(lock);
}

/* Removes a dead socket file; refuses a live one or a non-socket. */
static void
listener_clear_stale(const char *path)
{
	struct sockaddr_un	 sun;
	struct stat		 st;
	int			 fd;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return;
		fatal("%s", path);
	}
	if (!S_ISSOCK(st.st_mode))
		fatalx("%s exists and is not a socket; refusing to replace it",
		    path);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1)
		fatal("socket");
	if (connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0 ||
	    errno != ECONNREFUSED)
		fatalx("%s is a live socket another server listens on", path);
	(void)close(fd);
	if (unlink(path) == -1 && errno != ENOENT)
		fatal("cannot remove stale socket %s", path);
	log_info("removed stale socket %s", path);
}

static int
listener_bind(const char *path)
{
	struct sockaddr_un	 sun;
	mode_t			 old;
	int			 fd;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	memcpy(sun.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		fatal("socket");
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1)
		fatal("bind %s", path);
	umask(old);
	if (listen(fd, SOMAXCONN) == -1)
		fatal("listen %s", path);
	if (lstat(path, &listener_st) == -1)
		fatal("%s", path);
	if ((listener_path = strdup(path)) == NULL)
		fatal("strdup");
	return fd;
}

void
listener_start(int fd)
{
	listener_fd = fd;
	listener_ev = event_new(sd.base, fd, EV_READ | EV_PERSIST,
	    listener_accept, NULL);
	listener_pause_ev = evtimer_new(sd.base, listener_pause_done, NULL);
	if (listener_ev == NULL || listener_pause_ev == NULL ||
	    event_add(listener_ev, NULL) == -1)
		fatalx("cannot watch the listening socket");
}

/*
 * Accepts what is waiting.  Out of fds, accept() would fail forever while
 * the socket stays readable: stop watching it for a second instead of
 * spinning.
 */
static void
listener_accept(int fd, short what, void *arg)
{
	struct ucred	 cred;
	socklen_t	 len;
	int		 i, cfd;

	(void)what;
	(void)arg;
	for (i = 0; i < LISTENER_ACCEPTS_PER_WAKE; i++) {
		cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd == -1) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno == EMFILE || errno == ENFILE) {
				log_warn("accept, pausing for 1 s");
				listener_pause();
			} else if (errno != EAGAIN)
				log_warn("accept, ignoring");
			return;
		}
		len = sizeof cred;
		if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &len)) {
			log_warn("SO_PEERCRED, dropping connection");
			(void)close(cfd);
			continue;
		}
		if (listener_admit(cfd, cred.uid, cred.pid) == 0)
			conn_new(cfd, cred.uid, cred.pid);
	}
}

/*
 * Serves our own uid and root only, from our own namespaces unless told
 * otherwise; enforces the connection limits.
 */
static int
listener_admit(int fd, uid_t uid, pid_t pid)
{
	int	 r;

	if (uid != sd.uid && uid != 0) {
		log_info("refused connection from uid %u", (unsigned)uid);
		listener_reject(fd, EACCES, "this spawnd serves another user");
		return -1;
	}
	if (!sd.limits.foreign_ns && (r = listener_foreign(fd, uid, pid))) {
		if (r == -1) {
			/* Out of fds for the peer's pidfd: back off. */
			listener_reject(fd, EAGAIN, "out of file descriptors");
			listener_pause();
			return -1;
		}
		log_info("refused connection from pid %d: another namespace, "
		    "or gone", (int)pid);
		listener_reject(fd, EACCES, "peer in another user, mount or "
		    "pid namespace");
		return -1;
	}
	if (sd.nconns >= sd.limits.conns) {
		log_warnx("connection limit (%u) reached, refusing",
		    sd.limits.conns);
		listener_reject(fd, EAGAIN, "too many connections");
		return -1;
	}
	if (conn_count_uid(uid) >= sd.limits.conns_per_uid) {
		log_warnx("uid %u: connection limit (%u) reached, refusing",
		    (unsigned)uid, sd.limits.conns_per_uid);
		listener_reject(fd, EAGAIN, "too many connections");
		return -1;
	}
	return 0;
}

/*
 * Is the peer in another user, mount or pid namespace?  A spawn broker
 * would let a sandboxed process run programs outside its sandbox.  The
 * peer's pidfd (SO_PEERPIDFD, or pidfd_open on older kernels) still being
 * alive after /proc/PID/ns was read proves PID was not recycled meanwhile.
 * Anything unverifiable counts as foreign (fail closed), except that an
 * unprivileged daemon may not look into root's namespaces: root (uid 0 in
 * our user namespace) has power over us anyway, so it is served.  Returns
 * 1 foreign, 0 not, -1 out of fds (try later).
 */
static int
listener_foreign(int fd, uid_t uid, pid_t pid)
{
	static const char *const ns[] = { "user", "mnt", "pid" };
	struct stat	 mine, theirs;
	char		 path[64];
	socklen_t	 len = sizeof(int);
	int		 pidfd = -1, i, foreign = 1;

	if (pid <= 0)
		return 1;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERPIDFD, &pidfd, &len) == -1 &&
	    (pidfd = (int)syscall(SYS_pidfd_open, pid, 0)) == -1)
		return errno == EMFILE || errno == ENFILE ? -1 : 1;
	for (i = 0; i < 3; i++) {
		(void)snprintf(path, sizeof path, "/proc/self/ns/%s", ns[i]);
		if (stat(path, &mine) == -1)
			goto out;
		(void)snprintf(path, sizeof path, "/proc/%d/ns/%s", (int)pid,
		    ns[i]);
		if (stat(path, &theirs) == -1) {
			if (uid == 0 && sd.uid != 0 &&
			    (errno == EACCES || errno == EPERM))
				continue;
			goto out;
		}
		if (mine.st_ino != theirs.st_ino || mine.st_dev != theirs.st_dev)
			goto out;
	}
	/* EPERM (a root peer of an unprivileged daemon) still means alive. */
	if (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0 ||
	    errno == EPERM)
		foreign = 0;
out:
	(void)close(pidfd);
	return foreign;
}

/* Best effort: tell the peer why, then close. */
static void
listener_reject(int fd, int error, const char *why)
{
	struct proto_hdr	 hdr = { PROTO_ERROR, 0, 0, 0, 0 };
	struct proto_error	 m = { (uint32_t)error, why };
	struct proto_buf	 b;
	struct iovec		 iov[2];
	uint8_t			 h[PROTO_HDR_SIZE];

	proto_buf_init(&b);
	proto_encode_error(&b, &m);
	if (b.err == 0) {
		hdr.length = (uint32_t)b.len;
		proto_encode_hdr(h, &hdr);
		iov[0].iov_base = h;
		iov[0].iov_len = sizeof h;
		iov[1].iov_base = b.data;
		iov[1].iov_len = b.len;
		(void)fdio_send(fd, iov, 2, NULL, 0, MSG_DONTWAIT);
	}
	proto_buf_free(&b);
	conn_drain(fd);
	(void)close(fd);
}

/* Out of fds: stop watching the listening socket for a second. */
static void
listener_pause(void)
{
	struct timeval	 tv = { 1, 0 };

	if (listener_paused)
		return;
	event_del(listener_ev);
	/* Without the timer, the next fd freed (conn_free) resumes. */
	if (evtimer_add(listener_pause_ev, &tv) == -1)
		log_warnx("cannot time the pause of accept");
	listener_paused = 1;
}

static void
listener_pause_done(int fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	listener_resume();
}

/* An fd was freed, or the pause is over: accept again. */
void
listener_resume(void)
{
	if (!listener_paused || sd.quitting)
		return;
	listener_paused = 0;
	evtimer_del(listener_pause_ev);
	if (event_add(listener_ev, NULL) == -1)
		log_warnx("cannot watch the listening socket again");
}

/* Is a client waiting to be accepted? */
int
listener_pending(void)
{
	struct pollfd	 pfd = { listener_fd, POLLIN, 0 };

	return listener_fd != -1 && poll(&pfd, 1, 0) == 1;
}

/*
 * Stops listening.  A socket we bound is removed only if it is still the
 * one we bound (same inode): we hold the lock, so nobody else bound it.
 */
void
listener_close(void)
{
	struct stat	 st;

	if (listener_ev != NULL)
		event_free(listener_ev);
	if (listener_pause_ev != NULL)
		event_free(listener_pause_ev);
	listener_ev = listener_pause_ev = NULL;
	if (listener_fd != -1)
		(void)close(listener_fd);
	listener_fd = -1;
	if (listener_path != NULL && lstat(listener_path, &st) == 0 &&
	    st.st_ino == listener_st.st_ino && st.st_dev == listener_st.st_dev)
		(void)unlink(listener_path);
	free(listener_path);
	listener_path = NULL;
	if (listener_lock_fd != -1)
		(void)close(listener_lock_fd);
	listener_lock_fd = -1;
}
