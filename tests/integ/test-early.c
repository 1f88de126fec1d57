/*
 * test-early: STARTED before the exec (PROTO_SPAWN_EXEC_FD, issue 15).
 *
 * libspawnd asks the daemon for its STARTED at once, with the read end of
 * a pipe the child holds close-on-exec, and waits on that pipe itself:
 * the daemon never wakes for an exec.  What that must not change:
 *
 *   1. no fd of the library's is left: a running child costs its pidfd,
 *	an ended or failed one nothing;
 *   2. failures still come whole: ENOENT at the exec, EBADF at a file
 *	action with its index; a failed child is no spawn in the daemon's
 *	count, and nothing of it stays listed;
 *   3. a group kill sent as soon as spawnd_spawn() returns reaches the
 *	whole group: the daemon knows the child has exec'd (and has made
 *	its group) though no event told it so;
 *   4. a daemon that dies while its child waits before the exec (an open
 *	of a FIFO) does not leave the client waiting on the pipe: the spawn
 *	fails, and the orphan ends once released (its parent-death signal);
 *   5. a child killed (SIGKILL) just after it wrote its failure byte still
 *	gets its FAILED to the client, which saw the byte: traced, and
 *	killed at the return of that write (ptrace).  A flag the child set
 *	after the write missed this, and the client waited for good.
 */

#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

#include <linux/ptrace.h>

#include "testlib.h"

static struct tl_daemon	 d;

/* A request for argv with stdout to out (unless -1). */
static struct spawnd_req *
request(const char *const *argv, int out)
{
	struct spawnd_req	*req = NULL;

	if (spawnd_req_new(&req) < 0 || spawnd_req_set_argv(req, argv) < 0 ||
	    (out != -1 && spawnd_req_set_fd(req, out, 1) < 0) ||
	    spawnd_req_set_fd(req, STDERR_FILENO, 2) < 0) {
		spawnd_req_free(req);
		return NULL;
	}
	return req;
}

static void
fds_and_failures(struct spawnd_client *c)
{
	const char *const	 t[] = { "/bin/true", NULL };
	const char *const	 no[] = { "/nonexistent/prog", NULL };
	const char *const	 sl[] = { "/bin/sleep", "100", NULL };
	struct spawnd_req	*req;
	struct spawnd_child	*ch = NULL;
	struct spawnd_failure	 f;
	struct spawnd_exit	 ex;
	struct spawnd_status	 st0, st1;
	struct spawnd_ps	*ps = NULL;
	size_t			 nps = 0;
	int			 before;

	tl_log("1. the library keeps no fd of a spawn");
	before = tl_fd_count(getpid());
	if ((req = request(sl, -1)) == NULL)
		return;
	CHECK_OK(spawnd_spawn(c, req, &ch, &f));
	CHECK_INT(tl_fd_count(getpid()), ==, before + 1);	/* pidfd */
	CHECK_OK(spawnd_child_kill(ch, SIGKILL, 0));
	CHECK_OK(spawnd_child_wait(ch, tl_scale(10000), &ex));
	CHECK(WIFSIGNALED(ex.status) && WTERMSIG(ex.status) == SIGKILL);
	spawnd_child_free(ch);
	ch = NULL;
	spawnd_req_free(req);
	CHECK_INT(tl_fd_count(getpid()), ==, before);

	tl_log("2. failures come whole, and count as no spawn");
	CHECK_OK(spawnd_ping(c, tl_scale(5000), &st0));
	if ((req = request(no, -1)) == NULL)
		return;
	CHECK_INT(spawnd_spawn(c, req, &ch, &f), ==, -ENOENT);
	CHECK(ch == NULL);
	CHECK_INT(f.error, ==, ENOENT);
	CHECK_INT(f.step, ==, SPAWND_STEP_EXEC);
	CHECK_INT(f.action, ==, -1);
	spawnd_req_free(req);
	if ((req = request(t, -1)) == NULL)
		return;
	CHECK_OK(spawnd_req_add_close(req, 0));
	CHECK_OK(spawnd_req_add_dup2(req, 250, 9));	/* never open */
	CHECK_INT(spawnd_spawn(c, req, &ch, &f), ==, -EBADF);
	CHECK_INT(f.step, ==, SPAWND_STEP_ACTION);
	CHECK_INT(f.action, ==, 1);
	spawnd_req_free(req);
	CHECK_INT(tl_fd_count(getpid()), ==, before);
	/* The daemon reaps them: nothing listed, nothing counted. */
	CHECK_OK(spawnd_list(c, tl_scale(5000), &ps, &nps));
	CHECK_INT(nps, ==, 0);
	free(ps);
	CHECK_OK(spawnd_ping(c, tl_scale(5000), &st1));
	CHECK_INT(st1.spawns, ==, st0.spawns);
	CHECK_INT(st1.children, ==, 0);
}

