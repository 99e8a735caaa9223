/*
 * preflight.c - refuse a runbook that cannot run, before step 1.
 */
#include "preflight.h"
#include "lint.h"
#include "vars.h"

#include <stdlib.h>
#include <string.h>

extern char **environ;

int rb_preflight_options(const rb_runbook *rb, const rb_run_opts *opts, rb_error *err)
{
	int rc = -1;
	for (size_t i = 0; i < opts->nsets; i++) {
		char *name = NULL;
		const char *value;
		int valid = rb_var_assignment(opts->sets[i], &name, &value) == 0;
		free(name);
		if (!valid) {
			rb_error_set(err, RB_EXIT_USAGE, NULL, 0, 0,
				     "--set %s: expected NAME=VALUE with NAME like [A-Za-z_][A-Za-z0-9_]*",
				     opts->sets[i]);
			goto done;
		}
	}
	if (opts->skip_guards && !opts->from && !opts->only) {
		rb_error_set(err, RB_EXIT_USAGE, NULL, 0, 0, "--skip-guards goes with --from, --only or --resume");
		goto done;
	}
	const char *selected[2] = {opts->from, opts->only};
	for (int k = 0; k < 2; k++) {
		if (selected[k] && !rb_runbook_find_step(rb, selected[k])) {
			rb_error_set(err, RB_EXIT_USAGE, NULL, 0, 0, "%s: no step with id '%s' (see `runbook list %s`)",
				     rb->path, selected[k], rb->path);
			goto done;
		}
	}
	rc = 0;
done:
	return rc;
}

/* Adds the NAME of each "NAME=value" to names. */
static void add_names(char *const *pairs, size_t n, rb_strset *names)
{
	for (size_t i = 0; i < n && pairs[i]; i++) {
		const char *eq = strchr(pairs[i], '=');
		if (!eq)
			continue;
		char *name = rb_xstrndup(pairs[i], (size_t)(eq - pairs[i]));
		rb_strset_add(names, name, 1);
		free(name);
	}
}

size_t rb_preflight_lint(const rb_runbook *rb, const rb_run_opts *opts, rb_diags *d)
{
	rb_strset known = RB_STRSET_INIT;
	size_t before = d->errors;
	size_t nenv = 0;
	while (environ && environ[nenv])
		nenv++;
	add_names(environ, nenv, &known);
	add_names(opts->sets, opts->nsets, &known);
	add_names(opts->restores, opts->nrestores, &known);
	rb_lint_opts lo;
	memset(&lo, 0, sizeof lo);
	lo.no_shellcheck = 1;
	lo.run = 1;
	lo.known = &known;
	rb_lint(rb, &lo, d);
	rb_strset_free(&known);
	return d->errors - before;
}
