/*
 * db.c - connections and connection-string redaction.
 */
#define _POSIX_C_SOURCE 200809L
#include "db.h"
#include "output.h"
#include "signals.h"
#include "visible.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define DEFAULT_CONNECT_TIMEOUT_MS 10000

typedef struct {
	char *name;   /* "" for the default */
	char *dsn;    /* as written; NULL: DATABASE_URL or libpq defaults */
	PGconn *conn;
} rb_db;

struct rb_dbset {
	rb_db *dbs;
	size_t n;
	rb_redactor *redactor;  /* not owned; NULL: nothing to hide */
	rb_db_notice_fn notice; /* where notices go; NULL: stderr */
	void *notice_ctx;
	int noted_old_server;
	rb_db_session session;  /* strings not owned */
};

rb_dbset *rb_dbset_new(const char *default_dsn, const char *const *names,
		       const char *const *dsns, size_t n)
{
	rb_dbset *s = rb_xcalloc(1, sizeof *s);
	s->dbs = rb_xcalloc(n + 1, sizeof *s->dbs);
	s->dbs[0].name = rb_xstrdup("");
	s->dbs[0].dsn = default_dsn ? rb_xstrdup(default_dsn) : NULL;
	for (size_t i = 0; i < n; i++) {
		s->dbs[i + 1].name = rb_xstrdup(names[i]);
		s->dbs[i + 1].dsn = rb_xstrdup(dsns[i]);
	}
	s->n = n + 1;
	return s;
}

static rb_db *find(const rb_dbset *s, const char *name)
{
	if (!name)
		name = "";
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->dbs[i].name, name))
			return &s->dbs[i];
	return NULL;
}

void rb_dbset_set_redactor(rb_dbset *set, rb_redactor *r)
{
	set->redactor = r;
}

void rb_dbset_set_notice(rb_dbset *set, rb_db_notice_fn fn, void *ctx)
{
	set->notice = fn;
	set->notice_ctx = ctx;
}

void rb_dbset_configure(rb_dbset *set, const rb_db_session *session)
{
	set->session = *session;
}

/* Shows notices as they arrive, on stderr, like psql: secrets hidden, controls visible. */
static void notice_receiver(void *arg, const PGresult *res)
{
	const rb_dbset *set = arg;
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	char *line = rb_xasprintf("%s:  %s", sev ? sev : "NOTICE", msg ? msg : "");
	char *hidden = rb_redact(set->redactor, line);
	char *shown = rb_visible(hidden);
	rb_buf b = RB_BUF_INIT;
	rb_buf_printf(&b, "%s\n", shown);
	if (set->notice)
		set->notice(set->notice_ctx, b.data, b.len);
	else
		rb_out_write(2, b.data, b.len);
	rb_buf_free(&b);
	free(shown);
	free(hidden);
	free(line);
}

/* connect_timeout from the connection string (seconds), else the default; in ms. */
static int64_t connect_timeout_ms(const char *dsn, int64_t fallback)
{
	int64_t ms = fallback > 0 ? fallback : DEFAULT_CONNECT_TIMEOUT_MS;
	char *errmsg = NULL;
	PQconninfoOption *opts = PQconninfoParse(dsn, &errmsg);
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		if (!strcmp(o->keyword, "connect_timeout") && o->val && atoi(o->val) > 0)
			ms = (int64_t)atoi(o->val) * 1000;
	PQconninfoFree(opts);
	PQfreemem(errmsg);
	return ms;
}

/*
 * Connects without blocking signals out: PQconnectStart/PQconnectPoll in a
 * poll() loop that also watches the signal pipe and a deadline, so Ctrl-C
 * and SIGTERM are honoured within the poll interval and a server that
 * accepts but never answers costs at most the connect timeout.
 * Returns the connection (CONNECTION_OK), or NULL with *why set (malloc'd)
 * and *code an RB_EXIT_* value.
 */
