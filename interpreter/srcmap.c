/*
 * srcmap.c - the line map of a source text: line starts found once, then
 * binary search (as jq's locfile), and the excerpt under a diagnostic.
 */
#include "srcmap.h"
#include "visible.h"

#include <stdlib.h>
#include <string.h>

static void build(rb_srcmap *m, const char *text, size_t len, int line, int col, int margin)
{
	size_t cap = 16;
	memset(m, 0, sizeof *m);
	m->text = text ? text : "";
	m->len = text ? len : 0;
	m->line = line;
	m->col = col;
	m->margin = margin;
	m->starts = rb_xmalloc(cap * sizeof *m->starts);
	m->starts[m->nlines++] = 0;
	for (size_t i = 0; i < m->len; i++) {
		char ch = m->text[i];
		if (ch != '\n' && ch != '\r')
			continue;
		if (ch == '\r' && i + 1 < m->len && m->text[i + 1] == '\n')
			i++;
		if (m->nlines == cap) {
			cap *= 2;
			m->starts = rb_xrealloc(m->starts, cap * sizeof *m->starts);
		}
		m->starts[m->nlines++] = i + 1;
	}
}

void rb_srcmap_init(rb_srcmap *m, const char *text, size_t len, int line, int col)
{
	build(m, text, len, line, col, 1);
}

void rb_srcmap_init_block(rb_srcmap *m, const char *text, size_t len, int line, int col)
{
	build(m, text, len, line, col, col);
}

void rb_srcmap_free(rb_srcmap *m)
{
	free(m->starts);
	m->starts = NULL;
	m->nlines = 0;
}

/* The index of the line holding off (clamped to the text): the last start <= off. */
static size_t line_index(const rb_srcmap *m, size_t off)
{
	size_t lo = 0, hi = m->nlines;
	if (off > m->len)
		off = m->len;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (m->starts[mid] <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static int column_base(const rb_srcmap *m, size_t index)
{
	return index == 0 ? m->col : m->margin;
}

void rb_srcmap_locate(const rb_srcmap *m, size_t off, int *line, int *col)
{
	size_t k = line_index(m, off);
	if (off > m->len)
		off = m->len;
	*line = m->line + (int)k;
	*col = column_base(m, k) + (int)(off - m->starts[k]);
}

void rb_srcmap_locate_chars(const rb_srcmap *m, size_t off, int *line, int *col)
{
	size_t k = line_index(m, off);
	int n = 0;
	if (off > m->len)
		off = m->len;
	for (size_t i = m->starts[k]; i < off; i++)
		n += ((unsigned char)m->text[i] & 0xC0) != 0x80;
	*line = m->line + (int)k;
	*col = column_base(m, k) + n;
}

size_t rb_srcmap_line_offset(const rb_srcmap *m, int line)
{
	if (line < m->line)
		return 0;
	if ((size_t)(line - m->line) >= m->nlines)
		return m->len;
	return m->starts[line - m->line];
}

int rb_srcmap_line_span(const rb_srcmap *m, int line, size_t *start, size_t *end)
{
	if (line < m->line || (size_t)(line - m->line) >= m->nlines)
		return -1;
	size_t k = (size_t)(line - m->line);
	size_t e = k + 1 < m->nlines ? m->starts[k + 1] : m->len;
	/* Every line but the last ends with its terminator: leave it out. */
	if (k + 1 < m->nlines) {
		if (m->text[e - 1] == '\n' && e - 1 > m->starts[k] && m->text[e - 2] == '\r')
			e -= 2;
		else
			e -= 1;
	}
	*start = m->starts[k];
	*end = e;
	return 0;
}

size_t rb_srcmap_char_offset(const rb_srcmap *m, long pos)
{
	long n = 0;
	if (pos <= 1)
		return 0;
	for (size_t i = 0; i < m->len; i++) {
		if (((unsigned char)m->text[i] & 0xC0) == 0x80)
			continue;
		if (++n == pos)
			return i;
	}
	return m->len;
}

/* Bytes of the UTF-8 character at p (avail bytes there), or 0 when p starts no valid one. */
static size_t unit_length(const char *p, size_t avail)
{
	unsigned char c = (unsigned char)*p;
	size_t k = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
	if (k <= 1)
		return k;
	return k <= avail && rb_utf8_valid(p, k, NULL) ? k : 0;
}

int rb_srcmap_excerpt(const rb_srcmap *m, int line, int col, rb_buf *out)
{
	int rc = -1;
	size_t start, end;
	rb_buf shown = RB_BUF_INIT, pad = RB_BUF_INIT;
	if (rb_srcmap_line_span(m, line, &start, &end) < 0)
		goto done;
	int base = line == m->line ? m->col : m->margin;
	size_t at = col > base ? (size_t)(col - base) : 0;
	/* One character at a time: what the caret line needs under it is what
	 * was shown for it (a tab, or as many spaces as the characters shown). */
	for (size_t i = start; i < end;) {
		size_t n = unit_length(m->text + i, end - i);
		size_t before = shown.len;
		if (n)
			rb_visible_into(m->text + i, n, &shown);
		else
			rb_buf_printf(&shown, "\\x%02x", (unsigned char)m->text[i]);
		size_t step = n ? n : 1;
		if (i + step - start <= at) {
			if (m->text[i] == '\t')
				rb_buf_putc(&pad, '\t');
			for (size_t k = before; m->text[i] != '\t' && k < shown.len; k++)
				if (((unsigned char)shown.data[k] & 0xC0) != 0x80)
					rb_buf_putc(&pad, ' ');
		}
		i += step;
	}
	int width = 5;
	for (int l = line; l >= 100000; l /= 10)
		width++;
	rb_buf_printf(out, "%*d |%s%s\n", width, line, shown.len ? " " : "", rb_buf_cstr(&shown));
	if (col > 0)
		rb_buf_printf(out, "%*s | %s^\n", width, "", rb_buf_cstr(&pad));
	rc = 0;
done:
	rb_buf_free(&shown);
	rb_buf_free(&pad);
	return rc;
}
