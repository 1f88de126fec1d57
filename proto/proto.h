/*
 * spawnd wire protocol, version 1.
 *
 * This header is the specification; docs/protocol.md explains it in prose.
 * Everything here is pure: encoders and decoders work on caller buffers,
 * never do I/O, never log, never exit.  Decoders return 0 or a negative
 * errno and never read past the length they are given.
 *
 * Transport: AF_UNIX SOCK_SEQPACKET.  One frame per datagram (one sendmsg),
 * file descriptors ride on the datagram as SCM_RIGHTS.
 *
 * Frame header, 20 bytes, all integers little-endian:
 *
 *	offset	size	field
 *	0	u16	magic		PROTO_MAGIC
 *	2	u16	version		PROTO_VERSION, checked on every frame
 *	4	u16	type		PROTO_* message type
 *	6	u16	flags		PROTO_F_*; unknown bits are an error
 *	8	u32	length		payload bytes after the header
 *	12	u16	nfds		fds carried by this datagram
 *	14	u16	reserved	must be 0
 *	16	u32	id		request id chosen by the client
 *
 * A datagram's size must equal 20 + length, and nfds must equal the number
 * of fds that arrived with it.
 *
 * A spawn request larger than one frame is split: every frame of it has
 * type PROTO_SPAWN and the same id, all but the last carry PROTO_F_MORE,
 * only the first may carry fds, and no other frame of the connection may
 * come in between.  The concatenated payloads form the spawn body.
 */

#ifndef SPAWND_PROTO_H
#define SPAWND_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_MAGIC		0x5053	/* "SP" on the wire */
#define PROTO_VERSION		1

#define PROTO_HDR_SIZE		20
#define PROTO_MAX_FRAME		65536	/* header + payload of one datagram */
#define PROTO_MAX_PAYLOAD	(PROTO_MAX_FRAME - PROTO_HDR_SIZE)
#define PROTO_MAX_REQUEST	(16u << 20)	/* assembled spawn body */
#define PROTO_MAX_ARGV		(1u << 20)	/* argv strings */
#define PROTO_MAX_ENV		(1u << 20)	/* envp strings */
#define PROTO_MAX_FDS		253	/* SCM_MAX_FD: fds per request */
#define PROTO_MAX_FDMAP		1024	/* FD records per request */
#define PROTO_MAX_ACTIONS	1024	/* file actions per request */
#define PROTO_MAX_SIG		64	/* signals 1..64 in a u64 mask */
#define PROTO_MAX_CHILD_FD	(1 << 20)	/* child fd numbers are below */

/* Header flags. */
#define PROTO_F_MORE		0x0001	/* more frames of this request follow */
#define PROTO_F_ALL		PROTO_F_MORE

