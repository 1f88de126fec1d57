/*
 * test-posix-closed: the posix face's file actions see exactly the
 * caller's fd table, compared with glibc's posix_spawn on the same table.
 *
 * A forked child of the test makes its fd table known: everything from 3
 * up is closed, then a few fds of its own are put at fixed numbers (some
 * inherited, some close-on-exec).  The library then holds fds of its own
 * at numbers the caller has closed: the connections of two outstanding
 * children, a pooled connection, and during each call the cwd it sends.
 * For each action (fchdir, dup2 from, dup2 onto itself, close,
 * tcsetpgrp, dup2 onto, open onto, closefrom) and each number 3..20 the
 * same probe is run through posix_spawn and spawnd_posix_spawn: the return
 * values, the wait statuses and the child's fds and cwd (the probe's
 * report, tests/helpers/probe.c) must be equal.  A number the caller has
 * closed is closed to the actions, whatever the library holds there.
 */

#include <sys/mman.h>
#include <sys/syscall.h>

#include <spawn.h>

#include "testlib.h"

#define FD_LO		3
#define FD_HI		20
#define FD_NEW		21	/* dup2 from N lands here */
#define FD_OUT		40	/* the report's pipe, inherited */
#define FD_IN		41	/* its read end, ours */
#define REP_SIZE	(64 * 1024)

enum { K_FCHDIR, K_DUP2_FROM, K_DUP2_SELF, K_CLOSE, K_TCSETPGRP,
    K_DUP2_ONTO, K_OPEN_ONTO, K_CLOSEFROM, K_COUNT };

static const char *const kind_name[K_COUNT] = {
	"fchdir", "dup2-from", "dup2-self", "close", "tcsetpgrp",
	"dup2-onto", "open-onto", "closefrom"
};

static struct tl_daemon	 d;
static char		 probe[PATH_MAX];
static char		*envp[] = { TL_UNCONST("PATH=/usr/bin:/bin"), NULL };

/* Puts fd at number want (close-on-exec or not); the old fd is closed. */
static int
place(int fd, int want, int cloexec)
{
	if (fd == -1)
		return -1;
	if (fd != want) {
		if (dup3(fd, want, cloexec ? O_CLOEXEC : 0) == -1)
			return -1;
		(void)close(fd);
	} else if (fcntl(fd, F_SETFD, cloexec ? FD_CLOEXEC : 0) == -1)
		return -1;
	return 0;
}

/*
 * The caller's table: 5 a directory and 11 a file, inherited; 8 another
 * directory, 13 /dev/null, 16 and 17 a pipe, close-on-exec; the report
 * pipe at 40 (inherited) and 41.
 */
static int
setup_table(void)
{
	int	p[2];

	if (syscall(SYS_close_range, FD_LO, ~0U, 0) == -1)
		return -1;
	if (chdir(d.dir) == -1 || mkdir("a", 0700) == -1 ||
	    mkdir("b", 0700) == -1)
		return -1;
	if (place(open("a", O_RDONLY | O_DIRECTORY), 5, 0) == -1 ||
	    place(open("b", O_RDONLY | O_DIRECTORY), 8, 1) == -1 ||
	    place(open("f", O_RDWR | O_CREAT, 0600), 11, 0) == -1 ||
	    place(open("/dev/null", O_RDWR), 13, 1) == -1)
		return -1;
	if (pipe(p) == -1 || place(p[0], 42, 1) == -1 ||
	    place(p[1], 43, 1) == -1 || place(42, 16, 1) == -1 ||
	    place(43, 17, 1) == -1)
		return -1;
	if (pipe(p) == -1 || place(p[1], FD_OUT, 0) == -1 ||
	    place(p[0], FD_IN, 1) == -1)
		return -1;
	return 0;
}

