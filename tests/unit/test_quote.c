/*
 * Tests for quote.c. Shell quoting is checked against real shells: each
 * tricky word goes through `sh -c "printf '%s\0' <quoted words>"` and must
 * come back byte for byte. rsync -e quoting is checked against a copy of
 * rsync's splitter (main.c, do_cmd()) and, when rsync is installed, against
 * rsync itself with a fake remote shell that records its arguments.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "quote.h"
#include "spawn.h"
#include "util/buf.h"
#include "util/strv.h"
#include "util/xmalloc.h"

static char tmpdir[TB_TMPDIR_MAX];
static char all_bytes[256]; /* every byte from 1 to 255 */

static const char *words[] = {
	"",
	"simple",
	"two words",
	"  ",
	" lead",
	"trail ",
	"it's",
	"'",
	"''",
	"'''",
	"\"",
	"\"\"",
	"a\"b'c",
	"'\"'\"",
	"$(id)",
	"`id`",
	"$HOME",
	"${x:-y}",
	"$'\\n'",
	"a\nb",
	"\n",
	"\t",
	"tab\there",
	"cr\r",
	"*",
	"?",
	"[a]",
	"~",
	"~root",
	"\xff\xfe",
	"\xc3\xa9t\xc3\xa9",
	"-n",
	"-e",
	"--",
	"-",
	"\\",
	"\\'",
	"'\\",
	"a\\nb",
	"!",
	"!!",
	"#comment",
	";",
	"&&",
	"|",
	">",
	"<",
	"(",
	")",
	"{",
	"}",
	"%s",
	"%%",
	"\\0",
	"a=b",
	"IFS=x",
	"\x01\x02\x1b[0m",
	all_bytes,
	NULL,
};

static size_t
nwords(void)
{
	size_t n = 0;

	while (words[n] != NULL)
		n++;
	return n;
}

/* ---- fixed expectations ---- */

static void
test_sh_word(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(quote_sh_word(&b, ""), 0);
	assert_string_equal(buf_str(&b), "''");
	buf_reset(&b);
	assert_int_equal(quote_sh_word(&b, "abc"), 0);
	assert_string_equal(buf_str(&b), "'abc'");
	buf_reset(&b);
	assert_int_equal(quote_sh_word(&b, "a'b"), 0);
	assert_string_equal(buf_str(&b), "'a'\\''b'");
	buf_reset(&b);
	assert_int_equal(quote_sh_word(&b, "'"), 0);
	assert_string_equal(buf_str(&b), "''\\'''");
	buf_reset(&b);
	assert_int_equal(quote_sh_word(&b, "$x \"y\" `z`\n"), 0);
	assert_string_equal(buf_str(&b), "'$x \"y\" `z`\n'");
	/* appends to what is there */
	assert_int_equal(quote_sh_word(&b, "w"), 0);
	assert_string_equal(buf_str(&b), "'$x \"y\" `z`\n''w'");
	buf_free(&b);
}

static void
test_rsh_word(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(quote_rsh_word(&b, ""), 0);
	assert_string_equal(buf_str(&b), "''");
	buf_reset(&b);
	assert_int_equal(quote_rsh_word(&b, "a'b"), 0);
	assert_string_equal(buf_str(&b), "'a''b'");
	buf_reset(&b);
	assert_int_equal(quote_rsh_word(&b, "''"), 0);
	assert_string_equal(buf_str(&b), "''''''");
	buf_reset(&b);
	assert_int_equal(quote_rsh_word(&b, "a \"b\" $c\\"), 0);
	assert_string_equal(buf_str(&b), "'a \"b\" $c\\'");
	buf_free(&b);
}

static void
test_argv(void **state)
{
	const char *argv[] = { "ssh", "-p", "22", "it's here", "", NULL };
	const char *empty[] = { NULL };
	char *s;

	(void)state;
	s = quote_sh_argv(argv);
	assert_string_equal(s, "'ssh' '-p' '22' 'it'\\''s here' ''");
	free(s);
	s = quote_rsh_argv(argv);
	assert_string_equal(s, "'ssh' '-p' '22' 'it''s here' ''");
	free(s);
	s = quote_sh_argv(empty);
	assert_string_equal(s, "");
	free(s);
	s = quote_rsh_argv(empty);
	assert_string_equal(s, "");
	free(s);
}

static void
check_limit(int (*quote)(struct buf *, const char *), const char *word, size_t need)
{
	struct buf b;

	/* exactly enough room after a prefix */
	buf_init(&b, 3 + need);
	assert_int_equal(buf_puts(&b, "ab "), 0);
	assert_int_equal(quote(&b, word), 0);
	assert_int_equal(b.len, 3 + need);
	buf_free(&b);

	/* one byte short: fails and leaves the buffer as it was */
	for (size_t limit = 3; limit < 3 + need; limit++) {
		buf_init(&b, limit);
		assert_int_equal(buf_puts(&b, "ab "), 0);
		assert_int_equal(quote(&b, word), -1);
		assert_int_equal(b.len, 3);
		assert_string_equal(buf_str(&b), "ab ");
		buf_free(&b);
	}
}

