/*
 * Logging in the original's format, "YYYY-MM-DD HH:MM:SS,mmm LEVEL message",
 * to stderr and to the run log file. Job messages carry a "[section] "
 * prefix. Thread-safe: each line is written whole. Formatting is skipped
 * below the current level.
 */
#ifndef TB_LOG_H
#define TB_LOG_H

#include <stdarg.h>

#include "util/err.h"

enum log_level {
	LOG_DEBUG = 10,
	LOG_INFO = 20,
	LOG_WARNING = 30,
	LOG_ERROR = 40,
	LOG_CRITICAL = 50,
};

/* Parse "debug", "info", "warning", "error", "critical" (any case). 0 or -1. */
int log_level_parse(const char *s, enum log_level *out);
/* The upper-case name the log line shows ("INFO"). */
const char *log_level_name(enum log_level l);
void log_set_level(enum log_level l);
/* 1 if a message at level l would be written. */
int log_enabled(enum log_level l);
/* Also write to stderr (default on). */
void log_set_stderr(int on);
/*
 * How lines on stderr look. TEXT is the original's format; JSON is one
 * object a line, {"time", "level", "job", "message"} (job null outside a
 * job); JOURNAL drops our timestamp (the journal has its own) and starts
 * each line with its syslog priority, "<3>" for an error (sd-daemon(3)).
 * AUTO (the default) is JOURNAL when stderr is the journal stream named
 * by $JOURNAL_STREAM, else TEXT. The run log file always has TEXT.
 */
enum log_format { LOG_FORMAT_AUTO, LOG_FORMAT_TEXT, LOG_FORMAT_JSON, LOG_FORMAT_JOURNAL };

/* Parse "auto", "text", "json" or "journal". 0 or -1. */
int log_format_parse(const char *s, enum log_format *out);
/* Set the stderr format (AUTO looks at $JOURNAL_STREAM and stderr now). */
void log_set_format(enum log_format f);
/* Append lines to the file at path as well (created 0640). 0 or -1 + err. */
int log_open_file(const char *path, struct err *err);
void log_close_file(void);
/* Write one line; section may be NULL (no prefix). Embedded newlines are kept. */
void log_msg(enum log_level l, const char *section, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_vmsg(enum log_level l, const char *section, const char *fmt, va_list ap);

#define log_debug(sec, ...) log_msg(LOG_DEBUG, sec, __VA_ARGS__)
#define log_info(sec, ...) log_msg(LOG_INFO, sec, __VA_ARGS__)
#define log_warning(sec, ...) log_msg(LOG_WARNING, sec, __VA_ARGS__)
#define log_error(sec, ...) log_msg(LOG_ERROR, sec, __VA_ARGS__)
#define log_critical(sec, ...) log_msg(LOG_CRITICAL, sec, __VA_ARGS__)

#endif
