/*
 * rule_destructive.c - statements that destroy data: DROP TABLE, DROP
 * COLUMN, DROP SCHEMA, DROP DATABASE, TRUNCATE, and DELETE or UPDATE
 * without WHERE.
 *
 * They are read from the parse tree, so a statement split over lines is
 * seen and a word inside a string or a comment is not. Such a step is fine
 * when it asks for confirmation (confirm), expects to fail, or is not in
 * the main flow (a handler, a manual section, an undo block); a table the
 * runbook created earlier is its own scratch. Whether or not it is
 * reported, the driver learns of it for the front matter's `undo: required`.
 */
#include "sqlrule.h"

#include <stdlib.h>
#include <string.h>

/* label: what undo: required names ("DROP TABLE"); shown: the statement in the message; lock: what it takes. */
static void destroys(rb_sqlrule_ctx *ctx, const rb_sqlrule *rule, const char *label, const char *shown,
		     const char *lock)
{
	rb_sqlrule_destroys(ctx, label, -1);
	if (ctx->guarded)
		return;
	rb_sqlrule_report(ctx, rule, -1, "destructive command (%s) outside a handler or manual section: it takes %s "
			  "lock and the data is gone once it commits; add confirm to the step", shown, lock);
}

static void destroys_named(rb_sqlrule_ctx *ctx, const char *label, const char *name)
{
	char *shown = rb_xasprintf("%s \"%s\"", label, name);
	destroys(ctx, &rb_rule_destroys_data, label, shown, "an ACCESS EXCLUSIVE");
	free(shown);
}

/* The last name of a DROP's object (a List of Strings), for the message. */
static const char *object_name(const PgQuery__Node *o)
{
	if (o->node_case == PG_QUERY__NODE__NODE_STRING)
		return o->string->sval;
	if (o->node_case == PG_QUERY__NODE__NODE_LIST && o->list->n_items &&
	    o->list->items[o->list->n_items - 1]->node_case == PG_QUERY__NODE__NODE_STRING)
		return o->list->items[o->list->n_items - 1]->string->sval;
	return "";
}

static void drop(const PgQuery__DropStmt *d, rb_sqlrule_ctx *ctx)
{
	const char *what = d->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE ? "DROP TABLE"
			   : d->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_SCHEMA ? "DROP SCHEMA"
			   : d->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW ? "DROP MATERIALIZED VIEW" : NULL;
	for (size_t i = 0; what && i < d->n_objects; i++) {
		PgQuery__RangeVar rv = PG_QUERY__RANGE_VAR__INIT;
		rv.relname = (char *)object_name(d->objects[i]);
		if (d->remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_SCHEMA || !rb_sqlrule_table_is_new(ctx, &rv)) {
			destroys_named(ctx, what, rv.relname);
			return;
		}
	}
}

static void drop_column(const PgQuery__AlterTableStmt *a, const PgQuery__AlterTableCmd *c, rb_sqlrule_ctx *ctx)
{
	if (c->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn)
		return;
	char *name = rb_xasprintf("%s.%s", a->relation->relname, c->name);
	destroys_named(ctx, "DROP COLUMN", name);
	free(name);
}

static void check_destroys(const PgQuery__Node *n, int loc, rb_sqlrule_ctx *ctx)
{
	(void)loc;
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_DROP_STMT:
		drop(n->drop_stmt, ctx);
		break;
	case PG_QUERY__NODE__NODE_DROPDB_STMT:
		destroys_named(ctx, "DROP DATABASE", n->dropdb_stmt->dbname);
		break;
	case PG_QUERY__NODE__NODE_TRUNCATE_STMT:
		for (size_t i = 0; i < n->truncate_stmt->n_relations; i++) {
			const PgQuery__Node *r = n->truncate_stmt->relations[i];
			if (r->node_case == PG_QUERY__NODE__NODE_RANGE_VAR && !rb_sqlrule_table_is_new(ctx, r->range_var)) {
				destroys_named(ctx, "TRUNCATE", r->range_var->relname);
				break;
			}
		}
		break;
	case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
		rb_sqlrule_each_cmd(n, ctx, drop_column);
		break;
	default:
		break;
	}
}

static void check_where(const PgQuery__Node *n, int loc, rb_sqlrule_ctx *ctx)
{
	(void)loc;
	const PgQuery__RangeVar *rel = NULL;
	const char *what = NULL;
	if (n->node_case == PG_QUERY__NODE__NODE_DELETE_STMT && !n->delete_stmt->where_clause) {
		rel = n->delete_stmt->relation;
		what = "DELETE without WHERE";
	} else if (n->node_case == PG_QUERY__NODE__NODE_UPDATE_STMT && !n->update_stmt->where_clause) {
		rel = n->update_stmt->relation;
		what = "UPDATE without WHERE";
	}
	if (what && !rb_sqlrule_table_is_new(ctx, rel)) {
		char *shown = rb_xasprintf("%s on \"%s\"", what, rel ? rel->relname : "?");
		destroys(ctx, &rb_rule_write_without_where, what, shown, "a ROW EXCLUSIVE lock and a row");
		free(shown);
	}
}

const rb_sqlrule rb_rule_destroys_data = {
	"destroys-data",
	"DROP TABLE / COLUMN / SCHEMA / DATABASE, TRUNCATE in the main flow without confirm",
	check_destroys
};

const rb_sqlrule rb_rule_write_without_where = {
	"write-without-where",
	"DELETE or UPDATE without WHERE in the main flow without confirm (every row)",
	check_where
};
