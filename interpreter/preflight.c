/*
 * preflight.c - refuse a runbook that cannot run, before step 1.
 */
#define _GNU_SOURCE
#include "preflight.h"
#include "select.h"
#include "lint.h"
#include "shellscan.h"
#include "vars.h"

#include <ctype.h>
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
		if (selected[k] && !rb_select_known(rb, selected[k], k == 1)) {
			rb_suggest near = RB_SUGGEST_INIT(selected[k]);
			for (size_t i = 0; i < rb->nsteps; i++)
				rb_suggest_offer(&near, rb_step_runnable(&rb->steps[i]) ? rb->steps[i].id : NULL);
			for (size_t i = 0; k == 1 && i < rb->nsections; i++)
				rb_suggest_offer(&near, rb->sections[i].slug);
			char *hint = rb_suggest_hint(&near);
			rb_error_set(err, RB_EXIT_USAGE, NULL, 0, 0, "%s: no step%s '%s'%s (see `runbook list %s`)",
				     rb->path, k == 1 ? " or section with steps" : " with id", selected[k], hint, rb->path);
			free(hint);
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

static int word_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/* 1 when name occurs in text[0..len) as a whole word. */
static int mentions_word(const char *text, size_t len, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = text; n && (p = memmem(p, len - (size_t)(p - text), name, n)) != NULL; p++)
		if ((p == text || !word_char(p[-1])) && (p + n == text + len || !word_char(p[n])))
			return 1;
	return 0;
}

/*
 * 1 when the word at src[at..end) is written like a variable: after `$`,
 * `${`, `:'`, `:`, `vars.` or `env.`, or as a key ("NAME:" alone on the
 * start of a line, as in the front matter).
 */
static int variable_like(const char *src, size_t at, size_t end, size_t len)
{
	size_t b = at;
	while (b > 0 && src[b - 1] == ' ')
		b--;
	int key = (b == 0 || src[b - 1] == '\n') && end < len && src[end] == ':';
	int sigil = at > 0 && (src[at - 1] == '$' || src[at - 1] == ':' ||
			       ((src[at - 1] == '{' || src[at - 1] == '\'') && at > 1 &&
				(src[at - 2] == '$' || src[at - 2] == ':')));
	int table = (at >= 5 && !strncmp(src + at - 5, "vars.", 5)) || (at >= 4 && !strncmp(src + at - 4, "env.", 4));
	return key || sigil || table;
}

/* The runbook's variable-like word nearest to name (edit distance 2 at most), or NULL; caller frees. */
static char *nearest_name(const rb_runbook *rb, const char *name)
{
	char *best = NULL;
	size_t best_d = 3;
	const char *src = rb->source;
	size_t len = src ? rb->source_len : 0;
	for (size_t i = 0; i < len; i++) {
		if (!word_char(src[i]) || (i > 0 && word_char(src[i - 1])))
			continue;
		size_t end = i;
		while (end < len && word_char(src[end]))
			end++;
		if (end - i >= 2 && end - i <= 64 && variable_like(src, i, end, len)) {
			char *w = rb_xstrndup(src + i, end - i);
			size_t d = strcmp(w, name) ? rb_edit_distance(w, name) : 3;
			if (d < best_d) {
				free(best);
				best = w;
				best_d = d;
			} else {
				free(w);
			}
		}
		i = end;
	}
	return best;
}

/*
 * A --set NAME nothing in the runbook mentions is probably mistyped: a
 * warning (an error with --strict) with the nearest name the runbook uses.
 * Names of the usual environment (PG*, HOME, ...) are never warned about:
 * the programs the steps run read them.
 */
static void unused_sets(const rb_runbook *rb, const rb_run_opts *opts, rb_diags *d)
{
	for (size_t i = 0; i < opts->nsets; i++) {
		char *name = NULL;
		const char *value;
		if (rb_var_assignment(opts->sets[i], &name, &value) == 0 && !rb_shell_var_standard(name) &&
		    !mentions_word(rb->source, rb->source_len, name)) {
			char *near = nearest_name(rb, name);
			rb_diags_add(d, opts->strict ? RB_DIAG_ERROR : RB_DIAG_WARNING, rb->path, 0, 0,
				     "--set %s: nothing in the runbook uses '%s'%s%s%s", name, name,
				     near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
			free(near);
		}
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
	add_names(opts->target_vars, opts->ntarget_vars, &known);
	add_names(opts->restores, opts->nrestores, &known);
	rb_lint_opts lo;
	memset(&lo, 0, sizeof lo);
	lo.no_shellcheck = 1;
	lo.run = 1;
	lo.known = &known;
	rb_lint(rb, &lo, d);
	unused_sets(rb, opts, d);
	rb_strset_free(&known);
	return d->errors - before;
}
