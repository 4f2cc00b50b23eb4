/*
 * copy-vm-xcp: a copy of a VM of an XCP-ng / XenServer pool onto another
 * storage repository of the pool, kept as a halted VM "zzz-VM-YYYY-MM-DD
 * HH:MM" with its network interfaces moved to network_name; max_copies
 * of them are kept (docs/xcp.md).
 *
 * Over XAPI (xapi.h): server_name is the pool (the original's naming).
 * vm_name, storage_name and network_name must each name exactly one
 * object (a VM that is neither a snapshot nor a template). A fresh
 * snapshot is taken (Async.VM.snapshot; its returned ref is used, and it
 * is marked with our job), or with halt_vm the VM is shut down and copied
 * itself; Async.VM.copy makes the copy, which is marked at once
 * (other_config tisbackup:job, tisbackup:copy_of = the VM's uuid,
 * tisbackup:stamp), made a plain VM, stripped of auto_poweron before
 * anything may start it, its VIFs moved (VIF.move, or create then destroy
 * on pools older than XenServer 7.1), and started only with start_vm.
 *
 * Our copies are those marked with our job and VM, or (from the original)
 * labelled exactly "zzz-VM-YYYY-MM-DD HH:MM" and neither snapshots nor
 * templates. After a copy succeeded, the oldest beyond max_copies
 * (counting the new one) are destroyed; cleanup's expire hook applies the
 * same rule, and the check hook asks the pool whether a copy is there.
 *
 * Every outcome: the snapshot destroyed (unless delete_snapshot = no: then
 * kept, marked as kept, never copied again), a VM we halted started
 * again, the session logged out. Failures fail the run.
 */
#include "drivers/driver.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "drivers/xapi_job.h"
#include "jobconf.h"
#include "log.h"
#include "util/timefmt.h"
#include "util/xmalloc.h"
#include "xapi.h"

#define CVX_MARK_JOB "tisbackup:job"
#define CVX_MARK_OF "tisbackup:copy_of"
#define CVX_MARK_STAMP "tisbackup:stamp"
#define CVX_MARK_KEEP "tisbackup:kept"

static const struct drv_key cvx_required[] = {
	{ "vm_name", KEY_STR, NULL },      { "storage_name", KEY_STR, NULL },
	{ "network_name", KEY_STR, NULL }, { "password_file", KEY_FILE, NULL },
	{ NULL, KEY_STR, NULL },
};

static const struct drv_key cvx_optional[] = {
	{ "start_vm", KEY_BOOL_LOOSE, "no" },
	{ "max_copies", KEY_INT, "1" },
	{ "delete_snapshot", KEY_BOOL_LOOSE, "yes" },
	{ "halt_vm", KEY_BOOL, "no" },
	{ "xcp_ca_file", KEY_FILE, NULL },
	{ "xcp_fingerprint", KEY_STR, NULL },
	{ "ssl_verify", KEY_BOOL, "yes" },
	{ "ignore_proxies", KEY_BOOL, "yes" },
	{ "xapi_call_timeout", KEY_INT, "300" },
	{ "halt_timeout", KEY_INT, "600" },
	{ NULL, KEY_STR, NULL },
};

static int
cvx_validate(const struct job *job, struct err *err)
{
	if (job_get_long(job, "max_copies", 1) < 1) {
		err_set(err, "max_copies: must be at least 1 (the copy this run makes)");
		return -1;
	}
	if (strpbrk(job->server_name, " \t/@?#") != NULL || job->server_name[0] == '-') {
		err_set(err, "server_name: '%s' is not the pool's host or host:port",
		        job->server_name);
		return -1;
	}
	return 0;
}

static int
cvx_open(const struct job *job, struct xapi **x, struct err *err)
{
	struct xapi_opts o = xapi_job_opts(job, job->server_name);

	return xapi_open(&o, x, err);
}

/* --- names ------------------------------------------------------------------------ */

/*
 * The one object of class called label (VMs: not a snapshot nor a
 * template) into *ref (malloc()ed); its record into *rec when not NULL.
 */
static int
find_one(struct xapi *x, const char *cls, const char *key, const char *label, char **ref,
         struct xv **rec, struct err *err)
{
	char method[64];
	struct xv *refs = NULL, *r = NULL;
	size_t found = 0;
	int vm = strcmp(cls, "VM") == 0, rc = -1;

