/*
 * sqlexec.c - a sql step over libpq: one walk over the block and what it
 * includes (a stack of sources, each with its \if stack), made twice: a
 * scan that sends nothing, then the run, statement by statement with
 * cancellation, COPY data streamed from the source. What runbook adds
 * around the block (BEGIN, limits, COMMIT) rides in a pipeline with its
 * first statement when it fits (COMMIT when it is the only one: sqlpipe.h).
 */
#define _GNU_SOURCE
#include "sqlexec.h"
#include "db.h"
#include "pgformat.h"
#include "signals.h"
#include "sqlmeta.h"
#include "sqlpipe.h"
#include "sqlsplit.h"
#include "srcmap.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INCLUDE_DEPTH 16
/* A plain body's statements up to this size are kept by the scan for the run. */
#define KEEP_MAX_BYTES (1 << 20)

/* A statement about to be sent, and where it (and a COPY's data) was written. */
typedef struct {
	char *text;        /* interpolated */
	const char *written; /* the statement as split, before interpolation; NULL: a \copy */
	const char *file;
	int line;
	int col;
	const char *gset;  /* \gset's prefix, or NULL */
	int gset_line;
	int gset_col;
	rb_sql_reader *data;   /* COPY FROM STDIN: the data lines follow in this reader, */
	FILE *file_in;         /* or come from this file (\copy FROM 'file') */
	FILE *file_out;        /* COPY TO STDOUT: \copy TO 'file'; else the output */
	const char *data_file; /* where the data lines are, and the first one's line */
	int data_line;
} prepared;

typedef struct {
	int64_t deadline;
	int64_t next_poll;
	int cancel_sent;
} watch;

/* One source being read: the block's body, or a file it includes. */
typedef struct {
	rb_sql_reader *r;
	char *dir;             /* \ir and \copy files resolve from here */
	int col;               /* added to the reader's columns: the body's indentation */
	rb_sqlmeta_cond cond;  /* its \if stack (each file has its own, as in psql) */
	int *if_line;          /* where each open \if is */
	int *if_col;
} source;

/* psql's \x values; auto is off here, the output never being a terminal psql would fit. */
enum { EXPANDED_OFF = 0, EXPANDED_ON = 1, EXPANDED_AUTO = 2, EXPANDED_TOGGLE = 3 };
#define FORMAT_SHOW 3

typedef struct {
	const rb_sqlexec_opts *o;
	int scan;          /* first pass: every item read and checked, nothing sent */
	rb_vars *vars;     /* the run's; in the scan, the run's until \set writes: then shadow */
	rb_vars shadow;    /* the scan's copy of the run's variables, made on its first write */
	rb_sqlexec_result *res;
	FILE *out;
	FILE *warn;
	int std_strings;
	source src[MAX_INCLUDE_DEPTH + 1];
	size_t depth;      /* sources open */
	char *restrict_key; /* \restrict: only \unrestrict KEY runs until then */
	/* what the scan found */
	int units;         /* statements and meta-commands */
	int own_txn;       /* some statement is transaction control */
	int uncertain;     /* a \gset ran: variables cannot be known before the run */
	char *outside_file; /* the first statement that cannot run in a transaction block */
	int outside_line;
	int outside_col;
	char *connect_file; /* the first \c */
	int connect_line;
	int connect_col;
	int first_seen;    /* the body's first item was read */
	int first_is_statement; /* it is a statement: the block's framing can wait for it */
	int statements;    /* statements (a \copy is a meta-command) */
	int metas;         /* meta-commands, \if and \gset included: 0 for a plain block */
	/* A plain body's statements (no variable, no COPY, no \;), kept for the run, which then
	   needs no second reading (each reading parses every statement: sqlsplit.h) */
	int keepable;
	rb_sql_item *kept;
	size_t nkept;
	size_t kept_bytes;
	/* the run */
	PGconn *conn;      /* where statements go: the step's, or \c's */
	PGconn *own_conn;  /* opened by \c; closed at the end of the block */
	int in_txn;        /* the block runs inside the transaction we opened */
	int began;         /* we opened it (BEGIN succeeded) */
	int framing;       /* the limits are still to send: with the block's first statement */
	int begin_pending; /* so is BEGIN */
	int sent;          /* statements sent so far */
	rb_sqlpipe pipe;   /* the pipeline of the statement being read, and of COMMIT after it */
	int commit_riding; /* COMMIT (or the sync's commit) went with the block's only statement:
			      end_transaction reads its result */
	int implicit;      /* the block's only statement ran in the pipeline's own transaction */
	int limits_in_txn; /* the limits rode in our transaction: it must commit for them to last */
	int committed;     /* it did */
	int expanded;      /* EXPANDED_OFF, _ON or _AUTO: the block's \x so far */
	int timing;
	rb_pgfmt_opts fmt; /* how results print now */
	watch w;
} exec_ctx;

static const char *lookup(void *ctx, const char *name)
{
	return rb_vars_get((const rb_vars *)ctx, name);
}

static int walk(exec_ctx *c, rb_error *err);

/* Variables of the scan are known unless a \gset or an \if branch decides them. */
static int vars_known(const exec_ctx *c)
{
	int known = !c->uncertain;
	for (size_t i = 0; i < c->depth; i++)
		known &= c->src[i].cond.n == 0;
	return known;
}

/* Opens a source on the stack; takes r. */
static void push_source(exec_ctx *c, rb_sql_reader *r, int col)
{
	source *s = &c->src[c->depth++];
	memset(s, 0, sizeof *s);
	s->r = r;
	s->dir = rb_dirname_dup(rb_sql_reader_path(r));
	s->col = col;
}

static void pop_source(exec_ctx *c)
{
	source *s = &c->src[--c->depth];
	rb_sql_reader_free(s->r);
	free(s->dir);
	rb_sqlmeta_cond_free(&s->cond);
	free(s->if_line);
	free(s->if_col);
	memset(s, 0, sizeof *s);
}

/* Where a source's items are written, for errors. */
#define SRC_FILE(s) rb_sql_reader_path((s)->r)

/* \i FILE and \ir FILE: the file is read (and run) where it is named. */
static int include(exec_ctx *c, source *s, const rb_sql_item *it, int col, rb_error *err)
{
	int rc = -1;
	char *name = rb_trim_dup(it->args);
	char *path = NULL;
	rb_sql_reader *r = NULL;
	rb_error ferr = RB_ERROR_INIT;
	const char *file = rb_sql_reader_path(s->r);
	if (!*name) {
		rb_error_set(err, RB_EXIT_USAGE, file, it->line, col, "\\%s needs a file name", it->command);
		goto done;
	}
	if (c->depth > MAX_INCLUDE_DEPTH) {
		rb_error_set(err, RB_EXIT_USAGE, file, it->line, col,
			     "\\%s %s: files include each other more than %d deep", it->command, name,
			     MAX_INCLUDE_DEPTH);
		goto done;
	}
	path = rb_sql_include_path(it, file, c->o->dir);
	if (rb_sql_reader_file(path, c->std_strings, &r, &ferr) < 0) {
		/* The scan cannot know whether a file named in an \if branch is needed. */
		rc = c->scan && !vars_known(c) ? 0 : -1;
		if (rc < 0)
			rb_error_set(err, RB_EXIT_USAGE, file, it->line, col, "\\%s %s: %s", it->command, name,
				     ferr.message);
		goto done;
	}
	push_source(c, r, 1);
	rc = walk(c, err);
	pop_source(c);
done:
	rb_error_clear(&ferr);
	free(name);
	free(path);
	return rc;
}

