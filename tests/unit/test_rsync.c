/*
 * The rsync pieces the drivers share: --stats parsing in its variants
 * (rsync 2.x and 3.x wording, ',' and '.' grouping), the choice of
 * --link-dest snapshots, the whole command line of both drivers (rsync+ssh
 * and the rsync daemon one) built from a configuration, the password file
 * check and the exit-code policy.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "drivers/rsync.h"
#include "fixture.h"
#include "ssh.h"
#include "util/xmalloc.h"

static void
test_stats_rsync3(void **state)
{
	static const char *const out[] = {
		"",
		"Number of files: 50,123 (reg: 50,000, dir: 123)",
		"Number of created files: 12 (reg: 12)",
		"Number of deleted files: 3 (reg: 3)",
		"Number of regular files transferred: 1,234",
		"Total file size: 1,234,567,890 bytes",
		"Total transferred file size: 9,876,543 bytes",
		"Literal data: 9,876,543 bytes",
		"Matched data: 0 bytes",
		"File list size: 65,519",
		"Total bytes sent: 55,224",
		"Total bytes received: 9,931,250",
		"sent 55,224 bytes  received 9,931,250 bytes  1,997,294.80 bytes/sec",
		"total size is 1,234,567,890  speedup is 123.62",
		NULL,
	};
	struct rsync_stats st = { 0 };
	int recognised = 0;

	(void)state;
	for (const char *const *l = out; *l != NULL; l++)
		recognised += rsync_stats_feed(&st, *l);
	assert_int_equal(recognised, 4);
	assert_int_equal(st.total_files, 50123);
	assert_int_equal(st.written_files, 1234);
	assert_int_equal(st.total_bytes, 1234567890LL);
	assert_int_equal(st.written_bytes, 9876543);
}

static void
test_stats_old_wording_and_dots(void **state)
{
	struct rsync_stats st = { 0 };

	(void)state;
	/* rsync 2.6 says "files transferred"; some locales group with '.'. */
	assert_int_equal(rsync_stats_feed(&st, "Number of files: 1.234"), 1);
	assert_int_equal(rsync_stats_feed(&st, "Number of files transferred: 17"), 1);
	assert_int_equal(rsync_stats_feed(&st, "Total file size: 2.000.000 bytes"), 1);
	assert_int_equal(rsync_stats_feed(&st, "Total transferred file size: 999 bytes"), 1);
	assert_int_equal(st.total_files, 1234);
	assert_int_equal(st.written_files, 17);
	assert_int_equal(st.total_bytes, 2000000);
	assert_int_equal(st.written_bytes, 999);
}

/* Two huge values of one counter saturate instead of overflowing (UBSan). */
static void
test_stats_saturate(void **state)
{
	struct rsync_stats st = { 0 };

	(void)state;
	assert_int_equal(rsync_stats_feed(&st, "Total transferred file size: 9223372036854775000"),
	                 1);
	assert_int_equal(rsync_stats_feed(&st, "Total transferred file size: 9223372036854775000"),
	                 1);
	assert_true(st.written_bytes == INT64_MAX);
	assert_int_equal(rsync_stats_feed(&st, "Number of files: 9,223,372,036,854,775,000"), 1);
	assert_int_equal(rsync_stats_feed(&st, "Number of files: 1000"), 1);
	assert_true(st.total_files == INT64_MAX);
}

static void
test_stats_ignores_lookalikes(void **state)
{
	struct rsync_stats st = { 0 };

	(void)state;
	assert_int_equal(rsync_stats_feed(&st, "Number of deleted files: 5"), 0);
	assert_int_equal(rsync_stats_feed(&st, "Number of files: lots"), 0);
	assert_int_equal(rsync_stats_feed(&st, "Total file size:"), 0);
	assert_int_equal(rsync_stats_feed(&st, "rsync: Number of files: 3"), 0);
	assert_int_equal(rsync_stats_feed(&st, "Total file size: 99999999999999999999999 bytes"),
	                 0);
	assert_int_equal(st.total_files, 0);
	assert_int_equal(st.total_bytes, 0);
}

static void
test_stats_trailing_separator(void **state)
{
	struct rsync_stats st = { 0 };

	(void)state;
	/* A '.' that ends a sentence is not a digit group. */
	assert_int_equal(rsync_stats_feed(&st, "Total transferred file size: 12. bytes"), 1);
	assert_int_equal(st.written_bytes, 12);
}

static char *
mkjob(void)
{
	char d[TB_TMPDIR_MAX];

	assert_int_equal(tb_tmpdir_make(d, sizeof d, "rsync"), 0);
	return strdup(d);
}

static void
mk(const char *dir, const char *name)
{
	char p[512];

	snprintf(p, sizeof p, "%s/%s", dir, name);
	assert_int_equal(mkdir(p, 0755), 0);
}

static void
rmjob(char *dir)
{
	assert_int_equal(tb_tmpdir_remove(dir), 0);
	free(dir);
}

