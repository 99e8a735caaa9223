/*
 * run_background.h - shell steps that run in the background (Runme's
 * background=true; docs/format.md, "Differences from Runme").
 *
 * The life of a background step, step by step:
 *   1. The engine runs it like any step (header, when=, confirm=); its
 *      executor (step_shell.c) hands it here. Its shell starts in a process
 *      group of its own (as every step's), with stdin /dev/null and its
 *      stdout and stderr on two unlinked temporary files, so that it never
 *      blocks on output while runbook waits on something else. The step
 *      ends at once as ok ("started in the background"): the journal has
 *      its end, so --resume counts it done, and its group (a "process"
 *      event), so survivors of a killed run are found. The watchdog learns
 *      the group (rb_watchdog_watch_background): if runbook dies, it is
 *      stopped with the running step.
 *   2. While the run goes on, rb_run_background_pump takes what the step
 *      wrote (between steps, and every 100 ms while a shell step runs):
 *      redacted, cut into whole lines, each shown as "[bg ID] line" on the
 *      stream it was written to, never in the middle of another step's
 *      line. Output that comes during a SQL or Lua step or a question is
 *      kept in the file and shown after it. The first RECORD_OUTPUT_MAX
 *      bytes of each stream are kept for the record.
 *   3. When its shell exits by itself, what it left in its group is
 *      stopped (SIGTERM, SIGKILL after the grace), as for any step; the
 *      exit is said and noted at once. A non-zero exit is a warning: the
 *      run does not fail for it, after the fact.
 *   4. At the end of the run, whatever its outcome (rb_run_background_stop_all,
 *      after the undo and the failure handler, which may still need it),
 *      every group still running gets SIGTERM, then SIGKILL after the
 *      grace, all at once; a second interrupt sends SIGKILL at once. Each
 *      step's result is recorded: a note, and a second "end" event of the
 *      step with its output, its exit code and background=exited (it ended
 *      by itself) or background=stopped (stopped at the end of the run).
 * Nothing here blocks except step 4.
 */
#ifndef RB_RUN_BACKGROUND_H
#define RB_RUN_BACKGROUND_H

#include "run.h"

/** The background steps of a run (run_background.c); NULL in rb_run when none started. */
typedef struct rb_bg_set rb_bg_set;

/**
 * Starts shell step s in the background (step 1 above). Returns ok, or
 * failed with *rc = RB_EXIT_ENV when it could not be started (no shell, no
 * cwd, no temporary file), said as an error of the step.
 */
rb_status rb_run_background_start(rb_run *r, const rb_step *s, rb_step_result *res, int *rc);

/** Takes and shows what the background steps wrote, and notices those that ended (steps 2 and 3). */
void rb_run_background_pump(rb_run *r);

/** 1 while a background step's process group has members. */
int rb_run_background_running(const rb_run *r);

/** Stops every background step still running, records each one's result, frees the set (step 4). */
void rb_run_background_stop_all(rb_run *r);

#endif
