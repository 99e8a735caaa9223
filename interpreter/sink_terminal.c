/*
 * sink_terminal.c - the run as people read it: step headers, output as it
 * comes, result lines, errors on stderr as file:line:col: message, the
 * summary line. Everything is written through output.c, which hides
 * secrets and makes control characters visible.
 *
 * Into a pipe or a file the rendering is plain text, the same bytes
 * whatever the terminal. On a terminal it adds colour (status words,
 * failures, the section path dim; --color, NO_COLOR, TERM=dumb), a live
 * status line for a step that runs longer than half a second (drawn and
 * erased by output.c, never seen by the record, which is another sink), a
 * result line that starts on a line of its own, and a table of the steps
 * before the summary line. --quiet keeps each step's lines and the tail of
 * its output back and shows them only when the step fails; --verbose adds
 * each SQL statement as sent.
 */
#define _GNU_SOURCE
#include "events.h"
#include "output.h"
#include "visible.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SGR_RESET "\x1b[0m"
#define SGR_RED "\x1b[31m"
#define SGR_GREEN "\x1b[32m"
#define SGR_YELLOW "\x1b[33m"
#define SGR_DIM "\x1b[2m"

#define TAIL_MAX 4096         /* --quiet: the end of a step's output kept, shown when it fails */
#define STATUS_AFTER_MS 500   /* a shorter step shows no status line: no flicker */
#define STATUS_EVERY_MS 80    /* redrawn at most this often (ticks come every ~100 ms) */

/* A step as the summary table shows it. */
typedef struct {
	int seen;           /* it started, or was skipped */
	rb_status status;
	int64_t duration_ms; /* < 0: unknown */
	int attempts;
	char *counter;
} table_row;

/* A line composed for one stream: plain text, and the same text coloured. */
typedef struct {
	int stream;
	int color;
	rb_buf plain, styled;
} line;

/* --quiet: a line kept back until its step ends. */
typedef struct {
	int stream;
	char *plain, *styled;
} held_line;

typedef struct {
	rb_sink base;
	rb_terminal_opts o;
	int color[3];            /* colour on stream 1, 2 */
	int tty[3];              /* stream 1, 2 is a terminal */
	int live;                /* a status line may be drawn */
	const rb_step *step;     /* the running step (STEP_START .. STEP_END), or NULL */
	char *counter;           /* its counter */
	int64_t started, drawn;  /* rb_now_ms when it started, when its status line was last drawn */
	int output_open;         /* step output written since the last line */
	int output_seen;         /* the step wrote output */
	int attempt;             /* the step's attempt (RB_EV_RETRY) */
	int holding;             /* --quiet: the step's lines are kept back */
	int head_shown;
	held_line head;          /* --quiet: the step's header */
	held_line *held;
	size_t nheld, capheld;
	rb_buf tail;             /* --quiet: the end of the step's output */
	size_t tail_total;
	table_row *rows;         /* one a step of the runbook */
	size_t nrows;
	char *sql_shown;         /* --verbose: the statement last shown */
} term_sink;

/* --- lines --------------------------------------------------------------- */

/* People's stdout is stderr when stdout carries the JSON events. */
static int stream_of(const term_sink *t, int stream)
{
	return stream == 2 || t->o.to_stderr ? 2 : 1;
}

static void line_init(line *l, const term_sink *t, int stream)
{
	memset(l, 0, sizeof *l);
	l->stream = stream_of(t, stream);
	l->color = t->color[l->stream];
}

/* Appends text, coloured with sgr (NULL: not coloured); a newline at its end is left out of the colour. */
static void put(line *l, const char *sgr, const char *text)
{
	size_t n = strlen(text);
	size_t body = n && text[n - 1] == '\n' ? n - 1 : n;
	int paint = l->color && sgr && body;
	rb_buf_add(&l->plain, text, n);
	if (paint)
		rb_buf_puts(&l->styled, sgr);
	rb_visible_into(text, body, &l->styled);
	if (paint)
		rb_buf_puts(&l->styled, SGR_RESET);
	rb_buf_add(&l->styled, text + body, n - body);
}

