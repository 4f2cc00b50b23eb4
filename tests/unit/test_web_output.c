/*
 * What the web server writes: JSON strings escaped for JSON and for
 * embedding in HTML (invalid UTF-8 replaced), numbers and nulls, HTML
 * escaping, URL encoding, the embedded asset lookup refusing any name
 * that was not a file of src/web/static/, and the request input parsers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "web/form.h"
#include "web/html.h"
#include "web/json.h"
#include "web/static.h"

static char out[4096];

static const char *
js(const char *s)
{
	struct buf b;

	buf_init(&b, sizeof out - 1);
	json_str(&b, s);
	snprintf(out, sizeof out, "%s", buf_str(&b));
	buf_free(&b);
	return out;
}

static void
test_json_str(void **state)
{
	(void)state;
	assert_string_equal(js("plain"), "\"plain\"");
	assert_string_equal(js(NULL), "null");
	assert_string_equal(js("a\"b\\c"), "\"a\\\"b\\\\c\"");
	assert_string_equal(js("l1\nl2\tx\r"), "\"l1\\nl2\\tx\\r\"");
	assert_string_equal(js("\x01\x1f"), "\"\\u0001\\u001f\"");
	assert_string_equal(js("</script><b>&"), "\"\\u003c/script\\u003e\\u003cb\\u003e\\u0026\"");
	assert_string_equal(js("caf\xc3\xa9 \xe2\x82\xac"), "\"caf\xc3\xa9 \xe2\x82\xac\"");
	/* invalid UTF-8: a lone continuation byte, a truncated sequence, an overlong slash */
	assert_string_equal(js("a\x80z"), "\"a\\ufffdz\"");
	assert_string_equal(js("a\xc3"), "\"a\\ufffd\"");
	assert_string_equal(js("\xc0\xaf"), "\"\\ufffd\\ufffd\"");
	assert_string_equal(js("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");
	assert_string_equal(js("\xe2\x80\xa8"), "\"\\u2028\"");
}

static void
test_json_numbers(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	json_int(&b, 42);
	buf_putc(&b, ' ');
	json_int(&b, INT64_MIN);
	buf_putc(&b, ' ');
	json_num(&b, 0.1);
	buf_putc(&b, ' ');
	json_num(&b, NAN);
	buf_putc(&b, ' ');
	json_num(&b, 30.0);
	buf_putc(&b, ' ');
	json_time(&b, 0);
	assert_string_equal(buf_str(&b), "42 null 0.1 null 30 null");
	buf_free(&b);
}

/* API times: local ISO with the UTC offset, in winter and in summer. */
static void
test_json_times(void **state)
{
	struct buf b;

	(void)state;
	setenv("TZ", "Europe/Paris", 1);
	tzset();
	buf_init(&b, 1024);
	json_time(&b, 1764123657); /* 2025-11-26 02:20:57 UTC */
	buf_putc(&b, ' ');
	json_catalog_time(&b, "2026-07-01T12:00:00.123456");
	buf_putc(&b, ' ');
	json_catalog_time(&b, "2026-01-02 03:04:05");
	buf_putc(&b, ' ');
	json_catalog_time(&b, NULL);
	buf_putc(&b, ' ');
	json_catalog_time(&b, "not a time");
	assert_string_equal(buf_str(&b), "\"2025-11-26T03:20:57+01:00\" "
	                                 "\"2026-07-01T12:00:00.123456+02:00\" "
	                                 "\"2026-01-02T03:04:05+01:00\" null \"not a time\"");
	buf_free(&b);
	unsetenv("TZ");
	tzset();
}

static void
test_html(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	html_escape(&b, "<script>alert('x') & \"y\"</script>");
	assert_string_equal(buf_str(&b),
	                    "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;");
	buf_reset(&b);
	html_escape(&b, NULL);
	assert_string_equal(buf_str(&b), "");
	html_url_encode(&b, "/api/v1/jobs/a b?x=1&y=<\n");
	assert_string_equal(buf_str(&b), "/api/v1/jobs/a%20b%3Fx%3D1%26y%3D%3C%0A");
	buf_reset(&b);
	html_error_page(&b, 404, "no <job>");
	assert_non_null(strstr(buf_str(&b), "no &lt;job&gt;"));
	assert_null(strstr(buf_str(&b), "<job>"));
	buf_free(&b);
}

