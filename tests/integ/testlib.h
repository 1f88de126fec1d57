/*
 * testlib.h: header-only helpers for the C integration tests.
 *
 * Each test starts its own daemon ($SPAWND --socket DIR/socket, DIR from
 * mkdtemp) with fork+exec: tests may fork, the library may not.  The
 * daemon's stdout and stderr go through a pipe that a thread copies to our
 * stderr, so the daemon never holds our (regular file) log open for
 * writing.  VALGRIND=1 runs the daemon under valgrind.
 *
 * Exit codes: 0 pass, 1 fail, 77 skip.
 */

#ifndef SPAWND_TESTLIB_H
#define SPAWND_TESTLIB_H

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "spawnd.h"

#define TL_SKIP		77

/* Drops const from a string for char *const argv[] (tests only). */
#define TL_UNCONST(p)	((char *)(uintptr_t)(const void *)(p))

static atomic_int tl_failures;

#define CHECK(c) do {							\
	if (!(c))							\
		tl_fail(__FILE__, __LINE__, "CHECK(%s)", #c);		\
} while (0)

#define CHECK_INT(a, op, b) do {					\
	long long tl_a_ = (long long)(a), tl_b_ = (long long)(b);	\
	if (!(tl_a_ op tl_b_))						\
		tl_fail(__FILE__, __LINE__, "%s %s %s: %lld vs %lld",	\
		    #a, #op, #b, tl_a_, tl_b_);				\
} while (0)

/* r is a spawnd_* result: >= 0, or a negative errno. */
#define CHECK_OK(r) do {						\
	long long tl_r_ = (long long)(r);				\
	if (tl_r_ < 0)							\
		tl_fail(__FILE__, __LINE__, "%s: %s (%lld)", #r,	\
		    strerror((int)-tl_r_), tl_r_);			\
} while (0)

#define CHECK_STR(a, b) do {						\
	const char *tl_s_ = (a), *tl_t_ = (b);				\
	if (tl_s_ == NULL || tl_t_ == NULL || strcmp(tl_s_, tl_t_) != 0)	\
		tl_fail(__FILE__, __LINE__, "%s == %s: \"%s\" vs \"%s\"", \
		    #a, #b, tl_s_ ? tl_s_ : "(null)",			\
		    tl_t_ ? tl_t_ : "(null)");				\
} while (0)

struct tl_daemon {
	pid_t		 pid;
	char		 dir[128];
	char		 sock[160];
	int		 logfd;		/* read end of the daemon's output */
	pthread_t	 relay;
	int		 relay_started;
	atomic_int	 relay_stop;	/* the daemon is gone: drain and end */
	int		 stopped;
};

/* Options for tl_start_opts(). */
#define TL_DIRTY_SIGNALS	0x1	/* daemon starts with odd signal state */

static inline void
tl_fail(const char *file, int line, const char *fmt, ...)
{
	va_list	ap;
	char	msg[1024];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s:%d: FAIL: %s\n", file, line, msg);
	fflush(stderr);
	atomic_fetch_add(&tl_failures, 1);
}

