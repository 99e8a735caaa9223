/*
 * The Lua sandbox: what a chunk may not do, limits, positions, and the
 * shipped helpers evaluated against fixed times; hostile chunks (binary
 * chunks through every loader, runaways inside C library functions,
 * interrupts, crashes) and the host callbacks across the process boundary.
 */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <lauxlib.h>
#include <lua.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "luavm.h"
#include "signals.h"

static const char *lua_dirs[2];

static rb_lua_result eval(const char *code, int expression)
{
	rb_lua_origin origin = {"gate.md", 10, NULL};
	rb_lua_result r;
	rb_lua_eval(code, expression, &origin, NULL, lua_dirs, NULL, &r);
	return r;
}

static void assert_error(const char *code, const char *needle)
{
	rb_lua_result r = eval(code, 0);
	if (r.ok || !r.message || !strstr(r.message, needle))
		fail_msg("chunk %s: expected an error containing '%s', got ok=%d message=%s", code, needle,
			 r.ok, r.message ? r.message : "(none)");
	rb_lua_result_free(&r);
}

static void test_gate_result_and_message(void **state)
{
	(void)state;
	rb_lua_result r = eval("return false, 'outside maintenance window'", 0);
	assert_true(r.ok);
	assert_false(r.truthy);
	assert_string_equal(r.message, "outside maintenance window");
	rb_lua_result_free(&r);
	r = eval("1 + 1 == 2", 1);
	assert_true(r.ok);
	assert_true(r.truthy);
	rb_lua_result_free(&r);
}

static void test_no_io_os_debug(void **state)
{
	(void)state;
	assert_error("return io.open('/etc/passwd')", "global 'io'");
	assert_error("return os.execute('id')", "field 'execute'");
	assert_error("return os.remove('x')", "field 'remove'");
	assert_error("return os.exit(1)", "field 'exit'");
	assert_error("return debug.getinfo(1)", "global 'debug'");
	assert_error("return package.loadlib('x', 'y')", "global 'package'");
	assert_error("return dofile('/etc/passwd')", "global 'dofile'");
	assert_error("return loadfile('/etc/passwd')", "global 'loadfile'");
	assert_error("return require('os').execute('id')", "module 'os' not found");
	assert_error("return require('../../etc/passwd')", "not a module name");
}

static void test_no_binary_chunks(void **state)
{
	(void)state;
	assert_error("return string.dump(function() end)", "field 'dump'");
	assert_error("local f = assert(load('\\27Lua\\84\\0', 'x', 'b'))", "binary chunks are not allowed");
	assert_error("local f, e = load('\\27LuaT\\0'); error(e)", "attempt to load a binary chunk");
	rb_lua_result r = eval("return load('return 6 * 7')()", 0);
	assert_true(r.ok);
	assert_string_equal(r.value, "42");
	rb_lua_result_free(&r);
}

static void test_nothing_leaks_between_evaluations(void **state)
{
	(void)state;
	rb_lua_result r = eval("setmetatable(_G, {__index = function() return 'leaked' end}); "
			       "string.upper = function() return 'pwned' end; leaked_global = 1", 0);
	assert_true(r.ok);
	rb_lua_result_free(&r);
	r = eval("return tostring(some_undefined_name) .. tostring(leaked_global) .. string.upper('a')", 0);
	assert_true(r.ok);
	assert_string_equal(r.value, "nilnilA");
	rb_lua_result_free(&r);
	assert_error("getmetatable('').__index = {}", "attempt to index a boolean value");
}

