/*
 * stress-load: load against one daemon.
 *
 *   exits	one client, 500 children blocked reading a shared pipe; the
 *		pipe is closed and all 500 exit at once: 500 exit records
 *		must arrive, all status 0.
 *   clients	256 concurrent clients (threads, a connection each) x 100
 *		spawn+wait of /bin/true (20 with STRESS_QUICK=1): 100 %
 *		success.
 *   mixed	10^5 mixed requests (10^4 quick) from 8 threads: spawn+wait,
 *		spawns with fds, exec failures, refused requests, pings,
 *		kills, split requests, detached children, new connections.
 *		Every request gets its expected answer; afterwards the
 *		daemon's fd count equals its baseline, its RSS grew less
 *		than 1 MiB after warm-up, no zombie is left.
 *
 * STRESS_LOAD=exits,clients,mixed runs some only.
 */

#include "stresslib.h"

#define EXITS		500
#define CLIENTS		256
#define MIX_THREADS	8

static struct tl_daemon	 d;

static int
wanted(const char *name)
{
	const char	*f = getenv("STRESS_LOAD");

	return f == NULL || *f == '\0' || strstr(f, name) != NULL;
}

static void
test_exits(void)
{
	const char		*argv[] = { "/bin/cat", NULL };
	struct spawnd_client	*c;
	struct spawnd_req	*req = NULL;
	struct spawnd_child	*ch[EXITS] = { NULL };
	struct spawnd_failure	 f;
	struct spawnd_exit	 ex;
	uint64_t		 t0, t1;
	int			 p[2], null, i, n = 0, ok = 0, r, base;

	tl_log("== %d children exit at once", EXITS);
	base = tl_idle_fds(&d);
	CHECK(pipe2(p, O_CLOEXEC) == 0);
	CHECK((null = open("/dev/null", O_WRONLY | O_CLOEXEC)) >= 0);
	if ((c = tl_connect(&d)) == NULL)
		return;
	CHECK_OK(spawnd_req_new(&req));
	CHECK_OK(spawnd_req_set_argv(req, argv));
	CHECK_OK(spawnd_req_set_fd(req, p[0], 0));
	CHECK_OK(spawnd_req_set_fd(req, null, 1));
	t0 = tl_now_ms();
	for (i = 0; i < EXITS; i++) {
		if ((r = spawnd_spawn(c, req, &ch[i], &f)) < 0) {
			tl_fail(__FILE__, __LINE__, "spawn %d: %s", i,
			    strerror(-r));
			break;
		}
		n++;
	}
	t1 = tl_now_ms();
	close(p[0]);
	close(p[1]);		/* all of them see EOF now */
	for (i = 0; i < n; i++) {
		r = spawnd_child_wait(ch[i], 30000, &ex);
		if (r == 0 && WIFEXITED(ex.status) &&
		    WEXITSTATUS(ex.status) == 0)
			ok++;
		else if (r != 0)
			tl_log("child %d: %s", i, strerror(-r));
	}
	tl_log("   %d spawned in %.2f s; %d exit records, all status 0, "
	    "%.2f s after the release", n, (double)(t1 - t0) / 1000, ok,
	    (double)(tl_now_ms() - t1) / 1000);
	CHECK_INT(n, ==, EXITS);
	CHECK_INT(ok, ==, EXITS);
	for (i = 0; i < EXITS; i++)
		spawnd_child_free(ch[i]);
	spawnd_req_free(req);
	spawnd_client_free(c);
	close(null);
	TL_CHECK_FDS(&d, base);
	CHECK_INT(st_lasting_zombies(d.pid, 1000), ==, 0);
}

static int		 rounds;
static pthread_barrier_t barrier;
static atomic_int	 n_ok, n_fail;

