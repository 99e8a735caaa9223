/*
 * pgserver.h - a throwaway local PostgreSQL for `run --ephemeral-db` and the
 * test suite.
 *
 * A data directory in a private temporary directory (a copy of the cached
 * template, below, else initdb's), then postgres listening on a Unix socket
 * in that directory only (no TCP), tuned for speed over durability and for
 * a quick start (fsync, full_page_writes, synchronous_commit, wal_init_zero,
 * autovacuum and jit off, 16MB of shared buffers: the data is thrown away).
 * The temporary directory is marked the top of a directory tree (ext4's
 * FS_TOPDIR_FL; a hint other filesystems ignore) and the data directory is
 * made in it under a random name, then renamed "data": so ext4 puts each
 * run's files in a block group of their own, not among the inodes the run
 * before just deleted, which ext4 without a journal steps over one by one.
 * PostgreSQL refuses to run as root, so as root initdb and the server run
 * as the `postgres` system user. The server runs in its own session, so a
 * Ctrl-C at the terminal reaches runbook, not the server; runbook stops it
 * itself (rb_pgserver_stop), after a failure, a timeout or an interrupt as
 * well.
 *
 * The template cache: initdb once, copy afterwards. The templates'
 * directory is $RUNBOOK_PG_CACHE ("off": none), else
 * $XDG_CACHE_HOME/runbook/pg-templates, else ~/.cache/runbook/pg-templates;
 * made 0700 when missing, and not used when another user owns it or others
 * may write it; nor the default when $XDG_CACHE_HOME or $HOME is writable
 * by others (HOME=/tmp) or, as root, another user's (sudo -E). A template per bindir, superuser and initdb
 * arguments (a directory named by their hash) holds two files: data.pack,
 * the files of a data directory as initdb left it one after another (4 KiB
 * aligned, blocks of zeros left holes), and manifest, written last: those
 * arguments, the server binary's size, modification time and inode, its
 * `postgres --version`, data.pack's size, and every directory and file
 * with its mode (and a file's size and place in data.pack). One file, not
 * a tree: the run that makes the template creates a data directory's
 * ~1,000 files once, not twice. It is made in a temporary sibling
 * (.new-XXXXXX, with a runbook.pid) and renamed into place, so racing
 * runbooks both succeed and one template is left; leftovers of killed
 * runbooks are removed by the next start. Before each use it is checked:
 * the manifest this server's and this format's, complete, the binary
 * unchanged (else it is stale), data.pack ours (root's as root), not
 * writable by others and of the listed size, every entry a path inside the
 * data directory, and the copy's PG_VERSION that version's. Its files are
 * made in the run's directory from data.pack (copy_file_range(2) of its
 * data extents, which shares blocks where the filesystem can, else
 * read/write), modes kept, and as root handed to the postgres user. A template that is stale or
 * damaged, or from whose copy the server exits during start-up, is said
 * through opts->say in one line, removed, and made again by this run's
 * initdb. Creating it is said too; a failure to keep it is said and is no
 * error. opts->no_cache: initdb, and the cache is neither made, read nor
 * changed.
 *
 * The server binaries are those of RUNBOOK_PG_BINDIR when it is set, else of
 * `pg_config --bindir`, else the newest /usr/lib/postgresql/N/bin.
 *
 * Child processes (all started by process.h): initdb and postgres run with
 * stdin on /dev/null and stdout/stderr appended to <dir>/server.log; the
 * parent keeps no pipe to them (only to `postgres --version`, run beside
 * initdb when a template is made, for its manifest). One that cannot be
 * started at all (no binary, no switch to the postgres user) fails
 * rb_pgserver_start with that reason rather than with an exit status.
 * initdb is waited for; the postmaster is reaped by rb_pgserver_stop. Their environment is not runbook's: only PATH,
 * LC_ALL=C, LANG=C, TZ=UTC (and LD_LIBRARY_PATH when set), so no secret of
 * runbook's environment is ever in the server's /proc/PID/environ.
 *
 * Orphans: the directory (<tmp>/runbook-pg-XXXXXX) holds runbook.pid, the
 * pid, start time and pid namespace of the runbook that made it, written
 * right after the directory. A runbook killed with SIGKILL cannot stop its
 * server; the next rb_pgserver_start (and rb_pgserver_reap_orphans) stops
 * the server of every such directory whose runbook is gone and removes the
 * directory.
 */
#ifndef RB_PGSERVER_H
#define RB_PGSERVER_H

#include "util.h"

typedef struct rb_pgserver rb_pgserver;

/**
 * Receives what the server module has to say (it prints nothing itself):
 * one message at a time, whole lines each ending in '\n' ("runbook: ..."),
 * NUL-terminated and owned by the caller of fn, valid during the call only.
 * ctx is the say_ctx given with fn.
 */
typedef void (*rb_pgserver_say_fn)(void *ctx, const char *text);

