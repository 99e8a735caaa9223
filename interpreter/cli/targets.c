/*
 * targets.c - the targets of run and plan: loaded, selected, applied.
 */
#define _GNU_SOURCE
#include "cli/targets.h"
#include "output.h"

#include <stdlib.h>
#include <string.h>

int cli_targets_load(const rb_runbook *rb, const cli_run_args *a, cli_targets *t)
{
	int rc = RB_EXIT_USAGE;
	rb_error err = RB_ERROR_INIT;
	rb_diags d = RB_DIAGS_INIT;
	char *path = NULL;
	memset(t, 0, sizeof *t);
	if (a->nmatrix) {
		if (rb_inventory_matrix(a->matrix, a->nmatrix, &t->inv, &err) < 0) {
			rb_out_err("runbook: %s\n", err.message);
			goto done;
		}
	} else {
		path = rb_inventory_path(rb, a->inventory);
		if (!path) {
			rb_out_err("runbook: %s: no inventory of targets (give --inventory FILE, the front matter's "
				   "inventory:, or put targets.yaml beside the runbook)\n", rb->path);
			goto done;
		}
		if (rb_inventory_load(path, &t->inv, &d) < 0) {
			rb_buf b = RB_BUF_INIT;
			rb_diags_sort(&d);
			rb_diags_render(&d, &b);
			rb_out_write(2, b.data, b.len);
			rb_buf_free(&b);
			goto done;
		}
	}
	if (a->nmatrix && !a->ntarget_names && !a->targets_spec) {
		/* A matrix without a selection: all of its targets. */
		t->sel = rb_xcalloc(t->inv.count + 1, sizeof *t->sel);
		for (size_t i = 0; i < t->inv.count; i++)
			t->sel[t->count++] = i;
	} else {
		t->sel = rb_inventory_select(&t->inv, a->target_names, a->ntarget_names, a->targets_spec, &t->count, &err);
	}
	if (!t->sel) {
		rb_out_err("runbook: %s\n", err.message);
		goto done;
	}
	/* A target's run of a rollout (--rollout) is one target, whatever else says many. */
	t->rollout = !a->run.rollout && (a->targets_spec || a->nmatrix || a->ntarget_names > 1);
	if (a->run.rollout && t->count != 1) {
		rb_out_err("runbook: --rollout goes with one --target\n");
		goto done;
	}
	rc = 0;
done:
	rb_diags_free(&d);
	rb_error_clear(&err);
	free(path);
	return rc;
}

/* value with its ${NAME} references to the environment expanded (all set: checked before). Caller frees. */
static char *expand_env(const char *value)
{
	rb_buf b = RB_BUF_INIT;
	for (const char *p = value; *p;) {
		const char *ref = strstr(p, "${"), *end = ref ? strchr(ref + 2, '}') : NULL;
		if (!ref || !end) {
			rb_buf_puts(&b, p);
			break;
		}
		rb_buf_add(&b, p, (size_t)(ref - p));
		char *name = rb_xstrndup(ref + 2, (size_t)(end - ref - 2));
		const char *v = getenv(name);
		if (v)
			rb_buf_puts(&b, v);
		else
			rb_buf_add(&b, ref, (size_t)(end + 1 - ref));
		free(name);
		p = end + 1;
	}
	return rb_buf_detach(&b);
}

int cli_target_apply(const rb_target *target, cli_run_args *a)
{
	/* The db's references do not count on a throwaway server: a rehearsal needs no production password. */
	char *unset = rb_target_unset_refs(target, !a->run.ephemeral_db && !(a->run.rollout && getenv("RUNBOOK_ROLLOUT_DB")));
	if (unset) {
		rb_out_err("runbook: target '%s' refers to %s, not set in the environment: nothing was run\n",
			   target->name, unset);
		free(unset);
		return RB_EXIT_USAGE;
	}
	a->run.target = target->name;
	for (size_t i = 0; i < target->nvars; i++) {
		char *value = expand_env(target->vars[i].value);
		a->target_vars = rb_xrealloc(a->target_vars, (a->ntarget_vars + 1) * sizeof *a->target_vars);
		a->target_vars[a->ntarget_vars++] = rb_xasprintf("%s=%s", target->vars[i].key, value);
		free(value);
	}
	a->run.target_vars = a->target_vars;
	a->run.ntarget_vars = a->ntarget_vars;
	char *throwaway = a->run.rollout && getenv("RUNBOOK_ROLLOUT_DB") ? rb_xstrdup(getenv("RUNBOOK_ROLLOUT_DB")) : NULL;
	unsetenv("RUNBOOK_ROLLOUT_DB"); /* the steps see PGDATABASE and DATABASE_URL */
	if (throwaway && *throwaway) {
		/* A rollout's --ephemeral-db: this target's own database of the rollout's throwaway server. */
		free(a->target_db);
		a->target_db = throwaway;
		throwaway = NULL;
		a->run.db_url = a->target_db;
	} else if (a->run.ephemeral_db) {
		/* --ephemeral-db: the throwaway server, never the target's own database. */
	} else if (target->db) {
		/* Unexpanded: the run expands ${NAME} as in any connection string, and hides the password it finds. */
		free(a->target_db);
		a->target_db = rb_xstrdup(target->db);
		a->run.db_url = a->target_db;
	}
	free(throwaway);
	return 0;
}

void cli_targets_free(cli_targets *t)
{
	rb_inventory_free(&t->inv);
	free(t->sel);
	memset(t, 0, sizeof *t);
}
