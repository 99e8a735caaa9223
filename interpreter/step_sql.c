/*
 * step_sql.c - the SQL step: a block through the run's connection
 * (sqlexec.h), with the server's limits, lock watching and redaction.
 */
#define _GNU_SOURCE
#include "run.h"
#include "output.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs a sql step over the run's connection; returns the step's status. */
static rb_status run_sql(rb_run *r, const rb_step *s, rb_step_result *res, int *env, int *usage)
{
	rb_status st = RB_STATUS_FAILED;
	rb_error err = RB_ERROR_INIT;
	rb_sqlexec_result sr;
	rb_outcome oc;
	PGconn *conn = NULL;
	char *shown = NULL;
	size_t shown_len = 0;
	FILE *out = NULL;
	memset(&sr, 0, sizeof sr);
	memset(&oc, 0, sizeof oc);
	res->is_sql = 1;

	if (rb_dbset_get(r->dbs, s->db, &r->vars, &conn, &err) < 0 && err.code > 128) {
		char n[48];
		rb_run_say(r, "%s interrupted while connecting (stopped)\n", rb_run_counter(r, s, n, sizeof n));
		st = RB_STATUS_CANCELLED;
		goto done;
	}
	if (!conn) {
		rb_run_step_error(r, s, "%s", err.message);
		*env = err.code == RB_EXIT_ENV;
		*usage = !*env;
		goto done;
	}
	if (r->opts->record) {
		char pid[16];
		snprintf(pid, sizeof pid, "%d", PQbackendPID(conn));
		rb_record_event(r->opts->record, "process", "step", s->id, "backend", pid, NULL);
	}
	/* Results are printed per statement through a memory stream, so they can
	 * be redacted, when there are secrets or the block may set one (\set). */
	out = r->redactor->count || r->rb->fm.nsecrets || strstr(s->body, "\\set")
		      ? open_memstream(&shown, &shown_len) : NULL;
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
	o.out = out ? out : stdout;
	o.poll = rb_run_sql_poll;
	o.poll_ctx = r;
	o.poll_every_ms = 100;
	r->sql_busy = 1;
	r->sql_backend = PQbackendPID(conn);
	r->sql_started = rb_now_ms();
	r->next_lock_check = 0;
	free(r->blocker);
	r->blocker = NULL;
	int ran = rb_sqlexec_run(&o, &sr, &err);
	if (ran < 0 && sr.not_started && rb_dbset_get(r->dbs, s->db, &r->vars, &conn, &err) == 0) {
		/* The connection had died between steps (a server restart): nothing
		 * of the block was sent, so it runs once more on a fresh one. */
		rb_sqlexec_result_free(&sr);
		rb_error_clear(&err);
		o.conn = conn;
		r->sql_backend = PQbackendPID(conn);
		ran = rb_sqlexec_run(&o, &sr, &err);
	}
	r->sql_busy = 0;
	r->sql_backend = 0;
	if (!strcmp(sr.sqlstate, "55P03")) {
		/* lock_not_available: rb_run_say who held the lock. */
		char *m = rb_xasprintf("%s; blocked by %s", sr.message ? sr.message : "lock timeout",
				       r->blocker ? r->blocker : "a session that could not be identified");
		free(sr.message);
		sr.message = m;
	}
	rb_run_hide_secrets(r); /* \set may have given a secret a new value */
	if (out) {
		fclose(out);
		out = NULL;
		char *c = rb_run_clean(r, shown);
		rb_out_write(1, c, strlen(c));
		free(c);
	}
	if (ran < 0) {
		rb_run_step_error_in(r, s, err.file, err.line, err.col, "%s", err.message);
		char n[48];
		rb_run_say(r, "%s failed: the block could not be run\n", rb_run_counter(r, s, n, sizeof n));
		*env = err.code == RB_EXIT_ENV;
		*usage = !*env;
		goto done;
	}
	res->duration_ms = sr.duration_ms;
	res->exit_code = sr.ok ? 0 : 1;
	snprintf(res->sqlstate, sizeof res->sqlstate, "%s", sr.sqlstate);
	rb_run_keep_text(&res->err, sr.message);
	rb_sql_rows_free(&res->rows);
	res->rows = sr.rows;
	memset(&sr.rows, 0, sizeof sr.rows);
	oc.reason = sr.reason;
	oc.failed = !sr.ok;
	oc.exit_code = res->exit_code;
	oc.sqlstate = sr.sqlstate;
	oc.message = sr.message;
	oc.file = sr.err_file && strcmp(sr.err_file, r->rb->path) ? sr.err_file : NULL;
	oc.line = sr.err_line;
	oc.col = sr.err_col;
	oc.duration_ms = sr.duration_ms;
	st = rb_run_conclude(r, s, &oc);
	if (st == RB_STATUS_OK && s->capture.value && !oc.failed) {
		const rb_sql_rows *rows = &res->rows;
		if (!rows->nrows || !rows->ncols) {
			rb_run_step_error(r, s, "capture=%s: the last statement returned no row", s->capture.value);
			st = RB_STATUS_FAILED;
			goto done;
		}
		rb_run_set_var(r, s->capture.value, rows->cells[0] ? rows->cells[0] : "", RB_VAR_CAPTURE);
	}
done:
	if (out)
		fclose(out);
	free(shown);
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
