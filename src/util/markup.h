/*
 * The characters HTML and XML text and attribute values must escape, and
 * their entities (one table for the web pages and the XML requests).
 */
#ifndef TB_MARKUP_H
#define TB_MARKUP_H

/*
 * The entity for c when it must be escaped in markup (&, <, >, " and ':
 * "&amp;", "&lt;", "&gt;", "&quot;", "&#39;"), else NULL. "&#39;" is
 * read the same by HTML 4, HTML5 and XML.
 */
const char *markup_entity(char c);

#endif
