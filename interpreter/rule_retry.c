/*
 * rule_retry.c - concurrent index builds that cannot be run again.
 *
 * CREATE INDEX CONCURRENTLY runs outside any transaction: when it fails
 * (a deadlock, a duplicate, a cancelled step) it leaves an INVALID index
 * behind, and running the step again (retry=, --resume) fails on the name.
 * DROP INDEX CONCURRENTLY of an index already gone fails the same way.
 * squawk calls this prefer-robust-stmts.
 */
#include "sqlrule.h"

static void check(const PgQuery__Node *n, int loc, rb_sqlrule_ctx *ctx)
{
	(void)loc;
	if (ctx->in_transaction)
		return; /* it fails anyway there (concurrently-in-transaction, lint.c) */
	if (n->node_case == PG_QUERY__NODE__NODE_INDEX_STMT && n->index_stmt->concurrent &&
	    !n->index_stmt->if_not_exists && *n->index_stmt->idxname)
		rb_sqlrule_report(ctx, &rb_rule_not_retryable, -1,
				  "CREATE INDEX CONCURRENTLY without IF NOT EXISTS: if it fails it leaves the INVALID "
				  "index \"%s\" behind, and running the step again fails; write DROP INDEX CONCURRENTLY "
				  "IF EXISTS before it (and IF NOT EXISTS, which alone would keep the INVALID index)",
				  n->index_stmt->idxname);
	else if (n->node_case == PG_QUERY__NODE__NODE_DROP_STMT && n->drop_stmt->concurrent && !n->drop_stmt->missing_ok)
		rb_sqlrule_report(ctx, &rb_rule_not_retryable, -1,
				  "DROP INDEX CONCURRENTLY without IF EXISTS: running the step again (a retry, a resume) "
				  "fails once the index is gone; write IF EXISTS");
}

const rb_sqlrule rb_rule_not_retryable = {
	"concurrently-not-retryable",
	"CREATE INDEX CONCURRENTLY without IF NOT EXISTS, DROP INDEX CONCURRENTLY without IF EXISTS",
	check
};
