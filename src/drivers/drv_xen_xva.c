/*
 * xen-xva: a consistent export of a VM of an XCP-ng / XenServer pool as
 * one XVA file, {job}/{section}-{STAMP}.xva (docs/drivers/xcp.md).
 *
 * Over XAPI (xapi.h): log in (HOST_IS_SLAVE followed), find the one VM
 * called server_name that is neither a snapshot nor a template, destroy
 * the snapshots our earlier runs left behind (ours only: is_a_snapshot,
 * snapshot_of this VM, and our other_config marker or the original's
 * name "tisbackup-NAME"), take a snapshot (Async.VM.snapshot; we keep the
 * ref it returns and mark it), then stream GET /export of it into
 * {section}-{STAMP}.xva.partial while xva_verify.c checks every byte
 * (compression, tar, each chunk's checksum, every disk complete). The
 * export's own task (task.create, task_id=) is the completion signal: the
 * file is renamed to .xva only when the task succeeded and the verifier
 * found a whole archive. With halt_vm, the VM itself is shut down cleanly
 * and exported, and started again in every outcome.
 *
 * In every outcome: the export task is cancelled (when the run failed)
 * before the snapshot is destroyed (xapi would otherwise wait for the
 * export), the snapshot destroyed (VDIs then VM; once more after 10 s on
 * VDI_IN_USE), the task destroyed, the .partial removed, the session
 * logged out. Liveness: the run's watchdog sees the export's bytes and,
 * from a poller thread on its own connection, the task's progress, so a
 * long compressed run of zeros (no bytes for minutes) is not a stall.
 */
#include "drivers/driver.h"

#include <sys/stat.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "drivers/xapi_job.h"
#include "http.h"
#include "jobconf.h"
#include "log.h"
#include "progress.h"
#include "progress_xfer.h"
#include "util/buf.h"
#include "util/fsutil.h"
#include "util/timefmt.h"
#include "util/xmalloc.h"
#include "xapi.h"
#include "xva_verify.h"

#define XVA_STAGING ".partial"
#define XVA_LEGACY_STAGING ".tmp"
#define XVA_MARK_JOB "tisbackup:job"
#define XVA_MARK_STAMP "tisbackup:stamp"
#define XVA_MAX_DISKS 64
#define XVA_RECV (256u << 10)            /* libcurl's receive buffer for the export */
#define XVA_WDIRECT (64u << 10)          /* pieces this large are written as they are */
#define XVA_WBUF (128u << 10)            /* smaller ones gathered into writes of 64-128 KiB */
#define XVA_SYNC_STEP (16u << 20)        /* the disk writes the .partial in steps of this */
#define XVA_SYNC_LAG (4 * XVA_SYNC_STEP) /* written, not yet waited for */

static const struct drv_key xva_required[] = {
	{ "xcphost", KEY_STR, NULL },
	{ "password_file", KEY_FILE, NULL },
	{ NULL, KEY_STR, NULL },
};

static const struct drv_key xva_optional[] = {
	{ "enable_https", KEY_BOOL, "yes" },   { "halt_vm", KEY_BOOL, "no" },
	{ "verify_export", KEY_BOOL, "yes" },  { "reuse_snapshot", KEY_BOOL, "no" },
	{ "ignore_proxies", KEY_BOOL, "yes" }, { "use_compression", KEY_STR, "true" },
	{ "xcp_ca_file", KEY_FILE, NULL },     { "xcp_fingerprint", KEY_STR, NULL },
	{ "ssl_verify", KEY_BOOL, "yes" },     { "xapi_call_timeout", KEY_INT, "300" },
	{ "halt_timeout", KEY_INT, "600" },    { NULL, KEY_STR, NULL },
};

/* --- configuration --------------------------------------------------------------- */

/*
 * use_compression as /export understands it: "true" (gzip), "zstd" or
 * "false". The original pasted the raw value, so its "yes" meant none.
 */
static const char *
xva_compression(const char *v)
{
	static const char *const gz[] = { "true", "yes", "1", "gzip", "on" };
	static const char *const none[] = { "false", "no", "0", "off", "none" };

	if (v == NULL)
		return "true";
	for (size_t i = 0; i < sizeof gz / sizeof gz[0]; i++)
		if (strcasecmp(v, gz[i]) == 0)
			return "true";
	for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
		if (strcasecmp(v, none[i]) == 0)
			return "false";
	if (strcasecmp(v, "zstd") == 0)
		return "zstd";
	return NULL;
}

static int
xva_validate(const struct job *job, struct err *err)
{
	const char *host = job_get(job, "xcphost"), *fp = job_get(job, "xcp_fingerprint");
	size_t hex = 0;

	if (host == NULL || host[0] == '\0' || host[0] == '-' || strpbrk(host, " \t/@?#") != NULL) {
		err_set(err, "xcphost: '%s' is not a host or host:port", host != NULL ? host : "");
		return -1;
	}
	if (xva_compression(job_get(job, "use_compression")) == NULL) {
		err_set(err, "use_compression: '%s' is not one of true, gzip, zstd, false",
		        job_get(job, "use_compression"));
		return -1;
	}
	if (fp != NULL && strncmp(fp, "sha256//", 8) != 0) {
		for (const char *p = fp; *p != '\0'; p++) {
			if (strchr("0123456789abcdefABCDEF", *p) != NULL)
				hex++;
			else if (*p != ':') {
				hex = 0;
				break;
			}
		}
		if (hex != 64) {
			err_set(err,
			        "xcp_fingerprint: expected the SHA-256 of the pool's public key "
			        "(64 hex digits, ':' allowed, or sha256//BASE64)");
			return -1;
		}
	}
	if (job->server_name[0] == '\0') {
		err_set(err, "server_name: the VM's name label is empty");
		return -1;
	}
	return 0;
}

