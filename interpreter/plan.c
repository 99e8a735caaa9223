/*
 * plan.c - the plan in text and JSON.
 *
 * The plan is what a reviewer reads before approving a run, so it shows
 * what is there: the text form is built whole, then its secrets are hidden
 * and its hidden characters made visible (visible.h) in one pass; the JSON
 * form redacts each string and escapes the characters json.c leaves raw
 * (DEL, C1 controls, bidirectional controls). Secrets are the password of
 * every connection string and the values of secret front matter variables.
 */
#include "plan.h"
#include "attrs.h"
#include "undo.h"
#include "db.h"
#include "json.h"
#include "redact.h"
#include "sqlsplit.h"
#include "select.h"
#include "interp.h"
#include "transcript.h"
#include "visible.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* A connection string's passwords (every form: db.h), unless one is a ${VAR} reference, go into red. */
static void add_dsn_password(rb_redactor *red, const char *dsn)
{
	char *pw = dsn ? rb_dsn_password(dsn) : NULL;
	if (dsn && !(pw && strstr(pw, "${")))
		rb_dsn_add_secrets(red, dsn);
	free(pw);
}

/* Every secret the document itself holds: passwords of its connection strings
 * (database:, databases:, env values that are connection strings) and the
 * values of its secret variables. */
static void collect_secrets(const rb_runbook *rb, rb_redactor *red)
{
	const rb_front_matter *fm = &rb->fm;
	add_dsn_password(red, fm->database.value);
	for (size_t i = 0; i < fm->ndatabases; i++)
		add_dsn_password(red, fm->databases[i].value);
	for (size_t i = 0; i < fm->nenv; i++) {
		const char *v = fm->env[i].value;
		if (!v)
			continue;
		if (rb_runbook_is_secret(rb, fm->env[i].key))
			rb_redactor_add(red, v);
		else if (strstr(v, "://") || strstr(v, "password"))
			add_dsn_password(red, v);
	}
}

static const char *role_name(rb_role r)
{
	return r == RB_ROLE_ON_FAILURE ? "on_failure" : r == RB_ROLE_MANUAL ? "manual" : r == RB_ROLE_UNDO ? "undo" : "main";
}

/* A string from the document, its secrets hidden; NULL writes null. */
static void jstr(rb_json *j, const rb_redactor *red, const char *s)
{
	char *r = s ? rb_redact(red, s) : NULL;
	rb_json_string(j, r);
	free(r);
}

/* A connection string, its password shown as ***. */
static void jdsn(rb_json *j, const rb_redactor *red, const char *dsn)
{
	char *r = dsn ? rb_dsn_redact(dsn) : NULL;
	jstr(j, red, r);
	free(r);
}

/* databases: (values are connection strings) or env: (secret values hidden). */
static void kv_object(rb_json *j, const rb_runbook *rb, const rb_redactor *red, const char *key,
		      const rb_kv *kv, size_t n, int dsns)
{
	rb_json_key(j, key);
	rb_json_object_begin(j);
	for (size_t i = 0; i < n; i++) {
		rb_json_key(j, kv[i].key);
		if (!dsns && kv[i].value && rb_runbook_is_secret(rb, kv[i].key))
			rb_json_string(j, "***");
		else if (dsns || (kv[i].value && (strstr(kv[i].value, "://") || strstr(kv[i].value, "password"))))
			jdsn(j, red, kv[i].value);
		else
			jstr(j, red, kv[i].value);
	}
	rb_json_end(j, '}');
}

static void pos_list(rb_json *j, const rb_redactor *red, const char *key, const rb_pos_str *l, size_t n)
{
	rb_json_key(j, key);
	rb_json_array_begin(j);
	for (size_t i = 0; i < n; i++)
		jstr(j, red, l[i].value);
	rb_json_end(j, ']');
}

/* The code point of the UTF-8 sequence at p, n bytes long (1..3). */
static unsigned code_point(const unsigned char *p, size_t n)
{
	if (n == 1)
		return p[0];
	if (n == 2)
		return ((unsigned)(p[0] & 0x1f) << 6) | (p[1] & 0x3f);
	return ((unsigned)(p[0] & 0x0f) << 12) | ((unsigned)(p[1] & 0x3f) << 6) | (p[2] & 0x3f);
}

/*
 * Appends JSON text to out with the hidden characters json.c writes raw (DEL,
 * C1 and bidirectional controls) as \uXXXX. json.c escapes every other
 * control character, and JSON's own syntax (brackets, quotes, commas, white
 * space) has none of these, so each one is inside a string.
 */
static void json_visible(const char *json, rb_buf *out)
{
	size_t from = 0, len = 0;
	const char *name;
	long at;
	while ((at = rb_visible_next(json, from, &len, &name)) >= 0) {
		rb_buf_add(out, json + from, (size_t)at - from);
		rb_buf_printf(out, "\\u%04x", code_point((const unsigned char *)json + at, len));
		from = (size_t)at + len;
	}
	rb_buf_puts(out, json + from);
}

