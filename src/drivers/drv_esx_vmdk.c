/*
 * esx-vmdk: a VM of an ESXi (>= 5.5) or vCenter exported over the vSphere
 * API (vsphere.h) into {job}/STAMP/: the VM's OVF descriptor, a SHA-256
 * manifest and its disks as stream-optimized VMDKs, or one VM.ova holding
 * the three (create_ovafile), written as the disks arrive (ova.h).
 *
 * Hot (the VM is on, halt_vm off): a quiesced snapshot (a plain one, with
 * a warning, when quiescing fails), ExportSnapshot, the disks streamed
 * from the NFC lease (kept alive with HttpNfcLeaseProgress), checked
 * against the lease's manifest, HttpNfcLeaseComplete (Abort on failure),
 * and the snapshot removed in every outcome. Cold (the VM is off, or
 * halt_vm): ShutdownGuest and a wait for poweredOff, ExportVm, the same
 * lease handling, and the VM powered on again in every outcome when it
 * was on. The original's clone dance (TISBackup's backup_vmdk.py, never
 * registered in 2.0) is not kept: ExportSnapshot made it unnecessary.
 */
#include "drivers/driver.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "drivers/snapdir.h"
#include "http.h"
#include "jobconf.h"
#include "log.h"
#include "ova.h"
#include "progress.h"
#include "spawn.h"
#include "util/buf.h"
#include "util/xmalloc.h"
#include "vsphere.h"
#include "xml.h"

#define ESX_LEASE_READY_SEC 600 /* how long a lease may stay "initializing" */

static const struct drv_key esx_required[] = {
	{ "esxhost", KEY_STR, NULL },
	{ "password_file", KEY_FILE, NULL },
	{ NULL, KEY_STR, NULL },
};

static const struct drv_key esx_optional[] = {
	{ "esx_port", KEY_PORT, "443" },
	{ "prefix_clone", KEY_STR, "clone-" }, /* the original's; no clone is made */
	{ "create_ovafile", KEY_BOOL, "no" },
	{ "halt_vm", KEY_BOOL, "no" },
	{ "esx_ca_file", KEY_FILE, NULL },
	{ "esx_fingerprint", KEY_STR, NULL },
	{ "esx_insecure", KEY_BOOL, "no" },
	{ "halt_timeout", KEY_INT, "600" },
	{ "task_timeout", KEY_INT, "3600" },
	{ NULL, KEY_STR, NULL },
};

/* One exported file, for the manifest and the descriptor. */
struct esx_file {
	char *name;
	char *device_key;
	int64_t size;
	char sha1[41], sha256[65];
};

/* One run. */
struct esx_run {
	const struct job *job;
	struct vs_session *vs;
	struct snapdir sd;
	struct ova *ova;
	char *vm, *vm_power, *snapshot, *snap_name, *lease;
	int lease_done;  /* completed or aborted */
	int powered_off; /* we shut the VM down: power it on again */
	struct esx_file *files;
	size_t nfiles;
	int64_t bytes;
	int warnings;
};

/* The state of one disk download (the sink's context). */
struct esx_sink {
	struct esx_run *r;
	int fd; /* a loose file, or -1 when writing into the OVA */
	struct vs_hash *hash;
	int64_t done, total; /* this run's bytes so far, all disks' announced total */
	int64_t last_keepalive;
	int64_t keepalive_ns;
};

/* 1 when name can be a file name (the VM name starts ours). */
static int
safe_file_name(const char *name)
{
	return name[0] != '\0' && name[0] != '.' && strchr(name, '/') == NULL && strlen(name) < 200;
}

static int
esx_validate(const struct job *job, struct err *err)
{
	const char *pin = job_get(job, "esx_fingerprint"), *ca = job_get(job, "esx_ca_file");

	if (!safe_file_name(job->server_name)) {
		err_set(err,
		        "server_name: '%s' cannot name the exported files (no '/', no "
		        "leading '.')",
		        job->server_name);
		return -1;
	}
	if (job_get_bool(job, "esx_insecure", 0) && (pin != NULL || ca != NULL)) {
		err_set(err,
		        "esx_insecure: set with %s; choose one (a pin or a CA verifies the "
		        "server, esx_insecure turns verification off)",
		        pin != NULL ? "esx_fingerprint" : "esx_ca_file");
		return -1;
	}
	return http_check_available(err);
}