static void test_runaway_and_memory_limits(void **state)
{
	(void)state;
	int64_t t0 = rb_now_ms();
	rb_lua_result r = eval("while true do end", 0);
	assert_false(r.ok);
	assert_int_equal(r.limit_hit, 1);
	if (!getenv("RB_NO_TIMING")) { /* valgrind is 50x slower: there the time limit may come first */
		assert_non_null(strstr(r.message, "instruction limit exceeded"));
		assert_true(rb_now_ms() - t0 < 2000);
	} else {
		assert_true(strstr(r.message, "instruction limit exceeded") || strstr(r.message, "time limit exceeded"));
	}
	rb_lua_result_free(&r);
	/* pcall cannot swallow the limit */
	r = eval("while true do pcall(function() while true do end end) end", 0);
	assert_false(r.ok);
	assert_int_equal(r.limit_hit, 1);
	rb_lua_result_free(&r);
	rb_lua_limits small = {0, 0, 8u << 20};
	rb_lua_origin origin = {"gate.md", 10, NULL};
	rb_lua_eval("local t = {} for i = 1, 1e8 do t[i] = string.rep('x', 1024) .. i end", 0, &origin,
		    NULL, NULL, &small, &r);
	assert_false(r.ok);
	assert_int_equal(r.limit_hit, 2);
	assert_non_null(strstr(r.message, "memory limit exceeded (8 MiB)"));
	rb_lua_result_free(&r);
}

static void test_errors_name_runbook_lines(void **state)
{
	(void)state;
	rb_lua_result r = eval("local x = 1\nerror('boom')", 0);
	assert_false(r.ok);
	assert_int_equal(r.error_line, 11);
	assert_non_null(strstr(r.message, "gate.md:11: boom"));
	assert_non_null(strstr(r.message, "stack traceback"));
	rb_lua_result_free(&r);
	int line = 0;
	char *msg = NULL;
	rb_lua_origin origin = {"gate.md", 20, NULL};
	assert_int_equal(rb_lua_check("local a = 1\nlocal b = 2\nreturn a +", 0, &origin, &line, &msg), -1);
	assert_int_equal(line, 22);
	assert_non_null(strstr(msg, "unexpected symbol"));
	free(msg);
	assert_int_equal(rb_lua_check("vars.X == 'y'", 1, &origin, &line, &msg), 0);
}

static void test_fail_cannot_be_caught(void **state)
{
	(void)state;
	rb_lua_result r = eval("pcall(fail, 'no backup'); return true", 0);
	assert_false(r.ok);
	assert_true(r.failed);
	assert_non_null(strstr(r.message, "no backup"));
	rb_lua_result_free(&r);
}

static void window_at(const char *from, const char *to, long at, int expect)
{
	char code[256];
	snprintf(code, sizeof code, "return require('window').inside('%s', '%s', {at = %ld})", from, to, at);
	rb_lua_result r = eval(code, 0);
	if (!r.ok)
		fail_msg("%s", r.message);
	if (r.truthy != expect)
		fail_msg("window %s-%s at %ld: expected %d (%s)", from, to, at, expect, r.message);
	rb_lua_result_free(&r);
}

static void test_maintenance_window_helper(void **state)
{
	(void)state;
	long day = 1700006400; /* 2023-11-15 00:00:00 UTC */
	window_at("02:00", "04:00", day + 2 * 3600, 1);
	window_at("02:00", "04:00", day + 3 * 3600 + 59 * 60, 1);
	window_at("02:00", "04:00", day + 4 * 3600, 0);
	window_at("02:00", "04:00", day + 1 * 3600 + 59 * 60, 0);
	window_at("22:00", "02:00", day + 23 * 3600, 1);
	window_at("22:00", "02:00", day + 1 * 3600, 1);
	window_at("22:00", "02:00", day + 12 * 3600, 0);
	rb_lua_result r = eval("local ok, msg = require('window').inside('02:00', '04:00', {at = 1700013600}) return msg", 0);
	assert_string_equal(r.value, "inside the maintenance window 02:00-04:00 UTC (now 02:00 UTC)");
	rb_lua_result_free(&r);
}

static void test_durations_helper(void **state)
{
	(void)state;
	rb_lua_result r = eval("local d = require 'durations' return d.seconds('1h30m') .. ' ' .. d.format(5400) .. ' ' .. d.seconds('15m')", 0);
	assert_true(r.ok);
	assert_string_equal(r.value, "5400 1h30m 900");
	rb_lua_result_free(&r);
}

/* --- hostile chunks ------------------------------------------------------- */

