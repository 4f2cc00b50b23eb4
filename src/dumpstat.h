/*
 * dumpstat: for each selected job, its last N catalog rows as a text table
 * (column names, a rule, one line per row, newest first), with sizes in
 * "19.51M" units, counts with thousands separators, "YYYY-MM-DD HH:MM"
 * times and "HH:MM" durations.
 */
#ifndef TB_DUMPSTAT_H
#define TB_DUMPSTAT_H

#include <stddef.h>
#include <stdio.h>

#include "util/buf.h"
#include "util/err.h"

struct catalog;
struct catalog_row;
struct job;

/* Render rows as the table into out (appends). */
void dumpstat_format(const struct catalog_row *rows, size_t n, struct buf *out);

/* Print the table of each job's last `limit` rows to out. 0 or -1 + err. */
int dumpstat_run(struct catalog *cat, const struct job *const *jobs, size_t n, int limit, FILE *out,
                 struct err *err);

#endif
