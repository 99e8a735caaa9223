/*
 * run_undo.c - the undo stack of a run (run.h; docs/format.md, "Undo").
 *
 * Each step of the main flow that completes (or fails with undo_on_failure)
 * and has an undo goes on the stack with a copy of the variables of that
 * moment. When the run fails, the stack unwinds newest first: each undo runs
 * as a step of its own (role "undo" in the record, "undoes" naming its
 * step), under the variables its step saw. A failing undo is recorded and
 * the others still run; a signal stops the unwinding.
 */
#include "run.h"
#include "signals.h"
#include "undo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rb_run_undo_push(rb_run *r, size_t i, int ok)
{
	const rb_step *s = &r->rb->steps[i];
	if (!rb_undo_wanted(s, ok))
		return;
	r->undo_stack = rb_xrealloc(r->undo_stack, (r->nundo + 1) * sizeof *r->undo_stack);
	rb_undo_entry *e = &r->undo_stack[r->nundo++];
	e->step = i;
	rb_vars_copy(&r->vars, &e->vars);
}

void rb_run_undo_inherit(rb_run *r, const rb_undo_item *items, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		const rb_step *s = rb_runbook_find_step(r->rb, items[k].step);
		if (!s || s->undo < 0)
			continue;
		r->undo_stack = rb_xrealloc(r->undo_stack, (r->nundo + 1) * sizeof *r->undo_stack);
		rb_undo_entry *e = &r->undo_stack[r->nundo++];
		e->step = (size_t)(s - r->rb->steps);
		/* Today's variables, with the recorded ones of that moment over them; a
		 * secret recorded as *** keeps the value given to this run. */
		rb_vars_copy(&r->vars, &e->vars);
		for (size_t v = 0; v < items[k].nvars; v++) {
			char *name = NULL;
			const char *value;
			if (rb_var_assignment(items[k].vars[v], &name, &value) == 0 &&
			    !(strstr(value, "***") && rb_runbook_is_secret(r->rb, name) && rb_vars_get(&r->vars, name)))
				rb_vars_set(&e->vars, name, value, RB_VAR_CAPTURE);
			free(name);
		}
	}
}

int rb_run_approve_no_undo(rb_run *r)
{
	const char *how = "not asked: no terminal";
	int ok = 1;
	if (!r->opts->no_undo)
		return 1;
	if (r->approver.interactive && !r->approver.yes)
		ok = rb_approve_item(&r->approver, "run without undo (--no-undo): a failure leaves what completed as it is?",
				     &how);
	const char *f[] = {"who", rb_run_operator(), "how", how, NULL};
	rb_run_note(r, 0, ok ? "run with --no-undo" : "--no-undo was not approved", f);
	if (!ok)
		rb_run_error(r, r->rb->path, 0, 0, "running without undo was not approved (%s)", how);
	return ok;
}

void rb_run_undo_free(rb_run *r)
{
	for (size_t k = 0; k < r->nundo; k++)
		rb_vars_free(&r->undo_stack[k].vars);
	free(r->undo_stack);
	r->undo_stack = NULL;
	r->nundo = 0;
}

static void note(rb_run *r, const char *state, const char *text, int rc)
{
	char code[16];
	snprintf(code, sizeof code, "%d", rc);
	const char *f[] = {"undo", state, "exit", !strcmp(state, RB_UNDO_START) ? code : NULL, NULL};
	rb_run_note(r, 0, text, f);
}

/* Runs the undo of entry e under the variables of its step's completion; 1 when it succeeded. */
static int undo_one(rb_run *r, rb_undo_entry *e)
{
	const rb_runbook *rb = r->rb;
	const rb_step *s = &rb->steps[e->step];
	size_t u = (size_t)s->undo;
	rb_vars now = r->vars;
	r->vars = e->vars; /* the undo's captures stay in the snapshot */
	rb_run_set_var(r, "UNDO_STEP", s->id, RB_VAR_RUNBOOK);
	rb_run_record_start(r, &rb->steps[u]);
	int step_rc = rb_run_one_step(r, u);
	e->vars = r->vars;
	r->vars = now;
	return r->results[u].status == RB_STATUS_OK && step_rc == RB_EXIT_OK;
}

int rb_run_undo(rb_run *r, int rc)
{
	rb_buf done = RB_BUF_INIT, failed = RB_BUF_INIT;
	const char *state = RB_UNDO_FINISHED;
	/* The run's failure stays the handler's FAILURE_REASON: an undo's own error does not replace it. */
	char *reason = r->failure_reason;
	r->failure_reason = NULL;
	if (!r->nundo)
		goto out;
	if (r->opts->no_undo) {
		rb_run_say(r, "Not undoing %zu step%s (--no-undo)\n", r->nundo, r->nundo == 1 ? "" : "s");
		note(r, RB_UNDO_SKIPPED, "undo skipped (--no-undo)", rc);
		goto out;
	}
	/* A new signal (not the one that stopped the run) stops the undo. */
	rb_signals_reset();
	r->in_handler = 1;
	r->fired = NULL;
	r->undo_total = r->nundo;
	rb_run_say(r, "Undoing %zu step%s, newest first\n", r->nundo, r->nundo == 1 ? "" : "s");
	note(r, RB_UNDO_START, "the undo started", rc);
	for (r->undo_pos = 1; r->nundo > 0; r->undo_pos++) {
		rb_undo_entry *e = &r->undo_stack[r->nundo - 1];
		const rb_step *s = &r->rb->steps[e->step];
		if (rb_signals_interrupted()) {
			state = RB_UNDO_INTERRUPTED;
			break;
		}
		int ok = undo_one(r, e);
		if (ok) {
			rb_buf_printf(&done, "%s%s", done.len ? " " : "", s->id);
			r->undone++;
		} else if (rb_signals_interrupted()) {
			state = RB_UNDO_INTERRUPTED;
		} else {
			rb_buf_printf(&failed, "%s%s", failed.len ? ", " : "", s->id);
			rb_run_error(r, r->rb->path, 0, 0, "the undo of '%s' failed; the other undos still run", s->id);
			state = RB_UNDO_INCOMPLETE;
		}
		rb_vars_free(&e->vars);
		r->nundo--;
		if (!strcmp(state, RB_UNDO_INTERRUPTED))
			break;
	}
	r->in_handler = 0;
	if (!strcmp(state, RB_UNDO_INTERRUPTED)) {
		rb_run_notice(r, "The undo was stopped by a signal: %zu undo%s not run\n", r->nundo, r->nundo == 1 ? "" : "s");
		note(r, state, "the undo was interrupted", rc);
		rc = rb_run_interrupted_code();
	} else if (failed.len) {
		rb_run_notice(r, "The undo is incomplete: the undo of %s failed\n", failed.data);
		note(r, state, "the undo is incomplete", rc);
		rc = RB_EXIT_UNDO;
	} else {
		rb_run_say(r, "Undone: %s\n", done.data);
		note(r, state, "the undo finished", rc);
	}
out:
	free(r->failure_reason);
	r->failure_reason = reason;
	rb_run_set_var(r, "UNDONE_STEPS", done.len ? done.data : "", RB_VAR_RUNBOOK);
	rb_buf_free(&done);
	rb_buf_free(&failed);
	return rc;
}
