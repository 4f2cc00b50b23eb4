/*
 * markup_entity() (see markup.h).
 */
#include "util/markup.h"

#include <stddef.h>

const char *
markup_entity(char c)
{
	switch (c) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	case '\'':
		return "&#39;";
	default:
		return NULL;
	}
}
