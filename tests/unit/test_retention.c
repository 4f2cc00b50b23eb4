/*
 * Tests for the cleanup executor (retention.c) with drivers of its own
 * making, the paths tests/integration/test_cleanup.sh cannot reach with
 * the shipped drivers: a driver's expire hook is called for each expired
 * backup and orphan (with the resolved parent and name), a subvolume-like
 * folder on another filesystem goes to the hook instead of being refused,
 * a remote driver's locations go to its hook untouched, a remote driver
 * without a hook keeps its rows, and a dry run calls no hook; what an
 * interrupted cleanup left under NAME.deleting is finished.
 */
#include <sys/mount.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "actions.h"
#include "catalog.h"
#include "catalog_fixture.h"
#include "config.h"
#include "drivers/driver.h"
#include "log.h"
#include "util/rmtree.h"
#include "util/timefmt.h"
#include "util/xmalloc.h"

#include "fixture.h"

static char base[TB_TMPDIR_MAX];

/* What the expire hooks saw. */
#define MAXCALLS 8
static struct call {
	char location[512];
	char name[128];
	int had_dirfd;
	int other_fs;
} calls[MAXCALLS];
static size_t ncalls;

static int
record_call(const struct drv_expire *x)
{
	struct call *c;

	assert_true(ncalls < MAXCALLS);
	c = &calls[ncalls++];
	snprintf(c->location, sizeof c->location, "%s", x->location);
	snprintf(c->name, sizeof c->name, "%s", x->name != NULL ? x->name : "");
	c->had_dirfd = x->dirfd >= 0;
	c->other_fs = x->other_fs;
	return 0;
}

/* A subvolume-like driver: unmounts what is mounted, then removes. */
static int
subvol_expire(const struct drv_expire *x, struct err *err)
{
	record_call(x);
	if (x->other_fs) {
		char *p = xasprintf("/proc/self/fd/%d/%s", x->dirfd, x->name);
		int rc = umount2(p, MNT_DETACH);

		free(p);
		if (rc == -1) {
			err_sys(err, errno, "unmounting %s", x->name);
			return -1;
		}
	}
	return rmtree_at(x->dirfd, x->name, err);
}

static int
remote_expire(const struct drv_expire *x, struct err *err)
{
	record_call(x);
	if (strstr(x->location, "stuck") != NULL) {
		err_set(err, "the pool refused");
		return -1;
	}
	return 0;
}

static int
no_backup(struct drv_run *run, struct drv_stats *st, struct err *err)
{
	(void)run;
	(void)st;
	(void)err;
	return 0;
}

static const struct driver drv_subvol = {
	.name = "subvol-test",
	.caps = DRV_CAP_SUBVOLUME,
	.backup = no_backup,
	.expire = subvol_expire,
};
static const struct driver drv_remote = {
	.name = "remote-test",
	.caps = DRV_CAP_REMOTE,
	.backup = no_backup,
	.expire = remote_expire,
};
static const struct driver drv_remote_nohook = {
	.name = "remote-nohook-test",
	.caps = DRV_CAP_REMOTE,
	.backup = no_backup,
};

struct fixture {
	struct catalog *cat;
	char *catpath;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);
	struct err err;

	if (tb_tmpdir_make(base, sizeof base, "retention") == -1)
		return -1;
	f->catpath = tb_catalog_new(base, "tisbackup");
	err_clear(&err);
	if (catalog_open(f->catpath, CATALOG_RW, &f->cat, &err) == -1)
		return -1;
	memset(calls, 0, sizeof calls);
	ncalls = 0;
	log_set_stderr(0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;
	int rc;

	catalog_close(f->cat);
	rc = tb_catalog_drop(f->catpath);
	free(f);
	if (tb_tmpdir_remove(base) == -1)
		rc = -1;
	return rc;
}

/* Stamp and ISO start of days ago at noon, local time. */
static void
when(int days_ago, char *stamp, char *iso)
{
	struct timeval tv = { .tv_sec = time(NULL) - (time_t)days_ago * 86400 };
	struct tm tm;

	localtime_r(&tv.tv_sec, &tm);
	tm.tm_hour = 12;
	tm.tm_min = tm.tm_sec = 0;
	tm.tm_isdst = -1;
	tv.tv_sec = mktime(&tm);
	time_stamp(tv.tv_sec, stamp);
	time_iso(&tv, iso);
}

static int64_t
add_row(struct catalog *cat, const char *job, int days_ago, const char *location)
{
	char stamp[TIME_STAMP_LEN + 1], iso[TIME_ISO_LEN + 1];
	struct catalog_row r = { 0 };
	struct err err;
	int64_t id = -1;

	when(days_ago, stamp, iso);
	r.backup_name = (char *)job;
	r.server_name = (char *)"srv";
	r.description = (char *)"";
	r.backup_start = r.backup_end = iso;
	r.total_files_count = r.written_files_count = 1;
	r.total_bytes = r.written_bytes = 10;
	r.status = (char *)"OK";
	r.log = (char *)"ok";
	r.backup_location = (char *)location;
	r.type = (char *)"BACKUP";
	err_clear(&err);
	assert_int_equal(catalog_insert_row(cat, &r, &id, &err), 0);
	return id;
}

