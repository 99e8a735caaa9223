/*
 * sink_github.c - the run under GitHub Actions (--github, or
 * GITHUB_ACTIONS=true): workflow commands on stdout (ghactions.h) around
 * what the terminal sink prints.
 *
 * - Every secret of the run is masked (::add-mask::; each line of a
 *   multi-line value, but lines too short to hide everywhere) before
 *   anything else is written, and a secret that becomes known during the
 *   run (a captured secret variable) before the next line: the redactor is
 *   looked at on every event, and this sink sees each event before the
 *   terminal does.
 * - Each step's header, output and result sit in a collapsible group
 *   (::group:: at its start, ::endgroup:: at its end).
 * - A failure is an annotation on the line that caused it: a step's error,
 *   a closed gate (one annotation, not also its error), a fired abort
 *   condition, an error of the run; ::warning for a step that allows
 *   failure (continue_on_error).
 * - At the end, a Markdown table of the steps is appended to the job's
 *   summary file (GITHUB_STEP_SUMMARY); close() reports a failed write.
 *
 * Step output passes through as it is: a workflow command in it is read by
 * the runner, as in any step of a workflow (pausing the runner's commands
 * around it would also print a tool's own ::add-mask:: lines unmasked).
 * Commands are written whole lines: after output that ends inside a line, a
 * newline first.
 */
#define _GNU_SOURCE
#include "events.h"
#include "ghactions.h"
#include "output.h"
#include "redact.h"
#include "visible.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What became of a step, for the summary. */
typedef struct {
	int seen;            /* started, skipped or ended */
	rb_status status;
	int64_t duration_ms; /* -1: unknown */
	int attempts;
} step_row;

typedef struct {
	rb_sink base;
	char *workspace;
	char *summary_path;
	const rb_redactor *redactor;
	size_t masked_upto;         /* the redactor's count when last looked at */
	rb_strset masked;           /* the lines already masked */
	int bol;                    /* stdout is at the start of a line */
	int in_group;
	const rb_step *gate_closed; /* its error is the gate's annotation, already written */
	step_row *rows;             /* one a step of the runbook */
	size_t nrows;
	char *failure;              /* why the summary could not be written */
} gh_sink;

/* Writes whole lines of workflow commands on stdout, after a newline when output left one open. */
static void emit(gh_sink *g, const rb_buf *b)
{
	if (!b->len)
		return;
	if (!g->bol)
		rb_out_write(1, "\n", 1);
	rb_out_write(1, b->data, b->len);
	g->bol = 1;
}

/* A line of a multi-line secret shorter than this ("}") is not masked: it would hide all such text in the log. */
#define MASK_LINE_MIN 4

/*
 * Appends ::add-mask:: for each line of value not masked before (the
 * runner masks line by line: a value with a newline would match nothing).
 */
static void mask_value(gh_sink *g, const char *value, rb_buf *out)
{
	const char *p = value;
	int multi = strchr(value, '\n') != NULL;
	while (*p) {
		size_t n = strcspn(p, "\n");
		char *line = rb_xstrndup(p, n);
		char *bare = rb_trim_dup(line);
		if (*bare && !(multi && strlen(bare) < MASK_LINE_MIN) && rb_strset_add(&g->masked, bare, 1)) {
			rb_buf_puts(out, "::add-mask::");
			rb_gh_escape_data(out, bare, strlen(bare));
			rb_buf_putc(out, '\n');
		}
		free(bare);
		free(line);
		p += n;
		if (*p)
			p++;
	}
}

/* Masks the secrets the redactor learnt since last time; written raw (output.c would hide them). */
static void mask_new(gh_sink *g)
{
	rb_buf b = RB_BUF_INIT;
	if (!g->redactor || g->redactor->count == g->masked_upto)
		return;
	/* The values are kept longest first: a new one may sit anywhere, so all are looked at. */
	for (size_t i = 0; i < g->redactor->count; i++)
		mask_value(g, g->redactor->values[i], &b);
	g->masked_upto = g->redactor->count;
	emit(g, &b);
	rb_buf_free(&b);
}

