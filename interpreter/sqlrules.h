/*
 * sqlrules.h - the SQL of a runbook through PostgreSQL's parser: syntax
 * errors without a database, and the migration-safety rules (sqlrule.h),
 * for `runbook check` (lint.c) and the run's pre-flight.
 *
 * One rb_sqlrules walks one runbook: rb_sqlrules_step is called for each
 * sql step in document order, so that what earlier steps did (the tables
 * they created, the NOT NULL checks they validated) is known to later ones.
 * It parses every statement of the step's body and of the files its \i and
 * \ir pull in, reports a syntax error as an error at the statement's
 * file:line:col (columns in bytes, as every diagnostic; rule "sql-syntax"),
 * and gives each statement to each rule not silenced by the step's allow=.
 * Each finding carries its rule's name as its rule (diag.h).
 *
 * Ownership: rb_sqlrules_new returns a walker the caller releases with
 * rb_sqlrules_free; it keeps pointers to rb and d, which must outlive it.
 */
#ifndef RB_SQLRULES_H
#define RB_SQLRULES_H

#include "diag.h"
#include "runbook.h"
#include "sqlrule.h"
#include "util.h"

/** Every rule, in the order --list-rules and the documentation list them; NULL-terminated. */
extern const rb_sqlrule *const rb_sqlrules_all[];

/** The rule called name, or NULL. */
const rb_sqlrule *rb_sqlrules_find(const char *name);

/** Appends "name  summary" for every rule, one a line (`runbook check --list-rules`). */
void rb_sqlrules_list(rb_buf *out);

/**
 * Calls fn with each name of step s's allow= list (comma-separated, trimmed,
 * empty ones left out) and its byte offset in the value. Any rule's name:
 * lint.c checks that each is one it can silence.
 */
void rb_sqlrules_each_allowed(const rb_step *s, void (*fn)(void *ctx, const char *name, int col), void *ctx);

/** 1 when step s silences rule name (any rule's, shellcheck's SC2086 too) with allow=. */
int rb_sqlrules_allowed(const rb_step *s, const char *name);

typedef struct rb_sqlrules rb_sqlrules;

/** A walker over rb whose findings go to d. */
rb_sqlrules *rb_sqlrules_new(const rb_runbook *rb, rb_diags *d);

/**
 * Checks sql step s (a skipped step gets the syntax check only). Returns 1 when a statement
 * of the step destroys data, with what it is ("DROP TABLE") and its line
 * in *what (static) and *line, whether or not a rule reported it; else 0.
 */
int rb_sqlrules_step(rb_sqlrules *r, const rb_step *s, const char **what, int *line);

/** Releases the walker (NULL is fine). */
void rb_sqlrules_free(rb_sqlrules *r);

#endif