static void
test_limit(void **state)
{
	(void)state;
	check_limit(quote_sh_word, "abc", 5);
	check_limit(quote_sh_word, "a'b", 8);
	check_limit(quote_sh_word, "", 2);
	check_limit(quote_rsh_word, "abc", 5);
	check_limit(quote_rsh_word, "a'b", 6);
	check_limit(quote_rsh_word, "''", 6);
}

/* ---- through real shells ---- */

/* Run sh -c script with stdout to a file; return what it printed. */
static char *
run_shell(const char *shell, const char *script, size_t *len)
{
	const char *argv[] = { shell, "-c", script, NULL };
	struct spawn_opts o;
	struct spawn_result res;
	struct err err;
	char *path, *data;
	size_t cap = 4096;
	ssize_t n;
	int fd;

	path = xasprintf("%s/out", tmpdir);
	assert_true((fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) != -1);
	spawn_opts_init(&o);
	o.argv = argv;
	o.stdout_fd = fd;
	o.timeout_sec = 60;
	if (spawn_run(&o, &res, &err) == -1)
		fail_msg("%s", err.msg);
	assert_int_equal(res.exited, 1);
	assert_int_equal(res.code, 0);
	data = xmalloc(cap);
	*len = 0;
	while ((n = pread(fd, data + *len, cap - *len, (off_t)*len)) > 0) {
		*len += (size_t)n;
		if (*len == cap)
			data = xrealloc(data, cap *= 2);
	}
	close(fd);
	unlink(path);
	free(path);
	return data;
}

static void
check_shell(const char *shell)
{
	struct strv argv;
	struct buf want;
	char *script, *got;
	size_t len;

	if (access(shell, X_OK) != 0) {
		print_message("%s not installed, skipped\n", shell);
		return;
	}
	/* each word on its own, then all in one command line */
	for (size_t i = 0; words[i] != NULL; i++) {
		strv_init(&argv);
		strv_push(&argv, "printf");
		strv_push(&argv, "%s\\0");
		strv_push(&argv, words[i]);
		script = quote_sh_argv((const char *const *)strv_argv(&argv));
		got = run_shell(shell, script, &len);
		assert_int_equal(len, strlen(words[i]) + 1);
		assert_memory_equal(got, words[i], len);
		free(got);
		free(script);
		strv_free(&argv);
	}

	strv_init(&argv);
	strv_push(&argv, "printf");
	strv_push(&argv, "%s\\0");
	strv_pushv(&argv, words);
	buf_init(&want, 1 << 20);
	for (size_t i = 0; words[i] != NULL; i++)
		assert_int_equal(buf_append(&want, words[i], strlen(words[i]) + 1), 0);
	script = quote_sh_argv((const char *const *)strv_argv(&argv));
	got = run_shell(shell, script, &len);
	assert_int_equal(len, want.len);
	assert_memory_equal(got, want.data, len);
	free(got);
	free(script);
	buf_free(&want);
	strv_free(&argv);
}

static void
test_sh_roundtrip_dash(void **state)
{
	(void)state;
	check_shell("/bin/sh");
}

static void
test_sh_roundtrip_bash(void **state)
{
	(void)state;
	check_shell("/bin/bash");
}

/* ---- rsync's splitter ---- */

/*
 * rsync's -e splitting, after main.c do_cmd(): words split on ' '; a ' or
 * " opens a quote; inside it the quote character doubled is one literal
 * and alone closes it; everything else is literal. Returns -1 on an
 * unterminated quote (rsync: "Missing trailing-' in remote-shell command").
 */
static int
rsync_split(const char *cmd, struct strv *out)
{
	char *copy = xstrdup(cmd), *t, *f, *start, in_quote = '\0';
	int rv = -1;

	strv_init(out);
	for (t = f = copy; *f; f++) {
		if (*f == ' ')
			continue;
		start = t;
		while (*f != ' ' || in_quote) {
			if (!*f) {
				if (in_quote)
					goto out;
				f--;
				break;
			}
			if (*f == '\'' || *f == '"') {
				if (!in_quote) {
					in_quote = *f++;
					continue;
				}
				if (*f == in_quote && *++f != in_quote) {
					in_quote = '\0';
					continue;
				}
			}
			*t++ = *f++;
		}
		*t++ = '\0';
		strv_push(out, start);
	}
	rv = 0;
out:
	free(copy);
	return rv;
}