/* front_matter: what the document's YAML header says, or null without one. */
static void json_front_matter(rb_json *j, const rb_runbook *rb, const rb_redactor *red)
{
	const rb_front_matter *fm = &rb->fm;
	rb_json_key(j, "front_matter");
	if (!fm->present) {
		rb_json_null(j);
		return;
	}
	rb_json_object_begin(j);
	if (fm->title) {
		rb_json_key(j, "title");
		jstr(j, red, fm->title);
	}
	if (fm->database.value) {
		rb_json_key(j, "database");
		jdsn(j, red, fm->database.value);
	}
	if (fm->ndatabases)
		kv_object(j, rb, red, "databases", fm->databases, fm->ndatabases, 1);
	if (fm->shell) {
		rb_json_key(j, "shell");
		jstr(j, red, fm->shell);
	}
	if (fm->nenv)
		kv_object(j, rb, red, "env", fm->env, fm->nenv, 0);
	if (fm->nsecrets)
		pos_list(j, red, "secrets", fm->secrets, fm->nsecrets);
	if (fm->timeout_ms >= 0) {
		rb_json_key(j, "timeout_ms");
		rb_json_int(j, fm->timeout_ms);
	}
	if (fm->on_failure.value) {
		rb_json_key(j, "on_failure");
		jstr(j, red, fm->on_failure.value);
	}
	if (fm->nmanual)
		pos_list(j, red, "manual", fm->manual, fm->nmanual);
	if (fm->audit_repo || fm->audit_ref) {
		rb_json_key(j, "audit");
		rb_json_object_begin(j);
		rb_json_key(j, "repo");
		jstr(j, red, fm->audit_repo);
		rb_json_key(j, "ref");
		jstr(j, red, fm->audit_ref);
		rb_json_end(j, '}');
	}
	rb_json_end(j, '}');
}

/* counts: steps per role, and documentation blocks. */
static void json_counts(rb_json *j, const rb_runbook *rb)
{
	rb_json_key(j, "counts");
	rb_json_object_begin(j);
	rb_json_key(j, "main");
	rb_json_int(j, (int64_t)rb_runbook_count(rb, RB_ROLE_MAIN));
	rb_json_key(j, "on_failure");
	rb_json_int(j, (int64_t)rb_runbook_count(rb, RB_ROLE_ON_FAILURE));
	rb_json_key(j, "manual");
	rb_json_int(j, (int64_t)rb_runbook_count(rb, RB_ROLE_MANUAL));
	size_t docs = 0;
	for (size_t i = 0; i < rb->nsteps; i++)
		docs += rb->steps[i].kind == RB_STEP_DOC;
	rb_json_key(j, "documentation");
	rb_json_int(j, (int64_t)docs);
	rb_json_end(j, '}');
}

/* sections: every heading but the document's root, in order. */
static void json_sections(rb_json *j, const rb_runbook *rb, const rb_redactor *red)
{
	rb_json_key(j, "sections");
	rb_json_array_begin(j);
	for (size_t i = 1; i < rb->nsections; i++) {
		const rb_section *s = &rb->sections[i];
		rb_json_object_begin(j);
		rb_json_key(j, "slug");
		jstr(j, red, s->slug);
		rb_json_key(j, "title");
		jstr(j, red, s->title);
		rb_json_key(j, "level");
		rb_json_int(j, s->level);
		rb_json_key(j, "line");
		rb_json_int(j, s->line);
		rb_json_key(j, "parent");
		jstr(j, red, s->parent > 0 ? rb->sections[s->parent].slug : NULL);
		rb_json_key(j, "role");
		rb_json_string(j, role_name(s->role));
		rb_json_end(j, '}');
	}
	rb_json_end(j, ']');
}

/*
 * selection: what --from/--only select, written when one is given.
 * Returns the selection of each step (caller frees).
 */
static rb_selection *json_selection(rb_json *j, const rb_runbook *rb, const rb_plan_opts *opts,
				    const rb_redactor *red)
{
	rb_selection *sel = rb_xcalloc(rb->nsteps + 1, sizeof *sel);
	rb_select_steps(rb, opts->from, opts->only, opts->skip_guards, sel);
	if (!opts->from && !opts->only)
		return sel;
	rb_json_key(j, "selection");
	rb_json_object_begin(j);
	rb_json_key(j, opts->only ? "only" : "from");
	jstr(j, red, opts->only ? opts->only : opts->from);
	rb_json_key(j, "skip_guards");
	rb_json_bool(j, opts->skip_guards);
	rb_json_key(j, "resume");
	jstr(j, red, opts->resume);
	rb_json_end(j, '}');
	return sel;
}

/* A step's attributes as written in its info string, when it has any. */
static void json_step_attrs(rb_json *j, const rb_step *s, const rb_redactor *red)
{
	if (!s->nattrs)
		return;
	rb_json_key(j, "attrs");
	rb_json_object_begin(j);
	for (size_t k = 0; k < s->nattrs; k++) {
		rb_json_key(j, s->attrs[k].key);
		jstr(j, red, s->attrs[k].value);
	}
	rb_json_end(j, '}');
}

