/*
 * sqlexec.c - a sql step over libpq: prepare (split, include, interpolate),
 * then execute statement by statement with cancellation.
 */
#define _GNU_SOURCE
#include "sqlexec.h"
#include "db.h"
#include "pgformat.h"
#include "signals.h"
#include "sqlsplit.h"
#include "srcmap.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INCLUDE_DEPTH 16

/* One prepared unit: a statement ready to send, an \echo to print, or a setting. */
typedef struct {
	int is_echo;
	int timing;        /* -1: leave, 0/1: \timing off/on */
	int expanded;      /* -1: leave, else an EXPANDED_* (\x, \pset expanded) */
	int format;        /* -1: leave, FORMAT_SHOW, else an rb_pgfmt_format (\pset format) */
	char *text;        /* interpolated statement, or the echo text */
	char *file;        /* where it was written */
	int line;
	int col;
	int txn_control;
	int no_txn_block;
} prepared;

typedef struct {
	prepared *items;
	size_t n;
	size_t cap;
} prepared_list;

/* psql's \x values; auto is off here, the output never being a terminal psql would fit. */
enum { EXPANDED_OFF = 0, EXPANDED_ON = 1, EXPANDED_AUTO = 2, EXPANDED_TOGGLE = 3 };
#define FORMAT_SHOW 3

typedef struct {
	const rb_sqlexec_opts *o;
	rb_vars *vars;
	prepared_list list;
	FILE *out;
	int in_txn;   /* the block runs inside the transaction we opened */
	int expanded; /* EXPANDED_OFF, _ON or _AUTO: the block's \x so far */
	rb_pgfmt_opts fmt; /* how results print now */
} exec_ctx;

static const char *lookup(void *ctx, const char *name)
{
	return rb_vars_get((const rb_vars *)ctx, name);
}

static prepared *add(prepared_list *l)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 16;
		l->items = rb_xrealloc(l->items, l->cap * sizeof *l->items);
	}
	prepared *p = &l->items[l->n++];
	memset(p, 0, sizeof *p);
	p->timing = p->expanded = p->format = -1;
	return p;
}

static void list_free(prepared_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->items[i].text);
		free(l->items[i].file);
	}
	free(l->items);
}

static int prepare_text(exec_ctx *c, const char *file, const char *body, int line, int col,
			int depth, int std_strings, rb_error *err);

/* \i FILE and \ir FILE: the file's statements, prepared in place. */
static int include(exec_ctx *c, const rb_sql_item *it, const char *file, int depth,
		   int std_strings, rb_error *err)
{
	int rc = -1;
	char *name = rb_trim_dup(it->args);
	char *path = NULL, *text = NULL;
	size_t len = 0;
	rb_error ferr = RB_ERROR_INIT;
	if (!*name) {
		rb_error_set(err, RB_EXIT_USAGE, file, it->line, it->col, "\\%s needs a file name",
			     it->command);
		goto done;
	}
	if (depth >= MAX_INCLUDE_DEPTH) {
		rb_error_set(err, RB_EXIT_USAGE, file, it->line, it->col,
			     "\\%s %s: files include each other more than %d deep", it->command, name,
			     MAX_INCLUDE_DEPTH);
		goto done;
	}
	path = rb_sql_include_path(it, file, c->o->dir);
	if (rb_read_file(path, &text, &len, &ferr) < 0) {
		rb_error_set(err, RB_EXIT_USAGE, file, it->line, it->col, "\\%s %s: %s", it->command,
			     name, ferr.message);
		goto done;
	}
	rc = prepare_text(c, path, text, 1, 1, depth + 1, std_strings, err);
done:
	rb_error_clear(&ferr);
	free(name);
	free(path);
	free(text);
	return rc;
}

/* A unit at file:line:col into the list. */
static prepared *add_at(exec_ctx *c, const char *file, int line, int col)
{
	prepared *p = add(&c->list);
	p->file = rb_xstrdup(file);
	p->line = line;
	p->col = col;
	return p;
}

