/*
 * Fuzz harness for the vSphere SOAP client's response parsing
 * (vsphere.c): the bytes go through vs_parse_response() for the methods
 * whose answers the esx-vmdk driver reads, and on success every element
 * below the answer through the readers the client uses on it (lease
 * info, xsi:type by namespace, plain attributes, text). Checked: a
 * failure always sets a message and leaves no document; lease devices
 * always have a key, an http(s) URL and a target id without '/'.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vsphere.h"
#include "xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);   \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

static void
walk(const xmlNode *n, int depth)
{
	for (const xmlNode *c = xml_child(n, NULL); c != NULL && depth < 64;
	     c = xml_next(c, NULL)) {
		struct vs_lease l = { 0 };
		struct err err = { 0 };
		char *t = vs_text(c);

		CHECK(t != NULL);
		free(t);
		(void)vs_xsi_type(c);
		(void)vs_attr_plain(c, "type");
		if (vs_parse_lease_info(c, "127.0.0.1:443", &l, &err) == 0) {
			for (size_t i = 0; i < l.ndev; i++) {
				CHECK(l.dev[i].key != NULL);
				CHECK(strncmp(l.dev[i].url, "http://", 7) == 0 ||
				      strncmp(l.dev[i].url, "https://", 8) == 0);
				CHECK(strchr(l.dev[i].target_id, '/') == NULL);
			}
			CHECK(l.timeout_sec > 0);
		} else {
			CHECK(err.msg[0] != '\0');
		}
		vs_lease_free(&l);
		walk(c, depth + 1);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = { "RetrievePropertiesEx", "RetrieveServiceContent",
		                               "HttpNfcLeaseGetManifest", "CreateDescriptor" };

	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		struct err err = { 0 };
		char fault[128];
		xmlDoc *doc;
		xmlNode *ret;

		if (vs_parse_response((const char *)data, size, methods[i], &doc, &ret, fault,
		                      sizeof fault, &err) == -1) {
			CHECK(doc == NULL && ret == NULL);
			CHECK(err.msg[0] != '\0');
			CHECK(strlen(fault) < sizeof fault);
			continue;
		}
		CHECK(doc != NULL && ret != NULL);
		walk(ret, 0);
		xml_free(doc);
	}
	return 0;
}
