/*
 * audit.h - every run that executes anything ends in a commit on the audit
 * ref of the audit repository: runs/YYYY/MM/DD/HHMMSSZ-<slug>-<pid>/ with
 * record.md (for people), record.json (for tools) and journal.log (the
 * events, for --resume).
 *
 * The repository is --audit-repo DIR, else the front matter's audit.repo
 * (relative to the runbook), else RUNBOOK_AUDIT_REPO, else the git
 * repository the runbook lives in, else a bare repository created at
 * .runbook-audit/ in the runbook's directory (for what names no runbook,
 * log without FILE and show: the git repository of the current directory,
 * else its .runbook-audit/). The ref is the front matter's
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
 *     Resumes: 20261121T221003Z-deploy-1200     (a resumed run only)
 *
 * `log`, `show` and --resume believe a commit only when that final block
 * holds only these keys, each once (Resumes optional), the run ids have a
 * run id's shape, and
 * the commit added runs/YYYY/MM/DD/<HHMMSSZ-slug-pid>/record.json: so a
 * title cannot add a run, nor make a run claim another runbook. What they
 * print from a record passes through rb_visible (visible.h).
 *
 * Cost at scale: readers walk the ref from its tip, newest first, and stop
 * as soon as their answer is known; each commit passed costs one object
 * read (its message), and only the commits whose trailers match what is
 * looked for are checked against their trees. So the newest runs, `log -n
 * N` and `log | head` cost what they show; a run by id, and the runs that
 * resume or revert it (always newer than it), cost a walk back to its
 * commit; --resume walks back to the chain's first run. A commit builds
 * only the trees on its run's path (the root, runs/, the year, the month,
 * the day), whatever the history holds.
 */
#ifndef RB_AUDIT_H
#define RB_AUDIT_H

#include "record.h"
#include "redact.h"
#include "runbook.h"
#include "undo.h"
#include "survivor.h"
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
	const char *resumes;   /* --resume: the run this one continues (rb_resume_point.run), or NULL */
	const char *chain;     /* --resume: the chain's first run (rb_resume_point.first), or NULL */
	const char *reverts;   /* revert: the run whose undo this one runs (a Reverts: trailer), or NULL */
	const char *target;    /* --target: the inventory target (a Target: trailer), or NULL */
	const char *rollout;   /* the rollout the target's run belongs to (a Rollout: trailer), or NULL: the
				* rollout, not the target's run, pushes its records */
	const char *remote;    /* --audit-remote (auditsync.h), or NULL */
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

/** How a run with this exit code ended, as its record says: "succeeded", "failed", "aborted", ... */
const char *rb_audit_result_word(int exit_code);

/** The commit that holds the record, once rb_audit_finish made it; NULL before. */
const char *rb_audit_commit(const rb_audit *a);

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

/**
 * A new rollout's id (audit.h's run id shape: stamp, the runbook's slug,
 * this process's pid). Caller frees.
 */
char *rb_audit_rollout_id(const rb_runbook *rb);

/**
 * Commits a rollout's own record on rb's audit ref (the repository a run
 * of rb uses; repo: --audit-repo or NULL): rollouts/YYYY/MM/DD/<id>/ with
 * rollout.json and rollout.md, the message's trailers "Rollout: ID",
 * "Runbook: PATH", "Result: WORD" and, for a rollout that resumes another,
 * "Resumes: ID" (no Run: `log` and `show` list runs,
 * not rollouts). A rollout commits one at its start (result "running")
 * and one at its end, which is then pushed to remote (NULL: none) with
 * its targets' records (auditsync.h). Signed as a run's commits are. The caller hides secrets in json and md. Returns 0 and
 * the commit in oid, or -1 with err (RB_EXIT_ENV).
 */
int rb_audit_commit_rollout(const rb_runbook *rb, const char *repo, const char *remote, const char *id,
			    const char *resumes, const char *json, const char *md, const char *result, char oid[41],
			    rb_error *err);

