/*
 * The configuration reader and validator: ConfigParser's syntax (comments,
 * delimiters, case, continuation lines), the job model it produces, and
 * every validation rule, each problem named by file:line, section and key.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config.h"
#include "drivers/driver.h"
#include "fixture.h"
#include "util/err.h"
#include "util/buf.h"
#include "util/xmalloc.h"

#define GLOBAL_OK                                                                                  \
	"[global]\n"                                                                               \
	"backup_base_dir = /backup/data\n"                                                         \
	"backup_retention_time = 30\n"                                                             \
	"maximum_backup_age = 30\n"

static char tmpdir[TB_TMPDIR_MAX];
static char cfgpath[TB_TMPDIR_MAX + 16];

static int
setup(void **state)
{
	(void)state;
	if (tb_tmpdir_make(tmpdir, sizeof tmpdir, "config") == -1)
		return -1;
	snprintf(cfgpath, sizeof cfgpath, "%s/c.ini", tmpdir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return tb_tmpdir_remove(tmpdir);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

/*
 * Write text as the configuration file and load it. A job section with
 * problems does not fail config_load() (the job goes to cfg->invalid);
 * here it counts as refused, its problems in err, so the tests of what is
 * a problem read the same for [global] and for jobs. The tests of per-job
 * validation (test_invalid_job_*) call config_load() themselves.
 */
static int
load(const char *text, const char *override, struct config **cfg, struct err *err)
{
	write_file(cfgpath, text);
	err_clear(err);
	*cfg = NULL;
	if (config_load(cfgpath, override, cfg, err) == -1)
		return -1;
	if ((*cfg)->ninvalid == 0)
		return 0;
	for (size_t i = 0; i < (*cfg)->ninvalid; i++)
		err_append_line(err, "%s", (*cfg)->invalid[i].invalid);
	config_free(*cfg);
	*cfg = NULL;
	return -1;
}

/* Assert that msg contains "{cfgpath}{suffix}". */
static void
assert_has(const char *msg, const char *suffix)
{
	char *want = xasprintf("%s%s", cfgpath, suffix);

	if (strstr(msg, want) == NULL)
		fail_msg("message:\n%s\n--- does not contain:\n%s", msg, want);
	free(want);
}

/* Assert that msg contains s (verbatim). */
static void
assert_contains(const char *msg, const char *s)
{
	if (strstr(msg, s) == NULL)
		fail_msg("message:\n%s\n--- does not contain:\n%s", msg, s);
}

static size_t
count_lines(const char *msg)
{
	size_t n = *msg != '\0';

	for (; *msg != '\0'; msg++)
		n += *msg == '\n';
	return n;
}

/* Load text, expect failure with exactly nlines problem lines. */
static void
load_fails(const char *text, size_t nlines, struct err *err)
{
	struct config *cfg;

	if (load(text, NULL, &cfg, err) != -1)
		fail_msg("loading succeeded:\n%s", text);
	assert_null(cfg);
	if (count_lines(err->msg) != nlines)
		fail_msg("expected %zu problems, got:\n%s", nlines, err->msg);
}

/* Load text and expect success. */
static struct config *
load_ok(const char *text, const char *override)
{
	struct config *cfg;
	struct err err;

	if (load(text, override, &cfg, &err) != 0)
		fail_msg("loading failed: %s\n--- config:\n%s", err.msg, text);
	assert_false(err_isset(&err));
	assert_non_null(cfg);
	return cfg;
}

/* Run load() with stderr going to a file; returns what was written. */
static char *
load_capturing_stderr(const char *text, int *rc, struct config **cfg, struct err *err)
{
	char path[300];
	char out[4096];
	int saved, fd;
	ssize_t n;

	snprintf(path, sizeof path, "%s/stderr", tmpdir);
	fflush(stderr);
	saved = dup(2);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, 2);
	*rc = load(text, NULL, cfg, err);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	n = read(fd, out, sizeof out - 1);
	close(fd);
	out[n > 0 ? n : 0] = '\0';
	return xstrdup(out);
}

static void
test_minimal(void **state)
{
	struct config *cfg;
	const struct job *web, *prn;

	(void)state;
	cfg = load_ok(GLOBAL_OK "\n"
	                        "[srv-web.1]\n"      /* 6 */
	                        "type = rsync+ssh\n" /* 7 */
	                        "server_name = web1\n"
	                        "remote_dir = /var/www\n"
	                        "private_key = /root/.ssh/id_rsa\n"
	                        "\n"
	                        "[printer]\n" /* 12 */
	                        "type = null\n"
	                        "server_name = printer\n"
	                        "maximum_backup_age = 48\n",
	              NULL);
	assert_string_equal(cfg->path, cfgpath);
	assert_string_equal(cfg->backup_base_dir, "/backup/data");
	assert_int_equal(cfg->nsections, 3);
	assert_string_equal(cfg->sections[0].name, "global");
	assert_ptr_equal(cfg->global, &cfg->sections[0]);
	assert_string_equal(cfg->sections[1].name, "srv-web.1");
	assert_int_equal(cfg->sections[1].line, 6);
	assert_int_equal(cfg->sections[1].n, 4);
	assert_string_equal(cfg->sections[1].entries[0].key, "type");
	assert_string_equal(cfg->sections[1].entries[0].value, "rsync+ssh");
	assert_int_equal(cfg->sections[1].entries[0].line, 7);
	assert_string_equal(cfg->sections[2].name, "printer");
	assert_int_equal(cfg->sections[2].line, 12);
	assert_int_equal(cfg->njobs, 2);

	web = &cfg->jobs[0];
	assert_ptr_equal(web->cfg, cfg);
	assert_ptr_equal(web->sec, &cfg->sections[1]);
	assert_string_equal(web->name, "srv-web.1");
	assert_ptr_equal(web->drv, driver_find("rsync+ssh"));
	assert_string_equal(web->dir, "/backup/data/srv-web.1");
	assert_string_equal(web->server_name, "web1");
	assert_string_equal(web->description, "");
	assert_null(web->preexec);
	assert_null(web->postexec);
	assert_string_equal(web->private_key, "/root/.ssh/id_rsa");
	assert_string_equal(web->remote_user, "root");
	assert_int_equal(web->ssh_port, 22);
	assert_int_equal(web->retention_days, 30);
	assert_int_equal(web->max_age_hours, 30);

	prn = &cfg->jobs[1];
	assert_ptr_equal(prn->drv, driver_find("null"));
	assert_string_equal(prn->dir, "/backup/data/printer");
	assert_null(prn->private_key);
	assert_int_equal(prn->retention_days, 30);
	assert_int_equal(prn->max_age_hours, 48);

	/* Lookups and driver defaults. */
	assert_string_equal(job_get(web, "remote_dir"), "/var/www");
	assert_string_equal(job_get(web, "compression"), "no");
	assert_string_equal(job_get(web, "protect_args"), "yes");
	assert_null(job_get(web, "bwlimit"));
	assert_null(job_get(web, "no_such_key"));
	assert_int_equal(job_get_bool(web, "compression", 1), 0);
	assert_int_equal(job_get_bool(web, "protect_args", 0), 1);
	assert_int_equal(job_get_bool(web, "overload_args", 7), 7);
	assert_int_equal(job_get_long(web, "backup_retention_time", -1), 30);
	assert_int_equal(job_get_long(web, "bwlimit", -7), -7);
	assert_int_equal(job_get_long(web, "ssh_port", -1), 22);
	assert_int_equal(job_get_long(web, "remote_dir", -3), -3);
	assert_int_equal(job_entry(web, "remote_dir")->line, 9);
	assert_int_equal(job_entry(web, "maximum_backup_age")->line, 4);
	assert_null(job_entry(web, "compression"));

	assert_ptr_equal(config_find_job(cfg, "printer"), prn);
	assert_ptr_equal(config_find_job(cfg, "srv-web.1"), web);
	assert_null(config_find_job(cfg, "global"));
	assert_null(config_find_job(cfg, "nope"));
	config_free(cfg);
}

