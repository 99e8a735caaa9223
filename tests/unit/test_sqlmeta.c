/*
 * test_sqlmeta.c - psql's booleans, its reading of meta-command arguments
 * (\echo's quoting), the \if stack, \copy's arguments; and the streaming
 * reader of sqlsplit.h: COPY data lines, line numbers after them, and a
 * file larger than the reader's buffer read in pieces.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sqlmeta.h"
#include "sqlsplit.h"

static int boolean(const char *v)
{
	int b = -1;
	return rb_sqlmeta_bool(v, &b) < 0 ? -1 : b;
}

static void test_booleans(void **state)
{
	(void)state;
	const char *yes[] = {"true", "TRUE", "t", "tr", "yes", "y", "Ye", "on", "ON", "1", NULL};
	const char *no[] = {"false", "f", "FaLs", "no", "n", "off", "of", "OFF", "0", NULL};
	const char *bad[] = {"", "o", "maybe", "2", "01", "truee", "yess", "onn", "offf", " on", NULL};
	for (int i = 0; yes[i]; i++)
		assert_int_equal(boolean(yes[i]), 1);
	for (int i = 0; no[i]; i++)
		assert_int_equal(boolean(no[i]), 0);
	for (int i = 0; bad[i]; i++)
		assert_int_equal(boolean(bad[i]), -1);
}

static const char *vars(void *ctx, const char *name)
{
	(void)ctx;
	if (!strcmp(name, "who"))
		return "O'Brien";
	if (!strcmp(name, "n"))
		return "42";
	return NULL;
}

/* What \echo prints for args. */
static char *echo_of(const char *args)
{
	rb_sqlmeta_argv a;
	char *msg = NULL, *out;
	size_t at;
	assert_int_equal(rb_sqlmeta_words(args, vars, NULL, &a, &msg, &at), 0);
	out = rb_sqlmeta_echo(&a);
	rb_sqlmeta_argv_free(&a);
	return out;
}

static void check_echo(const char *args, const char *want)
{
	char *got = echo_of(args);
	assert_string_equal(got, want);
	free(got);
}

static void test_echo_quoting(void **state)
{
	(void)state;
	check_echo("hello   world", "hello world\n");
	check_echo("'two  spaces'", "two  spaces\n");
	check_echo("'it''s'", "it's\n");
	check_echo("'tab\\there' 'nl\\nx'", "tab\there nl\nx\n");
	check_echo("'\\101\\x42\\q'", "ABq\n");
	check_echo("pre'quoted part'post", "prequoted partpost\n");
	check_echo("\"double quotes\" stay", "\"double quotes\" stay\n");
	check_echo("-n no newline", "no newline");
	check_echo("'-n' is a word too", "is a word too");
	check_echo(":n :'who' :\"who\" :{?n} :{?none}", "42 'O''Brien' \"O'Brien\" TRUE FALSE\n");
	check_echo("'not :n here'", "not :n here\n");
	check_echo("a::int", "a::int\n");
	check_echo("", "\n");
}

static void test_words_errors(void **state)
{
	(void)state;
	rb_sqlmeta_argv a;
	char *msg = NULL;
	size_t at = 0;
	assert_int_equal(rb_sqlmeta_words("x :nope", vars, NULL, &a, &msg, &at), -1);
	assert_string_equal(msg, "undefined variable :nope");
	assert_int_equal(at, 2);
	free(msg);
	assert_int_equal(rb_sqlmeta_words("`date`", vars, NULL, &a, &msg, &at), -1);
	free(msg);
	/* Without a lookup (check), variables stay as written. */
	assert_int_equal(rb_sqlmeta_words(":nope", NULL, NULL, &a, &msg, &at), 0);
	assert_string_equal(a.v[0], ":nope");
	rb_sqlmeta_argv_free(&a);
}