/* \set NAME VALUE: the variable is set now, for the statements after it. */
static int set_var(exec_ctx *c, const rb_sql_item *it, const char *file, int col, rb_error *err)
{
	int rc = -1;
	char *args = rb_trim_dup(it->args);
	char *sp = args + strcspn(args, " \t");
	char *value = *sp ? sp + 1 : sp;
	*sp = '\0';
	while (*value == ' ' || *value == '\t')
		value++;
	if (!rb_var_name_valid(args)) {
		rb_error_set(err, RB_EXIT_USAGE, file, it->line, col, "\\set needs a variable name and a value");
		goto done;
	}
	/* Quoted values lose their quotes, as in psql. */
	size_t vl = strlen(value);
	char *v = vl >= 2 && value[0] == '\'' && value[vl - 1] == '\'' ? rb_xstrndup(value + 1, vl - 2)
									 : rb_xstrdup(value);
	rb_vars_set(c->vars, args, v, RB_VAR_CAPTURE);
	free(v);
	rc = 0;
done:
	free(args);
	return rc;
}

/* psql's value of \x or \pset expanded: an EXPANDED_*, or -1 when it is none. */
static int expanded_value(const char *v)
{
	static const char *const on[] = {"on", "true", "yes", "1", NULL}, *const off[] = {"off", "false", "no", "0", NULL};
	int x = !*v ? EXPANDED_TOGGLE : !strcmp(v, "auto") ? EXPANDED_AUTO : -1;
	for (int i = 0; x < 0 && on[i]; i++)
		x = !strcmp(v, on[i]) ? EXPANDED_ON : !strcmp(v, off[i]) ? EXPANDED_OFF : -1;
	return x;
}

/*
 * \x [on|off|auto], \pset expanded [on|off|auto], \pset format
 * [aligned|unaligned|csv]: kept as a unit that changes how the results
 * after it print. Any other \pset, or value, is an error now.
 */
static int display_setting(exec_ctx *c, const rb_sql_item *it, const char *file, int col, rb_error *err)
{
	int rc = -1, x = -1, f = -1;
	char *args = rb_trim_dup(it->args);
	const char *name = it->cmd == RB_SQL_CMD_EXPANDED ? "expanded" : args;
	char *value = it->cmd == RB_SQL_CMD_EXPANDED ? args : args + strcspn(args, " \t");
	if (it->cmd == RB_SQL_CMD_PSET && *value) {
		*value++ = '\0';
		value += strspn(value, " \t");
	}
	size_t vl = strlen(value);
	if (vl >= 2 && value[0] == '\'' && value[vl - 1] == '\'') {
		value[vl - 1] = '\0';
		value++;
	}
	if (!strcmp(name, "expanded") || !strcmp(name, "x")) {
		if ((x = expanded_value(value)) < 0) {
			rb_error_set(err, RB_EXIT_USAGE, file, it->line, col,
				     "\\%s: unrecognized value \"%s\" for \"expanded\" (on, off or auto)", it->command, value);
			goto done;
		}
	} else if (!strcmp(name, "format")) {
		for (int k = RB_PGFMT_ALIGNED; k <= RB_PGFMT_CSV && f < 0; k++)
			if (!strcmp(value, rb_pgfmt_format_name((rb_pgfmt_format)k)))
				f = k;
		if (!*value)
			f = FORMAT_SHOW;
		if (f < 0) {
			rb_error_set(err, RB_EXIT_USAGE, file, it->line, col,
				     "\\pset format %s: a sql step prints aligned, unaligned or csv", value);
			goto done;
		}
	} else {
		rb_error_set(err, RB_EXIT_USAGE, file, it->line, col,
			     "\\pset %s: a sql step supports \\pset format and \\pset expanded only", name);
		goto done;
	}
	prepared *p = add_at(c, file, it->line, col);
	p->expanded = x;
	p->format = f;
	rc = 0;
done:
	free(args);
	return rc;
}

