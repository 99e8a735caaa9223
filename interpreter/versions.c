/*
 * versions.c - the versions runbook runs with (see versions.h).
 */
#include "versions.h"

#include <cmark.h>
#include <git2.h>
#include <libpq-fe.h>
#include <lua.h>
#include <lauxlib.h>
#include <pg_query.h>
#include <stdio.h>

size_t rb_versions(rb_version *out, size_t max)
{
	size_t n = 0;
	int major = 0, minor = 0, rev = 0;
	if (n < max) {
		out[n].name = "cmark";
		snprintf(out[n++].version, sizeof out->version, "%s", cmark_version_string());
	}
	if (n < max) {
		int v = PQlibVersion();
		out[n].name = "libpq";
		snprintf(out[n++].version, sizeof out->version, "%d.%d", v / 10000, v % 10000);
	}
	if (n < max) {
		lua_State *L = luaL_newstate();
		lua_Number v = L ? lua_version(L) : 0;
		if (L)
			lua_close(L);
		out[n].name = "Lua";
		snprintf(out[n++].version, sizeof out->version, "%d.%d (built with %s.%s.%s)", (int)v / 100, (int)v % 100,
			 LUA_VERSION_MAJOR, LUA_VERSION_MINOR, LUA_VERSION_RELEASE);
	}
	if (n < max) {
		git_libgit2_version(&major, &minor, &rev);
		out[n].name = "libgit2";
		snprintf(out[n++].version, sizeof out->version, "%d.%d.%d", major, minor, rev);
	}
	if (n < max) {
		out[n].name = "libpg_query";
		snprintf(out[n++].version, sizeof out->version, "PostgreSQL %s parser (linked in)", PG_VERSION);
	}
	return n;
}

void rb_versions_text(rb_buf *b)
{
	rb_version v[8];
	size_t n = rb_versions(v, sizeof v / sizeof *v);
	rb_buf_printf(b, "runbook %s\n", RB_VERSION);
	for (size_t i = 0; i < n; i++)
		rb_buf_printf(b, "  %-12s %s\n", v[i].name, v[i].version);
}
