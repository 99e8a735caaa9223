/*
 * cmd_run.c - `runbook run FILE`: the resume point, the checks made before
 * step 1, the audit record around the engine, the exit code. --dry-run is
 * plan (cmd_plan.c).
 *
 * Secrets given on the command line are scrubbed from argv as soon as the
 * runbook says which names are secret; the audit record gets the command
 * line as it is then.
 */
#define _DEFAULT_SOURCE
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "cli/runreport.h"
#include "cli/runargs.h"
#include "cli/rollout.h"
#include "cli/targets.h"
#include "db.h"
#include "engine.h"
#include "ghactions.h"
#include "parse.h"
#include "survivor.h"
#include "output.h"
#include "pgserver.h"
#include "preflight.h"
#include "secretsrc.h"
#include "record.h"
#include "signals.h"
#include "util.h"

#define ARG(field) offsetof(cli_run_args, field)

static const cli_opt run_opts[] = {
	{"dry-run", NULL, CLI_OPT_FLAG, ARG(dry_run), NULL, "print the plan instead of running"},
	{"json", NULL, CLI_OPT_FLAG, ARG(json), NULL,
	 "JSON output (the plan; show: record.json; check: the diagnostics)"},
	CLI_RUN_VARIABLE_OPTS,
	{"yes", NULL, CLI_OPT_FLAG, ARG(run.yes), NULL, "approve task lists and plain confirmations"},
	{"confirm", "PHRASE", CLI_OPT_STRING, ARG(run.confirm), NULL,
	 "the phrase a confirm=\"PHRASE\" step asks for"},
	CLI_RUN_SELECTION_OPTS,
	CLI_RUN_TARGET_OPTS,
	{"rollout", "ID", CLI_OPT_STRING, ARG(run.rollout), NULL,
	 "with one --target: the rollout this run belongs to (set by the rollout for its targets' runs)"},
	CLI_RUN_OUTPUT_OPTS,
	{"db", "URL", CLI_OPT_CALL, 0, cli_opt_db,
	 "run: the default database connection; check: trial-run SQL blocks there, rolled back"},
	{"ephemeral-db", NULL, CLI_OPT_FLAG, ARG(run.ephemeral_db), NULL,
	 "run against a throwaway local PostgreSQL, removed at exit"},
	{"keep-db", NULL, CLI_OPT_FLAG, ARG(run.keep_db), NULL,
	 "with --ephemeral-db: keep the server and print how to connect"},
	{"no-cache", NULL, CLI_OPT_FLAG, ARG(run.no_db_cache), NULL,
	 "with --ephemeral-db: initdb afresh instead of copying the cached template (the cache is not touched)"},
	{"audit-repo", "DIR", CLI_OPT_STRING, ARG(audit_repo), NULL, "the git repository of audit records"},
	{"audit-remote", "REMOTE", CLI_OPT_CALL, 0, cli_opt_audit_remote,
	 "push the audit ref there after the run's commit: a remote's name, a path or a URL"},
	{"no-audit", NULL, CLI_OPT_FLAG, ARG(no_audit), NULL, "do not record the run"},
	{"resume", NULL, CLI_OPT_FLAG, ARG(resume), NULL,
	 "continue the last failed or interrupted run after its last successful step"},
	{"force", NULL, CLI_OPT_FLAG, ARG(force), NULL, "with --resume: resume past a refusal (runbook changed, handler ran, survivors, another database)"},
	{"wait-lock", "DURATION", CLI_OPT_CALL, 0, cli_opt_wait_lock,
	 "wait this long for another run of the runbook to end, instead of refusing at once"},
	{"no-undo", NULL, CLI_OPT_FLAG, ARG(run.no_undo), NULL,
	 "on failure, do not run the undos of the steps that completed (asked on a terminal, recorded)"},
	{"no-preflight", NULL, CLI_OPT_FLAG, ARG(no_preflight), NULL,
	 "skip the offline checks made before step 1 (recorded; for runbooks that generate code)"},
	{"strict", NULL, CLI_OPT_FLAG, ARG(run.strict), NULL,
	 "the checks made before step 1 refuse the run on a warning too (a --set nothing uses, say)"},
	{NULL, NULL, CLI_OPT_FLAG, 0, NULL, NULL}
};

const cli_spec cmd_run_spec = {
	"run", "runbook run FILE [--dry-run] [--db URL | --ephemeral-db] [--set K=V]... [options]",
	"run a runbook", CLI_OPERAND_ONE, run_opts
};