/* A meta-command: run now (\set, \i) or kept as a unit to run in order (\echo, \timing, \x, \pset). */
static int prepare_meta(exec_ctx *c, const rb_sql_item *it, const char *file, int col, int depth,
			int std_strings, rb_error *err)
{
	int rc = 0;
	char *text = NULL, *arg = NULL;
	switch (it->cmd) {
	case RB_SQL_CMD_ECHO:
		arg = rb_trim_dup(it->args);
		rc = rb_sql_interpolate(arg, file, it->line, col, std_strings, lookup, c->vars, &text, err);
		if (rc == 0) {
			prepared *p = add_at(c, file, it->line, col);
			p->is_echo = 1;
			p->text = text;
		}
		break;
	case RB_SQL_CMD_SET:
		rc = set_var(c, it, file, col, err);
		break;
	case RB_SQL_CMD_INCLUDE:
	case RB_SQL_CMD_INCLUDE_RELATIVE:
		rc = include(c, it, file, depth, std_strings, err);
		break;
	case RB_SQL_CMD_TIMING:
		arg = rb_trim_dup(it->args);
		add_at(c, file, it->line, col)->timing = !*arg || !strcmp(arg, "on") ? 1 : 0;
		break;
	case RB_SQL_CMD_EXPANDED:
	case RB_SQL_CMD_PSET:
		rc = display_setting(c, it, file, col, err);
		break;
	case RB_SQL_CMD_UNSUPPORTED:
		text = rb_sql_cmd_unsupported(it->command);
		rc = rb_error_set(err, RB_EXIT_USAGE, file, it->line, col, "%s", text);
		free(text);
		break;
	}
	free(arg);
	return rc;
}

static int prepare_text(exec_ctx *c, const char *file, const char *body, int line, int col,
			int depth, int std_strings, rb_error *err)
{
	int rc = -1;
	rb_sql_item *items = NULL;
	size_t n = 0;
	if (rb_sql_split(body, file, line, std_strings, &items, &n, err) < 0)
		goto done;
	for (size_t i = 0; i < n; i++) {
		const rb_sql_item *it = &items[i];
		int icol = it->col + col - 1;
		if (it->kind == RB_SQL_META) {
			if (prepare_meta(c, it, file, icol, depth, std_strings, err) < 0)
				goto done;
			continue;
		}
		char *sent = NULL;
		if (rb_sql_interpolate(it->text, file, it->line, icol, std_strings, lookup, c->vars, &sent,
				       err) < 0)
			goto done;
		prepared *p = add_at(c, file, it->line, icol);
		p->text = sent;
		p->txn_control = it->is_txn_control;
		p->no_txn_block = it->no_txn_block;
	}
	rc = 0;
done:
	rb_sql_items_free(items, n);
	return rc;
}

void rb_sqlexec_result_free(rb_sqlexec_result *res)
{
	free(res->message);
	free(res->err_file);
	res->message = NULL;
	res->err_file = NULL;
	rb_rows_free(&res->rows);
}

int rb_sql_error_matches(const char *expect, const char *sqlstate, const char *message)
{
	size_t n = strlen(expect);
	int code_like = (n == 5 || n == 2);
	for (size_t i = 0; code_like && i < n; i++)
		if (!((expect[i] >= '0' && expect[i] <= '9') || (expect[i] >= 'A' && expect[i] <= 'Z')))
			code_like = 0;
	if (code_like && sqlstate && *sqlstate)
		return !strncmp(sqlstate, expect, n);
	return message && strstr(message, expect) != NULL;
}

/*
 * The runbook position of the server's error position `pos` (1-based, in
 * characters) in a statement: its column counts characters too, and the
 * statement's later lines start at column 1.
 */
static void char_position(const prepared *p, long pos, int *line, int *col)
{
	rb_srcmap m;
	rb_srcmap_init(&m, p->text, strlen(p->text), p->line, p->col);
	rb_srcmap_locate_chars(&m, rb_srcmap_char_offset(&m, pos), line, col);
	rb_srcmap_free(&m);
}

static void record_error(rb_sqlexec_result *res, const PGresult *r, PGconn *conn, const prepared *p)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *hint = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_HINT) : NULL;
	const char *position = r ? PQresultErrorField(r, PG_DIAG_STATEMENT_POSITION) : NULL;
	rb_buf b = RB_BUF_INIT;
	if (primary) {
		rb_buf_puts(&b, primary);
	} else {
		char *m = rb_pq_error(conn);
		rb_buf_puts(&b, m);
		free(m);
	}
	if (detail)
		rb_buf_printf(&b, "\nDETAIL:  %s", detail);
	if (hint)
		rb_buf_printf(&b, "\nHINT:  %s", hint);
	free(res->message);
	res->message = rb_buf_detach(&b);
	snprintf(res->sqlstate, sizeof res->sqlstate, "%s", state ? state : "");
	free(res->err_file);
	res->err_file = rb_xstrdup(p->file);
	res->err_line = p->line;
	res->err_col = p->col;
	if (position)
		char_position(p, atol(position), &res->err_line, &res->err_col);
	res->ok = 0;
}

