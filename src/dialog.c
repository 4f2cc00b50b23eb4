/*
 * The dialog engine (see dialog.h). Received bytes go through a small
 * terminal model: an escape-sequence parser, and the line being received
 * with a cursor (overwrite at the cursor, '\r' to column 0, '\b' back,
 * "erase in line"). A '\n' commits the line (trailing blanks dropped,
 * secrets masked) to the text the next dialog_expect() returns. Prompts
 * and pagers are looked for on the uncommitted line only.
 */
#include "dialog.h"

#include <errno.h>
#include <poll.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "progress.h"
#include "util/buf.h"
#include "util/strv.h"
#include "util/xmalloc.h"

#define DIALOG_DEFAULT_TIMEOUT 30
#define DIALOG_DEFAULT_MAX_OUTPUT ((size_t)16 << 20)
#define DIALOG_TRANSCRIPT_MAX ((size_t)1 << 20)
#define DIALOG_POLL_MS 1000
#define DIALOG_MASK "********"

const struct dialog_pager dialog_default_pagers[] = {
	{ "--More--", " " },
	{ "-- MORE --", " " },
	{ "<--- More --->", " " },
	{ "Press any key to continue", " " },
	{ NULL, NULL },
};

enum esc_state { ESC_NONE, ESC_START, ESC_CSI, ESC_OSC, ESC_OSC_ESC, ESC_CHARSET };

struct dialog {
	struct dialog_transport tr;
	int timeout_sec;
	char *eol;
	const struct dialog_pager *pagers;
	struct progress *progress;
	size_t max_output;
	int unmasked_output;
	struct buf text; /* committed lines since the last prompt */
	int text_over;   /* text passed max_output */
	char *line;      /* the line being received */
	size_t line_len, line_cap, cursor;
	enum esc_state esc;
	char csi[32];
	size_t csi_len;
	struct strv secrets;
	struct buf transcript;
	struct buf scratch;
};

/* --- the terminal model --------------------------------------------------------- */

/* s (len bytes) with every secret replaced by DIALOG_MASK, into out. */
static void
masked_append(struct dialog *d, struct buf *out, const char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t hit = 0;

		for (size_t k = 0; k < d->secrets.n; k++) {
			size_t sl = strlen(d->secrets.v[k]);

			if (sl > 0 && sl <= len - i && memcmp(s + i, d->secrets.v[k], sl) == 0) {
				hit = sl;
				break;
			}
		}
		if (hit > 0) {
			buf_puts(out, DIALOG_MASK);
			i += hit;
		} else
			buf_putc(out, s[i++]);
	}
}

static void
line_put(struct dialog *d, char c)
{
	if (d->cursor >= d->line_cap) {
		d->line_cap = d->line_cap * 2 + 128;
		d->line = xrealloc(d->line, d->line_cap);
	}
	while (d->line_len < d->cursor)
		d->line[d->line_len++] = ' ';
	d->line[d->cursor++] = c;
	if (d->cursor > d->line_len)
		d->line_len = d->cursor;
}

/* The current line without trailing blanks: its length. */
static size_t
line_trimmed(const struct dialog *d)
{
	size_t n = d->line_len;

	while (n > 0 && (d->line[n - 1] == ' ' || d->line[n - 1] == '\t'))
		n--;
	return n;
}

static void
line_commit(struct dialog *d)
{
	size_t n = line_trimmed(d);

	if (d->text.len + n + 1 > d->max_output)
		d->text_over = 1;
	else {
		if (d->unmasked_output)
			buf_append(&d->text, d->line, n);
		else
			masked_append(d, &d->text, d->line, n);
		buf_putc(&d->text, '\n');
	}
	if (d->transcript.len < DIALOG_TRANSCRIPT_MAX) {
		masked_append(d, &d->transcript, d->line, n);
		buf_putc(&d->transcript, '\n');
	}
	d->line_len = d->cursor = 0;
}

static void
line_clear(struct dialog *d)
{
	d->line_len = d->cursor = 0;
}

/* Parameter n of a CSI sequence (default def). */
static size_t
csi_param(const struct dialog *d, size_t def)
{
	size_t v = 0;
	int any = 0;

	for (size_t i = 0; i < d->csi_len && d->csi[i] >= '0' && d->csi[i] <= '9'; i++) {
		v = v * 10 + (size_t)(d->csi[i] - '0');
		any = 1;
		if (v > 10000)
			break;
	}
	return any ? v : def;
}

