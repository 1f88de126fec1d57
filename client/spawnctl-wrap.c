/*
 * spawnctl-wrap.c: "spawnctl wrap [--socket PATH] [--] CMD [ARG...]" runs
 * an unmodified program with libspawnd-preload.so preloaded, so that its
 * posix_spawn, system and popen go through spawnd (libspawnd-preload(8)).
 *
 * Without --socket it starts a daemon of its own for CMD's tree, on a
 * socket in a fresh directory, that stays in the caller's session (in a
 * process group of its own, so the terminal's signals miss it): brokered
 * children can then join the caller's process group as a posix_spawn
 * child does, and Ctrl-C and job control reach them.  CMD is spawnctl's
 * own child in spawnctl's group; when it ends, the daemon is stopped, the
 * directory removed, and spawnctl ends as CMD did.  With --socket, the
 * daemon there (or one autostarted there) serves, in its own session.
 *
 * It may touch: the public API (spawnd.h) to reach the daemon, glibc's
 * posix_spawn to start the daemon and CMD (spawnctl is not preloaded).
 */

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spawnctl-wrap.h"
#include "spawnd.h"

#ifndef SPAWND_PRELOAD_PATH
#define SPAWND_PRELOAD_PATH	"/usr/local/lib/spawnd/libspawnd-preload.so"
#endif
#define WRAP_PRELOAD_NAME	"libspawnd-preload.so"
#define WRAP_EXIT_FAIL		125
#define WRAP_START_MS		10000	/* for the daemon to answer */
#define WRAP_IDLE_S		"60"	/* if spawnctl is killed */

struct wrap_state {
	char		 dir[PATH_MAX];		/* "": none of ours */
	char		 sock[PATH_MAX + 8];
	pid_t		 daemon;		/* ours, or -1 */
};

static void	wrap_usage(FILE *, int) __attribute__((noreturn));
static int	wrap_shim(char *, size_t);
static int	wrap_env(const char *, const char *, int);
static int	wrap_daemon_start(struct wrap_state *);
static int	wrap_daemon_wait(struct wrap_state *);
static void	wrap_daemon_stop(struct wrap_state *);
static int	wrap_run(char **, const sigset_t *, int *);
static int	wrap_exit(int);

static void
wrap_usage(FILE *f, int code)
{
	fprintf(f,
"usage: spawnctl wrap [--socket path] [--] cmd [arg...]\n"
"\n"
"Runs cmd with libspawnd-preload.so preloaded: the posix_spawn, system\n"
"and popen calls of cmd and its descendants go through spawnd; exits as\n"
"cmd does.  Without --socket, a daemon of its own serves cmd's tree, in\n"
"the caller's session, and stops when cmd ends.\n"
"\n"
"  --socket path   use (or autostart) the daemon at path instead; its\n"
"                  children are then not in the caller's process group\n"
"\n"
"Environment: SPAWND_PRELOAD (the shim to load), SPAWND_WRAP=strict|off,\n"
"SPAWND_WRAP_DEBUG=1 (see libspawnd-preload(8)).\n");
	exit(code);
}

/*
 * The shim: $SPAWND_PRELOAD, else beside spawnctl (a build tree), else
 * ../lib/spawnd/ from it, else where make install put it.
 */
static int
wrap_shim(char *buf, size_t len)
{
	static const char *const rel[] = { "/", "/../lib/spawnd/" };
	const char	*env = getenv("SPAWND_PRELOAD");
	char		 self[PATH_MAX], *slash;
	ssize_t		 n;
	size_t		 i;

	if (env != NULL && *env != '\0')
		return (snprintf(buf, len, "%s", env) < (int)len ? 0 : -1);
	if ((n = readlink("/proc/self/exe", self, sizeof self - 1)) > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL)
			*slash = '\0';
		for (i = 0; i < sizeof rel / sizeof rel[0]; i++) {
			if (snprintf(buf, len, "%s%s%s", self, rel[i],
			    WRAP_PRELOAD_NAME) < (int)len &&
			    access(buf, R_OK) == 0)
				return (0);
		}
	}
	(void)snprintf(buf, len, "%s", SPAWND_PRELOAD_PATH);
	return (access(buf, R_OK) == 0 ? 0 : -1);
}

/*
 * LD_PRELOAD gets the shim in front of what it had (unless there), and
 * SPAWND_SOCKET the socket; SPAWND_WRAP_SID tells the shim that the
 * daemon shares this session (sid: 0 where the session's leader is
 * outside our pid namespace, as in a container), or is unset (-1).
 */
