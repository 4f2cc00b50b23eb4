/*
 * The switch driver's pure parts (drivers/switch_models.c): the VT100
 * stripper (CSI, OSC, charset selection, ESC E, CR/CRLF, NUL, trailing
 * blanks), the cleaning of a command's output (pager leftovers, the
 * model's header lines, blank lines at both ends), the end-marker and
 * banner checks, the model table (every model is complete; the original's
 * switch_type names and the new names find the right model, any case)
 * and the driver's layout (STAMP.cfg, the original's NAME-STAMP.txt,
 * staging names).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "drivers/driver.h"
#include "drivers/switch.h"
#include "util/timefmt.h"

static void
check_strip_len(const char *in, size_t len, const char *want)
{
	char *got = switch_strip_vt100(in, len);

	assert_string_equal(got, want);
	free(got);
}

/* A string literal, NUL bytes included. */
#define check_strip(lit, want) check_strip_len(lit, sizeof(lit) - 1, want)

static void
test_strip_vt100(void **state)
{
	(void)state;
	check_strip("plain\r\nline  \r\n", "plain\nline\n");
	check_strip("\x1b[24;1H\x1b[2KProCurve# \x1b[?25h", "ProCurve#\n");
	check_strip("\x1b]0;title\x07text\n", "text\n");
	check_strip("\x1b]0;title\x1b\\text\n", "text\n");
	check_strip("\x1b(Bcharset\n", "charset\n");
	check_strip("one\x1b"
	            "Etwo\n",
	            "one\ntwo\n");
	check_strip("-- MORE --\rnext line\r\n", "next line\n");
	check_strip("a\0b\x07"
	            "c\n",
	            "abc\n");
	check_strip("lone\r\rCR\n", "lone\nCR\n");
	check_strip("overwritten\rnew\n", "new\n");
	check_strip("tab\tkept\t\n", "tab\tkept\n");
	check_strip("cut at the end\x1b[", "cut at the end\n");
	check_strip("\x1b", "");
	check_strip("", "");
}

static void
check_clean(const char *model, const char *in, const char *want)
{
	const struct switch_model *m = model != NULL ? switch_model_find(model) : NULL;
	char *got = switch_clean_output(m, in);

	assert_string_equal(got, want);
	free(got);
}

static void
test_clean_output(void **state)
{
	(void)state;
	/* IOS: its header lines and blank lines at the head go, the config stays */
	check_clean("ios",
	            "Building configuration...\n\nCurrent configuration : 1502 bytes\n!\n"
	            "hostname Switch\n banner #1 here\nend\n\n\n",
	            "!\nhostname Switch\n banner #1 here\nend\n");
	/* a header line further down is configuration, not a header */
	check_clean("ios", "!\nBuilding configuration...\nend\n",
	            "!\nBuilding configuration...\nend\n");
	/* pager leftovers go wherever they are */
	check_clean("procurve",
	            "\nStartup configuration:\n\n; J4813A #F.05.72\n-- MORE --, next page: Space\n"
	            "vlan 1\n",
	            "; J4813A #F.05.72\nvlan 1\n");
	check_clean("junos", "a\n---(more 50%)---\nb\n", "a\nb\n");
	/* internal blank lines stay */
	check_clean(NULL, "\n\na\n\nb\n\n", "a\n\nb\n");
	check_clean(NULL, "\n \n\t\n", "");
	check_clean(NULL, "", "");
	/* RouterOS: the export's date line goes, so unchanged configs compare equal */
	check_clean("routeros",
	            "# dec/04/2026 20:00:00 by RouterOS 6.49.7\n# software id = X\n/ip\n",
	            "# software id = X\n/ip\n");
}

static void
test_check_config(void **state)
{
	const struct switch_model *ios = switch_model_find("CISCO");
	const struct switch_model *dgs = switch_model_find("DLINK-DGS1510");
	const struct switch_model *pc = switch_model_find("HP-PROCURVE-2524");
	struct err err = { 0 };
	char ok[] = "!\nhostname x\nend\n", cut[] = "!\nhostname x\n", empty[] = "";
	char endish[] = "!\nbackend\n";
	char banners[] = "#---\n# DGS\n#---\n\n# DEVICE\nconfigure terminal\n\n#---\n"
	                 "# End of configuration file\n#---\n";
	char nomark[] = "#---\n# DGS\n#---\nconf\n#---\n";

	(void)state;
	assert_int_equal(switch_check_config(ios, ok, &err), 0);
	assert_int_equal(switch_check_config(ios, cut, &err), -1);
	assert_non_null(strstr(err.msg, "'end'"));
	assert_int_equal(switch_check_config(ios, endish, &err), -1);
	assert_int_equal(switch_check_config(pc, empty, &err), -1);
	assert_non_null(strstr(err.msg, "empty"));
	assert_int_equal(switch_check_config(dgs, banners, &err), 0);
	assert_string_equal(banners, "# DEVICE\nconfigure terminal\n");
	assert_int_equal(switch_check_config(dgs, nomark, &err), -1);
}

