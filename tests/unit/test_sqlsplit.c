/*
 * test_sqlsplit.c - statement splitting and :VAR interpolation against a
 * corpus of cases where a naive splitter goes wrong: every expected
 * statement is given with its exact text, runbook line and column.
 * Bodies start at runbook line 10.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sqlsplit.h"

#define FIRST_LINE 10

typedef struct {
	rb_sql_item *items;
	size_t n;
} split;

static split split_ok(const char *body, int std_strings)
{
	split s = {NULL, 0};
	rb_error err = RB_ERROR_INIT;
	if (rb_sql_split(body, "rb.md", FIRST_LINE, std_strings, &s.items, &s.n, &err) != 0) {
		print_error("split failed: %d:%d: %s\n", err.line, err.col, err.message);
		rb_error_clear(&err);
		fail();
	}
	assert_null(err.message);
	return s;
}

static void split_free(split *s)
{
	rb_sql_items_free(s->items, s->n);
	s->items = NULL;
	s->n = 0;
}

static void check_stmt(const split *s, size_t i, const char *text, int line, int col)
{
	assert_true(i < s->n);
	const rb_sql_item *it = &s->items[i];
	assert_int_equal(it->kind, RB_SQL_STATEMENT);
	assert_string_equal(it->text, text);
	assert_int_equal(it->line, line);
	assert_int_equal(it->col, col);
	assert_null(it->command);
	assert_null(it->args);
}

static void check_meta(const split *s, size_t i, const char *command, const char *args, int line,
		       int col)
{
	assert_true(i < s->n);
	const rb_sql_item *it = &s->items[i];
	assert_int_equal(it->kind, RB_SQL_META);
	assert_string_equal(it->command, command);
	assert_string_equal(it->args, args);
	assert_int_equal(it->line, line);
	assert_int_equal(it->col, col);
	assert_int_equal(it->is_txn_control, 0);
}

static void check_split_error(const char *body, int std_strings, int line, int col,
			      const char *message)
{
	rb_sql_item *items = (rb_sql_item *)&items; /* must be reset to NULL */
	size_t n = 99;
	rb_error err = RB_ERROR_INIT;
	assert_int_equal(rb_sql_split(body, "rb.md", FIRST_LINE, std_strings, &items, &n, &err), -1);
	assert_null(items);
	assert_int_equal(n, 0);
	assert_int_equal(err.code, RB_EXIT_USAGE);
	assert_string_equal(err.file, "rb.md");
	assert_int_equal(err.line, line);
	assert_int_equal(err.col, col);
	if (!strstr(err.message, message))
		print_error("message '%s' lacks '%s'\n", err.message, message);
	assert_non_null(strstr(err.message, message));
	rb_error_clear(&err);
}

/* ---- splitting ---- */

static void test_simple(void **state)
{
	(void)state;
	split s = split_ok("SELECT 1;\nSELECT 2;\n", 1);
	assert_int_equal(s.n, 2);
	check_stmt(&s, 0, "SELECT 1", 10, 1);
	check_stmt(&s, 1, "SELECT 2", 11, 1);
	split_free(&s);
}

static void test_leading_comments_trimmed(void **state)
{
	(void)state;
	split s = split_ok("  -- hello\n  /* c */ SELECT 1 ; -- after\n", 1);
	assert_int_equal(s.n, 1);
	check_stmt(&s, 0, "SELECT 1", 11, 11);
	split_free(&s);
}

static void test_empty_statements(void **state)
{
	(void)state;
	split s = split_ok(";;\n-- only a comment\n/* and; another */;\n  \n", 1);
	assert_int_equal(s.n, 0);
	assert_null(s.items);
	s = split_ok("", 1);
	assert_int_equal(s.n, 0);
	s = split_ok("SELECT 1;;;SELECT 2", 1);
	assert_int_equal(s.n, 2);
	check_stmt(&s, 1, "SELECT 2", 10, 12);
	split_free(&s);
}

static void test_trailing_statement_without_semicolon(void **state)
{
	(void)state;
	split s = split_ok("SELECT 1;\nSELECT 2 -- last\n", 1);
	assert_int_equal(s.n, 2);
	check_stmt(&s, 1, "SELECT 2", 11, 1);
	split_free(&s);
}

