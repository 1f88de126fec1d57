/*
 * spawnctl.c: the spawnd command.  "spawnctl run -- PROG ARGS..." runs a
 * program through the daemon with spawnctl's own stdin, stdout, stderr,
 * working directory and environment, forwards the signals a terminal or a
 * supervisor sends, and ends as the program ended, so that it can stand in
 * for the program in shells, pipelines and scripts.  Run from a terminal it
 * gives the program a pseudo-terminal of its own (--pty), so that job
 * control and full-screen programs work as when run directly.  It uses
 * libspawnd's public API (spawnd.h) only.
 */

#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "spawnctl-wrap.h"
#include "spawnd.h"

/* Exit codes: 125 for spawnctl's own failures as docker and podman do. */
#define CTL_EXIT_USAGE		2
#define CTL_EXIT_FAIL		125
#define CTL_EXIT_NOEXEC		126	/* found but not runnable, as sh */
#define CTL_EXIT_NOTFOUND	127

#define CTL_CONNECT_MS		5000	/* bound on the version handshake */
#define CTL_PING_MS		5000
#define CTL_PTY_QUIET_MS	100	/* after the exit: output this late */
#define CTL_PTY_DRAIN_MS	2000	/* and no more than this in all */
#define CTL_PTY_BUF		16384

/* Long-only options; the values stay clear of the short ones. */
enum {
	OPT_SOCKET = 256,
	OPT_CWD,
	OPT_ENV,
	OPT_UNSET,
	OPT_CLEAR_ENV,
	OPT_DETACH,
	OPT_SETSID,
	OPT_TIMEOUT,
	OPT_PGROUP,
	OPT_UMASK,
	OPT_NICE,
	OPT_RLIMIT,
	OPT_FD,
	OPT_EXEC_FD,
	OPT_NO_AUTOSTART
};

struct run_opts {
	const char	 *socket;	/* NULL: the library's default */
	const char	 *cwd;		/* NULL: spawnctl's, as a dirfd */
	const char	**envops;	/* --env K=V and --unset K, in order */
	size_t		  nenvops;
	int		  clearenv;
	unsigned int	  flags;	/* SPAWND_* request flags */
	unsigned int	  timeout_ms;
	char		**argv;		/* PROG ARGS... */
	const char	**extra;	/* --umask --nice --rlimit --fd, raw */
	int		 *extrach;	/* their option codes */
	size_t		  nextra;
	int		  exec_fd;	/* --exec-fd */
	int		  pty;		/* -1 auto, 0 --no-pty, 1 --pty */
};

/*
 * run with a pseudo-terminal.  The subsidiary side stands in for the
 * caller's terminal: it becomes each of the child's fds 0, 1, 2 where
 * spawnctl's own is a terminal (or, with --pty and no terminal at all,
 * each that is open), and the child's controlling terminal.  Bytes are
 * copied between the master and spawnctl's stdin and stdout (or stderr).
 */
struct pty {
	int		 master;	/* -1 once hung up */
	int		 sub;		/* until the spawn */
	int		 on[3];		/* child fd N is the subsidiary */
	int		 term;		/* a caller fd on a terminal, or -1 */
	int		 rawfd;		/* 0 if stdin is a terminal, else -1 */
	int		 raw;		/* rawfd is in raw mode now */
	struct termios	 saved;		/* rawfd's settings, to restore */
	int		 in;		/* copied to the master, or -1 */
	int		 out;		/* the master is copied here, or -1 */
	int		 eof;		/* the master read EOF or EIO */
	char		 buf[CTL_PTY_BUF];	/* in's bytes not yet written */
	size_t		 off, len;
};

static void	 usage(FILE *, int) __attribute__((noreturn));
static void	 run_usage(FILE *, int) __attribute__((noreturn));
static void	 ping_usage(FILE *, int) __attribute__((noreturn));
static void	 bad_option(const char *, char **, void (*)(FILE *, int));
static int	 parse_timeout(const char *, unsigned int *);
static int	 run_parse(int, char **, struct run_opts *);
static int	 run_option(int, const char *, struct run_opts *);
static const char **env_build(const struct run_opts *);
static void	 env_apply(const char **, size_t *, const char *);
static int	 run_request(const struct run_opts *, const char **,
		     const int *, int, struct spawnd_req **);
static int	 req_sigignore(struct spawnd_req *);
static mode_t	 ctl_umask(void);
static int	 run_extra(struct spawnd_req *, int, const char *);
static int	 run_fd(struct spawnd_req *, const char *);
static int	 run_rlimit(struct spawnd_req *, const char *);
static int	 run_exec_fd(struct spawnd_req *, const char *);
static int	 ctl_connect(const char *, int, struct spawnd_client **);
static void	 ctl_untrusted(const char *);
static const char *ctl_daemon(void);

/* run --no-autostart: never start a daemon (run is the only autostarter). */
static int	 ctl_no_autostart;
static int	 spawn_error(const char *, int, const struct spawnd_failure *,
		     int);
static void	 std_release(const int *, const int *);
static int	 run_child(struct spawnd_client *, struct spawnd_child *,
		     unsigned int, const int *, struct pty *);
static int	 run_wait(struct spawnd_client *, struct spawnd_child *,
		     unsigned int);
static int	 signals_open(int);
static int	 pty_want(const struct run_opts *);
static int	 pty_open(struct pty *, const int *);
static int	 pty_request(struct spawnd_req *, const struct pty *);
static int	 pty_run(struct spawnd_client *, struct spawnd_child *,
		     struct pty *, unsigned int);
static void	 pty_signal(int, struct pty *, struct spawnd_child *,
		     unsigned int);
static void	 pty_raw(struct pty *);
static void	 pty_restore(struct pty *);
static void	 pty_winsize(const struct pty *);
static void	 pty_input(struct pty *);
static void	 pty_flush(struct pty *);
static void	 pty_output(struct pty *);
static void	 pty_drain(struct pty *);
static void	 pty_hangup(struct pty *);
static void	 pty_close(struct pty *);
static void	 forward(int, struct spawnd_child *, unsigned int);
static void	 forward_one(struct spawnd_child *, int, unsigned int);
static int	 exit_like(int);
static int	 cmd_run(int, char **);
static int	 cmd_ping(int, char **);
static int	 cmd_pid(int, char **);
static int	 cmd_install(int, char **);
static int	 pid_parse(int, char **, const char *, int *, const char **,
		     pid_t *);
static int	 ps_print(const struct spawnd_ps *, size_t, int);
static void	 json_str(const char *);
static void	 text_str(const char *);
static size_t	 utf8_len(const unsigned char *);
static int	 sig_parse(const char *);

static void
usage(FILE *f, int code)
{
	fprintf(f,
"usage: spawnctl [--help] [--version] command [args...]\n"
"\n"
"commands:\n"
"  run [options] [--] prog [arg...]  run prog through spawnd, as if directly\n"
"  wrap [--socket path] [--] cmd [arg...]\n"
"                                    run cmd with its spawns brokered\n"
"                                    (libspawnd-preload.so)\n"
"  ping [--socket path]              show spawnd's pid and counters\n"
"  status [--socket path]            the same as ping\n"
"  ps [--json] [--socket path]       the daemon's children of this user\n"
"  kill [-s sig] [--socket path] pid signal a child of the daemon\n"
"  wait [--socket path] pid          wait for a child of the daemon; exit\n"
"                                    as it did\n"
"  install [--no-replace] [--mode m] [--fsync] src dest\n"
"                                    place a copy of src at dest, never\n"
"                                    half-written (spawnd_install)\n"
"\n"
"'spawnctl command --help' describes a command's options.\n");
	exit(code);
}

