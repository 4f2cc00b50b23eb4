/*
 * The backup configuration (see config.h): an INI reader that behaves
 * like Python's ConfigParser in strict mode, then a validator driven by
 * the drivers' key tables.
 *
 * Reading follows ConfigParser: a line whose first non-blank character
 * is ';' or '#' is a comment (there are no inline comments, so
 * "key = a ; b" has the value "a ; b"); "[name]" opens a section (text
 * after the last ']' is ignored with a warning, as ConfigParser ignores
 * it silently); "key = value" or "key: value" splits at the first '=' or
 * ':'; keys are lower-cased, values trimmed; a line indented deeper than
 * its key continues the value (joined with '\n', blank lines in between
 * kept); a duplicate section or key is an error. Values are raw: there is
 * no interpolation, '%' is an ordinary character, and shell
 * metacharacters are just data -- nothing here executes or writes
 * anything.
 *
 * Validation reports every problem it finds, one line each, as
 * "FILE:LINE: [section] key: what is wrong", in file order. Each job
 * section is validated alone: its problems go to that job
 * (cfg->invalid), so one job this binary cannot run does not stop the
 * others; reading problems and [global]'s fail the load. Warnings go to
 * cfg->warnings: nothing here prints.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "catalog.h"
#include "drivers/driver.h"
#include "exclude.h"
#include "pool.h"
#include "schedule.h"
#include "ssh.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/strarena.h"
#include "util/strv.h"
#include "util/suggest.h"
#include "util/xmalloc.h"

#define CONFIG_MAX_SIZE (16u << 20) /* no configuration is anywhere near this */
#define GLOBAL "global"
#define CATALOG "catalog"     /* [catalog]: where the catalog is, not a job */
#define SEC_NONE ((size_t)-1) /* before the first section */
#define SEC_SKIP ((size_t)-2) /* inside a section whose lines are ignored */
#define SHOW_MAX 80           /* how much of a bad line or value a message quotes */

/*
 * Keys [global] accepts besides every key some driver knows (those are
 * defaults for the jobs). The types follow what the original does with
 * them (getint for bw_limit, compression_level, max_copies).
 */
static const struct drv_key global_keys[] = {
	{ "backup_base_dir", KEY_STR, NULL },
	{ "backup_retention_time", KEY_INT, NULL },
	{ "maximum_backup_age", KEY_INT, NULL },
	{ "bw_limit", KEY_INT, NULL },
	{ "compression_level", KEY_INT, NULL },
	{ "start_vm", KEY_BOOL_LOOSE, NULL },
	{ "max_copies", KEY_INT, NULL },
	{ "max_parallel", KEY_INT, NULL }, /* jobs run at once (-j overrides) */
	{ "delete_snapshot", KEY_BOOL_LOOSE, NULL },
	{ "log_retention_days", KEY_INT, NULL }, /* run logs kept by cleanup, 0 = forever */
	{ "disk_warn_percent", KEY_INT, NULL },  /* checknagios: backup filesystem use */
	{ "disk_crit_percent", KEY_INT, NULL },
	{ "disk_forecast_warn_days", KEY_INT, NULL },   /* checknagios: full within N days */
	{ "disk_forecast_window_days", KEY_INT, NULL }, /* the forecast's fit, in days */
	{ "group", KEY_STR, NULL },                     /* read access for monitoring (perm.c) */
	{ NULL, KEY_STR, NULL },
};

/* Reading and validation state. */
struct ctx {
	const char *path;
	struct err *err;
	int nproblems;
	int omitted; /* problems counted but not shown: the message was full */
	struct config *cfg;
	size_t cur; /* index of the section being read, or SEC_NONE/SEC_SKIP */
	size_t nsec_cap;
	int in_value;       /* the last key line may take continuation lines */
	int value_skipped;  /* ... but that key was a duplicate: drop them */
	size_t key_indent;  /* indentation of that key line */
	int blanks;         /* blank lines seen since, kept if the value continues */
	size_t value_len;   /* strlen() of that key's value so far */
	size_t *sec_set;    /* open addressing: 1 + index of a section by name, 0 free */
	size_t sec_set_cap; /* a power of two, at least twice the sections */
};

