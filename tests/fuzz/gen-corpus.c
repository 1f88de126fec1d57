/*
 * Writes the seed corpus: gen-corpus SPAWNDIR FRAMEDIR CONNDIR.  Every
 * seed is a valid input, built with proto.c's own encoders.  The first
 * byte of a spawn or frame seed is the fd count, as those targets expect;
 * a conn seed is a script (conn-script.h) of a client session, each
 * aimed at one part of the connection state machine.  Run once, output
 * committed.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "conn-script.h"

/* A conn script being written. */
struct script {
	uint8_t		 b[4096];
	size_t		 len;
};

static const char	*spawn_dir, *frame_dir, *conn_dir;

static void	save(const char *, const char *, int, const uint8_t *,
		    size_t);
static void	spawn_seed(const char *, uint8_t, const struct proto_spawn *);
static void	frame_seed(const char *, uint16_t, uint16_t, uint8_t,
		    const uint8_t *, size_t);
static void	spawn_seeds(void);
static void	frame_seeds(void);
static void	sc_begin(struct script *, uint8_t);
static void	sc_put(struct script *, const void *, size_t);
static void	sc_op(struct script *, int, int, int);
static void	sc_arg(struct script *, uint8_t);
static void	sc_frame(struct script *, int, uint8_t, uint8_t, uint8_t,
		    uint8_t, const uint8_t *, size_t);
static void	sc_spawn(struct script *, int, uint8_t, uint8_t,
		    const struct proto_spawn *);
static void	sc_kill(struct script *, int, uint8_t, uint32_t, uint32_t,
		    uint32_t);
static void	sc_watch(struct script *, int, uint8_t, uint32_t);
static void	sc_turn(struct script *, int);
static void	sc_save(const char *, const struct script *);
static void	conn_session_seeds(void);
static void	conn_limit_seeds(void);
static void	conn_garbage_seeds(void);

/* Writes p, after the fd count nfds unless it is -1. */
static void
save(const char *dir, const char *name, int nfds, const uint8_t *p,
    size_t len)
{
	char	 path[4096];
	FILE	*f;

	(void)snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL ||
	    (nfds != -1 && fputc(nfds, f) == EOF) ||
	    fwrite(p, 1, len, f) != len || fclose(f) == EOF) {
		fprintf(stderr, "gen-corpus: %s: %s\n", path, strerror(errno));
		exit(1);
	}
}

static void
spawn_seed(const char *name, uint8_t nfds, const struct proto_spawn *req)
{
	struct proto_buf	b;
	struct proto_spawn	chk;

	proto_buf_init(&b);
	proto_encode_spawn(&b, req);
	if (b.err != 0 || proto_decode_spawn(b.data, b.len, nfds, &chk) != 0) {
		fprintf(stderr, "gen-corpus: %s: invalid seed\n", name);
		exit(1);
	}
	proto_spawn_free(&chk);
	save(spawn_dir, name, nfds, b.data, b.len);
	proto_buf_free(&b);
}

static void
frame_seed(const char *name, uint16_t type, uint16_t flags, uint8_t nfds,
    const uint8_t *p, size_t len)
{
	struct proto_hdr	h = { type, flags, (uint32_t)len, nfds, 7 };
	uint8_t			buf[4096];

	proto_encode_hdr(buf, &h);
	if (len != 0)
		memcpy(buf + PROTO_HDR_SIZE, p, len);
	save(frame_dir, name, nfds, buf, PROTO_HDR_SIZE + len);
}

