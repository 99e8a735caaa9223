/*
 * audit.c - the audit repository, run records, recovery, log/show, resume.
 */
#define _GNU_SOURCE
#include "audit.h"
#include "gitstore.h"
#include "parse.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_REF "refs/heads/runbook-audit"

struct rb_audit {
	rb_gitstore *git;
	char *ref;
	char *id;          /* 20261121T224512Z-deploy-1234 */
	char *path;        /* runs/2026/11/21/224512Z-deploy-1234 */
	char *journal;
	rb_record rec;
	int64_t start_ms;
};

typedef struct {
	char *dir;
	int discover;
	int create;
} repo_choice;

static void choose_repo(const rb_runbook *rb, const char *repo_opt, repo_choice *c)
{
	const char *env = getenv("RUNBOOK_AUDIT_REPO");
	memset(c, 0, sizeof *c);
	c->create = 1;
	if (repo_opt) {
		c->dir = rb_xstrdup(repo_opt);
	} else if (rb && rb->fm.audit_repo) {
		c->dir = rb->fm.audit_repo[0] == '/' ? rb_xstrdup(rb->fm.audit_repo)
						     : rb_xasprintf("%s/%s", rb->dir, rb->fm.audit_repo);
	} else if (env && *env) {
		c->dir = rb_xstrdup(env);
	} else {
		rb_gitstore *g = NULL;
		rb_error e = RB_ERROR_INIT;
		if (rb_gitstore_open(rb ? rb->dir : ".", 1, 0, &g, &e) == 0) {
			c->dir = rb_xstrdup(rb_gitstore_gitdir(g));
			c->create = 0;
			rb_gitstore_free(g);
		} else {
			c->dir = rb_xstrdup(".runbook-audit");
		}
		rb_error_clear(&e);
	}
}

static const char *ref_of(const rb_runbook *rb, const char *ref_opt)
{
	if (ref_opt)
		return ref_opt;
	return rb && rb->fm.audit_ref ? rb->fm.audit_ref : DEFAULT_REF;
}

static char *iso_now(void)
{
	char buf[64];
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return rb_xstrdup(buf);
}

static char *operator_of(rb_gitstore *g)
{
	char *name = rb_gitstore_config(g, "user.name");
	char *email = rb_gitstore_config(g, "user.email");
	char *who;
	if (name)
		who = rb_xasprintf("%s <%s>", name, email ? email : "");
	else {
		struct passwd *pw = getpwuid(geteuid());
		who = rb_xstrdup(pw && pw->pw_name ? pw->pw_name : "unknown");
	}
	free(name);
	free(email);
	return who;
}

/* Commits a record at its run path; the record's own events say where. */
static int commit_record(rb_gitstore *g, const rb_record *rec, char oid[41], rb_error *err)
{
	int rc = -1;
	const char *path = rb_record_get(rec, "run", NULL, "path");
	const char *ref = rb_record_get(rec, "run", NULL, "ref");
	const char *id = rb_record_get(rec, "run", NULL, "id");
	if (!path || !ref || !id)
		return rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "the run journal has no start event");
	char *md = rb_record_markdown(rec);
	char *json = rb_record_json(rec);
	char *journal = rb_record_text(rec);
	char *summary = rb_record_summary(rec);
	char *p_md = rb_xasprintf("%s/record.md", path);
	char *p_json = rb_xasprintf("%s/record.json", path);
	char *p_log = rb_xasprintf("%s/journal.log", path);
	char *message = rb_xasprintf("%s\n\nRun: %s\nRunbook: %s\nResult: %s\n", summary, id,
				     rb_record_get(rec, "run", NULL, "runbook_abs") ? rb_record_get(rec, "run", NULL, "runbook_abs") : "?",
				     rb_record_get(rec, "finish", NULL, "result") ? rb_record_get(rec, "finish", NULL, "result") : "interrupted");
	rb_gitstore_file files[3] = {{p_md, md, strlen(md)}, {p_json, json, strlen(json)},
				     {p_log, journal, strlen(journal)}};
	if (rb_gitstore_commit(g, ref, files, 3, message, NULL, NULL, oid, err) < 0)
		goto done;
	rc = 0;
