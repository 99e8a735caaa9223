/*
 * lint.c - the checks of `runbook check`, each finding with the id of its
 * rule (the table below; the SQL rules' are sqlrules.c's, shellcheck's are
 * its own), and allow= on a step, which silences rules there.
 */
#define _GNU_SOURCE
#include "lint.h"
#include "checkcache.h"
#include "frontmatter.h"
#include "interp.h"
#include "shellscan.h"
#include "luavm.h"
#include "process.h"
#include "sqlrules.h"
#include "sqlmeta.h"
#include "sqlsplit.h"
#include "srcmap.h"
#include "toolbatch.h"
#include "vars.h"
#include "visible.h"

#include <ctype.h>
#include <errno.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Runbook's own rules. Errors are never silenced: the step would fail, or would not be what it reads. */
const rb_lint_rule rb_lint_rules[] = {
	{"unclosed-fence", RB_DIAG_WARNING, 1, "a fence never closed swallows the headings and blocks after it"},
	{"destructive-command", RB_DIAG_WARNING, 1,
	 "rm -rf, dropdb, DROP/TRUNCATE on a psql line... in a main-flow shell step without confirm"},
	{"undefined-shell-variable", RB_DIAG_WARNING, 1, "a $VAR a shell step uses that nothing defines"},
	{"undeclared-tool", RB_DIAG_WARNING, 1,
	 "under requires:, a shell step's command that is no builtin, no standard utility and not in requires.tools"},
	{"doc-language", RB_DIAG_WARNING, 0, "a documentation block whose language looks executable (postgres, shellscript)"},
	{"unknown-front-matter-key", RB_DIAG_WARNING, 0, "a front matter key of another tool, or unknown: ignored"},
	{"shellcheck-not-run", RB_DIAG_WARNING, 0, "shellcheck is installed but could not check a block"},
	{"front-matter-typo", RB_DIAG_ERROR, 0, "a front matter key that is a typo of one of runbook's"},
	{"lua-syntax", RB_DIAG_ERROR, 0, "a Lua chunk, when= or expect= that does not compile"},
	{"unknown-step", RB_DIAG_ERROR, 0, "steps.ID naming no step"},
	{"later-step", RB_DIAG_ERROR, 0, "steps.ID naming a step that has not run yet there"},
	{"sql-syntax", RB_DIAG_ERROR, 0, "SQL that does not split (an unterminated quote) or that PostgreSQL's parser rejects"},
	{"psql-meta-command", RB_DIAG_ERROR, 0, "a meta-command runbook does not run, bad arguments, an \\if left open"},
	{"undefined-variable", RB_DIAG_ERROR, 0, "a :VAR in SQL that nothing defines before it"},
	{"needs-transaction-none", RB_DIAG_ERROR, 0, "CREATE INDEX CONCURRENTLY-like statement in a single-transaction step"},
	{"shell-syntax", RB_DIAG_ERROR, 0, "a shell block that its shell's -n rejects, or that could not be checked"},
	{"placeholder", RB_DIAG_ERROR, 0, "a placeholder (<host>, YOUR_...) left in a command"},
	{"hidden-character", RB_DIAG_ERROR, 0, "a control or bidirectional character in something that runs"},
	{"undo-required", RB_DIAG_ERROR, 0, "a step that changes things without an undo, under undo: required"},
	{"unknown-rule", RB_DIAG_ERROR, 0, "allow= naming no rule, or one it cannot silence"},
	{"db-connect", RB_DIAG_ERROR, 0, "--db: the database cannot be reached"},
	{"db-error", RB_DIAG_ERROR, 0, "--db: the server's error for a statement"},
	{NULL, RB_DIAG_ERROR, 0, NULL}
};

const rb_lint_rule *rb_lint_rule_find(const char *id)
{
	for (const rb_lint_rule *r = rb_lint_rules; r->id; r++)
		if (!strcmp(r->id, id))
			return r;
	return NULL;
}

void rb_lint_rules_list(rb_buf *out)
{
	rb_sqlrules_list(out);
	for (const rb_lint_rule *r = rb_lint_rules; r->id; r++)
		if (r->allowable)
			rb_buf_printf(out, "%-30s %s\n", r->id, r->summary);
}

/* SC2086: shellcheck's own ids, which allow= passes to it. */
static int shellcheck_id(const char *name)
{
	size_t n = strlen(name);
	return n > 2 && n < 16 && !strncmp(name, "SC", 2) && strspn(name + 2, "0123456789") == n - 2;
}

typedef struct {
	const rb_runbook *rb;
	rb_diags *d;
	rb_strset known;   /* variables defined so far, in document order */
	rb_vars values;    /* the values known for some (front matter defaults, \set): what --db runs with */
	const rb_strset *outside; /* defined before the run (environment, --set); may be NULL */
	rb_srcmap map;     /* the runbook's text, lines as cmark counts them */
	rb_sqlrules *rules; /* PostgreSQL's parser over every sql step, in document order */
	int run;           /* run's pre-flight: a missing interpreter is the run's to report (exit 5) */
	int gset;          /* a \gset came: which variables exist is known only at run time */
	PGconn *trial;     /* --db: one transaction for every block, rolled back at the end; NULL: none */
} lint_ctx;

/* A finding of rule (an id of the table above, or shellcheck's) at line:col of the runbook. */
static void add_at(lint_ctx *c, rb_severity sev, const char *rule, int line, int col, const char *fmt, va_list ap)
	__attribute__((format(printf, 6, 0)));
static void add_at(lint_ctx *c, rb_severity sev, const char *rule, int line, int col, const char *fmt, va_list ap)
{
	rb_buf b = RB_BUF_INIT;
	rb_buf_vprintf(&b, fmt, ap);
	rb_diags_add_rule(c->d, sev, rule, c->rb->path, line, col, "%s", b.data);
	rb_buf_free(&b);
}

