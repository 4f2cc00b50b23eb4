/*
 * ssh's own error lines (ssh.c): the classifier on OpenSSH's real
 * wording, which fault wins when ssh says several things, and the next
 * step written for a job.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "jobconf.h"
#include "ssh.h"

static enum ssh_fault
classify(const char *line)
{
	return ssh_classify_line(line, strlen(line));
}

static void
test_classify(void **state)
{
	static const struct {
		const char *line;
		enum ssh_fault want;
	} cases[] = {
		{ "root@127.0.0.1: Permission denied (publickey).", SSH_FAULT_AUTH },
		{ "Permission denied (publickey,password).", SSH_FAULT_AUTH },
		{ "backup@files1: Permission denied (publickey,gssapi-keyex)", SSH_FAULT_AUTH },
		{ "Received disconnect from 10.0.0.5 port 22:2: Too many authentication failures",
		  SSH_FAULT_AUTH },
		{ "@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @",
		  SSH_FAULT_HOSTKEY_CHANGED },
		{ "Host key for [127.0.0.1]:2222 has changed and you have requested strict checking.",
		  SSH_FAULT_HOSTKEY_CHANGED },
		{ "No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict "
		  "checking.",
		  SSH_FAULT_HOST_UNKNOWN },
		{ "Host key verification failed.", SSH_FAULT_HOSTKEY },
		{ "no such identity: /root/.ssh/id_backup: No such file or directory",
		  SSH_FAULT_KEY_FILE },
		{ "Load key \"/root/.ssh/id_backup\": bad permissions", SSH_FAULT_KEY_FILE },
		{ "ssh: Could not resolve hostname web1.lan: Name or service not known",
		  SSH_FAULT_DNS },
		{ "ssh: connect to host 127.0.0.1 port 2222: Connection refused",
		  SSH_FAULT_REFUSED },
		{ "ssh: connect to host 10.0.0.9 port 22: Connection timed out",
		  SSH_FAULT_TIMEOUT },
		{ "Connection timed out during banner exchange", SSH_FAULT_TIMEOUT },
		{ "Connection to 10.0.0.9 port 22 timed out", SSH_FAULT_TIMEOUT },
		{ "ssh: connect to host 10.0.0.9 port 22: No route to host",
		  SSH_FAULT_UNREACHABLE },
		{ "ssh: connect to host 10.0.0.9 port 22: Network is unreachable",
		  SSH_FAULT_UNREACHABLE },
		{ "kex_exchange_identification: read: Connection reset by peer", SSH_FAULT_CLOSED },
		{ "Connection closed by 127.0.0.1 port 2222", SSH_FAULT_CLOSED },
		{ "Timeout, server 10.0.0.9 not responding.", SSH_FAULT_LOST },
		{ "client_loop: send disconnect: Broken pipe", SSH_FAULT_LOST },
		/* Not ssh's: a remote tool's complaints, rsync's own lines, chatter. */
		{ "mysqldump: Got error: 1044: Access denied for user", SSH_FAULT_NONE },
		{ "rsync: [sender] opendir \"/srv/x\" failed: Permission denied (13)",
		  SSH_FAULT_NONE },
		{ "sh: 1: cannot create /x: Permission denied", SSH_FAULT_NONE },
		{ "Warning: Permanently added '[127.0.0.1]:2222' (ED25519) to the list of known hosts.",
		  SSH_FAULT_NONE },
		{ "", SSH_FAULT_NONE },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (classify(cases[i].line) != cases[i].want)
			fail_msg("'%s': %s, want %s", cases[i].line,
			         ssh_fault_name(classify(cases[i].line)),
			         ssh_fault_name(cases[i].want));
}

static void
feed_all(struct ssh_diag *d, const char *const *lines)
{
	for (; *lines != NULL; lines++)
		ssh_diag_feed(d, *lines, strlen(*lines));
}

static struct job
make_job(struct config *cfg, int port)
{
	struct job job;

	memset(cfg, 0, sizeof *cfg);
	memset(&job, 0, sizeof job);
	job.cfg = cfg;
	job.name = "web";
	job.server_name = "web1.lan";
	job.remote_user = "backup";
	job.private_key = "/etc/tis/keys/id web";
	job.ssh_port = port;
	return job;
}

