/*
 * The variable set: setting and replacing (the run's precedence is the
 * order of the sets), lookups, the environment handed to steps, and the
 * expansion of ${NAME} and $NAME.
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

#include "vars.h"

static int envp_count(char **envp)
{
	int n = 0;
	while (envp[n])
		n++;
	return n;
}

static int envp_has(char **envp, const char *entry)
{
	for (char **e = envp; *e; e++)
		if (!strcmp(*e, entry))
			return 1;
	return 0;
}

/* Expands text in v and checks the result. */
static void expands_to(const rb_vars *v, const char *text, const char *want)
{
	static char sentinel;
	char *missing = &sentinel; /* must be reset to NULL on success */
	char *got = rb_vars_expand(v, text, &missing);
	if (!got) {
		char msg[256];
		snprintf(msg, sizeof msg, "'%s': expected '%s', got an error for '%s'", text, want,
			 missing && missing != &sentinel ? missing : "(null)");
		if (missing != &sentinel)
			free(missing);
		fail_msg("%s", msg);
	}
	assert_null(missing);
	if (strcmp(got, want)) {
		char msg[256];
		snprintf(msg, sizeof msg, "'%s': expected '%s', got '%s'", text, want, got);
		free(got);
		fail_msg("%s", msg);
	}
	free(got);
}

/* Expanding text in v must fail on the variable name. */
static void misses(const rb_vars *v, const char *text, const char *name)
{
	char *missing = NULL;
	char *got = rb_vars_expand(v, text, &missing);
	if (got) {
		free(got);
		fail_msg("'%s' should fail on '%s'", text, name);
	}
	assert_non_null(missing);
	assert_string_equal(missing, name);
	free(missing);
}

static void test_set_then_get(void **state)
{
	(void)state;
	rb_vars v = RB_VARS_INIT;
	rb_vars_set(&v, "BACKUP_DIR", "backups", RB_VAR_DEFAULT);
	assert_int_equal(v.count, 1);
	assert_string_equal(rb_vars_get(&v, "BACKUP_DIR"), "backups");
	const rb_var *x = rb_vars_find(&v, "BACKUP_DIR");
	assert_non_null(x);
	assert_int_equal(x->source, RB_VAR_DEFAULT);
	rb_vars_free(&v);
}

static void test_set_copies_name_and_value(void **state)
{
	(void)state;
	rb_vars v = RB_VARS_INIT;
	char name[] = "X";
	char value[] = "one";
	rb_vars_set(&v, name, value, RB_VAR_SET);
	name[0] = 'Y';
	value[0] = 'O';
	assert_string_equal(rb_vars_get(&v, "X"), "one");
	assert_null(rb_vars_get(&v, "Y"));
	rb_vars_free(&v);
}

static void test_set_replaces_value_and_source(void **state)
{
	(void)state;
	rb_vars v = RB_VARS_INIT;
	rb_vars_set(&v, "X", "old", RB_VAR_ENV);
	rb_vars_set(&v, "X", "new", RB_VAR_CAPTURE);
	assert_int_equal(v.count, 1);
	assert_string_equal(rb_vars_get(&v, "X"), "new");
	assert_int_equal(rb_vars_find(&v, "X")->source, RB_VAR_CAPTURE);
	rb_vars_free(&v);
}

/* The run's order: environment, front matter env, --set, captures. */
static void test_precedence_follows_the_order_of_sets(void **state)
{
	(void)state;
	rb_vars v = RB_VARS_INIT;
	rb_vars_set(&v, "A", "env", RB_VAR_ENV);
	rb_vars_set(&v, "B", "env", RB_VAR_ENV);
	rb_vars_set(&v, "C", "env", RB_VAR_ENV);
	rb_vars_set(&v, "D", "env", RB_VAR_ENV);
	rb_vars_set(&v, "B", "default", RB_VAR_DEFAULT);
	rb_vars_set(&v, "C", "default", RB_VAR_DEFAULT);
	rb_vars_set(&v, "D", "default", RB_VAR_DEFAULT);
	rb_vars_set(&v, "C", "set", RB_VAR_SET);
	rb_vars_set(&v, "D", "set", RB_VAR_SET);
	rb_vars_set(&v, "D", "captured", RB_VAR_CAPTURE);
	assert_int_equal(v.count, 4);
	assert_string_equal(rb_vars_get(&v, "A"), "env");
	assert_string_equal(rb_vars_get(&v, "B"), "default");
	assert_string_equal(rb_vars_get(&v, "C"), "set");
	assert_string_equal(rb_vars_get(&v, "D"), "captured");
	assert_int_equal(rb_vars_find(&v, "A")->source, RB_VAR_ENV);
	assert_int_equal(rb_vars_find(&v, "B")->source, RB_VAR_DEFAULT);
	assert_int_equal(rb_vars_find(&v, "C")->source, RB_VAR_SET);
	assert_int_equal(rb_vars_find(&v, "D")->source, RB_VAR_CAPTURE);
	rb_vars_free(&v);
}