static void
run_usage(FILE *f, int code)
{
	fprintf(f,
"usage: spawnctl run [-p] [--socket path] [--cwd dir] [--env name=value]...\n"
"           [--unset name]... [--clear-env] [--detach] [--setsid]\n"
"           [--timeout seconds] [--pgroup] [--umask mode] [--nice n]\n"
"           [--rlimit name=cur[:max]]... [--fd n=path[:mode]|n=&m]...\n"
"           [--exec-fd] [-t|--pty|-T|--no-pty] [--] prog [arg...]\n"
"\n"
"Runs prog through spawnd with spawnctl's stdin, stdout, stderr, working\n"
"directory and environment; exits as prog does (128+N if killed by signal\n"
"N).  SIGINT, SIGTERM, SIGHUP and SIGQUIT are forwarded to prog.  When\n"
"stdin and stdout are terminals, prog gets a pseudo-terminal of its own.\n"
"\n"
"  --socket path      the daemon's socket (default: $SPAWND_SOCKET, else\n"
"                     $XDG_RUNTIME_DIR/spawnd/socket, else\n"
"                     " SPAWND_SYSTEM_SOCKET " for root, else\n"
"                     /tmp/spawnd-UID/socket)\n"
"  --cwd dir          run prog in dir (relative to the current directory)\n"
"  --env name=value   set a variable in prog's environment\n"
"  --unset name       remove a variable from prog's environment\n"
"  --clear-env        start from an empty environment, not spawnctl's\n"
"  --detach           print prog's pid and exit; prog outlives spawnctl\n"
"  --setsid           run prog in a new session; signals go to its group\n"
"  --timeout seconds  stop prog after this long (SIGTERM, then SIGKILL)\n"
"  -p, --path-search  search prog in $PATH (the default without a '/')\n"
"  --pgroup           run prog in a new process group; signals go to it\n"
"  --umask mode       prog's umask, octal (default: spawnctl's)\n"
"  --nice n           prog's nice value, -20..19\n"
"  --rlimit name=cur[:max]  a resource limit (nofile, core, nproc, ...;\n"
"                     \"unlimited\" allowed)\n"
"  --fd n=path[:mode] open path (mode r, w, a or rw) as prog's fd n\n"
"  --fd n=&m          spawnctl's fd m as prog's fd n\n"
"  --exec-fd          open prog here and run exactly that file, by fd\n"
"  --no-autostart     fail if no daemon answers, instead of starting a\n"
"                     private one on the socket\n"
"  -t, --pty          give prog a pseudo-terminal as its controlling\n"
"                     terminal, in a session of its own (the default when\n"
"                     stdin and stdout are terminals)\n"
"  -T, --no-pty       never; prog shares spawnctl's terminal fds\n"
"\n"
"Exit status: prog's, or 125 if spawnctl failed, 126 if prog could not be\n"
"executed, 127 if it was not found.\n");
	exit(code);
}

static void
ping_usage(FILE *f, int code)
{
	fprintf(f,
"usage: spawnctl ping [--socket path]\n"
"       spawnctl status [--socket path]\n"
"\n"
"Prints spawnd's pid, connections, children and spawns, and the round trip\n"
"time.  Exits 0 if spawnd answered, else 1.\n");
	exit(code);
}

/*
 * Reports what getopt refused (its own messages would be named after the
 * command, "run:") and exits through use().  cmd: "" or " run".
 */
static void
bad_option(const char *cmd, char **argv, void (*use)(FILE *, int))
{
	const char	*arg = argv[optind - 1];

	if (strncmp(arg, "--", 2) == 0)
		fprintf(stderr, "spawnctl%s: bad option or argument '%s'\n",
		    cmd, arg);
	else
		fprintf(stderr, "spawnctl%s: bad option or argument '-%c'\n",
		    cmd, optopt);
	use(stderr, CTL_EXIT_USAGE);
}

/*
 * Parses a positive decimal number of seconds ("5", "0.25", ".5") into
 * milliseconds, rounding up so that a short timeout never becomes none.
 * No strtod(): it takes hex, "inf", "nan" and the locale's radix.
 */
static int
parse_timeout(const char *s, unsigned int *ret_ms)
{
	unsigned long long	 ms = 0;
	unsigned int		 scale = 100, rest = 0, ndigits = 0;

	for (; *s >= '0' && *s <= '9'; s++, ndigits++) {
		ms = ms * 10 + (unsigned int)(*s - '0');
		if (ms > UINT_MAX / 1000)
			return -ERANGE;
	}
	ms *= 1000;
	if (*s == '.') {
		for (s++; *s >= '0' && *s <= '9'; s++, ndigits++) {
			ms += (unsigned long long)(*s - '0') * scale;
			if (scale == 0 && *s != '0')
				rest = 1;
			scale /= 10;
		}
	}
	if (ndigits == 0 || *s != '\0')
		return -EINVAL;
	ms += rest;
	if (ms == 0)
		return -EINVAL;
	if (ms > UINT_MAX)
		return -ERANGE;
	*ret_ms = (unsigned int)ms;
	return 0;
}

/* Returns -1 to go on, or an exit code. */
static int
run_parse(int argc, char **argv, struct run_opts *o)
{
	static const struct option	 opts[] = {
		{ "socket",	 required_argument, NULL, OPT_SOCKET },
		{ "cwd",	 required_argument, NULL, OPT_CWD },
		{ "env",	 required_argument, NULL, OPT_ENV },
		{ "unset",	 required_argument, NULL, OPT_UNSET },
		{ "clear-env",	 no_argument,	    NULL, OPT_CLEAR_ENV },
		{ "detach",	 no_argument,	    NULL, OPT_DETACH },
		{ "setsid",	 no_argument,	    NULL, OPT_SETSID },
		{ "timeout",	 required_argument, NULL, OPT_TIMEOUT },
		{ "path-search", no_argument,	    NULL, 'p' },
		{ "pgroup",	 no_argument,	    NULL, OPT_PGROUP },
		{ "umask",	 required_argument, NULL, OPT_UMASK },
		{ "nice",	 required_argument, NULL, OPT_NICE },
		{ "rlimit",	 required_argument, NULL, OPT_RLIMIT },
		{ "fd",		 required_argument, NULL, OPT_FD },
		{ "exec-fd",	 no_argument,	    NULL, OPT_EXEC_FD },
		{ "no-autostart", no_argument,	    NULL, OPT_NO_AUTOSTART },
		{ "pty",	 no_argument,	    NULL, 't' },
		{ "no-pty",	 no_argument,	    NULL, 'T' },
		{ "help",	 no_argument,	    NULL, 'h' },
		{ NULL,		 0,		    NULL, 0 }
	};
	int				 ch;

	if ((o->envops = calloc((size_t)argc, sizeof *o->envops)) == NULL ||
	    (o->extra = calloc((size_t)argc, sizeof *o->extra)) == NULL ||
	    (o->extrach = calloc((size_t)argc, sizeof *o->extrach)) == NULL)
		err(CTL_EXIT_FAIL, "calloc");
	optind = 0;	/* glibc: start afresh, argv[0] is "run" */
	o->pty = -1;
	while ((ch = getopt_long(argc, argv, "+:hptT", opts, NULL)) != -1) {
		if (ch == 'h')
			run_usage(stdout, 0);
		if (ch == '?' || ch == ':')
			bad_option(" run", argv, run_usage);
		if (run_option(ch, optarg, o) != 0)
			return CTL_EXIT_USAGE;
	}
	if (optind == argc) {
		fprintf(stderr, "spawnctl run: no program given\n");
		run_usage(stderr, CTL_EXIT_USAGE);
	}
	o->argv = argv + optind;
	if (o->pty == 1 && (o->flags & SPAWND_DETACH)) {
		fprintf(stderr, "spawnctl run: --pty and --detach exclude "
		    "each other\n");
		return CTL_EXIT_USAGE;
	}
	if (o->argv[0][0] == '\0') {
		fprintf(stderr, "spawnctl run: empty program name\n");
		return CTL_EXIT_USAGE;
	}
	/* As a shell does: a name without '/' is looked for in $PATH. */
	if (strchr(o->argv[0], '/') == NULL)
		o->flags |= SPAWND_PATH_SEARCH;
	return -1;
}