/*
 * A meta-command's words (sqlmeta.h), variables replaced; in the scan,
 * left as written when they cannot be known yet. 0, or -1 with err set.
 */
static int words(exec_ctx *c, const source *s, const rb_sql_item *it, rb_sqlmeta_argv *a, rb_error *err)
{
	char *msg = NULL;
	size_t at = 0;
	int known = !c->scan || vars_known(c);
	int rc = rb_sqlmeta_words(it->args, known ? lookup : NULL, c->vars, a, &msg, &at);
	if (rc < 0) {
		rb_error_set(err, RB_EXIT_USAGE, rb_sql_reader_path(s->r), it->line, it->args_col + s->col - 1 + (int)at,
			     "\\%s: %s", it->command, msg);
		free(msg);
	}
	return rc;
}

/* The variables to write: in the scan, a copy made now (the run's stay as they are until the run). */
static rb_vars *writable(exec_ctx *c)
{
	if (c->scan && c->vars != &c->shadow) {
		if (c->vars)
			rb_vars_copy(c->vars, &c->shadow);
		c->vars = &c->shadow;
	}
	return c->vars;
}

/* \set NAME [VALUE...]: the words after the name, joined; \unset NAME. */
static int set_var(exec_ctx *c, const source *s, const rb_sql_item *it, int col, rb_error *err)
{
	rb_sqlmeta_argv a;
	rb_buf v = RB_BUF_INIT;
	int rc = words(c, s, it, &a, err);
	if (rc < 0)
		return rc;
	if (a.n == 0 || !rb_var_name_valid(a.v[0]) || (it->cmd == RB_SQL_CMD_UNSET && a.n != 1)) {
		rc = rb_error_set(err, RB_EXIT_USAGE, SRC_FILE(s), it->line, col, "\\%s needs a variable name",
				  it->command);
	} else if (it->cmd == RB_SQL_CMD_UNSET) {
		rb_vars_unset(writable(c), a.v[0]);
	} else {
		for (size_t i = 1; i < a.n; i++)
			rb_buf_puts(&v, a.v[i]);
		rb_vars_set(writable(c), a.v[0], v.data ? v.data : "", RB_VAR_CAPTURE);
	}
	rb_buf_free(&v);
	rb_sqlmeta_argv_free(&a);
	return rc;
}

/* \echo, \qecho (the output) and \warn (standard error), with psql's quoting. */
static int echo(exec_ctx *c, const source *s, const rb_sql_item *it, rb_error *err)
{
	rb_sqlmeta_argv a;
	int rc = words(c, s, it, &a, err);
	if (rc == 0 && !c->scan) {
		char *text = rb_sqlmeta_echo(&a);
		FILE *f = it->cmd == RB_SQL_CMD_WARN && c->warn ? c->warn : c->out;
		fputs(text, f);
		fflush(f);
		free(text);
	}
	if (rc == 0)
		rb_sqlmeta_argv_free(&a);
	return rc;
}

/* psql's value of \x or \pset expanded: an EXPANDED_*, or -1 when it is none. */
static int expanded_value(const char *v)
{
	int b;
	if (!*v)
		return EXPANDED_TOGGLE;
	if (!strcmp(v, "auto"))
		return EXPANDED_AUTO;
	return rb_sqlmeta_bool(v, &b) < 0 ? -1 : b ? EXPANDED_ON : EXPANDED_OFF;
}

/* \x or \pset applied, and said as psql says it. */
static void display_changed(exec_ctx *c, int x, int f)
{
	if (x >= 0) {
		/* psql's toggle: off becomes on, on and auto become off. */
		c->expanded = x != EXPANDED_TOGGLE ? x : c->expanded == EXPANDED_OFF ? EXPANDED_ON : EXPANDED_OFF;
		c->fmt.expanded = c->expanded == EXPANDED_ON;
		fprintf(c->out, "Expanded display is %s.\n",
			c->expanded == EXPANDED_ON ? "on" : c->expanded == EXPANDED_AUTO ? "used automatically" : "off");
	}
	if (f >= 0) {
		if (f != FORMAT_SHOW)
			c->fmt.format = (rb_pgfmt_format)f;
		fprintf(c->out, "Output format is %s.\n", rb_pgfmt_format_name(c->fmt.format));
	}
}

/*
 * \x [on|off|auto], \pset expanded [on|off|auto], \pset format
 * [aligned|unaligned|csv]: applied to the results after it. Any other
 * \pset, or value, is an error.
 */
static int display_setting(exec_ctx *c, const source *s, const rb_sql_item *it, int col, rb_error *err)
{
	int rc = -1, x = -1, f = -1;
	rb_sqlmeta_argv a;
	if (words(c, s, it, &a, err) < 0)
		return -1;
	const char *name = it->cmd == RB_SQL_CMD_EXPANDED ? "expanded" : a.n ? a.v[0] : "";
	const char *value = it->cmd == RB_SQL_CMD_EXPANDED ? (a.n ? a.v[0] : "") : a.n > 1 ? a.v[1] : "";
	if (!strcmp(name, "expanded") || !strcmp(name, "x")) {
		if ((x = expanded_value(value)) < 0) {
			rb_error_set(err, RB_EXIT_USAGE, SRC_FILE(s), it->line, col,
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
			rb_error_set(err, RB_EXIT_USAGE, SRC_FILE(s), it->line, col,
				     "\\pset format %s: a sql step prints aligned, unaligned or csv", value);
			goto done;
		}
	} else {
		rb_error_set(err, RB_EXIT_USAGE, SRC_FILE(s), it->line, col,
			     "\\pset %s: a sql step supports \\pset format and \\pset expanded only", name);
		goto done;
	}
	if (!c->scan)
		display_changed(c, x, f);
	rc = 0;
done:
	rb_sqlmeta_argv_free(&a);
	return rc;
}

/* \timing [on|off]: with no value, a toggle. */
static int timing(exec_ctx *c, const source *s, const rb_sql_item *it, int col, rb_error *err)
{
	rb_sqlmeta_argv a;
	int on = !c->timing, rc = words(c, s, it, &a, err);
	if (rc < 0)
		return rc;
	if (a.n && rb_sqlmeta_bool(a.v[0], &on) < 0)
		rc = rb_error_set(err, RB_EXIT_USAGE, SRC_FILE(s), it->line, col,
				  "\\timing: unrecognized value \"%s\" for \"timing\": Boolean expected", a.v[0]);
	else if (!c->scan) {
		c->timing = on;
		fprintf(c->out, "Timing is %s.\n", on ? "on" : "off");
	}
	rb_sqlmeta_argv_free(&a);
	return rc;
}

/* The block fails here (not a usage error): the message is the step's error. */
static void fail_at(exec_ctx *c, const char *file, int line, int col, char *message)
{
	rb_sqlexec_result *res = c->res;
	free(res->message);
	res->message = message;
	res->sqlstate[0] = '\0';
	free(res->err_file);
	res->err_file = rb_xstrdup(file);
	res->err_line = line;
	res->err_col = col;
	res->ok = 0;
}

/* \if's or \elif's expression, as psql reads it: its words joined by spaces, one boolean. */
static int expression(exec_ctx *c, const source *s, const rb_sql_item *it, int col, int *value, rb_error *err)
{
	rb_sqlmeta_argv a;
	rb_buf b = RB_BUF_INIT;
	int rc = words(c, s, it, &a, err);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < a.n; i++) {
		if (i)
			rb_buf_putc(&b, ' ');
		rb_buf_puts(&b, a.v[i]);
	}
	const char *e = b.data ? b.data : "";
	/* The scan leaves a variable it cannot know as written: the run decides. */
	if (!(c->scan && strchr(e, ':')) && rb_sqlmeta_bool(e, value) < 0)
		rc = rb_error_set(err, RB_EXIT_USAGE, SRC_FILE(s), it->line, col,
				  "unrecognized value \"%s\" for \"\\%s expression\": Boolean expected", e, it->command);
	rb_buf_free(&b);
	rb_sqlmeta_argv_free(&a);
	return rc;
}

