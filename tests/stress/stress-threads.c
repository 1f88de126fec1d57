/*
 * stress-threads: the client library from 16 threads at once, every face
 * of it: each thread has its own handle (spawn, kill, wait, ping), and
 * all of them share spawnd_run() and the posix face (spawnd_posix_spawn,
 * spawnd_waitpid with a pid and with -1: the one process-wide table).
 * Built with -fsanitize=thread by `make tsan`, where ThreadSanitizer
 * reports any data race (exit 66); in a plain build it checks results
 * only.  STRESS_ROUNDS per thread (default 100, 20 with STRESS_QUICK=1).
 */

#include "stresslib.h"

#define THREADS		16

static struct tl_daemon	 d;
static long		 rounds;
static atomic_int	 n_ok, n_fail;
static pthread_barrier_t barrier;

static void
tally(int ok, const char *what, int r)
{
	if (ok)
		atomic_fetch_add(&n_ok, 1);
	else {
		atomic_fetch_add(&n_fail, 1);
		tl_log("%s: %s", what, r < 0 ? strerror(-r) : "bad status");
	}
}

/* The handle API: spawn a sleeper, kill it, wait; spawn true, wait. */
static void
handle_round(struct spawnd_client *c)
{
	const char		*sleep_argv[] = { "/bin/sleep", "30", NULL };
	const char		*true_argv[] = { "/bin/true", NULL };
	struct spawnd_req	*req;
	struct spawnd_child	*ch = NULL;
	struct spawnd_failure	 f;
	struct spawnd_exit	 ex;
	struct spawnd_status	 st;
	int			 r;

	if ((r = spawnd_req_new(&req)) != 0) {
		tally(0, "req_new", r);
		return;
	}
	(void)spawnd_req_set_argv(req, sleep_argv);
	r = spawnd_spawn(c, req, &ch, &f);
	if (r == 0)
		r = spawnd_child_kill(ch, SIGKILL, 0);
	if (r == 0)
		r = spawnd_child_wait(ch, 10000, &ex);
	tally(r == 0 && WIFSIGNALED(ex.status), "spawn/kill/wait", r);
	spawnd_child_free(ch);
	ch = NULL;
	(void)spawnd_req_set_argv(req, true_argv);
	r = spawnd_spawn(c, req, &ch, &f);
	if (r == 0)
		r = spawnd_child_wait(ch, 10000, &ex);
	tally(r == 0 && WIFEXITED(ex.status) && WEXITSTATUS(ex.status) == 0,
	    "spawn/wait", r);
	spawnd_child_free(ch);
	spawnd_req_free(req);
	r = spawnd_ping(c, 10000, &st);
	tally(r == 0, "ping", r);
}

/* The shared faces: spawnd_run and posix_spawn + waitpid. */
static void
shared_round(long i)
{
	char *const		 argv[] = { TL_UNCONST("/bin/true"), NULL };
	char *const		 envp[] = { NULL };
	const char		*rargv[] = { "/bin/true", NULL };
	struct spawnd_req	*req;
	struct spawnd_exit	 ex;
	struct spawnd_failure	 f;
	pid_t			 pid, w;
	int			 r, status;

	if (spawnd_req_new(&req) == 0) {
		(void)spawnd_req_set_argv(req, rargv);
		r = spawnd_run(d.sock, req, &ex, &f);
		tally(r == 0 && WIFEXITED(ex.status), "spawnd_run", r);
		spawnd_req_free(req);
	}
	r = spawnd_posix_spawn(&pid, "/bin/true", NULL, NULL, argv, envp);
	if (r != 0) {
		tally(0, "posix_spawn", -r);
		return;
	}
	/* Odd rounds reap by pid, even ones wait for this very pid too, but
	 * through the table's WNOHANG path first. */
	if (i % 2 == 0) {
		while ((w = spawnd_waitpid(pid, &status, WNOHANG)) == 0)
			tl_sleep_ms(1);
	} else
		w = spawnd_waitpid(pid, &status, 0);
	tally(w == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "waitpid", w < 0 ? -errno : 0);
}

static void *
thread_main(void *arg)
{
	struct spawnd_client	*c = NULL;
	long			 i;
	int			 r;

	(void)arg;
	r = spawnd_connect(d.sock, 10000, &c);
	pthread_barrier_wait(&barrier);
	if (r != 0) {
		tally(0, "connect", r);
		return NULL;
	}
	for (i = 0; i < rounds; i++) {
		handle_round(c);
		shared_round(i);
	}
	spawnd_client_free(c);
	return NULL;
}

int
main(void)
{
	struct st_opts	o = { 0 };
	pthread_t	t[THREADS];
	uint64_t	t0;
	int		i;

	signal(SIGPIPE, SIG_IGN);
	rounds = st_env_long("STRESS_ROUNDS", st_quick() ? 20 : 100);
	alarm(600);
	if (st_start(&d, &o) != 0)
		return tl_exit();
	/* The posix face finds the daemon here. */
	setenv("SPAWND_SOCKET", d.sock, 1);
	pthread_barrier_init(&barrier, NULL, THREADS);
	t0 = tl_now_ms();
	for (i = 0; i < THREADS; i++)
		if (pthread_create(&t[i], NULL, thread_main, NULL) != 0) {
			tl_fail(__FILE__, __LINE__, "pthread_create");
			exit(1);
		}
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&barrier);
	tl_log("%d threads x %ld rounds in %.1f s: %d calls ok, %d failed",
	    THREADS, rounds, (double)(tl_now_ms() - t0) / 1000,
	    atomic_load(&n_ok), atomic_load(&n_fail));
	CHECK_INT(atomic_load(&n_fail), ==, 0);
	CHECK_INT(atomic_load(&n_ok), ==, THREADS * rounds * 5);
	tl_stop(&d);
	return tl_exit();
}