/* Keep the lease alive: HttpNfcLeaseProgress at most every keepalive_ns. */
static int
keepalive(struct esx_sink *k, int force, struct err *err)
{
	int64_t now = progress_now();
	xmlDoc *doc;
	xmlNode *ret;
	char args[64];
	long pct;

	if (!force && now - k->last_keepalive < k->keepalive_ns)
		return 0;
	k->last_keepalive = now;
	pct = k->total > 0 ? (long)(k->done * 100 / k->total) : 0;
	if (pct > 99)
		pct = 99;
	snprintf(args, sizeof args, "<percent>%ld</percent>", pct);
	if (vs_call(k->r->vs, "HttpNfcLeaseProgress", "HttpNfcLease", k->r->lease, args, &doc, &ret,
	            err) == -1) {
		err_wrap(err, "keeping the export lease alive");
		return -1;
	}
	xml_free(doc);
	return 0;
}

static int
disk_sink(void *ctx, const void *data, size_t len, struct err *err)
{
	struct esx_sink *k = ctx;
	const char *p = data;
	size_t left = len;

	vs_hash_update(k->hash, data, len);
	if (k->fd == -1) {
		if (ova_write(k->r->ova, data, len, err) == -1)
			return -1;
	} else {
		while (left > 0) {
			ssize_t n = write(k->fd, p, left);

			if (n == -1 && errno == EINTR)
				continue;
			if (n == -1) {
				err_sys(err, errno, "writing the disk");
				return -1;
			}
			p += n;
			left -= (size_t)n;
		}
	}
	k->done += (int64_t)len;
	return keepalive(k, 0, err);
}

static int
fsync_close(int fd, const char *path, struct err *err)
{
	int rc = 0;

	if (fsync(fd) == -1) {
		err_sys(err, errno, "fsync %s", path);
		rc = -1;
	}
	if (close(fd) == -1 && rc == 0) {
		err_sys(err, errno, "closing %s", path);
		rc = -1;
	}
	return rc;
}

/* Stream every disk of the ready lease l into the snapshot folder or the OVA. */
static int
download_disks(struct esx_run *r, struct drv_run *run, const struct vs_lease *l, struct err *err)
{
	struct esx_sink k = { .r = r, .fd = -1 };
	int rc = -1;

	for (size_t i = 0; i < l->ndev; i++)
		if (l->dev[i].disk && l->dev[i].size > 0)
			k.total += l->dev[i].size;
	/* A third of the lease's timeout, as VMware's samples do; at most a minute. */
	k.keepalive_ns =
	    (int64_t)(l->timeout_sec / 3 > 60 ? 60 : l->timeout_sec / 3) * 1000000000LL;
	if (k.keepalive_ns <= 0)
		k.keepalive_ns = 1000000000LL;
	k.last_keepalive = progress_now();
	for (size_t i = 0; i < l->ndev; i++) {
		const struct vs_device *d = &l->dev[i];
		struct esx_file *f;
		char *path = NULL;
		int64_t got = 0;

		if (!d->disk)
			continue;
		r->files = xrealloc(r->files, (r->nfiles + 1) * sizeof *r->files);
		f = &r->files[r->nfiles++];
		memset(f, 0, sizeof *f);
		f->name = xasprintf("%s-%s", run->job->server_name, d->target_id);
		f->device_key = xstrdup(d->key);
		if ((k.hash = vs_hash_new(err)) == NULL)
			goto out;
		if (r->ova != NULL) {
			if (ova_member_begin(r->ova, f->name, err) == -1)
				goto out;
		} else {
			path = xasprintf("%s/%s", r->sd.partial, f->name);
			k.fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
			if (k.fd == -1) {
				err_sys(err, errno, "creating %s", path);
				free(path);
				goto out;
			}
		}
		log_info(run->job->name, "downloading %s (%s)", f->name, d->key);
		if (vs_download(r->vs, d->url, disk_sink, &k, &got, err) == -1) {
			err_wrap(err, "disk %s", d->target_id);
			if (k.fd != -1)
				close(k.fd);
			k.fd = -1;
			free(path);
			goto out;
		}
		if (k.fd != -1) {
			if (fsync_close(k.fd, path, err) == -1) {
				k.fd = -1;
				free(path);
				goto out;
			}
			k.fd = -1;
		} else if (ova_member_end(r->ova, err) == -1) {
			goto out;
		}
		free(path);
		f->size = got;
		vs_hash_final(k.hash, f->sha1, f->sha256);
		vs_hash_free(k.hash);
		k.hash = NULL;
		r->bytes += got;
	}
	if (r->nfiles == 0) {
		err_set(err, "the export lease offers no disk");
		goto out;
	}
	/* The last progress before the manifest and Complete. */
	if (keepalive(&k, 1, err) == -1)
		goto out;
	rc = 0;
out:
	vs_hash_free(k.hash);
	return rc;
}

