/*
 * step_lua.c - lua steps (run for their variables) and gates (a falsy
 * result stops the run with exit 3).
 */
#define _GNU_SOURCE
#include "run.h"
#include "signals.h"

#include <stdlib.h>
#include <string.h>

/* A lua step: runs for its effects on vars; an error fails it. */
static rb_status run_lua(rb_run *r, const rb_step *s, rb_step_result *res, int *rc)
{
	*rc = RB_EXIT_STEP;
	rb_lua_result lr;
	char d[32];
	int64_t t0 = rb_now_ms();
	rb_run_eval_lua(r, s->body, 0, s->body_line, &lr);
	res->duration_ms = rb_now_ms() - t0;
	rb_format_duration(res->duration_ms, d, sizeof d);
	rb_status st = RB_STATUS_OK;
	if (rb_signals_interrupted()) {
		rb_run_result(r, s, RB_STATUS_CANCELLED, "interrupted after %s (stopped)", d);
		st = RB_STATUS_CANCELLED;
	} else if (!lr.ok) {
		rb_run_result(r, s, RB_STATUS_FAILED, "failed in %s", d);
		rb_run_step_error_at(r, s, lr.error_line, 1, "%s", lr.message ? lr.message : "error");
		rb_run_keep_text(&res->err, lr.message);
		res->exit_code = 1;
		st = RB_STATUS_FAILED;
	} else {
		rb_run_result_ok(r, s, "ok in %s", d);
	}
	rb_lua_result_free(&lr);
	return st;
}

/*
 * A gate: falsy stops the run (exit 3) with the gate's message; "done"
 * (rb.done(message)) ends the main flow with success after it (r->ended_by).
 */
static rb_status run_gate(rb_run *r, const rb_step *s, rb_step_result *res, int *rc)
{
	rb_lua_result lr;
	int64_t t0 = rb_now_ms();
	rb_run_eval_lua(r, s->body, 0, s->body_line, &lr);
	res->duration_ms = rb_now_ms() - t0;
	rb_status st = RB_STATUS_OK;
	rb_ev gate = {.type = RB_EV_GATE, .step = s, .status = RB_STATUS_OK, .text = lr.message,
		      .duration_ms = res->duration_ms, .exit_code = -1};
	rb_run_keep_text(&res->out, lr.message);
	if (rb_signals_interrupted()) {
		rb_run_result(r, s, RB_STATUS_CANCELLED, "interrupted while the gate was evaluated (stopped)");
		st = RB_STATUS_CANCELLED;
	} else if (!lr.ok) {
		rb_run_result(r, s, RB_STATUS_FAILED, "gate failed to evaluate");
		rb_run_step_error_at(r, s, lr.error_line, 1, "gate error: %s", lr.message ? lr.message : "error");
		*rc = RB_EXIT_GATE;
		st = RB_STATUS_FAILED;
	} else if (!lr.truthy) {
		gate.status = RB_STATUS_FAILED;
		gate.text = lr.message ? lr.message : "the gate returned false";
		rb_run_emit(r, &gate);
		rb_run_step_error(r, s, "gate closed: %s", lr.message ? lr.message : "the gate returned false");
		*rc = RB_EXIT_GATE;
		st = RB_STATUS_FAILED;
	} else if (lr.value && !strcmp(lr.value, "done") && s->role == RB_ROLE_MAIN) {
		/* "done": open, and nothing after it runs; the run succeeds */
		gate.text = lr.message ? lr.message : "nothing more to do";
		rb_run_emit(r, &gate);
		r->ended_by = s;
		free(r->ended_reason);
		r->ended_reason = rb_xstrdup(gate.text);
		char *text = rb_xasprintf("the run ends here: gate '%s' says there is nothing more to do", s->id);
		const char *f[] = {"step", s->id, "reason", gate.text, NULL};
		rb_run_note(r, 1, text, f);
		free(text);
	} else {
		rb_run_emit(r, &gate);
	}
	res->exit_code = st == RB_STATUS_OK ? 0 : 1;
	rb_lua_result_free(&lr);
	return st;
}

static const char *const lua_languages[] = {"lua", NULL};

const rb_step_ops rb_step_lua_ops = {.kind = RB_STEP_LUA, .name = "lua", .languages = lua_languages, .run = run_lua};
const rb_step_ops rb_step_gate_ops = {
	.kind = RB_STEP_GATE, .name = "gate", .languages = lua_languages, .qualifier = "gate", .run = run_gate};
/* Abort conditions are armed by the loop (luahost.c), never run as a step. */
const rb_step_ops rb_step_abort_ops = {
	.kind = RB_STEP_ABORT, .name = "abort", .languages = lua_languages, .qualifier = "abort", .run = NULL};