done:
	free(md);
	free(json);
	free(journal);
	free(summary);
	free(p_md);
	free(p_json);
	free(p_log);
	free(message);
	return rc;
}

static int recover_in(rb_gitstore *g, rb_error *err)
{
	char *dir = rb_xasprintf("%s/runbook/journal", rb_gitstore_gitdir(g));
	DIR *d = opendir(dir);
	int count = 0;
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		if (n < 5 || strcmp(e->d_name + n - 4, ".log"))
			continue;
		char *path = rb_xasprintf("%s/%s", dir, e->d_name);
		rb_record rec;
		char oid[41];
		if (rb_record_journal_busy(path) || rb_record_load(&rec, path, err) < 0) {
			free(path);
			continue;
		}
		if (!rb_record_get(&rec, "finish", NULL, "result"))
			rb_record_event(&rec, "finish", "result", "interrupted", "exit", "none", "end",
					"unknown: the run was killed", NULL);
		if (commit_record(g, &rec, oid, err) == 0) {
			fprintf(stderr, "runbook: committed the interrupted run %s to %s (%.7s)\n",
				rb_record_get(&rec, "run", NULL, "id"), rb_record_get(&rec, "run", NULL, "ref"), oid);
			unlink(path);
			count++;
		}
		rb_record_close(&rec);
		free(path);
	}
	if (d)
		closedir(d);
	free(dir);
	return count;
}

int rb_audit_recover(const char *dir, rb_error *err)
{
	rb_gitstore *g = NULL;
	if (rb_gitstore_open(dir, 1, 0, &g, err) < 0)
		return -1;
	int n = recover_in(g, err);
	rb_gitstore_free(g);
	return n;
}

static char *join_argv(int argc, char *const *argv)
{
	rb_buf b = RB_BUF_INIT;
	for (int i = 0; i < argc; i++) {
		if (i)
			rb_buf_putc(&b, ' ');
		rb_buf_puts(&b, argv[i]);
	}
	return rb_buf_detach(&b);
}

int rb_audit_begin(const rb_runbook *rb, const rb_audit_opts *opts, rb_audit **out, rb_error *err)
{
	int rc = -1;
	repo_choice c;
	rb_audit *a = rb_xcalloc(1, sizeof *a);
	char *slug = NULL, *when = NULL, *who = NULL, *cmd = NULL, *head = NULL, *abs = NULL;
	a->rec.fd = -1;
	a->start_ms = rb_now_ms();
	choose_repo(rb, opts->repo, &c);
	if (rb_gitstore_open(c.dir, c.discover, c.create, &a->git, err) < 0) {
		char *m = rb_xasprintf("audit repository %s: %s", c.dir, err->message);
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "%s (use --audit-repo DIR, or --no-audit)", m);
		free(m);
		goto done;
	}
	recover_in(a->git, err);
	rb_error_clear(err);
	if (rb_gitstore_check_writable(a->git, err) < 0)
		goto done;
	a->ref = rb_xstrdup(ref_of(rb, NULL));

	char *full = rb_slugify(rb->title);
	slug = rb_xstrndup(*full ? full : "runbook", 40);
	free(full);
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	char day[32], clock[32];
	strftime(day, sizeof day, "%Y/%m/%d", &tm);
	strftime(clock, sizeof clock, "%H%M%SZ", &tm);
	char stamp[32];
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	a->id = rb_xasprintf("%s-%s-%d", stamp, slug, (int)getpid());
	a->path = rb_xasprintf("runs/%s/%s-%s-%d", day, clock, slug, (int)getpid());
	a->journal = rb_xasprintf("%s/runbook/journal/%s.log", rb_gitstore_gitdir(a->git), a->id);
	if (rb_record_open(&a->rec, a->journal, opts->redactor, err) < 0)
		goto done;

	char hash[41], host[256] = "";
	rb_gitstore_hash(rb->source, rb->source_len, hash);
	gethostname(host, sizeof host - 1);
	when = iso_now();
	who = operator_of(a->git);
	cmd = join_argv(opts->argc, opts->argv);
	head = rb_gitstore_head_of(rb->dir);
	abs = realpath(rb->path, NULL);
	rb_record_event(&a->rec, "run", "id", a->id, "path", a->path, "ref", a->ref, "title", rb->title,
			"runbook", rb->path, "runbook_abs", abs ? abs : rb->path, "hash", hash, "commit", head,
			"operator", who, "host", host, "start", when, "command", cmd, NULL);
	*out = a;
	a = NULL;
	rc = 0;
