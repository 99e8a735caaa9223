/*
 * luavm.c - the Lua sandbox: a fresh state per evaluation in a child
 * process, limits through the allocator, a count hook and the parent's
 * deadline, and the runbook API built on the host (reached through
 * luavm_wire.c).
 *
 * Chunks are compiled with (line - 1) newlines in front, so Lua's own line
 * numbers are the runbook's and its messages read "deploy.md:42: ...".
 */
#define _GNU_SOURCE
#include "luavm.h"
#include "luavm_wire.h"
#include "process.h"
#include "signals.h"

#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#define HOOK_EVERY 1000
#define KILL_GRACE_MS 250   /* past max_ms, before the child is killed from outside */
#define POLL_MAX_MS 50      /* how often the parent looks at the clock and the signals */
#define READ_CHUNK (64 * 1024)

enum { LIMIT_NONE = 0, LIMIT_RUN = 1, LIMIT_MEMORY = 2 };

typedef struct {
	size_t used;
	size_t max;
	int64_t instructions;
	int64_t max_instructions;
	int64_t deadline;
	int64_t max_ms;
	int killed;                     /* LIMIT_* once a limit was hit: nothing may catch it */
	int failed;                     /* fail() was called */
	const rb_lua_host *host;
	const char *const *dirs;
	const rb_lua_origin *origin;
} vm;

static vm *get_vm(lua_State *L)
{
	void *ud = NULL;
	lua_getallocf(L, &ud);
	return ud;
}

static void *vm_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
	vm *v = ud;
	size_t old = ptr ? osize : 0;
	if (nsize == 0) {
		free(ptr);
		v->used -= old;
		return NULL;
	}
	if (v->used - old + nsize > v->max) {
		v->killed = LIMIT_MEMORY;
		return NULL;
	}
	void *p = realloc(ptr, nsize);
	if (p)
		v->used = v->used - old + nsize;
	return p;
}

static void vm_hook(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	vm *v = get_vm(L);
	v->instructions += HOOK_EVERY;
	if (v->instructions > v->max_instructions) {
		v->killed = LIMIT_RUN;
		luaL_error(L, "instruction limit exceeded (%d instructions): a runaway loop?",
			   (int)v->max_instructions);
	}
	if (rb_now_ms() > v->deadline) {
		v->killed = LIMIT_RUN;
		luaL_error(L, "time limit exceeded (%d ms)", (int)v->max_ms);
	}
}

/* pcall and xpcall that cannot swallow a limit or fail(). */
static int finish_pcall(lua_State *L, int status, int base)
{
	vm *v = get_vm(L);
	if (v->killed || v->failed)
		return lua_error(L);
	lua_pushboolean(L, status == LUA_OK);
	lua_insert(L, base);
	return lua_gettop(L) - base + 1;
}

static int sb_pcall(lua_State *L)
{
	luaL_checkany(L, 1);
	int status = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
	return finish_pcall(L, status, 1);
}

static int sb_xpcall(lua_State *L)
{
	int n = lua_gettop(L);
	luaL_checktype(L, 2, LUA_TFUNCTION);
	lua_pushvalue(L, 1);
	lua_copy(L, 2, 1);
	lua_replace(L, 2);
	int status = lua_pcall(L, n - 2, LUA_MULTRET, 1);
	return finish_pcall(L, status, 2);
}

/*
 * load of text chunks only; the environment defaults to the sandbox. The
 * original load is this closure's upvalue: no Lua code can reach it (there
 * is no debug library), so no call can pass it mode "b".
 */
static int sb_load(lua_State *L)
{
	int n = lua_gettop(L);
	if (n >= 3 && !lua_isnil(L, 3))
		luaL_argcheck(L, strchr(luaL_checkstring(L, 3), 'b') == NULL, 3,
			      "binary chunks are not allowed");
	if (n < 3)
		lua_settop(L, 3); /* an absent env stays absent: the sandbox's globals */
	lua_pushliteral(L, "t");
	lua_replace(L, 3);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_insert(L, 1);
	lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
	return lua_gettop(L);
}

