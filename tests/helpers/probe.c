/*
 * probe: a child that reports its own process state, for the tests that
 * check a spawn request field by field against what the child got.
 *
 *	probe [-qr] [-o fd] [-x code] [-k sig] [-s ms] [-b ms] [-m kib]
 *	    [-T] [-t file] [-w file] [-g n] [--] [arg...]
 *
 * The report is "key=value" lines written to fd 1 (-o: another fd),
 * ending with "end=1", so that a reader sharing the pipe with other
 * writers knows where it stops.  Keys, in this order:
 *
 *	fds			the open fds, comma-separated
 *	fd.N.cloexec		0/1
 *	fd.N.mode		r, w, rw or path (O_ACCMODE, O_PATH)
 *	fd.N.fl			F_GETFL without the access mode and
 *				O_LARGEFILE, hex
 *	fd.N.target		readlink /proc/self/fd/N
 *	fd.N.fg_is_pgrp		a terminal: tcgetpgrp() == getpgrp()
 *	argc, argv.I		the arguments, argv[0] included
 *	exe			readlink /proc/self/exe
 *	pid ppid sid pgid	and pgid_is_pid, sid_is_pid (0/1)
 *	tty_nr tpgid		from /proc/self/stat: the controlling
 *				terminal's device (0: none) and its
 *				foreground group (-1: none)
 *	ruid euid suid rgid egid sgid
 *	cwd			getcwd
 *	umask			octal, from /proc/self/status
 *	nice			getpriority
 *	sched.policy sched.priority
 *	sig.blk sig.ign sig.cgt	hex, from /proc/self/status
 *	sig.N			dfl, ign or hdl, N = 1..64 (rt_sigaction)
 *	rlimit.N		cur:max ("inf" for RLIM_INFINITY), N = 0..15
 *	envc, env.I		the environment, in order
 *	grandchild.I		pids of the -g grandchildren
 *	end			1
 *
 * The state is read before the probe changes anything (its own fds are
 * left out).  Then, in this order: -T/-t/-w install their SIGTERM
 * disposition, -g forks grandchildren, the report is written, -b and -m
 * run, the report fd is closed, -r waits, -s sleeps, -k raises a signal,
 * and the probe exits with -x's code (default 0).
 *
 *	-q	no report (grandchild lines and "end" are still written)
 *	-r	read fd 0 until end of file (or an error) before going on
 *	-T	ignore SIGTERM
 *	-t file	on SIGTERM append "TERM <pid>\n" to file and _exit(0)
 *	-w file	on SIGTERM append "TERM <pid>\n" to file, carry on
 *	-g n	fork n grandchildren (n <= 16) that close every fd and
 *		sleep 60 s (SIGTERM at default), then exit 0
 *	-b ms	spin on the CPU until it has used ms milliseconds of CPU
 *	-m kib	allocate and touch kib KiB
 *	-s ms	sleep ms milliseconds (resumed after a handled signal)
 *
 * Exits 2 on a usage error or when the report cannot be written.
 */

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define PROBE_MAX_FDS		1024
#define PROBE_MAX_GRAND		16
#define PROBE_NSIG		64
#define PROBE_NRLIMIT		16
#define PROBE_OUT_SIZE		(1024 * 1024)

/* The kernel's O_LARGEFILE, set on every file a 64-bit process opens. */
#if defined(__aarch64__) || defined(__arm__) || defined(__powerpc__)
#define PROBE_O_LARGEFILE	0400000
#else
#define PROBE_O_LARGEFILE	0100000
#endif

struct kernel_sigaction {
	void		*handler;
	unsigned long	 flags;
	void		*restorer;
	uint64_t	 mask;
};

/*
 * Built with sanitizers (make asan), the probe must still report the
 * state it was given: no deadly-signal handlers of the runtime's, no
 * RLIMIT_CORE lowered to 0, and no leak report turning its exit code to 1.
 */
const char	*__asan_default_options(void)
		    __attribute__((__visibility__("default")));
const char	*__ubsan_default_options(void)
		    __attribute__((__visibility__("default")));

const char *
__asan_default_options(void)
{
	return "handle_segv=0:handle_sigbus=0:handle_sigfpe=0:"
	    "disable_coredump=0:detect_leaks=0";
}

const char *
__ubsan_default_options(void)
{
	return "handle_segv=0:handle_sigbus=0:handle_sigfpe=0";
}

static char		*out;
static size_t		 outlen;
static int		 overflow;
static const char	*marker;
static int		 marker_exit;

static void	 put(const char *, ...)
		    __attribute__((__format__(__printf__, 1, 2)));
