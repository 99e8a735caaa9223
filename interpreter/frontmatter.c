/*
 * frontmatter.c - YAML front matter through libyaml's document API.
 *
 * libyaml marks are 0-based and relative to the YAML text, which starts on
 * the line after the opening `---`; positions are shifted to runbook lines.
 */
#include "frontmatter.h"
#include "requires.h"
#include "attrs.h"
#include "inputs.h"
#include "interp.h"
#include "vars.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

const char *const rb_frontmatter_keys[] = {
	"title", "database", "databases", "shell", "env", "secrets", "not_secret", "timeout",
	"on_failure", "manual", "audit", "connect_timeout", "lock_timeout", "lock", "undo", "console",
	"inputs", "runme", "inventory", "requires", NULL
};

/* Keys other tools write in the same front matter: runbook ignores them. */
static const char *const other_tools[][2] = {
	{"weight", "Hugo"}, {"draft", "Hugo"}, {"date", "Hugo"}, {"tags", "Hugo"}, {"categories", "Hugo"},
	{"slug", "Hugo"}, {"aliases", "Hugo"}, {"description", "Hugo"}, {"summary", "Hugo"},
	{"layout", "Hugo or Jekyll"}, {"type", "Hugo"}, {"menu", "Hugo"}, {"toc", "Hugo"}, {"linkTitle", "Hugo"},
	{"permalink", "Jekyll"}, {"sidebar_position", "Docusaurus"},
	{"sidebar_label", "Docusaurus"}, {"id", "Docusaurus"}, {"hide_title", "Docusaurus"},
	{"author", "documentation tools"}, {"authors", "documentation tools"}, {"lastmod", "documentation tools"},
	{"keywords", "documentation tools"},
	{NULL, NULL}
};

void rb_frontmatter_unknown(const char *key, const char **suggest, const char **tool)
{
	size_t best = 3;
	*suggest = *tool = NULL;
	for (size_t i = 0; other_tools[i][0] && !*tool; i++)
		if (!strcmp(key, other_tools[i][0]))
			*tool = other_tools[i][1];
	for (const char *const *k = rb_frontmatter_keys; *k && !*tool; k++) {
		size_t d = rb_edit_distance(key, *k);
		if (d < best) {
			best = d;
			*suggest = *k;
		}
	}
}

/* Length of the line starting at p (without its newline). */
static size_t line_len(const char *p, const char *end)
{
	const char *q = p;
	while (q < end && *q != '\n')
		q++;
	return (size_t)(q - p);
}

static int is_marker(const char *p, size_t n, const char *marker)
{
	size_t m = strlen(marker);
	if (n < m || strncmp(p, marker, m) != 0)
		return 0;
	for (size_t i = m; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r')
			return 0;
	return 1;
}

long rb_frontmatter_locate(const char *src, size_t len, const char *file, rb_diags *diags)
{
	const char *end = src + len;
	size_t n = line_len(src, end);
	if (!is_marker(src, n, "---") || src + n >= end)
		return 0;
	const char *p = src + n + 1;
	while (p < end) {
		size_t m = line_len(p, end);
		if (is_marker(p, m, "---") || is_marker(p, m, "...")) {
			const char *after = p + m;
			if (after < end)
				after++;
			return (long)(after - src);
		}
		p += m + (p + m < end ? 1 : 0);
	}
	rb_diags_add(diags, RB_DIAG_ERROR, file, 1, 1,
		     "front matter is not closed: add a line '---' after the YAML");
	return -1;
}

typedef struct {
	yaml_document_t *doc;
	const char *file;
	rb_diags *diags;
	int errors;
} fm_ctx;

static int node_line(yaml_node_t *n)
{
	return (int)n->start_mark.line + 2;
}

static int node_col(yaml_node_t *n)
{
	return (int)n->start_mark.column + 1;
}

static void fm_error(fm_ctx *c, yaml_node_t *n, const char *msg, const char *key)
{
	rb_diags_add(c->diags, RB_DIAG_ERROR, c->file, node_line(n), node_col(n), msg, key);
	c->errors++;
}

static char *scalar(yaml_node_t *n)
{
	return rb_xstrndup((const char *)n->data.scalar.value, n->data.scalar.length);
}

static int want_scalar(fm_ctx *c, yaml_node_t *n, const char *key)
{
	if (n->type == YAML_SCALAR_NODE)
		return 1;
	fm_error(c, n, "front matter '%s' must be a single value", key);
	return 0;
}

static void set_pos(rb_pos_str *dst, yaml_node_t *n)
{
	dst->value = scalar(n);
	dst->line = node_line(n);
	dst->col = node_col(n);
}

/* A mapping of scalars to scalars (env, databases). */
static void read_map(fm_ctx *c, yaml_node_t *n, const char *key, rb_kv **out, size_t *count)
{
	if (n->type != YAML_MAPPING_NODE) {
		fm_error(c, n, "front matter '%s' must be a mapping of names to values", key);
		return;
	}
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
		if (k->type != YAML_SCALAR_NODE || v->type != YAML_SCALAR_NODE) {
			fm_error(c, k, "front matter '%s' entries must be NAME: value", key);
			continue;
		}
		*out = rb_xrealloc(*out, (*count + 1) * sizeof **out);
		rb_kv *kv = &(*out)[(*count)++];
		kv->key = scalar(k);
		kv->value = scalar(v);
		kv->line = node_line(k);
		kv->col = node_col(k);
	}
}

