/*
 * libFuzzer target for daemon/conn.c, the connection state machine: the
 * real conn.c, proto/ and libevent, with conn-harness.c's fake children in
 * place of processes.  Each input is a script (conn-script.h) played by up
 * to CS_SLOTS fake clients over real AF_UNIX SOCK_SEQPACKET socketpairs:
 * datagrams with fds as SCM_RIGHTS, half-closes, closes, children that
 * exit, turns of the event loop, deadline sweeps.  The daemon's end of
 * each pair goes to conn_new() as the listener hands over an accepted
 * socket.
 *
 * Every reply is read with fdio_recv() and must check as a frame and
 * decode with proto's decoders, in an order the protocol allows (nothing
 * before HELLO_OK but ERROR, nothing after ERROR).  After every script the
 * clients close, the loop runs until every connection is gone, and the
 * process must be as before it: no connection, no child, no event, the
 * same open fds.  Leaks are LeakSanitizer's.  A broken invariant aborts.
 * FUZZ_CONN_VERBOSE=1 in the environment logs the daemon's debug lines
 * and every reply.
 */

#include <sys/socket.h>
#include <sys/uio.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "fdio.h"
#include "spawnd-int.h"
#include "conn-harness.h"
#include "conn-script.h"

#define FZ_MAX_LOOPS	10000	/* turns for every connection to go */

/* One fake client. */
struct slot {
	int		 fd;		/* client end, or -1 */
	uid_t		 uid;
	int		 hello;		/* HELLO_OK seen */
	int		 error;		/* ERROR seen: nothing may follow */
};

/* The script being played. */
struct script {
	const uint8_t	*p;
	size_t		 left;
	int		 setup;		/* CS_* */
	int		 waited;	/* SWEEP waited once */
};

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	fz_fail(const char *, ...)
		    __attribute__((format(printf, 1, 2), noreturn));
static void	fz_init(void);
static int	fz_count_fds(void);
static void	fz_list_fds(void);
static void	fz_connect(int, int, int);
static int	fz_get(struct script *, void *, size_t);
static void	fz_op(struct script *);
static void	fz_frame(struct script *, struct slot *, int);
static void	fz_raw(struct script *, struct slot *, int);
static size_t	fz_payload(struct script *, uint8_t *, size_t, int);
static int	fz_send(struct slot *, const uint8_t *, size_t, int, int);
static void	fz_open_fds(int *, int, int);
static void	fz_pings(struct slot *, unsigned int);
static void	fz_hello(struct slot *);
static void	fz_read(struct slot *, unsigned int);
static void	fz_reply(struct slot *, const uint8_t *, size_t, size_t);
static void	fz_reply_fixed(struct slot *, const struct proto_hdr *,
		    const uint8_t *, size_t);
static void	fz_reply_more(struct slot *, const struct proto_hdr *,
		    const uint8_t *);
static void	fz_issued(uint32_t, size_t, int);
static uint64_t	fz_now(void);
static void	fz_sweep(struct script *, int);
static void	fz_teardown(void);

static struct slot	 slots[CS_SLOTS];
static int		 inited;
static int		 fd_baseline;	/* open fds when the script began */
static int		 verbose;	/* FUZZ_CONN_VERBOSE=1: the replies */
static uint8_t		 fz_rbuf[PROTO_MAX_FRAME];
/* A datagram of up to 0xffff payload bytes: the daemon must refuse it. */
static uint8_t		 fz_wbuf[PROTO_HDR_SIZE + 0xffff];

