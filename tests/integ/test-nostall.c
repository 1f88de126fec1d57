/*
 * test-nostall: no request stops the daemon for the others (issue 12).
 *
 * A child between clone and exec can wait as long as its client likes:
 * an open() of a FIFO waits for a writer, an exec of a file the client
 * holds a write lease on waits out the lease-break time (45 s), and a
 * FIFO given as the exec fd (O_PATH) would once make the daemon's "is it
 * a script?" look wait for a writer.  With the daemon stopped until each
 * exec (CLONE_VFORK), every other client waited too.  Here requests are
 * held blocked that way, all at once, for HOLD_MS, while other
 * connections ping and spawn and must be answered within the normal
 * (generous) bound; then the blocks are released and each request ends
 * as it should.  A blocked child keeps its timeout, and its tied lifetime:
 * killing its client ends it.
 */

#include <sys/file.h>

#include "testlib.h"

#define HOLD_MS		10000	/* the issue: blocked for >= 10 s */
#define ANSWER_MS	5000	/* "answered": the normal generous bound */

static struct tl_daemon	 d;
static int		 devnull = -1;

/* One blocked request, run in a thread on its own connection. */
struct blocker {
	const char	*name;
	const char	*fifo;		/* open action on it, or NULL */
	const char	*path;		/* exec by path, or NULL */
	int		 exec_fd;	/* or -1 */
	unsigned int	 timeout_ms;	/* 0: none */
	atomic_int	 done;		/* spawnd_spawn() returned */
	int		 r;
	struct spawnd_failure f;
	int		 status;	/* wait status, -1 if none */
	uint64_t	 t_done;
	pthread_t	 t;
	int		 started;
};

static void *
blocker_main(void *arg)
{
	struct blocker		*b = arg;
	struct spawnd_client	*c = NULL;
	struct spawnd_req	*req = NULL;
	struct spawnd_child	*ch = NULL;
	struct spawnd_exit	 ex;
	const char		*argv[] = { "/bin/true", NULL };
	const char		*envp[] = { "PATH=/usr/bin:/bin", NULL };

	b->status = -1;
	b->r = spawnd_connect(d.sock, tl_scale(ANSWER_MS), &c);
	if (b->r < 0)
		goto out;
	if ((b->r = spawnd_req_new(&req)) < 0 ||
	    (b->r = spawnd_req_set_argv(req, argv)) < 0 ||
	    (b->r = spawnd_req_set_envp(req, envp)) < 0 ||
	    (b->r = spawnd_req_set_fd(req, devnull, 0)) < 0 ||
	    (b->r = spawnd_req_set_fd(req, STDERR_FILENO, 2)) < 0 ||
	    (b->r = spawnd_req_set_grace(req, 100)) < 0)
		goto out;
	if (b->fifo != NULL &&
	    (b->r = spawnd_req_add_open(req, 5, b->fifo, O_RDONLY, 0)) < 0)
		goto out;
	if (b->path != NULL && (b->r = spawnd_req_set_path(req, b->path)) < 0)
		goto out;
	if (b->exec_fd != -1 &&
	    (b->r = spawnd_req_set_exec_fd(req, b->exec_fd)) < 0)
		goto out;
	if (b->timeout_ms != 0 &&
	    (b->r = spawnd_req_set_timeout(req, b->timeout_ms)) < 0)
		goto out;
	memset(&b->f, 0, sizeof b->f);
	b->r = spawnd_spawn(c, req, &ch, &b->f);
	b->t_done = tl_now_ms();
	atomic_store(&b->done, 1);
	if (b->r == 0 && spawnd_child_wait(ch, tl_scale(30000), &ex) == 0)
		b->status = ex.status;
out:
	atomic_store(&b->done, 1);
	spawnd_child_free(ch);
	spawnd_req_free(req);
	spawnd_client_free(c);
	return NULL;
}

static void
blocker_start(struct blocker *b)
{
	if (pthread_create(&b->t, NULL, blocker_main, b) != 0)
		tl_fail(__FILE__, __LINE__, "pthread_create");
	else
		b->started = 1;
}

static void
blocker_join(struct blocker *b)
{
	if (b->started)
		pthread_join(b->t, NULL);
	b->started = 0;
}

/* The daemon's count of children (launching ones included), or -1. */
static int
children(struct spawnd_client *c)
{
	struct spawnd_status	 st;

	if (spawnd_ping(c, tl_scale(ANSWER_MS), &st) < 0)
		return -1;
	return (int)st.children;
}

/* Waits until the daemon counts n children; returns the last count. */
static int
await_children(struct spawnd_client *c, int n)
{
	uint64_t	 end = tl_now_ms() + (uint64_t)tl_scale(10000);
	int		 k;

	while ((k = children(c)) != n && k != -1 && tl_now_ms() < end)
		tl_sleep_ms(10);
	return k;
}