/*
 * Overwrites a secret value in argv with '*', so that ps and /proc/PID/cmdline
 * show it no longer (there is a window before this runs: the warning says
 * how to pass secrets without it).
 */
static void scrub_secret_set(const rb_runbook *rb, char *kv)
{
	char *eq = strchr(kv, '=');
	char *name = eq ? rb_xstrndup(kv, (size_t)(eq - kv)) : NULL;
	if (name && rb_runbook_is_secret(rb, name) && eq[1]) {
		rb_out_err("runbook: warning: --set %s puts a secret on the command line, where other "
			   "local users can read it; use --set-env %s or --secrets-file FILE\n", name, name);
		memset(eq + 1, '*', strlen(eq + 1));
	}
	free(name);
}

/* Every secret --set value in argv (the values were copied when parsed). */
static void scrub_secret_sets(const rb_runbook *rb, int argc, char **argv)
{
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--set") && i + 1 < argc)
			scrub_secret_set(rb, argv[++i]);
		else if (!strncmp(argv[i], "--set=", 6))
			scrub_secret_set(rb, argv[i] + 6);
	}
}

/* A throwaway server of a killed runbook, stopped and removed: said on stderr. */
static void say_reaped(void *ctx, const char *text)
{
	(void)ctx;
	rb_out_err("%s", text);
}

/* Throwaway servers of runbooks that were killed are stopped and removed. */
static void reap_orphans(void)
{
	rb_pgserver_reap_orphans(NULL, say_reaped, NULL);
}

/* 1 when NAME is given by --set, --set-env or --secrets-file. */
static int given(const cli_run_args *a, const char *name)
{
	size_t n = strlen(name);
	int found = 0;
	for (size_t i = 0; i < a->nsets && !found; i++)
		found = !strncmp(a->sets[i], name, n) && a->sets[i][n] == '=';
	return found;
}

/*
 * A secret captured or set by a run of the chain being resumed was never
 * stored (the record holds ***, or a connection string's password as ***).
 * It is dropped from the restored values when the operator gives it again;
 * otherwise the resume is refused, naming it: *** is never a value. Values
 * given again are dropped too: this run's --set wins.
 */
static int resume_secrets(const rb_runbook *rb, const cli_run_args *a, rb_resume_point *rp)
{
	size_t kept = 0;
	int rc = 0;
	for (size_t i = 0; i < rp->ncaptures; i++) {
		char *kv = rp->captures[i];
		char *eq = strchr(kv, '=');
		char *name = rb_xstrndup(kv, eq ? (size_t)(eq - kv) : strlen(kv));
		char *pw = eq ? rb_dsn_password(eq + 1) : NULL;
		int hidden = eq && strstr(eq + 1, "***") &&
			     (rb_runbook_is_secret(rb, name) || !strcmp(eq + 1, "***") || (pw && !strcmp(pw, "***")));
		const rb_restore_origin *o = &rp->origins[i];
		if (hidden && !given(a, name)) {
			rb_out_err("runbook: --resume: the secret %s %s run %s was never stored; give it again "
				   "with --set-env %s or --secrets-file FILE\n", name,
				   o->step ? "captured by" : "given with --set to", rp->chain[o->run].id, name);
			rc = -1;
		}
		if (hidden || given(a, name)) {
			free(kv);
			free(rp->origins[i].step);
		} else {
			rp->origins[kept] = rp->origins[i];
			rp->captures[kept++] = kv;
		}
		free(pw);
		free(name);
	}
	rp->ncaptures = kept;
	return rc;
}

/* The names of the values restored by --resume, for the record: "A B C". Caller frees. */
static char *restored_names(const rb_resume_point *rp)
{
	rb_buf b = RB_BUF_INIT;
	for (size_t i = 0; i < rp->ncaptures; i++) {
		const char *eq = strchr(rp->captures[i], '=');
		rb_buf_printf(&b, "%s%.*s", i ? " " : "", (int)(eq ? eq - rp->captures[i] : 0), rp->captures[i]);
	}
	return rb_buf_detach(&b);
}

/* What a resumed run's connections are checked against (rb_run_opts.check_connection). */
typedef struct {
	const rb_resume_point *rp;
	char *slug;  /* of the runbook's title: application names of the chain's runs */
} resume_check_ctx;

