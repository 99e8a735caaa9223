/*
 * watchdog.h - a step never outlives its runbook.
 *
 * Before the first step, runbook forks a small supervisor that holds the
 * read end of a pipe whose only writer is runbook (close-on-exec, so no step
 * inherits it). Runbook tells it which process group the running step is
 * (rb_watchdog_watch). When runbook dies for any reason — kill -9, the OOM
 * killer, a crash — the pipe reaches end-of-file in the supervisor, which
 * then stops that group as a timeout would (SIGTERM, SIGKILL after the
 * grace) and exits. The groups of background steps still running
 * (rb_watchdog_watch_background, run_background.h) are stopped with it, all
 * at once. On a normal end rb_watchdog_stop tells it there is nothing to
 * stop, and reaps it.
 *
 * The supervisor keeps no other descriptor of runbook's (database sockets,
 * the journal, the terminal: its standard streams are /dev/null) and
 * ignores the terminal's signals: a Ctrl-C is runbook's to handle.
 * The environment variable RUNBOOK_WATCHDOG=0 turns it off (benchmarks).
 */
#ifndef RB_WATCHDOG_H
#define RB_WATCHDOG_H

#include <stdint.h>
#include <sys/types.h>

#include "util.h"

typedef struct rb_watchdog rb_watchdog;

/**
 * Starts the supervisor. grace_ms <= 0 means 2000. Returns 0 and *out (NULL
 * when RUNBOOK_WATCHDOG=0), or -1 with err (RB_EXIT_ENV).
 */
int rb_watchdog_start(int64_t grace_ms, rb_watchdog **out, rb_error *err);

/** The running step is process group pgid; 0 when none runs. NULL w is fine. */
void rb_watchdog_watch(rb_watchdog *w, pid_t pgid);

/**
 * A background step's process group: on 1 when it starts (stopped with the
 * running step if runbook dies), 0 once it is gone. NULL w is fine.
 */
void rb_watchdog_watch_background(rb_watchdog *w, pid_t pgid, int on);

/** Ends the supervisor without stopping anything, reaps it and frees w. NULL is fine. */
void rb_watchdog_stop(rb_watchdog *w);

#endif
