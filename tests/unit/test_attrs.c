/*
 * Info strings: both attribute syntaxes, positions, and every error with
 * its column.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "attrs.h"

static void parse_ok(const char *info, rb_info *out)
{
	rb_error err = RB_ERROR_INIT;
	if (rb_info_parse(info, "r.md", 7, 4, out, &err) != 0)
		fail_msg("'%s': %s", info, err.message);
}

static void parse_err(const char *info, int col, const char *needle)
{
	rb_info out;
	rb_error err = RB_ERROR_INIT;
	assert_int_equal(rb_info_parse(info, "r.md", 7, 4, &out, &err), -1);
	assert_int_equal(err.line, 7);
	if (err.col != col || !strstr(err.message, needle))
		fail_msg("'%s': expected col %d '%s', got col %d '%s'", info, col, needle, err.col, err.message);
	assert_null(out.attrs);
	rb_error_clear(&err);
}

static void test_plain_language(void **state)
{
	(void)state;
	rb_info i;
	parse_ok("bash", &i);
	assert_string_equal(i.lang, "bash");
	assert_string_equal(i.qualifier, "");
	assert_int_equal(i.nattrs, 0);
	rb_info_free(&i);
}

static void test_pairs_flags_and_columns(void **state)
{
	(void)state;
	rb_info i;
	/* columns: info starts at column 4 */
	parse_ok("bash {name=backup timeout=5m confirm}", &i);
	assert_int_equal(i.nattrs, 3);
	assert_string_equal(i.attrs[0].key, "name");
	assert_string_equal(i.attrs[0].value, "backup");
	assert_int_equal(i.attrs[0].col, 10);
	assert_string_equal(i.attrs[1].key, "timeout");
	assert_int_equal(i.attrs[1].col, 22);
	assert_string_equal(i.attrs[2].key, "confirm");
	assert_string_equal(i.attrs[2].value, "true");
	assert_int_equal(i.brace_col, 9);
	rb_info_free(&i);
}

static void test_quoted_values(void **state)
{
	(void)state;
	rb_info i;
	parse_ok("bash {when=\"vars.X == \\\"y z\\\"\", confirm='TYPE THIS', cwd=sub}", &i);
	assert_int_equal(i.nattrs, 3);
	assert_string_equal(i.attrs[0].value, "vars.X == \"y z\"");
	assert_string_equal(i.attrs[1].value, "TYPE THIS");
	assert_string_equal(i.attrs[2].value, "sub");
	rb_info_free(&i);
}

static void test_runme_json_form(void **state)
{
	(void)state;
	rb_info i;
	parse_ok("sh {\"name\":\"x\",\"interactive\":false, \"retry\": 3}", &i);
	assert_string_equal(i.lang, "sh");
	assert_int_equal(i.nattrs, 3);
	assert_string_equal(i.attrs[0].key, "name");
	assert_string_equal(i.attrs[0].value, "x");
	assert_string_equal(i.attrs[1].value, "false");
	assert_string_equal(i.attrs[2].value, "3");
	assert_true(i.attrs[0].known);
	rb_info_free(&i);
}

static void test_qualifier(void **state)
{
	(void)state;
	rb_info i;
	parse_ok("lua gate {every=5s}", &i);
	assert_string_equal(i.lang, "lua");
	assert_string_equal(i.qualifier, "gate");
	assert_string_equal(i.attrs[0].key, "every");
	rb_info_free(&i);
}

static void test_errors_with_columns(void **state)
{
	(void)state;
	parse_err("bash {name=x timeout=5s", 9, "unterminated attribute list");
	parse_err("bash {when=\"open}", 15, "unterminated quoted value");
	parse_err("bash {name=}", 10, "has '=' but no value");
	parse_err("bash {name=a name=b}", 17, "given twice");
	parse_err("bash {name=a} trailing", 18, "unexpected text after the attribute list");
	parse_err("sh {\"name\": [1, 2]}", 8, "must be strings, numbers or booleans");
	parse_err("bash {=x}", 10, "expected an attribute name");
}

static void test_table_lookups(void **state)
{
	(void)state;
	assert_non_null(rb_attr_lookup("timeout"));
	assert_null(rb_attr_lookup("timout"));
	assert_string_equal(rb_attr_suggest("timout"), "timeout");
	assert_string_equal(rb_attr_suggest("contine_on_error"), "continue_on_error");
	assert_null(rb_attr_suggest("zzzzzzzz"));
	assert_true(rb_attr_is_runme("background"));
	assert_false(rb_attr_is_runme("timeout"));
	assert_int_equal(rb_parse_flag("yes"), 1);
	assert_int_equal(rb_parse_flag("0"), 0);
	assert_int_equal(rb_parse_flag("maybe"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_language),
		cmocka_unit_test(test_pairs_flags_and_columns),
		cmocka_unit_test(test_quoted_values),
		cmocka_unit_test(test_runme_json_form),
		cmocka_unit_test(test_qualifier),
		cmocka_unit_test(test_errors_with_columns),
		cmocka_unit_test(test_table_lookups),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
