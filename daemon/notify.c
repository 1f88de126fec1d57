/*
 * notify.c: what the daemon tells its service manager, and idle exit.
 *
 * STATUS= is coalesced (at most one message per NOTIFY_STATUS_MS) so the
 * spawn path never pays for a notify per spawn.  Watchdog keep-alives are
 * sent from a timer of the event loop itself: a wedged loop stops them,
 * and systemd notices.  Idle exit: with --exit-idle-time, the daemon exits
 * once it has had no connection and no child for that long; a socket unit
 * starts it again on the next connection.
 */

#include <poll.h>
#include <stdlib.h>

#include <event2/event.h>
#include <systemd/sd-daemon.h>

#include "spawnd-int.h"

#define NOTIFY_STATUS_MS	200

static void	notify_status(int, short, void *);
static void	notify_watchdog(int, short, void *);
static void	notify_idle(int, short, void *);

static struct event	*notify_status_ev;
static struct event	*notify_watchdog_ev;
static struct event	*notify_idle_ev;
static unsigned int	 notify_idle_sec;

/* Arms the watchdog if systemd asked for one; idle_sec 0 = never exit. */
void
notify_init(unsigned int idle_sec)
{
	uint64_t	 usec;
	struct timeval	 tv;

	notify_idle_sec = idle_sec;
	if (getenv("NOTIFY_SOCKET") != NULL) {
		notify_status_ev = evtimer_new(sd.base, notify_status, NULL);
		if (notify_status_ev == NULL)
			fatalx("cannot create the status timer");
	}
	if (sd_watchdog_enabled(0, &usec) > 0) {
		/* Twice per period, as sd_watchdog_enabled(3) advises. */
		usec /= 2;
		tv.tv_sec = (time_t)(usec / 1000000);
		tv.tv_usec = (suseconds_t)(usec % 1000000);
		notify_watchdog_ev = event_new(sd.base, -1, EV_PERSIST,
		    notify_watchdog, NULL);
		if (notify_watchdog_ev == NULL ||
		    event_add(notify_watchdog_ev, &tv) == -1)
			fatalx("cannot arm the watchdog timer");
		log_info("watchdog every %llu ms",
		    (unsigned long long)usec / 1000);
	}
	if (idle_sec > 0 &&
	    (notify_idle_ev = evtimer_new(sd.base, notify_idle, NULL)) == NULL)
		fatalx("cannot create the idle timer");
	notify_changed();
}

/* Connections or children changed: refresh STATUS=, re-check idleness. */
void
notify_changed(void)
{
	struct timeval	 tv = { 0, (suseconds_t)NOTIFY_STATUS_MS * 1000 };
	struct timeval	 idle = { (time_t)notify_idle_sec, 0 };

	if (sd.quitting)
		return;
	/* Only a timer heap that cannot grow fails: a status or exit late. */
	if (notify_status_ev != NULL && !evtimer_pending(notify_status_ev,
	    NULL) && evtimer_add(notify_status_ev, &tv) == -1)
		log_warnx("cannot arm the status timer");
	if (notify_idle_ev == NULL)
		return;
	if (sd.nconns == 0 && sd.nchildren == 0) {
		if (!evtimer_pending(notify_idle_ev, NULL) &&
		    evtimer_add(notify_idle_ev, &idle) == -1)
			log_warnx("cannot arm the idle timer: not exiting "
			    "idle until the next change");
	} else
		evtimer_del(notify_idle_ev);
}

static void
notify_status(int fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	child_settle_all();		/* the spawns count, up to date */
	(void)sd_notifyf(0, "STATUS=Serving: %u connections, %u children, "
	    "%llu spawns", sd.nconns, sd.nchildren,
	    (unsigned long long)sd.spawns);
}

static void
notify_watchdog(int fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	(void)sd_notify(0, "WATCHDOG=1");
}

/*
 * Idle for the whole period.  A client may be waiting in the listen queue
 * right now: then stay, and serve it.
 */
static void
notify_idle(int fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	if (sd.nconns > 0 || sd.nchildren > 0 || listener_pending())
		return;
	log_info("idle for %u s, exiting", notify_idle_sec);
	daemon_quit();
}

/* Frees the timers at shutdown. */
void
notify_free(void)
{
	if (notify_status_ev != NULL)
		event_free(notify_status_ev);
	if (notify_watchdog_ev != NULL)
		event_free(notify_watchdog_ev);
	if (notify_idle_ev != NULL)
		event_free(notify_idle_ev);
	notify_status_ev = notify_watchdog_ev = notify_idle_ev = NULL;
}
