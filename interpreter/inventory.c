/*
 * inventory.c - targets from an inventory file (libyaml) or a matrix, and
 * their selection.
 */
#define _GNU_SOURCE
#include "inventory.h"
#include "db.h"
#include "gitstore.h"
#include "redact.h"
#include "vars.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

typedef struct {
	yaml_document_t *doc;
	const char *file;
	rb_diags *diags;
	int errors;
} inv_ctx;

__attribute__((format(printf, 3, 4))) static void inv_error(inv_ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	rb_buf b = RB_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	rb_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	rb_diags_add(c->diags, RB_DIAG_ERROR, c->file, (int)n->start_mark.line + 1, (int)n->start_mark.column + 1, "%s",
		     rb_buf_cstr(&b));
	rb_buf_free(&b);
	c->errors++;
}

static yaml_node_t *node(inv_ctx *c, int id)
{
	return yaml_document_get_node(c->doc, id);
}

static const char *text(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

int rb_target_name_ok(const char *name)
{
	if (!name || !*name)
		return 0;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' ||
		      *p == '_' || *p == '-'))
			return 0;
	return 1;
}

/* 1 when value is one reference to the environment, "${NAME}", and nothing else. */
static int just_a_reference(const char *value)
{
	size_t n = strlen(value);
	if (n < 4 || strncmp(value, "${", 2) || value[n - 1] != '}')
		return 0;
	char *name = rb_xstrndup(value + 2, n - 3);
	int ok = rb_var_name_valid(name);
	free(name);
	return ok;
}

static void target_free(rb_target *t)
{
	free(t->name);
	for (size_t i = 0; i < t->nvars; i++) {
		free(t->vars[i].key);
		free(t->vars[i].value);
	}
	free(t->vars);
	free(t->db);
}

static void add_var(rb_target *t, const char *key, const char *value)
{
	t->vars = rb_xrealloc(t->vars, (t->nvars + 1) * sizeof *t->vars);
	t->vars[t->nvars].key = rb_xstrdup(key);
	t->vars[t->nvars].value = rb_xstrdup(value);
	t->nvars++;
}

/* One entry of targets: (k: its name, v: its mapping, or an empty value). */
static void read_target(inv_ctx *c, rb_inventory *inv, yaml_node_t *k, yaml_node_t *v)
{
	const char *name = text(k);
	if (!rb_target_name_ok(name)) {
		inv_error(c, k, "a target's name is letters, digits, '.', '_' and '-': '%s'", name ? name : "(not a name)");
		return;
	}
	if (rb_inventory_find(inv, name)) {
		inv_error(c, k, "target '%s' is defined twice", name);
		return;
	}
	int empty = v->type == YAML_SCALAR_NODE && (!*text(v) || !strcmp(text(v), "~") || !strcmp(text(v), "null"));
	if (!empty && v->type != YAML_MAPPING_NODE) {
		inv_error(c, v, "target '%s' must be a mapping of variables (and db:)", name);
		return;
	}
	rb_target t;
	memset(&t, 0, sizeof t);
	t.name = rb_xstrdup(name);
	t.line = (int)k->start_mark.line + 1;
	t.col = (int)k->start_mark.column + 1;
	for (yaml_node_pair_t *p = empty ? NULL : v->data.mapping.pairs.start; p && p < v->data.mapping.pairs.top; p++) {
		yaml_node_t *vk = node(c, p->key), *vv = node(c, p->value);
		const char *key = text(vk), *value = text(vv);
		if (!key || !value) {
			inv_error(c, key ? vv : vk, "target '%s': each entry is NAME: value (a single value)", name);
			continue;
		}
		int twice = !strcmp(key, "db") ? t.db != NULL : 0;
		for (size_t i = 0; i < t.nvars && !twice; i++)
			twice = !strcmp(t.vars[i].key, key);
		if (twice) {
			inv_error(c, vk, "target '%s': '%s' is given twice", name, key);
			continue;
		}
		if (!strcmp(key, "db")) {
			char *pw = rb_dsn_password(value);
			if (pw && !just_a_reference(pw))
				inv_error(c, vv, "target '%s': the db holds a password: an inventory names secrets, "
					  "it does not hold them (write password=${NAME} and set NAME in the environment)", name);
			free(pw);
			t.db = rb_xstrdup(value);
		} else if (!rb_var_name_valid(key)) {
			inv_error(c, vk, "target '%s': '%s' is not a variable name (letters, digits, '_')", name, key);
		} else if (rb_redact_name_is_secret(key) && *value && !just_a_reference(value)) {
			inv_error(c, vv, "target '%s': %s looks like a secret and holds a value: an inventory names "
				  "secrets, it does not hold them (write ${NAME} and set NAME in the environment)", name, key);
		} else {
			add_var(&t, key, value);
		}
	}
	inv->targets = rb_xrealloc(inv->targets, (inv->count + 1) * sizeof *inv->targets);
	inv->targets[inv->count++] = t;
}

