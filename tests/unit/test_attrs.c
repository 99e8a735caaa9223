/*
 * Info strings: the language, the qualifier, both attribute syntaxes
 * (key=value pairs and Runme's JSON object), the column of every attribute,
 * every error with its exact column, and the attribute table's lookups.
 *
 * Every info string here is parsed as written at r.md line 7 with its first
 * character at column 4, so a character at offset k is at column 4 + k.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "attrs.h"

#define LINE 7
#define COL 4

static void parse_ok(const char *info, rb_info *out)
{
	rb_error err = RB_ERROR_INIT;
	if (rb_info_parse(info, "r.md", LINE, COL, out, &err) != 0) {
		char msg[512];
		snprintf(msg, sizeof msg, "'%s' should parse, got %d:%d %s", info, err.line, err.col,
			 err.message ? err.message : "(no message)");
		rb_error_clear(&err);
		fail_msg("%s", msg);
	}
	assert_null(err.message);
}

/* info must fail at column col with a message containing needle, and leave
 * nothing behind in the result. */
static void parse_err(const char *info, int col, const char *needle)
{
	rb_info out;
	rb_error err = RB_ERROR_INIT;
	memset(&out, 0x5a, sizeof out);
	int rc = rb_info_parse(info, "r.md", LINE, COL, &out, &err);
	if (rc != -1) {
		rb_info_free(&out);
		fail_msg("'%s' should fail, but parsed", info);
	}
	if (err.col != col || !err.message || !strstr(err.message, needle)) {
		char msg[512];
		snprintf(msg, sizeof msg, "'%s': expected col %d containing '%s', got col %d '%s'", info,
			 col, needle, err.col, err.message ? err.message : "(no message)");
		rb_error_clear(&err);
		fail_msg("%s", msg);
	}
	assert_int_equal(err.line, LINE);
	assert_int_equal(err.code, RB_EXIT_USAGE);
	assert_string_equal(err.file, "r.md");
	assert_null(out.lang);
	assert_null(out.qualifier);
	assert_null(out.attrs);
	assert_int_equal(out.nattrs, 0);
	rb_error_clear(&err);
}

static void assert_attr(const rb_info *i, size_t k, const char *key, const char *value, int col)
{
	assert_true(k < i->nattrs);
	assert_string_equal(i->attrs[k].key, key);
	assert_string_equal(i->attrs[k].value, value);
	assert_int_equal(i->attrs[k].line, LINE);
	assert_int_equal(i->attrs[k].col, col);
}

/* ---- the language and the qualifier ---- */

static void test_plain_language_has_no_qualifier_or_attributes(void **state)
{
	(void)state;
	rb_info i;
	parse_ok("bash", &i);
	assert_string_equal(i.lang, "bash");
	assert_string_equal(i.qualifier, "");
	assert_int_equal(i.nattrs, 0);
	assert_null(i.attrs);
	assert_int_equal(i.brace_col, 0);
	rb_info_free(&i);
}

static void test_empty_info_string_has_empty_language(void **state)
{
	(void)state;
	rb_info i;
	parse_ok("", &i);
	assert_string_equal(i.lang, "");
	assert_string_equal(i.qualifier, "");
	assert_int_equal(i.nattrs, 0);
	rb_info_free(&i);
}

static void test_trailing_space_after_language_is_ignored(void **state)
{
	(void)state;
	rb_info i;
	parse_ok("sql   ", &i);
	assert_string_equal(i.lang, "sql");
	assert_string_equal(i.qualifier, "");
	rb_info_free(&i);
}

static void test_lua_gate_qualifier_and_its_attribute(void **state)
{
	(void)state;
	rb_info i;
	parse_ok("lua gate {every=5s}", &i);
	assert_string_equal(i.lang, "lua");
	assert_string_equal(i.qualifier, "gate");
	assert_int_equal(i.brace_col, COL + 9);
	assert_int_equal(i.nattrs, 1);
	assert_attr(&i, 0, "every", "5s", COL + 10);
	rb_info_free(&i);
}

static void test_lua_abort_qualifier_without_braces(void **state)
{
	(void)state;
	rb_info i;
	parse_ok("lua abort", &i);
	assert_string_equal(i.lang, "lua");
	assert_string_equal(i.qualifier, "abort");
	assert_int_equal(i.brace_col, 0);
	rb_info_free(&i);
}

static void test_several_words_join_into_one_qualifier(void **state)
{
	(void)state;
	rb_info i;
	parse_ok("lua  gate   extra {skip}", &i);
	assert_string_equal(i.qualifier, "gate extra");
	assert_int_equal(i.nattrs, 1);
	rb_info_free(&i);
}

