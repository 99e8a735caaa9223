/*
 * The line map of a source text (srcmap.h): lines ended by \n, \r\n or a
 * lone \r as CommonMark ends them, byte and character columns, offsets
 * past the end, an empty text, a text that starts inside its file,
 * PostgreSQL's character positions, and the excerpt with its caret (tabs
 * kept, hidden characters and bytes that are not UTF-8 shown).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "srcmap.h"

/* offset off of m must be at line:col (bytes). */
static void at(const rb_srcmap *m, size_t off, int line, int col)
{
	int l = -1, c = -1;
	rb_srcmap_locate(m, off, &l, &c);
	if (l != line || c != col)
		fail_msg("offset %zu: expected %d:%d, got %d:%d", off, line, col, l, c);
}

/* offset off of m must be at line:col (characters). */
static void at_chars(const rb_srcmap *m, size_t off, int line, int col)
{
	int l = -1, c = -1;
	rb_srcmap_locate_chars(m, off, &l, &c);
	if (l != line || c != col)
		fail_msg("offset %zu: expected %d:%d in characters, got %d:%d", off, line, col, l, c);
}

/* The excerpt of line:col of text (a whole file) must be want. */
static void excerpt(const char *text, size_t len, int line, int col, const char *want)
{
	rb_srcmap m;
	rb_buf b = RB_BUF_INIT;
	rb_srcmap_init(&m, text, len, 1, 1);
	int rc = rb_srcmap_excerpt(&m, line, col, &b);
	rb_srcmap_free(&m);
	int ok = rc == 0 && !strcmp(rb_buf_cstr(&b), want);
	if (!ok) {
		fprintf(stderr, "expected:\n%s\ngot (rc %d):\n%s\n", want, rc, rb_buf_cstr(&b));
		rb_buf_free(&b);
		fail_msg("excerpt of %d:%d", line, col);
	}
	rb_buf_free(&b);
}

static void test_lf(void **state)
{
	(void)state;
	const char *t = "ab\ncd\n\nef";
	rb_srcmap m;
	rb_srcmap_init(&m, t, strlen(t), 1, 1);
	assert_int_equal(m.nlines, 4);
	at(&m, 0, 1, 1);
	at(&m, 1, 1, 2);
	at(&m, 2, 1, 3); /* the terminator belongs to the line it ends */
	at(&m, 3, 2, 1);
	at(&m, 6, 3, 1);
	at(&m, 7, 4, 1);
	at(&m, 8, 4, 2);
	assert_int_equal(rb_srcmap_line_offset(&m, 2), 3);
	assert_int_equal(rb_srcmap_line_offset(&m, 4), 7);
	size_t s = 0, e = 0;
	assert_int_equal(rb_srcmap_line_span(&m, 2, &s, &e), 0);
	assert_int_equal(s, 3);
	assert_int_equal(e, 5);
	assert_int_equal(rb_srcmap_line_span(&m, 3, &s, &e), 0);
	assert_int_equal(s, 6);
	assert_int_equal(e, 6);
	assert_int_equal(rb_srcmap_line_span(&m, 4, &s, &e), 0);
	assert_int_equal(e, 9);
	rb_srcmap_free(&m);
}

static void test_crlf(void **state)
{
	(void)state;
	const char *t = "ab\r\ncd\r\n";
	rb_srcmap m;
	rb_srcmap_init(&m, t, strlen(t), 1, 1);
	assert_int_equal(m.nlines, 3); /* "ab", "cd" and the empty line after the last terminator */
	at(&m, 2, 1, 3);
	at(&m, 3, 1, 4);
	at(&m, 4, 2, 1);
	at(&m, 8, 3, 1);
	size_t s = 0, e = 0;
	assert_int_equal(rb_srcmap_line_span(&m, 1, &s, &e), 0);
	assert_int_equal(e, 2); /* \r\n is left out of the line */
	assert_int_equal(rb_srcmap_line_span(&m, 2, &s, &e), 0);
	assert_int_equal(s, 4);
	assert_int_equal(e, 6);
	assert_int_equal(rb_srcmap_line_span(&m, 3, &s, &e), 0);
	assert_int_equal(s, 8);
	assert_int_equal(e, 8);
	/* an empty line between two CRLFs */
	rb_srcmap_free(&m);
	rb_srcmap_init(&m, "\r\n\r\nx", 5, 1, 1);
	assert_int_equal(rb_srcmap_line_span(&m, 2, &s, &e), 0);
	assert_int_equal(s, 2);
	assert_int_equal(e, 2);
	at(&m, 4, 3, 1);
	rb_srcmap_free(&m);
}

