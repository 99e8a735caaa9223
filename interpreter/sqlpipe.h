/*
 * sqlpipe.h - one statement of a sql block sent in a libpq pipeline with
 * what runbook adds around the block: before the block's first statement,
 * BEGIN and the server's limits (two SETs); after a block's only statement,
 * COMMIT too; then a sync. A one-statement block costs one round trip
 * instead of four, as many as psql -f takes for the same statement. (After
 * a longer block's last statement COMMIT goes on its own, once the
 * statement answered: a connection lost before that answer leaves the
 * block's transaction rolled back for certain. With COMMIT in the pipeline
 * it may have committed, and the caller says that the outcome is unknown.)
 *
 * A block whose only statement is a query or a data change
 * (rb_sql_plain_dml) needs no BEGIN nor COMMIT: the server runs what a
 * pipeline sends before a sync as one transaction and commits it at the
 * sync, as it runs a statement of psql -f; the limits ride in it. An error
 * of that commit (a deferred constraint) comes before the sync's result:
 * rb_sqlpipe_take(RB_SQLPIPE_SYNC) returns it.
 *
 * The limits ride inside the block's transaction: they last when it
 * commits, and a block that does not commit takes them back with it, so
 * the caller sets them again then (sqlexec.c). Without our transaction
 * (transaction=none, or a block with its own BEGIN) they end with a sync of
 * their own, so that they stay set whatever the statement does.
 *
 * Only what runbook adds rides along: the block's own statements are still
 * sent one at a time, each after the one before has answered. A statement
 * sent ahead would be skipped by the server after an error, but not its
 * parse-time notices, nor in transaction=none its effects; and \gset and
 * \if decide what comes next. So stop-at-first-error, the order of notices
 * and results, error positions and the per-statement callbacks stay as they
 * were.
 *
 * Nothing asks the server to flush before the last sync (a flush request
 * costs the server a send and the client a wake-up each, more than the
 * statements themselves): the results of BEGIN and the limits arrive with
 * the statement's, so the caller waits for them as for the statement's,
 * watching signals and timeouts, before taking them; and COMMIT runs
 * before the statement's results arrive, so a cancel sent while the client
 * waits for them may stop COMMIT too (its result then says so: the block
 * did not commit).
 *
 * A statement in a pipeline goes through the extended query protocol
 * (Parse, Bind, Describe, Execute), which runs one statement exactly as the
 * simple protocol does, with two exceptions that never get here
 * (rb_sqlpipe_fits): a text of several statements (psql's \; or a
 * variable's value) and COPY, which libpq refuses in a pipeline. Those, and
 * a block that starts with a meta-command, take the plain path
 * (PQsendQuery), with the limits and BEGIN sent before them on their own.
 *
 * Results are read in the order the parts were sent. Runbook's own parts
 * are read with rb_sqlpipe_take, blocking as PQexec would; the statement's
 * results are read by the caller (PQisBusy, PQgetResult, single-row mode),
 * who waits for them while watching signals and timeouts. The connection
 * stays in pipeline mode (and blocking mode) until the last part is read.
 * Only one statement is in flight and what follows it is a few bytes, so the
 * blocking sends cannot deadlock with the server's output.
 *
 * Ownership: the pipe holds no memory; the connection is the caller's.
 */
#ifndef RB_SQLPIPE_H
#define RB_SQLPIPE_H

#include <libpq-fe.h>

/** What was sent, in order; results come back in this order. */
typedef enum {
	RB_SQLPIPE_BEGIN,
	RB_SQLPIPE_LIMITS,     /* SET statement_timeout, SET lock_timeout (read as one part) */
	RB_SQLPIPE_STATEMENT,  /* the block's statement: its results are the caller's to read */
	RB_SQLPIPE_COMMIT,
	RB_SQLPIPE_MARK,       /* a Describe of the statement, with the pipeline's own transaction:
				  its answer comes between the statement's results and whatever
				  the commit at the sync says (a deferred trigger's notices), which
				  libpq would otherwise show before the statement's last result */
	RB_SQLPIPE_SYNC,       /* a sync point; the last one ends the pipeline: once it is read, the
				  connection is out of pipeline mode */
	RB_SQLPIPE_DONE
} rb_sqlpipe_part;

#define RB_SQLPIPE_MAX 8 /* the parts, and a sync added when sending failed */

typedef struct {
	PGconn *conn;
	rb_sqlpipe_part parts[RB_SQLPIPE_MAX];
	int n;
	int at;       /* the part whose results come next */
} rb_sqlpipe;

/** What to send: the statement, and what rides with it. */
typedef struct {
	const char *limits[2]; /* the two SETs, or NULL: none */
	int begin;             /* BEGIN first, the limits after it */
	int implicit;          /* no BEGIN nor COMMIT: the limits and the statement in the pipeline's
				  own transaction, which the server commits at the sync */
	const char *sql;       /* one statement, that rb_sqlpipe_fits */
	int commit;
} rb_sqlpipe_send_opts;

/**
 * 1 when a statement can go through a pipeline: one statement, not COPY.
 * written is the statement as split (sqlsplit.h: one statement, unless
 * psql's \; joins several), sent is the text to send (variables
 * interpolated; split again when it differs). 0 otherwise, and when written
 * is NULL (a \copy).
 */
int rb_sqlpipe_fits(const char *written, const char *sent, int std_strings);

/**
 * Enters pipeline mode on conn and sends the parts of o, then a sync.
 * Returns 0, or -1 when libpq could not send them (PQerrorMessage says why);
 * the connection is then out of pipeline mode again when it is still open.
 */
int rb_sqlpipe_send(rb_sqlpipe *p, PGconn *conn, const rb_sqlpipe_send_opts *o);

/**
 * Reads the next part, one of runbook's own (it must be `part`), blocking
 * as PQexec does, and returns what PQexec would: its result (for the
 * limits, the first that is not PGRES_COMMAND_OK, else the last), or NULL
 * when the connection failed before any. PGRES_PIPELINE_ABORTED: skipped
 * after an earlier error. For a sync: NULL, or the error that came before
 * it. The caller PQclears it. Reading the last sync ends the pipeline. On a
 * broken connection the pipe is over (next: DONE).
 */
PGresult *rb_sqlpipe_take(rb_sqlpipe *p, rb_sqlpipe_part part);

/**
 * The statement's results have been read (the caller reads them after
 * taking the parts before it, with PQgetResult until NULL, setting
 * single-row mode first if it wants it, as after PQsendQuery).
 */
void rb_sqlpipe_statement_done(rb_sqlpipe *p);

/**
 * Reads and drops whatever is left, blocking, and leaves pipeline mode: for
 * the paths that stop early. Nothing to do when the pipe is over.
 */
void rb_sqlpipe_finish(rb_sqlpipe *p);

#endif
