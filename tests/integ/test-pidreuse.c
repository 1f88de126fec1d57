/*
 * test-pidreuse: a kill that comes after the child is gone reaches no
 * other process, even one that got the dead child's pid.
 *
 * Root only.  The test re-executes itself (--inner) under
 * `unshare --pid --fork --mount-proc`, as pid 1 of a new pid namespace,
 * and sets that namespace's kernel.pid_max to PID_MAX (per namespace
 * since Linux 6.14; skipped where it cannot be written).  There it starts
 * the daemon, then fills the namespace's pid space with sleepers (clone
 * until EAGAIN) and frees a few pids again.  Then, ITERATIONS times:
 *
 *   1. spawn a program that only exits 0 (a 130-byte static ELF written
 *	here, /bin/true on other than x86-64 and arm64) with SPAWND_SETSID,
 *	and wait, on its pidfd, until the daemon has reaped it
 *	(pidfd_send_signal(0) fails with ESRCH);
 *   2. clone "fillers" until EAGAIN: every free pid is taken, the dead
 *	child's included (counted: "reused");
 *   3. kill the dead child's handle with SIGTERM three ways, each of
 *	which must fail with ESRCH: through the daemon
 *	(spawnd_child_kill(SPAWND_KILL_GROUP), sent before the library has
 *	read the exit record), through the library once it has the record
 *	(spawnd_child_kill()), and through the handle's pidfd
 *	(pidfd_send_signal());
 *   4. release the fillers, which must all exit 0: none was signalled.
 *
 * At the end every sleeper must still be alive (SIGTERM would have killed
 * it) and then die of our SIGKILL, and the number of ESRCH must equal the
 * number of kills.  The loop stops early after LOOP_BUDGET_MS and says so
 * (fork and exec are slow on small VMs: about 2 ms each here).
 *
 * Sleepers and fillers are clone(CLONE_VM) children on small stacks of
 * their own, making only raw system calls: far cheaper than fork().
 */

#include <sys/mman.h>
#include <sys/syscall.h>

#include <elf.h>
#include <sched.h>
#include <stddef.h>

#include "testlib.h"

#define PID_MAX		1000
#define ITERATIONS	10000
#define LOOP_BUDGET_MS	40000
#define MAX_SLEEPERS	(PID_MAX + 16)
#define MAX_FILLERS	256
#define FREE_PIDS	4
#define STACK_SIZE	(16 * 1024)

static struct tl_daemon	 d;
static pid_t		 sleepers[MAX_SLEEPERS];
static int		 nsleepers;
static char		*stacks;	/* MAX_SLEEPERS + MAX_FILLERS */
static char		 exitprog[PATH_MAX];

static int	 outer(char **);
static int	 unshare_works(const char *);
static int	 inner(void);
static int	 sleeper(void *);
static int	 filler(void *);
static pid_t	 start(int (*)(void *), int, void *);
static int	 set_pid_max(void);
static int	 wait_reaped(int);
static int	 reap(pid_t, int *);
static void	 write_exitprog(const char *);

/*
 * Kills go to every process but these, which only sleep.  They share our
 * memory (CLONE_VM), so they touch nothing of it: raw system calls only.
 * Their fd table is a copy of ours: closed at once, or our connection to
 * the daemon (and the fillers' pipe) would live on in them.
 */
static int
sleeper(void *arg)
{
	(void)arg;
	(void)syscall(SYS_close_range, 0U, ~0U, 0U);
	for (;;)
		(void)syscall(SYS_pause);
	return 0;
}

/*
 * Holds a pid until the pipe (arg: its two fds) reads EOF, then exits 0.
 * Only the read end stays, at fd 0.
 */
static int
filler(void *arg)
{
	const int	*p = arg;
	char		 c;

	if (syscall(SYS_dup3, p[0], 0, 0) == -1)
		return 1;
	(void)syscall(SYS_close_range, 1U, ~0U, 0U);
	while (syscall(SYS_read, 0, &c, 1) == 1)
		;
	return 0;
}