/* --- layout ---------------------------------------------------------------------- */

/* 1 if name[0..len) is "NAME-STAMP.xva" (NAME not empty); stamp copied. */
static int
xva_final_name(const char *name, size_t len, char *stamp_out)
{
	static const char ext[] = ".xva";
	size_t el = sizeof ext - 1;
	char stamp[TIME_STAMP_LEN + 1];
	time_t t;

	if (len < el + TIME_STAMP_LEN + 2 || strncmp(name + len - el, ext, el) != 0 ||
	    name[len - el - TIME_STAMP_LEN - 1] != '-')
		return 0;
	memcpy(stamp, name + len - el - TIME_STAMP_LEN, TIME_STAMP_LEN);
	stamp[TIME_STAMP_LEN] = '\0';
	if (time_parse_stamp(stamp, &t) == -1)
		return 0;
	memcpy(stamp_out, stamp, TIME_STAMP_LEN + 1);
	return 1;
}

/*
 * NAME-STAMP.xva is a finished export; NAME-STAMP.xva.partial (ours) and
 * NAME-STAMP.xva.tmp (the original's) are a run's unfinished work.
 */
static enum drv_entry
xva_classify(const char *name, char *stamp_out)
{
	static const char *const staging[] = { XVA_STAGING, XVA_LEGACY_STAGING };
	size_t len = strlen(name);

	for (size_t i = 0; i < 2; i++) {
		size_t sl = strlen(staging[i]);

		if (len > sl && strcmp(name + len - sl, staging[i]) == 0)
			return xva_final_name(name, len - sl, stamp_out) ? DRV_ENTRY_STAGING
			                                                 : DRV_ENTRY_OTHER;
	}
	return xva_final_name(name, len, stamp_out) ? DRV_ENTRY_FINAL : DRV_ENTRY_OTHER;
}

static size_t
xva_names(const struct job *job, const char *stamp, char **names)
{
	names[0] = xasprintf("%s-%s.xva", job->name, stamp);
	names[1] = xasprintf("%s" XVA_STAGING, names[0]);
	names[2] = xasprintf("%s" XVA_LEGACY_STAGING, names[0]);
	return 3;
}

static const struct drv_layout xva_layout = {
	.classify = xva_classify,
	.names = xva_names,
};

/* --- one run's state ------------------------------------------------------------- */

struct xva_run {
	struct drv_run *run;
	const struct job *job;
	struct xapi *x;
	char *vm, *vm_uuid, *power;
	char *snap; /* our snapshot (destroyed in every outcome) */
	char *task; /* the export task */
	int halted; /* we shut the VM down: start it again */
	char *partial, *final;
	int fd;
	struct xva_verify *verify;
	uint64_t written;
	char *wbuf; /* small pieces on their way to the .partial (XVA_WBUF bytes) */
	size_t wlen;
	uint64_t fbytes;  /* written to the .partial */
	uint64_t started; /* the disk was asked to write up to here, */
	uint64_t synced;  /* and has written up to here */
	int no_writeback; /* the file system cannot start writeback early */
	uint64_t sizes[XVA_MAX_DISKS];
	size_t ndisks;
	/* the task progress poller */
	pthread_t poller;
	int poller_started;
	atomic_int stop;
	struct xapi *px;
};

/* --- snapshots ------------------------------------------------------------------- */

/*
 * Destroy the snapshots of the VM that earlier runs of this job left:
 * snapshots of this VM marked with our job, or called "tisbackup-NAME"
 * (the original's). A failure is a warning (the next run tries again).
 */
static void
sweep_leftovers(struct xva_run *r, const struct xv *vmrec)
{
	const struct xv *snaps = xv_get(vmrec, "snapshots");
	char *legacy = xasprintf("tisbackup-%s", r->job->server_name);
	struct xv *rec = NULL;
	struct err err;

	for (size_t i = 0; snaps != NULL && snaps->type == XV_ARRAY && i < snaps->n; i++) {
		const char *s = xv_str(&snaps->items[i]), *mark;

		err_clear(&err);
		xv_free(rec);
		rec = NULL;
		if (s == NULL || xapi_call(r->x, &rec, &err, "VM.get_record", "s", s) == -1) {
			log_warning(r->job->name, "XAPI: %s", err.msg);
			continue;
		}
		mark = xv_member_str(xv_get(rec, "other_config"), XVA_MARK_JOB);
		if (!xv_true(xv_get(rec, "is_a_snapshot")) ||
		    strcmp(xv_member_str(rec, "snapshot_of"), r->vm) != 0)
			continue;
		if (strcmp(mark, r->job->name) != 0 &&
		    !(mark[0] == '\0' && strcmp(xv_member_str(rec, "name_label"), legacy) == 0))
			continue;
		log_info(r->job->name, "destroying the snapshot %s (%s) left by an earlier run",
		         xv_member_str(rec, "name_label"), xv_member_str(rec, "uuid"));
		if (xapi_vm_destroy(r->x, s, &err) == -1)
			log_warning(r->job->name, "leftover snapshot %s not destroyed: %s",
			            xv_member_str(rec, "uuid"), err.msg);
	}
	xv_free(rec);
	free(legacy);
}

/* --- finding the VM -------------------------------------------------------------- */

