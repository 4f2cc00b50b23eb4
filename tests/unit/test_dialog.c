/*
 * dialog.c and telnet.c against a scripted fake switch running in a
 * thread of this test, over a socketpair (the descriptor transport) and
 * over TCP (telnet, with option negotiation): a banner with VT100
 * sequences behind "Press any key to continue", a login whose password
 * the device wrongly echoes (masked, and never in the transcript), a
 * wrong password prompted again, a configuration cut by a "-- MORE --"
 * pager with erase sequences (output whole, pager gone), '#' inside the
 * configuration not taken for a prompt, a silent device (timeout), a
 * closed connection, the run's interrupt, 0xFF escaped both ways, and
 * a session over a spawned program's pseudo-terminal, and
 * the terminal model (backspaces, carriage returns, erase in line, CSI
 * colours, OSC titles).
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dialog.h"
#include "progress.h"
#include "spawn.h"
#include "telnet.h"
#include "util/xmalloc.h"

#define PASSWORD "Adm1n-s3cret"
#define CONFIG_LINES 30

struct device {
	int fd;
	int telnet;
	int listen_fd; /* telnet: accept on this first */
	unsigned char nego[64];
	size_t nnego;
	int got_ff; /* a command held exactly one 0xFF byte */
	char received_password[64];
};