/* A clone(CLONE_VM) child running fn(arg) on stack slot i. */
static pid_t
start(int (*fn)(void *), int slot, void *arg)
{
	return clone(fn, stacks + (size_t)(slot + 1) * STACK_SIZE,
	    CLONE_VM | SIGCHLD, arg);
}

/*
 * A static ELF that calls exit(0): exec'ing it costs a fraction of
 * /bin/true, which needs the dynamic loader.  exitprog stays /bin/true
 * on other machines.
 */
static void
write_exitprog(const char *dir)
{
#if defined(__x86_64__)
	static const unsigned char code[] = {
		0x31, 0xff,			/* xor %edi,%edi */
		0xb8, 0x3c, 0, 0, 0,		/* mov $60,%eax */
		0x0f, 0x05			/* syscall */
	};
	const int		machine = EM_X86_64;
#elif defined(__aarch64__)
	static const unsigned char code[] = {
		0x00, 0x00, 0x80, 0xd2,		/* mov x0, #0 */
		0xa8, 0x0b, 0x80, 0xd2,		/* mov x8, #93 */
		0x01, 0x00, 0x00, 0xd4		/* svc #0 */
	};
	const int		machine = EM_AARCH64;
#endif
#if defined(__x86_64__) || defined(__aarch64__)
	struct {
		Elf64_Ehdr	e;
		Elf64_Phdr	p;
		unsigned char	code[sizeof code];
	} __attribute__((__packed__)) img;
	const Elf64_Addr	base = 0x400000;

	memset(&img, 0, sizeof img);
	memcpy(img.e.e_ident, ELFMAG, SELFMAG);
	img.e.e_ident[EI_CLASS] = ELFCLASS64;
	img.e.e_ident[EI_DATA] = ELFDATA2LSB;
	img.e.e_ident[EI_VERSION] = EV_CURRENT;
	img.e.e_type = ET_EXEC;
	img.e.e_machine = machine;
	img.e.e_version = EV_CURRENT;
	img.e.e_entry = base + offsetof(__typeof__(img), code);
	img.e.e_phoff = sizeof img.e;
	img.e.e_ehsize = sizeof img.e;
	img.e.e_phentsize = sizeof img.p;
	img.e.e_phnum = 1;
	img.p.p_type = PT_LOAD;
	img.p.p_flags = PF_R | PF_X;
	img.p.p_vaddr = img.p.p_paddr = base;
	img.p.p_filesz = img.p.p_memsz = sizeof img;
	img.p.p_align = 0x1000;
	memcpy(img.code, code, sizeof code);
	snprintf(exitprog, sizeof exitprog, "%s/exit0", dir);
	if (tl_write_file(exitprog, (const char *)&img, sizeof img, 0755) == 0)
		return;
#else
	(void)dir;
#endif
	snprintf(exitprog, sizeof exitprog, "/bin/true");
}

