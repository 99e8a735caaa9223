/*
 * output.c - the writer of stdout and stderr.
 */
#define _GNU_SOURCE
#include "output.h"
#include "visible.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const rb_redactor *redactor;

void rb_out_set_redactor(const rb_redactor *r)
{
	redactor = r;
}

void rb_out_write(int stream, const char *data, size_t len)
{
	fflush(stdout);
	fflush(stderr);
	(void)rb_write_all(stream, data, len, NULL); /* a closed terminal must not stop the run */
}

/* Formats, redacts, makes visible, writes. */
static void say(int stream, const char *fmt, va_list ap)
{
	rb_buf b = RB_BUF_INIT;
	rb_buf_vprintf(&b, fmt, ap);
	char *hidden = rb_redact(redactor, rb_buf_cstr(&b));
	char *shown = rb_visible(hidden);
	rb_out_write(stream, shown, strlen(shown));
	free(shown);
	free(hidden);
	rb_buf_free(&b);
}

void rb_out_v(const char *fmt, va_list ap)
{
	say(1, fmt, ap);
}

void rb_out(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say(1, fmt, ap);
	va_end(ap);
}

void rb_out_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say(2, fmt, ap);
	va_end(ap);
}

void rb_out_error(const char *prefix, const rb_error *err)
{
	char *m = rb_error_format(err);
	rb_out_err("%s%s\n", prefix ? prefix : "", m);
	free(m);
}

void rb_out_oom(size_t n)
{
	char m[96];
	int k = snprintf(m, sizeof m, "runbook: out of memory (allocating %zu bytes)\n", n);
	if (k > 0)
		(void)rb_write_all(2, m, (size_t)k < sizeof m ? (size_t)k : sizeof m - 1, NULL);
}
