/*
 * Safe file names for database dumps and the snapshot's manifest that
 * maps them back (see dumpname.h).
 */
#include "drivers/dumpname.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "drivers/mysql_unescape.h"
#include "drivers/restore.h"
#include "util/buf.h"
#include "util/err.h"
#include "util/xmalloc.h"
#include "util/fsutil.h"

char *
dumpname_file(const char *db)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf b;

	buf_init(&b, 1 << 16);
	for (const unsigned char *p = (const unsigned char *)db; *p != '\0'; p++) {
		if (*p == '%' || *p == '/' || *p < 0x20 || *p == 0x7f ||
		    (*p == '.' && p == (const unsigned char *)db)) {
			buf_putc(&b, '%');
			buf_putc(&b, hex[*p >> 4]);
			buf_putc(&b, hex[*p & 0xf]);
		} else
			buf_putc(&b, (char)*p);
	}
	return buf_steal(&b);
}

void
dumpname_manifest_init(struct buf *man)
{
	buf_init(man, RESTORE_DUMP_MANIFEST_MAX);
	buf_puts(man, "# file\tdatabase (escaped as mysql --batch prints it)\n");
}

int
dumpname_manifest_add(struct buf *man, const char *file, const char *db, struct err *err)
{
	size_t len = man->len;

	if (buf_printf(man, "%s\t", file) == -1 || mysql_escape(man, db) == -1 ||
	    buf_putc(man, '\n') == -1) {
		man->len = len; /* no half line */
		err_set(err, "the manifest is over %d bytes", RESTORE_DUMP_MANIFEST_MAX);
		return -1;
	}
	return 0;
}

int
dumpname_manifest_write(const char *dir, const struct buf *man, struct err *err)
{
	char *path = xasprintf("%s/" RESTORE_DUMP_MANIFEST, dir);
	int fd, rc = -1;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (fd == -1) {
		err_sys(err, errno, "%s", path);
		goto out;
	}
	if (fs_write_all(fd, man->data, man->len) == -1) {
		err_sys(err, errno, "writing %s", path);
		goto out;
	}
	if (fsync(fd) == -1) {
		err_sys(err, errno, "syncing %s", path);
		goto out;
	}
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	free(path);
	return rc;
}
