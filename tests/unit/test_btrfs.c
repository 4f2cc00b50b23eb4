/*
 * The btrfs drivers without root and without btrfs: their descriptors
 * (every rsync key of the rsync drivers, snapshot_readonly defaulting to
 * yes), the rsync command line into last_backup/ with no --link-dest
 * even when older snapshots exist, the exit-code policy that must stop a
 * run before its snapshot, the names (a run makes STAMP only;
 * last_backup is nobody's backup), and the hooks on a folder that is not
 * btrfs: the preflight refuses it, expire removes a plain folder and
 * refuses a foreign mount point, register_existing refuses to scan it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "config.h"
#include "drivers/driver.h"
#include "drivers/rsync.h"
#include "fixture.h"
#include "util/fsutil.h"
#include "util/strv.h"
#include "util/timefmt.h"
#include "util/xmalloc.h"

#define STAMP "20261204-21h00m00"

/* [global] with backup_base_dir = base, plus [j] made of the lines in job. */
static struct config *
load_job(const char *base, const char *job)
{
	struct config *cfg = NULL;
	struct err err;
	char *text;

	text = xasprintf("[global]\nbackup_base_dir = %s\nbackup_retention_time = 30\n"
	                 "maximum_backup_age = 30\n\n[j]\n%s",
	                 base, job);
	err_clear(&err);
	if (config_parse_buffer("t.ini", text, strlen(text), NULL, &cfg, &err) == -1)
		fail_msg("config refused:\n%s\n---\n%s", text, err.msg);
	free(text);
	assert_int_equal(cfg->njobs, 1);
	return cfg;
}

#define SSH_JOB                                                                                    \
	"type = rsync+btrfs+ssh\nserver_name = web1\nremote_dir = /srv/data\n"                     \
	"private_key = /keys/id\nssh_connection_sharing = no\n"
#define DAEMON_JOB                                                                                 \
	"type = rsync+btrfs\nserver_name = files1\nremote_user = backup\nrsync_module = data\n"    \
	"remote_dir = /srv\npassword_file = /etc/tis/rsync.pw\n"

/* 1 if key is among keys. */
static int
has_key(const struct drv_key *keys, const char *key)
{
	for (; keys != NULL && keys->name != NULL; keys++)
		if (strcmp(keys->name, key) == 0)
			return 1;
	return 0;
}

/* Every key of the rsync driver `from` is a key of the btrfs driver `to`. */
static void
assert_keys_cover(const char *from, const char *to)
{
	const struct driver *f = driver_find(from), *t = driver_find(to);

	assert_non_null(f);
	assert_non_null(t);
	for (const struct drv_key *k = f->required; k->name != NULL; k++)
		if (!has_key(t->required, k->name))
			fail_msg("%s requires %s, %s does not", from, k->name, to);
	for (const struct drv_key *k = f->optional; k->name != NULL; k++)
		if (!has_key(t->optional, k->name))
			fail_msg("%s takes %s, %s does not", from, k->name, to);
}

static void
test_descriptors(void **state)
{
	const struct driver *ssh = driver_find("rsync+btrfs+ssh");
	const struct driver *daemon = driver_find("rsync+btrfs");
	const struct drv_key *k;
	int req = -1;

	(void)state;
	assert_non_null(ssh);
	assert_non_null(daemon);
	assert_keys_cover("rsync+ssh", "rsync+btrfs+ssh");
	assert_keys_cover("rsync", "rsync+btrfs");
	for (const struct driver *d = ssh;; d = daemon) {
		k = driver_key(d, "snapshot_readonly", &req);
		assert_non_null(k);
		assert_int_equal(k->type, KEY_BOOL);
		assert_string_equal(k->def, "yes");
		assert_int_equal(req, 0);
		assert_true(d->caps & DRV_CAP_SUBVOLUME);
		assert_non_null(d->expire);
		assert_non_null(d->expire_commit);
		assert_non_null(d->register_existing);
		if (d == daemon)
			break;
	}
	assert_true(ssh->caps & DRV_CAP_SSH);
	assert_false(daemon->caps & DRV_CAP_SSH);
	assert_non_null(daemon->validate);
}

static void
test_snapshot_readonly_values(void **state)
{
	struct config *cfg;

	(void)state;
	cfg = load_job("/b", SSH_JOB);
	assert_int_equal(job_get_bool(&cfg->jobs[0], "snapshot_readonly", 0), 1);
	config_free(cfg);
	cfg = load_job("/b", SSH_JOB "snapshot_readonly = no\n");
	assert_int_equal(job_get_bool(&cfg->jobs[0], "snapshot_readonly", 1), 0);
	config_free(cfg);
}

/* Index of the element equal to s, or -1. */
static int
at(const struct strv *av, const char *s)
{
	for (size_t i = 0; i < av->n; i++)
		if (strcmp(av->v[i], s) == 0)
			return (int)i;
	return -1;
}