static void
test_syntax(void **state)
{
	struct config *cfg;
	const struct job *a, *b;

	(void)state;
	cfg = load_ok("# a comment\n"
	              "; another\n"
	              "[global]\n"
	              "Backup_Base_Dir: /backup/data\n"
	              "  ; an indented comment\n"
	              "backup_retention_time=30\n"
	              "maximum_backup_age   :   30   \n"
	              "\n"
	              "[a]\n" /* 9 */
	              "TYPE = null\n"
	              "server_name = a:b=c\n" /* first delimiter wins */
	              "remote_user: me=you\n"
	              "description = first line\n" /* 13 */
	              "  second line\n"
	              "  # a comment inside is skipped\n"
	              "\n"
	              "\tafter a blank\n"
	              "\n"
	              "\n"
	              "private_key = /k;not#comments ; an inline comment # too\n"
	              "preexec = 100% literal %(x)s\n"
	              "[b]\n"
	              "  type = null\n" /* an indented key */
	              "  server_name = b\n"
	              "      continued\n"
	              "  ssh_port=2222\n",
	              NULL);
	assert_string_equal(cfg->global->entries[0].key, "backup_base_dir");
	assert_string_equal(cfg->backup_base_dir, "/backup/data");
	assert_string_equal(cfg->global->entries[2].value, "30");
	a = config_find_job(cfg, "a");
	assert_non_null(a);
	assert_ptr_equal(a->drv, driver_find("null"));
	assert_string_equal(a->sec->entries[0].key, "type");
	assert_string_equal(a->server_name, "a:b=c");
	assert_string_equal(a->remote_user, "me=you");
	assert_string_equal(a->description, "first line\nsecond line\n\nafter a blank");
	assert_int_equal(job_entry(a, "description")->line, 13);
	/* after white space, ';' and '#' start a comment, as in the original */
	assert_string_equal(a->private_key, "/k;not#comments");
	assert_string_equal(a->preexec, "100% literal %(x)s");
	b = config_find_job(cfg, "b");
	assert_non_null(b);
	assert_string_equal(b->server_name, "b\ncontinued");
	assert_int_equal(b->ssh_port, 2222);
	config_free(cfg);
}

static void
test_blank_then_indented(void **state)
{
	struct config *cfg;

	(void)state;
	/* As in ConfigParser, an indented line after a blank one still continues. */
	cfg = load_ok(GLOBAL_OK "[a]\ntype = null\nserver_name = s\n\n  continued\n", NULL);
	assert_string_equal(cfg->jobs[0].server_name, "s\n\ncontinued");
	config_free(cfg);
}

static void
test_line_endings(void **state)
{
	static const char text[] = "\xef\xbb\xbf[global]\r\n"
	                           "backup_base_dir = /b\r\n"
	                           "backup_retention_time = 1\r"
	                           "maximum_backup_age = 2\r\n"
	                           "[a]\r\n"
	                           "type=null\r\n"
	                           "server_name=s\r\n"
	                           "bogus\r\n";
	struct config *cfg;
	struct err err;

	(void)state;
	err_clear(&err);
	assert_int_equal(config_parse_buffer("mem.ini", text, sizeof text - 1, NULL, &cfg, &err),
	                 -1);
	/* CRLF and CR both end a line: "bogus" is on line 8. */
	assert_string_equal(err.msg, "mem.ini:8: [a] cannot parse 'bogus': expected "
	                             "'key = value', '[section]' or a ';' comment");
	err_clear(&err);
	assert_int_equal(config_parse_buffer("mem.ini", text, sizeof text - 8, NULL, &cfg, &err),
	                 0);
	assert_string_equal(cfg->jobs[0].server_name, "s");
	assert_int_equal(cfg->jobs[0].max_age_hours, 2);
	assert_int_equal(cfg->jobs[0].sec->line, 5);
	config_free(cfg);
}

static void
test_shell_metacharacters_are_data(void **state)
{
	static const char server[] = "host; rm -rf / `id` $(id) | cat > /tmp/x & echo \"q\" 'q' \\";
	/* (';' and '#' after white space would start a comment) */
	static const char desc[] = "$HOME && ||;#< > * ? [x] {a,b} ~ ! %s %n";
	static const char pre[] = "sh -c 'echo $1' \"a b\" > /dev/null 2>&1 & wait";
	struct config *cfg;
	char *text, *base;

	(void)state;
	base = xasprintf("%s/never-created", tmpdir);
	text = xasprintf("[global]\nbackup_base_dir = %s\nbackup_retention_time = 1\n"
	                 "maximum_backup_age = 1\n[evil]\ntype = null\nserver_name = %s\n"
	                 "description = %s\nprivate_key = /tmp/key with spaces;$(x)\npreexec = %s\n"
	                 "postexec = %%\n",
	                 base, server, desc, pre);
	cfg = load_ok(text, NULL);
	assert_string_equal(cfg->jobs[0].server_name, server);
	assert_string_equal(cfg->jobs[0].description, desc);
	assert_string_equal(cfg->jobs[0].private_key, "/tmp/key with spaces;$(x)");
	assert_string_equal(cfg->jobs[0].preexec, pre);
	assert_string_equal(cfg->jobs[0].postexec, "%");
	/* Loading creates nothing. */
	assert_int_equal(access(base, F_OK), -1);
	config_free(cfg);
	free(text);
	free(base);
}

static void
test_duplicates(void **state)
{
	struct err err;

	(void)state;
	load_fails(GLOBAL_OK "[a]\n" /* 5 */
	                     "type = null\n"
	                     "server_name = a\n" /* 7 */
	                     "Server_Name = b\n" /* 8 */
	                     "  continued\n"     /* swallowed with its key */
	                     "[a]\n"             /* 10 */
	                     "type = null\n"
	                     "[global]\n" /* 12 */
	                     "x = 1\n",
	           3, &err);
	assert_has(err.msg, ":8: [a] server_name: duplicate key (first at line 7)\n");
	assert_has(err.msg, ":10: [a]: duplicate section (first at line 5); merge the two "
	                    "or rename one\n");
	assert_has(err.msg, ":12: [global]: duplicate section (first at line 1)");
}