static void problem(struct ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Room kept free in the error message, for the "... and N more" line and
 * the context callers prepend (err_wrap): problems are never cut mid-line.
 */
#define PROBLEMS_RESERVE 512

/* Record one problem line, or count it when the message is full. */
static void
problem(struct ctx *c, const char *fmt, ...)
{
	char line[ERR_MSG_MAX];
	size_t used = c->err != NULL ? strlen(c->err->msg) : 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	c->nproblems++;
	if (c->omitted > 0 || used + strlen(line) + 1 > ERR_MSG_MAX - PROBLEMS_RESERVE) {
		c->omitted++;
		return;
	}
	err_append_line(c->err, "%s", line);
}

static int
is_blank(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\v' || ch == '\f' || ch == '\r' || ch == '\n';
}

/* Grow an array of n elements of size sz before adding one (8, 16, 32...). */
static void *
grow(void *p, size_t n, size_t sz)
{
	if (n == 0)
		return xmalloc(8 * sz);
	if (n >= 8 && (n & (n - 1)) == 0)
		return xrealloc(p, 2 * n * sz);
	return p;
}

/* --- values --------------------------------------------------------- */

/* A decimal integer in [min, max] with nothing around it. 0 or -1. */
static int
parse_int(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	if (s == NULL || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno == ERANGE || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
config_parse_percent(const char *s, long *out)
{
	long whole = 0, frac = 0, scale = 1000;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		whole = whole * 10 + (*p - '0');
		if (whole > 100)
			return -1;
	}
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			return -1;
		for (; *p >= '0' && *p <= '9'; p++) {
			if (scale == 1)
				return -1; /* more than three decimals */
			scale /= 10;
			frac += (*p - '0') * scale;
		}
	}
	if (*p == '%')
		p++;
	if (*p != '\0' || whole * 1000 + frac == 0 || whole * 1000 + frac > 100000)
		return -1;
	*out = whole * 1000 + frac;
	return 0;
}

/*
 * Check a non-empty value against its type. 0, or -1 with e saying what
 * is wrong (without the file/section/key prefix).
 */
static int
check_value(enum drv_key_type type, const char *v, struct err *e)
{
	struct strv pats;
	long n;
	int rc;

	switch (type) {
	case KEY_STR:
	case KEY_FILE: /* readability is config_check_files()'s business */
		return 0;
	case KEY_INT:
		if (parse_int(v, 0, INT_MAX, &n) == 0)
			return 0;
		err_set(e, "'%.*s' is not a non-negative integer", SHOW_MAX, v);
		return -1;
	case KEY_PORT:
		if (parse_int(v, 1, 65535, &n) == 0)
			return 0;
		err_set(e, "'%.*s' is not a port number (1-65535)", SHOW_MAX, v);
		return -1;
	case KEY_BOOL:
		if (config_parse_bool(v, 0) != -1)
			return 0;
		err_set(e, "'%.*s' is not a boolean (use yes/no, true/false or 1/0)", SHOW_MAX, v);
		return -1;
	case KEY_BOOL_LOOSE:
		if (config_parse_bool(v, 1) != -1)
			return 0;
		err_set(e, "'%.*s' is not a boolean (use yes/no, true/false, 1/0, t, y or oui)",
		        SHOW_MAX, v);
		return -1;
	case KEY_EXCLUDE:
		strv_init(&pats);
		rc = exclude_parse(v, &pats, e);
		strv_free(&pats);
		return rc;
	case KEY_HOSTKEY_POLICY:
		if (strcmp(v, "accept-new") == 0 || strcmp(v, "strict") == 0)
			return 0;
		err_set(e, "'%.*s' is not a host key policy (use accept-new or strict)", SHOW_MAX,
		        v);
		return -1;
	case KEY_SCHEDULE: {
		struct schedule sched;

		return schedule_parse(v, &sched, e);
	}
	case KEY_POOL:
		if (pool_name_valid(v))
			return 0;
		err_set(e,
		        "'%.*s' is not a pool name (1 to 64 of A-Z a-z 0-9 _ . -; the "
		        "workers started with --pool NAME run the job)",
		        SHOW_MAX, v);
		return -1;
	case KEY_PERCENT:
		if (config_parse_percent(v, &n) == 0)
			return 0;
		err_set(e,
		        "'%.*s' is not a percentage above 0 and at most 100 (e.g. 1, 0.5, 2.5%%)",
		        SHOW_MAX, v);
		return -1;
	}
	err_set(e, "unknown key type %d", (int)type);
	return -1;
}

/* --- lookups -------------------------------------------------------- */

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

static const struct cfg_entry *
sec_value(const struct cfg_section *sec, const char *key)
{
	const struct cfg_entry *e = sec_entry(sec, key);

	return e != NULL && e->value[0] != '\0' ? e : NULL;
}

static const struct drv_key *
table_key(const struct drv_key *keys, const char *name)
{
	for (; keys->name != NULL; keys++)
		if (strcmp(keys->name, name) == 0)
			return keys;
	return NULL;
}

/* driver_keys() of one driver, computed once: the key tables are constant. */
struct keys_memo {
	const struct driver *drv;
	const struct drv_key **keys;
	unsigned char *required; /* required[i]: driver_key() says keys[i] is required */
	size_t n;
	struct keys_memo *next;
};

static struct keys_memo *keys_memo;
static pthread_mutex_t keys_memo_lock = PTHREAD_MUTEX_INITIALIZER;

/* The memo of drv, made on first use (the caller holds keys_memo_lock). */
static const struct keys_memo *
keys_memo_make(const struct driver *drv)
{
	const struct drv_key *tables[] = {
		drv_common_required,
		drv->required,
		drv->optional,
		drv_common_optional,
	};
	struct keys_memo *m;
	size_t total = 0;

	for (m = keys_memo; m != NULL; m = m->next)
		if (m->drv == drv)
			return m;
	for (size_t t = 0; t < 4; t++)
		for (const struct drv_key *k = tables[t]; k != NULL && k->name != NULL; k++)
			total++;
	m = xcalloc(1, sizeof *m);
	m->drv = drv;
	m->keys = xcalloc(total + 1, sizeof *m->keys);
	m->required = xcalloc(total + 1, 1);
	for (size_t t = 0; t < 4; t++) {
		for (const struct drv_key *k = tables[t]; k != NULL && k->name != NULL; k++) {
			size_t i;

			for (i = 0; i < m->n; i++)
				if (strcmp(m->keys[i]->name, k->name) == 0)
					break;
			if (i == m->n) {
				m->required[m->n] = t < 2;
				m->keys[m->n++] = k;
			}
		}
	}
	m->next = keys_memo;
	keys_memo = m; /* kept for the life of the process, like the tables */
	return m;
}

/*
 * Every key a job of drv may set, in driver_key() lookup order without
 * duplicates (the spec driver_key() returns for each); with required,
 * (*required)[i] is 1 when keys[i] is required (driver_key()'s *required).
 * Computed once per driver and process (a job check used to redo it, with
 * a quadratic number of strcmp() calls, for every job): static storage,
 * thread-safe.
 */
static const struct drv_key *const *
driver_keys(const struct driver *drv, size_t *n, const unsigned char **required)
{
	const struct keys_memo *m;

	pthread_mutex_lock(&keys_memo_lock);
	m = keys_memo_make(drv);
	pthread_mutex_unlock(&keys_memo_lock);
	*n = m->n;
	if (required != NULL)
		*required = m->required;
	return m->keys;
}

/* "a,b,c": the keys a job of drv may set. Caller frees. */
static char *
known_keys(const struct driver *drv)
{
	const struct drv_key *const *keys;
	struct buf b;
	size_t n;

	keys = driver_keys(drv, &n, NULL);
	buf_init(&b, 1 << 16);
	for (size_t i = 0; i < n; i++)
		buf_printf(&b, "%s%s", i ? "," : "", keys[i]->name);
	return b.data != NULL ? buf_steal(&b) : xstrdup("");
}

/*
 * " (did you mean 'bwlimit'?)" when a known key of drv (or, for drv NULL,
 * of [global]: its own keys and every driver's) is within two edits of
 * key, else "". Static storage.
 */
static const char *
key_suggestion(const struct driver *drv, const char *key)
{
	static __thread char out[96];
	struct strv cands;
	const char *near;

	out[0] = '\0';
	strv_init(&cands);
	if (drv == NULL) {
		for (const struct drv_key *k = global_keys; k->name != NULL; k++)
			strv_push(&cands, k->name);
		for (const struct driver *const *d = driver_table; *d != NULL; d++) {
			const struct drv_key *const *keys;
			size_t n;

			keys = driver_keys(*d, &n, NULL);
			for (size_t i = 0; i < n; i++)
				strv_push(&cands, keys[i]->name);
		}
	} else {
		const struct drv_key *const *keys;
		size_t n;

		keys = driver_keys(drv, &n, NULL);
		for (size_t i = 0; i < n; i++)
			strv_push(&cands, keys[i]->name);
	}
	near = suggest_pick(key, (const char *const *)strv_argv(&cands), cands.n, 2);
	if (near != NULL)
		snprintf(out, sizeof out, " (did you mean '%s'?)", near);
	strv_free(&cands);
	return out;
}

/* "rsync+ssh,null": every driver name. Caller frees. */
static char *
known_types(void)
{
	struct buf b;

	buf_init(&b, 1 << 16);
	for (const struct driver *const *d = driver_table; *d != NULL; d++)
		buf_printf(&b, "%s%s", d == driver_table ? "" : ",", (*d)->name);
	return b.data != NULL ? buf_steal(&b) : xstrdup("");
}

const char *
config_global_get(const struct config *cfg, const char *key)
{
	const struct cfg_entry *e = sec_value(cfg->global, key);

	return e != NULL ? e->value : NULL;
}

/* --- reading -------------------------------------------------------- */

/* A section name is a folder name under backup_base_dir. */
static void
check_section_name(struct ctx *c, const char *name, int line)
{
	const char *p;

	for (p = name; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
			break;
	if (*p != '\0' || *name == '\0')
		problem(c,
		        "%s:%d: [%.*s]: invalid section name: it names the job's backup "
		        "folder, so use only letters, digits, '_', '.' and '-'",
		        c->path, line, SHOW_MAX, name);
	else if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		problem(c,
		        "%s:%d: [%s]: invalid section name: it would name the backup "
		        "folder itself or its parent; rename the section",
		        c->path, line, name);
	else if (strcmp(name, "log") == 0)
		problem(c,
		        "%s:%d: [log]: reserved section name: {backup_base_dir}/log holds "
		        "the catalog and the run logs; rename the section (e.g. [log-server])",
		        c->path, line);
}

/* FNV-1a of a section name: the slot it starts probing from. */
static size_t
sec_hash(const char *name)
{
	uint64_t h = 14695981039346656037u;

	for (const unsigned char *p = (const unsigned char *)name; *p != '\0'; p++)
		h = (h ^ *p) * 1099511628211u;
	return (size_t)h;
}

/* The index of the section called name, or SEC_NONE. */
static size_t
sec_set_find(const struct ctx *c, const char *name)
{
	size_t mask = c->sec_set_cap - 1;

	if (c->sec_set_cap == 0)
		return SEC_NONE;
	for (size_t i = sec_hash(name) & mask; c->sec_set[i] != 0; i = (i + 1) & mask)
		if (strcmp(c->cfg->sections[c->sec_set[i] - 1].name, name) == 0)
			return c->sec_set[i] - 1;
	return SEC_NONE;
}

/* Index section idx by its name (not there yet): a duplicate is found in constant time. */
static void
sec_set_add(struct ctx *c, size_t idx)
{
	size_t mask;

	if (2 * (idx + 1) > c->sec_set_cap) {
		size_t *old = c->sec_set, oldcap = c->sec_set_cap;

		c->sec_set_cap = oldcap != 0 ? 2 * oldcap : 64;
		c->sec_set = xcalloc(c->sec_set_cap, sizeof *c->sec_set);
		for (size_t j = 0; j < oldcap; j++) {
			size_t k;

			if (old[j] == 0)
				continue;
			mask = c->sec_set_cap - 1;
			k = sec_hash(c->cfg->sections[old[j] - 1].name) & mask;
			while (c->sec_set[k] != 0)
				k = (k + 1) & mask;
			c->sec_set[k] = old[j];
		}
		free(old);
	}
	mask = c->sec_set_cap - 1;
	for (size_t k = sec_hash(c->cfg->sections[idx].name) & mask;; k = (k + 1) & mask) {
		if (c->sec_set[k] == 0) {
			c->sec_set[k] = idx + 1;
			return;
		}
	}
}

/* "[name]" (whole trimmed line s, len > 0, s[0] == '['): returns 0, or -1 if not a header. */
static int
read_section(struct ctx *c, const char *s, size_t len, int line)
{
	struct config *cfg = c->cfg;
	struct cfg_section *sec;
	const char *close = NULL;
	char *name;
	size_t first;

	for (size_t i = len; i > 1; i--)
		if (s[i - 1] == ']') {
			close = s + i - 1;
			break;
		}
	if (close == NULL)
		return -1;
	name = strarena_ndup(&cfg->strings, s + 1, (size_t)(close - s - 1));
	if (close + 1 < s + len)
		strv_pushf(&c->cfg->warnings, "%s:%d: [%.*s]: text after ']' ignored", c->path,
		           line, SHOW_MAX, name);
	c->in_value = 0;
	if (strcmp(name, "DEFAULT") == 0) {
		problem(c,
		        "%s:%d: [DEFAULT]: not supported (ConfigParser copied its keys into "
		        "every section); put shared defaults in [global]",
		        c->path, line);
		c->cur = SEC_SKIP;
		return 0;
	}
	if ((first = sec_set_find(c, name)) != SEC_NONE) {
		problem(c,
		        "%s:%d: [%.*s]: duplicate section (first at line %d); merge "
		        "the two or rename one",
		        c->path, line, SHOW_MAX, name, cfg->sections[first].line);
		c->cur = SEC_SKIP;
		return 0;
	}
	if (strcmp(name, GLOBAL) != 0)
		check_section_name(c, name, line);
	cfg->sections = grow(cfg->sections, cfg->nsections, sizeof *cfg->sections);
	sec = &cfg->sections[cfg->nsections];
	sec->name = name;
	sec->line = line;
	sec->entries = NULL;
	sec->n = 0;
	c->cur = cfg->nsections++;
	sec_set_add(c, c->cur);
	return 0;
}

/* "key = value" (trimmed line s of len > 0, indented by indent). */
static void
read_key(struct ctx *c, const char *s, size_t len, size_t indent, int line)
{
	struct cfg_section *sec;
	struct cfg_entry *e;
	const char *delim = NULL;
	int show = len < SHOW_MAX ? (int)len : SHOW_MAX; /* s is not NUL-terminated */
	size_t klen;
	char *key;

	for (size_t i = 0; i < len; i++)
		if (s[i] == '=' || s[i] == ':') {
			delim = s + i;
			break;
		}
	if (c->cur == SEC_NONE) {
		problem(c,
		        "%s:%d: '%.*s' comes before the first [section]; start the file "
		        "with [global]",
		        c->path, line, show, s);
		return;
	}
	sec = c->cur == SEC_SKIP ? NULL : &c->cfg->sections[c->cur];
	if (delim == NULL) {
		problem(c,
		        "%s:%d: %s%s%scannot parse '%.*s': expected 'key = value', "
		        "'[section]' or a ';' comment",
		        c->path, line, sec ? "[" : "", sec ? sec->name : "", sec ? "] " : "", show,
		        s);
		return;
	}
	klen = (size_t)(delim - s);
	while (klen > 0 && is_blank(s[klen - 1]))
		klen--;
	if (klen == 0) {
		problem(c, "%s:%d: %s%s%smissing key name before '%c'", c->path, line,
		        sec ? "[" : "", sec ? sec->name : "", sec ? "] " : "", *delim);
		return;
	}
	c->in_value = 1;
	c->key_indent = indent;
	c->value_skipped = 1;
	if (sec == NULL)
		return; /* the lines of a rejected section are ignored */
	key = strarena_ndup(&c->cfg->strings, s, klen);
	for (char *p = key; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	for (size_t i = 0; i < sec->n; i++) {
		if (strcmp(sec->entries[i].key, key) == 0) {
			problem(c, "%s:%d: [%s] %s: duplicate key (first at line %d)", c->path,
			        line, sec->name, key, sec->entries[i].line);
			return;
		}
	}
	delim++;
	while (delim < s + len && is_blank(*delim))
		delim++;
	sec->entries = grow(sec->entries, sec->n, sizeof *sec->entries);
	e = &sec->entries[sec->n++];
	e->key = key;
	e->value = strarena_ndup(&c->cfg->strings, delim, (size_t)(s + len - delim));
	e->line = line;
	c->value_skipped = 0;
	c->value_len = strlen(e->value);
}

/* Append a continuation line (trimmed s of len > 0) to the last value. */
static void
read_continuation(struct ctx *c, const char *s, size_t len)
{
	struct cfg_section *sec = &c->cfg->sections[c->cur];
	struct cfg_entry *e = &sec->entries[sec->n - 1];
	size_t old = c->value_len, nl = (size_t)c->blanks + 1;

	/* In place: the value is the arena's last string (read_key()). */
	e->value = strarena_grow(&c->cfg->strings, e->value, old, nl + len);
	memset(e->value + old, '\n', nl);
	memcpy(e->value + old + nl, s, len);
	c->value_len = old + nl + len;
	e->value[c->value_len] = '\0';
	c->blanks = 0;
}

/*
 * The length of line (trimmed, not a comment line) without an inline
 * comment: a ';' or '#' preceded by white space starts one, as in the
 * original's ConfigParser (inline_comment_prefixes), and the white space
 * before it goes too. "a;b" and "x#1" keep their ';' and '#'.
 */
static size_t
strip_inline_comment(const char *line, size_t len)
{
	for (size_t i = 1; i < len; i++) {
		if ((line[i] == ';' || line[i] == '#') && is_blank(line[i - 1])) {
			len = i;
			while (len > 0 && is_blank(line[len - 1]))
				len--;
			break;
		}
	}
	return len;
}

/* One physical line (without its line ending). */
static void
read_line(struct ctx *c, const char *line, size_t len, int lineno)
{
	size_t indent = 0;

	if (memchr(line, '\0', len) != NULL) {
		problem(c, "%s:%d: NUL byte in the line; the file must be text", c->path, lineno);
		c->in_value = 0;
		return;
	}
	while (indent < len && is_blank(line[indent]))
		indent++;
	while (len > indent && is_blank(line[len - 1]))
		len--;
	line += indent;
	len -= indent;
	if (len == 0) {
		if (c->in_value)
			c->blanks++;
		return;
	}
	if (line[0] == ';' || line[0] == '#')
		return; /* comments do not end a multi-line value */
	len = strip_inline_comment(line, len);
	if (c->in_value && indent > c->key_indent) {
		if (c->value_skipped)
			return;
		read_continuation(c, line, len);
		return;
	}
	c->in_value = 0;
	c->blanks = 0;
	if (line[0] == '[' && read_section(c, line, len, lineno) == 0)
		return;
	read_key(c, line, len, indent, lineno);
}

/* Split data into lines ("\n", "\r\n" or "\r" endings, like Python). */
static void
read_lines(struct ctx *c, const char *data, size_t len)
{
	size_t pos = 0;
	int lineno = 0;

	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		pos = 3; /* a UTF-8 byte order mark */
	while (pos < len) {
		size_t end = pos;

		while (end < len && data[end] != '\n' && data[end] != '\r')
			end++;
		if (lineno < INT_MAX)
			lineno++;
		read_line(c, data + pos, end - pos, lineno);
		if (end + 1 < len && data[end] == '\r' && data[end + 1] == '\n')
			end++;
		pos = end + 1;
	}
}

/* --- validation ----------------------------------------------------- */

/*
 * driver_key() by a plain scan, in its order (the common required keys,
 * the driver's required, its optional, the common optional): [global]
 * asks every driver about a few keys, and driver_key() would build an
 * index for each driver, most of which the jobs never use.
 */
static const struct drv_key *
scan_driver_key(const struct driver *drv, const char *name)
{
	const struct drv_key *const tables[] = { drv_common_required, drv->required, drv->optional,
		                                 drv_common_optional };
	const struct drv_key *k;

	for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++)
		if (tables[t] != NULL && (k = table_key(tables[t], name)) != NULL)
			return k;
	return NULL;
}

/*
 * [global]: known keys are type-checked (a key drivers know is checked
 * as every driver that knows it would read it); an unknown key is only a
 * warning, so configurations written for other versions keep working.
 */
static void
check_global(struct ctx *c, const struct cfg_section *g)
{
	struct err e;

	for (size_t i = 0; i < g->n; i++) {
		const struct cfg_entry *ent = &g->entries[i];
		const struct drv_key *k;
		int known = 0, bad = 0;

		err_clear(&e);
		if ((k = table_key(global_keys, ent->key)) != NULL) {
			known = 1;
			if (ent->value[0] != '\0' && check_value(k->type, ent->value, &e) == -1)
				bad = 1;
		}
		for (const struct driver *const *d = driver_table; *d != NULL && !bad; d++) {
			if ((k = scan_driver_key(*d, ent->key)) == NULL)
				continue;
			known = 1;
			if (ent->value[0] != '\0' && check_value(k->type, ent->value, &e) == -1)
				bad = 1;
		}
		if (bad)
			problem(c, "%s:%d: [%s] %s: %s", c->path, ent->line, GLOBAL, ent->key,
			        e.msg);
		else if (!known)
			strv_pushf(&c->cfg->warnings, "%s:%d: [%s] %s: unknown key, ignored%s",
			           c->path, ent->line, GLOBAL, ent->key,
			           key_suggestion(NULL, ent->key));
	}
}

/*
 * [catalog] (docs/catalog.md): url, the catalog's address (a URI of a
 * known backend; the password never in it), and password_file, an
 * absolute path. Unknown keys are warnings, as in [global].
 */
static void
check_catalog(struct ctx *c, const struct cfg_section *s)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct cfg_entry *e = &s->entries[i];

		if (strcmp(e->key, "url") == 0) {
			if (strncmp(e->value, "postgresql://", 13) != 0 &&
			    strncmp(e->value, "postgres://", 11) != 0 &&
			    strncmp(e->value, "sqlite:", 7) != 0)
				problem(
				    c,
				    "%s:%d: [%s] url: not a catalog address (postgresql://user@host/db "
				    "or sqlite:/path; remove the key for the default SQLite file)",
				    c->path, e->line, CATALOG);
		} else if (strcmp(e->key, "password_file") == 0) {
			if (e->value[0] != '/')
				problem(c,
				        "%s:%d: [%s] password_file: '%.*s' is not an absolute path",
				        c->path, e->line, CATALOG, SHOW_MAX, e->value);
		} else {
			strv_pushf(
			    &c->cfg->warnings,
			    "%s:%d: [%s] %s: unknown key, ignored (known: url, password_file)",
			    c->path, e->line, CATALOG, e->key);
		}
	}
}

