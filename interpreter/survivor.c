/*
 * survivor.c - finding what a dead run left running: the process groups its
 * journal names, and processes anywhere that carry its run id in their
 * environment (survivor.h says what this can and cannot see).
 *
 * The process table is read once per question from /proc: each process's
 * group and state from /proc/PID/stat, and RUNBOOK_RUN_ID and RUNBOOK_STEP
 * from /proc/PID/environ (the environment the process was started with).
 */
#define _GNU_SOURCE
#include "survivor.h"
#include "db.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* One process, as /proc shows it. */
typedef struct {
	long pid;
	long pgid;
	int zombie;
	int readable;     /* its environment could be read */
	char *run;        /* RUNBOOK_RUN_ID, or NULL */
	char *step;       /* RUNBOOK_STEP, or NULL */
	char comm[32];
} proc_info;

typedef struct {
	proc_info *items;
	size_t count;
	int available;    /* /proc could be read at all */
} proc_table;

/* The whole of a small /proc file; NULL when it cannot be read. Caller frees. */
static char *read_proc_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	rb_buf b = RB_BUF_INIT;
	char chunk[4096];
	size_t n;
	if (!f)
		return NULL;
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		rb_buf_add(&b, chunk, n);
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		rb_buf_free(&b);
		return NULL;
	}
	*len = b.len;
	rb_buf_putc(&b, '\0'); /* an empty environment is still read */
	return rb_buf_detach(&b);
}

/* "pid (comm) S ppid pgrp ...": comm may hold spaces and parentheses. 0 when parsed. */
static int read_stat(proc_info *p)
{
	char path[64];
	size_t len = 0;
	int rc = -1;
	snprintf(path, sizeof path, "/proc/%ld/stat", p->pid);
	char *text = read_proc_file(path, &len);
	char *open = text ? strchr(text, '(') : NULL;
	char *close = text ? strrchr(text, ')') : NULL;
	char state = 0;
	long ppid = 0, pgid = 0;
	if (!open || !close || close < open || sscanf(close + 1, " %c %ld %ld", &state, &ppid, &pgid) != 3)
		goto done;
	size_t n = (size_t)(close - open - 1);
	if (n >= sizeof p->comm)
		n = sizeof p->comm - 1;
	memcpy(p->comm, open + 1, n);
	p->comm[n] = '\0';
	p->zombie = state == 'Z' || state == 'X';
	p->pgid = pgid;
	rc = 0;
done:
	free(text);
	return rc;
}

static void read_environ(proc_info *p)
{
	char path[64];
	size_t len = 0;
	snprintf(path, sizeof path, "/proc/%ld/environ", p->pid);
	char *env = read_proc_file(path, &len);
	if (!env)
		return;
	p->readable = 1;
	for (size_t at = 0; at < len;) {
		const char *kv = env + at;
		size_t n = strnlen(kv, len - at);
		if (!strncmp(kv, "RUNBOOK_RUN_ID=", 15) && !p->run)
			p->run = rb_xstrndup(kv + 15, n - 15);
		else if (!strncmp(kv, "RUNBOOK_STEP=", 13) && !p->step)
			p->step = rb_xstrndup(kv + 13, n - 13);
		at += n + 1;
	}
	free(env);
}

static void proc_table_read(proc_table *t)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	long self = (long)getpid();
	memset(t, 0, sizeof *t);
	if (!d)
		return;
	t->available = 1;
	while ((e = readdir(d)) != NULL) {
		char *end = NULL;
		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		long pid = strtol(e->d_name, &end, 10);
		if (*end || pid <= 0 || pid == self)
			continue;
		proc_info p;
		memset(&p, 0, sizeof p);
		p.pid = pid;
		if (read_stat(&p) < 0)
			continue; /* gone meanwhile */
		read_environ(&p);
		t->items = rb_xrealloc(t->items, (t->count + 1) * sizeof *t->items);
		t->items[t->count++] = p;
	}
	closedir(d);
}

static void proc_table_free(proc_table *t)
{
	for (size_t i = 0; i < t->count; i++) {
		free(t->items[i].run);
		free(t->items[i].step);
	}
	free(t->items);
	memset(t, 0, sizeof *t);
}

/* 1 when p may belong to step of run_id: its environment says so, or cannot be read. */
static int may_belong(const proc_info *p, const char *run_id, const char *step)
{
	if (!p->readable)
		return 1;
	if (p->run)
		return !strcmp(p->run, run_id);
	return step && p->step && !strcmp(p->step, step); /* a step started before RUNBOOK_RUN_ID was exported */
}

static void add(rb_survivors *out, rb_survivor_kind kind, long id, long pgid, const char *step, const char *run,
		const char *command)
{
	for (size_t i = 0; i < out->count; i++)
		if (out->items[i].kind == kind && out->items[i].id == id && !strcmp(out->items[i].run, run))
			return;
	out->items = rb_xrealloc(out->items, (out->count + 1) * sizeof *out->items);
	rb_survivor *s = &out->items[out->count++];
	s->kind = kind;
	s->id = id;
	s->pgid = pgid;
	s->step = step ? rb_xstrdup(step) : NULL;
	s->run = rb_xstrdup(run);
	s->command = command && *command ? rb_xstrdup(command) : NULL;
}

/*
 * Whether the journaled group pgid of step is alive and its own: 1, and the
 * name of a member in *command (owned by t). See survivor.h.
 */
