/*
 * engine.c - the run loop.
 *
 * Each step of the main flow goes: selection (--from/--only, skip) ->
 * abort conditions -> when= -> confirm -> header -> executor (with
 * retries) -> expect= -> result line -> captures. The first failing step
 * stops the run unless it says continue_on_error; a false gate or a refused
 * approval stops it with exit 3, a fired abort condition with exit 4. After
 * any of these, and after an interrupt, the on_failure section runs: all of
 * its steps, whatever fails among them, and the run keeps its exit code.
 *
 * Every event goes to opts->record (the journal and audit record) when
 * there is one; every text shown or recorded passes through the redactor.
 */
#define _GNU_SOURCE
#include "engine.h"
#include "run.h"
#include "interp.h"
#include "approve.h"
#include "db.h"
#include "luavm.h"
#include "pgserver.h"
#include "parse.h"
#include "preflight.h"
#include "runlock.h"
#include "select.h"
#include "watchdog.h"
#include "run_background.h"
#include "shell.h"
#include "signals.h"
#include "sqlexec.h"
#include "vars.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

const char *rb_status_name(rb_status s)
{
	switch (s) {
	case RB_STATUS_OK: return "ok";
	case RB_STATUS_FAILED: return "failed";
	case RB_STATUS_SKIPPED: return "skipped";
	case RB_STATUS_CANCELLED: return "cancelled";
	case RB_STATUS_NOT_REACHED: break;
	}
	return "not reached";
}

/* The exit code of an interrupted run: 128 + the signal, as shells report it. */
int rb_run_interrupted_code(void)
{
	int sig = rb_signals_interrupted();
	return sig ? 128 + sig : RB_EXIT_INTERRUPTED;
}

int64_t rb_run_step_timeout(const rb_run *r, const rb_step *s)
{
	return s->timeout_ms > 0 ? s->timeout_ms : r->rb->fm.timeout_ms;
}

static void interruptible_sleep(int64_t ms)
{
	int64_t end = rb_now_ms() + ms;
	while (!rb_signals_interrupted() && rb_now_ms() < end) {
		struct timespec t = {0, 20 * 1000000L};
		nanosleep(&t, NULL);
	}
}

/* The step's end, with its kept output bounded and the elision said. */
static void step_end(rb_run *r, const rb_step *s, const rb_step_result *res)
{
	const rb_step_ops *ops = rb_step_ops_for(s->kind);
	const char *out = res->out ? res->out : "";
	const char *err = res->err ? res->err : "";
	rb_buf o = RB_BUF_INIT;
	size_t on = strlen(out), en = strlen(err);
	rb_buf_add(&o, out, on < RECORD_OUTPUT_MAX ? on : RECORD_OUTPUT_MAX);
	if (on > RECORD_OUTPUT_MAX)
		rb_buf_printf(&o, "\n[... %zu more bytes of stdout not kept]\n", on - RECORD_OUTPUT_MAX);
	if (en && !res->is_sql) {
		rb_buf_puts(&o, on ? "\n--- stderr\n" : "--- stderr\n");
		rb_buf_add(&o, err, en < RECORD_OUTPUT_MAX ? en : RECORD_OUTPUT_MAX);
		if (en > RECORD_OUTPUT_MAX)
			rb_buf_printf(&o, "\n[... %zu more bytes of stderr not kept]\n", en - RECORD_OUTPUT_MAX);
	}
	rb_ev ev = {.type = RB_EV_STEP_END, .step = s, .status = res->status,
		    .exit_code = ops && ops->process ? res->exit_code : -1, .sqlstate = res->sqlstate,
		    .text = res->status == RB_STATUS_FAILED || res->is_sql ? (res->is_sql ? res->err : r->failure_reason) : NULL,
		    .duration_ms = res->duration_ms, .attempts = res->attempts, .data = rb_buf_cstr(&o),
		    .name = s->capture.value,
		    .value = s->capture.value && res->status == RB_STATUS_OK ? rb_vars_get(&r->vars, s->capture.value) : NULL};
	rb_run_emit(r, &ev);
	if (ev.value && s->capture.value) {
		rb_ev cap = {.type = RB_EV_CAPTURE, .step = s, .name = s->capture.value, .value = ev.value, .exit_code = -1};
		rb_run_emit(r, &cap);
	}
	rb_buf_free(&o);
}

