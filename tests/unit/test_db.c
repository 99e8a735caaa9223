/*
 * Connection strings with their password hidden, no server needed:
 * rb_dsn_redact (the "***" copy shown in errors and plans) and
 * rb_dsn_password (the value handed to the redactor) on URLs (user:pw@,
 * ?password=, percent-encoding, host lists) and the key=value form (quoted
 * values, escapes, spaces around '='), with no password, an empty one, and
 * one equal to other parts of the string.
 *
 * The tests named test_leak_* are cases that once showed the password,
 * as libpq reads it (checked with PQconninfoParse), in clear, or where
 * rb_dsn_password returned something else. Then: sslpassword, the
 * secrets handed to a redactor (rb_dsn_add_secrets), the in-place scrub
 * of a command line (rb_dsn_scrub), and strings libpq refuses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

/* The result a test holds: freed by the teardown when an assertion ends
 * the test early, so that only the code under test can leak. */
static char *held[4];

static char *hold(char *s)
{
	for (size_t i = 0; i < sizeof held / sizeof *held; i++) {
		if (!held[i]) {
			held[i] = s;
			return s;
		}
	}
	fail_msg("hold: too many strings held");
	return s;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof held / sizeof *held; i++) {
		free(held[i]);
		held[i] = NULL;
	}
	return 0;
}

/* rb_dsn_redact(dsn) must be exactly want. */
#define assert_redacted(dsn, want) assert_string_equal(hold(rb_dsn_redact(dsn)), (want))

/* rb_dsn_password(dsn) must be exactly want (NULL: no password). */
static void check_password(const char *dsn, const char *want)
{
	char *pw = hold(rb_dsn_password(dsn));
	if (!want) {
		if (pw)
			fail_msg("rb_dsn_password(\"%s\") = \"%s\", expected NULL", dsn, pw);
		return;
	}
	if (!pw)
		fail_msg("rb_dsn_password(\"%s\") = NULL, expected \"%s\"", dsn, want);
	assert_string_equal(pw, want);
}

/* ---- URL form ---- */

static void test_url_user_password(void **state)
{
	(void)state;
	const char *dsn = "postgres://alice:s3cret@db.example.com:5432/app";
	assert_redacted(dsn, "postgres://alice:***@db.example.com:5432/app");
	check_password(dsn, "s3cret");
}

static void test_url_postgresql_scheme_keeps_the_query(void **state)
{
	(void)state;
	const char *dsn = "postgresql://alice:s3cret@db.example.com/app?sslmode=require";
	assert_redacted(dsn, "postgresql://alice:***@db.example.com/app?sslmode=require");
	check_password(dsn, "s3cret");
}

static void test_url_password_query_parameter(void **state)
{
	(void)state;
	const char *dsn = "postgres://alice@db.example.com/app?password=s3cret";
	assert_redacted(dsn, "postgres://alice@db.example.com/app?password=***");
	check_password(dsn, "s3cret");
}

static void test_url_password_among_other_parameters(void **state)
{
	(void)state;
	const char *dsn = "postgres://alice@db.example.com/app?sslmode=require&password=s3cret&application_name=x";
	assert_redacted(dsn, "postgres://alice@db.example.com/app?sslmode=require&password=***&application_name=x");
	check_password(dsn, "s3cret");
}

static void test_url_password_parameter_without_database(void **state)
{
	(void)state;
	const char *dsn = "postgres://db.example.com?password=s3cret&sslmode=require";
	assert_redacted(dsn, "postgres://db.example.com?password=***&sslmode=require");
	check_password(dsn, "s3cret");
}

/* The encoded value is hidden whole: an encoded '&' does not end it. */
static void test_url_percent_encoded_password_parameter_is_hidden_whole(void **state)
{
	(void)state;
	const char *dsn = "postgres://alice@db.example.com/app?password=p%40ss%26word&sslmode=require";
	assert_redacted(dsn, "postgres://alice@db.example.com/app?password=***&sslmode=require");
}

static void test_url_percent_encoded_userinfo_password_is_hidden_whole(void **state)
{
	(void)state;
	const char *dsn = "postgres://alice:p%40ss%3Aw@db.example.com/app";
	assert_redacted(dsn, "postgres://alice:***@db.example.com/app");
}

/* An unencoded '@' in the password: everything up to the last '@' of the
 * authority is hidden (libpq itself would stop at the first). */
