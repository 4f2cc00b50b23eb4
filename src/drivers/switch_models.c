/*
 * The switch models (switch.h) and the pure cleaning of what they print.
 * Each entry is modelled on the device's real dialog (the original
 * TISBackup's four types, then Oxidized's procurve, ios, linksyssrw,
 * dlinknextgen, routeros and junos models); the original's switch_type
 * names are kept as aliases. Prompts are POSIX extended regexes that
 * dialog.c anchors at the end of the line being received; here they are
 * anchored at its start, so a '#' or '>' inside configuration text never
 * passes for a prompt.
 */
#include "drivers/switch.h"

#include <regex.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "util/xmalloc.h"

const struct switch_model switch_models[] = {
	{
	    .name = "procurve",
	    .aliases = "HP-PROCURVE-4104GL HP-PROCURVE-2524 aruba arubaos-switch",
	    .protos = SWITCH_TELNET | SWITCH_SSH,
	    .def_proto = SWITCH_TELNET,
	    .eol = "\r\n",
	    .user_prompt = "^ *Username: ?",
	    .pass_prompt = "^ *Password: ?",
	    .user_mode = "^ *[[:alnum:]_. ()-]+> ?",
	    .user_mode_cmd = "enable",
	    .prompt = "^ *[[:alnum:]_. ()-]+# ?",
	    .pager_off = "no page",
	    /* The original's: the startup configuration. */
	    .commands = { "show config" },
	    .running_cmd = "show running-config",
	    .drop_head = "^(Startup|Running) configuration:$",
	    .logout = "logout",
	},
	{
	    .name = "ios",
	    .aliases = "CISCO cisco-ios",
	    .protos = SWITCH_TELNET | SWITCH_SSH,
	    .def_proto = SWITCH_TELNET,
	    .eol = "\r\n",
	    .user_prompt = "^Username: ?",
	    .pass_prompt = "^Password: ?",
	    .user_mode = "^[[:alnum:]_.@()-]+>",
	    .user_mode_cmd = "enable",
	    .prompt = "^[[:alnum:]_.@()-]+#",
	    .pager_off = "terminal length 0",
	    /* The original's file: the running config, a blank line, then `show vlan`. */
	    .commands = { "show running-config", "show vlan" },
	    .drop_head = "^(Building configuration\\.\\.\\.|Current configuration : [0-9]+ bytes)$",
	    .end_marker = "end",
	    .logout = "exit",
	},
	{
	    .name = "linksyssrw",
	    .aliases = "LINKSYS-SRW2024",
	    .protos = SWITCH_TELNET,
	    .def_proto = SWITCH_TELNET,
	    .eol = "\r\n",
	    .user_prompt = "^ *User Name: ?",
	    .pass_prompt = "^ *Password: ?",
	    .menu_prompt = "Switch Main Menu",
	    .menu_key = "\x1a",
	    .user_mode = "^[[:alnum:]_.@-]*>",
	    .user_mode_cmd = "lcli",
	    .prompt = "^[[:alnum:]_.@-]+#",
	    .pager_off = "terminal datadump",
	    .commands = { "show startup-config" },
	    .logout = "exit",
	},
	{
	    .name = "dlinknextgen",
	    .aliases = "DLINK-DGS1510 dgs1510",
	    .protos = SWITCH_TELNET | SWITCH_SSH,
	    .def_proto = SWITCH_TELNET,
	    .eol = "\r\n",
	    .user_prompt = "^ *(UserName|Username|User Name|Login): ?",
	    .pass_prompt = "^ *(PassWord|Password): ?",
	    .user_mode = "^[[:alnum:]_.@()/-]+>",
	    .user_mode_cmd = "enable",
	    .prompt = "^[[:alnum:]_.@()/-]+#",
	    .pager_off = "terminal length 0",
	    .pager_text = "SPACE n Next Page",
	    .pager_key = " ",
	    .commands = { "show running-config" },
	    .end_marker = "# End of configuration file",
	    .between_banners = 1,
	    .logout = "logout",
	},
	{
	    /* Its web interface: two POSTs (drv_switch.c), no dialog. */
	    .name = "dgs1210",
	    .aliases = "DLINK-DGS1210",
	    .protos = SWITCH_HTTP,
	    .def_proto = SWITCH_HTTP,
	},
	{
	    .name = "routeros",
	    .aliases = "mikrotik",
	    .protos = SWITCH_SSH,
	    .def_proto = SWITCH_SSH,
	    .eol = "\r\n",
	    .prompt = "^\\[[^]]+\\] > ?",
	    .commands = { "/export" },
	    /* The export's first line is its date: dropped, so unchanged configs compare equal. */
	    .drop_head = "^# [a-z]{3}/[0-9]{2}/[0-9]{4} [0-9:]+ by RouterOS",
	    .logout = "/quit",
	},
	{
	    .name = "junos",
	    .aliases = "juniper",
	    .protos = SWITCH_SSH,
	    .def_proto = SWITCH_SSH,
	    .eol = "\r\n",
	    .prompt = "^[[:alnum:]_.@-]+> ?",
	    .pager_off = "set cli screen-length 0",
	    .pager_text = "---(more",
	    .pager_key = " ",
	    .commands = { "show configuration" },
	    .logout = "exit",
	},
	{ .name = NULL },
};

