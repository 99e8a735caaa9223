/*
 * The Markdown walk on in-memory documents: sections and their parents,
 * GitHub slugs, step kinds by language, blocks in list items, task lists,
 * ids and numbering, front matter and the roles it gives sections, and
 * every diagnostic with its exact line and column.
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

/* Runbooks a test still holds: freed by the teardown when an assertion
 * ends the test early, so that only the code under test can leak. */
static rb_runbook *held[8];
static rb_diags held_diags = RB_DIAGS_INIT;

static rb_runbook *hold(rb_runbook *rb)
{
	for (size_t i = 0; rb && i < sizeof held / sizeof *held; i++) {
		if (!held[i]) {
			held[i] = rb;
			break;
		}
	}
	return rb;
}

/* Frees a runbook the test is done with. */
static void done(rb_runbook *rb)
{
	for (size_t i = 0; i < sizeof held / sizeof *held; i++)
		if (held[i] == rb)
			held[i] = NULL;
	rb_runbook_free(rb);
}

/* The diagnostics list of the running test, emptied. */
static rb_diags *fresh_diags(void)
{
	rb_diags_free(&held_diags);
	return &held_diags;
}

static int teardown(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof held / sizeof *held; i++) {
		rb_runbook_free(held[i]);
		held[i] = NULL;
	}
	rb_diags_free(&held_diags);
	return 0;
}

static rb_runbook *parse(const char *src, rb_diags *d)
{
	return hold(rb_parse("r.md", src, strlen(src), d));
}

/* Parses src, which must produce no diagnostic at all. */
static rb_runbook *parse_clean(const char *src)
{
	rb_diags *d = fresh_diags();
	rb_runbook *rb = parse(src, d);
	if (d->count) {
		fprintf(stderr, "source:\n%s\ndiagnostics:\n", src);
		{ rb_buf db = RB_BUF_INIT; rb_diags_render(d, &db); fputs(rb_buf_cstr(&db), stderr); rb_buf_free(&db); }
		rb_diags_free(d);
		done(rb);
		fail_msg("expected no diagnostic");
	}
	assert_non_null(rb);
	return rb;
}

/* The single diagnostic of src must be at line:col and contain needle. */
static void one_diag(const char *src, rb_severity sev, int line, int col, const char *needle)
{
	rb_diags *d = fresh_diags();
	rb_runbook *rb = parse(src, d);
	int ok = d->count == 1 && d->items[0].severity == sev && d->items[0].line == line &&
		 d->items[0].col == col && strstr(d->items[0].message, needle) != NULL &&
		 !strcmp(d->items[0].file, "r.md");
	if (!ok) {
		fprintf(stderr, "source:\n%s\ndiagnostics:\n", src);
		{ rb_buf db = RB_BUF_INIT; rb_diags_render(d, &db); fputs(rb_buf_cstr(&db), stderr); rb_buf_free(&db); }
	}
	assert_non_null(rb);
	done(rb);
	rb_diags_free(d);
	if (!ok)
		fail_msg("expected one %s at %d:%d containing '%s'",
			 sev == RB_DIAG_ERROR ? "error" : "warning", line, col, needle);
}

static void slug_is(const char *text, const char *want)
{
	char *s = rb_slugify(text);
	int same = !strcmp(s, want);
	if (!same)
		fprintf(stderr, "slug of '%s': expected '%s', got '%s'\n", text, want, s);
	free(s);
	assert_true(same);
}

/* The kind of the one block written with this info string. */
static rb_step_kind kind_of_block(const char *info)
{
	char src[256];
	snprintf(src, sizeof src, "# T\n\n```%s\nx\n```\n", info);
	rb_runbook *rb = parse_clean(src);
	assert_int_equal(rb->nsteps, 1);
	rb_step_kind k = rb->steps[0].kind;
	done(rb);
	return k;
}

/* ---- slugs ---- */

static void test_slug_of_headings_from_real_runbooks(void **state)
{
	(void)state;
	slug_is("Phase 1: Engineering Schema (eng_*)", "phase-1-engineering-schema-eng_");
	slug_is("Recycling / Tear-down", "recycling--tear-down");
	slug_is("3. Snapshot/PITR", "3-snapshotpitr");
	slug_is("Immediate Rollback (< 5 minutes after deployment)",
		"immediate-rollback--5-minutes-after-deployment");
}

static void test_slug_drops_emoji(void **state)
{
	(void)state;
	slug_is("\xf0\x9f\x9a\x80 Deploy", "-deploy");
	slug_is("\xe2\x9a\xa0\xef\xb8\x8f Warning", "-warning");
	slug_is("Done \xe2\x9c\x85", "done-");
}

static void test_slug_drops_punctuation_but_keeps_underscore_and_hyphen(void **state)
{
	(void)state;
	slug_is("Don\xe2\x80\x99t panic!", "dont-panic");
	slug_is("Run `make`", "run-make");
	slug_is("a_b-c", "a_b-c");
	slug_is("Q&A: what?", "qa-what");
}

static void test_slug_lowercases_accented_letters(void **state)
{
	(void)state;
	slug_is("Caf\xc3\xa9", "caf\xc3\xa9");
	slug_is("CAF\xc3\x89", "caf\xc3\xa9");
	slug_is("\xc3\x84rger \xc3\x9c" "ber", "\xc3\xa4rger-\xc3\xbc" "ber");
	slug_is("Stra\xc3\x9f" "e", "stra\xc3\x9f" "e");
}

static void test_slug_keeps_other_scripts(void **state)
{
	(void)state;
	slug_is("\xe6\x97\xa5\xe6\x9c\xac \xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88",
		"\xe6\x97\xa5\xe6\x9c\xac-\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88");
}

static void test_duplicate_headings_get_numbered_slugs(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("# Setup\n\n## Setup\n\n### Setup\n\n## Setup 1\n");
	assert_int_equal(rb->nsections, 5);
	assert_string_equal(rb->sections[1].slug, "setup");
	assert_string_equal(rb->sections[2].slug, "setup-1");
	assert_string_equal(rb->sections[3].slug, "setup-2");
	/* "setup-1" is taken, so the heading "Setup 1" is numbered in turn */
	assert_string_equal(rb->sections[4].slug, "setup-1-1");
	done(rb);
}

