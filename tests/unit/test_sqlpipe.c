/*
 * Which statements may go through a libpq pipeline (sqlpipe.h): one
 * statement, as split or after its variables are replaced; never psql's
 * \; (several statements in one text), a variable's value holding several
 * statements, none, or a meta-command, nor COPY in any case; semicolons
 * inside quotes, dollar quotes and comments are no statement boundary.
 * The pipeline itself is exercised against a server by
 * tests/cli/sql-pipeline.sh.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "sqlpipe.h"

/* Written as split and sent unchanged. */
static int fits(const char *sql)
{
	return rb_sqlpipe_fits(sql, sql, 1);
}

static void test_one_statement(void **state)
{
	(void)state;
	assert_true(fits("SELECT 1"));
	assert_true(fits("INSERT INTO t VALUES (1, md5(1::text))"));
	assert_true(fits("SELECT 'a;b', $$c;d$$, \"e;f\" /* ; */ -- ;\n FROM t"));
	assert_true(fits("CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END"));
	assert_true(fits("VACUUM t"));
	assert_true(fits("copying"));        /* a word that starts like COPY */
	assert_true(fits("SELECT * FROM copy"));
}

static void test_copy(void **state)
{
	(void)state;
	assert_false(fits("COPY t FROM STDIN"));
	assert_false(fits("copy t to stdout"));
	assert_false(fits("Copy(SELECT 1) TO STDOUT"));
}

static void test_joined(void **state)
{
	(void)state;
	assert_false(fits("SELECT 1 \\; SELECT 2"));
	assert_false(rb_sqlpipe_fits(NULL, "COPY t FROM STDIN", 1)); /* a \copy */
}

static void test_interpolated(void **state)
{
	(void)state;
	/* :x replaced: the text is split again. */
	assert_true(rb_sqlpipe_fits("SELECT :x", "SELECT 42", 1));
	assert_true(rb_sqlpipe_fits("SELECT :'x'", "SELECT 'a;b'", 1));
	assert_false(rb_sqlpipe_fits(":two", "SELECT 1; SELECT 2", 1));
	assert_false(rb_sqlpipe_fits(":none", "", 1));
	assert_false(rb_sqlpipe_fits(":none", "  -- only a comment", 1));
	assert_false(rb_sqlpipe_fits(":c", "COPY t FROM STDIN", 1));
	assert_false(rb_sqlpipe_fits(":c", "/* first */ copy t to stdout", 1));
	assert_false(rb_sqlpipe_fits(":m", "SELECT 1 \\echo hi", 1));
	assert_true(rb_sqlpipe_fits(":t", "SELECT 1;", 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_statement),
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_joined),
		cmocka_unit_test(test_interpolated),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
