/*
 * The OpenSSH client as our transport (see ssh.h). We use the system ssh
 * rather than a library so the admin's ~/.ssh/config (ProxyJump, ciphers,
 * ControlMaster) keeps applying, exactly as with the original.
 */
#include "ssh.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "jobconf.h"
#include "log.h"
#include "quote.h"
#include "spawn.h"
#include "watchdog.h"
#include "util/buf.h"
#include "util/xmalloc.h"

/*
 * ssh_config values are split on whitespace (with "double quotes") and
 * expand %-tokens: quote what needs it.
 */
static char *
ssh_config_value(const char *v)
{
	struct buf b;
	int quote = strpbrk(v, " \t") != NULL;

	buf_init(&b, 1 << 16);
	if (quote)
		buf_putc(&b, '"');
	for (; *v != '\0'; v++) {
		if (*v == '%')
			buf_putc(&b, '%');
		buf_putc(&b, *v);
	}
	if (quote)
		buf_putc(&b, '"');
	return buf_steal(&b);
}

/*
 * A file name as one ssh_config argument (-o Key=VALUE): blanks, quotes
 * and backslashes escaped with a backslash, '%' doubled, so ssh reads back
 * exactly the name (it expands %-tokens in IdentityFile). "${" has no
 * escape: ssh_check_target() refuses it.
 */
static char *
ssh_config_path(const char *v)
{
	struct buf b;

	buf_init(&b, 1 << 16);
	for (; *v != '\0'; v++) {
		if (*v == '%')
			buf_putc(&b, '%');
		else if (strchr(" \t\"'\\", *v) != NULL)
			buf_putc(&b, '\\');
		buf_putc(&b, *v);
	}
	return buf_steal(&b);
}

static pthread_once_t control_once = PTHREAD_ONCE_INIT;
static char control_dir[64]; /* "" when connection sharing is unavailable */

/*
 * A private folder for ControlMaster sockets: /run/tisbackup/ssh for root,
 * /tmp/tisbackup-ssh-UID otherwise, ours and mode 0700 or not used at all
 * (another user's socket there could impersonate a server).
 */
static void
control_dir_init(void)
{
	struct stat st;
	char dir[64];

	if (geteuid() == 0) {
		mkdir("/run/tisbackup", 0700);
		snprintf(dir, sizeof dir, "/run/tisbackup/ssh");
	} else {
		snprintf(dir, sizeof dir, "/tmp/tisbackup-ssh-%u", (unsigned)geteuid());
	}
	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		goto off;
	if (lstat(dir, &st) == -1 || !S_ISDIR(st.st_mode) || st.st_uid != geteuid() ||
	    (st.st_mode & 077) != 0)
		goto off;
	snprintf(control_dir, sizeof control_dir, "%s", dir);
	return;
off:
	log_debug(NULL, "ssh connection sharing disabled: %s is not a private folder", dir);
	control_dir[0] = '\0';
}

/* FNV-1a over s, continuing from h. */
static uint64_t
fnv1a(uint64_t h, const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h * 0x100000001b3ULL; /* separator */
}

/*
 * Sharing options: one master connection per server, user, port *and*
 * identity (key, known_hosts, policy, cipher), kept 60 s after its last
 * use so preexec, the transfer, postexec and the next job of that server
 * reuse it. %C is ssh's hash of host, port and user.
 */
static void
ssh_sharing_argv(const struct job *job, struct strv *out)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	if (!job_get_bool(job, "ssh_connection_sharing", 1))
		return;
	pthread_once(&control_once, control_dir_init);
	if (control_dir[0] == '\0')
		return;
	h = fnv1a(h, job->private_key);
	h = fnv1a(h, job_get(job, "known_hosts_file"));
	h = fnv1a(h, job_get(job, "host_key_policy"));
	h = fnv1a(h, job_get(job, "cipher_spec"));
	strv_push(out, "-o");
	strv_push(out, "ControlMaster=auto");
	strv_push(out, "-o");
	strv_pushf(out, "ControlPath=%s/%%C-%016llx", control_dir, (unsigned long long)h);
	strv_push(out, "-o");
	strv_push(out, "ControlPersist=60");
}