static void err_at(lint_ctx *c, const char *rule, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void err_at(lint_ctx *c, const char *rule, int line, int col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	add_at(c, RB_DIAG_ERROR, rule, line, col, fmt, ap);
	va_end(ap);
}

/* A warning of rule about step s, unless the step's allow= silences the rule. */
static void warn_step(lint_ctx *c, const rb_step *s, const char *rule, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
static void warn_step(lint_ctx *c, const rb_step *s, const char *rule, int line, int col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (!s || !rb_sqlrules_allowed(s, rule))
		add_at(c, RB_DIAG_WARNING, rule, line, col, fmt, ap);
	va_end(ap);
}

/* Offers each name of set to sg. */
static void offer_set(rb_suggest *sg, const rb_strset *set)
{
	for (size_t i = 0; set && i < set->cap; i++)
		rb_suggest_offer(sg, set->keys[i]);
}

/* " (did you mean 'x'?)" for the variable defined so far nearest to name, or ""; caller frees. */
static char *variable_hint(const lint_ctx *c, const char *name, const rb_shell_scan *sc)
{
	rb_suggest sg = RB_SUGGEST_INIT(name);
	offer_set(&sg, &c->known);
	offer_set(&sg, c->outside);
	for (size_t k = 0; sc && k < sc->nassigned; k++)
		rb_suggest_offer(&sg, sc->assigned[k]);
	return rb_suggest_hint(&sg);
}

/* --- Lua ------------------------------------------------------------------ */

static void lua_compiles(lint_ctx *c, const char *code, int expression, int line, int col, const char *what)
{
	rb_lua_origin origin = {c->rb->path, line, NULL};
	int eline = 0;
	char *msg = NULL;
	/* An expression is one attribute on one line: its position is the attribute's,
	 * even when Lua notices the problem at the closing parenthesis it is wrapped in. */
	if (rb_lua_check(code, expression, &origin, &eline, &msg) < 0) {
		if (expression)
			eline = line;
		err_at(c, "lua-syntax", eline ? eline : line, eline && eline != line ? 1 : col, "%s does not compile: %s",
		       what, msg);
	}
	free(msg);
}

/* steps.ID / steps["ID"] must name a step written before `self` (or self, for expect=). */
static void step_refs(lint_ctx *c, const char *code, int line, int col, size_t self, int allow_self)
{
	const char *p = code;
	rb_srcmap lines;
	rb_srcmap_init_block(&lines, code, strlen(code), line, col);
	while ((p = strstr(p, "steps")) != NULL) {
		if (p > code && (isalnum((unsigned char)p[-1]) || p[-1] == '_')) {
			p += 5;
			continue;
		}
		const char *q = p + 5;
		char id[256];
		size_t n = 0;
		if (*q == '.') {
			q++;
			while ((isalnum((unsigned char)*q) || *q == '_') && n < sizeof id - 1)
				id[n++] = *q++;
		} else if (*q == '[' && (q[1] == '"' || q[1] == '\'')) {
			char quote = q[1];
			q += 2;
			while (*q && *q != quote && n < sizeof id - 1)
				id[n++] = *q++;
		}
		id[n] = '\0';
		int l, unused;
		rb_srcmap_locate(&lines, (size_t)(p - code), &l, &unused);
		if (n) {
			const rb_step *s = rb_runbook_find_step(c->rb, id);
			size_t at = s ? (size_t)(s - c->rb->steps) : 0;
			if (!s) {
				rb_suggest sg = RB_SUGGEST_INIT(id);
				for (size_t k = 0; k < c->rb->nsteps; k++)
					if (c->rb->steps[k].kind != RB_STEP_DOC)
						rb_suggest_offer(&sg, c->rb->steps[k].id);
				char *hint = rb_suggest_hint(&sg);
				err_at(c, "unknown-step", l, col, "steps.%s: no step with that id%s", id, hint);
				free(hint);
			} else if (at > self || (at == self && !allow_self)) {
				err_at(c, "later-step", l, col, "steps.%s: that step comes later, so it has not run yet", id);
			}
		}
		p = q;
	}
	rb_srcmap_free(&lines);
}

/* Names assigned with vars.NAME = in Lua code become known. */
static void lua_assignments(lint_ctx *c, const char *code)
{
	const char *p = code;
	while ((p = strstr(p, "vars.")) != NULL) {
		const char *q = p + 5;
		const char *name = q;
		while (isalnum((unsigned char)*q) || *q == '_')
			q++;
		size_t n = (size_t)(q - name);
		while (*q == ' ' || *q == '\t')
			q++;
		if (n && *q == '=' && q[1] != '=') {
			char *v = rb_xstrndup(name, n);
			rb_strset_add(&c->known, v, 1);
			free(v);
		}
		p = q;
	}
}

/* --- SQL ------------------------------------------------------------------- */

/* A variable's value for the statements: its known value, else "x" when something defines it, else NULL. */
static const char *known_lookup(void *ctx, const char *name)
{
	lint_ctx *c = ctx;
	const char *v = rb_vars_get(&c->values, name);
	if (v)
		return v;
	return c->gset || rb_strset_get(&c->known, name) >= 0 || (c->outside && rb_strset_get(c->outside, name) >= 0)
		       ? "x" : NULL;
}

/* \set NAME VALUE... and \unset NAME: the name is defined from here on, with the value psql would give it. */
static void set_var(lint_ctx *c, const rb_sql_item *it)
{
	char name[128];
	rb_sqlmeta_argv a = {NULL, 0};
	char *msg = NULL; /* a word psql would refuse: the run reports it */
	size_t at = 0;
	rb_buf v = RB_BUF_INIT;
	if (it->cmd == RB_SQL_CMD_SET && sscanf(it->args, "%127[A-Za-z0-9_]", name) == 1)
		rb_strset_add(&c->known, name, 1);
	if (rb_sqlmeta_words(it->args, known_lookup, c, &a, &msg, &at) < 0 || !a.n || !rb_var_name_valid(a.v[0]))
		goto done;
	if (it->cmd == RB_SQL_CMD_UNSET) {
		rb_vars_unset(&c->values, a.v[0]);
	} else {
		for (size_t i = 1; i < a.n; i++)
			rb_buf_puts(&v, a.v[i]);
		rb_vars_set(&c->values, a.v[0], v.data ? v.data : "", RB_VAR_CAPTURE);
	}
done:
	rb_buf_free(&v);
	rb_sqlmeta_argv_free(&a);
	free(msg);
}

/* Ends a COPY the trial started: no data is sent (COPY FROM STDIN fails on purpose), none is kept. */
static void end_copy(PGconn *conn, ExecStatusType st)
{
	char *row = NULL;
	if (st == PGRES_COPY_IN)
		PQputCopyEnd(conn, "runbook check sends no COPY data");
	while (st == PGRES_COPY_OUT && PQgetCopyData(conn, &row, 0) > 0) {
		PQfreemem(row);
		row = NULL;
	}
	for (PGresult *r; (r = PQgetResult(conn)) != NULL;)
		PQclear(r);
}

/*
 * --db: one statement inside a savepoint of the check's transaction, so
 * that its failure spoils neither the statements after it nor later blocks.
 * The server's error is one at the statement, unless the step expects one.
 */
static void trial_statement(lint_ctx *c, const rb_step *s, const rb_sql_item *it, int col, const char *sql)
{
	PQclear(PQexec(c->trial, "SAVEPOINT rb_check_statement"));
	PGresult *r = PQexec(c->trial, sql);
	ExecStatusType st = PQresultStatus(r);
	int failed = st == PGRES_FATAL_ERROR;
	if (failed && !s->expect_error.value) {
		const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
		const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
		err_at(c, "db-error", it->line, col, "on the database: ERROR %s: %s", code ? code : "",
		       msg ? msg : "failed");
	}
	PQclear(r);
	if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT) {
		end_copy(c->trial, st);
		failed = 1;
	}
	PQclear(PQexec(c->trial, failed ? "ROLLBACK TO SAVEPOINT rb_check_statement"
				     : "RELEASE SAVEPOINT rb_check_statement"));
}

static void sql_block(lint_ctx *c, const rb_step *s)
{
	rb_sql_item *items = NULL;
	size_t n = 0;
	rb_error err = RB_ERROR_INIT;
	if (rb_sql_split(s->body, c->rb->path, s->body_line, 1, &items, &n, &err) < 0) {
		err_at(c, "sql-syntax", err.line, err.col + s->col - 1, "%s", err.message);
		rb_error_clear(&err);
		return;
	}
	int cond_line = 0, cond_col = 0;
	rb_sqlmeta_cond cond = {NULL, 0, 0};
	int own = rb_sql_has_txn_control(items, n);
	/* What a step outside the main flow (a handler, a manual section, an undo block, skip) does is
	 * undone after it: the steps after it run as if it had not. */
	int aside = c->trial && (s->role != RB_ROLE_MAIN || s->skip);
	if (aside)
		PQclear(PQexec(c->trial, "SAVEPOINT rb_check_block"));
	for (size_t i = 0; i < n; i++) {
		const rb_sql_item *it = &items[i];
		int col = it->col + s->col - 1;
		if (it->kind == RB_SQL_META) {
			if (it->cmd == RB_SQL_CMD_IF && cond.n == 0) {
				cond_line = it->line; /* the outermost \if left open is the one to report */
				cond_col = col;
			}
			if (it->cmd == RB_SQL_CMD_SET || it->cmd == RB_SQL_CMD_UNSET) {
				set_var(c, it);
			} else if (it->cmd == RB_SQL_CMD_UNSUPPORTED) {
				char *m = rb_sql_cmd_unsupported(it->command);
				err_at(c, "psql-meta-command", it->line, col, "%s", m);
				free(m);
			}
			char *bad = it->cmd != RB_SQL_CMD_UNSUPPORTED ? rb_sqlmeta_check(it, &cond) : NULL;
			if (bad)
				err_at(c, "psql-meta-command", it->line, col, "%s", bad);
			free(bad);
			continue;
		}
		c->gset |= it->gset != NULL;
		char *out = NULL;
		if (rb_sql_interpolate(it->text, c->rb->path, it->line, col, 1, known_lookup, c, &out, &err) < 0) {
			char name[128], *hint = NULL;
			if (sscanf(err.message, "undefined variable :%127[A-Za-z0-9_]", name) == 1)
				hint = variable_hint(c, name, NULL);
			err_at(c, "undefined-variable", err.line, err.col, "%s%s (define it in the front matter's env, "
			       "capture it in an earlier step, or set it with \\set)", err.message, hint ? hint : "");
			free(hint);
			rb_error_clear(&err);
			continue;
		}
		if (s->transaction == RB_TXN_SINGLE && !own && it->no_txn_block)
			err_at(c, "needs-transaction-none", it->line, col, "this statement cannot run inside a transaction "
			       "block: add transaction=none to the step's attributes");
		/* A statement that cannot run in a transaction is not tried; nor is the block's own BEGIN or COMMIT. */
		if (c->trial && !it->no_txn_block && !it->is_txn_control)
			trial_statement(c, s, it, col, out);
		free(out);
	}
	if (cond.n)
		err_at(c, "psql-meta-command", cond_line, cond_col,
		       "\\if without a matching \\endif before the end of the block");
	rb_sqlmeta_cond_free(&cond);
	if (aside) {
		PQclear(PQexec(c->trial, "ROLLBACK TO SAVEPOINT rb_check_block"));
		PQclear(PQexec(c->trial, "RELEASE SAVEPOINT rb_check_block"));
	}
	rb_sql_items_free(items, n);
}

/* --- shell ----------------------------------------------------------------- */

/* Generous bounds for the tools: a check never hangs on one of them. */
#define SYNTAX_TIMEOUT_MS 10000
#define SHELLCHECK_TIMEOUT_MS 30000
/* Tools run side by side: the wall time of a check is about one tool's, not one per block. */
#define SHELL_CHECKS_AT_ONCE 16
/* shellcheck starts slowly and checks each file on its own: this many blocks to one process. */
#define SHELLCHECK_BLOCKS_AT_ONCE 200

static int on_path(const char *tool)
{
	char *where = rb_process_which(tool);
	int found = where != NULL;
	free(where);
	return found;
}

/* "bash: line 3: syntax error near unexpected token `fi'": the error at its runbook line. */
static void syntax_error(lint_ctx *c, const rb_step *s, char *out)
{
	const char *l = strstr(out, "line ");
	int line = l ? atoi(l + 5) : 1;
	char *nl = strchr(out, '\n');
	if (nl)
		*nl = '\0';
	const char *msg = l ? strchr(l, ':') : NULL;
	err_at(c, "shell-syntax", s->body_line + (line > 0 ? line - 1 : 0), s->col, "shell syntax: %s",
	       msg ? msg + 2 : out);
}

/* "... [SC2086]": shellcheck's id of the finding at the end of msg, copied into id; "" when none. */
static void shellcheck_rule(const char *msg, char id[16])
{
	const char *open = strrchr(msg, '[');
	size_t n = open ? strcspn(open + 1, "]") : 0;
	id[0] = '\0';
	if (open && n < 16 && open[1 + n] == ']' && !open[2 + n]) {
		memcpy(id, open + 1, n);
		id[n] = '\0';
		if (!shellcheck_id(id))
			id[0] = '\0';
	}
}

/*
 * shellcheck's gcc-style lines ("-:3:5: warning: ... [SC2086]") as warnings
 * at their runbook places, with shellcheck's id as their rule (the message
 * keeps it too, as shellcheck writes it).
 */
static void shellcheck_findings(lint_ctx *c, const rb_step *s, char *out)
{
	char *save = NULL;
	for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		int l = 0, col = 0;
		char sev[32], msg[1024], id[16];
		if (sscanf(line, "-:%d:%d: %31[a-z]: %1023[^\n]", &l, &col, sev, msg) != 4)
			continue;
		shellcheck_rule(msg, id);
		rb_diags_add_rule(c->d, RB_DIAG_WARNING, *id ? id : NULL, c->rb->path, s->body_line + l - 1,
				  col + s->col - 1, "shellcheck: %s", msg);
	}
}

