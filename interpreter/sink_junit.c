/*
 * sink_junit.c - the run as a JUnit XML report (--junit FILE), for CI
 * systems that show test results: one <testsuite> for the run inside
 * <testsuites>, one <testcase> a runnable step of the main flow (those
 * never reached or not selected as <skipped>), one for each step of the
 * failure handler and each undo that ran, one for each abort condition
 * (it passes when it never fired). A failed or cancelled step carries a
 * <failure> whose message is file:line:col: text; earlier attempts of a
 * retried step are <rerunFailure> (or <flakyFailure> when a later attempt
 * succeeded); the failure's text ends with the last 4 KiB of the output as
 * it streamed, <system-out> holds the output the engine kept (at most the
 * last 64 KiB of it). The output conforms to the JUnit schema the Jenkins xunit
 * plugin validates with (tests/cli/junit/junit-10.xsd).
 *
 * What arrives is copied (event strings live for the call only) and the
 * file is written at the run's end: to a temporary file in the same
 * directory, then renamed over FILE, so that a killed run never leaves a
 * half-written report. Texts arrive redacted; they are made valid XML 1.0
 * here: control characters made visible as the record keeps them
 * (visible.h), bytes that are not UTF-8 replaced by U+FFFD.
 */
#define _GNU_SOURCE
#include "events.h"
#include "visible.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define JUNIT_OUTPUT_MAX (64 * 1024) /* the kept output of a step in <system-out> */
#define JUNIT_TAIL_MAX (4 * 1024)    /* the end of it in a <failure> */

/* One error of a step: where, what, in which attempt. */
typedef struct {
	char *where; /* "file:line:col" */
	char *text;
	int attempt;
} junit_error;

/* One test case: a step that started, was skipped, or an abort condition that was armed. */
typedef struct {
	const rb_step *step; /* into the runbook: read only until the run ends */
	rb_status status;    /* RB_STATUS_NOT_REACHED until it ends */
	int ended, fired, refused;
	int attempt;         /* the attempt running (1 + the retries said) */
	int attempts;        /* the attempts allowed (retry= + 1), from the retries said */
	int exit_code;
	int64_t duration_ms;
	char *sqlstate;
	char *why;           /* skipped: why; failed: the step's failure (step_end text) */
	char *result;        /* the last result line ("cancelled after 1s: ...") */
	char *output;        /* the kept output (step_end: the engine keeps its beginning) */
	rb_buf tail;         /* the end of the output as it streamed, of the last attempt */
	size_t tail_cut;     /* bytes of it dropped before the tail */
	junit_error *errors;
	size_t nerrors;
} junit_case;

typedef struct {
	rb_sink base;
	char *path;
	char *title;
	char *run_id;
	char *summary;
	char *guards_skipped; /* --skip-guards: the guards not checked, ", "-separated */
	int64_t start_ms, end_ms;
	int exit_code;
	int started, written;
	junit_case *cases;
	size_t ncases, cap;
	junit_error *run_errors; /* errors of the run itself (no step) */
	size_t nrun_errors;
	char *failure;           /* a write error, reported by close() */
} junit_sink;

/* --- XML text ------------------------------------------------------------ */

/* The length of the valid UTF-8 sequence at p (n bytes left) and its code point; 0 when invalid. */
static size_t utf8_char(const unsigned char *p, size_t n, uint32_t *cp)
{
	size_t len = p[0] < 0xC2 ? 0 : p[0] < 0xE0 ? 2 : p[0] < 0xF0 ? 3 : p[0] < 0xF5 ? 4 : 0;
	unsigned char lo = 0x80, hi = 0xBF;
	if (!len || len > n)
		return 0;
	if (p[0] == 0xE0)
		lo = 0xA0; /* overlong */
	else if (p[0] == 0xED)
		hi = 0x9F; /* surrogates */
	else if (p[0] == 0xF0)
		lo = 0x90; /* overlong */
	else if (p[0] == 0xF4)
		hi = 0x8F; /* above U+10FFFF */
	if (p[1] < lo || p[1] > hi)
		return 0;
	*cp = p[0] & (len == 2 ? 0x1F : len == 3 ? 0x0F : 0x07);
	for (size_t k = 1; k < len; k++) {
		if ((p[k] & 0xC0) != 0x80)
			return 0;
		*cp = (*cp << 6) | (p[k] & 0x3F);
	}
	return len;
}

