/*
 * tisbackup_gui.ini: reading (config_read_ini() does the INI syntax) and
 * validation into struct guiconf. Keys are matched case-insensitively
 * (the INI reader lower-cases them), so the original's ADMIN_EMAIL reads.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "guiconf.h"
#include "pool.h"
#include "redis_url.h"
#include "util/strv.h"
#include "util/xmalloc.h"

enum kind { K_STR, K_INT, K_BOOL, K_LIST, K_SPECIAL };

struct key {
	const char *section;
	const char *name;
	enum kind kind;
	size_t off; /* offset of the field in struct guiconf */
	long min, max;
};

#define F(f) offsetof(struct guiconf, f)

static const struct key keys[] = {
	{ "general", "config_tisbackup", K_SPECIAL, 0, 0, 0 },
	{ "general", "sections", K_STR, F(sections), 0, 0 },
	{ "general", "admin_email", K_STR, F(admin_email), 0, 0 },
	{ "general", "base_config_dir", K_STR, F(base_config_dir), 0, 0 },
	{ "web", "listen", K_SPECIAL, 0, 0, 0 },
	{ "web", "tls_cert", K_STR, F(tls_cert), 0, 0 },
	{ "web", "tls_key", K_STR, F(tls_key), 0, 0 },
	{ "web", "metrics_public", K_BOOL, F(metrics_public), 0, 0 },
	{ "web", "metrics_token_file", K_STR, F(metrics_token_file), 0, 0 },
	{ "web", "session_timeout", K_INT, F(session_timeout), 60, 30L * 86400 },
	{ "web", "viewers_download", K_BOOL, F(viewers_download), 0, 0 },
	{ "auth", "providers", K_SPECIAL, 0, 0, 0 },
	{ "auth", "users_file", K_STR, F(users_file), 0, 0 },
	{ "auth", "trusted_proxies", K_LIST, F(trusted_proxies), 0, 0 },
	{ "auth", "proxy_header", K_STR, F(proxy_header), 0, 0 },
	{ "auth", "proxy_default_role", K_SPECIAL, 0, 0, 0 },
	{ "auth", "login_max_failures", K_INT, F(login_max_failures), 1, 1000 },
	{ "auth", "login_window", K_INT, F(login_window), 1, 86400 },
	{ "queue", "backend", K_SPECIAL, 0, 0, 0 },
	{ "queue", "redis_url", K_SPECIAL, 0, 0, 0 },
	{ "queue", "lease_seconds", K_INT, F(lease_seconds), 5, 86400 },
	{ "queue", "max_attempts", K_INT, F(max_attempts), 1, 100 },
	{ "queue", "workers", K_INT, F(workers), 1, 64 },
	{ "queue", "embedded_worker", K_BOOL, F(embedded_worker), 0, 0 },
	{ "queue", "stop_grace", K_INT, F(stop_grace), 0, 86400 },
	{ "queue", "pools", K_SPECIAL, 0, 0, 0 },
	{ "queue", "pool_max_parallel", K_SPECIAL, 0, 0, 0 },
	{ "export", "device_filter", K_SPECIAL, 0, 0, 0 },
	{ "export", "mount_base", K_SPECIAL, 0, 0, 0 },
	{ "alerts", "smtp_url", K_STR, F(smtp_url), 0, 0 },
	{ "alerts", "mail_from", K_STR, F(mail_from), 0, 0 },
	{ "alerts", "mail_to", K_LIST, F(mail_to), 0, 0 },
	{ "alerts", "smtp_user", K_STR, F(smtp_user), 0, 0 },
	{ "alerts", "smtp_password_file", K_STR, F(smtp_password_file), 0, 0 },
	{ "alerts", "webhook_url", K_STR, F(webhook_url), 0, 0 },
	{ "alerts", "alert_interval", K_INT, F(alert_interval), 0, 30L * 86400 },
	{ "scheduler", "enabled", K_BOOL, F(scheduler_enabled), 0, 0 },
	{ "scheduler", "catch_up", K_INT, F(scheduler_catch_up), 0, 7L * 86400 },
	{ "verify", "pgsql_url", K_STR, F(verify_pgsql_url), 0, 0 },
	{ "verify", "pgsql_password_file", K_STR, F(verify_pgsql_password_file), 0, 0 },
	{ "verify", "mysql_url", K_STR, F(verify_mysql_url), 0, 0 },
	{ "verify", "mysql_password_file", K_STR, F(verify_mysql_password_file), 0, 0 },
	{ NULL, NULL, K_STR, 0, 0, 0 },
};

