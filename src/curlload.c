/*
 * Lazy loading of libcurl (see curlload.h): the handful of functions the
 * alert senders and http.c call, resolved once per process under
 * pthread_once() by dynlib_open().
 */
#include <pthread.h>
#include <stddef.h>

#include "curlload.h"
#include "util/dynlib.h"

/* Sonames of Debian's flavours, then the development symlink. */
static const char *const names[] = {
	"libcurl-gnutls.so.4", "libcurl.so.4", "libcurl-nss.so.4", "libcurl.so", NULL,
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct curl_api api;
static int loaded;
static struct err failure;

static void
load(void)
{
	CURLcode (*global_init)(long flags) = NULL;
	const struct dynsym syms[] = {
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

	if (dynlib_open("libcurl", "libcurl3-gnutls or libcurl4", names, syms, &failure) == -1)
		return;
	if (global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		err_set(&failure, "curl_global_init failed");
		return;
	}
	loaded = 1;
}

const struct curl_api *
curlload_get(struct err *err)
{
	pthread_once(&once, load);
	if (!loaded) {
		err_set(err, "%s", failure.msg);
		return NULL;
	}
	return &api;
}
