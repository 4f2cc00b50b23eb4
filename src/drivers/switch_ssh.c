/*
 * A switch's CLI over ssh, as a dialog transport (dialog.h): libssh does
 * the protocol, the host key check against the job's known_hosts_file
 * (the policy of the other drivers: accept-new records an unknown key,
 * strict refuses it, a changed key is always refused), the public key or
 * password authentication, and a shell on a pty, which is what a switch's
 * CLI expects. No process is spawned and the password never leaves the
 * library's memory and the encrypted channel.
 */
#include "drivers/switch.h"

#include <libssh/libssh.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/dynlib.h"
#include "util/xmalloc.h"

/*
 * libssh, opened on first use (util/dynlib.h): only a run that backs up a
 * switch over ssh maps it and the libcrypto and Kerberos libraries it
 * pulls in. The members have the types of libssh's own declarations.
 */
struct libssh_api {
	__typeof__(&ssh_channel_close) channel_close;
	__typeof__(&ssh_channel_free) channel_free;
	__typeof__(&ssh_channel_is_closed) channel_is_closed;
	__typeof__(&ssh_channel_is_eof) channel_is_eof;
	__typeof__(&ssh_channel_is_open) channel_is_open;
	__typeof__(&ssh_channel_new) channel_new;
	__typeof__(&ssh_channel_open_session) channel_open_session;
	__typeof__(&ssh_channel_read_timeout) channel_read_timeout;
	__typeof__(&ssh_channel_request_pty_size) channel_request_pty_size;
	__typeof__(&ssh_channel_request_shell) channel_request_shell;
	__typeof__(&ssh_channel_send_eof) channel_send_eof;
	__typeof__(&ssh_channel_write) channel_write;
	__typeof__(&ssh_connect) connect;
	__typeof__(&ssh_disconnect) disconnect;
	__typeof__(&ssh_free) free;
	__typeof__(&ssh_get_error) get_error;
	__typeof__(&ssh_key_free) key_free;
	__typeof__(&ssh_new) new;
	__typeof__(&ssh_options_set) options_set;
	__typeof__(&ssh_pki_import_privkey_file) pki_import_privkey_file;
	__typeof__(&ssh_session_is_known_server) session_is_known_server;
	__typeof__(&ssh_session_update_known_hosts) session_update_known_hosts;
	__typeof__(&ssh_userauth_kbdint) userauth_kbdint;
	__typeof__(&ssh_userauth_kbdint_getnprompts) userauth_kbdint_getnprompts;
	__typeof__(&ssh_userauth_kbdint_setanswer) userauth_kbdint_setanswer;
	__typeof__(&ssh_userauth_password) userauth_password;
	__typeof__(&ssh_userauth_publickey) userauth_publickey;
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct libssh_api api;
static const struct libssh_api *L;
static struct err load_failure;

static void
load(void)
{
	static const char *const names[] = { "libssh.so.4", NULL };
	const struct dynsym syms[] = {
		{ "ssh_channel_close", &api.channel_close },
		{ "ssh_channel_free", &api.channel_free },
		{ "ssh_channel_is_closed", &api.channel_is_closed },
		{ "ssh_channel_is_eof", &api.channel_is_eof },
		{ "ssh_channel_is_open", &api.channel_is_open },
		{ "ssh_channel_new", &api.channel_new },
		{ "ssh_channel_open_session", &api.channel_open_session },
		{ "ssh_channel_read_timeout", &api.channel_read_timeout },
		{ "ssh_channel_request_pty_size", &api.channel_request_pty_size },
		{ "ssh_channel_request_shell", &api.channel_request_shell },
		{ "ssh_channel_send_eof", &api.channel_send_eof },
		{ "ssh_channel_write", &api.channel_write },
		{ "ssh_connect", &api.connect },
		{ "ssh_disconnect", &api.disconnect },
		{ "ssh_free", &api.free },
		{ "ssh_get_error", &api.get_error },
		{ "ssh_key_free", &api.key_free },
		{ "ssh_new", &api.new },
		{ "ssh_options_set", &api.options_set },
		{ "ssh_pki_import_privkey_file", &api.pki_import_privkey_file },
		{ "ssh_session_is_known_server", &api.session_is_known_server },
		{ "ssh_session_update_known_hosts", &api.session_update_known_hosts },
		{ "ssh_userauth_kbdint", &api.userauth_kbdint },
		{ "ssh_userauth_kbdint_getnprompts", &api.userauth_kbdint_getnprompts },
		{ "ssh_userauth_kbdint_setanswer", &api.userauth_kbdint_setanswer },
		{ "ssh_userauth_password", &api.userauth_password },
		{ "ssh_userauth_publickey", &api.userauth_publickey },
		{ NULL, NULL },
	};

	if (dynlib_open("libssh", "the package libssh-4", names, syms, &load_failure) == 0)
		L = &api;
}

struct ssh_tr {
	ssh_session s;
	ssh_channel ch;
};

static long
ssh_tr_recv(void *t, char *buf, size_t len, int timeout_ms, struct err *err)
{
	struct ssh_tr *x = t;
	int n = L->channel_read_timeout(x->ch, buf, (uint32_t)len, 0, timeout_ms);

	if (n == SSH_ERROR) {
		err_set(err, "reading from the ssh channel: %s", L->get_error(x->s));
		return -1;
	}
	if (n > 0)
		return n;
	if (L->channel_is_eof(x->ch) || L->channel_is_closed(x->ch))
		return -2;
	return 0;
}

static int
ssh_tr_send(void *t, const char *buf, size_t len, struct err *err)
{
	struct ssh_tr *x = t;

	while (len > 0) {
		int n = L->channel_write(x->ch, buf, (uint32_t)len);

		if (n == SSH_ERROR) {
			err_set(err, "writing to the ssh channel: %s", L->get_error(x->s));
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static void
ssh_tr_close(void *t)
{
	struct ssh_tr *x = t;

	if (x == NULL)
		return;
	if (x->ch != NULL) {
		if (L->channel_is_open(x->ch)) {
			L->channel_send_eof(x->ch);
			L->channel_close(x->ch);
		}
		L->channel_free(x->ch);
	}
	if (x->s != NULL) {
		L->disconnect(x->s);
		L->free(x->s);
	}
	free(x);
}

/* Check the server's key as the policy says. 0, or -1 + err. */
static int
check_host_key(const struct switch_ssh_target *t, ssh_session s, struct err *err)
{
	switch (L->session_is_known_server(s)) {
	case SSH_KNOWN_HOSTS_OK:
		return 0;
	case SSH_KNOWN_HOSTS_CHANGED:
	case SSH_KNOWN_HOSTS_OTHER:
		err_set(err,
		        "the host key of %s changed since it was recorded in %s: check the "
		        "switch, then remove its old line from that file",
		        t->host, t->known_hosts != NULL ? t->known_hosts : "~/.ssh/known_hosts");
		return -1;
	case SSH_KNOWN_HOSTS_NOT_FOUND:
	case SSH_KNOWN_HOSTS_UNKNOWN:
		if (t->strict) {
			err_set(err,
			        "the host key of %s is not in %s (host_key_policy = strict): add "
			        "it with ssh-keyscan",
			        t->host,
			        t->known_hosts != NULL ? t->known_hosts : "~/.ssh/known_hosts");
			return -1;
		}
		if (L->session_update_known_hosts(s) != SSH_OK) {
			err_set(err, "recording the host key of %s: %s", t->host, L->get_error(s));
			return -1;
		}
		return 0;
	case SSH_KNOWN_HOSTS_ERROR:
		break;
	}
	err_set(err, "checking the host key of %s: %s", t->host, L->get_error(s));
	return -1;
}

/* Authenticate with the key, then the password. 0, or -1 + err. */
static int
authenticate(const struct switch_ssh_target *t, ssh_session s, struct err *err)
{
	int rc;

	if (t->private_key != NULL) {
		ssh_key key = NULL;

		if (L->pki_import_privkey_file(t->private_key, NULL, NULL, NULL, &key) != SSH_OK) {
			err_set(err, "private_key %s: cannot read it as a key", t->private_key);
			return -1;
		}
		rc = L->userauth_publickey(s, NULL, key);
		L->key_free(key);
		if (rc == SSH_AUTH_SUCCESS)
			return 0;
	}
	if (t->password != NULL) {
		rc = L->userauth_password(s, NULL, t->password);
		if (rc == SSH_AUTH_SUCCESS)
			return 0;
		/* Many switches offer only keyboard-interactive: the same password. */
		while ((rc = L->userauth_kbdint(s, NULL, NULL)) == SSH_AUTH_INFO) {
			int n = L->userauth_kbdint_getnprompts(s);

			for (int i = 0; i < n; i++)
				if (L->userauth_kbdint_setanswer(s, (unsigned)i, t->password) < 0)
					break;
		}
		if (rc == SSH_AUTH_SUCCESS)
			return 0;
	}
	err_set(err, "authentication as %s refused (%s)", t->user,
	        t->private_key != NULL && t->password != NULL ? "key and password"
	        : t->private_key != NULL                      ? "key"
	        : t->password != NULL                         ? "password"
	                                                      : "no key nor password configured");
	return -1;
}

int
switch_ssh_available(struct err *err)
{
	pthread_once(&once, load);
	if (L == NULL) {
		err_set(err, "%s", load_failure.msg);
		return -1;
	}
	return 0;
}

int
switch_ssh_connect(const struct switch_ssh_target *t, struct dialog_transport *tr, struct err *err)
{
	struct ssh_tr *x;
	long timeout = t->timeout_sec > 0 ? t->timeout_sec : 30;
	int port = t->port, verbosity = SSH_LOG_NOLOG;
	bool no_config = false;

	if (switch_ssh_available(err) == -1) {
		err_wrap(err, "ssh to %s:%d", t->host, t->port);
		return -1;
	}
	x = xcalloc(1, sizeof *x);
	x->s = L->new ();
	if (x->s == NULL) {
		err_set(err, "ssh to %s:%d: cannot start a libssh session", t->host, port);
		free(x);
		return -1;
	}
	L->options_set(x->s, SSH_OPTIONS_LOG_VERBOSITY, &verbosity);
	L->options_set(x->s, SSH_OPTIONS_PROCESS_CONFIG, &no_config);
	if (L->options_set(x->s, SSH_OPTIONS_HOST, t->host) != SSH_OK ||
	    L->options_set(x->s, SSH_OPTIONS_PORT, &port) != SSH_OK ||
	    L->options_set(x->s, SSH_OPTIONS_USER, t->user) != SSH_OK ||
	    L->options_set(x->s, SSH_OPTIONS_TIMEOUT, &timeout) != SSH_OK ||
	    (t->known_hosts != NULL &&
	     L->options_set(x->s, SSH_OPTIONS_KNOWNHOSTS, t->known_hosts) != SSH_OK)) {
		err_set(err, "ssh to %s:%d: %s", t->host, port, L->get_error(x->s));
		goto fail;
	}
	if (L->connect(x->s) != SSH_OK) {
		err_set(err, "ssh to %s:%d: %s", t->host, port, L->get_error(x->s));
		goto fail;
	}
	if (check_host_key(t, x->s, err) == -1 || authenticate(t, x->s, err) == -1) {
		err_wrap(err, "ssh to %s:%d", t->host, port);
		goto fail;
	}
	x->ch = L->channel_new(x->s);
	if (x->ch == NULL || L->channel_open_session(x->ch) != SSH_OK ||
	    L->channel_request_pty_size(x->ch, "vt100", 200, 24) != SSH_OK ||
	    L->channel_request_shell(x->ch) != SSH_OK) {
		err_set(err, "ssh to %s:%d: opening a shell on a pty: %s", t->host, port,
		        L->get_error(x->s));
		goto fail;
	}
	tr->recv = ssh_tr_recv;
	tr->send = ssh_tr_send;
	tr->close = ssh_tr_close;
	tr->t = x;
	return 0;
fail:
	ssh_tr_close(x);
	return -1;
}