static void
test_reference_splitter(void **state)
{
	struct strv v;

	(void)state;
	/* the reference itself, on rsync's documented examples */
	assert_int_equal(rsync_split("ssh -p 2222  -l 'a b' \"c\"\"d\"", &v), 0);
	assert_int_equal(v.n, 6);
	assert_string_equal(v.v[4], "a b");
	assert_string_equal(v.v[5], "c\"d");
	strv_free(&v);
	assert_int_equal(rsync_split("a'b c'd", &v), 0);
	assert_int_equal(v.n, 1);
	assert_string_equal(v.v[0], "ab cd");
	strv_free(&v);
	assert_int_equal(rsync_split("'it''s' \"\"", &v), 0);
	assert_int_equal(v.n, 2);
	assert_string_equal(v.v[0], "it's");
	assert_string_equal(v.v[1], "");
	strv_free(&v);
	assert_int_equal(rsync_split("'open", &v), -1);
	strv_free(&v);
}

static void
test_rsh_roundtrip(void **state)
{
	struct buf b;
	struct strv v;
	char *s;

	(void)state;
	for (size_t i = 0; words[i] != NULL; i++) {
		buf_init(&b, 4096);
		assert_int_equal(quote_rsh_word(&b, words[i]), 0);
		assert_int_equal(rsync_split(buf_str(&b), &v), 0);
		assert_int_equal(v.n, 1);
		assert_string_equal(v.v[0], words[i]);
		strv_free(&v);
		buf_free(&b);
	}
	s = quote_rsh_argv(words);
	assert_int_equal(rsync_split(s, &v), 0);
	assert_int_equal(v.n, nwords());
	for (size_t i = 0; words[i] != NULL; i++)
		assert_string_equal(v.v[i], words[i]);
	strv_free(&v);
	free(s);
}

/* rsync itself, with a remote shell that writes its arguments down. */
static void
test_rsh_real_rsync(void **state)
{
	const char *const *env = spawn_default_env();
	const char *argv[6], *envp[16];
	struct spawn_opts o;
	struct spawn_result res;
	struct strv rsh;
	struct err err;
	char *script, *out, *outvar, *quoted, *dst, *data;
	size_t n = 0, len, off, i;
	ssize_t r;
	int fd;

	(void)state;
	if (access("/usr/bin/rsync", X_OK) != 0) {
		print_message("rsync not installed, skipped\n");
		return;
	}
	script = xasprintf("%s/fake-ssh", tmpdir);
	out = xasprintf("%s/args", tmpdir);
	dst = xasprintf("%s/dst", tmpdir);
	assert_true((fd = open(script, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755)) != -1);
	data = "#!/bin/sh\nprintf '%s\\0' \"$@\" > \"$TB_ARGS\"\nexit 1\n";
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);

	strv_init(&rsh);
	strv_push(&rsh, script);
	strv_pushv(&rsh, words);
	quoted = quote_rsh_argv((const char *const *)strv_argv(&rsh));
	outvar = xasprintf("TB_ARGS=%s", out);
	for (; env[n] != NULL && n < 14; n++)
		envp[n] = env[n];
	envp[n++] = outvar;
	envp[n] = NULL;
	argv[0] = "rsync";
	argv[1] = "-e";
	argv[2] = quoted;
	argv[3] = "tbhost:/x";
	argv[4] = dst;
	argv[5] = NULL;
	spawn_opts_init(&o);
	o.argv = argv;
	o.envp = envp;
	o.timeout_sec = 60;
	if (spawn_run(&o, &res, &err) == -1)
		fail_msg("%s", err.msg);
	assert_int_equal(res.exited, 1);
	assert_int_not_equal(res.code, 0); /* our "ssh" fails on purpose */

	assert_true((fd = open(out, O_RDONLY | O_CLOEXEC)) != -1);
	data = xmalloc(1 << 16);
	len = 0;
	while ((r = read(fd, data + len, (1 << 16) - len)) > 0)
		len += (size_t)r;
	close(fd);
	/* our words first, then what rsync adds (host, rsync --server ...) */
	off = 0;
	for (i = 0; words[i] != NULL; i++) {
		assert_true(off < len);
		assert_string_equal(data + off, words[i]);
		off += strlen(data + off) + 1;
	}
	assert_true(off < len);
	assert_string_equal(data + off, "tbhost");

	unlink(out);
	unlink(script);
	free(data);
	free(outvar);
	free(quoted);
	strv_free(&rsh);
	free(script);
	free(out);
	free(dst);
}

static int
setup(void **state)
{
	(void)state;
	for (int i = 1; i < 256; i++)
		all_bytes[i - 1] = (char)i;
	return tb_tmpdir_make(tmpdir, sizeof tmpdir, "quote");
}

static int
teardown(void **state)
{
	(void)state;
	return tb_tmpdir_remove(tmpdir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sh_word),
		cmocka_unit_test(test_rsh_word),
		cmocka_unit_test(test_argv),
		cmocka_unit_test(test_limit),
		cmocka_unit_test(test_sh_roundtrip_dash),
		cmocka_unit_test(test_sh_roundtrip_bash),
		cmocka_unit_test(test_reference_splitter),
		cmocka_unit_test(test_rsh_roundtrip),
		cmocka_unit_test(test_rsh_real_rsync),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
