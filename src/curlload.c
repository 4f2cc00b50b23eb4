/*
 * Lazy loading of libcurl (see curlload.h): the handful of functions the
 * alert senders and http.c call, resolved once per process by
 * dynlib_lazy_load().
 */
#include <stddef.h>

#include "curlload.h"
#include "util/dynlib.h"

/* Sonames of Debian's flavours, then the development symlink. */
static const char *const names[] = {
	"libcurl-gnutls.so.4", "libcurl.so.4", "libcurl-nss.so.4", "libcurl.so", NULL,
};

static struct curl_api api;
static CURLcode (*global_init)(long flags);

static const struct dynsym syms[] = {
	{ "curl_global_init", &global_init },
	{ "curl_easy_init", &api.easy_init },
	{ "curl_easy_setopt", &api.easy_setopt },
	{ "curl_easy_perform", &api.easy_perform },
	{ "curl_easy_getinfo", &api.easy_getinfo },
	{ "curl_easy_strerror", &api.easy_strerror },
	{ "curl_easy_cleanup", &api.easy_cleanup },
	{ "curl_slist_append", &api.slist_append },
	{ "curl_slist_free_all", &api.slist_free_all },
	{ NULL, NULL },
};

/* Once, after the library loaded (dynlib_lazy's after step). */
static int
curl_init(struct err *err)
{
	if (global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		err_set(err, "curl_global_init failed");
		return -1;
	}
	return 0;
}

static struct dynlib_lazy lib =
    DYNLIB_LAZY_INIT("libcurl", "libcurl3-gnutls or libcurl4", names, syms, curl_init);

const struct curl_api *
curlload_get(struct err *err)
{
	return dynlib_lazy_load(&lib, err) == 0 ? &api : NULL;
}