char *
config_catalog_address(const struct config *cfg)
{
	const struct cfg_entry *url = sec_value(cfg->catalog, "url");
	const struct cfg_entry *pw = sec_value(cfg->catalog, "password_file");

	return catalog_address(cfg->backup_base_dir, url != NULL ? url->value : NULL,
	                       pw != NULL ? pw->value : NULL);
}

/*
 * Keys the original reads in a job section but that mean nothing here:
 * backup_name and backup_dir are set from the section name and
 * backup_base_dir. Accepted with a warning, so old files keep loading.
 */
static int
is_legacy_ignored(const char *key)
{
	return strcmp(key, "backup_name") == 0 || strcmp(key, "backup_dir") == 0;
}

/* The backup root: -b, else [global] backup_base_dir; must be absolute. */
static void
check_base_dir(struct ctx *c, const char *override)
{
	const struct cfg_section *g = c->cfg->global;
	const struct cfg_entry *e;

	if (override != NULL) {
		if (override[0] != '/') {
			problem(c, "-b %s: the backup base directory must be an absolute path",
			        override);
			return;
		}
		c->cfg->backup_base_dir = xstrdup(override);
		return;
	}
	if (g == NULL)
		return; /* already reported */
	if ((e = sec_value(g, "backup_base_dir")) == NULL) {
		e = sec_entry(g, "backup_base_dir");
		problem(c,
		        "%s:%d: [%s] backup_base_dir: missing required key (the folder "
		        "that holds every backup, e.g. /backup/data)",
		        c->path, e != NULL ? e->line : g->line, GLOBAL);
		return;
	}
	if (e->value[0] != '/') {
		problem(c, "%s:%d: [%s] backup_base_dir: '%.*s' is not an absolute path", c->path,
		        e->line, GLOBAL, SHOW_MAX, e->value);
		return;
	}
	c->cfg->backup_base_dir = xstrdup(e->value);
}