/* The one VM called server_name that is not a snapshot, a template or dom0. */
static int
find_vm(struct xva_run *r, struct xv **vmrec, struct err *err)
{
	struct xv *refs = NULL, *rec = NULL;
	size_t found = 0, others = 0;
	int rc = -1;

	*vmrec = NULL;
	if (xapi_call(r->x, &refs, err, "VM.get_by_name_label", "s", r->job->server_name) == -1)
		goto out;
	for (size_t i = 0; refs != NULL && refs->type == XV_ARRAY && i < refs->n; i++) {
		const char *ref = xv_str(&refs->items[i]);

		if (ref == NULL || xapi_call(r->x, &rec, err, "VM.get_record", "s", ref) == -1)
			goto out;
		if (xv_true(xv_get(rec, "is_a_snapshot")) ||
		    xv_true(xv_get(rec, "is_a_template")) ||
		    xv_true(xv_get(rec, "is_control_domain"))) {
			others++;
			xv_free(rec);
			rec = NULL;
			continue;
		}
		if (++found == 1) {
			r->vm = xstrdup(ref);
			*vmrec = rec;
		} else {
			xv_free(rec);
		}
		rec = NULL;
	}
	if (found != 1) {
		err_set(err,
		        "server_name: %zu VMs called '%s' on the pool (not counting %zu snapshots "
		        "or templates); expected exactly one",
		        found, r->job->server_name, others);
		goto out;
	}
	rc = 0;
out:
	if (rc == -1) {
		xv_free(*vmrec);
		*vmrec = NULL;
	}
	xv_free(rec);
	xv_free(refs);
	return rc;
}

/* The virtual sizes of the disks (non-CD VBDs with a VDI) of vm. */
static int
disk_sizes(struct xva_run *r, const char *vm, struct err *err)
{
	struct xv *vbds = NULL, *rec = NULL, *size = NULL;
	int rc = -1;

	r->ndisks = 0;
	if (xapi_call(r->x, &vbds, err, "VM.get_VBDs", "s", vm) == -1)
		goto out;
	for (size_t i = 0; vbds != NULL && vbds->type == XV_ARRAY && i < vbds->n; i++) {
		const char *vdi;
		char *end;

		xv_free(rec);
		rec = NULL;
		if (xapi_call(r->x, &rec, err, "VBD.get_record", "s", xv_str(&vbds->items[i])) ==
		    -1)
			goto out;
		vdi = xv_member_str(rec, "VDI");
		if (strcmp(xv_member_str(rec, "type"), "CD") == 0 || vdi[0] == '\0' ||
		    strcmp(vdi, "OpaqueRef:NULL") == 0)
			continue;
		xv_free(size);
		size = NULL;
		if (xapi_call(r->x, &size, err, "VDI.get_virtual_size", "s", vdi) == -1)
			goto out;
		if (r->ndisks == XVA_MAX_DISKS) {
			err_set(err, "the VM has more than %d disks", XVA_MAX_DISKS);
			goto out;
		}
		errno = 0;
		r->sizes[r->ndisks] = strtoull(xv_str(size) != NULL ? xv_str(size) : "", &end, 10);
		if (errno != 0 || end == xv_str(size) || *end != '\0') {
			err_set(err, "VDI.get_virtual_size: '%.40s' is not a size",
			        xv_str(size) != NULL ? xv_str(size) : "");
			goto out;
		}
		r->ndisks++;
	}
	rc = 0;
out:
	xv_free(size);
	xv_free(rec);
	xv_free(vbds);
	return rc;
}

/* --- the export ------------------------------------------------------------------ */

/*
 * Have the disk write the .partial while the export arrives, not all of it
 * at the final fsync(2): each XVA_SYNC_STEP written is handed to the disk
 * at once, and the step XVA_SYNC_LAG behind it is waited for and dropped
 * from the page cache (a backup is not read back soon; the server's cache
 * stays its own). The lag lets the disk's pace vary without the receive
 * loop waiting on it (one step of lag cost a quarter of the zstd throughput
 * in bench/bench_xva.sh). The final fsync then has at most XVA_SYNC_LAG +
 * one step left, and the write(2)s wait for the disk when it is slower than
 * the network for longer than that. A file system without
 * sync_file_range(2) leaves it all to that fsync.
 */
static int
export_writeback(struct xva_run *r, struct err *err)
{
	while (!r->no_writeback && r->fbytes - r->started >= XVA_SYNC_STEP) {
		if (sync_file_range(r->fd, (off_t)r->started, XVA_SYNC_STEP,
		                    SYNC_FILE_RANGE_WRITE) == -1)
			goto failed;
		r->started += XVA_SYNC_STEP;
		if (r->started - r->synced <= XVA_SYNC_LAG)
			continue;
		if (sync_file_range(r->fd, (off_t)r->synced, XVA_SYNC_STEP,
		                    SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
		                        SYNC_FILE_RANGE_WAIT_AFTER) == -1)
			goto failed;
		(void)posix_fadvise(r->fd, (off_t)r->synced, XVA_SYNC_STEP, POSIX_FADV_DONTNEED);
		r->synced += XVA_SYNC_STEP;
	}
	return 0;
failed:
	if (errno == EIO || errno == ENOSPC || errno == ENOMEM) {
		err_sys(err, errno, "writing %s to disk", r->partial);
		return -1;
	}
	r->no_writeback = 1; /* EINVAL, ESPIPE...: the final fsync does it all */
	return 0;
}

/* Write len bytes at p to the .partial. */
static int
export_write(struct xva_run *r, const char *p, size_t len, struct err *err)
{
	while (len > 0) {
		ssize_t n = write(r->fd, p, len);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			err_sys(err, errno, "writing %s", r->partial);
			return -1;
		}
		p += n;
		len -= (size_t)n;
		r->fbytes += (uint64_t)n;
	}
	return export_writeback(r, err);
}

/* Write what the buffer holds to the .partial. */
static int
export_flush(struct xva_run *r, struct err *err)
{
	size_t len = r->wlen;

	r->wlen = 0;
	return export_write(r, r->wbuf, len, err);
}

