/*
 * Hidden characters made visible: C0 controls (but tab and newline), DEL,
 * C1 controls and the Unicode bidirectional controls become escapes; text,
 * UTF-8 included, is copied unchanged; rb_visible_next finds each hidden
 * character with its byte offset and length.
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

#include "visible.h"

/* rb_visible(text) must be want. */
static void shows(const char *text, const char *want)
{
	char *got = rb_visible(text);
	if (strcmp(got, want)) {
		char msg[512];
		snprintf(msg, sizeof msg, "expected '%s', got '%s'", want, got);
		free(got);
		fail_msg("%s", msg);
	}
	free(got);
}

static void test_c0_controls(void **state)
{
	(void)state;
	shows("a\x1b[2Kb", "a\\e[2Kb");
	shows("ding\a", "ding\\x07");
	shows("over\rwrite", "over\\x0dwrite");
	shows("\x01\x1f", "\\x01\\x1f");
	shows("osc \x1b]0;title\x07 end", "osc \\e]0;title\\x07 end");
}

static void test_del_and_c1(void **state)
{
	(void)state;
	shows("x\x7fy", "x\\x7fy");
	shows("next\xc2\x85line", "next\\u0085line");
	shows("csi \xc2\x9b" "2K", "csi \\u009b2K");
	/* U+00A0 (no-break space) and U+00E9 are text, not controls */
	shows("\xc2\xa0\xc3\xa9", "\xc2\xa0\xc3\xa9");
}

static void test_bidi_controls(void **state)
{
	(void)state;
	shows("a\xe2\x80\xae" "b", "a\\u202eb");
	shows("\xe2\x81\xa6x\xe2\x81\xa9", "\\u2066x\\u2069");
	shows("\xe2\x80\x8e\xe2\x80\x8f", "\\u200e\\u200f");
	shows("\xe2\x80\xaa\xe2\x80\xad", "\\u202a\\u202d");
	shows("\xd8\x9c", "\\u061c");
	/* neighbours of the ranges stay: U+2010 (hyphen), U+2065, U+206A, U+2026 */
	shows("\xe2\x80\x90\xe2\x81\xa5\xe2\x81\xaa\xe2\x80\xa6",
	      "\xe2\x80\x90\xe2\x81\xa5\xe2\x81\xaa\xe2\x80\xa6");
}

static void test_text_untouched(void **state)
{
	(void)state;
	shows("tab\there\nnew line\n", "tab\there\nnew line\n");
	shows("caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x9a\x80", "caf\xc3\xa9 \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x9a\x80");
	shows("back\\slash \\e stays", "back\\slash \\e stays");
	shows("", "");
	char *null = rb_visible(NULL);
	assert_string_equal(null, "");
	free(null);
}

static void test_truncated_utf8(void **state)
{
	(void)state;
	/* a sequence cut at the end is copied, not read past */
	shows("end\xe2\x80", "end\xe2\x80");
	shows("end\xc2", "end\xc2");
	shows("end\xe2", "end\xe2");
	/* not continuation bytes: not a bidi control, nothing swallowed */
	shows("\xe2@N", "\xe2@N");
	rb_buf b = RB_BUF_INIT;
	const char text[] = "a\xe2\x80\xae";
	rb_visible_into(text, 3, &b); /* the override cut after two of its bytes */
	assert_int_equal(b.len, 3);
	assert_memory_equal(b.data, "a\xe2\x80", 3);
	rb_buf_free(&b);
}

static void test_visible_into_appends(void **state)
{
	(void)state;
	rb_buf b = RB_BUF_INIT;
	rb_buf_puts(&b, "> ");
	rb_visible_into("x\x1by", 3, &b);
	assert_string_equal(rb_buf_cstr(&b), "> x\\ey");
	rb_buf_free(&b);
}

static void test_next_positions(void **state)
{
	(void)state;
	const char *text = "ok\x1b[2K\tmid\xe2\x80\xae\nend\x7f";
	size_t len = 0;
	const char *name = NULL;
	long at = rb_visible_next(text, 0, &len, &name);
	assert_int_equal(at, 2);
	assert_int_equal(len, 1);
	assert_non_null(strstr(name, "ESC"));
	at = rb_visible_next(text, (size_t)at + len, &len, &name);
	assert_int_equal(at, 10);
	assert_int_equal(len, 3);
	assert_non_null(strstr(name, "U+202E"));
	at = rb_visible_next(text, (size_t)at + len, &len, &name);
	assert_int_equal(at, 17);
	assert_int_equal(len, 1);
	assert_non_null(strstr(name, "DEL"));
	assert_int_equal(rb_visible_next(text, (size_t)at + len, &len, &name), -1);
	assert_int_equal(rb_visible_next("plain\ttext\n", 0, &len, &name), -1);
	assert_int_equal(rb_visible_next("abc", 3, &len, &name), -1);
	/* a sequence cut by the end of the text is not one */
	assert_int_equal(rb_visible_next("x\xe2\x80", 0, &len, &name), -1);
	/* searching from inside: the next one after `from` */
	at = rb_visible_next("\a\a", 1, &len, &name);
	assert_int_equal(at, 1);
	at = rb_visible_next("x\xc2\x85", 0, &len, &name);
	assert_int_equal(at, 1);
	assert_int_equal(len, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_c0_controls),
		cmocka_unit_test(test_del_and_c1),
		cmocka_unit_test(test_bidi_controls),
		cmocka_unit_test(test_text_untouched),
		cmocka_unit_test(test_truncated_utf8),
		cmocka_unit_test(test_visible_into_appends),
		cmocka_unit_test(test_next_positions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