/* The row of the event's step (one of the runbook's steps), or NULL. */
static step_row *row(gh_sink *g, const rb_ev *ev)
{
	if (!ev->step || !ev->runbook || !ev->runbook->steps)
		return NULL;
	uintptr_t at = (uintptr_t)ev->step, first = (uintptr_t)ev->runbook->steps;
	if (at < first || (at - first) % sizeof *ev->step)
		return NULL;
	size_t i = (at - first) / sizeof *ev->step;
	if (i >= ev->runbook->nsteps)
		return NULL;
	if (!g->rows) {
		g->nrows = ev->runbook->nsteps;
		g->rows = rb_xcalloc(g->nrows ? g->nrows : 1, sizeof *g->rows);
	}
	return i < g->nrows ? &g->rows[i] : NULL;
}

static void group_end(gh_sink *g)
{
	if (!g->in_group)
		return;
	rb_buf b = RB_BUF_INIT;
	rb_buf_puts(&b, "::endgroup::\n");
	emit(g, &b);
	rb_buf_free(&b);
	g->in_group = 0;
}

/* ::group::[3/12] Section › id */
static void group_start(gh_sink *g, const rb_ev *ev)
{
	rb_buf path = RB_BUF_INIT, title = RB_BUF_INIT, b = RB_BUF_INIT;
	group_end(g);
	rb_section_path(ev->runbook, ev->step->section, &path);
	rb_buf_printf(&title, "%s%s%s%s%s", ev->counter ? ev->counter : "", ev->counter ? " " : "", rb_buf_cstr(&path),
		      path.len ? " \xe2\x80\xba " : "", ev->step->id);
	char *v = rb_visible(rb_buf_cstr(&title));
	rb_buf_puts(&b, "::group::");
	rb_gh_escape_data(&b, v, strlen(v));
	rb_buf_putc(&b, '\n');
	emit(g, &b);
	g->in_group = 1;
	free(v);
	rb_buf_free(&path);
	rb_buf_free(&title);
	rb_buf_free(&b);
}

/* Output that ended inside a line is over (the step's result follows): a newline. */
static void line_end(gh_sink *g)
{
	if (!g->bol)
		rb_out_write(1, "\n", 1);
	g->bol = 1;
}

/* One annotation; the message is hidden once more (the run's secrets) before it is escaped. */
static void annotate(gh_sink *g, const char *level, const char *file, int line, int col, const char *title,
		     const char *message)
{
	rb_buf b = RB_BUF_INIT;
	char *m = rb_redact(g->redactor, message ? message : "");
	rb_gh_note n = {level, file, line, col, title, m};
	rb_gh_annotation(&b, g->workspace, &n);
	emit(g, &b);
	rb_buf_free(&b);
	free(m);
}

/* "step 'migrate' failed", "undo step 'x' failed" ... Caller frees. */
static char *step_title(const rb_step *s, const char *what)
{
	const char *role = s->role == RB_ROLE_ON_FAILURE ? "failure handler step"
			   : s->role == RB_ROLE_UNDO	 ? "undo step"
							 : "step";
	return rb_xasprintf("%s '%s' %s", role, s->id, what);
}

/*
 * An error: at file:line:col, the runbook when no file is given, the step's
 * fence when no line is. A step that allows failure gets a warning; the
 * error a closed gate repeats gets nothing (the gate said it).
 */
static void on_error(gh_sink *g, const rb_ev *ev)
{
	const rb_step *s = ev->step;
	const char *path = ev->runbook ? ev->runbook->path : NULL;
	const char *file = ev->file ? ev->file : path;
	int line = ev->line, col = ev->col;
	if (s && s == g->gate_closed) {
		g->gate_closed = NULL;
		return;
	}
	if (!line && s && (!ev->file || (path && !strcmp(ev->file, path)))) {
		line = s->line;
		col = s->col;
	}
	int allowed = s && s->role == RB_ROLE_MAIN && s->continue_on_error;
	char *title = s ? step_title(s, allowed ? "failed (allowed)" : "failed") : rb_xstrdup("runbook error");
	annotate(g, allowed ? "warning" : "error", file, line, col, title, ev->text);
	free(title);
}