/* \if EXPR, \elif EXPR, \else, \endif: psql's branches, one stack per source. */
static int conditional(exec_ctx *c, source *s, const rb_sql_item *it, int col, rb_error *err)
{
	int value = 0;
	if ((c->scan || rb_sqlmeta_cond_evaluates(&s->cond, it->cmd)) &&
	    (it->cmd == RB_SQL_CMD_IF || it->cmd == RB_SQL_CMD_ELIF) && expression(c, s, it, col, &value, err) < 0)
		return -1;
	const char *msg = rb_sqlmeta_cond_apply(&s->cond, it->cmd, value);
	if (msg)
		return rb_error_set(err, RB_EXIT_USAGE, SRC_FILE(s), it->line, col, "%s", msg);
	if (it->cmd == RB_SQL_CMD_IF) {
		s->if_line = rb_xrealloc(s->if_line, s->cond.cap * sizeof *s->if_line);
		s->if_col = rb_xrealloc(s->if_col, s->cond.cap * sizeof *s->if_col);
		s->if_line[s->cond.n - 1] = it->line;
		s->if_col[s->cond.n - 1] = col;
	}
	return 0;
}

/* statement_timeout and lock_timeout of the step on conn. 0, or -1 when the connection failed. */
static int give_limits(const rb_sqlexec_opts *o, PGconn *conn)
{
	char *limits = rb_xasprintf("SET statement_timeout = %lld; SET lock_timeout = %lld",
				    (long long)(o->timeout_ms > 0 ? o->timeout_ms + 1000 : 0),
				    (long long)(o->lock_timeout_ms > 0 ? o->lock_timeout_ms : 0));
	PGresult *r = PQexec(conn, limits);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	free(limits);
	return ok ? 0 : -1;
}

/* \c DBNAME: a new connection to the same server as the step's, for the rest of the block. */
static int connect_db(exec_ctx *c, const source *s, const rb_sql_item *it, int col, rb_error *err)
{
	rb_sqlmeta_argv a;
	if (words(c, s, it, &a, err) < 0)
		return -1;
	int rc = 0;
	if (a.n > 1) {
		rc = rb_error_set(err, RB_EXIT_USAGE, SRC_FILE(s), it->line, col,
				  "\\%s: only a database name is supported (the same server, as the same user)", it->command);
	} else if (c->scan) {
		if (!c->connect_file) {
			c->connect_file = rb_xstrdup(SRC_FILE(s));
			c->connect_line = it->line;
			c->connect_col = col;
		}
	} else if (PQtransactionStatus(c->conn) != PQTRANS_IDLE) {
		fail_at(c, SRC_FILE(s), it->line, col, rb_xasprintf("\\%s inside an open transaction", it->command));
	} else {
		PQconninfoOption *opts = PQconninfo(c->o->conn);
		const char *kw[64], *val[64];
		const char *db = a.n && strcmp(a.v[0], "-") ? a.v[0] : PQdb(c->conn);
		int n = 0;
		for (PQconninfoOption *op = opts; op && op->keyword && n < 62; op++)
			if (op->val && *op->val && strcmp(op->keyword, "dbname")) {
				kw[n] = op->keyword;
				val[n++] = op->val;
			}
		kw[n] = "dbname";
		val[n++] = db;
		kw[n] = val[n] = NULL;
		PGconn *nc = PQconnectdbParams(kw, val, 0);
		if (PQstatus(nc) != CONNECTION_OK || give_limits(c->o, nc) < 0) {
			char *m = rb_pq_error(nc);
			fail_at(c, SRC_FILE(s), it->line, col, rb_xasprintf("\\%s %s: %s", it->command, db, m));
			free(m);
			PQfinish(nc);
		} else {
			if (c->own_conn)
				PQfinish(c->own_conn);
			c->conn = c->own_conn = nc;
			fprintf(c->out, "You are now connected to database \"%s\" as user \"%s\".\n", PQdb(nc), PQuser(nc));
		}
		PQconninfoFree(opts);
	}
	rb_sqlmeta_argv_free(&a);
	return rc;
}

static int send_unit(exec_ctx *c, prepared *p, rb_error *err);

/* \copy: COPY ... FROM STDIN or TO STDOUT, the data from or to a file on this side. */
static int copy_meta(exec_ctx *c, const source *s, const rb_sql_item *it, int col, rb_error *err)
{
	rb_sqlmeta_copy cp;
	char *msg = NULL, *path = NULL;
	FILE *f = NULL;
	int rc = -1;
	if (rb_sqlmeta_copy_parse(it->args, &cp, &msg) < 0) {
		rb_error_set(err, RB_EXIT_USAGE, SRC_FILE(s), it->line, it->args_col + s->col - 1, "%s", msg);
		goto done;
	}
	rc = 0;
	if (c->scan)
		goto done;
	prepared p;
	memset(&p, 0, sizeof p);
	p.text = cp.sql;
	p.file = SRC_FILE(s);
	p.line = it->line;
	p.col = col;
	p.data = s->r;
	p.data_file = SRC_FILE(s);
	if (cp.file) {
		path = cp.file[0] == '/' ? rb_xstrdup(cp.file) : rb_xasprintf("%s/%s", s->dir, cp.file);
		if (!(f = fopen(path, cp.from ? "rb" : "wb"))) {
			fail_at(c, SRC_FILE(s), it->line, col, rb_xasprintf("\\copy: %s: %s", path, strerror(errno)));
			goto done;
		}
		p.data = NULL;
		p.data_file = path;
		p.data_line = 1;
		p.file_in = cp.from ? f : NULL;
		p.file_out = cp.from ? NULL : f;
	}
	rc = send_unit(c, &p, err);
	if (f && fclose(f) != 0 && c->res->ok)
		fail_at(c, SRC_FILE(s), it->line, col, rb_xasprintf("\\copy: %s: %s", path, strerror(errno)));
	f = NULL;
done:
	if (f)
		fclose(f);
	free(msg);
	free(path);
	rb_sqlmeta_copy_free(&cp);
	return rc;
}

