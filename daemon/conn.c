/*
 * conn.c: one struct conn per client.
 *
 * A connection reads whole frames (one datagram each), checks them, and
 * dispatches them to one handler per message type.  Framing or ordering
 * errors get a PROTO_ERROR and the connection is closed; a well-framed
 * request the daemon cannot honour gets PROTO_FAILED and the connection
 * lives on.  Replies are sent at once when the socket has room and queued
 * otherwise (bounded: a client that never reads is dropped).  The fds that
 * come with a frame are closed when its handler returns, whatever happened.
 */

#include <sys/socket.h>

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <syslog.h>
#include <unistd.h>
#include <fcntl.h>

#include <event2/event.h>

#include "fdio.h"
#include "spawnd-int.h"

#define CONN_FRAMES_PER_WAKE	32

enum conn_state {
	CONN_HELLO,		/* waiting for PROTO_HELLO */
	CONN_READY,
	CONN_CLOSING,		/* drop at the next chance */
};

/* A reply that did not fit in the socket: sent on EV_WRITE. */
struct out {
	STAILQ_ENTRY(out)	 entry;
	int			 fds[2];	/* to attach */
	size_t			 nfds;
	size_t			 len;
	uint8_t			 data[];
};

struct conn {
	TAILQ_ENTRY(conn)	 entry;
	int			 fd;
	uid_t			 uid;
	pid_t			 pid;
	enum conn_state		 state;
	struct event		*rev;
	struct event		*wev;
	struct event		*hev;		/* hang-up, while paused */
	STAILQ_HEAD(, out)	 outq;
	size_t			 outq_bytes;
	size_t			 list_grace;	/* queued by a LIST, over */
	int			 listing;	/* a LIST's replies go out */
	unsigned int		 nchildren;	/* launching ones too */
	int			 launching;	/* a spawn awaits its exec */
	int			 paused;	/* rev off until it has */
	uint64_t		 deadline;	/* ms: HELLO or the last frame */
	/* A spawn request arriving in several frames. */
	int			 assembling;
	uint32_t		 asm_id;
	uint8_t			*asm_buf;
	size_t			 asm_len;
	size_t			 asm_cap;
	int			*asm_fds;
	size_t			 asm_nfds;
};

static void	conn_read(int, short, void *);
static void	conn_pause(struct conn *);
static void	conn_hangup(int, short, void *);
static void	conn_write(int, short, void *);
static int	conn_frame(struct conn *, const uint8_t *, size_t, int *,
		    size_t);
static int	conn_dispatch(struct conn *, const struct proto_hdr *,
		    const uint8_t *, int *, size_t);
static int	conn_hello(struct conn *, const struct proto_hdr *,
		    const uint8_t *);
static int	conn_spawn_frame(struct conn *, const struct proto_hdr *,
		    const uint8_t *, int *, size_t);
static int	conn_append(struct conn *, const uint8_t *, size_t);
static void	conn_spawn(struct conn *, uint32_t, uint8_t *, size_t,
		    size_t, const int *, size_t);
static struct budget *conn_budget(uid_t);
static void	conn_failed(struct conn *, uint32_t, int, int, uint32_t);
static void	conn_log_spawn(const struct conn *, const struct proto_spawn *,
		    pid_t, const struct proto_failed *);
static int	conn_kill(struct conn *, const struct proto_hdr *,
		    const uint8_t *);
static int	conn_ping(struct conn *, const struct proto_hdr *);
static int	conn_watch(struct conn *, const struct proto_hdr *,
		    const uint8_t *);
static struct child *conn_by_pid(struct conn *, uint32_t, uint32_t);
static int	conn_error(struct conn *, uint32_t, int, const char *);
static void	conn_asm_free(struct conn *);
static void	conn_free(struct conn *);
static void	conn_closing(struct conn *);

static void	conn_sweep(int, short, void *);
static int	conn_sweep_arm(void);
static uint64_t	conn_now(void);

/*
 * What the pending requests of one uid hold: the fds and the buffer of a
 * request still arriving in several frames, and the body of one whose
 * child has not exec'd yet (child.c keeps it until then).  Only the
 * daemon's own uid and root are served, so two suffice.
 */
struct budget {
	size_t			 fds;
	size_t			 bytes;
};

static TAILQ_HEAD(, conn) conns = TAILQ_HEAD_INITIALIZER(conns);
static struct budget	 conn_budgets[2];	/* root, the served uid */
static size_t		 conn_pending_fds;	/* all uids */
static struct event	*conn_sweep_ev;

