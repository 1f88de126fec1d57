/*
 * test-trust: the client believes only its own uid's or root's server,
 * and only pidfds of that server's children (issue 12, item 1).
 *
 * A fake server (a forked child of this test, on a socket in a private
 * directory under /tmp) answers HELLO as the daemon does and logs every
 * datagram it receives (type, bytes, fds) to a file:
 *
 *   1. fake as uid 65534, root client: spawnd_connect, _autostart,
 *	spawnd_run, the posix face, spawnctl run/ping/ps/kill/wait all
 *	refuse with EPERM (spawnctl: 125 for run, 1 for the others, and a
 *	message naming the socket and the uid); the fake received nothing;
 *   2. fake as uid 1234, client as uid 65534 (a forked child that drops
 *	its ids, and spawnctl copied to a private 0755 directory, since the
 *	build tree may sit under a 0700 home): refused alike;
 *   3. fake as root, root client, STARTED with a lying pidfd: of an
 *	unrelated process under its own pid, of it under the fake's child's
 *	pid, a reaped pidfd under a live unrelated pid: EPROTO, the fd
 *	closed, the unrelated process not signalled, no frame after SPAWN;
 *	the fake's own child under its pid, and a reaped pidfd under a pid
 *	nobody has, are accepted (the fake is faithful enough);
 *   4. STARTED before the exec (PROTO_SPAWN_EXEC_FD): an exec fd that is
 *	no pipe is refused (EPROTO, fds closed); a pipe with a byte, then
 *	FAILED, is the failure FAILED names; a daemon older than the flag,
 *	which refuses it (EINVAL at the request), gets the request again
 *	without it, and later requests come without it.
 *
 * Root only (it needs other uids); skips otherwise.
 */

#include <sys/socket.h>
#include <sys/un.h>

#include <grp.h>

#include "proto.h"
#include "testlib.h"

#define NOBODY		65534
#define OTHER_UID	1234

enum fake_mode {
	FAKE_LOG,		/* answer HELLO, log */
	FAKE_PIDFD_OTHER,	/* STARTED: pidfd of other, named other */
	FAKE_PIDFD_MISNAMED,	/* pidfd of other, named our child */
	FAKE_PIDFD_OWN,		/* pidfd of our child, named it (honest) */
	FAKE_DEAD_OTHER,	/* reaped pidfd, named other (alive) */
	FAKE_DEAD_NOBODY,	/* reaped pidfd, named its dead pid */
	FAKE_EXEC_NOTFIFO,	/* early STARTED, /dev/null as exec fd */
	FAKE_EXEC_FAILED,	/* early STARTED, a byte, then FAILED */
	FAKE_OLD		/* refuses PROTO_SPAWN_EXEC_FD: EINVAL */
};

struct fake {
	pid_t		 pid;
	char		 sock[104];
	char		 log[160];
};

static char	 tdir[64];
static pid_t	 other = -1;	/* an unrelated process */

static void
le32(uint8_t *p, uint32_t v)
{
	p[0] = v & 0xff;
	p[1] = (v >> 8) & 0xff;
	p[2] = (v >> 16) & 0xff;
	p[3] = v >> 24;
}