static void test_url_raw_at_sign_hides_up_to_the_last_at(void **state)
{
	(void)state;
	const char *dsn = "postgres://alice:p@ss@db.example.com/app";
	assert_redacted(dsn, "postgres://alice:***@db.example.com/app");
	check_password(dsn, "p@ss");
}

static void test_url_host_list(void **state)
{
	(void)state;
	const char *dsn = "postgres://alice:s3cret@h1:5432,h2:5433/app?target_session_attrs=read-write";
	assert_redacted(dsn, "postgres://alice:***@h1:5432,h2:5433/app?target_session_attrs=read-write");
	check_password(dsn, "s3cret");
}

static void test_url_ipv6_host_with_password_parameter(void **state)
{
	(void)state;
	const char *dsn = "postgres://[::1]:5432/app?password=s3cret";
	assert_redacted(dsn, "postgres://[::1]:5432/app?password=***");
	check_password(dsn, "s3cret");
}

static void test_url_without_password_is_unchanged(void **state)
{
	(void)state;
	const char *dsns[] = {
		"postgres://alice@db.example.com/app",
		"postgres://db.example.com:5432/app?sslmode=require&application_name=x",
		"postgresql:///app?host=/var/run/postgresql",
		"postgres://",
	};
	for (size_t i = 0; i < sizeof dsns / sizeof *dsns; i++) {
		assert_redacted(dsns[i], dsns[i]);
		check_password(dsns[i], NULL);
		teardown(NULL);
	}
}

/* Only the password's own place is hidden, not its other occurrences. */
static void test_url_password_equal_to_other_parts(void **state)
{
	(void)state;
	const char *dsn = "postgres://postgres:postgres@postgres/postgres";
	assert_redacted(dsn, "postgres://postgres:***@postgres/postgres");
	check_password(dsn, "postgres");
}

static void test_url_empty_password(void **state)
{
	(void)state;
	const char *dsn = "postgres://alice:@db.example.com/app";
	assert_redacted(dsn, "postgres://alice:***@db.example.com/app");
	check_password(dsn, NULL);
	teardown(NULL);
	dsn = "postgres://alice@db.example.com/app?password=&sslmode=require";
	assert_redacted(dsn, "postgres://alice@db.example.com/app?password=***&sslmode=require");
	check_password(dsn, NULL);
}

/* libpq's scheme is case-sensitive: "POSTGRES://" is not a URL for it
 * either (PQconninfoParse rejects it), and nothing is recognised. */
static void test_url_scheme_is_case_sensitive(void **state)
{
	(void)state;
	const char *dsn = "POSTGRES://alice:s3cret@h/app";
	assert_redacted(dsn, dsn);
	check_password(dsn, NULL);
}

/* ---- key=value form ---- */

static void test_kv_password(void **state)
{
	(void)state;
	const char *dsn = "host=db.example.com password=s3cret dbname=app";
	assert_redacted(dsn, "host=db.example.com password=*** dbname=app");
	check_password(dsn, "s3cret");
}

static void test_kv_password_first_and_last(void **state)
{
	(void)state;
	assert_redacted("password=s3cret host=h", "password=*** host=h");
	check_password("password=s3cret host=h", "s3cret");
	teardown(NULL);
	assert_redacted("host=h password=s3cret", "host=h password=***");
	check_password("host=h password=s3cret", "s3cret");
}

static void test_kv_spaces_around_equals(void **state)
{
	(void)state;
	const char *dsn = "host=h password = s3cret dbname=app";
	assert_redacted(dsn, "host=h password = *** dbname=app");
	check_password(dsn, "s3cret");
}

static void test_kv_tab_separated(void **state)
{
	(void)state;
	const char *dsn = "host=h\tpassword=s3cret\tdbname=app";
	assert_redacted(dsn, "host=h\tpassword=***\tdbname=app");
	check_password(dsn, "s3cret");
}

/* The quotes go with the value: both hidden; rb_dsn_password drops them. */
static void test_kv_quoted_password_with_spaces(void **state)
{
	(void)state;
	const char *dsn = "host=h password='pa ss' dbname=app";
	assert_redacted(dsn, "host=h password=*** dbname=app");
	check_password(dsn, "pa ss");
}

static void test_kv_quoted_password_with_escaped_quote_is_hidden_whole(void **state)
{
	(void)state;
	const char *dsn = "host=h password='it\\'s' dbname=app";
	assert_redacted(dsn, "host=h password=*** dbname=app");
}