	*ref = NULL;
	snprintf(method, sizeof method, "%s.get_by_name_label", cls);
	if (xapi_call(x, &refs, err, method, "s", label) == -1)
		goto out;
	for (size_t i = 0; refs != NULL && refs->type == XV_ARRAY && i < refs->n; i++) {
		const char *ref1 = xv_str(&refs->items[i]);

		if (vm) {
			xv_free(r);
			r = NULL;
			if (xapi_call(x, &r, err, "VM.get_record", "s", ref1) == -1)
				goto out;
			if (xv_true(xv_get(r, "is_a_snapshot")) ||
			    xv_true(xv_get(r, "is_a_template")) ||
			    xv_true(xv_get(r, "is_control_domain")))
				continue;
		}
		if (++found == 1) {
			*ref = xstrdup(ref1);
			if (rec != NULL) {
				*rec = r;
				r = NULL;
			}
		}
	}
	if (found != 1) {
		err_set(err, "%s: %zu %s%s called '%s' on the pool; expected exactly one", key,
		        found, cls, vm ? "s (not snapshots or templates)" : "s", label);
		goto out;
	}
	rc = 0;
out:
	if (rc == -1) {
		free(*ref);
		*ref = NULL;
		if (rec != NULL) {
			xv_free(*rec);
			*rec = NULL;
		}
	}
	xv_free(r);
	xv_free(refs);
	return rc;
}

/* --- our copies ------------------------------------------------------------------ */

struct copy {
	char *ref;
	char *key; /* sort key: the stamp, or the label's date */
	char *label;
};

/* 1 if label is exactly "zzz-VM-YYYY-MM-DD HH:MM" (the original's copies). */
static int
legacy_label(const char *label, const char *vm_name)
{
	size_t n = strlen(vm_name);
	regex_t re;
	int ok;

	if (strncmp(label, "zzz-", 4) != 0 || strncmp(label + 4, vm_name, n) != 0 ||
	    label[4 + n] != '-')
		return 0;
	if (regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}(:[0-9]{2})?$",
	            REG_EXTENDED | REG_NOSUB) != 0)
		return 0;
	ok = regexec(&re, label + 5 + n, 0, NULL, 0) == 0;
	regfree(&re);
	return ok;
}

static int
copy_cmp(const void *a, const void *b)
{
	const struct copy *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c != 0 ? c : strcmp(x->ref, y->ref);
}

/*
 * Our copies of VM vm_uuid (vm_name) on the pool, oldest first, from one
 * VM.get_all_records. 0 with *out, *n (free with copies_free), or -1.
 */
static int
copies_list(struct xapi *x, const struct job *job, const char *vm_uuid, struct copy **out,
            size_t *n, struct err *err)
{
	const char *vm_name = job_get(job, "vm_name");
	struct xv *all = NULL;
	struct copy *c = NULL;
	size_t nc = 0;

	*out = NULL;
	*n = 0;
	if (xapi_call(x, &all, err, "VM.get_all_records", "") == -1)
		return -1;
	for (size_t i = 0; all != NULL && all->type == XV_STRUCT && i < all->n; i++) {
		const struct xv *r = &all->items[i], *oc = xv_get(r, "other_config");
		const char *label = xv_member_str(r, "name_label"), *stamp;
		char key[64];

		if (xv_true(xv_get(r, "is_a_snapshot")) || xv_true(xv_get(r, "is_a_template")))
			continue;
		stamp = xv_member_str(oc, CVX_MARK_STAMP);
		if (strcmp(xv_member_str(oc, CVX_MARK_JOB), job->name) == 0 &&
		    strcmp(xv_member_str(oc, CVX_MARK_OF), vm_uuid) == 0 && stamp[0] != '\0') {
			time_t t;
			struct tm tm;

			if (time_parse_stamp(stamp, &t) == -1)
				continue;
			localtime_r(&t, &tm);
			strftime(key, sizeof key, "%Y-%m-%d %H:%M:%S", &tm);
		} else if (xv_member_str(oc, CVX_MARK_JOB)[0] == '\0' &&
		           legacy_label(label, vm_name)) {
			snprintf(key, sizeof key, "%s", label + 5 + strlen(vm_name));
		} else {
			continue;
		}
		c = xrealloc(c, (nc + 1) * sizeof *c);
		c[nc].ref = xstrdup(all->names[i]);
		c[nc].key = xstrdup(key);
		c[nc].label = xstrdup(label);
		nc++;
	}
	xv_free(all);
	if (nc > 0)
		qsort(c, nc, sizeof *c, copy_cmp);
	*out = c;
	*n = nc;
	return 0;
}

