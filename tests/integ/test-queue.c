/*
 * test-queue: --max-queue is a bound, LIST included (issue 12, item 4).
 *
 * A LIST's replies may go past --max-queue (a client must be able to list
 * every child).  That allowance used to be forgotten only when the queue
 * drained completely, and each LIST added to it: a client that read about
 * what each LIST sent and listed again, then stopped reading, could make
 * the daemon queue without end (RSS 3.5 MiB to 122 MiB with --max-queue
 * at 1 MiB).  Here: the default --max-queue (1 MiB), 50 children with
 * long argv (a LIST answers about 15 KiB), a backlog of PONGs near the
 * limit, 300 rounds of LIST and reading as much, then a flood of PINGs
 * never read.  The connection must be dropped once the queue holds
 * --max-queue plus one LIST, and the daemon's VmRSS stay within 4 MiB of
 * where it was (1 MiB of queue costs about 2 MiB of heap in small
 * replies).
 */

#include "testlib.h"
#include "../stress/stresslib.h"

#define NCHILD		50
#define ROUNDS		300
#define FLOOD		200000

/* Sends one header-only frame of type; 0 or -errno. */
static int
send_empty(int s, uint16_t type, uint32_t id)
{
	uint8_t	 b[PROTO_HDR_SIZE];

	st_hdr(b, type, 0, 0, 0, id);
	return st_send(s, b, sizeof b, NULL, 0);
}

/* Is the daemon built with ASan (libasan mapped)? */
static int
asan(pid_t pid)
{
	char	 path[64], line[512];
	FILE	*f;
	int	 yes = 0;

	snprintf(path, sizeof path, "/proc/%d/maps", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	while (!yes && fgets(line, sizeof line, f) != NULL)
		yes = strstr(line, "libasan") != NULL;
	fclose(f);
	return yes;
}

int
main(void)
{
	struct st_opts		 o = { .args = NULL };
	struct tl_daemon	 d;
	struct spawnd_client	*c = NULL;
	struct spawnd_child	*ch[NCHILD] = { NULL };
	struct spawnd_req	*req = NULL;
	struct st_frame		 f;
	char			 pad[251];
	const char		*argv[] = { "/bin/sh", "-c", "exec sleep 60",
				    pad, NULL };
	long			 rss0, rss1;
	size_t			 lbytes, got;
	int			 s = -1, i, k, r, sent = 0, closed = 0;

	signal(SIGPIPE, SIG_IGN);
	memset(pad, 'a', sizeof pad - 1);
	pad[sizeof pad - 1] = '\0';
	if (st_start(&d, &o) != 0)
		return tl_exit();
	if ((c = tl_connect(&d)) == NULL || spawnd_req_new(&req) < 0 ||
	    spawnd_req_set_argv(req, argv) < 0)
		goto out;
	for (i = 0; i < NCHILD; i++)
		CHECK_OK(spawnd_spawn(c, req, &ch[i], NULL));
	/* The size of one LIST's answer, on another connection. */
	if ((s = st_raw_connect(d.sock)) < 0 || st_hello(s, 1) != 0 ||
	    send_empty(s, PROTO_LIST, 2) != 0) {
		tl_fail(__FILE__, __LINE__, "raw connect");
		goto out;
	}
	for (lbytes = 0; st_recv(s, &f, 5000, NULL) == 1;) {
		lbytes += f.len;
		if (f.type == PROTO_OK)
			break;
	}
	close(s);
	tl_log("  a LIST answers %zu bytes", lbytes);
	CHECK_INT(lbytes, >, NCHILD * 250);
	if ((s = st_raw_connect(d.sock)) < 0 || st_hello(s, 1) != 0) {
		tl_fail(__FILE__, __LINE__, "raw connect");
		goto out;
	}
	rss0 = st_rss_kib(d.pid);
	tl_log("== %d rounds: LIST, read as much; daemon RSS %ld KiB",
	    ROUNDS, rss0);
	/*
	 * A backlog of 880 KB (20000 PONGs) that the socket cannot hold: the
	 * queue stays near --max-queue, and never drains, from here on.
	 */
	for (i = 0; i < 20000; i++)
		CHECK_OK(send_empty(s, PROTO_PING, 1));
	for (k = 0; k < ROUNDS && !closed; k++) {
		if (send_empty(s, PROTO_LIST, 2) != 0) {
			closed = 1;
			break;
		}
		/* As many bytes as a LIST answers: entries and its OK. */
		for (got = 0; got < lbytes;) {
			if (st_recv(s, &f, 5000, NULL) != 1) {
				closed = 1;
				break;
			}
			got += f.len;
		}
	}
	tl_log("  %d rounds done%s; flooding with PINGs, reading nothing", k,
	    closed ? " (dropped)" : "");
	CHECK(!closed);		/* that much is a client's right */
	for (i = 0; i < FLOOD && !closed; i++) {
		if ((r = send_empty(s, PROTO_PING, 3)) == 0)
			sent++;
		else if (r == -EPIPE || r == -ECONNRESET || r == -ETIMEDOUT)
			closed = 1;
	}
	rss1 = st_rss_kib(d.pid);
	tl_log("  %d PINGs sent, connection %s; daemon RSS %ld KiB (+%ld)",
	    sent, closed ? "dropped" : "kept", rss1, rss1 - rss0);
	/*
	 * The queue: 1 MiB + one LIST, in 44-byte replies of 80-byte chunks
	 * (under ASan, its quarantine keeps what was freed: RSS says little).
	 */
	if (!asan(d.pid))
		CHECK_INT(rss1 - rss0, <, 4096);
	CHECK_INT(sent, <, (1048576 + (int)lbytes) / 44 + 1000);
	CHECK(closed);
	CHECK_OK(tl_ping(d.sock, 5000));
out:
	if (s >= 0)
		close(s);
	for (i = 0; i < NCHILD; i++)
		spawnd_child_free(ch[i]);
	spawnd_req_free(req);
	spawnd_client_free(c);
	tl_stop(&d);
	return tl_exit();
}