static void
test_static_lookup(void **state)
{
	const struct static_file *f;

	(void)state;
	f = static_find("index.html");
	assert_non_null(f);
	assert_string_equal(f->content_type, "text/html; charset=utf-8");
	assert_int_equal(strlen(f->etag), 18);
	assert_non_null(static_find("app.js"));
	assert_null(static_find("../index.html"));
	assert_null(static_find("./index.html"));
	assert_null(static_find("/index.html"));
	assert_null(static_find(""));
	assert_null(static_find("index.html/"));
	for (size_t i = 1; i < static_nfiles; i++)
		assert_true(strcmp(static_files[i - 1].path, static_files[i].path) < 0);
}

static void
test_form(void **state)
{
	static const char body[] = "username=al+ice&password=p%40ss%00&next=%2F%23x&bad=%zz%4";
	char path[] = "/static/..%2fx%00.html%41";
	char iso[32], *v;

	(void)state;
	v = form_get(body, strlen(body), "username");
	assert_string_equal(v, "al ice");
	free(v);
	v = form_get(body, strlen(body), "password");
	assert_string_equal(v, "p@ss%00");
	free(v);
	v = form_get(body, strlen(body), "next");
	assert_string_equal(v, "/#x");
	free(v);
	v = form_get(body, strlen(body), "bad");
	assert_string_equal(v, "%zz%4");
	free(v);
	assert_null(form_get(body, strlen(body), "user"));
	assert_int_equal(form_unescape(path), strlen("/static/../x%00.htmlA"));
	assert_string_equal(path, "/static/../x%00.htmlA");

	assert_int_equal(form_date("2026-02-28", 0, iso, sizeof iso), 0);
	assert_string_equal(iso, "2026-02-28T00:00:00");
	assert_int_equal(form_date("2026-02-28", 1, iso, sizeof iso), 0);
	assert_string_equal(iso, "2026-03-01T00:00:00");
	assert_int_equal(form_date("2026-12-31 23:59:59", 1, iso, sizeof iso), 0);
	assert_string_equal(iso, "2026-12-31T23:59:59");
	assert_int_equal(form_date("2026-12-31T08:00:00", 0, iso, sizeof iso), 0);
	assert_int_equal(form_date("2026-02-30", 0, iso, sizeof iso), -1);
	assert_int_equal(form_date("2026-13-01", 0, iso, sizeof iso), -1);
	assert_int_equal(form_date("2026-1-01", 0, iso, sizeof iso), -1);
	assert_int_equal(form_date("+026-01-01", 0, iso, sizeof iso), -1);
	assert_int_equal(form_date("2026-01-01 24:00:00", 0, iso, sizeof iso), -1);
	assert_int_equal(form_date("2026-01-01x00:00:00", 0, iso, sizeof iso), -1);
	assert_int_equal(form_date("yesterday", 0, iso, sizeof iso), -1);
	/* years outside 1000-9999 keep the catalog's shape, so text order is time order */
	assert_int_equal(form_date("0026-01-01", 0, iso, sizeof iso), 0);
	assert_string_equal(iso, "0026-01-01T00:00:00");
	assert_int_equal(form_date("0026-12-31T23:59:59", 0, iso, sizeof iso), 0);
	assert_string_equal(iso, "0026-12-31T23:59:59");
	assert_int_equal(form_date("0001-01-01", 1, iso, sizeof iso), 0);
	assert_string_equal(iso, "0001-01-02T00:00:00");
	assert_int_equal(form_date("9999-12-31", 1, iso, sizeof iso), 0);
	assert_true(strcmp(iso, "9999-12-31T23:59:59.999999") > 0);
	assert_int_equal(strlen(iso), 19);
	assert_int_equal(form_date("0000-01-01", 0, iso, sizeof iso), -1);
	/* too small a buffer is an error, never a cut string */
	assert_int_equal(form_date("2026-02-28", 0, iso, 19), -1);
	assert_string_equal(iso, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_str),      cmocka_unit_test(test_json_numbers),
		cmocka_unit_test(test_json_times),    cmocka_unit_test(test_html),
		cmocka_unit_test(test_static_lookup), cmocka_unit_test(test_form),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