static void
copies_free(struct copy *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].ref);
		free(c[i].key);
		free(c[i].label);
	}
	free(c);
}

/* Shut copy down (hard) when it runs, then destroy it with its disks. */
static int
copy_destroy(struct xapi *x, const struct copy *c, struct err *err)
{
	struct xv *ps = NULL;
	int rc = -1;

	if (xapi_call(x, &ps, err, "VM.get_power_state", "s", c->ref) == -1)
		goto out;
	if (strcmp(xv_str(ps) != NULL ? xv_str(ps) : "", "Halted") != 0 &&
	    xapi_call(x, NULL, err, "VM.hard_shutdown", "s", c->ref) == -1)
		goto out;
	rc = xapi_vm_destroy(x, c->ref, err);
out:
	xv_free(ps);
	if (rc == -1)
		err_wrap(err, "destroying the old copy %s", c->label);
	return rc;
}

/*
 * Keep the max_copies newest copies of the VM; destroy the older ones.
 * newest (or NULL) is the copy this run made: it counts as the newest
 * whatever its stamp says (two runs in the same second share one).
 */
static int
copies_rotate(struct xapi *x, const struct job *job, const char *vm_uuid, const char *newest,
              int *removed, struct err *err)
{
	long keep = job_get_long(job, "max_copies", 1);
	struct copy *c;
	size_t n;
	int rc = 0;

	*removed = 0;
	if (copies_list(x, job, vm_uuid, &c, &n, err) == -1)
		return -1;
	for (size_t i = 0; newest != NULL && i + 1 < n; i++) {
		if (strcmp(c[i].ref, newest) == 0) {
			struct copy t = c[i];

			memmove(&c[i], &c[i + 1], (n - i - 1) * sizeof *c);
			c[n - 1] = t;
			break;
		}
	}
	for (size_t i = 0; n > (size_t)keep && i < n - (size_t)keep; i++) {
		log_info(job->name, "max_copies = %ld: destroying the old copy %s", keep,
		         c[i].label);
		if (copy_destroy(x, &c[i], err) == -1) {
			rc = -1;
			break;
		}
		(*removed)++;
	}
	copies_free(c, n);
	return rc;
}

/* --- the run --------------------------------------------------------------------- */

/* Move every VIF of copy to network net. */
static int
move_vifs(struct xapi *x, const char *copy, const char *net, struct err *err)
{
	struct xv *vifs = NULL, *rec = NULL, *nv = NULL;
	int rc = -1;

	if (xapi_call(x, &vifs, err, "VM.get_VIFs", "s", copy) == -1)
		goto out;
	for (size_t i = 0; vifs != NULL && vifs->type == XV_ARRAY && i < vifs->n; i++) {
		static const char *const keep[] = { "device",
			                            "MAC",
			                            "MTU",
			                            "other_config",
			                            "qos_algorithm_type",
			                            "qos_algorithm_params",
			                            "locking_mode",
			                            "ipv4_allowed",
			                            "ipv6_allowed" };
		const char *vif = xv_str(&vifs->items[i]);
		struct xv args = { .type = XV_STRUCT };

		if (xapi_call(x, NULL, err, "VIF.move", "ss", vif, net) == 0)
			continue;
		if (!xapi_failed(x, "MESSAGE_METHOD_UNKNOWN"))
			goto out;
		/* before XenServer 7.1: a new VIF on net first, then the old one goes */
		xv_free(rec);
		rec = NULL;
		if (xapi_call(x, &rec, err, "VIF.get_record", "s", vif) == -1)
			goto out;
		args.items = xcalloc(sizeof keep / sizeof keep[0] + 2, sizeof *args.items);
		args.names = xcalloc(sizeof keep / sizeof keep[0] + 2, sizeof *args.names);
		for (size_t k = 0; k < sizeof keep / sizeof keep[0]; k++) {
			const struct xv *f = xv_get(rec, keep[k]);

			if (f == NULL)
				continue;
			args.names[args.n] = xstrdup(keep[k]);
			args.items[args.n] = *f; /* borrowed from rec */
			args.n++;
		}
		args.names[args.n] = xstrdup("VM");
		args.items[args.n] = (struct xv){ .type = XV_STR, .s = (char *)copy };
		args.n++;
		args.names[args.n] = xstrdup("network");
		args.items[args.n] = (struct xv){ .type = XV_STR, .s = (char *)net };
		args.n++;
		rc = xapi_call(x, &nv, err, "VIF.create", "v", &args);
		for (size_t k = 0; k < args.n; k++)
			free(args.names[k]);
		free(args.names);
		free(args.items);
		xv_free(nv);
		nv = NULL;
		if (rc == -1 || xapi_call(x, NULL, err, "VIF.destroy", "s", vif) == -1) {
			rc = -1;
			goto out;
		}
	}
	rc = 0;
out:
	xv_free(rec);
	xv_free(vifs);
	return rc;
}

