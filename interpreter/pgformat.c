/*
 * pgformat.c - psql's printing of a query result (pgformat.h). Each cell is
 * first cut into display lines as psql shows them (newlines split, tabs
 * expanded, control characters escaped, widths in display columns), then
 * the lines are laid out as psql lays out its aligned, expanded, unaligned
 * and CSV output. Written from psql's behaviour, checked against psql 15
 * (tests/cli/psql-format.sh).
 */
#define _GNU_SOURCE
#include "pgformat.h"
#include "util.h"

#include <locale.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#define FLUSH_AT 65536

/* ---- output: a buffer written in blocks ---- */

typedef struct {
	FILE *f;
	rb_buf b;
} sink;

static void sink_flush(sink *s)
{
	if (s->b.len)
		fwrite(s->b.data, 1, s->b.len, s->f);
	s->b.len = 0;
}

static void put(sink *s, const char *p, size_t n)
{
	rb_buf_add(&s->b, p, n);
}

static void repeat(sink *s, char c, size_t n)
{
	rb_buf_grow(&s->b, n);
	memset(s->b.data + s->b.len, c, n);
	s->b.len += n;
	s->b.data[s->b.len] = '\0';
}

/* The end of an output line; the buffer goes out once it is big. */
static void eol(sink *s)
{
	put(s, "\n", 1);
	if (s->b.len >= FLUSH_AT)
		sink_flush(s);
}

/* ---- characters ---- */

/*
 * The length (1..4) of the valid UTF-8 character at p, its code point in
 * *cp; 0 when p starts no valid character (overlong, a surrogate, a
 * noncharacter, a cut sequence): psql drops such a byte.
 */
static int utf8_char(const unsigned char *p, uint32_t *cp)
{
	uint32_t c = p[0], v = 0;
	int n = 0;
	if (c < 0x80) {
		v = c;
		n = 1;
	} else if (c >= 0xC2 && c <= 0xDF && (p[1] & 0xC0) == 0x80) {
		v = ((c & 0x1F) << 6) | (p[1] & 0x3Fu);
		n = 2;
	} else if (c >= 0xE0 && c <= 0xEF && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80) {
		v = ((c & 0x0F) << 12) | ((p[1] & 0x3Fu) << 6) | (p[2] & 0x3Fu);
		n = v >= 0x800 && (v < 0xD800 || v > 0xDFFF) && (v < 0xFDD0 || v > 0xFDEF) ? 3 : 0;
	} else if (c >= 0xF0 && c <= 0xF4 && (p[1] & 0xC0) == 0x80 && (p[2] & 0xC0) == 0x80 &&
		   (p[3] & 0xC0) == 0x80) {
		v = ((c & 0x07) << 18) | ((p[1] & 0x3Fu) << 12) | ((p[2] & 0x3Fu) << 6) | (p[3] & 0x3Fu);
		n = v >= 0x10000 && v <= 0x10FFFF ? 4 : 0;
	}
	if (n > 1 && (v & 0xFFFE) == 0xFFFE)
		n = 0;
	*cp = v;
	return n;
}

/* A UTF-8 locale for wcwidth, made once; (locale_t)0 when there is none. */
static locale_t utf8_locale(void)
{
	static int tried;
	static locale_t loc;
	if (!tried) {
		tried = 1;
		loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
		if (!loc)
			loc = newlocale(LC_CTYPE_MASK, "en_US.UTF-8", (locale_t)0);
	}
	return loc;
}

/*
 * Display columns of code point cp as psql counts them: -1 for a control
 * character (shown escaped), 0 for a combining one, 2 for a wide one, else
 * 1 (also for what wcwidth does not know: psql counts it as 1).
 */
static int char_width(uint32_t cp)
{
	if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0))
		return -1;
	if (cp < 0x7F)
		return 1;
	int w = wcwidth((wchar_t)cp);
	return w < 0 ? 1 : w;
}