/* The values of the variables an expect= expression reads: " (vars.A = 'x', vars.B unset)"; "" when none. */
static char *read_values(const rb_run *r, const char *expr)
{
	rb_buf b = RB_BUF_INIT;
	for (size_t i = 0; i < r->vars.count; i++) {
		const rb_var *v = &r->vars.items[i];
		if (rb_code_mentions(expr, "vars", v->name))
			rb_buf_printf(&b, "%svars.%s = '%s'", b.len ? ", " : " (it read ", v->name, v->value);
	}
	if (b.len)
		rb_buf_putc(&b, ')');
	char *text = rb_xstrdup(rb_buf_cstr(&b));
	rb_buf_free(&b);
	return text;
}

/*
 * expect= after a step that succeeded: its result line (held back until
 * now) says ok only when it holds; else the step failed, and its error
 * shows the values the expression read.
 */
static rb_status expect_holds(rb_run *r, const rb_step *s, const rb_step_result *res)
{
	rb_lua_result lr;
	rb_status st = RB_STATUS_OK;
	rb_run_eval_lua(r, s->expect.value, 1, s->expect.line, &lr);
	if (lr.ok && lr.truthy) {
		if (r->pending_ok)
			rb_run_result(r, s, RB_STATUS_OK, "%s", r->pending_ok);
	} else {
		char d[32];
		char *values = read_values(r, s->expect.value);
		rb_format_duration(res->duration_ms, d, sizeof d);
		rb_run_result(r, s, RB_STATUS_FAILED, "failed: expect= %s in %s", lr.ok ? "does not hold" : "failed", d);
		rb_run_step_error_at(r, s, s->expect.line, s->expect.col, "expect=%s %s%s%s", s->expect.value,
				     lr.ok ? "does not hold" : "failed: ", lr.ok ? "" : lr.message, values);
		free(values);
		st = RB_STATUS_FAILED;
	}
	rb_lua_result_free(&lr);
	return st;
}

/* Runs one step through its executor, with retries and expect=. */
static rb_status execute(rb_run *r, const rb_step *s, rb_step_result *res, int *rc)
{
	rb_status st = RB_STATUS_FAILED;
	int attempts = 1 + (s->retry > 0 ? s->retry : 0);
	for (int attempt = 1; attempt <= attempts; attempt++) {
		const rb_step_ops *ops = rb_step_ops_for(s->kind);
		int code = RB_EXIT_STEP;
		res->attempts = attempt;
		st = ops ? ops->run(r, s, res, &code) : RB_STATUS_OK;
		if (st == RB_STATUS_OK && s->expect.value) {
			st = expect_holds(r, s, res);
		} else if (st != RB_STATUS_OK && r->pending_ok) {
			/* It ran, and then failed (a capture that could not be taken): said as failed. */
			char d[32];
			rb_format_duration(res->duration_ms, d, sizeof d);
			rb_run_result(r, s, st, "failed in %s", d);
		}
		free(r->pending_ok);
		r->pending_ok = NULL;
		if (st == RB_STATUS_CANCELLED) {
			*rc = r->fired ? RB_EXIT_ABORT : rb_run_interrupted_code();
			return st;
		}
		if (st == RB_STATUS_OK) {
			*rc = RB_EXIT_OK;
			return st;
		}
		*rc = code;
		/* A guard that said no, or a block that cannot run, is not retried. */
		if (code == RB_EXIT_GATE || code == RB_EXIT_USAGE || attempt == attempts || rb_signals_interrupted())
			break;
		rb_ev ev = {.type = RB_EV_RETRY, .step = s, .attempt = attempt + 1, .attempts = attempts,
			    .delay_ms = s->retry_delay_ms, .exit_code = -1};
		rb_run_emit(r, &ev);
		if (s->retry_delay_ms > 0)
			interruptible_sleep(s->retry_delay_ms);
	}
	return st;
}

/* Where run_role goes after a piece of a step: the next step, this step, or no further. */
typedef enum { STEP_NEXT, STEP_RUN, STEP_STOP } step_flow;

