/*
 * Logging to stderr.  Under systemd (JOURNAL_STREAM names our stderr) each
 * line carries a <N> priority prefix the journal understands; otherwise it
 * is prefixed with the program name.  Every call preserves errno.
 */

#include <sys/stat.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "spawnd-int.h"

static void	log_vemit(int, const char *, va_list, int);

static int	log_debug_on;
static int	log_journal;

/* Decides once whether stderr is the journal, as sd-daemon(3) describes. */
void
log_init(int debug)
{
	const char	*js;
	struct stat	 st;
	unsigned long	 dev, ino;

	log_debug_on = debug;
	js = getenv("JOURNAL_STREAM");
	if (js != NULL && sscanf(js, "%lu:%lu", &dev, &ino) == 2 &&
	    fstat(STDERR_FILENO, &st) == 0 &&
	    st.st_dev == dev && st.st_ino == ino)
		log_journal = 1;
}

static void
log_vemit(int pri, const char *fmt, va_list ap, int with_errno)
{
	char	 msg[1024];
	int	 saved = errno;

	(void)vsnprintf(msg, sizeof msg, fmt, ap);
	if (log_journal)
		fprintf(stderr, "<%d>%s", pri, msg);
	else
		fprintf(stderr, "spawnd: %s", msg);
	if (with_errno)
		fprintf(stderr, ": %s", strerror(saved));
	fputc('\n', stderr);
	errno = saved;
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
