/*
 * conn-harness.c: what daemon/conn.c needs from the rest of spawnd, for
 * the fuzz-conn target, which links the real conn.c, log.c, notify.c and
 * proto/.
 *
 * This REPLACES PROCESS CREATION.  The child_* functions below never fork,
 * clone or exec (a fuzzer makes arbitrary argv): a "child" is a record in
 * a table with a counting fake pid and an eventfd standing in for its
 * pidfd (it is what STARTED carries).  As child.c's, a spawn completes
 * through conn_spawned(): for an even fake pid before child_spawn()
 * returns (child.c's vfork path), for an odd one at the loop's next turn
 * (its async path, the connection paused meanwhile).  The failure the
 * script chose is reported so, but steps request and fork fail at once.  The script decides when a child
 * "exits": its eventfd is made readable and the event loop reaps it the
 * way child.c's child_reaped() does (EXITED to the spawning connection and
 * every watcher, conn_child_gone(), sd.nchildren).  The bookkeeping, the
 * lookups (child_find, child_find_pid, child_visible, child_list,
 * child_watch) and what a closed connection does to its children mirror
 * child.c.  Not modelled: the timers (a request's timeout, SIGKILL after
 * the grace period: a stopped child here only gets marked stopping), the
 * rusage of the exit record (zero), and the end of shutdown
 * (daemon_quit_done(): leaving the loop is the player's business).  The
 * real child.c (fork, fd set-up, exec, reaping, timers) is covered by the
 * integration tests, not here.
 *
 * The fakes also check what conn.c must guarantee before it calls them,
 * and abort() if it did not: passed fds open and close-on-exec, fd count
 * and children within the limits, a signal in range, a group kill only
 * for a group leader.
 */

#include <sys/eventfd.h>
#include <sys/queue.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "spawnd-int.h"
#include "conn-harness.h"
#include "conn-script.h"

#define HARNESS_MAX_ISSUED	4096	/* pids remembered per script */

struct child {
	TAILQ_ENTRY(child)	 entry;
	struct conn		*conn;		/* NULL once orphaned */
	uint32_t		 id;
	pid_t			 pid;
	int			 pidfd;		/* an eventfd: ours */
	uint32_t		 flags;		/* PROTO_SPAWN_* */
	int			 leader;
	int			 stopping;	/* "SIGTERM sent" */
	int			 exiting;	/* exit made, not reaped yet */
	int			 code;		/* its siginfo, once exiting */
	int			 status;
	struct event		*ev;		/* pidfd readable */
	uid_t			 uid;
	pid_t			 client_pid;
	struct timespec		 started;
	char			*summary;
	struct watcher		*watchers;
	size_t			 nwatchers;
	/* Until the "exec": the request, owned as child.c's launch. */
	int			 launching;
	struct event		*lev;
	struct proto_spawn	 req;
	void			*body;
	size_t			 charged;	/* conn_charge()d bytes */
	uint16_t		 lstep;		/* fail at this step, or 0 */
	uint32_t		 lerror;
};

struct watcher {
	struct conn		*conn;
	uint32_t		 id;
};

static void	harness_check_spawn(const struct child_spec *,
		    const struct conn *);
static int	harness_make(const struct child_spec *, struct conn *,
		    uint32_t, struct child **);
static char	*harness_summary(const struct proto_spawn *);
static void	harness_reaped(int, short, void *);
static void	harness_launched(int, short, void *);
static void	harness_unlaunch(struct child *);
static void	harness_report(struct child *);
static void	harness_free(struct child *);
static int	harness_sweep_find(const struct event_base *,
		    const struct event *, void *);
static void	harness_fail(const char *) __attribute__((noreturn));

struct spawnd	 sd;

static TAILQ_HEAD(, child) children = TAILQ_HEAD_INITIALIZER(children);
static pid_t	 next_pid = CS_FIRST_PID;
static uint16_t	 fail_step;		/* PROTO_STEP_NONE: succeed */
static uint32_t	 fail_error;
static uint8_t	 issued[HARNESS_MAX_ISSUED];	/* 1 + NO_PIDFD */

static void
harness_fail(const char *why)
{
	fprintf(stderr, "conn-harness: %s\n", why);
	abort();
}

