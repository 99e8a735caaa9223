/*
 * run_output.c - what a run says, as events (events.h): the engine and the
 * executors emit here, every text through the redactor, and the run's sinks
 * (the journal first, then the terminal and the formats asked for) render
 * or keep it. Nothing here writes to a stream.
 */
#define _GNU_SOURCE
#include "run.h"
#include "events.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Text for the terminal or the record, secrets hidden. Caller frees. */
char *rb_run_clean(const rb_run *r, const char *text)
{
	return rb_redact(r->redactor, text ? text : "");
}

/* A copy of s with the secrets hidden, remembered in *keep to be freed; NULL stays NULL. */
static const char *hidden(const rb_run *r, const char *s, char **keep)
{
	if (!s || !r->redactor || !r->redactor->count)
		return s;
	*keep = rb_redact(r->redactor, s);
	return *keep;
}

void rb_run_emit(rb_run *r, const rb_ev *given)
{
	rb_ev copy = *given, *ev = &copy; /* the caller's event stays as it was */
	char n[48];
	char *keep[5] = {NULL, NULL, NULL, NULL, NULL};
	const char *kv[40];
	ev->time_ms = rb_wall_ms();
	ev->runbook = r->rb;
	ev->run_id = r->run_id;
	ev->target = r->opts->target;
	ev->rollout = r->opts->rollout;
	if (ev->step && !ev->counter)
		ev->counter = rb_run_counter(r, ev->step, n, sizeof n);
	if (ev->type != RB_EV_STEP_OUTPUT) {
		ev->text = hidden(r, ev->text, &keep[0]);
		ev->name = hidden(r, ev->name, &keep[1]);
		ev->value = hidden(r, ev->value, &keep[2]);
		if (ev->data) {
			ev->data = hidden(r, ev->data, &keep[3]);
			ev->len = strlen(ev->data);
		}
	}
	if (ev->fields && r->redactor && r->redactor->count) {
		/* Field values hidden one by one (freed below). */
		size_t k = 0;
		rb_buf all = RB_BUF_INIT;
		for (; ev->fields[k] && k + 3 < sizeof kv / sizeof *kv; k += 2) {
			kv[k] = ev->fields[k];
			kv[k + 1] = ev->fields[k + 1];
		}
		kv[k] = NULL;
		for (size_t i = 1; i < k; i += 2)
			if (kv[i]) {
				char *c = rb_redact(r->redactor, kv[i]);
				rb_buf_printf(&all, "%s%c", c, 0);
				free(c);
			}
		keep[4] = all.data; /* the values, NUL-separated, in order */
		const char *p = all.data;
		for (size_t i = 1; i < k; i += 2)
			if (kv[i]) {
				kv[i] = p;
				p += strlen(p) + 1;
			}
		ev->fields = kv;
	}
	for (size_t i = 0; i < r->nsinks; i++)
		if (ev->type != RB_EV_STEP_OUTPUT || (r->sinks[i]->wants & RB_SINK_OUTPUT))
			r->sinks[i]->event(r->sinks[i], ev);
	for (size_t i = 0; i < 5; i++)
		free(keep[i]);
}

void rb_run_tick(rb_run *r)
{
	int64_t now = rb_now_ms();
	for (size_t i = 0; i < r->nsinks; i++)
		if ((r->sinks[i]->wants & RB_SINK_TICKS) && r->sinks[i]->tick)
			r->sinks[i]->tick(r->sinks[i], now);
}

int rb_run_wants_ticks(const rb_run *r)
{
	for (size_t i = 0; i < r->nsinks; i++)
		if (r->sinks[i]->wants & RB_SINK_TICKS)
			return 1;
	return 0;
}

/* A line of text for people, on stream 1 or 2 of the terminal; show: --quiet shows it too. */
static void message(rb_run *r, int stream, int show, const char *fmt, va_list ap)
{
	rb_buf b = RB_BUF_INIT;
	rb_buf_vprintf(&b, fmt, ap);
	rb_ev ev = {.type = RB_EV_MESSAGE, .stream = stream, .show = show, .text = b.data, .step = r->current,
		    .exit_code = -1};
	rb_run_emit(r, &ev);
	rb_buf_free(&b);
}

void rb_run_say(rb_run *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	message(r, 1, 0, fmt, ap);
	va_end(ap);
}

void rb_run_notice(rb_run *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	message(r, 1, 1, fmt, ap);
	va_end(ap);
}

void rb_run_warn(rb_run *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	message(r, 2, 1, fmt, ap);
	va_end(ap);
}

void rb_run_result(rb_run *r, const rb_step *s, rb_status status, const char *fmt, ...)
{
	rb_buf b = RB_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	rb_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	rb_ev ev = {.type = RB_EV_STEP_RESULT, .step = s, .status = status, .text = b.data, .exit_code = -1};
	rb_run_emit(r, &ev);
	rb_buf_free(&b);
}

void rb_run_result_ok(rb_run *r, const rb_step *s, const char *fmt, ...)
{
	rb_buf b = RB_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	rb_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (s->expect.value) {
		free(r->pending_ok);
		r->pending_ok = rb_buf_detach(&b);
	} else {
		rb_run_result(r, s, RB_STATUS_OK, "%s", b.data);
	}
	rb_buf_free(&b);
}

void rb_run_step_error_in(rb_run *r, const rb_step *s, const char *file, int line, int col,
			  const char *fmt, ...)
{
	rb_buf b = RB_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	rb_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	rb_ev ev = {.type = RB_EV_ERROR, .step = s, .file = file, .line = line, .col = col, .text = b.data,
		    .exit_code = -1};
	rb_run_emit(r, &ev);
	free(r->failure_reason);
	r->failure_reason = rb_run_clean(r, b.data);
	rb_buf_free(&b);
}

