/*
 * libbtrfsutil, loaded on first use. Only the rsync+btrfs drivers and the
 * btrfs disk-usage accounting (qgroups, subvolume ids) call it; every
 * other process (checknagios above all) starts without mapping it.
 *
 * drivers/drv_btrfs.c, btrfs_qgroup.c and diskusage.c call libbtrfsutil by
 * its own names: below the table each name is a macro for the table's
 * pointer, type-checked against <btrfsutil.h>. Call btrfsload() before
 * the first one.
 */
#ifndef TB_BTRFSLOAD_H
#define TB_BTRFSLOAD_H

#include <btrfsutil.h>

#include "util/err.h"

/* The functions of libbtrfsutil this program calls, with its own types. */
struct btrfsutil_api {
	__typeof__(&btrfs_util_create_snapshot_fd2) create_snapshot_fd2;
	__typeof__(&btrfs_util_create_subvolume_fd) create_subvolume_fd;
	__typeof__(&btrfs_util_delete_subvolume_fd) delete_subvolume_fd;
	__typeof__(&btrfs_util_get_subvolume_read_only_fd) get_subvolume_read_only_fd;
	__typeof__(&btrfs_util_is_subvolume_fd) is_subvolume_fd;
	__typeof__(&btrfs_util_start_sync_fd) start_sync_fd;
	__typeof__(&btrfs_util_strerror) strerror;
	__typeof__(&btrfs_util_subvolume_id) subvolume_id;
	__typeof__(&btrfs_util_sync_fd) sync_fd;
	__typeof__(&btrfs_util_wait_sync_fd) wait_sync_fd;
};

/* Filled by btrfsload(); read only after it returned 0. */
extern struct btrfsutil_api btrfsutil_api;

/*
 * Open libbtrfsutil (libbtrfsutil.so.1) once per process and resolve
 * btrfsutil_api. Thread-safe. 0, or -1 + err "cannot load libbtrfsutil
 * (tried libbtrfsutil.so.1): install the package libbtrfsutil1" (every
 * later call says the same).
 */
int btrfsload(struct err *err);

#define btrfs_util_create_snapshot_fd2 (btrfsutil_api.create_snapshot_fd2)
#define btrfs_util_create_subvolume_fd (btrfsutil_api.create_subvolume_fd)
#define btrfs_util_delete_subvolume_fd (btrfsutil_api.delete_subvolume_fd)
#define btrfs_util_get_subvolume_read_only_fd (btrfsutil_api.get_subvolume_read_only_fd)
#define btrfs_util_is_subvolume_fd (btrfsutil_api.is_subvolume_fd)
#define btrfs_util_start_sync_fd (btrfsutil_api.start_sync_fd)
#define btrfs_util_strerror (btrfsutil_api.strerror)
#define btrfs_util_subvolume_id (btrfsutil_api.subvolume_id)
#define btrfs_util_sync_fd (btrfsutil_api.sync_fd)
#define btrfs_util_wait_sync_fd (btrfsutil_api.wait_sync_fd)

#endif