static void test_heading_markup_is_flattened_in_title_and_slug(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("## *Very* [important](http://x) `step`\n");
	assert_string_equal(rb->sections[1].title, "Very important `step`");
	assert_string_equal(rb->sections[1].slug, "very-important-step");
	done(rb);
}

/*
 * GitHub makes the anchor from the heading's text content, so inline HTML
 * such as an <a name> anchor adds nothing to it. GitHub's documented rules
 * trim the trailing space ("title"); rendered anchors have been seen to keep
 * it ("title-"): either is accepted here, the tag's text is not.
 */
static void test_inline_html_adds_nothing_to_the_slug(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("## Title <a name=\"x\"></a>\n");
	const char *slug = rb->sections[1].slug;
	if (strcmp(slug, "title") && strcmp(slug, "title-"))
		fail_msg("slug '%s': expected 'title' (or 'title-')", slug);
	done(rb);
}

/* ---- sections ---- */

static void test_root_section_holds_what_comes_before_any_heading(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("```bash\necho first\n```\n\n# Later\n");
	assert_int_equal(rb->nsections, 2);
	assert_int_equal(rb->sections[0].level, 0);
	assert_int_equal(rb->sections[0].parent, -1);
	assert_string_equal(rb->sections[0].slug, "");
	assert_int_equal(rb->steps[0].section, 0);
	assert_string_equal(rb->steps[0].id, "step-1");
	done(rb);
}

static void test_sections_nest_by_heading_level(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("# Top\n\n## A\n\n### A1\n\n## B\n\n# Other\n\n### Deep\n\n## Mid\n");
	assert_int_equal(rb->nsections, 8);
	const char *titles[] = {"", "Top", "A", "A1", "B", "Other", "Deep", "Mid"};
	int levels[] = {0, 1, 2, 3, 2, 1, 3, 2};
	int parents[] = {-1, 0, 1, 2, 1, 0, 5, 5};
	int lines[] = {1, 1, 3, 5, 7, 9, 11, 13};
	for (size_t i = 0; i < 8; i++) {
		assert_string_equal(rb->sections[i].title, titles[i]);
		assert_int_equal(rb->sections[i].level, levels[i]);
		assert_int_equal(rb->sections[i].parent, parents[i]);
		assert_int_equal(rb->sections[i].line, lines[i]);
	}
	done(rb);
}

static void test_section_path_joins_titles(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("# Top\n\n## A\n\n### A1\n");
	rb_buf b = RB_BUF_INIT;
	rb_section_path(rb, 3, &b);
	assert_string_equal(rb_buf_cstr(&b), "Top \xe2\x80\xba A \xe2\x80\xba A1");
	rb_buf_free(&b);
	done(rb);
}

static void test_setext_headings_are_sections(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("Title\n=====\n\n```bash\nx\n```\n\nSub\n---\n");
	assert_int_equal(rb->nsections, 3);
	assert_int_equal(rb->sections[1].level, 1);
	assert_string_equal(rb->sections[1].slug, "title");
	assert_int_equal(rb->sections[2].level, 2);
	assert_int_equal(rb->sections[2].parent, 1);
	assert_string_equal(rb->sections[2].title, "Sub");
	assert_string_equal(rb->steps[0].id, "title-1");
	done(rb);
}

static void test_steps_belong_to_the_nearest_heading(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("# Top\n\n## A\n\n```bash\na\n```\n\n### A1\n\n```bash\nb\n```\n\n"
				     "## B\n\n```bash\nc\n```\n");
	assert_int_equal(rb->nsteps, 3);
	assert_int_equal(rb->steps[0].section, 2);
	assert_int_equal(rb->steps[1].section, 3);
	assert_int_equal(rb->steps[2].section, 4);
	done(rb);
}

/* ---- step kinds ---- */

static void test_shell_languages(void **state)
{
	(void)state;
	assert_int_equal(kind_of_block("bash"), RB_STEP_SHELL);
	assert_int_equal(kind_of_block("sh"), RB_STEP_SHELL);
	assert_int_equal(kind_of_block("shell"), RB_STEP_SHELL);
}

static void test_sql_languages(void **state)
{
	(void)state;
	assert_int_equal(kind_of_block("sql"), RB_STEP_SQL);
	assert_int_equal(kind_of_block("postgresql"), RB_STEP_SQL);
	assert_int_equal(kind_of_block("pgsql"), RB_STEP_SQL);
	assert_int_equal(kind_of_block("psql"), RB_STEP_SQL);
}

static void test_lua_languages(void **state)
{
	(void)state;
	assert_int_equal(kind_of_block("lua"), RB_STEP_LUA);
	assert_int_equal(kind_of_block("lua gate"), RB_STEP_GATE);
	assert_int_equal(kind_of_block("lua abort"), RB_STEP_ABORT);
}

static void test_other_languages_are_documentation(void **state)
{
	(void)state;
	assert_int_equal(kind_of_block("javascript"), RB_STEP_DOC);
	assert_int_equal(kind_of_block("yaml"), RB_STEP_DOC);
	assert_int_equal(kind_of_block("text"), RB_STEP_DOC);
	assert_int_equal(kind_of_block("console"), RB_STEP_DOC);
	assert_int_equal(kind_of_block(""), RB_STEP_DOC);
}

static void test_language_is_case_insensitive(void **state)
{
	(void)state;
	assert_int_equal(kind_of_block("BASH"), RB_STEP_SHELL);
	assert_int_equal(kind_of_block("SQL"), RB_STEP_SQL);
	assert_int_equal(rb_kind_of("Lua", "gate"), RB_STEP_GATE);
	assert_int_equal(rb_kind_of("a-very-long-language-name", ""), RB_STEP_DOC);
}

static void test_tilde_fence_is_a_step(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("# T\n\n~~~bash\necho t\n~~~\n");
	assert_int_equal(rb->steps[0].kind, RB_STEP_SHELL);
	assert_string_equal(rb->steps[0].body, "echo t\n");
	done(rb);
}

static void test_indented_code_is_documentation(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("# T\n\nText:\n\n    rm -rf /\n");
	assert_int_equal(rb->nsteps, 1);
	const rb_step *s = &rb->steps[0];
	assert_int_equal(s->kind, RB_STEP_DOC);
	assert_string_equal(s->lang, "");
	assert_string_equal(s->body, "rm -rf /\n");
	assert_int_equal(s->line, 5);
	assert_int_equal(s->body_line, 5);
	assert_null(s->id);
	assert_int_equal(s->number, 0);
	assert_false(rb_step_runnable(s));
	done(rb);
}