/* Copies n bytes of text to the output without its invalid UTF-8 bytes (psql drops them). */
static void put_valid_n(sink *s, const char *text, size_t n)
{
	const unsigned char *p = (const unsigned char *)text, *end = p + n;
	while (p < end) {
		const unsigned char *q = p;
		uint32_t cp;
		while (q < end && *q < 0x80)
			q++;
		put(s, (const char *)p, (size_t)(q - p));
		for (p = q; p < end && *p >= 0x80;) {
			int k = utf8_char(p, &cp);
			if (k && p + k <= end)
				put(s, (const char *)p, (size_t)k);
			p += k ? k : 1;
		}
	}
}

static void put_valid(sink *s, const char *text)
{
	put_valid_n(s, text, strlen(text));
}

/* ---- a cell in display lines ---- */

typedef struct {
	size_t off;     /* in text */
	size_t len;
	size_t width;   /* display columns */
} line;

typedef struct {
	rb_buf text;    /* the lines, one after the other */
	line *lines;
	size_t n;
	size_t cap;
	size_t width;   /* of the widest line */
} cellfmt;

static void line_start(cellfmt *f)
{
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 4;
		f->lines = rb_xrealloc(f->lines, f->cap * sizeof *f->lines);
	}
	f->lines[f->n].off = f->text.len;
	f->lines[f->n].len = 0;
	f->lines[f->n].width = 0;
	f->n++;
}

static void line_end(cellfmt *f, size_t w)
{
	line *l = &f->lines[f->n - 1];
	l->len = f->text.len - l->off;
	l->width = w;
	if (w > f->width)
		f->width = w;
}

/* One character that is not printable ASCII at p into f; returns the bytes taken. */
static size_t format_special(cellfmt *f, const unsigned char *p, size_t *w)
{
	char esc[16];
	uint32_t cp;
	int n = 1, cw;
	if (*p == '\n') {
		line_end(f, *w);
		line_start(f);
		*w = 0;
	} else if (*p == '\r') {
		rb_buf_add(&f->text, "\\r", 2);
		*w += 2;
	} else if (*p == '\t') {
		do {
			rb_buf_putc(&f->text, ' ');
			(*w)++;
		} while (*w % 8);
	} else if (*p < 0x80) {
		snprintf(esc, sizeof esc, "\\x%02X", *p);
		rb_buf_add(&f->text, esc, 4);
		*w += 4;
	} else if ((n = utf8_char(p, &cp)) == 0) {
		n = 1; /* dropped */
	} else if ((cw = char_width(cp)) < 0) {
		snprintf(esc, sizeof esc, "\\u%04X", (unsigned)cp);
		rb_buf_puts(&f->text, esc);
		*w += 6;
	} else {
		rb_buf_add(&f->text, (const char *)p, (size_t)n);
		*w += (size_t)cw;
	}
	return (size_t)n;
}

/* v cut into the display lines psql shows (its mbprint.c's rules). */
static void format_cell(cellfmt *f, const char *v)
{
	const unsigned char *p = (const unsigned char *)v;
	size_t w = 0;
	f->text.len = 0;
	f->n = 0;
	f->width = 0;
	line_start(f);
	while (*p) {
		const unsigned char *q = p;
		while (*q >= 0x20 && *q < 0x7F)
			q++;
		if (q > p) {
			rb_buf_add(&f->text, (const char *)p, (size_t)(q - p));
			w += (size_t)(q - p);
			p = q;
		} else {
			p += format_special(f, p, &w);
		}
	}
	line_end(f, w);
}

static const char *line_text(const cellfmt *f, size_t k)
{
	return f->text.data ? f->text.data + f->lines[k].off : "";
}

static void put_line(sink *s, const cellfmt *f, size_t k)
{
	put(s, line_text(f, k), f->lines[k].len);
}

/* The width and line count of v; plain ASCII text is measured without formatting. */
static void measure(cellfmt *scratch, const char *v, size_t *width, size_t *lines)
{
	const unsigned char *p = (const unsigned char *)v;
	while (*p >= 0x20 && *p < 0x7F)
		p++;
	if (!*p) {
		*width = (size_t)(p - (const unsigned char *)v);
		*lines = 1;
	} else {
		format_cell(scratch, v);
		*width = scratch->width;
		*lines = scratch->n;
	}
}

static void cells_free(cellfmt *f, size_t n)
{
	for (size_t i = 0; f && i < n; i++) {
		rb_buf_free(&f[i].text);
		free(f[i].lines);
	}
	free(f);
}

