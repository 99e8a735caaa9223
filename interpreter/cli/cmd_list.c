/*
 * cmd_list.c - `runbook list FILE`: the step ids, one a line.
 */
#include <stddef.h>

#include "cli/cli.h"
#include "cli/common.h"
#include "output.h"
#include "runbook.h"
#include "util.h"

static const cli_opt list_opts[] = {
	{NULL, NULL, CLI_OPT_FLAG, 0, NULL, NULL}
};

const cli_spec cmd_list_spec = {
	"list", "runbook list FILE", "print the step ids, one a line", CLI_OPERAND_ONE, list_opts
};

int cmd_list(int argc, char **argv)
{
	int rc = RB_EXIT_USAGE;
	cli_parsed p;
	rb_runbook *rb = NULL;
	if (cli_parse(&cmd_list_spec, argc, argv, NULL, &p) < 0 || cli_need_operand(&cmd_list_spec, &p) < 0)
		goto done;
	if (p.help) {
		cli_help(&cmd_list_spec);
		rc = RB_EXIT_OK;
		goto done;
	}
	if (!(rb = cli_runbook_load(p.operands[0])))
		goto done;
	for (size_t i = 0; i < rb->nsteps; i++)
		if (rb->steps[i].id)
			rb_out("%s\n", rb->steps[i].id);
	rc = RB_EXIT_OK;
done:
	rb_runbook_free(rb);
	cli_parsed_free(&p);
	return rc;
}