/* One option of run; returns 0 or -1 with a message. */
static int
run_option(int ch, const char *arg, struct run_opts *o)
{
	switch (ch) {
	case OPT_SOCKET:	o->socket = arg; break;
	case OPT_CWD:		o->cwd = arg; break;
	case OPT_CLEAR_ENV:	o->clearenv = 1; break;
	case OPT_DETACH:	o->flags |= SPAWND_DETACH; break;
	case OPT_SETSID:
		o->flags |= SPAWND_SETSID | SPAWND_KILL_GROUP;
		break;
	case 'p':		o->flags |= SPAWND_PATH_SEARCH; break;
	case OPT_PGROUP:
		o->flags |= SPAWND_KILL_GROUP;
		/* FALLTHROUGH */
	case OPT_UMASK: case OPT_NICE: case OPT_RLIMIT: case OPT_FD:
		o->extrach[o->nextra] = ch;
		o->extra[o->nextra++] = arg;
		break;
	case OPT_EXEC_FD:	o->exec_fd = 1; break;
	case 't':		o->pty = 1; break;
	case 'T':		o->pty = 0; break;
	case OPT_NO_AUTOSTART:	ctl_no_autostart = 1; break;
	case OPT_ENV:
		if (arg[0] == '=' || strchr(arg, '=') == NULL)
			goto bad;
		o->envops[o->nenvops++] = arg;
		break;
	case OPT_UNSET:
		if (arg[0] == '\0' || strchr(arg, '=') != NULL)
			goto bad;
		o->envops[o->nenvops++] = arg;
		break;
	case OPT_TIMEOUT:
		if (parse_timeout(arg, &o->timeout_ms) != 0) {
			fprintf(stderr, "spawnctl run: --timeout '%s': not a "
			    "positive number of seconds (at most %u)\n", arg,
			    UINT_MAX / 1000);
			return -1;
		}
		break;
	}
	return 0;
bad:
	fprintf(stderr, "spawnctl run: %s '%s': %s\n", ch == OPT_ENV ?
	    "--env" : "--unset", arg, ch == OPT_ENV ? "not name=value" :
	    "not a variable name");
	return -1;
}

/*
 * The child's environment: spawnctl's (without entries lacking '=', which
 * the protocol refuses) or none, then --env and --unset in the order given.
 * The strings are borrowed; only the array is allocated.
 */
static const char **
env_build(const struct run_opts *o)
{
	const char	**envp;
	size_t		  n = 0, i;

	if (!o->clearenv)
		while (environ[n] != NULL)
			n++;
	if ((envp = calloc(n + o->nenvops + 1, sizeof *envp)) == NULL)
		return NULL;
	n = 0;
	for (i = 0; !o->clearenv && environ[i] != NULL; i++)
		if (strchr(environ[i], '=') != NULL)
			envp[n++] = environ[i];
	for (i = 0; i < o->nenvops; i++)
		env_apply(envp, &n, o->envops[i]);
	envp[n] = NULL;
	return envp;
}

/* Removes op's name from envp, then adds op if it is "name=value". */
static void
env_apply(const char **envp, size_t *np, const char *op)
{
	size_t	len = strcspn(op, "="), i, j;

	for (i = j = 0; i < *np; i++)
		if (strncmp(envp[i], op, len) != 0 || envp[i][len] != '=')
			envp[j++] = envp[i];
	if (op[len] == '=')
		envp[j++] = op;
	*np = j;
}

/*
 * Builds the request: argv, envp, the standard fds that are open (a closed
 * one stays closed in the child, as with a direct exec), the cwd.  A
 * relative --cwd is chdir'd to from spawnctl's cwd (dirfd), not the
 * daemon's.  Returns 0 or an exit code with a message.
 */
static int
run_request(const struct run_opts *o, const char **envp, const int *stdok,
    int dirfd, struct spawnd_req **ret_req)
{
	struct spawnd_req	*req;
	size_t			 i;
	int			 rc, fd;

	if ((rc = spawnd_req_new(&req)) < 0)
		goto fail;
	if ((rc = spawnd_req_set_argv(req, (const char *const *)o->argv)) < 0 ||
	    (rc = spawnd_req_set_envp(req, envp)) < 0 ||
	    (rc = spawnd_req_set_flags(req, o->flags)) < 0 ||
	    (rc = req_sigignore(req)) < 0)
		goto fail;
	for (fd = 0; fd < 3; fd++)
		if (stdok[fd] && (rc = spawnd_req_set_fd(req, fd, fd)) < 0)
			goto fail;
	if (o->cwd != NULL && o->cwd[0] == '/')
		rc = spawnd_req_set_cwd(req, o->cwd);
	else if ((rc = spawnd_req_set_cwd_fd(req, dirfd)) >= 0 &&
	    o->cwd != NULL)
		rc = spawnd_req_add_chdir(req, o->cwd);
	if (rc < 0)
		goto fail;
	if (o->timeout_ms != 0 &&
	    (rc = spawnd_req_set_timeout(req, o->timeout_ms)) < 0)
		goto fail;
	if ((rc = spawnd_req_set_umask(req, ctl_umask())) < 0)
		goto fail;
	for (i = 0; i < o->nextra; i++)
		/* A pty's session leader leads its group already. */
		if (!(o->extrach[i] == OPT_PGROUP && o->pty == 1) &&
		    (rc = run_extra(req, o->extrach[i], o->extra[i])) != 0) {
			spawnd_req_free(req);
			return rc > 0 ? rc : CTL_EXIT_FAIL;
		}
	if (o->exec_fd && (rc = run_exec_fd(req, o->argv[0])) != 0) {
		spawnd_req_free(req);
		return rc;
	}
	*ret_req = req;
	return 0;
fail:
	warnx("%s: %s", o->argv[0], strerror(-rc));
	spawnd_req_free(req);
	return CTL_EXIT_FAIL;
}

/*
 * Signals that spawnctl was started with ignored (nohup, "trap '' INT")
 * stay ignored in the child, as they would across a direct exec.
 */
