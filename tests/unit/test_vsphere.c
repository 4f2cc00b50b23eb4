/*
 * The vSphere client's pure parts (vsphere.c) and the OVA writer (ova.c):
 * the strict password file (two lines, optional final newline, CR
 * stripped, mode 0600), SOAP faults with vcsim's "XMLSchema-instance:"
 * prefix for xsi (read by namespace), a moref's plain "type" attribute
 * beside xsi:type, lease info ("*" host replaced, unsafe target ids
 * renamed), SHA-1/SHA-256 of known strings (libnettle on first use), and
 * an OVA whose members tar-style readers see in order with their sizes,
 * including the base-256 size field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "fixture.h"
#include "ova.h"
#include "vsphere.h"
#include "xml.h"

static int
write_file(const char *path, const char *data, mode_t mode)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(data, f);
	fclose(f);
	return chmod(path, mode);
}

static void
test_password_file(void **state)
{
	const char *dir = ((const struct tb_tmpdir *)*state)->path;
	char path[512], *user, *pw;
	struct err err = { 0 };
	static const struct {
		const char *text;
		mode_t mode;
		const char *user, *pw, *msg;
	} cases[] = {
		{ "backup\nS3cret\n", 0600, "backup", "S3cret", NULL },
		{ "backup\nS3cret", 0600, "backup", "S3cret", NULL },
		{ "backup\r\nS3 cret\r\n", 0600, "backup", "S3 cret", NULL },
		{ "backup\nS3cret\n\n", 0600, NULL, NULL, "expected 2 lines (user, password)" },
		{ "backup\nS3cret\nx\n", 0600, NULL, NULL, "expected 2 lines (user, password)" },
		{ "backup\n", 0600, NULL, NULL, "expected 2 lines (user, password)" },
		{ "backup\n\n", 0600, NULL, NULL, "the password is empty" },
		{ "\nS3cret\n", 0600, NULL, NULL, "the user is empty" },
		{ "backup\nS3cret\n", 0640, NULL, NULL, "chmod 600" },
	};

	snprintf(path, sizeof path, "%s/pw", dir);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		unlink(path);
		assert_int_equal(write_file(path, cases[i].text, cases[i].mode), 0);
		err_clear(&err);
		if (cases[i].msg == NULL) {
			assert_int_equal(vs_read_password_file(path, &user, &pw, &err), 0);
			assert_string_equal(user, cases[i].user);
			assert_string_equal(pw, cases[i].pw);
			free(user);
			vs_secret_free(pw);
		} else {
			assert_int_equal(vs_read_password_file(path, &user, &pw, &err), -1);
			assert_non_null(strstr(err.msg, cases[i].msg));
			assert_null(strstr(err.msg, "S3cret"));
			assert_null(user);
		}
	}
}

#define ENV_HEAD                                                                                   \
	"<?xml version=\"1.0\"?><soapenv:Envelope "                                                \
	"xmlns:soapenv=\"http://schemas.xmlsoap.org/soap/envelope/\" "                             \
	"xmlns:XMLSchema-instance=\"http://www.w3.org/2001/XMLSchema-instance\"><soapenv:Body>"
#define ENV_TAIL "</soapenv:Body></soapenv:Envelope>"

static void
test_fault(void **state)
{
	static const char body[] = ENV_HEAD
	    "<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>Powered "
	    "on</faultstring><detail><InvalidPowerStateFault xmlns=\"urn:vim25\" "
	    "XMLSchema-instance:type=\"InvalidPowerState\"/></detail></soapenv:Fault>" ENV_TAIL;
	struct err err = { 0 };
	char fault[64];
	xmlDoc *doc;
	xmlNode *ret;

	(void)state;
	assert_int_equal(vs_parse_response(body, sizeof body - 1, "ExportVm", &doc, &ret, fault,
	                                   sizeof fault, &err),
	                 -1);
	assert_int_equal(err.code, VS_ERR_FAULT);
	assert_string_equal(fault, "InvalidPowerState");
	assert_string_equal(err.msg, "ExportVm: Powered on (InvalidPowerState)");
	assert_null(doc);
}

static void
test_task_result(void **state)
{
	static const char body[] =
	    ENV_HEAD "<RetrievePropertiesExResponse xmlns=\"urn:vim25\"><returnval><objects>"
	             "<obj type=\"Task\">task-14</obj><propSet><name>info</name>"
	             "<val XMLSchema-instance:type=\"TaskInfo\"><state>success</state>"
	             "<result XMLSchema-instance:type=\"ManagedObjectReference\" "
	             "type=\"VirtualMachineSnapshot\">snapshot-15</result></val></propSet>"
	             "</objects></returnval></RetrievePropertiesExResponse>" ENV_TAIL;
	struct err err = { 0 };
	xmlDoc *doc;
	xmlNode *ret, *val, *res;
	char *t;

	(void)state;
	assert_int_equal(vs_parse_response(body, sizeof body - 1, "RetrievePropertiesEx", &doc,
	                                   &ret, NULL, 0, &err),
	                 0);
	val = vs_prop(xml_path(ret, "returnval/objects"), "info");
	assert_non_null(val);
	assert_string_equal(vs_xsi_type(val), "TaskInfo");
	res = xml_child(val, "result");
	assert_string_equal(vs_attr_plain(res, "type"), "VirtualMachineSnapshot");
	assert_string_equal(vs_xsi_type(res), "ManagedObjectReference");
	t = vs_text(res);
	assert_string_equal(t, "snapshot-15");
	free(t);
	xml_free(doc);
}

static void
test_lease_info(void **state)
{
	static const char body[] =
	    ENV_HEAD "<RetrievePropertiesExResponse xmlns=\"urn:vim25\"><returnval><objects>"
	             "<propSet><name>info</name><val>"
	             "<deviceUrl><key>/vm-9/0</key><url>https://*/nfc/l/disk-0.vmdk</url>"
	             "<disk>true</disk><targetId>disk-0.vmdk</targetId><fileSize>42</fileSize>"
	             "</deviceUrl>"
	             "<deviceUrl><key>/vm-9/1</key><url>https://*:443/nfc/l/x</url>"
	             "<disk>true</disk><targetId>../../etc/passwd</targetId></deviceUrl>"
	             "<deviceUrl><key>/vm-9/2</key><url>https://10.0.0.5/nfc/l/nvram</url>"
	             "<disk>false</disk><targetId>nvram</targetId></deviceUrl>"
	             "<leaseTimeout>120</leaseTimeout></val></propSet>"
	             "</objects></returnval></RetrievePropertiesExResponse>" ENV_TAIL;
	struct vs_lease l = { 0 };
	struct err err = { 0 };
	xmlDoc *doc;
	xmlNode *ret;

	(void)state;
	assert_int_equal(vs_parse_response(body, sizeof body - 1, "RetrievePropertiesEx", &doc,
	                                   &ret, NULL, 0, &err),
	                 0);
	assert_int_equal(vs_parse_lease_info(vs_prop(xml_path(ret, "returnval/objects"), "info"),
	                                     "esx1:8443", &l, &err),
	                 0);
	assert_int_equal(l.timeout_sec, 120);
	assert_int_equal(l.ndev, 3);
	assert_string_equal(l.dev[0].url, "https://esx1:8443/nfc/l/disk-0.vmdk");
	assert_int_equal(l.dev[0].size, 42);
	assert_true(l.dev[0].disk);
	assert_string_equal(l.dev[1].url, "https://esx1:8443/nfc/l/x");
	assert_string_equal(l.dev[1].target_id, "device-1");
	assert_int_equal(l.dev[1].size, -1);
	assert_string_equal(l.dev[2].url, "https://10.0.0.5/nfc/l/nvram");
	assert_false(l.dev[2].disk);
	vs_lease_free(&l);
	xml_free(doc);
}

