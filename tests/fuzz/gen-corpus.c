/*
 * Writes the seed corpus: gen-corpus SPAWNDIR FRAMEDIR.  Every seed is a
 * valid input, built with proto.c's own encoders; the first byte of each is
 * the fd count, as the fuzz targets expect.  Run once, output committed.
 */

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static const char	*spawn_dir, *frame_dir;

static void	save(const char *, const char *, uint8_t, const uint8_t *,
		    size_t);
static void	spawn_seed(const char *, uint8_t, const struct proto_spawn *);
static void	frame_seed(const char *, uint16_t, uint16_t, uint8_t,
		    const uint8_t *, size_t);
static void	spawn_seeds(void);
static void	frame_seeds(void);

static void
save(const char *dir, const char *name, uint8_t nfds, const uint8_t *p,
    size_t len)
{
	char	 path[4096];
	FILE	*f;

	(void)snprintf(path, sizeof path, "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL || fputc(nfds, f) == EOF ||
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
	struct proto_fdmap	 fdmap[] = { { 0, 0 }, { 1, 1 }, { 1, 2 } };
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
}

static void
frame_seeds(void)
{
	uint8_t			p[64];
	struct proto_hello	he = { 1, 1 };
	struct proto_hello_ok	ok = { 1, 100, PROTO_MAX_REQUEST, 253 };
	struct proto_started	st = { 1234 };
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

int
main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: gen-corpus spawn-dir frame-dir\n");
		return (1);
	}
	spawn_dir = argv[1];
	frame_dir = argv[2];
	spawn_seeds();
	frame_seeds();
	return (0);
}
