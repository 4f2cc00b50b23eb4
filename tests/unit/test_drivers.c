/*
 * Tests for the driver contract (driver.h, drivers/defaults.c): every
 * driver's layout over names that are and are not its own (a stamp, a
 * staging name, another driver's names, junk), each layout's names()
 * classified back as its own, "is this stamp taken" for folder and file
 * drivers, the default check and register_existing against real files,
 * and a driver's own hooks taking precedence over the defaults.
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "drivers/driver.h"
#include "util/strv.h"
#include "util/timefmt.h"
#include "util/xmalloc.h"

#include "fixture.h"

#define S "20261126-03h20m57"

static char base[TB_TMPDIR_MAX];

/* An empty job folder for each test. */
static int
setup(void **state)
{
	(void)state;
	return tb_tmpdir_make(base, sizeof base, "drivers");
}

static int
teardown(void **state)
{
	(void)state;
	return tb_tmpdir_remove(base);
}

static void
touch(const char *name)
{
	char *p = xasprintf("%s/%s", base, name);
	FILE *f = fopen(p, "w");

	assert_non_null(f);
	fputs("x\n", f);
	fclose(f);
	free(p);
}

static void
mkfolder(const char *name)
{
	char *p = xasprintf("%s/%s", base, name);

	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
}

static struct job
job_of(const char *type)
{
	struct job j = { .name = "web", .dir = base, .server_name = "srv" };

	j.drv = driver_find(type);
	assert_non_null(j.drv);
	return j;
}

struct name_case {
	const char *name;
	enum drv_entry want;
};

/* Every name the snapshot-folder drivers (rsync and the dump drivers) see. */
static const struct name_case snapshot_names[] = {
	{ S, DRV_ENTRY_FINAL },
	{ S ".rsync", DRV_ENTRY_STAGING },
	{ S ".partial", DRV_ENTRY_STAGING },
	{ S ".rsync.old", DRV_ENTRY_OTHER },
	{ S ".part", DRV_ENTRY_OTHER },
	{ S "x", DRV_ENTRY_OTHER },
	{ "srv-" S ".dump.gz", DRV_ENTRY_OTHER },
	{ "srv-" S ".dump.gz.partial", DRV_ENTRY_OTHER },
	{ "20261399-03h20m57", DRV_ENTRY_OTHER },
	{ "20261126-03h20m5", DRV_ENTRY_OTHER },
	{ "20261126_03h20m57", DRV_ENTRY_OTHER },
	{ ".partial", DRV_ENTRY_OTHER },
	{ "", DRV_ENTRY_OTHER },
	{ "junk", DRV_ENTRY_OTHER },
	{ NULL, DRV_ENTRY_OTHER },
};

/* xcp-dump-metadata: one file per run. */
static const struct name_case xcp_names[] = {
	{ "srv-" S ".dump.gz", DRV_ENTRY_FINAL },
	{ "127.0.0.1-" S ".dump.gz", DRV_ENTRY_FINAL },
	{ "xen_metadata-" S ".dump", DRV_ENTRY_FINAL },
	{ "srv-" S ".dump.gz.partial", DRV_ENTRY_STAGING },
	{ "xen_metadata-" S ".dump.partial", DRV_ENTRY_STAGING },
	{ "srv-" S ".dump.gz.partial.partial", DRV_ENTRY_OTHER },
	{ "-" S ".dump.gz", DRV_ENTRY_OTHER },
	{ "srv" S ".dump.gz", DRV_ENTRY_OTHER },
	{ "srv-" S ".sql.gz", DRV_ENTRY_OTHER },
	{ "srv-20261399-03h20m57.dump.gz", DRV_ENTRY_OTHER },
	{ S, DRV_ENTRY_OTHER },
	{ S ".rsync", DRV_ENTRY_OTHER },
	{ S ".partial", DRV_ENTRY_OTHER },
	{ ".dump.gz.partial", DRV_ENTRY_OTHER },
	{ ".partial", DRV_ENTRY_OTHER },
	{ "junk", DRV_ENTRY_OTHER },
	{ NULL, DRV_ENTRY_OTHER },
};

