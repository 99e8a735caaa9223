/*
 * The Markdown walk: sections, slugs, kinds, list-nested blocks, task lists,
 * ids, roles, front matter, and diagnostics with exact positions.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"

static rb_runbook *parse(const char *src, rb_diags *d)
{
	return rb_parse("r.md", src, strlen(src), d);
}

/* The single diagnostic of src must be at line:col and contain needle. */
static void one_diag(const char *src, rb_severity sev, int line, int col, const char *needle)
{
	rb_diags d = RB_DIAGS_INIT;
	rb_runbook *rb = parse(src, &d);
	if (d.count != 1 || d.items[0].severity != sev || d.items[0].line != line ||
	    d.items[0].col != col || !strstr(d.items[0].message, needle)) {
		fprintf(stderr, "source:\n%s\ndiagnostics:\n", src);
		rb_diags_print(&d, stderr);
		fail_msg("expected one diagnostic at %d:%d containing '%s'", line, col, needle);
	}
	rb_runbook_free(rb);
	rb_diags_free(&d);
}

static void slug_is(const char *text, const char *want)
{
	char *s = rb_slugify(text);
	if (strcmp(s, want))
		fail_msg("slug of '%s': expected '%s', got '%s'", text, want, s);
	free(s);
}

static void test_github_slugs(void **state)
{
	(void)state;
	slug_is("Phase 1: Engineering Schema (eng_*)", "phase-1-engineering-schema-eng_");
	slug_is("Recycling / Tear-down", "recycling--tear-down");
	slug_is("3. Snapshot/PITR", "3-snapshotpitr");
	slug_is("Immediate Rollback (< 5 minutes after deployment)", "immediate-rollback--5-minutes-after-deployment");
	slug_is("\xe2\x9a\xa0\xef\xb8\x8f Warning", "-warning");
	slug_is("Caf\xc3\xa9 CR\xc3\x88ME", "caf\xc3\xa9-cr\xc3\xa8me");
}

static void test_sections_kinds_and_ids(void **state)
{
	(void)state;
	rb_diags d = RB_DIAGS_INIT;
	rb_runbook *rb = parse("# Top\n\n## Setup\n\n```bash\necho 1\n```\n\n### Inner\n\n```sql {name=q}\nselect 1;\n```\n\n"
			       "## Setup\n\n```lua gate\nreturn true\n```\n\n```lua abort\nreturn false\n```\n\n"
			       "```lua\nvars.x = 1\n```\n\n```javascript\nx()\n```\n\n```\nplain\n```\n\n    indented\n", &d);
	assert_int_equal(d.count, 0);
	assert_int_equal(rb->nsections, 5); /* root + 4 */
	assert_string_equal(rb->sections[2].slug, "setup");
	assert_string_equal(rb->sections[3].slug, "inner");
	assert_int_equal(rb->sections[3].parent, 2);
	assert_string_equal(rb->sections[4].slug, "setup-1");
	assert_int_equal(rb->sections[4].parent, 1);
	assert_int_equal(rb->nsteps, 8);
	rb_step_kind kinds[] = {RB_STEP_SHELL, RB_STEP_SQL, RB_STEP_GATE, RB_STEP_ABORT, RB_STEP_LUA,
				RB_STEP_DOC, RB_STEP_DOC, RB_STEP_DOC};
	for (int i = 0; i < 8; i++)
		assert_int_equal(rb->steps[i].kind, kinds[i]);
	assert_string_equal(rb->steps[0].id, "setup-1");
	assert_string_equal(rb->steps[1].id, "q");
	assert_string_equal(rb->steps[2].id, "setup-1-1");
	assert_string_equal(rb->steps[4].id, "setup-1-3");
	assert_null(rb->steps[5].id);
	assert_int_equal(rb->steps[0].line, 5);
	assert_int_equal(rb->steps[0].body_line, 6);
	assert_string_equal(rb->steps[0].body, "echo 1\n");
	assert_int_equal(rb->steps[4].number, 5);
	assert_int_equal(rb->steps[5].number, 0);
	assert_string_equal(rb->title, "Top");
	rb_runbook_free(rb);
	rb_diags_free(&d);
}

static void test_languages(void **state)
{
	(void)state;
	assert_int_equal(rb_kind_of("sh", ""), RB_STEP_SHELL);
	assert_int_equal(rb_kind_of("shell", ""), RB_STEP_SHELL);
	assert_int_equal(rb_kind_of("BASH", ""), RB_STEP_SHELL);
	assert_int_equal(rb_kind_of("postgresql", ""), RB_STEP_SQL);
	assert_int_equal(rb_kind_of("pgsql", ""), RB_STEP_SQL);
	assert_int_equal(rb_kind_of("psql", ""), RB_STEP_SQL);
	assert_int_equal(rb_kind_of("yaml", ""), RB_STEP_DOC);
	assert_int_equal(rb_kind_of("console", ""), RB_STEP_DOC);
}

