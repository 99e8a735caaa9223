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
 * looks executable (postgres for sql). With a database, it also trial-runs the SQL blocks,
 * in document order, inside one transaction that is rolled back at the end
 * (each statement in a savepoint; a block outside the main flow is undone
 * after it), with the values the front matter gives variables by default.
 *
 * Every finding names its rule (diag.h): one of rb_lint_rules, a SQL
 * rule's name (sqlrule.h) or shellcheck's id (SC2086). `allow=NAME,...` on
 * a step silences there the warnings of those rules, of the SQL rules and
 * shellcheck's; an allow= naming anything else is an error at the name.
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

/** One of runbook's own rules: what `check --json` calls its findings. */
typedef struct {
	const char *id;        /* kebab-case, stable */
	rb_severity severity;  /* of its findings (front-matter-typo: a warning in a run's pre-flight) */
	int allowable;         /* allow= silences it on a step: a warning about a step */
	const char *summary;   /* one line */
} rb_lint_rule;

/** Every rule of lint.c (the SQL rules are sqlrules.h's); the last has a NULL id. */
extern const rb_lint_rule rb_lint_rules[];

/** The rule with that id, or NULL. */
const rb_lint_rule *rb_lint_rule_find(const char *id);

/**
 * Appends "name  summary", one a line, for every rule allow= names: the SQL
 * rules (rb_sqlrules_list), then runbook's own that allow= silences
 * (`runbook check --list-rules`).
 */
void rb_lint_rules_list(rb_buf *out);

/** Adds every finding about rb to diags (the parser's are already there). */
void rb_lint(const rb_runbook *rb, const rb_lint_opts *opts, rb_diags *diags);

#endif