static void *
client_main(void *arg)
{
	const char		*argv[] = { "/bin/true", NULL };
	struct spawnd_client	*c = NULL;
	struct spawnd_req	*req = NULL;
	struct spawnd_child	*ch;
	struct spawnd_failure	 f;
	struct spawnd_exit	 ex;
	int			 i, r;

	(void)arg;
	r = spawnd_connect(d.sock, 30000, &c);
	if (r == 0 && (r = spawnd_req_new(&req)) == 0)
		r = spawnd_req_set_argv(req, argv);
	pthread_barrier_wait(&barrier);
	if (r != 0) {
		tl_log("client set-up: %s", strerror(-r));
		atomic_fetch_add(&n_fail, rounds);
		goto out;
	}
	for (i = 0; i < rounds; i++) {
		ch = NULL;
		r = spawnd_spawn(c, req, &ch, &f);
		if (r == 0)
			r = spawnd_child_wait(ch, 30000, &ex);
		if (r == 0 && WIFEXITED(ex.status) &&
		    WEXITSTATUS(ex.status) == 0)
			atomic_fetch_add(&n_ok, 1);
		else {
			atomic_fetch_add(&n_fail, 1);
			tl_log("spawn: %s (step %s)", strerror(r ? -r : EIO),
			    spawnd_step_name(f.step));
		}
		spawnd_child_free(ch);
	}
out:
	spawnd_req_free(req);
	spawnd_client_free(c);
	return NULL;
}

static void
test_clients(void)
{
	pthread_t	*t;
	pthread_attr_t	 attr;
	uint64_t	 t0, dt;
	int		 i, n, base;

	rounds = st_quick() ? 20 : 100;
	tl_log("== %d concurrent clients x %d spawn+wait", CLIENTS, rounds);
	base = tl_idle_fds(&d);
	t = calloc(CLIENTS, sizeof *t);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 * 1024);
	pthread_barrier_init(&barrier, NULL, CLIENTS);
	t0 = tl_now_ms();
	for (n = 0; n < CLIENTS; n++)
		if (pthread_create(&t[n], &attr, client_main, NULL) != 0) {
			tl_fail(__FILE__, __LINE__, "pthread_create");
			exit(1);
		}
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	dt = tl_now_ms() - t0;
	pthread_barrier_destroy(&barrier);
	pthread_attr_destroy(&attr);
	free(t);
	tl_log("   %d ok, %d failed in %.1f s (%.0f spawn+wait/s)",
	    atomic_load(&n_ok), atomic_load(&n_fail), (double)dt / 1000,
	    (double)atomic_load(&n_ok) * 1000 / (double)(dt ? dt : 1));
	CHECK_INT(atomic_load(&n_ok), ==, CLIENTS * rounds);
	CHECK_INT(atomic_load(&n_fail), ==, 0);
	TL_CHECK_FDS(&d, base);
	CHECK_INT(st_lasting_zombies(d.pid, 1000), ==, 0);
}

/* The mixed load: one kind of request per draw. */
enum mix {
	M_TRUE, M_FDS, M_ENOENT, M_REFUSED, M_PING, M_KILL, M_SPLIT,
	M_DETACHED, M_RECONNECT, M_COUNT
};

static atomic_long	 mix_next, mix_total, mix_done[M_COUNT], mix_bad;
static char		 big_arg[100 * 1024];

/* Spawns argv with flags and fds 0..nfds-1 from fds; waits if asked. */
static int
mix_spawn(struct spawnd_client *c, const char *const *argv,
    unsigned int flags, const int *fds, int nfds, int expect_err,
    int wait)
{
	struct spawnd_req	*req;
	struct spawnd_child	*ch = NULL;
	struct spawnd_failure	 f;
	struct spawnd_exit	 ex;
	int			 r, i;

	if ((r = spawnd_req_new(&req)) != 0)
		return r;
	(void)spawnd_req_set_argv(req, argv);
	(void)spawnd_req_set_flags(req, flags);
	for (i = 0; i < nfds; i++)
		(void)spawnd_req_set_fd(req, fds[i], i);
	r = spawnd_spawn(c, req, &ch, &f);
	spawnd_req_free(req);
	if (expect_err)
		return r == -expect_err ? 0 : -EPROTO;
	if (r == 0 && wait) {
		r = spawnd_child_wait(ch, 10000, &ex);
		if (r == 0 && (!WIFEXITED(ex.status) ||
		    WEXITSTATUS(ex.status) != 0))
			r = -ECHILD;
	}
	spawnd_child_free(ch);
	return r;
}

