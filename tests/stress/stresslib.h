/*
 * stresslib.h: helpers of the limit, fault and stress tests, on top of
 * tests/integ/testlib.h (its CHECK macros, struct tl_daemon, tl_stop(),
 * tl_spawn_true(), tl_idle_fds()...).
 *
 * st_start() starts a private daemon like tl_start(), but with extra
 * arguments, resource limits, another uid, a preloaded library, or under
 * valgrind.  Then: raw protocol frames for the cases the library cannot
 * produce (half-sent requests, fds in flight), and /proc readings of the
 * daemon (fds, fd limit, RSS, CPU time, zombie children).
 *
 * Exit codes as testlib: 0 pass, 1 fail, 77 skip.
 */

#ifndef SPAWND_STRESSLIB_H
#define SPAWND_STRESSLIB_H

#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <ctype.h>
#include <grp.h>

#include "../integ/testlib.h"
#include "proto.h"

/* How to start a daemon. */
struct st_opts {
	const char *const	*args;		/* extra arguments, or NULL */
	const char *const	*env;		/* extra "K=V", or NULL */
	rlim_t			 nofile;	/* RLIMIT_NOFILE (both), 0: as is */
	rlim_t			 nproc;		/* RLIMIT_NPROC (both), 0: as is */
	uid_t			 uid;		/* run as uid:gid, 0: as we are */
	gid_t			 gid;
	const char		*preload;	/* LD_PRELOAD, or NULL */
	int			 valgrind;	/* under valgrind --leak-check */
	int			 wait_ms;	/* start-up bound, 0: 5000 */
	int			 no_ping;	/* wait for the socket only */
};

/* STRESS_QUICK=1: the short variants (CI). */
static inline int
st_quick(void)
{
	const char	*q = getenv("STRESS_QUICK");

	return q != NULL && *q != '\0' && strcmp(q, "0") != 0;
}

/*
 * A known daemon defect (reported, not yet fixed): logged as DEFECT, and a
 * failure only with STRESS_STRICT=1, so that the suite stays usable while
 * it is open.  cond is what should hold.
 */
#define ST_DEFECT(cond, ...) do {					\
	if (!(cond)) {							\
		const char *st_s_ = getenv("STRESS_STRICT");		\
		char st_m_[512];					\
		snprintf(st_m_, sizeof st_m_, __VA_ARGS__);		\
		if (st_s_ != NULL && *st_s_ != '\0' && *st_s_ != '0')	\
			tl_fail(__FILE__, __LINE__, "%s", st_m_);	\
		else							\
			tl_log("%s:%d: DEFECT (known, not failing): %s",	\
			    __FILE__, __LINE__, st_m_);			\
	}								\
} while (0)

/* An integer from the environment, or def. */
static inline long
st_env_long(const char *name, long def)
{
	const char	*v = getenv(name);

	return v != NULL && *v != '\0' ? strtol(v, NULL, 10) : def;
}

