/*
 * luavm.h - Lua 5.4 for gates, abort conditions, lua steps and the
 * when=/expect= expressions, in a sandbox.
 *
 * Every evaluation gets a fresh lua_State: nothing one chunk does (globals,
 * metatables, library tables) can leak into the next. The environment has
 * base functions without dofile/loadfile, `load` of text chunks only,
 * string, table, math, utf8, and os.date/os.time/os.clock/os.getenv; no io,
 * no debug, no package.loadlib, no os.execute/remove/rename/exit. An
 * instruction-count hook and a wall-clock bound stop runaway code (pcall
 * cannot catch that stop), a custom allocator caps memory, and both are
 * reported as such. Errors carry the runbook's file:line and a traceback.
 *
 * No binary chunk can be loaded: Lua has no bytecode verifier, and crafted
 * bytecode reads and writes arbitrary memory. Every path that compiles
 * (the chunk itself, `load`, `require`, rb_lua_check) passes mode "t";
 * string.dump is absent; the original `load` is an upvalue of the sandbox's
 * C closure, so nothing of the host's own functions is reachable from Lua.
 *
 * Each evaluation runs in a forked child process, killed at its deadline.
 * Why: the count hook only fires between VM instructions, so a chunk that
 * spends its time inside one C library call (a backtracking string.find
 * pattern, string.rep("", 1e15)) is out of the hook's reach; only a
 * process can be stopped from outside at any point. The child also
 * contains whatever a bug in Lua or in the sandbox lets through: a crash
 * ends the evaluation with an error, not runbook. The child builds the sandbox and runs the
 * chunk with the hook and the allocator cap as before, so ordinary
 * runaways end with the same messages; it never calls the host callbacks
 * (a socket request to the parent, which calls them and answers; see
 * luavm_wire.h), touches no inherited descriptor besides its channel, and
 * leaves with _exit(). The parent waits with poll() on the channel, the
 * signal self-pipe (signals.h) and the deadline (max_ms plus 250 ms of
 * grace): past it, or at SIGINT/SIGTERM/SIGHUP, the child is SIGKILLed and
 * reaped. Time the parent spends in a callback counts against the deadline,
 * but the child is not killed while a callback runs (it is bounded by its
 * own means): after an answer the child gets at least the grace to report
 * the time limit itself. The cost is one fork per evaluation: a few
 * milliseconds (tens under ASan), paid by gates and conditions that run a
 * few times per step at most.
 *
 * What the chunk can see of the run (vars, env, steps, sql, sh, log) comes
 * through the host callbacks below; the VM holds no pointer into the engine
 * beyond one evaluation.
 */
#ifndef RB_LUAVM_H
#define RB_LUAVM_H

#include <stddef.h>
#include <stdint.h>

#include "rows.h"
#include "util.h"

/** Limits of one evaluation. Zero fields take the defaults. */
typedef struct {
	int64_t max_instructions;   /* default 50,000,000 */
	int64_t max_ms;             /* wall clock; default 5000 */
	size_t max_bytes;           /* default 64 MiB */
} rb_lua_limits;

/** A step's result as Lua sees it in steps.ID. Strings are borrowed. */
typedef struct {
	const char *status;         /* "ok", "failed", "skipped", "cancelled", "not reached" */
	int exit_code;
	const char *stdout_text;
	const char *stderr_text;
	const char *sqlstate;       /* NULL when none */
	int64_t row_count;          /* -1 when not a sql step */
	int64_t duration_ms;
	int ncols;                  /* rows: ncols names and nrows * ncols cells (NULL = SQL NULL) */
	char *const *names;
	const char *types;          /* ncols: 'n', 'b' or 's' (see rows.h); NULL: all text */
	char *const *cells;
	size_t nrows;
} rb_lua_step;

