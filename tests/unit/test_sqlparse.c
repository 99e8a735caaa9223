/*
 * test_sqlparse.c - psql variables as same-length placeholders
 * (rb_sql_placeholders), statements classified by PostgreSQL's parser, and
 * syntax errors placed in bytes (sqlparse.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sqlparse.h"
#include "sqlsplit.h"

static void placeholder_is(const char *stmt, int literal, const char *want, size_t nvars)
{
	char *out = NULL;
	size_t n = 99;
	assert_int_equal(rb_sql_placeholders(stmt, 1, literal, &out, &n), 0);
	assert_string_equal(out, want);
	assert_int_equal(strlen(out), strlen(stmt));
	assert_int_equal(n, nvars);
	free(out);
}

static void test_placeholders(void **state)
{
	(void)state;
	placeholder_is("SELECT * FROM :tbl WHERE a = :'v'", 0, "SELECT * FROM _tbl WHERE a = '_v'", 2);
	placeholder_is("GRANT x TO :\"role\"", 0, "GRANT x TO \"_role\"", 1);
	placeholder_is("ALTER ROLE r PASSWORD :pw", 1, "ALTER ROLE r PASSWORD 'x'", 1);
	placeholder_is("ALTER ROLE r PASSWORD :p", 1, "ALTER ROLE r PASSWORD ''", 1);
	placeholder_is("SELECT :{?v}", 0, "SELECT TRUE ", 1);
	placeholder_is("SELECT 1 \\; SELECT 2", 0, "SELECT 1  ; SELECT 2", 0);
	/* Not variables: casts, slices, quotes, comments, dollar quotes. */
	placeholder_is("SELECT a::int, b[1:2], ':x', $$ :y $$ -- :z", 0, "SELECT a::int, b[1:2], ':x', $$ :y $$ -- :z", 0);
	placeholder_is("SELECT 'é', :é", 0, "SELECT 'é', _é", 1);
	char *out = (char *)1;
	size_t n;
	assert_int_equal(rb_sql_placeholders("SELECT 'open", 1, 0, &out, &n), -1);
	assert_null(out);
}

static void classified(const char *stmt, int txn, int outside)
{
	int t = -1, o = -1;
	if (rb_sqlparse_classify(stmt, 1, &t, &o) != 0)
		fail_msg("parser did not read: %s", stmt);
	if (t != txn || o != outside)
		fail_msg("%s: txn %d outside %d, expected %d %d", stmt, t, o, txn, outside);
}

static void test_classify(void **state)
{
	(void)state;
	classified("BEGIN", 1, 0);
	classified("START TRANSACTION ISOLATION LEVEL SERIALIZABLE", 1, 0);
	classified("END", 1, 0);
	classified("ABORT", 1, 0);
	classified("COMMIT AND CHAIN", 1, 0);
	classified("ROLLBACK TO SAVEPOINT s", 0, 0);
	classified("PREPARE TRANSACTION 'x'", 1, 0);
	classified("COMMIT PREPARED 'x'", 0, 1);
	classified("CREATE UNIQUE INDEX CONCURRENTLY i ON t (a)", 0, 1);
	classified("CREATE INDEX i ON t (a)", 0, 0);
	classified("DROP INDEX CONCURRENTLY IF EXISTS i", 0, 1);
	classified("VACUUM (ANALYZE) t", 0, 1);
	classified("ANALYZE t", 0, 0);
	classified("REINDEX (CONCURRENTLY false) TABLE t", 0, 0);
	classified("REINDEX SCHEMA s", 0, 1);
	classified("ALTER TABLE t DETACH PARTITION p CONCURRENTLY", 0, 1);
	classified("ALTER DATABASE d SET TABLESPACE x", 0, 1);
	classified("ALTER SYSTEM SET work_mem = '1MB'", 0, 1);
	classified("CLUSTER", 0, 1);
	classified("CLUSTER t", 0, 0);
	classified("DISCARD ALL", 0, 1);
	/* A keyword in a string or a comment is not the statement. */
	classified("SELECT 'BEGIN' /* VACUUM */", 0, 0);
	/* Two statements joined by psql's \; count together. */
	classified("SELECT 1 \\; VACUUM t", 0, 1);
	/* A variable in place. */
	classified("CREATE INDEX CONCURRENTLY :name ON :tbl (a)", 0, 1);
	int t, o;
	assert_int_equal(rb_sqlparse_classify("SELEC 1", 1, &t, &o), -1);
	assert_int_equal(rb_sqlparse_classify("VACUUM t", 0, &t, &o), -1);
}