/* One frame at a time; single-threaded, so one buffer serves all. */
static uint8_t	conn_rbuf[PROTO_MAX_FRAME];
static int	conn_rfds[PROTO_MAX_FDS];

/* Takes ownership of an accepted, non-blocking, close-on-exec socket. */
void
conn_new(int fd, uid_t uid, pid_t pid)
{
	struct conn	*c;

	if ((c = calloc(1, sizeof *c)) == NULL) {
		log_warn("connection from pid %d, dropping", (int)pid);
		(void)close(fd);
		return;
	}
	c->fd = fd;
	c->uid = uid;
	c->pid = pid;
	c->state = CONN_HELLO;
	c->deadline = conn_now() + sd.limits.handshake_ms;
	STAILQ_INIT(&c->outq);
	c->rev = event_new(sd.base, fd, EV_READ | EV_PERSIST, conn_read, c);
	c->wev = event_new(sd.base, fd, EV_WRITE | EV_PERSIST, conn_write, c);
	if (c->rev == NULL || c->wev == NULL || event_add(c->rev, NULL)) {
		log_warnx("connection from pid %d: no memory, dropping",
		    (int)pid);
		if (c->rev != NULL)
			event_free(c->rev);
		if (c->wev != NULL)
			event_free(c->wev);
		(void)close(fd);
		free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&conns, c, entry);
	sd.nconns++;
	notify_changed();
	/* Without the sweep, its deadlines would never be enforced. */
	if (conn_sweep_arm() == -1) {
		log_warnx("connection from pid %d: cannot arm the deadline "
		    "sweep, dropping", (int)pid);
		conn_free(c);
		return;
	}
	log_debug("connection from pid %d uid %u", (int)pid, (unsigned)uid);
}

/* The deadline sweep runs once a second while there are connections. */
static int
conn_sweep_arm(void)
{
	struct timeval	 tv = { 1, 0 };

	if (conn_sweep_ev == NULL)
		conn_sweep_ev = event_new(sd.base, -1, EV_PERSIST, conn_sweep,
		    NULL);
	if (conn_sweep_ev == NULL)
		return -1;
	if (event_pending(conn_sweep_ev, EV_TIMEOUT, NULL))
		return 0;
	return event_add(conn_sweep_ev, &tv);
}