static void test_if_stack(void **state)
{
	(void)state;
	rb_sqlmeta_cond c = {NULL, 0, 0};
	assert_true(rb_sqlmeta_cond_active(&c));
	assert_string_equal(rb_sqlmeta_cond_apply(&c, RB_SQL_CMD_ELSE, 0), "\\else: no matching \\if");
	assert_string_equal(rb_sqlmeta_cond_apply(&c, RB_SQL_CMD_ENDIF, 0), "\\endif: no matching \\if");
	assert_null(rb_sqlmeta_cond_apply(&c, RB_SQL_CMD_IF, 0));
	assert_false(rb_sqlmeta_cond_active(&c));
	assert_true(rb_sqlmeta_cond_evaluates(&c, RB_SQL_CMD_ELIF));
	assert_null(rb_sqlmeta_cond_apply(&c, RB_SQL_CMD_ELIF, 1));
	assert_true(rb_sqlmeta_cond_active(&c));
	/* A branch was taken: the rest are not, and their expressions are not read. */
	assert_false(rb_sqlmeta_cond_evaluates(&c, RB_SQL_CMD_ELIF));
	assert_null(rb_sqlmeta_cond_apply(&c, RB_SQL_CMD_ELIF, 1));
	assert_false(rb_sqlmeta_cond_active(&c));
	/* An \if inside a branch not taken is ignored whatever its value. */
	assert_false(rb_sqlmeta_cond_evaluates(&c, RB_SQL_CMD_IF));
	assert_null(rb_sqlmeta_cond_apply(&c, RB_SQL_CMD_IF, 1));
	assert_false(rb_sqlmeta_cond_active(&c));
	assert_null(rb_sqlmeta_cond_apply(&c, RB_SQL_CMD_ELSE, 0));
	assert_false(rb_sqlmeta_cond_active(&c));
	assert_null(rb_sqlmeta_cond_apply(&c, RB_SQL_CMD_ENDIF, 0));
	assert_null(rb_sqlmeta_cond_apply(&c, RB_SQL_CMD_ELSE, 0));
	assert_false(rb_sqlmeta_cond_active(&c));
	assert_string_equal(rb_sqlmeta_cond_apply(&c, RB_SQL_CMD_ELSE, 0), "\\else: cannot occur after \\else");
	assert_string_equal(rb_sqlmeta_cond_apply(&c, RB_SQL_CMD_ELIF, 1), "\\elif: cannot occur after \\else");
	assert_null(rb_sqlmeta_cond_apply(&c, RB_SQL_CMD_ENDIF, 0));
	assert_int_equal(c.n, 0);
	rb_sqlmeta_cond_free(&c);
}

static void check_copy(const char *args, const char *sql, const char *file, int from)
{
	rb_sqlmeta_copy cp;
	char *msg = NULL;
	assert_int_equal(rb_sqlmeta_copy_parse(args, &cp, &msg), 0);
	assert_string_equal(cp.sql, sql);
	if (file)
		assert_string_equal(cp.file, file);
	else
		assert_null(cp.file);
	assert_int_equal(cp.from, from);
	rb_sqlmeta_copy_free(&cp);
}

static void test_copy_args(void **state)
{
	(void)state;
	check_copy("t from 'a b.csv' with (format csv)", "COPY t FROM STDIN with (format csv)", "a b.csv", 1);
	check_copy("\"My T\" (a, b) FROM stdin", "COPY \"My T\" (a, b) FROM STDIN", NULL, 1);
	check_copy("(select 1, ')') to out.txt csv", "COPY (select 1, ')') TO STDOUT csv", "out.txt", 0);
	check_copy("t to stdout", "COPY t TO STDOUT", NULL, 0);
	check_copy("t from 'it''s.csv'", "COPY t FROM STDIN", "it's.csv", 1);
	rb_sqlmeta_copy cp;
	char *msg = NULL;
	assert_int_equal(rb_sqlmeta_copy_parse("t into x", &cp, &msg), -1);
	assert_string_equal(msg, "\\copy: parse error at \"into\"");
	free(msg);
	assert_int_equal(rb_sqlmeta_copy_parse("t from program 'ls'", &cp, &msg), -1);
	free(msg);
	assert_int_equal(rb_sqlmeta_copy_parse("", &cp, &msg), -1);
	free(msg);
}

