/*
 * attrs.c - info string parsing and the attribute table.
 *
 * Two syntaxes share one result: `{key=value key2="quoted value" flag}` and
 * Runme's JSON object `{"key":"value"}`. The JSON form is handed to libyaml
 * (a JSON object is a YAML flow mapping), so no JSON parser lives here.
 */
#include "attrs.h"
#include "inputs.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* Setters: one per typed field of rb_step. */
static void set_name(rb_step *s, const rb_attr *a, const rb_attr_value *v)
{
	(void)a;
	free(s->id);
	s->id = rb_xstrdup(v->text);
	s->id_explicit = 1;
}

static void set_pos(rb_pos_str *dst, const rb_attr *a)
{
	dst->value = a->value; /* owned by the step's attribute */
	dst->line = a->line;
	dst->col = a->col;
}

static void set_timeout(rb_step *s, const rb_attr *a, const rb_attr_value *v) { (void)a; s->timeout_ms = v->n; }
static void set_retry(rb_step *s, const rb_attr *a, const rb_attr_value *v) { (void)a; s->retry = (int)v->n; }
static void set_retry_delay(rb_step *s, const rb_attr *a, const rb_attr_value *v) { (void)a; s->retry_delay_ms = v->n; }
static void set_when(rb_step *s, const rb_attr *a, const rb_attr_value *v) { (void)v; set_pos(&s->when, a); }
static void set_expect(rb_step *s, const rb_attr *a, const rb_attr_value *v) { (void)v; set_pos(&s->expect, a); }
static void set_expect_error(rb_step *s, const rb_attr *a, const rb_attr_value *v) { (void)v; set_pos(&s->expect_error, a); }
static void set_capture(rb_step *s, const rb_attr *a, const rb_attr_value *v) { (void)v; set_pos(&s->capture, a); }
static void set_continue(rb_step *s, const rb_attr *a, const rb_attr_value *v) { (void)a; s->continue_on_error = v->flag; }
static void set_skip(rb_step *s, const rb_attr *a, const rb_attr_value *v) { (void)a; s->skip = v->flag; }
static void set_interactive(rb_step *s, const rb_attr *a, const rb_attr_value *v) { (void)a; s->interactive = v->flag; }
static void set_during_handler(rb_step *s, const rb_attr *a, const rb_attr_value *v) { (void)a; s->during_handler = v->flag; }
static void set_undo(rb_step *s, const rb_attr *a, const rb_attr_value *v) { (void)v; set_pos(&s->undo_ref, a); }
static void set_undo_on_failure(rb_step *s, const rb_attr *a, const rb_attr_value *v) { (void)a; s->undo_on_failure = v->flag; }
static void set_every(rb_step *s, const rb_attr *a, const rb_attr_value *v) { (void)a; s->every_ms = v->n; }
static void set_allow(rb_step *s, const rb_attr *a, const rb_attr_value *v) { (void)v; set_pos(&s->allow, a); }
static void set_lock_timeout(rb_step *s, const rb_attr *a, const rb_attr_value *v) { (void)a; s->lock_timeout_ms = v->n; }
static void set_rows(rb_step *s, const rb_attr *a, const rb_attr_value *v) { (void)a; s->rows = v->n; }

static void set_confirm(rb_step *s, const rb_attr *a, const rb_attr_value *v)
{
	(void)a;
	int b = rb_parse_flag(v->text);
	s->confirm = b != 0;
	free(s->confirm_phrase);
	/* confirm=each: a plain confirmation, which a rollout asks for each target (not once for all). */
	s->confirm_each = b < 0 && !strcmp(v->text, "each");
	s->confirm_phrase = b < 0 && !s->confirm_each ? rb_xstrdup(v->text) : NULL;
}

static void set_db(rb_step *s, const rb_attr *a, const rb_attr_value *v)
{
	(void)a;
	free(s->db);
	s->db = rb_xstrdup(v->text);
}

