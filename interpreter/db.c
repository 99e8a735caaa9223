/*
 * db.c - connections and connection-string redaction.
 */
#include "db.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
	char *name;   /* "" for the default */
	char *dsn;    /* as written; NULL: DATABASE_URL or libpq defaults */
	PGconn *conn;
} rb_db;

struct rb_dbset {
	rb_db *dbs;
	size_t n;
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

/* Shows notices as they arrive, on stderr, like psql. */
static void notice_receiver(void *arg, const PGresult *res)
{
	(void)arg;
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	fflush(stdout);
	fprintf(stderr, "%s:  %s\n", sev ? sev : "NOTICE", msg ? msg : "");
	fflush(stderr);
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
	if (db->conn) {
		*out = db->conn;
		rc = 0;
		goto done;
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
	db->conn = PQconnectdb(dsn);
	if (!db->conn || PQstatus(db->conn) != CONNECTION_OK) {
		char *msg = db->conn ? rb_xstrdup(PQerrorMessage(db->conn)) : rb_xstrdup("out of memory");
		size_t k = strlen(msg);
		while (k && (msg[k - 1] == '\n' || msg[k - 1] == ' '))
			msg[--k] = '\0';
		shown = rb_dsn_redact(*dsn ? dsn : "(libpq defaults)");
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot connect to %s%s%s: %s",
			     *db->name ? db->name : "the database", *db->name ? " at " : " at ", shown, msg);
		free(msg);
		PQfinish(db->conn);
		db->conn = NULL;
		goto done;
	}
	/* Interpolation quotes byte-wise, which is safe in UTF-8: talk UTF-8. */
	PQsetClientEncoding(db->conn, "UTF8");
	PQsetNoticeReceiver(db->conn, notice_receiver, NULL);
	*out = db->conn;
	rc = 0;
done:
	free(dsn);
	free(missing);
	free(shown);
	return rc;
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