static int sb_log(lua_State *L)
{
	vm *v = get_vm(L);
	int n = lua_gettop(L);
	luaL_Buffer b;
	luaL_buffinit(L, &b);
	for (int i = 1; i <= n; i++) {
		luaL_tolstring(L, i, NULL);
		luaL_addvalue(&b);
		if (i < n)
			luaL_addchar(&b, ' ');
	}
	luaL_pushresult(&b);
	if (v->host && v->host->log)
		v->host->log(v->host->ctx, lua_tostring(L, -1));
	return 0;
}

static int sb_fail(lua_State *L)
{
	vm *v = get_vm(L);
	const char *msg = luaL_optstring(L, 1, "fail() called");
	v->failed = 1;
	lua_Debug ar;
	if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "Sl", &ar) && ar.currentline > 0)
		lua_pushfstring(L, "%s:%d: %s", v->origin && v->origin->file ? v->origin->file : "?",
				ar.currentline, msg);
	else
		lua_pushstring(L, msg);
	return lua_error(L);
}

/* rb.done([message]): what a gate returns to end the run successfully ("done", message). */
static int sb_done(lua_State *L)
{
	const char *msg = luaL_optstring(L, 1, "nothing more to do");
	lua_pushliteral(L, "done");
	lua_pushstring(L, msg);
	return 2;
}

static int sb_now(lua_State *L)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
	return 1;
}

static char *resolve(vm *v, const char *path)
{
	if (path[0] == '/' || !v->origin || !v->origin->dir)
		return rb_xstrdup(path);
	return rb_xasprintf("%s/%s", v->origin->dir, path);
}

static int file_stat(lua_State *L, struct stat *st)
{
	vm *v = get_vm(L);
	char *p = resolve(v, luaL_checkstring(L, 1));
	int r = stat(p, st);
	free(p);
	return r;
}

static int sb_file_exists(lua_State *L)
{
	struct stat st;
	lua_pushboolean(L, file_stat(L, &st) == 0);
	return 1;
}

static int sb_file_size(lua_State *L)
{
	struct stat st;
	if (file_stat(L, &st) < 0)
		lua_pushnil(L);
	else
		lua_pushinteger(L, (lua_Integer)st.st_size);
	return 1;
}

static int sb_file_mtime(lua_State *L)
{
	struct stat st;
	if (file_stat(L, &st) < 0)
		lua_pushnil(L);
	else
		lua_pushnumber(L, (lua_Number)st.st_mtim.tv_sec + (lua_Number)st.st_mtim.tv_nsec / 1e9);
	return 1;
}

static void no_host(lua_State *L, const char *what)
{
	luaL_error(L, "%s is not available here", what);
}

/* vars: reads and writes go to the run's variables. */
static int vars_index(lua_State *L)
{
	vm *v = get_vm(L);
	const char *name = luaL_checkstring(L, 2);
	const char *val = v->host && v->host->var_get ? v->host->var_get(v->host->ctx, name) : NULL;
	if (val)
		lua_pushstring(L, val);
	else
		lua_pushnil(L);
	return 1;
}

static int vars_newindex(lua_State *L)
{
	vm *v = get_vm(L);
	const char *name = luaL_checkstring(L, 2);
	if (!v->host || !v->host->var_set)
		no_host(L, "setting vars");
	if (lua_isnil(L, 3)) {
		v->host->var_set(v->host->ctx, name, NULL);
	} else {
		luaL_argcheck(L, lua_type(L, 3) == LUA_TSTRING || lua_type(L, 3) == LUA_TNUMBER ||
				 lua_type(L, 3) == LUA_TBOOLEAN, 3, "vars hold strings, numbers or booleans");
		const char *s = luaL_tolstring(L, 3, NULL);
		v->host->var_set(v->host->ctx, name, s);
	}
	return 0;
}

static void snapshot_one(void *ctx, const char *name, const char *value)
{
	lua_State *L = ctx;
	lua_pushstring(L, value);
	lua_setfield(L, -2, name);
}

