/*
 * test-rename-noreplace: spawnd_rename_noreplace() under real contention,
 * by renameat2(RENAME_NOREPLACE) and by its forced link+unlink fallback,
 * and spawnd_rename_exchange().
 *
 * Each round, NPROC processes write a file of their own with content
 * unique to the process and the round, meet at a process-shared barrier
 * with the coordinator (which has just removed the target), and all rename
 * their file onto one target at once.  Exactly one must win; the target
 * must hold the winner's content; every loser must get -EEXIST and find
 * its own file intact under its own name (nothing lost or overwritten);
 * the winner's old name must be gone.
 */

#include <sys/mman.h>

#include "testlib.h"

#define NPROC		16
#define ROUNDS		2000
#define TIME_BOUND_MS	15000

struct result {
	int	id;
	int	round;
	int	r;		/* spawnd_rename_noreplace() */
	int	bad;		/* the worker saw something wrong */
};

struct shared {
	pthread_barrier_t	barrier;
	atomic_int		stop;
};

static struct shared	*sh;
static int		 dirfd_;

static void	content(char *, size_t, int, int, pid_t);
static int	file_is(int, const char *, const char *);
static int	put(int, const char *, const char *);
static void	semantics(unsigned int);
static void	exchange(void);
static void	worker(int, int, unsigned int);
static int	race(unsigned int, const char *);

static void
content(char *buf, size_t len, int id, int round, pid_t pid)
{
	snprintf(buf, len, "worker %d round %d pid %d\n", id, round,
	    (int)pid);
}