/* when=: 1 when it holds; else the step is said to be skipped (after the error, when when= failed). */
static int when_holds(rb_run *r, const rb_step *s)
{
	rb_lua_result lr;
	rb_run_eval_lua(r, s->when.value, 1, s->when.line, &lr);
	int go = lr.ok && lr.truthy;
	if (!lr.ok)
		rb_run_step_error_at(r, s, s->when.line, s->when.col, "when= failed: %s", lr.message);
	rb_lua_result_free(&lr);
	if (!go) {
		char *why = rb_xasprintf("when=%s is false", s->when.value);
		rb_ev ev = {.type = RB_EV_STEP_SKIPPED, .step = s, .status = RB_STATUS_SKIPPED, .text = why, .exit_code = -1};
		rb_run_emit(r, &ev);
		free(why);
	}
	return go;
}

/*
 * Before step i runs: not selected, an abort condition (armed in the main
 * flow, never run) or when= false go on to the next step; an interrupt or
 * a fired abort condition stop the role with *rc (in the handler, a second
 * signal: no further step starts).
 */
static step_flow step_ready(rb_run *r, size_t i, int handler, int *rc)
{
	const rb_step *s = &r->rb->steps[i];
	rb_step_result *res = &r->results[i];
	step_flow flow = STEP_RUN;
	if (r->sel[i] == RB_SEL_SKIP || r->sel[i] == RB_SEL_GUARD_SKIPPED) {
		res->status = RB_STATUS_SKIPPED;
		flow = STEP_NEXT;
	} else if (r->sel[i] == RB_SEL_EXCLUDED) {
		res->status = RB_STATUS_SKIPPED;
		char *why = rb_xasprintf("excludeFromRunAll: not part of a whole run (--only %s runs it)", s->id);
		rb_ev ev = {.type = RB_EV_STEP_SKIPPED, .step = s, .status = RB_STATUS_SKIPPED, .text = why, .exit_code = -1};
		rb_run_emit(r, &ev);
		free(why);
		flow = STEP_NEXT;
	} else if (s->kind == RB_STEP_ABORT) {
		if (!handler)
			rb_run_arm(r, s);
		res->status = RB_STATUS_OK;
		flow = STEP_NEXT;
	} else if (rb_signals_interrupted()) {
		*rc = rb_run_interrupted_code();
		flow = STEP_STOP;
	} else if (rb_run_aborts_live(r) && rb_run_check_aborts(r)) {
		*rc = RB_EXIT_ABORT;
		flow = STEP_STOP;
	} else if (s->when.value && !when_holds(r, s)) {
		res->status = RB_STATUS_SKIPPED;
		flow = STEP_NEXT;
	}
	if (flow == STEP_STOP && !r->failed_step)
		r->failed_step = s; /* the step about to run */
	return flow;
}

/*
 * --step: the operator says whether step i runs. Skipped: the next step;
 * quit (or no answer): the run stops as after a refused approval (exit 3),
 * or as interrupted; all: no more questions.
 */
static step_flow step_asked(rb_run *r, size_t i, int *rc)
{
	const rb_step *s = &r->rb->steps[i];
	step_flow flow = STEP_RUN;
	char c = rb_run_step_choice(r, s);
	if (c == 'a') {
		r->step_mode = 0;
	} else if (c == 's') {
		r->results[i].status = RB_STATUS_SKIPPED;
		rb_ev ev = {.type = RB_EV_STEP_SKIPPED, .step = s, .status = RB_STATUS_SKIPPED,
			    .text = "skipped at the terminal (--step)", .exit_code = -1};
		rb_run_emit(r, &ev);
		flow = STEP_NEXT;
	} else if (c == 'q') {
		*rc = rb_signals_interrupted() ? rb_run_interrupted_code() : RB_EXIT_GATE;
		free(r->failure_reason);
		r->failure_reason = rb_xstrdup(rb_signals_interrupted() ? "interrupted" : "quit at the terminal (--step)");
		rb_run_error(r, r->rb->path, s->line, s->col, "the run stopped before step '%s': %s", s->id,
			     r->failure_reason);
		if (!r->failed_step)
			r->failed_step = s;
		flow = STEP_STOP;
	}
	return flow;
}

/* The journal learns that the step starts (before anything else shows it). */
void rb_run_record_start(rb_run *r, const rb_step *s)
{
	rb_ev ev = {.type = RB_EV_STEP_START, .step = s, .exit_code = -1};
	r->current = s;
	rb_run_emit(r, &ev);
}