/* Resolve and validate one job section into job. */
static void
check_job(struct ctx *c, struct job *job)
{
	const struct cfg_section *sec = job->sec;
	const struct cfg_entry *te;
	const struct drv_key *const *keys;
	const unsigned char *required;
	const char *v;
	char *list = NULL;
	int before = c->nproblems;
	size_t nkeys = 0;
	long n;

	job->description = "";
	job->remote_user = "root";
	job->ssh_port = 22;
	if (c->cfg->backup_base_dir != NULL)
		job->dir = fs_join(c->cfg->backup_base_dir, job->name);

	if ((te = job_entry(job, "type")) == NULL || te->value[0] == '\0') {
		list = known_types();
		problem(c, "%s:%d: [%s] type: missing required key (known types: %s)", c->path,
		        sec->line, sec->name, list);
		goto out;
	}
	if ((job->drv = driver_find(te->value)) == NULL) {
		list = known_types();
		problem(c, "%s:%d: [%s] type: unknown type '%.*s' (known: %s)", c->path, te->line,
		        sec->name, SHOW_MAX, te->value, list);
		goto out;
	}

	/* Each key of the section: known to the driver, and of the right type. */
	for (size_t i = 0; i < sec->n; i++) {
		const struct cfg_entry *ent = &sec->entries[i];
		const struct drv_key *k = driver_key(job->drv, ent->key, NULL);
		struct err e;

		if (k == NULL && is_legacy_ignored(ent->key)) {
			strv_pushf(
			    &c->cfg->warnings,
			    "%s:%d: [%s] %s: the original's key, ignored "
			    "(the job's name is its section, its folder {backup_base_dir}/%s)",
			    c->path, ent->line, sec->name, ent->key, sec->name);
			continue;
		}
		if (k == NULL) {
			if (list == NULL)
				list = known_keys(job->drv);
			problem(c, "%s:%d: [%s] %s: unknown key for type %s%s (known: %s)", c->path,
			        ent->line, sec->name, ent->key, job->drv->name,
			        key_suggestion(job->drv, ent->key), list);
			continue;
		}
		err_clear(&e);
		if (ent->value[0] != '\0' && check_value(k->type, ent->value, &e) == -1)
			problem(c, "%s:%d: [%s] %s: %s", c->path, ent->line, sec->name, ent->key,
			        e.msg);
	}

	/* Required keys, from the section, [global] or a default. */
	keys = driver_keys(job->drv, &nkeys, &required);
	for (size_t i = 0; i < nkeys; i++) {
		if (!required[i])
			continue;
		if (job_get(job, keys[i]->name) == NULL)
			problem(c,
			        "%s:%d: [%s] %s: missing required key (set it in the section "
			        "or in [global])",
			        c->path, sec->line, sec->name, keys[i]->name);
	}

	/* preexec/postexec run on server_name over ssh, with the job's key. */
	job->private_key = job_get(job, "private_key");
	job->preexec = job_get(job, "preexec");
	job->postexec = job_get(job, "postexec");
	if (job->private_key == NULL) {
		if (job->preexec != NULL)
			problem(c,
			        "%s:%d: [%s] preexec: needs private_key (the command runs on "
			        "server_name over ssh)",
			        c->path, job_entry(job, "preexec")->line, sec->name);
		if (job->postexec != NULL)
			problem(c,
			        "%s:%d: [%s] postexec: needs private_key (the command runs "
			        "on server_name over ssh)",
			        c->path, job_entry(job, "postexec")->line, sec->name);
	}

	job->server_name = job_get(job, "server_name");
	if ((v = job_get(job, "description")) != NULL)
		job->description = v;
	if ((job->drv->caps & DRV_CAP_USERNAME_IS_LOGIN) &&
	    ((te = job_entry(job, "remote_user")) == NULL || te->value[0] == '\0') &&
	    (v = job_get(job, "username")) != NULL)
		job->remote_user = v; /* sqlserver+ssh: the original's ssh login key */
	else if ((v = job_get(job, "remote_user")) != NULL)
		job->remote_user = v;
	if (parse_int(job_get(job, "ssh_port"), 1, 65535, &n) == 0)
		job->ssh_port = (int)n;
	if (parse_int(job_get(job, "backup_retention_time"), 0, INT_MAX, &n) == 0)
		job->retention_days = (int)n;
	if (parse_int(job_get(job, "maximum_backup_age"), 0, INT_MAX, &n) == 0)
		job->max_age_hours = (int)n;

	/*
	 * Cross-key checks of the driver, once every key is sound. Its
	 * message is reported under the section header's line.
	 */
	if (c->nproblems == before && job->dir != NULL) {
		struct err e;

		err_clear(&e);
		if (((job->drv->caps & DRV_CAP_SSH) && ssh_check_target(job, &e) == -1) ||
		    (job->drv->validate != NULL && job->drv->validate(job, &e) == -1))
			problem(c, "%s:%d: [%s] %s", c->path, sec->line, sec->name,
			        err_isset(&e) ? e.msg : "invalid configuration");
	}
out:
	free(list);
}

