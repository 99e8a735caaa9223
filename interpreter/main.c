/*
 * main.c - the command line: argv into options, a result into an exit code.
 *
 * One table describes every command and option; it drives both parsing and
 * --help, so the two cannot disagree.
 */
#define _DEFAULT_SOURCE
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"
#include "diag.h"
#include "json.h"
#include "lint.h"
#include "scaffold.h"
#include "attrs.h"
#include "db.h"
#include "engine.h"
#include "redact.h"
#include "vars.h"
#include "visible.h"
#include "frontmatter.h"
#include "parse.h"
#include "pgserver.h"
#include "plan.h"
#include "preflight.h"
#include "util.h"

#ifndef RB_VERSION
#define RB_VERSION "0.0.0"
#endif

enum {
	CMD_RUN = 1 << 0,
	CMD_PLAN = 1 << 1,
	CMD_LIST = 1 << 2,
	CMD_LOG = 1 << 3,
	CMD_SHOW = 1 << 4,
	CMD_CHECK = 1 << 5,
	CMD_NEW = 1 << 6
};

typedef struct {
	const char *name;
	unsigned cmd;
	const char *summary;
	const char *usage;
} cli_command;

static const cli_command commands[] = {
	{"run", CMD_RUN, "run a runbook", "runbook run FILE [--dry-run] [--db URL | --ephemeral-db] [--set K=V]... [options]"},
	{"plan", CMD_PLAN, "show what a run would do, touching nothing (= run --dry-run)",
	 "runbook plan FILE [--json]"},
	{"check", CMD_CHECK, "lint: everything that can be known without running, compiler-style",
	 "runbook check FILE... [--strict] [--json] [--db URL]"},
	{"new", CMD_NEW, "write a scaffold runbook that passes check --strict",
	 "runbook new FILE [--template basic|sql|promotion]"},
	{"list", CMD_LIST, "print the step ids, one a line", "runbook list FILE"},
	{"log", CMD_LOG, "list past runs from the audit ref (of FILE only, when given)",
	 "runbook log [FILE] [--audit-repo DIR]"},
	{"show", CMD_SHOW, "print the record of one run (RUN: run id or its start, or a commit)",
	 "runbook show RUN [--json] [--audit-repo DIR]"},
	{NULL, 0, NULL, NULL}
};

typedef enum {
	OPT_DRY_RUN, OPT_JSON, OPT_SET, OPT_YES, OPT_CONFIRM, OPT_FROM, OPT_ONLY, OPT_DB,
	OPT_EPHEMERAL_DB, OPT_KEEP_DB, OPT_AUDIT_REPO, OPT_NO_AUDIT, OPT_RESUME, OPT_FORCE, OPT_STRICT,
	OPT_TEMPLATE, OPT_NO_PREFLIGHT, OPT_SET_ENV, OPT_SECRETS_FILE, OPT_SKIP_GUARDS, OPT_WAIT_LOCK, OPT_HELP
} opt_id;

typedef struct {
	opt_id id;
	const char *name;
	const char *arg;     /* NULL for a flag */
	unsigned cmds;
	const char *help;
} cli_option;