/* 1 if name is one of the ' '-separated words of list (any case). */
static int
word_in(const char *list, const char *name)
{
	size_t nl = strlen(name);

	while (list != NULL && *list != '\0') {
		size_t wl = strcspn(list, " ");

		if (wl == nl && strncasecmp(list, name, nl) == 0)
			return 1;
		list += wl;
		list += strspn(list, " ");
	}
	return 0;
}

const struct switch_model *
switch_model_find(const char *name)
{
	if (name == NULL || *name == '\0')
		return NULL;
	for (const struct switch_model *m = switch_models; m->name != NULL; m++)
		if (strcasecmp(m->name, name) == 0 || word_in(m->aliases, name))
			return m;
	return NULL;
}

const char *
switch_proto_name(enum switch_proto p)
{
	switch (p) {
	case SWITCH_TELNET:
		return "telnet";
	case SWITCH_SSH:
		return "ssh";
	case SWITCH_HTTP:
		return "http";
	}
	return "?";
}

int
switch_proto_parse(const char *name, enum switch_proto *out)
{
	static const enum switch_proto all[] = { SWITCH_TELNET, SWITCH_SSH, SWITCH_HTTP };

	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		if (name != NULL && strcasecmp(name, switch_proto_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	return -1;
}

/* Append line (len bytes) to out without its trailing blanks, then '\n'. */
static void
put_line(struct buf *out, const char *line, size_t len)
{
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	buf_append(out, line, len);
	buf_putc(out, '\n');
}

char *
switch_strip_vt100(const char *in, size_t len)
{
	struct buf out, line;
	size_t i = 0;

	buf_init(&out, (size_t)-1);
	buf_init(&line, (size_t)-1);
	while (i < len) {
		unsigned char c = (unsigned char)in[i++];

		if (c == 0x1b) {
			if (i >= len)
				break;
			c = (unsigned char)in[i++];
			if (c == '[') { /* CSI: parameters, then a final byte 0x40..0x7e */
				while (i < len && !((unsigned char)in[i] >= 0x40 &&
				                    (unsigned char)in[i] <= 0x7e))
					i++;
				i += i < len;
			} else if (c == ']') { /* OSC: up to BEL or ESC \ */
				while (i < len && in[i] != 0x07 && in[i] != 0x1b)
					i++;
				if (i < len && in[i] == 0x1b)
					i++;
				i += i < len;
			} else if (c == '(' || c == ')' || c == '#') {
				i += i < len;
			} else if (c == 'E') {
				put_line(&out, buf_str(&line), line.len);
				buf_reset(&line);
			}
			continue;
		}
		if (c == '\r') {
			if (i < len && in[i] == '\n')
				continue; /* CRLF: the '\n' ends the line */
			if (i < len && in[i] != '\r') {
				buf_reset(&line); /* text after a lone CR starts the line again */
				continue;
			}
			c = '\n';
		}
		if (c == '\n') {
			put_line(&out, buf_str(&line), line.len);
			buf_reset(&line);
		} else if (c == '\t' || (c >= 0x20 && c != 0x7f))
			buf_putc(&line, (char)c);
	}
	if (line.len > 0)
		put_line(&out, buf_str(&line), line.len);
	buf_free(&line);
	return buf_steal(&out);
}

/* 1 if the line (len bytes) is what a pager leaves behind. */
static int
pager_leftover(const char *line, size_t len)
{
	static const char *const marks[] = { "-- MORE --",        "--More--",
		                             "<--- More --->",    "Press any key to continue",
		                             "SPACE n Next Page", "---(more" };
	char *l = xstrndup(line, len);
	int hit = 0;

	for (size_t i = 0; i < sizeof marks / sizeof marks[0] && !hit; i++)
		hit = strstr(l, marks[i]) != NULL;
	free(l);
	return hit;
}

/* 1 if the line (len bytes) is blank. */
static int
blank(const char *line, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (line[i] != ' ' && line[i] != '\t')
			return 0;
	return 1;
}

/* 1 if the line (len bytes) matches re (which may be NULL: no). */
static int
line_matches(const regex_t *re, const char *line, size_t len)
{
	char *l;
	int hit;

	if (re == NULL)
		return 0;
	l = xstrndup(line, len);
	hit = regexec(re, l, 0, NULL, 0) == 0;
	free(l);
	return hit;
}

char *
switch_clean_output(const struct switch_model *m, const char *out)
{
	char *s = switch_strip_vt100(out, strlen(out));
	regex_t re, *head_re = NULL;
	int head = 1;
	struct buf res;
	const char *p = s;

	if (m != NULL && m->drop_head != NULL &&
	    regcomp(&re, m->drop_head, REG_EXTENDED | REG_NOSUB) == 0)
		head_re = &re;
	buf_init(&res, (size_t)-1);
	while (*p != '\0') {
		const char *nl = strchr(p, '\n');
		size_t len = nl != NULL ? (size_t)(nl - p) : strlen(p);

		/* pager leftovers go; at the head, blank lines and the model's header lines go */
		if (!pager_leftover(p, len) &&
		    !(head && (blank(p, len) || line_matches(head_re, p, len)))) {
			head = 0;
			buf_append(&res, p, len);
			buf_putc(&res, '\n');
		}
		p += len + (nl != NULL);
	}
	if (head_re != NULL)
		regfree(head_re);
	free(s);
	/* blank lines at the tail go */
	while (res.len > 0) {
		size_t end = res.len - 1, start = end;

		while (start > 0 && buf_str(&res)[start - 1] != '\n')
			start--;
		if (!blank(buf_str(&res) + start, end - start))
			break;
		res.len = start;
	}
	if (res.data != NULL)
		res.data[res.len] = '\0';
	return buf_steal(&res);
}

int
switch_check_config(const struct switch_model *m, char *cfg, struct err *err)
{
	size_t len = strlen(cfg), start;

	if (len == 0) {
		err_set(err, "the %s printed an empty configuration", m->name);
		return -1;
	}
	if (m->end_marker != NULL) {
		/* The last line but trailing "#---" banner lines must be the marker. */
		size_t end = len, ml = strlen(m->end_marker);

		for (;;) {
			start = end - 1; /* cfg[end - 1] is the '\n' of the line before end */
			while (start > 0 && cfg[start - 1] != '\n')
				start--;
			if (start == 0 || strncmp(cfg + start, "#---", 4) != 0)
				break;
			end = start;
		}
		if (end - 1 - start != ml || strncmp(cfg + start, m->end_marker, ml) != 0) {
			err_set(err,
			        "the configuration is incomplete: it does not end with '%s' (the "
			        "%s's end marker)",
			        m->end_marker, m->name);
			return -1;
		}
	}
	if (m->between_banners) {
		char *b[3] = { NULL, NULL, NULL };
		size_t nb = 0;

		for (char *p = cfg; *p != '\0' && nb < 3;) {
			char *nl = strchr(p, '\n');

			if (strncmp(p, "#---", 4) == 0)
				b[nb++] = p;
			if (nl == NULL)
				break;
			p = nl + 1;
		}
		if (nb < 3) {
			err_set(err,
			        "the configuration has %zu of the 3 '#---' banner lines expected",
			        nb);
			return -1;
		}
		{
			char *from = strchr(b[1], '\n') + 1, *to = b[2];

			while (*from == '\n') /* blank lines around the configuration go */
				from++;
			while (to > from + 1 && to[-2] == '\n')
				to--;
			memmove(cfg, from, (size_t)(to - from));
			cfg[to - from] = '\0';
		}
		if (cfg[0] == '\0') {
			err_set(err, "the configuration between the banner lines is empty");
			return -1;
		}
	}
	return 0;
}
