/*
 * libmicrohttpd, loaded on first use. Only `serve` (web/server.c) runs an
 * HTTP server; every other process starts without mapping libmicrohttpd
 * and what it pulls in (GnuTLS, p11-kit, libidn2, libunistring, libtasn1,
 * GMP).
 *
 * server.c calls libmicrohttpd by its own names: below the table, each
 * name is a macro for the table's pointer, so the calls read as
 * libmicrohttpd's and are type-checked against <microhttpd.h>. Call
 * mhdload() before the first one.
 */
#ifndef TB_MHDLOAD_H
#define TB_MHDLOAD_H

#include <sys/socket.h> /* microhttpd.h needs struct sockaddr */
#include <microhttpd.h>

#include "util/err.h"

/* The functions of libmicrohttpd server.c calls, with its own types. */
struct mhd_api {
	__typeof__(&MHD_add_response_header) add_response_header;
	__typeof__(&MHD_create_response_from_buffer) create_response_from_buffer;
	__typeof__(&MHD_create_response_from_buffer_with_free_callback_cls)
	    create_response_from_buffer_with_free_callback_cls;
	__typeof__(&MHD_create_response_from_callback) create_response_from_callback;
	__typeof__(&MHD_create_response_from_fd_at_offset64) create_response_from_fd_at_offset64;
	__typeof__(&MHD_destroy_response) destroy_response;
	__typeof__(&MHD_get_connection_info) get_connection_info;
	__typeof__(&MHD_is_feature_supported) is_feature_supported;
	__typeof__(&MHD_lookup_connection_value) lookup_connection_value;
	__typeof__(&MHD_queue_response) queue_response;
	__typeof__(&MHD_start_daemon) start_daemon;
	__typeof__(&MHD_stop_daemon) stop_daemon;
};

/* Filled by mhdload(); read only after it returned 0. */
extern struct mhd_api mhd_api;

/*
 * Open libmicrohttpd (libmicrohttpd.so.12) once per process and resolve
 * mhd_api. Thread-safe. 0, or -1 + err "cannot load libmicrohttpd (tried
 * libmicrohttpd.so.12): install the package libmicrohttpd12" (every later
 * call says the same).
 */
int mhdload(struct err *err);

#define MHD_add_response_header (mhd_api.add_response_header)
#define MHD_create_response_from_buffer (mhd_api.create_response_from_buffer)
#define MHD_create_response_from_buffer_with_free_callback_cls                                     \
	(mhd_api.create_response_from_buffer_with_free_callback_cls)
#define MHD_create_response_from_callback (mhd_api.create_response_from_callback)
#define MHD_create_response_from_fd_at_offset64 (mhd_api.create_response_from_fd_at_offset64)
#define MHD_destroy_response (mhd_api.destroy_response)
#define MHD_get_connection_info (mhd_api.get_connection_info)
#define MHD_is_feature_supported (mhd_api.is_feature_supported)
#define MHD_lookup_connection_value (mhd_api.lookup_connection_value)
#define MHD_queue_response (mhd_api.queue_response)
#define MHD_start_daemon (mhd_api.start_daemon)
#define MHD_stop_daemon (mhd_api.stop_daemon)

#endif
