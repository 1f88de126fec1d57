/*
 * spawnd: a spawn broker.  Single-threaded, libevent, holds no writable
 * file.  main.c: arguments, socket set-up, signals, sd_notify, the loop.
 */

#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/signalfd.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "spawnd-int.h"

#define SPAWND_VERSION_STR	"0.1.0"

struct spawnd	 sd;

static void	usage(FILE *, int) __attribute__((noreturn));
static unsigned int parse_count(const char *, const char *);
static const char *default_path(char *, size_t);
static void	signals_init(void);
static void	leave_terminal(void);
static void	go_background(void);
static struct event *signals_watch(void);
static void	on_signal(int, short, void *);
static void	limits_fds(int);
static void	fds_init(void);

static void
usage(FILE *f, int code)
{
	fprintf(f,
"usage: spawnd [--socket PATH] [--debug] [limits...]\n"
"\n"
"Spawn broker: forks and execs on behalf of clients of libspawnd and\n"
"spawnctl.  Under systemd socket activation the socket comes from systemd;\n"
"otherwise it is bound at PATH (default: $SPAWND_SOCKET, else\n"
"$XDG_RUNTIME_DIR/spawnd/socket, else /run/spawnd/socket, as clients look).\n"
"\n"
"  -s, --socket PATH                 listen on PATH\n"
"  -d, --debug                       log every connection and spawn\n"
"      --max-connections N           in total (default 4096)\n"
"      --max-connections-per-uid N   (default 2048)\n"
"      --max-children N              running children in total (4096)\n"
"      --max-children-per-connection N  (default 1024)\n"
"      --max-queue BYTES             unsent replies per connection (1 MiB)\n"
"      --max-request BYTES           one spawn request (16 MiB, the most)\n"
"      --max-fds N                   fds with one request (253, the most)\n"
"      --handshake-timeout MS        connect to HELLO (5000)\n"
"      --request-timeout MS          first to last frame of a request (10000)\n"
"      --max-pending-fds-per-uid N   fds held by one uid's requests still\n"
"                                    arriving (default: from RLIMIT_NOFILE)\n"
"      --max-pending-bytes-per-uid BYTES  memory held by one uid's requests\n"
"                                    arriving or not exec'd yet (64 MiB)\n"
"      --allow-foreign-namespaces    serve peers in other user, mount or\n"
"                                    pid namespaces (refused by default)\n"
"      --background                  fork once the socket is bound; the\n"
"                                    parent exits 0 (for autostart)\n"
"      --exit-idle-time SECONDS      exit after SECONDS without connections\n"
"                                    or children (for socket activation)\n"
"      --session                     stay in the caller's session (for\n"
"                                    spawnctl wrap: children may join the\n"
"                                    caller's process groups)\n"
"      --launch auto|vfork|async     serve on while a child execs, leaving\n"
"                                    the wait to a client that asks (auto,\n"
"                                    the default) or not (async), or stop\n"
"                                    until it has (vfork: trusts every\n"
"                                    client)\n"
"  -V, --version\n"
"  -h, --help\n");
	exit(code);
}

static unsigned int
parse_count(const char *opt, const char *s)
{
	char		*end;
	unsigned long	 v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v == 0 || v > INT_MAX)
		fatalx("%s: expected a positive number, got '%s'", opt, s);
	return (unsigned int)v;
}

/* Where clients look first (spawnd.h): $SPAWND_SOCKET, the user's runtime
 * directory, the system socket. */
static const char *
default_path(char *buf, size_t len)
{
	const char	*p;

	if ((p = getenv("SPAWND_SOCKET")) != NULL && *p != '\0')
		return p;
	if ((p = getenv("XDG_RUNTIME_DIR")) == NULL || *p == '\0')
		return "/run/spawnd/socket";
	if ((size_t)snprintf(buf, len, "%s/spawnd/socket", p) >= len)
		fatalx("XDG_RUNTIME_DIR too long");
	return buf;
}

/*
 * Whatever started us may have left fds open (a shell's "exec 7>>file", a
 * careless parent): a writable file held by the forker is what spawnd
 * exists to avoid, and ETXTBSY for whoever runs it.  Close all but stdio
 * and systemd's sockets; stdin becomes /dev/null (nothing is read there),
 * a closed stdout or stderr /dev/null too (else the listening socket could
 * land there and get the log lines); a stdout or stderr on a writable
 * file goes to a logger (log_detach).
 */