/*
 * check_job() with the job's problems kept apart: 0 when the job is
 * valid, else -1 and job->invalid holds its problem lines (the config's
 * own problem count is untouched).
 */
static int
check_job_alone(struct ctx *c, struct job *job)
{
	struct err *saved = c->err, jerr;
	int nproblems = c->nproblems, omitted = c->omitted, bad, more;

	err_clear(&jerr);
	c->err = &jerr;
	c->nproblems = c->omitted = 0;
	check_job(c, job);
	bad = c->nproblems;
	more = c->omitted;
	c->err = saved;
	c->nproblems = nproblems;
	c->omitted = omitted;
	if (bad == 0)
		return 0;
	if (more > 0)
		err_append_line(&jerr, "... and %d more problem%s (%d in all)", more,
		                more == 1 ? "" : "s", bad);
	job->invalid = xstrdup(jerr.msg);
	return -1;
}

static void
validate(struct ctx *c, const char *base_dir_override)
{
	struct config *cfg = c->cfg;
	size_t nj = 0;

	for (size_t i = 0; i < cfg->nsections; i++) {
		if (strcmp(cfg->sections[i].name, GLOBAL) == 0)
			cfg->global = &cfg->sections[i];
		if (strcmp(cfg->sections[i].name, CATALOG) == 0)
			cfg->catalog = &cfg->sections[i];
	}
	if (cfg->catalog != NULL)
		check_catalog(c, cfg->catalog);
	if (cfg->global == NULL)
		problem(c,
		        "%s: no [global] section; add one with at least backup_base_dir = "
		        "/path/to/backups",
		        c->path);
	else
		check_global(c, cfg->global);
	check_base_dir(c, base_dir_override);

	cfg->jobs = xcalloc(cfg->nsections, sizeof *cfg->jobs);
	cfg->invalid = xcalloc(cfg->nsections, sizeof *cfg->invalid);
	for (size_t i = 0; i < cfg->nsections; i++) {
		struct job *job;

		if (&cfg->sections[i] == cfg->global || &cfg->sections[i] == cfg->catalog)
			continue;
		job = &cfg->jobs[nj++];
		job->cfg = cfg;
		job->sec = &cfg->sections[i];
		job->name = cfg->sections[i].name;
		cfg->njobs = nj;
		if (check_job_alone(c, job) == -1) {
			/* Moved to cfg->invalid: the valid jobs stay contiguous. */
			cfg->invalid[cfg->ninvalid++] = *job;
			memset(job, 0, sizeof *job);
			cfg->njobs = --nj;
		}
	}
	/* The load fails: list every problem, the jobs' too, in file order. */
	if (c->nproblems > 0)
		for (size_t i = 0; i < cfg->ninvalid; i++)
			for (const char *p = cfg->invalid[i].invalid; *p != '\0';) {
				size_t len = strcspn(p, "\n");

				problem(c, "%.*s", (int)len, p);
				p += len + (p[len] == '\n');
			}
}

