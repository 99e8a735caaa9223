/*
 * step_sql.c - the SQL step: a block through the run's connection
 * (sqlexec.h), with the server's limits, lock watching and redaction; its
 * results reach stdout only through the output module.
 */
#define _GNU_SOURCE
#include "run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where the block's results go (sqlexec.h prints on a FILE, never on stdout). */
typedef struct {
	rb_run *r;
	FILE *f;
	FILE *warn;      /* \warn */
	char *text;      /* held: what the memory stream got */
	size_t len;
	int held;        /* printed whole after the block, redacted */
	rb_buf kept;     /* the record's copy of what was printed, at most keep bytes */
	size_t keep;
} results;

/* The step's output as the record keeps it: its first keep bytes. */
static void keep(results *o, const char *buf, size_t n)
{
	size_t room = o->kept.len < o->keep ? o->keep - o->kept.len : 0;
	rb_buf_add(&o->kept, buf, n < room ? n : room);
}

/* Results as they come, the step's output: no secret to hide. */
static ssize_t pass_write(void *cookie, const char *buf, size_t n)
{
	results *o = cookie;
	rb_run_output(o->r, 1, buf, n);
	keep(o, buf, n);
	return (ssize_t)n;
}

/* \warn's text: the step's standard error, secrets hidden. */
static ssize_t warn_write(void *cookie, const char *buf, size_t n)
{
	char *text = rb_xstrndup(buf, n);
	char *c = rb_run_clean(cookie, text);
	rb_run_output(cookie, 2, c, strlen(c));
	free(c);
	free(text);
	return (ssize_t)n;
}

/*
 * Results are held in a memory stream and redacted at the end when there
 * are secrets or the block may set one (\set); else they pass line by line
 * through the output module, as a terminal would show them.
 */
static void results_open(rb_run *r, const rb_step *s, results *o)
{
	memset(o, 0, sizeof *o);
	o->r = r;
	o->keep = r->opts->keep_max ? r->opts->keep_max : 1 << 20;
	o->held = r->redactor->count || r->rb->fm.nsecrets || strstr(s->body, "\\set") || strstr(s->body, "\\gset");
	cookie_io_functions_t wio = {NULL, warn_write, NULL, NULL};
	o->warn = fopencookie((void *)r, "w", wio);
	if (o->warn)
		setvbuf(o->warn, NULL, _IOLBF, 0);
	if (o->held) {
		o->f = open_memstream(&o->text, &o->len);
	} else {
		cookie_io_functions_t io = {NULL, pass_write, NULL, NULL};
		o->f = fopencookie(o, "w", io);
		if (o->f)
			setvbuf(o->f, NULL, _IOLBF, 0);
	}
}

/* Closes the stream; held results are printed now, with the secrets known now. */
static void results_close(rb_run *r, results *o)
{
	if (o->f)
		fclose(o->f);
	if (o->warn)
		fclose(o->warn);
	o->f = o->warn = NULL;
	if (o->held && o->len) {
		char *c = rb_run_clean(r, o->text);
		rb_run_output(r, 1, c, strlen(c));
		keep(o, c, strlen(c));
		free(c);
	}
	free(o->text);
	o->text = NULL;
	o->len = 0;
}

/* The step's connection, its backend in the record. 0, or -1 with the error said and *st set. */
static int connect_step(rb_run *r, const rb_step *s, PGconn **conn, rb_status *st, int *env, int *usage)
{
	int rc = -1;
	rb_error err = RB_ERROR_INIT;
	if (rb_dbset_get(r->dbs, s->db, &r->vars, conn, &err) < 0 && err.code > 128) {
		rb_run_result(r, s, RB_STATUS_CANCELLED, "interrupted while connecting (stopped)");
		*st = RB_STATUS_CANCELLED;
		goto done;
	}
	if (!*conn) {
		rb_run_step_error(r, s, "%s", err.message);
		*env = err.code == RB_EXIT_ENV;
		*usage = !*env;
		goto done;
	}
	char pid[16];
	snprintf(pid, sizeof pid, "%d", PQbackendPID(*conn));
	rb_ev ev = {.type = RB_EV_PROCESS, .step = s, .value = "backend", .name = pid, .exit_code = -1};
	rb_run_emit(r, &ev);
	rc = 0;
done:
	rb_error_clear(&err);
	return rc;
}