static int vars_pairs(lua_State *L)
{
	vm *v = get_vm(L);
	lua_getglobal(L, "next");
	lua_newtable(L);
	if (v->host && v->host->var_each)
		v->host->var_each(v->host->ctx, snapshot_one, L);
	lua_pushnil(L);
	return 3;
}

static int readonly(lua_State *L)
{
	return luaL_error(L, "env is read-only: set variables through vars");
}

static void push_rows(lua_State *L, int ncols, char *const *names, const char *types,
		      char *const *cells, size_t nrows)
{
	lua_createtable(L, (int)nrows, 0);
	for (size_t r = 0; r < nrows; r++) {
		lua_createtable(L, 0, ncols);
		for (int c = 0; c < ncols; c++) {
			const char *cell = cells[r * (size_t)ncols + (size_t)c];
			if (!cell) {
				continue;
			} else if (types && types[c] == 'b') {
				lua_pushboolean(L, cell[0] == 't');
			} else if (types && types[c] == 'n' && lua_stringtonumber(L, cell)) {
				/* pushed by lua_stringtonumber */
			} else {
				lua_pushstring(L, cell);
			}
			lua_pushvalue(L, -1);
			lua_rawseti(L, -3, c + 1);
			lua_setfield(L, -2, names[c]);
		}
		lua_rawseti(L, -2, (lua_Integer)r + 1);
	}
}

static int steps_index(lua_State *L)
{
	vm *v = get_vm(L);
	const char *id = luaL_checkstring(L, 2);
	rb_lua_step s;
	memset(&s, 0, sizeof s);
	if (!v->host || !v->host->step)
		no_host(L, "steps");
	if (v->host->step(v->host->ctx, id, &s) < 0)
		return luaL_error(L, "no step '%s' (steps are named by id: see `runbook list`)", id);
	lua_createtable(L, 0, 10);
	lua_pushstring(L, s.status ? s.status : "not reached");
	lua_setfield(L, -2, "status");
	lua_pushinteger(L, s.exit_code);
	lua_setfield(L, -2, "exit_code");
	lua_pushstring(L, s.stdout_text ? s.stdout_text : "");
	lua_setfield(L, -2, "stdout");
	lua_pushstring(L, s.stderr_text ? s.stderr_text : "");
	lua_setfield(L, -2, "stderr");
	if (s.sqlstate && *s.sqlstate) {
		lua_pushstring(L, s.sqlstate);
		lua_setfield(L, -2, "sqlstate");
	}
	if (s.row_count >= 0) {
		lua_pushinteger(L, (lua_Integer)s.row_count);
		lua_setfield(L, -2, "row_count");
	}
	lua_pushnumber(L, (lua_Number)s.duration_ms / 1000.0);
	lua_setfield(L, -2, "duration");
	push_rows(L, s.ncols, s.names, s.types, s.cells, s.nrows);
	lua_setfield(L, -2, "rows");
	return 1;
}

/* Runs the query through the host; leaves the rows table on the stack. */
static int query(lua_State *L)
{
	vm *v = get_vm(L);
	const char *q = luaL_checkstring(L, 1);
	int n = lua_gettop(L) - 1;
	if (!v->host || !v->host->sql)
		no_host(L, "sql()");
	if (n > 64)
		return luaL_error(L, "sql(): at most 64 parameters");
	const char *params[64];
	for (int i = 0; i < n; i++)
		params[i] = lua_isnil(L, i + 2) ? NULL : luaL_tolstring(L, i + 2, NULL);
	rb_rows rows = RB_ROWS_INIT;
	char *error = NULL;
	if (v->host->sql(v->host->ctx, q, params, n, &rows, &error) < 0) {
		lua_pushstring(L, error ? error : "query failed");
		free(error);
		rb_rows_free(&rows);
		return lua_error(L);
	}
	push_rows(L, rows.ncols, rows.names, rows.types, rows.cells, rows.nrows);
	lua_pushinteger(L, rows.ncols);
	rb_rows_free(&rows);
	return 2;
}

