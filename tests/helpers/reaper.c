/*
 * reaper: runs one test and makes sure it left no process behind.
 *
 *	reaper [-g grace_ms] command [arg...]
 *
 * The reaper becomes a child subreaper (PR_SET_CHILD_SUBREAPER), so every
 * process the test starts and abandons (a daemon it did not stop, the
 * grandchild of a shell it killed) is reparented to it, not to init.  It
 * runs the command and waits for it; then every descendant still alive
 * is a leak.  One that is already dying gets grace_ms (default 5000) to
 * go; the rest are named on stderr, one line each:
 *
 *	reaper: left behind: pid 1234: sleep 30
 *
 * then killed (SIGKILL) and reaped.  Exit status: the command's (a signal
 * N as 128 + N), or 99 when the command passed (0) or skipped (77) but
 * left processes behind.  A failed command keeps its own status; its
 * leaks are still listed and killed.
 */

#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REAPER_LEAKED	99
#define REAPER_MAX	4096	/* processes looked at per scan */

struct proc {
	pid_t	pid;
	pid_t	ppid;
	char	state;
};

static struct proc	procs[REAPER_MAX];
static size_t		nprocs;

/* Reads pid, state and ppid from /proc/PID/stat; 0 or -1. */
static int
read_stat(const char *name, struct proc *p)
{
	char	path[64], buf[1024], *s;
	ssize_t	n;
	int	fd, ppid;

	snprintf(path, sizeof path, "/proc/%s/stat", name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	(void)close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* The command name may hold anything: the state follows its ')'. */
	if ((s = strrchr(buf, ')')) == NULL ||
	    sscanf(s + 1, " %c %d", &p->state, &ppid) != 2)
		return -1;
	p->pid = atoi(name);
	p->ppid = ppid;
	return 0;
}

/* Every process in /proc. */
static void
scan(void)
{
	struct dirent	*d;
	DIR		*dir;

	nprocs = 0;
	if ((dir = opendir("/proc")) == NULL)
		return;
	while ((d = readdir(dir)) != NULL && nprocs < REAPER_MAX) {
		if (d->d_name[0] < '1' || d->d_name[0] > '9')
			continue;
		if (read_stat(d->d_name, &procs[nprocs]) == 0)
			nprocs++;
	}
	(void)closedir(dir);
}

/* Is p a descendant of self (through the parents scan() saw)? */
static int
descends(const struct proc *p, pid_t self)
{
	size_t	i, depth;
	pid_t	up = p->ppid;

	for (depth = 0; depth < REAPER_MAX && up > 1; depth++) {
		if (up == self)
			return 1;
		for (i = 0; i < nprocs; i++)
			if (procs[i].pid == up)
				break;
		if (i == nprocs)
			return 0;
		up = procs[i].ppid;
	}
	return 0;
}

/* Reaps what is dead; returns how many descendants are still alive. */
static size_t
alive(pid_t self)
{
	size_t	i, n = 0;

	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	scan();
	for (i = 0; i < nprocs; i++)
		if (procs[i].state != 'Z' && descends(&procs[i], self))
			n++;
	return n;
}

static void
sleep_ms(long ms)
{
	struct timespec	ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Names one leftover on stderr: its pid and command line. */
static void
name_one(pid_t pid)
{
	char	path[64], buf[512];
	ssize_t	n, i;
	int	fd;

	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	n = -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, buf, sizeof buf - 1);
		(void)close(fd);
	}
	if (n <= 0) {
		snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
			n = read(fd, buf, sizeof buf - 1);
			(void)close(fd);
		}
	}
	if (n <= 0)
		n = 0;
	for (i = 0; i < n; i++)
		if (buf[i] == '\0' || buf[i] == '\n')
			buf[i] = ' ';
	while (n > 0 && buf[n - 1] == ' ')
		n--;
	buf[n] = '\0';
	fprintf(stderr, "reaper: left behind: pid %d: %s\n", (int)pid, buf);
}

/* Names, kills and reaps every descendant; returns how many there were. */
static size_t
kill_all(pid_t self)
{
	size_t	i, total = 0, round;

	for (round = 0; round < 100 && alive(self) > 0; round++) {
		for (i = 0; i < nprocs; i++) {
			if (procs[i].state == 'Z' ||
			    !descends(&procs[i], self))
				continue;
			if (round == 0) {
				name_one(procs[i].pid);
				total++;
			}
			(void)kill(procs[i].pid, SIGKILL);
		}
		sleep_ms(10);
	}
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	return total;
}

int
main(int argc, char *argv[])
{
	pid_t	self = getpid(), pid, w;
	long	grace = 5000, waited;
	int	st, code, opt;

	while ((opt = getopt(argc, argv, "+g:")) != -1) {
		if (opt != 'g')
			goto usage;
		grace = atol(optarg);
	}
	if (optind >= argc)
		goto usage;
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1) {
		perror("reaper: PR_SET_CHILD_SUBREAPER");
		return 2;
	}
	if ((pid = fork()) == -1) {
		perror("reaper: fork");
		return 2;
	}
	if (pid == 0) {
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "reaper: %s: %s\n", argv[optind],
		    strerror(errno));
		_exit(127);
	}
	/*
	 * Orphans reparented to us meanwhile are reaped as they end, as init
	 * would: a test that waits for an abandoned daemon to go must not
	 * see it stay a zombie.
	 */
	while ((w = waitpid(-1, &st, 0)) != pid)
		if (w == -1 && errno != EINTR) {
			perror("reaper: waitpid");
			return 2;
		}
	code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	/* A process already on its way out is no leak: let it go. */
	for (waited = 0; alive(self) > 0 && waited < grace; waited += 10)
		sleep_ms(10);
	if (kill_all(self) > 0 && (code == 0 || code == 77)) {
		fprintf(stderr, "reaper: the test left processes behind\n");
		code = REAPER_LEAKED;
	}
	return code;
usage:
	fprintf(stderr, "usage: reaper [-g grace_ms] command [arg...]\n");
	return 2;
}