/**
 * The record of rollout id on rb's audit ref (repo: --audit-repo or NULL):
 * its rollout.json, as committed, into *json (caller frees); the newest,
 * which is the record of its start (result "running") when the rollout
 * never ended: the journals of interrupted runs are committed then (as a
 * run's start does), so that its targets' runs are on the ref. The walk of
 * the ref stops at commits older than the rollout's start (its id's
 * stamp). Returns 0, or -1 with err: RB_EXIT_USAGE when there is no such
 * rollout, or a later rollout resumed it already (err names that one),
 * RB_EXIT_ENV when the repository cannot be read.
 */
int rb_audit_rollout_load(const rb_runbook *rb, const char *repo, const char *id, char **json, rb_error *err);

/**
 * The audit repository of rb as `log` reads it (repo_opt: --audit-repo),
 * opened into *g (caller frees), *where its directory (caller frees).
 * Returns 0; 1 when it is a .runbook-audit/ not made yet (*where says
 * where); -1 with err (RB_EXIT_ENV).
 */
struct rb_gitstore;
int rb_audit_store(const rb_runbook *rb, const char *repo_opt, struct rb_gitstore **g, char **where, rb_error *err);

/** rb's audit ref: its front matter's audit.ref, else refs/heads/runbook-audit. */
const char *rb_audit_ref(const rb_runbook *rb);

/** Frees a (without committing). */
void rb_audit_free(rb_audit *a);

/** Where the record of a run of rb would go, for the plan. Caller frees. */
char *rb_audit_describe(const rb_runbook *rb, const char *repo_opt);

/**
 * Commits every interrupted run's journal found in the repository at dir.
 * A recovered record says what its run left running (survivor.h): a note
 * "survivor: process group N (step 'X') still running" for each process
 * group or escaped process alive now, and one for each backend pid its
 * journal names, which recovery cannot check without a connection; these
 * are printed on stderr too. Returns how many were committed, or -1 with err.
 */
int rb_audit_recover(const char *dir, rb_error *err);

/**
 * A run on the audit ref, as its commit says: the trailers (read strictly,
 * see above) and the commit's first line, author and time. Nothing here is
 * made safe to show: pass it through rb_record_one_line or rb_visible.
 */
typedef struct {
	char *commit;      /* 40 hex characters */
	long long time;    /* the commit's time, seconds since the epoch */
	char *id;          /* Run: the run id */
	char *runbook;     /* Runbook: the runbook's absolute path (one line); NULL when absent */
	char *result;      /* Result; NULL when absent */
	char *resumes;     /* Resumes: the run it continues; NULL when none */
	char *reverts;     /* Reverts: the run it undid (runbook revert); NULL when none */
	char *subject;     /* the message's first line */
	char *author;      /* "name <email>" */
	char *target;      /* Target: the inventory target it ran for; NULL when none */
	char *rollout;     /* Rollout: the rollout it belongs to; NULL when none */
} rb_audit_run;

/** Where rb_audit_runs_walk read, and how many runs it handed out. */
typedef struct {
	char *repo;        /* the repository's git directory */
	char *ref;         /* the ref read */
	size_t count;
} rb_audit_runs;

/**
 * The runs recorded on the audit ref (ref, else rb's audit.ref, else the
 * default) of the audit repository (repo_opt, else as for a run of rb; rb
 * NULL: as for a runbook in the current directory), streamed: calls fn
 * with each, newest first, as the walk of the ref reaches it (its strings
 * lent for the call; of rb only when rb is given), until fn returns
 * nonzero; nothing older is read then. A ref that does not exist has no
 * runs, nor has a default .runbook-audit/ that does not exist yet
 * (out->repo then names where it would be). out gets repo, ref and count:
 * how many runs fn was given (no items). Returns 0 (free out with
 * rb_audit_runs_free), or -1 with err (RB_EXIT_ENV: "audit repository
 * DIR: why").
 */
int rb_audit_runs_walk(const char *repo_opt, const rb_runbook *rb, const char *ref, rb_audit_runs *out,
		       int (*fn)(void *ctx, const rb_audit_run *run), void *ctx, rb_error *err);