static int
wrap_env(const char *shim, const char *sock, int sid)
{
	const char	*old = getenv("LD_PRELOAD");
	char		*v;
	char		 num[32];
	int		 r;

	if (old == NULL || *old == '\0')
		r = setenv("LD_PRELOAD", shim, 1);
	else if (strstr(old, shim) != NULL)
		r = 0;
	else {
		if (asprintf(&v, "%s:%s", shim, old) == -1)
			return (-1);
		r = setenv("LD_PRELOAD", v, 1);
		free(v);
	}
	if (r == 0)
		r = setenv("SPAWND_SOCKET", sock, 1);
	if (r == 0 && sid >= 0) {
		(void)snprintf(num, sizeof num, "%d", sid);
		r = setenv("SPAWND_WRAP_SID", num, 1);
	} else if (r == 0)
		r = unsetenv("SPAWND_WRAP_SID");
	return (r);
}

/*
 * "spawnd --session --socket DIR/socket": our child, in a process group
 * of its own in our session, with /dev/null on 0-2, no other fd, default
 * signals and an empty mask.  The daemon's own environment is ours less
 * the preload, so that it is never wrapped itself.
 */
static int
wrap_daemon_start(struct wrap_state *st)
{
	const char		*tmp = getenv("XDG_RUNTIME_DIR");
	const char		*daemon = getenv("SPAWND_DAEMON");
	char			 self[PATH_MAX], path[PATH_MAX], *slash;
	char			*argv[] = { (char *)(uintptr_t)"spawnd",
				    (char *)(uintptr_t)"--session",
				    (char *)(uintptr_t)"--exit-idle-time="
				    WRAP_IDLE_S, (char *)(uintptr_t)"--socket",
				    st->sock, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t	 attr;
	sigset_t		 all, none;
	ssize_t			 n;
	int			 r;

	if (tmp == NULL || access(tmp, W_OK) != 0)
		tmp = getenv("TMPDIR");
	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	if (snprintf(st->dir, sizeof st->dir, "%s/spawnd-wrap.XXXXXX", tmp) >=
	    (int)sizeof st->dir || mkdtemp(st->dir) == NULL) {
		warn("wrap: cannot make a directory in %s", tmp);
		st->dir[0] = '\0';
		return (-1);
	}
	(void)snprintf(st->sock, sizeof st->sock, "%s/socket", st->dir);
	if (daemon == NULL && (n = readlink("/proc/self/exe", self,
	    sizeof self - 1)) > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL)
			*slash = '\0';
		if ((snprintf(path, sizeof path, "%s/spawnd", self) <
		    (int)sizeof path && access(path, X_OK) == 0) ||
		    (snprintf(path, sizeof path, "%s/../sbin/spawnd", self) <
		    (int)sizeof path && access(path, X_OK) == 0))
			daemon = path;
	}
	if (daemon == NULL)
		daemon = "spawnd";
	(void)sigfillset(&all);
	(void)sigemptyset(&none);
	(void)posix_spawn_file_actions_init(&fa);
	(void)posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY,
	    0);
	(void)posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY,
	    0);
	(void)posix_spawn_file_actions_adddup2(&fa, 1, 2);
	(void)posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	(void)posix_spawnattr_init(&attr);
	(void)posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
	    POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);
	(void)posix_spawnattr_setpgroup(&attr, 0);
	(void)posix_spawnattr_setsigdefault(&attr, &all);
	(void)posix_spawnattr_setsigmask(&attr, &none);
	r = posix_spawnp(&st->daemon, daemon, &fa, &attr, argv, environ);
	(void)posix_spawn_file_actions_destroy(&fa);
	(void)posix_spawnattr_destroy(&attr);
	if (r != 0) {
		st->daemon = -1;
		warnx("wrap: cannot start %s: %s", daemon, strerror(r));
		return (-1);
	}
	return (wrap_daemon_wait(st));
}

/* Until the daemon answers (bounded), or exits. */
static int
wrap_daemon_wait(struct wrap_state *st)
{
	struct spawnd_client	*c;
	int			 i, r = -ENOENT, status;

	for (i = 0; i < WRAP_START_MS / 5; i++) {
		if ((r = spawnd_connect(st->sock, 1000, &c)) == 0) {
			spawnd_client_free(c);
			return (0);
		}
		if (r != -ENOENT && r != -ECONNREFUSED)
			break;
		if (waitpid(st->daemon, &status, WNOHANG) == st->daemon) {
			st->daemon = -1;
			warnx("wrap: spawnd exited at start-up (status %d)",
			    status);
			return (-1);
		}
		(void)poll(NULL, 0, 5);
	}
	warnx("wrap: spawnd does not answer on %s: %s", st->sock,
	    strerror(-r));
	return (-1);
}

/* Stops our daemon (detached children go on) and removes its files. */
static void
wrap_daemon_stop(struct wrap_state *st)
{
	char	 p[PATH_MAX + 32];

	if (st->daemon > 0) {
		(void)kill(st->daemon, SIGTERM);
		while (waitpid(st->daemon, NULL, 0) == -1 && errno == EINTR)
			continue;
		st->daemon = -1;
	}
	if (st->dir[0] == '\0')
		return;
	(void)unlink(st->sock);
	(void)snprintf(p, sizeof p, "%s.lock", st->sock);
	(void)unlink(p);
	(void)snprintf(p, sizeof p, "%s.start.lock", st->sock);
	(void)unlink(p);
	(void)rmdir(st->dir);
	st->dir[0] = '\0';
}