static void test_documentation_blocks_get_no_id_or_number(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("# T\n\n```yaml\na: 1\n```\n\n```bash\nx\n```\n\n```\nplain\n```\n");
	assert_int_equal(rb->nsteps, 3);
	assert_null(rb->steps[0].id);
	assert_int_equal(rb->steps[0].number, 0);
	assert_string_equal(rb->steps[1].id, "t-1");
	assert_int_equal(rb->steps[1].number, 1);
	assert_null(rb->steps[2].id);
	assert_int_equal(rb_runbook_count(rb, RB_ROLE_MAIN), 1);
	done(rb);
}

static void test_step_position_body_and_info(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("# T\n\nIntro.\n\n```bash {name=hello}\necho 1\necho 2\n```\n");
	const rb_step *s = &rb->steps[0];
	assert_int_equal(s->line, 5);
	assert_int_equal(s->col, 1);
	assert_int_equal(s->body_line, 6);
	assert_string_equal(s->body, "echo 1\necho 2\n");
	assert_string_equal(s->lang, "bash");
	assert_string_equal(s->info, "bash {name=hello}");
	assert_string_equal(rb_step_kind_name(s->kind), "shell");
	done(rb);
}

/* ---- blocks in lists, task lists ---- */

static void test_block_inside_a_list_item_is_a_step(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("# T\n\n1. First:\n\n   ```bash\n   echo in list\n   ```\n"
				     "2. Second:\n   ```sql\n   select 1;\n   ```\n");
	assert_int_equal(rb->nsteps, 2);
	assert_int_equal(rb->steps[0].kind, RB_STEP_SHELL);
	assert_int_equal(rb->steps[0].line, 5);
	assert_int_equal(rb->steps[0].col, 4);
	assert_int_equal(rb->steps[0].body_line, 6);
	assert_string_equal(rb->steps[0].body, "echo in list\n");
	assert_int_equal(rb->steps[1].kind, RB_STEP_SQL);
	assert_int_equal(rb->steps[1].line, 9);
	assert_string_equal(rb->steps[1].body, "select 1;\n");
	done(rb);
}

static void test_attribute_column_inside_a_list_item(void **state)
{
	(void)state;
	one_diag("# T\n\n1. First:\n\n   ```bash {timout=1s}\n   x\n   ```\n", RB_DIAG_ERROR, 5, 13,
		 "unknown attribute 'timout'");
}

static void test_fence_on_the_list_marker_line(void **state)
{
	(void)state;
	one_diag("# T\n\n- ```bash {timout=1s}\n  x\n  ```\n", RB_DIAG_ERROR, 3, 12,
		 "unknown attribute 'timout'");
}

static void test_block_inside_a_blockquote_is_a_step(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("# T\n\n> ```bash {name=q}\n> echo q\n> ```\n");
	assert_int_equal(rb->nsteps, 1);
	assert_int_equal(rb->steps[0].kind, RB_STEP_SHELL);
	assert_string_equal(rb->steps[0].id, "q");
	assert_int_equal(rb->steps[0].line, 3);
	assert_int_equal(rb->steps[0].col, 3);
	assert_string_equal(rb->steps[0].body, "echo q\n");
	done(rb);
}

static void test_task_list_is_one_approval_step(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("# T\n\nBefore:\n\n- [ ] Backup `verified`\n- [x] Ticket *approved*\n"
				     "- plain item\n- [X] Upper-case mark\n");
	assert_int_equal(rb->nsteps, 1);
	const rb_step *a = &rb->steps[0];
	assert_int_equal(a->kind, RB_STEP_APPROVAL);
	assert_string_equal(a->lang, "tasks");
	assert_string_equal(rb_step_kind_name(a->kind), "approval");
	assert_int_equal(a->line, 5);
	assert_int_equal(a->col, 1);
	assert_string_equal(a->id, "t-1");
	assert_int_equal(a->number, 1);
	assert_int_equal(a->nitems, 3);
	assert_string_equal(a->items[0].text, "Backup `verified`");
	assert_false(a->items[0].checked);
	assert_int_equal(a->items[0].line, 5);
	assert_int_equal(a->items[0].col, 1);
	assert_string_equal(a->items[1].text, "Ticket approved");
	assert_true(a->items[1].checked);
	assert_int_equal(a->items[1].line, 6);
	assert_string_equal(a->items[2].text, "Upper-case mark");
	assert_true(a->items[2].checked);
	assert_int_equal(a->items[2].line, 8);
	done(rb);
}

static void test_approval_starts_at_its_first_task_item(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("# T\n\n- plain\n- [ ] first task\n");
	assert_int_equal(rb->nsteps, 1);
	assert_int_equal(rb->steps[0].line, 4);
	assert_int_equal(rb->steps[0].nitems, 1);
	done(rb);
}

static void test_separate_task_lists_are_separate_approvals(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("# T\n\n- [ ] one\n\nText.\n\n* [x] two\n");
	assert_int_equal(rb->nsteps, 2);
	assert_int_equal(rb->steps[0].kind, RB_STEP_APPROVAL);
	assert_int_equal(rb->steps[1].kind, RB_STEP_APPROVAL);
	assert_int_equal(rb->steps[1].line, 7);
	assert_string_equal(rb->steps[1].items[0].text, "two");
	assert_string_equal(rb->steps[1].id, "t-2");
	done(rb);
}

static void test_plain_list_is_not_a_step(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("# T\n\n- one\n- [link](x)\n- [x]no space\n");
	assert_int_equal(rb->nsteps, 0);
	done(rb);
}

/* ---- ids and numbering ---- */

static void test_generated_ids_are_slug_and_position(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("# Deploy App\n\n```bash\na\n```\n\n```text\ndoc\n```\n\n```sql\nb\n```\n\n"
				     "## Check\n\n```lua gate\nreturn true\n```\n");
	assert_int_equal(rb->nsteps, 4);
	assert_string_equal(rb->steps[0].id, "deploy-app-1");
	assert_false(rb->steps[0].id_explicit);
	assert_null(rb->steps[1].id);
	assert_string_equal(rb->steps[2].id, "deploy-app-2");
	assert_string_equal(rb->steps[3].id, "check-1");
	done(rb);
}