/* Sends a daemon-to-client frame, with at most two fds (fd first). */
static void
fake_send2(int s, uint16_t type, uint32_t id, const uint8_t *pl,
    uint32_t len, int fd, int fd2)
{
	union {
		struct cmsghdr	 h;
		char		 b[CMSG_SPACE(2 * sizeof(int))];
	} cm;
	int		 fds[2] = { fd, fd2 }, nfds = fd < 0 ? 0 : fd2 < 0 ? 1 : 2;
	uint8_t		 b[64];
	struct iovec	 iov = { .iov_base = b, .iov_len = 20 + len };
	struct msghdr	 msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr	*c;

	memset(b, 0, sizeof b);
	b[0] = PROTO_MAGIC & 0xff;
	b[1] = PROTO_MAGIC >> 8;
	b[2] = PROTO_VERSION;
	b[4] = (uint8_t)type;
	le32(b + 8, len);
	b[12] = (uint8_t)nfds;
	le32(b + 16, id);
	memcpy(b + 20, pl, len);
	if (nfds > 0) {
		memset(&cm, 0, sizeof cm);
		msg.msg_control = cm.b;
		msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	(void)sendmsg(s, &msg, MSG_NOSIGNAL);
}

static void
fake_send(int s, uint16_t type, uint32_t id, const uint8_t *pl,
    uint32_t len, int fd)
{
	fake_send2(s, type, id, pl, len, fd, -1);
}

/* A SPAWN in early modes and as an older daemon: the reply. */
static void
fake_spawn_new(int s, enum fake_mode mode, uint32_t id, uint32_t flags,
    pid_t mine)
{
	uint8_t	 pl[12];
	int	 pidfd = (int)syscall(SYS_pidfd_open, mine, 0), xfd, p[2];

	le32(pl, (uint32_t)mine);
	le32(pl + 4, 1);			/* PROTO_STARTED_EXEC_FD */
	if (mode == FAKE_OLD) {
		if (flags & PROTO_SPAWN_EXEC_FD) {
			le32(pl, EINVAL);
			pl[4] = PROTO_STEP_REQUEST;
			pl[5] = pl[6] = pl[7] = 0;
			le32(pl + 8, PROTO_NO_INDEX);
			fake_send(s, PROTO_FAILED, id, pl, 12, -1);
		} else
			fake_send(s, PROTO_STARTED, id, pl, 4, pidfd);
	} else if (mode == FAKE_EXEC_NOTFIFO) {
		xfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		fake_send2(s, PROTO_STARTED, id, pl, 8, pidfd, xfd);
		(void)close(xfd);
	} else if (pipe2(p, O_CLOEXEC) == 0) {
		(void)write(p[1], "x", 1);
		(void)close(p[1]);
		fake_send2(s, PROTO_STARTED, id, pl, 8, pidfd, p[0]);
		(void)close(p[0]);
		le32(pl, ENOENT);
		pl[4] = PROTO_STEP_EXEC;
		pl[5] = pl[6] = pl[7] = 0;
		le32(pl + 8, PROTO_NO_INDEX);
		fake_send(s, PROTO_FAILED, id, pl, 12, -1);
	}
	(void)close(pidfd);
}

/* A child that pauses until killed, or its parent dies; or exits. */
static pid_t
pauser(int exits)
{
	pid_t	parent = getpid(), pid = fork();

	if (pid == 0) {
		if (exits)
			_exit(0);
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		for (;;)
			pause();
	}
	return pid;
}

/* The pidfd and pid a STARTED carries in this mode. */
static void
fake_started(enum fake_mode mode, pid_t mine, int *ret_fd, pid_t *ret_pid)
{
	pid_t	dead;
	int	st;

	*ret_pid = other;
	switch (mode) {
	case FAKE_PIDFD_OTHER:
		*ret_fd = (int)syscall(SYS_pidfd_open, other, 0);
		break;
	case FAKE_PIDFD_MISNAMED:
		*ret_fd = (int)syscall(SYS_pidfd_open, other, 0);
		*ret_pid = mine;
		break;
	case FAKE_PIDFD_OWN:
		*ret_fd = (int)syscall(SYS_pidfd_open, mine, 0);
		*ret_pid = mine;
		break;
	default:
		dead = pauser(1);
		*ret_fd = (int)syscall(SYS_pidfd_open, dead, 0);
		(void)waitpid(dead, &st, 0);
		if (mode == FAKE_DEAD_NOBODY)
			*ret_pid = dead;
		break;
	}
}

/* Serves one connection to its end, logging each datagram. */
static void
fake_conn(int s, enum fake_mode mode, FILE *log, pid_t mine)
{
	union {
		struct cmsghdr	 h;
		char		 b[CMSG_SPACE(sizeof(int) * 253)];
	} cm;
	uint8_t		 b[70000], ok[16];
	struct iovec	 iov = { .iov_base = b, .iov_len = sizeof b };
	struct msghdr	 msg;
	struct cmsghdr	*c;
	ssize_t		 n;
	size_t		 nfds;
	pid_t		 named;
	int		 fd;

	for (;;) {
		memset(&msg, 0, sizeof msg);
		msg.msg_iov = &iov;
		msg.msg_iovlen = 1;
		msg.msg_control = cm.b;
		msg.msg_controllen = sizeof cm.b;
		if ((n = recvmsg(s, &msg, MSG_CMSG_CLOEXEC)) <= 0)
			break;
		nfds = 0;
		for (c = CMSG_FIRSTHDR(&msg); c != NULL;
		    c = CMSG_NXTHDR(&msg, c))
			if (c->cmsg_type == SCM_RIGHTS)
				nfds += (c->cmsg_len - CMSG_LEN(0)) /
				    sizeof(int);
		if (n == 3 && memcmp(b, "END", 3) == 0) {
			fprintf(log, "end\n");
			fflush(log);
			(void)kill(mine, SIGKILL);
			(void)waitpid(mine, NULL, 0);
			_exit(0);
		}
		fprintf(log, "frame type %u bytes %zd fds %zu flags 0x%x\n",
		    n >= 6 ? b[4] : 0, n, nfds, n >= 24 ? b[20] : 0);
		fflush(log);
		if (n < 20)
			continue;
		/* A client that got this far fails fast: we hang up. */
		if (b[4] != PROTO_HELLO && mode == FAKE_LOG)
			break;
		if (b[4] == PROTO_HELLO) {
			le32(ok, 1);
			le32(ok + 4, (uint32_t)getpid());
			le32(ok + 8, PROTO_MAX_REQUEST);
			le32(ok + 12, PROTO_MAX_FDS);
			fake_send(s, PROTO_HELLO_OK, 0, ok, 16, -1);
		} else if (b[4] == PROTO_SPAWN && mode >= FAKE_EXEC_NOTFIFO) {
			fake_spawn_new(s, mode, b[16] | b[17] << 8 |
			    b[18] << 16 | (uint32_t)b[19] << 24,
			    b[20] | b[21] << 8, mine);
		} else if (b[4] == PROTO_SPAWN && !(b[6] & PROTO_F_MORE) &&
		    mode != FAKE_LOG) {
			fake_started(mode, mine, &fd, &named);
			le32(ok, (uint32_t)named);
			fake_send(s, PROTO_STARTED, b[16] | b[17] << 8 |
			    b[18] << 16 | (uint32_t)b[19] << 24, ok, 4, fd);
			(void)close(fd);
		}
	}
	fprintf(log, "eof\n");
	fflush(log);
}

/* The fake's process: drop to uid (unless 0), listen, serve in turn. */
static void
fake_main(struct fake *f, uid_t uid, enum fake_mode mode, int ready)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	FILE			*log;
	pid_t			 mine;
	int			 l, s;

	if ((log = fopen(f->log, "w")) == NULL)
		_exit(2);
	if (uid != 0 && (setgroups(0, NULL) == -1 ||
	    setresgid(uid, uid, uid) == -1 || setresuid(uid, uid, uid) == -1))
		_exit(3);
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	mine = pauser(0);
	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", f->sock);
	if ((l = socket(AF_UNIX, SOCK_SEQPACKET, 0)) == -1 ||
	    bind(l, (struct sockaddr *)&sun, sizeof sun) == -1 ||
	    chmod(f->sock, 0777) == -1 || listen(l, 64) == -1)
		_exit(4);
	(void)write(ready, "r", 1);
	(void)close(ready);
	for (;;) {
		if ((s = accept4(l, NULL, NULL, SOCK_CLOEXEC)) == -1)
			continue;
		fprintf(log, "accept\n");
		fflush(log);
		fake_conn(s, mode, log, mine);
		(void)close(s);
	}
}