static int dump_writer(lua_State *L, const void *p, size_t sz, void *ud)
{
	(void)L;
	rb_buf_add(ud, p, sz);
	return 0;
}

/* A real binary chunk: a plain Lua state's dump of `return 42`. */
static rb_buf binary_chunk(void)
{
	rb_buf bytes = RB_BUF_INIT;
	lua_State *L = luaL_newstate();
	assert_int_equal(luaL_loadstring(L, "return 42"), LUA_OK);
	assert_int_equal(lua_dump(L, dump_writer, &bytes, 0), 0);
	lua_close(L);
	assert_true(bytes.len > 4 && bytes.data[0] == '\x1b');
	return bytes;
}

/* The bytes as a Lua string literal of \ddd escapes. */
static char *lua_literal(const rb_buf *bytes)
{
	rb_buf lit = RB_BUF_INIT;
	rb_buf_putc(&lit, '"');
	for (size_t i = 0; i < bytes->len; i++)
		rb_buf_printf(&lit, "\\%03u", (unsigned)(unsigned char)bytes->data[i]);
	rb_buf_putc(&lit, '"');
	return rb_buf_detach(&lit);
}

static void assert_refused(const char *fmt, const char *literal, const char *needle)
{
	char *code = rb_xasprintf(fmt, literal);
	assert_error(code, needle);
	free(code);
}

static void test_binary_chunks_refused_on_every_path(void **state)
{
	(void)state;
	rb_buf bytes = binary_chunk();
	char *lit = lua_literal(&bytes);
	/* load: text only, whatever the mode asked for, from a string or a reader */
	assert_refused("local f, e = load(%s); assert(f == nil); error(e)", lit, "attempt to load a binary chunk");
	assert_refused("return load(%s, 'x', 'b')", lit, "binary chunks are not allowed");
	assert_refused("return load(%s, 'x', 'bt')", lit, "binary chunks are not allowed");
	assert_refused("local s = %s; local f, e = load(function() local c = s; s = nil; return c end); "
		       "assert(f == nil); error(e)", lit, "attempt to load a binary chunk");
	/* the original load is not kept anywhere Lua can reach */
	assert_refused("return _G['\\1load'](%s, 'x', 'b')", lit, "attempt to call a nil value");
	rb_lua_result r = eval("for k in pairs(_G) do if type(k) ~= 'string' or not k:find('^[%a_]') then "
			       "error('hidden global ' .. tostring(k)) end end "
			       "for _, t in ipairs({string, table, math, utf8, os, getmetatable('') or {}}) do "
			       "for k in pairs(t) do if type(k) ~= 'string' or not k:find('^[%a_]') then "
			       "error('hidden field ' .. tostring(k)) end end end "
			       "return string.dump == nil and load('return string.upper(\"ok\")')()", 0);
	if (!r.ok)
		fail_msg("%s", r.message);
	assert_string_equal(r.value, "OK");
	rb_lua_result_free(&r);

	/* require: a module file that holds bytecode */
	char dir[] = "/tmp/rb-luavm-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char *path = rb_xasprintf("%s/evil.lua", dir);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(bytes.data, 1, bytes.len, f), bytes.len);
	fclose(f);
	const char *dirs[] = {dir, NULL};
	rb_lua_origin origin = {"gate.md", 10, NULL};
	rb_lua_eval("return require('evil')", 0, &origin, NULL, dirs, NULL, &r);
	assert_false(r.ok);
	assert_non_null(strstr(r.message, "attempt to load a binary chunk"));
	rb_lua_result_free(&r);
	unlink(path);
	rmdir(dir);
	free(path);

	/* rb_lua_check compiles text only */
	int line = 0;
	char *msg = NULL;
	rb_lua_origin first = {"gate.md", 1, NULL};
	assert_int_equal(rb_lua_check(bytes.data, 0, &first, &line, &msg), -1);
	assert_non_null(strstr(msg, "binary chunk"));
	free(msg);

	/* and the process that tried all this still evaluates */
	r = eval("return 6 * 7", 0);
	assert_string_equal(r.value, "42");
	rb_lua_result_free(&r);
	free(lit);
	rb_buf_free(&bytes);
}