static void test_generated_ids_follow_duplicate_slugs(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("# T\n\n## Verify\n\n```bash\na\n```\n\n## Verify\n\n```bash\nb\n```\n");
	assert_string_equal(rb->steps[0].id, "verify-1");
	assert_string_equal(rb->steps[1].id, "verify-1-1");
	done(rb);
}

static void test_explicit_name_is_the_id(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("# T\n\n```bash\na\n```\n\n```bash {name=backup}\nb\n```\n\n"
				     "```bash\nc\n```\n");
	assert_string_equal(rb->steps[0].id, "t-1");
	assert_string_equal(rb->steps[1].id, "backup");
	assert_true(rb->steps[1].id_explicit);
	/* a named step keeps its place in the section's count */
	assert_string_equal(rb->steps[2].id, "t-3");
	assert_ptr_equal(rb_runbook_find_step(rb, "backup"), &rb->steps[1]);
	assert_ptr_equal(rb_runbook_find_step(rb, "t-3"), &rb->steps[2]);
	assert_null(rb_runbook_find_step(rb, "t-2"));
	done(rb);
}

static void test_json_name_is_the_id(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("# T\n\n```sh {\"name\":\"x\",\"interactive\":false}\nls\n```\n");
	assert_string_equal(rb->steps[0].id, "x");
	assert_false(rb->steps[0].interactive);
	done(rb);
}

static void test_runnable_steps_are_numbered_in_order(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("# T\n\n```bash\na\n```\n\n```js\nno\n```\n\n```sql {skip}\nb\n```\n\n"
				     "- [ ] ok\n\n```lua\nc\n```\n");
	assert_int_equal(rb->nsteps, 5);
	assert_int_equal(rb->steps[0].number, 1);
	assert_int_equal(rb->steps[1].number, 0); /* documentation */
	assert_int_equal(rb->steps[2].number, 0); /* skip: planned, never run */
	assert_true(rb->steps[2].skip);
	assert_false(rb_step_runnable(&rb->steps[2]));
	assert_string_equal(rb->steps[2].id, "t-2");
	assert_int_equal(rb->steps[3].number, 2); /* the approval */
	assert_int_equal(rb->steps[4].number, 3);
	assert_int_equal(rb_runbook_count(rb, RB_ROLE_MAIN), 3);
	done(rb);
}

/* ---- typed attributes ---- */

static void test_typed_attributes_are_applied(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("# T\n\n```bash {timeout=5m retry=3 retry_delay=250ms continue_on_error "
				     "when=\"vars.X == 'y'\" cwd=sub capture=OUT confirm}\nx\n```\n\n"
				     "```sql {db=analytics transaction=none expect_error=42501 "
				     "confirm=\"PROMOTE\"}\ny\n```\n");
	const rb_step *s = &rb->steps[0];
	assert_int_equal(s->timeout_ms, 300000);
	assert_int_equal(s->retry, 3);
	assert_int_equal(s->retry_delay_ms, 250);
	assert_true(s->continue_on_error);
	assert_string_equal(s->when.value, "vars.X == 'y'");
	assert_int_equal(s->when.line, 3);
	assert_int_equal(s->when.col, 65);
	assert_string_equal(s->cwd, "sub");
	assert_string_equal(s->capture.value, "OUT");
	assert_true(s->confirm);
	assert_null(s->confirm_phrase);
	assert_string_equal(rb_step_attr(s, "retry"), "3");
	assert_null(rb_step_attr(s, "db"));
	const rb_step *q = &rb->steps[1];
	assert_string_equal(q->db, "analytics");
	assert_int_equal(q->transaction, RB_TXN_NONE);
	assert_string_equal(q->expect_error.value, "42501");
	assert_true(q->confirm);
	assert_string_equal(q->confirm_phrase, "PROMOTE");
	assert_false(s->confirm_each);
	assert_false(q->confirm_each);
	done(rb);
	/* confirm=each: a plain confirmation (no phrase "each"), asked of each target of a rollout. */
	rb = parse_clean("# T\n\n```bash {confirm=each}\nx\n```\n");
	assert_true(rb->steps[0].confirm);
	assert_true(rb->steps[0].confirm_each);
	assert_null(rb->steps[0].confirm_phrase);
	done(rb);
}

static void test_absent_attributes_have_their_defaults(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("# T\n\n```sql\nselect 1;\n```\n");
	const rb_step *s = &rb->steps[0];
	assert_int_equal(s->timeout_ms, -1);
	assert_int_equal(s->retry, -1);
	assert_int_equal(s->retry_delay_ms, -1);
	assert_int_equal(s->every_ms, -1);
	assert_null(s->when.value);
	assert_null(s->db);
	assert_int_equal(s->transaction, RB_TXN_SINGLE);
	assert_false(s->confirm);
	assert_int_equal(s->nattrs, 0);
	done(rb);
}

static void test_every_on_an_abort_condition(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("# T\n\n```lua abort {every=5s}\nreturn false\n```\n");
	assert_int_equal(rb->steps[0].kind, RB_STEP_ABORT);
	assert_int_equal(rb->steps[0].every_ms, 5000);
	done(rb);
}

static void test_runme_attribute_is_kept_without_complaint(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("# T\n\n```bash {background=true name=a}\nx\n```\n");
	const rb_step *s = &rb->steps[0];
	assert_int_equal(s->nattrs, 2);
	assert_string_equal(rb_step_attr(s, "background"), "true");
	assert_false(s->attrs[0].known);
	assert_string_equal(s->id, "a");
	done(rb);
}

static void test_attribute_errors_on_documentation_are_ignored(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("# T\n\n```json {broken\n{}\n```\n\n```text {timout=5s db=x}\nt\n```\n");
	assert_int_equal(rb->nsteps, 2);
	assert_int_equal(rb->steps[0].kind, RB_STEP_DOC);
	assert_int_equal(rb->steps[1].kind, RB_STEP_DOC);
	done(rb);
}

/* ---- front matter ---- */