/*
 * Appends s[0..n) to out as XML 1.0 character data (attr: an attribute
 * value in double quotes, where tab and newline are kept as references).
 * Control characters become visible escapes first (\e, \x0d); what XML
 * cannot hold after that, and bytes that are not UTF-8, become U+FFFD.
 */
static void xml_text(rb_buf *out, const char *s, size_t n, int attr)
{
	rb_buf vis = RB_BUF_INIT;
	rb_visible_into(s ? s : "", s ? n : 0, &vis);
	const unsigned char *p = (const unsigned char *)rb_buf_cstr(&vis);
	for (size_t i = 0; i < vis.len;) {
		unsigned char c = p[i];
		uint32_t cp = 0;
		size_t len = 1;
		if (c == '<')
			rb_buf_puts(out, "&lt;");
		else if (c == '>')
			rb_buf_puts(out, "&gt;");
		else if (c == '&')
			rb_buf_puts(out, "&amp;");
		else if (c == '"' && attr)
			rb_buf_puts(out, "&quot;");
		else if ((c == '\t' || c == '\n') && attr)
			rb_buf_puts(out, c == '\t' ? "&#9;" : "&#10;");
		else if (c == '\t' || c == '\n' || (c >= 0x20 && c < 0x80))
			rb_buf_putc(out, (char)c);
		else if (c < 0x80 || !(len = utf8_char(p + i, vis.len - i, &cp)) || cp == 0xFFFE || cp == 0xFFFF) {
			rb_buf_puts(out, "\xEF\xBF\xBD"); /* U+FFFD */
			len = len ? len : 1;
		} else
			rb_buf_add(out, (const char *)p + i, len);
		i += len;
	}
	rb_buf_free(&vis);
}

static void xml_str(rb_buf *out, const char *s, int attr)
{
	xml_text(out, s, s ? strlen(s) : 0, attr);
}

/* name="value" (escaped), with a leading space. */
static void xml_attr(rb_buf *out, const char *name, const char *value)
{
	rb_buf_printf(out, " %s=\"", name);
	xml_str(out, value, 1);
	rb_buf_putc(out, '"');
}

/* Where the last max bytes of s[0..n) start, on a character boundary. */
static size_t tail_start(const char *s, size_t n, size_t max)
{
	size_t from = n > max ? n - max : 0;
	while (from && from < n && ((unsigned char)s[from] & 0xC0) == 0x80)
		from++;
	return from;
}

/* The last max bytes of s[0..n), saying how many were cut before them (cut: already dropped). */
static void xml_tail(rb_buf *out, const char *s, size_t n, size_t max, size_t cut)
{
	size_t from = tail_start(s, n, max);
	if (from + cut)
		rb_buf_printf(out, "[... %zu bytes before these not shown]\n", from + cut);
	xml_text(out, s + from, n - from, 0);
}

/* Seconds with milliseconds: "0.123" (the schema's SUREFIRE_TIME). */
static void seconds(char *buf, size_t size, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	snprintf(buf, size, "%lld.%03lld", (long long)(ms / 1000), (long long)(ms % 1000));
}

/* --- collecting ---------------------------------------------------------- */

static void keep(char **dst, const char *src)
{
	free(*dst);
	*dst = src ? rb_xstrdup(src) : NULL;
}

static junit_case *new_case(junit_sink *j, const rb_step *s);

/* The case of step s that has not ended, else a new one. */
static junit_case *case_for(junit_sink *j, const rb_step *s)
{
	for (size_t i = j->ncases; i > 0; i--)
		if (j->cases[i - 1].step == s && !j->cases[i - 1].ended)
			return &j->cases[i - 1];
	return new_case(j, s);
}

