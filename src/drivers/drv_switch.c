/*
 * switch: the configuration of a network switch, fetched over telnet or
 * ssh through its CLI, or over HTTP from its web interface (D-Link
 * DGS-1210), stored as one text file {job}/STAMP.cfg (STAMP.bin for the
 * DGS-1210's binary file).
 *
 * The dialog is data (switch_models.c): the driver connects (telnet.c,
 * switch_ssh.c), logs in by answering whichever of the model's prompts
 * shows (user name, password, a menu, the unprivileged prompt), learns the
 * exact prompt the device then shows, turns paging off, runs the model's
 * commands and cleans their output (switch_clean_output()). dialog.c
 * answers any pager that still shows, strips the terminal escapes and
 * never records the password (it goes only to the socket or to libssh).
 * Every step has switch_timeout seconds; the whole run has the job's
 * max_runtime and stall_timeout (a progress object of the run).
 *
 * A configuration identical to the newest earlier backup is not written
 * again: its file is hard-linked under the new name, and the run is
 * recorded OK with written_bytes 0 (total_bytes the file's size), its log
 * saying "unchanged since STAMP".
 */
#include "drivers/driver.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "dialog.h"
#include "drivers/rsync.h"
#include "drivers/switch.h"
#include "dumpfile.h"
#include "http.h"
#include "log.h"
#include "progress.h"
#include "telnet.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/timefmt.h"
#include "util/xmalloc.h"

#define SW_MAX_CONFIG ((size_t)16 << 20)
#define SW_MAX_LOGIN_STEPS 16
#define SW_STAGING ".partial"

static const struct drv_key sw_required[] = {
	{ "switch_ip", KEY_STR, NULL },
	{ "switch_type", KEY_STR, NULL },
	{ NULL, KEY_STR, NULL },
};

static const struct drv_key sw_optional[] = {
	{ "switch_user", KEY_STR, NULL },
	{ "switch_password", KEY_STR, NULL },
	{ "switch_password_file", KEY_FILE, NULL },
	{ "switch_enable_password", KEY_STR, NULL },
	{ "switch_protocol", KEY_STR, NULL },
	{ "switch_port", KEY_PORT, NULL },
	{ "switch_timeout", KEY_INT, "30" },
	{ "switch_eol", KEY_STR, NULL },
	{ "switch_config", KEY_STR, "startup" },
	{ "alert_on_change", KEY_BOOL, "no" },
	{ NULL, KEY_STR, NULL },
};

/* What a run needs to talk to the device. */
struct sw_ctx {
	const struct job *job;
	const struct switch_model *m;
	enum switch_proto proto;
	const char *host;
	int port;
	const char *user;
	char *password;        /* owned, wiped; NULL: none */
	char *enable_password; /* owned, wiped; NULL: the password */
	int timeout;
	struct progress *prog; /* the run's (stall_timeout, max_runtime from its start) */
};

static const struct switch_model *
sw_model(const struct job *job)
{
	return switch_model_find(job_get(job, "switch_type"));
}

/* The protocol of job: switch_protocol, else the model's default. */
static enum switch_proto
sw_proto(const struct job *job, const struct switch_model *m)
{
	enum switch_proto p = m->def_proto;
	const char *v = job_get(job, "switch_protocol");

	if (v != NULL)
		switch_proto_parse(v, &p);
	return p;
}