static void
test_bad_lines(void **state)
{
	struct err err;

	(void)state;
	load_fails("backup_base_dir = /b\n"
	           "[global\n"
	           "[global]\n"
	           "backup_base_dir = /b\n"
	           "backup_retention_time = 1\n"
	           "maximum_backup_age = 1\n"
	           "just some words\n" /* 7 */
	           "[a]\n"
	           "type = null\n"
	           "server_name = a\n"
	           "= value\n" /* 11 */
	           ": value\n",
	           5, &err);
	assert_has(err.msg, ":1: 'backup_base_dir = /b' comes before the first [section]; "
	                    "start the file with [global]\n");
	assert_has(err.msg, ":2: '[global' comes before the first [section]");
	assert_has(err.msg, ":7: [global] cannot parse 'just some words': expected "
	                    "'key = value', '[section]' or a ';' comment\n");
	assert_has(err.msg, ":11: [a] missing key name before '='\n");
	assert_has(err.msg, ":12: [a] missing key name before ':'");
}

static void
test_nul_byte(void **state)
{
	static const char text[] = GLOBAL_OK "[a]\ntype = null\nserver_name = a\0b\n";
	struct config *cfg;
	struct err err;

	(void)state;
	err_clear(&err);
	assert_int_equal(config_parse_buffer("mem.ini", text, sizeof text - 1, NULL, &cfg, &err),
	                 -1);
	assert_contains(err.msg, "mem.ini:7: NUL byte in the line; the file must be text\n");
	assert_contains(err.msg, "mem.ini:5: [a] server_name: missing required key");
}

static void
test_section_names(void **state)
{
	struct config *cfg;
	struct err err;

	(void)state;
	load_fails(GLOBAL_OK "[bad name]\ntype = null\nserver_name = a\n" /* 5 */
	                     "[.]\ntype = null\nserver_name = a\n"        /* 8 */
	                     "[..]\ntype = null\nserver_name = a\n"       /* 11 */
	                     "[log]\ntype = null\nserver_name = a\n"      /* 14 */
	                     "[a/b]\ntype = null\nserver_name = a\n"      /* 17 */
	                     "[]\ntype = null\nserver_name = a\n"         /* 20 */
	                     "[DEFAULT]\ntype = null\n"                   /* 23 */
	                     "[Ok_name-1.2]\ntype = null\nserver_name = a\n",
	           7, &err);
	assert_has(err.msg, ":5: [bad name]: invalid section name: it names the job's backup "
	                    "folder, so use only letters, digits, '_', '.' and '-'\n");
	assert_has(err.msg, ":8: [.]: invalid section name: it would name the backup folder "
	                    "itself or its parent; rename the section\n");
	assert_has(err.msg, ":11: [..]: invalid section name: it would name");
	assert_has(err.msg, ":14: [log]: reserved section name: {backup_base_dir}/log holds "
	                    "the catalog and the run logs; rename the section");
	assert_has(err.msg, ":17: [a/b]: invalid section name");
	assert_has(err.msg, ":20: []: invalid section name");
	assert_has(err.msg, ":23: [DEFAULT]: not supported");
	assert_null(strstr(err.msg, "Ok_name"));

	cfg = load_ok(GLOBAL_OK "[Ok_name-1.2]\ntype = null\nserver_name = a\n"
	                        "[logs]\ntype = null\nserver_name = a\n",
	              NULL);
	assert_string_equal(cfg->jobs[0].dir, "/backup/data/Ok_name-1.2");
	config_free(cfg);
}

static void
test_header_trailing_text(void **state)
{
	struct config *cfg;
	struct err err;
	char *out, *want;
	int rc;

	(void)state;
	out = load_capturing_stderr(GLOBAL_OK "[a] old text\ntype = null\nserver_name = a\n", &rc,
	                            &cfg, &err);
	assert_int_equal(rc, 0);
	/* Returned to the caller, not printed. */
	assert_string_equal(out, "");
	want = xasprintf("%s:5: [a]: text after ']' ignored", cfgpath);
	assert_int_equal(cfg->warnings.n, 1);
	assert_string_equal(cfg->warnings.v[0], want);
	assert_string_equal(cfg->jobs[0].name, "a");
	config_free(cfg);
	free(out);
	free(want);
}

static void
test_global_required(void **state)
{
	struct config *cfg;
	struct err err;

	(void)state;
	load_fails("[a]\ntype = null\nserver_name = a\nbackup_retention_time = 1\n"
	           "maximum_backup_age = 1\n",
	           1, &err);
	assert_has(err.msg, ": no [global] section; add one with at least backup_base_dir = "
	                    "/path/to/backups");

	load_fails("[global]\nbackup_retention_time = 1\nmaximum_backup_age = 1\n", 1, &err);
	assert_has(err.msg, ":1: [global] backup_base_dir: missing required key (the folder "
	                    "that holds every backup, e.g. /backup/data)");

	load_fails("[global]\nbackup_retention_time = 1\nbackup_base_dir =\n", 1, &err);
	assert_has(err.msg, ":3: [global] backup_base_dir: missing required key");

	load_fails("[global]\nbackup_base_dir = backups\n", 1, &err);
	assert_has(err.msg, ":2: [global] backup_base_dir: 'backups' is not an absolute path");

	/* -b replaces the file's value, and makes it optional. */
	cfg = load_ok(GLOBAL_OK "[a]\ntype = null\nserver_name = a\n", "/srv/bk/");
	assert_string_equal(cfg->backup_base_dir, "/srv/bk/");
	assert_string_equal(cfg->jobs[0].dir, "/srv/bk/a");
	config_free(cfg);
	cfg = load_ok("[global]\nbackup_base_dir = relative\n", "/srv/bk");
	assert_string_equal(cfg->backup_base_dir, "/srv/bk");
	assert_int_equal(cfg->njobs, 0);
	config_free(cfg);
	assert_int_equal(load("[global]\n", "rel/dir", &cfg, &err), -1);
	assert_string_equal(err.msg, "-b rel/dir: the backup base directory must be an "
	                             "absolute path");
}

/*
 * Many problems: every one is listed while they fit, each on a whole line;
 * past that the message says how many more there are (never a line cut
 * mid-word).
 */