static int
req_sigignore(struct spawnd_req *req)
{
	struct sigaction	 sa;
	sigset_t		 set;
	int			 sig;

	sigemptyset(&set);
	for (sig = 1; sig < NSIG; sig++)
		if (sigaction(sig, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN)
			sigaddset(&set, sig);
	return spawnd_req_set_sigignore(req, &set);
}

/*
 * The library refused the server at path (-EPERM, nothing sent): say
 * whose it is and what to do.
 */
static void
ctl_untrusted(const char *path)
{
	uid_t	 uid, me = geteuid();
	pid_t	 pid;

	if (spawnd_socket_peer(path, &uid, &pid) != -EPERM) {
		/* No foreign server there: autostart found the path unsafe. */
		warnx("refusing to start spawnd at %s: a directory on its path "
		    "belongs to another user, or others may write to it.  "
		    "Every directory must be yours or root's and writable by "
		    "others only if sticky (then what is in it must be yours); "
		    "the socket's own directory by you alone%s", path,
		    strncmp(path, "/tmp/spawnd-", 12) == 0 ?
		    " (mode 0700)" : "");
		return;
	}
	if (me == 0)
		warnx("refusing the server at %s: it runs as uid %lu (pid %ld), "
		    "and root uses only a server run by root; nothing was "
		    "sent.  Check SPAWND_SOCKET and XDG_RUNTIME_DIR (kept by "
		    "su), or use --socket /run/spawnd/socket", path,
		    (unsigned long)uid, (long)pid);
	else
		warnx("refusing the server at %s: it runs as uid %lu (pid %ld), "
		    "not as you (uid %lu) or root; nothing was sent.  Someone "
		    "else's socket is there: remove it if you can, or use "
		    "another path with --socket or SPAWND_SOCKET", path,
		    (unsigned long)uid, (long)pid, (unsigned long)me);
}

/* Connects to path (NULL: the default); returns 0 or failcode. */
static int
ctl_connect(const char *path, int failcode, struct spawnd_client **ret_client)
{
	char	 buf[PATH_MAX];
	int	 rc;

	if (failcode == CTL_EXIT_FAIL && !ctl_no_autostart)
		rc = spawnd_connect_autostart(path, ctl_daemon(),
		    CTL_CONNECT_MS, ret_client);
	else
		rc = spawnd_connect(path, CTL_CONNECT_MS, ret_client);
	if (path == NULL)
		path = spawnd_socket_path(buf, sizeof buf) >= 0 ? buf :
		    "(default path)";
	if (rc == 1)
		fprintf(stderr, "spawnctl: started spawnd on %s\n", path);
	if (rc >= 0)
		return 0;
	if (rc == -EPERM) {
		ctl_untrusted(path);
		return failcode;
	}
	if (rc == -ELOOP)
		warnx("refusing to start spawnd at %s: a symbolic link on its "
		    "path; give the real path", path);
	else if ((rc == -ENOENT || rc == -ECONNREFUSED) &&
	    strcmp(path, "/run/spawnd/socket") == 0)
		warnx("cannot reach spawnd at %s: %s; that is the system "
		    "daemon's socket: systemctl start spawnd.socket (as root)",
		    path, strerror(-rc));
	else if (rc == -ENOENT || rc == -ECONNREFUSED)
		warnx("cannot reach spawnd at %s: %s; spawnctl run starts one "
		    "(unless --no-autostart), or start one with: spawnd "
		    "--socket %s &", path, strerror(-rc), path);
	else
		warnx("cannot connect to spawnd at %s: %s", path,
		    strerror(-rc));
	return failcode;
}

/*
 * Reports a failed spawn and returns the exit code a shell would: 127 if
 * the program is not there, 126 if it cannot be executed, 125 when an
 * earlier step or spawnd failed.  relcwd: file action 0 is --cwd's chdir.
 */
static int
spawn_error(const char *prog, int rc, const struct spawnd_failure *f,
    int relcwd)
{
	int	step = f->step;

	if (step == SPAWND_STEP_NONE) {
		warnx("cannot spawn %s: %s", prog, strerror(-rc));
		return CTL_EXIT_FAIL;
	}
	if (step == SPAWND_STEP_EXEC) {
		warnx("%s: %s", prog, strerror(f->error));
		return f->error == ENOENT ? CTL_EXIT_NOTFOUND : CTL_EXIT_NOEXEC;
	}
	if (step == SPAWND_STEP_ACTION && relcwd && f->action == 0)
		step = SPAWND_STEP_CWD;
	warnx("%s: %s: %s", prog, spawnd_step_name(step), strerror(f->error));
	return CTL_EXIT_FAIL;
}

/*
 * Once the child has its copies, spawnctl lets go of stdin and stdout so
 * that readers see EOF and writers EPIPE when the child closes them, as if
 * it ran alone.  stderr stays, for spawnctl's own last words.  Those that
 * a pty stands in for (keep) stay: spawnctl copies bytes through them.
 */
static void
std_release(const int *stdok, const int *keep)
{
	int	fd, null;

	if ((null = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		return;
	for (fd = 0; fd < 2; fd++)
		if (stdok[fd] && (keep == NULL || !keep[fd]))
			(void)dup2(null, fd);
	(void)close(null);
}

/*
 * Waits for the child, forwarding the signals that would have reached it
 * had it run in spawnctl's place.  The pidfd turns readable at the exit,
 * the exit record comes on the socket just after: once the pidfd has
 * fired it leaves the poll set, else it would spin.  Returns the exit
 * code.
 */
static int
run_wait(struct spawnd_client *client, struct spawnd_child *child,
    unsigned int killflags)
{
	struct pollfd		 pfd[3];
	struct spawnd_exit	 ex;
	int			 sfd, rc;

	if ((sfd = signals_open(0)) == -1) {
		warn("signalfd");
		return CTL_EXIT_FAIL;
	}
	pfd[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = spawnd_child_fd(child),
	    .events = POLLIN };
	pfd[2] = (struct pollfd){ .fd = spawnd_client_fd(client),
	    .events = POLLIN };
	do {
		if (poll(pfd, 3, -1) == -1) {
			if (errno == EINTR)
				continue;
			warn("poll");
			return CTL_EXIT_FAIL;
		}
		if (pfd[0].revents != 0)
			forward(sfd, child, killflags);
		if (pfd[1].revents != 0)
			pfd[1].fd = -1;
	} while ((rc = spawnd_child_wait(child, 0, &ex)) == -ETIMEDOUT);
	(void)close(sfd);
	if (rc < 0) {
		warnx("lost the connection to spawnd, waiting for pid %ld: %s",
		    (long)spawnd_child_pid(child), strerror(-rc));
		return CTL_EXIT_FAIL;
	}
	return exit_like(ex.status);
}

/*
 * Blocks the signals to forward and returns a signalfd for them.  The
 * child's mask is the request's (empty), not this one.  With a pty also
 * SIGWINCH (the window size goes to the pty), SIGTSTP and SIGCONT
 * (spawnctl stops with its terminal restored, and takes it raw again when
 * continued).
 */
static int
signals_open(int pty)
{
	sigset_t	 set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	if (pty) {
		sigaddset(&set, SIGWINCH);
		sigaddset(&set, SIGTSTP);
		sigaddset(&set, SIGCONT);
	}
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		return -1;
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* Passes each pending signal on. */
static void
forward(int sfd, struct spawnd_child *child, unsigned int killflags)
{
	struct signalfd_siginfo	 si;

	while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si)
		forward_one(child, (int)si.ssi_signo, killflags);
}

/* Sends one signal to the child; -ESRCH (it just exited) is fine. */
static void
forward_one(struct spawnd_child *child, int signo, unsigned int killflags)
{
	int	 rc;

	rc = spawnd_child_kill(child, signo, killflags);
	if (rc < 0 && rc != -ESRCH)
		warnx("cannot forward signal %d to pid %ld: %s", signo,
		    (long)spawnd_child_pid(child), strerror(-rc));
}

/*
 * --pty, --no-pty, or by default a pty when stdin and stdout are both
 * terminals (as run0 decides; see spawnctl(1) for why not ssh's way) and
 * spawnctl runs in the terminal's foreground: started in the background
 * ("&"), a pty would stop it (SIGTTOU, SIGTTIN) where the program run
 * directly would have run on.  Never for --detach: nobody would copy its
 * bytes.
 */
static int
pty_want(const struct run_opts *o)
{
	if (o->pty == 0 || (o->flags & SPAWND_DETACH))
		return 0;
	if (o->pty == 1)
		return 1;
	return isatty(STDIN_FILENO) && isatty(STDOUT_FILENO) &&
	    tcgetpgrp(STDIN_FILENO) == getpgrp();
}

/*
 * Opens the pty pair and decides which of the child's fds it stands in for.
 * The child's terminal settings and window size start as the caller's
 * terminal's, before spawnctl makes its own raw.  Returns 0, or -1 with a
 * message.
 */
static int
pty_open(struct pty *p, const int *stdok)
{
	struct winsize	 ws;
	struct termios	 t;
	char		 name[64];
	int		 tty[3] = { 0, 0, 0 }, any = 0, fd;

	for (fd = 0; fd < 3; fd++) {
		tty[fd] = stdok[fd] && isatty(fd);
		any |= tty[fd];
	}
	for (fd = 0; fd < 3; fd++)
		p->on[fd] = any ? tty[fd] : stdok[fd];
	p->term = tty[0] ? 0 : tty[1] ? 1 : tty[2] ? 2 : -1;
	p->rawfd = tty[0] ? 0 : -1;
	p->in = p->on[0] ? 0 : -1;
	p->out = p->on[1] ? 1 : p->on[2] ? 2 : -1;
	if ((p->master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1 ||
	    grantpt(p->master) == -1 || unlockpt(p->master) == -1 ||
	    ptsname_r(p->master, name, sizeof name) != 0 ||
	    (p->sub = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC)) == -1) {
		warn("pseudo-terminal");
		return -1;
	}
	if (p->term != -1 && tcgetattr(p->term, &t) == 0)
		(void)tcsetattr(p->sub, TCSANOW, &t);
	if (p->term != -1 && ioctl(p->term, TIOCGWINSZ, &ws) == 0)
		(void)ioctl(p->master, TIOCSWINSZ, &ws);
	if (p->rawfd != -1 && tcgetattr(p->rawfd, &p->saved) == -1)
		p->rawfd = -1;
	if (fcntl(p->master, F_SETFL, O_RDWR | O_NONBLOCK) == -1) {
		warn("pseudo-terminal");
		return -1;
	}
	return 0;
}

/* The subsidiary as the child's 0, 1, 2 where it stands in, and its tty. */
static int
pty_request(struct spawnd_req *req, const struct pty *p)
{
	int	 fd, ctty = -1, rc = 0;

	for (fd = 2; fd >= 0 && rc == 0; fd--)
		if (p->on[fd]) {
			rc = spawnd_req_set_fd(req, p->sub, fd);
			ctty = fd;
		}
	if (rc == 0)
		rc = spawnd_req_set_ctty(req, ctty);
	if (rc < 0) {
		warnx("pseudo-terminal: %s", strerror(-rc));
		return CTL_EXIT_FAIL;
	}
	return 0;
}

/*
 * The session: copies bytes between the caller and the master until the
 * child has exited and its output is drained, with the caller's terminal
 * raw all along (its Ctrl-C, Ctrl-Z, Ctrl-\ are bytes for the pty's line
 * discipline, which signals the child's foreground group).  Every way out
 * passes pty_restore() before exit_like() or a message.
 */
static int
pty_run(struct spawnd_client *client, struct spawnd_child *child,
    struct pty *p, unsigned int killflags)
{
	struct pollfd		 pfd[5];
	struct spawnd_exit	 ex;
	int			 sfd, rc, pidfd = spawnd_child_fd(child);

	if ((sfd = signals_open(1)) == -1) {
		warn("signalfd");
		return CTL_EXIT_FAIL;
	}
	pty_raw(p);
	/* A resize before the signal was blocked went unseen. */
	pty_winsize(p);
	while ((rc = spawnd_child_wait(child, 0, &ex)) == -ETIMEDOUT) {
		pfd[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
		pfd[2] = (struct pollfd){ .fd = spawnd_client_fd(client),
		    .events = POLLIN };
		pfd[3] = (struct pollfd){ .fd = p->len == 0 ? p->in : -1,
		    .events = POLLIN };
		pfd[4] = (struct pollfd){ .fd = p->eof ? -1 : p->master,
		    .events = POLLIN | (p->len != 0 ? POLLOUT : 0) };
		if (poll(pfd, 5, -1) == -1) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			break;
		}
		if (pfd[0].revents != 0)
			pty_signal(sfd, p, child, killflags);
		if (pfd[1].revents != 0)
			pidfd = -1;
		if (pfd[3].revents != 0 && p->in != -1)
			pty_input(p);
		if ((pfd[4].revents & POLLOUT) && p->master != -1)
			pty_flush(p);
		if ((pfd[4].revents & ~POLLOUT) && p->master != -1)
			pty_output(p);
	}
	if (rc == 0)
		pty_drain(p);
	pty_restore(p);
	(void)close(sfd);
	if (rc < 0) {
		warnx("waiting for pid %ld: %s", (long)spawnd_child_pid(child),
		    strerror(-rc));
		return CTL_EXIT_FAIL;
	}
	pty_close(p);
	return exit_like(ex.status);
}

/*
 * The signals that came.  SIGHUP means the caller's terminal is gone:
 * the pty hangs up too, and the kernel sends the child's session its
 * SIGHUP.  The others a terminal would not send (they come from kill, as
 * keys are bytes now) go to the child as run_wait() sends them.
 */
static void
pty_signal(int sfd, struct pty *p, struct spawnd_child *child,
    unsigned int killflags)
{
	struct signalfd_siginfo	 si;

	while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
		switch (si.ssi_signo) {
		case SIGWINCH:
			pty_winsize(p);
			break;
		case SIGTSTP:
			pty_restore(p);
			(void)kill(getpid(), SIGSTOP);
			/* FALLTHROUGH */
		case SIGCONT:
			pty_raw(p);
			pty_winsize(p);
			break;
		case SIGHUP:
			pty_hangup(p);
			break;
		default:
			forward_one(child, (int)si.ssi_signo, killflags);
		}
	}
}

/*
 * The caller's terminal raw, as ssh makes it: no echo, no line editing,
 * no signals from keys, no output processing (the pty does its own).
 */
static void
pty_raw(struct pty *p)
{
	struct termios	 t;

	if (p->rawfd == -1)
		return;
	t = p->saved;
	cfmakeraw(&t);
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(p->rawfd, TCSADRAIN, &t) == 0)
		p->raw = 1;
}

static void
pty_restore(struct pty *p)
{
	if (!p->raw)
		return;
	(void)tcsetattr(p->rawfd, TCSADRAIN, &p->saved);
	p->raw = 0;
}

/* The caller's window size to the pty: its foreground group gets SIGWINCH. */
static void
pty_winsize(const struct pty *p)
{
	struct winsize	 ws;

	if (p->term != -1 && p->master != -1 &&
	    ioctl(p->term, TIOCGWINSZ, &ws) == 0)
		(void)ioctl(p->master, TIOCSWINSZ, &ws);
}

/*
 * Bytes from the caller for the pty.  End of input from a terminal is its
 * hang-up; from a pipe or file (--pty without a terminal) it becomes the
 * pty's end-of-file character, if the pty reads lines.
 */
static void
pty_input(struct pty *p)
{
	struct termios	 t;
	ssize_t		 n;

	n = read(p->in, p->buf, sizeof p->buf);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n > 0) {
		p->off = 0;
		p->len = (size_t)n;
		pty_flush(p);
		return;
	}
	p->in = -1;
	if (p->rawfd != -1) {
		pty_hangup(p);
		return;
	}
	if (tcgetattr(p->master, &t) == 0 && (t.c_lflag & ICANON)) {
		p->buf[0] = (char)t.c_cc[VEOF];
		p->off = 0;
		p->len = 1;
		pty_flush(p);
	}
}

