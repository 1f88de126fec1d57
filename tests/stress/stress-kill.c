/*
 * stress-kill: clients killed (SIGKILL) in every state of a session,
 * in random order, while another client keeps spawning.
 *
 * Each round forks a victim that reaches one state, tells us, and is
 * killed after a random 0-3 ms:
 *
 *	connected	raw socket connected, nothing sent
 *	hello		HELLO sent, HELLO_OK not read
 *	mid-request	first frame of a split spawn sent (2 fds, F_MORE)
 *	fds-in-flight	a whole spawn with an fd sent, killed at once
 *	unanswered	spawn sent, STARTED never read
 *	running		a tied and a detached sleeper running
 *	exit-unread	child exited, its EXITED record never read
 *
 * Checked per round: fds a victim passed are closed in the daemon (pipe
 * EOF), a tied child is stopped within 2 s, a detached one survives it.
 * Every 50 rounds and at the end: the daemon's fd count is back to its
 * baseline, no child of the daemon is left, no zombie stays unreaped.
 * Throughout: a canary client spawns and waits /bin/true in a loop; every
 * one must succeed within 5 s.
 *
 * STRESS_ROUNDS (default 1000, 200 with STRESS_QUICK=1), STRESS_SEED.
 */

#include "stresslib.h"

enum state {
	S_CONNECTED, S_HELLO, S_MID_REQUEST, S_FDS_IN_FLIGHT, S_UNANSWERED,
	S_RUNNING, S_EXIT_UNREAD, S_COUNT
};

static const char *const state_names[S_COUNT] = {
	"connected", "hello", "mid-request", "fds-in-flight", "unanswered",
	"running", "exit-unread"
};

static struct tl_daemon	 d;
static atomic_int	 canary_stop, canary_pause, canary_idle;
static atomic_int	 canary_ok, canary_fail;
static atomic_llong	 canary_max_ms;

/* What a victim reports once in its state. */
struct report {
	pid_t	 tied;		/* S_RUNNING: its children */
	pid_t	 detached;
};

/* Spawns /bin/true and waits, forever, on one connection. */
static void *
canary_main(void *arg)
{
	const char		*argv[] = { "/bin/true", NULL };
	struct spawnd_client	*c = NULL;
	struct spawnd_req	*req = NULL;
	struct spawnd_child	*ch;
	struct spawnd_exit	 ex;
	struct spawnd_failure	 f;
	uint64_t		 t0, dt;
	long long		 m;
	int			 r;

	(void)arg;
	if (spawnd_connect(d.sock, 5000, &c) != 0 ||
	    spawnd_req_new(&req) != 0 || spawnd_req_set_argv(req, argv) != 0) {
		tl_fail(__FILE__, __LINE__, "canary set-up");
		return NULL;
	}
	while (!atomic_load(&canary_stop)) {
		if (atomic_load(&canary_pause)) {
			atomic_store(&canary_idle, 1);
			tl_sleep_ms(5);
			continue;
		}
		atomic_store(&canary_idle, 0);
		t0 = tl_now_ms();
		ch = NULL;
		r = spawnd_spawn(c, req, &ch, &f);
		if (r == 0)
			r = spawnd_child_wait(ch, 5000, &ex);
		dt = tl_now_ms() - t0;
		if (r == 0 && WIFEXITED(ex.status) && WEXITSTATUS(ex.status) ==
		    0 && dt < 5000)
			atomic_fetch_add(&canary_ok, 1);
		else {
			atomic_fetch_add(&canary_fail, 1);
			tl_log("canary: %s after %llu ms", r ? strerror(-r) :
			    "bad status", (unsigned long long)dt);
		}
		m = atomic_load(&canary_max_ms);
		if ((long long)dt > m)
			atomic_store(&canary_max_ms, (long long)dt);
		spawnd_child_free(ch);
		tl_sleep_ms(2);
	}
	spawnd_req_free(req);
	spawnd_client_free(c);
	return NULL;
}

