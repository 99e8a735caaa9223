/*
 * rule_add_column.c - ALTER TABLE ... ADD COLUMN that rewrites the table,
 * fails on rows already there, or adds a json column.
 *
 * Since PostgreSQL 11 a column with a constant (or stable) default is added
 * without touching the rows; a volatile default (random(), clock_timestamp(),
 * gen_random_uuid(), a serial's nextval()), an identity or a stored
 * generated column makes PostgreSQL rewrite the table under an ACCESS
 * EXCLUSIVE lock. Volatility is not known offline for every function: the
 * known volatile ones are listed here, and any other function is taken as
 * stable. NOT NULL without a default fails as soon as the table has a row.
 * json (not jsonb) has no equality operator: DISTINCT and UNION over the
 * table start failing (strong_migrations' "add json column").
 */
#include "sqlrule.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const volatile_functions[] = {
	"random", "random_normal", "setseed", "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v1mc",
	"uuid_generate_v4", "clock_timestamp", "timeofday", "nextval", "txid_current", "pg_current_xact_id", NULL
};

/* The last name of a qualified name list (pg_catalog.int4 -> int4). */
static const char *last_name(PgQuery__Node *const *names, size_t n)
{
	const PgQuery__Node *last = n ? names[n - 1] : NULL;
	return last && last->node_case == PG_QUERY__NODE__NODE_STRING ? last->string->sval : "";
}

/* The first known volatile function called in expression e, or NULL. */
static const char *volatile_call(const PgQuery__Node *e)
{
	const char *found = NULL;
	if (!e)
		return NULL;
	switch (e->node_case) {
	case PG_QUERY__NODE__NODE_FUNC_CALL: {
		const char *name = last_name(e->func_call->funcname, e->func_call->n_funcname);
		for (const char *const *v = volatile_functions; *v && !found; v++)
			if (!strcmp(name, *v))
				found = *v;
		for (size_t i = 0; i < e->func_call->n_args && !found; i++)
			found = volatile_call(e->func_call->args[i]);
		return found;
	}
	case PG_QUERY__NODE__NODE_TYPE_CAST:
		return volatile_call(e->type_cast->arg);
	case PG_QUERY__NODE__NODE_A_EXPR:
		found = volatile_call(e->a_expr->lexpr);
		return found ? found : volatile_call(e->a_expr->rexpr);
	case PG_QUERY__NODE__NODE_COALESCE_EXPR:
		for (size_t i = 0; i < e->coalesce_expr->n_args && !found; i++)
			found = volatile_call(e->coalesce_expr->args[i]);
		return found;
	default:
		return NULL;
	}
}

/* Why adding column c rewrites the table, or NULL when it does not. */
static const char *rewrites(const PgQuery__ColumnDef *c, const char **fn)
{
	const char *type = c->type_name ? last_name(c->type_name->names, c->type_name->n_names) : "";
	*fn = NULL;
	if (!strcasecmp(type, "serial") || !strcasecmp(type, "bigserial") || !strcasecmp(type, "smallserial") ||
	    !strcasecmp(type, "serial4") || !strcasecmp(type, "serial8") || !strcasecmp(type, "serial2"))
		return "a serial type (its default is nextval())";
	for (size_t i = 0; i < c->n_constraints; i++) {
		const PgQuery__Node *k = c->constraints[i];
		if (k->node_case != PG_QUERY__NODE__NODE_CONSTRAINT)
			continue;
		if (k->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_IDENTITY)
			return "an identity";
		if (k->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_GENERATED)
			return "a stored generated expression";
		if (k->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT &&
		    (*fn = volatile_call(k->constraint->raw_expr)) != NULL)
			return "a volatile default";
	}
	return NULL;
}

static int has_constraint(const PgQuery__ColumnDef *c, PgQuery__ConstrType type)
{
	for (size_t i = 0; i < c->n_constraints; i++)
		if (c->constraints[i]->node_case == PG_QUERY__NODE__NODE_CONSTRAINT &&
		    c->constraints[i]->constraint->contype == type)
			return 1;
	return 0;
}