static int
sw_validate(const struct job *job, struct err *err)
{
	const struct switch_model *m = sw_model(job);
	const char *v;
	enum switch_proto p;

	if (m == NULL) {
		struct buf names;

		buf_init(&names, 4096);
		for (const struct switch_model *k = switch_models; k->name != NULL; k++)
			buf_printf(&names, "%s%s (%s)", k == switch_models ? "" : ", ", k->name,
			           k->aliases);
		err_set(err, "switch_type: unknown switch type '%s'; known: %s",
		        job_get(job, "switch_type"), buf_str(&names));
		buf_free(&names);
		return -1;
	}
	v = job_get(job, "switch_protocol");
	if (v != NULL && switch_proto_parse(v, &p) == -1) {
		err_set(err, "switch_protocol: '%s' is not telnet, ssh or http", v);
		return -1;
	}
	p = sw_proto(job, m);
	if (!(m->protos & p)) {
		err_set(err, "switch_protocol: a %s switch (%s) cannot be reached over %s", m->name,
		        job_get(job, "switch_type"), switch_proto_name(p));
		return -1;
	}
	if (job_get(job, "switch_password") != NULL &&
	    job_get(job, "switch_password_file") != NULL) {
		err_set(err, "switch_password_file: set either it or switch_password, not both");
		return -1;
	}
	v = job_get(job, "switch_config");
	if (strcmp(v, "startup") != 0 && strcmp(v, "running") != 0) {
		err_set(err, "switch_config: '%s' is not startup or running", v);
		return -1;
	}
	v = job_get(job, "switch_eol");
	if (v != NULL && strcmp(v, "crlf") != 0 && strcmp(v, "cr") != 0 && strcmp(v, "lf") != 0) {
		err_set(err, "switch_eol: '%s' is not crlf, cr or lf", v);
		return -1;
	}
	return 0;
}

/*
 * The first line of path (0600, ours) without its line end: 0 and *out
 * (owned), or -1 + err naming the file.
 */
static int
read_password_file(const char *path, char **out, struct err *err)
{
	if (rsync_check_password_file(path, err) == -1) {
		err_wrap(err, "switch_password_file");
		return -1;
	}
	return fs_read_secret_line(path, "switch_password_file", out, err);
}

/* --- the CLI dialog ------------------------------------------------------------- */

enum sw_prompt { P_USER, P_PASS, P_MENU, P_UMODE, P_PROMPT };

/* The last non-blank line of text, for a message (a new string). */
static char *
last_line(const char *text)
{
	const char *end = text + strlen(text), *start;

	while (end > text && (end[-1] == '\n' || end[-1] == ' '))
		end--;
	start = end;
	while (start > text && start[-1] != '\n')
		start--;
	return xstrndup(start, (size_t)(end - start));
}

/*
 * Log in: answer whichever of the model's prompts shows until the command
 * prompt does. A password prompt (or the user name's) again right after a
 * password means it was refused. 0, or -1 + err.
 */
static int
sw_login(struct dialog *d, struct sw_ctx *c, struct err *err)
{
	const struct switch_model *m = c->m;
	struct dialog_pattern pats[5];
	enum sw_prompt kind[5];
	size_t n = 0, which;
	int after_secret = 0, after_enable = 0, umode = 0;
	char *out = NULL, *said;

#define SW_PAT(re, k)                                                                              \
	do {                                                                                       \
		if ((re) != NULL) {                                                                \
			pats[n].text = (re);                                                       \
			pats[n].regex = 1;                                                         \
			kind[n++] = (k);                                                           \
		}                                                                                  \
	} while (0)
	SW_PAT(m->user_prompt, P_USER);
	SW_PAT(m->pass_prompt, P_PASS);
	SW_PAT(m->menu_prompt, P_MENU);
	SW_PAT(m->user_mode, P_UMODE);
	SW_PAT(m->prompt, P_PROMPT);
#undef SW_PAT
	for (int step = 0; step < SW_MAX_LOGIN_STEPS; step++) {
		int rc = 0;

		if (dialog_expect(d, pats, n, &which, &out, err) == -1)
			return -1;
		if (after_secret && (kind[which] == P_USER || kind[which] == P_PASS)) {
			said = last_line(out);
			err_set(
			    err,
			    "login refused: the switch asked again for the %s after the password%s%s%s (check switch_user and the password)",
			    kind[which] == P_USER ? "user name" : "password",
			    *said != '\0' ? " and said '" : "", said, *said != '\0' ? "'" : "");
			free(said);
			free(out);
			return -1;
		}
		free(out);
		out = NULL;
		switch (kind[which]) {
		case P_USER:
			rc = dialog_send(d, c->user != NULL ? c->user : "", err);
			after_secret = after_enable = 0;
			break;
		case P_PASS:
			if (after_enable && c->enable_password != NULL)
				rc = dialog_send_secret(d, c->enable_password, err);
			else
				rc = dialog_send_secret(d, c->password != NULL ? c->password : "",
				                        err);
			after_secret = 1;
			after_enable = 0;
			break;
		case P_MENU:
			rc = dialog_send_raw(d, m->menu_key, strlen(m->menu_key), err);
			after_secret = after_enable = 0;
			break;
		case P_UMODE:
			if (++umode > 2) {
				err_set(
				    err,
				    "'%s' did not leave the unprivileged prompt (check the enable password)",
				    m->user_mode_cmd);
				return -1;
			}
			rc = dialog_send(d, m->user_mode_cmd, err);
			after_enable = strcmp(m->user_mode_cmd, "enable") == 0;
			after_secret = 0;
			break;
		case P_PROMPT:
			return 0;
		}
		if (rc == -1)
			return -1;
	}
	err_set(err, "no command prompt after %d login steps", SW_MAX_LOGIN_STEPS);
	return -1;
}

