/*
 * diag.c - the diagnostics list.
 *
 * Messages quote the document (ids, attribute values, commands), so they
 * are printed with hidden characters made visible: a diagnostic about an
 * escape sequence must not be one.
 */
#include "diag.h"
#include "srcmap.h"
#include "util.h"
#include "visible.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

static void add(rb_diags *d, rb_severity sev, const char *rule, const char *file, int line, int col,
		const char *fmt, va_list ap) __attribute__((format(printf, 7, 0)));
static void add(rb_diags *d, rb_severity sev, const char *rule, const char *file, int line, int col,
		const char *fmt, va_list ap)
{
	if (d->count == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 8;
		d->items = rb_xrealloc(d->items, d->cap * sizeof *d->items);
	}
	rb_diag *g = &d->items[d->count++];
	rb_buf b = RB_BUF_INIT;
	rb_buf_vprintf(&b, fmt, ap);
	g->severity = sev;
	g->file = rb_xstrdup(file ? file : "");
	g->line = line;
	g->col = col;
	g->message = rb_buf_detach(&b);
	g->rule = rule ? rb_xstrdup(rule) : NULL;
	g->seq = d->count - 1;
	if (sev == RB_DIAG_ERROR)
		d->errors++;
	else
		d->warnings++;
}

void rb_diags_add(rb_diags *d, rb_severity sev, const char *file, int line, int col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add(d, sev, NULL, file, line, col, fmt, ap);
	va_end(ap);
}

void rb_diags_add_rule(rb_diags *d, rb_severity sev, const char *rule, const char *file, int line, int col,
		       const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add(d, sev, rule, file, line, col, fmt, ap);
	va_end(ap);
}

static int by_position(const void *a, const void *b)
{
	const rb_diag *x = a, *y = b;
	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	if (x->col != y->col)
		return x->col < y->col ? -1 : 1;
	return x->seq < y->seq ? -1 : (x->seq > y->seq);
}

void rb_diags_sort(rb_diags *d)
{
	if (d->count > 1)
		qsort(d->items, d->count, sizeof *d->items, by_position);
}

void rb_diags_set_source(rb_diags *d, const char *file, const char *text, size_t len)
{
	free(d->source_file);
	free(d->source);
	d->source_file = rb_xstrdup(file ? file : "");
	d->source = rb_xmalloc(len + 1);
	if (len)
		memcpy(d->source, text, len);
	d->source[len] = '\0';
	d->source_len = len;
}

/* 1 when g gets its source line under it. */
static int has_excerpt(const rb_diags *d, const rb_diag *g)
{
	return g->severity == RB_DIAG_ERROR && g->line > 0 && d->source && !strcmp(g->file, d->source_file);
}

void rb_diags_render(const rb_diags *d, rb_buf *out)
{
	rb_srcmap map;
	int mapped = 0;
	for (size_t i = 0; i < d->count; i++) {
		const rb_diag *g = &d->items[i];
		rb_visible_into(g->file, strlen(g->file), out);
		if (g->line > 0) {
			rb_buf_printf(out, ":%d", g->line);
			if (g->col > 0)
				rb_buf_printf(out, ":%d", g->col);
		}
		rb_buf_printf(out, ": %s: ", g->severity == RB_DIAG_ERROR ? "error" : "warning");
		rb_visible_into(g->message, strlen(g->message), out);
		rb_buf_putc(out, '\n');
		if (!has_excerpt(d, g))
			continue;
		if (!mapped) {
			rb_srcmap_init(&map, d->source, d->source_len, 1, 1);
			mapped = 1;
		}
		rb_srcmap_excerpt(&map, g->line, g->col, out);
	}
	if (mapped)
		rb_srcmap_free(&map);
}

void rb_diags_free(rb_diags *d)
{
	for (size_t i = 0; i < d->count; i++) {
		free(d->items[i].file);
		free(d->items[i].message);
		free(d->items[i].rule);
	}
	free(d->items);
	free(d->source_file);
	free(d->source);
	d->items = NULL;
	d->source_file = d->source = NULL;
	d->count = d->cap = d->errors = d->warnings = d->source_len = 0;
}

void rb_suggest_offer(rb_suggest *s, const char *candidate)
{
	if (!candidate || !*candidate || !strcmp(candidate, s->name))
		return;
	size_t d = rb_edit_distance(s->name, candidate);
	if (d < s->dist) {
		s->dist = d;
		s->best = candidate;
	}
}

char *rb_suggest_hint(const rb_suggest *s)
{
	return s->best ? rb_xasprintf(" (did you mean '%s'?)", s->best) : rb_xstrdup("");
}