static const cli_option options[] = {
	{OPT_DRY_RUN, "dry-run", NULL, CMD_RUN, "print the plan instead of running"},
	{OPT_JSON, "json", NULL, CMD_RUN | CMD_PLAN | CMD_SHOW | CMD_CHECK,
	 "JSON output (the plan; show: record.json; check: the diagnostics)"},
	{OPT_SET, "set", "K=V", CMD_RUN | CMD_PLAN, "set a variable (repeatable); overrides front matter env"},
	{OPT_SET_ENV, "set-env", "NAME", CMD_RUN,
	 "set variable NAME from runbook's own environment (a secret stays out of ps)"},
	{OPT_SECRETS_FILE, "secrets-file", "FILE", CMD_RUN,
	 "NAME=VALUE lines, each a secret (the file must not be readable by others: chmod 600)"},
	{OPT_YES, "yes", NULL, CMD_RUN, "approve task lists and plain confirmations"},
	{OPT_CONFIRM, "confirm", "PHRASE", CMD_RUN, "the phrase a confirm=\"PHRASE\" step asks for"},
	{OPT_FROM, "from", "ID", CMD_RUN | CMD_PLAN, "start at step ID (the guards before it are checked again)"},
	{OPT_ONLY, "only", "ID", CMD_RUN | CMD_PLAN, "run only step ID (the guards before it are checked again)"},
	{OPT_SKIP_GUARDS, "skip-guards", NULL, CMD_RUN | CMD_PLAN,
	 "with --from/--only/--resume: do not check the gates and approvals before it again (asked, recorded)"},
	{OPT_DB, "db", "URL", CMD_RUN | CMD_CHECK,
	 "run: the default database connection; check: trial-run SQL blocks there, rolled back"},
	{OPT_STRICT, "strict", NULL, CMD_CHECK, "warnings fail too (exit 1)"},
	{OPT_TEMPLATE, "template", "NAME", CMD_NEW, "basic (default), sql or promotion"},
	{OPT_EPHEMERAL_DB, "ephemeral-db", NULL, CMD_RUN,
	 "run against a throwaway local PostgreSQL, removed at exit"},
	{OPT_KEEP_DB, "keep-db", NULL, CMD_RUN, "with --ephemeral-db: keep the server and print how to connect"},
	{OPT_AUDIT_REPO, "audit-repo", "DIR", CMD_RUN | CMD_PLAN | CMD_LOG | CMD_SHOW,
	 "the git repository of audit records"},
	{OPT_NO_AUDIT, "no-audit", NULL, CMD_RUN, "do not record the run"},
	{OPT_RESUME, "resume", NULL, CMD_RUN | CMD_PLAN,
	 "continue the last failed or interrupted run after its last successful step"},
	{OPT_FORCE, "force", NULL, CMD_RUN, "with --resume: resume even if the runbook changed"},
	{OPT_WAIT_LOCK, "wait-lock", "DURATION", CMD_RUN,
	 "wait this long for another run of the runbook to end, instead of refusing at once"},
	{OPT_NO_PREFLIGHT, "no-preflight", NULL, CMD_RUN,
	 "skip the offline checks made before step 1 (recorded; for runbooks that generate code)"},
	{OPT_HELP, "help", NULL, CMD_RUN | CMD_PLAN | CMD_LIST | CMD_LOG | CMD_SHOW | CMD_CHECK | CMD_NEW,
	 "show this help"},
};

#define NOPTIONS (sizeof options / sizeof options[0])

typedef struct {
	const cli_command *cmd;
	const char *file;
	int dry_run;
	int json;
	int help;
	const char *audit_repo;
	int no_audit;
	int resume;
	int force;
	int strict;
	int no_preflight;
	const char *template_name;
	const char *check_db;
	char **files;        /* check: every FILE */
	size_t nfiles;
	char **sets;         /* "NAME=value", owned: --set, --set-env, --secrets-file */
	size_t nsets;
	char *db_url;        /* owned copy of --db (argv's is scrubbed) */
	rb_redactor file_secrets; /* values from --secrets-file: secret whatever their names */
	rb_run_opts run;
} cli_args;

static void usage_all(FILE *out)
{
	fprintf(out, "runbook %s - execute Markdown runbooks\n\nUsage:\n", RB_VERSION);
	for (const cli_command *c = commands; c->name; c++)
		fprintf(out, "  %-44s %s\n", c->usage, c->summary);
	fprintf(out, "  runbook --help | --version\n\n"
		     "`runbook COMMAND --help` lists a command's options.\n"
		     "Exit codes: 0 success, 1 a step failed, 2 usage or invalid runbook,\n"
		     "3 a gate or approval said no, 4 an abort condition fired,\n"
		     "5 environment (database, audit repository),\n"
		     "128+N stopped by signal N (130 SIGINT, 143 SIGTERM, 129 SIGHUP).\n");
}