/* The last case of step s, ended or not; NULL when it has none. */
static junit_case *last_case(const junit_sink *j, const rb_step *s)
{
	for (size_t i = j->ncases; i > 0; i--)
		if (j->cases[i - 1].step == s)
			return &j->cases[i - 1];
	return NULL;
}

/* The case an event about step s belongs to: the open one, else its last (an event after its end), else a new one. */
static junit_case *case_of(junit_sink *j, const rb_step *s)
{
	junit_case *c = last_case(j, s);
	return c ? c : new_case(j, s);
}

static junit_case *new_case(junit_sink *j, const rb_step *s)
{
	if (j->ncases == j->cap) {
		j->cap = j->cap ? 2 * j->cap : 16;
		j->cases = rb_xrealloc(j->cases, j->cap * sizeof *j->cases);
	}
	junit_case *c = &j->cases[j->ncases++];
	memset(c, 0, sizeof *c);
	c->step = s;
	c->attempt = 1;
	c->exit_code = -1;
	c->duration_ms = -1;
	return c;
}

/* An error event: file:line:col as the terminal says it (the step's fence when it has no position). */
static void add_error(junit_error **list, size_t *n, const rb_ev *ev, int attempt)
{
	const char *file = ev->file ? ev->file : ev->runbook->path;
	int line = ev->line, col = ev->col;
	if (!line && ev->step) {
		line = ev->step->line;
		col = ev->step->col;
	}
	*list = rb_xrealloc(*list, (*n + 1) * sizeof **list);
	junit_error *e = &(*list)[(*n)++];
	e->where = line ? rb_xasprintf("%s:%d:%d", file, line, col) : rb_xstrdup(file);
	e->text = rb_xstrdup(ev->text ? ev->text : "");
	e->attempt = attempt;
}

/* The end of a step's output as it streams: at most twice JUNIT_TAIL_MAX held. */
static void tail_add(junit_case *c, const char *data, size_t len)
{
	rb_buf_add(&c->tail, data, len);
	if (c->tail.len > 2 * JUNIT_TAIL_MAX) {
		size_t from = tail_start(c->tail.data, c->tail.len, JUNIT_TAIL_MAX);
		memmove(c->tail.data, c->tail.data + from, c->tail.len - from + 1);
		c->tail.len -= from;
		c->tail_cut += from;
	}
}

static void output_chunk(junit_sink *j, const rb_ev *ev)
{
	for (size_t i = j->ncases; ev->step && ev->len && i > 0; i--)
		if (j->cases[i - 1].step == ev->step) {
			if (!j->cases[i - 1].ended)
				tail_add(&j->cases[i - 1], ev->data, ev->len);
			break;
		}
}

static void step_ended(junit_sink *j, const rb_ev *ev)
{
	junit_case *c = case_of(j, ev->step);
	c->ended = 1;
	c->status = ev->status;
	c->exit_code = ev->exit_code;
	c->duration_ms = ev->duration_ms;
	keep(&c->sqlstate, ev->sqlstate && *ev->sqlstate ? ev->sqlstate : NULL);
	if (ev->status == RB_STATUS_FAILED || ev->status == RB_STATUS_CANCELLED)
		keep(&c->why, ev->text);
	keep(&c->output, ev->data && ev->len ? ev->data : NULL);
	if (ev->status == RB_STATUS_OK)
		rb_buf_free(&c->tail); /* only a failure shows it */
}

/* An abort condition fired: its case fails with the reason. */
static void abort_fired(junit_sink *j, const rb_step *s, const char *reason)
{
	junit_case *c;
	if (!s)
		return;
	c = case_of(j, s);
	c->fired = 1;
	keep(&c->why, reason);
}