/* 3: a group kill at once after spawnd_spawn(). */
static void
group_kill(struct spawnd_client *c)
{
	const char *const	 argv[] = { "/bin/sh", "-c",
				    "sleep 1000 & echo up; exec sleep 1000",
				    NULL };
	struct spawnd_req	*req;
	struct spawnd_child	*ch = NULL;
	struct spawnd_exit	 ex;
	struct pollfd		 pfd;
	char			 buf[64];
	int			 p[2], n;

	tl_log("3. a group kill right after the spawn reaches the group");
	if (pipe2(p, O_CLOEXEC) == -1 || (req = request(argv, p[1])) == NULL)
		return;
	CHECK_OK(spawnd_req_set_flags(req, SPAWND_SETSID));
	CHECK_OK(spawnd_spawn(c, req, &ch, NULL));
	close(p[1]);
	/* "up": the background sleep exists, in the child's group. */
	pfd.fd = p[0];
	pfd.events = POLLIN;
	n = poll(&pfd, 1, tl_scale(10000)) == 1 ? (int)read(p[0], buf, 3) : -1;
	CHECK_INT(n, ==, 3);
	CHECK_OK(spawnd_child_kill(ch, SIGKILL, SPAWND_KILL_GROUP));
	CHECK_OK(spawnd_child_wait(ch, tl_scale(10000), &ex));
	/* EOF only once the background sleep, holding stdout, is gone. */
	n = tl_read_all(p[0], buf, sizeof buf, tl_scale(10000));
	CHECK_INT(n, ==, 0);
	close(p[0]);
	spawnd_child_free(ch);
	spawnd_req_free(req);
}

struct blocked {
	const char	*fifo;
	int		 r;
	atomic_int	 done;
};

static void *
blocked_main(void *arg)
{
	struct blocked		*b = arg;
	const char *const	 argv[] = { "/bin/true", NULL };
	struct spawnd_client	*c = NULL;
	struct spawnd_req	*req;
	struct spawnd_child	*ch = NULL;

	b->r = -1;
	if (spawnd_connect(d.sock, tl_scale(5000), &c) == 0 &&
	    (req = request(argv, -1)) != NULL) {
		if (spawnd_req_add_open(req, 5, b->fifo, O_RDONLY, 0) == 0)
			b->r = spawnd_spawn(c, req, &ch, NULL);
		spawnd_req_free(req);
	}
	spawnd_child_free(ch);
	spawnd_client_free(c);
	atomic_store(&b->done, 1);
	return NULL;
}