/* \restrict KEY and \unrestrict KEY (pg_dump's): no other meta-command in between. */
static int restrict_mode(exec_ctx *c, const source *s, const rb_sql_item *it, int col, rb_error *err)
{
	rb_sqlmeta_argv a;
	int rc = words(c, s, it, &a, err);
	if (rc < 0)
		return rc;
	if (a.n != 1)
		rc = rb_error_set(err, RB_EXIT_USAGE, SRC_FILE(s), it->line, col, "\\%s: missing required argument", it->command);
	else if (it->cmd == RB_SQL_CMD_RESTRICT && c->restrict_key)
		rc = rb_error_set(err, RB_EXIT_USAGE, SRC_FILE(s), it->line, col, "\\restrict: already in restricted mode");
	else if (it->cmd == RB_SQL_CMD_UNRESTRICT && (!c->restrict_key || strcmp(c->restrict_key, a.v[0])))
		rc = rb_error_set(err, RB_EXIT_USAGE, SRC_FILE(s), it->line, col, "%s",
				  c->restrict_key ? "\\unrestrict: wrong key" : "\\unrestrict: not currently in restricted mode");
	free(c->restrict_key);
	c->restrict_key = rc == 0 && it->cmd == RB_SQL_CMD_RESTRICT ? rb_xstrdup(a.v[0]) : NULL;
	rb_sqlmeta_argv_free(&a);
	return rc;
}

/* A meta-command, run in order (in the scan: checked). 0, or -1 with err set. */
static int do_meta(exec_ctx *c, source *s, const rb_sql_item *it, rb_error *err)
{
	int col = it->col + s->col - 1, rc = 0;
	char *m = NULL;
	c->metas += c->scan;
	if (it->cmd >= RB_SQL_CMD_IF && it->cmd <= RB_SQL_CMD_ENDIF)
		return conditional(c, s, it, col, err);
	if (!c->scan && !rb_sqlmeta_cond_active(&s->cond))
		return 0;
	if (c->restrict_key && it->cmd != RB_SQL_CMD_UNRESTRICT)
		return rb_error_set(err, RB_EXIT_USAGE, SRC_FILE(s), it->line, col,
				    "\\%s: backslash commands are restricted; only \\unrestrict is allowed", it->command);
	c->units++;
	switch (it->cmd) {
	case RB_SQL_CMD_ECHO:
	case RB_SQL_CMD_QECHO:
	case RB_SQL_CMD_WARN:
		rc = echo(c, s, it, err);
		break;
	case RB_SQL_CMD_SET:
	case RB_SQL_CMD_UNSET:
		rc = set_var(c, s, it, col, err);
		break;
	case RB_SQL_CMD_INCLUDE:
	case RB_SQL_CMD_INCLUDE_RELATIVE:
		rc = include(c, s, it, col, err);
		break;
	case RB_SQL_CMD_TIMING:
		rc = timing(c, s, it, col, err);
		break;
	case RB_SQL_CMD_EXPANDED:
	case RB_SQL_CMD_PSET:
		rc = display_setting(c, s, it, col, err);
		break;
	case RB_SQL_CMD_CONNECT:
		rc = connect_db(c, s, it, col, err);
		break;
	case RB_SQL_CMD_COPY:
		rc = copy_meta(c, s, it, col, err);
		break;
	case RB_SQL_CMD_RESTRICT:
	case RB_SQL_CMD_UNRESTRICT:
		rc = restrict_mode(c, s, it, col, err);
		break;
	case RB_SQL_CMD_GSET:
		rc = rb_error_set(err, RB_EXIT_USAGE, SRC_FILE(s), it->line, col,
				  "\\gset must end a query (write it after the query, instead of its semicolon)");
		break;
	default:
		m = rb_sql_cmd_unsupported(it->command);
		rc = rb_error_set(err, RB_EXIT_USAGE, SRC_FILE(s), it->line, col, "%s", m);
		free(m);
		break;
	}
	return rc;
}

/*
 * A statement of the run, sent: written in file (the body, whose lines start at
 * column col0, or an included file); COPY data, if any, follows in data.
 */
static int run_statement(exec_ctx *c, const char *file, int col0, rb_sql_reader *data, const rb_sql_item *it,
			 rb_error *err)
{
	int col = it->col + col0 - 1;
	char *sent = NULL;
	int rc = rb_sql_interpolate(it->text, file, it->line, col, c->std_strings, lookup, c->vars, &sent, err);
	if (rc < 0)
		return rc;
	prepared p;
	memset(&p, 0, sizeof p);
	p.text = sent;
	p.written = it->text;
	p.file = file;
	p.line = it->line;
	p.col = col;
	p.gset = it->gset;
	p.gset_line = it->gset_line;
	p.gset_col = it->gset_col + col0 - 1;
	p.data = data;
	p.data_file = file;
	rc = send_unit(c, &p, err);
	free(sent);
	return rc;
}

/* A statement: in the scan, its flags and variables checked; in the run, sent. */
static int do_statement(exec_ctx *c, source *s, const rb_sql_item *it, rb_error *err)
{
	int rc = 0, col = it->col + s->col - 1;
	char *sent = NULL;
	if (c->scan) {
		c->units++;
		c->statements++;
		c->metas += it->gset != NULL;
		c->own_txn |= it->is_txn_control;
		if (it->no_txn_block && !c->outside_file) {
			c->outside_file = rb_xstrdup(SRC_FILE(s));
			c->outside_line = it->line;
			c->outside_col = col;
		}
		if (vars_known(c))
			rc = rb_sql_interpolate(it->text, SRC_FILE(s), it->line, col, c->std_strings, lookup, c->vars,
						&sent, err);
		c->uncertain |= it->gset != NULL;
		if (c->keepable)
			c->keepable = sent && !strcmp(sent, it->text) && !it->gset && !it->copy_from_stdin &&
				      rb_sqlpipe_fits(it->text, sent, c->std_strings);
		goto done;
	}
	if (rb_sqlmeta_cond_active(&s->cond))
		rc = run_statement(c, SRC_FILE(s), s->col, s->r, it, err);
done:
	free(sent);
	return rc;
}

/* The scan keeps a statement of a plain body (takes *it), as long as the body stays plain. */
static void keep_item(exec_ctx *c, rb_sql_item *it)
{
	size_t n = strlen(it->text);
	c->keepable &= c->depth == 1 && it->kind == RB_SQL_STATEMENT && c->kept_bytes + n <= KEEP_MAX_BYTES;
	if (!c->keepable)
		return;
	c->kept = rb_xrealloc(c->kept, (c->nkept + 1) * sizeof *c->kept);
	c->kept[c->nkept++] = *it;
	c->kept_bytes += n;
	memset(it, 0, sizeof *it);
}

static void free_kept(exec_ctx *c)
{
	for (size_t i = 0; i < c->nkept; i++)
		rb_sql_item_clear(&c->kept[i]);
	free(c->kept);
	c->kept = NULL;
	c->nkept = 0;
}