static void
spawn_seeds(void)
{
	static char		 a0[] = "/bin/sh", a1[] = "-c", a2[] = "echo hi";
	static char		 e0[] = "PATH=/usr/bin:/bin", e1[] = "HOME=/";
	static char		*argv[] = { a0, a1, a2, NULL };
	static char		*envp[] = { e0, e1, NULL };
	struct proto_fdmap	 fdmap[] = { { 0, 0, 0 }, { 1, 1, 0 },
				    { 1, 2, 0 } };
	struct proto_rlimit	 rl[] = { { 7, 256, 1024 }, { 4, 0, ~0ull } };
	struct proto_action	 act[] = {
		{ PROTO_ACT_OPEN, 3, -1, 0101, 0644, "/tmp/out" },
		{ PROTO_ACT_DUP2, 3, 1, 0, 0, NULL },
		{ PROTO_ACT_CLOSE, 3, -1, 0, 0, NULL },
		{ PROTO_ACT_CHDIR, -1, -1, 0, 0, "/tmp" },
		{ PROTO_ACT_FCHDIR, 4, -1, 0, 0, NULL },
		{ PROTO_ACT_CLOSEFROM, 5, -1, 0, 0, NULL },
		{ PROTO_ACT_TCSETPGRP, 0, -1, 0, 0, NULL },
	};
	struct proto_spawn	 r;

	memset(&r, 0, sizeof r);
	r.cwd_fd = r.exec_fd = -1;
	r.argc = 1;
	r.argv = argv;
	spawn_seed("minimal", 0, &r);
	r.argc = 3;
	r.envc = 2;
	r.envp = envp;
	r.path = "/bin/sh";
	r.cwd = "/";
	r.flags = PROTO_SPAWN_SETSID | PROTO_SPAWN_PATH_SEARCH;
	spawn_seed("env-path-cwd", 0, &r);
	r.path = r.cwd = NULL;
	r.cwd_fd = 1;
	r.exec_fd = 2;
	r.nfdmap = 3;
	r.fdmap = fdmap;
	spawn_seed("fds", 3, &r);
	r.cwd_fd = r.exec_fd = -1;
	r.nfdmap = 0;
	r.nactions = 7;
	r.actions = act;
	spawn_seed("actions", 0, &r);
	r.nactions = 0;
	r.has = 0xff;
	r.sigmask = 1 << 14;
	r.sigign = 1 << 12;
	r.umask = 027;
	r.nice = 10;
	r.sched_policy = 3;
	r.grace_ms = 500;
	r.timeout_ms = 10000;
	r.nrlimits = 2;
	r.rlimits = rl;
	r.flags = PROTO_SPAWN_ALL;
	spawn_seed("scalars", 0, &r);
	r.nfdmap = 3;
	r.fdmap = fdmap;
	r.nactions = 7;
	r.cwd_fd = 0;
	r.exec_fd = 1;
	spawn_seed("everything", 2, &r);
	r.has |= PROTO_HAS_CTTY;
	r.ctty = 0;
	spawn_seed("ctty", 2, &r);
}

static void
frame_seeds(void)
{
	uint8_t			p[64];
	struct proto_hello	he = { 1, 1 };
	struct proto_hello_ok	ok = { 1, 100, PROTO_MAX_REQUEST, 253 };
	struct proto_started	st = { 1234, 0 };
	struct proto_failed	fa = { 2, PROTO_STEP_EXEC, PROTO_NO_INDEX };
	struct proto_exited	ex = { 1234, 1, 0, 1000, 2000, 4096 };
	struct proto_kill	ki = { 7, 15, PROTO_KILL_GROUP };
	struct proto_pong	po = { 100, 1, 2, 3 };
	struct proto_error	er = { 71, "bad frame" };
	struct proto_buf	b;
	static const uint8_t	body[] = { 0, 0, 0, 0, 1, 0, 0, 0, 15, 0, 0,
				    0, 1, 0, 0, 0, 6, 0, 0, 0, 47, 98, 105,
				    110, 47, 115, 0 };

	frame_seed("hello", PROTO_HELLO, 0, 0, p, proto_encode_hello(p, &he));
	frame_seed("hello-ok", PROTO_HELLO_OK, 0, 0, p,
	    proto_encode_hello_ok(p, &ok));
	frame_seed("started", PROTO_STARTED, 0, 1, p,
	    proto_encode_started(p, &st));
	frame_seed("failed", PROTO_FAILED, 0, 0, p,
	    proto_encode_failed(p, &fa));
	frame_seed("exited", PROTO_EXITED, 0, 0, p,
	    proto_encode_exited(p, &ex));
	frame_seed("kill", PROTO_KILL, 0, 0, p, proto_encode_kill(p, &ki));
	frame_seed("ping", PROTO_PING, 0, 0, NULL, 0);
	frame_seed("ok", PROTO_OK, 0, 0, NULL, 0);
	frame_seed("pong", PROTO_PONG, 0, 0, p, proto_encode_pong(p, &po));
	proto_buf_init(&b);
	proto_encode_error(&b, &er);
	frame_seed("error", PROTO_ERROR, 0, 0, b.data, b.len);
	proto_buf_free(&b);
	frame_seed("spawn", PROTO_SPAWN, 0, 0, body, sizeof body);
	frame_seed("spawn-more", PROTO_SPAWN, PROTO_F_MORE, 0, body, 12);
}

