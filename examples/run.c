/*
 * run: runs a program through spawnd and exits as it did.
 *
 *	cc -o run run.c $(pkg-config --cflags --libs spawnd)
 *	./run cc -c x.c
 *
 * The daemon is found where spawnd_connect(3) looks by default:
 * $SPAWND_SOCKET first (see libspawnd(3), "Finding the daemon").
 */

#include <sys/wait.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <spawnd.h>

extern char	**environ;		/* POSIX: declared by no header */

int
main(int argc, char *argv[])
{
	struct spawnd_client	*c = NULL;
	struct spawnd_req	*req = NULL;
	struct spawnd_child	*child = NULL;
	struct spawnd_failure	 why;
	struct spawnd_exit	 ex;
	int			 r, code = 125;

	if (argc < 2) {
		fprintf(stderr, "usage: run prog [arg...]\n");
		return 125;
	}
	if ((r = spawnd_connect(NULL, 5000, &c)) < 0) {
		fprintf(stderr, "run: spawnd_connect: %s (is spawnd "
		    "running? see spawnctl(1))\n", strerror(-r));
		return 125;
	}
	if ((r = spawnd_req_new(&req)) < 0 ||
	    (r = spawnd_req_set_argv(req, (const char *const *)argv + 1)) < 0 ||
	    (r = spawnd_req_set_envp(req, (const char *const *)environ)) < 0 ||
	    (r = spawnd_req_set_flags(req, SPAWND_PATH_SEARCH)) < 0 ||
	    (r = spawnd_req_set_fd(req, 0, 0)) < 0 ||	/* my stdin is its */
	    (r = spawnd_req_set_fd(req, 1, 1)) < 0 ||
	    (r = spawnd_req_set_fd(req, 2, 2)) < 0) {
		fprintf(stderr, "run: request: %s\n", strerror(-r));
		goto out;
	}
	if ((r = spawnd_spawn(c, req, &child, &why)) < 0) {
		/* why.step says where: "exec", "chdir", ... or "none". */
		fprintf(stderr, "run: %s: %s failed: %s\n", argv[1],
		    spawnd_step_name(why.step), strerror(-r));
		if (why.step != SPAWND_STEP_NONE)	/* as a shell */
			code = r == -ENOENT ? 127 : 126;
		goto out;
	}
	/* spawnd_child_fd(child) is a pidfd: an event loop would poll it. */
	if ((r = spawnd_child_wait(child, -1, &ex)) < 0) {
		fprintf(stderr, "run: wait: %s\n", strerror(-r));
		goto out;
	}
	if (WIFEXITED(ex.status))
		code = WEXITSTATUS(ex.status);
	else
		code = 128 + WTERMSIG(ex.status);
out:
	spawnd_child_free(child);
	spawnd_req_free(req);
	spawnd_client_free(c);
	return code;
}