/* One request of kind k on *c (which it may replace). */
static int
mix_one(struct spawnd_client **c, enum mix k, int null)
{
	const char		*true_argv[] = { "/bin/true", NULL };
	const char		*noent_argv[] = { "/nonexistent/x", NULL };
	const char		*sleep_argv[] = { "/bin/sleep", "30", NULL };
	const char		*big_argv[] = { "/bin/true", big_arg, NULL };
	const char		*short_argv[] = { "/bin/sleep", "0.05", NULL };
	struct spawnd_req	*req;
	struct spawnd_child	*ch = NULL;
	struct spawnd_failure	 f;
	struct spawnd_exit	 ex;
	struct spawnd_status	 st;
	int			 fds[3] = { null, null, null }, r;
	int			 dirfd;

	switch (k) {
	case M_TRUE:
		return mix_spawn(*c, true_argv, 0, NULL, 0, 0, 1);
	case M_FDS:
		return mix_spawn(*c, true_argv, 0, fds, 3, 0, 1);
	case M_ENOENT:
		r = mix_spawn(*c, noent_argv, 0, NULL, 0, ENOENT, 0);
		return r;
	case M_REFUSED:
		/* A bad cwd fd: FAILED at a set-up step, link kept. */
		if ((r = spawnd_req_new(&req)) != 0)
			return r;
		dirfd = null;	/* not a directory: ENOTDIR at cwd */
		(void)spawnd_req_set_argv(req, true_argv);
		(void)spawnd_req_set_cwd_fd(req, dirfd);
		r = spawnd_spawn(*c, req, &ch, &f);
		spawnd_req_free(req);
		spawnd_child_free(ch);
		return r == -ENOTDIR ? 0 : -EPROTO;
	case M_PING:
		return spawnd_ping(*c, 10000, &st);
	case M_KILL:
		if ((r = spawnd_req_new(&req)) != 0)
			return r;
		(void)spawnd_req_set_argv(req, sleep_argv);
		(void)spawnd_req_set_flags(req, SPAWND_SETSID);
		r = spawnd_spawn(*c, req, &ch, &f);
		spawnd_req_free(req);
		if (r == 0)
			r = spawnd_child_kill(ch, SIGTERM, SPAWND_KILL_GROUP);
		if (r == 0)
			r = spawnd_child_wait(ch, 10000, &ex);
		if (r == 0 && (!WIFSIGNALED(ex.status) ||
		    WTERMSIG(ex.status) != SIGTERM))
			r = -ECHILD;
		spawnd_child_free(ch);
		return r;
	case M_SPLIT:
		return mix_spawn(*c, big_argv, 0, fds, 1, 0, 1);
	case M_DETACHED:
		return mix_spawn(*c, short_argv, SPAWND_DETACH, NULL, 0, 0, 0);
	case M_RECONNECT:
		spawnd_client_free(*c);
		*c = NULL;
		return spawnd_connect(d.sock, 10000, c);
	default:
		return -EINVAL;
	}
}

static void *
mix_main(void *arg)
{
	struct spawnd_client	*c = NULL;
	unsigned int		 seed = (unsigned int)(uintptr_t)arg;
	long			 i;
	int			 null, r;
	enum mix		 k;

	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null < 0 || spawnd_connect(d.sock, 10000, &c) != 0) {
		tl_fail(__FILE__, __LINE__, "mix set-up");
		return NULL;
	}
	while ((i = atomic_fetch_add(&mix_next, 1)) < atomic_load(
	    &mix_total)) {
		k = (enum mix)(rand_r(&seed) % M_COUNT);
		r = c != NULL ? mix_one(&c, k, null) : -ENOTCONN;
		if (r != 0) {
			if (atomic_fetch_add(&mix_bad, 1) < 10)
				tl_log("mixed request %ld (kind %d): %s", i,
				    (int)k, strerror(-r));
			if (c == NULL)
				(void)spawnd_connect(d.sock, 10000, &c);
		} else
			atomic_fetch_add(&mix_done[k], 1);
	}
	spawnd_client_free(c);
	close(null);
	return NULL;
}