/* The split item's flags come from the parser; the keywords only when it cannot read the text. */
static void test_split_uses_parser(void **state)
{
	(void)state;
	rb_sql_item *items = NULL;
	size_t n = 0;
	rb_error err = RB_ERROR_INIT;
	const char *body = "SELECT 'x'\n  \\; VACUUM t;\n"
			   "CREATE INDEX CONCURRENTLY i ON t (a) WHERE;\n";
	assert_int_equal(rb_sql_split(body, "rb.md", 1, 1, &items, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(items[0].no_txn_block, 1);
	assert_int_equal(items[1].no_txn_block, 1); /* a syntax error: the keywords decide */
	rb_sql_items_free(items, n);
}

static void test_syntax_errors(void **state)
{
	(void)state;
	rb_sqlparse_result r = RB_SQLPARSE_INIT;
	assert_int_equal(rb_sqlparse("SELECT 'éé', 1 frm x", &r), -1);
	assert_string_equal(r.message, "syntax error at or near \"x\"");
	assert_int_equal(r.error_offset, 21); /* bytes: each é is two */
	assert_int_equal(r.uncertain, 0);
	rb_sqlparse_free(&r);

	/* A variable where neither placeholder fits: not reported as certain. */
	assert_int_equal(rb_sqlparse(":query", &r), -1);
	assert_int_equal(r.uncertain, 1);
	rb_sqlparse_free(&r);

	/* An error away from the variable is certain. */
	assert_int_equal(rb_sqlparse("SELECT :a FRM t WHERE", &r), -1);
	assert_int_equal(r.uncertain, 0);
	rb_sqlparse_free(&r);

	/* Only a literal fits: the second placeholder parses. */
	assert_int_equal(rb_sqlparse("ALTER ROLE r PASSWORD :pw", &r), 0);
	assert_int_equal(r.nvars, 1);
	assert_non_null(r.tree);
	assert_int_equal(r.tree->n_stmts, 1);
	rb_sqlparse_free(&r);

	assert_int_equal(rb_sqlparse("SELECT 1; CREATE INDEX i ON t (a)", &r), 0);
	assert_int_equal(r.tree->n_stmts, 2);
	assert_int_equal(r.tree->stmts[1]->stmt->node_case, PG_QUERY__NODE__NODE_INDEX_STMT);
	assert_int_equal(r.tree->stmts[1]->stmt->index_stmt->relation->location, 28);
	rb_sqlparse_free(&r);
}

/* The syntax alone: the same errors, at the same places, as the full parse; no tree. */
static void test_syntax_only(void **state)
{
	(void)state;
	static const char *const texts[] = {"SELECT 'éé', 1 frm x", ":query", "SELECT :a FRM t WHERE",
					    "INSERT INTO t VALUES (1", "ALTER ROLE r PASSWORD :pw", "INSERT INTO t VALUES (:v)",
					    NULL};
	for (const char *const *t = texts; *t; t++) {
		rb_sqlparse_result full = RB_SQLPARSE_INIT, syn = RB_SQLPARSE_INIT;
		int a = rb_sqlparse(*t, &full), b = rb_sqlparse_syntax(*t, &syn);
		assert_int_equal(a, b);
		assert_null(syn.tree);
		if (a < 0) {
			assert_string_equal(full.message, syn.message);
			assert_int_equal(full.error_offset, syn.error_offset);
			assert_int_equal(full.uncertain, syn.uncertain);
		}
		assert_int_equal(full.nvars, syn.nvars);
		rb_sqlparse_free(&full);
		rb_sqlparse_free(&syn);
	}
}

/* A statement's first word, past comments; none with \; or when it does not fit. */
static void test_first_word(void **state)
{
	(void)state;
	char w[16];
	assert_string_equal(rb_sql_first_word("-- why\n/* a /* nested */ one */ SeLeCt 1", 1, w, sizeof w), "select");
	assert_string_equal(rb_sql_first_word("  INSERT INTO t VALUES (1)", 1, w, sizeof w), "insert");
	assert_string_equal(rb_sql_first_word("(SELECT 1)", 1, w, sizeof w), "");
	assert_string_equal(rb_sql_first_word("SELECT 1 \\; VACUUM", 1, w, sizeof w), "");
	assert_string_equal(rb_sql_first_word("averyveryverylongword x", 1, w, sizeof w), "");
	assert_string_equal(rb_sql_first_word("", 1, w, sizeof w), "");

	/* A query or a data change is classified from its first word: still neither flag. */
	rb_sql_item *items = NULL;
	size_t n = 0;
	rb_error err = RB_ERROR_INIT;
	const char *body = "/* c */ insert into t values (1);\nSELECT 1 \\; VACUUM;\nWITH x AS (SELECT 1) DELETE FROM t;\n";
	assert_int_equal(rb_sql_split(body, "rb.md", 1, 1, &items, &n, &err), 0);
	assert_int_equal(n, 3);
	assert_int_equal(items[0].no_txn_block + items[0].is_txn_control, 0);
	assert_int_equal(items[1].no_txn_block, 1); /* the \\; part is read whole */
	assert_int_equal(items[2].no_txn_block + items[2].is_txn_control, 0);
	rb_sql_items_free(items, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_placeholders),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_split_uses_parser),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_syntax_only),
		cmocka_unit_test(test_first_word),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