/*
 * Each piece libcurl hands over (up to XVA_RECV bytes) goes to the
 * verifier, then to the .partial: a large piece straight from libcurl's
 * buffer, while the verifier left it in the CPU's cache; small ones
 * gathered first, so every write(2) is at least XVA_WDIRECT bytes. Not
 * one big buffer: on the machines measured, write(2)s of 1 MiB copy into
 * the page cache 2-4x slower than writes of 64-512 KiB (bench/README.md).
 */
static int
export_sink(void *ctx, const void *data, size_t len, struct err *err)
{
	struct xva_run *r = ctx;

	if (xva_verify_feed(r->verify, data, len, err) == -1)
		return -1;
	r->written += len;
	if (r->wlen > 0 && r->wlen + len > XVA_WBUF && export_flush(r, err) == -1)
		return -1;
	if (r->wlen == 0 && len >= XVA_WDIRECT)
		return export_write(r, data, len, err);
	memcpy(r->wbuf + r->wlen, data, len);
	r->wlen += len;
	if (r->wlen >= XVA_WDIRECT)
		return export_flush(r, err);
	return 0;
}

/*
 * The poller thread: every interval, task.get_progress of the export on
 * its own connection; a change is progress for the run's watchdog.
 */
static void *
poller_main(void *arg)
{
	struct xva_run *r = arg;
	long stall = job_get_long(r->job, "stall_timeout", 1800);
	long interval_ms = stall >= 120 ? 30000 : stall > 4 ? stall * 1000 / 4 : 1000;
	char last[32] = "";

	while (!atomic_load(&r->stop)) {
		struct xv *v = NULL;
		struct err err;

		for (long waited = 0; waited < interval_ms && !atomic_load(&r->stop);
		     waited += 100) {
			struct timespec ts = { 0, 100000000L };

			nanosleep(&ts, NULL);
		}
		if (atomic_load(&r->stop))
			break;
		err_clear(&err);
		if (xapi_call(r->px, &v, &err, "task.get_progress", "s", r->task) == 0 &&
		    xv_str(v) != NULL && strcmp(xv_str(v), last) != 0) {
			snprintf(last, sizeof last, "%s", xv_str(v));
			progress_feed(r->run->progress, 0);
		}
		xv_free(v);
	}
	return NULL;
}

/* "zstd" when the pool allows it, else "true" with a warning. */
static const char *
zstd_or_gzip(struct xva_run *r)
{
	struct xv *pools = NULL, *restr = NULL;
	struct err err;
	int ok = 0;

	err_clear(&err);
	if (xapi_call(r->x, &pools, &err, "pool.get_all", "") == 0 && pools != NULL &&
	    pools->type == XV_ARRAY && pools->n > 0 &&
	    xapi_call(r->x, &restr, &err, "pool.get_restrictions", "s", xv_str(&pools->items[0])) ==
	        0)
		ok = strcmp(xv_member_str(restr, "restrict_zstd_export"), "false") == 0;
	xv_free(pools);
	xv_free(restr);
	if (ok)
		return "zstd";
	log_warning(r->job->name,
	            "use_compression = zstd: the pool does not allow zstd exports%s%s; "
	            "using gzip",
	            err.msg[0] != '\0' ? ": " : "", err.msg);
	return "true";
}