static void usage_cmd(const cli_command *c, FILE *out)
{
	fprintf(out, "Usage: %s\n\n%s.\n\nOptions:\n", c->usage, c->summary);
	for (size_t i = 0; i < NOPTIONS; i++) {
		const cli_option *o = &options[i];
		if (!(o->cmds & c->cmd))
			continue;
		char left[64];
		snprintf(left, sizeof left, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(out, "  %-20s %s\n", left, o->help);
	}
}

static void add_set(cli_args *a, char *owned)
{
	a->sets = rb_xrealloc(a->sets, (a->nsets + 1) * sizeof *a->sets);
	a->sets[a->nsets++] = owned;
}

/*
 * Overwrites a secret value in argv with '*', so that ps and /proc/PID/cmdline
 * show it no longer (there is a window before this runs: the warning says
 * how to pass secrets without it).
 */
static void scrub_secret_set(const rb_runbook *rb, char *kv)
{
	char *eq = strchr(kv, '=');
	if (!eq)
		return;
	char *name = rb_xstrndup(kv, (size_t)(eq - kv));
	if (rb_runbook_is_secret(rb, name) && eq[1]) {
		fprintf(stderr, "runbook: warning: --set %s puts a secret on the command line, where other "
			"local users can read it; use --set-env %s or --secrets-file FILE\n", name, name);
		memset(eq + 1, '*', strlen(eq + 1));
	}
	free(name);
}

/* Every secret --set value in argv (values were copied by parse_args). */
static void scrub_secret_sets(const rb_runbook *rb, int argc, char **argv)
{
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--set") && i + 1 < argc)
			scrub_secret_set(rb, argv[++i]);
		else if (!strncmp(argv[i], "--set=", 6))
			scrub_secret_set(rb, argv[i] + 6);
	}
}

static void scrub_db_arg(char *arg)
{
	char *pw = rb_dsn_password(arg);
	if (pw) {
		char *at = strstr(arg, pw);
		fprintf(stderr, "runbook: warning: --db holds a password, which other local users can read "
			"on the command line; use PGPASSWORD, ~/.pgpass or PGSERVICE\n");
		if (at)
			memset(at, '*', strlen(pw));
	}
	free(pw);
}

/* --secrets-file: NAME=VALUE lines (# comments, blank lines); mode 0600 or stricter. */
static int read_secrets_file(cli_args *a, const char *path)
{
	int rc = -1;
	struct stat st;
	FILE *f = NULL;
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "runbook: --secrets-file %s: not a readable file\n", path);
		goto done;
	}
	if (st.st_mode & 077) {
		fprintf(stderr, "runbook: --secrets-file %s: readable by others (mode %03o): chmod 600 %s\n", path,
			(unsigned)(st.st_mode & 0777), path);
		goto done;
	}
	f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "runbook: --secrets-file %s: cannot open it\n", path);
		goto done;
	}
	while (getline(&line, &cap, f) >= 0) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		char *t = line + strspn(line, " \t");
		if (!*t || *t == '#')
			continue;
		char *eq = strchr(t, '=');
		char *name = eq ? rb_xstrndup(t, (size_t)(eq - t)) : NULL;
		int ok = name && rb_var_name_valid(name);
		free(name);
		if (!ok) {
			fprintf(stderr, "%s:%d: expected NAME=VALUE\n", path, lineno);
			goto done;
		}
		add_set(a, rb_xstrdup(t));
		rb_redactor_add(&a->file_secrets, eq + 1);
	}
	rc = 0;
done:
	if (f)
		fclose(f);
	free(line);
	return rc;
}

