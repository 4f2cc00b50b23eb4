/*
 * The Redis queue backend (placeholder until it lands): opening it fails
 * with a clear message.
 */
#include "guiconf.h"
#include "queue_backend.h"

int
queue_redis_open(const struct guiconf *gc, void **be, struct err *err)
{
	*be = NULL;
	err_set(err, "queue %s: the redis backend is not available in this version yet",
	        gc->redis_url);
	return -1;
}

static void
rd_close(void *be)
{
	(void)be;
}

const struct queue_ops queue_redis_ops = {
	.name = "redis",
	.close = rd_close,
};
