/*
 * Tests for guiconf.c (tisbackup_gui.ini): the defaults, every key of
 * every section, errors that name file:line, [section] and key, the
 * tls_cert/tls_key pair rule, unknown keys (errors) and sections
 * (warnings), and the original's ADMIN_EMAIL feeding [alerts] mail_to.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "guiconf.h"
#include "util/xmalloc.h"

static char dir[TB_TMPDIR_MAX];
static char path[sizeof dir + 16];
static char errpath[sizeof dir + 16];

static void
put(const char *content)
{
	int fd;

	assert_true((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) != -1);
	assert_int_equal(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	close(fd);
}

static struct guiconf *
load_ok(const char *content)
{
	struct guiconf *gc = NULL;
	struct err err;

	put(content);
	err_clear(&err);
	if (guiconf_load(path, 0, &gc, &err) == -1)
		fail_msg("guiconf_load: %s", err.msg);
	assert_string_equal(gc->path, path);
	return gc;
}

/* Load content expecting failure; the message must contain every needle. */
static void
load_bad(const char *content, const char *const *needles)
{
	struct guiconf *gc = (struct guiconf *)1;
	struct err err;

	put(content);
	err_clear(&err);
	assert_int_equal(guiconf_load(path, 0, &gc, &err), -1);
	assert_null(gc);
	for (const char *const *n = needles; *n != NULL; n++)
		if (strstr(err.msg, *n) == NULL)
			fail_msg("'%s' not in: %s", *n, err.msg);
}

static void
test_defaults(void **state)
{
	struct guiconf *gc = NULL;
	struct err err;
	char *missing = xasprintf("%s/missing.ini", dir);

	(void)state;
	err_clear(&err);
	assert_int_equal(guiconf_load(missing, 0, &gc, &err), -1);
	assert_int_equal(err.code, ENOENT);
	assert_non_null(strstr(err.msg, missing));
	assert_int_equal(guiconf_load(missing, 1, &gc, &err), 0);
	free(missing);
	assert_null(gc->path);
	assert_int_equal(gc->nconfigs, 1);
	assert_string_equal(gc->configs[0], "/etc/tis/tisbackup-config.ini");
	assert_null(gc->configs[1]);
	assert_null(gc->sections);
	assert_null(gc->admin_email);
	assert_string_equal(gc->base_config_dir, "/etc/tis");
	assert_string_equal(gc->listen_host, "127.0.0.1");
	assert_int_equal(gc->listen_port, 8080);
	assert_null(gc->tls_cert);
	assert_null(gc->tls_key);
	assert_int_equal(gc->metrics_public, 0);
	assert_int_equal(gc->session_timeout, 28800);
	assert_int_equal(gc->providers, GUICONF_AUTH_LOCAL | GUICONF_AUTH_BASIC);
	assert_string_equal(gc->users_file, "/etc/tis/tisbackup-users");
	assert_int_equal(gc->ntrusted_proxies, 0);
	assert_null(gc->trusted_proxies[0]);
	assert_string_equal(gc->proxy_header, "X-Forwarded-User");
	assert_string_equal(gc->proxy_default_role, "viewer");
	assert_int_equal(gc->login_max_failures, 5);
	assert_int_equal(gc->login_window, 300);
	assert_int_equal(gc->queue_backend, GUICONF_QUEUE_SQLITE);
	assert_string_equal(gc->redis_url, "redis://127.0.0.1:6379/0");
	assert_int_equal(gc->lease_seconds, 60);
	assert_int_equal(gc->max_attempts, 3);
	assert_int_equal(gc->workers, 2);
	assert_int_equal(gc->embedded_worker, 1);
	assert_int_equal(gc->device_filter_any, 0);
	assert_string_equal(gc->mount_base, "/mnt");
	assert_null(gc->smtp_url);
	assert_null(gc->mail_from);
	assert_int_equal(gc->nmail_to, 0);
	assert_null(gc->mail_to[0]);
	assert_null(gc->webhook_url);
	assert_int_equal(gc->alert_interval, 3600);
	assert_int_equal(gc->scheduler_enabled, 1);
	assert_int_equal(gc->scheduler_catch_up, 43200);
	guiconf_free(gc);
	/* an empty file is all defaults too, and an empty value means the default */
	gc = load_ok("[web]\nsession_timeout =\n");
	assert_int_equal(gc->session_timeout, 28800);
	guiconf_free(gc);
}