static PGconn *connect_async(const rb_dbset *set, const char *dsn, char **why, int *code)
{
	int64_t limit = connect_timeout_ms(dsn, set->session.connect_timeout_ms);
	int64_t deadline = rb_now_ms() + limit;
	/* TCP keepalives first, so that the connection string's own win; the
	 * application name last, so that pg_stat_activity names this run. */
	const char *keys[] = {"keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
			      "dbname", "application_name", NULL};
	const char *values[] = {"1", "30", "10", "3", dsn, set->session.application_name, NULL};
	PGconn *c = PQconnectStartParams(keys, values, 1);
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	*why = NULL;
	*code = RB_EXIT_ENV;
	if (!c) {
		*why = rb_xstrdup("out of memory");
		goto fail;
	}
	if (PQstatus(c) == CONNECTION_BAD)
		goto bad;
	while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
		struct pollfd p[2] = {{PQsocket(c), (short)(st == PGRES_POLLING_READING ? POLLIN : POLLOUT), 0},
				      {rb_signals_fd(), POLLIN, 0}};
		int64_t left = deadline - rb_now_ms();
		if (rb_signals_interrupted()) {
			*code = 128 + rb_signals_interrupted();
			*why = rb_xstrdup("interrupted while connecting");
			goto fail;
		}
		if (left <= 0) {
			*why = rb_xasprintf("no answer within the connect timeout (%lds)", (long)(limit / 1000));
			goto fail;
		}
		int n = poll(p, p[1].fd >= 0 ? 2 : 1, (int)(left < 100 ? left : 100));
		if (n < 0 && errno != EINTR) {
			*why = rb_xasprintf("poll: %s", strerror(errno));
			goto fail;
		}
		if (n > 0 && p[1].revents)
			rb_signals_drain();
		if (n > 0 && p[0].revents)
			st = PQconnectPoll(c);
	}
	if (st == PGRES_POLLING_OK)
		return c;
bad:
	*why = rb_pq_error(c);
fail:
	PQfinish(c);
	return NULL;
}

int rb_dbset_get(rb_dbset *set, const char *name, const rb_vars *vars, PGconn **out,
		 rb_error *err)
{
	int rc = -1;
	char *dsn = NULL, *missing = NULL, *shown = NULL;
	rb_db *db = find(set, name);
	if (!db) {
		rb_error_set(err, RB_EXIT_USAGE, NULL, 0, 0,
			     "no database named '%s' (declare it under the front matter's databases:)",
			     name);
		goto done;
	}
	if (db->conn && PQstatus(db->conn) == CONNECTION_OK) {
		*out = db->conn;
		rc = 0;
		goto done;
	}
	if (db->conn) {
		/* The server went away (restarted, say): open a fresh connection. */
		PQfinish(db->conn);
		db->conn = NULL;
	}
	if (db->dsn) {
		dsn = rb_vars_expand(vars, db->dsn, &missing);
		if (!dsn) {
			rb_error_set(err, RB_EXIT_USAGE, NULL, 0, 0,
				     "database%s%s: variable %s is not set (set it, pass --set %s=..., or use --db)",
				     *db->name ? " " : "", db->name, missing, missing);
			goto done;
		}
	} else {
		const char *url = rb_vars_get(vars, "DATABASE_URL");
		dsn = rb_xstrdup(url ? url : "");
	}
	/* A password that came from a variable is hidden before anything can show it. */
	rb_dsn_add_secrets(set->redactor, dsn);
	int code = RB_EXIT_ENV;
	char *msg = NULL;
	db->conn = connect_async(set, dsn, &msg, &code);
	if (!db->conn) {
		size_t k = strlen(msg);
		while (k && (msg[k - 1] == '\n' || msg[k - 1] == ' '))
			msg[--k] = '\0';
		shown = rb_dsn_redact(*dsn ? dsn : "(libpq defaults)");
		char *hidden = rb_redact(set->redactor, msg);
		rb_error_set(err, code, NULL, 0, 0, "cannot connect to %s at %s: %s",
			     *db->name ? db->name : "the database", shown, hidden);
		free(hidden);
		free(msg);
		goto done;
	}
	/* Interpolation quotes byte-wise, which is safe in UTF-8: talk UTF-8. */
	PQsetClientEncoding(db->conn, "UTF8");
	PQsetNoticeReceiver(db->conn, notice_receiver, set);
	/* If runbook dies mid-statement, the server notices within a second that
	 * nobody listens and cancels the statement (PostgreSQL 14 and later). */
	if (PQserverVersion(db->conn) >= 140000)
		PQclear(PQexec(db->conn, "SET client_connection_check_interval = 1000"));
	else if (!set->noted_old_server) {
		set->noted_old_server = 1;
		rb_out_err("runbook: note: the server is older than PostgreSQL 14: a statement outlives a "
			"runbook that dies (no client_connection_check_interval)\n");
	}
	if (set->session.on_connect)
		set->session.on_connect(set->session.ctx, db->name, db->conn);
	char *why = NULL;
	if (set->session.check && set->session.check(set->session.check_ctx, db->name, db->conn, &why) < 0) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "%s", why ? why : "the connection was refused");
		free(why);
		PQfinish(db->conn);
		db->conn = NULL;
		goto done;
	}
	*out = db->conn;
	rc = 0;
