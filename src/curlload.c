/*
 * Lazy loading of libcurl (see curlload.h): dlopen() of the first
 * library name that exists, dlsym() of the handful of functions the
 * alert senders and http.c call, once per process under pthread_once().
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>

#include "curlload.h"

/* Sonames of Debian's flavours, then the development symlink. */
static const char *const names[] = {
	"libcurl-gnutls.so.4", "libcurl.so.4", "libcurl-nss.so.4", "libcurl.so", NULL,
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct curl_api api;
static int loaded;
static char failure[256];

/* dlsym() into *slot; 0, or -1 naming the missing symbol in failure. */
static int
sym(void *lib, const char *name, void *slot)
{
	void *p = dlsym(lib, name);

	if (p == NULL) {
		snprintf(failure, sizeof failure, "libcurl lacks %s", name);
		return -1;
	}
	/* POSIX guarantees object and function pointers convert both ways. */
	*(void **)slot = p;
	return 0;
}

static void
load(void)
{
	CURLcode (*global_init)(long flags) = NULL;
	void *lib = NULL;

	for (const char *const *n = names; *n != NULL && lib == NULL; n++)
		lib = dlopen(*n, RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		snprintf(failure, sizeof failure,
		         "cannot load libcurl (tried libcurl-gnutls.so.4, libcurl.so.4, "
		         "libcurl-nss.so.4): install libcurl3-gnutls or libcurl4");
		return;
	}
	if (sym(lib, "curl_global_init", &global_init) == -1 ||
	    sym(lib, "curl_easy_init", &api.easy_init) == -1 ||
	    sym(lib, "curl_easy_setopt", &api.easy_setopt) == -1 ||
	    sym(lib, "curl_easy_perform", &api.easy_perform) == -1 ||
	    sym(lib, "curl_easy_getinfo", &api.easy_getinfo) == -1 ||
	    sym(lib, "curl_easy_strerror", &api.easy_strerror) == -1 ||
	    sym(lib, "curl_easy_cleanup", &api.easy_cleanup) == -1 ||
	    sym(lib, "curl_slist_append", &api.slist_append) == -1 ||
	    sym(lib, "curl_slist_free_all", &api.slist_free_all) == -1)
		return; /* the library stays mapped: harmless, and rare */
	if (global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(failure, sizeof failure, "curl_global_init failed");
		return;
	}
	loaded = 1;
}

const struct curl_api *
curlload_get(struct err *err)
{
	pthread_once(&once, load);
	if (!loaded) {
		err_set(err, "%s", failure);
		return NULL;
	}
	return &api;
}