static void
fz_fail(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	fprintf(stderr, "fuzz-conn: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	abort();
}

/* Once: the daemon's state as main.c makes it, minus listener and child. */
static void
fz_init(void)
{
	int	 i;

	verbose = getenv("FUZZ_CONN_VERBOSE") != NULL;
	(void)signal(SIGPIPE, SIG_IGN);
	sd.uid = CS_UID_BASE;
	if ((sd.base = event_base_new()) == NULL)
		fz_fail("event_base_new failed");
	for (i = 0; i < CS_SLOTS; i++)
		slots[i].fd = -1;
	inited = 1;
}

/* Open fds of the process, not counting the one that reads the list. */
static int
fz_count_fds(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		fz_fail("/proc/self/fd: %s", strerror(errno));
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	(void)closedir(d);
	return n - 1;
}

/* For the report of an fd leak: what is open. */
static void
fz_list_fds(void)
{
	char	 path[64], target[256];
	ssize_t	 n;
	int	 fd;

	for (fd = 0; fd < 1024; fd++) {
		if (fcntl(fd, F_GETFD) == -1)
			continue;
		(void)snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		if ((n = readlink(path, target, sizeof target - 1)) == -1)
			n = 0;
		target[n] = '\0';
		fprintf(stderr, "fuzz-conn: fd %d: %s\n", fd, target);
	}
}

/*
 * A new client in slot i.  Its peer goes to conn_new() as the listener
 * hands over an accepted socket: non-blocking, close-on-exec.
 */
static void
fz_connect(int i, int which_uid, int smallbuf)
{
	struct slot	*s = &slots[i];
	int		 sv[2], size = 1;

	if (s->fd != -1)
		return;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0, sv) == -1)
		fz_fail("socketpair: %s", strerror(errno));
	/* The kernel raises it to its minimum: a few datagrams. */
	if (smallbuf && setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &size,
	    sizeof size) == -1)
		fz_fail("SO_SNDBUF: %s", strerror(errno));
	memset(s, 0, sizeof *s);
	s->fd = sv[0];
	/* conn.c takes the peer's uid as given: any will do. */
	if (which_uid == CS_UID_OTHER)
		s->uid = CS_UID_BASE + 1;
	else if (which_uid == CS_UID_ROOT)
		s->uid = 0;
	else
		s->uid = CS_UID_BASE;
	conn_new(sv[1], s->uid, getpid());
}

/* Takes n bytes of the script; 0, or -1 if it ends first. */
static int
fz_get(struct script *sc, void *buf, size_t n)
{
	if (sc->left < n)
		return -1;
	memcpy(buf, sc->p, n);
	sc->p += n;
	sc->left -= n;
	return 0;
}

/* Plays one op.  Its bytes are taken whatever the state of its slot. */
static void
fz_op(struct script *sc)
{
	struct slot	*s;
	uint8_t		 op, a[2];
	int		 kind, i, mod, n;

	if (fz_get(sc, &op, 1) == -1)
		return;
	kind = (op & 0x0f) % CS_OP_COUNT;
	i = ((op >> 4) & 3) % CS_SLOTS;
	mod = op >> 6;
	s = &slots[i];
	switch (kind) {
	case CS_OP_FRAME:
		fz_frame(sc, s, mod);
		break;
	case CS_OP_RAW:
		fz_raw(sc, s, mod);
		break;
	case CS_OP_SHUT:
		if (s->fd != -1)
			(void)shutdown(s->fd, SHUT_WR);
		break;
	case CS_OP_EXIT:
		if (fz_get(sc, a, 2) == 0)
			(void)harness_exit(a[0], (a[1] & 0x80) ? CLD_KILLED :
			    CLD_EXITED, (a[1] & 0x80) ? (a[1] & 63) + 1 :
			    a[1] & 127);
		break;
	case CS_OP_LOOP:
		for (n = 0; n <= mod; n++)
			(void)event_base_loop(sd.base, EVLOOP_NONBLOCK);
		break;
	case CS_OP_READ:
		if (fz_get(sc, a, 1) == 0)
			fz_read(s, a[0]);
		break;
	case CS_OP_CONNECT:
		if (!sd.quitting)
			fz_connect(i, mod, sc->setup & CS_SMALLBUF);
		break;
	case CS_OP_CLOSE:
		if (s->fd != -1)
			(void)close(s->fd);
		s->fd = -1;
		break;
	case CS_OP_FAIL:
		if (fz_get(sc, a, 2) == 0)
			harness_fail_next(PROTO_STEP_REQUEST + a[0] %
			    PROTO_STEP_MAX, 1 + a[1] % 133);
		break;
	case CS_OP_SWEEP:
		fz_sweep(sc, mod);
		break;
	case CS_OP_PINGS:
		if (fz_get(sc, a, 1) == 0)
			fz_pings(s, a[0]);
		break;
	case CS_OP_HELLO:
		fz_hello(s);
		break;
	case CS_OP_QUIT:
		daemon_quit();
		break;
	}
}