static int
set_pid_max(void)
{
	char	buf[32];
	int	fd, n;

	n = snprintf(buf, sizeof buf, "%d\n", PID_MAX);
	if ((fd = open("/proc/sys/kernel/pid_max", O_WRONLY | O_CLOEXEC)) ==
	    -1)
		return -1;
	if (write(fd, buf, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* waitpid(pid) for at most 5 s; SIGKILLs it then.  0 or -1. */
static int
reap(pid_t pid, int *st)
{
	uint64_t	end = tl_now_ms() + 5000;
	pid_t		r;

	*st = -1;
	while ((r = waitpid(pid, st, WNOHANG)) == 0 && tl_now_ms() < end)
		(void)sched_yield();
	if (r == pid)
		return 0;
	(void)kill(pid, SIGKILL);
	(void)waitpid(pid, NULL, 0);
	return -1;
}

/* Polls the pidfd, then waits until the daemon has reaped the child. */
static int
wait_reaped(int pidfd)
{
	struct pollfd	pfd = { .fd = pidfd, .events = POLLIN };
	uint64_t	end = tl_now_ms() + 10000;

	if (poll(&pfd, 1, 10000) != 1)
		return -1;
	while (syscall(SYS_pidfd_send_signal, pidfd, 0, NULL, 0) == 0) {
		if (tl_now_ms() > end)
			return -1;
		(void)sched_yield();
	}
	return errno == ESRCH ? 0 : -1;
}

/* Waits (10 s) until fd has something to read. */
static int
wait_readable(int fd)
{
	struct pollfd	pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 10000) == 1 ? 0 : -1;
}

static int
inner(void)
{
	const char		*argv[] = { exitprog, NULL };
	struct spawnd_client	*c = NULL;
	struct spawnd_req	*req = NULL;
	struct spawnd_child	*ch;
	struct spawnd_failure	 f;
	struct spawnd_exit	 ex;
	pid_t			 fill[MAX_FILLERS], pid, dead;
	uint64_t		 t0, kills = 0, esrch = 0, reused = 0;
	uint64_t		 maxfill = 0, badfill = 0, other = 0;
	int			 it, i, n, p[2], st, pidfd, r;

	if (getpid() != 1) {
		tl_fail(__FILE__, __LINE__, "--inner is not pid 1 but %d",
		    (int)getpid());
		return 1;
	}
	/* If unshare goes, so do we, and the whole namespace with us. */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (set_pid_max() == -1) {
		fprintf(stderr, "cannot set kernel.pid_max in a pid namespace "
		    "(%s; Linux < 6.14?): skipping\n", strerror(errno));
		return TL_SKIP;
	}
	stacks = mmap(NULL, (size_t)(MAX_SLEEPERS + MAX_FILLERS + 1) *
	    STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS |
	    MAP_STACK, -1, 0);
	if (stacks == MAP_FAILED) {
		tl_fail(__FILE__, __LINE__, "mmap: %s", strerror(errno));
		return 1;
	}
	if (tl_start(&d) != 0)
		goto out;
	write_exitprog(d.dir);
	if ((c = tl_connect(&d)) == NULL)
		goto out;
	CHECK_OK(spawnd_req_new(&req));
	CHECK_OK(spawnd_req_set_argv(req, argv));
	CHECK_OK(spawnd_req_set_flags(req, SPAWND_SETSID));

	/* Every pid taken, then a few freed for the loop. */
	while (nsleepers < MAX_SLEEPERS) {
		if ((pid = start(sleeper, nsleepers, NULL)) == -1)
			break;
		sleepers[nsleepers++] = pid;
	}
	if (errno != EAGAIN || nsleepers < PID_MAX / 2) {
		tl_fail(__FILE__, __LINE__, "%d sleepers, then fork: %s",
		    nsleepers, strerror(errno));
		goto out;
	}
	for (i = 0; i < FREE_PIDS; i++) {
		pid = sleepers[--nsleepers];
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, &st, 0);
	}
	tl_log("pid_max %d: %d sleepers fill the pid space, %d pids free; "
	    "children run %s", PID_MAX, nsleepers, FREE_PIDS, exitprog);

	t0 = tl_now_ms();
	for (it = 0; it < ITERATIONS; it++) {
		if (tl_now_ms() - t0 > LOOP_BUDGET_MS) {
			tl_log("time budget of %d ms spent: %d iterations "
			    "instead of %d", LOOP_BUDGET_MS, it, ITERATIONS);
			break;
		}
		ch = NULL;
		if ((r = spawnd_spawn(c, req, &ch, &f)) < 0) {
			tl_fail(__FILE__, __LINE__, "iteration %d: spawn: %s "
			    "at %s", it, strerror(-r),
			    spawnd_step_name(f.step));
			break;
		}
		dead = spawnd_child_pid(ch);
		pidfd = spawnd_child_fd(ch);
		/*
		 * ESRCH on the pidfd can come a moment before the kernel
		 * frees the pid number (release_task frees it last); the
		 * daemon's EXITED is sent after its waitid returned, when it
		 * is free.  Wait for that record to arrive, unread.
		 */
		if (pidfd < 0 || wait_reaped(pidfd) != 0 ||
		    wait_readable(spawnd_client_fd(c)) != 0) {
			tl_fail(__FILE__, __LINE__, "iteration %d: child %d "
			    "not reaped", it, (int)dead);
			spawnd_child_free(ch);
			break;
		}

		/* Take every free pid: the dead child's is among them. */
		if (pipe2(p, O_CLOEXEC) == -1) {
			tl_fail(__FILE__, __LINE__, "pipe2: %s",
			    strerror(errno));
			spawnd_child_free(ch);
			break;
		}
		for (n = 0; n < MAX_FILLERS; n++) {
			pid = start(filler, MAX_SLEEPERS + n, p);
			if (pid == -1)
				break;
			fill[n] = pid;
			if (pid == dead)
				reused++;
		}
		if ((uint64_t)n > maxfill)
			maxfill = (uint64_t)n;

		/* Through the daemon, which has forgotten the child. */
		kills++;
		r = spawnd_child_kill(ch, SIGTERM, SPAWND_KILL_GROUP);
		if (r == -ESRCH)
			esrch++;
		else if (other++ < 5)
			tl_log("iteration %d: group kill of dead %d: %s", it,
			    (int)dead, r == 0 ? "sent" : strerror(-r));
		if (spawnd_child_wait(ch, tl_scale(5000), &ex) != 0 ||
		    ex.status != 0)
			tl_fail(__FILE__, __LINE__, "iteration %d: no exit "
			    "record", it);
		/* Through the library, which knows it exited. */
		kills++;
		r = spawnd_child_kill(ch, SIGTERM, 0);
		if (r == -ESRCH)
			esrch++;
		else if (other++ < 5)
			tl_log("iteration %d: kill of dead %d: %s", it,
			    (int)dead, r == 0 ? "sent" : strerror(-r));
		/* Through the pidfd, straight to the kernel. */
		kills++;
		if (syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, NULL, 0) ==
		    -1 && errno == ESRCH)
			esrch++;
		else if (other++ < 5)
			tl_log("iteration %d: pidfd kill of dead %d: %s", it,
			    (int)dead, strerror(errno));
		spawnd_child_free(ch);

		/* Let the fillers go: each must exit 0, unsignalled. */
		close(p[1]);
		for (i = 0; i < n; i++) {
			if (reap(fill[i], &st) != 0 || !WIFEXITED(st) ||
			    WEXITSTATUS(st) != 0) {
				if (badfill++ < 5)
					tl_log("filler %d: status 0x%x",
					    (int)fill[i], st);
			}
		}
		close(p[0]);
		if (badfill > 0)
			break;
	}

	tl_log("%d iterations in %.1f s: %llu kills, %llu ESRCH, dead pid "
	    "reused %llu times, up to %llu fillers, %llu fillers signalled",
	    it, (double)(tl_now_ms() - t0) / 1000, (unsigned long long)kills,
	    (unsigned long long)esrch, (unsigned long long)reused,
	    (unsigned long long)maxfill, (unsigned long long)badfill);
	CHECK(it >= (tl_valgrind() ? 100 : 1000));
	CHECK_INT(esrch, ==, kills);
	CHECK_INT(reused, ==, (uint64_t)it);
	CHECK_INT(badfill, ==, 0);
out:
	/* Every sleeper alive, then dead of our SIGKILL only. */
	n = 0;
	for (i = 0; i < nsleepers; i++) {
		if (waitpid(sleepers[i], &st, WNOHANG) != 0) {
			if (n++ < 5)
				tl_fail(__FILE__, __LINE__, "sleeper %d died: "
				    "status 0x%x", (int)sleepers[i], st);
			continue;
		}
		(void)kill(sleepers[i], SIGKILL);
		if (reap(sleepers[i], &st) != 0 ||
		    !WIFSIGNALED(st) || WTERMSIG(st) != SIGKILL) {
			if (n++ < 5)
				tl_fail(__FILE__, __LINE__, "sleeper %d: "
				    "status 0x%x", (int)sleepers[i], st);
		}
	}
	if (nsleepers > 0)
		tl_log("%d sleepers checked, %d were hit", nsleepers, n);
	CHECK_INT(n, ==, 0);
	spawnd_req_free(req);
	spawnd_client_free(c);
	tl_stop(&d);
	return tl_exit();
}