/* The forked child: limits, ids, then exec.  Async-signal-safe calls only. */
static inline void
st_exec_daemon(int outfd, const struct st_opts *o, char *const argv[],
    char *const envp[])
{
	struct rlimit	 rl;
	int		 nullfd;

	if (o->nofile != 0) {
		rl.rlim_cur = rl.rlim_max = o->nofile;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			_exit(126);
	}
	if (o->nproc != 0) {
		rl.rlim_cur = rl.rlim_max = o->nproc;
		if (setrlimit(RLIMIT_NPROC, &rl) == -1)
			_exit(126);
	}
	/* As setpriv --reuid --regid --clear-groups; raw: we may have threads. */
	if (o->uid != 0 && (syscall(SYS_setgroups, 0, NULL) == -1 ||
	    syscall(SYS_setresgid, o->gid, o->gid, o->gid) == -1 ||
	    syscall(SYS_setresuid, o->uid, o->uid, o->uid) == -1))
		_exit(126);
	(void)prctl(PR_SET_PDEATHSIG, SIGTERM);
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
 * The library trusts only a daemon of its own effective uid or root's,
 * and a root client root's only: a root test reaches a daemon run as uid
 * with its effective uid set to uid meanwhile (seteuid: glibc changes
 * every thread's).  Connections made then stay that uid's.
 */
static inline void
st_euid(uid_t uid)
{
	if (getuid() == 0 && seteuid(uid) == -1)
		tl_fail(__FILE__, __LINE__, "seteuid(%u): %s", (unsigned)uid,
		    strerror(errno));
}

/* tl_ping() of a daemon run as uid. */
static inline int
st_ping_as(const char *sock, uid_t uid, int timeout_ms)
{
	int	r;

	if (uid == 0 || getuid() != 0)
		return tl_ping(sock, timeout_ms);
	st_euid(uid);
	r = tl_ping(sock, timeout_ms);
	st_euid(0);
	return r;
}

/*
 * Starts a daemon on DIR/socket (DIR fresh, owned by o->uid), waits until
 * it answers a ping.  Returns 0, or -1 after reporting a failure.  Stop it
 * with tl_stop().
 */
static inline int
st_start(struct tl_daemon *d, const struct st_opts *o)
{
	extern char	**environ;
	static char	  preload[PATH_MAX + 16];
	const char	 *spawnd = tl_spawnd_path(), *tmp;
	static char	  shared[PATH_MAX], shared_so[PATH_MAX];
	char		 *argv[64], *envp[512], vg[PATH_MAX];
	int		  p[2], n = 0, e = 0, i, status;
	int		  wait_ms = o->wait_ms ? o->wait_ms : 5000;
	uint64_t	  end;
	sigset_t	  set, old;

	memset(d, 0, sizeof *d);
	d->logfd = -1;
	tmp = getenv("TMPDIR");
	if (tmp == NULL || *tmp == '\0' || strlen(tmp) > 60)
		tmp = "/tmp";
	snprintf(d->dir, sizeof d->dir, "%s/spawnd-stress.XXXXXX", tmp);
	if (mkdtemp(d->dir) == NULL) {
		tl_fail(__FILE__, __LINE__, "mkdtemp: %s", strerror(errno));
		return -1;
	}
	if (o->uid != 0 && chown(d->dir, o->uid, o->gid) == -1) {
		tl_fail(__FILE__, __LINE__, "chown: %s", strerror(errno));
		return -1;
	}
	snprintf(d->sock, sizeof d->sock, "%s/socket", d->dir);
	if (o->valgrind) {
		if (tl_which("valgrind", vg, sizeof vg) == -1) {
			fprintf(stderr, "no valgrind: skipping\n");
			exit(TL_SKIP);
		}
		argv[n++] = vg;
		argv[n++] = TL_UNCONST("-q");
		argv[n++] = TL_UNCONST("--error-exitcode=99");
		argv[n++] = TL_UNCONST("--leak-check=full");
		argv[n++] = TL_UNCONST("--show-leak-kinds=definite,indirect");
		argv[n++] = TL_UNCONST("--errors-for-leak-kinds=definite,"
		    "indirect");
		argv[n++] = TL_UNCONST("--child-silent-after-fork=yes");
	}
	/* Another uid may not reach our build tree: a copy it can run. */
	if (o->uid != 0 && tl_share(spawnd, o->uid, o->gid, shared,
	    sizeof shared) != 0)
		return -1;
	argv[n++] = o->uid != 0 ? shared : TL_UNCONST(spawnd);
	argv[n++] = TL_UNCONST("--socket");
	argv[n++] = d->sock;
	for (i = 0; o->args != NULL && o->args[i] != NULL && n < 62; i++)
		argv[n++] = TL_UNCONST(o->args[i]);
	argv[n] = NULL;
	for (i = 0; environ[i] != NULL && e < 400; i++) {
		if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0)
			envp[e++] = environ[i];
	}
	for (i = 0; o->env != NULL && o->env[i] != NULL && e < 500; i++)
		envp[e++] = TL_UNCONST(o->env[i]);
	if (o->preload != NULL) {
		if (o->uid != 0 && tl_share(o->preload, o->uid, o->gid,
		    shared_so, sizeof shared_so) != 0)
			return -1;
		snprintf(preload, sizeof preload, "LD_PRELOAD=%s",
		    o->uid != 0 ? shared_so : o->preload);
		envp[e++] = preload;
	}
	envp[e] = NULL;

	if (pipe2(p, O_CLOEXEC) == -1) {
		tl_fail(__FILE__, __LINE__, "pipe2: %s", strerror(errno));
		return -1;
	}
	/* No signal handler of ours may run in the child before exec. */
	sigfillset(&set);
	pthread_sigmask(SIG_SETMASK, &set, &old);
	d->pid = fork();
	if (d->pid == 0) {
		sigemptyset(&set);
		sigprocmask(SIG_SETMASK, &set, NULL);
		st_exec_daemon(p[1], o, argv, envp);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (d->pid == -1) {
		tl_fail(__FILE__, __LINE__, "fork: %s", strerror(errno));
		close(p[0]);
		close(p[1]);
		return -1;
	}
	close(p[1]);
	d->logfd = p[0];
	if (pthread_create(&d->relay, NULL, tl_relay_main, d) == 0)
		d->relay_started = 1;
	end = tl_now_ms() + (uint64_t)(o->valgrind ? wait_ms * 10 : wait_ms);
	for (;;) {
		if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
			tl_fail(__FILE__, __LINE__, "daemon died at start-up "
			    "(status 0x%x)", status);
			d->stopped = 1;
			return -1;
		}
		if (access(d->sock, F_OK) == 0 && (o->no_ping ||
		    st_ping_as(d->sock, o->uid, o->valgrind ? 10000 : 1000) ==
		    0))
			break;
		if (tl_now_ms() >= end) {
			tl_fail(__FILE__, __LINE__, "daemon not answering on "
			    "%s", d->sock);
			return -1;
		}
		tl_sleep_ms(20);
	}
	return 0;
}

/* Is the daemon still running (not exited, not a zombie)? */
static inline int
st_alive(struct tl_daemon *d)
{
	int	status;

	if (d->stopped)
		return 0;
	if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
		tl_log("daemon exited: status 0x%x (signal %d)", status,
		    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
		d->stopped = 1;
		return 0;
	}
	return 1;
}

/* /proc readings. */

/* Reads /proc/PID/NAME into buf (NUL-terminated); length or -1. */
static inline ssize_t
st_proc_read(pid_t pid, const char *name, char *buf, size_t len)
{
	char	path[64];
	ssize_t	n;
	int	fd;

	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, name);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* Soft RLIMIT_NOFILE of pid, from /proc/PID/limits; -1 if unknown. */
static inline long
st_fd_limit(pid_t pid)
{
	char	 buf[4096], *p;

	if (st_proc_read(pid, "limits", buf, sizeof buf) < 0 ||
	    (p = strstr(buf, "Max open files")) == NULL)
		return -1;
	p += strlen("Max open files");
	while (*p == ' ')
		p++;
	return strtol(p, NULL, 10);
}

/* VmRSS of pid in KiB, -1 if unknown. */
static inline long
st_rss_kib(pid_t pid)
{
	char	 buf[4096], *p;

	if (st_proc_read(pid, "status", buf, sizeof buf) < 0 ||
	    (p = strstr(buf, "VmRSS:")) == NULL)
		return -1;
	return strtol(p + 6, NULL, 10);
}

/* Fields after "(comm) " of /proc/PID/stat: field 3 is the state. */
static inline const char *
st_stat_fields(pid_t pid, char *buf, size_t len)
{
	char	*p;

	if (st_proc_read(pid, "stat", buf, len) < 0 ||
	    (p = strrchr(buf, ')')) == NULL)
		return NULL;
	return p + 2;
}

/* utime + stime of pid in clock ticks, -1 if unknown. */
static inline long long
st_cpu_ticks(pid_t pid)
{
	char		 buf[1024];
	const char	*p = st_stat_fields(pid, buf, sizeof buf);
	long long	 ut, st;

	/* state ppid pgrp session tty tpgid flags minflt cminflt majflt
	 * cmajflt utime stime */
	if (p == NULL || sscanf(p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u "
	    "%*u %*u %lld %lld", &ut, &st) != 2)
		return -1;
	return ut + st;
}

/*
 * The children of ppid: their pids in pids[] (up to max), how many are
 * zombies in *ret_zombies.  Returns the number of children.
 */
static inline int
st_children(pid_t ppid, pid_t *pids, int max, int *ret_zombies)
{
	DIR		*dir;
	struct dirent	*de;
	char		 buf[1024];
	const char	*p;
	int		 n = 0, z = 0, pp;
	char		 state;

	if ((dir = opendir("/proc")) == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		p = st_stat_fields(atoi(de->d_name), buf, sizeof buf);
		if (p == NULL || sscanf(p, "%c %d", &state, &pp) != 2 ||
		    pp != ppid)
			continue;
		if (pids != NULL && n < max)
			pids[n] = atoi(de->d_name);
		n++;
		if (state == 'Z')
			z++;
	}
	closedir(dir);
	if (ret_zombies != NULL)
		*ret_zombies = z;
	return n;
}

/*
 * Zombie children of ppid that stay zombies (unreaped) for settle_ms:
 * transient ones, reaped by the daemon's next loop turn, do not count.
 */
static inline int
st_lasting_zombies(pid_t ppid, int settle_ms)
{
	uint64_t	end = tl_now_ms() + (uint64_t)settle_ms;
	int		z = 0;

	do {
		(void)st_children(ppid, NULL, 0, &z);
		if (z == 0)
			return 0;
		tl_sleep_ms(50);
	} while (tl_now_ms() < end);
	return z;
}

/* Is pid running (not gone, not a zombie)? */
static inline int
st_pid_running(pid_t pid)
{
	char		 buf[1024];
	const char	*p = st_stat_fields(pid, buf, sizeof buf);

	return p != NULL && *p != 'Z';
}

/* Waits up to ms for pid to stop running; 1 if it did. */
static inline int
st_wait_gone(pid_t pid, int ms)
{
	uint64_t	end = tl_now_ms() + (uint64_t)ms;

	while (st_pid_running(pid)) {
		if (tl_now_ms() >= end)
			return 0;
		tl_sleep_ms(10);
	}
	return 1;
}

/* Raw protocol: frames built from proto.h's tables, for what the library
 * never sends (half requests, requests left unread). */

/* Little-endian, by hand: proto's code is not exported by libspawnd. */
static inline void
st_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void
st_le32(uint8_t *p, uint32_t v)
{
	st_le16(p, (uint16_t)v);
	st_le16(p + 2, (uint16_t)(v >> 16));
}

static inline uint16_t
st_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t
st_get32(const uint8_t *p)
{
	return (uint32_t)st_get16(p) | (uint32_t)st_get16(p + 2) << 16;
}

#define ST_BODY_MAX	(PROTO_MAX_FRAME * 4)

/* A connected raw socket to the daemon, or -1. */
static inline int
st_raw_connect(const char *sock)
{
	struct sockaddr_un	sun = { .sun_family = AF_UNIX };
	int			s;

	if (strlen(sock) >= sizeof sun.sun_path)
		return -1;
	memcpy(sun.sun_path, sock, strlen(sock) + 1);
	if ((s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	if (connect(s, (struct sockaddr *)&sun, sizeof sun) == -1) {
		int	e = errno;

		close(s);
		errno = e;
		return -1;
	}
	return s;
}

/* Sends one datagram with fds; waits up to 2 s for room.  0 or -errno. */
static inline int
st_send(int s, const void *b, size_t len, const int *fds, size_t nfds)
{
	union {
		struct cmsghdr	 h;
		char		 b[CMSG_SPACE(sizeof(int) * PROTO_MAX_FDS)];
	} cm;
	struct iovec	 iov = { .iov_base = (void *)(uintptr_t)b,
			    .iov_len = len };
	struct msghdr	 msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr	*c;
	struct pollfd	 pfd = { .fd = s, .events = POLLOUT };
	ssize_t		 n;

	if (nfds > PROTO_MAX_FDS)
		return -EINVAL;
	if (nfds > 0) {
		memset(&cm, 0, sizeof cm);
		msg.msg_control = cm.b;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	if (poll(&pfd, 1, 2000) != 1)
		return -ETIMEDOUT;
	n = sendmsg(s, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n == -1)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/* One daemon frame, decoded enough for the tests. */
struct st_frame {
	int		 type;		/* PROTO_*; 0: end of stream */
	uint32_t	 id;
	uint32_t	 err;		/* ERROR, FAILED: errno */
	uint32_t	 step;		/* FAILED */
	uint32_t	 pid;		/* STARTED, EXITED */
	uint32_t	 code, status;	/* EXITED */
	size_t		 len;		/* whole datagram */
	int		 nfds;		/* fds that came (closed) */
};

/*
 * Receives one frame within timeout_ms (-1: forever) into *f.  Returns 1
 * for a frame, 0 at end of stream (f->type 0), -ETIMEDOUT, -errno.  Fds
 * that came with it are closed, but with ret_fd a STARTED's pidfd is kept
 * there.
 */
static inline int
st_recv(int s, struct st_frame *f, int timeout_ms, int *ret_fd)
{
	union {
		struct cmsghdr	 h;
		char		 b[CMSG_SPACE(sizeof(int) * 8)];
	} cm;
	uint8_t		 b[4096];
	struct iovec	 iov = { .iov_base = b, .iov_len = sizeof b };
	struct msghdr	 msg = { .msg_iov = &iov, .msg_iovlen = 1,
			    .msg_control = cm.b,
			    .msg_controllen = sizeof cm.b };
	struct cmsghdr	*c;
	struct pollfd	 pfd = { .fd = s, .events = POLLIN };
	ssize_t		 n;
	size_t		 i, k;
	int		 fds[8], r;

	memset(f, 0, sizeof *f);
	if (ret_fd != NULL)
		*ret_fd = -1;
	do
		r = poll(&pfd, 1, timeout_ms);
	while (r == -1 && errno == EINTR);
	if (r == 0)
		return -ETIMEDOUT;
	n = recvmsg(s, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	if (n == -1)
		return errno == ECONNRESET ? 0 : -errno;
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		memcpy(fds, CMSG_DATA(c), k * sizeof(int));
		for (i = 0; i < k; i++) {
			if (ret_fd != NULL && *ret_fd == -1)
				*ret_fd = fds[i];
			else
				close(fds[i]);
		}
		f->nfds += (int)k;
	}
	if (n == 0)
		return 0;
	f->len = (size_t)n;
	if (n < PROTO_HDR_SIZE)
		return -EPROTO;
	f->type = st_get16(b + 4);
	f->id = st_get32(b + 16);
	if ((f->type == PROTO_ERROR || f->type == PROTO_FAILED) && n >= 24)
		f->err = st_get32(b + 20);
	if (f->type == PROTO_FAILED && n >= 26)
		f->step = st_get16(b + 24);
	if ((f->type == PROTO_STARTED || f->type == PROTO_EXITED) && n >= 24)
		f->pid = st_get32(b + 20);
	if (f->type == PROTO_EXITED && n >= 32) {
		f->code = st_get32(b + 24);
		f->status = st_get32(b + 28);
	}
	return 1;
}

/* Writes a frame header at p. */
static inline void
st_hdr(uint8_t *p, uint16_t type, uint16_t flags, uint32_t length,
    uint16_t nfds, uint32_t id)
{
	st_le16(p, PROTO_MAGIC);
	st_le16(p + 2, PROTO_VERSION);
	st_le16(p + 4, type);
	st_le16(p + 6, flags);
	st_le32(p + 8, length);
	st_le16(p + 12, nfds);
	st_le16(p + 14, 0);
	st_le32(p + 16, id);
}

/* Sends HELLO; with wait, reads HELLO_OK.  0 or -errno (-EPROTO). */
static inline int
st_hello(int s, int wait)
{
	uint8_t			b[28];
	struct st_frame		f;
	int			r;

	st_hdr(b, PROTO_HELLO, 0, 8, 0, 0);
	st_le32(b + 20, 1);
	st_le32(b + 24, 1);
	if ((r = st_send(s, b, sizeof b, NULL, 0)) != 0 || !wait)
		return r;
	if ((r = st_recv(s, &f, 5000, NULL)) < 0)
		return r;
	if (r == 0)
		return -ECONNRESET;
	if (f.type == PROTO_ERROR)
		return -(int)f.err;
	return f.type == PROTO_HELLO_OK ? 0 : -EPROTO;
}

/*
 * A spawn body (proto.h): flags, an ARGV record, and one FD record per
 * passed fd, fd i of the request becoming the child's fd i; pad extra
 * bytes of argv[last] make a large body.  Returns its length, 0 if it
 * does not fit in cap.
 */
static inline size_t
st_spawn_body(uint8_t *p, size_t cap, const char *const *argv, size_t nfds,
    uint32_t flags)
{
	size_t	off = 4, rec, n = 0, i, l;

	for (n = 0; argv[n] != NULL; n++)
		;
	if (cap < 16)
		return 0;
	st_le32(p, flags);
	rec = off;
	off += 8;
	st_le32(p + off, (uint32_t)n);
	off += 4;
	for (i = 0; i < n; i++) {
		l = strlen(argv[i]);
		if (off + 4 + l + 1 > cap)
			return 0;
		st_le32(p + off, (uint32_t)l);
		memcpy(p + off + 4, argv[i], l + 1);
		off += 4 + l + 1;
	}
	st_le16(p + rec, PROTO_REC_ARGV);
	st_le16(p + rec + 2, 0);
	st_le32(p + rec + 4, (uint32_t)(off - rec - 8));
	for (i = 0; i < nfds; i++) {
		if (off + 16 > cap)
			return 0;
		st_le16(p + off, PROTO_REC_FD);
		st_le16(p + off + 2, 0);
		st_le32(p + off + 4, 8);
		st_le32(p + off + 8, (uint32_t)i);
		st_le32(p + off + 12, (uint32_t)i);
		off += 16;
	}
	return off;
}

/* Sends a whole one-frame spawn of argv with fds.  0 or -errno. */
static inline int
st_send_spawn(int s, uint32_t id, const char *const *argv, const int *fds,
    size_t nfds, uint32_t flags)
{
	static _Thread_local uint8_t	b[PROTO_MAX_FRAME];
	size_t				n;

	n = st_spawn_body(b + PROTO_HDR_SIZE, sizeof b - PROTO_HDR_SIZE,
	    argv, nfds, flags);
	if (n == 0)
		return -E2BIG;
	st_hdr(b, PROTO_SPAWN, 0, (uint32_t)n, (uint16_t)nfds, id);
	return st_send(s, b, PROTO_HDR_SIZE + n, fds, nfds);
}

/*
 * Sends only the first frame of a spawn split in two (PROTO_F_MORE, with
 * the fds) and nothing after: a request left half sent.
 */
static inline int
st_send_half_spawn(int s, uint32_t id, const char *const *argv,
    const int *fds, size_t nfds)
{
	static _Thread_local uint8_t	b[PROTO_MAX_FRAME];
	size_t				n;

	n = st_spawn_body(b + PROTO_HDR_SIZE, sizeof b - PROTO_HDR_SIZE,
	    argv, nfds, 0);
	if (n < 8)
		return -E2BIG;
	st_hdr(b, PROTO_SPAWN, PROTO_F_MORE, (uint32_t)(n / 2),
	    (uint16_t)nfds, id);
	return st_send(s, b, PROTO_HDR_SIZE + n / 2, fds, nfds);
}

/* Reads frames until one of type (returns 1, in *f), EOF (0) or timeout. */
static inline int
st_recv_type(int s, int type, struct st_frame *f, int timeout_ms)
{
	uint64_t	end = tl_now_ms() + (uint64_t)timeout_ms, t;
	int		r;

	for (;;) {
		t = tl_now_ms();
		r = st_recv(s, f, t >= end ? 0 : (int)(end - t), NULL);
		if (r <= 0)
			return r;
		if (f->type == type)
			return 1;
	}
}

/* The read end sees EOF within ms: no copy of the write end is left. */
static inline int
st_pipe_eof(int rfd, int ms)
{
	char	b[64];

	return tl_read_all(rfd, b, sizeof b, ms) == 0;
}

/* The failalloc.so control page (tests/helpers/failalloc.c). */
struct st_failalloc {
	_Atomic uint64_t	 count;
	_Atomic uint64_t	 fail_at;
	_Atomic uint64_t	 failed;
	_Atomic int64_t		 live;
	_Atomic uint64_t	 magic;
};
#define ST_FAILALLOC_MAGIC	0x6661696c616c6c6fULL

/* Creates the control file at path and maps it; NULL on failure. */
static inline struct st_failalloc *
st_failalloc_map(const char *path)
{
	void	*m;
	int	 fd;

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1 || ftruncate(fd, 4096) == -1) {
		if (fd != -1)
			close(fd);
		return NULL;
	}
	m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return m == MAP_FAILED ? NULL : m;
}

/* The path of a helper in $HELPERS (or $B/tests/helpers). */
static inline const char *
st_helper(const char *name, char *buf, size_t len)
{
	const char	*h = getenv("HELPERS"), *b = getenv("B");

	if (h != NULL && *h != '\0')
		snprintf(buf, len, "%s/%s", h, name);
	else
		snprintf(buf, len, "%s/tests/helpers/%s", b ? b : "build",
		    name);
	return buf;
}

/* Raises our own RLIMIT_NOFILE soft limit to at least n (or the hard). */
static inline void
st_raise_nofile(rlim_t n)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur >= n)
		return;
	rl.rlim_cur = n < rl.rlim_max ? n : rl.rlim_max;
	(void)setrlimit(RLIMIT_NOFILE, &rl);
}

#endif