/* Calls fn with each column an ALTER TABLE of an existing table adds. */
static void each_added(const PgQuery__Node *n, rb_sqlrule_ctx *ctx,
		       void (*fn)(const PgQuery__ColumnDef *c, const char *table, rb_sqlrule_ctx *ctx))
{
	if (n->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_STMT ||
	    rb_sqlrule_table_is_new(ctx, n->alter_table_stmt->relation))
		return;
	const PgQuery__AlterTableStmt *a = n->alter_table_stmt;
	char *table = rb_sqlrule_table_name(a->relation);
	for (size_t i = 0; i < a->n_cmds; i++) {
		const PgQuery__Node *cmd = a->cmds[i];
		if (cmd->node_case == PG_QUERY__NODE__NODE_ALTER_TABLE_CMD &&
		    cmd->alter_table_cmd->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn && cmd->alter_table_cmd->def &&
		    cmd->alter_table_cmd->def->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF)
			fn(cmd->alter_table_cmd->def->column_def, table, ctx);
	}
	free(table);
}

static void volatile_default(const PgQuery__ColumnDef *c, const char *table, rb_sqlrule_ctx *ctx)
{
	const char *fn = NULL;
	const char *why = rewrites(c, &fn);
	if (why)
		rb_sqlrule_report(ctx, &rb_rule_volatile_default, c->location,
				  "ADD COLUMN \"%s\" with %s%s%s%s: PostgreSQL rewrites the whole table \"%s\" under an "
				  "ACCESS EXCLUSIVE lock, blocking reads and writes; add the column without it, then "
				  "set the default and backfill the rows in batches", c->colname, why, fn ? " (" : "",
				  fn ? fn : "", fn ? "())" : "", table);
}

static void required(const PgQuery__ColumnDef *c, const char *table, rb_sqlrule_ctx *ctx)
{
	const char *fn;
	if (!(c->is_not_null || has_constraint(c, PG_QUERY__CONSTR_TYPE__CONSTR_NOTNULL)) ||
	    has_constraint(c, PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT) || has_constraint(c, PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY) ||
	    rewrites(c, &fn))
		return;
	rb_sqlrule_report(ctx, &rb_rule_required_column, c->location,
			  "ADD COLUMN \"%s\" NOT NULL without a default: it fails as soon as \"%s\" has a row (and "
			  "takes an ACCESS EXCLUSIVE lock); give it a constant default, or add it nullable, backfill, "
			  "and SET NOT NULL through a validated CHECK", c->colname, table);
}

static void json(const PgQuery__ColumnDef *c, const char *table, rb_sqlrule_ctx *ctx)
{
	const char *type = c->type_name ? last_name(c->type_name->names, c->type_name->n_names) : "";
	(void)table;
	if (!strcmp(type, "json"))
		rb_sqlrule_report(ctx, &rb_rule_json_column, c->location,
				  "ADD COLUMN \"%s\" of type json: json has no equality operator, so SELECT DISTINCT "
				  "and UNION over the table start failing; use jsonb", c->colname);
}

static void check_volatile(const PgQuery__Node *n, int loc, rb_sqlrule_ctx *ctx) { (void)loc; each_added(n, ctx, volatile_default); }
static void check_required(const PgQuery__Node *n, int loc, rb_sqlrule_ctx *ctx) { (void)loc; each_added(n, ctx, required); }
static void check_json(const PgQuery__Node *n, int loc, rb_sqlrule_ctx *ctx) { (void)loc; each_added(n, ctx, json); }

const rb_sqlrule rb_rule_volatile_default = {
	"add-column-volatile-default",
	"ADD COLUMN with a volatile default, serial, identity or stored generated column (table rewrite)",
	check_volatile
};

const rb_sqlrule rb_rule_required_column = {
	"add-column-required",
	"ADD COLUMN ... NOT NULL without a default (fails on a table with rows)",
	check_required
};

const rb_sqlrule rb_rule_json_column = {
	"add-column-json",
	"ADD COLUMN of type json (no equality operator: DISTINCT and UNION fail); use jsonb",
	check_json
};