static void test_names_are_case_sensitive_and_exact(void **state)
{
	(void)state;
	rb_vars v = RB_VARS_INIT;
	rb_vars_set(&v, "PATHX", "long", RB_VAR_SET);
	rb_vars_set(&v, "path", "lower", RB_VAR_SET);
	assert_null(rb_vars_get(&v, "PATH"));
	assert_null(rb_vars_get(&v, "PATHXY"));
	assert_string_equal(rb_vars_get(&v, "path"), "lower");
	rb_vars_free(&v);
}

static void test_get_of_a_missing_name_is_null(void **state)
{
	(void)state;
	rb_vars v = RB_VARS_INIT;
	assert_null(rb_vars_get(&v, "NOPE"));
	assert_null(rb_vars_find(&v, "NOPE"));
	rb_vars_set(&v, "X", "1", RB_VAR_SET);
	assert_null(rb_vars_get(&v, "NOPE"));
	rb_vars_free(&v);
}

static void test_empty_value_is_defined(void **state)
{
	(void)state;
	rb_vars v = RB_VARS_INIT;
	rb_vars_set(&v, "EMPTY", "", RB_VAR_SET);
	assert_string_equal(rb_vars_get(&v, "EMPTY"), "");
	expands_to(&v, "[${EMPTY}]", "[]");
	rb_vars_free(&v);
}

static void test_unset_removes_only_that_name(void **state)
{
	(void)state;
	rb_vars v = RB_VARS_INIT;
	rb_vars_set(&v, "A", "1", RB_VAR_SET);
	rb_vars_set(&v, "B", "2", RB_VAR_SET);
	rb_vars_set(&v, "C", "3", RB_VAR_SET);
	rb_vars_unset(&v, "A");
	assert_int_equal(v.count, 2);
	assert_null(rb_vars_get(&v, "A"));
	assert_string_equal(rb_vars_get(&v, "B"), "2");
	assert_string_equal(rb_vars_get(&v, "C"), "3");
	rb_vars_unset(&v, "NOT_THERE");
	assert_int_equal(v.count, 2);
	rb_vars_free(&v);
}

static void test_many_variables_stay_reachable(void **state)
{
	(void)state;
	rb_vars v = RB_VARS_INIT;
	char name[32], value[32];
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof name, "V%d", i);
		snprintf(value, sizeof value, "value %d", i);
		rb_vars_set(&v, name, value, RB_VAR_SET);
	}
	assert_int_equal(v.count, 300);
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof name, "V%d", i);
		snprintf(value, sizeof value, "value %d", i);
		assert_string_equal(rb_vars_get(&v, name), value);
	}
	rb_vars_free(&v);
	assert_int_equal(v.count, 0);
	assert_null(v.items);
}

static void test_load_environ_reads_the_process_environment(void **state)
{
	(void)state;
	rb_vars v = RB_VARS_INIT;
	assert_int_equal(setenv("RB_UNIT_FROM_ENV", "a=b c", 1), 0);
	rb_vars_load_environ(&v);
	assert_string_equal(rb_vars_get(&v, "RB_UNIT_FROM_ENV"), "a=b c");
	assert_int_equal(rb_vars_find(&v, "RB_UNIT_FROM_ENV")->source, RB_VAR_ENV);
	rb_vars_set(&v, "RB_UNIT_FROM_ENV", "override", RB_VAR_DEFAULT);
	assert_string_equal(rb_vars_get(&v, "RB_UNIT_FROM_ENV"), "override");
	unsetenv("RB_UNIT_FROM_ENV");
	rb_vars_free(&v);
}

static void test_envp_has_one_entry_per_variable(void **state)
{
	(void)state;
	rb_vars v = RB_VARS_INIT;
	rb_vars_set(&v, "A", "1", RB_VAR_SET);
	rb_vars_set(&v, "B", "x=y z", RB_VAR_CAPTURE);
	rb_vars_set(&v, "EMPTY", "", RB_VAR_DEFAULT);
	rb_vars_set(&v, "A", "2", RB_VAR_CAPTURE);
	char **envp = rb_vars_envp(&v);
	assert_int_equal(envp_count(envp), 3);
	assert_true(envp_has(envp, "A=2"));
	assert_true(envp_has(envp, "B=x=y z"));
	assert_true(envp_has(envp, "EMPTY="));
	assert_false(envp_has(envp, "A=1"));
	rb_vars_envp_free(envp);
	rb_vars_free(&v);
}

static void test_envp_is_independent_of_the_set(void **state)
{
	(void)state;
	rb_vars v = RB_VARS_INIT;
	rb_vars_set(&v, "A", "before", RB_VAR_SET);
	char **envp = rb_vars_envp(&v);
	rb_vars_set(&v, "A", "after", RB_VAR_SET);
	rb_vars_free(&v);
	assert_string_equal(envp[0], "A=before");
	assert_null(envp[1]);
	rb_vars_envp_free(envp);
}

static void test_envp_of_an_empty_set_is_just_the_terminator(void **state)
{
	(void)state;
	rb_vars v = RB_VARS_INIT;
	char **envp = rb_vars_envp(&v);
	assert_non_null(envp);
	assert_null(envp[0]);
	rb_vars_envp_free(envp);
	rb_vars_envp_free(NULL);
}

