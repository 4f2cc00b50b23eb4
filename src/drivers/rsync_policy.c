/*
 * The one rsync exit-code policy (see rsync.h), shared by the rsync
 * drivers (a snapshot pulled from a server) and exportbackup (a finished
 * backup copied to a disk). Both purposes read an exit the same way except
 * where the source makes the difference: an export copies a local backup
 * that exists, so "exit 23 without a single file" cannot mean an
 * unreadable remote folder there, and partial_is_error is a setting of
 * the backup, not of its copies (SPEC §8: exit 23/24 are warnings).
 */
#include "drivers/rsync.h"

#include "config.h"
#include "log.h"

enum rsync_verdict
rsync_verdict(enum rsync_purpose purpose, int exited, int code, int64_t total_files,
              int partial_is_error)
{
	if (!exited)
		return RSYNC_FAILED;
	switch (code) {
	case 0:
		return RSYNC_DONE;
	case 24:
		return RSYNC_VANISHED;
	case 23:
		if (purpose == RSYNC_FOR_EXPORT)
			return RSYNC_PARTIAL;
		/*
		 * Not a single file means the source folder itself could not
		 * be read (missing remote_dir, permissions): an empty snapshot
		 * is no backup, whatever the original recorded.
		 */
		if (total_files == 0)
			return RSYNC_NO_SOURCE;
		return partial_is_error ? RSYNC_PARTIAL_ERR : RSYNC_PARTIAL;
	default:
		return RSYNC_FAILED;
	}
}

/* What some exit codes of a backup's rsync mean in practice, beyond rsync's own words. */
static const char *
exit_hint(int code, enum rsync_transport t)
{
	switch (code) {
	case 5:
		return t == RSYNC_DAEMON ? "(exit code 5: the rsync daemon refused the session: "
		                           "check rsync_module, remote_user and the password)"
		                         : "(exit code 5: error starting the rsync protocol)";
	case 10:
		return t == RSYNC_DAEMON ? "(exit code 10: the rsync daemon could not be reached: "
		                           "check server_name and rsync_port)"
		                         : NULL;
	case 12:
		return "(exit code 12: the connection or the remote rsync ended unexpectedly)";
	case 35:
		return "(exit code 35: no answer from the rsync daemon)";
	case 255:
		return t == RSYNC_OVER_SSH ? "(exit code 255: the ssh connection failed)" : NULL;
	default:
		return NULL;
	}
}

int
rsync_judge(const struct rsync_call *c, const struct spawn_result *res,
            const struct rsync_output *ro, int *partial, int *warned, struct err *err)
{
	const struct job *job = c->job;
	int backup = c->purpose == RSYNC_FOR_BACKUP;
	long stall = job_get_long(job, "stall_timeout", 1800);
	int pie = job_get_bool(job, "partial_is_error", 0);
	const char *hint;
	char desc[128];

	*partial = 0;
	*warned = 0;
	spawn_describe(res, desc, sizeof desc);
	/* Ended by the watchdog (no output, nothing read) or by max_runtime. */
	if (res->stalled) {
		err_set(err,
		        "%s failed: no data for %ld s: the transfer stalled (stall_timeout = %ld)",
		        c->what, stall, stall);
		ssh_diag_explain(&ro->ssh, job, err);
		rsync_output_explain(ro, err);
		return -1;
	}
	if (res->timed_out) {
		err_set(err,
		        "%s failed (timed out): the job's time limit was reached (max_runtime = "
		        "%ld s)",
		        c->what, job_get_long(job, "max_runtime", 0));
		ssh_diag_explain(&ro->ssh, job, err);
		rsync_output_explain(ro, err);
		return -1;
	}
	switch (rsync_verdict(c->purpose, res->exited, res->code, ro->st.total_files, pie)) {
	case RSYNC_DONE:
		return 0;
	case RSYNC_VANISHED:
		log_warning(job->name, "rsync: some files vanished before they could be %s",
		            backup ? "transferred" : "exported");
		*warned = 1;
		return 0;
	case RSYNC_PARTIAL:
		if (backup)
			log_warning(job->name,
			            "rsync: partial transfer (exit code 23), some files or "
			            "attributes were not transferred; see the lines above. The "
			            "backup is recorded as partial (set partial_is_error = yes to "
			            "fail it instead)");
		else
			log_warning(job->name,
			            "rsync: partial transfer (exit code 23), some files "
			            "or attributes were not exported; see the lines above");
		*warned = 1;
		*partial = 1;
		return 0;
	case RSYNC_PARTIAL_ERR:
		err_set(err,
		        "%s: partial transfer (exit code 23), some files or attributes were not "
		        "transferred, and partial_is_error = yes",
		        c->what);
		break;
	case RSYNC_NO_SOURCE:
		err_set(err, "%s transferred nothing (%s): the source folder could not be read",
		        c->what, desc);
		break;
	case RSYNC_FAILED:
		/* A backup's rsync runs with its own --timeout=stall_timeout. */
		if (backup && res->exited && res->code == 30 && stall > 0) {
			err_set(err,
			        "%s failed: no data for %ld s: the transfer stalled (exit code 30, "
			        "stall_timeout = %ld)",
			        c->what, stall, stall);
			break;
		}
		err_set(err, "%s failed (%s)", c->what, desc);
		/* ssh's own words (below) say more than the exit code. */
		if (ro->ssh.fault == SSH_FAULT_NONE && backup && res->exited &&
		    (hint = exit_hint(res->code, c->transport)) != NULL)
			err_append_line(err, "%s", hint);
		break;
	}
	/*
	 * When ssh could not log in, rsync's "connection unexpectedly closed"
	 * adds nothing to ssh's words; after a lost connection it may.
	 */
	if (!ssh_diag_explain(&ro->ssh, job, err) || ro->ssh.fault == SSH_FAULT_LOST)
		rsync_output_explain(ro, err);
	return -1;
}