done:
	if (a)
		rb_audit_free(a);
	free(c.dir);
	free(slug);
	free(when);
	free(who);
	free(cmd);
	free(head);
	free(abs);
	return rc;
}

rb_record *rb_audit_record(rb_audit *a)
{
	return &a->rec;
}

static const char *result_word(int code)
{
	switch (code) {
	case RB_EXIT_OK: return "succeeded";
	case RB_EXIT_STEP: return "failed";
	case RB_EXIT_GATE: return "stopped by a gate or approval";
	case RB_EXIT_ABORT: return "aborted";
	case RB_EXIT_ENV: return "failed (environment)";
	default: return code > 128 ? "interrupted" : "failed (invalid)";
	}
}

int rb_audit_finish(rb_audit *a, int exit_code, rb_error *err)
{
	char code[16], dur[32], oid[41];
	char *end = iso_now();
	snprintf(code, sizeof code, "%d", exit_code);
	rb_format_duration(rb_now_ms() - a->start_ms, dur, sizeof dur);
	rb_record_event(&a->rec, "finish", "result", result_word(exit_code), "exit", code, "end", end,
			"duration", dur, NULL);
	free(end);
	struct timespec c0, c1;
	clock_gettime(CLOCK_MONOTONIC, &c0);
	if (commit_record(a->git, &a->rec, oid, err) < 0) {
		fprintf(stderr, "runbook: THE AUDIT RECORD COULD NOT BE COMMITTED: %s\n"
				"runbook: the journal %s is kept; the next run on this repository commits it\n",
			err->message, a->journal);
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &c1);
	unlink(a->journal);
	printf("Audit: %s %.7s in %s (%s/record.md), committed in %.1f ms\n", a->ref, oid,
	       rb_gitstore_gitdir(a->git), a->path,
	       (double)(c1.tv_sec - c0.tv_sec) * 1e3 + (double)(c1.tv_nsec - c0.tv_nsec) / 1e6);
	fflush(stdout);
	return 0;
}

void rb_audit_free(rb_audit *a)
{
	if (!a)
		return;
	rb_record_close(&a->rec);
	rb_gitstore_free(a->git);
	free(a->ref);
	free(a->id);
	free(a->path);
	free(a->journal);
	free(a);
}

char *rb_audit_describe(const rb_runbook *rb, const char *repo_opt)
{
	repo_choice c;
	choose_repo(rb, repo_opt, &c);
	char *d = rb_xasprintf("%s of %s%s, under runs/YYYY/MM/DD/", ref_of(rb, NULL), c.dir,
			       c.create ? " (created if missing)" : "");
	free(c.dir);
	return d;
}

static int open_for_reading(const rb_runbook *rb, const char *repo_opt, rb_gitstore **g, rb_error *err)
{
	repo_choice c;
	choose_repo(rb, repo_opt, &c);
	int r = rb_gitstore_open(c.dir, 1, 0, g, err);
	free(c.dir);
	return r;
}

static const char *trailer(const char *message, const char *key, size_t *len)
{
	size_t kl = strlen(key);
	for (const char *p = message; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (!strncmp(p, key, kl) && p[kl] == ':' && p[kl + 1] == ' ') {
			const char *v = p + kl + 2;
			*len = strcspn(v, "\n");
			return v;
		}
	}
	return NULL;
}

typedef struct {
	const char *runbook_abs;
	int count;
} log_ctx;

static int print_commit(void *ctx, const rb_gitstore_commit_info *c)
{
	log_ctx *l = ctx;
	size_t n = 0;
	const char *rbk = trailer(c->message, "Runbook", &n);
	if (l->runbook_abs && (!rbk || strlen(l->runbook_abs) != n || strncmp(rbk, l->runbook_abs, n)))
		return 0;
	size_t idn = 0;
	const char *id = trailer(c->message, "Run", &idn);
	char when[32];
	time_t t = (time_t)c->time;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%SZ", &tm);
	size_t first = strcspn(c->message, "\n");
	printf("%s  %.*s  %.*s  (%s)\n", when, (int)idn, id ? id : "?", (int)first, c->message, c->author);
	l->count++;
	return 0;
}