static void read_group(inv_ctx *c, rb_inventory *inv, yaml_node_t *k, yaml_node_t *v)
{
	const char *name = text(k);
	if (!rb_target_name_ok(name)) {
		inv_error(c, k, "a group's name is letters, digits, '.', '_' and '-': '%s'", name ? name : "(not a name)");
		return;
	}
	for (size_t i = 0; i < inv->ngroups; i++)
		if (!strcmp(inv->groups[i].name, name)) {
			inv_error(c, k, "group '%s' is defined twice", name);
			return;
		}
	if (rb_inventory_find(inv, name)) {
		inv_error(c, k, "group '%s' has a target's name", name);
		return;
	}
	if (v->type != YAML_SEQUENCE_NODE) {
		inv_error(c, v, "group '%s' must be a list of target names", name);
		return;
	}
	rb_target_group g;
	memset(&g, 0, sizeof g);
	g.name = rb_xstrdup(name);
	g.line = (int)k->start_mark.line + 1;
	g.col = (int)k->start_mark.column + 1;
	for (yaml_node_item_t *i = v->data.sequence.items.start; i < v->data.sequence.items.top; i++) {
		yaml_node_t *m = node(c, *i);
		const char *member = text(m);
		if (!member || !rb_inventory_find(inv, member)) {
			inv_error(c, m, "group '%s': '%s' is not a target of this inventory", name,
				  member ? member : "(not a name)");
			continue;
		}
		g.members = rb_xrealloc(g.members, (g.count + 1) * sizeof *g.members);
		g.members[g.count++] = rb_xstrdup(member);
	}
	inv->groups = rb_xrealloc(inv->groups, (inv->ngroups + 1) * sizeof *inv->groups);
	inv->groups[inv->ngroups++] = g;
}

/* The git blob id of data: what `git hash-object FILE` says. Caller frees. */
static char *blob_id(const char *data, size_t len)
{
	char hex[41];
	rb_gitstore_hash(data, len, hex);
	return rb_xstrdup(hex);
}

int rb_inventory_load(const char *path, rb_inventory *inv, rb_diags *d)
{
	int rc = -1, have_parser = 0, have_doc = 0;
	char *src = NULL;
	size_t len = 0;
	rb_error err = RB_ERROR_INIT;
	yaml_parser_t parser;
	yaml_document_t doc;
	inv_ctx c = {&doc, path, d, 0};
	char *abs = realpath(path, NULL);
	inv->path = rb_xstrdup(path);
	inv->abs_path = abs ? abs : rb_xstrdup(path);
	if (rb_read_file(path, &src, &len, &err) < 0) {
		rb_diags_add(d, RB_DIAG_ERROR, path, 0, 0, "cannot read the inventory: %s", err.message);
		goto done;
	}
	inv->hash = blob_id(src, len);
	if (!yaml_parser_initialize(&parser)) {
		rb_diags_add(d, RB_DIAG_ERROR, path, 1, 1, "cannot initialise the YAML parser");
		goto done;
	}
	have_parser = 1;
	yaml_parser_set_input_string(&parser, (const unsigned char *)src, len);
	if (!yaml_parser_load(&parser, &doc)) {
		rb_diags_add(d, RB_DIAG_ERROR, path, (int)parser.problem_mark.line + 1, (int)parser.problem_mark.column + 1,
			     "invalid inventory: %s", parser.problem ? parser.problem : "syntax error");
		goto done;
	}
	have_doc = 1;
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root || root->type != YAML_MAPPING_NODE) {
		rb_diags_add(d, RB_DIAG_ERROR, path, 1, 1, "an inventory is a mapping: targets: (and groups:)");
		goto done;
	}
	yaml_node_t *targets = NULL, *groups = NULL;
	for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top; p++) {
		yaml_node_t *k = node(&c, p->key), *v = node(&c, p->value);
		const char *key = text(k);
		if (key && !strcmp(key, "targets") && !targets)
			targets = v;
		else if (key && !strcmp(key, "groups") && !groups)
			groups = v;
		else
			inv_error(&c, k, "unknown inventory key '%s' (expected targets: and groups:)", key ? key : "?");
	}
	if (!targets || targets->type != YAML_MAPPING_NODE) {
		if (targets)
			inv_error(&c, targets, "targets: must be a mapping of target names to their variables%s", "");
		else
			rb_diags_add(d, RB_DIAG_ERROR, path, 1, 1, "the inventory has no targets:");
		goto done;
	}
	for (yaml_node_pair_t *p = targets->data.mapping.pairs.start; p < targets->data.mapping.pairs.top; p++)
		read_target(&c, inv, node(&c, p->key), node(&c, p->value));
	if (groups && groups->type != YAML_MAPPING_NODE)
		inv_error(&c, groups, "groups: must be a mapping of group names to lists of targets%s", "");
	else
		for (yaml_node_pair_t *p = groups ? groups->data.mapping.pairs.start : NULL;
		     p && p < groups->data.mapping.pairs.top; p++)
			read_group(&c, inv, node(&c, p->key), node(&c, p->value));
	rc = c.errors ? -1 : 0;