static void on_step_event(junit_sink *j, const rb_ev *ev)
{
	int opens = ev->type == RB_EV_STEP_SKIPPED || ev->type == RB_EV_ABORT_ARMED;
	junit_case *c = opens ? case_for(j, ev->step) : case_of(j, ev->step);
	switch (ev->type) {
	case RB_EV_STEP_SKIPPED:
		c->ended = 1;
		c->status = RB_STATUS_SKIPPED;
		keep(&c->why, ev->text);
		break;
	case RB_EV_STEP_RESULT:
		keep(&c->result, ev->text);
		break;
	case RB_EV_RETRY:
		rb_buf_clear(&c->tail);
		c->tail_cut = 0;
		c->attempt = ev->attempt;
		c->attempts = ev->attempts;
		break;
	case RB_EV_GATE:
		c->refused |= ev->status != RB_STATUS_OK;
		break;
	case RB_EV_APPROVAL:
		c->refused |= !ev->approved;
		break;
	case RB_EV_ABORT_ARMED: /* it passes unless it fires */
		c->ended = 1;
		c->status = RB_STATUS_OK;
		break;
	case RB_EV_ERROR:
		add_error(&c->errors, &c->nerrors, ev, c->attempt);
		break;
	default:
		break;
	}
}

static int write_report(junit_sink *j, const rb_runbook *rb);

static void junit_event(rb_sink *self, const rb_ev *ev)
{
	junit_sink *j = (junit_sink *)self;
	switch (ev->type) {
	case RB_EV_RUN_START:
		j->started = 1;
		j->start_ms = ev->time_ms;
		keep(&j->title, ev->text ? ev->text : ev->runbook->title);
		keep(&j->run_id, ev->run_id);
		break;
	case RB_EV_RUN_END:
		j->end_ms = ev->time_ms;
		j->exit_code = ev->exit_code;
		keep(&j->summary, ev->text);
		if (j->started && !j->written)
			write_report(j, ev->runbook);
		break;
	case RB_EV_STEP_START:
		case_for(j, ev->step);
		break;
	case RB_EV_STEP_END:
		step_ended(j, ev);
		break;
	case RB_EV_STEP_OUTPUT:
		output_chunk(j, ev);
		break;
	case RB_EV_ABORT_FIRED:
		abort_fired(j, ev->step, ev->text);
		break;
	case RB_EV_HANDLER_END:
		if (ev->status != RB_STATUS_OK && ev->name)
			abort_fired(j, rb_runbook_find_step(ev->runbook, ev->name), ev->text);
		break;
	case RB_EV_APPROVAL:
		if (!ev->step && ev->approved && ev->text && !strcmp(ev->text, "--skip-guards"))
			keep(&j->guards_skipped, ev->name);
		else if (ev->step)
			on_step_event(j, ev);
		break;
	case RB_EV_ERROR:
		if (ev->step)
			on_step_event(j, ev);
		else
			add_error(&j->run_errors, &j->nrun_errors, ev, 0);
		break;
	case RB_EV_STEP_SKIPPED:
	case RB_EV_STEP_RESULT:
	case RB_EV_RETRY:
	case RB_EV_GATE:
	case RB_EV_ABORT_ARMED:
		if (ev->step)
			on_step_event(j, ev);
		break;
	default:
		break;
	}
}

/* --- the report ---------------------------------------------------------- */

/* What the report says of a step: passed, failed, skipped (why). */
typedef struct {
	const rb_step *step;
	const junit_case *c; /* NULL: never seen */
	const char *skipped; /* the message of <skipped>, or NULL */
	char *owned;         /* skipped, when built */
	int failed;
} junit_row;

/* The step the run stopped at, for "not reached" (the last step of the main flow that failed). */
static char *stop_reason(const junit_sink *j)
{
	for (size_t i = j->ncases; i > 0; i--) {
		const junit_case *c = &j->cases[i - 1];
		if (c->fired && c->step->role == RB_ROLE_MAIN)
			return rb_xasprintf("not reached: abort condition '%s' fired (exit %d)", c->step->id, j->exit_code);
	}
	for (size_t i = j->ncases; i > 0; i--) {
		const junit_case *c = &j->cases[i - 1];
		if (c->step->role == RB_ROLE_MAIN &&
		    (c->status == RB_STATUS_FAILED || c->status == RB_STATUS_CANCELLED))
			return rb_xasprintf("not reached: the run stopped at '%s' (exit %d)", c->step->id, j->exit_code);
	}
	return rb_xasprintf("not reached: the run stopped before it (exit %d)", j->exit_code);
}