void
ssh_base_argv(const struct job *job, struct strv *out)
{
	const char *khf = job_get(job, "known_hosts_file");
	const char *policy = job_get(job, "host_key_policy");
	const char *cipher = job_get(job, "cipher_spec");

	strv_push(out, "ssh");
	strv_push(out, "-o");
	strv_push(out, "BatchMode=yes");
	strv_push(out, "-o");
	strv_push(out, "ConnectTimeout=30");
	strv_push(out, "-o");
	strv_push(out, "ServerAliveInterval=30");
	strv_push(out, "-o");
	strv_push(out, "ServerAliveCountMax=4");
	strv_push(out, "-o");
	if (policy != NULL && strcmp(policy, "strict") == 0)
		strv_push(out, "StrictHostKeyChecking=yes");
	else
		strv_push(out, "StrictHostKeyChecking=accept-new");
	if (khf != NULL) {
		char *v = ssh_config_value(khf);

		strv_push(out, "-o");
		strv_pushf(out, "UserKnownHostsFile=%s", v);
		free(v);
	}
	if (job->private_key != NULL) {
		/* Not -i: ssh would expand %-tokens in a name it was given as is. */
		char *v = ssh_config_path(job->private_key);

		strv_push(out, "-o");
		strv_push(out, "IdentitiesOnly=yes");
		strv_push(out, "-o");
		strv_pushf(out, "IdentityFile=%s", v);
		free(v);
	}
	if (job->ssh_port != 22) {
		strv_push(out, "-p");
		strv_pushf(out, "%d", job->ssh_port);
	}
	if (cipher != NULL) {
		strv_push(out, "-c");
		strv_push(out, cipher);
	}
	ssh_sharing_argv(job, out);
}

