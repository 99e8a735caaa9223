/*
 * run_session.c - what a run holds: its variables (and which are secret),
 * its connections, the throwaway server, the run lock.
 */
#define _GNU_SOURCE
#include "run.h"
#include "secretsrc.h"
#include "output.h"
#include "parse.h"
#include "preflight.h"
#include "signals.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void collect_secrets(const rb_runbook *rb, const rb_vars *vars, const rb_run_opts *o,
			    rb_redactor *red);

/* Sets a variable; a secret's new value is hidden before anything can print it. */
void rb_run_set_var(rb_run *r, const char *name, const char *value, rb_var_source src)
{
	if (rb_runbook_is_secret(r->rb, name))
		rb_redactor_add(r->redactor, value);
	rb_vars_set(&r->vars, name, value, src);
}

/* Hides the current value of every secret variable (after code that sets variables itself). */
void rb_run_hide_secrets(rb_run *r)
{
	for (size_t i = 0; i < r->vars.count; i++)
		if (rb_runbook_is_secret(r->rb, r->vars.items[i].name))
			rb_redactor_add(r->redactor, r->vars.items[i].value);
}

/* A server notice: the running step's stderr. */
static void on_notice(void *ctx, const char *line, size_t len)
{
	rb_run_output(ctx, 2, line, len);
}

/* A connection set as the run opens them: redacted, named, recorded. */
static rb_dbset *new_dbset(rb_run *r)
{
	rb_dbset *set = rb_dbset_new(r->default_dsn, r->db_names, r->db_dsns, r->rb->fm.ndatabases);
	rb_dbset_set_redactor(set, r->redactor);
	rb_dbset_set_notice(set, on_notice, r);
	rb_dbset_configure(set, &r->session);
	return set;
}

/* The second set of connections: Lua while a SQL step holds the first, lock watching. */
rb_dbset *rb_run_monitor(rb_run *r)
{
	if (!r->monitor)
		r->monitor = new_dbset(r);
	return r->monitor;
}

/* Every new connection's target and server version go into the record. */
static void on_connect(void *ctx, const char *name, PGconn *conn)
{
	rb_run *r = ctx;
	char *target = rb_db_target(conn);
	char version[16];
	snprintf(version, sizeof version, "%d", PQserverVersion(conn));
	const char *f[] = {"server_version", version, NULL};
	rb_ev ev = {.type = RB_EV_DATABASE, .name = *name ? name : "default", .value = target, .fields = f, .exit_code = -1};
	rb_run_emit(r, &ev);
	free(target);
}

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
	set_pairs(v, o->target_vars, o->ntarget_vars, RB_VAR_SET);
	set_pairs(v, o->secret_vars, o->nsecret_vars, RB_VAR_SET);
	set_pairs(v, o->sets, o->nsets, RB_VAR_SET);
	set_pairs(v, o->restores, o->nrestores, RB_VAR_CAPTURE);
}

/* Secrets: named in the front matter, or by their names, and DSN passwords. */
static void collect_secrets(const rb_runbook *rb, const rb_vars *vars, const rb_run_opts *o,
			    rb_redactor *red)
{
	for (size_t i = 0; i < vars->count; i++) {
		const rb_var *v = &vars->items[i];
		if (rb_runbook_is_secret(rb, v->name))
			rb_redactor_add(red, v->value);
		if (strstr(v->value, "://") || strstr(v->value, "password"))
			rb_dsn_add_secrets(red, v->value);
	}
	/* Connection strings' passwords, as they will be after ${VAR} expansion. */
	for (size_t k = 0; k < rb->fm.ndatabases + 2; k++) {
		const char *dsn = k == 0 ? o->db_url : k == 1 ? rb->fm.database.value : rb->fm.databases[k - 2].value;
		char *missing = NULL;
		char *expanded = dsn ? rb_vars_expand(vars, dsn, &missing) : NULL;
		rb_dsn_add_secrets(red, expanded);
		free(expanded);
		free(missing);
	}
}