/* 4: the daemon dies while the child waits before its exec. */
static void
daemon_dies(struct spawnd_client *c)
{
	struct blocked		 b = { 0 };
	struct spawnd_status	 st;
	char			 fifo[300];
	pthread_t		 t;
	uint64_t		 end;
	int			 fd, status;
	pid_t			 pid;

	tl_log("4. the daemon dies while a child waits before its exec");
	snprintf(fifo, sizeof fifo, "%s/fifo", d.dir);
	if (mkfifo(fifo, 0600) == -1) {
		tl_fail(__FILE__, __LINE__, "mkfifo: %s", strerror(errno));
		return;
	}
	b.fifo = fifo;
	if (pthread_create(&t, NULL, blocked_main, &b) != 0) {
		tl_fail(__FILE__, __LINE__, "pthread_create");
		return;
	}
	end = tl_now_ms() + (uint64_t)tl_scale(10000);
	while (spawnd_ping(c, tl_scale(5000), &st) == 0 && st.children < 1 &&
	    tl_now_ms() < end)
		tl_sleep_ms(10);
	CHECK_INT(st.children, ==, 1);
	(void)kill(d.pid, SIGKILL);
	end = tl_now_ms() + (uint64_t)tl_scale(10000);
	while (!atomic_load(&b.done) && tl_now_ms() < end)
		tl_sleep_ms(10);
	CHECK(atomic_load(&b.done));
	if (!atomic_load(&b.done)) {
		/* Release it, or the join would wait for good. */
		fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		if (fd != -1)
			close(fd);
	}
	pthread_join(t, NULL);
	tl_log("spawn with the daemon gone: %d (%s)", b.r,
	    b.r < 0 ? strerror(-b.r) : "ok");
	CHECK_INT(b.r, <, 0);
	/* The orphan (ours: we are its subreaper) ends once released. */
	end = tl_now_ms() + (uint64_t)tl_scale(10000);
	while ((fd = open(fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC)) == -1 &&
	    errno == ENXIO && tl_now_ms() < end)
		tl_sleep_ms(10);
	if (fd != -1)
		close(fd);
	end = tl_now_ms() + (uint64_t)tl_scale(10000);
	while ((pid = waitpid(-1, &status, WNOHANG)) >= 0 && tl_now_ms() < end)
		if (pid == 0)
			tl_sleep_ms(10);
	CHECK_INT(pid, ==, -1);
	d.stopped = 1;
}

/* The one child of the daemon, by /proc, within 10 s; or -1. */
static pid_t
daemon_child(void)
{
	char		 path[64], buf[64];
	uint64_t	 end = tl_now_ms() + (uint64_t)tl_scale(10000);
	ssize_t		 n;
	int		 fd;

	snprintf(path, sizeof path, "/proc/%d/task/%d/children", (int)d.pid,
	    (int)d.pid);
	do {
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
			return -1;
		n = read(fd, buf, sizeof buf - 1);
		close(fd);
		if (n > 0) {
			buf[n] = '\0';
			return (pid_t)atoi(buf);
		}
		tl_sleep_ms(5);
	} while (tl_now_ms() < end);
	return -1;
}

struct failing {
	const char		*fifo;
	int			 r;
	struct spawnd_failure	 f;
	atomic_int		 done;
	int			 wfd;		/* the FIFO's writer */
};

/* Spawns a child that opens the FIFO, then fails at action 1. */
static void *
failing_main(void *arg)
{
	struct failing		*b = arg;
	const char *const	 argv[] = { "/bin/true", NULL };
	struct spawnd_client	*c = NULL;
	struct spawnd_req	*req;
	struct spawnd_child	*ch = NULL;

	b->r = 1;
	if (spawnd_connect(d.sock, tl_scale(5000), &c) == 0 &&
	    (req = request(argv, -1)) != NULL) {
		if (spawnd_req_add_open(req, 5, b->fifo, O_RDONLY, 0) == 0 &&
		    spawnd_req_add_dup2(req, 250, 9) == 0)
			b->r = spawnd_spawn(c, req, &ch, &b->f);
		spawnd_req_free(req);
	}
	spawnd_child_free(ch);
	spawnd_client_free(c);
	atomic_store(&b->done, 1);
	return NULL;
}

/* Opens the FIFO for writing: waits for its reader, the child. */
static void *
writer_main(void *arg)
{
	struct failing	*b = arg;

	b->wfd = open(b->fifo, O_WRONLY | O_CLOEXEC);
	return NULL;
}