static int parse_args(int argc, char **argv, cli_args *a)
{
	for (const cli_command *c = commands; c->name; c++)
		if (!strcmp(argv[1], c->name))
			a->cmd = c;
	if (!a->cmd) {
		fprintf(stderr, "runbook: unknown command '%s' (try runbook --help)\n", argv[1]);
		return -1;
	}
	for (int i = 2; i < argc; i++) {
		const char *arg = argv[i];
		if (strncmp(arg, "--", 2) != 0 || !arg[2]) {
			if (a->cmd->cmd == CMD_CHECK) {
				a->files = rb_xrealloc(a->files, (a->nfiles + 1) * sizeof *a->files);
				a->files[a->nfiles++] = (char *)arg;
				a->file = a->files[0];
				continue;
			}
			if (a->file) {
				fprintf(stderr, "runbook %s: one FILE only (got '%s' and '%s')\n", a->cmd->name,
					a->file, arg);
				return -1;
			}
			a->file = arg;
			continue;
		}
		const char *name = arg + 2;
		const char *eq = strchr(name, '=');
		size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
		const cli_option *o = NULL;
		for (size_t k = 0; k < NOPTIONS; k++)
			if (strlen(options[k].name) == nlen && !strncmp(options[k].name, name, nlen) &&
			    (options[k].cmds & a->cmd->cmd))
				o = &options[k];
		if (!o) {
			fprintf(stderr, "runbook %s: unknown option '--%.*s' (try runbook %s --help)\n",
				a->cmd->name, (int)nlen, name, a->cmd->name);
			return -1;
		}
		const char *val = NULL;
		if (o->arg) {
			if (eq)
				val = eq + 1;
			else if (i + 1 < argc)
				val = argv[++i];
			else {
				fprintf(stderr, "runbook %s: --%s needs a value (%s)\n", a->cmd->name, o->name, o->arg);
				return -1;
			}
		} else if (eq) {
			fprintf(stderr, "runbook %s: --%s takes no value\n", a->cmd->name, o->name);
			return -1;
		}
		switch (o->id) {
		case OPT_DRY_RUN: a->dry_run = 1; break;
		case OPT_JSON: a->json = 1; break;
		case OPT_SET:
			add_set(a, rb_xstrdup(val));
			break;
		case OPT_SET_ENV: {
			const char *v = getenv(val);
			if (!v || !rb_var_name_valid(val)) {
				fprintf(stderr, "runbook %s: --set-env %s: no such variable in the environment\n",
					a->cmd->name, val);
				return -1;
			}
			add_set(a, rb_xasprintf("%s=%s", val, v));
			break;
		}
		case OPT_SECRETS_FILE:
			if (read_secrets_file(a, val) < 0)
				return -1;
			break;
		case OPT_YES: a->run.yes = 1; break;
		case OPT_CONFIRM: a->run.confirm = val; break;
		case OPT_FROM: a->run.from = val; break;
		case OPT_ONLY: a->run.only = val; break;
		case OPT_SKIP_GUARDS: a->run.skip_guards = 1; break;
		case OPT_WAIT_LOCK:
			if (rb_parse_duration(val, &a->run.wait_lock_ms) < 0) {
				fprintf(stderr, "runbook %s: --wait-lock %s: not a duration (like 30s, 5m)\n",
					a->cmd->name, val);
				return -1;
			}
			break;
		case OPT_DB:
			free(a->db_url);
			a->db_url = rb_xstrdup(val);
			a->run.db_url = a->db_url;
			scrub_db_arg(argv[i]);
			break;
		case OPT_EPHEMERAL_DB: a->run.ephemeral_db = 1; break;
		case OPT_KEEP_DB: a->run.keep_db = 1; break;
		case OPT_AUDIT_REPO: a->audit_repo = val; break;
		case OPT_NO_AUDIT: a->no_audit = 1; break;
		case OPT_RESUME: a->resume = 1; break;
		case OPT_FORCE: a->force = 1; break;
		case OPT_STRICT: a->strict = 1; break;
		case OPT_TEMPLATE: a->template_name = val; break;
		case OPT_NO_PREFLIGHT: a->no_preflight = 1; break;
		case OPT_HELP: a->help = 1; break;
		}
	}
	if (a->cmd->cmd == CMD_CHECK && a->run.db_url)
		a->check_db = a->run.db_url;
	if (a->run.db_url && a->run.ephemeral_db) {
		fprintf(stderr, "runbook %s: --db and --ephemeral-db exclude each other\n", a->cmd->name);
		return -1;
	}
	if (a->run.keep_db && !a->run.ephemeral_db) {
		fprintf(stderr, "runbook %s: --keep-db goes with --ephemeral-db\n", a->cmd->name);
		return -1;
	}
	if (a->resume && (a->run.from || a->run.only)) {
		fprintf(stderr, "runbook %s: --resume picks the steps itself: no --from or --only with it\n",
			a->cmd->name);
		return -1;
	}
	if (!a->help && !a->file && a->cmd->cmd != CMD_LOG) {
		fprintf(stderr, "runbook %s: missing FILE\nUsage: %s\n", a->cmd->name, a->cmd->usage);
		return -1;
	}
	return 0;
}