/*
 * The regex of the exact prompt the device showed last (the transcript's
 * last line), anchored at the line's start: from now on only that prompt
 * ends a command's output. A new string.
 */
static char *
learned_prompt(struct dialog *d)
{
	char *line = last_line(dialog_transcript(d)), *p = line;
	struct buf re;

	buf_init(&re, (size_t)-1);
	buf_puts(&re, "^ *");
	while (*p == ' ')
		p++;
	for (; *p != '\0'; p++) {
		if (strchr(".[]{}()\\*+?^$|", *p) != NULL)
			buf_putc(&re, '\\');
		buf_putc(&re, *p);
	}
	free(line);
	return buf_steal(&re);
}

/* The line ending of job: switch_eol, else the model's. */
static const char *
sw_eol(const struct job *job, const struct switch_model *m)
{
	const char *v = job_get(job, "switch_eol");

	if (v == NULL)
		return m->eol != NULL ? m->eol : "\r\n";
	return strcmp(v, "cr") == 0 ? "\r" : strcmp(v, "lf") == 0 ? "\n" : "\r\n";
}

/* Fetch the configuration over the CLI into *cfg (owned). 0, or -1 + err. */
static int
sw_cli(struct sw_ctx *c, char **cfg, struct err *err)
{
	const struct switch_model *m = c->m;
	struct dialog_transport tr;
	struct dialog_opts o = { 0 };
	struct dialog *d;
	struct dialog_pattern prompt = { NULL, 1 };
	struct dialog_pager pagers[8];
	size_t np = 0;
	struct buf file;
	char *re = NULL, *out = NULL, *clean;
	int rc = -1;

	if (c->proto == SWITCH_SSH) {
		struct switch_ssh_target t = {
			.host = c->host,
			.port = c->port,
			.user = c->user != NULL ? c->user : c->job->remote_user,
			.password = c->password,
			.private_key = c->job->private_key,
			.known_hosts = job_get(c->job, "known_hosts_file"),
			.strict = strcmp(job_get(c->job, "host_key_policy"), "strict") == 0,
			.timeout_sec = c->timeout,
		};

		if (switch_ssh_connect(&t, &tr, err) == -1)
			return -1;
	} else if (telnet_connect(c->host, c->port, c->timeout, &tr, err) == -1)
		return -1;
	o.timeout_sec = c->timeout;
	o.eol = sw_eol(c->job, m);
	o.progress = c->prog;
	o.max_output = SW_MAX_CONFIG;
	o.unmasked_output = 1; /* the transcript is masked; the configuration is kept whole */
	/* dialog.c's pagers, and the model's own */
	for (const struct dialog_pager *pg = dialog_default_pagers; pg->text != NULL && np < 6;
	     pg++)
		pagers[np++] = *pg;
	if (m->pager_text != NULL) {
		pagers[np].text = m->pager_text;
		pagers[np++].key = m->pager_key;
	}
	pagers[np].text = pagers[np].key = NULL;
	o.pagers = pagers;
	d = dialog_new(&tr, &o);
	buf_init(&file, SW_MAX_CONFIG);
	if (sw_login(d, c, err) == -1) {
		err_wrap(err, "logging in");
		goto out;
	}
	re = learned_prompt(d);
	prompt.text = re;
	if (m->pager_off != NULL) {
		if (dialog_command(d, m->pager_off, &prompt, 1, &out, err) == -1)
			goto out;
		free(out);
		out = NULL;
	}
	for (size_t i = 0; i < SWITCH_MAX_COMMANDS && m->commands[i] != NULL; i++) {
		const char *cmd = m->commands[i];

		if (i == 0 && m->running_cmd != NULL &&
		    strcmp(job_get(c->job, "switch_config"), "running") == 0)
			cmd = m->running_cmd;
		if (dialog_command(d, cmd, &prompt, 1, &out, err) == -1)
			goto out;
		clean = switch_clean_output(m, out);
		free(out);
		out = NULL;
		if (i == 0 && switch_check_config(m, clean, err) == -1) {
			err_wrap(err, "'%s'", cmd);
			free(clean);
			goto out;
		}
		if (i > 0)
			buf_putc(&file, '\n');
		if (buf_puts(&file, clean) == -1) {
			err_set(err, "the configuration is larger than %zu bytes", SW_MAX_CONFIG);
			free(clean);
			goto out;
		}
		free(clean);
	}
	if (m->logout != NULL)
		(void)dialog_send(d, m->logout, err);
	*cfg = buf_steal(&file);
	rc = 0;
out:
	if (rc == -1)
		log_debug(c->job->name, "switch dialog (passwords masked):\n%s",
		          dialog_transcript(d));
	dialog_free(d);
	buf_free(&file);
	free(re);
	free(out);
	return rc;
}

