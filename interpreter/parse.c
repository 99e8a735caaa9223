/*
 * parse.c - walks cmark's tree of a runbook into sections and steps.
 *
 * The front matter is blanked out (not removed) before cmark sees the text,
 * so every line cmark reports is the line in the file. Columns of attributes
 * are found in the source line itself, since cmark keeps no position for
 * the info string.
 */
#include "parse.h"
#include "undo.h"
#include "redact.h"
#include "attrs.h"
#include "frontmatter.h"
#include "srcmap.h"
#include "interp.h"
#include "transcript.h"
#include "inputs.h"

#include <cmark.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct {
	const char *file;
	rb_srcmap map;          /* the original text's lines, as cmark counts them */
	rb_runbook *rb;
	rb_diags *diags;
	int current;            /* current section */
	int *per_section;       /* runnable blocks seen per section, for generated ids */
	size_t per_cap;
	size_t steps_cap;       /* rb->steps has room for this many */
} parse_ctx;

void rb_runbook_free(rb_runbook *rb)
{
	if (!rb)
		return;
	for (size_t i = 0; i < rb->nsections; i++) {
		free(rb->sections[i].title);
		free(rb->sections[i].slug);
	}
	free(rb->sections);
	for (size_t i = 0; i < rb->nsteps; i++) {
		rb_step *s = &rb->steps[i];
		free(s->lang);
		free(s->info);
		free(s->id);
		free(s->body);
		for (size_t k = 0; k < s->nattrs; k++) {
			free(s->attrs[k].key);
			free(s->attrs[k].value);
		}
		free(s->attrs);
		for (size_t k = 0; k < s->nitems; k++)
			free(s->items[k].text);
		free(s->items);
		free(s->confirm_phrase);
		free(s->db);
		free(s->cwd);
		free(s->interpreter);
		free(s->script);
		free(s->doc_output);
	}
	free(rb->steps);
	rb_frontmatter_free(&rb->fm);
	free(rb->path);
	free(rb->dir);
	free(rb->source);
	free(rb->title);
	free(rb);
}

int rb_step_runnable(const rb_step *s)
{
	return s->kind != RB_STEP_DOC && !s->skip;
}

const char *rb_step_attr(const rb_step *s, const char *key)
{
	for (size_t i = 0; i < s->nattrs; i++)
		if (!strcmp(s->attrs[i].key, key))
			return s->attrs[i].value;
	return NULL;
}

size_t rb_runbook_count(const rb_runbook *rb, rb_role role)
{
	size_t n = 0;
	for (size_t i = 0; i < rb->nsteps; i++)
		if (rb->steps[i].role == role && rb_step_runnable(&rb->steps[i]))
			n++;
	return n;
}

int rb_runbook_is_secret(const rb_runbook *rb, const char *name)
{
	int secret = rb_redact_name_is_secret(name);
	for (size_t k = 0; secret && rb && k < rb->fm.nnot_secret; k++)
		if (!strcmp(rb->fm.not_secret[k].value, name))
			secret = 0;
	for (size_t k = 0; !secret && rb && k < rb->fm.nsecrets; k++)
		if (!strcmp(rb->fm.secrets[k].value, name))
			secret = 1;
	for (size_t k = 0; !secret && rb && k < rb->fm.ninputs; k++)
		if (rb->fm.inputs[k].secret && rb->fm.inputs[k].name && !strcmp(rb->fm.inputs[k].name, name))
			secret = 1;
	return secret;
}

const rb_step *rb_runbook_find_step(const rb_runbook *rb, const char *id)
{
	for (size_t i = 0; i < rb->nsteps; i++)
		if (rb->steps[i].id && !strcmp(rb->steps[i].id, id))
			return &rb->steps[i];
	return NULL;
}