static const char promote_src[] =
	"---\n"                                    /* 1 */
	"title: Promote\n"                         /* 2 */
	"env:\n"                                   /* 3 */
	"  A: one\n"                               /* 4 */
	"  B: \"two words\"\n"                     /* 5 */
	"secrets: [TOKEN, PGPASSWORD]\n"           /* 6 */
	"timeout: 90s\n"                           /* 7 */
	"on_failure: Roll back\n"                  /* 8 */
	"manual: [troubleshooting, \"#notes\"]\n"  /* 9 */
	"---\n"                                    /* 10 */
	"# Doc\n"                                  /* 11 */
	"\n"
	"```bash\nmain1\n```\n"                    /* 13 */
	"\n"
	"## Roll back\n"                           /* 17 */
	"\n"
	"```bash\nfail1\n```\n"                    /* 19 */
	"\n"
	"### Check\n"                              /* 23 */
	"\n"
	"```bash\nfail2\n```\n"                    /* 25 */
	"\n"
	"## Troubleshooting\n"                     /* 29 */
	"\n"
	"```bash\nmanual1\n```\n"                  /* 31 */
	"\n"
	"### Deeper\n"                             /* 35 */
	"\n"
	"```sql\nselect 1;\n```\n"                 /* 37 */
	"\n"
	"## Notes\n"                               /* 41 */
	"\n"
	"```bash\nmanual3\n```\n"                  /* 43 */
	"\n"
	"## After\n"                               /* 47 */
	"\n"
	"```bash\nmain2\n```\n";                   /* 49 */

static void test_front_matter_values(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean(promote_src);
	const rb_front_matter *fm = &rb->fm;
	assert_true(fm->present);
	assert_string_equal(fm->title, "Promote");
	assert_string_equal(rb->title, "Promote");
	assert_int_equal(fm->nenv, 2);
	assert_string_equal(fm->env[0].key, "A");
	assert_string_equal(fm->env[0].value, "one");
	assert_int_equal(fm->env[0].line, 4);
	assert_int_equal(fm->env[0].col, 3);
	assert_string_equal(fm->env[1].key, "B");
	assert_string_equal(fm->env[1].value, "two words");
	assert_int_equal(fm->nsecrets, 2);
	assert_string_equal(fm->secrets[0].value, "TOKEN");
	assert_string_equal(fm->secrets[1].value, "PGPASSWORD");
	assert_int_equal(fm->secrets[1].line, 6);
	assert_int_equal(fm->timeout_ms, 90000);
	assert_string_equal(fm->on_failure.value, "Roll back");
	assert_int_equal(fm->on_failure.line, 8);
	assert_int_equal(fm->on_failure.col, 13);
	assert_int_equal(fm->nmanual, 2);
	assert_int_equal(fm->nunknown, 0);
	done(rb);
}

static void test_front_matter_keeps_document_line_numbers(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean(promote_src);
	assert_int_equal(rb->sections[1].line, 11);
	assert_int_equal(rb->steps[0].line, 13);
	assert_int_equal(rb->steps[0].body_line, 14);
	assert_int_equal(rb->steps[5].line, 43);
	assert_int_equal(rb->steps[6].line, 49);
	/* the source is kept whole, front matter included */
	assert_int_equal(rb->source_len, strlen(promote_src));
	assert_memory_equal(rb->source, promote_src, rb->source_len);
	done(rb);
}

static void test_on_failure_and_manual_give_roles_to_subsections(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean(promote_src);
	assert_int_equal(rb->nsteps, 7);
	rb_role roles[] = {RB_ROLE_MAIN, RB_ROLE_ON_FAILURE, RB_ROLE_ON_FAILURE, RB_ROLE_MANUAL,
			   RB_ROLE_MANUAL, RB_ROLE_MANUAL, RB_ROLE_MAIN};
	for (size_t i = 0; i < 7; i++)
		assert_int_equal(rb->steps[i].role, roles[i]);
	assert_int_equal(rb->on_failure_section, 2);
	assert_int_equal(rb->sections[2].role, RB_ROLE_ON_FAILURE);
	assert_int_equal(rb->sections[3].role, RB_ROLE_ON_FAILURE); /* ### Check */
	assert_int_equal(rb->sections[5].role, RB_ROLE_MANUAL);     /* ### Deeper */
	assert_int_equal(rb->sections[6].role, RB_ROLE_MANUAL);     /* ## Notes, by "#notes" */
	assert_int_equal(rb->sections[7].role, RB_ROLE_MAIN);       /* ## After */
	done(rb);
}

static void test_each_role_is_numbered_on_its_own(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean(promote_src);
	int numbers[] = {1, 1, 2, 1, 2, 3, 2};
	assert_int_equal(rb->nsteps, 7);
	for (size_t i = 0; i < 7; i++)
		assert_int_equal(rb->steps[i].number, numbers[i]);
	assert_int_equal(rb_runbook_count(rb, RB_ROLE_MAIN), 2);
	assert_int_equal(rb_runbook_count(rb, RB_ROLE_ON_FAILURE), 2);
	assert_int_equal(rb_runbook_count(rb, RB_ROLE_MANUAL), 3);
	done(rb);
}

static void test_on_failure_may_name_the_slug(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("---\non_failure: emergency-rollback\n---\n# T\n\n## Emergency Rollback\n");
	assert_int_equal(rb->on_failure_section, 2);
	assert_int_equal(rb->sections[2].role, RB_ROLE_ON_FAILURE);
	done(rb);
}

static void test_other_front_matter_keys(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("---\ndatabase: ${PROD_DATABASE_URL}\n"
				     "databases: {analytics: \"postgres://a\"}\nshell: sh\n"
				     "audit: {repo: ops/audit, ref: refs/heads/x}\n---\n# T\n");
	const rb_front_matter *fm = &rb->fm;
	assert_string_equal(fm->database.value, "${PROD_DATABASE_URL}");
	assert_int_equal(fm->database.line, 2);
	assert_int_equal(fm->ndatabases, 1);
	assert_string_equal(fm->databases[0].key, "analytics");
	assert_string_equal(fm->databases[0].value, "postgres://a");
	assert_string_equal(fm->shell, "sh");
	assert_string_equal(fm->audit_repo, "ops/audit");
	assert_string_equal(fm->audit_ref, "refs/heads/x");
	assert_int_equal(fm->timeout_ms, -1);
	done(rb);
}

