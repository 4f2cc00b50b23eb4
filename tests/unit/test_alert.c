/*
 * Unit tests for alert.c and the alerts table of catalog.c: the decision
 * table at every transition with an injected clock (rate limit edges
 * included), the mail's headers and body (CRLF, line length, header
 * injection, RFC 2047 subject, invalid UTF-8, bounded log), the webhook
 * JSON, the [alerts] keys' validation, the compare-and-swap of the stored
 * state, and alert_after_run()'s roll-back when nothing could be sent.
 */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "alert.h"
#include "catalog.h"
#include "catalog_fixture.h"
#include "guiconf.h"
#include "log.h"
#include "util/xmalloc.h"

#define T0 ((time_t)1800000000)
#define HOUR 3600

static enum alert_event
decide(int failed, const char *prev, enum alert_event last, time_t last_sent, time_t now,
       int *reminder)
{
	struct alert_state st = { .last = last, .last_sent = last_sent };

	return alert_decide(failed, prev, &st, now, HOUR, reminder);
}

static void
test_decide_table(void **state)
{
	int rem;

	(void)state;
	/* First run. */
	assert_int_equal(decide(0, NULL, ALERT_NONE, 0, T0, &rem), ALERT_NONE);
	assert_int_equal(decide(1, NULL, ALERT_NONE, 0, T0, &rem), ALERT_FAILED);
	assert_int_equal(rem, 0);
	/* OK -> ERROR, never alerted. */
	assert_int_equal(decide(1, "OK", ALERT_NONE, 0, T0, &rem), ALERT_FAILED);
	assert_int_equal(rem, 0);
	/* OK -> OK. */
	assert_int_equal(decide(0, "OK", ALERT_NONE, 0, T0, &rem), ALERT_NONE);
	assert_int_equal(decide(0, "OK", ALERT_RECOVERED, T0 - 10, T0, &rem), ALERT_NONE);
	/* ERROR -> ERROR within the interval of the failed alert: nothing. */
	assert_int_equal(decide(1, "ERROR", ALERT_FAILED, T0 - 10, T0, &rem), ALERT_NONE);
	assert_int_equal(decide(1, "ERROR", ALERT_FAILED, T0 - HOUR + 1, T0, &rem), ALERT_NONE);
	/* ... exactly at the interval and after: a reminder. */
	assert_int_equal(decide(1, "ERROR", ALERT_FAILED, T0 - HOUR, T0, &rem), ALERT_FAILED);
	assert_int_equal(rem, 1);
	assert_int_equal(decide(1, "ERROR", ALERT_FAILED, T0 - 5 * HOUR, T0, &rem), ALERT_FAILED);
	assert_int_equal(rem, 1);
	/* ERROR -> OK after a failed alert: recovered, even a second later. */
	assert_int_equal(decide(0, "ERROR", ALERT_FAILED, T0 - 1, T0, &rem), ALERT_RECOVERED);
	assert_int_equal(rem, 0);
	/* OK with a failed alert pending (its recovered could not be sent): recovered. */
	assert_int_equal(decide(0, "OK", ALERT_FAILED, T0 - 1, T0, &rem), ALERT_RECOVERED);
	/* ERROR -> OK when the failure was never reported: nothing. */
	assert_int_equal(decide(0, "ERROR", ALERT_NONE, 0, T0, &rem), ALERT_NONE);
	assert_int_equal(decide(0, "ERROR", ALERT_RECOVERED, T0 - 10, T0, &rem), ALERT_NONE);
	/* A new failure within the interval of the recovered alert: rate limited. */
	assert_int_equal(decide(1, "OK", ALERT_RECOVERED, T0 - 60, T0, &rem), ALERT_NONE);
	/* ... after it: failed, not a reminder. */
	assert_int_equal(decide(1, "OK", ALERT_RECOVERED, T0 - HOUR, T0, &rem), ALERT_FAILED);
	assert_int_equal(rem, 0);
	assert_int_equal(decide(1, "ERROR", ALERT_RECOVERED, T0 - HOUR, T0, &rem), ALERT_FAILED);
	assert_int_equal(rem, 0);
	/* A clock that went backwards does not unblock the limit. */
	assert_int_equal(decide(1, "ERROR", ALERT_FAILED, T0 + 100, T0, &rem), ALERT_NONE);
}

