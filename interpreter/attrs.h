/*
 * attrs.h - the fence's info string: language, qualifier and attributes.
 *
 *   ```bash {name=backup timeout=5m confirm}
 *   ```lua gate {every=5s}
 *   ```sh {"name":"backup","interactive":false}     (Runme's JSON form)
 *
 * The table of known attributes lives here too: it drives validation, the
 * plan, `check`'s "did you mean" and the documentation test.
 */
#ifndef RB_ATTRS_H
#define RB_ATTRS_H

#include "runbook.h"
#include "util.h"

/** How an attribute's value is read. */
typedef enum {
	RB_ATTR_ID,        /* [A-Za-z0-9_.-]+ */
	RB_ATTR_DURATION,  /* 30s, 5m, 250ms */
	RB_ATTR_COUNT,     /* a non-negative integer */
	RB_ATTR_FLAG,      /* bare, or true/false/yes/no/1/0 */
	RB_ATTR_LUA,       /* a Lua expression */
	RB_ATTR_TEXT,      /* free text */
	RB_ATTR_FLAG_OR_TEXT, /* confirm / confirm="PHRASE" */
	RB_ATTR_TXN,       /* single | none */
	RB_ATTR_ROWS       /* a count from 1, or all (-1) */
} rb_attr_type;

/** An attribute's value once read (rb_attr_apply): a duration or count in n, a flag in flag. */
typedef struct {
	const char *text;   /* as written */
	int64_t n;          /* RB_ATTR_DURATION (ms), RB_ATTR_COUNT, RB_ATTR_ROWS */
	int flag;           /* RB_ATTR_FLAG */
} rb_attr_value;

/** The kinds an attribute applies to: a mask of RB_ATTR_KIND(kind); 0 is every kind. */
#define RB_ATTR_KIND(k) (1u << (unsigned)(k))

typedef struct {
	const char *name;
	rb_attr_type type;
	const char *help;   /* one line, for --help and check */
	unsigned kinds;     /* RB_ATTR_KIND mask of the step kinds it applies to; 0: all */
	const char *only;   /* those kinds in words, for "applies only to ... steps" */
	/** Stores the read value in the step's typed fields (a->line/col are where it was written). */
	void (*set)(rb_step *s, const rb_attr *a, const rb_attr_value *v);
} rb_attr_spec;

/** The known attributes, terminated by a {NULL} entry. */
extern const rb_attr_spec rb_attr_specs[];

/**
 * Runme's attributes, NULL-terminated: accepted and kept as written.
 * background and promptEnv act (rb_step_background, rb_step_prompt_env),
 * excludeFromRunAll selects (select.h); the plan shows the others, which
 * mean nothing here (docs/format.md, "Differences from Runme").
 */
extern const char *const rb_runme_attrs[];

/** 1 when s is a shell step with Runme's background=true: started, not waited for (run_background.h). */
int rb_step_background(const rb_step *s);

/** 1 when s is a shell step with Runme's promptEnv on (yes, true, auto): its exports are inputs (inputs.h). */
int rb_step_prompt_env(const rb_step *s);

/**
 * What the plan says after attribute a of step s: "" for one of runbook's,
 * for Runme's what it does here (" (runme: started, not waited for; ...)",
 * " (runme, ignored)"). Caller frees.
 */
char *rb_attr_note(const rb_step *s, const rb_attr *a);

/** The spec for key, or NULL when unknown. */
const rb_attr_spec *rb_attr_lookup(const char *key);

/** 1 when key is one of Runme's attributes. */
int rb_attr_is_runme(const char *key);

/** The known attribute nearest to key (edit distance <= 2), or NULL. */
const char *rb_attr_suggest(const char *key);

/** A parsed info string. All strings are owned by it. */
typedef struct {
	char *lang;        /* first word, "" when none */
	char *qualifier;   /* words between the language and '{' joined by one space; "" when none */
	rb_attr *attrs;
	size_t nattrs;
	int brace_col;     /* column of '{', 0 when there is none */
} rb_info;

/**
 * Parses an info string written at file:line, whose first character is at
 * column col. Returns 0, or -1 with err set (code RB_EXIT_USAGE, position of
 * the offending character) for an unterminated brace, a malformed pair, a
 * duplicate key or text after the closing brace. On failure *out is empty.
 */
int rb_info_parse(const char *info, const char *file, int line, int col, rb_info *out,
		  rb_error *err);

/** Releases what rb_info_parse stored. */
void rb_info_free(rb_info *info);

/**
 * Reads one attribute of step s (written in file) and stores it in the
 * step's typed fields: looks it up, reads its value by type, checks that it
 * applies to the step's kind, and calls its setter. Returns 1 for one of
 * Runme's attributes (kept as written), 0 when applied, or -1 with err
 * (code RB_EXIT_USAGE, at the attribute) for an unknown attribute (with the
 * nearest known name), a bad value or one that does not apply to the kind
 * (Runme's background and promptEnv are checked too: shell steps only, a
 * background step without the attributes that wait for its end).
 */
int rb_attr_apply(rb_step *s, const rb_attr *a, const char *file, rb_error *err);

/** Reads a flag value ("true", "yes", "1", "false", "no", "0"). Returns 0/1, or -1. */
int rb_parse_flag(const char *value);

#endif
