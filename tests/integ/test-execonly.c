/*
 * test-execonly: the exec fd of an execute-only binary does not stay open
 * in the child (issue 12, item 7).
 *
 * protocol.md: the exec fd is close-on-exec unless the file starts with
 * "#!" (an interpreter reopens a script through /dev/fd/N).  To know, the
 * child reads two bytes; a file it may execute but not read (mode 0711,
 * not its owner) could not be read, "cannot tell" kept the fd open, and
 * the program ran with an O_PATH fd on itself.  The daemon runs as nobody
 * here; the probe is copied with mode 0711, owned by root, and given as
 * an O_PATH exec fd: its report must not list that fd.  A readable copy
 * and a script are the controls.
 */

#include "testlib.h"
#include "../stress/stresslib.h"

static int	 devnull = -1;

/*
 * Runs the file at path through an O_PATH exec fd and returns the "fds="
 * line of its report in buf ("" if none).
 */
static void
run_fd(const struct tl_daemon *d, const char *path, char *buf, size_t len)
{
	struct spawnd_client	*c = NULL;
	struct spawnd_req	*req = NULL;
	struct spawnd_child	*ch = NULL;
	struct spawnd_exit	 ex;
	const char		*argv[] = { "probe", NULL };
	char			 out[65536], *p, *e;
	int			 pfd, pp[2];

	buf[0] = '\0';
	if ((pfd = open(path, O_PATH | O_CLOEXEC)) == -1 ||
	    pipe2(pp, O_CLOEXEC) == -1) {
		tl_fail(__FILE__, __LINE__, "%s: %s", path, strerror(errno));
		return;
	}
	st_euid(65534);		/* the library talks to a daemon of its euid */
	CHECK_OK(spawnd_connect(d->sock, 5000, &c));
	CHECK_OK(spawnd_req_new(&req));
	CHECK_OK(spawnd_req_set_argv(req, argv));
	CHECK_OK(spawnd_req_set_exec_fd(req, pfd));
	CHECK_OK(spawnd_req_set_fd(req, devnull, 0));
	CHECK_OK(spawnd_req_set_fd(req, pp[1], 1));
	CHECK_OK(spawnd_req_set_fd(req, STDERR_FILENO, 2));
	if (c != NULL && req != NULL)
		CHECK_OK(spawnd_spawn(c, req, &ch, NULL));
	close(pp[1]);
	close(pfd);
	if (ch != NULL) {
		(void)tl_read_all(pp[0], out, sizeof out, 10000);
		CHECK_OK(spawnd_child_wait(ch, 10000, &ex));
		if ((p = strstr(out, "fds=")) != NULL) {
			if ((e = strchr(p, '\n')) != NULL)
				*e = '\0';
			snprintf(buf, len, "%s", p);
		}
	}
	close(pp[0]);
	spawnd_child_free(ch);
	spawnd_req_free(req);
	spawnd_client_free(c);
	st_euid(0);
}

int
main(void)
{
	static const char *const args[] = { "--allow-foreign-namespaces",
	    NULL };
	struct st_opts		 o = { .args = args, .uid = 65534,
				    .gid = 65534 };
	struct tl_daemon	 d;
	char			 probe[PATH_MAX], xonly[PATH_MAX + 16];
	char			 readable[PATH_MAX + 16], fds[512];

	if (geteuid() != 0) {
		fprintf(stderr, "not root: cannot make a file the daemon may "
		    "execute but not read\n");
		return TL_SKIP;
	}
	(void)st_helper("probe", probe, sizeof probe);
	if (access(probe, X_OK) != 0) {
		fprintf(stderr, "no probe at %s\n", probe);
		return TL_SKIP;
	}
	if ((devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1 ||
	    st_start(&d, &o) != 0)
		return tl_exit();
	snprintf(xonly, sizeof xonly, "%s/probe-0711", d.dir);
	snprintf(readable, sizeof readable, "%s/probe-0755", d.dir);
	if (tl_copy_file(probe, xonly, 0711) == -1 ||
	    tl_copy_file(probe, readable, 0755) == -1) {
		tl_fail(__FILE__, __LINE__, "copy: %s", strerror(errno));
		goto out;
	}
	tl_log("== an O_PATH exec fd of a readable binary");
	run_fd(&d, readable, fds, sizeof fds);
	tl_log("  %s", fds);
	CHECK_STR(fds, "fds=0,1,2");
	tl_log("== an O_PATH exec fd of an execute-only binary (0711, root's)");
	run_fd(&d, xonly, fds, sizeof fds);
	tl_log("  %s", fds);
	CHECK_STR(fds, "fds=0,1,2");
out:
	tl_stop(&d);
	return tl_exit();
}