/* xen-xva: {section}-STAMP.xva, staged .partial; the original's .tmp too. */
static const struct name_case xva_names[] = {
	{ "web-" S ".xva", DRV_ENTRY_FINAL },
	{ "web-prod-" S ".xva", DRV_ENTRY_FINAL },
	{ "web-" S ".xva.partial", DRV_ENTRY_STAGING },
	{ "web-" S ".xva.tmp", DRV_ENTRY_STAGING },
	{ "web-" S ".xva.partial.tmp", DRV_ENTRY_OTHER },
	{ "-" S ".xva", DRV_ENTRY_OTHER },
	{ "web" S ".xva", DRV_ENTRY_OTHER },
	{ "web-20261399-03h20m57.xva", DRV_ENTRY_OTHER },
	{ "web-" S ".dump.gz", DRV_ENTRY_OTHER },
	{ "export.xva", DRV_ENTRY_OTHER },
	{ S, DRV_ENTRY_OTHER },
	{ S ".partial", DRV_ENTRY_OTHER },
	{ ".xva.partial", DRV_ENTRY_OTHER },
	{ NULL, DRV_ENTRY_OTHER },
};

static const struct {
	const char *type;
	const struct name_case *names;
	const char *run_names[DRV_LAYOUT_NAMES + 1]; /* what a run of S creates */
} layouts[] = {
	{ "rsync", snapshot_names, { S, S ".rsync" } },
	{ "rsync+ssh", snapshot_names, { S, S ".rsync" } },
	{ "mysql+ssh", snapshot_names, { S, S ".partial" } },
	{ "pgsql+ssh", snapshot_names, { S, S ".partial" } },
	{ "sqlserver+ssh", snapshot_names, { S, S ".partial" } },
	{ "oracle+ssh", snapshot_names, { S, S ".partial" } },
	{ "samba4", snapshot_names, { S, S ".partial" } },
	{ "xcp-dump-metadata", xcp_names, { "srv-" S ".dump.gz", "srv-" S ".dump.gz.partial" } },
	{ "xen-xva", xva_names, { "web-" S ".xva", "web-" S ".xva.partial", "web-" S ".xva.tmp" } },
};

static void
test_layout_names(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
		const struct driver *drv = driver_find(layouts[i].type);
		const struct drv_layout *l;

		assert_non_null(drv);
		l = driver_layout(drv);
		for (const struct name_case *c = layouts[i].names; c->name != NULL; c++) {
			char stamp[TIME_STAMP_LEN + 1] = "";
			enum drv_entry got = l->classify(c->name, stamp);

			if (got != c->want)
				fail_msg("%s: '%s' classified %d, want %d", layouts[i].type,
				         c->name, got, c->want);
			if (got != DRV_ENTRY_OTHER)
				assert_string_equal(stamp, S);
		}
	}
}

/* What a run of S creates: the names, in order, and each classified back. */
static void
test_layout_run_names(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof layouts / sizeof layouts[0]; i++) {
		struct job job = job_of(layouts[i].type);
		const struct drv_layout *l = driver_layout(job.drv);
		char *names[DRV_LAYOUT_NAMES];
		size_t n = l->names(&job, S, names);

		for (size_t k = 0; k < n; k++) {
			char stamp[TIME_STAMP_LEN + 1] = "";

			assert_non_null(layouts[i].run_names[k]);
			assert_string_equal(names[k], layouts[i].run_names[k]);
			assert_int_equal(l->classify(names[k], stamp),
			                 k == 0 ? DRV_ENTRY_FINAL : DRV_ENTRY_STAGING);
			assert_string_equal(stamp, S);
			free(names[k]);
		}
		assert_null(layouts[i].run_names[n]);
	}
}

