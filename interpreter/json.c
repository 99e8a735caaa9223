/*
 * json.c - the JSON writer.
 */
#include "json.h"

#include <stdio.h>

void rb_json_init(rb_json *j, rb_buf *out, int pretty)
{
	j->out = out;
	j->depth = 0;
	j->first[0] = 1;
	j->after_key = 0;
	j->pretty = pretty;
}

static void newline(rb_json *j)
{
	if (!j->pretty)
		return;
	rb_buf_putc(j->out, '\n');
	for (int i = 0; i < j->depth; i++)
		rb_buf_puts(j->out, "  ");
}

/* Separator before a value (or a key) at the current level. */
static void before_value(rb_json *j)
{
	if (j->after_key) {
		j->after_key = 0;
		return;
	}
	if (!j->first[j->depth])
		rb_buf_putc(j->out, ',');
	j->first[j->depth] = 0;
	if (j->depth > 0)
		newline(j);
}

static void open(rb_json *j, char c)
{
	before_value(j);
	rb_buf_putc(j->out, c);
	if (j->depth < 63)
		j->depth++;
	j->first[j->depth] = 1;
}

void rb_json_object_begin(rb_json *j)
{
	open(j, '{');
}

void rb_json_array_begin(rb_json *j)
{
	open(j, '[');
}

void rb_json_end(rb_json *j, char close)
{
	int empty = j->first[j->depth];
	if (j->depth > 0)
		j->depth--;
	if (!empty)
		newline(j);
	rb_buf_putc(j->out, close);
}

void rb_json_key(rb_json *j, const char *key)
{
	before_value(j);
	rb_json_quote(j->out, key);
	rb_buf_puts(j->out, j->pretty ? ": " : ":");
	j->after_key = 1;
}

void rb_json_quote(rb_buf *b, const char *s)
{
	rb_buf_putc(b, '"');
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"': rb_buf_puts(b, "\\\""); break;
		case '\\': rb_buf_puts(b, "\\\\"); break;
		case '\n': rb_buf_puts(b, "\\n"); break;
		case '\r': rb_buf_puts(b, "\\r"); break;
		case '\t': rb_buf_puts(b, "\\t"); break;
		default:
			if (*p < 0x20)
				rb_buf_printf(b, "\\u%04x", *p);
			else
				rb_buf_putc(b, (char)*p);
		}
	}
	rb_buf_putc(b, '"');
}

void rb_json_string(rb_json *j, const char *s)
{
	before_value(j);
	if (s)
		rb_json_quote(j->out, s);
	else
		rb_buf_puts(j->out, "null");
}

void rb_json_int(rb_json *j, int64_t v)
{
	before_value(j);
	rb_buf_printf(j->out, "%lld", (long long)v);
}

void rb_json_bool(rb_json *j, int v)
{
	before_value(j);
	rb_buf_puts(j->out, v ? "true" : "false");
}

void rb_json_null(rb_json *j)
{
	before_value(j);
	rb_buf_puts(j->out, "null");
}