static int	 cmp_int(const void *, const void *);
static void	 report_stat(void);
static void	 report_ids(void);
static void	 report_status(void);
static void	 report_signals(void);
static void	 report_rlimits(void);
static void	 report_fds(void);
static void	 on_term(int);
static void	 grandchild(void);
static uint64_t	 now_ms(void);
static void	 sleep_ms(long);
static void	 spin_ms(long);
static void	 touch_kib(long);
static long	 num(const char *, long, long);
static void	 usage(void);

static void
put(const char *fmt, ...)
{
	va_list	ap;
	int	n;

	if (overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(out + outlen, PROBE_OUT_SIZE - outlen, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= PROBE_OUT_SIZE - outlen) {
		overflow = 1;
		return;
	}
	outlen += (size_t)n;
}

static int
cmp_int(const void *a, const void *b)
{
	int	x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/* Fields 7 and 8 of /proc/self/stat, after the ") " of the name. */
static void
report_stat(void)
{
	char	 buf[1024], *p;
	ssize_t	 n;
	int	 fd, tty = -1, tpgid = -2;

	if ((fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, buf, sizeof buf - 1);
		buf[n < 0 ? 0 : n] = '\0';
		(void)close(fd);
		if ((p = strrchr(buf, ')')) != NULL)
			(void)sscanf(p, ") %*c %*d %*d %*d %d %d", &tty,
			    &tpgid);
	}
	put("tty_nr=%d\ntpgid=%d\n", tty, tpgid);
}

static void
report_ids(void)
{
	struct sched_param	sp;
	uid_t			ru, eu, su;
	gid_t			rg, eg, sg;
	char			buf[PATH_MAX];
	ssize_t			n;
	pid_t			pid = getpid();
	int			prio;

	n = readlink("/proc/self/exe", buf, sizeof buf - 1);
	buf[n < 0 ? 0 : n] = '\0';
	put("exe=%s\n", buf);
	put("pid=%d\nppid=%d\nsid=%d\npgid=%d\n", (int)pid, (int)getppid(),
	    (int)getsid(0), (int)getpgrp());
	put("pgid_is_pid=%d\nsid_is_pid=%d\n", getpgrp() == pid,
	    getsid(0) == pid);
	report_stat();
	(void)getresuid(&ru, &eu, &su);
	(void)getresgid(&rg, &eg, &sg);
	put("ruid=%u\neuid=%u\nsuid=%u\nrgid=%u\negid=%u\nsgid=%u\n",
	    (unsigned)ru, (unsigned)eu, (unsigned)su, (unsigned)rg,
	    (unsigned)eg, (unsigned)sg);
	if (getcwd(buf, sizeof buf) == NULL)
		snprintf(buf, sizeof buf, "(error %d)", errno);
	put("cwd=%s\n", buf);
	errno = 0;
	prio = getpriority(PRIO_PROCESS, 0);
	put("nice=%d\n", errno != 0 ? 999 : prio);
	if (sched_getparam(0, &sp) == -1)
		sp.sched_priority = -1;
	put("sched.policy=%d\nsched.priority=%d\n", sched_getscheduler(0),
	    sp.sched_priority);
}

/* Umask and the signal sets, as the kernel shows them. */
static void
report_status(void)
{
	static const char *const keys[][2] = {
		{ "Umask:\t", "umask" }, { "SigBlk:\t", "sig.blk" },
		{ "SigIgn:\t", "sig.ign" }, { "SigCgt:\t", "sig.cgt" },
	};
	char		 buf[8192], *p, *e;
	ssize_t		 n;
	size_t		 len = 0, k;
	int		 fd;

	if ((fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC)) != -1) {
		while (len < sizeof buf - 1 &&
		    (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
			len += (size_t)n;
		(void)close(fd);
	}
	buf[len] = '\0';
	for (k = 0; k < sizeof keys / sizeof keys[0]; k++) {
		if ((p = strstr(buf, keys[k][0])) == NULL) {
			put("%s=?\n", keys[k][1]);
			continue;
		}
		p += strlen(keys[k][0]);
		e = strchrnul(p, '\n');
		put("%s=%.*s\n", keys[k][1], (int)(e - p), p);
	}
}

/* Raw rt_sigaction: glibc refuses signals 32 and 33. */
static void
report_signals(void)
{
	struct kernel_sigaction	ksa;
	int			sig;

	for (sig = 1; sig <= PROBE_NSIG; sig++) {
		memset(&ksa, 0, sizeof ksa);
		if (syscall(SYS_rt_sigaction, sig, NULL, &ksa,
		    sizeof ksa.mask) == -1)
			put("sig.%d=err%d\n", sig, errno);
		else if (ksa.handler == (void *)SIG_DFL)
			put("sig.%d=dfl\n", sig);
		else if (ksa.handler == (void *)SIG_IGN)
			put("sig.%d=ign\n", sig);
		else
			put("sig.%d=hdl\n", sig);
	}
}

static void
report_rlimits(void)
{
	struct rlimit	rl;
	char		cur[32], max[32];
	int		r;

	for (r = 0; r < PROBE_NRLIMIT; r++) {
		if (getrlimit(r, &rl) == -1) {
			put("rlimit.%d=err%d\n", r, errno);
			continue;
		}
		if (rl.rlim_cur == RLIM_INFINITY)
			snprintf(cur, sizeof cur, "inf");
		else
			snprintf(cur, sizeof cur, "%llu",
			    (unsigned long long)rl.rlim_cur);
		if (rl.rlim_max == RLIM_INFINITY)
			snprintf(max, sizeof max, "inf");
		else
			snprintf(max, sizeof max, "%llu",
			    (unsigned long long)rl.rlim_max);
		put("rlimit.%d=%s:%s\n", r, cur, max);
	}
}

/*
 * The fd table, read first: the directory fd we read it through is left
 * out, and nothing else of ours is open yet.
 */
static void
report_fds(void)
{
	static int	 fds[PROBE_MAX_FDS];
	char		 dbuf[4096], path[64], target[PATH_MAX];
	size_t		 nfds = 0, i;
	ssize_t		 n, off, len;
	int		 dfd, fd, fdfl, fl;
	const char	*mode;

	if ((dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		put("fds=?\n");
		return;
	}
	while ((n = syscall(SYS_getdents64, dfd, dbuf, sizeof dbuf)) > 0) {
		for (off = 0; off < n; off += len) {
			const char	*name = dbuf + off + 19;

			len = *(unsigned short *)(void *)(dbuf + off + 16);
			if (name[0] < '0' || name[0] > '9')
				continue;
			fd = atoi(name);
			if (fd != dfd && nfds < PROBE_MAX_FDS)
				fds[nfds++] = fd;
		}
	}
	(void)close(dfd);
	qsort(fds, nfds, sizeof *fds, cmp_int);
	put("fds=");
	for (i = 0; i < nfds; i++)
		put("%s%d", i ? "," : "", fds[i]);
	put("\n");
	for (i = 0; i < nfds; i++) {
		fd = fds[i];
		fdfl = fcntl(fd, F_GETFD);
		fl = fcntl(fd, F_GETFL);
		if (fl != -1 && (fl & O_PATH))
			mode = "path";
		else if (fl == -1)
			mode = "?";
		else if ((fl & O_ACCMODE) == O_RDONLY)
			mode = "r";
		else if ((fl & O_ACCMODE) == O_WRONLY)
			mode = "w";
		else
			mode = "rw";
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		n = readlink(path, target, sizeof target - 1);
		target[n < 0 ? 0 : n] = '\0';
		put("fd.%d.cloexec=%d\n", fd, fdfl == -1 ? -1 :
		    (fdfl & FD_CLOEXEC) != 0);
		put("fd.%d.mode=%s\n", fd, mode);
		put("fd.%d.fl=%x\n", fd, fl == -1 ? 0 :
		    (unsigned)(fl & ~(O_ACCMODE | PROBE_O_LARGEFILE)));
		put("fd.%d.target=%s\n", fd, target);
		if (isatty(fd))
			put("fd.%d.fg_is_pgrp=%d\n", fd,
			    tcgetpgrp(fd) == getpgrp());
	}
}

/* Async-signal-safe: open, write, close, _exit. */
static void
on_term(int sig)
{
	char	buf[32];
	int	fd, n, saved = errno;
	pid_t	pid = getpid();
	char	digits[16];
	int	nd = 0;

	(void)sig;
	memcpy(buf, "TERM ", 5);
	n = 5;
	do {
		digits[nd++] = (char)('0' + pid % 10);
		pid /= 10;
	} while (pid > 0);
	while (nd > 0)
		buf[n++] = digits[--nd];
	buf[n++] = '\n';
	fd = open(marker, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd != -1) {
		(void)!write(fd, buf, (size_t)n);
		(void)close(fd);
	}
	if (marker_exit)
		_exit(0);
	errno = saved;
}

/* A grandchild: no fds (no reader waits on it), TERM at default. */
static void
grandchild(void)
{
	sigset_t	set;

	(void)signal(SIGTERM, SIG_DFL);
	sigemptyset(&set);
	(void)sigprocmask(SIG_SETMASK, &set, NULL);
	(void)syscall(SYS_close_range, 0U, ~0U, 0U);
	sleep_ms(60000);
	_exit(0);
}

static uint64_t
now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
sleep_ms(long ms)
{
	uint64_t	end = now_ms() + (uint64_t)ms, t;
	struct timespec	ts;

	while ((t = now_ms()) < end) {
		ts.tv_sec = (time_t)((end - t) / 1000);
		ts.tv_nsec = (long)((end - t) % 1000) * 1000000;
		(void)nanosleep(&ts, NULL);
	}
}

/*
 * CPU time, not wall time: on a loaded machine the spin takes longer but
 * the child still has used ms of CPU when it ends (test-lifetime checks
 * the exit record's utime).
 */
static void
spin_ms(long ms)
{
	struct timespec		ts;
	volatile uint64_t	x = 0;
	uint64_t		used;

	do {
		/* Mostly user time: the clock is a system call. */
		for (x = 0; x < 1000000; x++)
			;
		if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == -1)
			return;
		used = (uint64_t)ts.tv_sec * 1000 +
		    (uint64_t)ts.tv_nsec / 1000000;
	} while (used < (uint64_t)ms);
}

static void
touch_kib(long kib)
{
	volatile char	*p;
	size_t		 len = (size_t)kib * 1024, i;

	if ((p = malloc(len)) == NULL)
		return;
	for (i = 0; i < len; i += 4096)
		p[i] = 1;
}

static long
num(const char *s, long min, long max)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || v < min || v > max)
		usage();
	return v;
}

static void
usage(void)
{
	static const char	msg[] = "usage: probe [-qr] [-o fd] "
				    "[-x code] [-k sig] [-s ms] [-b ms] "
				    "[-m kib] [-T] [-t file] [-w file] [-g n] "
				    "[arg...]\n";

	(void)!write(2, msg, sizeof msg - 1);
	_exit(2);
}

int
main(int argc, char *argv[])
{
	extern char	**environ;
	pid_t		  grand[PROBE_MAX_GRAND];
	long		  ofd = 1, code = 0, sig = 0, sleep = 0, busy = 0;
	long		  mem = 0, ngrand = 0, i;
	int		  quiet = 0, term = 0, ch, wait_eof = 0;
	size_t		  off;
	ssize_t		  n;

	if ((out = malloc(PROBE_OUT_SIZE)) == NULL)
		return 2;
	/* First, while nothing of ours is open. */
	report_fds();
	put("argc=%d\n", argc);
	for (i = 0; i < argc; i++)
		put("argv.%ld=%s\n", i, argv[i]);
	report_ids();
	report_status();
	report_signals();
	report_rlimits();
	for (i = 0; environ[i] != NULL; i++)
		;
	put("envc=%ld\n", i);
	for (i = 0; environ[i] != NULL; i++)
		put("env.%ld=%s\n", i, environ[i]);

	while ((ch = getopt(argc, argv, "+qro:x:k:s:b:m:Tt:w:g:")) != -1) {
		switch (ch) {
		case 'q':
			quiet = 1;
			break;
		case 'r':
			wait_eof = 1;
			break;
		case 'o':
			ofd = num(optarg, 0, INT_MAX);
			break;
		case 'x':
			code = num(optarg, 0, 255);
			break;
		case 'k':
			sig = num(optarg, 1, PROBE_NSIG);
			break;
		case 's':
			sleep = num(optarg, 0, 3600000);
			break;
		case 'b':
			busy = num(optarg, 0, 3600000);
			break;
		case 'm':
			mem = num(optarg, 0, 4L << 20);
			break;
		case 'T':
			term = 'T';
			break;
		case 't':
		case 'w':
			term = ch;
			marker = optarg;
			marker_exit = ch == 't';
			break;
		case 'g':
			ngrand = num(optarg, 0, PROBE_MAX_GRAND);
			break;
		default:
			usage();
		}
	}
	if (quiet)
		outlen = 0;
	if (term == 'T')
		(void)signal(SIGTERM, SIG_IGN);
	else if (term != 0) {
		struct sigaction	sa;

		memset(&sa, 0, sizeof sa);
		sa.sa_handler = on_term;
		(void)sigaction(SIGTERM, &sa, NULL);
	}
	for (i = 0; i < ngrand; i++) {
		if ((grand[i] = fork()) == -1)
			return 2;
		if (grand[i] == 0)
			grandchild();
		put("grandchild.%ld=%d\n", i, (int)grand[i]);
	}
	put("end=1\n");
	if (overflow)
		return 2;
	for (off = 0; off < outlen; off += (size_t)n) {
		n = write((int)ofd, out + off, outlen - off);
		if (n == -1 && errno == EINTR) {
			n = 0;
			continue;
		}
		if (n <= 0)
			return 2;
	}
	if (busy > 0)
		spin_ms(busy);
	if (mem > 0)
		touch_kib(mem);
	(void)close((int)ofd);
	if (wait_eof) {
		char	c;

		while ((n = read(0, &c, 1)) == 1 || (n == -1 && errno == EINTR))
			;
	}
	if (sleep > 0)
		sleep_ms(sleep);
	if (sig != 0) {
		sigset_t	set;

		(void)signal((int)sig, SIG_DFL);
		sigemptyset(&set);
		sigaddset(&set, (int)sig);
		(void)sigprocmask(SIG_UNBLOCK, &set, NULL);
		(void)raise((int)sig);
	}
	return (int)code;
}
