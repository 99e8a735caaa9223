/*
 * visible.c - hidden characters made visible.
 */
#include "visible.h"

#include <stdio.h>
#include <string.h>

/* The length of the hidden character at p (0 when it is not one) and its name. */
static size_t hidden_at(const unsigned char *p, size_t avail, unsigned *cp, const char **name)
{
	*name = NULL;
	if (*p < 0x20 && *p != '\t' && *p != '\n') {
		*cp = *p;
		*name = *p == 0x1b ? "escape character (ESC)" : *p == '\r' ? "carriage return"
			: "control character";
		return 1;
	}
	if (*p == 0x7f) {
		*cp = 0x7f;
		*name = "control character (DEL)";
		return 1;
	}
	if (*p == 0xc2 && avail >= 2 && p[1] >= 0x80 && p[1] <= 0x9f) {
		*cp = p[1];
		*name = "C1 control character";
		return 2;
	}
	if (*p == 0xd8 && avail >= 2 && p[1] == 0x9c) {
		*cp = 0x061c;
		*name = "Unicode bidirectional control character";
		return 2;
	}
	if (*p == 0xe2 && avail >= 3 && (p[1] & 0xc0) == 0x80 && (p[2] & 0xc0) == 0x80) {
		unsigned c = ((unsigned)(p[0] & 0x0f) << 12) | ((unsigned)(p[1] & 0x3f) << 6) | (p[2] & 0x3f);
		if (c == 0x200e || c == 0x200f || (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)) {
			*cp = c;
			*name = c == 0x202e ? "right-to-left override U+202E"
				: c == 0x202d ? "left-to-right override U+202D"
				: "Unicode bidirectional control character";
			return 3;
		}
	}
	return 0;
}

void rb_visible_into(const char *text, size_t len, rb_buf *out)
{
	const unsigned char *t = (const unsigned char *)text;
	size_t i = 0, run = 0;
	while (i < len) {
		unsigned cp = 0;
		const char *name;
		size_t n = hidden_at(t + i, len - i, &cp, &name);
		if (!n) {
			i++;
			continue;
		}
		rb_buf_add(out, text + run, i - run);
		if (cp == 0x1b)
			rb_buf_puts(out, "\\e");
		else if (n == 1)
			rb_buf_printf(out, "\\x%02x", cp);
		else
			rb_buf_printf(out, "\\u%04x", cp);
		i += n;
		run = i;
	}
	rb_buf_add(out, text + run, len - run);
}

char *rb_visible(const char *text)
{
	rb_buf b = RB_BUF_INIT;
	if (!text)
		text = "";
	rb_visible_into(text, strlen(text), &b);
	return rb_buf_detach(&b);
}

long rb_visible_next(const char *text, size_t from, size_t *len, const char **name)
{
	/* No strlen: callers step through a text hidden character by hidden
	 * character, and each step must cost only the bytes it passes. */
	const unsigned char *t = (const unsigned char *)text;
	for (size_t i = from; t[i]; i++) {
		unsigned cp;
		size_t avail = 1;
		while (avail < 3 && t[i + avail])
			avail++;
		size_t k = hidden_at(t + i, avail, &cp, name);
		if (k) {
			*len = k;
			return (long)i;
		}
	}
	return -1;
}
