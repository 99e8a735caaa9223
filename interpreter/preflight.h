/*
 * preflight.h - what `run` checks before it does anything: the command
 * line's step selection and variables, then every check `runbook check`
 * can make without a database (lint.h). A run that fails here never
 * started: nothing ran, no server was started, nothing was recorded.
 */
#ifndef RB_PREFLIGHT_H
#define RB_PREFLIGHT_H

#include "diag.h"
#include "engine.h"
#include "runbook.h"
#include "util.h"

/**
 * Checks opts against rb: every --set is NAME=VALUE, --from/--only name a
 * step. Returns 0, or -1 with err (RB_EXIT_USAGE, the message ready to
 * print as "runbook: MESSAGE").
 */
int rb_preflight_options(const rb_runbook *rb, const rb_run_opts *opts, rb_error *err);

/**
 * Lints rb as `check` would, offline and without shellcheck, with the
 * variables the run will have (process environment, --set, resumed
 * captures) counted as defined. Unknown front matter keys stay warnings.
 * Adds the findings to d (which the caller prints); returns the number of
 * errors found.
 */
size_t rb_preflight_lint(const rb_runbook *rb, const rb_run_opts *opts, rb_diags *d);

#endif