static void read_list(fm_ctx *c, yaml_node_t *n, const char *key, rb_pos_str **out, size_t *count);

/* NAME: {command|file|env: VALUE} (or NAME alone: null) of secrets:, a name and its source. */
static void read_secret(fm_ctx *c, yaml_node_t *k, yaml_node_t *v, rb_front_matter *fm)
{
	if (k->type != YAML_SCALAR_NODE) {
		fm_error(c, k, "front matter '%s' names must be single values", "secrets");
		return;
	}
	fm->secrets = rb_xrealloc(fm->secrets, (fm->nsecrets + 1) * sizeof *fm->secrets);
	set_pos(&fm->secrets[fm->nsecrets++], k);
	if (v->type == YAML_SCALAR_NODE && (!v->data.scalar.length || !strcmp((const char *)v->data.scalar.value, "null") ||
					    !strcmp((const char *)v->data.scalar.value, "~")))
		return; /* a name only */
	yaml_node_pair_t *p = v->type == YAML_MAPPING_NODE ? v->data.mapping.pairs.start : NULL;
	yaml_node_t *sk = p ? yaml_document_get_node(c->doc, p->key) : NULL, *sv = p ? yaml_document_get_node(c->doc, p->value) : NULL;
	const char *kind = sk && sk->type == YAML_SCALAR_NODE ? (const char *)sk->data.scalar.value : "";
	if (!p || v->data.mapping.pairs.top - p != 1 || sv->type != YAML_SCALAR_NODE || !sv->data.scalar.length ||
	    (strcmp(kind, "command") && strcmp(kind, "file") && strcmp(kind, "env"))) {
		fm_error(c, v, "front matter '%s': a secret's source is one of {command: CMD}, {file: PATH}, {env: NAME}",
			 "secrets");
		return;
	}
	fm->secret_sources = rb_xrealloc(fm->secret_sources, (fm->nsecret_sources + 1) * sizeof *fm->secret_sources);
	rb_secret_source *s = &fm->secret_sources[fm->nsecret_sources++];
	s->name = scalar(k);
	s->kind = !strcmp(kind, "command") ? RB_SECRET_COMMAND : !strcmp(kind, "file") ? RB_SECRET_FILE : RB_SECRET_ENV;
	s->from = scalar(sv);
	s->line = node_line(sv);
	s->col = node_col(sv);
}

/* secrets: a list of names (or of NAME: SOURCE mappings), one name, or a mapping of names to sources. */
static void read_secrets(fm_ctx *c, yaml_node_t *n, rb_front_matter *fm)
{
	if (n->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++)
			read_secret(c, yaml_document_get_node(c->doc, p->key), yaml_document_get_node(c->doc, p->value), fm);
		return;
	}
	if (n->type == YAML_SEQUENCE_NODE)
		for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
			yaml_node_t *v = yaml_document_get_node(c->doc, *i);
			if (v->type == YAML_MAPPING_NODE) {
				read_secrets(c, v, fm);
			} else if (v->type == YAML_SCALAR_NODE) {
				fm->secrets = rb_xrealloc(fm->secrets, (fm->nsecrets + 1) * sizeof *fm->secrets);
				set_pos(&fm->secrets[fm->nsecrets++], v);
			} else {
				fm_error(c, v, "front matter '%s' items must be names or NAME: SOURCE", "secrets");
			}
		}
	else
		read_list(c, n, "secrets", &fm->secrets, &fm->nsecrets);
}

