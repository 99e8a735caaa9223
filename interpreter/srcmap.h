/*
 * srcmap.h - where an offset of a source text is: the line map of one text
 * (a runbook, a block's body, a statement), after jq's locfile.
 *
 * A map is built once over a text (an array of line-start offsets) and then
 * answers in O(log lines): offset -> line and column, line -> offset,
 * PostgreSQL's character position -> offset, and an excerpt of a line with
 * a caret under a column, as compilers print them under a diagnostic.
 *
 * Lines end as CommonMark ends them: "\n", "\r\n" or a lone "\r", so the
 * lines of a map over a runbook are cmark's lines. A line's terminator
 * belongs to the line it ends. A text that ends with a terminator has one
 * more, empty, line after it; an empty text has one empty line.
 *
 * Positions are those of the file the text was cut from: the map knows the
 * line and column of the text's first byte (a SQL block's body starts at
 * its body line, at the column of the block). Lines and columns are 1-based.
 *
 * Columns come in two units, because callers count both and tests pin
 * each one's meaning:
 *   bytes       rb_srcmap_locate: cmark's columns and every column of a
 *               diagnostic (attributes, SQL items, :VAR references, hidden
 *               characters in a block, rb_srcmap_excerpt's caret)
 *   characters  rb_srcmap_locate_chars: UTF-8 characters, as PostgreSQL
 *               counts a statement's error position (sqlexec.c maps it to
 *               the runbook in characters) and as lint.c places a lone
 *               carriage return at the end of a line
 *
 * Ownership: the map does not own the text, which must outlive it; it owns
 * its line array, released by rb_srcmap_free.
 */
#ifndef RB_SRCMAP_H
#define RB_SRCMAP_H

#include <stddef.h>

#include "util.h"

typedef struct {
	const char *text;     /* not owned; may hold NUL bytes (len counts) */
	size_t len;
	int line;             /* line of text[0] in its file */
	int col;              /* column of text[0] on that line */
	int margin;           /* column where every later line starts (see the inits) */
	size_t *starts;       /* owned: offset of each line's first byte; starts[0] == 0 */
	size_t nlines;        /* >= 1 */
} rb_srcmap;

/**
 * Maps text[0..len), whose first byte is at line:col of its file; the
 * later lines start at column 1 (a text cut out of a file at a position:
 * a statement, the whole runbook with 1, 1).
 */
void rb_srcmap_init(rb_srcmap *m, const char *text, size_t len, int line, int col);

/**
 * Maps a block's body whose every line starts at column col: the parser
 * removed the list-item indentation of each line, and the body's columns
 * are counted from the block's own column.
 */
void rb_srcmap_init_block(rb_srcmap *m, const char *text, size_t len, int line, int col);

/** Releases the line array (the text is the caller's). */
void rb_srcmap_free(rb_srcmap *m);

/** Line and byte column of offset off; an offset past the end is the end. */
void rb_srcmap_locate(const rb_srcmap *m, size_t off, int *line, int *col);

/** Line and character column (UTF-8 characters before off on its line) of off. */
void rb_srcmap_locate_chars(const rb_srcmap *m, size_t off, int *line, int *col);

/**
 * The byte offset where line (a line of the file) starts: 0 before the
 * text's first line, the text's length past its last line.
 */
size_t rb_srcmap_line_offset(const rb_srcmap *m, int line);

/**
 * The span of line: *start its first byte, *end its terminator (or the
 * end of the text). 0, or -1 when the text has no such line.
 */
int rb_srcmap_line_span(const rb_srcmap *m, int line, size_t *start, size_t *end);

/**
 * The offset of character pos, counted from 1 at text[0] in UTF-8
 * characters as PostgreSQL's error position counts them: 0 for pos <= 1,
 * the text's length past its end.
 */
size_t rb_srcmap_char_offset(const rb_srcmap *m, long pos);

/**
 * Appends line with a gutter, and under it a caret under byte column col
 * (none when col is 0; just after the line's end when col is past it):
 *
 *       6 | ```bash {timout=5s}
 *         |          ^
 *
 * Tabs are kept, in the caret line too, so the caret lines up; hidden and
 * control characters are shown as visible.h shows them (rb_visible) and
 * bytes that are not UTF-8 as \xNN, the caret counting what is shown.
 * Returns 0, or -1 (nothing appended) when the text has no such line.
 */
int rb_srcmap_excerpt(const rb_srcmap *m, int line, int col, rb_buf *out);

#endif