static void on_gate(gh_sink *g, const rb_ev *ev)
{
	if (ev->status != RB_STATUS_FAILED || !ev->step)
		return;
	char *title = rb_xasprintf("gate '%s' closed", ev->step->id);
	annotate(g, "error", ev->runbook->path, ev->step->line, ev->step->col, title,
		 ev->text ? ev->text : "the gate returned false");
	g->gate_closed = ev->step;
	free(title);
}

static void on_abort(gh_sink *g, const rb_ev *ev)
{
	const rb_step *s = ev->step;
	char *title = rb_xasprintf("abort condition '%s' fired", s ? s->id : "?");
	annotate(g, "error", ev->runbook->path, s ? s->line : 0, s ? s->col : 0, title,
		 ev->text ? ev->text : "an abort condition fired");
	free(title);
}

/* Text for a Markdown table cell or heading: one line, nothing taken as markup or HTML. */
static void md_text(rb_buf *b, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\n' || c == '\r' || c == '\t')
			rb_buf_putc(b, ' ');
		else if (c < 0x20 || c == 0x7f)
			continue;
		else if (c == '<')
			rb_buf_puts(b, "&lt;");
		else if (c == '>')
			rb_buf_puts(b, "&gt;");
		else if (c == '&')
			rb_buf_puts(b, "&amp;");
		else if (strchr("|\\`*_[]#~", c))
			rb_buf_printf(b, "\\%c", c);
		else
			rb_buf_putc(b, (char)c);
	}
}

/* One row: step (role, section path, id), status, duration, attempts. */
static void summary_row(rb_buf *b, const rb_runbook *rb, const rb_step *s, const step_row *r)
{
	rb_buf path = RB_BUF_INIT;
	char d[32] = "";
	rb_buf_puts(b, "| ");
	if (s->role == RB_ROLE_ON_FAILURE)
		rb_buf_puts(b, "on failure: ");
	else if (s->role == RB_ROLE_UNDO)
		rb_buf_puts(b, "undo: ");
	rb_section_path(rb, s->section, &path);
	if (path.len) {
		md_text(b, path.data);
		rb_buf_puts(b, " \xe2\x80\xba ");
	}
	md_text(b, s->id);
	if (r && r->seen && r->duration_ms >= 0 && r->status != RB_STATUS_SKIPPED)
		rb_format_duration(r->duration_ms, d, sizeof d);
	rb_buf_printf(b, " | %s | %s | ", r && r->seen ? rb_status_name(r->status) : "not reached", d);
	if (r && r->seen && r->attempts > 0)
		rb_buf_printf(b, "%d", r->attempts);
	rb_buf_puts(b, " |\n");
	rb_buf_free(&path);
}

/* The Markdown of the job summary: a heading with the result, the summary line, the table. */
static void summary_render(const gh_sink *g, const rb_ev *ev, rb_buf *b)
{
	const rb_runbook *rb = ev->runbook;
	rb_buf_puts(b, "### ");
	md_text(b, rb->title);
	if (ev->exit_code == 0)
		rb_buf_puts(b, ": succeeded\n\n");
	else
		rb_buf_printf(b, ": failed (exit %d)\n\n", ev->exit_code);
	if (ev->text && *ev->text) {
		md_text(b, ev->text);
		rb_buf_puts(b, "\n\n");
	}
	rb_buf_puts(b, "| step | status | duration | attempts |\n| --- | --- | --- | --- |\n");
	for (size_t i = 0; i < rb->nsteps; i++) {
		const rb_step *s = &rb->steps[i];
		const step_row *r = i < g->nrows ? &g->rows[i] : NULL;
		if (!rb_step_runnable(s) || s->kind == RB_STEP_ABORT)
			continue;
		/* The main flow whole; the handler and undos as far as they ran. */
		if (s->role != RB_ROLE_MAIN && !(r && r->seen))
			continue;
		summary_row(b, rb, s, r);
	}
	rb_buf_putc(b, '\n');
}

