/*
 * select.h - which steps of the main flow a run executes, and how, given
 * --from, --only and --resume (which resumes with a --from).
 *
 * A partial run keeps its guards: every gate and approval written before
 * the first selected step is evaluated again (they are checks, not
 * actions), every abort condition before it is armed, and every `lua` step
 * before it runs again to compute the variables those guards read. Other
 * steps before it are skipped. --skip-guards marks the guards skipped
 * instead; the engine asks and records that decision. The plan and the
 * engine both read this table, so the preview is what runs.
 *
 * --only names a step, or a section by its slug: every runnable step of the
 * section and its subsections. A step with Runme's excludeFromRunAll runs
 * only when --only names it.
 */
#ifndef RB_SELECT_H
#define RB_SELECT_H

#include "runbook.h"

typedef enum {
	RB_SEL_SKIP = 0,      /* not run: documentation, skip, outside the selection */
	RB_SEL_RUN,           /* selected: runs (abort conditions are armed) */
	RB_SEL_GUARD,         /* a gate or approval before the selection: checked again */
	RB_SEL_GUARD_SKIPPED, /* the same, bypassed by --skip-guards */
	RB_SEL_ARM,           /* an abort condition before the selection: armed */
	RB_SEL_COMPUTE,       /* a lua step before the selection: runs for its variables */
	RB_SEL_EXCLUDED       /* excludeFromRunAll: not run unless --only names it */
} rb_selection;

/**
 * Fills sel[0..rb->nsteps) for the main flow; steps of other roles are
 * RB_SEL_RUN for the handler and RB_SEL_SKIP for manual sections. from and
 * only may be NULL (a full run); only may be a step id or a section slug
 * (a step id first); an unknown one selects nothing (callers check first:
 * rb_select_known, preflight.h).
 */
void rb_select_steps(const rb_runbook *rb, const char *from, const char *only, int skip_guards,
		     rb_selection *sel);

/**
 * 1 when Lua code mentions table.name or table["name"] (table is "vars" or
 * "steps"): what a guard reads of the steps before it. A textual check, as
 * check's steps.ID references are.
 */
int rb_code_mentions(const char *code, const char *table, const char *name);

/**
 * 1 when name is a step id, or (allow_slug) the slug of a section with
 * runnable main-flow steps: what --only accepts (--from takes step ids).
 */
int rb_select_known(const rb_runbook *rb, const char *name, int allow_slug);

/** 1 when the step has Runme's excludeFromRunAll set (to anything but false/no). */
int rb_step_excluded_from_run_all(const rb_step *s);

/** "run", "guard", "guard skipped", "arm", "compute", "excluded", "skip". */
const char *rb_selection_name(rb_selection s);

#endif
