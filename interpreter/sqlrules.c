/*
 * sqlrules.c - the registry of SQL lint rules and the driver that runs them
 * over a runbook's sql steps: split (sqlsplit.c), parse (sqlparse.c), place
 * each finding at its file:line:col (srcmap.c), and keep what the runbook
 * did so far (tables created, NOT NULL checks validated, the transaction
 * and lock timeout a statement runs under).
 */
#define _GNU_SOURCE
#include "sqlrules.h"
#include "sqlparse.h"
#include "sqlsplit.h"
#include "srcmap.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INCLUDE_DEPTH 16

const rb_sqlrule *const rb_sqlrules_all[] = {
	&rb_rule_create_index,
	&rb_rule_drop_index,
	&rb_rule_volatile_default,
	&rb_rule_required_column,
	&rb_rule_json_column,
	&rb_rule_column_type,
	&rb_rule_set_not_null,
	&rb_rule_not_valid,
	&rb_rule_constraint_index,
	&rb_rule_rename,
	&rb_rule_destroys_data,
	&rb_rule_write_without_where,
	&rb_rule_vacuum_full,
	&rb_rule_cluster,
	&rb_rule_lock_table,
	&rb_rule_reindex,
	&rb_rule_concurrently_in_txn,
	&rb_rule_nested_txn,
	&rb_rule_lock_timeout,
	&rb_rule_not_retryable,
	NULL
};

const rb_sqlrule *rb_sqlrules_find(const char *name)
{
	for (const rb_sqlrule *const *r = rb_sqlrules_all; *r; r++)
		if (!strcmp((*r)->name, name))
			return *r;
	return NULL;
}

void rb_sqlrules_list(rb_buf *out)
{
	for (const rb_sqlrule *const *r = rb_sqlrules_all; *r; r++)
		rb_buf_printf(out, "%-30s %s\n", (*r)->name, (*r)->summary);
}

void rb_sqlrules_each_allowed(const rb_step *s, void (*fn)(void *ctx, const char *name, int col), void *ctx)
{
	const char *v = s->allow.value;
	while (v && *v) {
		size_t n = strcspn(v, ",");
		const char *p = v, *e = v + n;
		while (p < e && isspace((unsigned char)*p))
			p++;
		while (e > p && isspace((unsigned char)e[-1]))
			e--;
		if (e > p) {
			char *name = rb_xstrndup(p, (size_t)(e - p));
			fn(ctx, name, (int)(p - s->allow.value));
			free(name);
		}
		v += n + (v[n] == ',');
	}
}

typedef struct {
	const char *want;
	int found;
} allow_query;

static void allow_match(void *ctx, const char *name, int col)
{
	allow_query *q = ctx;
	(void)col;
	q->found |= !strcmp(q->want, name);
}

int rb_sqlrules_allowed(const rb_step *s, const char *name)
{
	allow_query q = {name, 0};
	rb_sqlrules_each_allowed(s, allow_match, &q);
	return q.found;
}

/* A CHECK (column IS NOT NULL) added NOT VALID, waiting for VALIDATE CONSTRAINT. */
typedef struct {
	char *table;
	char *name;
	char *column;
} pending_check;

struct rb_sqlrules {
	const rb_runbook *rb;
	rb_diags *d;
	rb_strset new_tables;
	rb_strset not_null_checked;
	pending_check *pending;
	size_t npending;
	/* the step being checked */
	const rb_step *step;
	const char *destroys_what;
	int destroys_line;
	/* the statement being checked: where its text is */
	const char *file;
	const rb_srcmap *map; /* of the text it was cut from */
	size_t base;          /* offset of its first byte there */
	const char *text;
	int stmt_location;
};

rb_sqlrules *rb_sqlrules_new(const rb_runbook *rb, rb_diags *d)
{
	rb_sqlrules *r = rb_xcalloc(1, sizeof *r);
	r->rb = rb;
	r->d = d;
	return r;
}

void rb_sqlrules_free(rb_sqlrules *r)
{
	if (!r)
		return;
	rb_strset_free(&r->new_tables);
	rb_strset_free(&r->not_null_checked);
	for (size_t i = 0; i < r->npending; i++) {
		free(r->pending[i].table);
		free(r->pending[i].name);
		free(r->pending[i].column);
	}
	free(r->pending);
	free(r);
}

/* The file position of byte off of the current statement's text. */
static void locate(const rb_sqlrules *r, size_t off, int *line, int *col)
{
	rb_srcmap_locate(r->map, r->base + off, line, col);
}

/* A statement's location points at what precedes it (after the last ';'): its first token. */
static size_t skip_space(const char *text, size_t off)
{
	size_t len = strlen(text);
	while (off < len && isspace((unsigned char)text[off]))
		off++;
	return off;
}

