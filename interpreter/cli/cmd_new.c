/*
 * cmd_new.c - `runbook new FILE [--template NAME]`: writes a scaffold
 * runbook (scaffold.h) that passes check --strict; `--list-templates` (and
 * --help) name the templates and what each teaches.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "output.h"
#include "scaffold.h"
#include "util.h"

typedef struct {
	const char *template_name;
	int list_templates;
} new_args;

static const cli_opt new_opts[] = {
	{"template", "NAME", CLI_OPT_STRING, offsetof(new_args, template_name), NULL,
	 "basic (default), sql or promotion"},
	{"list-templates", NULL, CLI_OPT_FLAG, offsetof(new_args, list_templates), NULL,
	 "print the templates, one a line with what it teaches, and exit"},
	{NULL, NULL, CLI_OPT_FLAG, 0, NULL, NULL}
};

const cli_spec cmd_new_spec = {
	"new", "runbook new FILE [--template basic|sql|promotion] | runbook new --list-templates",
	"write a scaffold runbook that passes check --strict", CLI_OPERAND_ONE, new_opts
};

/* One line a template, after indent: its name, then what it teaches. */
static void list_templates(const char *indent)
{
	for (const rb_scaffold_template *t = rb_scaffold_templates; t->name; t++)
		rb_out("%s%-10s %s\n", indent, t->name, t->summary);
}

int cmd_new(int argc, char **argv)
{
	int rc = RB_EXIT_USAGE;
	new_args a = {NULL, 0};
	cli_parsed p;
	rb_error err = RB_ERROR_INIT;
	if (cli_parse(&cmd_new_spec, argc, argv, &a, &p) < 0)
		goto done;
	if (p.help) {
		cli_help(&cmd_new_spec);
		rb_out("\nTemplates:\n");
		list_templates("  ");
		rc = RB_EXIT_OK;
		goto done;
	}
	if (a.list_templates) {
		if (p.count) {
			rb_out_err("runbook new: --list-templates takes no FILE\nUsage: %s\n", cmd_new_spec.usage);
			goto done;
		}
		list_templates("");
		rc = RB_EXIT_OK;
		goto done;
	}
	if (cli_need_operand(&cmd_new_spec, &p) < 0)
		goto done;
	const char *file = p.operands[0];
	const rb_scaffold_template *t = rb_scaffold_find(a.template_name ? a.template_name : rb_scaffold_templates[0].name);
	rc = rb_scaffold_write(file, t ? t->name : a.template_name, &err);
	if (rc != RB_EXIT_OK) {
		char *msg = rb_error_format(&err);
		rb_out_err("runbook new: %s\n", msg);
		free(msg);
	} else {
		rb_out("wrote %s: try `runbook check --strict %s` and `runbook run %s %s`\n", file, file, t->rehearse,
		       file);
	}
done:
	rb_error_clear(&err);
	cli_parsed_free(&p);
	return rc;
}
