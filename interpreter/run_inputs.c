/*
 * run_inputs.c - the declared inputs (front matter inputs:) before step 1:
 * given with --set or in the environment, else asked on the terminal (a
 * secret without echo), else the default; each value checked (inputs.h),
 * set as a variable and recorded, a secret's value as ***. Without a
 * terminal a required input nobody gave stops the run before it starts.
 * Then, the same way, the export lines of the shell steps with Runme's
 * promptEnv that this run may run (inputs.h, "promptEnv").
 */
#include "run.h"
#include "inputs.h"
#include "record.h"
#include "signals.h"

#include <stdlib.h>
#include <string.h>

#define ASK_TRIES 3

/* The question for in: name, description, choices or pattern, default. */
static char *question(const rb_input *in)
{
	rb_buf b = RB_BUF_INIT;
	rb_buf_printf(&b, "  input %s", in->name);
	if (in->description)
		rb_buf_printf(&b, " (%s)", in->description);
	for (size_t i = 0; i < in->nchoices; i++)
		rb_buf_printf(&b, "%s%s", i ? ", " : " one of: ", in->choices[i]);
	if (in->pattern.value)
		rb_buf_printf(&b, " matching %s", in->pattern.value);
	if (in->def && !in->secret)
		rb_buf_printf(&b, " [%s]", in->def);
	rb_buf_puts(&b, ": ");
	return rb_buf_detach(&b);
}

/* Asks on the terminal until a value is accepted; NULL when none was (refused, end of input, a signal). */
static char *ask(rb_run *r, const rb_input *in)
{
	char answer[4096];
	char *q = question(in), *value = NULL;
	for (int tries = 0; tries < ASK_TRIES && !value; tries++) {
		char *why = NULL;
		if (!rb_ask_value(&r->approver, q, in->secret, answer, sizeof answer))
			break;
		const char *v = !*answer && in->def ? in->def : answer;
		if (rb_input_check(in, v, &why) == 0)
			value = rb_xstrdup(v);
		else
			rb_run_warn(r, "  %s: %s\n", in->name, why);
		free(why);
	}
	free(q);
	return value;
}

/*
 * One input's value and where it came from; NULL (with *missing or *bad
 * added to) when there is none. where: what declared it, for those lists
 * ("" for the front matter).
 */
static char *resolve(rb_run *r, const rb_input *in, const char *where, const char **how, rb_buf *missing,
		     rb_buf *bad)
{
	const rb_var *v = rb_vars_find(&r->vars, in->name);
	char *why = NULL, *value = NULL;
	if (v && (v->source == RB_VAR_SET || v->source == RB_VAR_ENV || v->source == RB_VAR_CAPTURE)) {
		*how = v->source == RB_VAR_ENV ? "environment" : v->source == RB_VAR_SET ? "--set" : "resumed";
		if (rb_input_check(in, v->value, &why) == 0)
			value = rb_xstrdup(v->value);
		else
			rb_buf_printf(bad, "  %s (from %s)%s: %s\n", in->name, *how, where, why);
	} else if (r->approver.interactive) {
		*how = "terminal";
		value = ask(r, in);
		if (!value)
			rb_buf_printf(bad, "  %s%s: no acceptable value given at the terminal\n", in->name, where);
	} else if (in->def || !in->required) {
		*how = "default";
		value = rb_xstrdup(in->def ? in->def : "");
	} else {
		rb_buf_printf(missing, "  %s%s%s%s%s\n", in->name, in->description ? " (" : "",
			      in->description ? in->description : "", in->description ? ")" : "", where);
	}
	free(why);
	return value;
}

/* Resolves one input (see resolve), sets and records its value. */
static void take_input(rb_run *r, const rb_input *in, const char *where, rb_buf *missing, rb_buf *bad)
{
	const char *how = NULL;
	char *value = resolve(r, in, where, &how, missing, bad);
	if (!value)
		return;
	rb_run_set_var(r, in->name, value, RB_VAR_SET);
	const char *f[] = {"source", how, NULL};
	rb_ev ev = {.type = RB_EV_VAR, .name = in->name, .value = in->secret ? "***" : value, .fields = f,
		    .exit_code = -1};
	rb_run_emit(r, &ev);
	free(value);
}

/* 1 when step i may run in this run: selected in the main flow, or in the handler, or an undo. */
static int may_run(const rb_run *r, size_t i)
{
	const rb_step *s = &r->rb->steps[i];
	if (!rb_step_runnable(s) || s->role == RB_ROLE_MANUAL)
		return 0;
	return s->role != RB_ROLE_MAIN || r->sel[i] == RB_SEL_RUN;
}

/*
 * The export lines of the promptEnv steps that may run, as inputs: the
 * first of each name that neither inputs: nor an earlier step declares.
 */
static void prompt_env_inputs(rb_run *r, rb_buf *missing, rb_buf *bad)
{
	const rb_runbook *rb = r->rb;
	rb_strset seen = RB_STRSET_INIT;
	for (size_t i = 0; i < rb->nsteps && !rb_signals_interrupted(); i++) {
		const rb_step *s = &rb->steps[i];
		rb_env_prompt *p = NULL;
		size_t n = may_run(r, i) ? rb_env_prompts(s, &p) : 0;
		for (size_t k = 0; k < n && !rb_signals_interrupted(); k++) {
			if (rb_input_find(rb, p[k].name) || !rb_strset_add(&seen, p[k].name, 1))
				continue;
			rb_input in;
			memset(&in, 0, sizeof in);
			in.name = p[k].name;
			in.description = p[k].message;
			in.def = p[k].def;
			in.required = !p[k].def;
			in.secret = rb_runbook_is_secret(rb, p[k].name);
			char *where = rb_xasprintf(": promptEnv of step '%s' (%s:%d)", s->id, rb->path,
						   s->body_line + p[k].line - 1);
			take_input(r, &in, where, missing, bad);
			free(where);
		}
		rb_env_prompts_free(p, n);
	}
	rb_strset_free(&seen);
}

int rb_run_inputs(rb_run *r)
{
	const rb_front_matter *fm = &r->rb->fm;
	rb_buf missing = RB_BUF_INIT, bad = RB_BUF_INIT;
	int rc = RB_EXIT_OK;
	for (size_t i = 0; i < fm->ninputs && !rb_signals_interrupted(); i++)
		take_input(r, &fm->inputs[i], "", &missing, &bad);
	prompt_env_inputs(r, &missing, &bad);
	if (rb_signals_interrupted()) {
		rc = rb_run_interrupted_code();
	} else if (missing.len || bad.len) {
		if (missing.len)
			rb_run_warn(r, "runbook: %s: no terminal to ask for these inputs, and neither --set nor the "
				    "environment gives them:\n%s", r->rb->path, missing.data);
		if (bad.len)
			rb_run_warn(r, "runbook: %s: inputs refused:\n%s", r->rb->path, bad.data);
		rc = RB_EXIT_USAGE;
	}
	rb_buf_free(&missing);
	rb_buf_free(&bad);
	return rc;
}
