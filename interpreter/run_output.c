/*
 * run_output.c - what a run says: step headers, result lines and errors,
 * every text through the redactor and made visible (visible.h).
 */
#define _GNU_SOURCE
#include "run.h"
#include "output.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Text for the terminal or the record, secrets hidden. Caller frees. */
char *rb_run_clean(const rb_run *r, const char *text)
{
	return rb_redact(r->redactor, text ? text : "");
}

void rb_run_say(const rb_run *r, const char *fmt, ...)
{
	rb_buf b = RB_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	rb_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	char *c = rb_run_clean(r, b.data);
	rb_out("%s", c);
	free(c);
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
	char *c = rb_run_clean(r, b.data);
	rb_out_err("%s:%d:%d: step '%s': %s\n", file ? file : r->rb->path, line ? line : s->line,
		   line ? col : s->col, s->id, c);
	free(r->failure_reason);
	r->failure_reason = c;
	rb_buf_free(&b);
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

void rb_run_header(rb_run *r, const rb_step *s)
{
	rb_buf b = RB_BUF_INIT;
	char n[48];
	rb_section_path(r->rb, s->section, &b);
	rb_run_say(r, "%s %s%s%s (%s)\n", rb_run_counter(r, s, n, sizeof n), rb_buf_cstr(&b),
	    b.len ? " \xe2\x80\xba " : "", s->id, s->kind == RB_STEP_APPROVAL ? "approval" :
	    s->kind == RB_STEP_GATE ? "gate" : s->lang);
	rb_buf_free(&b);
}

/* Prints the result line and the error, applies expect_error; returns the status. */
rb_status rb_run_conclude(rb_run *r, const rb_step *s, const rb_outcome *oc)
{
	char d[32], n[48];
	rb_format_duration(oc->duration_ms, d, sizeof d);
	rb_run_counter(r, s, n, sizeof n);
	if (oc->reason == RB_END_INTERRUPTED) {
		rb_run_say(r, "%s interrupted after %s (stopped)\n", n, d);
		free(r->failure_reason);
		r->failure_reason = rb_xstrdup("interrupted");
		return RB_STATUS_CANCELLED;
	}
	if (oc->reason == RB_END_CANCELLED) {
		rb_run_say(r, "%s cancelled after %s: an abort condition fired\n", n, d);
		return RB_STATUS_CANCELLED;
	}
	if (oc->reason == RB_END_TIMEOUT) {
		rb_run_say(r, "%s timed out after %s (stopped)\n", n, d);
		rb_run_step_error(r, s, "timed out after %s%s", d,
			   s->kind == RB_STEP_SQL ? "; the statement was cancelled on the server and rolled back" : "");
		return RB_STATUS_FAILED;
	}
	if (s->expect_error.value) {
		const char *want = s->expect_error.value;
		int matched = 0;
		if (oc->failed && s->kind == RB_STEP_SQL)
			matched = rb_sql_error_matches(want, oc->sqlstate, oc->message);
		else if (oc->failed)
			matched = strstr(oc->message ? oc->message : "", want) ||
				  strstr(oc->output ? oc->output : "", want) ||
				  (atoi(want) != 0 && atoi(want) == oc->exit_code);
		const char *code = oc->sqlstate && *oc->sqlstate ? oc->sqlstate : NULL;
		if (matched) {
			rb_run_say(r, "%s ok: failed as expected (%s%s%s) in %s\n", n, code ? code : "",
			    code ? ": " : "", want, d);
			return RB_STATUS_OK;
		}
		rb_run_say(r, "%s failed: expected an error matching '%s'\n", n, want);
		if (oc->failed)
			rb_run_step_error(r, s, "expected an error matching '%s', got %s%s%s", want,
				   code ? code : "", code ? ": " : "", oc->message ? oc->message : "");
		else
			rb_run_step_error(r, s, "expected an error matching '%s', but the step succeeded", want);
		return RB_STATUS_FAILED;
	}
	if (!oc->failed) {
		rb_run_say(r, "%s ok in %s\n", n, d);
		return RB_STATUS_OK;
	}
	if (s->kind == RB_STEP_SQL) {
		const char *code = oc->sqlstate && *oc->sqlstate ? oc->sqlstate : NULL;
		rb_run_say(r, "%s failed: %s%s in %s\n", n, code ? "SQLSTATE " : "error", code ? code : "", d);
		rb_run_step_error_in(r, s, oc->file, oc->line, oc->col, "ERROR%s%s: %s", code ? " " : "", code ? code : "",
			      oc->message ? oc->message : "failed");
		return RB_STATUS_FAILED;
	}
	rb_run_say(r, "%s failed: exit %d in %s\n", n, oc->exit_code, d);
	rb_run_step_error(r, s, "failed with exit code %d", oc->exit_code);
	return RB_STATUS_FAILED;
}

void rb_run_keep_text(char **dst, const char *src)
{
	free(*dst);
	*dst = rb_xstrdup(src ? src : "");
}
