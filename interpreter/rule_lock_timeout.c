/*
 * rule_lock_timeout.c - DDL that may wait for its lock forever.
 *
 * A statement that needs a strong lock (ALTER TABLE, CREATE or DROP INDEX,
 * DROP TABLE, TRUNCATE, ...) waits behind any long query on the table; and
 * while it waits, every query after it waits behind it, so a busy table
 * stops answering. runbook gives every sql step a lock_timeout (5 s unless
 * the step or the front matter says otherwise); lock_timeout=0, or a SET
 * lock_timeout = 0 in the block, takes that protection away. A table the
 * runbook created earlier has no other users to wait for.
 */
#include "sqlrule.h"

#include <stdlib.h>

/* The table a strong-lock statement is about (for new-table exemption), or NULL; *what names it. */
static int is_ddl(const PgQuery__Node *n, const PgQuery__RangeVar **rel, const char **what)
{
	*rel = NULL;
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
		*rel = n->alter_table_stmt->relation;
		*what = "ALTER TABLE";
		return 1;
	case PG_QUERY__NODE__NODE_INDEX_STMT:
		*rel = n->index_stmt->relation;
		*what = n->index_stmt->concurrent ? "CREATE INDEX CONCURRENTLY" : "CREATE INDEX";
		return 1;
	case PG_QUERY__NODE__NODE_DROP_STMT:
		*what = "DROP";
		return 1;
	case PG_QUERY__NODE__NODE_RENAME_STMT:
		*rel = n->rename_stmt->relation;
		*what = "RENAME";
		return 1;
	case PG_QUERY__NODE__NODE_TRUNCATE_STMT:
		*what = "TRUNCATE";
		return 1;
	case PG_QUERY__NODE__NODE_CREATE_TRIG_STMT:
		*rel = n->create_trig_stmt->relation;
		*what = "CREATE TRIGGER";
		return 1;
	case PG_QUERY__NODE__NODE_LOCK_STMT:
		*what = "LOCK TABLE";
		return 1;
	case PG_QUERY__NODE__NODE_REINDEX_STMT:
		*what = "REINDEX";
		return 1;
	case PG_QUERY__NODE__NODE_CLUSTER_STMT:
		*what = "CLUSTER";
		return 1;
	default:
		return 0;
	}
}

static void check(const PgQuery__Node *n, int loc, rb_sqlrule_ctx *ctx)
{
	const PgQuery__RangeVar *rel;
	const char *what;
	(void)loc;
	if (ctx->lock_timeout_ms != 0 || !is_ddl(n, &rel, &what) || (rel && rb_sqlrule_table_is_new(ctx, rel)))
		return;
	rb_sqlrule_report(ctx, &rb_rule_lock_timeout, -1,
			  "%s runs without a lock timeout (lock_timeout 0): while it waits for its lock, every query "
			  "on the table queues behind it; give the step a lock_timeout (the default is 5s) and a "
			  "retry", what);
}

const rb_sqlrule rb_rule_lock_timeout = {
	"ddl-without-lock-timeout",
	"DDL in a step that runs with lock_timeout 0 (the step's, the front matter's, or a SET in the block)",
	check
};