static void
sc_begin(struct script *sc, uint8_t setup)
{
	sc->len = 0;
	sc_arg(sc, setup);
}

static void
sc_put(struct script *sc, const void *p, size_t len)
{
	if (len > sizeof sc->b - sc->len) {
		fprintf(stderr, "gen-corpus: script too long\n");
		exit(1);
	}
	memcpy(sc->b + sc->len, p, len);
	sc->len += len;
}

static void
sc_op(struct script *sc, int op, int slot, int mod)
{
	sc_arg(sc, (uint8_t)CS_OP(op, slot, mod));
}

static void
sc_arg(struct script *sc, uint8_t v)
{
	sc_put(sc, &v, 1);
}

/* A FRAME op: fds is the count, or'ed with the CS_FDS_* bits. */
static void
sc_frame(struct script *sc, int slot, uint8_t type, uint8_t flags,
    uint8_t id, uint8_t fds, const uint8_t *p, size_t len)
{
	uint8_t	 a[6] = { type, flags, id, fds, 0, 0 };

	proto_le16(a + 4, (uint16_t)len);
	sc_op(sc, CS_OP_FRAME, slot, 0);
	sc_put(sc, a, sizeof a);
	sc_put(sc, p, len);
}

/* A whole spawn request in one frame, with fds as sc_frame() has it. */
static void
sc_spawn(struct script *sc, int slot, uint8_t id, uint8_t fds,
    const struct proto_spawn *req)
{
	struct proto_buf	b;
	struct proto_spawn	chk;

	proto_buf_init(&b);
	proto_encode_spawn(&b, req);
	if (b.err != 0 ||
	    proto_decode_spawn(b.data, b.len, fds & 0x0f, &chk) != 0) {
		fprintf(stderr, "gen-corpus: invalid spawn in a script\n");
		exit(1);
	}
	proto_spawn_free(&chk);
	sc_frame(sc, slot, PROTO_SPAWN, 0, id, fds, b.data, b.len);
	proto_buf_free(&b);
}

static void
sc_kill(struct script *sc, int slot, uint8_t id, uint32_t child,
    uint32_t sig, uint32_t flags)
{
	struct proto_kill	k = { child, sig, flags };
	uint8_t			p[12];

	sc_frame(sc, slot, PROTO_KILL, 0, id, 0, p, proto_encode_kill(p, &k));
}

static void
sc_watch(struct script *sc, int slot, uint8_t id, uint32_t pid)
{
	uint8_t	 p[4];

	sc_frame(sc, slot, PROTO_WATCH, 0, id, 0, p, proto_encode_watch(p,
	    pid));
}

/* A turn of the daemon's loop, then the slot reads all it got. */
static void
sc_turn(struct script *sc, int slot)
{
	sc_op(sc, CS_OP_LOOP, 0, 0);
	sc_op(sc, CS_OP_READ, slot, 0);
	sc_arg(sc, 0);
}

static void
sc_save(const char *name, const struct script *sc)
{
	save(conn_dir, name, -1, sc->b, sc->len);
}