/*
 * Fail closed: a change must not go on unrecorded. The handler still
 * runs: it is what makes a half-done change safe. Returns 1 when step i
 * of the main flow is not run because the journal could not be written.
 */
static int record_lost(rb_run *r, size_t i, int handler)
{
	const rb_run_opts *o = r->opts;
	const rb_step *s = &r->rb->steps[i];
	if (handler || !o->record || !rb_record_failed(o->record))
		return 0;
	rb_run_error(r, NULL, 0, 0, "%s", rb_record_error(o->record));
	rb_run_error(r, NULL, 0, 0, "the run stops before step '%s': it could not be recorded", s->id);
	rb_ev ev = {.type = RB_EV_STEP_END, .step = s, .status = RB_STATUS_CANCELLED, .exit_code = -1, .duration_ms = -1,
		    .text = "not run: the run journal could not be written"};
	rb_run_emit(r, &ev);
	r->results[i].status = RB_STATUS_CANCELLED;
	if (!r->failed_step)
		r->failed_step = s;
	return 1;
}

/*
 * Step i itself: its header, then the inputs of a guard checked again,
 * confirm=, the executor; its end recorded. Returns the step's exit code.
 */
int rb_run_one_step(rb_run *r, size_t i)
{
	const rb_step *s = &r->rb->steps[i];
	rb_step_result *res = &r->results[i];
	int step_rc = RB_EXIT_OK;
	r->current = s;
	if (r->sel[i] == RB_SEL_GUARD && !rb_run_guard_inputs_ready(r, s)) {
		res->status = RB_STATUS_FAILED;
		step_rc = RB_EXIT_GATE;
	} else if (s->confirm && !rb_run_confirmed(r, s)) {
		res->status = rb_signals_interrupted() ? RB_STATUS_CANCELLED : RB_STATUS_FAILED;
		step_rc = rb_signals_interrupted() ? rb_run_interrupted_code() : RB_EXIT_GATE;
	} else {
		res->status = execute(r, s, res, &step_rc);
	}
	step_end(r, s, res);
	return step_rc;
}

/*
 * After a step that did not succeed: the handler runs all its steps unless
 * a during_handler abort or a second signal stopped it; the main flow
 * stops with *rc, unless the step allows failure.
 */
static step_flow step_failed(rb_run *r, const rb_step *s, int handler, int step_rc, int *rc)
{
	step_flow flow = STEP_STOP;
	if (!r->failed_step)
		r->failed_step = s;
	if (handler) {
		if (r->fired || rb_signals_interrupted())
			*rc = r->fired ? RB_EXIT_ABORT : rb_run_interrupted_code();
		else
			flow = STEP_NEXT;
	} else if (step_rc == RB_EXIT_STEP && s->continue_on_error) {
		char n[48];
		rb_run_say(r, "%s continuing: the step allows failure (continue_on_error)\n",
		    rb_run_counter(r, s, n, sizeof n));
		r->failed_step = NULL;
		flow = STEP_NEXT;
	} else {
		*rc = step_rc == RB_EXIT_OK ? RB_EXIT_STEP : step_rc;
	}
	return flow;
}

/*
 * Runs the steps of one role in order. For the main flow the first failure
 * stops it; for the handler every step runs. Returns an RB_EXIT_* code.
 */
static int run_role(rb_run *r, rb_role role)
{
	const rb_runbook *rb = r->rb;
	int handler = role == RB_ROLE_ON_FAILURE;
	int rc = RB_EXIT_OK;
	step_flow flow = STEP_NEXT;
	r->total = rb_runbook_count(rb, role);
	for (size_t i = 0; i < rb->nsteps && flow != STEP_STOP; i++) {
		const rb_step *s = &rb->steps[i];
		if (s->role != role || s->kind == RB_STEP_DOC)
			continue;
		rb_run_background_pump(r); /* what background steps wrote meanwhile, before the next header */
		flow = step_ready(r, i, handler, &rc);
		if (flow == STEP_RUN && !handler && r->step_mode)
			flow = step_asked(r, i, &rc);
		if (flow != STEP_RUN)
			continue;
		rb_run_record_start(r, s);
		if (record_lost(r, i, handler)) {
			rc = RB_EXIT_ENV;
			break;
		}
		int step_rc = rb_run_one_step(r, i);
		if (!handler)
			rb_run_undo_push(r, i, r->results[i].status == RB_STATUS_OK);
		flow = r->results[i].status == RB_STATUS_OK ? STEP_NEXT : step_failed(r, s, handler, step_rc, &rc);
		if (flow == STEP_NEXT && !handler && r->ended_by)
			flow = STEP_STOP; /* a gate said there is nothing more to do: rc stays 0 */
	}
	return rc;
}

