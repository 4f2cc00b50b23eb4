/*
 * What the rsync-based drivers share: the rsync argv (options, excludes,
 * link-dest history), its --stats parser and exit-code policy.
 */
#ifndef TB_RSYNC_H
#define TB_RSYNC_H

#include <stdint.h>

#include "util/err.h"
#include "util/strv.h"

struct rsync_stats {
	int64_t total_files;
	int64_t written_files;
	int64_t total_bytes;
	int64_t written_bytes;
};

/*
 * Feed one output line of `rsync --stats`; recognised lines add to st:
 * "Number of files: N", "Number of [regular ]files transferred: N",
 * "Total file size: N bytes", "Total transferred file size: N bytes",
 * with ',' or '.' digit grouping. Returns 1 if the line was a stats line.
 */
int rsync_stats_feed(struct rsync_stats *st, const char *line);

/*
 * The snapshots to hardlink against, as the original picks them: every
 * unfinished STAMP.rsync newer than the newest finished STAMP, then that
 * finished one; only names before `current`. At most 20 (rsync's limit),
 * newest first, as bare names appended to out.
 */
int rsync_link_dests(const char *job_dir, const char *current, struct strv *out, struct err *err);

#endif