static int
count_prefix(const struct strv *av, const char *prefix)
{
	int n = 0;

	for (size_t i = 0; i < av->n; i++)
		n += strncmp(av->v[i], prefix, strlen(prefix)) == 0;
	return n;
}

/* The argv of the btrfs job in cfg, into {job}/last_backup. */
static void
build(const struct config *cfg, enum rsync_transport t, struct strv *av)
{
	const struct job *job = &cfg->jobs[0];
	char *dest = fs_join(job->dir, "last_backup");
	struct err err;

	strv_init(av);
	err_clear(&err);
	if (rsync_build_argv_to(job, t, STAMP, dest, 0, 0, av, &err) == -1)
		fail_msg("rsync_build_argv_to: %s", err.msg);
	free(dest);
}

static void
test_argv_into_last_backup(void **state)
{
	struct tb_tmpdir *td = *state;
	struct config *cfg = load_job(td->path, SSH_JOB "bwlimit = 100\ncompression = yes\n"
	                                                "exclude_list = \"*.tmp\"\n");
	char *jobdir = xasprintf("%s/j", td->path),
	     *old = xasprintf("%s/j/20261201-00h00m00", td->path);
	char *want = xasprintf("%s/j/last_backup/", td->path);
	struct strv av;

	/* Older snapshots exist: still no --link-dest. */
	assert_int_equal(mkdir(jobdir, 0700), 0);
	assert_int_equal(mkdir(old, 0700), 0);
	build(cfg, RSYNC_OVER_SSH, &av);
	assert_string_equal(av.v[0], "rsync");
	assert_int_equal(count_prefix(&av, "--link-dest"), 0);
	assert_string_equal(av.v[av.n - 1], want);
	assert_string_equal(av.v[av.n - 2], "root@web1:/srv/data/");
	assert_string_equal(av.v[av.n - 3], "--");
	/* The rsync drivers' options, all of them. */
	for (const char *const *o =
	         (const char *const[]){ "-rt", "--stats", "--delete-excluded", "--numeric-ids",
	                                "--delete-after", "--partial", "-lpgoD", "--protect-args",
	                                "-z", "--bwlimit=100", "--exclude=*.tmp", "-e", NULL };
	     *o != NULL; o++)
		if (at(&av, *o) == -1)
			fail_msg("no %s in the argv", *o);
	strv_free(&av);
	config_free(cfg);
	free(jobdir);
	free(old);
	free(want);
}

static void
test_argv_daemon(void **state)
{
	struct tb_tmpdir *td = *state;
	struct config *cfg = load_job(td->path, DAEMON_JOB "rsync_port = 8873\n");
	struct strv av;

	build(cfg, RSYNC_DAEMON, &av);
	assert_int_equal(count_prefix(&av, "--link-dest"), 0);
	assert_true(at(&av, "--port=8873") != -1);
	assert_true(at(&av, "--password-file=/etc/tis/rsync.pw") != -1);
	assert_int_equal(at(&av, "-e"), -1);
	assert_string_equal(av.v[av.n - 2], "backup@files1::data/srv/");
	strv_free(&av);
	config_free(cfg);
}

/* The verdicts that decide whether a run may snapshot. */
static void
test_policy(void **state)
{
	(void)state;
	assert_int_equal(rsync_verdict(RSYNC_FOR_BACKUP, 1, 0, 10, 0), RSYNC_DONE);
	assert_int_equal(rsync_verdict(RSYNC_FOR_BACKUP, 1, 24, 10, 0), RSYNC_VANISHED);
	assert_int_equal(rsync_verdict(RSYNC_FOR_BACKUP, 1, 23, 10, 0), RSYNC_PARTIAL);
	assert_int_equal(rsync_verdict(RSYNC_FOR_BACKUP, 1, 23, 10, 1), RSYNC_PARTIAL_ERR);
	/* A missing remote_dir: last_backup holds the previous run's data. */
	assert_int_equal(rsync_verdict(RSYNC_FOR_BACKUP, 1, 23, 0, 0), RSYNC_NO_SOURCE);
	assert_int_equal(rsync_verdict(RSYNC_FOR_BACKUP, 0, 0, 10, 0), RSYNC_FAILED);
	assert_int_equal(rsync_verdict(RSYNC_FOR_BACKUP, 1, 12, 10, 0), RSYNC_FAILED);
}