static void run_handler(rb_run *r, int rc)
{
	const rb_runbook *rb = r->rb;
	if (rb->on_failure_section < 0 || rb_runbook_count(rb, RB_ROLE_ON_FAILURE) == 0)
		return;
	/* A second Ctrl-C must be able to stop the handler itself. */
	rb_signals_reset();
	const char *reason = rc == RB_EXIT_ABORT ? r->fired_reason
			     : rc > 128 ? "interrupted"
			     : r->failure_reason ? r->failure_reason : "failed";
	char code[16];
	snprintf(code, sizeof code, "%d", rc);
	rb_run_set_var(r, "FAILED_STEP", r->failed_step ? r->failed_step->id : "", RB_VAR_RUNBOOK);
	rb_run_set_var(r, "FAILURE_REASON", reason ? reason : "failed", RB_VAR_RUNBOOK);
	rb_run_set_var(r, "FAILURE_EXIT_CODE", code, RB_VAR_RUNBOOK);
	rb_run_set_var(r, "ABORT_CONDITION", rc == RB_EXIT_ABORT && r->fired ? r->fired->id : "", RB_VAR_RUNBOOK);
	rb_ev start = {.type = RB_EV_HANDLER_START, .text = rb->sections[rb->on_failure_section].title, .exit_code = -1};
	rb_run_emit(r, &start);
	/* The abort condition that stopped the run stays quiet now: the handler
	 * must be able to finish. Only during_handler conditions are checked. */
	r->in_handler = 1;
	r->fired = NULL;
	rb_ev end = {.type = RB_EV_HANDLER_END, .status = RB_STATUS_OK, .exit_code = -1};
	if (run_role(r, RB_ROLE_ON_FAILURE) != RB_EXIT_OK) {
		end.status = RB_STATUS_CANCELLED;
		end.name = r->fired ? r->fired->id : NULL;
		end.text = r->fired ? r->fired_reason : "interrupted";
	}
	rb_run_emit(r, &end);
}

/*
 * The main flow; with undo_only (--resume of a run whose undo was cut
 * short) no forward step: the failure that started the undo stands.
 */
static int run_main(rb_run *r)
{
	const rb_run_opts *o = r->opts;
	int rc;
	if (o->undo_only && o->reverts) {
		rb_run_say(r, "Reverting run %s: the undos of the steps it completed, newest first\n", o->reverts);
		return RB_EXIT_OK;
	}
	if (o->undo_only) {
		rb_run_say(r, "Continuing the undo the resumed run started (it had failed with exit %d)\n", o->undo_exit);
		for (size_t k = 0; k < o->nundo_cut; k++) {
			rb_run_notice(r, "The undo of %s was interrupted and is not run again: check by hand what it did\n",
				   o->undo_cut[k]);
			const char *f[] = {"step", o->undo_cut[k], NULL};
			rb_run_note(r, 0, "an undo was interrupted and is not run again", f);
		}
		return o->undo_exit > 0 ? o->undo_exit : RB_EXIT_STEP;
	}
	rc = run_role(r, RB_ROLE_MAIN);
	if (rc == RB_EXIT_OK && rb_signals_interrupted())
		rc = rb_run_interrupted_code();
	if (rc == RB_EXIT_ABORT) {
		rb_ev ev = {.type = RB_EV_ABORT_FIRED, .step = r->fired, .text = r->fired_reason, .exit_code = -1};
		rb_run_emit(r, &ev);
	}
	return rc;
}