/* Compare the downloaded disks with the lease's manifest, when it offers one. */
static int
check_manifest(struct esx_run *r, struct err *err)
{
	struct vs_manifest_entry *m;
	size_t n;
	int got = vs_lease_manifest(r->vs, r->lease, &m, &n, err);

	if (got == -1)
		return -1;
	if (got == 1) {
		log_info(r->job->name,
		         "the server has no lease manifest: disks checked by size only");
		return 0;
	}
	for (size_t i = 0; i < r->nfiles; i++) {
		const struct esx_file *f = &r->files[i];

		for (size_t j = 0; j < n; j++) {
			if (strcmp(m[j].key, f->device_key) != 0)
				continue;
			if ((m[j].sha1[0] != '\0' && strcmp(m[j].sha1, f->sha1) != 0) ||
			    (m[j].size >= 0 && m[j].size != f->size)) {
				err_set(
				    err,
				    "%s does not match the lease manifest: SHA-1 %s, %lld bytes "
				    "received; the server says SHA-1 %s, %lld bytes",
				    f->name, f->sha1, (long long)f->size,
				    m[j].sha1[0] ? m[j].sha1 : "?", (long long)m[j].size);
				vs_manifest_free(m, n);
				return -1;
			}
		}
	}
	vs_manifest_free(m, n);
	return 0;
}

/* The OVF descriptor of the VM naming the files written (CreateDescriptor). */
static char *
create_descriptor(struct esx_run *r, struct err *err)
{
	struct buf a;
	xmlDoc *doc = NULL;
	xmlNode *ret;
	char *ovf = NULL, *om;

	om = vs_ovf_manager(r->vs);
	if (om == NULL) {
		err_set(err, "CreateDescriptor: the server has no OvfManager");
		return NULL;
	}
	buf_init(&a, 1u << 20);
	buf_puts(&a, "<obj type=\"VirtualMachine\">");
	xml_escape(&a, r->vm, err);
	buf_puts(&a, "</obj><cdp>");
	for (size_t i = 0; i < r->nfiles; i++) {
		buf_puts(&a, "<ovfFiles><deviceId>");
		xml_escape(&a, r->files[i].device_key, err);
		buf_puts(&a, "</deviceId><path>");
		xml_escape(&a, r->files[i].name, err);
		buf_printf(&a, "</path><size>%lld</size></ovfFiles>", (long long)r->files[i].size);
	}
	buf_puts(&a, "<name>");
	if (xml_escape(&a, r->job->server_name, err) == -1 || buf_puts(&a, "</name></cdp>") == -1) {
		buf_free(&a);
		return NULL;
	}
	if (vs_call(r->vs, "CreateDescriptor", "OvfManager", om, a.data, &doc, &ret, err) == 0) {
		ovf = vs_text(xml_path(ret, "returnval/ovfDescriptor"));
		if (ovf == NULL || ovf[0] == '\0') {
			err_set(err, "CreateDescriptor: no ovfDescriptor in the answer");
			free(ovf);
			ovf = NULL;
		}
	}
	xml_free(doc);
	buf_free(&a);
	return ovf;
}

