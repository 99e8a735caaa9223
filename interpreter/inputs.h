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

#endif