/* A statement sent, then done: RB_EV_SQL (--verbose shows it, the JSON events keep it). */
static void on_statement(void *ctx, const char *sql, const char *file, int line, const char *tag, int64_t ms)
{
	rb_run *r = ctx;
	rb_ev ev = {.type = RB_EV_SQL, .step = r->current, .text = sql, .line = line, .duration_ms = ms,
		    .value = tag, .status = ms < 0 ? RB_STATUS_NOT_REACHED : tag ? RB_STATUS_OK : RB_STATUS_FAILED,
		    .exit_code = -1};
	ev.file = file && strcmp(file, r->rb->path) ? file : NULL;
	rb_run_emit(r, &ev);
}

/*
 * Runs the block with the step's limits, lock watching on; once more on a
 * fresh connection when the connection had died between steps (a server
 * restart) and nothing of the block was sent. rb_sqlexec_run's result.
 */
static int execute(rb_run *r, const rb_step *s, PGconn *conn, const results *out, rb_sqlexec_result *sr,
		   rb_error *err)
{
	rb_sqlexec_opts o;
	memset(&o, 0, sizeof o);
	o.conn = conn;
	o.file = r->rb->path;
	o.dir = r->rb->dir;
	o.body = s->body;
	o.body_line = s->body_line;
	o.body_col = s->col;
	o.mode = s->transaction;
	o.timeout_ms = rb_run_step_timeout(r, s);
	o.lock_timeout_ms = s->lock_timeout_ms >= 0 ? s->lock_timeout_ms
			    : r->rb->fm.lock_timeout_ms >= 0 ? r->rb->fm.lock_timeout_ms : DEFAULT_LOCK_TIMEOUT_MS;
	o.vars = &r->vars;
	o.display_rows = s->rows < 0 ? RB_SQL_ROWS_ALL : (size_t)s->rows;
	o.out = out->f;
	o.warn = out->warn;
	o.poll = rb_run_sql_poll;
	o.poll_ctx = r;
	o.poll_every_ms = 100;
	o.on_statement = on_statement;
	o.statement_ctx = r;
	r->sql_busy = 1;
	r->sql_backend = PQbackendPID(conn);
	r->sql_started = rb_now_ms();
	r->next_lock_check = 0;
	free(r->blocker);
	r->blocker = NULL;
	int ran = rb_sqlexec_run(&o, sr, err);
	if (ran < 0 && sr->not_started && rb_dbset_get(r->dbs, s->db, &r->vars, &conn, err) == 0) {
		rb_sqlexec_result_free(sr);
		rb_error_clear(err);
		o.conn = conn;
		r->sql_backend = PQbackendPID(conn);
		ran = rb_sqlexec_run(&o, sr, err);
	}
	r->sql_busy = 0;
	r->sql_backend = 0;
	if (!strcmp(sr->sqlstate, "55P03")) {
		/* lock_not_available: say who held the lock. */
		char *m = rb_xasprintf("%s; blocked by %s", sr->message ? sr->message : "lock timeout",
				       r->blocker ? r->blocker : "a session that could not be identified");
		free(sr->message);
		sr->message = m;
	}
	return ran;
}