static char **
field_str(struct guiconf *gc, size_t off)
{
	return (char **)(void *)((char *)gc + off);
}

static int *
field_int(struct guiconf *gc, size_t off)
{
	return (int *)(void *)((char *)gc + off);
}

/* Split a comma (or whitespace) separated list into a NULL-terminated array. */
static char **
split_list(const char *v, size_t *n)
{
	struct strv sv;
	const char *p = v;

	strv_init(&sv);
	while (*p != '\0') {
		size_t len;

		while (*p == ',' || *p == ' ' || *p == '\t' || *p == '\n')
			p++;
		len = strcspn(p, ", \t\n");
		if (len > 0) {
			char *item = xstrndup(p, len);

			strv_push(&sv, item);
			free(item);
		}
		p += len;
	}
	*n = sv.n;
	return sv.v != NULL ? sv.v : xcalloc(1, sizeof(char *));
}

static void
set_defaults(struct guiconf *gc)
{
	gc->configs = xcalloc(2, sizeof *gc->configs);
	gc->configs[0] = xstrdup("/etc/tis/tisbackup-config.ini");
	gc->nconfigs = 1;
	gc->base_config_dir = xstrdup("/etc/tis");
	gc->listen_host = xstrdup("127.0.0.1");
	gc->listen_port = 8080;
	gc->session_timeout = 28800;
	gc->providers = GUICONF_AUTH_LOCAL | GUICONF_AUTH_BASIC;
	gc->users_file = xstrdup("/etc/tis/tisbackup-users");
	gc->trusted_proxies = xcalloc(1, sizeof *gc->trusted_proxies);
	gc->proxy_header = xstrdup("X-Forwarded-User");
	gc->proxy_default_role = xstrdup("viewer");
	gc->login_max_failures = 5;
	gc->login_window = 300;
	gc->queue_backend = GUICONF_QUEUE_SQLITE;
	gc->redis_url = xstrdup("redis://127.0.0.1:6379/0");
	gc->lease_seconds = 60;
	gc->max_attempts = 3;
	gc->workers = 2;
	gc->embedded_worker = 1;
	gc->stop_grace = 30;
	gc->pools = xcalloc(2, sizeof *gc->pools);
	gc->pools[0] = xstrdup(POOL_DEFAULT);
	gc->npools = 1;
	gc->pool_max_parallel = xcalloc(1, sizeof *gc->pool_max_parallel);
	gc->mount_base = xstrdup("/mnt");
	gc->mail_to = xcalloc(1, sizeof *gc->mail_to);
	gc->alert_interval = 3600;
	gc->scheduler_enabled = 1;
	gc->scheduler_catch_up = 43200;
}

static void
free_list(char **l)
{
	if (l == NULL)
		return;
	for (char **p = l; *p != NULL; p++)
		free(*p);
	free(l);
}

/* "host:port", "[v6]:port" or ":port" into gc; -1 if malformed. */
static int
parse_listen(struct guiconf *gc, const char *v)
{
	const char *colon;
	char *host;
	char *end;
	long port;

	if (v[0] == '[') {
		const char *close = strchr(v, ']');

		if (close == NULL || close[1] != ':')
			return -1;
		host = xstrndup(v + 1, (size_t)(close - v - 1));
		colon = close + 1;
	} else {
		colon = strrchr(v, ':');
		if (colon == NULL || memchr(v, ':', (size_t)(colon - v)) != NULL)
			return -1;
		host = colon == v ? xstrdup("0.0.0.0") : xstrndup(v, (size_t)(colon - v));
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || port < 1 || port > 65535 ||
	    host[0] == '\0') {
		free(host);
		return -1;
	}
	free(gc->listen_host);
	gc->listen_host = host;
	gc->listen_port = (int)port;
	return 0;
}