void rb_section_path(const rb_runbook *rb, int section, rb_buf *b)
{
	int chain[16];
	int n = 0;
	for (int s = section; s > 0 && n < 16; s = rb->sections[s].parent)
		chain[n++] = s;
	for (int i = n - 1; i >= 0; i--) {
		rb_buf_puts(b, rb->sections[chain[i]].title);
		if (i)
			rb_buf_puts(b, " \xe2\x80\xba ");
	}
}

/* Decodes one UTF-8 code point (input already validated). */
static unsigned decode(const unsigned char **p)
{
	const unsigned char *s = *p;
	unsigned cp;
	int extra;
	if (s[0] < 0x80) {
		cp = s[0];
		extra = 0;
	} else if ((s[0] & 0xE0) == 0xC0) {
		cp = s[0] & 0x1F;
		extra = 1;
	} else if ((s[0] & 0xF0) == 0xE0) {
		cp = s[0] & 0x0F;
		extra = 2;
	} else {
		cp = s[0] & 0x07;
		extra = 3;
	}
	for (int i = 1; i <= extra && s[i]; i++)
		cp = (cp << 6) | (s[i] & 0x3F);
	*p = s + 1 + extra;
	return cp;
}

/* Letters and digits of the scripts people write headings in; symbols,
 * punctuation and emoji are dropped as GitHub drops them. */
static int slug_keeps(unsigned cp)
{
	if (cp < 0x80)
		return isalnum((int)cp) || cp == '_' || cp == '-' || cp == ' ';
	if (cp >= 0xC0 && cp <= 0x24F)
		return cp != 0xD7 && cp != 0xF7;
	return (cp >= 0x370 && cp <= 0x3FF) || (cp >= 0x400 && cp <= 0x52F) ||
	       (cp >= 0x590 && cp <= 0x5FF) || (cp >= 0x600 && cp <= 0x6FF) ||
	       (cp >= 0x900 && cp <= 0xDFF) || (cp >= 0x1E00 && cp <= 0x1FFF) ||
	       (cp >= 0x3040 && cp <= 0x30FF) || (cp >= 0x3400 && cp <= 0x9FFF) ||
	       (cp >= 0xAC00 && cp <= 0xD7AF);
}

char *rb_slugify(const char *text)
{
	rb_buf b = RB_BUF_INIT;
	const unsigned char *p = (const unsigned char *)text;
	while (*p) {
		const unsigned char *start = p;
		unsigned cp = decode(&p);
		if (!slug_keeps(cp))
			continue;
		if (cp == ' ')
			rb_buf_putc(&b, '-');
		else if (cp < 0x80)
			rb_buf_putc(&b, (char)tolower((int)cp));
		else if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)
			rb_buf_printf(&b, "%c%c", (char)(0xC0 | ((cp + 0x20) >> 6)),
				      (char)(0x80 | ((cp + 0x20) & 0x3F)));
		else
			rb_buf_add(&b, (const char *)start, (size_t)(p - start));
	}
	return rb_buf_detach(&b);
}

/* Inline content as plain text; code spans keep their backticks. */
static void flatten(cmark_node *n, rb_buf *b)
{
	for (cmark_node *c = cmark_node_first_child(n); c; c = cmark_node_next(c)) {
		switch (cmark_node_get_type(c)) {
		case CMARK_NODE_TEXT:
			rb_buf_puts(b, cmark_node_get_literal(c));
			break;
		case CMARK_NODE_HTML_INLINE:
			break; /* tags are markup, not text: GitHub's anchors leave them out */
		case CMARK_NODE_CODE:
			rb_buf_putc(b, '`');
			rb_buf_puts(b, cmark_node_get_literal(c));
			rb_buf_putc(b, '`');
			break;
		case CMARK_NODE_SOFTBREAK:
		case CMARK_NODE_LINEBREAK:
			rb_buf_putc(b, ' ');
			break;
		default:
			flatten(c, b);
			break;
		}
	}
}

static char *trimmed(rb_buf *b)
{
	char *s = rb_buf_detach(b);
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	size_t k = 0;
	while (s[k] && isspace((unsigned char)s[k]))
		k++;
	memmove(s, s + k, n - k + 1);
	return s;
}

