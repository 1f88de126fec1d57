/*
 * fdio: one datagram in or out, with fds as SCM_RIGHTS.  The only code in
 * spawnd that touches cmsg.
 */

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"
#include "proto.h"

/*
 * Control buffer for PROTO_MAX_FDS fds (and credentials, for
 * fdio_recv_cred()), aligned as cmsg needs.
 */
union fdio_cmsg {
	struct cmsghdr	hdr;
	char		buf[CMSG_SPACE(PROTO_MAX_FDS * sizeof(int)) +
			    CMSG_SPACE(sizeof(struct ucred))];
};

static int	collect_fds(struct msghdr *, int *, size_t, size_t *,
		    struct ucred *);

void
fdio_close_all(const int *fds, size_t n)
{
	int	saved_errno = errno;
	size_t	i, j;

	/*
	 * Fds received together are numbered up from the lowest free one:
	 * a run of consecutive numbers goes in one close_range.
	 */
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && fds[i] >= 0 &&
		    fds[j] == fds[j - 1] + 1; j++)
			continue;
		if (j - i > 1 && close_range((unsigned)fds[i],
		    (unsigned)fds[j - 1], 0) == 0)
			continue;
		for (; i < j; i++) {
			if (fds[i] >= 0)
				(void)close(fds[i]);
		}
	}
	errno = saved_errno;
}

ssize_t
fdio_send(int sock, const struct iovec *iov, int iovcnt, const int *fds,
    size_t nfds, int flags)
{
	union fdio_cmsg	 cm;
	struct msghdr	 msg;
	struct cmsghdr	*cmsg;
	ssize_t		 n;

	if (nfds > PROTO_MAX_FDS || (nfds != 0 && fds == NULL))
		return (-EINVAL);
	memset(&msg, 0, sizeof msg);
	msg.msg_iov = (struct iovec *)(uintptr_t)iov;
	msg.msg_iovlen = iovcnt;
	if (nfds != 0) {
		memset(&cm, 0, sizeof cm);
		msg.msg_control = cm.buf;
		msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		if ((cmsg = CMSG_FIRSTHDR(&msg)) == NULL)
			return (-EINVAL);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(cmsg), fds, nfds * sizeof(int));
	}
	do
		n = sendmsg(sock, &msg, flags | MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return (-errno);
	return (n);
}

/*
 * Moves every fd the kernel installed into fds[], closing at once those
 * that do not fit.  Returns -EPROTO if anything but SCM_RIGHTS (and
 * SCM_CREDENTIALS when ret_cred is not NULL) came or more than maxfds fds
 * came; all cmsgs are walked regardless, so that no installed fd is left
 * behind.
 */
static int
collect_fds(struct msghdr *msg, int *fds, size_t maxfds, size_t *ret_nfds,
    struct ucred *ret_cred)
{
	struct cmsghdr	*cmsg;
	size_t		 got = 0, i, n;
	int		 fd, error = 0;

	for (cmsg = CMSG_FIRSTHDR(msg); cmsg != NULL;
	    cmsg = CMSG_NXTHDR(msg, cmsg)) {
		if (ret_cred != NULL && cmsg->cmsg_level == SOL_SOCKET &&
		    cmsg->cmsg_type == SCM_CREDENTIALS &&
		    cmsg->cmsg_len == CMSG_LEN(sizeof *ret_cred)) {
			memcpy(ret_cred, CMSG_DATA(cmsg), sizeof *ret_cred);
			continue;
		}
		if (cmsg->cmsg_level != SOL_SOCKET ||
		    cmsg->cmsg_type != SCM_RIGHTS) {
			error = -EPROTO;
			continue;
		}
		n = (cmsg->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (i = 0; i < n; i++) {
			memcpy(&fd, CMSG_DATA(cmsg) + i * sizeof(int),
			    sizeof fd);
			if (got < maxfds)
				fds[got++] = fd;
			else {
				(void)close(fd);
				error = -EPROTO;
			}
		}
	}
	*ret_nfds = got;
	return (error);
}

ssize_t
fdio_recv(int sock, void *buf, size_t len, int *fds, size_t maxfds,
    size_t *ret_nfds, int flags)
{
	return (fdio_recv_cred(sock, buf, len, fds, maxfds, ret_nfds, NULL,
	    flags));
}

ssize_t
fdio_recv_cred(int sock, void *buf, size_t len, int *fds, size_t maxfds,
    size_t *ret_nfds, struct ucred *ret_cred, int flags)
{
	union fdio_cmsg	cm;
	struct msghdr	msg;
	struct iovec	iov;
	ssize_t		n;
	size_t		nfds;
	int		error;

	*ret_nfds = 0;
	if (ret_cred != NULL) {
		ret_cred->pid = -1;
		ret_cred->uid = (uid_t)-1;
		ret_cred->gid = (gid_t)-1;
	}
	iov.iov_base = buf;
	iov.iov_len = len;
	memset(&msg, 0, sizeof msg);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cm.buf;
	msg.msg_controllen = sizeof cm.buf;
	do
		n = recvmsg(sock, &msg, flags | MSG_CMSG_CLOEXEC);
	while (n == -1 && errno == EINTR);
	if (n == -1)
		return (-errno);

	error = collect_fds(&msg, fds, maxfds, &nfds, ret_cred);
	if (msg.msg_flags & MSG_TRUNC)
		error = -EMSGSIZE;
	else if (msg.msg_flags & MSG_CTRUNC)
		error = -EPROTO;
	/* An empty datagram reads as EOF; fds riding on it are dropped. */
	if (error != 0 || n == 0) {
		fdio_close_all(fds, nfds);
		return (error);
	}
	*ret_nfds = nfds;
	return (n);
}
