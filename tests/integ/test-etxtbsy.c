/*
 * test-etxtbsy: the multithreaded write-then-exec workload through spawnd.
 *
 * 20 threads, each for 50 rounds: write a script to its own file (opened
 * O_CLOEXEC, as careful programs do), close it, spawn it through spawnd
 * with its own client, wait.  With fork+exec in this process some execs
 * fail with ETXTBSY because another thread's child holds the file open for
 * writing; through spawnd there must be none, and every child exits 0.
 */

#include "testlib.h"

#define NTHREADS	20
#define ROUNDS		50

static const char	 script[] = "#!/bin/sh\nexit 0\n";
static struct tl_daemon	 d;
static int		 rounds = ROUNDS;	/* fewer under valgrind */
static pthread_barrier_t barrier;
static atomic_int	 n_ok, n_etxtbsy, n_other, n_badexit;

static void *
worker(void *arg)
{
	struct spawnd_client	*c = NULL;
	struct spawnd_req	*req = NULL;
	struct spawnd_child	*ch;
	struct spawnd_failure	 f;
	struct spawnd_exit	 ex;
	const char		*argv[2];
	char			 path[256];
	int			 id = (int)(intptr_t)arg, i, fd, r;

	snprintf(path, sizeof path, "%s/script-%d", d.dir, id);
	argv[0] = path;
	argv[1] = NULL;
	r = spawnd_connect(d.sock, tl_scale(5000), &c);
	if (r == 0 && (r = spawnd_req_new(&req)) == 0)
		r = spawnd_req_set_argv(req, argv);
	pthread_barrier_wait(&barrier);
	if (r < 0) {
		tl_fail(__FILE__, __LINE__, "thread %d: set-up: %s", id,
		    strerror(-r));
		goto out;
	}
	for (i = 0; i < rounds; i++) {
		fd = open(path, O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0755);
		if (fd == -1 || write(fd, script, sizeof script - 1) !=
		    (ssize_t)(sizeof script - 1) || close(fd) == -1) {
			tl_fail(__FILE__, __LINE__, "%s: %s", path,
			    strerror(errno));
			break;
		}
		ch = NULL;
		r = spawnd_spawn(c, req, &ch, &f);
		if (r == -ETXTBSY) {
			atomic_fetch_add(&n_etxtbsy, 1);
			continue;
		}
		if (r < 0) {
			atomic_fetch_add(&n_other, 1);
			tl_log("thread %d round %d: %s at step %s", id, i,
			    strerror(-r), spawnd_step_name(f.step));
			continue;
		}
		r = spawnd_child_wait(ch, tl_scale(20000), &ex);
		if (r < 0) {
			atomic_fetch_add(&n_other, 1);
			tl_log("thread %d round %d: wait: %s", id, i,
			    strerror(-r));
		} else if (!WIFEXITED(ex.status) ||
		    WEXITSTATUS(ex.status) != 0) {
			atomic_fetch_add(&n_badexit, 1);
			tl_log("thread %d round %d: status 0x%x", id, i,
			    ex.status);
		} else
			atomic_fetch_add(&n_ok, 1);
		spawnd_child_free(ch);
	}
out:
	spawnd_req_free(req);
	spawnd_client_free(c);
	return NULL;
}

int
main(void)
{
	pthread_t	t[NTHREADS];
	uint64_t	t0;
	int		i, n;

	signal(SIGPIPE, SIG_IGN);
	if (tl_valgrind())
		rounds = ROUNDS / 10;
	if (tl_start(&d) != 0)
		goto out;
	pthread_barrier_init(&barrier, NULL, NTHREADS);
	t0 = tl_now_ms();
	for (n = 0; n < NTHREADS; n++) {
		if (pthread_create(&t[n], NULL, worker,
		    (void *)(intptr_t)n) != 0) {
			tl_fail(__FILE__, __LINE__, "pthread_create");
			/* Release the others from the barrier. */
			exit(1);
		}
	}
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&barrier);
	tl_log("%d threads x %d rounds in %.2f s: %d ok, %d ETXTBSY, "
	    "%d other errors, %d bad exits", NTHREADS, rounds,
	    (double)(tl_now_ms() - t0) / 1000, atomic_load(&n_ok),
	    atomic_load(&n_etxtbsy), atomic_load(&n_other),
	    atomic_load(&n_badexit));
	CHECK_INT(atomic_load(&n_etxtbsy), ==, 0);
	CHECK_INT(atomic_load(&n_other), ==, 0);
	CHECK_INT(atomic_load(&n_badexit), ==, 0);
	CHECK_INT(atomic_load(&n_ok), ==, NTHREADS * rounds);
out:
	tl_stop(&d);
	return tl_exit();
}
