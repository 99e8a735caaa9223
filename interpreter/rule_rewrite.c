/*
 * rule_rewrite.c - maintenance commands that lock a table for as long as
 * they run: VACUUM FULL and CLUSTER rewrite it under an ACCESS EXCLUSIVE
 * lock, REINDEX without CONCURRENTLY blocks writes (and reads that use the
 * index), and an explicit LOCK TABLE in a mode that blocks writes holds
 * that lock until the transaction ends.
 */
#include "sqlrule.h"

#include "sqlparse.h"

#include <stdlib.h>

static const char *rel_name(const PgQuery__RangeVar *r)
{
	return r ? r->relname : "every table";
}

static void check_vacuum(const PgQuery__Node *n, int loc, rb_sqlrule_ctx *ctx)
{
	(void)loc;
	if (n->node_case != PG_QUERY__NODE__NODE_VACUUM_STMT)
		return;
	for (size_t i = 0; i < n->vacuum_stmt->n_options; i++)
		if (rb_sqlparse_option_on(n->vacuum_stmt->options[i], "full")) {
			rb_sqlrule_report(ctx, &rb_rule_vacuum_full, -1,
					  "VACUUM FULL rewrites each table under an ACCESS EXCLUSIVE lock, blocking reads "
					  "and writes for the whole rewrite; use plain VACUUM, or pg_repack / pg_squeeze "
					  "to shrink a table online");
			return;
		}
}

static void check_cluster(const PgQuery__Node *n, int loc, rb_sqlrule_ctx *ctx)
{
	(void)loc;
	if (n->node_case != PG_QUERY__NODE__NODE_CLUSTER_STMT)
		return;
	rb_sqlrule_report(ctx, &rb_rule_cluster, -1,
			  "CLUSTER %s rewrites it under an ACCESS EXCLUSIVE lock, blocking reads and writes for the "
			  "whole rewrite; use pg_repack to reorder a table online",
			  rel_name(n->cluster_stmt->relation));
}

static void check_lock(const PgQuery__Node *n, int loc, rb_sqlrule_ctx *ctx)
{
	static const char *const modes[] = {"", "ACCESS SHARE", "ROW SHARE", "ROW EXCLUSIVE", "SHARE UPDATE EXCLUSIVE",
					    "SHARE", "SHARE ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE"};
	(void)loc;
	if (n->node_case != PG_QUERY__NODE__NODE_LOCK_STMT)
		return;
	int mode = n->lock_stmt->mode;
	if (mode < 5 || mode > 8)
		return; /* the lower modes do not block writes */
	rb_sqlrule_report(ctx, &rb_rule_lock_table, -1,
			  "LOCK TABLE in %s mode blocks %s until the transaction ends; keep the transaction short, "
			  "give the step a lock_timeout, or use a lower mode", modes[mode],
			  mode == 8 ? "every read and write of the table" : "every write to the table");
}

static void check_reindex(const PgQuery__Node *n, int loc, rb_sqlrule_ctx *ctx)
{
	(void)loc;
	if (n->node_case != PG_QUERY__NODE__NODE_REINDEX_STMT ||
	    n->reindex_stmt->kind == PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_SYSTEM)
		return;
	for (size_t i = 0; i < n->reindex_stmt->n_params; i++)
		if (rb_sqlparse_option_on(n->reindex_stmt->params[i], "concurrently"))
			return;
	rb_sqlrule_report(ctx, &rb_rule_reindex, -1,
			  "REINDEX without CONCURRENTLY locks out writes to the table (and reads that use the index) "
			  "while it rebuilds; use REINDEX ... CONCURRENTLY in a step with transaction=none");
}

const rb_sqlrule rb_rule_vacuum_full = {
	"vacuum-full", "VACUUM FULL (rewrites the table under an ACCESS EXCLUSIVE lock)", check_vacuum
};

const rb_sqlrule rb_rule_cluster = {
	"cluster", "CLUSTER (rewrites the table under an ACCESS EXCLUSIVE lock)", check_cluster
};

const rb_sqlrule rb_rule_lock_table = {
	"lock-table", "LOCK TABLE in a mode that blocks writes (SHARE or stronger), held to the end of the transaction",
	check_lock
};

const rb_sqlrule rb_rule_reindex = {
	"reindex-not-concurrently", "REINDEX without CONCURRENTLY (blocks writes while it rebuilds)", check_reindex
};
