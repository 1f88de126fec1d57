/*
 * conn-harness.c: the rest of the daemon, as daemon/conn.c sees it, for
 * fuzz-conn.  Fake children (no process is ever created), the global sd,
 * and the few listener and main.c functions conn.c calls.
 */

#ifndef CONN_HARNESS_H
#define CONN_HARNESS_H

#include <stdint.h>

/* sd.limits as spawnd's defaults (main.c), or as tightened by its flags. */
void	harness_limits(int tight);
/* Forgets the previous script: pids count from CS_FIRST_PID again. */
void	harness_reset(void);
/* The next child_spawn() fails at step with error. */
void	harness_fail_next(uint16_t step, uint32_t error);
/*
 * The which-th (modulo) fake child not yet exiting exits with the given
 * siginfo code and status; the daemon's loop reaps it.  0, or -1 if none.
 */
int	harness_exit(unsigned int which, int code, int status);
/* End of a script: reaps every fake child left, as if it had exited. */
void	harness_reap_all(void);
/* Fake children alive. */
unsigned int harness_children(void);
/*
 * Whether this script's child_spawn() returned pid; *ret_no_pidfd says
 * whether its request asked for PROTO_SPAWN_NO_PIDFD.
 */
int	harness_issued(uint32_t pid, int *ret_no_pidfd);
/* Makes conn.c's deadline sweep run at the next turn of the loop. */
void	harness_sweep(void);

#endif
