/*
 * sqlpipe.c - a statement and runbook's own parts (limits, BEGIN, COMMIT)
 * in one libpq pipeline, read back part by part; which statements may go
 * there. The order of the parts is the contract with sqlexec.c (sqlpipe.h).
 */
#include "sqlpipe.h"
#include "sqlsplit.h"

#include <string.h>

/* COPY, as a statement's first word (any case): libpq takes no COPY in a pipeline. */
static int is_copy(const char *sql)
{
	for (int i = 0; i < 4; i++)
		if ((sql[i] | 0x20) != "copy"[i])
			return 0;
	unsigned char next = (unsigned char)sql[4];
	int ident = (next >= 'a' && next <= 'z') || (next >= 'A' && next <= 'Z') || (next >= '0' && next <= '9') ||
		    next == '_' || next == '$' || next >= 0x80;
	return !ident;
}

int rb_sqlpipe_fits(const char *written, const char *sent, int std_strings)
{
	int fits = 0;
	rb_sql_item *items = NULL;
	size_t n = 0;
	rb_error err = RB_ERROR_INIT;
	/* psql's \; joins statements into one text, which a pipeline takes as an error. */
	if (!written || strstr(written, "\\;"))
		goto done;
	if (!strcmp(written, sent)) {
		fits = !is_copy(sent);
		goto done;
	}
	/* A variable's value may hold several statements, or none, or a COPY: split again. */
	if (rb_sql_split(sent, "", 1, std_strings, &items, &n, &err) == 0 && n == 1 &&
	    items[0].kind == RB_SQL_STATEMENT)
		fits = !is_copy(items[0].text);
done:
	rb_sql_items_free(items, n);
	rb_error_clear(&err);
	return fits;
}

static int query(rb_sqlpipe *p, rb_sqlpipe_part part, const char *sql)
{
	if (!PQsendQueryParams(p->conn, sql, 0, NULL, NULL, NULL, NULL, 0))
		return -1;
	if (part != RB_SQLPIPE_LIMITS || p->n == 0 || p->parts[p->n - 1] != RB_SQLPIPE_LIMITS)
		p->parts[p->n++] = part;
	return 0;
}

static int sync_point(rb_sqlpipe *p)
{
	if (!PQpipelineSync(p->conn))
		return -1;
	p->parts[p->n++] = RB_SQLPIPE_SYNC;
	return 0;
}

static int limits(rb_sqlpipe *p, const rb_sqlpipe_send_opts *o)
{
	for (int i = 0; i < 2; i++)
		if (o->limits[i] && query(p, RB_SQLPIPE_LIMITS, o->limits[i]) < 0)
			return -1;
	return 0;
}

int rb_sqlpipe_send(rb_sqlpipe *p, PGconn *conn, const rb_sqlpipe_send_opts *o)
{
	int rc = -1;
	memset(p, 0, sizeof *p);
	p->conn = conn;
	if (!PQenterPipelineMode(conn))
		return -1;
	/* In our transaction the limits follow BEGIN, or begin the pipeline's own (they last if it
	   commits); without one they end with a sync of their own, so that they stay set whatever
	   the statement does. */
	if (o->begin) {
		if (query(p, RB_SQLPIPE_BEGIN, "BEGIN") < 0 || limits(p, o) < 0)
			goto done;
	} else if (o->implicit) {
		if (limits(p, o) < 0)
			goto done;
	} else if (o->limits[0] || o->limits[1]) {
		if (limits(p, o) < 0 || sync_point(p) < 0)
			goto done;
	}
	if (query(p, RB_SQLPIPE_STATEMENT, o->sql) < 0 || (o->commit && query(p, RB_SQLPIPE_COMMIT, "COMMIT") < 0))
		goto done;
	if (o->implicit) {
		if (!PQsendDescribePrepared(conn, ""))
			goto done;
		p->parts[p->n++] = RB_SQLPIPE_MARK;
	}
	if (sync_point(p) < 0)
		goto done;
	rc = 0;
done:
	if (rc < 0) {
		/* Whatever went out is read back, so that the connection leaves pipeline mode. */
		if (PQstatus(conn) == CONNECTION_OK && PQpipelineSync(conn)) {
			p->parts[p->n++] = RB_SQLPIPE_SYNC;
			rb_sqlpipe_finish(p);
		}
		p->at = p->n;
	}
	return rc;
}

