/*
 * XML documents for the hypervisor clients (XAPI's XML-RPC, vSphere's
 * SOAP), parsed by libxml2 loaded on first use: only the processes that
 * talk to a hypervisor map libxml2 and the ICU and lzma libraries it
 * pulls in; every other command starts without them (see curlload.h for
 * the same reasoning about libcurl).
 *
 * Parsing goes through libxml2; walking the tree reads libxml2's public
 * node structures directly, so the helpers below need no further symbol.
 * Names are compared by local name: namespace prefixes are ignored, which
 * is what both protocols need (SOAP bodies use varying prefixes).
 */
#ifndef TB_XML_H
#define TB_XML_H

#include <stddef.h>

#include <libxml/tree.h>

#include "util/buf.h"
#include "util/err.h"

/* Whether libxml2 can be loaded (the first call loads it). 0, or -1 + err. */
int xml_available(struct err *err);

/*
 * Parse len bytes of an XML document (no network access, no entity
 * expansion, no DTD loading). The document, or NULL with err saying why
 * ("cannot load libxml2: install libxml2", or the parser's message with
 * its line). what names the document in the message ("XAPI response").
 * Free with xml_free().
 */
xmlDoc *xml_parse(const char *data, size_t len, const char *what, struct err *err);

/* Free a document from xml_parse(); NULL is a no-op. */
void xml_free(xmlDoc *doc);

/* The root element, or NULL. */
xmlNode *xml_root(xmlDoc *doc);

/*
 * The first element child of node whose local name is name (any name when
 * name is NULL), or NULL.
 */
xmlNode *xml_child(const xmlNode *node, const char *name);

/* The next element sibling after node with local name name (any when NULL), or NULL. */
xmlNode *xml_next(const xmlNode *node, const char *name);

/*
 * Follow a path of local names from node ("Body/RetrieveResponse/returnval"),
 * taking the first match at each step. The element, or NULL.
 */
xmlNode *xml_path(const xmlNode *node, const char *path);

/*
 * The text of node (its text and CDATA children, not its descendants'
 * elements' text), appended to out. 0, or -1 when out's limit is reached.
 */
int xml_text(const xmlNode *node, struct buf *out);

/*
 * The value of attribute name (local name) of node, as a pointer into the
 * document (valid until xml_free), or NULL when absent or not plain text.
 */
const char *xml_attr(const xmlNode *node, const char *name);

/*
 * Append s to out with &, <, >, " and ' escaped, for element text and
 * attribute values of requests. Bytes below 0x20 other than tab, newline
 * and carriage return cannot appear in XML 1.0: -1 with err naming them
 * (callers put such data in base64 instead). 0 on success; -1 with err
 * also when out's limit is reached.
 */
int xml_escape(struct buf *out, const char *s, struct err *err);

#endif