static int
do_export(struct xva_run *r, const char *source, struct err *err)
{
	const struct job *job = r->job;
	const char *comp = xva_compression(job_get(job, "use_compression"));
	int https = job_get_bool(job, "enable_https", 1);
	struct http_client *hc = NULL;
	struct http_response resp;
	struct xv *task = NULL;
	struct buf url;
	char *label = NULL;
	int rc = -1, perr;

	memset(&resp, 0, sizeof resp);
	buf_init(&url, 8192);
	if (strcmp(comp, "zstd") == 0)
		comp = zstd_or_gzip(r);
	if (disk_sizes(r, source, err) == -1)
		goto out;
	label = xasprintf("tisbackup export %s", job->name);
	if (xapi_call(r->x, &task, err, "task.create", "ss", label, "") == -1 ||
	    xv_str(task) == NULL)
		goto out;
	r->task = xstrdup(xv_str(task));
	buf_printf(&url, "%s://%s/export?ref=", https ? "https" : "http", xapi_host(r->x));
	xapi_url_escape(&url, source);
	buf_puts(&url, "&session_id=");
	xapi_url_escape(&url, xapi_session(r->x));
	buf_puts(&url, "&task_id=");
	xapi_url_escape(&url, r->task);
	buf_printf(&url, "&use_compression=%s", comp);

	r->fd = open(r->partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (r->fd == -1) {
		err_sys(err, errno, "creating %s", r->partial);
		goto out;
	}
	r->verify = xva_verify_new(job_get_bool(job, "verify_export", 1));
	r->wbuf = xmalloc(XVA_WBUF);
	if (xapi_http_client(r->x, &hc, err) == -1 || xapi_clone(r->x, &r->px, err) == -1)
		goto out;
	atomic_store(&r->stop, 0);
	if ((perr = pthread_create(&r->poller, NULL, poller_main, r)) != 0) {
		err_sys(err, perr, "starting the task poller");
		goto out;
	}
	r->poller_started = 1;
	log_info(job->name, "exporting %s of VM %s (%zu disks, use_compression=%s) into %s",
	         r->snap != NULL ? "a snapshot" : "the halted VM", job->server_name, r->ndisks,
	         comp, r->partial);
	{
		struct http_request rq = {
			.url = buf_str(&url),
			.sink = export_sink,
			.sink_ctx = r,
			.progress = r->run->progress,
			.recv_buffer = XVA_RECV,
		};

		if (http_request(hc, &rq, &resp, err) == -1)
			goto out;
	}
	if (resp.status != 200) {
		err_set(err, "GET /export: HTTP %ld, expected 200", resp.status);
		goto out;
	}
	atomic_store(&r->stop, 1);
	/* the export's task is the authority on completeness */
	if (xapi_task_wait(r->x, r->task, r->run->progress,
	                   job_get_long(job, "xapi_call_timeout", 300), NULL, err) == -1) {
		err_wrap(err, "the export task");
		goto out;
	}
	if (xva_verify_finish(r->verify, r->sizes, r->ndisks, err) == -1)
		goto out;
	if (export_flush(r, err) == -1)
		goto out;
	if (fsync(r->fd) == -1) {
		err_sys(err, errno, "fsync %s", r->partial);
		goto out;
	}
	rc = 0;
out:
	if (r->poller_started) {
		atomic_store(&r->stop, 1);
		pthread_join(r->poller, NULL);
		r->poller_started = 0;
	}
	http_response_free(&resp);
	http_client_free(hc);
	xv_free(task);
	free(label);
	buf_free(&url);
	return rc;
}

/* --- the run --------------------------------------------------------------------- */

/*
 * Everything a run must undo, whatever happened: cancel the export task
 * when the run failed, destroy our snapshot, start the VM we halted, and
 * destroy the task. Failures here fail the run only for the VM left
 * halted; a snapshot left behind is a warning (swept next time).
 */
static int
xva_undo(struct xva_run *r, int failed, struct drv_stats *st, struct err *err)
{
	const struct job *job = r->job;
	struct err e;
	int rc = 0;

	if (r->task != NULL && failed) {
		err_clear(&e);
		if (xapi_call(r->x, NULL, &e, "task.cancel", "s", r->task) == -1 &&
		    !xapi_failed(r->x, "OPERATION_NOT_ALLOWED"))
			log_warning(job->name, "XAPI: %s", e.msg);
	}
	if (r->snap != NULL) {
		err_clear(&e);
		if (xapi_vm_destroy(r->x, r->snap, &e) == -1) {
			log_warning(
			    job->name,
			    "the snapshot %s was not destroyed (the next run sweeps it): %s",
			    r->snap, e.msg);
			st->warnings = 1;
		}
	}
	if (r->halted) {
		err_clear(&e);
		log_info(job->name, "starting VM %s again", job->server_name);
		if (xapi_async(r->x, NULL, job_get_long(job, "halt_timeout", 600), NULL, &e,
		               "VM.start", "sbb", r->vm, 0, 0) == -1) {
			if (failed)
				err_wrap(err, "VM %s left halted (%s); and", job->server_name,
				         e.msg);
			else
				err_set(err, "VM %s left halted: %s", job->server_name, e.msg);
			rc = -1;
		}
	}
	if (r->task != NULL) {
		err_clear(&e);
		if (xapi_call(r->x, NULL, &e, "task.destroy", "s", r->task) == -1)
			log_warning(job->name, "XAPI: %s", e.msg);
	}
	return rc;
}

/* Remove the original's NAME-STAMP.xva.tmp leftovers of this job. */
static void
remove_legacy_tmp(const struct job *job)
{
	char stamp[TIME_STAMP_LEN + 1];
	size_t nl = strlen(job->name);
	struct dirent *de;
	DIR *d = opendir(job->dir);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len > 4 && strcmp(de->d_name + len - 4, XVA_LEGACY_STAGING) == 0 &&
		    strncmp(de->d_name, job->name, nl) == 0 && de->d_name[nl] == '-' &&
		    len == nl + 1 + TIME_STAMP_LEN + 4 + 4 &&
		    xva_classify(de->d_name, stamp) == DRV_ENTRY_STAGING) {
			if (unlinkat(dirfd(d), de->d_name, 0) == 0)
				log_info(job->name, "removed %s, left by the original", de->d_name);
		}
	}
	closedir(d);
}