static int add_section(parse_ctx *c, int level, char *title, int line, int col)
{
	rb_runbook *rb = c->rb;
	rb->sections = rb_xrealloc(rb->sections, (rb->nsections + 1) * sizeof *rb->sections);
	if (c->per_cap < rb->nsections + 1) {
		c->per_cap = c->per_cap ? c->per_cap * 2 : 64;
		c->per_section = rb_xrealloc(c->per_section, c->per_cap * sizeof *c->per_section);
	}
	int idx = (int)rb->nsections++;
	rb_section *s = &rb->sections[idx];
	memset(s, 0, sizeof *s);
	s->level = level;
	s->title = title;
	s->line = line;
	s->col = col;
	s->parent = -1;
	if (idx > 0) {
		int p = c->current;
		while (p > 0 && rb->sections[p].level >= level)
			p = rb->sections[p].parent;
		s->parent = p < 0 ? 0 : p;
	}
	c->per_section[idx] = 0;
	c->current = idx;
	return idx;
}

static rb_step *add_step(parse_ctx *c, rb_step_kind kind, int line, int col)
{
	rb_runbook *rb = c->rb;
	if (rb->nsteps == c->steps_cap) {
		/* Doubling: a runbook of many steps is not copied once per step. */
		c->steps_cap = c->steps_cap ? 2 * c->steps_cap : 16;
		rb->steps = rb_xrealloc(rb->steps, c->steps_cap * sizeof *rb->steps);
	}
	rb_step *s = &rb->steps[rb->nsteps++];
	memset(s, 0, sizeof *s);
	s->kind = kind;
	s->section = c->current;
	s->line = line;
	s->col = col;
	s->timeout_ms = -1;
	s->lock_timeout_ms = -1;
	s->retry = -1;
	s->retry_delay_ms = -1;
	s->every_ms = -1;
	s->run = -1;
	s->undo = s->undoes = -1;
	return s;
}

/* Column of the info string on a fence line, from the source text. */
static int info_column(parse_ctx *c, int line)
{
	size_t start, stop;
	if (rb_srcmap_line_span(&c->map, line, &start, &stop) < 0)
		return 1;
	const char *ls = c->map.text + start;
	const char *end = c->map.text + stop;
	const char *p = ls;
	while (p < end && *p != '`' && *p != '~')
		p++;
	char f = p < end ? *p : 0;
	while (p < end && *p == f && f)
		p++;
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return (int)(p - ls) + 1;
}

/* 1 when the code block at `line` starts with a fence (not indented code). */
static int is_fenced(parse_ctx *c, int line)
{
	size_t start, stop;
	if (rb_srcmap_line_span(&c->map, line, &start, &stop) < 0)
		return 0;
	const char *p = c->map.text + start;
	const char *end = c->map.text + stop;
	while (p < end) {
		if (p + 2 < end && ((p[0] == '`' && p[1] == '`' && p[2] == '`') ||
				    (p[0] == '~' && p[1] == '~' && p[2] == '~')))
			return 1;
		if (*p != ' ' && *p != '\t' && *p != '>' && *p != '-' && *p != '*' && *p != '+' &&
		    *p != '.' && *p != ')' && !isdigit((unsigned char)*p))
			return 0;
		p++;
	}
	return 0;
}

/* Applies the step's attributes to its typed fields: one loop over the table (attrs.c). */
static void apply_attrs(parse_ctx *c, rb_step *s)
{
	for (size_t i = 0; i < s->nattrs; i++) {
		rb_error err = RB_ERROR_INIT;
		if (rb_attr_apply(s, &s->attrs[i], c->file, &err) < 0)
			rb_diags_add(c->diags, RB_DIAG_ERROR, c->file, err.line, err.col, "%s", err.message);
		rb_error_clear(&err);
	}
}