/* --- DGS-1210 over HTTP --------------------------------------------------------- */

/* Append s form-urlencoded to b. */
static void
form_escape(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '~')
			buf_putc(b, (char)ch);
		else {
			buf_putc(b, '%');
			buf_putc(b, hex[ch >> 4]);
			buf_putc(b, hex[ch & 15]);
		}
	}
}

/*
 * The DGS-1210's two POSTs: log in (the device then trusts the client's
 * address, and may set a cookie, which the client keeps), download
 * config.bin, then log out (best effort). 0 and *cfg, *len, or -1 + err.
 */
static int
sw_http(struct sw_ctx *c, char **cfg, size_t *len, struct err *err)
{
	struct http_opts ho = { .cookies = 1, .no_proxy = 1, .connect_timeout_sec = c->timeout };
	struct http_client *hc = NULL;
	struct http_response resp = { 0 };
	struct buf form, url, ref;
	const char *hdr[3] = { NULL, "Content-Type: application/x-www-form-urlencoded", NULL };
	struct http_request rq = { .method = "POST", .headers = hdr, .progress = c->prog };
	int rc = -1;

	buf_init(&form, 65536);
	buf_init(&url, 4096);
	buf_init(&ref, 4096);
	if (http_client_new(&ho, &hc, err) == -1)
		goto out;
	buf_puts(&form, "Login=");
	form_escape(&form, c->user != NULL ? c->user : "");
	buf_puts(&form, "&Password=");
	form_escape(&form, c->password != NULL ? c->password : "");
	buf_puts(&form, "&sellanId=0&sellan=0&lang_seqid=1");
	buf_printf(&url, "http://%s:%d/form/formLoginApply", c->host, c->port);
	buf_printf(&ref, "Referer: http://%s:%d/www/login.html", c->host, c->port);
	hdr[0] = buf_str(&ref);
	rq.url = buf_str(&url);
	rq.body = buf_str(&form);
	rq.body_len = form.len;
	if (http_request(hc, &rq, &resp, err) == -1) {
		err_wrap(err, "logging in");
		goto out;
	}
	if (resp.body != NULL && strstr(resp.body, "Wrong password") != NULL) {
		err_set(
		    err,
		    "logging in: the switch answered 'Wrong password' (check switch_user and the password)");
		goto out;
	}
	http_response_free(&resp);
	memset(&resp, 0, sizeof resp);
	buf_reset(&url);
	buf_reset(&ref);
	buf_printf(&url, "http://%s:%d/BinFile/config.bin", c->host, c->port);
	buf_printf(&ref, "Referer: http://%s:%d/www/iss/013_download_cfg.html", c->host, c->port);
	hdr[0] = buf_str(&ref);
	hdr[1] = NULL;
	rq.url = buf_str(&url);
	rq.body = "";
	rq.body_len = 0;
	rq.max_body = SW_MAX_CONFIG;
	if (http_request(hc, &rq, &resp, err) == -1) {
		err_wrap(err, "downloading config.bin");
		goto out;
	}
	if (resp.status != 200) {
		err_set(err, "downloading config.bin: HTTP %ld instead of 200", resp.status);
		goto out;
	}
	if (resp.body_len == 0 || resp.body == NULL) {
		err_set(err, "downloading config.bin: the body is empty");
		goto out;
	}
	if (strncasecmp(resp.body, "<html", 5) == 0 ||
	    strncasecmp(resp.body, "<!DOCTYPE", 9) == 0) {
		err_set(
		    err,
		    "downloading config.bin: the switch sent an HTML page, not a configuration (was the login accepted?)");
		goto out;
	}
	*len = resp.body_len;
	*cfg = resp.body;
	resp.body = NULL;
	rc = 0;
	/* Log out, best effort: the session is tied to our address otherwise. */
	http_response_free(&resp);
	memset(&resp, 0, sizeof resp);
	buf_reset(&url);
	buf_printf(&url, "http://%s:%d/form/formLogout", c->host, c->port);
	rq.url = buf_str(&url);
	rq.max_body = 0;
	{
		struct err ignored = { 0 };

		if (http_request(hc, &rq, &resp, &ignored) == -1)
			log_debug(c->job->name, "logging out of %s: %s", c->host, ignored.msg);
	}
out:
	http_response_free(&resp);
	http_client_free(hc);
	if (form.data != NULL)
		explicit_bzero(form.data, form.len);
	buf_free(&form);
	buf_free(&url);
	buf_free(&ref);
	return rc;
}

