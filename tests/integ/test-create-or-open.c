/*
 * test-create-or-open: spawnd_create_or_open() under real contention.
 *
 * NPROC processes each call create-or-open on one path ROUNDS times while
 * another process removes it in a loop.  The remover renames the file into
 * a graveyard directory under a fresh name instead of unlinking it, so
 * every inode ever created stays alive and its number cannot be reused
 * during the test.  Then:
 *   - no call failed (no spurious EEXIST or ENOENT, no -EBUSY);
 *   - every inode in the graveyard (and at the path) was reported created
 *     by exactly one call, and every reported inode is one of them.
 * The workers stop early at a time bound (slow machines, sanitizers); the
 * figures are printed.
 */

#include <sys/mman.h>

#include "testlib.h"

#define NPROC		16
#define ROUNDS		10000
#define TIME_BOUND_MS	20000

struct rec {
	uint64_t	ino;
	int		created;
};

struct shared {
	atomic_int	stop;
	atomic_long	renames;
	atomic_int	done[NPROC];
	atomic_int	err_eexist, err_enoent, err_ebusy, err_other;
	struct rec	recs[NPROC][ROUNDS];
};

static struct shared	*sh;
static int		 dirfd_, gravefd;

static void	pin(int);
static void	semantics(void);
static void	worker(int, int, uint64_t);
static void	remover(int);
static int	rec_cmp(const void *, const void *);
static void	verify(void);

/*
 * With two CPUs or more, the remover gets one to itself and the workers
 * share another: otherwise 16 busy workers starve it and few files are
 * removed (and so created) while they run.
 */
static void
pin(int cpu)
{
	cpu_set_t	set;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	(void)sched_setaffinity(0, sizeof set, &set);
}

/* The plain contract, one process. */
static void
semantics(void)
{
	struct stat	st;
	int		fd, fd2, created = -1;

	fd = spawnd_create_or_open(dirfd_, "s", O_RDWR, 0640, &created);
	CHECK_OK(fd);
	CHECK_INT(created, ==, 1);
	CHECK_INT(fcntl(fd, F_GETFD), ==, FD_CLOEXEC);
	CHECK_INT(write(fd, "x", 1), ==, 1);
	fd2 = spawnd_create_or_open(dirfd_, "s", O_RDONLY, 0640, &created);
	CHECK_OK(fd2);
	CHECK_INT(created, ==, 0);
	CHECK_INT(fcntl(fd2, F_GETFD), ==, FD_CLOEXEC);
	CHECK_INT(fstat(fd2, &st), ==, 0);
	CHECK_INT(st.st_size, ==, 1);
	close(fd2);
	/* O_TRUNC applies to an existing file; ret_created may be NULL. */
	fd2 = spawnd_create_or_open(dirfd_, "s", O_WRONLY | O_TRUNC, 0, NULL);
	CHECK_OK(fd2);
	CHECK_INT(fstat(fd, &st), ==, 0);
	CHECK_INT(st.st_size, ==, 0);
	CHECK_INT(st.st_mode & 07777, ==, 0640 & ~(mode_t)umask(022));
	close(fd2);
	close(fd);
	created = -1;
	CHECK_INT(spawnd_create_or_open(dirfd_, "s", O_RDWR | O_EXCL, 0600,
	    &created), ==, -EEXIST);
	CHECK_INT(created, ==, 0);	/* cleared on failure (spawnd.h) */
	fd = spawnd_create_or_open(dirfd_, "s2", O_RDWR | O_EXCL, 0600,
	    &created);
	CHECK_OK(fd);
	CHECK_INT(created, ==, 1);
	close(fd);
	CHECK_INT(spawnd_create_or_open(dirfd_, "nodir/x", O_RDWR, 0600,
	    &created), ==, -ENOENT);
	CHECK_INT(symlinkat("nowhere", dirfd_, "dangling"), ==, 0);
	CHECK_INT(spawnd_create_or_open(dirfd_, "dangling", O_RDWR, 0600,
	    &created), ==, -ENOENT);
	CHECK_INT(spawnd_create_or_open(dirfd_, "dangling", O_RDWR |
	    O_NOFOLLOW, 0600, &created), ==, -ELOOP);
	CHECK_INT(symlinkat("s", dirfd_, "link"), ==, 0);
	fd = spawnd_create_or_open(dirfd_, "link", O_RDONLY, 0600, &created);
	CHECK_OK(fd);
	CHECK_INT(created, ==, 0);
	close(fd);
	CHECK_INT(spawnd_create_or_open(dirfd_, ".", O_RDWR, 0600, &created),
	    ==, -EISDIR);
	CHECK_INT(spawnd_create_or_open(dirfd_, "s", O_PATH, 0600, NULL), ==,
	    -EINVAL);
	CHECK_INT(spawnd_create_or_open(dirfd_, "s", O_RDWR | O_TMPFILE, 0600,
	    NULL), ==, -EINVAL);
	CHECK_INT(spawnd_create_or_open(dirfd_, "s", O_RDWR, 010000, NULL), ==,
	    -EINVAL);
	CHECK_INT(spawnd_create_or_open(dirfd_, NULL, O_RDWR, 0600, NULL), ==,
	    -EINVAL);
}