/* The kind of a fence; *undo = 1 for `LANG undo`, a block of that language that undoes a step. */
static rb_step_kind kind_of(const rb_info *pi, int *undo)
{
	*undo = pi->qualifier && !strcmp(pi->qualifier, "undo");
	return rb_kind_of(pi->lang, *undo ? "" : pi->qualifier);
}

static const char *info_attr(const rb_info *pi, const char *key)
{
	for (size_t i = 0; i < pi->nattrs; i++)
		if (!strcmp(pi->attrs[i].key, key))
			return pi->attrs[i].value;
	return NULL;
}

/* Console transcripts: documentation unless the front matter's console: run or run=true says otherwise. */
static int is_console(const char *lang)
{
	return !strcasecmp(lang, "console") || !strcasecmp(lang, "shell-session") || !strcasecmp(lang, "terminal");
}

/*
 * run=false makes any block documentation; a console block runs with run=true
 * or the front matter's console: run; a block of another language (python,
 * node, ...) runs only when it says run=true or names an interpreter.
 */
static rb_step_kind promote(const parse_ctx *c, const rb_info *pi, rb_step_kind kind)
{
	const char *run = info_attr(pi, "run");
	int want = run ? rb_parse_flag(run) : -1;
	if (want == 0)
		return RB_STEP_DOC;
	if (kind != RB_STEP_DOC || !pi->lang || !*pi->lang || (pi->qualifier && *pi->qualifier))
		return kind;
	if (is_console(pi->lang))
		return want == 1 || c->rb->fm.console_run ? RB_STEP_SHELL : RB_STEP_DOC;
	return want == 1 || info_attr(pi, "interpreter") ? RB_STEP_SHELL : kind;
}

/* Where attribute key was written on the step, else the fence. */
static void attr_pos(const rb_step *s, const char *key, int *line, int *col)
{
	*line = s->line;
	*col = s->col;
	for (size_t k = 0; k < s->nattrs; k++)
		if (!strcmp(s->attrs[k].key, key)) {
			*line = s->attrs[k].line;
			*col = s->attrs[k].col;
		}
}

/*
 * A shell step's interpreter (interp.h) and, for a shell, its prompts
 * (transcript.h): the script that runs and the documented output. A console
 * transcript without a single prompted command stays documentation.
 */
static void shell_setup(parse_ctx *c, rb_step *s)
{
	int console = is_console(s->lang), line, col;
	const char *prog = rb_interp_for_lang(s->lang);
	if (!s->interpreter && prog)
		s->interpreter = rb_xstrdup(prog);
	attr_pos(s, "interpreter", &line, &col);
	if (!s->interpreter && !console && strcasecmp(s->lang, "shell")) {
		rb_diags_add(c->diags, RB_DIAG_ERROR, c->file, line, col,
			     "no interpreter is known for '%s' blocks: name one with interpreter=", s->lang);
		return;
	}
	const rb_interp *in = rb_interp_find(rb_step_interpreter(c->rb, s));
	if (!in) {
		char *p = rb_interp_program(rb_step_interpreter(c->rb, s));
		rb_diags_add(c->diags, RB_DIAG_ERROR, c->file, line, col,
			     "interpreter '%s' is not one runbook can hand a block to: bash, sh, dash, ksh, zsh, "
			     "fish, python3, node, ruby or perl", p);
		free(p);
		return;
	}
	if (!in->shell)
		return;
	rb_transcript t;
	s->prompted = console || rb_transcript_prompted(s->body);
	rb_transcript_read(s->body, s->prompted, &t);
	if (t.stray_line)
		rb_diags_add(c->diags, RB_DIAG_ERROR, c->file, s->body_line + t.stray_line - 1, s->col + t.stray_col - 1,
			     "a command starting with '$ ' would run a program named '$': prompts are read as prompts "
			     "only when the block's first line has one (docs/format.md, \"Prompts and console transcripts\")");
	if (s->prompted) {
		s->script = t.script;
		s->doc_output = t.output;
		t.script = t.output = NULL;
	}
	if (rb_step_prompt_env(s)) { /* Runme's promptEnv: its exports take the run's inputs (inputs.h) */
		char *rewritten = rb_env_prompts_rewrite(s->script ? s->script : s->body);
		if (rewritten) {
			free(s->script);
			s->script = rewritten;
		}
	}
	if (console && !t.ncommands)
		s->kind = RB_STEP_DOC;
	rb_transcript_free(&t);
}