/* --- the file ------------------------------------------------------------------- */

/* ".bin" for the DGS-1210's binary file, ".cfg" for text. */
static const char *
sw_ext(const struct job *job)
{
	const struct switch_model *m;

	if (job->sec == NULL) /* a job made without a configuration (tests): text */
		return ".cfg";
	m = sw_model(job);
	return m != NULL && m->protos == SWITCH_HTTP ? ".bin" : ".cfg";
}

/*
 * 1 if name (len bytes) is a finished backup: "STAMP.cfg", "STAMP.bin",
 * or the original's "NAME-STAMP.txt|.bin|.cfg"; the stamp into stamp_out.
 */
static int
sw_final_name(const char *name, size_t len, char *stamp_out)
{
	static const char *const exts[] = { ".cfg", ".bin", ".txt" };
	char stamp[TIME_STAMP_LEN + 1];
	time_t t;

	for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
		size_t el = strlen(exts[i]);

		if (len < el + TIME_STAMP_LEN || strncmp(name + len - el, exts[i], el) != 0)
			continue;
		if (len > el + TIME_STAMP_LEN && name[len - el - TIME_STAMP_LEN - 1] != '-')
			continue;
		if (len == el + TIME_STAMP_LEN + 1) /* "-STAMP.ext": no name */
			continue;
		memcpy(stamp, name + len - el - TIME_STAMP_LEN, TIME_STAMP_LEN);
		stamp[TIME_STAMP_LEN] = '\0';
		if (time_parse_stamp(stamp, &t) == -1)
			continue;
		memcpy(stamp_out, stamp, TIME_STAMP_LEN + 1);
		return 1;
	}
	return 0;
}