static void
test_names(void **state)
{
	const struct driver *d = driver_find("rsync+btrfs+ssh");
	const struct drv_layout *l = driver_layout(d);
	char stamp[TIME_STAMP_LEN + 1];
	char *names[DRV_LAYOUT_NAMES];
	size_t n;

	(void)state;
	n = l->names(NULL, STAMP, names);
	assert_int_equal(n, 1);
	assert_string_equal(names[0], STAMP);
	free(names[0]);
	assert_int_equal(l->classify(STAMP, stamp), DRV_ENTRY_FINAL);
	assert_string_equal(stamp, STAMP);
	assert_int_equal(l->classify("last_backup", stamp), DRV_ENTRY_OTHER);
	assert_int_equal(l->classify("last_backup.old", stamp), DRV_ENTRY_OTHER);
	assert_int_equal(l->classify(STAMP "x", stamp), DRV_ENTRY_OTHER);
	assert_int_equal(l->classify("lock", stamp), DRV_ENTRY_OTHER);
	/* A job converted from rsync+ssh: its unfinished folders are still swept. */
	assert_int_equal(l->classify(STAMP ".rsync", stamp), DRV_ENTRY_STAGING);
	assert_int_equal(driver_layout(driver_find("rsync+btrfs")), l);
}

/* The backup hook's dry run on a folder that is not btrfs: the preflight says so. */
static void
test_preflight_not_btrfs(void **state)
{
	struct tb_tmpdir *td = *state;
	struct config *cfg = load_job(td->path, SSH_JOB);
	const struct job *job = &cfg->jobs[0];
	struct drv_run run = { .job = job, .stamp = STAMP, .dry_run = 1 };
	struct drv_stats st;
	struct err err;

	char *work = fs_join(job->dir, "last_backup");
	struct statfs sf;

	if (statfs(td->path, &sf) == 0 && (unsigned long)sf.f_type == 0x9123683EUL) {
		config_free(cfg);
		free(work);
		skip(); /* the temporary folder is on btrfs itself */
	}
	if (fs_mkdir_p(job->dir, 0700, NULL) == -1)
		fail_msg("mkdir %s", job->dir);
	memset(&st, 0, sizeof st);
	err_clear(&err);
	assert_int_equal(job->drv->backup(&run, &st, &err), -1);
	assert_non_null(strstr(err.msg, "is not on a btrfs filesystem"));
	assert_non_null(strstr(err.msg, "use type = rsync+ssh"));
	assert_null(st.location);
	assert_false(fs_exists(work));
	free(work);
	config_free(cfg);
}

/* expire: a plain folder goes; a folder on "another filesystem" that is no subvolume stays. */
static void
test_expire_plain_and_foreign(void **state)
{
	struct tb_tmpdir *td = *state;
	struct config *cfg = load_job(td->path, SSH_JOB);
	const struct job *job = &cfg->jobs[0];
	char *snap = xasprintf("%s/%s", td->path, STAMP), *f = xasprintf("%s/f", snap);
	struct drv_expire x = { .job = job, .location = snap, .name = STAMP };
	struct err err;
	int fd;

	assert_int_equal(mkdir(snap, 0700), 0);
	fd = open(f, O_CREAT | O_WRONLY, 0600);
	assert_true(fd != -1);
	close(fd);
	x.dirfd = open(td->path, O_RDONLY | O_DIRECTORY);
	assert_true(x.dirfd != -1);

	x.other_fs = 1; /* as the core would say of a mount point */
	err_clear(&err);
	assert_int_equal(job->drv->expire(&x, &err), -1);
	assert_non_null(strstr(err.msg, "not a btrfs subvolume: left alone"));
	assert_true(fs_exists(f));

	x.other_fs = 0;
	err_clear(&err);
	assert_int_equal(job->drv->expire(&x, &err), 0);
	assert_false(fs_exists(snap));
	close(x.dirfd);
	free(snap);
	free(f);
	config_free(cfg);
}

static int
found_none(void *arg, const struct drv_found *f, struct err *err)
{
	(void)arg;
	(void)err;
	fail_msg("found %s", f->location);
	return -1;
}

static void
test_register_not_btrfs(void **state)
{
	struct tb_tmpdir *td = *state;
	struct config *cfg = load_job(td->path, SSH_JOB);
	const struct job *job = &cfg->jobs[0];
	char *snap;
	struct err err;

	/* No job folder yet: nothing found, no error. */
	err_clear(&err);
	assert_int_equal(driver_register_existing(job, found_none, NULL, &err), 0);
	snap = xasprintf("%s/%s", job->dir, STAMP);
	if (fs_mkdir_p(snap, 0700, NULL) == -1)
		fail_msg("mkdir %s", snap);
	err_clear(&err);
	assert_int_equal(driver_register_existing(job, found_none, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "is not on a btrfs filesystem"));
	free(snap);
	config_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_descriptors),
		cmocka_unit_test(test_snapshot_readonly_values),
		cmocka_unit_test_setup_teardown(test_argv_into_last_backup, tb_tmpdir_setup,
		                                tb_tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_argv_daemon, tb_tmpdir_setup,
		                                tb_tmpdir_teardown),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_names),
		cmocka_unit_test_setup_teardown(test_preflight_not_btrfs, tb_tmpdir_setup,
		                                tb_tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_expire_plain_and_foreign, tb_tmpdir_setup,
		                                tb_tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_register_not_btrfs, tb_tmpdir_setup,
		                                tb_tmpdir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