typedef struct {
	int64_t deadline;
	int64_t next_poll;
	int cancel_sent;
} watch;

/* Sends a cancel request once the statement must stop. */
static void maybe_cancel(exec_ctx *c, PGconn *conn, watch *w, rb_sqlexec_result *res)
{
	if (w->cancel_sent)
		return;
	int64_t now = rb_now_ms();
	rb_end_reason why = RB_END_EXITED;
	if (rb_signals_interrupted())
		why = RB_END_INTERRUPTED;
	else if (now >= w->deadline)
		why = RB_END_TIMEOUT;
	else if (c->o->poll && now >= w->next_poll) {
		w->next_poll = now + c->o->poll_every_ms;
		if (c->o->poll(c->o->poll_ctx))
			why = RB_END_CANCELLED;
	}
	if (why == RB_END_EXITED)
		return;
	res->reason = why;
	PGcancel *cancel = PQgetCancel(conn);
	char errbuf[256];
	if (cancel) {
		PQcancel(cancel, errbuf, sizeof errbuf);
		PQfreeCancel(cancel);
	}
	w->cancel_sent = 1;
}

char rb_sql_column_type(Oid t)
{
	switch (t) {
	case 16: return 'b';                       /* bool */
	case 20: case 21: case 23: case 26:        /* int8, int2, int4, oid */
	case 700: case 701: case 1700:             /* float4, float8, numeric */
		return 'n';
	default: return 's';
	}
}

static void take_header(rb_rows *rows, const PGresult *r)
{
	rb_rows_free(rows);
	rows->ncols = PQnfields(r);
	rows->names = rb_xcalloc((size_t)rows->ncols + 1, sizeof *rows->names);
	rows->types = rb_xcalloc((size_t)rows->ncols + 1, 1);
	for (int k = 0; k < rows->ncols; k++) {
		rows->names[k] = rb_xstrdup(PQfname(r, k));
		rows->types[k] = rb_sql_column_type(PQftype(r, k));
	}
}

/* Takes one row of a result into rows (kept up to keep), counting all. */
static void take_row(rb_rows *rows, const PGresult *r, int row, size_t keep)
{
	if (rows->row_count++ >= (int64_t)keep)
		return;
	rows->cells = rb_xrealloc(rows->cells, (rows->nrows + 1) * (size_t)rows->ncols * sizeof *rows->cells);
	for (int c = 0; c < rows->ncols; c++)
		rows->cells[rows->nrows * (size_t)rows->ncols + (size_t)c] =
			PQgetisnull(r, row, c) ? NULL : rb_xstrdup(PQgetvalue(r, row, c));
	rows->nrows++;
}

void rb_sql_rows_from(rb_rows *rows, const PGresult *r)
{
	take_header(rows, r);
	rows->nrows = (size_t)PQntuples(r);
	rows->row_count = (int64_t)rows->nrows;
	rows->cells = rb_xcalloc(rows->nrows * (size_t)rows->ncols + 1, sizeof *rows->cells);
	for (size_t i = 0; i < rows->nrows; i++)
		for (int c = 0; c < rows->ncols; c++)
			rows->cells[i * (size_t)rows->ncols + (size_t)c] =
				PQgetisnull(r, (int)i, c) ? NULL : rb_xstrdup(PQgetvalue(r, (int)i, c));
}

/* What a statement's results leave while they arrive. */
typedef struct {
	rb_rows rows;      /* the result being received, row by row */
	char *aligns;      /* its columns' alignment in print (rb_pgfmt_align) */
	int in_rows;       /* its header has come */
	size_t keep;       /* rows kept for captures and gates */
	size_t display;    /* rows printed; RB_SQL_ROWS_ALL: the result comes whole */
	int failed;        /* the server reported an error (recorded in res) */
} receiving;