/* Sessions as the library has them: spawn, split request, kill, watch. */
static void
conn_session_seeds(void)
{
	static char		 a0[] = "/bin/true", a1[] = "x", e0[] = "A=b";
	static char		*argv[] = { a0, a1, NULL }, *envp[64];
	struct proto_fdmap	 fdmap[] = { { 0, 0, 0 }, { 1, 1, 0 },
				    { 2, 2, 0 } };
	struct proto_spawn	 r;
	struct proto_buf	 b;
	struct script		 sc;
	int			 i;

	memset(&r, 0, sizeof r);
	r.cwd_fd = r.exec_fd = -1;
	r.argc = 2;
	r.argv = argv;
	r.nfdmap = 3;
	r.fdmap = fdmap;
	sc_begin(&sc, 0);
	sc_op(&sc, CS_OP_HELLO, 0, 0);
	sc_spawn(&sc, 0, 1, 3 | 0x10, &r);
	sc_turn(&sc, 0);
	sc_op(&sc, CS_OP_EXIT, 0, 0);
	sc_arg(&sc, 0);
	sc_arg(&sc, 0);
	sc_turn(&sc, 0);
	sc_save("spawn-fds", &sc);

	/* 60 environment entries, split over three frames. */
	for (i = 0; i < 60; i++)
		envp[i] = e0;
	envp[i] = NULL;
	r.envc = 60;
	r.envp = envp;
	r.nfdmap = 2;
	proto_buf_init(&b);
	proto_encode_spawn(&b, &r);
	sc_begin(&sc, 0);
	sc_op(&sc, CS_OP_HELLO, 0, 0);
	sc_frame(&sc, 0, PROTO_SPAWN, PROTO_F_MORE, 9, 2, b.data, 100);
	sc_frame(&sc, 0, PROTO_SPAWN, PROTO_F_MORE, 9, 0, b.data + 100, 200);
	sc_frame(&sc, 0, PROTO_SPAWN, 0, 9, 0, b.data + 300, b.len - 300);
	sc_turn(&sc, 0);
	sc_save("spawn-split", &sc);
	/* The same, cut short by the client's half-close. */
	sc_begin(&sc, 0);
	sc_op(&sc, CS_OP_HELLO, 0, 0);
	sc_frame(&sc, 0, PROTO_SPAWN, PROTO_F_MORE, 9, 2, b.data, 100);
	sc_op(&sc, CS_OP_SHUT, 0, 0);
	sc_turn(&sc, 0);
	sc_save("spawn-split-shut", &sc);
	proto_buf_free(&b);

	r.envc = 0;
	r.envp = NULL;
	r.nfdmap = 0;
	sc_begin(&sc, 0);
	sc_op(&sc, CS_OP_HELLO, 0, 0);
	r.flags = PROTO_SPAWN_SETSID | PROTO_SPAWN_KILL_GROUP;
	sc_spawn(&sc, 0, 1, 0, &r);
	r.flags = PROTO_SPAWN_NO_PIDFD;
	sc_spawn(&sc, 0, 2, 0, &r);
	sc_turn(&sc, 0);
	sc_kill(&sc, 0, 3, 1, 15, PROTO_KILL_GROUP);
	sc_kill(&sc, 0, 4, 2, 9, PROTO_KILL_GROUP);	/* no leader */
	sc_kill(&sc, 0, 5, 7, 9, 0);			/* no such id */
	sc_kill(&sc, 0, 6, CS_FIRST_PID + 1, 1, PROTO_KILL_BY_PID);
	sc_kill(&sc, 0, 7, 1, 0, 0);			/* bad signal */
	sc_kill(&sc, 0, 8, 1, 9, 0x10);			/* bad flags */
	sc_turn(&sc, 0);
	sc_op(&sc, CS_OP_EXIT, 0, 0);
	sc_arg(&sc, 0);
	sc_arg(&sc, 0x80 | 14);				/* SIGTERM */
	sc_turn(&sc, 0);
	sc_save("kill", &sc);

	/* Another connection watches slot 0's child; a third uid may not. */
	r.flags = PROTO_SPAWN_DETACH;
	sc_begin(&sc, 0);
	sc_op(&sc, CS_OP_HELLO, 0, 0);
	sc_spawn(&sc, 0, 1, 0, &r);
	sc_turn(&sc, 0);
	sc_op(&sc, CS_OP_CONNECT, 1, CS_UID_SAME);
	sc_op(&sc, CS_OP_HELLO, 1, 0);
	sc_watch(&sc, 1, 5, CS_FIRST_PID);
	sc_op(&sc, CS_OP_CONNECT, 2, CS_UID_OTHER);
	sc_op(&sc, CS_OP_HELLO, 2, 0);
	sc_watch(&sc, 2, 6, CS_FIRST_PID);		/* EPERM */
	sc_watch(&sc, 2, 7, 4242);			/* ESRCH */
	sc_turn(&sc, 1);
	sc_turn(&sc, 2);
	sc_op(&sc, CS_OP_CLOSE, 0, 0);
	sc_frame(&sc, 1, PROTO_LIST, 0, 8, 0, NULL, 0);
	sc_turn(&sc, 1);
	sc_op(&sc, CS_OP_EXIT, 0, 0);
	sc_arg(&sc, 0);
	sc_arg(&sc, 3);
	sc_turn(&sc, 1);
	sc_save("watch", &sc);

	/* Root lists everyone's children, another uid none. */
	r.flags = 0;
	sc_begin(&sc, CS_ROOT);
	sc_op(&sc, CS_OP_HELLO, 0, 0);
	sc_spawn(&sc, 0, 1, 0, &r);
	r.argc = 1;
	sc_spawn(&sc, 0, 2, 0, &r);
	sc_op(&sc, CS_OP_CONNECT, 1, CS_UID_OTHER);
	sc_op(&sc, CS_OP_HELLO, 1, 0);
	sc_frame(&sc, 1, PROTO_LIST, 0, 3, 0, NULL, 0);
	sc_frame(&sc, 0, PROTO_LIST, 0, 3, 0, NULL, 0);
	sc_turn(&sc, 0);
	sc_turn(&sc, 1);
	sc_save("list", &sc);

	sc_begin(&sc, 0);
	sc_op(&sc, CS_OP_HELLO, 0, 0);
	sc_frame(&sc, 0, PROTO_PING, 0, 1, 0, NULL, 0);
	sc_op(&sc, CS_OP_PINGS, 0, 0);
	sc_arg(&sc, 40);
	sc_op(&sc, CS_OP_LOOP, 0, 3);
	sc_op(&sc, CS_OP_READ, 0, 0);
	sc_arg(&sc, 0);
	sc_save("ping", &sc);

	/* The spawn fails: at exec, then at file action 0. */
	r.argc = 2;
	sc_begin(&sc, 0);
	sc_op(&sc, CS_OP_HELLO, 0, 0);
	sc_op(&sc, CS_OP_FAIL, 0, 0);
	sc_arg(&sc, PROTO_STEP_EXEC - PROTO_STEP_REQUEST);
	sc_arg(&sc, 2 - 1);				/* ENOENT */
	sc_spawn(&sc, 0, 1, 0, &r);
	sc_op(&sc, CS_OP_FAIL, 0, 0);
	sc_arg(&sc, PROTO_STEP_ACTION - PROTO_STEP_REQUEST);
	sc_arg(&sc, 9 - 1);				/* EBADF */
	sc_spawn(&sc, 0, 2, 0, &r);
	sc_turn(&sc, 0);
	sc_save("spawn-failed", &sc);

	/* With --debug: a log entry per spawn, argv[0] quoted. */
	a0[1] = '\377';
	a0[2] = '\'';
	sc_begin(&sc, CS_DEBUG);
	sc_op(&sc, CS_OP_HELLO, 0, 0);
	sc_spawn(&sc, 0, 1, 0, &r);
	sc_op(&sc, CS_OP_FAIL, 0, 0);
	sc_arg(&sc, PROTO_STEP_CWD - PROTO_STEP_REQUEST);
	sc_arg(&sc, 20 - 1);				/* ENOTDIR */
	sc_spawn(&sc, 0, 2, 0, &r);
	sc_turn(&sc, 0);
	sc_save("debug-log", &sc);
	a0[1] = 'b';
	a0[2] = 'i';

	/* Replies queue behind a full socket, STARTED with its pidfd. */
	sc_begin(&sc, CS_SMALLBUF);
	sc_op(&sc, CS_OP_HELLO, 0, 0);
	sc_op(&sc, CS_OP_PINGS, 0, 0);
	sc_arg(&sc, 10);
	sc_spawn(&sc, 0, 1, 0, &r);
	sc_spawn(&sc, 0, 2, 0, &r);
	for (i = 0; i < 4; i++)
		sc_turn(&sc, 0);
	sc_save("queue-started", &sc);

	/* The daemon stops: tied and detached children, a watcher. */
	sc_begin(&sc, 0);
	sc_op(&sc, CS_OP_HELLO, 0, 0);
	sc_spawn(&sc, 0, 1, 0, &r);
	r.flags = PROTO_SPAWN_DETACH;
	sc_spawn(&sc, 0, 2, 0, &r);
	sc_op(&sc, CS_OP_CONNECT, 1, CS_UID_ROOT);
	sc_op(&sc, CS_OP_HELLO, 1, 0);
	sc_watch(&sc, 1, 3, CS_FIRST_PID);
	sc_turn(&sc, 0);
	sc_turn(&sc, 1);
	sc_op(&sc, CS_OP_QUIT, 0, 0);
	sc_op(&sc, CS_OP_EXIT, 0, 0);
	sc_arg(&sc, 0);
	sc_arg(&sc, 0x80 | 14);
	sc_turn(&sc, 0);
	sc_turn(&sc, 1);
	sc_save("quit", &sc);
}