static void
fds_init(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n, fd, keep;

	n = sd_listen_fds(0);
	keep = SD_LISTEN_FDS_START + (n > 0 ? n : 0);
	if (syscall(SYS_close_range, (unsigned)keep, ~0U, 0) == -1) {
		/* No close_range (valgrind, old kernels): one by one. */
		if ((d = opendir("/proc/self/fd")) == NULL)
			fatal("/proc/self/fd");
		while ((de = readdir(d)) != NULL) {
			fd = (int)strtol(de->d_name, NULL, 10);
			if (de->d_name[0] != '.' && fd >= keep &&
			    fd != dirfd(d))
				(void)close(fd);
		}
		(void)closedir(d);
	}
	if ((fd = open("/dev/null", O_RDWR)) == -1)
		fatal("/dev/null");
	if (fd != STDIN_FILENO && dup2(fd, STDIN_FILENO) == -1)
		fatal("dup2");
	for (n = STDOUT_FILENO; n <= STDERR_FILENO; n++)
		if (fd != n && fcntl(n, F_GETFD) == -1 && dup2(fd, n) == -1)
			fatal("dup2");
	if (fd > STDERR_FILENO)
		(void)close(fd);
	log_detach(keep);
}

/*
 * The fds pending requests may hold (split requests still arriving hold
 * theirs until the last frame): a quarter of RLIMIT_NOFILE (raised to the
 * hard limit by child_init) is never theirs, so that accept, the peers'
 * pidfds, the children's pidfds and notify pipes go on; the rest is
 * shared by the uids served (ours and root), unless --max-pending-fds-
 * per-uid says otherwise.
 */
static void
limits_fds(int set)
{
	struct rlimit	 rl;
	size_t		 nofile = 1024;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		nofile = (size_t)rl.rlim_cur;
	sd.limits.pending_fds_all = nofile - nofile / 4;
	if (!set)
		sd.limits.pending_fds = sd.uid == 0 ?
		    sd.limits.pending_fds_all : sd.limits.pending_fds_all / 2;
}

/*
 * Children must start from default dispositions and an empty mask, whatever
 * we inherited (nohup, a shell ignoring SIGINT, a parent ignoring SIGCHLD,
 * which would also break reaping).  Reset every disposition once here and
 * never change one again: the signals we take (signals_watch) are blocked
 * and read from a signalfd, and SIGPIPE, blocked too, leaves a write to a
 * broken pipe with EPIPE.  So the clone child finds every disposition at
 * SIG_DFL and has nothing to undo (glibc's posix_spawn child resets all
 * 64), and it starts with every signal blocked, as it must (it runs on
 * our memory), with no sigprocmask around each clone.
 */
static void
signals_init(void)
{
	sigset_t		 all;
	int			 sig;

	for (sig = 1; sig < NSIG; sig++)
		(void)child_sigaction(sig, 0);
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
}