/* "SHA256(NAME)= HEX\n" for the descriptor then every disk. */
static char *
manifest(const struct esx_run *r, const char *ovf_name, const char *ovf_sha256)
{
	struct buf b;

	buf_init(&b, 1u << 20);
	buf_printf(&b, "SHA256(%s)= %s\n", ovf_name, ovf_sha256);
	for (size_t i = 0; i < r->nfiles; i++)
		buf_printf(&b, "SHA256(%s)= %s\n", r->files[i].name, r->files[i].sha256);
	return buf_steal(&b);
}

static int
write_file(const char *dir, const char *name, const char *data, size_t len, struct err *err)
{
	char *path = xasprintf("%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640), rc = -1;
	size_t off = 0;

	if (fd == -1) {
		err_sys(err, errno, "creating %s", path);
		goto out;
	}
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			err_sys(err, errno, "writing %s", path);
			close(fd);
			goto out;
		}
		off += (size_t)n;
	}
	rc = fsync_close(fd, path, err);
out:
	free(path);
	return rc;
}

/* The descriptor and manifest: loose files, or the OVA's first members. */
static int
write_ovf(struct esx_run *r, struct err *err)
{
	char *ovf = create_descriptor(r, err), *mf = NULL, *ovf_name, *mf_name;
	char s1[41], s256[65];
	struct vs_hash *h = NULL;
	size_t ovf_len;
	int rc = -1;

	if (ovf == NULL)
		return -1;
	ovf_name = xasprintf("%s.ovf", r->job->server_name);
	mf_name = xasprintf("%s.mf", r->job->server_name);
	ovf_len = strlen(ovf);
	if (r->ova != NULL) {
		/* The manifest's length does not depend on the digests' values. */
		char *probe = manifest(r, ovf_name, "");
		int64_t size = ova_ovf_size(ovf_len, strlen(probe) + 64);

		free(probe);
		if (size < 0) {
			err_set(err,
			        "the OVF descriptor (%zu bytes) is too large for the OVA's "
			        "reserved region (%u bytes)",
			        ovf_len, OVA_RESERVE);
			goto out;
		}
		ovf = xrealloc(ovf, (size_t)size + 1);
		memset(ovf + ovf_len, ' ', (size_t)size - ovf_len);
		ovf[size - 1] = '\n';
		ovf[size] = '\0';
		ovf_len = (size_t)size;
	}
	if ((h = vs_hash_new(err)) == NULL)
		goto out;
	vs_hash_update(h, ovf, ovf_len);
	vs_hash_final(h, s1, s256);
	mf = manifest(r, ovf_name, s256);
	if (r->ova != NULL)
		rc = ova_finish(r->ova, ovf_name, ovf, ovf_len, mf_name, mf, strlen(mf), err);
	else if (write_file(r->sd.partial, ovf_name, ovf, ovf_len, err) == 0 &&
	         write_file(r->sd.partial, mf_name, mf, strlen(mf), err) == 0)
		rc = 0;
	if (rc == 0)
		r->bytes += (int64_t)(ovf_len + strlen(mf));
out:
	vs_hash_free(h);
	free(ovf);
	free(mf);
	free(ovf_name);
	free(mf_name);
	return rc;
}