/* 1 when id is in the ", "-separated list. */
static int listed(const char *list, const char *id)
{
	size_t n = strlen(id);
	for (const char *p = list; p && (p = strstr(p, id)) != NULL; p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ',' || p[n] == '\0'))
			return 1;
	return 0;
}

/*
 * Why a step of the main flow that never showed up did not run: before a
 * step that ran, it was outside the selection (--from/--only); after the
 * last one, the run stopped (or, when it succeeded, --only left it out).
 */
static const char *unseen_why(const junit_sink *j, const rb_runbook *rb, size_t i, char **owned)
{
	if (listed(j->guards_skipped, rb->steps[i].id))
		return "not checked (--skip-guards)";
	for (size_t k = i + 1; k < rb->nsteps; k++)
		if (rb->steps[k].role == RB_ROLE_MAIN && last_case(j, &rb->steps[k]))
			return "not selected (--from/--only)";
	if (j->exit_code == RB_EXIT_OK)
		return "not selected (--only)";
	*owned = stop_reason(j);
	return *owned;
}

static int case_failed(const junit_case *c)
{
	return c->fired || c->status == RB_STATUS_FAILED || c->status == RB_STATUS_CANCELLED;
}

/* The rows: the main flow in document order, then handler and undo steps as they ran. */
static junit_row *make_rows(junit_sink *j, const rb_runbook *rb, size_t *n)
{
	junit_row *rows = rb_xcalloc(rb->nsteps + j->ncases + 1, sizeof *rows);
	*n = 0;
	for (size_t i = 0; i < rb->nsteps; i++) {
		const rb_step *s = &rb->steps[i];
		if (s->role != RB_ROLE_MAIN || !rb_step_runnable(s))
			continue;
		junit_row *r = &rows[(*n)++];
		r->step = s;
		r->c = last_case(j, s);
		if (!r->c)
			r->skipped = unseen_why(j, rb, i, &r->owned);
		else if (r->c->status == RB_STATUS_SKIPPED && !r->c->fired)
			r->skipped = r->c->why ? r->c->why : "skipped";
		else if (!r->c->ended) /* started, never ended: the run was stopped around it */
			r->failed = 1;
		else
			r->failed = case_failed(r->c);
	}
	for (size_t i = 0; i < j->ncases; i++) {
		const junit_case *c = &j->cases[i];
		if (c->step->role == RB_ROLE_MAIN || c->step->kind == RB_STEP_DOC)
			continue;
		junit_row *r = &rows[(*n)++];
		r->step = c->step;
		r->c = c;
		if (c->status == RB_STATUS_SKIPPED)
			r->skipped = c->why ? c->why : "skipped";
		else
			r->failed = !c->ended || case_failed(c);
	}
	return rows;
}

/*
 * classname: the runbook's title (with the role when not the main flow) and
 * the section path, less its first heading when that is the title itself.
 */
static void classname(rb_buf *out, const junit_sink *j, const rb_runbook *rb, const rb_step *s)
{
	static const char sep[] = " \xe2\x80\xba ";
	rb_buf b = RB_BUF_INIT, path = RB_BUF_INIT;
	size_t tn = strlen(rb->title);
	const char *p;
	rb_section_path(rb, s->section, &path);
	p = rb_buf_cstr(&path);
	if (!strncmp(p, rb->title, tn) && (!p[tn] || !strncmp(p + tn, sep, sizeof sep - 1)))
		p += p[tn] ? tn + sizeof sep - 1 : tn;
	rb_buf_puts(&b, j->title ? j->title : rb->title);
	if (s->role == RB_ROLE_ON_FAILURE)
		rb_buf_puts(&b, " (on failure)");
	else if (s->role == RB_ROLE_UNDO)
		rb_buf_puts(&b, " (undo)");
	if (*p)
		rb_buf_printf(&b, "%s%s", sep, p);
	xml_attr(out, "classname", rb_buf_cstr(&b));
	rb_buf_free(&b);
	rb_buf_free(&path);
}