static void
test_decide_interval_zero(void **state)
{
	struct alert_state st = { .last = ALERT_FAILED, .last_sent = T0 };
	int rem;

	(void)state;
	assert_int_equal(alert_decide(1, "ERROR", &st, T0, 0, &rem), ALERT_FAILED);
	assert_int_equal(rem, 1);
}

static const struct alert_run sample = {
	.job = "web",
	.server = "srv1",
	.type = "rsync+ssh",
	.status = "ERROR",
	.prev_status = "OK",
	.start = "2026-11-26T07:00:00.123456",
	.end = "2026-11-26T07:00:12.500000",
	.duration_s = 12.4,
	.log = "rsync: connection refused\nexit code 255",
	.host = "backup1",
};

/* The header block of msg (up to the empty line), as a new string. */
static char *
headers_of(const char *msg)
{
	const char *e = strstr(msg, "\r\n\r\n");

	assert_non_null(e);
	return xstrndup(msg, (size_t)(e - msg) + 2);
}

static void
assert_wellformed(const char *msg)
{
	const char *p = msg;

	while (*p != '\0') {
		const char *nl = strchr(p, '\n');

		assert_non_null(nl);
		if (nl > msg)
			assert_int_equal(nl[-1], '\r');
		assert_true(nl - p <= 999); /* 998 + the CR */
		for (const char *c = p; c < nl - 1; c++)
			assert_true(*c == '\t' || (unsigned char)*c >= 0x20);
		p = nl + 1;
	}
}

static void
test_format_mail(void **state)
{
	char *to[] = { "ops@example.org", "team@example.net", NULL };
	char *msg, *h;

	(void)state;
	msg = alert_format_mail(&sample, ALERT_FAILED, "tisbackup@backup1", to, T0, "id.1@backup1");
	assert_wellformed(msg);
	h = headers_of(msg);
	assert_non_null(strstr(h, "\r\nFrom: tisbackup@backup1\r\n"));
	assert_non_null(strstr(h, "\r\nTo: ops@example.org,\r\n team@example.net\r\n"));
	assert_non_null(strstr(h, "\r\nSubject: [tisbackup] web on srv1: FAILED\r\n"));
	assert_non_null(strstr(h, "\r\nMessage-ID: <id.1@backup1>\r\n"));
	assert_non_null(strstr(h, "\r\nMIME-Version: 1.0\r\n"));
	assert_non_null(strstr(h, "\r\nContent-Type: text/plain; charset=utf-8\r\n"));
	assert_true(strncmp(h, "Date: ", 6) == 0);
	assert_non_null(strstr(msg, "\r\nJob:       web\r\n"));
	assert_non_null(strstr(msg, "\r\nServer:    srv1\r\n"));
	assert_non_null(strstr(msg, "\r\nType:      rsync+ssh\r\n"));
	assert_non_null(strstr(msg, "\r\nStarted:   2026-11-26T07:00:00.123456\r\n"));
	assert_non_null(strstr(msg, "\r\nEnded:     2026-11-26T07:00:12.500000\r\n"));
	assert_non_null(strstr(msg, "\r\nDuration:  12.4 s\r\n"));
	assert_non_null(strstr(msg, "\r\nHost:      backup1\r\n"));
	assert_non_null(strstr(msg, "\r\nrsync: connection refused\r\nexit code 255\r\n"));
	assert_non_null(strstr(msg, "The backup job web on srv1 failed."));
	free(h);
	free(msg);

	msg = alert_format_mail(&sample, ALERT_RECOVERED, "a@b", to, T0, "x@y");
	assert_non_null(strstr(msg, "\r\nSubject: [tisbackup] web on srv1: RECOVERED\r\n"));
	assert_non_null(strstr(msg, "is OK again"));
	free(msg);
}