/* Spawns argv through c with flags; the child handle or NULL. */
static struct spawnd_child *
lib_spawn(struct spawnd_client *c, const char *const *argv,
    unsigned int flags)
{
	struct spawnd_req	*req;
	struct spawnd_child	*ch = NULL;
	struct spawnd_failure	 f;

	if (spawnd_req_new(&req) != 0)
		return NULL;
	if (spawnd_req_set_argv(req, argv) != 0 ||
	    spawnd_req_set_flags(req, flags) != 0 ||
	    spawnd_spawn(c, req, &ch, &f) != 0)
		ch = NULL;
	spawnd_req_free(req);
	return ch;
}

/*
 * The victim: reaches state st, writes a report on rep, then waits to be
 * killed.  wfd is the write end of a pipe the parent watches; the victim
 * passes it to the daemon where the state has fds.
 */
static void
victim(enum state st, int rep, int wfd)
{
	const char		*true_argv[] = { "/bin/true", NULL };
	const char		*sleep_argv[] = { "/bin/sleep", "30", NULL };
	struct report		 r = { 0, 0 };
	struct spawnd_client	*c;
	struct spawnd_child	*a, *b;
	struct pollfd		 pfd;
	int			 s = -1, w[2] = { wfd, wfd };

	alarm(20);
	if (st != S_RUNNING && st != S_EXIT_UNREAD &&
	    (s = st_raw_connect(d.sock)) < 0)
		_exit(2);
	switch (st) {
	case S_CONNECTED:
		break;
	case S_HELLO:
		(void)st_hello(s, 0);
		break;
	case S_MID_REQUEST:
		if (st_hello(s, 1) != 0 ||
		    st_send_half_spawn(s, 1, true_argv, w, 2) != 0)
			_exit(2);
		break;
	case S_FDS_IN_FLIGHT:
		if (st_hello(s, 1) != 0 ||
		    st_send_spawn(s, 1, true_argv, w, 1, 0) != 0)
			_exit(2);
		break;
	case S_UNANSWERED:
		if (st_hello(s, 1) != 0 ||
		    st_send_spawn(s, 1, sleep_argv, NULL, 0, 0) != 0)
			_exit(2);
		break;
	case S_RUNNING:
		if (spawnd_connect(d.sock, 5000, &c) != 0 ||
		    (a = lib_spawn(c, sleep_argv, 0)) == NULL ||
		    (b = lib_spawn(c, sleep_argv, SPAWND_DETACH)) == NULL)
			_exit(2);
		r.tied = spawnd_child_pid(a);
		r.detached = spawnd_child_pid(b);
		break;
	case S_EXIT_UNREAD:
		if (spawnd_connect(d.sock, 5000, &c) != 0 ||
		    (a = lib_spawn(c, true_argv, 0)) == NULL)
			_exit(2);
		pfd.fd = spawnd_child_fd(a);
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 5000) != 1)
			_exit(2);
		break;
	default:
		_exit(2);
	}
	close(wfd);
	if (write(rep, &r, sizeof r) != sizeof r)
		_exit(2);
	for (;;)
		pause();
}

/* Per-round results. */
static int	n_state[S_COUNT], n_victim_failed;

static void
round_one(unsigned int *seed)
{
	enum state	 st = (enum state)(rand_r(seed) % S_COUNT);
	struct report	 r;
	int		 rep[2], p[2], status, pidfd = -1, got;
	pid_t		 pid;

	n_state[st]++;
	if (pipe2(rep, O_CLOEXEC) == -1 || pipe2(p, O_CLOEXEC) == -1) {
		tl_fail(__FILE__, __LINE__, "pipe: %s", strerror(errno));
		return;
	}
	if ((pid = fork()) == 0) {
		close(rep[0]);
		close(p[0]);
		victim(st, rep[1], p[1]);
	}
	close(rep[1]);
	close(p[1]);
	got = (int)read(rep[0], &r, sizeof r);
	close(rep[0]);
	if (got != sizeof r) {
		/* It could not reach the state: a daemon fault. */
		n_victim_failed++;
		tl_fail(__FILE__, __LINE__, "victim in state %s failed",
		    state_names[st]);
	}
	if (got == sizeof r && st == S_RUNNING)
		pidfd = (int)syscall(SYS_pidfd_open, r.detached, 0);
	tl_sleep_ms((unsigned int)(rand_r(seed) % 4));
	(void)kill(pid, SIGKILL);
	(void)waitpid(pid, &status, 0);
	/* Passed fds are closed by the daemon (and its child, if any). */
	if (!st_pipe_eof(p[0], 3000))
		tl_fail(__FILE__, __LINE__, "state %s: a passed fd is still "
		    "open", state_names[st]);
	close(p[0]);
	if (got == sizeof r && st == S_RUNNING) {
		if (!st_wait_gone(r.tied, 2000))
			tl_fail(__FILE__, __LINE__, "tied child %d still runs "
			    "2 s after its client died", (int)r.tied);
		if (!st_pid_running(r.detached))
			tl_fail(__FILE__, __LINE__, "detached child %d did not "
			    "survive its client", (int)r.detached);
		if (pidfd >= 0) {
			(void)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL,
			    NULL, 0);
			close(pidfd);
		}
	}
}