static void
test_problems_listed_whole(void **state)
{
	struct buf b;
	struct err err;
	const char *last;
	char want[128];

	(void)state;
	for (int n = 20; n <= 40; n += 20) {
		buf_init(&b, 1 << 20);
		buf_puts(&b, GLOBAL_OK);
		/* A [global] problem fails the load: the jobs' problems are listed too. */
		if (n == 40)
			buf_puts(&b, "max_copies = x\n");
		for (int i = 0; i < n; i++)
			buf_printf(
			    &b, "[j%02d]\ntype = null\nserver_name = s\nmaximum_backup_age = x\n",
			    i);
		err_clear(&err);
		if (n == 20) {
			load_fails(buf_str(&b), 20, &err);
			assert_non_null(strstr(err.msg, "[j19] maximum_backup_age: "));
		} else {
			struct config *cfg;

			assert_int_equal(load(buf_str(&b), NULL, &cfg, &err), -1);
			last = strrchr(err.msg, '\n');
			assert_non_null(last);
			assert_non_null(
			    strstr(last, " more problems (41 in all): fix these and run again"));
			/* every line shown is whole: it ends as a problem line ends */
			for (const char *l = err.msg; l < last; l = strchr(l, '\n') + 1) {
				const char *e = strchr(l, '\n');

				assert_true(e - l > 20);
				snprintf(want, sizeof want, "%.*s", (int)(e - l), l);
				assert_non_null(strstr(want, "is not a non-negative integer"));
			}
			assert_true(strlen(err.msg) < ERR_MSG_MAX - 1);
		}
		buf_free(&b);
	}
}

/* The original's backup_name / backup_dir in a job section: a warning, not an error. */
static void
test_legacy_job_keys_ignored(void **state)
{
	struct config *cfg;
	struct err err;
	char *out, *want;
	int rc;

	(void)state;
	out = load_capturing_stderr(GLOBAL_OK "[a]\ntype = null\nserver_name = s\n"
	                                      "backup_name = old\nbackup_dir = /elsewhere\n",
	                            &rc, &cfg, &err);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "");
	assert_int_equal(cfg->warnings.n, 2);
	want = xasprintf("%s:8: [a] backup_name: the original's key, ignored "
	                 "(the job's name is its section, its folder {backup_base_dir}/a)",
	                 cfgpath);
	assert_string_equal(cfg->warnings.v[0], want);
	free(want);
	want = xasprintf("%s:9: [a] backup_dir: the original's key, ignored "
	                 "(the job's name is its section, its folder {backup_base_dir}/a)",
	                 cfgpath);
	assert_string_equal(cfg->warnings.v[1], want);
	assert_string_equal(cfg->jobs[0].name, "a");
	config_free(cfg);
	free(out);
	free(want);
}

static void
test_global_unknown_key_warns(void **state)
{
	struct config *cfg;
	struct err err;
	char *out, *want;
	int rc;

	(void)state;
	out = load_capturing_stderr(
	    GLOBAL_OK "Old_Setting = 1\nbw_limit = 100\n"
	              "compression = yes\n[a]\ntype = rsync+ssh\nserver_name = s\nremote_dir = /\n"
	              "private_key = /k\n",
	    &rc, &cfg, &err);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "");
	want = xasprintf("%s:5: [global] old_setting: unknown key, ignored", cfgpath);
	assert_int_equal(cfg->warnings.n, 1);
	assert_string_equal(cfg->warnings.v[0], want);
	/* [global] values are defaults for the jobs. */
	assert_string_equal(job_get(&cfg->jobs[0], "bw_limit"), "100");
	assert_int_equal(job_get_bool(&cfg->jobs[0], "compression", 0), 1);
	config_free(cfg);
	free(out);
	free(want);
}

static void
test_global_types(void **state)
{
	struct config *cfg;
	struct err err;

	(void)state;
	load_fails("[global]\n"
	           "backup_base_dir = /b\n"
	           "backup_retention_time = 30d\n" /* 3 */
	           "maximum_backup_age = -1\n"
	           "compression = maybe\n" /* 5 */
	           "bw_limit = 10k\n"
	           "max_copies = 99999999999\n"
	           "ssh_port = 0\n" /* 8 */
	           "host_key_policy = ask\n"
	           "exclude_list = \"/a\n" /* 10 */
	           "start_vm = maybe\n"
	           "delete_snapshot = t\n"
	           "compression_level =\n",
	           9, &err);
	assert_has(err.msg, ":3: [global] backup_retention_time: '30d' is not a non-negative "
	                    "integer\n");
	assert_has(err.msg, ":4: [global] maximum_backup_age: '-1' is not a non-negative "
	                    "integer\n");
	assert_has(err.msg, ":5: [global] compression: 'maybe' is not a boolean (use yes/no, "
	                    "true/false or 1/0)\n");
	assert_has(err.msg, ":6: [global] bw_limit: '10k' is not a non-negative integer\n");
	assert_has(err.msg, ":7: [global] max_copies: '99999999999' is not a non-negative "
	                    "integer\n");
	assert_has(err.msg, ":8: [global] ssh_port: '0' is not a port number (1-65535)\n");
	assert_has(err.msg, ":9: [global] host_key_policy: 'ask' is not a host key policy "
	                    "(use accept-new or strict)\n");
	assert_has(err.msg, ":10: [global] exclude_list: unterminated double quote starting at "
	                    "character 1\n");
	assert_has(err.msg, ":11: [global] start_vm: 'maybe' is not a boolean (use yes/no, "
	                    "true/false, 1/0, t, y or oui)");

	cfg = load_ok("[global]\nbackup_base_dir = /b\nstart_vm = Oui\ndelete_snapshot = y\n"
	              "compression = TRUE\nmax_copies = 3\n",
	              NULL);
	config_free(cfg);
}

static void
test_type_key(void **state)
{
	struct err err;

	(void)state;
	load_fails(GLOBAL_OK "[a]\n" /* 5 */
	                     "server_name = a\n"
	                     "[b]\n" /* 7 */
	                     "type = rsync+ftp\n"
	                     "whatever = 1\n"
	                     "[c]\n"
	                     "type =\n",
	           3, &err);
	assert_has(err.msg, ":5: [a] type: missing required key (known types: ");
	assert_has(err.msg, ":8: [b] type: unknown type 'rsync+ftp' (known: ");
	assert_has(err.msg, ":10: [c] type: missing required key (known types: ");
	assert_contains(err.msg, "rsync+ssh");
	assert_contains(err.msg, ",null");
	/* Keys of a section of unknown type are not judged. */
	assert_null(strstr(err.msg, "whatever"));
}

