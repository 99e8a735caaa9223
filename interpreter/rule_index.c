/*
 * rule_index.c - building or dropping an index without CONCURRENTLY.
 *
 * CREATE INDEX takes a SHARE lock on its table for the whole build: reads
 * go on, every INSERT, UPDATE and DELETE waits. DROP INDEX takes an ACCESS
 * EXCLUSIVE lock on the table: everything waits, reads included. Both have
 * a CONCURRENTLY form that does not block writes (and cannot run in a
 * transaction block). A table the runbook created earlier is empty enough
 * to index plainly, and an index it created earlier is not in use yet.
 */
#include "sqlrule.h"

#include <stdlib.h>

static void check_create(const PgQuery__Node *n, int loc, rb_sqlrule_ctx *ctx)
{
	(void)loc;
	if (n->node_case != PG_QUERY__NODE__NODE_INDEX_STMT)
		return;
	const PgQuery__IndexStmt *ix = n->index_stmt;
	if (ix->concurrent || rb_sqlrule_table_is_new(ctx, ix->relation))
		return;
	char *t = rb_sqlrule_table_name(ix->relation);
	rb_sqlrule_report(ctx, &rb_rule_create_index, -1,
			  "CREATE INDEX without CONCURRENTLY on existing table \"%s\": it takes a SHARE lock that "
			  "blocks every write to the table while the index builds; use CREATE INDEX CONCURRENTLY "
			  "in a step with transaction=none", t);
	free(t);
}

static void check_drop(const PgQuery__Node *n, int loc, rb_sqlrule_ctx *ctx)
{
	(void)loc;
	if (n->node_case != PG_QUERY__NODE__NODE_DROP_STMT)
		return;
	const PgQuery__DropStmt *d = n->drop_stmt;
	if (d->remove_type != PG_QUERY__OBJECT_TYPE__OBJECT_INDEX || d->concurrent)
		return;
	/* DROP INDEX a, b: only when every one of them is new is it harmless. */
	int all_new = d->n_objects > 0;
	for (size_t i = 0; i < d->n_objects; i++) {
		const PgQuery__Node *o = d->objects[i];
		const PgQuery__Node *last = o->node_case == PG_QUERY__NODE__NODE_LIST && o->list->n_items
					    ? o->list->items[o->list->n_items - 1] : NULL;
		PgQuery__RangeVar rv = PG_QUERY__RANGE_VAR__INIT;
		rv.relname = last && last->node_case == PG_QUERY__NODE__NODE_STRING ? last->string->sval : "";
		all_new &= rb_sqlrule_table_is_new(ctx, &rv);
	}
	if (all_new)
		return;
	rb_sqlrule_report(ctx, &rb_rule_drop_index, -1,
			  "DROP INDEX without CONCURRENTLY: it takes an ACCESS EXCLUSIVE lock on the index's table, "
			  "blocking reads and writes until it is done and while it waits; use DROP INDEX "
			  "CONCURRENTLY in a step with transaction=none");
}

const rb_sqlrule rb_rule_create_index = {
	"create-index-not-concurrently",
	"CREATE INDEX on an existing table without CONCURRENTLY (SHARE lock: blocks writes)",
	check_create
};

const rb_sqlrule rb_rule_drop_index = {
	"drop-index-not-concurrently",
	"DROP INDEX without CONCURRENTLY (ACCESS EXCLUSIVE lock on the table)",
	check_drop
};
