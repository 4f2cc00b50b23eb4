/*
 * Remote commands for the dump drivers (see remote_cmd.h).
 */
#include "drivers/remote_cmd.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "drivers/driver.h"
#include "dumpfile.h"
#include "log.h"
#include "quote.h"
#include "spawn.h"
#include "ssh.h"
#include "watchdog.h"
#include "util/xmalloc.h"

void
remote_cmd_free(struct remote_cmd *c)
{
	for (size_t i = 0; i < REMOTE_CMD_TAIL_LINES; i++) {
		free(c->tail[i]);
		c->tail[i] = NULL;
	}
}

static void
remote_on_data(void *ctx, const char *data, size_t len)
{
	struct remote_cmd *c = ctx;

	/* After a failed write, read on to the end and drop the rest. */
	if (c->write_failed)
		return;
	if (dumpfile_write(c->df, data, len, &c->write_err) == -1)
		c->write_failed = 1;
}

static void
remote_on_line(void *ctx, enum spawn_stream stream, const char *line, size_t len)
{
	struct remote_cmd *c = ctx;
	char *copy = xstrndup(line, len);

	if (stream == SPAWN_STDOUT && c->lines != NULL) {
		/* Bounded: one more than allowed is enough to refuse the list. */
		if (c->lines->n <= REMOTE_CMD_MAX_LINES)
			strv_push(c->lines, copy);
		free(copy);
		return;
	}
	if (len == 0) {
		free(copy);
		return;
	}
	log_info(c->name, "%s stderr: %s", c->tool, copy);
	if (ssh_diag_feed(&c->diag, copy, len)) {
		free(copy);
		return;
	}
	free(c->tail[c->next]);
	c->tail[c->next] = copy;
	c->next = (c->next + 1) % REMOTE_CMD_TAIL_LINES;
}

static long long
remote_progress(void *ctx, pid_t pid)
{
	const struct remote_cmd *c = ctx;

	(void)pid;
	return c->df != NULL ? (long long)dumpfile_bytes_in(c->df) : 0;
}

/* Why the command did not succeed, into err. */
static void
remote_explain(const struct job *job, const char *what, const struct spawn_result *res,
               const struct remote_cmd *c, struct err *err)
{
	long stall = job_get_long(job, "stall_timeout", 1800);
	char desc[128];

	if (res->stalled) {
		err_set(err, "%s failed: no data for %ld s: the dump stalled (stall_timeout = %ld)",
		        what, stall, stall);
	} else if (res->timed_out) {
		err_set(err,
		        "%s failed (timed out): the job's time limit was reached "
		        "(max_runtime = %ld s)",
		        what, job_get_long(job, "max_runtime", 0));
	} else {
		spawn_describe(res, desc, sizeof desc);
		err_set(err, "%s failed (%s)", what, desc);
		ssh_diag_exit(&c->diag, job, res->exited, res->code, err);
		if (res->exited && res->code == 127)
			err_append_line(err, "(exit code 127: %s was not found on %s)", c->tool,
			                job->server_name);
	}
	for (size_t i = 0; i < REMOTE_CMD_TAIL_LINES; i++) {
		const char *l = c->tail[(c->next + i) % REMOTE_CMD_TAIL_LINES];

		if (l != NULL)
			err_append_line(err, "%s", l);
	}
	if (c->write_failed)
		err_append_line(err, "%s", c->write_err.msg);
}

int
remote_cmd_run(const struct job *job, struct progress *pg, const char *const *remote,
               const char *what, struct remote_cmd *c, struct err *err)
{
	char *dest = ssh_destination(job);
	char *quoted = quote_sh_argv(remote);
	struct spawn_opts so;
	struct spawn_result res;
	struct strv av;
	int rc = -1;

	strv_init(&av);
	ssh_base_argv(job, &av);
	strv_push(&av, "--");
	strv_push(&av, dest);
	strv_pushf(&av, "%s%s", c->prefix != NULL ? c->prefix : "", quoted);
	spawn_opts_init(&so);
	so.argv = (const char *const *)strv_argv(&av);
	if (c->stdin_fd > 0)
		so.stdin_fd = c->stdin_fd;
	so.on_line = remote_on_line;
	if (c->df != NULL)
		so.on_data = remote_on_data;
	so.ctx = c;
	watchdog_spawn(pg, &so);
	if (c->df != NULL) {
		/* Bytes of dump received: a better sign of life than reads. */
		so.progress = remote_progress;
		so.progress_ctx = c;
	}
	if (spawn_run(&so, &res, err) == -1) {
		err_wrap(err, "%s", what);
		goto out;
	}
	if (res.exited && res.code == 0 && !c->write_failed) {
		rc = 0;
		goto out;
	}
	if (res.exited && res.code == 0)
		err_set(err, "%s: %s", what, c->write_err.msg);
	else
		remote_explain(job, what, &res, c, err);
out:
	free(dest);
	free(quoted);
	strv_free(&av);
	return rc;
}

int
remote_secret_pipe(const char *data, size_t len, int *rfd, struct err *err)
{
	int p[2] = { -1, -1 }, rc = -1;
	ssize_t n;

	if (len >= 65536) {
		err_set(err, "a secret of %zu bytes does not fit in a pipe", len);
		return -1;
	}
	if (pipe2(p, O_CLOEXEC) == -1) {
		err_sys(err, errno, "pipe");
		return -1;
	}
	while (len > 0) {
		n = write(p[1], data, len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			err_sys(err, errno, "writing a secret to a pipe");
			goto out;
		}
		data += n;
		len -= (size_t)n;
	}
	*rfd = p[0];
	p[0] = -1;
	rc = 0;
out:
	if (p[0] != -1)
		close(p[0]);
	close(p[1]);
	return rc;
}
