/*
 * libspawnd: the handle API.  A client is one SEQPACKET connection to the
 * daemon; requests are encoded by proto and framed here; replies are read
 * with poll() so that every wait has a bound.  Exit records that arrive
 * while waiting for something else are filed in their child's handle.
 *
 * No global or static mutable state lives in this file: everything hangs
 * off the client, which one thread uses at a time.
 */

#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client-int.h"
#include "fdio.h"
#include "proto.h"
#include "spawnd.h"

/*
 * Daemon-to-client frames are small (EXITED, the largest fixed one, is 40
 * bytes of payload); only ERROR carries a string.  A longer frame reads as
 * -EPROTO rather than costing every caller a 64 KiB buffer.
 */
#define CLIENT_RECV_SIZE	4096
#define CLIENT_RECV_FDS		4
#define CLIENT_MAX_ERRNO	4095
#define CLIENT_KILL_TIMEOUT_MS	5000	/* a group kill waits this long */
#define CLIENT_PIDFD_TRIES	3	/* reads of a STARTED pidfd's parent */

/*
 * PIDFD_GET_INFO (Linux 6.13; not in Debian 12's headers): the first 64
 * bytes of the kernel's struct pidfd_info, all a newer kernel needs too.
 */
#define CLIENT_PIDFS_MAGIC	0x50494446
struct client_pidfd_info {
	uint64_t	mask;
	uint64_t	cgroupid;
	uint32_t	pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid;
	uint32_t	fsuid, fsgid, spare0;
};
#define CLIENT_PIDFD_GET_INFO	_IOWR(0xFF, 11, struct client_pidfd_info)
#define CLIENT_PIDFD_INFO_PID	1ULL
#define AUTOSTART_POLL_MS	10	/* start lock retries */
#define AUTOSTART_TRIES		5	/* daemon starts per call, at most */
#define AUTOSTART_RETRY_MS	50	/* between them */

struct spawnd_client {
	int			 fd;
	int			 error;		/* != 0: dead */
	uint32_t		 next_id;
	uint32_t		 max_request;
	uint32_t		 max_fds;
	uint32_t		 watch_id;	/* WATCH whose EXITED we want */
	uid_t			 server_uid;	/* SO_PEERCRED of the listener */
	pid_t			 server_pid;
	pid_t			 daemon_pid;	/* sender of HELLO_OK, or -1 */
	int			 exec_fd;	/* CLIENT_EXEC_FD_* */
	int			(*own_add)(int);	/* client_set_own() */
	void			(*own_close)(int);
	TAILQ_HEAD(, spawnd_child) children;
};

/*
 * Whether to ask for STARTED before the exec (PROTO_SPAWN_EXEC_FD): yes
 * until a daemon that predates it refuses the flag; for good once one has
 * granted it.
 */
#define CLIENT_EXEC_FD_ASK	0
#define CLIENT_EXEC_FD_NO	1
#define CLIENT_EXEC_FD_YES	2

struct spawnd_child {
	struct spawnd_client	*client;	/* NULL: none or gone */
	uint32_t		 id;		/* of the SPAWN frame */
	uint32_t		 flags;		/* PROTO_SPAWN_* sent */
	pid_t			 pid;
	int			 pidfd;
	int			 exited;
	struct spawnd_exit	 exit;
	const struct spawnd_req	*req;		/* until STARTED or FAILED */
	TAILQ_ENTRY(spawnd_child) entry;
};

/* One received frame; payload points into buf. */
struct client_frame {
	struct proto_hdr	 hdr;
	const uint8_t		*payload;
	int			 fds[CLIENT_RECV_FDS];
	size_t			 nfds;
	struct ucred		 cred;		/* the sender's, pid -1: none */
	uint8_t			 buf[CLIENT_RECV_SIZE];
};

static int	client_sockaddr(const char *, struct sockaddr_un *);
static int	spawn_pidfd_info(const struct spawnd_client *, pid_t, int);
static int64_t	client_deadline(int);
static int	client_refused(struct spawnd_client *, int);
static int	client_trusted(uid_t);
static int	client_peer(struct spawnd_client *);
static int	proc_read(const char *, char *, size_t);
static int	proc_pidfd_pid(int, pid_t *);
static int	proc_ppid(pid_t, pid_t *);
static int	spawn_check_pidfd(const struct spawnd_client *, pid_t, int);
static int	autostart_lock(int, const char *, int64_t, int *);
static int	autostart_safe(int, int, int, int);
static int	autostart_step(int *, const char *, int, int);
static int	autostart_dir(const char *, int, int *, const char **);
static int	autostart_late(int64_t);
static int	autostart_left(int64_t);
static char	**autostart_env(void);
static int	autostart_run(const char *, const char *, int64_t);
static int	autostart_reap(pid_t, int64_t);
static int	autostart_locked(const char *, const char *, int64_t,
		    struct spawnd_client **);
static int	client_poll(int, int64_t);
static int	client_fail(struct spawnd_client *, int);
static uint32_t	client_id(struct spawnd_client *);
static int	client_send(struct spawnd_client *, uint16_t, uint32_t,
		    const uint8_t *, size_t);
static int	client_recv(struct spawnd_client *, int64_t,
		    struct client_frame *);
static int	client_next(struct spawnd_client *, int64_t,
		    struct client_frame *);
static int	client_reply(struct spawnd_client *, uint32_t, int64_t,
		    struct client_frame *);
static int	client_error(const struct client_frame *);
static int	client_exited(struct spawnd_client *,
		    const struct client_frame *);
static int	client_wait_status(const struct proto_exited *, int *);
static void	frame_discard(struct client_frame *);
static int	spawn_fd_index(int *, size_t *, size_t, int);
static int	spawn_fds(const struct spawnd_client *,
		    const struct spawnd_req *, struct proto_spawn *,
		    struct proto_fdmap *, int *, size_t *);
static void	spawn_fill(const struct spawnd_req *, struct proto_spawn *,
		    struct proto_rlimit *);
static int	spawn_encode(const struct spawnd_client *, uint32_t,
		    const struct spawnd_req *, struct proto_buf *, int *,
		    size_t *);
static int	spawn_frames(struct spawnd_client *, uint32_t,
		    const struct proto_buf *, const int *, size_t);
static int	spawn_send(struct spawnd_client *, struct spawnd_child *);
static int	spawn_started(struct spawnd_client *, struct spawnd_child *,
		    struct client_frame *, struct spawnd_failure *);
static int	spawn_failed(struct spawnd_client *,
		    const struct client_frame *, struct spawnd_failure *);
static int	strv_check(const char *const *, uint32_t, int, uint32_t *);
static int	req_action(struct spawnd_req *, const struct proto_action *);

/* Names, paths. */

SPAWND_EXPORT const char *
spawnd_step_name(int step)
{
	if (step < 0 || step > PROTO_STEP_MAX)
		return ("unknown");
	return (proto_step_name((unsigned int)step));
}

/* buf is written only when the whole path fits. */
SPAWND_EXPORT int
spawnd_socket_path(char *buf, size_t len)
{
	struct sockaddr_un	 sun;
	const char		*e, *tail = "";
	char			 tmp[64];
	int			 n;

	if (buf == NULL)
		return (-EINVAL);
	if ((e = secure_getenv("SPAWND_SOCKET")) == NULL || *e == '\0') {
		tail = "/spawnd/socket";
		if ((e = secure_getenv("XDG_RUNTIME_DIR")) == NULL ||
		    *e != '/') {
			tail = "";
			e = SPAWND_SYSTEM_SOCKET;
		}
		if (*tail == '\0' && geteuid() != 0) {
			(void)snprintf(tmp, sizeof tmp, "/tmp/spawnd-%lu/socket",
			    (unsigned long)geteuid());
			e = tmp;
		}
	}
	n = snprintf(NULL, 0, "%s%s", e, tail);
	if (n < 0)
		return (-EINVAL);
	if ((size_t)n >= len || (size_t)n >= sizeof sun.sun_path)
		return (-ENAMETOOLONG);
	(void)snprintf(buf, len, "%s%s", e, tail);
	return (n);
}

/* Time. */

static int64_t
client_deadline(int timeout_ms)
{
	struct timespec	ts;

	if (timeout_ms < 0)
		return (-1);
	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + timeout_ms);
}

/* Waits until fd is readable or the deadline (-1: none) passes. */
static int
client_poll(int fd, int64_t deadline)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };
	struct timespec	ts;
	int64_t		left;
	int		n;

	for (;;) {
		left = -1;
		if (deadline >= 0) {
			(void)clock_gettime(CLOCK_MONOTONIC, &ts);
			left = deadline - ((int64_t)ts.tv_sec * 1000 +
			    ts.tv_nsec / 1000000);
			if (left < 0)
				left = 0;
			if (left > INT_MAX)
				left = INT_MAX;
		}
		n = poll(&pfd, 1, (int)left);
		if (n > 0)
			return (0);
		if (n == 0)
			return (-ETIMEDOUT);
		if (errno != EINTR)
			return (-errno);
	}
}

/* Frames. */

/* Marks the connection dead; later calls get -ENOTCONN. */
static int
client_fail(struct spawnd_client *c, int error)
{
	if (c->error == 0)
		c->error = error;
	return (error);
}

static uint32_t
client_id(struct spawnd_client *c)
{
	uint32_t	id = c->next_id++;

	if (c->next_id == 0)
		c->next_id = 1;
	return (id);
}

/* Sends one frame without fds; a gone daemon kills the connection. */
static int
client_send(struct spawnd_client *c, uint16_t type, uint32_t id,
    const uint8_t *payload, size_t len)
{
	struct proto_hdr	hdr = { .type = type, .length = (uint32_t)len,
				    .id = id };
	uint8_t			h[PROTO_HDR_SIZE];
	struct iovec		iov[2];
	ssize_t			n;

	proto_encode_hdr(h, &hdr);
	iov[0].iov_base = h;
	iov[0].iov_len = sizeof h;
	iov[1].iov_base = (void *)(uintptr_t)payload;
	iov[1].iov_len = len;
	n = fdio_send(c->fd, iov, len != 0 ? 2 : 1, NULL, 0, 0);
	if (n < 0)
		return (client_fail(c, (int)n));
	if ((size_t)n != sizeof h + len)
		return (client_fail(c, -EIO));
	return (0);
}