/*
 * Runs argv in spawnctl's process group with the caller's signal mask,
 * and waits for it.  A signal sent to spawnctl alone (kill, a supervisor)
 * is passed on; one the terminal sent (SI_KERNEL) reached CMD's group,
 * CMD included, already.  Returns 0 and *ret_status, or an exit code.
 */
static int
wrap_run(char **argv, const sigset_t *omask, int *ret_status)
{
	posix_spawnattr_t	 attr;
	sigset_t		 wait_set;
	siginfo_t		 si;
	pid_t			 pid;
	int			 r;

	(void)posix_spawnattr_init(&attr);
	(void)posix_spawnattr_setsigmask(&attr, omask);
	(void)posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
	r = posix_spawnp(&pid, argv[0], NULL, &attr, argv, environ);
	(void)posix_spawnattr_destroy(&attr);
	if (r != 0) {
		warnx("wrap: %s: %s", argv[0], strerror(r));
		return (r == ENOENT ? 127 : 126);
	}
	(void)sigemptyset(&wait_set);
	(void)sigaddset(&wait_set, SIGCHLD);
	(void)sigaddset(&wait_set, SIGINT);
	(void)sigaddset(&wait_set, SIGQUIT);
	(void)sigaddset(&wait_set, SIGTERM);
	(void)sigaddset(&wait_set, SIGHUP);
	for (;;) {
		if (waitpid(pid, ret_status, WNOHANG) == pid)
			return (0);
		if (sigwaitinfo(&wait_set, &si) == -1 || si.si_signo == SIGCHLD)
			continue;
		if (si.si_code != SI_KERNEL)
			(void)kill(pid, si.si_signo);
	}
}

/* Ends as CMD ended: its exit code, or its signal (no core dump). */
static int
wrap_exit(int status)
{
	struct rlimit	 rl = { 0, 0 };
	sigset_t	 set;
	int		 sig;

	if (WIFEXITED(status))
		return (WEXITSTATUS(status));
	if (!WIFSIGNALED(status))
		return (WRAP_EXIT_FAIL);
	sig = WTERMSIG(status);
	(void)fflush(NULL);
	(void)setrlimit(RLIMIT_CORE, &rl);
	(void)signal(sig, SIG_DFL);
	(void)sigemptyset(&set);
	(void)sigaddset(&set, sig);
	(void)sigprocmask(SIG_UNBLOCK, &set, NULL);
	(void)raise(sig);
	return (128 + sig);
}

int
ctl_wrap(int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "socket",	required_argument, NULL, 's' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL,		0,		   NULL, 0 }
	};
	struct wrap_state		 st = { "", "", -1 };
	struct spawnd_client		*c;
	const char			*path = NULL;
	char				 shim[PATH_MAX];
	sigset_t			 set, omask;
	int				 ch, r, status;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (ch == 'h')
			wrap_usage(stdout, 0);
		if (ch != 's')
			wrap_usage(stderr, 2);
		path = optarg;
	}
	if (optind == argc)
		wrap_usage(stderr, 2);
	if (wrap_shim(shim, sizeof shim) != 0) {
		warnx("wrap: cannot find %s (set SPAWND_PRELOAD)",
		    WRAP_PRELOAD_NAME);
		return (WRAP_EXIT_FAIL);
	}
	(void)sigemptyset(&set);
	(void)sigaddset(&set, SIGCHLD);
	(void)sigaddset(&set, SIGINT);
	(void)sigaddset(&set, SIGQUIT);
	(void)sigaddset(&set, SIGTERM);
	(void)sigaddset(&set, SIGHUP);
	(void)sigprocmask(SIG_BLOCK, &set, &omask);
	if (path != NULL) {
		r = spawnd_connect_autostart(path, getenv("SPAWND_DAEMON"),
		    WRAP_START_MS, &c);
		if (r < 0) {
			warnx("wrap: cannot reach spawnd at %s: %s", path,
			    strerror(-r));
			return (WRAP_EXIT_FAIL);
		}
		spawnd_client_free(c);
		r = wrap_env(shim, path, -1);
	} else if ((r = wrap_daemon_start(&st)) == 0)
		r = wrap_env(shim, st.sock, (int)getsid(0));
	if (r != 0) {
		wrap_daemon_stop(&st);
		return (WRAP_EXIT_FAIL);
	}
	r = wrap_run(argv + optind, &omask, &status);
	wrap_daemon_stop(&st);
	(void)sigprocmask(SIG_SETMASK, &omask, NULL);
	return (r != 0 ? r : wrap_exit(status));
}
