/*
 * libblkid's superblock probe, loaded on first use. Only the USB export
 * (usb.c) reads a disk's file system type and label; every other process
 * starts without mapping libblkid.
 *
 * usb.c calls libblkid by its own names: below the table each name is a
 * macro for the table's pointer, type-checked against <blkid.h>. Call
 * blkidload() before the first one.
 */
#ifndef TB_BLKIDLOAD_H
#define TB_BLKIDLOAD_H

#include <blkid.h>

#include "util/err.h"

/* The functions of libblkid usb.c calls, with libblkid's own types. */
struct blkid_api {
	__typeof__(&blkid_do_safeprobe) do_safeprobe;
	__typeof__(&blkid_free_probe) free_probe;
	__typeof__(&blkid_new_probe_from_filename) new_probe_from_filename;
	__typeof__(&blkid_probe_enable_partitions) probe_enable_partitions;
	__typeof__(&blkid_probe_enable_superblocks) probe_enable_superblocks;
	__typeof__(&blkid_probe_lookup_value) probe_lookup_value;
	__typeof__(&blkid_probe_set_superblocks_flags) probe_set_superblocks_flags;
};

/* Filled by blkidload(); read only after it returned 0. */
extern struct blkid_api blkid_api;

/*
 * Open libblkid once per process (thread-safe). 0, or -1 + err naming the
 * library and the package to install (the same message on every call).
 */
int blkidload(struct err *err);

#define blkid_do_safeprobe (blkid_api.do_safeprobe)
#define blkid_free_probe (blkid_api.free_probe)
#define blkid_new_probe_from_filename (blkid_api.new_probe_from_filename)
#define blkid_probe_enable_partitions (blkid_api.probe_enable_partitions)
#define blkid_probe_enable_superblocks (blkid_api.probe_enable_superblocks)
#define blkid_probe_lookup_value (blkid_api.probe_lookup_value)
#define blkid_probe_set_superblocks_flags (blkid_api.probe_set_superblocks_flags)

#endif