static void test_lone_cr(void **state)
{
	(void)state;
	const char *t = "one\rtwo\r\rthree\n\rfour";
	rb_srcmap m;
	rb_srcmap_init(&m, t, strlen(t), 1, 1);
	assert_int_equal(m.nlines, 6);
	at(&m, 4, 2, 1);
	at(&m, 8, 3, 1);
	at(&m, 9, 4, 1);
	at(&m, 15, 5, 1); /* "\n\r" is two line ends, not one */
	at(&m, 16, 6, 1);
	size_t s = 0, e = 0;
	assert_int_equal(rb_srcmap_line_span(&m, 1, &s, &e), 0);
	assert_int_equal(e, 3);
	assert_int_equal(rb_srcmap_line_span(&m, 3, &s, &e), 0);
	assert_int_equal(s, 8);
	assert_int_equal(e, 8);
	rb_srcmap_free(&m);
}

static void test_utf8_columns(void **state)
{
	(void)state;
	/* "é" is 2 bytes, "€" 3, "😀" 4 */
	const char *t = "\xc3\xa9x\xe2\x82\xacy\n\xf0\x9f\x98\x80z";
	rb_srcmap m;
	rb_srcmap_init(&m, t, strlen(t), 1, 1);
	at(&m, 2, 1, 3);
	at_chars(&m, 2, 1, 2);
	at(&m, 6, 1, 7);
	at_chars(&m, 6, 1, 4);
	at(&m, 12, 2, 5);
	at_chars(&m, 12, 2, 2);
	/* character positions, as PostgreSQL counts them, from 1 at text[0] */
	assert_int_equal(rb_srcmap_char_offset(&m, 1), 0);
	assert_int_equal(rb_srcmap_char_offset(&m, 2), 2);
	assert_int_equal(rb_srcmap_char_offset(&m, 3), 3);
	assert_int_equal(rb_srcmap_char_offset(&m, 4), 6);
	assert_int_equal(rb_srcmap_char_offset(&m, 6), 8);
	assert_int_equal(rb_srcmap_char_offset(&m, 7), 12);
	assert_int_equal(rb_srcmap_char_offset(&m, 0), 0);
	assert_int_equal(rb_srcmap_char_offset(&m, -5), 0);
	assert_int_equal(rb_srcmap_char_offset(&m, 99), strlen(t));
	rb_srcmap_free(&m);
}

static void test_past_the_end(void **state)
{
	(void)state;
	const char *t = "ab\ncd";
	rb_srcmap m;
	rb_srcmap_init(&m, t, strlen(t), 1, 1);
	at(&m, 5, 2, 3);
	at(&m, 500, 2, 3);
	at_chars(&m, 500, 2, 3);
	assert_int_equal(rb_srcmap_line_offset(&m, 3), 5);
	assert_int_equal(rb_srcmap_line_offset(&m, 99), 5);
	assert_int_equal(rb_srcmap_line_offset(&m, 0), 0);
	size_t s, e;
	assert_int_equal(rb_srcmap_line_span(&m, 3, &s, &e), -1);
	assert_int_equal(rb_srcmap_line_span(&m, 0, &s, &e), -1);
	rb_buf b = RB_BUF_INIT;
	assert_int_equal(rb_srcmap_excerpt(&m, 3, 1, &b), -1);
	assert_int_equal(b.len, 0);
	rb_srcmap_free(&m);
}

static void test_empty_text(void **state)
{
	(void)state;
	rb_srcmap m;
	rb_srcmap_init(&m, "", 0, 1, 1);
	assert_int_equal(m.nlines, 1);
	at(&m, 0, 1, 1);
	at(&m, 3, 1, 1);
	assert_int_equal(rb_srcmap_char_offset(&m, 5), 0);
	size_t s = 9, e = 9;
	assert_int_equal(rb_srcmap_line_span(&m, 1, &s, &e), 0);
	assert_int_equal(s, 0);
	assert_int_equal(e, 0);
	rb_srcmap_free(&m);
	rb_srcmap_init(&m, NULL, 7, 4, 2); /* no text at all is an empty one */
	assert_int_equal(m.len, 0);
	at(&m, 0, 4, 2);
	rb_srcmap_free(&m);
	excerpt("", 0, 1, 1, "    1 |\n      | ^\n");
}

