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

	if (job->server_name[0] == '\0' || job->server_name[0] == '-' ||
	    strpbrk(job->server_name, " \t\n@:/") != NULL) {
		err_set(err, "server_name: '%s' is not a host name", job->server_name);
		return -1;
	}
	if (job->remote_user[0] == '\0' || job->remote_user[0] == '-')
		goto bad_user;
	for (p = job->remote_user; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr("._-$\\", *p) == NULL)
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
};

static void
cmd_on_line(void *ctx, enum spawn_stream stream, const char *line, size_t len)
{
	struct cmd_tail *t = ctx;

	(void)stream;
	/* A hook's output is the admin's own: always in the run log. */
	log_msg(LOG_INFO, t->job->name, "%s: %.*s", t->what, (int)len, line);
	free(t->lines[t->next]);
	t->lines[t->next] = xstrndup(line, len);
	t->next = (t->next + 1) % 5;
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
	strv_push(&av, "--");
	strv_push(&av, dest);
	strv_push(&av, command);

	spawn_opts_init(&so);
	so.argv = (const char *const *)strv_argv(&av);
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
		rc = 0;
		goto out;
	}
	spawn_describe(&res, desc, sizeof desc);
	err_set(err, "%s failed on %s (%s)", what, job->server_name, desc);
	if (res.exited && res.code == 255)
		err_append_line(
		    err, "(exit code 255 is ssh's own: connection or authentication failed)");
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