static void test_kv_key_ending_in_password_is_not_the_password(void **state)
{
	(void)state;
	const char *dsn = "mypassword=x password=y";
	assert_redacted(dsn, "mypassword=x password=***");
	check_password(dsn, "y");
}

/* A password keyword given twice: both values are hidden (libpq uses the last). */
static void test_kv_password_given_twice(void **state)
{
	(void)state;
	assert_redacted("host=h password=a password=b", "host=h password=*** password=***");
}

static void test_kv_without_password_is_unchanged(void **state)
{
	(void)state;
	const char *dsns[] = {
		"host=db.example.com port=5432 dbname=app user=alice",
		"host=h dbname=passwords",
		"service=prod",
		"",
	};
	for (size_t i = 0; i < sizeof dsns / sizeof *dsns; i++) {
		assert_redacted(dsns[i], dsns[i]);
		check_password(dsns[i], NULL);
		teardown(NULL);
	}
}

static void test_kv_password_equal_to_other_parts(void **state)
{
	(void)state;
	const char *dsn = "host=postgres user=postgres password=postgres dbname=postgres";
	assert_redacted(dsn, "host=postgres user=postgres password=*** dbname=postgres");
	check_password(dsn, "postgres");
}

static void test_kv_empty_password(void **state)
{
	(void)state;
	/* At the end: an empty value, still marked. */
	assert_redacted("host=h password=", "host=h password=***");
	check_password("host=h password=", NULL);
	teardown(NULL);
	/* Quoted empty: the quotes hidden, the password is "". */
	assert_redacted("host=h password='' dbname=app", "host=h password=*** dbname=app");
	check_password("host=h password='' dbname=app", "");
	teardown(NULL);
	/* "password= dbname=app": libpq skips the blank after '=' and reads
	 * "dbname=app" as the password; so does the redaction. */
	assert_redacted("host=h password= dbname=app", "host=h password= ***");
	check_password("host=h password= dbname=app", "dbname=app");
}

static void test_kv_host_list(void **state)
{
	(void)state;
	const char *dsn = "host=h1,h2 port=5432,5433 user=alice password=s3cret dbname=app";
	assert_redacted(dsn, "host=h1,h2 port=5432,5433 user=alice password=*** dbname=app");
	check_password(dsn, "s3cret");
}

/* ---- Cases where the password once leaked ---- */

/*
 * libpq reads the userinfo password, then the query parameters, and the
 * parameter wins: the password in use is "b". Both are hidden.
 */
static void test_leak_url_userinfo_and_password_parameter(void **state)
{
	(void)state;
	const char *dsn = "postgres://alice:a@h/app?password=b";
	assert_redacted(dsn, "postgres://alice:***@h/app?password=***");
	check_password(dsn, "b");
}

/* A password parameter given twice: libpq uses the last ("b"); both are hidden. */
static void test_leak_url_password_parameter_given_twice(void **state)
{
	(void)state;
	const char *dsn = "postgres://h/app?password=a&password=b";
	assert_redacted(dsn, "postgres://h/app?password=***&password=***");
	check_password(dsn, "b");
}

/*
 * A raw '?' in the userinfo password: libpq reads user "alice", password
 * "pa?ss" (it looks for '@' up to the first '/', not the first '?').
 */
static void test_leak_url_raw_question_mark_in_password(void **state)
{
	(void)state;
	const char *dsn = "postgres://alice:pa?ss@h/app";
	assert_redacted(dsn, "postgres://alice:***@h/app");
	check_password(dsn, "pa?ss");
}

/*
 * libpq unescapes a backslash in an unquoted value, so "password=a\ b" is
 * the password "a b": the escaped blank does not end the value.
 */
static void test_leak_kv_backslash_escaped_blank_in_bare_value(void **state)
{
	(void)state;
	const char *dsn = "host=h password=a\\ b dbname=app";
	assert_redacted(dsn, "host=h password=*** dbname=app");
	check_password(dsn, "a b");
}

/* sslpassword (the client key's passphrase) is a password libpq takes in both forms. */
static void test_leak_sslpassword_is_not_hidden(void **state)
{
	(void)state;
	assert_redacted("host=h sslpassword=keypass", "host=h sslpassword=***");
	teardown(NULL);
	assert_redacted("postgres://h/app?sslpassword=keypass", "postgres://h/app?sslpassword=***");
}

/*
 * rb_dsn_password gives the value as libpq reads it, not as written:
 * "it\'s" is "it's", "pa\\ss" is "pa\ss", "p%40ss%26word" is "p@ss&word".
 */
