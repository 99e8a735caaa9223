/*
 * cmd_check.c - `runbook check FILE...`: everything that can be known
 * without running, compiler-style (or JSON), one exit code for all files.
 * Under GitHub Actions (or --github) each finding is also an annotation
 * (ghactions.h), after the file's findings (on stderr with --json).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "diag.h"
#include "ghactions.h"
#include "json.h"
#include "inventory.h"
#include "lint.h"
#include "output.h"
#include "parse.h"
#include "util.h"
#include "visible.h"

typedef struct {
	int json;
	int strict;
	int list_rules;
	int github;     /* --github, or GITHUB_ACTIONS=true: annotations too */
	char *db_url;   /* owned copy of --db (argv's is scrubbed) */
} check_args;

static int opt_db(void *args, const char *command, char *value)
{
	check_args *a = args;
	(void)command;
	free(a->db_url);
	a->db_url = rb_xstrdup(value);
	cli_scrub_db_arg(value);
	return 0;
}

static const cli_opt check_opts[] = {
	{"json", NULL, CLI_OPT_FLAG, offsetof(check_args, json), NULL,
	 "JSON output (the plan; show: record.json; check: the diagnostics)"},
	{"db", "URL", CLI_OPT_CALL, 0, opt_db,
	 "run: the default database connection; check: trial-run SQL blocks there, rolled back"},
	{"strict", NULL, CLI_OPT_FLAG, offsetof(check_args, strict), NULL, "warnings fail too (exit 1)"},
	{"list-rules", NULL, CLI_OPT_FLAG, offsetof(check_args, list_rules), NULL,
	 "print the lint rules allow= names (SQL rules, then runbook's own warnings) and what each one finds"},
	{"github", NULL, CLI_OPT_FLAG, offsetof(check_args, github), NULL,
	 "each finding also as a GitHub Actions annotation (::error file=...::); automatic when GITHUB_ACTIONS=true"},
	{NULL, NULL, CLI_OPT_FLAG, 0, NULL, NULL}
};

const cli_spec cmd_check_spec = {
	"check", "runbook check FILE... [--strict] [--json] [--db URL] [--github] | runbook check --list-rules",
	"lint: everything that can be known without running, compiler-style", CLI_OPERAND_MANY, check_opts
};

/* One object per diagnostic into the array j is writing. */
static void json_diags(const rb_diags *d, rb_json *j)
{
	for (size_t i = 0; i < d->count; i++) {
		const rb_diag *g = &d->items[i];
		rb_json_object_begin(j);
		rb_json_key(j, "file");
		rb_json_string(j, g->file);
		rb_json_key(j, "line");
		rb_json_int(j, g->line);
		rb_json_key(j, "col");
		rb_json_int(j, g->col);
		rb_json_key(j, "severity");
		rb_json_string(j, g->severity == RB_DIAG_ERROR ? "error" : "warning");
		rb_json_key(j, "message");
		char *shown = rb_visible(g->message);
		rb_json_string(j, shown);
		free(shown);
		rb_json_key(j, "rule");
		if (g->rule)
			rb_json_string(j, g->rule);
		else
			rb_json_null(j);
		rb_json_end(j, '}');
	}
}

/* The findings as workflow commands, paths relative to GITHUB_WORKSPACE; stderr when stdout is JSON. */
static void annotate(const check_args *a, const rb_diags *d)
{
	rb_buf b = RB_BUF_INIT;
	rb_gh_diags(&b, getenv("GITHUB_WORKSPACE"), d, "runbook check");
	if (b.len)
		rb_out_write(a->json ? 2 : 1, b.data, b.len);
	rb_buf_free(&b);
}

/* Every file, every finding; the exit code. */
static int check_files(const check_args *a, char **files, size_t nfiles)
{
	int errors = 0, warnings = 0;
	rb_buf json = RB_BUF_INIT;
	rb_json j;
	rb_json_init(&j, &json, 1);
	rb_json_array_begin(&j);
	for (size_t f = 0; f < nfiles; f++) {
		rb_diags d = RB_DIAGS_INIT;
		rb_runbook *rb = rb_parse_file(files[f], &d);
		if (rb) {
			rb_lint_opts lo = {a->db_url, 0, 0, NULL};
			rb_lint(rb, &lo, &d);
			/* Its inventory of targets too: a literal password there is an error. */
			char *inventory = rb_inventory_path(rb, NULL);
			rb_inventory inv = RB_INVENTORY_INIT;
			if (inventory)
				rb_inventory_load(inventory, &inv, &d);
			rb_inventory_free(&inv);
			free(inventory);
		}
		rb_diags_sort(&d);
		if (a->json)
			json_diags(&d, &j);
		else
			cli_diags_print(&d, 1);
		if (a->github)
			annotate(a, &d);
		errors += (int)d.errors;
		warnings += (int)d.warnings;
		rb_runbook_free(rb);
		rb_diags_free(&d);
	}
	rb_json_end(&j, ']');
	if (a->json) {
		rb_buf_putc(&json, '\n');
		rb_out_write(1, json.data, json.len);
	} else if (errors || warnings) {
		rb_out("%d error%s, %d warning%s\n", errors, errors == 1 ? "" : "s", warnings, warnings == 1 ? "" : "s");
	}
	rb_buf_free(&json);
	return errors ? RB_EXIT_USAGE : warnings && a->strict ? RB_EXIT_STEP : RB_EXIT_OK;
}

int cmd_check(int argc, char **argv)
{
	int rc = RB_EXIT_USAGE;
	check_args a;
	cli_parsed p;
	memset(&a, 0, sizeof a);
	if (cli_parse(&cmd_check_spec, argc, argv, &a, &p) < 0)
		goto done;
	if (a.list_rules && !p.help) {
		rb_buf b = RB_BUF_INIT;
		rb_lint_rules_list(&b);
		rb_out_write(1, b.data, b.len);
		rb_buf_free(&b);
		rc = RB_EXIT_OK;
		goto done;
	}
	if (cli_need_operand(&cmd_check_spec, &p) < 0)
		goto done;
	if (p.help) {
		cli_help(&cmd_check_spec);
		rc = RB_EXIT_OK;
		goto done;
	}
	a.github = a.github || rb_gh_actions();
	rc = check_files(&a, p.operands, p.count);
done:
	cli_parsed_free(&p);
	free(a.db_url);
	return rc;
}