static const char *
row_type(struct catalog *cat, const char *job, const char *location)
{
	static char type[16];
	struct catalog_filter flt = { .backup_name = job };
	struct catalog_row *rows = NULL;
	struct err err;
	size_t n = 0;

	err_clear(&err);
	assert_int_equal(catalog_find(cat, &flt, &rows, &n, &err), 0);
	type[0] = '\0';
	for (size_t i = 0; i < n; i++)
		if (strcmp(rows[i].backup_location, location) == 0)
			snprintf(type, sizeof type, "%s", rows[i].type);
	catalog_rows_free(rows, n);
	return type;
}

/* A job of drv with its folder under base. */
static struct job *
mkjob(const char *name, const struct driver *drv)
{
	struct job *j = xcalloc(1, sizeof *j);

	j->name = name;
	j->drv = drv;
	j->dir = xasprintf("%s/%s", base, name);
	j->server_name = "srv";
	j->retention_days = 5;
	j->max_age_hours = 30;
	assert_int_equal(mkdir(j->dir, 0750), 0);
	return j;
}

static void
freejob(struct job *j)
{
	free(j->dir);
	free(j);
}

static int
cleanup_of(struct fixture *f, struct job *j, int dry_run)
{
	const struct job *jobs[] = { j };
	struct action_ctx a = { .jobs = jobs,
		                .njobs = 1,
		                .cat = dry_run ? NULL : f->cat,
		                .catalog_path = f->catpath,
		                .dry_run = dry_run };

	return cleanup_run(&a);
}

/* Expired backup and orphan go through the hook; a mount point too. */
static void
test_expire_hook_local(void **state)
{
	struct fixture *f = *state;
	struct job *j = mkjob("sub", &drv_subvol);
	char stamp[TIME_STAMP_LEN + 1], iso[TIME_ISO_LEN + 1];
	char *old, *mnt, *recent, *orphan;
	int mounted;

	when(10, stamp, iso);
	old = xasprintf("%s/%s", j->dir, stamp);
	orphan = xasprintf("%s/%s.partial", j->dir, stamp);
	when(12, stamp, iso);
	mnt = xasprintf("%s/%s", j->dir, stamp);
	when(1, stamp, iso);
	recent = xasprintf("%s/%s", j->dir, stamp);
	assert_int_equal(mkdir(old, 0750), 0);
	assert_int_equal(mkdir(orphan, 0750), 0);
	assert_int_equal(mkdir(mnt, 0750), 0);
	assert_int_equal(mkdir(recent, 0750), 0);
	/* Another filesystem (root only): the local removal would refuse it. */
	mounted = mount("tmpfs", mnt, "tmpfs", 0, "size=1m") == 0;
	add_row(f->cat, "sub", 10, old);
	add_row(f->cat, "sub", 12, mnt);
	add_row(f->cat, "sub", 1, recent);

	/* A dry run calls no hook and removes nothing. */
	assert_int_equal(cleanup_of(f, j, 1), 0);
	assert_int_equal(ncalls, 0);
	assert_int_equal(access(old, F_OK), 0);

	assert_int_equal(cleanup_of(f, j, 0), 0);
	assert_int_equal(ncalls, 3);
	for (size_t i = 0; i < ncalls; i++) {
		assert_true(calls[i].had_dirfd);
		assert_null(strchr(calls[i].name, '/'));
		assert_int_equal(calls[i].other_fs,
		                 mounted && strcmp(calls[i].location, mnt) == 0 ? 1 : 0);
	}
	assert_int_equal(access(old, F_OK), -1);
	assert_int_equal(access(mnt, F_OK), -1);
	assert_int_equal(access(orphan, F_OK), -1);
	assert_int_equal(access(recent, F_OK), 0);
	assert_string_equal(row_type(f->cat, "sub", old), "CLEAN");
	assert_string_equal(row_type(f->cat, "sub", mnt), "CLEAN");
	assert_string_equal(row_type(f->cat, "sub", recent), "BACKUP");
	if (!mounted)
		print_message("# not root: the mount point case ran as a plain folder\n");
	free(old);
	free(mnt);
	free(recent);
	free(orphan);
	freejob(j);
}

