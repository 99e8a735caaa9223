/*
 * sqlexec.c - a sql step over libpq: prepare (split, include, interpolate),
 * then execute statement by statement with cancellation.
 */
#define _GNU_SOURCE
#include "sqlexec.h"
#include "db.h"
#include "signals.h"
#include "sqlsplit.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INCLUDE_DEPTH 16

/* One prepared unit: a statement ready to send, or an \echo to print. */
typedef struct {
	int is_echo;
	int timing;        /* -1: leave, 0/1: \timing off/on */
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

typedef struct {
	const rb_sqlexec_opts *o;
	rb_vars *vars;
	prepared_list list;
	FILE *out;
	int in_txn;   /* the block runs inside the transaction we opened */
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
	p->timing = -1;
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

int rb_sql_meta_supported(const char *cmd)
{
	static const char *const supported[] = {"echo", "set", "i", "include", "ir", "include_relative",
						"timing", NULL};
	for (const char *const *m = supported; *m; m++)
		if (!strcmp(*m, cmd))
			return 1;
	return 0;
}

static int prepare_text(exec_ctx *c, const char *file, const char *body, int line, int col,
			int depth, int std_strings, rb_error *err);

/* \i FILE and \ir FILE: the file's statements, prepared in place. */
static int include(exec_ctx *c, const rb_sql_item *it, const char *file, int depth,
		   int std_strings, rb_error *err)
{
	int rc = -1;
	char *name = rb_trim_dup(it->args);
	char *path = NULL, *text = NULL, *base = NULL;
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
	/* \i resolves from the runbook's directory, \ir from the including file's. */
	base = !strcmp(it->command, "ir") ? rb_dirname_dup(file) : rb_xstrdup(c->o->dir ? c->o->dir : ".");
	path = name[0] == '/' ? rb_xstrdup(name) : rb_xasprintf("%s/%s", base, name);
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
	free(base);
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
		if (it->kind == RB_SQL_STATEMENT) {
			char *sent = NULL;
			if (rb_sql_interpolate(it->text, file, it->line, icol, std_strings, lookup,
					       c->vars, &sent, err) < 0)
				goto done;
			prepared *p = add(&c->list);
			p->text = sent;
			p->file = rb_xstrdup(file);
			p->line = it->line;
			p->col = icol;
			p->txn_control = it->is_txn_control;
			p->no_txn_block = it->no_txn_block;
			continue;
		}
		const char *cmd = it->command;
		if (!strcmp(cmd, "echo")) {
			char *text = NULL;
			char *raw = rb_trim_dup(it->args);
			int r = rb_sql_interpolate(raw, file, it->line, icol, std_strings, lookup, c->vars,
						   &text, err);
			free(raw);
			if (r < 0)
				goto done;
			prepared *p = add(&c->list);
			p->is_echo = 1;
			p->text = text;
			p->file = rb_xstrdup(file);
			p->line = it->line;
			p->col = icol;
		} else if (!strcmp(cmd, "set")) {
			char *args = rb_trim_dup(it->args);
			char *sp = args + strcspn(args, " \t");
			char *value = *sp ? sp + 1 : sp;
			*sp = '\0';
			while (*value == ' ' || *value == '\t')
				value++;
			if (!rb_var_name_valid(args)) {
				rb_error_set(err, RB_EXIT_USAGE, file, it->line, icol,
					     "\\set needs a variable name and a value");
				free(args);
				goto done;
			}
			/* Quoted values lose their quotes, as in psql. */
			size_t vl = strlen(value);
			char *v = vl >= 2 && value[0] == '\'' && value[vl - 1] == '\''
					  ? rb_xstrndup(value + 1, vl - 2) : rb_xstrdup(value);
			rb_vars_set(c->vars, args, v, RB_VAR_CAPTURE);
			free(v);
			free(args);
		} else if (!strcmp(cmd, "i") || !strcmp(cmd, "include") || !strcmp(cmd, "ir") ||
			   !strcmp(cmd, "include_relative")) {
			if (include(c, it, file, depth, std_strings, err) < 0)
				goto done;
		} else if (!strcmp(cmd, "timing")) {
			char *a = rb_trim_dup(it->args);
			prepared *p = add(&c->list);
			p->is_echo = 0;
			p->text = NULL;
			p->file = rb_xstrdup(file);
			p->line = it->line;
			p->col = icol;
			p->timing = !*a || !strcmp(a, "on") ? 1 : 0;
			free(a);
		} else {
			rb_error_set(err, RB_EXIT_USAGE, file, it->line, icol, RB_SQL_META_UNSUPPORTED, cmd);
			goto done;
		}
	}
	rc = 0;
done:
	rb_sql_items_free(items, n);
	return rc;
}

void rb_sql_rows_free(rb_sql_rows *r)
{
	for (int i = 0; i < r->ncols; i++)
		free(r->names[i]);
	for (size_t i = 0; i < r->nrows * (size_t)r->ncols; i++)
		free(r->cells[i]);
	free(r->names);
	free(r->types);
	free(r->cells);
	memset(r, 0, sizeof *r);
}

void rb_sqlexec_result_free(rb_sqlexec_result *res)
{
	free(res->message);
	free(res->err_file);
	res->message = NULL;
	res->err_file = NULL;
	rb_sql_rows_free(&res->rows);
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

/* Display width of a UTF-8 string (code points; good enough for tables). */
static size_t width(const char *s)
{
	size_t w = 0;
	for (; *s; s++)
		w += ((unsigned char)*s & 0xC0) != 0x80;
	return w;
}

static void pad(FILE *out, const char *s, size_t w, int last)
{
	fputs(s, out);
	if (last)
		return;
	for (size_t k = width(s); k < w; k++)
		fputc(' ', out);
}

/* psql's aligned format for the rows kept for display. */
static void print_table(FILE *out, const rb_sql_rows *r, size_t shown, int64_t total)
{
	size_t *w = rb_xcalloc((size_t)r->ncols, sizeof *w);
	for (int c = 0; c < r->ncols; c++) {
		w[c] = width(r->names[c]);
		for (size_t i = 0; i < shown; i++) {
			const char *v = r->cells[i * (size_t)r->ncols + (size_t)c];
			size_t k = width(v ? v : "");
			if (k > w[c])
				w[c] = k;
		}
	}
	for (int c = 0; c < r->ncols; c++) {
		size_t name_w = width(r->names[c]);
		size_t left = (w[c] - name_w) / 2;
		fputs(c ? " | " : " ", out);
		for (size_t k = 0; k < left; k++)
			fputc(' ', out);
		fputs(r->names[c], out);
		if (c + 1 < r->ncols)
			for (size_t k = left + name_w; k < w[c]; k++)
				fputc(' ', out);
	}
	fputc('\n', out);
	for (int c = 0; c < r->ncols; c++) {
		fputs(c ? "-+-" : "-", out);
		for (size_t k = 0; k < w[c]; k++)
			fputc('-', out);
	}
	fputs("-\n", out);
	for (size_t i = 0; i < shown; i++) {
		for (int c = 0; c < r->ncols; c++) {
			const char *v = r->cells[i * (size_t)r->ncols + (size_t)c];
			fputs(c ? " | " : " ", out);
			pad(out, v ? v : "", w[c], c + 1 == r->ncols);
		}
		fputc('\n', out);
	}
	if ((int64_t)shown < total)
		fprintf(out, "... %lld more row%s not shown\n", (long long)(total - (int64_t)shown),
			total - (int64_t)shown == 1 ? "" : "s");
	fprintf(out, "(%lld row%s)\n\n", (long long)total, total == 1 ? "" : "s");
	free(w);
}

/* The runbook position of character `pos` (1-based, in characters) of a statement. */
static void char_position(const prepared *p, int pos, int *line, int *col)
{
	int l = p->line, c = p->col, n = 1;
	for (const unsigned char *s = (const unsigned char *)p->text; *s && n < pos; s++) {
		if ((*s & 0xC0) == 0x80)
			continue;
		n++;
		if (*s == '\n') {
			l++;
			c = 1;
		} else {
			c++;
		}
	}
	*line = l;
	*col = c;
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
		char_position(p, atoi(position), &res->err_line, &res->err_col);
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

static void take_header(rb_sql_rows *rows, const PGresult *r)
{
	rb_sql_rows_free(rows);
	rows->ncols = PQnfields(r);
	rows->names = rb_xcalloc((size_t)rows->ncols + 1, sizeof *rows->names);
	rows->types = rb_xcalloc((size_t)rows->ncols + 1, 1);
	for (int k = 0; k < rows->ncols; k++) {
		rows->names[k] = rb_xstrdup(PQfname(r, k));
		rows->types[k] = rb_sql_column_type(PQftype(r, k));
	}
}

/* Takes one row of a result into rows (kept up to keep), counting all. */
static void take_row(rb_sql_rows *rows, const PGresult *r, int row, size_t keep)
{
	if (rows->row_count++ >= (int64_t)keep)
		return;
	rows->cells = rb_xrealloc(rows->cells, (rows->nrows + 1) * (size_t)rows->ncols * sizeof *rows->cells);
	for (int c = 0; c < rows->ncols; c++)
		rows->cells[rows->nrows * (size_t)rows->ncols + (size_t)c] =
			PQgetisnull(r, row, c) ? NULL : rb_xstrdup(PQgetvalue(r, row, c));
	rows->nrows++;
}

/*
 * Sends one statement and consumes its results. Returns 0 when it
 * succeeded, 1 when the server reported an error (recorded in res), -1 when
 * the connection failed (err set).
 */
static int exec_one(exec_ctx *c, PGconn *conn, const prepared *p, watch *w, rb_sqlexec_result *res,
		    rb_error *err)
{
	int rc = 0;
	int sock = PQsocket(conn);
	size_t keep = c->o->keep_rows ? c->o->keep_rows : 1000;
	size_t display = c->o->display_rows ? c->o->display_rows : 100;
	if (keep < display)
		keep = display;
	rb_sql_rows rows;
	int in_rows = 0;
	memset(&rows, 0, sizeof rows);

	if (!PQsendQuery(conn, p->text)) {
		char *m = rb_pq_error(conn);
		rb_error_set(err, RB_EXIT_ENV, p->file, p->line, p->col, "cannot send the statement: %s", m);
		free(m);
		return -1;
	}
	PQsetSingleRowMode(conn);
	for (;;) {
		while (PQisBusy(conn)) {
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
			if (!PQconsumeInput(conn)) {
				char *m = rb_pq_error(conn);
				rb_error_set(err, RB_EXIT_ENV, p->file, p->line, p->col,
					     "lost the connection to the server: %s; %s", m,
					     c->in_txn ? "the server rolled the block's transaction back"
						       : "this statement's outcome is unknown: check before retrying");
				free(m);
				rb_sql_rows_free(&rows);
				return -1;
			}
		}
		PGresult *r = PQgetResult(conn);
		if (!r)
			break;
		switch (PQresultStatus(r)) {
		case PGRES_SINGLE_TUPLE:
			if (!in_rows) {
				take_header(&rows, r);
				in_rows = 1;
			}
			take_row(&rows, r, 0, keep);
			break;
		case PGRES_TUPLES_OK:
			if (!in_rows) /* zero rows: the header comes with the final result */
				take_header(&rows, r);
			for (int i = 0; i < PQntuples(r); i++)
				take_row(&rows, r, i, keep);
			print_table(c->out, &rows, rows.nrows < display ? rows.nrows : display, rows.row_count);
			rb_sql_rows_free(&res->rows);
			res->rows = rows;
			res->have_rows = 1;
			memset(&rows, 0, sizeof rows);
			in_rows = 0;
			break;
		case PGRES_COMMAND_OK: {
			const char *tag = PQcmdStatus(r);
			const char *affected = PQcmdTuples(r);
			if (tag && *tag)
				fprintf(c->out, "%s\n", tag);
			if (affected && *affected) {
				rb_sql_rows_free(&res->rows);
				res->rows.row_count = atoll(affected);
				res->have_rows = 1;
			}
			break;
		}
		case PGRES_EMPTY_QUERY:
			break;
		case PGRES_COPY_OUT: {
			/* COPY ... TO STDOUT: the data goes to the output, as with psql. */
			char *buf = NULL;
			int n;
			while ((n = PQgetCopyData(conn, &buf, 0)) > 0) {
				fwrite(buf, 1, (size_t)n, c->out);
				PQfreemem(buf);
				buf = NULL;
			}
			break;
		}
		case PGRES_COPY_IN:
		case PGRES_COPY_BOTH:
			/* There is no standard input for a step: end the copy with an error. */
			PQputCopyEnd(conn, "COPY FROM STDIN has no input in a sql step: use \\copy with psql "
					   "in a bash step, or COPY from a server file");
			break;
		default:
			if (rc == 0)
				record_error(res, r, conn, p);
			rc = 1;
			break;
		}
		PQclear(r);
		fflush(c->out);
	}
	rb_sql_rows_free(&rows);
	if (rc == 0 && PQstatus(conn) != CONNECTION_OK) {
		char *m = rb_pq_error(conn);
		rb_error_set(err, RB_EXIT_ENV, p->file, p->line, p->col, "lost the connection to the server: %s; %s", m,
			     c->in_txn ? "the server rolled the block's transaction back"
				       : "this statement's outcome is unknown: check before retrying");
		free(m);
		rc = -1;
	}
	return rc;
}

/* Runs a control statement we add ourselves (BEGIN, COMMIT, ROLLBACK). */
static int control(PGconn *conn, const char *sql, rb_sqlexec_result *res, const char *file, int line,
		   int col)
{
	PGresult *r = PQexec(conn, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok && res) {
		prepared p = {0, -1, (char *)sql, (char *)file, line, col, 1, 0};
		record_error(res, r, conn, &p);
	}
	PQclear(r);
	return ok ? 0 : -1;
}

int rb_sqlexec_run(const rb_sqlexec_opts *o, rb_sqlexec_result *res, rb_error *err)
{
	int rc = -1;
	exec_ctx c;
	int began = 0, timing = 0;
	int64_t start = rb_now_ms();
	memset(res, 0, sizeof *res);
	memset(&c, 0, sizeof c);
	c.o = o;
	c.vars = o->vars;
	c.out = o->out ? o->out : stdout;
	res->ok = 1;

	const char *scs = PQparameterStatus(o->conn, "standard_conforming_strings");
	int std_strings = !scs || !strcmp(scs, "on");
	if (prepare_text(&c, o->file, o->body, o->body_line, o->body_col > 0 ? o->body_col : 1, 0,
			 std_strings, err) < 0)
		goto done;

	int own_txn = 0;
	const prepared *outside = NULL;
	for (size_t i = 0; i < c.list.n; i++) {
		own_txn |= c.list.items[i].txn_control;
		if (c.list.items[i].no_txn_block && !outside)
			outside = &c.list.items[i];
	}
	if (o->mode == RB_TXN_SINGLE && !own_txn && outside) {
		rb_error_set(err, RB_EXIT_USAGE, outside->file, outside->line, outside->col,
			     "this statement cannot run inside a transaction block: add transaction=none "
			     "to the step's attributes");
		goto done;
	}
	if (PQtransactionStatus(o->conn) != PQTRANS_IDLE)
		control(o->conn, "ROLLBACK", NULL, NULL, 0, 0);
	/* The server enforces the step's limits too: a lost client cannot leave
	 * work running, and no statement queues forever behind another's lock. */
	char *limits = rb_xasprintf("SET statement_timeout = %lld; SET lock_timeout = %lld",
				    (long long)(o->timeout_ms > 0 ? o->timeout_ms + 1000 : 0),
				    (long long)(o->lock_timeout_ms > 0 ? o->lock_timeout_ms : 0));
	int limited = control(o->conn, limits, NULL, NULL, 0, 0);
	free(limits);
	if (limited < 0 && PQstatus(o->conn) != CONNECTION_OK) {
		char *m = rb_pq_error(o->conn);
		rb_error_set(err, RB_EXIT_ENV, o->file, o->body_line, 1,
			     "lost the connection to the server before the block started: %s", m);
		res->not_started = 1;
		free(m);
		goto done;
	}
	if (o->mode == RB_TXN_SINGLE && !own_txn && c.list.n) {
		if (control(o->conn, "BEGIN", res, o->file, o->body_line, 1) < 0)
			goto finished;
		began = c.in_txn = 1;
	}

	watch w = {o->timeout_ms > 0 ? start + o->timeout_ms : INT64_MAX,
		   o->poll && o->poll_every_ms > 0 ? start + o->poll_every_ms : INT64_MAX, 0};
	for (size_t i = 0; i < c.list.n && res->ok; i++) {
		const prepared *p = &c.list.items[i];
		if (p->timing >= 0) {
			timing = p->timing;
			fprintf(c.out, "Timing is %s.\n", timing ? "on" : "off");
			continue;
		}
		if (p->is_echo) {
			fprintf(c.out, "%s\n", p->text);
			continue;
		}
		int64_t t0 = rb_now_ms();
		int r = exec_one(&c, o->conn, p, &w, res, err);
		if (r < 0)
			goto done;
		res->statements++;
		if (timing)
			fprintf(c.out, "Time: %.3f ms\n", (double)(rb_now_ms() - t0));
		if (r > 0)
			break;
	}
finished:
	/* Never leave a transaction open: commit ours on success, roll back anything else. */
	if (res->ok && began) {
		if (control(o->conn, "COMMIT", res, o->file, o->body_line, 1) < 0) {
			if (PQstatus(o->conn) != CONNECTION_OK) {
				/* COMMIT was sent; whether it arrived is not known. */
				char *m = rb_pq_error(o->conn);
				rb_error_set(err, RB_EXIT_ENV, o->file, o->body_line, 1,
					     "lost the connection while COMMIT was in flight: outcome unknown, "
					     "check the database before retrying (%s)", m);
				free(m);
				goto done;
			}
			control(o->conn, "ROLLBACK", NULL, NULL, 0, 0);
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
	rc = 0;
done:
	if (rc < 0 && PQstatus(o->conn) == CONNECTION_OK && PQtransactionStatus(o->conn) != PQTRANS_IDLE)
		control(o->conn, "ROLLBACK", NULL, NULL, 0, 0);
	res->duration_ms = rb_now_ms() - start;
	fflush(c.out);
	list_free(&c.list);
	return rc;
}
