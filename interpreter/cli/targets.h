/*
 * targets.h - the targets of `run` and `plan` (--target, --targets,
 * --matrix; inventory.h): loaded, selected, and applied to one run.
 *
 * One --target runs in this process, as that target (its variables, its
 * db as the default connection, RUNBOOK_TARGET, the run lock and the
 * record's Target: trailer). --targets, --matrix or several --target make
 * a rollout (cli/rollout.h): one child `runbook run --target NAME` a
 * target.
 */
#ifndef RB_CLI_TARGETS_H
#define RB_CLI_TARGETS_H

#include <stddef.h>

#include "cli/runargs.h"
#include "inventory.h"

typedef struct {
	rb_inventory inv;
	size_t *sel;     /* the selected targets: indexes into inv.targets, in dispatch order */
	size_t count;
	int rollout;     /* 1: a fan-out; 0: one --target, run here */
} cli_targets;

/**
 * Loads the inventory (or the matrix) a asks for and selects its targets.
 * Returns 0, or the exit code after saying why (on stderr, with
 * file:line:col for the inventory's errors).
 */
int cli_targets_load(const rb_runbook *rb, const cli_run_args *a, cli_targets *t);

/**
 * Makes a's run the run of target: a->run.target, its variables (their
 * ${NAME} references expanded from the environment) and its db as the
 * default connection. A reference to a variable the environment does not
 * have is refused before anything runs: returns RB_EXIT_USAGE after saying
 * which; else 0. target must outlive the run.
 */
int cli_target_apply(const rb_target *target, cli_run_args *a);

void cli_targets_free(cli_targets *t);

#endif
