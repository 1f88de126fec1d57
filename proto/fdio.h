/*
 * fdio: the only code that touches cmsg and SCM_RIGHTS.  Shared by the
 * daemon and the client library; no logging, no globals.
 */

#ifndef SPAWND_FDIO_H
#define SPAWND_FDIO_H

#include <sys/types.h>
#include <sys/uio.h>

#include <stddef.h>

/*
 * Sends one datagram made of iov with nfds fds attached (nfds may be 0),
 * with MSG_NOSIGNAL, retrying EINTR.  Returns the bytes sent or a negative
 * errno (-EAGAIN: the socket is full, try later).  The fds stay the
 * caller's.
 */
ssize_t	fdio_send(int sock, const struct iovec *iov, int iovcnt,
	    const int *fds, size_t nfds, int flags);

/*
 * Receives one datagram into buf with MSG_CMSG_CLOEXEC, retrying EINTR.
 * Received fds go to fds[0..*ret_nfds); they are the caller's on success.
 * Returns the datagram size, 0 at end of stream, or a negative errno:
 * -EAGAIN nothing to read; -EMSGSIZE the datagram was longer than len;
 * -EPROTO control data was truncated (MSG_CTRUNC), more than maxfds fds
 * came, or control data other than SCM_RIGHTS came.  On every error the
 * fds that did arrive are closed and *ret_nfds is 0.
 */
ssize_t	fdio_recv(int sock, void *buf, size_t len, int *fds, size_t maxfds,
	    size_t *ret_nfds, int flags);

/*
 * As fdio_recv(), on a socket with SO_PASSCRED set: the sender's
 * SCM_CREDENTIALS (as the kernel vouches for them, in our namespaces: pid
 * 0 if not visible here) go to *ret_cred, whose pid is -1 if none came.
 * Credentials are control data that fdio_recv() refuses.
 */
struct ucred;
ssize_t	fdio_recv_cred(int sock, void *buf, size_t len, int *fds,
	    size_t maxfds, size_t *ret_nfds, struct ucred *ret_cred,
	    int flags);

/* Closes fds[0..n), keeping errno. */
void	fdio_close_all(const int *fds, size_t n);

#endif