void rb_sqlrule_report(rb_sqlrule_ctx *ctx, const rb_sqlrule *rule, int location, const char *fmt, ...)
{
	rb_sqlrules *r = ctx->driver;
	if (rb_sqlrules_allowed(ctx->step, rule->name))
		return;
	rb_buf b = RB_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	rb_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	int line, col;
	locate(r, skip_space(r->text, (size_t)(location >= 0 ? location : r->stmt_location)), &line, &col);
	rb_diags_add_rule(r->d, RB_DIAG_WARNING, rule->name, r->file, line, col, "%s [%s]", b.data, rule->name);
	rb_buf_free(&b);
}

void rb_sqlrule_destroys(rb_sqlrule_ctx *ctx, const char *what, int location)
{
	rb_sqlrules *r = ctx->driver;
	int line, col;
	if (r->destroys_what)
		return;
	locate(r, skip_space(r->text, (size_t)(location >= 0 ? location : r->stmt_location)), &line, &col);
	r->destroys_what = what;
	r->destroys_line = line;
}

char *rb_sqlrule_table_name(const PgQuery__RangeVar *rel)
{
	if (!rel)
		return rb_xstrdup("?");
	return *rel->schemaname ? rb_xasprintf("%s.%s", rel->schemaname, rel->relname) : rb_xstrdup(rel->relname);
}

int rb_sqlrule_table_is_new(const rb_sqlrule_ctx *ctx, const PgQuery__RangeVar *rel)
{
	/* By name alone: a runbook rarely creates two tables of one name in two schemas. */
	return rel && rb_strset_get(ctx->new_tables, rel->relname) >= 0;
}

void rb_sqlrule_each_cmd(const PgQuery__Node *n, rb_sqlrule_ctx *ctx,
			 void (*fn)(const PgQuery__AlterTableStmt *a, const PgQuery__AlterTableCmd *c, rb_sqlrule_ctx *ctx))
{
	if (n->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_STMT ||
	    n->alter_table_stmt->objtype != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE ||
	    rb_sqlrule_table_is_new(ctx, n->alter_table_stmt->relation))
		return;
	const PgQuery__AlterTableStmt *a = n->alter_table_stmt;
	for (size_t i = 0; i < a->n_cmds; i++)
		if (a->cmds[i]->node_case == PG_QUERY__NODE__NODE_ALTER_TABLE_CMD)
			fn(a, a->cmds[i]->alter_table_cmd, ctx);
}

int rb_sqlrule_location(const PgQuery__Node *n, int fallback)
{
	int loc = -1;
	if (!n)
		return fallback;
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_RANGE_VAR:
		loc = n->range_var->location;
		break;
	case PG_QUERY__NODE__NODE_CONSTRAINT:
		loc = n->constraint->location;
		break;
	case PG_QUERY__NODE__NODE_COLUMN_DEF:
		loc = n->column_def->location;
		break;
	case PG_QUERY__NODE__NODE_DEF_ELEM:
		loc = n->def_elem->location;
		break;
	default:
		break;
	}
	return loc >= 0 ? loc : fallback;
}

/* --- what the runbook did so far ------------------------------------------- */

/* The column a CHECK (column IS NOT NULL) is about, or NULL. */
static const char *not_null_column(const PgQuery__Constraint *c)
{
	const PgQuery__Node *e = c->raw_expr;
	if (c->contype != PG_QUERY__CONSTR_TYPE__CONSTR_CHECK || !e || e->node_case != PG_QUERY__NODE__NODE_NULL_TEST ||
	    e->null_test->nulltesttype != PG_QUERY__NULL_TEST_TYPE__IS_NOT_NULL)
		return NULL;
	const PgQuery__Node *arg = e->null_test->arg;
	if (!arg || arg->node_case != PG_QUERY__NODE__NODE_COLUMN_REF || !arg->column_ref->n_fields)
		return NULL;
	const PgQuery__Node *f = arg->column_ref->fields[arg->column_ref->n_fields - 1];
	return f->node_case == PG_QUERY__NODE__NODE_STRING ? f->string->sval : NULL;
}

static void checked(rb_sqlrules *r, const char *table, const char *column)
{
	char *key = rb_xasprintf("%s.%s", table, column);
	rb_strset_add(&r->not_null_checked, key, 1);
	free(key);
}