static int sb_sql(lua_State *L)
{
	query(L);
	lua_pop(L, 1);
	return 1;
}

static int sb_sql1(lua_State *L)
{
	query(L);
	lua_pop(L, 1);
	lua_rawgeti(L, -1, 1);
	if (lua_isnil(L, -1))
		return 1;
	lua_rawgeti(L, -1, 1);
	return 1;
}

static int sb_sh(lua_State *L)
{
	vm *v = get_vm(L);
	const char *cmd = luaL_checkstring(L, 1);
	int code = 0;
	char *out = NULL, *error = NULL;
	if (!v->host || !v->host->sh)
		no_host(L, "sh()");
	if (v->host->sh(v->host->ctx, cmd, &code, &out, &error) < 0) {
		lua_pushstring(L, error ? error : "sh() failed");
		free(error);
		free(out);
		return lua_error(L);
	}
	lua_pushinteger(L, code);
	lua_pushstring(L, out ? out : "");
	free(out);
	return 2;
}

static int sb_require(lua_State *L)
{
	vm *v = get_vm(L);
	const char *name = luaL_checkstring(L, 1);
	lua_getfield(L, LUA_REGISTRYINDEX, "rb.loaded");
	int loaded = lua_gettop(L);
	lua_getfield(L, loaded, name);
	if (!lua_isnil(L, -1))
		return 1;
	lua_pop(L, 1);
	for (const char *p = name; *p; p++)
		if (!(*p == '_' || *p == '.' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9')))
			return luaL_error(L, "require: '%s' is not a module name", name);
	lua_pushliteral(L, "");
	int tried = lua_gettop(L);
	char *rel = rb_xstrdup(name);
	for (char *p = rel; *p; p++)
		if (*p == '.')
			*p = '/';
	for (const char *const *d = v->dirs; d && *d; d++) {
		char *path = rb_xasprintf("%s/%s.lua", *d, rel);
		char *text = NULL;
		size_t len = 0;
		rb_error err = RB_ERROR_INIT;
		if (rb_read_file(path, &text, &len, &err) == 0) {
			char *chunkname = rb_xasprintf("@%s", path);
			int st = luaL_loadbufferx(L, text, len, chunkname, "t");
			free(chunkname);
			free(text);
			free(path);
			free(rel);
			if (st != LUA_OK)
				return lua_error(L);
			lua_pushstring(L, name);
			lua_call(L, 1, 1);
			if (lua_isnil(L, -1)) {
				lua_pop(L, 1);
				lua_pushboolean(L, 1);
			}
			lua_pushvalue(L, -1);
			lua_setfield(L, loaded, name);
			return 1;
		}
		rb_error_clear(&err);
		lua_pushfstring(L, "\n\tno file '%s'", path);
		free(path);
		lua_concat(L, 2);
	}
	free(rel);
	return luaL_error(L, "module '%s' not found:%s", name, lua_tostring(L, tried));
}

static int msghandler(lua_State *L)
{
	const char *msg = lua_tostring(L, 1);
	if (!msg)
		msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
	luaL_traceback(L, L, msg, 1);
	return 1;
}

static void set_funcs(lua_State *L, const char *table, const luaL_Reg *fns)
{
	lua_newtable(L);
	luaL_setfuncs(L, fns, 0);
	lua_setglobal(L, table);
}

static void proxy(lua_State *L, const char *name, lua_CFunction index, lua_CFunction newindex,
		  lua_CFunction pairs)
{
	lua_newtable(L);
	lua_newtable(L);
	lua_pushcfunction(L, index);
	lua_setfield(L, -2, "__index");
	lua_pushcfunction(L, newindex);
	lua_setfield(L, -2, "__newindex");
	if (pairs) {
		lua_pushcfunction(L, pairs);
		lua_setfield(L, -2, "__pairs");
	}
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_setmetatable(L, -2);
	lua_setglobal(L, name);
}

/* Opens the allowed libraries and removes what the sandbox must not have. */
static void build_sandbox(lua_State *L)
{
	static const luaL_Reg libs[] = {
		{LUA_GNAME, luaopen_base}, {LUA_STRLIBNAME, luaopen_string},
		{LUA_TABLIBNAME, luaopen_table}, {LUA_MATHLIBNAME, luaopen_math},
		{LUA_UTF8LIBNAME, luaopen_utf8}, {LUA_OSLIBNAME, luaopen_os}, {NULL, NULL}
	};
	for (const luaL_Reg *l = libs; l->name; l++) {
		luaL_requiref(L, l->name, l->func, 1);
		lua_pop(L, 1);
	}
	static const char *const removed[] = {"dofile", "loadfile", "collectgarbage", "require", NULL};
	for (const char *const *r = removed; *r; r++) {
		lua_pushnil(L);
		lua_setglobal(L, *r);
	}
	/* os: only the clock and the environment. */
	lua_getglobal(L, "os");
	static const char *const os_removed[] = {"execute", "exit", "remove", "rename", "tmpname",
						 "setlocale", NULL};
	for (const char *const *r = os_removed; *r; r++) {
		lua_pushnil(L);
		lua_setfield(L, -2, *r);
	}
	lua_pop(L, 1);
	lua_getglobal(L, "string");
	lua_pushnil(L);
	lua_setfield(L, -2, "dump");
	lua_pop(L, 1);
	/* The string metatable is shared by every string: lock it. */
	lua_pushliteral(L, "");
	lua_getmetatable(L, -1);
	lua_pushboolean(L, 0);
	lua_setfield(L, -2, "__metatable");
	lua_pop(L, 2);

	lua_getglobal(L, "load");
	lua_pushcclosure(L, sb_load, 1);
	lua_setglobal(L, "load");
	lua_register(L, "pcall", sb_pcall);
	lua_register(L, "xpcall", sb_xpcall);
	lua_register(L, "print", sb_log);
	lua_register(L, "log", sb_log);
	lua_register(L, "fail", sb_fail);
	lua_register(L, "now", sb_now);
	lua_register(L, "sql", sb_sql);
	lua_register(L, "sql1", sb_sql1);
	lua_register(L, "sh", sb_sh);
	lua_register(L, "require", sb_require);
	static const luaL_Reg file_fns[] = {
		{"exists", sb_file_exists}, {"size", sb_file_size}, {"mtime", sb_file_mtime}, {NULL, NULL}
	};
	set_funcs(L, "file", file_fns);
	static const luaL_Reg rb_fns[] = {{"done", sb_done}, {NULL, NULL}};
	set_funcs(L, "rb", rb_fns);
	proxy(L, "vars", vars_index, vars_newindex, vars_pairs);
	proxy(L, "env", vars_index, readonly, vars_pairs);
	proxy(L, "steps", steps_index, readonly, NULL);
	lua_newtable(L);
	lua_setfield(L, LUA_REGISTRYINDEX, "rb.loaded");
}

static int build_protected(lua_State *L)
{
	build_sandbox(L);
	return 0;
}

/* The code as compiled: line-aligned with the runbook, expressions returned. */
static char *aligned(const char *code, int expression, int line)
{
	rb_buf b = RB_BUF_INIT;
	for (int i = 1; i < line; i++)
		rb_buf_putc(&b, '\n');
	if (expression)
		rb_buf_printf(&b, "return (%s\n)", code);
	else
		rb_buf_puts(&b, code);
	return rb_buf_detach(&b);
}

static int line_of(const char *msg, const char *file)
{
	if (!msg || !file)
		return 0;
	const char *p = strstr(msg, file);
	if (!p)
		return 0;
	p += strlen(file);
	return *p == ':' ? atoi(p + 1) : 0;
}

/* Runs the chunk in this process (the child): the sandbox as such. */
static void evaluate(const char *code, int expression, const rb_lua_origin *origin,
		     const rb_lua_host *host, const char *const *search_dirs,
		     const rb_lua_limits *lim, int64_t deadline, rb_lua_result *res)
{
	vm v;
	lua_State *L = NULL;
	char *src = NULL, *chunkname = NULL;
	memset(res, 0, sizeof *res);
	memset(&v, 0, sizeof v);
	v.max = lim->max_bytes;
	v.max_instructions = lim->max_instructions;
	v.max_ms = lim->max_ms;
	v.deadline = deadline;
	v.host = host;
	v.dirs = search_dirs;
	v.origin = origin;

	L = lua_newstate(vm_alloc, &v);
	if (!L) {
		res->message = rb_xstrdup("cannot create a Lua state: out of memory");
		goto done;
	}
	lua_sethook(L, vm_hook, LUA_MASKCOUNT, HOOK_EVERY);
	lua_pushcfunction(L, msghandler);
	/* Building the sandbox allocates: do it protected, like everything else. */
	lua_pushcfunction(L, build_protected);
	if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
		res->message = rb_xstrdup("cannot set up the Lua sandbox: out of memory");
		goto done;
	}

	const char *file = origin && origin->file ? origin->file : "chunk";
	int line = origin && origin->line > 0 ? origin->line : 1;
	src = aligned(code, expression, line);
	chunkname = rb_xasprintf("@%s", file);
	int base = lua_gettop(L);
	int st = luaL_loadbufferx(L, src, strlen(src), chunkname, "t");
	if (st == LUA_OK)
		st = lua_pcall(L, 0, 2, base);
	if (st != LUA_OK) {
		const char *msg = lua_tostring(L, -1);
		res->error_line = line_of(msg, file);
		res->limit_hit = v.killed;
		res->failed = v.failed;
		if (v.killed == LIMIT_MEMORY)
			res->message = rb_xasprintf("%s:%d: memory limit exceeded (%zu MiB)", file,
						    res->error_line ? res->error_line : line, v.max >> 20);
		else
			res->message = rb_xstrdup(msg ? msg : "error");
		goto done;
	}
	res->ok = 1;
	res->truthy = lua_toboolean(L, -2);
	if (!lua_isnil(L, -2))
		res->value = rb_xstrdup(luaL_tolstring(L, -2, NULL));
	lua_settop(L, base + 2);
	if (!lua_isnil(L, -1))
		res->message = rb_xstrdup(luaL_tolstring(L, -1, NULL));
done:
	if (L)
		lua_close(L);
	free(src);
	free(chunkname);
}

/* Closes every inherited descriptor but the channel, which becomes 3:
 * database sockets, the audit repository and the signal self-pipe belong to
 * the parent. 0-2 stay open and unused, for a sanitizer's report. */
static int keep_only(int fd)
{
	if (fd != 3) {
		if (dup2(fd, 3) < 0)
			return -1;
		fd = 3;
	}
	if (close_range(4, ~0U, 0) < 0) {
		long max = sysconf(_SC_OPEN_MAX);
		for (long i = 4; i < (max > 0 && max < 65536 ? max : 65536); i++)
			close((int)i);
	}
	return fd;
}

/* The child: never returns, never calls exit() (no atexit handlers, no
 * flushing of stdio buffers that belong to the parent). */
_Noreturn static void child_main(int fd, pid_t parent, const char *code, int expression,
				 const rb_lua_origin *origin, const rb_lua_host *host,
				 const char *const *search_dirs, const rb_lua_limits *lim,
				 int64_t deadline)
{
	rb_signals_child_defaults();
#ifdef __linux__
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_NAME, "runbook-lua", 0, 0, 0);
#endif
	if (getppid() != parent)
		_exit(RB_LUA_WIRE_LOST);
	fd = keep_only(fd);
	if (fd < 0)
		_exit(RB_LUA_WIRE_LOST);
	/* No core file for a crash, and a CPU bound should the parent be stuck. */
	struct rlimit no_core = {0, 0};
	setrlimit(RLIMIT_CORE, &no_core);
	rlim_t cpu_s = (rlim_t)(lim->max_ms / 1000 + 2);
	struct rlimit cpu = {cpu_s, cpu_s + 1};
	setrlimit(RLIMIT_CPU, &cpu);

	rb_lua_wire w;
	rb_lua_host proxy;
	rb_lua_result res;
	rb_lua_wire_proxy(&w, fd, host, &proxy);
	evaluate(code, expression, origin, host ? &proxy : NULL, search_dirs, lim, deadline, &res);
	_exit(rb_lua_wire_send_result(&w, &res) == 0 ? 0 : RB_LUA_WIRE_LOST);
}

