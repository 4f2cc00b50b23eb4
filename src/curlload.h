/*
 * libcurl, loaded on first use. Only the alert senders and the HTTP client
 * (http.c) need it, and they run in the processes that run jobs; `serve`, `worker`, checknagios
 * and every other command never pay for mapping libcurl and its TLS,
 * Kerberos, LDAP and SSH libraries (about 2.5 MiB of resident memory in
 * an idle serve). The API is curl's own, called through this table.
 */
#ifndef TB_CURLLOAD_H
#define TB_CURLLOAD_H

#include <curl/curl.h>

#include "util/err.h"

struct curl_api {
	CURL *(*easy_init)(void);
	CURLcode (*easy_setopt)(CURL *c, CURLoption opt, ...);
	CURLcode (*easy_perform)(CURL *c);
	CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
	const char *(*easy_strerror)(CURLcode code);
	void (*easy_cleanup)(CURL *c);
	struct curl_slist *(*slist_append)(struct curl_slist *l, const char *s);
	void (*slist_free_all)(struct curl_slist *l);
};

/*
 * The loaded API (libcurl's shared library opened once, any flavour:
 * libcurl-gnutls.so.4, libcurl.so.4, ...; curl_global_init() called
 * once). Thread-safe. NULL + err naming the libraries tried when none
 * can be loaded (the package libcurl3-gnutls or libcurl4 is missing).
 */
const struct curl_api *curlload_get(struct err *err);

#endif
