/*
 * exclude_list parsing (see exclude.h). The original eval()s the quoted
 * form as Python, so a configuration value could run code; here it is a
 * small grammar read as data:
 *
 *   list := ws [ item { ws ',' ws item } [ ws ',' ] ] ws
 *   item := '"' chars '"' | '\'' chars '\''
 *
 * with \\, \" and \' escapes inside quotes (any other backslash is kept
 * as written, backslash included: "\.bak" is the four characters). An
 * empty item ("") adds no pattern, so `exclude_list = ""` keeps meaning
 * "nothing excluded".
 *
 * The legacy form (a value containing "--exclude" that does not start
 * with a quote) is a whitespace-separated list of "--exclude=X" and
 * "--exclude X" options; one pair of quotes around X is removed. Unlike
 * the original, a word that belongs to no --exclude is an error rather
 * than silently becoming a pattern.
 *
 * Positions in messages are 1-based character offsets into the value.
 */
#include "exclude.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"

#define EXCL_OPT "--exclude"
#define EXCL_OPT_LEN (sizeof(EXCL_OPT) - 1)

static int
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

/* A printable rendering of c for messages: 'c' or byte 0xNN, into out[16]. */
static const char *
show_char(char c, char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char u = (unsigned char)c;

	if (u >= 0x20 && u < 0x7f) {
		out[0] = '\'';
		out[1] = c;
		out[2] = '\'';
		out[3] = '\0';
	} else {
		memcpy(out, "byte 0x", 7);
		out[7] = hex[u >> 4];
		out[8] = hex[u & 0xf];
		out[9] = '\0';
	}
	return out;
}

/*
 * Read the quoted item whose opening quote is s[*pos] into tmp (unless
 * it is empty) and advance *pos past its closing quote.
 */
static int
parse_quoted(const char *s, size_t *pos, struct strv *tmp, struct err *err)
{
	size_t start = *pos, i = *pos + 1, n = 0;
	char q = s[start];
	char *p = xmalloc(strlen(s + i) + 1);
	int rc = -1;

	for (;;) {
		char c = s[i];

		if (c == '\0') {
			err_set(err, "unterminated %s quote starting at character %zu",
			        q == '"' ? "double" : "single", start + 1);
			goto out;
		}
		if (c == q) {
			i++;
			break;
		}
		if (c == '\\' && (s[i + 1] == '\\' || s[i + 1] == '"' || s[i + 1] == '\'')) {
			p[n++] = s[i + 1];
			i += 2;
			continue;
		}
		p[n++] = c;
		i++;
	}
	p[n] = '\0';
	if (n > 0)
		strv_push(tmp, p);
	*pos = i;
	rc = 0;
out:
	free(p);
	return rc;
}

/* The quoted comma list form. */
static int
parse_list(const char *s, struct strv *tmp, struct err *err)
{
	size_t i = 0;
	char show[16];

	for (;;) {
		/* Expecting an item (or the end, after a trailing comma). */
		while (is_ws(s[i]))
			i++;
		if (s[i] == '\0')
			return 0;
		if (s[i] != '"' && s[i] != '\'') {
			err_set(err,
			        "unexpected %s at character %zu: patterns must be quoted "
			        "(\"/proc/**\",\"/sys/**\")",
			        show_char(s[i], show), i + 1);
			return -1;
		}
		if (parse_quoted(s, &i, tmp, err) == -1)
			return -1;
		/* Expecting a comma or the end. */
		while (is_ws(s[i]))
			i++;
		if (s[i] == '\0')
			return 0;
		if (s[i] != ',') {
			err_set(err, "expected ',' at character %zu, found %s", i + 1,
			        show_char(s[i], show));
			return -1;
		}
		i++;
	}
}

/*
 * Strip one pair of matching quotes around the pattern p[0..*len) in
 * place. -1 when only one side has a quote.
 */
static int
strip_quotes(const char **p, size_t *len)
{
	const char *s = *p;
	size_t n = *len;
	int lead = n > 0 && (s[0] == '"' || s[0] == '\'');
	int trail = n > 1 && lead && s[n - 1] == s[0];

	if (lead && !trail)
		return -1;
	if (!lead && n > 0 && (s[n - 1] == '"' || s[n - 1] == '\''))
		return -1;
	if (lead) {
		*p = s + 1;
		*len = n - 2;
	}
	return 0;
}

/* Push the legacy pattern tok[0..len) (token at 1-based position at). */
static int
push_legacy(const char *tok, size_t len, size_t at, struct strv *tmp, struct err *err)
{
	char *pat;

	if (strip_quotes(&tok, &len) == -1) {
		err_set(err, "unbalanced quote in the pattern at character %zu", at);
		return -1;
	}
	if (len == 0) {
		err_set(err, "empty pattern at character %zu", at);
		return -1;
	}
	pat = xstrndup(tok, len);
	strv_push(tmp, pat);
	free(pat);
	return 0;
}

/* The legacy "--exclude X --exclude=Y" form. */
static int
parse_legacy(const char *s, struct strv *tmp, struct err *err)
{
	size_t i = 0;

	for (;;) {
		size_t start, len;

		while (is_ws(s[i]))
			i++;
		if (s[i] == '\0')
			return 0;
		start = i;
		while (s[i] != '\0' && !is_ws(s[i]))
			i++;
		len = i - start;
		if (len == EXCL_OPT_LEN && strncmp(s + start, EXCL_OPT, len) == 0) {
			size_t pstart;

			while (is_ws(s[i]))
				i++;
			pstart = i;
			while (s[i] != '\0' && !is_ws(s[i]))
				i++;
			if (i == pstart || strncmp(s + pstart, "--", 2) == 0) {
				err_set(err, "'--exclude' at character %zu has no pattern",
				        start + 1);
				return -1;
			}
			if (push_legacy(s + pstart, i - pstart, pstart + 1, tmp, err) == -1)
				return -1;
		} else if (len > EXCL_OPT_LEN &&
		           strncmp(s + start, EXCL_OPT "=", EXCL_OPT_LEN + 1) == 0) {
			if (push_legacy(s + start + EXCL_OPT_LEN + 1, len - EXCL_OPT_LEN - 1,
			                start + 1, tmp, err) == -1)
				return -1;
		} else {
			err_set(err,
			        "unexpected '%.*s' at character %zu: the legacy form is "
			        "only --exclude PATTERN or --exclude=PATTERN options",
			        (int)(len > 64 ? 64 : len), s + start, start + 1);
			return -1;
		}
	}
}

int
exclude_parse(const char *value, struct strv *out, struct err *err)
{
	struct strv tmp;
	size_t i = 0;
	int rc = -1;

	strv_init(&tmp);
	if (value == NULL)
		return 0;
	while (is_ws(value[i]))
		i++;
	if (value[i] != '"' && value[i] != '\'' && strstr(value, EXCL_OPT) != NULL)
		rc = parse_legacy(value, &tmp, err);
	else
		rc = parse_list(value, &tmp, err);
	if (rc == -1)
		goto out;
	for (size_t k = 0; k < tmp.n; k++)
		strv_push(out, tmp.v[k]);
out:
	strv_free(&tmp);
	return rc;
}
