/*
 * rule_column_type.c - ALTER TABLE ... ALTER COLUMN ... TYPE.
 *
 * Changing a column's type rewrites the table and rebuilds its indexes
 * under an ACCESS EXCLUSIVE lock, unless the new type is binary-compatible
 * (varchar(n) to text or a longer varchar, numeric(p,s) to a wider one),
 * which PostgreSQL knows and an offline check cannot always: the rule says
 * what may happen, and allow= records that someone checked.
 */
#include "sqlrule.h"

#include <stdlib.h>

static void one(const PgQuery__AlterTableStmt *a, const PgQuery__AlterTableCmd *c, rb_sqlrule_ctx *ctx)
{
	if (c->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType)
		return;
	char *t = rb_sqlrule_table_name(a->relation);
	rb_sqlrule_report(ctx, &rb_rule_column_type, rb_sqlrule_location(c->def, -1),
			  "ALTER COLUMN \"%s\" TYPE on \"%s\": unless the types are binary-compatible, PostgreSQL "
			  "rewrites the table and its indexes under an ACCESS EXCLUSIVE lock, blocking reads and "
			  "writes; add a column of the new type, backfill it in batches, and switch over", c->name, t);
	free(t);
}

static void check(const PgQuery__Node *n, int loc, rb_sqlrule_ctx *ctx)
{
	(void)loc;
	rb_sqlrule_each_cmd(n, ctx, one);
}

const rb_sqlrule rb_rule_column_type = {
	"alter-column-type",
	"ALTER COLUMN ... TYPE (rewrites the table under an ACCESS EXCLUSIVE lock)",
	check
};