/* The part whose results come next (RB_SQLPIPE_DONE: none; the pipeline is over). */
static rb_sqlpipe_part next_part(const rb_sqlpipe *p)
{
	return p->at < p->n ? p->parts[p->at] : RB_SQLPIPE_DONE;
}

/* One query's results, up to the NULL that ends them: the first, or the first that failed. */
static PGresult *query_result(PGconn *conn)
{
	PGresult *keep = NULL, *r;
	while ((r = PQgetResult(conn))) {
		if (!keep || (PQresultStatus(keep) == PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_COMMAND_OK)) {
			PQclear(keep);
			keep = r;
		} else {
			PQclear(r);
		}
	}
	return keep;
}

/*
 * A sync point's result. 0, or -1 when the connection failed first. An
 * error that comes before it (the commit of the pipeline's own transaction
 * failed, at the sync) goes to *failed, when failed is not NULL.
 */
static int sync_result(PGconn *conn, PGresult **failed)
{
	for (int nulls = 0; nulls < 2 && PQstatus(conn) == CONNECTION_OK;) {
		PGresult *r = PQgetResult(conn);
		if (!r) {
			nulls++; /* the end of an error's results: the sync's come next */
			continue;
		}
		nulls = 0;
		if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
			PQclear(r);
			return 0;
		}
		if (failed && !*failed && PQresultStatus(r) == PGRES_FATAL_ERROR)
			*failed = r;
		else
			PQclear(r);
	}
	return -1;
}

/* A failed query's result stands for the part; else the later one's. */
static PGresult *worse(PGresult *a, PGresult *b)
{
	if (a && PQresultStatus(a) != PGRES_COMMAND_OK) {
		PQclear(b);
		return a;
	}
	PQclear(a);
	return b;
}

PGresult *rb_sqlpipe_take(rb_sqlpipe *p, rb_sqlpipe_part part)
{
	PGresult *r = NULL;
	if (next_part(p) != part || part == RB_SQLPIPE_STATEMENT)
		return NULL;
	p->at++;
	switch (part) {
	case RB_SQLPIPE_LIMITS:
		r = query_result(p->conn);
		r = worse(r, query_result(p->conn));
		break;
	case RB_SQLPIPE_SYNC:
		if (sync_result(p->conn, &r) < 0)
			p->at = p->n;
		else if (p->at == p->n)
			PQexitPipelineMode(p->conn);
		break;
	default:
		r = query_result(p->conn);
		break;
	}
	if (PQstatus(p->conn) != CONNECTION_OK)
		p->at = p->n;
	return r;
}

void rb_sqlpipe_statement_done(rb_sqlpipe *p)
{
	if (next_part(p) == RB_SQLPIPE_STATEMENT)
		p->at++;
	if (PQstatus(p->conn) != CONNECTION_OK)
		p->at = p->n;
}

void rb_sqlpipe_finish(rb_sqlpipe *p)
{
	/* Every result up to the last sync's, then out of pipeline mode (trying earlier would leave
	   "cannot exit pipeline mode while busy" in the connection's error message). */
	int syncs = 0, nulls = 0;
	for (int i = p->at; i < p->n; i++)
		syncs += p->parts[i] == RB_SQLPIPE_SYNC;
	while (p->conn && syncs > 0 && nulls < 3 && PQstatus(p->conn) == CONNECTION_OK) {
		PGresult *r = PQgetResult(p->conn);
		nulls = r ? 0 : nulls + 1;
		syncs -= r && PQresultStatus(r) == PGRES_PIPELINE_SYNC;
		PQclear(r);
	}
	if (p->conn && syncs == 0 && PQpipelineStatus(p->conn) != PQ_PIPELINE_OFF)
		PQexitPipelineMode(p->conn);
	p->at = p->n;
}
