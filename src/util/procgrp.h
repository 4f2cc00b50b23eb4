/* The processes of one process group, read from /proc. */
#ifndef TB_UTIL_PROCGRP_H
#define TB_UTIL_PROCGRP_H

#include <stddef.h>
#include <sys/types.h>

/*
 * Calls fn(pid, state, comm, ctx) for every process of process group pgid
 * (state is /proc/PID/stat's letter: 'Z' a zombie; comm the command name,
 * NUL-terminated, at most 15 bytes), in /proc's order, until fn returns
 * non-zero; processes that vanish meanwhile are skipped. Returns fn's
 * non-zero value, 0 when it returned 0 for every process, -1 when /proc
 * cannot be read.
 */
int procgrp_each(pid_t pgid, int (*fn)(pid_t pid, char state, const char *comm, void *ctx),
                 void *ctx);

#endif
