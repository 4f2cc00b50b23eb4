/*
 * Transfer progress of a run (see progress_xfer.h): the rsync progress2
 * parser, the estimate, and the report's three outputs (a live terminal
 * line, a log line per interval, the state file the web server reads).
 */
#include "progress_xfer.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "progress.h"
#include "util/buf.h"
#include "util/fmt.h"
#include "util/xmalloc.h"
#include "util/fsutil.h"

#define NSEC_PER_SEC INT64_C(1000000000)
#define TTY_EVERY (NSEC_PER_SEC / 2) /* the live line is redrawn at most this often */
#define STATE_EVERY NSEC_PER_SEC     /* the state file is replaced at most this often */
#define STATE_NAME "progress"
#define STATE_MAX 1024 /* a state file is a few short lines */

static const char *
skip_spaces(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* The value after key ("xfr#", "to-chk=") in s, up to end; -1 when absent. */
static int64_t
field_after(const char *s, const char *key, const char **rest)
{
	const char *p = strstr(s, key);
	int64_t v;

	if (p == NULL)
		return -1;
	p += strlen(key);
	if (fmt_parse_grouped(&p, &v) == -1)
		return -1;
	if (rest != NULL)
		*rest = p;
	return v;
}

int
xfer_parse_rsync(const char *line, struct xfer_sample *out)
{
	const char *p = skip_spaces(line), *q;
	int64_t bytes, pct;

	if (fmt_parse_grouped(&p, &bytes) == -1 || *p != ' ')
		return 0;
	p = skip_spaces(p);
	if (fmt_parse_grouped(&p, &pct) == -1 || *p != '%' || pct > 100)
		return 0;
	p = skip_spaces(p + 1);
	/* The rate: "1.23MB/s", "0.00kB/s". */
	if (!isdigit((unsigned char)*p) || (q = strstr(p, "B/s")) == NULL)
		return 0;
	memset(out, 0, sizeof *out);
	out->bytes = (uint64_t)bytes;
	out->percent = (int)pct;
	out->files = field_after(q, "xfr#", NULL);
	out->to_check = -1;
	out->listed = -1;
	/* to-chk=A/B once the file list is complete, ir-chk=A/B while it grows. */
	{
		const char *rest = NULL;
		int64_t a = field_after(q, "to-chk=", &rest);

		if (a == -1)
			a = field_after(q, "ir-chk=", &rest);
		if (a != -1 && rest != NULL && *rest == '/') {
			const char *b = rest + 1;
			int64_t v;

			if (fmt_parse_grouped(&b, &v) == 0) {
				out->to_check = a;
				out->listed = v;
			}
		}
	}
	return 1;
}

void
xfer_estimate(const struct xfer_sample *s, uint64_t expected, double rate, struct xfer_view *v)
{
	memset(v, 0, sizeof *v);
	v->bytes = s->bytes;
	v->files = s->files;
	v->rate = rate > 0 ? rate : 0;
	v->percent = -1;
	v->eta = -1;
	if (expected > 0 && s->bytes < expected) {
		v->expect = expected;
		v->percent = (int)(s->bytes * 100 / expected);
		if (v->percent > 99)
			v->percent = 99;
		if (v->rate > 0)
			v->eta = (long)((double)(expected - s->bytes) / v->rate + 0.5);
	} else if (s->percent >= 100) {
		v->percent = 100;
		v->eta = 0;
	} else if (s->percent > 0) {
		uint64_t total = s->bytes / (uint64_t)s->percent * 100;

		v->percent = s->percent;
		if (total > s->bytes) {
			v->expect = total;
			if (v->rate > 0)
				v->eta = (long)((double)(total - s->bytes) / v->rate + 0.5);
		}
	}
}

void
xfer_format(const struct xfer_view *v, char *out, size_t outsz)
{
	char bytes[32], rate[32], files[32] = "", pct[16] = "", speed[48] = "";

	fmt_bytes((double)v->bytes, bytes, sizeof bytes);
	if (v->files >= 0)
		snprintf(files, sizeof files, ", %" PRId64 " file%s", v->files,
		         v->files == 1 ? "" : "s");
	if (v->percent >= 0)
		snprintf(pct, sizeof pct, ", %d%%", v->percent);
	if (v->rate > 0) {
		fmt_bytes(v->rate, rate, sizeof rate);
		snprintf(speed, sizeof speed, ", %s/s", rate);
	}
	snprintf(out, outsz, "%s%s%s%s", bytes, files, pct, speed);
	if (v->eta >= 0) {
		size_t n = strlen(out);

		snprintf(out + n, outsz - n, ", ETA %ld:%02ld:%02ld", v->eta / 3600,
		         v->eta / 60 % 60, v->eta % 60);
	}
}

void
xfer_report_open(struct xfer_report *r, const char *name, const char *job_dir, long interval_sec,
                 uint64_t expected, int tty_fd)
{
	memset(r, 0, sizeof *r);
	r->name = xstrdup(name);
	r->state_path = job_dir != NULL ? xasprintf("%s/%s", job_dir, STATE_NAME) : NULL;
	r->tty_fd = tty_fd;
	r->interval = (interval_sec > 0 ? interval_sec : 1) * NSEC_PER_SEC;
	r->expected = expected;
	r->started = time(NULL);
}

/*
 * Replace the state file: written beside it, then renamed over it, so a
 * reader sees the old content or the new, never half. A failure only
 * costs the web its progress: logged at DEBUG.
 */
static void
state_write(const struct xfer_report *r, const struct xfer_view *v)
{
	char *tmp = xasprintf("%s.tmp", r->state_path);
	struct buf b;
	int fd;

	buf_init(&b, STATE_MAX);
	buf_printf(&b,
	           "pid=%ld\nstarted=%lld\nupdated=%lld\nbytes=%" PRIu64 "\nfiles=%" PRId64
	           "\nrate=%.0f\npercent=%d\neta=%ld\nexpect=%" PRIu64 "\n",
	           (long)getpid(), (long long)r->started, (long long)time(NULL), v->bytes, v->files,
	           v->rate, v->percent, v->eta, v->expect);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd == -1) {
		log_debug(r->name, "progress: %s: %s", tmp, strerror(errno));
		goto out;
	}
	(void)fs_write_all(fd, buf_str(&b), strlen(buf_str(&b)));
	close(fd);
	if (rename(tmp, r->state_path) == -1) {
		log_debug(r->name, "progress: renaming %s: %s", tmp, strerror(errno));
		unlink(tmp);
	}
out:
	buf_free(&b);
	free(tmp);
}