/* allow=SC2086,SC2034: the shellcheck ids step s silences, comma-separated ("" when none). */
typedef struct {
	rb_buf ids;
} sc_allowed;

static void add_sc_allowed(void *ctx, const char *name, int col)
{
	sc_allowed *a = ctx;
	(void)col;
	if (shellcheck_id(name))
		rb_buf_printf(&a->ids, "%s%s", a->ids.len ? "," : "", name);
}

/* The syntax check ("zsh -n") or shellcheck of step s, reading the script on stdin; caller frees. */
static char **tool_argv(const rb_runbook *rb, const rb_step *s, int shellcheck)
{
	const rb_interp *in = rb_interp_find(rb_step_interpreter(rb, s));
	char **argv = rb_xcalloc(10, sizeof *argv);
	if (shellcheck) {
		/* allow=SC2086 on the step: shellcheck leaves it out (and a block clean but for it is kept clean). */
		sc_allowed allowed = {RB_BUF_INIT};
		const char *w[] = {"shellcheck", "-f", "gcc", "-s", in->shellcheck, NULL};
		size_t k = 0;
		for (; w[k]; k++)
			argv[k] = rb_xstrdup(w[k]);
		rb_sqlrules_each_allowed(s, add_sc_allowed, &allowed);
		if (allowed.ids.len) {
			argv[k++] = rb_xstrdup("-e");
			argv[k++] = rb_buf_detach(&allowed.ids);
		}
		argv[k] = rb_xstrdup("-");
	} else {
		argv[0] = rb_interp_program(rb_step_interpreter(rb, s));
		argv[1] = rb_xstrdup(in->syntax);
	}
	return argv;
}

