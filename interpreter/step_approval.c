/*
 * step_approval.c - task lists (every unchecked item approved) and the
 * confirm= question before a step; every decision recorded.
 */
#define _GNU_SOURCE
#include "run.h"
#include "signals.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The login name: $USER, $LOGNAME, else the account of the user id (CI runners often set neither). */
const char *rb_run_operator(void)
{
	static char uid_name[32];
	const char *u = getenv("USER");
	if (!u || !*u)
		u = getenv("LOGNAME");
	if (!u || !*u) {
		struct passwd *pw = getpwuid(getuid());
		if (pw && pw->pw_name && *pw->pw_name)
			u = pw->pw_name;
	}
	if (!u || !*u) {
		snprintf(uid_name, sizeof uid_name, "uid %ld", (long)getuid());
		u = uid_name;
	}
	return u;
}

void rb_run_record_approval(rb_run *r, const rb_step *s, const char *item, int approved,
			    const char *how)
{
	rb_ev ev = {.type = RB_EV_APPROVAL, .step = s, .name = item, .who = rb_run_operator(), .value = how,
		    .approved = approved, .exit_code = -1};
	rb_run_emit(r, &ev);
}

/* A task list: every unchecked item must be approved. Sets *said_no. */
static rb_status run_approval(rb_run *r, const rb_step *s, rb_step_result *res, int *rc)
{
	(void)res;
	for (size_t i = 0; i < s->nitems; i++) {
		const rb_approval_item *it = &s->items[i];
		const char *how = "checked in the runbook";
		int ok = it->checked || rb_approve_item(&r->approver, it->text, &how);
		rb_ev ev = {.type = RB_EV_APPROVAL, .step = s, .name = it->text, .who = rb_run_operator(), .value = how,
			    .approved = ok, .show = 1, .exit_code = -1};
		rb_run_emit(r, &ev);
		if (!ok && rb_signals_interrupted()) {
			rb_run_result(r, s, RB_STATUS_CANCELLED, "interrupted at the prompt (stopped)");
			return RB_STATUS_CANCELLED;
		}
		if (!ok) {
			rb_run_result(r, s, RB_STATUS_FAILED, "not approved");
			rb_run_step_error_at(r, s, it->line, it->col, "not approved: %s (%s)%s", it->text, how,
				      r->approver.interactive || r->approver.yes ? ""
				      : "; run on a terminal, or pass --yes to approve");
			*rc = RB_EXIT_GATE;
			return RB_STATUS_FAILED;
		}
	}
	rb_run_result(r, s, RB_STATUS_OK, "approved");
	return RB_STATUS_OK;
}

/* confirm / confirm="PHRASE" before a step. Returns 1 when it may run. */
int rb_run_confirmed(rb_run *r, const rb_step *s)
{
	const char *how = NULL;
	int ok;
	char *q = rb_xasprintf("run step '%s' (%s:%d)?", s->id, r->rb->path, s->line);
	const rb_run_outcome *oc = r->opts->outcome;
	if (s->confirm_phrase)
		ok = rb_approve_phrase(&r->approver, q, s->confirm_phrase, &how);
	else if (s->confirm_each && oc && oc->confirm_each) {
		ok = oc->confirm_each(oc->ctx, s->id, &how); /* a rollout's target: its operator is the rollout's */
		if (ok)
			rb_run_say(r, "  confirmed for target '%s' (%s): run step '%s'\n", r->opts->target ? r->opts->target : "?",
				   how, s->id);
	} else
		ok = rb_approve_item(&r->approver, q, &how);
	rb_run_record_approval(r, s, s->confirm_phrase ? s->confirm_phrase : "run this step", ok, how);
	if (ok && r->approver.yes && !s->confirm_phrase && !(s->confirm_each && oc && oc->confirm_each))
		rb_run_say(r, "  confirmed by --yes: run step '%s'\n", s->id);
	if (!ok)
		rb_run_step_error(r, s, "not confirmed (%s)%s", how,
			   s->confirm_phrase ? "; pass --confirm with the exact phrase" : "; pass --yes");
	free(q);
	return ok;
}

/* The step's header and body, for the --step question. */
static char *step_question(rb_run *r, const rb_step *s)
{
	rb_buf q = RB_BUF_INIT, path = RB_BUF_INIT;
	char n[48];
	rb_section_path(r->rb, s->section, &path);
	rb_buf_printf(&q, "\n%s %s%s%s (%s:%d)\n", rb_run_counter(r, s, n, sizeof n), rb_buf_cstr(&path),
		      path.len ? " \xe2\x80\xba " : "", s->id, r->rb->path, s->line);
	const char *body = s->kind == RB_STEP_APPROVAL ? "" : s->script ? s->script : s->body ? s->body : "";
	for (const char *p = body; *p;) {
		size_t len = strcspn(p, "\n");
		rb_buf_printf(&q, "  | %.*s\n", (int)len, p);
		p += len + (p[len] == '\n');
	}
	for (size_t i = 0; i < s->nitems; i++)
		rb_buf_printf(&q, "  - [%c] %s\n", s->items[i].checked ? 'x' : ' ', s->items[i].text);
	rb_buf_puts(&q, "  run it? [y]es / [s]kip / [q]uit / [a]ll: ");
	char *clean = rb_run_clean(r, q.data);
	rb_buf_free(&q);
	rb_buf_free(&path);
	return clean;
}

char rb_run_step_choice(rb_run *r, const rb_step *s)
{
	static const char *const hows[] = {"yes at the terminal (--step)", "skipped at the terminal (--step)",
					   "quit at the terminal (--step)", "all at the terminal (--step)"};
	char *q = step_question(r, s);
	char c = rb_ask_choice(&r->approver, q, "ysqa");
	free(q);
	const char *how = c == 'y' ? hows[0] : c == 's' ? hows[1] : c == 'a' ? hows[3]
			  : rb_signals_interrupted() ? "interrupted at the terminal (--step)" : c ? hows[2]
			  : "no answer at the terminal (--step)";
	rb_ev ev = {.type = RB_EV_APPROVAL, .step = s, .name = "run this step (--step)", .who = rb_run_operator(),
		    .value = how, .approved = c == 'y' || c == 'a', .exit_code = -1};
	rb_run_emit(r, &ev);
	return c ? c : 'q';
}

const rb_step_ops rb_step_approval_ops = {
	.kind = RB_STEP_APPROVAL, .name = "approval", .languages = NULL, .run = run_approval};