/* As much of the caller's bytes as the pty takes now. */
static void
pty_flush(struct pty *p)
{
	ssize_t	 n;

	while (p->len != 0) {
		n = write(p->master, p->buf + p->off, p->len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 && errno == EAGAIN)
			return;
		if (n <= 0) {
			/* Nobody reads the pty any more: drop them. */
			p->len = 0;
			return;
		}
		p->off += (size_t)n;
		p->len -= (size_t)n;
	}
}

/*
 * The child's output, to the caller.  EIO on the master means every
 * holder of the subsidiary has closed it.  A caller that can no longer
 * take output is a hung-up terminal.
 */
static void
pty_output(struct pty *p)
{
	char		 buf[CTL_PTY_BUF];
	ssize_t		 n, w;
	size_t		 done;

	n = read(p->master, buf, sizeof buf);
	if (n == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		p->eof = 1;
		return;
	}
	for (done = 0; p->out != -1 && done < (size_t)n;) {
		w = write(p->out, buf + done, (size_t)n - done);
		if (w > 0)
			done += (size_t)w;
		else if (w == 0 || errno != EINTR)
			pty_hangup(p);
	}
}

/*
 * After the child's exit: what it wrote last may still be on its way
 * through the pty.  Read until EIO (no one holds the subsidiary), or a
 * quiet moment: a background job that outlives it may hold it for good.
 */
static void
pty_drain(struct pty *p)
{
	struct timespec	 t0, t;
	struct pollfd	 pfd;

	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	while (p->master != -1 && !p->eof) {
		pfd = (struct pollfd){ .fd = p->master, .events = POLLIN };
		if (poll(&pfd, 1, CTL_PTY_QUIET_MS) <= 0)
			break;
		pty_output(p);
		(void)clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 +
		    (t.tv_nsec - t0.tv_nsec) / 1000000 > CTL_PTY_DRAIN_MS)
			break;
	}
}