int rb_audit_log(const char *repo_opt, const rb_runbook *rb, const char *ref)
{
	rb_gitstore *g = NULL;
	rb_error err = RB_ERROR_INIT;
	if (open_for_reading(rb, repo_opt, &g, &err) < 0) {
		fprintf(stderr, "runbook log: %s\n", err.message);
		rb_error_clear(&err);
		return RB_EXIT_ENV;
	}
	char *abs = rb ? realpath(rb->path, NULL) : NULL;
	log_ctx l = {abs, 0};
	rb_gitstore_log(g, ref_of(rb, ref), print_commit, &l);
	if (!l.count)
		printf("no runs recorded on %s in %s\n", ref_of(rb, ref), rb_gitstore_gitdir(g));
	free(abs);
	rb_gitstore_free(g);
	return RB_EXIT_OK;
}

typedef struct {
	const char *want;       /* a run id (or prefix), or a commit id (prefix) */
	const char *runbook;    /* or: the newest run of this runbook (absolute path) */
	char *commit;
	char *id;
} find_ctx;

static int find_run(void *ctx, const rb_gitstore_commit_info *c)
{
	find_ctx *f = ctx;
	size_t n = 0, rn = 0;
	const char *id = trailer(c->message, "Run", &n);
	const char *rbk = trailer(c->message, "Runbook", &rn);
	int hit;
	if (f->runbook)
		hit = rbk && strlen(f->runbook) == rn && !strncmp(rbk, f->runbook, rn);
	else {
		size_t wl = strlen(f->want);
		hit = (id && wl <= n && !strncmp(id, f->want, wl)) || (wl >= 4 && !strncmp(c->id, f->want, wl));
	}
	if (!hit || !id)
		return 0;
	f->commit = rb_xstrdup(c->id);
	f->id = rb_xstrndup(id, n);
	return 1;
}

/* runs/YYYY/MM/DD/HHMMSSZ-slug-pid from the run id YYYYMMDDTHHMMSSZ-slug-pid. */
static char *run_path_of(const char *id)
{
	if (strlen(id) < 17)
		return rb_xstrdup("runs/unknown");
	return rb_xasprintf("runs/%.4s/%.2s/%.2s/%s", id, id + 4, id + 6, id + 9);
}

int rb_audit_show(const char *repo_opt, const char *run, const char *ref, int json)
{
	rb_gitstore *g = NULL;
	rb_error err = RB_ERROR_INIT;
	int rc = RB_EXIT_USAGE;
	find_ctx f = {run, NULL, NULL, NULL};
	char *data = NULL, *path = NULL;
	size_t len = 0;
	if (open_for_reading(NULL, repo_opt, &g, &err) < 0) {
		fprintf(stderr, "runbook show: %s\n", err.message);
		rc = RB_EXIT_ENV;
		goto done;
	}
	if (!rb_gitstore_log(g, ref_of(NULL, ref), find_run, &f)) {
		fprintf(stderr, "runbook show: no run '%s' on %s (see runbook log)\n", run, ref_of(NULL, ref));
		goto done;
	}
	char *dir = run_path_of(f.id);
	path = rb_xasprintf("%s/%s", dir, json ? "record.json" : "record.md");
	free(dir);
	if (rb_gitstore_read(g, f.commit, path, &data, &len) < 0) {
		fprintf(stderr, "runbook show: commit %.7s has no %s\n", f.commit, path);
		rc = RB_EXIT_ENV;
		goto done;
	}
	fwrite(data, 1, len, stdout);
	rc = RB_EXIT_OK;
done:
	rb_error_clear(&err);
	free(f.commit);
	free(f.id);
	free(data);
	free(path);
	rb_gitstore_free(g);
	return rc;
}