done:
	if (have_doc)
		yaml_document_delete(&doc);
	if (have_parser)
		yaml_parser_delete(&parser);
	rb_error_clear(&err);
	free(src);
	return rc;
}

int rb_inventory_matrix(char *const *axes, size_t naxes, rb_inventory *inv, rb_error *err)
{
	int rc = -1;
	char **names = rb_xcalloc(naxes + 1, sizeof *names);
	char ***values = rb_xcalloc(naxes + 1, sizeof *values);
	size_t *counts = rb_xcalloc(naxes + 1, sizeof *counts), *at = rb_xcalloc(naxes + 1, sizeof *at);
	inv->hash = rb_xstrdup("matrix");
	for (size_t a = 0; a < naxes; a++) {
		const char *eq = strchr(axes[a], '=');
		names[a] = eq ? rb_xstrndup(axes[a], (size_t)(eq - axes[a])) : NULL;
		if (!eq || !rb_var_name_valid(names[a]) || !eq[1]) {
			rb_error_set(err, RB_EXIT_USAGE, NULL, 0, 0, "--matrix %s: expected NAME=value,value,...", axes[a]);
			goto done;
		}
		if (rb_redact_name_is_secret(names[a])) {
			rb_error_set(err, RB_EXIT_USAGE, NULL, 0, 0, "--matrix %s: looks like a secret; a matrix's values name "
				     "targets and are recorded: give secrets in the environment", names[a]);
			goto done;
		}
		for (size_t b = 0; b < a; b++)
			if (!strcmp(names[a], names[b])) {
				rb_error_set(err, RB_EXIT_USAGE, NULL, 0, 0, "--matrix: %s is given twice", names[a]);
				goto done;
			}
		for (const char *p = eq + 1;;) {
			size_t n = strcspn(p, ",");
			char *v = rb_xstrndup(p, n);
			if (!rb_target_name_ok(v)) {
				rb_error_set(err, RB_EXIT_USAGE, NULL, 0, 0,
					     "--matrix %s: '%s' cannot name a target (letters, digits, '.', '_', '-')",
					     names[a], v);
				free(v);
				goto done;
			}
			values[a] = rb_xrealloc(values[a], (counts[a] + 1) * sizeof *values[a]);
			values[a][counts[a]++] = v;
			if (!p[n])
				break;
			p += n + 1;
		}
	}
	for (int more = naxes > 0; more;) {
		rb_target t;
		rb_buf name = RB_BUF_INIT;
		memset(&t, 0, sizeof t);
		for (size_t a = 0; a < naxes; a++) {
			rb_buf_printf(&name, "%s%s", a ? "-" : "", values[a][at[a]]);
			add_var(&t, names[a], values[a][at[a]]);
		}
		t.name = rb_buf_detach(&name);
		if (rb_inventory_find(inv, t.name)) {
			rb_error_set(err, RB_EXIT_USAGE, NULL, 0, 0, "--matrix: two targets would be called '%s'", t.name);
			target_free(&t);
			goto done;
		}
		inv->targets = rb_xrealloc(inv->targets, (inv->count + 1) * sizeof *inv->targets);
		inv->targets[inv->count++] = t;
		/* The next combination: the last axis varies fastest. */
		more = 0;
		for (size_t a = naxes; a-- > 0 && !more;) {
			if (++at[a] < counts[a])
				more = 1;
			else
				at[a] = 0;
		}
	}
	rc = 0;
done:
	for (size_t a = 0; a < naxes; a++) {
		free(names[a]);
		for (size_t i = 0; i < counts[a]; i++)
			free(values[a][i]);
		free(values[a]);
	}
	free(names);
	free(values);
	free(counts);
	free(at);
	return rc;
}

const rb_target *rb_inventory_find(const rb_inventory *inv, const char *name)
{
	for (size_t i = 0; i < inv->count; i++)
		if (!strcmp(inv->targets[i].name, name))
			return &inv->targets[i];
	return NULL;
}