/*
 * Where the shipped Lua helpers are: RUNBOOK_LUA_PATH, else next to the
 * binary as installed (bin/../share/runbook/lua), else the configured install
 * directory, else the source tree of a development build. Caller frees.
 */
static char *lua_dir(void)
{
	const char *env = getenv("RUNBOOK_LUA_PATH");
	if (env && *env)
		return rb_xstrdup(env);
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			char *d = rb_xasprintf("%s/../share/runbook/lua", exe);
			if (access(d, R_OK) == 0)
				return d;
			free(d);
		}
	}
#ifdef RB_LUA_DIR
	if (access(RB_LUA_DIR, R_OK) == 0)
		return rb_xstrdup(RB_LUA_DIR);
#endif
#ifdef RB_SOURCE_LUA_DIR
	if (access(RB_SOURCE_LUA_DIR, R_OK) == 0)
		return rb_xstrdup(RB_SOURCE_LUA_DIR);
#endif
	return NULL;
}

static int cmd_list(const rb_runbook *rb)
{
	for (size_t i = 0; i < rb->nsteps; i++)
		if (rb->steps[i].id)
			printf("%s\n", rb->steps[i].id);
	return RB_EXIT_OK;
}

/* plan (and run --dry-run): the whole runbook, or what a partial run or a resume would do. */
static int cmd_plan(const rb_runbook *rb, const cli_args *a)
{
	int rc = RB_EXIT_OK;
	rb_error err = RB_ERROR_INIT;
	rb_resume_point rp;
	char *resume = NULL;
	memset(&rp, 0, sizeof rp);
	char *audit = a->no_audit ? rb_xstrdup("none (--no-audit)") : rb_audit_describe(rb, a->audit_repo);
	rb_plan_opts po = {a->json, 0, audit, a->run.from, a->run.only, a->run.skip_guards, NULL};
	if (a->resume) {
		/* A preview: nothing is committed, a killed run's journal is read where it is. */
		rb_resume_opts ro = {a->audit_repo, a->force, 1, a->run.db_url, a->run.ephemeral_db};
		if (rb_audit_resume_point(rb, &ro, &rp, &err) < 0) {
			char *m = rb_error_format(&err);
			fprintf(stderr, "%s\n", m);
			free(m);
			rc = err.code ? err.code : RB_EXIT_USAGE;
			goto done;
		}
		char *chain = rb_resume_point_describe(&rp);
		size_t n = strlen(chain);
		resume = rb_xasprintf("continues run %s at step '%s' (%zu value%s restored)\n%.*s", rp.run, rp.from,
				      rp.ncaptures, rp.ncaptures == 1 ? "" : "s", (int)(n ? n - 1 : 0), chain);
		free(chain);
		po.from = rp.from;
		po.resume = resume;
	}
	rb_run_opts selected = a->run;
	selected.from = po.from;
	if (rb_preflight_options(rb, &selected, &err) < 0) {
		fprintf(stderr, "runbook: %s\n", err.message);
		rc = RB_EXIT_USAGE;
		goto done;
	}
	rb_buf out = RB_BUF_INIT;
	rb_plan_render(rb, &po, &out);
	fwrite(out.data, 1, out.len, stdout);
	rb_buf_free(&out);
	if (rp.refusal.code && !a->force) {
		/* What the run would refuse: the preview above, the reason and the exit code here. */
		char *m = rb_error_format(&rp.refusal);
		fflush(stdout);
		fprintf(stderr, "%s\n", m);
		free(m);
		rc = rp.refusal.code;
	}
done:
	rb_error_clear(&err);
	rb_resume_point_free(&rp);
	free(resume);
	free(audit);
	return rc;
}

