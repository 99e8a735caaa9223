/*
 * output.c - the writer of stdout and stderr: messages redacted and made
 * visible, bytes as they are, and the live status line of a terminal,
 * erased before any other write. It remembers whether each stream's last
 * byte was a newline, so that a status line never starts mid-line.
 */
#define _GNU_SOURCE
#include "output.h"
#include "visible.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define ERASE_LINE "\r\x1b[K"

static const rb_redactor *redactor;
static int status_fd = -1;          /* where the status line is drawn; -1: none is */
static int at_line_start[3] = {1, 1, 1};
static int same_terminal = -1;      /* stdout and stderr are one terminal; -1: not known yet */

void rb_out_set_redactor(const rb_redactor *r)
{
	redactor = r;
}

/* 1 when fds 1 and 2 are the same terminal (their lines are one line). */
static int one_terminal(void)
{
	struct stat a, b;
	if (same_terminal < 0)
		same_terminal = isatty(1) && isatty(2) && fstat(1, &a) == 0 && fstat(2, &b) == 0 &&
				a.st_rdev == b.st_rdev && a.st_ino == b.st_ino;
	return same_terminal;
}

static void note_last_byte(int stream, char c)
{
	if (stream != 1 && stream != 2)
		return;
	at_line_start[stream] = c == '\n';
	if (one_terminal())
		at_line_start[3 - stream] = c == '\n';
}

int rb_out_at_line_start(int stream)
{
	return stream == 1 || stream == 2 ? at_line_start[stream] : 1;
}

void rb_out_line_ended(void)
{
	at_line_start[1] = at_line_start[2] = 1;
}

void rb_out_status_clear(void)
{
	if (status_fd < 0)
		return;
	(void)rb_write_all(status_fd, ERASE_LINE, sizeof ERASE_LINE - 1, NULL);
	status_fd = -1;
}

void rb_out_write(int stream, const char *data, size_t len)
{
	fflush(stdout);
	fflush(stderr);
	rb_out_status_clear();
	(void)rb_write_all(stream, data, len, NULL); /* a closed terminal must not stop the run */
	if (len)
		note_last_byte(stream, data[len - 1]);
}

/* The terminal's width in columns; 80 when it does not say. */
static size_t columns(int fd)
{
	struct winsize w;
	if (ioctl(fd, TIOCGWINSZ, &w) == 0 && w.ws_col > 0)
		return w.ws_col;
	return 80;
}

/* The length of the first n characters of s (UTF-8 lead bytes counted), up to its first newline. */
static size_t cut(const char *s, size_t n)
{
	size_t i = 0, chars = 0;
	for (; s[i] && s[i] != '\n'; i++) {
		if (((unsigned char)s[i] & 0xC0) != 0x80 && chars++ == n)
			break;
	}
	return i;
}

void rb_out_status(int stream, const char *text)
{
	char *hidden = rb_redact(redactor, text ? text : "");
	char *shown = rb_visible(hidden);
	rb_buf b = RB_BUF_INIT;
	fflush(stdout);
	fflush(stderr);
	if (status_fd < 0 && !rb_out_at_line_start(stream)) {
		(void)rb_write_all(stream, "\n", 1, NULL);
		note_last_byte(stream, '\n');
	}
	/* One character short of the width: a full line would wrap, and \r would not reach its start. */
	rb_buf_puts(&b, ERASE_LINE);
	rb_buf_add(&b, shown, cut(shown, columns(stream) - 1));
	(void)rb_write_all(stream, b.data, b.len, NULL);
	status_fd = stream;
	rb_buf_free(&b);
	free(shown);
	free(hidden);
}

void rb_out_styled(int stream, const char *plain, const char *styled)
{
	char *hidden = rb_redact(redactor, plain ? plain : "");
	if (strcmp(hidden, plain ? plain : "")) {
		char *shown = rb_visible(hidden);
		rb_out_write(stream, shown, strlen(shown));
		free(shown);
	} else {
		rb_out_write(stream, styled, strlen(styled));
	}
	free(hidden);
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

static int message_stream = 1; /* rb_out's: 2 while stdout carries data */

void rb_out_messages_to_stderr(int on)
{
	message_stream = on ? 2 : 1;
}

void rb_out_v(const char *fmt, va_list ap)
{
	say(message_stream, fmt, ap);
}

void rb_out(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	say(message_stream, fmt, ap);
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
	rb_out_status_clear();
	int k = snprintf(m, sizeof m, "runbook: out of memory (allocating %zu bytes)\n", n);
	if (k > 0)
		(void)rb_write_all(2, m, (size_t)k < sizeof m ? (size_t)k : sizeof m - 1, NULL);
}

void rb_out_forget(void)
{
	redactor = NULL;
	status_fd = -1;
	at_line_start[0] = at_line_start[1] = at_line_start[2] = 1;
	same_terminal = -1;
	message_stream = 1;
}