/* 5: SIGKILL at the return of the failure byte's write. */
static void
killed_after_byte(void)
{
	struct failing		 b = { .wfd = -1 };
	struct ptrace_syscall_info si;
	char			 fifo[300];
	pthread_t		 t, w;
	unsigned long long	 nr = 0;
	uint64_t		 end;
	int			 st, killed = 0, wstarted = 0, rfd;
	pid_t			 pid;

	tl_log("5. a child killed right after its failure byte");
	snprintf(fifo, sizeof fifo, "%s/fifo5", d.dir);
	if (mkfifo(fifo, 0600) == -1) {
		tl_fail(__FILE__, __LINE__, "mkfifo: %s", strerror(errno));
		return;
	}
	b.fifo = fifo;
	if (pthread_create(&t, NULL, failing_main, &b) != 0) {
		tl_fail(__FILE__, __LINE__, "pthread_create");
		return;
	}
	/* It waits in the FIFO's open until the writer comes. */
	if ((pid = daemon_child()) <= 0 ||
	    ptrace(PTRACE_SEIZE, pid, 0, PTRACE_O_TRACESYSGOOD) == -1 ||
	    ptrace(PTRACE_INTERRUPT, pid, 0, 0) == -1 ||
	    waitpid(pid, &st, __WALL) != pid) {
		tl_fail(__FILE__, __LINE__, "tracing the child %d: %s",
		    (int)pid, strerror(errno));
		goto release;
	}
	wstarted = pthread_create(&w, NULL, writer_main, &b) == 0;
	/* Its syscalls up to the write (child_fail's, its only one). */
	while (ptrace(PTRACE_SYSCALL, pid, 0, 0) == 0 &&
	    waitpid(pid, &st, __WALL) == pid && WIFSTOPPED(st)) {
		if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof si, &si) <= 0)
			continue;
		if (si.op == PTRACE_SYSCALL_INFO_ENTRY)
			nr = si.entry.nr;
		else if (si.op == PTRACE_SYSCALL_INFO_EXIT &&
		    nr == SYS_write) {
			tl_log("its write returned %lld: SIGKILL",
			    (long long)si.exit.rval);
			CHECK_INT(si.exit.rval, ==, 1);
			(void)kill(pid, SIGKILL);
			(void)waitpid(pid, &st, __WALL);
			killed = 1;
			break;
		}
	}
	CHECK(killed);
release:
	end = tl_now_ms() + (uint64_t)tl_scale(10000);
	while (!atomic_load(&b.done) && tl_now_ms() < end)
		tl_sleep_ms(10);
	CHECK(atomic_load(&b.done));
	if (!atomic_load(&b.done)) {
		/* The client waits for good: end it by ending the daemon. */
		(void)kill(d.pid, SIGKILL);
		d.stopped = 1;
	}
	pthread_join(t, NULL);
	if (wstarted) {
		/* A reader of our own ends the writer's wait, if it waits. */
		rfd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		pthread_join(w, NULL);
		if (rfd != -1)
			close(rfd);
	}
	if (b.wfd != -1)
		close(b.wfd);
	tl_log("spawn: %d (%s), step %d action %d", b.r,
	    b.r < 0 ? strerror(-b.r) : "ok", b.f.step, b.f.action);
	CHECK_INT(b.r, ==, -EBADF);
	CHECK_INT(b.f.step, ==, SPAWND_STEP_ACTION);
	CHECK_INT(b.f.action, ==, 1);
}

int
main(void)
{
	struct spawnd_client	*c;

	/* Orphans of the daemon killed in 4 come to us. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1)
		return 1;
	if (tl_start(&d) == -1)
		return tl_exit();
	if ((c = tl_connect(&d)) != NULL) {
		fds_and_failures(c);
		group_kill(c);
		killed_after_byte();
		daemon_dies(c);
		spawnd_client_free(c);
	}
	tl_stop(&d);
	return tl_exit();
}
