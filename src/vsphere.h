/*
 * A vSphere SOAP client (ESXi >= 5.5 or vCenter) for the esx-vmdk driver:
 * just the calls a VM export needs, over http.h (libcurl) with responses
 * parsed by xml.h (libxml2, loaded on first use).
 *
 * - One session: RetrieveServiceContent, Login with the user and password
 *   of a strict password file, and its vmware_soap_session cookie sent by
 *   hand on /sdk and on the NFC downloads (two libcurl handles, so the
 *   lease can be kept alive from inside a download). vs_close() logs out
 *   in every outcome.
 * - TLS verified against the system's CAs, a CA file or a pinned SHA-256
 *   of the server's public key; off only when asked.
 * - The password goes only into the Login request body; it is never in an
 *   argv, a URL, an error or a log line.
 * - Tasks are polled through the PropertyCollector with a deadline, and
 *   end early on the run's watchdog or a SIGINT/SIGTERM (except in cleanup
 *   mode, where only a second signal stops them).
 * - Attributes are read by namespace, not by prefix (vcsim writes xsi as
 *   "XMLSchema-instance:").
 */
#ifndef TB_VSPHERE_H
#define TB_VSPHERE_H

#include <stddef.h>
#include <stdint.h>

#include <libxml/tree.h>

#include "http.h"
#include "util/err.h"

struct progress;
struct vs_session;

/* err->code of vsphere failures, for callers that branch on them. */
enum vs_err {
	VS_ERR_FAULT = 100, /* the server answered a SOAP fault (vs_session_fault() names it) */
	VS_ERR_NOT_FOUND,   /* no VM of that name */
	VS_ERR_TASK,        /* a task ended in "error" */
	VS_ERR_TIMEOUT,     /* a task or lease did not finish before its deadline */
};

struct vs_opts {
	const char *host;          /* esxhost: name or address */
	int port;                  /* esx_port (443) */
	const char *ca_file;       /* esx_ca_file, or NULL */
	const char *pin;           /* esx_fingerprint (SHA-256 of the public key), or NULL */
	int insecure;              /* esx_insecure = yes */
	const char *password_file; /* "USER\nPASSWORD", 0600, ours */
	struct progress *progress; /* the run's watchdog; may be NULL */
};

/*
 * Read a password file strictly: two lines, user then password, a final
 * newline optional, a trailing '\r' on each line stripped; anything else
 * is "expected 2 lines (user, password)". The file must be a regular file
 * of ours with no group/other permission. 0 and *user, *password (free
 * the password with vs_secret_free()), or -1 + err naming the file only.
 */
int vs_read_password_file(const char *path, char **user, char **password, struct err *err);
/* Wipe and free a secret; NULL is a no-op. */
void vs_secret_free(char *s);

/*
 * Connect and log in: RetrieveServiceContent then SessionManager.Login.
 * 0 and *out (end it with vs_close()), or -1 + err ("esxhost:port: ...").
 */
int vs_open(const struct vs_opts *o, struct vs_session **out, struct err *err);

/* Log out (when logged in; failures ignored), release s. NULL is a no-op. */
void vs_close(struct vs_session *s);

/*
 * Cleanup mode (1) for the calls that undo a run's changes after a
 * failure or a signal: the run's watchdog and the first signal no longer
 * stop them, only a further signal does. 0 returns to normal.
 */
void vs_set_cleanup(struct vs_session *s, int on);

/* about.apiVersion ("6.5"), and about.fullName; owned by s. */
const char *vs_api_version(const struct vs_session *s);
const char *vs_full_name(const struct vs_session *s);
/* 1 when the API version is at least major.minor. */
int vs_api_at_least(const struct vs_session *s, int major, int minor);

/* The OvfManager's moref value, or NULL (an ESXi without one); owned by s. */
char *vs_ovf_manager(const struct vs_session *s);

/* The xsi:type of the last SOAP fault ("InvalidPowerState"), or "" ; owned by s. */
const char *vs_session_fault(const struct vs_session *s);

/*
 * One SOAP call: <method><_this type=this_type>this_ref</_this>args</method>
 * (args: already escaped XML, may be NULL). 0 and *doc (free with
 * xml_free()) and *ret, the <METHODResponse> element; or -1 + err
 * ("METHOD: the fault's words (FaultType)", code VS_ERR_FAULT) or the
 * transport's error.
 */
int vs_call(struct vs_session *s, const char *method, const char *this_type, const char *this_ref,
            const char *args, xmlDoc **doc, xmlNode **ret, struct err *err);

/*
 * The properties paths (NULL-terminated) of one object: 0 and *doc, *obj
 * (the <objects> element; vs_prop() reads it), or -1 + err.
 */
int vs_get(struct vs_session *s, const char *type, const char *ref, const char *const *paths,
           xmlDoc **doc, xmlNode **obj, struct err *err);