/* The SQL lint rules the step silences (allow=), as a list, when it has any. */
static void json_step_allow(rb_json *j, const rb_step *s, const rb_redactor *red)
{
	if (!s->allow.value)
		return;
	rb_json_key(j, "allow");
	rb_json_array_begin(j);
	char *copy = rb_xstrdup(s->allow.value);
	for (char *tok = strtok(copy, ","); tok; tok = strtok(NULL, ",")) {
		char *name = rb_trim_dup(tok);
		if (*name)
			jstr(j, red, name);
		free(name);
	}
	free(copy);
	rb_json_end(j, ']');
}

/* A command of a transcript: line i and the lines that continue it, prompt removed. */
static size_t command_text(const rb_transcript *t, const char *body, size_t i, rb_buf *b)
{
	const rb_tline *l = &t->lines[i];
	rb_buf_add(b, body + l->text, l->len - (l->text - l->start));
	while (i + 1 < t->nlines && t->lines[i + 1].role == RB_TLINE_CONTINUED) {
		l = &t->lines[++i];
		rb_buf_putc(b, '\n');
		rb_buf_add(b, body + l->start, l->len);
	}
	return i;
}

/* A line list of the transcript, {line, text} each: the commands (with what continues them) or the output. */
static void json_tlines(rb_json *j, const rb_redactor *red, const rb_step *s, const rb_transcript *t,
			rb_tline_role role)
{
	rb_json_key(j, role == RB_TLINE_COMMAND ? "commands" : "output");
	rb_json_array_begin(j);
	for (size_t i = 0; i < t->nlines; i++) {
		if (t->lines[i].role != role)
			continue;
		rb_buf b = RB_BUF_INIT;
		rb_json_object_begin(j);
		rb_json_key(j, "line");
		rb_json_int(j, s->body_line + (int64_t)i);
		if (role == RB_TLINE_COMMAND)
			i = command_text(t, s->body, i, &b);
		else
			rb_buf_add(&b, s->body + t->lines[i].start, t->lines[i].len);
		rb_json_key(j, "text");
		jstr(j, red, rb_buf_cstr(&b));
		rb_json_end(j, '}');
		rb_buf_free(&b);
	}
	rb_json_end(j, ']');
}

/* A shell step's interpreter, and the commands that run (and, prompted, the documented output that does not). */
static void json_shell(rb_json *j, const rb_runbook *rb, const rb_step *s, const rb_redactor *red)
{
	rb_transcript t;
	const rb_interp *in = rb_interp_find(rb_step_interpreter(rb, s));
	rb_json_key(j, "interpreter");
	jstr(j, red, rb_step_interpreter(rb, s));
	if (!in || !in->shell)
		return;
	rb_json_key(j, "prompted");
	rb_json_bool(j, s->prompted);
	rb_transcript_read(s->body, s->prompted, &t);
	json_tlines(j, red, s, &t, RB_TLINE_COMMAND);
	if (s->prompted)
		json_tlines(j, red, s, &t, RB_TLINE_OUTPUT);
	rb_transcript_free(&t);
}

/* How a console transcript that is documentation would run, for the reader. */
static const char *console_hint(const rb_step *s)
{
	if (s->kind != RB_STEP_DOC || !(!strcasecmp(s->lang, "console") || !strcasecmp(s->lang, "shell-session") ||
					!strcasecmp(s->lang, "terminal")))
		return NULL;
	return "a console transcript: to run its $ commands, add {run=true} to the fence or console: run to the front matter";
}

/* What a step holds: a task list's items, or a code block's body (and a SQL block's target). */
static void json_step_content(rb_json *j, const rb_runbook *rb, const rb_step *s, const rb_redactor *red)
{
	if (s->kind == RB_STEP_APPROVAL) {
		rb_json_key(j, "items");
		rb_json_array_begin(j);
		for (size_t k = 0; k < s->nitems; k++) {
			rb_json_object_begin(j);
			rb_json_key(j, "text");
			jstr(j, red, s->items[k].text);
			rb_json_key(j, "checked");
			rb_json_bool(j, s->items[k].checked);
			rb_json_key(j, "line");
			rb_json_int(j, s->items[k].line);
			rb_json_end(j, '}');
		}
		rb_json_end(j, ']');
		return;
	}
	if (s->kind == RB_STEP_SQL) {
		rb_json_key(j, "db");
		jstr(j, red, s->db ? s->db : "default");
		rb_json_key(j, "transaction");
		rb_json_string(j, s->transaction == RB_TXN_NONE ? "none" : "single");
	}
	rb_json_key(j, "body_line");
	rb_json_int(j, s->body_line);
	rb_json_key(j, "body");
	jstr(j, red, s->body);
	if (s->kind == RB_STEP_SHELL)
		json_shell(j, rb, s, red);
	if (console_hint(s)) {
		rb_json_key(j, "note");
		rb_json_string(j, console_hint(s));
	}
}

