/*
 * tisbackup user add|passwd|del NAME: manage the web users file named by
 * [auth] users_file of tisbackup_gui.ini. A password never comes from the
 * command line: it is read from stdin when stdin is not a terminal (one
 * line), else prompted for twice with echo off.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "action.h"
#include "actions.h"
#include "commands.h"
#include "guiconf.h"
#include "util/suggest.h"
#include "util/xmalloc.h"
#include "web/auth.h"

#define PASSWORD_MIN 8
#define PASSWORD_LINE_MAX 4096

static void
user_usage(FILE *out)
{
	fprintf(out,
	        "Usage: tisbackup [--gui-config FILE] user list\n"
	        "       tisbackup [--gui-config FILE] user add NAME [--role admin|viewer]\n"
	        "       tisbackup [--gui-config FILE] user passwd NAME [--role admin|viewer]\n"
	        "       tisbackup [--gui-config FILE] user del NAME\n"
	        "\n"
	        "Manage the web users ([auth] users_file of the gui config). The password\n"
	        "is read from stdin (one line) when stdin is not a terminal, otherwise it\n"
	        "is asked for twice. At least %d characters. add defaults to --role viewer;\n"
	        "passwd keeps the role unless --role is given. list prints each user and\n"
	        "role, never a hash.\n",
	        PASSWORD_MIN);
}

/* One line from f into buf (newline stripped). 0, or -1 with a message printed. */
static int
read_line(FILE *f, char *buf, size_t size, const char *what)
{
	size_t n;

	if (fgets(buf, (int)size, f) == NULL) {
		fprintf(stderr, "tisbackup: user: no password on %s\n", what);
		return -1;
	}
	n = strlen(buf);
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	else if (!feof(f)) {
		fprintf(stderr, "tisbackup: user: password longer than %d bytes\n",
		        PASSWORD_LINE_MAX - 2);
		return -1;
	}
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	return 0;
}

/* Prompt on the terminal with echo off. 0 or -1. */
static int
prompt(const char *text, char *buf, size_t size)
{
	struct termios old, noecho;
	int rc;

	if (tcgetattr(STDIN_FILENO, &old) == -1) {
		fprintf(stderr, "tisbackup: user: terminal: %s\n", strerror(errno));
		return -1;
	}
	noecho = old;
	noecho.c_lflag &= ~(tcflag_t)ECHO;
	noecho.c_lflag |= ECHONL;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &noecho) == -1) {
		fprintf(stderr, "tisbackup: user: terminal: %s\n", strerror(errno));
		return -1;
	}
	/* Echo is off before the prompt shows, so no early answer is flushed. */
	fputs(text, stderr);
	fflush(stderr);
	rc = read_line(stdin, buf, size, "the terminal");
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	return rc;
}

/* The new password into buf: from stdin, or typed twice. 0 or -1 (message printed). */
static int
get_password(char *buf, size_t size)
{
	if (!isatty(STDIN_FILENO)) {
		if (read_line(stdin, buf, size, "stdin") == -1)
			return -1;
	} else {
		char again[PASSWORD_LINE_MAX];
		int same;

		if (prompt("New password: ", buf, size) == -1 ||
		    prompt("Again: ", again, sizeof again) == -1)
			return -1;
		same = strcmp(buf, again) == 0;
		explicit_bzero(again, sizeof again);
		if (!same) {
			fprintf(stderr, "tisbackup: user: the two passwords differ\n");
			return -1;
		}
	}
	if (buf[0] == '\0') {
		fprintf(stderr, "tisbackup: user: empty password refused\n");
		return -1;
	}
	if (strlen(buf) < PASSWORD_MIN) {
		fprintf(stderr, "tisbackup: user: password too short (at least %d characters)\n",
		        PASSWORD_MIN);
		return -1;
	}
	return 0;
}

/* Print a (possibly multi-line) error, each line prefixed. */
static void
print_err(const struct err *err)
{
	const char *p = err->msg;

	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);

		fprintf(stderr, "tisbackup: user: %.*s\n", n, p);
		p += n + (nl != NULL);
	}
}

/* tisbackup user list: NAME and role of each user, in file order. */
static int
user_list(const struct cli *c)
{
	struct guiconf *gc = NULL;
	struct auth_users u;
	struct err err;
	size_t width = 4;

	err_clear(&err);
	if (c->nargs != 1 || c->role != NULL) {
		fprintf(stderr, "tisbackup: user list takes no NAME and no --role\n");
		user_usage(stderr);
		return EXIT_USAGE;
	}
	if (guiconf_load(c->gui_config, 1, &gc, &err) == -1) {
		print_err(&err);
		return EXIT_CONFIG;
	}
	if (auth_user_list(gc->users_file, &u, &err) == -1) {
		print_err(&err);
		guiconf_free(gc);
		return err.code == EINVAL ? EXIT_CONFIG : EXIT_RUNTIME;
	}
	if (u.n == 0)
		fprintf(stderr,
		        "tisbackup: user: no users in %s yet: add the first with "
		        "'tisbackup user add NAME --role admin'\n",
		        gc->users_file);
	for (size_t i = 0; i < u.n; i++)
		if (strlen(u.v[i].name) > width)
			width = strlen(u.v[i].name);
	if (u.n > 0)
		printf("%-*s  %s\n", (int)width, "NAME", "ROLE");
	for (size_t i = 0; i < u.n; i++)
		printf("%-*s  %s\n", (int)width, u.v[i].name, auth_role_name(u.v[i].role));
	auth_users_free(&u);
	guiconf_free(gc);
	return 0;
}

