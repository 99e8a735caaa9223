/*
 * rule_transaction.c - transaction blocks written in a sql block.
 *
 * A block that writes its own BEGIN runs as written (no transaction of the
 * step's around it). Inside that BEGIN, a statement that cannot run in a
 * transaction block (CREATE INDEX CONCURRENTLY, VACUUM, ...) fails every
 * time; a second BEGIN only draws a warning from the server, and the first
 * COMMIT then ends both. (A statement of the first kind in a step that runs
 * in its own transaction is an error of lint.c: add transaction=none.)
 */
#include "sqlrule.h"

#include "sqlparse.h"

static void check_concurrently(const PgQuery__Node *n, int loc, rb_sqlrule_ctx *ctx)
{
	(void)loc;
	if (ctx->explicit_transaction && rb_sqlparse_no_txn_block(n))
		rb_sqlrule_report(ctx, &rb_rule_concurrently_in_txn, -1,
				  "this statement cannot run inside a transaction block, and it is inside the block's "
				  "BEGIN: it fails every time; move it after the COMMIT");
}

static void check_nested(const PgQuery__Node *n, int loc, rb_sqlrule_ctx *ctx)
{
	(void)loc;
	if (ctx->explicit_transaction && n->node_case == PG_QUERY__NODE__NODE_TRANSACTION_STMT &&
	    (n->transaction_stmt->kind == PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN ||
	     n->transaction_stmt->kind == PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START))
		rb_sqlrule_report(ctx, &rb_rule_nested_txn, -1,
				  "BEGIN inside a transaction already begun: PostgreSQL only warns, and the next COMMIT "
				  "ends both, so what looks like an inner transaction is not one; use SAVEPOINT");
}

const rb_sqlrule rb_rule_concurrently_in_txn = {
	"concurrently-in-transaction",
	"CREATE INDEX CONCURRENTLY (or anything that cannot run in a transaction block) inside BEGIN ... COMMIT",
	check_concurrently
};

const rb_sqlrule rb_rule_nested_txn = {
	"nested-transaction",
	"BEGIN inside a transaction the block already began",
	check_nested
};
