/*
 * rows.h - the rows of one query result: what a sql step keeps of its last
 * result (captures, steps.ID.rows, sqlexec.h) and what Lua's sql() returns
 * (luavm.h's host callback), one type for both.
 *
 * Ownership: every pointer in an rb_rows is malloc'd and owned by it,
 * released by rb_rows_free; rb_rows_move hands them over whole.
 */
#ifndef RB_ROWS_H
#define RB_ROWS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	int ncols;
	char **names;        /* ncols column names */
	char *types;         /* ncols: 'n' number, 'b' boolean, 's' anything else; NULL: all text */
	char **cells;        /* nrows * ncols, row-major; a NULL cell is SQL NULL */
	size_t nrows;        /* rows kept */
	int64_t row_count;   /* rows returned (kept or not), or affected by INSERT/UPDATE/DELETE */
} rb_rows;

#define RB_ROWS_INIT {0, NULL, NULL, NULL, 0, 0}

/** Frees what rows owns and zeroes it (the struct itself is the caller's). */
void rb_rows_free(rb_rows *rows);

/** Frees what dst held, gives it everything src held, and leaves src empty. */
void rb_rows_move(rb_rows *dst, rb_rows *src);

#endif