static void test_blocks_in_lists_and_task_lists(void **state)
{
	(void)state;
	rb_diags d = RB_DIAGS_INIT;
	rb_runbook *rb = parse("# T\n\n1. First:\n\n   ```bash\n   echo in list\n   ```\n\n"
			       "- [ ] Backup `verified`\n- [x] Ticket approved\n- plain item\n", &d);
	assert_int_equal(d.count, 0);
	assert_int_equal(rb->nsteps, 2);
	assert_int_equal(rb->steps[0].kind, RB_STEP_SHELL);
	assert_int_equal(rb->steps[0].line, 5);
	assert_string_equal(rb->steps[0].body, "echo in list\n");
	const rb_step *a = &rb->steps[1];
	assert_int_equal(a->kind, RB_STEP_APPROVAL);
	assert_int_equal(a->nitems, 2);
	assert_string_equal(a->items[0].text, "Backup `verified`");
	assert_false(a->items[0].checked);
	assert_true(a->items[1].checked);
	assert_int_equal(a->items[1].line, 10);
	rb_runbook_free(rb);
	rb_diags_free(&d);
}

static void test_front_matter_and_roles(void **state)
{
	(void)state;
	rb_diags d = RB_DIAGS_INIT;
	rb_runbook *rb = parse("---\ntitle: Promote\nenv:\n  A: one\nsecrets: [TOKEN]\ntimeout: 90s\n"
			       "on_failure: Roll back\nmanual: [troubleshooting]\n---\n# Doc\n\n```bash\nx\n```\n\n"
			       "## Roll back\n\n### Check\n\n```bash\ny\n```\n\n## Troubleshooting\n\n```bash\nz\n```\n", &d);
	assert_int_equal(d.count, 0);
	assert_string_equal(rb->title, "Promote");
	assert_int_equal(rb->fm.nenv, 1);
	assert_string_equal(rb->fm.env[0].key, "A");
	assert_string_equal(rb->fm.secrets[0].value, "TOKEN");
	assert_int_equal(rb->fm.timeout_ms, 90000);
	assert_int_equal(rb->steps[0].line, 12); /* front matter keeps line numbers */
	assert_int_equal(rb->steps[0].role, RB_ROLE_MAIN);
	assert_int_equal(rb->steps[1].role, RB_ROLE_ON_FAILURE); /* subsection inherits */
	assert_int_equal(rb->steps[2].role, RB_ROLE_MANUAL);
	assert_int_equal(rb_runbook_count(rb, RB_ROLE_MAIN), 1);
	rb_runbook_free(rb);
	rb_diags_free(&d);
}

static void test_diagnostics(void **state)
{
	(void)state;
	one_diag("# T\n\n```bash {timout=5s}\nx\n```\n", RB_DIAG_ERROR, 3, 10, "did you mean 'timeout'");
	one_diag("# T\n\n```bash {name=a}\nx\n```\n\n```bash {name=a}\ny\n```\n", RB_DIAG_ERROR, 7, 10,
		 "duplicate step name 'a' (also used at line 3)");
	one_diag("# T\n\n```bash {timeout=soon}\nx\n```\n", RB_DIAG_ERROR, 3, 10, "not a duration");
	one_diag("# T\n\n```bash {name=a\nx\n```\n", RB_DIAG_ERROR, 3, 9, "unterminated attribute list");
	one_diag("---\ntitle: [x\n---\n# T\n", RB_DIAG_ERROR, 3, 1, "invalid front matter");
	one_diag("---\ntitle: x\n# T\n", RB_DIAG_ERROR, 1, 1, "front matter is not closed");
	one_diag("---\ncolour: red\n---\n# T\n", RB_DIAG_WARNING, 2, 1, "unknown front matter key 'colour'");
	one_diag("---\non_failure: nowhere\n---\n# T\n", RB_DIAG_ERROR, 2, 13, "no section 'nowhere'");
	one_diag("# T\n\n```bash {db=x}\nx\n```\n", RB_DIAG_ERROR, 3, 10, "applies only to sql steps");
	one_diag("# T\n\n```bash {retry=many}\nx\n```\n", RB_DIAG_ERROR, 3, 10, "not a count");
	/* attribute errors on documentation blocks are not the runbook's business */
	rb_diags d = RB_DIAGS_INIT;
	rb_runbook *rb = parse("# T\n\n```json {broken\n{}\n```\n", &d);
	assert_int_equal(d.count, 0);
	rb_runbook_free(rb);
	rb_diags_free(&d);
}

static void test_not_text(void **state)
{
	(void)state;
	rb_diags d = RB_DIAGS_INIT;
	assert_null(rb_parse("r.md", "# T\nabc\xff\n", 9, &d));
	assert_int_equal(d.items[0].line, 2);
	assert_int_equal(d.items[0].col, 4);
	assert_non_null(strstr(d.items[0].message, "invalid UTF-8"));
	rb_diags_free(&d);
	assert_null(rb_parse("r.md", "# T\n\0\1", 6, &d));
	assert_non_null(strstr(d.items[0].message, "binary file"));
	rb_diags_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_github_slugs),
		cmocka_unit_test(test_sections_kinds_and_ids),
		cmocka_unit_test(test_languages),
		cmocka_unit_test(test_blocks_in_lists_and_task_lists),
		cmocka_unit_test(test_front_matter_and_roles),
		cmocka_unit_test(test_diagnostics),
		cmocka_unit_test(test_not_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
