/*
 * filediff(): diff -u through spawn.c (see filediff.h).
 */
#include "filediff.h"

#include "spawn.h"

struct diff_out {
	struct buf *b;
	int over;
};

static void
diff_line(void *ctx, enum spawn_stream stream, const char *line, size_t len)
{
	struct diff_out *d = ctx;
	size_t mark = d->b->len;

	if (stream != SPAWN_STDOUT || d->over)
		return;
	if (buf_append(d->b, line, len) == -1 || buf_putc(d->b, '\n') == -1) {
		d->b->len = mark; /* whole lines only */
		if (d->b->data != NULL)
			d->b->data[mark] = '\0';
		d->over = 1;
	}
}

int
filediff(const char *a, const char *b, const char *la, const char *lb, struct buf *out, int *over,
         struct err *err)
{
	const char *argv[] = { "diff", "-u", "--label", la, "--label", lb, "--", a, b, NULL };
	struct diff_out d = { .b = out, .over = 0 };
	struct spawn_opts so;
	struct spawn_result res;

	spawn_opts_init(&so);
	so.argv = argv;
	so.timeout_sec = FILEDIFF_TIMEOUT_SEC;
	so.max_line = (size_t)1 << 20;
	so.on_line = diff_line;
	so.ctx = &d;
	*over = 0;
	if (spawn_run(&so, &res, err) == -1) {
		err_wrap(err, "diff of %s and %s", a, b);
		return -1;
	}
	if (!res.exited || res.code > 1) {
		err_set(err, "diff of %s and %s failed (%s %d)", a, b,
		        res.exited ? "exit status" : "signal", res.exited ? res.code : res.signal);
		return -1;
	}
	*over = d.over;
	return 0;
}
