/*
 * runargs.c - the arguments of run and plan (runargs.h).
 */
#define _DEFAULT_SOURCE
#include "cli/runargs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/common.h"
#include "output.h"
#include "util.h"
#include "auditsync.h"
#include "vars.h"

static void add_set(cli_run_args *a, char *owned)
{
	a->sets = rb_xrealloc(a->sets, (a->nsets + 1) * sizeof *a->sets);
	a->sets[a->nsets++] = owned;
}

int cli_opt_set(void *args, const char *command, char *value)
{
	(void)command;
	add_set(args, rb_xstrdup(value));
	return 0;
}

static void push(char ***list, size_t *n, char *value)
{
	*list = rb_xrealloc(*list, (*n + 1) * sizeof **list);
	(*list)[(*n)++] = value;
}

int cli_opt_target(void *args, const char *command, char *value)
{
	cli_run_args *a = args;
	(void)command;
	push(&a->target_names, &a->ntarget_names, rb_xstrdup(value));
	return 0;
}

int cli_opt_matrix(void *args, const char *command, char *value)
{
	cli_run_args *a = args;
	(void)command;
	push(&a->matrix, &a->nmatrix, rb_xstrdup(value));
	return 0;
}

/* A whole number from min up into *out, else says so. */
static int whole(const char *command, const char *opt, const char *value, int min, int *out)
{
	char *end = NULL;
	long n = strtol(value, &end, 10);
	if (!*value || *end || n < min || n > 100000) {
		rb_out_err("runbook %s: --%s %s: expected a whole number from %d to 100000\n", command, opt, value, min);
		return -1;
	}
	*out = (int)n;
	return 0;
}

int cli_opt_jobs(void *args, const char *command, char *value)
{
	return whole(command, "jobs", value, 1, &((cli_run_args *)args)->jobs);
}

int cli_opt_canary(void *args, const char *command, char *value)
{
	return whole(command, "canary", value, 1, &((cli_run_args *)args)->canary);
}

int cli_opt_max_failures(void *args, const char *command, char *value)
{
	return whole(command, "max-failures", value, 1, &((cli_run_args *)args)->max_failures);
}

int cli_opt_set_env(void *args, const char *command, char *value)
{
	const char *v = getenv(value);
	int rc = -1;
	if (v && rb_var_name_valid(value)) {
		add_set(args, rb_xasprintf("%s=%s", value, v));
		rc = 0;
	} else {
		rb_out_err("runbook %s: --set-env %s: no such variable in the environment\n", command, value);
	}
	return rc;
}

/* Opens path for --secrets-file (--env-file) when it is a regular file no one else can read; NULL after saying why. */
static FILE *open_secrets(const char *option, const char *path)
{
	struct stat st;
	FILE *f = NULL;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		rb_out_err("runbook: --%s %s: not a readable file\n", option, path);
	else if (st.st_mode & 077)
		rb_out_err("runbook: --%s %s: readable by others (mode %03o): chmod 600 %s\n", option, path,
			   (unsigned)(st.st_mode & 0777), path);
	else if (!(f = fopen(path, "r")))
		rb_out_err("runbook: --%s %s: cannot open it\n", option, path);
	return f;
}

/* NAME=VALUE lines of value (a file) into the run's variables; each value a secret when all_secret. */
static int read_kv_file(cli_run_args *a, const char *option, char *value, int all_secret)
{
	int rc = -1;
	FILE *f = open_secrets(option, value);
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0;
	if (!f)
		goto done;
	while (getline(&line, &cap, f) >= 0) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		char *t = line + strspn(line, " \t");
		if (!*t || *t == '#')
			continue;
		char *name = NULL;
		const char *secret;
		if (rb_var_assignment(t, &name, &secret) < 0) {
			rb_out_err("%s:%d: expected NAME=VALUE\n", value, lineno);
			goto done;
		}
		free(name);
		add_set(a, rb_xstrdup(t));
		if (all_secret)
			rb_redactor_add(&a->file_secrets, secret);
	}
	rc = 0;
done:
	if (f)
		fclose(f);
	free(line);
	return rc;
}

int cli_opt_audit_remote(void *args, const char *command, char *value)
{
	cli_run_args *a = args;
	(void)command;
	free(a->audit_remote);
	a->audit_remote = rb_xstrdup(value);
	/* scheme://user:PASSWORD@host/...: the password is a secret, and out of ps as soon as read. */
	char *pw = rb_auditsync_url_password(value);
	if (pw) {
		rb_redactor_add(&a->file_secrets, pw);
		memset(strchr(strstr(value, "://") + 3, ':') + 1, '*', strlen(pw));
		free(pw);
	}
	return 0;
}

int cli_opt_secrets_file(void *args, const char *command, char *value)
{
	(void)command;
	return read_kv_file(args, "secrets-file", value, 1);
}