void
harness_limits(int tight)
{
	sd.limits = LIMITS_DEFAULT;
	if (!tight)
		return;
	/*
	 * As --max-children 3 --max-children-per-connection 2 --max-queue
	 * 1024 --max-request 4096 --max-fds 2 --handshake-timeout 1
	 * --request-timeout 1 --max-pending-fds-per-uid 3
	 * --max-pending-bytes-per-uid 262144.
	 */
	sd.limits.children = 3;
	sd.limits.children_per_conn = 2;
	sd.limits.outq_bytes = 1024;
	sd.limits.request_bytes = 4096;
	sd.limits.request_fds = 2;
	sd.limits.handshake_ms = 1;
	sd.limits.request_ms = 1;
	sd.limits.pending_fds = 3;
	sd.limits.pending_bytes = 4 * PROTO_MAX_FRAME;
}

void
harness_reset(void)
{
	next_pid = CS_FIRST_PID;
	fail_step = PROTO_STEP_NONE;
	memset(issued, 0, sizeof issued);
	sd.spawns = 0;
	sd.quitting = 0;
	sd.pid = getpid();	/* as main.c: HELLO_OK and PONG say it */
}

void
harness_fail_next(uint16_t step, uint32_t error)
{
	fail_step = step;
	fail_error = error;
}

int
harness_exit(unsigned int which, int code, int status)
{
	struct child	*ch;
	unsigned int	 n = 0;
	uint64_t	 one = 1;

	TAILQ_FOREACH(ch, &children, entry)
		if (!ch->exiting && !ch->launching)
			n++;
	if (n == 0)
		return -1;
	which %= n;
	TAILQ_FOREACH(ch, &children, entry)
		if (!ch->exiting && !ch->launching && which-- == 0)
			break;
	ch->exiting = 1;
	ch->code = code;
	ch->status = status;
	if (write(ch->pidfd, &one, sizeof one) != sizeof one)
		harness_fail("eventfd write");
	return 0;
}

void
harness_reap_all(void)
{
	struct child	*ch;

	while ((ch = TAILQ_FIRST(&children)) != NULL) {
		if (ch->conn != NULL || ch->nwatchers != 0)
			harness_fail("a child outlived its connection's close");
		TAILQ_REMOVE(&children, ch, entry);
		sd.nchildren--;
		harness_free(ch);
	}
}

unsigned int
harness_children(void)
{
	struct child	*ch;
	unsigned int	 n = 0;

	TAILQ_FOREACH(ch, &children, entry)
		n++;
	return n;
}

int
harness_issued(uint32_t pid, int *ret_no_pidfd)
{
	if (pid < CS_FIRST_PID || pid >= (uint32_t)next_pid)
		return 0;
	if (pid - CS_FIRST_PID < HARNESS_MAX_ISSUED) {
		if (issued[pid - CS_FIRST_PID] == 0)
			return 0;
		*ret_no_pidfd = issued[pid - CS_FIRST_PID] - 1;
	} else
		*ret_no_pidfd = -1;	/* not remembered */
	return 1;
}

static int
harness_sweep_find(const struct event_base *base, const struct event *ev,
    void *arg)
{
	(void)base;
	/* conn.c's sweep is the only timer without an fd: no other is set. */
	if (event_get_fd(ev) == -1 && (event_get_events(ev) & EV_PERSIST)) {
		*(struct event **)arg = (struct event *)(uintptr_t)ev;
		return 1;
	}
	return 0;
}

void
harness_sweep(void)
{
	struct event	*ev = NULL;

	(void)event_base_foreach_event(sd.base, harness_sweep_find, &ev);
	if (ev != NULL)
		event_active(ev, EV_TIMEOUT, 1);
}

/*
 * As main.c's, but for sd_notify and the listener, which is not there:
 * every connection goes, the loop runs on for the children.
 */
void
daemon_quit(void)
{
	if (sd.quitting)
		return;
	sd.quitting = 1;
	conn_close_all();
}

/* listener.c: there is no listening socket; connections come from fuzz-conn. */
void
listener_resume(void)
{
}

int
listener_pending(void)
{
	return 0;
}