/* spawnd's limits, as its flags set them (CS_TIGHT). */
static void
conn_limit_seeds(void)
{
	static char		 a0[] = "/bin/sh";
	static char		*argv[] = { a0, NULL };
	struct proto_spawn	 r;
	struct script		 sc;
	uint8_t			 a[6] = { PROTO_SPAWN, 0, 5, 0, 0x01, 0x10 };

	memset(&r, 0, sizeof r);
	r.cwd_fd = r.exec_fd = -1;
	r.argc = 1;
	r.argv = argv;
	sc_begin(&sc, CS_TIGHT);
	sc_op(&sc, CS_OP_HELLO, 0, 0);
	sc_spawn(&sc, 0, 1, 0, &r);
	sc_spawn(&sc, 0, 2, 0, &r);
	sc_spawn(&sc, 0, 3, 0, &r);			/* EAGAIN */
	sc_op(&sc, CS_OP_CONNECT, 1, CS_UID_SAME);
	sc_op(&sc, CS_OP_HELLO, 1, 0);
	sc_spawn(&sc, 1, 1, 0, &r);
	sc_spawn(&sc, 1, 2, 0, &r);			/* EAGAIN: 3 in all */
	sc_frame(&sc, 1, PROTO_SPAWN, 0, 3, 3, NULL, 0);	/* E2BIG */
	/* 4097 bytes, zeros: EMSGSIZE before it is decoded. */
	sc_op(&sc, CS_OP_FRAME, 1, CS_PAD);
	sc_put(&sc, a, sizeof a);
	sc_turn(&sc, 0);
	sc_turn(&sc, 1);
	sc_save("limits", &sc);

	/* A split request over --max-request: ERROR, closed. */
	a[1] = PROTO_F_MORE;
	proto_le16(a + 4, 3000);
	sc_begin(&sc, CS_TIGHT);
	sc_op(&sc, CS_OP_HELLO, 0, 0);
	sc_op(&sc, CS_OP_FRAME, 0, CS_PAD);
	sc_put(&sc, a, sizeof a);
	sc_op(&sc, CS_OP_FRAME, 0, CS_PAD);
	sc_put(&sc, a, sizeof a);
	sc_turn(&sc, 0);
	sc_save("split-too-large", &sc);

	/* Past one frame in all (the buffer grows): zeros, EPROTO. */
	sc_begin(&sc, 0);
	sc_op(&sc, CS_OP_HELLO, 0, 0);
	proto_le16(a + 4, 60000);
	sc_op(&sc, CS_OP_FRAME, 0, CS_PAD);
	sc_put(&sc, a, sizeof a);
	sc_op(&sc, CS_OP_FRAME, 0, CS_PAD);
	sc_put(&sc, a, sizeof a);
	a[1] = 0;
	sc_op(&sc, CS_OP_FRAME, 0, CS_PAD);
	sc_put(&sc, a, sizeof a);
	sc_turn(&sc, 0);
	sc_save("split-large", &sc);

	/*
	 * fds on the last frame of a split request, more than --max-fds:
	 * FAILED E2BIG, but the request stays open, so the PING after it is
	 * "inside a continued spawn request" (fds on any continuation frame
	 * are a protocol error; up to --max-fds of them get ERROR at once).
	 */
	sc_begin(&sc, CS_TIGHT);
	sc_op(&sc, CS_OP_HELLO, 0, 0);
	sc_frame(&sc, 0, PROTO_SPAWN, PROTO_F_MORE, 5, 0, (const uint8_t *)a0,
	    4);
	sc_frame(&sc, 0, PROTO_SPAWN, 0, 5, 3, (const uint8_t *)a0, 4);
	sc_turn(&sc, 0);
	sc_frame(&sc, 0, PROTO_PING, 0, 6, 0, NULL, 0);
	sc_turn(&sc, 0);
	sc_save("split-late-fds", &sc);

	/* A client that never reads: its queue fills, it is dropped. */
	sc_begin(&sc, CS_TIGHT | CS_SMALLBUF);
	sc_op(&sc, CS_OP_HELLO, 0, 0);
	sc_op(&sc, CS_OP_PINGS, 0, 0);
	sc_arg(&sc, 80);
	sc_op(&sc, CS_OP_LOOP, 0, 3);
	sc_op(&sc, CS_OP_LOOP, 0, 3);
	sc_op(&sc, CS_OP_READ, 0, 0);
	sc_arg(&sc, 0);
	sc_save("queue-full", &sc);

	/* Deadlines: no HELLO; a request left half sent with its fds. */
	sc_begin(&sc, CS_TIGHT);
	sc_op(&sc, CS_OP_SWEEP, 0, CS_PAD);
	sc_turn(&sc, 0);
	sc_save("handshake-timeout", &sc);
	sc_begin(&sc, CS_TIGHT);
	sc_op(&sc, CS_OP_HELLO, 0, 0);
	sc_frame(&sc, 0, PROTO_SPAWN, PROTO_F_MORE, 4, 2,
	    (const uint8_t *)a0, sizeof a0);
	sc_turn(&sc, 0);
	sc_op(&sc, CS_OP_SWEEP, 0, CS_PAD);
	sc_turn(&sc, 0);
	sc_save("request-timeout", &sc);
}

