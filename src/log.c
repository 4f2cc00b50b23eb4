/*
 * Logging (see log.h). One mutex keeps lines whole when several jobs log
 * at once; the timestamp is taken inside it so the file stays ordered.
 * The message is formatted once; the stderr line (text, JSON with
 * jansson, or journal) and the file line are built from it.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/xmalloc.h"
#include "util/fsutil.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static enum log_level log_level = LOG_INFO;
static int log_to_stderr = 1;
static int log_fd = -1;
static enum log_format log_format = LOG_FORMAT_AUTO;
static int log_format_resolved; /* AUTO looked at the environment */

static const struct {
	const char *name;
	enum log_level level;
} log_levels[] = {
	{ "debug", LOG_DEBUG }, { "info", LOG_INFO },         { "warning", LOG_WARNING },
	{ "error", LOG_ERROR }, { "critical", LOG_CRITICAL },
};

int
log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof log_levels / sizeof log_levels[0]; i++) {
		if (strcasecmp(s, log_levels[i].name) == 0) {
			*out = log_levels[i].level;
			return 0;
		}
	}
	return -1;
}

const char *
log_level_name(enum log_level l)
{
	switch (l) {
	case LOG_DEBUG:
		return "DEBUG";
	case LOG_INFO:
		return "INFO";
	case LOG_WARNING:
		return "WARNING";
	case LOG_ERROR:
		return "ERROR";
	case LOG_CRITICAL:
		return "CRITICAL";
	}
	return "?";
}

int
log_format_parse(const char *s, enum log_format *out)
{
	static const char *const names[] = {
		[LOG_FORMAT_AUTO] = "auto",
		[LOG_FORMAT_TEXT] = "text",
		[LOG_FORMAT_JSON] = "json",
		[LOG_FORMAT_JOURNAL] = "journal",
	};

	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcasecmp(s, names[i]) == 0) {
			*out = (enum log_format)i;
			return 0;
		}
	}
	return -1;
}

/*
 * 1 when stderr is the stream $JOURNAL_STREAM ("DEVICE:INODE", see
 * systemd.exec(5)) names: only then is it the journal, not a terminal or
 * a file a child of a unit redirected it to.
 */
static int
stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char *end;

	if (v == NULL || *v == '\0')
		return 0;
	errno = 0;
	dev = strtoull(v, &end, 10);
	if (errno != 0 || end == v || *end != ':')
		return 0;
	v = end + 1;
	ino = strtoull(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0')
		return 0;
	if (fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void
log_set_format(enum log_format f)
{
	if (f == LOG_FORMAT_AUTO)
		f = stderr_is_journal() ? LOG_FORMAT_JOURNAL : LOG_FORMAT_TEXT;
	pthread_mutex_lock(&log_lock);
	log_format = f;
	__atomic_store_n(&log_format_resolved, 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&log_lock);
}

void
log_set_level(enum log_level l)
{
	log_level = l;
}

int
log_enabled(enum log_level l)
{
	return l >= log_level;
}

void
log_set_stderr(int on)
{
	log_to_stderr = on;
}

int
log_open_file(const char *path, struct err *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);

	if (fd == -1) {
		err_sys(err, errno, "opening log file %s", path);
		return -1;
	}
	pthread_mutex_lock(&log_lock);
	if (log_fd != -1)
		close(log_fd);
	log_fd = fd;
	pthread_mutex_unlock(&log_lock);
	return 0;
}

void
log_close_file(void)
{
	pthread_mutex_lock(&log_lock);
	if (log_fd != -1)
		close(log_fd);
	log_fd = -1;
	pthread_mutex_unlock(&log_lock);
}

/* The syslog priority of a level (sd-daemon(3)'s "<N>" prefixes). */
static int
journal_priority(enum log_level l)
{
	switch (l) {
	case LOG_DEBUG:
		return 7;
	case LOG_INFO:
		return 6;
	case LOG_WARNING:
		return 4;
	case LOG_ERROR:
		return 3;
	case LOG_CRITICAL:
		return 2;
	}
	return 6;
}

/* The stderr line(s) of a message, in the journal's format: a prefix on every line. */
static void
journal_line(struct buf *out, enum log_level l, const char *section, const char *msg)
{
	const char *p = msg;

	do {
		const char *nl = strchr(p, '\n');
		size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);

		buf_printf(out, "<%d>%s ", journal_priority(l), log_level_name(l));
		if (section != NULL)
			buf_printf(out, "[%s] ", section);
		buf_append(out, p, n);
		buf_putc(out, '\n');
		p = nl != NULL ? nl + 1 : NULL;
	} while (p != NULL && *p != '\0');
}

