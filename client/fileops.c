/*
 * libspawnd: race-free file primitives.  spawnd removes the fork half of
 * the write-then-exec race; these remove its file halves: the check-then-
 * act races of "open, else create", "rename unless it exists" and "write
 * a program, then run it" (see spawnd.h for the contracts).
 *
 * No state: every call works on the caller's fds and paths only.  Temp
 * names are random, so concurrent callers never collide, and every error
 * path removes what it created.
 */

#include <sys/random.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "client-int.h"
#include "spawnd.h"

/* Rounds of create-or-open before giving up with -EBUSY. */
#define FILEOPS_CREATE_ROUNDS	1000
/* Random temp names tried before giving up with -EEXIST. */
#define FILEOPS_TMP_TRIES	64
/* ".NAME.XXXXXX": the characters besides NAME. */
#define FILEOPS_TMP_EXTRA	8
#define FILEOPS_PROC_LEN	40
#define FILEOPS_COPY_CHUNK	((size_t)1024 * 1024)

#define INSTALL_FLAGS_ALL	(SPAWND_INSTALL_NOREPLACE | \
	    SPAWND_INSTALL_FSYNC | SPAWND_INSTALL_NO_TMPFILE)

/* How fileops_copy() moves bytes: the kernel may refuse the faster ones. */
#define COPY_RANGE		0
#define COPY_SENDFILE		1
#define COPY_RW			2

/* One spawnd_install() call.  The fds are owned, -1 when closed. */
struct install {
	int		 pdir;		/* the target's directory */
	const char	*name;		/* the target's last component */
	int		 wfd;		/* writable, closed before return */
	int		 rofd;		/* the result */
	int		 tmpfile;	/* wfd is an O_TMPFILE */
	char		 tmp[NAME_MAX + 1];	/* our temp name, "" if none */
	unsigned int	 flags;
	mode_t		 mode;
};

static int	fileops_open_parent(int, const char *, unsigned int,
		    struct install *);
static void	fileops_tmp_name(char *, size_t, const char *);
static void	fileops_proc_path(char *, size_t, int);
static int	fileops_rename_link(int, const char *, int, const char *);
static int	fileops_write_all(int, const void *, size_t);
static ssize_t	fileops_copy_chunk(int, int, int *);
static int	fileops_copy(int, int);
static int	install_open_tmpfile(struct install *);
static int	install_open_named(struct install *);
static int	install_reopen(struct install *);
static int	install_seal(struct install *);
static int	install_link_tmp(struct install *);
static int	install_place(struct install *);
static void	install_cleanup(struct install *);

/*
 * O_CREAT|O_EXCL, else open without O_CREAT: each step is atomic, and a
 * path that vanished between them (ENOENT on the second) sends us round
 * again, so neither EEXIST nor ENOENT from a racing creator or deleter
 * ever reaches the caller.
 */
