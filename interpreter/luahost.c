/*
 * luahost.c - what Lua sees of a run (vars, steps, sql, sh, log: luavm.h's
 * host callbacks) and the abort conditions, which are Lua watching the run.
 */
#define _GNU_SOURCE
#include "run.h"
#include "signals.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *host_var_get(void *ctx, const char *name)
{
	return rb_vars_get(&((rb_run *)ctx)->vars, name);
}

static void host_var_set(void *ctx, const char *name, const char *value)
{
	rb_run *r = ctx;
	if (value)
		rb_run_set_var(r, name, value, RB_VAR_CAPTURE);
	else
		rb_vars_unset(&r->vars, name);
}

static void host_var_each(void *ctx, void (*fn)(void *, const char *, const char *), void *ctx2)
{
	rb_run *r = ctx;
	for (size_t i = 0; i < r->vars.count; i++)
		fn(ctx2, r->vars.items[i].name, r->vars.items[i].value);
}

static int host_step(void *ctx, const char *id, rb_lua_step *out)
{
	rb_run *r = ctx;
	const rb_step *s = rb_runbook_find_step(r->rb, id);
	if (!s)
		return -1;
	const rb_step_result *res = &r->results[s - r->rb->steps];
	out->status = rb_status_name(res->status);
	out->exit_code = res->exit_code;
	out->stdout_text = res->out;
	out->stderr_text = res->err;
	out->sqlstate = res->sqlstate;
	out->row_count = res->is_sql ? res->rows.row_count : -1;
	out->duration_ms = res->duration_ms;
	out->ncols = res->rows.ncols;
	out->names = res->rows.names;
	out->types = res->rows.types;
	out->cells = res->rows.cells;
	out->nrows = res->rows.nrows;
	return 0;
}

static int host_sql(void *ctx, const char *query, const char *const *params, int nparams,
		    rb_rows *rows, char **error)
{
	rb_run *r = ctx;
	rb_error err = RB_ERROR_INIT;
	PGconn *conn = NULL;
	int rc = -1;
	rb_dbset *set = r->dbs;
	if (r->sql_busy)
		set = rb_run_monitor(r);
	if (rb_dbset_get(set, NULL, &r->vars, &conn, &err) < 0) {
		*error = rb_xstrdup(err.message);
		goto done;
	}
	PGresult *res = NULL;
	if (rb_db_query_readonly(conn, query, params, nparams, r->lua_deadline, &res, error) < 0) {
		char *m = rb_xasprintf("sql(): %s", *error);
		free(*error);
		*error = m;
		goto done;
	}
	ExecStatusType st = PQresultStatus(res);
	if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK) {
		const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		const char *code = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		*error = rb_xasprintf("sql(): %s%s%s", code ? code : "", code ? ": " : "",
				      m ? m : PQerrorMessage(conn));
		PQclear(res);
		goto done;
	}
	rb_sql_rows_from(rows, res);
	PQclear(res);
	rc = 0;
done:
	rb_error_clear(&err);
	return rc;
}

static void discard(void *ctx, int stream, const char *data, size_t len)
{
	(void)ctx;
	(void)stream;
	(void)data;
	(void)len;
}

/*
 * A process group started for the current step: the watchdog stops it if
 * runbook dies, and the journal keeps it so that the next run's recovery can
 * tell whether it survived.
 */
void rb_run_on_process(void *ctx, int pgid)
{
	rb_run *r = ctx;
	char n[16];
	rb_watchdog_watch(r->watchdog, pgid);
	snprintf(n, sizeof n, "%d", pgid);
	if (r->current) {
		rb_ev ev = {.type = RB_EV_PROCESS, .step = r->current, .value = "pgid", .name = n, .exit_code = -1};
		rb_run_emit(r, &ev);
	}
}

static int host_sh(void *ctx, const char *cmd, int *code, char **output, char **error)
{
	rb_run *r = ctx;
	rb_shell_opts o;
	rb_shell_result sr;
	rb_error err = RB_ERROR_INIT;
	char **envp = rb_vars_envp(&r->vars);
	int rc = -1;
	memset(&o, 0, sizeof o);
	o.script = cmd;
	o.label = "sh()";
	o.cwd = r->rb->dir;
	o.envp = envp;
	o.timeout_ms = 60000;
	o.keep_max = 1 << 20;
	o.sink = discard; /* output is returned, not shown */
	o.on_start = rb_run_on_process;
	o.on_start_ctx = r;
	int ran = rb_shell_run(&o, &sr, &err);
	rb_watchdog_watch(r->watchdog, 0);
	if (ran < 0) {
		*error = rb_xstrdup(err.message);
		goto done;
	}
	*code = sr.status;
	*output = rb_trim_dup(sr.out);
	rb_shell_result_free(&sr);
	rc = 0;
done:
	rb_error_clear(&err);
	rb_vars_envp_free(envp);
	return rc;
}

