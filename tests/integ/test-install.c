/*
 * test-install: spawnd_install().
 *
 * For both ways of writing (O_TMPFILE, and the hidden temp name forced by
 * SPAWND_INSTALL_NO_TMPFILE), with and without SPAWND_INSTALL_FSYNC:
 * install from a buffer, a regular file (from its offset), a pipe (1 MiB)
 * and /proc, replacing or not; the returned fd is O_RDONLY|O_CLOEXEC on
 * the new inode, the file has the content and exactly the mode, no fd of
 * ours can write it, it runs at once (no ETXTBSY), and the directory holds
 * no temp file, after success and after each forced failure.
 */

#include "testlib.h"

#define BIG		(1024 * 1024 + 123)

static const char	 script[] = "#!/bin/sh\nexit 42\n";
static char		*big;
static char		 dirpath[128];
static int		 dirfd_;

static int	 only(int, const char *const *);
static int	 writable_fds(const struct stat *);
static void	 check_fd(int, const char *, const void *, size_t, mode_t);
static int	 run(int, const char *);
static int	 pipe_of(const void *, size_t, pid_t *);
static void	 sources(unsigned int);
static void	 placement(unsigned int);
static void	 failures(unsigned int);
static void	 arguments(void);

/* Are the names in dfd exactly want (NULL-terminated, any order)? */
static int
only(int dfd, const char *const *want)
{
	struct dirent	*de;
	DIR		*d;
	int		 n = 0, i, found, ok = 1;

	if ((d = fdopendir(openat(dfd, ".", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC))) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		for (i = found = 0; want[i] != NULL; i++)
			found |= strcmp(want[i], de->d_name) == 0;
		if (!found) {
			tl_log("unexpected file '%s'", de->d_name);
			ok = 0;
		}
		n++;
	}
	closedir(d);
	for (i = 0; want[i] != NULL; i++)
		;
	return ok && n == i;
}

/* How many of our fds on st's inode are open for writing. */
static int
writable_fds(const struct stat *st)
{
	struct dirent	*de;
	struct stat	 fst;
	DIR		*d;
	int		 fd, n = 0;

	if ((d = opendir("/proc/self/fd")) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		fd = atoi(de->d_name);
		if (fstat(fd, &fst) == 0 && fst.st_ino == st->st_ino &&
		    fst.st_dev == st->st_dev &&
		    (fcntl(fd, F_GETFL) & O_ACCMODE) != O_RDONLY)
			n++;
	}
	closedir(d);
	return n;
}

/* fd is what spawnd_install() returned for dirfd_/path. */
static void
check_fd(int fd, const char *path, const void *want, size_t len,
    mode_t mode)
{
	struct stat	 st, pst;
	char		*buf;
	ssize_t		 n;
	int		 pfd;

	CHECK_OK(fd);
	if (fd < 0)
		return;
	CHECK_INT(fcntl(fd, F_GETFL) & O_ACCMODE, ==, O_RDONLY);
	CHECK_INT(fcntl(fd, F_GETFD), ==, FD_CLOEXEC);
	CHECK_INT(fstat(fd, &st), ==, 0);
	CHECK_INT(fstatat(dirfd_, path, &pst, 0), ==, 0);
	CHECK_INT(st.st_ino, ==, pst.st_ino);
	CHECK_INT(st.st_mode & 07777, ==, mode);
	CHECK_INT(st.st_size, ==, len);
	CHECK(S_ISREG(st.st_mode));
	CHECK_INT(st.st_nlink, ==, 1);
	CHECK_INT(writable_fds(&st), ==, 0);
	buf = malloc(len + 1);
	n = pread(fd, buf, len + 1, 0);
	CHECK_INT(n, ==, len);
	CHECK(n == (ssize_t)len && memcmp(buf, want, len) == 0);
	/* By name too, unless the mode forbids it (and we are not root). */
	if ((mode & S_IRUSR) || geteuid() == 0) {
		pfd = openat(dirfd_, path, O_RDONLY | O_CLOEXEC);
		n = pfd == -1 ? -1 : read(pfd, buf, len + 1);
		CHECK(n == (ssize_t)len && memcmp(buf, want, len) == 0);
		if (pfd != -1)
			close(pfd);
	}
	free(buf);
}