/* What child_spawn() may take for granted from conn.c. */
static void
harness_check_spawn(const struct child_spec *spec, const struct conn *c)
{
	const struct proto_spawn	*req = spec->req;
	struct child			*ch;
	unsigned int			 mine = 0;
	size_t				 i;
	int				 fl;

	if (spec->nfds > sd.limits.request_fds)
		harness_fail("more fds than --max-fds reached child_spawn");
	for (i = 0; i < spec->nfds; i++)
		if ((fl = fcntl(spec->fds[i], F_GETFD)) == -1 ||
		    !(fl & FD_CLOEXEC))
			harness_fail("passed fd closed or not close-on-exec");
	if (req->argc < 1 || req->argv[0] == NULL || req->argv[0][0] == '\0')
		harness_fail("spawn request without argv[0]");
	TAILQ_FOREACH(ch, &children, entry)
		if (ch->conn == c) {
			mine++;
			if (ch->launching)
				harness_fail("a request read while the "
				    "connection's spawn launches");
		}
	if (mine >= sd.limits.children_per_conn ||
	    sd.nchildren >= sd.limits.children)
		harness_fail("child_spawn over the children limits");
	if ((req->flags & PROTO_SPAWN_KILL_GROUP) &&
	    !(req->flags & PROTO_SPAWN_SETSID) &&
	    !((req->has & PROTO_HAS_PGROUP) && req->pgroup == 0))
		harness_fail("KILL_GROUP for a child that leads no group");
}

/*
 * As child.c's child_spawn(), with a fake child instead of a clone: -1
 * (the caller keeps the request) or 0 and conn_spawned() later.
 */
int
child_spawn(const struct child_spec *spec, struct conn *c, uint32_t id,
    struct proto_failed *fail)
{
	struct child	*ch;
	struct timeval	 now = { 0, 0 };
	uint16_t	 step = fail_step;

	harness_check_spawn(spec, c);
	fail_step = PROTO_STEP_NONE;
	if (step == PROTO_STEP_REQUEST || step == PROTO_STEP_FORK) {
		fail->error = fail_error;
		fail->step = step;
		return -1;
	}
	if (harness_make(spec, c, id, &ch) == -1) {
		fail->error = errno;
		fail->step = PROTO_STEP_FORK;
		return -1;
	}
	ch->lstep = step;
	ch->lerror = fail_error;
	ch->launching = 1;
	ch->req = *spec->req;
	ch->body = spec->body;
	ch->charged = spec->charged;
	if (ch->pid % 2 == 0)
		harness_launched(-1, 0, ch);
	else
		event_add(ch->lev, &now);
	return 0;
}

/* The "exec", or the scripted failure: as child.c's child_launched(). */
static void
harness_launched(int fd, short what, void *arg)
{
	struct child		*ch = arg;
	struct proto_failed	 f;

	(void)fd;
	(void)what;
	ch->launching = 0;
	if (ch->lstep == PROTO_STEP_NONE) {
		sd.spawns++;
		if (ch->conn != NULL)
			conn_spawned(ch->conn, ch->id, &ch->req, ch, NULL);
		harness_unlaunch(ch);
		return;
	}
	f.error = ch->lerror;
	f.step = ch->lstep;
	f.index = ch->lstep == PROTO_STEP_ACTION ? 0 : PROTO_NO_INDEX;
	if (ch->conn != NULL)
		conn_spawned(ch->conn, ch->id, &ch->req, NULL, &f);
	TAILQ_REMOVE(&children, ch, entry);
	sd.nchildren--;
	harness_free(ch);
	notify_changed();
}

static void
harness_unlaunch(struct child *ch)
{
	proto_spawn_free(&ch->req);
	free(ch->body);
	ch->body = NULL;
	conn_uncharge(ch->uid, 0, ch->charged);
	ch->charged = 0;
}

static int
harness_make(const struct child_spec *spec, struct conn *c, uint32_t id,
    struct child **ret_child)
{
	const struct proto_spawn	*req = spec->req;
	struct child			*ch;