static int
xva_backup(struct drv_run *run, struct drv_stats *st, struct err *err)
{
	const struct job *job = run->job;
	struct xva_run r;
	struct xapi_opts o = xapi_job_opts(job, job_get(job, "xcphost"));
	struct xv *vmrec = NULL;
	char *names[DRV_LAYOUT_NAMES], *snaplabel = NULL, *desc = NULL, when[32];
	const char *source;
	size_t nnames;
	time_t t;
	int rc = -1, failed = 1;

	memset(&r, 0, sizeof r);
	r.run = run;
	r.job = job;
	r.fd = -1;
	nnames = xva_names(job, run->stamp, names);
	r.final = xasprintf("%s/%s", job->dir, names[0]);
	r.partial = xasprintf("%s/%s", job->dir, names[1]);
	for (size_t i = 0; i < nnames; i++)
		free(names[i]);
	if (run->dry_run) {
		log_info(job->name, "dry run: would export VM %s from %s into %s", job->server_name,
		         o.host, r.final);
		rc = 0;
		goto done;
	}
	if (job_get_bool(job, "reuse_snapshot", 0))
		log_info(job->name, "reuse_snapshot is ignored: a fresh snapshot is always taken");
	remove_legacy_tmp(job);
	if (xapi_open(&o, &r.x, err) == -1)
		goto done;
	if (find_vm(&r, &vmrec, err) == -1)
		goto out;
	r.power = xstrdup(xv_member_str(vmrec, "power_state"));
	r.vm_uuid = xstrdup(xv_member_str(vmrec, "uuid"));
	sweep_leftovers(&r, vmrec);

	if (time_parse_stamp(run->stamp, &t) == -1)
		t = time(NULL);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M", localtime(&t));
	if (job_get_bool(job, "halt_vm", 0)) {
		if (strcmp(r.power, "Running") == 0) {
			log_info(job->name, "shutting VM %s down", job->server_name);
			if (xapi_async(r.x, run->progress, job_get_long(job, "halt_timeout", 600),
			               NULL, err, "VM.clean_shutdown", "s", r.vm) == -1) {
				/* it may have halted anyway: check before giving up on a restart */
				struct xv *ps = NULL;
				struct err e;

				err_clear(&e);
				if (xapi_call(r.x, &ps, &e, "VM.get_power_state", "s", r.vm) == 0 &&
				    strcmp(xv_str(ps) != NULL ? xv_str(ps) : "", "Halted") == 0)
					r.halted = 1;
				xv_free(ps);
				goto out;
			}
			r.halted = 1;
		} else if (strcmp(r.power, "Halted") != 0) {
			err_set(err, "halt_vm: VM %s is %s, neither Running nor Halted",
			        job->server_name, r.power);
			goto out;
		}
		source = r.vm;
	} else {
		snaplabel = xasprintf("tisbackup-%s", job->server_name);
		log_info(job->name, "taking a snapshot of VM %s", job->server_name);
		if (xapi_async(r.x, run->progress, job_get_long(job, "xapi_call_timeout", 300) * 4,
		               &r.snap, err, "VM.snapshot", "ss", r.vm, snaplabel) == -1)
			goto out;
		if (r.snap == NULL || strncmp(r.snap, "OpaqueRef:", 10) != 0) {
			err_set(err, "VM.snapshot: the task's result is not a VM reference");
			free(r.snap);
			r.snap = NULL;
			goto out;
		}
		desc = xasprintf("snapshot created by tisbackup on: %s", when);
		if (xapi_call(r.x, NULL, err, "VM.add_to_other_config", "sss", r.snap, XVA_MARK_JOB,
		              job->name) == -1 ||
		    xapi_call(r.x, NULL, err, "VM.add_to_other_config", "sss", r.snap,
		              XVA_MARK_STAMP, run->stamp) == -1 ||
		    xapi_call(r.x, NULL, err, "VM.set_name_description", "ss", r.snap, desc) == -1)
			goto out;
		source = r.snap;
	}
	if (do_export(&r, source, err) == -1)
		goto out;
	failed = 0;
out:
	if (xva_undo(&r, failed, st, err) == -1)
		failed = 1;
	if (!failed) {
		if (close(r.fd) == -1) {
			err_sys(err, errno, "closing %s", r.partial);
			failed = 1;
		}
		r.fd = -1;
	}
	if (!failed && rename(r.partial, r.final) == -1) {
		err_sys(err, errno, "renaming %s", r.partial);
		failed = 1;
	}
	if (!failed && fs_fsync_dir(job->dir, err) == -1)
		failed = 1;
	if (!failed) {
		const struct xva_stats *vs = xva_verify_stats(r.verify);

		st->location = xstrdup(r.final);
		st->total_files = st->written_files = 1;
		st->total_bytes = st->written_bytes = (int64_t)r.written;
		st->log = xasprintf("XVA backup from %s OK, %llu bytes written (%llu MiB of disk "
		                    "data, %s, %s)",
		                    job->server_name, (unsigned long long)r.written,
		                    (unsigned long long)(vs->disk_bytes >> 20), vs->compression,
		                    vs->checksum);
		rc = 0;
	}
	xapi_close(r.x);
	if (r.px != NULL) {
		/* a clone: no logout of its own */
		xapi_close(r.px);
	}
done:
	if (r.fd != -1)
		close(r.fd);
	if (rc == -1 && r.partial != NULL)
		unlink(r.partial);
	xv_free(vmrec);
	xva_verify_free(r.verify);
	free(r.wbuf);
	free(r.final);
	free(r.partial);
	free(r.vm);
	free(r.vm_uuid);
	free(r.power);
	free(r.snap);
	free(r.task);
	free(snaplabel);
	free(desc);
	return rc;
}

/* --- restore: --import-to SR ------------------------------------------------------ */

#define XVA_UP_LIST 8 /* SR names listed when --import-to matches none */

/* The upload of the .xva to /import: read, verified, counted, shown. */
struct xva_upload {
	const struct drv_restore *r;
	const char *path;
	int fd;
	uint64_t size, sent;
	struct xva_verify *verify;
	struct xfer_report xr;
};

/*
 * The PUT's body source: the next piece of the file, fed to the verifier
 * before libcurl sends it. The last piece goes only once the verifier has
 * seen the whole archive end properly, so xapi never receives all the
 * bytes of an XVA that is not sound (it fails the import on the short
 * body).
 */
static ssize_t
upload_source(void *ctx, void *buf, size_t len, struct err *err)
{
	struct xva_upload *u = ctx;
	struct xfer_sample xs = { .files = 0, .to_check = -1, .listed = -1 };
	ssize_t n;

	if (u->size - u->sent < len)
		len = (size_t)(u->size - u->sent);
	if (len == 0)
		return 0;
	do
		n = read(u->fd, buf, len);
	while (n == -1 && errno == EINTR);
	if (n == -1) {
		err_sys(err, errno, "reading %s", u->path);
		return -1;
	}
	if (n == 0) {
		err_set(err, "%s shrank while it was uploaded (%llu of %llu bytes)", u->path,
		        (unsigned long long)u->sent, (unsigned long long)u->size);
		return -1;
	}
	if (xva_verify_feed(u->verify, buf, (size_t)n, err) == -1 ||
	    (u->sent + (uint64_t)n == u->size &&
	     xva_verify_finish(u->verify, NULL, (size_t)-1, err) == -1)) {
		err_wrap(err,
		         "%s is not a sound XVA: upload stopped after %llu of %llu bytes, before "
		         "xapi had all of it",
		         u->path, (unsigned long long)u->sent, (unsigned long long)u->size);
		return -1;
	}
	u->sent += (uint64_t)n;
	progress_feed(u->r->progress, (uint64_t)n);
	xs.bytes = u->sent;
	xs.percent = (int)(u->sent * 100 / (u->size > 0 ? u->size : 1));
	xs.files = u->sent == u->size ? 1 : 0;
	xfer_report_feed(&u->xr, &xs, progress_now());
	return n;
}

