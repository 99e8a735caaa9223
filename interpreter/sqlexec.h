/*
 * sqlexec.h - runs the body of a sql step over an open libpq connection.
 *
 * The body is read twice, item by item (sqlsplit.h's reader; included
 * files too, never whole): first a scan that runs nothing and checks every
 * meta-command, the \if nesting, the statements that decide the
 * transaction and every :VAR that can be known before the run (so an
 * undefined one fails the step with nothing executed); then the run, which
 * interpolates each statement just before sending it, since \gset and \if
 * decide variables as the block goes. Statements are sent one at a time,
 * asynchronously, so a timeout, an interrupt or an abort condition cancels
 * the running statement on the server (a libpq cancel request). COPY ...
 * FROM STDIN takes the data lines written after it, streamed in pieces;
 * \copy reads or writes a file on this side; \c opens a connection to
 * another database of the same server for the rest of the block (closed
 * at its end). The meta-commands are described in docs/format.md.
 *
 * Transactions: transaction=single (the default) wraps the block in
 * BEGIN/COMMIT and rolls back on any error; transaction=none runs each
 * statement in autocommit; a block with its own BEGIN/COMMIT runs as
 * written. Whatever happens, the connection is left with no open
 * transaction: an error, a cancel or a block that forgot its COMMIT ends in
 * a ROLLBACK. BEGIN and the server's limits (statement_timeout,
 * lock_timeout) ride in one libpq pipeline with the block's first statement
 * when it can (sqlpipe.h), and COMMIT too when it is the block's only one,
 * so that a one-statement block costs one round trip; the limits hold after
 * the block whether it commits or not.
 *
 * Results of row-returning statements are printed exactly as psql prints
 * them (pgformat.h), aligned unless the block's \x or \pset format says
 * otherwise, up to display_rows rows, then a note of the rows left out.
 * Rows arrive one at a time (single-row mode), so memory stays bounded
 * whatever the result's size; with RB_SQL_ROWS_ALL the result comes whole,
 * as psql takes it, since its widths need every row. At most keep_rows
 * rows of the last result are kept for captures and gates.
 * Everything the block prints goes to opts->out, which the caller gives
 * (step_sql.c passes it through output.h): nothing here writes to stdout.
 */
#ifndef RB_SQLEXEC_H
#define RB_SQLEXEC_H

#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "rows.h"
#include "runbook.h"
#include "shell.h"
#include "util.h"
#include "vars.h"

/** The rows printed of a result when the step does not say (rows=). */
#define RB_SQL_ROWS_DEFAULT 100
/** rows=all: every row printed. */
#define RB_SQL_ROWS_ALL SIZE_MAX

typedef struct {
	PGconn *conn;             /* open; not owned */
	const char *file;         /* runbook path, for positions */
	const char *dir;          /* the runbook's directory: \i and \ir resolve from here */
	const char *body;
	int body_line;            /* runbook line of the body's first line */
	int body_col;             /* column where body lines start (list-item indentation + 1) */
	rb_txn_mode mode;
	int64_t timeout_ms;       /* <= 0: none; also the server's statement_timeout */
	int64_t lock_timeout_ms;  /* the server's lock_timeout for the block; <= 0: wait for locks */
	rb_cancel_poll poll;      /* abort conditions, lock watch; NULL: none */
	void *poll_ctx;
	int64_t poll_every_ms;
	rb_vars *vars;            /* :VAR values; \set writes here */
	size_t display_rows;      /* rows printed of each result; 0: RB_SQL_ROWS_DEFAULT; RB_SQL_ROWS_ALL */
	size_t keep_rows;         /* 0: 1000 */
	FILE *out;                /* required: tables, command tags, \echo, COPY TO STDOUT data */
	FILE *warn;               /* \warn; NULL: out */
	/**
	 * Each statement of the block, twice: as it is sent (ms -1, tag NULL),
	 * then when it is done, with its command tag (NULL when it failed) and
	 * its time. sql is the text as sent; file and line where it is. NULL: none.
	 */
	void (*on_statement)(void *ctx, const char *sql, const char *file, int line, const char *tag, int64_t ms);
	void *statement_ctx;
} rb_sqlexec_opts;

typedef struct {
	int ok;                   /* every statement succeeded */
	rb_end_reason reason;     /* RB_END_EXITED unless stopped from outside */
	char sqlstate[6];         /* of the error, "" when none */
	char *message;            /* primary message, DETAIL and HINT; NULL when ok */
	char *err_file;           /* where the failing statement was written (the runbook, or a \\i file) */
	int err_line;             /* position of the error (statement or character) in err_file */
	int err_col;
	rb_rows rows;             /* the last row-returning statement's rows (nrows <= keep_rows) */
	int have_rows;
	int statements;           /* statements executed */
	int64_t rows_not_shown;   /* rows of the block's results left out of the output (display_rows) */
	int64_t duration_ms;
	int not_started;          /* failed before anything of the block was sent: safe to run again */
} rb_sqlexec_result;

/**
 * Runs the block. Returns 0 when it ran, successfully or not (see res->ok,
 * sqlstate, message), or -1 with err set when it could not be run: a syntax
 * problem found by the splitter, an undefined variable or an unsupported
 * meta-command (RB_EXIT_USAGE, with the runbook position), a lost
 * connection (RB_EXIT_ENV), no opts->out (RB_EXIT_USAGE). res is always
 * initialised: free it with rb_sqlexec_result_free.
 */
int rb_sqlexec_run(const rb_sqlexec_opts *opts, rb_sqlexec_result *res, rb_error *err);

void rb_sqlexec_result_free(rb_sqlexec_result *res);

/** How a gate sees a column of type t: 'n' number, 'b' boolean, 's' text. */
char rb_sql_column_type(Oid t);

/**
 * Every row of a complete result r into rows (freed first): names, types
 * (rb_sql_column_type), cells, nrows = row_count = the result's rows. For
 * Lua's sql() (luahost.c), which keeps the whole result.
 */
void rb_sql_rows_from(rb_rows *rows, const PGresult *r);

/** rb_rows_free under its former name, for run_session.c. */
static inline void rb_sql_rows_free(rb_rows *rows)
{
	rb_rows_free(rows);
}

/**
 * 1 when an error (sqlstate, message) satisfies expect_error: a 5-character
 * SQLSTATE equal to it, a 2-character class that prefixes it, or text the
 * message contains.
 */
int rb_sql_error_matches(const char *expect, const char *sqlstate, const char *message);

#endif