/* A ping and a spawn of /bin/true on connection c: both answered. */
static int
served(struct spawnd_client *c)
{
	struct spawnd_status	 st;
	struct spawnd_req	*req = NULL;
	struct spawnd_child	*ch = NULL;
	struct spawnd_exit	 ex;
	const char		*argv[] = { "/bin/true", NULL };
	int			 r;

	if ((r = spawnd_ping(c, tl_scale(ANSWER_MS), &st)) < 0)
		return r;
	if ((r = spawnd_req_new(&req)) < 0 ||
	    (r = spawnd_req_set_argv(req, argv)) < 0 ||
	    (r = spawnd_req_set_fd(req, devnull, 0)) < 0 ||
	    (r = spawnd_spawn(c, req, &ch, NULL)) < 0 ||
	    (r = spawnd_child_wait(ch, tl_scale(ANSWER_MS), &ex)) < 0)
		goto out;
	if (!WIFEXITED(ex.status) || WEXITSTATUS(ex.status) != 0)
		r = -ECHILD;
out:
	spawnd_child_free(ch);
	spawnd_req_free(req);
	return r;
}

/*
 * A client process whose tied child waits in open() on fifo; returns its
 * pid.  Killing it must end the child.
 */
static pid_t
tied_client(const char *fifo)
{
	const char	*argv[] = { "/bin/true", NULL };
	pid_t		 pid;

	if ((pid = fork()) == 0) {
		struct spawnd_client	*c;
		struct spawnd_req	*req;
		struct spawnd_child	*ch;

		if (spawnd_connect(d.sock, 5000, &c) < 0 ||
		    spawnd_req_new(&req) < 0 ||
		    spawnd_req_set_argv(req, argv) < 0 ||
		    spawnd_req_set_grace(req, 100) < 0 ||
		    spawnd_req_add_open(req, 5, fifo, O_RDONLY, 0) < 0)
			_exit(1);
		(void)spawnd_spawn(c, req, &ch, NULL);
		_exit(0);
	}
	return pid;
}

/* Opens fifo for writing once its reader is there (bounded). */
static int
open_writer(const char *fifo)
{
	uint64_t	 end = tl_now_ms() + (uint64_t)tl_scale(5000);
	int		 fd;

	while ((fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) == -1 &&
	    errno == ENXIO && tl_now_ms() < end)
		tl_sleep_ms(10);
	return fd;
}

