/*
 * lint.c - the checks of `runbook check`.
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
#include "visible.h"

#include <ctype.h>
#include <errno.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

typedef struct {
	const rb_runbook *rb;
	rb_diags *d;
	rb_strset known;   /* variables defined so far, in document order */
	const rb_strset *outside; /* defined before the run (environment, --set); may be NULL */
	rb_srcmap map;     /* the runbook's text, lines as cmark counts them */
	rb_sqlrules *rules; /* PostgreSQL's parser over every sql step, in document order */
	int run;           /* run's pre-flight: a missing interpreter is the run's to report (exit 5) */
	int gset;          /* a \gset came: which variables exist is known only at run time */
} lint_ctx;

static void err_at(lint_ctx *c, int line, int col, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void err_at(lint_ctx *c, int line, int col, const char *fmt, ...)
{
	rb_buf b = RB_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	rb_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	rb_diags_add(c->d, RB_DIAG_ERROR, c->rb->path, line, col, "%s", b.data);
	rb_buf_free(&b);
}

static void warn_at(lint_ctx *c, int line, int col, const char *msg, const char *what)
{
	rb_diags_add(c->d, RB_DIAG_WARNING, c->rb->path, line, col, msg, what);
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
		err_at(c, eline ? eline : line, eline && eline != line ? 1 : col, "%s does not compile: %s", what, msg);
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
			if (!s)
				err_at(c, l, col, "steps.%s: no step with that id", id);
			else if (at > self || (at == self && !allow_self))
				err_at(c, l, col, "steps.%s: that step comes later, so it has not run yet", id);
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

typedef struct {
	lint_ctx *c;
} known_ctx;

static const char *known_lookup(void *ctx, const char *name)
{
	lint_ctx *c = ctx;
	return c->gset || rb_strset_get(&c->known, name) >= 0 || (c->outside && rb_strset_get(c->outside, name) >= 0)
		       ? "x" : NULL;
}

static void sql_block(lint_ctx *c, const rb_step *s, PGconn *trial)
{
	rb_sql_item *items = NULL;
	size_t n = 0;
	rb_error err = RB_ERROR_INIT;
	if (rb_sql_split(s->body, c->rb->path, s->body_line, 1, &items, &n, &err) < 0) {
		err_at(c, err.line, err.col + s->col - 1, "%s", err.message);
		rb_error_clear(&err);
		return;
	}
	int began = 0, cond_line = 0, cond_col = 0;
	rb_sqlmeta_cond cond = {NULL, 0, 0};
	int own = rb_sql_has_txn_control(items, n);
	if (trial && !own && PQstatus(trial) == CONNECTION_OK) {
		PQclear(PQexec(trial, "BEGIN"));
		began = 1;
	}
	for (size_t i = 0; i < n; i++) {
		const rb_sql_item *it = &items[i];
		int col = it->col + s->col - 1;
		if (it->kind == RB_SQL_META) {
			if (it->cmd == RB_SQL_CMD_IF && cond.n == 0) {
				cond_line = it->line; /* the outermost \if left open is the one to report */
				cond_col = col;
			}
			if (it->cmd == RB_SQL_CMD_SET) {
				char name[128];
				if (sscanf(it->args, "%127[A-Za-z0-9_]", name) == 1)
					rb_strset_add(&c->known, name, 1);
			} else if (it->cmd == RB_SQL_CMD_UNSUPPORTED) {
				char *m = rb_sql_cmd_unsupported(it->command);
				err_at(c, it->line, col, "%s", m);
				free(m);
			}
			char *bad = it->cmd != RB_SQL_CMD_UNSUPPORTED ? rb_sqlmeta_check(it, &cond) : NULL;
			if (bad)
				err_at(c, it->line, col, "%s", bad);
			free(bad);
			continue;
		}
		c->gset |= it->gset != NULL;
		char *out = NULL;
		if (rb_sql_interpolate(it->text, c->rb->path, it->line, col, 1, known_lookup, c, &out, &err) < 0) {
			err_at(c, err.line, err.col, "%s (define it in the front matter's env, capture it in an "
				"earlier step, or set it with \\set)", err.message);
			rb_error_clear(&err);
			continue;
		}
		if (s->transaction == RB_TXN_SINGLE && !own && it->no_txn_block)
			err_at(c, it->line, col, "this statement cannot run inside a transaction block: add "
				"transaction=none to the step's attributes");
		if (began && !it->no_txn_block && !it->is_txn_control) {
			PQclear(PQexec(trial, "SAVEPOINT lint"));
			PGresult *r = PQexec(trial, out);
			ExecStatusType st = PQresultStatus(r);
			if (st == PGRES_FATAL_ERROR && !s->expect_error.value) {
				const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
				const char *code = PQresultErrorField(r, PG_DIAG_SQLSTATE);
				err_at(c, it->line, col, "on the database: ERROR %s: %s", code ? code : "",
				       msg ? msg : "failed");
			}
			PQclear(r);
			PQclear(PQexec(trial, st == PGRES_FATAL_ERROR ? "ROLLBACK TO SAVEPOINT lint" : "RELEASE SAVEPOINT lint"));
		}
		free(out);
	}
	if (cond.n)
		err_at(c, cond_line, cond_col, "\\if without a matching \\endif before the end of the block");
	rb_sqlmeta_cond_free(&cond);
	if (began)
		PQclear(PQexec(trial, "ROLLBACK"));
	rb_sql_items_free(items, n);
}

/* --- shell ----------------------------------------------------------------- */

/* Generous bounds for the tools: a check never hangs on one of them. */
#define SYNTAX_TIMEOUT_MS 10000
#define SHELLCHECK_TIMEOUT_MS 30000
/* Tools run side by side: the wall time of a check is about one tool's, not one per block. */
#define SHELL_CHECKS_AT_ONCE 16

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
	err_at(c, s->body_line + (line > 0 ? line - 1 : 0), s->col, "shell syntax: %s", msg ? msg + 2 : out);
}

/* shellcheck's gcc-style lines ("-:3:5: warning: ...") as warnings at their runbook places. */
static void shellcheck_findings(lint_ctx *c, const rb_step *s, char *out)
{
	for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
		int l = 0, col = 0;
		char sev[32], msg[1024];
		if (sscanf(line, "-:%d:%d: %31[a-z]: %1023[^\n]", &l, &col, sev, msg) == 4)
			rb_diags_add(c->d, RB_DIAG_WARNING, c->rb->path, s->body_line + l - 1, col + s->col - 1,
				     "shellcheck: %s", msg);
	}
}

