/*
 * plan.h - what a run would do, printed without doing any of it.
 *
 * `runbook plan` and `runbook run --dry-run` print this; the JSON form is
 * the parser's golden output. Printing spawns nothing, connects to nothing
 * and writes nothing but the output buffer.
 *
 * The plan is safe to show on a terminal: every text from the document has
 * its hidden characters made visible (visible.h; in JSON, as \u escapes),
 * a connection string's password is shown as ***, and so is the value of a
 * front matter variable that is secret (named in secrets: or named like a
 * secret, redact.h) wherever the document repeats it.
 */
#ifndef RB_PLAN_H
#define RB_PLAN_H

#include "inventory.h"
#include "runbook.h"
#include "util.h"

/** The targets a plan of a rollout lists (inventory.h), in dispatch order. */
typedef struct {
	const rb_inventory *inv;
	const size_t *sel;  /* indexes into inv->targets */
	size_t count;
	int jobs;           /* -j in effect */
	int canary;         /* the first `canary` of them run alone first; 0: none */
} rb_plan_targets;

typedef struct {
	int json;           /* one JSON document instead of text */
	int preview_lines;  /* body lines shown per step in text form (default 6) */
	const char *audit;  /* where the record of a run would go; NULL: not shown */
	const char *from;   /* --from / --only: show the partial run's selection (select.h) */
	const char *only;
	int skip_guards;
	const char *resume; /* --resume: one line on the run continued; NULL: none */
	const char *fail_at; /* --fail-at ID: the undos a failure of step ID would run; NULL: none */
	const rb_plan_targets *targets; /* --target/--targets/--matrix: each target, its variables (never
					 * expanded: references stay names) and db (password hidden); NULL: none */
} rb_plan_opts;

/** Appends the plan of rb to out (owned by the caller). */
void rb_plan_render(const rb_runbook *rb, const rb_plan_opts *opts, rb_buf *out);

#endif