/* ---- the table ---- */

static const char *cell_at(const rb_pgfmt_table *t, size_t row, int col)
{
	const char *v = t->cell(t->src, row, col);
	return v ? v : "";
}

static int right_aligned(const rb_pgfmt_table *t, int col)
{
	return t->aligns && t->aligns[col] == 'r';
}

/* "... N more rows not shown" when the table shows fewer rows than the result had. */
static void not_shown(sink *s, const rb_pgfmt_table *t, int newline)
{
	if (t->total <= (int64_t)t->nrows)
		return;
	long long more = (long long)(t->total - (int64_t)t->nrows);
	char b[80];
	int k = snprintf(b, sizeof b, "... %lld more row%s not shown", more, more == 1 ? "" : "s");
	put(s, b, (size_t)k);
	if (newline)
		eol(s);
}

/* psql's "(N rows)", without its newline. */
static void row_count(sink *s, const rb_pgfmt_table *t)
{
	long long n = (long long)(t->total > (int64_t)t->nrows ? t->total : (int64_t)t->nrows);
	char b[48];
	int k = snprintf(b, sizeof b, "(%lld row%s)", n, n == 1 ? "" : "s");
	put(s, b, (size_t)k);
}

/* The widest line of each column, its header included. Caller frees. */
static size_t *column_widths(const rb_pgfmt_table *t, cellfmt *scratch)
{
	size_t *w = rb_xcalloc((size_t)t->ncols + 1, sizeof *w);
	size_t width, lines;
	for (int c = 0; c < t->ncols; c++) {
		measure(scratch, t->names[c], &width, &lines);
		w[c] = width;
	}
	for (size_t r = 0; r < t->nrows; r++)
		for (int c = 0; c < t->ncols; c++) {
			measure(scratch, cell_at(t, r, c), &width, &lines);
			if (width > w[c])
				w[c] = width;
		}
	return w;
}

/* The header: each name centred; a name's further lines below it, '+' ending the line before. */
static void aligned_header(sink *s, const rb_pgfmt_table *t, const size_t *w, cellfmt *f)
{
	size_t height = 0;
	for (int c = 0; c < t->ncols; c++) {
		format_cell(&f[c], t->names[c]);
		if (f[c].n > height)
			height = f[c].n;
	}
	for (size_t k = 0; k < height; k++) {
		for (int c = 0; c < t->ncols; c++) {
			put(s, " ", 1);
			if (k < f[c].n) {
				size_t nb = w[c] - f[c].lines[k].width;
				repeat(s, ' ', nb / 2);
				put_line(s, &f[c], k);
				repeat(s, ' ', (nb + 1) / 2);
				put(s, k + 1 < f[c].n ? "+" : " ", 1);
			} else {
				repeat(s, ' ', w[c]);
				put(s, " ", 1);
			}
			if (c + 1 < t->ncols)
				put(s, "|", 1);
		}
		eol(s);
	}
	put(s, "-", 1);
	for (int c = 0; c < t->ncols; c++) {
		repeat(s, '-', w[c]);
		if (c + 1 < t->ncols)
			put(s, "-+-", 3);
	}
	put(s, "-", 1);
	eol(s);
}

/* One row: as many output lines as its tallest cell; a cell that goes on ends its line with '+'. */
static void aligned_row(sink *s, const rb_pgfmt_table *t, size_t row, const size_t *w, cellfmt *f, size_t *cur)
{
	int more;
	for (int c = 0; c < t->ncols; c++) {
		format_cell(&f[c], cell_at(t, row, c));
		cur[c] = 0;
	}
	do {
		more = 0;
		for (int c = 0; c < t->ncols; c++) {
			int last = c + 1 == t->ncols, right = right_aligned(t, c);
			size_t shown = w[c];
			put(s, " ", 1);
			if (cur[c] >= f[c].n) {
				if (!last)
					repeat(s, ' ', w[c]);
			} else {
				shown = f[c].lines[cur[c]].width;
				if (right)
					repeat(s, ' ', w[c] - shown);
				put_line(s, &f[c], cur[c]);
				cur[c]++;
			}
			int goes_on = cur[c] < f[c].n;
			more |= goes_on;
			if (!right && (!last || goes_on))
				repeat(s, ' ', w[c] - shown);
			if (goes_on)
				put(s, "+", 1);
			else if (!last)
				put(s, " ", 1);
			if (!last)
				put(s, "|", 1);
		}
		eol(s);
	} while (more);
}