/* A datagram with a header made to match what is sent (or nearly). */
static void
fz_frame(struct script *sc, struct slot *s, int mod)
{
	struct proto_hdr	 h;
	uint8_t			 a[6];
	int			 nfds;

	if (fz_get(sc, a, sizeof a) == -1)
		return;
	nfds = a[3] & 0x0f;
	if (nfds > CS_MAX_FDS)
		nfds = CS_MAX_FDS;
	h.type = a[0];
	h.flags = a[1];
	h.id = a[2];
	h.nfds = (uint16_t)(nfds + ((a[3] & CS_FDS_LIE) != 0));
	h.length = (uint32_t)fz_payload(sc, fz_wbuf + PROTO_HDR_SIZE,
	    proto_get16(a + 4), mod);
	proto_encode_hdr(fz_wbuf, &h);
	(void)fz_send(s, fz_wbuf, PROTO_HDR_SIZE + h.length, nfds,
	    (a[3] >> 4) & 3);
}

/* A datagram exactly as the script has it. */
static void
fz_raw(struct script *sc, struct slot *s, int mod)
{
	uint8_t		 a[3];
	size_t		 len;
	int		 nfds;

	if (fz_get(sc, a, sizeof a) == -1)
		return;
	nfds = a[0] & 0x0f;
	if (nfds > CS_MAX_FDS)
		nfds = CS_MAX_FDS;
	len = fz_payload(sc, fz_wbuf, proto_get16(a + 1), mod);
	(void)fz_send(s, fz_wbuf, len, nfds, (a[0] >> 4) & 3);
}

/* The next len bytes of the script (fewer if it ends), or CS_PAD zeros. */
static size_t
fz_payload(struct script *sc, uint8_t *buf, size_t len, int mod)
{
	if (mod & CS_PAD) {
		memset(buf, 0, len);
		return len;
	}
	if (len > sc->left)
		len = sc->left;
	memcpy(buf, sc->p, len);
	sc->p += len;
	sc->left -= len;
	return len;
}

/*
 * Sends one datagram with nfds fresh fds, which are closed here after.
 * Returns 0, or -1 if it could not go.
 */
static int
fz_send(struct slot *s, const uint8_t *buf, size_t len, int nfds, int kind)
{
	struct iovec	 iov;
	int		 fds[CS_MAX_FDS];
	ssize_t		 n;

	if (s->fd == -1)
		return -1;
	fz_open_fds(fds, nfds, kind);
	iov.iov_base = (void *)(uintptr_t)buf;
	iov.iov_len = len;
	n = fdio_send(s->fd, &iov, 1, fds, (size_t)nfds, MSG_DONTWAIT);
	fdio_close_all(fds, (size_t)nfds);
	/* Full (the daemon is not reading), or closed by either side. */
	if (n < 0 && n != -EAGAIN && n != -EPIPE && n != -ECONNRESET &&
	    n != -ENOTCONN)
		fz_fail("send: %s", strerror((int)-n));
	return n < 0 ? -1 : 0;
}

/* Pipe read ends, pipe write ends and /dev/null in turn, from kind. */
static void
fz_open_fds(int *fds, int nfds, int kind)
{
	int	 i, p[2];

	for (i = 0; i < nfds; i++) {
		if ((kind + i) % 3 == 2) {
			if ((fds[i] = open("/dev/null", O_RDWR | O_CLOEXEC)) ==
			    -1)
				fz_fail("/dev/null: %s", strerror(errno));
			continue;
		}
		if (pipe2(p, O_CLOEXEC) == -1)
			fz_fail("pipe2: %s", strerror(errno));
		fds[i] = p[(kind + i) % 3];
		(void)close(p[1 - (kind + i) % 3]);
	}
}

static void
fz_pings(struct slot *s, unsigned int n)
{
	struct proto_hdr	 h = { PROTO_PING, 0, 0, 0, 0 };
	uint8_t			 buf[PROTO_HDR_SIZE];

	for (h.id = 0; h.id < n; h.id++) {
		proto_encode_hdr(buf, &h);
		if (fz_send(s, buf, sizeof buf, 0, 0) == -1)
			break;
	}
}

static void
fz_hello(struct slot *s)
{
	struct proto_hdr	 h = { PROTO_HELLO, 0, 8, 0, 0 };
	struct proto_hello	 m = { PROTO_VERSION, PROTO_VERSION };
	uint8_t			 buf[PROTO_HDR_SIZE + 8];

	proto_encode_hdr(buf, &h);
	(void)proto_encode_hello(buf + PROTO_HDR_SIZE, &m);
	(void)fz_send(s, buf, sizeof buf, 0, 0);
}

/*
 * Reads up to max replies (0: all there are).  ECONNRESET comes once when
 * the daemon closed with our frames unread; what it sent is still there.
 */
