/* How the XAPI drivers (xen-xva, copy-vm-xcp) reach a pool. */
#ifndef TB_DRIVERS_XAPI_JOB_H
#define TB_DRIVERS_XAPI_JOB_H

#include "job.h"
#include "xapi.h"

/*
 * The xapi_open() options of job for the pool master host: its
 * password_file, xcp_ca_file / xcp_fingerprint, ssl_verify,
 * ignore_proxies and xapi_call_timeout keys, logged under the job's name.
 * The strings stay the job's (and host's): valid while they are.
 */
struct xapi_opts xapi_job_opts(const struct job *job, const char *host);

#endif