/* Starts a fake server as uid in its own directory (owned by uid). */
static int
fake_start(struct fake *f, const char *name, uid_t uid, enum fake_mode mode)
{
	char	 sdir[96], c;
	int	 p[2];

	snprintf(sdir, sizeof sdir, "%s/%s", tdir, name);
	snprintf(f->sock, sizeof f->sock, "%s/sock", sdir);
	snprintf(f->log, sizeof f->log, "%s/%s.log", tdir, name);
	if (mkdir(sdir, 0755) == -1 || chown(sdir, uid, uid) == -1 ||
	    pipe2(p, O_CLOEXEC) == -1) {
		tl_fail(__FILE__, __LINE__, "fake %s: %s", name,
		    strerror(errno));
		return -1;
	}
	if ((f->pid = fork()) == 0) {
		close(p[0]);
		fake_main(f, uid, mode, p[1]);
	}
	close(p[1]);
	if (f->pid == -1 || read(p[0], &c, 1) != 1) {
		tl_fail(__FILE__, __LINE__, "fake %s did not start", name);
		close(p[0]);
		return -1;
	}
	close(p[0]);
	return 0;
}

/*
 * Ends the fake: a last connection says END, served after every earlier
 * one (accept order), so the log is complete; then the log's text.
 */
static void
fake_end(struct fake *f, char *buf, size_t len)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	int			 s, st = 0, fd;
	uint64_t		 end;
	pid_t			 r;

	snprintf(sun.sun_path, sizeof sun.sun_path, "%s", f->sock);
	if ((s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) != -1 &&
	    connect(s, (struct sockaddr *)&sun, sizeof sun) == 0)
		(void)send(s, "END", 3, MSG_NOSIGNAL);
	end = tl_now_ms() + (uint64_t)tl_scale(10000);
	while ((r = waitpid(f->pid, &st, WNOHANG)) == 0 && tl_now_ms() < end)
		tl_sleep_ms(10);
	if (r == 0) {
		tl_fail(__FILE__, __LINE__, "fake %ld did not end",
		    (long)f->pid);
		(void)kill(f->pid, SIGKILL);
		(void)waitpid(f->pid, &st, 0);
	}
	if (s != -1)
		close(s);
	buf[0] = '\0';
	if ((fd = open(f->log, O_RDONLY | O_CLOEXEC)) != -1) {
		(void)tl_read_all(fd, buf, len, 1000);
		close(fd);
	}
}