done:
	free(dsn);
	free(missing);
	free(shown);
	return rc;
}

/*
 * Waits for the results of what was sent on c, cancelling the statement once
 * when a signal arrives or the deadline passes. Keeps the last result in
 * *last (caller clears). Returns 0, or -1 with *error (malloc'd).
 */
static int wait_results(PGconn *c, int64_t deadline, PGresult **last, char **error)
{
	int cancelled = 0;
	*last = NULL;
	for (;;) {
		while (PQisBusy(c)) {
			int64_t now = rb_now_ms();
			if (!cancelled && (rb_signals_interrupted() || now >= deadline)) {
				char buf[256];
				PGcancel *k = PQgetCancel(c);
				if (k) {
					PQcancel(k, buf, sizeof buf);
					PQfreeCancel(k);
				}
				cancelled = rb_signals_interrupted() ? 2 : 1;
				deadline = now + 2000; /* for the cancel to come back */
			} else if (cancelled && now >= deadline) {
				*error = rb_xstrdup("the server did not answer the cancel request");
				return -1;
			}
			struct pollfd p[2] = {{PQsocket(c), POLLIN, 0}, {rb_signals_fd(), POLLIN, 0}};
			int64_t left = deadline - now;
			if (poll(p, 2, (int)(left < 0 ? 0 : left > 100 ? 100 : left)) > 0 && p[1].revents)
				rb_signals_drain();
			if (!PQconsumeInput(c)) {
				*error = rb_pq_error(c);
				return -1;
			}
		}
		PGresult *r = PQgetResult(c);
		if (!r)
			break;
		PQclear(*last);
		*last = r;
	}
	if (cancelled) {
		*error = rb_xstrdup(cancelled == 2 ? "interrupted" : "time limit of the evaluation reached");
		PQclear(*last);
		*last = NULL;
		return -1;
	}
	return 0;
}

int rb_db_query_readonly(PGconn *c, const char *query, const char *const *params, int nparams,
			 int64_t deadline, PGresult **out, char **error)
{
	int rc = -1;
	PGresult *r = NULL;
	int64_t left = deadline - rb_now_ms();
	*out = NULL;
	*error = NULL;
	if (left <= 0) {
		*error = rb_xstrdup("time limit of the evaluation reached");
		goto done;
	}
	char *begin = rb_xasprintf("BEGIN READ ONLY; SET LOCAL statement_timeout = %ld", (long)left);
	int sent = PQsendQuery(c, begin);
	free(begin);
	if (!sent || wait_results(c, deadline, &r, error) < 0)
		goto rollback;
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		*error = rb_trim_dup(PQresultErrorMessage(r));
		goto rollback;
	}
	PQclear(r);
	r = NULL;
	if (!PQsendQueryParams(c, query, nparams, NULL, params, NULL, NULL, 0) ||
	    wait_results(c, deadline, &r, error) < 0)
		goto rollback;
	*out = r;
	r = NULL;
	rc = 0;