/* Read data into sections; validate them too unless raw. */
static int
parse_buffer(const char *name, const char *data, size_t len, const char *base_dir_override, int raw,
             struct config **out, struct err *err)
{
	struct ctx c;

	memset(&c, 0, sizeof c);
	c.path = name;
	c.err = err;
	c.cur = SEC_NONE;
	c.cfg = xcalloc(1, sizeof *c.cfg);
	c.cfg->path = xstrdup(name);
	/* Every name, key and value is a piece of data: they fit in len + 1 bytes. */
	strarena_init(&c.cfg->strings, len + 1);
	read_lines(&c, data, len);
	free(c.sec_set);
	c.sec_set = NULL;
	if (!raw)
		validate(&c, base_dir_override);
	if (c.omitted > 0)
		err_append_line(err,
		                "... and %d more problem%s (%d in all): fix these and run again",
		                c.omitted, c.omitted == 1 ? "" : "s", c.nproblems);
	if (c.nproblems > 0) {
		config_free(c.cfg);
		*out = NULL;
		return -1;
	}
	*out = c.cfg;
	return 0;
}

int
config_parse_buffer(const char *name, const char *data, size_t len, const char *base_dir_override,
                    struct config **out, struct err *err)
{
	return parse_buffer(name, data, len, base_dir_override, 0, out, err);
}

