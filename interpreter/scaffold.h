/*
 * scaffold.h - `runbook new`: a runbook to start from, with prose and
 * comments that explain each part. Every template passes
 * `runbook check --strict`, plans cleanly and runs on a throwaway server
 * (tests/cli/new-templates.sh).
 */
#ifndef RB_SCAFFOLD_H
#define RB_SCAFFOLD_H

#include "util.h"

/** A template of `runbook new`; every string is static. */
typedef struct {
	const char *name;     /* "basic": the value of --template */
	const char *summary;  /* one line, what it teaches: for --list-templates */
	const char *text;     /* the runbook it writes */
	const char *rehearse; /* the options of `runbook run` that run it as is on a throwaway server */
} rb_scaffold_template;

/** The templates, the default ("basic") first; ends with an entry whose name is NULL. */
extern const rb_scaffold_template rb_scaffold_templates[];

/** The template called name, or NULL. */
const rb_scaffold_template *rb_scaffold_find(const char *name);

/** Appends the template names to b, separated by ", ": "basic, sql, promotion". */
void rb_scaffold_names(rb_buf *b);

/**
 * Writes template `name` to path, which must not exist yet (it is never
 * overwritten). Returns RB_EXIT_OK, or RB_EXIT_USAGE (no such template: the
 * message lists them; the file exists) / RB_EXIT_ENV (cannot write; a file
 * half written is removed) with err set.
 */
int rb_scaffold_write(const char *path, const char *name, rb_error *err);

#endif