static void print_aligned(sink *s, const rb_pgfmt_table *t)
{
	cellfmt scratch;
	memset(&scratch, 0, sizeof scratch);
	size_t *w = column_widths(t, &scratch);
	cellfmt *f = rb_xcalloc((size_t)t->ncols + 1, sizeof *f);
	size_t *cur = rb_xcalloc((size_t)t->ncols + 1, sizeof *cur);
	aligned_header(s, t, w, f);
	for (size_t r = 0; t->ncols && r < t->nrows; r++) /* psql prints no line for a row without columns */
		aligned_row(s, t, r, w, f, cur);
	not_shown(s, t, 1);
	row_count(s, t);
	eol(s);
	eol(s);
	cells_free(f, (size_t)t->ncols);
	rb_buf_free(&scratch.text);
	free(scratch.lines);
	free(cur);
	free(w);
}

/* ---- expanded (\x) ---- */

/* "-[ RECORD n ]" drawn across the name and value columns, as psql draws it. */
static void record_line(sink *s, size_t record, size_t hwidth, size_t dwidth)
{
	char b[48];
	int k = snprintf(b, sizeof b, "-[ RECORD %zu ]", record);
	put(s, b, (size_t)k);
	long rest = k;
	if ((long)hwidth > rest)
		repeat(s, '-', hwidth - (size_t)rest);
	rest -= (long)hwidth;
	if (rest-- <= 0)
		put(s, "-", 1);
	if (rest-- <= 0)
		put(s, "+", 1);
	if (rest-- <= 0)
		put(s, "-", 1);
	if (rest < 0)
		rest = 0;
	if ((long)dwidth > rest)
		repeat(s, '-', dwidth - (size_t)rest);
	eol(s);
}

/* One field: "name | value", the longer of the two deciding how many lines. */
static void expanded_field(sink *s, const cellfmt *h, const cellfmt *d, size_t hwidth, size_t dwidth,
			   int multiline)
{
	size_t hl = 0, dl = 0;
	int hdone = 0, ddone = 0;
	while (!hdone || !ddone) {
		if (!hdone) {
			put_line(s, h, hl);
			repeat(s, ' ', hwidth - h->lines[hl].width);
			hdone = hl + 1 >= h->n;
			put(s, hdone ? " " : "+", 1);
			hl += !hdone;
		} else {
			repeat(s, ' ', hwidth + 1);
		}
		put(s, "|", 1);
		if (!ddone) {
			put(s, " ", 1);
			put_line(s, d, dl);
			if (dl + 1 < d->n) {
				if (multiline) {
					repeat(s, ' ', dwidth - d->lines[dl].width);
					put(s, "+", 1);
				}
				dl++;
			} else {
				ddone = 1;
			}
		}
		eol(s);
	}
}

/* The records; psql prints only the row count when there is none (or no column). */
static void print_expanded(sink *s, const rb_pgfmt_table *t)
{
	cellfmt h, d;
	memset(&h, 0, sizeof h);
	memset(&d, 0, sizeof d);
	size_t hwidth = 0, dwidth = 0, width, lines;
	int multiline = 0;
	if (!t->nrows || !t->ncols) {
		not_shown(s, t, 1);
		row_count(s, t);
		eol(s);
		eol(s);
		goto done;
	}
	for (int c = 0; c < t->ncols; c++) {
		measure(&h, t->names[c], &width, &lines);
		hwidth = width > hwidth ? width : hwidth;
	}
	for (size_t r = 0; r < t->nrows; r++)
		for (int c = 0; c < t->ncols; c++) {
			measure(&d, cell_at(t, r, c), &width, &lines);
			dwidth = width > dwidth ? width : dwidth;
			multiline |= lines > 1;
		}
	for (size_t r = 0; r < t->nrows; r++) {
		record_line(s, r + 1, hwidth, dwidth);
		for (int c = 0; c < t->ncols; c++) {
			format_cell(&h, t->names[c]);
			format_cell(&d, cell_at(t, r, c));
			expanded_field(s, &h, &d, hwidth, dwidth, multiline);
		}
	}
	not_shown(s, t, 1);
	eol(s);
done:
	rb_buf_free(&h.text);
	rb_buf_free(&d.text);
	free(h.lines);
	free(d.lines);
}