static void
test_format_mail_hostile(void **state)
{
	struct alert_run r = sample;
	char *to[] = { "ops@example.org\r\nBcc: evil@example.com", NULL };
	static const char mark[] = "\nEND-MARK\xff\xfe tail\r\n";
	char longlog[5000], *msg, *h;

	(void)state;
	/* 3000 bytes on one line, then a marker; 4 KiB of tail keep the marker. */
	memset(longlog, 'x', sizeof longlog);
	memcpy(longlog + 3000, mark, sizeof mark - 1);
	longlog[sizeof longlog - 1] = '\0';
	r.log = longlog;
	r.server = "srv\r\nX-Injected: yes";
	r.job = "d\xc3\xa9p\xc3\xb4t";
	msg = alert_format_mail(&r, ALERT_FAILED, "f@x\nBcc: evil@example.com", to, T0, "i@d");
	assert_wellformed(msg);
	h = headers_of(msg);
	assert_null(strstr(h, "\r\nX-Injected"));
	assert_null(strstr(h, "\r\nBcc:"));
	/* Non-ASCII subject: encoded words, nothing raw above 0x7f in the headers. */
	assert_non_null(strstr(h, "Subject: =?UTF-8?B?"));
	for (const char *c = h; *c != '\0'; c++)
		assert_true((unsigned char)*c < 0x80);
	/* "[tisbackup] dépôt on srv  X-Injected: yes: FAILED" as two encoded words. */
	assert_non_null(strstr(
	    h,
	    "=?UTF-8?B?W3Rpc2JhY2t1cF0gZMOpcMO0dCBvbiBzcnYgIFgtSW5qZWN0ZWQ6IHllczog?=\r\n =?UTF-8?B?RkFJTEVE?="));
	/* Body: the log's tail is bounded and invalid UTF-8 became '?'. */
	assert_non_null(strstr(msg, "END-MARK?? tail\r\n"));
	assert_non_null(strstr(msg, "Log (last 4 KiB):"));
	assert_true(strlen(msg) < 8000);
	free(h);
	free(msg);
}

static void
test_format_json(void **state)
{
	struct alert_run r = sample;
	json_error_t je;
	json_t *o;
	char *s;

	(void)state;
	r.log = "bad \xff byte\nline2";
	r.reminder = 1;
	s = alert_format_json(&r, ALERT_FAILED);
	o = json_loads(s, 0, &je);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "event")), "failed");
	assert_string_equal(json_string_value(json_object_get(o, "job")), "web");
	assert_string_equal(json_string_value(json_object_get(o, "server")), "srv1");
	assert_string_equal(json_string_value(json_object_get(o, "type")), "rsync+ssh");
	assert_string_equal(json_string_value(json_object_get(o, "status")), "ERROR");
	assert_string_equal(json_string_value(json_object_get(o, "previous_status")), "OK");
	assert_string_equal(json_string_value(json_object_get(o, "start")),
	                    "2026-11-26T07:00:00.123456");
	assert_string_equal(json_string_value(json_object_get(o, "end")),
	                    "2026-11-26T07:00:12.500000");
	assert_string_equal(json_string_value(json_object_get(o, "host")), "backup1");
	assert_string_equal(json_string_value(json_object_get(o, "log_tail")), "bad ? byte\nline2");
	assert_true(json_is_true(json_object_get(o, "reminder")));
	assert_true(json_real_value(json_object_get(o, "duration_s")) > 12.3);
	json_decref(o);
	free(s);

	r.prev_status = NULL;
	r.reminder = 0;
	s = alert_format_json(&r, ALERT_RECOVERED);
	o = json_loads(s, 0, &je);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "event")), "recovered");
	assert_true(json_is_null(json_object_get(o, "previous_status")));
	assert_true(json_is_false(json_object_get(o, "reminder")));
	json_decref(o);
	free(s);
}

/* The "changed" alert (alert_on_change): subject, the diff in body and JSON. */
static void
test_format_changed(void **state)
{
	char *to[] = { "ops@example.org", NULL };
	struct alert_run r = sample;
	json_error_t je;
	json_t *o;
	char *s;

	(void)state;
	r.status = "OK";
	r.changed = 1;
	r.previous = "20261203-00h00m00.cfg";
	r.detail = "--- a\n+++ b\n@@ -1 +1 @@\n-hostname old\n+hostname new\n";
	r.cut = 1;
	s = alert_format_mail(&r, ALERT_CHANGED, "a@b", to, T0, "x@y");
	assert_wellformed(s);
	assert_non_null(strstr(s, "\r\nSubject: [tisbackup] web on srv1: CHANGED\r\n"));
	assert_non_null(strstr(s, "\r\nX-Tisbackup-Event: changed\r\n"));
	assert_non_null(strstr(s, "differs from the previous one (20261203-00h00m00.cfg)"));
	assert_non_null(strstr(s, "\r\nChanges (cut short):\r\n--- a\r\n"));
	assert_non_null(strstr(s, "\r\n-hostname old\r\n+hostname new\r\n"));
	assert_null(strstr(s, "connection refused")); /* the diff, not the log */
	free(s);
	s = alert_format_json(&r, ALERT_CHANGED);
	o = json_loads(s, 0, &je);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "event")), "changed");
	assert_string_equal(json_string_value(json_object_get(o, "previous")),
	                    "20261203-00h00m00.cfg");
	assert_string_equal(json_string_value(json_object_get(o, "diff")), r.detail);
	assert_true(json_is_true(json_object_get(o, "diff_cut")));
	json_decref(o);
	free(s);
	/* other events carry no diff */
	s = alert_format_json(&r, ALERT_RECOVERED);
	o = json_loads(s, 0, &je);
	assert_null(json_object_get(o, "diff"));
	json_decref(o);
	free(s);
}