/* A job's argv as one string, to group the blocks shellcheck sees with the same options. */
static char *argv_key(char *const *argv)
{
	rb_buf b = RB_BUF_INIT;
	for (; *argv; argv++)
		rb_buf_printf(&b, "%s\1", *argv);
	return rb_buf_detach(&b);
}

/*
 * shellcheck over jobs[0..m) (argv ending "-", input the block), as
 * rb_process_capture_all would run them, but one process for many blocks
 * with the same options (toolbatch.h): status 1 and the block's lines when
 * it found something, 0 when not.
 */
static void shellcheck_batched(rb_capture_job *jobs, size_t m)
{
	char **keys = rb_xcalloc(m ? m : 1, sizeof *keys);
	int *done = rb_xcalloc(m ? m : 1, sizeof *done);
	size_t *members = rb_xcalloc(m ? m : 1, sizeof *members);
	rb_toolbatch_item *items = rb_xcalloc(m ? m : 1, sizeof *items);
	rb_capture_job *fallback = rb_xcalloc(m ? m : 1, sizeof *fallback);
	size_t *fallback_at = rb_xcalloc(m ? m : 1, sizeof *fallback_at), nfallback = 0;
	for (size_t k = 0; k < m; k++)
		keys[k] = argv_key(jobs[k].argv);
	for (size_t k = 0; k < m; k++) {
		size_t n = 0, nargs = 0;
		if (done[k])
			continue;
		for (size_t j = k; j < m; j++)
			if (!done[j] && !strcmp(keys[j], keys[k])) {
				done[j] = 1;
				members[n] = j;
				items[n++] = (rb_toolbatch_item){.text = jobs[j].input, .err = RB_ERROR_INIT};
			}
		while (jobs[k].argv[nargs])
			nargs++;
		char **argv = rb_xcalloc(nargs, sizeof *argv); /* without the "-" that reads stdin */
		memcpy(argv, jobs[k].argv, (nargs - 1) * sizeof *argv);
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);
		int batched = rb_toolbatch_run(argv, items, n, SHELLCHECK_BLOCKS_AT_ONCE, cpus > 0 ? (size_t)cpus : 2,
					       SHELLCHECK_TIMEOUT_MS) == 0;
		free(argv);
		for (size_t i = 0; i < n; i++) {
			rb_capture_job *job = &jobs[members[i]];
			if (!batched) {
				/* No temporary files (TMPDIR not writable): each block on stdin, as before (below). */
				free(items[i].output);
				rb_error_clear(&items[i].err);
				fallback_at[nfallback] = members[i];
				fallback[nfallback++] = *job;
				continue;
			}
			job->output = items[i].output;
			job->err = items[i].err;
			job->status = job->err.code ? -1 : *job->output ? 1 : 0;
		}
	}
	rb_process_capture_all(fallback, nfallback, SHELL_CHECKS_AT_ONCE, SHELLCHECK_TIMEOUT_MS);
	for (size_t f = 0; f < nfallback; f++)
		jobs[fallback_at[f]] = fallback[f];
	for (size_t k = 0; k < m; k++)
		free(keys[k]);
	free(keys);
	free(done);
	free(members);
	free(items);
	free(fallback);
	free(fallback_at);
}

/*
 * Runs tool on each block of steps[0..n) not already known clean (checkcache.h),
 * side by side; each result goes to report, and clean ones are remembered.
 * ok[k]: 1 when block k was known clean or the tool ended with status 0.
 */
static void run_tools(lint_ctx *c, const rb_checkcache *cache, const rb_step **steps, size_t n, int shellcheck,
		      void (*report)(lint_ctx *c, const rb_step *s, const rb_capture_job *job), int *ok)
{
	char ***argvs = rb_xcalloc(n ? n : 1, sizeof *argvs);
	rb_capture_job *jobs = rb_xcalloc(n ? n : 1, sizeof *jobs);
	char (*keys)[41] = rb_xcalloc(n ? n : 1, sizeof *keys);
	size_t *todo = rb_xcalloc(n ? n : 1, sizeof *todo);
	size_t m = 0;
	for (size_t k = 0; k < n; k++) {
		char **argv = argvs[k] = tool_argv(c->rb, steps[k], shellcheck);
		const char *script = steps[k]->script ? steps[k]->script : steps[k]->body;
		char key[41];
		int keyed = rb_checkcache_key(cache, argv[0], argv, script, key) == 0;
		ok[k] = keyed && rb_checkcache_clean(cache, key);
		if (ok[k])
			continue;
		memcpy(keys[m], keyed ? key : "", keyed ? 41 : 1);
		todo[m] = k;
		jobs[m].argv = argv;
		jobs[m++].input = script;
	}
	if (shellcheck)
		shellcheck_batched(jobs, m);
	else
		rb_process_capture_all(jobs, m, SHELL_CHECKS_AT_ONCE, SYNTAX_TIMEOUT_MS);
	for (size_t k = 0; k < m; k++) {
		int clean = !jobs[k].err.code && jobs[k].status == 0 && !*jobs[k].output;
		ok[todo[k]] = !jobs[k].err.code && jobs[k].status == 0;
		report(c, steps[todo[k]], &jobs[k]);
		if (clean && keys[k][0])
			rb_checkcache_put(cache, keys[k]);
		rb_error_clear(&jobs[k].err);
		free(jobs[k].output);
	}
	for (size_t k = 0; k < n; k++)
		rb_interp_argv_free(argvs[k]);
	free(argvs);
	free(jobs);
	free(keys);
	free(todo);
}

static void report_syntax(lint_ctx *c, const rb_step *s, const rb_capture_job *job)
{
	if (job->err.code) /* "cannot run bash: No such file or directory": nothing was checked. */
		err_at(c, "shell-syntax", s->body_line, s->col, "shell syntax not checked: %s", job->err.message);
	else if (job->status != 0)
		syntax_error(c, s, job->output);
}

static void report_shellcheck(lint_ctx *c, const rb_step *s, const rb_capture_job *job)
{
	if (job->err.code)
		warn_step(c, s, "shellcheck-not-run", s->body_line, s->col, "shellcheck not run: %s", job->err.message);
	else
		shellcheck_findings(c, s, job->output);
}

/*
 * The shell steps' syntax, then shellcheck on those that parse (its messages
 * would repeat bash's): the tools run side by side, and blocks a tool has
 * already found clean are not given to it again (checkcache.h).
 */
