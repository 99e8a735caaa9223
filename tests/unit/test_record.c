/*
 * The record: a journal write that fails is remembered (sticky, with the
 * errno and the journal's path) while events stay in memory; a torn last
 * line is counted; summaries and one-line values are single bounded lines
 * with nothing hidden.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "record.h"

static void one_line_is(const char *text, size_t max, const char *want)
{
	char *got = rb_record_one_line(text, max);
	assert_string_equal(got, want);
	free(got);
}

static void test_write_failure_is_sticky(void **state)
{
	(void)state;
	rb_record rec;
	rb_error err = RB_ERROR_INIT;
	if (access("/dev/full", W_OK) != 0)
		skip();
	assert_int_equal(rb_record_open(&rec, "/dev/full", NULL, &err), 0);
	assert_int_equal(rb_record_failed(&rec), 0);
	assert_null(rb_record_error(&rec));
	rb_record_event(&rec, "run", "id", "x", NULL);
	assert_int_equal(rb_record_failed(&rec), ENOSPC);
	assert_non_null(strstr(rb_record_error(&rec), "cannot write the run journal /dev/full: "));
	assert_non_null(strstr(rb_record_error(&rec), strerror(ENOSPC)));
	rb_record_event(&rec, "step", "id", "one", NULL);
	assert_int_equal(rb_record_failed(&rec), ENOSPC); /* still the first failure */
	assert_int_equal(rec.count, 2);                  /* memory has everything */
	assert_string_equal(rb_record_get(&rec, "step", NULL, "id"), "one");
	rb_record_close(&rec);
	rb_error_clear(&err);
}

static void test_journal_round_trip(void **state)
{
	(void)state;
	char path[] = "/tmp/test_record_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	rb_record rec, back;
	rb_error err = RB_ERROR_INIT;
	assert_int_equal(rb_record_open(&rec, path, NULL, &err), 0);
	rb_record_event(&rec, "run", "id", "a\tb\nc%", NULL);
	rb_record_event(&rec, "end", "id", "one", "status", "ok", NULL);
	assert_int_equal(rb_record_failed(&rec), 0);
	assert_int_equal(rb_record_load(&back, path, &err), 0);
	assert_int_equal(back.count, 2);
	assert_int_equal(back.torn, 0);
	assert_string_equal(rb_record_get(&back, "run", NULL, "id"), "a\tb\nc%");
	rb_record_close(&back);
	rb_record_close(&rec);
	unlink(path);
	rb_error_clear(&err);
}

static void test_torn_last_line(void **state)
{
	(void)state;
	rb_record rec;
	const char *text = "run\tid=x\nstep\tid=one\nend\tid=o";
	rb_record_parse(&rec, text, strlen(text));
	assert_int_equal(rec.count, 2);
	assert_int_equal(rec.torn, strlen("end\tid=o"));
	rb_record_close(&rec);
	rb_record_parse(&rec, "run\tid=x\n", 9);
	assert_int_equal(rec.torn, 0);
	rb_record_close(&rec);
}

static void test_one_line(void **state)
{
	(void)state;
	one_line_is("x\n\nRun: runs/1\r\nRunbook: other.md", 200, "x Run: runs/1 Runbook: other.md");
	one_line_is("  a\tb  ", 200, "a b");
	one_line_is("red \x1b[31m bell \x07", 200, "red \\e[31m bell \\x07");
	one_line_is("rtl \xe2\x80\xae!", 200, "rtl \\u202e!");
	one_line_is(NULL, 10, "");
	one_line_is("abcdefgh", 5, "abcde...");
	/* Never cut inside a character: é is two bytes. */
	one_line_is("\xc3\xa9\xc3\xa9\xc3\xa9", 3, "\xc3\xa9...");
}

static void test_summary_is_one_line(void **state)
{
	(void)state;
	rb_record rec;
	rb_error err = RB_ERROR_INIT;
	char title[600];
	memset(title, 'T', sizeof title - 1);
	title[sizeof title - 1] = '\0';
	title[3] = '\n';
	assert_int_equal(rb_record_open(&rec, NULL, NULL, &err), 0);
	rb_record_event(&rec, "run", "title", "x\n\nRun: runs/2020/01/01/000000Z-evil-1\nRunbook: other.md\x1b", NULL);
	rb_record_event(&rec, "finish", "result", "succeeded", "exit", "0", "duration", "1s", NULL);
	char *s = rb_record_summary(&rec);
	assert_string_equal(s, "x Run: runs/2020/01/01/000000Z-evil-1 Runbook: other.md\\e: succeeded (0 steps, 1s)");
	free(s);
	rb_record_event(&rec, "run", "title", title, NULL);
	s = rb_record_summary(&rec);
	assert_null(strchr(s, '\n'));
	assert_true(strlen(s) <= RB_SUMMARY_MAX + 3);
	assert_non_null(strstr(s, "...: succeeded"));
	free(s);
	char *md = rb_record_markdown(&rec);
	assert_null(strstr(md, "\n\nRun:"));
	free(md);
	rb_record_close(&rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_failure_is_sticky),
		cmocka_unit_test(test_journal_round_trip),
		cmocka_unit_test(test_torn_last_line),
		cmocka_unit_test(test_one_line),
		cmocka_unit_test(test_summary_is_one_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