/* Appends the summary to GITHUB_STEP_SUMMARY; a failure is kept for close(). */
static void summary_write(gh_sink *g, const rb_ev *ev)
{
	rb_buf b = RB_BUF_INIT;
	if (!g->summary_path || !ev->runbook || g->failure)
		return;
	summary_render(g, ev, &b);
	char *text = rb_redact(g->redactor, rb_buf_cstr(&b));
	int e = 0;
	int fd = open(g->summary_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0666);
	if (fd < 0)
		e = errno;
	else
		e = rb_write_all(fd, text, strlen(text), NULL);
	if (fd >= 0 && close(fd) < 0 && !e)
		e = errno;
	if (e)
		g->failure = rb_xasprintf("GITHUB_STEP_SUMMARY %s: the job summary could not be written: %s",
					  g->summary_path, strerror(e));
	free(text);
	rb_buf_free(&b);
}

static void step_end(gh_sink *g, const rb_ev *ev)
{
	step_row *r = row(g, ev);
	if (r) {
		r->seen = 1;
		r->status = ev->status;
		r->duration_ms = ev->duration_ms;
		r->attempts = ev->attempts;
	}
	line_end(g);
	group_end(g);
}

static void gh_event(rb_sink *self, const rb_ev *ev)
{
	gh_sink *g = (gh_sink *)self;
	step_row *r;
	mask_new(g); /* before anything else: a secret learnt since the last event */
	switch (ev->type) {
	case RB_EV_STEP_OUTPUT:
		if (ev->stream == 1 && ev->len)
			g->bol = ev->data[ev->len - 1] == '\n';
		break;
	case RB_EV_STEP_START:
		if ((r = row(g, ev)) != NULL)
			*r = (step_row){1, RB_STATUS_NOT_REACHED, -1, 0};
		group_start(g, ev);
		break;
	case RB_EV_STEP_RESULT:
		line_end(g);
		break;
	case RB_EV_STEP_END:
		step_end(g, ev);
		break;
	case RB_EV_STEP_SKIPPED:
		if ((r = row(g, ev)) != NULL)
			*r = (step_row){1, RB_STATUS_SKIPPED, -1, 0};
		break;
	case RB_EV_GATE:
		on_gate(g, ev);
		break;
	case RB_EV_ABORT_FIRED:
		on_abort(g, ev);
		break;
	case RB_EV_ERROR:
		on_error(g, ev);
		break;
	case RB_EV_RUN_END:
		line_end(g);
		group_end(g);
		summary_write(g, ev);
		break;
	default:
		break;
	}
}

static int gh_close(rb_sink *self, rb_error *err)
{
	gh_sink *g = (gh_sink *)self;
	int rc = 0;
	if (g->failure)
		rc = rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "%s", g->failure);
	rb_strset_free(&g->masked);
	free(g->rows);
	free(g->failure);
	free(g->workspace);
	free(g->summary_path);
	free(g);
	return rc;
}

rb_sink *rb_sink_github_new(const rb_github_opts *o)
{
	gh_sink *g = rb_xcalloc(1, sizeof *g);
	g->base.name = "github";
	g->base.wants = RB_SINK_OUTPUT; /* to know where a line ends */
	g->base.event = gh_event;
	g->base.close = gh_close;
	g->bol = 1;
	if (o) {
		g->workspace = o->workspace && *o->workspace ? rb_xstrdup(o->workspace) : NULL;
		g->summary_path = o->step_summary && *o->step_summary ? rb_xstrdup(o->step_summary) : NULL;
		g->redactor = o->redactor;
	}
	mask_new(g); /* the secrets known now, before the run prints anything */
	return &g->base;
}
