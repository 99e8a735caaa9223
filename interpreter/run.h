/*
 * run.h - the state of one run, shared by the loop (engine.c) and the files
 * that serve it. Private to the engine: nothing outside engine.c, the
 * run_*.c files, luahost.c and the step_*.c executors includes it.
 *
 *   engine.c       the loop: selection, guards, when=, confirm, retries,
 *                  expect=, captures, the failure handler
 *   run_session.c  what a run holds: variables and secrets, connections,
 *                  the throwaway server, the run lock
 *   run_output.c   what a run says: events to the run's sinks (events.h),
 *                  every text through the redactor
 *   luahost.c      what Lua sees of the run, and the abort conditions
 *   step_*.c       one executor per step kind, behind rb_step_ops
 *
 * The run owns everything in rb_run; the runbook and the options are only
 * read.
 */
#ifndef RB_RUN_H
#define RB_RUN_H

#include "approve.h"
#include "db.h"
#include "engine.h"
#include "events.h"
#include "luavm.h"
#include "pgserver.h"
#include "runlock.h"
#include "select.h"
#include "shell.h"
#include "sqlexec.h"
#include "vars.h"
#include "watchdog.h"

#define DEFAULT_EVERY_MS 5000
#define LUA_MAX_MS 5000                /* luavm.h's default wall-clock limit of an evaluation */
#define DEFAULT_LOCK_TIMEOUT_MS RB_DEFAULT_LOCK_TIMEOUT_MS
#define RECORD_OUTPUT_MAX 16384

/** What became of one step in this run. */
typedef struct {
	rb_status status;
	int exit_code;        /* shell: exit status; sql: 0 or 1 */
	int64_t duration_ms;
	char *out;            /* kept stdout */
	char *err;            /* kept stderr, or the SQL error message */
	char sqlstate[6];
	rb_rows rows;         /* sql: the last result's rows (rows.h) */
	int is_sql;
	int attempts;         /* runs of the step, retries included */
} rb_step_result;

/** A step on the undo stack: it completed, with the variables of that moment (run_undo.c). */
typedef struct {
	size_t step;          /* index into rb->steps */
	rb_vars vars;
} rb_undo_entry;

typedef struct {
	const rb_runbook *rb;
	const rb_run_opts *opts;
	rb_vars vars;
	rb_step_result *results; /* one per rb->steps entry */
	rb_selection *sel;      /* one per rb->steps entry: what this run does with it */
	rb_watchdog *watchdog;  /* stops the running step's group if runbook dies */
	rb_runlock *lock;       /* one run of this runbook at a time */
	char *lock_dir;         /* where its lock file is, when it has one */
	rb_db_session session;  /* how connections are opened */
	char *app_name;         /* runbook/<slug>/<run id>, in pg_stat_activity */
	const char **db_names;  /* the front matter's named connections, for both sets */
	const char **db_dsns;
	int sql_backend;        /* the running SQL step's backend pid */
	int64_t sql_started;
	int64_t next_lock_check;
	char *blocker;          /* who blocked the running SQL step, last seen */
	const rb_step *current; /* the step running now */
	size_t total;           /* runnable steps of the role running */
	const char *default_dsn; /* --db, else the throwaway server, else the front matter's */
	rb_dbset *dbs;          /* the run's connections */
	rb_dbset *monitor;      /* a second connection for Lua while a sql step holds the first */
	int sql_busy;
	int64_t lua_deadline;   /* the running Lua evaluation's end: sql() may not outlast it */
	rb_pgserver *pg;        /* --ephemeral-db */
	rb_approver approver;
	rb_redactor own_redactor;
	rb_redactor *redactor;
	const char *lua_dirs[3];
	char *local_lua;
	const rb_step **aborts; /* abort conditions armed so far */
	size_t naborts;
	int64_t every_ms;       /* how often they are checked while a step runs */
	int64_t next_check;
	const rb_step *fired;   /* the abort condition that fired */
	char *fired_reason;
	int in_handler;         /* the on_failure section is running: only during_handler aborts count */
	const rb_step *failed_step;
	char *failure_reason;
	rb_undo_entry *undo_stack; /* completed steps with an undo, oldest first */
	size_t nundo;
	size_t undo_pos, undo_total; /* the undo running: "[undo 2/3]" */
	size_t undone;          /* undos that ran and succeeded */
	const char *run_id;     /* the record's, NULL when not recorded */
	rb_sink **sinks;        /* the journal (owned), then the caller's (opts->sinks) */
	size_t nsinks;
	rb_sink *journal;
	int step_mode;          /* --step: asked before each step; 0 again after [a]ll */
	char *pending_ok;       /* the ok result line of a step whose expect= is still to be checked */
	const rb_step *ended_by; /* a gate said the run is done (returned "done", or done()) */
	char *ended_reason;     /* its message */
	struct rb_bg_set *background; /* background steps started (run_background.h); NULL: none */
} rb_run;

