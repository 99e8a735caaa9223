/*
 * runargs.h - the arguments run and plan share (run --dry-run is plan):
 * the variables given (--set, --set-env, --secrets-file), the connection,
 * the steps selected, the audit repository, --resume; the option
 * functions that take them, and the checks made on them together.
 */
#ifndef RB_CLI_RUNARGS_H
#define RB_CLI_RUNARGS_H

#include <stddef.h>

#include "cli/opt.h"
#include "cli/sinks.h"
#include "engine.h"
#include "redact.h"
#include "runbook.h"

typedef struct {
	int dry_run;              /* run --dry-run: plan instead */
	int json;
	int resume;
	int force;
	int no_audit;
	int no_preflight;
	const char *audit_repo;
	char *audit_remote;       /* --audit-remote NAME|URL (auditsync.h): an owned copy (argv's password is scrubbed) */
	const char *fail_at;     /* plan --fail-at ID */
	int allow_changed;        /* revert --allow-changed */
	const char *revert;       /* plan --revert RUN (taken before parsing: cmd_plan.c) */
	char **sets;              /* "NAME=value", owned: --set, --set-env, --secrets-file, in order */
	size_t nsets;
	char **secret_sets;       /* "NAME=value", owned: the front matter's secrets' sources, resolved */
	size_t nsecret_sets;
	char *db_url;             /* owned copy of --db (argv's is scrubbed) */
	rb_redactor file_secrets; /* values from --secrets-file: secret whatever their names */
	char *lua_dir;            /* owned (cli_lua_dir) */
	cli_output_opts out;      /* how the run is shown and reported (sinks.h) */
	/* Targets (inventory.h, cli/targets.h). */
	const char *inventory;    /* --inventory FILE */
	char **target_names;      /* --target NAME (repeatable), owned */
	size_t ntarget_names;
	const char *targets_spec; /* --targets GROUP|a,b,c */
	char **matrix;            /* --matrix NAME=a,b (repeatable), owned */
	size_t nmatrix;
	int jobs;                 /* -j N: targets at once; 0: 1 */
	int canary;               /* --canary K */
	int keep_going;           /* --keep-going */
	int max_failures;         /* --max-failures N; 0: 1 (without --keep-going) */
	char **target_vars;       /* the target's "K=V" (a->run.target_vars), owned */
	size_t ntarget_vars;
	char *target_db;          /* the target's db (a->run.db_url), owned */
	rb_run_opts run;          /* its strings borrowed from argv or from the fields above */
} cli_run_args;

/* Option functions (opt.h) for a cli_run_args. */

/** --set K=V (repeatable). */
int cli_opt_set(void *args, const char *command, char *value);
/** --set-env NAME: NAME=value from runbook's own environment. */
int cli_opt_set_env(void *args, const char *command, char *value);
/** --secrets-file FILE: NAME=VALUE lines (# comments, blank lines); mode 0600 or stricter. */
int cli_opt_secrets_file(void *args, const char *command, char *value);
/** --audit-remote REMOTE: copied; a password in its URL joins the secrets and is overwritten in argv. */
int cli_opt_audit_remote(void *args, const char *command, char *value);
/** --env-file FILE: NAME=VALUE lines as --secrets-file's (same mode rule), secret only when their names are. */
int cli_opt_env_file(void *args, const char *command, char *value);
/** --db URL: copied, then scrubbed in argv (cli_scrub_db_arg). */
int cli_opt_db(void *args, const char *command, char *value);
/** --target NAME (repeatable). */
int cli_opt_target(void *args, const char *command, char *value);
/** --matrix NAME=a,b (repeatable). */
int cli_opt_matrix(void *args, const char *command, char *value);
/** --jobs N, --canary K, --max-failures N: a whole number (jobs at least 1). */
int cli_opt_jobs(void *args, const char *command, char *value);
int cli_opt_canary(void *args, const char *command, char *value);
int cli_opt_max_failures(void *args, const char *command, char *value);

/** --wait-lock DURATION. */
int cli_opt_wait_lock(void *args, const char *command, char *value);

/** The option table rows that give a run its variables: run and revert list them. */
#define CLI_RUN_VARIABLE_OPTS                                                                               \
	{"set", "K=V", CLI_OPT_CALL, 0, cli_opt_set, "set a variable (repeatable); overrides front matter env"}, \
	{"set-env", "NAME", CLI_OPT_CALL, 0, cli_opt_set_env,                                                   \
	 "set variable NAME from runbook's own environment (a secret stays out of ps)"},                        \
	{"secrets-file", "FILE", CLI_OPT_CALL, 0, cli_opt_secrets_file,                                         \
	 "NAME=VALUE lines, each a secret (the file must not be readable by others: chmod 600)"},               \
	{"env-file", "FILE", CLI_OPT_CALL, 0, cli_opt_env_file,                                                 \
	 "NAME=VALUE lines, secret when their names are (the file must not be readable by others: chmod 600)"}