/*
 * Message types.  Client to daemon below 0x80, daemon to client from 0x80.
 *
 * PROTO_HELLO (c->d), first frame of a connection, id 0, payload:
 *	0 u32 min_version	lowest version the client speaks
 *	4 u32 max_version	highest version the client speaks
 * PROTO_HELLO_OK (d->c), payload:
 *	0 u32 version		version chosen for the connection (1)
 *	4 u32 pid		daemon's pid
 *	8 u32 max_request	PROTO_MAX_REQUEST or lower
 *	12 u32 max_fds		fds per request
 *
 * PROTO_SPAWN (c->d): a spawn body (below), possibly over several frames.
 *	Answered by PROTO_STARTED or PROTO_FAILED with the same id, and later,
 *	for a started child, by PROTO_EXITED with the same id.
 * PROTO_STARTED (d->c), 1 fd (the child's pidfd) unless
 *	PROTO_SPAWN_NO_PIDFD was asked, payload:
 *	0 u32 pid
 *	With PROTO_SPAWN_EXEC_FD asked and granted, sent before the exec:
 *	4 u32 flags		PROTO_STARTED_EXEC_FD
 *	and one more fd, last: the read end of a pipe whose only writer is
 *	the child, close-on-exec.  EOF with no byte: it has exec'd (or was
 *	killed first: a start).  A byte: it failed, and the daemon sends
 *	PROTO_FAILED with the same id once it has exited, no PROTO_EXITED.
 * PROTO_FAILED (d->c), payload:
 *	0 u32 errno		Linux errno value
 *	4 u16 step		PROTO_STEP_* that failed
 *	6 u16 reserved		0
 *	8 u32 index		file action index for PROTO_STEP_ACTION, else
 *				PROTO_NO_INDEX
 * PROTO_EXITED (d->c), payload:
 *	0 u32 pid
 *	4 u32 code		CLD_EXITED 1, CLD_KILLED 2, CLD_DUMPED 3
 *	8 u32 status		exit code (0..255) or signal number
 *	12 u32 reserved		0
 *	16 u64 utime_us		user CPU time of the child
 *	24 u64 stime_us		system CPU time of the child
 *	32 u64 maxrss_kib	peak resident set size of the child
 *
 * PROTO_KILL (c->d), payload:
 *	0 u32 child		id of the PROTO_SPAWN that started the child
 *	4 u32 signal		1..64
 *	8 u32 flags		PROTO_KILL_GROUP
 *	Answered by PROTO_OK, or PROTO_FAILED (ESRCH: no such live child of
 *	this connection; EINVAL: bad signal or flags), same id as the KILL.
 *
 *	With PROTO_KILL_BY_PID in flags, child is instead the pid of a live
 *	child of the caller's uid (any child, for root), whatever connection
 *	started it; EPERM if it belongs to another uid.
 *
 * PROTO_LIST (c->d), empty payload: the daemon's children of the caller's
 *	uid (all, for root), one PROTO_LIST_ENTRY each, then PROTO_OK; all
 *	with the LIST's id.  PROTO_LIST_ENTRY (d->c), payload:
 *	0 u32 pid
 *	4 u32 client_pid	pid of the client that spawned it, 0 when
 *				that connection is gone
 *	8 u32 uid		uid of that client
 *	12 u32 state		PROTO_LIST_* bits
 *	16 u64 age_ms		time since it started
 *	24 str argv		its argv joined by spaces, cut at
 *				PROTO_MAX_SUMMARY bytes
 *
 * PROTO_WATCH (c->d), payload: 0 u32 pid.  Asks for the exit record of a
 *	live child of the caller's uid: PROTO_OK now, and PROTO_EXITED with
 *	the WATCH's id when it exits; or PROTO_FAILED (ESRCH, EPERM;
 *	EALREADY: this connection watches it already).
 *
 * PROTO_PING (c->d), empty payload.  PROTO_PONG (d->c), payload:
 *	0 u32 pid		daemon's pid
 *	4 u32 connections	open connections
 *	8 u32 children		running children
 *	12 u32 reserved		0
 *	16 u64 spawns		children started since the daemon started
 *
 * PROTO_ERROR (d->c): the connection broke the protocol; the daemon closes
 *	it after this frame.  id is that of the offending frame (0 if none).
 *	0 u32 errno
 *	4 str message		human-readable, for logs
 */
#define PROTO_HELLO		0x01
#define PROTO_SPAWN		0x02
#define PROTO_KILL		0x03
#define PROTO_PING		0x04
#define PROTO_LIST		0x05
#define PROTO_WATCH		0x06
#define PROTO_HELLO_OK		0x81
#define PROTO_STARTED		0x82
#define PROTO_FAILED		0x83
#define PROTO_EXITED		0x84
#define PROTO_OK		0x85
#define PROTO_PONG		0x86
#define PROTO_ERROR		0x87
#define PROTO_LIST_ENTRY	0x88

#define PROTO_KILL_GROUP	0x1	/* signal the child's process group */
#define PROTO_KILL_BY_PID	0x2	/* child is a pid, not a request id */

#define PROTO_LIST_DETACHED	0x1	/* outlives its connection */
#define PROTO_LIST_ORPHAN	0x2	/* its connection is gone */
#define PROTO_LIST_STOPPING	0x4	/* being stopped: SIGTERM sent */
#define PROTO_MAX_SUMMARY	256	/* bytes of argv in a list entry */
#define PROTO_NO_INDEX		0xffffffffu

