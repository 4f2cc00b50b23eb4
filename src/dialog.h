/*
 * Prompt/answer sessions with a device that talks to a terminal (a
 * switch's CLI over telnet, or a spawned program's pty or pipes): wait for
 * a prompt, send a line, capture what comes until the next prompt.
 *
 * What arrives is cleaned as a terminal would show it: escape sequences
 * (CSI, OSC, charset selection) are removed, '\r' returns to the start of
 * the line and later text overwrites it, '\b' moves back, "erase line"
 * sequences erase, NUL bytes vanish, trailing blanks of each line are
 * dropped, and lines end with '\n' only. Pagers ("--More--", "-- MORE --,
 * next page: Space", "Press any key to continue"...) are answered with
 * their key and their text is dropped, so a configuration comes out whole.
 *
 * Prompts are matched against the line being received (the one with no
 * newline yet: a device that waits for input has just printed its prompt),
 * and must end it, so a "#" or "Password:" inside the output never counts.
 *
 * Secrets (a password sent at a prompt) are never kept: the transcript
 * shows "<secret>" in their place, and should the device echo one, it is
 * masked in everything received.
 *
 * The byte channel is a transport: dialog_fd_transport() for descriptors
 * (a pty, pipes, a raw socket), telnet.h for a telnet connection.
 */
#ifndef TB_DIALOG_H
#define TB_DIALOG_H

#include <stddef.h>

#include "util/err.h"

struct progress;

/*
 * A byte channel. recv waits up to timeout_ms for bytes: returns the
 * number read (> 0), 0 on timeout, -2 at end of stream, -1 + err. send
 * writes all of len bytes: 0 or -1 + err. close releases t (may be NULL).
 */
struct dialog_transport {
	long (*recv)(void *t, char *buf, size_t len, int timeout_ms, struct err *err);
	int (*send)(void *t, const char *buf, size_t len, struct err *err);
	void (*close)(void *t);
	void *t;
};

/* A prompt: a literal string, or a POSIX extended regex when regex is 1. */
struct dialog_pattern {
	const char *text;
	int regex;
};

/* A pager: text seen on the line being received, and the key that answers it. */
struct dialog_pager {
	const char *text;
	const char *key;
};

/* Pagers answered when dialog_opts.pagers is NULL (NULL-text terminated). */
extern const struct dialog_pager dialog_default_pagers[];

struct dialog_opts {
	int timeout_sec;                   /* per expect; 0 means 30 */
	const char *eol;                   /* sent after each line; NULL means "\r\n" */
	const struct dialog_pager *pagers; /* NULL: dialog_default_pagers; text NULL ends */
	struct progress *progress; /* the run's (bytes feed it; its limits apply); may be NULL */
	size_t max_output;         /* per expect; 0 means 16 MiB */
	/*
	 * 1: secrets are masked in the transcript and messages only, never in
	 * what dialog_expect() returns (a configuration that contains the
	 * password's text as a word must come back as the device printed it).
	 */
	int unmasked_output;
};

struct dialog;

/*
 * Start a dialog over tr (which the dialog owns from now on: dialog_free()
 * closes it). Never fails.
 */
struct dialog *dialog_new(const struct dialog_transport *tr, const struct dialog_opts *o);

/* The timeout of the next dialog_expect() calls (0 means 30). */
void dialog_set_timeout(struct dialog *d, int timeout_sec);

/* Close the transport, wipe the secrets, release d. NULL is a no-op. */
void dialog_free(struct dialog *d);

/*
 * Read until the line being received ends with one of the n patterns
 * (answering pagers on the way). 0 and *which (the pattern's index; may be
 * NULL) and, when out is not NULL, *out: what came before the prompt's
 * line, cleaned (a new string the caller frees); the prompt itself is
 * consumed. -1 + err on timeout ("no prompt after 30 s; last line
 * received: '...'"), end of stream, a progress limit, a bad regex, or
 * output over max_output.
 */
int dialog_expect(struct dialog *d, const struct dialog_pattern *pats, size_t n, size_t *which,
                  char **out, struct err *err);

/* Send line and the end-of-line sequence. 0 or -1 + err. */
int dialog_send(struct dialog *d, const char *line, struct err *err);

/*
 * Send a secret (a password) and the end-of-line sequence: it never shows
 * in the transcript, and any echo of it is masked in what is received.
 */
int dialog_send_secret(struct dialog *d, const char *secret, struct err *err);

/* Send raw bytes (a key: " ", "\x1a" for ^Z), without end-of-line. */
int dialog_send_raw(struct dialog *d, const char *bytes, size_t len, struct err *err);

/*
 * Send cmd, wait for one of the prompts, and give in *out what the
 * command printed: the echo of the command (its first line, when it ends
 * with cmd) left out. 0 or -1 + err (as dialog_expect()).
 */
int dialog_command(struct dialog *d, const char *cmd, const struct dialog_pattern *prompts,
                   size_t n, char **out, struct err *err);

/*
 * Everything so far, cleaned: what was received and, on lines of their
 * own, "> LINE" for each line sent ("> <secret>" for a secret). For a
 * debug log or an error message. Owned by d, valid until the next call.
 */
const char *dialog_transcript(struct dialog *d);

/*
 * A transport over descriptors (rfd to read, wfd to write; the same one
 * for a socket or a pty). close_fds: 1 to close them at dialog_free().
 */
struct dialog_transport dialog_fd_transport(int rfd, int wfd, int close_fds);

#endif