/* What breaks the protocol: each gets ERROR and a closed connection. */
static void
conn_garbage_seeds(void)
{
	static const uint8_t	 junk[] = { 0x53, 0x50, 2, 0, 1, 0, 0, 0, 8,
				    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0,
				    0, 1, 0, 0, 0 };
	static const uint8_t	 hello[] = { 1, 0, 0, 0, 1, 0, 0, 0 };
	static const uint8_t	 big[] = { PROTO_PING, 0, 1, 0, 0xff, 0xff };
	struct script		 sc;
	uint8_t			 a[3] = { 0, sizeof junk, 0 };

	sc_begin(&sc, 0);
	sc_op(&sc, CS_OP_RAW, 0, 0);			/* version 2 */
	sc_put(&sc, a, sizeof a);
	sc_put(&sc, junk, sizeof junk);
	sc_turn(&sc, 0);
	sc_save("bad-version", &sc);

	sc_begin(&sc, 0);
	sc_frame(&sc, 0, PROTO_PING, 0, 1, 0, NULL, 0);
	sc_turn(&sc, 0);
	sc_save("before-hello", &sc);

	sc_begin(&sc, 0);
	sc_op(&sc, CS_OP_HELLO, 0, 0);
	sc_frame(&sc, 0, PROTO_PING, 0, 1, 2 | 0x20, NULL, 0);
	sc_turn(&sc, 0);
	sc_save("fds-on-ping", &sc);

	sc_begin(&sc, 0);
	sc_op(&sc, CS_OP_HELLO, 0, 0);
	sc_frame(&sc, 0, PROTO_SPAWN, 0, 1, 1 | CS_FDS_LIE, NULL, 0);
	sc_turn(&sc, 0);
	sc_save("fd-count-lie", &sc);

	sc_begin(&sc, 0);
	sc_op(&sc, CS_OP_HELLO, 0, 0);
	sc_frame(&sc, 0, PROTO_HELLO, 0, 0, 0, hello, sizeof hello);
	sc_frame(&sc, 0, 0x7f, 0, 2, 0, NULL, 0);
	sc_turn(&sc, 0);
	sc_save("second-hello", &sc);

	sc_begin(&sc, 0);
	sc_op(&sc, CS_OP_HELLO, 0, 0);
	sc_frame(&sc, 0, PROTO_SPAWN, PROTO_F_MORE, 3, 0, hello, 4);
	sc_frame(&sc, 0, PROTO_PING, 0, 4, 0, NULL, 0);
	sc_turn(&sc, 0);
	sc_save("inside-split", &sc);

	/* A datagram longer than PROTO_MAX_FRAME. */
	sc_begin(&sc, 0);
	sc_op(&sc, CS_OP_HELLO, 0, 0);
	sc_op(&sc, CS_OP_FRAME, 0, CS_PAD);
	sc_put(&sc, big, sizeof big);
	sc_turn(&sc, 0);
	sc_save("oversize", &sc);
}

int
main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: gen-corpus spawn-dir frame-dir "
		    "conn-dir\n");
		return (1);
	}
	spawn_dir = argv[1];
	frame_dir = argv[2];
	conn_dir = argv[3];
	spawn_seeds();
	frame_seeds();
	conn_session_seeds();
	conn_limit_seeds();
	conn_garbage_seeds();
	return (0);
}