static void
test_models(void **state)
{
	static const struct {
		const char *name, *model;
	} aliases[] = {
		{ "HP-PROCURVE-4104GL", "procurve" },
		{ "HP-PROCURVE-2524", "procurve" },
		{ "aruba", "procurve" },
		{ "CISCO", "ios" },
		{ "cisco", "ios" },
		{ "LINKSYS-SRW2024", "linksyssrw" },
		{ "DLINK-DGS1510", "dlinknextgen" },
		{ "DLINK-DGS1210", "dgs1210" },
		{ "mikrotik", "routeros" },
		{ "Juniper", "junos" },
		{ "IOS", "ios" },
	};
	enum switch_proto p;

	(void)state;
	for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
		const struct switch_model *m = switch_model_find(aliases[i].name);

		assert_non_null(m);
		assert_string_equal(m->name, aliases[i].model);
	}
	assert_null(switch_model_find("HP-PROCURVE"));
	assert_null(switch_model_find("CISC"));
	assert_null(switch_model_find(""));
	assert_null(switch_model_find(NULL));
	/* every model is complete: a CLI model has a prompt and a command */
	for (const struct switch_model *m = switch_models; m->name != NULL; m++) {
		assert_true(m->protos & m->def_proto);
		if (m->protos == SWITCH_HTTP)
			continue;
		assert_non_null(m->prompt);
		assert_non_null(m->commands[0]);
		assert_true((m->user_mode == NULL) == (m->user_mode_cmd == NULL));
		assert_true((m->menu_prompt == NULL) == (m->menu_key == NULL));
		assert_true((m->pager_text == NULL) == (m->pager_key == NULL));
	}
	/* ssh reaches at least these */
	assert_true(switch_model_find("ios")->protos & SWITCH_SSH);
	assert_true(switch_model_find("procurve")->protos & SWITCH_SSH);
	assert_true(switch_model_find("routeros")->protos & SWITCH_SSH);
	assert_true(switch_model_find("junos")->protos & SWITCH_SSH);
	assert_int_equal(switch_proto_parse("SSH", &p), 0);
	assert_int_equal(p, SWITCH_SSH);
	assert_int_equal(switch_proto_parse("ftp", &p), -1);
	assert_string_equal(switch_proto_name(SWITCH_HTTP), "http");
}

static void
test_layout(void **state)
{
	const struct driver *drv = driver_find("switch");
	const struct drv_layout *l;
	char stamp[TIME_STAMP_LEN + 1];

	(void)state;
	assert_non_null(drv);
	assert_true(drv->caps & DRV_CAP_FILE);
	l = driver_layout(drv);
	assert_int_equal(l->classify("20261204-20h41m16.cfg", stamp), DRV_ENTRY_FINAL);
	assert_string_equal(stamp, "20261204-20h41m16");
	assert_int_equal(l->classify("20261204-20h41m16.bin", stamp), DRV_ENTRY_FINAL);
	assert_int_equal(l->classify("sw1-20250101-10h00m00.txt", stamp), DRV_ENTRY_FINAL);
	assert_string_equal(stamp, "20250101-10h00m00");
	assert_int_equal(l->classify("20261204-20h41m16.cfg.partial", stamp), DRV_ENTRY_STAGING);
	assert_int_equal(l->classify("-20250101-10h00m00.txt", stamp), DRV_ENTRY_OTHER);
	assert_int_equal(l->classify("x20250101-10h00m00.cfg", stamp), DRV_ENTRY_OTHER);
	assert_int_equal(l->classify("20261304-20h41m16.cfg", stamp), DRV_ENTRY_OTHER);
	assert_int_equal(l->classify("notes.cfg", stamp), DRV_ENTRY_OTHER);
	assert_int_equal(l->classify("20261204-20h41m16", stamp), DRV_ENTRY_OTHER);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_strip_vt100),  cmocka_unit_test(test_clean_output),
		cmocka_unit_test(test_check_config), cmocka_unit_test(test_models),
		cmocka_unit_test(test_layout),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