/* ShutdownGuest, then wait for poweredOff. */
static int
halt_vm(struct esx_run *r, long timeout_sec, struct err *err)
{
	int64_t end = progress_now() + (int64_t)timeout_sec * 1000000000LL;
	xmlDoc *doc;
	xmlNode *ret;

	log_info(r->job->name, "halt_vm: shutting the guest of %s down", r->job->server_name);
	if (vs_call(r->vs, "ShutdownGuest", "VirtualMachine", r->vm, NULL, &doc, &ret, err) == -1) {
		err_wrap(err, "halt_vm");
		return -1;
	}
	xml_free(doc);
	r->powered_off = 1;
	for (long ms = 200;; ms = ms < 2000 ? ms * 2 : 2000) {
		char *p = vs_power_state(r->vs, r->vm, err);
		struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
		int off;

		if (p == NULL)
			return -1;
		off = strcmp(p, "poweredOff") == 0;
		free(p);
		if (off)
			return 0;
		if (progress_now() > end) {
			err_set(err,
			        "halt_vm: %s still running %ld s after ShutdownGuest "
			        "(halt_timeout)",
			        r->job->server_name, timeout_sec);
			return -1;
		}
		if (spawn_interrupted()) {
			err_set(err, "halt_vm: interrupted");
			return -1;
		}
		nanosleep(&ts, NULL);
	}
}

/* CreateSnapshot_Task, quiesced first; the snapshot's ref into r->snapshot. */
static int
take_snapshot(struct esx_run *r, const char *stamp, long timeout, struct err *err)
{
	for (int quiesce = 1; quiesce >= 0; quiesce--) {
		struct buf a;
		xmlDoc *doc;
		xmlNode *ret;
		char *task, *fault = NULL;
		int rc;

		buf_init(&a, 4096);
		buf_puts(&a, "<name>");
		xml_escape(&a, r->snap_name, err);
		buf_printf(&a,
		           "</name><description>tisbackup run %s</description>"
		           "<memory>false</memory><quiesce>%s</quiesce>",
		           stamp, quiesce ? "true" : "false");
		rc = vs_call(r->vs, "CreateSnapshot_Task", "VirtualMachine", r->vm, a.data, &doc,
		             &ret, err);
		buf_free(&a);
		if (rc == -1)
			return -1;
		task = vs_text(xml_child(ret, "returnval"));
		xml_free(doc);
		rc = vs_task_wait(r->vs, task, timeout, &r->snapshot, &fault, err);
		free(task);
		if (rc == 0) {
			free(fault);
			if (r->snapshot == NULL || r->snapshot[0] == '\0') {
				err_set(err,
				        "CreateSnapshot_Task: no snapshot in the task's result");
				return -1;
			}
			return 0;
		}
		if (quiesce && err->code == VS_ERR_TASK && fault != NULL &&
		    strstr(fault, "Quiesce") != NULL) {
			log_warning(r->job->name,
			            "a quiesced snapshot failed (%s); taking a snapshot without "
			            "quiescing: the disks are crash-consistent only",
			            err->msg);
			r->warnings = 1;
			free(fault);
			err_clear(err);
			continue;
		}
		free(fault);
		err_wrap(err, "CreateSnapshot_Task");
		return -1;
	}
	return -1;
}