#define BACKTRACK "return string.find(string.rep('a', 3000), string.rep('a-', 12) .. 'b')"

static void test_runaway_inside_a_library_function(void **state)
{
	(void)state;
	static const char *const chunks[] = {BACKTRACK, "return #string.rep('', 1e15)", NULL};
	rb_lua_limits lim = {0, 300, 0};
	rb_lua_origin origin = {"gate.md", 10, NULL};
	for (const char *const *c = chunks; *c; c++) {
		rb_lua_result r;
		int64_t t0 = rb_now_ms();
		rb_lua_eval(*c, 0, &origin, NULL, NULL, &lim, &r);
		int64_t took = rb_now_ms() - t0;
		assert_false(r.ok);
		assert_int_equal(r.limit_hit, 1);
		assert_false(r.interrupted);
		if (!strstr(r.message, "gate.md:10: time limit exceeded (300 ms), stopped inside a library function"))
			fail_msg("%s: %s", *c, r.message);
		assert_true(took >= 300);
		if (!getenv("RB_NO_TIMING"))
			assert_true(took < 1300);
		rb_lua_result_free(&r);
	}
	/* Lua code that runs out of time is still stopped by the hook, with its position */
	rb_lua_limits slow = {INT64_MAX / 2, 200, 0};
	rb_lua_result r;
	rb_lua_eval("local x = 0\nwhile true do x = x + 1 end", 0, &origin, NULL, NULL, &slow, &r);
	assert_false(r.ok);
	assert_int_equal(r.limit_hit, 1);
	assert_non_null(strstr(r.message, "time limit exceeded (200 ms)"));
	assert_null(strstr(r.message, "library function"));
	assert_int_equal(r.error_line, 11);
	rb_lua_result_free(&r);
}

/* The test process's children, from /proc (zombies included). */
static int children(pid_t *first)
{
	int n = 0;
	DIR *d = opendir("/proc");
	struct dirent *e;
	assert_non_null(d);
	while ((e = readdir(d))) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		char path[300], buf[512];
		snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		size_t len = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[len] = '\0';
		const char *p = strrchr(buf, ')');
		char st;
		int ppid;
		if (p && sscanf(p + 1, " %c %d", &st, &ppid) == 2 && ppid == getpid()) {
			if (first && !n)
				*first = (pid_t)atoi(e->d_name);
			n++;
		}
	}
	closedir(d);
	return n;
}

static int open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void test_interrupt_stops_the_evaluation(void **state)
{
	(void)state;
	assert_int_equal(rb_signals_install(), 0);
	rb_signals_reset();
	pid_t me = getpid();
	pid_t helper = fork();
	assert_true(helper >= 0);
	if (helper == 0) {
		struct timespec t = {0, 300 * 1000000L};
		nanosleep(&t, NULL);
		kill(me, SIGTERM);
		_exit(0);
	}
	rb_lua_limits lim = {0, 5000, 0};
	rb_lua_origin origin = {"gate.md", 10, NULL};
	rb_lua_result r;
	int64_t t0 = rb_now_ms();
	rb_lua_eval(BACKTRACK, 0, &origin, NULL, NULL, &lim, &r);
	int64_t took = rb_now_ms() - t0;
	assert_int_equal(waitpid(helper, NULL, 0), helper);
	assert_false(r.ok);
	assert_true(r.interrupted);
	assert_int_equal(r.limit_hit, 0);
	assert_string_equal(r.message, "interrupted");
	if (!getenv("RB_NO_TIMING"))
		assert_true(took < 300 + 100 + 400);
	rb_lua_result_free(&r);
	/* with the interrupt still pending, nothing starts */
	r = eval("return 1", 0);
	assert_true(r.interrupted);
	rb_lua_result_free(&r);
	rb_signals_reset();
	rb_signals_drain();
	assert_int_equal(children(NULL), 0);
	r = eval("return 1", 0);
	assert_true(r.ok);
	rb_lua_result_free(&r);
}

