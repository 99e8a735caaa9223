/*
 * undo.c - linking undo blocks to the steps they undo (undo.h).
 */
#include "undo.h"
#include "vars.h"

#include <stdlib.h>
#include <string.h>

/* 1 when a step of this kind changes things and so may have an undo, or be one. */
static int can_undo(rb_step_kind k)
{
	return k == RB_STEP_SHELL || k == RB_STEP_SQL || k == RB_STEP_LUA;
}

/* Makes block u the undo of step s; reports a second undo. */
static void link(rb_runbook *rb, size_t s, size_t u, int line, int col, const char *file, rb_diags *d)
{
	rb_step *st = &rb->steps[s], *ub = &rb->steps[u];
	if (st->undo >= 0 && (size_t)st->undo != u) {
		rb_diags_add(d, RB_DIAG_ERROR, file, line, col, "step '%s' has two undos: line %d and line %d",
			     st->id, rb->steps[st->undo].line, ub->line);
		return;
	}
	if (ub->undoes >= 0 && (size_t)ub->undoes != s) {
		rb_diags_add(d, RB_DIAG_ERROR, file, line, col, "block '%s' already undoes step '%s' (line %d)",
			     ub->id, rb->steps[ub->undoes].id, rb->steps[ub->undoes].line);
		return;
	}
	if (!can_undo(st->kind)) {
		rb_diags_add(d, RB_DIAG_ERROR, file, line, col, "step '%s' is a%s %s: it changes nothing to undo",
			     st->id, st->kind == RB_STEP_ABORT || st->kind == RB_STEP_APPROVAL ? "n" : "",
			     rb_step_kind_name(st->kind));
		return;
	}
	if (st->role != RB_ROLE_MAIN) {
		rb_diags_add(d, RB_DIAG_ERROR, file, line, col,
			     "step '%s' is not in the main flow: only steps of the main flow are undone", st->id);
		return;
	}
	st->undo = (int)u;
	ub->undoes = (int)s;
}

/* The step an `undo` block written at index u follows, or -1. */
static int step_above(const rb_runbook *rb, size_t u)
{
	for (size_t i = u; i-- > 0;) {
		const rb_step *p = &rb->steps[i];
		if (p->section != rb->steps[u].section)
			break;
		if (p->kind == RB_STEP_DOC)
			continue;
		return p->undo_block ? (p->undoes >= 0 ? p->undoes : -1) : (int)i;
	}
	return -1;
}

void rb_undo_link(rb_runbook *rb, const char *file, rb_diags *d)
{
	for (size_t i = 0; i < rb->nsteps; i++)
		rb->steps[i].undo = rb->steps[i].undoes = -1;
	for (size_t i = 0; i < rb->nsteps; i++) {
		rb_step *u = &rb->steps[i];
		if (!u->undo_block)
			continue;
		int s = step_above(rb, i);
		if (s < 0)
			rb_diags_add(d, RB_DIAG_ERROR, file, u->line, u->col,
				     "an undo block must follow the step it undoes, in the same section");
		else
			link(rb, (size_t)s, i, u->line, u->col, file, d);
	}
	for (size_t i = 0; i < rb->nsteps; i++) {
		rb_step *s = &rb->steps[i];
		if (!s->undo_ref.value)
			continue;
		const rb_step *target = rb_runbook_find_step(rb, s->undo_ref.value);
		if (!target) {
			rb_suggest near = RB_SUGGEST_INIT(s->undo_ref.value);
			for (size_t k = 0; k < rb->nsteps; k++)
				rb_suggest_offer(&near, k == i ? NULL : rb->steps[k].id); /* never itself */
			char *hint = rb_suggest_hint(&near);
			rb_diags_add(d, RB_DIAG_ERROR, file, s->undo_ref.line, s->undo_ref.col,
				     "undo=%s: no block named '%s' in this runbook%s", s->undo_ref.value, s->undo_ref.value,
				     hint);
			free(hint);
		} else if (target == s || s->undo_block)
			rb_diags_add(d, RB_DIAG_ERROR, file, s->undo_ref.line, s->undo_ref.col,
				     "undo=%s: %s", s->undo_ref.value,
				     target == s ? "a step cannot undo itself" : "an undo block has no undo of its own");
		else
			link(rb, i, (size_t)(target - rb->steps), s->undo_ref.line, s->undo_ref.col, file, d);
	}
	for (size_t i = 0; i < rb->nsteps; i++) {
		rb_step *u = &rb->steps[i];
		if (u->undoes < 0 && !u->undo_block)
			continue;
		u->role = RB_ROLE_UNDO;
		if (!can_undo(u->kind))
			rb_diags_add(d, RB_DIAG_ERROR, file, u->line, u->col,
				     "an undo block is a bash, sql or lua block, not a %s", rb_step_kind_name(u->kind));
		if (!u->id && u->undoes >= 0)
			u->id = rb_xasprintf("%s.undo", rb->steps[u->undoes].id);
		else if (!u->id)
			u->id = rb_xasprintf("undo-%d", u->line);
	}
}