static void shell_blocks(lint_ctx *c, int shellcheck)
{
	const rb_runbook *rb = c->rb;
	const rb_step **steps = rb_xcalloc(rb->nsteps ? rb->nsteps : 1, sizeof *steps);
	int *ok = rb_xcalloc(rb->nsteps ? rb->nsteps : 1, sizeof *ok);
	size_t n = 0;
	rb_checkcache cache;
	rb_checkcache_open(&cache);
	for (size_t i = 0; i < rb->nsteps; i++) {
		const rb_step *s = &rb->steps[i];
		const rb_interp *in = s->kind == RB_STEP_SHELL ? rb_interp_find(rb_step_interpreter(rb, s)) : NULL;
		if (!in || !in->syntax)
			continue; /* python, node, ...: no syntax check */
		/* Not installed: check says the block was not checked; a run stops with exit 5 (interp.h). */
		if (!c->run || rb_interp_installed(rb_step_interpreter(rb, s)))
			steps[n++] = s;
	}
	run_tools(c, &cache, steps, n, 0, report_syntax, ok);
	if (shellcheck) {
		size_t m = 0;
		for (size_t k = 0; k < n; k++)
			if (ok[k] && rb_interp_find(rb_step_interpreter(rb, steps[k]))->shellcheck)
				steps[m++] = steps[k];
		run_tools(c, &cache, steps, m, 1, report_shellcheck, ok);
	}
	rb_checkcache_free(&cache);
	free(steps);
	free(ok);
}

/*
 * Placeholders left in a shell step's commands (errors: the command cannot be
 * what its author meant to run), and variables it uses that nothing defines:
 * not the front matter (env, secrets, inputs), a capture or Lua assignment
 * before it, the step itself, the environment of a run, or the shell.
 */
static void shell_vars(lint_ctx *c, const rb_step *s)
{
	const rb_interp *in = rb_interp_find(rb_step_interpreter(c->rb, s));
	rb_shell_scan sc;
	rb_strset warned = RB_STRSET_INIT;
	if (!in || !in->shell || !strcmp(in->name, "fish") || s->role == RB_ROLE_MANUAL || s->skip)
		return;
	rb_shell_scan_text(s->script ? s->script : s->body, &sc);
	for (size_t k = 0; k < sc.nplaceholders; k++)
		err_at(c, "placeholder", s->body_line + sc.placeholders[k].line - 1, s->col + sc.placeholders[k].col - 1,
		       "placeholder '%s' left in a command: write the value, or declare an input (front matter "
		       "inputs:) and use its variable", sc.placeholders[k].text);
	/* A runbook that declares what it requires declares its tools too. */
	const rb_front_matter *fm = &c->rb->fm;
	for (size_t k = 0; (fm->nreq_tools || fm->nreq_env || fm->req_postgres.value) && k < sc.ncommands; k++) {
		const char *cmd = sc.commands[k].text;
		int listed = rb_shell_command_standard(cmd);
		for (size_t t = 0; !listed && t < fm->nreq_tools; t++)
			listed = !strcmp(fm->req_tools[t].value, cmd);
		if (listed || !rb_strset_add(&warned, cmd, 1))
			continue;
		warn_step(c, s, "undeclared-tool", s->body_line + sc.commands[k].line - 1, s->col + sc.commands[k].col - 1,
			  "'%s' is neither a shell builtin, a standard utility nor in requires.tools: add it there, so that "
			  "a machine without it is refused before step 1", cmd);
	}
	for (size_t k = 0; k < sc.nuses; k++) {
		const char *name = sc.uses[k].text;
		if (known_lookup(c, name) || rb_shell_scan_assigns(&sc, name) || rb_shell_var_standard(name) ||
		    !rb_strset_add(&warned, name, 1))
			continue;
		char *hint = variable_hint(c, name, &sc);
		warn_step(c, s, "undefined-shell-variable", s->body_line + sc.uses[k].line - 1, s->col + sc.uses[k].col - 1,
			  "$%s is used but nothing defines it%s: declare it under inputs: (or env:), capture it in an "
			  "earlier step, or give it a default (${%s:-...})", name, hint, name);
		free(hint);
	}
	rb_strset_free(&warned);
	rb_shell_scan_free(&sc);
}

/* --- hidden characters ----------------------------------------------------- */

/*
 * A control character or a bidirectional control inside something that runs
 * makes a terminal (or an editor) show other code than what runs: an escape
 * sequence can erase the rest of a line, a right-to-left override reorders
 * it. Reviewing by reading is then meaningless, so each one is an error.
 */
static void hidden_error(lint_ctx *c, int line, int col, const char *where, const char *at,
			 size_t len, const char *name)
{
	char *raw = rb_xstrndup(at, len);
	char *shown = rb_visible(raw);
	err_at(c, "hidden-character", line, col,
	       "hidden character in %s: %s (shown as %s); a terminal would not show what runs",
	       where, name, shown);
	free(shown);
	free(raw);
}

/*
 * Each hidden character of text, whose every line starts at column col0 of
 * the runbook (a body without its list-item indentation, or one line) and
 * whose first line is `line`; columns count bytes, as cmark's do. Returns
 * how many there were.
 */
static size_t hidden_in_text(lint_ctx *c, const char *text, int line, int col0, const char *where)
{
	size_t from = 0, len = 0, found = 0;
	const char *name;
	long at;
	rb_srcmap map;
	rb_srcmap_init_block(&map, text, strlen(text), line, col0);
	while ((at = rb_visible_next(text, from, &len, &name)) >= 0) {
		int l, col;
		rb_srcmap_locate(&map, (size_t)at, &l, &col);
		hidden_error(c, l, col, where, text + at, len, name);
		found++;
		from = (size_t)at + len;
	}
	rb_srcmap_free(&map);
	return found;
}

/*
 * A lone carriage return ends a line for CommonMark, so it is not in the
 * body, but `cat` shows the line after it over the line before it. Each
 * one ending a line from `first` to `last` is an error at its column in
 * characters, as an editor shows it.
 */
static void lone_cr_check(lint_ctx *c, int first, int last)
{
	const char *src = c->map.text;
	size_t n = c->map.len, start, end;
	for (int line = first; line <= last && rb_srcmap_line_span(&c->map, line, &start, &end) == 0; line++) {
		if (end < n && src[end] == '\r' && !(end + 1 < n && src[end + 1] == '\n')) {
			int l, col;
			rb_srcmap_locate_chars(&c->map, end, &l, &col);
			hidden_error(c, line, col, "an executable block", src + end, 1, "carriage return");
		}
	}
}

