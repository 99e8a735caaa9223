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
#include "output.h"
#include "approve.h"
#include "db.h"
#include "luavm.h"
#include "pgserver.h"
#include "parse.h"
#include "preflight.h"
#include "runlock.h"
#include "select.h"
#include "watchdog.h"
#include "shell.h"
#include "signals.h"
#include "sqlexec.h"
#include "vars.h"
#include "visible.h"

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

static void record_step_end(rb_run *r, const rb_step *s, const rb_step_result *res)
{
	const rb_step_ops *ops = rb_step_ops_for(s->kind);
	if (!r->opts->record)
		return;
	char code[16], dur[32], tries[16];
	snprintf(code, sizeof code, "%d", res->exit_code);
	snprintf(tries, sizeof tries, "%d", res->attempts);
	rb_format_duration(res->duration_ms, dur, sizeof dur);
	const char *out = res->out ? res->out : "";
	const char *err = res->err ? res->err : "";
	rb_buf o = RB_BUF_INIT;
	/* Bounded output, the elision said. */
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
	rb_record_event(r->opts->record, "end", "id", s->id, "status", rb_status_name(res->status),
			"exit", ops && ops->process ? code : NULL,
			"sqlstate", *res->sqlstate ? res->sqlstate : NULL,
			"message", res->status == RB_STATUS_FAILED || res->is_sql ? (res->is_sql ? res->err : r->failure_reason) : NULL,
			"duration", dur, "attempts", res->attempts > 1 ? tries : NULL, "output", o.data,
			"capture", s->capture.value,
			"value", s->capture.value && res->status == RB_STATUS_OK ? rb_vars_get(&r->vars, s->capture.value) : NULL,
			"documented_output", s->doc_output && *s->doc_output ? s->doc_output : NULL, NULL);
	rb_buf_free(&o);
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
			rb_lua_result lr;
			rb_run_eval_lua(r, s->expect.value, 1, s->expect.line, &lr);
			if (!lr.ok || !lr.truthy) {
				rb_run_step_error_at(r, s, s->expect.line, s->expect.col, "expect=%s %s%s",
					      s->expect.value, lr.ok ? "does not hold" : "failed: ",
					      lr.ok ? "" : lr.message);
				st = RB_STATUS_FAILED;
			}
			rb_lua_result_free(&lr);
		}
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
		char n[48];
		rb_run_say(r, "%s retrying (attempt %d of %d)%s\n", rb_run_counter(r, s, n, sizeof n), attempt + 1,
		    attempts, s->retry_delay_ms > 0 ? " after a delay" : "");
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
		char n[48];
		rb_run_say(r, "%s %s skipped: when=%s is false\n", rb_run_counter(r, s, n, sizeof n), s->id,
		    s->when.value);
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

/* The journal learns that the step starts. */
void rb_run_record_start(rb_run *r, const rb_step *s)
{
	static const char *const roles[] = {"main", "on_failure", "manual", "undo"};
	const rb_run_opts *o = r->opts;
	if (!o->record)
		return;
	char num[16], line[16];
	rb_buf path = RB_BUF_INIT;
	snprintf(num, sizeof num, "%d", s->number);
	snprintf(line, sizeof line, "%d", s->line);
	rb_section_path(r->rb, s->section, &path);
	rb_record_event(o->record, "step", "id", s->id, "number", s->number ? num : NULL, "kind", rb_step_kind_name(s->kind), "lang",
			s->lang, "line", line, "section", path.data, "role", roles[s->role], "undoes",
			s->undoes >= 0 ? r->rb->steps[s->undoes].id : NULL, "allow", s->allow.value, NULL);
	rb_buf_free(&path);
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
	rb_out_err("runbook: %s\nrunbook: the run stops before step '%s': it could not be recorded\n",
		rb_record_error(o->record), s->id);
	rb_record_event(o->record, "end", "id", s->id, "status", "cancelled", "message",
			"not run: the run journal could not be written", NULL);
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
	rb_run_header(r, s); /* after the journal knows the step started */
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
	record_step_end(r, s, res);
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
		flow = step_ready(r, i, handler, &rc);
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
	rb_run_say(r, "Running the failure handler \"%s\"\n", rb->sections[rb->on_failure_section].title);
	if (r->opts->record)
		rb_record_event(r->opts->record, "note", "text", "the on_failure section ran", NULL);
	/* The abort condition that stopped the run stays quiet now: the handler
	 * must be able to finish. Only during_handler conditions are checked. */
	r->in_handler = 1;
	r->fired = NULL;
	if (run_role(r, RB_ROLE_ON_FAILURE) != RB_EXIT_OK) {
		if (r->fired)
			rb_run_say(r, "The failure handler was stopped: abort condition '%s' fired: %s\n", r->fired->id,
			    r->fired_reason);
		else
			rb_run_say(r, "The failure handler was stopped by a second interrupt.\n");
		if (r->opts->record)
			rb_record_event(r->opts->record, "note", "text", "the on_failure section was stopped",
					"reason", r->fired ? r->fired_reason : "interrupted", NULL);
	}
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
			rb_run_say(r, "The undo of %s was interrupted and is not run again: check by hand what it did\n",
				   o->undo_cut[k]);
			if (o->record)
				rb_record_event(o->record, "note", "text", "an undo was interrupted and is not run again",
						"step", o->undo_cut[k], NULL);
		}
		return o->undo_exit > 0 ? o->undo_exit : RB_EXIT_STEP;
	}
	rc = run_role(r, RB_ROLE_MAIN);
	if (rc == RB_EXIT_OK && rb_signals_interrupted())
		rc = rb_run_interrupted_code();
	if (rc == RB_EXIT_ABORT) {
		char *hidden = rb_run_clean(r, r->fired_reason);
		char *why = rb_visible(hidden);
		free(hidden);
		rb_out_err("%s:%d:%d: abort condition '%s' fired: %s\n", r->rb->path, r->fired->line, r->fired->col,
			   r->fired->id, why);
		free(why);
		if (o->record)
			rb_record_event(o->record, "abort", "step", r->fired->id, "reason", r->fired_reason, NULL);
	}
	return rc;
}

