/*
 * engine.c - the run loop.
 *
 * Each step of the main flow goes: selection (--from/--only, skip) ->
 * abort conditions -> when= -> confirm -> header -> executor (with
 * retries) -> expect= -> result line -> captures. The first failing step
 * stops the run unless it says continue_on_error; a false gate or a refused
 * approval stops it with exit 3, a fired abort condition with exit 4. After
 * any of these, and after an interrupt, the on_failure section runs: all of
 * its steps, whatever fails among them, and the run keeps its exit code.
 *
 * Every event goes to opts->record (the journal and audit record) when
 * there is one; every text shown or recorded passes through the redactor.
 */
#define _GNU_SOURCE
#include "engine.h"
#include "approve.h"
#include "db.h"
#include "luavm.h"
#include "pgserver.h"
#include "parse.h"
#include "preflight.h"
#include "runlock.h"
#include "select.h"
#include "watchdog.h"
#include "shell.h"
#include "signals.h"
#include "sqlexec.h"
#include "vars.h"
#include "visible.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#define DEFAULT_EVERY_MS 5000
#define LUA_MAX_MS 5000
#define DEFAULT_LOCK_TIMEOUT_MS 5000  /* docs/format.md: why 5 s */  /* luavm.h's default wall-clock limit of an evaluation */
#define RECORD_OUTPUT_MAX 16384

typedef struct {
	rb_status status;
	int exit_code;        /* shell: exit status; sql: 0 or 1 */
	int64_t duration_ms;
	char *out;            /* kept stdout */
	char *err;            /* kept stderr, or the SQL error message */
	char sqlstate[6];
	rb_sql_rows rows;     /* sql: the last result's rows */
	int is_sql;
	int attempts;         /* runs of the step, retries included */
} step_result;

typedef struct {
	const rb_runbook *rb;
	const rb_run_opts *opts;
	rb_vars vars;
	step_result *results;   /* one per rb->steps entry */
	rb_selection *sel;      /* one per rb->steps entry: what this run does with it */
	rb_watchdog *watchdog;  /* stops the running step's group if runbook dies */
	rb_runlock *lock;       /* one run of this runbook at a time */
	char *lock_dir;         /* where its lock file is, when it has one */
	rb_db_session session;  /* how connections are opened */
	char *app_name;         /* runbook/<slug>/<run id>, in pg_stat_activity */
	const char **db_names;  /* the front matter's named connections, for both sets */
	const char **db_dsns;
	int sql_backend;        /* the running SQL step's backend pid */
	int64_t sql_started;
	int64_t next_lock_check;
	char *blocker;          /* who blocked the running SQL step, last seen */
	const rb_step *current; /* the step running now */
	size_t total;           /* runnable steps of the role running */
	const char *default_dsn; /* --db, else the throwaway server, else the front matter's */
	rb_dbset *dbs;          /* the run's connections */
	rb_dbset *monitor;      /* a second connection for Lua while a sql step holds the first */
	int sql_busy;
	int64_t lua_deadline;   /* the running Lua evaluation's end: sql() may not outlast it */
	rb_pgserver *pg;        /* --ephemeral-db */
	rb_approver approver;
	rb_redactor own_redactor;
	rb_redactor *redactor;
	const char *lua_dirs[3];
	char *local_lua;
	const rb_step **aborts; /* abort conditions armed so far */
	size_t naborts;
	int64_t every_ms;       /* how often they are checked while a step runs */
	int64_t next_check;
	const rb_step *fired;   /* the abort condition that fired */
	char *fired_reason;
	int in_handler;         /* the on_failure section is running: only during_handler aborts count */
	const rb_step *failed_step;
	char *failure_reason;
} run_state;

const char *rb_status_name(rb_status s)
{
	switch (s) {
	case RB_STATUS_OK: return "ok";
	case RB_STATUS_FAILED: return "failed";
	case RB_STATUS_SKIPPED: return "skipped";
	case RB_STATUS_CANCELLED: return "cancelled";
	case RB_STATUS_NOT_REACHED: break;
	}
	return "not reached";
}

/* Text for the terminal or the record, secrets hidden. Caller frees. */
static char *clean(const run_state *r, const char *text)
{
	return rb_redact(r->redactor, text ? text : "");
}

static void say(const run_state *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const run_state *r, const char *fmt, ...)
{
	rb_buf b = RB_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	rb_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	char *c = clean(r, b.data);
	char *v = rb_visible(c);
	fputs(v, stdout);
	fflush(stdout);
	free(v);
	free(c);
	rb_buf_free(&b);
}

/*
 * "file:line:col: step 'id': message" on stderr; remembered as the failure
 * reason. file NULL is the runbook; line 0 is the step's fence.
 */
static void step_error_in(run_state *r, const rb_step *s, const char *file, int line, int col,
			  const char *fmt, ...) __attribute__((format(printf, 6, 7)));
static void step_error_in(run_state *r, const rb_step *s, const char *file, int line, int col,
			  const char *fmt, ...)
{
	rb_buf b = RB_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	rb_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	char *c = clean(r, b.data);
	char *v = rb_visible(c);
	fflush(stdout);
	fprintf(stderr, "%s:%d:%d: step '%s': %s\n", file ? file : r->rb->path, line ? line : s->line,
		line ? col : s->col, s->id, v);
	free(v);
	fflush(stderr);
	free(r->failure_reason);
	r->failure_reason = c;
	rb_buf_free(&b);
}

#define step_error_at(r, s, line, col, ...) step_error_in((r), (s), NULL, (line), (col), __VA_ARGS__)
#define step_error(r, s, ...) step_error_in((r), (s), NULL, 0, 0, __VA_ARGS__)

static char *join_dir(const char *dir, const char *path)
{
	if (path[0] == '/')
		return rb_xstrdup(path);
	return rb_xasprintf("%s/%s", dir, path);
}

/* Sets a variable; a secret's new value is hidden before anything can print it. */
static void set_var(run_state *r, const char *name, const char *value, rb_var_source src)
{
	if (rb_runbook_is_secret(r->rb, name))
		rb_redactor_add(r->redactor, value);
	rb_vars_set(&r->vars, name, value, src);
}

/* Hides the current value of every secret variable (after code that sets variables itself). */
static void hide_secret_vars(run_state *r)
{
	for (size_t i = 0; i < r->vars.count; i++)
		if (rb_runbook_is_secret(r->rb, r->vars.items[i].name))
			rb_redactor_add(r->redactor, r->vars.items[i].value);
}

/* --- Lua host ----------------------------------------------------------- */

static const char *host_var_get(void *ctx, const char *name)
{
	return rb_vars_get(&((run_state *)ctx)->vars, name);
}

static void host_var_set(void *ctx, const char *name, const char *value)
{
	run_state *r = ctx;
	if (value)
		set_var(r, name, value, RB_VAR_CAPTURE);
	else
		rb_vars_unset(&r->vars, name);
}

static void host_var_each(void *ctx, void (*fn)(void *, const char *, const char *), void *ctx2)
{
	run_state *r = ctx;
	for (size_t i = 0; i < r->vars.count; i++)
		fn(ctx2, r->vars.items[i].name, r->vars.items[i].value);
}

