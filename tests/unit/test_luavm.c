/*
 * The Lua sandbox: what a chunk may not do, limits, positions, and the
 * shipped helpers evaluated against fixed times.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "luavm.h"

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
	assert_non_null(strstr(r.message, "instruction limit exceeded"));
	if (!getenv("RB_NO_TIMING")) /* valgrind is 50x slower */
		assert_true(rb_now_ms() - t0 < 2000);
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
