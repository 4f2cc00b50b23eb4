/*
 * tisbackup_gui.ini: the original's [general] keys plus the sections of
 * `serve`, the queue, the USB export and the alerts. Read once by serve,
 * worker and user; every value is validated here so the modules get
 * typed fields, and every error names file:line, section and key.
 */
#ifndef TB_GUICONF_H
#define TB_GUICONF_H

#include <stddef.h>

#include "util/err.h"
#include "util/strv.h"

#define GUICONF_DEFAULT_PATH "/etc/tis/tisbackup_gui.ini"

enum guiconf_provider {
	GUICONF_AUTH_LOCAL = 1 << 0, /* login form, session cookie */
	GUICONF_AUTH_BASIC = 1 << 1, /* HTTP Basic with the same users */
	GUICONF_AUTH_PROXY = 1 << 2, /* trusted header from listed proxies */
};

enum guiconf_queue_backend { GUICONF_QUEUE_SQLITE, GUICONF_QUEUE_REDIS };

struct guiconf {
	char *path; /* the file read, or NULL when it does not exist */

	/* [general] */
	char **configs; /* config_tisbackup, comma separated; NULL-terminated, >= 1 entry */
	size_t nconfigs;
	char *sections;        /* restriction, csv, or NULL */
	char *admin_email;     /* ADMIN_EMAIL or NULL */
	char *base_config_dir; /* default /etc/tis */

	/* [web] */
	char *listen_host; /* default 127.0.0.1 (IPv6 literal without brackets) */
	int listen_port;   /* default 8080 */
	char *tls_cert;    /* both or neither */
	char *tls_key;
	int metrics_public; /* metrics_public = yes: /metrics without auth (default no) */
	/* a file holding a token: "Authorization: Bearer TOKEN" may read /metrics (scrapers) */
	char *metrics_token_file;
	int session_timeout; /* seconds of inactivity, default 28800 */
	/* viewers_download = yes: viewers may browse and download snapshots (default no) */
	int viewers_download;

	/* [auth] */
	unsigned providers;     /* GUICONF_AUTH_*; default local,basic */
	char *users_file;       /* default /etc/tis/tisbackup-users */
	char **trusted_proxies; /* IP addresses, NULL-terminated (may be empty) */
	size_t ntrusted_proxies;
	char *proxy_header;       /* default X-Forwarded-User */
	char *proxy_default_role; /* role of proxy users not in users_file: viewer (default) */
	int login_max_failures;   /* per client address and per user name, default 5 ... */
	int login_window;         /* ... within this many seconds, default 300 */

	/* [queue] */
	enum guiconf_queue_backend queue_backend; /* default sqlite */
	char *redis_url;     /* redis://host:port/db, default redis://127.0.0.1:6379/0 */
	int lease_seconds;   /* default 60 */
	int max_attempts;    /* default 3 */
	int workers;         /* runs at once in one worker, default 2 */
	int embedded_worker; /* serve runs a worker itself: embedded_worker = yes (default) */
	int stop_grace; /* seconds a run may finish after SIGTERM before it is handed back, default 30 */
	char **
	    pools; /* pools: what the embedded worker and a plain `worker` claim, default {"default"} */
	size_t npools;
	char **pool_max_parallel; /* pool_max_parallel: "POOL:N" items (validated); may be empty */
	size_t npool_max_parallel;

	/* [export] */
	int device_filter_any; /* device_filter = usb (0, default) | any (1) */
	char *mount_base;      /* default /mnt; mount points are {mount_base}/TISBACKUP-<epoch> */

	/* [alerts] */
	char *smtp_url;  /* smtp://host:port or smtps://..., NULL = no mail (validated) */
	char *mail_from; /* default tisbackup@<hostname> */
	char **mail_to;  /* default { admin_email }; NULL-terminated (may be empty) */
	size_t nmail_to;
	char *smtp_user;          /* SMTP AUTH user name, NULL = no AUTH */
	char *smtp_password_file; /* its password: first line of this file, read at send time */
	char *webhook_url;        /* http:// or https://, NULL = no webhook */
	int alert_interval;       /* seconds between two alerts of one job, default 3600 */

	/* [scheduler] */
	int scheduler_enabled; /* enabled = yes (default) */
	int scheduler_catch_up; /* catch_up: seconds a slot missed while down still runs, default 43200 */

	/* [verify] (tisbackup verify, docs/restore.md) */
	char *verify_pgsql_url; /* postgresql://USER@HOST:PORT, no database, no password */
	char *verify_pgsql_password_file; /* its password: first line of this file */
	char *verify_mysql_url;           /* mysql://USER@HOST:PORT[?socket=PATH] */
	char *verify_mysql_password_file; /* its password: first line of this file */

	/* Warnings of the load, one "FILE:LINE: ..." line each (see struct config). */
	struct strv warnings;
};

/*
 * Read and validate path. A missing file is not an error when
 * missing_ok: every key takes its default and gc->path is NULL. Unknown
 * keys in the new sections are errors (with a suggestion), unknown
 * sections are warnings in gc->warnings (nothing is printed). *out is
 * freed with guiconf_free().
 */
int guiconf_load(const char *path, int missing_ok, struct guiconf **out, struct err *err);
void guiconf_free(struct guiconf *gc);

/* The [queue] pool_max_parallel limit of pool: N, or 0 when it has none. */
int guiconf_pool_max(const struct guiconf *gc, const char *pool);

#endif