void rb_audit_runs_free(rb_audit_runs *runs);

typedef struct {
	const char *repo;      /* --audit-repo, or NULL: as for a runbook in the current directory */
	const char *ref;       /* NULL: the default audit ref */
	const char *run;       /* a run id or a prefix of one (its start), its directory's name
			        * (HHMMSSZ-slug-pid, 7 characters or more) or path (runs/YYYY/MM/DD/NAME[/FILE],
			        * as the Audit: line prints it), a commit id (4 hex digits or more);
			        * "latest" or NULL: the newest run; HEAD~N: the Nth run before it
			        * (HEAD, HEAD~ and HEAD^ too), counting the runs on the ref */
	int json;              /* 1: record.json; 0: record.md, and the run's resume chain */
	const char *file;      /* another file of the run's directory ("journal.log"); NULL: as json says */
} rb_audit_load_opts;

/** One run's stored record, as rb_audit_load_run found it. */
typedef struct {
	char *commit;      /* the commit that recorded it */
	char *id;          /* the run id */
	char *runbook;     /* its Runbook trailer ("" when absent) */
	char *path;        /* runs/YYYY/MM/DD/<run>/record.json or record.md */
	char *data;        /* the file, as stored (NUL-terminated; not made safe to show) */
	size_t len;
	char *chain;       /* record.md only: the "## Resume chain" section (rb_record_chain_markdown)
			    * when the run belongs to a chain of runs of its runbook; else NULL */
	char **reverted_by; /* the runs that reverted it (their Reverts trailer names it), newest first */
	size_t nreverted_by;
} rb_audit_loaded;

/**
 * Loads the record of the newest run on the ref that o->run names (see
 * rb_audit_load_opts), and says which later runs reverted it. The ref is
 * read back to the run's commit (and, for the resume chain, to the
 * chain's first run). Returns 0 and fills out (free it with
 * rb_audit_loaded_free), or -1 with err and nothing to free:
 *   RB_EXIT_ENV    the repository cannot be opened; the commit lacks the file;
 *   RB_EXIT_USAGE  no run on the ref is named so ("no run 'X' on REF in
 *                  DIR ..."), or none is recorded ("no runs recorded ...").
 */
int rb_audit_load_run(const rb_audit_load_opts *o, rb_audit_loaded *out, rb_error *err);

void rb_audit_loaded_free(rb_audit_loaded *l);

/** One run of a resume chain. */
typedef struct {
	char *id;          /* the run id */
	char *outcome;     /* "failed at four (exit 1)" (rb_record_outcome) */
	char *hash;        /* the runbook's content hash it recorded; NULL when none */
	int pending;       /* interrupted, its journal not committed yet (a preview reads it in place) */
} rb_chain_run;

/** A step of the main flow before the resume point, and the run it was done in. */
typedef struct {
	char *step;        /* the step id */
	size_t run;        /* the index in the chain of the first run where it succeeded */
	int succeeded;     /* 0: passed, not succeeded (skipped by when=, failed with
			    * continue_on_error, or before the first step of the chain) */
} rb_done_step;

/** Where a restored value comes from. */
typedef struct {
	size_t run;        /* the index in the chain of the run that set it last */
	char *step;        /* the step that captured it; NULL: --set of that run */
} rb_restore_origin;

/** A connection's target as the chain recorded it ("database" events). */
typedef struct {
	char *name;        /* "" for the default connection */
	char *target;      /* "host=H port=P dbname=D user=U", password-free */
	size_t run;        /* the index in the chain of the run that recorded it first */
} rb_chain_target;

/**
 * What --resume needs: the chain of runs it continues and where. A resumed
 * run names the run it continues (`resumes`: its journal's run event, its
 * record, its commit's Resumes trailer); following those links back from
 * the runbook's last run gives the chain, first run first.
 */
