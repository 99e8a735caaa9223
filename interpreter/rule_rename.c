/*
 * rule_rename.c - renaming a table or a column.
 *
 * The rename itself is quick, under a brief ACCESS EXCLUSIVE lock, but
 * every client still running with the old name fails from that moment:
 * a deploy cannot switch code and schema at the same instant. A table the
 * runbook created earlier has no such clients yet.
 */
#include "sqlrule.h"

#include <stdlib.h>

static void check(const PgQuery__Node *n, int loc, rb_sqlrule_ctx *ctx)
{
	(void)loc;
	if (n->node_case != PG_QUERY__NODE__NODE_RENAME_STMT)
		return;
	const PgQuery__RenameStmt *r = n->rename_stmt;
	int table = r->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE;
	int column = r->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN &&
		     r->relation_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE;
	if ((!table && !column) || rb_sqlrule_table_is_new(ctx, r->relation))
		return;
	char *t = rb_sqlrule_table_name(r->relation);
	if (table)
		rb_sqlrule_report(ctx, &rb_rule_rename, -1,
				  "RENAME of table \"%s\" to \"%s\": every client still using the old name fails at once "
				  "(and the rename waits for an ACCESS EXCLUSIVE lock); keep the old name working (a view "
				  "of that name) until every client uses the new one", t, r->newname);
	else
		rb_sqlrule_report(ctx, &rb_rule_rename, -1,
				  "RENAME of column \"%s\".\"%s\" to \"%s\": every client still using the old name fails "
				  "at once (and the rename waits for an ACCESS EXCLUSIVE lock); add the new column, write "
				  "both, backfill, move the clients, then drop the old one", t, r->subname, r->newname);
	free(t);
}

const rb_sqlrule rb_rule_rename = {
	"rename",
	"RENAME of a table or a column (clients using the old name fail at once)",
	check
};
