/*
 * sqlexec.h - runs the body of a sql step over an open libpq connection.
 *
 * The body is split into statements and psql meta-commands (sqlsplit.h);
 * every :VAR is interpolated before anything is sent, so an undefined
 * variable fails the step with nothing executed. Statements are sent one at
 * a time, asynchronously, so a timeout, an interrupt or an abort condition
 * cancels the running statement on the server (a libpq cancel request).
 *
 * Transactions: transaction=single (the default) wraps the block in
 * BEGIN/COMMIT and rolls back on any error; transaction=none runs each
 * statement in autocommit; a block with its own BEGIN/COMMIT runs as
 * written. Whatever happens, the connection is left with no open
 * transaction: an error, a cancel or a block that forgot its COMMIT ends in
 * a ROLLBACK.
 *
 * Results of row-returning statements are printed as aligned tables like
 * psql's (up to display_rows rows, then a note), rows arriving one at a time
 * (single-row mode) so memory stays bounded whatever the result's size;
 * at most keep_rows rows of the last result are kept for captures and gates.
 */
#ifndef RB_SQLEXEC_H
#define RB_SQLEXEC_H

#include <stdint.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "runbook.h"
#include "shell.h"
#include "util.h"
#include "vars.h"

/** Rows of one result. Cells are NULL for SQL NULL. Owned by the result. */
typedef struct {
	int ncols;
	char **names;        /* ncols column names */
	char *types;         /* ncols: 'n' number, 'b' boolean, 's' anything else */
	char **cells;        /* nrows * ncols, row-major */
	size_t nrows;        /* rows kept (<= keep_rows) */
	int64_t row_count;   /* rows returned, or affected for INSERT/UPDATE/DELETE */
} rb_sql_rows;

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
	size_t display_rows;      /* 0: 100 */
	size_t keep_rows;         /* 0: 1000 */
	FILE *out;                /* tables, command tags, \echo; NULL: stdout */
} rb_sqlexec_opts;

typedef struct {
	int ok;                   /* every statement succeeded */
	rb_end_reason reason;     /* RB_END_EXITED unless stopped from outside */
	char sqlstate[6];         /* of the error, "" when none */
	char *message;            /* primary message, DETAIL and HINT; NULL when ok */
	char *err_file;           /* where the failing statement was written (the runbook, or a \\i file) */
	int err_line;             /* position of the error (statement or character) in err_file */
	int err_col;
	rb_sql_rows rows;         /* the last row-returning statement's rows */
	int have_rows;
	int statements;           /* statements executed */
	int64_t duration_ms;
	int not_started;          /* failed before anything of the block was sent: safe to run again */
} rb_sqlexec_result;

/**
 * Runs the block. Returns 0 when it ran, successfully or not (see res->ok,
 * sqlstate, message), or -1 with err set when it could not be run: a syntax
 * problem found by the splitter, an undefined variable or an unsupported
 * meta-command (RB_EXIT_USAGE, with the runbook position), a lost
 * connection (RB_EXIT_ENV). res is always initialised: free it with
 * rb_sqlexec_result_free.
 */
int rb_sqlexec_run(const rb_sqlexec_opts *opts, rb_sqlexec_result *res, rb_error *err);

void rb_sqlexec_result_free(rb_sqlexec_result *res);

/** 1 when the psql meta-command (name without the backslash) runs in sql steps. */
int rb_sql_meta_supported(const char *cmd);

/** The message for any other, with %s for its name. */
#define RB_SQL_META_UNSUPPORTED \
	"unsupported psql meta-command \\%s (supported: \\echo, \\set, \\i, \\ir, \\timing)"

/** How a gate sees a column of type t: 'n' number, 'b' boolean, 's' text. */
char rb_sql_column_type(Oid t);

/** Frees what rows owns. */
void rb_sql_rows_free(rb_sql_rows *rows);

/**
 * 1 when an error (sqlstate, message) satisfies expect_error: a 5-character
 * SQLSTATE equal to it, a 2-character class that prefixes it, or text the
 * message contains.
 */
int rb_sql_error_matches(const char *expect, const char *sqlstate, const char *message);

#endif