/* ---- key=value pairs ---- */

static void test_pairs_and_bare_flag(void **state)
{
	(void)state;
	rb_info i;
	parse_ok("bash {name=backup timeout=5m confirm}", &i);
	assert_string_equal(i.lang, "bash");
	assert_string_equal(i.qualifier, "");
	assert_int_equal(i.nattrs, 3);
	assert_string_equal(i.attrs[0].value, "backup");
	assert_string_equal(i.attrs[1].value, "5m");
	assert_string_equal(i.attrs[2].value, "true"); /* a bare flag reads as "true" */
	for (size_t k = 0; k < 3; k++)
		assert_true(i.attrs[k].known);
	rb_info_free(&i);
}

static void test_columns_of_each_attribute(void **state)
{
	(void)state;
	rb_info i;
	/*        offset: 0    5    10   15   20   25   30   */
	parse_ok("bash {name=backup timeout=5m confirm}", &i);
	assert_int_equal(i.brace_col, COL + 5);
	assert_attr(&i, 0, "name", "backup", COL + 6);
	assert_attr(&i, 1, "timeout", "5m", COL + 18);
	assert_attr(&i, 2, "confirm", "true", COL + 29);
	rb_info_free(&i);
}

static void test_brace_right_after_language(void **state)
{
	(void)state;
	rb_info i;
	parse_ok("bash{name=a}", &i);
	assert_string_equal(i.lang, "bash");
	assert_int_equal(i.brace_col, COL + 4);
	assert_attr(&i, 0, "name", "a", COL + 5);
	rb_info_free(&i);
}

static void test_empty_braces_have_no_attributes(void **state)
{
	(void)state;
	rb_info i;
	parse_ok("bash { }", &i);
	assert_int_equal(i.brace_col, COL + 5);
	assert_int_equal(i.nattrs, 0);
	rb_info_free(&i);
}

static void test_double_quoted_value_keeps_spaces(void **state)
{
	(void)state;
	rb_info i;
	parse_ok("bash {confirm=\"PROMOTE TO PROD\" cwd=sub}", &i);
	assert_int_equal(i.nattrs, 2);
	assert_attr(&i, 0, "confirm", "PROMOTE TO PROD", COL + 6);
	assert_attr(&i, 1, "cwd", "sub", COL + 32);
	rb_info_free(&i);
}

static void test_escaped_quote_and_backslash_in_double_quotes(void **state)
{
	(void)state;
	rb_info i;
	parse_ok("bash {when=\"vars.X == \\\"y z\\\" and \\\\\"}", &i);
	assert_int_equal(i.nattrs, 1);
	assert_string_equal(i.attrs[0].value, "vars.X == \"y z\" and \\");
	rb_info_free(&i);
}

static void test_other_backslashes_are_kept_in_double_quotes(void **state)
{
	(void)state;
	rb_info i;
	parse_ok("bash {expect=\"stdout:match('\\d+')\"}", &i);
	assert_string_equal(i.attrs[0].value, "stdout:match('\\d+')");
	rb_info_free(&i);
}

static void test_single_quoted_value_keeps_spaces_and_backslashes(void **state)
{
	(void)state;
	rb_info i;
	parse_ok("bash {confirm='TYPE THIS' cwd='C:\\dir'}", &i);
	assert_int_equal(i.nattrs, 2);
	assert_attr(&i, 0, "confirm", "TYPE THIS", COL + 6);
	assert_attr(&i, 1, "cwd", "C:\\dir", COL + 26);
	rb_info_free(&i);
}

static void test_quoted_value_may_hold_braces_and_commas(void **state)
{
	(void)state;
	rb_info i;
	parse_ok("bash {when=\"f({a=1}, '}')\" skip}", &i);
	assert_int_equal(i.nattrs, 2);
	assert_string_equal(i.attrs[0].value, "f({a=1}, '}')");
	assert_attr(&i, 1, "skip", "true", COL + 27);
	rb_info_free(&i);
}

static void test_commas_separate_attributes(void **state)
{
	(void)state;
	rb_info i;
	parse_ok("bash {name=a,timeout=5s, confirm}", &i);
	assert_int_equal(i.nattrs, 3);
	assert_attr(&i, 0, "name", "a", COL + 6);
	assert_attr(&i, 1, "timeout", "5s", COL + 13);
	assert_attr(&i, 2, "confirm", "true", COL + 25);
	rb_info_free(&i);
}