static void
fz_read(struct slot *s, unsigned int max)
{
	int		 fds[PROTO_MAX_FDS];
	size_t		 nfds;
	ssize_t		 n;
	unsigned int	 i;

	if (s->fd == -1)
		return;
	for (i = 0; max == 0 || i < max; i++) {
		n = fdio_recv(s->fd, fz_rbuf, sizeof fz_rbuf, fds,
		    PROTO_MAX_FDS, &nfds, MSG_DONTWAIT);
		if (n == -EAGAIN && s->error)
			fz_fail("the connection is open after ERROR");
		if (n == -EAGAIN || n == 0)
			return;
		if (n == -ECONNRESET)
			continue;
		if (n < 0)
			fz_fail("reading a reply: %s", strerror((int)-n));
		fz_reply(s, fz_rbuf, (size_t)n, nfds);
		fdio_close_all(fds, nfds);
	}
}

/* One reply must be a frame, decode, and come in an allowed order. */
static void
fz_reply(struct slot *s, const uint8_t *buf, size_t len, size_t nfds)
{
	struct proto_hdr	 h;
	const uint8_t		*p = buf + PROTO_HDR_SIZE;

	if (proto_check_frame(buf, len, nfds, &h) != 0)
		fz_fail("a reply of %zu bytes, %zu fds is no frame", len, nfds);
	if (verbose)
		fprintf(stderr, "fuzz-conn: client %d: %s id %u, %u bytes, "
		    "%zu fds\n", (int)(s - slots), proto_type_name(h.type),
		    h.id, h.length, nfds);
	if (h.flags != 0 || h.type < PROTO_HELLO_OK)
		fz_fail("reply type %#x flags %#x", h.type, h.flags);
	if (s->error)
		fz_fail("%s after ERROR", proto_type_name(h.type));
	if (!s->hello && h.type != PROTO_HELLO_OK && h.type != PROTO_ERROR)
		fz_fail("%s before HELLO_OK", proto_type_name(h.type));
	if (s->hello && h.type == PROTO_HELLO_OK)
		fz_fail("a second HELLO_OK");
	if (h.type != PROTO_STARTED && nfds != 0)
		fz_fail("%s with %zu fds", proto_type_name(h.type), nfds);
	if (h.type == PROTO_ERROR || h.type == PROTO_LIST_ENTRY)
		fz_reply_more(s, &h, p);
	else
		fz_reply_fixed(s, &h, p, nfds);
}

static void
fz_reply_fixed(struct slot *s, const struct proto_hdr *h, const uint8_t *p,
    size_t nfds)
{
	struct proto_hello_ok	 ok;
	struct proto_started	 st;
	struct proto_failed	 fa;
	struct proto_exited	 ex;
	struct proto_pong	 po;
	int			 r = -1;

	switch (h->type) {
	case PROTO_HELLO_OK:
		if ((r = proto_decode_hello_ok(p, h->length, &ok)) == 0 &&
		    (ok.version != PROTO_VERSION ||
		    ok.pid != (uint32_t)getpid() ||
		    ok.max_request != sd.limits.request_bytes ||
		    ok.max_fds != sd.limits.request_fds))
			fz_fail("HELLO_OK does not say the daemon's limits");
		s->hello = 1;
		break;
	case PROTO_STARTED:
		if ((r = proto_decode_started(p, h->length, &st)) == 0)
			fz_issued(st.pid, nfds, 1);
		break;
	case PROTO_FAILED:
		if ((r = proto_decode_failed(p, h->length, &fa)) == 0 &&
		    (fa.error == 0 || fa.step < PROTO_STEP_REQUEST ||
		    fa.step > PROTO_STEP_MAX || (fa.step != PROTO_STEP_ACTION &&
		    fa.index != PROTO_NO_INDEX)))
			fz_fail("FAILED errno %u step %u index %u", fa.error,
			    fa.step, fa.index);
		break;
	case PROTO_EXITED:
		if ((r = proto_decode_exited(p, h->length, &ex)) == 0) {
			fz_issued(ex.pid, 0, 0);
			if (ex.code != CLD_EXITED && ex.code != CLD_KILLED)
				fz_fail("EXITED code %u", ex.code);
		}
		break;
	case PROTO_OK:
		r = h->length == 0 ? 0 : -1;
		break;
	case PROTO_PONG:
		if ((r = proto_decode_pong(p, h->length, &po)) == 0 &&
		    (po.pid != (uint32_t)getpid() || po.connections == 0))
			fz_fail("PONG pid %u, %u connections", po.pid,
			    po.connections);
		break;
	default:
		fz_fail("reply of unknown type %#x", h->type);
	}
	if (r != 0)
		fz_fail("%s does not decode", proto_type_name(h->type));
}