static inline void
tl_log(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

/* Prints a summary and returns the process exit code. */
static inline int
tl_exit(void)
{
	int	n = atomic_load(&tl_failures);

	if (n != 0) {
		fprintf(stderr, "%d check(s) failed\n", n);
		return 1;
	}
	fprintf(stderr, "all checks passed\n");
	return 0;
}

static inline uint64_t
tl_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline void
tl_sleep_ms(unsigned int ms)
{
	struct timespec	ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static inline int
tl_valgrind(void)
{
	const char	*v = getenv("VALGRIND");

	return v != NULL && *v != '\0' && strcmp(v, "0") != 0;
}

/*
 * Under valgrind the daemon's clone(CLONE_VM|CLONE_VFORK) runs as a plain
 * fork, so a child's set-up or exec failure written to shared memory never
 * reaches the daemon: such checks cannot pass there.  Returns 1 (and logs)
 * when they must be skipped.
 */
static inline int
tl_skip_exec_errors(const char *what)
{
	if (!tl_valgrind())
		return 0;
	fprintf(stderr, "note: %s: skipped under valgrind (vfork runs as "
	    "fork)\n", what);
	return 1;
}

/* Slower start-up and replies under valgrind. */
static inline int
tl_scale(int ms)
{
	return tl_valgrind() ? ms * 10 : ms;
}

/* Finds an executable in $PATH; buf gets its path.  Returns 0 or -1. */
static inline int
tl_which(const char *name, char *buf, size_t len)
{
	const char	*path = getenv("PATH"), *p, *e;

	if (strchr(name, '/') != NULL) {
		snprintf(buf, len, "%s", name);
		return access(buf, X_OK);
	}
	if (path == NULL)
		path = "/usr/bin:/bin";
	for (p = path; *p != '\0'; p = *e ? e + 1 : e) {
		e = strchrnul(p, ':');
		snprintf(buf, len, "%.*s/%s", (int)(e - p), p, name);
		if (access(buf, X_OK) == 0)
			return 0;
	}
	return -1;
}

/* The daemon binary: $SPAWND.  Exits 77 (skip) when it is not set. */
static inline const char *
tl_spawnd_path(void)
{
	const char	*p = getenv("SPAWND");

	if (p == NULL || *p == '\0') {
		fprintf(stderr, "SPAWND is not set: skipping\n");
		exit(TL_SKIP);
	}
	return p;
}

/* Reads everything from fd until EOF or timeout; NUL-terminates buf. */
static inline ssize_t
tl_read_all(int fd, char *buf, size_t len, int timeout_ms)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };
	uint64_t	end = tl_now_ms() + (uint64_t)timeout_ms, t;
	size_t		got = 0;
	ssize_t		n;

	for (;;) {
		t = tl_now_ms();
		if (poll(&pfd, 1, t >= end ? 0 : (int)(end - t)) <= 0) {
			errno = ETIMEDOUT;
			break;
		}
		if (got + 1 >= len) {
			errno = ENOBUFS;
			break;
		}
		n = read(fd, buf + got, len - 1 - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			buf[got] = '\0';
			return n == 0 ? (ssize_t)got : -1;
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	return -1;
}

/* Writes content to path with mode, replacing it.  Returns 0 or -1. */
static inline int
tl_write_file(const char *path, const char *content, size_t len,
    mode_t mode)
{
	int	fd;

	(void)unlink(path);
	fd = open(path, O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC, mode);
	if (fd == -1)
		return -1;
	if (write(fd, content, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	if (fchmod(fd, mode) == -1) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* Number of open fds of pid, -1 if it cannot be read. */
static inline int
tl_fd_count(pid_t pid)
{
	char		 path[64];
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n;
}

/* Lists the fds of pid to stderr with their targets (for diagnostics). */
static inline void
tl_fd_dump(pid_t pid)
{
	char		 path[64], lpath[320], target[PATH_MAX];
	DIR		*d;
	struct dirent	*de;
	ssize_t		 n;

	snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
	if ((d = opendir(path)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(lpath, sizeof lpath, "%s/%s", path, de->d_name);
		n = readlink(lpath, target, sizeof target - 1);
		target[n < 0 ? 0 : n] = '\0';
		fprintf(stderr, "  fd %s -> %s\n", de->d_name, target);
	}
	closedir(d);
}

/*
 * This process's sockets (the posix face keeps idle connections to the
 * daemon for reuse, and the daemon holds one fd for each): how many, and
 * with ino != NULL the inodes of the first max, sorted.
 */
static inline int
tl_sockets(unsigned long *ino, size_t max)
{
	char		 path[300], link[64];
	struct dirent	*de;
	DIR		*dir;
	ssize_t		 len;
	unsigned long	 v;
	size_t		 i;
	int		 n = 0;

	if ((dir = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL) {
		snprintf(path, sizeof path, "/proc/self/fd/%s", de->d_name);
		if ((len = readlink(path, link, sizeof link - 1)) <= 0)
			continue;
		link[len] = '\0';
		if (sscanf(link, "socket:[%lu]", &v) != 1)
			continue;
		if (ino != NULL && (size_t)n < max) {
			for (i = (size_t)n; i > 0 && ino[i - 1] > v; i--)
				ino[i] = ino[i - 1];
			ino[i] = v;
		}
		n++;
	}
	closedir(dir);
	return n;
}

/* The daemon's fd count once it has not changed for 300 ms (max 3 s). */
static inline int
tl_idle_fds(const struct tl_daemon *d)
{
	uint64_t	end = tl_now_ms() + (uint64_t)tl_scale(3000);
	uint64_t	since = tl_now_ms();
	int		n, last = tl_fd_count(d->pid);

	while (tl_now_ms() < end) {
		tl_sleep_ms(20);
		n = tl_fd_count(d->pid);
		if (n != last) {
			last = n;
			since = tl_now_ms();
		} else if (tl_now_ms() - since >= 300)
			break;
	}
	return last;
}

/*
 * Waits up to timeout_ms for the daemon's fd count to equal want; returns
 * the last count seen.
 */
static inline int
tl_settle_fds(const struct tl_daemon *d, int want, int timeout_ms)
{
	uint64_t	end = tl_now_ms() + (uint64_t)tl_scale(timeout_ms);
	int		n;

	for (;;) {
		n = tl_fd_count(d->pid);
		if (n == want || tl_now_ms() >= end)
			return n;
		tl_sleep_ms(20);
	}
}

/* CHECKs that the daemon's fd count comes back to want. */
#define TL_CHECK_FDS(d, want) do {					\
	int tl_n_ = tl_settle_fds((d), (want), 2000);			\
	if (tl_n_ != (want)) {						\
		tl_fail(__FILE__, __LINE__,				\
		    "daemon fd count %d, expected %d", tl_n_, (want));	\
		tl_fd_dump((d)->pid);					\
	}								\
} while (0)

static inline void *
tl_relay_main(void *arg)
{
	struct tl_daemon	*d = arg;
	struct pollfd		 pfd = { .fd = d->logfd, .events = POLLIN };
	char			 buf[4096];
	ssize_t			 n;
	int			 r;

	/*
	 * Polls rather than blocks: a child that wrongly inherited the
	 * daemon's stderr would otherwise keep us (and tl_stop) waiting.
	 */
	for (;;) {
		r = poll(&pfd, 1, 100);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == 0) {
			if (atomic_load(&d->relay_stop))
				break;
			continue;
		}
		n = read(d->logfd, buf, sizeof buf);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		(void)!write(STDERR_FILENO, buf, (size_t)n);
	}
	return NULL;
}

static inline int
tl_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	(void)remove(path);
	return 0;
}

/* rm -rf path. */
static inline void
tl_rm_rf(const char *path)
{
	(void)nftw(path, tl_rm_one, 16, FTW_DEPTH|FTW_PHYS);
}

/* Is the daemon answering?  Returns 0 when a ping succeeded. */
static inline int
tl_ping(const char *sock, int timeout_ms)
{
	struct spawnd_client	*c;
	struct spawnd_status	 st;
	int			 r;

	if ((r = spawnd_connect(sock, timeout_ms, &c)) < 0)
		return r;
	r = spawnd_ping(c, timeout_ms, &st);
	spawnd_client_free(c);
	return r;
}

/*
 * The forked child: becomes the daemon.  Only async-signal-safe calls
 * (the test may have threads).
 */
static inline void
tl_exec_daemon(int outfd, pid_t parent, int opts, char *const argv[],
    char *const envp[])
{
	struct sigaction	sa;
	sigset_t		set;
	int			sig, nullfd;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &sa, NULL);
	sigemptyset(&set);
	if (opts & TL_DIRTY_SIGNALS) {
		/* A careless parent: the daemon's children must not see it. */
		sigaddset(&set, SIGUSR1);
		sigaddset(&set, SIGALRM);
		sa.sa_handler = SIG_IGN;
		(void)sigaction(SIGUSR2, &sa, NULL);
		(void)sigaction(SIGHUP, &sa, NULL);
		(void)sigaction(SIGPIPE, &sa, NULL);
	}
	(void)sigprocmask(SIG_SETMASK, &set, NULL);
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent)
		_exit(127);
	if ((nullfd = open("/dev/null", O_RDONLY)) == -1)
		_exit(127);
	if (dup2(nullfd, 0) == -1 || dup2(outfd, 1) == -1 ||
	    dup2(outfd, 2) == -1)
		_exit(127);
	(void)syscall(SYS_close_range, 3U, ~0U, 0U);
	execve(argv[0], argv, envp);
	_exit(127);
}

/*
 * Starts the daemon on a socket in a fresh temporary directory, with env
 * (NULL-terminated "K=V", may be NULL) added to ours, and waits (5 s) until
 * it answers a ping.  Returns 0, or -1 after reporting a failure.
 */
static inline int
tl_start_opts(struct tl_daemon *d, const char *const *env, int opts)
{
	extern char	**environ;
	const char	 *spawnd = tl_spawnd_path(), *tmp;
	char		 *argv[16], *envp[512], vg[PATH_MAX];
	int		  p[2], n = 0, e = 0, i, status;
	uint64_t	  end;
	pid_t		  parent = getpid();

	memset(d, 0, sizeof *d);
	d->logfd = -1;
	tmp = getenv("TMPDIR");
	if (tmp == NULL || *tmp == '\0' || strlen(tmp) > 60)
		tmp = "/tmp";
	snprintf(d->dir, sizeof d->dir, "%s/spawnd-test.XXXXXX", tmp);
	if (mkdtemp(d->dir) == NULL) {
		tl_fail(__FILE__, __LINE__, "mkdtemp: %s", strerror(errno));
		return -1;
	}
	snprintf(d->sock, sizeof d->sock, "%s/socket", d->dir);

	if (tl_valgrind()) {
		if (tl_which("valgrind", vg, sizeof vg) == -1) {
			fprintf(stderr, "VALGRIND set but no valgrind\n");
			exit(TL_SKIP);
		}
		/*
		 * Logs to stderr (our relay pipe): a --log-file would be a
		 * writable regular file in the daemon.  Its forked children
		 * are not checked: they _exit after a failed exec.
		 */
		argv[n++] = vg;
		argv[n++] = TL_UNCONST("-q");
		argv[n++] = TL_UNCONST("--error-exitcode=99");
		argv[n++] = TL_UNCONST("--track-fds=yes");
		argv[n++] = TL_UNCONST("--leak-check=full");
		argv[n++] = TL_UNCONST("--errors-for-leak-kinds=definite");
		argv[n++] = TL_UNCONST("--child-silent-after-fork=yes");
	}
	argv[n++] = TL_UNCONST(spawnd);
	argv[n++] = TL_UNCONST("--socket");
	argv[n++] = d->sock;
	if (getenv("SPAWND_DEBUG") != NULL)
		argv[n++] = TL_UNCONST("--debug");
	if ((tmp = getenv("SPAWND_TEST_LAUNCH")) != NULL && *tmp != '\0') {
		argv[n++] = TL_UNCONST("--launch");
		argv[n++] = TL_UNCONST(tmp);
	}
	argv[n] = NULL;

	for (i = 0; environ[i] != NULL && e < 400; i++)
		envp[e++] = environ[i];
	for (i = 0; env != NULL && env[i] != NULL && e < 510; i++)
		envp[e++] = TL_UNCONST(env[i]);
	envp[e] = NULL;

	if (pipe2(p, O_CLOEXEC) == -1) {
		tl_fail(__FILE__, __LINE__, "pipe2: %s", strerror(errno));
		return -1;
	}
	d->pid = fork();
	if (d->pid == -1) {
		tl_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (d->pid == 0)
		tl_exec_daemon(p[1], parent, opts, argv, envp);
	close(p[1]);
	d->logfd = p[0];
	if (pthread_create(&d->relay, NULL, tl_relay_main, d) == 0)
		d->relay_started = 1;

	end = tl_now_ms() + (uint64_t)tl_scale(5000);
	for (;;) {
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			tl_fail(__FILE__, __LINE__, "daemon died at start-up "
			    "(status 0x%x)", status);
			d->stopped = 1;
			return -1;
		}
		if (access(d->sock, F_OK) == 0 &&
		    tl_ping(d->sock, tl_scale(1000)) == 0)
			break;
		if (tl_now_ms() >= end) {
			tl_fail(__FILE__, __LINE__, "daemon not answering on "
			    "%s after %d ms", d->sock, tl_scale(5000));
			return -1;
		}
		tl_sleep_ms(20);
	}
	return 0;
}

static inline int
tl_start(struct tl_daemon *d)
{
	return tl_start_opts(d, NULL, 0);
}

/*
 * Stops the daemon with SIGTERM, CHECKs that it exits 0 within 10 s, and
 * removes its directory.
 */
static inline void
tl_stop(struct tl_daemon *d)
{
	uint64_t	end;
	int		status = 0;
	pid_t		r;

	if (d->pid > 0 && !d->stopped) {
		(void)kill(d->pid, SIGTERM);
		end = tl_now_ms() + (uint64_t)tl_scale(10000);
		while ((r = waitpid(d->pid, &status, WNOHANG)) == 0 &&
		    tl_now_ms() < end)
			tl_sleep_ms(10);
		if (r == 0) {
			tl_fail(__FILE__, __LINE__,
			    "daemon did not exit on SIGTERM");
			(void)kill(d->pid, SIGKILL);
			(void)waitpid(d->pid, &status, 0);
		} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			tl_fail(__FILE__, __LINE__, "daemon exit status 0x%x "
			    "(exited %d, code %d, signal %d)", status,
			    WIFEXITED(status), WIFEXITED(status) ?
			    WEXITSTATUS(status) : -1, WIFSIGNALED(status) ?
			    WTERMSIG(status) : 0);
		d->stopped = 1;
	}
	if (d->relay_started) {
		atomic_store(&d->relay_stop, 1);
		pthread_join(d->relay, NULL);
		d->relay_started = 0;
	}
	if (d->logfd != -1) {
		close(d->logfd);
		d->logfd = -1;
	}
	if (d->dir[0] != '\0') {
		tl_rm_rf(d->dir);
		d->dir[0] = '\0';
	}
}

/* Connects a client to the daemon, CHECKing success; NULL on failure. */
static inline struct spawnd_client *
tl_connect(const struct tl_daemon *d)
{
	struct spawnd_client	*c = NULL;
	int			 r;

	r = spawnd_connect(d->sock, tl_scale(5000), &c);
	if (r < 0) {
		tl_fail(__FILE__, __LINE__, "spawnd_connect(%s): %s",
		    d->sock, strerror(-r));
		return NULL;
	}
	return c;
}

/*
 * Spawns /bin/true through a fresh client and waits: the daemon is
 * serving.  Returns 0 when the child exited 0.
 */
static inline int
tl_spawn_true(const struct tl_daemon *d)
{
	const char		*argv[] = { "/bin/true", NULL };
	struct spawnd_client	*c;
	struct spawnd_req	*req = NULL;
	struct spawnd_child	*ch = NULL;
	struct spawnd_exit	 ex;
	struct spawnd_failure	 f;
	int			 r;

	if ((r = spawnd_connect(d->sock, tl_scale(5000), &c)) < 0)
		return r;
	if ((r = spawnd_req_new(&req)) < 0 ||
	    (r = spawnd_req_set_argv(req, argv)) < 0 ||
	    (r = spawnd_spawn(c, req, &ch, &f)) < 0 ||
	    (r = spawnd_child_wait(ch, tl_scale(10000), &ex)) < 0)
		goto out;
	if (!WIFEXITED(ex.status) || WEXITSTATUS(ex.status) != 0)
		r = -ECHILD;
out:
	spawnd_child_free(ch);
	spawnd_req_free(req);
	spawnd_client_free(c);
	return r;
}

/*
 * Puts the real path of $HELPERS/probe in probe (PATH_MAX bytes).  Returns
 * 0, or -1 after saying on stderr why the test skips.
 */
static inline int
tl_probe(char *probe)
{
	const char	*helpers = getenv("HELPERS");
	char		 buf[PATH_MAX + 64];

	if (helpers == NULL || *helpers == '\0') {
		fprintf(stderr, "HELPERS is not set: skipping\n");
		return -1;
	}
	snprintf(buf, sizeof buf, "%s/probe", helpers);
	if (realpath(buf, probe) == NULL || access(probe, X_OK) != 0) {
		fprintf(stderr, "no probe at %s: skipping\n", buf);
		return -1;
	}
	return 0;
}

/*
 * Tests that drop privileges (a daemon or a child run as nobody) must work
 * wherever the clone is, also under a directory other users cannot enter
 * (a 0700 home, mktemp -d).  tl_share() gives the path of a file that uid
 * can read and execute: the file itself if uid can reach it, else a copy
 * in a private directory (mkdtemp, owned by uid, mode 0700) that the
 * process that made it removes at exit.  Returns 0, or -1 after a
 * failure was reported.
 */
static char	tl_share_dir[PATH_MAX];
static pid_t	tl_share_owner;

static inline void
tl_share_cleanup(void)
{
	if (tl_share_dir[0] != '\0' && getpid() == tl_share_owner)
		tl_rm_rf(tl_share_dir);
}

/* Can uid:gid (no supplementary groups) read and execute path? */
static inline int
tl_reachable(const char *path, uid_t uid, gid_t gid)
{
	pid_t	pid;
	int	st;

	if ((pid = fork()) == 0) {
		/* Raw: the parent may have threads. */
		if (syscall(SYS_setgroups, 0, NULL) == -1 ||
		    syscall(SYS_setresgid, gid, gid, gid) == -1 ||
		    syscall(SYS_setresuid, uid, uid, uid) == -1)
			_exit(2);
		_exit(access(path, R_OK | X_OK) == 0 ? 0 : 1);
	}
	if (pid == -1 || waitpid(pid, &st, 0) != pid)
		return 0;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/*
 * Copies src to the new file dst, which gets mode (it is 0700 until the
 * copy is done).
 */
static inline int
tl_copy_file(const char *src, const char *dst, mode_t mode)
{
	char	buf[65536];
	ssize_t	n;
	int	in, out, r = 0;

	if ((in = open(src, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if ((out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
	    0700)) == -1) {
		close(in);
		return -1;
	}
	while ((n = read(in, buf, sizeof buf)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 || write(out, buf, (size_t)n) != n) {
			r = -1;
			break;
		}
	}
	close(in);
	if (fchmod(out, mode) == -1 || close(out) == -1)
		r = -1;
	return r;
}

static inline int
tl_share(const char *src, uid_t uid, gid_t gid, char *buf, size_t len)
{
	const char	*tmp = getenv("TMPDIR"), *base;
	char		 real[PATH_MAX];

	if (realpath(src, real) == NULL) {
		tl_fail(__FILE__, __LINE__, "%s: %s", src, strerror(errno));
		return -1;
	}
	if (tl_reachable(real, uid, gid)) {
		snprintf(buf, len, "%s", real);
		return 0;
	}
	if (tl_share_dir[0] == '\0') {
		if (tmp == NULL || *tmp == '\0' || strlen(tmp) > 60 ||
		    !tl_reachable(tmp, uid, gid))
			tmp = "/tmp";
		snprintf(tl_share_dir, sizeof tl_share_dir,
		    "%s/spawnd-share.XXXXXX", tmp);
		if (mkdtemp(tl_share_dir) == NULL ||
		    chown(tl_share_dir, uid, gid) == -1) {
			tl_fail(__FILE__, __LINE__, "%s: %s", tl_share_dir,
			    strerror(errno));
			tl_share_dir[0] = '\0';
			return -1;
		}
		tl_share_owner = getpid();
		atexit(tl_share_cleanup);
	}
	base = strrchr(real, '/') + 1;
	snprintf(buf, len, "%s/%s", tl_share_dir, base);
	if (access(buf, F_OK) == 0)
		return 0;
	if (tl_copy_file(real, buf, 0755) == -1) {
		tl_fail(__FILE__, __LINE__, "copy %s to %s: %s", real, buf,
		    strerror(errno));
		return -1;
	}
	tl_log("note: %s is out of uid %d's reach: running a copy, %s",
	    real, (int)uid, buf);
	return 0;
}

#endif
