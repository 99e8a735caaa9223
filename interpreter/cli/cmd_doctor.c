/*
 * cmd_doctor.c - `runbook doctor [FILE]`: is this machine set up to run
 * (FILE)? One line a check, with what to do when it fails: the libraries
 * runbook runs with; the audit repository (found, writable, its ref
 * readable, no lock file left on it, nothing waiting to be pushed to the
 * audit remote); FILE's database connections (reachable, their version,
 * the application_name runbook sets visible in pg_stat_activity); FILE's
 * required tools and variables, and its secrets' sources (resolved, never
 * shown); the terminal (colour, width). Exit 0 when all is well, 5
 * otherwise; --json: an array of {check, ok, detail, fix}.
 */
#define _GNU_SOURCE
#include <libpq-fe.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "audit.h"
#include "auditsync.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "db.h"
#include "gitstore.h"
#include "gitsync.h"
#include "json.h"
#include "output.h"
#include "process.h"
#include "redact.h"
#include "requires.h"
#include "signals.h"
#include "secretsrc.h"
#include "util.h"
#include "vars.h"
#include "versions.h"
#include "visible.h"

typedef struct {
	const char *audit_repo;
	const char *audit_remote;
	const char *db;
	int json;
} doctor_args;

static const cli_opt doctor_opts[] = {
	{"audit-repo", "DIR", CLI_OPT_STRING, offsetof(doctor_args, audit_repo), NULL, "the git repository of audit records"},
	{"audit-remote", "REMOTE", CLI_OPT_STRING, offsetof(doctor_args, audit_remote), NULL,
	 "the audit remote (else audit.remote, RUNBOOK_AUDIT_REMOTE)"},
	{"db", "URL", CLI_OPT_STRING, offsetof(doctor_args, db), NULL, "the default connection, as run --db would take it"},
	{"json", NULL, CLI_OPT_FLAG, offsetof(doctor_args, json), NULL, "an array of {check, ok, detail, fix}"},
	{NULL, NULL, CLI_OPT_FLAG, 0, NULL, NULL}
};

const cli_spec cmd_doctor_spec = {
	"doctor", "runbook doctor [FILE] [--db URL] [--audit-repo DIR] [--json]",
	"check this machine's set-up for runbook (and FILE): libraries, audit repository, databases, tools, secrets, terminal",
	CLI_OPERAND_OPTIONAL, doctor_opts
};

/* How long a connection may take here. */
#define DOCTOR_CONNECT_TIMEOUT "5"

typedef struct {
	rb_buf text;
	rb_json j;
	rb_buf json;
	int as_json;
	size_t problems;
} report;

static void line(report *r, const char *check, int ok, const char *detail, const char *fix)
{
	char *d = rb_visible(detail ? detail : "");
	if (r->as_json) {
		rb_json_object_begin(&r->j);
		rb_json_key(&r->j, "check");
		rb_json_string(&r->j, check);
		rb_json_key(&r->j, "ok");
		rb_json_bool(&r->j, ok);
		rb_json_key(&r->j, "detail");
		rb_json_string(&r->j, d);
		rb_json_key(&r->j, "fix");
		rb_json_string(&r->j, ok ? NULL : fix);
		rb_json_end(&r->j, '}');
	} else {
		rb_buf_printf(&r->text, "%-4s %-22s %s%s%s\n", ok ? "ok" : "FAIL", check, d, ok || !fix ? "" : " -> ",
			      ok || !fix ? "" : fix);
	}
	r->problems += !ok;
	free(d);
}

static void libraries(report *r)
{
	rb_version v[8];
	size_t n = rb_versions(v, sizeof v / sizeof *v);
	rb_buf b = RB_BUF_INIT;
	rb_buf_printf(&b, "runbook %s;", RB_VERSION);
	for (size_t i = 0; i < n; i++)
		rb_buf_printf(&b, " %s %s%s", v[i].name, v[i].version, i + 1 < n ? "," : "");
	line(r, "libraries", 1, rb_buf_cstr(&b), NULL);
	rb_buf_free(&b);
}