static void test_unknown_keys_are_kept_and_marked(void **state)
{
	(void)state;
	rb_info i;
	parse_ok("bash {background=true timout=5s name=x}", &i);
	assert_int_equal(i.nattrs, 3);
	assert_string_equal(i.attrs[0].key, "background");
	assert_false(i.attrs[0].known);
	assert_string_equal(i.attrs[1].key, "timout");
	assert_false(i.attrs[1].known);
	assert_true(i.attrs[2].known);
	rb_info_free(&i);
}

/* ---- Runme's JSON form ---- */

static void test_runme_json_values_as_text(void **state)
{
	(void)state;
	rb_info i;
	parse_ok("sh {\"name\":\"x\",\"interactive\":false}", &i);
	assert_string_equal(i.lang, "sh");
	assert_string_equal(i.qualifier, "");
	assert_int_equal(i.brace_col, COL + 3);
	assert_int_equal(i.nattrs, 2);
	assert_attr(&i, 0, "name", "x", COL + 4);
	assert_attr(&i, 1, "interactive", "false", COL + 15);
	assert_true(i.attrs[0].known);
	assert_true(i.attrs[1].known);
	rb_info_free(&i);
}

static void test_runme_json_numbers_and_spacing(void **state)
{
	(void)state;
	rb_info i;
	parse_ok("bash { \"retry\": 3, \"timeout\" : \"90s\" }", &i);
	assert_int_equal(i.nattrs, 2);
	assert_attr(&i, 0, "retry", "3", COL + 7);
	assert_attr(&i, 1, "timeout", "90s", COL + 19);
	rb_info_free(&i);
}

static void test_runme_json_keeps_runme_keys(void **state)
{
	(void)state;
	rb_info i;
	parse_ok("sh {\"background\":true,\"mimeType\":\"text/plain\"}", &i);
	assert_int_equal(i.nattrs, 2);
	assert_string_equal(i.attrs[0].value, "true");
	assert_false(i.attrs[0].known);
	assert_string_equal(i.attrs[1].value, "text/plain");
	rb_info_free(&i);
}

/* ---- errors, each at its column ---- */

static void test_unterminated_brace_points_at_the_brace(void **state)
{
	(void)state;
	parse_err("bash {name=x timeout=5s", COL + 5, "unterminated attribute list");
}

static void test_unterminated_json_brace_points_at_the_brace(void **state)
{
	(void)state;
	parse_err("sh {\"name\":\"x\"", COL + 3, "unterminated attribute list");
}

static void test_unterminated_double_quote_points_at_the_quote(void **state)
{
	(void)state;
	parse_err("bash {when=\"open}", COL + 11, "unterminated quoted value of attribute 'when'");
}

static void test_unterminated_single_quote_points_at_the_quote(void **state)
{
	(void)state;
	parse_err("bash {confirm='x}", COL + 14, "unterminated quoted value of attribute 'confirm'");
}

static void test_equals_without_value_at_end(void **state)
{
	(void)state;
	parse_err("bash {name=}", COL + 6, "attribute 'name' has '=' but no value");
}

static void test_equals_without_value_before_space(void **state)
{
	(void)state;
	parse_err("bash {timeout=5s name= skip}", COL + 17, "attribute 'name' has '=' but no value");
}

static void test_equals_without_value_before_comma(void **state)
{
	(void)state;
	parse_err("bash {name=,skip}", COL + 6, "attribute 'name' has '=' but no value");
}

static void test_duplicate_key_points_at_the_second(void **state)
{
	(void)state;
	parse_err("bash {name=a name=b}", COL + 13, "attribute 'name' given twice");
}

static void test_duplicate_flag_points_at_the_second(void **state)
{
	(void)state;
	parse_err("bash {skip, timeout=1s, skip}", COL + 24, "attribute 'skip' given twice");
}

static void test_text_after_closing_brace(void **state)
{
	(void)state;
	parse_err("bash {name=a} trailing", COL + 14, "unexpected text after the attribute list");
}

static void test_text_after_closing_brace_of_quoted_value(void **state)
{
	(void)state;
	parse_err("bash {when=\"a}\"} t", COL + 17, "unexpected text after the attribute list");
}

static void test_key_must_start_with_a_letter(void **state)
{
	(void)state;
	parse_err("bash {1a=2}", COL + 6, "expected an attribute name, found '1'");
	parse_err("bash {=x}", COL + 6, "expected an attribute name, found '='");
}

static void test_quote_right_after_a_key(void **state)
{
	(void)state;
	parse_err("bash {confirm\"x\"}", COL + 13, "unexpected '\"' after attribute 'confirm'");
}

