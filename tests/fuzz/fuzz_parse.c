/*
 * fuzz_parse.c - a whole document through the parser, then its plan in both
 * forms, for a full and for a partial run. Besides memory errors, it checks
 * what plan.h promises: the JSON plan is one valid JSON document in UTF-8,
 * neither form, nor a diagnostic, carries a hidden character (visible.h)
 * to the terminal, and a runbook without errors runs no command that starts
 * with a "$ " prompt (transcript.h).
 */
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#include "fuzz.h"
#include "parse.h"
#include "interp.h"
#include "plan.h"
#include "transcript.h"
#include "visible.h"

/* A small validating JSON reader: returns the position after one value, or NULL. */
static const char *json_value(const char *p, int depth);

static const char *json_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

static const char *json_string(const char *p)
{
	if (*p++ != '"')
		return NULL;
	for (;;) {
		unsigned char c = (unsigned char)*p;
		if (c == '"')
			return p + 1;
		if (c < 0x20)  /* NUL (end of text) and raw controls */
			return NULL;
		if (c == '\\') {
			p++;
			if (*p == 'u') {
				for (int i = 1; i <= 4; i++)
					if (!p[i] || !strchr("0123456789abcdefABCDEF", p[i]))
						return NULL;
				p += 5;
			} else if (*p && strchr("\"\\/bfnrt", *p)) {
				p++;
			} else {
				return NULL;
			}
		} else {
			p++;
		}
	}
}

static const char *json_number(const char *p)
{
	if (*p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return NULL;
	while (*p >= '0' && *p <= '9')
		p++;
	return p;
}

static const char *json_value(const char *p, int depth)
{
	if (depth > 64)
		return NULL;
	p = json_ws(p);
	if (*p == '{' || *p == '[') {
		char close = *p == '{' ? '}' : ']';
		int object = *p == '{';
		p = json_ws(p + 1);
		if (*p == close)
			return p + 1;
		for (;;) {
			if (object) {
				p = json_string(json_ws(p));
				if (!p)
					return NULL;
				p = json_ws(p);
				if (*p++ != ':')
					return NULL;
			}
			p = json_value(p, depth + 1);
			if (!p)
				return NULL;
			p = json_ws(p);
			if (*p == close)
				return p + 1;
			if (*p++ != ',')
				return NULL;
		}
	}
	if (*p == '"')
		return json_string(p);
	if (!strncmp(p, "true", 4))
		return p + 4;
	if (!strncmp(p, "false", 5))
		return p + 5;
	if (!strncmp(p, "null", 4))
		return p + 4;
	return json_number(p);
}

static void check_visible(const char *text, const char *form)
{
	size_t len = 0;
	const char *name = NULL;
	long at = rb_visible_next(text, 0, &len, &name);
	FUZZ_CHECK(at < 0, "%s shows a hidden character (%s) at byte %ld", form,
		   name ? name : "?", at);
}

static void check_plan(const rb_runbook *rb, const rb_plan_opts *opts)
{
	const char *form = opts->json ? "JSON" : "text";
	rb_buf out = RB_BUF_INIT;
	rb_plan_render(rb, opts, &out);
	const char *text = rb_buf_cstr(&out);
	FUZZ_CHECK(strlen(text) == out.len, "%s plan holds a NUL byte", form);
	check_visible(text, opts->json ? "JSON plan" : "text plan");
	if (opts->json) {
		const char *end = json_value(text, 0);
		FUZZ_CHECK(end && *json_ws(end) == '\0', "JSON plan is not valid JSON near byte %ld",
			   end ? (long)(end - text) : -1L);
		FUZZ_CHECK(rb_utf8_valid(text, out.len, NULL), "JSON plan is not UTF-8");
	}
	rb_buf_free(&out);
}

/* What will run never starts with a prompt: the parser refuses such a block. */
static void check_prompts(const rb_runbook *rb)
{
	for (size_t i = 0; i < rb->nsteps; i++) {
		const rb_step *s = &rb->steps[i];
		const rb_interp *in = s->kind == RB_STEP_SHELL ? rb_interp_find(rb_step_interpreter(rb, s)) : NULL;
		if (!in || !in->shell || !rb_step_runnable(s))
			continue;
		rb_transcript t;
		rb_transcript_read(s->body, s->prompted, &t);
		for (size_t k = 0; k < t.nlines; k++) {
			const char *c = s->body + t.lines[k].text;
			size_t n = t.lines[k].len - (t.lines[k].text - t.lines[k].start), w = 0;
			while (w < n && (c[w] == ' ' || c[w] == '\t'))
				w++;
			FUZZ_CHECK(t.lines[k].role != RB_TLINE_COMMAND || !(w + 1 < n && c[w] == '$' && c[w + 1] == ' '),
				   "step %s runs a command starting with a prompt (line %zu)", s->id, k + 1);
		}
		rb_transcript_free(&t);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rb_diags diags = RB_DIAGS_INIT;
	rb_runbook *rb = rb_parse("fuzz.md", (const char *)data, size, &diags);
	rb_diags_sort(&diags);
	rb_buf printed = RB_BUF_INIT;
	rb_diags_render(&diags, &printed);
	check_visible(rb_buf_cstr(&printed), "diagnostics");
	rb_buf_free(&printed);
	if (rb && !diags.errors)
		check_prompts(rb);
	if (rb) {
		/* Both forms of a full run, then of a partial one (select.h) from
		 * or of a step the input's size picks, with the other options. */
		const char *id = rb->nsteps ? rb->steps[size % rb->nsteps].id : NULL;
		rb_plan_opts opts[] = {
			{0, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL},
			{1, 0, NULL, NULL, NULL, 0, NULL, NULL, NULL},
			{0, (int)(size % 8) + 1, "audit.git", id, NULL, (int)(size & 1), "run 1\x1b[2J", id, NULL},
			{1, 0, "audit.git", NULL, id, (int)(size & 1), "run 1", "no-such-step", NULL},
		};
		for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++)
			check_plan(rb, &opts[k]);
	} else {
		FUZZ_CHECK(diags.errors > 0, "no runbook and no error");
	}
	rb_runbook_free(rb);
	rb_diags_free(&diags);
	return 0;
}
