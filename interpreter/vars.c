/*
 * vars.c - the variable set. A linear array: runbooks have tens of
 * variables, and lookups happen once per step, not per byte.
 */
#include "vars.h"
#include "util.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

static rb_var *find(const rb_vars *v, const char *name, size_t len)
{
	for (size_t i = 0; i < v->count; i++)
		if (strlen(v->items[i].name) == len && !strncmp(v->items[i].name, name, len))
			return &v->items[i];
	return NULL;
}

void rb_vars_load_environ(rb_vars *v)
{
	for (char **e = environ; e && *e; e++) {
		const char *eq = strchr(*e, '=');
		if (!eq || eq == *e)
			continue;
		char *name = rb_xstrndup(*e, (size_t)(eq - *e));
		rb_vars_set(v, name, eq + 1, RB_VAR_ENV);
		free(name);
	}
}

void rb_vars_set(rb_vars *v, const char *name, const char *value, rb_var_source source)
{
	rb_var *x = find(v, name, strlen(name));
	v->changes++;
	if (x) {
		free(x->value);
		x->value = rb_xstrdup(value);
		x->source = source;
		return;
	}
	if (v->count == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 64;
		v->items = rb_xrealloc(v->items, v->cap * sizeof *v->items);
	}
	x = &v->items[v->count++];
	x->name = rb_xstrdup(name);
	x->value = rb_xstrdup(value);
	x->source = source;
}

void rb_vars_unset(rb_vars *v, const char *name)
{
	rb_var *x = find(v, name, strlen(name));
	v->changes++;
	if (!x)
		return;
	free(x->name);
	free(x->value);
	*x = v->items[--v->count];
}

const rb_var *rb_vars_find(const rb_vars *v, const char *name)
{
	return find(v, name, strlen(name));
}

const char *rb_vars_get(const rb_vars *v, const char *name)
{
	const rb_var *x = find(v, name, strlen(name));
	return x ? x->value : NULL;
}

char **rb_vars_envp(const rb_vars *v)
{
	char **envp = rb_xmalloc((v->count + 1) * sizeof *envp);
	for (size_t i = 0; i < v->count; i++)
		envp[i] = rb_xasprintf("%s=%s", v->items[i].name, v->items[i].value);
	envp[v->count] = NULL;
	return envp;
}

void rb_vars_envp_free(char **envp)
{
	if (!envp)
		return;
	for (char **e = envp; *e; e++)
		free(*e);
	free(envp);
}

int rb_var_name_valid(const char *name)
{
	if (!(isalpha((unsigned char)*name) || *name == '_'))
		return 0;
	for (const char *p = name + 1; *p; p++)
		if (!(isalnum((unsigned char)*p) || *p == '_'))
			return 0;
	return 1;
}

int rb_var_assignment(const char *kv, char **name, const char **value)
{
	const char *eq = strchr(kv, '=');
	char *n = eq ? rb_xstrndup(kv, (size_t)(eq - kv)) : NULL;
	int rc = -1;
	if (n && rb_var_name_valid(n)) {
		*name = n;
		*value = eq + 1;
		n = NULL;
		rc = 0;
	}
	free(n);
	return rc;
}

char *rb_vars_expand(const rb_vars *v, const char *text, char **missing)
{
	rb_buf b = RB_BUF_INIT;
	const char *p = text;
	*missing = NULL;
	while (*p) {
		if (*p != '$') {
			rb_buf_putc(&b, *p++);
			continue;
		}
		const char *name = p + 1;
		int braced = *name == '{';
		if (braced)
			name++;
		const char *e = name;
		if (isalpha((unsigned char)*e) || *e == '_')
			while (isalnum((unsigned char)*e) || *e == '_')
				e++;
		if (e == name || (braced && *e != '}')) {
			rb_buf_putc(&b, *p++);
			continue;
		}
		rb_var *x = find(v, name, (size_t)(e - name));
		if (!x) {
			*missing = rb_xstrndup(name, (size_t)(e - name));
			rb_buf_free(&b);
			return NULL;
		}
		rb_buf_puts(&b, x->value);
		p = e + braced;
	}
	return rb_buf_detach(&b);
}

void rb_vars_free(rb_vars *v)
{
	for (size_t i = 0; i < v->count; i++) {
		free(v->items[i].name);
		free(v->items[i].value);
	}
	free(v->items);
	v->items = NULL;
	v->count = v->cap = 0;
}

void rb_vars_copy(const rb_vars *from, rb_vars *to)
{
	to->count = to->cap = from->count;
	to->items = rb_xcalloc(from->count ? from->count : 1, sizeof *to->items);
	for (size_t i = 0; i < from->count; i++) {
		to->items[i].name = rb_xstrdup(from->items[i].name);
		to->items[i].value = rb_xstrdup(from->items[i].value);
		to->items[i].source = from->items[i].source;
	}
}