/*
 * A password written in the file itself (not a *_file key) while every
 * user may read the file: one warning naming the first such key, so an
 * original configuration copied with its 0644 mode does not stay
 * readable by all. Nothing is changed.
 */
static void
warn_open_secret(struct config *cfg, mode_t mode)
{
	static const char *const secret[] = { "db_passwd", "db_password", "switch_password",
		                              "switch_enable_password" };

	for (size_t i = 0; i < cfg->nsections; i++) {
		const struct cfg_section *sec = &cfg->sections[i];

		for (size_t j = 0; j < sec->n; j++) {
			for (size_t k = 0; k < sizeof secret / sizeof secret[0]; k++) {
				if (strcmp(sec->entries[j].key, secret[k]) != 0 ||
				    sec->entries[j].value[0] == '\0')
					continue;
				strv_pushf(
				    &cfg->warnings,
				    "%s:%d: [%s] %s: a password in a file every user can read "
				    "(mode %04o): chmod 600 %s (640 with [global] group)",
				    cfg->path, sec->entries[j].line, sec->name, secret[k],
				    (unsigned)(mode & 07777), cfg->path);
				return;
			}
		}
	}
}

/*
 * Read path whole (at most CONFIG_MAX_SIZE) and parse it. A regular
 * file is read into one buffer of its size (one read; the extra byte sees
 * the end): a buffer grown by doubling would touch, and copy, twice the
 * file's size of fresh memory for nothing.
 */
static int
load_file(const char *path, const char *base_dir_override, int raw, struct config **out,
          struct err *err)
{
	struct stat st;
	char *data = NULL;
	size_t len = 0, cap = 8192;
	int fd, e = 0, rc = -1, statted = 0;
	ssize_t r;

	*out = NULL;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		e = errno;
		goto out;
	}
	statted = fstat(fd, &st) == 0;
	if (statted && S_ISREG(st.st_mode) && st.st_size < (off_t)CONFIG_MAX_SIZE)
		cap = (size_t)st.st_size + 1;
	data = xmalloc(cap);
	for (;;) {
		if (len == cap) {
			if (len > CONFIG_MAX_SIZE) {
				err_set(err, "cannot read configuration %s: larger than %u MiB",
				        path, CONFIG_MAX_SIZE >> 20);
				if (err != NULL)
					err->code = EFBIG;
				goto out;
			}
			cap = cap > CONFIG_MAX_SIZE / 2 ? CONFIG_MAX_SIZE + 1 : 2 * cap;
			data = xrealloc(data, cap);
		}
		r = read(fd, data + len, cap - len);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			e = errno;
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	rc = parse_buffer(path, data, len, base_dir_override, raw, out, err);
	if (rc == 0 && !raw && statted && (st.st_mode & S_IROTH))
		warn_open_secret(*out, st.st_mode);
out:
	if (e != 0) {
		err_sys(err, e, "cannot read configuration %s", path);
		if (err != NULL)
			err->code = e;
	}
	if (fd != -1)
		close(fd);
	free(data);
	return rc;
}

int
config_load(const char *path, const char *base_dir_override, struct config **out, struct err *err)
{
	return load_file(path, base_dir_override, 0, out, err);
}

int
config_read_ini(const char *path, struct config **out, struct err *err)
{
	return load_file(path, NULL, 1, out, err);
}

const struct cfg_section *
config_section(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nsections; i++)
		if (strcmp(cfg->sections[i].name, name) == 0)
			return &cfg->sections[i];
	return NULL;
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (size_t i = 0; i < cfg->nsections; i++) {
		struct cfg_section *s = &cfg->sections[i];

		free(s->entries);
	}
	strarena_free(&cfg->strings);
	for (size_t i = 0; i < cfg->njobs; i++)
		free(cfg->jobs[i].dir);
	for (size_t i = 0; i < cfg->ninvalid; i++) {
		free(cfg->invalid[i].dir);
		free(cfg->invalid[i].invalid);
	}
	free(cfg->invalid);
	free(cfg->sections);
	free(cfg->jobs);
	free(cfg->backup_base_dir);
	free(cfg->path);
	strv_free(&cfg->warnings);
	free(cfg);
}