static void set_transaction(rb_step *s, const rb_attr *a, const rb_attr_value *v)
{
	(void)a;
	s->transaction = !strcmp(v->text, "none") ? RB_TXN_NONE : RB_TXN_SINGLE;
}

static void set_run(rb_step *s, const rb_attr *a, const rb_attr_value *v) { (void)a; s->run = v->flag; }

static void set_interpreter(rb_step *s, const rb_attr *a, const rb_attr_value *v)
{
	(void)a;
	free(s->interpreter);
	s->interpreter = rb_xstrdup(v->text);
}

static void set_cwd(rb_step *s, const rb_attr *a, const rb_attr_value *v)
{
	(void)a;
	free(s->cwd);
	s->cwd = rb_xstrdup(v->text);
}

#define SQL RB_ATTR_KIND(RB_STEP_SQL)
#define SHELL RB_ATTR_KIND(RB_STEP_SHELL)
#define ABORT RB_ATTR_KIND(RB_STEP_ABORT)
#define CHANGES (SHELL | SQL | RB_ATTR_KIND(RB_STEP_LUA))

const rb_attr_spec rb_attr_specs[] = {
	{"name", RB_ATTR_ID, "step id, unique in the runbook", 0, NULL, set_name},
	{"timeout", RB_ATTR_DURATION, "kill (shell) or cancel (sql) the step when exceeded", 0, NULL, set_timeout},
	{"retry", RB_ATTR_COUNT, "run again up to N times on failure", 0, NULL, set_retry},
	{"retry_delay", RB_ATTR_DURATION, "wait between retries", 0, NULL, set_retry_delay},
	{"when", RB_ATTR_LUA, "run only when this Lua expression is true", 0, NULL, set_when},
	{"expect", RB_ATTR_LUA, "a Lua expression that must hold after the step", 0, NULL, set_expect},
	{"expect_error", RB_ATTR_TEXT, "the step must fail: SQLSTATE, class or text", SHELL | SQL, "bash and sql",
	 set_expect_error},
	{"capture", RB_ATTR_ID, "store trimmed stdout (shell) or the first value (sql) in a variable", SHELL | SQL,
	 "bash and sql", set_capture},
	{"confirm", RB_ATTR_FLAG_OR_TEXT, "ask before running; with a phrase, it must be typed", 0, NULL, set_confirm},
	{"continue_on_error", RB_ATTR_FLAG, "record a failure and go on", 0, NULL, set_continue},
	{"skip", RB_ATTR_FLAG, "documentation only: planned, never run", 0, NULL, set_skip},
	{"db", RB_ATTR_ID, "sql: run on a named connection", SQL, "sql", set_db},
	{"transaction", RB_ATTR_TXN, "sql: single (default) or none", SQL, "sql", set_transaction},
	{"lock_timeout", RB_ATTR_DURATION, "sql: give up waiting for a lock after this long (default 5s; 0: wait)", SQL,
	 "sql", set_lock_timeout},
	{"rows", RB_ATTR_ROWS, "sql: rows printed of each result (default 100; all: every row)", SQL, "sql", set_rows},
	{"allow", RB_ATTR_TEXT, "silence these lint rules here: SQL rules, runbook's warnings, shellcheck's SC2086 "
	 "(comma-separated; runbook check --list-rules)", SHELL | SQL, "bash and sql", set_allow},
	{"cwd", RB_ATTR_TEXT, "working directory, relative to the runbook", SHELL, "shell", set_cwd},
	{"run", RB_ATTR_FLAG, "run a console transcript or a block of another language; false: documentation", 0, NULL,
	 set_run},
	{"interpreter", RB_ATTR_TEXT, "the program that runs the block (zsh, python3, node; docs/format.md)", SHELL,
	 "shell", set_interpreter},
	{"interactive", RB_ATTR_FLAG, "inherit the terminal instead of capturing output", SHELL, "shell",
	 set_interactive},
	{"every", RB_ATTR_DURATION, "abort conditions: how often to check while a step runs", ABORT, "lua abort",
	 set_every},
	{"during_handler", RB_ATTR_FLAG, "abort conditions: stay armed while the on_failure section runs", ABORT,
	 "lua abort", set_during_handler},
	{"undo", RB_ATTR_ID, "the block (by name) that undoes this step when a later one fails", CHANGES,
	 "bash, sql and lua", set_undo},
	{"undo_on_failure", RB_ATTR_FLAG, "run this step's undo even when the step itself fails", CHANGES,
	 "bash, sql and lua", set_undo_on_failure},
	{NULL, RB_ATTR_TEXT, NULL, 0, NULL, NULL}
};

