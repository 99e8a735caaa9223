/*
 * rule_set_not_null.c - ALTER COLUMN ... SET NOT NULL without a validated
 * CHECK (column IS NOT NULL).
 *
 * SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock. Since
 * PostgreSQL 12 it skips the scan when a valid CHECK constraint already
 * proves the column has no NULL: add that constraint NOT VALID, VALIDATE it
 * (a SHARE UPDATE EXCLUSIVE lock, writes go on), then SET NOT NULL. The
 * driver remembers which checks the runbook validated earlier.
 */
#include "sqlrule.h"

#include <stdlib.h>

static void one(const PgQuery__AlterTableStmt *a, const PgQuery__AlterTableCmd *c, rb_sqlrule_ctx *ctx)
{
	if (c->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_SetNotNull)
		return;
	char *key = rb_xasprintf("%s.%s", a->relation->relname, c->name);
	int proven = rb_strset_get(ctx->not_null_checked, key) >= 0;
	free(key);
	if (proven)
		return;
	char *t = rb_sqlrule_table_name(a->relation);
	rb_sqlrule_report(ctx, &rb_rule_set_not_null, -1,
			  "SET NOT NULL on \"%s\".\"%s\" without a validated CHECK: it scans the whole table under an "
			  "ACCESS EXCLUSIVE lock; first ADD CONSTRAINT ... CHECK (%s IS NOT NULL) NOT VALID, then "
			  "VALIDATE CONSTRAINT (writes go on), then SET NOT NULL uses it", t, c->name, c->name);
	free(t);
}

static void check(const PgQuery__Node *n, int loc, rb_sqlrule_ctx *ctx)
{
	(void)loc;
	rb_sqlrule_each_cmd(n, ctx, one);
}

const rb_sqlrule rb_rule_set_not_null = {
	"set-not-null",
	"SET NOT NULL without a validated CHECK (column IS NOT NULL) earlier (full scan, ACCESS EXCLUSIVE)",
	check
};
