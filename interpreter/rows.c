/*
 * rows.c - the rows of a query result (rows.h).
 */
#include "rows.h"

#include <stdlib.h>
#include <string.h>

void rb_rows_free(rb_rows *r)
{
	for (int c = 0; r->names && c < r->ncols; c++)
		free(r->names[c]);
	for (size_t i = 0; r->cells && i < r->nrows * (size_t)r->ncols; i++)
		free(r->cells[i]);
	free(r->names);
	free(r->types);
	free(r->cells);
	memset(r, 0, sizeof *r);
}

void rb_rows_move(rb_rows *dst, rb_rows *src)
{
	if (dst != src) {
		rb_rows_free(dst);
		*dst = *src;
		memset(src, 0, sizeof *src);
	}
}