/* Remote locations go to the hook as recorded; a failure keeps the row. */
static void
test_expire_hook_remote(void **state)
{
	struct fixture *f = *state;
	struct job *j = mkjob("vm", &drv_remote);

	add_row(f->cat, "vm", 10, "zzz-web 2026-01-01 old");
	add_row(f->cat, "vm", 11, "zzz-web stuck");
	add_row(f->cat, "vm", 1, "zzz-web 2026-01-10 recent");
	assert_int_equal(cleanup_of(f, j, 0), EXIT_JOBS);
	assert_int_equal(ncalls, 2);
	for (size_t i = 0; i < ncalls; i++) {
		assert_false(calls[i].had_dirfd);
		assert_string_equal(calls[i].name, "");
	}
	assert_string_equal(row_type(f->cat, "vm", "zzz-web 2026-01-01 old"), "CLEAN");
	assert_string_equal(row_type(f->cat, "vm", "zzz-web stuck"), "BACKUP");
	assert_string_equal(row_type(f->cat, "vm", "zzz-web 2026-01-10 recent"), "BACKUP");
	freejob(j);
}

/* A remote driver that cannot expire: its rows stay, nothing is removed. */
static void
test_remote_without_hook(void **state)
{
	struct fixture *f = *state;
	struct job *j = mkjob("vm2", &drv_remote_nohook);
	char *decoy = xasprintf("%s/zzz", j->dir);

	/* A local path of the same name is not what the row means. */
	assert_int_equal(mkdir(decoy, 0750), 0);
	add_row(f->cat, "vm2", 10, decoy);
	add_row(f->cat, "vm2", 1, "zzz-web recent");
	assert_int_equal(cleanup_of(f, j, 0), 0);
	assert_int_equal(access(decoy, F_OK), 0);
	assert_string_equal(row_type(f->cat, "vm2", decoy), "BACKUP");
	free(decoy);
	freejob(j);
}

/* mkdir path and put a file in it. */
static void
mktree(const char *path)
{
	char *f = xasprintf("%s/data", path);
	FILE *fp;

	assert_int_equal(mkdir(path, 0750), 0);
	assert_non_null(fp = fopen(f, "w"));
	fputs("x\n", fp);
	fclose(fp);
	free(f);
}

/*
 * A local removal goes through NAME.deleting, and what an interrupted
 * cleanup left under such names (of any age, with or without a row)
 * is finished; a .deleting name the layout does not know is left alone.
 */
static void
test_leftovers_finished(void **state)
{
	struct fixture *f = *state;
	struct job *j = mkjob("rs", driver_find("rsync+ssh"));
	char stamp[TIME_STAMP_LEN + 1], iso[TIME_ISO_LEN + 1];
	char *old, *oldleft, *cut, *cutleft, *young, *recent, *alien;

	when(10, stamp, iso);
	old = xasprintf("%s/%s", j->dir, stamp);
	/* Both the expired folder and a leftover of its own name. */
	oldleft = xasprintf("%s" DRV_DELETING, old);
	when(11, stamp, iso);
	cut = xasprintf("%s/%s", j->dir, stamp); /* its row; renamed, then killed */
	cutleft = xasprintf("%s" DRV_DELETING, cut);
	when(2, stamp, iso);
	young = xasprintf("%s/%s.rsync" DRV_DELETING, j->dir, stamp);
	when(1, stamp, iso);
	recent = xasprintf("%s/%s", j->dir, stamp);
	alien = xasprintf("%s/notes" DRV_DELETING, j->dir);
	mktree(old);
	mktree(oldleft);
	mktree(cutleft);
	mktree(young);
	mktree(recent);
	mktree(alien);
	add_row(f->cat, "rs", 10, old);
	add_row(f->cat, "rs", 11, cut);
	add_row(f->cat, "rs", 1, recent);

	assert_int_equal(cleanup_of(f, j, 1), 0);
	assert_int_equal(access(oldleft, F_OK), 0);
	assert_int_equal(access(young, F_OK), 0);
	assert_int_equal(access(old, F_OK), 0);

	assert_int_equal(cleanup_of(f, j, 0), 0);
	assert_int_equal(access(old, F_OK), -1);
	assert_int_equal(access(oldleft, F_OK), -1);
	assert_int_equal(access(cutleft, F_OK), -1);
	assert_int_equal(access(young, F_OK), -1);
	assert_int_equal(access(recent, F_OK), 0);
	assert_int_equal(access(alien, F_OK), 0);
	assert_string_equal(row_type(f->cat, "rs", old), "CLEAN");
	assert_string_equal(row_type(f->cat, "rs", cut), "CLEAN");
	assert_string_equal(row_type(f->cat, "rs", recent), "BACKUP");
	free(old);
	free(oldleft);
	free(cut);
	free(cutleft);
	free(young);
	free(recent);
	free(alien);
	freejob(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_expire_hook_local, setup, teardown),
		cmocka_unit_test_setup_teardown(test_expire_hook_remote, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remote_without_hook, setup, teardown),
		cmocka_unit_test_setup_teardown(test_leftovers_finished, setup, teardown),
	};

	/* Every case cleans up through the catalog: unit_pg_retention runs them all on PostgreSQL. */
	if (tb_catalog_pg_url() != NULL)
		return cmocka_run_group_tests_name("retention_pg", tests, NULL, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
