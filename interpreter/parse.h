/*
 * parse.h - Markdown in, rb_runbook out.
 *
 * cmark parses the document; this module walks its tree: headings become
 * sections, fenced blocks become steps (by language), task lists become
 * approvals, and the front matter (frontmatter.h) and info strings (attrs.h)
 * are typed and validated. Nothing is executed or connected to.
 */
#ifndef RB_PARSE_H
#define RB_PARSE_H

#include "diag.h"
#include "runbook.h"

/**
 * Parses the runbook in src[0..len) read from path. Every problem found is
 * added to diags (errors and warnings, each with line and column).
 *
 * Returns a runbook owned by the caller (rb_runbook_free), or NULL when the
 * input cannot be parsed at all (not UTF-8, binary). A runbook is returned
 * even when errors were added, so that `check` can report everything; callers
 * that execute must refuse to when diags->errors > 0.
 */
rb_runbook *rb_parse(const char *path, const char *src, size_t len, rb_diags *diags);

/** Reads path and parses it. NULL (with a diagnostic) when it cannot be read. */
rb_runbook *rb_parse_file(const char *path, rb_diags *diags);

/**
 * GitHub's anchor slug of a heading text: lower case, punctuation and
 * symbols removed, spaces turned into hyphens. Caller frees.
 */
char *rb_slugify(const char *text);

/**
 * The step kind of a fence's language and qualifier ("lua", "gate"), from
 * the registry of kinds (steps.c). Unknown languages are RB_STEP_DOC.
 */
rb_step_kind rb_kind_of(const char *lang, const char *qualifier);

#endif
