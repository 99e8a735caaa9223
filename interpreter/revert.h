/*
 * revert.h - undoing a finished run from its audit record (`runbook
 * revert RUN`, `runbook plan --revert RUN`; docs/format.md, "Undo").
 *
 * The record names the runbook (its absolute path) and its content hash;
 * its journal says which steps completed, with the variables of that
 * moment, and which were undone already. rb_revert_prepare reads all that
 * and the runbook as it is now; the command then runs the undo stack as a
 * run of its own (rb_run_opts.undo_only) recorded with a Reverts: trailer.
 */
#ifndef RB_REVERT_H
#define RB_REVERT_H

#include "record.h"
#include "runbook.h"
#include "undo.h"
#include "util.h"

typedef struct {
	char *run;            /* the run reverted (its full id) */
	char *runbook_path;   /* the runbook's absolute path, as recorded */
	rb_runbook *rb;       /* the runbook now (owned) */
	char hash_then[41];   /* its content hash in the run */
	char hash_now[41];
	int changed;          /* the content differs (refused unless allow_changed) */
	rb_record rec;        /* the run's journal */
	rb_undo_stack stack;  /* the undos to run, oldest first (the last runs first) */
} rb_revert;

/**
 * Finds run (anything `runbook show` accepts) on the audit ref of repo
 * (NULL: as for a runbook in the current directory) and prepares its
 * revert. Returns 0, or -1 with err and nothing to free:
 *   RB_EXIT_USAGE  no such run; the runbook changed since the run (unless
 *                  allow_changed) or cannot be read; the run was reverted
 *                  already (by the run named); its undo ran to its end
 *                  when it failed; it left nothing to undo; the runbook has
 *                  errors;
 *   RB_EXIT_ENV    the repository cannot be read.
 */
int rb_revert_prepare(const char *repo, const char *run, int allow_changed, rb_revert *out, rb_error *err);

/** The revert in words: the run, the runbook, the undos newest first and their variables. Caller frees. */
char *rb_revert_describe(const rb_revert *rv);

void rb_revert_free(rb_revert *rv);

#endif
