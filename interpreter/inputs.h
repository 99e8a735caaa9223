/*
 * inputs.h - the declared inputs of a runbook (front matter inputs:): how a
 * value is checked against an input's choices or Lua pattern.
 *
 * Matching a Lua pattern runs string.find in a Lua state of its own with
 * only the string library, under a protected call: a malformed pattern is
 * an error message, never a crash. The value must match as a whole (the
 * pattern is anchored at both ends unless it already is).
 */
#ifndef RB_INPUTS_H
#define RB_INPUTS_H

#include "runbook.h"

/**
 * 0 when value is acceptable for in: not empty when required, one of its
 * choices, matching its pattern. Else -1 and *why (caller frees) says why.
 */
int rb_input_check(const rb_input *in, const char *value, char **why);

/** 0 when pattern is a valid Lua pattern, else -1 and *why (caller frees). */
int rb_input_pattern_valid(const char *pattern, char **why);

/** The input named name, or NULL. */
const rb_input *rb_input_find(const rb_runbook *rb, const char *name);

/*
 * Runme's promptEnv (docs/format.md, "Differences from Runme"): in a shell
 * block with promptEnv on, each line that is exactly one
 * `export NAME=VALUE` (an optional `# comment` after it) declares NAME as
 * an input asked before step 1, as a declared input is (run_inputs.c).
 * As in Runme, a quoted value ("x" or 'x') is the default, unless it is
 * placeholder text (<...>, YOUR_..., CHANGEME: shellscan.h), and an
 * unquoted value is a message shown with the question, not a default. A
 * value that expands anything ($, `) is not asked for: the line runs as
 * written. The parser rewrites each such line to `export NAME`, so the
 * value the run was given is the one the block sees.
 */

/** One export line promptEnv asks for. */
typedef struct {
	char *name;
	char *def;       /* the default (a quoted value); NULL: none, the input is required */
	char *message;   /* shown with the question (an unquoted value, a quoted placeholder); NULL: none */
	int line;        /* 1-based line in the block's body */
} rb_env_prompt;

/**
 * The export lines promptEnv asks for in step s (none when it is off or s
 * is not a shell step), in order, the first line of each name only, read
 * from the block as written (a prompted block's commands). *out is owned
 * by the caller: rb_env_prompts_free. Returns how many.
 */
size_t rb_env_prompts(const rb_step *s, rb_env_prompt **out);

void rb_env_prompts_free(rb_env_prompt *p, size_t n);

/**
 * script with each export line rb_env_prompts asks for turned into
 * `export NAME` (its indentation kept, one line for one line). Caller
 * frees; NULL when no line is one.
 */
char *rb_env_prompts_rewrite(const char *script);

#endif
