/*
 * cmd_revert.c - `runbook revert RUN`: the undo stack of a finished run,
 * run from its audit record (revert.h), recorded as a run of its own with
 * a Reverts: trailer. --dry-run (and `runbook plan --revert RUN`) shows
 * it and changes nothing.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/runargs.h"
#include "output.h"
#include "revert.h"
#include "util.h"

#define ARG(field) offsetof(cli_run_args, field)

static const cli_opt revert_opts[] = {
	{"dry-run", NULL, CLI_OPT_FLAG, ARG(dry_run), NULL, "show what the revert would run, changing nothing"},
	CLI_RUN_VARIABLE_OPTS, /* secrets the run used were never stored: give them again */
	{"yes", NULL, CLI_OPT_FLAG, ARG(run.yes), NULL, "approve task lists and plain confirmations"},
	{"confirm", "PHRASE", CLI_OPT_STRING, ARG(run.confirm), NULL,
	 "the phrase a confirm=\"PHRASE\" undo asks for"},
	CLI_RUN_OUTPUT_OPTS,
	{"db", "URL", CLI_OPT_CALL, 0, cli_opt_db, "the default database connection"},
	{"ephemeral-db", NULL, CLI_OPT_FLAG, ARG(run.ephemeral_db), NULL,
	 "refused: a throwaway server is not the database the run changed"},
	{"audit-repo", "DIR", CLI_OPT_STRING, ARG(audit_repo), NULL, "the git repository of audit records"},
	{"allow-changed", NULL, CLI_OPT_FLAG, ARG(allow_changed), NULL,
	 "revert although the runbook changed since the run, with today's undo blocks (recorded)"},
	{NULL, NULL, CLI_OPT_FLAG, 0, NULL, NULL}
};

const cli_spec cmd_revert_spec = {
	"revert", "runbook revert RUN [--db URL] [--set K=V]... [--dry-run] [--allow-changed]",
	"run the undos of a finished run's completed steps, newest first (RUN as for show)", CLI_OPERAND_ONE,
	revert_opts
};

/* The revert of run, prepared: shown (dry run) or run. Returns the exit code. */
static int revert(cli_run_args *a, const char *run, int argc, char **argv)
{
	rb_revert rv;
	rb_error err = RB_ERROR_INIT;
	rb_runbook *rb = NULL;
	int rc = RB_EXIT_USAGE;
	if (rb_revert_prepare(a->audit_repo, run, a->allow_changed, &rv, &err) < 0) {
		rb_out_error("runbook ", &err);
		rc = err.code ? err.code : RB_EXIT_USAGE;
		goto done;
	}
	char *shown = rb_revert_describe(&rv);
	rb_out("%s", shown);
	free(shown);
	if (rv.changed)
		rb_out_err("runbook: warning: --allow-changed: the runbook changed since run %s; today's undo blocks run\n",
			   rv.run);
	if (a->dry_run) {
		rc = RB_EXIT_OK;
		goto release;
	}
	if ((rb = cli_run_args_load(a, rv.runbook_path)) == NULL)
		goto release;
	a->run.undo_only = 1;
	a->run.reverts = rv.run;
	a->run.undo_items = rv.stack.items;
	a->run.nundo_items = rv.stack.count;
	rc = cli_run_execute(rb, a, argc, argv);
release:
	rb_revert_free(&rv);
done:
	rb_runbook_free(rb);
	rb_error_clear(&err);
	return rc;
}

int cli_revert_command(const cli_spec *spec, int argc, char **argv, int dry_run)
{
	int rc = RB_EXIT_USAGE;
	cli_run_args a;
	cli_parsed p;
	memset(&a, 0, sizeof a);
	if (cli_parse(spec, argc, argv, &a, &p) < 0 || cli_need_operand(spec, &p) < 0)
		goto done;
	if (p.help) {
		cli_help(spec);
		rc = RB_EXIT_OK;
		goto done;
	}
	if (a.run.ephemeral_db) {
		rb_out_err("runbook revert: --ephemeral-db is refused: a throwaway server is not the database the run "
			   "changed (give --db URL, or the runbook's own connection)\n");
		goto done;
	}
	a.dry_run |= dry_run;
	rc = revert(&a, p.operands[0], argc, argv);
done:
	cli_parsed_free(&p);
	cli_run_args_free(&a);
	return rc;
}

int cmd_revert(int argc, char **argv)
{
	return cli_revert_command(&cmd_revert_spec, argc, argv, 0);
}