/* Σ physical_utilisation of the copy's disks. */
static int64_t
copy_size(struct xapi *x, const char *copy)
{
	struct xv *vbds = NULL, *rec = NULL, *vdi = NULL;
	struct err err;
	int64_t total = 0;

	err_clear(&err);
	if (xapi_call(x, &vbds, &err, "VM.get_VBDs", "s", copy) == -1)
		return 0;
	for (size_t i = 0; vbds != NULL && vbds->type == XV_ARRAY && i < vbds->n; i++) {
		const char *v;

		xv_free(rec);
		rec = NULL;
		if (xapi_call(x, &rec, &err, "VBD.get_record", "s", xv_str(&vbds->items[i])) == -1)
			break;
		v = xv_member_str(rec, "VDI");
		if (strcmp(xv_member_str(rec, "type"), "CD") == 0 ||
		    strcmp(v, "OpaqueRef:NULL") == 0 || v[0] == '\0')
			continue;
		xv_free(vdi);
		vdi = NULL;
		if (xapi_call(x, &vdi, &err, "VDI.get_record", "s", v) == 0)
			total += strtoll(xv_member_str(vdi, "physical_utilisation"), NULL, 10);
	}
	xv_free(vdi);
	xv_free(rec);
	xv_free(vbds);
	return total;
}

/* Destroy the snapshots of vm that earlier runs of this job left (not the kept ones). */
static void
sweep_snapshots(struct xapi *x, const struct job *job, const char *vm, const struct xv *vmrec)
{
	const struct xv *snaps = xv_get(vmrec, "snapshots");
	char *legacy = xasprintf("tisbackup-%s", job_get(job, "vm_name"));
	struct xv *rec = NULL;
	struct err err;

	for (size_t i = 0; snaps != NULL && snaps->type == XV_ARRAY && i < snaps->n; i++) {
		const char *s = xv_str(&snaps->items[i]);
		const struct xv *oc;

		err_clear(&err);
		xv_free(rec);
		rec = NULL;
		if (xapi_call(x, &rec, &err, "VM.get_record", "s", s) == -1)
			continue;
		oc = xv_get(rec, "other_config");
		if (!xv_true(xv_get(rec, "is_a_snapshot")) ||
		    strcmp(xv_member_str(rec, "snapshot_of"), vm) != 0 ||
		    xv_member_str(oc, CVX_MARK_KEEP)[0] != '\0')
			continue;
		if (strcmp(xv_member_str(oc, CVX_MARK_JOB), job->name) != 0 &&
		    !(xv_member_str(oc, CVX_MARK_JOB)[0] == '\0' &&
		      strcmp(xv_member_str(rec, "name_label"), legacy) == 0))
			continue;
		log_info(job->name, "destroying the snapshot %s left by an earlier run",
		         xv_member_str(rec, "uuid"));
		if (xapi_vm_destroy(x, s, &err) == -1)
			log_warning(job->name, "leftover snapshot not destroyed: %s", err.msg);
	}
	xv_free(rec);
	free(legacy);
}

/* Replace key of ref's other_config with value (the copy inherits the snapshot's). */
static int
set_mark(struct xapi *x, const char *ref, const char *key, const char *value, struct err *err)
{
	if (xapi_call(x, NULL, err, "VM.remove_from_other_config", "ss", ref, key) == -1)
		return -1;
	return xapi_call(x, NULL, err, "VM.add_to_other_config", "sss", ref, key, value);
}