static void on_code_block(parse_ctx *c, cmark_node *n)
{
	int line = cmark_node_get_start_line(n);
	int col = cmark_node_get_start_column(n);
	const char *info = cmark_node_get_fence_info(n);
	const char *body = cmark_node_get_literal(n);
	int fenced = is_fenced(c, line);
	rb_info pi;
	rb_error err = RB_ERROR_INIT;
	rb_step_kind kind = RB_STEP_DOC;
	int icol = info_column(c, line);
	int undo = 0;

	if (!info)
		info = "";
	memset(&pi, 0, sizeof pi);
	if (fenced) {
		if (rb_info_parse(info, c->file, line, icol, &pi, &err) == 0) {
			kind = promote(c, &pi, kind_of(&pi, &undo));
		} else {
			/* An attribute error matters only on a block that would run:
			 * read the language alone to know. */
			char *lang = rb_xstrdup(info);
			char *brace = strchr(lang, '{');
			rb_error e2 = RB_ERROR_INIT;
			if (brace)
				*brace = '\0';
			if (rb_info_parse(lang, c->file, line, icol, &pi, &e2) == 0)
				kind = kind_of(&pi, &undo);
			rb_error_clear(&e2);
			free(lang);
			if (kind != RB_STEP_DOC)
				rb_diags_add(c->diags, RB_DIAG_ERROR, c->file, err.line, err.col, "%s",
					     err.message);
			rb_error_clear(&err);
		}
	}
	rb_step *s = add_step(c, kind, line, col);
	s->info = rb_xstrdup(info);
	s->lang = rb_xstrdup(pi.lang ? pi.lang : "");
	s->body = rb_xstrdup(body ? body : "");
	s->body_line = fenced ? line + 1 : line;
	s->undo_block = undo;
	if (kind != RB_STEP_DOC) {
		if (undo)
			; /* `LANG undo`: the block undoes the step above it (undo.c) */
		else if (pi.qualifier && *pi.qualifier && kind == RB_STEP_LUA)
			rb_diags_add(c->diags, RB_DIAG_ERROR, c->file, line, icol,
				     "unknown lua block kind '%s': use 'lua', 'lua gate', 'lua abort' or 'lua undo'",
				     pi.qualifier);
		else if (pi.qualifier && *pi.qualifier && kind != RB_STEP_GATE && kind != RB_STEP_ABORT)
			rb_diags_add(c->diags, RB_DIAG_ERROR, c->file, line, icol,
				     "unexpected '%s' after the language '%s': attributes go in braces ('undo' there makes an undo block)",
				     pi.qualifier, pi.lang);
		s->attrs = pi.attrs;
		s->nattrs = pi.nattrs;
		pi.attrs = NULL;
		pi.nattrs = 0;
		apply_attrs(c, s);
		if (kind == RB_STEP_SHELL)
			shell_setup(c, s);
	}
	rb_info_free(&pi);
}

/* "[ ] text", "[x] text": returns 0 (unchecked), 1 (checked) or -1. */
static int task_marker(const char *t)
{
	if (t[0] != '[' || (t[1] != ' ' && t[1] != 'x' && t[1] != 'X') || t[2] != ']')
		return -1;
	if (t[3] != '\0' && t[3] != ' ' && t[3] != '\t')
		return -1;
	return t[1] != ' ';
}