/* --- the host callbacks, across the process boundary ---------------------- */

typedef struct {
	char *names[8];
	char *values[8];
	rb_buf log;
	char *big;
	char comm[64];
} fake_host;

static int fake_find(fake_host *f, const char *name)
{
	for (int i = 0; i < 8; i++)
		if (f->names[i] && !strcmp(f->names[i], name))
			return i;
	return -1;
}

static const char *fake_get(void *ctx, const char *name)
{
	fake_host *f = ctx;
	int i = fake_find(f, name);
	return i < 0 ? NULL : f->values[i];
}

static void fake_set(void *ctx, const char *name, const char *value)
{
	fake_host *f = ctx;
	int i = fake_find(f, name);
	if (i < 0)
		for (i = 0; i < 8 && f->names[i]; i++)
			;
	assert_true(i < 8);
	free(f->names[i]);
	free(f->values[i]);
	f->names[i] = value ? rb_xstrdup(name) : NULL;
	f->values[i] = value ? rb_xstrdup(value) : NULL;
}

static void fake_each(void *ctx, void (*fn)(void *, const char *, const char *), void *ctx2)
{
	fake_host *f = ctx;
	for (int i = 0; i < 8; i++)
		if (f->names[i])
			fn(ctx2, f->names[i], f->values[i]);
}

static int fake_step(void *ctx, const char *id, rb_lua_step *out)
{
	fake_host *f = ctx;
	static char *names[] = {"name", "n", "ok"};
	static char *cells[] = {"alice", "42", "t", "bob", NULL, "f"};
	if (!strcmp(id, "big")) {
		out->status = "failed";
		out->exit_code = 2;
		out->stdout_text = f->big;
		out->row_count = -1;
		return 0;
	}
	if (strcmp(id, "build"))
		return -1;
	out->status = "ok";
	out->stdout_text = "built\n";
	out->stderr_text = "";
	out->sqlstate = "00000";
	out->row_count = 2;
	out->duration_ms = 1500;
	out->ncols = 3;
	out->names = names;
	out->types = "snb";
	out->cells = cells;
	out->nrows = 2;
	return 0;
}

static int fake_sql(void *ctx, const char *query, const char *const *params, int nparams,
		    rb_lua_rows *rows, char **error)
{
	(void)ctx;
	if (strstr(query, "boom")) {
		*error = rb_xstrdup("sql(): 42P01: relation \"boom\" does not exist");
		return -1;
	}
	rows->ncols = 2;
	rows->nrows = 1;
	rows->names = rb_xcalloc(2, sizeof *rows->names);
	rows->names[0] = rb_xstrdup("a");
	rows->names[1] = rb_xstrdup("b");
	rows->types = rb_xstrdup("ns");
	rows->cells = rb_xcalloc(2, sizeof *rows->cells);
	rows->cells[0] = rb_xstrdup("7");
	rows->cells[1] = nparams > 0 && params[0] ? rb_xstrdup(params[0]) : NULL;
	return 0;
}

static int fake_sh(void *ctx, const char *cmd, int *code, char **output, char **error)
{
	(void)ctx;
	if (!strcmp(cmd, "fail")) {
		*error = rb_xstrdup("sh(): cannot start a process");
		return -1;
	}
	*code = 3;
	*output = rb_xasprintf("ran: %s", cmd);
	return 0;
}

static void fake_log(void *ctx, const char *msg)
{
	fake_host *f = ctx;
	rb_buf_printf(&f->log, "%s|", msg);
}

static void fake_free(fake_host *f)
{
	for (int i = 0; i < 8; i++) {
		free(f->names[i]);
		free(f->values[i]);
	}
	rb_buf_free(&f->log);
	free(f->big);
}

