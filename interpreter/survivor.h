/*
 * survivor.h - what a run left running after it died.
 *
 * A step runs in a process group of its own, which the journal records
 * ("process" events with pgid=N), and a SQL step on a backend, whose pid the
 * journal records too (backend=N). When runbook dies the watchdog stops the
 * step's group (watchdog.h); but a process can leave its group (setsid, a
 * daemon's double fork) and outlive it. Every step's environment holds
 * RUNBOOK_RUN_ID=<run id> and RUNBOOK_STEP=<step id>, and a process keeps
 * its environment across fork, setsid and exec. So a survivor of run R is:
 *
 *   - a process group the journal of R names that still has a member that is
 *     not a zombie, unless the environment of every member could be read and
 *     none holds RUNBOOK_RUN_ID=R or RUNBOOK_STEP=<its step> (the group id
 *     was reused by something else);
 *   - any process, in any group or session, whose environment
 *     (/proc/PID/environ) holds RUNBOOK_RUN_ID=R.
 *
 * What this cannot see: a process that replaced its environment (env -i, an
 * exec with a new one), processes of another user when runbook is not root
 * (their environment is unreadable: a journaled group is then believed, an
 * escaped process is missed), and anything on another host. Without /proc a
 * journaled group counts while kill(-pgid, 0) succeeds.
 *
 * A backend cannot be checked without a database connection: the journal's
 * backend pids are returned as candidates (RB_SURVIVOR_BACKEND) for a caller
 * that has one, to look up in pg_stat_activity with the run's
 * application_name.
 */
#ifndef RB_SURVIVOR_H
#define RB_SURVIVOR_H

#include <stddef.h>

#include <libpq-fe.h>

#include "record.h"

typedef enum {
	RB_SURVIVOR_GROUP,   /* a process group the journal names, still with members */
	RB_SURVIVOR_PROCESS, /* a process outside those groups that carries the run's id */
	RB_SURVIVOR_BACKEND  /* a backend pid the journal names: a candidate, not checked */
} rb_survivor_kind;

typedef struct {
	rb_survivor_kind kind;
	long id;        /* the process group id, the pid, or the backend pid */
	long pgid;      /* PROCESS: its process group; else id or 0 */
	char *step;     /* the step that started it; NULL when unknown */
	char *run;      /* the run it belongs to */
	char *command;  /* GROUP, PROCESS: the name of (a member of) it, when known; else NULL */
} rb_survivor;

typedef struct {
	rb_survivor *items;
	size_t count;
} rb_survivors;

#define RB_SURVIVORS_INIT {NULL, 0}

/**
 * Appends to out what run_id, whose journal is rec, left running: its
 * process groups and escaped processes that are alive now, and, when
 * backends is 1, the backend pids its journal names (for a run that was
 * interrupted; one that ended closed its connections). Never fails: what
 * cannot be looked at is not reported. Strings are copied.
 */
void rb_survivors_find(const rb_record *rec, const char *run_id, int backends, rb_survivors *out);

/** How many of s are processes or groups (alive now), not backend candidates. */
size_t rb_survivors_alive(const rb_survivors *s);

/**
 * One line naming s, without the run: "process group 4242 (sleep, step
 * 'work') still running", "process 4250 (sleep, step 'work', in process
 * group 4250 of its own) still running", "backend pid 77 (step 'load') not
 * checked: it needs the database". Caller frees.
 */
char *rb_survivor_describe(const rb_survivor *s);

/**
 * Checks the backend candidates of s on conn (a connection of the resumed
 * run, to the same server): 0 when none is still active with its run's
 * application_name (rb_db_application_name of slug and its run id), else
 * -1 and *why (one line naming the pid, its state, its step and run, and how
 * to cancel it; caller frees).
 */
int rb_survivors_check_backends(const rb_survivors *s, PGconn *conn, const char *slug, char **why);

void rb_survivors_free(rb_survivors *s);

#endif