int cli_opt_env_file(void *args, const char *command, char *value)
{
	(void)command;
	/* A value is secret when its name is (secrets:, or a secret-looking name): the run's redactor knows. */
	return read_kv_file(args, "env-file", value, 0);
}

int cli_opt_db(void *args, const char *command, char *value)
{
	cli_run_args *a = args;
	(void)command;
	free(a->db_url);
	a->db_url = rb_xstrdup(value);
	a->run.db_url = a->db_url;
	cli_scrub_db_arg(value);
	return 0;
}

int cli_opt_wait_lock(void *args, const char *command, char *value)
{
	cli_run_args *a = args;
	int rc = rb_parse_duration(value, &a->run.wait_lock_ms);
	if (rc < 0)
		rb_out_err("runbook %s: --wait-lock %s: not a duration (like 30s, 5m)\n", command, value);
	return rc;
}

int cli_run_args_targets(const cli_run_args *a)
{
	return a->ntarget_names || a->targets_spec || a->nmatrix;
}

int cli_run_args_check(const cli_run_args *a, const char *command)
{
	int rc = -1;
	if (a->run.db_url && a->run.ephemeral_db)
		rb_out_err("runbook %s: --db and --ephemeral-db exclude each other\n", command);
	else if (a->run.keep_db && !a->run.ephemeral_db)
		rb_out_err("runbook %s: --keep-db goes with --ephemeral-db\n", command);
	else if (a->run.no_db_cache && !a->run.ephemeral_db)
		rb_out_err("runbook %s: --no-cache goes with --ephemeral-db\n", command);
	else if (a->resume && (a->run.from || a->run.only))
		rb_out_err("runbook %s: --resume picks the steps itself: no --from or --only with it\n", command);
	else if (a->nmatrix && a->inventory)
		rb_out_err("runbook %s: --matrix makes the targets: no --inventory with it\n", command);
	else if ((a->jobs || a->canary || a->keep_going || a->max_failures) && !cli_run_args_targets(a) &&
		 !(a->resume && a->run.rollout))
		rb_out_err("runbook %s: -j, --canary, --keep-going and --max-failures go with --targets (or --matrix, or "
			   "--resume --rollout ID)\n", command);
	else if (a->max_failures && !a->keep_going)
		rb_out_err("runbook %s: --max-failures goes with --keep-going (without it the first failure stops)\n",
			   command);
	else if (a->run.db_url && cli_run_args_targets(a))
		rb_out_err("runbook %s: --db and targets exclude each other: a target's connection is its db: in the "
			   "inventory\n", command);
	else
		rc = 0;
	return rc;
}

rb_runbook *cli_run_args_load(cli_run_args *a, const char *path)
{
	rb_runbook *rb = cli_runbook_load(path);
	if (rb) {
		a->run.sets = a->sets;
		a->run.nsets = a->nsets;
		a->lua_dir = cli_lua_dir();
		a->run.lua_dir = a->lua_dir;
	}
	return rb;
}

void cli_run_args_free(cli_run_args *a)
{
	for (size_t i = 0; i < a->ntarget_names; i++)
		free(a->target_names[i]);
	free(a->target_names);
	for (size_t i = 0; i < a->nmatrix; i++)
		free(a->matrix[i]);
	free(a->matrix);
	for (size_t i = 0; i < a->ntarget_vars; i++)
		free(a->target_vars[i]);
	free(a->target_vars);
	free(a->target_db);
	for (size_t i = 0; i < a->nsets; i++)
		free(a->sets[i]);
	free(a->sets);
	for (size_t i = 0; i < a->nsecret_sets; i++) {
		explicit_bzero(a->secret_sets[i], strlen(a->secret_sets[i]));
		free(a->secret_sets[i]);
	}
	free(a->secret_sets);
	free(a->audit_remote);
	free(a->db_url);
	free(a->lua_dir);
	rb_redactor_free(&a->file_secrets);
	memset(a, 0, sizeof *a);
}

int cli_run_command(const cli_spec *spec, int argc, char **argv, cli_run_action act)
{
	int rc = RB_EXIT_USAGE;
	cli_run_args a;
	cli_parsed p;
	rb_runbook *rb = NULL;
	memset(&a, 0, sizeof a);
	if (cli_parse(spec, argc, argv, &a, &p) < 0 || cli_run_args_check(&a, spec->name) < 0 ||
	    cli_need_operand(spec, &p) < 0)
		goto done;
	if (p.help) {
		cli_help(spec);
		rc = RB_EXIT_OK;
		goto done;
	}
	if ((rb = cli_run_args_load(&a, p.operands[0])) != NULL)
		rc = act(rb, &a, argc, argv);
done:
	rb_runbook_free(rb);
	cli_parsed_free(&p);
	cli_run_args_free(&a);
	return rc;
}