static void host_log(void *ctx, const char *msg)
{
	rb_run *r = ctx;
	rb_ev ev = {.type = RB_EV_LOG, .step = r->current, .text = msg, .exit_code = -1};
	rb_run_emit(r, &ev);
}

static rb_lua_host make_host(rb_run *r)
{
	rb_lua_host h = {r, host_var_get, host_var_set, host_var_each, host_step, host_sql, host_sh,
			 host_log};
	return h;
}

/* Evaluates Lua from step s (its body, or an attribute's expression). */
void rb_run_eval_lua(rb_run *r, const char *code, int expression, int line, rb_lua_result *res)
{
	rb_lua_host host = make_host(r);
	rb_lua_origin origin = {r->rb->path, line, r->rb->dir};
	r->lua_deadline = rb_now_ms() + LUA_MAX_MS;
	rb_lua_eval(code, expression, &origin, &host, r->lua_dirs, NULL, res);
}

/* 1 when an abort condition is armed and counts now (in the handler: during_handler ones). */
int rb_run_aborts_live(const rb_run *r)
{
	for (size_t i = 0; i < r->naborts; i++)
		if (!r->in_handler || r->aborts[i]->during_handler)
			return 1;
	return 0;
}

/* Evaluates every armed abort condition; returns 1 (and records why) when one fires. */
int rb_run_check_aborts(rb_run *r)
{
	for (size_t i = 0; i < r->naborts && !r->fired; i++) {
		const rb_step *a = r->aborts[i];
		rb_lua_result res;
		if (r->in_handler && !a->during_handler)
			continue;
		rb_run_eval_lua(r, a->body, 0, a->body_line, &res);
		if (rb_signals_interrupted()) {
			/* Stopped by a signal, not by the condition: the caller sees the signal. */
			rb_lua_result_free(&res);
			break;
		}
		if (!res.ok || res.truthy)
			free(r->fired_reason); /* the previous one was reported before the handler began */
		if (!res.ok) {
			r->fired = a;
			r->fired_reason = rb_xasprintf("the abort condition failed to evaluate: %s",
						       res.message ? res.message : "error");
		} else if (res.truthy) {
			r->fired = a;
			r->fired_reason = rb_xstrdup(res.message ? res.message : "the abort condition is true");
		}
		rb_lua_result_free(&res);
	}
	return r->fired != NULL;
}

int rb_run_abort_poll(void *ctx)
{
	rb_run *r = ctx;
	int64_t now = rb_now_ms();
	rb_run_tick(r);
	if (!rb_run_aborts_live(r) || now < r->next_check)
		return 0;
	r->next_check = now + r->every_ms;
	return rb_run_check_aborts(r);
}

/*
 * While a SQL statement runs: abort conditions, and who blocks it. A
 * statement still running after a second is looked at once a second from
 * the monitor connection, so that a lock timeout can name its blocker.
 */
int rb_run_sql_poll(void *ctx)
{
	rb_run *r = ctx;
	int64_t now = rb_now_ms();
	if (!rb_run_aborts_live(r))
		rb_run_tick(r); /* else rb_run_abort_poll ticks */
	if (r->sql_backend && now - r->sql_started >= 1000 && now >= r->next_lock_check) {
		PGconn *m = NULL;
		rb_error err = RB_ERROR_INIT;
		r->next_lock_check = now + 1000;
		if (rb_dbset_get(rb_run_monitor(r), r->current ? r->current->db : NULL, &r->vars, &m, &err) == 0) {
			char *who = rb_db_blocker(m, r->sql_backend);
			if (who) {
				free(r->blocker);
				r->blocker = who;
			}
		}
		rb_error_clear(&err);
	}
	return rb_run_aborts_live(r) ? rb_run_abort_poll(ctx) : 0;
}

/* Arms an abort condition: checked before each later step and while steps run. */
void rb_run_arm(rb_run *r, const rb_step *s)
{
	r->aborts = rb_xrealloc(r->aborts, (r->naborts + 1) * sizeof *r->aborts);
	r->aborts[r->naborts++] = s;
	int64_t every = s->every_ms > 0 ? s->every_ms : DEFAULT_EVERY_MS;
	if (!r->every_ms || every < r->every_ms)
		r->every_ms = every;
	r->next_check = rb_now_ms() + r->every_ms;
	rb_ev ev = {.type = RB_EV_ABORT_ARMED, .step = s, .delay_ms = every, .exit_code = -1};
	rb_run_emit(r, &ev);
}
