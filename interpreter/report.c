/*
 * report.c - the HTML report of a run: one self-contained page made from
 * the run's record and the runbook's text (report.h).
 *
 * The page has four parts, in this order: the header (what ran, who, where,
 * when, how it ended), the timeline (one bar a step that started, on a time
 * axis), the document (the runbook rendered by cmark in safe mode, each
 * executable block wrapped in a custom block that carries its decoration),
 * and the steps of the record that have no block in the document. Every
 * text from the record or the document is HTML-escaped here or by cmark;
 * cmark's custom blocks are the only place raw HTML enters the tree, and
 * that HTML is built here from escaped parts. A Content-Security-Policy
 * forbids fetching anything and any script but the page's own.
 *
 * Markup contract (stable, for tests and for people who style the page):
 *
 *   <html data-format="runbook-report/1">
 *   header.run              data-result="RESULT" (the record's words, e.g.
 *                           "succeeded"), data-exit="CODE" ("none": never
 *                           finished); inside: .run-title, .run-outcome,
 *                           dl.run-facts with one dd per fact, each of
 *                           class run-FACT: run-id, run-operator, run-host,
 *                           run-start, run-end, run-duration, run-result,
 *                           run-exit (code and meaning), run-commit
 *                           (the audit commit), run-runbook, run-hash,
 *                           run-includes, run-repo-commit, run-resumes,
 *                           run-command; p.run-abort (an abort condition
 *                           fired), p.source-changed (the document is not
 *                           the one that ran), p.source-unknown (no
 *                           document), details.run-vars, .run-databases,
 *                           .run-notes (one li per event)
 *   section#timeline        the time axis; data-timed="at" (bars placed by
 *                           the events' times) or "duration" (an older
 *                           record: laid out end to end by duration)
 *     .tl-axis              the ticks (.tl-tick), before the rows
 *     .tl-row               one per step that started, in record order
 *     a.tl-bar              the bar: data-step="ID", data-status="STATUS",
 *                           data-role="main|on_failure|undo|manual",
 *                           data-kind="shell|sql|lua|gate|approval",
 *                           data-attempts="N"; href="#step-K" (the step in
 *                           the document); classes tl-role-ROLE, and
 *                           tl-gate for gates (a diamond at its end)
 *     .tl-try               one per attempt inside a bar (at most 50)
 *     .tl-attempts          the "×N" label of a retried step
 *     .tl-approval          an approval's mark: data-step, data-approved="yes|no"
 *     .tl-abort             an abort condition's mark: data-step (the condition)
 *   main#document           the runbook rendered (class document)
 *     .front-matter         the front matter, in a <details>
 *     section.step          one per step, in #document or #unplaced, never
 *                           both and never twice: id="step-K",
 *                           data-step="ID", data-status="STATUS",
 *                           data-kind, data-role, data-undoes="ID" (an
 *                           undo block); the code block (or task list) is
 *                           inside it, after .step-head
 *       .step-head          .badge.st-STATUS, .step-number, .step-id,
 *                           .step-kind, .step-role, .step-duration,
 *                           .step-attempts, .step-exit (with its meaning)
 *                           or .step-sqlstate, .step-at (+time from start)
 *       .step-reason        why it did not run (not-reached, skipped)
 *       .step-moved         it ran from another line (a changed document)
 *       .step-message       the error or result message
 *       .step-gate          a gate's message
 *       .step-abort         an abort condition's reason, when it fired
 *       ul.step-approvals   li.approval: data-approved="yes|no",
 *                           .approval-item, .approval-who,
 *                           .approval-how (terminal, --yes, ...), .approval-at
 *       .step-capture       captured variable and value
 *       details.step-output the kept output: pre.output (ANSI sequences
 *                           stripped, control characters as \xNN, at most
 *                           RB_REPORT_OUTPUT_SHOWN bytes of markup: head and
 *                           tail, .output-cut between them saying what was
 *                           left out); open when the step failed
 *       details.step-doc-output  a transcript's documented output
 *   section#unplaced        the record's steps without a block in the
 *                           document (class unplaced), as section.step,
 *                           each with p.step-where (its line and section)
 *
 *   STATUS is one of: ok, failed, cancelled, skipped, interrupted (started,
 *   never ended), not-reached, fired / armed (abort conditions); it is also
 *   a class (st-STATUS) of the bar and of the wrapper. Outside #timeline,
 *   data-step is on section.step only: `#document [data-step="ID"],
 *   #unplaced [data-step="ID"]` finds each step exactly once. Values are
 *   the record's, escaped, with hidden characters made visible (visible.h).
 */
#define _GNU_SOURCE
#include "report.h"
#include "frontmatter.h"
#include "gitstore.h"
#include "parse.h"
#include "visible.h"

#include <cmark.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/** Bytes of markup shown of one message (an error, a gate's, a captured value). */
#define MESSAGE_SHOWN 4096
/** Bytes of one header value or label. */
#define VALUE_SHOWN 1024
/** Segments drawn in a retried step's bar. */
#define TRIES_DRAWN 50

/* One step of the record: a "step" event and its "end" (either may be missing). */
typedef struct {
	const rb_event *start; /* NULL: ended without starting (not run) */
	const rb_event *end;   /* NULL: never ended (interrupted) */
	const char *id;
	int line;
	int anchor;            /* K of id="step-K"; -1 until given */
	int placed;            /* has a block in the document */
	int latest;            /* the first entry of an id: index of the id's last entry */
	int64_t t_start, t_end; /* ms from the timeline's origin */
} run_step;

/* The report being built. */
typedef struct {
	const rb_record *rec;
	const char *commit;
	run_step *steps;       /* record order */
	size_t n;
	rb_strset ids;         /* id -> index of its first entry in steps */
	char *src;             /* the redacted source, NULL when unknown */
	size_t src_len;
	rb_runbook *rb;        /* the source parsed, NULL when unknown or unreadable */
	int anchors;           /* next K */
	int timed;             /* bars placed by `at` times */
	int64_t origin;        /* wall ms of the timeline's 0 (timed) */
	int64_t span;          /* ms the axis covers */
} report;

static const char *or(const char *v, const char *dflt)
{
	return v && *v ? v : dflt;
}

/* The value of key in e; NULL also when there is no e (a step that never started, or never ended). */
static const char *get(const rb_event *e, const char *key)
{
	return e ? rb_event_get(e, key) : NULL;
}

/* --- escaping ------------------------------------------------------------ */

static size_t esc_len(unsigned char c)
{
	switch (c) {
	case '&': return 5;
	case '<': case '>': return 4;
	case '"': return 6;
	case '\'': return 5;
	default: return 1;
	}
}

