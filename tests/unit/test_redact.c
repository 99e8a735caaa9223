/*
 * The redactor: whole values, values without their surrounding white space,
 * the longest secret first, names that look secret, and streams fed in
 * chunks of every size so that a secret split across chunks is still hidden.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "redact.h"

static void redacts_to(const rb_redactor *r, const char *text, const char *want)
{
	char *got = rb_redact(r, text);
	assert_string_equal(got, want);
	free(got);
}

static void test_whole_and_trimmed(void **state)
{
	(void)state;
	rb_redactor r = RB_REDACTOR_INIT;
	rb_redactor_add(&r, "  s3cret-value\n");
	redacts_to(&r, "pw=s3cret-value.", "pw=***.");
	redacts_to(&r, "raw:  s3cret-value\nend", "raw:***end");
	rb_redactor_add(&r, NULL);
	rb_redactor_add(&r, "");
	redacts_to(&r, "ab s3cret-value", "ab ***");
	rb_redactor_add(&r, "q7"); /* secrets of any length are hidden */
	redacts_to(&r, "q7 s3cret-value", "*** ***");
	rb_redactor_free(&r);
}

static void test_longest_first(void **state)
{
	(void)state;
	rb_redactor r = RB_REDACTOR_INIT;
	rb_redactor_add(&r, "token");
	rb_redactor_add(&r, "token-and-more");
	redacts_to(&r, "[token-and-more] [token]", "[***] [***]");
	rb_redactor_free(&r);
}

static void test_secret_names(void **state)
{
	(void)state;
	assert_true(rb_redact_name_is_secret("DB_PASSWORD"));
	assert_true(rb_redact_name_is_secret("API_TOKEN"));
	assert_true(rb_redact_name_is_secret("CLIENT_SECRET"));
	assert_true(rb_redact_name_is_secret("SIGNING_KEY"));
	assert_true(rb_redact_name_is_secret("aws_secret_access_key"));
	assert_true(rb_redact_name_is_secret("stripe_key"));
	assert_true(rb_redact_name_is_secret("PGPASSWORD"));
	assert_true(rb_redact_name_is_secret("DB_PASS"));
	assert_true(rb_redact_name_is_secret("Admin_Pwd"));
	assert_true(rb_redact_name_is_secret("GCP_CREDENTIALS"));
	assert_false(rb_redact_name_is_secret("RELEASE"));
	assert_false(rb_redact_name_is_secret("KEY"));
	assert_false(rb_redact_name_is_secret("MONKEY"));
	assert_false(rb_redact_name_is_secret("PGPASSFILE"));
	assert_false(rb_redact_name_is_secret("PASSAGE"));
}

/* Every chunk size from 1 to the text's length gives the same result as the whole. */
static void test_stream_every_chunk_size(void **state)
{
	(void)state;
	rb_redactor r = RB_REDACTOR_INIT;
	rb_redactor_add(&r, "hunter2-secret");
	rb_redactor_add(&r, "hunter");
	const char *text = "a hunter2-secret b hunter c hunter2-secre d hunter2-secrethunter2-secret";
	char *whole = rb_redact(&r, text);
	size_t n = strlen(text);
	for (size_t chunk = 1; chunk <= n; chunk++) {
		rb_redact_stream s;
		rb_buf out = RB_BUF_INIT;
		rb_redact_stream_init(&s, &r);
		for (size_t off = 0; off < n; off += chunk)
			rb_redact_stream_feed(&s, text + off, off + chunk <= n ? chunk : n - off, &out);
		rb_redact_stream_flush(&s, &out);
		assert_string_equal(rb_buf_cstr(&out), whole);
		rb_redact_stream_free(&s);
		rb_buf_free(&out);
	}
	assert_null(strstr(whole, "hunter2-secret"));
	free(whole);
	rb_redactor_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_and_trimmed),
		cmocka_unit_test(test_longest_first),
		cmocka_unit_test(test_secret_names),
		cmocka_unit_test(test_stream_every_chunk_size),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