static void
csi_apply(struct dialog *d, char final)
{
	size_t n;

	switch (final) {
	case 'K': /* erase in line */
		n = csi_param(d, 0);
		if (n == 0) {
			if (d->line_len > d->cursor)
				d->line_len = d->cursor;
		} else if (n == 1) {
			for (size_t i = 0; i < d->cursor && i < d->line_len; i++)
				d->line[i] = ' ';
		} else
			d->line_len = 0;
		break;
	case 'D': /* cursor back */
		n = csi_param(d, 1);
		d->cursor = n > d->cursor ? 0 : d->cursor - n;
		break;
	case 'C': /* cursor forward */
		d->cursor += csi_param(d, 1);
		break;
	case 'G': /* cursor to column */
		n = csi_param(d, 1);
		d->cursor = n > 0 ? n - 1 : 0;
		break;
	case 'H': /* cursor to row;column (ProCurve: ESC[24;1H before a prompt): the column */
	case 'f': {
		const char *semi = memchr(d->csi, ';', d->csi_len);

		n = 0;
		for (const char *p = semi != NULL ? semi + 1 : d->csi + d->csi_len;
		     p < d->csi + d->csi_len && *p >= '0' && *p <= '9' && n < 10000; p++)
			n = n * 10 + (size_t)(*p - '0');
		d->cursor = n > 0 ? n - 1 : 0;
		break;
	}
	default: /* colours, modes, positioning on other rows: no text */
		break;
	}
	if (d->cursor > 10000)
		d->cursor = 10000;
}

/* Feed received bytes through the terminal model. */
static void
dialog_feed(struct dialog *d, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		switch (d->esc) {
		case ESC_START:
			d->esc = ESC_NONE;
			if (c == '[') {
				d->esc = ESC_CSI;
				d->csi_len = 0;
			} else if (c == ']')
				d->esc = ESC_OSC;
			else if (c == '(' || c == ')' || c == '#')
				d->esc = ESC_CHARSET;
			continue;
		case ESC_CSI:
			if (c >= 0x40 && c <= 0x7e) {
				csi_apply(d, (char)c);
				d->esc = ESC_NONE;
			} else if (d->csi_len < sizeof d->csi)
				d->csi[d->csi_len++] = (char)c;
			continue;
		case ESC_OSC:
			if (c == 0x07)
				d->esc = ESC_NONE;
			else if (c == 0x1b)
				d->esc = ESC_OSC_ESC;
			continue;
		case ESC_OSC_ESC:
			d->esc = c == '\\' ? ESC_NONE : ESC_OSC;
			continue;
		case ESC_CHARSET:
			d->esc = ESC_NONE;
			continue;
		case ESC_NONE:
			break;
		}
		if (c == 0x1b)
			d->esc = ESC_START;
		else if (c == '\n')
			line_commit(d);
		else if (c == '\r')
			d->cursor = 0;
		else if (c == '\b') {
			if (d->cursor > 0)
				d->cursor--;
		} else if (c == '\t' || (c >= 0x20 && c != 0x7f))
			line_put(d, (char)c);
		/* other control bytes (NUL, BEL, ...) show nothing */
	}
}

/* --- matching ------------------------------------------------------------------- */

/* Does the current line (trimmed) end with pattern i? -1 on a bad regex. */
static int
line_matches(struct dialog *d, const struct dialog_pattern *pat, const regex_t *re)
{
	size_t n = line_trimmed(d), pl;
	const char *t;

	if (!pat->regex) {
		t = pat->text;
		pl = strlen(t);
		while (pl > 0 && (t[pl - 1] == ' ' || t[pl - 1] == '\t'))
			pl--;
		return pl > 0 && pl <= n && memcmp(d->line + n - pl, t, pl) == 0;
	}
	buf_reset(&d->scratch);
	buf_append(&d->scratch, d->line, n);
	return regexec(re, buf_str(&d->scratch), 0, NULL, 0) == 0;
}

/* The pager on the current line, or NULL. */
static const struct dialog_pager *
line_pager(struct dialog *d)
{
	buf_reset(&d->scratch);
	buf_append(&d->scratch, d->line, d->line_len);
	for (const struct dialog_pager *pg = d->pagers; pg->text != NULL; pg++)
		if (strstr(buf_str(&d->scratch), pg->text) != NULL)
			return pg;
	return NULL;
}

/* The current line, masked, for a message (valid until the next call). */
static const char *
line_for_message(struct dialog *d)
{
	buf_reset(&d->scratch);
	masked_append(d, &d->scratch, d->line, line_trimmed(d));
	return buf_str(&d->scratch);
}