void
xfer_report_feed(struct xfer_report *r, const struct xfer_sample *s, int64_t now)
{
	struct xfer_view v;
	char words[192];
	double rate = 0;

	if (r->name == NULL)
		return;
	if (r->first_ns == 0) {
		r->first_ns = now;
		r->first_bytes = s->bytes;
		/* The first log line comes one interval after the transfer starts. */
		r->last_log_ns = now;
	}
	/* rsync names files when each ends: before the first, none moved yet. */
	if (s->files > r->files)
		r->files = s->files;
	r->cur = *s;
	r->cur.files = r->files;
	if (now - r->first_ns >= NSEC_PER_SEC && s->bytes >= r->first_bytes)
		rate = (double)(s->bytes - r->first_bytes) /
		       ((double)(now - r->first_ns) / (double)NSEC_PER_SEC);
	xfer_estimate(&r->cur, r->expected, rate, &v);
	xfer_format(&v, words, sizeof words);
	if (now - r->last_log_ns >= r->interval) {
		r->last_log_ns = now;
		log_info(r->name, "progress: %s", words);
	}
	if (r->tty_fd >= 0 && (r->last_tty_ns == 0 || now - r->last_tty_ns >= TTY_EVERY)) {
		char line[256];
		int n;

		r->last_tty_ns = now;
		/* Drawn from column 0, the cursor left there: a log line overwrites it. */
		n = snprintf(line, sizeof line, "\r\033[K[%s] %s\r", r->name, words);
		if (n > 0)
			(void)fs_write_all(r->tty_fd, line,
			                   (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
		r->shown = 1;
	}
	if (r->state_path != NULL &&
	    (r->last_state_ns == 0 || now - r->last_state_ns >= STATE_EVERY)) {
		r->last_state_ns = now;
		state_write(r, &v);
	}
}

void
xfer_report_close(struct xfer_report *r)
{
	if (r->shown && r->tty_fd >= 0)
		(void)fs_write_all(r->tty_fd, "\r\033[K", 4);
	r->shown = 0;
	if (r->state_path != NULL && r->last_state_ns != 0)
		unlink(r->state_path);
	free(r->state_path);
	free(r->name);
	r->state_path = NULL;
	r->name = NULL;
}

/* The value of "key=" lines in text, or -1 with *found = 0. */
static long long
state_field(const char *text, const char *key, int *found)
{
	size_t kl = strlen(key);

	for (const char *p = text; p != NULL && *p != '\0';) {
		if (strncmp(p, key, kl) == 0 && p[kl] == '=') {
			char *end;
			long long v;

			errno = 0;
			v = strtoll(p + kl + 1, &end, 10);
			if (errno == 0 && end != p + kl + 1 && (*end == '\n' || *end == '\0')) {
				*found = 1;
				return v;
			}
			break;
		}
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	*found = 0;
	return -1;
}

int
xfer_state_read(const char *job_dir, struct xfer_state *out)
{
	char *path = xasprintf("%s/%s", job_dir, STATE_NAME);
	char text[STATE_MAX];
	ssize_t n;
	int fd, ok = 1, found;
	long long pid;

	memset(out, 0, sizeof *out);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(path);
	if (fd == -1)
		return 0;
	n = read(fd, text, sizeof text - 1);
	close(fd);
	if (n <= 0)
		return 0;
	text[n] = '\0';
	pid = state_field(text, "pid", &found);
	ok &= found && pid > 0 && pid <= INT32_MAX;
	out->started = (time_t)state_field(text, "started", &found);
	ok &= found;
	out->updated = (time_t)state_field(text, "updated", &found);
	ok &= found;
	out->v.bytes = (uint64_t)state_field(text, "bytes", &found);
	ok &= found;
	out->v.files = state_field(text, "files", &found);
	out->v.rate = (double)state_field(text, "rate", &found);
	if (out->v.rate < 0)
		out->v.rate = 0;
	out->v.percent = (int)state_field(text, "percent", &found);
	out->v.eta = (long)state_field(text, "eta", &found);
	out->v.expect = (uint64_t)state_field(text, "expect", &found);
	if (!found)
		out->v.expect = 0;
	if (!ok)
		return 0;
	out->pid = (pid_t)pid;
	/* Left by a run that died: the catalog's Running row is repaired later. */
	if (kill(out->pid, 0) == -1 && errno == ESRCH)
		return 0;
	return 1;
}
