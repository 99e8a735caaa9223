/*
 * lint.h - `runbook check`: everything that can be known about a runbook
 * without running it, as diagnostics with file:line:col.
 *
 * On top of the parser's own diagnostics (attributes, ids, front matter,
 * sections), it compiles every Lua chunk and when=/expect= expression,
 * checks steps.ID references, splits every SQL block and checks its
 * meta-commands and :VARIABLES, parses every SQL statement with
 * PostgreSQL's parser (syntax errors, and the migration-safety rules of
 * sqlrules.h, destructive statements among them), runs `bash -n` (and
 * shellcheck when it is installed) on shell blocks, and warns about
 * destructive shell commands that are neither confirmed nor in a handler
 * or manual section. It tells other tools' front matter keys (warnings)
 * from typos of runbook's (errors, with "did you mean"), and warns about a
 * fence that is never closed and about a documentation block whose language
 * looks executable (postgres for sql). With a database, it also trial-runs each SQL block
 * inside a transaction that is rolled back.
 */
#ifndef RB_LINT_H
#define RB_LINT_H

#include "diag.h"
#include "runbook.h"
#include "util.h"

typedef struct {
	const char *db_url;    /* trial-compile SQL blocks on this database; NULL: don't */
	int no_shellcheck;     /* skip shellcheck even when installed */
	int run;               /* run's pre-flight: unknown front matter keys stay warnings */
	const rb_strset *known; /* variables defined from outside (environment, --set); NULL: none */
} rb_lint_opts;

/** Adds every finding about rb to diags (the parser's are already there). */
void rb_lint(const rb_runbook *rb, const rb_lint_opts *opts, rb_diags *diags);

#endif
