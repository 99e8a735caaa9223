/*
 * undo.h - which block undoes which step (docs/format.md, "Undo").
 *
 * A step's undo is the block written right after it with `undo` after the
 * language (```sql undo), or the block its undo=ID attribute names. Undo
 * blocks have the role RB_ROLE_UNDO: they never run in the normal flow, only
 * when a later failure unwinds the steps that completed (engine) or when
 * `runbook revert` undoes a finished run.
 */
#ifndef RB_UNDO_H
#define RB_UNDO_H

#include "diag.h"
#include "record.h"
#include "runbook.h"

/**
 * Links every undo block to its step (rb_step.undo / rb_step.undoes), gives
 * the blocks the role RB_ROLE_UNDO and, when unnamed, the id "STEP.undo".
 * Called by the parser once sections have roles and steps have ids, before
 * steps are numbered. Reports at file:line:col: an `undo` block with no step
 * above it to undo, two undos for one step, an undo= naming no block, an
 * undo of a step that changes nothing (gate, abort condition, approval) or
 * that is not in the main flow, and an undo block that is not a bash, sql or
 * lua block.
 */
void rb_undo_link(rb_runbook *rb, const char *file, rb_diags *d);

/** The undo block of step s, or NULL. */
const rb_step *rb_undo_of(const rb_runbook *rb, const rb_step *s);

/**
 * 1 when step s, having ended (ok: it succeeded), goes on the undo stack:
 * it has an undo, and it succeeded or says undo_on_failure -- except a SQL
 * step that failed inside its own transaction, which rolled back.
 */
int rb_undo_wanted(const rb_step *s, int ok);

/* Record notes that tell the undo's course ("note" events with an "undo" key). */
#define RB_UNDO_START "start"          /* the stack starts to unwind; "exit" is the failure's code */
#define RB_UNDO_FINISHED "finished"    /* every undo ran and succeeded */
#define RB_UNDO_INCOMPLETE "incomplete" /* every undo ran; one or more failed */
#define RB_UNDO_INTERRUPTED "interrupted" /* a second signal stopped it */
#define RB_UNDO_SKIPPED "skipped"      /* --no-undo */

/** A step to undo, as the records show it: done, not undone yet. */
typedef struct {
	char *step;      /* the step's id */
	char **vars;     /* "NAME=value": the --set values and captures as they were when it completed */
	size_t nvars;
} rb_undo_item;

/** The undo stack of a chain of runs, read from their records (rb_undo_stack_read). */
typedef struct {
	rb_undo_item *items;  /* oldest first: the last is undone first */
	size_t count;
	char **interrupted;   /* steps whose undo started and never ended: not run again */
	size_t ninterrupted;
	char *state;          /* the last run's undo: NULL (none), RB_UNDO_START (cut short), or the
			       * RB_UNDO_* it ended with */
	int exit_code;        /* the exit code of the failure that started it (with state) */
} rb_undo_stack;

/**
 * Reads the stack that runs[0..n) (a resume chain, first run first) leave:
 * every main-flow step that rb_undo_wanted in the runbook rb as it is now,
 * in the order the runs completed them, with the variables of that moment,
 * minus the steps whose undo started in any of them. The caller frees it
 * with rb_undo_stack_free.
 */
void rb_undo_stack_read(const rb_runbook *rb, const rb_record *const *runs, size_t n, rb_undo_stack *out);

void rb_undo_stack_free(rb_undo_stack *st);

#endif