/* One element of steps; sel is the step's selection, NULL for a whole run. */
static void json_step(rb_json *j, const rb_runbook *rb, const rb_step *s, const rb_selection *sel,
		      const rb_redactor *red)
{
	rb_json_object_begin(j);
	if (sel && s->role == RB_ROLE_MAIN && rb_step_runnable(s)) {
		rb_json_key(j, "selected");
		rb_json_string(j, rb_selection_name(*sel));
	}
	rb_json_key(j, "number");
	if (s->number)
		rb_json_int(j, s->number);
	else
		rb_json_null(j);
	rb_json_key(j, "id");
	jstr(j, red, s->id);
	rb_json_key(j, "kind");
	rb_json_string(j, rb_step_kind_name(s->kind));
	rb_json_key(j, "lang");
	jstr(j, red, s->lang);
	rb_json_key(j, "role");
	rb_json_string(j, role_name(s->role));
	rb_json_key(j, "runs");
	rb_json_bool(j, rb_step_runnable(s) && s->role != RB_ROLE_MANUAL && s->role != RB_ROLE_UNDO);
	if (s->undo >= 0) {
		rb_json_key(j, "undo");
		jstr(j, red, rb->steps[s->undo].id);
	}
	if (s->undoes >= 0) {
		rb_json_key(j, "undoes");
		jstr(j, red, rb->steps[s->undoes].id);
	}
	rb_json_key(j, "section");
	jstr(j, red, s->section > 0 ? rb->sections[s->section].slug : NULL);
	rb_buf path = RB_BUF_INIT;
	rb_section_path(rb, s->section, &path);
	rb_json_key(j, "path");
	jstr(j, red, rb_buf_cstr(&path));
	rb_buf_free(&path);
	rb_json_key(j, "line");
	rb_json_int(j, s->line);
	rb_json_key(j, "col");
	rb_json_int(j, s->col);
	json_step_attrs(j, s, red);
	json_step_allow(j, s, red);
	json_step_content(j, rb, s, red);
	rb_json_end(j, '}');
}

/* selection (for a partial run) and steps: every block, documentation included. */
static void json_steps(rb_json *j, const rb_runbook *rb, const rb_plan_opts *opts, const rb_redactor *red)
{
	rb_selection *sel = json_selection(j, rb, opts, red);
	rb_json_key(j, "steps");
	rb_json_array_begin(j);
	for (size_t i = 0; i < rb->nsteps; i++)
		json_step(j, rb, &rb->steps[i], opts->from || opts->only || sel[i] == RB_SEL_EXCLUDED ? &sel[i] : NULL, red);
	rb_json_end(j, ']');
	free(sel);
}

/* The targets of a rollout, in dispatch order: "Targets: N from FILE ..." and one line each. */
static void render_targets(const rb_plan_targets *t, rb_buf *out)
{
	const rb_inventory *inv = t->inv;
	rb_buf_printf(out, "Targets: %zu from %s%s%s%s, %d at a time (-j %d)", t->count, inv->path ? inv->path : "--matrix",
		      inv->path ? " (inventory " : "", inv->path ? inv->hash : "", inv->path ? ")" : "", t->jobs, t->jobs);
	if (t->canary)
		rb_buf_printf(out, "; canary: the first %d alone, then the rest after an approval", t->canary);
	rb_buf_putc(out, '\n');
	for (size_t i = 0; i < t->count; i++) {
		const rb_target *tg = &inv->targets[t->sel[i]];
		rb_buf_printf(out, "  %zu. %s%s", i + 1, tg->name, (int)i < t->canary ? " (canary)" : "");
		if (tg->db) {
			char *dsn = rb_dsn_redact(tg->db);
			rb_buf_printf(out, "  db: %s", dsn);
			free(dsn);
		}
		for (size_t v = 0; v < tg->nvars; v++)
			rb_buf_printf(out, "  %s=%s", tg->vars[v].key, tg->vars[v].value);
		rb_buf_putc(out, '\n');
	}
}

static void json_targets(rb_json *j, const rb_runbook *rb, const rb_plan_targets *t, const rb_redactor *red)
{
	rb_json_key(j, "targets");
	rb_json_object_begin(j);
	rb_json_key(j, "inventory");
	jstr(j, red, t->inv->path);
	rb_json_key(j, "hash");
	jstr(j, red, t->inv->hash);
	rb_json_key(j, "jobs");
	rb_json_int(j, t->jobs);
	rb_json_key(j, "canary");
	rb_json_int(j, t->canary);
	rb_json_key(j, "list");
	rb_json_array_begin(j);
	for (size_t i = 0; i < t->count; i++) {
		const rb_target *tg = &t->inv->targets[t->sel[i]];
		rb_json_object_begin(j);
		rb_json_key(j, "name");
		jstr(j, red, tg->name);
		rb_json_key(j, "canary");
		rb_json_bool(j, (int)i < t->canary);
		rb_json_key(j, "db");
		jdsn(j, red, tg->db);
		kv_object(j, rb, red, "vars", tg->vars, tg->nvars, 0);
		rb_json_end(j, '}');
	}
	rb_json_end(j, ']');
	rb_json_end(j, '}');
}