/* The host key warning: one fault, ssh's known_hosts file, its box left out. */
static void
test_changed_host_key(void **state)
{
	static const char *const lines[] = {
		"@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
		"@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @",
		"@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@",
		"IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!",
		"SHA256:ueKC7mseHS3WZtsFaArZDXr5UwNbydL5NXgZmEVPrx4.",
		"Offending ED25519 key in /var/lib/tis/known hosts:3",
		"  remove with:",
		"  ssh-keygen -f \"/var/lib/tis/known hosts\" -R \"[web1.lan]:2222\"",
		"Host key for [web1.lan]:2222 has changed and you have requested strict checking.",
		"Host key verification failed.",
		NULL,
	};
	struct ssh_diag d;
	struct config cfg;
	struct job job = make_job(&cfg, 2222);
	struct err err;

	(void)state;
	memset(&d, 0, sizeof d);
	for (const char *const *l = lines; *l != NULL; l++)
		assert_int_equal(ssh_diag_feed(&d, *l, strlen(*l)), 1);
	assert_int_equal(ssh_diag_feed(&d, "rsync: connection unexpectedly closed", 37), 0);
	assert_int_equal(d.fault, SSH_FAULT_HOSTKEY_CHANGED);
	assert_string_equal(d.cause, "WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!");
	assert_string_equal(d.last, "Host key verification failed.");
	assert_string_equal(d.known_hosts, "/var/lib/tis/known hosts");

	err_set(&err, "rsync failed (exit code 255)");
	assert_int_equal(ssh_diag_explain(&d, &job, &err), 1);
	assert_non_null(strstr(err.msg, "\nthe host key changed: the server sent another key than "
	                                "the one recorded for [web1.lan]:2222: check why"));
	assert_non_null(
	    strstr(err.msg, "then `ssh-keygen -f '/var/lib/tis/known hosts' -R [web1.lan]:2222`"));
	assert_non_null(strstr(err.msg, "\nssh: Host key verification failed."));
	assert_null(strstr(err.msg, "NASTY"));
}

/* A missing key explains the refusal that follows it. */
static void
test_most_telling_fault(void **state)
{
	static const char *const lines[] = {
		"no such identity: /etc/tis/keys/id web: No such file or directory",
		"backup@web1.lan: Permission denied (publickey).",
		NULL,
	};
	struct ssh_diag d;
	struct config cfg;
	struct job job = make_job(&cfg, 22);
	struct err err;

	(void)state;
	memset(&d, 0, sizeof d);
	feed_all(&d, lines);
	assert_int_equal(d.fault, SSH_FAULT_KEY_FILE);
	err_set(&err, "x failed (exit code 255)");
	ssh_diag_exit(&d, &job, 1, 255, &err);
	assert_non_null(strstr(err.msg, "the private key cannot be used: check private_key "
	                                "('/etc/tis/keys/id web')"));
	assert_non_null(strstr(err.msg, "\nssh: backup@web1.lan: Permission denied (publickey)."));
}

static void
test_next_steps(void **state)
{
	struct ssh_diag d;
	struct config cfg;
	struct job job = make_job(&cfg, 22);
	struct err err;
	const char *auth = "backup@web1.lan: Permission denied (publickey).";

	(void)state;
	memset(&d, 0, sizeof d);
	ssh_diag_feed(&d, auth, strlen(auth));
	err_set(&err, "x");
	ssh_diag_exit(&d, &job, 1, 255, &err);
	assert_string_equal(err.msg, "x\nthe login was refused: add the public key ('/etc/tis/keys/"
	                             "id web.pub') to ~backup/.ssh/authorized_keys on web1.lan, or "
	                             "check remote_user and private_key\nssh: backup@web1.lan: "
	                             "Permission denied (publickey).");

	/* The remote command's exit, not ssh's: its lines as they came. */
	err_set(&err, "x");
	ssh_diag_exit(&d, &job, 1, 2, &err);
	assert_string_equal(err.msg, "x\nbackup@web1.lan: Permission denied (publickey).");

	/* Nothing from ssh: the generic word on 255 only. */
	memset(&d, 0, sizeof d);
	err_set(&err, "x");
	ssh_diag_exit(&d, &job, 1, 255, &err);
	assert_string_equal(err.msg,
	                    "x\n(exit code 255 is ssh's own: connection or authentication failed)");
	err_set(&err, "x");
	ssh_diag_exit(&d, &job, 1, 1, &err);
	assert_string_equal(err.msg, "x");
	assert_int_equal(ssh_diag_explain(&d, &job, &err), 0);

	/* "ssh: " is not doubled. */
	ssh_diag_feed(&d, "ssh: connect to host web1.lan port 22: Connection refused", 57);
	err_set(&err, "x");
	ssh_diag_explain(&d, &job, &err);
	assert_string_equal(err.msg, "x\nthe connection was refused: nothing accepts connections "
	                             "on web1.lan port 22: check that sshd runs there and "
	                             "ssh_port\nssh: connect to host web1.lan port 22: Connection "
	                             "refused");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_changed_host_key),
		cmocka_unit_test(test_most_telling_fault),
		cmocka_unit_test(test_next_steps),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