/* Appends s[0..n) with & < > " ' escaped, for text and attribute values alike. */
static void esc_n(rb_buf *b, const char *s, size_t n)
{
	size_t from = 0;
	for (size_t i = 0; i < n; i++) {
		const char *rep;
		switch (s[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default: continue;
		}
		rb_buf_add(b, s + from, i - from);
		rb_buf_puts(b, rep);
		from = i + 1;
	}
	rb_buf_add(b, s + from, n - from);
}

static void esc(rb_buf *b, const char *s)
{
	if (s)
		esc_n(b, s, strlen(s));
}

/* A value from the record as one visible line of at most VALUE_SHOWN bytes, escaped. */
static void esc_line(rb_buf *b, const char *s, size_t max)
{
	char *one = rb_record_one_line(s, max);
	esc(b, one);
	free(one);
}

/* A word for data- attributes and class names: lower-case letters, digits, '-' and '_'. */
static void token(rb_buf *b, const char *s)
{
	size_t n = 0;
	for (; s && *s && n < 40; s++, n++) {
		char c = *s;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		rb_buf_putc(b, (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ? c : '-');
	}
	if (!n)
		rb_buf_puts(b, "unknown");
}

/* --- text of steps: output, messages ---------------------------------------- */

/* Length of the ANSI escape sequence at p (p[0] is ESC), at most up to end. */
static size_t ansi_len(const char *p, const char *end)
{
	const char *q = p + 1;
	if (q >= end)
		return 1;
	if (*q == '[') { /* CSI: parameters, intermediates, a final byte */
		for (q++; q < end && (unsigned char)*q >= 0x20 && (unsigned char)*q <= 0x3f; q++)
			;
		if (q < end && (unsigned char)*q >= 0x40 && (unsigned char)*q <= 0x7e)
			q++;
		return (size_t)(q - p);
	}
	if (*q == ']' || *q == 'P' || *q == 'X' || *q == '^' || *q == '_') { /* strings: to BEL or ESC \ */
		for (q++; q < end; q++) {
			if (*q == '\a')
				return (size_t)(q + 1 - p);
			if (*q == 0x1b && q + 1 < end && q[1] == '\\')
				return (size_t)(q + 2 - p);
		}
		return (size_t)(end - p);
	}
	while (q < end && (unsigned char)*q >= 0x20 && (unsigned char)*q <= 0x2f)
		q++; /* intermediates, then one final byte */
	return (size_t)((q < end ? q + 1 : q) - p);
}

/* Length of the valid UTF-8 character at p, or 0 when the byte starts none. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
	size_t n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
	if (n == 0 || (size_t)(end - p) < n || (n == 2 && *p < 0xc2))
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/*
 * Output as it can be shown: ANSI escape sequences removed, CR LF as LF,
 * bytes that are not UTF-8 as U+FFFD, other control characters (and
 * bidirectional controls) as visible escapes (visible.h).
 */
static void clean_text(const char *s, rb_buf *out)
{
	rb_buf raw = RB_BUF_INIT;
	const char *end = s + strlen(s);
	for (const char *p = s; p < end;) {
		size_t n;
		if (*p == 0x1b) {
			p += ansi_len(p, end);
		} else if (*p == '\r' && p + 1 < end && p[1] == '\n') {
			p++;
		} else if ((n = utf8_len((const unsigned char *)p, (const unsigned char *)end)) == 0) {
			rb_buf_puts(&raw, "\xef\xbf\xbd");
			p++;
		} else {
			rb_buf_add(&raw, p, n);
			p += n;
		}
	}
	rb_visible_into(raw.data ? raw.data : "", raw.len, out);
	rb_buf_free(&raw);
}

/* Where to cut text[0..len) so that its head escapes to at most max bytes: a character or line boundary. */
static size_t head_cut(const char *t, size_t len, size_t max)
{
	size_t acc = 0, i = 0;
	while (i < len && acc + esc_len((unsigned char)t[i]) <= max)
		acc += esc_len((unsigned char)t[i++]);
	while (i > 0 && i < len && ((unsigned char)t[i] & 0xc0) == 0x80)
		i--;
	for (size_t k = i; k > 0 && i - k < 512; k--)
		if (t[k - 1] == '\n')
			return k;
	return i;
}

/* Where the tail that escapes to at most max bytes starts. */
static size_t tail_cut(const char *t, size_t len, size_t max)
{
	size_t acc = 0, i = len;
	while (i > 0 && acc + esc_len((unsigned char)t[i - 1]) <= max)
		acc += esc_len((unsigned char)t[--i]);
	while (i < len && ((unsigned char)t[i] & 0xc0) == 0x80)
		i++;
	for (size_t k = i; k < len && k - i < 512; k++)
		if (t[k] == '\n' && k + 1 < len)
			return k + 1;
	return i;
}

/* Appends text, escaped, as at most max bytes: its head and its tail, a note of what is left out between. */
static void bounded(rb_buf *b, const char *text, size_t max)
{
	rb_buf clean = RB_BUF_INIT;
	clean_text(text, &clean);
	const char *t = clean.data ? clean.data : "";
	size_t len = clean.len, total = 0;
	for (size_t i = 0; i < len; i++)
		total += esc_len((unsigned char)t[i]);
	if (total <= max) {
		esc_n(b, t, len);
	} else {
		size_t h = head_cut(t, len, max / 2), s = tail_cut(t, len, max / 2);
		size_t lines = 0;
		if (s < h)
			s = h;
		for (size_t i = h; i < s; i++)
			lines += t[i] == '\n';
		esc_n(b, t, h);
		rb_buf_printf(b, "<span class=\"output-cut\">[... %zu bytes (%zu lines) left out here ...]</span>\n",
			      s - h, lines);
		esc_n(b, t + s, len - s);
	}
	rb_buf_free(&clean);
}

/* --- times --------------------------------------------------------------- */

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* "2026-11-30T15:51:30.123Z" or "2026-11-30T15:51:30Z" as ms since the epoch; -1 when it is neither. */
static int parse_iso(const char *s, int64_t *ms)
{
	int y, mo, d, h, mi, sec, n = 0, frac = 0, digits = 0;
	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 || mo < 1 ||
	    mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return -1;
	const char *p = s + n;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (digits < 3)
				frac = frac * 10 + (*p - '0');
	for (int k = digits; k < 3; k++)
		frac *= 10;
	if (*p != 'Z' || p[1])
		return -1;
	*ms = ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60000 + (int64_t)sec * 1000 + frac;
	return 0;
}

static int64_t event_time(const rb_event *e, const char *key)
{
	int64_t ms;
	return e && parse_iso(get(e, key), &ms) == 0 ? ms : -1;
}

static int64_t duration_of(const rb_event *e, const char *key)
{
	int64_t ms;
	return e && rb_parse_duration(get(e, key), &ms) == 0 ? ms : -1;
}

/* ms as "+1.234s" into buf. */
static const char *offset_text(int64_t ms, char *buf, size_t size)
{
	char d[32];
	rb_format_duration(ms < 0 ? 0 : ms, d, sizeof d);
	snprintf(buf, size, "+%s", d);
	return buf;
}

/* --- the record's steps --------------------------------------------------- */

static const rb_event *find_end(const rb_record *rec, size_t from, const char *id)
{
	for (size_t i = from; i < rec->count; i++) {
		const rb_event *e = &rec->events[i];
		if (!strcmp(e->type, "step") && !strcmp(or(get(e, "id"), ""), id))
			return NULL; /* it started again: that start's end */
		if (!strcmp(e->type, "end") && !strcmp(or(get(e, "id"), ""), id))
			return e;
	}
	return NULL;
}

/* The record's last entry for step id, or NULL. */
static run_step *last_of(report *r, const char *id)
{
	int first = rb_strset_get(&r->ids, id);
	return first < 0 ? NULL : &r->steps[r->steps[first].latest];
}

/* The steps of the record: each start with its end, then ends that had no start. */
static void collect_steps(report *r)
{
	const rb_record *rec = r->rec;
	r->steps = rb_xcalloc(rec->count + 1, sizeof *r->steps);
	for (size_t i = 0; i < rec->count; i++) {
		const rb_event *e = &rec->events[i];
		int start = !strcmp(e->type, "step");
		if (!start && strcmp(e->type, "end"))
			continue;
		const char *id = or(get(e, "id"), "?");
		if (!start) {
			run_step *owner = last_of(r, id); /* an end follows its start */
			if (owner && owner->end && get(e, "background"))
				owner->end = e; /* a background step's result, at the end of the run, replaces its start's end */
			if (owner && owner->end == e)
				continue;
		}
		run_step *s = &r->steps[r->n];
		s->start = start ? e : NULL;
		s->end = start ? find_end(rec, i + 1, id) : e;
		s->id = id;
		s->line = start ? atoi(or(get(e, "line"), "0")) : 0;
		s->anchor = -1;
		int first = rb_strset_get(&r->ids, id);
		if (first < 0)
			rb_strset_add(&r->ids, id, (int)r->n);
		r->steps[first < 0 ? r->n : (size_t)first].latest = (int)r->n;
		r->n++;
	}
}

/* The data-status of a record entry, into buf (at least 48 bytes). */
static const char *status_of(const run_step *s, char *buf, size_t size)
{
	rb_buf b = RB_BUF_INIT;
	if (!s->end)
		rb_buf_puts(&b, "interrupted");
	else
		token(&b, or(get(s->end, "status"), "unknown"));
	snprintf(buf, size, "%s", b.data);
	rb_buf_free(&b);
	return buf;
}

/* The last event of type, or NULL. */
static const rb_event *last_event(const rb_record *rec, const char *type)
{
	for (size_t i = rec->count; i-- > 0;)
		if (!strcmp(rec->events[i].type, type))
			return &rec->events[i];
	return NULL;
}

/* The latest time any event of the record names, or -1. */
static int64_t latest_time(const report *r)
{
	int64_t t = event_time(last_event(r->rec, "finish"), "end");
	for (size_t i = 0; i < r->rec->count; i++) {
		int64_t at = event_time(&r->rec->events[i], "at");
		if (at > t)
			t = at;
	}
	return t;
}

/*
 * The timeline's origin: the run's start (whole seconds in the record), or
 * later when the run's duration says it began later (the end less the
 * duration), never after the first step.
 */
static int64_t timeline_origin(const report *r, int64_t first, int64_t latest)
{
	int64_t origin = event_time(last_event(r->rec, "run"), "start");
	int64_t total = duration_of(last_event(r->rec, "finish"), "duration");
	if (origin < 0 || origin > first || first - origin > 86400000)
		origin = first;
	if (total >= 0 && latest - total > origin)
		origin = latest - total;
	return origin > first ? first : origin;
}

/* Places the started steps on the axis: by their `at` times when each has one, else end to end by duration. */
static void lay_out(report *r)
{
	int64_t first = -1, latest = latest_time(r), cursor = 0;
	size_t started = 0;
	r->timed = 1;
	for (size_t k = 0; k < r->n; k++) {
		int64_t at = event_time(r->steps[k].start, "at");
		if (!r->steps[k].start)
			continue;
		started++;
		if (at < 0)
			r->timed = 0;
		else if (first < 0 || at < first)
			first = at;
	}
	r->timed = r->timed && started > 0;
	if (r->timed)
		r->origin = timeline_origin(r, first, latest);
	r->span = r->timed ? latest - r->origin : duration_of(last_event(r->rec, "finish"), "duration");
	for (size_t k = 0; k < r->n; k++) {
		run_step *s = &r->steps[k];
		int64_t d = duration_of(s->end, "duration");
		if (!s->start)
			continue;
		if (r->timed) {
			int64_t end = event_time(s->end, "at");
			s->t_start = event_time(s->start, "at") - r->origin;
			s->t_end = end >= 0 ? end - r->origin : s->end ? s->t_start + (d > 0 ? d : 0) : -1;
		} else {
			s->t_start = cursor;
			s->t_end = cursor + (d > 0 ? d : 0);
			cursor = s->t_end;
		}
		if (s->t_end > r->span)
			r->span = s->t_end;
	}
	if (r->span < 1)
		r->span = 1;
	for (size_t k = 0; k < r->n; k++)
		if (r->steps[k].start && r->steps[k].t_end < 0)
			r->steps[k].t_end = r->span; /* never ended: to the end of the axis */
}

/* --- the header ------------------------------------------------------------ */

static const char *signal_name(int sig)
{
	switch (sig) {
	case 1: return "SIGHUP";
	case 2: return "SIGINT";
	case 3: return "SIGQUIT";
	case 6: return "SIGABRT";
	case 9: return "SIGKILL";
	case 13: return "SIGPIPE";
	case 14: return "SIGALRM";
	case 15: return "SIGTERM";
	default: return "a signal";
	}
}

/* The meaning of the run's exit code, from the table `--help` prints (util.h). */
static void exit_meaning(rb_buf *b, const char *code)
{
	if (!code || !strcmp(code, "none")) {
		rb_buf_puts(b, "the run never finished (killed, or still running)");
		return;
	}
	for (size_t i = 0; rb_exit_codes[i].code; i++) {
		if (!strcmp(rb_exit_codes[i].code, code)) {
			esc(b, rb_exit_codes[i].meaning);
			return;
		}
	}
	int n = atoi(code);
	if (n > 128 && n < 160)
		rb_buf_printf(b, "stopped by signal %d (%s)", n - 128, signal_name(n - 128));
	else
		rb_buf_puts(b, "not a documented exit code");
}

/* One fact of the header: <dt>label</dt><dd class="run-KEY">value</dd>; nothing when value is NULL. */
static void fact(rb_buf *b, const char *key, const char *label, const char *value, int code)
{
	if (!value)
		return;
	rb_buf_printf(b, "<dt>%s</dt><dd class=\"run-%s\">%s", label, key, code ? "<code>" : "");
	esc_line(b, value, VALUE_SHOWN);
	rb_buf_printf(b, "%s</dd>\n", code ? "</code>" : "");
}

/* The badge word of a run: ok, failed or interrupted. */
static const char *run_badge(const char *exit_code)
{
	if (!exit_code || !strcmp(exit_code, "none") || atoi(exit_code) > 128)
		return "interrupted";
	return strcmp(exit_code, "0") ? "failed" : "ok";
}

static void header_facts(report *r, rb_buf *b)
{
	const rb_record *rec = r->rec;
	const rb_event *finish = last_event(rec, "finish");
	const char *exit_code = finish ? get(finish, "exit") : NULL;
	rb_buf_puts(b, "<dl class=\"run-facts\">\n");
	fact(b, "id", "Run", rb_record_get(rec, "run", NULL, "id"), 1);
	fact(b, "operator", "Operator", rb_record_get(rec, "run", NULL, "operator"), 0);
	fact(b, "host", "Host", rb_record_get(rec, "run", NULL, "host"), 0);
	fact(b, "start", "Started", rb_record_get(rec, "run", NULL, "start"), 0);
	fact(b, "end", "Ended", finish ? or(get(finish, "end"), "unknown") : "never: the run was interrupted", 0);
	fact(b, "duration", "Duration", finish ? or(get(finish, "duration"), "unknown") : "unknown", 0);
	fact(b, "result", "Result", finish ? or(get(finish, "result"), "unknown") : "interrupted", 0);
	rb_buf_puts(b, "<dt>Exit code</dt><dd class=\"run-exit\"><code>");
	esc_line(b, or(exit_code, "none"), 32);
	rb_buf_puts(b, "</code> — ");
	exit_meaning(b, exit_code);
	rb_buf_puts(b, "</dd>\n");
	if (r->commit)
		fact(b, "commit", "Audit commit", r->commit, 1);
	else if (!rb_record_get(rec, "run", NULL, "id"))
		rb_buf_puts(b, "<dt>Audit commit</dt><dd class=\"run-commit\">none: the run was not recorded "
			       "(--no-audit)</dd>\n");
	else
		rb_buf_puts(b, "<dt>Audit commit</dt><dd class=\"run-commit\">the commit that holds this run's record "
			       "(this page is part of it)</dd>\n");
	fact(b, "runbook", "Runbook", rb_record_get(rec, "run", NULL, "runbook"), 1);
	fact(b, "hash", "Content hash (git blob)", rb_record_get(rec, "run", NULL, "hash"), 1);
	const char *inc = rb_record_get(rec, "run", NULL, "includes");
	if (inc && strcmp(inc, "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391")) /* the empty blob: nothing included */
		fact(b, "includes", "Included files hash", inc, 1);
	fact(b, "repo-commit", "Runbook repository at", rb_record_get(rec, "run", NULL, "commit"), 1);
	fact(b, "resumes", "Resumes run", rb_record_get(rec, "run", NULL, "resumes"), 1);
	fact(b, "command", "Command", rb_record_get(rec, "run", NULL, "command"), 1);
	rb_buf_puts(b, "</dl>\n");
}

/* Banners: abort conditions that fired, a document that is not the one that ran. */
static void header_banners(report *r, rb_buf *b, const char *source)
{
	const char *hash = rb_record_get(r->rec, "run", NULL, "hash");
	for (size_t i = 0; i < r->rec->count; i++) {
		const rb_event *e = &r->rec->events[i];
		if (strcmp(e->type, "abort"))
			continue;
		rb_buf_puts(b, "<p class=\"run-abort\">Abort condition <code>");
		esc_line(b, or(get(e, "step"), "?"), VALUE_SHOWN);
		rb_buf_puts(b, "</code> fired");
		if (get(e, "at")) {
			rb_buf_puts(b, " at ");
			esc_line(b, get(e, "at"), 64);
		}
		rb_buf_puts(b, ": ");
		esc_line(b, or(get(e, "reason"), "(no reason given)"), MESSAGE_SHOWN);
		rb_buf_puts(b, "</p>\n");
	}
	if (source && hash) {
		char now[41];
		rb_gitstore_hash(source, strlen(source), now);
		if (strcmp(now, hash)) {
			rb_buf_puts(b, "<p class=\"source-changed\">The document shown is not the one that ran (its hash is <code>");
			esc(b, now);
			rb_buf_puts(b, "</code>; the run's was <code>");
			esc_line(b, hash, 64);
			rb_buf_puts(b, "</code>): steps are matched to its blocks by name.</p>\n");
		}
	}
	if (!source)
		rb_buf_puts(b, "<p class=\"source-unknown\">The runbook's text is not known here: its steps are listed "
			       "without the document.</p>\n");
}

/* Variables, databases and notes of the run, folded. */
static void header_lists(report *r, rb_buf *b)
{
	static const char *const types[] = {"var", "database", "note", NULL};
	static const char *const titles[] = {"Variables", "Databases", "Notes", NULL};
	static const char *const classes[] = {"run-vars", "run-databases", "run-notes", NULL};
	for (int t = 0; types[t]; t++) {
		size_t n = 0;
		for (size_t i = 0; i < r->rec->count; i++)
			n += !strcmp(r->rec->events[i].type, types[t]);
		if (!n)
			continue;
		rb_buf_printf(b, "<details class=\"%s\"><summary>%s (%zu)</summary>\n<ul>\n", classes[t], titles[t], n);
		for (size_t i = 0; i < r->rec->count; i++) {
			const rb_event *e = &r->rec->events[i];
			if (strcmp(e->type, types[t]))
				continue;
			rb_buf_puts(b, "<li>");
			for (size_t k = 0; k < e->nfields; k++) {
				rb_buf_puts(b, k ? " <span class=\"field\"><span class=\"key\">" : "<span class=\"field\"><span class=\"key\">");
				esc_line(b, e->fields[k].key, 64);
				rb_buf_puts(b, "</span>=<span class=\"value\">");
				esc_line(b, e->fields[k].value, VALUE_SHOWN);
				rb_buf_puts(b, "</span></span>");
			}
			rb_buf_puts(b, "</li>\n");
		}
		rb_buf_puts(b, "</ul></details>\n");
	}
}

static void header(report *r, rb_buf *b, const char *source)
{
	const rb_event *finish = last_event(r->rec, "finish");
	const char *exit_code = finish ? get(finish, "exit") : NULL;
	const char *result = finish ? or(get(finish, "result"), "unknown") : "interrupted";
	char *outcome = rb_record_outcome(r->rec);
	rb_buf_puts(b, "<header class=\"run\" data-result=\"");
	esc_line(b, result, 64);
	rb_buf_puts(b, "\" data-exit=\"");
	esc_line(b, or(exit_code, "none"), 32);
	rb_buf_puts(b, "\">\n<h1 class=\"run-title\">");
	esc_line(b, or(rb_record_get(r->rec, "run", NULL, "title"), "runbook"), VALUE_SHOWN);
	rb_buf_printf(b, "</h1>\n<p class=\"run-outcome\"><span class=\"badge st-%s\">", run_badge(exit_code));
	esc_line(b, result, 64);
	rb_buf_puts(b, "</span> ");
	esc(b, outcome);
	rb_buf_puts(b, "</p>\n");
	header_facts(r, b);
	header_banners(r, b, source);
	header_lists(r, b);
	rb_buf_puts(b, "</header>\n");
	free(outcome);
}

/* --- the timeline ----------------------------------------------------------- */

/* A position on the axis, as a percentage of the track. */
static double pct(const report *r, int64_t ms)
{
	if (ms < 0)
		ms = 0;
	if (ms > r->span)
		ms = r->span;
	return 100.0 * (double)ms / (double)r->span;
}

/* A tick label: "0s", "0.25s", "2s", "1m30s". */
static void tick_label(rb_buf *b, int64_t ms, int64_t step)
{
	if (ms >= 60000) {
		char d[32];
		rb_format_duration(ms, d, sizeof d);
		rb_buf_puts(b, d);
		return;
	}
	int decimals = step < 10 ? 3 : step < 100 ? 2 : step < 1000 ? 1 : 0;
	rb_buf_printf(b, "%.*fs", ms ? decimals : 0, (double)ms / 1000.0);
}

static void axis(const report *r, rb_buf *b)
{
	static const int64_t mult[] = {1, 2, 5};
	int64_t step = 0; /* 1, 2 or 5 times a power of ten: at most 8 ticks */
	for (int64_t p = 1; !step; p *= 10)
		for (int k = 0; k < 3 && !step; k++)
			if (mult[k] * p * 8 >= r->span)
				step = mult[k] * p;
	rb_buf_puts(b, "<div class=\"tl-axis\"><span class=\"tl-label\">");
	rb_buf_puts(b, r->timed ? "time from start" : "by duration");
	rb_buf_puts(b, "</span><span class=\"tl-track\">");
	for (int64_t t = 0; t <= r->span; t += step) {
		rb_buf_printf(b, "<span class=\"tl-tick\" style=\"left:%.3f%%\">", pct(r, t));
		tick_label(b, t, step);
		rb_buf_puts(b, "</span>");
	}
	rb_buf_puts(b, "</span></div>\n");
}

/* The approvals of step entry s as marks on its row. */
static void approval_marks(const report *r, const run_step *s, rb_buf *b)
{
	for (size_t i = 0; i < r->rec->count; i++) {
		const rb_event *e = &r->rec->events[i];
		if (strcmp(e->type, "approval") || strcmp(or(get(e, "step"), ""), s->id))
			continue;
		int64_t at = event_time(e, "at");
		int64_t t = r->timed && at >= 0 ? at - r->origin : s->t_start;
		if (r->timed && (t < s->t_start || t > s->t_end))
			continue; /* another run of the same step */
		const char *yes = or(get(e, "approved"), "no");
		rb_buf_printf(b, "<span class=\"tl-approval\" data-approved=\"%s\" data-step=\"",
			      strcmp(yes, "yes") ? "no" : "yes");
		esc_line(b, s->id, VALUE_SHOWN);
		rb_buf_printf(b, "\" style=\"left:%.3f%%\" title=\"%s: ", pct(r, t), strcmp(yes, "yes") ? "refused" : "approved");
		esc_line(b, or(get(e, "item"), ""), 256);
		rb_buf_puts(b, " (");
		esc_line(b, or(get(e, "who"), "?"), 128);
		rb_buf_puts(b, ", ");
		esc_line(b, or(get(e, "how"), "?"), 128);
		rb_buf_puts(b, ")\"></span>");
	}
}

/* One row: the label, then the bar (its attempts as segments), the ×N label, approval marks. */
static void bar(report *r, const run_step *s, rb_buf *b)
{
	char st[48], d[32] = "?";
	const char *role = or(get(s->start, "role"), "main");
	const char *kind = or(get(s->start, "kind"), "step");
	int tries = atoi(or(get(s->end, "attempts"), "1"));
	int64_t dur = duration_of(s->end, "duration");
	const run_step *last = last_of(r, s->id);
	if (tries < 1)
		tries = 1;
	if (dur >= 0)
		rb_format_duration(dur, d, sizeof d);
	status_of(s, st, sizeof st);
	rb_buf_puts(b, "<div class=\"tl-row\"><span class=\"tl-label\"><span class=\"tl-num\">");
	esc_line(b, or(get(s->start, "number"), ""), 16);
	rb_buf_puts(b, "</span> ");
	esc_line(b, s->id, 128);
	rb_buf_puts(b, "</span><span class=\"tl-track\"><a class=\"tl-bar tl-role-");
	token(b, role);
	rb_buf_puts(b, !strcmp(kind, "gate") ? " tl-gate" : "");
	rb_buf_printf(b, " st-%s\" href=\"#step-%d\" data-step=\"", st, last ? last->anchor : -1);
	esc_line(b, s->id, VALUE_SHOWN);
	rb_buf_printf(b, "\" data-status=\"%s\" data-role=\"", st);
	token(b, role);
	rb_buf_puts(b, "\" data-kind=\"");
	token(b, kind);
	rb_buf_printf(b, "\" data-attempts=\"%d\" style=\"left:%.3f%%;width:%.3f%%\" title=\"", tries, pct(r, s->t_start),
		      pct(r, s->t_end) - pct(r, s->t_start));
	esc_line(b, s->id, 256);
	rb_buf_printf(b, ": %s, %s", st, d);
	if (tries > 1)
		rb_buf_printf(b, ", %d attempts", tries);
	rb_buf_puts(b, "\">");
	for (int k = 0; k < tries && k < TRIES_DRAWN; k++)
		rb_buf_puts(b, "<span class=\"tl-try\"></span>");
	rb_buf_puts(b, "</a>");
	if (tries > 1)
		rb_buf_printf(b, "<span class=\"tl-attempts\" style=\"left:%.3f%%\">×%d</span>", pct(r, s->t_end), tries);
	approval_marks(r, s, b);
	rb_buf_puts(b, "</span></div>\n");
}

/* Abort conditions that fired, as lines across the chart. */
static void abort_marks(const report *r, rb_buf *b)
{
	for (size_t i = 0; i < r->rec->count; i++) {
		const rb_event *e = &r->rec->events[i];
		int64_t at = event_time(e, "at");
		if (strcmp(e->type, "abort") || !r->timed || at < 0)
			continue;
		rb_buf_printf(b, "<span class=\"tl-abort\" style=\"--x:%.5f\" data-step=\"", pct(r, at - r->origin) / 100.0);
		esc_line(b, or(get(e, "step"), "?"), VALUE_SHOWN);
		rb_buf_puts(b, "\" title=\"abort condition ");
		esc_line(b, or(get(e, "step"), "?"), 256);
		rb_buf_puts(b, ": ");
		esc_line(b, or(get(e, "reason"), ""), 512);
		rb_buf_puts(b, "\"></span>");
	}
}

static void timeline(report *r, rb_buf *b)
{
	size_t started = 0;
	for (size_t k = 0; k < r->n; k++)
		started += r->steps[k].start != NULL;
	rb_buf_printf(b, "<section id=\"timeline\" class=\"timeline\" data-timed=\"%s\">\n<h2>Timeline</h2>\n",
		      r->timed ? "at" : "duration");
	if (!started) {
		rb_buf_puts(b, "<p class=\"tl-empty\">No step started.</p>\n</section>\n");
		return;
	}
	if (!r->timed)
		rb_buf_puts(b, "<p class=\"tl-note\">This record has no event times: the steps are laid out one "
			       "after the other by their durations.</p>\n");
	rb_buf_puts(b, "<div class=\"tl\">\n");
	axis(r, b);
	for (size_t k = 0; k < r->n; k++)
		if (r->steps[k].start)
			bar(r, &r->steps[k], b);
	abort_marks(r, b);
	rb_buf_puts(b, "</div>\n<p class=\"tl-legend\"><span class=\"st-ok\">ok</span> <span class=\"st-failed\">failed"
		       "</span> <span class=\"st-cancelled\">cancelled</span> <span class=\"st-interrupted\">interrupted"
		       "</span> <span class=\"tl-role-on_failure\">on_failure</span> <span class=\"tl-role-undo\">undo"
		       "</span> <span class=\"tl-gate-key\">gate</span> <span class=\"tl-approval-key\">approval</span>"
		       "</p>\n</section>\n");
}

/* --- the steps in the document -------------------------------------------------- */

/* What a step wrapper shows: from the document, the record, or both. */
typedef struct {
	const char *id;
	const char *status;  /* data-status */
	const char *kind, *lang, *role, *undoes, *number;
	const char *reason;  /* why it did not run; NULL when it did */
	const run_step *rs;  /* the record's last entry for it; NULL: none */
	int anchor;
	int doc_line;        /* its block's line in the document; 0: not in it */
} block;

static void span_text(rb_buf *b, const char *cls, const char *text, size_t max)
{
	rb_buf_printf(b, " <span class=\"%s\">", cls);
	esc_line(b, text, max);
	rb_buf_puts(b, "</span>");
}

/* The first line of a step's wrapper: badge, number, id, kind, role, and how it ran. */
static void step_head(const report *r, const block *k, rb_buf *b)
{
	const rb_event *x = k->rs ? k->rs->end : NULL;
	rb_buf_printf(b, "<div class=\"step-head\"><span class=\"badge st-%s\">", k->status);
	for (const char *p = k->status; *p; p++)
		rb_buf_putc(b, *p == '-' ? ' ' : *p);
	rb_buf_puts(b, "</span>");
	if (k->number)
		span_text(b, "step-number", k->number, 16);
	rb_buf_puts(b, " <code class=\"step-id\">");
	esc_line(b, k->id, VALUE_SHOWN);
	rb_buf_puts(b, "</code>");
	span_text(b, "step-kind", k->lang && *k->lang && strcmp(k->lang, "tasks") ? k->lang : or(k->kind, "step"), 64);
	if (k->role && strcmp(k->role, "main"))
		span_text(b, "step-role", k->role, 64);
	if (k->undoes) {
		rb_buf_puts(b, " <span class=\"step-undoes\">undoes <code>");
		esc_line(b, k->undoes, VALUE_SHOWN);
		rb_buf_puts(b, "</code></span>");
	}
	if (x && get(x, "duration"))
		span_text(b, "step-duration", get(x, "duration"), 32);
	if (x && atoi(or(get(x, "attempts"), "1")) > 1) {
		rb_buf_puts(b, " <span class=\"step-attempts\">×");
		esc_line(b, get(x, "attempts"), 16);
		rb_buf_puts(b, " attempts</span>");
	}
	if (x && get(x, "sqlstate")) {
		span_text(b, "step-sqlstate", get(x, "sqlstate"), 16);
	} else if (x && get(x, "exit")) {
		int code = atoi(get(x, "exit"));
		rb_buf_puts(b, " <span class=\"step-exit\">exit ");
		esc_line(b, get(x, "exit"), 16);
		if (code > 128 && code < 160)
			rb_buf_printf(b, " (%s)", signal_name(code - 128));
		rb_buf_puts(b, "</span>");
	}
	if (k->rs && k->rs->start && r->timed) {
		char t[48];
		span_text(b, "step-at", offset_text(k->rs->t_start, t, sizeof t), 48);
	}
	rb_buf_puts(b, "</div>\n");
}

/* A paragraph of class cls: label, then text (bounded, escaped). */
static void para(rb_buf *b, const char *cls, const char *label, const char *text)
{
	rb_buf_printf(b, "<p class=\"%s\">%s", cls, label);
	bounded(b, text, MESSAGE_SHOWN);
	rb_buf_puts(b, "</p>\n");
}

/* The approvals given or refused for step id. */
static void step_approvals(const report *r, const char *id, rb_buf *b)
{
	int any = 0;
	for (size_t i = 0; i < r->rec->count; i++) {
		const rb_event *e = &r->rec->events[i];
		if (strcmp(e->type, "approval") || strcmp(or(get(e, "step"), ""), id))
			continue;
		int yes = !strcmp(or(get(e, "approved"), ""), "yes");
		rb_buf_puts(b, any ? "" : "<ul class=\"step-approvals\">\n");
		any = 1;
		rb_buf_printf(b, "<li class=\"approval\" data-approved=\"%s\"><span class=\"approval-mark\">%s</span>",
			      yes ? "yes" : "no", yes ? "approved" : "refused");
		span_text(b, "approval-item", or(get(e, "item"), ""), VALUE_SHOWN);
		rb_buf_puts(b, " — by");
		span_text(b, "approval-who", or(get(e, "who"), "unknown"), VALUE_SHOWN);
		rb_buf_puts(b, ", how:");
		span_text(b, "approval-how", or(get(e, "how"), "unknown"), VALUE_SHOWN);
		if (get(e, "at")) {
			rb_buf_puts(b, ", at");
			span_text(b, "approval-at", get(e, "at"), 64);
		}
		rb_buf_puts(b, "</li>\n");
	}
	rb_buf_puts(b, any ? "</ul>\n" : "");
}

/* A cancelled step: the abort condition that stopped it. */
static void abort_note(rb_buf *b, const rb_event *e)
{
	rb_buf_puts(b, "<p class=\"step-message\">Cancelled: the abort condition <code>");
	esc_line(b, or(get(e, "step"), "?"), VALUE_SHOWN);
	rb_buf_puts(b, "</code> fired: ");
	bounded(b, or(get(e, "reason"), "(no reason given)"), MESSAGE_SHOWN);
	rb_buf_puts(b, "</p>\n");
}

/* What is said about a step before its block: why it did not run, its message, gate, abort, approvals, capture. */
static void step_notes(const report *r, const block *k, rb_buf *b)
{
	const rb_event *x = k->rs ? k->rs->end : NULL;
	int gate = k->kind && !strcmp(k->kind, "gate");
	if (k->reason)
		para(b, "step-reason", "", k->reason);
	if (k->rs && k->doc_line && k->rs->line && k->rs->line != k->doc_line) {
		rb_buf_printf(b, "<p class=\"step-moved\">Ran from line %d of the runbook as it was then.</p>\n",
			      k->rs->line);
	}
	if (k->rs && !x)
		para(b, "step-message", "", "interrupted while running: the record has no end for it");
	const char *msg = x ? or(get(x, "message"), NULL) : NULL;
	const char *gate_says = gate && x ? or(get(x, "output"), NULL) : NULL;
	if (msg && !(gate_says && strstr(msg, gate_says))) /* "gate closed: MESSAGE" says it once */
		para(b, "step-message", "", msg);
	if (gate_says)
		para(b, "step-gate", !strcmp(k->status, "ok") ? "Gate open: " : "Gate closed: ", gate_says);
	for (size_t i = 0; i < r->rec->count; i++) {
		const rb_event *e = &r->rec->events[i];
		if (strcmp(e->type, "abort"))
			continue;
		if (!strcmp(or(get(e, "step"), ""), k->id))
			para(b, "step-abort", "Fired: ", or(get(e, "reason"), "(no reason given)"));
		else if (!msg && !strcmp(k->status, "cancelled"))
			abort_note(b, e);
	}
	step_approvals(r, k->id, b);
	if (x && get(x, "capture")) {
		rb_buf_puts(b, "<p class=\"step-capture\">Captured into <code>");
		esc_line(b, get(x, "capture"), VALUE_SHOWN);
		rb_buf_puts(b, "</code>: ");
		bounded(b, or(get(x, "value"), ""), MESSAGE_SHOWN);
		rb_buf_puts(b, "</p>\n");
	}
}

/* The opening of a step's wrapper, up to where its block goes. */
static void step_open(const report *r, const block *k, rb_buf *b)
{
	rb_buf_printf(b, "<section class=\"step st-%s\" id=\"step-%d\" data-step=\"", k->status, k->anchor);
	esc_line(b, k->id, VALUE_SHOWN);
	rb_buf_printf(b, "\" data-status=\"%s\" data-kind=\"", k->status);
	token(b, or(k->kind, "step"));
	rb_buf_puts(b, "\" data-role=\"");
	token(b, or(k->role, "main"));
	if (k->undoes) {
		rb_buf_puts(b, "\" data-undoes=\"");
		esc_line(b, k->undoes, VALUE_SHOWN);
	}
	rb_buf_puts(b, "\">\n");
	step_head(r, k, b);
	step_notes(r, k, b);
}

/* A folded block of text: output, documented output. */
static void folded(rb_buf *b, const char *cls, const char *title, const char *text, int open)
{
	size_t len = strlen(text), lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	lines += len && text[len - 1] != '\n';
	rb_buf_printf(b, "<details class=\"%s\"%s><summary>%s (%zu line%s, %zu byte%s)</summary><pre class=\"output\">",
		      cls, open ? " open" : "", title, lines, lines == 1 ? "" : "s", len, len == 1 ? "" : "s");
	bounded(b, text, RB_REPORT_OUTPUT_SHOWN);
	rb_buf_puts(b, "</pre></details>\n");
}

/* The end of a step's wrapper, after its block: the output. */
static void step_close(const block *k, rb_buf *b)
{
	const rb_event *x = k->rs ? k->rs->end : NULL;
	const char *out = x ? get(x, "output") : NULL;
	const char *doc = x ? get(x, "documented_output") : NULL;
	int gate = k->kind && !strcmp(k->kind, "gate");
	if (out && *out && !gate)
		folded(b, "step-output", "Output", out, !strcmp(k->status, "failed"));
	if (doc && *doc)
		folded(b, "step-doc-output", "Documented output (from the runbook, not run)", doc, 0);
	rb_buf_puts(b, "</section>\n");
}

static const char *const role_names[] = {"main", "on_failure", "manual", "undo"};

/* A wrapper for record entry s alone (a step not in the document). */
static block block_of_record(const run_step *s, char *st, size_t size)
{
	const rb_event *e = s->start ? s->start : s->end;
	block k = {0};
	k.id = s->id;
	k.status = status_of(s, st, size);
	k.kind = s->start ? get(e, "kind") : NULL;
	k.lang = s->start ? get(e, "lang") : NULL;
	k.role = s->start ? get(e, "role") : NULL;
	k.undoes = s->start ? get(e, "undoes") : NULL;
	k.number = s->start ? get(e, "number") : NULL;
	k.rs = s;
	k.anchor = s->anchor;
	return k;
}

/* The last line of the document a main step started at: the steps above it that did not run were passed over. */
static int main_reached(const report *r)
{
	int line = 0;
	for (size_t k = 0; k < r->n; k++) {
		const run_step *s = &r->steps[k];
		if (s->start && !strcmp(or(get(s->start, "role"), "main"), "main") && s->line > line)
			line = s->line;
	}
	return line;
}

/* 1 when a step of the on_failure section started. */
static int handler_ran(const report *r)
{
	for (size_t k = 0; k < r->n; k++)
		if (!strcmp(or(get(r->steps[k].start, "role"), ""), "on_failure"))
			return 1;
	return 0;
}

/* Why document step ds did not run, as its status and a reason. */
static const char *unrun(const report *r, const rb_step *ds, int reached, const char **reason)
{
	const char *status = "not-reached";
	*reason = "not reached: the run ended before it";
	for (size_t i = 0; i < r->rec->count; i++) {
		const rb_event *e = &r->rec->events[i];
		if (!strcmp(e->type, "abort") && !strcmp(or(get(e, "step"), ""), ds->id)) {
			*reason = NULL;
			return "fired";
		}
	}
	if (ds->skip) {
		status = "skipped";
		*reason = "skip in the runbook: never run";
	} else if (ds->role == RB_ROLE_MANUAL) {
		*reason = "a manual section: runbook never runs it";
	} else if (ds->role == RB_ROLE_UNDO) {
		*reason = "an undo block: runs only to undo its step after a later failure";
	} else if (ds->role == RB_ROLE_ON_FAILURE) {
		*reason = handler_ran(r) ? "the on_failure section ran, and stopped before it"
					 : "the on_failure section: runs only when the run fails";
	} else if (ds->kind == RB_STEP_ABORT && reached > ds->line) {
		status = "armed";
		*reason = "armed: watched the steps after it, never fired";
	} else if (reached > ds->line) {
		status = "skipped";
		*reason = "not run: skipped (when= was false, or the step was not selected)";
	}
	return status;
}

/* The wrapper of document step ds (with its record entry, when it ran). */
static block block_of_doc(report *r, const rb_step *ds, int reached, char *st, size_t size)
{
	run_step *s = last_of(r, ds->id);
	block k = {0};
	char num[16];
	snprintf(num, sizeof num, "%d", ds->number);
	if (s) {
		k = block_of_record(s, st, size);
	} else {
		k.id = ds->id;
		k.kind = rb_step_kind_name(ds->kind);
		k.lang = ds->lang;
		k.role = role_names[ds->role];
		k.undoes = ds->undoes >= 0 ? r->rb->steps[ds->undoes].id : NULL;
		k.status = unrun(r, ds, reached, &k.reason);
		snprintf(st, size, "%s", k.status);
		k.status = st;
		k.number = ds->number ? rb_xstrdup(num) : NULL; /* freed by the caller */
	}
	k.doc_line = ds->line;
	return k;
}

/* A block of the document to wrap: a code block or a task list, and its step. */
typedef struct {
	cmark_node *node;
	const rb_step *step;
} target;

/* The blocks of the document that are steps, in document order. */
static target *find_targets(const report *r, cmark_node *doc, size_t *count)
{
	int max = 0;
	for (size_t i = 0; i < r->rb->nsteps; i++)
		if (r->rb->steps[i].line > max)
			max = r->rb->steps[i].line;
	int *at_line = rb_xmalloc(((size_t)max + 1) * sizeof *at_line);
	for (int l = 0; l <= max; l++)
		at_line[l] = -1;
	for (size_t i = 0; i < r->rb->nsteps; i++)
		if (r->rb->steps[i].kind != RB_STEP_DOC)
			at_line[r->rb->steps[i].line] = (int)i;
	target *t = rb_xcalloc(r->rb->nsteps + 1, sizeof *t);
	size_t n = 0;
	cmark_iter *it = cmark_iter_new(doc);
	cmark_event_type ev;
	while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
		cmark_node *node = cmark_iter_get_node(it);
		cmark_node_type type = cmark_node_get_type(node);
		if (ev != CMARK_EVENT_ENTER || (type != CMARK_NODE_CODE_BLOCK && type != CMARK_NODE_LIST))
			continue;
		cmark_node *first = type == CMARK_NODE_LIST ? cmark_node_first_child(node) : node;
		for (cmark_node *c = first; c; c = type == CMARK_NODE_LIST ? cmark_node_next(c) : NULL) {
			int line = cmark_node_get_start_line(c), i = line > 0 && line <= max ? at_line[line] : -1;
			if (i < 0 || (r->rb->steps[i].kind == RB_STEP_APPROVAL) != (type == CMARK_NODE_LIST))
				continue;
			at_line[line] = -1; /* each step once */
			t[n].node = node;
			t[n++].step = &r->rb->steps[i];
			break;
		}
	}
	cmark_iter_free(it);
	free(at_line);
	*count = n;
	return t;
}

/* Wraps each step's block in a custom block that carries its decoration. */
static void decorate(report *r, cmark_node *doc)
{
	size_t n = 0;
	target *t = find_targets(r, doc, &n);
	int reached = main_reached(r);
	rb_strset done = RB_STRSET_INIT;
	for (size_t i = 0; i < n; i++) {
		char st[48];
		rb_buf open = RB_BUF_INIT, close = RB_BUF_INIT;
		if (!rb_strset_add(&done, t[i].step->id, 1))
			continue; /* an id twice in a document that does not parse cleanly: its first block only */
		run_step *s = last_of(r, t[i].step->id);
		block k = block_of_doc(r, t[i].step, reached, st, sizeof st);
		k.anchor = r->anchors++;
		if (s) {
			s->anchor = k.anchor;
			s->placed = 1;
		}
		step_open(r, &k, &open);
		step_close(&k, &close);
		cmark_node *wrap = cmark_node_new(CMARK_NODE_CUSTOM_BLOCK);
		cmark_node_set_on_enter(wrap, rb_buf_cstr(&open));
		cmark_node_set_on_exit(wrap, rb_buf_cstr(&close));
		cmark_node_insert_before(t[i].node, wrap);
		cmark_node_append_child(wrap, t[i].node);
		if (!s)
			free((char *)k.number);
		rb_buf_free(&open);
		rb_buf_free(&close);
	}
	rb_strset_free(&done);
	free(t);
}

/* The front matter, shown as written (redacted), folded; the text cmark gets has it blanked. */
static char *without_front_matter(const report *r, rb_buf *b)
{
	rb_diags diags = RB_DIAGS_INIT;
	char *copy = rb_xstrndup(r->src, r->src_len);
	long span = rb_frontmatter_locate(r->src, r->src_len, "runbook", &diags);
	if (span > 0) {
		rb_buf_puts(b, "<details class=\"front-matter\"><summary>Front matter</summary><pre>");
		char *fm = rb_xstrndup(r->src, (size_t)span);
		bounded(b, fm, 1 << 20);
		free(fm);
		rb_buf_puts(b, "</pre></details>\n");
		for (long i = 0; i < span; i++)
			if (copy[i] != '\n')
				copy[i] = ' ';
	}
	rb_diags_free(&diags);
	return copy;
}

/* The document rendered, its steps decorated; NULL when the source is unknown. */
static void document(report *r, rb_buf *b)
{
	rb_buf_puts(b, "<main id=\"document\" class=\"document\">\n");
	char *text = without_front_matter(r, b);
	cmark_node *doc = cmark_parse_document(text, r->src_len, CMARK_OPT_DEFAULT | CMARK_OPT_VALIDATE_UTF8);
	if (r->rb)
		decorate(r, doc);
	/* Safe mode: raw HTML becomes a comment, javascript:, vbscript:, file: and data: links are dropped. */
	char *html = cmark_render_html(doc, CMARK_OPT_DEFAULT);
	rb_buf_puts(b, html);
	rb_buf_puts(b, "</main>\n");
	free(html);
	cmark_node_free(doc);
	free(text);
}

/* The record's steps that have no block in the document. */
static void unplaced(report *r, rb_buf *b)
{
	int any = 0;
	for (size_t i = 0; i < r->n; i++) {
		run_step *s = &r->steps[i];
		char st[48];
		if (last_of(r, s->id) != s || s->placed)
			continue;
		if (!any)
			rb_buf_printf(b, "<section id=\"unplaced\" class=\"unplaced\">\n<h2>%s</h2>\n",
				      r->src ? "Steps not found in the document" : "Steps");
		any = 1;
		s->anchor = r->anchors++;
		block k = block_of_record(s, st, sizeof st);
		step_open(r, &k, b);
		if (s->line) {
			rb_buf_puts(b, "<p class=\"step-where\">Line ");
			rb_buf_printf(b, "%d", s->line);
			if (get(s->start, "section")) {
				rb_buf_puts(b, ", section ");
				esc_line(b, get(s->start, "section"), VALUE_SHOWN);
			}
			rb_buf_puts(b, "</p>\n");
		}
		step_close(&k, b);
	}
	if (any)
		rb_buf_puts(b, "</section>\n");
}

/*
 * The one script: details open while printing, closed again after. The
 * page works without it (print CSS opens them where ::details-content is
 * known); the Content-Security-Policy allows this script by its hash only.
 */
static const char report_script[] =
	"addEventListener(\"beforeprint\",function(){document.querySelectorAll(\"details:not([open])\")"
	".forEach(function(d){d.open=true;d.setAttribute(\"data-print-opened\",\"\")})});"
	"addEventListener(\"afterprint\",function(){document.querySelectorAll(\"details[data-print-opened]\")"
	".forEach(function(d){d.open=false;d.removeAttribute(\"data-print-opened\")})});";
/* base64 of the SHA-256 of report_script (tests/unit/test_report.c checks it) */
#define REPORT_SCRIPT_SHA256 "qeoptuF7JB8sWT4pjOD8Fq3qn8QBb22g22qSV7DZB+8="

static const char report_css[] =
	":root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--code:#f6f8fa;"
	"--ok:#1a7f37;--failed:#cf222e;--cancelled:#bc4c00;--interrupted:#8250df;--skipped:#818b98;"
	"--pending:#c8d1da;--armed:#0969da;--handler:#bf3989;--undo:#9a6700;--cut:#fff8c5}\n"
	"@media screen and (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;--line:#3d444d;"
	"--code:#151b23;--ok:#3fb950;--failed:#f85149;--cancelled:#db6d28;--interrupted:#ab7df8;--skipped:#6e7681;"
	"--pending:#3d444d;--armed:#4493f8;--handler:#db61a2;--undo:#d29922;--cut:#3b2e00}}\n"
	"body{margin:0 auto;max-width:72rem;padding:1rem 1.5rem;background:var(--bg);color:var(--fg);"
	"font:15px/1.5 system-ui,-apple-system,\"Segoe UI\",sans-serif}\n"
	"code,pre{font:13px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}\n"
	"pre{background:var(--code);padding:.6rem .8rem;border-radius:6px;overflow:auto;white-space:pre-wrap;"
	"overflow-wrap:anywhere}\n"
	"a{color:var(--armed)}h1,h2,h3{line-height:1.25}h2{border-bottom:1px solid var(--line);padding-bottom:.2rem}\n"
	".run-facts{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:.5rem 0}\n"
	".run-facts dt{color:var(--muted)}.run-facts dd{margin:0;overflow-wrap:anywhere}\n"
	".badge{display:inline-block;padding:0 .5rem;border-radius:1rem;color:#fff;font-weight:600;"
	"font-size:.85em;background:var(--skipped)}\n"
	".badge.st-ok{background:var(--ok)}.badge.st-failed{background:var(--failed)}"
	".badge.st-cancelled{background:var(--cancelled)}.badge.st-interrupted{background:var(--interrupted)}"
	".badge.st-fired{background:var(--failed)}.badge.st-armed{background:var(--armed)}\n"
	".run-abort,.source-changed,.source-unknown{border-left:4px solid var(--failed);padding:.3rem .7rem;"
	"background:var(--code)}\n.source-changed,.source-unknown{border-color:var(--cancelled)}\n"
	".field{margin-right:.6rem}.field .key{color:var(--muted)}\n"
	".tl{position:relative;--label:12rem;--pad:2.5rem;margin:.5rem 0}\n"
	".tl-row,.tl-axis{display:flex;align-items:center;min-height:1.5rem;border-bottom:1px dotted var(--line)}\n"
	".tl-label{flex:0 0 var(--label);overflow:hidden;text-overflow:ellipsis;white-space:nowrap;"
	"font-size:.85em;padding-right:.5rem}\n.tl-num{color:var(--muted)}\n"
	".tl-track{position:relative;flex:1;height:1.5rem;margin-right:var(--pad)}\n"
	".tl-axis .tl-track{height:1.2rem}.tl-axis .tl-label{color:var(--muted)}\n"
	".tl-tick{position:absolute;top:0;font-size:.75em;color:var(--muted);border-left:1px solid var(--line);"
	"padding-left:2px;height:100%;white-space:nowrap}\n"
	".tl-bar{position:absolute;top:.3rem;height:.9rem;min-width:3px;display:flex;gap:1px;border-radius:2px;"
	"background:var(--ok);box-sizing:border-box}\n"
	".tl-try{flex:1;border-right:2px solid var(--bg)}.tl-try:last-child{border-right:0}\n"
	".tl-bar.st-failed{background:var(--failed)}.tl-bar.st-cancelled{background:var(--cancelled)}"
	".tl-bar.st-interrupted{background:var(--interrupted)}.tl-bar.st-skipped{background:var(--skipped)}\n"
	".tl-role-on_failure{outline:2px solid var(--handler);outline-offset:1px}\n"
	".tl-bar.tl-role-undo{background-image:repeating-linear-gradient(45deg,transparent 0 4px,"
	"rgba(255,255,255,.45) 4px 7px)}\n"
	".tl-gate::after{content:\"\";position:absolute;right:-5px;top:1px;width:9px;height:9px;"
	"background:var(--armed);transform:rotate(45deg)}\n"
	".tl-attempts{position:absolute;top:.1rem;margin-left:.4rem;font-size:.75em;font-weight:600}\n"
	".tl-approval{position:absolute;top:-.1rem;width:0;height:0;margin-left:-5px;border:5px solid transparent;"
	"border-top:7px solid var(--ok)}.tl-approval[data-approved=no]{border-top-color:var(--failed)}\n"
	".tl-abort{position:absolute;top:0;bottom:0;width:2px;background:var(--failed);"
	"left:calc(var(--label) + (100% - var(--label) - var(--pad)) * var(--x))}\n"
	".tl-legend span{margin-right:.8rem;font-size:.85em}.tl-legend span::before{content:\"\";display:inline-block;"
	"width:.8rem;height:.6rem;margin-right:.25rem;background:var(--ok)}\n"
	".tl-legend .st-failed::before{background:var(--failed)}.tl-legend .st-cancelled::before{background:var(--cancelled)}"
	".tl-legend .st-interrupted::before{background:var(--interrupted)}"
	".tl-legend .tl-role-on_failure{outline:0}.tl-legend .tl-role-on_failure::before{outline:2px solid var(--handler)}"
	".tl-legend .tl-role-undo::before{background-image:repeating-linear-gradient(45deg,transparent 0 3px,"
	"rgba(255,255,255,.5) 3px 5px)}.tl-legend .tl-gate-key::before{background:var(--armed);transform:rotate(45deg);"
	"width:.6rem}.tl-legend .tl-approval-key::before{background:none;border:5px solid transparent;"
	"border-top:7px solid var(--ok);width:0;height:0}\n"
	".step{border:1px solid var(--line);border-left:5px solid var(--ok);border-radius:6px;padding:.4rem .8rem;"
	"margin:1rem 0}\n"
	".step.st-failed,.step.st-fired{border-left-color:var(--failed)}.step.st-cancelled{border-left-color:var(--cancelled)}"
	".step.st-interrupted{border-left-color:var(--interrupted)}.step.st-armed{border-left-color:var(--armed)}\n"
	".step.st-skipped,.step.st-not-reached{border-left-color:var(--pending);opacity:.6}\n"
	".step[data-role=on_failure]{border-style:solid dashed dashed solid}\n"
	".step-head>*{margin-right:.5rem}.step-number::before{content:\"#\"}.step-number,.step-kind,.step-role,.step-at,.step-undoes{color:var(--muted)}\n"
	".step-message{color:var(--failed);white-space:pre-wrap}.step.st-skipped .step-message{color:var(--muted)}.step-reason{color:var(--muted);font-style:italic}\n"
	".step-gate,.step-abort{white-space:pre-wrap}\n"
	".step-approvals{list-style:none;padding-left:0}.approval-mark{font-weight:600;color:var(--ok)}"
	".approval[data-approved=no] .approval-mark{color:var(--failed)}\n"
	"details>summary{cursor:pointer;color:var(--muted)}\n"
	".output-cut{display:block;background:var(--cut);color:var(--fg);font-style:italic}\n"
	"@media print{:root{color-scheme:light;--fg:#000;--muted:#444}body{max-width:none;font-size:11pt}"
	"details::details-content{content-visibility:visible;display:block}details>summary{list-style:none}.step,.tl-row{break-inside:avoid}"
	".step.st-skipped,.step.st-not-reached{opacity:1;color:#555}"
	".tl-bar,.badge,.tl-try{-webkit-print-color-adjust:exact;print-color-adjust:exact}}\n";

/* The head of the page: its title, policy, style and script. */
static void page_head(const rb_record *rec, rb_buf *b)
{
	rb_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\" data-format=\"runbook-report/1\">\n<head>\n"
		       "<meta charset=\"utf-8\">\n"
		       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		       "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
		       "style-src 'unsafe-inline'; img-src data:; script-src 'sha256-" REPORT_SCRIPT_SHA256 "'; "
		       "base-uri 'none'; form-action 'none'\">\n"
		       "<meta name=\"referrer\" content=\"no-referrer\">\n<meta name=\"generator\" content=\"runbook "
		       RB_VERSION "\">\n<title>");
	esc_line(b, or(rb_record_get(rec, "run", NULL, "title"), "runbook"), 200);
	if (rb_record_get(rec, "run", NULL, "id")) {
		rb_buf_puts(b, " — run ");
		esc_line(b, rb_record_get(rec, "run", NULL, "id"), 200);
	}
	rb_buf_printf(b, "</title>\n<style>\n%s</style>\n<script>%s</script>\n</head>\n<body>\n", report_css,
		      report_script);
}