/*
 * Steps a spawn can fail at.  The child runs them in this order, except
 * RLIMIT, which comes after ACTION (fds are placed before the limits), and
 * CTTY, which comes between them (its fd may be one an action opened).
 */
#define PROTO_STEP_NONE		0
#define PROTO_STEP_REQUEST	1	/* refused by the daemon before fork */
#define PROTO_STEP_FORK		2
#define PROTO_STEP_SIGNALS	3
#define PROTO_STEP_SETSID	4
#define PROTO_STEP_PGROUP	5
#define PROTO_STEP_SCHED	6
#define PROTO_STEP_RESETIDS	7
#define PROTO_STEP_RLIMIT	8
#define PROTO_STEP_NICE		9
#define PROTO_STEP_CWD		10
#define PROTO_STEP_FDS		11
#define PROTO_STEP_ACTION	12
#define PROTO_STEP_EXEC		13
#define PROTO_STEP_CTTY		14	/* after ACTION, before RLIMIT */
#define PROTO_STEP_MAX		14

/*
 * Spawn body:
 *	0 u32 flags		PROTO_SPAWN_*; unknown bits are an error
 *	4 ...			records, back to back, up to the end:
 *		0 u16 tag	PROTO_REC_*; unknown tags are an error
 *		2 u16 reserved	0
 *		4 u32 length	bytes of value
 *		8 ...		value
 *
 * A str is: u32 n, n bytes without NUL, then one NUL byte.
 * A strv is: u32 count, then count strs.
 *
 * Records (each at most once unless marked repeatable):
 *	ARGV	strv; required; count >= 1, argv[0] not empty
 *	ENV	strv; every entry contains '='; absent = empty environment
 *	PATH	str; the program; absent = argv[0]
 *	CWD	str; chdir() here
 *	CWD_FD	u32 index of a passed fd; fchdir() to it (not with CWD)
 *	FD	u32 index, u32 child_fd; repeatable: passed fd index becomes
 *		child_fd in the child.  child_fd values must be distinct.
 *	FD_CLOEXEC  as FD, but child_fd stays close-on-exec: it is there
 *		for the file actions only (posix_spawn's view of the caller's
 *		close-on-exec fds); child_fd distinct from all FD records
 *	EXEC_FD	u32 index; execveat(fd, "", AT_EMPTY_PATH) (not with PATH)
 *	SIGMASK	u64; the child's signal mask (bit n-1 = signal n); default 0
 *	SIGIGN	u64; signals set to SIG_IGN; all others start SIG_DFL
 *	PGROUP	u32 pgid; setpgid(0, pgid); 0 = new group led by the child
 *	UMASK	u32 mask & 0777
 *	RLIMIT	u32 resource, u64 cur, u64 max; repeatable, one per resource;
 *		~0 = RLIM_INFINITY; cur <= max
 *	NICE	i32 value in -20..19 (absolute, setpriority)
 *	SCHED	u32 policy, i32 priority; policy applies with
 *		PROTO_SPAWN_SETSCHEDULER, priority alone otherwise
 *	ACTION	u32 kind, then per kind (repeatable, applied in order):
 *		OPEN	  i32 fd, u32 oflags, u32 mode, str path
 *		CLOSE	  i32 fd
 *		DUP2	  i32 fd, i32 newfd
 *		CHDIR	  str path
 *		FCHDIR	  i32 fd
 *		CLOSEFROM i32 fd
 *		TCSETPGRP i32 fd
 *	GRACE	u32 ms between SIGTERM and SIGKILL when a tied child is
 *		stopped (default 5000)
 *	TIMEOUT	u32 ms; stop the child this long after it started
 *	NOFILE	u64 soft RLIMIT_NOFILE, at most the hard limit the child
 *		has (which stays); not with an RLIMIT record for NOFILE.  For
 *		a client's "my own soft limit" default without risking a hard
 *		limit the daemon may not raise.  Absent (and no RLIMIT for it):
 *		the soft limit the daemon started with.
 *	CTTY	i32 child_fd, 0 <= child_fd < PROTO_MAX_CHILD_FD; needs
 *		PROTO_SPAWN_SETSID.  After the file actions, the terminal
 *		open at child_fd becomes the new session's controlling
 *		terminal (TIOCSCTTY, never stealing it from another session)
 *		and the child's process group its foreground group
 *		(TIOCSPGRP); step PROTO_STEP_CTTY.  Added within version 1:
 *		a daemon older than it fails the request with EPROTO at
 *		PROTO_STEP_REQUEST (tag > 19), it never ignores it.
 *
 * Every record's value must be exactly as long as its length says.  Fd
 * indexes refer to the fds of the request's first frame, 0-based; every
 * passed fd must be used by a record.
 */