/*
 * Each new connection of a resumed run: the chain's database (what could not
 * be checked before the run), and no backend of a killed run still at work.
 */
static int check_resumed_connection(void *ctx, const char *name, PGconn *conn, char **why)
{
	const resume_check_ctx *c = ctx;
	char *target = rb_db_target(conn);
	int rc = rb_resume_check_target(c->rp, name, target, why);
	free(target);
	if (rc == 0)
		rc = rb_survivors_check_backends(&c->rp->survivors, conn, c->slug, why);
	return rc;
}

/* --resume: where the run continues, into rp and a->run. Returns 0, or the exit code after saying why. */
static int find_resume(const rb_runbook *rb, cli_run_args *a, rb_resume_point *rp)
{
	int rc = 0;
	rb_error err = RB_ERROR_INIT;
	rb_resume_opts ro = {a->audit_repo, a->force, 0, a->run.db_url, a->run.ephemeral_db, a->run.target};
	if (rb_audit_resume_point(rb, &ro, rp, &err) < 0) {
		rb_out_error("", &err);
		rc = err.code ? err.code : RB_EXIT_USAGE;
		goto done;
	}
	if (resume_secrets(rb, a, rp) < 0) {
		rc = RB_EXIT_USAGE;
		goto done;
	}
	char *chain = rb_resume_point_describe(rp);
	if (rp->undo_only)
		rb_out("Resuming run %s: its undo was cut short; %zu undo%s left to run, no step of the main flow\n%s",
		       rp->run, rp->undo.count, rp->undo.count == 1 ? "" : "s", chain);
	else
		rb_out("Resuming run %s at step '%s' (%zu value%s restored)\n%s", rp->run, rp->from, rp->ncaptures,
		       rp->ncaptures == 1 ? "" : "s", chain);
	free(chain);
	if (rp->forced)
		rb_out_err("runbook: warning: --force: resuming although %s\n", rp->forced);
	a->run.from = rp->from;
	a->run.restores = rp->captures;
	a->run.nrestores = rp->ncaptures;
	a->run.undo_items = rp->undo.items;
	a->run.nundo_items = rp->undo.count;
	a->run.undo_only = rp->undo_only;
	a->run.undo_exit = rp->undo.exit_code;
	a->run.undo_cut = rp->undo.interrupted;
	a->run.nundo_cut = rp->undo.ninterrupted;
	if (!a->force) {
		static resume_check_ctx check;
		check.rp = rp;
		free(check.slug);
		check.slug = rb_slugify(rb->title);
		a->run.check_connection = check_resumed_connection;
		a->run.check_ctx = &check;
	}
done:
	rb_error_clear(&err);
	return rc;
}

/* The checks before step 1 (nothing has started: a run refused here is not recorded). 0, or the exit code. */
static int preflight(const rb_runbook *rb, const cli_run_args *a)
{
	int rc = 0;
	rb_error err = RB_ERROR_INIT;
	rb_diags d = RB_DIAGS_INIT;
	if (rb_preflight_options(rb, &a->run, &err) < 0) {
		rb_out_err("runbook: %s\n", err.message);
		rc = RB_EXIT_USAGE;
		goto done;
	}
	if (a->no_preflight)
		goto done;
	size_t errors = rb_preflight_lint(rb, &a->run, &d);
	rb_diags_sort(&d);
	cli_diags_print(&d, 2);
	if (cli_github_mode(&a->out) && d.count) {
		/* Under GitHub Actions each finding is an annotation on its line too. */
		rb_buf b = RB_BUF_INIT;
		rb_gh_diags(&b, getenv("GITHUB_WORKSPACE"), &d, "runbook run");
		rb_out_write(1, b.data, b.len);
		rb_buf_free(&b);
	}
	if (errors) {
		rb_out_err("runbook: %s: %zu error%s found before the run: nothing was run "
			   "(see `runbook check %s`)\n", rb->path, errors, errors == 1 ? "" : "s", rb->path);
		rc = RB_EXIT_USAGE;
	} else if (a->run.strict && d.warnings) {
		rb_out_err("runbook: %s: %zu warning%s found before the run, and --strict: nothing was run "
			   "(see `runbook check %s`)\n", rb->path, d.warnings, d.warnings == 1 ? "" : "s", rb->path);
		rc = RB_EXIT_USAGE;
	}
done:
	rb_diags_free(&d);
	rb_error_clear(&err);
	return rc;
}

static int given_ctx(void *ctx, const char *name)
{
	return given(ctx, name);
}