/* Every driver of the table, future ones included, keeps the contract. */
static void
test_table_contract(void **state)
{
	struct job job = { .name = "web", .dir = base, .server_name = "srv" };

	(void)state;
	for (const struct driver *const *d = driver_table; *d != NULL; d++) {
		const struct drv_layout *l = driver_layout(*d);
		char *names[DRV_LAYOUT_NAMES];
		size_t n;

		assert_non_null(l->classify);
		assert_non_null(l->names);
		assert_non_null((*d)->backup);
		/* Only the driver knows how to remove a remote backup. */
		if ((*d)->caps & (DRV_CAP_REMOTE | DRV_CAP_SUBVOLUME))
			assert_non_null((*d)->expire);
		job.drv = *d;
		n = l->names(&job, S, names);
		assert_true(n >= 1 && n <= DRV_LAYOUT_NAMES);
		for (size_t k = 0; k < n; k++) {
			char stamp[TIME_STAMP_LEN + 1] = "";

			char *deleting = xasprintf("%s" DRV_DELETING, names[k]);

			assert_int_equal(l->classify(names[k], stamp),
			                 k == 0 ? DRV_ENTRY_FINAL : DRV_ENTRY_STAGING);
			assert_null(strchr(names[k], '/'));
			/* What cleanup is removing is never a backup, nor a run's work. */
			assert_int_equal(l->classify(deleting, stamp), DRV_ENTRY_OTHER);
			free(deleting);
			free(names[k]);
		}
	}
}

/* Two runs in one second: a file driver's stamp is taken by its file. */
static void
test_stamp_taken_file_driver(void **state)
{
	struct job job = job_of("xcp-dump-metadata");

	(void)state;
	assert_int_equal(driver_stamp_taken(&job, S), 0);
	touch("srv-" S ".dump.gz");
	assert_int_equal(driver_stamp_taken(&job, S), 1);
	assert_int_equal(driver_stamp_taken(&job, "20261126-03h20m58"), 0);
	touch("srv-20261126-03h20m58.dump.gz.partial");
	assert_int_equal(driver_stamp_taken(&job, "20261126-03h20m58"), 1);
	/* Another server's file, or a folder named like rsync's, is no conflict. */
	touch("other-20261126-03h20m59.dump.gz");
	mkfolder("20261126-03h20m59");
	assert_int_equal(driver_stamp_taken(&job, "20261126-03h20m59"), 0);
}

static void
test_stamp_taken_folder_drivers(void **state)
{
	struct job rs = job_of("rsync+ssh"), my = job_of("mysql+ssh");

	(void)state;
	mkfolder(S);
	assert_int_equal(driver_stamp_taken(&rs, S), 1);
	assert_int_equal(driver_stamp_taken(&my, S), 1);
	mkfolder("20261126-03h21m00.rsync");
	assert_int_equal(driver_stamp_taken(&rs, "20261126-03h21m00"), 1);
	mkfolder("20261126-03h21m01.partial");
	assert_int_equal(driver_stamp_taken(&my, "20261126-03h21m01"), 1);
	/* A dangling symlink still takes the name. */
	{
		char *p = xasprintf("%s/20261126-03h21m02", base);

		assert_int_equal(symlink("/nonexistent", p), 0);
		free(p);
	}
	assert_int_equal(driver_stamp_taken(&rs, "20261126-03h21m02"), 1);
	assert_int_equal(driver_stamp_taken(&rs, "20261126-03h21m03"), 0);
}

static const struct driver drv_remote = { .name = "remote-test", .caps = DRV_CAP_REMOTE };

static void
test_check_default(void **state)
{
	struct job job = job_of("mysql+ssh"), remote = job;
	struct drv_check chk;
	struct err err;
	struct stat sb;
	char *file = xasprintf("%s/f", base), *dir = xasprintf("%s/d", base),
	     *gone = xasprintf("%s/gone", base);

	(void)state;
	err_clear(&err);
	touch("f");
	mkfolder("d");
	assert_int_equal(stat(file, &sb), 0);
	assert_int_equal(driver_check(&job, file, &chk, &err), 0);
	assert_int_equal(chk.presence, DRV_FILE);
	assert_int_equal(chk.ctime.tv_sec, sb.st_ctim.tv_sec);
	assert_int_equal(chk.ctime.tv_nsec, sb.st_ctim.tv_nsec);
	assert_int_equal(driver_check(&job, dir, &chk, &err), 0);
	assert_int_equal(chk.presence, DRV_FOLDER);
	assert_int_equal(driver_check(&job, gone, &chk, &err), 0);
	assert_int_equal(chk.presence, DRV_GONE);
	/* A remote backup has no local path: that proves nothing. */
	remote.drv = &drv_remote;
	assert_int_equal(driver_check(&remote, "zzz-vm 2026-11-26 03:20", &chk, &err), 0);
	assert_int_equal(chk.presence, DRV_ELSEWHERE);
	assert_int_equal(driver_check(&remote, file, &chk, &err), 0);
	assert_int_equal(chk.presence, DRV_FILE);
	free(file);
	free(dir);
	free(gone);
}