/* The last line: how many steps ran, failed, were skipped, were not run, were undone (RB_EV_RUN_END). */
static void summarize(rb_run *r, int rc)
{
	const rb_runbook *rb = r->rb;
	rb_ev_counts c = {0, 0, 0, 0, r->undone};
	size_t total = 0;
	char undone[48] = "", skipped[48] = "", not_run[48] = "";
	rb_buf line = RB_BUF_INIT;
	for (size_t i = 0; i < rb->nsteps; i++) {
		const rb_step *s = &rb->steps[i];
		if (s->role != RB_ROLE_MAIN || !rb_step_runnable(s) || s->kind == RB_STEP_ABORT)
			continue;
		total++;
		c.ok += r->results[i].status == RB_STATUS_OK;
		c.failed += r->results[i].status == RB_STATUS_FAILED || r->results[i].status == RB_STATUS_CANCELLED;
		c.skipped += r->results[i].status == RB_STATUS_SKIPPED;
	}
	c.not_run = total - c.ok - c.failed - c.skipped;
	if (r->undone)
		snprintf(undone, sizeof undone, "; %zu undone", r->undone);
	if (c.skipped)
		snprintf(skipped, sizeof skipped, ", %zu skipped", c.skipped);
	if (c.not_run)
		snprintf(not_run, sizeof not_run, ", %zu not run", c.not_run);
	if (r->opts->reverts)
		rb_buf_printf(&line, "%s run %s: %zu undone", rc == RB_EXIT_OK ? "Reverted" : "Revert incomplete of",
			      r->opts->reverts, r->undone);
	else if (rc > 128)
		rb_buf_printf(&line, "Interrupted: %zu ok, %zu failed%s%s; the run stopped.", c.ok, c.failed, skipped,
			      undone);
	else if (rc == RB_EXIT_OK && r->ended_by)
		rb_buf_printf(&line, "Done: %zu ok, %zu failed%s%s: gate '%s' ended the run: %s", c.ok, c.failed, skipped,
			      not_run, r->ended_by->id, r->ended_reason);
	else if (rc == RB_EXIT_OK)
		rb_buf_printf(&line, "Done: %zu ok, %zu failed%s%s", c.ok, c.failed, c.failed ? " (allowed)" : "", skipped);
	else
		rb_buf_printf(&line, "Stopped (exit %d): %zu ok, %zu failed%s, %zu not run%s", rc, c.ok, c.failed, skipped,
			      c.not_run, undone);
	rb_ev ev = {.type = RB_EV_RUN_END, .exit_code = rc, .counts = &c, .text = line.data, .total = total};
	rb_run_emit(r, &ev);
	rb_buf_free(&line);
}

/* How many steps of the main flow the selection runs (when= may still skip some). */
static size_t selected_count(const rb_run *r)
{
	size_t n = 0;
	for (size_t i = 0; i < r->rb->nsteps; i++)
		n += r->rb->steps[i].role == RB_ROLE_MAIN && rb_step_runnable(&r->rb->steps[i]) &&
		     r->sel[i] != RB_SEL_SKIP && r->sel[i] != RB_SEL_GUARD_SKIPPED && r->sel[i] != RB_SEL_EXCLUDED;
	return n;
}

/* The first interactive step the run could reach when there is no terminal to give it; NULL: none. */
static const rb_step *needs_terminal(const rb_run *r)
{
	const rb_step *found = NULL;
	for (size_t i = 0; !r->approver.interactive && !found && i < r->rb->nsteps; i++) {
		const rb_step *s = &r->rb->steps[i];
		if (s->interactive && rb_step_runnable(s) && s->role != RB_ROLE_MANUAL &&
		    (s->role != RB_ROLE_MAIN || r->sel[i] == RB_SEL_RUN))
			found = s;
	}
	return found;
}

/* The journal first (a step is recorded before anything shows it), then the caller's sinks. */
static void open_sinks(rb_run *r)
{
	const rb_run_opts *o = r->opts;
	r->sinks = rb_xcalloc(o->nsinks + 1, sizeof *r->sinks);
	if (o->record) {
		r->journal = rb_sink_journal_new(o->record);
		r->sinks[r->nsinks++] = r->journal;
		r->run_id = rb_record_get(o->record, "run", NULL, "id");
	}
	for (size_t i = 0; i < o->nsinks; i++)
		r->sinks[r->nsinks++] = o->sinks[i];
}