/* The caller's terminal is gone: so is the child's (SIGHUP to it). */
static void
pty_hangup(struct pty *p)
{
	if (p->master != -1)
		(void)close(p->master);
	p->master = -1;
	p->eof = 1;
	p->in = p->out = -1;
	p->len = 0;
}

/* Accepts a pty never opened ({ -1, -1 }) or already closed. */
static void
pty_close(struct pty *p)
{
	pty_restore(p);
	if (p->sub != -1)
		(void)close(p->sub);
	p->sub = -1;
	if (p->master != -1)
		(void)close(p->master);
	p->master = -1;
}

/*
 * Ends as the child ended.  For a signal, spawnctl kills itself with it
 * (core dumps off), as sudo does, rather than exit(128+N): a shell reports
 * 128+N either way, but bash stops a loop on Ctrl-C only when its command
 * died of SIGINT.  exit(128+N) remains if the signal does not kill.
 */
static int
exit_like(int status)
{
	struct rlimit	 rl = { 0, 0 };
	sigset_t	 set;
	int		 sig;

	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	if (!WIFSIGNALED(status))
		return CTL_EXIT_FAIL;
	sig = WTERMSIG(status);
	(void)fflush(NULL);
	(void)setrlimit(RLIMIT_CORE, &rl);
	(void)signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	(void)sigprocmask(SIG_UNBLOCK, &set, NULL);
	(void)raise(sig);
	return 128 + sig;
}

/* The child runs: print its pid (--detach) or wait for it. */
static int
run_child(struct spawnd_client *client, struct spawnd_child *child,
    unsigned int flags, const int *stdok, struct pty *pty)
{
	if (flags & SPAWND_DETACH) {
		if (printf("%ld\n", (long)spawnd_child_pid(child)) < 0 ||
		    fflush(stdout) != 0)
			return CTL_EXIT_FAIL;
		return 0;
	}
	if (pty != NULL) {
		std_release(stdok, pty->on);
		return pty_run(client, child, pty, flags & SPAWND_KILL_GROUP);
	}
	std_release(stdok, NULL);
	return run_wait(client, child, flags & SPAWND_KILL_GROUP);
}