static int
check_hook(const struct job *job, const char *location, struct drv_check *out, struct err *err)
{
	(void)job;
	if (strcmp(location, "broken") == 0) {
		err_set(err, "pool unreachable");
		return -1;
	}
	out->presence = strcmp(location, "vm-1") == 0 ? DRV_ELSEWHERE : DRV_GONE;
	return 0;
}

static int
register_hook(const struct job *job, drv_found_fn found, void *arg, struct err *err)
{
	struct drv_found f = { .location = "vm-1", .stamp = S, .bytes = 10, .files = 1 };

	(void)job;
	return found(arg, &f, err);
}

static const struct driver drv_hooks = {
	.name = "hooks-test",
	.caps = DRV_CAP_REMOTE,
	.check = check_hook,
	.register_existing = register_hook,
};

static int
collect(void *arg, const struct drv_found *f, struct err *err)
{
	struct strv *v = arg;

	(void)err;
	assert_string_equal(f->stamp, S);
	strv_push(v, f->location);
	return 0;
}

static void
test_own_hooks_win(void **state)
{
	struct job job = { .name = "vm", .dir = base, .server_name = "srv", .drv = &drv_hooks };
	struct drv_check chk;
	struct strv found;
	struct err err;

	(void)state;
	err_clear(&err);
	assert_int_equal(driver_check(&job, "vm-1", &chk, &err), 0);
	assert_int_equal(chk.presence, DRV_ELSEWHERE);
	assert_int_equal(driver_check(&job, "vm-0", &chk, &err), 0);
	assert_int_equal(chk.presence, DRV_GONE);
	assert_int_equal(driver_check(&job, "broken", &chk, &err), -1);
	assert_string_equal(err.msg, "pool unreachable");
	strv_init(&found);
	mkfolder(S); /* the default scan would find this one */
	assert_int_equal(driver_register_existing(&job, collect, &found, &err), 0);
	assert_int_equal(found.n, 1);
	assert_string_equal(found.v[0], "vm-1");
	strv_free(&found);
}

/* The default register hook: FINAL names only, folders (or files for file drivers). */
static void
test_register_default(void **state)
{
	struct job rs = job_of("rsync+ssh"), xcp = job_of("xcp-dump-metadata");
	struct strv found;
	struct err err;
	char *p;

	(void)state;
	err_clear(&err);
	mkfolder(S);
	mkfolder("20261126-03h20m57.rsync");
	touch("20261126-03h20m58");
	touch("srv-" S ".dump.gz");
	touch("srv-" S ".dump.gz.partial");
	p = xasprintf("%s/20261126-03h20m59", base);
	assert_int_equal(symlink(base, p), 0);
	free(p);
	p = xasprintf("%s/srv-20261126-03h20m59.dump.gz", base);
	assert_int_equal(symlink("/etc/hostname", p), 0);
	free(p);

	strv_init(&found);
	assert_int_equal(driver_register_existing(&rs, collect, &found, &err), 0);
	assert_int_equal(found.n, 1);
	p = xasprintf("%s/%s", base, S);
	assert_string_equal(found.v[0], p);
	free(p);
	strv_free(&found);

	strv_init(&found);
	assert_int_equal(driver_register_existing(&xcp, collect, &found, &err), 0);
	assert_int_equal(found.n, 1);
	p = xasprintf("%s/srv-%s.dump.gz", base, S);
	assert_string_equal(found.v[0], p);
	free(p);
	strv_free(&found);

	/* No job folder: nothing found, no error. */
	rs.dir = (char *)"/nonexistent/tb-test";
	strv_init(&found);
	assert_int_equal(driver_register_existing(&rs, collect, &found, &err), 0);
	assert_int_equal(found.n, 0);
	strv_free(&found);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_names),
		cmocka_unit_test_setup_teardown(test_layout_run_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_contract, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stamp_taken_file_driver, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stamp_taken_folder_drivers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_check_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_hooks_win, setup, teardown),
		cmocka_unit_test_setup_teardown(test_register_default, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