/* ---------------------------------------------------------------- catalog */

struct fixture {
	char dir[TB_TMPDIR_MAX];
	char *db;
	struct catalog *cat;
};

static int
setup(void **state)
{
	struct fixture *f = xcalloc(1, sizeof *f);

	if (tb_tmpdir_make(f->dir, sizeof f->dir, "alert") == -1)
		return -1;
	f->db = tb_catalog_new(f->dir, "tisbackup");
	if (catalog_open(f->db, CATALOG_RW, &f->cat, NULL) == -1)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	catalog_close(f->cat);
	tb_catalog_drop(f->db);
	tb_tmpdir_remove(f->dir);
	free(f);
	return 0;
}

static void
test_catalog_swap(void **state)
{
	struct fixture *f = *state;
	struct catalog *other;
	char *s;
	int64_t sent;
	int ok;

	assert_int_equal(catalog_alert_get(f->cat, "web", &s, &sent, NULL), 0);
	assert_null(s);
	assert_int_equal(sent, 0);
	/* Insert only when there is no row. */
	assert_int_equal(catalog_alert_swap(f->cat, "web", NULL, 0, "failed", 100, &ok, NULL), 0);
	assert_int_equal(ok, 1);
	assert_int_equal(catalog_alert_swap(f->cat, "web", NULL, 0, "failed", 101, &ok, NULL), 0);
	assert_int_equal(ok, 0);
	/* A second connection (another process) sees it and loses a stale swap. */
	assert_int_equal(catalog_open(f->db, CATALOG_RW, &other, NULL), 0);
	assert_int_equal(catalog_alert_get(other, "web", &s, &sent, NULL), 0);
	assert_string_equal(s, "failed");
	assert_int_equal(sent, 100);
	free(s);
	assert_int_equal(
	    catalog_alert_swap(other, "web", "failed", 100, "recovered", 200, &ok, NULL), 0);
	assert_int_equal(ok, 1);
	assert_int_equal(
	    catalog_alert_swap(f->cat, "web", "failed", 100, "recovered", 201, &ok, NULL), 0);
	assert_int_equal(ok, 0);
	catalog_close(other);
	/* Delete (roll back to "no row") only when it still matches. */
	assert_int_equal(catalog_alert_swap(f->cat, "web", "recovered", 201, NULL, 0, &ok, NULL),
	                 0);
	assert_int_equal(ok, 0);
	assert_int_equal(catalog_alert_swap(f->cat, "web", "recovered", 200, NULL, 0, &ok, NULL),
	                 0);
	assert_int_equal(ok, 1);
	assert_int_equal(catalog_alert_get(f->cat, "web", &s, &sent, NULL), 0);
	assert_null(s);
}

/* A Running row finished with status, started at start. Returns its rowid. */
static int64_t
add_row(struct catalog *cat, const char *start, const char *status)
{
	struct catalog_result res = { .status = status,
		                      .backup_end = start,
		                      .duration_hours = 0.001,
		                      .total_files_count = CATALOG_NULL,
		                      .written_files_count = CATALOG_NULL,
		                      .total_bytes = CATALOG_NULL,
		                      .written_bytes = CATALOG_NULL,
		                      .log = "boom" };
	int64_t rowid;

	assert_int_equal(
	    catalog_insert_running(cat, "web", "srv1", "", start, "BACKUP", NULL, &rowid, NULL), 0);
	assert_int_equal(catalog_finish(cat, rowid, &res, NULL), 0);
	return rowid;
}