rollback:
	if (!*error && rc < 0)
		*error = rb_pq_error(c);
	PQclear(r);
	r = NULL;
	if (PQtransactionStatus(c) != PQTRANS_IDLE && PQsendQuery(c, "ROLLBACK")) {
		char *ignored = NULL;
		if (wait_results(c, rb_now_ms() + 2000, &r, &ignored) < 0)
			free(ignored);
		PQclear(r);
	}
done:
	return rc;
}

char *rb_db_application_name(const char *slug, const char *run_id)
{
	char *short_slug = rb_xstrndup(slug ? slug : "", 16);
	char *name = run_id ? rb_xasprintf("runbook/%s/%s", short_slug, run_id)
			    : rb_xasprintf("runbook/%s/pid%ld", short_slug, (long)getpid());
	if (strlen(name) > 63)
		name[63] = '\0'; /* the server keeps 63 bytes (NAMEDATALEN) */
	free(short_slug);
	return name;
}

char *rb_pq_error(const PGconn *c)
{
	rb_buf b = RB_BUF_INIT;
	int space = 0;
	for (const char *p = c ? PQerrorMessage(c) : "out of memory"; *p; p++) {
		int ws = *p == ' ' || *p == '\t' || *p == '\n' || *p == '\r';
		if (ws) {
			space = b.len > 0;
			continue;
		}
		if (space)
			rb_buf_putc(&b, ' ');
		space = 0;
		rb_buf_putc(&b, *p);
	}
	return rb_buf_detach(&b);
}

char *rb_db_blocker(PGconn *monitor, int pid)
{
	char *text = NULL, *error = NULL;
	PGresult *r = NULL;
	char p[16];
	snprintf(p, sizeof p, "%d", pid);
	const char *params[] = {p};
	const char *q =
		"select a.pid, coalesce(a.application_name, ''), coalesce(a.state, ''), "
		"coalesce(extract(epoch from now() - coalesce(a.xact_start, a.query_start))::bigint, 0), "
		"coalesce(split_part(a.query, E'\\n', 1), ''), "
		/* state is NULL when the session's details are hidden from the connecting role */
		"a.state is null, coalesce(a.usename::text, ''), current_user "
		"from pg_stat_activity a where a.pid = any(pg_blocking_pids($1::int)) order by a.xact_start limit 1";
	if (rb_db_query_readonly(monitor, q, params, 1, rb_now_ms() + 2000, &r, &error) < 0 ||
	    PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1)
		goto done;
	if (!strcmp(PQgetvalue(r, 0, 5), "t"))
		text = rb_xasprintf("pid %s (application_name '%s', user '%s'; its state and query are hidden from "
				    "role '%s', which needs pg_read_all_stats to see them)",
				    PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 6), PQgetvalue(r, 0, 7));
	else
		text = rb_xasprintf("pid %s (application_name '%s', %s, in a transaction for %ss, query: %.200s)",
				    PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2),
				    PQgetvalue(r, 0, 3), PQgetvalue(r, 0, 4));
done:
	PQclear(r);
	free(error);
	return text;
}

char *rb_db_target(PGconn *c)
{
	const char *host = PQhost(c);
	return rb_xasprintf("host=%s port=%s dbname=%s user=%s", host && *host ? host : "(socket)", PQport(c),
			    PQdb(c), PQuser(c));
}

char *rb_dbset_describe(const rb_dbset *set, const char *name)
{
	const rb_db *db = find(set, name);
	if (!db)
		return rb_xasprintf("%s (undeclared)", name);
	if (!db->dsn)
		return rb_xstrdup("DATABASE_URL or libpq defaults (PG* variables)");
	return rb_dsn_redact(db->dsn);
}

