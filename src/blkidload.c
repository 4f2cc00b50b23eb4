/*
 * Lazy loading of libblkid (see blkidload.h): opened by dynlib_lazy_load()
 * the first time a caller asks.
 */
#include <stddef.h>

#include "blkidload.h"
#include "util/dynlib.h"

struct blkid_api blkid_api;

static const char *const names[] = { "libblkid.so.1", NULL };
static const struct dynsym syms[] = {
	{ "blkid_do_safeprobe", &blkid_api.do_safeprobe },
	{ "blkid_free_probe", &blkid_api.free_probe },
	{ "blkid_new_probe_from_filename", &blkid_api.new_probe_from_filename },
	{ "blkid_probe_enable_partitions", &blkid_api.probe_enable_partitions },
	{ "blkid_probe_enable_superblocks", &blkid_api.probe_enable_superblocks },
	{ "blkid_probe_lookup_value", &blkid_api.probe_lookup_value },
	{ "blkid_probe_set_superblocks_flags", &blkid_api.probe_set_superblocks_flags },
	{ NULL, NULL },
};

static struct dynlib_lazy lib =
    DYNLIB_LAZY_INIT("libblkid", "the package libblkid1", names, syms, NULL);

int
blkidload(struct err *err)
{
	return dynlib_lazy_load(&lib, err);
}