char *rb_report_html(const rb_record *rec, const rb_report_opts *o)
{
	static const rb_report_opts none = {NULL, NULL, NULL};
	rb_buf doc = RB_BUF_INIT, page = RB_BUF_INIT;
	rb_diags diags = RB_DIAGS_INIT;
	report r;
	memset(&r, 0, sizeof r);
	o = o ? o : &none;
	r.rec = rec;
	r.commit = o->commit;
	collect_steps(&r);
	lay_out(&r);
	if (o->source) {
		r.src = o->redactor ? rb_redact(o->redactor, o->source) : rb_xstrdup(o->source);
		r.src_len = strlen(r.src);
		r.rb = rb_parse(or(rb_record_get(rec, "run", NULL, "runbook"), "runbook.md"), r.src, r.src_len, &diags);
		document(&r, &doc);
	}
	unplaced(&r, &doc); /* anchors are known once the document is made: the timeline links to them */
	page_head(rec, &page);
	header(&r, &page, o->source);
	timeline(&r, &page);
	rb_buf_add(&page, doc.data ? doc.data : "", doc.len);
	rb_buf_puts(&page, "<footer class=\"report-footer\">Made by runbook " RB_VERSION " from the run's record");
	rb_buf_puts(&page, o->source ? " and the runbook's text.</footer>\n" : ".</footer>\n");
	rb_buf_puts(&page, "</body>\n</html>\n");
	rb_buf_free(&doc);
	rb_diags_free(&diags);
	rb_runbook_free(r.rb);
	rb_strset_free(&r.ids);
	free(r.steps);
	free(r.src);
	return rb_buf_detach(&page);
}