static int host_step(void *ctx, const char *id, rb_lua_step *out)
{
	run_state *r = ctx;
	const rb_step *s = rb_runbook_find_step(r->rb, id);
	if (!s)
		return -1;
	const step_result *res = &r->results[s - r->rb->steps];
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

/* A connection set as the run opens them: redacted, named, recorded. */
static rb_dbset *new_dbset(run_state *r)
{
	rb_dbset *set = rb_dbset_new(r->default_dsn, r->db_names, r->db_dsns, r->rb->fm.ndatabases);
	rb_dbset_set_redactor(set, r->redactor);
	rb_dbset_configure(set, &r->session);
	return set;
}

/* The second set of connections: Lua while a SQL step holds the first, lock watching. */
static rb_dbset *monitor_set(run_state *r)
{
	if (!r->monitor)
		r->monitor = new_dbset(r);
	return r->monitor;
}

/* Every new connection's target and server version go into the record. */
static void on_connect(void *ctx, const char *name, PGconn *conn)
{
	run_state *r = ctx;
	if (!r->opts->record)
		return;
	char *target = rb_db_target(conn);
	char version[16];
	snprintf(version, sizeof version, "%d", PQserverVersion(conn));
	rb_record_event(r->opts->record, "database", "name", *name ? name : "default", "target", target,
			"server_version", version, NULL);
	free(target);
}

static int host_sql(void *ctx, const char *query, const char *const *params, int nparams,
		    rb_lua_rows *rows, char **error)
{
	run_state *r = ctx;
	rb_error err = RB_ERROR_INIT;
	PGconn *conn = NULL;
	int rc = -1;
	rb_dbset *set = r->dbs;
	if (r->sql_busy)
		set = monitor_set(r);
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
	rows->ncols = PQnfields(res);
	rows->nrows = (size_t)PQntuples(res);
	rows->names = rb_xcalloc((size_t)rows->ncols + 1, sizeof *rows->names);
	rows->types = rb_xcalloc((size_t)rows->ncols + 1, 1);
	rows->cells = rb_xcalloc(rows->nrows * (size_t)rows->ncols + 1, sizeof *rows->cells);
	for (int c = 0; c < rows->ncols; c++) {
		rows->names[c] = rb_xstrdup(PQfname(res, c));
		rows->types[c] = rb_sql_column_type(PQftype(res, c));
	}
	for (size_t i = 0; i < rows->nrows; i++)
		for (int c = 0; c < rows->ncols; c++)
			rows->cells[i * (size_t)rows->ncols + (size_t)c] =
				PQgetisnull(res, (int)i, c) ? NULL : rb_xstrdup(PQgetvalue(res, (int)i, c));
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
static void on_process(void *ctx, int pgid)
{
	run_state *r = ctx;
	char n[16];
	rb_watchdog_watch(r->watchdog, pgid);
	snprintf(n, sizeof n, "%d", pgid);
	if (r->opts->record && r->current)
		rb_record_event(r->opts->record, "process", "step", r->current->id, "pgid", n, NULL);
}

static int host_sh(void *ctx, const char *cmd, int *code, char **output, char **error)
{
	run_state *r = ctx;
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
	o.on_start = on_process;
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
	run_state *r = ctx;
	say(r, "  log: %s\n", msg);
}

static rb_lua_host make_host(run_state *r)
{
	rb_lua_host h = {r, host_var_get, host_var_set, host_var_each, host_step, host_sql, host_sh,
			 host_log};
	return h;
}

/* Evaluates Lua from step s (its body, or an attribute's expression). */
static void eval_lua(run_state *r, const char *code, int expression, int line, rb_lua_result *res)
{
	rb_lua_host host = make_host(r);
	rb_lua_origin origin = {r->rb->path, line, r->rb->dir};
	r->lua_deadline = rb_now_ms() + LUA_MAX_MS;
	rb_lua_eval(code, expression, &origin, &host, r->lua_dirs, NULL, res);
}

/* --- abort conditions ----------------------------------------------------- */

/* 1 when an abort condition is armed and counts now (in the handler: during_handler ones). */
static int aborts_live(const run_state *r)
{
	for (size_t i = 0; i < r->naborts; i++)
		if (!r->in_handler || r->aborts[i]->during_handler)
			return 1;
	return 0;
}

/* Evaluates every armed abort condition; returns 1 (and records why) when one fires. */
static int check_aborts(run_state *r)
{
	for (size_t i = 0; i < r->naborts && !r->fired; i++) {
		const rb_step *a = r->aborts[i];
		rb_lua_result res;
		if (r->in_handler && !a->during_handler)
			continue;
		eval_lua(r, a->body, 0, a->body_line, &res);
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

static int abort_poll(void *ctx)
{
	run_state *r = ctx;
	int64_t now = rb_now_ms();
	if (now < r->next_check)
		return 0;
	r->next_check = now + r->every_ms;
	return check_aborts(r);
}

/*
 * While a SQL statement runs: abort conditions, and who blocks it. A
 * statement still running after a second is looked at once a second from
 * the monitor connection, so that a lock timeout can name its blocker.
 */
static int sql_poll(void *ctx)
{
	run_state *r = ctx;
	int64_t now = rb_now_ms();
	if (r->sql_backend && now - r->sql_started >= 1000 && now >= r->next_lock_check) {
		PGconn *m = NULL;
		rb_error err = RB_ERROR_INIT;
		r->next_lock_check = now + 1000;
		if (rb_dbset_get(monitor_set(r), r->current ? r->current->db : NULL, &r->vars, &m, &err) == 0) {
			char *who = rb_db_blocker(m, r->sql_backend);
			if (who) {
				free(r->blocker);
				r->blocker = who;
			}
		}
		rb_error_clear(&err);
	}
	return aborts_live(r) ? abort_poll(ctx) : 0;
}

/* The exit code of an interrupted run: 128 + the signal, as shells report it. */
static int interrupted_code(void)
{
	int sig = rb_signals_interrupted();
	return sig ? 128 + sig : RB_EXIT_INTERRUPTED;
}

/* --- executors ------------------------------------------------------------ */

/* How a step ended, before expect_error and continue_on_error are applied. */
typedef struct {
	int failed;
	rb_end_reason reason;
	int exit_code;
	const char *sqlstate;
	const char *message;  /* error text for failures, and for expect_error */
	const char *output;   /* stdout, for expect_error on shell steps */
	const char *file;     /* where the error is: NULL for the runbook, or an \\i file */
	int line, col;        /* 0: the step's fence */
	int64_t duration_ms;
} outcome;

static const char *counter(const run_state *r, const rb_step *s, char *buf, size_t size)
{
	if (s->role == RB_ROLE_ON_FAILURE)
		snprintf(buf, size, "[on failure %d/%zu]", s->number, r->total);
	else
		snprintf(buf, size, "[%d/%zu]", s->number, r->total);
	return buf;
}

/* Prints the result line and the error, applies expect_error; returns the status. */
static rb_status conclude(run_state *r, const rb_step *s, const outcome *oc)
{
	char d[32], n[48];
	rb_format_duration(oc->duration_ms, d, sizeof d);
	counter(r, s, n, sizeof n);
	if (oc->reason == RB_END_INTERRUPTED) {
		say(r, "%s interrupted after %s (stopped)\n", n, d);
		free(r->failure_reason);
		r->failure_reason = rb_xstrdup("interrupted");
		return RB_STATUS_CANCELLED;
	}
	if (oc->reason == RB_END_CANCELLED) {
		say(r, "%s cancelled after %s: an abort condition fired\n", n, d);
		return RB_STATUS_CANCELLED;
	}
	if (oc->reason == RB_END_TIMEOUT) {
		say(r, "%s timed out after %s (stopped)\n", n, d);
		step_error(r, s, "timed out after %s%s", d,
			   s->kind == RB_STEP_SQL ? "; the statement was cancelled on the server and rolled back" : "");
		return RB_STATUS_FAILED;
	}
	if (s->expect_error.value) {
		const char *want = s->expect_error.value;
		int matched = 0;
		if (oc->failed && s->kind == RB_STEP_SQL)
			matched = rb_sql_error_matches(want, oc->sqlstate, oc->message);
		else if (oc->failed)
			matched = strstr(oc->message ? oc->message : "", want) ||
				  strstr(oc->output ? oc->output : "", want) ||
				  (atoi(want) != 0 && atoi(want) == oc->exit_code);
		const char *code = oc->sqlstate && *oc->sqlstate ? oc->sqlstate : NULL;
		if (matched) {
			say(r, "%s ok: failed as expected (%s%s%s) in %s\n", n, code ? code : "",
			    code ? ": " : "", want, d);
			return RB_STATUS_OK;
		}
		say(r, "%s failed: expected an error matching '%s'\n", n, want);
		if (oc->failed)
			step_error(r, s, "expected an error matching '%s', got %s%s%s", want,
				   code ? code : "", code ? ": " : "", oc->message ? oc->message : "");
		else
			step_error(r, s, "expected an error matching '%s', but the step succeeded", want);
		return RB_STATUS_FAILED;
	}
	if (!oc->failed) {
		say(r, "%s ok in %s\n", n, d);
		return RB_STATUS_OK;
	}
	if (s->kind == RB_STEP_SQL) {
		const char *code = oc->sqlstate && *oc->sqlstate ? oc->sqlstate : NULL;
		say(r, "%s failed: %s%s in %s\n", n, code ? "SQLSTATE " : "error", code ? code : "", d);
		step_error_in(r, s, oc->file, oc->line, oc->col, "ERROR%s%s: %s", code ? " " : "", code ? code : "",
			      oc->message ? oc->message : "failed");
		return RB_STATUS_FAILED;
	}
	say(r, "%s failed: exit %d in %s\n", n, oc->exit_code, d);
	step_error(r, s, "failed with exit code %d", oc->exit_code);
	return RB_STATUS_FAILED;
}

static void keep_text(char **dst, const char *src)
{
	free(*dst);
	*dst = rb_xstrdup(src ? src : "");
}

static int64_t step_timeout(const run_state *r, const rb_step *s)
{
	return s->timeout_ms > 0 ? s->timeout_ms : r->rb->fm.timeout_ms;
}

typedef struct {
	const run_state *r;
	rb_redact_stream streams[2];
	int hold;             /* the step captures a secret: keep output until it is known */
	rb_buf held[2];       /* at most HOLD_MAX bytes a stream */
	size_t dropped[2];
} term_sink;

#define HOLD_MAX (256 * 1024)

static void write_all(int fd, const char *data, size_t len)
{
	ssize_t w;
	size_t off = 0;
	while (off < len && (w = write(fd, data + off, len - off)) > 0)
		off += (size_t)w;
}

/* Step output to the terminal as it comes, secrets hidden. */
static void to_terminal(void *ctx, int stream, const char *data, size_t len)
{
	term_sink *t = ctx;
	if (t->hold) {
		rb_buf *h = &t->held[stream - 1];
		size_t room = h->len < HOLD_MAX ? HOLD_MAX - h->len : 0;
		rb_buf_add(h, data, len < room ? len : room);
		t->dropped[stream - 1] += len > room ? len - room : 0;
		return;
	}
	if (!t->r->redactor->count) {
		fflush(NULL);
		write_all(stream, data, len);
		return;
	}
	rb_buf b = RB_BUF_INIT;
	rb_redact_stream_feed(&t->streams[stream - 1], data, len, &b);
	write_all(stream, b.data, b.len);
	rb_buf_free(&b);
}

/* Shows what a secret-capturing step held back, now that its secret is known. */
static void release_held(term_sink *t)
{
	for (int i = 0; i < 2 && t->hold; i++) {
		if (t->held[i].len) {
			char *c = rb_redact(t->r->redactor, rb_buf_cstr(&t->held[i]));
			write_all(i + 1, c, strlen(c));
			free(c);
		}
		if (t->dropped[i]) {
			char *note = rb_xasprintf("[... %zu more bytes held back and not shown]\n", t->dropped[i]);
			write_all(i + 1, note, strlen(note));
			free(note);
		}
		rb_buf_free(&t->held[i]);
	}
}

/* Runs a shell step; returns the step's status and sets *env on environment failures. */
static rb_status run_shell(run_state *r, const rb_step *s, step_result *res, int *env)
{
	rb_status st = RB_STATUS_FAILED;
	rb_error err = RB_ERROR_INIT;
	rb_shell_result sr;
	outcome oc;
	term_sink sink;
	char *cwd = join_dir(r->rb->dir, s->cwd ? s->cwd : ".");
	char *label = rb_xasprintf("%s:%d", r->rb->path, s->line);
	rb_vars_set(&r->vars, "RUNBOOK_STEP", s->id, RB_VAR_RUNBOOK);
	char **envp = rb_vars_envp(&r->vars);
	const char *shell = !strcmp(s->lang, "sh") ? "sh" : r->rb->fm.shell ? r->rb->fm.shell : "bash";
	if (!strcmp(s->lang, "bash"))
		shell = "bash";

	rb_shell_opts o;
	memset(&o, 0, sizeof o);
	memset(&oc, 0, sizeof oc);
	memset(&sr, 0, sizeof sr);
	memset(&sink, 0, sizeof sink);
	sink.r = r;
	sink.hold = s->capture.value && rb_runbook_is_secret(r->rb, s->capture.value);
	rb_redact_stream_init(&sink.streams[0], r->redactor);
	rb_redact_stream_init(&sink.streams[1], r->redactor);
	o.shell = shell;
	o.script = s->body;
	o.label = label;
	o.cwd = cwd;
	o.envp = envp;
	o.timeout_ms = step_timeout(r, s);
	o.grace_ms = r->opts->grace_ms;
	o.interactive = s->interactive;
	o.keep_max = r->opts->keep_max ? r->opts->keep_max : 1 << 20;
	o.sink = to_terminal;
	o.sink_ctx = &sink;
	if (aborts_live(r)) {
		o.poll = abort_poll;
		o.poll_ctx = r;
		o.poll_every_ms = 100;
	}

	o.on_start = on_process;
	o.on_start_ctx = r;
	int ran = rb_shell_run(&o, &sr, &err);
	rb_watchdog_watch(r->watchdog, 0);
	if (ran < 0) {
		step_error(r, s, "%s", err.message);
		*env = 1;
		goto done;
	}
	for (int i = 0; i < 2; i++) {
		rb_buf tail = RB_BUF_INIT;
		rb_redact_stream_flush(&sink.streams[i], &tail);
		write_all(i + 1, tail.data, tail.len);
		rb_buf_free(&tail);
	}
	if (sink.hold && sr.status == 0 && sr.reason == RB_END_EXITED && sr.out_total <= sr.out_len) {
		char *v = rb_trim_dup(sr.out);
		set_var(r, s->capture.value, v, RB_VAR_CAPTURE);
		free(v);
	}
	release_held(&sink);
	res->exit_code = sr.status;
	res->duration_ms = sr.duration_ms;
	keep_text(&res->out, sr.out);
	keep_text(&res->err, sr.err);
	oc.reason = sr.reason;
	oc.exit_code = sr.status;
	oc.failed = sr.status != 0;
	oc.message = sr.err;
	oc.output = sr.out;
	oc.duration_ms = sr.duration_ms;
	if (sr.leftovers) {
		char n[48];
		say(r, "%s note: background processes left by the step were stopped\n", counter(r, s, n, sizeof n));
	}
	st = conclude(r, s, &oc);
	if (st == RB_STATUS_OK && s->capture.value && !oc.failed) {
		if (sr.out_total > sr.out_len) {
			step_error(r, s, "capture=%s: output of %zu bytes is larger than the %zu kept",
				   s->capture.value, sr.out_total, sr.out_len);
			st = RB_STATUS_FAILED;
			goto done;
		}
		char *v = rb_trim_dup(sr.out);
		set_var(r, s->capture.value, v, RB_VAR_CAPTURE);
		free(v);
	}
done:
	release_held(&sink);
	rb_redact_stream_free(&sink.streams[0]);
	rb_redact_stream_free(&sink.streams[1]);
	rb_shell_result_free(&sr);
	rb_error_clear(&err);
	rb_vars_envp_free(envp);
	free(label);
	free(cwd);
	return st;
}

/* Runs a sql step over the run's connection; returns the step's status. */
static rb_status run_sql(run_state *r, const rb_step *s, step_result *res, int *env, int *usage)
{
	rb_status st = RB_STATUS_FAILED;
	rb_error err = RB_ERROR_INIT;
	rb_sqlexec_result sr;
	outcome oc;
	PGconn *conn = NULL;
	char *shown = NULL;
	size_t shown_len = 0;
	FILE *out = NULL;
	memset(&sr, 0, sizeof sr);
	memset(&oc, 0, sizeof oc);
	res->is_sql = 1;

	if (rb_dbset_get(r->dbs, s->db, &r->vars, &conn, &err) < 0 && err.code > 128) {
		char n[48];
		say(r, "%s interrupted while connecting (stopped)\n", counter(r, s, n, sizeof n));
		st = RB_STATUS_CANCELLED;
		goto done;
	}
	if (!conn) {
		step_error(r, s, "%s", err.message);
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
	o.timeout_ms = step_timeout(r, s);
	o.lock_timeout_ms = s->lock_timeout_ms >= 0 ? s->lock_timeout_ms
			    : r->rb->fm.lock_timeout_ms >= 0 ? r->rb->fm.lock_timeout_ms : DEFAULT_LOCK_TIMEOUT_MS;
	o.vars = &r->vars;
	o.out = out ? out : stdout;
	o.poll = sql_poll;
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
		/* lock_not_available: say who held the lock. */
		char *m = rb_xasprintf("%s; blocked by %s", sr.message ? sr.message : "lock timeout",
				       r->blocker ? r->blocker : "a session that could not be identified");
		free(sr.message);
		sr.message = m;
	}
	hide_secret_vars(r); /* \set may have given a secret a new value */
	if (out) {
		fclose(out);
		out = NULL;
		char *c = clean(r, shown);
		fputs(c, stdout);
		fflush(stdout);
		free(c);
	}
	if (ran < 0) {
		step_error_in(r, s, err.file, err.line, err.col, "%s", err.message);
		char n[48];
		say(r, "%s failed: the block could not be run\n", counter(r, s, n, sizeof n));
		*env = err.code == RB_EXIT_ENV;
		*usage = !*env;
		goto done;
	}
	res->duration_ms = sr.duration_ms;
	res->exit_code = sr.ok ? 0 : 1;
	snprintf(res->sqlstate, sizeof res->sqlstate, "%s", sr.sqlstate);
	keep_text(&res->err, sr.message);
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
	st = conclude(r, s, &oc);
	if (st == RB_STATUS_OK && s->capture.value && !oc.failed) {
		const rb_sql_rows *rows = &res->rows;
		if (!rows->nrows || !rows->ncols) {
			step_error(r, s, "capture=%s: the last statement returned no row", s->capture.value);
			st = RB_STATUS_FAILED;
			goto done;
		}
		set_var(r, s->capture.value, rows->cells[0] ? rows->cells[0] : "", RB_VAR_CAPTURE);
	}
done:
	if (out)
		fclose(out);
	free(shown);
	rb_sqlexec_result_free(&sr);
	rb_error_clear(&err);
	return st;
}

/* A lua step: runs for its effects on vars; an error fails it. */
static rb_status run_lua(run_state *r, const rb_step *s, step_result *res)
{
	rb_lua_result lr;
	char n[48], d[32];
	int64_t t0 = rb_now_ms();
	eval_lua(r, s->body, 0, s->body_line, &lr);
	res->duration_ms = rb_now_ms() - t0;
	rb_format_duration(res->duration_ms, d, sizeof d);
	counter(r, s, n, sizeof n);
	rb_status st = RB_STATUS_OK;
	if (rb_signals_interrupted()) {
		say(r, "%s interrupted after %s (stopped)\n", n, d);
		st = RB_STATUS_CANCELLED;
	} else if (!lr.ok) {
		say(r, "%s failed in %s\n", n, d);
		step_error_at(r, s, lr.error_line, 1, "%s", lr.message ? lr.message : "error");
		keep_text(&res->err, lr.message);
		res->exit_code = 1;
		st = RB_STATUS_FAILED;
	} else {
		say(r, "%s ok in %s\n", n, d);
	}
	rb_lua_result_free(&lr);
	return st;
}

/* A gate: falsy stops the run (exit 3) with the gate's message. Sets *said_no. */
static rb_status run_gate(run_state *r, const rb_step *s, step_result *res, int *said_no)
{
	rb_lua_result lr;
	char n[48];
	eval_lua(r, s->body, 0, s->body_line, &lr);
	counter(r, s, n, sizeof n);
	rb_status st = RB_STATUS_OK;
	keep_text(&res->out, lr.message);
	if (rb_signals_interrupted()) {
		say(r, "%s interrupted while the gate was evaluated (stopped)\n", n);
		st = RB_STATUS_CANCELLED;
	} else if (!lr.ok) {
		say(r, "%s gate failed to evaluate\n", n);
		step_error_at(r, s, lr.error_line, 1, "gate error: %s", lr.message ? lr.message : "error");
		*said_no = 1;
		st = RB_STATUS_FAILED;
	} else if (!lr.truthy) {
		say(r, "%s gate closed: %s\n", n, lr.message ? lr.message : "the gate returned false");
		step_error(r, s, "gate closed: %s", lr.message ? lr.message : "the gate returned false");
		*said_no = 1;
		st = RB_STATUS_FAILED;
	} else {
		say(r, "%s gate open%s%s\n", n, lr.message ? ": " : "", lr.message ? lr.message : "");
	}
	res->exit_code = st == RB_STATUS_OK ? 0 : 1;
	rb_lua_result_free(&lr);
	return st;
}

static const char *operator_name(void)
{
	const char *u = getenv("USER");
	if (!u || !*u)
		u = getenv("LOGNAME");
	return u && *u ? u : "unknown";
}

static void record_approval(run_state *r, const rb_step *s, const char *item, int approved,
			    const char *how)
{
	if (r->opts->record)
		rb_record_event(r->opts->record, "approval", "step", s->id, "item", item, "who",
				operator_name(), "how", how, "approved", approved ? "yes" : "no", NULL);
}

/* A task list: every unchecked item must be approved. Sets *said_no. */
static rb_status run_approval(run_state *r, const rb_step *s, int *said_no)
{
	char n[48];
	counter(r, s, n, sizeof n);
	for (size_t i = 0; i < s->nitems; i++) {
		const rb_approval_item *it = &s->items[i];
		const char *how = "checked in the runbook";
		int ok = it->checked || rb_approve_item(&r->approver, it->text, &how);
		say(r, "  [%c] %s  (%s)\n", ok ? 'x' : ' ', it->text, how);
		record_approval(r, s, it->text, ok, how);
		if (!ok && rb_signals_interrupted()) {
			say(r, "%s interrupted at the prompt (stopped)\n", n);
			return RB_STATUS_CANCELLED;
		}
		if (!ok) {
			say(r, "%s not approved\n", n);
			step_error_at(r, s, it->line, it->col, "not approved: %s (%s)%s", it->text, how,
				      r->approver.interactive || r->approver.yes ? ""
				      : "; run on a terminal, or pass --yes to approve");
			*said_no = 1;
			return RB_STATUS_FAILED;
		}
	}
	say(r, "%s approved\n", n);
	return RB_STATUS_OK;
}

/* confirm / confirm="PHRASE" before a step. Returns 1 when it may run. */
static int confirmed(run_state *r, const rb_step *s)
{
	const char *how = NULL;
	int ok;
	char *q = rb_xasprintf("run step '%s' (%s:%d)?", s->id, r->rb->path, s->line);
	if (s->confirm_phrase)
		ok = rb_approve_phrase(&r->approver, q, s->confirm_phrase, &how);
	else
		ok = rb_approve_item(&r->approver, q, &how);
	record_approval(r, s, s->confirm_phrase ? s->confirm_phrase : "run this step", ok, how);
	if (!ok)
		step_error(r, s, "not confirmed (%s)%s", how,
			   s->confirm_phrase ? "; pass --confirm with the exact phrase" : "; pass --yes");
	free(q);
	return ok;
}

static void header(run_state *r, const rb_step *s)
{
	rb_buf b = RB_BUF_INIT;
	char n[48];
	rb_section_path(r->rb, s->section, &b);
	say(r, "%s %s%s%s (%s)\n", counter(r, s, n, sizeof n), rb_buf_cstr(&b),
	    b.len ? " \xe2\x80\xba " : "", s->id, s->kind == RB_STEP_APPROVAL ? "approval" :
	    s->kind == RB_STEP_GATE ? "gate" : s->lang);
	rb_buf_free(&b);
}

static void interruptible_sleep(int64_t ms)
{
	int64_t end = rb_now_ms() + ms;
	while (!rb_signals_interrupted() && rb_now_ms() < end) {
		struct timespec t = {0, 20 * 1000000L};
		nanosleep(&t, NULL);
	}
}

static void record_step_end(run_state *r, const rb_step *s, const step_result *res)
{
	if (!r->opts->record)
		return;
	char code[16], dur[32], tries[16];
	snprintf(code, sizeof code, "%d", res->exit_code);
	snprintf(tries, sizeof tries, "%d", res->attempts);
	rb_format_duration(res->duration_ms, dur, sizeof dur);
	const char *out = res->out ? res->out : "";
	const char *err = res->err ? res->err : "";
	rb_buf o = RB_BUF_INIT;
	/* Bounded output, the elision said. */
	size_t on = strlen(out), en = strlen(err);
	rb_buf_add(&o, out, on < RECORD_OUTPUT_MAX ? on : RECORD_OUTPUT_MAX);
	if (on > RECORD_OUTPUT_MAX)
		rb_buf_printf(&o, "\n[... %zu more bytes of stdout not kept]\n", on - RECORD_OUTPUT_MAX);
	if (en && !res->is_sql) {
		rb_buf_puts(&o, on ? "\n--- stderr\n" : "--- stderr\n");
		rb_buf_add(&o, err, en < RECORD_OUTPUT_MAX ? en : RECORD_OUTPUT_MAX);
		if (en > RECORD_OUTPUT_MAX)
			rb_buf_printf(&o, "\n[... %zu more bytes of stderr not kept]\n", en - RECORD_OUTPUT_MAX);
	}
	rb_record_event(r->opts->record, "end", "id", s->id, "status", rb_status_name(res->status),
			"exit", s->kind == RB_STEP_SHELL ? code : NULL,
			"sqlstate", *res->sqlstate ? res->sqlstate : NULL,
			"message", res->status == RB_STATUS_FAILED || res->is_sql ? (res->is_sql ? res->err : r->failure_reason) : NULL,
			"duration", dur, "attempts", res->attempts > 1 ? tries : NULL, "output", o.data,
			"capture", s->capture.value,
			"value", s->capture.value && res->status == RB_STATUS_OK ? rb_vars_get(&r->vars, s->capture.value) : NULL,
			NULL);
	rb_buf_free(&o);
}

/* Runs one step through its executor, with retries and expect=. */
static rb_status execute(run_state *r, const rb_step *s, step_result *res, int *rc)
{
	rb_status st = RB_STATUS_FAILED;
	int attempts = 1 + (s->retry > 0 ? s->retry : 0);
	for (int attempt = 1; attempt <= attempts; attempt++) {
		int env = 0, usage = 0, said_no = 0;
		res->attempts = attempt;
		switch (s->kind) {
		case RB_STEP_SHELL: st = run_shell(r, s, res, &env); break;
		case RB_STEP_SQL: st = run_sql(r, s, res, &env, &usage); break;
		case RB_STEP_LUA: st = run_lua(r, s, res); break;
		case RB_STEP_GATE: st = run_gate(r, s, res, &said_no); break;
		case RB_STEP_APPROVAL: st = run_approval(r, s, &said_no); break;
		default: st = RB_STATUS_OK; break;
		}
		if (st == RB_STATUS_OK && s->expect.value) {
			rb_lua_result lr;
			eval_lua(r, s->expect.value, 1, s->expect.line, &lr);
			if (!lr.ok || !lr.truthy) {
				step_error_at(r, s, s->expect.line, s->expect.col, "expect=%s %s%s",
					      s->expect.value, lr.ok ? "does not hold" : "failed: ",
					      lr.ok ? "" : lr.message);
				st = RB_STATUS_FAILED;
			}
			rb_lua_result_free(&lr);
		}
		if (st == RB_STATUS_CANCELLED) {
			*rc = r->fired ? RB_EXIT_ABORT : interrupted_code();
			return st;
		}
		if (st == RB_STATUS_OK) {
			*rc = RB_EXIT_OK;
			return st;
		}
		*rc = said_no ? RB_EXIT_GATE : env ? RB_EXIT_ENV : usage ? RB_EXIT_USAGE : RB_EXIT_STEP;
		if (said_no || usage || attempt == attempts || rb_signals_interrupted())
			break;
		char n[48];
		say(r, "%s retrying (attempt %d of %d)%s\n", counter(r, s, n, sizeof n), attempt + 1,
		    attempts, s->retry_delay_ms > 0 ? " after a delay" : "");
		if (s->retry_delay_ms > 0)
			interruptible_sleep(s->retry_delay_ms);
	}
	return st;
}

static void collect_secrets(const rb_runbook *rb, const rb_vars *vars, const rb_run_opts *o,
			    rb_redactor *red);

/* "NAME=value" entries into v (options were checked by rb_preflight_options). */
static void set_pairs(rb_vars *v, char *const *pairs, size_t n, rb_var_source src)
{
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(pairs[i], '=');
		char *name = eq ? rb_xstrndup(pairs[i], (size_t)(eq - pairs[i])) : NULL;
		if (name && rb_var_name_valid(name))
			rb_vars_set(v, name, eq + 1, src);
		free(name);
	}
}

/* The run's variables before step 1, lowest precedence first (vars.h). */
static void load_vars(const rb_runbook *rb, const rb_run_opts *o, rb_vars *v)
{
	rb_vars_load_environ(v);
	for (size_t i = 0; i < rb->fm.nenv; i++)
		rb_vars_set(v, rb->fm.env[i].key, rb->fm.env[i].value, RB_VAR_DEFAULT);
	set_pairs(v, o->sets, o->nsets, RB_VAR_SET);
	set_pairs(v, o->restores, o->nrestores, RB_VAR_CAPTURE);
}

static int setup(run_state *r)
{
	const rb_runbook *rb = r->rb;
	const rb_run_opts *o = r->opts;
	rb_error perr = RB_ERROR_INIT;
	r->redactor = o->redactor ? o->redactor : &r->own_redactor;
	if (rb_preflight_options(rb, o, &perr) < 0) {
		fprintf(stderr, "runbook: %s\n", perr.message);
		rb_error_clear(&perr);
		return RB_EXIT_USAGE;
	}
	if (o->ephemeral_db) {
		rb_error err = RB_ERROR_INIT;
		rb_pgserver_opts po;
		memset(&po, 0, sizeof po);
		po.keep = o->keep_db;
		po.log = stdout;
		if (rb_pgserver_start(&po, &r->pg, &err) < 0) {
			fprintf(stderr, "runbook: --ephemeral-db: %s\n", err.message);
			rb_error_clear(&err);
			return RB_EXIT_ENV;
		}
		rb_pgserver_export_env(r->pg);
	}
	load_vars(rb, o, &r->vars);
	collect_secrets(rb, &r->vars, o, r->redactor);
	const char **names = rb_xcalloc(rb->fm.ndatabases + 1, sizeof *names);
	const char **dsns = rb_xcalloc(rb->fm.ndatabases + 1, sizeof *dsns);
	for (size_t i = 0; i < rb->fm.ndatabases; i++) {
		names[i] = rb->fm.databases[i].key;
		dsns[i] = rb->fm.databases[i].value;
	}
	/* --ephemeral-db wins over the front matter: the runbook runs against the throwaway server. */
	r->default_dsn = o->db_url ? o->db_url : r->pg ? rb_pgserver_url(r->pg) : rb->fm.database.value;
	r->db_names = names;
	r->db_dsns = dsns;
	const char *run_id = o->record ? rb_record_get(o->record, "run", NULL, "id") : NULL;
	char *slug = rb_slugify(rb->title);
	if (strlen(slug) > 16)
		slug[16] = '\0';
	r->app_name = run_id ? rb_xasprintf("runbook/%s/%s", slug, run_id)
			     : rb_xasprintf("runbook/%s/pid%ld", slug, (long)getpid());
	free(slug);
	if (strlen(r->app_name) > 63)
		r->app_name[63] = '\0'; /* the server keeps 63 bytes (NAMEDATALEN) */
	rb_vars_set(&r->vars, "RUNBOOK_RUN_ID", run_id ? run_id : "", RB_VAR_RUNBOOK);
	r->session.application_name = r->app_name;
	r->session.connect_timeout_ms = rb->fm.connect_timeout_ms > 0 ? rb->fm.connect_timeout_ms : 0;
	r->session.on_connect = on_connect;
	r->session.ctx = r;
	r->dbs = new_dbset(r);
	rb_vars_set(&r->vars, "RUNBOOK_FILE", rb->path, RB_VAR_RUNBOOK);
	rb_vars_set(&r->vars, "RUNBOOK_DIR", rb->dir, RB_VAR_RUNBOOK);
	r->local_lua = rb_xasprintf("%s/lua", rb->dir);
	r->lua_dirs[0] = r->local_lua;
	r->lua_dirs[1] = o->lua_dir;
	r->lua_dirs[2] = NULL;
	rb_approver_init(&r->approver, o->yes, o->confirm);
	r->every_ms = 0;
	if (o->record) {
		for (size_t i = 0; i < o->nsets; i++) {
			const char *eq = strchr(o->sets[i], '=');
			char *name = rb_xstrndup(o->sets[i], (size_t)(eq - o->sets[i]));
			rb_record_event(o->record, "var", "name", name, "value", eq + 1, "source", "--set", NULL);
			free(name);
		}
	}
	return RB_EXIT_OK;
}

/* Secrets: named in the front matter, or by their names, and DSN passwords. */
static void collect_secrets(const rb_runbook *rb, const rb_vars *vars, const rb_run_opts *o,
			    rb_redactor *red)
{
	for (size_t i = 0; i < vars->count; i++) {
		const rb_var *v = &vars->items[i];
		if (rb_runbook_is_secret(rb, v->name))
			rb_redactor_add(red, v->value);
		char *pw = strstr(v->value, "://") || strstr(v->value, "password") ? rb_dsn_password(v->value) : NULL;
		if (pw)
			rb_redactor_add(red, pw);
		free(pw);
	}
	/* Connection strings' passwords, as they will be after ${VAR} expansion. */
	for (size_t k = 0; k < rb->fm.ndatabases + 2; k++) {
		const char *dsn = k == 0 ? o->db_url : k == 1 ? rb->fm.database.value : rb->fm.databases[k - 2].value;
		char *missing = NULL;
		char *expanded = dsn ? rb_vars_expand(vars, dsn, &missing) : NULL;
		char *pw = expanded ? rb_dsn_password(expanded) : NULL;
		rb_redactor_add(red, pw);
		free(pw);
		free(expanded);
		free(missing);
	}
}

void rb_engine_collect_secrets(const rb_runbook *rb, const rb_run_opts *opts, rb_redactor *r)
{
	rb_vars vars = RB_VARS_INIT;
	load_vars(rb, opts, &vars);
	collect_secrets(rb, &vars, opts, r);
	rb_vars_free(&vars);
}

/* Arms an abort condition: checked before each later step and while steps run. */
static void arm(run_state *r, const rb_step *s)
{
	r->aborts = rb_xrealloc(r->aborts, (r->naborts + 1) * sizeof *r->aborts);
	r->aborts[r->naborts++] = s;
	int64_t every = s->every_ms > 0 ? s->every_ms : DEFAULT_EVERY_MS;
	if (!r->every_ms || every < r->every_ms)
		r->every_ms = every;
	r->next_check = rb_now_ms() + r->every_ms;
	char n[48], d[32];
	rb_format_duration(every, d, sizeof d);
	say(r, "%s abort condition '%s' armed: checked before every step and every %s\n",
	    counter(r, s, n, sizeof n), s->id, d);
}

/*
 * A guard checked again before a partial run may read what a skipped step
 * would have left: a capture (vars.NAME) or a result (steps.ID). When that
 * is missing, it fails naming the step to run instead of failing obscurely.
 */
static int guard_inputs_ready(run_state *r, const rb_step *g)
{
	const rb_runbook *rb = r->rb;
	for (const rb_step *s = rb->steps; s < g; s++) {
		if (r->results[s - rb->steps].status != RB_STATUS_SKIPPED || !s->id)
			continue;
		int needs_capture = s->capture.value && !rb_vars_get(&r->vars, s->capture.value) &&
				    rb_code_mentions(g->body, "vars", s->capture.value);
		int needs_result = rb_code_mentions(g->body, "steps", s->id);
		if (!needs_capture && !needs_result)
			continue;
		step_error(r, g, "this guard needs %s%s, which step '%s' (%s:%d) sets, and this run skips that "
			   "step: run from it (--from %s), or pass --skip-guards",
			   needs_capture ? "vars." : "steps.", needs_capture ? s->capture.value : s->id, s->id,
			   rb->path, s->line, s->id);
		return 0;
	}
	return 1;
}

/*
 * The run lock (runlock.h), before step 1: on the connection of the first
 * SQL step, else — no database, or its connection string needs a variable
 * not known yet — on a lock file. Returns an RB_EXIT_* code.
 */
static int take_run_lock(run_state *r)
{
	const rb_runbook *rb = r->rb;
	const rb_step *sql = NULL;
	PGconn *conn = NULL;
	rb_error err = RB_ERROR_INIT;
	int rc = RB_EXIT_OK;
	if (rb->fm.lock_off)
		goto done;
	for (size_t i = 0; i < rb->nsteps && !sql; i++)
		if (rb->steps[i].kind == RB_STEP_SQL && rb_step_runnable(&rb->steps[i]) &&
		    rb->steps[i].role != RB_ROLE_MANUAL)
			sql = &rb->steps[i];
	if (sql && rb_dbset_get(r->dbs, sql->db, &r->vars, &conn, &err) < 0 && err.code != RB_EXIT_USAGE) {
		fflush(stdout);
		fprintf(stderr, "runbook: %s\n", err.message);
		rc = err.code;
		goto done;
	}
	rb_error_clear(&err);
	const char *run_id = r->opts->record ? rb_record_get(r->opts->record, "run", NULL, "id") : NULL;
	char *who = rb_xasprintf("pid %ld, run %s", (long)getpid(), run_id ? run_id : "(not recorded)");
	const char *name = rb->fm.lock ? rb->fm.lock : rb->title;
	/* Without a database: a lock file beside the audit journal (its directory's parent). */
	const char *journal = r->opts->record ? r->opts->record->journal_path : NULL;
	char *jdir = journal ? rb_dirname_dup(journal) : NULL;
	r->lock_dir = jdir ? rb_dirname_dup(jdir) : NULL;
	free(jdir);
	if (rb_runlock_take(conn, name, r->lock_dir, who, r->opts->wait_lock_ms, &r->lock, &err) < 0) {
		char *m = clean(r, err.message);
		fflush(stdout);
		fprintf(stderr, "runbook: %s: %s\n", rb->path, m);
		free(m);
		rc = err.code;
	} else if (r->opts->record) {
		rb_record_event(r->opts->record, "note", "text", conn ? "run lock taken (advisory lock)"
				: "run lock taken (lock file)", "lock", name, NULL);
	}
	free(who);
done:
	rb_error_clear(&err);
	return rc;
}

/*
 * --skip-guards: the guards this partial run would check again are listed,
 * and skipping them is an approval of its own, asked and recorded.
 */
static int approve_skipped_guards(run_state *r)
{
	const rb_runbook *rb = r->rb;
	rb_buf list = RB_BUF_INIT;
	int ok = 1;
	for (size_t i = 0; i < rb->nsteps; i++)
		if (r->sel[i] == RB_SEL_GUARD_SKIPPED)
			rb_buf_printf(&list, "%s%s", list.len ? ", " : "", rb->steps[i].id);
	if (!list.len)
		goto done;
	say(r, "--skip-guards: these guards will not be checked: %s\n", list.data);
	const char *how = NULL;
	char *q = rb_xasprintf("skip the guards %s?", list.data);
	ok = rb_approve_item(&r->approver, q, &how);
	free(q);
	if (r->opts->record) {
		rb_record_event(r->opts->record, "approval", "step", "--skip-guards", "item", list.data, "who",
				operator_name(), "how", how, "approved", ok ? "yes" : "no", NULL);
		if (ok)
			rb_record_event(r->opts->record, "note", "text", "guards skipped (--skip-guards)", "guards",
					list.data, "who", operator_name(), NULL);
	}
	if (!ok) {
		fflush(stdout);
		fprintf(stderr, "runbook: %s: skipping the guards was not approved (%s)%s\n", rb->path, how,
			r->approver.interactive || r->approver.yes ? "" : "; run on a terminal, or pass --yes");
	}
done:
	rb_buf_free(&list);
	return ok;
}

/*
 * Runs the steps of one role in order. For the main flow the first failure
 * stops it; for the handler every step runs. Returns an RB_EXIT_* code.
 */
static int run_role(run_state *r, rb_role role)
{
	const rb_runbook *rb = r->rb;
	const rb_run_opts *o = r->opts;
	int handler = role == RB_ROLE_ON_FAILURE;
	int rc = RB_EXIT_OK;
	r->total = rb_runbook_count(rb, role);
	for (size_t i = 0; i < rb->nsteps; i++) {
		const rb_step *s = &rb->steps[i];
		step_result *res = &r->results[i];
		if (s->role != role || s->kind == RB_STEP_DOC)
			continue;
		if (r->sel[i] == RB_SEL_SKIP || r->sel[i] == RB_SEL_GUARD_SKIPPED) {
			res->status = RB_STATUS_SKIPPED;
			continue;
		}
		if (s->kind == RB_STEP_ABORT) {
			if (!handler)
				arm(r, s);
			res->status = RB_STATUS_OK;
			continue;
		}
		if (rb_signals_interrupted()) {
			/* In the handler, a second signal: no further step starts. */
			rc = interrupted_code();
			if (!r->failed_step)
				r->failed_step = s;
			break;
		}
		if (aborts_live(r) && check_aborts(r)) {
			rc = RB_EXIT_ABORT;
			if (!r->failed_step)
				r->failed_step = s; /* the step about to run */
			break;
		}
		if (s->when.value) {
			rb_lua_result lr;
			eval_lua(r, s->when.value, 1, s->when.line, &lr);
			int go = lr.ok && lr.truthy;
			if (!lr.ok)
				step_error_at(r, s, s->when.line, s->when.col, "when= failed: %s", lr.message);
			rb_lua_result_free(&lr);
			if (!go) {
				char n[48];
				say(r, "%s %s skipped: when=%s is false\n", counter(r, s, n, sizeof n), s->id,
				    s->when.value);
				res->status = RB_STATUS_SKIPPED;
				continue;
			}
		}
		if (o->record) {
			char num[16], line[16];
			rb_buf path = RB_BUF_INIT;
			snprintf(num, sizeof num, "%d", s->number);
			snprintf(line, sizeof line, "%d", s->line);
			rb_section_path(rb, s->section, &path);
			rb_record_event(o->record, "step", "id", s->id, "number", num, "kind",
					rb_step_kind_name(s->kind), "lang", s->lang, "line", line, "section",
					path.data, "role", handler ? "on_failure" : "main", NULL);
			rb_buf_free(&path);
		}
		if (!handler && o->record && rb_record_failed(o->record)) {
			/* Fail closed: a change must not go on unrecorded. The handler
			 * still runs: it is what makes a half-done change safe. */
			fflush(stdout);
			fprintf(stderr, "runbook: %s\nrunbook: the run stops before step '%s': it could not be recorded\n",
				rb_record_error(o->record), s->id);
			rb_record_event(o->record, "end", "id", s->id, "status", "cancelled", "message",
					"not run: the run journal could not be written", NULL);
			res->status = RB_STATUS_CANCELLED;
			if (!r->failed_step)
				r->failed_step = s;
			rc = RB_EXIT_ENV;
			break;
		}
		header(r, s); /* after the journal knows the step started */
		r->current = s;
		int step_rc = RB_EXIT_OK;
		if (r->sel[i] == RB_SEL_GUARD && !guard_inputs_ready(r, s)) {
			res->status = RB_STATUS_FAILED;
			step_rc = RB_EXIT_GATE;
		} else if (s->confirm && !confirmed(r, s)) {
			res->status = rb_signals_interrupted() ? RB_STATUS_CANCELLED : RB_STATUS_FAILED;
			step_rc = rb_signals_interrupted() ? interrupted_code() : RB_EXIT_GATE;
		} else {
			res->status = execute(r, s, res, &step_rc);
		}
		record_step_end(r, s, res);
		if (res->status == RB_STATUS_OK)
			continue;
		if (!r->failed_step)
			r->failed_step = s;
		if (handler) {
			if (r->fired || rb_signals_interrupted()) {
				/* stopped by a during_handler abort or a second signal */
				rc = r->fired ? RB_EXIT_ABORT : interrupted_code();
				break;
			}
			continue; /* otherwise a handler runs all its steps */
		}
		if (step_rc == RB_EXIT_STEP && s->continue_on_error) {
			char n[48];
			say(r, "%s continuing: the step allows failure (continue_on_error)\n",
			    counter(r, s, n, sizeof n));
			r->failed_step = NULL;
			continue;
		}
		rc = step_rc == RB_EXIT_OK ? RB_EXIT_STEP : step_rc;
		break;
	}
	return rc;
}

static void run_handler(run_state *r, int rc)
{
	const rb_runbook *rb = r->rb;
	if (rb->on_failure_section < 0 || rb_runbook_count(rb, RB_ROLE_ON_FAILURE) == 0)
		return;
	/* A second Ctrl-C must be able to stop the handler itself. */
	rb_signals_reset();
	const char *reason = rc == RB_EXIT_ABORT ? r->fired_reason
			     : rc > 128 ? "interrupted"
			     : r->failure_reason ? r->failure_reason : "failed";
	char code[16];
	snprintf(code, sizeof code, "%d", rc);
	set_var(r, "FAILED_STEP", r->failed_step ? r->failed_step->id : "", RB_VAR_RUNBOOK);
	set_var(r, "FAILURE_REASON", reason ? reason : "failed", RB_VAR_RUNBOOK);
	set_var(r, "FAILURE_EXIT_CODE", code, RB_VAR_RUNBOOK);
	set_var(r, "ABORT_CONDITION", rc == RB_EXIT_ABORT && r->fired ? r->fired->id : "", RB_VAR_RUNBOOK);
	say(r, "Running the failure handler \"%s\"\n", rb->sections[rb->on_failure_section].title);
	if (r->opts->record)
		rb_record_event(r->opts->record, "note", "text", "the on_failure section ran", NULL);
	/* The abort condition that stopped the run stays quiet now: the handler
	 * must be able to finish. Only during_handler conditions are checked. */
	r->in_handler = 1;
	r->fired = NULL;
	if (run_role(r, RB_ROLE_ON_FAILURE) != RB_EXIT_OK) {
		if (r->fired)
			say(r, "The failure handler was stopped: abort condition '%s' fired: %s\n", r->fired->id,
			    r->fired_reason);
		else
			say(r, "The failure handler was stopped by a second interrupt.\n");
		if (r->opts->record)
			rb_record_event(r->opts->record, "note", "text", "the on_failure section was stopped",
					"reason", r->fired ? r->fired_reason : "interrupted", NULL);
	}
}

int rb_engine_run(const rb_runbook *rb, const rb_run_opts *opts)
{
	run_state r;
	int rc = RB_EXIT_OK;
	memset(&r, 0, sizeof r);
	r.rb = rb;
	r.opts = opts;
	r.results = rb_xcalloc(rb->nsteps ? rb->nsteps : 1, sizeof *r.results);
	r.sel = rb_xcalloc(rb->nsteps ? rb->nsteps : 1, sizeof *r.sel);
	rb_select_steps(rb, opts->from, opts->only, opts->skip_guards, r.sel);

	rb_signals_install();
#ifdef __linux__
	/* Orphans of a step's process group come back to us to be reaped. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
#endif
	rc = setup(&r);
	if (rc != RB_EXIT_OK)
		goto done;
	rb_error werr = RB_ERROR_INIT;
	if (rb_watchdog_start(opts->grace_ms, &r.watchdog, &werr) < 0) {
		fprintf(stderr, "runbook: %s\n", werr.message);
		rb_error_clear(&werr);
		rc = RB_EXIT_ENV;
		goto done;
	}

	rc = take_run_lock(&r);
	if (rc != RB_EXIT_OK)
		goto done;
	size_t total = rb_runbook_count(rb, RB_ROLE_MAIN);
	say(&r, "Running %s (%s): %zu step%s\n", rb->title, rb->path, total, total == 1 ? "" : "s");
	if (!approve_skipped_guards(&r)) {
		rc = rb_signals_interrupted() ? interrupted_code() : RB_EXIT_GATE;
		goto done;
	}
	rc = run_role(&r, RB_ROLE_MAIN);
	if (rc == RB_EXIT_OK && rb_signals_interrupted())
		rc = interrupted_code();
	if (rc == RB_EXIT_ABORT) {
		char *hidden = clean(&r, r.fired_reason);
		char *why = rb_visible(hidden);
		free(hidden);
		fflush(stdout);
		fprintf(stderr, "%s:%d:%d: abort condition '%s' fired: %s\n", rb->path, r.fired->line,
			r.fired->col, r.fired->id, why);
		free(why);
		if (opts->record)
			rb_record_event(opts->record, "abort", "step", r.fired->id, "reason", r.fired_reason, NULL);
	}
	size_t ok = 0, failed = 0, skipped = 0;
	for (size_t i = 0; i < rb->nsteps; i++) {
		if (rb->steps[i].role != RB_ROLE_MAIN || !rb_step_runnable(&rb->steps[i]) ||
		    rb->steps[i].kind == RB_STEP_ABORT)
			continue;
		ok += r.results[i].status == RB_STATUS_OK;
		failed += r.results[i].status == RB_STATUS_FAILED || r.results[i].status == RB_STATUS_CANCELLED;
		skipped += r.results[i].status == RB_STATUS_SKIPPED;
	}
	if (rc != RB_EXIT_OK && rc != RB_EXIT_USAGE)
		run_handler(&r, rc);
	if (rc > 128)
		say(&r, "Interrupted: %zu ok, %zu failed; the run stopped.\n", ok, failed);
	else if (rc == RB_EXIT_OK)
		say(&r, "Done: %zu ok, %zu failed%s%s\n", ok, failed, failed ? " (allowed)" : "",
		    skipped ? ", some steps skipped" : "");
	else
		say(&r, "Stopped (exit %d): %zu ok, %zu failed, %zu not run\n", rc, ok, failed,
		    total - ok - failed);
done:
	for (size_t i = 0; i < rb->nsteps; i++) {
		free(r.results[i].out);
		free(r.results[i].err);
		rb_sql_rows_free(&r.results[i].rows);
	}
	rb_watchdog_stop(r.watchdog);
	rb_runlock_release(r.lock);
	free(r.lock_dir);
	free(r.results);
	free(r.sel);
	free(r.db_names);
	free(r.db_dsns);
	free(r.app_name);
	free(r.blocker);
	rb_dbset_free(r.dbs);
	rb_dbset_free(r.monitor);
	if (r.pg)
		rb_pgserver_stop(r.pg);
	rb_vars_free(&r.vars);
	rb_redactor_free(&r.own_redactor);
	free(r.local_lua);
	free(r.aborts);
	free(r.fired_reason);
	free(r.failure_reason);
	return rc;
}