/* Does dfd/name hold exactly want?  1 yes, 0 no, -1 no such file. */
static int
file_is(int dfd, const char *name, const char *want)
{
	char	buf[256];
	ssize_t	n;
	int	fd;

	if ((fd = openat(dfd, name, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n < 0)
		return 0;
	buf[n] = '\0';
	return strcmp(buf, want) == 0;
}

static int
put(int dfd, const char *name, const char *s)
{
	int	fd, r;

	fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	    0600);
	if (fd == -1)
		return -1;
	r = write(fd, s, strlen(s)) == (ssize_t)strlen(s) ? 0 : -1;
	close(fd);
	return r;
}

/* The contract, one process, in a fresh directory. */
static void
semantics(unsigned int flags)
{
	char	name[32];
	int	d, sub;

	snprintf(name, sizeof name, "sem%u", flags);
	CHECK_INT(mkdirat(dirfd_, name, 0700), ==, 0);
	d = openat(dirfd_, name, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(d != -1);
	CHECK_INT(put(d, "a", "A"), ==, 0);
	CHECK_INT(put(d, "b", "B"), ==, 0);
	CHECK_INT(spawnd_rename_noreplace(d, "a", d, "b", flags), ==, -EEXIST);
	CHECK_INT(file_is(d, "a", "A"), ==, 1);
	CHECK_INT(file_is(d, "b", "B"), ==, 1);
	CHECK_INT(spawnd_rename_noreplace(d, "a", d, "c", flags), ==, 0);
	CHECK_INT(file_is(d, "a", "A"), ==, -1);
	CHECK_INT(file_is(d, "c", "A"), ==, 1);
	CHECK_INT(spawnd_rename_noreplace(d, "a", d, "e", flags), ==, -ENOENT);
	/* Across directories, and a symlink moves as itself. */
	CHECK_INT(mkdirat(d, "sub", 0700), ==, 0);
	sub = openat(d, "sub", O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(sub != -1);
	CHECK_INT(spawnd_rename_noreplace(d, "c", sub, "c", flags), ==, 0);
	CHECK_INT(file_is(sub, "c", "A"), ==, 1);
	CHECK_INT(file_is(d, "c", "A"), ==, -1);
	CHECK_INT(symlinkat("nowhere", d, "l"), ==, 0);
	CHECK_INT(spawnd_rename_noreplace(d, "l", sub, "l", flags), ==, 0);
	CHECK_INT(faccessat(sub, "l", F_OK, AT_SYMLINK_NOFOLLOW), ==, 0);
	CHECK_INT(faccessat(d, "l", F_OK, AT_SYMLINK_NOFOLLOW), ==, -1);
	/* Directories: renameat2 moves them, the fallback cannot. */
	CHECK_INT(spawnd_rename_noreplace(d, "sub", d, "sub2", flags), ==,
	    (flags & SPAWND_RENAME_FORCE_LINK) ? -EINVAL : 0);
	CHECK_INT(spawnd_rename_noreplace(d, "b", d, "x", 0x80), ==, -EINVAL);
	CHECK_INT(spawnd_rename_noreplace(d, NULL, d, "x", flags), ==,
	    -EINVAL);
	CHECK_INT(file_is(d, "b", "B"), ==, 1);
	close(sub);
	close(d);
}

static void
exchange(void)
{
	CHECK_INT(put(dirfd_, "a", "A"), ==, 0);
	CHECK_INT(put(dirfd_, "b", "B"), ==, 0);
	CHECK_INT(spawnd_rename_exchange(dirfd_, "a", dirfd_, "b"), ==, 0);
	CHECK_INT(file_is(dirfd_, "a", "B"), ==, 1);
	CHECK_INT(file_is(dirfd_, "b", "A"), ==, 1);
	CHECK_INT(spawnd_rename_exchange(dirfd_, "a", dirfd_, "none"), ==,
	    -ENOENT);
	CHECK_INT(spawnd_rename_exchange(dirfd_, NULL, dirfd_, "b"), ==,
	    -EINVAL);
	(void)unlinkat(dirfd_, "a", 0);
	(void)unlinkat(dirfd_, "b", 0);
}

/* One racer: prepare, meet at the barrier, rename, report. */
static void
worker(int id, int resfd, unsigned int flags)
{
	struct result	res;
	char		mine[32], want[128];
	int		round;

	snprintf(mine, sizeof mine, "tmp.%d", id);
	for (round = 0;; round++) {
		content(want, sizeof want, id, round, getpid());
		memset(&res, 0, sizeof res);
		res.id = id;
		res.round = round;
		if (put(dirfd_, mine, want) == -1)
			res.bad = 1;
		pthread_barrier_wait(&sh->barrier);
		if (atomic_load(&sh->stop))
			break;
		res.r = spawnd_rename_noreplace(dirfd_, mine, dirfd_,
		    "target", flags);
		/* The winner's name is gone; a loser's file is intact. */
		if (res.r == 0 && file_is(dirfd_, mine, want) != -1)
			res.bad = 1;
		if (res.r != 0 && file_is(dirfd_, mine, want) != 1)
			res.bad = 1;
		if (write(resfd, &res, sizeof res) != (ssize_t)sizeof res)
			_exit(1);
	}
	(void)unlinkat(dirfd_, mine, 0);
	_exit(0);
}

/* Runs the race for flags; returns the rounds done. */
static int
race(unsigned int flags, const char *what)
{
	struct result	res;
	pid_t		pids[NPROC];
	char		want[128];
	int		p[2], i, round, winner, nwin, status;
	int		lost = 0, wrong = 0, badwin = 0, other = 0;
	int		wins[NPROC] = { 0 }, distinct = 0;
	uint64_t	t0 = tl_now_ms();

	CHECK_INT(pipe2(p, O_CLOEXEC), ==, 0);
	atomic_store(&sh->stop, 0);
	for (i = 0; i < NPROC; i++) {
		if ((pids[i] = fork()) == -1) {
			perror("fork");
			exit(1);
		}
		if (pids[i] == 0) {
			close(p[0]);
			worker(i, p[1], flags);
		}
	}
	close(p[1]);
	for (round = 0; round < ROUNDS; round++) {
		if (tl_now_ms() - t0 > TIME_BOUND_MS)
			break;
		(void)unlinkat(dirfd_, "target", 0);
		pthread_barrier_wait(&sh->barrier);
		winner = -1;
		for (i = nwin = 0; i < NPROC; i++) {
			if (read(p[0], &res, sizeof res) != sizeof res) {
				tl_fail(__FILE__, __LINE__, "worker died");
				exit(1);
			}
			lost += res.bad;
			if (res.r == 0) {
				nwin++;
				winner = res.id;
			} else if (res.r != -EEXIST)
				other++;
			if (res.round != round)
				other++;
		}
		if (nwin != 1) {
			badwin++;
			continue;
		}
		distinct += wins[winner]++ == 0;
		content(want, sizeof want, winner, round, pids[winner]);
		if (file_is(dirfd_, "target", want) != 1)
			wrong++;
	}
	atomic_store(&sh->stop, 1);
	pthread_barrier_wait(&sh->barrier);
	for (i = 0; i < NPROC; i++) {
		CHECK_INT(waitpid(pids[i], &status, 0), ==, pids[i]);
		CHECK_INT(status, ==, 0);
	}
	close(p[0]);
	tl_log("%s: %d processes x %d rounds in %.2f s (%d distinct "
	    "winners): %d rounds without exactly one winner, %d with the "
	    "wrong content, %d lost or overwritten files, %d other errors",
	    what, NPROC, round, (double)(tl_now_ms() - t0) / 1000, distinct,
	    badwin, wrong, lost, other);
	CHECK_INT(badwin, ==, 0);
	CHECK_INT(wrong, ==, 0);
	CHECK_INT(lost, ==, 0);
	CHECK_INT(other, ==, 0);
	(void)unlinkat(dirfd_, "target", 0);
	return round;
}

int
main(void)
{
	pthread_barrierattr_t	 ba;
	char			 dir[128];
	const char		*tmp = getenv("TMPDIR");

	if (tmp == NULL || *tmp == '\0' || strlen(tmp) > 60)
		tmp = "/tmp";
	snprintf(dir, sizeof dir, "%s/spawnd-rnr.XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED ||
	    (dirfd_ = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1) {
		perror("set-up");
		tl_rm_rf(dir);
		return 1;
	}
	pthread_barrierattr_init(&ba);
	pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
	pthread_barrier_init(&sh->barrier, &ba, NPROC + 1);

	semantics(0);
	semantics(SPAWND_RENAME_FORCE_LINK);
	exchange();
	race(0, "renameat2(RENAME_NOREPLACE)");
	race(SPAWND_RENAME_FORCE_LINK, "link+unlink fallback (forced)");
	tl_rm_rf(dir);
	return tl_exit();
}
