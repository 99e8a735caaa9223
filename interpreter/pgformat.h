/*
 * pgformat.h - a query result printed as psql 15 prints it, byte for byte:
 * the aligned table (psql's default), the expanded display (\x), the
 * unaligned format and CSV (\pset format). sqlexec.c prints every
 * row-returning statement's result through here.
 *
 * What psql does and this does too (psql's src/fe_utils/print.c and
 * mbprint.c, border 1, the ascii line style, no pager, output not a
 * terminal):
 *   - aligned: headers centred, `-+-` under them, cells left-aligned but
 *     for the numeric types psql right-aligns (rb_pgfmt_align), SQL NULL
 *     printed empty, a value's embedded newlines continued on the next line
 *     with `+` at the end of the line before, tabs expanded to 8 columns,
 *     \r and other control characters shown as `\r`, `\xHH`, `\uHHHH`,
 *     widths measured in display columns (a CJK character is 2), then
 *     `(N rows)` and an empty line;
 *   - expanded: `-[ RECORD n ]` lines, one `name | value` line per field,
 *     no row count (but `(0 rows)` when there is no row);
 *   - unaligned: fields joined by `|`, then `(N rows)`; expanded, one
 *     `name|value` line per field, records apart by an empty line;
 *   - csv: a header line, then rows, quoted where needed; expanded, one
 *     `name,value` line per field.
 * Text is taken as UTF-8 (invalid sequences are dropped, as psql drops
 * them); display widths are wcwidth's in a UTF-8 locale.
 *
 * When the table shows fewer rows than the result had (a sql step's
 * rows=), a line `... N more rows not shown` comes before the row count,
 * and the row count counts every row. That line is runbook's, not psql's.
 */
#ifndef RB_PGFORMAT_H
#define RB_PGFORMAT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum {
	RB_PGFMT_ALIGNED = 0,  /* psql's default */
	RB_PGFMT_UNALIGNED,    /* psql -A, \pset format unaligned */
	RB_PGFMT_CSV           /* psql --csv, \pset format csv */
} rb_pgfmt_format;

/** How a table prints: psql's \pset format and \x. Zeroed: aligned, not expanded. */
typedef struct {
	rb_pgfmt_format format;
	int expanded;          /* \x on: one line per field */
} rb_pgfmt_opts;

/**
 * The value at (row, col), NUL-terminated, or NULL for SQL NULL. The
 * pointer needs to stay valid only until the next call.
 */
typedef const char *(*rb_pgfmt_cell_fn)(const void *src, size_t row, int col);

/** A result to print: nothing in it is owned here. */
typedef struct {
	int ncols;
	const char *const *names;  /* ncols column names */
	const char *aligns;        /* ncols: 'r' right, anything else left; NULL: all left */
	size_t nrows;              /* rows printed: 0 .. nrows-1 through cell */
	rb_pgfmt_cell_fn cell;
	const void *src;           /* handed to cell */
	int64_t total;             /* rows the result had (>= nrows); the row count says this */
} rb_pgfmt_table;

/**
 * Prints t on out as psql would with o (see above), then the note on rows
 * not shown when t->total > t->nrows. Writes in blocks of some 64 KiB, so a
 * line-buffered stream is not written once per line.
 */
void rb_pgfmt_print(FILE *out, const rb_pgfmt_opts *o, const rb_pgfmt_table *t);

/**
 * psql's alignment of a column of type oid: 'r' for int2, int4, int8,
 * float4, float8, numeric, oid, xid, xid8, cid and money; 'l' otherwise.
 */
char rb_pgfmt_align(unsigned int oid);

/** "aligned", "unaligned", "csv": the name psql gives a format. */
const char *rb_pgfmt_format_name(rb_pgfmt_format f);

#endif
