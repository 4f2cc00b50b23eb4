/*
 * The switch driver's data and pure helpers (drv_switch.c does the I/O):
 * the per-model dialog tables (switch_models.c) and the cleaning of what a
 * device printed into the configuration file that is stored.
 *
 * A model is data: the prompts of its login (regexes matched by dialog.c
 * on the line being received, anchored at the line's start), the command
 * that turns paging off, the commands whose output makes the file, the
 * lines dropped at the head of an output, and the end marker that proves
 * the configuration came whole. Adding a model = one entry of
 * switch_models[] + one simulator dialog (tests/sim/dialogs/) + its tests.
 */
#ifndef TB_SWITCH_H
#define TB_SWITCH_H

#include <stddef.h>

#include "dialog.h"
#include "util/err.h"

/* How a model is reached (bits of switch_model.protos). */
enum switch_proto {
	SWITCH_TELNET = 1,
	SWITCH_SSH = 2,
	SWITCH_HTTP = 4,
};

#define SWITCH_MAX_COMMANDS 4

struct switch_model {
	const char *name;    /* canonical name (what listdrivers and the logs say) */
	const char *aliases; /* other switch_type values, ' '-separated (the original's first) */
	unsigned protos;     /* SWITCH_* bits */
	enum switch_proto def_proto;
	const char *eol;         /* sent after each line */
	const char *user_prompt; /* regex: asks for the user name, or NULL */
	const char *pass_prompt; /* regex: asks for a password, or NULL */
	const char *menu_prompt; /* regex: a menu screen to leave with menu_key, or NULL */
	const char *menu_key;
	const char *user_mode;     /* regex: the unprivileged prompt, or NULL */
	const char *user_mode_cmd; /* what leaves it ("enable", "lcli") */
	const char *prompt;        /* regex: the prompt where commands run */
	const char *pager_off;     /* command that turns paging off, or NULL */
	/* The model's own pager prompt and its key (besides dialog.c's), or NULL. */
	const char *pager_text;
	const char *pager_key;
	/* Commands whose outputs, joined by a blank line, make the file. */
	const char *commands[SWITCH_MAX_COMMANDS];
	const char *running_cmd; /* replaces commands[0] when switch_config = running, or NULL */
	const char *drop_head;   /* regex: leading lines of an output dropped while they match */
	const char *end_marker;  /* the last line of commands[0]'s output, or NULL */
	const char *logout;      /* sent at the end (the reply is not waited for), or NULL */
	int between_banners;     /* 1: keep what lies between the 2nd and 3rd "#---" lines */
};

/* Every model, name == NULL terminated. */
extern const struct switch_model switch_models[];

/*
 * The model called name (its canonical name or an alias, any case), or
 * NULL.
 */
const struct switch_model *switch_model_find(const char *name);

/* "telnet", "ssh", "http" (or "?"). */
const char *switch_proto_name(enum switch_proto p);

/* The protocol called name ("telnet", "ssh", "http"): 0 and *out, or -1. */
int switch_proto_parse(const char *name, enum switch_proto *out);

/*
 * Remove terminal escapes from len bytes of in, as a file should hold
 * them: CSI, OSC and two-byte ESC sequences go (ESC E, a VT100 "next
 * line", becomes '\n'), CRLF and a lone CR become '\n' (a CR followed by
 * more text on the same line starts it again, as a terminal shows it),
 * NUL and other control bytes but '\t' go, trailing blanks of each line
 * go. A new NUL-terminated string the caller frees. Pure; never fails.
 */
char *switch_strip_vt100(const char *in, size_t len);

/*
 * Clean one command's output (already without its echo and its prompt)
 * for model m: escapes stripped (switch_strip_vt100), lines that are a
 * pager's leftovers ("-- MORE --", "--More--", "Press any key") removed,
 * m->drop_head lines and blank lines at the head removed, blank lines at
 * the tail removed, one '\n' at the end. A new string the caller frees;
 * an empty output gives "". Never fails (a bad drop_head regex is a bug).
 */
char *switch_clean_output(const struct switch_model *m, const char *out);

/*
 * Check the cleaned output of m's first command and cut it to the
 * configuration: it must not be empty, its last line must be
 * m->end_marker when the model has one, and with m->between_banners only
 * what lies between the second and third "#---" banner lines is kept.
 * 0 (*cfg may have been shortened in place), or -1 + err saying what is
 * missing.
 */
int switch_check_config(const struct switch_model *m, char *cfg, struct err *err);

/* An ssh shell on a switch (switch_ssh.c). */
struct switch_ssh_target {
	const char *host;
	int port;
	const char *user;
	const char *password;    /* password (or keyboard-interactive) auth, or NULL */
	const char *private_key; /* public key auth first when set, or NULL */
	const char *known_hosts; /* NULL: libssh's default (~/.ssh/known_hosts) */
	int strict;              /* 1: an unknown host key is refused (else recorded) */
	int timeout_sec;         /* connect and auth */
};

/*
 * Whether libssh can be used: it is opened on first use (the first call
 * loads it). 0, or -1 + err naming the library and the package to install.
 */
int switch_ssh_available(struct err *err);

/*
 * Connect with libssh, check the host key against t->known_hosts (a
 * changed key is always refused), authenticate, and open a shell on a pty
 * (vt100, 200 columns). 0 and *tr (a dialog transport: dialog_free()
 * closes the session), or -1 + err naming host and port with libssh's
 * reason. The password goes only to libssh.
 */
int switch_ssh_connect(const struct switch_ssh_target *t, struct dialog_transport *tr,
                       struct err *err);

#endif