	if ((ch = calloc(1, sizeof *ch)) == NULL)
		return -1;
	if ((ch->pidfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) == -1) {
		free(ch);
		return -1;
	}
	ch->conn = c;
	ch->id = id;
	ch->pid = next_pid++;
	ch->uid = spec->uid;
	ch->client_pid = spec->client_pid;
	ch->summary = harness_summary(req);
	(void)clock_gettime(CLOCK_MONOTONIC, &ch->started);
	ch->flags = req->flags;
	ch->leader = (ch->flags & PROTO_SPAWN_SETSID) ||
	    ((req->has & PROTO_HAS_PGROUP) && req->pgroup == 0);
	ch->ev = event_new(sd.base, ch->pidfd, EV_READ, harness_reaped, ch);
	ch->lev = evtimer_new(sd.base, harness_launched, ch);
	if (ch->ev == NULL || ch->lev == NULL || event_add(ch->ev, NULL) == -1) {
		harness_free(ch);
		errno = ENOMEM;
		return -1;
	}
	if (ch->pid - CS_FIRST_PID < HARNESS_MAX_ISSUED)
		issued[ch->pid - CS_FIRST_PID] = 1 +
		    ((req->flags & PROTO_SPAWN_NO_PIDFD) != 0);
	TAILQ_INSERT_TAIL(&children, ch, entry);
	sd.nchildren++;
	notify_changed();
	*ret_child = ch;
	return 0;
}

/* As child.c: argv joined by spaces, cut at PROTO_MAX_SUMMARY bytes. */
static char *
harness_summary(const struct proto_spawn *req)
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

int
child_exec_fd(const struct child *ch)
{
	(void)ch;
	return -1;
}

void
child_settle_all(void)
{
}

struct child *
child_find(const struct conn *c, uint32_t id)
{
	struct child	*ch;

	TAILQ_FOREACH(ch, &children, entry)
		if (ch->conn == c && ch->id == id && !ch->launching)
			return ch;
	return NULL;
}

struct child *
child_find_pid(pid_t pid)
{
	struct child	*ch;

	TAILQ_FOREACH(ch, &children, entry)
		if (ch->pid == pid && !ch->launching)
			return ch;
	return NULL;
}

int
child_visible(const struct child *ch, uid_t uid)
{
	return uid == 0 || ch->uid == uid;
}

/* As child.c; a signal to an exited, unreaped child succeeds there too. */
int
child_signal(struct child *ch, int sig, int group)
{
	if (sig < 1 || sig > PROTO_MAX_SIG)
		harness_fail("signal out of range reached child_signal");
	if (group && !ch->leader)
		return -EINVAL;
	return 0;
}

/* As child.c's child_list(), field for field. */
void
child_list(struct conn *c, uint32_t id, uid_t uid)
{
	struct proto_list_entry	 e;
	struct proto_buf	 b;
	struct timespec		 now;
	struct child		*ch;

	(void)clock_gettime(CLOCK_MONOTONIC, &now);
	TAILQ_FOREACH(ch, &children, entry) {
		if (!child_visible(ch, uid) || ch->launching)
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

int
child_watch(struct child *ch, struct conn *c, uint32_t id)
{
	struct watcher	*w;
	size_t		 i;

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

/*
 * As child.c: the connection's children become orphans, and tied ones are
 * stopped (here: only marked; the script decides when they exit).
 */
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
			ch->stopping = 1;
	}
}

/* The "pidfd" is readable: as child.c's child_reaped(). */
static void
harness_reaped(int fd, short what, void *arg)
{
	struct child	*ch = arg;

	(void)fd;
	(void)what;
	harness_report(ch);
	TAILQ_REMOVE(&children, ch, entry);
	sd.nchildren--;
	harness_free(ch);
	notify_changed();
}

/* As child.c's child_report(), with the script's exit and zero rusage. */
static void
harness_report(struct child *ch)
{
	struct proto_exited	 m;
	uint8_t			 buf[40];
	size_t			 n, i;

	memset(&m, 0, sizeof m);
	m.pid = (uint32_t)ch->pid;
	m.code = (uint32_t)ch->code;
	m.status = (uint32_t)ch->status;
	n = proto_encode_exited(buf, &m);
	if (ch->conn != NULL) {
		conn_send(ch->conn, PROTO_EXITED, ch->id, buf, n, -1);
		conn_child_gone(ch->conn, ch);
	}
	for (i = 0; i < ch->nwatchers; i++)
		conn_send(ch->watchers[i].conn, PROTO_EXITED,
		    ch->watchers[i].id, buf, n, -1);
}

static void
harness_free(struct child *ch)
{
	if (ch->ev != NULL)
		event_free(ch->ev);
	if (ch->lev != NULL)
		event_free(ch->lev);
	harness_unlaunch(ch);
	(void)close(ch->pidfd);
	free(ch->summary);
	free(ch->watchers);
	free(ch);
}