void rb_run_error(rb_run *r, const char *file, int line, int col, const char *fmt, ...)
{
	rb_buf b = RB_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	rb_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	rb_ev ev = {.type = RB_EV_ERROR, .file = file, .line = line, .col = col, .text = b.data, .exit_code = -1};
	rb_run_emit(r, &ev);
	rb_buf_free(&b);
}

void rb_run_report(rb_run *r, const rb_error *err)
{
	rb_run_error(r, err->file, err->line, err->col, "%s", err->message ? err->message : "error");
}

void rb_run_note(rb_run *r, int show, const char *text, const char *const *fields)
{
	rb_ev ev = {.type = RB_EV_NOTE, .step = NULL, .show = show, .text = text, .fields = fields, .exit_code = -1};
	rb_run_emit(r, &ev);
}

void rb_run_output(rb_run *r, int stream, const char *data, size_t len)
{
	if (!len)
		return;
	rb_ev ev = {.type = RB_EV_STEP_OUTPUT, .step = r->current, .stream = stream, .data = data, .len = len,
		    .exit_code = -1};
	rb_run_emit(r, &ev);
}

const char *rb_run_counter(const rb_run *r, const rb_step *s, char *buf, size_t size)
{
	if (s->role == RB_ROLE_ON_FAILURE)
		snprintf(buf, size, "[on failure %d/%zu]", s->number, r->total);
	else if (s->role == RB_ROLE_UNDO)
		snprintf(buf, size, "[undo %zu/%zu]", r->undo_pos, r->undo_total);
	else
		snprintf(buf, size, "[%d/%zu]", s->number, r->total);
	return buf;
}

/* The result of a failing expect_error: matched, or the step failed. */
static rb_status expected_error(rb_run *r, const rb_step *s, const rb_outcome *oc, const char *d)
{
	const char *want = s->expect_error.value;
	int matched = 0;
	if (oc->failed && s->kind == RB_STEP_SQL)
		matched = rb_sql_error_matches(want, oc->sqlstate, oc->message);
	else if (oc->failed)
		matched = strstr(oc->message ? oc->message : "", want) || strstr(oc->output ? oc->output : "", want) ||
			  (atoi(want) != 0 && atoi(want) == oc->exit_code);
	const char *code = oc->sqlstate && *oc->sqlstate ? oc->sqlstate : NULL;
	if (matched && code && !strcmp(code, want))
		code = NULL; /* "(23514)", not "(23514: 23514)" */
	if (matched) {
		rb_run_result_ok(r, s, "ok: failed as expected (%s%s%s) in %s", code ? code : "", code ? ": " : "",
				 want, d);
		return RB_STATUS_OK;
	}
	rb_run_result(r, s, RB_STATUS_FAILED, "failed: expected an error matching '%s'", want);
	if (oc->failed)
		rb_run_step_error(r, s, "expected an error matching '%s', got %s%s%s", want, code ? code : "",
				  code ? ": " : "", oc->message ? oc->message : "");
	else
		rb_run_step_error(r, s, "expected an error matching '%s', but the step succeeded", want);
	return RB_STATUS_FAILED;
}

/* Says the result and the error, applies expect_error; returns the status. */
rb_status rb_run_conclude(rb_run *r, const rb_step *s, const rb_outcome *oc)
{
	char d[32];
	rb_format_duration(oc->duration_ms, d, sizeof d);
	if (oc->reason == RB_END_INTERRUPTED) {
		rb_run_result(r, s, RB_STATUS_CANCELLED, "interrupted after %s (stopped)", d);
		free(r->failure_reason);
		r->failure_reason = rb_xstrdup("interrupted");
		return RB_STATUS_CANCELLED;
	}
	if (oc->reason == RB_END_CANCELLED) {
		rb_run_result(r, s, RB_STATUS_CANCELLED, "cancelled after %s: an abort condition fired", d);
		return RB_STATUS_CANCELLED;
	}
	if (oc->reason == RB_END_TIMEOUT) {
		rb_run_result(r, s, RB_STATUS_FAILED, "timed out after %s (stopped)", d);
		rb_run_step_error(r, s, "timed out after %s%s", d,
				  s->kind == RB_STEP_SQL ? "; the statement was cancelled on the server and rolled back" : "");
		return RB_STATUS_FAILED;
	}
	if (s->expect_error.value)
		return expected_error(r, s, oc, d);
	if (!oc->failed) {
		rb_run_result_ok(r, s, "ok in %s", d);
		return RB_STATUS_OK;
	}
	if (s->kind == RB_STEP_SQL) {
		const char *code = oc->sqlstate && *oc->sqlstate ? oc->sqlstate : NULL;
		rb_run_result(r, s, RB_STATUS_FAILED, "failed: %s%s in %s", code ? "SQLSTATE " : "error", code ? code : "", d);
		rb_run_step_error_in(r, s, oc->file, oc->line, oc->col, "ERROR%s%s: %s", code ? " " : "", code ? code : "",
				     oc->message ? oc->message : "failed");
		return RB_STATUS_FAILED;
	}
	rb_run_result(r, s, RB_STATUS_FAILED, "failed: exit %d in %s", oc->exit_code, d);
	rb_run_step_error(r, s, "failed with exit code %d", oc->exit_code);
	return RB_STATUS_FAILED;
}

void rb_run_keep_text(char **dst, const char *src)
{
	free(*dst);
	*dst = rb_xstrdup(src ? src : "");
}