/* check: every file, every finding, one exit code. */
static int cmd_check(const cli_args *a)
{
	int errors = 0, warnings = 0;
	rb_buf json = RB_BUF_INIT;
	rb_json j;
	rb_json_init(&j, &json, 1);
	rb_json_array_begin(&j);
	for (size_t f = 0; f < a->nfiles; f++) {
		rb_diags d = RB_DIAGS_INIT;
		rb_runbook *rb = rb_parse_file(a->files[f], &d);
		if (rb) {
			rb_lint_opts lo = {a->check_db, 0, 0, NULL};
			rb_lint(rb, &lo, &d);
		}
		rb_diags_sort(&d);
		if (a->json) {
			for (size_t i = 0; i < d.count; i++) {
				const rb_diag *g = &d.items[i];
				rb_json_object_begin(&j);
				rb_json_key(&j, "file");
				rb_json_string(&j, g->file);
				rb_json_key(&j, "line");
				rb_json_int(&j, g->line);
				rb_json_key(&j, "col");
				rb_json_int(&j, g->col);
				rb_json_key(&j, "severity");
				rb_json_string(&j, g->severity == RB_DIAG_ERROR ? "error" : "warning");
				rb_json_key(&j, "message");
				char *shown = rb_visible(g->message);
				rb_json_string(&j, shown);
				free(shown);
				rb_json_end(&j, '}');
			}
		} else {
			rb_diags_print(&d, stdout);
		}
		errors += (int)d.errors;
		warnings += (int)d.warnings;
		rb_runbook_free(rb);
		rb_diags_free(&d);
	}
	rb_json_end(&j, ']');
	if (a->json)
		printf("%s\n", json.data);
	else if (errors || warnings)
		printf("%d error%s, %d warning%s\n", errors, errors == 1 ? "" : "s", warnings,
		       warnings == 1 ? "" : "s");
	rb_buf_free(&json);
	return errors ? RB_EXIT_USAGE : warnings && a->strict ? RB_EXIT_STEP : RB_EXIT_OK;
}

/* 1 when NAME is given by --set, --set-env or --secrets-file. */
static int given(const cli_args *a, const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < a->nsets; i++)
		if (!strncmp(a->sets[i], name, n) && a->sets[i][n] == '=')
			return 1;
	return 0;
}

/*
 * A secret captured or set by a run of the chain being resumed was never
 * stored (the record holds ***, or a connection string's password as ***).
 * It is dropped from the restored values when the operator gives it again;
 * otherwise the resume is refused, naming it: *** is never a value. Values
 * given again are dropped too: this run's --set wins.
 */
static int resume_secrets(const rb_runbook *rb, const cli_args *a, rb_resume_point *rp)
{
	size_t kept = 0;
	int rc = 0;
	for (size_t i = 0; i < rp->ncaptures; i++) {
		char *kv = rp->captures[i];
		char *eq = strchr(kv, '=');
		char *name = rb_xstrndup(kv, eq ? (size_t)(eq - kv) : strlen(kv));
		char *pw = eq ? rb_dsn_password(eq + 1) : NULL;
		int hidden = eq && strstr(eq + 1, "***") &&
			     (rb_runbook_is_secret(rb, name) || !strcmp(eq + 1, "***") || (pw && !strcmp(pw, "***")));
		const rb_restore_origin *o = &rp->origins[i];
		if (hidden && !given(a, name)) {
			fprintf(stderr, "runbook: --resume: the secret %s %s run %s was never stored; give it again "
				"with --set-env %s or --secrets-file FILE\n", name,
				o->step ? "captured by" : "given with --set to", rp->chain[o->run].id, name);
			rc = -1;
		}
		if (hidden || given(a, name)) {
			free(kv);
			free(rp->origins[i].step);
		} else {
			rp->origins[kept] = rp->origins[i];
			rp->captures[kept++] = kv;
		}
		free(pw);
		free(name);
	}
	rp->ncaptures = kept;
	return rc;
}

/* The names of the values restored by --resume, for the record: "A B C". Caller frees. */
static char *restored_names(const rb_resume_point *rp)
{
	rb_buf b = RB_BUF_INIT;
	for (size_t i = 0; i < rp->ncaptures; i++) {
		const char *eq = strchr(rp->captures[i], '=');
		rb_buf_printf(&b, "%s%.*s", i ? " " : "", (int)(eq ? eq - rp->captures[i] : 0), rp->captures[i]);
	}
	return rb_buf_detach(&b);
}