/**
 * The rows the host's sql callback returns are an rb_rows (rows.h), which
 * the VM frees with rb_rows_free. types[c] is 'n' (number), 'b' (boolean)
 * or 's' (text), so `sql1("select count(*) ...") == 0` compares numbers;
 * row_count is not read. rb_lua_rows is its former name, still spelled by
 * tests/unit/test_luavm.c.
 */
typedef rb_rows rb_lua_rows;

/**
 * The run as the chunk sees it. Any callback may be NULL: the matching Lua
 * function then raises "not available here". Strings returned through out
 * parameters are malloc'd and freed by the VM.
 */
typedef struct {
	void *ctx;
	/** A variable's value, or NULL (borrowed, valid during the call). */
	const char *(*var_get)(void *ctx, const char *name);
	/** Sets (value != NULL) or clears a variable. */
	void (*var_set)(void *ctx, const char *name, const char *value);
	/** Calls fn(ctx2, name, value) for each variable, to build vars and env. */
	void (*var_each)(void *ctx, void (*fn)(void *ctx2, const char *name, const char *value), void *ctx2);
	/** Fills *out for step id; returns 0, or -1 when there is no such step. */
	int (*step)(void *ctx, const char *id, rb_lua_step *out);
	/** Runs a query with bound text parameters. 0 and rows, or -1 and *error. */
	int (*sql)(void *ctx, const char *query, const char *const *params, int nparams,
		   rb_rows *rows, char **error);
	/** Runs a shell command; 0 with *code and *output, or -1 and *error. */
	int (*sh)(void *ctx, const char *cmd, int *code, char **output, char **error);
	/** Prints a message from log(). */
	void (*log)(void *ctx, const char *msg);
} rb_lua_host;

/** Where the chunk was written, for error messages. */
typedef struct {
	const char *file;
	int line;                    /* line of the chunk's first line in the runbook */
	const char *dir;             /* base of relative paths for file.* (NULL: cwd) */
} rb_lua_origin;

/** The outcome of an evaluation. Strings are owned by the result. */
typedef struct {
	int ok;               /* the chunk ran without error */
	int truthy;           /* its first return value is neither nil nor false */
	char *value;          /* tostring of the first return value, NULL when none */
	char *message;        /* the second return value (gates: why), or the error */
	int error_line;       /* runbook line of the error, 0 when unknown */
	int limit_hit;        /* 1: instruction or time limit, 2: memory limit */
	int failed;           /* fail(msg) was called */
	int interrupted;      /* stopped by SIGINT/SIGTERM/SIGHUP (rb_signals_interrupted()):
				 ok = 0, message "interrupted"; the caller exits 128 + signal */
} rb_lua_result;

/**
 * Evaluates a chunk (or, with expression=1, `return <code>`) in a fresh
 * sandbox, in a child process. search_dirs (NULL-terminated, may be NULL)
 * are where `require` looks for NAME.lua. Returns 0 and fills res; res->ok
 * says whether the chunk succeeded. Never raises. The host callbacks run in
 * the calling process, one at a time, while the chunk waits. A child that
 * dies (a crash) or cannot be started gives an error result; a child still
 * running at the deadline is killed ("time limit exceeded ..., stopped inside
 * a library function", limit_hit = 1). When an interrupt is pending
 * (rb_signals_interrupted()), the evaluation stops or does not start and
 * res->interrupted is set. The child is always reaped before returning.
 */
int rb_lua_eval(const char *code, int expression, const rb_lua_origin *origin,
		const rb_lua_host *host, const char *const *search_dirs, const rb_lua_limits *limits,
		rb_lua_result *res);

/**
 * Compiles without running (in this process: compiling is bounded): 0 when
 * the chunk (or expression) is valid Lua text, else -1 with *line (runbook
 * line) and *message (caller frees). A binary chunk is refused.
 */
int rb_lua_check(const char *code, int expression, const rb_lua_origin *origin, int *line,
		 char **message);

void rb_lua_result_free(rb_lua_result *res);

#endif