/* COPY data lines come out as written, with their lines; reading goes on after "\.". */
static void test_reader_copy_data(void **state)
{
	(void)state;
	const char *body = "COPY t FROM stdin; -- rest\n1\ta\n\\.x\n2\tb\r\n\\.\nSELECT 1;\nCOPY u FROM STDIN;\nskipped;\n\\.\nSELECT 2";
	rb_sql_reader *r = rb_sql_reader_string(body, "f.sql", 5, 1);
	rb_sql_item it;
	rb_error err = RB_ERROR_INIT;
	const char *line;
	size_t len;
	int no;
	assert_int_equal(rb_sql_reader_next(r, &it, &err), 1);
	assert_true(it.copy_from_stdin);
	rb_sql_item_clear(&it);
	assert_int_equal(rb_sql_reader_copy_line(r, &line, &len, &no, &err), 1);
	assert_int_equal(no, 6);
	assert_memory_equal(line, "1\ta\n", len);
	assert_int_equal(rb_sql_reader_copy_line(r, &line, &len, &no, &err), 1);
	assert_int_equal(no, 7); /* "\.x" is data */
	assert_int_equal(rb_sql_reader_copy_line(r, &line, &len, &no, &err), 1);
	assert_int_equal(len, 5);
	assert_int_equal(rb_sql_reader_copy_line(r, &line, &len, &no, &err), 0);
	assert_int_equal(rb_sql_reader_next(r, &it, &err), 1);
	assert_string_equal(it.text, "SELECT 1");
	assert_int_equal(it.line, 10);
	rb_sql_item_clear(&it);
	/* Data nobody reads is skipped, not read as SQL. */
	assert_int_equal(rb_sql_reader_next(r, &it, &err), 1);
	rb_sql_item_clear(&it);
	assert_int_equal(rb_sql_reader_next(r, &it, &err), 1);
	assert_string_equal(it.text, "SELECT 2");
	assert_int_equal(it.line, 14);
	rb_sql_item_clear(&it);
	assert_int_equal(rb_sql_reader_next(r, &it, &err), 0);
	rb_sql_reader_free(r);
}

/* A file many times the reader's chunk: statements split across chunks keep their text and lines. */
static void test_reader_file_in_pieces(void **state)
{
	(void)state;
	char path[] = "/tmp/test_sqlmeta_XXXXXX";
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	for (int i = 0; i < 20000; i++)
		fprintf(f, "INSERT INTO t VALUES (%d, 'it''s\n%d');\n", i, i);
	fprintf(f, "COPY t FROM stdin;\n");
	for (int i = 0; i < 30000; i++)
		fprintf(f, "%d\tx\n", i);
	fprintf(f, "\\.\nSELECT $$a;\nb$$;\n");
	fclose(f);
	rb_sql_reader *r = NULL;
	rb_error err = RB_ERROR_INIT;
	rb_sql_item it;
	assert_int_equal(rb_sql_reader_file(path, 1, &r, &err), 0);
	char want[64];
	for (int i = 0; i < 20000; i++) {
		assert_int_equal(rb_sql_reader_next(r, &it, &err), 1);
		snprintf(want, sizeof want, "INSERT INTO t VALUES (%d, 'it''s\n%d')", i, i);
		assert_string_equal(it.text, want);
		assert_int_equal(it.line, 1 + 2 * i);
		rb_sql_item_clear(&it);
	}
	assert_int_equal(rb_sql_reader_next(r, &it, &err), 1);
	rb_sql_item_clear(&it);
	const char *line;
	size_t len;
	int no, n = 0;
	while (rb_sql_reader_copy_line(r, &line, &len, &no, &err) == 1) {
		snprintf(want, sizeof want, "%d\tx\n", n);
		assert_int_equal(len, strlen(want));
		assert_memory_equal(line, want, len);
		assert_int_equal(no, 40002 + n);
		n++;
	}
	assert_int_equal(n, 30000);
	assert_int_equal(rb_sql_reader_next(r, &it, &err), 1);
	assert_string_equal(it.text, "SELECT $$a;\nb$$");
	assert_int_equal(it.line, 70003);
	rb_sql_item_clear(&it);
	assert_int_equal(rb_sql_reader_next(r, &it, &err), 0);
	rb_sql_reader_free(r);
	unlink(path);
}

/* \gset ends the statement before it, as a semicolon would. */
static void test_gset_ends_statement(void **state)
{
	(void)state;
	rb_sql_item *items = NULL;
	size_t n = 0;
	rb_error err = RB_ERROR_INIT;
	assert_int_equal(rb_sql_split("SELECT 1 AS a\n  \\gset p_\nSELECT 2;", "f", 1, 1, &items, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_string_equal(items[0].text, "SELECT 1 AS a");
	assert_string_equal(items[0].gset, "p_");
	assert_int_equal(items[0].gset_line, 2);
	assert_int_equal(items[0].gset_col, 3);
	assert_null(items[1].gset);
	rb_sql_items_free(items, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_booleans),
		cmocka_unit_test(test_echo_quoting),
		cmocka_unit_test(test_words_errors),
		cmocka_unit_test(test_if_stack),
		cmocka_unit_test(test_copy_args),
		cmocka_unit_test(test_reader_copy_data),
		cmocka_unit_test(test_reader_file_in_pieces),
		cmocka_unit_test(test_gset_ends_statement),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