/* A new result's columns: names and types into rv->rows, alignments into rv->aligns. */
static void start_rows(receiving *rv, const PGresult *r)
{
	take_header(&rv->rows, r);
	free(rv->aligns);
	rv->aligns = rb_xcalloc((size_t)rv->rows.ncols + 1, 1);
	for (int k = 0; k < rv->rows.ncols; k++)
		rv->aligns[k] = rb_pgfmt_align(PQftype(r, k));
}

static const char *result_cell(const void *src, size_t row, int col)
{
	const PGresult *r = src;
	return PQgetisnull(r, (int)row, col) ? NULL : PQgetvalue(r, (int)row, col);
}

static const char *rows_cell(const void *src, size_t row, int col)
{
	const rb_rows *rows = src;
	return rows->cells[row * (size_t)rows->ncols + (size_t)col];
}

/*
 * Prints a finished result as psql would: from end itself when whole
 * (rows=all, or a result without rows), else from the rows kept while it
 * arrived; up to rv->display rows. Adds the rows left out to
 * res->rows_not_shown.
 */
static void print_result(exec_ctx *c, const receiving *rv, const PGresult *end, int whole,
			 rb_sqlexec_result *res)
{
	rb_pgfmt_table t;
	memset(&t, 0, sizeof t);
	t.ncols = rv->rows.ncols;
	t.names = (const char *const *)rv->rows.names;
	t.aligns = rv->aligns;
	t.total = rv->rows.row_count;
	t.nrows = whole ? (size_t)PQntuples(end) : rv->rows.nrows;
	if (t.nrows > rv->display)
		t.nrows = rv->display;
	t.cell = whole ? result_cell : rows_cell;
	t.src = whole ? (const void *)end : (const void *)&rv->rows;
	rb_pgfmt_print(c->out, &c->fmt, &t);
	res->rows_not_shown += t.total - (int64_t)t.nrows;
	/* INSERT, UPDATE, DELETE and MERGE ... RETURNING: psql prints the command tag too. */
	const char *tag = PQcmdStatus((PGresult *)end);
	if (tag && (!strncmp(tag, "INSERT", 6) || !strncmp(tag, "UPDATE", 6) || !strncmp(tag, "DELETE", 6) ||
		    !strncmp(tag, "MERGE", 5)))
		fprintf(c->out, "%s\n", tag);
}

/* Sets err: the connection is gone, and what that means for the statement. Returns -1. */
static int lost_connection(const exec_ctx *c, PGconn *conn, const prepared *p, rb_error *err)
{
	char *m = rb_pq_error(conn);
	rb_error_set(err, RB_EXIT_ENV, p->file, p->line, p->col, "lost the connection to the server: %s; %s", m,
		     c->in_txn ? "the server rolled the block's transaction back"
			       : "this statement's outcome is unknown: check before retrying");
	free(m);
	return -1;
}

/*
 * Waits until the next result can be read without blocking, sending a
 * cancel request once the statement must stop. 0, or -1 with err set when
 * the connection is lost.
 */
static int wait_result(exec_ctx *c, PGconn *conn, const prepared *p, watch *w, rb_sqlexec_result *res,
		       rb_error *err)
{
	int rc = 0;
	int sock = PQsocket(conn);
	while (rc == 0 && PQisBusy(conn)) {
		maybe_cancel(c, conn, w, res);
		struct pollfd pf[2] = {{sock, POLLIN, 0}, {rb_signals_fd(), POLLIN, 0}};
		int64_t now = rb_now_ms();
		int64_t wake = w->deadline < w->next_poll ? w->deadline : w->next_poll;
		int timeout = w->cancel_sent || wake == INT64_MAX ? 1000
			      : (int)(wake - now < 0 ? 0 : (wake - now > 1000 ? 1000 : wake - now));
		int nf = rb_signals_fd() >= 0 ? 2 : 1;
		if (poll(pf, (nfds_t)nf, timeout) < 0 && errno != EINTR)
			break;
		if (nf == 2 && (pf[1].revents & POLLIN))
			rb_signals_drain();
		if (!PQconsumeInput(conn))
			rc = lost_connection(c, conn, p, err);
	}
	return rc;
}

