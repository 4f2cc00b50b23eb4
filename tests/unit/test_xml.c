/*
 * XML for the hypervisor clients (xml.c): libxml2 loaded on demand, tree
 * walking by local name across namespace prefixes, attribute and text
 * access, request escaping, and clear errors for malformed input.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "util/buf.h"
#include "util/err.h"
#include "xml.h"

static const char soap[] =
    "<?xml version=\"1.0\"?>\n"
    "<soapenv:Envelope xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\">"
    "<soapenv:Body><RetrieveResponse xmlns=\"urn:vim25\">"
    "<returnval type=\"VirtualMachine\">vm-42</returnval>"
    "<returnval type=\"Datastore\">ds-1</returnval>"
    "<note><![CDATA[a<b]]> &amp; c</note>"
    "</RetrieveResponse></soapenv:Body></soapenv:Envelope>";

static void
test_walk(void **state)
{
	struct err err = { 0 };
	struct buf b;
	xmlDoc *doc;
	xmlNode *r, *v;

	(void)state;
	doc = xml_parse(soap, strlen(soap), "SOAP response", &err);
	assert_non_null(doc);
	r = xml_path(xml_root(doc), "Body/RetrieveResponse");
	assert_non_null(r);
	v = xml_child(r, "returnval");
	assert_non_null(v);
	assert_string_equal(xml_attr(v, "type"), "VirtualMachine");
	assert_null(xml_attr(v, "missing"));
	buf_init(&b, 64);
	assert_int_equal(xml_text(v, &b), 0);
	assert_string_equal(buf_str(&b), "vm-42");
	v = xml_next(v, "returnval");
	assert_non_null(v);
	assert_string_equal(xml_attr(v, "type"), "Datastore");
	assert_null(xml_next(v, "returnval"));
	buf_reset(&b);
	assert_int_equal(xml_text(xml_child(r, "note"), &b), 0);
	assert_string_equal(buf_str(&b), "a<b & c");
	assert_null(xml_path(xml_root(doc), "Body/Nope"));
	buf_free(&b);
	xml_free(doc);
}

static void
test_malformed(void **state)
{
	static const char bad[] = "<methodResponse><params></methodResponse>";
	struct err err = { 0 };

	(void)state;
	assert_null(xml_parse(bad, strlen(bad), "XAPI response", &err));
	assert_non_null(strstr(err.msg, "XAPI response is not valid XML: line 1"));
	err_clear(&err);
	assert_null(xml_parse("", 0, "XAPI response", &err));
	assert_non_null(strstr(err.msg, "XAPI response is not valid XML"));
	err_clear(&err);
}

static void
test_no_external_entities(void **state)
{
	static const char xxe[] = "<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY x SYSTEM "
	                          "\"file:///etc/passwd\">]><r>&x;</r>";
	struct err err = { 0 };
	struct buf b;
	xmlDoc *doc;

	(void)state;
	doc = xml_parse(xxe, strlen(xxe), "doc", &err);
	if (doc == NULL) { /* refusing is fine too */
		err_clear(&err);
		return;
	}
	buf_init(&b, 4096);
	assert_int_equal(xml_text(xml_root(doc), &b), 0);
	assert_null(strstr(buf_str(&b), "root:"));
	buf_free(&b);
	xml_free(doc);
}

static void
test_escape(void **state)
{
	struct err err = { 0 };
	struct buf b;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(xml_escape(&b, "a&b<c>\"d'\te", &err), 0);
	assert_string_equal(buf_str(&b), "a&amp;b&lt;c&gt;&quot;d&#39;\te");
	buf_reset(&b);
	assert_int_equal(xml_escape(&b, "x\001y", &err), -1);
	assert_non_null(strstr(err.msg, "0x01"));
	err_clear(&err);
	buf_free(&b);
	buf_init(&b, 4);
	assert_int_equal(xml_escape(&b, "<<<<", &err), -1);
	err_clear(&err);
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_no_external_entities),
		cmocka_unit_test(test_escape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
