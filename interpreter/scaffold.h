/*
 * scaffold.h - `runbook new`: a runbook to start from, with comments that
 * explain each part. Every template passes `runbook check --strict`.
 */
#ifndef RB_SCAFFOLD_H
#define RB_SCAFFOLD_H

#include "util.h"

/** The template names, NULL-terminated: "basic", "sql", "promotion". */
extern const char *const rb_scaffold_templates[];

/**
 * Writes template `name` to path, which must not exist yet. Returns
 * RB_EXIT_OK, or RB_EXIT_USAGE (unknown template, file exists) /
 * RB_EXIT_ENV (cannot write) with err set.
 */
int rb_scaffold_write(const char *path, const char *name, rb_error *err);

#endif