static void fail_with(rb_lua_result *res, char *message)
{
	rb_lua_result_free(res);
	memset(res, 0, sizeof *res);
	res->message = message;
}

enum { STOP_NONE, STOP_TIME, STOP_SIGNAL, STOP_BROKEN };

/*
 * The parent: serves the child's requests until its result and the end of
 * the channel, or stops it at the deadline or an interrupt; reaps it; turns
 * how it ended into res.
 */
static void supervise(pid_t pid, int fd, const rb_lua_host *host, const char *file, int line,
		      const rb_lua_limits *lim, int64_t deadline, rb_lua_result *res)
{
	rb_buf in = RB_BUF_INIT;
	char *chunk = rb_xmalloc(READ_CHUNK);
	int done = 0, eof = 0, stop = STOP_NONE, status = 0;
	int64_t kill_at = deadline + KILL_GRACE_MS;
	int sigfd = rb_signals_fd();
	const char *broken = NULL;

	while (!eof) {
		int64_t now = rb_now_ms();
		if (!done && rb_signals_interrupted())
			stop = STOP_SIGNAL;
		else if (now >= kill_at)
			stop = STOP_TIME;
		if (stop)
			break;
		struct pollfd pf[2] = {{fd, POLLIN, 0}, {sigfd, POLLIN, 0}};
		int64_t nap = kill_at - now < POLL_MAX_MS ? kill_at - now : POLL_MAX_MS;
		int pr = poll(pf, sigfd >= 0 ? 2 : 1, (int)nap);
		if (pr < 0) {
			if (errno == EINTR)
				continue;
			stop = STOP_BROKEN;
			broken = "poll failed";
			break;
		}
		if (sigfd >= 0 && (pf[1].revents & POLLIN))
			rb_signals_drain();
		if (!(pf[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		ssize_t n = read(fd, chunk, READ_CHUNK);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0) {
			eof = 1; /* the child closed its end: it exited */
			continue;
		}
		if (done)
			continue; /* nothing may follow the result */
		rb_buf_add(&in, chunk, (size_t)n);
		int served = rb_lua_wire_serve(fd, &in, host, res, &done);
		if (served < 0) {
			stop = STOP_BROKEN;
			broken = "sent a malformed message";
			break;
		}
		/* The callbacks' time counted; now the child may report the limit itself. */
		if (served > 0 && rb_now_ms() + KILL_GRACE_MS > kill_at)
			kill_at = rb_now_ms() + KILL_GRACE_MS;
	}
	if (stop)
		kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;

	if (done) {
		/* the evaluation finished; how the child left after it does not matter */
	} else if (stop == STOP_SIGNAL || (stop != STOP_TIME && rb_signals_interrupted())) {
		fail_with(res, rb_xstrdup("interrupted"));
		res->interrupted = 1;
	} else if (stop == STOP_TIME) {
		char limit[32];
		if (lim->max_ms % 1000 == 0)
			snprintf(limit, sizeof limit, "%llds", (long long)(lim->max_ms / 1000));
		else
			snprintf(limit, sizeof limit, "%lld ms", (long long)lim->max_ms);
		fail_with(res, rb_xasprintf("%s:%d: time limit exceeded (%s), stopped inside a library function",
					    file, line, limit));
		res->limit_hit = LIMIT_RUN;
	} else if (stop == STOP_BROKEN) {
		fail_with(res, rb_xasprintf("%s:%d: the Lua evaluation %s; it was stopped", file, line, broken));
	} else if (WIFSIGNALED(status)) {
		fail_with(res, rb_xasprintf("%s:%d: the Lua evaluation crashed (signal %d)", file, line,
					    WTERMSIG(status)));
	} else {
		fail_with(res, rb_xasprintf("%s:%d: the Lua evaluation ended without a result (exit status %d)",
					    file, line, WIFEXITED(status) ? WEXITSTATUS(status) : -1));
	}
	rb_buf_free(&in);
	free(chunk);
}

/* child_main's arguments, through rb_process_start_fn. */
typedef struct {
	int fd;
	pid_t parent;
	const char *code;
	int expression;
	const rb_lua_origin *origin;
	const rb_lua_host *host;
	const char *const *search_dirs;
	const rb_lua_limits *lim;
	int64_t deadline;
} child_args;

static int child_entry(void *ctx)
{
	const child_args *a = ctx;
	child_main(a->fd, a->parent, a->code, a->expression, a->origin, a->host, a->search_dirs, a->lim,
		   a->deadline);
}

int rb_lua_eval(const char *code, int expression, const rb_lua_origin *origin,
		const rb_lua_host *host, const char *const *search_dirs, const rb_lua_limits *limits,
		rb_lua_result *res)
{
	int sv[2] = {-1, -1};
	rb_process *proc = NULL;
	rb_error err = RB_ERROR_INIT;
	rb_lua_limits lim;
	const char *file = origin && origin->file ? origin->file : "chunk";
	int line = origin && origin->line > 0 ? origin->line : 1;
	memset(res, 0, sizeof *res);
	lim.max_bytes = limits && limits->max_bytes ? limits->max_bytes : 64u << 20;
	lim.max_instructions = limits && limits->max_instructions ? limits->max_instructions : 50000000;
	lim.max_ms = limits && limits->max_ms ? limits->max_ms : 5000;
	int64_t deadline = rb_now_ms() + lim.max_ms;

	if (rb_signals_interrupted()) {
		res->message = rb_xstrdup("interrupted");
		res->interrupted = 1;
		goto done;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		res->message = rb_xasprintf("%s:%d: cannot start the Lua evaluation: %s", file, line,
					    strerror(errno));
		goto done;
	}
	/* The child keeps only sv[1] itself (child_main), and 0-2. */
	child_args args = {sv[1], getpid(), code, expression, origin, host, search_dirs, &lim, deadline};
	if (rb_process_start_fn(child_entry, &args, NULL, &proc, &err) < 0) {
		res->message = rb_xasprintf("%s:%d: cannot start the Lua evaluation: %s", file, line, err.message);
		goto done;
	}
	close(sv[1]);
	sv[1] = -1;
	supervise(rb_process_pid(proc), sv[0], host, file, line, &lim, deadline, res); /* reaps it */
done:
	rb_process_free(proc);
	rb_error_clear(&err);
	for (int i = 0; i < 2; i++)
		if (sv[i] >= 0)
			close(sv[i]);
	return 0;
}

int rb_lua_check(const char *code, int expression, const rb_lua_origin *origin, int *line,
		 char **message)
{
	int rc = -1;
	const char *file = origin && origin->file ? origin->file : "chunk";
	int first = origin && origin->line > 0 ? origin->line : 1;
	char *src = aligned(code, expression, first);
	char *chunkname = rb_xasprintf("@%s", file);
	lua_State *L = luaL_newstate();
	*line = 0;
	*message = NULL;
	if (!L) {
		*message = rb_xstrdup("cannot create a Lua state");
		goto done;
	}
	if (luaL_loadbufferx(L, src, strlen(src), chunkname, "t") != LUA_OK) {
		const char *msg = lua_tostring(L, -1);
		*line = line_of(msg, file);
		/* Drop the "file:line: " prefix: the caller prints its own position. */
		const char *p = msg ? strstr(msg, ": ") : NULL;
		*message = rb_xstrdup(p && *line ? p + 2 : msg ? msg : "syntax error");
		goto done;
	}
	rc = 0;
done:
	if (L)
		lua_close(L);
	free(src);
	free(chunkname);
	return rc;
}

void rb_lua_result_free(rb_lua_result *res)
{
	free(res->value);
	free(res->message);
	res->value = res->message = NULL;
}
