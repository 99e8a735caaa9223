/*
 * sqlparse.c - the one caller of libpg_query: a statement parsed with psql
 * variables as placeholders, the syntax error placed in bytes, and what
 * the tree says about transactions.
 */
#include "sqlparse.h"
#include "sqlsplit.h"
#include "util.h"

#include <pg_query.h>
#include <stdlib.h>
#include <string.h>

/* The byte offset of character pos (1-based, UTF-8) of text: PostgreSQL's error cursor. */
static size_t char_to_byte(const char *text, int pos)
{
	size_t off = 0;
	for (int ch = 1; ch < pos && text[off]; ch++) {
		off++;
		while (((unsigned char)text[off] & 0xC0) == 0x80)
			off++;
	}
	return off;
}

/* The syntax error of a parse, if any: r's message and offset set. -1 when there is one, else 0. */
static int syntax_error(const char *text, const PgQueryError *e, rb_sqlparse_result *r)
{
	if (!e)
		return 0;
	r->message = rb_xstrdup(e->message ? e->message : "syntax error");
	r->error_offset = char_to_byte(text, e->cursorpos);
	return -1;
}

/* One attempt for the syntax alone (the raw parser, no tree handed out): 0, or -1 and the message and offset. */
static int check_text(const char *text, rb_sqlparse_result *r)
{
	PgQuerySplitResult res = pg_query_split_with_parser(text);
	int rc = syntax_error(text, res.error, r);
	pg_query_free_split_result(res);
	return rc;
}

/* One attempt: 0 and the tree (or only the syntax, when !tree), or -1 and the message and offset. */
static int parse_text(const char *text, int tree, rb_sqlparse_result *r)
{
	int rc = -1;
	if (!tree)
		return check_text(text, r);
	PgQueryProtobufParseResult res = pg_query_parse_protobuf(text);
	if (syntax_error(text, res.error, r) < 0)
		goto done;
	r->tree = pg_query__parse_result__unpack(NULL, res.parse_tree.len, (const uint8_t *)res.parse_tree.data);
	if (!r->tree) {
		r->message = rb_xstrdup("the parser's tree could not be read");
		goto done;
	}
	rc = 0;
done:
	pg_query_free_protobuf_parse_result(res);
	return rc;
}

/* rb_sqlparse, with the tree or for the syntax alone. */
static int parse(const char *stmt, int tree, rb_sqlparse_result *r)
{
	int rc = -1;
	char *text = NULL, *lit = NULL;
	size_t n = 0;
	memset(r, 0, sizeof *r);
	if (rb_sql_placeholders(stmt, 1, 0, &text, &n) < 0) {
		r->message = rb_xstrdup("unterminated quoted string or comment");
		goto done;
	}
	r->nvars = n;
	if (parse_text(text, tree, r) == 0) {
		rc = 0;
		goto done;
	}
	if (!n)
		goto done;
	/* A variable may stand where only a literal goes (PASSWORD :pw). */
	rb_sqlparse_result again;
	memset(&again, 0, sizeof again);
	if (rb_sql_placeholders(stmt, 1, 1, &lit, &n) == 0 && parse_text(lit, tree, &again) == 0) {
		rb_sqlparse_free(r);
		*r = again;
		r->nvars = n;
		rc = 0;
		goto done;
	}
	/* Both failed: certain only when the error is not at a placeholder and did not move. */
	r->uncertain = again.error_offset != r->error_offset || r->error_offset >= strlen(stmt) ||
		       stmt[r->error_offset] != text[r->error_offset];
	rb_sqlparse_free(&again);
done:
	free(text);
	free(lit);
	return rc;
}

int rb_sqlparse(const char *stmt, rb_sqlparse_result *r)
{
	return parse(stmt, 1, r);
}

int rb_sqlparse_syntax(const char *stmt, rb_sqlparse_result *r)
{
	return parse(stmt, 0, r);
}

void rb_sqlparse_free(rb_sqlparse_result *r)
{
	if (r->tree)
		pg_query__parse_result__free_unpacked(r->tree, NULL);
	free(r->message);
	memset(r, 0, sizeof *r);
}

int rb_sqlparse_option_on(const PgQuery__Node *opt, const char *name)
{
	if (!opt || opt->node_case != PG_QUERY__NODE__NODE_DEF_ELEM || strcmp(opt->def_elem->defname, name))
		return 0;
	const PgQuery__Node *arg = opt->def_elem->arg;
	if (!arg)
		return 1;
	switch (arg->node_case) {
	case PG_QUERY__NODE__NODE_INTEGER:
		return arg->integer->ival != 0;
	case PG_QUERY__NODE__NODE_BOOLEAN:
		return arg->boolean->boolval;
	case PG_QUERY__NODE__NODE_STRING: {
		const char *v = arg->string->sval;
		return strcmp(v, "false") && strcmp(v, "off") && strcmp(v, "0") && strcmp(v, "no");
	}
	default:
		return 1;
	}
}

static int any_option(PgQuery__Node *const *opts, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (rb_sqlparse_option_on(opts[i], name))
			return 1;
	return 0;
}