static void test_dollar_function_body(void **state)
{
	(void)state;
	const char *fn = "CREATE FUNCTION f() RETURNS int AS $$\n"
			 "BEGIN\n"
			 "  RETURN 1;\n"
			 "END;\n"
			 "$$ LANGUAGE plpgsql";
	char body[512];
	snprintf(body, sizeof body, "%s;\nSELECT f();\n", fn);
	split s = split_ok(body, 1);
	assert_int_equal(s.n, 2);
	check_stmt(&s, 0, fn, 10, 1);
	check_stmt(&s, 1, "SELECT f()", 15, 1);
	split_free(&s);
}

static void test_dollar_tags(void **state)
{
	(void)state;
	split s = split_ok("DO $fn$\nBEGIN\n  RAISE NOTICE '$$;';\n  PERFORM 1;\nEND\n$fn$;\nSELECT 2;", 1);
	assert_int_equal(s.n, 2);
	check_stmt(&s, 0, "DO $fn$\nBEGIN\n  RAISE NOTICE '$$;';\n  PERFORM 1;\nEND\n$fn$", 10, 1);
	check_stmt(&s, 1, "SELECT 2", 16, 1);
	split_free(&s);

	/* Only the exact opening tag closes. */
	s = split_ok("SELECT $a$ x $ab$ ; $b$ ; $a$; SELECT 1", 1);
	assert_int_equal(s.n, 2);
	check_stmt(&s, 0, "SELECT $a$ x $ab$ ; $b$ ; $a$", 10, 1);
	split_free(&s);
}

static void test_params_are_not_quotes(void **state)
{
	(void)state;
	split s = split_ok("PREPARE p(int, int) AS SELECT $1 + $2;EXECUTE p(1, 2);", 1);
	assert_int_equal(s.n, 2);
	check_stmt(&s, 0, "PREPARE p(int, int) AS SELECT $1 + $2", 10, 1);
	check_stmt(&s, 1, "EXECUTE p(1, 2)", 10, 39);
	split_free(&s);

	/* A '$' inside an identifier does not open a quote either. */
	s = split_ok("SELECT a$b$c FROM t; SELECT 2", 1);
	assert_int_equal(s.n, 2);
	split_free(&s);
}

static void test_nested_comments(void **state)
{
	(void)state;
	split s = split_ok("SELECT /* a /* b; */ c; */ 1; SELECT 2;", 1);
	assert_int_equal(s.n, 2);
	check_stmt(&s, 0, "SELECT /* a /* b; */ c; */ 1", 10, 1);
	check_stmt(&s, 1, "SELECT 2", 10, 31);
	split_free(&s);
}

static void test_escape_strings(void **state)
{
	(void)state;
	/* E'\'' is one string: the ; after it is inside. */
	split s = split_ok("SELECT E'\\';';\nSELECT e'\\\\';SELECT 3", 1);
	assert_int_equal(s.n, 3);
	check_stmt(&s, 0, "SELECT E'\\';'", 10, 1);
	check_stmt(&s, 1, "SELECT e'\\\\'", 11, 1);
	check_stmt(&s, 2, "SELECT 3", 11, 14);
	split_free(&s);
}

static void test_doubled_quotes(void **state)
{
	(void)state;
	split s = split_ok("SELECT 'it''s; fine'; SELECT \"a\"\"; b\";", 1);
	assert_int_equal(s.n, 2);
	check_stmt(&s, 0, "SELECT 'it''s; fine'", 10, 1);
	check_stmt(&s, 1, "SELECT \"a\"\"; b\"", 10, 23);
	split_free(&s);

	/* In an E'' string a doubled quote must not end it before the \'. */
	s = split_ok("SELECT E'it''s\\';'; SELECT 2", 1);
	assert_int_equal(s.n, 2);
	check_stmt(&s, 0, "SELECT E'it''s\\';'", 10, 1);
	split_free(&s);
}

static void test_standard_conforming_strings_off(void **state)
{
	(void)state;
	const char *body = "SELECT 'a\\';z'; SELECT 2;";
	/* Off: the backslash escapes the quote, so one string runs to z'. */
	split s = split_ok(body, 0);
	assert_int_equal(s.n, 2);
	check_stmt(&s, 0, "SELECT 'a\\';z'", 10, 1);
	split_free(&s);
	/* On: 'a\' is a whole string and the quote after z is never closed. */
	check_split_error(body, 1, 10, 14, "unterminated quoted string");

	/* Bit strings never take backslash escapes. */
	s = split_ok("SELECT X'1\\'; SELECT b'0'", 0);
	assert_int_equal(s.n, 2);
	check_stmt(&s, 0, "SELECT X'1\\'", 10, 1);
	check_stmt(&s, 1, "SELECT b'0'", 10, 15);
	split_free(&s);
}

