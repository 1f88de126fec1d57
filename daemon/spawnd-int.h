/*
 * spawnd daemon internals: one block per .c file.
 */

#ifndef SPAWND_INT_H
#define SPAWND_INT_H

#include <sys/queue.h>
#include <sys/types.h>

#include <signal.h>
#include <stdarg.h>
#include <stdint.h>

#include "proto.h"

struct event_base;
struct conn;
struct child;

/* Limits a client cannot exceed: LIMITS_DEFAULT, changed by flags. */
struct limits {
	unsigned int	 conns;		/* connections in total */
	unsigned int	 conns_per_uid;
	unsigned int	 children;	/* running children in total */
	unsigned int	 children_per_conn;
	size_t		 outq_bytes;	/* unsent replies per connection */
	size_t		 request_bytes;	/* one spawn request */
	unsigned int	 request_fds;	/* fds with one spawn request */
	unsigned int	 handshake_ms;	/* connect to HELLO */
	unsigned int	 request_ms;	/* first to last frame of a request */
	int		 foreign_ns;	/* serve peers in other namespaces */
	size_t		 pending_fds;	/* held by pending requests, per uid */
	size_t		 pending_fds_all;	/* all uids: NOFILE - reserve */
	size_t		 pending_bytes;	/* held by pending requests, per uid */
};
#define LIMITS_DEFAULT	((struct limits){ .conns = 4096,		\
	.conns_per_uid = 2048, .children = 4096, .children_per_conn = 1024, \
	.outq_bytes = 1 << 20, .request_bytes = PROTO_MAX_REQUEST,	\
	.request_fds = PROTO_MAX_FDS, .handshake_ms = 5000,		\
	.request_ms = 10000, .pending_fds = SIZE_MAX / 2,		\
	.pending_fds_all = SIZE_MAX / 2, .pending_bytes = 64u << 20 })
/* main.c sets pending_fds and pending_fds_all from RLIMIT_NOFILE. */

/* How child_spawn() waits for the exec (--launch). */
enum launch_mode {
	LAUNCH_AUTO,		/* async where RS_ASYNC allows it, early if asked */
	LAUNCH_VFORK,		/* stop until the child has exec'd */
	LAUNCH_ASYNC,		/* serve on; a pipe's EOF tells us, never early */
};

/* The daemon's state: single-threaded, so one instance, reached as sd. */
struct spawnd {
	struct event_base	*base;
	struct limits		 limits;
	uid_t			 uid;		/* serve this uid (and root) */
	pid_t			 pid;		/* ours, after --background */
	int			 activated;	/* socket from systemd */
	enum launch_mode	 launch;
	int			 quitting;
	unsigned int		 nconns;
	unsigned int		 nchildren;
	uint64_t		 spawns;
};
extern struct spawnd	 sd;

/* main.c */
void	daemon_quit(void);
void	daemon_quit_done(void);

/* notify.c */
void	notify_init(unsigned int idle_sec);
void	notify_changed(void);
void	notify_free(void);

/* log.c */
void	log_detach(int nkeep);
void	log_init(int debug);
int	log_debugging(void);
void	log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	log_fields(int, const char *const *, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
const char *log_quote(const char *s, char *buf, size_t len);

/* listener.c */
int	listener_open_path(const char *path);
int	listener_open_activated(void);
void	listener_start(int fd);
void	listener_resume(void);
int	listener_pending(void);
void	listener_close(void);

/* conn.c */
void	conn_new(int fd, uid_t uid, pid_t pid);
void	conn_send(struct conn *c, uint16_t type, uint32_t id,
	    const uint8_t *payload, size_t len, int fd);
void	conn_sendv(struct conn *c, uint16_t type, uint32_t id,
	    const uint8_t *payload, size_t len, const int *fds, size_t nfds);
void	conn_child_gone(struct conn *c, struct child *ch);
void	conn_spawned(struct conn *c, uint32_t id,
	    const struct proto_spawn *req, const struct child *ch,
	    const struct proto_failed *fail);
void	conn_close_all(void);
void	conn_drain(int fd);
unsigned int conn_count_uid(uid_t uid);
int	conn_charge(uid_t uid, size_t fds, size_t bytes);
void	conn_uncharge(uid_t uid, size_t fds, size_t bytes);

/* child.c */
struct child_spec {
	struct proto_spawn	*req;	/* child_spawn takes its arrays */
	void			*body;	/* and this, req's strings */
	size_t			 charged;	/* body's bytes, conn_charge() */
	uid_t			 uid;	/* of the client */
	pid_t			 client_pid;
	const int		*fds;	/* the request's passed fds */
	size_t			 nfds;
};
void	child_init(void);
long	child_sigaction(int sig, int ign);
int	child_spawn(const struct child_spec *spec, struct conn *c,
	    uint32_t id, struct proto_failed *fail);
pid_t	child_pid(const struct child *ch);
int	child_pidfd(const struct child *ch);
int	child_exec_fd(const struct child *ch);
void	child_settle_all(void);
uint32_t child_id(const struct child *ch);
struct child *child_find(const struct conn *c, uint32_t id);
struct child *child_find_pid(pid_t pid);
int	child_visible(const struct child *ch, uid_t uid);
void	child_list(struct conn *c, uint32_t id, uid_t uid);
int	child_watch(struct child *ch, struct conn *c, uint32_t id);
int	child_signal(struct child *ch, int sig, int group);
void	child_conn_closed(const struct conn *c);
unsigned int child_tied(void);
void	child_quit(void);
void	child_free_all(void);

#endif