typedef struct {
	int keep;                /* do not delete on stop: say how to connect instead */
	rb_pgserver_say_fn say;  /* progress messages (reaped orphans, ready, kept); NULL: quiet */
	void *say_ctx;           /* passed to say */
	const char *base_dir;    /* where the temporary directory goes; NULL: $TMPDIR or /tmp */
	int no_cache;            /* initdb; the template cache is neither made, read nor changed */
	const int *cancel;       /* when it is set (read atomically), the start gives up between its stages; NULL: never */
} rb_pgserver_opts;

/**
 * Starts a server, after reaping the orphans in the same temporary
 * directory (rb_pgserver_reap_orphans), and says how long it took and
 * whether its data directory is a copy of the template or initdb's; all
 * through opts->say. Returns 0 and a server owned by the caller (stop it
 * with rb_pgserver_stop), or -1 with err set (RB_EXIT_ENV): server
 * binaries missing (naming the package to install), no `postgres` user
 * when root, the template's copy not written (no space), initdb or
 * start-up failing (with the end of the server log).
 */
int rb_pgserver_start(const rb_pgserver_opts *opts, rb_pgserver **out, rb_error *err);

/**
 * A start under way in a thread of its own (rb_pgserver_start_async): the
 * caller goes on (checking the runbook, opening the audit record) while
 * the data directory is made and the server starts.
 */
typedef struct rb_pgserver_job rb_pgserver_job;

/**
 * Starts rb_pgserver_start(opts) in a thread that blocks every signal (the
 * caller's handlers see them). opts->say and opts->cancel are not used:
 * what the start says waits in the job for rb_pgserver_finish. Never NULL:
 * when no thread can be made, rb_pgserver_finish does the start itself.
 * The caller owns the job and gives it to exactly one of rb_pgserver_finish
 * and rb_pgserver_abandon.
 */
rb_pgserver_job *rb_pgserver_start_async(const rb_pgserver_opts *opts);

/**
 * Waits for the start, passing what it says on to say_fn (with say_ctx, in
 * order, as it comes; say_fn also becomes the server's for
 * rb_pgserver_stop), and frees the job. Returns what rb_pgserver_start
 * does: 0 and the server in *out, or -1 with err set.
 */
int rb_pgserver_finish(rb_pgserver_job *job, rb_pgserver_say_fn say_fn, void *say_ctx, rb_pgserver **out,
		       rb_error *err);

/**
 * Gives the start up: it stops at its next stage (an initdb or a copy under
 * way is finished first), whatever it started is stopped and removed (also
 * with opts->keep), what it said is dropped, and the job is freed. NULL is
 * fine.
 */
void rb_pgserver_abandon(rb_pgserver_job *job);

/** The socket directory (PGHOST). Owned by the server. */
const char *rb_pgserver_host(const rb_pgserver *s);
/** The port (names the socket file). */
int rb_pgserver_port(const rb_pgserver *s);
/** The database superuser. Owned by the server. */
const char *rb_pgserver_user(const rb_pgserver *s);
/** The database name ("postgres"). */
const char *rb_pgserver_dbname(const rb_pgserver *s);
/** A libpq URL for it: postgresql://USER@/postgres?host=...&port=... Owned by the server. */
const char *rb_pgserver_url(const rb_pgserver *s);
/** A libpq URL for database dbname of the server (as rb_pgserver_url's). Caller frees. */
char *rb_pgserver_url_of(const rb_pgserver *s, const char *dbname);

/** The data directory. Owned by the server. */
const char *rb_pgserver_datadir(const rb_pgserver *s);

/**
 * Exports PGHOST, PGPORT, PGUSER, PGDATABASE and DATABASE_URL into the
 * process environment (so steps inherit them) and removes PGPASSWORD,
 * PGSERVICE, PGHOSTADDR that could point elsewhere. Returns 0.
 */
int rb_pgserver_export_env(const rb_pgserver *s);

/** Async-signal-safe: sends the postmaster SIGQUIT. rb_pgserver_stop still follows. */
void rb_pgserver_kill_async(const rb_pgserver *s);

/**
 * Stops the server (immediate shutdown: no checkpoint, as the data goes;
 * SIGKILL after 5 s), removes its directory
 * unless keep (then says how to connect through opts->say, and removes
 * runbook.pid so that no later run takes the kept server for an orphan),
 * frees s. NULL is fine.
 */
void rb_pgserver_stop(rb_pgserver *s);

/**
 * Reaps the throwaway servers of runbook processes that were killed: in
 * tmpdir (NULL: $TMPDIR, else /tmp), every directory runbook-pg-* owned by
 * us (or, as root, by the postgres user) whose runbook.pid is ours and names
 * a process of our pid namespace that is gone (or a newer process that got
 * its pid). Its postmaster (postmaster.pid's first line,
 * checked to be that data directory's server) gets SIGQUIT, then SIGKILL
 * after 5 s, and the directory is removed. Says one line per orphan
 * through say (NULL: quiet), with say_ctx. Directories without runbook.pid
 * (being created, kept with --keep-db, made by older versions) are left
 * alone. Returns how many were reaped. Safe to call at the start of every run.
 */
int rb_pgserver_reap_orphans(const char *tmpdir, rb_pgserver_say_fn say, void *say_ctx);

#endif