/* 1 if s has the shape of a UUID (8-4-4-4-12 hex digits). */
static int
looks_like_uuid(const char *s)
{
	if (strlen(s) != 36)
		return 0;
	for (size_t i = 0; i < 36; i++) {
		int dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : strchr("0123456789abcdefABCDEF", s[i]) == NULL)
			return 0;
	}
	return 1;
}

/*
 * The SR called want (a name label, or else a UUID) into *ref and
 * *label (the caller frees both). None or several: -1 + err saying so
 * (the SRs there are, or the UUIDs of the several).
 */
static int
find_sr(struct xapi *x, const char *want, char **ref, char **label, struct err *err)
{
	struct xv *refs = NULL, *rec = NULL, *all = NULL;
	struct buf list;
	int rc = -1;

	buf_init(&list, 4096);
	if (xapi_call(x, &refs, err, "SR.get_by_name_label", "s", want) == -1)
		goto out;
	if (refs != NULL && refs->type == XV_ARRAY && refs->n > 1) {
		for (size_t i = 0; i < refs->n && i < XVA_UP_LIST; i++) {
			xv_free(rec);
			rec = NULL;
			if (xapi_call(x, &rec, err, "SR.get_uuid", "s", xv_str(&refs->items[i])) ==
			    -1)
				goto out;
			buf_printf(&list, "%s%s", i > 0 ? ", " : "", xv_str(rec));
		}
		err_set(err,
		        "--import-to %s: %zu storage repositories have that name label (%s): "
		        "give the UUID of one; nothing was uploaded",
		        want, refs->n, buf_str(&list));
		goto out;
	}
	if (refs != NULL && refs->type == XV_ARRAY && refs->n == 1) {
		*ref = xstrdup(xv_str(&refs->items[0]) != NULL ? xv_str(&refs->items[0]) : "");
		*label = xstrdup(want);
		rc = 0;
		goto out;
	}
	if (looks_like_uuid(want)) {
		xv_free(refs);
		refs = NULL;
		if (xapi_call(x, &refs, err, "SR.get_by_uuid", "s", want) == 0 &&
		    xv_str(refs) != NULL) {
			*ref = xstrdup(xv_str(refs));
			if (xapi_call(x, &rec, err, "SR.get_name_label", "s", *ref) == -1) {
				free(*ref);
				*ref = NULL;
				goto out;
			}
			*label = xstrdup(xv_str(rec) != NULL ? xv_str(rec) : want);
			rc = 0;
			goto out;
		}
		if (!xapi_failed(x, "UUID_INVALID"))
			goto out;
	}
	/* none: say which there are */
	err_clear(err);
	if (xapi_call(x, &all, err, "SR.get_all_records", "") == 0 && all != NULL &&
	    all->type == XV_STRUCT) {
		for (size_t i = 0; i < all->n && i < XVA_UP_LIST; i++)
			buf_printf(&list, "%s'%s'", i > 0 ? ", " : "",
			           xv_member_str(&all->items[i], "name_label"));
		if (all->n > XVA_UP_LIST)
			buf_puts(&list, ", ...");
	}
	err_set(err,
	        "--import-to %s: no storage repository with that name label or UUID on %s "
	        "(there are: %s); nothing was uploaded",
	        want, xapi_host(x), list.len > 0 ? buf_str(&list) : "none listed");
out:
	xv_free(refs);
	xv_free(rec);
	xv_free(all);
	buf_free(&list);
	return rc;
}

/*
 * PUT the .xva (u->fd, u->size bytes) to /import into SR sr with task
 * task; 0, or -1 + err (the verifier's words when the file is not sound).
 */
static int
import_put(struct xapi *x, const struct job *job, const char *sr, const char *task,
           struct xva_upload *u, struct err *err)
{
	static const char *const headers[] = { "Content-Type: application/octet-stream",
		                               "Expect:", NULL };
	struct http_client *hc = NULL;
	struct http_response resp;
	struct buf url;
	int rc = -1;

	memset(&resp, 0, sizeof resp);
	buf_init(&url, 8192);
	/* the session travels in the query, as xapi wants it; http.c masks it in messages */
	buf_printf(&url, "%s://%s/import?session_id=",
	           job_get_bool(job, "enable_https", 1) ? "https" : "http", xapi_host(x));
	xapi_url_escape(&url, xapi_session(x));
	buf_puts(&url, "&task_id=");
	xapi_url_escape(&url, task);
	buf_puts(&url, "&sr_id=");
	xapi_url_escape(&url, sr);
	if (xapi_http_client(x, &hc, err) == -1)
		goto out;
	{
		struct http_request rq = {
			.method = "PUT",
			.url = buf_str(&url),
			.headers = headers,
			.source = upload_source,
			.source_ctx = u,
			.source_len = (int64_t)u->size,
			.progress = u->r->progress,
		};

		if (http_request(hc, &rq, &resp, err) == -1)
			goto out;
	}
	if (u->sent != u->size) {
		err_set(err, "PUT /import: the server answered after %llu of %llu bytes",
		        (unsigned long long)u->sent, (unsigned long long)u->size);
		goto out;
	}
	rc = 0;
out:
	http_response_free(&resp);
	http_client_free(hc);
	buf_free(&url);
	return rc;
}

/*
 * The restore hook: with --import-to SR, upload the backup's XVA to the
 * job's pool through XAPI's /import (task.create, PUT with the session
 * and task in the query, the task polled to its end), then name the new
 * VM "SERVER_NAME (restored STAMP)" so it cannot be taken for the VM the
 * job backs up; without it, the generic copy to --to DIR.
 */