/*
 * The front matter's secrets with a source (secretsrc.h), resolved before
 * any step: their values join the redactor and the run's variables (as
 * --set-env would give them; one the operator gave already is not asked
 * for). 0, or exit 5 after saying which and why: nothing was run.
 */
static int secret_sources(const rb_runbook *rb, cli_run_args *a, rb_redactor *redactor)
{
	rb_error err = RB_ERROR_INIT;
	int rc = 0;
	if (rb->fm.nsecret_sources)
		rb_signals_install(); /* Ctrl-C while a source's command runs stops it, and the run */
	if (rb_secret_sources_resolve(rb, given_ctx, a, redactor, &a->secret_sets, &a->nsecret_sets, &err) < 0) {
		rb_out_err("%s:%d:%d: %s: nothing was run\n", err.file ? err.file : rb->path, err.line, err.col, err.message);
		rc = rb_signals_interrupted() ? 128 + rb_signals_interrupted() : RB_EXIT_ENV;
	}
	a->run.secret_vars = a->secret_sets;
	a->run.nsecret_vars = a->nsecret_sets;
	rb_error_clear(&err);
	return rc;
}

/* The run's secrets, --secrets-file's values among them, into redactor; warns about short ones. */
static void collect_secrets(const rb_runbook *rb, const cli_run_args *a, rb_redactor *redactor)
{
	rb_engine_collect_secrets(rb, &a->run, redactor);
	for (size_t i = 0; i < a->file_secrets.count; i++)
		rb_redactor_add(redactor, a->file_secrets.values[i]);
	for (size_t i = 0; i < redactor->count; i++)
		if (strlen(redactor->values[i]) < 4) {
			rb_out_err("runbook: warning: a secret value is shorter than 4 characters: every "
				   "occurrence of it is hidden in output and records, and it is easy to guess\n");
			break;
		}
}

/* Notes for the record: what was resumed, the steps selected, the checks skipped. */
static void record_notes(const cli_run_args *a, const rb_resume_point *rp)
{
	if (a->resume) {
		char *names = restored_names(rp);
		rb_record_event(a->run.record, "note", "text", "resumed run", "from", rp->from, "run", rp->run,
				"resumes", rp->run, "chain", rp->first, "restored", names, NULL);
		if (rp->forced)
			rb_record_event(a->run.record, "note", "text", "resumed with --force", "overrides", rp->forced,
					NULL);
		free(names);
	}
	if (a->run.from || a->run.only)
		rb_record_event(a->run.record, "note", "text", "steps selected", "from", a->run.from, "only",
				a->run.only, NULL);
	if (a->no_preflight)
		rb_record_event(a->run.record, "note", "text", "pre-flight checks skipped (--no-preflight)", NULL);
	if (a->run.reverts)
		rb_record_event(a->run.record, "note", "text", "revert", "reverts", a->run.reverts, "allow_changed",
				a->allow_changed ? "yes (the runbook changed since the run)" : NULL, NULL);
}

