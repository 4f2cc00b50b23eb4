/*
 * Dry-run display of commands (see dryrun.h). Only for the eyes and for a
 * paste into a shell: the commands themselves are always argv arrays.
 */
#include "dryrun.h"

#include <ctype.h>
#include <string.h>

#include "log.h"
#include "quote.h"

void
dryrun_word(struct buf *b, const char *w)
{
	const char *p;

	for (p = w; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("_./:@%+=,-", *p) == NULL)
			break;
	if (*w != '\0' && *p == '\0') {
		buf_puts(b, w);
		return;
	}
	if (strchr(w, '\'') != NULL && strpbrk(w, "$`\\\"!\n") == NULL) {
		buf_putc(b, '"');
		buf_puts(b, w);
		buf_putc(b, '"');
		return;
	}
	quote_sh_word(b, w);
}

void
dryrun_show_argv(const char *name, const char *const *argv)
{
	struct buf b;

	log_info(name, "dry run: would run:");
	buf_init(&b, 1 << 20);
	for (size_t i = 0; argv[i] != NULL; i++) {
		buf_reset(&b);
		dryrun_word(&b, argv[i]);
		log_info(name, "    %s%s", buf_str(&b), argv[i + 1] != NULL ? " \\" : "");
	}
	buf_free(&b);
}
