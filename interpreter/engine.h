/*
 * engine.h - executes a parsed runbook: the main flow top to bottom, each
 * step through its executor, with framing, variables and the exit code.
 *
 * The engine owns the run's state (variables, per-step results); the
 * runbook is only read. It prints nothing: what happens is a stream of
 * events (events.h) to the sinks in opts (the terminal, JSON, JUnit,
 * GitHub Actions) and, when opts->record is set, to the journal first.
 */
#ifndef RB_ENGINE_H
#define RB_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "pgserver.h"
#include "record.h"
#include "redact.h"
#include "runbook.h"
#include "undo.h"

typedef struct {
	char *const *sets;      /* "K=V" from --set, in order */
	size_t nsets;
	const char *from;       /* --from ID: start at this step */
	const char *only;       /* --only ID: run just this step */
	int skip_guards;        /* --skip-guards: do not check the guards before --from/--only again */
	int64_t wait_lock_ms;   /* --wait-lock: wait this long for the run lock; 0: refuse at once */
	/** --resume: checks each new connection against the chain (db.h's rb_db_session.check); NULL: none. */
	int (*check_connection)(void *ctx, const char *name, PGconn *conn, char **why);
	void *check_ctx;
	int yes;                /* --yes: approve task lists and plain confirmations */
	const char *confirm;    /* --confirm PHRASE */
	int64_t grace_ms;       /* between TERM and KILL; 0: 2000 */
	size_t keep_max;        /* output kept per stream per step; 0: 1 MiB */
	const char *db_url;     /* --db URL: the default connection */
	int ephemeral_db;       /* --ephemeral-db: start a throwaway PostgreSQL */
	/** With ephemeral_db: its start, already under way (pgserver.h), else NULL: the engine starts it.
	    rb_engine_run takes the job over (finishes it, or abandons it when the run stops first). */
	rb_pgserver_job *pg_job;
	int keep_db;            /* --keep-db: leave it running at the end */
	const char *lua_dir;    /* the shipped Lua helpers (require); NULL: none */
	rb_record *record;      /* events of the run go here (audit); NULL: none */
	rb_redactor *redactor;  /* secrets the engine finds are added here; NULL: a private one */
	char *const *restores;  /* "K=V" captures restored by --resume */
	size_t nrestores;
	int no_undo;            /* --no-undo: a failure does not unwind the undo stack (recorded) */
	const rb_undo_item *undo_items; /* --resume: steps the chain completed and did not undo, oldest first */
	size_t nundo_items;
	int undo_only;          /* --resume of a run whose undo was cut short: no forward step, only the undos */
	int undo_exit;          /* with undo_only: the exit code of the failure that started the undo */
	const char *reverts;    /* with undo_only: runbook revert of this run (the undos of a finished run) */
	char *const *undo_cut;  /* with undo_only: steps whose undo started and never ended (not run again) */
	size_t nundo_cut;
	struct rb_sink *const *sinks; /* who shows and keeps the run besides the journal (events.h); not owned */
	size_t nsinks;
	int step_mode;          /* --step: ask before each step (a terminal is needed) */
	int data_on_stdout;     /* stdout carries data (--events -): an interactive step writes to stderr */
	int strict;             /* --strict: the pre-flight check's warnings refuse the run too */
	int no_db_cache;        /* --no-cache: the throwaway server's data directory by initdb, not the cached template */
	const char *target;     /* --target: the inventory target this run is for (RUNBOOK_TARGET; the run lock is
				 * the runbook's lock name + "@" + target); NULL: none */
	const char *rollout;    /* --rollout: the rollout this target's run belongs to (RUNBOOK_ROLLOUT); NULL: none */
	struct rb_run_outcome *outcome; /* filled at the end when not NULL (a rollout's target reports it) */
	char *const *target_vars; /* the target's variables, "K=V" (references expanded), set before sets (which win) */
	size_t ntarget_vars;
	char *const *secret_vars; /* "K=V" resolved from the front matter's secrets' sources (secretsrc.h), recorded
				   * as from their source, never their value */
	size_t nsecret_vars;
} rb_run_opts;

/** What rb_engine_run leaves in opts->outcome, besides its exit code. */
typedef struct rb_run_outcome {
	int locked;             /* the run lock was held by another run: nothing ran */
	char failed_step[128];  /* the id of the step the run stopped at; "" when none */
	/** Called as soon as the main flow failed (not when interrupted), before its undo and failure
	    handler run; NULL: none. */
	void (*on_failure)(void *ctx, const char *step);
	/** A confirm=each step in a rollout's target: asks the rollout (which asks its operator, or answers
	    for --yes) whether the step may run here. Returns 1 or 0 and sets *how (static, for the record);
	    NULL: the step asks as a plain confirm does. */
	int (*confirm_each)(void *ctx, const char *step, const char **how);
	void *ctx;
} rb_run_outcome;

/** What became of a step. */
typedef enum {
	RB_STATUS_NOT_REACHED = 0,
	RB_STATUS_OK,
	RB_STATUS_FAILED,
	RB_STATUS_SKIPPED,
	RB_STATUS_CANCELLED
} rb_status;

/** "not reached", "ok", "failed", "skipped", "cancelled". */
const char *rb_status_name(rb_status s);

/**
 * Adds the run's secret values to r: variables named in the front matter's
 * secrets or with secret-looking names (process environment, front matter
 * env, --set), and passwords of connection strings. The engine does this
 * itself; callers that write before the run starts (the audit record's
 * command line) call it first.
 */
void rb_engine_collect_secrets(const rb_runbook *rb, const rb_run_opts *opts, rb_redactor *r);

/**
 * Runs the runbook's main flow. Returns an RB_EXIT_* code: 0 when every
 * step succeeded, 1 when one failed, 2 for bad options or a step that cannot
 * be prepared, 5 when a process, the database or the ephemeral server could
 * not be started or reached, 130 when interrupted.
 */
int rb_engine_run(const rb_runbook *rb, const rb_run_opts *opts);

#endif