static void test_leak_password_value_is_not_unescaped(void **state)
{
	(void)state;
	check_password("host=h password='it\\'s' dbname=app", "it's");
	check_password("host=h password='pa\\\\ss' dbname=app", "pa\\ss");
	check_password("postgres://alice@h/app?password=p%40ss%26word", "p@ss&word");
	check_password("postgres://alice:p%40ss@h/app", "p@ss");
}

/* ---- More ---- */

/* libpq percent-decodes a query parameter's name too. */
static void test_url_percent_encoded_parameter_name(void **state)
{
	(void)state;
	const char *dsn = "postgres://h/app?pass%77ord=s3cret";
	assert_redacted(dsn, "postgres://h/app?pass%77ord=***");
	check_password(dsn, "s3cret");
}

/* An '@' in the query does not extend the userinfo (libpq's ends at the first '@'). */
static void test_url_at_sign_in_the_query(void **state)
{
	(void)state;
	const char *dsn = "postgres://alice:s3cret@h?application_name=a@b";
	assert_redacted(dsn, "postgres://alice:***@h?application_name=a@b");
	check_password(dsn, "s3cret");
	teardown(NULL);
	dsn = "postgres://alice@h?password=x@y";
	assert_redacted(dsn, "postgres://alice@h?password=***");
	check_password(dsn, "x@y");
}

/* A quoted value may be followed directly by the next keyword. */
static void test_kv_quoted_value_followed_by_keyword(void **state)
{
	(void)state;
	const char *dsn = "password='s3 cret'host=h";
	assert_redacted(dsn, "password=***host=h");
	check_password(dsn, "s3 cret");
}

/* A backslash at the end of a bare value is dropped by libpq. */
static void test_kv_trailing_backslash(void **state)
{
	(void)state;
	const char *dsn = "host=h password=s3cret\\";
	assert_redacted(dsn, "host=h password=***");
	check_password(dsn, "s3cret");
}

/* rb_dsn_password is the password only; sslpassword is hidden all the same. */
static void test_sslpassword_is_not_the_password(void **state)
{
	(void)state;
	const char *dsn = "host=h sslpassword='key pass' password=s3cret";
	assert_redacted(dsn, "host=h sslpassword=*** password=***");
	check_password(dsn, "s3cret");
	teardown(NULL);
	check_password("postgres://alice@h/app?sslpassword=keypass", NULL);
}

/* Strings libpq refuses are redacted from their text all the same, and
 * rb_dsn_password gives the last password written, decoded. */
static void test_refused_strings_are_still_redacted(void **state)
{
	(void)state;
	/* unknown query parameter */
	const char *dsn = "postgres://alice:s3cret@h/app?foo=x&password=p%40ss";
	assert_redacted(dsn, "postgres://alice:***@h/app?foo=x&password=***");
	check_password(dsn, "p@ss");
	teardown(NULL);
	/* invalid percent-encoding */
	dsn = "postgres://h/app?password=p%2";
	assert_redacted(dsn, "postgres://h/app?password=***");
	check_password(dsn, "p%2");
	teardown(NULL);
	/* unterminated quote: hidden to the end */
	dsn = "host=h password='s3cret dbname=app";
	assert_redacted(dsn, "host=h password=***");
	check_password(dsn, "s3cret dbname=app");
	teardown(NULL);
	/* a word without '=' before the password */
	dsn = "host=h junk password=s3cret";
	assert_redacted(dsn, "host=h junk password=***");
	check_password(dsn, "s3cret");
	teardown(NULL);
	/* a keyword libpq does not know, in another case */
	dsn = "host=h PASSWORD=s3cret";
	assert_redacted(dsn, "host=h PASSWORD=***");
	check_password(dsn, "s3cret");
}

/* The redactor gets the passwords as libpq reads them and as written. */
static void test_add_secrets(void **state)
{
	(void)state;
	rb_redactor r = RB_REDACTOR_INIT;
	rb_dsn_add_secrets(&r, "postgres://alice:p%40ss@h/app?sslpassword=k%26p");
	rb_dsn_add_secrets(&r, "host=h password='it\\'s'");
	rb_dsn_add_secrets(&r, NULL);
	rb_dsn_add_secrets(NULL, "host=h password=x");
	char *out = rb_redact(&r, "[p@ss] [p%40ss] [k&p] [k%26p] [it's] [it\\'s] [alice]");
	rb_redactor_free(&r);
	assert_string_equal(hold(out), "[***] [***] [***] [***] [***] [***] [alice]");
}

