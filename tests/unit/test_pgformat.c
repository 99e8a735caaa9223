/*
 * psql's printing of a result (pgformat.h): headers centred, numbers
 * right-aligned, NULL empty, embedded newlines continued with '+', widths
 * in display columns, the expanded display, unaligned and CSV, and the
 * note on rows not shown. The expected texts are psql 15's output
 * (tests/cli/psql-format.sh compares against psql itself).
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgformat.h"

/* A table as literal cells, row-major; NULL is SQL NULL. */
typedef struct {
	int ncols;
	const char *const *cells;
} lit;

static const char *lit_cell(const void *src, size_t row, int col)
{
	const lit *l = src;
	return l->cells[row * (size_t)l->ncols + (size_t)col];
}

/* What rb_pgfmt_print prints for the table, as a string the caller frees. */
static char *render(rb_pgfmt_format format, int expanded, int ncols, const char *const *names, const char *aligns,
		    size_t nrows, const char *const *cells, int64_t total)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	lit l = {ncols, cells};
	rb_pgfmt_opts o = {format, expanded};
	rb_pgfmt_table t = {ncols, names, aligns, nrows, lit_cell, &l, total};
	rb_pgfmt_print(f, &o, &t);
	fclose(f);
	return text;
}

static void expect_text(char *got, const char *want)
{
	if (strcmp(got, want)) {
		fprintf(stderr, "expected:\n%s---\ngot:\n%s---\n", want, got);
		free(got);
		fail_msg("the printed table differs");
	}
	free(got);
}

static void test_alignment(void **state)
{
	(void)state;
	static const char *const names[] = {"id", "name", "amount"};
	static const char *const cells[] = {"1", "alpha", "3.5", "22", NULL, "-10.25", "333", "a longer name", NULL};
	expect_text(render(RB_PGFMT_ALIGNED, 0, 3, names, "rlr", 3, cells, 3),
		    " id  |     name      | amount \n"
		    "-----+---------------+--------\n"
		    "   1 | alpha         |    3.5\n"
		    "  22 |               | -10.25\n"
		    " 333 | a longer name |       \n"
		    "(3 rows)\n"
		    "\n");
}

static void test_continuation_lines(void **state)
{
	(void)state;
	static const char *const names[] = {"a", "ml", "last"};
	static const char *const cells[] = {"1", "a\nbb\nccc", "z"};
	expect_text(render(RB_PGFMT_ALIGNED, 0, 3, names, "rll", 1, cells, 1),
		    " a | ml  | last \n"
		    "---+-----+------\n"
		    " 1 | a  +| z\n"
		    "   | bb +| \n"
		    "   | ccc | \n"
		    "(1 row)\n"
		    "\n");
	/* In the last column, and in a header. */
	static const char *const names2[] = {"two\nlines", "b"};
	static const char *const cells2[] = {"x", "first\nsecond"};
	expect_text(render(RB_PGFMT_ALIGNED, 0, 2, names2, "ll", 1, cells2, 1),
		    "  two +|   b    \n"
		    " lines |        \n"
		    "-------+--------\n"
		    " x     | first +\n"
		    "       | second\n"
		    "(1 row)\n"
		    "\n");
}

static void test_display_width(void **state)
{
	(void)state;
	static const char *const names[] = {"wide", "t"};
	static const char *const cells[] = {"\xe6\x97\xa5\xe6\x9c\xac", "tab\there", "ab", "e\xcc\x81\x07"};
	/* 日本 is 4 columns; a tab goes to the next multiple of 8; é is e + a combining accent; BEL shows as \x07. */
	expect_text(render(RB_PGFMT_ALIGNED, 0, 2, names, "ll", 2, cells, 2),
		    " wide |      t       \n"
		    "------+--------------\n"
		    " \xe6\x97\xa5\xe6\x9c\xac | tab     here\n"
		    " ab   | e\xcc\x81\\x07\n"
		    "(2 rows)\n"
		    "\n");
}

static void test_zero_rows_and_no_columns(void **state)
{
	(void)state;
	static const char *const names[] = {"a"};
	expect_text(render(RB_PGFMT_ALIGNED, 0, 1, names, "r", 0, NULL, 0), " a \n---\n(0 rows)\n\n");
	expect_text(render(RB_PGFMT_ALIGNED, 0, 0, NULL, NULL, 2, NULL, 2), "--\n(2 rows)\n\n");
	expect_text(render(RB_PGFMT_ALIGNED, 1, 1, names, "r", 0, NULL, 0), "(0 rows)\n\n");
}