/* Undo what the run changed on the server, whatever happened. */
static void
esx_undo(struct esx_run *r, long task_timeout)
{
	struct err e = { 0 };
	xmlDoc *doc;
	xmlNode *ret;
	char **left = NULL;
	size_t nleft;

	if (r->vs == NULL)
		return;
	vs_set_cleanup(r->vs, 1);
	if (r->lease != NULL && !r->lease_done) {
		if (vs_call(r->vs, "HttpNfcLeaseAbort", "HttpNfcLease", r->lease, NULL, &doc, &ret,
		            &e) == 0)
			xml_free(doc);
		else
			log_info(r->job->name, "aborting the export lease: %s", e.msg);
		r->lease_done = 1;
	}
	/* Our snapshot, and any of the same name a signal left half-made. */
	if (r->snap_name != NULL) {
		nleft = vs_find_snapshots(r->vs, r->vm, r->snap_name, &left, &e);
		if (err_isset(&e) && r->snapshot == NULL) {
			log_error(r->job->name,
			          "cannot list the snapshots of %s: %s; check for a "
			          "snapshot named %s",
			          r->job->server_name, e.msg, r->snap_name);
			r->warnings = 1;
		}
		if (r->snapshot != NULL) {
			int known = 0;

			for (size_t i = 0; i < nleft; i++)
				known |= strcmp(left[i], r->snapshot) == 0;
			if (!known && !err_isset(&e)) {
				/* already gone */
			} else if (!known) {
				left = xrealloc(left, (nleft + 1) * sizeof *left);
				left[nleft++] = xstrdup(r->snapshot);
			}
		}
		for (size_t i = 0; i < nleft; i++) {
			char *task;

			err_clear(&e);
			if (vs_call(
			        r->vs, "RemoveSnapshot_Task", "VirtualMachineSnapshot", left[i],
			        "<removeChildren>false</removeChildren><consolidate>true</consolidate>",
			        &doc, &ret, &e) == -1) {
				log_error(r->job->name, "removing snapshot %s (%s) of %s: %s",
				          r->snap_name, left[i], r->job->server_name, e.msg);
				r->warnings = 1;
				continue;
			}
			task = vs_text(xml_child(ret, "returnval"));
			xml_free(doc);
			if (vs_task_wait(r->vs, task, task_timeout, NULL, NULL, &e) == -1) {
				log_error(r->job->name, "removing snapshot %s (%s) of %s: %s",
				          r->snap_name, left[i], r->job->server_name, e.msg);
				r->warnings = 1;
			} else {
				log_info(r->job->name, "snapshot %s removed", r->snap_name);
			}
			free(task);
		}
		for (size_t i = 0; i < nleft; i++)
			free(left[i]);
		free(left);
	}
	if (r->powered_off) {
		char *p, *task;

		err_clear(&e);
		p = vs_power_state(r->vs, r->vm, &e);
		if (p != NULL && strcmp(p, "poweredOff") == 0) {
			if (vs_call(r->vs, "PowerOnVM_Task", "VirtualMachine", r->vm, NULL, &doc,
			            &ret, &e) == 0) {
				task = vs_text(xml_child(ret, "returnval"));
				xml_free(doc);
				if (vs_task_wait(r->vs, task, task_timeout, NULL, NULL, &e) == 0)
					log_info(r->job->name, "halt_vm: %s powered on again",
					         r->job->server_name);
				free(task);
			}
		}
		if (err_isset(&e)) {
			log_error(r->job->name,
			          "halt_vm: powering %s on again: %s; power it on by hand",
			          r->job->server_name, e.msg);
			r->warnings = 1;
		}
		free(p);
	}
	vs_set_cleanup(r->vs, 0);
}