/* --- the API -------------------------------------------------------------------- */

struct dialog *
dialog_new(const struct dialog_transport *tr, const struct dialog_opts *o)
{
	struct dialog *d = xcalloc(1, sizeof *d);

	d->tr = *tr;
	d->timeout_sec = o->timeout_sec > 0 ? o->timeout_sec : DIALOG_DEFAULT_TIMEOUT;
	d->eol = xstrdup(o->eol != NULL ? o->eol : "\r\n");
	d->pagers = o->pagers != NULL ? o->pagers : dialog_default_pagers;
	d->progress = o->progress;
	d->max_output = o->max_output > 0 ? o->max_output : DIALOG_DEFAULT_MAX_OUTPUT;
	d->unmasked_output = o->unmasked_output;
	buf_init(&d->text, d->max_output * 2 + 64); /* masks may lengthen a line */
	buf_init(&d->transcript, DIALOG_TRANSCRIPT_MAX + 4096);
	buf_init(&d->scratch, (size_t)1 << 30);
	strv_init(&d->secrets);
	return d;
}

void
dialog_set_timeout(struct dialog *d, int timeout_sec)
{
	d->timeout_sec = timeout_sec > 0 ? timeout_sec : DIALOG_DEFAULT_TIMEOUT;
}

void
dialog_free(struct dialog *d)
{
	if (d == NULL)
		return;
	if (d->tr.close != NULL)
		d->tr.close(d->tr.t);
	for (size_t i = 0; i < d->secrets.n; i++)
		explicit_bzero(d->secrets.v[i], strlen(d->secrets.v[i]));
	strv_free(&d->secrets);
	buf_free(&d->text);
	buf_free(&d->transcript);
	buf_free(&d->scratch);
	free(d->line);
	free(d->eol);
	free(d);
}

int
dialog_expect(struct dialog *d, const struct dialog_pattern *pats, size_t n, size_t *which,
              char **out, struct err *err)
{
	regex_t *re = xcalloc(n > 0 ? n : 1, sizeof *re);
	int64_t deadline = progress_now() + (int64_t)d->timeout_sec * 1000000000;
	const struct dialog_pager *pg;
	char chunk[4096], why[128];
	size_t compiled = 0;
	int rc = -1, m;
	long got;

	if (out != NULL)
		*out = NULL;
	for (; compiled < n; compiled++) {
		char *anchored;
		int r;

		if (!pats[compiled].regex)
			continue;
		/* The prompt must end the line: "(PATTERN)" then blanks to the end. */
		anchored = xasprintf("(%s)[[:space:]]*$", pats[compiled].text);
		r = regcomp(&re[compiled], anchored, REG_EXTENDED | REG_NOSUB);
		free(anchored);
		if (r != 0) {
			regerror(r, &re[compiled], why, sizeof why);
			err_set(err, "prompt pattern '%s': %s", pats[compiled].text, why);
			goto out;
		}
	}
	for (;;) {
		if ((pg = line_pager(d)) != NULL) {
			line_clear(d); /* the pager's text is not output */
			if (dialog_send_raw(d, pg->key, strlen(pg->key), err) == -1)
				goto out;
			continue;
		}
		for (size_t i = 0; i < n; i++) {
			if ((m = line_matches(d, &pats[i], &re[i])) == 1) {
				if (which != NULL)
					*which = i;
				if (out != NULL)
					*out = buf_steal(&d->text);
				buf_reset(&d->text);
				if (d->transcript.len < DIALOG_TRANSCRIPT_MAX) {
					masked_append(d, &d->transcript, d->line, line_trimmed(d));
					buf_putc(&d->transcript, '\n');
				}
				line_clear(d);
				rc = 0;
				goto out;
			}
		}
		if (d->text_over) {
			err_set(err, "the device sent more than %zu bytes without a prompt",
			        d->max_output);
			goto out;
		}
		if (d->progress != NULL) {
			enum progress_state st = progress_check(d->progress, progress_now());

			if (st != PROGRESS_OK) {
				progress_describe(d->progress, st, why, sizeof why);
				err_set(err, "waiting for a prompt: %s", why);
				goto out;
			}
		}
		if (progress_now() >= deadline) {
			err_set(err, "no prompt after %d s; last line received: '%s'",
			        d->timeout_sec, line_for_message(d));
			goto out;
		}
		got = d->tr.recv(d->tr.t, chunk, sizeof chunk, DIALOG_POLL_MS, err);
		if (got == -1)
			goto out;
		if (got == -2) {
			err_set(err,
			        "the connection closed while waiting for a prompt; last line "
			        "received: '%s'",
			        line_for_message(d));
			goto out;
		}
		if (got > 0) {
			dialog_feed(d, chunk, (size_t)got);
			if (d->progress != NULL)
				progress_feed(d->progress, (uint64_t)got);
		}
	}
out:
	for (size_t i = 0; i < compiled; i++)
		if (pats[i].regex)
			regfree(&re[i]);
	free(re);
	return rc;
}