static int group_alive(const proc_table *t, long pgid, const char *run_id, const char *step,
		       const char **command)
{
	int seen = 0;
	*command = NULL;
	if (!t->available)
		return kill(-(pid_t)pgid, 0) == 0 || errno == EPERM;
	for (size_t i = 0; i < t->count; i++) {
		const proc_info *p = &t->items[i];
		if (p->pgid != pgid || p->zombie)
			continue;
		seen = 1;
		if (may_belong(p, run_id, step)) {
			*command = p->comm;
			return 1;
		}
	}
	/* Members /proc does not show us (hidepid): only their existence is known. */
	return !seen && kill(-(pid_t)pgid, 0) < 0 && errno == EPERM;
}

void rb_survivors_find(const rb_record *rec, const char *run_id, int backends, rb_survivors *out)
{
	proc_table t;
	long *alive = NULL;
	size_t nalive = 0;
	proc_table_read(&t);
	for (size_t i = 0; i < rec->count; i++) {
		const rb_event *e = &rec->events[i];
		const char *pg = rb_event_get(e, "pgid");
		const char *step = rb_event_get(e, "step");
		const char *command = NULL;
		long pgid = pg ? strtol(pg, NULL, 10) : 0;
		if (strcmp(e->type, "process") || pgid <= 1)
			continue;
		if (group_alive(&t, pgid, run_id, step, &command)) {
			add(out, RB_SURVIVOR_GROUP, pgid, pgid, step, run_id, command);
			alive = rb_xrealloc(alive, (nalive + 1) * sizeof *alive);
			alive[nalive++] = pgid;
		}
	}
	for (size_t i = 0; i < t.count; i++) {
		const proc_info *p = &t.items[i];
		int in_group = 0;
		if (p->zombie || !p->run || strcmp(p->run, run_id))
			continue;
		for (size_t k = 0; k < nalive && !in_group; k++)
			in_group = alive[k] == p->pgid;
		if (!in_group)
			add(out, RB_SURVIVOR_PROCESS, p->pid, p->pgid, p->step, run_id, p->comm);
	}
	for (size_t i = 0; backends && i < rec->count; i++) {
		const rb_event *e = &rec->events[i];
		const char *b = rb_event_get(e, "backend");
		long pid = b ? strtol(b, NULL, 10) : 0;
		if (!strcmp(e->type, "process") && pid > 0)
			add(out, RB_SURVIVOR_BACKEND, pid, 0, rb_event_get(e, "step"), run_id, NULL);
	}
	free(alive);
	proc_table_free(&t);
}

size_t rb_survivors_alive(const rb_survivors *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->count; i++)
		n += s->items[i].kind != RB_SURVIVOR_BACKEND;
	return n;
}

char *rb_survivor_describe(const rb_survivor *s)
{
	rb_buf b = RB_BUF_INIT, detail = RB_BUF_INIT;
	static const char *const what[] = {"process group", "process", "backend pid"};
	if (s->command)
		rb_buf_puts(&detail, s->command);
	if (s->step)
		rb_buf_printf(&detail, "%sstep '%s'", detail.len ? ", " : "", s->step);
	if (s->kind == RB_SURVIVOR_PROCESS && s->pgid == s->id)
		rb_buf_printf(&detail, "%sin a process group of its own", detail.len ? ", " : "");
	else if (s->kind == RB_SURVIVOR_PROCESS)
		rb_buf_printf(&detail, "%sin process group %ld", detail.len ? ", " : "", s->pgid);
	rb_buf_printf(&b, "%s %ld", what[s->kind], s->id);
	if (detail.len)
		rb_buf_printf(&b, " (%s)", rb_buf_cstr(&detail));
	rb_buf_puts(&b, s->kind == RB_SURVIVOR_BACKEND ? " not checked: that needs the database" : " still running");
	rb_buf_free(&detail);
	return rb_buf_detach(&b);
}

void rb_survivors_free(rb_survivors *s)
{
	for (size_t i = 0; i < s->count; i++) {
		free(s->items[i].step);
		free(s->items[i].run);
		free(s->items[i].command);
	}
	free(s->items);
	s->items = NULL;
	s->count = 0;
}

int rb_survivors_check_backends(const rb_survivors *s, PGconn *conn, const char *slug, char **why)
{
	int rc = 0;
	for (size_t i = 0; i < s->count && rc == 0; i++) {
		const rb_survivor *v = &s->items[i];
		if (v->kind != RB_SURVIVOR_BACKEND)
			continue;
		char pid[24];
		snprintf(pid, sizeof pid, "%ld", v->id);
		char *app = rb_db_application_name(slug, v->run);
		const char *params[] = {pid, app};
		PGresult *r = PQexecParams(conn,
			"select coalesce(state, ''), coalesce(left(query, 60), '') from pg_stat_activity "
			"where pid = $1::int and application_name = $2 and state <> 'idle'",
			2, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) {
			*why = rb_xasprintf("backend pid %ld (step '%s' of run %s) is still %s (%s): cancel it "
					    "(select pg_cancel_backend(%ld)) or resume anyway with --force", v->id,
					    v->step ? v->step : "?", v->run ? v->run : "?", PQgetvalue(r, 0, 0),
					    PQgetvalue(r, 0, 1), v->id);
			rc = -1;
		}
		PQclear(r);
		free(app);
	}
	return rc;
}