/* Runs argv (spawnctl) as uid with stderr to errf; its exit status. */
static int
run_ctl(uid_t uid, char *const argv[], const char *errf)
{
	extern char	**environ;
	pid_t		  pid;
	int		  st, fd;

	if ((pid = fork()) == 0) {
		if ((fd = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1 ||
		    dup2(fd, 2) == -1)
			_exit(120);
		if (uid != 0 && (setgroups(0, NULL) == -1 ||
		    setresgid(uid, uid, uid) == -1 ||
		    setresuid(uid, uid, uid) == -1))
			_exit(121);
		execve(argv[0], argv, environ);
		_exit(122);
	}
	if (pid == -1 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* The library's refusals, from a process of uid me (or this one). */
static int
lib_refusals(const char *sock)
{
	const char *const	 argv[] = { "/bin/true", NULL };
	struct spawnd_client	*c = (void *)1;
	struct spawnd_req	*req = NULL;
	int			 bad = 0, r;

	if ((r = spawnd_connect(sock, 2000, &c)) != -EPERM || c != NULL)
		bad |= 1;
	if (r == 0)
		spawnd_client_free(c);
	c = (void *)1;
	if ((r = spawnd_connect_autostart(sock, "/nonexistent", 2000,
	    &c)) != -EPERM || c != NULL)
		bad |= 2;
	if (r >= 0)
		spawnd_client_free(c);
	if (spawnd_req_new(&req) != 0 ||
	    spawnd_req_set_argv(req, argv) != 0 ||
	    spawnd_run(sock, req, NULL, NULL) != -EPERM)
		bad |= 4;
	spawnd_req_free(req);
	return bad;
}

/* As uid: the library's refusals, in a forked child (no exec). */
static int
lib_refusals_as(uid_t uid, const char *sock)
{
	pid_t	pid;
	int	st;

	if ((pid = fork()) == 0) {
		if (setgroups(0, NULL) == -1 ||
		    setresgid(uid, uid, uid) == -1 ||
		    setresuid(uid, uid, uid) == -1)
			_exit(120);
		_exit(lib_refusals(sock));
	}
	if (pid == -1 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* Every spawnctl command that connects refuses the fake, as uid. */
static void
ctl_refusals(const char *ctl, uid_t uid, const char *sock)
{
	static const char *const cmds[][5] = {
		{ "run", "--socket", NULL, "--", "/bin/true" },
		{ "ping", "--socket", NULL, NULL, NULL },
		{ "ps", "--socket", NULL, NULL, NULL },
		{ "kill", "--socket", NULL, "1", NULL },
		{ "wait", "--socket", NULL, "1", NULL },
	};
	char	 errf[192], buf[2048], want[64];
	char	*argv[7];
	size_t	 i, j;
	int	 rc, fd;

	snprintf(errf, sizeof errf, "%s/ctl.err", tdir);
	snprintf(want, sizeof want, "uid %lu", (unsigned long)
	    (uid == 0 ? NOBODY : OTHER_UID));
	for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		argv[0] = TL_UNCONST(ctl);
		for (j = 0; j < 5; j++)
			argv[j + 1] = TL_UNCONST(j == 2 ? sock : cmds[i][j]);
		argv[6] = NULL;
		rc = run_ctl(uid, argv, errf);
		buf[0] = '\0';
		if ((fd = open(errf, O_RDONLY | O_CLOEXEC)) != -1) {
			(void)tl_read_all(fd, buf, sizeof buf, 1000);
			close(fd);
		}
		tl_log("spawnctl %s as uid %lu: exit %d: %s", cmds[i][0],
		    (unsigned long)uid, rc, buf);
		CHECK_INT(rc, ==, i == 0 ? 125 : 1);
		CHECK(strstr(buf, sock) != NULL);
		CHECK(strstr(buf, want) != NULL);
		CHECK(strstr(buf, "nothing was sent") != NULL);
	}
}

/* Scenario 1: root client, server of uid 65534. */
static void
root_client(void)
{
	char		 log[4096];
	struct fake	 f;
	uid_t		 uid;
	pid_t		 pid, cpid;
	char		*argv[] = { TL_UNCONST("true"), NULL };
	int		 r;

	tl_log("1. server uid %d, root client", NOBODY);
	if (fake_start(&f, "nobody", NOBODY, FAKE_LOG) != 0)
		return;
	CHECK_INT(lib_refusals(f.sock), ==, 0);
	CHECK_INT(spawnd_socket_peer(f.sock, &uid, &pid), ==, -EPERM);
	CHECK_INT(uid, ==, NOBODY);
	CHECK_INT(pid, ==, f.pid);
	setenv("SPAWND_SOCKET", f.sock, 1);
	r = spawnd_posix_spawnp(&cpid, "true", NULL, NULL, argv, NULL);
	CHECK_INT(r, ==, EPERM);
	unsetenv("SPAWND_SOCKET");
	ctl_refusals(getenv("SPAWNCTL"), 0, f.sock);
	fake_end(&f, log, sizeof log);
	tl_log("fake's log:\n%s", log);
	CHECK(strstr(log, "accept") != NULL);
	CHECK(strstr(log, "frame") == NULL);
	CHECK(strstr(log, "end") != NULL);
}

/* Scenario 2: client 65534, server 1234; spawnctl from a 0755 copy. */
static void
user_client(void)
{
	char		 log[4096], bin[160], ctl[192], lib[192];
	char		 src[PATH_MAX];
	struct fake	 f;
	const char	*sc = getenv("SPAWNCTL");

	tl_log("2. server uid %d, client uid %d", OTHER_UID, NOBODY);
	if (fake_start(&f, "user", OTHER_UID, FAKE_LOG) != 0)
		return;
	CHECK_INT(lib_refusals_as(NOBODY, f.sock), ==, 0);
	snprintf(bin, sizeof bin, "%s/bin", tdir);
	snprintf(ctl, sizeof ctl, "%s/spawnctl", bin);
	snprintf(lib, sizeof lib, "%s/libspawnd.so.0", bin);
	snprintf(src, sizeof src, "%s/libspawnd.so.0", getenv("B"));
	if (mkdir(bin, 0755) == -1 || tl_copy_file(sc, ctl, 0755) != 0 ||
	    tl_copy_file(src, lib, 0755) != 0)
		tl_fail(__FILE__, __LINE__, "copy %s and %s to %s: %s", sc,
		    src, bin, strerror(errno));
	else
		ctl_refusals(ctl, NOBODY, f.sock);
	fake_end(&f, log, sizeof log);
	tl_log("fake's log:\n%s", log);
	CHECK(strstr(log, "accept") != NULL);
	CHECK(strstr(log, "frame") == NULL);
}

/* One lying (or honest) STARTED: the spawn's result. */
static void
pidfd_case(const char *name, enum fake_mode mode, int want)
{
	const char *const	 argv[] = { "/bin/true", NULL };
	char			 log[4096], *p;
	struct fake		 f;
	struct spawnd_client	*c = NULL;
	struct spawnd_req	*req = NULL;
	struct spawnd_child	*ch = NULL;
	int			 r, before, after;

	tl_log("3. %s", name);
	if (fake_start(&f, name, 0, mode) != 0)
		return;
	before = tl_fd_count(getpid());
	CHECK_OK(spawnd_connect(f.sock, 5000, &c));
	CHECK_OK(spawnd_req_new(&req));
	CHECK_OK(spawnd_req_set_argv(req, argv));
	r = c != NULL ? spawnd_spawn(c, req, &ch, NULL) : -1;
	CHECK_INT(r, ==, want);
	if (want != 0) {
		CHECK(ch == NULL);
		/* The refused pidfd is closed: only our socket is left. */
		after = tl_fd_count(getpid());
		CHECK_INT(after, ==, before + 1);
		CHECK_INT(spawnd_ping(c, 1000, NULL), ==, -ENOTCONN);
	}
	spawnd_child_free(ch);
	spawnd_client_free(c);
	spawnd_req_free(req);
	fake_end(&f, log, sizeof log);
	tl_log("fake's log:\n%s", log);
	/* HELLO, SPAWN, then nothing (no KILL, no PING). */
	p = strstr(log, "frame type 2 ");
	CHECK(strstr(log, "frame type 1 ") != NULL && p != NULL);
	if (p != NULL)
		CHECK(strstr(p + 1, "frame") == NULL);
	CHECK(kill(other, 0) == 0);
}

/* Scenario 3, and spawnctl run through a lying pidfd. */
static void
pidfd_lies(void)
{
	char		 errf[192], log[4096];
	struct fake	 f;
	char		*argv[] = { getenv("SPAWNCTL"), TL_UNCONST("run"),
			    TL_UNCONST("--socket"), NULL, TL_UNCONST("--"),
			    TL_UNCONST("/bin/true"), NULL };

	pidfd_case("own", FAKE_PIDFD_OWN, 0);
	pidfd_case("dead-nobody", FAKE_DEAD_NOBODY, 0);
	pidfd_case("other", FAKE_PIDFD_OTHER, -EPROTO);
	pidfd_case("misnamed", FAKE_PIDFD_MISNAMED, -EPROTO);
	pidfd_case("dead-other", FAKE_DEAD_OTHER, -EPROTO);

	if (fake_start(&f, "ctl-other", 0, FAKE_PIDFD_OTHER) != 0)
		return;
	argv[3] = f.sock;
	snprintf(errf, sizeof errf, "%s/run.err", tdir);
	CHECK_INT(run_ctl(0, argv, errf), ==, 125);
	fake_end(&f, log, sizeof log);
	CHECK(kill(other, 0) == 0);
}

/* Scenario 4: the early STARTED, and a daemon that predates it. */
static void
early(void)
{
	const char *const	 argv[] = { "/bin/true", NULL };
	char			 log[4096], *p;
	struct fake		 f;
	struct spawnd_client	*c = NULL;
	struct spawnd_req	*req = NULL;
	struct spawnd_child	*ch = NULL;
	struct spawnd_failure	 fl;
	char			*nl;
	int			 before, n = 0, flagged[4] = { 0 };

	CHECK_OK(spawnd_req_new(&req));
	CHECK_OK(spawnd_req_set_argv(req, argv));

	tl_log("4. an exec fd that is no pipe");
	if (fake_start(&f, "exec-notfifo", 0, FAKE_EXEC_NOTFIFO) == 0) {
		before = tl_fd_count(getpid());
		CHECK_OK(spawnd_connect(f.sock, 5000, &c));
		CHECK_INT(c != NULL ? spawnd_spawn(c, req, &ch, NULL) : -1, ==,
		    -EPROTO);
		CHECK(ch == NULL);
		CHECK_INT(tl_fd_count(getpid()), ==, before + 1);
		spawnd_client_free(c);
		c = NULL;
		fake_end(&f, log, sizeof log);
	}

	tl_log("4. a byte on the exec fd, then FAILED");
	if (fake_start(&f, "exec-failed", 0, FAKE_EXEC_FAILED) == 0) {
		before = tl_fd_count(getpid());
		CHECK_OK(spawnd_connect(f.sock, 5000, &c));
		CHECK_INT(c != NULL ? spawnd_spawn(c, req, &ch, &fl) : -1, ==,
		    -ENOENT);
		CHECK(ch == NULL);
		CHECK_INT(fl.step, ==, SPAWND_STEP_EXEC);
		CHECK_INT(tl_fd_count(getpid()), ==, before + 1);
		/* The link stays in step: the same again. */
		CHECK_INT(c != NULL ? spawnd_spawn(c, req, &ch, &fl) : -1, ==,
		    -ENOENT);
		spawnd_client_free(c);
		c = NULL;
		fake_end(&f, log, sizeof log);
	}

	tl_log("4. a daemon older than the early STARTED");
	if (fake_start(&f, "old", 0, FAKE_OLD) == 0) {
		CHECK_OK(spawnd_connect(f.sock, 5000, &c));
		CHECK_OK(c != NULL ? spawnd_spawn(c, req, &ch, NULL) : -1);
		spawnd_child_free(ch);
		ch = NULL;
		CHECK_OK(c != NULL ? spawnd_spawn(c, req, &ch, NULL) : -1);
		spawnd_child_free(ch);
		ch = NULL;
		spawnd_client_free(c);
		c = NULL;
		fake_end(&f, log, sizeof log);
		tl_log("fake's log:\n%s", log);
		/* With the flag once, then without: the resent, the next. */
		for (p = log; (p = strstr(p, "frame type 2 ")) != NULL; p++) {
			nl = strchr(p, '\n');
			flagged[n < 3 ? n : 3] = nl != NULL &&
			    strncmp(nl - 4, "0x80", 4) == 0;
			n++;
		}
		CHECK_INT(n, ==, 3);
		CHECK(flagged[0] && !flagged[1] && !flagged[2]);
	}
	spawnd_req_free(req);
}

int
main(void)
{
	int	st;

	if (geteuid() != 0) {
		fprintf(stderr, "needs root (fake servers of other uids)\n");
		return TL_SKIP;
	}
	if (getenv("SPAWNCTL") == NULL || getenv("B") == NULL) {
		fprintf(stderr, "SPAWNCTL and B unset (run by run-tests.sh)\n");
		return TL_SKIP;
	}
	/* /tmp, not $TMPDIR: other uids must reach the sockets. */
	snprintf(tdir, sizeof tdir, "/tmp/spawnd-trust.XXXXXX");
	if (mkdtemp(tdir) == NULL || chmod(tdir, 0711) == -1) {
		fprintf(stderr, "mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	other = pauser(0);
	root_client();
	user_client();
	pidfd_lies();
	early();
	(void)kill(other, SIGKILL);
	(void)waitpid(other, &st, 0);
	tl_rm_rf(tdir);
	return tl_exit();
}