#define PROTO_SPAWN_SETSID		0x0001
#define PROTO_SPAWN_RESETIDS		0x0002
#define PROTO_SPAWN_PATH_SEARCH		0x0004	/* execvp rules, PATH of ENV */
#define PROTO_SPAWN_DETACH		0x0008	/* outlives the connection */
#define PROTO_SPAWN_NO_PIDFD		0x0010	/* STARTED carries no fd */
#define PROTO_SPAWN_SETSCHEDULER	0x0020
#define PROTO_SPAWN_KILL_GROUP		0x0040	/* stop signals go to the group */
#define PROTO_SPAWN_EXEC_FD		0x0080	/* STARTED before exec, see there */
#define PROTO_SPAWN_ALL			0x00ff

#define PROTO_STARTED_EXEC_FD		0x0001	/* the exec fd is the last fd */

#define PROTO_REC_ARGV		1
#define PROTO_REC_ENV		2
#define PROTO_REC_PATH		3
#define PROTO_REC_CWD		4
#define PROTO_REC_CWD_FD	5
#define PROTO_REC_FD		6
#define PROTO_REC_EXEC_FD	7
#define PROTO_REC_SIGMASK	8
#define PROTO_REC_SIGIGN	9
#define PROTO_REC_PGROUP	10
#define PROTO_REC_UMASK		11
#define PROTO_REC_RLIMIT	12
#define PROTO_REC_NICE		13
#define PROTO_REC_SCHED		14
#define PROTO_REC_ACTION	15
#define PROTO_REC_GRACE		16
#define PROTO_REC_TIMEOUT	17
#define PROTO_REC_FD_CLOEXEC	18
#define PROTO_REC_NOFILE	19
#define PROTO_REC_CTTY		20
#define PROTO_REC_MAX		20

#define PROTO_ACT_OPEN		1
#define PROTO_ACT_CLOSE		2
#define PROTO_ACT_DUP2		3
#define PROTO_ACT_CHDIR		4
#define PROTO_ACT_FCHDIR	5
#define PROTO_ACT_CLOSEFROM	6
#define PROTO_ACT_TCSETPGRP	7

#define PROTO_RLIMIT_COUNT	16	/* RLIMIT_NLIMITS on Linux */

struct proto_hdr {
	uint16_t	 type;
	uint16_t	 flags;
	uint32_t	 length;
	uint16_t	 nfds;
	uint32_t	 id;
};

struct proto_hello {
	uint32_t	 min_version;
	uint32_t	 max_version;
};

struct proto_hello_ok {
	uint32_t	 version;
	uint32_t	 pid;
	uint32_t	 max_request;
	uint32_t	 max_fds;
};

struct proto_started {
	uint32_t	 pid;
	uint32_t	 flags;		/* PROTO_STARTED_* */
};

struct proto_failed {
	uint32_t	 error;
	uint16_t	 step;
	uint32_t	 index;
};

struct proto_exited {
	uint32_t	 pid;
	uint32_t	 code;
	uint32_t	 status;
	uint64_t	 utime_us;
	uint64_t	 stime_us;
	uint64_t	 maxrss_kib;
};

struct proto_kill {
	uint32_t	 child;
	uint32_t	 signal;
	uint32_t	 flags;
};