static void on_list(parse_ctx *c, cmark_node *list)
{
	rb_step *s = NULL;
	for (cmark_node *item = cmark_node_first_child(list); item; item = cmark_node_next(item)) {
		cmark_node *para = cmark_node_first_child(item);
		if (!para || cmark_node_get_type(para) != CMARK_NODE_PARAGRAPH)
			continue;
		rb_buf b = RB_BUF_INIT;
		flatten(para, &b);
		char *text = trimmed(&b);
		int checked = task_marker(text);
		if (checked >= 0) {
			if (!s) {
				s = add_step(c, RB_STEP_APPROVAL, cmark_node_get_start_line(item),
					     cmark_node_get_start_column(item));
				s->lang = rb_xstrdup("tasks");
				s->info = rb_xstrdup("");
				s->body = rb_xstrdup("");
				s->body_line = s->line;
			}
			s->items = rb_xrealloc(s->items, (s->nitems + 1) * sizeof *s->items);
			rb_approval_item *it = &s->items[s->nitems++];
			const char *t = text + 3;
			while (*t == ' ' || *t == '\t')
				t++;
			it->text = rb_xstrdup(t);
			it->checked = checked;
			it->line = cmark_node_get_start_line(item);
			it->col = cmark_node_get_start_column(item);
		}
		free(text);
	}
}

static int section_matches(const rb_section *sec, const char *name)
{
	if (name[0] == '#')
		name++;
	return !strcmp(sec->slug, name) || !strcasecmp(sec->title, name);
}

/* " (did you mean 'x'?)" for the section (slug or title) nearest to name, or ""; caller frees. */
static char *section_hint(const rb_runbook *rb, const char *name)
{
	rb_suggest sg = RB_SUGGEST_INIT(name[0] == '#' ? name + 1 : name);
	for (size_t i = 1; i < rb->nsections; i++) {
		rb_suggest_offer(&sg, rb->sections[i].slug);
		rb_suggest_offer(&sg, rb->sections[i].title);
	}
	return rb_suggest_hint(&sg);
}

static void assign_roles(parse_ctx *c)
{
	rb_runbook *rb = c->rb;
	rb_front_matter *fm = &rb->fm;
	int *target = rb_xcalloc(rb->nsections, sizeof *target);
	if (fm->on_failure.value) {
		int found = 0;
		for (size_t i = 1; i < rb->nsections; i++) {
			if (section_matches(&rb->sections[i], fm->on_failure.value)) {
				target[i] = RB_ROLE_ON_FAILURE;
				rb->on_failure_section = (int)i;
				found = 1;
				break;
			}
		}
		if (!found) {
			char *hint = section_hint(rb, fm->on_failure.value);
			rb_diags_add(c->diags, RB_DIAG_ERROR, c->file, fm->on_failure.line, fm->on_failure.col,
				     "on_failure: no section '%s' in this runbook%s", fm->on_failure.value, hint);
			free(hint);
		}
	}
	for (size_t m = 0; m < fm->nmanual; m++) {
		int found = 0;
		for (size_t i = 1; i < rb->nsections; i++) {
			if (section_matches(&rb->sections[i], fm->manual[m].value)) {
				if (target[i] == RB_ROLE_ON_FAILURE)
					rb_diags_add(c->diags, RB_DIAG_ERROR, c->file, fm->manual[m].line,
						     fm->manual[m].col,
						     "section '%s' cannot be both on_failure and manual",
						     fm->manual[m].value);
				else
					target[i] = RB_ROLE_MANUAL;
				found = 1;
			}
		}
		if (!found) {
			char *hint = section_hint(rb, fm->manual[m].value);
			rb_diags_add(c->diags, RB_DIAG_ERROR, c->file, fm->manual[m].line, fm->manual[m].col,
				     "manual: no section '%s' in this runbook%s", fm->manual[m].value, hint);
			free(hint);
		}
	}
	for (size_t i = 0; i < rb->nsections; i++) {
		rb_section *s = &rb->sections[i];
		s->role = target[i] ? (rb_role)target[i]
				    : (s->parent >= 0 ? rb->sections[s->parent].role : RB_ROLE_MAIN);
	}
	free(target);
}