/* manual: the outermost manual sections. */
static void json_manual(rb_json *j, const rb_runbook *rb, const rb_redactor *red)
{
	rb_json_key(j, "manual");
	rb_json_array_begin(j);
	for (size_t i = 1; i < rb->nsections; i++) {
		const rb_section *s = &rb->sections[i];
		if (s->role == RB_ROLE_MANUAL && (s->parent < 0 || rb->sections[s->parent].role != RB_ROLE_MANUAL))
			jstr(j, red, s->slug);
	}
	rb_json_end(j, ']');
}

static void render_json(const rb_runbook *rb, const rb_plan_opts *opts, const rb_redactor *red,
			rb_buf *out)
{
	rb_json j;
	rb_json_init(&j, out, 1);
	rb_json_object_begin(&j);
	rb_json_key(&j, "file");
	jstr(&j, red, rb->path);
	rb_json_key(&j, "title");
	jstr(&j, red, rb->title);
	json_front_matter(&j, rb, red);
	json_counts(&j, rb);
	json_sections(&j, rb, red);
	json_steps(&j, rb, opts, red);
	rb_json_key(&j, "on_failure");
	jstr(&j, red, rb->on_failure_section >= 0 ? rb->sections[rb->on_failure_section].slug : NULL);
	if (opts->audit) {
		rb_json_key(&j, "audit");
		jstr(&j, red, opts->audit);
	}
	if (opts->targets)
		json_targets(&j, rb, opts->targets, red);
	json_manual(&j, rb, red);
	rb_json_end(&j, '}');
	rb_buf_putc(out, '\n');
}

static void body_preview(const char *body, int max, rb_buf *out)
{
	int shown = 0, total = 0;
	const char *p = body;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		if (shown < max) {
			rb_buf_puts(out, "      | ");
			rb_buf_add(out, p, n);
			rb_buf_putc(out, '\n');
			shown++;
		}
		total++;
		p += n + (nl ? 1 : 0);
	}
	if (total > shown)
		rb_buf_printf(out, "      | ... (%d more line%s)\n", total - shown,
			      total - shown == 1 ? "" : "s");
}

/* The connection a sql step uses, as written, password hidden. */
static char *connection_of(const rb_runbook *rb, const rb_step *s)
{
	if (s->db) {
		for (size_t i = 0; i < rb->fm.ndatabases; i++)
			if (!strcmp(rb->fm.databases[i].key, s->db)) {
				char *dsn = rb_dsn_redact(rb->fm.databases[i].value);
				char *d = rb_xasprintf("%s (%s)", s->db, dsn);
				free(dsn);
				return d;
			}
		return rb_xasprintf("%s (not declared under databases:)", s->db);
	}
	if (rb->fm.database.value) {
		char *dsn = rb_dsn_redact(rb->fm.database.value);
		char *d = rb_xasprintf("default (%s)", dsn);
		free(dsn);
		return d;
	}
	return rb_xstrdup("default (--db, --ephemeral-db, DATABASE_URL or PG* variables)");
}

/* Statements of a sql step, their first lines, and how they run. */
static void sql_summary(const rb_runbook *rb, const rb_step *s, rb_buf *out)
{
	rb_sql_item *items = NULL;
	size_t n = 0;
	rb_error err = RB_ERROR_INIT;
	char *conn = connection_of(rb, s);
	rb_buf_printf(out, "      connection: %s\n", conn);
	free(conn);
	if (rb_sql_split(s->body, rb->path, s->body_line, 1, &items, &n, &err) < 0) {
		rb_buf_printf(out, "      does not split: %s:%d:%d: %s\n", rb->path, err.line, err.col,
			      err.message);
		rb_error_clear(&err);
		return;
	}
	int own = rb_sql_has_txn_control(items, n);
	rb_buf_printf(out, "      transaction: %s\n",
		      own ? "as written (the block has its own BEGIN/COMMIT)"
		      : s->transaction == RB_TXN_NONE ? "none (autocommit, statement by statement)"
						      : "single (the whole block, rolled back on error)");
	for (size_t i = 0; i < n; i++) {
		const rb_sql_item *it = &items[i];
		const char *t = it->kind == RB_SQL_META ? NULL : it->text;
		if (t) {
			size_t k = strcspn(t, "\n"), shown = k;
			if (shown > 100) {
				/* cut at a character boundary, not inside one */
				shown = 100;
				while (shown > 0 && ((unsigned char)t[shown] & 0xc0) == 0x80)
					shown--;
			}
			rb_buf_printf(out, "      %d: %.*s%s\n", it->line, (int)shown, t,
				      t[k] || k > 100 ? " ..." : "");
		} else {
			rb_buf_printf(out, "      %d: \\%s %s\n", it->line, it->command, it->args);
		}
	}
	rb_sql_items_free(items, n);
}