static int
xva_restore(struct drv_restore *r, struct drv_stats *st, struct err *err)
{
	const struct job *job = r->job;
	struct xapi_opts o = xapi_job_opts(job, job_get(job, "xcphost"));
	struct xva_upload u;
	struct xapi *x = NULL;
	struct xv *task = NULL, *rec = NULL;
	char *sr = NULL, *label = NULL, *vm = NULL, *name = NULL, *taskref = NULL;
	char stamp[TIME_STAMP_LEN + 1] = "?";
	const char *base = strrchr(r->location, '/');
	struct stat fst;
	int rc = -1, failed = 1;

	if (r->import_sr == NULL)
		return restore_file_copy(r, st, err);
	memset(&u, 0, sizeof u);
	u.fd = -1;
	u.r = r;
	u.path = r->location;
	base = base != NULL ? base + 1 : r->location;
	(void)xva_classify(base, stamp);
	u.fd = open(r->location, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (u.fd == -1 || fstat(u.fd, &fst) == -1) {
		err_sys(err, errno, "opening the backup %s", r->location);
		goto done;
	}
	if (!S_ISREG(fst.st_mode)) {
		err_set(err, "the backup %s is not a regular file", r->location);
		goto done;
	}
	u.size = (uint64_t)fst.st_size;
	if (xapi_open(&o, &x, err) == -1)
		goto done;
	if (find_sr(x, r->import_sr, &sr, &label, err) == -1)
		goto out;
	if (r->dry_run) {
		st->log = xasprintf("dry run: would import %s (%llu bytes) into SR '%s' on %s as "
		                    "a new VM",
		                    r->location, (unsigned long long)u.size, label, xapi_host(x));
		printf("would import %s into SR '%s' on %s\n", r->location, label, xapi_host(x));
		failed = 0;
		goto out;
	}
	name = xasprintf("tisbackup restore %s %s", job->name, stamp);
	if (xapi_call(x, &task, err, "task.create", "ss", name, "") == -1 || xv_str(task) == NULL)
		goto out;
	taskref = xstrdup(xv_str(task));
	free(name);
	name = NULL;
	u.verify = xva_verify_new(1);
	xfer_report_open(&u.xr, job->name, job->dir, job_get_long(job, "progress_interval", 30),
	                 u.size, isatty(STDERR_FILENO) ? STDERR_FILENO : -1);
	log_info(job->name, "importing %s (%llu bytes) into SR '%s' on %s", r->location,
	         (unsigned long long)u.size, label, xapi_host(x));
	if (import_put(x, job, sr, taskref, &u, err) == -1) {
		struct err terr;

		/* xapi answers a failed import with an error status: its task says why */
		err_clear(&terr);
		if (err->code == HTTP_ERR_STATUS &&
		    xapi_task_wait(x, taskref, NULL, 30, NULL, &terr) == -1 &&
		    terr.code == XAPI_ERR_FAILURE) {
			err_set(err, "XAPI import into SR '%s': %s", label, terr.msg);
			goto out;
		}
		err_wrap(err, "uploading to %s", xapi_host(x));
		goto out;
	}
	if (xapi_task_wait(x, taskref, r->progress, job_get_long(job, "xapi_call_timeout", 300) * 4,
	                   &vm, err) == -1) {
		err_wrap(err, "XAPI import into SR '%s'", label);
		goto out;
	}
	if (vm == NULL || strncmp(vm, "OpaqueRef:", 10) != 0) {
		err_set(err, "XAPI import into SR '%s': the task's result names no VM", label);
		goto out;
	}
	name = xasprintf("%s (restored %s)", job->server_name, stamp);
	if (xapi_call(x, NULL, err, "VM.set_name_label", "ss", vm, name) == -1 ||
	    xapi_call(x, &rec, err, "VM.get_record", "s", vm) == -1) {
		err_wrap(err, "the imported VM %s", vm);
		goto out;
	}
	st->total_files = st->written_files = 1;
	st->total_bytes = st->written_bytes = (int64_t)u.sent;
	st->location =
	    xasprintf("%s SR '%s' VM %s", xapi_host(x), label, xv_member_str(rec, "uuid"));
	st->log = xasprintf("import of %s into SR '%s' on %s OK: new VM '%s' uuid %s (%s), %llu "
	                    "bytes uploaded",
	                    r->location, label, xapi_host(x), name, xv_member_str(rec, "uuid"), vm,
	                    (unsigned long long)u.sent);
	printf("imported VM '%s' uuid %s ref %s\n", name, xv_member_str(rec, "uuid"), vm);
	failed = 0;
out:
	if (taskref != NULL) {
		struct err e;

		err_clear(&e);
		if (failed && xapi_call(x, NULL, &e, "task.cancel", "s", taskref) == -1 &&
		    !xapi_failed(x, "OPERATION_NOT_ALLOWED"))
			log_warning(job->name, "XAPI: %s", e.msg);
		err_clear(&e);
		if (xapi_call(x, NULL, &e, "task.destroy", "s", taskref) == -1)
			log_warning(job->name, "XAPI: %s", e.msg);
	}
	xapi_close(x);
	rc = failed ? -1 : 0;
done:
	if (u.verify != NULL)
		xfer_report_close(&u.xr);
	if (u.fd != -1)
		close(u.fd);
	xva_verify_free(u.verify);
	xv_free(task);
	xv_free(rec);
	free(sr);
	free(label);
	free(vm);
	free(name);
	free(taskref);
	return rc;
}

const struct driver drv_xen_xva = {
	.name = "xen-xva",
	.description = "Exports a snapshot of a VM of an XCP-ng/XenServer pool over XAPI into one "
	               "XVA file, verified while it streams.",
	.required = xva_required,
	.optional = xva_optional,
	.caps = DRV_CAP_FILE,
	.validate = xva_validate,
	.backup = xva_backup,
	.layout = &xva_layout,
	.restore = xva_restore,
};