/* Generated ids, numbering, uniqueness. */
static void finish_steps(parse_ctx *c)
{
	rb_runbook *rb = c->rb;
	rb_strset ids = RB_STRSET_INIT;
	int number[RB_ROLE_UNDO + 1] = {0};
	for (size_t i = 0; i < rb->nsteps; i++) {
		rb_step *s = &rb->steps[i];
		s->role = rb->sections[s->section].role;
		if (s->kind == RB_STEP_DOC || s->undo_block)
			continue; /* an unnamed undo block is named after its step (undo.c) */
		int n = ++c->per_section[s->section];
		if (!s->id) {
			const char *slug = rb->sections[s->section].slug;
			s->id = rb_xasprintf("%s-%d", *slug ? slug : "step", n);
		}
	}
	rb_undo_link(rb, c->file, c->diags);
	for (size_t i = 0; i < rb->nsteps; i++) {
		rb_step *s = &rb->steps[i];
		if (rb_step_runnable(s) && s->role != RB_ROLE_UNDO)
			s->number = ++number[s->role];
	}
	/* Explicit names first, so a generated id never steals an explicit one's place. */
	for (int pass = 1; pass >= 0; pass--) {
		for (size_t i = 0; i < rb->nsteps; i++) {
			rb_step *s = &rb->steps[i];
			if (!s->id || s->id_explicit != pass)
				continue;
			if (!rb_strset_add(&ids, s->id, (int)i)) {
				const rb_step *first = &rb->steps[rb_strset_get(&ids, s->id)];
				const char *name = rb_step_attr(s, "name");
				int line = s->line, col = s->col;
				for (size_t k = 0; name && k < s->nattrs; k++)
					if (!strcmp(s->attrs[k].key, "name")) {
						line = s->attrs[k].line;
						col = s->attrs[k].col;
					}
				rb_diags_add(c->diags, RB_DIAG_ERROR, c->file, line, col,
					     "duplicate step name '%s' (also used at line %d)", s->id,
					     first->line);
			}
		}
	}
	rb_strset_free(&ids);
}

/* 1 when the text is UTF-8 without NUL bytes; else an error where it is not. */
static int text_valid(const parse_ctx *c)
{
	size_t bad = 0;
	int line, col;
	int valid = rb_utf8_valid(c->map.text, c->map.len, &bad);
	if (!valid) {
		rb_srcmap_locate(&c->map, bad, &line, &col);
		rb_diags_add(c->diags, RB_DIAG_ERROR, c->file, line, col,
			     c->map.text[bad] == '\0' ? "a NUL byte: this is a binary file, not a Markdown runbook"
						   : "invalid UTF-8: runbooks must be UTF-8 text");
	}
	return valid;
}

static rb_runbook *new_runbook(const char *path, const char *src, size_t len)
{
	rb_runbook *rb = rb_xcalloc(1, sizeof *rb);
	rb->path = rb_xstrdup(path);
	rb->dir = rb_dirname_dup(path);
	rb->source = rb_xstrndup(src, len);
	rb->source_len = len;
	rb->on_failure_section = -1;
	rb->fm.timeout_ms = rb->fm.connect_timeout_ms = rb->fm.lock_timeout_ms = -1;
	return rb;
}

/*
 * Reads the front matter into rb->fm and returns a copy of the text for
 * cmark with the front matter blanked out (newlines kept, so lines stay).
 */
static char *front_matter(parse_ctx *c)
{
	const char *src = c->map.text;
	size_t len = c->map.len;
	rb_runbook *rb = c->rb;
	char *copy = rb_xstrndup(src, len);
	long span = rb_frontmatter_locate(src, len, c->file, c->diags);
	if (span > 0) {
		rb_frontmatter_parse(src, (size_t)span, c->file, &rb->fm, c->diags);
		for (size_t i = 0; i < rb->fm.nunknown; i++)
			rb_diags_add(c->diags, RB_DIAG_WARNING, c->file, rb->fm.unknown[i].line,
				     rb->fm.unknown[i].col, "unknown front matter key '%s'",
				     rb->fm.unknown[i].key);
		for (long i = 0; i < span; i++)
			if (copy[i] != '\n')
				copy[i] = ' ';
	}
	return copy;
}