static void test_bad_json_points_at_the_problem(void **state)
{
	(void)state;
	/* the second string is where a ':' or ',' was expected */
	parse_err("sh {\"name\" \"x\"}", COL + 11, "invalid JSON attributes");
}

static void test_json_nested_value_is_refused(void **state)
{
	(void)state;
	parse_err("sh {\"name\": [1, 2]}", COL + 4, "must be strings, numbers or booleans");
	parse_err("sh {\"a\":\"b\", \"x\": {\"y\": 1}}", COL + 13, "must be strings, numbers or booleans");
}

static void test_json_duplicate_key_points_at_the_second(void **state)
{
	(void)state;
	parse_err("sh {\"name\":\"a\",\"name\":\"b\"}", COL + 15, "attribute 'name' given twice");
}

/*
 * The list ends at the first '}' outside quotes, not at the last '}' of the
 * string: otherwise this reads as name="a}" plus a flag x, with no error.
 */
static void test_text_after_closing_brace_containing_a_brace(void **state)
{
	(void)state;
	parse_err("bash {name=a} x}", COL + 14, "unexpected text after the attribute list");
}

/*
 * A quoted value must be followed by a separator: otherwise `when="x"skip`
 * silently reads as two attributes (a step that is then skipped).
 */
static void test_quoted_value_must_be_followed_by_a_separator(void **state)
{
	(void)state;
	parse_err("bash {when=\"x\"skip}", COL + 14, "unexpected 's' after attribute 'when'");
}

/* ---- the attribute table ---- */

static void test_lookup_knows_every_documented_attribute(void **state)
{
	(void)state;
	const char *documented[] = {"name", "timeout", "retry", "retry_delay", "when", "expect",
				    "expect_error", "capture", "confirm", "continue_on_error",
				    "skip", "db", "transaction", "cwd", "interactive", "every"};
	for (size_t k = 0; k < sizeof documented / sizeof *documented; k++) {
		const rb_attr_spec *s = rb_attr_lookup(documented[k]);
		if (!s)
			fail_msg("attribute '%s' is missing from the table", documented[k]);
		assert_string_equal(s->name, documented[k]);
		assert_non_null(s->help);
	}
}

static void test_lookup_gives_each_attribute_its_type(void **state)
{
	(void)state;
	assert_int_equal(rb_attr_lookup("name")->type, RB_ATTR_ID);
	assert_int_equal(rb_attr_lookup("timeout")->type, RB_ATTR_DURATION);
	assert_int_equal(rb_attr_lookup("every")->type, RB_ATTR_DURATION);
	assert_int_equal(rb_attr_lookup("retry")->type, RB_ATTR_COUNT);
	assert_int_equal(rb_attr_lookup("skip")->type, RB_ATTR_FLAG);
	assert_int_equal(rb_attr_lookup("when")->type, RB_ATTR_LUA);
	assert_int_equal(rb_attr_lookup("confirm")->type, RB_ATTR_FLAG_OR_TEXT);
	assert_int_equal(rb_attr_lookup("transaction")->type, RB_ATTR_TXN);
}

static void test_lookup_refuses_unknown_names(void **state)
{
	(void)state;
	assert_null(rb_attr_lookup("timout"));
	assert_null(rb_attr_lookup("Timeout"));
	assert_null(rb_attr_lookup(""));
	assert_null(rb_attr_lookup("background"));
}

static void test_runme_attributes_are_recognised(void **state)
{
	(void)state;
	assert_true(rb_attr_is_runme("background"));
	assert_false(rb_attr_is_runme("interpreter")); /* honoured: docs/format.md, "Interpreters" */
	assert_non_null(rb_attr_lookup("interpreter"));
	assert_true(rb_attr_is_runme("mimeType"));
	assert_false(rb_attr_is_runme("timeout"));
	assert_false(rb_attr_is_runme("name"));
	assert_false(rb_attr_is_runme("nonsense"));
}

static void test_suggest_nearest_known_attribute(void **state)
{
	(void)state;
	assert_string_equal(rb_attr_suggest("timout"), "timeout");
	assert_string_equal(rb_attr_suggest("nmae"), "name");
	assert_string_equal(rb_attr_suggest("contine_on_error"), "continue_on_error");
	assert_string_equal(rb_attr_suggest("TIMEOUT"), "timeout");
	assert_string_equal(rb_attr_suggest("retyr"), "retry");
}

static void test_suggest_nothing_when_far_from_every_name(void **state)
{
	(void)state;
	assert_null(rb_attr_suggest("zzzzzzzz"));
	assert_null(rb_attr_suggest("background"));
	assert_null(rb_attr_suggest("a_name_much_longer_than_any_attribute_at_all"));
}

