/*
 * Unit tests of fdio.c over a real AF_UNIX SOCK_SEQPACKET socketpair: fds
 * arrive, arrive close-on-exec, and are never leaked on an error path (the
 * process's fd count is checked before and after each one).
 */

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"
#include "proto.h"

#define CHECK(c)	check((c), __FILE__, __LINE__, #c)
#define CHECK_EQ(a, b)	check_eq((long long)(a), (long long)(b), __FILE__, \
			    __LINE__, #a, #b)

static int	checks, failures;

static int	check(int, const char *, int, const char *);
static int	check_eq(long long, long long, const char *, int, const char *,
		    const char *);
static int	count_fds(void);
static void	pair(int [2]);
static ssize_t	send_fds(int, const void *, size_t, int, size_t);
static void	test_send_recv(size_t);
static void	test_trunc(void);
static void	test_too_many(void);
static void	test_ctrunc(void);
static void	test_creds(void);
static void	test_eof(void);
static void	test_misc(void);

static int
check(int ok, const char *file, int line, const char *what)
{
	checks++;
	if (!ok) {
		failures++;
		printf("%s:%d: check failed: %s\n", file, line, what);
	}
	return (ok);
}

static int
check_eq(long long a, long long b, const char *file, int line,
    const char *sa, const char *sb)
{
	checks++;
	if (a != b) {
		failures++;
		printf("%s:%d: check failed: %s == %s (%lld != %lld)\n", file,
		    line, sa, sb, a, b);
	}
	return (a == b);
}

/* Open fds of this process, not counting the one used to count. */
static int
count_fds(void)
{
	DIR		*d;
	struct dirent	*de;
	int		 n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL) {
		perror("opendir /proc/self/fd");
		exit(1);
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] != '.')
			n++;
	}
	(void)closedir(d);
	return (n - 1);
}

static void
pair(int sv[2])
{
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		perror("socketpair");
		exit(1);
	}
}

/* Sends len bytes of buf with nfds copies of fd attached. */
static ssize_t
send_fds(int sock, const void *buf, size_t len, int fd, size_t nfds)
{
	struct iovec	iov;
	int		fds[PROTO_MAX_FDS + 1];
	size_t		i;

	for (i = 0; i < nfds && i < PROTO_MAX_FDS + 1; i++)
		fds[i] = fd;
	iov.iov_base = (void *)(uintptr_t)buf;
	iov.iov_len = len;
	return (fdio_send(sock, &iov, 1, fds, nfds, 0));
}

/* nfds copies of a pipe's read end arrive as real, distinct CLOEXEC fds. */
static void
test_send_recv(size_t nfds)
{
	int		sv[2], p[2], fds[PROTO_MAX_FDS], before;
	char		buf[64];
	size_t		got, i;
	struct stat	st, st2;

	pair(sv);
	if (pipe(p) == -1)
		exit(1);
	before = count_fds();
	CHECK_EQ(send_fds(sv[0], "hello", 5, p[0], nfds), 5);
	CHECK_EQ(fdio_recv(sv[1], buf, sizeof buf, fds, PROTO_MAX_FDS, &got,
	    0), 5);
	CHECK(memcmp(buf, "hello", 5) == 0);
	if (!CHECK_EQ(got, nfds))
		goto out;
	CHECK_EQ(count_fds(), before + (int)nfds);
	(void)fstat(p[0], &st);
	for (i = 0; i < got; i++) {
		CHECK(fcntl(fds[i], F_GETFD) == FD_CLOEXEC);
		CHECK(fstat(fds[i], &st2) == 0 && st2.st_ino == st.st_ino &&
		    st2.st_dev == st.st_dev);
		CHECK(fds[i] != p[0] && (i == 0 || fds[i] != fds[i - 1]));
	}
	fdio_close_all(fds, got);
	CHECK_EQ(count_fds(), before);
out:
	(void)close(p[0]);
	(void)close(p[1]);
	(void)close(sv[0]);
	(void)close(sv[1]);
}

/* A datagram longer than the buffer: -EMSGSIZE, its fds closed. */
static void
test_trunc(void)
{
	int	sv[2], fds[PROTO_MAX_FDS], before;
	char	big[200], buf[16];
	size_t	got = 99;

	pair(sv);
	memset(big, 'x', sizeof big);
	before = count_fds();
	CHECK_EQ(send_fds(sv[0], big, sizeof big, 0, 3), sizeof big);
	CHECK_EQ(fdio_recv(sv[1], buf, sizeof buf, fds, PROTO_MAX_FDS, &got,
	    0), -EMSGSIZE);
	CHECK_EQ(got, 0);
	CHECK_EQ(count_fds(), before);
	/* The next datagram is unaffected. */
	CHECK_EQ(send_fds(sv[0], "ok", 2, 0, 0), 2);
	CHECK_EQ(fdio_recv(sv[1], buf, sizeof buf, fds, PROTO_MAX_FDS, &got,
	    0), 2);
	(void)close(sv[0]);
	(void)close(sv[1]);
}