/* Reads the source on top of the stack to its end, or to the block's first error. */
static int walk(exec_ctx *c, rb_error *err)
{
	int rc = 0, got = 0;
	source *s = &c->src[c->depth - 1];
	rb_sql_item it;
	while (rc == 0 && c->res->ok && (got = rb_sql_reader_next(s->r, &it, err)) > 0) {
		if (c->scan && c->depth == 1 && !c->first_seen) {
			c->first_seen = 1;
			c->first_is_statement = it.kind == RB_SQL_STATEMENT;
		}
		rc = it.kind == RB_SQL_META ? do_meta(c, s, &it, err) : do_statement(c, s, &it, err);
		if (c->scan && rc == 0 && c->keepable)
			keep_item(c, &it);
		rb_sql_item_clear(&it);
	}
	if (got < 0)
		rc = -1;
	if (rc == 0 && c->res->ok && s->cond.n)
		rc = rb_error_set(err, RB_EXIT_USAGE, SRC_FILE(s), s->if_line[s->cond.n - 1], s->if_col[s->cond.n - 1],
				  "\\if without a matching \\endif before the end of the %s", c->depth == 1 ? "block" : "file");
	return rc;
}

/* The run of a plain body: the statements the scan kept, as walk would send them. */
static int replay(exec_ctx *c, rb_error *err)
{
	int rc = 0, col0 = c->o->body_col > 0 ? c->o->body_col : 1;
	const char *file = c->o->file ? c->o->file : ""; /* as the body's reader names it */
	for (size_t i = 0; rc == 0 && c->res->ok && i < c->nkept; i++)
		rc = run_statement(c, file, col0, NULL, &c->kept[i], err);
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

/*
 * A COPY error in the data: the server's CONTEXT says "COPY t, line N";
 * the position is then the line of the file (runbook or included) where
 * data line N is written.
 */
static void copy_position(rb_sqlexec_result *res, const PGresult *r, const prepared *p)
{
	const char *ctx = r ? PQresultErrorField(r, PG_DIAG_CONTEXT) : NULL;
	const char *at = ctx && !strncmp(ctx, "COPY ", 5) ? strstr(ctx, ", line ") : NULL;
	long n = at ? atol(at + 7) : 0;
	if (n <= 0 || !p->data_file || p->data_line <= 0)
		return;
	free(res->err_file);
	res->err_file = rb_xstrdup(p->data_file);
	res->err_line = p->data_line + (int)n - 1;
	res->err_col = 1;
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
	copy_position(res, r, p);
	res->ok = 0;
}

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

/* text after what b holds, a space apart, each run of white space one space (as rb_pq_error writes). */
static void put_squeezed(rb_buf *b, const char *text)
{
	int space = 1;
	for (; *text; text++) {
		if (*text == ' ' || *text == '\t' || *text == '\n' || *text == '\r') {
			space = 1;
			continue;
		}
		if (space && b->len)
			rb_buf_putc(b, ' ');
		space = 0;
		rb_buf_putc(b, *text);
	}
}

/*
 * Sets err: the connection is gone, and what that means for the statement.
 * said: what libpq said of the statement's error when the pipeline has moved
 * on since (which clears the connection's message), else NULL. Returns -1.
 */
static int lost_connection(const exec_ctx *c, PGconn *conn, const prepared *p, const char *said, rb_error *err)
{
	rb_buf why = RB_BUF_INIT;
	if (said && !strstr(PQerrorMessage(conn), said))
		put_squeezed(&why, said);
	put_squeezed(&why, PQerrorMessage(conn));
	rb_error_set(err, RB_EXIT_ENV, p->file, p->line, p->col, "lost the connection to the server: %s; %s",
		     rb_buf_cstr(&why),
		     c->in_txn && !c->commit_riding ? "the server rolled the block's transaction back"
			       : "this statement's outcome is unknown: check before retrying");
	rb_buf_free(&why);
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
			rc = lost_connection(c, conn, p, NULL, err);
	}
	return rc;
}

/* COPY ... TO STDOUT: the data goes to the output, as with psql, or to \copy's file. */
static void copy_out(exec_ctx *c, PGconn *conn, const prepared *p)
{
	char *buf = NULL;
	int n;
	while ((n = PQgetCopyData(conn, &buf, 0)) > 0) {
		fwrite(buf, 1, (size_t)n, p->file_out ? p->file_out : c->out);
		PQfreemem(buf);
		buf = NULL;
	}
}

#define COPY_BUF 65536

/* Sends the n bytes of buf; 0, or -1 when the connection failed. */
static int put_data(PGconn *conn, const char *buf, size_t n)
{
	return n == 0 || PQputCopyData(conn, buf, (int)n) == 1 ? 0 : -1;
}

/*
 * COPY ... FROM STDIN: the data lines that follow the statement in its
 * source, or \copy's file, streamed in COPY_BUF pieces, so that data of any
 * size passes through bounded memory.
 */
static void copy_in(exec_ctx *c, PGconn *conn, prepared *p, watch *w)
{
	char *buf = rb_xmalloc(COPY_BUF);
	size_t n = 0, got;
	const char *line;
	int lineno, more = 0, ok = 0;
	rb_error rerr = RB_ERROR_INIT;
	while (p->file_in && ok == 0 && (got = fread(buf, 1, COPY_BUF, p->file_in)) > 0)
		ok = put_data(conn, buf, got);
	if (p->file_in && ferror(p->file_in))
		rb_error_set(&rerr, RB_EXIT_USAGE, p->data_file, 0, 0, "cannot read %s", p->data_file);
	while (!p->file_in && p->data && ok == 0 &&
	       (more = rb_sql_reader_copy_line(p->data, &line, &got, &lineno, &rerr)) > 0) {
		if (!p->data_line)
			p->data_line = lineno;
		if (n + got > COPY_BUF) {
			ok = put_data(conn, buf, n);
			n = 0;
			maybe_cancel(c, conn, w, c->res);
		}
		if (got > COPY_BUF)
			ok |= put_data(conn, line, got);
		else
			memcpy(buf + n, line, got), n += got;
	}
	if (ok == 0)
		put_data(conn, buf, n);
	PQputCopyEnd(conn, rerr.message);
	rb_error_clear(&rerr);
	free(buf);
}

/* \gset: the one row's columns become variables (NULL unsets); psql's errors otherwise. */
static void store_gset(exec_ctx *c, const receiving *rv, const prepared *p)
{
	const rb_rows *rows = &rv->rows;
	const char *msg = rows->row_count == 0 ? "no rows returned for \\gset"
			  : rows->row_count > 1 ? "more than one row returned for \\gset" : NULL;
	for (int k = 0; !msg && k < rows->ncols; k++) {
		char *name = rb_xasprintf("%s%s", p->gset, rows->names[k]);
		if (!rb_var_name_valid(name)) {
			fail_at(c, p->file, p->gset_line, p->gset_col, rb_xasprintf("invalid variable name: \"%s\"", name));
		} else if (rows->cells[k]) {
			rb_vars_set(writable(c), name, rows->cells[k], RB_VAR_CAPTURE);
		} else {
			rb_vars_unset(writable(c), name);
		}
		free(name);
	}
	if (msg)
		fail_at(c, p->file, p->gset_line, p->gset_col, rb_xstrdup(msg));
}