/* The step's result from the block's (its rows moved), then capture=. The step's status. */
static rb_status finish(rb_run *r, const rb_step *s, rb_step_result *res, rb_sqlexec_result *sr)
{
	rb_outcome oc;
	memset(&oc, 0, sizeof oc);
	res->duration_ms = sr->duration_ms;
	res->exit_code = sr->ok ? 0 : 1;
	snprintf(res->sqlstate, sizeof res->sqlstate, "%s", sr->sqlstate);
	rb_run_keep_text(&res->err, sr->message);
	rb_rows_move(&res->rows, &sr->rows);
	if (sr->rows_not_shown > 0) {
		/* The output is not in the record: say that it was cut, and by how much. */
		char n[24], *text = rb_xasprintf("step '%s': %lld result row%s not shown (rows=%lld)", s->id,
						  (long long)sr->rows_not_shown, sr->rows_not_shown == 1 ? "" : "s",
						  (long long)(s->rows > 0 ? s->rows : RB_SQL_ROWS_DEFAULT));
		snprintf(n, sizeof n, "%lld", (long long)sr->rows_not_shown);
		const char *f[] = {"step", s->id, "rows_not_shown", n, NULL};
		rb_run_note(r, 0, text, f);
		free(text);
	}
	oc.reason = sr->reason;
	oc.failed = !sr->ok;
	oc.exit_code = res->exit_code;
	oc.sqlstate = sr->sqlstate;
	oc.message = sr->message;
	oc.file = sr->err_file && strcmp(sr->err_file, r->rb->path) ? sr->err_file : NULL;
	oc.line = sr->err_line;
	oc.col = sr->err_col;
	oc.duration_ms = sr->duration_ms;
	rb_status st = rb_run_conclude(r, s, &oc);
	if (st == RB_STATUS_OK && s->capture.value && !oc.failed) {
		const rb_rows *rows = &res->rows;
		if (!rows->nrows || !rows->ncols) {
			rb_run_step_error(r, s, "capture=%s: the last statement returned no row", s->capture.value);
			st = RB_STATUS_FAILED;
		} else {
			rb_run_set_var(r, s->capture.value, rows->cells[0] ? rows->cells[0] : "", RB_VAR_CAPTURE);
		}
	}
	return st;
}

/* Runs a sql step over the run's connection; returns the step's status. */
static rb_status run_sql(rb_run *r, const rb_step *s, rb_step_result *res, int *env, int *usage)
{
	rb_status st = RB_STATUS_FAILED;
	rb_error err = RB_ERROR_INIT;
	rb_sqlexec_result sr;
	PGconn *conn = NULL;
	results out;
	memset(&sr, 0, sizeof sr);
	memset(&out, 0, sizeof out);
	res->is_sql = 1;

	if (connect_step(r, s, &conn, &st, env, usage) < 0)
		goto done;
	results_open(r, s, &out);
	unsigned long changes = r->vars.changes;
	int ran = execute(r, s, conn, &out, &sr, &err);
	if (r->vars.changes != changes)
		rb_run_hide_secrets(r); /* \set or \gset gave variables new values, a secret's maybe */
	results_close(r, &out);
	rb_run_keep_text(&res->out, rb_buf_cstr(&out.kept));
	if (ran < 0) {
		rb_run_step_error_in(r, s, err.file, err.line, err.col, "%s", err.message);
		rb_run_result(r, s, RB_STATUS_FAILED, "failed: the block could not be run");
		*env = err.code == RB_EXIT_ENV;
		*usage = !*env;
		goto done;
	}
	st = finish(r, s, res, &sr);
done:
	results_close(r, &out);
	rb_buf_free(&out.kept);
	rb_sqlexec_result_free(&sr);
	rb_error_clear(&err);
	return st;
}

static rb_status sql_step(rb_run *r, const rb_step *s, rb_step_result *res, int *rc)
{
	int env = 0, usage = 0;
	rb_status st = run_sql(r, s, res, &env, &usage);
	*rc = env ? RB_EXIT_ENV : usage ? RB_EXIT_USAGE : RB_EXIT_STEP;
	return st;
}

static const char *const sql_languages[] = {"sql", "postgresql", "pgsql", "psql", NULL};

const rb_step_ops rb_step_sql_ops = {
	.kind = RB_STEP_SQL, .name = "sql", .languages = sql_languages, .run = sql_step};