/* What a partial run does with a step it does not simply run, for the plan. */
static const char *selection_note(rb_selection sel)
{
	switch (sel) {
	case RB_SEL_GUARD: return "  (guard: checked again before the selection)";
	case RB_SEL_GUARD_SKIPPED: return "  (guard: skipped by --skip-guards)";
	case RB_SEL_ARM: return "  (armed before the selection)";
	case RB_SEL_COMPUTE: return "  (runs again: computes what the guards read)";
	case RB_SEL_EXCLUDED: return "  (excludeFromRunAll: not in a whole run; --only runs it)";
	case RB_SEL_SKIP: return "  (not selected: skipped)";
	case RB_SEL_RUN: break;
	}
	return "";
}

/* The summary of a partial run: which guards, which steps. */
static void render_selection(const rb_runbook *rb, const rb_plan_opts *opts, const rb_selection *sel,
			     rb_buf *out)
{
	static const rb_selection order[] = {RB_SEL_GUARD, RB_SEL_GUARD_SKIPPED, RB_SEL_ARM, RB_SEL_COMPUTE,
					     RB_SEL_RUN, RB_SEL_EXCLUDED, RB_SEL_SKIP};
	static const char *const label[] = {"checks again", "skips the guards (--skip-guards)", "arms",
					    "computes", "runs", "skips (excludeFromRunAll; not shown below)",
					    "skips (not shown below)"};
	if (opts->resume)
		rb_buf_printf(out, "Resume: %s\n", opts->resume);
	rb_buf_printf(out, "Selection: %s %s\n", opts->only ? "--only" : "--from", opts->only ? opts->only : opts->from);
	for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
		size_t n = 0;
		for (size_t i = 0; i < rb->nsteps; i++) {
			const rb_step *st = &rb->steps[i];
			if (st->role != RB_ROLE_MAIN || !rb_step_runnable(st) || sel[i] != order[k])
				continue;
			rb_buf_printf(out, "%s%s", n++ ? ", " : "  ", st->id);
		}
		if (n)
			rb_buf_printf(out, " -- %s\n", label[k]);
	}
}

/* A prompted block: every command that runs, and the lines taken as documented output (up to preview). */
static void prompted_preview(const rb_step *s, int preview, rb_buf *out)
{
	rb_transcript t;
	int shown = 0, hidden = 0;
	rb_transcript_read(s->body, 1, &t);
	rb_buf_printf(out, "      prompted: the $ commands run; the other lines are documented output, not run\n");
	for (size_t i = 0; i < t.nlines; i++) {
		const rb_tline *l = &t.lines[i];
		int line = s->body_line + (int)i;
		if (l->role == RB_TLINE_COMMAND || l->role == RB_TLINE_CONTINUED)
			rb_buf_printf(out, "      run    %4d | %.*s\n", line, (int)(l->len - (l->text - l->start)),
				      s->body + l->text);
		else if (l->role == RB_TLINE_OUTPUT && shown < preview && ++shown)
			rb_buf_printf(out, "      output %4d | %.*s\n", line, (int)l->len, s->body + l->start);
		else if (l->role == RB_TLINE_OUTPUT)
			hidden++;
	}
	if (hidden)
		rb_buf_printf(out, "      output ... (%d more line%s, not run)\n", hidden, hidden == 1 ? "" : "s");
	rb_transcript_free(&t);
}

