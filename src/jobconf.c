/*
 * Lookups on the loaded configuration (see jobconf.h): a job's
 * effective values, read by everything that runs a job.
 */
#include "jobconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "drivers/driver.h"
#include "pool.h"

static const struct cfg_entry *
sec_entry(const struct cfg_section *sec, const char *key)
{
	if (sec == NULL)
		return NULL;
	for (size_t i = 0; i < sec->n; i++)
		if (strcmp(sec->entries[i].key, key) == 0)
			return &sec->entries[i];
	return NULL;
}

/* The entry for key in sec when its value is not empty, else NULL. */
static const struct cfg_entry *
sec_value(const struct cfg_section *sec, const char *key)
{
	const struct cfg_entry *e = sec_entry(sec, key);

	return e != NULL && e->value[0] != '\0' ? e : NULL;
}

int
config_parse_bool(const char *s, int loose)
{
	/* ConfigParser's getboolean() words, and y/n, as the original accepts */
	static const char *const yes[] = { "yes", "true", "1", "on", "y", NULL };
	static const char *const no[] = { "no", "false", "0", "off", "n", NULL };
	static const char *const loose_yes[] = { "t", "oui", NULL };

	if (s == NULL)
		return -1;
	for (size_t i = 0; yes[i] != NULL; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	}
	if (loose)
		for (size_t i = 0; loose_yes[i] != NULL; i++)
			if (strcasecmp(s, loose_yes[i]) == 0)
				return 1;
	return -1;
}

const char *
job_get(const struct job *job, const char *key)
{
	const struct cfg_entry *e;
	const struct drv_key *k;

	if ((e = sec_value(job->sec, key)) != NULL ||
	    (e = sec_value(job->cfg->global, key)) != NULL)
		return e->value;
	if (job->drv != NULL && (k = driver_key(job->drv, key, NULL)) != NULL && k->def != NULL &&
	    k->def[0] != '\0')
		return k->def;
	return NULL;
}

const struct cfg_entry *
job_entry(const struct job *job, const char *key)
{
	const struct cfg_entry *e;

	if ((e = sec_value(job->sec, key)) != NULL ||
	    (e = sec_value(job->cfg->global, key)) != NULL)
		return e;
	/* No value anywhere: an empty entry still has a line to point at. */
	if ((e = sec_entry(job->sec, key)) != NULL)
		return e;
	return sec_entry(job->cfg->global, key);
}

const char *
job_pool(const struct job *job)
{
	const char *p = job_get(job, "pool");

	return p != NULL ? p : POOL_DEFAULT;
}

int
job_get_bool(const struct job *job, const char *key, int def)
{
	int r = config_parse_bool(job_get(job, key), 1);

	return r == -1 ? def : r;
}

long
job_get_long(const struct job *job, const char *key, long def)
{
	const char *v = job_get(job, key);
	char *end;
	long n;

	if (v == NULL || *v < '0' || *v > '9')
		return def;
	errno = 0;
	n = strtol(v, &end, 10);
	return errno == 0 && *end == '\0' ? n : def;
}

const struct job *
config_find_job(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->njobs; i++)
		if (strcmp(cfg->jobs[i].name, name) == 0)
			return &cfg->jobs[i];
	return NULL;
}
