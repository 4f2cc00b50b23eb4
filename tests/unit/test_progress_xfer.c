/*
 * Transfer progress (progress_xfer.c): rsync --info=progress2 lines
 * parsed (with and without the file counters, grouped digits, lines that
 * only look alike refused), the estimate (from the previous run's size,
 * else from rsync's percentage), the words, and the report's outputs at
 * given instants: a log line per interval, the live line on a pipe
 * standing for the terminal, the state file written, read back, refused
 * when its writer is gone, and removed at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "log.h"
#include "progress_xfer.h"

#define SEC INT64_C(1000000000)

static void
test_parse(void **state)
{
	struct xfer_sample s;

	(void)state;
	assert_int_equal(
	    xfer_parse_rsync("    300,002  33%  210.46kB/s    0:00:01 (xfr#1, to-chk=2/4)", &s), 1);
	assert_int_equal(s.bytes, 300002);
	assert_int_equal(s.percent, 33);
	assert_int_equal(s.files, 1);
	assert_int_equal(s.to_check, 2);
	assert_int_equal(s.listed, 4);

	/* Inside a big file: no counters yet. */
	assert_int_equal(xfer_parse_rsync("         32,768   3%    0.00kB/s    0:00:00  ", &s), 1);
	assert_int_equal(s.bytes, 32768);
	assert_int_equal(s.percent, 3);
	assert_int_equal(s.files, -1);
	assert_int_equal(s.to_check, -1);

	/* While the file list grows: ir-chk; large counts grouped. */
	assert_int_equal(xfer_parse_rsync("  1,234,567,890  45%   12.34MB/s    0:01:02 (xfr#1,234, "
	                                  "ir-chk=1,000/20,000)",
	                                  &s),
	                 1);
	assert_int_equal(s.bytes, 1234567890);
	assert_int_equal(s.files, 1234);
	assert_int_equal(s.to_check, 1000);
	assert_int_equal(s.listed, 20000);

	/* Not progress lines. */
	assert_int_equal(xfer_parse_rsync("Number of files: 4 (reg: 3, dir: 1)", &s), 0);
	assert_int_equal(xfer_parse_rsync("sent 900,426 bytes  received 76 bytes", &s), 0);
	assert_int_equal(xfer_parse_rsync("rsync: 50% of something", &s), 0);
	assert_int_equal(xfer_parse_rsync("12 150% 1.0kB/s", &s), 0);
	assert_int_equal(xfer_parse_rsync("12 15% nothing", &s), 0);
	assert_int_equal(xfer_parse_rsync("", &s), 0);
	assert_int_equal(xfer_parse_rsync("99999999999999999999999 1% 1kB/s", &s), 0);
}

static void
test_estimate(void **state)
{
	struct xfer_sample s = { .bytes = 250, .percent = 10, .files = 3 };
	struct xfer_view v;
	char words[160];

	(void)state;
	/* From the previous run's 1000 bytes at 50 B/s: 25%, 15 s left. */
	xfer_estimate(&s, 1000, 50, &v);
	assert_int_equal(v.percent, 25);
	assert_int_equal(v.eta, 15);
	assert_int_equal(v.expect, 1000);

	/* Without a previous size: rsync's 10% means 2500 in all, 45 s left. */
	xfer_estimate(&s, 0, 50, &v);
	assert_int_equal(v.percent, 10);
	assert_int_equal(v.eta, 45);
	assert_int_equal(v.expect, 2500);

	/* Past the previous size: rsync's own percentage again. */
	xfer_estimate(&s, 200, 50, &v);
	assert_int_equal(v.percent, 10);
	/* Never 100% before the end on the previous size alone. */
	s.bytes = 999;
	xfer_estimate(&s, 1000, 0, &v);
	assert_int_equal(v.percent, 99);
	assert_int_equal(v.eta, -1); /* no rate yet */

	s = (struct xfer_sample){ .bytes = 1536, .percent = -1, .files = 1 };
	xfer_estimate(&s, 0, 0, &v);
	assert_int_equal(v.percent, -1);
	assert_int_equal(v.eta, -1);
	xfer_format(&v, words, sizeof words);
	assert_string_equal(words, "1.50K, 1 file");

	s = (struct xfer_sample){ .bytes = 3 << 20, .percent = 50, .files = 7 };
	xfer_estimate(&s, 0, 1 << 20, &v);
	xfer_format(&v, words, sizeof words);
	assert_string_equal(words, "3.00M, 7 files, 50%, 1.00M/s, ETA 0:00:03");
	v.eta = 3723;
	xfer_format(&v, words, sizeof words);
	assert_string_equal(words, "3.00M, 7 files, 50%, 1.00M/s, ETA 1:02:03");
}