typedef struct {
	char *run;           /* the run continued: the chain's last */
	char *first;         /* the chain's first run */
	char *from;          /* the first step to run */
	char **captures;     /* "NAME=value", restored before the run (captures and --set values
			      * along the chain, later runs' winning; secrets are *** as recorded) */
	size_t ncaptures;
	rb_restore_origin *origins;  /* [ncaptures]: where each came from */
	char *hash;          /* the runbook's content hash at the chain's first run */
	char *current_hash;  /* the runbook's content hash now */
	char *includes;      /* the hash of the files it includes (content.h) at the chain's first run; NULL: not recorded */
	char *current_includes; /* the same now */
	rb_chain_run *chain; /* first run first */
	size_t nchain;
	rb_done_step *done;  /* the main-flow steps before from, in document order */
	size_t ndone;
	rb_chain_target *targets;  /* the chain's databases, one per connection name */
	size_t ntargets;
	rb_survivors survivors;    /* processes the chain's runs left running, and backend
				    * candidates of its interrupted runs (survivor.h) */
	rb_error refusal;          /* preview or force: the first thing `run --resume` refuses
				    * without --force (code 0: nothing) */
	char *forced;              /* force: everything it overrides, one line; NULL: nothing */
	rb_undo_stack undo;        /* what the chain completed and did not undo (undo.h) */
	int undo_only;             /* the last run's undo was cut short: continue it, no forward step */
	char *handler_step;        /* a failure handler's step that ran in the last run, or NULL */
} rb_resume_point;

typedef struct {
	const char *repo;      /* --audit-repo, or NULL */
	int force;             /* --force: resume a changed runbook, past survivors, on another database */
	int preview;           /* plan: touch nothing; journals of killed runs are read, not committed */
	const char *db_url;    /* --db of the new run, or NULL */
	int ephemeral_db;      /* --ephemeral-db: the new run gets a new, empty database */
	const char *target;    /* --target: resume that target's last run; NULL: a run for no target */
} rb_resume_opts;

/**
 * Finds where to resume rb: the runbook's last run on the audit ref (first
 * committing journals of killed runs, unless preview), the chain back from
 * it, and the first main-flow step after the last one that succeeded in any
 * run of the chain. Returns 0 and fills rp, or -1 with err and nothing to
 * free, one line saying why and what to do:
 *   RB_EXIT_USAGE  no earlier run; the last run succeeded; every step is
 *                  done; a run of the chain is missing from the ref; the
 *                  runbook changed since the chain's first run, or the files
 *                  it includes did; a failure handler ran in the last run
 *                  (it may have undone what the chain did) (unless force);
 *   RB_EXIT_ENV    a run of this runbook is still going; a process a run of
 *                  the chain started is still running (unless force); the
 *                  database the new run would use is not the chain's, as far
 *                  as the connection strings say (unless force).
 * With preview or force, the refusals that --force lifts do not fail: rp
 * is filled, rp->refusal holds the first of them (for a preview to report
 * with its exit code) and, with force, rp->forced says what each overrides
 * (for the run to warn about and record).
 */
int rb_audit_resume_point(const rb_runbook *rb, const rb_resume_opts *opts, rb_resume_point *rp, rb_error *err);

/**
 * For the engine, once a connection of the resumed run is open (the check
 * rb_audit_resume_point cannot make before the run: a connection string
 * with ${VAR}s, libpq's defaults): 0 when target ("host=H port=P dbname=D
 * user=U", as rb_db_target gives it) agrees with what the chain recorded for
 * that connection (name NULL, "" or "default": the default one), or the
 * chain recorded none; else -1 and *why, one line naming the run and both
 * targets (caller frees): the step must not run (exit 5) unless --force.
 */
int rb_resume_check_target(const rb_resume_point *rp, const char *name, const char *target, char **why);

/**
 * The chain as text, a line each, each line indented by two spaces and
 * ending in a newline: the runs (numbered, first to last, with their
 * outcome), the steps done and the run each was done in, the step that runs
 * first, the values restored and where from, the runbook's content along the
 * chain, and the survivors. For the plan and the start of a resumed run;
 * safe to print (hidden characters made visible). Caller frees.
 */
char *rb_resume_point_describe(const rb_resume_point *rp);

void rb_resume_point_free(rb_resume_point *rp);

#endif