int rb_sqlparse_is_txn_control(const PgQuery__Node *stmt)
{
	if (!stmt || stmt->node_case != PG_QUERY__NODE__NODE_TRANSACTION_STMT)
		return 0;
	switch (stmt->transaction_stmt->kind) {
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN:
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START:
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT:
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK:
	case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_PREPARE:
		return 1;
	default:
		return 0;
	}
}

/* ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY */
static int detach_concurrently(const PgQuery__AlterTableStmt *a)
{
	for (size_t i = 0; i < a->n_cmds; i++) {
		const PgQuery__Node *c = a->cmds[i];
		if (c->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_CMD ||
		    c->alter_table_cmd->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_DetachPartition)
			continue;
		const PgQuery__Node *d = c->alter_table_cmd->def;
		if (d && d->node_case == PG_QUERY__NODE__NODE_PARTITION_CMD && d->partition_cmd->concurrent)
			return 1;
	}
	return 0;
}

/* CREATE SUBSCRIPTION makes a replication slot unless told not to (create_slot, connect = false). */
static int subscription_makes_slot(const PgQuery__CreateSubscriptionStmt *s)
{
	for (size_t i = 0; i < s->n_options; i++) {
		const PgQuery__Node *o = s->options[i];
		if (o->node_case != PG_QUERY__NODE__NODE_DEF_ELEM)
			continue;
		const char *name = o->def_elem->defname;
		if ((!strcmp(name, "create_slot") || !strcmp(name, "connect")) && !rb_sqlparse_option_on(o, name))
			return 0;
	}
	return 1;
}

int rb_sqlparse_no_txn_block(const PgQuery__Node *stmt)
{
	if (!stmt)
		return 0;
	switch (stmt->node_case) {
	case PG_QUERY__NODE__NODE_VACUUM_STMT:
		return stmt->vacuum_stmt->is_vacuumcmd; /* ANALYZE alone can */
	case PG_QUERY__NODE__NODE_CREATEDB_STMT:
	case PG_QUERY__NODE__NODE_DROPDB_STMT:
	case PG_QUERY__NODE__NODE_CREATE_TABLE_SPACE_STMT:
	case PG_QUERY__NODE__NODE_DROP_TABLE_SPACE_STMT:
	case PG_QUERY__NODE__NODE_ALTER_SYSTEM_STMT:
		return 1;
	case PG_QUERY__NODE__NODE_INDEX_STMT:
		return stmt->index_stmt->concurrent;
	case PG_QUERY__NODE__NODE_DROP_STMT:
		return stmt->drop_stmt->concurrent;
	case PG_QUERY__NODE__NODE_REINDEX_STMT: {
		const PgQuery__ReindexStmt *r = stmt->reindex_stmt;
		/* SCHEMA, DATABASE and SYSTEM commit once per table. */
		return r->kind == PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_SCHEMA ||
		       r->kind == PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_DATABASE ||
		       r->kind == PG_QUERY__REINDEX_OBJECT_TYPE__REINDEX_OBJECT_SYSTEM ||
		       any_option(r->params, r->n_params, "concurrently");
	}
	case PG_QUERY__NODE__NODE_ALTER_DATABASE_STMT: {
		const PgQuery__AlterDatabaseStmt *d = stmt->alter_database_stmt;
		for (size_t i = 0; i < d->n_options; i++)
			if (d->options[i]->node_case == PG_QUERY__NODE__NODE_DEF_ELEM &&
			    !strcmp(d->options[i]->def_elem->defname, "tablespace"))
				return 1;
		return 0;
	}
	case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
		return detach_concurrently(stmt->alter_table_stmt);
	case PG_QUERY__NODE__NODE_TRANSACTION_STMT:
		return stmt->transaction_stmt->kind == PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT_PREPARED ||
		       stmt->transaction_stmt->kind == PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_PREPARED;
	case PG_QUERY__NODE__NODE_DISCARD_STMT:
		return stmt->discard_stmt->target == PG_QUERY__DISCARD_MODE__DISCARD_ALL;
	case PG_QUERY__NODE__NODE_CLUSTER_STMT:
		return !stmt->cluster_stmt->relation; /* every table: one transaction each */
	case PG_QUERY__NODE__NODE_CREATE_SUBSCRIPTION_STMT:
		return subscription_makes_slot(stmt->create_subscription_stmt);
	default:
		return 0;
	}
}

int rb_sqlparse_classify(const char *stmt, int std_strings, int *txn_control, int *no_txn_block)
{
	int rc = -1;
	rb_sqlparse_result r = RB_SQLPARSE_INIT;
	if (!std_strings || rb_sqlparse(stmt, &r) < 0)
		goto done;
	*txn_control = *no_txn_block = 0;
	for (size_t i = 0; i < r.tree->n_stmts; i++) {
		const PgQuery__Node *n = r.tree->stmts[i]->stmt;
		*txn_control |= rb_sqlparse_is_txn_control(n);
		*no_txn_block |= rb_sqlparse_no_txn_block(n);
	}
	rc = 0;
done:
	rb_sqlparse_free(&r);
	return rc;
}