/* COPY ... TO STDOUT: the data goes to the output, as with psql. */
static void copy_out(exec_ctx *c, PGconn *conn)
{
	char *buf = NULL;
	int n;
	while ((n = PQgetCopyData(conn, &buf, 0)) > 0) {
		fwrite(buf, 1, (size_t)n, c->out);
		PQfreemem(buf);
		buf = NULL;
	}
}

/* One result of the statement: rows taken and printed, a command tag, or an error recorded. */
static void take_result(exec_ctx *c, PGconn *conn, const prepared *p, PGresult *r, receiving *rv,
			rb_sqlexec_result *res)
{
	switch (PQresultStatus(r)) {
	case PGRES_SINGLE_TUPLE:
		if (!rv->in_rows) {
			start_rows(rv, r);
			rv->in_rows = 1;
		}
		take_row(&rv->rows, r, 0, rv->keep);
		break;
	case PGRES_TUPLES_OK:
		/* The whole result at once (rows=all, or no row in single-row mode), or its end. */
		if (!rv->in_rows)
			start_rows(rv, r);
		for (int i = 0; i < PQntuples(r); i++)
			take_row(&rv->rows, r, i, rv->keep);
		print_result(c, rv, r, !rv->in_rows, res);
		rb_rows_move(&res->rows, &rv->rows);
		res->have_rows = 1;
		rv->in_rows = 0;
		break;
	case PGRES_COMMAND_OK: {
		const char *tag = PQcmdStatus(r);
		const char *affected = PQcmdTuples(r);
		if (tag && *tag)
			fprintf(c->out, "%s\n", tag);
		if (affected && *affected) {
			rb_rows_free(&res->rows);
			res->rows.row_count = atoll(affected);
			res->have_rows = 1;
		}
		break;
	}
	case PGRES_EMPTY_QUERY:
		break;
	case PGRES_COPY_OUT:
		copy_out(c, conn);
		break;
	case PGRES_COPY_IN:
	case PGRES_COPY_BOTH:
		/* There is no standard input for a step: end the copy with an error. */
		PQputCopyEnd(conn, "COPY FROM STDIN has no input in a sql step: use \\copy with psql "
				   "in a bash step, or COPY from a server file");
		break;
	default:
		if (!rv->failed)
			record_error(res, r, conn, p);
		rv->failed = 1;
		break;
	}
}

/*
 * Sends one statement and consumes its results. Returns 0 when it
 * succeeded, 1 when the server reported an error (recorded in res), -1 when
 * the connection failed (err set).
 */
static int exec_one(exec_ctx *c, PGconn *conn, const prepared *p, watch *w, rb_sqlexec_result *res,
		    rb_error *err)
{
	int rc = -1;
	receiving rv;
	memset(&rv, 0, sizeof rv);
	rv.keep = c->o->keep_rows ? c->o->keep_rows : 1000;
	rv.display = c->o->display_rows ? c->o->display_rows : RB_SQL_ROWS_DEFAULT;
	if (rv.keep < rv.display && rv.display != RB_SQL_ROWS_ALL)
		rv.keep = rv.display;

	if (!PQsendQuery(conn, p->text)) {
		char *m = rb_pq_error(conn);
		rb_error_set(err, RB_EXIT_ENV, p->file, p->line, p->col, "cannot send the statement: %s", m);
		free(m);
		goto done;
	}
	/* Rows one at a time, so memory stays bounded; rows=all prints them all, so the result comes whole, as psql takes it. */
	if (rv.display != RB_SQL_ROWS_ALL)
		PQsetSingleRowMode(conn);
	for (;;) {
		if (wait_result(c, conn, p, w, res, err) < 0)
			goto done;
		PGresult *r = PQgetResult(conn);
		if (!r)
			break;
		take_result(c, conn, p, r, &rv, res);
		PQclear(r);
		fflush(c->out);
	}
	rc = rv.failed;
	if (rc == 0 && PQstatus(conn) != CONNECTION_OK)
		rc = lost_connection(c, conn, p, err);
done:
	rb_rows_free(&rv.rows);
	free(rv.aligns);
	return rc;
}