#undef SQL
#undef SHELL
#undef ABORT
#undef CHANGES

const char *const rb_runme_attrs[] = {
	"background", "closeTerminalOnSuccess", "mimeType", "promptEnv", "terminalRows",
	"excludeFromRunAll", "category", "id", "tag", "description",
	"cell", NULL
};

/* promptEnv's values: Runme's yes/no/auto, and flags. 1 on, 0 off, -1 neither. */
static int prompt_env_value(const char *v)
{
	if (!strcmp(v, "auto") || !strcmp(v, "always"))
		return 1;
	if (!strcmp(v, "never"))
		return 0;
	return rb_parse_flag(v);
}

int rb_step_background(const rb_step *s)
{
	const char *v = rb_step_attr(s, "background");
	return s->kind == RB_STEP_SHELL && v && rb_parse_flag(v) == 1;
}

int rb_step_prompt_env(const rb_step *s)
{
	const char *v = rb_step_attr(s, "promptEnv");
	return s->kind == RB_STEP_SHELL && v && prompt_env_value(v) == 1;
}

/* What a background step is never given: it is not waited for (docs/format.md, "Differences from Runme"). */
static const char *const not_in_background[] = {"capture", "expect_error", "interactive", "retry", "retry_delay",
						 "timeout", NULL};

/*
 * Runme's attributes that act here: background (a shell step, not an undo
 * block, without the attributes that wait for its end) and promptEnv (a
 * shell step). The others are kept as written.
 */
static int runme_apply(const rb_step *s, const rb_attr *a, const char *file, rb_error *err)
{
	if (!strcmp(a->key, "background")) {
		int on = rb_parse_flag(a->value);
		if (on < 0)
			return rb_error_set(err, RB_EXIT_USAGE, file, a->line, a->col,
					    "attribute 'background': '%s' is not true or false", a->value);
		if (on && s->kind != RB_STEP_SHELL)
			return rb_error_set(err, RB_EXIT_USAGE, file, a->line, a->col,
					    "attribute 'background' applies only to shell steps: a %s step is always "
					    "waited for", rb_step_kind_name(s->kind));
		if (on && s->undo_block)
			return rb_error_set(err, RB_EXIT_USAGE, file, a->line, a->col,
					    "attribute 'background': an undo block is always waited for");
		for (size_t i = 0; on && i < s->nattrs; i++)
			for (const char *const *k = not_in_background; *k; k++)
				if (!strcmp(s->attrs[i].key, *k))
					return rb_error_set(err, RB_EXIT_USAGE, file, s->attrs[i].line, s->attrs[i].col,
							    "attribute '%s' does not apply to a background step: it is "
							    "not waited for", *k);
	} else if (!strcmp(a->key, "promptEnv")) {
		int on = prompt_env_value(a->value);
		if (on < 0)
			return rb_error_set(err, RB_EXIT_USAGE, file, a->line, a->col,
					    "attribute 'promptEnv': '%s' is not yes, no or auto", a->value);
		if (on && s->kind != RB_STEP_SHELL)
			return rb_error_set(err, RB_EXIT_USAGE, file, a->line, a->col,
					    "attribute 'promptEnv' applies only to shell steps (it asks for the values of "
					    "their export lines)");
	}
	return 1;
}