/* The action of kind k on number fd, in both worlds. */
static int
add_action(int k, int fd, posix_spawn_file_actions_t *g,
    spawnd_posix_spawn_file_actions_t *s)
{
	int	rg = -1, rs = -1;

	switch (k) {
	case K_FCHDIR:
		rg = posix_spawn_file_actions_addfchdir_np(g, fd);
		rs = spawnd_posix_spawn_file_actions_addfchdir_np(s, fd);
		break;
	case K_DUP2_FROM:
		rg = posix_spawn_file_actions_adddup2(g, fd, FD_NEW);
		rs = spawnd_posix_spawn_file_actions_adddup2(s, fd, FD_NEW);
		break;
	case K_DUP2_SELF:
		rg = posix_spawn_file_actions_adddup2(g, fd, fd);
		rs = spawnd_posix_spawn_file_actions_adddup2(s, fd, fd);
		break;
	case K_CLOSE:
		rg = posix_spawn_file_actions_addclose(g, fd);
		rs = spawnd_posix_spawn_file_actions_addclose(s, fd);
		break;
	case K_TCSETPGRP:
		rg = posix_spawn_file_actions_addtcsetpgrp_np(g, fd);
		rs = spawnd_posix_spawn_file_actions_addtcsetpgrp_np(s, fd);
		break;
	case K_DUP2_ONTO:
		rg = posix_spawn_file_actions_adddup2(g, 5, fd);
		rs = spawnd_posix_spawn_file_actions_adddup2(s, 5, fd);
		break;
	case K_OPEN_ONTO:
		rg = posix_spawn_file_actions_addopen(g, fd, "f", O_RDONLY, 0);
		rs = spawnd_posix_spawn_file_actions_addopen(s, fd, "f",
		    O_RDONLY, 0);
		break;
	case K_CLOSEFROM:
		rg = posix_spawn_file_actions_addclosefrom_np(g, fd);
		rs = spawnd_posix_spawn_file_actions_addclosefrom_np(s, fd);
		break;
	}
	CHECK_INT(rg, ==, rs);
	return rg == 0 && rs == 0 ? 0 : -1;
}

/*
 * Reads one report from FD_IN into buf, keeping only what the actions
 * change: the "fds", "fd.N.*" and "cwd" lines.
 */
static void
read_report(char *buf, size_t len)
{
	static char	 raw[REP_SIZE];
	struct pollfd	 pfd = { FD_IN, POLLIN, 0 };
	size_t		 n = 0, out = 0;
	ssize_t		 r;
	char		*line, *save;

	buf[0] = '\0';
	while (n < sizeof raw - 1) {
		raw[n] = '\0';
		if (n >= 6 && strcmp(raw + n - 6, "end=1\n") == 0)
			break;
		if (poll(&pfd, 1, tl_scale(60000)) != 1) {
			tl_fail(__FILE__, __LINE__, "no report");
			return;
		}
		if ((r = read(FD_IN, raw + n, sizeof raw - 1 - n)) <= 0) {
			tl_fail(__FILE__, __LINE__, "report: %s",
			    r == 0 ? "EOF" : strerror(errno));
			return;
		}
		n += (size_t)r;
	}
	raw[n] = '\0';
	for (line = strtok_r(raw, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "fds=", 4) != 0 &&
		    strncmp(line, "fd.", 3) != 0 &&
		    strncmp(line, "cwd=", 4) != 0)
			continue;
		out += (size_t)snprintf(buf + out, len - out, "%s\n", line);
		if (out >= len)
			break;
	}
}

/*
 * glibc's posix_spawn on the caller's table alone: in a fork that closes
 * what the library holds (every fd the caller did not open), as if the
 * library were not there.
 */
