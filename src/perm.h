/*
 * Read access for monitoring: [global] group = NAME gives that group read
 * access to what checknagios (NRPE as user nagios, say) needs: the backup
 * folder and the log folder (g+rx, set-group-ID so new files inherit the
 * group), the catalog and run logs in it (g+r), and each job's folder
 * (g+rx). Nothing becomes readable by others.
 */
#ifndef TB_PERM_H
#define TB_PERM_H

#include <sys/types.h>

#include "util/err.h"

struct config;

/*
 * The group of cfg's [global] group (a name or a number) into *gid.
 * Returns 1 when set, 0 when the key is absent or empty, -1 + err when
 * no such group exists ("FILE: [global] group: no group 'X' on this
 * system: create it (groupadd X) or fix the name").
 */
int perm_group(const struct config *cfg, gid_t *gid, struct err *err);

/*
 * Apply gid to what exists of cfg's tree (see above); what cannot be
 * changed is logged as a warning, once per path. Returns the number of
 * paths that could not be changed.
 */
int perm_apply(const struct config *cfg, gid_t gid);

#endif
