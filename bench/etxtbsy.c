/*
 * etxtbsy: the multithreaded write-then-exec workload.
 *
 *	etxtbsy [-t threads] [-r rounds] [-T seconds] [-U n] [-m mode]...
 *	    [-s socket] [-d dir]
 *
 * Each of the threads (20) does, rounds (200) times: write a small shell
 * script to its own file (open O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0755),
 * close it, spawn it, wait for it.  A careful program, yet with fork (or
 * posix_spawn) another thread's child may still hold the script open for
 * writing when it is exec'd: ETXTBSY.  Modes:
 *
 *	fork		fork + execve in this process; execve's errno comes
 *			back on a CLOEXEC pipe
 *	posix_spawn	glibc's posix_spawn + waitpid
 *	spawnd		libspawnd's handle API, one client per thread
 *	spawnd-posix	spawnd_posix_spawn + spawnd_waitpid
 *	all		the four in turn (the default)
 *
 * -T stops each mode's threads after that many seconds even if rounds are
 * left (the counts say how many ran).  -U n goes on past the rounds until
 * n ETXTBSY were seen (bound it with -T): a machine where the race is
 * rare still shows it.  Prints one line per mode:
 *	MODE ok=N etxtbsy=N errors=N seconds=S rate=SPAWNS_PER_S
 * Exits 0, or 1 if spawnd modes saw any ETXTBSY or error.
 */

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spawnd.h"

enum mode { M_FORK, M_POSIX_SPAWN, M_SPAWND, M_SPAWND_POSIX, M_COUNT };

static const char *const mode_names[M_COUNT] = {
	"fork", "posix_spawn", "spawnd", "spawnd-posix"
};

static const char	 script[] = "#!/bin/sh\nexit 0\n";

extern char		**environ;

struct run {
	enum mode	 mode;
	const char	*dir;
	const char	*sock;
	int		 rounds;
	int		 until;		/* go on until this many ETXTBSY */
	double		 deadline;	/* 0, or stop at this now() */
	pthread_barrier_t barrier;
	atomic_int	 ok, etxtbsy, errors;
	atomic_int	 reported;	/* first few errors are printed */
};

struct worker {
	struct run	*run;
	int		 id;
};

static void	usage(void) __attribute__((noreturn));

static void
usage(void)
{
	fprintf(stderr, "usage: etxtbsy [-t threads] [-r rounds] [-T seconds] "
	    "[-U n] [-m fork|posix_spawn|spawnd|spawnd-posix|all]... [-s socket] "
	    "[-d dir]\n");
	exit(2);
}