/* One JSON object and a newline; ts is the local time in ISO 8601 with its offset. */
static void
json_line(struct buf *out, const char *ts, enum log_level l, const char *section, const char *msg)
{
	json_t *o = json_object(), *m;
	char *s;

	json_object_set_new(o, "time", json_string(ts));
	json_object_set_new(o, "level", json_string(log_level_name(l)));
	json_object_set_new(o, "job", section != NULL ? json_string(section) : json_null());
	m = json_string(msg);
	if (m == NULL) {
		/* Not UTF-8 (a file name): kept, with '?' for the bytes beyond ASCII. */
		char *copy = xstrdup(msg);

		for (char *p = copy; *p != '\0'; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
		m = json_string(copy);
		free(copy);
	}
	json_object_set_new(o, "message", m);
	s = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	if (s != NULL) {
		buf_puts(out, s);
		buf_putc(out, '\n');
		free(s);
	}
	json_decref(o);
}

void
log_vmsg(enum log_level l, const char *section, const char *fmt, va_list ap)
{
	struct buf msg, line, err_line;
	struct timeval tv;
	struct tm tm;
	char ts[32], iso[48], off[8];

	if (!log_enabled(l))
		return;
	if (!__atomic_load_n(&log_format_resolved, __ATOMIC_ACQUIRE))
		log_set_format(LOG_FORMAT_AUTO);
	buf_init(&msg, 64 * 1024);
	buf_init(&line, 64 * 1024 + 256);
	buf_init(&err_line, 2 * 64 * 1024);
	if (buf_vprintf(&msg, fmt, ap) == -1)
		buf_puts(&msg, "(message too long)");
	pthread_mutex_lock(&log_lock);
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
	buf_printf(&line, "%s,%03ld %s ", ts, (long)(tv.tv_usec / 1000), log_level_name(l));
	if (section != NULL)
		buf_printf(&line, "[%s] ", section);
	buf_puts(&line, buf_str(&msg));
	buf_putc(&line, '\n');
	/* Write errors are ignored: logging must never fail a run. */
	if (log_to_stderr) {
		switch (log_format) {
		case LOG_FORMAT_JSON:
			strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%S", &tm);
			strftime(off, sizeof off, "%z", &tm);
			snprintf(iso + strlen(iso), sizeof iso - strlen(iso), ".%03ld%.3s:%s",
			         (long)(tv.tv_usec / 1000), off, off + 3);
			json_line(&err_line, iso, l, section, buf_str(&msg));
			(void)fs_write_all(STDERR_FILENO, err_line.data, err_line.len);
			break;
		case LOG_FORMAT_JOURNAL:
			journal_line(&err_line, l, section, buf_str(&msg));
			(void)fs_write_all(STDERR_FILENO, err_line.data, err_line.len);
			break;
		default:
			(void)fs_write_all(STDERR_FILENO, line.data, line.len);
			break;
		}
	}
	if (log_fd != -1)
		(void)fs_write_all(log_fd, line.data, line.len);
	pthread_mutex_unlock(&log_lock);
	buf_free(&msg);
	buf_free(&line);
	buf_free(&err_line);
}

void
log_msg(enum log_level l, const char *section, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(l, section, fmt, ap);
	va_end(ap);
}