/* One "file:line:col: text" line an error. */
static void error_lines(rb_buf *out, const junit_error *list, size_t n, int attempt)
{
	for (size_t k = 0; k < n; k++)
		if (attempt < 0 || list[k].attempt == attempt) {
			xml_str(out, list[k].where, 0);
			rb_buf_puts(out, ": ");
			xml_str(out, list[k].text, 0);
			rb_buf_putc(out, '\n');
		}
}

/* The failure's type: cancelled, refused (a gate or an approval said no), SQLSTATE, exit N, or failed. */
static const char *failure_type(const junit_case *c, char *buf, size_t size)
{
	if (c->fired)
		return "abort";
	if (c->status == RB_STATUS_CANCELLED || !c->ended)
		return "cancelled";
	if (c->refused)
		return "refused";
	if (c->sqlstate)
		snprintf(buf, size, "SQLSTATE %s", c->sqlstate);
	else if (c->exit_code > 0)
		snprintf(buf, size, "exit %d", c->exit_code);
	else
		return "failed";
	return buf;
}

/* The failure's message: file:line:col: text, from the last error of the last attempt. */
static char *failure_message(const junit_case *c, const char *path)
{
	const junit_error *last = NULL;
	for (size_t k = 0; k < c->nerrors; k++)
		if (c->errors[k].attempt == c->attempt)
			last = &c->errors[k];
	if (c->fired)
		return rb_xasprintf("%s:%d:%d: abort condition '%s' fired: %s", path, c->step->line, c->step->col,
				    c->step->id, c->why ? c->why : "");
	if (last)
		return rb_xasprintf("%s: %s", last->where, last->text);
	const char *text = c->why ? c->why : c->result ? c->result : !c->ended ? "the run stopped while it ran" : "failed";
	return rb_xasprintf("%s:%d:%d: %s", path, c->step->line, c->step->col, text);
}

/* <failure>: the message, then every error of the last attempt and the end of the output. */
static void failure_element(rb_buf *out, const junit_case *c, const char *path)
{
	char tbuf[64];
	char *msg = failure_message(c, path);
	rb_buf_puts(out, "      <failure");
	xml_attr(out, "message", msg);
	xml_attr(out, "type", failure_type(c, tbuf, sizeof tbuf));
	rb_buf_puts(out, ">");
	error_lines(out, c->errors, c->nerrors, c->attempt);
	if (c->nerrors == 0) {
		xml_str(out, msg, 0);
		rb_buf_putc(out, '\n');
	}
	if (c->tail.len || (c->output && *c->output)) {
		rb_buf_puts(out, "--- output (the end)\n");
		if (c->tail.len)
			xml_tail(out, c->tail.data, c->tail.len, JUNIT_TAIL_MAX, c->tail_cut);
		else
			xml_tail(out, c->output, strlen(c->output), JUNIT_TAIL_MAX, 0);
		if (out->data[out->len - 1] != '\n')
			rb_buf_putc(out, '\n');
	}
	rb_buf_puts(out, "</failure>\n");
	free(msg);
}

/* The attempts before the last of a retried step: <rerunFailure>, or <flakyFailure> when it passed in the end. */
static void earlier_attempts(rb_buf *out, const junit_case *c, int passed)
{
	const char *tag = passed ? "flakyFailure" : "rerunFailure";
	for (int a = 1; a < c->attempt; a++) {
		rb_buf msg = RB_BUF_INIT, body = RB_BUF_INIT;
		for (size_t k = 0; k < c->nerrors; k++) {
			const junit_error *e = &c->errors[k];
			if (e->attempt != a)
				continue;
			rb_buf_printf(&body, "%s: %s\n", e->where, e->text);
			rb_buf_clear(&msg);
			rb_buf_printf(&msg, "attempt %d of %d: %s: %s", a, c->attempts, e->where, e->text);
		}
		if (!msg.len)
			rb_buf_printf(&msg, "attempt %d of %d failed", a, c->attempts);
		rb_buf_printf(out, "      <%s", tag);
		xml_attr(out, "message", msg.data);
		xml_attr(out, "type", "failed");
		rb_buf_puts(out, ">");
		xml_str(out, body.data, 0);
		rb_buf_printf(out, "</%s>\n", tag);
		rb_buf_free(&msg);
		rb_buf_free(&body);
	}
}