/*
 * Reads one well-formed daemon-to-client frame.  Without a deadline it
 * waits in recvmsg itself: a poll first would cost a system call per
 * reply.  A socket its user made non-blocking says EAGAIN: then poll.
 */
static int
client_recv(struct spawnd_client *c, int64_t deadline,
    struct client_frame *fr)
{
	ssize_t	n;
	int	r, block = deadline < 0;

	for (;;) {
		if (!block && (r = client_poll(c->fd, deadline)) != 0)
			return (r);
		n = fdio_recv_cred(c->fd, fr->buf, sizeof fr->buf, fr->fds,
		    CLIENT_RECV_FDS, &fr->nfds, &fr->cred, block ? 0 :
		    MSG_DONTWAIT);
		if (n == -EAGAIN) {
			block = 0;
			continue;
		}
		if (n == 0)
			return (client_fail(c, -ECONNRESET));
		if (n < 0)
			return (client_fail(c, n == -EMSGSIZE ? -EPROTO :
			    (int)n));
		r = proto_check_frame(fr->buf, (size_t)n, fr->nfds, &fr->hdr);
		if (r == 0 && fr->hdr.type < PROTO_HELLO_OK)
			r = -EPROTO;
		if (r != 0) {
			frame_discard(fr);
			return (client_fail(c, r));
		}
		fr->payload = fr->buf + PROTO_HDR_SIZE;
		return (0);
	}
}

/*
 * Reads one frame and handles what is not a reply: an exit record is filed
 * in its child (0), an ERROR kills the connection (< 0).  Returns 1 when
 * the frame is left to the caller.
 */
static int
client_next(struct spawnd_client *c, int64_t deadline,
    struct client_frame *fr)
{
	int	r;

	if ((r = client_recv(c, deadline, fr)) != 0)
		return (r);
	switch (fr->hdr.type) {
	case PROTO_ERROR:
		r = client_error(fr);
		frame_discard(fr);
		return (client_fail(c, r));
	case PROTO_EXITED:
		if (c->watch_id != 0 && fr->hdr.id == c->watch_id)
			return (1);
		r = client_exited(c, fr);
		frame_discard(fr);
		return (r != 0 ? client_fail(c, r) : 0);
	default:
		return (1);
	}
}

/*
 * Reads until the reply with this id.  Replies to requests given up on (a
 * ping that timed out) are dropped on the way.
 */
static int
client_reply(struct spawnd_client *c, uint32_t id, int64_t deadline,
    struct client_frame *fr)
{
	int	r;

	for (;;) {
		if ((r = client_next(c, deadline, fr)) < 0)
			return (r);
		if (r == 0)
			continue;
		if (fr->hdr.id == id)
			return (0);
		frame_discard(fr);
	}
}

/* The errno an ERROR frame carries, or -EPROTO. */
static int
client_error(const struct client_frame *fr)
{
	struct proto_error	e;

	if (fr->nfds != 0 || proto_decode_error(fr->payload,
	    fr->hdr.length, &e) != 0)
		return (-EPROTO);
	if (e.error == 0 || e.error > CLIENT_MAX_ERRNO)
		return (-EPROTO);
	return (-(int)e.error);
}

/* Files an exit record; one for a forgotten child is dropped. */
static int
client_exited(struct spawnd_client *c, const struct client_frame *fr)
{
	struct proto_exited	 e;
	struct spawnd_child	*ch;
	int			 status;

	if (fr->nfds != 0 || proto_decode_exited(fr->payload,
	    fr->hdr.length, &e) != 0)
		return (-EPROTO);
	if (client_wait_status(&e, &status) != 0)
		return (-EPROTO);
	TAILQ_FOREACH(ch, &c->children, entry) {
		if (ch->id == fr->hdr.id)
			break;
	}
	if (ch == NULL)
		return (0);
	if (ch->exited || (uint32_t)ch->pid != e.pid)
		return (-EPROTO);
	ch->exit.pid = ch->pid;
	ch->exit.status = status;
	ch->exit.utime_us = e.utime_us;
	ch->exit.stime_us = e.stime_us;
	ch->exit.maxrss_kib = e.maxrss_kib;
	ch->exited = 1;
	return (0);
}

/* Exit record to a waitpid(2) status word. */
static int
client_wait_status(const struct proto_exited *e, int *ret_status)
{
	switch (e->code) {
	case CLD_EXITED:
		if (e->status > 255)
			return (-EPROTO);
		*ret_status = (int)(e->status & 0xff) << 8;
		return (0);
	case CLD_KILLED:
	case CLD_DUMPED:
		if (e->status < 1 || e->status > PROTO_MAX_SIG)
			return (-EPROTO);
		*ret_status = (int)e->status;
		if (e->code == CLD_DUMPED)
			*ret_status |= 0x80;
		return (0);
	default:
		return (-EPROTO);
	}
}

static void
frame_discard(struct client_frame *fr)
{
	fdio_close_all(fr->fds, fr->nfds);
	fr->nfds = 0;
}

/* Connections. */

/* The daemon's address: path, or the default one for NULL. */
static int
client_sockaddr(const char *path, struct sockaddr_un *sun)
{
	int	r;

	memset(sun, 0, sizeof *sun);
	sun->sun_family = AF_UNIX;
	if (path == NULL) {
		r = spawnd_socket_path(sun->sun_path, sizeof sun->sun_path);
		return (r < 0 ? r : 0);
	}
	if (*path == '\0')
		return (-EINVAL);
	if (strlen(path) >= sizeof sun->sun_path)
		return (-ENAMETOOLONG);
	memcpy(sun->sun_path, path, strlen(path));
	return (0);
}

