/*
 * Shared libraries opened on first use. Heavy libraries that only a few
 * commands need (libcurl, libxml2, libssh and what they pull in: TLS,
 * Kerberos, ICU) are not linked into the binary; the module that needs one
 * opens it with dynlib_open() the first time, so every other command
 * starts without mapping them.
 */
#ifndef TB_DYNLIB_H
#define TB_DYNLIB_H

#include <pthread.h>
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
 * life of the process. Not thread-safe by itself: use dynlib_lazy_load().
 */
int dynlib_open(const char *label, const char *package, const char *const *names,
                const struct dynsym *syms, struct err *err);

/*
 * A library opened on first use, once per process: the arguments of
 * dynlib_open(), an optional step run once after it loaded (e.g. the
 * library's global init; 0 or -1 + err), and what happened. Define one
 * static per library with DYNLIB_LAZY_INIT. It is kept small (the failure
 * is a pointer, not an error buffer): its pointers are relocated when the
 * program starts, and a descriptor per memory page was a page written,
 * so a page fault, per library at every start.
 */
struct dynlib_lazy {
	const char *label, *package;
	const char *const *names;
	const struct dynsym *syms;
	int (*after)(struct err *err);
	pthread_mutex_t lock;
	int state;     /* 0 not tried, 1 loaded, -1 failed (failure says why) */
	char *failure; /* allocated when the load failed, kept for later calls */
};
#define DYNLIB_LAZY_INIT(LABEL, PACKAGE, NAMES, SYMS, AFTER)                                       \
	{                                                                                          \
		.label = (LABEL), .package = (PACKAGE), .names = (NAMES), .syms = (SYMS),          \
		.after = (AFTER), .lock = PTHREAD_MUTEX_INITIALIZER                                \
	}

/*
 * Open l's library the first time any thread asks (dynlib_open(), then
 * l->after), and answer every later call from that outcome. Thread-safe.
 * 0, or -1 + err (the same message on every call).
 */
int dynlib_lazy_load(struct dynlib_lazy *l, struct err *err);

#endif