static void
test_hash(void **state)
{
	struct err err = { 0 };
	struct vs_hash *h = vs_hash_new(&err);
	char s1[41], s256[65];

	(void)state;
	assert_non_null(h);
	vs_hash_update(h, "a", 1);
	vs_hash_update(h, "bc", 2);
	vs_hash_final(h, s1, s256);
	assert_string_equal(s1, "a9993e364706816aba3e25717850c26c9cd0d89d");
	assert_string_equal(s256,
	                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	vs_hash_free(h);
}

/* The octal or base-256 size field of the ustar header at off. */
static int64_t
member_size(const unsigned char *h)
{
	int64_t v = 0;

	if (h[124] & 0x80) {
		for (int i = 4; i < 12; i++)
			v = v * 256 + h[124 + i];
		return v;
	}
	return strtoll((const char *)h + 124, NULL, 8);
}

static void
test_ova(void **state)
{
	const char *dir = ((const struct tb_tmpdir *)*state)->path;
	char path[512], *ovf;
	struct ova *o;
	struct err err = { 0 };
	const char *mf = "SHA256(vm.ovf)= x\n";
	int64_t n = ova_ovf_size(10, strlen(mf)), off = 0;
	unsigned char h[512];
	const char *want[] = { "vm.ovf", "vm.mf", "vm-disk-0.vmdk" };
	FILE *f;

	snprintf(path, sizeof path, "%s/vm.ova", dir);
	assert_true(n > 10);
	assert_int_equal(ova_open(path, &o, &err), 0);
	assert_int_equal(ova_member_begin(o, "vm-disk-0.vmdk", &err), 0);
	assert_int_equal(ova_write(o, "KDMV", 4, &err), 0);
	assert_int_equal(ova_write(o, "data", 4, &err), 0);
	assert_int_equal(ova_member_end(o, &err), 0);
	ovf = malloc((size_t)n);
	memset(ovf, ' ', (size_t)n);
	memcpy(ovf, "<Envelope/>", 11);
	assert_int_equal(ova_finish(o, "vm.ovf", ovf, (size_t)n - 1, "vm.mf", mf, strlen(mf), &err),
	                 -1); /* not the size that fills the region */
	assert_int_equal(ova_finish(o, "vm.ovf", ovf, (size_t)n, "vm.mf", mf, strlen(mf), &err), 0);
	ova_close(o);
	free(ovf);
	f = fopen(path, "rb");
	assert_non_null(f);
	for (int i = 0; i < 3; i++) {
		int64_t sz;

		assert_int_equal(fseeko(f, off, SEEK_SET), 0);
		assert_int_equal(fread(h, 1, 512, f), 512);
		assert_string_equal((const char *)h, want[i]);
		assert_memory_equal(h + 257, "ustar", 6);
		sz = member_size(h);
		assert_int_equal(sz, i == 0 ? n : i == 1 ? (int64_t)strlen(mf) : 8);
		off += 512 + (sz + 511) / 512 * 512;
	}
	assert_int_equal(fseeko(f, off, SEEK_SET), 0);
	assert_int_equal(fread(h, 1, 512, f), 512);
	assert_int_equal(h[0], 0); /* end of archive */
	fclose(f);
	unlink(path);
	/* A name longer than ustar's 99 bytes is refused. */
	assert_int_equal(ova_open(path, &o, &err), 0);
	assert_int_equal(
	    ova_member_begin(o,
	                     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	                     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	                     &err),
	    -1);
	ova_close(o);
	assert_int_equal(access(path, F_OK), -1); /* unfinished: removed */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_password_file, tb_tmpdir_setup,
		                                tb_tmpdir_teardown),
		cmocka_unit_test(test_fault),
		cmocka_unit_test(test_task_result),
		cmocka_unit_test(test_lease_info),
		cmocka_unit_test(test_hash),
		cmocka_unit_test_setup_teardown(test_ova, tb_tmpdir_setup, tb_tmpdir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
