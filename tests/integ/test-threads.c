/*
 * test-threads: 50 client threads, each with its own connection, spawn and
 * wait for /bin/true 100 times, all at once against one daemon.  Every
 * spawn succeeds, the daemon's counters add up, and once every client has
 * gone the daemon holds exactly the fds it held when idle before.
 */

#include "testlib.h"

#define NTHREADS	50
#define ROUNDS		100

static struct tl_daemon	 d;
static int		 rounds = ROUNDS;	/* fewer under valgrind */
static pthread_barrier_t barrier;
static atomic_int	 n_ok, n_fail;

static void *
worker(void *arg)
{
	const char		*argv[] = { "/bin/true", NULL };
	struct spawnd_client	*c = NULL;
	struct spawnd_req	*req = NULL;
	struct spawnd_child	*ch;
	struct spawnd_failure	 f;
	struct spawnd_exit	 ex;
	int			 id = (int)(intptr_t)arg, i, r;

	r = spawnd_connect(d.sock, tl_scale(10000), &c);
	if (r == 0 && (r = spawnd_req_new(&req)) == 0)
		r = spawnd_req_set_argv(req, argv);
	pthread_barrier_wait(&barrier);
	if (r < 0) {
		tl_fail(__FILE__, __LINE__, "thread %d: set-up: %s", id,
		    strerror(-r));
		atomic_fetch_add(&n_fail, rounds);
		goto out;
	}
	for (i = 0; i < rounds; i++) {
		ch = NULL;
		memset(&f, 0, sizeof f);
		r = spawnd_spawn(c, req, &ch, &f);
		if (r < 0) {
			atomic_fetch_add(&n_fail, 1);
			tl_log("thread %d round %d: spawn: %s at step %s", id,
			    i, strerror(-r), spawnd_step_name(f.step));
			if (r == -EPIPE || r == -ECONNRESET || r == -ENOTCONN)
				break;
			continue;
		}
		r = spawnd_child_wait(ch, tl_scale(30000), &ex);
		if (r < 0 || !WIFEXITED(ex.status) ||
		    WEXITSTATUS(ex.status) != 0) {
			atomic_fetch_add(&n_fail, 1);
			tl_log("thread %d round %d: wait: %d status 0x%x", id,
			    i, r, r < 0 ? 0 : ex.status);
		} else
			atomic_fetch_add(&n_ok, 1);
		spawnd_child_free(ch);
	}
out:
	spawnd_req_free(req);
	spawnd_client_free(c);
	return NULL;
}

static int
ping(struct spawnd_status *st)
{
	struct spawnd_client	*c;
	int			 r;

	memset(st, 0, sizeof *st);
	if ((c = tl_connect(&d)) == NULL)
		return -1;
	r = spawnd_ping(c, tl_scale(5000), st);
	CHECK_OK(r);
	spawnd_client_free(c);
	return r;
}

int
main(void)
{
	pthread_t		t[NTHREADS];
	struct spawnd_status	st0, st1;
	uint64_t		t0, dt;
	int			i, n, base;

	signal(SIGPIPE, SIG_IGN);
	if (tl_valgrind())
		rounds = ROUNDS / 10;
	if (tl_start(&d) != 0)
		goto out;
	CHECK_OK(tl_spawn_true(&d));
	base = tl_idle_fds(&d);
	tl_log("daemon idle fds: %d", base);
	if (ping(&st0) != 0)
		goto out;
	CHECK_INT(st0.pid, ==, d.pid);

	pthread_barrier_init(&barrier, NULL, NTHREADS);
	t0 = tl_now_ms();
	for (n = 0; n < NTHREADS; n++) {
		if (pthread_create(&t[n], NULL, worker,
		    (void *)(intptr_t)n) != 0) {
			tl_fail(__FILE__, __LINE__, "pthread_create");
			exit(1);
		}
	}
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&barrier);
	dt = tl_now_ms() - t0;
	tl_log("%d threads x %d spawns in %.2f s (%.0f spawns/s): %d ok, "
	    "%d failed", NTHREADS, rounds, (double)dt / 1000,
	    (double)(NTHREADS * rounds) * 1000 / (double)(dt ? dt : 1),
	    atomic_load(&n_ok), atomic_load(&n_fail));
	CHECK_INT(atomic_load(&n_ok), ==, NTHREADS * rounds);
	CHECK_INT(atomic_load(&n_fail), ==, 0);

	TL_CHECK_FDS(&d, base);
	if (ping(&st1) == 0) {
		CHECK_INT(st1.spawns - st0.spawns, ==, NTHREADS * rounds);
		CHECK_INT(st1.children, ==, 0);
		CHECK_INT(st1.connections, ==, 1);
	}
	TL_CHECK_FDS(&d, base);
out:
	tl_stop(&d);
	return tl_exit();
}
