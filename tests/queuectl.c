/*
 * tb_queuectl: drive the run queue from shell tests and benchmarks
 * (there is no CLI for it: the web UI and API enqueue). Usage:
 *
 *   tb_queuectl GUI_INI CATALOG_DIR enqueue CONFIG ACTION SEC[,SEC...] [EXPORTDIR]
 *       prints "ID new" or "ID existed"; the run's worker pool is $TB_QUEUE_POOL
 *       (unset: the default pool)
 *   tb_queuectl GUI_INI CATALOG_DIR enqueue CONFIG ACTION SEC[,SEC...] [EXPORTDIR|- [OPTION...]]
 *       prints "ID new" or "ID existed"; OPTIONs are the run's extra words
 *       (restore's --to=DIR...), queued as given: the worker checks them
 *   tb_queuectl GUI_INI CATALOG_DIR list [active]
 *       one line per run, oldest first: ID STATE ATTEMPTS SECTIONS WORKER EXIT ERROR
 *   tb_queuectl GUI_INI CATALOG_DIR get ID        the run's fields, then its log
 *   tb_queuectl GUI_INI CATALOG_DIR cancel ID     prints the state afterwards; the
 *       cancel is recorded as by "cli:USER" (the user of the process's uid)
 *
 * Exit status 0, 1 on a queue error (printed on stderr), 2 on bad usage.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guiconf.h"
#include "queue.h"
#include "util/strv.h"
#include "util/xmalloc.h"

static int
usage(void)
{
	fprintf(stderr, "usage: tb_queuectl GUI_INI CATALOG_DIR enqueue|list|get|cancel ...\n");
	return 2;
}

static int
do_enqueue(struct queue *q, int argc, char **argv, struct err *err)
{
	struct queue_request req = { .requested_by = "tb_queuectl" };
	struct strv secs;
	char *copy, *tok, *save = NULL, *id = NULL;
	int existed = 0, rc;

	if (argc < 3)
		return usage();
	strv_init(&secs);
	copy = xstrdup(argv[2]);
	for (tok = strtok_r(copy, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
		strv_push(&secs, tok);
	req.config = argv[0];
	req.action = argv[1];
	req.sections = (const char *const *)secs.v;
	req.nsections = secs.n;
	req.exportdir = argc > 3 ? argv[3] : NULL;
	req.pool = getenv("TB_QUEUE_POOL");
	req.exportdir = argc > 3 && strcmp(argv[3], "-") != 0 ? argv[3] : NULL;
	if (argc > 4) {
		req.options = (const char *const *)argv + 4;
		req.noptions = (size_t)(argc - 4);
	}
	rc = queue_enqueue(q, &req, &id, &existed, err);
	if (rc == 0)
		printf("%s %s\n", id, existed ? "existed" : "new");
	free(id);
	free(copy);
	strv_free(&secs);
	return rc == 0 ? 0 : 1;
}

static void
print_run(const struct queue_run *r)
{
	printf("%s %s %d ", r->id, queue_state_name(r->state), r->attempts);
	for (size_t k = 0; k < r->nsections; k++)
		printf("%s%s", k > 0 ? "," : "", r->sections[k]);
	printf(" %s %d %s\n", r->worker != NULL ? r->worker : "-", r->exit_code,
	       r->error != NULL ? r->error : "-");
}

int
main(int argc, char **argv)
{
	struct guiconf *gc = NULL;
	struct queue *q = NULL;
	struct err err;
	int rc = 1;

	if (argc < 4)
		return usage();
	err_clear(&err);
	if (guiconf_load(argv[1], 1, &gc, &err) == -1 || queue_open(gc, argv[2], &q, &err) == -1)
		goto out;
	if (strcmp(argv[3], "enqueue") == 0) {
		rc = do_enqueue(q, argc - 4, argv + 4, &err);
	} else if (strcmp(argv[3], "list") == 0) {
		struct queue_run *runs;
		size_t n;

		if (queue_list(q, argc > 4 && strcmp(argv[4], "active") == 0, 1000000, &runs, &n,
		               &err) == 0) {
			for (size_t i = n; i > 0; i--)
				print_run(&runs[i - 1]);
			queue_runs_free(runs, n);
			rc = 0;
		}
	} else if (strcmp(argv[3], "get") == 0 && argc > 4) {
		struct queue_run *r;

		if (queue_get(q, argv[4], &r, &err) == 0) {
			if (r != NULL) {
				print_run(r);
				fputs(r->log, stdout);
				queue_run_free(r);
				rc = 0;
			} else
				err_set(&err, "no run %s", argv[4]);
		}
	} else if (strcmp(argv[3], "cancel") == 0 && argc > 4) {
		const struct passwd *pw = getpwuid(getuid());
		char *by = pw != NULL ? xasprintf("cli:%s", pw->pw_name)
		                      : xasprintf("cli:%u", (unsigned)getuid());
		enum queue_state st;
		int found;

		int cancelled = queue_cancel(q, argv[4], by, &found, &st, &err);

		free(by);
		if (cancelled == 0) {
			if (found) {
				printf("%s\n", queue_state_name(st));
				rc = 0;
			} else
				err_set(&err, "no run %s", argv[4]);
		}
	} else {
		rc = usage();
		goto out;
	}
out:
	if (rc == 1)
		fprintf(stderr, "tb_queuectl: %s\n", err.msg);
	queue_close(q);
	guiconf_free(gc);
	return rc;
}