static void skipped_element(rb_buf *out, const junit_row *r)
{
	rb_buf_puts(out, "      <skipped");
	xml_attr(out, "message", r->skipped);
	if (r->c && r->c->nerrors) { /* when= could not be evaluated */
		rb_buf_puts(out, ">");
		error_lines(out, r->c->errors, r->c->nerrors, -1);
		rb_buf_puts(out, "</skipped>\n");
	} else {
		rb_buf_puts(out, "/>\n");
	}
}

static void testcase(rb_buf *out, const junit_sink *j, const rb_runbook *rb, const junit_row *r)
{
	char t[48];
	seconds(t, sizeof t, r->c && !r->skipped ? r->c->duration_ms : 0);
	rb_buf_puts(out, "    <testcase");
	xml_attr(out, "name", r->step->id);
	classname(out, j, rb, r->step);
	rb_buf_printf(out, " time=\"%s\">\n", t);
	if (r->skipped)
		skipped_element(out, r);
	else if (r->failed)
		failure_element(out, r->c, rb->path);
	if (r->c && !r->skipped && r->c->attempt > 1)
		earlier_attempts(out, r->c, !r->failed);
	if (r->c && r->c->output && *r->c->output) {
		rb_buf_puts(out, "      <system-out>");
		xml_tail(out, r->c->output, strlen(r->c->output), JUNIT_OUTPUT_MAX, 0);
		rb_buf_puts(out, "</system-out>\n");
	}
	rb_buf_puts(out, "    </testcase>\n");
}

/* A run that failed where no step did (setup, the database, an interrupt between steps): one <error>. */
static void run_error_case(rb_buf *out, const junit_sink *j)
{
	const junit_error *last = j->nrun_errors ? &j->run_errors[j->nrun_errors - 1] : NULL;
	char *msg = last ? rb_xasprintf("%s: %s", last->where, last->text)
			 : rb_xasprintf("%s", j->summary ? j->summary : "the run failed");
	char type[32];
	snprintf(type, sizeof type, "exit %d", j->exit_code);
	rb_buf_puts(out, "    <testcase name=\"(run)\"");
	xml_attr(out, "classname", j->title);
	rb_buf_puts(out, " time=\"0.000\">\n      <error");
	xml_attr(out, "message", msg);
	xml_attr(out, "type", type);
	rb_buf_puts(out, ">");
	error_lines(out, j->run_errors, j->nrun_errors, -1);
	if (j->summary) {
		xml_str(out, j->summary, 0);
		rb_buf_putc(out, '\n');
	}
	rb_buf_puts(out, "</error>\n    </testcase>\n");
	free(msg);
}

static void property(rb_buf *out, const char *name, const char *value)
{
	if (!value)
		return;
	rb_buf_puts(out, "      <property");
	xml_attr(out, "name", name);
	xml_attr(out, "value", value);
	rb_buf_puts(out, "/>\n");
}

/* <testsuite ...> and its properties, with the counts. */
static void suite_head(rb_buf *out, const junit_sink *j, const rb_runbook *rb, size_t tests, size_t failures,
		       size_t errors, size_t skipped)
{
	char t[48], stamp[32] = "", host[256] = "", code[16];
	time_t secs = (time_t)(j->start_ms / 1000);
	struct tm tm;
	seconds(t, sizeof t, j->end_ms - j->start_ms);
	if (gmtime_r(&secs, &tm))
		strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (gethostname(host, sizeof host - 1) < 0)
		host[0] = '\0';
	snprintf(code, sizeof code, "%d", j->exit_code);
	rb_buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites");
	xml_attr(out, "name", j->title);
	rb_buf_printf(out, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" time=\"%s\">\n  <testsuite", tests, failures,
		      errors, t);
	xml_attr(out, "name", j->title);
	rb_buf_printf(out, " tests=\"%zu\" failures=\"%zu\" errors=\"%zu\" skipped=\"%zu\" time=\"%s\"", tests, failures,
		      errors, skipped, t);
	xml_attr(out, "timestamp", stamp);
	if (*host)
		xml_attr(out, "hostname", host);
	xml_attr(out, "file", rb->path);
	rb_buf_puts(out, ">\n    <properties>\n");
	property(out, "runbook", rb->path);
	property(out, "run_id", j->run_id);
	property(out, "exit_code", code);
	property(out, "summary", j->summary);
	rb_buf_puts(out, "    </properties>\n");
}

