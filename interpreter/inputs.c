/*
 * inputs.c - checking values of declared inputs, and the inputs Runme's
 * promptEnv declares in a shell block; see inputs.h.
 */
#include "inputs.h"
#include "attrs.h"
#include "shellscan.h"
#include "transcript.h"
#include "util.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdlib.h>
#include <string.h>

/* string.find(value, anchored pattern) under pcall: 1 match, 0 none, -1 error (*why). */
static int lua_match(const char *pattern, const char *value, char **why)
{
	int rc = -1;
	lua_State *L = luaL_newstate();
	size_t n = strlen(pattern);
	int escaped_end = n >= 2 && pattern[n - 2] == '%';
	char *anchored = rb_xasprintf("%s%s%s", pattern[0] == '^' ? "" : "^", pattern,
				      n && pattern[n - 1] == '$' && !escaped_end ? "" : "$");
	if (!L) {
		*why = rb_xstrdup("cannot start Lua");
		goto done;
	}
	luaL_requiref(L, LUA_STRLIBNAME, luaopen_string, 1);
	lua_getfield(L, -1, "find");
	lua_pushstring(L, value);
	lua_pushstring(L, anchored);
	if (lua_pcall(L, 2, 1, 0) != LUA_OK) {
		const char *m = lua_tostring(L, -1);
		*why = rb_xstrdup(m ? m : "error");
		goto done;
	}
	rc = !lua_isnil(L, -1);
done:
	if (L)
		lua_close(L);
	free(anchored);
	return rc;
}

int rb_input_pattern_valid(const char *pattern, char **why)
{
	*why = NULL;
	return lua_match(pattern, "", why) < 0 ? -1 : 0;
}

int rb_input_check(const rb_input *in, const char *value, char **why)
{
	*why = NULL;
	if (!*value) {
		if (in->required)
			*why = rb_xstrdup("a value is required");
		return in->required ? -1 : 0;
	}
	if (in->nchoices) {
		rb_buf b = RB_BUF_INIT;
		for (size_t i = 0; i < in->nchoices; i++) {
			if (!strcmp(in->choices[i], value)) {
				rb_buf_free(&b);
				return 0;
			}
			rb_buf_printf(&b, "%s%s", i ? ", " : "", in->choices[i]);
		}
		*why = rb_xasprintf("not one of the choices: %s", rb_buf_cstr(&b));
		rb_buf_free(&b);
		return -1;
	}
	if (in->pattern.value) {
		char *err = NULL;
		int m = lua_match(in->pattern.value, value, &err);
		if (m < 0)
			*why = rb_xasprintf("the pattern '%s' is not a Lua pattern: %s", in->pattern.value, err);
		else if (!m)
			*why = rb_xasprintf("does not match the pattern '%s'", in->pattern.value);
		free(err);
		return m == 1 ? 0 : -1;
	}
	return 0;
}

const rb_input *rb_input_find(const rb_runbook *rb, const char *name)
{
	for (size_t i = 0; rb && i < rb->fm.ninputs; i++)
		if (rb->fm.inputs[i].name && !strcmp(rb->fm.inputs[i].name, name))
			return &rb->fm.inputs[i];
	return NULL;
}

/* --- promptEnv ------------------------------------------------------------- */