/* A list of scalars, or one scalar (secrets, manual). */
static void read_list(fm_ctx *c, yaml_node_t *n, const char *key, rb_pos_str **out, size_t *count)
{
	if (n->type == YAML_SCALAR_NODE) {
		*out = rb_xrealloc(*out, (*count + 1) * sizeof **out);
		set_pos(&(*out)[(*count)++], n);
		return;
	}
	if (n->type != YAML_SEQUENCE_NODE) {
		fm_error(c, n, "front matter '%s' must be a list", key);
		return;
	}
	for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top; i++) {
		yaml_node_t *v = yaml_document_get_node(c->doc, *i);
		if (v->type != YAML_SCALAR_NODE) {
			fm_error(c, v, "front matter '%s' items must be single values", key);
			continue;
		}
		*out = rb_xrealloc(*out, (*count + 1) * sizeof **out);
		set_pos(&(*out)[(*count)++], v);
	}
}

/* One field of an input: description, default, choices, pattern, secret, required. */
static void input_field(fm_ctx *c, rb_input *in, const char *f, yaml_node_t *k, yaml_node_t *v, int *has_required)
{
	int flag = v->type == YAML_SCALAR_NODE ? rb_parse_flag((const char *)v->data.scalar.value) : -1;
	if (!strcmp(f, "choices")) {
		rb_pos_str *l = NULL;
		size_t n = 0;
		read_list(c, v, "choices", &l, &n);
		in->choices = rb_xcalloc(n + 1, sizeof *in->choices);
		for (size_t i = 0; i < n; i++)
			in->choices[in->nchoices++] = l[i].value;
		free(l);
	} else if (!strcmp(f, "secret") || !strcmp(f, "required")) {
		if (flag < 0)
			fm_error(c, v, "input field '%s' must be true or false", f);
		else if (!strcmp(f, "secret"))
			in->secret = flag;
		else
			in->required = flag;
		*has_required |= !strcmp(f, "required");
	} else if (v->type != YAML_SCALAR_NODE) {
		fm_error(c, v, "input field '%s' must be a single value", f);
	} else if (!strcmp(f, "description")) {
		in->description = scalar(v);
	} else if (!strcmp(f, "default")) {
		in->def = scalar(v);
	} else if (!strcmp(f, "pattern")) {
		set_pos(&in->pattern, v);
	} else if (strcmp(f, "name")) {
		fm_error(c, k, "unknown input field '%s' (name, description, default, choices, pattern, secret, required)", f);
	}
}

/* A declared input's pattern compiles and its default is one of its values. */
static void check_input(fm_ctx *c, const rb_input *in, yaml_node_t *at)
{
	char *why = NULL;
	if (in->pattern.value && rb_input_pattern_valid(in->pattern.value, &why) < 0) {
		rb_diags_add(c->diags, RB_DIAG_ERROR, c->file, in->pattern.line, in->pattern.col,
			     "input '%s': '%s' is not a Lua pattern: %s", in->name ? in->name : "?", in->pattern.value, why);
		c->errors++;
	} else if (in->def && *in->def && rb_input_check(in, in->def, &why) < 0) {
		rb_diags_add(c->diags, RB_DIAG_ERROR, c->file, node_line(at), node_col(at),
			     "input '%s': its default '%s' is refused: %s", in->name ? in->name : "?", in->def, why);
		c->errors++;
	}
	free(why);
}

/* One input: NAME: {fields} (a mapping entry), or {name: NAME, fields} (a list item). */
static void read_input(fm_ctx *c, rb_front_matter *fm, yaml_node_t *name, yaml_node_t *spec)
{
	int has_required = 0;
	if (spec->type != YAML_MAPPING_NODE && !(spec->type == YAML_SCALAR_NODE && name)) {
		fm_error(c, spec, "front matter '%s' entries must be mappings of fields", "inputs");
		return;
	}
	fm->inputs = rb_xrealloc(fm->inputs, (fm->ninputs + 1) * sizeof *fm->inputs);
	rb_input *in = &fm->inputs[fm->ninputs++];
	memset(in, 0, sizeof *in);
	yaml_node_t *at = name ? name : spec;
	in->line = node_line(at);
	in->col = node_col(at);
	if (name)
		in->name = scalar(name);
	if (spec->type == YAML_SCALAR_NODE) /* NAME: description */
		in->description = scalar(spec);
	for (yaml_node_pair_t *p = spec->type == YAML_MAPPING_NODE ? spec->data.mapping.pairs.start : NULL;
	     p && p < spec->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
		const char *f = k->type == YAML_SCALAR_NODE ? (const char *)k->data.scalar.value : "";
		if (!strcmp(f, "name") && !in->name && v->type == YAML_SCALAR_NODE) {
			in->name = scalar(v);
			in->line = node_line(v);
			in->col = node_col(v);
		}
		input_field(c, in, f, k, v, &has_required);
	}
	if (!has_required)
		in->required = in->def == NULL;
	if (!in->name || !rb_var_name_valid(in->name))
		fm_error(c, at, "an input needs a name that is a variable name ([A-Za-z_][A-Za-z0-9_]*)%s", "");
	if (in->choices && in->pattern.value)
		fm_error(c, at, "input '%s': give choices or a pattern, not both", in->name ? in->name : "?");
	check_input(c, in, at);
}

