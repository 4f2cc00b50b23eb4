/*
 * libxml2 loaded on first use (see xml.h): dynlib_open() once per process
 * under pthread_once(), four symbols resolved; the tree is walked through
 * libxml2's public structures.
 */
#include <pthread.h>
#include <string.h>

#include <libxml/parser.h>

#include "xml.h"

#include "util/dynlib.h"
#include "util/markup.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded;
static struct err failure;
static xmlDocPtr (*read_memory)(const char *buf, int size, const char *url, const char *enc,
                                int options);
static void (*free_doc)(xmlDocPtr doc);
static xmlErrorPtr (*last_error)(void);

static void
load(void)
{
	static const char *const names[] = { "libxml2.so.2", NULL };
	void (*init)(void) = NULL;
	const struct dynsym syms[] = {
		{ "xmlInitParser", &init },
		{ "xmlReadMemory", &read_memory },
		{ "xmlFreeDoc", &free_doc },
		{ "xmlGetLastError", &last_error },
		{ NULL, NULL },
	};

	if (dynlib_open("libxml2", "the package libxml2", names, syms, &failure) == -1)
		return;
	init();
	loaded = 1;
}

int
xml_available(struct err *err)
{
	pthread_once(&once, load);
	if (!loaded) {
		err_set(err, "%s", failure.msg);
		return -1;
	}
	return 0;
}

xmlDoc *
xml_parse(const char *data, size_t len, const char *what, struct err *err)
{
	xmlDoc *doc;

	if (xml_available(err) == -1)
		return NULL;
	if (len > (size_t)0x7fffffff) {
		err_set(err, "%s: %zu bytes is too large to parse", what, len);
		return NULL;
	}
	doc = read_memory(data, (int)len, NULL, NULL,
	                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (doc == NULL || xml_root(doc) == NULL) {
		xmlErrorPtr e = last_error();

		if (e != NULL && e->message != NULL) {
			size_t n = strcspn(e->message, "\n");

			err_set(err, "%s is not valid XML: line %d: %.*s", what, e->line, (int)n,
			        e->message);
		} else {
			err_set(err, "%s is not valid XML (empty document)", what);
		}
		if (doc != NULL)
			free_doc(doc);
		return NULL;
	}
	return doc;
}

void
xml_free(xmlDoc *doc)
{
	if (doc != NULL && loaded)
		free_doc(doc);
}

xmlNode *
xml_root(xmlDoc *doc)
{
	if (doc == NULL)
		return NULL;
	for (xmlNode *n = doc->children; n != NULL; n = n->next)
		if (n->type == XML_ELEMENT_NODE)
			return n;
	return NULL;
}

/* Whether n is an element whose local name is name (any when NULL). */
static int
is_elem(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE &&
	       (name == NULL || strcmp((const char *)n->name, name) == 0);
}

xmlNode *
xml_child(const xmlNode *node, const char *name)
{
	if (node == NULL)
		return NULL;
	for (xmlNode *n = node->children; n != NULL; n = n->next)
		if (is_elem(n, name))
			return n;
	return NULL;
}

xmlNode *
xml_next(const xmlNode *node, const char *name)
{
	if (node == NULL)
		return NULL;
	for (xmlNode *n = node->next; n != NULL; n = n->next)
		if (is_elem(n, name))
			return n;
	return NULL;
}

xmlNode *
xml_path(const xmlNode *node, const char *path)
{
	char step[128];
	const char *p = path;
	const xmlNode *cur = node;

	while (cur != NULL && *p != '\0') {
		size_t n = strcspn(p, "/");

		if (n == 0 || n >= sizeof step)
			return NULL;
		memcpy(step, p, n);
		step[n] = '\0';
		cur = xml_child(cur, step);
		p += n;
		if (*p == '/')
			p++;
	}
	return (xmlNode *)cur;
}

int
xml_text(const xmlNode *node, struct buf *out)
{
	if (node == NULL)
		return 0;
	for (const xmlNode *n = node->children; n != NULL; n = n->next)
		if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) &&
		    n->content != NULL && buf_puts(out, (const char *)n->content) == -1)
			return -1;
	return 0;
}

const char *
xml_attr(const xmlNode *node, const char *name)
{
	if (node == NULL || node->type != XML_ELEMENT_NODE)
		return NULL;
	for (const xmlAttr *a = node->properties; a != NULL; a = a->next) {
		if (strcmp((const char *)a->name, name) != 0)
			continue;
		if (a->children == NULL)
			return "";
		if (a->children->type != XML_TEXT_NODE || a->children->next != NULL)
			return NULL;
		return (const char *)a->children->content;
	}
	return NULL;
}

int
xml_escape(struct buf *out, const char *s, struct err *err)
{
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		const char *rep = markup_entity((char)*p);
		int rc;

		if (rep == NULL && *p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r') {
			err_set(err, "byte 0x%02x cannot appear in XML text", *p);
			return -1;
		}
		rc = rep != NULL ? buf_puts(out, rep) : buf_putc(out, (char)*p);
		if (rc == -1) {
			err_set(err, "XML request larger than %zu bytes", out->limit);
			return -1;
		}
	}
	return 0;
}
