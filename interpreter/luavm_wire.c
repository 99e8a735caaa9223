/*
 * luavm_wire.c - frames, the child's proxy host and the parent's server; see
 * luavm_wire.h for the format.
 *
 * The channel is a socketpair rather than a pipe pair only for send()'s
 * MSG_NOSIGNAL: an answer to a child that died must fail with EPIPE, not
 * raise SIGPIPE in a process (a unit test, say) that did not ignore it.
 */
#define _GNU_SOURCE
#include "luavm_wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define NIL_LEN 0xffffffffu
#define MAX_PARAMS 64

enum {
	MSG_VAR_GET = 'g',
	MSG_VAR_SET = 's',
	MSG_VAR_EACH = 'e',
	MSG_STEP = 't',
	MSG_SQL = 'q',
	MSG_SH = 'h',
	MSG_LOG = 'l',
	MSG_RESULT = 'r'
};

/* --- encoding ------------------------------------------------------------- */

static void set_u32(char *p, uint32_t v)
{
	p[0] = (char)(v >> 24);
	p[1] = (char)(v >> 16);
	p[2] = (char)(v >> 8);
	p[3] = (char)v;
}

static void put_u32(rb_buf *b, uint32_t v)
{
	char c[4];
	set_u32(c, v);
	rb_buf_add(b, c, 4);
}

static void put_i64(rb_buf *b, int64_t v)
{
	uint64_t u = (uint64_t)v;
	put_u32(b, (uint32_t)(u >> 32));
	put_u32(b, (uint32_t)u);
}

static void put_mem(rb_buf *b, const char *s, size_t n)
{
	put_u32(b, (uint32_t)n);
	rb_buf_add(b, s, n);
	rb_buf_add(b, "", 1);
}

static void put_str(rb_buf *b, const char *s)
{
	if (s)
		put_mem(b, s, strlen(s));
	else
		put_u32(b, NIL_LEN);
}

/* Starts a frame in b: the length is filled in by send_frame. */
static void begin(rb_buf *b, int type)
{
	rb_buf_clear(b);
	put_u32(b, 0);
	if (type)
		rb_buf_putc(b, (char)type);
}

static int send_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int send_frame(int fd, rb_buf *b)
{
	if (b->len - 4 > RB_LUA_WIRE_MAX_FRAME)
		return -1;
	set_u32(b->data, (uint32_t)(b->len - 4));
	return send_all(fd, b->data, b->len);
}

/* --- decoding: a cursor that turns bad on the first malformed field ------- */

typedef struct {
	char *p;
	size_t left;
	int bad;
} rd;