static void test_dollars_inside_plain_string(void **state)
{
	(void)state;
	split s = split_ok("SELECT '$$'; SELECT '$x$;'; SELECT 3", 1);
	assert_int_equal(s.n, 3);
	check_stmt(&s, 0, "SELECT '$$'", 10, 1);
	check_stmt(&s, 1, "SELECT '$x$;'", 10, 14);
	split_free(&s);
}

static void test_string_continuation(void **state)
{
	(void)state;
	/* 'a'<newline>'...' continues the E'' string, so \' still escapes. */
	split s = split_ok("SELECT E'a'\n'\\';'; SELECT 2", 1);
	assert_int_equal(s.n, 2);
	check_stmt(&s, 0, "SELECT E'a'\n'\\';'", 10, 1);
	check_stmt(&s, 1, "SELECT 2", 11, 8);
	split_free(&s);
}

static void test_semicolon_in_parens(void **state)
{
	(void)state;
	split s = split_ok("CREATE RULE r AS ON INSERT TO t DO INSTEAD "
			   "(INSERT INTO a VALUES (1); INSERT INTO b VALUES (2));\nSELECT 1;",
			   1);
	assert_int_equal(s.n, 2);
	check_stmt(&s, 0,
		   "CREATE RULE r AS ON INSERT TO t DO INSTEAD "
		   "(INSERT INTO a VALUES (1); INSERT INTO b VALUES (2))",
		   10, 1);
	check_stmt(&s, 1, "SELECT 1", 11, 1);
	split_free(&s);
}

static void test_begin_atomic(void **state)
{
	(void)state;
	const char *fn = "CREATE OR REPLACE FUNCTION f(x int) RETURNS int\n"
			 "LANGUAGE sql\n"
			 "BEGIN ATOMIC\n"
			 "  SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END;\n"
			 "  SELECT 2;\n"
			 "END";
	char body[512];
	snprintf(body, sizeof body, "%s;\nSELECT f(1);\n", fn);
	split s = split_ok(body, 1);
	assert_int_equal(s.n, 2);
	check_stmt(&s, 0, fn, 10, 1);
	assert_int_equal(s.items[0].is_txn_control, 0);
	check_stmt(&s, 1, "SELECT f(1)", 16, 1);
	split_free(&s);

	s = split_ok("create procedure p() begin atomic insert into t values (1); end; call p();", 1);
	assert_int_equal(s.n, 2);
	check_stmt(&s, 1, "call p()", 10, 66);
	split_free(&s);

	/* BEGIN inside a dollar-quoted body is not a word of the statement. */
	s = split_ok("CREATE FUNCTION g() RETURNS void LANGUAGE plpgsql AS $$ BEGIN END $$; SELECT 1;",
		     1);
	assert_int_equal(s.n, 2);
	split_free(&s);

	/* Outside CREATE FUNCTION, BEGIN and END are ordinary statements. */
	s = split_ok("CREATE TABLE t (a int); BEGIN; SELECT 1; END;", 1);
	assert_int_equal(s.n, 4);
	check_stmt(&s, 1, "BEGIN", 10, 25);
	split_free(&s);
}

static void test_meta_commands(void **state)
{
	(void)state;
	split s = split_ok("\\echo hi\n"
			   "\\set x 1\n"
			   "SELECT :x;\n"
			   "\\i file.sql\n"
			   "\\ir   sub/other.sql  \n"
			   "\\timing on\n",
			   1);
	assert_int_equal(s.n, 6);
	check_meta(&s, 0, "echo", "hi", 10, 1);
	assert_string_equal(s.items[0].text, "\\echo hi");
	assert_int_equal(s.items[0].args_col, 7);
	check_meta(&s, 1, "set", "x 1", 11, 1);
	check_stmt(&s, 2, "SELECT :x", 12, 1);
	check_meta(&s, 3, "i", "file.sql", 13, 1);
	check_meta(&s, 4, "ir", "sub/other.sql", 14, 1);
	assert_int_equal(s.items[4].args_col, 7);
	check_meta(&s, 5, "timing", "on", 15, 1);
	split_free(&s);
}

