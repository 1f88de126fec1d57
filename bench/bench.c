/*
 * bench: spawnd against direct spawning and the known workarounds
 * (issue 6).  One program; the workload and its knobs come from flags, and
 * every measurement appends rows to a CSV.  "bench report CSV" turns the
 * rows of one run into the tables and the targets section.  bench/run.sh
 * runs it all against a private daemon (make bench).
 *
 * Each measuring workload runs in its own process, so that one workload's
 * memory (1 GiB in "bigmem", 1000 connections in "footprint") cannot
 * colour another's figures.  Absolute times on a shared 2-CPU VM drift, so
 * every figure is compared with its baseline from the same run, and modes
 * are interleaved: spawn by spawn in the latency workloads (1 and 4), run
 * by run, repetitions outermost, in the others.
 *
 * CSV rows: workload,case,mode,threads,metric,unit,median,min,max,sum,n
 * where median/min/max are over the n repetitions and sum is their total
 * (meaningful for counts).
 */

#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <linux/perf_event.h>

#include "spawnd.h"

#define MAX_TARGETS		4
#define MAX_THREADS		256
#define MAX_REPS		64
#define CONNECT_MS		10000
#define COUNT_ROUNDS		50	/* counted per rep, workload 1 */
#define WTE_RETRY_MAX		200	/* then the spawn counts as failed */
#define WTE_BACKOFF_US		50	/* first sleep after ETXTBSY */
#define WTE_BACKOFF_MAX_US	5000

/* Ways to spawn one program and wait for it. */
enum mode {
	M_FORK,			/* fork + execve + waitpid */
	M_VFORK,		/* vfork + execve + waitpid */
	M_POSIX,		/* glibc posix_spawn + waitpid */
	M_SPAWND,		/* handle API, one connection reused */
	M_SPAWND_POSIX,		/* spawnd_posix_spawn + spawnd_waitpid */
	M_PING,			/* control: a round trip to the daemon, no spawn */
	M_COUNT
};
static const char *const mode_names[M_COUNT] = {
	"fork", "vfork", "posix_spawn", "spawnd", "spawnd_posix", "ping"
};
#define SPAWND_MODE(m)	((m) == M_SPAWND || (m) == M_SPAWND_POSIX)
#define CLIENT_MODE(m)	((m) == M_SPAWND || (m) == M_PING)

/* Ways to survive the multithreaded write-then-exec workload. */
enum wmode {
	W_NATIVE,		/* posix_spawn, nothing else */
	W_MUTEX,		/* one mutex over open..write..close..spawn */
	W_RETRY,		/* posix_spawn again on ETXTBSY, with backoff */
	W_FORKLOCK,		/* RW "fork lock": fds shared, spawns exclusive */
	W_SPAWND,		/* handle API by path */
	W_SPAWND_FD,		/* handle API, exec of a read-only fd */
	W_COUNT
};
static const char *const wmode_names[W_COUNT] = {
	"native", "mutex", "retry", "forklock", "spawnd", "spawnd_fd"
};

struct target {
	char			 name[32];
	char			 path[PATH_MAX];
};

struct opts {
	const char		*sock;
	const char		*csv;
	const char		*dir;		/* write-exec files */
	const char		*elf;		/* write-exec ELF variant */
	const char		*part;		/* footprint: conns|children */
	struct target		 targets[MAX_TARGETS];
	int			 ntargets;
	unsigned int		 modes;		/* bit per mode/wmode */
	int			 threads[8];
	int			 nthreads;
	int			 reps;
	int			 n;		/* spawns per rep */
	int			 rounds;	/* write-exec: per thread */
	int			 count;		/* footprint: conns/children */
	double			 secs;		/* throughput: per run */
	size_t			 mib;		/* bigmem */
	int			 variants;	/* bit 0 script, bit 1 elf */
	int			 quiet;
};

/* Daemon CPU accounting for workload 6. */
struct cpu {
	uint64_t		 ticks;		/* utime + stime, clock ticks */
	uint64_t		 ns;		/* schedstat run time */
};
struct svc {
	uint64_t		 ticks;
	uint64_t		 ns;
	uint64_t		 spawns;
};

/*
 * Counts per spawn+wait that do not depend on the machine's speed: system
 * calls (the raw_syscalls:sys_enter tracepoint, counted by the kernel for
 * one task, or for a task and the children it makes after), context
 * switches and the caller's minor faults.
 */
enum cnt {
	K_SYS_DAEMON,		/* the daemon's own system calls */
	K_SYS_CLIENT,		/* the calling thread's */
	K_SYS_CHILD,		/* the child's: set-up, exec, the target */
	K_VCS_DAEMON,		/* voluntary context switches: wake-ups */
	K_ICS_DAEMON,		/* involuntary: preempted */
	K_VCS_CLIENT,
	K_ICS_CLIENT,
	K_FLT_CLIENT,		/* minor faults of the calling thread */
	K_COUNT
};
static const char *const cnt_names[K_COUNT] = {
	"sys_daemon", "sys_client", "sys_child", "vcs_daemon", "ics_daemon",
	"vcs_client", "ics_client", "minflt_client"
};

/* The counters' file descriptors; -1 where they could not be had. */
struct counters {
	int			 dsys;		/* daemon, no inherit */
	int			 dsysi;		/* and its children */
	int			 dstatus;	/* /proc/DAEMON/status */
	int			 dsyscall;	/* /proc/DAEMON/syscall */
	int			 csys;		/* this thread */
	int			 csysi;		/* and its children */
	double			 base[K_COUNT];	/* an empty window's counts */
	int			 passes;	/* counted passes made */
};

/* Per thread: how it spawns, and what it measured. */
struct ctx {
	int			 mode;
	int			 id;
	const char		*path;
	char			*argv[2];
	struct spawnd_client	*client;
	struct spawnd_req	*req;
	double			*lat;		/* microseconds */
	size_t			 nlat;
	size_t			 caplat;
	unsigned long		 ok;
	unsigned long		 errors;
	unsigned long		 etxtbsy;
	int			 last_error;
	/* write-exec */
	char			 file[PATH_MAX];
	const void		*content;
	size_t			 content_len;
	int			 rounds;
};

static const struct opts *O;
static FILE		*csv_out;
static pid_t		 daemon_pid;
static long		 clk_tck;
static pthread_barrier_t barrier;
static atomic_int	 stop_flag;
static pthread_mutex_t	 wte_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_rwlock_t	 wte_forklock;

static void	usage(void) __attribute__((noreturn));
static void	die(const char *, ...)
		    __attribute__((format(printf, 1, 2), noreturn));
static void	note(const char *, ...) __attribute__((format(printf, 1, 2)));
static double	now_us(void);
static int	cmp_double(const void *, const void *);
static double	pct_sorted(const double *, size_t, double);
static void	row(int, const char *, const char *, int, const char *,
		    const char *, const double *, int);
static void	lat_push(struct ctx *, double);
static int	status_error(int);
static pid_t	do_vfork(const char *, char *const[]);
static int	spawnd_once(struct ctx *);
static int	spawn_wait(struct ctx *);
static int	ctx_init(struct ctx *, int, const char *, int);
static void	ctx_free(struct ctx *);
static void	raise_nofile(void);
static pid_t	find_daemon(void);
static int	daemon_cpu(struct cpu *);
static void	svc_add(struct svc *, const struct cpu *, const struct cpu *,
		    uint64_t);
static void	svc_rows(const char *, const struct svc *, int);
static int	pc_open(pid_t, int);
static int	cnt_open(struct counters *);
static void	cnt_close(struct counters *);
static void	cnt_read(const struct counters *, double *, int);
static void	cnt_calibrate(struct counters *);
struct lat;
static void	lat_open(struct lat *, const char *);
static void	lat_rounds(struct lat *, int, struct svc *);
static void	lat_one(struct lat *, int, struct svc *);
static void	lat_close(struct lat *, double *, double *,
		    double (*)[K_COUNT]);
static void	lat_rep(const char *, int, double *, double *,
		    double (*)[K_COUNT], struct counters *, struct svc *);
static double	thread_cpu_us(void);
static void	w_latency(void);
static void	*tput_worker(void *);
static int	tput_run(int, const char *, int, double *, double *,
		    double *, struct svc *);
static void	w_throughput(void);
static int	wte_write(struct ctx *);
static int	wte_round(struct ctx *);
static void	*wte_worker(void *);
static int	wte_run(int, int, const void *, size_t, double *,
		    unsigned long *, unsigned long *);
static void	*slurp(const char *, size_t *);
static void	w_write_exec(void);
static void	xfer(int, void *, size_t, int);
static void	big_client(int, int, const char *, int, int)
		    __attribute__((noreturn));
static void	w_bigmem(void);
static int	smaps(pid_t, long *, long *);
static int	wait_counts(struct spawnd_client *, unsigned int, unsigned int,
		    int);
static void	w_footprint(void);
static unsigned int parse_names(const char *, const char *const *, int);
static int	report(const char *);

static void
usage(void)
{
	fprintf(stderr,
"usage: bench [options] latency|throughput|write-exec|bigmem|footprint\n"
"       bench report CSV\n"
"\n"
"  -s PATH     daemon socket (default: $SPAWND_SOCKET, as libspawnd finds it)\n"
"  -o CSV      append result rows to CSV (default: stdout)\n"
"  -t NAME=PATH  a target program (repeatable; default true=/bin/true)\n"
"  -m MODES    comma list: fork,vfork,posix_spawn,spawnd,spawnd_posix,ping\n"
"              (a round trip, no spawn; default in bigmem only) or,\n"
"              for write-exec, native,mutex,retry,forklock,spawnd,spawnd_fd\n"
"  -r REPS     repetitions (5)       -n N      spawns per repetition (500)\n"
"  -T LIST     thread counts (1,4,20)   -d SECS  per throughput run (2)\n"
"  -R ROUNDS   write-exec rounds per thread (100)\n"
"  -V LIST     write-exec variants: script,elf (both)\n"
"  -e PATH     the ELF copied by the elf variant   -D DIR  its work directory\n"
"  -M MIB      bigmem heap (1024)\n"
"  -P PART     footprint: conns or children   -N COUNT  of them (1000)\n"
"  -q          no progress on stderr\n");
	exit(2);
}

