/*
 * sqlrule.h - the contract of a SQL lint rule: what `runbook check` says
 * about a statement PostgreSQL's parser has read (sqlparse.h), knowing the
 * runbook around it.
 *
 * A rule is a name, a one-line summary and a check function; one rule (or
 * a small family) lives in one file, rule_*.c, which exports its
 * rb_sqlrule values, and sqlrules.c lists them (adding a rule is adding a
 * file and a line there; docs/format.md has the table). The driver
 * (sqlrules.c) parses each statement of each sql step, in document order
 * and into the files \i and \ir pull in, calls every rule's check with the
 * statement's node and a context, and turns what the rule reports into a
 * warning at the runbook's file:line:col, with " [rule-name]" after it and
 * the rule's name as its rule (diag.h: what `check --json` shows).
 * `allow=rule-name[,rule-name]` on a step silences a rule there.
 *
 * A finding says what the statement does, the lock it takes and why that
 * is dangerous, and the safe way: "CREATE INDEX without CONCURRENTLY on
 * \"t\": takes a SHARE lock ... ; use CREATE INDEX CONCURRENTLY ...".
 *
 * Ownership: the context, the node and everything they point to belong to
 * the driver and live only during the call; a rule keeps nothing.
 */
#ifndef RB_SQLRULE_H
#define RB_SQLRULE_H

#include <stddef.h>
#include <stdint.h>

#include <pg_query/pg_query.pb-c.h>

#include "runbook.h"
#include "util.h"

typedef struct rb_sqlrule_ctx rb_sqlrule_ctx;

/** What each check sees of the runbook around the statement. Read-only for rules. */
struct rb_sqlrule_ctx {
	const rb_runbook *rb;
	const rb_step *step;     /* the sql step the statement runs in */
	const char *text;        /* the statement's text as written (several statements when \; joins them) */
	int in_transaction;      /* it runs inside a transaction block: the step's own, or a BEGIN of the block */
	int explicit_transaction; /* inside a BEGIN written in the block */
	int64_t lock_timeout_ms; /* the lock timeout it runs under: the step's, the front matter's, 5 s,
				    or what a SET lock_timeout earlier in the block made it; 0: waits forever */
	int guarded;             /* the step asks for confirmation or expects to fail, or is not in the
				    main flow (handler, manual section, undo block) */
	const rb_strset *new_tables; /* tables created earlier in the runbook (CREATE TABLE [AS]), by name */
	const rb_strset *not_null_checked; /* "table.column" with a validated CHECK (column IS NOT NULL) */
	/* The driver's own: where to report. */
	void *driver;
};

/** A rule. check reports through rb_sqlrule_report; it may report several times. */
typedef struct {
	const char *name;        /* kebab-case: what allow= names */
	const char *summary;     /* one line, for `runbook check --list-rules` */
	void (*check)(const PgQuery__Node *stmt, int stmt_location, rb_sqlrule_ctx *ctx);
} rb_sqlrule;

/**
 * Reports a finding of rule at location, a byte offset into ctx->text (a
 * node's `location`; -1: the statement's start, stmt_location). The message
 * is printf-style; the driver adds the rule's name.
 */
void rb_sqlrule_report(rb_sqlrule_ctx *ctx, const rb_sqlrule *rule, int location, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/**
 * Tells the driver that the statement destroys data (what: "DROP TABLE",
 * "DELETE without WHERE"), whether or not a rule reports it: the front
 * matter's `undo: required` wants an undo for such a step.
 */
void rb_sqlrule_destroys(rb_sqlrule_ctx *ctx, const char *what, int location);

/** 1 when rel names a table created earlier in the runbook (ctx->new_tables). */
int rb_sqlrule_table_is_new(const rb_sqlrule_ctx *ctx, const PgQuery__RangeVar *rel);

/** "schema.table" or "table", as written but folded as the parser folds it. Caller frees. */
char *rb_sqlrule_table_name(const PgQuery__RangeVar *rel);

/** A node's location when it has one (RangeVar, Constraint, ColumnDef, ...), else fallback. */
int rb_sqlrule_location(const PgQuery__Node *n, int fallback);

/**
 * Calls fn with each command of an ALTER TABLE (n) of a table the runbook
 * did not create earlier. Nothing for other statements.
 */
void rb_sqlrule_each_cmd(const PgQuery__Node *n, rb_sqlrule_ctx *ctx,
			 void (*fn)(const PgQuery__AlterTableStmt *a, const PgQuery__AlterTableCmd *c, rb_sqlrule_ctx *ctx));

/* The rules, one family a file (rule_*.c); sqlrules.c lists them. */
extern const rb_sqlrule rb_rule_create_index, rb_rule_drop_index;                      /* rule_index.c */
extern const rb_sqlrule rb_rule_volatile_default, rb_rule_required_column, rb_rule_json_column; /* rule_add_column.c */
extern const rb_sqlrule rb_rule_column_type;                                           /* rule_column_type.c */
extern const rb_sqlrule rb_rule_set_not_null;                                          /* rule_set_not_null.c */
extern const rb_sqlrule rb_rule_not_valid, rb_rule_constraint_index;                   /* rule_constraint.c */
extern const rb_sqlrule rb_rule_rename;                                                /* rule_rename.c */
extern const rb_sqlrule rb_rule_destroys_data, rb_rule_write_without_where;            /* rule_destructive.c */
extern const rb_sqlrule rb_rule_vacuum_full, rb_rule_cluster, rb_rule_lock_table, rb_rule_reindex; /* rule_rewrite.c */
extern const rb_sqlrule rb_rule_concurrently_in_txn, rb_rule_nested_txn;               /* rule_transaction.c */
extern const rb_sqlrule rb_rule_lock_timeout;                                          /* rule_lock_timeout.c */
extern const rb_sqlrule rb_rule_not_retryable;                                         /* rule_retry.c */

#endif