SPAWND_EXPORT int
spawnd_create_or_open(int dirfd, const char *path, int flags, mode_t mode,
    int *ret_created)
{
	struct stat	st;
	int		fd, i;

	if (ret_created != NULL)
		*ret_created = 0;
	if (path == NULL || (flags & O_PATH) ||
	    (flags & O_TMPFILE) == O_TMPFILE || (mode & ~(mode_t)07777))
		return (-EINVAL);
	flags = (flags & ~O_CREAT) | O_CLOEXEC;
	if (flags & O_EXCL) {
		if ((fd = openat(dirfd, path, flags | O_CREAT, mode)) == -1)
			return (-errno);
		goto out;
	}
	for (i = 0; i < FILEOPS_CREATE_ROUNDS; i++) {
		fd = openat(dirfd, path, flags | O_CREAT | O_EXCL, mode);
		if (fd != -1)
			goto out;
		if (errno != EEXIST)
			return (-errno);
		if ((fd = openat(dirfd, path, flags)) != -1) {
			if (ret_created != NULL)
				*ret_created = 0;
			return (fd);
		}
		if (errno != ENOENT)
			return (-errno);
		/* A dangling symlink: O_EXCL will never follow it. */
		if (fstatat(dirfd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			return (-ENOENT);
	}
	return (-EBUSY);
out:
	if (ret_created != NULL)
		*ret_created = 1;
	return (fd);
}

SPAWND_EXPORT int
spawnd_rename_noreplace(int olddirfd, const char *oldpath, int newdirfd,
    const char *newpath, unsigned int flags)
{
	if (oldpath == NULL || newpath == NULL ||
	    (flags & ~SPAWND_RENAME_FORCE_LINK))
		return (-EINVAL);
	if (!(flags & SPAWND_RENAME_FORCE_LINK)) {
		if (renameat2(olddirfd, oldpath, newdirfd, newpath,
		    RENAME_NOREPLACE) == 0)
			return (0);
		if (errno != EINVAL && errno != ENOSYS)
			return (-errno);
	}
	return (fileops_rename_link(olddirfd, oldpath, newdirfd, newpath));
}

/*
 * The fallback: link(2) never replaces, so EEXIST is the no-replace
 * answer.  A crash between link and unlink leaves both names on the one
 * inode; nothing is ever lost or overwritten.
 */
static int
fileops_rename_link(int olddirfd, const char *oldpath, int newdirfd,
    const char *newpath)
{
	struct stat	st;
	int		error;

	if (fstatat(olddirfd, oldpath, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return (-errno);
	if (S_ISDIR(st.st_mode))
		return (-EINVAL);	/* directories cannot be linked */
	if (linkat(olddirfd, oldpath, newdirfd, newpath, 0) == -1)
		return (-errno);
	if (unlinkat(olddirfd, oldpath, 0) == 0 || errno == ENOENT)
		return (0);	/* ENOENT: the old name is gone anyway */
	/* Old name not removable (sticky, EACCES): undo, as rename would. */
	error = errno;
	(void)unlinkat(newdirfd, newpath, 0);
	return (-error);
}

SPAWND_EXPORT int
spawnd_rename_exchange(int olddirfd, const char *oldpath, int newdirfd,
    const char *newpath)
{
	if (oldpath == NULL || newpath == NULL)
		return (-EINVAL);
	if (renameat2(olddirfd, oldpath, newdirfd, newpath,
	    RENAME_EXCHANGE) == -1)
		return (-errno);
	return (0);
}

/*
 * Write to an unnamed (O_TMPFILE) or hidden file, make it read-only for
 * us, close the writable fd, then give it its name in one step: the name
 * never shows a partial file, and once we return no writable fd of ours
 * remains to make an exec fail with ETXTBSY.
 */
SPAWND_EXPORT int
spawnd_install(int dirfd, const char *path, const void *buf, size_t len,
    int srcfd, mode_t mode, unsigned int flags)
{
	struct install	in;
	int		r;

	if (path == NULL || (flags & ~INSTALL_FLAGS_ALL) ||
	    (mode & ~(mode_t)07777) || (buf != NULL && srcfd != -1) ||
	    (buf == NULL && (srcfd < 0 || len != 0)))
		return (-EINVAL);
	memset(&in, 0, sizeof in);
	in.pdir = in.wfd = in.rofd = -1;
	in.flags = flags;
	in.mode = mode;
	if ((r = fileops_open_parent(dirfd, path, flags, &in)) < 0)
		return (r);
	r = -EOPNOTSUPP;
	if (!(flags & SPAWND_INSTALL_NO_TMPFILE))
		r = install_open_tmpfile(&in);
	if (r == -EOPNOTSUPP)
		r = install_open_named(&in);
	if (r < 0)
		goto fail;
	if (buf != NULL)
		r = fileops_write_all(in.wfd, buf, len);
	else
		r = fileops_copy(srcfd, in.wfd);
	if (r < 0 || (r = install_seal(&in)) < 0 ||
	    (r = install_place(&in)) < 0)
		goto fail;
	r = in.rofd;
	in.rofd = -1;
	install_cleanup(&in);
	return (r);
fail:
	install_cleanup(&in);
	return (r);
}

/*
 * Splits path into its directory, opened into in->pdir (for reading when
 * it will be fsync'd, else O_PATH: no read permission needed), and its
 * last component.
 */
static int
fileops_open_parent(int dirfd, const char *path, unsigned int flags,
    struct install *in)
{
	char		 dir[PATH_MAX];
	const char	*slash = strrchr(path, '/');
	size_t		 dlen;
	int		 oflags = O_DIRECTORY | O_CLOEXEC;

	in->name = slash != NULL ? slash + 1 : path;
	if (*in->name == '\0' || strcmp(in->name, ".") == 0 ||
	    strcmp(in->name, "..") == 0)
		return (-EINVAL);
	if (strlen(in->name) > NAME_MAX)
		return (-ENAMETOOLONG);
	dlen = slash == NULL ? 0 : (size_t)(slash - path);
	if (dlen >= sizeof dir)
		return (-ENAMETOOLONG);
	if (slash == NULL)
		strcpy(dir, ".");
	else if (dlen == 0)
		strcpy(dir, "/");
	else {
		memcpy(dir, path, dlen);
		dir[dlen] = '\0';
	}
	oflags |= (flags & SPAWND_INSTALL_FSYNC) ? O_RDONLY : O_PATH;
	if ((in->pdir = openat(dirfd, dir, oflags)) == -1)
		return (-errno);
	return (0);
}

/*
 * An unnamed file in the target's directory.  -EOPNOTSUPP sends the
 * caller to the named fallback: the filesystem (or kernel) has no
 * O_TMPFILE, or /proc is missing, without which we could not name it.
 */
static int
install_open_tmpfile(struct install *in)
{
	struct stat	st, pst;
	char		proc[FILEOPS_PROC_LEN];

	in->wfd = openat(in->pdir, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (in->wfd == -1) {
		if (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)
			return (-EOPNOTSUPP);
		return (-errno);
	}
	in->tmpfile = 1;
	fileops_proc_path(proc, sizeof proc, in->wfd);
	if (fstat(in->wfd, &st) == -1)
		return (-errno);
	if (stat(proc, &pst) == 0 && pst.st_ino == st.st_ino &&
	    pst.st_dev == st.st_dev)
		return (0);
	(void)close(in->wfd);
	in->wfd = -1;
	in->tmpfile = 0;
	return (-EOPNOTSUPP);
}

/* A hidden ".NAME.XXXXXX" file beside the target, created exclusively. */
static int
install_open_named(struct install *in)
{
	int	i;

	for (i = 0; i < FILEOPS_TMP_TRIES; i++) {
		fileops_tmp_name(in->tmp, sizeof in->tmp, in->name);
		in->wfd = openat(in->pdir, in->tmp, O_RDWR | O_CREAT | O_EXCL |
		    O_NOFOLLOW | O_CLOEXEC, 0600);
		if (in->wfd != -1)
			return (0);
		if (errno != EEXIST)
			break;
	}
	in->tmp[0] = '\0';
	return (-errno);
}

/*
 * Opens in->rofd on the inode, drops the writable fd and sets the mode.
 * The reopen comes first, while the mode is still 0600: a final mode
 * without read permission (0111) must not lock us out.
 */
static int
install_seal(struct install *in)
{
	int	r, fd;

	if ((r = install_reopen(in)) < 0)
		return (r);
	if (fchmod(in->wfd, in->mode) == -1)
		return (-errno);
	if ((in->flags & SPAWND_INSTALL_FSYNC) && fsync(in->wfd) == -1)
		return (-errno);
	fd = in->wfd;
	in->wfd = -1;
	if (close(fd) == -1 && errno != EINTR)
		return (-errno);	/* NFS reports write errors here */
	return (0);
}

/*
 * Read-only fd on the inode we wrote: through /proc, else (named file
 * without /proc) by name, checked to be the same inode, since anyone
 * with write access to the directory could have swapped the name.
 */
static int
install_reopen(struct install *in)
{
	struct stat	st, rst;
	char		proc[FILEOPS_PROC_LEN];

	fileops_proc_path(proc, sizeof proc, in->wfd);
	in->rofd = open(proc, O_RDONLY | O_CLOEXEC);
	if (in->rofd != -1)
		return (0);
	if (in->tmpfile || (errno != ENOENT && errno != ENOTDIR))
		return (-errno);
	in->rofd = openat(in->pdir, in->tmp, O_RDONLY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (in->rofd == -1)
		return (-errno);
	if (fstat(in->wfd, &st) == -1 || fstat(in->rofd, &rst) == -1)
		return (-errno);
	if (st.st_ino != rst.st_ino || st.st_dev != rst.st_dev)
		return (-EBUSY);
	return (0);
}

/* Names the unnamed file with a fresh hidden temp name. */
static int
install_link_tmp(struct install *in)
{
	char	proc[FILEOPS_PROC_LEN];
	int	i;

	fileops_proc_path(proc, sizeof proc, in->rofd);
	for (i = 0; i < FILEOPS_TMP_TRIES; i++) {
		fileops_tmp_name(in->tmp, sizeof in->tmp, in->name);
		if (linkat(AT_FDCWD, proc, in->pdir, in->tmp,
		    AT_SYMLINK_FOLLOW) == 0)
			return (0);
		if (errno != EEXIST)
			break;
	}
	in->tmp[0] = '\0';
	return (-errno);
}

/*
 * Gives the file its name.  No-replace: linkat() of the unnamed file
 * (fails with EEXIST, never replaces), or spawnd_rename_noreplace() of
 * the hidden one.  Replace: rename(2) of a hidden name over the target.
 */
static int
install_place(struct install *in)
{
	char	proc[FILEOPS_PROC_LEN];
	int	r;

	if (in->tmpfile && (in->flags & SPAWND_INSTALL_NOREPLACE)) {
		fileops_proc_path(proc, sizeof proc, in->rofd);
		if (linkat(AT_FDCWD, proc, in->pdir, in->name,
		    AT_SYMLINK_FOLLOW) == -1)
			return (-errno);
	} else {
		if (in->tmpfile && (r = install_link_tmp(in)) < 0)
			return (r);
		if (in->flags & SPAWND_INSTALL_NOREPLACE)
			r = spawnd_rename_noreplace(in->pdir, in->tmp,
			    in->pdir, in->name, 0);
		else if ((r = renameat(in->pdir, in->tmp, in->pdir,
		    in->name)) == -1)
			r = -errno;
		if (r < 0)
			return (r);
		in->tmp[0] = '\0';
	}
	if ((in->flags & SPAWND_INSTALL_FSYNC) && fsync(in->pdir) == -1)
		return (-errno);
	return (0);
}

/* Closes what is left and removes a temp name still standing. */
static void
install_cleanup(struct install *in)
{
	int	saved = errno;

	if (in->tmp[0] != '\0')
		(void)unlinkat(in->pdir, in->tmp, 0);
	if (in->wfd != -1)
		(void)close(in->wfd);
	if (in->rofd != -1)
		(void)close(in->rofd);
	if (in->pdir != -1)
		(void)close(in->pdir);
	errno = saved;
}

/*
 * ".NAME.XXXXXX" with six random characters; NAME is cut short when the
 * whole would pass NAME_MAX.  Without entropy (early boot) the clock and
 * the stack address still make collisions rare, and callers retry them.
 */
static void
fileops_tmp_name(char *buf, size_t len, const char *name)
{
	static const char	 set[] = "abcdefghijklmnopqrstuvwxyz"
				     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	unsigned char		 rnd[6];
	char			 suffix[sizeof rnd + 1];
	struct timespec		 ts;
	uint64_t		 x;
	size_t			 i;

	if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd) {
		(void)clock_gettime(CLOCK_MONOTONIC, &ts);
		x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
		    (uint64_t)(uintptr_t)&ts ^ ((uint64_t)gettid() << 40);
		for (i = 0; i < sizeof rnd; i++, x >>= 8)
			rnd[i] = (unsigned char)x;
	}
	for (i = 0; i < sizeof rnd; i++)
		suffix[i] = set[rnd[i] % (sizeof set - 1)];
	suffix[sizeof rnd] = '\0';
	(void)snprintf(buf, len, ".%.*s.%s", NAME_MAX - FILEOPS_TMP_EXTRA,
	    name, suffix);
}

static void
fileops_proc_path(char *buf, size_t len, int fd)
{
	(void)snprintf(buf, len, "/proc/self/fd/%d", fd);
}

static int
fileops_write_all(int fd, const void *buf, size_t len)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return (-errno);
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

/*
 * Copies from in's offset to its end.  copy_file_range and sendfile
 * report 0 at once on some special files (/proc, sysfs) that do have
 * data, so a first 0 from either is checked with read(2).
 */
static int
fileops_copy(int in, int out)
{
	ssize_t	n;
	int	how = COPY_RANGE, first = 1;

	for (;;) {
		n = fileops_copy_chunk(in, out, &how);
		if (n < 0)
			return ((int)n);
		if (n == 0 && first && how != COPY_RW) {
			how = COPY_RW;
			continue;
		}
		if (n == 0)
			return (0);
		first = 0;
	}
}

/* One chunk; steps down to a slower way when the kernel refuses one. */
static ssize_t
fileops_copy_chunk(int in, int out, int *how)
{
	char	buf[16384];
	ssize_t	n;
	int	r;

	for (;;) {
		if (*how == COPY_RANGE)
			n = copy_file_range(in, NULL, out, NULL,
			    FILEOPS_COPY_CHUNK, 0);
		else if (*how == COPY_SENDFILE)
			n = sendfile(out, in, NULL, FILEOPS_COPY_CHUNK);
		else if ((n = read(in, buf, sizeof buf)) > 0) {
			if ((r = fileops_write_all(out, buf, (size_t)n)) < 0)
				return (r);
			return (n);
		}
		if (n >= 0)
			return (n);
		if (errno == EINTR)
			continue;
		if (*how != COPY_RW && (errno == EXDEV || errno == EINVAL ||
		    errno == ENOSYS || errno == EOPNOTSUPP || errno == ESPIPE))
			(*how)++;
		else
			return (-errno);
	}
}
