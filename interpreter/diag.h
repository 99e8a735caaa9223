/*
 * diag.h - a list of diagnostics (errors and warnings with a source
 * position), printed compiler-style: "file:line:col: error: message".
 *
 * The parser and the linter append to a list the caller owns, so that one
 * pass reports every problem it can instead of stopping at the first.
 */
#ifndef RB_DIAG_H
#define RB_DIAG_H

#include <stdio.h>
#include <stddef.h>

typedef enum { RB_DIAG_ERROR = 0, RB_DIAG_WARNING } rb_severity;

typedef struct {
	rb_severity severity;
	char *file;     /* owned */
	int line;       /* 1-based; 0 when the whole file is meant */
	int col;        /* 1-based; 0 when unknown */
	char *message;  /* owned */
	size_t seq;     /* insertion order, keeps sorting stable */
} rb_diag;

typedef struct {
	rb_diag *items;
	size_t count;
	size_t cap;
	size_t errors;
	size_t warnings;
} rb_diags;

#define RB_DIAGS_INIT {NULL, 0, 0, 0, 0}

/** Appends a diagnostic; file is copied. */
void rb_diags_add(rb_diags *d, rb_severity sev, const char *file, int line, int col,
		  const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/** Sorts by file order of position (stable for equal positions). */
void rb_diags_sort(rb_diags *d);
/** Prints every diagnostic, one a line: "file:line:col: error: message", with
 * hidden characters in file and message made visible (visible.h). */
void rb_diags_print(const rb_diags *d, FILE *out);
/** Releases the diagnostics (the struct itself is the caller's). */
void rb_diags_free(rb_diags *d);

#endif