/* Canary paused: the daemon is back to its baseline. */
static void
checkpoint(int round, int base)
{
	uint64_t	end;
	int		n, z;

	atomic_store(&canary_pause, 1);
	end = tl_now_ms() + 5000;
	while (!atomic_load(&canary_idle) && tl_now_ms() < end)
		tl_sleep_ms(2);
	end = tl_now_ms() + 5000;
	while ((n = st_children(d.pid, NULL, 0, &z)) > 0 &&
	    tl_now_ms() < end)
		tl_sleep_ms(20);
	if (n != 0)
		tl_fail(__FILE__, __LINE__, "round %d: %d children of the "
		    "daemon left (%d zombies)", round, n, z);
	n = tl_settle_fds(&d, base, 3000);
	if (n != base) {
		tl_fail(__FILE__, __LINE__, "round %d: daemon fd count %d, "
		    "baseline %d", round, n, base);
		tl_fd_dump(d.pid);
	}
	CHECK_INT(st_lasting_zombies(d.pid, 1000), ==, 0);
	CHECK(st_alive(&d));
	atomic_store(&canary_pause, 0);
}

int
main(void)
{
	struct st_opts	 o = { 0 };
	pthread_t	 canary;
	unsigned int	 seed;
	uint64_t	 t0;
	long		 rounds;
	long		 rss0, rss1;
	int		 base, i;

	signal(SIGPIPE, SIG_IGN);
	rounds = st_env_long("STRESS_ROUNDS", st_quick() ? 200 : 1000);
	seed = (unsigned int)st_env_long("STRESS_SEED", (long)time(NULL));
	alarm((unsigned int)(60 + rounds / 5));
	tl_log("stress-kill: %ld rounds, seed %u", rounds, seed);
	if (st_start(&d, &o) != 0)
		return tl_exit();
	atomic_store(&canary_pause, 1);
	if (pthread_create(&canary, NULL, canary_main, NULL) != 0) {
		tl_fail(__FILE__, __LINE__, "pthread_create");
		tl_stop(&d);
		return tl_exit();
	}
	while (!atomic_load(&canary_idle))
		tl_sleep_ms(2);
	base = tl_idle_fds(&d);
	rss0 = st_rss_kib(d.pid);
	tl_log("baseline: %d fds (canary connected), RSS %ld KiB", base, rss0);
	atomic_store(&canary_pause, 0);
	t0 = tl_now_ms();
	for (i = 1; i <= rounds && atomic_load(&tl_failures) < 10; i++) {
		round_one(&seed);
		if (i % 50 == 0 || i == rounds)
			checkpoint(i, base);
	}
	atomic_store(&canary_stop, 1);
	pthread_join(canary, NULL);
	rss1 = st_rss_kib(d.pid);
	tl_log("%d rounds in %.1f s:", i - 1, (double)(tl_now_ms() - t0) /
	    1000);
	for (i = 0; i < S_COUNT; i++)
		tl_log("  %-14s %d", state_names[i], n_state[i]);
	tl_log("canary: %d spawns ok, %d failed, slowest %lld ms",
	    atomic_load(&canary_ok), atomic_load(&canary_fail),
	    (long long)atomic_load(&canary_max_ms));
	tl_log("daemon RSS %ld KiB -> %ld KiB", rss0, rss1);
	CHECK_INT(atomic_load(&canary_fail), ==, 0);
	CHECK_INT(atomic_load(&canary_ok), >, 0);
	CHECK_INT(n_victim_failed, ==, 0);
	CHECK_OK(tl_spawn_true(&d));
	tl_stop(&d);
	return tl_exit();
}