/* One result of the statement: rows taken and printed, a command tag, or an error recorded. */
static void take_result(exec_ctx *c, PGconn *conn, prepared *p, PGresult *r, receiving *rv,
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
		if (p->gset)
			store_gset(c, rv, p);
		else
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
		copy_out(c, conn, p);
		break;
	case PGRES_COPY_IN:
		copy_in(c, conn, p, &c->w);
		break;
	case PGRES_COPY_BOTH:
		PQputCopyEnd(conn, "replication (COPY BOTH) is not supported in a sql step");
		break;
	default:
		if (!rv->failed)
			record_error(res, r, conn, p);
		rv->failed = 1;
		break;
	}
}

/* An error of a control statement we add (BEGIN, COMMIT): the block's, at its first line. */
static void record_control_error(rb_sqlexec_result *res, const PGresult *r, PGconn *conn, const char *sql,
				 const char *file, int line, int col)
{
	prepared p;
	memset(&p, 0, sizeof p);
	p.text = (char *)sql;
	p.file = file;
	p.line = line;
	p.col = col;
	record_error(res, r, conn, &p);
}

/* Runs a control statement we add ourselves (BEGIN, COMMIT, ROLLBACK). */
static int control(PGconn *conn, const char *sql, rb_sqlexec_result *res, const char *file, int line,
		   int col)
{
	PGresult *r = PQexec(conn, sql);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok && res)
		record_control_error(res, r, conn, sql, file, line, col);
	PQclear(r);
	return ok ? 0 : -1;
}

/* The step's limits, as the two SETs the server gets before the block. */
typedef struct {
	char timeout[64];
	char lock[64];
} limits;

/* A limit in milliseconds as the server takes it: 0 (none) up to its largest, INT_MAX. */
static long long server_ms(int64_t ms)
{
	return ms <= 0 ? 0 : ms > INT_MAX ? INT_MAX : (long long)ms;
}

static void limits_sql(const rb_sqlexec_opts *o, limits *l)
{
	snprintf(l->timeout, sizeof l->timeout, "SET statement_timeout = %lld",
		 server_ms(o->timeout_ms > 0 ? o->timeout_ms + 1000 : 0));
	snprintf(l->lock, sizeof l->lock, "SET lock_timeout = %lld", server_ms(o->lock_timeout_ms));
}

/* Closes a transaction an earlier step left open. */
static void close_stale(const rb_sqlexec_opts *o)
{
	if (PQtransactionStatus(o->conn) != PQTRANS_IDLE)
		control(o->conn, "ROLLBACK", NULL, NULL, 0, 0);
}

/* The connection was found dead before anything of the block ran: err set, safe to run again. -1. */
static int dead_before_block(const rb_sqlexec_opts *o, rb_sqlexec_result *res, rb_error *err)
{
	char *m = rb_pq_error(o->conn);
	rb_error_set(err, RB_EXIT_ENV, o->file, o->body_line, 1,
		     "lost the connection to the server before the block started: %s", m);
	res->not_started = 1;
	free(m);
	return -1;
}

/* The step's limits, as one simple query (both SETs). 0, or -1 when the server refused them. */
static int send_limits(const rb_sqlexec_opts *o)
{
	limits l;
	limits_sql(o, &l);
	char *both = rb_xasprintf("%s; %s", l.timeout, l.lock);
	int limited = control(o->conn, both, NULL, NULL, 0, 0);
	free(both);
	return limited;
}

/*
 * Gives the server the step's limits, so that a lost client cannot leave
 * work running and no statement queues forever behind another's lock. 0,
 * or -1 with err set (and res->not_started) when the connection is gone.
 */
static int set_limits(const rb_sqlexec_opts *o, rb_sqlexec_result *res, rb_error *err)
{
	return send_limits(o) < 0 && PQstatus(o->conn) != CONNECTION_OK ? dead_before_block(o, res, err) : 0;
}

/*
 * Limits that rode in a transaction that did not commit went back with it:
 * set again, for good, for what runs next on the connection (the failure
 * handler's Lua among others). Nothing to do on a dead connection.
 */
static void restore_limits(const rb_sqlexec_opts *o)
{
	if (PQstatus(o->conn) == CONNECTION_OK && PQtransactionStatus(o->conn) == PQTRANS_IDLE)
		send_limits(o);
}

/*
 * The block's framing on its own (limits, then BEGIN when the block runs in
 * our transaction), for a block whose first item is no statement that fits
 * in a pipeline. A BEGIN that fails is recorded as the block's error:
 * nothing runs then. 0, or -1 with err set.
 */
static int send_framing(exec_ctx *c, rb_error *err)
{
	const rb_sqlexec_opts *o = c->o;
	c->framing = 0;
	if (set_limits(o, c->res, err) < 0)
		return -1;
	if (c->begin_pending) {
		c->begin_pending = 0;
		c->began = c->in_txn = control(o->conn, "BEGIN", c->res, o->file, o->body_line, 1) == 0;
	}
	return 0;
}

/*
 * The statement with what rides along (sqlpipe.h): the framing when it is
 * still to send, COMMIT with a block's only statement (or, for a lone query
 * or data change, the pipeline's own transaction instead of BEGIN and
 * COMMIT). The framing's results are read here, as send_framing would read
 * them. 0 when the
 * statement's results are next, 1 when BEGIN or the limits failed (the
 * block's error, recorded; the statement did not run), -1 with err set.
 */