int rb_audit_resume_point(const rb_runbook *rb, const char *repo_opt, int force, rb_resume_point *rp,
			  rb_error *err)
{
	int rc = -1;
	rb_gitstore *g = NULL;
	rb_record rec;
	char *abs = realpath(rb->path, NULL);
	find_ctx f = {NULL, abs ? abs : rb->path, NULL, NULL};
	char *data = NULL, *path = NULL;
	size_t len = 0;
	char hash[41];
	memset(rp, 0, sizeof *rp);
	memset(&rec, 0, sizeof rec);
	rec.fd = -1;
	if (open_for_reading(rb, repo_opt, &g, err) < 0) {
		err->code = RB_EXIT_USAGE;
		goto done;
	}
	recover_in(g, err);
	rb_error_clear(err);
	if (!rb_gitstore_log(g, ref_of(rb, NULL), find_run, &f)) {
		rb_error_set(err, RB_EXIT_USAGE, rb->path, 0, 0, "--resume: no earlier run of this runbook on %s",
			     ref_of(rb, NULL));
		goto done;
	}
	char *dir = run_path_of(f.id);
	path = rb_xasprintf("%s/journal.log", dir);
	free(dir);
	if (rb_gitstore_read(g, f.commit, path, &data, &len) < 0) {
		rb_error_set(err, RB_EXIT_USAGE, rb->path, 0, 0, "--resume: run %s has no journal", f.id);
		goto done;
	}
	rb_record_parse(&rec, data, len);
	const char *result = rb_record_get(&rec, "finish", NULL, "result");
	if (result && !strcmp(result, "succeeded")) {
		rb_error_set(err, RB_EXIT_USAGE, rb->path, 0, 0,
			     "--resume: the last run (%s) succeeded: nothing to resume", f.id);
		goto done;
	}
	rb_gitstore_hash(rb->source, rb->source_len, hash);
	const char *then = rb_record_get(&rec, "run", NULL, "hash");
	if (then && strcmp(then, hash) && !force) {
		rb_error_set(err, RB_EXIT_USAGE, rb->path, 0, 0,
			     "--resume: the runbook changed since run %s (content %.7s, now %.7s); "
			     "resume anyway with --force", f.id, then, hash);
		goto done;
	}
	/* The first main-flow step that did not succeed. */
	for (size_t i = 0; i < rb->nsteps && !rp->from; i++) {
		const rb_step *s = &rb->steps[i];
		if (s->role != RB_ROLE_MAIN || !rb_step_runnable(s) || s->kind == RB_STEP_ABORT)
			continue;
		const char *st = rb_record_get(&rec, "end", s->id, "status");
		if (!st || strcmp(st, "ok"))
			rp->from = rb_xstrdup(s->id);
	}
	if (!rp->from) {
		rb_error_set(err, RB_EXIT_USAGE, rb->path, 0, 0,
			     "--resume: every step of run %s succeeded: nothing to resume", f.id);
		goto done;
	}
	for (size_t i = 0; i < rec.count; i++) {
		const rb_event *e = &rec.events[i];
		const char *name = rb_event_get(e, "capture");
		const char *value = rb_event_get(e, "value");
		const char *st = rb_event_get(e, "status");
		if (strcmp(e->type, "end") || !name || !value || !st || strcmp(st, "ok"))
			continue;
		rp->captures = rb_xrealloc(rp->captures, (rp->ncaptures + 1) * sizeof *rp->captures);
		rp->captures[rp->ncaptures++] = rb_xasprintf("%s=%s", name, value);
	}
	rp->run = rb_xstrdup(f.id);
	rp->hash = rb_xstrdup(then ? then : hash);
	rc = 0;
done:
	if (rc < 0)
		rb_resume_point_free(rp);
	rb_record_close(&rec);
	rb_gitstore_free(g);
	free(f.commit);
	free(f.id);
	free(data);
	free(path);
	free(abs);
	return rc;
}

void rb_resume_point_free(rb_resume_point *rp)
{
	free(rp->run);
	free(rp->from);
	free(rp->hash);
	for (size_t i = 0; i < rp->ncaptures; i++)
		free(rp->captures[i]);
	free(rp->captures);
	memset(rp, 0, sizeof *rp);
}