static int name_start(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int name_char(int c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

/* 1 when text, quoted, is placeholder text for check (<...>, YOUR_..., CHANGEME). */
static int is_placeholder(const char *text)
{
	rb_shell_scan sc;
	char *quoted = rb_xasprintf("\"%s\"", text);
	rb_shell_scan_text(quoted, &sc);
	int found = sc.nplaceholders > 0;
	rb_shell_scan_free(&sc);
	free(quoted);
	return found;
}

static void prompt_clear(rb_env_prompt *e)
{
	free(e->name);
	free(e->def);
	free(e->message);
	memset(e, 0, sizeof *e);
}

/*
 * Reads line[0..len) as `export NAME=VALUE`: 1 with p filled (p->line
 * left to the caller); 0 when it is not such a line, or its value expands
 * something.
 */
static int export_line(const char *line, size_t len, rb_env_prompt *p)
{
	size_t i = 0, n0;
	rb_buf v = RB_BUF_INIT;
	int quoted = 0, ok = 0;
	memset(p, 0, sizeof *p);
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (len - i < 7 || strncmp(line + i, "export", 6) || (line[i + 6] != ' ' && line[i + 6] != '\t'))
		return 0;
	for (i += 6; i < len && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	n0 = i;
	if (i >= len || !name_start((unsigned char)line[i]))
		return 0;
	while (i < len && name_char((unsigned char)line[i]))
		i++;
	if (i >= len || line[i] != '=')
		return 0;
	size_t nlen = i - n0;
	i++;
	if (i < len && (line[i] == '"' || line[i] == '\'')) {
		char q = line[i++];
		quoted = 1;
		for (; i < len && line[i] != q; i++) {
			if (q == '"' && (line[i] == '$' || line[i] == '`'))
				goto done; /* expands something: runs as written */
			if (q == '"' && line[i] == '\\' && i + 1 < len && strchr("\"\\$`", line[i + 1]))
				i++;
			rb_buf_putc(&v, line[i]);
		}
		if (i >= len)
			goto done;
		for (i++; i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'); i++)
			;
		if (i < len && line[i] != '#')
			goto done; /* more than one assignment, or another command */
	} else {
		size_t end = len;
		for (size_t k = i; k + 1 < len; k++)
			if ((line[k] == ' ' || line[k] == '\t') && line[k + 1] == '#') {
				end = k;
				break;
			}
		while (end > i && (line[end - 1] == ' ' || line[end - 1] == '\t' || line[end - 1] == '\r'))
			end--;
		int spaced = 0;
		for (size_t k = i; k < end; k++) {
			if (strchr(";&|<>()$`\"'\\", line[k]) || (line[k] == '=' && spaced))
				goto done; /* expands, another command, or two assignments (export A=1 B=2) */
			spaced |= line[k] == ' ' || line[k] == '\t';
		}
		rb_buf_add(&v, line + i, end - i);
	}
	p->name = rb_xstrndup(line + n0, nlen);
	if (v.len && quoted && !is_placeholder(rb_buf_cstr(&v)))
		p->def = rb_xstrdup(rb_buf_cstr(&v));
	else if (v.len)
		p->message = rb_xstrdup(rb_buf_cstr(&v));
	ok = 1;
done:
	rb_buf_free(&v);
	return ok;
}

size_t rb_env_prompts(const rb_step *s, rb_env_prompt **out)
{
	size_t n = 0;
	rb_transcript t;
	int prompted = s->prompted;
	*out = NULL;
	if (!rb_step_prompt_env(s))
		return 0;
	if (prompted)
		rb_transcript_read(s->body, 1, &t);
	const char *text = prompted ? t.script : s->body;
	int lineno = 1;
	for (const char *p = text ? text : ""; *p; lineno++) {
		size_t len = strcspn(p, "\n");
		rb_env_prompt e;
		int seen = 0;
		if (export_line(p, len, &e)) {
			for (size_t k = 0; k < n && !seen; k++)
				seen = !strcmp((*out)[k].name, e.name);
			if (seen) {
				prompt_clear(&e);
			} else {
				e.line = lineno;
				*out = rb_xrealloc(*out, (n + 1) * sizeof **out);
				(*out)[n++] = e;
			}
		}
		p += len + (p[len] == '\n');
	}
	if (prompted)
		rb_transcript_free(&t);
	return n;
}

void rb_env_prompts_free(rb_env_prompt *p, size_t n)
{
	for (size_t i = 0; p && i < n; i++)
		prompt_clear(&p[i]);
	free(p);
}

char *rb_env_prompts_rewrite(const char *script)
{
	rb_buf b = RB_BUF_INIT;
	int any = 0;
	for (const char *p = script ? script : ""; *p;) {
		size_t len = strcspn(p, "\n");
		rb_env_prompt e;
		if (export_line(p, len, &e)) {
			rb_buf_add(&b, p, strspn(p, " \t"));
			rb_buf_printf(&b, "export %s", e.name);
			prompt_clear(&e);
			any = 1;
		} else {
			rb_buf_add(&b, p, len);
		}
		if (p[len] == '\n')
			rb_buf_putc(&b, '\n');
		p += len + (p[len] == '\n');
	}
	if (!any) {
		rb_buf_free(&b);
		return NULL;
	}
	return rb_buf_detach(&b);
}
