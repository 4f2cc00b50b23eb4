/*
 * The table of drivers (like tmux's cmd_table) and the configuration keys
 * every job shares. listdrivers and the config validator read only this.
 */
#include "drivers/driver.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"

extern const struct driver drv_esx_vmdk;
extern const struct driver drv_mysql;
extern const struct driver drv_null;
extern const struct driver drv_oracle;
extern const struct driver drv_pgsql;
extern const struct driver drv_rsync;
extern const struct driver drv_rsync_btrfs;
extern const struct driver drv_rsync_btrfs_ssh;
extern const struct driver drv_rsync_ssh;
extern const struct driver drv_samba4;
extern const struct driver drv_sqlserver;
extern const struct driver drv_switch;
extern const struct driver drv_xcp_metadata;
extern const struct driver drv_xen_xva;
extern const struct driver drv_copy_vm_xcp;

/* One driver per line. */
/* clang-format off */
const struct driver *const driver_table[] = {
	&drv_rsync,
	&drv_rsync_ssh,
	&drv_rsync_btrfs,
	&drv_rsync_btrfs_ssh,
	&drv_mysql,
	&drv_pgsql,
	&drv_sqlserver,
	&drv_xcp_metadata,
	&drv_xen_xva,
	&drv_copy_vm_xcp,
	&drv_oracle,
	&drv_samba4,
	&drv_switch,
	&drv_esx_vmdk,
	&drv_null,
	NULL,
};
/* clang-format on */

/* Every job needs these; retention and age usually come from [global]. */
const struct drv_key drv_common_required[] = {
	{ "type", KEY_STR, NULL },
	{ "server_name", KEY_STR, NULL },
	{ "backup_retention_time", KEY_INT, NULL },
	{ "maximum_backup_age", KEY_INT, NULL },
	{ NULL, KEY_STR, NULL },
};

const struct drv_key drv_common_optional[] = {
	{ "preexec", KEY_STR, NULL },
	{ "postexec", KEY_STR, NULL },
	{ "description", KEY_STR, NULL },
	{ "private_key", KEY_FILE, NULL },
	{ "remote_user", KEY_STR, "root" },
	{ "ssh_port", KEY_PORT, "22" },
	{ "known_hosts_file", KEY_STR, NULL },
	{ "host_key_policy", KEY_HOSTKEY_POLICY, "accept-new" },
	{ "exec_timeout", KEY_INT, "3600" },
	{ "stall_timeout", KEY_INT, "1800" },
	{ "max_runtime", KEY_INT, NULL },
	{ "max_per_server", KEY_INT, "1" },
	{ "partial_is_error", KEY_BOOL, "no" },
	{ "postexec_on_failure", KEY_BOOL, "no" },
	{ "ssh_connection_sharing", KEY_BOOL, "yes" },
	{ "schedule", KEY_SCHEDULE, NULL },         /* backups started by serve */
	{ "cleanup_schedule", KEY_SCHEDULE, NULL }, /* cleanups started by serve */
	{ "keep_daily", KEY_INT, NULL },            /* retention (docs/retention.md) */
	{ "keep_weekly", KEY_INT, NULL },
	{ "keep_monthly", KEY_INT, NULL },
	{ "keep_yearly", KEY_INT, NULL },
	{ "keep_min_days", KEY_INT, NULL },
	{ "maximum_backup_age_warning", KEY_INT, NULL },     /* hours: checknagios WARNING */
	{ "nagios_warn_on_failed_attempt", KEY_BOOL, "no" }, /* WARNING on a failed last run */
	{ "verify", KEY_BOOL, "no" },              /* tisbackup verify (docs/restore.md) */
	{ "verify_schedule", KEY_SCHEDULE, NULL }, /* verifies started by serve */
	{ "verify_shrink_warn", KEY_INT, "10" },   /* %: a table shrinking more is a warning */
	{ "verify_max_age", KEY_INT, NULL },       /* hours: checknagios WARNING when older */
	{ "verify_sample", KEY_PERCENT, "1" },     /* % of a file snapshot's files compared */
	{ "verify_seed", KEY_INT, NULL },          /* the sample's seed (default: a new one) */
	{ "progress_interval", KEY_INT, "30" },    /* seconds between progress log lines */
	{ "pool", KEY_POOL, "default" },           /* the workers that run it (docs/queue.md) */
	{ NULL, KEY_STR, NULL },
};

