/*
 * diag.c - the diagnostics list.
 *
 * Messages quote the document (ids, attribute values, commands), so they
 * are printed with hidden characters made visible: a diagnostic about an
 * escape sequence must not be one.
 */
#include "diag.h"
#include "util.h"
#include "visible.h"

#include <stdarg.h>
#include <stdlib.h>

void rb_diags_add(rb_diags *d, rb_severity sev, const char *file, int line, int col,
		  const char *fmt, ...)
{
	if (d->count == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 8;
		d->items = rb_xrealloc(d->items, d->cap * sizeof *d->items);
	}
	rb_diag *g = &d->items[d->count++];
	rb_buf b = RB_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	rb_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	g->severity = sev;
	g->file = rb_xstrdup(file ? file : "");
	g->line = line;
	g->col = col;
	g->message = rb_buf_detach(&b);
	g->seq = d->count - 1;
	if (sev == RB_DIAG_ERROR)
		d->errors++;
	else
		d->warnings++;
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

void rb_diags_print(const rb_diags *d, FILE *out)
{
	for (size_t i = 0; i < d->count; i++) {
		const rb_diag *g = &d->items[i];
		char *file = rb_visible(g->file);
		char *message = rb_visible(g->message);
		fputs(file, out);
		if (g->line > 0) {
			fprintf(out, ":%d", g->line);
			if (g->col > 0)
				fprintf(out, ":%d", g->col);
		}
		fprintf(out, ": %s: %s\n", g->severity == RB_DIAG_ERROR ? "error" : "warning", message);
		free(message);
		free(file);
	}
}

void rb_diags_free(rb_diags *d)
{
	for (size_t i = 0; i < d->count; i++) {
		free(d->items[i].file);
		free(d->items[i].message);
	}
	free(d->items);
	d->items = NULL;
	d->count = d->cap = d->errors = d->warnings = 0;
}