/* Runs dirfd_/path by name in a child: its exit status, or 100 + errno. */
static int
run(int dfd, const char *path)
{
	char	*argv[] = { TL_UNCONST(path), NULL }, *envp[] = { NULL };
	pid_t	 pid;
	int	 status;

	if ((pid = fork()) == 0) {
		if (fchdir(dfd) == -1)
			_exit(99);
		execve(path, argv, envp);
		_exit(100 + errno);
	}
	if (pid == -1 || waitpid(pid, &status, 0) != pid ||
	    !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* A pipe whose reader gets buf from a writer child.  Returns the reader. */
static int
pipe_of(const void *buf, size_t len, pid_t *ret_pid)
{
	int	p[2];

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	if ((*ret_pid = fork()) == 0) {
		close(p[0]);
		_exit(write(p[1], buf, len) == (ssize_t)len ? 0 : 1);
	}
	close(p[1]);
	return p[0];
}

/* Every kind of source, onto fresh names. */
static void
sources(unsigned int flags)
{
	const char	*v = "/proc/version";
	char		 vbuf[4096], path[200];
	ssize_t		 vlen;
	pid_t		 pid = -1;
	int		 fd, src, status;

	fd = spawnd_install(dirfd_, "p-buf", script, sizeof script - 1, -1,
	    0755, flags);
	check_fd(fd, "p-buf", script, sizeof script - 1, 0755);
	CHECK_INT(run(dirfd_, "./p-buf"), ==, 42);
	close(fd);

	/* A regular file, from its offset: copy_file_range. */
	snprintf(path, sizeof path, "%s/sub/src", dirpath);
	CHECK_INT(tl_write_file(path, big, BIG, 0600), ==, 0);
	src = open(path, O_RDONLY | O_CLOEXEC);
	CHECK_INT(lseek(src, 1000, SEEK_SET), ==, 1000);
	fd = spawnd_install(dirfd_, "p-file", NULL, 0, src, 0700, flags);
	check_fd(fd, "p-file", big + 1000, BIG - 1000, 0700);
	CHECK_INT(lseek(src, 0, SEEK_CUR), ==, BIG);
	close(fd);
	close(src);
	(void)unlink(path);

	/* A pipe, bigger than its buffer: read/write. */
	src = pipe_of(big, BIG, &pid);
	fd = spawnd_install(dirfd_, "p-pipe", NULL, 0, src, 0640, flags);
	check_fd(fd, "p-pipe", big, BIG, 0640);
	CHECK_INT(waitpid(pid, &status, 0), ==, pid);
	CHECK_INT(status, ==, 0);
	close(fd);
	close(src);

	/* /proc: copy_file_range may say 0 at once on such files. */
	src = open(v, O_RDONLY | O_CLOEXEC);
	vlen = read(src, vbuf, sizeof vbuf);
	CHECK(vlen > 0);
	CHECK_INT(lseek(src, 0, SEEK_SET), ==, 0);
	fd = spawnd_install(dirfd_, "p-proc", NULL, 0, src, 0444, flags);
	check_fd(fd, "p-proc", vbuf, (size_t)vlen, 0444);
	close(fd);
	close(src);

	/* Empty, a mode we cannot read, a name at NAME_MAX. */
	fd = spawnd_install(dirfd_, "p-empty", "", 0, -1, 0111, flags);
	check_fd(fd, "p-empty", "", 0, 0111);
	close(fd);
	memset(vbuf, 'n', NAME_MAX);
	vbuf[NAME_MAX] = '\0';
	fd = spawnd_install(dirfd_, vbuf, "x", 1, -1, 0600, flags);
	check_fd(fd, vbuf, "x", 1, 0600);
	close(fd);
	CHECK_INT(unlinkat(dirfd_, vbuf, 0), ==, 0);
	CHECK(only(dirfd_, (const char *const[]){ "p-buf", "p-file", "p-pipe",
	    "p-proc", "p-empty", "sub", NULL }));
	(void)unlinkat(dirfd_, "p-buf", 0);
	(void)unlinkat(dirfd_, "p-file", 0);
	(void)unlinkat(dirfd_, "p-pipe", 0);
	(void)unlinkat(dirfd_, "p-proc", 0);
	(void)unlinkat(dirfd_, "p-empty", 0);
}

/* Replace and no-replace, relative to dirfd_, in a subdirectory, by path. */
static void
placement(unsigned int flags)
{
	char	abs[300];
	int	fd, old, r, sub;

	fd = spawnd_install(dirfd_, "t", "one", 3, -1, 0755, flags);
	check_fd(fd, "t", "one", 3, 0755);
	old = fd;
	/* Replace: the old fd keeps the old inode. */
	fd = spawnd_install(dirfd_, "t", "two!", 4, -1, 0750, flags);
	check_fd(fd, "t", "two!", 4, 0750);
	CHECK_INT(pread(old, abs, 3, 0), ==, 3);
	CHECK(memcmp(abs, "one", 3) == 0);
	close(old);
	close(fd);
	/* No-replace onto an existing file: -EEXIST, nothing touched. */
	r = spawnd_install(dirfd_, "t", "three", 5, -1, 0755,
	    flags | SPAWND_INSTALL_NOREPLACE);
	CHECK_INT(r, ==, -EEXIST);
	fd = openat(dirfd_, "t", O_RDONLY | O_CLOEXEC);
	check_fd(fd, "t", "two!", 4, 0750);
	close(fd);
	fd = spawnd_install(dirfd_, "u", script, sizeof script - 1, -1, 0755,
	    flags | SPAWND_INSTALL_NOREPLACE);
	check_fd(fd, "u", script, sizeof script - 1, 0755);
	CHECK_INT(run(dirfd_, "./u"), ==, 42);
	close(fd);
	CHECK(only(dirfd_, (const char *const[]){ "t", "u", "sub", NULL }));
	fd = spawnd_install(dirfd_, "sub/v", "v", 1, -1, 0600, flags);
	check_fd(fd, "sub/v", "v", 1, 0600);
	close(fd);
	CHECK(only(dirfd_, (const char *const[]){ "t", "u", "sub", NULL }));
	/* An absolute path: dirfd is not used. */
	snprintf(abs, sizeof abs, "%s/sub/w", dirpath);
	fd = spawnd_install(-1, abs, "w", 1, -1, 0600, flags);
	check_fd(fd, "sub/w", "w", 1, 0600);
	close(fd);
	CHECK(only(dirfd_, (const char *const[]){ "t", "u", "sub", NULL }));
	(void)unlinkat(dirfd_, "t", 0);
	(void)unlinkat(dirfd_, "u", 0);
	CHECK_INT(unlinkat(dirfd_, "sub/v", 0), ==, 0);
	CHECK_INT(unlinkat(dirfd_, "sub/w", 0), ==, 0);
	sub = openat(dirfd_, "sub", O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(only(sub, (const char *const[]){ NULL }));
	close(sub);
}

/* Forced failures at each stage leave no temp file behind. */
static void
failures(unsigned int flags)
{
	const char *const	 none[] = { "sub", "d", NULL };
	int			 wfd, r;

	CHECK_INT(mkdirat(dirfd_, "d", 0700), ==, 0);
	CHECK_INT(mkdirat(dirfd_, "d/x", 0700), ==, 0);
	/* While copying: srcfd cannot be read. */
	wfd = openat(dirfd_, "d/w", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	r = spawnd_install(dirfd_, "t", NULL, 0, wfd, 0755, flags);
	CHECK_INT(r, ==, -EBADF);
	close(wfd);
	CHECK(only(dirfd_, none));
	/* While placing: rename onto a non-empty directory. */
	r = spawnd_install(dirfd_, "d", "x", 1, -1, 0755, flags);
	CHECK(r == -EISDIR || r == -ENOTEMPTY || r == -EEXIST);
	CHECK(only(dirfd_, none));
	r = spawnd_install(dirfd_, "d", "x", 1, -1, 0755,
	    flags | SPAWND_INSTALL_NOREPLACE);
	CHECK_INT(r, ==, -EEXIST);
	CHECK(only(dirfd_, none));
	/* Opening: no such directory, a file as directory. */
	CHECK_INT(spawnd_install(dirfd_, "nodir/t", "x", 1, -1, 0755, flags),
	    ==, -ENOENT);
	CHECK_INT(spawnd_install(dirfd_, "d/w/t", "x", 1, -1, 0755, flags),
	    ==, -ENOTDIR);
	CHECK(only(dirfd_, none));
	(void)unlinkat(dirfd_, "d/w", 0);
	(void)unlinkat(dirfd_, "d/x", AT_REMOVEDIR);
	(void)unlinkat(dirfd_, "d", AT_REMOVEDIR);
}

static void
arguments(void)
{
	char	name[NAME_MAX + 2];

	CHECK_INT(spawnd_install(dirfd_, NULL, "x", 1, -1, 0755, 0), ==,
	    -EINVAL);
	CHECK_INT(spawnd_install(dirfd_, "t", "x", 1, 0, 0755, 0), ==,
	    -EINVAL);
	CHECK_INT(spawnd_install(dirfd_, "t", NULL, 0, -1, 0755, 0), ==,
	    -EINVAL);
	CHECK_INT(spawnd_install(dirfd_, "t", NULL, 1, 0, 0755, 0), ==,
	    -EINVAL);
	CHECK_INT(spawnd_install(dirfd_, "t", "x", 1, -1, 010000, 0), ==,
	    -EINVAL);
	CHECK_INT(spawnd_install(dirfd_, "t", "x", 1, -1, 0755, 0x100), ==,
	    -EINVAL);
	CHECK_INT(spawnd_install(dirfd_, "sub/", "x", 1, -1, 0755, 0), ==,
	    -EINVAL);
	CHECK_INT(spawnd_install(dirfd_, "", "x", 1, -1, 0755, 0), ==,
	    -EINVAL);
	CHECK_INT(spawnd_install(dirfd_, "sub/..", "x", 1, -1, 0755, 0), ==,
	    -EINVAL);
	memset(name, 'n', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	CHECK_INT(spawnd_install(dirfd_, name, "x", 1, -1, 0755, 0), ==,
	    -ENAMETOOLONG);
	CHECK(only(dirfd_, (const char *const[]){ "sub", NULL }));
}

int
main(void)
{
	static const unsigned int	 modes[] = { 0,
	    SPAWND_INSTALL_FSYNC, SPAWND_INSTALL_NO_TMPFILE,
	    SPAWND_INSTALL_NO_TMPFILE | SPAWND_INSTALL_FSYNC };
	const char			*tmp = getenv("TMPDIR");
	size_t				 i;

	if (tmp == NULL || *tmp == '\0' || strlen(tmp) > 60)
		tmp = "/tmp";
	snprintf(dirpath, sizeof dirpath, "%s/spawnd-install.XXXXXX", tmp);
	if (mkdtemp(dirpath) == NULL || (big = malloc(BIG)) == NULL) {
		perror("set-up");
		return 1;
	}
	for (i = 0; i < BIG; i++)
		big[i] = (char)(i * 7 + i / 4096);
	dirfd_ = open(dirpath, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(dirfd_ != -1);
	CHECK_INT(mkdirat(dirfd_, "sub", 0700), ==, 0);
	arguments();
	for (i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		tl_log("flags 0x%x", modes[i]);
		sources(modes[i]);
		placement(modes[i]);
		failures(modes[i]);
	}
	close(dirfd_);
	free(big);
	tl_rm_rf(dirpath);
	return tl_exit();
}
