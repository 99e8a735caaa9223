/*
 * frontmatter.h - the YAML block between `---` lines at the top of a runbook.
 *
 * Parsed with libyaml into the typed rb_front_matter of runbook.h. The block
 * is located here too, so the Markdown parser can blank it out and keep
 * every line number of the document unchanged.
 */
#ifndef RB_FRONTMATTER_H
#define RB_FRONTMATTER_H

#include "diag.h"
#include "runbook.h"

/** The front matter keys this version knows, NULL-terminated (for docs and check). */
extern const char *const rb_frontmatter_keys[];

/**
 * What an unknown front matter key probably is. *tool: the tool whose key it
 * is ("Hugo", "Runme"): a key to ignore. Else *suggest: the known key within
 * edit distance 2 of it, a typo. Both NULL: a key nobody here knows.
 */
void rb_frontmatter_unknown(const char *key, const char **suggest, const char **tool);

/**
 * Locates front matter at the start of src. Returns the number of bytes it
 * spans (both `---` lines included), 0 when there is none, or -1 when the
 * opening `---` has no closing line (a diagnostic is added).
 */
long rb_frontmatter_locate(const char *src, size_t len, const char *file, rb_diags *diags);

/**
 * Parses the located block (src[0..span)) into fm. Problems are added to
 * diags (unknown keys as warnings; the caller decides whether they are
 * errors). Returns 0 when no error was added, else -1. fm is always left in
 * a state rb_frontmatter_free accepts.
 */
int rb_frontmatter_parse(const char *src, size_t span, const char *file, rb_front_matter *fm,
			 rb_diags *diags);

/** Releases what fm owns (not fm itself). */
void rb_frontmatter_free(rb_front_matter *fm);

#endif