static void
test_after_run_rollback(void **state)
{
	struct fixture *f = *state;
	struct guiconf *gc;
	struct alert_run r = sample;
	char *s;
	int64_t sent, rowid;
	int ok;

	log_set_stderr(0);
	assert_int_equal(guiconf_load("/nonexistent/gui.ini", 1, &gc, NULL), 0);
	/* Port 1 on loopback: connection refused at once. */
	gc->smtp_url = xstrdup("smtp://127.0.0.1:1");
	gc->mail_to[0] = NULL;
	free(gc->mail_to);
	gc->mail_to = xcalloc(2, sizeof *gc->mail_to);
	gc->mail_to[0] = xstrdup("ops@example.org");
	gc->nmail_to = 1;

	add_row(f->cat, "2026-11-26T06:00:00", "OK");
	rowid = add_row(f->cat, "2026-11-26T07:00:00", "ERROR");
	alert_after_run(gc, f->cat, rowid, &r, T0);
	assert_null(r.prev_status); /* only valid during the call */
	assert_int_equal(catalog_alert_get(f->cat, "web", &s, &sent, NULL), 0);
	assert_null(s); /* nothing sent: rolled back */

	/* With a stored "failed" state inside the interval, nothing is tried. */
	assert_int_equal(catalog_alert_swap(f->cat, "web", NULL, 0, "failed", T0 - 10, &ok, NULL),
	                 0);
	assert_int_equal(ok, 1);
	alert_after_run(gc, f->cat, rowid, &r, T0);
	assert_int_equal(catalog_alert_get(f->cat, "web", &s, &sent, NULL), 0);
	assert_string_equal(s, "failed");
	assert_int_equal(sent, T0 - 10);
	free(s);
	guiconf_free(gc);
	log_set_stderr(1);
}

/* A bad smtp_url is refused without echoing it (it may hold a password). */
static void
test_guiconf_keys(void **state)
{
	char dir[TB_TMPDIR_MAX];
	char *path;
	struct guiconf *gc = NULL;
	struct err err;
	FILE *f;

	(void)state;
	assert_int_equal(tb_tmpdir_make(dir, sizeof dir, "alert-gui"), 0);
	path = xasprintf("%s/gui.ini", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("[alerts]\nsmtp_url = ftp://user:hunter2@mail\n", f);
	fclose(f);
	err_clear(&err);
	assert_int_equal(guiconf_load(path, 0, &gc, &err), -1);
	assert_non_null(strstr(err.msg, "[alerts] smtp_url"));
	assert_null(strstr(err.msg, "hunter2"));

	f = fopen(path, "w");
	assert_non_null(f);
	fputs("[general]\nADMIN_EMAIL = root@example.org\n[alerts]\n"
	      "smtp_url = smtps://mail:465\nsmtp_user = u\nsmtp_password_file = /p\n"
	      "webhook_url = https://hook.example.org/x\n",
	      f);
	fclose(f);
	assert_int_equal(guiconf_load(path, 0, &gc, &err), 0);
	assert_int_equal(gc->nmail_to, 1);
	assert_string_equal(gc->mail_to[0], "root@example.org");
	assert_string_equal(gc->smtp_user, "u");
	assert_string_equal(gc->smtp_password_file, "/p");
	assert_int_equal(gc->alert_interval, 3600);
	guiconf_free(gc);
	assert_int_equal(tb_tmpdir_remove(dir), 0);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decide_table),
		cmocka_unit_test(test_decide_interval_zero),
		cmocka_unit_test(test_format_mail),
		cmocka_unit_test(test_format_mail_hostile),
		cmocka_unit_test(test_format_json),
		cmocka_unit_test(test_format_changed),
		cmocka_unit_test(test_guiconf_keys),
		cmocka_unit_test_setup_teardown(test_catalog_swap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_after_run_rollback, setup, teardown),
	};
	/* Against PostgreSQL (unit_pg_alert): the cases that use a catalog. */
	const struct CMUnitTest pg_tests[] = {
		cmocka_unit_test_setup_teardown(test_catalog_swap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_after_run_rollback, setup, teardown),
	};

	if (tb_catalog_pg_url() != NULL)
		return cmocka_run_group_tests_name("alert_pg", pg_tests, NULL, NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
