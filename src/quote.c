/*
 * Quoting for the only two string parsers our commands pass through: the
 * POSIX shell that sshd runs a remote command with, and the splitter rsync
 * applies to its -e option (rsync main.c, do_cmd(): words split on ' '
 * only; a ' or " opens a quote; inside it the same character doubled is one
 * literal, alone it closes the quote; every other byte is literal).
 *
 * Both quoters always quote, even words that would not need it: the output
 * is a little longer, but there is no "is this character special?" table
 * to get wrong.
 */
#include "quote.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Undo a failed partial append, so a word is either all there or absent. */
static int
quote_fail(struct buf *b, size_t len)
{
	b->len = len;
	if (b->data != NULL)
		b->data[len] = '\0';
	return -1;
}

int
quote_sh_word(struct buf *b, const char *word)
{
	size_t len = b->len;

	if (buf_putc(b, '\'') == -1)
		return quote_fail(b, len);
	for (const char *p = word; *p != '\0'; p++) {
		if (*p == '\'') {
			if (buf_puts(b, "'\\''") == -1)
				return quote_fail(b, len);
		} else if (buf_putc(b, *p) == -1)
			return quote_fail(b, len);
	}
	if (buf_putc(b, '\'') == -1)
		return quote_fail(b, len);
	return 0;
}

int
quote_rsh_word(struct buf *b, const char *word)
{
	size_t len = b->len;

	if (buf_putc(b, '\'') == -1)
		return quote_fail(b, len);
	for (const char *p = word; *p != '\0'; p++) {
		if (*p == '\'' && buf_putc(b, '\'') == -1)
			return quote_fail(b, len);
		if (buf_putc(b, *p) == -1)
			return quote_fail(b, len);
	}
	if (buf_putc(b, '\'') == -1)
		return quote_fail(b, len);
	return 0;
}

static char *
quote_argv(const char *const *argv, int (*quote)(struct buf *, const char *))
{
	struct buf b;

	buf_init(&b, SIZE_MAX / 2);
	for (size_t i = 0; argv[i] != NULL; i++) {
		if ((i > 0 && buf_putc(&b, ' ') == -1) || quote(&b, argv[i]) == -1) {
			fprintf(stderr, "tisbackup: command line too long\n");
			abort();
		}
	}
	return buf_steal(&b);
}

char *
quote_sh_argv(const char *const *argv)
{
	return quote_argv(argv, quote_sh_word);
}

char *
quote_rsh_argv(const char *const *argv)
{
	return quote_argv(argv, quote_rsh_word);
}
