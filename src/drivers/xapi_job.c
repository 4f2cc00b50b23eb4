/* How the XAPI drivers reach a pool (xapi_job.h). */
#include "drivers/xapi_job.h"

#include "jobconf.h"

struct xapi_opts
xapi_job_opts(const struct job *job, const char *host)
{
	struct xapi_opts o = {
		.host = host,
		.password_file = job_get(job, "password_file"),
		.ca_file = job_get(job, "xcp_ca_file"),
		.pin = job_get(job, "xcp_fingerprint"),
		.insecure = !job_get_bool(job, "ssl_verify", 1),
		.no_proxy = job_get_bool(job, "ignore_proxies", 1),
		.call_timeout = job_get_long(job, "xapi_call_timeout", 300),
		.log_section = job->name,
	};

	return o;
}