static void
glibc_spawn(const posix_spawn_file_actions_t *g, char *const argv[],
    int *ret_err, int *ret_status)
{
	static const int	 mine[] = { 0, 1, 2, 5, 8, 11, 13, 16, 17,
				    FD_OUT, FD_IN };
	struct result {
		int	err;
		int	status;
	}			*res;
	size_t			 i;
	pid_t			 pid, child;
	int			 fd, st;

	*ret_err = -1;
	*ret_status = -1;
	res = mmap(NULL, sizeof *res, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (res == MAP_FAILED) {
		tl_fail(__FILE__, __LINE__, "mmap: %s", strerror(errno));
		return;
	}
	res->err = res->status = -1;
	if ((pid = fork()) == 0) {
		for (fd = 0; fd <= 1024; fd++) {
			for (i = 0; i < sizeof mine / sizeof mine[0]; i++)
				if (mine[i] == fd)
					break;
			if (i == sizeof mine / sizeof mine[0])
				(void)close(fd);
		}
		if ((res->err = posix_spawn(&child, probe, g, NULL, argv,
		    envp)) == 0 && waitpid(child, &res->status, 0) != child)
			_exit(1);
		_exit(0);
	}
	if (pid == -1 || waitpid(pid, &st, 0) != pid || st != 0)
		tl_fail(__FILE__, __LINE__, "glibc's side failed");
	*ret_err = res->err;
	*ret_status = res->status;
	(void)munmap(res, sizeof *res);
}

/* One action on one number, through glibc and through spawnd. */
static void
compare(int k, int fd)
{
	static char			 rg[REP_SIZE], rs[REP_SIZE];
	char				*argv[] = { TL_UNCONST("probe"),
					    TL_UNCONST("-o"), TL_UNCONST("40"),
					    NULL };
	posix_spawn_file_actions_t	 g;
	spawnd_posix_spawn_file_actions_t s;
	pid_t				 pid;
	int				 eg, es, stg = -1, sts = -1;

	posix_spawn_file_actions_init(&g);
	spawnd_posix_spawn_file_actions_init(&s);
	rg[0] = rs[0] = '\0';
	if (add_action(k, fd, &g, &s) != 0)
		goto out;
	glibc_spawn(&g, argv, &eg, &stg);
	if (eg == 0 && WIFEXITED(stg) && WEXITSTATUS(stg) == 0)
		read_report(rg, sizeof rg);
	if (eg != 0 && tl_valgrind()) {
		(void)tl_skip_exec_errors(kind_name[k]);
		goto out;
	}
	if ((es = spawnd_posix_spawn(&pid, probe, &s, NULL, argv,
	    envp)) == 0) {
		if (spawnd_waitpid(pid, &sts, 0) != pid)
			tl_fail(__FILE__, __LINE__, "spawnd_waitpid: %s",
			    strerror(errno));
		if (WIFEXITED(sts) && WEXITSTATUS(sts) == 0)
			read_report(rs, sizeof rs);
	}
	if (eg != es || stg != sts || strcmp(rg, rs) != 0)
		tl_fail(__FILE__, __LINE__, "%s %d: glibc %s, status 0x%x; "
		    "spawnd %s, status 0x%x\n--- glibc\n%s--- spawnd\n%s",
		    kind_name[k], fd, strerror(eg), stg, strerror(es), sts,
		    rg, rs);
out:
	posix_spawn_file_actions_destroy(&g);
	spawnd_posix_spawn_file_actions_destroy(&s);
}

/* A child that waits on the pipe at 16: its connection stays ours. */
static pid_t
outstanding(void)
{
	char				*argv[] = { TL_UNCONST("probe"),
					    TL_UNCONST("-q"), TL_UNCONST("-r"),
					    NULL };
	spawnd_posix_spawn_file_actions_t s;
	pid_t				 pid = -1;
	int				 r;

	spawnd_posix_spawn_file_actions_init(&s);
	spawnd_posix_spawn_file_actions_adddup2(&s, 16, 0);
	spawnd_posix_spawn_file_actions_addclose(&s, FD_OUT);
	if ((r = spawnd_posix_spawn(&pid, probe, &s, NULL, argv, envp)) != 0)
		tl_fail(__FILE__, __LINE__, "spawnd_posix_spawn: %s",
		    strerror(r));
	spawnd_posix_spawn_file_actions_destroy(&s);
	return r == 0 ? pid : -1;
}

/* Logs our open fds: the caller's and the library's. */
static void
log_table(void)
{
	char	line[512], path[64], target[256];
	size_t	n = 0;
	ssize_t	r;
	int	fd;

	for (fd = 0; fd <= FD_IN; fd++) {
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		if ((r = readlink(path, target, sizeof target - 1)) < 0)
			continue;
		target[r] = '\0';
		n += (size_t)snprintf(line + n, sizeof line - n, " %d%s", fd,
		    fcntl(fd, F_GETFD) & FD_CLOEXEC ? "(cloexec)" : "");
		if (n >= sizeof line)
			break;
	}
	tl_log("open fds:%s", line);
}

/* The forked caller: its table, the library's fds, every comparison. */
static int
caller(void)
{
	char	*argv[] = { TL_UNCONST("probe"), TL_UNCONST("-q"), NULL };
	pid_t	 out[2], pid;
	int	 k, fd, st, r;

	if (setup_table() != 0) {
		tl_fail(__FILE__, __LINE__, "setup: %s", strerror(errno));
		return tl_exit();
	}
	out[0] = outstanding();
	out[1] = outstanding();
	/* One spawned and reaped: its connection goes to the pool. */
	if ((r = spawnd_posix_spawn(&pid, probe, NULL, NULL, argv,
	    envp)) != 0)
		tl_fail(__FILE__, __LINE__, "spawn: %s", strerror(r));
	else
		CHECK_INT(spawnd_waitpid(pid, &st, 0), ==, pid);
	log_table();
	for (k = 0; k < K_COUNT; k++)
		for (fd = FD_LO; fd <= FD_HI; fd++)
			compare(k, fd);
	(void)close(17);
	for (k = 0; k < 2; k++) {
		if (out[k] == -1)
			continue;
		CHECK_INT(spawnd_waitpid(out[k], &st, 0), ==, out[k]);
		CHECK_INT(st, ==, 0);
	}
	return tl_exit();
}

int
main(void)
{
	pid_t		 pid;
	int		 st;

	signal(SIGPIPE, SIG_IGN);
	if (tl_probe(probe) != 0)
		return TL_SKIP;
	if (tl_start(&d) != 0)
		goto out;
	if (setenv("SPAWND_SOCKET", d.sock, 1) == -1)
		goto out;
	fflush(stderr);
	if ((pid = fork()) == -1) {
		tl_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0)
		_exit(caller());
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		tl_fail(__FILE__, __LINE__, "the caller failed (0x%x)", st);
out:
	tl_stop(&d);
	return tl_exit();
}