/* The syntax check ("zsh -n") or shellcheck of step s, reading the script on stdin; caller frees. */
static char **tool_argv(const rb_runbook *rb, const rb_step *s, int shellcheck)
{
	const rb_interp *in = rb_interp_find(rb_step_interpreter(rb, s));
	char **argv = rb_xcalloc(8, sizeof *argv);
	if (shellcheck) {
		const char *w[] = {"shellcheck", "-f", "gcc", "-s", in->shellcheck, "-", NULL};
		for (size_t k = 0; w[k]; k++)
			argv[k] = rb_xstrdup(w[k]);
	} else {
		argv[0] = rb_interp_program(rb_step_interpreter(rb, s));
		argv[1] = rb_xstrdup(in->syntax);
	}
	return argv;
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
	rb_process_capture_all(jobs, m, SHELL_CHECKS_AT_ONCE, shellcheck ? SHELLCHECK_TIMEOUT_MS : SYNTAX_TIMEOUT_MS);
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
		err_at(c, s->body_line, s->col, "shell syntax not checked: %s", job->err.message);
	else if (job->status != 0)
		syntax_error(c, s, job->output);
}

static void report_shellcheck(lint_ctx *c, const rb_step *s, const rb_capture_job *job)
{
	if (job->err.code)
		rb_diags_add(c->d, RB_DIAG_WARNING, c->rb->path, s->body_line, s->col, "shellcheck not run: %s",
			     job->err.message);
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
		err_at(c, s->body_line + sc.placeholders[k].line - 1, s->col + sc.placeholders[k].col - 1,
		       "placeholder '%s' left in a command: write the value, or declare an input (front matter "
		       "inputs:) and use its variable", sc.placeholders[k].text);
	for (size_t k = 0; k < sc.nuses; k++) {
		const char *name = sc.uses[k].text;
		if (known_lookup(c, name) || rb_shell_scan_assigns(&sc, name) || rb_shell_var_standard(name) ||
		    !rb_strset_add(&warned, name, 1))
			continue;
		rb_diags_add(c->d, RB_DIAG_WARNING, c->rb->path, s->body_line + sc.uses[k].line - 1,
			     s->col + sc.uses[k].col - 1,
			     "$%s is used but nothing defines it: declare it under inputs: (or env:), capture it in an "
			     "earlier step, or give it a default (${%s:-...})", name, name);
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
	err_at(c, line, col, "hidden character in %s: %s (shown as %s); a terminal would not show what runs",
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
		err_at(c, s->line, s->col, "step '%s' changes things (%s at line %d) and has no undo, which "
		       "the front matter requires (undo: required): write its undo block after it", s->id, what, line);
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
			warn_at(c, line, s->col,
				"destructive command (%s) outside a handler or manual section: add confirm to the step",
				what);
		if (what && want_undo) {
			err_at(c, s->line, s->col, "step '%s' changes things (%s at line %d) and has no undo, which "
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
		rb_diags_add(c->d, RB_DIAG_WARNING, c->rb->path, s->line, s->col,
			     "this fence is never closed: everything after it, %d heading%s and %d block%s, is inside it "
			     "(close it with a line '%.*s')", headings, headings == 1 ? "" : "s", blocks, blocks == 1 ? "" : "s",
			     (int)(n < 10 ? n : 10), ch == '`' ? "``````````" : "~~~~~~~~~~");
	else if (opener)
		rb_diags_add(c->d, RB_DIAG_WARNING, c->rb->path, s->line, s->col,
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
		rb_diags_add(c->d, RB_DIAG_WARNING, c->rb->path, s->line, col,
			     "the block is documentation: its language '%s' is not one runbook runs (did you mean '%s'?); "
			     "it would be destructive if it ran (%s at line %d)", s->lang, to, what, line);
	else
		rb_diags_add(c->d, RB_DIAG_WARNING, c->rb->path, s->line, col,
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

void rb_lint(const rb_runbook *rb, const rb_lint_opts *opts, rb_diags *diags)
{
	lint_ctx c = {rb, diags, RB_STRSET_INIT, opts ? opts->known : NULL, {0}, rb_sqlrules_new(rb, diags),
		      opts && opts->run, 0};
	PGconn *trial = NULL;
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
	if (opts && opts->db_url) {
		/* As the run's connections: a connect timeout and keepalives unless the
		 * connection string says otherwise, and a name in pg_stat_activity. */
		const char *keys[] = {"connect_timeout", "keepalives", "keepalives_idle", "dbname",
				      "application_name", NULL};
		const char *values[] = {"10", "1", "30", opts->db_url, "runbook/check", NULL};
		trial = PQconnectdbParams(keys, values, 1);
		if (PQstatus(trial) != CONNECTION_OK) {
			rb_diags_add(diags, RB_DIAG_ERROR, rb->path, 0, 0, "--db: cannot connect: %s",
				     PQerrorMessage(trial));
			PQfinish(trial);
			trial = NULL;
		}
	}

	for (size_t i = 0; i < rb->nsteps; i++) {
		const rb_step *s = &rb->steps[i];
		unclosed_fence(&c, s);
		if (s->kind == RB_STEP_DOC) {
			doc_language(&c, s);
			continue;
		}
		if (s->kind != RB_STEP_APPROVAL)
			hidden_check(&c, s);
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
			sql_block(&c, s, trial);
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
	if (trial)
		PQfinish(trial);
	rb_strset_free(&c.known);
	rb_srcmap_free(&c.map);
	rb_sqlrules_free(c.rules);
}