/* inputs: a mapping of NAME to fields, or a list of mappings with name:. */
static void read_inputs(fm_ctx *c, rb_front_matter *fm, yaml_node_t *v)
{
	if (v->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++)
			read_input(c, fm, yaml_document_get_node(c->doc, p->key), yaml_document_get_node(c->doc, p->value));
	} else if (v->type == YAML_SEQUENCE_NODE) {
		for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++)
			read_input(c, fm, NULL, yaml_document_get_node(c->doc, *i));
	} else {
		fm_error(c, v, "front matter '%s' must be a mapping of names to fields, or a list", "inputs");
	}
}

static void read_key(fm_ctx *c, rb_front_matter *fm, const char *key, yaml_node_t *k, yaml_node_t *v)
{
	if (!strcmp(key, "title")) {
		if (want_scalar(c, v, key))
			fm->title = scalar(v);
	} else if (!strcmp(key, "database")) {
		if (want_scalar(c, v, key))
			set_pos(&fm->database, v);
	} else if (!strcmp(key, "databases")) {
		read_map(c, v, key, &fm->databases, &fm->ndatabases);
	} else if (!strcmp(key, "shell")) {
		if (want_scalar(c, v, key)) {
			fm->shell = scalar(v);
			const rb_interp *in = rb_interp_find(fm->shell);
			if (!in || !in->shell)
				fm_error(c, v, "front matter '%s' must be a shell: bash, sh, dash, ksh, zsh or fish", key);
		}
	} else if (!strcmp(key, "env")) {
		read_map(c, v, key, &fm->env, &fm->nenv);
	} else if (!strcmp(key, "secrets")) {
		read_secrets(c, v, fm);
	} else if (!strcmp(key, "requires")) {
		if (v->type != YAML_MAPPING_NODE) {
			fm_error(c, v, "front matter '%s' must be a mapping (tools, env, postgres)", key);
			return;
		}
		for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
			yaml_node_t *rk = yaml_document_get_node(c->doc, p->key), *rv = yaml_document_get_node(c->doc, p->value);
			const char *rn = rk->type == YAML_SCALAR_NODE ? (const char *)rk->data.scalar.value : "";
			if (!strcmp(rn, "tools")) {
				read_list(c, rv, "requires.tools", &fm->req_tools, &fm->nreq_tools);
			} else if (!strcmp(rn, "env")) {
				read_list(c, rv, "requires.env", &fm->req_env, &fm->nreq_env);
			} else if (!strcmp(rn, "postgres") && rv->type == YAML_SCALAR_NODE) {
				free(fm->req_postgres.value);
				set_pos(&fm->req_postgres, rv);
				if (rb_pg_version_requirement(fm->req_postgres.value, NULL, NULL) < 0)
					fm_error(c, rv, "front matter '%s.postgres' must be a version, \">= 14\" or \"15\"", key);
			} else {
				fm_error(c, rk, "front matter '%s' takes tools:, env: and postgres:", key);
			}
		}
	} else if (!strcmp(key, "not_secret")) {
		read_list(c, v, key, &fm->not_secret, &fm->nnot_secret);
	} else if (!strcmp(key, "timeout")) {
		if (want_scalar(c, v, key) &&
		    rb_parse_duration((const char *)v->data.scalar.value, &fm->timeout_ms) < 0)
			fm_error(c, v, "front matter '%s' is not a duration (like 30s, 5m, 1h)", key);
	} else if (!strcmp(key, "connect_timeout") || !strcmp(key, "lock_timeout")) {
		int64_t *dst = !strcmp(key, "connect_timeout") ? &fm->connect_timeout_ms : &fm->lock_timeout_ms;
		if (want_scalar(c, v, key) && rb_parse_duration((const char *)v->data.scalar.value, dst) < 0)
			fm_error(c, v, "front matter '%s' is not a duration (like 500ms, 5s, 1m)", key);
	} else if (!strcmp(key, "inventory")) {
		if (want_scalar(c, v, key)) {
			free(fm->inventory.value);
			set_pos(&fm->inventory, v);
		}
	} else if (!strcmp(key, "lock")) {
		if (want_scalar(c, v, key)) {
			free(fm->lock);
			fm->lock = scalar(v);
			fm->lock_off = !strcmp(fm->lock, "false") || !strcmp(fm->lock, "no") || !strcmp(fm->lock, "off");
		}
	} else if (!strcmp(key, "undo")) {
		if (want_scalar(c, v, key)) {
			const char *u = (const char *)v->data.scalar.value;
			fm->undo_required = !strcmp(u, "required");
			if (strcmp(u, "required") && strcmp(u, "optional"))
				fm_error(c, v, "front matter '%s' must be required or optional", key);
		}
	} else if (!strcmp(key, "console")) {
		if (want_scalar(c, v, key)) {
			const char *u = (const char *)v->data.scalar.value;
			fm->console_run = !strcmp(u, "run");
			if (strcmp(u, "run") && strcmp(u, "doc"))
				fm_error(c, v, "front matter '%s' must be run or doc", key);
		}
	} else if (!strcmp(key, "inputs")) {
		read_inputs(c, fm, v);
	} else if (!strcmp(key, "runme")) {
		; /* Runme's own (id, version): accepted, ignored (docs/format.md, "Differences from Runme") */
	} else if (!strcmp(key, "on_failure")) {
		if (want_scalar(c, v, key))
			set_pos(&fm->on_failure, v);
	} else if (!strcmp(key, "manual")) {
		read_list(c, v, key, &fm->manual, &fm->nmanual);
	} else if (!strcmp(key, "audit")) {
		if (v->type != YAML_MAPPING_NODE) {
			fm_error(c, v, "front matter '%s' must be a mapping (repo, ref, remote, sign, key)", key);
			return;
		}
		for (yaml_node_pair_t *p = v->data.mapping.pairs.start; p < v->data.mapping.pairs.top; p++) {
			yaml_node_t *ak = yaml_document_get_node(c->doc, p->key);
			yaml_node_t *av = yaml_document_get_node(c->doc, p->value);
			const char *an = ak->type == YAML_SCALAR_NODE ? (const char *)ak->data.scalar.value : "";
			char **dst = !strcmp(an, "repo") ? &fm->audit_repo : !strcmp(an, "ref") ? &fm->audit_ref
				     : !strcmp(an, "remote") ? &fm->audit_remote : !strcmp(an, "sign") ? &fm->audit_sign
				     : !strcmp(an, "key") ? &fm->audit_key : NULL;
			if (av->type != YAML_SCALAR_NODE || !dst) {
				fm_error(c, ak, "front matter '%s' takes only repo:, ref:, remote:, sign: and key: values", key);
				continue;
			}
			if (dst == &fm->audit_sign && strcmp((const char *)av->data.scalar.value, "ssh")) {
				fm_error(c, av, "front matter %s.sign: 'ssh' is the one way of signing (git's SSH signatures)", key);
				continue;
			}
			free(*dst);
			*dst = scalar(av);
		}
	} else {
		fm->unknown = rb_xrealloc(fm->unknown, (fm->nunknown + 1) * sizeof *fm->unknown);
		rb_kv *kv = &fm->unknown[fm->nunknown++];
		kv->key = rb_xstrdup(key);
		kv->value = NULL;
		kv->line = node_line(k);
		kv->col = node_col(k);
	}
}