static enum drv_entry
sw_classify(const char *name, char *stamp_out)
{
	size_t len = strlen(name), sl = sizeof SW_STAGING - 1;

	if (len > sl && strcmp(name + len - sl, SW_STAGING) == 0)
		return sw_final_name(name, len - sl, stamp_out) ? DRV_ENTRY_STAGING
		                                                : DRV_ENTRY_OTHER;
	return sw_final_name(name, len, stamp_out) ? DRV_ENTRY_FINAL : DRV_ENTRY_OTHER;
}

/* A run writes STAMP.cfg (or .bin), staged by dumpfile.c as + ".partial". */
static size_t
sw_names(const struct job *job, const char *stamp, char **names)
{
	names[0] = xasprintf("%s%s", stamp, sw_ext(job));
	names[1] = xasprintf("%s" SW_STAGING, names[0]);
	return 2;
}

static const struct drv_layout sw_layout = {
	.classify = sw_classify,
	.names = sw_names,
};

/*
 * The newest finished backup of the job folder before stamp with the
 * extension ext (a new string: its name), or NULL.
 */
static char *
previous_backup(const struct job *job, const char *stamp, const char *ext)
{
	char best[TIME_STAMP_LEN + 1] = "", s[TIME_STAMP_LEN + 1];
	char *name = NULL;
	struct dirent *e;
	DIR *dir = opendir(job->dir);

	if (dir == NULL)
		return NULL;
	while ((e = readdir(dir)) != NULL) {
		size_t len = strlen(e->d_name), el = strlen(ext);

		if (len < el || strcmp(e->d_name + len - el, ext) != 0 ||
		    sw_classify(e->d_name, s) != DRV_ENTRY_FINAL)
			continue;
		if (strcmp(s, stamp) < 0 && strcmp(s, best) > 0) {
			memcpy(best, s, sizeof best);
			free(name);
			name = xstrdup(e->d_name);
		}
	}
	closedir(dir);
	return name;
}

/* 1 if the file at path holds exactly len bytes of data. */
static int
same_content(const char *path, const char *data, size_t len)
{
	struct stat sb;
	char chunk[65536];
	size_t off = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), same = 0;

	if (fd == -1)
		return 0;
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && (size_t)sb.st_size == len) {
		same = 1;
		while (same && (n = read(fd, chunk, sizeof chunk)) > 0) {
			same = off + (size_t)n <= len && memcmp(chunk, data + off, (size_t)n) == 0;
			off += (size_t)n;
		}
		same = same && off == len;
	}
	close(fd);
	return same;
}

/*
 * Store data as path: a hard link to the previous backup when identical
 * (*unchanged_since set to its stamp), else written through dumpfile.c
 * (.partial, fsync, rename), *changed_from then naming the previous
 * backup when there is one (owned by the caller). 0, or -1 + err.
 */
static int
store(const struct job *job, const char *stamp, const char *path, const char *data, size_t len,
      char *unchanged_since, char **changed_from, int64_t *written, struct err *err)
{
	char *prev = previous_backup(job, stamp, sw_ext(job));
	struct dumpfile *df = NULL;
	int rc = -1;

	unchanged_since[0] = '\0';
	if (prev != NULL) {
		char *pp = xasprintf("%s/%s", job->dir, prev);

		if (same_content(pp, data, len) && link(pp, path) == 0) {
			sw_classify(prev, unchanged_since);
			*written = 0;
			free(pp);
			free(prev);
			return 0;
		}
		*changed_from = pp;
		free(prev);
	}
	if (dumpfile_open_raw(path, (int64_t)len, &df, err) == -1 ||
	    dumpfile_write(df, data, len, err) == -1 || dumpfile_commit(df, err) == -1)
		goto out;
	*written = (int64_t)len;
	rc = 0;
out:
	dumpfile_abort(df);
	return rc;
}

