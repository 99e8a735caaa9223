/*
 * runlock.c - the run lock: an advisory lock, or an flock without a database.
 */
#define _GNU_SOURCE
#include "runlock.h"
#include "signals.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct rb_runlock {
	PGconn *conn;   /* advisory lock held on this session; NULL: the file */
	char *key;      /* 'runbook:' || name */
	int fd;         /* the locked file, -1 for none */
	char *path;     /* the lock file, removed when released */
	const char *dir; /* where lock files go; NULL: the temporary directory */
};

#define KEY_SQL "hashtextextended($1, 0)"

/* Who holds the advisory lock, or NULL. Caller frees. */
static char *advisory_holder(PGconn *c, const char *key)
{
	const char *params[] = {key};
	char *who = NULL;
	PGresult *r = PQexecParams(c,
		"select a.pid, coalesce(nullif(a.application_name, ''), '(none)'), "
		"coalesce(host(a.client_addr), 'a local socket'), "
		"to_char(a.backend_start at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') || ' UTC' "
		"from pg_locks l join pg_stat_activity a on a.pid = l.pid "
		"where l.locktype = 'advisory' and l.granted and l.objsubid = 1 "
		"and l.classid = ((" KEY_SQL " >> 32) & 4294967295)::oid "
		"and l.objid = (" KEY_SQL " & 4294967295)::oid limit 1",
		1, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		who = rb_xasprintf("pid %s, application_name '%s', from %s, since %s", PQgetvalue(r, 0, 0),
				   PQgetvalue(r, 0, 1), PQgetvalue(r, 0, 2), PQgetvalue(r, 0, 3));
	PQclear(r);
	return who;
}

/* 1 taken, 0 held by another session, -1 error (err set). */
static int try_advisory(PGconn *c, const char *key, rb_error *err)
{
	const char *params[] = {key};
	PGresult *r = PQexecParams(c, "select pg_try_advisory_lock(" KEY_SQL ")", 1, NULL, params, NULL, NULL, 0);
	int rc = -1;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
		rc = !strcmp(PQgetvalue(r, 0, 0), "t");
	else
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot take the run lock: %s",
			     PQresultErrorMessage(r));
	PQclear(r);
	return rc;
}

static char *lock_path(const char *dir, const char *key)
{
	const char *tmp = dir ? dir : getenv("TMPDIR");
	uint64_t h = 1469598103934665603ULL; /* FNV-1a: a stable file name for any lock name */
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	return rb_xasprintf("%s/runbook-lock-%u-%016llx", tmp && *tmp ? tmp : "/tmp", (unsigned)getuid(),
			    (unsigned long long)h);
}

/* 1 taken, 0 held, -1 error. */
static int try_file(rb_runlock *l, const char *who, char **holder, rb_error *err)
{
	char *path = lock_path(l->dir, l->key);
	int rc = -1;
	if (l->fd < 0)
		l->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (l->fd < 0) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot open the run lock file %s: %s", path,
			     strerror(errno));
		goto done;
	}
	struct stat held, named;
	if (flock(l->fd, LOCK_EX | LOCK_NB) == 0 &&
	    (fstat(l->fd, &held) < 0 || stat(path, &named) < 0 || held.st_ino != named.st_ino ||
	     held.st_dev != named.st_dev)) {
		/* Locked a file its holder removed as we opened it: start again on the new one. */
		close(l->fd);
		l->fd = -1;
		rc = try_file(l, who, holder, err);
		goto done;
	}
	if (flock(l->fd, LOCK_EX | LOCK_NB) < 0) {
		char buf[256] = "";
		ssize_t n = pread(l->fd, buf, sizeof buf - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
		free(*holder);
		*holder = rb_xasprintf("%s (lock file %s)", *buf ? buf : "another run", path);
		rc = 0;
		goto done;
	}
	if (ftruncate(l->fd, 0) == 0) {
		ssize_t w = pwrite(l->fd, who, strlen(who), 0);
		(void)w;
	}
	l->path = path;
	path = NULL;
	rc = 1;
done:
	free(path);
	return rc;
}

int rb_runlock_take(PGconn *conn, const char *name, const char *dir, const char *who, int64_t wait_ms,
		    rb_runlock **out, rb_error *err)
{
	int rc = -1;
	char *holder = NULL;
	rb_runlock *l = rb_xcalloc(1, sizeof *l);
	l->conn = conn;
	l->dir = dir;
	l->fd = -1;
	l->key = rb_xasprintf("runbook:%s", name);
	int64_t deadline = rb_now_ms() + (wait_ms > 0 ? wait_ms : 0);
	*out = NULL;
	for (;;) {
		int got = conn ? try_advisory(conn, l->key, err) : try_file(l, who, &holder, err);
		if (got < 0)
			goto done;
		if (got) {
			*out = l;
			l = NULL;
			rc = 0;
			goto done;
		}
		if (conn) {
			free(holder);
			holder = advisory_holder(conn, l->key);
		}
		if (rb_signals_interrupted()) {
			rb_error_set(err, 128 + rb_signals_interrupted(), NULL, 0, 0,
				     "interrupted while waiting for the run lock '%s'", name);
			goto done;
		}
		if (rb_now_ms() >= deadline) {
			rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0,
				     "the run lock '%s' is held by %s: another run of this runbook is going on%s",
				     name, holder ? holder : "another session",
				     wait_ms > 0 ? " (waited as long as --wait-lock allows)"
						 : "; wait for it with --wait-lock DURATION");
			rc = -2;
			goto done;
		}
		struct timespec t = {0, 250 * 1000000L};
		nanosleep(&t, NULL);
	}
done:
	free(holder);
	if (l)
		l->conn = NULL; /* not taken: nothing to unlock on the server */
	rb_runlock_release(l);
	return rc;
}

void rb_runlock_release(rb_runlock *l)
{
	if (!l)
		return;
	if (l->conn && PQstatus(l->conn) == CONNECTION_OK && PQtransactionStatus(l->conn) == PQTRANS_IDLE) {
		const char *params[] = {l->key};
		PQclear(PQexecParams(l->conn, "select pg_advisory_unlock(" KEY_SQL ")", 1, NULL, params, NULL,
				     NULL, 0));
	}
	if (l->path)
		unlink(l->path); /* while still locked: a waiter then finds the file gone and retries */
	if (l->fd >= 0)
		close(l->fd); /* releases the flock */
	free(l->path);
	free(l->key);
	free(l);
}