/* Hidden characters of an executable step: body, fence line, attributes. */
static void hidden_check(lint_ctx *c, const rb_step *s)
{
	size_t len, attrs = 0, start, stop;
	const char *name;
	int end_line = s->body_line;
	for (const char *p = s->body; *p; p++)
		end_line += *p == '\n';

	hidden_in_text(c, s->body, s->body_line, s->col, "an executable block");

	/* The fence line as written: its characters have exact positions. */
	if (rb_srcmap_line_span(&c->map, s->line, &start, &stop) < 0)
		start = stop = c->map.len;
	char *fence = rb_xstrndup(c->map.text + start, stop - start);
	size_t raw = hidden_in_text(c, fence, s->line, 1, "the info string of an executable block");
	free(fence);

	lone_cr_check(c, s->line, end_line);
	if (raw)
		return;

	/* Not in the source but in an attribute: written as a character reference
	 * or a JSON/YAML escape and decoded by the parser. Shown at the attribute. */
	for (size_t k = 0; k < s->nattrs; k++) {
		const rb_attr *a = &s->attrs[k];
		const char *texts[2] = {a->key, a->value};
		for (int t = 0; t < 2; t++) {
			long at = texts[t] ? rb_visible_next(texts[t], 0, &len, &name) : -1;
			for (; at >= 0; at = rb_visible_next(texts[t], (size_t)at + len, &len, &name)) {
				char *where = rb_xasprintf("the attribute '%s' (written as an escape)", a->key);
				hidden_error(c, a->line, a->col, where, texts[t] + at, len, name);
				free(where);
				attrs++;
			}
		}
	}
	long at = s->info && !attrs ? rb_visible_next(s->info, 0, &len, &name) : -1;
	if (at >= 0)
		hidden_error(c, s->line, s->col, "the info string of an executable block (written as an escape)",
			     s->info + at, len, name);
}

/* --- destructive commands -------------------------------------------------- */

static const char *destructive(const char *line)
{
	static const char *const shell_words[] = {"rm -rf", "rm -fr", "compose down -v", "system prune",
						  "pg_restore --clean", "pg_restore -c", "dropdb", NULL};
	static const char *const sql_words[] = {"drop ", "truncate ", NULL};
	static const char *const sql_labels[] = {"DROP", "TRUNCATE", NULL};
	for (const char *const *w = shell_words; *w; w++)
		if (strstr(line, *w))
			return *w;
	/* A sql block is read by PostgreSQL's parser (sqlrules.c); a shell line only by its words. */
	if (strstr(line, "psql")) {
		for (int w = 0; sql_words[w]; w++)
			if (strcasestr(line, sql_words[w]) && !strcasestr(line, "if exists") &&
			    !strcasestr(line, "drop trigger") && !strcasestr(line, "drop policy"))
				return sql_labels[w];
		const char *del = strcasestr(line, "delete from");
		if (del && !strcasestr(del, "where"))
			return "DELETE without WHERE";
	}
	return NULL;
}

/*
 * The SQL rules (sqlrules.c) over a sql step, and the front matter's
 * `undo: required` for a main-flow step whose SQL destroys data.
 */
static void sql_rules(lint_ctx *c, const rb_step *s)
{
	const char *what = NULL;
	int line = 0;
	if (rb_sqlrules_step(c->rules, s, &what, &line) && s->role == RB_ROLE_MAIN && !s->skip &&
	    c->rb->fm.undo_required && s->undo < 0)
		err_at(c, "undo-required", s->line, s->col, "step '%s' changes things (%s at line %d) and has no undo, "
		       "which the front matter requires (undo: required): write its undo block after it", s->id, what, line);
}

/*
 * Destructive commands of a main-flow shell step: a warning each unless the step
 * asks for confirmation (or expects to fail); with the front matter's
 * `undo: required`, an error when the step has no undo.
 */
static void destructive_check(lint_ctx *c, const rb_step *s)
{
	if (s->role != RB_ROLE_MAIN || s->skip)
		return;
	int warn = !s->confirm && !s->expect_error.value;
	int want_undo = c->rb->fm.undo_required && s->undo < 0;
	int line = s->body_line;
	const char *p = s->script ? s->script : s->body; /* prompted: documented output does not run */
	while (*p && (warn || want_undo)) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char *text = rb_xstrndup(p, n);
		const char *what = text[0] == '#' || !strncmp(text, "--", 2) ? NULL : destructive(text);
		if (what && warn)
			warn_step(c, s, "destructive-command", line, s->col,
				  "destructive command (%s) outside a handler or manual section: add confirm to the step",
				  what);
		if (what && want_undo) {
			err_at(c, "undo-required", s->line, s->col, "step '%s' changes things (%s at line %d) and has no undo, which "
			       "the front matter requires (undo: required): write its undo block after it",
			       s->id, what, line);
			want_undo = 0;
		}
		free(text);
		line++;
		p += n + (nl ? 1 : 0);
	}
}

/* --- fences ------------------------------------------------------------------ */

/* The fence at the start of text[start..stop) after spaces, tabs and '>': its character and length. */
static size_t fence_at(const char *p, const char *end, char *ch, const char **after)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '>'))
		p++;
	const char *q = p;
	while (q < end && (*q == '`' || *q == '~') && *q == *p)
		q++;
	*ch = p < end ? *p : 0;
	*after = q;
	return q - p >= 3 ? (size_t)(q - p) : 0;
}

/* 1 when only spaces, tabs and a carriage return are left in [p, end). */
static int blank_from(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r'))
		p++;
	return p == end;
}

/* The fence of a step's opening line (0: indented code, or a task list), and where its info string starts. */
static size_t step_fence(lint_ctx *c, const rb_step *s, char *ch, int *info_col)
{
	size_t start, stop;
	const char *after;
	if (s->kind == RB_STEP_APPROVAL || rb_srcmap_line_span(&c->map, s->line, &start, &stop) < 0)
		return 0;
	const char *end = c->map.text + stop;
	size_t n = fence_at(c->map.text + start, end, ch, &after);
	while (after < end && (*after == ' ' || *after == '\t'))
		after++;
	*info_col = (int)(after - (c->map.text + start)) + 1;
	return n;
}

/* Headings and fenced blocks in a block's body; *opener: the first line opening a block its own fence closes. */
static void swallowed(const rb_step *s, char ch, size_t n, int *headings, int *blocks, int *opener)
{
	int line = s->body_line;
	char ich;
	*headings = *blocks = *opener = 0;
	for (const char *p = s->body; *p; line++) {
		const char *nl = strchr(p, '\n'), *after, *end = nl ? nl : p + strlen(p), *h = p;
		while (h < end && h - p < 3 && *h == ' ')
			h++;
		size_t hashes = strspn(h, "#"), len = fence_at(p, end, &ich, &after);
		*headings += hashes >= 1 && hashes <= 6 && (h + hashes == end || h[hashes] == ' ' || h[hashes] == '\t');
		*blocks += len && !blank_from(after, end);
		if (!*opener && len >= n && ich == ch && !blank_from(after, end))
			*opener = line;
		p = nl ? nl + 1 : end;
	}
}

/*
 * A fence that is never closed. cmark closes it at the end of the document,
 * or at the closing fence of a later block whose opening line it read as its
 * text: every heading and block in between is its text. Warned at the
 * opening fence, with what it swallowed.
 */