/* spawnctl run: see run_usage().  Returns the exit code. */
static int
cmd_run(int argc, char **argv)
{
	struct run_opts		 o = { 0 };
	struct spawnd_client	*client = NULL;
	struct spawnd_req	*req = NULL;
	struct spawnd_child	*child = NULL;
	struct spawnd_failure	 f = { 0, SPAWND_STEP_NONE, -1 };
	struct pty		 pty = { .master = -1, .sub = -1 };
	const char		**envp = NULL;
	int			 stdok[3], dirfd = -1, fd, rc, code;

	if ((code = run_parse(argc, argv, &o)) != -1)
		goto out;
	/* Before any fd of ours can take a free slot among 0, 1, 2. */
	for (fd = 0; fd < 3; fd++)
		stdok[fd] = fcntl(fd, F_GETFD) != -1;
	code = CTL_EXIT_FAIL;
	if ((o.pty = pty_want(&o)) && pty_open(&pty, stdok) != 0)
		goto out;
	if ((envp = env_build(&o)) == NULL) {
		warn("environment");
		goto out;
	}
	if ((o.cwd == NULL || o.cwd[0] != '/') && (dirfd = open(".",
	    O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1) {
		warn("current directory");
		goto out;
	}
	if ((code = run_request(&o, envp, stdok, dirfd, &req)) != 0 ||
	    (o.pty && (code = pty_request(req, &pty)) != 0) ||
	    (code = ctl_connect(o.socket, CTL_EXIT_FAIL, &client)) != 0)
		goto out;
	rc = spawnd_spawn(client, req, &child, &f);
	/* The child's copies only: its exit hangs the master up. */
	if (pty.sub != -1) {
		(void)close(pty.sub);
		pty.sub = -1;
	}
	if (rc == -EPROTO && f.step == SPAWND_STEP_REQUEST && o.pty) {
		warnx("%s: spawnd refused the request: a daemon older than "
		    "--pty? (--no-pty runs without)", o.argv[0]);
		code = CTL_EXIT_FAIL;
	} else if (rc < 0)
		code = spawn_error(o.argv[0], rc, &f, dirfd != -1 &&
		    o.cwd != NULL);
	else
		code = run_child(client, child, o.flags, stdok,
		    o.pty ? &pty : NULL);
out:
	pty_close(&pty);
	spawnd_child_free(child);
	spawnd_client_free(client);
	spawnd_req_free(req);
	if (dirfd != -1)
		(void)close(dirfd);
	free(envp);
	free(o.envops);
	free(o.extra);
	free(o.extrach);
	return code;
}

/*
 * The daemon to autostart: the spawnd installed next to this spawnctl
 * (../sbin/spawnd, or ./spawnd in a build tree), else "spawnd" from PATH
 * (the library also honours $SPAWND_DAEMON).
 */
static const char *
ctl_daemon(void)
{
	static char	 buf[PATH_MAX];
	static const char *const rel[] = { "/../sbin/spawnd", "/spawnd" };
	char		 self[PATH_MAX], *slash;
	ssize_t		 n;
	size_t		 i;

	if (getenv("SPAWND_DAEMON") != NULL ||
	    (n = readlink("/proc/self/exe", self, sizeof self - 1)) <= 0)
		return NULL;
	self[n] = '\0';
	if ((slash = strrchr(self, '/')) == NULL)
		return NULL;
	*slash = '\0';
	for (i = 0; i < 2; i++)
		if (snprintf(buf, sizeof buf, "%s%s", self, rel[i]) <
		    (int)sizeof buf && access(buf, X_OK) == 0)
			return buf;
	return NULL;
}

/* spawnctl's own umask: the child's default, as for a direct exec. */
static mode_t
ctl_umask(void)
{
	mode_t	 m = umask(0);

	(void)umask(m);
	return m;
}

/*
 * --umask, --nice, --rlimit, --fd, --pgroup: applied in order.  Returns 0,
 * or an exit code after a message.
 */
static int
run_extra(struct spawnd_req *req, int ch, const char *arg)
{
	char	*end;
	long	 v = 0;
	int	 rc = 0;

	if (ch == OPT_UMASK || ch == OPT_NICE) {
		errno = 0;
		v = strtol(arg, &end, ch == OPT_UMASK ? 8 : 10);
		if (errno != 0 || *arg == '\0' || *end != '\0')
			rc = -EINVAL;
	}
	if (rc == 0) {
		switch (ch) {
		case OPT_UMASK:
			rc = v < 0 || v > 0777 ? -EINVAL :
			    spawnd_req_set_umask(req, (mode_t)v);
			break;
		case OPT_NICE:
			rc = v < -20 || v > 19 ? -EINVAL :
			    spawnd_req_set_nice(req, (int)v);
			break;
		case OPT_PGROUP:
			return spawnd_req_set_pgroup(req, 0) < 0 ?
			    CTL_EXIT_FAIL : 0;
		case OPT_RLIMIT:
			return run_rlimit(req, arg);
		case OPT_FD:
			return run_fd(req, arg);
		}
	}
	if (rc < 0) {
		warnx("run: %s '%s': %s", ch == OPT_UMASK ? "--umask" :
		    "--nice", arg, ch == OPT_UMASK ? "not an octal mode" :
		    "not a nice value in -20..19");
		return CTL_EXIT_USAGE;
	}
	return 0;
}

/* --rlimit NAME=CUR[:MAX], "unlimited" for infinity; MAX defaults to CUR. */
static int
run_rlimit(struct spawnd_req *req, const char *arg)
{
	static const char *const names[] = { "cpu", "fsize", "data",
	    "stack", "core", "rss", "nproc", "nofile", "memlock", "as",
	    "locks", "sigpending", "msgqueue", "nice", "rtprio", "rttime" };
	const char	*eq = strchr(arg, '='), *p;
	rlim_t		 v[2];
	char		*end;
	int		 r, i;

	for (r = 0; eq != NULL && r < 16; r++)
		if (strlen(names[r]) == (size_t)(eq - arg) &&
		    strncasecmp(names[r], arg, (size_t)(eq - arg)) == 0)
			break;
	if (eq == NULL || r == 16)
		goto bad;
	for (i = 0, p = eq + 1; i < 2; i++, p = end + 1) {
		if (strncmp(p, "unlimited", 9) == 0 ||
		    strncmp(p, "infinity", 8) == 0) {
			v[i] = RLIM_INFINITY;
			end = (char *)(uintptr_t)p + (p[0] == 'u' ? 9 : 8);
		} else if (*p < '0' || *p > '9' ||
		    (v[i] = strtoull(p, &end, 10), 0))
			goto bad;
		if (i == 0 && *end == '\0') {
			v[1] = v[0];
			break;
		}
		if (*end != (i == 0 ? ':' : '\0'))
			goto bad;
	}
	if (spawnd_req_set_rlimit(req, r,
	    &(struct rlimit){ v[0], v[1] }) == 0)
		return 0;
bad:
	warnx("run: --rlimit '%s': want NAME=CUR[:MAX] with CUR <= MAX "
	    "(NAME like nofile, core, nproc; \"unlimited\" allowed)", arg);
	return CTL_EXIT_USAGE;
}

/*
 * --fd N=PATH[:MODE] (MODE r, w, a or rw; w truncates, a appends) or
 * --fd N=&M (spawnctl's fd M).  Files opened here stay open until exit.
 */
static int
run_fd(struct spawnd_req *req, const char *arg)
{
	char		 path[PATH_MAX], *end, *colon;
	long		 n, m;
	int		 fd, flags = O_RDONLY;

	n = strtol(arg, &end, 10);
	if (end == arg || *end != '=' || n < 0 || n > INT_MAX)
		goto bad;
	if (end[1] == '&') {
		m = strtol(end + 2, &colon, 10);
		if (colon == end + 2 || *colon != '\0' || m < 0 ||
		    m > INT_MAX || fcntl((int)m, F_GETFD) == -1)
			goto bad;
		return spawnd_req_set_fd(req, (int)m, (int)n) < 0 ?
		    CTL_EXIT_FAIL : 0;
	}
	if (snprintf(path, sizeof path, "%s", end + 1) >= (int)sizeof path)
		goto bad;
	if ((colon = strrchr(path, ':')) != NULL) {
		*colon++ = '\0';
		if (strcmp(colon, "r") == 0)
			flags = O_RDONLY;
		else if (strcmp(colon, "w") == 0)
			flags = O_WRONLY | O_CREAT | O_TRUNC;
		else if (strcmp(colon, "a") == 0)
			flags = O_WRONLY | O_CREAT | O_APPEND;
		else if (strcmp(colon, "rw") == 0)
			flags = O_RDWR | O_CREAT;
		else
			goto bad;
	}
	if (path[0] == '\0')
		goto bad;
	if ((fd = open(path, flags | O_CLOEXEC, 0666)) == -1) {
		warn("run: --fd %s", arg);
		return CTL_EXIT_FAIL;
	}
	return spawnd_req_set_fd(req, fd, (int)n) < 0 ? CTL_EXIT_FAIL : 0;
bad:
	warnx("run: --fd '%s': want N=PATH[:r|w|a|rw] or N=&M with M open",
	    arg);
	return CTL_EXIT_USAGE;
}

/*
 * --exec-fd: open PROG here (searched in PATH when it has no '/') and run
 * exactly that inode, by fd.
 */
static int
run_exec_fd(struct spawnd_req *req, const char *prog)
{
	char		 buf[PATH_MAX];
	const char	*path = getenv("PATH"), *p, *e;
	int		 fd = -1;

	if (strchr(prog, '/') != NULL)
		fd = open(prog, O_RDONLY | O_CLOEXEC);
	for (p = path != NULL ? path : "/bin:/usr/bin"; fd == -1 &&
	    strchr(prog, '/') == NULL; p = e + 1) {
		e = strchrnul(p, ':');
		if (snprintf(buf, sizeof buf, "%.*s%s%s", (int)(e - p), p,
		    e > p ? "/" : "", prog) < (int)sizeof buf &&
		    access(buf, X_OK) == 0)
			fd = open(buf, O_RDONLY | O_CLOEXEC);
		if (*e == '\0')
			break;
	}
	if (fd == -1) {
		warnx("%s: %s", prog, strerror(errno != 0 ? errno : ENOENT));
		return 127;
	}
	return spawnd_req_set_exec_fd(req, fd) < 0 ? CTL_EXIT_FAIL : 0;
}

/* spawnctl ping and spawnctl status: the daemon's counters, round trip. */
static int
cmd_ping(int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "socket",	required_argument, NULL, OPT_SOCKET },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL,		0,		   NULL, 0 }
	};
	struct spawnd_client		*client;
	struct spawnd_status		 st;
	struct timespec			 t0, t1;
	const char			*path = NULL, *cmd;
	int				 ch, rc;

	cmd = strcmp(argv[0], "ping") == 0 ? " ping" : " status";
	optind = 0;
	while ((ch = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		if (ch == 'h')
			ping_usage(stdout, 0);
		if (ch != OPT_SOCKET)
			bad_option(cmd, argv, ping_usage);
		path = optarg;
	}
	if (optind != argc) {
		fprintf(stderr, "spawnctl%s: unexpected argument '%s'\n", cmd,
		    argv[optind]);
		ping_usage(stderr, CTL_EXIT_USAGE);
	}
	if (ctl_connect(path, 1, &client) != 0)
		return 1;
	(void)clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = spawnd_ping(client, CTL_PING_MS, &st);
	(void)clock_gettime(CLOCK_MONOTONIC, &t1);
	spawnd_client_free(client);
	if (rc < 0) {
		warnx("ping spawnd: %s", strerror(-rc));
		return 1;
	}
	printf("spawnd pid %ld: %u connections, %u children, %llu spawns\n",
	    (long)st.pid, st.connections, st.children,
	    (unsigned long long)st.spawns);
	printf("round trip %.3f ms\n", (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* A signal by name (TERM, SIGTERM) or number; -1 if neither. */
static int
sig_parse(const char *s)
{
	char	*end;
	long	 n;
	int	 sig;

	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	n = strtol(s, &end, 10);
	if (*s != '\0' && *end == '\0')
		return n >= 1 && n <= 64 ? (int)n : -1;
	for (sig = 1; sig < NSIG; sig++) {
		const char	*name = sigabbrev_np(sig);

		if (name != NULL && strcasecmp(name, s) == 0)
			return sig;
	}
	return -1;
}

/*
 * Options of ps, kill and wait: --socket, --json (ps), -s SIG (kill); and
 * the pid operand (kill, wait).  Exits on bad usage.
 */
static int
pid_parse(int argc, char **argv, const char *cmd, int *ret_flag,
    const char **ret_path, pid_t *ret_pid)
{
	static const struct option	 opts[] = {
		{ "socket",	required_argument, NULL, OPT_SOCKET },
		{ "json",	no_argument,	   NULL, 'j' },
		{ "signal",	required_argument, NULL, 's' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL,		0,		   NULL, 0 }
	};
	char	*end;
	long	 n;
	int	 ch, ps = strcmp(cmd, "ps") == 0;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "+:hs:", opts, NULL)) != -1) {
		if (ch == 'h') {
			printf("usage: spawnctl %s\n", cmd);
			exit(0);
		} else if (ch == OPT_SOCKET)
			*ret_path = optarg;
		else if (ch == 'j' && ps)
			*ret_flag = 1;
		else if (ch == 's' && strcmp(cmd, "kill") == 0) {
			if ((*ret_flag = sig_parse(optarg)) == -1) {
				warnx("kill: unknown signal '%s'", optarg);
				exit(CTL_EXIT_USAGE);
			}
		} else {
			warnx("%s: bad option or missing argument", cmd);
			exit(CTL_EXIT_USAGE);
		}
	}
	if (ps && optind == argc)
		return 0;
	n = optind + 1 == argc ? strtol(argv[optind], &end, 10) : 0;
	if (ps || n <= 0 || n > INT32_MAX || *end != '\0') {
		warnx("usage: spawnctl %s%s", cmd, ps ? " [--json]" :
		    strcmp(cmd, "kill") == 0 ? " [-s sig] pid" : " pid");
		exit(CTL_EXIT_USAGE);
	}
	*ret_pid = (pid_t)n;
	return 0;
}