char *rb_attr_note(const rb_step *s, const rb_attr *a)
{
	if (a->known)
		return rb_xstrdup("");
	if (!strcmp(a->key, "background"))
		return rb_xstrdup(rb_step_background(s) ? " (runme: started, not waited for; stopped at the end of the run)"
							: " (runme: waited for, as every step)");
	if (!strcmp(a->key, "excludeFromRunAll"))
		return rb_xstrdup(rb_parse_flag(a->value) != 0 ? " (runme: runs only when --only names it)"
							       : " (runme: part of a whole run)");
	if (strcmp(a->key, "promptEnv"))
		return rb_xstrdup(" (runme, ignored)");
	if (!rb_step_prompt_env(s))
		return rb_xstrdup(" (runme: nothing asked)");
	rb_env_prompt *p = NULL;
	size_t n = rb_env_prompts(s, &p);
	rb_buf b = RB_BUF_INIT;
	rb_buf_puts(&b, n ? " (runme: inputs asked before step 1:" : " (runme: no export line to ask for");
	for (size_t i = 0; i < n; i++)
		rb_buf_printf(&b, "%s %s%s%s%s", i ? "," : "", p[i].name, p[i].def ? " [" : "", p[i].def ? p[i].def : "",
			      p[i].def ? "]" : "");
	rb_buf_putc(&b, ')');
	rb_env_prompts_free(p, n);
	return rb_buf_detach(&b);
}

const rb_attr_spec *rb_attr_lookup(const char *key)
{
	for (const rb_attr_spec *s = rb_attr_specs; s->name; s++)
		if (strcmp(s->name, key) == 0)
			return s;
	return NULL;
}

int rb_attr_is_runme(const char *key)
{
	for (const char *const *p = rb_runme_attrs; *p; p++)
		if (strcmp(*p, key) == 0)
			return 1;
	return 0;
}

const char *rb_attr_suggest(const char *key)
{
	const char *best = NULL;
	size_t bestd = 3;
	for (const rb_attr_spec *s = rb_attr_specs; s->name; s++) {
		size_t d = rb_edit_distance(key, s->name);
		if (d < bestd) {
			bestd = d;
			best = s->name;
		}
	}
	return best;
}

int rb_parse_flag(const char *v)
{
	if (!strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "1"))
		return 1;
	if (!strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "0"))
		return 0;
	return -1;
}

static void info_add(rb_info *info, const char *key, size_t klen, char *value, int line, int col)
{
	info->attrs = rb_xrealloc(info->attrs, (info->nattrs + 1) * sizeof *info->attrs);
	rb_attr *a = &info->attrs[info->nattrs++];
	a->key = rb_xstrndup(key, klen);
	a->value = value;
	a->line = line;
	a->col = col;
	a->known = rb_attr_lookup(a->key) != NULL;
}

static int is_key_char(int c)
{
	return isalnum(c) || c == '_' || c == '-' || c == '.';
}

/*
 * allow=a,b: the one attribute whose unquoted value is a list. A comma at p
 * goes on with the list when what follows it (up to a space or a comma)
 * is a name, not a key=value pair.
 */
static int list_continues(const char *k, size_t klen, const char *p, const char *end)
{
	if (klen != 5 || strncmp(k, "allow", 5))
		return 0;
	const char *q = p + 1;
	while (q < end && is_key_char((unsigned char)*q))
		q++;
	return q > p + 1 && (q == end || isspace((unsigned char)*q) || *q == ',');
}

