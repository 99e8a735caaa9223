/*
 * select.c - the steps a (partial) run executes.
 */
#include "select.h"

#include <ctype.h>
#include <string.h>

const char *rb_selection_name(rb_selection s)
{
	switch (s) {
	case RB_SEL_RUN: return "run";
	case RB_SEL_GUARD: return "guard";
	case RB_SEL_GUARD_SKIPPED: return "guard skipped";
	case RB_SEL_ARM: return "arm";
	case RB_SEL_COMPUTE: return "compute";
	case RB_SEL_EXCLUDED: return "excluded";
	case RB_SEL_SKIP: break;
	}
	return "skip";
}

/* What a step written before the first selected one does in a partial run. */
static rb_selection before_start(const rb_step *s, int skip_guards)
{
	switch (s->kind) {
	case RB_STEP_GATE:
	case RB_STEP_APPROVAL:
		return skip_guards ? RB_SEL_GUARD_SKIPPED : RB_SEL_GUARD;
	case RB_STEP_ABORT:
		return RB_SEL_ARM;
	case RB_STEP_LUA:
		return RB_SEL_COMPUTE;
	default:
		return RB_SEL_SKIP;
	}
}

int rb_step_excluded_from_run_all(const rb_step *s)
{
	const char *v = rb_step_attr(s, "excludeFromRunAll");
	return v && strcmp(v, "false") && strcmp(v, "no") && strcmp(v, "0");
}

/* The section whose slug is name, or -1. */
static int section_named(const rb_runbook *rb, const char *name)
{
	int found = -1;
	name += *name == '#';
	for (size_t k = 0; k < rb->nsections && found < 0; k++)
		if (rb->sections[k].slug && !strcmp(rb->sections[k].slug, name))
			found = (int)k;
	return found;
}

/* 1 when section sec is section top or inside it. */
static int within(const rb_runbook *rb, int sec, int top)
{
	while (sec >= 0 && sec != top)
		sec = rb->sections[sec].parent;
	return sec == top;
}

int rb_select_known(const rb_runbook *rb, const char *name, int allow_slug)
{
	int known = rb_runbook_find_step(rb, name) != NULL;
	int sec = known || !allow_slug ? -1 : section_named(rb, name);
	for (size_t i = 0; sec >= 0 && !known && i < rb->nsteps; i++)
		known = rb->steps[i].role == RB_ROLE_MAIN && rb_step_runnable(&rb->steps[i]) &&
			within(rb, rb->steps[i].section, sec);
	return known;
}

void rb_select_steps(const rb_runbook *rb, const char *from, const char *only, int skip_guards,
		     rb_selection *sel)
{
	const char *first = only ? only : from;
	/* --only SLUG: the steps of a section (a step id wins over a slug) */
	int section = only && !rb_runbook_find_step(rb, only) ? section_named(rb, only) : -1;
	int seen = first == NULL;  /* reached the first selected step */
	for (size_t i = 0; i < rb->nsteps; i++) {
		const rb_step *s = &rb->steps[i];
		sel[i] = RB_SEL_SKIP;
		if (!rb_step_runnable(s) || s->role == RB_ROLE_MANUAL)
			continue;
		if (s->role == RB_ROLE_ON_FAILURE) {
			sel[i] = RB_SEL_RUN;
			continue;
		}
		int here = section >= 0 ? within(rb, s->section, section) : first && !strcmp(s->id, first);
		if (here)
			seen = 1;
		if (!seen)
			sel[i] = before_start(s, skip_guards);
		else if (only && !here)
			sel[i] = RB_SEL_SKIP;
		else if (rb_step_excluded_from_run_all(s) && !(only && section < 0))
			sel[i] = RB_SEL_EXCLUDED;
		else
			sel[i] = RB_SEL_RUN;
	}
}

int rb_code_mentions(const char *code, const char *table, const char *name)
{
	size_t tn = strlen(table), nn = strlen(name);
	for (const char *p = code; (p = strstr(p, table)) != NULL; p += tn) {
		if (p > code && (isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '.'))
			continue;
		const char *q = p + tn;
		if (*q == '.' && !strncmp(q + 1, name, nn) && !isalnum((unsigned char)q[1 + nn]) && q[1 + nn] != '_')
			return 1;
		if (*q == '[' && (q[1] == '"' || q[1] == '\'') && !strncmp(q + 2, name, nn) && q[2 + nn] == q[1])
			return 1;
	}
	return 0;
}
