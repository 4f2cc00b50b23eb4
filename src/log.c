/*
 * Logging (see log.h). One mutex keeps lines whole when several jobs log
 * at once; the timestamp is taken inside it so the file stays ordered.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static enum log_level log_level = LOG_INFO;
static int log_to_stderr = 1;
static int log_fd = -1;

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

/* Write all of p to fd, ignoring errors: logging must never fail a run. */
static void
write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		p += w;
		n -= (size_t)w;
	}
}

void
log_vmsg(enum log_level l, const char *section, const char *fmt, va_list ap)
{
	struct buf line;
	struct timeval tv;
	struct tm tm;
	char ts[32];

	if (!log_enabled(l))
		return;
	buf_init(&line, 64 * 1024);
	pthread_mutex_lock(&log_lock);
	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
	buf_printf(&line, "%s,%03ld %s ", ts, (long)(tv.tv_usec / 1000), log_level_name(l));
	if (section != NULL)
		buf_printf(&line, "[%s] ", section);
	if (buf_vprintf(&line, fmt, ap) == -1)
		buf_puts(&line, "(message too long)");
	buf_putc(&line, '\n');
	if (log_to_stderr)
		write_all(STDERR_FILENO, line.data, line.len);
	if (log_fd != -1)
		write_all(log_fd, line.data, line.len);
	pthread_mutex_unlock(&log_lock);
	buf_free(&line);
}

void
log_msg(enum log_level l, const char *section, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(l, section, fmt, ap);
	va_end(ap);
}
