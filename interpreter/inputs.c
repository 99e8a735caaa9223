/*
 * inputs.c - checking values of declared inputs; see inputs.h.
 */
#include "inputs.h"
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