static void note_alter(rb_sqlrules *r, const PgQuery__AlterTableStmt *a)
{
	const char *table = a->relation ? a->relation->relname : "";
	for (size_t i = 0; i < a->n_cmds; i++) {
		if (a->cmds[i]->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_CMD)
			continue;
		const PgQuery__AlterTableCmd *c = a->cmds[i]->alter_table_cmd;
		const PgQuery__Node *def = c->def;
		if (c->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint && def &&
		    def->node_case == PG_QUERY__NODE__NODE_CONSTRAINT) {
			const char *col = not_null_column(def->constraint);
			if (col && !def->constraint->skip_validation) {
				checked(r, table, col);
			} else if (col && *def->constraint->conname) {
				r->pending = rb_xrealloc(r->pending, (r->npending + 1) * sizeof *r->pending);
				r->pending[r->npending++] = (pending_check){rb_xstrdup(table),
					rb_xstrdup(def->constraint->conname), rb_xstrdup(col)};
			}
		} else if (c->subtype == PG_QUERY__ALTER_TABLE_TYPE__AT_ValidateConstraint) {
			for (size_t k = 0; k < r->npending; k++)
				if (!strcmp(r->pending[k].table, table) && !strcmp(r->pending[k].name, c->name))
					checked(r, table, r->pending[k].column);
		}
	}
}

/* The lock_timeout a SET gives: 0 for 0, '0', '0s', DEFAULT and RESET; else some wait. */
static int64_t set_lock_timeout(const PgQuery__VariableSetStmt *v, int64_t now)
{
	if (v->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_DEFAULT || v->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET)
		return 0;
	if (v->kind != PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE || v->n_args != 1 ||
	    v->args[0]->node_case != PG_QUERY__NODE__NODE_A_CONST)
		return now;
	const PgQuery__AConst *c = v->args[0]->a_const;
	if (c->val_case == PG_QUERY__A__CONST__VAL_IVAL)
		return c->ival->ival;
	if (c->val_case == PG_QUERY__A__CONST__VAL_SVAL)
		return strtod(c->sval->sval, NULL) > 0 ? 1 : 0;
	if (c->val_case == PG_QUERY__A__CONST__VAL_FVAL)
		return strtod(c->fval->fval, NULL) > 0 ? 1 : 0;
	return now;
}

/* After the rules: what this statement changes for the statements after it. */
static void note(rb_sqlrules *r, const PgQuery__Node *n, rb_sqlrule_ctx *ctx)
{
	switch (n->node_case) {
	case PG_QUERY__NODE__NODE_CREATE_STMT:
		rb_strset_add(&r->new_tables, n->create_stmt->relation->relname, 1);
		break;
	case PG_QUERY__NODE__NODE_INDEX_STMT:
		if (*n->index_stmt->idxname)
			rb_strset_add(&r->new_tables, n->index_stmt->idxname, 1);
		break;
	case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
		if (n->create_table_as_stmt->into && n->create_table_as_stmt->into->rel)
			rb_strset_add(&r->new_tables, n->create_table_as_stmt->into->rel->relname, 1);
		break;
	case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
		note_alter(r, n->alter_table_stmt);
		break;
	case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT:
		if (!strcmp(n->variable_set_stmt->name, "lock_timeout"))
			ctx->lock_timeout_ms = set_lock_timeout(n->variable_set_stmt, ctx->lock_timeout_ms);
		break;
	case PG_QUERY__NODE__NODE_TRANSACTION_STMT:
		if (rb_sqlparse_is_txn_control(n))
			ctx->explicit_transaction =
				n->transaction_stmt->kind == PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN ||
				n->transaction_stmt->kind == PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START;
		break;
	default:
		break;
	}
}

/* --- the walk --------------------------------------------------------------- */

typedef struct {
	rb_sqlrule_ctx ctx;
	int step_txn;     /* the step wraps the block in a transaction */
	int rules;        /* 0: syntax only (a skipped step) */
} step_state;

/* One statement item: a syntax error, or every rule on each of its statements. */
static void statement(rb_sqlrules *r, step_state *st, const char *text)
{
	rb_sqlparse_result res = RB_SQLPARSE_INIT;
	char word[16];
	r->text = text;
	st->ctx.text = text;
	/* No rule looks at a query or an INSERT, nor does note(): for those the syntax is enough. */
	rb_sql_first_word(text, 1, word, sizeof word);
	int syntax_only = !strcmp(word, "select") || !strcmp(word, "insert") || !strcmp(word, "values") ||
			  !strcmp(word, "table");
	if ((syntax_only ? rb_sqlparse_syntax(text, &res) : rb_sqlparse(text, &res)) < 0) {
		int line, col;
		locate(r, res.error_offset, &line, &col);
		if (!res.uncertain)
			rb_diags_add_rule(r->d, RB_DIAG_ERROR, "sql-syntax", r->file, line, col, "SQL: %s", res.message);
		goto done;
	}
	for (size_t i = 0; res.tree && i < res.tree->n_stmts; i++) {
		const PgQuery__Node *n = res.tree->stmts[i]->stmt;
		r->stmt_location = res.tree->stmts[i]->stmt_location;
		st->ctx.in_transaction = st->step_txn || st->ctx.explicit_transaction;
		for (const rb_sqlrule *const *rule = rb_sqlrules_all; st->rules && *rule; rule++)
			(*rule)->check(n, r->stmt_location, &st->ctx);
		note(r, n, &st->ctx);
	}
done:
	rb_sqlparse_free(&res);
}