static void unclosed_fence(lint_ctx *c, const rb_step *s)
{
	char ch, ich;
	int unused, headings, blocks, opener, line = s->body_line, eof = 1;
	size_t n = step_fence(c, s, &ch, &unused), start, stop;
	if (!n)
		return;
	for (const char *p = s->body; *p; p++)
		line += *p == '\n';
	/* The line after the body: a closing fence, text (a block its list or quote cut short), or the end. */
	for (int l = line; eof && rb_srcmap_line_span(&c->map, l, &start, &stop) == 0; l++) {
		const char *after, *end = c->map.text + stop;
		if (l == line && fence_at(c->map.text + start, end, &ich, &after) >= n && ich == ch && blank_from(after, end))
			eof = 0;
		else if (!blank_from(c->map.text + start, end))
			return;
	}
	swallowed(s, ch, n, &headings, &blocks, &opener);
	if (eof)
		warn_step(c, s, "unclosed-fence", s->line, s->col,
			  "this fence is never closed: everything after it, %d heading%s and %d block%s, is inside it "
			  "(close it with a line '%.*s')", headings, headings == 1 ? "" : "s", blocks, blocks == 1 ? "" : "s",
			  (int)(n < 10 ? n : 10), ch == '`' ? "``````````" : "~~~~~~~~~~");
	else if (opener)
		warn_step(c, s, "unclosed-fence", s->line, s->col,
			  "this fence is never closed: the block that line %d opens is inside it, and its closing "
			  "fence at line %d closes this one; %d heading%s and %d block%s are inside it",
			  opener, line, headings, headings == 1 ? "" : "s", blocks, blocks == 1 ? "" : "s");
}

/* --- languages that look executable ------------------------------------------ */

/* What a statement-by-statement reading finds destructive in SQL text: DROP, TRUNCATE, DELETE without WHERE. */
static const char *sql_destroys(const char *sql, int first, int *at)
{
	const char *what = NULL;
	int line = first;
	for (const char *p = sql; *p && !what; p++) {
		if (*p == '\n')
			line++;
		if (*p == '-' && p[1] == '-') {
			p += strcspn(p, "\n") - 1;
			continue;
		}
		if (p > sql && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
			continue;
		if (!strncasecmp(p, "drop", 4) && isspace((unsigned char)p[4]))
			what = "DROP";
		else if (!strncasecmp(p, "truncate", 8) && isspace((unsigned char)p[8]))
			what = "TRUNCATE";
		else if (!strncasecmp(p, "delete", 6) && isspace((unsigned char)p[6])) {
			size_t len = strcspn(p, ";");
			char *stmt = rb_xstrndup(p, len);
			what = strcasestr(stmt, "where") ? NULL : "DELETE without WHERE";
			free(stmt);
		}
		*at = line;
	}
	return what;
}

/* The first destructive shell command of a block (destructive()); *at: its line (the body's first, on entry). */
static const char *shell_destroys(const char *body, int *at)
{
	const char *what = NULL;
	for (const char *p = body; *p && !what;) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char *text = rb_xstrndup(p, n);
		what = text[strspn(text, " \t")] == '#' ? NULL : destructive(text);
		free(text);
		if (!what) {
			(*at)++;
			p += n + (nl ? 1 : 0);
		}
	}
	return what;
}

/*
 * A documentation block whose language is a near miss of one runbook runs
 * (postgres for sql): the reader believes it runs. A warning at the
 * language, saying what it would destroy if it did.
 */
static void doc_language(lint_ctx *c, const rb_step *s)
{
	static const char *const meant[][2] = {
		{"postgres", "sql"}, {"postgre", "sql"}, {"postgressql", "sql"}, {"pg", "sql"},
		{"shellscript", "bash"}, {"shell-script", "bash"}, {"bash-script", "bash"}, {NULL, NULL}
	};
	const char *to = NULL, *what = NULL;
	char ch;
	int col, line = s->body_line;
	for (size_t i = 0; meant[i][0] && !to; i++)
		if (!strcasecmp(s->lang, meant[i][0]))
			to = meant[i][1];
	if (!to || !step_fence(c, s, &ch, &col) || strstr(s->info, "run="))
		return;
	what = !strcmp(to, "sql") ? sql_destroys(s->body, s->body_line, &line) : shell_destroys(s->body, &line);
	if (what)
		warn_step(c, NULL, "doc-language", s->line, col,
			  "the block is documentation: its language '%s' is not one runbook runs (did you mean '%s'?); "
			  "it would be destructive if it ran (%s at line %d)", s->lang, to, what, line);
	else
		warn_step(c, NULL, "doc-language", s->line, col,
			  "the block is documentation: its language '%s' is not one runbook runs (did you mean '%s'?)",
			  s->lang, to);
}

/* --- front matter ----------------------------------------------------------- */

/*
 * The parser's warnings about unknown front matter keys, told apart: another
 * tool's key (Hugo's weight) or one nobody knows stays a warning, saying it is
 * ignored; a typo of a runbook key (titel) is, in check, an error with the
 * key it probably meant.
 */
static void unknown_keys(const rb_runbook *rb, rb_diags *diags, int check)
{
	for (size_t i = 0; i < diags->count; i++) {
		rb_diag *g = &diags->items[i];
		const rb_kv *kv = NULL;
		for (size_t k = 0; k < rb->fm.nunknown && !kv; k++)
			if (rb->fm.unknown[k].line == g->line && rb->fm.unknown[k].col == g->col)
				kv = &rb->fm.unknown[k];
		if (!kv || g->severity != RB_DIAG_WARNING || strncmp(g->message, "unknown front matter key '", 26) ||
		    !g->file || strcmp(g->file, rb->path))
			continue;
		const char *suggest, *tool;
		rb_frontmatter_unknown(kv->key, &suggest, &tool);
		free(g->message);
		free(g->rule);
		g->rule = rb_xstrdup(suggest ? "front-matter-typo" : "unknown-front-matter-key");
		if (suggest)
			g->message = rb_xasprintf("unknown front matter key '%s' (did you mean '%s'?)", kv->key, suggest);
		else if (tool)
			g->message = rb_xasprintf("unknown front matter key '%s': ignored (it belongs to %s)", kv->key, tool);
		else
			g->message = rb_xasprintf("unknown front matter key '%s': ignored (it may belong to another tool)",
						  kv->key);
		if (suggest && check) {
			g->severity = RB_DIAG_ERROR;
			diags->warnings--;
			diags->errors++;
		}
	}
}

/* --- allow= ------------------------------------------------------------------ */

typedef struct {
	lint_ctx *c;
	const rb_step *s;
} allow_ctx;