/*
 * The users file's folder must exist before the first add: create it
 * (0755, one level: /etc/tis on a fresh machine) and say so, or explain
 * what to do when its parent is missing too. 0 or -1 (message printed).
 */
static int
ensure_users_dir(const char *users_file)
{
	char *dir = xstrdup(users_file), *slash = strrchr(dir, '/');
	struct stat st;
	int rc = 0;

	if (slash == NULL || slash == dir) {
		free(dir);
		return 0;
	}
	*slash = '\0';
	if (stat(dir, &st) == 0) {
		free(dir);
		return 0;
	}
	if (errno == ENOENT && mkdir(dir, 0755) == 0) {
		fprintf(stderr, "tisbackup: user: created %s for the users file\n", dir);
	} else {
		fprintf(stderr,
		        "tisbackup: user: the folder of the users file %s cannot be made: %s: %s "
		        "(create it, or set [auth] users_file in the gui config)\n",
		        users_file, dir, strerror(errno));
		rc = -1;
	}
	free(dir);
	return rc;
}

int
cmd_user(const struct cli *c)
{
	char password[PASSWORD_LINE_MAX];
	enum auth_role role = AUTH_ROLE_NONE;
	struct guiconf *gc = NULL;
	const char *sub, *name;
	struct err err;
	int rc, add, del;

	err_clear(&err);
	if (c->nargs == 0) {
		user_usage(stderr);
		return EXIT_USAGE;
	}
	sub = c->args[0];
	if (strcmp(sub, "list") == 0)
		return user_list(c);
	add = strcmp(sub, "add") == 0;
	del = strcmp(sub, "del") == 0;
	if (!add && !del && strcmp(sub, "passwd") != 0) {
		static const char *const subs[] = { "list", "add", "passwd", "del" };
		const char *near = suggest_pick(sub, subs, 4, 2);

		fprintf(stderr, "tisbackup: user: unknown subcommand '%s'%s%s%s\n", sub,
		        near != NULL ? " (did you mean '" : "", near != NULL ? near : "",
		        near != NULL ? "'?)" : "");
		user_usage(stderr);
		return EXIT_USAGE;
	}
	if (c->nargs != 2) {
		fprintf(stderr, "tisbackup: user %s: expected exactly one NAME%s\n", sub,
		        c->nargs > 2 ? " (the password is never an argument)" : "");
		user_usage(stderr);
		return EXIT_USAGE;
	}
	name = c->args[1];
	if (!auth_user_name_ok(name)) {
		fprintf(
		    stderr,
		    "tisbackup: user %s: '%s': bad user name (1 to 64 of A-Z a-z 0-9 _ . @ -)\n",
		    sub, name);
		return EXIT_USAGE;
	}
	if (c->role != NULL) {
		if (del) {
			fprintf(stderr, "tisbackup: user del takes no --role\n");
			return EXIT_USAGE;
		}
		if (auth_role_parse(c->role, &role) == -1) {
			fprintf(stderr, "tisbackup: --role %s: expected admin or viewer\n",
			        c->role);
			return EXIT_USAGE;
		}
	}
	if (guiconf_load(c->gui_config, 1, &gc, &err) == -1) {
		print_err(&err);
		return EXIT_CONFIG;
	}
	action_print_warnings(&gc->warnings);
	if (del) {
		rc = auth_user_del(gc->users_file, name, &err);
	} else if (add && ensure_users_dir(gc->users_file) == -1) {
		guiconf_free(gc);
		return EXIT_RUNTIME;
	} else {
		if (get_password(password, sizeof password) == -1) {
			explicit_bzero(password, sizeof password);
			guiconf_free(gc);
			return EXIT_USAGE;
		}
		if (add && role == AUTH_ROLE_NONE)
			role = AUTH_ROLE_VIEWER;
		rc = auth_user_set(gc->users_file, name, password, role, add, &err);
		explicit_bzero(password, sizeof password);
	}
	if (rc == -1) {
		print_err(&err);
		rc = err.code == EINVAL ? EXIT_CONFIG : EXIT_RUNTIME;
	} else {
		printf("%s: user %s %s\n", gc->users_file, name,
		       add   ? "added"
		       : del ? "deleted"
		             : "updated");
	}
	guiconf_free(gc);
	return rc;
}