static int
cvx_backup(struct drv_run *run, struct drv_stats *st, struct err *err)
{
	const struct job *job = run->job;
	const char *vm_name = job_get(job, "vm_name");
	struct xapi *x = NULL;
	struct xv *vmrec = NULL, *same = NULL;
	char *vm = NULL, *sr = NULL, *net = NULL, *snap = NULL, *copy = NULL, *label = NULL,
	     *desc = NULL, when[32], secs[8];
	char *vm_uuid = NULL;
	const char *source;
	int halted = 0, failed = 1, removed, rc = -1;
	long timeout = job_get_long(job, "xapi_call_timeout", 300);
	struct tm tm;
	time_t t;

	if (run->dry_run) {
		log_info(job->name, "dry run: would copy VM %s to storage %s on %s", vm_name,
		         job_get(job, "storage_name"), job->server_name);
		return 0;
	}
	if (cvx_open(job, &x, err) == -1)
		return -1;
	if (find_one(x, "VM", "vm_name", vm_name, &vm, &vmrec, err) == -1 ||
	    find_one(x, "SR", "storage_name", job_get(job, "storage_name"), &sr, NULL, err) == -1 ||
	    find_one(x, "network", "network_name", job_get(job, "network_name"), &net, NULL, err) ==
	        -1)
		goto out;
	vm_uuid = xstrdup(xv_member_str(vmrec, "uuid"));
	sweep_snapshots(x, job, vm, vmrec);
	if (time_parse_stamp(run->stamp, &t) == -1)
		t = time(NULL);
	localtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
	strftime(secs, sizeof secs, ":%S", &tm);
	desc = xasprintf("snapshot created by tisbackup on : %s", when);

	if (job_get_bool(job, "halt_vm", 0)) {
		if (strcmp(xv_member_str(vmrec, "power_state"), "Running") == 0) {
			log_info(job->name, "shutting VM %s down", vm_name);
			if (xapi_async(x, run->progress, job_get_long(job, "halt_timeout", 600),
			               NULL, err, "VM.clean_shutdown", "s", vm) == -1)
				goto out;
			halted = 1;
		}
		source = vm;
	} else {
		char *sl = xasprintf("tisbackup-%s", vm_name);

		rc = xapi_async(x, run->progress, timeout * 4, &snap, err, "VM.snapshot", "ss", vm,
		                sl);
		free(sl);
		if (rc == -1)
			goto out;
		rc = -1;
		if (xapi_call(x, NULL, err, "VM.add_to_other_config", "sss", snap, CVX_MARK_JOB,
		              job->name) == -1 ||
		    xapi_call(x, NULL, err, "VM.set_name_description", "ss", snap, desc) == -1)
			goto out;
		source = snap;
	}

	/* the label: zzz-VM-DATE, with :SS when a VM is called so already */
	label = xasprintf("zzz-%s-%s", vm_name, when);
	if (xapi_call(x, &same, err, "VM.get_by_name_label", "s", label) == -1)
		goto out;
	if (same != NULL && same->type == XV_ARRAY && same->n > 0) {
		char *l2 = xasprintf("%s%s", label, secs);

		free(label);
		label = l2;
	}
	log_info(job->name, "copying VM %s to %s as \"%s\"", vm_name, job_get(job, "storage_name"),
	         label);
	if (xapi_async(x, run->progress, 0, &copy, err, "VM.copy", "sss", source, label, sr) == -1)
		goto out;
	if (set_mark(x, copy, CVX_MARK_JOB, job->name, err) == -1 ||
	    set_mark(x, copy, CVX_MARK_OF, vm_uuid, err) == -1 ||
	    set_mark(x, copy, CVX_MARK_STAMP, run->stamp, err) == -1 ||
	    xapi_call(x, NULL, err, "VM.remove_from_other_config", "ss", copy, CVX_MARK_KEEP) ==
	        -1 ||
	    xapi_call(x, NULL, err, "VM.set_is_a_template", "sb", copy, 0) == -1 ||
	    xapi_call(x, NULL, err, "VM.remove_from_other_config", "ss", copy, "auto_poweron") ==
	        -1 ||
	    move_vifs(x, copy, net, err) == -1 ||
	    xapi_call(x, NULL, err, "VM.set_name_description", "ss", copy, desc) == -1) {
		err_wrap(err, "the new copy \"%s\" (left on the pool)", label);
		goto out;
	}
	if (job_get_bool(job, "start_vm", 0) &&
	    xapi_async(x, run->progress, job_get_long(job, "halt_timeout", 600), NULL, err,
	               "VM.start", "sbb", copy, 0, 0) == -1) {
		err_wrap(err, "starting the copy \"%s\"", label);
		goto out;
	}
	if (copies_rotate(x, job, vm_uuid, copy, &removed, err) == -1)
		goto out;
	st->total_files = 1;
	st->written_files = 0;
	st->total_bytes = copy_size(x, copy);
	st->written_bytes = 0;
	st->location = xstrdup(job_get(job, "storage_name"));
	st->log = xasprintf("copy of %s to an other storage OK as \"%s\"", job->name, label);
	failed = 0;
out:
	if (snap != NULL) {
		struct err e;

		err_clear(&e);
		if (!job_get_bool(job, "delete_snapshot", 1)) {
			if (xapi_call(x, NULL, &e, "VM.add_to_other_config", "sss", snap,
			              CVX_MARK_KEEP, run->stamp) == -1)
				log_warning(job->name, "XAPI: %s", e.msg);
			else
				log_info(job->name, "delete_snapshot = no: the snapshot is kept");
		} else if (xapi_vm_destroy(x, snap, &e) == -1) {
			log_warning(job->name,
			            "the snapshot was not destroyed (the next run sweeps it): %s",
			            e.msg);
			st->warnings = 1;
		}
	}
	if (halted) {
		struct err e;

		err_clear(&e);
		if (xapi_async(x, NULL, job_get_long(job, "halt_timeout", 600), NULL, &e,
		               "VM.start", "sbb", vm, 0, 0) == -1) {
			if (failed)
				err_wrap(err, "VM %s left halted (%s); and", vm_name, e.msg);
			else
				err_set(err, "VM %s left halted: %s", vm_name, e.msg);
			failed = 1;
		}
	}
	rc = failed ? -1 : 0;
	xapi_close(x);
	xv_free(vmrec);
	xv_free(same);
	free(vm);
	free(vm_uuid);
	free(sr);
	free(net);
	free(snap);
	free(copy);
	free(label);
	free(desc);
	return rc;
}

