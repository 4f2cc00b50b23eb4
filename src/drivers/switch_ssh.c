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
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"

struct ssh_tr {
	ssh_session s;
	ssh_channel ch;
};

static long
ssh_tr_recv(void *t, char *buf, size_t len, int timeout_ms, struct err *err)
{
	struct ssh_tr *x = t;
	int n = ssh_channel_read_timeout(x->ch, buf, (uint32_t)len, 0, timeout_ms);

	if (n == SSH_ERROR) {
		err_set(err, "reading from the ssh channel: %s", ssh_get_error(x->s));
		return -1;
	}
	if (n > 0)
		return n;
	if (ssh_channel_is_eof(x->ch) || ssh_channel_is_closed(x->ch))
		return -2;
	return 0;
}

static int
ssh_tr_send(void *t, const char *buf, size_t len, struct err *err)
{
	struct ssh_tr *x = t;

	while (len > 0) {
		int n = ssh_channel_write(x->ch, buf, (uint32_t)len);

		if (n == SSH_ERROR) {
			err_set(err, "writing to the ssh channel: %s", ssh_get_error(x->s));
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
		if (ssh_channel_is_open(x->ch)) {
			ssh_channel_send_eof(x->ch);
			ssh_channel_close(x->ch);
		}
		ssh_channel_free(x->ch);
	}
	if (x->s != NULL) {
		ssh_disconnect(x->s);
		ssh_free(x->s);
	}
	free(x);
}

/* Check the server's key as the policy says. 0, or -1 + err. */
static int
check_host_key(const struct switch_ssh_target *t, ssh_session s, struct err *err)
{
	switch (ssh_session_is_known_server(s)) {
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
		if (ssh_session_update_known_hosts(s) != SSH_OK) {
			err_set(err, "recording the host key of %s: %s", t->host, ssh_get_error(s));
			return -1;
		}
		return 0;
	case SSH_KNOWN_HOSTS_ERROR:
		break;
	}
	err_set(err, "checking the host key of %s: %s", t->host, ssh_get_error(s));
	return -1;
}

/* Authenticate with the key, then the password. 0, or -1 + err. */
static int
authenticate(const struct switch_ssh_target *t, ssh_session s, struct err *err)
{
	int rc;

	if (t->private_key != NULL) {
		ssh_key key = NULL;

		if (ssh_pki_import_privkey_file(t->private_key, NULL, NULL, NULL, &key) != SSH_OK) {
			err_set(err, "private_key %s: cannot read it as a key", t->private_key);
			return -1;
		}
		rc = ssh_userauth_publickey(s, NULL, key);
		ssh_key_free(key);
		if (rc == SSH_AUTH_SUCCESS)
			return 0;
	}
	if (t->password != NULL) {
		rc = ssh_userauth_password(s, NULL, t->password);
		if (rc == SSH_AUTH_SUCCESS)
			return 0;
		/* Many switches offer only keyboard-interactive: the same password. */
		while ((rc = ssh_userauth_kbdint(s, NULL, NULL)) == SSH_AUTH_INFO) {
			int n = ssh_userauth_kbdint_getnprompts(s);

			for (int i = 0; i < n; i++)
				if (ssh_userauth_kbdint_setanswer(s, (unsigned)i, t->password) < 0)
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
switch_ssh_connect(const struct switch_ssh_target *t, struct dialog_transport *tr, struct err *err)
{
	struct ssh_tr *x = xcalloc(1, sizeof *x);
	long timeout = t->timeout_sec > 0 ? t->timeout_sec : 30;
	int port = t->port, verbosity = SSH_LOG_NOLOG;
	bool no_config = false;

	x->s = ssh_new();
	if (x->s == NULL) {
		err_set(err, "ssh to %s:%d: cannot start a libssh session", t->host, port);
		free(x);
		return -1;
	}
	ssh_options_set(x->s, SSH_OPTIONS_LOG_VERBOSITY, &verbosity);
	ssh_options_set(x->s, SSH_OPTIONS_PROCESS_CONFIG, &no_config);
	if (ssh_options_set(x->s, SSH_OPTIONS_HOST, t->host) != SSH_OK ||
	    ssh_options_set(x->s, SSH_OPTIONS_PORT, &port) != SSH_OK ||
	    ssh_options_set(x->s, SSH_OPTIONS_USER, t->user) != SSH_OK ||
	    ssh_options_set(x->s, SSH_OPTIONS_TIMEOUT, &timeout) != SSH_OK ||
	    (t->known_hosts != NULL &&
	     ssh_options_set(x->s, SSH_OPTIONS_KNOWNHOSTS, t->known_hosts) != SSH_OK)) {
		err_set(err, "ssh to %s:%d: %s", t->host, port, ssh_get_error(x->s));
		goto fail;
	}
	if (ssh_connect(x->s) != SSH_OK) {
		err_set(err, "ssh to %s:%d: %s", t->host, port, ssh_get_error(x->s));
		goto fail;
	}
	if (check_host_key(t, x->s, err) == -1 || authenticate(t, x->s, err) == -1) {
		err_wrap(err, "ssh to %s:%d", t->host, port);
		goto fail;
	}
	x->ch = ssh_channel_new(x->s);
	if (x->ch == NULL || ssh_channel_open_session(x->ch) != SSH_OK ||
	    ssh_channel_request_pty_size(x->ch, "vt100", 200, 24) != SSH_OK ||
	    ssh_channel_request_shell(x->ch) != SSH_OK) {
		err_set(err, "ssh to %s:%d: opening a shell on a pty: %s", t->host, port,
		        ssh_get_error(x->s));
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