/* ---- unaligned and csv ---- */

static void print_unaligned(sink *s, const rb_pgfmt_table *t, int expanded)
{
	int pending = 0; /* a line is open: its end comes before anything else */
	for (int c = 0; !expanded && c < t->ncols; c++) {
		if (c)
			put(s, "|", 1);
		put_valid(s, t->names[c]);
	}
	pending = !expanded;
	for (size_t r = 0; r < t->nrows; r++)
		for (int c = 0; c < t->ncols; c++) {
			if (pending)
				eol(s);
			if (pending && expanded && c == 0)
				eol(s);
			pending = 0;
			if (expanded) {
				put_valid(s, t->names[c]);
				put(s, "|", 1);
			}
			put_valid(s, cell_at(t, r, c));
			if (c + 1 < t->ncols)
				expanded ? eol(s) : put(s, "|", 1);
			else
				pending = 1;
		}
	if (t->total > (int64_t)t->nrows) {
		if (pending)
			eol(s);
		not_shown(s, t, 0);
		pending = 1;
	}
	if (!expanded) {
		if (pending)
			eol(s);
		row_count(s, t);
		pending = 1;
	}
	if (pending)
		eol(s);
}

/* A CSV field, quoted (its quotes doubled) when it holds the separator, a quote, CR, LF, or is "\\.". */
static void csv_field(sink *s, const char *v)
{
	int quoted = strpbrk(v, ",\r\n\"") || !strcmp(v, "\\.");
	if (quoted)
		put(s, "\"", 1);
	for (const char *q; quoted && (q = strchr(v, '"')); v = q + 1) {
		put_valid_n(s, v, (size_t)(q - v) + 1);
		put(s, "\"", 1);
	}
	put_valid(s, v);
	if (quoted)
		put(s, "\"", 1);
}

static void print_csv(sink *s, const rb_pgfmt_table *t, int expanded)
{
	for (int c = 0; !expanded && c < t->ncols; c++) {
		if (c)
			put(s, ",", 1);
		csv_field(s, t->names[c]);
	}
	if (!expanded)
		eol(s);
	for (size_t r = 0; r < t->nrows; r++)
		for (int c = 0; c < t->ncols; c++) {
			if (expanded) {
				csv_field(s, t->names[c]);
				put(s, ",", 1);
			}
			csv_field(s, cell_at(t, r, c));
			if (expanded || c + 1 == t->ncols)
				eol(s);
			else
				put(s, ",", 1);
		}
	not_shown(s, t, 1);
}

void rb_pgfmt_print(FILE *out, const rb_pgfmt_opts *o, const rb_pgfmt_table *t)
{
	sink s = {out, RB_BUF_INIT};
	locale_t loc = utf8_locale();
	locale_t old = loc ? uselocale(loc) : (locale_t)0;
	switch (o->format) {
	case RB_PGFMT_UNALIGNED:
		print_unaligned(&s, t, o->expanded);
		break;
	case RB_PGFMT_CSV:
		print_csv(&s, t, o->expanded);
		break;
	default:
		if (o->expanded)
			print_expanded(&s, t);
		else
			print_aligned(&s, t);
		break;
	}
	if (loc)
		uselocale(old);
	sink_flush(&s);
	rb_buf_free(&s.b);
}

char rb_pgfmt_align(unsigned int oid)
{
	switch (oid) {
	case 20: case 21: case 23:        /* int8, int2, int4 */
	case 26: case 28: case 29:        /* oid, xid, cid */
	case 700: case 701: case 790:     /* float4, float8, money */
	case 1700: case 5069:             /* numeric, xid8 */
		return 'r';
	default:
		return 'l';
	}
}

const char *rb_pgfmt_format_name(rb_pgfmt_format f)
{
	return f == RB_PGFMT_UNALIGNED ? "unaligned" : f == RB_PGFMT_CSV ? "csv" : "aligned";
}