static void
dev_put(struct device *dv, const char *s)
{
	size_t n = strlen(s);

	while (n > 0) {
		ssize_t w = write(dv->fd, s, n);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

/* One byte from the client, telnet commands taken out (recorded). -1 at EOF. */
static int
dev_byte(struct device *dv)
{
	unsigned char c;

	for (;;) {
		if (read(dv->fd, &c, 1) != 1)
			return -1;
		if (!dv->telnet || c != 255)
			return c;
		if (read(dv->fd, &c, 1) != 1)
			return -1;
		if (c == 255)
			return 255;
		if (dv->nnego + 2 <= sizeof dv->nego) {
			dv->nego[dv->nnego++] = c;
			if (read(dv->fd, &dv->nego[dv->nnego++], 1) != 1)
				return -1;
		}
	}
}

/* A line from the client ("\r\n" or "\r" or "\n" ends it). */
static int
dev_line(struct device *dv, char *buf, size_t sz)
{
	size_t n = 0;
	int c;

	while ((c = dev_byte(dv)) != -1) {
		if (c == '\n' && n == 0)
			continue; /* the \n of a \r\n */
		if (c == '\r' || c == '\n')
			break;
		if (n + 1 < sz)
			buf[n++] = (char)c;
	}
	buf[n] = '\0';
	return c == -1 && n == 0 ? -1 : 0;
}

static void *
device(void *arg)
{
	struct device *dv = arg;
	char line[256];
	int tries = 0;

	if (dv->telnet) {
		dv->fd = accept(dv->listen_fd, NULL, NULL);
		/* WILL ECHO, WILL SGA, DO TTYPE, a subnegotiation, a doubled 0xFF in data. */
		dev_put(dv, "\xff\xfb\x01\xff\xfb\x03\xff\xfd\x18\xff\xfa\x18\x01\xff\xf0");
	}
	dev_put(
	    dv,
	    "\x1b[2J\x1b[1;1H\x1b]0;ProCurve\x07Welcome to the \x1b[1mProCurve\x1b[0m switch\r\n"
	    "\x1b[?25lPress any key to continue");
	if (dev_byte(dv) == -1)
		goto out;
	dev_put(dv, "\r\x1b[K\r\nUsername: ");
	if (dev_line(dv, line, sizeof line) == -1)
		goto out;
	for (;;) {
		dev_put(dv, "Password: ");
		if (dev_line(dv, line, sizeof line) == -1)
			goto out;
		/* A badly configured device echoes the password. */
		dev_put(dv, line);
		snprintf(dv->received_password, sizeof dv->received_password, "%.*s",
		         (int)sizeof dv->received_password - 1, line);
		if (strcmp(line, PASSWORD) == 0 || ++tries > 3)
			break;
		dev_put(dv, "\r\nInvalid password\r\n");
	}
	dev_put(dv, "\r\n\r\nswitch# ");
	while (dev_line(dv, line, sizeof line) != -1) {
		/* The echo (0xFF doubled over telnet). */
		for (const char *c = line; *c != '\0'; c++) {
			char one[3] = { *c, *c, '\0' };

			one[1] = dv->telnet && (unsigned char)*c == 255 ? *c : '\0';
			dev_put(dv, one);
		}
		dev_put(dv, "\r\n");
		if (strcmp(line, "show running-config") == 0) {
			dev_put(dv, "Running configuration:\r\n\r\nhostname \"sw#1\"   \r\n");
			for (int i = 1; i <= CONFIG_LINES; i++) {
				char l[64];

				snprintf(l, sizeof l, "vlan %d\r\n", i);
				dev_put(dv, l);
				if (i % 10 == 0 && i < CONFIG_LINES) {
					dev_put(dv,
					        "-- MORE --, next page: Space, next line: Enter, "
					        "quit: Control-C");
					int k;

					while ((k = dev_byte(dv)) == '\n')
						; /* the end of the command's "\r\n" */
					if (k != ' ')
						goto out;
					if (i == 10)
						dev_put(dv, "\r\x1b[K");
					else
						dev_put(dv,
						        "\r                                        "
						        "                            \r");
				}
			}
			dev_put(dv, "end\r\n\r\nswitch# ");
		} else if (strcmp(line, "show silent") == 0) {
			/* says nothing until the client gives up */
		} else if (strcmp(line, "exit") == 0) {
			break;
		} else {
			dv->got_ff = strlen(line) == 6 && memcmp(line, "say \xff!", 6) == 0;
			dev_put(dv, dv->telnet ? "byte \xff\xff.\r\nswitch# " : "ok\r\nswitch# ");
		}
	}
out:
	close(dv->fd);
	return NULL;
}

static const struct dialog_pattern prompt[] = { { "^[a-z0-9-]+# ?$", 1 } };

/* The whole scripted session; dv runs in its thread. */
static void
session(struct dialog *d, struct device *dv)
{
	static const struct dialog_pattern login[] = { { "Username:", 0 } };
	static const struct dialog_pattern pw[] = { { "Password:", 0 } };
	static const struct dialog_pattern after_pw[] = { { "^[a-z0-9-]+# ?$", 1 },
		                                          { "Password:", 0 } };
	size_t which = 9;
	char *out, *banner;
	const char *tr;
	struct err err;

	if (dialog_expect(d, login, 1, NULL, &banner, &err) == -1)
		fail_msg("%s", err.msg);
	/* The banner arrived clean: no escapes, no pager text. */
	assert_string_equal(banner, "Welcome to the ProCurve switch\n\n");
	free(banner);
	assert_int_equal(dialog_send(d, "manager", &err), 0);
	assert_int_equal(dialog_expect(d, pw, 1, NULL, NULL, &err), 0);
	assert_int_equal(dialog_send_secret(d, "wrong-" PASSWORD, &err), 0);
	assert_int_equal(dialog_expect(d, after_pw, 2, &which, &out, &err), 0);
	assert_int_equal(which, 1);
	assert_non_null(strstr(out, "Invalid password"));
	assert_null(strstr(out, PASSWORD));
	free(out);
	assert_int_equal(dialog_send_secret(d, PASSWORD, &err), 0);
	assert_int_equal(dialog_expect(d, after_pw, 2, &which, &out, &err), 0);
	assert_int_equal(which, 0);
	assert_null(strstr(out, PASSWORD));
	assert_non_null(strstr(out, "********"));
	free(out);

	if (dialog_command(d, "show running-config", prompt, 1, &out, &err) == -1)
		fail_msg("%s", err.msg);
	{
		char expect[1024];
		size_t n = (size_t)snprintf(expect, sizeof expect,
		                            "Running configuration:\n\nhostname \"sw#1\"\n");

		for (int i = 1; i <= CONFIG_LINES; i++)
			n += (size_t)snprintf(expect + n, sizeof expect - n, "vlan %d\n", i);
		snprintf(expect + n, sizeof expect - n, "end\n\n");
		assert_string_equal(out, expect);
	}
	free(out);

	tr = dialog_transcript(d);
	assert_null(strstr(tr, PASSWORD));
	assert_non_null(strstr(tr, "> <secret>"));
	assert_non_null(strstr(tr, "> show running-config"));
	assert_null(strstr(tr, "MORE"));
	assert_null(strstr(tr, "\x1b"));
	assert_string_equal(dv->received_password, PASSWORD);
}

static void
test_fd_session(void **state)
{
	struct dialog_opts o = { .timeout_sec = 30 };
	struct device dv = { 0 };
	struct dialog_transport tr;
	struct dialog *d;
	pthread_t th;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	dv.fd = sv[1];
	assert_int_equal(pthread_create(&th, NULL, device, &dv), 0);
	tr = dialog_fd_transport(sv[0], sv[0], 1);
	d = dialog_new(&tr, &o);
	session(d, &dv);
	dialog_free(d);
	pthread_join(th, NULL);
}

static void
test_timeout_and_eof(void **state)
{
	struct progress p;
	struct dialog_opts o = { .timeout_sec = 30, .progress = &p };
	struct device dv = { 0 };
	struct dialog_transport tr;
	struct dialog *d;
	pthread_t th;
	int sv[2];
	char *out;
	struct err err;

	(void)state;
	progress_init(&p, 0, 0);
	/* To the prompt, then a silent command and a closed connection. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	dv.fd = sv[1];
	assert_int_equal(pthread_create(&th, NULL, device, &dv), 0);
	tr = dialog_fd_transport(sv[0], sv[0], 1);
	d = dialog_new(&tr, &o);
	{
		static const struct dialog_pattern login[] = { { "Username:", 0 } };
		static const struct dialog_pattern pw[] = { { "Password:", 0 } };

		assert_int_equal(dialog_expect(d, login, 1, NULL, NULL, &err), 0);
		assert_int_equal(dialog_send(d, "manager", &err), 0);
		assert_int_equal(dialog_expect(d, pw, 1, NULL, NULL, &err), 0);
		assert_int_equal(dialog_send_secret(d, PASSWORD, &err), 0);
		assert_int_equal(dialog_expect(d, prompt, 1, NULL, NULL, &err), 0);
	}
	dialog_set_timeout(d, 1);
	assert_int_equal(dialog_command(d, "show silent", prompt, 1, &out, &err), -1);
	assert_non_null(strstr(err.msg, "command 'show silent'"));
	assert_non_null(strstr(err.msg, "no prompt after 1 s"));
	/* The run's interrupt ends a wait too. */
	progress_interrupt(&p);
	assert_int_equal(dialog_expect(d, prompt, 1, NULL, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "interrupted"));
	progress_init(&p, 0, 0);
	dialog_set_timeout(d, 30);
	assert_int_equal(dialog_send(d, "exit", &err), 0);
	assert_int_equal(dialog_expect(d, prompt, 1, NULL, NULL, &err), -1);
	if (strstr(err.msg, "connection closed") == NULL)
		fail_msg("%s", err.msg);
	/* A bad regex is an error naming it. */
	{
		static const struct dialog_pattern bad[] = { { "([a-z", 1 } };

		assert_int_equal(dialog_expect(d, bad, 1, NULL, NULL, &err), -1);
		assert_non_null(strstr(err.msg, "prompt pattern '([a-z'"));
	}
	dialog_free(d);
	pthread_join(th, NULL);
}

static void
test_telnet(void **state)
{
	struct dialog_opts o = { .timeout_sec = 30 };
	struct device dv = { .telnet = 1 };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof sa;
	struct dialog_transport tr;
	struct dialog *d;
	pthread_t th;
	char *out;
	struct err err;

	(void)state;
	dv.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(dv.listen_fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(dv.listen_fd, 1), 0);
	assert_int_equal(getsockname(dv.listen_fd, (struct sockaddr *)&sa, &sl), 0);
	assert_int_equal(pthread_create(&th, NULL, device, &dv), 0);
	assert_int_equal(telnet_connect("127.0.0.1", ntohs(sa.sin_port), 5, &tr, &err), 0);
	d = dialog_new(&tr, &o);
	session(d, &dv);
	/* 0xFF goes doubled on the wire, arrives single; and back. */
	assert_int_equal(dialog_command(d, "say \xff!", prompt, 1, &out, &err), 0);
	assert_string_equal(out, "byte \xff.\n");
	free(out);
	assert_true(dv.got_ff);
	/* Negotiation: DO ECHO, DO SGA accepted; TTYPE refused (WONT). */
	assert_true(dv.nnego >= 6);
	assert_memory_equal(dv.nego, "\xfd\x01\xfd\x03\xfc\x18", 6);
	dialog_free(d);
	pthread_join(th, NULL);
	close(dv.listen_fd);

	/* Nobody listening: a clear error naming host and port. */
	assert_int_equal(telnet_connect("127.0.0.1", ntohs(sa.sin_port), 2, &tr, &err), -1);
	assert_non_null(strstr(err.msg, "telnet 127.0.0.1:"));
	assert_non_null(strstr(err.msg, "cannot connect"));
}

/* What the terminal model makes of raw bytes, read up to the prompt "sw# ". */
static char *
clean(const char *raw)
{
	struct dialog_opts o = { .timeout_sec = 5 };
	static const struct dialog_pattern p[] = { { "sw# ", 0 } };
	struct dialog_transport tr;
	struct dialog *d;
	char *out = NULL;
	struct err err;
	int fds[2];

	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], raw, strlen(raw)), (ssize_t)strlen(raw));
	assert_int_equal(write(fds[1], "sw# ", 4), 4);
	tr = dialog_fd_transport(fds[0], fds[1], 1);
	d = dialog_new(&tr, &o);
	assert_int_equal(dialog_expect(d, p, 1, NULL, &out, &err), 0);
	dialog_free(d);
	return out;
}

