/* spawnctl-wrap.c: the wrap command of spawnctl. */

#ifndef SPAWNCTL_WRAP_H
#define SPAWNCTL_WRAP_H

/* spawnctl wrap: argv[0] is "wrap".  Returns spawnctl's exit code. */
int	ctl_wrap(int argc, char **argv);

#endif