static void test_expanded(void **state)
{
	(void)state;
	static const char *const names[] = {"a", "longname", "ml"};
	static const char *const cells[] = {"1", "x", "a\nbb\nccc", "2", NULL, "y"};
	expect_text(render(RB_PGFMT_ALIGNED, 1, 3, names, "rll", 2, cells, 2),
		    "-[ RECORD 1 ]-\n"
		    "a        | 1\n"
		    "longname | x\n"
		    "ml       | a  +\n"
		    "         | bb +\n"
		    "         | ccc\n"
		    "-[ RECORD 2 ]-\n"
		    "a        | 2\n"
		    "longname | \n"
		    "ml       | y\n"
		    "\n");
	static const char *const names2[] = {"c", "d"};
	static const char *const cells2[] = {"x", "abcdefghijklmnopqrstuvwxyz"};
	expect_text(render(RB_PGFMT_ALIGNED, 1, 2, names2, "ll", 1, cells2, 1),
		    "-[ RECORD 1 ]-----------------\n"
		    "c | x\n"
		    "d | abcdefghijklmnopqrstuvwxyz\n"
		    "\n");
}

static void test_unaligned_and_csv(void **state)
{
	(void)state;
	static const char *const names[] = {"a", "b", "c"};
	static const char *const cells[] = {"1", NULL, "x\ny", "2", "q\"z", "p,q"};
	expect_text(render(RB_PGFMT_UNALIGNED, 0, 3, names, NULL, 2, cells, 2), "a|b|c\n1||x\ny\n2|q\"z|p,q\n(2 rows)\n");
	expect_text(render(RB_PGFMT_UNALIGNED, 1, 3, names, NULL, 2, cells, 2),
		    "a|1\nb|\nc|x\ny\n\na|2\nb|q\"z\nc|p,q\n");
	expect_text(render(RB_PGFMT_CSV, 0, 3, names, NULL, 2, cells, 2), "a,b,c\n1,,\"x\ny\"\n2,\"q\"\"z\",\"p,q\"\n");
	expect_text(render(RB_PGFMT_CSV, 1, 3, names, NULL, 1, cells, 1), "a,1\nb,\nc,\"x\ny\"\n");
	static const char *const dot[] = {"\\."};
	expect_text(render(RB_PGFMT_CSV, 0, 1, names, NULL, 1, dot, 1), "a\n\"\\.\"\n");
}

static void test_rows_not_shown(void **state)
{
	(void)state;
	static const char *const names[] = {"n"};
	static const char *const cells[] = {"1", "2"};
	expect_text(render(RB_PGFMT_ALIGNED, 0, 1, names, "r", 2, cells, 5),
		    " n \n---\n 1\n 2\n... 3 more rows not shown\n(5 rows)\n\n");
	expect_text(render(RB_PGFMT_ALIGNED, 0, 1, names, "r", 1, cells, 2),
		    " n \n---\n 1\n... 1 more row not shown\n(2 rows)\n\n");
	expect_text(render(RB_PGFMT_UNALIGNED, 0, 1, names, "r", 2, cells, 5),
		    "n\n1\n2\n... 3 more rows not shown\n(5 rows)\n");
}

static void test_alignment_by_type(void **state)
{
	(void)state;
	static const unsigned right[] = {20, 21, 23, 26, 28, 29, 700, 701, 790, 1700, 5069};
	for (size_t i = 0; i < sizeof right / sizeof right[0]; i++)
		assert_int_equal(rb_pgfmt_align(right[i]), 'r');
	assert_int_equal(rb_pgfmt_align(25), 'l');   /* text */
	assert_int_equal(rb_pgfmt_align(16), 'l');   /* bool */
	assert_int_equal(rb_pgfmt_align(1007), 'l'); /* int4[] */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_alignment),
		cmocka_unit_test(test_continuation_lines),
		cmocka_unit_test(test_display_width),
		cmocka_unit_test(test_zero_rows_and_no_columns),
		cmocka_unit_test(test_expanded),
		cmocka_unit_test(test_unaligned_and_csv),
		cmocka_unit_test(test_rows_not_shown),
		cmocka_unit_test(test_alignment_by_type),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