/* A heading opens a section, with a slug unique in the runbook. */
static void on_heading(parse_ctx *c, cmark_node *n, rb_strset *slugs)
{
	rb_buf b = RB_BUF_INIT;
	flatten(n, &b);
	char *title = trimmed(&b);
	int idx = add_section(c, cmark_node_get_heading_level(n), title, cmark_node_get_start_line(n),
			      cmark_node_get_start_column(n));
	char *base = rb_slugify(title);
	char *slug = rb_xstrdup(base);
	for (int k = 1; !rb_strset_add(slugs, slug, idx); k++) {
		free(slug);
		slug = rb_xasprintf("%s-%d", base, k);
	}
	free(base);
	c->rb->sections[idx].slug = slug;
}

/* Sections and steps, in document order, from cmark's tree of text. */
static void walk(parse_ctx *c, const char *text, size_t len)
{
	cmark_node *doc = cmark_parse_document(text, len, CMARK_OPT_DEFAULT);
	cmark_iter *it = cmark_iter_new(doc);
	rb_strset slugs = RB_STRSET_INIT;
	cmark_event_type ev;
	add_section(c, 0, rb_xstrdup(""), 1, 1);
	c->rb->sections[0].slug = rb_xstrdup("");
	while ((ev = cmark_iter_next(it)) != CMARK_EVENT_DONE) {
		if (ev != CMARK_EVENT_ENTER)
			continue;
		cmark_node *n = cmark_iter_get_node(it);
		switch (cmark_node_get_type(n)) {
		case CMARK_NODE_HEADING:
			on_heading(c, n, &slugs);
			break;
		case CMARK_NODE_CODE_BLOCK:
			on_code_block(c, n);
			break;
		case CMARK_NODE_LIST:
			on_list(c, n);
			break;
		default:
			break;
		}
	}
	rb_strset_free(&slugs);
	cmark_iter_free(it);
	cmark_node_free(doc);
}

/* The front matter's title, else the first heading's, else the file name. */
static char *choose_title(const rb_runbook *rb)
{
	const char *title = rb->fm.title;
	if (!title && rb->nsections > 1)
		title = rb->sections[1].title;
	if (!title) {
		const char *slash = strrchr(rb->path, '/');
		title = slash ? slash + 1 : rb->path;
	}
	return rb_xstrdup(title);
}

rb_runbook *rb_parse(const char *path, const char *src, size_t len, rb_diags *diags)
{
	rb_runbook *rb = NULL;
	char *copy = NULL;
	parse_ctx c;

	memset(&c, 0, sizeof c);
	c.file = path;
	c.diags = diags;
	rb_srcmap_init(&c.map, src, len, 1, 1);
	rb_diags_set_source(diags, path, src, len);
	if (!text_valid(&c))
		goto done;

	rb = c.rb = new_runbook(path, src, len);
	copy = front_matter(&c);
	walk(&c, copy, len);
	assign_roles(&c);
	finish_steps(&c);
	rb->title = choose_title(rb);
done:
	free(copy);
	rb_srcmap_free(&c.map);
	free(c.per_section);
	return rb;
}

rb_runbook *rb_parse_file(const char *path, rb_diags *diags)
{
	char *src = NULL;
	size_t len = 0;
	rb_error err = RB_ERROR_INIT;
	rb_runbook *rb = NULL;
	if (rb_read_file(path, &src, &len, &err) < 0) {
		rb_diags_add(diags, RB_DIAG_ERROR, path, 0, 0, "%s", err.message);
		goto done;
	}
	rb = rb_parse(path, src, len, diags);
done:
	rb_error_clear(&err);
	free(src);
	return rb;
}