/* The last line: how many steps ran, failed, were not run, were undone. */
static void summarize(rb_run *r, int rc)
{
	const rb_runbook *rb = r->rb;
	size_t ok = 0, failed = 0, skipped = 0, total = rb_runbook_count(rb, RB_ROLE_MAIN);
	char undone[48] = "";
	for (size_t i = 0; i < rb->nsteps; i++) {
		if (rb->steps[i].role != RB_ROLE_MAIN || !rb_step_runnable(&rb->steps[i]) ||
		    rb->steps[i].kind == RB_STEP_ABORT)
			continue;
		ok += r->results[i].status == RB_STATUS_OK;
		failed += r->results[i].status == RB_STATUS_FAILED || r->results[i].status == RB_STATUS_CANCELLED;
		skipped += r->results[i].status == RB_STATUS_SKIPPED;
	}
	if (r->undone)
		snprintf(undone, sizeof undone, "; %zu undone", r->undone);
	if (r->opts->reverts)
		rb_run_say(r, "%s run %s: %zu undone\n", rc == RB_EXIT_OK ? "Reverted" : "Revert incomplete of",
			   r->opts->reverts, r->undone);
	else if (rc > 128)
		rb_run_say(r, "Interrupted: %zu ok, %zu failed%s; the run stopped.\n", ok, failed, undone);
	else if (rc == RB_EXIT_OK)
		rb_run_say(r, "Done: %zu ok, %zu failed%s%s\n", ok, failed, failed ? " (allowed)" : "",
			   skipped ? ", some steps skipped" : "");
	else
		rb_run_say(r, "Stopped (exit %d): %zu ok, %zu failed, %zu not run%s\n", rc, ok, failed,
			   total - ok - failed, undone);
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

	rb_signals_install();
#ifdef __linux__
	/* Orphans of a step's process group come back to us to be reaped. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
#endif
	rc = rb_run_setup(&r);
	if (rc != RB_EXIT_OK)
		goto done;
	rb_error werr = RB_ERROR_INIT;
	if (rb_interp_check_runbook(rb, &werr) < 0) { /* before anything is asked or run */
		rb_out_error("runbook: ", &werr);
		rb_error_clear(&werr);
		rc = RB_EXIT_ENV;
		goto done;
	}
	rc = rb_run_inputs(&r);
	if (rc != RB_EXIT_OK)
		goto done;
	if (rb_watchdog_start(opts->grace_ms, &r.watchdog, &werr) < 0) {
		rb_out_error("runbook: ", &werr);
		rb_error_clear(&werr);
		rc = RB_EXIT_ENV;
		goto done;
	}

	rc = rb_run_take_lock(&r);
	if (rc != RB_EXIT_OK)
		goto done;
	size_t total = rb_runbook_count(rb, RB_ROLE_MAIN);
	rb_run_undo_inherit(&r, opts->undo_items, opts->nundo_items);
	rb_run_say(&r, "Running %s (%s): %zu step%s\n", rb->title, rb->path, total, total == 1 ? "" : "s");
	if (!rb_run_approve_skipped_guards(&r) || !rb_run_approve_no_undo(&r)) {
		rc = rb_signals_interrupted() ? rb_run_interrupted_code() : RB_EXIT_GATE;
		goto done;
	}
	rc = run_main(&r);
	if (opts->undo_only || (rc != RB_EXIT_OK && rc != RB_EXIT_USAGE)) {
		rc = rb_run_undo(&r, rc);
		if (rc != RB_EXIT_OK)
			run_handler(&r, rc);
	}
	summarize(&r, rc);
done:
	rb_run_undo_free(&r);
	rb_run_teardown(&r);
	return rc;
}
