/*
 * Lazy loading of libarchive (see archiveload.h): dynlib_lazy_load() once per
 * process.
 */
#include <stddef.h>

#include "archiveload.h"
#include "util/dynlib.h"

struct archive_api archive_api;

static const char *const names[] = { "libarchive.so.13", NULL };
static const struct dynsym syms[] = {
	{ "archive_entry_free", &archive_api.entry_free },
	{ "archive_entry_new", &archive_api.entry_new },
	{ "archive_entry_pathname", &archive_api.entry_pathname },
	{ "archive_entry_set_gid", &archive_api.entry_set_gid },
	{ "archive_entry_set_mode", &archive_api.entry_set_mode },
	{ "archive_entry_set_mtime", &archive_api.entry_set_mtime },
	{ "archive_entry_set_pathname", &archive_api.entry_set_pathname },
	{ "archive_entry_set_rdev", &archive_api.entry_set_rdev },
	{ "archive_entry_set_size", &archive_api.entry_set_size },
	{ "archive_entry_set_symlink", &archive_api.entry_set_symlink },
	{ "archive_entry_set_uid", &archive_api.entry_set_uid },
	{ "archive_error_string", &archive_api.error_string },
	{ "archive_write_add_filter_gzip", &archive_api.write_add_filter_gzip },
	{ "archive_write_close", &archive_api.write_close },
	{ "archive_write_data", &archive_api.write_data },
	{ "archive_write_free", &archive_api.write_free },
	{ "archive_write_header", &archive_api.write_header },
	{ "archive_write_new", &archive_api.write_new },
	{ "archive_write_open", &archive_api.write_open },
	{ "archive_write_set_format_pax", &archive_api.write_set_format_pax },
	{ "archive_read_data_block", &archive_api.read_data_block },
	{ "archive_read_free", &archive_api.read_free },
	{ "archive_read_new", &archive_api.read_new },
	{ "archive_read_next_header", &archive_api.read_next_header },
	{ "archive_read_open_filename", &archive_api.read_open_filename },
	{ "archive_read_support_filter_all", &archive_api.read_support_filter_all },
	{ "archive_read_support_format_all", &archive_api.read_support_format_all },
	{ "archive_read_support_format_raw", &archive_api.read_support_format_raw },
	{ NULL, NULL },
};

static struct dynlib_lazy lib =
    DYNLIB_LAZY_INIT("libarchive", "the package libarchive13", names, syms, NULL);

int
archiveload(struct err *err)
{
	return dynlib_lazy_load(&lib, err);
}