static void test_host_callbacks_round_trip(void **state)
{
	(void)state;
	fake_host f;
	memset(&f, 0, sizeof f);
	fake_set(&f, "A", "one");
	fake_set(&f, "C", "three");
	f.big = rb_xmalloc(3u << 20);
	memset(f.big, 'x', (3u << 20) - 1);
	f.big[(3u << 20) - 1] = '\0';
	rb_lua_host host = {&f, fake_get, fake_set, fake_each, fake_step, fake_sql, fake_sh, fake_log};
	rb_lua_origin origin = {"gate.md", 10, NULL};
	rb_lua_result r;
	rb_lua_eval("assert(vars.A == 'one' and env.C == 'three' and vars.MISSING == nil)\n"
		    "vars.B = 2\n"
		    "vars.A = nil\n"
		    "assert(vars.B == '2' and vars.A == nil)\n"
		    "local seen = {}\n"
		    "for k, v in pairs(vars) do seen[#seen + 1] = k .. '=' .. v end\n"
		    "table.sort(seen)\n"
		    "local s = steps.build\n"
		    "assert(s.status == 'ok' and s.exit_code == 0 and s.stdout == 'built\\n' and s.row_count == 2)\n"
		    "assert(s.duration == 1.5 and s.sqlstate == '00000')\n"
		    "assert(s.rows[1].name == 'alice' and s.rows[1].n == 42 and s.rows[1].ok == true)\n"
		    "assert(s.rows[2].n == nil and s.rows[2][3] == false and #s.rows == 2)\n"
		    "assert(#steps.big.stdout == 3 * 1024 * 1024 - 1 and steps.big.exit_code == 2)\n"
		    "assert(steps.big.row_count == nil and #steps.big.rows == 0)\n"
		    "local ok, e = pcall(function() return steps.nope end)\n"
		    "assert(not ok and e:find(\"no step 'nope'\"))\n"
		    "assert(sql1('select', 'p') == 7)\n"
		    "local rows = sql('select', 'p')\n"
		    "assert(rows[1].a == 7 and rows[1].b == 'p' and rows[1][2] == 'p')\n"
		    "ok, e = pcall(sql, 'boom')\n"
		    "assert(not ok and e:find('relation \"boom\" does not exist', 1, true))\n"
		    "local code, out = sh('echo hi')\n"
		    "assert(code == 3 and out == 'ran: echo hi')\n"
		    "ok, e = pcall(sh, 'fail')\n"
		    "assert(not ok and e:find('cannot start a process'))\n"
		    "log('hello', 1)\n"
		    "print('printed')\n"
		    "return table.concat(seen, ',')", 0, &origin, &host, NULL, NULL, &r);
	if (!r.ok)
		fail_msg("%s", r.message);
	assert_string_equal(r.value, "B=2,C=three");
	assert_null(fake_get(&f, "A"));
	assert_string_equal(fake_get(&f, "B"), "2");
	assert_string_equal(rb_buf_cstr(&f.log), "hello 1|printed|");
	rb_lua_result_free(&r);
	/* env cannot be written, and an error in the chunk still comes back with its line */
	rb_lua_eval("vars.D = 'd'\nenv.X = 1", 0, &origin, &host, NULL, NULL, &r);
	assert_false(r.ok);
	assert_int_equal(r.error_line, 11);
	assert_non_null(strstr(r.message, "env is read-only"));
	assert_string_equal(fake_get(&f, "D"), "d");
	rb_lua_result_free(&r);
	fake_free(&f);

	/* callbacks the host does not have */
	memset(&f, 0, sizeof f);
	rb_lua_host thin = {&f, fake_get, NULL, NULL, NULL, NULL, NULL, NULL};
	static const char *const missing[][2] = {
		{"sh('x')", "sh() is not available here"},
		{"return sql1('select 1')", "sql() is not available here"},
		{"return steps.x", "steps is not available here"},
		{"vars.X = 1", "setting vars is not available here"},
	};
	for (size_t i = 0; i < sizeof missing / sizeof *missing; i++) {
		rb_lua_eval(missing[i][0], 0, &origin, &thin, NULL, NULL, &r);
		assert_false(r.ok);
		if (!strstr(r.message, missing[i][1]))
			fail_msg("%s: %s", missing[i][0], r.message);
		rb_lua_result_free(&r);
	}
	rb_lua_eval("log('nobody listens') for k in pairs(vars) do error(k) end return vars.Y == nil", 0,
		    &origin, &thin, NULL, NULL, &r);
	assert_true(r.ok && r.truthy);
	rb_lua_result_free(&r);
}