/* One name of a step's allow=: a rule allow= can silence, or an error at the name. */
static void allow_known(void *ctx, const char *name, int col)
{
	allow_ctx *a = ctx;
	const rb_lint_rule *own = rb_lint_rule_find(name);
	/* At the name when the value is written unquoted after "allow=". */
	int line = a->s->allow.line, at = a->s->allow.col + 6 + col;
	if (shellcheck_id(name) || rb_sqlrules_find(name) || (own && own->allowable)) {
		; /* a name allow= silences */
	} else if (own) {
		err_at(a->c, "unknown-rule", line, at, "allow=: '%s' cannot be silenced: allow= silences the warnings "
		       "about a step (runbook check --list-rules lists them)", name);
	} else {
		rb_suggest sg = RB_SUGGEST_INIT(name);
		for (const rb_sqlrule *const *r = rb_sqlrules_all; *r; r++)
			rb_suggest_offer(&sg, (*r)->name);
		for (const rb_lint_rule *r = rb_lint_rules; r->id; r++)
			if (r->allowable)
				rb_suggest_offer(&sg, r->id);
		char *hint = rb_suggest_hint(&sg);
		err_at(a->c, "unknown-rule", line, at, "allow=: no lint rule '%s'%s (runbook check --list-rules lists "
		       "them)", name, hint);
		free(hint);
	}
}

static void allow_check(lint_ctx *c, const rb_step *s)
{
	allow_ctx a = {c, s};
	rb_sqlrules_each_allowed(s, allow_known, &a);
}

/* --- --db ---------------------------------------------------------------------- */

/*
 * The connection of --db, in a transaction every SQL block runs in, in
 * document order (rolled back at the end), or NULL with an error.
 */
static PGconn *trial_open(lint_ctx *c, const char *url)
{
	/* As the run's connections: a connect timeout and keepalives unless the
	 * connection string says otherwise, and a name in pg_stat_activity. */
	const char *keys[] = {"connect_timeout", "keepalives", "keepalives_idle", "dbname", "application_name", NULL};
	const char *values[] = {"10", "1", "30", url, "runbook/check", NULL};
	PGconn *conn = PQconnectdbParams(keys, values, 1);
	PGresult *r = PQstatus(conn) == CONNECTION_OK ? PQexec(conn, "BEGIN") : NULL;
	int ok = 0;
	if (PQstatus(conn) != CONNECTION_OK)
		err_at(c, "db-connect", 0, 0, "--db: cannot connect: %s", PQerrorMessage(conn));
	else if (PQresultStatus(r) != PGRES_COMMAND_OK)
		err_at(c, "db-connect", 0, 0, "--db: cannot begin a transaction: %s", PQerrorMessage(conn));
	else
		ok = 1;
	PQclear(r);
	if (!ok) {
		PQfinish(conn);
		conn = NULL;
	}
	return conn;
}

/* Nothing the blocks did stays: the transaction is rolled back, then the connection closed. */
static void trial_close(PGconn *conn)
{
	if (!conn)
		return;
	PQclear(PQexec(conn, "ROLLBACK"));
	PQfinish(conn);
}

/*
 * The values variables have before step 1 when nothing is given: the front
 * matter's env, then the inputs' defaults (an input overrides an env
 * variable of its name, as in a run). The process environment is left out,
 * so a check says the same everywhere.
 */
static void default_values(lint_ctx *c)
{
	const rb_front_matter *fm = &c->rb->fm;
	for (size_t i = 0; i < fm->nenv; i++)
		if (fm->env[i].key && fm->env[i].value)
			rb_vars_set(&c->values, fm->env[i].key, fm->env[i].value, RB_VAR_DEFAULT);
	for (size_t i = 0; i < fm->ninputs; i++)
		if (fm->inputs[i].name && fm->inputs[i].def)
			rb_vars_set(&c->values, fm->inputs[i].name, fm->inputs[i].def, RB_VAR_SET);
}

void rb_lint(const rb_runbook *rb, const rb_lint_opts *opts, rb_diags *diags)
{
	lint_ctx c = {rb, diags, RB_STRSET_INIT, RB_VARS_INIT, opts ? opts->known : NULL, {0},
		      rb_sqlrules_new(rb, diags), opts && opts->run, 0, NULL};
	int shellcheck = !(opts && opts->no_shellcheck) && on_path("shellcheck");

	rb_srcmap_init(&c.map, rb->source, rb->source ? rb->source_len : 0, 1, 1);
	/* The run's pre-flight lints into a list of its own: excerpts need the text. */
	if (rb->source && (!diags->source_file || strcmp(diags->source_file, rb->path)))
		rb_diags_set_source(diags, rb->path, rb->source, rb->source_len);

	unknown_keys(rb, diags, !(opts && opts->run));
	for (size_t i = 0; i < rb->fm.nenv; i++)
		rb_strset_add(&c.known, rb->fm.env[i].key, 1);
	for (size_t i = 0; i < rb->fm.nsecrets; i++)
		rb_strset_add(&c.known, rb->fm.secrets[i].value, 1);
	for (size_t i = 0; i < rb->fm.ninputs; i++)
		if (rb->fm.inputs[i].name)
			rb_strset_add(&c.known, rb->fm.inputs[i].name, 1);
	static const char *const builtin[] = {"RUNBOOK_FILE", "RUNBOOK_DIR", "RUNBOOK_STEP", "FAILED_STEP",
					      "FAILURE_REASON", "FAILURE_EXIT_CODE", "ABORT_CONDITION", "RUNBOOK_RUN_ID",
					      "UNDONE_STEPS", "UNDO_STEP", NULL};
	for (const char *const *b = builtin; *b; b++)
		rb_strset_add(&c.known, *b, 1);
	default_values(&c);
	if (opts && opts->db_url)
		c.trial = trial_open(&c, opts->db_url);

	for (size_t i = 0; i < rb->nsteps; i++) {
		const rb_step *s = &rb->steps[i];
		unclosed_fence(&c, s);
		if (s->kind == RB_STEP_DOC) {
			doc_language(&c, s);
			continue;
		}
		if (s->kind != RB_STEP_APPROVAL)
			hidden_check(&c, s);
		if (s->allow.value)
			allow_check(&c, s);
		if (s->when.value) {
			lua_compiles(&c, s->when.value, 1, s->when.line, s->when.col, "when=");
			step_refs(&c, s->when.value, s->when.line, s->when.col, i, 0);
		}
		if (s->expect.value) {
			lua_compiles(&c, s->expect.value, 1, s->expect.line, s->expect.col, "expect=");
			step_refs(&c, s->expect.value, s->expect.line, s->expect.col, i, 1);
		}
		switch (s->kind) {
		case RB_STEP_LUA:
		case RB_STEP_GATE:
		case RB_STEP_ABORT:
			lua_compiles(&c, s->body, 0, s->body_line, 1,
				     s->kind == RB_STEP_GATE ? "the gate" : s->kind == RB_STEP_ABORT ? "the abort condition" : "the lua step");
			step_refs(&c, s->body, s->body_line, 1, i, 0);
			lua_assignments(&c, s->body);
			break;
		case RB_STEP_SQL:
			sql_block(&c, s);
			sql_rules(&c, s);
			break;
		case RB_STEP_SHELL:
			destructive_check(&c, s);
			shell_vars(&c, s);
			break;
		default:
			break;
		}
		if (s->capture.value)
			rb_strset_add(&c.known, s->capture.value, 1);
	}
	shell_blocks(&c, shellcheck);
	trial_close(c.trial);
	rb_strset_free(&c.known);
	rb_vars_free(&c.values);
	rb_srcmap_free(&c.map);
	rb_sqlrules_free(c.rules);
}