struct proto_list_entry {
	uint32_t	 pid;
	uint32_t	 client_pid;
	uint32_t	 uid;
	uint32_t	 state;
	uint64_t	 age_ms;
	const char	*argv;		/* points into the decoded buffer */
};

struct proto_pong {
	uint32_t	 pid;
	uint32_t	 connections;
	uint32_t	 children;
	uint64_t	 spawns;
};

struct proto_error {
	uint32_t	 error;
	const char	*message;	/* points into the decoded buffer */
};

struct proto_fdmap {
	uint32_t	 index;		/* into the request's fds */
	int32_t		 child_fd;
	uint32_t	 flags;		/* PROTO_FD_CLOEXEC */
};

#define PROTO_FD_CLOEXEC	0x1	/* sent as PROTO_REC_FD_CLOEXEC */

struct proto_rlimit {
	uint32_t	 resource;
	uint64_t	 cur;
	uint64_t	 max;
};

struct proto_action {
	uint32_t	 kind;		/* PROTO_ACT_* */
	int32_t		 fd;
	int32_t		 newfd;		/* DUP2 */
	uint32_t	 oflags;	/* OPEN */
	uint32_t	 mode;		/* OPEN */
	const char	*path;		/* OPEN, CHDIR: into the body */
};

/* Presence bits for optional scalar records in struct proto_spawn. */
#define PROTO_HAS_SIGMASK	0x0001
#define PROTO_HAS_SIGIGN	0x0002
#define PROTO_HAS_PGROUP	0x0004
#define PROTO_HAS_UMASK		0x0008
#define PROTO_HAS_NICE		0x0010
#define PROTO_HAS_SCHED		0x0020
#define PROTO_HAS_GRACE		0x0040
#define PROTO_HAS_TIMEOUT	0x0080
#define PROTO_HAS_NOFILE	0x0100
#define PROTO_HAS_CTTY		0x0200

/*
 * A decoded spawn body.  Strings and the argv/envp vectors point into the
 * body buffer, which must outlive this struct: decoding copies no strings.
 * The arrays live in one allocation freed by proto_spawn_free().
 */
struct proto_spawn {
	uint32_t		 flags;		/* PROTO_SPAWN_* */
	uint32_t		 has;		/* PROTO_HAS_* */
	uint32_t		 argc;
	char			**argv;		/* NULL-terminated */
	uint32_t		 envc;
	char			**envp;		/* NULL-terminated */
	const char		*path;		/* NULL = argv[0] */
	const char		*cwd;		/* NULL = none */
	int32_t			 cwd_fd;	/* fd index or -1 */
	int32_t			 exec_fd;	/* fd index or -1 */
	uint32_t		 nfdmap;
	struct proto_fdmap	*fdmap;
	uint64_t		 sigmask;
	uint64_t		 sigign;
	uint32_t		 pgroup;
	uint32_t		 umask;
	uint32_t		 nrlimits;
	struct proto_rlimit	*rlimits;
	int32_t			 nice;
	uint32_t		 sched_policy;
	int32_t			 sched_priority;
	uint32_t		 nactions;
	struct proto_action	*actions;
	uint32_t		 grace_ms;
	uint32_t		 timeout_ms;
	uint64_t		 nofile;	/* soft RLIMIT_NOFILE */
	int32_t			 ctty;		/* child fd: PROTO_HAS_CTTY */
	void			*alloc;		/* owned arrays */
};

/* A growable output buffer; any failed append sets err and sticks. */
struct proto_buf {
	uint8_t		*data;
	size_t		 len;
	size_t		 cap;
	int		 err;		/* 0 or negative errno */
};

/* Header. */
void	proto_encode_hdr(uint8_t out[PROTO_HDR_SIZE],
	    const struct proto_hdr *hdr);
/* -EPROTO bad magic/reserved/flags, -EPROTONOSUPPORT version, -EMSGSIZE. */
int	proto_decode_hdr(const uint8_t *buf, size_t len,
	    struct proto_hdr *ret_hdr);