int
ssh_host_ok(const char *host)
{
	if (host[0] == '\0' || host[0] == '-' || strpbrk(host, " \t\n@:/") != NULL)
		return 0;
	for (const char *p = host; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	return 1;
}

int
ssh_user_ok(const char *user)
{
	if (user[0] == '\0' || user[0] == '-')
		return 0;
	for (const char *p = user; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("._-$\\", *p) == NULL)
			return 0;
	return 1;
}

int
ssh_check_target(const struct job *job, struct err *err)
{
	static const char *const path_keys[] = { "private_key", "known_hosts_file" };
	const char *p;

	for (size_t i = 0; i < sizeof path_keys / sizeof path_keys[0]; i++) {
		p = job_get(job, path_keys[i]);
		if (p != NULL && strstr(p, "${") != NULL) {
			err_set(err,
			        "%s: '%s' holds '${', which ssh replaces with an environment "
			        "variable: rename the file or its folder",
			        path_keys[i], p);
			return -1;
		}
	}

	if (!ssh_host_ok(job->server_name)) {
		err_set(err, "server_name: '%s' is not a host name", job->server_name);
		return -1;
	}
	if (!ssh_user_ok(job->remote_user))
		goto bad_user;
	return 0;
bad_user:
	/* sqlserver+ssh takes the login from username when remote_user is unset */
	err_set(err, "%s: '%s' is not a user name",
	        job->remote_user == job_get(job, "username") ? "username" : "remote_user",
	        job->remote_user);
	return -1;
}

char *
ssh_destination(const struct job *job)
{
	return xasprintf("%s@%s", job->remote_user, job->server_name);
}

/* Keeps the last few output lines of a command for its error message. */
struct cmd_tail {
	const struct job *job;
	const char *what;
	char *lines[5];
	size_t next;
	struct ssh_diag diag;
};

static int starts(const char *s, size_t len, const char *prefix);

/*
 * 1 for ssh's own goodbye when it ran the command on a terminal
 * ("Connection to HOST closed.", "Shared connection to HOST closed."):
 * not the hook's output.
 */
static int
tty_goodbye(const char *s, size_t len)
{
	static const char end[] = " closed.";
	size_t n = sizeof end - 1;

	return (starts(s, len, "Connection to ") || starts(s, len, "Shared connection to ")) &&
	       len > n && memcmp(s + len - n, end, n) == 0;
}

static void
cmd_on_line(void *ctx, enum spawn_stream stream, const char *line, size_t len)
{
	struct cmd_tail *t = ctx;

	(void)stream;
	if (tty_goodbye(line, len))
		return;
	/* A hook's output is the admin's own: always in the run log. */
	log_msg(LOG_INFO, t->job->name, "%s: %.*s", t->what, (int)len, line);
	if (ssh_diag_feed(&t->diag, line, len))
		return;
	free(t->lines[t->next]);
	t->lines[t->next] = xstrndup(line, len);
	t->next = (t->next + 1) % 5;
}

static pthread_once_t hook_env_once = PTHREAD_ONCE_INIT;
static const char *hook_env[16];

/*
 * spawn's default environment plus TERM=dumb, the terminal type ssh asks
 * for the hook's terminal: programs that would page or colour their
 * output on a terminal (systemctl, git, ls) print plain lines.
 */
static void
hook_env_build(void)
{
	const char *const *d = spawn_default_env();
	size_t n = 0;

	for (; n < sizeof hook_env / sizeof hook_env[0] - 2 && d[n] != NULL; n++)
		hook_env[n] = d[n];
	hook_env[n++] = "TERM=dumb";
	hook_env[n] = NULL;
}

int
ssh_run_command(const struct job *job, struct progress *pg, const char *what, const char *command,
                int timeout_sec, struct err *err)
{
	struct cmd_tail tail = { .job = job, .what = what };
	struct spawn_opts so;
	struct spawn_result res;
	struct strv av;
	char *dest = ssh_destination(job);
	char desc[128];
	int rc = -1;

	strv_init(&av);
	ssh_base_argv(job, &av);
	/*
	 * On a terminal (-tt: though ours is not one): when the session ends
	 * before the command (a cancel, a signal, exec_timeout, the watchdog
	 * ending ssh, or a lost connection), sshd hangs that terminal up and
	 * the kernel sends SIGHUP to the command's process group. Without a
	 * terminal sshd signals nothing, and the command would live on.
	 * Its input stays /dev/null, as without a terminal: a command that
	 * reads it sees its end instead of waiting on the terminal.
	 */
	strv_push(&av, "-tt");
	/*
	 * Its own connection, not the shared master's (-S none overrides
	 * ControlPath): a session of a shared master whose earlier session
	 * was hung up could end with 255 (it_queue's hand-back).
	 */
	strv_push(&av, "-S");
	strv_push(&av, "none");
	strv_push(&av, "--");
	strv_push(&av, dest);
	strv_pushf(&av, "exec </dev/null\n%s", command);

	pthread_once(&hook_env_once, hook_env_build);
	spawn_opts_init(&so);
	so.argv = (const char *const *)strv_argv(&av);
	so.envp = hook_env;
	so.merge_stderr = 1;
	so.timeout_sec = timeout_sec;
	watchdog_spawn(pg, &so);
	so.on_line = cmd_on_line;
	so.ctx = &tail;
	log_info(job->name, "running %s on %s", what, job->server_name);
	if (spawn_run(&so, &res, err) == -1) {
		err_wrap(err, "%s", what);
		goto out;
	}
	if (res.exited && res.code == 0) {
		log_info(job->name, "%s done on %s", what, job->server_name);
		rc = 0;
		goto out;
	}
	spawn_describe(&res, desc, sizeof desc);
	err_set(err, "%s failed on %s (%s)", what, job->server_name, desc);
	ssh_diag_exit(&tail.diag, job, res.exited, res.code, err);
	for (size_t i = 0; i < 5; i++) {
		const char *l = tail.lines[(tail.next + i) % 5];

		if (l != NULL)
			err_append_line(err, "%s", l);
	}
out:
	for (size_t i = 0; i < 5; i++)
		free(tail.lines[i]);
	free(dest);
	strv_free(&av);
	return rc;
}

/* ---------------------------------------------------------------- ssh's own errors */

/* 1 if the len bytes at s hold needle. */
static int
has(const char *s, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = 0; n <= len && i <= len - n; i++)
		if (memcmp(s + i, needle, n) == 0)
			return 1;
	return 0;
}