/* run: resume point, audit record around the engine, exit code. */
static int cmd_run(const rb_runbook *rb, cli_args *a, int argc, char **argv)
{
	int rc = RB_EXIT_OK;
	rb_redactor redactor = RB_REDACTOR_INIT;
	rb_audit *audit = NULL;
	rb_error err = RB_ERROR_INIT;
	rb_resume_point rp;
	memset(&rp, 0, sizeof rp);
	scrub_secret_sets(rb, argc, argv);
	/* Throwaway servers of runbooks that were killed are stopped and removed. */
	rb_pgserver_reap_orphans(NULL, stderr);

	if (a->resume) {
		rb_resume_opts ro = {a->audit_repo, a->force, 0, a->run.db_url, a->run.ephemeral_db};
		if (rb_audit_resume_point(rb, &ro, &rp, &err) < 0) {
			char *m = rb_error_format(&err);
			fprintf(stderr, "%s\n", m);
			free(m);
			rc = err.code ? err.code : RB_EXIT_USAGE;
			goto done;
		}
		if (resume_secrets(rb, a, &rp) < 0) {
			rc = RB_EXIT_USAGE;
			goto done;
		}
		char *chain = rb_resume_point_describe(&rp);
		printf("Resuming run %s at step '%s' (%zu value%s restored)\n%s", rp.run, rp.from, rp.ncaptures,
		       rp.ncaptures == 1 ? "" : "s", chain);
		free(chain);
		fflush(stdout);
		if (rp.forced)
			fprintf(stderr, "runbook: warning: --force: resuming although %s\n", rp.forced);
		a->run.from = rp.from;
		a->run.restores = rp.captures;
		a->run.nrestores = rp.ncaptures;
	}
	/* Nothing has started yet: a run refused here is not recorded. */
	if (rb_preflight_options(rb, &a->run, &err) < 0) {
		fprintf(stderr, "runbook: %s\n", err.message);
		rc = RB_EXIT_USAGE;
		goto done;
	}
	if (!a->no_preflight) {
		rb_diags d = RB_DIAGS_INIT;
		size_t errors = rb_preflight_lint(rb, &a->run, &d);
		rb_diags_sort(&d);
		rb_diags_print(&d, stderr);
		if (errors)
			fprintf(stderr, "runbook: %s: %zu error%s found before the run: nothing was run "
				"(see `runbook check %s`)\n", rb->path, errors, errors == 1 ? "" : "s", rb->path);
		rb_diags_free(&d);
		if (errors) {
			rc = RB_EXIT_USAGE;
			goto done;
		}
	}
	rb_engine_collect_secrets(rb, &a->run, &redactor);
	for (size_t i = 0; i < a->file_secrets.count; i++)
		rb_redactor_add(&redactor, a->file_secrets.values[i]);
	for (size_t i = 0; i < redactor.count; i++)
		if (strlen(redactor.values[i]) < 4) {
			fprintf(stderr, "runbook: warning: a secret value is shorter than 4 characters: every "
				"occurrence of it is hidden in output and records, and it is easy to guess\n");
			break;
		}
	a->run.redactor = &redactor;
	if (!a->no_audit) {
		rb_audit_opts ao = {a->audit_repo, argc, argv, &redactor, a->resume ? rp.run : NULL,
				    a->resume ? rp.first : NULL};
		if (rb_audit_begin(rb, &ao, &audit, &err) < 0) {
			fprintf(stderr, "runbook: cannot record this run: %s\n", err.message);
			rc = RB_EXIT_ENV;
			goto done;
		}
		a->run.record = rb_audit_record(audit);
		if (a->resume) {
			char *names = restored_names(&rp);
			rb_record_event(a->run.record, "note", "text", "resumed run", "from", rp.from, "run", rp.run,
					"resumes", rp.run, "chain", rp.first, "restored", names, NULL);
			if (rp.forced)
				rb_record_event(a->run.record, "note", "text", "resumed with --force", "overrides",
						rp.forced, NULL);
			free(names);
		}
		if (a->run.from || a->run.only)
			rb_record_event(a->run.record, "note", "text", "steps selected", "from", a->run.from,
					"only", a->run.only, NULL);
		if (a->no_preflight)
			rb_record_event(a->run.record, "note", "text",
					"pre-flight checks skipped (--no-preflight)", NULL);
	}
	rc = rb_engine_run(rb, &a->run);
	if (audit && rb_audit_finish(audit, rc, &err) < 0 && rc == RB_EXIT_OK)
		rc = RB_EXIT_ENV;
done:
	rb_audit_free(audit);
	rb_error_clear(&err);
	rb_resume_point_free(&rp);
	rb_redactor_free(&redactor);
	return rc;
}

