/*
 * Lazy loading of libbtrfsutil (see btrfsload.h): opened by
 * dynlib_lazy_load() the first time a btrfs job or the btrfs accounting
 * needs it.
 */
#include <stddef.h>

#include "btrfsload.h"
#include "util/dynlib.h"

struct btrfsutil_api btrfsutil_api;

static const char *const names[] = { "libbtrfsutil.so.1", NULL };
/* The names are spelled out: btrfsload.h made each one a macro. */
static const struct dynsym syms[] = {
	{ "btrfs_util_create_snapshot_fd2", &btrfsutil_api.create_snapshot_fd2 },
	{ "btrfs_util_create_subvolume_fd", &btrfsutil_api.create_subvolume_fd },
	{ "btrfs_util_delete_subvolume_fd", &btrfsutil_api.delete_subvolume_fd },
	{ "btrfs_util_get_subvolume_read_only_fd", &btrfsutil_api.get_subvolume_read_only_fd },
	{ "btrfs_util_is_subvolume_fd", &btrfsutil_api.is_subvolume_fd },
	{ "btrfs_util_start_sync_fd", &btrfsutil_api.start_sync_fd },
	{ "btrfs_util_strerror", &btrfsutil_api.strerror },
	{ "btrfs_util_subvolume_id", &btrfsutil_api.subvolume_id },
	{ "btrfs_util_sync_fd", &btrfsutil_api.sync_fd },
	{ "btrfs_util_wait_sync_fd", &btrfsutil_api.wait_sync_fd },
	{ NULL, NULL },
};

static struct dynlib_lazy lib =
    DYNLIB_LAZY_INIT("libbtrfsutil", "the package libbtrfsutil1", names, syms, NULL);

int
btrfsload(struct err *err)
{
	return dynlib_lazy_load(&lib, err);
}