static void
test_link_dests(void **state)
{
	char *d = mkjob();
	struct strv out;
	struct err err;

	(void)state;
	mk(d, "20261120-03h00m00");
	mk(d, "20261121-03h00m00");
	mk(d, "20261122-03h00m00.rsync"); /* crashed after the last good one */
	mk(d, "20261123-03h00m00.rsync");
	mk(d, "20261124-03h00m00"); /* newer than current: ignored */
	mk(d, "lock-not-a-snapshot");
	mk(d, "20261121-03h00m00.old"); /* not the shape */
	strv_init(&out);
	assert_int_equal(rsync_link_dests(d, "20261123-22h00m00", &out, &err), 0);
	assert_int_equal(out.n, 3);
	assert_string_equal(out.v[0], "20261123-03h00m00.rsync");
	assert_string_equal(out.v[1], "20261122-03h00m00.rsync");
	assert_string_equal(out.v[2], "20261121-03h00m00");
	strv_free(&out);
	rmjob(d);
}

static void
test_link_dests_empty_and_cap(void **state)
{
	char *d = mkjob();
	struct strv out;
	struct err err;
	char name[64];

	(void)state;
	strv_init(&out);
	assert_int_equal(rsync_link_dests(d, "20261123-22h00m00", &out, &err), 0);
	assert_int_equal(out.n, 0);
	for (int i = 0; i < 30; i++) {
		snprintf(name, sizeof name, "202611%02d-03h00m00.rsync", i + 1);
		mk(d, name);
	}
	assert_int_equal(rsync_link_dests(d, "20261201-00h00m00", &out, &err), 0);
	assert_int_equal(out.n, 20); /* rsync accepts at most 20 --link-dest */
	assert_string_equal(out.v[0], "20261130-03h00m00.rsync");
	strv_free(&out);
	rmjob(d);
}

static void
test_link_dests_missing_dir(void **state)
{
	struct strv out;
	struct err err;

	(void)state;
	strv_init(&out);
	err_clear(&err);
	assert_int_equal(rsync_link_dests("/nonexistent/tb", "20261123-22h00m00", &out, &err), -1);
	assert_non_null(strstr(err.msg, "/nonexistent/tb"));
	strv_free(&out);
}

/* --- the command line ------------------------------------------------ */

/*
 * Parse "[global]" (backup_base_dir = base, and global_extra) plus one job
 * section [j] made of the lines in job.
 */
static struct config *
load_job(const char *base, const char *global_extra, const char *job)
{
	struct config *cfg = NULL;
	struct err err;
	char *text;

	text = xasprintf("[global]\nbackup_base_dir = %s\nbackup_retention_time = 30\n"
	                 "maximum_backup_age = 30\n%s\n[j]\n%s",
	                 base, global_extra, job);
	err_clear(&err);
	if (config_parse_buffer("t.ini", text, strlen(text), NULL, &cfg, &err) == -1)
		fail_msg("config refused:\n%s\n---\n%s", text, err.msg);
	free(text);
	assert_int_equal(cfg->njobs, 1);
	return cfg;
}

#define SSH_JOB                                                                                    \
	"type = rsync+ssh\nserver_name = web1\nremote_dir = /srv/data\n"                           \
	"private_key = /keys/id\nssh_connection_sharing = no\n"
#define DAEMON_JOB                                                                                 \
	"type = rsync\nserver_name = files1\nremote_user = backup\nrsync_module = data\n"          \
	"remote_dir = /srv\npassword_file = /etc/tis/rsync.pw\n"