static uint32_t get_u32(rd *r)
{
	if (r->bad || r->left < 4) {
		r->bad = 1;
		return 0;
	}
	const unsigned char *u = (const unsigned char *)r->p;
	uint32_t v = (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | (uint32_t)u[3];
	r->p += 4;
	r->left -= 4;
	return v;
}

static int64_t get_i64(rd *r)
{
	uint64_t hi = get_u32(r);
	uint64_t lo = get_u32(r);
	return (int64_t)(hi << 32 | lo);
}

/* A string in place, NULL for nil (or when malformed); *len its length. */
static char *get_mem(rd *r, size_t *len)
{
	uint32_t n = get_u32(r);
	*len = 0;
	if (r->bad || n == NIL_LEN)
		return NULL;
	if ((size_t)n >= r->left || r->p[n] != '\0') {
		r->bad = 1;
		return NULL;
	}
	char *s = r->p;
	r->p += (size_t)n + 1;
	r->left -= (size_t)n + 1;
	*len = n;
	return s;
}

static char *get_str(rd *r)
{
	size_t len;
	return get_mem(r, &len);
}

/* Reads a rows header (ncols, types, nrows) and checks that ncols names and
 * nrows * ncols cells can fit in what is left (each takes 4 bytes at least). */
static int get_rows_header(rd *r, int *ncols, char **types, size_t *nrows)
{
	size_t tlen;
	uint32_t nc = get_u32(r);
	*types = get_mem(r, &tlen);
	uint64_t nr = (uint64_t)get_i64(r);
	if (r->bad || (*types && tlen != nc) || nc > r->left / 4 || (nc && nr > r->left / 4 / nc)) {
		r->bad = 1;
		return -1;
	}
	*ncols = (int)nc;
	*nrows = (size_t)nr;
	return 0;
}

/* --- the child's end: the proxy host -------------------------------------- */

static int read_full(int fd, char *p, size_t n)
{
	while (n > 0) {
		ssize_t got = read(fd, p, n);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			return -1;
		p += got;
		n -= (size_t)got;
	}
	return 0;
}

static int recv_frame(int fd, rb_buf *in)
{
	char h[4];
	if (read_full(fd, h, 4) < 0)
		return -1;
	rd r = {h, 4, 0};
	uint32_t n = get_u32(&r);
	if (n > RB_LUA_WIRE_MAX_FRAME)
		return -1;
	rb_buf_clear(in);
	rb_buf_grow(in, n);
	if (read_full(fd, in->data, n) < 0)
		return -1;
	in->len = n;
	in->data[n] = '\0';
	return 0;
}

/* Sends the request in w->out and waits for the answer. The child has
 * nothing to go back to when the parent is gone: a broken channel ends it. */
static void call(rb_lua_wire *w, rd *r)
{
	if (send_frame(w->fd, &w->out) < 0 || recv_frame(w->fd, &w->in) < 0)
		_exit(RB_LUA_WIRE_LOST);
	r->p = w->in.data;
	r->left = w->in.len;
	r->bad = 0;
}

static void check(const rd *r)
{
	if (r->bad)
		_exit(RB_LUA_WIRE_LOST);
}

static const char *px_var_get(void *ctx, const char *name)
{
	rb_lua_wire *w = ctx;
	rd r;
	begin(&w->out, MSG_VAR_GET);
	put_str(&w->out, name);
	call(w, &r);
	const char *value = get_str(&r);
	check(&r);
	return value;
}

static void px_var_set(void *ctx, const char *name, const char *value)
{
	rb_lua_wire *w = ctx;
	rd r;
	begin(&w->out, MSG_VAR_SET);
	put_str(&w->out, name);
	put_str(&w->out, value);
	call(w, &r);
}

/* fn may raise a Lua error (out of memory): nothing here is held across it. */
static void px_var_each(void *ctx, void (*fn)(void *ctx2, const char *name, const char *value),
			void *ctx2)
{
	rb_lua_wire *w = ctx;
	rd r;
	begin(&w->out, MSG_VAR_EACH);
	call(w, &r);
	uint32_t n = get_u32(&r);
	for (uint32_t i = 0; i < n; i++) {
		const char *name = get_str(&r);
		const char *value = get_str(&r);
		check(&r);
		if (name && value)
			fn(ctx2, name, value);
	}
	check(&r);
}

static char empty_name[1];

static int px_step(void *ctx, const char *id, rb_lua_step *out)
{
	rb_lua_wire *w = ctx;
	rd r;
	begin(&w->out, MSG_STEP);
	put_str(&w->out, id);
	call(w, &r);
	if (get_i64(&r) != 0) {
		check(&r);
		return -1;
	}
	out->status = get_str(&r);
	out->exit_code = (int)get_i64(&r);
	out->stdout_text = get_str(&r);
	out->stderr_text = get_str(&r);
	out->sqlstate = get_str(&r);
	out->row_count = get_i64(&r);
	out->duration_ms = get_i64(&r);
	char *types = NULL;
	get_rows_header(&r, &out->ncols, &types, &out->nrows);
	check(&r);
	size_t n = (size_t)out->ncols + out->nrows * (size_t)out->ncols;
	if (n + 1 > w->nptrs) {
		w->ptrs = rb_xrealloc(w->ptrs, (n + 1) * sizeof *w->ptrs);
		w->nptrs = n + 1;
	}
	for (size_t i = 0; i < n; i++) {
		w->ptrs[i] = get_str(&r);
		if (i < (size_t)out->ncols && !w->ptrs[i])
			w->ptrs[i] = empty_name; /* a column always has a name */
	}
	check(&r);
	out->types = types;
	out->names = w->ptrs;
	out->cells = w->ptrs + out->ncols;
	return 0;
}

static int px_sql(void *ctx, const char *query, const char *const *params, int nparams,
		  rb_rows *rows, char **error)
{
	rb_lua_wire *w = ctx;
	rd r;
	begin(&w->out, MSG_SQL);
	put_str(&w->out, query);
	put_u32(&w->out, (uint32_t)nparams);
	for (int i = 0; i < nparams; i++)
		put_str(&w->out, params[i]);
	call(w, &r);
	if (get_i64(&r) != 0) {
		const char *e = get_str(&r);
		check(&r);
		*error = e ? rb_xstrdup(e) : NULL;
		return -1;
	}
	char *types = NULL;
	get_rows_header(&r, &rows->ncols, &types, &rows->nrows);
	check(&r);
	size_t ncells = rows->nrows * (size_t)rows->ncols;
	rows->names = rb_xcalloc((size_t)rows->ncols + 1, sizeof *rows->names);
	rows->cells = rb_xcalloc(ncells + 1, sizeof *rows->cells);
	if (types)
		rows->types = rb_xstrndup(types, (size_t)rows->ncols);
	for (int c = 0; c < rows->ncols; c++) {
		const char *name = get_str(&r);
		rows->names[c] = rb_xstrdup(name ? name : "");
	}
	for (size_t i = 0; i < ncells; i++) {
		const char *cell = get_str(&r);
		rows->cells[i] = cell ? rb_xstrdup(cell) : NULL;
	}
	check(&r);
	return 0;
}

static int px_sh(void *ctx, const char *cmd, int *code, char **output, char **error)
{
	rb_lua_wire *w = ctx;
	rd r;
	begin(&w->out, MSG_SH);
	put_str(&w->out, cmd);
	call(w, &r);
	int64_t rc = get_i64(&r);
	int64_t status = get_i64(&r);
	const char *o = get_str(&r);
	const char *e = get_str(&r);
	check(&r);
	*code = (int)status;
	*output = o ? rb_xstrdup(o) : NULL;
	*error = e ? rb_xstrdup(e) : NULL;
	return rc == 0 ? 0 : -1;
}

static void px_log(void *ctx, const char *msg)
{
	rb_lua_wire *w = ctx;
	rd r;
	begin(&w->out, MSG_LOG);
	put_str(&w->out, msg);
	call(w, &r);
}

void rb_lua_wire_proxy(rb_lua_wire *w, int fd, const rb_lua_host *real, rb_lua_host *proxy)
{
	memset(w, 0, sizeof *w);
	memset(proxy, 0, sizeof *proxy);
	w->fd = fd;
	if (!real)
		return;
	proxy->ctx = w;
	proxy->var_get = real->var_get ? px_var_get : NULL;
	proxy->var_set = real->var_set ? px_var_set : NULL;
	proxy->var_each = real->var_each ? px_var_each : NULL;
	proxy->step = real->step ? px_step : NULL;
	proxy->sql = real->sql ? px_sql : NULL;
	proxy->sh = real->sh ? px_sh : NULL;
	proxy->log = real->log ? px_log : NULL;
}

int rb_lua_wire_send_result(rb_lua_wire *w, const rb_lua_result *res)
{
	begin(&w->out, MSG_RESULT);
	put_i64(&w->out, res->ok);
	put_i64(&w->out, res->truthy);
	put_str(&w->out, res->value);
	put_str(&w->out, res->message);
	put_i64(&w->out, res->error_line);
	put_i64(&w->out, res->limit_hit);
	put_i64(&w->out, res->failed);
	put_i64(&w->out, res->interrupted);
	return send_frame(w->fd, &w->out);
}

/* --- the parent's end: serving requests with the real host ---------------- */

static void put_rows(rb_buf *b, int ncols, char *const *names, const char *types,
		     char *const *cells, size_t nrows)
{
	size_t nc = ncols > 0 ? (size_t)ncols : 0;
	put_u32(b, (uint32_t)nc);
	if (types && nc)
		put_mem(b, types, nc);
	else
		put_u32(b, NIL_LEN);
	put_i64(b, (int64_t)nrows);
	for (size_t c = 0; c < nc; c++)
		put_str(b, names ? names[c] : NULL);
	for (size_t i = 0; i < nrows * nc; i++)
		put_str(b, cells ? cells[i] : NULL);
}

typedef struct {
	rb_buf *b;
	uint32_t count;
} each_ctx;

static void each_one(void *ctx, const char *name, const char *value)
{
	each_ctx *e = ctx;
	put_str(e->b, name);
	put_str(e->b, value);
	e->count++;
}

static int answer_step(const rb_lua_host *host, rd *r, rb_buf *out)
{
	const char *id = get_str(r);
	if (r->bad || !id)
		return -1;
	rb_lua_step s;
	memset(&s, 0, sizeof s);
	if (!host->step || host->step(host->ctx, id, &s) < 0) {
		put_i64(out, -1);
		return 0;
	}
	put_i64(out, 0);
	put_str(out, s.status);
	put_i64(out, s.exit_code);
	put_str(out, s.stdout_text);
	put_str(out, s.stderr_text);
	put_str(out, s.sqlstate);
	put_i64(out, s.row_count);
	put_i64(out, s.duration_ms);
	put_rows(out, s.ncols, s.names, s.types, s.cells, s.nrows);
	return 0;
}

static int answer_sql(const rb_lua_host *host, rd *r, rb_buf *out)
{
	const char *params[MAX_PARAMS];
	const char *q = get_str(r);
	uint32_t n = get_u32(r);
	if (r->bad || !q || n > MAX_PARAMS)
		return -1;
	for (uint32_t i = 0; i < n; i++)
		params[i] = get_str(r);
	if (r->bad)
		return -1;
	rb_rows rows = RB_ROWS_INIT;
	char *error = NULL;
	if (!host->sql) {
		put_i64(out, -1);
		put_str(out, "sql() is not available here");
	} else if (host->sql(host->ctx, q, params, (int)n, &rows, &error) < 0) {
		put_i64(out, -1);
		put_str(out, error);
	} else {
		put_i64(out, 0);
		put_rows(out, rows.ncols, rows.names, rows.types, rows.cells, rows.nrows);
	}
	free(error);
	rb_rows_free(&rows);
	return 0;
}

static int answer_sh(const rb_lua_host *host, rd *r, rb_buf *out)
{
	const char *cmd = get_str(r);
	if (r->bad || !cmd)
		return -1;
	int code = 0, rc = -1;
	char *output = NULL, *error = NULL;
	if (host->sh)
		rc = host->sh(host->ctx, cmd, &code, &output, &error);
	else
		error = rb_xstrdup("sh() is not available here");
	put_i64(out, rc < 0 ? -1 : 0);
	put_i64(out, code);
	put_str(out, output);
	put_str(out, error);
	free(output);
	free(error);
	return 0;
}

/* Serves one request into out (an answer frame already begun). */
static int answer(const rb_lua_host *host, int type, rd *r, rb_buf *out)
{
	static const rb_lua_host none;
	if (!host)
		host = &none;
	switch (type) {
	case MSG_VAR_GET: {
		const char *name = get_str(r);
		if (r->bad || !name)
			return -1;
		put_str(out, host->var_get ? host->var_get(host->ctx, name) : NULL);
		return 0;
	}
	case MSG_VAR_SET: {
		const char *name = get_str(r);
		const char *value = get_str(r);
		if (r->bad || !name)
			return -1;
		if (host->var_set)
			host->var_set(host->ctx, name, value);
		return 0;
	}
	case MSG_VAR_EACH: {
		size_t at = out->len;
		each_ctx e = {out, 0};
		put_u32(out, 0);
		if (host->var_each)
			host->var_each(host->ctx, each_one, &e);
		set_u32(out->data + at, e.count);
		return 0;
	}
	case MSG_STEP:
		return answer_step(host, r, out);
	case MSG_SQL:
		return answer_sql(host, r, out);
	case MSG_SH:
		return answer_sh(host, r, out);
	case MSG_LOG: {
		const char *msg = get_str(r);
		if (r->bad || !msg)
			return -1;
		if (host->log)
			host->log(host->ctx, msg);
		return 0;
	}
	default:
		return -1;
	}
}

static int decode_result(rd *r, rb_lua_result *res)
{
	memset(res, 0, sizeof *res);
	res->ok = (int)get_i64(r);
	res->truthy = (int)get_i64(r);
	const char *value = get_str(r);
	const char *message = get_str(r);
	res->error_line = (int)get_i64(r);
	res->limit_hit = (int)get_i64(r);
	res->failed = (int)get_i64(r);
	res->interrupted = (int)get_i64(r);
	if (r->bad) {
		memset(res, 0, sizeof *res);
		return -1;
	}
	res->value = value ? rb_xstrdup(value) : NULL;
	res->message = message ? rb_xstrdup(message) : NULL;
	return 0;
}

int rb_lua_wire_serve(int fd, rb_buf *in, const rb_lua_host *host, rb_lua_result *res, int *done)
{
	int served = 0, rc = -1;
	size_t pos = 0;
	rb_buf reply = RB_BUF_INIT;
	while (!*done && in->len - pos >= 4) {
		rd h = {in->data + pos, 4, 0};
		uint32_t n = get_u32(&h);
		if (n < 1 || n > RB_LUA_WIRE_MAX_FRAME)
			goto done;
		if (in->len - pos - 4 < n)
			break;
		int type = (unsigned char)in->data[pos + 4];
		rd r = {in->data + pos + 5, n - 1, 0};
		if (type == MSG_RESULT) {
			if (decode_result(&r, res) < 0)
				goto done;
			*done = 1;
		} else {
			begin(&reply, 0);
			if (answer(host, type, &r, &reply) < 0)
				goto done;
			if (send_frame(fd, &reply) < 0)
				shutdown(fd, SHUT_WR);
			served++;
		}
		pos += 4 + (size_t)n;
	}
	rc = served;
done:
	if (pos) {
		memmove(in->data, in->data + pos, in->len - pos);
		in->len -= pos;
		in->data[in->len] = '\0';
	}
	rb_buf_free(&reply);
	return rc;
}