int
dialog_send_raw(struct dialog *d, const char *bytes, size_t len, struct err *err)
{
	return d->tr.send(d->tr.t, bytes, len, err);
}

static int
send_line(struct dialog *d, const char *line, struct err *err)
{
	if (d->tr.send(d->tr.t, line, strlen(line), err) == -1 ||
	    d->tr.send(d->tr.t, d->eol, strlen(d->eol), err) == -1)
		return -1;
	return 0;
}

int
dialog_send(struct dialog *d, const char *line, struct err *err)
{
	if (d->transcript.len < DIALOG_TRANSCRIPT_MAX) {
		buf_puts(&d->transcript, "> ");
		masked_append(d, &d->transcript, line, strlen(line));
		buf_putc(&d->transcript, '\n');
	}
	return send_line(d, line, err);
}

int
dialog_send_secret(struct dialog *d, const char *secret, struct err *err)
{
	if (!strv_contains(&d->secrets, secret))
		strv_push(&d->secrets, secret);
	if (d->transcript.len < DIALOG_TRANSCRIPT_MAX)
		buf_puts(&d->transcript, "> <secret>\n");
	return send_line(d, secret, err);
}

int
dialog_command(struct dialog *d, const char *cmd, const struct dialog_pattern *prompts, size_t n,
               char **out, struct err *err)
{
	char *text, *nl;
	size_t first, cl = strlen(cmd);

	*out = NULL;
	if (dialog_send(d, cmd, err) == -1 ||
	    dialog_expect(d, prompts, n, NULL, &text, err) == -1) {
		err_wrap(err, "command '%s'", cmd);
		return -1;
	}
	nl = strchr(text, '\n');
	first = nl != NULL ? (size_t)(nl - text) : strlen(text);
	if (cl > 0 && first >= cl && memcmp(text + first - cl, cmd, cl) == 0) {
		size_t skip = nl != NULL ? first + 1 : first;

		memmove(text, text + skip, strlen(text + skip) + 1);
	}
	*out = text;
	return 0;
}

const char *
dialog_transcript(struct dialog *d)
{
	return buf_str(&d->transcript);
}

/* --- descriptor transport ------------------------------------------------------- */

struct fd_tr {
	int rfd, wfd, close_fds;
};

static long
fd_recv(void *t, char *buf, size_t len, int timeout_ms, struct err *err)
{
	struct fd_tr *f = t;
	struct pollfd pfd = { .fd = f->rfd, .events = POLLIN };
	ssize_t n;
	int r;

	r = poll(&pfd, 1, timeout_ms);
	if (r == -1)
		return errno == EINTR ? 0 : (err_sys(err, errno, "waiting for the device"), -1);
	if (r == 0)
		return 0;
	n = read(f->rfd, buf, len);
	if (n > 0)
		return (long)n;
	if (n == 0 || errno == EIO || errno == ECONNRESET) /* EIO: a pty whose other side is gone */
		return -2;
	if (errno == EINTR || errno == EAGAIN)
		return 0;
	err_sys(err, errno, "reading from the device");
	return -1;
}

static int
fd_send(void *t, const char *buf, size_t len, struct err *err)
{
	struct fd_tr *f = t;
	ssize_t n;

	while (len > 0) {
		n = write(f->wfd, buf, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				struct pollfd pfd = { .fd = f->wfd, .events = POLLOUT };

				poll(&pfd, 1, DIALOG_POLL_MS);
				continue;
			}
			err_sys(err, errno, "writing to the device");
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
fd_close(void *t)
{
	struct fd_tr *f = t;

	if (f->close_fds) {
		close(f->rfd);
		if (f->wfd != f->rfd)
			close(f->wfd);
	}
	free(f);
}

struct dialog_transport
dialog_fd_transport(int rfd, int wfd, int close_fds)
{
	struct fd_tr *f = xmalloc(sizeof *f);
	struct dialog_transport tr = { fd_recv, fd_send, fd_close, NULL };

	f->rfd = rfd;
	f->wfd = wfd;
	f->close_fds = close_fds;
	tr.t = f;
	return tr;
}
