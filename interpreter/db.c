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
	rb_out_write(2, shown, strlen(shown));
	rb_out_write(2, "\n", 1);
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
	char *pw = rb_dsn_password(dsn);
	if (pw && set->redactor)
		rb_redactor_add(set->redactor, pw);
	free(pw);
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
		"coalesce(split_part(a.query, E'\\n', 1), '') "
		"from pg_stat_activity a where a.pid = any(pg_blocking_pids($1::int)) order by a.xact_start limit 1";
	if (rb_db_query_readonly(monitor, q, params, 1, rb_now_ms() + 2000, &r, &error) < 0 ||
	    PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) < 1)
		goto done;
	text = rb_xasprintf("pid %s (application_name '%s', %s, in a transaction for %ss, query: %.200s)",
			    PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3),
			    PQgetvalue(r, 0, 4));
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

/* The span [*start, *end) of the password in dsn, or 0 when there is none. */
static int password_span(const char *dsn, size_t *start, size_t *end)
{
	const char *scheme = strstr(dsn, "://");
	if (scheme && (!strncmp(dsn, "postgres://", 11) || !strncmp(dsn, "postgresql://", 13))) {
		const char *auth = scheme + 3;
		const char *stop = auth + strcspn(auth, "/?");
		const char *at = NULL;
		for (const char *p = auth; p < stop; p++)
			if (*p == '@')
				at = p;
		if (at) {
			const char *colon = memchr(auth, ':', (size_t)(at - auth));
			if (colon) {
				*start = (size_t)(colon + 1 - dsn);
				*end = (size_t)(at - dsn);
				return 1;
			}
		}
		const char *q = strchr(stop, '?');
		while (q) {
			q++;
			if (!strncmp(q, "password=", 9)) {
				*start = (size_t)(q + 9 - dsn);
				*end = *start + strcspn(q + 9, "&");
				return 1;
			}
			q = strchr(q, '&');
		}
		return 0;
	}
	/* key=value form: password = 'quoted \' value' or bare */
	const char *p = dsn;
	while ((p = strstr(p, "password")) != NULL) {
		if (p != dsn && !isspace((unsigned char)p[-1])) {
			p += 8;
			continue;
		}
		const char *v = p + 8;
		while (isspace((unsigned char)*v))
			v++;
		if (*v != '=') {
			p += 8;
			continue;
		}
		v++;
		while (isspace((unsigned char)*v))
			v++;
		const char *e = v;
		if (*v == '\'') {
			e = v + 1;
			while (*e && *e != '\'') {
				if (*e == '\\' && e[1])
					e++;
				e++;
			}
			if (*e)
				e++;
		} else {
			while (*e && !isspace((unsigned char)*e))
				e++;
		}
		*start = (size_t)(v - dsn);
		*end = (size_t)(e - dsn);
		return 1;
	}
	return 0;
}

char *rb_dsn_redact(const char *dsn)
{
	rb_buf b = RB_BUF_INIT;
	const char *rest = dsn;
	size_t s, e;
	while (password_span(rest, &s, &e)) {
		rb_buf_add(&b, rest, s);
		rb_buf_puts(&b, "***");
		rest += e;
	}
	rb_buf_puts(&b, rest);
	return rb_buf_detach(&b);
}

char *rb_dsn_password(const char *dsn)
{
	size_t s, e;
	if (!password_span(dsn, &s, &e) || e == s)
		return NULL;
	const char *v = dsn + s;
	size_t n = e - s;
	if (n >= 2 && v[0] == '\'' && v[n - 1] == '\'') {
		v++;
		n -= 2;
	}
	return rb_xstrndup(v, n);
}