static void
test_every_key(void **state)
{
	struct guiconf *gc;

	(void)state;
	gc = load_ok("[general]\n"
	             "config_tisbackup = /etc/a.ini, /etc/b.ini\n"
	             "sections = web1,db1\n"
	             "ADMIN_EMAIL = root@example.org\n"
	             "base_config_dir = /srv/tis\n"
	             "other_original_key = ignored\n"
	             "[web]\n"
	             "listen = [::1]:9443\n"
	             "tls_cert = /etc/ssl/c.pem\n"
	             "tls_key = /etc/ssl/k.pem\n"
	             "metrics_public = yes\n"
	             "session_timeout = 3600\n"
	             "[auth]\n"
	             "providers = proxy, basic\n"
	             "users_file = /srv/users\n"
	             "trusted_proxies = 10.0.0.1, ::1\n"
	             "proxy_header = X-Remote-User\n"
	             "proxy_default_role = none\n"
	             "login_max_failures = 10\n"
	             "login_window = 600\n"
	             "[queue]\n"
	             "backend = redis\n"
	             "redis_url = redis://10.0.0.2:6380/3\n"
	             "lease_seconds = 30\n"
	             "max_attempts = 5\n"
	             "workers = 4\n"
	             "embedded_worker = no\n"
	             "[export]\n"
	             "device_filter = any\n"
	             "mount_base = /media\n"
	             "[alerts]\n"
	             "smtp_url = smtp://mail:25\n"
	             "mail_from = tb@example.org\n"
	             "mail_to = a@example.org b@example.org\n"
	             "webhook_url = https://hooks.example.org/x\n"
	             "alert_interval = 60\n"
	             "[scheduler]\n"
	             "enabled = no\n"
	             "catch_up = 600\n");
	assert_int_equal(gc->nconfigs, 2);
	assert_string_equal(gc->configs[0], "/etc/a.ini");
	assert_string_equal(gc->configs[1], "/etc/b.ini");
	assert_null(gc->configs[2]);
	assert_string_equal(gc->sections, "web1,db1");
	assert_string_equal(gc->admin_email, "root@example.org");
	assert_string_equal(gc->base_config_dir, "/srv/tis");
	assert_string_equal(gc->listen_host, "::1");
	assert_int_equal(gc->listen_port, 9443);
	assert_string_equal(gc->tls_cert, "/etc/ssl/c.pem");
	assert_string_equal(gc->tls_key, "/etc/ssl/k.pem");
	assert_int_equal(gc->metrics_public, 1);
	assert_int_equal(gc->session_timeout, 3600);
	assert_int_equal(gc->providers, GUICONF_AUTH_PROXY | GUICONF_AUTH_BASIC);
	assert_string_equal(gc->users_file, "/srv/users");
	assert_int_equal(gc->ntrusted_proxies, 2);
	assert_string_equal(gc->trusted_proxies[0], "10.0.0.1");
	assert_string_equal(gc->trusted_proxies[1], "::1");
	assert_null(gc->trusted_proxies[2]);
	assert_string_equal(gc->proxy_header, "X-Remote-User");
	assert_string_equal(gc->proxy_default_role, "none");
	assert_int_equal(gc->login_max_failures, 10);
	assert_int_equal(gc->login_window, 600);
	assert_int_equal(gc->queue_backend, GUICONF_QUEUE_REDIS);
	assert_string_equal(gc->redis_url, "redis://10.0.0.2:6380/3");
	assert_int_equal(gc->lease_seconds, 30);
	assert_int_equal(gc->max_attempts, 5);
	assert_int_equal(gc->workers, 4);
	assert_int_equal(gc->embedded_worker, 0);
	assert_int_equal(gc->device_filter_any, 1);
	assert_string_equal(gc->mount_base, "/media");
	assert_string_equal(gc->smtp_url, "smtp://mail:25");
	assert_string_equal(gc->mail_from, "tb@example.org");
	assert_int_equal(gc->nmail_to, 2); /* an explicit mail_to wins over ADMIN_EMAIL */
	assert_string_equal(gc->mail_to[0], "a@example.org");
	assert_string_equal(gc->mail_to[1], "b@example.org");
	assert_string_equal(gc->webhook_url, "https://hooks.example.org/x");
	assert_int_equal(gc->alert_interval, 60);
	assert_int_equal(gc->scheduler_enabled, 0);
	assert_int_equal(gc->scheduler_catch_up, 600);
	guiconf_free(gc);
	/* listen forms */
	gc = load_ok("[web]\nlisten = :8081\n");
	assert_string_equal(gc->listen_host, "0.0.0.0");
	assert_int_equal(gc->listen_port, 8081);
	guiconf_free(gc);
	gc = load_ok("[web]\nlisten = 192.0.2.1:80\n[auth]\nproviders = local\n");
	assert_string_equal(gc->listen_host, "192.0.2.1");
	assert_int_equal(gc->listen_port, 80);
	assert_int_equal(gc->providers, GUICONF_AUTH_LOCAL);
	guiconf_free(gc);
}

