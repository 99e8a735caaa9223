/*
 * engine.c - the run loop.
 *
 * Each step goes: selection (--from/--only, skip) -> header line ->
 * executor -> result line -> captures. The first failing step stops the run
 * unless it says continue_on_error.
 */
#define _GNU_SOURCE
#include "engine.h"
#include "shell.h"
#include "signals.h"
#include "vars.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

typedef struct {
	rb_status status;
	int exit_code;
	int64_t duration_ms;
	char *out;        /* kept stdout */
	char *err;        /* kept stderr */
} step_result;

typedef struct {
	const rb_runbook *rb;
	const rb_run_opts *opts;
	rb_vars vars;
	step_result *results;   /* one per rb->steps entry */
	size_t total;           /* runnable main-flow steps */
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

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static void step_error(const run_state *r, const rb_step *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void step_error(const run_state *r, const rb_step *s, const char *fmt, ...)
{
	va_list ap;
	fflush(stdout);
	fprintf(stderr, "%s:%d:%d: step '%s': ", r->rb->path, s->line, s->col, s->id);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

static char *trim_dup(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	return rb_xstrndup(s, n);
}

static char *join_dir(const char *dir, const char *path)
{
	if (path[0] == '/')
		return rb_xstrdup(path);
	return rb_xasprintf("%s/%s", dir, path);
}

/* Runs a shell step; returns the step's status. */
static rb_status run_shell(run_state *r, const rb_step *s, step_result *res, int *exit_code)
{
	rb_status st = RB_STATUS_FAILED;
	rb_error err = RB_ERROR_INIT;
	rb_shell_result sr;
	char *cwd = join_dir(r->rb->dir, s->cwd ? s->cwd : ".");
	char *label = rb_xasprintf("%s:%d", r->rb->path, s->line);
	rb_vars_set(&r->vars, "RUNBOOK_STEP", s->id, RB_VAR_RUNBOOK);
	char **envp = rb_vars_envp(&r->vars);
	int64_t timeout = s->timeout_ms > 0 ? s->timeout_ms : r->rb->fm.timeout_ms;
	const char *shell = !strcmp(s->lang, "sh") ? "sh" : r->rb->fm.shell ? r->rb->fm.shell : "bash";
	if (!strcmp(s->lang, "bash"))
		shell = "bash";

	rb_shell_opts o;
	memset(&o, 0, sizeof o);
	o.shell = shell;
	o.script = s->body;
	o.label = label;
	o.cwd = cwd;
	o.envp = envp;
	o.timeout_ms = timeout;
	o.grace_ms = r->opts->grace_ms;
	o.interactive = s->interactive;
	o.keep_max = r->opts->keep_max ? r->opts->keep_max : 1 << 20;

	if (rb_shell_run(&o, &sr, &err) < 0) {
		step_error(r, s, "%s", err.message);
		*exit_code = -1;
		goto done;
	}
	*exit_code = sr.status;
	res->duration_ms = sr.duration_ms;
	free(res->out);
	free(res->err);
	res->out = rb_xstrdup(sr.out);
	res->err = rb_xstrdup(sr.err);
	char d[32];
	rb_format_duration(sr.duration_ms, d, sizeof d);
	if (sr.reason == RB_END_TIMEOUT) {
		say("[%d/%zu] timed out after %s (process group stopped)\n", s->number, r->total, d);
		step_error(r, s, "timed out after %s", d);
		*exit_code = sr.status;
		goto done;
	}
	if (sr.reason == RB_END_INTERRUPTED) {
		say("[%d/%zu] interrupted after %s (process group stopped)\n", s->number, r->total, d);
		st = RB_STATUS_CANCELLED;
		goto done;
	}
	if (sr.status != 0) {
		say("[%d/%zu] failed: exit %d in %s\n", s->number, r->total, sr.status, d);
		step_error(r, s, "failed with exit code %d", sr.status);
		goto done;
	}
	if (s->capture.value) {
		if (sr.out_total > sr.out_len) {
			say("[%d/%zu] failed: output too large to capture\n", s->number, r->total);
			step_error(r, s, "capture=%s: output of %zu bytes is larger than the %zu kept",
				   s->capture.value, sr.out_total, sr.out_len);
			goto done;
		}
		char *v = trim_dup(sr.out);
		rb_vars_set(&r->vars, s->capture.value, v, RB_VAR_CAPTURE);
		free(v);
	}
	if (sr.leftovers)
		say("[%d/%zu] note: background processes left by the step were stopped\n", s->number,
		    r->total);
	say("[%d/%zu] ok in %s\n", s->number, r->total, d);
	st = RB_STATUS_OK;
done:
	rb_shell_result_free(&sr);
	rb_error_clear(&err);
	rb_vars_envp_free(envp);
	free(label);
	free(cwd);
	return st;
}

static void header(run_state *r, const rb_step *s)
{
	rb_buf b = RB_BUF_INIT;
	rb_section_path(r->rb, s->section, &b);
	say("[%d/%zu] %s%s%s (%s)\n", s->number, r->total, rb_buf_cstr(&b), b.len ? " \xe2\x80\xba " : "",
	    s->id, s->lang);
	rb_buf_free(&b);
}

/* Kinds this engine can execute; the others are refused before anything runs. */
static int supported(rb_step_kind k)
{
	return k == RB_STEP_SHELL;
}

static int setup(run_state *r)
{
	const rb_runbook *rb = r->rb;
	const rb_run_opts *o = r->opts;
	rb_vars_load_environ(&r->vars);
	for (size_t i = 0; i < rb->fm.nenv; i++)
		if (!rb_vars_find(&r->vars, rb->fm.env[i].key) ||
		    rb_vars_find(&r->vars, rb->fm.env[i].key)->source == RB_VAR_ENV)
			rb_vars_set(&r->vars, rb->fm.env[i].key, rb->fm.env[i].value, RB_VAR_DEFAULT);
	for (size_t i = 0; i < o->nsets; i++) {
		const char *eq = strchr(o->sets[i], '=');
		char *name = eq ? rb_xstrndup(o->sets[i], (size_t)(eq - o->sets[i])) : NULL;
		if (!name || !rb_var_name_valid(name)) {
			fprintf(stderr, "runbook: --set %s: expected NAME=VALUE with NAME like [A-Za-z_][A-Za-z0-9_]*\n",
				o->sets[i]);
			free(name);
			return RB_EXIT_USAGE;
		}
		rb_vars_set(&r->vars, name, eq + 1, RB_VAR_SET);
		free(name);
	}
	rb_vars_set(&r->vars, "RUNBOOK_FILE", rb->path, RB_VAR_RUNBOOK);
	rb_vars_set(&r->vars, "RUNBOOK_DIR", rb->dir, RB_VAR_RUNBOOK);
	const char *selected[2] = {o->from, o->only};
	for (int k = 0; k < 2; k++) {
		if (selected[k] && !rb_runbook_find_step(rb, selected[k])) {
			fprintf(stderr, "runbook: %s: no step with id '%s' (see `runbook list %s`)\n",
				rb->path, selected[k], rb->path);
			return RB_EXIT_USAGE;
		}
	}
	for (size_t i = 0; i < rb->nsteps; i++) {
		const rb_step *s = &rb->steps[i];
		if (s->role == RB_ROLE_MAIN && rb_step_runnable(s) && !supported(s->kind)) {
			fprintf(stderr, "%s:%d:%d: step '%s': %s steps cannot be executed by this version\n",
				rb->path, s->line, s->col, s->id, rb_step_kind_name(s->kind));
			return RB_EXIT_USAGE;
		}
	}
	return RB_EXIT_OK;
}

int rb_engine_run(const rb_runbook *rb, const rb_run_opts *opts)
{
	run_state r;
	int rc = RB_EXIT_OK;
	memset(&r, 0, sizeof r);
	r.rb = rb;
	r.opts = opts;
	r.results = rb_xcalloc(rb->nsteps, sizeof *r.results);
	r.total = rb_runbook_count(rb, RB_ROLE_MAIN);

	rb_signals_install();
#ifdef __linux__
	/* Orphans of a step's process group come back to us to be reaped. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
#endif
	rc = setup(&r);
	if (rc != RB_EXIT_OK)
		goto done;

	say("Running %s (%s): %zu step%s\n", rb->title, rb->path, r.total, r.total == 1 ? "" : "s");
	int started = opts->from == NULL;
	size_t ok = 0, failed = 0, skipped = 0;
	for (size_t i = 0; i < rb->nsteps; i++) {
		const rb_step *s = &rb->steps[i];
		step_result *res = &r.results[i];
		if (s->role != RB_ROLE_MAIN || s->kind == RB_STEP_DOC)
			continue;
		if (opts->from && !strcmp(s->id, opts->from))
			started = 1;
		if (!rb_step_runnable(s) || !started || (opts->only && strcmp(s->id, opts->only))) {
			res->status = RB_STATUS_SKIPPED;
			continue;
		}
		if (rb_signals_interrupted()) {
			rc = RB_EXIT_INTERRUPTED;
			break;
		}
		header(&r, s);
		int exit_code = 0;
		res->status = run_shell(&r, s, res, &exit_code);
		res->exit_code = exit_code;
		if (res->status == RB_STATUS_OK) {
			ok++;
			continue;
		}
		if (res->status == RB_STATUS_CANCELLED || rb_signals_interrupted()) {
			rc = RB_EXIT_INTERRUPTED;
			break;
		}
		failed++;
		if (exit_code < 0) {
			rc = RB_EXIT_ENV;
			break;
		}
		if (s->continue_on_error) {
			say("[%d/%zu] continuing: the step allows failure (continue_on_error)\n", s->number,
			    r.total);
			continue;
		}
		rc = RB_EXIT_STEP;
		break;
	}
	for (size_t i = 0; i < rb->nsteps; i++)
		skipped += r.results[i].status == RB_STATUS_SKIPPED;
	if (rc == RB_EXIT_INTERRUPTED)
		say("Interrupted: %zu ok, %zu failed; the run stopped.\n", ok, failed);
	else if (rc == RB_EXIT_OK)
		say("Done: %zu ok%s, %zu failed%s\n", ok, failed ? " (with allowed failures)" : "", failed,
		    skipped ? ", some steps skipped" : "");
	else
		say("Stopped: %zu ok, %zu failed, %zu not reached\n", ok, failed,
		    r.total - ok - failed - skipped);
done:
	for (size_t i = 0; i < rb->nsteps; i++) {
		free(r.results[i].out);
		free(r.results[i].err);
	}
	free(r.results);
	rb_vars_free(&r.vars);
	return rc;
}