static void test_crlf_line_endings(void **state)
{
	(void)state;
	rb_diags *d = fresh_diags();
	rb_runbook *rb = parse("---\r\ntitle: Win\r\ncolour: x\r\n---\r\n# T\r\n\r\n"
			       "```bash {timout=1s}\r\nx\r\n```\r\n", d);
	assert_string_equal(rb->title, "Win");
	assert_int_equal(d->count, 2);
	assert_int_equal(d->items[0].severity, RB_DIAG_WARNING);
	assert_int_equal(d->items[0].line, 3);
	assert_int_equal(d->items[0].col, 1);
	assert_int_equal(d->items[1].severity, RB_DIAG_ERROR);
	assert_int_equal(d->items[1].line, 7);
	assert_int_equal(d->items[1].col, 10);
	assert_int_equal(rb->steps[0].line, 7);
	assert_string_equal(rb->steps[0].body, "x\n");
	done(rb);
	rb_diags_free(d);
}

static void test_no_front_matter(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("# Title\n");
	assert_false(rb->fm.present);
	assert_int_equal(rb->fm.timeout_ms, -1);
	assert_int_equal(rb->on_failure_section, -1);
	done(rb);
}

static void test_title_falls_back_to_first_heading_then_file_name(void **state)
{
	(void)state;
	rb_runbook *rb = parse_clean("Text.\n\n## Second level first\n\n# Top\n");
	assert_string_equal(rb->title, "Second level first");
	done(rb);
	rb_diags *d = fresh_diags();
	rb = hold(rb_parse("ops/deploy.md", "Just text.\n", 11, d));
	assert_int_equal(d->count, 0);
	assert_string_equal(rb->title, "deploy.md");
	assert_string_equal(rb->path, "ops/deploy.md");
	assert_string_equal(rb->dir, "ops");
	done(rb);
	rb = hold(rb_parse("deploy.md", "", 0, d));
	assert_string_equal(rb->dir, ".");
	assert_int_equal(rb->nsteps, 0);
	assert_int_equal(rb->nsections, 1);
	done(rb);
	rb_diags_free(d);
}

/* ---- diagnostics, each with its exact position ---- */

static void test_unknown_attribute_suggests_the_nearest(void **state)
{
	(void)state;
	one_diag("# T\n\n```bash {timout=5s}\nx\n```\n", RB_DIAG_ERROR, 3, 10,
		 "unknown attribute 'timout' (did you mean 'timeout'?)");
}

static void test_unknown_attribute_far_from_any_has_no_suggestion(void **state)
{
	(void)state;
	rb_diags *d = fresh_diags();
	rb_runbook *rb = parse("# T\n\n```bash {zzzzzz=1}\nx\n```\n", d);
	assert_int_equal(d->count, 1);
	assert_int_equal(d->items[0].col, 10);
	assert_string_equal(d->items[0].message, "unknown attribute 'zzzzzz'");
	done(rb);
	rb_diags_free(d);
}

static void test_duplicate_step_name(void **state)
{
	(void)state;
	one_diag("# T\n\n```bash {name=a}\nx\n```\n\n```sql {timeout=1s name=a}\ny\n```\n", RB_DIAG_ERROR, 7,
		 20, "duplicate step name 'a' (also used at line 3)");
}

static void test_generated_id_colliding_with_a_name(void **state)
{
	(void)state;
	/* the explicit name keeps the id; the generated one is reported */
	one_diag("# T\n\n```bash\nx\n```\n\n```bash {name=t-1}\ny\n```\n", RB_DIAG_ERROR, 3, 1,
		 "duplicate step name 't-1' (also used at line 7)");
}

static void test_bad_duration(void **state)
{
	(void)state;
	one_diag("# T\n\n```bash {timeout=soon}\nx\n```\n", RB_DIAG_ERROR, 3, 10,
		 "attribute 'timeout': 'soon' is not a duration");
}

static void test_zero_duration(void **state)
{
	(void)state;
	one_diag("# T\n\n```bash {name=z retry_delay=0}\nx\n```\n", RB_DIAG_ERROR, 3, 17,
		 "attribute 'retry_delay': '0' is not a duration");
}

static void test_bad_count(void **state)
{
	(void)state;
	one_diag("# T\n\n```bash {retry=many}\nx\n```\n", RB_DIAG_ERROR, 3, 10, "not a count");
	one_diag("# T\n\n```bash {retry=-1}\nx\n```\n", RB_DIAG_ERROR, 3, 10, "not a count");
}

static void test_bad_flag(void **state)
{
	(void)state;
	one_diag("# T\n\n```bash {skip=perhaps}\nx\n```\n", RB_DIAG_ERROR, 3, 10,
		 "attribute 'skip': 'perhaps' is not true or false");
}

static void test_bad_id_and_capture_names(void **state)
{
	(void)state;
	one_diag("# T\n\n```bash {name=\"a b\"}\nx\n```\n", RB_DIAG_ERROR, 3, 10, "is not a valid id");
	one_diag("# T\n\n```bash {capture=my-var}\nx\n```\n", RB_DIAG_ERROR, 3, 10,
		 "is not a valid variable name");
}

static void test_bad_transaction(void **state)
{
	(void)state;
	one_diag("# T\n\n```sql {transaction=many}\nx\n```\n", RB_DIAG_ERROR, 3, 9,
		 "attribute 'transaction' must be single or none, not 'many'");
}

static void test_unterminated_brace(void **state)
{
	(void)state;
	one_diag("# T\n\n```bash {name=a\nx\n```\n", RB_DIAG_ERROR, 3, 9, "unterminated attribute list");
}

static void test_unterminated_quote(void **state)
{
	(void)state;
	one_diag("# T\n\n```bash {when=\"x}\nx\n```\n", RB_DIAG_ERROR, 3, 15, "unterminated quoted value");
}

static void test_db_on_a_shell_step(void **state)
{
	(void)state;
	one_diag("# T\n\n```bash {db=x}\nx\n```\n", RB_DIAG_ERROR, 3, 10,
		 "attribute 'db' applies only to sql steps");
}

static void test_attributes_only_for_some_kinds(void **state)
{
	(void)state;
	one_diag("# T\n\n```bash {every=5s}\nx\n```\n", RB_DIAG_ERROR, 3, 10, "applies only to lua abort steps");
	one_diag("# T\n\n```lua {capture=X}\nx\n```\n", RB_DIAG_ERROR, 3, 9, "applies only to bash and sql steps");
	one_diag("# T\n\n```sql {cwd=/tmp}\nx\n```\n", RB_DIAG_ERROR, 3, 9, "applies only to shell steps");
	one_diag("# T\n\n```lua gate {transaction=none}\nx\n```\n", RB_DIAG_ERROR, 3, 14,
		 "applies only to sql steps");
}