static void test_meta_inside_statement(void **state)
{
	(void)state;
	/* psql runs the meta-command first and keeps reading the statement. */
	split s = split_ok("SELECT 1,\n\\echo mid\n  2;", 1);
	assert_int_equal(s.n, 2);
	check_meta(&s, 0, "echo", "mid", 11, 1);
	check_stmt(&s, 1, "SELECT 1,\n         \n  2", 10, 1);
	split_free(&s);
}

static void test_meta_separators(void **state)
{
	(void)state;
	/* "\\" ends the arguments and SQL resumes on the same line. */
	split s = split_ok("\\echo a \\\\ SELECT 1;", 1);
	assert_int_equal(s.n, 2);
	check_meta(&s, 0, "echo", "a", 10, 1);
	check_stmt(&s, 1, "SELECT 1", 10, 12);
	split_free(&s);

	/* An unquoted backslash starts the next command... */
	s = split_ok("\\echo a \\echo b", 1);
	assert_int_equal(s.n, 2);
	check_meta(&s, 1, "echo", "b", 10, 9);
	split_free(&s);

	/* ...but not inside a quoted argument. */
	s = split_ok("\\echo 'it''s \\ here' :'x' done\nSELECT 1", 1);
	assert_int_equal(s.n, 2);
	check_meta(&s, 0, "echo", "'it''s \\ here' :'x' done", 10, 1);
	split_free(&s);
	s = split_ok("\\echo 'a\\'b' \\echo c", 1);
	assert_int_equal(s.n, 2);
	check_meta(&s, 0, "echo", "'a\\'b'", 10, 1);
	check_meta(&s, 1, "echo", "c", 10, 14);
	split_free(&s);

	/* No arguments: "" positioned right after the name. */
	s = split_ok("\\timing   \n", 1);
	assert_int_equal(s.n, 1);
	check_meta(&s, 0, "timing", "", 10, 1);
	assert_int_equal(s.items[0].args_col, 8);
	split_free(&s);

	/* A backslash inside SQL quotes is data. */
	s = split_ok("SELECT '\\echo';", 1);
	assert_int_equal(s.n, 1);
	check_stmt(&s, 0, "SELECT '\\echo'", 10, 1);
	split_free(&s);

	/* \; joins statements into one query, as in psql. */
	s = split_ok("SELECT 1\\; SELECT 2;\nSELECT 3", 1);
	assert_int_equal(s.n, 2);
	check_stmt(&s, 0, "SELECT 1\\; SELECT 2", 10, 1);
	split_free(&s);

	check_split_error("SELECT 1;\n\\echo 'oops\nSELECT 2;", 1, 11, 7,
			  "unterminated quoted string in the arguments of \\echo");
}

static void test_crlf(void **state)
{
	(void)state;
	split s = split_ok("SELECT 1;\r\n  SELECT 2;\r\n\\echo x\r\nSELECT\r\n  3;\r\n", 1);
	assert_int_equal(s.n, 4);
	check_stmt(&s, 0, "SELECT 1", 10, 1);
	check_stmt(&s, 1, "SELECT 2", 11, 3);
	check_meta(&s, 2, "echo", "x", 12, 1);
	assert_string_equal(s.items[2].text, "\\echo x");
	check_stmt(&s, 3, "SELECT\r\n  3", 13, 1);
	split_free(&s);

	s = split_ok("SELECT 1;\rSELECT 2;", 1);
	check_stmt(&s, 1, "SELECT 2", 11, 1);
	split_free(&s);

	check_split_error("SELECT 1;\r\nSELECT 'x\r\n", 1, 11, 8, "unterminated quoted string");
}

