/*
 * cmd_new.c - `runbook new FILE`: writes a scaffold runbook that passes
 * check --strict.
 */
#include <stddef.h>
#include <string.h>

#include "cli/cli.h"
#include "output.h"
#include "scaffold.h"
#include "util.h"

typedef struct {
	const char *template_name;
} new_args;

static const cli_opt new_opts[] = {
	{"template", "NAME", CLI_OPT_STRING, offsetof(new_args, template_name), NULL,
	 "basic (default), sql or promotion"},
	{NULL, NULL, CLI_OPT_FLAG, 0, NULL, NULL}
};

const cli_spec cmd_new_spec = {
	"new", "runbook new FILE [--template basic|sql|promotion]",
	"write a scaffold runbook that passes check --strict", CLI_OPERAND_ONE, new_opts
};

int cmd_new(int argc, char **argv)
{
	int rc = RB_EXIT_USAGE;
	new_args a = {NULL};
	cli_parsed p;
	rb_error err = RB_ERROR_INIT;
	if (cli_parse(&cmd_new_spec, argc, argv, &a, &p) < 0 || cli_need_operand(&cmd_new_spec, &p) < 0)
		goto done;
	if (p.help) {
		cli_help(&cmd_new_spec);
		rc = RB_EXIT_OK;
		goto done;
	}
	const char *file = p.operands[0];
	rc = rb_scaffold_write(file, a.template_name ? a.template_name : "basic", &err);
	if (rc != RB_EXIT_OK)
		rb_out_err("runbook new: %s\n", err.message);
	else
		rb_out("wrote %s: try `runbook check --strict %s` and `runbook run --ephemeral-db --yes %s`\n", file,
		       file, file);
done:
	rb_error_clear(&err);
	cli_parsed_free(&p);
	return rc;
}