/* The whole document. */
static void render(rb_buf *out, junit_sink *j, const rb_runbook *rb)
{
	size_t n, failures = 0, skipped = 0, errors, main_failures = 0;
	junit_row *rows = make_rows(j, rb, &n);
	for (size_t i = 0; i < n; i++) {
		failures += rows[i].failed && !rows[i].skipped;
		main_failures += rows[i].failed && !rows[i].skipped && rows[i].step->role != RB_ROLE_ON_FAILURE;
		skipped += rows[i].skipped != NULL;
	}
	/* A run that failed where no step of its own did: the reason as an <error>. */
	errors = j->exit_code != RB_EXIT_OK && main_failures == 0;
	suite_head(out, j, rb, n + errors, failures, errors, skipped);
	for (size_t i = 0; i < n; i++)
		testcase(out, j, rb, &rows[i]);
	if (errors)
		run_error_case(out, j);
	else if (j->nrun_errors) {
		rb_buf_puts(out, "    <system-err>");
		error_lines(out, j->run_errors, j->nrun_errors, -1);
		rb_buf_puts(out, "</system-err>\n");
	}
	rb_buf_puts(out, "  </testsuite>\n</testsuites>\n");
	for (size_t i = 0; i < n; i++)
		free(rows[i].owned);
	free(rows);
}

/* --- the file ------------------------------------------------------------ */

/* Writes the report, whole or not at all (util.h). 0, or -1 with j->failure. */
static int write_report(junit_sink *j, const rb_runbook *rb)
{
	rb_buf doc = RB_BUF_INIT;
	rb_error err = RB_ERROR_INIT;
	int rc = 0;
	j->written = 1;
	render(&doc, j, rb);
	if (rb_write_file_atomic(j->path, doc.data, doc.len, &err) < 0) {
		j->failure = rb_xstrdup(err.message);
		rc = -1;
	}
	rb_error_clear(&err);
	rb_buf_free(&doc);
	return rc;
}

static void free_errors(junit_error *list, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		free(list[k].where);
		free(list[k].text);
	}
	free(list);
}

static int junit_close(rb_sink *self, rb_error *err)
{
	junit_sink *j = (junit_sink *)self;
	int rc = 0;
	if (j->failure)
		rc = rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "--junit: %s", j->failure);
	for (size_t i = 0; i < j->ncases; i++) {
		junit_case *c = &j->cases[i];
		free(c->sqlstate);
		free(c->why);
		free(c->result);
		free(c->output);
		rb_buf_free(&c->tail);
		free_errors(c->errors, c->nerrors);
	}
	free(j->cases);
	free_errors(j->run_errors, j->nrun_errors);
	free(j->path);
	free(j->title);
	free(j->run_id);
	free(j->summary);
	free(j->guards_skipped);
	free(j->failure);
	free(j);
	return rc;
}

rb_sink *rb_sink_junit_new(const char *path, rb_error *err)
{
	junit_sink *j;
	if (!path || rb_check_creatable(path, err) < 0) {
		if (!path)
			rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "no file name given");
		return NULL;
	}
	j = rb_xcalloc(1, sizeof *j);
	j->base.name = "junit";
	j->base.wants = RB_SINK_OUTPUT;
	j->base.event = junit_event;
	j->base.close = junit_close;
	j->path = rb_xstrdup(path);
	j->exit_code = RB_EXIT_OK;
	return &j->base;
}