static void test_parse_flag_values(void **state)
{
	(void)state;
	assert_int_equal(rb_parse_flag("true"), 1);
	assert_int_equal(rb_parse_flag("yes"), 1);
	assert_int_equal(rb_parse_flag("1"), 1);
	assert_int_equal(rb_parse_flag("false"), 0);
	assert_int_equal(rb_parse_flag("no"), 0);
	assert_int_equal(rb_parse_flag("0"), 0);
}

static void test_parse_flag_refuses_anything_else(void **state)
{
	(void)state;
	assert_int_equal(rb_parse_flag("maybe"), -1);
	assert_int_equal(rb_parse_flag(""), -1);
	assert_int_equal(rb_parse_flag("2"), -1);
	assert_int_equal(rb_parse_flag("truee"), -1);
}

static void test_info_free_accepts_a_zeroed_info(void **state)
{
	(void)state;
	rb_info i;
	memset(&i, 0, sizeof i);
	rb_info_free(&i);
	rb_info_free(NULL);
	assert_null(i.lang);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_language_has_no_qualifier_or_attributes),
		cmocka_unit_test(test_empty_info_string_has_empty_language),
		cmocka_unit_test(test_trailing_space_after_language_is_ignored),
		cmocka_unit_test(test_lua_gate_qualifier_and_its_attribute),
		cmocka_unit_test(test_lua_abort_qualifier_without_braces),
		cmocka_unit_test(test_several_words_join_into_one_qualifier),
		cmocka_unit_test(test_pairs_and_bare_flag),
		cmocka_unit_test(test_columns_of_each_attribute),
		cmocka_unit_test(test_brace_right_after_language),
		cmocka_unit_test(test_empty_braces_have_no_attributes),
		cmocka_unit_test(test_double_quoted_value_keeps_spaces),
		cmocka_unit_test(test_escaped_quote_and_backslash_in_double_quotes),
		cmocka_unit_test(test_other_backslashes_are_kept_in_double_quotes),
		cmocka_unit_test(test_single_quoted_value_keeps_spaces_and_backslashes),
		cmocka_unit_test(test_quoted_value_may_hold_braces_and_commas),
		cmocka_unit_test(test_commas_separate_attributes),
		cmocka_unit_test(test_unknown_keys_are_kept_and_marked),
		cmocka_unit_test(test_runme_json_values_as_text),
		cmocka_unit_test(test_runme_json_numbers_and_spacing),
		cmocka_unit_test(test_runme_json_keeps_runme_keys),
		cmocka_unit_test(test_unterminated_brace_points_at_the_brace),
		cmocka_unit_test(test_unterminated_json_brace_points_at_the_brace),
		cmocka_unit_test(test_unterminated_double_quote_points_at_the_quote),
		cmocka_unit_test(test_unterminated_single_quote_points_at_the_quote),
		cmocka_unit_test(test_equals_without_value_at_end),
		cmocka_unit_test(test_equals_without_value_before_space),
		cmocka_unit_test(test_equals_without_value_before_comma),
		cmocka_unit_test(test_duplicate_key_points_at_the_second),
		cmocka_unit_test(test_duplicate_flag_points_at_the_second),
		cmocka_unit_test(test_text_after_closing_brace),
		cmocka_unit_test(test_text_after_closing_brace_of_quoted_value),
		cmocka_unit_test(test_key_must_start_with_a_letter),
		cmocka_unit_test(test_quote_right_after_a_key),
		cmocka_unit_test(test_bad_json_points_at_the_problem),
		cmocka_unit_test(test_json_nested_value_is_refused),
		cmocka_unit_test(test_json_duplicate_key_points_at_the_second),
		cmocka_unit_test(test_text_after_closing_brace_containing_a_brace),
		cmocka_unit_test(test_quoted_value_must_be_followed_by_a_separator),
		cmocka_unit_test(test_lookup_knows_every_documented_attribute),
		cmocka_unit_test(test_lookup_gives_each_attribute_its_type),
		cmocka_unit_test(test_lookup_refuses_unknown_names),
		cmocka_unit_test(test_runme_attributes_are_recognised),
		cmocka_unit_test(test_suggest_nearest_known_attribute),
		cmocka_unit_test(test_suggest_nothing_when_far_from_every_name),
		cmocka_unit_test(test_parse_flag_values),
		cmocka_unit_test(test_parse_flag_refuses_anything_else),
		cmocka_unit_test(test_info_free_accepts_a_zeroed_info),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