/* SIGTERM, SIGINT and SIGHUP, through a signalfd in the loop. */
static struct event *
signals_watch(void)
{
	struct event	*ev;
	sigset_t	 set;
	int		 fd;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	if ((fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		fatal("signalfd");
	ev = event_new(sd.base, fd, EV_READ | EV_PERSIST, on_signal, NULL);
	if (ev == NULL || event_add(ev, NULL) == -1)
		fatalx("cannot watch signals");
	return ev;
}

/*
 * Started by hand from a terminal, children would share our session and
 * its controlling terminal: a child reading it from what is a background
 * process group would stop with SIGTTIN, and the daemon with it.  Leave
 * the session, or, as a process group leader (an interactive shell's
 * "spawnd &"), at least give up the controlling terminal.
 */
static void
leave_terminal(void)
{
	int	 fd;

	if (setsid() != -1)
		return;
	if ((fd = open("/dev/tty", O_RDONLY | O_NOCTTY | O_CLOEXEC)) == -1)
		return;
	if (ioctl(fd, TIOCNOTTY) == -1)
		log_warn("cannot give up the controlling terminal, ignoring");
	(void)close(fd);
}

/*
 * --background: the socket is bound, so clients can already connect (they
 * queue until the loop runs); the parent exits 0, which tells whoever
 * started us (libspawnd's autostart) that the daemon is there, and leaves
 * no zombie for it to reap.
 */
static void
go_background(void)
{
	pid_t	 pid;

	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid > 0)
		_exit(0);
	if (event_reinit(sd.base) == -1)
		fatalx("event_reinit failed");
}

static void
on_signal(int fd, short what, void *arg)
{
	struct signalfd_siginfo	 si;

	(void)what;
	(void)arg;
	while (read(fd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGHUP) {
			log_info("SIGHUP: nothing to reload");
			continue;
		}
		log_info("%s, stopping", strsignal((int)si.ssi_signo));
		daemon_quit();
	}
}

/*
 * Stops accepting and closes every connection, which sends SIGTERM to the
 * tied children; the loop then runs on until they are reaped (SIGKILL
 * follows after their grace period), so a child's SIGTERM handler gets to
 * run before systemd's final SIGKILL.  Detached children are left alone.
 * A second signal leaves at once.
 */
void
daemon_quit(void)
{
	if (sd.quitting) {
		event_base_loopbreak(sd.base);
		return;
	}
	(void)sd_notify(0, "STOPPING=1");
	sd.quitting = 1;
	listener_close();
	conn_close_all();
	child_quit();
	daemon_quit_done();
}

/* Leaves the loop once no tied child is left to wait for. */
void
daemon_quit_done(void)
{
	if (sd.quitting && child_tied() == 0)
		event_base_loopbreak(sd.base);
}

int
main(int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "debug", no_argument, NULL, 'd' },
		{ "max-connections", required_argument, NULL, 1 },
		{ "max-connections-per-uid", required_argument, NULL, 2 },
		{ "max-children", required_argument, NULL, 3 },
		{ "max-children-per-connection", required_argument, NULL, 4 },
		{ "max-queue", required_argument, NULL, 5 },
		{ "exit-idle-time", required_argument, NULL, 6 },
		{ "max-request", required_argument, NULL, 7 },
		{ "max-fds", required_argument, NULL, 8 },
		{ "handshake-timeout", required_argument, NULL, 9 },
		{ "request-timeout", required_argument, NULL, 10 },
		{ "allow-foreign-namespaces", no_argument, NULL, 11 },
		{ "background", no_argument, NULL, 12 },
		{ "launch", required_argument, NULL, 13 },
		{ "max-pending-fds-per-uid", required_argument, NULL, 14 },
		{ "max-pending-bytes-per-uid", required_argument, NULL, 15 },
		{ "session", no_argument, NULL, 16 },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char	*path = NULL;
	char		 pbuf[PATH_MAX];
	struct event	*sigev;
	int		 ch, debug = 0, fd;
	unsigned int	 idle = 0;
	int		 background = 0, session = 0, pending_fds_set = 0;

	sd.limits = LIMITS_DEFAULT;
	while ((ch = getopt_long(argc, argv, "s:dVh", opts, NULL)) != -1) {
		switch (ch) {
		case 's': path = optarg; break;
		case 'd': debug = 1; break;
		case 1: sd.limits.conns = parse_count("--max-connections",
		    optarg); break;
		case 2: sd.limits.conns_per_uid = parse_count(
		    "--max-connections-per-uid", optarg); break;
		case 3: sd.limits.children = parse_count("--max-children",
		    optarg); break;
		case 4: sd.limits.children_per_conn = parse_count(
		    "--max-children-per-connection", optarg); break;
		case 5: sd.limits.outq_bytes = parse_count("--max-queue",
		    optarg); break;
		case 6: idle = parse_count("--exit-idle-time", optarg); break;
		case 7: sd.limits.request_bytes = parse_count("--max-request",
		    optarg); break;
		case 8: sd.limits.request_fds = parse_count("--max-fds",
		    optarg); break;
		case 9: sd.limits.handshake_ms = parse_count(
		    "--handshake-timeout", optarg); break;
		case 10: sd.limits.request_ms = parse_count(
		    "--request-timeout", optarg); break;
		case 11: sd.limits.foreign_ns = 1; break;
		case 12: background = 1; break;
		case 16: session = 1; break;
		case 13:
			if (strcmp(optarg, "auto") == 0)
				sd.launch = LAUNCH_AUTO;
			else if (strcmp(optarg, "vfork") == 0)
				sd.launch = LAUNCH_VFORK;
			else if (strcmp(optarg, "async") == 0)
				sd.launch = LAUNCH_ASYNC;
			else
				fatalx("--launch: expected auto, vfork or "
				    "async, got '%s'", optarg);
			break;
		case 14: sd.limits.pending_fds = parse_count(
		    "--max-pending-fds-per-uid", optarg);
			pending_fds_set = 1; break;
		case 15: sd.limits.pending_bytes = parse_count(
		    "--max-pending-bytes-per-uid", optarg); break;
		case 'V': printf("spawnd %s\n", SPAWND_VERSION_STR); exit(0);
		case 'h': usage(stdout, 0);
		default: usage(stderr, 2);
		}
	}
	if (optind != argc)
		usage(stderr, 2);
	if (sd.limits.request_bytes > PROTO_MAX_REQUEST ||
	    sd.limits.request_fds > PROTO_MAX_FDS)
		fatalx("--max-request is at most %u, --max-fds at most %u",
		    PROTO_MAX_REQUEST, PROTO_MAX_FDS);

	fds_init();
	log_init(debug);
	signals_init();
	sd.uid = geteuid();
	child_init();
	limits_fds(pending_fds_set);
	if ((sd.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");

	if ((fd = listener_open_activated()) == -1) {
		if (!session)
			leave_terminal();
		fd = listener_open_path(path != NULL ? path :
		    default_path(pbuf, sizeof pbuf));
	}
	else if (path != NULL)
		log_warnx("socket-activated: ignoring --socket %s", path);
	if (background)
		go_background();
	sd.pid = getpid();
	listener_start(fd);
	sigev = signals_watch();

	notify_init(idle);
	(void)sd_notify(0, "READY=1");
	log_info("serving%s, pid %d", sd.activated ? " (socket-activated)" :
	    "", (int)sd.pid);
	if (event_base_dispatch(sd.base) == -1)
		fatalx("event loop failed");

	listener_close();
	conn_close_all();
	notify_free();
	child_free_all();
	(void)close(event_get_fd(sigev));
	event_free(sigev);
	event_base_free(sd.base);
	return 0;
}
