/*
 * libarchive, loaded on first use. Only the web browser's folder download
 * as tar / tar.gz (web/browse_tar.c) writes archives and only verify of a
 * one-file backup (verify_onefile.c) reads them; every other process
 * starts without mapping libarchive and what it pulls in (libxml2, ICU,
 * the C++ runtime, OpenSSL, lzma, lz4, bzip2, acl).
 *
 * browse_tar.c calls libarchive by its own names: below the table, each
 * name is a macro for the table's pointer, so the calls read as
 * libarchive's and are type-checked against <archive.h>. Call
 * archiveload() before the first one.
 */
#ifndef TB_ARCHIVELOAD_H
#define TB_ARCHIVELOAD_H

#include <archive.h>
#include <archive_entry.h>

#include "util/err.h"

/* The functions of libarchive browse_tar.c and verify_onefile.c call, with libarchive's own types. */
struct archive_api {
	__typeof__(&archive_entry_free) entry_free;
	__typeof__(&archive_entry_new) entry_new;
	__typeof__(&archive_entry_pathname) entry_pathname;
	__typeof__(&archive_entry_set_gid) entry_set_gid;
	__typeof__(&archive_entry_set_mode) entry_set_mode;
	__typeof__(&archive_entry_set_mtime) entry_set_mtime;
	__typeof__(&archive_entry_set_pathname) entry_set_pathname;
	__typeof__(&archive_entry_set_rdev) entry_set_rdev;
	__typeof__(&archive_entry_set_size) entry_set_size;
	__typeof__(&archive_entry_set_symlink) entry_set_symlink;
	__typeof__(&archive_entry_set_uid) entry_set_uid;
	__typeof__(&archive_error_string) error_string;
	__typeof__(&archive_write_add_filter_gzip) write_add_filter_gzip;
	__typeof__(&archive_write_close) write_close;
	__typeof__(&archive_write_data) write_data;
	__typeof__(&archive_write_free) write_free;
	__typeof__(&archive_write_header) write_header;
	__typeof__(&archive_write_new) write_new;
	__typeof__(&archive_write_open) write_open;
	__typeof__(&archive_write_set_format_pax) write_set_format_pax;
	__typeof__(&archive_read_data_block) read_data_block;
	__typeof__(&archive_read_free) read_free;
	__typeof__(&archive_read_new) read_new;
	__typeof__(&archive_read_next_header) read_next_header;
	__typeof__(&archive_read_open_filename) read_open_filename;
	__typeof__(&archive_read_support_filter_all) read_support_filter_all;
	__typeof__(&archive_read_support_format_all) read_support_format_all;
	__typeof__(&archive_read_support_format_raw) read_support_format_raw;
};

/* Filled by archiveload(); read only after it returned 0. */
extern struct archive_api archive_api;

/*
 * Open libarchive (libarchive.so.13) once per process and resolve
 * archive_api. Thread-safe. 0, or -1 + err "cannot load libarchive
 * (tried libarchive.so.13): install the package libarchive13" (every later
 * call says the same).
 */
int archiveload(struct err *err);

#define archive_entry_free (archive_api.entry_free)
#define archive_entry_new (archive_api.entry_new)
#define archive_entry_pathname (archive_api.entry_pathname)
#define archive_entry_set_gid (archive_api.entry_set_gid)
#define archive_entry_set_mode (archive_api.entry_set_mode)
#define archive_entry_set_mtime (archive_api.entry_set_mtime)
#define archive_entry_set_pathname (archive_api.entry_set_pathname)
#define archive_entry_set_rdev (archive_api.entry_set_rdev)
#define archive_entry_set_size (archive_api.entry_set_size)
#define archive_entry_set_symlink (archive_api.entry_set_symlink)
#define archive_entry_set_uid (archive_api.entry_set_uid)
#define archive_error_string (archive_api.error_string)
#define archive_write_add_filter_gzip (archive_api.write_add_filter_gzip)
#define archive_write_close (archive_api.write_close)
#define archive_write_data (archive_api.write_data)
#define archive_write_free (archive_api.write_free)
#define archive_write_header (archive_api.write_header)
#define archive_write_new (archive_api.write_new)
#define archive_write_open (archive_api.write_open)
#define archive_write_set_format_pax (archive_api.write_set_format_pax)
#define archive_read_data_block (archive_api.read_data_block)
#define archive_read_free (archive_api.read_free)
#define archive_read_new (archive_api.read_new)
#define archive_read_next_header (archive_api.read_next_header)
#define archive_read_open_filename (archive_api.read_open_filename)
#define archive_read_support_filter_all (archive_api.read_support_filter_all)
#define archive_read_support_format_all (archive_api.read_support_format_all)
#define archive_read_support_format_raw (archive_api.read_support_format_raw)

#endif