void rb_dbset_free(rb_dbset *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++) {
		PGconn *c = set->dbs[i].conn;
		if (c && PQtransactionStatus(c) != PQTRANS_IDLE) {
			PGresult *r = PQexec(c, "ROLLBACK");
			PQclear(r);
		}
		PQfinish(c);
		free(set->dbs[i].name);
		free(set->dbs[i].dsn);
	}
	free(set->dbs);
	free(set);
}

/*
 * Connection strings' passwords.
 *
 * What the passwords are (password= and sslpassword=) is libpq's to say:
 * PQconninfoParse reads the string as a connection will. Where they are
 * written is found by scanning the text the way libpq does, erring on the
 * side of hiding more: a URL's userinfo after its first ':' (up to the
 * last '@' before the next '/' or '?', where libpq stops at the first '@'),
 * every password or sslpassword query parameter (its name percent-decoded,
 * any case) up to the next '&', every password/sslpassword keyword's value
 * up to the next unescaped blank (or its closing quote; an unterminated
 * quote runs to the end). The redacted copy is then read by libpq again:
 * when it does not give "***" for every password the original gives, every
 * occurrence of the password, written in any way libpq would read it (its
 * bytes as is, percent-encoded or backslash-escaped), is hidden as well.
 * A string libpq refuses is redacted from its text alone.
 */

enum { SECRET_NONE, SECRET_PASSWORD, SECRET_SSLPASSWORD, NSECRET };
static const char *const secret_keywords[NSECRET] = {NULL, "password", "sslpassword"};

/* A password value as written: dsn[start, end), and what libpq reads there. */
typedef struct {
	size_t start, end;
	int key;      /* SECRET_PASSWORD or SECRET_SSLPASSWORD */
	char *value;  /* decoded: percent-decoding (URL), quotes and escapes (key=value) */
} dsn_span;

typedef struct {
	dsn_span *v;
	size_t n;
} dsn_spans;

static void spans_add(dsn_spans *s, size_t start, size_t end, int key, char *value)
{
	s->v = rb_xrealloc(s->v, (s->n + 1) * sizeof *s->v);
	s->v[s->n++] = (dsn_span){start, end, key, value};
}

static void spans_free(dsn_spans *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].value);
	free(s->v);
}

/* The last span of key, or NULL. */
static const dsn_span *spans_last(const dsn_spans *s, int key)
{
	for (size_t i = s->n; i > 0; i--)
		if (s->v[i - 1].key == key)
			return &s->v[i - 1];
	return NULL;
}

/* SECRET_PASSWORD or SECRET_SSLPASSWORD when key[0, n) names one (any case), else SECRET_NONE. */
static int secret_key(const char *key, size_t n)
{
	for (int k = SECRET_PASSWORD; k < NSECRET; k++)
		if (strlen(secret_keywords[k]) == n && !strncasecmp(key, secret_keywords[k], n))
			return k;
	return SECRET_NONE;
}

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

/* s[0, n) percent-decoded; a '%' not followed by two hex digits is kept. */
static char *pct_decode(const char *s, size_t n)
{
	rb_buf b = RB_BUF_INIT;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			rb_buf_putc(&b, (char)(hexval(s[i + 1]) * 16 + hexval(s[i + 2])));
			i += 2;
		} else {
			rb_buf_putc(&b, s[i]);
		}
	}
	return rb_buf_detach(&b);
}

/* The length of libpq's URI prefix dsn starts with (case-sensitive, as for libpq), or 0. */
static size_t url_prefix(const char *dsn)
{
	if (!strncmp(dsn, "postgresql://", 13))
		return 13;
	if (!strncmp(dsn, "postgres://", 11))
		return 11;
	return 0;
}

