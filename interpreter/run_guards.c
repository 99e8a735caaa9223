/*
 * run_guards.c - the guards of a partial run (--from, --only, --resume):
 * checked again before the first selected step (select.h), or skipped with
 * an approval of their own (--skip-guards).
 */
#include "run.h"
#include "select.h"

#include <stdlib.h>

/*
 * A guard checked again before a partial run may read what a skipped step
 * would have left: a capture (vars.NAME) or a result (steps.ID). When that
 * is missing, it fails naming the step to run instead of failing obscurely.
 */
int rb_run_guard_inputs_ready(rb_run *r, const rb_step *g)
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
		rb_run_step_error(r, g, "this guard needs %s%s, which step '%s' (%s:%d) sets, and this run skips that "
			   "step: run from it (--from %s), or pass --skip-guards",
			   needs_capture ? "vars." : "steps.", needs_capture ? s->capture.value : s->id, s->id,
			   rb->path, s->line, s->id);
		return 0;
	}
	return 1;
}

/*
 * --skip-guards: the guards this partial run would check again are listed,
 * and skipping them is an approval of its own, asked and recorded.
 */
int rb_run_approve_skipped_guards(rb_run *r)
{
	const rb_runbook *rb = r->rb;
	rb_buf list = RB_BUF_INIT;
	int ok = 1;
	for (size_t i = 0; i < rb->nsteps; i++)
		if (r->sel[i] == RB_SEL_GUARD_SKIPPED)
			rb_buf_printf(&list, "%s%s", list.len ? ", " : "", rb->steps[i].id);
	if (!list.len)
		goto done;
	rb_run_say(r, "--skip-guards: these guards will not be checked: %s\n", list.data);
	const char *how = NULL;
	char *q = rb_xasprintf("skip the guards %s?", list.data);
	ok = rb_approve_item(&r->approver, q, &how);
	free(q);
	rb_ev ev = {.type = RB_EV_APPROVAL, .text = "--skip-guards", .name = list.data, .who = rb_run_operator(),
		    .value = how, .approved = ok, .exit_code = -1};
	rb_run_emit(r, &ev);
	if (ok) {
		const char *f[] = {"guards", list.data, "who", rb_run_operator(), NULL};
		rb_run_note(r, 0, "guards skipped (--skip-guards)", f);
	} else {
		rb_run_error(r, rb->path, 0, 0, "skipping the guards was not approved (%s)%s", how,
			     r->approver.interactive || r->approver.yes ? "" : "; run on a terminal, or pass --yes");
	}
done:
	rb_buf_free(&list);
	return ok;
}