/* Checks a whole datagram: header, length == len - 20, nfds == fds got. */
int	proto_check_frame(const uint8_t *buf, size_t len, size_t nfds,
	    struct proto_hdr *ret_hdr);

/* Output buffer. */
void	proto_buf_init(struct proto_buf *b);
void	proto_buf_free(struct proto_buf *b);
void	proto_put_u16(struct proto_buf *b, uint16_t v);
void	proto_put_u32(struct proto_buf *b, uint32_t v);
void	proto_put_u64(struct proto_buf *b, uint64_t v);
void	proto_put_str(struct proto_buf *b, const char *s);
void	proto_put_strv(struct proto_buf *b, const char *const *v);
/* Starts a record; returns its offset for proto_rec_end(). */
size_t	proto_rec_begin(struct proto_buf *b, uint16_t tag);
void	proto_rec_end(struct proto_buf *b, size_t off);

/* Little-endian access, for callers building or reading fixed fields. */
void	proto_le16(uint8_t *p, uint16_t v);
void	proto_le32(uint8_t *p, uint32_t v);
void	proto_le64(uint8_t *p, uint64_t v);
uint16_t proto_get16(const uint8_t *p);
uint32_t proto_get32(const uint8_t *p);
uint64_t proto_get64(const uint8_t *p);

/* Fixed-size payloads: encode into out (size returned), decode checks len. */
size_t	proto_encode_hello(uint8_t out[8], const struct proto_hello *m);
int	proto_decode_hello(const uint8_t *buf, size_t len,
	    struct proto_hello *ret);
size_t	proto_encode_hello_ok(uint8_t out[16], const struct proto_hello_ok *m);
int	proto_decode_hello_ok(const uint8_t *buf, size_t len,
	    struct proto_hello_ok *ret);
size_t	proto_encode_started(uint8_t out[8], const struct proto_started *m);
int	proto_decode_started(const uint8_t *buf, size_t len,
	    struct proto_started *ret);
size_t	proto_encode_failed(uint8_t out[12], const struct proto_failed *m);
int	proto_decode_failed(const uint8_t *buf, size_t len,
	    struct proto_failed *ret);
size_t	proto_encode_exited(uint8_t out[40], const struct proto_exited *m);
int	proto_decode_exited(const uint8_t *buf, size_t len,
	    struct proto_exited *ret);
size_t	proto_encode_kill(uint8_t out[12], const struct proto_kill *m);
int	proto_decode_kill(const uint8_t *buf, size_t len,
	    struct proto_kill *ret);
size_t	proto_encode_pong(uint8_t out[24], const struct proto_pong *m);
int	proto_decode_pong(const uint8_t *buf, size_t len,
	    struct proto_pong *ret);
void	proto_encode_error(struct proto_buf *b, const struct proto_error *m);
void	proto_encode_list_entry(struct proto_buf *b,
	    const struct proto_list_entry *m);
int	proto_decode_list_entry(const uint8_t *buf, size_t len,
	    struct proto_list_entry *ret);
size_t	proto_encode_watch(uint8_t out[4], uint32_t pid);
int	proto_decode_watch(const uint8_t *buf, size_t len, uint32_t *ret_pid);
int	proto_decode_error(const uint8_t *buf, size_t len,
	    struct proto_error *ret);

/*
 * Spawn body.  proto_encode_spawn() appends the body for *req to b (fd
 * fields are indexes).  proto_decode_spawn() validates every field of the
 * nfds-fd body in buf and fills *ret_req, pointing into buf:
 * -EPROTO malformed, -E2BIG too many strings/records, -EINVAL a value out
 * of range (argc 0, empty argv[0], env without '=', bad fd index, duplicate
 * child fd, cur > max, unused passed fd), -ENOMEM.
 */
void	proto_encode_spawn(struct proto_buf *b, const struct proto_spawn *req);
int	proto_decode_spawn(const uint8_t *buf, size_t len, size_t nfds,
	    struct proto_spawn *ret_req);
void	proto_spawn_free(struct proto_spawn *req);

const char *proto_step_name(unsigned int step);
const char *proto_type_name(unsigned int type);

#endif