/* ps output: aligned columns, or a JSON array. */
static int
ps_print(const struct spawnd_ps *l, size_t n, int json)
{
	size_t	 i;

	if (!json)
		printf("%7s %7s %10s %-8s %s\n", "PID", "CLIENT", "AGE", "STATE",
		    "ARGV");
	else
		printf("[");
	for (i = 0; i < n; i++) {
		const char	*st = (l[i].state & SPAWND_PS_STOPPING) ?
				    "stopping" : (l[i].state &
				    SPAWND_PS_ORPHAN) ? "orphan" :
				    (l[i].state & SPAWND_PS_DETACHED) ?
				    "detached" : "running";

		if (!json) {
			printf("%7ld %7ld %9.1fs %-8s ", (long)l[i].pid,
			    (long)l[i].client_pid, (double)l[i].age_ms / 1000,
			    st);
			text_str(l[i].argv);
			putchar('\n');
			continue;
		}
		printf("%s{\"pid\":%ld,\"client_pid\":%ld,\"uid\":%lu,"
		    "\"age_ms\":%llu,\"state\":\"%s\",\"argv\":",
		    i ? "," : "", (long)l[i].pid, (long)l[i].client_pid,
		    (unsigned long)l[i].uid, (unsigned long long)l[i].age_ms,
		    st);
		json_str(l[i].argv);
		printf("}");
	}
	if (json)
		printf("]\n");
	return fflush(stdout) == 0 ? 0 : 1;
}

/* A JSON string literal. */
static void
json_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		unsigned char	 c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

/*
 * The length of the printable UTF-8 character at s (1 to 4), or 0 for a
 * control character (C0, DEL, C1 as U+0080..U+009F) or a byte that does
 * not start a valid, shortest-form sequence.
 */
static size_t
utf8_len(const unsigned char *s)
{
	uint32_t	cp;
	size_t		n, i;

	if (s[0] >= 0x20 && s[0] < 0x7f)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp <= 0x9f || (n == 3 && cp < 0x800) || (n == 4 &&
	    (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/*
 * A child's argv for a terminal: whoever started the child chose these
 * bytes, and the viewer (root listing every user's children) must not
 * have them move its cursor, retitle its window or worse.  Control
 * characters and bytes that are not valid UTF-8 print as \xHH, a
 * backslash as \\, so that the text reads back unambiguously.
 */
static void
text_str(const char *s)
{
	const unsigned char	*p = (const unsigned char *)s;
	size_t			 n;

	while (*p != '\0') {
		if (*p == '\\') {
			fputs("\\\\", stdout);
			p++;
		} else if ((n = utf8_len(p)) == 0)
			printf("\\x%02x", *p++);
		else {
			(void)fwrite(p, 1, n, stdout);
			p += n;
		}
	}
}

/* spawnctl ps, kill and wait: the daemon's children, by pid. */
static int
cmd_pid(int argc, char **argv)
{
	struct spawnd_client	*client;
	struct spawnd_ps	*list = NULL;
	struct spawnd_exit	 ex = { 0 };
	const char		*path = NULL, *cmd = argv[0];
	size_t			 n = 0;
	pid_t			 pid = 0;
	int			 flag = 0, r;

	if (strcmp(cmd, "kill") == 0)
		flag = SIGTERM;
	(void)pid_parse(argc, argv, cmd, &flag, &path, &pid);
	if (ctl_connect(path, 1, &client) != 0)
		return 1;
	if (strcmp(cmd, "ps") == 0) {
		r = spawnd_list(client, CTL_PING_MS, &list, &n);
		if (r == 0)
			r = ps_print(list, n, flag) == 0 ? 0 : -EIO;
		free(list);
	} else if (strcmp(cmd, "kill") == 0)
		r = spawnd_kill_pid(client, pid, flag, 0);
	else
		r = spawnd_wait_pid(client, pid, -1, &ex);
	spawnd_client_free(client);
	if (r < 0) {
		if (pid != 0)
			warnx("%s %ld: %s", cmd, (long)pid, strerror(-r));
		else
			warnx("%s: %s", cmd, strerror(-r));
		return 1;
	}
	if (strcmp(cmd, "wait") == 0)
		return WIFEXITED(ex.status) ? WEXITSTATUS(ex.status) :
		    128 + WTERMSIG(ex.status);
	return 0;
}

/*
 * spawnctl install: src copied to dest through spawnd_install(), so no
 * reader or exec ever sees a half-written dest.  Mode: --mode, else src's.
 */
static int
cmd_install(int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "no-replace",	no_argument,	   NULL, 'n' },
		{ "mode",	required_argument, NULL, 'm' },
		{ "fsync",	no_argument,	   NULL, 'f' },
		{ "help",	no_argument,	   NULL, 'h' },
		{ NULL,		0,		   NULL, 0 }
	};
	struct stat	 st;
	unsigned int	 flags = 0;
	char		*end;
	long		 mode = -1;
	int		 ch, src, r;

	optind = 0;
	while ((ch = getopt_long(argc, argv, "+:h", opts, NULL)) != -1) {
		if (ch == 'n')
			flags |= SPAWND_INSTALL_NOREPLACE;
		else if (ch == 'f')
			flags |= SPAWND_INSTALL_FSYNC;
		else if (ch == 'm' && (mode = strtol(optarg, &end, 8),
		    *optarg != '\0' && *end == '\0' && mode >= 0 &&
		    mode <= 07777))
			continue;
		else {
			fprintf(ch == 'h' ? stdout : stderr, "usage: spawnctl "
			    "install [--no-replace] [--mode mode] [--fsync] "
			    "src dest\n");
			exit(ch == 'h' ? 0 : CTL_EXIT_USAGE);
		}
	}
	if (optind + 2 != argc) {
		warnx("install: want src and dest");
		return CTL_EXIT_USAGE;
	}
	if ((src = open(argv[optind], O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(src, &st) == -1) {
		warn("install: %s", argv[optind]);
		return 1;
	}
	r = spawnd_install(AT_FDCWD, argv[optind + 1], NULL, 0, src,
	    mode >= 0 ? (mode_t)mode : st.st_mode & 07777, flags);
	(void)close(src);
	if (r < 0) {
		warnx("install: %s: %s", argv[optind + 1], strerror(-r));
		return 1;
	}
	(void)close(r);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option	 opts[] = {
		{ "help",	no_argument,	NULL, 'h' },
		{ "version",	no_argument,	NULL, 'V' },
		{ NULL,		0,		NULL, 0 }
	};
	int				 ch;

	while ((ch = getopt_long(argc, argv, "+:hV", opts, NULL)) != -1) {
		if (ch == 'h')
			usage(stdout, 0);
		if (ch != 'V')
			bad_option("", argv, usage);
		printf("spawnctl %s\n", SPAWND_VERSION);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	argc -= optind;
	argv += optind;
	if (argc == 0)
		usage(stderr, CTL_EXIT_USAGE);
	if (strcmp(argv[0], "run") == 0)
		return cmd_run(argc, argv);
	if (strcmp(argv[0], "wrap") == 0)
		return ctl_wrap(argc, argv);
	if (strcmp(argv[0], "ping") == 0 || strcmp(argv[0], "status") == 0)
		return cmd_ping(argc, argv);
	if (strcmp(argv[0], "install") == 0)
		return cmd_install(argc, argv);
	if (strcmp(argv[0], "ps") == 0 || strcmp(argv[0], "kill") == 0 ||
	    strcmp(argv[0], "wait") == 0)
		return cmd_pid(argc, argv);
	fprintf(stderr, "spawnctl: unknown command '%s'\n", argv[0]);
	usage(stderr, CTL_EXIT_USAGE);
}
