/*
 * Logging.  Under systemd (JOURNAL_STREAM names our stderr) entries go to
 * the journal natively, with PRIORITY and any extra fields (CLIENT_PID=,
 * CHILD_PID=, EXECUTABLE=, ERRNO=...); otherwise lines go to stderr,
 * prefixed with the program name.  Every call preserves errno.
 *
 * The daemon holds no writable regular file, not even the one its stdout
 * or stderr was redirected to (spawnd >log 2>&1): log_detach() gives such
 * a file to a logger process, which copies a pipe into it, and keeps the
 * pipe's write end instead.
 */

#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "spawnd-int.h"

#define LOG_MAX_FIELDS	8

static void	log_vemit(int, const char *, va_list, int);
static int	log_is_file(int);
static void	log_copy(const int *, const int *, int) __attribute__((noreturn));
static void	log_emit(int, const char *, const char *const *);

static void	log_wait_logger(void);

static int	log_debug_on;
static int	log_logger_fd = -1;	/* EOF: the logger has written all */
static int	log_journal;

/* Is fd a regular file open for writing? */
static int
log_is_file(int fd)
{
	struct stat	 st;
	int		 fl;

	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode))
		return 0;
	fl = fcntl(fd, F_GETFL);
	return fl != -1 && (fl & O_ACCMODE) != O_RDONLY;
}

/*
 * The logger's loop: what comes on in[k] goes to out[k], until every pipe
 * is at EOF (the daemon has exited).  It never forks, and holds nothing
 * but the pipes and the files.
 */
static void
log_copy(const int *in, const int *out, int n)
{
	struct pollfd	 pfd[2];
	char		 buf[4096];
	ssize_t		 r, w, off;
	int		 k, open = n;

	for (k = 0; k < n; k++) {
		pfd[k].fd = in[k];
		pfd[k].events = POLLIN;
	}
	while (open > 0) {
		if (poll(pfd, (nfds_t)n, -1) == -1) {
			if (errno == EINTR)
				continue;
			_exit(1);
		}
		for (k = 0; k < n; k++) {
			if (pfd[k].fd == -1 || pfd[k].revents == 0)
				continue;
			if ((r = read(pfd[k].fd, buf, sizeof buf)) == -1 &&
			    errno == EINTR)
				continue;
			if (r <= 0) {
				pfd[k].fd = -1;
				open--;
				continue;
			}
			for (off = 0; off < r;) {
				w = write(out[k], buf + off, (size_t)(r - off));
				if (w > 0)
					off += w;
				else if (w == 0 || errno != EINTR)
					break;
			}
		}
	}
	_exit(0);
}

/*
 * If stdout or stderr is a writable regular file, a logger process (a
 * grandchild, so that it is nobody's zombie here) takes it over, and the
 * daemon writes to a pipe to it instead, non-blocking: a stuck logger
 * costs log lines, never the loop.  Called first thing, when the daemon
 * holds no other fd than stdio and the activation sockets (below nkeep).
 */
void
log_detach(int nkeep)
{
	int	 fds[2] = { STDOUT_FILENO, STDERR_FILENO };
	int	 in[2], out[2], w[2], p[2], done[2], n = 0, k, st;
	pid_t	 pid;

	for (k = 0; k < 2; k++) {
		if (!log_is_file(fds[k]))
			continue;
		if (pipe2(p, O_CLOEXEC) == -1)
			fatal("pipe2");
		in[n] = p[0];
		w[n] = p[1];
		out[n++] = fds[k];
	}
	if (n == 0)
		return;
	if (pipe2(done, O_CLOEXEC) == -1 || (pid = fork()) == -1)
		fatal("logger");
	if (pid == 0) {
		if (fork() != 0)
			_exit(0);
		(void)prctl(PR_SET_NAME, "spawnd-log");
		(void)signal(SIGINT, SIG_IGN);
		(void)signal(SIGHUP, SIG_IGN);
		(void)signal(SIGTERM, SIG_IGN);
		(void)signal(SIGPIPE, SIG_IGN);
		for (k = 0; k < n; k++)
			(void)close(w[k]);
		for (k = 3; k < nkeep; k++)
			(void)close(k);
		(void)close(done[0]);
		log_copy(in, out, n);	/* done[1] closes as it exits */
	}
	(void)close(done[1]);
	log_logger_fd = done[0];
	if (atexit(log_wait_logger) != 0)
		fatalx("atexit failed");
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		continue;
	for (k = 0; k < n; k++) {
		if (dup2(w[k], out[k]) == -1)
			fatal("dup2");
		(void)fcntl(out[k], F_SETFL, O_NONBLOCK);
		(void)close(w[k]);
		(void)close(in[k]);
	}
}

/*
 * At exit: the last lines (a fatal error's) must be in the file before
 * whoever started us reads it.  Let go of the pipes, and wait (2 s at
 * most) for the logger to have copied them and exited.
 */