/* log() whose host kills the evaluation's process, as a crash would. */
static void crash_log(void *ctx, const char *msg)
{
	fake_host *f = ctx;
	pid_t child = 0;
	(void)msg;
	if (children(&child) != 1)
		return;
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/comm", (int)child);
	FILE *c = fopen(path, "r");
	if (c) {
		if (!fgets(f->comm, sizeof f->comm, c))
			f->comm[0] = '\0';
		fclose(c);
	}
	kill(child, SIGABRT);
}

static void test_a_crash_is_an_error_not_a_crash(void **state)
{
	(void)state;
	fake_host f;
	memset(&f, 0, sizeof f);
	rb_lua_host host = {&f, NULL, NULL, NULL, NULL, NULL, NULL, crash_log};
	rb_lua_origin origin = {"gate.md", 10, NULL};
	rb_lua_result r;
	rb_lua_eval("log('x') return true", 0, &origin, &host, NULL, NULL, &r);
	assert_false(r.ok);
	assert_string_equal(f.comm, "runbook-lua\n");
	if (!strstr(r.message, "gate.md:10: the Lua evaluation crashed (signal 6)"))
		fail_msg("%s", r.message);
	rb_lua_result_free(&r);
	assert_int_equal(children(NULL), 0);
}

static void test_no_child_or_descriptor_left(void **state)
{
	(void)state;
	fake_host f;
	memset(&f, 0, sizeof f);
	fake_set(&f, "A", "one");
	rb_lua_host host = {&f, fake_get, fake_set, fake_each, fake_step, fake_sql, fake_sh, fake_log};
	rb_lua_origin origin = {"gate.md", 10, NULL};
	rb_lua_limits quick = {0, 20, 0};
	int fds = open_fds();
	for (int i = 0; i < 200; i++) {
		rb_lua_result r;
		const char *code = i % 40 == 39 ? BACKTRACK
				   : i % 3 == 0 ? "return vars.A"
				   : i % 3 == 1 ? "error('no')"
				   : "local t = {} for k in pairs(vars) do t[#t + 1] = k end return #t";
		rb_lua_eval(code, 0, &origin, &host, NULL, i % 40 == 39 ? &quick : NULL, &r);
		assert_int_equal(r.ok, i % 40 != 39 && i % 3 != 1);
		rb_lua_result_free(&r);
	}
	assert_int_equal(children(NULL), 0);
	assert_int_equal(open_fds(), fds);
	fake_free(&f);
}

int main(void)
{
	const char *data = getenv("RB_TEST_DATA");
	static char dir[4096];
	snprintf(dir, sizeof dir, "%s/../lua", data ? data : "tests");
	lua_dirs[0] = dir;
	lua_dirs[1] = NULL;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gate_result_and_message),
		cmocka_unit_test(test_no_io_os_debug),
		cmocka_unit_test(test_no_binary_chunks),
		cmocka_unit_test(test_nothing_leaks_between_evaluations),
		cmocka_unit_test(test_runaway_and_memory_limits),
		cmocka_unit_test(test_errors_name_runbook_lines),
		cmocka_unit_test(test_fail_cannot_be_caught),
		cmocka_unit_test(test_maintenance_window_helper),
		cmocka_unit_test(test_durations_helper),
		cmocka_unit_test(test_binary_chunks_refused_on_every_path),
		cmocka_unit_test(test_runaway_inside_a_library_function),
		cmocka_unit_test(test_host_callbacks_round_trip),
		cmocka_unit_test(test_a_crash_is_an_error_not_a_crash),
		cmocka_unit_test(test_no_child_or_descriptor_left),
		cmocka_unit_test(test_interrupt_stops_the_evaluation),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
