/*
 * ghactions.h - GitHub Actions workflow commands, as the runner reads them
 * from a step's output: one line each, `::NAME key=value,...::DATA`.
 *
 * The runner undoes an escaping: in DATA `%` is %25, CR %0D and LF %0A; in a
 * property value `:` and `,` are %3A and %2C as well. Annotation paths are
 * relative to the workspace (GITHUB_WORKSPACE), the repository's checkout.
 * Used by the run's GitHub sink (sink_github.c) and by `runbook check`.
 */
#ifndef RB_GHACTIONS_H
#define RB_GHACTIONS_H

#include <stddef.h>

#include "diag.h"
#include "util.h"

/** 1 when running under GitHub Actions (GITHUB_ACTIONS=true). */
int rb_gh_actions(void);

/** Appends s[0..len) escaped as a command's DATA (% CR LF). */
void rb_gh_escape_data(rb_buf *out, const char *s, size_t len);

/** Appends s escaped as a property value (% CR LF : ,). */
void rb_gh_escape_property(rb_buf *out, const char *s);

/**
 * path relative to workspace when it lies under it (both resolved against
 * the current directory, symbolic links followed when they exist), else
 * path as given; workspace NULL or "": as given. Caller frees.
 */
char *rb_gh_path(const char *workspace, const char *path);

/** Where and what an annotation is about (rb_gh_annotation). */
typedef struct {
	const char *level;    /* "error", "warning" or "notice" */
	const char *file;     /* NULL: none; made relative to the workspace */
	int line, col;        /* 0: unknown (no line: no column either) */
	const char *title;    /* NULL: none */
	const char *message;
} rb_gh_note;

/**
 * Appends the annotation's line, "::error file=F,line=L,col=C,title=T::M\n":
 * title and message with hidden characters made visible (visible.h), then
 * escaped; parts unknown are left out.
 */
void rb_gh_annotation(rb_buf *out, const char *workspace, const rb_gh_note *n);

/**
 * Appends one annotation a diagnostic (diag.h): ::error or ::warning at its
 * file, line and column, with title (NULL: none), followed by the id of the
 * rule that found it in brackets ("runbook check [SC2086]").
 */
void rb_gh_diags(rb_buf *out, const char *workspace, const rb_diags *d, const char *title);

#endif
