/*
 * test-nowritable: the daemon holds no writable regular file.
 *
 * The point of spawnd is that a file some thread writes is never held
 * open by anyone else: so once spawnd_spawn() has returned, the daemon
 * must not keep the child's fds, and it must never hold any regular file
 * open for writing of its own.  While children run with stdout and stderr
 * on writable regular files we pass, every fd of the daemon is looked at
 * through /proc/PID/fd (target) and /proc/PID/fdinfo (open flags).
 */

#include "testlib.h"

#define NCHILD	3

static struct tl_daemon	 d;

/*
 * Counts the daemon's fds that are regular files open for writing, or
 * that are one of the files in avoid[] (any mode).  Logs each.
 */
static int
scan(const struct stat *avoid, int navoid, int verbose)
{
	char		 dir[64], p[320], target[PATH_MAX], line[256];
	DIR		*dp;
	struct dirent	*de;
	struct stat	 st;
	FILE		*f;
	unsigned long	 flags;
	ssize_t		 n;
	int		 bad = 0, i, have_flags;

	snprintf(dir, sizeof dir, "/proc/%d/fd", (int)d.pid);
	if ((dp = opendir(dir)) == NULL) {
		tl_fail(__FILE__, __LINE__, "%s: %s", dir, strerror(errno));
		return -1;
	}
	while ((de = readdir(dp)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
		n = readlink(p, target, sizeof target - 1);
		if (n == -1)
			continue;	/* closed meanwhile */
		target[n] = '\0';
		if (stat(p, &st) == -1)
			continue;
		snprintf(p, sizeof p, "/proc/%d/fdinfo/%s", (int)d.pid,
		    de->d_name);
		have_flags = 0;
		flags = 0;
		if ((f = fopen(p, "re")) != NULL) {
			while (fgets(line, sizeof line, f) != NULL) {
				if (sscanf(line, "flags: %lo", &flags) == 1) {
					have_flags = 1;
					break;
				}
			}
			fclose(f);
		}
		if (!have_flags)
			continue;
		if (verbose)
			tl_log("  fd %s -> %s flags 0%lo", de->d_name, target,
			    flags);
		for (i = 0; i < navoid; i++) {
			if (st.st_dev == avoid[i].st_dev &&
			    st.st_ino == avoid[i].st_ino) {
				tl_log("  daemon fd %s is our file %s (flags "
				    "0%lo)", de->d_name, target, flags);
				bad++;
			}
		}
		/*
		 * Anonymous inodes (eventfd, signalfd, epoll, pidfd) are
		 * S_IFREG on recent kernels and opened O_RDWR: not files.
		 */
		if (!S_ISREG(st.st_mode) || target[0] != '/' ||
		    strncmp(target, "/memfd:", 7) == 0)
			continue;
		/* valgrind's own files, far above the daemon's fds. */
		if (tl_valgrind() && (strstr(target, "/valgrind_proc_") ||
		    strstr(target, "/vgdb-pipe")))
			continue;
		if ((flags & O_ACCMODE) != O_RDONLY) {
			tl_log("  daemon fd %s -> %s is open for writing "
			    "(flags 0%lo)", de->d_name, target, flags);
			bad++;
		}
	}
	closedir(dp);
	return bad;
}

/* scan() until clean, for up to 1 s (the daemon may close just after). */
static void
check_clean(const struct stat *avoid, int navoid, const char *when)
{
	uint64_t	end = tl_now_ms() + (uint64_t)tl_scale(1000);
	int		bad, first = -1;

	for (;;) {
		bad = scan(avoid, navoid, 0);
		if (first == -1)
			first = bad;
		if (bad <= 0 || tl_now_ms() >= end)
			break;
		tl_sleep_ms(20);
	}
	if (bad != 0) {
		tl_fail(__FILE__, __LINE__, "%s: the daemon holds %d writable "
		    "or passed file(s)", when, bad);
		(void)scan(avoid, navoid, 1);
	} else if (first > 0)
		tl_log("note: %s: clean only %s after spawnd_spawn returned",
		    when, "a moment");
}

int
main(void)
{
	const char		*argv[] = { "/bin/sh", "-c",
				    "echo started; echo err >&2; "
				    "read x; echo done", NULL };
	const char		*envp[] = { "PATH=/usr/bin:/bin", NULL };
	const char		*eargv[] = { "script", NULL };
	struct spawnd_client	*c = NULL;
	struct spawnd_req	*req = NULL;
	struct spawnd_child	*ch[NCHILD] = { NULL };
	struct spawnd_exit	 ex;
	struct stat		 avoid[2 * NCHILD + 1];
	char			 path[256], buf[256];
	int			 i, fd, in[NCHILD][2], outfd[NCHILD];
	int			 errfd[NCHILD], st;

	signal(SIGPIPE, SIG_IGN);
	if (tl_start(&d) != 0)
		goto out;
	tl_log("== daemon at rest");
	check_clean(NULL, 0, "idle");
	if ((c = tl_connect(&d)) == NULL)
		goto out;

	tl_log("== %d children writing to regular files we passed", NCHILD);
	for (i = 0; i < NCHILD; i++) {
		snprintf(path, sizeof path, "%s/out%d", d.dir, i);
		outfd[i] = open(path, O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC,
		    0644);
		snprintf(path, sizeof path, "%s/err%d", d.dir, i);
		errfd[i] = open(path, O_RDWR|O_CREAT|O_TRUNC|O_APPEND|
		    O_CLOEXEC, 0644);
		CHECK(outfd[i] != -1 && errfd[i] != -1);
		CHECK(fstat(outfd[i], &avoid[2 * i]) == 0);
		CHECK(fstat(errfd[i], &avoid[2 * i + 1]) == 0);
		CHECK(pipe2(in[i], O_CLOEXEC) == 0);
		CHECK_OK(spawnd_req_new(&req));
		CHECK_OK(spawnd_req_set_argv(req, argv));
		CHECK_OK(spawnd_req_set_envp(req, envp));
		CHECK_OK(spawnd_req_set_fd(req, in[i][0], 0));
		CHECK_OK(spawnd_req_set_fd(req, outfd[i], 1));
		CHECK_OK(spawnd_req_set_fd(req, errfd[i], 2));
		CHECK_OK(spawnd_spawn(c, req, &ch[i], NULL));
		spawnd_req_free(req);
		req = NULL;
		close(in[i][0]);
		check_clean(avoid, 2 * i + 2, "after spawnd_spawn");
	}
	/* Our copies closed too: only the children hold the files now. */
	for (i = 0; i < NCHILD; i++) {
		close(outfd[i]);
		close(errfd[i]);
	}
	check_clean(avoid, 2 * NCHILD, "children running");

	for (i = 0; i < NCHILD; i++) {
		CHECK(write(in[i][1], "go\n", 3) == 3);
		close(in[i][1]);
		if (ch[i] == NULL)
			continue;
		CHECK_OK(spawnd_child_wait(ch[i], tl_scale(10000), &ex));
		CHECK(WIFEXITED(ex.status) && WEXITSTATUS(ex.status) == 0);
		spawnd_child_free(ch[i]);
		snprintf(path, sizeof path, "%s/out%d", d.dir, i);
		fd = open(path, O_RDONLY|O_CLOEXEC);
		CHECK(fd != -1);
		CHECK(tl_read_all(fd, buf, sizeof buf, 1000) >= 0);
		CHECK_STR(buf, "started\ndone\n");
		close(fd);
	}
	check_clean(avoid, 2 * NCHILD, "children gone");

	/*
	 * Exec by fd of a script we just wrote: the daemon holds only a
	 * read-only fd, and not after the spawn.
	 */
	tl_log("== exec fd");
	snprintf(path, sizeof path, "%s/script", d.dir);
	CHECK(tl_write_file(path, "#!/bin/sh\nexit 5\n", 17, 0755) == 0);
	fd = open(path, O_RDONLY|O_CLOEXEC);
	CHECK(fd != -1);
	CHECK(fstat(fd, &avoid[0]) == 0);
	CHECK_OK(spawnd_req_new(&req));
	CHECK_OK(spawnd_req_set_argv(req, eargv));
	CHECK_OK(spawnd_req_set_exec_fd(req, fd));
	ch[0] = NULL;
	st = spawnd_spawn(c, req, &ch[0], NULL);
	CHECK_OK(st);
	close(fd);
	check_clean(avoid, 1, "after exec-fd spawn");
	if (ch[0] != NULL) {
		CHECK_OK(spawnd_child_wait(ch[0], tl_scale(10000), &ex));
		CHECK(WIFEXITED(ex.status) && WEXITSTATUS(ex.status) == 5);
		spawnd_child_free(ch[0]);
	}
	spawnd_req_free(req);
	req = NULL;
out:
	spawnd_req_free(req);
	spawnd_client_free(c);
	tl_stop(&d);
	return tl_exit();
}