/*
 * A URL's userinfo. libpq ends it at the first '@' before the first '/'
 * (first), and reads the password from after the first ':' before it. The
 * redaction runs it to the last '@' (last) before the next '/' or '?', so
 * that a raw '@' in the password does not show the rest of it. colon: the
 * first ':' before last, or NULL.
 */
typedef struct {
	const char *first, *last, *colon;
} url_userinfo;

/* 1 and *u when the URL whose authority starts at authority has a userinfo, else 0. */
static int find_userinfo(const char *authority, url_userinfo *u)
{
	size_t n = strcspn(authority, "@/");
	if (authority[n] != '@')
		return 0;
	u->first = u->last = authority + n;
	for (const char *p = u->first; *p && *p != '/' && *p != '?'; p++)
		if (*p == '@')
			u->last = p;
	u->colon = memchr(authority, ':', (size_t)(u->last - authority));
	return 1;
}

static void url_spans(const char *dsn, const char *authority, dsn_spans *out)
{
	url_userinfo u;
	const char *query = authority;
	if (find_userinfo(authority, &u)) {
		if (u.colon)
			spans_add(out, (size_t)(u.colon + 1 - dsn), (size_t)(u.last - dsn), SECRET_PASSWORD,
				  pct_decode(u.colon + 1, (size_t)(u.last - u.colon - 1)));
		query = u.last + 1;
	}
	const char *q = strchr(query, '?');
	while (q) {
		const char *param = q + 1;
		size_t len = strcspn(param, "&");
		const char *eq = memchr(param, '=', len);
		if (eq) {
			char *name = pct_decode(param, (size_t)(eq - param));
			int k = secret_key(name, strlen(name));
			free(name);
			if (k)
				spans_add(out, (size_t)(eq + 1 - dsn), (size_t)(param + len - dsn), k,
					  pct_decode(eq + 1, (size_t)(param + len - eq - 1)));
		}
		q = param[len] ? param + len : NULL;
	}
}

static void kv_spans(const char *dsn, dsn_spans *out)
{
	const char *p = dsn;
	while (*p) {
		if (isspace((unsigned char)*p)) {
			p++;
			continue;
		}
		const char *key = p;
		while (*p && *p != '=' && !isspace((unsigned char)*p))
			p++;
		size_t keylen = (size_t)(p - key);
		while (isspace((unsigned char)*p))
			p++;
		if (*p != '=')
			continue; /* libpq refuses the string; read on from the next word */
		p++;
		while (isspace((unsigned char)*p))
			p++;
		const char *v = p;
		rb_buf val = RB_BUF_INIT;
		if (*p == '\'') {
			p++;
			while (*p && *p != '\'') {
				if (*p == '\\' && !*++p)
					break;
				rb_buf_putc(&val, *p++);
			}
			if (*p)
				p++; /* the closing quote; an unterminated value runs to the end */
		} else {
			while (*p && !isspace((unsigned char)*p)) {
				if (*p == '\\' && !*++p)
					break;
				rb_buf_putc(&val, *p++);
			}
		}
		int k = secret_key(key, keylen);
		if (k)
			spans_add(out, (size_t)(v - dsn), (size_t)(p - dsn), k, rb_buf_detach(&val));
		else
			rb_buf_free(&val);
	}
}

/* Where dsn writes a password, in order. A string that is neither a URL
 * nor key=value is a database name to libpq: it holds no password. */
static void find_spans(const char *dsn, dsn_spans *out)
{
	size_t prefix = url_prefix(dsn);
	if (prefix)
		url_spans(dsn, dsn + prefix, out);
	else if (strchr(dsn, '='))
		kv_spans(dsn, out);
}

/* dsn with every span replaced by "***"; for_libpq: with a blank after
 * each key=value one that a keyword follows at once ('x'host=h), so that
 * libpq reads the copy as it read dsn. */