/* key=value pairs between the braces; `p` points just after '{'. */
static int parse_pairs(const char *info, const char *p, const char *end, const char *file,
		       int line, int col, rb_info *out, rb_error *err)
{
	int rc = -1;
	rb_buf v = RB_BUF_INIT;
	while (p < end) {
		while (p < end && (isspace((unsigned char)*p) || *p == ','))
			p++;
		if (p >= end)
			break;
		const char *k = p;
		int kcol = col + (int)(k - info);
		if (!(isalpha((unsigned char)*p) || *p == '_')) {
			rb_error_set(err, RB_EXIT_USAGE, file, line, kcol,
				     "expected an attribute name, found '%c'", *p);
			goto done;
		}
		while (p < end && is_key_char((unsigned char)*p))
			p++;
		size_t klen = (size_t)(p - k);
		rb_buf_clear(&v);
		if (p < end && *p == '=') {
			p++;
			if (p < end && (*p == '"' || *p == '\'')) {
				char q = *p++;
				const char *open = p - 1;
				while (p < end && *p != q) {
					if (*p == '\\' && q == '"' && p + 1 < end &&
					    (p[1] == '"' || p[1] == '\\'))
						p++;
					rb_buf_putc(&v, *p++);
				}
				if (p >= end) {
					rb_error_set(err, RB_EXIT_USAGE, file, line,
						     col + (int)(open - info),
						     "unterminated quoted value of attribute '%.*s'",
						     (int)klen, k);
					goto done;
				}
				p++;
				if (p < end && !isspace((unsigned char)*p) && *p != ',') {
					rb_error_set(err, RB_EXIT_USAGE, file, line, col + (int)(p - info),
						     "unexpected '%c' after attribute '%.*s'", *p, (int)klen, k);
					goto done;
				}
			} else {
				const char *s = p;
				while (p < end && !isspace((unsigned char)*p) &&
				       (*p != ',' || list_continues(k, klen, p, end)))
					p++;
				if (p == s) {
					rb_error_set(err, RB_EXIT_USAGE, file, line, kcol,
						     "attribute '%.*s' has '=' but no value",
						     (int)klen, k);
					goto done;
				}
				rb_buf_add(&v, s, (size_t)(p - s));
			}
		} else if (p < end && !isspace((unsigned char)*p) && *p != ',') {
			rb_error_set(err, RB_EXIT_USAGE, file, line, col + (int)(p - info),
				     "unexpected '%c' after attribute '%.*s'", *p, (int)klen, k);
			goto done;
		} else {
			rb_buf_puts(&v, "true");
		}
		for (size_t i = 0; i < out->nattrs; i++) {
			if (strlen(out->attrs[i].key) == klen && !strncmp(out->attrs[i].key, k, klen)) {
				rb_error_set(err, RB_EXIT_USAGE, file, line, kcol,
					     "attribute '%.*s' given twice", (int)klen, k);
				goto done;
			}
		}
		info_add(out, k, klen, rb_buf_detach(&v), line, kcol);
	}
	rc = 0;
done:
	rb_buf_free(&v);
	return rc;
}

/* Runme's JSON object, read as a YAML flow mapping. */
static int parse_json(const char *info, const char *brace, const char *end, const char *file,
		      int line, int col, rb_info *out, rb_error *err)
{
	int rc = -1;
	yaml_parser_t parser;
	yaml_document_t doc;
	int have_parser = 0, have_doc = 0;
	int bcol = col + (int)(brace - info);

	if (!yaml_parser_initialize(&parser)) {
		rb_error_set(err, RB_EXIT_USAGE, file, line, bcol, "cannot initialise the YAML parser");
		goto done;
	}
	have_parser = 1;
	yaml_parser_set_input_string(&parser, (const unsigned char *)brace,
				     (size_t)(end - brace) + 1);
	if (!yaml_parser_load(&parser, &doc)) {
		rb_error_set(err, RB_EXIT_USAGE, file, line, bcol + (int)parser.problem_mark.column,
			     "invalid JSON attributes: %s", parser.problem ? parser.problem : "syntax error");
		goto done;
	}
	have_doc = 1;
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root || root->type != YAML_MAPPING_NODE) {
		rb_error_set(err, RB_EXIT_USAGE, file, line, bcol, "attributes must be an object");
		goto done;
	}
	for (yaml_node_pair_t *pair = root->data.mapping.pairs.start;
	     pair < root->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(&doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(&doc, pair->value);
		int kcol = bcol + (int)k->start_mark.column;
		if (k->type != YAML_SCALAR_NODE || v->type != YAML_SCALAR_NODE) {
			rb_error_set(err, RB_EXIT_USAGE, file, line, kcol,
				     "attribute values must be strings, numbers or booleans");
			goto done;
		}
		const char *key = (const char *)k->data.scalar.value;
		for (size_t i = 0; i < out->nattrs; i++) {
			if (!strcmp(out->attrs[i].key, key)) {
				rb_error_set(err, RB_EXIT_USAGE, file, line, kcol,
					     "attribute '%s' given twice", key);
				goto done;
			}
		}
		info_add(out, key, k->data.scalar.length,
			 rb_xstrndup((const char *)v->data.scalar.value, v->data.scalar.length),
			 line, kcol);
	}
	rc = 0;
done:
	if (have_doc)
		yaml_document_delete(&doc);
	if (have_parser)
		yaml_parser_delete(&parser);
	return rc;
}