static void test_starts_inside_a_file(void **state)
{
	(void)state;
	/* A statement at 10:5: its later lines start at column 1. */
	const char *t = "select\n  x";
	rb_srcmap m;
	rb_srcmap_init(&m, t, strlen(t), 10, 5);
	at(&m, 0, 10, 5);
	at(&m, 3, 10, 8);
	at(&m, 9, 11, 3);
	assert_int_equal(rb_srcmap_line_offset(&m, 11), 7);
	assert_int_equal(rb_srcmap_line_offset(&m, 9), 0);
	rb_srcmap_free(&m);
	/* A block's body at 10:5: every line starts at column 5. */
	rb_srcmap_init_block(&m, t, strlen(t), 10, 5);
	at(&m, 3, 10, 8);
	at(&m, 9, 11, 7);
	at_chars(&m, 9, 11, 7);
	rb_srcmap_free(&m);
}

static void test_excerpt(void **state)
{
	(void)state;
	const char *t = "# T\n\n```bash {timout=5s}\necho\n```\n";
	excerpt(t, strlen(t), 3, 10, "    3 | ```bash {timout=5s}\n      |          ^\n");
	excerpt(t, strlen(t), 3, 1, "    3 | ```bash {timout=5s}\n      | ^\n");
	/* no column: the line alone */
	excerpt(t, strlen(t), 1, 0, "    1 | # T\n");
	/* a column past the end: just after the line */
	excerpt(t, strlen(t), 4, 40, "    4 | echo\n      |     ^\n");
	/* an empty line */
	excerpt(t, strlen(t), 2, 1, "    2 |\n      | ^\n");
	/* wide line numbers widen the gutter */
	rb_buf big = RB_BUF_INIT;
	for (int i = 1; i < 123456; i++)
		rb_buf_putc(&big, '\n');
	rb_buf_puts(&big, "x");
	excerpt(big.data, big.len, 123456, 1, "123456 | x\n       | ^\n");
	rb_buf_free(&big);
}

static void test_excerpt_tabs(void **state)
{
	(void)state;
	/* tabs stay tabs, in the caret line too, so the caret lines up */
	const char *t = "\tif true; then\n\t\techo \"x\"\n";
	excerpt(t, strlen(t), 2, 3, "    2 | \t\techo \"x\"\n      | \t\t^\n");
	excerpt(t, strlen(t), 2, 8, "    2 | \t\techo \"x\"\n      | \t\t     ^\n");
	excerpt(t, strlen(t), 1, 1, "    1 | \tif true; then\n      | ^\n");
}

static void test_excerpt_shows_hidden(void **state)
{
	(void)state;
	/* ESC shown as \e (2 columns), the caret under what follows it counts them */
	const char *t = "ls \x1b[2K x\n";
	excerpt(t, strlen(t), 1, 4, "    1 | ls \\e[2K x\n      |    ^\n");
	excerpt(t, strlen(t), 1, 9, "    1 | ls \\e[2K x\n      |          ^\n");
	/* a right-to-left override (3 bytes) shown as \u202e, multibyte text as itself */
	const char *u = "\xc3\xa9\xe2\x80\xae!\n";
	excerpt(u, strlen(u), 1, 6, "    1 | \xc3\xa9\\u202e!\n      |        ^\n");
	/* a byte that is not UTF-8, and a NUL byte, as \xNN */
	const char *v = "caf\xe9 x";
	excerpt(v, strlen(v), 1, 4, "    1 | caf\\xe9 x\n      |    ^\n");
	excerpt(v, strlen(v), 1, 6, "    1 | caf\\xe9 x\n      |         ^\n");
	const char w[] = "a\0b\n";
	excerpt(w, 4, 1, 3, "    1 | a\\x00b\n      |      ^\n");
	/* the CR of a CRLF is no part of the line; a lone CR ends one */
	const char *x = "ab\r\ncd\ref\n";
	excerpt(x, strlen(x), 1, 3, "    1 | ab\n      |   ^\n");
	excerpt(x, strlen(x), 3, 1, "    3 | ef\n      | ^\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lf),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_lone_cr),
		cmocka_unit_test(test_utf8_columns),
		cmocka_unit_test(test_past_the_end),
		cmocka_unit_test(test_empty_text),
		cmocka_unit_test(test_starts_inside_a_file),
		cmocka_unit_test(test_excerpt),
		cmocka_unit_test(test_excerpt_tabs),
		cmocka_unit_test(test_excerpt_shows_hidden),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
