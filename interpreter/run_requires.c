/*
 * run_requires.c - the front matter's `requires:` checked before step 1:
 * every tool on PATH, every variable set (the environment, --set, the
 * front matter's env, a secret's source), every SQL connection the run
 * would use at the PostgreSQL version asked for. Everything missing is
 * reported at once; then the run stops with exit 5, nothing run.
 */
#define _GNU_SOURCE
#include "run.h"
#include "process.h"
#include "requires.h"

#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

/* The connections the run's SQL steps use (NULL: the default), each once, into names; how many. */
static size_t connections(const rb_runbook *rb, const char **names, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < rb->nsteps; i++) {
		const rb_step *s = &rb->steps[i];
		if (s->kind != RB_STEP_SQL || !rb_step_runnable(s) || s->role == RB_ROLE_MANUAL)
			continue;
		int seen = 0;
		for (size_t k = 0; k < n && !seen; k++)
			seen = (!names[k] && !s->db) || (names[k] && s->db && !strcmp(names[k], s->db));
		if (!seen && n < max)
			names[n++] = s->db;
	}
	return n;
}

int rb_run_requirements(rb_run *r)
{
	const rb_front_matter *fm = &r->rb->fm;
	rb_buf missing = RB_BUF_INIT;
	size_t count = 0;
	int rc = RB_EXIT_OK;
	for (size_t i = 0; i < fm->nreq_tools; i++) {
		char *where = rb_process_which(fm->req_tools[i].value);
		if (!where) {
			rb_buf_printf(&missing, "  %s:%d:%d: tool '%s' is not on PATH\n", r->rb->path, fm->req_tools[i].line,
				      fm->req_tools[i].col, fm->req_tools[i].value);
			count++;
		}
		free(where);
	}
	for (size_t i = 0; i < fm->nreq_env; i++) {
		const char *v = rb_vars_get(&r->vars, fm->req_env[i].value);
		if (!v || !*v) {
			rb_buf_printf(&missing, "  %s:%d:%d: variable %s is not set (the environment, --set, --set-env)\n",
				      r->rb->path, fm->req_env[i].line, fm->req_env[i].col, fm->req_env[i].value);
			count++;
		}
	}
	int min = 0;
	const char *spec = NULL;
	if (fm->req_postgres.value && rb_pg_version_requirement(fm->req_postgres.value, &min, &spec) == 0) {
		const char *names[64];
		size_t n = connections(r->rb, names, sizeof names / sizeof *names);
		for (size_t i = 0; i < n; i++) {
			PGconn *conn = NULL;
			rb_error err = RB_ERROR_INIT;
			char *which = rb_dbset_describe(r->dbs, names[i]);
			if (rb_dbset_get(r->dbs, names[i], &r->vars, &conn, &err) < 0) {
				rb_buf_printf(&missing, "  %s:%d:%d: connection %s: cannot check its PostgreSQL version: %s\n",
					      r->rb->path, fm->req_postgres.line, fm->req_postgres.col, which, err.message);
				count++;
			} else if (PQserverVersion(conn) < min) {
				char v[32];
				rb_pg_version_text(PQserverVersion(conn), v, sizeof v);
				rb_buf_printf(&missing, "  %s:%d:%d: connection %s: PostgreSQL %s, the runbook requires %s\n",
					      r->rb->path, fm->req_postgres.line, fm->req_postgres.col, which, v,
					      fm->req_postgres.value);
				count++;
			}
			free(which);
			rb_error_clear(&err);
		}
	}
	if (count) {
		if (missing.len && missing.data[missing.len - 1] == '\n')
			missing.data[--missing.len] = '\0';
		rb_run_error(r, NULL, 0, 0, "%zu requirement%s of the front matter's requires: not met: nothing was run\n%s",
			     count, count == 1 ? "" : "s", rb_buf_cstr(&missing));
		rc = RB_EXIT_ENV;
	}
	rb_buf_free(&missing);
	return rc;
}