int rb_engine_run(const rb_runbook *rb, const rb_run_opts *opts)
{
	rb_run r;
	int rc = RB_EXIT_OK;
	memset(&r, 0, sizeof r);
	r.rb = rb;
	r.opts = opts;
	r.results = rb_xcalloc(rb->nsteps ? rb->nsteps : 1, sizeof *r.results);
	r.sel = rb_xcalloc(rb->nsteps ? rb->nsteps : 1, sizeof *r.sel);
	rb_select_steps(rb, opts->from, opts->only, opts->skip_guards, r.sel);
	open_sinks(&r);
	r.step_mode = opts->step_mode;
	rb_ev start = {.type = RB_EV_RUN_START, .text = rb->title, .total = rb_runbook_count(rb, RB_ROLE_MAIN),
		       .exit_code = -1};
	rb_run_emit(&r, &start);
	int started = 0;

	rb_signals_install();
#ifdef __linux__
	/* Orphans of a step's process group come back to us to be reaped. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
#endif
	rc = rb_run_setup(&r);
	if (rc != RB_EXIT_OK)
		goto done;
	if (r.step_mode && !r.approver.interactive) {
		rb_run_error(&r, NULL, 0, 0, "--step asks before each step: it needs a terminal (standard input is not one)");
		rc = RB_EXIT_USAGE;
		goto done;
	}
	const rb_step *tty = needs_terminal(&r);
	if (tty) {
		rb_run_error(&r, rb->path, tty->line, tty->col,
			     "step '%s' is interactive: it needs a terminal, and standard input is not one; nothing was run",
			     tty->id);
		rc = RB_EXIT_USAGE;
		goto done;
	}
	rb_error werr = RB_ERROR_INIT;
	if (rb_interp_check_runbook(rb, &werr) < 0) { /* before anything is asked or run */
		rb_run_report(&r, &werr);
		rb_error_clear(&werr);
		rc = RB_EXIT_ENV;
		goto done;
	}
	rc = rb_run_inputs(&r);
	if (rc != RB_EXIT_OK)
		goto done;
	if (rb_watchdog_start(opts->grace_ms, &r.watchdog, &werr) < 0) {
		rb_run_report(&r, &werr);
		rb_error_clear(&werr);
		rc = RB_EXIT_ENV;
		goto done;
	}

	rc = rb_run_take_lock(&r);
	if (rc == RB_EXIT_OK)
		rc = rb_run_requirements(&r);
	if (rc != RB_EXIT_OK)
		goto done;
	size_t total = rb_runbook_count(rb, RB_ROLE_MAIN);
	rb_run_undo_inherit(&r, opts->undo_items, opts->nundo_items);
	size_t runs = selected_count(&r);
	if (runs == total)
		rb_run_say(&r, "Running %s (%s): %zu step%s\n", rb->title, rb->path, total, total == 1 ? "" : "s");
	else
		rb_run_say(&r, "Running %s (%s): %zu of %zu step%s\n", rb->title, rb->path, runs, total,
			   total == 1 ? "" : "s");
	if (!rb_run_approve_skipped_guards(&r) || !rb_run_approve_no_undo(&r)) {
		rc = rb_signals_interrupted() ? rb_run_interrupted_code() : RB_EXIT_GATE;
		goto done;
	}
	started = 1;
	rc = run_main(&r);
	if (rc != RB_EXIT_OK && rc < 128 && opts->outcome && opts->outcome->on_failure)
		opts->outcome->on_failure(opts->outcome->ctx, r.failed_step && r.failed_step->id ? r.failed_step->id : "");
	if (opts->undo_only || (rc != RB_EXIT_OK && rc != RB_EXIT_USAGE)) {
		rc = rb_run_undo(&r, rc);
		if (rc != RB_EXIT_OK)
			run_handler(&r, rc);
	}
done:
	if (opts->outcome && r.failed_step && r.failed_step->id)
		snprintf(opts->outcome->failed_step, sizeof opts->outcome->failed_step, "%s", r.failed_step->id);
	rb_run_background_stop_all(&r); /* after the undo and the handler, which may still need them */
	if (started) {
		summarize(&r, rc);
	} else {
		rb_ev end = {.type = RB_EV_RUN_END, .exit_code = rc};
		rb_run_emit(&r, &end);
	}
	rb_run_undo_free(&r);
	rb_run_teardown(&r);
	free(r.pending_ok);
	free(r.ended_reason);
	rb_sink_close(r.journal, NULL);
	free(r.sinks);
	return rc;
}