static void render_step(const rb_runbook *rb, const rb_step *s, size_t total, int preview,
			const rb_selection *sel, rb_buf *out)
{
	if (s->kind == RB_STEP_DOC) {
		rb_buf_printf(out, "  [-] doc%s%s%s  %s:%d  (documentation, not run)\n",
			      *s->lang ? " (" : "", s->lang, *s->lang ? ")" : "", rb->path, s->line);
		if (console_hint(s))
			rb_buf_printf(out, "      %s\n", console_hint(s));
		return;
	}
	if (s->number && s->role != RB_ROLE_MANUAL)
		rb_buf_printf(out, "  [%d/%zu] ", s->number, total);
	else
		rb_buf_puts(out, "  [-] ");
	rb_buf_printf(out, "%s  %s  %s:%d", s->kind == RB_STEP_APPROVAL ? "approval" :
		      s->kind == RB_STEP_SHELL || s->kind == RB_STEP_SQL ? s->lang :
		      rb_step_kind_name(s->kind), s->id, rb->path, s->line);
	if (s->skip)
		rb_buf_puts(out, "  (skip: not run)");
	else if (s->role == RB_ROLE_MANUAL)
		rb_buf_puts(out, "  (manual: never run)");
	else if (s->role == RB_ROLE_ON_FAILURE)
		rb_buf_puts(out, "  (runs on failure)");
	else if (sel)
		rb_buf_puts(out, selection_note(sel[s - rb->steps]));
	rb_buf_putc(out, '\n');
	rb_buf path = RB_BUF_INIT;
	rb_section_path(rb, s->section, &path);
	if (path.len)
		rb_buf_printf(out, "      section: %s\n", path.data);
	rb_buf_free(&path);
	if (s->nattrs) {
		rb_buf_puts(out, "      attributes:");
		for (size_t k = 0; k < s->nattrs; k++) {
			char *note = rb_attr_note(s, &s->attrs[k]);
			rb_buf_printf(out, " %s=%s%s", s->attrs[k].key, s->attrs[k].value, note);
			free(note);
		}
		rb_buf_putc(out, '\n');
	}
	if (s->allow.value)
		rb_buf_printf(out, "      lint rules allowed here: %s\n", s->allow.value);
	if (s->kind == RB_STEP_APPROVAL) {
		for (size_t k = 0; k < s->nitems; k++)
			rb_buf_printf(out, "      [%c] %s\n", s->items[k].checked ? 'x' : ' ',
				      s->items[k].text);
		return;
	}
	if (s->kind == RB_STEP_SQL) {
		sql_summary(rb, s, out);
		return;
	}
	if (s->kind == RB_STEP_SHELL && (s->interpreter ? strcmp(s->interpreter, s->lang) : rb->fm.shell != NULL))
		rb_buf_printf(out, "      interpreter: %s\n", rb_step_interpreter(rb, s));
	if (s->prompted)
		prompted_preview(s, preview, out);
	else
		body_preview(s->body, preview, out);
}

/* A step's undo, beneath it. */
static void render_undo(const rb_runbook *rb, const rb_step *s, int preview, rb_buf *out)
{
	const rb_step *u = &rb->steps[s->undo];
	rb_buf_printf(out, "      undo: %s  %s  %s:%d  (runs only to undo '%s'%s)\n", u->id,
		      u->kind == RB_STEP_SHELL || u->kind == RB_STEP_SQL ? u->lang : rb_step_kind_name(u->kind),
		      rb->path, u->line, s->id, s->undo_on_failure ? ", also when it fails" : "");
	if (u->kind == RB_STEP_SQL)
		sql_summary(rb, u, out);
	else
		body_preview(u->body, preview, out);
}

/*
 * --fail-at ID: the undos a failure of step ID would run, newest first --
 * the steps before it in this run's selection that have an undo (those a
 * when= turns off at run time are not undone), and its own with
 * undo_on_failure.
 */
static void render_fail_at(const rb_runbook *rb, const rb_plan_opts *opts, const rb_selection *sel, rb_buf *out)
{
	const rb_step *at = rb_runbook_find_step(rb, opts->fail_at);
	rb_buf list = RB_BUF_INIT;
	if (!at || at->role != RB_ROLE_MAIN) {
		rb_suggest sg = RB_SUGGEST_INIT(opts->fail_at);
		for (size_t i = 0; i < rb->nsteps; i++)
			if (rb->steps[i].role == RB_ROLE_MAIN && rb_step_runnable(&rb->steps[i]))
				rb_suggest_offer(&sg, rb->steps[i].id);
		char *hint = rb_suggest_hint(&sg);
		rb_buf_printf(out, "\nIf '%s' fails: no such step in the main flow%s\n", opts->fail_at, hint);
		free(hint);
		return;
	}
	size_t end = (size_t)(at - rb->steps);
	if (rb_undo_wanted(at, 0))
		rb_buf_printf(&list, "%s", rb->steps[at->undo].id);
	for (size_t i = end; i-- > 0;) {
		const rb_step *s = &rb->steps[i];
		if (s->role != RB_ROLE_MAIN || s->undo < 0 || s->skip || (sel && sel[i] != RB_SEL_RUN))
			continue;
		rb_buf_printf(&list, "%s%s", list.len ? ", " : "", rb->steps[s->undo].id);
	}
	rb_buf_printf(out, "\nIf '%s' fails, the undo runs newest first: %s\n", at->id, list.len ? list.data : "nothing");
	if (rb->on_failure_section >= 0)
		rb_buf_printf(out, "  then the on_failure section \"%s\"\n", rb->sections[rb->on_failure_section].title);
	rb_buf_free(&list);
}