static int
sw_backup(struct drv_run *run, struct drv_stats *st, struct err *err)
{
	const struct job *job = run->job;
	struct sw_ctx c = { .job = job };
	char *path = NULL, *cfg = NULL, *names[DRV_LAYOUT_NAMES];
	char since[TIME_STAMP_LEN + 1];
	const char *v;
	size_t len = 0, nnames;
	int64_t written = 0;
	int rc = -1;

	c.m = sw_model(job);
	c.proto = sw_proto(job, c.m);
	c.host = job_get(job, "switch_ip");
	c.user = job_get(job, "switch_user");
	c.timeout = (int)job_get_long(job, "switch_timeout", 30);
	c.port = (int)job_get_long(job, "switch_port", 0);
	if (c.port == 0)
		c.port = c.proto == SWITCH_TELNET ? 23
		         : c.proto == SWITCH_HTTP ? 80
		                                  : job->ssh_port;
	nnames = sw_names(job, run->stamp, names);
	path = xasprintf("%s/%s", job->dir, names[0]);
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	if (run->dry_run) {
		log_info(job->name,
		         "dry run: would fetch the configuration of %s (%s) over %s into %s",
		         c.host, c.m->name, switch_proto_name(c.proto), path);
		rc = 0;
		goto out;
	}
	if ((v = job_get(job, "switch_password_file")) != NULL) {
		if (read_password_file(v, &c.password, err) == -1)
			goto out;
	} else if ((v = job_get(job, "switch_password")) != NULL)
		c.password = xstrdup(v);
	if ((v = job_get(job, "switch_enable_password")) != NULL)
		c.enable_password = xstrdup(v);
	c.prog = run->progress;
	log_info(job->name, "fetching the configuration of %s (%s) over %s", c.host, c.m->name,
	         switch_proto_name(c.proto));
	if (c.proto == SWITCH_HTTP) {
		if (sw_http(&c, &cfg, &len, err) == -1)
			goto fail;
	} else {
		if (sw_cli(&c, &cfg, err) == -1)
			goto fail;
		len = strlen(cfg);
	}
	if (store(job, run->stamp, path, cfg, len, since, &st->changed_from, &written, err) == -1)
		goto out;
	st->location = xstrdup(path);
	st->total_files = 1;
	st->written_files = written > 0;
	st->total_bytes = (int64_t)len;
	st->written_bytes = written;
	if (since[0] != '\0')
		st->log = xasprintf("Switch backup from %s OK, 0 bytes written (configuration "
		                    "unchanged since %s)",
		                    job->server_name, since);
	else
		st->log = xasprintf("Switch backup from %s OK, %lld bytes written",
		                    job->server_name, (long long)written);
	rc = 0;
	goto out;
fail:
	err_wrap(err, "%s %s over %s %s:%d", c.m->name, job->server_name,
	         switch_proto_name(c.proto), c.host, c.port);
out:
	fs_secret_free(c.password);
	fs_secret_free(c.enable_password);
	free(cfg);
	free(path);
	return rc;
}

const struct driver drv_switch = {
	.name = "switch",
	.description = "Saves the configuration of a network switch (HP ProCurve/Aruba, Cisco "
	               "IOS, Linksys SRW, D-Link DGS-1510 over telnet or ssh; MikroTik RouterOS, "
	               "Juniper Junos over ssh; D-Link DGS-1210 over HTTP) as one file "
	               "{job}/STAMP.cfg, identical configurations linked, not written again.",
	.required = sw_required,
	.optional = sw_optional,
	.caps = DRV_CAP_FILE,
	.validate = sw_validate,
	.backup = sw_backup,
	.layout = &sw_layout,
	.restore = restore_file_copy,
};
