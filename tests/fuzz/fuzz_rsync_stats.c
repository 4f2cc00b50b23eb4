/*
 * Fuzz the rsync --stats line parser: any line must be either ignored or
 * add a non-negative number, never crash or overflow.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "drivers/rsync.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rsync_stats st = { 0 };
	char *line = malloc(size + 1);

	if (line == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	/* Feed every '\n'-separated piece, as the spawn module would. */
	for (char *p = line, *nl; p != NULL; p = nl) {
		nl = strchr(p, '\n');
		if (nl != NULL)
			*nl++ = '\0';
		rsync_stats_feed(&st, p);
	}
	if (st.total_files < 0 || st.written_files < 0 || st.total_bytes < 0 ||
	    st.written_bytes < 0)
		abort();
	free(line);
	return 0;
}