static void audit_repository(report *r, const doctor_args *a, const rb_runbook *rb)
{
	rb_gitstore *g = NULL;
	char *where = NULL, *remote = rb_auditsync_remote(rb, a->audit_remote);
	rb_error err = RB_ERROR_INIT;
	const char *ref = rb_audit_ref(rb);
	int found = rb_audit_store(rb, a->audit_repo, &g, &where, &err);
	if (found < 0) {
		line(r, "audit repository", 0, err.message, "pass --audit-repo DIR, or make the directory a git repository");
		goto done;
	}
	if (found > 0) {
		char *d = rb_xasprintf("%s: not made yet (the first run makes it)", where);
		line(r, "audit repository", 1, d, NULL);
		free(d);
		goto done;
	}
	char *d = rb_xasprintf("%s", rb_gitstore_gitdir(g));
	line(r, "audit repository", 1, d, NULL);
	free(d);
	rb_error_clear(&err);
	if (rb_gitstore_check_writable(g, &err) < 0)
		line(r, "audit writable", 0, err.message, "give this user write access to the repository");
	else
		line(r, "audit writable", 1, "objects and refs can be written", NULL);
	rb_error_clear(&err);
	if (rb_gitstore_check_ref_lock(g, ref, RB_AUDIT_LOCK_STALE_S, 0, &err) < 0)
		line(r, "audit ref lock", 0, err.message, "remove the lock file if no git process is running");
	else
		line(r, "audit ref lock", 1, "no lock file left on the ref", NULL);
	rb_error_clear(&err);
	rb_gitstore_commit_info c;
	rb_gitstore_walk *w = NULL;
	rb_gitstore_walk_start(g, ref, &w);
	int any = w && rb_gitstore_walk_next(w, &c);
	rb_gitstore_walk_free(w);
	char *dd = rb_xasprintf("%s: %s", ref, any ? "its newest record readable" : "no records yet");
	line(r, "audit ref", 1, dd, NULL);
	free(dd);
	if (remote) {
		char *shown = rb_auditsync_shown(remote);
		size_t waiting = rb_gitsync_waiting(g, remote, ref);
		char *wd = rb_xasprintf("%zu record%s not pushed to %s (as last seen)", waiting, waiting == 1 ? "" : "s", shown);
		line(r, "audit remote", waiting == 0, wd, "runbook audit push");
		free(wd);
		free(shown);
	}
done:
	rb_gitstore_free(g);
	free(where);
	free(remote);
	rb_error_clear(&err);
}

/* One connection: reachable, its version, the application_name runbook sets seen in pg_stat_activity. */
static void connection(report *r, const char *name, const char *dsn, const rb_vars *vars)
{
	char *missing = NULL, *expanded = rb_vars_expand(vars, dsn, &missing), *shown = rb_dsn_redact(dsn);
	char *check = rb_xasprintf("database %s", name);
	if (missing) {
		char *d = rb_xasprintf("%s: ${%s} is not set", shown, missing);
		line(r, check, 0, d, "set the variable (the environment, or the run's --set)");
		free(d);
	} else {
		const char *keys[] = {"dbname", "application_name", "connect_timeout", NULL};
		const char *values[] = {expanded, "runbook-doctor", DOCTOR_CONNECT_TIMEOUT, NULL};
		PGconn *c = PQconnectdbParams(keys, values, 1);
		if (PQstatus(c) != CONNECTION_OK) {
			char *why = rb_pq_error(c), *d = rb_xasprintf("%s: %s", shown, why);
			line(r, check, 0, d, "check the host, port, credentials and that the server runs");
			free(d);
			free(why);
		} else {
			PGresult *res = PQexec(c, "SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()");
			int seen = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
				   !strcmp(PQgetvalue(res, 0, 0), "runbook-doctor");
			PQclear(res);
			char v[32];
			rb_pg_version_text(PQserverVersion(c), v, sizeof v);
			char *d = rb_xasprintf("%s: PostgreSQL %s, application_name %s", shown, v,
					       seen ? "visible in pg_stat_activity" : "not visible in pg_stat_activity");
			line(r, check, seen, d, "grant pg_read_all_stats or run as the connection's own role");
			free(d);
		}
		PQfinish(c);
	}
	free(check);
	free(shown);
	free(missing);
	if (expanded)
		explicit_bzero(expanded, strlen(expanded));
	free(expanded);
}

