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

#include "runbook.h"
#include "util.h"

typedef struct {
	int json;           /* one JSON document instead of text */
	int preview_lines;  /* body lines shown per step in text form (default 6) */
	const char *audit;  /* where the record of a run would go; NULL: not shown */
	const char *from;   /* --from / --only: show the partial run's selection (select.h) */
	const char *only;
	int skip_guards;
	const char *resume; /* --resume: one line on the run continued; NULL: none */
	const char *fail_at; /* --fail-at ID: the undos a failure of step ID would run; NULL: none */
} rb_plan_opts;

/** Appends the plan of rb to out (owned by the caller). */
void rb_plan_render(const rb_runbook *rb, const rb_plan_opts *opts, rb_buf *out);

#endif