/* 1 if the len bytes at s start with prefix. */
static int
starts(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(s, prefix, n) == 0;
}

/*
 * "[user@host: ]Permission denied (publickey,password)." ending the line:
 * ssh's list of methods, not an errno's "(13)".
 */
static int
auth_denied(const char *s, size_t len)
{
	static const char pd[] = "Permission denied (";
	size_t i, n = sizeof pd - 1;

	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len < n + 2 || s[len - 1] != ')')
		return 0;
	/* Back from the ')' over the methods to the '('. */
	for (i = len - 1;
	     i > 0 && (islower((unsigned char)s[i - 1]) || s[i - 1] == '-' || s[i - 1] == ','); i--)
		;
	if (i == len - 1 || i < n)
		return 0;
	return memcmp(s + i - n, pd, n) == 0;
}

enum ssh_fault
ssh_classify_line(const char *s, size_t len)
{
	if (auth_denied(s, len))
		return SSH_FAULT_AUTH;
	if (has(s, len, "Too many authentication failures"))
		return SSH_FAULT_AUTH;
	if (has(s, len, "REMOTE HOST IDENTIFICATION HAS CHANGED") ||
	    (starts(s, len, "Host key for ") && has(s, len, " has changed")))
		return SSH_FAULT_HOSTKEY_CHANGED;
	if (starts(s, len, "No ") && has(s, len, " host key is known for "))
		return SSH_FAULT_HOST_UNKNOWN;
	if (starts(s, len, "Host key verification failed"))
		return SSH_FAULT_HOSTKEY;
	if (starts(s, len, "no such identity: ") || starts(s, len, "Load key \"") ||
	    has(s, len, "UNPROTECTED PRIVATE KEY FILE") ||
	    (starts(s, len, "Warning: Identity file ") && has(s, len, "not accessible")))
		return SSH_FAULT_KEY_FILE;
	if (starts(s, len, "ssh: Could not resolve hostname "))
		return SSH_FAULT_DNS;
	if (starts(s, len, "ssh: connect to host ")) {
		if (has(s, len, "Connection refused"))
			return SSH_FAULT_REFUSED;
		if (has(s, len, "timed out"))
			return SSH_FAULT_TIMEOUT;
		if (has(s, len, "No route to host") || has(s, len, "Network is unreachable"))
			return SSH_FAULT_UNREACHABLE;
		return SSH_FAULT_CLOSED;
	}
	if (starts(s, len, "Connection timed out during banner exchange") ||
	    (starts(s, len, "Connection to ") && has(s, len, " timed out")))
		return SSH_FAULT_TIMEOUT;
	if (starts(s, len, "Timeout, server ") || starts(s, len, "client_loop: ") ||
	    starts(s, len, "packet_write_wait: ") || starts(s, len, "Read from remote host ") ||
	    (starts(s, len, "Connection to ") && has(s, len, " closed by remote host")))
		return SSH_FAULT_LOST;
	if (starts(s, len, "kex_exchange_identification: ") ||
	    starts(s, len, "ssh_exchange_identification: ") ||
	    starts(s, len, "Connection closed by ") || starts(s, len, "Connection reset by ") ||
	    starts(s, len, "banner exchange: "))
		return SSH_FAULT_CLOSED;
	return SSH_FAULT_NONE;
}

/* Copy the len bytes at s into dst (SSH_DIAG_LINE), without a box's '@' and blanks. */
static void
diag_copy(char *dst, const char *s, size_t len)
{
	while (len > 0 && (*s == '@' || *s == ' ')) {
		s++;
		len--;
	}
	if (starts(s, len, "ssh: ")) { /* quoted as "ssh: LINE" */
		s += 5;
		len -= 5;
	}
	while (len > 0 && (s[len - 1] == '@' || s[len - 1] == ' ' || s[len - 1] == '\r'))
		len--;
	snprintf(dst, SSH_DIAG_LINE, "%.*s", (int)len, s);
}