static void test_unknown_lua_block_kind(void **state)
{
	(void)state;
	one_diag("# T\n\n```lua check\nx\n```\n", RB_DIAG_ERROR, 3, 4, "unknown lua block kind 'check'");
}

static void test_words_after_a_language_need_braces(void **state)
{
	(void)state;
	one_diag("# T\n\n```bash name=x\nx\n```\n", RB_DIAG_ERROR, 3, 4,
		 "unexpected 'name=x' after the language 'bash'");
}

static void test_malformed_yaml_front_matter(void **state)
{
	(void)state;
	one_diag("---\ntitle: [x\n---\n# T\n", RB_DIAG_ERROR, 3, 1, "invalid front matter");
	one_diag("---\na: b\n c: d\n---\n# T\n", RB_DIAG_ERROR, 3, 3,
		 "invalid front matter: mapping values are not allowed");
}

static void test_front_matter_that_is_not_a_mapping(void **state)
{
	(void)state;
	one_diag("---\n- a\n- b\n---\n# T\n", RB_DIAG_ERROR, 2, 1, "front matter must be a mapping");
}

static void test_unclosed_front_matter(void **state)
{
	(void)state;
	one_diag("---\ntitle: x\n# T\n", RB_DIAG_ERROR, 1, 1, "front matter is not closed");
}

static void test_unknown_front_matter_key_is_a_warning(void **state)
{
	(void)state;
	one_diag("---\ntitle: x\ncolour: red\n---\n# T\n", RB_DIAG_WARNING, 3, 1,
		 "unknown front matter key 'colour'");
	rb_diags *d = fresh_diags();
	rb_runbook *rb = parse("---\ncolour: red\n---\n# T\n", d);
	assert_int_equal(d->errors, 0);
	assert_int_equal(d->warnings, 1);
	assert_int_equal(rb->fm.nunknown, 1);
	assert_string_equal(rb->fm.unknown[0].key, "colour");
	done(rb);
	rb_diags_free(d);
}

static void test_bad_front_matter_values(void **state)
{
	(void)state;
	one_diag("---\ntimeout: soon\n---\n# T\n", RB_DIAG_ERROR, 2, 10, "'timeout' is not a duration");
	one_diag("---\nshell: tcsh\n---\n# T\n", RB_DIAG_ERROR, 2, 8, "'shell' must be a shell");
	one_diag("---\nenv: [A]\n---\n# T\n", RB_DIAG_ERROR, 2, 6, "'env' must be a mapping");
	one_diag("---\ntitle: [a, b]\n---\n# T\n", RB_DIAG_ERROR, 2, 8, "'title' must be a single value");
}

static void test_on_failure_naming_a_missing_section(void **state)
{
	(void)state;
	one_diag("---\non_failure: nowhere\n---\n# T\n", RB_DIAG_ERROR, 2, 13,
		 "on_failure: no section 'nowhere' in this runbook");
}

static void test_manual_naming_a_missing_section(void **state)
{
	(void)state;
	one_diag("---\nmanual: [t, gone]\n---\n# T\n", RB_DIAG_ERROR, 2, 13,
		 "manual: no section 'gone' in this runbook");
}

static void test_section_both_on_failure_and_manual(void **state)
{
	(void)state;
	one_diag("---\non_failure: r\nmanual: [r]\n---\n# T\n\n## R\n", RB_DIAG_ERROR, 3, 10,
		 "cannot be both on_failure and manual");
}

/* A key given twice in the front matter is an error at the second one. */
static void test_front_matter_key_given_twice(void **state)
{
	(void)state;
	one_diag("---\ntitle: first\ntitle: second\n---\n# T\n", RB_DIAG_ERROR, 3, 1, "title");
}

static void test_invalid_utf8_is_refused_with_its_position(void **state)
{
	(void)state;
	rb_diags *d = fresh_diags();
	assert_null(rb_parse("r.md", "# T\nabc\xff\n", 9, d));
	assert_int_equal(d->count, 1);
	assert_int_equal(d->errors, 1);
	assert_int_equal(d->items[0].line, 2);
	assert_int_equal(d->items[0].col, 4);
	assert_non_null(strstr(d->items[0].message, "invalid UTF-8"));
	rb_diags_free(d);
}

static void test_truncated_utf8_sequence_is_refused(void **state)
{
	(void)state;
	rb_diags *d = fresh_diags();
	/* a lone lead byte of a two-byte sequence, then ASCII */
	assert_null(rb_parse("r.md", "# Caf\xc3 au lait\n", 15, d));
	assert_int_equal(d->count, 1);
	assert_int_equal(d->items[0].line, 1);
	assert_int_equal(d->items[0].col, 6);
	rb_diags_free(d);
}

static void test_nul_byte_means_binary(void **state)
{
	(void)state;
	rb_diags *d = fresh_diags();
	assert_null(rb_parse("r.md", "# T\n\0\1", 6, d));
	assert_int_equal(d->count, 1);
	assert_int_equal(d->items[0].line, 2);
	assert_int_equal(d->items[0].col, 1);
	assert_non_null(strstr(d->items[0].message, "binary file"));
	rb_diags_free(d);
}