static void test_errors(void **state)
{
	(void)state;
	check_split_error("SELECT 1;\nSELECT 'abc;\n", 1, 11, 8,
			  "unterminated quoted string starting here");
	check_split_error("SELECT \"abc", 1, 10, 8, "unterminated quoted identifier");
	check_split_error("SELECT 1; /* a /* b */", 1, 10, 11, "unterminated /* comment");
	check_split_error("SELECT E'abc\\'", 1, 10, 8, "unterminated quoted string");
	check_split_error("SELECT U&'x", 1, 10, 8, "unterminated quoted string");
	/* The continued piece is the one left open. */
	check_split_error("SELECT 'a'\n  'b", 1, 11, 3, "unterminated quoted string");
	/* $1 is a parameter, and the $x$ right after it opens a quote. */
	check_split_error("SELECT $1$x$ ;", 1, 10, 10, "$x$");

	rb_sql_item *items = NULL;
	size_t n = 0;
	rb_error err = RB_ERROR_INIT;
	assert_int_equal(rb_sql_split("SELECT 1;\n  DO $body$ BEGIN END;", "rb.md", FIRST_LINE, 1,
				      &items, &n, &err),
			 -1);
	assert_int_equal(err.line, 11);
	assert_int_equal(err.col, 6);
	assert_string_equal(err.message, "unterminated dollar-quoted string $body$ starting here");
	rb_error_clear(&err);

	assert_int_equal(rb_sql_split(NULL, "rb.md", 1, 1, &items, &n, &err), -1);
	rb_error_clear(&err);
}

static void test_txn_control(void **state)
{
	(void)state;
	static const int expect[] = {1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 0, 1, 1};
	split s = split_ok("BEGIN;START TRANSACTION;COMMIT;END;ROLLBACK;ABORT;"
			   "rollback to savepoint s;ROLLBACK WORK TO s;SAVEPOINT s;select 1;"
			   "/* c */ commit work;COMMIT PREPARED 'x';prepare transaction 'y';"
			   "begin isolation level serializable",
			   1);
	assert_int_equal(s.n, sizeof expect / sizeof expect[0]);
	for (size_t i = 0; i < s.n; i++) {
		if (s.items[i].is_txn_control != expect[i])
			print_error("statement %zu: %s\n", i, s.items[i].text);
		assert_int_equal(s.items[i].is_txn_control, expect[i]);
	}
	assert_int_equal(s.items[11].no_txn_block, 1); /* COMMIT PREPARED */
	assert_int_equal(rb_sql_has_txn_control(s.items, s.n), 1);
	split_free(&s);

	s = split_ok("SELECT 1; SAVEPOINT s; RELEASE s;\n\\echo begin\n", 1);
	assert_int_equal(rb_sql_has_txn_control(s.items, s.n), 0);
	split_free(&s);
	assert_int_equal(rb_sql_has_txn_control(NULL, 0), 0);
}

