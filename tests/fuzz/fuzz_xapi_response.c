/*
 * Fuzz the XAPI response parser (xapi_response_parse): a pool's answers
 * are untrusted input. Any bytes must be accepted or refused cleanly: a
 * Success gives a value tree, a Failure a message and (when it had one)
 * its ErrorDescription array, a refusal no value; walking any tree
 * (struct members by name, scalars) must stay in bounds.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xapi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Touch every node, checking the invariants of struct xv. */
static size_t
walk(const struct xv *v, int depth)
{
	size_t n = 1;

	if (depth > 40)
		abort();
	switch (v->type) {
	case XV_STR:
	case XV_BOOL:
		if (v->s == NULL || v->n != 0 || xv_str(v) != v->s)
			abort();
		if (v->type == XV_BOOL && strcmp(v->s, "0") != 0 && strcmp(v->s, "1") != 0)
			abort();
		break;
	case XV_STRUCT:
		for (size_t i = 0; i < v->n; i++) {
			if (v->names[i] == NULL || xv_get(v, v->names[i]) == NULL)
				abort();
			n += walk(&v->items[i], depth + 1);
		}
		break;
	case XV_ARRAY:
		if (v->n > 0 && v->names != NULL)
			abort();
		for (size_t i = 0; i < v->n; i++)
			n += walk(&v->items[i], depth + 1);
		break;
	case XV_NIL:
		break;
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xv *v = NULL;
	struct err err;
	int rc;

	err_clear(&err);
	rc = xapi_response_parse((const char *)data, size, &v, &err);
	if (rc == 0) {
		if (v == NULL)
			abort();
	} else {
		if (err.msg[0] == '\0')
			abort();
		if (err.code != XAPI_ERR_FAILURE && v != NULL)
			abort();
		if (v != NULL && v->type != XV_ARRAY)
			abort();
	}
	if (v != NULL)
		walk(v, 0);
	(void)xv_member_str(v, "Status");
	xv_free(v);
	return 0;
}
