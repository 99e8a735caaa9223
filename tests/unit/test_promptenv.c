/*
 * Runme's promptEnv and background on parsed documents (inputs.h, attrs.h):
 * which export lines are inputs, their defaults and messages, the script
 * the block then runs, and the attributes' errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "attrs.h"
#include "inputs.h"
#include "parse.h"

static rb_runbook *held;
static rb_diags diags = RB_DIAGS_INIT;

static int teardown(void **state)
{
	(void)state;
	rb_runbook_free(held);
	held = NULL;
	rb_diags_free(&diags);
	return 0;
}

static const rb_step *first_step(const char *src)
{
	rb_runbook_free(held);
	rb_diags_free(&diags);
	held = rb_parse("t.md", src, strlen(src), &diags);
	assert_non_null(held);
	assert_true(held->nsteps > 0);
	return &held->steps[0];
}

static void test_exports_are_inputs(void **state)
{
	(void)state;
	const rb_step *s = first_step("# T\n\n```sh {\"promptEnv\":\"yes\"}\n"
				      "export PROJECT=\"demo\"\n"
				      "  export ZONE=[Enter the zone]\n"
				      "export TOKEN='<insert-token-here>'\n"
				      "export HOME_DIR=\"$HOME/x\"\n"
				      "export A=1 B=2\n"
				      "export PROJECT=\"again\"\n"
				      "export EMPTY=\n"
				      "echo \"$PROJECT $ZONE\"\n```\n");
	assert_int_equal(diags.count, 0);
	assert_true(rb_step_prompt_env(s));
	rb_env_prompt *p = NULL;
	size_t n = rb_env_prompts(s, &p);
	assert_int_equal(n, 4);
	assert_string_equal(p[0].name, "PROJECT");
	assert_string_equal(p[0].def, "demo");
	assert_null(p[0].message);
	assert_int_equal(p[0].line, 1);
	assert_string_equal(p[1].name, "ZONE");
	assert_null(p[1].def);
	assert_string_equal(p[1].message, "[Enter the zone]");
	assert_string_equal(p[2].name, "TOKEN");
	assert_null(p[2].def); /* a quoted placeholder is no default */
	assert_string_equal(p[2].message, "<insert-token-here>");
	assert_string_equal(p[3].name, "EMPTY");
	assert_null(p[3].def);
	assert_null(p[3].message);
	rb_env_prompts_free(p, n);
	/* What runs: the asked lines take the run's value; the others run as written, line for line. */
	assert_string_equal(s->script, "export PROJECT\n"
				       "  export ZONE\n"
				       "export TOKEN\n"
				       "export HOME_DIR=\"$HOME/x\"\n"
				       "export A=1 B=2\n"
				       "export PROJECT\n"
				       "export EMPTY\n"
				       "echo \"$PROJECT $ZONE\"\n");
}

static void test_prompt_env_off_asks_nothing(void **state)
{
	(void)state;
	const char *srcs[] = {"# T\n\n```sh\nexport A=\"x\"\n```\n", "# T\n\n```sh {promptEnv=no}\nexport A=\"x\"\n```\n",
			      "# T\n\n```sh {\"promptEnv\":\"false\"}\nexport A=\"x\"\n```\n"};
	for (size_t i = 0; i < sizeof srcs / sizeof *srcs; i++) {
		const rb_step *s = first_step(srcs[i]);
		rb_env_prompt *p = NULL;
		assert_int_equal(diags.count, 0);
		assert_int_equal(rb_env_prompts(s, &p), 0);
		assert_null(s->script);
	}
}

static void test_prompted_block(void **state)
{
	(void)state;
	const rb_step *s = first_step("# T\n\n```sh {promptEnv=auto}\n$ export NAME='ops team'\n$ echo \"$NAME\"\nops team\n```\n");
	rb_env_prompt *p = NULL;
	size_t n = rb_env_prompts(s, &p);
	assert_int_equal(n, 1);
	assert_string_equal(p[0].def, "ops team");
	rb_env_prompts_free(p, n);
	assert_non_null(strstr(s->script, "export NAME\n"));
}

/* The one diagnostic of src contains needle. */
static void one_error(const char *src, const char *needle)
{
	first_step(src);
	assert_int_equal(diags.count, 1);
	assert_non_null(strstr(diags.items[0].message, needle));
}

static void test_attribute_errors(void **state)
{
	(void)state;
	one_error("# T\n\n```sql {background=true}\nselect 1;\n```\n", "'background' applies only to shell steps");
	one_error("# T\n\n```lua {\"background\":\"true\"}\nvars.x = 1\n```\n", "'background' applies only to shell steps");
	one_error("# T\n\n```bash {background=maybe}\ntrue\n```\n", "'maybe' is not true or false");
	one_error("# T\n\n```bash {background=true timeout=5s}\ntrue\n```\n", "'timeout' does not apply to a background step");
	one_error("# T\n\n```bash {retry=2 background=true}\ntrue\n```\n", "'retry' does not apply to a background step");
	one_error("# T\n\n```sql {promptEnv=yes}\nselect 1;\n```\n", "'promptEnv' applies only to shell steps");
	one_error("# T\n\n```bash {promptEnv=sometimes}\ntrue\n```\n", "is not yes, no or auto");
	first_step("# T\n\n```sql {background=false promptEnv=no}\nselect 1;\n```\n");
	assert_int_equal(diags.count, 0);
}

static void test_background_flag(void **state)
{
	(void)state;
	const rb_step *s = first_step("# T\n\n```sh {\"background\":\"true\"}\nsleep 1\n```\n");
	assert_true(rb_step_background(s));
	char *note = rb_attr_note(s, &s->attrs[0]);
	assert_non_null(strstr(note, "not waited for"));
	free(note);
	s = first_step("# T\n\n```sh {background=false}\nsleep 1\n```\n");
	assert_false(rb_step_background(s));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_exports_are_inputs, teardown),
		cmocka_unit_test_teardown(test_prompt_env_off_asks_nothing, teardown),
		cmocka_unit_test_teardown(test_prompted_block, teardown),
		cmocka_unit_test_teardown(test_attribute_errors, teardown),
		cmocka_unit_test_teardown(test_background_flag, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