/* --- after loading -------------------------------------------------- */

/*
 * Whether path can be used as a key file: 0, else the errno of access(2)
 * or stat(2), or -1 when it is not a regular file. Remembered in memo (if
 * not NULL) by path, so that the same file named by many jobs is checked
 * once per pass.
 */
static int
file_state(const char *path, struct config_files_memo *memo)
{
	struct stat st;
	int state;

	for (size_t i = 0; memo != NULL && i < memo->n; i++)
		if (strcmp(memo->ent[i].path, path) == 0)
			return memo->ent[i].state;
	if (access(path, R_OK) == -1 || stat(path, &st) == -1)
		state = errno;
	else
		state = S_ISREG(st.st_mode) ? 0 : -1;
	if (memo != NULL) {
		if (memo->n == memo->cap) {
			memo->cap = memo->cap == 0 ? 8 : memo->cap * 2;
			memo->ent = xrealloc(memo->ent, memo->cap * sizeof *memo->ent);
		}
		memo->ent[memo->n].path = xstrdup(path);
		memo->ent[memo->n++].state = state;
	}
	return state;
}

int
config_check_files_memo(const struct job *job, struct config_files_memo *memo, struct err *err)
{
	const struct drv_key *const *keys;
	size_t n;
	int rc = 0;

	keys = driver_keys(job->drv, &n, NULL);
	for (size_t i = 0; i < n; i++) {
		const struct cfg_entry *e;
		const char *v;
		int line, state;

		if (keys[i]->type != KEY_FILE || (v = job_get(job, keys[i]->name)) == NULL)
			continue;
		if ((state = file_state(v, memo)) == 0)
			continue;
		e = job_entry(job, keys[i]->name);
		line = e != NULL ? e->line : job->sec->line;
		if (state > 0)
			err_append_line(err, "%s:%d: [%s] %s: cannot read %s: %s", job->cfg->path,
			                line, job->name, keys[i]->name, v, strerror(state));
		else
			err_append_line(err, "%s:%d: [%s] %s: %s is not a regular file",
			                job->cfg->path, line, job->name, keys[i]->name, v);
		rc = -1;
	}
	return rc;
}

int
config_check_files(const struct job *job, struct err *err)
{
	return config_check_files_memo(job, NULL, err);
}

void
config_files_memo_free(struct config_files_memo *memo)
{
	for (size_t i = 0; i < memo->n; i++)
		free(memo->ent[i].path);
	free(memo->ent);
	memset(memo, 0, sizeof *memo);
}

int
config_select(const struct config *cfg, const char *csv, const struct job ***out, size_t *n,
              struct err *err)
{
	const struct job **sel;
	char *want, *list = NULL;
	size_t nwant = 0, nsel = 0;
	int unknown = 0, rc = -1;

	sel = xcalloc(cfg->njobs + 1, sizeof *sel);
	/* want[i] marks job i as selected. */
	want = xcalloc(cfg->njobs + 1, 1);
	for (const char *p = csv; p != NULL && *p != '\0';) {
		const char *end = strchr(p, ',');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		const char *s = p;
		size_t i;

		p = end != NULL ? end + 1 : p + len;
		while (len > 0 && is_blank(*s)) {
			s++;
			len--;
		}
		while (len > 0 && is_blank(s[len - 1]))
			len--;
		if (len == 0)
			continue;
		nwant++;
		for (i = 0; i < cfg->njobs; i++)
			if (strlen(cfg->jobs[i].name) == len &&
			    strncmp(cfg->jobs[i].name, s, len) == 0)
				break;
		if (i < cfg->njobs) {
			want[i] = 1;
			continue;
		}
		for (i = 0; i < cfg->ninvalid; i++)
			if (strlen(cfg->invalid[i].name) == len &&
			    strncmp(cfg->invalid[i].name, s, len) == 0)
				break;
		if (i < cfg->ninvalid)
			continue; /* config_select_invalid()'s */
		if (list == NULL) {
			struct buf b;

			buf_init(&b, 1 << 20);
			for (size_t j = 0; j < cfg->njobs; j++)
				buf_printf(&b, "%s%s", j ? "," : "", cfg->jobs[j].name);
			list = b.data != NULL ? buf_steal(&b) : xstrdup("");
		}
		err_append_line(err, "unknown section '%.*s' in -s (known: %s)", (int)len, s, list);
		unknown = 1; /* go on: report every unknown name */
	}
	if (unknown)
		goto out;
	for (size_t i = 0; i < cfg->njobs; i++)
		if (nwant == 0 || want[i])
			sel[nsel++] = &cfg->jobs[i];
	*out = sel;
	*n = nsel;
	sel = NULL;
	rc = 0;
out:
	free(sel);
	free(want);
	free(list);
	return rc;
}

void
config_select_invalid(const struct config *cfg, const char *csv, const struct job ***out, size_t *n)
{
	const struct job **sel = xcalloc(cfg->ninvalid + 1, sizeof *sel);
	size_t nsel = 0;

	for (size_t i = 0; i < cfg->ninvalid; i++) {
		const char *name = cfg->invalid[i].name, *p = csv;
		size_t len = strlen(name);
		int want = csv == NULL || csv[0] == '\0';

		while (!want && p != NULL && *p != '\0') {
			const char *end = strchr(p, ',');
			const char *s = p;
			size_t l = end != NULL ? (size_t)(end - p) : strlen(p);

			p = end != NULL ? end + 1 : NULL;
			while (l > 0 && is_blank(*s)) {
				s++;
				l--;
			}
			while (l > 0 && is_blank(s[l - 1]))
				l--;
			want = l == len && strncmp(s, name, len) == 0;
		}
		if (want)
			sel[nsel++] = &cfg->invalid[i];
	}
	*out = sel;
	*n = nsel;
}