/*
 * Can this machine run a program in a new pid namespace with its own
 * /proc at all?  Not in a chroot whose / is not a mount point ("cannot
 * change root filesystem propagation"), nor in a container without
 * CAP_SYS_ADMIN: 0 if it can, else -1 with the reason said (a skip).
 */
static int
unshare_works(const char *unshare)
{
	char	 out[1024], *nl;
	ssize_t	 n;
	size_t	 len = 0;
	pid_t	 pid;
	int	 p[2], st;

	if (pipe2(p, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == 0) {
		(void)dup2(p[1], 1);
		(void)dup2(p[1], 2);
		execl(unshare, unshare, "--pid", "--fork", "--mount-proc",
		    "--", "true", (char *)NULL);
		_exit(127);
	}
	(void)close(p[1]);
	while (pid != -1 && len < sizeof out - 1 &&
	    (n = read(p[0], out + len, sizeof out - 1 - len)) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			break;
		len += (size_t)n;
	}
	(void)close(p[0]);
	out[len] = '\0';
	if ((nl = strchr(out, '\n')) != NULL)
		*nl = '\0';
	if (pid == -1 || waitpid(pid, &st, 0) != pid)
		return -1;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	fprintf(stderr, "unshare --pid --fork --mount-proc cannot work here "
	    "(%s): skipping\n", out[0] != '\0' ? out : "no message");
	return -1;
}

/*
 * Runs ourselves with --inner under unshare as pid 1 of a new pid
 * namespace with its own /proc, and returns its exit code.
 */
static int
outer(char **argv)
{
	char		 self[PATH_MAX], unshare[PATH_MAX], help[8192];
	char		*uargv[8];
	FILE		*fp;
	size_t		 n;
	ssize_t		 len;
	uint64_t	 end;
	pid_t		 pid;
	int		 st;

	(void)argv;
	if (geteuid() != 0) {
		fprintf(stderr, "not root: skipping\n");
		return TL_SKIP;
	}
	if (tl_which("unshare", unshare, sizeof unshare) != 0) {
		fprintf(stderr, "no unshare: skipping\n");
		return TL_SKIP;
	}
	if ((fp = popen("unshare --help 2>&1", "r")) == NULL)
		return TL_SKIP;
	n = fread(help, 1, sizeof help - 1, fp);
	help[n] = '\0';
	(void)pclose(fp);
	if (strstr(help, "--pid") == NULL || strstr(help, "--fork") == NULL ||
	    strstr(help, "--mount-proc") == NULL) {
		fprintf(stderr, "unshare lacks --pid/--fork/--mount-proc: "
		    "skipping\n");
		return TL_SKIP;
	}
	if (unshare_works(unshare) != 0)
		return TL_SKIP;
	if ((len = readlink("/proc/self/exe", self, sizeof self - 1)) < 0)
		return 1;
	self[len] = '\0';
	uargv[0] = unshare;
	uargv[1] = TL_UNCONST("--pid");
	uargv[2] = TL_UNCONST("--fork");
	uargv[3] = TL_UNCONST("--mount-proc");
	uargv[4] = TL_UNCONST("--");
	uargv[5] = self;
	uargv[6] = TL_UNCONST("--inner");
	uargv[7] = NULL;
	/*
	 * Killed (by the runner's timeout), we take unshare with us, and it
	 * the inner test (PR_SET_PDEATHSIG there too): the namespace dies.
	 */
	if ((pid = fork()) == 0) {
		(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
		execv(unshare, uargv);
		_exit(127);
	}
	if (pid == -1)
		return 1;
	end = tl_now_ms() + 100000;
	while (waitpid(pid, &st, WNOHANG) == 0) {
		if (tl_now_ms() > end) {
			fprintf(stderr, "inner test still running after "
			    "100 s: killing it\n");
			(void)kill(pid, SIGKILL);
			(void)waitpid(pid, &st, 0);
			return 1;
		}
		tl_sleep_ms(50);
	}
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	fprintf(stderr, "unshare: status 0x%x\n", st);
	return 1;
}

int
main(int argc, char *argv[])
{
	signal(SIGPIPE, SIG_IGN);
	if (argc > 1 && strcmp(argv[1], "--inner") == 0)
		return inner();
	return outer(argv);
}
