/*
 * Fuzz harness for quote.c. The input, split on NUL bytes, is a list of
 * words (a word cannot hold a NUL). Each word and the whole list are
 * quoted both ways and parsed back by reference parsers written here: a
 * strict POSIX-shell subset (only what sh single quoting may produce is
 * accepted) and a copy of rsync's -e splitter. Any difference aborts. The
 * limit path is checked too: a buffer one byte short must refuse the word
 * and stay unchanged.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "quote.h"
#include "util/buf.h"
#include "util/strv.h"
#include "util/xmalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/*
 * Split a command line the way sh would, for the only constructs sh
 * single quoting produces: words separated by spaces, '...' literal runs,
 * and \' outside quotes. Anything else unquoted is an error, since it
 * would mean a character reached the shell unprotected.
 */
static int
sh_split(const char *s, struct strv *out)
{
	struct buf w;
	int in_word = 0, rv = -1;

	strv_init(out);
	buf_init(&w, SIZE_MAX / 2);
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == ' ') {
			if (in_word)
				strv_push(out, buf_str(&w));
			buf_reset(&w);
			in_word = 0;
			continue;
		}
		in_word = 1;
		if (*p == '\'') {
			for (p++; *p != '\'' && *p != '\0'; p++)
				buf_putc(&w, *p);
			if (*p == '\0')
				goto out;
		} else if (*p == '\\' && p[1] == '\'')
			buf_putc(&w, *++p);
		else
			goto out;
	}
	if (in_word)
		strv_push(out, buf_str(&w));
	rv = 0;
out:
	buf_free(&w);
	return rv;
}

/* rsync main.c do_cmd(): the -e splitter, as rsync has it. */
static int
rsync_split(const char *cmd, struct strv *out)
{
	char *copy = xstrdup(cmd), *t, *f, *start, in_quote = '\0';
	int rv = -1;

	strv_init(out);
	for (t = f = copy; *f; f++) {
		if (*f == ' ')
			continue;
		start = t;
		while (*f != ' ' || in_quote) {
			if (!*f) {
				if (in_quote)
					goto out;
				f--;
				break;
			}
			if (*f == '\'' || *f == '"') {
				if (!in_quote) {
					in_quote = *f++;
					continue;
				}
				if (*f == in_quote && *++f != in_quote) {
					in_quote = '\0';
					continue;
				}
			}
			*t++ = *f++;
		}
		*t++ = '\0';
		strv_push(out, start);
	}
	rv = 0;
out:
	free(copy);
	return rv;
}

static void
check_same(const struct strv *got, const struct strv *want)
{
	CHECK(got->n == want->n);
	for (size_t i = 0; i < want->n; i++)
		CHECK(strcmp(got->v[i], want->v[i]) == 0);
}

/* Quote one word; parse it back; check the limit behaviour at the edge. */
static void
check_word(const char *word, int (*quote)(struct buf *, const char *),
           int (*split)(const char *, struct strv *), size_t need)
{
	struct strv v;
	struct buf b;

	buf_init(&b, need);
	CHECK(quote(&b, word) == 0);
	CHECK(b.len == need);
	CHECK(split(buf_str(&b), &v) == 0);
	CHECK(v.n == 1 && strcmp(v.v[0], word) == 0);
	strv_free(&v);
	buf_free(&b);

	buf_init(&b, need - 1 + 2);
	CHECK(buf_puts(&b, "x ") == 0);
	CHECK(quote(&b, word) == -1);
	CHECK(b.len == 2 && strcmp(buf_str(&b), "x ") == 0);
	buf_free(&b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strv words, v;
	size_t len, quotes;
	char *copy, *start, *line;

	copy = xmalloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = '\0';
	strv_init(&words);
	start = copy;
	for (size_t i = 0; i <= size; i++) {
		if (copy[i] == '\0') {
			strv_push(&words, start);
			start = copy + i + 1;
		}
	}

	for (size_t i = 0; i < words.n; i++) {
		len = strlen(words.v[i]);
		quotes = 0;
		for (size_t k = 0; k < len; k++)
			quotes += words.v[i][k] == '\'';
		check_word(words.v[i], quote_sh_word, sh_split, 2 + len + 3 * quotes);
		check_word(words.v[i], quote_rsh_word, rsync_split, 2 + len + quotes);
	}

	line = quote_sh_argv((const char *const *)strv_argv(&words));
	CHECK(sh_split(line, &v) == 0);
	check_same(&v, &words);
	strv_free(&v);
	free(line);

	line = quote_rsh_argv((const char *const *)strv_argv(&words));
	CHECK(rsync_split(line, &v) == 0);
	check_same(&v, &words);
	strv_free(&v);
	free(line);

	strv_free(&words);
	free(copy);
	return 0;
}