static int pool_max_item(const char *item, char **name, int *max);

/* The keys handled one by one. 0, or -1 with a reason in why. */
static int
set_special(struct guiconf *gc, const char *key, const char *v, const char **why)
{
	if (strcmp(key, "config_tisbackup") == 0) {
		size_t n;
		char **l = split_list(v, &n);

		if (n == 0) {
			free_list(l);
			*why = "expected one or more configuration files, comma separated";
			return -1;
		}
		free_list(gc->configs);
		gc->configs = l;
		gc->nconfigs = n;
	} else if (strcmp(key, "listen") == 0) {
		if (parse_listen(gc, v) == -1) {
			*why = "expected ADDRESS:PORT, e.g. 127.0.0.1:8080 or [::1]:8080";
			return -1;
		}
	} else if (strcmp(key, "providers") == 0) {
		size_t n;
		char **l = split_list(v, &n);
		unsigned p = 0;

		for (size_t i = 0; i < n; i++) {
			if (strcmp(l[i], "local") == 0)
				p |= GUICONF_AUTH_LOCAL;
			else if (strcmp(l[i], "basic") == 0)
				p |= GUICONF_AUTH_BASIC;
			else if (strcmp(l[i], "proxy") == 0)
				p |= GUICONF_AUTH_PROXY;
			else
				p = 0, i = n;
		}
		free_list(l);
		if (p == 0) {
			*why = "expected a list of local, basic, proxy";
			return -1;
		}
		gc->providers = p;
	} else if (strcmp(key, "proxy_default_role") == 0) {
		if (strcmp(v, "viewer") != 0 && strcmp(v, "admin") != 0 && strcmp(v, "none") != 0) {
			*why = "expected viewer, admin or none";
			return -1;
		}
		free(gc->proxy_default_role);
		gc->proxy_default_role = xstrdup(v);
	} else if (strcmp(key, "backend") == 0) {
		if (strcmp(v, "sqlite") == 0)
			gc->queue_backend = GUICONF_QUEUE_SQLITE;
		else if (strcmp(v, "redis") == 0)
			gc->queue_backend = GUICONF_QUEUE_REDIS;
		else {
			*why = "unknown queue backend (expected sqlite or redis)";
			return -1;
		}
	} else if (strcmp(key, "pools") == 0) {
		size_t n;
		char **l = split_list(v, &n);

		for (size_t i = 0; i < n; i++)
			if (!pool_name_valid(l[i]))
				n = 0;
		if (n == 0 || n > POOL_MAX_PER_WORKER) {
			free_list(l);
			*why = "expected 1 to 16 pool names, comma separated, each 1 to 64 of "
			       "A-Z a-z 0-9 _ . -";
			return -1;
		}
		free_list(gc->pools);
		gc->pools = l;
		gc->npools = n;
	} else if (strcmp(key, "pool_max_parallel") == 0) {
		size_t n;
		char **l = split_list(v, &n);

		for (size_t i = 0; i < n; i++) {
			char *name = NULL;
			int max;

			if (pool_max_item(l[i], &name, &max) == -1)
				n = 0;
			free(name);
		}
		if (n == 0) {
			free_list(l);
			*why = "expected POOL:N pairs, comma separated (N from 1 to 1000), e.g. "
			       "site-a:4, site-b:2";
			return -1;
		}
		free_list(gc->pool_max_parallel);
		gc->pool_max_parallel = l;
		gc->npool_max_parallel = n;
	} else if (strcmp(key, "mount_base") == 0) {
		/* usb_mount() creates {mount_base}/TISBACKUP-<epoch> in it. */
		if (v[0] != '/') {
			*why = "expected an absolute folder (the USB disk is mounted inside it)";
			return -1;
		}
		free(gc->mount_base);
		gc->mount_base = xstrdup(v);
	} else if (strcmp(key, "device_filter") == 0) {
		if (strcmp(v, "usb") == 0)
			gc->device_filter_any = 0;
		else if (strcmp(v, "any") == 0)
			gc->device_filter_any = 1;
		else {
			*why = "expected usb or any";
			return -1;
		}
	}
	return 0;
}