int rb_info_parse(const char *info, const char *file, int line, int col, rb_info *out,
		  rb_error *err)
{
	int rc = -1;
	rb_buf qual = RB_BUF_INIT;
	const char *p = info;
	memset(out, 0, sizeof *out);

	while (isspace((unsigned char)*p))
		p++;
	const char *ls = p;
	while (*p && !isspace((unsigned char)*p) && *p != '{')
		p++;
	out->lang = rb_xstrndup(ls, (size_t)(p - ls));
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '{')
			break;
		const char *ws = p;
		while (*p && !isspace((unsigned char)*p) && *p != '{')
			p++;
		if (qual.len)
			rb_buf_putc(&qual, ' ');
		rb_buf_add(&qual, ws, (size_t)(p - ws));
	}
	out->qualifier = rb_buf_detach(&qual);
	if (*p == '{') {
		const char *brace = p;
		out->brace_col = col + (int)(brace - info);
		/* The closing brace is the first one outside quotes: values may hold '}'. */
		const char *close = NULL;
		char quote = 0;
		int depth = 0;
		for (const char *t = brace; *t && !close; t++) {
			if (quote) {
				if (*t == '\\' && quote == '"' && t[1])
					t++;
				else if (*t == quote)
					quote = 0;
			} else if (*t == '"' || *t == '\'') {
				quote = *t;
			} else if (*t == '{') {
				depth++;
			} else if (*t == '}' && --depth == 0) {
				close = t;
			}
		}
		/* An unterminated quote is the better message: let the pair reader find it. */
		if (!close && quote)
			close = strrchr(brace, '}');
		if (!close) {
			rb_error_set(err, RB_EXIT_USAGE, file, line, out->brace_col,
				     "unterminated attribute list: '{' has no closing '}'");
			goto done;
		}
		for (const char *t = close + 1; *t; t++) {
			if (!isspace((unsigned char)*t)) {
				rb_error_set(err, RB_EXIT_USAGE, file, line, col + (int)(t - info),
					     "unexpected text after the attribute list");
				goto done;
			}
		}
		const char *q = brace + 1;
		while (q < close && isspace((unsigned char)*q))
			q++;
		if (q < close && *q == '"') {
			if (parse_json(info, brace, close, file, line, col, out, err) < 0)
				goto done;
		} else if (parse_pairs(info, brace + 1, close, file, line, col, out, err) < 0) {
			goto done;
		}
	}
	rc = 0;
done:
	rb_buf_free(&qual);
	if (rc < 0)
		rb_info_free(out);
	return rc;
}

void rb_info_free(rb_info *info)
{
	if (!info)
		return;
	for (size_t i = 0; i < info->nattrs; i++) {
		free(info->attrs[i].key);
		free(info->attrs[i].value);
	}
	free(info->attrs);
	free(info->lang);
	free(info->qualifier);
	memset(info, 0, sizeof *info);
}

static int valid_id(const char *s, int var)
{
	if (!*s)
		return 0;
	if (var && !(isalpha((unsigned char)*s) || *s == '_'))
		return 0;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_' || (!var && (*s == '-' || *s == '.'))))
			return 0;
	return 1;
}