static void
log_wait_logger(void)
{
	struct pollfd	 pfd = { log_logger_fd, POLLIN, 0 };
	char		 b;
	int		 fd;

	(void)fflush(stdout);
	if ((fd = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1)
		return;
	(void)dup2(fd, STDOUT_FILENO);
	(void)dup2(fd, STDERR_FILENO);
	(void)close(fd);
	while (poll(&pfd, 1, 2000) == 1 && read(log_logger_fd, &b, 1) == -1 &&
	    errno == EINTR)
		continue;
}

/* Decides once whether stderr is the journal, as sd-daemon(3) describes. */
void
log_init(int debug)
{
	const char	*js;
	char		*end;
	struct stat	 st;
	unsigned long	 dev, ino;
	int		 saved = errno;

	log_debug_on = debug;
	if ((js = getenv("JOURNAL_STREAM")) == NULL)
		return;
	/* "DEV:INO"; strtoul, unlike sscanf, reports overflow. */
	errno = 0;
	dev = strtoul(js, &end, 10);
	if (end != js && *end == ':') {
		js = end + 1;
		ino = strtoul(js, &end, 10);
		if (errno == 0 && end != js && *end == '\0' &&
		    fstat(STDERR_FILENO, &st) == 0 &&
		    st.st_dev == dev && st.st_ino == ino)
			log_journal = 1;
	}
	errno = saved;
}

static void
log_vemit(int pri, const char *fmt, va_list ap, int with_errno)
{
	char	 msg[1024];
	size_t	 n;
	int	 saved = errno;

	(void)vsnprintf(msg, sizeof msg, fmt, ap);
	if (with_errno && (n = strlen(msg)) < sizeof msg)
		(void)snprintf(msg + n, sizeof msg - n, ": %s",
		    strerror(saved));
	log_emit(pri, msg, NULL);
	errno = saved;
}

/* One entry: to the journal with its fields, or one line to stderr. */
static void
log_emit(int pri, const char *msg, const char *const *fields)
{
	struct iovec	 iov[3 + LOG_MAX_FIELDS];
	char		 m[1100], p[16];
	int		 n = 0;

	if (!log_journal) {
		fprintf(stderr, "spawnd: %s\n", msg);
		return;
	}
	(void)snprintf(m, sizeof m, "MESSAGE=%s", msg);
	(void)snprintf(p, sizeof p, "PRIORITY=%d", pri);
	iov[n].iov_base = m;
	iov[n++].iov_len = strlen(m);
	iov[n].iov_base = p;
	iov[n++].iov_len = strlen(p);
	iov[n].iov_base = (void *)(uintptr_t)"SYSLOG_IDENTIFIER=spawnd";
	iov[n++].iov_len = strlen("SYSLOG_IDENTIFIER=spawnd");
	for (; fields != NULL && *fields != NULL && n < 3 + LOG_MAX_FIELDS;
	    fields++) {
		iov[n].iov_base = (void *)(uintptr_t)*fields;
		iov[n++].iov_len = strlen(*fields);
	}
	if (sd_journal_sendv(iov, n) < 0)
		fprintf(stderr, "<%d>%s\n", pri, msg);
}

/*
 * An entry with structured fields ("KEY=value", NULL-terminated), for
 * events about clients and children.  Debug entries only with --debug.
 */
void
log_fields(int pri, const char *const *fields, const char *fmt, ...)
{
	va_list	 ap;
	char	 msg[1024];
	int	 saved = errno;

	if (pri == LOG_DEBUG && !log_debug_on)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_emit(pri, msg, fields);
	errno = saved;
}

int
log_debugging(void)
{
	return log_debug_on;
}

void
log_warn(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vemit(LOG_WARNING, fmt, ap, 1);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vemit(LOG_WARNING, fmt, ap, 0);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vemit(LOG_INFO, fmt, ap, 0);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	 ap;

	if (!log_debug_on)
		return;
	va_start(ap, fmt);
	log_vemit(LOG_DEBUG, fmt, ap, 0);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vemit(LOG_CRIT, fmt, ap, 1);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	log_vemit(LOG_CRIT, fmt, ap, 0);
	va_end(ap);
	exit(1);
}

/*
 * Escapes a client-supplied string for a log line: printable ASCII stays,
 * everything else becomes \xHH; long strings are cut with "...".
 */
const char *
log_quote(const char *s, char *buf, size_t len)
{
	size_t	 o = 0;

	for (; *s != '\0' && o + 8 < len; s++) {
		unsigned char	 ch = (unsigned char)*s;

		if (ch >= 0x20 && ch < 0x7f && ch != '\\' && ch != '\'')
			buf[o++] = (char)ch;
		else
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", ch);
	}
	if (*s != '\0' && o + 4 <= len) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
	return buf;
}
