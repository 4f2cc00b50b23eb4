/*
 * Fuzz the configuration reader and validator: a configuration file is
 * written by hand, so any bytes must be accepted or rejected with a
 * message, never crash or leak, and what is accepted must satisfy what
 * the rest of the program assumes of a job.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "drivers/driver.h"
#include "exclude.h"
#include "util/strv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What every accepted job promises its users. */
static void
check_job(const struct config *cfg, const struct job *job)
{
	size_t blen;

	if (job->drv == NULL || job->dir == NULL || job->server_name == NULL ||
	    job->description == NULL || job->remote_user == NULL)
		abort();
	blen = strlen(cfg->backup_base_dir);
	while (blen > 1 && cfg->backup_base_dir[blen - 1] == '/')
		blen--;
	if (strncmp(job->dir, cfg->backup_base_dir, blen) != 0)
		abort();
	if (job->ssh_port < 1 || job->ssh_port > 65535 || job->retention_days < 0 ||
	    job->max_age_hours < 0)
		abort();
	if ((job->preexec != NULL || job->postexec != NULL) && job->private_key == NULL)
		abort();
	if (job->name[0] == '\0' || strcmp(job->name, "log") == 0 || strcmp(job->name, ".") == 0 ||
	    strcmp(job->name, "..") == 0 || strchr(job->name, '/') != NULL)
		abort();
	if (config_find_job(cfg, job->name) != job)
		abort();
	for (size_t i = 0; i < job->sec->n; i++) {
		const struct cfg_entry *e = &job->sec->entries[i];
		const struct drv_key *k = driver_key(job->drv, e->key, NULL);
		const char *v = job_get(job, e->key);
		struct strv pats;
		struct err err;

		if (k == NULL)
			abort(); /* unknown keys are rejected */
		if (e->value[0] != '\0' && (v == NULL || strcmp(v, e->value) != 0))
			abort(); /* the section's own value wins */
		if (job_entry(job, e->key) == NULL)
			abort();
		(void)job_get_bool(job, e->key, 0);
		(void)job_get_long(job, e->key, 0);
		if (k->type == KEY_EXCLUDE && v != NULL) {
			strv_init(&pats);
			err_clear(&err);
			if (exclude_parse(v, &pats, &err) != 0)
				abort(); /* validated at load */
			strv_free(&pats);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *override = size > 0 && (data[0] & 1) ? "/fuzz/base" : NULL;
	const struct job **sel;
	struct config *cfg;
	struct err err;
	size_t n;

	err_clear(&err);
	if (config_parse_buffer("fuzz.ini", (const char *)data, size, override, &cfg, &err) == -1) {
		if (!err_isset(&err) || cfg != NULL)
			abort(); /* a failure always says why */
		return 0;
	}
	if (cfg->global == NULL || cfg->backup_base_dir == NULL || cfg->backup_base_dir[0] != '/')
		abort();
	for (size_t i = 0; i < cfg->njobs; i++)
		check_job(cfg, &cfg->jobs[i]);
	if (config_select(cfg, NULL, &sel, &n, &err) != 0 || n != cfg->njobs)
		abort();
	free(sel);
	if (cfg->njobs > 0) {
		if (config_select(cfg, cfg->jobs[cfg->njobs - 1].name, &sel, &n, &err) != 0 ||
		    n != 1)
			abort();
		free(sel);
	}
	config_free(cfg);
	return 0;
}
