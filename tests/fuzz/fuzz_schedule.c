/*
 * Fuzz the schedule parser and the next-run search: schedules come from
 * configuration files anyone may edit, so any text must be accepted or
 * refused with a message, and an accepted schedule must give a next run
 * strictly later than the starting time (or none), never loop.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "schedule.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const time_t starts[] = { 1767225600, 1774746000, 1792879200, 4102444800 };
	char *s = malloc(size + 1);
	struct schedule sch;
	struct err e;

	if (s == NULL)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	err_clear(&e);
	if (schedule_parse(s, &sch, &e) == -1) {
		if (!err_isset(&e))
			abort(); /* a refusal always says why */
	} else {
		for (size_t i = 0; i < sizeof starts / sizeof starts[0]; i++) {
			time_t next;

			if (schedule_next(&sch, starts[i], &next) == 0 && next <= starts[i])
				abort();
		}
	}
	free(s);
	return 0;
}