static void
fz_reply_more(struct slot *s, const struct proto_hdr *h, const uint8_t *p)
{
	struct proto_error	 er;
	struct proto_list_entry	 le;

	if (h->type == PROTO_ERROR) {
		if (proto_decode_error(p, h->length, &er) != 0 || er.error == 0)
			fz_fail("ERROR does not decode");
		s->error = 1;
		return;
	}
	if (proto_decode_list_entry(p, h->length, &le) != 0)
		fz_fail("LIST_ENTRY does not decode");
	fz_issued(le.pid, 0, 0);
	if ((le.state & ~(uint32_t)(PROTO_LIST_DETACHED | PROTO_LIST_ORPHAN |
	    PROTO_LIST_STOPPING)) != 0 || (le.uid != s->uid && s->uid != 0) ||
	    (le.client_pid != 0 && le.client_pid != (uint32_t)getpid()) ||
	    (le.client_pid == 0) != ((le.state & PROTO_LIST_ORPHAN) != 0))
		fz_fail("LIST_ENTRY state %#x uid %u client %u", le.state,
		    le.uid, le.client_pid);
}

/* A pid in a reply must be a fake child's; STARTED's fd as it asked. */
static void
fz_issued(uint32_t pid, size_t nfds, int started)
{
	int	 no_pidfd;

	if (!harness_issued(pid, &no_pidfd))
		fz_fail("pid %u in a reply is no child's", pid);
	if (started && no_pidfd != -1 && nfds != (size_t)!no_pidfd)
		fz_fail("STARTED for pid %u with %zu fds", pid, nfds);
}

/* Milliseconds on conn.c's clock. */
static uint64_t
fz_now(void)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * The sweep, first waiting out CS_TIGHT's 1 ms deadlines if asked: every
 * deadline set so far is at most now + 1, and the sweep wants it passed.
 */
static void
fz_sweep(struct script *sc, int mod)
{
	struct timespec	 ts = { 0, 200000 };
	uint64_t	 until;

	if ((mod & CS_PAD) && (sc->setup & CS_TIGHT) && !sc->waited) {
		sc->waited = 1;
		until = fz_now() + 2;
		while (fz_now() < until)
			(void)nanosleep(&ts, NULL);
	}
	harness_sweep();
}

/*
 * The clients read what is left and close; the daemon must then let go of
 * everything: connections, children, events and fds.
 */
static void
fz_teardown(void)
{
	int	 i, n;

	for (i = 0; i < CS_SLOTS; i++) {
		if (slots[i].fd == -1)
			continue;
		fz_read(&slots[i], 0);
		(void)close(slots[i].fd);
		slots[i].fd = -1;
	}
	for (n = 0; sd.nconns > 0; n++) {
		if (n == FZ_MAX_LOOPS)
			fz_fail("%u connections outlive their clients",
			    sd.nconns);
		(void)event_base_loop(sd.base, EVLOOP_NONBLOCK);
	}
	harness_reap_all();
	conn_close_all();
	if (sd.nconns != 0 || sd.nchildren != 0 || harness_children() != 0)
		fz_fail("%u connections, %u children left", sd.nconns,
		    sd.nchildren);
	if ((n = event_base_get_num_events(sd.base, EVENT_BASE_COUNT_ADDED |
	    EVENT_BASE_COUNT_ACTIVE)) != 0)
		fz_fail("%d events left", n);
	if ((n = fz_count_fds()) != fd_baseline) {
		fz_list_fds();
		fz_fail("%d fds open, %d before", n, fd_baseline);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct script	 sc;
	uint8_t		 setup;

	if (!inited)
		fz_init();
	sc.p = data;
	sc.left = size;
	sc.waited = 0;
	if (fz_get(&sc, &setup, 1) == -1)
		return 0;
	/*
	 * Counted per script: between scripts libFuzzer may start its
	 * symbolizer, which keeps two pipes open.
	 */
	fd_baseline = fz_count_fds();
	sc.setup = setup;
	log_init(verbose || (setup & CS_DEBUG));
	harness_limits(setup & CS_TIGHT);
	harness_reset();
	fz_connect(0, (setup & CS_ROOT) ? CS_UID_ROOT : CS_UID_SAME,
	    setup & CS_SMALLBUF);
	while (sc.left > 0)
		fz_op(&sc);
	fz_teardown();
	return 0;
}