static int
esx_backup(struct drv_run *run, struct drv_stats *st, struct err *err)
{
	const struct job *job = run->job;
	struct esx_run r = { .job = job };
	struct vs_opts o = { 0 };
	struct vs_lease l = { 0 };
	long task_timeout = job_get_long(job, "task_timeout", 3600);
	int halt = job_get_bool(job, "halt_vm", 0), ova = job_get_bool(job, "create_ovafile", 0);
	int rc = -1, on;
	xmlDoc *doc;
	xmlNode *ret;

	o.host = job_get(job, "esxhost");
	o.port = (int)job_get_long(job, "esx_port", 443);
	o.ca_file = job_get(job, "esx_ca_file");
	o.pin = job_get(job, "esx_fingerprint");
	o.insecure = job_get_bool(job, "esx_insecure", 0);
	o.password_file = job_get(job, "password_file");
	o.progress = run->progress;
	if (run->dry_run) {
		log_info(job->name, "dry run: would export VM %s from %s:%d (%s%s) into %s/%s%s",
		         job->server_name, o.host, o.port, halt ? "halted" : "hot, from a snapshot",
		         "", job->dir, run->stamp, ova ? " as one .ova" : "");
		return 0;
	}
	snapdir_init(&r.sd, job, run->stamp);
	if (snapdir_create(&r.sd, err) == -1)
		goto out;
	if (vs_open(&o, &r.vs, err) == -1)
		goto out;
	log_info(job->name, "connected to %s (%s)", o.host, vs_full_name(r.vs));
	if (vs_find_vm(r.vs, job->server_name, &r.vm, &r.vm_power, err) == -1)
		goto out;
	on = strcmp(r.vm_power, "poweredOff") != 0;
	if (on && !halt && !vs_api_at_least(r.vs, 5, 5)) {
		err_set(err,
		        "%s speaks vSphere API %s: ESXi >= 5.5 needed for a hot export "
		        "(ExportSnapshot), or set halt_vm = yes",
		        o.host, vs_api_version(r.vs));
		goto out;
	}
	if (ova) {
		char *path = xasprintf("%s/%s.ova", r.sd.partial, job->server_name);
		int orc = ova_open(path, &r.ova, err);

		free(path);
		if (orc == -1)
			goto out;
	}
	if (on && halt && halt_vm(&r, job_get_long(job, "halt_timeout", 600), err) == -1)
		goto out;
	if (on && !halt) {
		r.snap_name = xasprintf("tisbackup-%s", run->stamp);
		log_info(job->name, "snapshot %s of %s", r.snap_name, job->server_name);
		if (take_snapshot(&r, run->stamp, task_timeout, err) == -1)
			goto out;
		if (vs_call(r.vs, "ExportSnapshot", "VirtualMachineSnapshot", r.snapshot, NULL,
		            &doc, &ret, err) == -1)
			goto out;
	} else if (vs_call(r.vs, "ExportVm", "VirtualMachine", r.vm, NULL, &doc, &ret, err) == -1) {
		goto out;
	}
	r.lease = vs_text(xml_child(ret, "returnval"));
	xml_free(doc);
	if (r.lease == NULL || r.lease[0] == '\0') {
		err_set(err, "no export lease in the answer");
		goto out;
	}
	if (vs_lease_wait(r.vs, r.lease, ESX_LEASE_READY_SEC, &l, err) == -1)
		goto out;
	if (download_disks(&r, run, &l, err) == -1 || check_manifest(&r, err) == -1)
		goto out;
	if (vs_call(r.vs, "HttpNfcLeaseComplete", "HttpNfcLease", r.lease, NULL, &doc, &ret, err) ==
	    -1)
		goto out;
	xml_free(doc);
	r.lease_done = 1;
	if (write_ovf(&r, err) == -1)
		goto out;
	ova_close(r.ova);
	r.ova = NULL;
	if (snapdir_commit(&r.sd, job, err) == -1)
		goto out;
	rc = 0;
out:
	esx_undo(&r, task_timeout);
	vs_lease_free(&l);
	vs_close(r.vs);
	ova_close(r.ova);
	if (rc == 0) {
		st->location = xstrdup(r.sd.final);
		st->total_files = st->written_files = ova ? 1 : (int64_t)r.nfiles + 2;
		st->total_bytes = st->written_bytes = r.bytes;
		st->warnings = r.warnings;
		st->log = xasprintf("VMDK backup from %s OK, %lld bytes written", job->server_name,
		                    (long long)r.bytes);
	} else {
		err_wrap(err, "esx-vmdk %s", job->server_name);
	}
	snapdir_free(&r.sd, job);
	for (size_t i = 0; i < r.nfiles; i++) {
		free(r.files[i].name);
		free(r.files[i].device_key);
	}
	free(r.files);
	free(r.vm);
	free(r.vm_power);
	free(r.snapshot);
	free(r.snap_name);
	free(r.lease);
	return rc;
}

const struct driver drv_esx_vmdk = {
	.name = "esx-vmdk",
	.description = "Exports a VM of VMware ESXi (>= 5.5) or vCenter over the vSphere API: "
	               "a snapshot's disks (or a halted VM's) streamed into STAMP/ with the "
	               "OVF descriptor and a SHA-256 manifest, or one .ova.",
	.required = esx_required,
	.optional = esx_optional,
	.caps = 0,
	.validate = esx_validate,
	.backup = esx_backup,
	.restore = restore_file_copy,
	.verify_kind = "file", /* every file read back (verify_onefile.c) */
};
