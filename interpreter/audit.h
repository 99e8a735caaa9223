/*
 * audit.h - every run that executes anything ends in a commit on the audit
 * ref of the audit repository: runs/YYYY/MM/DD/HHMMSSZ-<slug>-<pid>/ with
 * record.md (for people), record.json (for tools) and journal.log (the
 * events, for --resume).
 *
 * The repository is --audit-repo DIR, else the front matter's audit.repo
 * (relative to the runbook), else RUNBOOK_AUDIT_REPO, else the git
 * repository the runbook lives in, else a bare repository created at
 * .runbook-audit/ in the current directory. The ref is the front matter's
 * audit.ref, else refs/heads/runbook-audit. Nothing touches a work tree,
 * an index or HEAD (gitstore.h).
 *
 * While a run goes on, its events are journaled under the repository's git
 * directory (runbook/journal/<run>.log, fsync'd, locked). A journal left by
 * a run that was killed is committed as `interrupted` by the next
 * invocation that opens the same repository, before it does anything else,
 * unless its run is already on the ref (the kill came between the commit
 * and the journal's removal): then the journal is only removed. A journal
 * that was cut short (a full disk, a torn last line) is committed with what
 * it has and a note saying so.
 *
 * The commit message is one summary line (rb_record_summary: one line,
 * bounded, nothing hidden) and a final block of trailers written by runbook
 * from the record, each value one line:
 *
 *     Run: 20261121T224512Z-deploy-1234
 *     Runbook: /abs/path/deploy.md
 *     Result: succeeded
 *
 * `log`, `show` and --resume believe a commit only when that final block
 * holds only these keys, each once, the run id has a run id's shape, and
 * the commit added runs/YYYY/MM/DD/<HHMMSSZ-slug-pid>/record.json: so a
 * title cannot add a run, nor make a run claim another runbook. What they
 * print from a record passes through rb_visible (visible.h).
 */
#ifndef RB_AUDIT_H
#define RB_AUDIT_H

#include "record.h"
#include "redact.h"
#include "runbook.h"
#include "util.h"

typedef struct rb_audit rb_audit;

/** Below this many free bytes on the repository's filesystem a run is refused (1 MiB). */
#define RB_AUDIT_MIN_FREE (1024 * 1024)
/** A lock file on the audit ref older than this (seconds) was left by a process that died. */
#define RB_AUDIT_LOCK_STALE_S 5
/** How long a newer lock on the audit ref is waited for before the run is refused. */
#define RB_AUDIT_LOCK_WAIT_MS 2000

typedef struct {
	const char *repo;      /* --audit-repo, or NULL */
	int argc;              /* the command line, for the record */
	char *const *argv;
	const rb_redactor *redactor;
} rb_audit_opts;

/**
 * Opens the audit repository for rb (creating .runbook-audit/ if it comes to
 * that), checks everything the final commit needs — at least
 * RB_AUDIT_MIN_FREE bytes free on the repository's filesystem (err names
 * the repository and the free space), no lock file left on the audit ref
 * (<ref>.lock older than RB_AUDIT_LOCK_STALE_S: err names it; a newer one is
 * waited for up to RB_AUDIT_LOCK_WAIT_MS), objects and refs writable —
 * commits journals of interrupted runs, starts this run's journal and
 * records its start. Returns 0, or -1 with err (RB_EXIT_ENV): the run must
 * not start.
 */
int rb_audit_begin(const rb_runbook *rb, const rb_audit_opts *opts, rb_audit **out, rb_error *err);

/**
 * The record events go to (owned by the audit). When its journal cannot be
 * written, rb_record_failed() says so and rb_record_error() says why and
 * where the journal is: the run must then stop before its next step.
 */
rb_record *rb_audit_record(rb_audit *a);

/**
 * Records the end (exit code) and commits the run, from the record in
 * memory (complete even when its journal was cut, which it then notes).
 * Prints where the record went. Returns 0, or -1 with err (RB_EXIT_ENV)
 * when the commit failed: the journal is then kept for the next invocation
 * to commit.
 *
 * Test-only: with RUNBOOK_TEST_PAUSE_AFTER_COMMIT=1 in the environment it
 * prints "runbook: paused after commit" to stderr and sleeps 30 s between
 * the commit and the journal's removal, so that a test can kill -9 it
 * there (tests/cli/audit-faults.sh). Not for use outside the test suite.
 */
int rb_audit_finish(rb_audit *a, int exit_code, rb_error *err);

/** Frees a (without committing). */
void rb_audit_free(rb_audit *a);

/** Where the record of a run of rb would go, for the plan. Caller frees. */
char *rb_audit_describe(const rb_runbook *rb, const char *repo_opt);

/**
 * Commits every interrupted run's journal found in the repository at dir.
 * Returns how many were committed, or -1 with err.
 */
int rb_audit_recover(const char *dir, rb_error *err);

/** `runbook log`: past runs, newest first. Returns an RB_EXIT_* code. */
int rb_audit_log(const char *repo_opt, const rb_runbook *rb_or_null, const char *ref);

/** `runbook show RUN`: one record (RUN: run id, a prefix of it, or a commit). */
int rb_audit_show(const char *repo_opt, const char *run, const char *ref, int json);

/** What --resume needs from the last failed or interrupted run of a runbook. */
typedef struct {
	char *run;           /* the run's id */
	char *from;          /* the first step to run */
	char **captures;     /* "NAME=value", restored before the run */
	size_t ncaptures;
	char *hash;          /* the runbook's content hash at that run */
} rb_resume_point;

/**
 * Finds where to resume rb. Returns 0 and fills rp, or -1 with err
 * (RB_EXIT_USAGE): no earlier run, the last run succeeded, or the runbook
 * changed since (unless force).
 */
int rb_audit_resume_point(const rb_runbook *rb, const char *repo_opt, int force, rb_resume_point *rp,
			  rb_error *err);

void rb_resume_point_free(rb_resume_point *rp);

#endif