static void putf(line *l, const char *sgr, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void putf(line *l, const char *sgr, const char *fmt, ...)
{
	rb_buf b = RB_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	rb_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	put(l, sgr, rb_buf_cstr(&b));
	rb_buf_free(&b);
}

/* Writes a line: after a step's output that did not end a line, on a line of its own. */
static void show(term_sink *t, int stream, const char *plain, const char *styled)
{
	if (t->output_open && !rb_out_at_line_start(stream))
		rb_out_write(stream, "\n", 1);
	t->output_open = 0;
	if (t->color[stream])
		rb_out_styled(stream, plain, styled);
	else if (stream == 2)
		rb_out_err("%s", plain);
	else
		rb_out("%s", plain);
}

static void keep(held_line *h, const line *l)
{
	h->stream = l->stream;
	h->plain = rb_xstrdup(rb_buf_cstr(&l->plain));
	h->styled = rb_xstrdup(rb_buf_cstr(&l->styled));
}

static void drop(held_line *h)
{
	free(h->plain);
	free(h->styled);
	memset(h, 0, sizeof *h);
}

/* Shows the line, or keeps it back (--quiet, inside a step); frees it. */
static void emit(term_sink *t, line *l)
{
	if (t->holding) {
		if (t->nheld == t->capheld) {
			t->capheld = t->capheld ? 2 * t->capheld : 8;
			t->held = rb_xrealloc(t->held, t->capheld * sizeof *t->held);
		}
		keep(&t->held[t->nheld++], l);
	} else {
		show(t, l->stream, rb_buf_cstr(&l->plain), rb_buf_cstr(&l->styled));
	}
	rb_buf_free(&l->plain);
	rb_buf_free(&l->styled);
}

/* A whole line in one colour (NULL: none). */
static void say(term_sink *t, int stream, const char *sgr, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void say(term_sink *t, int stream, const char *sgr, const char *fmt, ...)
{
	rb_buf b = RB_BUF_INIT;
	line l;
	va_list ap;
	va_start(ap, fmt);
	rb_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	line_init(&l, t, stream);
	put(&l, sgr, rb_buf_cstr(&b));
	emit(t, &l);
	rb_buf_free(&b);
}

static const char *status_sgr(rb_status s)
{
	switch (s) {
	case RB_STATUS_OK: return SGR_GREEN;
	case RB_STATUS_FAILED:
	case RB_STATUS_CANCELLED: return SGR_RED;
	case RB_STATUS_SKIPPED: return SGR_YELLOW;
	case RB_STATUS_NOT_REACHED: break;
	}
	return SGR_DIM;
}

/* --- --quiet ------------------------------------------------------------- */

static void tail_add(term_sink *t, const char *data, size_t len)
{
	t->tail_total += len;
	if (len >= TAIL_MAX) {
		rb_buf_clear(&t->tail);
		rb_buf_add(&t->tail, data + len - TAIL_MAX, TAIL_MAX);
		return;
	}
	rb_buf_add(&t->tail, data, len);
	if (t->tail.len > 2 * TAIL_MAX) {
		memmove(t->tail.data, t->tail.data + t->tail.len - TAIL_MAX, TAIL_MAX);
		t->tail.len = TAIL_MAX;
		t->tail.data[TAIL_MAX] = '\0';
	}
}

/* The end of the step's output, from a line's start when it was cut. */
static void show_tail(term_sink *t)
{
	int out = stream_of(t, 1);
	const char *p = rb_buf_cstr(&t->tail);
	size_t n = t->tail.len;
	if (n > TAIL_MAX) {
		p += n - TAIL_MAX;
		n = TAIL_MAX;
	}
	if (t->tail_total > n) {
		const char *nl = memchr(p, '\n', n);
		if (nl && (size_t)(nl - p) + 1 < n) {
			n -= (size_t)(nl - p) + 1;
			p = nl + 1;
		}
		say(t, out, SGR_DIM, "  [... the last %zu of %zu bytes of its output:]\n", n, t->tail_total);
	}
	if (n) {
		rb_out_write(out, p, n);
		t->output_open = 1;
	}
	rb_buf_clear(&t->tail);
	t->tail_total = 0;
}

/* --quiet: what the step kept back, shown now (it failed); what follows is shown as it comes. */
static void reveal(term_sink *t)
{
	t->holding = 0;
	if (!t->head_shown && t->head.plain)
		show(t, t->head.stream, t->head.plain, t->head.styled);
	t->head_shown = 1;
	show_tail(t);
	for (size_t i = 0; i < t->nheld; i++) {
		show(t, t->held[i].stream, t->held[i].plain, t->held[i].styled);
		drop(&t->held[i]);
	}
	t->nheld = 0;
}

static void forget_step(term_sink *t)
{
	for (size_t i = 0; i < t->nheld; i++)
		drop(&t->held[i]);
	t->nheld = 0;
	drop(&t->head);
	rb_buf_clear(&t->tail);
	t->tail_total = 0;
	t->holding = 0;
	t->head_shown = 0;
	free(t->counter);
	t->counter = NULL;
	t->step = NULL;
}

/* --quiet, outside a step: 1 when the event is not for people (only failures and the summary are). */
static int quiet_hides(const rb_ev *ev)
{
	switch (ev->type) {
	case RB_EV_ERROR:
	case RB_EV_ABORT_FIRED:
	case RB_EV_RUN_END:
	case RB_EV_STEP_START:
	case RB_EV_STEP_END:
	case RB_EV_STEP_OUTPUT:
		return 0;
	case RB_EV_MESSAGE:
		return ev->stream != 2 && !ev->show; /* show: a message --quiet keeps (a kept server, an incomplete undo) */
	case RB_EV_APPROVAL:
		return ev->approved;
	case RB_EV_HANDLER_END:
		return ev->status == RB_STATUS_OK;
	default:
		return 1;
	}
}

/* --- steps --------------------------------------------------------------- */

static const char *kind_word(const rb_step *s)
{
	return s->kind == RB_STEP_APPROVAL ? "approval" : s->kind == RB_STEP_GATE ? "gate" : s->lang;
}

static void header(term_sink *t, const rb_ev *ev, line *l)
{
	rb_buf b = RB_BUF_INIT;
	rb_section_path(ev->runbook, ev->step->section, &b);
	line_init(l, t, 1);
	putf(l, NULL, "%s ", ev->counter);
	if (b.len)
		rb_buf_puts(&b, " \xe2\x80\xba ");
	put(l, SGR_DIM, rb_buf_cstr(&b));
	putf(l, NULL, "%s (%s)\n", ev->step->id, kind_word(ev->step));
	rb_buf_free(&b);
}

/* A step starts: its header, now or (--quiet) when it fails; a step that asks shows it now. */
static void step_start(term_sink *t, const rb_ev *ev)
{
	line l;
	forget_step(t);
	t->step = ev->step;
	t->counter = rb_xstrdup(ev->counter ? ev->counter : "");
	t->started = rb_now_ms();
	t->drawn = 0;
	t->attempt = 1;
	t->output_seen = 0;
	header(t, ev, &l);
	if (t->o.quiet && ev->step->kind != RB_STEP_APPROVAL && !ev->step->confirm) {
		keep(&t->head, &l);
		rb_buf_free(&l.plain);
		rb_buf_free(&l.styled);
	} else {
		emit(t, &l);
		t->head_shown = 1;
	}
	t->holding = t->o.quiet;
}

static table_row *row_of(term_sink *t, const rb_ev *ev)
{
	if (!t->rows && ev->runbook && ev->runbook->nsteps) {
		t->nrows = ev->runbook->nsteps;
		t->rows = rb_xcalloc(t->nrows, sizeof *t->rows);
	}
	if (!ev->step || !t->rows || ev->step < ev->runbook->steps || ev->step >= ev->runbook->steps + t->nrows)
		return NULL;
	return &t->rows[ev->step - ev->runbook->steps];
}

static void remember(term_sink *t, const rb_ev *ev)
{
	table_row *r = row_of(t, ev);
	if (!r)
		return;
	r->seen = 1;
	r->status = ev->status;
	r->duration_ms = ev->type == RB_EV_STEP_END ? ev->duration_ms : -1;
	r->attempts = ev->type == RB_EV_STEP_END ? ev->attempts : 0;
	free(r->counter);
	r->counter = rb_xstrdup(ev->counter ? ev->counter : "");
}

static void step_end(term_sink *t, const rb_ev *ev)
{
	rb_out_status_clear();
	remember(t, ev);
	if (t->o.quiet && (ev->status == RB_STATUS_FAILED || ev->status == RB_STATUS_CANCELLED))
		reveal(t);
	forget_step(t);
}

/* The status word at the start of a result text: its length and colour. */
static size_t status_word(const char *text, rb_status st, const char **sgr)
{
	static const char *const words[] = {"not approved", "timed out", "gate failed"};
	*sgr = status_sgr(st);
	for (size_t i = 0; i < sizeof words / sizeof *words; i++)
		if (!strncmp(text, words[i], strlen(words[i]))) {
			if (i == 0)
				*sgr = SGR_YELLOW;
			return strlen(words[i]);
		}
	return strcspn(text, " :");
}

static void result(term_sink *t, const rb_ev *ev)
{
	const char *text = ev->text ? ev->text : "";
	const char *sgr;
	size_t n = status_word(text, ev->status, &sgr);
	char *word = rb_xstrndup(text, n);
	line l;
	line_init(&l, t, 1);
	putf(&l, NULL, "%s ", ev->counter);
	put(&l, sgr, word);
	putf(&l, NULL, "%s\n", text + n);
	emit(t, &l);
	free(word);
}

static void step_skipped(term_sink *t, const rb_ev *ev)
{
	line l;
	remember(t, ev);
	if (t->o.quiet)
		return;
	line_init(&l, t, 1);
	putf(&l, NULL, "%s %s ", ev->counter, ev->step->id);
	put(&l, SGR_YELLOW, "skipped");
	putf(&l, NULL, ": %s\n", ev->text);
	emit(t, &l);
}

static void retry(term_sink *t, const rb_ev *ev)
{
	line l;
	t->attempt = ev->attempt;
	line_init(&l, t, 1);
	putf(&l, NULL, "%s ", ev->counter);
	put(&l, SGR_YELLOW, "retrying");
	putf(&l, NULL, " (attempt %d of %d)%s\n", ev->attempt, ev->attempts, ev->delay_ms > 0 ? " after a delay" : "");
	emit(t, &l);
}

static void gate(term_sink *t, const rb_ev *ev)
{
	line l;
	int open = ev->status == RB_STATUS_OK;
	line_init(&l, t, 1);
	putf(&l, NULL, "%s ", ev->counter);
	put(&l, open ? SGR_GREEN : SGR_RED, open ? "gate open" : "gate closed");
	if (open)
		putf(&l, NULL, "%s%s\n", ev->text ? ": " : "", ev->text ? ev->text : "");
	else
		putf(&l, NULL, ": %s\n", ev->text);
	emit(t, &l);
}

static void step_output(term_sink *t, const rb_ev *ev)
{
	t->output_seen = 1;
	if (t->holding) {
		tail_add(t, ev->data, ev->len);
		return;
	}
	rb_out_write(ev->stream == 1 ? stream_of(t, 1) : 2, ev->data, ev->len);
	t->output_open = 1;
}

/* --- the live status line ------------------------------------------------ */

static void term_tick(rb_sink *self, int64_t now_ms)
{
	static const char *const frames[] = {"\xe2\xa0\x8b", "\xe2\xa0\x99", "\xe2\xa0\xb9", "\xe2\xa0\xb8",
					     "\xe2\xa0\xbc", "\xe2\xa0\xb4", "\xe2\xa0\xa6", "\xe2\xa0\xa7",
					     "\xe2\xa0\x87", "\xe2\xa0\x8f"};
	term_sink *t = (term_sink *)self;
	int64_t ran = now_ms - t->started;
	char d[32];
	if (!t->live || !t->step || t->step->interactive || ran < STATUS_AFTER_MS || now_ms - t->drawn < STATUS_EVERY_MS)
		return;
	if (ran < 60000)
		snprintf(d, sizeof d, "%.1fs", (double)ran / 1000.0);
	else
		rb_format_duration(ran, d, sizeof d);
	if (!t->output_seen)
		rb_out_line_ended(); /* after its header only a prompt (answered with Enter) was not a whole line */
	char *text = rb_xasprintf("%s %s %s %s", frames[(ran / 100) % (int64_t)(sizeof frames / sizeof *frames)],
				  t->counter, t->step->id, d);
	rb_out_status(stream_of(t, 1), text);
	free(text);
	t->drawn = now_ms;
}

/* --- the summary table --------------------------------------------------- */

/* Characters of s (UTF-8 lead bytes), as a terminal shows it. */
static size_t width(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += ((unsigned char)*s & 0xC0) != 0x80;
	return n;
}

/* Appends text coloured, then spaces up to w characters. */
static void put_padded(line *l, const char *sgr, const char *text, size_t w)
{
	size_t n = width(text);
	put(l, sgr, text);
	for (; n < w; n++)
		put(l, NULL, " ");
}

/* Drops the spaces before the line's end (the last column's padding). */
static void trim(rb_buf *b)
{
	while (b->len && b->data[b->len - 1] == ' ')
		b->data[--b->len] = '\0';
}

/* A row of the table as text: step (counter and id), status, time, attempts. */
typedef struct {
	char *cell[4];
	char step[256], time[32], attempts[16];
} table_text;

static void row_text(const rb_ev *ev, const table_row *r, size_t i, table_text *x)
{
	const rb_step *s = &ev->runbook->steps[i];
	if (r->seen)
		snprintf(x->step, sizeof x->step, "%s %s", r->counter, s->id);
	else
		snprintf(x->step, sizeof x->step, "[%d/%zu] %s", s->number, ev->total, s->id);
	x->time[0] = x->attempts[0] = '\0';
	if (r->seen && r->duration_ms >= 0)
		rb_format_duration(r->duration_ms, x->time, sizeof x->time);
	if (r->seen && r->attempts > 0)
		snprintf(x->attempts, sizeof x->attempts, "%d", r->attempts);
	x->cell[0] = x->step;
	x->cell[1] = (char *)(r->seen ? rb_status_name(r->status) : "not run");
	x->cell[2] = x->time;
	x->cell[3] = x->attempts;
}

/* Which rows: every step that ran or was skipped; the main flow's others as not run, when it ran at all. */
static int in_table(const term_sink *t, const rb_ev *ev, size_t i, int main_ran)
{
	const rb_step *s = &ev->runbook->steps[i];
	return t->rows[i].seen ||
	       (main_ran && s->role == RB_ROLE_MAIN && rb_step_runnable(s) && s->kind != RB_STEP_ABORT);
}

static void table_line(term_sink *t, char *const cell[4], const size_t w[4], const char *status_color, const char *sgr)
{
	line l;
	line_init(&l, t, 1);
	put(&l, NULL, "  ");
	put_padded(&l, sgr, cell[0], w[0] + 2);
	put_padded(&l, status_color, cell[1], w[1] + 2);
	put_padded(&l, sgr, cell[2], w[2] + 2);
	put(&l, sgr, cell[3]);
	trim(&l.plain);
	trim(&l.styled);
	put(&l, NULL, "\n");
	emit(t, &l);
}

/* The steps, their status, time and attempts, in the runbook's order, before the summary line. */
static void table(term_sink *t, const rb_ev *ev)
{
	static char *const head[4] = {"step", "status", "time", "attempts"};
	size_t w[4] = {4, 6, 4, 8}, shown = 0;
	int main_ran = 0;
	table_text x;
	if (!t->rows)
		return;
	for (size_t i = 0; i < t->nrows; i++)
		main_ran |= t->rows[i].seen && ev->runbook->steps[i].role == RB_ROLE_MAIN;
	for (size_t i = 0; i < t->nrows; i++) {
		if (!in_table(t, ev, i, main_ran))
			continue;
		row_text(ev, &t->rows[i], i, &x);
		for (int k = 0; k < 4; k++)
			w[k] = width(x.cell[k]) > w[k] ? width(x.cell[k]) : w[k];
		shown++;
	}
	if (!shown)
		return;
	say(t, 1, NULL, "\n");
	table_line(t, head, w, SGR_DIM, SGR_DIM);
	for (size_t i = 0; i < t->nrows; i++) {
		if (!in_table(t, ev, i, main_ran))
			continue;
		row_text(ev, &t->rows[i], i, &x);
		table_line(t, x.cell, w, t->rows[i].seen ? status_sgr(t->rows[i].status) : SGR_DIM, NULL);
	}
}

static void run_end(term_sink *t, const rb_ev *ev)
{
	line l;
	if (!ev->text)
		return; /* the run did not start: its errors said why */
	if (t->tty[stream_of(t, 1)] && !t->o.plain && !t->o.quiet)
		table(t, ev);
	size_t n = strcspn(ev->text, ":");
	char *word = rb_xstrndup(ev->text, n);
	line_init(&l, t, 1);
	put(&l, ev->exit_code == 0 ? SGR_GREEN : SGR_RED, word);
	putf(&l, NULL, "%s\n", ev->text + n);
	emit(t, &l);
	free(word);
}

/* --- the rest ------------------------------------------------------------ */

/* --verbose: a statement as sent, then its command tag and time. */
static void sql(term_sink *t, const rb_ev *ev)
{
	const char *text = ev->text ? ev->text : "";
	int sent = ev->duration_ms < 0 || ev->status == RB_STATUS_NOT_REACHED;
	if (sent || !t->sql_shown || strcmp(t->sql_shown, text)) {
		for (const char *p = text; *p;) {
			size_t n = strcspn(p, "\n");
			line l;
			line_init(&l, t, 1);
			put(&l, SGR_DIM, "  sql> ");
			putf(&l, NULL, "%.*s\n", (int)n, p);
			emit(t, &l);
			p += n + (p[n] == '\n');
		}
		free(t->sql_shown);
		t->sql_shown = rb_xstrdup(text);
	}
	if (!sent) {
		line l;
		line_init(&l, t, 1);
		put(&l, NULL, "  (");
		put(&l, ev->value ? SGR_DIM : SGR_RED, ev->value ? ev->value : "failed");
		putf(&l, NULL, ", %lld ms)\n", (long long)ev->duration_ms);
		emit(t, &l);
	}
}

/* An error: red on stderr. --quiet: one of the run, or a failure no retry will mend, is shown as it comes. */
static void error_line(term_sink *t, const rb_ev *ev)
{
	int holding = t->holding;
	if (holding && ev->step == t->step && t->attempt > t->step->retry)
		reveal(t);
	else if (holding && ev->step != t->step)
		t->holding = 0; /* not the running step's: shown now */
	if (ev->step)
		say(t, 2, SGR_RED, "%s:%d:%d: step '%s': %s\n", ev->file ? ev->file : ev->runbook->path,
		    ev->line ? ev->line : ev->step->line, ev->line ? ev->col : ev->step->col, ev->step->id, ev->text);
	else {
		rb_error e = {0, (char *)ev->file, ev->line, ev->col, (char *)ev->text};
		char *m = rb_error_format(&e);
		say(t, 2, SGR_RED, "runbook: %s\n", m);
		free(m);
	}
	if (holding && ev->step != t->step)
		t->holding = 1;
}

static void handler_end(term_sink *t, const rb_ev *ev)
{
	if (ev->status == RB_STATUS_OK)
		return;
	if (ev->name)
		say(t, 1, SGR_RED, "The failure handler was stopped: abort condition '%s' fired: %s\n", ev->name, ev->text);
	else
		say(t, 1, SGR_RED, "The failure handler was stopped by a second interrupt.\n");
}

/* The events that say something about the running step or the run (not its start, output or end). */
static void lines(term_sink *t, const rb_ev *ev)
{
	char d[32];
	switch (ev->type) {
	case RB_EV_STEP_RESULT: result(t, ev); break;
	case RB_EV_RETRY: retry(t, ev); break;
	case RB_EV_GATE: gate(t, ev); break;
	case RB_EV_APPROVAL:
		if (ev->step && ev->step == t->step)
			t->started = rb_now_ms(); /* confirmed: the step runs from now */
		if (ev->show)
			say(t, 1, NULL, "  [%c] %s  (%s)\n", ev->approved ? 'x' : ' ', ev->name, ev->value);
		break;
	case RB_EV_ABORT_ARMED:
		rb_format_duration(ev->delay_ms, d, sizeof d);
		say(t, 1, NULL, "%s abort condition '%s' armed: checked before every step and every %s\n", ev->counter,
		    ev->step->id, d);
		break;
	case RB_EV_ABORT_FIRED:
		say(t, 2, SGR_RED, "%s:%d:%d: abort condition '%s' fired: %s\n", ev->runbook->path, ev->step->line,
		    ev->step->col, ev->step->id, ev->text);
		break;
	case RB_EV_HANDLER_START: say(t, 1, NULL, "Running the failure handler \"%s\"\n", ev->text); break;
	case RB_EV_HANDLER_END: handler_end(t, ev); break;
	case RB_EV_ERROR: error_line(t, ev); break;
	case RB_EV_MESSAGE: say(t, ev->stream, NULL, "%s", ev->text); break;
	case RB_EV_NOTE:
		if (ev->show)
			say(t, 1, NULL, "%s\n", ev->text);
		break;
	case RB_EV_LOG:
		say(t, 1, NULL, "  log: %s\n", ev->text);
		break;
	case RB_EV_SQL:
		if (t->o.verbose)
			sql(t, ev);
		break;
	default:
		break;
	}
}

static void term_event(rb_sink *self, const rb_ev *ev)
{
	term_sink *t = (term_sink *)self;
	if (t->o.quiet && !t->step && quiet_hides(ev))
		return;
	switch (ev->type) {
	case RB_EV_STEP_START: step_start(t, ev); break;
	case RB_EV_STEP_OUTPUT: step_output(t, ev); break;
	case RB_EV_STEP_END: step_end(t, ev); break;
	case RB_EV_STEP_SKIPPED: step_skipped(t, ev); break;
	case RB_EV_RUN_END: run_end(t, ev); break;
	default: lines(t, ev); break;
	}
}

static int term_close(rb_sink *self, rb_error *err)
{
	term_sink *t = (term_sink *)self;
	(void)err;
	rb_out_status_clear();
	forget_step(t);
	for (size_t i = 0; i < t->nrows; i++)
		free(t->rows[i].counter);
	free(t->rows);
	free(t->held);
	rb_buf_free(&t->tail);
	free(t->sql_shown);
	free(t);
	return 0;
}

/* Colour on fd: --color=always and never decide; auto: a terminal, no NO_COLOR, not TERM=dumb. */
static int color_on(const rb_terminal_opts *o, int fd)
{
	const char *no = getenv("NO_COLOR"), *term = getenv("TERM");
	if (o->color != RB_COLOR_AUTO)
		return o->color == RB_COLOR_ALWAYS;
	return isatty(fd) && !(no && *no) && !(term && !strcmp(term, "dumb"));
}

rb_sink *rb_sink_terminal_new(const rb_terminal_opts *o)
{
	term_sink *t = rb_xcalloc(1, sizeof *t);
	const char *term = getenv("TERM");
	t->base.name = "terminal";
	t->base.wants = RB_SINK_OUTPUT;
	t->base.event = term_event;
	t->base.tick = term_tick;
	t->base.close = term_close;
	if (o)
		t->o = *o;
	for (int fd = 1; fd <= 2; fd++) {
		t->tty[fd] = isatty(fd);
		t->color[fd] = color_on(&t->o, fd);
	}
	t->live = t->tty[stream_of(t, 1)] && !t->o.plain && !(term && !strcmp(term, "dumb"));
	if (t->live)
		t->base.wants |= RB_SINK_TICKS;
	return &t->base;
}