static void
test_unknown_keys(void **state)
{
	struct err err;

	(void)state;
	load_fails(GLOBAL_OK "[a]\n"
	                     "type = rsync+ssh\n"
	                     "server_name = a\n"
	                     "remote_dir = /\n"
	                     "private_key = /k\n"
	                     "remotedir = /x\n"       /* 10 */
	                     "backup_base_dir = /b\n" /* 11 */
	                     "[n]\n"
	                     "type = null\n"
	                     "server_name = n\n"
	                     "remote_dir = /\n",
	           3, &err); /* 15 */
	assert_has(err.msg, ":10: [a] remotedir: unknown key for type rsync+ssh "
	                    "(did you mean 'remote_dir'?) (known: "
	                    "type,server_name,backup_retention_time,maximum_backup_age,");
	assert_contains(err.msg, ",remote_dir,");
	assert_contains(err.msg, ",exclude_list,");
	assert_contains(err.msg, ",preexec,");
	assert_has(err.msg, ":11: [a] backup_base_dir: unknown key for type rsync+ssh (known: ");
	assert_has(err.msg, ":15: [n] remote_dir: unknown key for type null (known: "
	                    "type,server_name,backup_retention_time,maximum_backup_age,");
	/* Each known key is listed once, and the list is closed. */
	{
		const char *l = strstr(err.msg, ":10: ");
		const char *open = strstr(l, "(known: ");
		const char *close = strchr(open, ')');
		char *list = xstrndup(open + 8, (size_t)(close - open - 8));
		const char *p = strstr(list, "remote_user");

		assert_non_null(p);
		assert_null(strstr(p + 1, "remote_user"));
		assert_null(strstr(strstr(list, "ssh_port") + 1, "ssh_port"));
		assert_int_equal(close[1], '\n');
		free(list);
	}
}

static void
test_missing_required(void **state)
{
	struct err err;

	(void)state;
	load_fails("[global]\n"
	           "backup_base_dir = /b\n"
	           "maximum_backup_age = 1\n"
	           "\n"
	           "[a]\n" /* 5 */
	           "type = rsync+ssh\n"
	           "private_key =\n" /* empty counts as missing */
	           "remote_user =\n" /* ... but falls back to the default */
	           "[n]\n"           /* 9 */
	           "type = null\n"
	           "server_name = n\n"
	           "backup_retention_time = 3\n",
	           4, &err);
	assert_has(err.msg, ":5: [a] server_name: missing required key (set it in the section "
	                    "or in [global])\n");
	assert_has(err.msg, ":5: [a] backup_retention_time: missing required key");
	assert_has(err.msg, ":5: [a] remote_dir: missing required key");
	assert_has(err.msg, ":5: [a] private_key: missing required key");
	assert_null(strstr(err.msg, "remote_user"));
	assert_null(strstr(err.msg, "[n]"));
}

static void
test_required_from_global(void **state)
{
	struct config *cfg;
	const struct job *a, *b;

	(void)state;
	cfg = load_ok(GLOBAL_OK "private_key = /global/key\n" /* 5 */
	                        "compression = yes\n"
	                        "[a]\n"
	                        "type = rsync+ssh\n"
	                        "server_name = a\n"
	                        "remote_dir = /\n"
	                        "private_key =\n" /* empty: [global]'s applies */
	                        "compression =\n"
	                        "backup_retention_time = 7\n" /* 13 */
	                        "[b]\n"
	                        "type = rsync+ssh\n"
	                        "server_name = b\n"
	                        "remote_dir = /\n"
	                        "compression = no\n" /* 18 */
	                        "remote_user = backup\n"
	                        "ssh_port = 2200\n",
	              NULL);
	a = &cfg->jobs[0];
	b = &cfg->jobs[1];
	assert_string_equal(a->private_key, "/global/key");
	assert_int_equal(job_entry(a, "private_key")->line, 5);
	assert_string_equal(job_get(a, "compression"), "yes");
	assert_int_equal(job_entry(a, "compression")->line, 6);
	assert_int_equal(a->retention_days, 7);
	assert_int_equal(job_entry(a, "backup_retention_time")->line, 13);
	assert_int_equal(a->max_age_hours, 30);
	assert_string_equal(job_get(b, "compression"), "no");
	assert_int_equal(job_entry(b, "compression")->line, 18);
	assert_int_equal(job_get_bool(b, "compression", 1), 0);
	assert_string_equal(b->remote_user, "backup");
	assert_int_equal(b->ssh_port, 2200);
	assert_int_equal(b->retention_days, 30);
	config_free(cfg);
}

static void
test_preexec_needs_key(void **state)
{
	struct config *cfg;
	struct err err;

	(void)state;
	load_fails(GLOBAL_OK "[a]\n"
	                     "type = null\n"
	                     "server_name = a\n"
	                     "preexec = systemctl stop db\n"   /* 8 */
	                     "postexec = systemctl start db\n" /* 9 */
	                     "private_key =\n",
	           2, &err);
	assert_has(err.msg, ":8: [a] preexec: needs private_key (the command runs on "
	                    "server_name over ssh)\n");
	assert_has(err.msg, ":9: [a] postexec: needs private_key (the command runs on "
	                    "server_name over ssh)");

	/* Empty commands are unset; a [global] key is enough. */
	cfg = load_ok(GLOBAL_OK "[a]\ntype = null\nserver_name = a\npreexec =\npostexec =\n", NULL);
	assert_null(cfg->jobs[0].preexec);
	assert_null(cfg->jobs[0].postexec);
	config_free(cfg);
	cfg = load_ok(GLOBAL_OK "private_key = /k\n[a]\ntype = null\nserver_name = a\n"
	                        "postexec = echo done\n",
	              NULL);
	assert_null(cfg->jobs[0].preexec);
	assert_string_equal(cfg->jobs[0].postexec, "echo done");
	assert_string_equal(cfg->jobs[0].private_key, "/k");
	config_free(cfg);
}

/* A valid rsync+ssh job whose line 10 is "key = value". */
static int
load_job_value(const char *key, const char *value, struct err *err)
{
	struct config *cfg;
	char *text;
	int rc;

	text = xasprintf("[global]\nbackup_base_dir = /b\nbackup_retention_time = 1\n"
	                 "maximum_backup_age = 1\n[j]\ntype = rsync+ssh\nserver_name = s\n"
	                 "remote_dir = /r\nprivate_key = /k\n%s = %s\n",
	                 key, value);
	rc = load(text, NULL, &cfg, err);
	config_free(cfg);
	free(text);
	return rc;
}

static void
value_ok(const char *key, const char *value)
{
	struct err err;

	if (load_job_value(key, value, &err) != 0)
		fail_msg("%s = %s rejected: %s", key, value, err.msg);
}

static void
value_bad(const char *key, const char *value, const char *why)
{
	struct err err;
	char *want;

	if (load_job_value(key, value, &err) != -1)
		fail_msg("%s = %s accepted", key, value);
	want = xasprintf(":10: [j] %s: %s", key, why);
	assert_has(err.msg, want);
	assert_int_equal(count_lines(err.msg), 1);
	free(want);
}