/* Reads a's value by its type into *v; -1 with err when it is not one. */
static int read_value(const rb_attr_spec *spec, const rb_attr *a, const char *file, rb_attr_value *v,
		      rb_error *err)
{
	const char *t = a->value;
	int rc = 0;
	v->text = t;
	switch (spec->type) {
	case RB_ATTR_DURATION:
		/* 0 is only meaningful for lock_timeout: wait forever (docs/format.md). */
		if (rb_parse_duration(t, &v->n) < 0 || v->n < 0 || (v->n == 0 && strcmp(a->key, "lock_timeout")))
			rc = rb_error_set(err, RB_EXIT_USAGE, file, a->line, a->col,
					  "attribute '%s': '%s' is not a duration (like 30s, 5m, 250ms)", a->key, t);
		break;
	case RB_ATTR_COUNT: {
		char *end = NULL;
		long n = strtol(t, &end, 10);
		if (!*t || *end || n < 0 || n > 1000)
			rc = rb_error_set(err, RB_EXIT_USAGE, file, a->line, a->col,
					  "attribute '%s': '%s' is not a count from 0 to 1000", a->key, t);
		v->n = n;
		break;
	}
	case RB_ATTR_FLAG:
		v->flag = rb_parse_flag(t);
		if (v->flag < 0)
			rc = rb_error_set(err, RB_EXIT_USAGE, file, a->line, a->col,
					  "attribute '%s': '%s' is not true or false", a->key, t);
		break;
	case RB_ATTR_ID: {
		int var = !strcmp(a->key, "capture");
		if (!valid_id(t, var))
			rc = rb_error_set(err, RB_EXIT_USAGE, file, a->line, a->col,
					  "attribute '%s': '%s' is not a valid %s", a->key, t,
					  var ? "variable name ([A-Za-z_][A-Za-z0-9_]*)"
					      : "id (letters, digits, '_', '-', '.')");
		break;
	}
	case RB_ATTR_ROWS: {
		char *end = NULL;
		int all = !strcmp(t, "all");
		long long n = all ? -1 : strtoll(t, &end, 10);
		if (!all && (n < 1 || *end || end == t))
			rc = rb_error_set(err, RB_EXIT_USAGE, file, a->line, a->col,
					  "attribute 'rows': '%s' is not a number of rows from 1, or all", t);
		v->n = n;
		break;
	}
	case RB_ATTR_TXN:
		if (strcmp(t, "single") && strcmp(t, "none"))
			rc = rb_error_set(err, RB_EXIT_USAGE, file, a->line, a->col,
					  "attribute 'transaction' must be single or none, not '%s'", t);
		break;
	case RB_ATTR_LUA:
	case RB_ATTR_TEXT:
	case RB_ATTR_FLAG_OR_TEXT:
		if (!*t)
			rc = rb_error_set(err, RB_EXIT_USAGE, file, a->line, a->col, "attribute '%s' is empty", a->key);
		break;
	}
	return rc;
}

int rb_attr_apply(rb_step *s, const rb_attr *a, const char *file, rb_error *err)
{
	const rb_attr_spec *spec = rb_attr_lookup(a->key);
	rb_attr_value v = {NULL, 0, 0};
	int rc = 0;
	if (!spec) {
		const char *hint = rb_attr_suggest(a->key);
		if (rb_attr_is_runme(a->key))
			rc = runme_apply(s, a, file, err);
		else
			rc = rb_error_set(err, RB_EXIT_USAGE, file, a->line, a->col, "unknown attribute '%s'%s%s%s",
					  a->key, hint ? " (did you mean '" : "", hint ? hint : "",
					  hint ? "'?)" : "");
	} else if (read_value(spec, a, file, &v, err) == 0) {
		if (spec->kinds && !(spec->kinds & RB_ATTR_KIND(s->kind)))
			rc = rb_error_set(err, RB_EXIT_USAGE, file, a->line, a->col,
					  "attribute '%s' applies only to %s steps", a->key, spec->only);
		else
			spec->set(s, a, &v);
	} else {
		rc = -1;
	}
	return rc;
}