static void render_text(const rb_runbook *rb, const rb_plan_opts *opts, rb_buf *out)
{
	int preview = opts->preview_lines > 0 ? opts->preview_lines : 6;
	size_t main_n = rb_runbook_count(rb, RB_ROLE_MAIN);
	size_t docs = 0, approvals = 0, gates = 0, aborts = 0;
	for (size_t i = 0; i < rb->nsteps; i++) {
		const rb_step *s = &rb->steps[i];
		docs += s->kind == RB_STEP_DOC;
		if (s->role != RB_ROLE_MAIN || !rb_step_runnable(s))
			continue;
		approvals += s->kind == RB_STEP_APPROVAL;
		gates += s->kind == RB_STEP_GATE;
		aborts += s->kind == RB_STEP_ABORT;
	}
	rb_buf_printf(out, "Plan: %s\n", rb->title);
	rb_buf_printf(out, "File: %s\n", rb->path);
	const rb_front_matter *fm = &rb->fm;
	if (fm->database.value) {
		char *dsn = rb_dsn_redact(fm->database.value);
		rb_buf_printf(out, "Database: %s\n", dsn);
		free(dsn);
	}
	for (size_t i = 0; i < fm->ndatabases; i++) {
		char *dsn = rb_dsn_redact(fm->databases[i].value);
		rb_buf_printf(out, "Database %s: %s\n", fm->databases[i].key, dsn);
		free(dsn);
	}
	if (fm->nenv) {
		rb_buf_puts(out, "Variables:");
		for (size_t i = 0; i < fm->nenv; i++)
			rb_buf_printf(out, " %s", fm->env[i].key);
		rb_buf_putc(out, '\n');
	}
	if (opts->audit)
		rb_buf_printf(out, "Audit record: %s\n", opts->audit);
	if (opts->targets)
		render_targets(opts->targets, out);
	if (fm->timeout_ms >= 0) {
		char d[32];
		rb_format_duration(fm->timeout_ms, d, sizeof d);
		rb_buf_printf(out, "Default timeout: %s\n", d);
	}
	rb_buf_printf(out, "Steps: %zu to run (%zu approval%s, %zu gate%s, %zu abort condition%s), "
		      "%zu documentation block%s not run\n\n",
		      main_n, approvals, approvals == 1 ? "" : "s", gates, gates == 1 ? "" : "s",
		      aborts, aborts == 1 ? "" : "s", docs, docs == 1 ? "" : "s");
	/* A whole run has a selection too when a step is excluded from it. */
	rb_selection *sel = rb_xcalloc(rb->nsteps + 1, sizeof *sel);
	int partial = opts->from || opts->only;
	rb_select_steps(rb, opts->from, opts->only, opts->skip_guards, sel);
	if (partial) {
		render_selection(rb, opts, sel, out);
		rb_buf_putc(out, '\n');
	}
	for (size_t i = 0; i < rb->nsteps; i++) {
		if (rb->steps[i].role != RB_ROLE_MAIN)
			continue;
		/* a partial run's plan shows what runs (and is checked again), not what it skips */
		if (partial && (rb->steps[i].kind == RB_STEP_DOC || sel[i] == RB_SEL_SKIP || sel[i] == RB_SEL_EXCLUDED))
			continue;
		render_step(rb, &rb->steps[i], main_n, preview, partial || sel[i] == RB_SEL_EXCLUDED ? sel : NULL, out);
		if (rb->steps[i].undo >= 0)
			render_undo(rb, &rb->steps[i], preview, out);
	}
	if (opts->fail_at)
		render_fail_at(rb, opts, sel, out);
	free(sel);
	if (rb->on_failure_section >= 0) {
		rb_buf_printf(out, "\nOn failure: section \"%s\" (#%s) runs after a failure, a false "
			      "gate, an abort or an interrupt\n",
			      rb->sections[rb->on_failure_section].title,
			      rb->sections[rb->on_failure_section].slug);
		size_t n = rb_runbook_count(rb, RB_ROLE_ON_FAILURE);
		for (size_t i = 0; i < rb->nsteps; i++)
			if (rb->steps[i].role == RB_ROLE_ON_FAILURE)
				render_step(rb, &rb->steps[i], n, preview, NULL, out);
	}
	int any_manual = 0;
	for (size_t i = 1; i < rb->nsections; i++) {
		const rb_section *s = &rb->sections[i];
		if (s->role != RB_ROLE_MANUAL || rb->sections[s->parent].role == RB_ROLE_MANUAL)
			continue;
		if (!any_manual)
			rb_buf_puts(out, "\nManual sections (reference only, never run):\n");
		any_manual = 1;
		rb_buf_printf(out, "  \"%s\" (#%s) %s:%d\n", s->title, s->slug, rb->path, s->line);
	}
	for (size_t i = 0; any_manual && i < rb->nsteps; i++)
		if (rb->steps[i].role == RB_ROLE_MANUAL)
			render_step(rb, &rb->steps[i], 0, preview, NULL, out);
}

void rb_plan_render(const rb_runbook *rb, const rb_plan_opts *opts, rb_buf *out)
{
	rb_redactor red = RB_REDACTOR_INIT;
	rb_buf raw = RB_BUF_INIT, hidden = RB_BUF_INIT;
	collect_secrets(rb, &red);
	if (opts->json) {
		render_json(rb, opts, &red, &raw);
		json_visible(rb_buf_cstr(&raw), out);
	} else {
		render_text(rb, opts, &raw);
		rb_redact_into(&red, raw.data, raw.len, &hidden);
		rb_visible_into(hidden.data, hidden.len, out);
	}
	rb_buf_free(&hidden);
	rb_buf_free(&raw);
	rb_redactor_free(&red);
}