static void
worker(int id, int gofd, uint64_t deadline)
{
	struct stat	st;
	char		c;
	int		i, fd, created;

	pin(0);
	(void)!read(gofd, &c, 1);	/* EOF: everyone starts at once */
	for (i = 0; i < ROUNDS && tl_now_ms() < deadline; i++) {
		created = -1;
		fd = spawnd_create_or_open(dirfd_, "f", O_RDWR, 0600, &created);
		if (fd < 0) {
			if (fd == -EEXIST)
				atomic_fetch_add(&sh->err_eexist, 1);
			else if (fd == -ENOENT)
				atomic_fetch_add(&sh->err_enoent, 1);
			else if (fd == -EBUSY)
				atomic_fetch_add(&sh->err_ebusy, 1);
			else
				atomic_fetch_add(&sh->err_other, 1);
			sh->recs[id][i].created = -1;
			continue;
		}
		if (fstat(fd, &st) == -1 || (created != 0 && created != 1)) {
			atomic_fetch_add(&sh->err_other, 1);
			sh->recs[id][i].created = -1;
		} else {
			sh->recs[id][i].ino = st.st_ino;
			sh->recs[id][i].created = created;
		}
		close(fd);
	}
	atomic_store(&sh->done[id], i);
	_exit(0);
}

/* Removes the path as fast as it can, keeping each inode in the grave. */
static void
remover(int gofd)
{
	char	name[32], c;
	long	n = 0;

	pin(1);
	(void)!read(gofd, &c, 1);
	while (!atomic_load(&sh->stop)) {
		snprintf(name, sizeof name, "g%ld", n);
		if (renameat(dirfd_, "f", gravefd, name) == 0)
			n++;
		else if (errno != ENOENT)
			atomic_fetch_add(&sh->err_other, 1);
	}
	atomic_store(&sh->renames, n);
	_exit(0);
}

static int
rec_cmp(const void *a, const void *b)
{
	const struct rec	*x = a, *y = b;

	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->created - y->created;
}

