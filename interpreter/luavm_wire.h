/*
 * luavm_wire.h - the channel between a Lua evaluation's child process and
 * runbook (internal to luavm.c; see luavm.h for why there is a child).
 *
 * The child never calls the rb_lua_host callbacks itself: its proxy host
 * turns each call into a request and blocks for the answer; the parent
 * serves the request with the real callback, answers, and at the end reads
 * the rb_lua_result. Every request gets exactly one answer, in order.
 *
 * A frame is a 4-byte big-endian body length, then the body. A request or
 * result body starts with one type byte; an answer body has none. Fields
 * are u32 and i64 (big-endian) and strings: a u32 length (0xffffffff for
 * NULL), the bytes and a NUL, so decoded strings are C strings in place.
 */
#ifndef RB_LUAVM_WIRE_H
#define RB_LUAVM_WIRE_H

#include "luavm.h"
#include "util.h"

/** A frame longer than this means the channel is broken. */
#define RB_LUA_WIRE_MAX_FRAME (1u << 30)

/** The child's exit status when the channel broke (the parent is gone or answered nonsense). */
#define RB_LUA_WIRE_LOST 70

/**
 * The child's end of the channel. Strings and arrays handed to the VM as
 * "borrowed" (var_get's value, rb_lua_step's fields) point into `in` and
 * `ptrs` and stay valid until the next call. Nothing here is freed: the
 * child's _exit() releases it.
 */
typedef struct {
	int fd;
	rb_buf out;        /* the request being sent */
	rb_buf in;         /* the last answer */
	char **ptrs;       /* names and cells of the last steps.ID answer */
	size_t nptrs;
} rb_lua_wire;

/**
 * Child: fills *proxy with callbacks that forward to the parent over fd.
 * A proxy callback is NULL where real's is (real itself is never called).
 * When the channel breaks, the proxy callbacks _exit(RB_LUA_WIRE_LOST).
 */
void rb_lua_wire_proxy(rb_lua_wire *w, int fd, const rb_lua_host *real, rb_lua_host *proxy);

/** Child: sends the evaluation's result. 0, or -1 when the parent cannot be reached. */
int rb_lua_wire_send_result(rb_lua_wire *w, const rb_lua_result *res);

/**
 * Parent: handles every complete frame at the start of *in and removes it:
 * a request is served with host and answered on fd; the result frame fills
 * *res (strings owned by res) and sets *done. Returns the number of requests
 * served, or -1 when a frame is malformed. An answer that cannot be sent
 * (the child died) shuts the channel down for writing: a child still
 * waiting sees the end of the channel and exits.
 */
int rb_lua_wire_serve(int fd, rb_buf *in, const rb_lua_host *host, rb_lua_result *res, int *done);

#endif