static void runbook_needs(report *r, const doctor_args *a, const rb_runbook *rb)
{
	rb_vars vars = RB_VARS_INIT;
	rb_vars_load_environ(&vars);
	const char *def = a->db ? a->db : rb->fm.database.value;
	if (def)
		connection(r, "(default)", def, &vars);
	for (size_t i = 0; i < rb->fm.ndatabases; i++)
		connection(r, rb->fm.databases[i].key, rb->fm.databases[i].value, &vars);
	for (size_t i = 0; i < rb->fm.nreq_tools; i++) {
		char *where = rb_process_which(rb->fm.req_tools[i].value);
		char *check = rb_xasprintf("tool %s", rb->fm.req_tools[i].value);
		line(r, check, where != NULL, where ? where : "not on PATH", "install it, or put its directory on PATH");
		free(check);
		free(where);
	}
	for (size_t i = 0; i < rb->fm.nreq_env; i++) {
		const char *v = rb_vars_get(&vars, rb->fm.req_env[i].value);
		char *check = rb_xasprintf("variable %s", rb->fm.req_env[i].value);
		line(r, check, v && *v, v && *v ? "set" : "not set in this environment",
		     "export it, or give it to the run with --set / --set-env");
		free(check);
	}
	if (rb->fm.nsecret_sources)
		rb_signals_install(); /* Ctrl-C stops a source's command (in a process group of its own) */
	for (size_t i = 0; i < rb->fm.nsecret_sources; i++) {
		/* Resolved as a run would, the value thrown away unseen (and hidden in what the source said). */
		const rb_secret_source *src = &rb->fm.secret_sources[i];
		rb_redactor red = RB_REDACTOR_INIT;
		rb_buf value = RB_BUF_INIT;
		rb_error err = RB_ERROR_INIT;
		int ok = rb_secret_source_value(rb, src, &value, &err) == 0;
		rb_redactor_add(&red, rb_buf_cstr(&value));
		char *why = ok ? NULL : rb_redact(&red, err.message ? err.message : "");
		char *desc = rb_secret_describe(rb, src), *check = rb_xasprintf("secret %s", src->name);
		char *d = rb_xasprintf("from %s: %s", desc, ok ? "resolves" : why);
		line(r, check, ok, d, "see that the source works for this user (its command, file mode 600, variable)");
		if (value.data)
			explicit_bzero(value.data, value.len);
		rb_buf_free(&value);
		free(why);
		free(d);
		free(check);
		free(desc);
		rb_redactor_free(&red);
		rb_error_clear(&err);
	}
	rb_vars_free(&vars);
}

static void terminal(report *r)
{
	struct winsize ws;
	const char *term = getenv("TERM"), *no_color = getenv("NO_COLOR");
	int tty = isatty(STDOUT_FILENO);
	int width = tty && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 ? ws.ws_col : 0;
	char *d = rb_xasprintf("%s; colour %s; width %s%d", tty ? "a terminal" : "not a terminal (output to a file or pipe)",
			       !tty ? "off" : no_color && *no_color ? "off (NO_COLOR)" : term && strcmp(term, "dumb") ? "on" : "off (TERM)",
			       width ? "" : "unknown, ", width ? width : 80);
	line(r, "terminal", 1, d, NULL);
	free(d);
}

int cmd_doctor(int argc, char **argv)
{
	doctor_args a = {NULL, NULL, NULL, 0};
	cli_parsed p = {NULL, 0, 0};
	rb_runbook *rb = NULL;
	report r;
	int rc = RB_EXIT_USAGE;
	memset(&r, 0, sizeof r);
	if (cli_parse(&cmd_doctor_spec, argc, argv, &a, &p) < 0)
		goto done;
	if (p.help) {
		cli_help(&cmd_doctor_spec);
		rc = RB_EXIT_OK;
		goto done;
	}
	if (p.count && !(rb = cli_runbook_load(p.operands[0])))
		goto done;
	r.as_json = a.json;
	if (r.as_json) {
		rb_json_init(&r.j, &r.json, 1);
		rb_json_array_begin(&r.j);
	}
	libraries(&r);
	audit_repository(&r, &a, rb);
	if (rb)
		runbook_needs(&r, &a, rb);
	terminal(&r);
	if (r.as_json) {
		rb_json_end(&r.j, ']');
		rb_buf_putc(&r.json, '\n');
		rb_out_write(1, r.json.data, r.json.len);
	} else {
		rb_buf_printf(&r.text, "%s\n", r.problems ? "Some checks failed (FAIL above): fix them before a run."
							   : "All is well.");
		rb_out_write(1, r.text.data, r.text.len);
	}
	rc = r.problems ? RB_EXIT_ENV : RB_EXIT_OK;
done:
	rb_buf_free(&r.text);
	rb_buf_free(&r.json);
	rb_runbook_free(rb);
	cli_parsed_free(&p);
	return rc;
}