static int send_piped(exec_ctx *c, PGconn *conn, const prepared *p, int commit, rb_error *err)
{
	const rb_sqlexec_opts *o = c->o;
	int framing = c->framing, begin = c->begin_pending;
	limits l;
	rb_sqlpipe_send_opts so;
	memset(&so, 0, sizeof so);
	if (framing) {
		limits_sql(o, &l);
		so.limits[0] = l.timeout;
		so.limits[1] = l.lock;
	}
	/* A query or data change alone needs no BEGIN nor COMMIT (sqlpipe.h). */
	int implicit = begin && commit && rb_sql_plain_dml(p->text, c->std_strings);
	so.begin = begin && !implicit;
	so.implicit = implicit;
	so.sql = p->text;
	so.commit = commit && !implicit;
	c->framing = c->begin_pending = 0;
	if (rb_sqlpipe_send(&c->pipe, conn, &so) < 0) {
		if (framing && PQstatus(conn) != CONNECTION_OK)
			return dead_before_block(o, c->res, err);
		char *m = rb_pq_error(conn);
		rb_error_set(err, RB_EXIT_ENV, p->file, p->line, p->col, "cannot send the statement: %s", m);
		free(m);
		return -1;
	}
	/* Sent: a connection lost from now on rolls back whatever of the block ran, unless COMMIT
	   rode along (lost_connection says which). */
	c->commit_riding = commit;
	c->in_txn |= begin;
	c->implicit = implicit;
	if (begin) {
		/* BEGIN's (unless implicit) and the limits' results come with the statement's: waited for
		   as those are. */
		PGresult *r = NULL;
		const char *failed = NULL;
		if (wait_result(c, conn, p, &c->w, c->res, err) < 0)
			return -1;
		if (!implicit) {
			r = rb_sqlpipe_take(&c->pipe, RB_SQLPIPE_BEGIN);
			c->began = c->in_txn = PQresultStatus(r) == PGRES_COMMAND_OK;
			c->commit_riding &= c->began;
			failed = c->began ? NULL : "BEGIN";
		}
		if (!failed) {
			c->limits_in_txn = 1;
			PQclear(r);
			if (wait_result(c, conn, p, &c->w, c->res, err) < 0)
				return -1;
			r = rb_sqlpipe_take(&c->pipe, RB_SQLPIPE_LIMITS);
			if (PQresultStatus(r) != PGRES_COMMAND_OK)
				failed = "SET";
		}
		if (failed)
			record_control_error(c->res, r, conn, failed, o->file, o->body_line, 1);
		PQclear(r);
		if (failed) {
			/* Said sent, so said done: the server skipped it. */
			rb_sqlpipe_finish(&c->pipe);
			if (o->on_statement)
				o->on_statement(o->statement_ctx, p->text, p->file, p->line, NULL, 0);
			c->commit_riding = 0;
			return 1;
		}
	} else if (framing) {
		/* The limits' own error does not matter; a dead connection does (nothing ran yet). */
		PQclear(rb_sqlpipe_take(&c->pipe, RB_SQLPIPE_LIMITS));
		PQclear(rb_sqlpipe_take(&c->pipe, RB_SQLPIPE_SYNC));
		if (PQstatus(conn) != CONNECTION_OK)
			return dead_before_block(o, c->res, err);
	}
	return 0;
}

/*
 * 1 when nothing waits to be read on an idle connection. Else (the server
 * closed it, or sent a NOTIFY) the framing goes the usual way, which deals
 * with that as it always did: a connection found dead before the block is
 * opened again (res->not_started).
 */
static int quiet(PGconn *conn)
{
	struct pollfd pf = {PQsocket(conn), POLLIN, 0};
	return PQstatus(conn) == CONNECTION_OK && poll(&pf, 1, 0) == 0;
}

/*
 * Sends the statement: in a pipeline when something rides with it and it
 * fits, else with PQsendQuery, after the framing if that is still to send.
 * The statement is said sent (on_statement) before anything goes, so that
 * its notices, even those of the server's parsing, come after that, as
 * they always did. 0 when its results are next (*piped set when they come
 * through the pipeline), 1 when the block failed before it ran (BEGIN), -1
 * with err set.
 */
static int send_statement(exec_ctx *c, PGconn *conn, const prepared *p, int *piped, rb_error *err)
{
	const rb_sqlexec_opts *o = c->o;
	int own = conn == o->conn;
	/* COMMIT rides with BEGIN when the statement is a plain block's only one (no \gset, \if, \i,
	   nothing else after it that could still fail the block). After a longer block's last statement
	   it goes on its own, once the statement answered: a connection lost before then leaves the
	   block's transaction rolled back for certain, as the message then says. */
	int commit = own && c->metas == 0 && c->begin_pending && c->sent + 1 == c->statements;
	c->sent++;
	*piped = own && (c->framing || commit) && rb_sqlpipe_fits(p->written, p->text, c->std_strings) && quiet(conn);
	if (!*piped && c->framing && send_framing(c, err) < 0)
		return -1;
	if (!c->res->ok)
		return 1;
	if (o->on_statement)
		o->on_statement(o->statement_ctx, p->text, p->file, p->line, NULL, -1);
	if (*piped)
		return send_piped(c, conn, p, commit, err);
	if (!PQsendQuery(conn, p->text)) {
		char *m = rb_pq_error(conn);
		rb_error_set(err, RB_EXIT_ENV, p->file, p->line, p->col, "cannot send the statement: %s", m);
		free(m);
		return -1;
	}
	return 0;
}

/*
 * Sends one statement and consumes its results. Returns 0 when it
 * succeeded, 1 when the server reported an error (recorded in res), -1 when
 * the connection failed (err set).
 */
