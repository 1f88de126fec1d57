/*
 * The input format of fuzz-conn: a script a fake client plays against
 * daemon/conn.c.  Shared by fuzz-conn.c, which plays it, and gen-corpus.c,
 * which writes the seeds.  All integers little-endian.
 *
 *	byte 0		CS_* set-up bits
 *	then ops	op byte: bits 0-3 CS_OP_* (modulo CS_OP_COUNT), bits
 *			4-5 the client slot (0..CS_SLOTS-1, 3 is slot 0),
 *			bits 6-7 a modifier; then the op's arguments
 *
 * Slot 0 is connected when the script starts.  A script that ends inside
 * an op's arguments ends there.  Ops on a slot with no connection, or
 * beyond the caps, do nothing.
 *
 *	FRAME	u8 type, u8 flags, u8 id, u8 fds, u16 len, payload
 *		One datagram: a header built by the player (magic, version,
 *		the given type, flags and id, length = payload bytes, nfds =
 *		fds carried) and the payload.  fds: bits 0-3 the number of fds
 *		sent with it (at most CS_MAX_FDS), bits 4-5 which kind comes
 *		first (pipe read end, pipe write end, /dev/null), bit 7: the
 *		header claims one fd more than is sent.  The payload is the
 *		next len bytes of the script (fewer if it ends), or with
 *		CS_PAD len zero bytes (big frames cost no script).
 *	RAW	u8 fds, u16 len, bytes: a datagram exactly as given (fds and
 *		CS_PAD as for FRAME)
 *	SHUT	shutdown(SHUT_WR) of the client end
 *	EXIT	u8 which, u8 how: the which-th (modulo) fake child that has
 *		not exited yet exits; the daemon reaps it in the event loop.
 *		how: bit 7 killed by signal (how & 63) + 1, else exit status
 *		how & 127
 *	LOOP	one non-blocking turn of the event loop, (modifier + 1) times
 *	READ	u8 n: read and check up to n replies on the slot (0: all that
 *		are there)
 *	CONNECT	a new connection in the slot; modifier 1: uid
 *		CS_UID_BASE + 1, 2: root, else CS_UID_BASE
 *	CLOSE	close the client end of the slot
 *	FAIL	u8 step, u8 errno: the next spawn fails, at PROTO_STEP_*
 *		1 + step % 13 with errno 1 + errno % 133
 *	SWEEP	run the once-a-second deadline sweep now; with CS_PAD and
 *		CS_TIGHT, first wait past the (1 ms) deadlines (once a script)
 *	PINGS	u8 n: n PING frames, ids 0..n-1
 *	HELLO	a valid HELLO, id 0
 *	QUIT	the daemon stops as on SIGTERM (daemon_quit(): every
 *		connection closed); CONNECT does nothing after it
 */

#ifndef CONN_SCRIPT_H
#define CONN_SCRIPT_H

/* Set-up bits, byte 0. */
#define CS_TIGHT	0x01	/* small limits, as set by spawnd's flags */
#define CS_SMALLBUF	0x02	/* the daemon's sends fill the socket early */
#define CS_ROOT		0x04	/* the first connection is root's, not
				   CS_UID_BASE's */
#define CS_DEBUG	0x08	/* spawnd --debug: a log entry per spawn */

#define CS_OP_FRAME	0
#define CS_OP_RAW	1
#define CS_OP_SHUT	2
#define CS_OP_EXIT	3
#define CS_OP_LOOP	4
#define CS_OP_READ	5
#define CS_OP_CONNECT	6
#define CS_OP_CLOSE	7
#define CS_OP_FAIL	8
#define CS_OP_SWEEP	9
#define CS_OP_PINGS	10
#define CS_OP_HELLO	11
#define CS_OP_QUIT	12
#define CS_OP_COUNT	13	/* op numbers wrap modulo this */

#define CS_OP(op, slot, mod)	((op) | (slot) << 4 | (mod) << 6)
#define CS_PAD		2	/* modifier of FRAME, RAW and SWEEP */

#define CS_FDS_LIE	0x80	/* FRAME: nfds in the header one too many */

#define CS_SLOTS	3	/* client connections at a time */
#define CS_MAX_FDS	8	/* fds on one datagram */

#define CS_UID_SAME	0
#define CS_UID_OTHER	1
#define CS_UID_ROOT	2
#define CS_UID_BASE	1000	/* peer uids are made up: 1000, 1001, 0 */

#define CS_FIRST_PID	1000	/* fake pids count up from here per script */

#endif