static void
test_admin_email(void **state)
{
	struct guiconf *gc;

	(void)state;
	gc = load_ok("[general]\nADMIN_EMAIL = ops@example.org\n");
	assert_int_equal(gc->nmail_to, 1);
	assert_string_equal(gc->mail_to[0], "ops@example.org");
	assert_null(gc->mail_to[1]);
	guiconf_free(gc);
}

/* [queue] pools and pool_max_parallel: what the workers claim, and the limits. */
static void
test_pools(void **state)
{
	struct guiconf *gc;

	(void)state;
	gc = load_ok("[queue]\n");
	assert_int_equal(gc->npools, 1);
	assert_string_equal(gc->pools[0], "default");
	assert_int_equal(guiconf_pool_max(gc, "default"), 0);
	guiconf_free(gc);
	/* With config_tisbackup too (its list is replaced: the pool lists must survive). */
	gc = load_ok("[general]\nconfig_tisbackup = /a.ini, /b.ini\n[queue]\npools = site-a, "
	             "site_b.2\npool_max_parallel = site-a:4, x:1000\n");
	assert_int_equal(gc->npools, 2);
	assert_string_equal(gc->pools[1], "site_b.2");
	assert_int_equal(guiconf_pool_max(gc, "site-a"), 4);
	assert_int_equal(guiconf_pool_max(gc, "x"), 1000);
	assert_int_equal(guiconf_pool_max(gc, "site_b.2"), 0);
	assert_int_equal(guiconf_pool_max(gc, "site"), 0);
	guiconf_free(gc);
}

static void
test_bad_values(void **state)
{
	static const struct {
		const char *text;
		const char *needle[4];
	} cases[] = {
		{ "[web]\nsession_timeout = 10\n",
		  { ":2: [web] session_timeout:", "60 to 2592000", "'10'" } },
		{ "[web]\nsession_timeout = 1h\n", { ":2: [web] session_timeout:" } },
		{ "[web]\n\nmetrics_public = maybe\n",
		  { ":3: [web] metrics_public:", "yes or no" } },
		{ "[web]\nlisten = 8080\n", { ":2: [web] listen:", "ADDRESS:PORT" } },
		{ "[web]\nlisten = host:0\n", { ":2: [web] listen:" } },
		{ "[web]\nlisten = [::1:80\n", { ":2: [web] listen:" } },
		{ "[web]\nlisten = a:b:80\n", { ":2: [web] listen:" } },
		{ "[auth]\nproviders = ldap\n",
		  { ":2: [auth] providers:", "local, basic, proxy" } },
		{ "[auth]\nproviders = local,ldap\n", { ":2: [auth] providers:" } },
		{ "[auth]\nproxy_default_role = root\n", { ":2: [auth] proxy_default_role:" } },
		{ "[auth]\nlogin_max_failures = 0\n", { ":2: [auth] login_max_failures:" } },
		{ "[auth]\nlogin_window = 86401\n", { ":2: [auth] login_window:" } },
		{ "[queue]\nbackend = kafka\n", { ":2: [queue] backend:", "sqlite or redis" } },
		{ "[queue]\nredis_url = http://x\n", { ":2: [queue] redis_url:" } },
		{ "[queue]\nredis_url = redis://h:x\n",
		  { ":2: [queue] redis_url:", "bad port 'x'" } },
		{ "[queue]\nredis_url = redis://h:70000/0\n",
		  { ":2: [queue] redis_url:", "bad port '70000'" } },
		{ "[queue]\nredis_url = redis://:s3cr3t@h/db\n",
		  { ":2: [queue] redis_url:", "bad database number 'db'" } },
		{ "[queue]\nlease_seconds = 4\n", { ":2: [queue] lease_seconds:" } },
		{ "[queue]\nmax_attempts = 101\n", { ":2: [queue] max_attempts:" } },
		{ "[queue]\nworkers = 0\n", { ":2: [queue] workers:" } },
		{ "[queue]\npools = a, b c/d\n", { ":2: [queue] pools:", "1 to 64 of" } },
		{ "[queue]\npool_max_parallel = a:0\n",
		  { ":2: [queue] pool_max_parallel:", "POOL:N" } },
		{ "[queue]\npool_max_parallel = a\n", { ":2: [queue] pool_max_parallel:" } },
		{ "[queue]\npool_max_parallel = a b:2\n", { ":2: [queue] pool_max_parallel:" } },
		{ "[export]\ndevice_filter = sata\n",
		  { ":2: [export] device_filter:", "usb or any" } },
		{ "[alerts]\nalert_interval = -1\n", { ":2: [alerts] alert_interval:" } },
		{ "[alerts]\nsmtp_url = ftp://mail\n", { "[alerts] smtp_url:", "smtps://" } },
		{ "[alerts]\nwebhook_url = file:///etc/passwd\n", { "[alerts] webhook_url:" } },
		{ "[alerts]\nsmtp_user = u\n", { "smtp_user and smtp_password_file" } },
		{ "[scheduler]\nenabled = 2\n", { ":2: [scheduler] enabled:" } },
		{ "[general]\nconfig_tisbackup = ,\n", { ":2: [general] config_tisbackup:" } },
		/* several problems: all reported */
		{ "[web]\nsession_timeout = x\n[queue]\nworkers = 99\n",
		  { ":2: [web] session_timeout:", ":4: [queue] workers:" } },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *needles[6] = { path };
		size_t n = 1;

		for (size_t j = 0; j < 4 && cases[i].needle[j] != NULL; j++)
			needles[n++] = cases[i].needle[j];
		needles[n] = NULL;
		load_bad(cases[i].text, needles);
	}
}