int rb_frontmatter_parse(const char *src, size_t span, const char *file, rb_front_matter *fm,
			 rb_diags *diags)
{
	int rc = -1;
	yaml_parser_t parser;
	yaml_document_t doc;
	int have_parser = 0, have_doc = 0;
	fm_ctx c = {&doc, file, diags, 0};

	memset(fm, 0, sizeof *fm);
	fm->timeout_ms = fm->connect_timeout_ms = fm->lock_timeout_ms = -1;
	fm->present = 1;
	fm->line = 1;

	/* The YAML text: from after the first line to before the closing marker line. */
	const char *body = memchr(src, '\n', span);
	body = body ? body + 1 : src + span;
	const char *stop = src + span;
	if (stop > body && stop[-1] == '\n')
		stop--;
	while (stop > body && stop[-1] != '\n')
		stop--;

	if (!yaml_parser_initialize(&parser)) {
		rb_diags_add(diags, RB_DIAG_ERROR, file, 1, 1, "cannot initialise the YAML parser");
		goto done;
	}
	have_parser = 1;
	yaml_parser_set_input_string(&parser, (const unsigned char *)body, (size_t)(stop - body));
	if (!yaml_parser_load(&parser, &doc)) {
		yaml_mark_t m = parser.problem_mark;
		if (parser.context)
			rb_diags_add(diags, RB_DIAG_ERROR, file, (int)m.line + 2, (int)m.column + 1,
				     "invalid front matter: %s %s started at line %d, column %d",
				     parser.problem ? parser.problem : "syntax error", parser.context,
				     (int)parser.context_mark.line + 2, (int)parser.context_mark.column + 1);
		else
			rb_diags_add(diags, RB_DIAG_ERROR, file, (int)m.line + 2, (int)m.column + 1,
				     "invalid front matter: %s",
				     parser.problem ? parser.problem : "syntax error");
		goto done;
	}
	have_doc = 1;
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root) {
		rc = 0; /* empty front matter */
		goto done;
	}
	if (root->type != YAML_MAPPING_NODE) {
		fm_error(&c, root, "front matter must be a mapping of keys to values%s", "");
		goto done;
	}
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(&doc, p->key);
		yaml_node_t *v = yaml_document_get_node(&doc, p->value);
		if (k->type != YAML_SCALAR_NODE) {
			fm_error(&c, k, "front matter keys must be plain names%s", "");
			continue;
		}
		const char *name = (const char *)k->data.scalar.value;
		int twice = 0;
		for (yaml_node_pair_t *q = root->data.mapping.pairs.start; q < p && !twice; q++) {
			yaml_node_t *qk = yaml_document_get_node(&doc, q->key);
			twice = qk->type == YAML_SCALAR_NODE && !strcmp((const char *)qk->data.scalar.value, name);
		}
		if (twice) {
			fm_error(&c, k, "front matter key '%s' given twice", name);
			continue;
		}
		read_key(&c, fm, name, k, v);
	}
	rc = c.errors ? -1 : 0;
