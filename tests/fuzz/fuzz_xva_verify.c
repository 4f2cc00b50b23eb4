/*
 * Fuzz the streaming XVA verifier (xva_verify.c): an export is untrusted
 * input that arrives in pieces of any size. The first input byte picks
 * the piece size; the rest is fed, then finished twice (with no disk
 * list and with one of 1 MiB). Any input must end in a clean verdict; the
 * verdict must not depend on how the bytes were split (checked against a
 * second verifier fed in one piece), and a failure must say why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xva_verify.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
run(const uint8_t *data, size_t size, size_t piece, int hash, struct err *err)
{
	struct xva_verify *v = xva_verify_new(hash);
	uint64_t one = XVA_CHUNK;
	int rc = 0;

	for (size_t off = 0; off < size && rc == 0; off += piece)
		rc = xva_verify_feed(v, data + off, size - off < piece ? size - off : piece, err);
	if (rc == 0)
		rc = xva_verify_finish(v, NULL, (size_t)-1, err);
	if (rc == 0 && xva_verify_finish(v, &one, 1, err) == 0)
		rc = 1;
	if (xva_verify_stats(v)->tar_bytes > (uint64_t)size * 1100 + (1u << 20) && size < 4096)
		abort(); /* decompression is bounded by its input for tiny inputs */
	xva_verify_free(v);
	return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e1, e2;
	size_t piece;
	int a, b;

	if (size == 0)
		return 0;
	piece = (size_t)data[0] % 37 + 1;
	err_clear(&e1);
	err_clear(&e2);
	a = run(data + 1, size - 1, piece, data[0] & 0x80 ? 0 : 1, &e1);
	b = run(data + 1, size - 1, size, data[0] & 0x80 ? 0 : 1, &e2);
	if (a != b)
		abort();
	if (a == -1 && (e1.msg[0] == '\0' || strcmp(e1.msg, e2.msg) != 0))
		abort();
	return 0;
}