int
main(void)
{
	struct blocker		 bfifo = { .name = "exec fd on a FIFO" };
	struct blocker		 bopen = { .name = "open action on a FIFO" };
	struct blocker		 blease = { .name = "exec of a leased file" };
	struct blocker		 btime = { .name = "timeout while blocked" };
	struct spawnd_client	*same, *fresh;
	char			 fifo[300], fifo2[300], fifo3[300];
	char			 leased[300], vnull[300];
	uint64_t		 t0, end;
	int			 lfd = -1, wfd, n, rounds = 0, bad = 0, want;
	pid_t			 tied = -1;

	bfifo.exec_fd = bopen.exec_fd = blease.exec_fd = btime.exec_fd = -1;
	(void)signal(SIGIO, SIG_IGN);	/* the lease break's notice */
	if ((devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		return 1;
	if (tl_start(&d) == -1)
		return tl_exit();
	snprintf(fifo, sizeof fifo, "%s/fifo-open", d.dir);
	snprintf(fifo2, sizeof fifo2, "%s/fifo-exec", d.dir);
	snprintf(fifo3, sizeof fifo3, "%s/fifo-tied", d.dir);
	snprintf(leased, sizeof leased, "%s/leased-true", d.dir);
	snprintf(vnull, sizeof vnull, "%s/fifo-time", d.dir);
	if (mkfifo(fifo, 0600) == -1 || mkfifo(fifo2, 0600) == -1 ||
	    mkfifo(fifo3, 0600) == -1 || mkfifo(vnull, 0600) == -1 ||
	    tl_copy_file("/bin/true", leased, 0755) == -1) {
		tl_fail(__FILE__, __LINE__, "set-up: %s", strerror(errno));
		goto out;
	}
	same = tl_connect(&d);
	if (same == NULL)
		goto out;

	tl_log("== the blockers: open of a FIFO, exec of a leased file, "
	    "a FIFO as exec fd, a timeout, a tied child");
	/*
	 * The lease first, with nothing else launching: a daemon that waits
	 * for the exec of an idle moment's request is caught too.
	 */
	want = 0;
	if ((lfd = open(leased, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fcntl(lfd, F_SETLEASE, F_WRLCK) == -1) {
		tl_log("note: no write lease here (%s): that case is skipped",
		    strerror(errno));
		if (lfd != -1)
			close(lfd);
		lfd = -1;
	} else {
		blease.path = leased;
		blocker_start(&blease);
		want++;
		n = await_children(same, want);
		CHECK_INT(n, ==, want);
		if (n == -1) {
			tl_fail(__FILE__, __LINE__, "daemon stalled by an "
			    "exec waiting for a lease break");
			goto release;
		}
	}
	bopen.fifo = fifo;
	blocker_start(&bopen);
	want++;
	btime.fifo = vnull;
	btime.timeout_ms = 300;
	blocker_start(&btime);
	tied = tied_client(fifo3);
	want += 1;
	/* Timed-out one gone, the others launching: counted by the daemon. */
	n = await_children(same, want + 1);
	if (n == -1) {
		tl_fail(__FILE__, __LINE__, "daemon does not answer a ping");
		goto release;
	}
	tl_log("daemon counts %d launching children (want %d)", n, want + 1);

	/* The FIFO exec fd: answered at once, as not executable. */
	bfifo.exec_fd = open(fifo2, O_PATH | O_CLOEXEC);
	CHECK(bfifo.exec_fd != -1);
	blocker_start(&bfifo);

	t0 = tl_now_ms();
	tl_log("== others are served while the requests stay blocked");
	end = t0 + HOLD_MS;
	do {
		int	 r1, r2 = -1;

		r1 = served(same);
		if ((fresh = tl_connect(&d)) != NULL) {
			r2 = served(fresh);
			spawnd_client_free(fresh);
		}
		if (r1 < 0 || r2 < 0) {
			tl_fail(__FILE__, __LINE__, "round %d: same uid, "
			    "other connection: %s; fresh connection: %s",
			    rounds, strerror(-r1), strerror(r2 < 0 ? -r2 : 0));
			if (++bad > 2)
				break;
		}
		rounds++;
		if (rounds == 1) {
			/* The FIFO exec fd: EACCES at exec, soon. */
			uint64_t e2 = tl_now_ms() + (uint64_t)tl_scale(5000);

			while (!atomic_load(&bfifo.done) && tl_now_ms() < e2)
				tl_sleep_ms(10);
			CHECK(atomic_load(&bfifo.done));
			CHECK_INT(bfifo.r, ==, -EACCES);
			CHECK_INT(bfifo.f.step, ==, SPAWND_STEP_EXEC);
			CHECK_INT(bfifo.f.error, ==, EACCES);
			/* The timeout ended its blocked child. */
			while (!atomic_load(&btime.done) && tl_now_ms() < e2)
				tl_sleep_ms(10);
			CHECK(atomic_load(&btime.done));
			/* The tied child ends with its client. */
			if (tied > 0) {
				(void)kill(tied, SIGKILL);
				(void)waitpid(tied, NULL, 0);
				tied = -1;
			}
			CHECK_INT(await_children(same, want - 1), ==,
			    want - 1);
		}
	} while (tl_now_ms() < end);
	tl_log("%d rounds of ping + spawn on two connections in %llu ms",
	    rounds, (unsigned long long)(tl_now_ms() - t0));
	CHECK(rounds >= 2);
	/* Blocked all along: none of them has been answered. */
	CHECK(!atomic_load(&bopen.done));
	if (lfd != -1)
		CHECK(!atomic_load(&blease.done));
	CHECK_INT(children(same), ==, want - 1);

	/* The timeout: STARTED (a start, as posix_spawn's), then killed. */
	blocker_join(&btime);
	CHECK_OK(btime.r);
	CHECK(btime.status != -1 && WIFSIGNALED(btime.status));
	blocker_join(&bfifo);

release:
	tl_log("== released, each blocked request ends normally");
	wfd = open_writer(fifo);
	CHECK(wfd != -1);
	if (lfd != -1) {
		CHECK(fcntl(lfd, F_SETLEASE, F_UNLCK) == 0);
		close(lfd);
	}
	blocker_join(&bopen);
	if (wfd != -1)
		close(wfd);
	CHECK_OK(bopen.r);
	CHECK(bopen.status != -1 && WIFEXITED(bopen.status) &&
	    WEXITSTATUS(bopen.status) == 0);
	if (blease.started) {
		blocker_join(&blease);
		CHECK_OK(blease.r);
		CHECK(blease.status != -1 && WIFEXITED(blease.status) &&
		    WEXITSTATUS(blease.status) == 0);
	}
	if (tied > 0) {
		(void)kill(tied, SIGKILL);
		(void)waitpid(tied, NULL, 0);
	}
	CHECK_INT(await_children(same, 0), ==, 0);
	spawnd_client_free(same);
out:
	blocker_join(&bopen);
	blocker_join(&blease);
	blocker_join(&btime);
	blocker_join(&bfifo);
	if (bfifo.exec_fd != -1)
		close(bfifo.exec_fd);
	tl_stop(&d);
	return tl_exit();
}
