/*
 * rollout.h - one runbook, many targets: the fan-out of `run --targets`.
 *
 * Each selected target runs in a child forked from the rollout (not
 * exec'd: the libraries are loaded and set up once) that runs the command
 * line `runbook run FILE --target NAME --rollout ID` (cmd_run: every
 * guarantee of a single run, its pre-flight, gates, lock, record), at most
 * -j at a time, in dispatch order. --canary K runs
 * the first K alone and goes on only when all succeeded and the rest was
 * approved (a terminal, or --yes). A failed target stops the dispatching
 * (--keep-going: up to --max-failures); running targets finish. A target
 * whose run lock is held by another run is "locked", not failed. Ctrl-C
 * (SIGINT, SIGTERM, SIGHUP) is passed to every running target, which runs
 * its undo and failure handler; a second one is passed on again, which
 * stops those.
 *
 * Output: on a terminal (stdout), a live line per running target redrawn
 * in place (its stdout's last line), a line as each ends, its stderr kept;
 * else each line of a target's output prefixed "[NAME] ". At the end a
 * table (target, status, duration, failed step, run) and the rollout's
 * record, committed on the audit ref (audit.h) unless --no-audit: at the
 * start (result "running": a rollout killed before its end still has one,
 * and its resume reads its targets' runs) and at the end;
 * --report json: the record's JSON alone on stdout, the rest on stderr;
 * --events FILE: emptied, then every target's run appends its events.
 *
 * Exit: 0 every target succeeded; 1 a target failed (the canary
 * included) or ended by a signal the rollout did not send; 3 the
 * runbook's approvals, or going on after the canary, not approved; 5 a
 * target was locked by another run and none failed; 128 + the signal when
 * interrupted; 2 before anything ran (a target's reference unset).
 * The targets' runs have no terminal: stdin is /dev/null.
 *
 * The child's environment carries RUNBOOK_ROLLOUT_FD=3, a pipe on which it
 * says at once when its main flow failed (so that no target is dispatched
 * after a failure, however long its undo and handler take) and, at its
 * end, how it ended (cli_rollout_watch, cli_rollout_report); a socket,
 * on which a confirm=each step also asks ("ask STEP") and waits for the
 * rollout's answer (its terminal, or --yes); and the
 * values of --set as variables it takes with --set-env (no value on a
 * command line).
 */
#ifndef RB_CLI_ROLLOUT_H
#define RB_CLI_ROLLOUT_H

#include "cli/runargs.h"
#include "cli/targets.h"

/** The rollout of rb over t's targets. argv: the command line (its options are passed on). Returns the exit code. */
int cli_rollout_run(const rb_runbook *rb, cli_run_args *a, const cli_targets *t, int argc, char **argv);

/**
 * `run FILE --resume --rollout ID`: a new rollout over the targets of
 * rollout ID that did not succeed, in its order: a failed or interrupted
 * one continues its last run (its own --resume, from its failed step), one
 * not started or locked runs afresh; one that succeeded is not run. The
 * inventory must be as it was (its hash; --force takes it as it is now).
 * Returns the exit code.
 */
int cli_rollout_resume(const rb_runbook *rb, cli_run_args *a, int argc, char **argv);

/**
 * In a target's run (--rollout, RUNBOOK_ROLLOUT_FD set): makes outcome say
 * a failure of the main flow to the rollout as it happens.
 */
void cli_rollout_watch(rb_run_outcome *outcome);

/** In a target's run: says to the rollout how the run ended (exit code, run id, failed step, locked). */
void cli_rollout_report(int exit_code, const char *run_id, const rb_run_outcome *outcome);

#endif
