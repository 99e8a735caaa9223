/*
 * cmd_plan.c - `runbook plan FILE`: what a run would do, touching nothing
 * (run --dry-run comes here too, with run's options).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cli/cli.h"
#include "cli/runargs.h"
#include "cli/targets.h"
#include "output.h"
#include "plan.h"
#include "preflight.h"
#include "util.h"

#define ARG(field) offsetof(cli_run_args, field)

static const cli_opt plan_opts[] = {
	{"json", NULL, CLI_OPT_FLAG, ARG(json), NULL,
	 "JSON output (the plan; show: record.json; check: the diagnostics)"},
	{"set", "K=V", CLI_OPT_CALL, 0, cli_opt_set, "set a variable (repeatable); overrides front matter env"},
	CLI_RUN_SELECTION_OPTS,
	CLI_RUN_TARGET_OPTS,
	{"audit-repo", "DIR", CLI_OPT_STRING, ARG(audit_repo), NULL, "the git repository of audit records"},
	{"revert", "RUN", CLI_OPT_STRING, ARG(revert), NULL,
	 "instead of a FILE: what `runbook revert RUN` would run, changing nothing"},
	{"fail-at", "ID", CLI_OPT_STRING, ARG(fail_at), NULL,
	 "also show the undos a failure of step ID would run, newest first"},
	{"resume", NULL, CLI_OPT_FLAG, ARG(resume), NULL,
	 "continue the last failed or interrupted run after its last successful step"},
	{NULL, NULL, CLI_OPT_FLAG, 0, NULL, NULL}
};

const cli_spec cmd_plan_spec = {
	"plan", "runbook plan FILE [--json]",
	"show what a run would do, touching nothing (= run --dry-run)", CLI_OPERAND_ONE, plan_opts
};

/*
 * A resume previewed: nothing is committed, a killed run's journal is read
 * where it is. Fills rp and *text (the plan's "continues run ..." lines,
 * caller frees). Returns 0, or the exit code after saying why.
 */
static int resume_preview(const rb_runbook *rb, const cli_run_args *a, rb_resume_point *rp, char **text)
{
	int rc = 0;
	rb_error err = RB_ERROR_INIT;
	rb_resume_opts ro = {a->audit_repo, a->force, 1, a->run.db_url, a->run.ephemeral_db, a->run.target};
	if (rb_audit_resume_point(rb, &ro, rp, &err) < 0) {
		rb_out_error("", &err);
		rc = err.code ? err.code : RB_EXIT_USAGE;
		goto done;
	}
	char *chain = rb_resume_point_describe(rp);
	size_t n = strlen(chain);
	*text = rb_xasprintf("continues run %s at step '%s' (%zu value%s restored)\n%.*s", rp->run, rp->from,
			     rp->ncaptures, rp->ncaptures == 1 ? "" : "s", (int)(n ? n - 1 : 0), chain);
	free(chain);
done:
	rb_error_clear(&err);
	return rc;
}

int cli_plan_print(const rb_runbook *rb, const cli_run_args *a)
{
	int rc = RB_EXIT_OK;
	rb_error err = RB_ERROR_INIT;
	rb_resume_point rp;
	rb_buf out = RB_BUF_INIT;
	char *resume = NULL;
	cli_targets targets;
	rb_plan_targets pt;
	memset(&targets, 0, sizeof targets);
	memset(&pt, 0, sizeof pt);
	memset(&rp, 0, sizeof rp);
	char *audit = a->no_audit ? rb_xstrdup("none (--no-audit)") : rb_audit_describe(rb, a->audit_repo);
	rb_plan_opts po = {a->json, 0, audit, a->run.from, a->run.only, a->run.skip_guards, NULL, a->fail_at, NULL};
	if (a->resume) {
		if ((rc = resume_preview(rb, a, &rp, &resume)) != 0)
			goto done;
		po.from = rp.from;
		po.resume = resume;
	}
	if (cli_run_args_targets(a)) {
		if ((rc = cli_targets_load(rb, a, &targets)) != 0)
			goto done;
		pt.inv = &targets.inv;
		pt.sel = targets.sel;
		pt.count = targets.count;
		pt.jobs = a->jobs ? a->jobs : 1;
		pt.canary = a->canary;
		po.targets = &pt;
	}
	rb_run_opts selected = a->run;
	selected.from = po.from;
	if (rb_preflight_options(rb, &selected, &err) < 0) {
		rb_out_err("runbook: %s\n", err.message);
		rc = RB_EXIT_USAGE;
		goto done;
	}
	rb_plan_render(rb, &po, &out);
	rb_out_write(1, out.data, out.len);
	if (rp.refusal.code && !a->force) {
		/* What the run would refuse: the preview above, the reason and the exit code here. */
		rb_out_error("", &rp.refusal);
		rc = rp.refusal.code;
	}
done:
	cli_targets_free(&targets);
	rb_buf_free(&out);
	rb_error_clear(&err);
	rb_resume_point_free(&rp);
	free(resume);
	free(audit);
	return rc;
}

static int plan_action(const rb_runbook *rb, cli_run_args *a, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return cli_plan_print(rb, a);
}

/*
 * plan --revert RUN: the revert's preview (cmd_revert.c), RUN its operand
 * in place of FILE. 1 and *rc when argv asks for it.
 */
static int plan_revert(int argc, char **argv, int *rc)
{
	int found = 0, n = 0;
	char **args = rb_xcalloc((size_t)argc + 1, sizeof *args);
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--revert"))
			found = 1;
		else if (!strncmp(argv[i], "--revert=", 9) && (found = 1))
			args[n++] = argv[i] + 9;
		else
			args[n++] = argv[i];
	}
	if (found)
		*rc = cli_revert_command(&cmd_revert_spec, n, args, 1);
	free(args);
	return found;
}

int cmd_plan(int argc, char **argv)
{
	int rc;
	if (plan_revert(argc, argv, &rc))
		return rc;
	return cli_run_command(&cmd_plan_spec, argc, argv, plan_action);
}