int main(int argc, char **argv)
{
	int rc = RB_EXIT_USAGE;
	cli_args a;
	rb_diags diags = RB_DIAGS_INIT;
	rb_runbook *rb = NULL;
	char *luadir = NULL;

	memset(&a, 0, sizeof a);
	if (argc < 2) {
		usage_all(stderr);
		goto done;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage_all(stdout);
		rc = RB_EXIT_OK;
		goto done;
	}
	if (!strcmp(argv[1], "--list-keys")) {
		/* Every attribute and front matter key the parser accepts (for the docs test). */
		for (const rb_attr_spec *sp = rb_attr_specs; sp->name; sp++)
			printf("%s\n", sp->name);
		for (const char *const *k = rb_runme_attrs; *k; k++)
			printf("%s\n", *k);
		for (const char *const *k = rb_frontmatter_keys; *k; k++)
			printf("%s\n", *k);
		rc = RB_EXIT_OK;
		goto done;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("runbook %s\n", RB_VERSION);
		rc = RB_EXIT_OK;
		goto done;
	}
	if (parse_args(argc, argv, &a) < 0)
		goto done;
	if (a.help) {
		usage_cmd(a.cmd, stdout);
		rc = RB_EXIT_OK;
		goto done;
	}

	if (a.cmd->cmd == CMD_SHOW) {
		rc = rb_audit_show(a.audit_repo, a.file, NULL, a.json);
		goto done;
	}
	if (a.cmd->cmd == CMD_CHECK) {
		rc = cmd_check(&a);
		goto done;
	}
	if (a.cmd->cmd == CMD_NEW) {
		rb_error err = RB_ERROR_INIT;
		rc = rb_scaffold_write(a.file, a.template_name ? a.template_name : "basic", &err);
		if (rc != RB_EXIT_OK) {
			fprintf(stderr, "runbook new: %s\n", err.message);
			rb_error_clear(&err);
		} else {
			printf("wrote %s: try `runbook check --strict %s` and `runbook run --ephemeral-db --yes %s`\n",
			       a.file, a.file, a.file);
		}
		goto done;
	}
	if (a.cmd->cmd == CMD_LOG && !a.file) {
		rc = rb_audit_log(a.audit_repo, NULL, NULL);
		goto done;
	}
	rb = rb_parse_file(a.file, &diags);
	rb_diags_sort(&diags);
	rb_diags_print(&diags, stderr);
	if (!rb || diags.errors) {
		if (diags.errors > 1)
			fprintf(stderr, "%zu errors\n", diags.errors);
		goto done;
	}
	a.run.sets = a.sets;
	a.run.nsets = a.nsets;
	luadir = lua_dir();
	a.run.lua_dir = luadir;
	switch (a.cmd->cmd) {
	case CMD_LIST:
		rc = cmd_list(rb);
		break;
	case CMD_PLAN:
		rc = cmd_plan(rb, &a);
		break;
	case CMD_RUN:
		rc = a.dry_run ? cmd_plan(rb, &a) : cmd_run(rb, &a, argc, argv);
		break;
	case CMD_LOG:
		rc = rb_audit_log(a.audit_repo, rb, NULL);
		break;
	}
done:
	rb_runbook_free(rb);
	rb_diags_free(&diags);
	for (size_t i = 0; i < a.nsets; i++)
		free(a.sets[i]);
	free(a.sets);
	free(a.db_url);
	rb_redactor_free(&a.file_secrets);
	free(a.files);
	free(luadir);
	return rc;
}