static uint64_t
conn_now(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Once a second while there are connections: drop those that never said
 * HELLO, or left a request half sent (holding fds), past their deadline.
 */
static void
conn_sweep(int fd, short what, void *arg)
{
	struct conn	*c, *next;
	uint64_t	 now = conn_now();

	(void)fd;
	(void)what;
	(void)arg;
	for (c = TAILQ_FIRST(&conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if ((c->state == CONN_HELLO || c->assembling) &&
		    now > c->deadline)
			(void)conn_error(c, c->asm_id, ETIMEDOUT,
			    c->assembling ? "request not completed in time" :
			    "no HELLO in time");
	}
	if (TAILQ_EMPTY(&conns))
		event_del(conn_sweep_ev);
}

unsigned int
conn_count_uid(uid_t uid)
{
	struct conn	*c;
	unsigned int	 n = 0;

	TAILQ_FOREACH(c, &conns, entry)
		if (c->uid == uid)
			n++;
	return n;
}

static struct budget *
conn_budget(uid_t uid)
{
	return &conn_budgets[uid != 0];
}

/*
 * Charges fds and bytes held by a pending request to uid: -EAGAIN, and
 * nothing charged, when that would go past the uid's budget, or take the
 * fds of all pending requests into the reserve kept for accepting and
 * everything else.
 */
int
conn_charge(uid_t uid, size_t fds, size_t bytes)
{
	struct budget	*b = conn_budget(uid);

	/* Early children that have exec'd may still hold a charge. */
	if (fds > sd.limits.pending_fds - b->fds ||
	    fds > sd.limits.pending_fds_all - conn_pending_fds ||
	    bytes > sd.limits.pending_bytes - b->bytes)
		child_settle_all();
	if (fds > sd.limits.pending_fds - b->fds ||
	    fds > sd.limits.pending_fds_all - conn_pending_fds ||
	    bytes > sd.limits.pending_bytes - b->bytes) {
		log_warnx("uid %u: pending requests hold %zu fds and %zu "
		    "bytes, refusing %zu and %zu more", (unsigned)uid,
		    b->fds, b->bytes, fds, bytes);
		return -EAGAIN;
	}
	b->fds += fds;
	b->bytes += bytes;
	conn_pending_fds += fds;
	return 0;
}

/* Gives back what conn_charge() took. */
void
conn_uncharge(uid_t uid, size_t fds, size_t bytes)
{
	struct budget	*b = conn_budget(uid);

	b->fds -= fds;
	b->bytes -= bytes;
	conn_pending_fds -= fds;
}

/*
 * Reads one request: a client waits for the reply before it sends the
 * next, so a second read would nearly always find nothing (a wasted
 * recvmsg per request); a client that sends more is woken for again at
 * once, the event being level-triggered.  Only the frames of a continued
 * spawn request are read on, up to CONN_FRAMES_PER_WAKE.
 */
static void
conn_read(int fd, short what, void *arg)
{
	struct conn	*c = arg;
	ssize_t		 n;
	size_t		 nfds;
	int		 i;

	(void)what;
	/* Early children that have exec'd: their launches go now. */
	child_settle_all();
	for (i = 0; i < CONN_FRAMES_PER_WAKE; i++) {
		if (c->state == CONN_CLOSING) {
			conn_free(c);
			return;
		}
		/*
		 * Woken while a spawn launches: the client sent more, or
		 * hung up.  Replies come in the order of the requests, so
		 * read no more until the child has exec'd (conn_spawned()).
		 * Pausing only now, not with every spawn, saves four
		 * epoll_ctl calls per spawn.
		 */
		if (c->launching) {
			conn_pause(c);
			return;
		}
		n = fdio_recv(fd, conn_rbuf, sizeof conn_rbuf, conn_rfds,
		    PROTO_MAX_FDS, &nfds, MSG_DONTWAIT);
		if (n == -EAGAIN)
			return;
		if (n == 0 || n == -ECONNRESET) {
			conn_free(c);
			return;
		}
		if (n < 0) {
			(void)conn_error(c, 0, (int)-n, n == -EMSGSIZE ?
			    "frame larger than the protocol allows" :
			    "bad control data: truncated, or not SCM_RIGHTS");
			return;
		}
		if (conn_frame(c, conn_rbuf, (size_t)n, conn_rfds, nfds) == -1)
			return;
		if (!c->assembling)
			return;
	}
}

/* Stops reading c, but a client that dies meanwhile is seen at once. */
static void
conn_pause(struct conn *c)
{
	event_del(c->rev);
	c->paused = 1;
	if (c->hev == NULL)
		c->hev = event_new(sd.base, c->fd, EV_CLOSED, conn_hangup, c);
	/*
	 * Unwatched, a client gone while its child waits before exec would
	 * leave it running: close now.
	 */
	if (c->hev == NULL || event_add(c->hev, NULL) == -1) {
		log_warnx("pid %d: cannot watch for hang-up, closing",
		    (int)c->pid);
		conn_closing(c);
	}
}

/*
 * The client hung up while its spawn launches: what reading the EOF
 * would do, without the frames before it (nobody is left to answer).
 */
static void
conn_hangup(int fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	conn_free(arg);
}

/*
 * Checks one datagram and hands it on.  Returns -1 if the connection was
 * freed.  The fds are closed here unless a handler took them.
 */
static int
conn_frame(struct conn *c, const uint8_t *buf, size_t len, int *fds,
    size_t nfds)
{
	struct proto_hdr	 hdr;
	int			 r;

	if ((r = proto_check_frame(buf, len, nfds, &hdr)) < 0) {
		fdio_close_all(fds, nfds);
		return conn_error(c, 0, -r, r == -EPROTONOSUPPORT ?
		    "unsupported protocol version" : "malformed frame");
	}
	if (nfds > 0 && hdr.type != PROTO_SPAWN) {
		fdio_close_all(fds, nfds);
		return conn_error(c, hdr.id, EPROTO, "fds on a frame "
		    "that takes none");
	}
	if (c->state == CONN_HELLO && hdr.type != PROTO_HELLO) {
		fdio_close_all(fds, nfds);
		return conn_error(c, hdr.id, EPROTO, "expected HELLO");
	}
	if (c->assembling && (hdr.type != PROTO_SPAWN ||
	    hdr.id != c->asm_id)) {
		fdio_close_all(fds, nfds);
		return conn_error(c, hdr.id, EPROTO, "frame inside a "
		    "continued spawn request");
	}
	return conn_dispatch(c, &hdr, buf + PROTO_HDR_SIZE, fds, nfds);
}

/* One handler per message type. */
static int
conn_dispatch(struct conn *c, const struct proto_hdr *hdr,
    const uint8_t *payload, int *fds, size_t nfds)
{
	switch (hdr->type) {
	case PROTO_HELLO:
		if (c->state != CONN_HELLO)
			return conn_error(c, hdr->id, EPROTO, "second HELLO");
		return conn_hello(c, hdr, payload);
	case PROTO_SPAWN:
		return conn_spawn_frame(c, hdr, payload, fds, nfds);
	case PROTO_KILL:
		return conn_kill(c, hdr, payload);
	case PROTO_PING:
		return conn_ping(c, hdr);
	case PROTO_LIST:
		if (hdr->length != 0)
			return conn_error(c, hdr->id, EPROTO, "malformed LIST");
		/*
		 * A LIST's replies may take the queue past --max-queue: they
		 * are bounded by the children, and a client must be able to
		 * list them all.  The allowance shrinks as the queue is sent,
		 * and a LIST gets one only when the queue is within the limit
		 * and no earlier allowance is left: so the queue never holds
		 * more than --max-queue plus one LIST's replies.
		 */
		c->listing = c->outq_bytes <= sd.limits.outq_bytes &&
		    c->list_grace == 0;
		child_list(c, hdr->id, c->uid);
		conn_send(c, PROTO_OK, hdr->id, NULL, 0, -1);
		c->listing = 0;
		return 0;
	case PROTO_WATCH:
		return conn_watch(c, hdr, payload);
	}
	return conn_error(c, hdr->id, EPROTO, "unknown message type");
}

static int
conn_hello(struct conn *c, const struct proto_hdr *hdr, const uint8_t *p)
{
	struct proto_hello	 m;
	struct proto_hello_ok	 ok;
	uint8_t			 buf[16];
	size_t			 n;

	if (proto_decode_hello(p, hdr->length, &m) < 0)
		return conn_error(c, hdr->id, EPROTO, "malformed HELLO");
	if (m.min_version > PROTO_VERSION || m.max_version < PROTO_VERSION)
		return conn_error(c, hdr->id, EPROTONOSUPPORT,
		    "no common protocol version");
	ok.version = PROTO_VERSION;
	ok.pid = (uint32_t)sd.pid;
	ok.max_request = (uint32_t)sd.limits.request_bytes;
	ok.max_fds = sd.limits.request_fds;
	n = proto_encode_hello_ok(buf, &ok);
	c->state = CONN_READY;
	conn_send(c, PROTO_HELLO_OK, hdr->id, buf, n, -1);
	return 0;
}

/*
 * A spawn frame.  A request in one frame is decoded in place; a longer one
 * is gathered first, holding the first frame's fds until the last frame.
 */
static int
conn_spawn_frame(struct conn *c, const struct proto_hdr *hdr,
    const uint8_t *p, int *fds, size_t nfds)
{
	uint8_t	*body;
	int	 more = (hdr->flags & PROTO_F_MORE) != 0, r = 0;

	/* First: past the first frame, fds of any number break the rules. */
	if (c->assembling && nfds > 0) {
		fdio_close_all(fds, nfds);
		return conn_error(c, hdr->id, EPROTO,
		    "fds on a continuation frame");
	}
	if (nfds > sd.limits.request_fds) {
		fdio_close_all(fds, nfds);
		if (more)
			return conn_error(c, hdr->id, E2BIG,
			    "too many fds with a request");
		conn_failed(c, hdr->id, E2BIG, PROTO_STEP_REQUEST,
		    PROTO_NO_INDEX);
		return 0;
	}
	if (!c->assembling && !more && hdr->length > sd.limits.request_bytes) {
		fdio_close_all(fds, nfds);
		conn_failed(c, hdr->id, EMSGSIZE, PROTO_STEP_REQUEST,
		    PROTO_NO_INDEX);
		return 0;
	}
	if (!c->assembling && !more) {
		/* The child reads the request until it execs: a copy. */
		r = conn_charge(c->uid, 0, hdr->length + 1);
		if (r < 0 || (body = malloc(hdr->length + 1)) == NULL) {
			if (r == 0)
				conn_uncharge(c->uid, 0, hdr->length + 1);
			fdio_close_all(fds, nfds);
			conn_failed(c, hdr->id, r < 0 ? -r : ENOMEM,
			    PROTO_STEP_REQUEST, PROTO_NO_INDEX);
			return 0;
		}
		memcpy(body, p, hdr->length);
		conn_spawn(c, hdr->id, body, hdr->length, hdr->length + 1,
		    fds, nfds);
		fdio_close_all(fds, nfds);
		return 0;
	}
	if (!c->assembling && (r = conn_charge(c->uid, nfds, 0)) < 0) {
		fdio_close_all(fds, nfds);
		return conn_error(c, hdr->id, -r, "fds of pending requests "
		    "over this uid's budget");
	}
	if (!c->assembling) {
		c->assembling = 1;
		c->asm_id = hdr->id;
		c->deadline = conn_now() + sd.limits.request_ms;
		c->asm_nfds = nfds;	/* charged: released with them */
		if (nfds > 0 &&
		    (c->asm_fds = malloc(nfds * sizeof *fds)) == NULL) {
			fdio_close_all(fds, nfds);
			c->asm_nfds = 0;
			conn_uncharge(c->uid, nfds, 0);
			return conn_error(c, hdr->id, ENOMEM, "out of memory");
		}
		if (nfds > 0)
			memcpy(c->asm_fds, fds, nfds * sizeof *fds);
	}
	if (conn_append(c, p, hdr->length) == -1)
		return conn_error(c, hdr->id, errno, errno == EMSGSIZE ?
		    "spawn request too large" : errno == EAGAIN ?
		    "pending requests over this uid's byte budget" :
		    "out of memory");
	if (!more) {
		/* The buffer's charge goes with it. */
		body = c->asm_buf;
		c->asm_buf = NULL;
		conn_spawn(c, hdr->id, body, c->asm_len, c->asm_cap,
		    c->asm_fds, c->asm_nfds);
		c->asm_cap = 0;
		conn_asm_free(c);
	}
	return 0;
}

static int
conn_append(struct conn *c, const uint8_t *p, size_t len)
{
	size_t	 cap = c->asm_cap ? c->asm_cap : PROTO_MAX_FRAME;
	uint8_t	*nbuf;
	int	 r;

	if (len > sd.limits.request_bytes - c->asm_len) {
		errno = EMSGSIZE;
		return -1;
	}
	while (cap < c->asm_len + len)
		cap *= 2;
	if (cap != c->asm_cap) {
		if ((r = conn_charge(c->uid, 0, cap - c->asm_cap)) < 0) {
			errno = -r;
			return -1;
		}
		if ((nbuf = realloc(c->asm_buf, cap)) == NULL) {
			conn_uncharge(c->uid, 0, cap - c->asm_cap);
			errno = ENOMEM;
			return -1;
		}
		c->asm_buf = nbuf;
		c->asm_cap = cap;
	}
	memcpy(c->asm_buf + c->asm_len, p, len);
	c->asm_len += len;
	return 0;
}

/* Frees a partly gathered request, closing the fds it held. */
static void
conn_asm_free(struct conn *c)
{
	conn_uncharge(c->uid, c->asm_nfds, c->asm_cap);
	fdio_close_all(c->asm_fds, c->asm_nfds);
	free(c->asm_fds);
	free(c->asm_buf);
	c->asm_fds = NULL;
	c->asm_nfds = 0;
	c->asm_buf = NULL;
	c->asm_len = c->asm_cap = 0;
	c->assembling = 0;
}

/*
 * Decodes and runs one spawn request, whose body (malloc'd, charged
 * bytes to c's uid) it takes.  The reply, STARTED or FAILED, is sent here
 * if the request is refused, else by conn_spawned().  The request's fds
 * stay the caller's.
 */
static void
conn_spawn(struct conn *c, uint32_t id, uint8_t *body, size_t len,
    size_t charged, const int *fds, size_t nfds)
{
	struct proto_spawn	 req;
	struct child_spec	 spec;
	struct proto_failed	 fail;
	int			 r, leader;

	if ((r = proto_decode_spawn(body, len, nfds, &req)) < 0) {
		free(body);
		conn_uncharge(c->uid, 0, charged);
		conn_failed(c, id, -r, PROTO_STEP_REQUEST, PROTO_NO_INDEX);
		return;
	}
	leader = (req.flags & PROTO_SPAWN_SETSID) ||
	    ((req.has & PROTO_HAS_PGROUP) && req.pgroup == 0);
	r = 0;
	if ((req.flags & PROTO_SPAWN_KILL_GROUP) && !leader)
		r = EINVAL;
	else if (c->nchildren >= sd.limits.children_per_conn ||
	    sd.nchildren >= sd.limits.children)
		r = EAGAIN;
	if (r != 0) {
		proto_spawn_free(&req);
		free(body);
		conn_uncharge(c->uid, 0, charged);
		conn_failed(c, id, r, PROTO_STEP_REQUEST, PROTO_NO_INDEX);
		return;
	}
	spec.req = &req;
	spec.body = body;
	spec.charged = charged;
	spec.uid = c->uid;
	spec.client_pid = c->pid;
	spec.fds = fds;
	spec.nfds = nfds;
	fail.index = PROTO_NO_INDEX;
	c->nchildren++;
	c->launching = 1;
	if (child_spawn(&spec, c, id, &fail) == -1) {
		conn_spawned(c, id, &req, NULL, &fail);
		proto_spawn_free(&req);
		free(body);
		conn_uncharge(c->uid, 0, charged);
	}
}

/*
 * The outcome of c's spawn: ch has exec'd, or it failed as fail says.
 * req is still the request's.  c may read its next frame now.
 */
void
conn_spawned(struct conn *c, uint32_t id, const struct proto_spawn *req,
    const struct child *ch, const struct proto_failed *fail)
{
	struct proto_started	 st;
	uint8_t			 buf[8];
	int			 fds[2];
	size_t			 nfds = 0;

	c->launching = 0;
	if (ch == NULL) {
		c->nchildren--;
		conn_log_spawn(c, req, -1, fail);
		conn_failed(c, id, (int)fail->error, fail->step, fail->index);
	} else {
		conn_log_spawn(c, req, child_pid(ch), NULL);
		st.pid = (uint32_t)child_pid(ch);
		st.flags = 0;
		if (!(req->flags & PROTO_SPAWN_NO_PIDFD))
			fds[nfds++] = child_pidfd(ch);
		if ((fds[nfds] = child_exec_fd(ch)) != -1) {
			st.flags = PROTO_STARTED_EXEC_FD;
			nfds++;
		}
		conn_sendv(c, PROTO_STARTED, id, buf,
		    proto_encode_started(buf, &st), fds, nfds);
	}
	if (c->paused) {
		c->paused = 0;
		if (c->hev != NULL)
			event_del(c->hev);
		if (c->state != CONN_CLOSING && event_add(c->rev, NULL) == -1) {
			log_warnx("pid %d: cannot read on, closing",
			    (int)c->pid);
			conn_closing(c);
		}
	}
}

/* With --debug: one journal entry per spawn, with structured fields. */
static void
conn_log_spawn(const struct conn *c, const struct proto_spawn *req,
    pid_t pid, const struct proto_failed *fail)
{
	char		 f[5][160], q[128];
	const char	*fields[6] = { f[0], f[1], f[2], f[3], NULL, NULL };
	const char	*exe = req->path != NULL ? req->path : req->argv[0];

	if (!log_debugging())
		return;
	(void)log_quote(exe, q, sizeof q);
	(void)snprintf(f[0], sizeof f[0], "CLIENT_PID=%d", (int)c->pid);
	(void)snprintf(f[1], sizeof f[1], "CLIENT_UID=%u", (unsigned)c->uid);
	(void)snprintf(f[2], sizeof f[2], "EXECUTABLE=%s", q);
	if (fail == NULL) {
		(void)snprintf(f[3], sizeof f[3], "CHILD_PID=%d", (int)pid);
		log_fields(LOG_DEBUG, fields, "pid %d: started '%s' as %d",
		    (int)c->pid, q, (int)pid);
		return;
	}
	(void)snprintf(f[3], sizeof f[3], "ERRNO=%u", fail->error);
	(void)snprintf(f[4], sizeof f[4], "STEP=%s",
	    proto_step_name(fail->step));
	fields[4] = f[4];
	log_fields(LOG_DEBUG, fields, "pid %d: '%s' failed at %s: %s",
	    (int)c->pid, q, proto_step_name(fail->step),
	    strerror((int)fail->error));
}

static void
conn_failed(struct conn *c, uint32_t id, int error, int step, uint32_t index)
{
	struct proto_failed	 f;
	uint8_t			 buf[12];

	f.error = (uint32_t)error;
	f.step = (uint16_t)step;
	f.index = index;
	conn_send(c, PROTO_FAILED, id, buf, proto_encode_failed(buf, &f), -1);
}

/* Signals a child of this connection, named by its spawn request id. */
static int
conn_kill(struct conn *c, const struct proto_hdr *hdr, const uint8_t *p)
{
	struct proto_kill	 m;
	struct child		*ch;
	int			 r;

	if (proto_decode_kill(p, hdr->length, &m) < 0)
		return conn_error(c, hdr->id, EPROTO, "malformed KILL");
	if (m.signal < 1 || m.signal > PROTO_MAX_SIG || (m.flags &
	    ~(uint32_t)(PROTO_KILL_GROUP | PROTO_KILL_BY_PID)) != 0) {
		conn_failed(c, hdr->id, EINVAL, PROTO_STEP_REQUEST,
		    PROTO_NO_INDEX);
		return 0;
	}
	if (m.flags & PROTO_KILL_BY_PID)
		ch = conn_by_pid(c, hdr->id, m.child);
	else if ((ch = child_find(c, m.child)) == NULL)
		conn_failed(c, hdr->id, ESRCH, PROTO_STEP_REQUEST,
		    PROTO_NO_INDEX);
	if (ch == NULL)
		return 0;
	r = child_signal(ch, (int)m.signal, (m.flags & PROTO_KILL_GROUP) != 0);
	if (r < 0)
		conn_failed(c, hdr->id, -r, PROTO_STEP_REQUEST,
		    PROTO_NO_INDEX);
	else
		conn_send(c, PROTO_OK, hdr->id, NULL, 0, -1);
	return 0;
}

/*
 * A child named by pid, for spawnctl kill and wait: only the daemon's own
 * children, and only those of the caller's uid.  Answers FAILED if none.
 */
static struct child *
conn_by_pid(struct conn *c, uint32_t id, uint32_t pid)
{
	struct child	*ch;
	int		 error = 0;

	if (pid == 0 || pid > INT32_MAX ||
	    (ch = child_find_pid((pid_t)pid)) == NULL)
		error = ESRCH;
	else if (!child_visible(ch, c->uid))
		error = EPERM;
	if (error != 0) {
		conn_failed(c, id, error, PROTO_STEP_REQUEST, PROTO_NO_INDEX);
		return NULL;
	}
	return ch;
}

/* Asks for the exit record of a child named by pid. */
static int
conn_watch(struct conn *c, const struct proto_hdr *hdr, const uint8_t *p)
{
	struct child	*ch;
	uint32_t	 pid;
	int		 r;

	if (proto_decode_watch(p, hdr->length, &pid) < 0)
		return conn_error(c, hdr->id, EPROTO, "malformed WATCH");
	if ((ch = conn_by_pid(c, hdr->id, pid)) == NULL)
		return 0;
	if ((r = child_watch(ch, c, hdr->id)) < 0)
		conn_failed(c, hdr->id, -r, PROTO_STEP_REQUEST,
		    PROTO_NO_INDEX);
	else
		conn_send(c, PROTO_OK, hdr->id, NULL, 0, -1);
	return 0;
}

static int
conn_ping(struct conn *c, const struct proto_hdr *hdr)
{
	struct proto_pong	 m;
	uint8_t			 buf[24];

	if (hdr->length != 0)
		return conn_error(c, hdr->id, EPROTO, "malformed PING");
	m.pid = (uint32_t)sd.pid;
	m.connections = sd.nconns;
	m.children = sd.nchildren;
	m.spawns = sd.spawns;
	conn_send(c, PROTO_PONG, hdr->id, buf, proto_encode_pong(buf, &m), -1);
	return 0;
}

/*
 * The client broke the protocol: tell it why if the socket has room and
 * nothing else is queued, then close.  Always returns -1.
 */
static int
conn_error(struct conn *c, uint32_t id, int error, const char *why)
{
	struct proto_error	 m;
	struct proto_buf	 b;

	log_info("pid %d uid %u: %s, closing", (int)c->pid, (unsigned)c->uid,
	    why);
	if (STAILQ_EMPTY(&c->outq)) {
		m.error = (uint32_t)error;
		m.message = why;
		proto_buf_init(&b);
		proto_encode_error(&b, &m);
		if (b.err == 0)
			conn_send(c, PROTO_ERROR, id, b.data, b.len, -1);
		proto_buf_free(&b);
	}
	conn_free(c);
	return -1;
}

/*
 * Sends a reply now if the socket has room, else queues it (with a dup of
 * fd).  Never frees c: a broken or overfull connection is only marked, and
 * freed from its own read callback.
 */
void
conn_send(struct conn *c, uint16_t type, uint32_t id, const uint8_t *payload,
    size_t len, int fd)
{
	conn_sendv(c, type, id, payload, len, &fd, fd != -1);
}

/* conn_send() with nfds (at most 2) fds to attach. */
void
conn_sendv(struct conn *c, uint16_t type, uint32_t id,
    const uint8_t *payload, size_t len, const int *fds, size_t nfds)
{
	struct proto_hdr	 hdr = { type, 0, (uint32_t)len, (uint16_t)nfds,
	    id };
	struct iovec		 iov[2];
	struct out		*o;
	uint8_t			 h[PROTO_HDR_SIZE];
	ssize_t			 n;

	if (c->state == CONN_CLOSING)
		return;
	proto_encode_hdr(h, &hdr);
	if (STAILQ_EMPTY(&c->outq)) {
		iov[0].iov_base = h;
		iov[0].iov_len = sizeof h;
		iov[1].iov_base = (void *)(uintptr_t)payload;
		iov[1].iov_len = len;
		n = fdio_send(c->fd, iov, 2, fds, nfds, MSG_DONTWAIT);
		if (n >= 0)
			return;
		if (n != -EAGAIN) {
			conn_closing(c);
			return;
		}
	}
	if ((!c->listing && c->outq_bytes + sizeof h + len >
	    sd.limits.outq_bytes + c->list_grace) ||
	    (o = malloc(sizeof *o + sizeof h + len)) == NULL) {
		log_warnx("pid %d: reply queue full, closing", (int)c->pid);
		conn_closing(c);
		return;
	}
	for (o->nfds = 0; o->nfds < nfds; o->nfds++) {
		if ((o->fds[o->nfds] = fcntl(fds[o->nfds], F_DUPFD_CLOEXEC,
		    0)) != -1)
			continue;
		/* The frame says it carries fds: it cannot go without. */
		log_warn("pid %d: cannot queue a reply, closing", (int)c->pid);
		fdio_close_all(o->fds, o->nfds);
		free(o);
		conn_closing(c);
		return;
	}
	o->len = sizeof h + len;
	memcpy(o->data, h, sizeof h);
	if (len > 0)
		memcpy(o->data + sizeof h, payload, len);
	STAILQ_INSERT_TAIL(&c->outq, o, entry);
	c->outq_bytes += o->len;
	if (c->listing)
		c->list_grace += o->len;
	/* Else the queue would never be sent: a stalled connection. */
	if (event_add(c->wev, NULL) == -1) {
		log_warnx("pid %d: cannot watch for room to reply, closing",
		    (int)c->pid);
		conn_closing(c);
	}
}

/* The socket has room: send what is queued, in order. */
static void
conn_write(int fd, short what, void *arg)
{
	struct conn	*c = arg;
	struct out	*o;
	struct iovec	 iov;
	ssize_t		 n;

	(void)what;
	while ((o = STAILQ_FIRST(&c->outq)) != NULL) {
		iov.iov_base = o->data;
		iov.iov_len = o->len;
		n = fdio_send(fd, &iov, 1, o->fds, o->nfds, MSG_DONTWAIT);
		if (n == -EAGAIN)
			return;
		if (n < 0) {
			conn_free(c);
			return;
		}
		STAILQ_REMOVE_HEAD(&c->outq, entry);
		c->outq_bytes -= o->len;
		c->list_grace -= o->len < c->list_grace ? o->len :
		    c->list_grace;
		fdio_close_all(o->fds, o->nfds);
		free(o);
	}
	c->list_grace = 0;
	event_del(c->wev);
}

/* Marks c to be freed from its read callback, which runs next. */
static void
conn_closing(struct conn *c)
{
	c->state = CONN_CLOSING;
	event_active(c->rev, EV_READ, 0);
}

/* A child of c has been reaped. */
void
conn_child_gone(struct conn *c, struct child *ch)
{
	(void)ch;
	c->nchildren--;
}

static void
conn_free(struct conn *c)
{
	struct out	*o;

	log_debug("connection from pid %d closed", (int)c->pid);
	child_conn_closed(c);
	while ((o = STAILQ_FIRST(&c->outq)) != NULL) {
		STAILQ_REMOVE_HEAD(&c->outq, entry);
		fdio_close_all(o->fds, o->nfds);
		free(o);
	}
	conn_asm_free(c);
	event_free(c->rev);
	event_free(c->wev);
	if (c->hev != NULL)
		event_free(c->hev);
	conn_drain(c->fd);
	(void)close(c->fd);
	TAILQ_REMOVE(&conns, c, entry);
	sd.nconns--;
	free(c);
	listener_resume();
	notify_changed();
}

/*
 * Reads and drops what the peer sent and we will not handle: closing a
 * Unix socket with unread data makes the peer's next read fail with
 * ECONNRESET before it sees our last reply (the ERROR saying why).
 */
void
conn_drain(int fd)
{
	ssize_t	 n;
	size_t	 nfds;
	int	 i;

	for (i = 0; i < CONN_FRAMES_PER_WAKE; i++) {
		n = fdio_recv(fd, conn_rbuf, sizeof conn_rbuf, conn_rfds,
		    PROTO_MAX_FDS, &nfds, MSG_DONTWAIT);
		if (n == 0 || n == -EAGAIN)
			break;
		if (n > 0)
			fdio_close_all(conn_rfds, nfds);
	}
}

/* Shutdown: close every connection (their tied children are stopped). */
void
conn_close_all(void)
{
	struct conn	*c;

	while ((c = TAILQ_FIRST(&conns)) != NULL)
		conn_free(c);
	if (conn_sweep_ev != NULL)
		event_free(conn_sweep_ev);
	conn_sweep_ev = NULL;
}