done:
	if (have_doc)
		yaml_document_delete(&doc);
	if (have_parser)
		yaml_parser_delete(&parser);
	return rc;
}

static void free_kvs(rb_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		free(kv[i].value);
	}
	free(kv);
}

static void free_list(rb_pos_str *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i].value);
	free(l);
}

void rb_frontmatter_free(rb_front_matter *fm)
{
	if (!fm)
		return;
	free(fm->title);
	free(fm->database.value);
	free_kvs(fm->databases, fm->ndatabases);
	free(fm->shell);
	free_kvs(fm->env, fm->nenv);
	free_list(fm->secrets, fm->nsecrets);
	free_list(fm->req_tools, fm->nreq_tools);
	free_list(fm->req_env, fm->nreq_env);
	free(fm->req_postgres.value);
	for (size_t i = 0; i < fm->nsecret_sources; i++) {
		free(fm->secret_sources[i].name);
		free(fm->secret_sources[i].from);
	}
	free(fm->secret_sources);
	free_list(fm->not_secret, fm->nnot_secret);
	free(fm->on_failure.value);
	free_list(fm->manual, fm->nmanual);
	free(fm->audit_repo);
	free(fm->audit_ref);
	free(fm->audit_remote);
	free(fm->audit_sign);
	free(fm->audit_key);
	free(fm->lock);
	free(fm->inventory.value);
	free_kvs(fm->unknown, fm->nunknown);
	for (size_t i = 0; i < fm->ninputs; i++) {
		rb_input *in = &fm->inputs[i];
		free(in->name);
		free(in->description);
		free(in->def);
		for (size_t k = 0; k < in->nchoices; k++)
			free(in->choices[k]);
		free(in->choices);
		free(in->pattern.value);
	}
	free(fm->inputs);
	memset(fm, 0, sizeof *fm);
	fm->timeout_ms = fm->connect_timeout_ms = fm->lock_timeout_ms = -1;
}
