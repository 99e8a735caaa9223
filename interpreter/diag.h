/*
 * diag.h - a list of diagnostics (errors and warnings with a source
 * position), printed compiler-style: "file:line:col: error: message", each
 * error under it with its source line and a caret (srcmap.h's excerpt).
 *
 * The parser and the linter append to a list the caller owns, so that one
 * pass reports every problem it can instead of stopping at the first. The
 * parser also leaves a copy of the text it read in the list
 * (rb_diags_set_source): the excerpts come from it, even when the text was
 * too broken to become a runbook.
 *
 * A finding of a lint rule carries the rule's id (rb_diags_add_rule): a
 * SQL rule's name, one of runbook's own (lint.h), or shellcheck's SC2086.
 * `check --json` and the GitHub annotations show it; the compiler-style
 * lines do not add it (the SQL rules and shellcheck end their messages with
 * it already). The parser's errors have none.
 *
 * "Did you mean": rb_suggest finds the known name nearest to a mistyped one.
 */
#ifndef RB_DIAG_H
#define RB_DIAG_H

#include <stdio.h>
#include <stddef.h>

#include "util.h"

typedef enum { RB_DIAG_ERROR = 0, RB_DIAG_WARNING } rb_severity;

typedef struct {
	rb_severity severity;
	char *file;     /* owned */
	int line;       /* 1-based; 0 when the whole file is meant */
	int col;        /* 1-based, in bytes as cmark counts; 0 when unknown */
	char *message;  /* owned */
	char *rule;     /* owned: the id of the rule that found it; NULL: none */
	size_t seq;     /* insertion order, keeps sorting stable */
} rb_diag;

typedef struct {
	rb_diag *items;
	size_t count;
	size_t cap;
	size_t errors;
	size_t warnings;
	char *source_file;  /* owned: the file source is the text of; NULL: no excerpts */
	char *source;       /* owned copy (may hold NUL bytes: source_len counts) */
	size_t source_len;
} rb_diags;

#define RB_DIAGS_INIT {NULL, 0, 0, 0, 0, NULL, NULL, 0}

/** Appends a diagnostic; file is copied. */
void rb_diags_add(rb_diags *d, rb_severity sev, const char *file, int line, int col,
		  const char *fmt, ...) __attribute__((format(printf, 6, 7)));
/** Appends a finding of rule (copied; NULL: none), as rb_diags_add. */
void rb_diags_add_rule(rb_diags *d, rb_severity sev, const char *rule, const char *file, int line, int col,
		       const char *fmt, ...) __attribute__((format(printf, 7, 8)));
/**
 * Keeps a copy of text[0..len), the contents of file, for the excerpts of
 * the errors about file (replacing a text kept before).
 */
void rb_diags_set_source(rb_diags *d, const char *file, const char *text, size_t len);
/** Sorts by file order of position (stable for equal positions). */
void rb_diags_sort(rb_diags *d);
/**
 * Appends every diagnostic to out, one a line: "file:line:col: error:
 * message", with hidden characters in file and message made visible
 * (visible.h). An error about the kept source's file at a line it has is
 * followed by that line and a caret under the column (rb_srcmap_excerpt).
 * Warnings get no excerpt.
 */
void rb_diags_render(const rb_diags *d, rb_buf *out);
/** Releases the diagnostics and the kept source (the struct itself is the caller's). */
void rb_diags_free(rb_diags *d);

/**
 * The nearest of the names offered to a mistyped one: within edit distance
 * 2 (rb_edit_distance, which ignores case), the first of equally near ones,
 * never name itself. Pointers only: the names must outlive the struct.
 */
typedef struct {
	const char *name;  /* the mistyped name */
	const char *best;  /* the nearest so far; NULL: none near enough */
	size_t dist;
} rb_suggest;

#define RB_SUGGEST_INIT(name) {(name), NULL, 3}

/** Considers candidate (NULL is ignored). */
void rb_suggest_offer(rb_suggest *s, const char *candidate);
/** " (did you mean 'best'?)", or "" when nothing was near; caller frees. */
char *rb_suggest_hint(const rb_suggest *s);

#endif