/* Runs a control statement we add ourselves (BEGIN, COMMIT, ROLLBACK). */
static int control(PGconn *conn, const char *sql, rb_sqlexec_result *res, const char *file, int line,
		   int col)
{
	PGresult *r = PQexec(conn, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok && res) {
		prepared p = {0, -1, -1, -1, (char *)sql, (char *)file, line, col, 1, 0};
		record_error(res, r, conn, &p);
	}
	PQclear(r);
	return ok ? 0 : -1;
}

/* Whether the block has its own transaction control; a statement that cannot
 * run inside a transaction block refuses transaction=single. 0, or -1 (err). */
static int check_block(const exec_ctx *c, int *own_txn, rb_error *err)
{
	int rc = 0;
	const prepared *outside = NULL;
	*own_txn = 0;
	for (size_t i = 0; i < c->list.n; i++) {
		*own_txn |= c->list.items[i].txn_control;
		if (c->list.items[i].no_txn_block && !outside)
			outside = &c->list.items[i];
	}
	if (c->o->mode == RB_TXN_SINGLE && !*own_txn && outside)
		rc = rb_error_set(err, RB_EXIT_USAGE, outside->file, outside->line, outside->col,
				  "this statement cannot run inside a transaction block: add transaction=none "
				  "to the step's attributes");
	return rc;
}

/*
 * Closes a transaction an earlier step left open and gives the server the
 * step's limits, so that a lost client cannot leave work running and no
 * statement queues forever behind another's lock. 0, or -1 with err set
 * (and res->not_started) when the connection is gone.
 */
static int set_limits(const rb_sqlexec_opts *o, rb_sqlexec_result *res, rb_error *err)
{
	int rc = 0;
	if (PQtransactionStatus(o->conn) != PQTRANS_IDLE)
		control(o->conn, "ROLLBACK", NULL, NULL, 0, 0);
	char *limits = rb_xasprintf("SET statement_timeout = %lld; SET lock_timeout = %lld",
				    (long long)(o->timeout_ms > 0 ? o->timeout_ms + 1000 : 0),
				    (long long)(o->lock_timeout_ms > 0 ? o->lock_timeout_ms : 0));
	int limited = control(o->conn, limits, NULL, NULL, 0, 0);
	free(limits);
	if (limited < 0 && PQstatus(o->conn) != CONNECTION_OK) {
		char *m = rb_pq_error(o->conn);
		rc = rb_error_set(err, RB_EXIT_ENV, o->file, o->body_line, 1,
				  "lost the connection to the server before the block started: %s", m);
		res->not_started = 1;
		free(m);
	}
	return rc;
}

/* \x or \pset applied, and said as psql says it. */
static void display_changed(exec_ctx *c, const prepared *p)
{
	if (p->expanded >= 0) {
		/* psql's toggle: off becomes on, on and auto become off. */
		c->expanded = p->expanded != EXPANDED_TOGGLE ? p->expanded
			      : c->expanded == EXPANDED_OFF ? EXPANDED_ON : EXPANDED_OFF;
		c->fmt.expanded = c->expanded == EXPANDED_ON;
		fprintf(c->out, "Expanded display is %s.\n",
			c->expanded == EXPANDED_ON ? "on" : c->expanded == EXPANDED_AUTO ? "used automatically" : "off");
	}
	if (p->format >= 0) {
		if (p->format != FORMAT_SHOW)
			c->fmt.format = (rb_pgfmt_format)p->format;
		fprintf(c->out, "Output format is %s.\n", rb_pgfmt_format_name(c->fmt.format));
	}
}