static char *hide_spans(const char *dsn, const dsn_spans *spans, int for_libpq)
{
	rb_buf b = RB_BUF_INIT;
	size_t done = 0;
	for (size_t i = 0; i < spans->n; i++) {
		const dsn_span *s = &spans->v[i];
		if (s->start < done) { /* in order; one that overlaps the last extends it */
			done = s->end > done ? s->end : done;
			continue;
		}
		rb_buf_add(&b, dsn + done, s->start - done);
		rb_buf_puts(&b, "***");
		done = s->end;
		if (for_libpq && !url_prefix(dsn) && dsn[done] && !isspace((unsigned char)dsn[done]))
			rb_buf_putc(&b, ' ');
	}
	rb_buf_puts(&b, dsn + done);
	return rb_buf_detach(&b);
}

/* The passwords libpq reads from dsn, in secret[SECRET_PASSWORD] and
 * secret[SECRET_SSLPASSWORD] (malloc'd; NULL when not given). Returns 0,
 * or -1 when libpq does not accept dsn (then nothing is set). */
static int libpq_secrets(const char *dsn, char *secret[NSECRET])
{
	char *errmsg = NULL;
	PQconninfoOption *opts = PQconninfoParse(dsn, &errmsg);
	int rc = opts ? 0 : -1;
	for (int k = 0; k < NSECRET; k++)
		secret[k] = NULL;
	for (PQconninfoOption *o = opts; o && o->keyword; o++)
		for (int k = SECRET_PASSWORD; k < NSECRET; k++)
			if (o->val && !strcmp(o->keyword, secret_keywords[k]))
				secret[k] = rb_xstrdup(o->val);
	PQconninfoFree(opts);
	PQfreemem(errmsg);
	return rc;
}

static void secrets_free(char *secret[NSECRET])
{
	for (int k = 0; k < NSECRET; k++)
		free(secret[k]);
}

/* 1 when libpq reads "***" from dsn with its spans hidden for every
 * password it reads from dsn (secret). */
static int hides_what_libpq_reads(const char *dsn, const dsn_spans *spans, char *const secret[NSECRET])
{
	int need = 0;
	for (int k = SECRET_PASSWORD; k < NSECRET; k++)
		need |= secret[k] && *secret[k];
	if (!need)
		return 1;
	char *now[NSECRET];
	char *redacted = hide_spans(dsn, spans, 1);
	int parsed = libpq_secrets(redacted, now);
	free(redacted);
	if (parsed < 0)
		return 0;
	int ok = 1;
	for (int k = SECRET_PASSWORD; k < NSECRET; k++)
		if (secret[k] && *secret[k] && (!now[k] || strcmp(now[k], "***")))
			ok = 0;
	secrets_free(now);
	return ok;
}

/* The length of the text at t that libpq would read as value (each byte
 * as is, percent-encoded or backslash-escaped), or 0. */
static size_t written_as(const char *t, const char *value)
{
	size_t j = 0;
	for (const char *v = value; *v; v++) {
		if (t[j] == '%' && hexval(t[j + 1]) >= 0 && hexval(t[j + 2]) >= 0 &&
		    hexval(t[j + 1]) * 16 + hexval(t[j + 2]) == (unsigned char)*v)
			j += 3;
		else if (t[j] == '\\' && t[j + 1] == *v)
			j += 2;
		else if (t[j] == *v)
			j++;
		else
			return 0;
	}
	return j;
}

/* text with every occurrence of value, however written, replaced by "***". Frees text. */
static char *hide_everywhere(char *text, const char *value)
{
	rb_buf b = RB_BUF_INIT;
	for (const char *p = text; *p;) {
		size_t n = written_as(p, value);
		if (n) {
			rb_buf_puts(&b, "***");
			p += n;
		} else {
			rb_buf_putc(&b, *p++);
		}
	}
	free(text);
	return rb_buf_detach(&b);
}