/* --- hooks: the copies live on the pool ------------------------------------------- */

/* The uuid of the one VM called vm_name. */
static int
vm_uuid_of(struct xapi *x, const struct job *job, char **uuid, struct err *err)
{
	struct xv *rec = NULL;
	char *ref = NULL;

	*uuid = NULL;
	if (find_one(x, "VM", "vm_name", job_get(job, "vm_name"), &ref, &rec, err) == -1)
		return -1;
	*uuid = xstrdup(xv_member_str(rec, "uuid"));
	xv_free(rec);
	free(ref);
	return 0;
}

/*
 * Cleanup expired a row: the copies on the pool follow max_copies, not
 * the rows' age, so apply max_copies (a no-op when a backup already did)
 * and let the row become CLEAN.
 */
static int
cvx_expire(const struct drv_expire *xp, struct err *err)
{
	struct xapi *x = NULL;
	char *uuid = NULL;
	int removed = 0, rc = -1;

	if (cvx_open(xp->job, &x, err) == -1)
		return -1;
	if (vm_uuid_of(x, xp->job, &uuid, err) == 0 &&
	    copies_rotate(x, xp->job, uuid, NULL, &removed, err) == 0)
		rc = 0;
	free(uuid);
	xapi_close(x);
	return rc;
}

/* Is a copy of ours on the pool? DRV_ELSEWHERE, else DRV_GONE. */
static int
cvx_check(const struct job *job, const char *location, struct drv_check *out, struct err *err)
{
	struct xapi *x = NULL;
	struct copy *c = NULL;
	char *uuid = NULL;
	size_t n = 0;
	int rc = -1;

	(void)location;
	memset(out, 0, sizeof *out);
	if (cvx_open(job, &x, err) == -1)
		return -1;
	if (vm_uuid_of(x, job, &uuid, err) == 0 && copies_list(x, job, uuid, &c, &n, err) == 0) {
		out->presence = n > 0 ? DRV_ELSEWHERE : DRV_GONE;
		rc = 0;
	}
	copies_free(c, n);
	free(uuid);
	xapi_close(x);
	return rc;
}

const struct driver drv_copy_vm_xcp = {
	.name = "copy-vm-xcp",
	.description = "Copies a VM of an XCP-ng/XenServer pool to another storage repository "
	               "over XAPI, keeping max_copies copies.",
	.required = cvx_required,
	.optional = cvx_optional,
	.caps = DRV_CAP_REMOTE,
	.validate = cvx_validate,
	.backup = cvx_backup,
	.expire = cvx_expire,
	.check = cvx_check,
};