static void test_no_txn_block(void **state)
{
	(void)state;
	static const struct {
		const char *sql;
		int outside;
	} cases[] = {
		{"CREATE INDEX CONCURRENTLY i ON t (a)", 1},
		{"create unique index concurrently if not exists i on t(a)", 1},
		{"CREATE INDEX i ON t (a)", 0},
		{"DROP INDEX CONCURRENTLY i", 1},
		{"DROP INDEX i", 0},
		{"REINDEX TABLE CONCURRENTLY t", 1},
		{"REINDEX (VERBOSE) INDEX CONCURRENTLY i", 1},
		{"REINDEX (CONCURRENTLY) TABLE t", 1},
		{"REINDEX (CONCURRENTLY off) TABLE t", 0},
		{"REINDEX TABLE t", 0},
		{"REINDEX DATABASE d", 1},
		{"VACUUM", 1},
		{"vacuum (analyze) t", 1},
		{"ANALYZE t", 0},
		{"CREATE DATABASE d", 1},
		{"DROP DATABASE IF EXISTS d", 1},
		{"ALTER SYSTEM SET work_mem = '64MB'", 1},
		{"CREATE TABLESPACE ts LOCATION '/x'", 1},
		{"DROP TABLESPACE ts", 1},
		{"-- why\n /* what */ Vacuum Full t", 1},
		{"CREATE TABLE vacuum_log (a int)", 0},
		{"SELECT 'VACUUM'", 0},
		{"ALTER DATABASE d SET TABLESPACE ts", 1},
		{"ALTER DATABASE d SET work_mem = 1", 0},
		{"ALTER TABLE p DETACH PARTITION c CONCURRENTLY", 1},
		{"ALTER TABLE p DETACH PARTITION c", 0},
		{"DISCARD ALL", 1},
		{"CLUSTER", 1},
		{"CLUSTER t USING i", 0},
		{"SELECT 1\\; VACUUM", 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		split s = split_ok(cases[i].sql, 1);
		assert_int_equal(s.n, 1);
		if (s.items[0].no_txn_block != cases[i].outside)
			print_error("case: %s\n", cases[i].sql);
		assert_int_equal(s.items[0].no_txn_block, cases[i].outside);
		assert_int_equal(s.items[0].is_txn_control, 0);
		split_free(&s);
	}
}

/* ---- interpolation ---- */

static int lookup_ctx;

static const char *const vars[][2] = {
	{"name", "it's"},
	{"tbl", "my\"tbl"},
	{"n", "42"},
	{"evil", "'; DROP TABLE x; --"},
	{"bs", "a\\b"},
	{"both", "it's\\"},
	{"loop", ":n"},
	{"\xc3\xa9t\xc3\xa9", "summer"},
	{"bad", "\xff"},
};

static const char *lookup(void *ctx, const char *name)
{
	assert_ptr_equal(ctx, &lookup_ctx);
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		if (!strcmp(vars[i][0], name))
			return vars[i][1];
	return NULL;
}

static void check_interp(const char *stmt, int std_strings, const char *expect)
{
	char *out = NULL;
	rb_error err = RB_ERROR_INIT;
	if (rb_sql_interpolate(stmt, "rb.md", 5, 1, std_strings, lookup, &lookup_ctx, &out, &err) !=
	    0) {
		print_error("interpolate failed: %d:%d: %s\n", err.line, err.col, err.message);
		rb_error_clear(&err);
		fail();
	}
	assert_string_equal(out, expect);
	free(out);
}

static void check_interp_error(const char *stmt, int line, int col, int eline, int ecol,
			       const char *message)
{
	char *out = (char *)&out;
	rb_error err = RB_ERROR_INIT;
	assert_int_equal(
		rb_sql_interpolate(stmt, "rb.md", line, col, 1, lookup, &lookup_ctx, &out, &err), -1);
	assert_null(out);
	assert_int_equal(err.code, RB_EXIT_USAGE);
	assert_string_equal(err.file, "rb.md");
	assert_int_equal(err.line, eline);
	assert_int_equal(err.col, ecol);
	if (!strstr(err.message, message))
		print_error("message '%s' lacks '%s'\n", err.message, message);
	assert_non_null(strstr(err.message, message));
	rb_error_clear(&err);
}

static void test_interp_forms(void **state)
{
	(void)state;
	check_interp("SELECT :'name'", 1, "SELECT 'it''s'");
	check_interp("SELECT * FROM :\"tbl\"", 1, "SELECT * FROM \"my\"\"tbl\"");
	check_interp("SELECT 1 LIMIT :n", 1, "SELECT 1 LIMIT 42");
	check_interp("SELECT :{?n}, :{?nope}", 1, "SELECT TRUE, FALSE");
	check_interp("SELECT :'\xc3\xa9t\xc3\xa9'", 1, "SELECT 'summer'");
	/* A value is never scanned again. */
	check_interp("SELECT :loop", 1, "SELECT :n");
	check_interp("", 1, "");
}

static void test_interp_leaves_sql_alone(void **state)
{
	(void)state;
	check_interp("SELECT x::int, a :: int, '1'::text", 1, "SELECT x::int, a :: int, '1'::text");
	check_interp("SELECT f(a := :n), a[1:2], a[:3], :{x}, : n", 1,
		     "SELECT f(a := 42), a[1:2], a[:3], :{x}, : n");
	const char *quoted = "SELECT ':n', E'\\' :n', \":n\", $$ :n $$, $t$ :'name' $t$ -- :n\n"
			     "/* :n /* :n */ */ U&':n' ";
	char in[256], want[256];
	snprintf(in, sizeof in, "%s:n", quoted);
	snprintf(want, sizeof want, "%s42", quoted);
	check_interp(in, 1, want);
	/* With standard_conforming_strings off, \' does not end a plain string. */
	check_interp("SELECT 'a\\' :n'", 0, "SELECT 'a\\' :n'");
	/* psql's \: and \; */
	check_interp("SELECT '\\:x', \\:n\\; SELECT :n", 1, "SELECT '\\:x', :n; SELECT 42");
}

static void test_interp_undefined(void **state)
{
	(void)state;
	check_interp_error("SELECT 1,\n  :missing", 5, 3, 6, 3, "undefined variable :missing");
	check_interp_error("SELECT :nope", 5, 10, 5, 17, "undefined variable :nope");
	check_interp_error("SELECT 1\r\n, :'nope'", 5, 10, 6, 3, "undefined variable :nope");
	check_interp_error("SELECT :\"nope\"", 5, 1, 5, 8, "undefined variable :nope");

	char *out = NULL;
	rb_error err = RB_ERROR_INIT;
	assert_int_equal(rb_sql_interpolate("SELECT :n", "rb.md", 1, 1, 1, NULL, NULL, &out, &err), -1);
	assert_null(out);
	rb_error_clear(&err);
	assert_int_equal(rb_sql_interpolate(NULL, "rb.md", 1, 1, 1, lookup, &lookup_ctx, &out, &err),
			 -1);
	rb_error_clear(&err);
}

static void test_interp_injection(void **state)
{
	(void)state;
	const char *want = "SELECT '''; DROP TABLE x; --'";
	check_interp("SELECT :'evil'", 1, want);
	check_interp("SELECT * FROM :\"evil\"", 1, "SELECT * FROM \"'; DROP TABLE x; --\"");

	/* The result is still one statement, whatever the value held. */
	char *out = NULL;
	rb_error err = RB_ERROR_INIT;
	assert_int_equal(rb_sql_interpolate("SELECT :'evil'; SELECT :'evil'", "rb.md", 1, 1, 1,
					    lookup, &lookup_ctx, &out, &err),
			 0);
	split s = split_ok(out, 1);
	assert_int_equal(s.n, 2);
	check_stmt(&s, 0, "SELECT '''; DROP TABLE x; --'", 10, 1);
	split_free(&s);
	free(out);
}

static void test_interp_backslashes(void **state)
{
	(void)state;
	/* PQescapeLiteral: E'' with doubled backslashes and a leading space. */
	check_interp("SELECT :'bs'", 1, "SELECT  E'a\\\\b'");
	check_interp("SELECT :'bs'", 0, "SELECT  E'a\\\\b'");
	check_interp("SELECT :'both'", 1, "SELECT  E'it''s\\\\'");
	/* Identifiers keep backslashes as they are. */
	check_interp("SELECT :\"bs\"", 1, "SELECT \"a\\b\"");
	check_interp("SELECT :bs", 1, "SELECT a\\b");
}

static void test_interp_invalid_input(void **state)
{
	(void)state;
	check_interp_error("SELECT 1,\n :'bad'", 5, 1, 6, 2, "not valid UTF-8");
	check_interp("SELECT :bad", 1, "SELECT \xff");
	check_interp_error("SELECT :n, 'abc", 5, 1, 5, 12, "unterminated quoted string");
	check_interp_error("SELECT $q$ :n", 5, 1, 5, 8, "unterminated dollar-quoted string $q$");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_simple),
		cmocka_unit_test(test_leading_comments_trimmed),
		cmocka_unit_test(test_empty_statements),
		cmocka_unit_test(test_trailing_statement_without_semicolon),
		cmocka_unit_test(test_dollar_function_body),
		cmocka_unit_test(test_dollar_tags),
		cmocka_unit_test(test_params_are_not_quotes),
		cmocka_unit_test(test_nested_comments),
		cmocka_unit_test(test_escape_strings),
		cmocka_unit_test(test_doubled_quotes),
		cmocka_unit_test(test_standard_conforming_strings_off),
		cmocka_unit_test(test_dollars_inside_plain_string),
		cmocka_unit_test(test_string_continuation),
		cmocka_unit_test(test_semicolon_in_parens),
		cmocka_unit_test(test_begin_atomic),
		cmocka_unit_test(test_meta_commands),
		cmocka_unit_test(test_meta_inside_statement),
		cmocka_unit_test(test_meta_separators),
		cmocka_unit_test(test_crlf),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_txn_control),
		cmocka_unit_test(test_no_txn_block),
		cmocka_unit_test(test_interp_forms),
		cmocka_unit_test(test_interp_leaves_sql_alone),
		cmocka_unit_test(test_interp_undefined),
		cmocka_unit_test(test_interp_injection),
		cmocka_unit_test(test_interp_backslashes),
		cmocka_unit_test(test_interp_invalid_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