/** The option table rows that say how a run is shown and reported: run and revert list them. */
#define CLI_RUN_OUTPUT_OPTS                                                                                  \
	{"color", "WHEN", CLI_OPT_STRING, offsetof(cli_run_args, out.color), NULL,                            \
	 "colour on the terminal: auto (the default: a terminal, no NO_COLOR, TERM not dumb), always, never"},  \
	{"quiet", NULL, CLI_OPT_FLAG, offsetof(cli_run_args, out.quiet), NULL,                                 \
	 "show only failures, gates that said no and the summary"},                                             \
	{"verbose", NULL, CLI_OPT_FLAG, offsetof(cli_run_args, out.verbose), NULL,                             \
	 "show each SQL statement as sent (secrets hidden) and its time"},                                      \
	{"step", NULL, CLI_OPT_FLAG, offsetof(cli_run_args, run.step_mode), NULL,                              \
	 "ask before each step: [y]es, [s]kip, [q]uit, [a]ll (a terminal is needed; answers recorded)"},       \
	{"events", "FILE", CLI_OPT_STRING, offsetof(cli_run_args, out.events), NULL,                           \
	 "write the run's events as JSON lines to FILE (- : stdout, the rest then goes to stderr)"},            \
	{"events-output", NULL, CLI_OPT_FLAG, offsetof(cli_run_args, out.events_output), NULL,                 \
	 "with --events: include the steps' output, in chunks (secrets hidden)"},                                \
	{"junit", "FILE", CLI_OPT_STRING, offsetof(cli_run_args, out.junit), NULL,                             \
	 "write a JUnit XML report of the run to FILE (one test case a step)"},                                 \
	{"report", "FILE", CLI_OPT_STRING, offsetof(cli_run_args, out.report), NULL,                           \
	 "write the run's HTML report to FILE when it ends (the record keeps one too: report.html)"},           \
	{"github", NULL, CLI_OPT_FLAG, offsetof(cli_run_args, out.github), NULL,                               \
	 "GitHub Actions output: groups, annotations, masks, step summary (default when GITHUB_ACTIONS=true)"}

/** The option table rows that choose targets: run and plan list them. */
#define CLI_RUN_TARGET_OPTS                                                                                  \
	{"inventory", "FILE", CLI_OPT_STRING, offsetof(cli_run_args, inventory), NULL,                        \
	 "the targets' inventory (default: the front matter's inventory:, else targets.yaml beside the runbook)"}, \
	{"target", "NAME", CLI_OPT_CALL, 0, cli_opt_target, "run against this target of the inventory (repeatable)"}, \
	{"targets", "GROUP|A,B", CLI_OPT_STRING, offsetof(cli_run_args, targets_spec), NULL,                  \
	 "run against a group of the inventory, or these targets and groups: one run a target"},               \
	{"matrix", "NAME=A,B", CLI_OPT_CALL, 0, cli_opt_matrix,                                              \
	 "targets from every combination of these values (repeatable), instead of an inventory"},              \
	{"jobs", "N", CLI_OPT_CALL, 0, cli_opt_jobs, "-j N: run at most N targets at a time (default 1)"},   \
	{"canary", "K", CLI_OPT_CALL, 0, cli_opt_canary,                                                     \
	 "run the first K targets alone; go on only when all succeeded (and, on a terminal, approved)"},       \
	{"keep-going", NULL, CLI_OPT_FLAG, offsetof(cli_run_args, keep_going), NULL,                          \
	 "go on dispatching targets after one failed"},                                                         \
	{"max-failures", "N", CLI_OPT_CALL, 0, cli_opt_max_failures,                                         \
	 "with --keep-going: stop dispatching after N targets failed"}

/** The option table rows that select steps: run and plan list them. */
#define CLI_RUN_SELECTION_OPTS                                                                               \
	{"from", "ID", CLI_OPT_STRING, offsetof(cli_run_args, run.from), NULL,                                 \
	 "start at step ID (the guards before it are checked again)"},                                          \
	{"only", "ID", CLI_OPT_STRING, offsetof(cli_run_args, run.only), NULL,                                 \
	 "run only step ID (the guards before it are checked again)"},                                          \
	{"skip-guards", NULL, CLI_OPT_FLAG, offsetof(cli_run_args, run.skip_guards), NULL,                     \
	 "with --from/--only/--resume: do not check the gates and approvals before it again (asked, recorded)"}

/** 1 when targets were asked for (--target, --targets, --matrix). */
int cli_run_args_targets(const cli_run_args *a);

/**
 * The checks on the options together: --db and --ephemeral-db exclude each
 * other, --keep-db needs --ephemeral-db, --resume takes no --from/--only.
 * Returns 0, or -1 after saying why: exit RB_EXIT_USAGE.
 */
int cli_run_args_check(const cli_run_args *a, const char *command);

/**
 * Loads the runbook at path (cli_runbook_load) and completes a->run with
 * the variables given and the Lua helpers' directory. NULL: exit
 * RB_EXIT_USAGE.
 */
rb_runbook *cli_run_args_load(cli_run_args *a, const char *path);

void cli_run_args_free(cli_run_args *a);

/** What run or plan does with a loaded runbook; returns the exit code. */
typedef int (*cli_run_action)(const rb_runbook *rb, cli_run_args *a, int argc, char **argv);

/**
 * The shape run and plan share: parse spec's options into a cli_run_args,
 * check them, answer --help, load FILE, then act. Returns the exit code.
 */
int cli_run_command(const cli_spec *spec, int argc, char **argv, cli_run_action act);

/**
 * plan, and run --dry-run: the whole runbook, or what a partial run or a
 * resume would do (a resume previewed: nothing committed). Returns the
 * exit code: that of the run's refusal when a resume would be refused.
 * In cmd_plan.c.
 */
int cli_plan_print(const rb_runbook *rb, const cli_run_args *a);

/**
 * The run itself, once the runbook is loaded and a->run complete: the
 * resume point, pre-flight, secrets, the audit record around the engine.
 * Returns the exit code. In cmd_run.c; revert runs through it too.
 */
int cli_run_execute(const rb_runbook *rb, cli_run_args *a, int argc, char **argv);

#endif