static double
now(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
report(struct run *run, int id, const char *what, int err)
{
	if (atomic_fetch_add(&run->reported, 1) < 5)
		fprintf(stderr, "etxtbsy: %s thread %d: %s: %s\n",
		    mode_names[run->mode], id, what, strerror(err));
}

/* Counts the end of one spawn: err is 0 or the spawn's errno. */
static void
count(struct run *run, int id, int err, int status)
{
	if (err == ETXTBSY)
		atomic_fetch_add(&run->etxtbsy, 1);
	else if (err != 0) {
		atomic_fetch_add(&run->errors, 1);
		report(run, id, "spawn", err);
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		atomic_fetch_add(&run->errors, 1);
		report(run, id, "bad exit status", EIO);
	} else
		atomic_fetch_add(&run->ok, 1);
}

/* fork + execve; execve's errno comes back on a CLOEXEC pipe. */
static int
spawn_fork(const char *path, char *const argv[], int *ret_status)
{
	pid_t	pid;
	int	p[2], err = 0;
	ssize_t	n;

	if (pipe2(p, O_CLOEXEC) == -1)
		return errno;
	if ((pid = fork()) == -1) {
		err = errno;
		close(p[0]);
		close(p[1]);
		return err;
	}
	if (pid == 0) {
		execve(path, argv, environ);
		err = errno;
		(void)!write(p[1], &err, sizeof err);
		_exit(127);
	}
	close(p[1]);
	do
		n = read(p[0], &err, sizeof err);
	while (n == -1 && errno == EINTR);
	close(p[0]);
	if (n != sizeof err)
		err = 0;
	while (waitpid(pid, ret_status, 0) == -1)
		if (errno != EINTR)
			return errno;
	return err;
}

static int
spawn_posix(const char *path, char *const argv[], int *ret_status)
{
	pid_t	pid;
	int	err;

	if ((err = posix_spawn(&pid, path, NULL, NULL, argv, environ)) != 0)
		return err;
	while (waitpid(pid, ret_status, 0) == -1)
		if (errno != EINTR)
			return errno;
	return 0;
}

static int
spawn_spawnd_posix(const char *path, char *const argv[], int *ret_status)
{
	pid_t	pid;
	int	err;

	err = spawnd_posix_spawn(&pid, path, NULL, NULL, argv, environ);
	if (err != 0)
		return err;
	while (spawnd_waitpid(pid, ret_status, 0) == -1)
		if (errno != EINTR)
			return errno;
	return 0;
}

static int
spawn_spawnd(struct spawnd_client *c, struct spawnd_req *req,
    int *ret_status)
{
	struct spawnd_child	*ch = NULL;
	struct spawnd_exit	 ex;
	int			 r;

	if ((r = spawnd_spawn(c, req, &ch, NULL)) < 0)
		return -r;
	r = spawnd_child_wait(ch, -1, &ex);
	spawnd_child_free(ch);
	if (r < 0)
		return -r;
	*ret_status = ex.status;
	return 0;
}

static void *
worker_main(void *arg)
{
	struct worker		*w = arg;
	struct run		*run = w->run;
	struct spawnd_client	*c = NULL;
	struct spawnd_req	*req = NULL;
	char			 path[4096];
	char			*argv[2] = { path, NULL };
	int			 i, fd, err, status, setup = 0;

	snprintf(path, sizeof path, "%s/script-%d", run->dir, w->id);
	if (run->mode == M_SPAWND) {
		if ((err = spawnd_connect(run->sock, 5000, &c)) < 0 ||
		    (err = spawnd_req_new(&req)) < 0 ||
		    (err = spawnd_req_set_argv(req,
		    (const char *const *)argv)) < 0) {
			report(run, w->id, "spawnd set-up", -err);
			setup = -1;
		}
	}
	pthread_barrier_wait(&run->barrier);
	for (i = 0; i < run->rounds || atomic_load(&run->etxtbsy) <
	    run->until; i++) {
		if (run->deadline > 0 && now() >= run->deadline)
			break;
		if (setup == -1) {
			atomic_fetch_add(&run->errors, 1);
			continue;
		}
		fd = open(path, O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, 0755);
		if (fd == -1 || write(fd, script, sizeof script - 1) !=
		    (ssize_t)(sizeof script - 1)) {
			report(run, w->id, path, errno);
			atomic_fetch_add(&run->errors, 1);
			if (fd != -1)
				close(fd);
			continue;
		}
		close(fd);
		status = 0;
		switch (run->mode) {
		case M_FORK:
			err = spawn_fork(path, argv, &status);
			break;
		case M_POSIX_SPAWN:
			err = spawn_posix(path, argv, &status);
			break;
		case M_SPAWND:
			err = spawn_spawnd(c, req, &status);
			break;
		default:
			err = spawn_spawnd_posix(path, argv, &status);
			break;
		}
		count(run, w->id, err, status);
	}
	spawnd_req_free(req);
	spawnd_client_free(c);
	return NULL;
}

/* Runs one mode; prints its line.  Returns ETXTBSY + errors. */
static int
run_mode(enum mode mode, int nthreads, int rounds, int until, double budget,
    const char *dir, const char *sock)
{
	struct run	 run;
	struct worker	*w;
	pthread_t	*t;
	double		 t0, dt;
	int		 i, n;

	memset(&run, 0, sizeof run);
	run.mode = mode;
	run.dir = dir;
	run.sock = sock;
	run.rounds = rounds;
	run.until = until;
	w = calloc((size_t)nthreads, sizeof *w);
	t = calloc((size_t)nthreads, sizeof *t);
	if (w == NULL || t == NULL) {
		fprintf(stderr, "etxtbsy: out of memory\n");
		exit(1);
	}
	pthread_barrier_init(&run.barrier, NULL, (unsigned)nthreads + 1);
	for (n = 0; n < nthreads; n++) {
		w[n].run = &run;
		w[n].id = n;
		if (pthread_create(&t[n], NULL, worker_main, &w[n]) != 0) {
			fprintf(stderr, "etxtbsy: pthread_create failed\n");
			exit(1);
		}
	}
	t0 = now();
	if (budget > 0)
		run.deadline = t0 + budget;
	pthread_barrier_wait(&run.barrier);
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	dt = now() - t0;
	pthread_barrier_destroy(&run.barrier);
	printf("%-12s ok=%d etxtbsy=%d errors=%d seconds=%.3f rate=%.1f\n",
	    mode_names[mode], atomic_load(&run.ok),
	    atomic_load(&run.etxtbsy), atomic_load(&run.errors), dt,
	    dt > 0 ? (double)atomic_load(&run.ok) / dt : 0.0);
	fflush(stdout);
	free(t);
	free(w);
	return atomic_load(&run.etxtbsy) + atomic_load(&run.errors);
}

static int
parse_mode(const char *s, unsigned int *modes)
{
	int	m;

	if (strcmp(s, "all") == 0) {
		*modes |= (1u << M_COUNT) - 1;
		return 0;
	}
	for (m = 0; m < M_COUNT; m++) {
		if (strcmp(s, mode_names[m]) == 0) {
			*modes |= 1u << m;
			return 0;
		}
	}
	return -1;
}

int
main(int argc, char **argv)
{
	char		 tmpl[] = "/tmp/etxtbsy.XXXXXX", path[4200];
	const char	*sock = NULL, *dir = NULL;
	unsigned int	 modes = 0;
	double		 budget = 0;
	int		 ch, nthreads = 20, rounds = 200, until = 0, m, bad = 0;
	int		 i;

	while ((ch = getopt(argc, argv, "d:m:r:s:t:T:U:")) != -1) {
		switch (ch) {
		case 'd':
			dir = optarg;
			break;
		case 'm':
			if (parse_mode(optarg, &modes) == -1)
				usage();
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		case 's':
			sock = optarg;
			break;
		case 't':
			nthreads = atoi(optarg);
			break;
		case 'T':
			budget = atof(optarg);
			break;
		case 'U':
			until = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind != argc || nthreads < 1 || nthreads > 10000 ||
	    rounds < 1)
		usage();
	if (modes == 0)
		modes = (1u << M_COUNT) - 1;
	/* The posix face finds the daemon through $SPAWND_SOCKET. */
	if (sock != NULL && setenv("SPAWND_SOCKET", sock, 1) == -1) {
		perror("etxtbsy: setenv");
		return 1;
	}
	if (dir == NULL && (dir = mkdtemp(tmpl)) == NULL) {
		perror("etxtbsy: mkdtemp");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);

	for (m = 0; m < M_COUNT; m++) {
		if (!(modes & (1u << m)))
			continue;
		i = run_mode((enum mode)m, nthreads, rounds, until, budget,
		    dir, sock);
		if (m == M_SPAWND || m == M_SPAWND_POSIX)
			bad += i;
	}
	for (i = 0; i < nthreads; i++) {
		snprintf(path, sizeof path, "%s/script-%d", dir, i);
		(void)unlink(path);
	}
	if (dir == tmpl)
		(void)rmdir(dir);
	return bad != 0;
}
