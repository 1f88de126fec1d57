/*
 * notify-listen: stands in for systemd's notification socket in tests.
 *
 *	notify-listen PATH [SECONDS]
 *
 * Binds an AF_UNIX SOCK_DGRAM socket at PATH and prints every datagram it
 * receives followed by a newline, flushing each, until SIGTERM/SIGINT or
 * SECONDS (default 60) have passed; then removes PATH and exits 0.
 */

#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t	stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int
main(int argc, char **argv)
{
	struct sockaddr_un	 sun = { .sun_family = AF_UNIX };
	struct sigaction	 sa;
	struct pollfd		 pfd;
	char			 buf[8192];
	time_t			 end;
	ssize_t			 n;
	int			 s, secs = 60;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: notify-listen PATH [SECONDS]\n");
		return 2;
	}
	if (argc == 3)
		secs = atoi(argv[2]);
	if (strlen(argv[1]) >= sizeof sun.sun_path) {
		fprintf(stderr, "notify-listen: %s: path too long\n", argv[1]);
		return 1;
	}
	memcpy(sun.sun_path, argv[1], strlen(argv[1]) + 1);

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	s = socket(AF_UNIX, SOCK_DGRAM|SOCK_CLOEXEC, 0);
	if (s == -1 || bind(s, (struct sockaddr *)&sun, sizeof sun) == -1) {
		fprintf(stderr, "notify-listen: %s: %s\n", argv[1],
		    strerror(errno));
		return 1;
	}
	pfd.fd = s;
	pfd.events = POLLIN;
	end = time(NULL) + secs;
	while (!stop && time(NULL) < end) {
		if (poll(&pfd, 1, 200) <= 0)
			continue;
		n = recv(s, buf, sizeof buf, MSG_DONTWAIT);
		if (n < 0)
			continue;
		fwrite(buf, 1, (size_t)n, stdout);
		fputc('\n', stdout);
		fflush(stdout);
	}
	unlink(argv[1]);
	close(s);
	return 0;
}
