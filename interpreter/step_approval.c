/*
 * step_approval.c - task lists (every unchecked item approved) and the
 * confirm= question before a step; every decision recorded.
 */
#define _GNU_SOURCE
#include "run.h"
#include "signals.h"

#include <stdlib.h>
#include <string.h>

const char *rb_run_operator(void)
{
	const char *u = getenv("USER");
	if (!u || !*u)
		u = getenv("LOGNAME");
	return u && *u ? u : "unknown";
}

void rb_run_record_approval(rb_run *r, const rb_step *s, const char *item, int approved,
			    const char *how)
{
	if (r->opts->record)
		rb_record_event(r->opts->record, "approval", "step", s->id, "item", item, "who",
				rb_run_operator(), "how", how, "approved", approved ? "yes" : "no", NULL);
}

/* A task list: every unchecked item must be approved. Sets *said_no. */
static rb_status run_approval(rb_run *r, const rb_step *s, rb_step_result *res, int *rc)
{
	(void)res;
	char n[48];
	rb_run_counter(r, s, n, sizeof n);
	for (size_t i = 0; i < s->nitems; i++) {
		const rb_approval_item *it = &s->items[i];
		const char *how = "checked in the runbook";
		int ok = it->checked || rb_approve_item(&r->approver, it->text, &how);
		rb_run_say(r, "  [%c] %s  (%s)\n", ok ? 'x' : ' ', it->text, how);
		rb_run_record_approval(r, s, it->text, ok, how);
		if (!ok && rb_signals_interrupted()) {
			rb_run_say(r, "%s interrupted at the prompt (stopped)\n", n);
			return RB_STATUS_CANCELLED;
		}
		if (!ok) {
			rb_run_say(r, "%s not approved\n", n);
			rb_run_step_error_at(r, s, it->line, it->col, "not approved: %s (%s)%s", it->text, how,
				      r->approver.interactive || r->approver.yes ? ""
				      : "; run on a terminal, or pass --yes to approve");
			*rc = RB_EXIT_GATE;
			return RB_STATUS_FAILED;
		}
	}
	rb_run_say(r, "%s approved\n", n);
	return RB_STATUS_OK;
}

/* confirm / confirm="PHRASE" before a step. Returns 1 when it may run. */
int rb_run_confirmed(rb_run *r, const rb_step *s)
{
	const char *how = NULL;
	int ok;
	char *q = rb_xasprintf("run step '%s' (%s:%d)?", s->id, r->rb->path, s->line);
	if (s->confirm_phrase)
		ok = rb_approve_phrase(&r->approver, q, s->confirm_phrase, &how);
	else
		ok = rb_approve_item(&r->approver, q, &how);
	rb_run_record_approval(r, s, s->confirm_phrase ? s->confirm_phrase : "run this step", ok, how);
	if (!ok)
		rb_run_step_error(r, s, "not confirmed (%s)%s", how,
			   s->confirm_phrase ? "; pass --confirm with the exact phrase" : "; pass --yes");
	free(q);
	return ok;
}

const rb_step_ops rb_step_approval_ops = {
	.kind = RB_STEP_APPROVAL, .name = "approval", .languages = NULL, .run = run_approval};