/* The argv of job (rsync+ssh or rsync, from its type), for stamp. */
static void
build(struct config *cfg, int verbose, struct strv *av)
{
	const struct job *job = &cfg->jobs[0];
	enum rsync_transport t =
	    strcmp(job_get(job, "type"), "rsync") == 0 ? RSYNC_DAEMON : RSYNC_OVER_SSH;
	struct err err;

	strv_init(av);
	err_clear(&err);
	if (rsync_build_argv(job, t, "20261123-22h00m00", verbose, av, &err) == -1)
		fail_msg("rsync_build_argv: %s", err.msg);
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

/* Number of elements starting with prefix. */
static int
count_prefix(const struct strv *av, const char *prefix)
{
	int n = 0;

	for (size_t i = 0; i < av->n; i++)
		n += strncmp(av->v[i], prefix, strlen(prefix)) == 0;
	return n;
}

static void
test_argv_ssh_defaults(void **state)
{
	static const char *const want[] = {
		"rsync",
		"-rt",
		"--stats",
		"--delete-excluded",
		"--numeric-ids",
		"--delete-after",
		"--partial",
		"-lpgoD",
		"--protect-args",
		"--timeout=1800",
		"--info=progress2", /* always: the run's progress report */
		"-e",
	};
	struct config *cfg = load_job("/b", "", SSH_JOB);
	struct strv av;
	size_t n = sizeof want / sizeof want[0];

	(void)state;
	build(cfg, 0, &av);
	assert_true(av.n == n + 4);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(av.v[i], want[i]);
	assert_string_equal(av.v[n + 1], "--");
	assert_string_equal(av.v[n + 2], "root@web1:/srv/data/");
	assert_string_equal(av.v[n + 3], "/b/j/20261123-22h00m00.rsync/");
	assert_null(av.v[av.n]);
	/* Nothing optional unless asked for. */
	assert_int_equal(at(&av, "-z"), -1);
	assert_int_equal(count_prefix(&av, "--compress-level"), 0);
	assert_int_equal(count_prefix(&av, "--bwlimit"), 0);
	assert_int_equal(count_prefix(&av, "--exclude"), 0);
	assert_int_equal(count_prefix(&av, "--link-dest"), 0); /* /b/j does not exist */
	assert_int_equal(count_prefix(&av, "--password-file"), 0);
	assert_int_equal(count_prefix(&av, "--port"), 0);
	strv_free(&av);
	config_free(cfg);
}

static void
test_argv_options(void **state)
{
	struct config *cfg;
	struct strv av;

	(void)state;
	cfg = load_job("/b", "",
	               SSH_JOB "protect_args = no\ncompression = yes\n"
	                       "compressionlevel = 7\nbwlimit = 250\nstall_timeout = 42\n");
	build(cfg, 1, &av);
	assert_int_equal(at(&av, "--protect-args"), -1);
	assert_true(at(&av, "-z") > 0);
	assert_true(at(&av, "--compress-level=7") > 0);
	assert_true(at(&av, "--bwlimit=250") > 0);
	assert_true(at(&av, "--timeout=42") > 0);
	assert_true(at(&av, "--info=progress2") > 0);
	strv_free(&av);
	config_free(cfg);

	/* 0 means off, as in the original; stall_timeout = 0: no --timeout. */
	cfg = load_job("/b", "", SSH_JOB "compressionlevel = 0\nbwlimit = 0\nstall_timeout = 0\n");
	build(cfg, 0, &av);
	assert_int_equal(count_prefix(&av, "--compress-level"), 0);
	assert_int_equal(count_prefix(&av, "--bwlimit"), 0);
	assert_int_equal(count_prefix(&av, "--timeout"), 0);
	strv_free(&av);
	config_free(cfg);

	/* [global] bw_limit and compression_level are the original's defaults. */
	cfg = load_job("/b", "bw_limit = 300\ncompression_level = 4\n", SSH_JOB);
	build(cfg, 0, &av);
	assert_true(at(&av, "--bwlimit=300") > 0);
	assert_true(at(&av, "--compress-level=4") > 0);
	strv_free(&av);
	config_free(cfg);
	cfg = load_job("/b", "bw_limit = 300\n", SSH_JOB "bwlimit = 20\n");
	build(cfg, 0, &av);
	assert_true(at(&av, "--bwlimit=20") > 0);
	assert_int_equal(count_prefix(&av, "--bwlimit"), 1);
	strv_free(&av);
	config_free(cfg);
}

static void
test_argv_cygdrive_and_overload(void **state)
{
	struct config *cfg;
	struct strv av;
	int i;

	(void)state;
	cfg = load_job("/b", "",
	               "type = rsync+ssh\nserver_name = win1\nremote_dir = /cygdrive/c/Users\n"
	               "private_key = /keys/id\nssh_connection_sharing = no\n");
	build(cfg, 0, &av);
	assert_int_equal(at(&av, "-lpgoD"), -1);
	assert_string_equal(av.v[av.n - 2], "root@win1:/cygdrive/c/Users/");
	strv_free(&av);
	config_free(cfg);

	/* overload_args replaces -lpgoD, split into words, never through a shell. */
	cfg =
	    load_job("/b", "", SSH_JOB "overload_args =  -rlt\t--chmod=ugo=rwX   --no-perms x;y\n");
	build(cfg, 0, &av);
	assert_int_equal(at(&av, "-lpgoD"), -1);
	i = at(&av, "-rlt");
	assert_true(i > 0);
	assert_string_equal(av.v[i + 1], "--chmod=ugo=rwX");
	assert_string_equal(av.v[i + 2], "--no-perms");
	assert_string_equal(av.v[i + 3], "x;y"); /* a word, not a shell separator */
	strv_free(&av);
	config_free(cfg);
}

static void
test_argv_excludes(void **state)
{
	struct config *cfg;
	struct strv av;
	int i;

	(void)state;
	cfg = load_job("/b", "",
	               SSH_JOB "exclude_list = \"/proc/**\",\"*.tmp\", '/dir with space'\n");
	build(cfg, 0, &av);
	i = at(&av, "--exclude=/proc/**");
	assert_true(i > 0);
	assert_string_equal(av.v[i + 1], "--exclude=*.tmp");
	assert_string_equal(av.v[i + 2], "--exclude=/dir with space");
	assert_int_equal(count_prefix(&av, "--exclude"), 3);
	strv_free(&av);
	config_free(cfg);

	cfg = load_job("/b", "",
	               DAEMON_JOB
	               "exclude_list = --exclude /proc --exclude=*.bak --exclude \"*.c\"\n");
	build(cfg, 0, &av);
	i = at(&av, "--exclude=/proc");
	assert_true(i > 0);
	assert_string_equal(av.v[i + 1], "--exclude=*.bak");
	assert_string_equal(av.v[i + 2], "--exclude=*.c");
	assert_int_equal(count_prefix(&av, "--exclude"), 3);
	strv_free(&av);
	config_free(cfg);
}

static void
test_argv_link_dest(void **state)
{
	char *base = mkjob();
	char *jobdir = xasprintf("%s/j", base);
	char *want;
	struct config *cfg;
	struct strv av;
	int i;

	(void)state;
	assert_int_equal(mkdir(jobdir, 0755), 0);
	mk(jobdir, "20261121-03h00m00");
	mk(jobdir, "20261122-03h00m00");
	mk(jobdir, "20261122-04h00m00.rsync");
	cfg = load_job(base, "", SSH_JOB);
	build(cfg, 0, &av);
	assert_int_equal(count_prefix(&av, "--link-dest="), 2);
	want = xasprintf("--link-dest=%s/20261122-04h00m00.rsync/", jobdir);
	i = at(&av, want);
	assert_true(i > 0);
	free(want);
	want = xasprintf("--link-dest=%s/20261122-03h00m00/", jobdir);
	assert_int_equal(at(&av, want), i + 1);
	free(want);
	want = xasprintf("%s/20261123-22h00m00.rsync/", jobdir);
	assert_string_equal(av.v[av.n - 1], want);
	free(want);
	strv_free(&av);
	config_free(cfg);
	free(jobdir);
	rmjob(base);
}

static void
test_argv_ssh_command_quoting(void **state)
{
	struct config *cfg;
	struct strv av;
	const char *rsh;
	int i;

	(void)state;
	cfg = load_job("/b", "",
	               "type = rsync+ssh\nserver_name = web1\nremote_dir = /srv\n"
	               "private_key = /keys/my key/it's \"the\" key\nssh_port = 2222\n"
	               "cipher_spec = aes256-ctr\nssh_connection_sharing = no\n"
	               "remote_user = backup\n");
	build(cfg, 0, &av);
	i = at(&av, "-e");
	assert_true(i > 0);
	rsh = av.v[i + 1];
	/* rsync splits -e itself: every word in '...', a ' doubled inside. */
	assert_true(strncmp(rsh, "'ssh' '-o' 'BatchMode=yes' ", 27) == 0);
	/* One ssh_config word: blanks and quotes escaped, for rsync's '...' too. */
	assert_non_null(
	    strstr(rsh, " '-o' 'IdentityFile=/keys/my\\ key/it\\''s\\ \\\"the\\\"\\ key'"));
	assert_non_null(strstr(rsh, " '-p' '2222'"));
	assert_non_null(strstr(rsh, " '-c' 'aes256-ctr'"));
	assert_null(strstr(rsh, "ControlMaster")); /* ssh_connection_sharing = no */
	assert_string_equal(av.v[i + 2], "--");
	assert_string_equal(av.v[i + 3], "backup@web1:/srv/");
	strv_free(&av);
	config_free(cfg);
}

static void
test_argv_daemon(void **state)
{
	char *dir = mkjob();
	char *pw = xasprintf("%s/pw", dir);
	struct config *cfg;
	struct strv av;
	FILE *f;
	char *text;
	int i;

	(void)state;
	f = fopen(pw, "w");
	assert_non_null(f);
	fputs("S3cr3t-never-in-argv\n", f);
	fclose(f);
	text = xasprintf("type = rsync\nserver_name = files1\nremote_user = backup\n"
	                 "rsync_module = data\nremote_dir = /srv/www\npassword_file = %s\n",
	                 pw);
	cfg = load_job("/b", "", text);
	build(cfg, 0, &av);
	assert_int_equal(at(&av, "-e"), -1);
	assert_true(at(&av, "--port=873") > 0);
	assert_true(at(&av, "--contimeout=30") > 0);
	free(text);
	text = xasprintf("--password-file=%s", pw);
	assert_true(at(&av, text) > 0);
	assert_true(at(&av, "--protect-args") > 0);
	assert_true(at(&av, "-lpgoD") > 0);
	assert_true(at(&av, "--timeout=1800") > 0);
	i = at(&av, "--");
	assert_int_equal(i, (int)av.n - 3);
	assert_string_equal(av.v[i + 1], "backup@files1::data/srv/www/");
	assert_string_equal(av.v[i + 2], "/b/j/20261123-22h00m00.rsync/");
	/* rsync reads the password itself: never an argument. */
	for (size_t k = 0; k < av.n; k++)
		assert_null(strstr(av.v[k], "S3cr3t"));
	strv_free(&av);
	config_free(cfg);
	free(text);

	cfg = load_job("/b", "", DAEMON_JOB "rsync_port = 8873\nprotect_args = no\n");
	build(cfg, 0, &av);
	assert_true(at(&av, "--port=8873") > 0);
	assert_int_equal(count_prefix(&av, "--port"), 1);
	assert_int_equal(at(&av, "--protect-args"), -1);
	assert_true(at(&av, "--password-file=/etc/tis/rsync.pw") > 0);
	strv_free(&av);
	config_free(cfg);
	free(pw);
	rmjob(dir);
}

static void
test_source(void **state)
{
	static const struct {
		const char *dir;
		const char *daemon;
		const char *ssh;
	} cases[] = {
		{ "/", "u@h::m/", "u@h:/" },
		{ "/srv", "u@h::m/srv/", "u@h:/srv/" },
		{ "/srv/", "u@h::m/srv/", "u@h:/srv/" },
		{ "srv/a b", "u@h::m/srv/a b/", "u@h:srv/a b/" },
		{ "C:/cygdrive/c", "u@h::m/C:/cygdrive/c/", "u@h:C:/cygdrive/c/" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *text = xasprintf("type = rsync\nserver_name = h\nremote_user = u\n"
		                       "rsync_module = m\nremote_dir = %s\npassword_file = /p\n",
		                       cases[i].dir);
		struct config *cfg = load_job("/b", "", text);
		char *s;

		s = rsync_source(&cfg->jobs[0], RSYNC_DAEMON);
		assert_string_equal(s, cases[i].daemon);
		free(s);
		s = rsync_source(&cfg->jobs[0], RSYNC_OVER_SSH);
		assert_string_equal(s, cases[i].ssh);
		free(s);
		config_free(cfg);
		free(text);
	}
}

/* A daemon job with these server_name, remote_user, rsync_module. */
#define DJ(server, user, module)                                                                   \
	"type = rsync\nserver_name = " server "\nremote_user = " user "\nrsync_module = " module   \
	"\nremote_dir = /\npassword_file = /p\n"

static void
test_daemon_validation(void **state)
{
	static const struct {
		const char *job;
		const char *msg;
	} bad[] = {
		{ DJ("files1", "backup", "a/b") "", "rsync_module: 'a/b' is not a module name" },
		{ DJ("files1", "backup", "-x") "", "rsync_module: '-x' is not a module name" },
		{ DJ("-oProxyCommand=x", "backup", "m") "", "server_name: '-oProxyCommand=x'" },
		{ DJ("files1", "a b", "m") "", "remote_user: 'a b' is not a user name" },
		{ DJ("files1", "backup", "m") "rsync_port = 0\n", "rsync_port: " },
		{ "type = rsync\nserver_name = h\nrsync_module = m\nremote_dir = /\n",
		  "password_file: missing required key" },
		{ "type = rsync\nserver_name = h\npassword_file = /p\nremote_dir = /\n",
		  "rsync_module: missing required key" },
		{ DAEMON_JOB "cipher_spec = x\n", "cipher_spec: unknown key for type rsync" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char *text = xasprintf("[global]\nbackup_base_dir = /b\nbackup_retention_time = 1\n"
		                       "maximum_backup_age = 1\n[j]\n%s",
		                       bad[i].job);
		struct config *cfg = NULL;
		struct err err;

		err_clear(&err);
		/* The job is refused alone: it loads as invalid, with the reason. */
		if (config_parse_buffer("t.ini", text, strlen(text), NULL, &cfg, &err) == 0) {
			if (cfg->ninvalid != 1)
				fail_msg("accepted:\n%s", text);
			err_set(&err, "%s", cfg->invalid[0].invalid);
			config_free(cfg);
		}
		if (strstr(err.msg, bad[i].msg) == NULL)
			fail_msg("message:\n%s\n--- lacks: %s", err.msg, bad[i].msg);
		free(text);
	}
}

static void
test_password_file_check(void **state)
{
	char *dir = mkjob();
	char *pw = xasprintf("%s/pw", dir);
	char *want = xasprintf("password_file %s must not be readable by other users: "
	                       "chmod 600 %s",
	                       pw, pw);
	struct err err;
	FILE *f;

	(void)state;
	f = fopen(pw, "w");
	assert_non_null(f);
	fputs("x\n", f);
	fclose(f);
	assert_int_equal(chmod(pw, 0600), 0);
	err_clear(&err);
	assert_int_equal(rsync_check_password_file(pw, &err), 0);
	assert_int_equal(chmod(pw, 0640), 0);
	assert_int_equal(rsync_check_password_file(pw, &err), 0);

	assert_int_equal(chmod(pw, 0644), 0);
	assert_int_equal(rsync_check_password_file(pw, &err), -1);
	assert_string_equal(err.msg, want);
	assert_int_equal(chmod(pw, 0602), 0);
	err_clear(&err);
	assert_int_equal(rsync_check_password_file(pw, &err), -1);
	assert_non_null(strstr(err.msg, "must not be writable by other users: chmod 600"));

	err_clear(&err);
	assert_int_equal(rsync_check_password_file(dir, &err), -1);
	assert_non_null(strstr(err.msg, "not a regular file"));
	err_clear(&err);
	assert_int_equal(rsync_check_password_file("/nonexistent/pw", &err), -1);
	assert_non_null(strstr(err.msg, "/nonexistent/pw"));
	free(want);
	free(pw);
	rmjob(dir);
}

/*
 * The exit-code policy, the whole table: every exit code, both purposes,
 * partial_is_error off and on, with and without files, exited or not.
 */
static void
test_exit_policy(void **state)
{
	static const struct {
		enum rsync_purpose purpose;
		int code;
		int64_t files;
		int pie;
		enum rsync_verdict want;
	} rows[] = {
		{ RSYNC_FOR_BACKUP, 0, 10, 0, RSYNC_DONE },
		{ RSYNC_FOR_BACKUP, 0, 10, 1, RSYNC_DONE },
		{ RSYNC_FOR_BACKUP, 0, 0, 0, RSYNC_DONE },
		{ RSYNC_FOR_BACKUP, 0, 0, 1, RSYNC_DONE },
		{ RSYNC_FOR_BACKUP, 24, 10, 0, RSYNC_VANISHED },
		{ RSYNC_FOR_BACKUP, 24, 10, 1, RSYNC_VANISHED },
		{ RSYNC_FOR_BACKUP, 24, 0, 0, RSYNC_VANISHED },
		{ RSYNC_FOR_BACKUP, 24, 0, 1, RSYNC_VANISHED },
		{ RSYNC_FOR_BACKUP, 23, 10, 0, RSYNC_PARTIAL },
		{ RSYNC_FOR_BACKUP, 23, 10, 1, RSYNC_PARTIAL_ERR },
		{ RSYNC_FOR_BACKUP, 23, 0, 0, RSYNC_NO_SOURCE },
		{ RSYNC_FOR_BACKUP, 23, 0, 1, RSYNC_NO_SOURCE },
		{ RSYNC_FOR_EXPORT, 0, 10, 0, RSYNC_DONE },
		{ RSYNC_FOR_EXPORT, 0, 10, 1, RSYNC_DONE },
		{ RSYNC_FOR_EXPORT, 0, 0, 0, RSYNC_DONE },
		{ RSYNC_FOR_EXPORT, 0, 0, 1, RSYNC_DONE },
		{ RSYNC_FOR_EXPORT, 24, 10, 0, RSYNC_VANISHED },
		{ RSYNC_FOR_EXPORT, 24, 10, 1, RSYNC_VANISHED },
		{ RSYNC_FOR_EXPORT, 24, 0, 0, RSYNC_VANISHED },
		{ RSYNC_FOR_EXPORT, 24, 0, 1, RSYNC_VANISHED },
		/* An export's source is a local backup that exists. */
		{ RSYNC_FOR_EXPORT, 23, 10, 0, RSYNC_PARTIAL },
		{ RSYNC_FOR_EXPORT, 23, 10, 1, RSYNC_PARTIAL },
		{ RSYNC_FOR_EXPORT, 23, 0, 0, RSYNC_PARTIAL },
		{ RSYNC_FOR_EXPORT, 23, 0, 1, RSYNC_PARTIAL },
	};
	static const enum rsync_purpose purposes[] = { RSYNC_FOR_BACKUP, RSYNC_FOR_EXPORT };

	(void)state;
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		enum rsync_verdict got =
		    rsync_verdict(rows[i].purpose, 1, rows[i].code, rows[i].files, rows[i].pie);

		if (got != rows[i].want)
			fail_msg("row %zu (purpose %d, exit %d, %lld files, partial_is_error %d): "
			         "verdict %d, want %d",
			         i, (int)rows[i].purpose, rows[i].code, (long long)rows[i].files,
			         rows[i].pie, (int)got, (int)rows[i].want);
	}
	for (size_t p = 0; p < 2; p++) {
		for (int code = 0; code < 256; code++) {
			for (int pie = 0; pie < 2; pie++) {
				for (int64_t files = 0; files <= 10; files += 10) {
					/* Killed by a signal: whatever the code field says. */
					assert_int_equal(
					    rsync_verdict(purposes[p], 0, code, files, pie),
					    RSYNC_FAILED);
					if (code == 0 || code == 23 || code == 24)
						continue;
					assert_int_equal(
					    rsync_verdict(purposes[p], 1, code, files, pie),
					    RSYNC_FAILED);
				}
			}
		}
	}
}

/* rsync_judge() for an ended rsync of the one job of a config of job_lines. */
struct judged {
	int rc, partial, warned;
	struct err err;
};

static struct judged
judge(const char *job_lines, enum rsync_purpose purpose, const struct spawn_result *res,
      int64_t files)
{
	struct config *cfg = load_job("/b", "", job_lines);
	struct rsync_output ro = { .name = "j" };
	const char *line = "rsync: [sender] read errors mapping \"f\": Input/output error (5)";
	struct rsync_call c = {
		.job = &cfg->jobs[0],
		.purpose = purpose,
		.transport = RSYNC_OVER_SSH,
		.what = purpose == RSYNC_FOR_BACKUP ? "rsync from web1:/srv/data/"
		                                    : "rsync of /b/j/S to /x/j",
	};
	struct judged j;

	ro.st.total_files = files;
	rsync_output_line(&ro, SPAWN_STDOUT, line, strlen(line));
	err_clear(&j.err);
	j.partial = j.warned = -1;
	j.rc = rsync_judge(&c, res, &ro, &j.partial, &j.warned, &j.err);
	rsync_output_free(&ro);
	config_free(cfg);
	return j;
}

/* The words and flags of the shared judgement, for a backup and an export. */
static void
test_judge(void **state)
{
	const char *pie = SSH_JOB "partial_is_error = yes\nstall_timeout = 4\nmax_runtime = 9\n";
	struct spawn_result res;
	struct judged j;

	(void)state;
	memset(&res, 0, sizeof res);
	res.exited = 1;
	res.code = 0;
	j = judge(SSH_JOB, RSYNC_FOR_BACKUP, &res, 10);
	assert_int_equal(j.rc, 0);
	assert_int_equal(j.partial, 0);
	assert_int_equal(j.warned, 0);

	res.code = 24;
	j = judge(SSH_JOB, RSYNC_FOR_EXPORT, &res, 10);
	assert_int_equal(j.rc, 0);
	assert_int_equal(j.partial, 0);
	assert_int_equal(j.warned, 1);

	/* 23 without files: a failed backup, a partial export. */
	res.code = 23;
	j = judge(SSH_JOB, RSYNC_FOR_BACKUP, &res, 0);
	assert_int_equal(j.rc, -1);
	assert_non_null(strstr(j.err.msg, "rsync from web1:/srv/data/ transferred nothing "
	                                  "(exit code 23): the source folder could not be read"));
	assert_non_null(strstr(j.err.msg, "read errors mapping"));
	j = judge(pie, RSYNC_FOR_EXPORT, &res, 0);
	assert_int_equal(j.rc, 0);
	assert_int_equal(j.partial, 1);
	assert_int_equal(j.warned, 1);
	j = judge(pie, RSYNC_FOR_BACKUP, &res, 10);
	assert_int_equal(j.rc, -1);
	assert_non_null(strstr(j.err.msg, "and partial_is_error = yes"));
	j = judge(SSH_JOB, RSYNC_FOR_BACKUP, &res, 10);
	assert_int_equal(j.rc, 0);
	assert_int_equal(j.partial, 1);

	/* The watchdog and max_runtime, in the purpose's words. */
	res.code = 0;
	res.exited = 0;
	res.signal = 15;
	res.stalled = res.timed_out = 1;
	j = judge(pie, RSYNC_FOR_EXPORT, &res, 10);
	assert_int_equal(j.rc, -1);
	assert_non_null(strstr(j.err.msg, "rsync of /b/j/S to /x/j failed: no data for 4 s: the "
	                                  "transfer stalled (stall_timeout = 4)"));
	res.stalled = 0;
	j = judge(pie, RSYNC_FOR_BACKUP, &res, 10);
	assert_int_equal(j.rc, -1);
	assert_non_null(strstr(j.err.msg, "rsync from web1:/srv/data/ failed (timed out): the "
	                                  "job's time limit was reached (max_runtime = 9 s)"));

	/* 30 is rsync's own --timeout only where the backup passes it; hints are a backup's. */
	memset(&res, 0, sizeof res);
	res.exited = 1;
	res.code = 30;
	j = judge(pie, RSYNC_FOR_BACKUP, &res, 10);
	assert_non_null(strstr(j.err.msg, "no data for 4 s: the transfer stalled (exit code 30"));
	j = judge(pie, RSYNC_FOR_EXPORT, &res, 10);
	assert_non_null(strstr(j.err.msg, "rsync of /b/j/S to /x/j failed (exit code 30)"));
	res.code = 255;
	j = judge(SSH_JOB, RSYNC_FOR_BACKUP, &res, 10);
	assert_non_null(strstr(j.err.msg, "(exit code 255: the ssh connection failed)"));
	j = judge(SSH_JOB, RSYNC_FOR_EXPORT, &res, 10);
	assert_int_equal(j.rc, -1);
	assert_null(strstr(j.err.msg, "ssh connection"));
	assert_non_null(strstr(j.err.msg, "read errors mapping"));
}

/* The loader's host/user check for every ssh driver (ssh_check_target). */
static void
test_ssh_check_target(void **state)
{
	static const struct {
		const char *host, *user;
		const char *want; /* NULL: accepted */
	} cases[] = {
		{ "files1.example.lan", "root", NULL },
		{ "10.0.0.5", "backup_user-1", NULL },
		{ "srv", "DOMAIN\\admin", NULL },
		{ "-oProxyCommand=x", "root",
		  "server_name: '-oProxyCommand=x' is not a host name" },
		{ "a b", "root", "server_name: 'a b' is not a host name" },
		{ "u@h", "root", "server_name: 'u@h' is not a host name" },
		{ "", "root", "server_name: '' is not a host name" },
		{ "srv", "-l", "remote_user: '-l' is not a user name" },
		{ "srv", "a b", "remote_user: 'a b' is not a user name" },
		{ "srv", "it's", "remote_user: 'it's' is not a user name" },
		{ "srv", "", "remote_user: '' is not a user name" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct config cfg;
		struct job job;
		struct err err;

		memset(&cfg, 0, sizeof cfg);
		memset(&job, 0, sizeof job);
		job.cfg = &cfg;
		job.server_name = cases[i].host;
		job.remote_user = cases[i].user;
		err_clear(&err);
		if (cases[i].want == NULL) {
			assert_int_equal(ssh_check_target(&job, &err), 0);
		} else {
			assert_int_equal(ssh_check_target(&job, &err), -1);
			assert_string_equal(err.msg, cases[i].want);
		}
	}
}

/* ssh expands %-tokens and ${VAR} in key and known_hosts file names. */
static void
test_ssh_key_paths(void **state)
{
	struct config *cfg;
	struct strv av;
	struct err err;
	const char *rsh;
	char *text;
	int i;

	(void)state;
	cfg = load_job("/b", "",
	               "type = rsync+ssh\nserver_name = web1\nremote_dir = /srv\n"
	               "private_key = /keys/k%dx\nssh_connection_sharing = no\n");
	build(cfg, 0, &av);
	i = at(&av, "-e");
	assert_true(i > 0);
	rsh = av.v[i + 1];
	/* A '%' doubled, read back by ssh as one '%'; no -i (expanded as given). */
	assert_non_null(strstr(rsh, " '-o' 'IdentityFile=/keys/k%%dx'"));
	assert_null(strstr(rsh, "'-i'"));
	strv_free(&av);
	config_free(cfg);

	/* "${" has no escape: the job is refused at config check (the others
	 * still load), with a reason naming the key. */
	for (int k = 0; k < 2; k++) {
		const char *key = k == 0 ? "private_key" : "known_hosts_file";

		text = xasprintf("[global]\nbackup_base_dir = /b\nbackup_retention_time = 30\n"
		                 "maximum_backup_age = 30\n\n[j]\ntype = rsync+ssh\n"
		                 "server_name = web1\nremote_dir = /srv\n%s%s = /keys/${HOME}/k\n",
		                 k == 0 ? "" : "private_key = /keys/id\n", key);
		err_clear(&err);
		cfg = NULL;
		assert_int_equal(config_parse_buffer("t.ini", text, strlen(text), NULL, &cfg, &err),
		                 0);
		assert_int_equal(cfg->njobs, 0);
		assert_int_equal(cfg->ninvalid, 1);
		assert_non_null(strstr(cfg->invalid[0].invalid, "[j]"));
		assert_non_null(strstr(cfg->invalid[0].invalid, key));
		assert_non_null(strstr(cfg->invalid[0].invalid, "'${'"));
		config_free(cfg);
		free(text);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ssh_check_target),
		cmocka_unit_test(test_ssh_key_paths),
		cmocka_unit_test(test_stats_rsync3),
		cmocka_unit_test(test_stats_old_wording_and_dots),
		cmocka_unit_test(test_stats_saturate),
		cmocka_unit_test(test_stats_ignores_lookalikes),
		cmocka_unit_test(test_stats_trailing_separator),
		cmocka_unit_test(test_link_dests),
		cmocka_unit_test(test_link_dests_empty_and_cap),
		cmocka_unit_test(test_link_dests_missing_dir),
		cmocka_unit_test(test_argv_ssh_defaults),
		cmocka_unit_test(test_argv_options),
		cmocka_unit_test(test_argv_cygdrive_and_overload),
		cmocka_unit_test(test_argv_excludes),
		cmocka_unit_test(test_argv_link_dest),
		cmocka_unit_test(test_argv_ssh_command_quoting),
		cmocka_unit_test(test_argv_daemon),
		cmocka_unit_test(test_source),
		cmocka_unit_test(test_daemon_validation),
		cmocka_unit_test(test_password_file_check),
		cmocka_unit_test(test_exit_policy),
		cmocka_unit_test(test_judge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