/** How a step ended, before expect_error and continue_on_error are applied. */
typedef struct {
	int failed;
	rb_end_reason reason;
	int exit_code;
	const char *sqlstate;
	const char *message;  /* error text for failures, and for expect_error */
	const char *output;   /* stdout, for expect_error on shell steps */
	const char *file;     /* where the error is: NULL for the runbook, or an \i file */
	int line, col;        /* 0: the step's fence */
	int64_t duration_ms;
} rb_outcome;

/**
 * One step kind: how a fence names it and how it runs. run returns the
 * step's status; when it is not ok, *rc says why as an RB_EXIT_* code (1 a
 * failure, 2 the block cannot be run, 3 a guard said no, 5 the environment);
 * cancelled steps leave *rc to the loop. run is NULL for kinds the loop
 * handles itself (abort conditions are armed, not run).
 *
 * Adding a kind: a value in rb_step_kind (runbook.h), a step_KIND.c with its
 * ops, and a line in the registry (steps.c). The parser finds the kind by
 * its languages and qualifier, plans and records name it by name, and the
 * attribute table (attrs.c) says which attributes apply to it.
 */
typedef struct {
	rb_step_kind kind;
	const char *name;                 /* in plans, records and JSON */
	const char *const *languages;     /* fence languages (lower case), NULL-terminated; NULL: none */
	const char *qualifier;            /* the word after the language ("gate"); NULL: none */
	int process;                      /* 1: runs a process, whose exit status the record keeps */
	rb_status (*run)(rb_run *r, const rb_step *s, rb_step_result *res, int *rc);
} rb_step_ops;

/** The ops of kind, or NULL (documentation). */
const rb_step_ops *rb_step_ops_for(rb_step_kind kind);

extern const rb_step_ops rb_step_shell_ops, rb_step_sql_ops, rb_step_lua_ops, rb_step_gate_ops,
	rb_step_abort_ops, rb_step_approval_ops;

/* --- engine.c: one step ------------------------------------------------------- */

/** The journal learns that step s starts (its role, and for an undo the step it undoes). */
void rb_run_record_start(rb_run *r, const rb_step *s);
/** Step i itself: header, confirm=, the executor with retries and expect=, its end recorded. Its exit code. */
int rb_run_one_step(rb_run *r, size_t i);

/* --- run_guards.c: guards of a partial run ------------------------------------- */

/** A guard checked again needs a capture or result of a skipped step: 0 (and said) when it is missing. */
int rb_run_guard_inputs_ready(rb_run *r, const rb_step *g);
/** --skip-guards: the guards not checked, approved (1) or not (0), and recorded. */
int rb_run_approve_skipped_guards(rb_run *r);

/* --- run_undo.c: the undo stack ------------------------------------------------ */

/** After main-flow step i ended (ok: it succeeded): on the stack when it has an undo (rb_undo_wanted). */
void rb_run_undo_push(rb_run *r, size_t i, int ok);
/** --resume: the chain's completed steps go on the stack first, with their recorded variables. */
void rb_run_undo_inherit(rb_run *r, const rb_undo_item *items, size_t n);
/**
 * Unwinds the stack after the run failed with rc (unless --no-undo): each
 * undo newest first, the others going on when one fails; sets UNDONE_STEPS.
 * Returns rc, RB_EXIT_UNDO when an undo failed, or 128+signal when a signal
 * stopped it.
 */
int rb_run_undo(rb_run *r, int rc);
/** --no-undo: asked on a terminal (1: go on), recorded. */
int rb_run_approve_no_undo(rb_run *r);
/** Releases the stack. */
void rb_run_undo_free(rb_run *r);

/* --- run_output.c: what the run says, as events ----------------------------- */

/** Text for the terminal or the record, secrets hidden. Caller frees. */
char *rb_run_clean(const rb_run *r, const char *text);
/**
 * Sends ev to the run's sinks: sets its time, runbook, run id and counter,
 * hides the secrets in its texts (step output is already hidden as it
 * streams) in a copy: ev itself is not changed, its strings stay the caller's.
 */
