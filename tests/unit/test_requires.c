/*
 * PostgreSQL version requirements (requires.h): ">= 14", "14.2", "9.6"
 * read as the least server_version_num allowed (9.x counts its minor in
 * hundreds), anything else refused; versions written as people write them.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "requires.h"

static void test_requirements(void **state)
{
	(void)state;
	int min = 0;
	assert_int_equal(rb_pg_version_requirement(">= 14", &min, NULL), 0);
	assert_int_equal(min, 140000);
	assert_int_equal(rb_pg_version_requirement(">=14.2", &min, NULL), 0);
	assert_int_equal(min, 140002);
	assert_int_equal(rb_pg_version_requirement("15", &min, NULL), 0);
	assert_int_equal(min, 150000);
	assert_int_equal(rb_pg_version_requirement("9.6", &min, NULL), 0);
	assert_int_equal(min, 90600); /* a 9.5.25 server (90525) is older */
	assert_int_equal(rb_pg_version_requirement("newest", &min, NULL), -1);
	assert_int_equal(rb_pg_version_requirement("> 14", &min, NULL), -1);
	assert_int_equal(rb_pg_version_requirement("14.", &min, NULL), -1);
	assert_int_equal(rb_pg_version_requirement("8", &min, NULL), -1);
}

static void test_version_text(void **state)
{
	(void)state;
	char b[32];
	rb_pg_version_text(150018, b, sizeof b);
	assert_string_equal(b, "15.18");
	rb_pg_version_text(90624, b, sizeof b);
	assert_string_equal(b, "9.6.24");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requirements),
		cmocka_unit_test(test_version_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
