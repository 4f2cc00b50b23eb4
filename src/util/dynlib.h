/*
 * Shared libraries opened on first use. Heavy libraries that only a few
 * commands need (libcurl, libxml2, libssh and what they pull in: TLS,
 * Kerberos, ICU) are not linked into the binary; the module that needs one
 * opens it with dynlib_open() the first time, so every other command
 * starts without mapping them.
 */
#ifndef TB_DYNLIB_H
#define TB_DYNLIB_H

#include <stddef.h>

#include "util/err.h"

/* One symbol to resolve: its name and where to store its address. */
struct dynsym {
	const char *name;
	void *slot; /* address of a function pointer (or object pointer) */
};

/*
 * Open the first of names (a NULL-terminated list of sonames) that loads,
 * then resolve every symbol of syms (terminated by a NULL name) into its
 * slot. 0, or -1 with err: "cannot load LABEL (tried A, B): install
 * PACKAGE" or "LABEL lacks SYMBOL". The library stays loaded for the
 * life of the process. Not thread-safe by itself: call it under
 * pthread_once() or before threads start.
 */
int dynlib_open(const char *label, const char *package, const char *const *names,
                const struct dynsym *syms, struct err *err);

#endif