static void
test_terminal_model(void **state)
{
	static const struct {
		const char *raw, *clean;
	} cases[] = {
		{ "abc\b\bXY\r\n", "aXY\n" },
		{ "\x1b[31mred\x1b[0m text\r\n", "red text\n" },
		{ "12345\r\x1b[Kok\r\n", "ok\n" },
		{ "\x1b]0;title\x07shown\r\n", "shown\n" },
		{ "\x1b(Bcharset\r\n", "charset\n" },
		{ "long line\rshort\r\n", "shortline\n" },
		{ "a\x1b[5Cb\r\n", "a     b\n" },
		{ "trailing   \t\r\nbel\x07x\r\n", "trailing\nbelx\n" },
		{ "x\x1b[2Ky\r\n", " y\n" },
		{ "one\ntwo\r\r\n", "one\ntwo\n" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *out = clean(cases[i].raw);

		if (strcmp(out, cases[i].clean) != 0)
			fail_msg("case %zu: got '%s', want '%s'", i, out, cases[i].clean);
		free(out);
	}
}

/*
 * Over a spawned program's pseudo-terminal (how an ssh session is held):
 * a script that reads a password with echo off, as ssh does, on its
 * controlling terminal, then answers commands.
 */
static void
test_pty_session(void **state)
{
	static const char script[] = "test -t 0 && test -t 1 || exit 3\n"
	                             "stty -echo; printf 'Password: '; IFS= read -r pw; stty echo\n"
	                             "printf '\\r\\nlength %s\\r\\nsw# ' \"${#pw}\"\n"
	                             "while IFS= read -r cmd; do\n"
	                             "  case \"$cmd\" in exit*) exit 0;; esac\n"
	                             "  printf 'you said %s\\r\\nsw# ' \"$cmd\"\n"
	                             "done\n";
	const char *argv[] = { "sh", "-c", script, NULL };
	static const struct dialog_pattern pw[] = { { "Password:", 0 } };
	/* A terminal's Enter is "\r" (the pty makes it "\n" for the program). */
	struct dialog_opts o = { .timeout_sec = 30, .eol = "\r" };
	struct spawn_opts so;
	struct spawn_result res;
	struct spawn_proc *proc;
	struct dialog_transport tr;
	struct dialog *d;
	char *out;
	int master;
	struct err err;

	(void)state;
	spawn_opts_init(&so);
	so.argv = argv;
	so.kill_grace_sec = 5;
	assert_int_equal(spawn_start_pty(&so, &proc, &master, &err), 0);
	tr = dialog_fd_transport(master, master, 0);
	d = dialog_new(&tr, &o);
	if (dialog_expect(d, pw, 1, NULL, NULL, &err) == -1)
		fail_msg("%s", err.msg);
	assert_int_equal(dialog_send_secret(d, PASSWORD, &err), 0);
	assert_int_equal(dialog_expect(d, prompt, 1, NULL, &out, &err), 0);
	assert_string_equal(out, "\nlength 12\n");
	free(out);
	assert_int_equal(dialog_command(d, "show version", prompt, 1, &out, &err), 0);
	assert_string_equal(out, "you said show version\n");
	free(out);
	assert_null(strstr(dialog_transcript(d), PASSWORD));
	assert_int_equal(dialog_send(d, "exit", &err), 0);
	assert_int_equal(dialog_expect(d, prompt, 1, NULL, NULL, &err), -1);
	assert_non_null(strstr(err.msg, "connection closed"));
	dialog_free(d);
	assert_int_equal(spawn_finish(proc, &res, &err), 0);
	assert_true(res.exited);
	assert_int_equal(res.code, 0);
	assert_false(res.timed_out);

	/* A child that ignores the hangup is ended. */
	{
		const char *stubborn[] = { "sh", "-c", "trap '' HUP; printf 'ready> '; sleep 60",
			                   NULL };
		static const struct dialog_pattern ready[] = { { "ready>", 0 } };

		so.argv = stubborn;
		so.kill_grace_sec = 1;
		assert_int_equal(spawn_start_pty(&so, &proc, &master, &err), 0);
		tr = dialog_fd_transport(master, master, 0);
		d = dialog_new(&tr, &o);
		assert_int_equal(dialog_expect(d, ready, 1, NULL, NULL, &err), 0);
		dialog_free(d);
		assert_int_equal(spawn_finish(proc, &res, &err), 0);
		assert_true(res.timed_out);
		assert_false(res.exited && res.code == 0);
	}
	/* Not found: the same message as spawn_run(). */
	{
		const char *none[] = { "tb-no-such-program", NULL };

		so.argv = none;
		assert_int_equal(spawn_start_pty(&so, &proc, &master, &err), -1);
		assert_string_equal(err.msg, "cannot run 'tb-no-such-program': not found in PATH");
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fd_session),  cmocka_unit_test(test_timeout_and_eof),
		cmocka_unit_test(test_telnet),      cmocka_unit_test(test_terminal_model),
		cmocka_unit_test(test_pty_session),
	};

	signal(SIGPIPE, SIG_IGN); /* as tisbackup does (spawn_install_signal_handlers) */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