static void
test_value_types(void **state)
{
	(void)state;
	/* KEY_INT */
	value_ok("bwlimit", "0");
	value_ok("bwlimit", "007");
	value_ok("bwlimit", "2147483647");
	value_ok("bwlimit", ""); /* empty = unset */
	value_bad("bwlimit", "12abc", "'12abc' is not a non-negative integer");
	value_bad("bwlimit", "-1", "'-1' is not a non-negative integer");
	value_bad("bwlimit", "+5", "'+5' is not a non-negative integer");
	value_bad("bwlimit", "2147483648", "'2147483648' is not a non-negative integer");
	value_bad("exec_timeout", "99999999999999999999999",
	          "'99999999999999999999999' is not a non-negative integer");
	value_bad("compressionlevel", "1 2", "'1 2' is not a non-negative integer");
	value_bad("compressionlevel", "0x10", "'0x10' is not a non-negative integer");
	/* KEY_PORT */
	value_ok("ssh_port", "1");
	value_ok("ssh_port", "65535");
	value_bad("ssh_port", "0", "'0' is not a port number (1-65535)");
	value_bad("ssh_port", "65536", "'65536' is not a port number (1-65535)");
	value_bad("ssh_port", "22x", "'22x' is not a port number (1-65535)");
	/* KEY_BOOL */
	value_ok("compression", "YES");
	value_ok("compression", "False");
	value_ok("compression", "1");
	value_ok("protect_args", "0");
	value_bad("compression", "maybe",
	          "'maybe' is not a boolean (use yes/no, true/false or 1/0)");
	value_bad("compression", "oui", "'oui' is not a boolean");
	value_bad("protect_args", "t", "'t' is not a boolean");
	/* KEY_EXCLUDE */
	value_ok("exclude_list", "\"/proc/**\",\"/sys/**\"");
	value_ok("exclude_list", "--exclude /proc --exclude=/sys");
	value_bad("exclude_list", "\"/a\" \"/b\"", "expected ',' at character 6, found '\"'");
	value_bad("exclude_list", "__import__('os')", "unexpected '_' at character 1");
	/* KEY_HOSTKEY_POLICY */
	value_ok("host_key_policy", "strict");
	value_ok("host_key_policy", "accept-new");
	value_bad("host_key_policy", "no",
	          "'no' is not a host key policy (use accept-new or strict)");
	/* KEY_FILE and KEY_STR: anything non-empty, checked later. */
	value_ok("known_hosts_file", "/does/not/exist");
	value_ok("cipher_spec", "aes128-ctr; rm -rf /");
}

static void
test_parse_bool(void **state)
{
	/* ConfigParser's getboolean() words (on/off too), and y/n */
	static const char *const t[] = { "yes", "YES", "true", "True", "1",
		                         "on",  "ON",  "y",    "Y",    NULL };
	static const char *const f[] = {
		"no", "No", "false", "FALSE", "0", "off", "Off", "n", NULL
	};
	static const char *const l[] = { "t", "T", "oui", "OUI", NULL };

	(void)state;
	for (size_t i = 0; t[i] != NULL; i++) {
		assert_int_equal(config_parse_bool(t[i], 0), 1);
		assert_int_equal(config_parse_bool(t[i], 1), 1);
	}
	for (size_t i = 0; f[i] != NULL; i++) {
		assert_int_equal(config_parse_bool(f[i], 0), 0);
		assert_int_equal(config_parse_bool(f[i], 1), 0);
	}
	for (size_t i = 0; l[i] != NULL; i++) {
		assert_int_equal(config_parse_bool(l[i], 0), -1);
		assert_int_equal(config_parse_bool(l[i], 1), 1);
	}
	assert_int_equal(config_parse_bool("", 1), -1);
	assert_int_equal(config_parse_bool("onn", 1), -1);
	assert_int_equal(config_parse_bool("yes ", 0), -1);
	assert_int_equal(config_parse_bool("non", 1), -1);
	assert_int_equal(config_parse_bool(NULL, 1), -1);
}

static void
test_parse_percent(void **state)
{
	static const char *const bad[] = { "",   "0",   "0.0", "-1",     "100.001", "101",
		                           "1.", ".5",  "1,5", "0.0001", "5 %",     "1e2",
		                           "%",  "abc", "1%%", "1000",   NULL };
	long v = -1;

	(void)state;
	assert_int_equal(config_parse_percent("1", &v), 0);
	assert_int_equal(v, 1000);
	assert_int_equal(config_parse_percent("0.5", &v), 0);
	assert_int_equal(v, 500);
	assert_int_equal(config_parse_percent("2.25%", &v), 0);
	assert_int_equal(v, 2250);
	assert_int_equal(config_parse_percent("0.001", &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(config_parse_percent("100", &v), 0);
	assert_int_equal(v, 100000);
	for (size_t i = 0; bad[i] != NULL; i++)
		assert_int_equal(config_parse_percent(bad[i], &v), -1);
}

static void
test_collects_all(void **state)
{
	struct err err;
	const char *p[6];

	(void)state;
	load_fails("[global]\n"
	           "backup_base_dir = /b\n"
	           "backup_retention_time = x\n" /* 3 */
	           "[a]\n"                       /* 4 */
	           "type = rsync+ssh\n"
	           "server_name = a\n"
	           "bwlimit = fast\n" /* 7 */
	           "nope = 1\n"       /* 8 */
	           "garbage\n"        /* 9 */
	           "[b]\n"            /* 10 */
	           "type = null\n"
	           "preexec = x\n",
	           10, &err); /* 12 */
	p[0] = strstr(err.msg, ":9: [a] cannot parse 'garbage'");
	p[1] = strstr(err.msg, ":3: [global] backup_retention_time: 'x' is not");
	p[2] = strstr(err.msg, ":7: [a] bwlimit: 'fast' is not");
	p[3] = strstr(err.msg, ":8: [a] nope: unknown key for type rsync+ssh");
	p[4] = strstr(err.msg, ":4: [a] maximum_backup_age: missing required key");
	p[5] = strstr(err.msg, ":12: [b] preexec: needs private_key");
	for (size_t i = 0; i < 6; i++) {
		if (p[i] == NULL)
			fail_msg("problem %zu missing in:\n%s", i, err.msg);
		if (i > 0 && p[i] < p[i - 1])
			fail_msg("problem %zu out of order in:\n%s", i, err.msg);
	}
	assert_has(err.msg, ":4: [a] remote_dir: missing required key");
	assert_has(err.msg, ":4: [a] private_key: missing required key");
	assert_has(err.msg, ":10: [b] server_name: missing required key");
}

static void
test_many_problems(void **state)
{
	struct config *cfg;
	struct err err;
	char *text = xmalloc(20000);
	size_t n = 0;

	(void)state;
	n += (size_t)snprintf(text, 20000, "[global]\nbackup_base_dir = /b\n");
	for (int i = 0; i < 1000; i++)
		n += (size_t)snprintf(text + n, 20000 - n, "bad line\n");
	err_clear(&err);
	assert_int_equal(config_parse_buffer("m.ini", text, n, NULL, &cfg, &err), -1);
	assert_true(strlen(err.msg) < ERR_MSG_MAX);
	assert_true(strncmp(err.msg, "m.ini:3: [global] cannot parse 'bad line'", 41) == 0);
	free(text);
}

static void
test_unreadable(void **state)
{
	struct config *cfg = (struct config *)&cfg;
	struct err err;
	char *p;

	(void)state;
	err_clear(&err);
	assert_int_equal(config_load("/nonexistent/tb.ini", NULL, &cfg, &err), -1);
	assert_int_equal(err.code, ENOENT);
	assert_string_equal(err.msg, "cannot read configuration /nonexistent/tb.ini: No such "
	                             "file or directory");
	assert_null(cfg);

	err_clear(&err);
	assert_int_equal(config_load(tmpdir, NULL, &cfg, &err), -1);
	assert_int_equal(err.code, EISDIR);

	if (geteuid() == 0)
		return; /* root reads anything */
	p = xasprintf("%s/secret.ini", tmpdir);
	write_file(p, GLOBAL_OK);
	assert_int_equal(chmod(p, 0), 0);
	err_clear(&err);
	assert_int_equal(config_load(p, NULL, &cfg, &err), -1);
	assert_int_equal(err.code, EACCES);
	assert_contains(err.msg, "cannot read configuration ");
	assert_contains(err.msg, "/secret.ini: Permission denied");
	free(p);
}

/*
 * The file is read whole whatever its size and kind: a regular file in
 * one buffer of its size, a pipe (no size known) in a growing one; more
 * than 16 MiB is refused.
 */
static void
test_read_sizes(void **state)
{
	struct config *cfg = NULL;
	struct buf text;
	struct err err;
	char *fifo;
	pid_t pid;
	int fd, status;

	(void)state;
	buf_init(&text, SIZE_MAX);
	buf_puts(&text, GLOBAL_OK);
	for (int i = 0; i < 2000; i++) /* 60 KB: more than any first buffer */
		buf_printf(&text, "; padding line %05d of the configuration\n", i);
	buf_puts(&text, "max_copies = 7\n");

	err_clear(&err);
	write_file(cfgpath, buf_str(&text));
	assert_int_equal(config_load(cfgpath, NULL, &cfg, &err), 0);
	assert_string_equal(config_global_get(cfg, "max_copies"), "7");
	config_free(cfg);

	fifo = xasprintf("%s/fifo.ini", tmpdir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		size_t off = 0;

		fd = open(fifo, O_WRONLY);
		while (fd != -1 && off < text.len) {
			ssize_t w = write(fd, text.data + off, text.len - off);

			if (w <= 0)
				_exit(1);
			off += (size_t)w;
		}
		_exit(fd == -1);
	}
	assert_int_equal(config_load(fifo, NULL, &cfg, &err), 0);
	assert_string_equal(config_global_get(cfg, "max_copies"), "7");
	config_free(cfg);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(status, 0);

	fd = open(cfgpath, O_WRONLY | O_TRUNC);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (16 << 20) + 1), 0); /* sparse: no disk used */
	assert_int_equal(close(fd), 0);
	err_clear(&err);
	cfg = (struct config *)&cfg;
	assert_int_equal(config_load(cfgpath, NULL, &cfg, &err), -1);
	assert_null(cfg);
	assert_int_equal(err.code, EFBIG);
	assert_contains(err.msg, ": larger than 16 MiB");
	free(fifo);
	buf_free(&text);
}