char *rb_dsn_redact(const char *dsn)
{
	dsn_spans spans = {NULL, 0};
	char *secret[NSECRET];
	find_spans(dsn, &spans);
	char *out = hide_spans(dsn, &spans, 0);
	if (libpq_secrets(dsn, secret) == 0) {
		if (!hides_what_libpq_reads(dsn, &spans, secret))
			for (int k = SECRET_PASSWORD; k < NSECRET; k++)
				if (secret[k] && *secret[k])
					out = hide_everywhere(out, secret[k]);
		secrets_free(secret);
	}
	spans_free(&spans);
	return out;
}

/*
 * When pw is the password libpq reads from a URL's userinfo cut at a raw
 * '@' ("p" in postgres://u:p@ss@h), the whole of it ("p@ss"), else NULL:
 * libpq's piece is only the start of what was meant.
 */
static char *whole_userinfo_password(const char *dsn, const char *pw)
{
	url_userinfo u;
	size_t prefix = url_prefix(dsn);
	char *piece, *whole = NULL;
	if (!prefix || !find_userinfo(dsn + prefix, &u) || !u.colon || u.colon > u.first || u.last == u.first)
		return NULL;
	piece = pct_decode(u.colon + 1, (size_t)(u.first - u.colon - 1));
	if (!strcmp(piece, pw))
		whole = pct_decode(u.colon + 1, (size_t)(u.last - u.colon - 1));
	free(piece);
	return whole;
}

/* The password of kind key libpq reads from dsn (spans: where dsn writes
 * them), or NULL; "" only for a password written as ''. */
static char *password_of(const char *dsn, const dsn_spans *spans, int key)
{
	char *secret[NSECRET];
	const dsn_span *last = spans_last(spans, key);
	char *pw = NULL;
	if (libpq_secrets(dsn, secret) == 0) {
		pw = secret[key];
		secret[key] = NULL;
		secrets_free(secret);
		char *whole = pw && key == SECRET_PASSWORD ? whole_userinfo_password(dsn, pw) : NULL;
		if (whole) {
			free(pw);
			pw = whole;
		}
		if (pw && !*pw && !(last && last->end > last->start)) {
			free(pw);
			pw = NULL;
		}
	} else if (last && *last->value) {
		pw = rb_xstrdup(last->value); /* libpq refuses dsn: the last one written */
	}
	return pw;
}

char *rb_dsn_password(const char *dsn)
{
	dsn_spans spans = {NULL, 0};
	find_spans(dsn, &spans);
	char *pw = password_of(dsn, &spans, SECRET_PASSWORD);
	spans_free(&spans);
	return pw;
}

void rb_dsn_add_secrets(rb_redactor *r, const char *dsn)
{
	dsn_spans spans = {NULL, 0};
	if (!r || !dsn)
		return;
	find_spans(dsn, &spans);
	for (int k = SECRET_PASSWORD; k < NSECRET; k++) {
		char *pw = password_of(dsn, &spans, k);
		if (!pw)
			continue;
		rb_redactor_add(r, pw);
		/* ... and as written, when that differs (percent-encoded, escaped) */
		for (size_t i = 0; i < spans.n; i++) {
			const dsn_span *s = &spans.v[i];
			if (s->key != k || strcmp(s->value, pw))
				continue;
			size_t from = s->start, to = s->end;
			if (!url_prefix(dsn) && to - from >= 2 && dsn[from] == '\'' && dsn[to - 1] == '\'') {
				from++;
				to--;
			}
			char *written = rb_xstrndup(dsn + from, to - from);
			rb_redactor_add(r, written);
			free(written);
		}
		free(pw);
	}
	spans_free(&spans);
}

int rb_dsn_scrub(char *dsn)
{
	dsn_spans spans = {NULL, 0};
	int n = 0;
	find_spans(dsn, &spans);
	for (size_t i = 0; i < spans.n; i++) {
		if (spans.v[i].end > spans.v[i].start) {
			memset(dsn + spans.v[i].start, '*', spans.v[i].end - spans.v[i].start);
			n++;
		}
	}
	spans_free(&spans);
	return n;
}