/* Lines logged while a report runs (the log's stderr is a pipe here). */
static char *
drain(int fd)
{
	static char text[8192];
	ssize_t n = read(fd, text, sizeof text - 1);

	text[n > 0 ? n : 0] = '\0';
	return text;
}

static void
test_report(void **state)
{
	struct tb_tmpdir *t = *state;
	struct xfer_report r;
	struct xfer_sample s = { .bytes = 0, .percent = 0, .files = -1 };
	struct xfer_state st;
	char path[TB_TMPDIR_MAX + 16];
	int logp[2], ttyp[2], saved;
	int64_t t0 = SEC * 1000;
	char *text;

	assert_int_equal(pipe(logp), 0);
	assert_int_equal(pipe(ttyp), 0);
	saved = dup(STDERR_FILENO);
	dup2(logp[1], STDERR_FILENO);
	log_set_format(LOG_FORMAT_TEXT);

	xfer_report_open(&r, "job", t->path, 30, 1000, ttyp[1]);
	xfer_report_feed(&r, &s, t0);
	s.bytes = 100;
	xfer_report_feed(&r, &s, t0 + 10 * SEC);
	s.bytes = 300;
	s.files = 2;
	xfer_report_feed(&r, &s, t0 + 20 * SEC);
	/* Nothing logged before the interval. */
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	assert_int_equal(write(logp[1], "", 0), 0);
	close(logp[1]);
	text = drain(logp[0]);
	assert_null(strstr(text, "progress:"));
	close(logp[0]);

	/* The live line: drawn at each sample here (they are 10 s apart). */
	text = drain(ttyp[0]);
	assert_non_null(strstr(text, "\r\033[K[job] 0.00b, 0 files, 0%\r"));
	assert_non_null(
	    strstr(text, "\r\033[K[job] 300.00b, 2 files, 30%, 15.00b/s, ETA 0:00:47\r"));

	/* The state file, as the web reads it. */
	assert_int_equal(xfer_state_read(t->path, &st), 1);
	assert_int_equal(st.pid, getpid());
	assert_int_equal(st.v.bytes, 300);
	assert_int_equal(st.v.files, 2);
	assert_int_equal(st.v.percent, 30);
	assert_int_equal(st.v.eta, 47);
	assert_int_equal(st.v.expect, 1000);
	assert_true(st.updated >= st.started);

	/* At 30 s: a log line. */
	assert_int_equal(pipe(logp), 0);
	dup2(logp[1], STDERR_FILENO);
	s.bytes = 450;
	xfer_report_feed(&r, &s, t0 + 30 * SEC);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(logp[1]);
	text = drain(logp[0]);
	close(logp[0]);
	assert_non_null(
	    strstr(text, "INFO [job] progress: 450.00b, 2 files, 45%, 15.00b/s, ETA 0:00:37"));

	xfer_report_close(&r);
	text = drain(ttyp[0]);
	/* The 30 s line, then the wipe. */
	assert_string_equal(text, "\r\033[K[job] 450.00b, 2 files, 45%, 15.00b/s, ETA 0:00:37\r"
	                          "\r\033[K");
	snprintf(path, sizeof path, "%s/progress", t->path);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(xfer_state_read(t->path, &st), 0);
	xfer_report_close(&r); /* twice is fine */
	close(ttyp[0]);
	close(ttyp[1]);
	close(saved);
}

static void
test_state_dead_or_bad(void **state)
{
	struct tb_tmpdir *t = *state;
	struct xfer_state st;
	char path[TB_TMPDIR_MAX + 16];
	FILE *f;
	pid_t pid;

	snprintf(path, sizeof path, "%s/progress", t->path);
	/* Left by a process that is gone. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(0);
	waitpid(pid, NULL, 0);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "pid=%ld\nstarted=1\nupdated=2\nbytes=3\nfiles=-1\nrate=0\npercent=-1\neta=-1\n",
	        (long)pid);
	fclose(f);
	assert_int_equal(xfer_state_read(t->path, &st), 0);

	/* Malformed. */
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "pid=abc\nbytes=3\n");
	fclose(f);
	assert_int_equal(xfer_state_read(t->path, &st), 0);

	/* Ours, without the optional fields. */
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "pid=%ld\nstarted=1\nupdated=2\nbytes=3\n", (long)getpid());
	fclose(f);
	assert_int_equal(xfer_state_read(t->path, &st), 1);
	assert_int_equal(st.v.bytes, 3);
	assert_int_equal(st.v.percent, -1);
	assert_int_equal(st.v.expect, 0);
	assert_true(st.v.rate == 0);

	/* None. */
	unlink(path);
	assert_int_equal(xfer_state_read(t->path, &st), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_estimate),
		cmocka_unit_test_setup_teardown(test_report, tb_tmpdir_setup, tb_tmpdir_teardown),
		cmocka_unit_test_setup_teardown(test_state_dead_or_bad, tb_tmpdir_setup,
		                                tb_tmpdir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