static void walk_text(rb_sqlrules *r, step_state *st, const char *file, const char *text, int line, int col,
		      int depth);

/*
 * \i FILE, \ir FILE: the file's statements, as the run would send them,
 * read item by item (sqlsplit.h's reader): a file of any size, COPY data
 * and all, is never held whole.
 */
static void include(rb_sqlrules *r, step_state *st, const rb_sql_item *it, const char *file, int depth)
{
	char *path = rb_sql_include_path(it, file, r->rb->dir);
	rb_sql_reader *rd = NULL;
	rb_sql_item one;
	rb_error err = RB_ERROR_INIT;
	if (path && depth < MAX_INCLUDE_DEPTH && !strchr(it->args, ':') && rb_sql_reader_file(path, 1, &rd, &err) == 0) {
		while (rb_sql_reader_next(rd, &one, &err) > 0) {
			if (one.kind == RB_SQL_META && (one.cmd == RB_SQL_CMD_INCLUDE || one.cmd == RB_SQL_CMD_INCLUDE_RELATIVE)) {
				include(r, st, &one, path, depth + 1);
			} else if (one.kind == RB_SQL_STATEMENT && strlen(one.text) > 0) {
				rb_srcmap map;
				rb_srcmap_init(&map, one.text, strlen(one.text), one.line, one.col);
				r->file = path;
				r->map = &map;
				r->base = 0;
				statement(r, st, one.text);
				rb_srcmap_free(&map);
			}
			rb_sql_item_clear(&one);
		}
	}
	rb_sql_reader_free(rd);
	rb_error_clear(&err);
	free(path);
}

/* Every statement of text (a body whose lines start at column col, or a file) at file:line. */
static void walk_text(rb_sqlrules *r, step_state *st, const char *file, const char *text, int line, int col,
		      int depth)
{
	rb_sql_item *items = NULL;
	size_t n = 0;
	rb_error err = RB_ERROR_INIT;
	rb_srcmap map;
	rb_srcmap_init_block(&map, text, strlen(text), line, col);
	if (rb_sql_split(text, file, line, 1, &items, &n, &err) < 0)
		goto done; /* lint.c reports it */
	if (depth == 0)
		st->step_txn = st->ctx.step->transaction == RB_TXN_SINGLE && !rb_sql_has_txn_control(items, n);
	for (size_t i = 0; i < n; i++) {
		const rb_sql_item *it = &items[i];
		if (it->kind == RB_SQL_META) {
			if (it->cmd == RB_SQL_CMD_INCLUDE || it->cmd == RB_SQL_CMD_INCLUDE_RELATIVE)
				include(r, st, it, file, depth);
			continue;
		}
		r->file = file;
		r->map = &map;
		r->base = rb_srcmap_line_offset(&map, it->line) + (size_t)(it->col - 1);
		statement(r, st, it->text);
	}
done:
	rb_error_clear(&err);
	rb_sql_items_free(items, n);
	rb_srcmap_free(&map);
}

int rb_sqlrules_step(rb_sqlrules *r, const rb_step *s, const char **what, int *line)
{
	const rb_front_matter *fm = &r->rb->fm;
	step_state st;
	memset(&st, 0, sizeof st);
	st.ctx.rb = r->rb;
	st.ctx.step = s;
	st.ctx.lock_timeout_ms = s->lock_timeout_ms >= 0 ? s->lock_timeout_ms
				 : fm->lock_timeout_ms >= 0 ? fm->lock_timeout_ms : RB_DEFAULT_LOCK_TIMEOUT_MS;
	st.ctx.guarded = s->confirm || s->expect_error.value || s->role != RB_ROLE_MAIN;
	st.ctx.new_tables = &r->new_tables;
	st.ctx.not_null_checked = &r->not_null_checked;
	st.ctx.driver = r;
	st.rules = !s->skip;
	r->step = s;
	r->destroys_what = NULL;
	r->destroys_line = 0;
	walk_text(r, &st, r->rb->path, s->body, s->body_line, s->col, 0);
	*what = r->destroys_what;
	*line = r->destroys_line;
	return r->destroys_what != NULL;
}
