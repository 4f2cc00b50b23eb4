/*
 * Fuzz the rsync --info=progress2 line parser and what follows it: any
 * line is refused or gives a sample whose estimate and words stay in
 * bounds (percent 0..100, no crash, no overflow, the words terminated).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "progress_xfer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *line = malloc(size + 1);

	if (line == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	/* Each '\r' or '\n'-separated piece, as the spawn module cuts them. */
	for (char *p = line, *e; p != NULL; p = e) {
		struct xfer_sample s;
		struct xfer_view v;
		char words[192];

		e = strpbrk(p, "\r\n");
		if (e != NULL)
			*e++ = '\0';
		if (!xfer_parse_rsync(p, &s))
			continue;
		if (s.percent < 0 || s.percent > 100)
			abort();
		xfer_estimate(&s, s.bytes / 2 + 1, 1234.5, &v);
		if (v.percent < -1 || v.percent > 100)
			abort();
		xfer_estimate(&s, 0, 0, &v);
		xfer_format(&v, words, sizeof words);
		if (strlen(words) >= sizeof words)
			abort();
	}
	free(line);
	return 0;
}