static void test_scrub_in_place(void **state)
{
	(void)state;
	char url[] = "postgres://alice:p%40ss@h/app?password=x&sslpassword=yy";
	assert_int_equal(rb_dsn_scrub(url), 3);
	assert_string_equal(url, "postgres://alice:******@h/app?password=*&sslpassword=**");
	char kv[] = "host=h password='a b' dbname=app";
	assert_int_equal(rb_dsn_scrub(kv), 1);
	assert_string_equal(kv, "host=h password=***** dbname=app");
	char none[] = "host=h dbname=app";
	assert_int_equal(rb_dsn_scrub(none), 0);
	assert_string_equal(none, "host=h dbname=app");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_url_user_password, teardown),
		cmocka_unit_test_teardown(test_url_postgresql_scheme_keeps_the_query, teardown),
		cmocka_unit_test_teardown(test_url_password_query_parameter, teardown),
		cmocka_unit_test_teardown(test_url_password_among_other_parameters, teardown),
		cmocka_unit_test_teardown(test_url_password_parameter_without_database, teardown),
		cmocka_unit_test_teardown(test_url_percent_encoded_password_parameter_is_hidden_whole, teardown),
		cmocka_unit_test_teardown(test_url_percent_encoded_userinfo_password_is_hidden_whole, teardown),
		cmocka_unit_test_teardown(test_url_raw_at_sign_hides_up_to_the_last_at, teardown),
		cmocka_unit_test_teardown(test_url_host_list, teardown),
		cmocka_unit_test_teardown(test_url_ipv6_host_with_password_parameter, teardown),
		cmocka_unit_test_teardown(test_url_without_password_is_unchanged, teardown),
		cmocka_unit_test_teardown(test_url_password_equal_to_other_parts, teardown),
		cmocka_unit_test_teardown(test_url_empty_password, teardown),
		cmocka_unit_test_teardown(test_url_scheme_is_case_sensitive, teardown),
		cmocka_unit_test_teardown(test_kv_password, teardown),
		cmocka_unit_test_teardown(test_kv_password_first_and_last, teardown),
		cmocka_unit_test_teardown(test_kv_spaces_around_equals, teardown),
		cmocka_unit_test_teardown(test_kv_tab_separated, teardown),
		cmocka_unit_test_teardown(test_kv_quoted_password_with_spaces, teardown),
		cmocka_unit_test_teardown(test_kv_quoted_password_with_escaped_quote_is_hidden_whole, teardown),
		cmocka_unit_test_teardown(test_kv_key_ending_in_password_is_not_the_password, teardown),
		cmocka_unit_test_teardown(test_kv_password_given_twice, teardown),
		cmocka_unit_test_teardown(test_kv_without_password_is_unchanged, teardown),
		cmocka_unit_test_teardown(test_kv_password_equal_to_other_parts, teardown),
		cmocka_unit_test_teardown(test_kv_empty_password, teardown),
		cmocka_unit_test_teardown(test_kv_host_list, teardown),
		cmocka_unit_test_teardown(test_leak_url_userinfo_and_password_parameter, teardown),
		cmocka_unit_test_teardown(test_leak_url_password_parameter_given_twice, teardown),
		cmocka_unit_test_teardown(test_leak_url_raw_question_mark_in_password, teardown),
		cmocka_unit_test_teardown(test_leak_kv_backslash_escaped_blank_in_bare_value, teardown),
		cmocka_unit_test_teardown(test_leak_sslpassword_is_not_hidden, teardown),
		cmocka_unit_test_teardown(test_leak_password_value_is_not_unescaped, teardown),
		cmocka_unit_test_teardown(test_url_percent_encoded_parameter_name, teardown),
		cmocka_unit_test_teardown(test_url_at_sign_in_the_query, teardown),
		cmocka_unit_test_teardown(test_kv_quoted_value_followed_by_keyword, teardown),
		cmocka_unit_test_teardown(test_kv_trailing_backslash, teardown),
		cmocka_unit_test_teardown(test_sslpassword_is_not_the_password, teardown),
		cmocka_unit_test_teardown(test_refused_strings_are_still_redacted, teardown),
		cmocka_unit_test_teardown(test_add_secrets, teardown),
		cmocka_unit_test_teardown(test_scrub_in_place, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