int
client_open(const char *path, struct spawnd_client **ret_client)
{
	struct sockaddr_un	 sun;
	struct proto_hello	 hello = { 1, 1 };
	struct spawnd_client	*c;
	uint8_t			 p[8];
	int			 r;

	if ((r = client_sockaddr(path, &sun)) != 0)
		return (r);
	if ((c = calloc(1, sizeof *c)) == NULL)
		return (-ENOMEM);
	TAILQ_INIT(&c->children);
	c->next_id = 1;
	c->max_request = PROTO_MAX_REQUEST;
	c->max_fds = PROTO_MAX_FDS;
	c->daemon_pid = -1;
	if ((c->fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1) {
		r = -errno;
		goto fail;
	}
	/* An AF_UNIX connect interrupted while queued stays unconnected. */
	while (connect(c->fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		if (errno != EINTR) {
			r = -errno;
			goto fail;
		}
	}
	if ((r = client_peer(c)) != 0)
		goto fail;
	if ((r = client_send(c, PROTO_HELLO, 0, p,
	    proto_encode_hello(p, &hello))) != 0) {
		if (r == -EPIPE || r == -ECONNRESET)
			r = client_refused(c, r);
		goto fail;
	}
	*ret_client = c;
	return (0);
fail:
	spawnd_client_free(c);
	return (r < 0 ? r : -EIO);	/* never 0 without *ret_client set */
}

/* Whether a server of this uid may have our fds: ours or root's. */
static int
client_trusted(uid_t uid)
{
	uid_t	me = geteuid();

	return (uid == 0 || (me != 0 && uid == me));
}

/*
 * Before anything goes out (HELLO included): whoever listens here gets
 * our fds, environment, cwd and stdin, and could later have us signal
 * any process, so it must be us or root (root: root only).  SO_PEERCRED
 * names the process that called listen(): the daemon, or the service
 * manager that made its socket.  The daemon's own pid comes later, with
 * the kernel's SCM_CREDENTIALS on its frames (SO_PASSCRED, set once the
 * peer is trusted, so that no address is autobound before).
 */
static int
client_peer(struct spawnd_client *c)
{
	struct ucred	 cred;
	socklen_t	 len = sizeof cred;
	int		 on = 1;

	if (getsockopt(c->fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1)
		return (-errno);
	c->server_uid = cred.uid;
	c->server_pid = cred.pid;
	if (!client_trusted(cred.uid))
		return (-EPERM);
	if (setsockopt(c->fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == -1)
		return (-errno);
	return (0);
}

SPAWND_EXPORT int
spawnd_socket_peer(const char *path, uid_t *ret_uid, pid_t *ret_pid)
{
	struct sockaddr_un	 sun;
	struct ucred		 cred = { 0, (uid_t)-1, (gid_t)-1 };
	socklen_t		 len = sizeof cred;
	int			 fd, r = 0;

	if (ret_uid != NULL)
		*ret_uid = (uid_t)-1;
	if (ret_pid != NULL)
		*ret_pid = 0;
	if ((r = client_sockaddr(path, &sun)) != 0)
		return (r);
	if ((fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1)
		return (-errno);
	while ((r = connect(fd, (struct sockaddr *)&sun, sizeof sun)) == -1 &&
	    errno == EINTR)
		;
	if (r == -1 || getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred,
	    &len) == -1)
		r = errno != 0 ? -errno : -EIO;
	(void)close(fd);
	if (r != 0)
		return (r);
	if (ret_uid != NULL)
		*ret_uid = cred.uid;
	if (ret_pid != NULL)
		*ret_pid = cred.pid;
	return (client_trusted(cred.uid) ? 0 : -EPERM);
}

/*
 * The daemon closed before our HELLO went out: it refused us at accept
 * (limits, uid, namespace), and its ERROR saying why may be waiting.
 */
static int
client_refused(struct spawnd_client *c, int r)
{
	struct client_frame	 fr;
	ssize_t			 n;

	n = fdio_recv_cred(c->fd, fr.buf, sizeof fr.buf, fr.fds,
	    CLIENT_RECV_FDS, &fr.nfds, &fr.cred, MSG_DONTWAIT);
	if (n <= 0)
		return (r);
	fdio_close_all(fr.fds, fr.nfds);
	if (proto_check_frame(fr.buf, (size_t)n, fr.nfds, &fr.hdr) != 0 ||
	    fr.hdr.type != PROTO_ERROR || fr.nfds != 0)
		return (r);
	fr.payload = fr.buf + PROTO_HDR_SIZE;
	return (client_error(&fr));
}

int
client_handshake(struct spawnd_client *c, int timeout_ms)
{
	struct client_frame	fr;
	struct proto_hello_ok	ok;
	int			r;

	if ((r = client_reply(c, 0, client_deadline(timeout_ms), &fr)) != 0)
		return (r);
	if (fr.hdr.type != PROTO_HELLO_OK || fr.nfds != 0 ||
	    proto_decode_hello_ok(fr.payload, fr.hdr.length, &ok) != 0) {
		frame_discard(&fr);
		return (client_fail(c, -EPROTO));
	}
	if (ok.version != PROTO_VERSION)
		return (client_fail(c, -EPROTONOSUPPORT));
	/*
	 * The process that answered is the daemon, whatever pid it claims:
	 * the kernel vouches for the sender (no uid but root can name a pid
	 * other than its own).  Its credentials carry its real uid, which a
	 * daemon run set-uid may not share with its listener: the listener's
	 * check stands for both.
	 */
	if (fr.cred.pid < 0)
		return (client_fail(c, -EPROTO));
	c->daemon_pid = fr.cred.pid;
	/* Known now: the daemon's later frames need not carry credentials. */
	(void)setsockopt(c->fd, SOL_SOCKET, SO_PASSCRED, &(int){ 0 },
	    sizeof(int));
	if (ok.max_request < c->max_request)
		c->max_request = ok.max_request;
	if (ok.max_fds < c->max_fds)
		c->max_fds = ok.max_fds;
	return (0);
}

SPAWND_EXPORT int
spawnd_connect(const char *path, int timeout_ms,
    struct spawnd_client **ret_client)
{
	struct spawnd_client	*c;
	int			 r;

	if (ret_client != NULL)
		*ret_client = NULL;
	if (ret_client == NULL || timeout_ms < -1)
		return (-EINVAL);
	if ((r = client_open(path, &c)) != 0)
		return (r);
	if ((r = client_handshake(c, timeout_ms)) != 0) {
		spawnd_client_free(c);
		return (r);
	}
	*ret_client = c;
	return (0);
}

/* Orphans the children: their handles stay valid, but cannot wait. */
SPAWND_EXPORT void
spawnd_client_free(struct spawnd_client *c)
{
	struct spawnd_child	*ch;

	if (c == NULL)
		return;
	while ((ch = TAILQ_FIRST(&c->children)) != NULL) {
		TAILQ_REMOVE(&c->children, ch, entry);
		ch->client = NULL;
	}
	if (c->fd != -1)
		(void)close(c->fd);
	free(c);
}

void
client_set_own(struct spawnd_client *c, int (*add)(int),
    void (*close_fd)(int))
{
	c->own_add = add;
	c->own_close = close_fd;
}

int
client_idle(const struct spawnd_client *c)
{
	return (c->error == 0 && TAILQ_EMPTY(&c->children));
}

SPAWND_EXPORT int
spawnd_client_fd(const struct spawnd_client *c)
{
	if (c == NULL)
		return (-EINVAL);
	return (c->fd);
}

SPAWND_EXPORT int
spawnd_ping(struct spawnd_client *c, int timeout_ms,
    struct spawnd_status *ret_status)
{
	struct client_frame	fr;
	struct proto_pong	pong;
	uint32_t		id;
	int			r;

	if (ret_status != NULL)
		memset(ret_status, 0, sizeof *ret_status);
	if (c == NULL || timeout_ms < -1)
		return (-EINVAL);
	if (c->error != 0)
		return (-ENOTCONN);
	id = client_id(c);
	if ((r = client_send(c, PROTO_PING, id, NULL, 0)) != 0)
		return (r);
	if ((r = client_reply(c, id, client_deadline(timeout_ms), &fr)) != 0)
		return (r);
	if (fr.hdr.type != PROTO_PONG || fr.nfds != 0 ||
	    proto_decode_pong(fr.payload, fr.hdr.length, &pong) != 0) {
		frame_discard(&fr);
		return (client_fail(c, -EPROTO));
	}
	if (ret_status != NULL) {
		ret_status->pid = (pid_t)pong.pid;
		ret_status->connections = pong.connections;
		ret_status->children = pong.children;
		ret_status->spawns = pong.spawns;
	}
	return (0);
}

/* OK, or FAILED's errno, for the request id; the frame is consumed. */
static int
client_ok(struct spawnd_client *c, uint32_t id, int64_t deadline)
{
	struct client_frame	fr;
	int			r;

	if ((r = client_reply(c, id, deadline, &fr)) != 0)
		return (r);
	if (fr.hdr.type == PROTO_OK && fr.nfds == 0 && fr.hdr.length == 0)
		return (0);
	if (fr.hdr.type == PROTO_FAILED)
		r = spawn_failed(c, &fr, NULL);
	else
		r = client_fail(c, -EPROTO);
	frame_discard(&fr);
	return (r);
}

/* Appends one LIST_ENTRY to the growing array. */
static int
client_ps_add(const struct client_frame *fr, struct spawnd_ps **list,
    size_t *n)
{
	struct proto_list_entry	 e;
	struct spawnd_ps	*l, *p;

	if (fr->nfds != 0 || proto_decode_list_entry(fr->payload,
	    fr->hdr.length, &e) != 0)
		return (-EPROTO);
	if ((l = reallocarray(*list, *n + 1, sizeof *l)) == NULL)
		return (-ENOMEM);
	*list = l;
	p = &l[(*n)++];
	p->pid = (pid_t)e.pid;
	p->client_pid = (pid_t)e.client_pid;
	p->uid = (uid_t)e.uid;
	p->state = e.state;
	p->age_ms = e.age_ms;
	(void)snprintf(p->argv, sizeof p->argv, "%s", e.argv);
	return (0);
}

SPAWND_EXPORT int
spawnd_list(struct spawnd_client *c, int timeout_ms,
    struct spawnd_ps **ret_list, size_t *ret_n)
{
	struct client_frame	 fr;
	struct spawnd_ps	*list = NULL;
	size_t			 n = 0;
	int64_t			 deadline = client_deadline(timeout_ms);
	uint32_t		 id;
	int			 r;

	if (ret_list != NULL)
		*ret_list = NULL;
	if (ret_n != NULL)
		*ret_n = 0;
	if (c == NULL || ret_list == NULL || ret_n == NULL || timeout_ms < -1)
		return (-EINVAL);
	if (c->error != 0)
		return (-ENOTCONN);
	id = client_id(c);
	if ((r = client_send(c, PROTO_LIST, id, NULL, 0)) != 0)
		return (r);
	while ((r = client_reply(c, id, deadline, &fr)) == 0) {
		if (fr.hdr.type == PROTO_OK && fr.hdr.length == 0 &&
		    fr.nfds == 0)
			break;
		r = fr.hdr.type == PROTO_LIST_ENTRY ?
		    client_ps_add(&fr, &list, &n) : -EPROTO;
		frame_discard(&fr);
		if (r != 0) {
			r = r == -EPROTO ? client_fail(c, r) : r;
			break;
		}
	}
	if (r != 0) {
		free(list);
		return (r);
	}
	*ret_list = list;
	*ret_n = n;
	return (0);
}

SPAWND_EXPORT int
spawnd_kill_pid(struct spawnd_client *c, pid_t pid, int sig,
    unsigned int flags)
{
	struct proto_kill	 k;
	uint8_t			 p[12];
	uint32_t		 id;
	int			 r;

	if (c == NULL || pid <= 0 || sig < 1 || sig > PROTO_MAX_SIG ||
	    (flags & ~(unsigned int)SPAWND_KILL_GROUP) != 0)
		return (-EINVAL);
	if (c->error != 0)
		return (-ENOTCONN);
	k.child = (uint32_t)pid;
	k.signal = (uint32_t)sig;
	k.flags = PROTO_KILL_BY_PID |
	    ((flags & SPAWND_KILL_GROUP) ? PROTO_KILL_GROUP : 0);
	id = client_id(c);
	if ((r = client_send(c, PROTO_KILL, id, p,
	    proto_encode_kill(p, &k))) != 0)
		return (r);
	return (client_ok(c, id, client_deadline(CLIENT_KILL_TIMEOUT_MS)));
}

SPAWND_EXPORT int
spawnd_wait_pid(struct spawnd_client *c, pid_t pid, int timeout_ms,
    struct spawnd_exit *ret_exit)
{
	struct client_frame	 fr;
	struct proto_exited	 e;
	int64_t			 deadline = client_deadline(timeout_ms);
	uint8_t			 p[4];
	uint32_t		 id;
	int			 r, status;

	if (ret_exit != NULL)
		memset(ret_exit, 0, sizeof *ret_exit);
	if (c == NULL || pid <= 0 || timeout_ms < -1)
		return (-EINVAL);
	if (c->error != 0)
		return (-ENOTCONN);
	id = client_id(c);
	if ((r = client_send(c, PROTO_WATCH, id, p,
	    proto_encode_watch(p, (uint32_t)pid))) != 0 ||
	    (r = client_ok(c, id, deadline)) != 0)
		return (r);
	c->watch_id = id;
	r = client_reply(c, id, deadline, &fr);
	c->watch_id = 0;
	if (r != 0)
		return (r);
	if (fr.hdr.type != PROTO_EXITED || fr.nfds != 0 ||
	    proto_decode_exited(fr.payload, fr.hdr.length, &e) != 0 ||
	    client_wait_status(&e, &status) != 0) {
		frame_discard(&fr);
		return (client_fail(c, -EPROTO));
	}
	if (ret_exit != NULL) {
		ret_exit->pid = (pid_t)e.pid;
		ret_exit->status = status;
		ret_exit->utime_us = e.utime_us;
		ret_exit->stime_us = e.stime_us;
		ret_exit->maxrss_kib = e.maxrss_kib;
	}
	return (0);
}

/* Requests. */

SPAWND_EXPORT int
spawnd_req_new(struct spawnd_req **ret_req)
{
	struct spawnd_req	*req;

	if (ret_req == NULL)
		return (-EINVAL);
	*ret_req = NULL;
	if ((req = calloc(1, sizeof *req)) == NULL)
		return (-ENOMEM);
	req->cwd_fd = -1;
	req->exec_fd = -1;
	req->ctty = -1;
	*ret_req = req;
	return (0);
}

SPAWND_EXPORT void
spawnd_req_free(struct spawnd_req *req)
{
	if (req == NULL)
		return;
	free(req->fdmap);
	free(req->actions);
	free(req);
}

/* Counts v (at most max entries), checking for '=' if env. */
static int
strv_check(const char *const *v, uint32_t max, int env, uint32_t *ret_n)
{
	uint32_t	n;

	for (n = 0; v[n] != NULL; n++) {
		if (n == max)
			return (-E2BIG);
		if (env && strchr(v[n], '=') == NULL)
			return (-EINVAL);
	}
	if (ret_n != NULL)
		*ret_n = n;
	return (0);
}

SPAWND_EXPORT int
spawnd_req_set_argv(struct spawnd_req *req, const char *const argv[])
{
	int	r;

	if (req == NULL || argv == NULL || argv[0] == NULL ||
	    argv[0][0] == '\0')
		return (-EINVAL);
	if ((r = strv_check(argv, PROTO_MAX_ARGV, 0, NULL)) != 0)
		return (r);
	req->argv = argv;
	return (0);
}

SPAWND_EXPORT int
spawnd_req_set_envp(struct spawnd_req *req, const char *const envp[])
{
	int	r;

	if (req == NULL)
		return (-EINVAL);
	if (envp != NULL &&
	    (r = strv_check(envp, PROTO_MAX_ENV, 1, NULL)) != 0)
		return (r);
	req->envp = envp;
	return (0);
}

SPAWND_EXPORT int
spawnd_req_set_path(struct spawnd_req *req, const char *path)
{
	if (req == NULL || path == NULL || *path == '\0' || req->exec_fd >= 0)
		return (-EINVAL);
	req->path = path;
	return (0);
}

SPAWND_EXPORT int
spawnd_req_set_exec_fd(struct spawnd_req *req, int fd)
{
	if (req == NULL || fd < 0 || req->path != NULL)
		return (-EINVAL);
	req->exec_fd = fd;
	return (0);
}

/* cwd and cwd_fd are one setting: the later call replaces the other. */
SPAWND_EXPORT int
spawnd_req_set_cwd(struct spawnd_req *req, const char *path)
{
	if (req == NULL || path == NULL || *path == '\0')
		return (-EINVAL);
	req->cwd = path;
	req->cwd_fd = -1;
	return (0);
}

SPAWND_EXPORT int
spawnd_req_set_cwd_fd(struct spawnd_req *req, int dirfd)
{
	if (req == NULL || dirfd < 0)
		return (-EINVAL);
	req->cwd_fd = dirfd;
	req->cwd = NULL;
	return (0);
}

SPAWND_EXPORT int
spawnd_req_set_fd(struct spawnd_req *req, int fd, int child_fd)
{
	return (client_req_map_fd(req, fd, child_fd, 0));
}

int
client_req_map_fd(struct spawnd_req *req, int fd, int child_fd,
    uint32_t flags)
{
	struct client_fdmap	*m;
	size_t			 i, cap;

	if (req == NULL || fd < 0 || child_fd < 0 ||
	    child_fd >= PROTO_MAX_CHILD_FD)
		return (-EINVAL);
	for (i = 0; i < req->nfdmap; i++) {
		if (req->fdmap[i].child_fd == child_fd) {
			req->fdmap[i].fd = fd;
			req->fdmap[i].flags = flags;
			return (0);
		}
	}
	if (req->nfdmap == PROTO_MAX_FDMAP)
		return (-E2BIG);
	if (req->nfdmap == req->fdmap_cap) {
		cap = req->fdmap_cap != 0 ? req->fdmap_cap * 2 : 8;
		if ((m = reallocarray(req->fdmap, cap, sizeof *m)) == NULL)
			return (-ENOMEM);
		req->fdmap = m;
		req->fdmap_cap = cap;
	}
	req->fdmap[req->nfdmap].fd = fd;
	req->fdmap[req->nfdmap].flags = flags;
	req->fdmap[req->nfdmap++].child_fd = child_fd;
	return (0);
}

/* Internal bits (SETSCHEDULER from set_sched) survive a flags change. */
SPAWND_EXPORT int
spawnd_req_set_flags(struct spawnd_req *req, unsigned int flags)
{
	if (req == NULL || (flags & ~(unsigned int)CLIENT_FLAGS_PUBLIC) != 0)
		return (-EINVAL);
	req->flags = (req->flags & ~(uint32_t)CLIENT_FLAGS_PUBLIC) | flags;
	return (0);
}

SPAWND_EXPORT int
spawnd_req_set_pgroup(struct spawnd_req *req, pid_t pgid)
{
	if (req == NULL || pgid < 0)
		return (-EINVAL);
	req->pgroup = (uint32_t)pgid;
	req->has |= PROTO_HAS_PGROUP;
	return (0);
}

uint64_t
client_sigset_bits(const sigset_t *set)
{
	uint64_t	bits = 0;
	int		sig;

	for (sig = 1; sig <= PROTO_MAX_SIG; sig++) {
		if (sigismember(set, sig) == 1)
			bits |= (uint64_t)1 << (sig - 1);
	}
	return (bits);
}

SPAWND_EXPORT int
spawnd_req_set_sigmask(struct spawnd_req *req, const sigset_t *mask)
{
	if (req == NULL || mask == NULL)
		return (-EINVAL);
	req->sigmask = client_sigset_bits(mask);
	req->has |= PROTO_HAS_SIGMASK;
	return (0);
}

SPAWND_EXPORT int
spawnd_req_set_sigignore(struct spawnd_req *req, const sigset_t *set)
{
	if (req == NULL || set == NULL)
		return (-EINVAL);
	req->sigign = client_sigset_bits(set);
	req->has |= PROTO_HAS_SIGIGN;
	return (0);
}

/* As umask(2), only the permission bits count. */
SPAWND_EXPORT int
spawnd_req_set_umask(struct spawnd_req *req, mode_t mask)
{
	if (req == NULL)
		return (-EINVAL);
	req->umask = mask & 0777;
	req->has |= PROTO_HAS_UMASK;
	return (0);
}

SPAWND_EXPORT int
spawnd_req_set_rlimit(struct spawnd_req *req, int resource,
    const struct rlimit *rl)
{
	struct proto_rlimit	*p;

	if (req == NULL || rl == NULL || resource < 0 ||
	    resource >= RLIMIT_NLIMITS || resource >= PROTO_RLIMIT_COUNT ||
	    rl->rlim_cur > rl->rlim_max)
		return (-EINVAL);
	p = &req->rlimits[resource];
	p->resource = (uint32_t)resource;
	p->cur = rl->rlim_cur == RLIM_INFINITY ? ~(uint64_t)0 : rl->rlim_cur;
	p->max = rl->rlim_max == RLIM_INFINITY ? ~(uint64_t)0 : rl->rlim_max;
	req->rlimit_set |= 1u << resource;
	return (0);
}

SPAWND_EXPORT int
spawnd_req_set_nice(struct spawnd_req *req, int nice)
{
	if (req == NULL || nice < -20 || nice > 19)
		return (-EINVAL);
	req->nice = nice;
	req->has |= PROTO_HAS_NICE;
	return (0);
}

SPAWND_EXPORT int
spawnd_req_set_sched(struct spawnd_req *req, int policy,
    const struct sched_param *param)
{
	if (req == NULL || param == NULL)
		return (-EINVAL);
	if (policy >= 0) {
		req->sched_policy = (uint32_t)policy;
		req->flags |= PROTO_SPAWN_SETSCHEDULER;
	} else {
		req->sched_policy = 0;
		req->flags &= ~(uint32_t)PROTO_SPAWN_SETSCHEDULER;
	}
	req->sched_priority = param->sched_priority;
	req->has |= PROTO_HAS_SCHED;
	return (0);
}

/* 0 cancels the timeout. */
SPAWND_EXPORT int
spawnd_req_set_timeout(struct spawnd_req *req, unsigned int ms)
{
	if (req == NULL)
		return (-EINVAL);
	req->timeout_ms = ms;
	if (ms != 0)
		req->has |= PROTO_HAS_TIMEOUT;
	else
		req->has &= ~(uint32_t)PROTO_HAS_TIMEOUT;
	return (0);
}

SPAWND_EXPORT int
spawnd_req_set_grace(struct spawnd_req *req, unsigned int ms)
{
	if (req == NULL)
		return (-EINVAL);
	req->grace_ms = ms;
	req->has |= PROTO_HAS_GRACE;
	return (0);
}

/* -1 takes it back.  The SETSID it needs is added when the request is sent. */
SPAWND_EXPORT int
spawnd_req_set_ctty(struct spawnd_req *req, int child_fd)
{
	if (req == NULL || child_fd < -1 || child_fd >= PROTO_MAX_CHILD_FD)
		return (-EINVAL);
	req->ctty = child_fd;
	if (child_fd >= 0)
		req->has |= PROTO_HAS_CTTY;
	else
		req->has &= ~(uint32_t)PROTO_HAS_CTTY;
	return (0);
}

/* File actions. */

static int
req_action(struct spawnd_req *req, const struct proto_action *a)
{
	struct proto_action	*p;
	size_t			 cap;

	if (req->nactions == PROTO_MAX_ACTIONS)
		return (-E2BIG);
	if (req->nactions == req->actions_cap) {
		cap = req->actions_cap != 0 ? req->actions_cap * 2 : 8;
		if ((p = reallocarray(req->actions, cap, sizeof *p)) == NULL)
			return (-ENOMEM);
		req->actions = p;
		req->actions_cap = cap;
	}
	req->actions[req->nactions++] = *a;
	return (0);
}

#define CHILD_FD_OK(fd)	((fd) >= 0 && (fd) < PROTO_MAX_CHILD_FD)

SPAWND_EXPORT int
spawnd_req_add_open(struct spawnd_req *req, int fd, const char *path,
    int oflag, mode_t mode)
{
	struct proto_action	a = { .kind = PROTO_ACT_OPEN, .fd = fd,
				    .oflags = (uint32_t)oflag,
				    .mode = (uint32_t)mode, .path = path };

	if (req == NULL || !CHILD_FD_OK(fd) || path == NULL)
		return (-EINVAL);
	return (req_action(req, &a));
}

SPAWND_EXPORT int
spawnd_req_add_close(struct spawnd_req *req, int fd)
{
	struct proto_action	a = { .kind = PROTO_ACT_CLOSE, .fd = fd };

	if (req == NULL || !CHILD_FD_OK(fd))
		return (-EINVAL);
	return (req_action(req, &a));
}

SPAWND_EXPORT int
spawnd_req_add_dup2(struct spawnd_req *req, int fd, int newfd)
{
	struct proto_action	a = { .kind = PROTO_ACT_DUP2, .fd = fd,
				    .newfd = newfd };

	if (req == NULL || !CHILD_FD_OK(fd) || !CHILD_FD_OK(newfd))
		return (-EINVAL);
	return (req_action(req, &a));
}

SPAWND_EXPORT int
spawnd_req_add_chdir(struct spawnd_req *req, const char *path)
{
	struct proto_action	a = { .kind = PROTO_ACT_CHDIR,
				    .path = path };

	if (req == NULL || path == NULL)
		return (-EINVAL);
	return (req_action(req, &a));
}

SPAWND_EXPORT int
spawnd_req_add_fchdir(struct spawnd_req *req, int fd)
{
	struct proto_action	a = { .kind = PROTO_ACT_FCHDIR, .fd = fd };

	if (req == NULL || !CHILD_FD_OK(fd))
		return (-EINVAL);
	return (req_action(req, &a));
}

SPAWND_EXPORT int
spawnd_req_add_closefrom(struct spawnd_req *req, int from)
{
	struct proto_action	a = { .kind = PROTO_ACT_CLOSEFROM,
				    .fd = from };

	if (req == NULL || !CHILD_FD_OK(from))
		return (-EINVAL);
	return (req_action(req, &a));
}

SPAWND_EXPORT int
spawnd_req_add_tcsetpgrp(struct spawnd_req *req, int fd)
{
	struct proto_action	a = { .kind = PROTO_ACT_TCSETPGRP,
				    .fd = fd };

	if (req == NULL || !CHILD_FD_OK(fd))
		return (-EINVAL);
	return (req_action(req, &a));
}

/* Spawning. */

/*
 * The index of fd among the fds to pass, adding it if new: a caller fd
 * used twice (mapped at two numbers, or also the cwd) travels once.
 */
static int
spawn_fd_index(int *fds, size_t *nfds, size_t max, int fd)
{
	size_t	i;

	for (i = 0; i < *nfds; i++) {
		if (fds[i] == fd)
			return ((int)i);
	}
	if (*nfds >= max)
		return (-E2BIG);
	fds[*nfds] = fd;
	return ((int)(*nfds)++);
}

/* Gives every fd the request passes an index: fd map, cwd, exec. */
static int
spawn_fds(const struct spawnd_client *c, const struct spawnd_req *req,
    struct proto_spawn *ps, struct proto_fdmap *map, int *fds,
    size_t *nfds)
{
	size_t	i, max = c->max_fds;
	int	idx;

	*nfds = 0;
	for (i = 0; i < req->nfdmap; i++) {
		if ((idx = spawn_fd_index(fds, nfds, max,
		    req->fdmap[i].fd)) < 0)
			return (idx);
		map[i].index = (uint32_t)idx;
		map[i].child_fd = req->fdmap[i].child_fd;
		map[i].flags = req->fdmap[i].flags;
	}
	ps->fdmap = map;
	ps->nfdmap = (uint32_t)req->nfdmap;
	ps->cwd_fd = ps->exec_fd = -1;
	if (req->cwd_fd >= 0 && (ps->cwd_fd = spawn_fd_index(fds, nfds, max,
	    req->cwd_fd)) < 0)
		return (ps->cwd_fd);
	if (req->exec_fd >= 0 && (ps->exec_fd = spawn_fd_index(fds, nfds,
	    max, req->exec_fd)) < 0)
		return (ps->exec_fd);
	return (0);
}

/*
 * Everything but the fds.  proto_spawn's vectors are not const (the
 * decoder fills them); the encoder only reads them.
 */
static void
spawn_fill(const struct spawnd_req *req, struct proto_spawn *ps,
    struct proto_rlimit *rl)
{
	struct rlimit	own;
	uint32_t	i;

	ps->flags = req->flags;
	ps->has = req->has;
	ps->argv = (char **)(uintptr_t)req->argv;
	(void)strv_check(req->argv, UINT32_MAX, 0, &ps->argc);
	if (req->envp != NULL) {
		ps->envp = (char **)(uintptr_t)req->envp;
		(void)strv_check(req->envp, UINT32_MAX, 0, &ps->envc);
	}
	ps->path = req->path;
	ps->cwd = req->cwd;
	ps->sigmask = req->sigmask;
	ps->sigign = req->sigign;
	ps->pgroup = req->pgroup;
	ps->umask = req->umask;
	for (i = 0; i < PROTO_RLIMIT_COUNT; i++) {
		if (req->rlimit_set & (1u << i))
			rl[ps->nrlimits++] = req->rlimits[i];
	}
	/*
	 * Unless asked otherwise, the child's RLIMIT_NOFILE is ours, not the
	 * daemon's (which raised its own soft limit for its connections).
	 */
	if (!(req->rlimit_set & (1u << RLIMIT_NOFILE)) &&
	    getrlimit(RLIMIT_NOFILE, &own) == 0) {
		ps->nofile = own.rlim_cur == RLIM_INFINITY ? UINT64_MAX :
		    own.rlim_cur;
		ps->has |= PROTO_HAS_NOFILE;
	}
	ps->rlimits = rl;
	ps->nice = req->nice;
	ps->sched_policy = req->sched_policy;
	ps->sched_priority = req->sched_priority;
	ps->actions = req->actions;
	ps->nactions = (uint32_t)req->nactions;
	ps->grace_ms = req->grace_ms;
	ps->timeout_ms = req->timeout_ms;
	/* Only a session leader without a terminal can take one. */
	ps->ctty = req->ctty;
	if (req->has & PROTO_HAS_CTTY)
		ps->flags |= PROTO_SPAWN_SETSID;
}

/* Encodes the body into b and collects the fds it passes. */
static int
spawn_encode(const struct spawnd_client *c, uint32_t flags,
    const struct spawnd_req *req, struct proto_buf *b, int *fds, size_t *nfds)
{
	struct proto_spawn	 ps;
	struct proto_rlimit	 rl[PROTO_RLIMIT_COUNT];
	struct proto_fdmap	*map = NULL;
	int			 r;

	memset(&ps, 0, sizeof ps);
	if (req->nfdmap != 0 &&
	    (map = calloc(req->nfdmap, sizeof *map)) == NULL)
		return (-ENOMEM);
	if ((r = spawn_fds(c, req, &ps, map, fds, nfds)) != 0)
		goto out;
	spawn_fill(req, &ps, rl);
	ps.flags |= flags & PROTO_SPAWN_EXEC_FD;
	proto_encode_spawn(b, &ps);
	if ((r = b->err) == 0 && b->len > c->max_request)
		r = -E2BIG;
out:
	free(map);
	return (r);
}

/*
 * Sends the body as frames of at most PROTO_MAX_PAYLOAD bytes, fds on the
 * first.  The body is not copied: each datagram is {header, slice}.  Once
 * a frame went out the request cannot be taken back, so a later failure
 * kills the connection; a failed first frame (a bad fd) does not.
 */
static int
spawn_frames(struct spawnd_client *c, uint32_t id, const struct proto_buf *b,
    const int *fds, size_t nfds)
{
	struct proto_hdr	hdr = { .type = PROTO_SPAWN, .id = id };
	uint8_t			h[PROTO_HDR_SIZE];
	struct iovec		iov[2];
	size_t			off = 0, n;
	ssize_t			sent;

	do {
		n = b->len - off;
		if (n > PROTO_MAX_PAYLOAD)
			n = PROTO_MAX_PAYLOAD;
		hdr.flags = off + n < b->len ? PROTO_F_MORE : 0;
		hdr.length = (uint32_t)n;
		hdr.nfds = off == 0 ? (uint16_t)nfds : 0;
		proto_encode_hdr(h, &hdr);
		iov[0].iov_base = h;
		iov[0].iov_len = sizeof h;
		iov[1].iov_base = b->data + off;
		iov[1].iov_len = n;
		sent = fdio_send(c->fd, iov, 2, fds, hdr.nfds, 0);
		if (sent >= 0 && (size_t)sent != sizeof h + n)
			sent = -EIO;
		if (sent < 0 && (off != 0 || sent == -EPIPE ||
		    sent == -ECONNRESET || sent == -ENOTCONN))
			return (client_fail(c, (int)sent));
		if (sent < 0)
			return ((int)sent);
		off += n;
	} while (off < b->len);
	return (0);
}

int
client_spawn_send(struct spawnd_client *c, const struct spawnd_req *req,
    struct spawnd_child **ret_child)
{
	struct spawnd_child	*ch;
	int			 r;

	if (c->error != 0)
		return (-ENOTCONN);
	if (req->argv == NULL)
		return (-EINVAL);
	if ((ch = calloc(1, sizeof *ch)) == NULL)
		return (-ENOMEM);
	ch->pid = -1;
	ch->pidfd = -1;
	ch->req = req;
	if ((r = spawn_send(c, ch)) != 0) {
		free(ch);
		return (r);
	}
	*ret_child = ch;
	return (0);
}

/* Sends ch->req as a new request: a new id, the flags of now. */
static int
spawn_send(struct spawnd_client *c, struct spawnd_child *ch)
{
	struct proto_buf	 b;
	int			 fds[PROTO_MAX_FDS];
	size_t			 nfds;
	int			 r;

	ch->flags = ch->req->flags;
	if (c->exec_fd != CLIENT_EXEC_FD_NO)
		ch->flags |= PROTO_SPAWN_EXEC_FD;
	proto_buf_init(&b);
	if ((r = spawn_encode(c, ch->flags, ch->req, &b, fds, &nfds)) == 0) {
		ch->id = client_id(c);
		r = spawn_frames(c, ch->id, &b, fds, nfds);
	}
	proto_buf_free(&b);
	return (r);
}

/* Reads a small /proc file into buf, NUL-terminated. */
static int
proc_read(const char *path, char *buf, size_t len)
{
	ssize_t	n;
	int	fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (-errno);
	while ((n = read(fd, buf, len - 1)) == -1 && errno == EINTR)
		;
	saved = errno;
	(void)close(fd);
	if (n < 0)
		return (-saved);
	buf[n] = '\0';
	return (0);
}

/*
 * The pid a pidfd refers to, from its fdinfo "Pid:" line: -1 once the
 * process is reaped, 0 when it is outside our pid namespace.  -EINVAL if
 * fd is no pidfd.
 */
static int
proc_pidfd_pid(int fd, pid_t *ret_pid)
{
	char	 path[64], buf[1024], *p;
	long	 v;
	int	 r;

	(void)snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	if ((r = proc_read(path, buf, sizeof buf)) != 0)
		return (r);
	if ((p = strstr(buf, "\nPid:\t")) == NULL)
		return (-EINVAL);
	errno = 0;
	v = strtol(p + 6, &p, 10);
	if (errno != 0 || *p != '\n' || v < -1 || v > INT_MAX)
		return (-EINVAL);
	*ret_pid = (pid_t)v;
	return (0);
}

/* The parent of pid (/proc/PID/stat field 4); -ENOENT once reaped. */
static int
proc_ppid(pid_t pid, pid_t *ret_ppid)
{
	char	 path[64], buf[1024], *p;
	long	 v;
	int	 r;

	(void)snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((r = proc_read(path, buf, sizeof buf)) != 0)
		return (r == -ESRCH ? -ENOENT : r);
	/* comm may hold anything, ")" and spaces too: the last ")". */
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ' || p[2] == '\0' ||
	    p[3] != ' ')
		return (-EINVAL);
	errno = 0;
	v = strtol(p + 4, &p, 10);
	if (errno != 0 || *p != ' ' || v < 0 || v > INT_MAX)
		return (-EINVAL);
	*ret_ppid = (pid_t)v;
	return (0);
}

/*
 * The fast path of the check below, two calls instead of six: a pidfs
 * file (checked first, so that no ioctl reaches a file of another kind
 * the server chose) that the kernel says is pid, child of the daemon.
 * It only ever accepts; whatever it cannot say (an older kernel, a
 * reaped child, another namespace) goes to the /proc reads.
 */
static int
spawn_pidfd_info(const struct spawnd_client *c, pid_t pid, int pidfd)
{
	struct client_pidfd_info	 info;
	struct statfs			 sf;

	if (fstatfs(pidfd, &sf) == -1 || sf.f_type != CLIENT_PIDFS_MAGIC)
		return (0);
	memset(&info, 0, sizeof info);
	info.mask = CLIENT_PIDFD_INFO_PID;
	if (ioctl(pidfd, CLIENT_PIDFD_GET_INFO, &info) == -1 ||
	    !(info.mask & CLIENT_PIDFD_INFO_PID))
		return (0);
	return (info.pid == (uint32_t)pid &&
	    info.ppid == (uint32_t)c->daemon_pid);
}

/*
 * Is pidfd a pidfd for pid, a child of the daemon?  Else a server could
 * hand us a pidfd of any process and have our kills (root's, maybe) reach
 * it.  A process already reaped ("Pid: -1", a child that exited at once)
 * cannot be signalled through its pidfd, but pid is handed to callers,
 * who may kill(2) it: it must name no live process, or a child of the
 * daemon.  Once the pidfd named pid, a successor on a reused pid makes
 * the parent read a successor's: the pidfd is dead then, and a successor
 * that is not the daemon's child is refused all the same.  A process
 * being reaped while we read shows parent 0: look again.  A daemon
 * outside our pid namespace (pid 0) cannot be checked against: the
 * process must be outside too.  -EPROTO when the check fails.
 */
static int
spawn_check_pidfd(const struct spawnd_client *c, pid_t pid, int pidfd)
{
	pid_t	 got, ppid = -1;
	int	 i, r;

	if (c->daemon_pid > 0 && spawn_pidfd_info(c, pid, pidfd))
		return (0);
	for (i = 0; i < CLIENT_PIDFD_TRIES; i++) {
		if (proc_pidfd_pid(pidfd, &got) != 0)
			return (-EPROTO);
		if (c->daemon_pid == 0)
			return (got == 0 || got == -1 ? 0 : -EPROTO);
		if (got != pid && got != -1)
			return (-EPROTO);
		if ((r = proc_ppid(pid, &ppid)) == -ENOENT)
			return (0);
		if (r == 0 && ppid == c->daemon_pid)
			return (0);
		if (r != 0 || ppid != 0)
			return (-EPROTO);
	}
	return (-EPROTO);
}

/*
 * An early STARTED's exec fd: a pipe whose only writer is the child,
 * close-on-exec.  Waits for its EOF (the child has exec'd, or was killed
 * first: a start) or its byte (the child failed: the daemon's FAILED
 * follows once it has exited), watching the daemon's socket for a
 * hang-up meanwhile.  Takes xfd.  0: started; else as client_spawn_recv().
 */
static int
spawn_exec_wait(struct spawnd_client *c, struct spawnd_child *ch, int xfd,
    struct spawnd_failure *ret_failure)
{
	struct pollfd		p[2];
	struct client_frame	fr;
	uint32_t		watch;
	int			r;

	p[0].fd = xfd;
	p[0].events = POLLIN;
	p[1].fd = c->fd;
	p[1].events = POLLRDHUP;
	while ((r = poll(p, 2, -1)) == -1 && errno == EINTR)
		continue;
	r = r == -1 ? -errno : 0;
	if (c->own_close != NULL)
		c->own_close(xfd);
	else
		(void)close(xfd);
	if (r != 0)
		return (client_fail(c, r));
	if (!(p[0].revents & POLLIN)) {
		if (p[0].revents & (POLLHUP | POLLERR))
			return (0);
		return (client_fail(c, -ECONNRESET));
	}
	/*
	 * FAILED, as the daemon saw the byte.  Were it to send EXITED (it
	 * missed the byte), that EXITED is for no child of ours: take it
	 * here rather than wait for good, as a failure of unknown cause.
	 */
	watch = c->watch_id;
	c->watch_id = ch->id;
	r = client_reply(c, ch->id, -1, &fr);
	c->watch_id = watch;
	if (r != 0)
		return (r);
	if (fr.hdr.type == PROTO_FAILED)
		r = spawn_failed(c, &fr, ret_failure);
	else if (fr.hdr.type == PROTO_EXITED)
		r = -EIO;
	else
		r = client_fail(c, -EPROTO);
	frame_discard(&fr);
	return (r);
}

/*
 * STARTED: the child runs; the handle takes the pidfd once it is checked
 * to be the daemon's child (a failed check closes it and the connection).
 * An early STARTED (before the exec) carries the exec fd last, checked to
 * be a pipe, and the child is the caller's only once it has exec'd.
 */
static int
spawn_started(struct spawnd_client *c, struct spawnd_child *ch,
    struct client_frame *fr, struct spawnd_failure *ret_failure)
{
	struct proto_started	st;
	struct stat		sb;
	size_t			want;
	int			xfd = -1, pidfd = -1, r;

	want = (ch->flags & PROTO_SPAWN_NO_PIDFD) ? 0 : 1;
	if (proto_decode_started(fr->payload, fr->hdr.length, &st) != 0 ||
	    st.pid == 0 || st.pid > INT_MAX)
		return (client_fail(c, -EPROTO));
	if (st.flags & PROTO_STARTED_EXEC_FD) {
		if (!(ch->flags & PROTO_SPAWN_EXEC_FD))
			return (client_fail(c, -EPROTO));
		want++;
	}
	if (fr->nfds != want)
		return (client_fail(c, -EPROTO));
	if (st.flags & PROTO_STARTED_EXEC_FD) {
		xfd = fr->fds[want - 1];
		if (fstat(xfd, &sb) == -1 || !S_ISFIFO(sb.st_mode))
			return (client_fail(c, -EPROTO));
		c->exec_fd = CLIENT_EXEC_FD_YES;
	}
	if (!(ch->flags & PROTO_SPAWN_NO_PIDFD)) {
		pidfd = fr->fds[0];
		if (spawn_check_pidfd(c, (pid_t)st.pid, pidfd) != 0)
			return (client_fail(c, -EPROTO));
	}
	fr->nfds = 0;
	if (xfd != -1 && c->own_add != NULL)
		(void)c->own_add(xfd);	/* unlisted, it is still closed */
	if (xfd != -1 &&
	    (r = spawn_exec_wait(c, ch, xfd, ret_failure)) != 0) {
		if (pidfd != -1)
			(void)close(pidfd);
		return (r);
	}
	ch->pid = (pid_t)st.pid;
	ch->pidfd = pidfd;
	ch->client = c;
	TAILQ_INSERT_HEAD(&c->children, ch, entry);
	return (0);
}

/*
 * FAILED: returns the daemon's errno (which may well be EPROTO for a
 * request it found malformed); only a malformed FAILED kills the link.
 */
static int
spawn_failed(struct spawnd_client *c, const struct client_frame *fr,
    struct spawnd_failure *ret_failure)
{
	struct proto_failed	f;

	if (fr->nfds != 0 || proto_decode_failed(fr->payload,
	    fr->hdr.length, &f) != 0 || f.error == 0 ||
	    f.error > CLIENT_MAX_ERRNO || f.step > PROTO_STEP_MAX)
		return (client_fail(c, -EPROTO));
	if (ret_failure != NULL) {
		ret_failure->error = (int)f.error;
		ret_failure->step = f.step;
		ret_failure->action = f.index <= INT_MAX ? (int)f.index : -1;
	}
	return (-(int)f.error);
}

int
client_spawn_recv(struct spawnd_client *c, struct spawnd_child *ch,
    struct spawnd_failure *ret_failure)
{
	struct client_frame	 fr;
	struct spawnd_failure	 f = { 0, SPAWND_STEP_NONE, -1 };
	int			 r, again = 0;

	for (;;) {
		if ((r = client_reply(c, ch->id, -1, &fr)) != 0)
			break;
		if (fr.hdr.type == PROTO_STARTED)
			r = spawn_started(c, ch, &fr, &f);
		else if (fr.hdr.type == PROTO_FAILED)
			r = spawn_failed(c, &fr, &f);
		else
			r = client_fail(c, -EPROTO);
		frame_discard(&fr);
		/*
		 * A daemon older than PROTO_SPAWN_EXEC_FD refuses the flag
		 * (EINVAL at the request): before any daemon granted it, ask
		 * again without, and keep to that on this connection if it is
		 * served (a request refused again was at fault itself).
		 */
		if (again)
			c->exec_fd = r == 0 ? CLIENT_EXEC_FD_NO :
			    CLIENT_EXEC_FD_ASK;
		if (again || r != -EINVAL ||
		    !(ch->flags & PROTO_SPAWN_EXEC_FD) ||
		    c->exec_fd != CLIENT_EXEC_FD_ASK ||
		    f.step != SPAWND_STEP_REQUEST)
			break;
		again = 1;
		c->exec_fd = CLIENT_EXEC_FD_NO;
		f.error = 0;
		f.step = SPAWND_STEP_NONE;
		f.action = -1;
		if ((r = spawn_send(c, ch)) != 0) {
			c->exec_fd = CLIENT_EXEC_FD_ASK;
			break;
		}
	}
	ch->req = NULL;
	if (ret_failure != NULL)
		*ret_failure = f;
	return (r);
}

SPAWND_EXPORT int
spawnd_spawn(struct spawnd_client *c, const struct spawnd_req *req,
    struct spawnd_child **ret_child, struct spawnd_failure *ret_failure)
{
	struct spawnd_child	*ch;
	int			 r;

	if (ret_failure != NULL) {
		ret_failure->error = 0;
		ret_failure->step = SPAWND_STEP_NONE;
		ret_failure->action = -1;
	}
	if (ret_child != NULL)
		*ret_child = NULL;
	if (c == NULL || req == NULL || ret_child == NULL)
		return (-EINVAL);
	if ((r = client_spawn_send(c, req, &ch)) != 0)
		return (r);
	if ((r = client_spawn_recv(c, ch, ret_failure)) != 0) {
		spawnd_child_free(ch);
		return (r);
	}
	*ret_child = ch;
	return (0);
}

/* Children. */

SPAWND_EXPORT pid_t
spawnd_child_pid(const struct spawnd_child *ch)
{
	if (ch == NULL)
		return (-EINVAL);
	return (ch->pid);
}

SPAWND_EXPORT int
spawnd_child_fd(const struct spawnd_child *ch)
{
	if (ch == NULL)
		return (-EINVAL);
	return (ch->pidfd);
}

SPAWND_EXPORT int
spawnd_child_wait(struct spawnd_child *ch, int timeout_ms,
    struct spawnd_exit *ret_exit)
{
	struct client_frame	fr;
	int64_t			deadline;
	int			r;

	if (ret_exit != NULL)
		memset(ret_exit, 0, sizeof *ret_exit);
	if (ch == NULL || timeout_ms < -1)
		return (-EINVAL);
	deadline = client_deadline(timeout_ms);
	while (!ch->exited) {
		if (ch->client == NULL || ch->client->error != 0)
			return (-ENOTCONN);
		r = client_next(ch->client, deadline, &fr);
		if (r == -ECONNRESET || r == -EPIPE)
			return (-ENOTCONN);
		if (r < 0)
			return (r);
		if (r == 1)
			frame_discard(&fr);
	}
	if (ret_exit != NULL)
		*ret_exit = ch->exit;
	return (0);
}

SPAWND_EXPORT int
spawnd_child_kill(struct spawnd_child *ch, int sig, unsigned int flags)
{
	struct proto_kill	 k;
	struct spawnd_client	*c;
	uint8_t			 p[12];
	uint32_t		 id;
	int			 r;

	if (ch == NULL || sig < 1 || sig > PROTO_MAX_SIG ||
	    (flags & ~(unsigned int)SPAWND_KILL_GROUP) != 0)
		return (-EINVAL);
	if (ch->exited)
		return (-ESRCH);
	/*
	 * The pidfd reaches exactly this child, never a recycled pid, with no
	 * round trip (and no wait on a daemon that may be stuck).  Group
	 * kills go through the daemon, which knows whether the child leads
	 * its process group.
	 */
	if (ch->pidfd >= 0 && !(flags & SPAWND_KILL_GROUP))
		return (syscall(SYS_pidfd_send_signal, ch->pidfd, sig, NULL,
		    0) == -1 ? -errno : 0);
	if ((c = ch->client) == NULL || c->error != 0)
		return (-ENOTCONN);
	k.child = ch->id;
	k.signal = (uint32_t)sig;
	k.flags = (flags & SPAWND_KILL_GROUP) ? PROTO_KILL_GROUP : 0;
	id = client_id(c);
	if ((r = client_send(c, PROTO_KILL, id, p,
	    proto_encode_kill(p, &k))) != 0)
		return (r);
	return (client_ok(c, id, client_deadline(CLIENT_KILL_TIMEOUT_MS)));
}

SPAWND_EXPORT void
spawnd_child_free(struct spawnd_child *ch)
{
	if (ch == NULL)
		return;
	if (ch->client != NULL)
		TAILQ_REMOVE(&ch->client->children, ch, entry);
	if (ch->pidfd != -1)
		(void)close(ch->pidfd);
	free(ch);
}

SPAWND_EXPORT int
spawnd_run(const char *path, const struct spawnd_req *req,
    struct spawnd_exit *ret_exit, struct spawnd_failure *ret_failure)
{
	struct spawnd_client	*c;
	struct spawnd_child	*ch = NULL;
	int			 r;

	if (ret_failure != NULL) {
		ret_failure->error = 0;
		ret_failure->step = SPAWND_STEP_NONE;
		ret_failure->action = -1;
	}
	if (ret_exit != NULL)
		memset(ret_exit, 0, sizeof *ret_exit);
	if (req == NULL)
		return (-EINVAL);
	if ((r = spawnd_connect(path, -1, &c)) != 0)
		return (r);
	if ((r = spawnd_spawn(c, req, &ch, ret_failure)) == 0)
		r = spawnd_child_wait(ch, -1, ret_exit);
	spawnd_child_free(ch);
	spawnd_client_free(c);
	return (r);
}

/*
 * Private daemon autostart.  Whoever holds PATH.start.lock (an flock on a
 * file made with spawnd_create_or_open, so racing starters never fail on
 * EEXIST/ENOENT) checks again for a daemon and, if none answers, starts
 * one with --background: its first process exits once the socket is
 * bound and listening, so the caller reaps it at once and can connect.
 * The daemon's own PATH.lock still makes a second daemon on the path exit.
 */
static int
autostart_lock(int dirfd, const char *base, int64_t deadline, int *ret_fd)
{
	char		 lock[PATH_MAX];
	struct stat	 st;
	int		 fd, saved;

	if ((size_t)snprintf(lock, sizeof lock, "%s.start.lock", base) >=
	    sizeof lock)
		return (-ENAMETOOLONG);
	/* Never through a symlink: another's file would get our lock. */
	if ((fd = spawnd_create_or_open(dirfd, lock, O_RDONLY | O_NOFOLLOW,
	    0600, NULL)) < 0)
		return (fd);
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (st.st_uid != geteuid() && st.st_uid != 0)) {
		(void)close(fd);
		return (-EPERM);
	}
	while (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		saved = errno;
		if ((saved != EWOULDBLOCK && saved != EINTR) ||
		    autostart_late(deadline)) {
			(void)close(fd);
			return (saved == EWOULDBLOCK ? -ETIMEDOUT : -saved);
		}
		(void)poll(NULL, 0, AUTOSTART_POLL_MS);
	}
	*ret_fd = fd;
	return (0);
}

/*
 * One directory on the way to the socket: ours or root's; writable by
 * group or others only if sticky and the entry we go into (child, an
 * O_PATH fd, -1 for the socket's own directory) is ours or root's, so
 * that nobody else can rename it away and put their own in its place.
 * The socket's directory itself is never writable by others, and with
 * private set (the default /tmp/spawnd-UID) has no group or other bits
 * at all, as tmux checks /tmp/tmux-UID.
 */
static int
autostart_safe(int fd, int child, int last, int private)
{
	struct stat	 st, cst;
	uid_t		 me = geteuid();

	if (fstat(fd, &st) == -1)
		return (-errno);
	if (!S_ISDIR(st.st_mode) || (st.st_uid != me && st.st_uid != 0))
		return (-EPERM);
	if (last && private && (st.st_uid != me || (st.st_mode & 077)))
		return (-EPERM);
	if (!(st.st_mode & (S_IWGRP | S_IWOTH)))
		return (0);
	if (last || !(st.st_mode & S_ISVTX) || fstat(child, &cst) == -1 ||
	    (cst.st_uid != me && cst.st_uid != 0))
		return (-EPERM);
	return (0);
}

/*
 * Steps from *fd into the directory name, never through a symlink
 * (O_NOFOLLOW on a single component: -ELOOP), creating it 0700 if create
 * is set and it is missing; checks the directory we leave.
 */
static int
autostart_step(int *fd, const char *name, int create, int private)
{
	struct stat	 st;
	int		 nfd, r;

	while ((nfd = openat(*fd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC)) == -1 && errno == ENOENT && create) {
		/* Nothing is made where others could take it over. */
		if (fstat(*fd, &st) == -1)
			return (-errno);
		if ((st.st_uid != geteuid() && st.st_uid != 0) ||
		    ((st.st_mode & (S_IWGRP | S_IWOTH)) &&
		    !(st.st_mode & S_ISVTX)))
			return (-EPERM);
		if (mkdirat(*fd, name, 0700) == -1 && errno != EEXIST)
			return (-errno);
		create = 0;
	}
	if (nfd == -1) {
		r = -errno;
		/* A symlink is ELOOP, whatever openat said. */
		if ((r == -ENOTDIR || r == -ELOOP) && fstatat(*fd, name, &st,
		    AT_SYMLINK_NOFOLLOW) == 0)
			r = S_ISLNK(st.st_mode) ? -ELOOP : -ENOTDIR;
		return (r);
	}
	if ((r = autostart_safe(*fd, nfd, 0, private)) != 0) {
		(void)close(nfd);
		return (r);
	}
	(void)close(*fd);
	*fd = nfd;
	return (0);
}

/*
 * Opens the socket's directory (O_PATH), walking from / (or the working
 * directory for a relative path) one component at a time: no symlink
 * anywhere, every directory checked (autostart_safe), ".." refused, the
 * last one created 0700 if missing.  *ret_base points into path at the
 * socket's name.
 */
static int
autostart_dir(const char *path, int private, int *ret_fd,
    const char **ret_base)
{
	char		 comp[NAME_MAX + 1];
	const char	*p = path, *end, *base;
	size_t		 n;
	int		 fd, r;

	if ((base = strrchr(path, '/')) == NULL)
		base = path;
	else
		base++;
	if (*base == '\0' || strcmp(base, ".") == 0 || strcmp(base, "..") == 0)
		return (-EINVAL);
	if ((fd = open(*path == '/' ? "/" : ".", O_PATH | O_DIRECTORY |
	    O_CLOEXEC)) == -1)
		return (-errno);
	for (; p < base; p = end + 1) {
		end = strchr(p, '/');
		if ((n = (size_t)(end - p)) == 0 || (n == 1 && *p == '.'))
			continue;
		r = n > NAME_MAX ? -ENAMETOOLONG : (n == 2 &&
		    strncmp(p, "..", 2) == 0) ? -EINVAL : 0;
		if (r == 0) {
			memcpy(comp, p, n);
			comp[n] = '\0';
			r = autostart_step(&fd, comp, end + 1 == base, private);
		}
		if (r != 0) {
			(void)close(fd);
			return (r);
		}
	}
	if ((r = autostart_safe(fd, -1, 1, private)) != 0) {
		(void)close(fd);
		return (r);
	}
	*ret_fd = fd;
	*ret_base = base;
	return (0);
}

/* Has the deadline (-1: none) passed? */
static int
autostart_late(int64_t deadline)
{
	return (deadline >= 0 && client_deadline(0) >= deadline);
}

/* Milliseconds left before the deadline, as a timeout_ms (-1: none). */
static int
autostart_left(int64_t deadline)
{
	int64_t	 left;

	if (deadline < 0)
		return (-1);
	left = deadline - client_deadline(0);
	return (left < 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left);
}

/*
 * The caller's environment for the daemon, less its service manager's
 * variables: a daemon of our own must not send READY=1, STATUS= or
 * STOPPING=1 to the caller's NOTIFY_SOCKET, nor answer its watchdog.
 * The array borrows environ's strings; free() it.
 */
static char **
autostart_env(void)
{
	static const char *const drop[] = { "NOTIFY_SOCKET=", "WATCHDOG_PID=",
				    "WATCHDOG_USEC=", "LISTEN_PID=",
				    "LISTEN_FDS=", "LISTEN_FDNAMES=" };
	extern char		**environ;
	char			**env;
	size_t			 i, j, k, n = 0;

	while (environ != NULL && environ[n] != NULL)
		n++;
	if ((env = calloc(n + 1, sizeof *env)) == NULL)
		return (NULL);
	for (i = j = 0; i < n; i++) {
		for (k = 0; k < sizeof drop / sizeof drop[0]; k++)
			if (strncmp(environ[i], drop[k], strlen(drop[k])) == 0)
				break;
		if (k == sizeof drop / sizeof drop[0])
			env[j++] = environ[i];
	}
	return (env);
}

/*
 * Runs "spawnd --background --socket path" in its own session, with
 * /dev/null on 0-2, no other fd of the caller (it would keep the caller's
 * pipes open and hold its writable files, the very thing spawnd is for),
 * default signals and an empty mask; then waits for its first process.
 */
static int
autostart_run(const char *spawnd, const char *path, int64_t deadline)
{
	char *const	 argv[] = { (char *)(uintptr_t)spawnd,
			    (char *)(uintptr_t)"--background",
			    (char *)(uintptr_t)"--exit-idle-time=60",
			    (char *)(uintptr_t)"--socket",
			    (char *)(uintptr_t)path, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t	 attr;
	sigset_t		 all, none;
	char			**env;
	pid_t			 pid;
	int			 r;

	if ((env = autostart_env()) == NULL)
		return (-ENOMEM);
	(void)sigfillset(&all);
	(void)sigemptyset(&none);
	(void)posix_spawn_file_actions_init(&fa);
	(void)posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY,
	    0);
	(void)posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY,
	    0);
	(void)posix_spawn_file_actions_adddup2(&fa, 1, 2);
	(void)posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	(void)posix_spawnattr_init(&attr);
	(void)posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	(void)posix_spawnattr_setsigdefault(&attr, &all);
	(void)posix_spawnattr_setsigmask(&attr, &none);
	r = posix_spawnp(&pid, spawnd, &fa, &attr, argv, env);
	(void)posix_spawn_file_actions_destroy(&fa);
	(void)posix_spawnattr_destroy(&attr);
	free(env);
	if (r != 0)
		return (-r);
	return (autostart_reap(pid, deadline));
}

/*
 * Waits (bounded) for the daemon's first process, which exits 0 once the
 * socket listens.  ECHILD (the caller ignores SIGCHLD, or its handler
 * reaped it) means it is gone with its status unknown: the connect that
 * follows tells.  -EIO: it failed.
 */
static int
autostart_reap(pid_t pid, int64_t deadline)
{
	pid_t	 r;
	int	 status;

	while ((r = waitpid(pid, &status, WNOHANG)) == 0 ||
	    (r == -1 && errno == EINTR)) {
		if (autostart_late(deadline))
			return (-ETIMEDOUT);
		(void)poll(NULL, 0, 1);
	}
	if (r == -1)
		return (errno == ECHILD ? 0 : -errno);
	return (WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO);
}

/*
 * Under the start lock: connect, else start a daemon and connect again.
 * A daemon that exits at once (an idle one may still be letting go of
 * PATH.lock) is retried a few times.  1 when this call started it.
 */
static int
autostart_locked(const char *path, const char *spawnd, int64_t deadline,
    struct spawnd_client **ret_client)
{
	int	 i, r, started = 0;

	for (i = 0;; i++) {
		r = spawnd_connect(path, autostart_left(deadline), ret_client);
		if (r == 0)
			return (started);
		if (r != -ENOENT && r != -ECONNREFUSED)
			return (r);
		if (autostart_late(deadline))
			return (-ETIMEDOUT);
		if (i == AUTOSTART_TRIES)
			return (-EIO);
		if (i > 0)
			(void)poll(NULL, 0, AUTOSTART_RETRY_MS);
		if ((r = autostart_run(spawnd, path, deadline)) < 0 &&
		    r != -EIO)
			return (r);
		started = r == 0;
	}
}

SPAWND_EXPORT int
spawnd_connect_autostart(const char *path, const char *spawnd,
    int timeout_ms, struct spawnd_client **ret_client)
{
	char		 buf[sizeof(((struct sockaddr_un *)0)->sun_path)];
	const char	*base = NULL;
	int64_t		 deadline = client_deadline(timeout_ms);
	int		 c0, r, dfd = -1, lfd = -1, private = 0;

	if (ret_client != NULL)
		*ret_client = NULL;
	if (ret_client == NULL || timeout_ms < -1)
		return (-EINVAL);
	c0 = spawnd_connect(path, timeout_ms, ret_client);
	if (c0 != -ENOENT && c0 != -ECONNREFUSED && c0 != -EACCES)
		return (c0);
	if (path == NULL && (r = spawnd_socket_path(buf, sizeof buf)) < 0)
		return (r);
	if (path == NULL) {
		path = buf;
		private = strncmp(buf, "/tmp/spawnd-", 12) == 0;
	}
	if (spawnd == NULL && (spawnd = secure_getenv("SPAWND_DAEMON")) == NULL)
		spawnd = "spawnd";
	if ((r = autostart_dir(path, private, &dfd, &base)) < 0)
		return (r);
	/* EACCES from a path found sound: the socket refuses us. */
	if (c0 == -EACCES) {
		(void)close(dfd);
		return (c0);
	}
	r = autostart_lock(dfd, base, deadline, &lfd);
	(void)close(dfd);
	if (r < 0)
		return (r);
	r = autostart_locked(path, spawnd, deadline, ret_client);
	(void)close(lfd);
	return (r);
}