static int exec_one(exec_ctx *c, PGconn *conn, prepared *p, watch *w, rb_sqlexec_result *res,
		    rb_error *err)
{
	int rc = -1, piped = 0;
	char *said = NULL; /* piped: the statement's error as libpq said it */
	receiving rv;
	memset(&rv, 0, sizeof rv);
	rv.keep = c->o->keep_rows ? c->o->keep_rows : 1000;
	rv.display = c->o->display_rows ? c->o->display_rows : RB_SQL_ROWS_DEFAULT;
	if (rv.keep < rv.display && rv.display != RB_SQL_ROWS_ALL)
		rv.keep = rv.display;
	if (rv.keep < 2)
		rv.keep = 2; /* \gset tells one row from several */
	char tag[64] = "";
	int64_t t0 = rb_now_ms();
	if ((rc = send_statement(c, conn, p, &piped, err)) != 0)
		goto done;
	rc = -1;
	/* Rows one at a time, so memory stays bounded; rows=all prints them all, so the result comes whole, as psql takes it. */
	if (rv.display != RB_SQL_ROWS_ALL)
		PQsetSingleRowMode(conn);
	for (;;) {
		if (wait_result(c, conn, p, w, res, err) < 0)
			goto done;
		PGresult *r = PQgetResult(conn);
		if (!r)
			break;
		if (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
			snprintf(tag, sizeof tag, "%s", PQcmdStatus(r));
		if (piped && !said && PQresultStatus(r) == PGRES_FATAL_ERROR)
			said = rb_xstrdup(PQresultErrorMessage(r));
		take_result(c, conn, p, r, &rv, res);
		PQclear(r);
		fflush(c->out);
	}
	rc = rv.failed;
	if (piped) {
		/* The rest of the pipeline, read now as PQsendQuery's ReadyForQuery would be (a dead
		   connection shows here), unless it is a COMMIT to read after a success: end_transaction's. */
		rb_sqlpipe_statement_done(&c->pipe);
		c->commit_riding &= rc == 0;
		if (!c->commit_riding)
			rb_sqlpipe_finish(&c->pipe);
	}
	if (c->o->on_statement)
		c->o->on_statement(c->o->statement_ctx, p->text, p->file, p->line, rc ? NULL : tag, rb_now_ms() - t0);
	if ((rc == 0 || piped) && PQstatus(conn) != CONNECTION_OK)
		rc = lost_connection(c, conn, p, said, err);
done:
	free(said);
	rb_rows_free(&rv.rows);
	free(rv.aligns);
	return rc;
}

/*
 * COMMIT's result, when it rode with the statement, or the commit's at the
 * sync in the pipeline's own transaction: as control("COMMIT") returns.
 */
static int riding_commit(exec_ctx *c)
{
	const rb_sqlexec_opts *o = c->o;
	PGresult *r;
	int ok;
	c->commit_riding = 0;
	if (c->implicit) {
		PQclear(rb_sqlpipe_take(&c->pipe, RB_SQLPIPE_MARK));
		r = rb_sqlpipe_take(&c->pipe, RB_SQLPIPE_SYNC);
		ok = !r && PQstatus(o->conn) == CONNECTION_OK;
	} else {
		r = rb_sqlpipe_take(&c->pipe, RB_SQLPIPE_COMMIT);
		ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	}
	if (!ok)
		record_control_error(c->res, r, o->conn, "COMMIT", o->file, o->body_line, 1);
	PQclear(r);
	if (!c->implicit)
		PQclear(rb_sqlpipe_take(&c->pipe, RB_SQLPIPE_SYNC));
	return ok ? 0 : -1;
}

/*
 * Never leaves a transaction open: commits ours after success, rolls back
 * anything else (a block that forgot its COMMIT fails). 0, or -1 with err
 * set when the connection died while COMMIT was in flight.
 */
static int end_transaction(exec_ctx *c, rb_sqlexec_result *res, rb_error *err)
{
	const rb_sqlexec_opts *o = c->o;
	int rc = 0;
	if (c->commit_riding && !res->ok) {
		/* The block failed after its last statement: the pipeline ends before ROLLBACK. */
		c->commit_riding = 0;
		rb_sqlpipe_finish(&c->pipe);
	}
	if (res->ok && (c->began || (c->implicit && c->commit_riding))) {
		int committed = c->commit_riding ? riding_commit(c)
						 : control(o->conn, "COMMIT", res, o->file, o->body_line, 1);
		c->committed = committed == 0;
		if (committed < 0) {
			if (PQstatus(o->conn) != CONNECTION_OK) {
				/* COMMIT was sent; whether it arrived is not known. */
				char *m = rb_pq_error(o->conn);
				rc = rb_error_set(err, RB_EXIT_ENV, o->file, o->body_line, 1,
						  "lost the connection while COMMIT was in flight: outcome unknown, "
						  "check the database before retrying (%s)", m);
				free(m);
			} else if (PQtransactionStatus(o->conn) != PQTRANS_IDLE) {
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

/* One statement (or \copy) sent, timed when \timing is on. 0, or -1 with err set. */
static int send_unit(exec_ctx *c, prepared *p, rb_error *err)
{
	int64_t t0 = rb_now_ms();
	int r = exec_one(c, c->conn, p, &c->w, c->res, err);
	if (r < 0)
		return -1;
	c->res->statements++;
	if (c->timing)
		fprintf(c->out, "Time: %.3f ms\n", (double)(rb_now_ms() - t0));
	return 0;
}

/*
 * Reads the whole block (and what it includes) once without running it:
 * syntax, meta-commands and their arguments, \if nesting, variables that
 * can be known, and what decides the transaction. Then the checks that
 * need all of it. 0, or -1 with err set.
 */
static int scan_block(exec_ctx *c, rb_error *err)
{
	const rb_sqlexec_opts *o = c->o;
	c->scan = 1;
	c->vars = o->vars ? o->vars : &c->shadow;
	c->keepable = 1;
	push_source(c, rb_sql_reader_string(o->body, o->file, o->body_line, c->std_strings),
		    o->body_col > 0 ? o->body_col : 1);
	int rc = walk(c, err);
	pop_source(c);
	if (!c->keepable || c->metas)
		free_kept(c);
	free(c->restrict_key);
	c->restrict_key = NULL;
	int single = o->mode == RB_TXN_SINGLE && !c->own_txn;
	if (rc == 0 && single && c->outside_file)
		rc = rb_error_set(err, RB_EXIT_USAGE, c->outside_file, c->outside_line, c->outside_col,
				  "this statement cannot run inside a transaction block: add transaction=none "
				  "to the step's attributes");
	if (rc == 0 && single && c->connect_file)
		rc = rb_error_set(err, RB_EXIT_USAGE, c->connect_file, c->connect_line, c->connect_col,
				  "\\c in a block that runs as one transaction: add transaction=none to the "
				  "step's attributes");
	c->scan = 0;
	c->vars = o->vars;
	return rc;
}

/* The block's own \c connection, if any, is closed; one it left in a transaction fails the block. */
static void close_own(exec_ctx *c)
{
	if (!c->own_conn)
		return;
	if (c->res->ok && PQtransactionStatus(c->own_conn) != PQTRANS_IDLE)
		fail_at(c, c->o->file, c->o->body_line, 1,
			rb_xstrdup("the block ended inside a transaction it opened after \\c (BEGIN without "
				   "COMMIT); it was rolled back"));
	PQfinish(c->own_conn);
	c->own_conn = NULL;
	c->conn = c->o->conn;
}

int rb_sqlexec_run(const rb_sqlexec_opts *o, rb_sqlexec_result *res, rb_error *err)
{
	int rc = -1;
	exec_ctx c;
	int64_t start = rb_now_ms();
	memset(res, 0, sizeof *res);
	memset(&c, 0, sizeof c);
	c.o = o;
	c.out = o->out;
	c.warn = o->warn;
	c.res = res;
	c.conn = o->conn;
	res->ok = 1;
	if (!c.out) {
		rb_error_set(err, RB_EXIT_USAGE, o->file, o->body_line, 1, "no output stream for the block's results");
		goto done;
	}
	const char *scs = PQparameterStatus(o->conn, "standard_conforming_strings");
	c.std_strings = !scs || !strcmp(scs, "on");
	if (scan_block(&c, err) < 0)
		goto done;
	close_stale(o);
	c.w.deadline = o->timeout_ms > 0 ? start + o->timeout_ms : INT64_MAX;
	c.w.next_poll = o->poll && o->poll_every_ms > 0 ? start + o->poll_every_ms : INT64_MAX;
	/* The limits and BEGIN: with the block's first statement when it starts with one (the walk
	   sends it before anything else), else now. */
	c.framing = 1;
	c.begin_pending = o->mode == RB_TXN_SINGLE && !c.own_txn && c.units;
	if (!c.first_is_statement && send_framing(&c, err) < 0)
		goto done;
	if (res->ok) {
		int ran;
		if (c.nkept) {
			ran = replay(&c, err);
		} else {
			push_source(&c, rb_sql_reader_string(o->body, o->file, o->body_line, c.std_strings),
				    o->body_col > 0 ? o->body_col : 1);
			ran = walk(&c, err);
		}
		while (c.depth)
			pop_source(&c);
		close_own(&c);
		if (ran < 0)
			goto done;
	}
	if (end_transaction(&c, res, err) < 0)
		goto done;
	rc = 0;
done:
	rb_sqlpipe_finish(&c.pipe);
	close_own(&c);
	while (c.depth)
		pop_source(&c);
	if (rc < 0 && PQstatus(o->conn) == CONNECTION_OK && PQtransactionStatus(o->conn) != PQTRANS_IDLE)
		control(o->conn, "ROLLBACK", NULL, NULL, 0, 0);
	if (c.limits_in_txn && !c.committed)
		restore_limits(o);
	res->duration_ms = rb_now_ms() - start;
	if (c.out)
		fflush(c.out);
	free_kept(&c);
	free(c.restrict_key);
	free(c.outside_file);
	free(c.connect_file);
	rb_vars_free(&c.shadow);
	return rc;
}