static const struct drv_key *
key_in(const struct drv_key *keys, const char *name)
{
	for (; keys != NULL && keys->name != NULL; keys++)
		if (strcmp(keys->name, name) == 0)
			return keys;
	return NULL;
}

const struct driver *
driver_find(const char *name)
{
	for (const struct driver *const *d = driver_table; *d != NULL; d++)
		if (strcmp((*d)->name, name) == 0)
			return *d;
	return NULL;
}

/*
 * The keys of one driver for driver_key(): every name of its four tables
 * once, with the spec that the lookup order (common required, required,
 * optional, common optional) gives it, sorted by name for a binary search.
 * Made on first use and kept for the life of the process, like the tables.
 */
struct key_slot {
	const char *name;
	const struct drv_key *key;
	int required;
	size_t order; /* position in lookup order: the first one wins */
};

struct key_index {
	const struct driver *drv;
	struct key_slot *slots;
	size_t n;
	struct key_index *next;
};

static struct key_index *key_indexes;
static pthread_mutex_t key_indexes_lock = PTHREAD_MUTEX_INITIALIZER;

static int
slot_cmp(const void *a, const void *b)
{
	const struct key_slot *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* The index of drv, made on first use (the caller holds key_indexes_lock). */
static const struct key_index *
key_index_get(const struct driver *drv)
{
	const struct drv_key *tables[] = {
		drv_common_required,
		drv->required,
		drv->optional,
		drv_common_optional,
	};
	struct key_index *ix, **prev;
	size_t total = 0, n = 0;

	for (prev = &key_indexes; (ix = *prev) != NULL; prev = &ix->next) {
		if (ix->drv != drv)
			continue;
		/* To the front: a configuration's jobs mostly share a driver or two. */
		*prev = ix->next;
		ix->next = key_indexes;
		key_indexes = ix;
		return ix;
	}
	for (size_t t = 0; t < 4; t++)
		for (const struct drv_key *k = tables[t]; k != NULL && k->name != NULL; k++)
			total++;
	ix = xcalloc(1, sizeof *ix);
	ix->drv = drv;
	ix->slots = xcalloc(total + 1, sizeof *ix->slots);
	for (size_t t = 0; t < 4; t++)
		for (const struct drv_key *k = tables[t]; k != NULL && k->name != NULL; k++) {
			ix->slots[n] = (struct key_slot){ k->name, k, t < 2, n };
			n++;
		}
	qsort(ix->slots, n, sizeof *ix->slots, slot_cmp);
	/* Keep the first of each name (the lowest order after the sort). */
	for (size_t i = 0; i < n; i++)
		if (ix->n == 0 || strcmp(ix->slots[ix->n - 1].name, ix->slots[i].name) != 0)
			ix->slots[ix->n++] = ix->slots[i];
	ix->next = key_indexes;
	key_indexes = ix;
	return ix;
}

const struct drv_key *
driver_key(const struct driver *drv, const char *name, int *required)
{
	const struct key_index *ix;
	size_t lo = 0, hi;

	pthread_mutex_lock(&key_indexes_lock);
	ix = key_index_get(drv);
	pthread_mutex_unlock(&key_indexes_lock);
	hi = ix->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, ix->slots[mid].name);

		if (c == 0) {
			if (required != NULL)
				*required = ix->slots[mid].required;
			return ix->slots[mid].key;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/*
 * Print the names of common, then own, separated by commas, skipping a name
 * already printed or listed in skip (a driver's required keys are not
 * repeated among the optional ones).
 */
static void
print_keys(FILE *out, const struct drv_key *common, const struct drv_key *own,
           const struct drv_key *skip)
{
	const char *sep = "";

	for (const struct drv_key *k = common; k->name != NULL; k++) {
		if (key_in(skip, k->name) != NULL)
			continue;
		fprintf(out, "%s%s", sep, k->name);
		sep = ",";
	}
	for (const struct drv_key *k = own; k != NULL && k->name != NULL; k++) {
		if (key_in(common, k->name) != NULL || key_in(skip, k->name) != NULL)
			continue;
		fprintf(out, "%s%s", sep, k->name);
		sep = ",";
	}
}

void
driver_print_list(FILE *out)
{
	for (const struct driver *const *d = driver_table; *d != NULL; d++) {
		fprintf(out, "%s : %s\n  Required params : ", (*d)->name, (*d)->description);
		print_keys(out, drv_common_required, (*d)->required, NULL);
		fprintf(out, "\n  Optional params : ");
		print_keys(out, drv_common_optional, (*d)->optional, (*d)->required);
		fprintf(out, "\n\n");
	}
}