void rb_run_emit(rb_run *r, const rb_ev *ev);
/** The sinks that asked for ticks get one (the executors' poll callbacks call it). */
void rb_run_tick(rb_run *r);
/** 1 when a sink asked for ticks. */
int rb_run_wants_ticks(const rb_run *r);
/** A message for people (RB_EV_MESSAGE): on stdout (say) or stderr (warn). */
void rb_run_say(rb_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rb_run_warn(rb_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** A message on stdout that --quiet shows too (what the operator must act on). */
void rb_run_notice(rb_run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** What became of step s (RB_EV_STEP_RESULT): "ok in 0.2s", "failed: exit 1 in 0.1s". */
void rb_run_result(rb_run *r, const rb_step *s, rb_status status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/** The same for a step that succeeded: held back (r->pending_ok) while its expect= is still to be checked. */
void rb_run_result_ok(rb_run *r, const rb_step *s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/**
 * A step's error (RB_EV_ERROR, "file:line:col: step 'id': message" on the
 * terminal); remembered as the failure reason. file NULL is the runbook;
 * line 0 is the step's fence.
 */
void rb_run_step_error_in(rb_run *r, const rb_step *s, const char *file, int line, int col, const char *fmt,
			  ...) __attribute__((format(printf, 6, 7)));
#define rb_run_step_error_at(r, s, line, col, ...) rb_run_step_error_in((r), (s), NULL, (line), (col), __VA_ARGS__)
#define rb_run_step_error(r, s, ...) rb_run_step_error_in((r), (s), NULL, 0, 0, __VA_ARGS__)
/** An error of the run itself ("runbook: file:line:col: message"); file NULL: none. */
void rb_run_error(rb_run *r, const char *file, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/** rb_run_error of an rb_error. */
void rb_run_report(rb_run *r, const rb_error *err);
/** A note for the record (RB_EV_NOTE), with NULL-terminated key, value fields; show: people see its text too. */
void rb_run_note(rb_run *r, int show, const char *text, const char *const *fields);
/** A chunk of the running step's output (RB_EV_STEP_OUTPUT), already redacted. */
void rb_run_output(rb_run *r, int stream, const char *data, size_t len);
/** "[3/12]" or "[on failure 1/2]" into buf. */
const char *rb_run_counter(const rb_run *r, const rb_step *s, char *buf, size_t size);
/** Says the result line and the error, applies expect_error; returns the status. */
rb_status rb_run_conclude(rb_run *r, const rb_step *s, const rb_outcome *oc);
/** Replaces *dst with a copy of src ("" for NULL). */
void rb_run_keep_text(char **dst, const char *src);

/* --- run_session.c: what the run holds ------------------------------------- */

/** Variables, secrets, connections and the throwaway server; an RB_EXIT_* code. */
int rb_run_setup(rb_run *r);
/** Releases what rb_run_setup and the run acquired (the struct itself is the caller's). */
void rb_run_teardown(rb_run *r);
/** The declared inputs, given, asked or defaulted, before step 1 (run_inputs.c); an RB_EXIT_* code. */
int rb_run_inputs(rb_run *r);
/** Sets a variable; a secret's new value is hidden before anything can print it. */
void rb_run_set_var(rb_run *r, const char *name, const char *value, rb_var_source src);
/** Hides the current value of every secret variable (after code that sets variables itself). */
void rb_run_hide_secrets(rb_run *r);
/** The second set of connections: Lua while a SQL step holds the first, lock watching. */
rb_dbset *rb_run_monitor(rb_run *r);
/** Takes the run lock before step 1; an RB_EXIT_* code. */
int rb_run_take_lock(rb_run *r);
/** The step's timeout: its own, else the front matter's; <= 0 none. */
int64_t rb_run_step_timeout(const rb_run *r, const rb_step *s);
/** 128 + the signal that interrupted the run (130 when unknown). */
int rb_run_interrupted_code(void);

/* --- luahost.c: Lua and the abort conditions -------------------------------- */

/** Evaluates Lua from the runbook (a chunk, or with expression=1 an attribute's expression). */
void rb_run_eval_lua(rb_run *r, const char *code, int expression, int line, rb_lua_result *res);
/** A step's process group started: the watchdog and the journal learn it. */
void rb_run_on_process(void *ctx, int pgid);
/** 1 when an abort condition is armed and counts now (in the handler: during_handler ones). */
int rb_run_aborts_live(const rb_run *r);
/** Evaluates every armed abort condition; 1 (and why, in r->fired) when one fires. */
int rb_run_check_aborts(rb_run *r);
/** rb_cancel_poll for executors: the abort conditions, at their interval. */
int rb_run_abort_poll(void *ctx);
/** rb_cancel_poll for SQL steps: the abort conditions, and who blocks the statement. */
int rb_run_sql_poll(void *ctx);
/** Arms an abort condition: checked before each later step and while steps run. */
void rb_run_arm(rb_run *r, const rb_step *s);

/* --- step_approval.c ----------------------------------------------------- */

/** The operator's login name, for the record. */
const char *rb_run_operator(void);
void rb_run_record_approval(rb_run *r, const rb_step *s, const char *item, int approved, const char *how);
/**
 * --step: shows step s and asks [y]es / [s]kip / [q]uit / [a]ll; the answer
 * is recorded as an approval. Returns 'y', 's', 'q' or 'a' ('q' when nobody
 * answered).
 */
char rb_run_step_choice(rb_run *r, const rb_step *s);
/** The front matter's requires: (tools, variables, PostgreSQL version), all checked before step 1 (run_requires.c). An RB_EXIT_* code. */
int rb_run_requirements(rb_run *r);

/** confirm / confirm="PHRASE" before a step. Returns 1 when it may run. */
int rb_run_confirmed(rb_run *r, const rb_step *s);

#endif