/* What the throwaway server says (ready, orphans reaped, kept) goes to stdout. */
static void pg_say(void *ctx, const char *text)
{
	rb_run_notice(ctx, "%s", text);
}

int rb_run_setup(rb_run *r)
{
	const rb_runbook *rb = r->rb;
	const rb_run_opts *o = r->opts;
	rb_error perr = RB_ERROR_INIT;
	r->redactor = o->redactor ? o->redactor : &r->own_redactor;
	rb_out_set_redactor(r->redactor);
	if (rb_preflight_options(rb, o, &perr) < 0) {
		rb_pgserver_abandon(o->pg_job);
		rb_run_report(r, &perr);
		rb_error_clear(&perr);
		return RB_EXIT_USAGE;
	}
	if (o->ephemeral_db) {
		rb_error err = RB_ERROR_INIT;
		rb_pgserver_opts po;
		memset(&po, 0, sizeof po);
		po.keep = o->keep_db;
		po.no_cache = o->no_db_cache;
		po.say = pg_say;
		po.say_ctx = r;
		int started = o->pg_job ? rb_pgserver_finish(o->pg_job, pg_say, r, &r->pg, &err)
					: rb_pgserver_start(&po, &r->pg, &err);
		if (started < 0) {
			rb_run_error(r, NULL, 0, 0, "--ephemeral-db: %s", err.message);
			rb_error_clear(&err);
			return RB_EXIT_ENV;
		}
		rb_pgserver_export_env(r->pg);
	} else {
		rb_pgserver_abandon(o->pg_job);
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
	r->app_name = rb_db_application_name(slug, run_id);
	free(slug);
	rb_vars_set(&r->vars, "RUNBOOK_RUN_ID", run_id ? run_id : "", RB_VAR_RUNBOOK);
	if (o->target)
		rb_vars_set(&r->vars, "RUNBOOK_TARGET", o->target, RB_VAR_RUNBOOK);
	if (o->rollout)
		rb_vars_set(&r->vars, "RUNBOOK_ROLLOUT", o->rollout, RB_VAR_RUNBOOK);
	r->session.application_name = r->app_name;
	r->session.connect_timeout_ms = rb->fm.connect_timeout_ms > 0 ? rb->fm.connect_timeout_ms : 0;
	r->session.on_connect = on_connect;
	r->session.ctx = r;
	r->session.check = o->check_connection;
	r->session.check_ctx = o->check_ctx;
	r->dbs = new_dbset(r);
	rb_vars_set(&r->vars, "RUNBOOK_FILE", rb->path, RB_VAR_RUNBOOK);
	rb_vars_set(&r->vars, "RUNBOOK_DIR", rb->dir, RB_VAR_RUNBOOK);
	r->local_lua = rb_xasprintf("%s/lua", rb->dir);
	r->lua_dirs[0] = r->local_lua;
	r->lua_dirs[1] = o->lua_dir;
	r->lua_dirs[2] = NULL;
	rb_approver_init(&r->approver, o->yes, o->confirm);
	r->every_ms = 0;
	for (size_t i = 0; i < o->ntarget_vars; i++) {
		const char *eq = strchr(o->target_vars[i], '=');
		char *name = rb_xstrndup(o->target_vars[i], (size_t)(eq - o->target_vars[i]));
		const char *f[] = {"source", "target", "target", o->target, NULL};
		rb_ev ev = {.type = RB_EV_VAR, .name = name, .value = eq + 1, .fields = f, .exit_code = -1};
		rb_run_emit(r, &ev);
		free(name);
	}
	for (size_t i = 0; i < o->nsecret_vars; i++) {
		const char *eq = strchr(o->secret_vars[i], '=');
		char *name = rb_xstrndup(o->secret_vars[i], (size_t)(eq - o->secret_vars[i])), *from = NULL;
		for (size_t k = 0; k < rb->fm.nsecret_sources && !from; k++)
			if (!strcmp(rb->fm.secret_sources[k].name, name))
				from = rb_secret_describe(rb, &rb->fm.secret_sources[k]);
		char *source = rb_xasprintf("secrets: %s", from ? from : "?");
		const char *f[] = {"source", source, NULL};
		rb_ev ev = {.type = RB_EV_VAR, .name = name, .value = eq + 1, .fields = f, .exit_code = -1};
		rb_run_emit(r, &ev);
		free(source);
		free(from);
		free(name);
	}
	for (size_t i = 0; i < o->nsets; i++) {
		const char *eq = strchr(o->sets[i], '=');
		char *name = rb_xstrndup(o->sets[i], (size_t)(eq - o->sets[i]));
		const char *f[] = {"source", "--set", NULL};
		rb_ev ev = {.type = RB_EV_VAR, .name = name, .value = eq + 1, .fields = f, .exit_code = -1};
		rb_run_emit(r, &ev);
		free(name);
	}
	return RB_EXIT_OK;
}

void rb_engine_collect_secrets(const rb_runbook *rb, const rb_run_opts *opts, rb_redactor *r)
{
	rb_vars vars = RB_VARS_INIT;
	load_vars(rb, opts, &vars);
	collect_secrets(rb, &vars, opts, r);
	rb_vars_free(&vars);
}

/*
 * The run lock (runlock.h), before step 1: on the connection of the first
 * SQL step, else — no database, or its connection string needs a variable
 * not known yet — on a lock file. Returns an RB_EXIT_* code.
 */
int rb_run_take_lock(rb_run *r)
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
		rb_run_error(r, NULL, 0, 0, "%s", err.message);
		rc = err.code;
		goto done;
	}
	rb_error_clear(&err);
	const char *run_id = r->opts->record ? rb_record_get(r->opts->record, "run", NULL, "id") : NULL;
	char *who = rb_xasprintf("pid %ld, run %s", (long)getpid(), run_id ? run_id : "(not recorded)");
	/* A target's runs lock that target only: the targets of a rollout run side by side. */
	char *name = r->opts->target ? rb_xasprintf("%s@%s", rb->fm.lock ? rb->fm.lock : rb->title, r->opts->target)
				     : rb_xstrdup(rb->fm.lock ? rb->fm.lock : rb->title);
	/* Without a database: a lock file beside the audit journal (its directory's parent). */
	const char *journal = r->opts->record ? r->opts->record->journal_path : NULL;
	char *jdir = journal ? rb_dirname_dup(journal) : NULL;
	r->lock_dir = jdir ? rb_dirname_dup(jdir) : NULL;
	free(jdir);
	int took = rb_runlock_take(conn, name, r->lock_dir, who, r->opts->wait_lock_ms, &r->lock, &err);
	if (took < 0) {
		if (took == -2 && r->opts->outcome)
			r->opts->outcome->locked = 1;
		rb_run_error(r, rb->path, 0, 0, "%s", err.message);
		rc = err.code;
	} else {
		const char *f[] = {"lock", name, NULL};
		rb_run_note(r, 0, conn ? "run lock taken (advisory lock)" : "run lock taken (lock file)", f);
	}
	free(name);
	free(who);
done:
	rb_error_clear(&err);
	return rc;
}

void rb_run_teardown(rb_run *r)
{
	for (size_t i = 0; r->results && i < r->rb->nsteps; i++) {
		free(r->results[i].out);
		free(r->results[i].err);
		rb_sql_rows_free(&r->results[i].rows);
	}
	rb_watchdog_stop(r->watchdog);
	rb_runlock_release(r->lock);
	free(r->lock_dir);
	free(r->results);
	free(r->sel);
	free(r->db_names);
	free(r->db_dsns);
	free(r->app_name);
	free(r->blocker);
	rb_dbset_free(r->dbs);
	rb_dbset_free(r->monitor);
	if (r->pg)
		rb_pgserver_stop(r->pg);
	rb_vars_free(&r->vars);
	if (r->redactor == &r->own_redactor)
		rb_out_set_redactor(NULL);
	rb_redactor_free(&r->own_redactor);
	free(r->local_lua);
	free(r->aborts);
	free(r->fired_reason);
	free(r->failure_reason);
}