/* Marks the targets name stands for (a target, else a group) in chosen. 0, or -1 when it is neither. */
static int mark(const rb_inventory *inv, const char *name, char *chosen)
{
	const rb_target *t = rb_inventory_find(inv, name);
	if (t) {
		chosen[t - inv->targets] = 1;
		return 0;
	}
	for (size_t g = 0; g < inv->ngroups; g++)
		if (!strcmp(inv->groups[g].name, name)) {
			for (size_t m = 0; m < inv->groups[g].count; m++)
				chosen[rb_inventory_find(inv, inv->groups[g].members[m]) - inv->targets] = 1;
			return 0;
		}
	return -1;
}

size_t *rb_inventory_select(const rb_inventory *inv, char *const *names, size_t nnames, const char *spec,
			    size_t *count, rb_error *err)
{
	char *chosen = rb_xcalloc(inv->count + 1, 1);
	size_t *out = NULL;
	rb_buf unknown = RB_BUF_INIT;
	*count = 0;
	for (size_t i = 0; i < nnames; i++)
		if (!rb_inventory_find(inv, names[i]) || mark(inv, names[i], chosen) < 0)
			rb_buf_printf(&unknown, "%s'%s'", unknown.len ? ", " : "", names[i]);
	for (const char *p = spec; p && *p;) {
		size_t n = strcspn(p, ",");
		char *name = rb_xstrndup(p, n);
		if (mark(inv, name, chosen) < 0)
			rb_buf_printf(&unknown, "%s'%s'", unknown.len ? ", " : "", name);
		free(name);
		p += n + (p[n] ? 1 : 0);
	}
	if (unknown.len) {
		rb_error_set(err, RB_EXIT_USAGE, NULL, 0, 0, "no such target%s in %s: %s",
			     strchr(rb_buf_cstr(&unknown), ',') ? "s or groups" : " or group",
			     inv->path ? inv->path : "the matrix", rb_buf_cstr(&unknown));
		goto done;
	}
	out = rb_xcalloc(inv->count + 1, sizeof *out);
	for (size_t i = 0; i < inv->count; i++)
		if (chosen[i])
			out[(*count)++] = i;
	if (!*count) {
		rb_error_set(err, RB_EXIT_USAGE, NULL, 0, 0, "no target selected");
		free(out);
		out = NULL;
	}
done:
	rb_buf_free(&unknown);
	free(chosen);
	return out;
}

/* Appends to b the names of the ${NAME} references in s that are not set in the environment. */
static void unset_refs(const char *s, rb_buf *b)
{
	for (const char *p = s ? strstr(s, "${") : NULL; p; p = strstr(p + 2, "${")) {
		const char *end = strchr(p + 2, '}');
		if (!end)
			break;
		char *name = rb_xstrndup(p + 2, (size_t)(end - p - 2));
		if (rb_var_name_valid(name) && !getenv(name) && !strstr(rb_buf_cstr(b), name))
			rb_buf_printf(b, "%s%s", b->len ? ", " : "", name);
		free(name);
	}
}

char *rb_target_unset_refs(const rb_target *t, int with_db)
{
	rb_buf b = RB_BUF_INIT;
	if (with_db)
		unset_refs(t->db, &b);
	for (size_t i = 0; i < t->nvars; i++)
		unset_refs(t->vars[i].value, &b);
	return b.len ? rb_buf_detach(&b) : (rb_buf_free(&b), NULL);
}

char *rb_inventory_path(const rb_runbook *rb, const char *opt)
{
	struct stat st;
	char *beside = NULL;
	if (opt)
		return rb_xstrdup(opt);
	if (rb->fm.inventory.value)
		return rb->fm.inventory.value[0] == '/' ? rb_xstrdup(rb->fm.inventory.value)
							 : rb_xasprintf("%s/%s", rb->dir, rb->fm.inventory.value);
	beside = rb_xasprintf("%s/targets.yaml", rb->dir);
	if (stat(beside, &st) == 0)
		return beside;
	free(beside);
	return NULL;
}

void rb_inventory_free(rb_inventory *inv)
{
	for (size_t i = 0; i < inv->count; i++)
		target_free(&inv->targets[i]);
	free(inv->targets);
	for (size_t g = 0; g < inv->ngroups; g++) {
		free(inv->groups[g].name);
		for (size_t m = 0; m < inv->groups[g].count; m++)
			free(inv->groups[g].members[m]);
		free(inv->groups[g].members);
	}
	free(inv->groups);
	free(inv->path);
	free(inv->abs_path);
	free(inv->hash);
	memset(inv, 0, sizeof *inv);
}