/* A rejected redis_url never echoes its password (it reaches logs). */
static void
test_redis_url_secret(void **state)
{
	struct guiconf *gc = (struct guiconf *)1;
	struct err err;

	(void)state;
	put("[queue]\nredis_url = redis://alice:s3cr3t@h:x/0\n");
	err_clear(&err);
	assert_int_equal(guiconf_load(path, 0, &gc, &err), -1);
	assert_non_null(strstr(err.msg, "[queue] redis_url: bad port 'x'"));
	assert_null(strstr(err.msg, "s3cr3t"));
	put("[queue]\nredis_url = redis://alice:s3%zzcr3t@h\n");
	assert_int_equal(guiconf_load(path, 0, &gc, &err), -1);
	assert_non_null(strstr(err.msg, "percent-encoding in the password"));
	assert_null(strstr(err.msg, "zzcr3t"));
	gc = load_ok("[queue]\nredis_url = redis://alice:p%40ss/w@h:6380/2\n");
	assert_string_equal(gc->redis_url, "redis://alice:p%40ss/w@h:6380/2");
	guiconf_free(gc);
}

static void
test_tls_pair(void **state)
{
	struct guiconf *gc;

	(void)state;
	load_bad("[web]\ntls_cert = /c.pem\n",
	         (const char *const[]){ path, "tls_cert and tls_key", NULL });
	load_bad("[web]\ntls_key = /k.pem\n",
	         (const char *const[]){ path, "tls_cert and tls_key", NULL });
	gc = load_ok("[web]\ntls_cert = /c.pem\ntls_key = /k.pem\n");
	assert_string_equal(gc->tls_cert, "/c.pem");
	guiconf_free(gc);
}

static void
test_unknown_key(void **state)
{
	(void)state;
	load_bad("[web]\nlisten = 127.0.0.1:80\nlisten_port = 80\n",
	         (const char *const[]){ path, ":3: [web] listen_port: unknown key", NULL });
	load_bad("[auth]\nusers = /x\n",
	         (const char *const[]){ ":2: [auth] users: unknown key", NULL });
}

static void
test_unknown_section_warns(void **state)
{
	struct guiconf *gc;
	char buf[1024];
	ssize_t n;
	int saved, fd;

	(void)state;
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true((fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) != -1);
	dup2(fd, STDERR_FILENO);
	close(fd);
	gc = load_ok("[general]\nsections = a\n[legacy]\nwhatever = 1\n[web] trailing\n");
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	assert_string_equal(gc->sections, "a");
	/* The warnings reach the caller (syntax, then sections); nothing is printed. */
	assert_int_equal(gc->warnings.n, 2);
	assert_non_null(strstr(gc->warnings.v[0], ":5: [web]: text after ']' ignored"));
	assert_non_null(strstr(gc->warnings.v[1], ":3: [legacy]: unknown section, ignored"));
	assert_non_null(strstr(gc->warnings.v[1], path));
	guiconf_free(gc);
	assert_true((fd = open(errpath, O_RDONLY | O_CLOEXEC)) != -1);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	assert_int_equal(n, 0);
}

static void
test_syntax_error(void **state)
{
	(void)state;
	load_bad("[web\nlisten = :80\n", (const char *const[]){ path, ":1", NULL });
}

static int
setup(void **state)
{
	(void)state;
	if (tb_tmpdir_make(dir, sizeof dir, "guiconf") == -1)
		return -1;
	snprintf(path, sizeof path, "%s/gui.ini", dir);
	snprintf(errpath, sizeof errpath, "%s/stderr", dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	return tb_tmpdir_remove(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_admin_email),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_pools),
		cmocka_unit_test(test_tls_pair),
		cmocka_unit_test(test_redis_url_secret),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_unknown_section_warns),
		cmocka_unit_test(test_syntax_error),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