static void test_every_problem_is_reported_in_one_pass(void **state)
{
	(void)state;
	rb_diags *d = fresh_diags();
	rb_runbook *rb = parse("---\ncolour: red\n---\n# T\n\n```bash {timout=1s}\nx\n```\n\n"
			       "```sql {retry=x}\ny\n```\n", d);
	assert_non_null(rb);
	assert_int_equal(d->errors, 2);
	assert_int_equal(d->warnings, 1);
	assert_int_equal(rb->nsteps, 2); /* the runbook is still returned whole */
	done(rb);
	rb_diags_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_slug_of_headings_from_real_runbooks, teardown),
		cmocka_unit_test_teardown(test_slug_drops_emoji, teardown),
		cmocka_unit_test_teardown(test_slug_drops_punctuation_but_keeps_underscore_and_hyphen, teardown),
		cmocka_unit_test_teardown(test_slug_lowercases_accented_letters, teardown),
		cmocka_unit_test_teardown(test_slug_keeps_other_scripts, teardown),
		cmocka_unit_test_teardown(test_duplicate_headings_get_numbered_slugs, teardown),
		cmocka_unit_test_teardown(test_heading_markup_is_flattened_in_title_and_slug, teardown),
		cmocka_unit_test_teardown(test_inline_html_adds_nothing_to_the_slug, teardown),
		cmocka_unit_test_teardown(test_root_section_holds_what_comes_before_any_heading, teardown),
		cmocka_unit_test_teardown(test_sections_nest_by_heading_level, teardown),
		cmocka_unit_test_teardown(test_section_path_joins_titles, teardown),
		cmocka_unit_test_teardown(test_setext_headings_are_sections, teardown),
		cmocka_unit_test_teardown(test_steps_belong_to_the_nearest_heading, teardown),
		cmocka_unit_test_teardown(test_shell_languages, teardown),
		cmocka_unit_test_teardown(test_sql_languages, teardown),
		cmocka_unit_test_teardown(test_lua_languages, teardown),
		cmocka_unit_test_teardown(test_other_languages_are_documentation, teardown),
		cmocka_unit_test_teardown(test_language_is_case_insensitive, teardown),
		cmocka_unit_test_teardown(test_tilde_fence_is_a_step, teardown),
		cmocka_unit_test_teardown(test_indented_code_is_documentation, teardown),
		cmocka_unit_test_teardown(test_documentation_blocks_get_no_id_or_number, teardown),
		cmocka_unit_test_teardown(test_step_position_body_and_info, teardown),
		cmocka_unit_test_teardown(test_block_inside_a_list_item_is_a_step, teardown),
		cmocka_unit_test_teardown(test_attribute_column_inside_a_list_item, teardown),
		cmocka_unit_test_teardown(test_fence_on_the_list_marker_line, teardown),
		cmocka_unit_test_teardown(test_block_inside_a_blockquote_is_a_step, teardown),
		cmocka_unit_test_teardown(test_task_list_is_one_approval_step, teardown),
		cmocka_unit_test_teardown(test_approval_starts_at_its_first_task_item, teardown),
		cmocka_unit_test_teardown(test_separate_task_lists_are_separate_approvals, teardown),
		cmocka_unit_test_teardown(test_plain_list_is_not_a_step, teardown),
		cmocka_unit_test_teardown(test_generated_ids_are_slug_and_position, teardown),
		cmocka_unit_test_teardown(test_generated_ids_follow_duplicate_slugs, teardown),
		cmocka_unit_test_teardown(test_explicit_name_is_the_id, teardown),
		cmocka_unit_test_teardown(test_json_name_is_the_id, teardown),
		cmocka_unit_test_teardown(test_runnable_steps_are_numbered_in_order, teardown),
		cmocka_unit_test_teardown(test_typed_attributes_are_applied, teardown),
		cmocka_unit_test_teardown(test_absent_attributes_have_their_defaults, teardown),
		cmocka_unit_test_teardown(test_every_on_an_abort_condition, teardown),
		cmocka_unit_test_teardown(test_runme_attribute_is_kept_without_complaint, teardown),
		cmocka_unit_test_teardown(test_attribute_errors_on_documentation_are_ignored, teardown),
		cmocka_unit_test_teardown(test_front_matter_values, teardown),
		cmocka_unit_test_teardown(test_front_matter_keeps_document_line_numbers, teardown),
		cmocka_unit_test_teardown(test_on_failure_and_manual_give_roles_to_subsections, teardown),
		cmocka_unit_test_teardown(test_each_role_is_numbered_on_its_own, teardown),
		cmocka_unit_test_teardown(test_on_failure_may_name_the_slug, teardown),
		cmocka_unit_test_teardown(test_other_front_matter_keys, teardown),
		cmocka_unit_test_teardown(test_crlf_line_endings, teardown),
		cmocka_unit_test_teardown(test_no_front_matter, teardown),
		cmocka_unit_test_teardown(test_title_falls_back_to_first_heading_then_file_name, teardown),
		cmocka_unit_test_teardown(test_unknown_attribute_suggests_the_nearest, teardown),
		cmocka_unit_test_teardown(test_unknown_attribute_far_from_any_has_no_suggestion, teardown),
		cmocka_unit_test_teardown(test_duplicate_step_name, teardown),
		cmocka_unit_test_teardown(test_generated_id_colliding_with_a_name, teardown),
		cmocka_unit_test_teardown(test_bad_duration, teardown),
		cmocka_unit_test_teardown(test_zero_duration, teardown),
		cmocka_unit_test_teardown(test_bad_count, teardown),
		cmocka_unit_test_teardown(test_bad_flag, teardown),
		cmocka_unit_test_teardown(test_bad_id_and_capture_names, teardown),
		cmocka_unit_test_teardown(test_bad_transaction, teardown),
		cmocka_unit_test_teardown(test_unterminated_brace, teardown),
		cmocka_unit_test_teardown(test_unterminated_quote, teardown),
		cmocka_unit_test_teardown(test_db_on_a_shell_step, teardown),
		cmocka_unit_test_teardown(test_attributes_only_for_some_kinds, teardown),
		cmocka_unit_test_teardown(test_unknown_lua_block_kind, teardown),
		cmocka_unit_test_teardown(test_words_after_a_language_need_braces, teardown),
		cmocka_unit_test_teardown(test_malformed_yaml_front_matter, teardown),
		cmocka_unit_test_teardown(test_front_matter_that_is_not_a_mapping, teardown),
		cmocka_unit_test_teardown(test_unclosed_front_matter, teardown),
		cmocka_unit_test_teardown(test_unknown_front_matter_key_is_a_warning, teardown),
		cmocka_unit_test_teardown(test_bad_front_matter_values, teardown),
		cmocka_unit_test_teardown(test_on_failure_naming_a_missing_section, teardown),
		cmocka_unit_test_teardown(test_manual_naming_a_missing_section, teardown),
		cmocka_unit_test_teardown(test_section_both_on_failure_and_manual, teardown),
		cmocka_unit_test_teardown(test_front_matter_key_given_twice, teardown),
		cmocka_unit_test_teardown(test_invalid_utf8_is_refused_with_its_position, teardown),
		cmocka_unit_test_teardown(test_truncated_utf8_sequence_is_refused, teardown),
		cmocka_unit_test_teardown(test_nul_byte_means_binary, teardown),
		cmocka_unit_test_teardown(test_every_problem_is_reported_in_one_pass, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