/* The <val> of property name in an <objects> element, or NULL. */
xmlNode *vs_prop(const xmlNode *obj, const char *name);

/*
 * A VM by name anywhere in the inventory (a container view of every
 * VirtualMachine). 0 and *ref, *power ("poweredOn"...; both malloc()ed),
 * or -1 + err: code VS_ERR_NOT_FOUND says 'VM "NAME" not found on HOST'
 * with the closest names when there are any.
 */
int vs_find_vm(struct vs_session *s, const char *name, char **ref, char **power, struct err *err);

/* The VM's runtime.powerState ("poweredOn"), malloc()ed; or NULL + err. */
char *vs_power_state(struct vs_session *s, const char *vm, struct err *err);

/*
 * Wait for task to end, polling its info, for at most timeout_sec. 0 and
 * *result (the text of info.result, a moref value; NULL when none; may be
 * NULL), or -1 + err: the task's own message (code VS_ERR_TASK, and
 * *fault_type, when not NULL, its fault's type, malloc()ed), a timeout
 * (VS_ERR_TIMEOUT), the watchdog or a signal.
 */
int vs_task_wait(struct vs_session *s, const char *task, long timeout_sec, char **result,
                 char **fault_type, struct err *err);

/* The snapshots of vm whose name is name (leftovers of a run): refs into *out, count. */
size_t vs_find_snapshots(struct vs_session *s, const char *vm, const char *name, char ***out,
                         struct err *err);

/* One device of an export lease. */
struct vs_device {
	char *key;       /* deviceUrl.key (the OVF deviceId) */
	char *url;       /* with the "*" host replaced by the host we talk to */
	char *target_id; /* "disk-0.vmdk" */
	int disk;        /* a disk (not an ISO, an nvram) */
	int64_t size;    /* fileSize; -1 unknown */
};

struct vs_lease {
	char *ref;
	long timeout_sec; /* info.leaseTimeout */
	struct vs_device *dev;
	size_t ndev;
};

/*
 * Wait for lease to be "ready" (at most timeout_sec) and read its info
 * into l (release with vs_lease_free()). 0, or -1 + err with the lease's
 * error when it went to "error".
 */
int vs_lease_wait(struct vs_session *s, const char *lease, long timeout_sec, struct vs_lease *l,
                  struct err *err);
void vs_lease_free(struct vs_lease *l);

/* One entry of HttpNfcLeaseGetManifest. */
struct vs_manifest_entry {
	char *key;
	char sha1[41]; /* lower-case hex, "" when absent */
	int64_t size;
};

/*
 * The lease's manifest. 0 and *out, *n (free with vs_manifest_free()), 1
 * when the server has no such call (old ESXi: MethodNotFound), or -1 + err.
 */
int vs_lease_manifest(struct vs_session *s, const char *lease, struct vs_manifest_entry **out,
                      size_t *n, struct err *err);
void vs_manifest_free(struct vs_manifest_entry *m, size_t n);

/*
 * GET url (an NFC device URL) with the session cookie, streaming the body
 * to sink. 0, or -1 + err (http_request()'s: status, truncation, sink).
 */
int vs_download(struct vs_session *s, const char *url, http_sink_fn sink, void *ctx, int64_t *bytes,
                struct err *err);

/* Pure parsing, for the fuzz harness and the client above. */

/*
 * Parse a SOAP response body for method: 0 with *doc, *ret as vs_call();
 * -1 + err for a fault (its xsi:type copied into fault_type, fsz bytes)
 * or a malformed document.
 */
int vs_parse_response(const char *body, size_t len, const char *method, xmlDoc **doc, xmlNode **ret,
                      char *fault_type, size_t fsz, struct err *err);
/* Read an HttpNfcLeaseInfo <val> into l (host_port replaces "*"). 0 or -1 + err. */
int vs_parse_lease_info(const xmlNode *val, const char *host_port, struct vs_lease *l,
                        struct err *err);
/* The value of an attribute without a namespace (the moref's "type"), or NULL. */
const char *vs_attr_plain(const xmlNode *node, const char *name);
/* The xsi:type of node, by namespace URI whatever the prefix, or NULL. */
const char *vs_xsi_type(const xmlNode *node);
/* The text of node, malloc()ed ("" when empty); NULL when node is NULL. */
char *vs_text(const xmlNode *node);

/* SHA-1 and SHA-256 at once (nettle, loaded on first use). */
struct vs_hash;
/* A new hasher, or NULL + err when libnettle cannot be loaded. */
struct vs_hash *vs_hash_new(struct err *err);
void vs_hash_update(struct vs_hash *h, const void *data, size_t len);
/* Lower-case hex digests; the hasher may not be updated afterwards. */
void vs_hash_final(struct vs_hash *h, char sha1_hex[41], char sha256_hex[65]);
void vs_hash_free(struct vs_hash *h);

#endif