/* Runs n mixed requests from MIX_THREADS threads; seconds taken. */
static double
mix_run(long n, unsigned int seed)
{
	pthread_t	t[MIX_THREADS];
	uint64_t	t0 = tl_now_ms();
	int		i;

	atomic_store(&mix_next, 0);
	atomic_store(&mix_total, n);
	for (i = 0; i < MIX_THREADS; i++)
		if (pthread_create(&t[i], NULL, mix_main,
		    (void *)(uintptr_t)(seed + (unsigned int)i)) != 0) {
			tl_fail(__FILE__, __LINE__, "pthread_create");
			exit(1);
		}
	for (i = 0; i < MIX_THREADS; i++)
		pthread_join(t[i], NULL);
	return (double)(tl_now_ms() - t0) / 1000;
}

/* No child of the daemon left (detached sleepers end by themselves). */
static void
wait_children(int ms)
{
	uint64_t	end = tl_now_ms() + (uint64_t)ms;

	while (st_children(d.pid, NULL, 0, NULL) > 0 && tl_now_ms() < end)
		tl_sleep_ms(20);
}

static void
test_mixed(void)
{
	long		 total = st_quick() ? 10000 : 100000, warm = total / 10;
	long		 rss_warm, rss_end, done = 0;
	unsigned int	 seed = (unsigned int)st_env_long("STRESS_SEED",
			    (long)time(NULL));
	double		 secs;
	int		 base, fds_warm, fds_end, i;

	tl_log("== %ld mixed requests from %d threads (seed %u)", total,
	    MIX_THREADS, seed);
	memset(big_arg, 'm', sizeof big_arg - 1);
	base = tl_idle_fds(&d);
	/* Warm-up: the allocator and libevent reach their working size. */
	secs = mix_run(warm, seed);
	wait_children(5000);
	fds_warm = tl_settle_fds(&d, base, 3000);
	rss_warm = st_rss_kib(d.pid);
	tl_log("   warm-up: %ld requests in %.1f s; fds %d, RSS %ld KiB",
	    warm, secs, fds_warm, rss_warm);
	secs = mix_run(total - warm, seed + 1000);
	wait_children(5000);
	fds_end = tl_settle_fds(&d, base, 3000);
	rss_end = st_rss_kib(d.pid);
	for (i = 0; i < M_COUNT; i++)
		done += atomic_load(&mix_done[i]);
	tl_log("   %ld requests in %.1f s (%.0f/s): %ld as expected, %ld not",
	    total - warm, secs, (double)(total - warm) / secs, done,
	    atomic_load(&mix_bad));
	tl_log("   fds %d -> %d (baseline %d); RSS %ld -> %ld KiB (%+ld)",
	    fds_warm, fds_end, base, rss_warm, rss_end, rss_end - rss_warm);
	CHECK_INT(atomic_load(&mix_bad), ==, 0);
	CHECK_INT(done, ==, total);
	CHECK_INT(fds_end, ==, base);
	CHECK_INT(rss_end - rss_warm, <, 1024);
	CHECK_INT(st_lasting_zombies(d.pid, 1000), ==, 0);
	CHECK_INT(st_children(d.pid, NULL, 0, NULL), ==, 0);
}

int
main(void)
{
	struct st_opts	o = { 0 };

	signal(SIGPIPE, SIG_IGN);
	st_raise_nofile(8192);
	alarm(st_quick() ? 300 : 1500);
	if (st_start(&d, &o) != 0)
		return tl_exit();
	if (wanted("exits"))
		test_exits();
	if (wanted("clients"))
		test_clients();
	if (wanted("mixed"))
		test_mixed();
	CHECK(st_alive(&d));
	tl_stop(&d);
	return tl_exit();
}