/* Runs the prepared units in order until one fails. 0, or -1 (err) when the connection is lost. */
static int run_units(exec_ctx *c, rb_sqlexec_result *res, int64_t start, rb_error *err)
{
	const rb_sqlexec_opts *o = c->o;
	int rc = 0, timing = 0;
	watch w = {o->timeout_ms > 0 ? start + o->timeout_ms : INT64_MAX,
		   o->poll && o->poll_every_ms > 0 ? start + o->poll_every_ms : INT64_MAX, 0};
	for (size_t i = 0; i < c->list.n && res->ok; i++) {
		const prepared *p = &c->list.items[i];
		if (p->timing >= 0) {
			timing = p->timing;
			fprintf(c->out, "Timing is %s.\n", timing ? "on" : "off");
			continue;
		}
		if (p->is_echo) {
			fprintf(c->out, "%s\n", p->text);
			continue;
		}
		if (p->expanded >= 0 || p->format >= 0) {
			display_changed(c, p);
			continue;
		}
		int64_t t0 = rb_now_ms();
		int r = exec_one(c, o->conn, p, &w, res, err);
		if (r < 0) {
			rc = -1;
			break;
		}
		res->statements++;
		if (timing)
			fprintf(c->out, "Time: %.3f ms\n", (double)(rb_now_ms() - t0));
		if (r > 0)
			break;
	}
	return rc;
}

/*
 * Never leaves a transaction open: commits ours after success, rolls back
 * anything else (a block that forgot its COMMIT fails). 0, or -1 with err
 * set when the connection died while COMMIT was in flight.
 */
static int end_transaction(const rb_sqlexec_opts *o, int began, rb_sqlexec_result *res, rb_error *err)
{
	int rc = 0;
	if (res->ok && began) {
		if (control(o->conn, "COMMIT", res, o->file, o->body_line, 1) < 0) {
			if (PQstatus(o->conn) != CONNECTION_OK) {
				/* COMMIT was sent; whether it arrived is not known. */
				char *m = rb_pq_error(o->conn);
				rc = rb_error_set(err, RB_EXIT_ENV, o->file, o->body_line, 1,
						  "lost the connection while COMMIT was in flight: outcome unknown, "
						  "check the database before retrying (%s)", m);
				free(m);
			} else {
				control(o->conn, "ROLLBACK", NULL, NULL, 0, 0);
			}
		}
	} else if (res->ok && PQtransactionStatus(o->conn) != PQTRANS_IDLE) {
		control(o->conn, "ROLLBACK", NULL, NULL, 0, 0);
		free(res->message);
		res->message = rb_xstrdup("the block ended inside a transaction it opened (BEGIN without "
					  "COMMIT); it was rolled back");
		res->err_line = o->body_line;
		res->err_col = 1;
		res->ok = 0;
	} else if (PQtransactionStatus(o->conn) != PQTRANS_IDLE) {
		control(o->conn, "ROLLBACK", NULL, NULL, 0, 0);
	}
	return rc;
}

int rb_sqlexec_run(const rb_sqlexec_opts *o, rb_sqlexec_result *res, rb_error *err)
{
	int rc = -1;
	exec_ctx c;
	int began = 0, own_txn = 0;
	int64_t start = rb_now_ms();
	memset(res, 0, sizeof *res);
	memset(&c, 0, sizeof c);
	c.o = o;
	c.vars = o->vars;
	c.out = o->out;
	res->ok = 1;
	if (!c.out) {
		rb_error_set(err, RB_EXIT_USAGE, o->file, o->body_line, 1, "no output stream for the block's results");
		goto done;
	}

	const char *scs = PQparameterStatus(o->conn, "standard_conforming_strings");
	int std_strings = !scs || !strcmp(scs, "on");
	if (prepare_text(&c, o->file, o->body, o->body_line, o->body_col > 0 ? o->body_col : 1, 0,
			 std_strings, err) < 0 ||
	    check_block(&c, &own_txn, err) < 0 || set_limits(o, res, err) < 0)
		goto done;
	/* A BEGIN that fails is recorded as the block's error: no unit runs then. */
	if (o->mode == RB_TXN_SINGLE && !own_txn && c.list.n)
		began = c.in_txn = control(o->conn, "BEGIN", res, o->file, o->body_line, 1) == 0;
	if (run_units(&c, res, start, err) < 0 || end_transaction(o, began, res, err) < 0)
		goto done;
	rc = 0;
done:
	if (rc < 0 && PQstatus(o->conn) == CONNECTION_OK && PQtransactionStatus(o->conn) != PQTRANS_IDLE)
		control(o->conn, "ROLLBACK", NULL, NULL, 0, 0);
	res->duration_ms = rb_now_ms() - start;
	if (c.out)
		fflush(c.out);
	list_free(&c.list);
	return rc;
}