const rb_step *rb_undo_of(const rb_runbook *rb, const rb_step *s)
{
	return s->undo >= 0 ? &rb->steps[s->undo] : NULL;
}

int rb_undo_wanted(const rb_step *s, int ok)
{
	if (s->undo < 0 || s->role != RB_ROLE_MAIN)
		return 0;
	if (ok)
		return 1;
	return s->undo_on_failure && !(s->kind == RB_STEP_SQL && s->transaction == RB_TXN_SINGLE);
}

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

/* Pushes step id with the variables of now (everything but the environment). */
static void push(rb_undo_stack *st, const char *id, const rb_vars *now)
{
	rb_undo_item *it;
	st->items = rb_xrealloc(st->items, (st->count + 1) * sizeof *st->items);
	it = &st->items[st->count++];
	it->step = rb_xstrdup(id);
	it->vars = rb_xcalloc(now->count ? now->count : 1, sizeof *it->vars);
	it->nvars = 0;
	for (size_t i = 0; i < now->count; i++)
		it->vars[it->nvars++] = rb_xasprintf("%s=%s", now->items[i].name, now->items[i].value);
}

static void item_free(rb_undo_item *it)
{
	for (size_t i = 0; i < it->nvars; i++)
		free(it->vars[i]);
	free(it->vars);
	free(it->step);
}

/* Takes step id off the stack (its latest entry): its undo started. */
static void pop(rb_undo_stack *st, const char *id)
{
	for (size_t i = st->count; i-- > 0;) {
		if (strcmp(st->items[i].step, id))
			continue;
		item_free(&st->items[i]);
		memmove(&st->items[i], &st->items[i + 1], (st->count - i - 1) * sizeof *st->items);
		st->count--;
		break;
	}
}

/* 1 when rec has an "end" event for id after event index from. */
static int ended(const rb_record *rec, size_t from, const char *id)
{
	for (size_t i = from; i < rec->count; i++)
		if (!strcmp(rec->events[i].type, "end") && !strcmp(or_empty(rb_event_get(&rec->events[i], "id")), id))
			return 1;
	return 0;
}

/* One run's events, in order: pushes, pops, variables; its undo notes when last. */
static void read_run(const rb_runbook *rb, const rb_record *rec, int last, rb_vars *now, rb_undo_stack *st)
{
	for (size_t i = 0; i < rec->count; i++) {
		const rb_event *e = &rec->events[i];
		const char *id = rb_event_get(e, "id"), *value = rb_event_get(e, "value");
		if (!strcmp(e->type, "var") && !strcmp(or_empty(rb_event_get(e, "source")), "--set") && value) {
			rb_vars_set(now, or_empty(rb_event_get(e, "name")), value, RB_VAR_SET);
		} else if (!strcmp(e->type, "step") && id && !strcmp(or_empty(rb_event_get(e, "role")), "undo")) {
			const char *of = or_empty(rb_event_get(e, "undoes"));
			pop(st, of);
			if (last && !ended(rec, i + 1, id)) {
				st->interrupted = rb_xrealloc(st->interrupted, (st->ninterrupted + 1) * sizeof *st->interrupted);
				st->interrupted[st->ninterrupted++] = rb_xstrdup(of);
			}
		} else if (!strcmp(e->type, "end") && id && !rb_event_get(e, "background")) {
			/* (a background step's result, its second end, pushes nothing: its start did) */
			const rb_step *s = rb_runbook_find_step(rb, id);
			const char *status = or_empty(rb_event_get(e, "status"));
			int ok = !strcmp(status, "ok");
			if (!s || s->role != RB_ROLE_MAIN)
				continue;
			if (ok && rb_event_get(e, "capture") && value)
				rb_vars_set(now, rb_event_get(e, "capture"), value, RB_VAR_CAPTURE);
			if ((ok || !strcmp(status, "failed")) && rb_undo_wanted(s, ok))
				push(st, id, now);
		} else if (last && !strcmp(e->type, "note") && rb_event_get(e, "undo")) {
			free(st->state);
			st->state = rb_xstrdup(rb_event_get(e, "undo"));
			if (!strcmp(st->state, RB_UNDO_START))
				st->exit_code = atoi(or_empty(rb_event_get(e, "exit")));
		}
	}
}

void rb_undo_stack_read(const rb_runbook *rb, const rb_record *const *runs, size_t n, rb_undo_stack *out)
{
	rb_vars now = RB_VARS_INIT;
	memset(out, 0, sizeof *out);
	for (size_t k = 0; k < n; k++)
		read_run(rb, runs[k], k + 1 == n, &now, out);
	rb_vars_free(&now);
}

void rb_undo_stack_free(rb_undo_stack *st)
{
	for (size_t i = 0; i < st->count; i++)
		item_free(&st->items[i]);
	free(st->items);
	for (size_t i = 0; i < st->ninterrupted; i++)
		free(st->interrupted[i]);
	free(st->interrupted);
	free(st->state);
	memset(st, 0, sizeof *st);
}
