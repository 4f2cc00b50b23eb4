/*
 * tisbackup --version (see version.h). Nothing here is hard-coded but the
 * labels: adding a driver or a backend to its table shows it here.
 */
#include "version.h"

#include "archiveload.h"
#include "argon2load.h"
#include "btrfsload.h"
#include "blkidload.h"
#include "catalog.h"
#include "curlload.h"
#include "hiredisload.h"
#include "drivers/driver.h"
#include "drivers/switch.h"
#include "mhdload.h"
#include "nettleload.h"
#include "pqload.h"
#include "queue.h"
#include "util/buf.h"
#include "xml.h"
#include "zload.h"
#include "zstdload.h"

void
version_print(FILE *f)
{
	struct buf b;
	struct err err;

	buf_init(&b, (size_t)-1);
	for (size_t i = 0; driver_table[i] != NULL; i++)
		buf_printf(&b, "%s%s", i > 0 ? " " : "", driver_table[i]->name);
	fprintf(f, "tisbackup %s (tisbackup-c)\n", TB_VERSION);
	fprintf(f, "drivers: %s\n", buf_str(&b));
	buf_reset(&b);
	queue_backend_names(&b, " ");
	fprintf(f, "queue backends: %s\n", buf_str(&b));
	buf_reset(&b);
	catalog_backend_names(&b, " ");
	fprintf(f, "catalog backends: %s\n", buf_str(&b));
	buf_free(&b);
	err_clear(&err);
	if (curlload_get(&err) != NULL)
		fprintf(f, "libcurl: yes\n");
	else
		fprintf(f, "libcurl: no (%s)\n", err.msg);
	err_clear(&err);
	if (switch_ssh_available(&err) == 0)
		fprintf(f, "libssh: yes\n");
	else
		fprintf(f, "libssh: no (%s)\n", err.msg);
	err_clear(&err);
	if (xml_available(&err) == 0)
		fprintf(f, "libxml2: yes\n");
	else
		fprintf(f, "libxml2: no (%s)\n", err.msg);
	/* Opened on first use too: the PostgreSQL catalog, serve, tar downloads. */
	err_clear(&err);
	if (pqload(&err) == 0)
		fprintf(f, "libpq: yes\n");
	else
		fprintf(f, "libpq: no (%s)\n", err.msg);
	err_clear(&err);
	if (mhdload(&err) == 0)
		fprintf(f, "libmicrohttpd: yes\n");
	else
		fprintf(f, "libmicrohttpd: no (%s)\n", err.msg);
	err_clear(&err);
	if (archiveload(&err) == 0)
		fprintf(f, "libarchive: yes\n");
	else
		fprintf(f, "libarchive: no (%s)\n", err.msg);
	/* And: USB export, verify's hashes, zstd XVA exports, web passwords, the Redis queue, btrfs, gzip. */
	static const struct {
		const char *label;
		int (*load)(struct err *);
	} more[] = { { "libblkid", blkidload },
		     { "libnettle", nettleload },
		     { "libzstd", zstdload },
		     { "libargon2", argon2load },
		     { "libhiredis", hiredisload },
		     { "libbtrfsutil", btrfsload },
		     { "libz", zload } };
	for (size_t i = 0; i < sizeof more / sizeof more[0]; i++) {
		err_clear(&err);
		if (more[i].load(&err) == 0)
			fprintf(f, "%s: yes\n", more[i].label);
		else
			fprintf(f, "%s: no (%s)\n", more[i].label, err.msg);
	}
}