/* The run: resume point, checks, audit record around the engine. Returns the exit code. */
int cli_run_execute(const rb_runbook *rb, cli_run_args *a, int argc, char **argv)
{
	int rc = RB_EXIT_OK;
	rb_redactor redactor = RB_REDACTOR_INIT;
	rb_audit *audit = NULL;
	rb_error err = RB_ERROR_INIT;
	rb_resume_point rp;
	cli_sinks sinks;
	rb_record memory;
	memset(&rp, 0, sizeof rp);
	memset(&sinks, 0, sizeof sinks);
	memset(&memory, 0, sizeof memory);
	memory.fd = -1;
	rb_pgserver_job *pg = NULL;
	cli_targets targets;
	memset(&targets, 0, sizeof targets);
	scrub_secret_sets(rb, argc, argv); /* first: a rollout's targets' runs share this command line */
	if (a->resume && a->run.rollout && !a->ntarget_names) {
		rc = cli_rollout_resume(rb, a, argc, argv);
		goto done;
	}
	if (cli_run_args_targets(a)) {
		if ((rc = cli_targets_load(rb, a, &targets)) != 0)
			goto done;
		if (targets.rollout) {
			rc = cli_rollout_run(rb, a, &targets, argc, argv);
			goto done;
		}
		if ((rc = cli_target_apply(&targets.inv.targets[targets.sel[0]], a)) != 0)
			goto done;
	}
	reap_orphans();
	if (a->run.ephemeral_db) {
		/*
		 * The throwaway server starts while the run is checked and its record
		 * opened. Ctrl-C meanwhile is seen by the handlers (installed here, not
		 * at the engine's start), so that it stops the server too: checked
		 * before the record is opened, and by the engine after.
		 */
		rb_signals_install();
		rb_pgserver_opts po = {.keep = a->run.keep_db, .no_cache = a->run.no_db_cache};
		pg = rb_pgserver_start_async(&po);
	}
	if (a->resume && (rc = find_resume(rb, a, &rp)) != 0)
		goto done;
	if ((rc = preflight(rb, a)) != 0)
		goto done;
	if ((rc = secret_sources(rb, a, &redactor)) != 0)
		goto done;
	collect_secrets(rb, a, &redactor);
	a->run.redactor = &redactor;
	/* The outputs before the record: a report that cannot be written leaves no run behind. */
	int code;
	a->out.events_append = a->run.rollout != NULL; /* the rollout's one file, made empty by the rollout */
	if (cli_sinks_open(&sinks, &a->out, &redactor, &code) < 0) {
		rc = code;
		goto done;
	}
	if (a->out.report && cli_report_check(a->out.report) < 0) {
		rc = RB_EXIT_ENV;
		goto done;
	}
	if (pg && rb_signals_interrupted()) {
		rb_out_err("runbook: interrupted before the run began: nothing was run or recorded\n");
		rc = 128 + rb_signals_interrupted(); /* as shells report it: 130 for Ctrl-C, 143 for SIGTERM */
		goto done;
	}
	if (!a->no_audit) {
		rb_audit_opts ao = {a->audit_repo, argc, argv, &redactor, a->resume ? rp.run : NULL,
				    a->resume ? rp.first : NULL, a->run.reverts, a->run.target, a->run.rollout,
				    a->audit_remote};
		if (rb_audit_begin(rb, &ao, &audit, &err) < 0) {
			rb_out_err("runbook: cannot record this run: %s\n", err.message);
			rc = RB_EXIT_ENV;
			goto done;
		}
		a->run.record = rb_audit_record(audit);
		record_notes(a, &rp);
	} else if (a->out.report) {
		cli_report_memory_open(&memory, rb, &redactor);
		a->run.record = &memory;
	}
	a->run.sinks = sinks.list;
	a->run.data_on_stdout = a->out.events && !strcmp(a->out.events, "-");
	a->run.nsinks = sinks.count;
	int64_t started = rb_now_ms();
	a->run.pg_job = pg; /* the engine's now */
	pg = NULL;
	rb_run_outcome outcome;
	memset(&outcome, 0, sizeof outcome);
	if (a->run.rollout)
		cli_rollout_watch(&outcome);
	a->run.outcome = &outcome;
	rc = rb_engine_run(rb, &a->run);
	a->run.pg_job = NULL;
	a->run.outcome = NULL;
	if (a->run.rollout)
		cli_rollout_report(rc, a->run.record ? rb_record_get(a->run.record, "run", NULL, "id") : NULL, &outcome);
	if (cli_sinks_close(&sinks) < 0 && rc == RB_EXIT_OK)
		rc = RB_EXIT_ENV;
	if (audit && rb_audit_finish(audit, rc, &err) < 0 && rc == RB_EXIT_OK)
		rc = RB_EXIT_ENV;
	if (!audit && a->out.report)
		cli_report_memory_finish(&memory, rc, started);
	if (a->out.report && cli_report_write(a->out.report, a->run.record, rb->source, audit ? rb_audit_commit(audit) : NULL,
					      &redactor) < 0 && rc == RB_EXIT_OK)
		rc = RB_EXIT_ENV;
done:
	rb_pgserver_abandon(pg);
	a->run.target = NULL;
	cli_targets_free(&targets);
	cli_sinks_close(&sinks);
	rb_audit_free(audit);
	rb_record_close(&memory);
	rb_error_clear(&err);
	rb_resume_point_free(&rp);
	rb_redactor_free(&redactor);
	return rc;
}

static int run_action(const rb_runbook *rb, cli_run_args *a, int argc, char **argv)
{
	return a->dry_run ? cli_plan_print(rb, a) : cli_run_execute(rb, a, argc, argv);
}

int cmd_run(int argc, char **argv)
{
	return cli_run_command(&cmd_run_spec, argc, argv, run_action);
}
