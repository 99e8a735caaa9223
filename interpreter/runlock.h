/*
 * runlock.h - one run of a runbook at a time against one database.
 *
 * A runbook that touches a database takes a PostgreSQL advisory lock
 * (session level, pg_try_advisory_lock on hashtextextended('runbook:' ||
 * name)) on its own connection before its first step and keeps it for the
 * whole run, failure handler included. The server releases it when the
 * session ends, so a runbook killed with kill -9 cannot leave it behind.
 * A runbook without a database takes an flock on a lock file instead (one
 * machine): beside the audit journal, or in the temporary directory. A second run finds the lock taken and
 * refuses before its first step, naming the holder — or waits for it.
 */
#ifndef RB_RUNLOCK_H
#define RB_RUNLOCK_H

#include <libpq-fe.h>
#include <stdint.h>

#include "util.h"

typedef struct rb_runlock rb_runlock;

/**
 * Takes the lock called name: on conn (not owned; it must stay open for the
 * run) or, when conn is NULL, on a lock file in dir (NULL: $TMPDIR or /tmp;
 * dir must outlive the lock); `who` is written into the lock file for the
 * next run's message. Waits up to wait_ms (0: tries once),
 * polling, and gives up at once on a signal. Returns 0 and *out; -2 with
 * err (RB_EXIT_ENV) "the run lock '...' is held by ..." when another run
 * holds it; or -1 with err: RB_EXIT_ENV, or 128 + the signal.
 */
int rb_runlock_take(PGconn *conn, const char *name, const char *dir, const char *who, int64_t wait_ms,
		    rb_runlock **out, rb_error *err);

/** Releases the lock (if its connection is still open) and frees l. NULL is fine. */
void rb_runlock_release(rb_runlock *l);

#endif