static void
test_empty_file(void **state)
{
	struct err err;

	(void)state;
	load_fails("", 1, &err);
	assert_has(err.msg, ": no [global] section");
	load_fails("\n; only comments\n\n", 1, &err);
	assert_has(err.msg, ": no [global] section");
}

static void
test_select(void **state)
{
	struct config *cfg;
	const struct job **sel, **keep;
	struct err err;
	size_t n;

	(void)state;
	cfg = load_ok(GLOBAL_OK "[a]\ntype=null\nserver_name=a\n[b]\ntype=null\nserver_name=b\n"
	                        "[c]\ntype=null\nserver_name=c\n",
	              NULL);
	err_clear(&err);
	assert_int_equal(config_select(cfg, NULL, &sel, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_ptr_equal(sel[0], &cfg->jobs[0]);
	assert_ptr_equal(sel[1], &cfg->jobs[1]);
	assert_ptr_equal(sel[2], &cfg->jobs[2]);
	free(sel);
	assert_int_equal(config_select(cfg, "", &sel, &n, &err), 0);
	assert_int_equal(n, 3);
	free(sel);
	/* Config order, whatever the order on the command line. */
	assert_int_equal(config_select(cfg, " c ,\ta ", &sel, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(sel[0]->name, "a");
	assert_string_equal(sel[1]->name, "c");
	free(sel);
	assert_int_equal(config_select(cfg, "b,b,,b,", &sel, &n, &err), 0);
	assert_int_equal(n, 1);
	assert_string_equal(sel[0]->name, "b");
	free(sel);
	assert_false(err_isset(&err));

	keep = sel = (const struct job **)&keep;
	n = 42;
	assert_int_equal(config_select(cfg, "a,x , global", &sel, &n, &err), -1);
	assert_string_equal(err.msg, "unknown section 'x' in -s (known: a,b,c)\n"
	                             "unknown section 'global' in -s (known: a,b,c)");
	assert_ptr_equal(sel, keep);
	assert_int_equal(n, 42);
	config_free(cfg);

	cfg = load_ok("[global]\nbackup_base_dir=/b\n", NULL);
	assert_int_equal(config_select(cfg, NULL, &sel, &n, &err), 0);
	assert_int_equal(n, 0);
	free(sel);
	err_clear(&err);
	assert_int_equal(config_select(cfg, "a", &sel, &n, &err), -1);
	assert_string_equal(err.msg, "unknown section 'a' in -s (known: )");
	config_free(cfg);
}

static void
test_check_files(void **state)
{
	struct config *cfg;
	struct err err;
	char *key, *text, *want;

	(void)state;
	key = xasprintf("%s/id_rsa", tmpdir);
	write_file(key, "key\n");
	assert_int_equal(chmod(key, 0600), 0);
	text = xasprintf(GLOBAL_OK "private_key = %s/missing\n" /* 5 */
	                           "[ok]\ntype = rsync+ssh\nserver_name = s\nremote_dir = /\n"
	                           "private_key = %s\n" /* 10 */
	                           "[dir]\ntype = rsync+ssh\nserver_name = s\nremote_dir = /\n"
	                           "private_key = %s\n" /* 15 */
	                           "[inherits]\ntype = rsync+ssh\nserver_name = s\nremote_dir = /\n"
	                           "[none]\ntype = null\nserver_name = s\nprivate_key =\n",
	                 tmpdir, key, tmpdir);
	/* [none] has no key here but inherits [global]'s missing one. */
	cfg = load_ok(text, NULL);

	err_clear(&err);
	assert_int_equal(config_check_files(config_find_job(cfg, "ok"), &err), 0);
	assert_false(err_isset(&err));

	assert_int_equal(config_check_files(config_find_job(cfg, "dir"), &err), -1);
	want = xasprintf(":15: [dir] private_key: %s is not a regular file", tmpdir);
	assert_has(err.msg, want);
	free(want);

	err_clear(&err);
	assert_int_equal(config_check_files(config_find_job(cfg, "inherits"), &err), -1);
	want = xasprintf(":5: [inherits] private_key: cannot read %s/missing: No such file or "
	                 "directory",
	                 tmpdir);
	assert_has(err.msg, want);
	free(want);

	if (geteuid() != 0) {
		assert_int_equal(chmod(key, 0), 0);
		err_clear(&err);
		assert_int_equal(config_check_files(config_find_job(cfg, "ok"), &err), -1);
		want = xasprintf(":10: [ok] private_key: cannot read %s: Permission denied",
		                 key != NULL ? key : "?"); /* gcc -O2 -fsanitize false positive */
		assert_has(err.msg, want);
		free(want);
		assert_int_equal(chmod(key, 0600), 0);
	}
	config_free(cfg);
	free(text);
	free(key);
}

/*
 * Issue 17: each job is validated alone. A job of an unknown type or with
 * a bad value goes to cfg->invalid with its problem (file:line, section,
 * key); the valid jobs load; -s may name an invalid job. A problem in
 * [global] still fails the whole load.
 */
static void
test_invalid_job_alone(void **state)
{
	const char *text =
	    GLOBAL_OK "[good]\ntype = null\nserver_name = s\n"
	              "[vm]\ntype = xen-xva-notreal\nserver_name = s\n"
	              "[num]\ntype = null\nserver_name = s\nmaximum_backup_age = x\n";
	const struct job **sel;
	struct config *cfg = NULL;
	struct err err;
	size_t n;

	(void)state;
	write_file(cfgpath, text);
	err_clear(&err);
	assert_int_equal(config_load(cfgpath, NULL, &cfg, &err), 0);
	assert_int_equal(cfg->njobs, 1);
	assert_string_equal(cfg->jobs[0].name, "good");
	assert_null(cfg->jobs[0].invalid);
	assert_int_equal(cfg->ninvalid, 2);
	assert_string_equal(cfg->invalid[0].name, "vm");
	assert_has(cfg->invalid[0].invalid, ":9: [vm] type: unknown type 'xen-xva-notreal'");
	assert_null(cfg->invalid[0].drv);
	assert_string_equal(cfg->invalid[1].name, "num");
	assert_has(cfg->invalid[1].invalid, ":14: [num] maximum_backup_age: ");
	assert_int_equal(count_lines(cfg->invalid[1].invalid), 1);
	assert_null(config_find_job(cfg, "vm"));

	/* -s good: the good job; -s vm: no valid job, the invalid one. */
	assert_int_equal(config_select(cfg, "good", &sel, &n, &err), 0);
	assert_int_equal(n, 1);
	free(sel);
	assert_int_equal(config_select(cfg, "vm", &sel, &n, &err), 0);
	assert_int_equal(n, 0);
	free(sel);
	config_select_invalid(cfg, " vm ,good", &sel, &n);
	assert_int_equal(n, 1);
	assert_ptr_equal(sel[0], &cfg->invalid[0]);
	free(sel);
	config_select_invalid(cfg, NULL, &sel, &n);
	assert_int_equal(n, 2);
	free(sel);
	assert_int_equal(config_select(cfg, "nosuch", &sel, &n, &err), -1);
	assert_contains(err.msg, "unknown section 'nosuch'");
	config_free(cfg);

	/* A broken [global] stops everything, the jobs' problems listed too. */
	write_file(cfgpath, GLOBAL_OK "max_copies = many\n[vm]\ntype = nope\nserver_name = s\n");
	err_clear(&err);
	assert_int_equal(config_load(cfgpath, NULL, &cfg, &err), -1);
	assert_null(cfg);
	assert_has(err.msg, ":5: [global] max_copies: ");
	assert_has(err.msg, ":7: [vm] type: unknown type 'nope'");
}

/* [catalog]: not a job; its address built from url and password_file; bad values named. */
static void
test_catalog_section(void **state)
{
	struct config *cfg;
	struct err err;
	char *a;

	(void)state;
	assert_int_equal(load(GLOBAL_OK
	                      "[catalog]\nurl = postgresql://tb@db/tisbackup\n"
	                      "password_file = /etc/tis/pw\n[n]\ntype = null\nserver_name = n\n",
	                      NULL, &cfg, &err),
	                 0);
	assert_int_equal(cfg->njobs, 1);
	assert_string_equal(cfg->jobs[0].name, "n");
	a = config_catalog_address(cfg);
	assert_string_equal(a, "postgresql://tb@db/tisbackup?password_file=/etc/tis/pw");
	free(a);
	config_free(cfg);

	assert_int_equal(load(GLOBAL_OK "[n]\ntype = null\nserver_name = n\n", NULL, &cfg, &err),
	                 0);
	a = config_catalog_address(cfg);
	assert_string_equal(a, "/backup/data/log/tisbackup.sqlite");
	free(a);
	config_free(cfg);

	assert_int_equal(
	    load(GLOBAL_OK "[catalog]\nurl = mysql://x\npassword_file = pw\n", NULL, &cfg, &err),
	    -1);
	assert_has(err.msg, ":6: [catalog] url: not a catalog address");
	assert_has(err.msg, ":7: [catalog] password_file: 'pw' is not an absolute path");

	assert_int_equal(load(GLOBAL_OK "[catalog]\nuri = sqlite:/x\n", NULL, &cfg, &err), 0);
	assert_int_equal(cfg->warnings.n, 1);
	assert_has(cfg->warnings.v[0], ":6: [catalog] uri: unknown key, ignored");
	config_free(cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_catalog_section),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_blank_then_indented),
		cmocka_unit_test(test_line_endings),
		cmocka_unit_test(test_shell_metacharacters_are_data),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_section_names),
		cmocka_unit_test(test_header_trailing_text),
		cmocka_unit_test(test_global_required),
		cmocka_unit_test(test_global_unknown_key_warns),
		cmocka_unit_test(test_legacy_job_keys_ignored),
		cmocka_unit_test(test_problems_listed_whole),
		cmocka_unit_test(test_invalid_job_alone),
		cmocka_unit_test(test_global_types),
		cmocka_unit_test(test_type_key),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_missing_required),
		cmocka_unit_test(test_required_from_global),
		cmocka_unit_test(test_preexec_needs_key),
		cmocka_unit_test(test_value_types),
		cmocka_unit_test(test_parse_bool),
		cmocka_unit_test(test_parse_percent),
		cmocka_unit_test(test_collects_all),
		cmocka_unit_test(test_many_problems),
		cmocka_unit_test(test_unreadable),
		cmocka_unit_test(test_empty_file),
		cmocka_unit_test(test_read_sizes),
		cmocka_unit_test(test_select),
		cmocka_unit_test(test_check_files),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
