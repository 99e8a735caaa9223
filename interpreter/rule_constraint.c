/*
 * rule_constraint.c - constraints that make PostgreSQL read the whole
 * table, or build an index, under a lock.
 *
 * ADD CONSTRAINT ... FOREIGN KEY checks every row under a SHARE ROW
 * EXCLUSIVE lock on both tables, and a CHECK under the ACCESS EXCLUSIVE
 * lock of the ALTER TABLE: both have a NOT VALID form that only checks
 * new rows, and VALIDATE CONSTRAINT later checks the old ones under a
 * SHARE UPDATE EXCLUSIVE lock that lets writes go on. A column added with
 * REFERENCES gets its foreign key at once, with no NOT VALID form.
 * ADD UNIQUE and ADD PRIMARY KEY build their index under the ACCESS
 * EXCLUSIVE lock unless they take over one built CONCURRENTLY (USING
 * INDEX); an exclusion constraint always builds its own.
 */
#include "sqlrule.h"

#include <stdlib.h>

static void not_valid(const PgQuery__AlterTableStmt *a, const PgQuery__AlterTableCmd *c, rb_sqlrule_ctx *ctx)
{
	const PgQuery__Node *d = c->def;
	char *t = rb_sqlrule_table_name(a->relation);
	if (c->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint && d &&
	    d->node_case == PG_QUERY__NODE__NODE_CONSTRAINT && !d->constraint->skip_validation) {
		if (d->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN)
			rb_sqlrule_report(ctx, &rb_rule_not_valid, d->constraint->location,
					  "ADD FOREIGN KEY on \"%s\" without NOT VALID: it checks every row under a SHARE ROW "
					  "EXCLUSIVE lock on both tables, blocking their writes; add it NOT VALID, then "
					  "VALIDATE CONSTRAINT in a later statement (writes go on)", t);
		else if (d->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_CHECK)
			rb_sqlrule_report(ctx, &rb_rule_not_valid, d->constraint->location,
					  "ADD CHECK on \"%s\" without NOT VALID: it checks every row under an ACCESS "
					  "EXCLUSIVE lock, blocking reads and writes; add it NOT VALID, then VALIDATE "
					  "CONSTRAINT in a later statement (writes go on)", t);
	}
	if (c->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn && d && d->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF) {
		for (size_t i = 0; i < d->column_def->n_constraints; i++) {
			const PgQuery__Node *k = d->column_def->constraints[i];
			if (k->node_case == PG_QUERY__NODE__NODE_CONSTRAINT &&
			    k->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN)
				rb_sqlrule_report(ctx, &rb_rule_not_valid, k->constraint->location,
						  "ADD COLUMN \"%s\" with REFERENCES: the foreign key comes without NOT VALID "
						  "and takes a SHARE ROW EXCLUSIVE lock on the referenced table too; add the "
						  "column, then ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID and VALIDATE it",
						  d->column_def->colname);
		}
	}
	free(t);
}

/* "UNIQUE", "PRIMARY KEY", "EXCLUDE" when constraint k builds an index of its own, else NULL. */
static const char *builds_index(const PgQuery__Node *k)
{
	if (!k || k->node_case != PG_QUERY__NODE__NODE_CONSTRAINT)
		return NULL;
	const PgQuery__Constraint *c = k->constraint;
	if (c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_EXCLUSION)
		return "EXCLUDE";
	if (*c->indexname)
		return NULL;
	return c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE ? "UNIQUE"
	       : c->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY ? "PRIMARY KEY" : NULL;
}

static void report_index(rb_sqlrule_ctx *ctx, const char *what, const char *t, int loc)
{
	if (what[0] == 'E')
		rb_sqlrule_report(ctx, &rb_rule_constraint_index, loc,
				  "ADD EXCLUDE on \"%s\": it builds its index under an ACCESS EXCLUSIVE lock, blocking "
				  "reads and writes, and cannot use one built concurrently; do it in a maintenance window", t);
	else
		rb_sqlrule_report(ctx, &rb_rule_constraint_index, loc,
				  "ADD %s on \"%s\": it builds its index under an ACCESS EXCLUSIVE lock, blocking reads "
				  "and writes; CREATE UNIQUE INDEX CONCURRENTLY first, then ADD CONSTRAINT ... %s USING "
				  "INDEX", what, t, what);
}

static void constraint_index(const PgQuery__AlterTableStmt *a, const PgQuery__AlterTableCmd *c, rb_sqlrule_ctx *ctx)
{
	const PgQuery__Node *d = c->def;
	char *t = rb_sqlrule_table_name(a->relation);
	const char *what = c->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint ? builds_index(d) : NULL;
	if (what)
		report_index(ctx, what, t, d->constraint->location);
	if (c->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn && d && d->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF)
		for (size_t i = 0; i < d->column_def->n_constraints; i++)
			if ((what = builds_index(d->column_def->constraints[i])) != NULL)
				report_index(ctx, what, t, d->column_def->constraints[i]->constraint->location);
	free(t);
}

static void check_not_valid(const PgQuery__Node *n, int loc, rb_sqlrule_ctx *ctx) { (void)loc; rb_sqlrule_each_cmd(n, ctx, not_valid); }
static void check_index(const PgQuery__Node *n, int loc, rb_sqlrule_ctx *ctx) { (void)loc; rb_sqlrule_each_cmd(n, ctx, constraint_index); }

const rb_sqlrule rb_rule_not_valid = {
	"constraint-not-valid",
	"ADD FOREIGN KEY / CHECK without NOT VALID, or a column with REFERENCES (checks every row under a lock)",
	check_not_valid
};

const rb_sqlrule rb_rule_constraint_index = {
	"constraint-builds-index",
	"ADD UNIQUE / PRIMARY KEY not USING INDEX built concurrently, or ADD EXCLUDE (index built under ACCESS EXCLUSIVE)",
	check_index
};
