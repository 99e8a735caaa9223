/*
 * db.h - the run's database connections: one per database, opened lazily on
 * first use and kept until the run ends.
 *
 * The default connection comes from --db, else the front matter's
 * `database:`, else DATABASE_URL, else libpq's own defaults (PG* variables).
 * Named ones come from the front matter's `databases:` and are used with
 * `db=NAME`. Connection strings may hold ${VAR} references, expanded from
 * the run's variables when the connection is opened. A DSN's password never
 * appears in anything this module prints: see rb_dsn_redact.
 */
#ifndef RB_DB_H
#define RB_DB_H

#include <libpq-fe.h>

#include "redact.h"
#include "util.h"
#include "vars.h"

typedef struct rb_dbset rb_dbset;

/**
 * A new set. default_dsn may be NULL (then DATABASE_URL or libpq defaults);
 * names/dsns are the front matter's named connections (count n). All strings
 * are copied. The caller frees the set with rb_dbset_free.
 */
rb_dbset *rb_dbset_new(const char *default_dsn, const char *const *names,
		       const char *const *dsns, size_t n);

/** How the set's connections are opened; every field may be zero. */
typedef struct {
	const char *application_name;  /* shown in pg_stat_activity: runbook/<slug>/<run id> */
	int64_t connect_timeout_ms;    /* when the connection string has no connect_timeout; 0: 10 s */
	/** Called once per new connection (name "" for the default), e.g. to record its target. */
	void (*on_connect)(void *ctx, const char *name, PGconn *conn);
	void *ctx;
	/** Called after on_connect: -1 and *why (malloc'd) refuses the connection (exit 5). NULL: none. */
	int (*check)(void *ctx, const char *name, PGconn *conn, char **why);
	void *check_ctx;
} rb_db_session;

/**
 * The application_name of a run: "runbook/<slug, 16 bytes at most>/<run id>"
 * ("pid<N>" for a run that is not recorded), cut at the 63 bytes the server
 * keeps. Caller frees.
 */
char *rb_db_application_name(const char *slug, const char *run_id);

/**
 * Sets how connections are opened from now on (strings are not copied: they
 * must outlive the set). Every connection also gets TCP keepalives (unless
 * its connection string says otherwise) and client_connection_check_interval
 * (PostgreSQL 14 and later).
 */
void rb_dbset_configure(rb_dbset *set, const rb_db_session *session);

/**
 * Who blocks backend pid, read on another connection (monitor): "pid N
 * (application_name 'A', STATE, in a transaction for Ss, query: FIRST LINE)",
 * or NULL when nobody does (or the question could not be answered within
 * 2 s). Caller frees.
 */
char *rb_db_blocker(PGconn *monitor, int pid);

/** libpq's last error for c as one line (its line breaks and indentation folded); caller frees. */
char *rb_pq_error(const PGconn *c);

/** "host=H port=P dbname=D user=U" of an open connection, password-free; caller frees. */
char *rb_db_target(PGconn *c);

/**
 * Secrets found while connecting (a password that came from a variable) are
 * added to r, and server notices are printed through it. r is not owned and
 * must outlive the set; NULL (the default) hides nothing.
 */
void rb_dbset_set_redactor(rb_dbset *set, rb_redactor *r);

/** A server notice, one line ("NOTICE:  text\n"), secrets hidden and control characters made visible. */
typedef void (*rb_db_notice_fn)(void *ctx, const char *line, size_t len);
/** Where the set's notices go (fn NULL: written to stderr). */
void rb_dbset_set_notice(rb_dbset *set, rb_db_notice_fn fn, void *ctx);

/**
 * The open connection for name (NULL or "" for the default), connecting on
 * first use with variables from vars. Connecting watches the signal pipe
 * (signals.h) and a deadline: the connection string's connect_timeout, else
 * the session's, else 10 s. Returns 0 and the connection (owned by the set), or -1 with err set:
 * RB_EXIT_USAGE for an unknown name or an undefined variable, RB_EXIT_ENV
 * when the server cannot be reached in time, 128 + the signal when
 * interrupted.
 */
int rb_dbset_get(rb_dbset *set, const char *name, const rb_vars *vars, PGconn **out,
		 rb_error *err);

/**
 * Runs query (with text parameters) in a read-only transaction whose
 * statement_timeout is the time left until deadline (rb_now_ms clock), then
 * rolls it back: what Lua's sql() may do. A signal or the deadline cancels
 * the statement. Returns 0 and *out (the last result, whatever its status;
 * caller clears), or -1 and *error (malloc'd): not sent, cancelled
 * ("interrupted", "time limit ..."), or the connection failed.
 */
int rb_db_query_readonly(PGconn *c, const char *query, const char *const *params, int nparams,
			 int64_t deadline, PGresult **out, char **error);

/** The connection string of name as written (before expansion), redacted; caller frees. */
char *rb_dbset_describe(const rb_dbset *set, const char *name);

/** Closes every connection (rolling back anything left open) and frees the set. */
void rb_dbset_free(rb_dbset *set);

/*
 * Connection strings' passwords: the password and sslpassword libpq reads
 * (PQconninfoParse, URL or key=value form).
 */

/**
 * A copy of a connection string with every password replaced by "***":
 * in a URL, the userinfo after its first ':' (up to its last '@' before
 * the next '/' or '?': libpq stops at the first '@') and the value of
 * every password or sslpassword query parameter (up to the next '&'); in
 * the key=value form, the value of every password or sslpassword keyword
 * (quoted, or up to the next unescaped blank). When
 * libpq would still read a password from the copy, every occurrence of it
 * (as is, percent-encoded or backslash-escaped) is hidden too. A string
 * libpq refuses is redacted the same way, from its text; one that is
 * neither form (a database name for libpq) is returned unchanged. Other
 * occurrences of a password (as the user name, say) are kept. Caller frees.
 */
char *rb_dsn_redact(const char *dsn);

/**
 * The password in dsn as libpq reads it (quotes, backslash escapes and
 * percent-encoding undone; the last one when given more than once), or
 * NULL when there is none or it is written empty ("" for one written '').
 * A URL's userinfo password that libpq cuts at a raw '@' is returned
 * whole ("p@ss" for postgres://u:p@ss@h, where libpq reads "p").
 * For a string libpq refuses, the last password written, decoded the same
 * way. sslpassword is not included: see rb_dsn_add_secrets. Caller frees.
 */
char *rb_dsn_password(const char *dsn);

/**
 * Adds to r the password and sslpassword of dsn, as libpq reads them and
 * as written (percent-encoded or escaped, when that differs), so that
 * output showing either is redacted. r and dsn may be NULL.
 */
void rb_dsn_add_secrets(rb_redactor *r, const char *dsn);

/**
 * Overwrites in place, with '*' (same length), each password value
 * rb_dsn_redact hides by its place (for a command line's copy). Returns how
 * many were overwritten.
 */
int rb_dsn_scrub(char *dsn);

#endif