static void
die(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void
note(const char *fmt, ...)
{
	va_list	 ap;

	if (O != NULL && O->quiet)
		return;
	fprintf(stderr, "  ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static double
now_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* CPU time of the calling thread: not of its children, vfork'd or not. */
static double
thread_cpu_us(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int
cmp_double(const void *a, const void *b)
{
	double	 x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The p-th percentile (0..100) of n sorted values, nearest rank. */
static double
pct_sorted(const double *v, size_t n, double p)
{
	size_t	 i;

	if (n == 0)
		return NAN;
	i = (size_t)ceil(p / 100.0 * (double)n);
	if (i > 0)
		i--;
	if (i >= n)
		i = n - 1;
	return v[i];
}

/* One CSV row: the median, min, max and sum of n per-repetition values. */
static void
row(int w, const char *cas, const char *mode, int threads, const char *metric,
    const char *unit, const double *vals, int n)
{
	double	 v[MAX_REPS], sum = 0, med;
	int	 i;

	if (n <= 0)
		return;
	if (n > MAX_REPS)
		n = MAX_REPS;
	for (i = 0; i < n; i++) {
		v[i] = vals[i];
		sum += v[i];
	}
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	fprintf(csv_out, "%d,%s,%s,%d,%s,%s,%.3f,%.3f,%.3f,%.3f,%d\n", w, cas,
	    mode, threads, metric, unit, med, v[0], v[n - 1], sum, n);
	fflush(csv_out);
}

static void
lat_push(struct ctx *c, double us)
{
	double	*n;

	if (c->nlat == c->caplat) {
		c->caplat = c->caplat ? c->caplat * 2 : 4096;
		if ((n = realloc(c->lat, c->caplat * sizeof *n)) == NULL)
			die("out of memory");
		c->lat = n;
	}
	c->lat[c->nlat++] = us;
}

/* 0 for a clean exit; EIO for any other end (counted as an error). */
static int
status_error(int st)
{
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
		return ENOEXEC;
	return EIO;
}

/* vfork in a function of its own: nothing of the caller's frame is live. */
static pid_t
do_vfork(const char *path, char *const argv[])
{
	pid_t	 pid;

	pid = vfork();
	if (pid == 0) {
		execve(path, argv, environ);
		_exit(127);
	}
	return pid;
}

/* Spawns the context's request and waits for the child; 0 or an errno. */
static int
spawnd_once(struct ctx *c)
{
	struct spawnd_child	*ch = NULL;
	struct spawnd_failure	 f;
	struct spawnd_exit	 ex;
	int			 r;

	if ((r = spawnd_spawn(c->client, c->req, &ch, &f)) < 0)
		return -r;
	r = spawnd_child_wait(ch, -1, &ex);
	spawnd_child_free(ch);
	if (r < 0)
		return -r;
	return status_error(ex.status);
}

/* One spawn+wait of c->path in c->mode (an enum mode); 0 or an errno. */
static int
spawn_wait(struct ctx *c)
{
	struct spawnd_status	 ps;
	pid_t			 pid = -1;
	int			 st, r;

	switch (c->mode) {
	case M_FORK:
		if ((pid = fork()) == 0) {
			execve(c->path, c->argv, environ);
			_exit(127);
		}
		if (pid == -1)
			return errno;
		break;
	case M_VFORK:
		if ((pid = do_vfork(c->path, c->argv)) == -1)
			return errno;
		break;
	case M_POSIX:
		if ((r = posix_spawn(&pid, c->path, NULL, NULL, c->argv,
		    environ)) != 0)
			return r;
		break;
	case M_SPAWND:
		return spawnd_once(c);
	case M_PING:
		return (r = spawnd_ping(c->client, -1, &ps)) < 0 ? -r : 0;
	case M_SPAWND_POSIX:
		if ((r = spawnd_posix_spawn(&pid, c->path, NULL, NULL,
		    c->argv, environ)) != 0)
			return r;
		while (spawnd_waitpid(pid, &st, 0) == -1)
			if (errno != EINTR)
				return errno;
		return status_error(st);
	}
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return errno;
	return status_error(st);
}

/*
 * Sets up a thread's context.  A handle-API context gets its own
 * connection and one request, reused for every spawn, with the caller's
 * environment and stdio: what a posix_spawn child starts with.  The
 * request borrows path (argv[0]) for as long as c lives.
 */
static int
ctx_init(struct ctx *c, int mode, const char *path, int spawnd)
{
	static const char *const	 empty[] = { NULL };
	int				 r, fd;

	/* The caller has zeroed c, and may have set c->file. */
	c->mode = mode;
	c->path = path;
	c->argv[0] = (char *)(uintptr_t)path;
	c->argv[1] = NULL;
	if (!spawnd)
		return 0;
	if ((r = spawnd_connect(O->sock, CONNECT_MS, &c->client)) < 0)
		return r;
	if ((r = spawnd_req_new(&c->req)) < 0 ||
	    (r = spawnd_req_set_argv(c->req,
	    (const char *const *)c->argv)) < 0 ||
	    (r = spawnd_req_set_envp(c->req, environ != NULL ?
	    (const char *const *)environ : empty)) < 0)
		return r;
	for (fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) != -1 &&
		    (r = spawnd_req_set_fd(c->req, fd, fd)) < 0)
			return r;
	return 0;
}

static void
ctx_free(struct ctx *c)
{
	spawnd_req_free(c->req);
	spawnd_client_free(c->client);
	free(c->lat);
	c->req = NULL;
	c->client = NULL;
	c->lat = NULL;
	c->nlat = c->caplat = 0;
}

static void
raise_nofile(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* The daemon's pid, from a ping; 0 if it cannot be read from /proc. */
static pid_t
find_daemon(void)
{
	struct spawnd_client	*c;
	struct spawnd_status	 st;
	char			 p[64];
	int			 r;

	if ((r = spawnd_connect(O->sock, CONNECT_MS, &c)) < 0)
		die("cannot connect to the daemon: %s", strerror(-r));
	r = spawnd_ping(c, CONNECT_MS, &st);
	spawnd_client_free(c);
	if (r < 0)
		die("ping: %s", strerror(-r));
	snprintf(p, sizeof p, "/proc/%d/stat", (int)st.pid);
	if (access(p, R_OK) != 0) {
		note("daemon pid %d not visible in /proc: no CPU figures",
		    (int)st.pid);
		return 0;
	}
	return st.pid;
}

/* The daemon's CPU time so far: utime+stime, and schedstat's run time. */
static int
daemon_cpu(struct cpu *ret)
{
	char			 p[64], buf[1024], *s;
	FILE			*f;
	unsigned long long	 ut, st, ns = 0;
	int			 i;

	memset(ret, 0, sizeof *ret);
	if (daemon_pid <= 0)
		return -1;
	snprintf(p, sizeof p, "/proc/%d/stat", (int)daemon_pid);
	if ((f = fopen(p, "re")) == NULL)
		return -1;
	s = fgets(buf, sizeof buf, f);
	fclose(f);
	if (s == NULL || (s = strrchr(buf, ')')) == NULL)
		return -1;
	/* After "pid (comm)": field 3 is the state; utime is 14, stime 15. */
	s += 2;
	for (i = 3; i < 14 && s != NULL; i++)
		if ((s = strchr(s, ' ')) != NULL)
			s++;
	if (s == NULL || sscanf(s, "%llu %llu", &ut, &st) != 2)
		return -1;
	ret->ticks = ut + st;
	snprintf(p, sizeof p, "/proc/%d/schedstat", (int)daemon_pid);
	if ((f = fopen(p, "re")) != NULL) {
		if (fscanf(f, "%llu", &ns) != 1)
			ns = 0;
		fclose(f);
	}
	ret->ns = ns;
	return 0;
}

static void
svc_add(struct svc *s, const struct cpu *a, const struct cpu *b,
    uint64_t spawns)
{
	s->ticks += b->ticks - a->ticks;
	s->ns += b->ns - a->ns;
	s->spawns += spawns;
}

/*
 * Workload 6 rows.  svc[m] holds the daemon's CPU over the windows of mode
 * m's spawns; svc[M_COUNT] that of every spawnd spawn of the workload,
 * whose utime+stime is the figure the target is judged on.  schedstat's
 * run time (ns) is exact even for one spawn; utime+stime only counts in
 * clock ticks, so it is given per mode only when windows are long.
 */
static void
svc_rows(const char *cas, const struct svc *s, int per_mode_stat)
{
	double	 v;
	int	 m;

	if (daemon_pid <= 0)
		return;
	for (m = 0; m < M_COUNT; m++) {
		if (s[m].spawns == 0)
			continue;
		v = (double)s[m].ns / 1e3 / (double)s[m].spawns;
		row(6, cas, mode_names[m], 0, "service_sched", "us", &v, 1);
		if (per_mode_stat) {
			v = (double)s[m].ticks * 1e6 / (double)clk_tck /
			    (double)s[m].spawns;
			row(6, cas, mode_names[m], 0, "service_stat", "us", &v,
			    1);
		}
		v = (double)s[m].spawns;
		row(6, cas, mode_names[m], 0, "spawns", "count", &v, 1);
	}
	if (s[M_COUNT].spawns == 0)
		return;
	v = (double)s[M_COUNT].ticks * 1e6 / (double)clk_tck;
	row(6, cas, "all", 0, "cpu_stat", "us", &v, 1);
	v /= (double)s[M_COUNT].spawns;
	row(6, cas, "all", 0, "service_stat", "us", &v, 1);
	v = (double)s[M_COUNT].ns / 1e3 / (double)s[M_COUNT].spawns;
	row(6, cas, "all", 0, "service_sched", "us", &v, 1);
	v = (double)s[M_COUNT].spawns;
	row(6, cas, "all", 0, "spawns", "count", &v, 1);
}

/*
 * A counter of system calls entered by task pid (0: the calling thread),
 * and with inherit by the children it makes from now on; -1 if the kernel
 * will not count them for us (no tracefs, or perf_event_paranoid).
 */
static int
pc_open(pid_t pid, int inherit)
{
	static const char *const ids[] = {
	    "/sys/kernel/tracing/events/raw_syscalls/sys_enter/id",
	    "/sys/kernel/debug/tracing/events/raw_syscalls/sys_enter/id" };
	struct perf_event_attr	 a;
	unsigned long long	 id = 0;
	FILE			*f;
	size_t			 i;

	for (i = 0; i < sizeof ids / sizeof ids[0] && id == 0; i++) {
		if ((f = fopen(ids[i], "re")) == NULL)
			continue;
		if (fscanf(f, "%llu", &id) != 1)
			id = 0;
		fclose(f);
	}
	if (id == 0)
		return -1;
	memset(&a, 0, sizeof a);
	a.type = PERF_TYPE_TRACEPOINT;
	a.size = sizeof a;
	a.config = id;
	a.inherit = inherit != 0;
	return (int)syscall(SYS_perf_event_open, &a, pid, -1, -1,
	    PERF_FLAG_FD_CLOEXEC);
}

/*
 * Opens what the counts need; what cannot be had stays -1.  Returns -1
 * if the system calls of this thread cannot be counted.
 */
static int
cnt_open(struct counters *k)
{
	static int	 warned;
	char		 p[64];
	int		 i;

	k->dsys = k->dsysi = k->dstatus = k->dsyscall = -1;
	for (i = 0; i < K_COUNT; i++)
		k->base[i] = 0;
	k->csys = pc_open(0, 0);
	k->csysi = pc_open(0, 1);
	if (daemon_pid > 0) {
		k->dsys = pc_open(daemon_pid, 0);
		k->dsysi = pc_open(daemon_pid, 1);
		snprintf(p, sizeof p, "/proc/%d/status", (int)daemon_pid);
		k->dstatus = open(p, O_RDONLY | O_CLOEXEC);
		snprintf(p, sizeof p, "/proc/%d/syscall", (int)daemon_pid);
		k->dsyscall = open(p, O_RDONLY | O_CLOEXEC);
	}
	if ((k->csys == -1 || k->dsys == -1) && !warned++)
		note("no system call counts: raw_syscalls:sys_enter cannot be "
		    "counted here (tracefs, root or perf_event_paranoid -1)");
	if (k->csys == -1) {
		cnt_close(k);
		return -1;
	}
	return 0;
}

static void
cnt_close(struct counters *k)
{
	if (k->dsys != -1)
		close(k->dsys);
	if (k->dsysi != -1)
		close(k->dsysi);
	if (k->dstatus != -1)
		close(k->dstatus);
	if (k->dsyscall != -1)
		close(k->dsyscall);
	if (k->csys != -1)
		close(k->csys);
	if (k->csysi != -1)
		close(k->csysi);
	k->dsys = k->dsysi = k->dstatus = k->dsyscall = k->csys = k->csysi = -1;
}

/*
 * Waits (a few ms at most) until the daemon is back in its epoll wait:
 * it sends a reply before it has finished with a spawn, and what it does
 * after (closing the pidfd, the wait itself) belongs to that spawn, not
 * to the window of the next, whatever its mode.
 */
static void
daemon_idle(const struct counters *k)
{
	char	 buf[64];
	ssize_t	 n;
	long	 nr;
	int	 i;

	for (i = 0; k->dsyscall != -1 && i < 2000; i++) {
		if ((n = pread(k->dsyscall, buf, sizeof buf - 1, 0)) <= 0)
			return;
		buf[n] = '\0';
		nr = strtol(buf, NULL, 10);
#ifdef SYS_epoll_wait
		if (nr == SYS_epoll_wait)
			return;
#endif
#ifdef SYS_epoll_pwait2
		if (nr == SYS_epoll_pwait2)
			return;
#endif
		if (nr == SYS_epoll_pwait)
			return;
		sched_yield();
	}
}

static double
pc_read(int fd)
{
	uint64_t	 v;

	if (fd == -1 || read(fd, &v, sizeof v) != (ssize_t)sizeof v)
		return NAN;
	return (double)v;
}

/* A "Name:\tN" line of a /proc status text, NAN if missing. */
static double
status_field(const char *buf, const char *name)
{
	const char	*s;

	if ((s = strstr(buf, name)) == NULL)
		return NAN;
	return strtod(s + strlen(name), NULL);
}

/*
 * The counters now, absolute, into v[K_COUNT] (sys_child as the sum of
 * inherited minus own counts).  The calling thread's own counter is read
 * last at the start of a window (end == 0) and first at its end, so a
 * window counts one read of it, which the calibration takes off.
 */
static void
cnt_read(const struct counters *k, double *v, int end)
{
	struct rusage	 ru;
	char		 buf[4096];
	ssize_t		 n;
	double		 c = NAN, ci = NAN, d, di;
	int		 i;

	if (end) {
		c = pc_read(k->csys);
		ci = pc_read(k->csysi);
	}
	daemon_idle(k);
	(void)getrusage(RUSAGE_THREAD, &ru);
	d = pc_read(k->dsys);
	di = pc_read(k->dsysi);
	for (i = 0; i < K_COUNT; i++)
		v[i] = NAN;
	if (k->dstatus != -1 &&
	    (n = pread(k->dstatus, buf, sizeof buf - 1, 0)) > 0) {
		buf[n] = '\0';
		v[K_VCS_DAEMON] = status_field(buf,
		    "\nvoluntary_ctxt_switches:");
		v[K_ICS_DAEMON] = status_field(buf,
		    "\nnonvoluntary_ctxt_switches:");
	}
	if (!end) {
		ci = pc_read(k->csysi);
		c = pc_read(k->csys);
	}
	v[K_SYS_DAEMON] = d;
	v[K_SYS_CLIENT] = c;
	v[K_SYS_CHILD] = (di - d) + (ci - c);
	if (k->dsys == -1)
		v[K_SYS_CHILD] = ci - c;
	v[K_VCS_CLIENT] = (double)ru.ru_nvcsw;
	v[K_ICS_CLIENT] = (double)ru.ru_nivcsw;
	v[K_FLT_CLIENT] = (double)ru.ru_minflt;
}

/*
 * What a window with no spawn in it counts (the reads, and the CPU clock
 * lat_rounds reads inside the window): the least of a few tries.
 */
static void
cnt_calibrate(struct counters *k)
{
	double	 a[K_COUNT], b[K_COUNT];
	int	 i, j;

	for (j = 0; j < K_COUNT; j++)
		k->base[j] = INFINITY;
	for (i = 0; i < 20; i++) {
		cnt_read(k, a, 0);
		(void)thread_cpu_us();
		(void)now_us();
		(void)now_us();
		(void)thread_cpu_us();
		cnt_read(k, b, 1);
		for (j = 0; j < K_COUNT; j++)
			if (b[j] - a[j] < k->base[j])
				k->base[j] = b[j] - a[j];
	}
	for (j = 0; j < K_COUNT; j++)
		if (!isfinite(k->base[j]))
			k->base[j] = 0;
}

/*
 * Spawn+waits in every mode of O->modes, interleaved spawn by spawn, so
 * that load from elsewhere on a shared machine falls on every mode alike.
 * Each round runs the modes in a fresh random order: with a fixed
 * rotation each mode nearly always came after the same other one, and
 * what a spawn leaves behind (fork's write-protected pages, a daemon just
 * gone to sleep, caches) fell on its successor, the same one every time.
 */
struct lat {
	struct ctx	 c[M_COUNT];
	int		 modes[M_COUNT];
	int		 nm;
	int		 nmix;		/* modes[0..nmix) interleaved */
	int		 rounds;
	uint64_t	 rng;		/* xorshift64 state, never 0 */
	double		 cpusum[M_COUNT];
	struct counters	*k;		/* while counting */
	double		 ksum[M_COUNT][K_COUNT];
	int		 krounds;	/* counted */
};

/* Sets up a context per mode and warms each up. */
static void
lat_open(struct lat *l, const char *path)
{
	int	 i, j, m, r;

	memset(l, 0, sizeof *l);
	l->rng = 0x9e3779b97f4a7c15ULL;
	for (m = 0; m < M_COUNT; m++) {
		if (!(O->modes & (1u << m)))
			continue;
		if ((r = ctx_init(&l->c[m], m, path, CLIENT_MODE(m))) < 0) {
			note("%s: set-up: %s", mode_names[m], strerror(-r));
			ctx_free(&l->c[m]);
			continue;
		}
		l->modes[l->nm++] = m;
	}
	/* fork, the first if present, goes last: see lat_rounds(). */
	l->nmix = l->nm;
	if (l->nm > 1 && l->modes[0] == M_FORK) {
		memmove(l->modes, l->modes + 1, (size_t)(l->nm - 1) *
		    sizeof *l->modes);
		l->modes[--l->nmix] = M_FORK;
	}
	for (i = 0; i < 5; i++)
		for (j = 0; j < l->nm; j++)
			(void)spawn_wait(&l->c[l->modes[j]]);
}

/*
 * n rounds of one spawn+wait per mode.  fork's n come after the others':
 * a fork leaves every writable page of the caller write-protected, and
 * the next spawn of whatever mode paid the faults (2 to 3 per spawn
 * through libspawnd, 0.8 for posix_spawn, none without fork in the mix).
 */
static void
lat_rounds(struct lat *l, int n, struct svc *svc)
{
	int	 i, j, m, q;

	for (i = 0; i < n; i++, l->rounds++) {
		/* Fisher-Yates with xorshift64: the same orders every run. */
		for (j = l->nmix - 1; j > 0; j--) {
			l->rng ^= l->rng << 13;
			l->rng ^= l->rng >> 7;
			l->rng ^= l->rng << 17;
			q = (int)(l->rng % (uint64_t)(j + 1));
			m = l->modes[j];
			l->modes[j] = l->modes[q];
			l->modes[q] = m;
		}
		for (j = 0; j < l->nmix; j++)
			lat_one(l, l->modes[j], svc);
	}
	for (i = 0; i < n; i++)
		for (j = l->nmix; j < l->nm; j++)
			lat_one(l, l->modes[j], svc);
}

/*
 * One spawn+wait of mode m, timed; the daemon's run time around a spawnd
 * spawn goes to svc (if not NULL), the calling thread's CPU time to
 * l->cpusum, and the counts, while counting, to l->ksum.
 */
static void
lat_one(struct lat *l, int m, struct svc *svc)
{
	struct ctx	*c = &l->c[m];
	struct cpu	 a, b;
	double		 t0, t1, u0, k0[K_COUNT], k1[K_COUNT];
	int		 r, q;

	/*
	 * The daemon's CPU is read around every mode's spawn, not only the
	 * daemon's modes: the reads of /proc disturb the caller's caches,
	 * and did so for the spawnd modes alone (some 3 points of latency).
	 */
	if (svc != NULL)
		(void)daemon_cpu(&a);
	if (l->k != NULL)
		cnt_read(l->k, k0, 0);
	u0 = thread_cpu_us();
	t0 = now_us();
	r = spawn_wait(c);
	t1 = now_us();
	l->cpusum[m] += thread_cpu_us() - u0;
	if (l->k != NULL) {
		cnt_read(l->k, k1, 1);
		for (q = 0; q < K_COUNT; q++)
			l->ksum[m][q] += k1[q] - k0[q] - l->k->base[q];
	}
	if (svc != NULL) {
		(void)daemon_cpu(&b);
		if (SPAWND_MODE(m))
			svc_add(&svc[m], &a, &b, 1);
	}
	if (r != 0) {
		c->errors++;
		c->last_error = r;
	} else
		lat_push(c, t1 - t0);
}

/*
 * Per-mode median latency to med[], mean CPU time of the calling thread
 * per spawn+wait to cpu[] (the in-process modes' own cost of a spawn, the
 * baseline of the daemon's service time); NAN for a mode where a spawn
 * failed.  Frees the contexts.
 */
static void
lat_close(struct lat *l, double *med, double *cpu, double (*cnt)[K_COUNT])
{
	struct ctx	*c;
	int		 j, m, q;

	for (m = 0; m < M_COUNT; m++) {
		med[m] = cpu[m] = NAN;
		for (q = 0; q < K_COUNT; q++)
			cnt[m][q] = NAN;
	}
	for (j = 0; j < l->nm; j++) {
		m = l->modes[j];
		c = &l->c[m];
		if (c->errors > 0)
			note("%s %s: %lu of %d failed, last: %s",
			    mode_names[m], c->path, c->errors, l->rounds,
			    strerror(c->last_error));
		else if (c->nlat > 0) {
			qsort(c->lat, c->nlat, sizeof *c->lat, cmp_double);
			med[m] = pct_sorted(c->lat, c->nlat, 50);
			cpu[m] = l->cpusum[m] / l->rounds;
			for (q = 0; q < K_COUNT && l->krounds > 0; q++)
				cnt[m][q] = l->ksum[m][q] / l->krounds;
		}
		ctx_free(c);
	}
}

/*
 * One repetition: with k, first a few rounds that are counted and not
 * timed, then n rounds timed and not counted.  Counting system calls
 * enables the syscall tracepoint for every task on the machine (each
 * system call then takes the slow path) and an inherited counter is set
 * up anew in every child a clone makes: both would colour the times,
 * and more for the mode that makes more system calls or clones.
 */
static void
lat_rep(const char *path, int n, double *med, double *cpu,
    double (*cnt)[K_COUNT], struct counters *k, struct svc *svc)
{
	struct lat	 l;
	int		 j;

	lat_open(&l, path);
	if (k != NULL && cnt_open(k) == 0) {
		cnt_calibrate(k);
		l.k = k;
		k->passes++;
		lat_rounds(&l, COUNT_ROUNDS, NULL);
		cnt_close(k);
		l.k = NULL;
		l.krounds = l.rounds;
		l.rounds = 0;
		for (j = 0; j < l.nm; j++) {
			l.cpusum[l.modes[j]] = 0;
			l.c[l.modes[j]].nlat = 0;
		}
	}
	lat_rounds(&l, n, svc);
	lat_close(&l, med, cpu, cnt);
}

/* Workload 1: spawn+wait latency, one thread, and the counts. */
static void
w_latency(void)
{
	static double	 med[MAX_TARGETS][M_COUNT][MAX_REPS];
	static double	 cpu[MAX_TARGETS][M_COUNT][MAX_REPS];
	static double	 cnt[MAX_TARGETS][M_COUNT][K_COUNT][MAX_REPS];
	struct svc	 svc[M_COUNT + 1];
	struct counters	 k;
	struct cpu	 a, b;
	double		 v[M_COUNT], u[M_COUNT], kv[M_COUNT][K_COUNT];
	int		 rep, t, m, q, nspawnd = 0;

	memset(svc, 0, sizeof svc);
	k.passes = 0;
	(void)daemon_cpu(&a);
	for (rep = 0; rep < O->reps; rep++)
		for (t = 0; t < O->ntargets; t++) {
			lat_rep(O->targets[t].path, O->n, v, u, kv, &k, svc);
			for (m = 0; m < M_COUNT; m++) {
				if (!(O->modes & (1u << m)))
					continue;
				med[t][m][rep] = v[m];
				cpu[t][m][rep] = u[m];
				for (q = 0; q < K_COUNT; q++)
					cnt[t][m][q][rep] = kv[m][q];
				note("latency rep %d %s %-12s %8.1f us, "
				    "system calls %.1f daemon %.1f client",
				    rep, O->targets[t].name, mode_names[m],
				    v[m], kv[m][K_SYS_DAEMON],
				    kv[m][K_SYS_CLIENT]);
			}
		}
	(void)daemon_cpu(&b);
	for (m = 0; m < M_COUNT; m++)
		if (SPAWND_MODE(m) && (O->modes & (1u << m)))
			nspawnd++;
	/* Warm-up and counted rounds included: the daemon served those too. */
	svc_add(&svc[M_COUNT], &a, &b, (uint64_t)(O->reps * O->ntargets *
	    (O->n + 5) * nspawnd + k.passes * COUNT_ROUNDS * nspawnd));
	for (t = 0; t < O->ntargets; t++)
		for (m = 0; m < M_COUNT; m++) {
			if (!(O->modes & (1u << m)))
				continue;
			row(1, O->targets[t].name, mode_names[m], 1,
			    "latency", "us", med[t][m], O->reps);
			row(1, O->targets[t].name, mode_names[m], 1,
			    "client_cpu", "us", cpu[t][m], O->reps);
			for (q = 0; q < K_COUNT; q++)
				if (!isnan(cnt[t][m][q][0]))
					row(1, O->targets[t].name,
					    mode_names[m], 1, cnt_names[q],
					    "count", cnt[t][m][q], O->reps);
		}
	svc_rows("latency", svc, 0);
}

static void *
tput_worker(void *arg)
{
	struct ctx	*c = arg;
	double		 t0;
	int		 r;

	pthread_barrier_wait(&barrier);
	while (!atomic_load_explicit(&stop_flag, memory_order_relaxed)) {
		t0 = now_us();
		if ((r = spawn_wait(c)) != 0) {
			c->errors++;
			c->last_error = r;
			continue;
		}
		lat_push(c, now_us() - t0);
	}
	return NULL;
}

/*
 * nthreads threads spawn+wait in a loop for O->secs.  Returns 0 with the
 * spawns per second and the p50/p99 latency of every spawn, or -1.
 */
static int
tput_run(int mode, const char *path, int nthreads, double *ret_rate,
    double *ret_p50, double *ret_p99, struct svc *svc)
{
	static struct ctx	 c[MAX_THREADS];
	pthread_t		 th[MAX_THREADS];
	struct timespec		 ts;
	struct cpu		 a, b;
	double			 t0, t1, *all;
	size_t			 n = 0, k;
	unsigned long		 errors = 0;
	int			 i, r, ok = 0, last = 0;

	memset(c, 0, sizeof c);
	for (i = 0; i < nthreads; i++)
		if ((r = ctx_init(&c[i], mode, path, CLIENT_MODE(mode))) < 0) {
			note("%s: set-up: %s", mode_names[mode],
			    strerror(-r));
			nthreads = i + 1;
			goto out;
		}
	atomic_store(&stop_flag, 0);
	pthread_barrier_init(&barrier, NULL, (unsigned)nthreads + 1);
	for (i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, tput_worker, &c[i]) != 0)
			die("pthread_create");
	if (SPAWND_MODE(mode))
		(void)daemon_cpu(&a);
	pthread_barrier_wait(&barrier);
	t0 = now_us();
	ts.tv_sec = (time_t)O->secs;
	ts.tv_nsec = (long)((O->secs - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
	atomic_store(&stop_flag, 1);
	for (i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	t1 = now_us();
	pthread_barrier_destroy(&barrier);
	for (i = 0; i < nthreads; i++) {
		n += c[i].nlat;
		errors += c[i].errors;
		if (c[i].errors)
			last = c[i].last_error;
	}
	if (SPAWND_MODE(mode)) {
		(void)daemon_cpu(&b);
		svc_add(&svc[mode], &a, &b, n + errors);
		svc_add(&svc[M_COUNT], &a, &b, n + errors);
	}
	if (errors > 0) {
		note("%s %s x%d: %lu failed, last: %s", mode_names[mode], path,
		    nthreads, errors, strerror(last));
		goto out;
	}
	if ((all = malloc((n ? n : 1) * sizeof *all)) == NULL)
		die("out of memory");
	for (i = 0, k = 0; i < nthreads; i++) {
		memcpy(all + k, c[i].lat, c[i].nlat * sizeof *all);
		k += c[i].nlat;
	}
	qsort(all, n, sizeof *all, cmp_double);
	*ret_rate = (double)n / ((t1 - t0) / 1e6);
	*ret_p50 = pct_sorted(all, n, 50);
	*ret_p99 = pct_sorted(all, n, 99);
	free(all);
	ok = 1;
out:
	for (i = 0; i < nthreads; i++)
		ctx_free(&c[i]);
	return ok ? 0 : -1;
}

/* Workload 2: throughput with several client threads. */
static void
w_throughput(void)
{
	static double	 v[3][MAX_TARGETS][8][M_COUNT][MAX_REPS];
	static int	 nv[MAX_TARGETS][8][M_COUNT];
	struct svc	 svc[M_COUNT + 1];
	double		 rate, p50, p99;
	int		 rep, t, k, m, i;

	memset(svc, 0, sizeof svc);
	for (rep = 0; rep < O->reps; rep++)
		for (t = 0; t < O->ntargets; t++)
			for (k = 0; k < O->nthreads; k++)
				for (m = 0; m < M_COUNT; m++) {
					if (!(O->modes & (1u << m)))
						continue;
					if (tput_run(m, O->targets[t].path,
					    O->threads[k], &rate, &p50, &p99,
					    svc) == -1)
						continue;
					i = nv[t][k][m]++;
					v[0][t][k][m][i] = rate;
					v[1][t][k][m][i] = p50;
					v[2][t][k][m][i] = p99;
					note("throughput rep %d %s x%-2d %-12s "
					    "%8.0f/s p50 %7.1f p99 %8.1f us",
					    rep, O->targets[t].name,
					    O->threads[k], mode_names[m], rate,
					    p50, p99);
				}
	for (t = 0; t < O->ntargets; t++)
		for (k = 0; k < O->nthreads; k++)
			for (m = 0; m < M_COUNT; m++) {
				const char	*tn = O->targets[t].name;
				int		 n = nv[t][k][m], th =
						    O->threads[k];

				row(2, tn, mode_names[m], th, "throughput",
				    "spawns/s", v[0][t][k][m], n);
				row(2, tn, mode_names[m], th, "p50", "us",
				    v[1][t][k][m], n);
				row(2, tn, mode_names[m], th, "p99", "us",
				    v[2][t][k][m], n);
			}
	svc_rows("throughput", svc, 1);
}

/*
 * Writes the thread's executable as careful programs do: O_CLOEXEC, so the
 * only way another process can hold it open for writing is a child forked
 * in the window between open and close.
 */
static int
wte_write(struct ctx *c)
{
	int	 fd, r = 0;

	fd = open(c->file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (fd == -1)
		return errno;
	if (write(fd, c->content, c->content_len) != (ssize_t)c->content_len)
		r = errno ? errno : EIO;
	if (close(fd) == -1 && r == 0)
		r = errno;
	return r;
}

/* One round: write, spawn (as the mode survives ETXTBSY), wait. */
static int
wte_round(struct ctx *c)
{
	struct timespec	 ts;
	long		 backoff = WTE_BACKOFF_US;
	pid_t		 pid;
	int		 r, st, k, fd;

	if (c->mode == W_MUTEX)
		pthread_mutex_lock(&wte_mutex);
	if (c->mode == W_FORKLOCK)
		pthread_rwlock_rdlock(&wte_forklock);
	r = wte_write(c);
	if (c->mode == W_FORKLOCK)
		pthread_rwlock_unlock(&wte_forklock);
	if (r != 0) {
		if (c->mode == W_MUTEX)
			pthread_mutex_unlock(&wte_mutex);
		return r;
	}
	switch (c->mode) {
	case W_NATIVE:
	case W_MUTEX:
		r = posix_spawn(&pid, c->file, NULL, NULL, c->argv, environ);
		if (c->mode == W_MUTEX)
			pthread_mutex_unlock(&wte_mutex);
		break;
	case W_RETRY:
		for (k = 0;; k++) {
			r = posix_spawn(&pid, c->file, NULL, NULL, c->argv,
			    environ);
			if (r != ETXTBSY || k == WTE_RETRY_MAX)
				break;
			c->etxtbsy++;
			ts.tv_sec = 0;
			ts.tv_nsec = backoff * 1000;
			(void)nanosleep(&ts, NULL);
			if ((backoff *= 2) > WTE_BACKOFF_MAX_US)
				backoff = WTE_BACKOFF_MAX_US;
		}
		break;
	case W_FORKLOCK:
		pthread_rwlock_wrlock(&wte_forklock);
		r = posix_spawn(&pid, c->file, NULL, NULL, c->argv, environ);
		pthread_rwlock_unlock(&wte_forklock);
		break;
	case W_SPAWND:
		r = spawnd_once(c);
		goto done;
	case W_SPAWND_FD:
		if ((fd = open(c->file, O_RDONLY | O_CLOEXEC)) == -1)
			return errno;
		if ((r = spawnd_req_set_exec_fd(c->req, fd)) < 0)
			r = -r;
		else
			r = spawnd_once(c);
		(void)close(fd);
		goto done;
	default:
		return EINVAL;
	}
	if (r != 0)
		goto done;
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return errno;
	r = status_error(st);
done:
	if (r == ETXTBSY)
		c->etxtbsy++;
	return r;
}

static void *
wte_worker(void *arg)
{
	struct ctx	*c = arg;
	int		 i, r;

	pthread_barrier_wait(&barrier);
	for (i = 0; i < c->rounds; i++) {
		if ((r = wte_round(c)) == 0)
			c->ok++;
		else if (r != ETXTBSY) {
			c->errors++;
			c->last_error = r;
		}
	}
	return NULL;
}

/*
 * The write-then-exec workload in one mode: nthreads threads, O->rounds
 * rounds each, each thread its own file.  Returns successes per second and
 * the counts of ETXTBSY seen and of other failures.
 */
static int
wte_run(int wmode, int nthreads, const void *content, size_t len,
    double *ret_rate, unsigned long *ret_etxtbsy, unsigned long *ret_errors)
{
	static struct ctx	 c[MAX_THREADS];
	pthread_t		 th[MAX_THREADS];
	unsigned long		 ok = 0, etx = 0, errors = 0;
	double			 t0, t1;
	int			 i, r, spawnd, last = 0;

	spawnd = wmode == W_SPAWND || wmode == W_SPAWND_FD;
	memset(c, 0, sizeof c);
	for (i = 0; i < nthreads; i++) {
		/* The thread's file: argv[0] and what it spawns. */
		snprintf(c[i].file, sizeof c[i].file, "%s/wte-%d", O->dir, i);
		if ((r = ctx_init(&c[i], wmode, c[i].file, spawnd)) < 0) {
			note("%s: set-up: %s", wmode_names[wmode],
			    strerror(-r));
			nthreads = i + 1;
			for (i = 0; i < nthreads; i++)
				ctx_free(&c[i]);
			return -1;
		}
		c[i].id = i;
		c[i].content = content;
		c[i].content_len = len;
		c[i].rounds = O->rounds;
	}
	pthread_barrier_init(&barrier, NULL, (unsigned)nthreads + 1);
	for (i = 0; i < nthreads; i++)
		if (pthread_create(&th[i], NULL, wte_worker, &c[i]) != 0)
			die("pthread_create");
	pthread_barrier_wait(&barrier);
	t0 = now_us();
	for (i = 0; i < nthreads; i++)
		pthread_join(th[i], NULL);
	t1 = now_us();
	pthread_barrier_destroy(&barrier);
	for (i = 0; i < nthreads; i++) {
		ok += c[i].ok;
		etx += c[i].etxtbsy;
		errors += c[i].errors;
		if (c[i].errors)
			last = c[i].last_error;
		ctx_free(&c[i]);
	}
	if (errors > 0)
		note("write-exec %s: %lu failed, last: %s", wmode_names[wmode],
		    errors, strerror(last));
	*ret_rate = (double)ok / ((t1 - t0) / 1e6);
	*ret_etxtbsy = etx;
	*ret_errors = errors;
	return 0;
}

/* Reads the whole file at path into a malloc'd buffer. */
static void *
slurp(const char *path, size_t *ret_len)
{
	struct stat	 st;
	char		*buf;
	ssize_t		 n;
	size_t		 got = 0;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
	    fstat(fd, &st) == -1)
		die("%s: %s", path, strerror(errno));
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
		die("out of memory");
	while (got < (size_t)st.st_size) {
		if ((n = read(fd, buf + got, (size_t)st.st_size - got)) <= 0)
			die("%s: short read", path);
		got += (size_t)n;
	}
	(void)close(fd);
	*ret_len = got;
	return buf;
}

/* Workload 3: the multithreaded write-then-exec workload. */
static void
w_write_exec(void)
{
	static const char	 script[] = "#!/bin/sh\nexit 0\n";
	static double		 rate[2][W_COUNT][MAX_REPS];
	static double		 etx[2][W_COUNT][MAX_REPS];
	static double		 err[2][W_COUNT][MAX_REPS];
	static int		 nv[2][W_COUNT];
	static const char *const vname[2] = { "script", "elf" };
	const void		*content[2];
	size_t			 len[2];
	unsigned long		 e, x;
	double			 r;
	int			 rep, v, m, i, nthreads = O->threads[0];
	pthread_rwlockattr_t	 ra;

	if (O->dir == NULL)
		die("write-exec needs -D DIR");
	/*
	 * glibc's rwlock prefers readers by default: spawners would starve
	 * behind a stream of writers.  Go's ForkLock has the same need.
	 */
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(&ra,
	    PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&wte_forklock, &ra);
	content[0] = script;
	len[0] = sizeof script - 1;
	content[1] = NULL;
	len[1] = 0;
	if (O->variants & 2) {
		if (O->elf == NULL)
			die("the elf variant needs -e PATH");
		content[1] = slurp(O->elf, &len[1]);
	}
	for (rep = 0; rep < O->reps; rep++)
		for (v = 0; v < 2; v++) {
			if (!(O->variants & (1 << v)))
				continue;
			for (m = 0; m < W_COUNT; m++) {
				if (!(O->modes & (1u << m)))
					continue;
				if (wte_run(m, nthreads, content[v], len[v],
				    &r, &x, &e) == -1)
					continue;
				i = nv[v][m]++;
				rate[v][m][i] = r;
				etx[v][m][i] = (double)x;
				err[v][m][i] = (double)e;
				note("write-exec rep %d %-6s %-10s %8.0f ok/s "
				    "ETXTBSY %5lu errors %lu", rep, vname[v],
				    wmode_names[m], r, x, e);
			}
		}
	for (v = 0; v < 2; v++)
		for (m = 0; m < W_COUNT; m++) {
			row(3, vname[v], wmode_names[m], nthreads, "ok_rate",
			    "spawns/s", rate[v][m], nv[v][m]);
			row(3, vname[v], wmode_names[m], nthreads, "etxtbsy",
			    "count", etx[v][m], nv[v][m]);
			row(3, vname[v], wmode_names[m], nthreads, "errors",
			    "count", err[v][m], nv[v][m]);
			row(3, vname[v], wmode_names[m], nthreads, "attempts",
			    "count", (double[]){ (double)nthreads *
			    O->rounds }, 1);
		}
	for (i = 0; i < nthreads; i++) {
		char	 p[PATH_MAX];

		snprintf(p, sizeof p, "%s/wte-%d", O->dir, i);
		(void)unlink(p);
	}
	free((void *)(uintptr_t)content[1]);
}

/* Reads or writes exactly len bytes; dies on anything else. */
static void
xfer(int fd, void *buf, size_t len, int wr)
{
	ssize_t	 n;
	size_t	 done = 0;

	while (done < len) {
		n = wr ? write(fd, (char *)buf + done, len - done) :
		    read(fd, (char *)buf + done, len - done);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			die("bigmem: %s between the clients: %s", wr ?
			    "write" : "read", n == 0 ? "EOF" :
			    strerror(errno));
		done += (size_t)n;
	}
}

/*
 * The big client: a process of its own with the heap, taking turns with
 * the small one (the parent) block by block, so that both meet the same
 * machine.  Sends its per-rep medians back on out.
 */
static void
big_client(int in, int out, const char *path, int nblk, int k)
{
	static double	 res[MAX_REPS][M_COUNT];
	struct lat	 l;
	size_t		 size = O->mib << 20;
	double		 cpu[M_COUNT], cnt[M_COUNT][K_COUNT], t0;
	char		*mem, tok = 0;
	int		 rep, blk;

	t0 = now_us();
	if ((mem = malloc(size)) == NULL)
		die("cannot allocate %zu MiB", O->mib);
	/* 4 KiB pages: fork's cost is per page-table entry; THP hides it. */
	(void)madvise((void *)(((uintptr_t)mem + 4095) & ~(uintptr_t)4095),
	    size - 4096, MADV_NOHUGEPAGE);
	memset(mem, 0x5a, size);
	note("bigmem: touched %zu MiB in %.0f ms", O->mib,
	    (now_us() - t0) / 1e3);
	xfer(out, &tok, 1, 1);
	for (rep = 0; rep < O->reps; rep++) {
		lat_open(&l, path);
		for (blk = 0; blk < nblk; blk++) {
			xfer(in, &tok, 1, 0);
			lat_rounds(&l, k, NULL);
			xfer(out, &tok, 1, 1);
		}
		lat_close(&l, res[rep], cpu, cnt);
	}
	xfer(out, res, sizeof res[0] * (size_t)O->reps, 1);
	/* The heap was live until here. */
	if (mem[size - 1] != 0x5a)
		die("memory");
	_exit(0);
}

/*
 * Workload 4: spawn latency from a client with a big heap of touched
 * memory against the same from a small client, both running at once and
 * taking turns every few spawns.
 */
static void
w_bigmem(void)
{
	static double	 small[M_COUNT][MAX_REPS], big[M_COUNT][MAX_REPS];
	static double	 res[MAX_REPS][M_COUNT];
	const char	*path = O->targets[O->ntargets - 1].path;
	const char	*name = O->targets[O->ntargets - 1].name;
	struct lat	 l;
	double		 v[M_COUNT], u[M_COUNT], cnt[M_COUNT][K_COUNT];
	char		 tok = 0;
	pid_t		 pid;
	int		 to_big[2], to_small[2], rep, blk, m, st;
	int		 k = 10, nblk = (O->n + 9) / 10;

	if (pipe2(to_big, O_CLOEXEC) == -1 || pipe2(to_small, O_CLOEXEC) == -1)
		die("pipe: %s", strerror(errno));
	fflush(NULL);
	if ((pid = fork()) == -1)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		(void)close(to_big[1]);
		(void)close(to_small[0]);
		big_client(to_big[0], to_small[1], path, nblk, k);
	}
	(void)close(to_big[0]);
	(void)close(to_small[1]);
	xfer(to_small[0], &tok, 1, 0);		/* the heap is ready */
	for (rep = 0; rep < O->reps; rep++) {
		lat_open(&l, path);
		for (blk = 0; blk < nblk; blk++) {
			lat_rounds(&l, k, NULL);
			xfer(to_big[1], &tok, 1, 1);
			xfer(to_small[0], &tok, 1, 0);
		}
		lat_close(&l, v, u, cnt);
		for (m = 0; m < M_COUNT; m++)
			small[m][rep] = v[m];
	}
	xfer(to_small[0], res, sizeof res[0] * (size_t)O->reps, 0);
	if (waitpid(pid, &st, 0) == -1 || !WIFEXITED(st) ||
	    WEXITSTATUS(st) != 0)
		die("the big client failed");
	(void)close(to_big[1]);
	(void)close(to_small[0]);
	for (m = 0; m < M_COUNT; m++) {
		if (!(O->modes & (1u << m)))
			continue;
		for (rep = 0; rep < O->reps; rep++) {
			big[m][rep] = res[rep][m];
			note("bigmem rep %d %-12s small %8.1f us, %zu MiB "
			    "%8.1f us", rep, mode_names[m], small[m][rep],
			    O->mib, big[m][rep]);
		}
		row(4, name, mode_names[m], 1, "latency_small", "us",
		    small[m], O->reps);
		row(4, name, mode_names[m], 1, "latency_big", "us", big[m],
		    O->reps);
	}
	row(4, name, "-", 1, "heap", "MiB", (double[]){ (double)O->mib }, 1);
}

/* The daemon's Rss and private (clean+dirty) memory, KiB. */
static int
smaps(pid_t pid, long *ret_rss, long *ret_priv)
{
	char	 p[64], line[256];
	FILE	*f;
	long	 v, rss = -1, pc = 0, pd = 0;

	snprintf(p, sizeof p, "/proc/%d/smaps_rollup", (int)pid);
	if ((f = fopen(p, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL) {
		if (sscanf(line, "Rss: %ld", &v) == 1)
			rss = v;
		else if (sscanf(line, "Private_Clean: %ld", &v) == 1)
			pc = v;
		else if (sscanf(line, "Private_Dirty: %ld", &v) == 1)
			pd = v;
	}
	fclose(f);
	if (rss < 0)
		return -1;
	*ret_rss = rss;
	*ret_priv = pc + pd;
	return 0;
}

/* Pings until the daemon counts conns connections and kids children. */
static int
wait_counts(struct spawnd_client *c, unsigned int conns, unsigned int kids,
    int ms)
{
	struct spawnd_status	 st;
	struct timespec		 ts = { 0, 20 * 1000 * 1000 };
	int			 i;

	for (i = 0; i < ms / 20; i++) {
		if (spawnd_ping(c, CONNECT_MS, &st) < 0)
			return -1;
		if (st.connections == conns && st.children == kids)
			return 0;
		nanosleep(&ts, NULL);
	}
	note("daemon reports %u connections, %u children; expected %u, %u",
	    st.connections, st.children, conns, kids);
	return -1;
}

/*
 * Workload 5: the daemon's memory idle, then with COUNT idle connections
 * (-P conns) or COUNT sleeping children (-P children).  Run each part on a
 * fresh daemon: memory freed by one part would be reused by the next.
 */
static void
w_footprint(void)
{
	static const char *const sleep_argv[] = { "sleep", "30", NULL };
	struct spawnd_client	**cl = NULL, *c;
	struct spawnd_child	**ch = NULL;
	struct spawnd_req	*req = NULL;
	struct timespec		 ts = { 0, 300 * 1000 * 1000 };
	long			 rss0, priv0, rss1, priv1;
	double			 v;
	int			 i, r, n = O->count, conns;

	conns = strcmp(O->part, "conns") == 0;
	if (!conns && strcmp(O->part, "children") != 0)
		die("-P conns or -P children");
	raise_nofile();
	if (daemon_pid <= 0)
		die("footprint needs the daemon's /proc entry");
	if ((r = spawnd_connect(O->sock, CONNECT_MS, &c)) < 0)
		die("connect: %s", strerror(-r));
	if (wait_counts(c, 1, 0, 5000) == -1)
		die("the daemon is not idle");
	nanosleep(&ts, NULL);
	if (smaps(daemon_pid, &rss0, &priv0) == -1)
		die("cannot read the daemon's smaps_rollup");
	if ((cl = calloc((size_t)n, sizeof *cl)) == NULL ||
	    (ch = calloc((size_t)n, sizeof *ch)) == NULL)
		die("out of memory");
	if (conns) {
		for (i = 0; i < n; i++)
			if ((r = spawnd_connect(O->sock, CONNECT_MS,
			    &cl[i])) < 0)
				die("connection %d: %s", i, strerror(-r));
	} else {
		if (spawnd_req_new(&req) < 0 ||
		    spawnd_req_set_argv(req, sleep_argv) < 0 ||
		    spawnd_req_set_path(req, "/bin/sleep") < 0)
			die("request");
		for (i = 0; i < n; i++)
			if ((r = spawnd_spawn(c, req, &ch[i], NULL)) < 0)
				die("child %d: %s", i, strerror(-r));
	}
	if (wait_counts(c, conns ? (unsigned)n + 1 : 1,
	    conns ? 0 : (unsigned)n, 5000) == -1)
		die("the daemon does not count what was made");
	nanosleep(&ts, NULL);
	if (smaps(daemon_pid, &rss1, &priv1) == -1)
		die("cannot read the daemon's smaps_rollup");
	note("footprint %s: idle rss %ld KiB private %ld KiB; with %d: rss "
	    "%ld KiB private %ld KiB", O->part, rss0, priv0, n, rss1, priv1);
	if (conns) {
		row(5, "idle", "daemon", 0, "rss", "KiB",
		    (double[]){ (double)rss0 }, 1);
		row(5, "idle", "daemon", 0, "private", "KiB",
		    (double[]){ (double)priv0 }, 1);
	}
	v = (double)(rss1 - rss0) * 1024 / n;
	row(5, O->part, "daemon", n, "rss_per", "B", &v, 1);
	v = (double)(priv1 - priv0) * 1024 / n;
	row(5, O->part, "daemon", n, "private_per", "B", &v, 1);
	row(5, O->part, "daemon", n, "rss_total", "KiB",
	    (double[]){ (double)rss1 }, 1);
	for (i = 0; i < n; i++) {
		spawnd_client_free(cl[i]);
		spawnd_child_free(ch[i]);
	}
	/* Closing the connection stops its (tied) children. */
	spawnd_client_free(c);
	spawnd_req_free(req);
	if ((r = spawnd_connect(O->sock, CONNECT_MS, &c)) < 0)
		die("connect: %s", strerror(-r));
	if (wait_counts(c, 1, 0, 15000) == -1)
		note("the daemon did not come back to idle");
	spawnd_client_free(c);
	free(cl);
	free(ch);
}

/* Parses "a,b,c" against names; returns the bit mask. */
static unsigned int
parse_names(const char *s, const char *const *names, int n)
{
	char		 buf[256], *tok, *save = NULL;
	unsigned int	 mask = 0;
	int		 i;

	snprintf(buf, sizeof buf, "%s", s);
	for (tok = strtok_r(buf, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		for (i = 0; i < n; i++)
			if (strcmp(tok, names[i]) == 0)
				break;
		if (i == n)
			die("unknown name '%s'", tok);
		mask |= 1u << i;
	}
	return mask;
}

int
main(int argc, char *argv[])
{
	static struct opts	 o;
	static const char *const vnames[] = { "script", "elf" };
	const char		*modes = NULL, *w;
	char			*eq, *tok, *save = NULL;
	int			 ch;

	o.reps = 5;
	o.n = 500;
	o.rounds = 100;
	o.count = 1000;
	o.secs = 2;
	o.mib = 1024;
	o.variants = 3;
	o.threads[0] = 1;
	o.threads[1] = 4;
	o.threads[2] = 20;
	o.nthreads = 3;
	o.part = "conns";
	while ((ch = getopt(argc, argv, "D:d:e:M:m:N:n:o:P:qR:r:s:T:t:V:"))
	    != -1) {
		switch (ch) {
		case 'D': o.dir = optarg; break;
		case 'd': o.secs = atof(optarg); break;
		case 'e': o.elf = optarg; break;
		case 'M': o.mib = (size_t)atol(optarg); break;
		case 'm': modes = optarg; break;
		case 'N': o.count = atoi(optarg); break;
		case 'n': o.n = atoi(optarg); break;
		case 'o': o.csv = optarg; break;
		case 'P': o.part = optarg; break;
		case 'q': o.quiet = 1; break;
		case 'R': o.rounds = atoi(optarg); break;
		case 'r': o.reps = atoi(optarg); break;
		case 's': o.sock = optarg; break;
		case 'T':
			o.nthreads = 0;
			for (tok = strtok_r(optarg, ",", &save);
			    tok != NULL && o.nthreads < 8;
			    tok = strtok_r(NULL, ",", &save))
				o.threads[o.nthreads++] = atoi(tok);
			break;
		case 't':
			if (o.ntargets == MAX_TARGETS ||
			    (eq = strchr(optarg, '=')) == NULL)
				usage();
			*eq = '\0';
			snprintf(o.targets[o.ntargets].name,
			    sizeof o.targets[0].name, "%s", optarg);
			snprintf(o.targets[o.ntargets].path,
			    sizeof o.targets[0].path, "%s", eq + 1);
			o.ntargets++;
			break;
		case 'V': o.variants = (int)parse_names(optarg, vnames, 2);
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();
	w = argv[optind];
	O = &o;
	if (strcmp(w, "report") == 0) {
		if (optind + 1 >= argc)
			usage();
		return report(argv[optind + 1]) == 0 ? 0 : 1;
	}
	if (o.reps < 1 || o.reps > MAX_REPS || o.n < 1 ||
	    o.rounds < 1 || o.count < 1 || o.secs <= 0 || o.nthreads < 1)
		die("bad count");
	for (ch = 0; ch < o.nthreads; ch++)
		if (o.threads[ch] < 1 || o.threads[ch] > MAX_THREADS)
			die("threads: 1..%d", MAX_THREADS);
	if (o.ntargets == 0) {
		snprintf(o.targets[0].name, sizeof o.targets[0].name, "true");
		snprintf(o.targets[0].path, sizeof o.targets[0].path,
		    "/bin/true");
		o.ntargets = 1;
	}
	if (strcmp(w, "write-exec") == 0)
		o.modes = modes ? parse_names(modes, wmode_names, W_COUNT) :
		    (1u << W_COUNT) - 1;
	else if (modes != NULL)
		o.modes = parse_names(modes, mode_names, M_COUNT);
	else {
		/*
		 * The ping control only where it explains something: the
		 * floor of a spawn through the daemon, the big client's.
		 */
		o.modes = (1u << M_COUNT) - 1;
		if (strcmp(w, "bigmem") != 0 && strcmp(w, "latency") != 0)
			o.modes &= ~(1u << M_PING);
	}
	/* The posix face and the children find the daemon here too. */
	if (o.sock != NULL && setenv("SPAWND_SOCKET", o.sock, 1) == -1)
		die("setenv");
	signal(SIGPIPE, SIG_IGN);
	clk_tck = sysconf(_SC_CLK_TCK);
	csv_out = stdout;
	if (o.csv != NULL && (csv_out = fopen(o.csv, "ae")) == NULL)
		die("%s: %s", o.csv, strerror(errno));
	daemon_pid = find_daemon();
	if (strcmp(w, "latency") == 0)
		w_latency();
	else if (strcmp(w, "throughput") == 0)
		w_throughput();
	else if (strcmp(w, "write-exec") == 0)
		w_write_exec();
	else if (strcmp(w, "bigmem") == 0)
		w_bigmem();
	else if (strcmp(w, "footprint") == 0)
		w_footprint();
	else
		usage();
	if (csv_out != stdout && fclose(csv_out) != 0)
		die("%s: %s", o.csv, strerror(errno));
	return 0;
}

/* ------------------------------------------------------------------ */
/* The report: tables and targets from the rows of one run.            */

struct row {
	int		 w;
	char		 cas[32];
	char		 mode[32];
	int		 threads;
	char		 metric[32];
	char		 unit[16];
	double		 med, min, max, sum;
	int		 n;
};

static struct row	*rows;
static size_t		 nrows;
static int		 nmet, nnot;

static const struct row	*find(int, const char *, const char *, int,
			    const char *);
static double		 val(int, const char *, const char *, int,
			    const char *);
static void		 cases(int, const char *, char (*)[32], int *);
static int		 load(const char *);
static const char	*ratio(char *, size_t, double, double);
static const char	*num(char *, size_t, double);
static double		 best_workaround(const char *, const char **);
static void		 target(const char *, double, const char *, int);
static void		 rep_latency(void);
static void		 rep_counts(void);
static void		 rep_throughput(void);
static void		 rep_write_exec(void);
static void		 rep_bigmem(void);
static void		 rep_footprint(void);
static void		 rep_service(void);
static void		 rep_client_cpu(void);
static void		 rep_targets(void);

static const struct row *
find(int w, const char *cas, const char *mode, int threads,
    const char *metric)
{
	size_t	 i;

	for (i = 0; i < nrows; i++)
		if (rows[i].w == w && strcmp(rows[i].cas, cas) == 0 &&
		    strcmp(rows[i].mode, mode) == 0 &&
		    (threads < 0 || rows[i].threads == threads) &&
		    strcmp(rows[i].metric, metric) == 0)
			return &rows[i];
	return NULL;
}

/* A row's median, NAN if it is missing. */
static double
val(int w, const char *cas, const char *mode, int threads, const char *metric)
{
	const struct row	*r = find(w, cas, mode, threads, metric);

	return r != NULL ? r->med : NAN;
}

/* The distinct cases of workload w (in CSV order), and of metric m. */
static void
cases(int w, const char *metric, char (*out)[32], int *ret_n)
{
	size_t	 i;
	int	 j, n = 0;

	for (i = 0; i < nrows; i++) {
		if (rows[i].w != w || strcmp(rows[i].metric, metric) != 0)
			continue;
		for (j = 0; j < n; j++)
			if (strcmp(out[j], rows[i].cas) == 0)
				break;
		if (j == n && n < 8)
			snprintf(out[n++], 32, "%s", rows[i].cas);
	}
	*ret_n = n;
}

static int
load(const char *path)
{
	char		 line[512];
	FILE		*f;
	struct row	 r, *n;
	size_t		 cap = 0;

	if ((f = fopen(path, "re")) == NULL) {
		fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		memset(&r, 0, sizeof r);
		if (sscanf(line, "%d,%31[^,],%31[^,],%d,%31[^,],%15[^,],%lf,"
		    "%lf,%lf,%lf,%d", &r.w, r.cas, r.mode, &r.threads,
		    r.metric, r.unit, &r.med, &r.min, &r.max, &r.sum,
		    &r.n) != 11)
			continue;	/* the header, or a broken line */
		if (nrows == cap) {
			cap = cap ? cap * 2 : 256;
			if ((n = realloc(rows, cap * sizeof *n)) == NULL)
				return -1;
			rows = n;
		}
		rows[nrows++] = r;
	}
	fclose(f);
	return 0;
}

/* Formats v with one decimal, or "-" when it is missing. */
static const char *
num(char *buf, size_t len, double v)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.1f", v);
	return buf;
}

/* Formats a ratio a/b, or "-" when either is missing. */
static const char *
ratio(char *buf, size_t len, double a, double b)
{
	if (isnan(a) || isnan(b) || b == 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.2fx", a / b);
	return buf;
}

static void
rep_latency(void)
{
	static const char *const order[] = { "fork", "vfork", "posix_spawn",
	    "spawnd", "spawnd_posix", "ping" };
	char			 cs[8][32], rb[16], mm[40], ob[40];
	const struct row	*r;
	double			 base, ping;
	int			 nc, i, m;

	cases(1, "latency", cs, &nc);
	if (nc == 0)
		return;
	r = find(1, cs[0], "posix_spawn", 1, "latency");
	printf("\n1. spawn+wait latency, one client thread\n"
	    "   (us per spawn+wait: median over %d reps of the per-rep "
	    "median, [min-max] of those;\n   floor: posix_spawn + a ping "
	    "round trip; over floor: us beyond it, and as a share of\n"
	    "   posix_spawn)\n\n", r ? r->n : 0);
	printf("   %-8s %-13s %10s %21s %14s %18s\n", "target", "mode",
	    "median", "[min-max]", "x posix_spawn", "over floor");
	for (i = 0; i < nc; i++) {
		base = val(1, cs[i], "posix_spawn", 1, "latency");
		ping = val(1, cs[i], "ping", 1, "latency");
		for (m = 0; m < 6; m++) {
			if ((r = find(1, cs[i], order[m], 1, "latency")) ==
			    NULL)
				continue;
			snprintf(mm, sizeof mm, "[%.1f-%.1f]", r->min, r->max);
			ob[0] = '\0';
			if ((m == 3 || m == 4) && !isnan(ping) && base > 0)
				snprintf(ob, sizeof ob, "%+.1f (%+.1f%%)",
				    r->med - base - ping,
				    (r->med - base - ping) * 100 / base);
			printf("   %-8s %-13s %10.1f %21s %14s %18s\n", cs[i],
			    order[m], r->med, mm,
			    ratio(rb, sizeof rb, r->med, base), ob);
		}
		if (!isnan(ping) && !isnan(base))
			printf("   %-8s %-13s %10.1f %21s %14s\n", cs[i],
			    "(floor)", base + ping, "",
			    ratio(rb, sizeof rb, base + ping, base));
	}
	rep_counts();
}

/* Workload 1's counts: what a spawn+wait costs in events, not time. */
static void
rep_counts(void)
{
	static const char *const order[] = { "fork", "vfork", "posix_spawn",
	    "spawnd", "spawnd_posix", "ping" };
	static const int	 col[] = { K_SYS_DAEMON, K_SYS_CLIENT,
	    K_SYS_CHILD, K_VCS_DAEMON, K_ICS_DAEMON, K_VCS_CLIENT,
	    K_ICS_CLIENT, K_FLT_CLIENT };
	char			 cs[8][32];
	const struct row	*r;
	int			 nc, i, m, j;

	cases(1, "sys_daemon", cs, &nc);
	if (nc == 0) {
		printf("\n   (no system call counts: see bench's note)\n");
		return;
	}
	r = find(1, cs[0], "posix_spawn", 1, "sys_client");
	printf("\n   counts per spawn+wait (mean per rep, median over %d reps; "
	    "they do not depend on\n   the machine's speed): system calls "
	    "of the daemon, of the caller (libspawnd, or\n   libc's spawn and "
	    "wait) and of the child (its set-up, the exec, the target's "
	    "own);\n   context switches, voluntary (wake-ups) and "
	    "involuntary, of the daemon and the\n   caller; the caller's "
	    "minor page faults\n\n", r ? r->n : 0);
	printf("   %-8s %-13s %8s %8s %8s %11s %11s %7s\n", "", "",
	    "sys", "sys", "sys", "cs daemon", "cs caller", "minflt");
	printf("   %-8s %-13s %8s %8s %8s %11s %11s %7s\n", "target", "mode",
	    "daemon", "caller", "child", "vol/invol", "vol/invol", "caller");
	for (i = 0; i < nc; i++)
		for (m = 0; m < 6; m++) {
			double	 v[8];

			if (find(1, cs[i], order[m], 1, "sys_daemon") == NULL)
				continue;
			for (j = 0; j < 8; j++)
				v[j] = val(1, cs[i], order[m], 1,
				    cnt_names[col[j]]);
			printf("   %-8s %-13s %8.1f %8.1f %8.1f %5.2f/%-5.2f "
			    "%5.2f/%-5.2f %7.1f\n", cs[i], order[m], v[0],
			    v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
		}
}

static void
rep_throughput(void)
{
	static const char *const order[] = { "fork", "vfork", "posix_spawn",
	    "spawnd", "spawnd_posix" };
	static const int	 ths[] = { 1, 2, 4, 8, 16, 20, 32, 64 };
	char			 cs[8][32], r1[16], r2[16], mm[40];
	const struct row	*r;
	double			 ps, vf;
	int			 nc, i, k, m, seen = 0;

	cases(2, "throughput", cs, &nc);
	if (nc == 0)
		return;
	for (i = 0; i < nc; i++)
		for (k = 0; k < 8; k++) {
			ps = val(2, cs[i], "posix_spawn", ths[k], "throughput");
			vf = val(2, cs[i], "vfork", ths[k], "throughput");
			for (m = 0; m < 5; m++) {
				if ((r = find(2, cs[i], order[m], ths[k],
				    "throughput")) == NULL)
					continue;
				if (!seen++) {
					printf("\n2. throughput, N client "
					    "threads (spawns/s: median of %d "
					    "reps [min-max]; latency of every "
					    "spawn, us)\n\n", r->n);
					printf("   %-6s %3s %-13s %9s %17s "
					    "%8s %8s %8s %9s\n", "target", "N",
					    "mode", "spawns/s", "[min-max]",
					    "x posix", "x vfork", "p50",
					    "p99");
				}
				snprintf(mm, sizeof mm, "[%.0f-%.0f]", r->min,
				    r->max);
				printf("   %-6s %3d %-13s %9.0f %17s %8s %8s "
				    "%8.1f %9.1f\n", cs[i], ths[k], order[m],
				    r->med, mm, ratio(r1, sizeof r1, r->med,
				    ps), ratio(r2, sizeof r2, r->med, vf),
				    val(2, cs[i], order[m], ths[k], "p50"),
				    val(2, cs[i], order[m], ths[k], "p99"));
			}
		}
}

/* The best workaround's rate for a variant, and its name. */
static double
best_workaround(const char *variant, const char **ret_name)
{
	static const char *const wa[] = { "mutex", "retry", "forklock" };
	const struct row	*r;
	double			 best = NAN;
	int			 i;

	*ret_name = "-";
	for (i = 0; i < 3; i++) {
		if ((r = find(3, variant, wa[i], -1, "ok_rate")) == NULL)
			continue;
		/* A workaround that lost spawns does not work around. */
		if (val(3, variant, wa[i], -1, "errors") > 0)
			continue;
		if (isnan(best) || r->med > best) {
			best = r->med;
			*ret_name = wa[i];
		}
	}
	return best;
}

static void
rep_write_exec(void)
{
	char			 cs[8][32], rb[16], mm[40];
	const struct row	*r, *e, *x, *a;
	const char		*bn;
	double			 best;
	int			 nc, i, m;

	cases(3, "ok_rate", cs, &nc);
	if (nc == 0)
		return;
	r = find(3, cs[0], "native", -1, "ok_rate");
	printf("\n3. write-then-exec, %d threads x %d rounds (ok spawns/s: "
	    "median of %d reps [min-max]; counts summed over reps)\n\n",
	    r ? r->threads : 0, r ? (int)(val(3, cs[0], "native", -1,
	    "attempts") / (r->threads ? r->threads : 1)) : 0, r ? r->n : 0);
	printf("   %-7s %-10s %9s %17s %9s %8s %9s %13s\n", "variant", "mode",
	    "ok/s", "[min-max]", "attempts", "ETXTBSY", "failures",
	    "x best w/a");
	for (i = 0; i < nc; i++) {
		best = best_workaround(cs[i], &bn);
		for (m = 0; m < W_COUNT; m++) {
			if ((r = find(3, cs[i], wmode_names[m], -1,
			    "ok_rate")) == NULL)
				continue;
			x = find(3, cs[i], wmode_names[m], -1, "etxtbsy");
			e = find(3, cs[i], wmode_names[m], -1, "errors");
			a = find(3, cs[i], wmode_names[m], -1, "attempts");
			snprintf(mm, sizeof mm, "[%.0f-%.0f]", r->min, r->max);
			printf("   %-7s %-10s %9.0f %17s %9.0f %8.0f %9.0f "
			    "%13s\n", cs[i], wmode_names[m], r->med, mm,
			    a ? a->med * r->n : NAN, x ? x->sum : NAN,
			    e ? e->sum : NAN,
			    ratio(rb, sizeof rb, r->med, best));
		}
		printf("   %-7s (best workaround: %s)\n", cs[i], bn);
	}
	printf("   ETXTBSY: for native, spawns lost to it; for retry, "
	    "retries it cost.\n");
}

static void
rep_bigmem(void)
{
	static const char *const order[] = { "fork", "vfork", "posix_spawn",
	    "spawnd", "spawnd_posix", "ping" };
	char			 cs[8][32], r1[16], r2[16];
	const struct row	*s, *b;
	double			 mib;
	int			 nc, m;

	cases(4, "latency_big", cs, &nc);
	if (nc == 0)
		return;
	mib = val(4, cs[0], "-", 1, "heap");
	printf("\n4. spawn+wait latency from a client with %.0f MiB of "
	    "touched memory against a small client\n   running at the same "
	    "time, the two taking turns every 10 rounds (target %s; us,\n"
	    "   median of %d reps; ping: a round trip to the daemon, no "
	    "spawn, as a control)\n\n", mib, cs[0],
	    (s = find(4, cs[0], "posix_spawn", 1, "latency_big")) ? s->n : 0);
	printf("   %-13s %10s %10s %12s %16s\n", "mode", "small", "big",
	    "big/small", "big x posix");
	for (m = 0; m < 6; m++) {
		s = find(4, cs[0], order[m], 1, "latency_small");
		b = find(4, cs[0], order[m], 1, "latency_big");
		if (s == NULL || b == NULL)
			continue;
		printf("   %-13s %10.1f %10.1f %12s %16s\n", order[m], s->med,
		    b->med, ratio(r1, sizeof r1, b->med, s->med), m == 5 ? "" :
		    ratio(r2, sizeof r2, b->med, val(4, cs[0], "posix_spawn",
		    1, "latency_big")));
	}
}

static void
rep_footprint(void)
{
	const struct row	*c, *k;

	if (find(5, "idle", "daemon", 0, "rss") == NULL)
		return;
	c = find(5, "conns", "daemon", -1, "rss_per");
	k = find(5, "children", "daemon", -1, "rss_per");
	printf("\n5. daemon memory (/proc/PID/smaps_rollup; private = "
	    "Private_Clean + Private_Dirty)\n\n");
	printf("   %-34s %10s %12s\n", "", "Rss", "private");
	printf("   %-34s %7.0f KiB %8.0f KiB\n", "idle", val(5, "idle",
	    "daemon", 0, "rss"), val(5, "idle", "daemon", 0, "private"));
	if (c != NULL)
		printf("   per idle connection (%4d open)    %9.0f B %10.0f B"
		    "\n", c->threads, c->med, val(5, "conns", "daemon", -1,
		    "private_per"));
	if (k != NULL)
		printf("   per sleeping child  (%4d running) %9.0f B %10.0f B"
		    "\n", k->threads, k->med, val(5, "children", "daemon", -1,
		    "private_per"));
}

static void
rep_service(void)
{
	static const char *const wl[] = { "latency", "throughput" };
	static const char *const ms[] = { "all", "spawnd", "spawnd_posix" };
	const struct row	*r;
	char			 b1[32], b2[32];
	int			 i, j, seen = 0;

	for (i = 0; i < 2; i++)
		for (j = 0; j < 3; j++) {
			if ((r = find(6, wl[i], ms[j], 0, "spawns")) == NULL)
				continue;
			if (!seen++) {
				printf("\n6. daemon service time: the daemon's "
				    "CPU time per spawn, us (all = every "
				    "spawn through\n   the daemon in the "
				    "workload; per face: windows around "
				    "each spawn)\n\n");
				printf("   %-11s %-13s %9s %15s %13s\n",
				    "workload", "spawns via", "count",
				    "utime+stime/n", "schedstat/n");
			}
			printf("   %-11s %-13s %9.0f %15s %13s\n", wl[i],
			    ms[j], r->med, num(b1, sizeof b1, val(6, wl[i],
			    ms[j], 0, "service_stat")), num(b2, sizeof b2,
			    val(6, wl[i], ms[j], 0, "service_sched")));
		}
	rep_client_cpu();
}

/* The baseline of the service time: what a spawn costs the caller. */
static void
rep_client_cpu(void)
{
	static const char *const order[] = { "fork", "vfork", "posix_spawn",
	    "spawnd", "spawnd_posix" };
	char	 cs[8][32];
	int	 nc, i, m;

	cases(1, "client_cpu", cs, &nc);
	if (nc == 0)
		return;
	printf("\n   baseline, workload 1: CPU time of the calling thread per "
	    "spawn+wait, us (in-process\n   modes: the spawn's own cost, "
	    "clone and reaping included; spawnd modes: the library's)\n\n");
	printf("   %-8s", "target");
	for (m = 0; m < 5; m++)
		printf(" %13s", order[m]);
	printf("\n");
	for (i = 0; i < nc; i++) {
		printf("   %-8s", cs[i]);
		for (m = 0; m < 5; m++)
			printf(" %13.1f", val(1, cs[i], order[m], 1,
			    "client_cpu"));
		printf("\n");
	}
	/*
	 * On a machine whose CPUs the clients saturate, throughput goes as
	 * the inverse of the whole CPU cost of a spawn: the client's and the
	 * daemon's together for spawnd.
	 */
	printf("   %-8s %13s %13s %13s %13.1f %13.1f\n", "+daemon", "", "",
	    "", val(1, cs[nc - 1], "spawnd", 1, "client_cpu") +
	    val(6, "latency", "spawnd", 0, "service_sched"),
	    val(1, cs[nc - 1], "spawnd_posix", 1, "client_cpu") +
	    val(6, "latency", "spawnd_posix", 0, "service_sched"));
	printf("   (+daemon: %s's client CPU plus the daemon's schedstat time "
	    "per spawn, workload 1)\n", cs[nc - 1]);
}

/* One line of the targets section. */
static void
target(const char *what, double got, const char *want, int met)
{
	char	 g[32];

	if (isnan(got))
		snprintf(g, sizeof g, "-");
	else
		snprintf(g, sizeof g, "%.2f", got);
	printf("   %-60s %10s  %-9s %s\n", what, g, want, isnan(got) ?
	    "not measured" : met ? "met" : "NOT met");
	if (isnan(got))
		return;
	if (met)
		nmet++;
	else
		nnot++;
}

static void
rep_targets(void)
{
	static const int	 ths[] = { 4, 20 };
	static const char *const sm[] = { "spawnd", "spawnd_posix" };
	static const char *const wm[] = { "spawnd", "spawnd_fd" };
	char			 cs[8][32], what[128];
	const char		*bn;
	double			 a, b, c, d;
	int			 nc, i, k, j;

	printf("\ntargets (issues 6 and 15; ratios within this run)\n\n");
	printf("   %-60s %10s  %-9s %s\n", "", "measured", "target",
	    "result");
	cases(1, "latency", cs, &nc);
	for (i = 0; i < nc; i++)
		for (j = 0; j < 2; j++) {
			a = val(1, cs[i], sm[j], 1, "latency") /
			    val(1, cs[i], "posix_spawn", 1, "latency");
			snprintf(what, sizeof what, "latency %.31s: %s / "
			    "posix_spawn", cs[i], sm[j]);
			target(what, a, "<= 1.10x", a <= 1.10);
		}
	cases(2, "throughput", cs, &nc);
	for (i = 0; i < nc; i++)
		for (k = 0; k < 2; k++) {
			a = val(2, cs[i], "spawnd", ths[k], "throughput");
			b = val(2, cs[i], "vfork", ths[k], "throughput");
			c = val(2, cs[i], "posix_spawn", ths[k],
			    "throughput");
			snprintf(what, sizeof what, "throughput %.31s x%d: "
			    "spawnd / vfork", cs[i], ths[k]);
			target(what, a / b, ">= 1.00x", a / b >= 1.0);
			snprintf(what, sizeof what, "throughput %.31s x%d: "
			    "spawnd / posix_spawn", cs[i], ths[k]);
			target(what, a / c, ">= 1.30x", a / c >= 1.3);
			a = val(2, cs[i], "spawnd", ths[k], "p99");
			b = val(2, cs[i], "vfork", ths[k], "p99");
			c = val(2, cs[i], "posix_spawn", ths[k], "p99");
			d = b < c ? b : c;
			snprintf(what, sizeof what, "p99 %.31s x%d: spawnd / "
			    "lower of vfork, posix_spawn", cs[i], ths[k]);
			target(what, a / d, "< 1.00x", a < b && a < c);
		}
	cases(3, "ok_rate", cs, &nc);
	for (i = 0; i < nc; i++)
		for (j = 0; j < 2; j++) {
			if (find(3, cs[i], wm[j], -1, "ok_rate") == NULL)
				continue;
			a = find(3, cs[i], wm[j], -1, "etxtbsy")->sum;
			snprintf(what, sizeof what, "write-exec %.31s: %s "
			    "ETXTBSY", cs[i], wm[j]);
			target(what, a, "0", a == 0);
			b = best_workaround(cs[i], &bn);
			a = val(3, cs[i], wm[j], -1, "ok_rate") / b;
			snprintf(what, sizeof what, "write-exec %.31s: %s / "
			    "best workaround (%s)", cs[i], wm[j], bn);
			target(what, a, ">= 1.15x", a >= 1.15);
		}
	cases(4, "latency_big", cs, &nc);
	if (nc > 0) {
		a = val(4, cs[0], "spawnd", 1, "latency_big") /
		    val(4, cs[0], "spawnd", 1, "latency_small");
		snprintf(what, sizeof what, "%.0f MiB client: spawnd big / "
		    "small", val(4, cs[0], "-", 1, "heap"));
		target(what, a, "<= 1.10x", a <= 1.10);
		a = val(4, cs[0], "ping", 1, "latency_big") /
		    val(4, cs[0], "ping", 1, "latency_small");
		if (!isnan(a))
			printf("   (control: a ping round trip, no spawn at all, "
			    "is %.2fx slower from the big client)\n", a);
	}
	a = val(6, "latency", "all", 0, "cpu_stat") + val(6, "throughput",
	    "all", 0, "cpu_stat");
	b = val(6, "latency", "all", 0, "spawns") + val(6, "throughput", "all",
	    0, "spawns");
	target("service time, workloads 1+2, us/spawn (utime+stime)", a / b,
	    "<= 100", a / b <= 100);
	a = val(6, "latency", "spawnd", 0, "service_sched");
	target("service time, handle API, us/spawn (schedstat, w1)", a,
	    "<= 100", a <= 100);
	cases(1, "client_cpu", cs, &nc);
	for (i = 0; i < nc; i++)
		printf("   (baseline: posix_spawn+waitpid of %s costs its caller"
		    " %.1f us of CPU)\n", cs[i], val(1, cs[i], "posix_spawn",
		    1, "client_cpu"));
	/* Issue 15: the daemon's CPU per spawn against that baseline. */
	a = val(6, "latency", "all", 0, "cpu_stat") + val(6, "throughput",
	    "all", 0, "cpu_stat");
	b = val(6, "latency", "all", 0, "spawns") + val(6, "throughput", "all",
	    0, "spawns");
	for (i = 0; i < nc; i++) {
		c = a / b / val(1, cs[i], "posix_spawn", 1, "client_cpu");
		snprintf(what, sizeof what, "daemon CPU per spawn (w1+2) / "
		    "posix_spawn caller CPU, %.31s", cs[i]);
		target(what, c, "<= 1.00x", c <= 1.0);
	}
	a = val(5, "idle", "daemon", 0, "private");
	target("idle private memory, KiB", a, "<= 1536", a <= 1536);
	a = val(5, "conns", "daemon", -1, "private_per");
	b = val(5, "conns", "daemon", -1, "rss_per");
	target("per idle connection, B (private)", a, "<= 4096", a <= 4096);
	target("per idle connection, B (Rss)", b, "<= 4096", b <= 4096);
	a = val(5, "children", "daemon", -1, "private_per");
	b = val(5, "children", "daemon", -1, "rss_per");
	target("per running child, B (private)", a, "<= 1024", a <= 1024);
	target("per running child, B (Rss)", b, "<= 1024", b <= 1024);
	printf("\n   %d met, %d NOT met\n", nmet, nnot);
}

/* Prints every table, then the targets, from one run's CSV. */
static int
report(const char *path)
{
	if (load(path) == -1)
		return -1;
	rep_latency();
	rep_throughput();
	rep_write_exec();
	rep_bigmem();
	rep_footprint();
	rep_service();
	rep_targets();
	free(rows);
	return 0;
}
