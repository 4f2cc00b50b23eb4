/*
 * Lazy loading of libmicrohttpd (see mhdload.h): dynlib_lazy_load() once per
 * process.
 */
#include <stddef.h>

#include "mhdload.h"
#include "util/dynlib.h"

struct mhd_api mhd_api;

static const char *const names[] = { "libmicrohttpd.so.12", NULL };
static const struct dynsym syms[] = {
	{ "MHD_add_response_header", &mhd_api.add_response_header },
	{ "MHD_create_response_from_buffer", &mhd_api.create_response_from_buffer },
	{ "MHD_create_response_from_buffer_with_free_callback_cls",
	  &mhd_api.create_response_from_buffer_with_free_callback_cls },
	{ "MHD_create_response_from_callback", &mhd_api.create_response_from_callback },
	{ "MHD_create_response_from_fd_at_offset64", &mhd_api.create_response_from_fd_at_offset64 },
	{ "MHD_destroy_response", &mhd_api.destroy_response },
	{ "MHD_get_connection_info", &mhd_api.get_connection_info },
	{ "MHD_is_feature_supported", &mhd_api.is_feature_supported },
	{ "MHD_lookup_connection_value", &mhd_api.lookup_connection_value },
	{ "MHD_queue_response", &mhd_api.queue_response },
	{ "MHD_start_daemon", &mhd_api.start_daemon },
	{ "MHD_stop_daemon", &mhd_api.stop_daemon },
	{ NULL, NULL },
};

static struct dynlib_lazy lib =
    DYNLIB_LAZY_INIT("libmicrohttpd", "the package libmicrohttpd12", names, syms, NULL);

int
mhdload(struct err *err)
{
	return dynlib_lazy_load(&lib, err);
}