/* Matches the reports against the inodes that exist. */
static void
verify(void)
{
	struct rec	*all, *files;
	struct dirent	*de;
	struct stat	 st;
	DIR		*d;
	size_t		 n = 0, nf = 0, ngrave, i, j, ncreated = 0, nopened = 0;
	int		 w, k, bad = 0;

	all = calloc(NPROC * ROUNDS, sizeof *all);
	files = calloc(NPROC * ROUNDS + 1, sizeof *files);
	CHECK(all != NULL && files != NULL);
	for (w = 0; w < NPROC; w++) {
		for (k = 0; k < atomic_load(&sh->done[w]); k++)
			if (sh->recs[w][k].created >= 0)
				all[n++] = sh->recs[w][k];
	}
	d = fdopendir(dup(gravefd));
	CHECK(d != NULL);
	while (d != NULL && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		CHECK_INT(fstatat(gravefd, de->d_name, &st, 0), ==, 0);
		if (nf < (size_t)NPROC * ROUNDS)
			files[nf++].ino = st.st_ino;
	}
	ngrave = nf;
	if (d != NULL)
		closedir(d);
	if (fstatat(dirfd_, "f", &st, 0) == 0)
		files[nf++].ino = st.st_ino;
	qsort(all, n, sizeof *all, rec_cmp);
	qsort(files, nf, sizeof *files, rec_cmp);
	/* Walk both sorted lists: each file inode gets one created == 1. */
	for (i = 0, j = 0; j < nf; j++) {
		for (; i < n && all[i].ino < files[j].ino; i++)
			bad++;		/* an inode that never existed */
		for (k = 0; i < n && all[i].ino == files[j].ino; i++) {
			k += all[i].created;
			nopened += all[i].created == 0;
		}
		if (k != 1 && bad++ < 10)
			tl_log("inode %llu: %d creators",
			    (unsigned long long)files[j].ino, k);
		ncreated += (size_t)k;
	}
	bad += (int)(n - i);
	tl_log("%zu files created (%zu in the graveyard), %zu reported "
	    "created by exactly one call each, %zu opened existing",
	    nf, ngrave, ncreated, nopened);
	CHECK_INT(bad, ==, 0);
	CHECK_INT(ncreated, ==, nf);
	free(all);
	free(files);
}

int
main(void)
{
	char		 dir[128], path[200];
	const char	*tmp = getenv("TMPDIR");
	pid_t		 pids[NPROC + 1];
	int		 go[2], i, status, rounds = 0, least = ROUNDS;
	uint64_t	 t0, deadline;
	double		 secs;

	if (tmp == NULL || *tmp == '\0' || strlen(tmp) > 60)
		tmp = "/tmp";
	snprintf(dir, sizeof dir, "%s/spawnd-coo.XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof path, "%s/grave", dir);
	sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE,
	    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED || mkdir(path, 0700) == -1 ||
	    (dirfd_ = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (gravefd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    pipe2(go, O_CLOEXEC) == -1) {
		perror("set-up");
		tl_rm_rf(dir);
		return 1;
	}
	semantics();

	deadline = tl_now_ms() + TIME_BOUND_MS;
	for (i = 0; i <= NPROC; i++) {
		if ((pids[i] = fork()) == -1) {
			perror("fork");
			exit(1);
		}
		if (pids[i] == 0) {
			close(go[1]);
			if (i == NPROC)
				remover(go[0]);
			worker(i, go[0], deadline);
		}
	}
	close(go[0]);
	t0 = tl_now_ms();
	close(go[1]);
	for (i = 0; i < NPROC; i++) {
		CHECK_INT(waitpid(pids[i], &status, 0), ==, pids[i]);
		CHECK_INT(status, ==, 0);
	}
	secs = (double)(tl_now_ms() - t0) / 1000;
	atomic_store(&sh->stop, 1);
	CHECK_INT(waitpid(pids[NPROC], &status, 0), ==, pids[NPROC]);
	CHECK_INT(status, ==, 0);
	for (i = 0; i < NPROC; i++) {
		rounds += atomic_load(&sh->done[i]);
		if (atomic_load(&sh->done[i]) < least)
			least = atomic_load(&sh->done[i]);
	}
	tl_log("%d processes x %d rounds (fewest: %d; time bound %d s) in "
	    "%.2f s", NPROC, ROUNDS, least, TIME_BOUND_MS / 1000, secs);
	tl_log("%d calls, %ld removals; errors: %d EEXIST, %d ENOENT, "
	    "%d EBUSY, %d other", rounds, atomic_load(&sh->renames),
	    atomic_load(&sh->err_eexist), atomic_load(&sh->err_enoent),
	    atomic_load(&sh->err_ebusy), atomic_load(&sh->err_other));
	CHECK_INT(atomic_load(&sh->err_eexist), ==, 0);
	CHECK_INT(atomic_load(&sh->err_enoent), ==, 0);
	CHECK_INT(atomic_load(&sh->err_ebusy), ==, 0);
	CHECK_INT(atomic_load(&sh->err_other), ==, 0);
	verify();
	tl_rm_rf(dir);
	return tl_exit();
}