int
ssh_diag_feed(struct ssh_diag *d, const char *s, size_t len)
{
	enum ssh_fault f = ssh_classify_line(s, len);
	size_t i;

	if (f == SSH_FAULT_NONE) {
		/* A line of '@' frames ssh's warning boxes. */
		for (i = 0; i < len && s[i] == '@'; i++)
			;
		if (len >= 10 && i == len)
			return 1;
		if (!d->in_banner)
			return 0;
		/* "Offending ED25519 key in /root/.ssh/known_hosts:3" */
		if (starts(s, len, "Offending ") && has(s, len, " key in ")) {
			const char *p = s, *end = s + len, *colon = NULL;

			while (p + 8 <= end && memcmp(p, " key in ", 8) != 0)
				p++;
			p += 8;
			for (const char *q = p; q < end; q++)
				if (*q == ':')
					colon = q;
			if (colon != NULL && colon > p)
				snprintf(d->known_hosts, sizeof d->known_hosts, "%.*s",
				         (int)(colon - p), p);
		}
		return 1;
	}
	if (f == SSH_FAULT_HOSTKEY_CHANGED)
		d->in_banner = 1;
	else if (f == SSH_FAULT_HOSTKEY)
		d->in_banner = 0;
	if (f > d->fault) {
		d->fault = f;
		diag_copy(d->cause, s, len);
		d->last[0] = '\0';
	} else {
		char line[SSH_DIAG_LINE];

		diag_copy(line, s, len);
		if (strcmp(line, d->cause) != 0)
			snprintf(d->last, sizeof d->last, "%s", line);
	}
	return 1;
}

const char *
ssh_fault_name(enum ssh_fault fault)
{
	switch (fault) {
	case SSH_FAULT_NONE:
		return "no ssh error";
	case SSH_FAULT_HOSTKEY:
		return "the host key could not be verified";
	case SSH_FAULT_CLOSED:
		return "the server closed the connection before the login";
	case SSH_FAULT_LOST:
		return "the connection was lost";
	case SSH_FAULT_AUTH:
		return "the login was refused";
	case SSH_FAULT_REFUSED:
		return "the connection was refused";
	case SSH_FAULT_TIMEOUT:
		return "the connection timed out";
	case SSH_FAULT_UNREACHABLE:
		return "the host is unreachable";
	case SSH_FAULT_DNS:
		return "the host name does not resolve";
	case SSH_FAULT_KEY_FILE:
		return "the private key cannot be used";
	case SSH_FAULT_HOST_UNKNOWN:
		return "the host key is not known";
	case SSH_FAULT_HOSTKEY_CHANGED:
		return "the host key changed";
	}
	return "?";
}

/* A word for a message: as is when plain, else quoted for a shell. */
static void
put_word(struct buf *b, const char *w)
{
	const char *p;

	for (p = w; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("_./:@%+=,-[]~", *p) == NULL)
			break;
	if (*w != '\0' && *p == '\0')
		buf_puts(b, w);
	else
		quote_sh_word(b, w);
}

