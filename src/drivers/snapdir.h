/*
 * The snapshot folder of the dump drivers: files are written into
 * {job}/STAMP.partial/, which becomes {job}/STAMP only once everything in
 * it is synced, so a name without a suffix always means a complete
 * backup; a failed run removes its .partial folder (a crash leaves it for
 * cleanup to sweep).
 */
#ifndef TB_SNAPDIR_H
#define TB_SNAPDIR_H

#include "drivers/driver.h"
#include "util/err.h"

struct job;

/* The staging suffix of a snapshot folder. */
#define SNAPDIR_STAGING ".partial"

struct snapdir {
	char *partial; /* {job}/STAMP.partial, owned */
	char *final;   /* {job}/STAMP, owned */
	int made;      /* partial exists and is ours to remove */
};

/* Set the two paths for job's run of stamp; nothing is created. */
void snapdir_init(struct snapdir *sd, const struct job *job, const char *stamp);
/* Create the .partial folder (0750). 0 or -1 + err. */
int snapdir_create(struct snapdir *sd, struct err *err);
/* fsync the .partial folder, rename it to STAMP, fsync the job folder. 0 or -1 + err. */
int snapdir_commit(struct snapdir *sd, const struct job *job, struct err *err);
/* Remove the .partial folder if the run did not commit (a failure is logged), free the paths. */
void snapdir_free(struct snapdir *sd, const struct job *job);

/*
 * The layout of snapshot folders, shared by the dump drivers (staged as
 * STAMP.partial) and the rsync drivers (staged as STAMP.rsync): a folder
 * named exactly STAMP is DRV_ENTRY_FINAL; STAMP.partial and STAMP.rsync
 * are DRV_ENTRY_STAGING whichever driver the job has now (a job whose
 * type changed still gets the other's leftovers swept); anything else is
 * DRV_ENTRY_OTHER. Pure: looks at the name only.
 */
enum drv_entry snapdir_classify(const char *name, char *stamp_out);

#endif