static void test_variable_names(void **state)
{
	(void)state;
	assert_true(rb_var_name_valid("X"));
	assert_true(rb_var_name_valid("_private"));
	assert_true(rb_var_name_valid("BACKUP_DIR2"));
	assert_false(rb_var_name_valid(""));
	assert_false(rb_var_name_valid("2X"));
	assert_false(rb_var_name_valid("A-B"));
	assert_false(rb_var_name_valid("A B"));
	assert_false(rb_var_name_valid("A.B"));
}

static void test_expand_braced_and_bare(void **state)
{
	(void)state;
	rb_vars v = RB_VARS_INIT;
	rb_vars_set(&v, "HOST", "db.local", RB_VAR_SET);
	rb_vars_set(&v, "PORT", "5432", RB_VAR_SET);
	expands_to(&v, "postgres://${HOST}:$PORT/app", "postgres://db.local:5432/app");
	expands_to(&v, "$HOST$PORT", "db.local5432");
	expands_to(&v, "${HOST}${PORT}", "db.local5432");
	rb_vars_free(&v);
}

static void test_expand_bare_name_ends_at_first_non_name_char(void **state)
{
	(void)state;
	rb_vars v = RB_VARS_INIT;
	rb_vars_set(&v, "X", "1", RB_VAR_SET);
	rb_vars_set(&v, "XY", "2", RB_VAR_SET);
	expands_to(&v, "$XY", "2");
	expands_to(&v, "${X}Y", "1Y");
	expands_to(&v, "$X-Y $X.Y $X/", "1-Y 1.Y 1/");
	rb_vars_free(&v);
}

static void test_expand_without_variables_copies_text(void **state)
{
	(void)state;
	rb_vars v = RB_VARS_INIT;
	expands_to(&v, "", "");
	expands_to(&v, "plain text", "plain text");
	rb_vars_free(&v);
}

static void test_dollar_not_followed_by_a_name_stays(void **state)
{
	(void)state;
	rb_vars v = RB_VARS_INIT;
	rb_vars_set(&v, "X", "1", RB_VAR_SET);
	expands_to(&v, "cost $ 5", "cost $ 5");
	expands_to(&v, "end$", "end$");
	expands_to(&v, "$1 $$ ${1}", "$1 $$ ${1}");
	expands_to(&v, "${X", "${X");
	expands_to(&v, "${}", "${}");
	rb_vars_free(&v);
}

static void test_expanded_values_are_not_expanded_again(void **state)
{
	(void)state;
	rb_vars v = RB_VARS_INIT;
	rb_vars_set(&v, "A", "$B", RB_VAR_SET);
	rb_vars_set(&v, "B", "no", RB_VAR_SET);
	expands_to(&v, "${A}", "$B");
	rb_vars_free(&v);
}

static void test_missing_bare_variable_is_an_error(void **state)
{
	(void)state;
	rb_vars v = RB_VARS_INIT;
	rb_vars_set(&v, "HOST", "h", RB_VAR_SET);
	misses(&v, "$HOST:$PORT", "PORT");
	rb_vars_free(&v);
}

static void test_missing_braced_variable_is_an_error(void **state)
{
	(void)state;
	rb_vars v = RB_VARS_INIT;
	misses(&v, "url=${PROD_DATABASE_URL}", "PROD_DATABASE_URL");
	rb_vars_free(&v);
}

static void test_first_missing_variable_is_named(void **state)
{
	(void)state;
	rb_vars v = RB_VARS_INIT;
	misses(&v, "${FIRST} ${SECOND}", "FIRST");
	rb_vars_free(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set_then_get),
		cmocka_unit_test(test_set_copies_name_and_value),
		cmocka_unit_test(test_set_replaces_value_and_source),
		cmocka_unit_test(test_precedence_follows_the_order_of_sets),
		cmocka_unit_test(test_names_are_case_sensitive_and_exact),
		cmocka_unit_test(test_get_of_a_missing_name_is_null),
		cmocka_unit_test(test_empty_value_is_defined),
		cmocka_unit_test(test_unset_removes_only_that_name),
		cmocka_unit_test(test_many_variables_stay_reachable),
		cmocka_unit_test(test_load_environ_reads_the_process_environment),
		cmocka_unit_test(test_envp_has_one_entry_per_variable),
		cmocka_unit_test(test_envp_is_independent_of_the_set),
		cmocka_unit_test(test_envp_of_an_empty_set_is_just_the_terminator),
		cmocka_unit_test(test_variable_names),
		cmocka_unit_test(test_expand_braced_and_bare),
		cmocka_unit_test(test_expand_bare_name_ends_at_first_non_name_char),
		cmocka_unit_test(test_expand_without_variables_copies_text),
		cmocka_unit_test(test_dollar_not_followed_by_a_name_stays),
		cmocka_unit_test(test_expanded_values_are_not_expanded_again),
		cmocka_unit_test(test_missing_bare_variable_is_an_error),
		cmocka_unit_test(test_missing_braced_variable_is_an_error),
		cmocka_unit_test(test_first_missing_variable_is_named),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