int
ssh_diag_explain(const struct ssh_diag *d, const struct job *job, struct err *err)
{
	const char *host = job->server_name, *user = job->remote_user;
	const char *key = job->private_key;
	const char *kh =
	    d->known_hosts[0] != '\0' ? d->known_hosts : job_get(job, "known_hosts_file");
	struct buf b;
	char *spec;

	if (d->fault == SSH_FAULT_NONE)
		return 0;
	spec = job->ssh_port != 22 ? xasprintf("[%s]:%d", host, job->ssh_port) : xstrdup(host);
	buf_init(&b, 4096);
	buf_printf(&b, "%s: ", ssh_fault_name(d->fault));
	switch (d->fault) {
	case SSH_FAULT_AUTH:
		buf_puts(&b, "add the public key ");
		if (key != NULL) {
			char *pub = xasprintf("%s.pub", key);

			buf_puts(&b, "(");
			put_word(&b, pub);
			buf_puts(&b, ") ");
			free(pub);
		}
		buf_printf(
		    &b, "to ~%s/.ssh/authorized_keys on %s, or check remote_user and private_key",
		    user, host);
		break;
	case SSH_FAULT_KEY_FILE:
		buf_puts(&b, "check private_key");
		if (key != NULL) {
			buf_puts(&b, " (");
			put_word(&b, key);
			buf_puts(&b, ")");
		}
		buf_puts(
		    &b, ": the file must exist, be readable by tisbackup's user and have mode 600");
		break;
	case SSH_FAULT_HOSTKEY_CHANGED:
		buf_printf(&b,
		           "the server sent another key than the one recorded for %s: check why "
		           "(a reinstalled server, or someone in the middle), then `ssh-keygen ",
		           spec);
		if (kh != NULL) {
			buf_puts(&b, "-f ");
			put_word(&b, kh);
			buf_puts(&b, " ");
		}
		buf_puts(&b, "-R ");
		put_word(&b, spec);
		buf_puts(&b, "` and run the backup again (the new key is recorded on first use)");
		break;
	case SSH_FAULT_HOST_UNKNOWN:
		buf_printf(&b, "host_key_policy = strict and %s is not in ", spec);
		if (kh != NULL)
			put_word(&b, kh);
		else
			buf_puts(&b, "~/.ssh/known_hosts");
		buf_printf(&b, ": check its fingerprint, then add it (`ssh-keyscan -p %d %s >> ",
		           job->ssh_port, host);
		if (kh != NULL)
			put_word(&b, kh);
		else
			buf_puts(&b, "~/.ssh/known_hosts");
		buf_puts(&b, "`)");
		break;
	case SSH_FAULT_HOSTKEY:
		buf_printf(&b, "check known_hosts_file and host_key_policy for %s", spec);
		break;
	case SSH_FAULT_REFUSED:
		buf_printf(&b,
		           "nothing accepts connections on %s port %d: check that sshd runs there "
		           "and ssh_port",
		           host, job->ssh_port);
		break;
	case SSH_FAULT_TIMEOUT:
		buf_printf(&b,
		           "%s did not answer on port %d: check that it is up and that no "
		           "firewall drops the connection",
		           host, job->ssh_port);
		break;
	case SSH_FAULT_UNREACHABLE:
		buf_printf(&b, "no route to %s: check the network and server_name", host);
		break;
	case SSH_FAULT_DNS:
		buf_printf(&b, "check server_name ('%s') and the DNS or /etc/hosts", host);
		break;
	case SSH_FAULT_CLOSED:
		buf_printf(&b,
		           "check sshd on %s (its log: AllowUsers, MaxStartups, fail2ban or "
		           "tcp wrappers)",
		           host);
		break;
	case SSH_FAULT_LOST:
		buf_printf(&b, "check the network to %s and the server's load, then run again",
		           host);
		break;
	case SSH_FAULT_NONE:
		break;
	}
	err_append_line(err, "%s", buf_str(&b));
	err_append_line(err, "ssh: %s", d->cause);
	if (d->last[0] != '\0')
		err_append_line(err, "ssh: %s", d->last);
	buf_free(&b);
	free(spec);
	return 1;
}

void
ssh_diag_exit(const struct ssh_diag *d, const struct job *job, int exited, int code,
              struct err *err)
{
	if (exited && code == 255) {
		if (!ssh_diag_explain(d, job, err))
			err_append_line(err, "(exit code 255 is ssh's own: connection or "
			                     "authentication failed)");
		return;
	}
	/* Not ssh's exit: its lines, left out of the caller's tail, as they came. */
	if (d->fault != SSH_FAULT_NONE)
		err_append_line(err, "%s", d->cause);
	if (d->last[0] != '\0')
		err_append_line(err, "%s", d->last);
}
