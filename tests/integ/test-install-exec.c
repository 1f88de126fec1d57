/*
 * test-install-exec: install-then-exec from many threads, through spawnd.
 *
 * NINST threads, each for ROUNDS rounds: spawnd_install() a script that
 * prints a token unique to the thread and the round, then spawn it by the
 * returned read-only fd (spawnd_req_set_exec_fd) and read what it prints.
 * Meanwhile NSPAWN other threads spawn /bin/true in a loop.  The rounds
 * cycle through replace / no-replace and O_TMPFILE / hidden temp name.
 * There must be no ETXTBSY (no writable fd on the file survives the
 * install, and the daemon holds none), every run must print the token
 * just installed, and every child must exit 0.
 */

#include "testlib.h"

#define NINST		20
#define NSPAWN		4
#define ROUNDS		25

static struct tl_daemon	 d;
static int		 dirfd_;
static pthread_barrier_t barrier;
static atomic_int	 installers_left = NINST;
static atomic_int	 n_ok, n_etxtbsy, n_install, n_spawn, n_token;
static atomic_int	 n_badexit, n_bg;

static int	 round_once(struct spawnd_client *, struct spawnd_req *,
		    int, int);
static void	*installer(void *);
static void	*spawner(void *);

/* Installs, spawns by fd and checks one round's token.  0 or -1. */
static int
round_once(struct spawnd_client *c, struct spawnd_req *req, int id,
    int round)
{
	static const unsigned int flags[] = { 0, SPAWND_INSTALL_NOREPLACE,
	    SPAWND_INSTALL_NO_TMPFILE,
	    SPAWND_INSTALL_NO_TMPFILE | SPAWND_INSTALL_NOREPLACE };
	struct spawnd_child	*ch = NULL;
	struct spawnd_failure	 f;
	struct spawnd_exit	 ex;
	char			 name[64], token[64], script[128], out[256];
	unsigned int		 fl = flags[round % 4];
	int			 fd, p[2], r, ret = -1;

	snprintf(token, sizeof token, "token-%d-%d-%u", id, round,
	    (unsigned int)tl_now_ms());
	snprintf(script, sizeof script, "#!/bin/sh\necho %s\n", token);
	/* No-replace rounds install under a new name; the others replace. */
	if (fl & SPAWND_INSTALL_NOREPLACE)
		snprintf(name, sizeof name, "prog-%d-%d", id, round);
	else
		snprintf(name, sizeof name, "prog-%d", id);
	fd = spawnd_install(dirfd_, name, script, strlen(script), -1, 0755,
	    fl);
	if (fd < 0) {
		atomic_fetch_add(&n_install, 1);
		tl_log("thread %d round %d: install: %s", id, round,
		    strerror(-fd));
		return -1;
	}
	if (pipe2(p, O_CLOEXEC) == -1) {
		close(fd);
		return -1;
	}
	CHECK_OK(spawnd_req_set_exec_fd(req, fd));
	CHECK_OK(spawnd_req_set_fd(req, p[1], 1));
	r = spawnd_spawn(c, req, &ch, &f);
	close(p[1]);
	close(fd);
	if (r == -ETXTBSY)
		atomic_fetch_add(&n_etxtbsy, 1);
	if (r < 0) {
		atomic_fetch_add(&n_spawn, 1);
		tl_log("thread %d round %d: spawn: %s at step %s", id, round,
		    strerror(-r), spawnd_step_name(f.step));
		goto out;
	}
	if (tl_read_all(p[0], out, sizeof out, tl_scale(20000)) < 0 ||
	    strncmp(out, token, strlen(token)) != 0 ||
	    strcmp(out + strlen(token), "\n") != 0) {
		atomic_fetch_add(&n_token, 1);
		tl_log("thread %d round %d: printed '%s', not '%s'", id,
		    round, out, token);
	}
	if (spawnd_child_wait(ch, tl_scale(20000), &ex) < 0 ||
	    !WIFEXITED(ex.status) || WEXITSTATUS(ex.status) != 0)
		atomic_fetch_add(&n_badexit, 1);
	else
		ret = 0;
out:
	spawnd_child_free(ch);
	close(p[0]);
	return ret;
}

static void *
installer(void *arg)
{
	const char		*argv[] = { "prog", NULL };
	struct spawnd_client	*c;
	struct spawnd_req	*req = NULL;
	int			 id = (int)(intptr_t)arg, i;

	c = tl_connect(&d);
	if (c != NULL) {
		CHECK_OK(spawnd_req_new(&req));
		CHECK_OK(spawnd_req_set_argv(req, argv));
	}
	pthread_barrier_wait(&barrier);
	for (i = 0; c != NULL && req != NULL && i < ROUNDS; i++) {
		if (round_once(c, req, id, i) == 0)
			atomic_fetch_add(&n_ok, 1);
	}
	spawnd_req_free(req);
	spawnd_client_free(c);
	atomic_fetch_sub(&installers_left, 1);
	return NULL;
}

/* Background load: spawn /bin/true until the installers are done. */
static void *
spawner(void *arg)
{
	(void)arg;
	pthread_barrier_wait(&barrier);
	while (atomic_load(&installers_left) > 0) {
		CHECK_OK(tl_spawn_true(&d));
		atomic_fetch_add(&n_bg, 1);
	}
	return NULL;
}

int
main(void)
{
	pthread_t	t[NINST + NSPAWN];
	uint64_t	t0;
	int		i;

	signal(SIGPIPE, SIG_IGN);
	if (tl_start(&d) != 0)
		goto out;
	dirfd_ = open(d.dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(dirfd_ != -1);
	pthread_barrier_init(&barrier, NULL, NINST + NSPAWN);
	t0 = tl_now_ms();
	for (i = 0; i < NINST + NSPAWN; i++) {
		if (pthread_create(&t[i], NULL, i < NINST ? installer :
		    spawner, (void *)(intptr_t)i) != 0) {
			tl_fail(__FILE__, __LINE__, "pthread_create");
			exit(1);	/* the others wait at the barrier */
		}
	}
	for (i = 0; i < NINST + NSPAWN; i++)
		pthread_join(t[i], NULL);
	pthread_barrier_destroy(&barrier);
	tl_log("%d installer threads x %d rounds, %d spawner threads "
	    "(%d spawns) in %.2f s: %d ok, %d ETXTBSY, %d install errors, "
	    "%d other spawn errors, %d wrong tokens, %d bad exits", NINST,
	    ROUNDS, NSPAWN, atomic_load(&n_bg),
	    (double)(tl_now_ms() - t0) / 1000, atomic_load(&n_ok),
	    atomic_load(&n_etxtbsy), atomic_load(&n_install),
	    atomic_load(&n_spawn) - atomic_load(&n_etxtbsy),
	    atomic_load(&n_token), atomic_load(&n_badexit));
	CHECK_INT(atomic_load(&n_etxtbsy), ==, 0);
	CHECK_INT(atomic_load(&n_install), ==, 0);
	CHECK_INT(atomic_load(&n_spawn), ==, 0);
	CHECK_INT(atomic_load(&n_token), ==, 0);
	CHECK_INT(atomic_load(&n_badexit), ==, 0);
	CHECK_INT(atomic_load(&n_ok), ==, NINST * ROUNDS);
	close(dirfd_);
out:
	tl_stop(&d);
	return tl_exit();
}