static const struct key *
find_key(const char *section, const char *name)
{
	for (const struct key *k = keys; k->section != NULL; k++)
		if (strcmp(k->section, section) == 0 && strcmp(k->name, name) == 0)
			return k;
	return NULL;
}

static int
known_section(const char *name)
{
	for (const struct key *k = keys; k->section != NULL; k++)
		if (strcmp(k->section, name) == 0)
			return 1;
	return 0;
}

/* [queue] redis_url: parsed now, so a bad port or database number is a
 * configuration error naming the key; the reason never holds the password. */
static int
set_redis_url(struct guiconf *gc, const char *path, const char *sec, const struct cfg_entry *e,
              struct err *err)
{
	struct redis_url u;
	struct err why;

	err_clear(&why);
	if (redis_url_parse(e->value, &u, &why) == -1) {
		err_append_line(err, "%s:%d: [%s] %s: %s", path, e->line, sec, e->key, why.msg);
		return -1;
	}
	redis_url_free(&u);
	free(gc->redis_url);
	gc->redis_url = xstrdup(e->value);
	return 0;
}

/* Validate one entry; problems go to err as lines. */
static int
apply(struct guiconf *gc, const char *path, const char *sec, const struct cfg_entry *e,
      struct err *err)
{
	const struct key *k = find_key(sec, e->key);
	const char *why = NULL;
	const char *v = e->value;

	if (k == NULL) {
		if (strcmp(sec, "general") == 0)
			return 0; /* the original's other keys (e.g. its own secrets) */
		err_append_line(err, "%s:%d: [%s] %s: unknown key", path, e->line, sec, e->key);
		return -1;
	}
	if (v[0] == '\0')
		return 0; /* empty = default */
	switch (k->kind) {
	case K_STR:
		free(*field_str(gc, k->off));
		*field_str(gc, k->off) = xstrdup(v);
		break;
	case K_INT: {
		char *end;
		long n;

		errno = 0;
		n = strtol(v, &end, 10);
		if (errno != 0 || end == v || *end != '\0' || n < k->min || n > k->max) {
			err_append_line(
			    err, "%s:%d: [%s] %s: expected a number from %ld to %ld, got '%s'",
			    path, e->line, sec, e->key, k->min, k->max, v);
			return -1;
		}
		*field_int(gc, k->off) = (int)n;
		break;
	}
	case K_BOOL: {
		int b = config_parse_bool(v, 0);

		if (b == -1) {
			err_append_line(err, "%s:%d: [%s] %s: expected yes or no, got '%s'", path,
			                e->line, sec, e->key, v);
			return -1;
		}
		*field_int(gc, k->off) = b;
		break;
	}
	case K_LIST: {
		size_t n;
		char **l = split_list(v, &n);
		char ***f = (char ***)(void *)((char *)gc + k->off);

		free_list(*f);
		*f = l;
		if (k->off == F(trusted_proxies))
			gc->ntrusted_proxies = n;
		else
			gc->nmail_to = n;
		break;
	}
	case K_SPECIAL:
		if (strcmp(e->key, "redis_url") == 0) /* may hold a password: never echoed */
			return set_redis_url(gc, path, sec, e, err);
		if (set_special(gc, e->key, v, &why) == -1) {
			err_append_line(err, "%s:%d: [%s] %s: %s, got '%s'", path, e->line, sec,
			                e->key, why, v);
			return -1;
		}
		break;
	}
	return 0;
}

