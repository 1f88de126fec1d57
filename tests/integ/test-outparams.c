/*
 * test-outparams: every ret_* out-parameter of the public API is cleared
 * on failure (NULL, 0, or a zeroed struct), never left as the caller's
 * garbage: a caller that ignores the result must not use a stale pointer
 * (issue 14: spawnd_connect left *ret_client unset).
 */

#include "testlib.h"

#define JUNK	((void *)(uintptr_t)0xdeadbeef)

/* Whether the n bytes at p are all zero. */
static int
zeroed(const void *p, size_t n)
{
	const unsigned char	*b = p;
	size_t			 i;

	for (i = 0; i < n; i++)
		if (b[i] != 0)
			return (0);
	return (1);
}

int
main(void)
{
	const char *const	 argv[] = { "/bin/true", NULL };
	struct tl_daemon	 d;
	struct spawnd_client	*c, *dead;
	struct spawnd_child	*ch;
	struct spawnd_req	*req;
	struct spawnd_status	 st;
	struct spawnd_exit	 ex;
	struct spawnd_ps	*list;
	size_t			 n;
	char			 path[256];
	int			 created, r;

	if (tl_start(&d) != 0)
		return (TL_SKIP);
	(void)snprintf(path, sizeof path, "%s/nosuch/socket", d.dir);

	tl_log("spawnd_connect / _autostart: no daemon");
	c = JUNK;
	CHECK_INT(spawnd_connect(path, 1000, &c), ==, -ENOENT);
	CHECK(c == NULL);
	c = JUNK;
	r = spawnd_connect_autostart(path, "/nonexistent/spawnd", 1000, &c);
	CHECK_INT(r, <, 0);
	CHECK(c == NULL);
	c = JUNK;
	CHECK_INT(spawnd_connect(NULL, -2, &c), ==, -EINVAL);
	CHECK(c == NULL);

	tl_log("spawnd_spawn: a request without argv");
	CHECK_OK(spawnd_connect(d.sock, 5000, &c));
	CHECK_OK(spawnd_req_new(&req));
	ch = JUNK;
	CHECK_INT(spawnd_spawn(c, req, &ch, NULL), ==, -EINVAL);
	CHECK(ch == NULL);

	tl_log("spawnd_run: no daemon");
	CHECK_OK(spawnd_req_set_argv(req, argv));
	memset(&ex, 0x5a, sizeof ex);
	CHECK_INT(spawnd_run(path, req, &ex, NULL), ==, -ENOENT);
	CHECK(zeroed(&ex, sizeof ex));

	tl_log("ping, list, wait_pid, child_wait: the daemon is gone");
	CHECK_OK(spawnd_connect(d.sock, 5000, &dead));
	CHECK_OK(spawnd_spawn(dead, req, &ch, NULL));
	tl_stop(&d);
	memset(&st, 0x5a, sizeof st);
	CHECK_INT(spawnd_ping(dead, 5000, &st), <, 0);
	CHECK(zeroed(&st, sizeof st));
	list = JUNK;
	n = 77;
	CHECK_INT(spawnd_list(dead, 5000, &list, &n), <, 0);
	CHECK(list == NULL);
	CHECK_INT(n, ==, 0);
	memset(&ex, 0x5a, sizeof ex);
	CHECK_INT(spawnd_wait_pid(dead, 1, 5000, &ex), <, 0);
	CHECK(zeroed(&ex, sizeof ex));
	memset(&ex, 0x5a, sizeof ex);
	r = spawnd_child_wait(ch, 5000, &ex);
	/* The exit record may have arrived before the daemon went. */
	if (r != 0)
		CHECK(zeroed(&ex, sizeof ex));
	spawnd_child_free(ch);
	spawnd_client_free(dead);
	spawnd_client_free(c);
	spawnd_req_free(req);

	tl_log("spawnd_create_or_open: a missing directory");
	created = 7;
	CHECK_INT(spawnd_create_or_open(AT_FDCWD, path, O_RDONLY, 0600,
	    &created), ==, -ENOENT);
	CHECK_INT(created, ==, 0);
	return (tl_exit());
}
