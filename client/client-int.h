/*
 * libspawnd internals shared by client.c (handle API, request machinery)
 * and posix.c (the posix_spawn face).  Not installed.
 */

#ifndef SPAWND_CLIENT_INT_H
#define SPAWND_CLIENT_INT_H

#include <sys/types.h>

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"
#include "spawnd.h"

/* Everything else is hidden by -fvisibility=hidden and the version script. */
#define SPAWND_EXPORT	__attribute__((visibility("default")))

/* The flags spawnd_req_set_flags() accepts: equal to PROTO_SPAWN_* bits. */
#define CLIENT_FLAGS_PUBLIC	(SPAWND_SETSID | SPAWND_RESETIDS | \
	    SPAWND_PATH_SEARCH | SPAWND_DETACH | SPAWND_KILL_GROUP)

/* One fd map entry: the caller's fd, the child's number for it. */
struct client_fdmap {
	int		 fd;
	int32_t		 child_fd;
	uint32_t	 flags;		/* PROTO_FD_CLOEXEC */
};

/*
 * A request.  It borrows every pointer and fd; the arrays are its own.
 * Fields are wire values already (PROTO_SPAWN_* flags, PROTO_HAS_* bits,
 * u64 signal masks, ~0 for RLIM_INFINITY), so that posix.c can fill them
 * straight from /proc without a detour through sigset_t.
 */
struct spawnd_req {
	uint32_t		 flags;		/* PROTO_SPAWN_* */
	uint32_t		 has;		/* PROTO_HAS_* */
	const char *const	*argv;		/* NULL: not set */
	const char *const	*envp;		/* NULL: empty */
	const char		*path;
	const char		*cwd;
	int			 cwd_fd;	/* -1: none */
	int			 exec_fd;	/* -1: none */
	struct client_fdmap	*fdmap;
	size_t			 nfdmap;
	size_t			 fdmap_cap;
	uint64_t		 sigmask;
	uint64_t		 sigign;
	uint32_t		 pgroup;
	uint32_t		 umask;
	uint32_t		 rlimit_set;	/* bit per resource */
	struct proto_rlimit	 rlimits[PROTO_RLIMIT_COUNT];
	int32_t			 nice;
	uint32_t		 sched_policy;
	int32_t			 sched_priority;
	struct proto_action	*actions;	/* paths borrowed */
	size_t			 nactions;
	size_t			 actions_cap;
	uint32_t		 grace_ms;
	uint32_t		 timeout_ms;
	int32_t			 ctty;		/* child fd, PROTO_HAS_CTTY */
};

/*
 * client.c: the pieces spawnd_connect() and spawnd_spawn() are made of,
 * so that the posix face can send HELLO and SPAWN back to back.
 *
 * client_open() connects and sends HELLO without waiting for the answer;
 * client_handshake() then reads HELLO_OK (or the daemon's ERROR).
 * client_spawn_send() sends the request and returns a child handle not yet
 * linked to the client; client_spawn_recv() reads STARTED or FAILED for it
 * and links it on success (free it with spawnd_child_free() on failure).
 * A failure of client_spawn_send() before the first frame went out (a bad
 * fd: -EBADF) leaves the connection usable.
 */
int	client_open(const char *path, struct spawnd_client **ret_client);
/* spawnd_req_set_fd() with PROTO_FD_* flags. */
int	client_req_map_fd(struct spawnd_req *req, int fd, int child_fd,
	    uint32_t flags);
int	client_handshake(struct spawnd_client *c, int timeout_ms);
int	client_spawn_send(struct spawnd_client *c,
	    const struct spawnd_req *req, struct spawnd_child **ret_child);
int	client_spawn_recv(struct spawnd_client *c, struct spawnd_child *ch,
	    struct spawnd_failure *ret_failure);
/*
 * Fds the library holds for a while within a spawn (an early STARTED's
 * exec fd) go through add when received and close when done: the posix
 * face lists them as its own.  Default: none, close(2).
 */
void	client_set_own(struct spawnd_client *c, int (*add)(int),
	    void (*close_fd)(int));
/* Whether c is alive and carries no child: fit to be used again. */
int	client_idle(const struct spawnd_client *c);
/* Bit n-1 set for each signal n in 1..64 that set contains. */
uint64_t client_sigset_bits(const sigset_t *set);

/*
 * posix.c, for the preload shim only (client/preload.c links the library
 * objects statically): the posix face with how far a failed spawn got
 * (*ret_stage: 0 before connecting, 1 the daemon did not answer, 2 it
 * answered), and read access to its table of children.  Semantics in
 * posix.c.
 */
struct client_posix_watch {
	int		 fd;		/* the child's connection */
	pid_t		 pid;
	pid_t		 pgid;		/* -1: not known */
	uint64_t	 serial;
};

int	client_posix_spawn(pid_t *pid, const char *path, int search,
	    const spawnd_posix_spawn_file_actions_t *fa,
	    const spawnd_posix_spawnattr_t *attr, char *const argv[],
	    char *const envp[], int *ret_stage);
size_t	client_posix_watch(struct client_posix_watch *w, size_t max,
	    int unnoted);
pid_t	client_posix_note(uint64_t serial);
pid_t	client_posix_reap(pid_t pid, int options, struct spawnd_exit *ret_exit);
void	client_posix_atfork_prepare(void);
void	client_posix_atfork_parent(void);
void	client_posix_atfork_child(void);

#endif