int
guiconf_load(const char *path, int missing_ok, struct guiconf **out, struct err *err)
{
	struct guiconf *gc = xcalloc(1, sizeof *gc);
	struct config *ini = NULL;
	struct err e;
	int bad = 0;

	*out = NULL;
	set_defaults(gc);
	err_clear(&e);
	if (config_read_ini(path, &ini, &e) == -1) {
		if (e.code == ENOENT && missing_ok) {
			*out = gc;
			return 0;
		}
		err_set(err, "%s", e.msg);
		if (err != NULL)
			err->code = e.code;
		guiconf_free(gc);
		return -1;
	}
	gc->path = xstrdup(path);
	for (size_t i = 0; i < ini->warnings.n; i++)
		strv_push(&gc->warnings, ini->warnings.v[i]);
	for (size_t i = 0; i < ini->nsections; i++) {
		const struct cfg_section *s = &ini->sections[i];

		if (!known_section(s->name)) {
			strv_pushf(&gc->warnings, "%s:%d: [%s]: unknown section, ignored", path,
			           s->line, s->name);
			continue;
		}
		for (size_t j = 0; j < s->n; j++)
			if (apply(gc, path, s->name, &s->entries[j], &e) == -1)
				bad = 1;
	}
	if ((gc->tls_cert == NULL) != (gc->tls_key == NULL)) {
		err_append_line(&e, "%s: [web] tls_cert and tls_key: set both or neither", path);
		bad = 1;
	}
	if (gc->smtp_url != NULL && strncmp(gc->smtp_url, "smtp://", 7) != 0 &&
	    strncmp(gc->smtp_url, "smtps://", 8) != 0) {
		err_append_line(&e,
		                "%s: [alerts] smtp_url: expected smtp://HOST[:PORT] or "
		                "smtps://HOST[:PORT]",
		                path);
		bad = 1;
	}
	if (gc->webhook_url != NULL && strncmp(gc->webhook_url, "http://", 7) != 0 &&
	    strncmp(gc->webhook_url, "https://", 8) != 0) {
		err_append_line(&e, "%s: [alerts] webhook_url: expected an http:// or https:// URL",
		                path);
		bad = 1;
	}
	if ((gc->smtp_user == NULL) != (gc->smtp_password_file == NULL)) {
		err_append_line(&e,
		                "%s: [alerts] smtp_user and smtp_password_file: set both or "
		                "neither",
		                path);
		bad = 1;
	}
	if (gc->nmail_to == 0 && gc->admin_email != NULL) {
		free_list(gc->mail_to);
		gc->mail_to = xcalloc(2, sizeof *gc->mail_to);
		gc->mail_to[0] = xstrdup(gc->admin_email);
		gc->nmail_to = 1;
	}
	config_free(ini);
	if (bad) {
		err_set(err, "%s", e.msg);
		guiconf_free(gc);
		return -1;
	}
	*out = gc;
	return 0;
}

void
guiconf_free(struct guiconf *gc)
{
	if (gc == NULL)
		return;
	free(gc->path);
	strv_free(&gc->warnings);
	free_list(gc->configs);
	free_list(gc->pools);
	free_list(gc->pool_max_parallel);
	free(gc->sections);
	free(gc->admin_email);
	free(gc->base_config_dir);
	free(gc->listen_host);
	free(gc->tls_cert);
	free(gc->tls_key);
	free(gc->metrics_token_file);
	free(gc->users_file);
	free_list(gc->trusted_proxies);
	free(gc->proxy_header);
	free(gc->proxy_default_role);
	free(gc->redis_url);
	free(gc->mount_base);
	free(gc->smtp_url);
	free(gc->mail_from);
	free_list(gc->mail_to);
	free(gc->smtp_user);
	free(gc->smtp_password_file);
	free(gc->webhook_url);
	free(gc->verify_pgsql_url);
	free(gc->verify_pgsql_password_file);
	free(gc->verify_mysql_url);
	free(gc->verify_mysql_password_file);
	free(gc);
}

/* "POOL:N": *name (caller frees) and *max; -1 when malformed. */
static int
pool_max_item(const char *item, char **name, int *max)
{
	const char *colon = strrchr(item, ':');
	char *end;
	long n;

	if (colon == NULL)
		return -1;
	errno = 0;
	n = strtol(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || n < 1 || n > 1000)
		return -1;
	*name = xstrndup(item, (size_t)(colon - item));
	if (!pool_name_valid(*name)) {
		free(*name);
		*name = NULL;
		return -1;
	}
	*max = (int)n;
	return 0;
}

int
guiconf_pool_max(const struct guiconf *gc, const char *pool)
{
	for (char *const *p = gc->pool_max_parallel; p != NULL && *p != NULL; p++) {
		char *name;
		int max, hit;

		if (pool_max_item(*p, &name, &max) == -1)
			continue; /* refused at load */
		hit = strcmp(name, pool) == 0;
		free(name);
		if (hit)
			return max;
	}
	return 0;
}
