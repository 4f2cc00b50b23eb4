/*
 * Fuzz harness for what a switch says: the bytes go through dialog.c's
 * terminal model (over a pipe, answering pagers into /dev/null, each
 * prompt "NAME#" ending a capture), then through the switch driver's
 * cleaning (switch_clean_output() and switch_check_config() for every
 * model) and, directly, through switch_strip_vt100(). Checked: no escape,
 * CR or NUL survives the stripper and no line ends with a blank; a
 * cleaned output is empty or ends with one '\n' and starts with no blank
 * line; the checks never read outside the string.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dialog.h"
#include "drivers/switch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* A pipe holds 64 KiB: the input is written whole before the dialog reads. */
#define MAX_INPUT 60000

static void
check_stripped(const char *s)
{
	size_t len = strlen(s);

	CHECK(strchr(s, '\x1b') == NULL);
	CHECK(strchr(s, '\r') == NULL);
	for (size_t i = 0; i < len; i++)
		if (s[i] == '\n' && i > 0)
			CHECK(s[i - 1] != ' ' && s[i - 1] != '\t');
	CHECK(len == 0 || s[len - 1] == '\n');
}

static void
check_cleaning(const char *out)
{
	for (const struct switch_model *m = switch_models; m->name != NULL; m++) {
		char *c = switch_clean_output(m, out);
		size_t len = strlen(c);
		struct err err = { 0 };

		check_stripped(c);
		CHECK(len == 0 || c[0] != '\n');
		CHECK(len < 2 || !(c[len - 1] == '\n' && c[len - 2] == '\n'));
		if (m->protos != SWITCH_HTTP && switch_check_config(m, c, &err) == 0)
			CHECK(strlen(c) <= len);
		free(c);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dialog_pattern prompt = { "^[[:alnum:]_.-]+#", 1 };
	struct dialog_opts o = { .timeout_sec = 1, .unmasked_output = 1 };
	struct dialog_transport tr;
	struct dialog *d;
	struct err err = { 0 };
	char *s, *out;
	int p[2], null;

	if (size > MAX_INPUT)
		size = MAX_INPUT;
	s = switch_strip_vt100((const char *)data, size);
	check_stripped(s);
	free(s);

	if (pipe(p) == -1 || (null = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1)
		abort();
	CHECK(write(p[1], data, size) == (ssize_t)size);
	close(p[1]);
	tr = dialog_fd_transport(p[0], null, 1);
	d = dialog_new(&tr, &o);
	for (int i = 0; i < 64 && dialog_expect(d, &prompt, 1, NULL, &out, &err) == 0; i++) {
		check_cleaning(out);
		free(out);
	}
	dialog_free(d);
	return 0;
}