/* More fds than maxfds: -EPROTO, all of them closed. */
static void
test_too_many(void)
{
	int	sv[2], fds[PROTO_MAX_FDS], before;
	char	buf[16];
	size_t	got = 99;

	pair(sv);
	before = count_fds();
	CHECK_EQ(send_fds(sv[0], "m", 1, 1, 5), 1);
	CHECK_EQ(fdio_recv(sv[1], buf, sizeof buf, fds, 2, &got, 0), -EPROTO);
	CHECK_EQ(got, 0);
	CHECK_EQ(count_fds(), before);
	CHECK_EQ(send_fds(sv[0], "m", 1, 1, PROTO_MAX_FDS), 1);
	CHECK_EQ(fdio_recv(sv[1], buf, sizeof buf, fds, PROTO_MAX_FDS - 1,
	    &got, 0), -EPROTO);
	CHECK_EQ(count_fds(), before);
	CHECK_EQ(send_fds(sv[0], "m", 1, 1, 1), 1);
	CHECK_EQ(fdio_recv(sv[1], buf, sizeof buf, fds, 0, &got, 0), -EPROTO);
	CHECK_EQ(count_fds(), before);
	(void)close(sv[0]);
	(void)close(sv[1]);
}

/*
 * Leaves the receiver three free fd slots under RLIMIT_NOFILE, so the kernel
 * installs three of five fds and sets MSG_CTRUNC: -EPROTO, the three closed.
 */
static void
test_ctrunc(void)
{
	struct rlimit	old, rl;
	int		sv[2], fds[PROTO_MAX_FDS], before, fd, nfree = 0;
	char		buf[16];
	size_t		got = 99;
	ssize_t		n;

	pair(sv);
	before = count_fds();
	if (getrlimit(RLIMIT_NOFILE, &old) == -1)
		exit(1);
	for (fd = 0; nfree < 3; fd++) {
		if (fcntl(fd, F_GETFD) == -1)
			nfree++;
	}
	rl.rlim_cur = (rlim_t)fd;
	rl.rlim_max = old.rlim_max;
	CHECK_EQ(send_fds(sv[0], "c", 1, 1, 5), 1);
	if (!CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0))
		goto out;
	n = fdio_recv(sv[1], buf, sizeof buf, fds, PROTO_MAX_FDS, &got, 0);
	(void)setrlimit(RLIMIT_NOFILE, &old);
	CHECK_EQ(n, -EPROTO);
	CHECK_EQ(got, 0);
	CHECK_EQ(count_fds(), before);
out:
	(void)close(sv[0]);
	(void)close(sv[1]);
}

/* SO_PASSCRED puts SCM_CREDENTIALS on every datagram: -EPROTO. */
static void
test_creds(void)
{
	int	sv[2], fds[PROTO_MAX_FDS], before, on = 1;
	char	buf[16];
	size_t	got = 99;

	pair(sv);
	if (setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &on, sizeof on) == -1)
		exit(1);
	before = count_fds();
	CHECK_EQ(send_fds(sv[0], "p", 1, 0, 0), 1);
	CHECK_EQ(fdio_recv(sv[1], buf, sizeof buf, fds, PROTO_MAX_FDS, &got,
	    0), -EPROTO);
	CHECK_EQ(send_fds(sv[0], "p", 1, 0, 4), 1);
	CHECK_EQ(fdio_recv(sv[1], buf, sizeof buf, fds, PROTO_MAX_FDS, &got,
	    0), -EPROTO);
	CHECK_EQ(got, 0);
	CHECK_EQ(count_fds(), before);
	(void)close(sv[0]);
	(void)close(sv[1]);
}

/* A zero-length datagram and a closed peer both read as 0. */
static void
test_eof(void)
{
	int	sv[2], fds[PROTO_MAX_FDS], before;
	char	buf[16];
	size_t	got = 99;

	pair(sv);
	before = count_fds();
	CHECK_EQ(send_fds(sv[0], "", 0, 0, 2), 0);
	CHECK_EQ(fdio_recv(sv[1], buf, sizeof buf, fds, PROTO_MAX_FDS, &got,
	    0), 0);
	CHECK_EQ(got, 0);
	CHECK_EQ(count_fds(), before);
	(void)close(sv[0]);
	got = 99;
	CHECK_EQ(fdio_recv(sv[1], buf, sizeof buf, fds, PROTO_MAX_FDS, &got,
	    0), 0);
	CHECK_EQ(got, 0);
	(void)close(sv[1]);
}

static void
test_misc(void)
{
	int	sv[2], fds[PROTO_MAX_FDS], bad[2] = { -1, 9999 };
	char	buf[16];
	size_t	got = 99;

	pair(sv);
	CHECK_EQ(fdio_recv(sv[1], buf, sizeof buf, fds, PROTO_MAX_FDS, &got,
	    MSG_DONTWAIT), -EAGAIN);
	CHECK_EQ(got, 0);
	CHECK_EQ(send_fds(sv[0], "x", 1, 0, PROTO_MAX_FDS + 1), -EINVAL);
	CHECK_EQ(send_fds(sv[0], "x", 1, 9999, 1), -EBADF);
	(void)close(sv[1]);
	/* MSG_NOSIGNAL: EPIPE comes back instead of SIGPIPE killing us. */
	CHECK_EQ(send_fds(sv[0], "x", 1, 0, 0), -EPIPE);
	(void)close(sv[0]);
	CHECK_EQ(send_fds(sv[0], "x", 1, 0, 0), -EBADF);
	errno = ENOTTY;
	fdio_close_all(bad, 2);
	CHECK_EQ(errno, ENOTTY);
}

int
main(void)
{
	(void)signal(SIGPIPE, SIG_DFL);
	test_send_recv(0);
	test_send_recv(1);
	test_send_recv(PROTO_MAX_FDS);
	test_trunc();
	test_too_many();
	test_ctrunc();
	test_creds();
	test_eof();
	test_misc();
	if (failures != 0) {
		printf("test-fdio: %d of %d checks failed\n", failures,
		    checks);
		return (1);
	}
	printf("test-fdio: %d checks passed\n", checks);
	return (0);
}
