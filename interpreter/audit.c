/*
 * audit.c - the audit repository, run records, recovery, log/show, resume.
 *
 * A commit on the audit ref is believed only as far as runbook wrote it:
 * its message is one summary line and a final block of trailers whose
 * values are single lines, and the run it names must be the directory that
 * commit added to the tree. A title, a path or an id from a document can
 * therefore neither add a run nor claim another runbook's.
 */
#define _GNU_SOURCE
#include "audit.h"
#include "gitstore.h"
#include "parse.h"
#include "visible.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_REF "refs/heads/runbook-audit"
#define TRAILER_MAX 1024

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

/* runs/YYYY/MM/DD/HHMMSSZ-slug-pid from the run id YYYYMMDDTHHMMSSZ-slug-pid. */
static char *run_path_of(const char *id)
{
	if (strlen(id) < 17)
		return rb_xstrdup("runs/unknown");
	return rb_xasprintf("runs/%.4s/%.2s/%.2s/%s", id, id + 4, id + 6, id + 9);
}

static int all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return n > 0;
}

/*
 * 1 when id has the shape runbook gives run ids: YYYYMMDDTHHMMSSZ-<slug>-<pid>,
 * the slug of lower-case ASCII letters, digits, '-', '_' and the non-ASCII
 * letters rb_slugify keeps (nothing hidden, nothing that splits a path).
 */
static int valid_run_id(const char *id)
{
	int ok = 0;
	size_t n = strlen(id), bad = 0, len;
	const char *name, *dash = strrchr(id, '-');
	char *slug = NULL;
	if (n < 20 || n > 128 || !all_digits(id, 8) || id[8] != 'T' || !all_digits(id + 9, 6) || id[15] != 'Z' ||
	    id[16] != '-' || dash <= id + 17 || strlen(dash + 1) > 10 || !all_digits(dash + 1, strlen(dash + 1)))
		goto done;
	for (const char *p = id + 17; p < dash; p++) {
		unsigned char c = (unsigned char)*p;
		if (!(c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_'))
			goto done;
	}
	slug = rb_xstrndup(id + 17, (size_t)(dash - id - 17));
	size_t n_slug = strlen(slug);
	if (!rb_utf8_valid(slug, n_slug, &bad)) {
		/* Runs made before slugs were cut at a character boundary may end in part of one. */
		int partial = n_slug - bad < 4 && (unsigned char)slug[bad] >= 0xC2;
		for (size_t i = bad + 1; partial && i < n_slug; i++)
			partial = ((unsigned char)slug[i] & 0xC0) == 0x80;
		if (!partial)
			goto done;
		slug[bad] = '\0';
	}
	ok = rb_visible_next(slug, 0, &len, &name) < 0;
done:
	free(slug);
	return ok;
}

/* The commit message: one summary line, then the trailers, each value one line. */
static char *commit_message(const rb_record *rec, const char *id)
{
	char *summary = rb_record_summary(rec);
	const char *abs = rb_record_get(rec, "run", NULL, "runbook_abs");
	const char *result = rb_record_get(rec, "finish", NULL, "result");
	char *runbook = rb_record_one_line(abs ? abs : "?", TRAILER_MAX);
	char *res = rb_record_one_line(result ? result : "interrupted", TRAILER_MAX);
	char *m = rb_xasprintf("%s\n\nRun: %s\nRunbook: %s\nResult: %s\n", summary, id, runbook, res);
	free(summary);
	free(runbook);
	free(res);
	return m;
}

/* Commits a record at its run path; the record's own events say where. */
static int commit_record(rb_gitstore *g, const rb_record *rec, char oid[41], rb_error *err)
{
	int rc = -1;
	const char *path = rb_record_get(rec, "run", NULL, "path");
	const char *ref = rb_record_get(rec, "run", NULL, "ref");
	const char *id = rb_record_get(rec, "run", NULL, "id");
	char *md = NULL, *json = NULL, *journal = NULL, *message = NULL, *want = NULL;
	char *p_md = NULL, *p_json = NULL, *p_log = NULL;
	if (!path || !ref || !id) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "the run journal has no start event");
		goto done;
	}
	want = run_path_of(id);
	if (!valid_run_id(id) || strcmp(path, want)) {
		char *vid = rb_record_one_line(id, 200), *vpath = rb_record_one_line(path, 200);
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "the run journal names a malformed run (id '%s', path '%s')",
			     vid, vpath);
		free(vid);
		free(vpath);
		goto done;
	}
	md = rb_record_markdown(rec);
	json = rb_record_json(rec);
	journal = rb_record_text(rec);
	message = commit_message(rec, id);
	p_md = rb_xasprintf("%s/record.md", path);
	p_json = rb_xasprintf("%s/record.json", path);
	p_log = rb_xasprintf("%s/journal.log", path);
	rb_gitstore_file files[3] = {{p_md, md, strlen(md)}, {p_json, json, strlen(json)},
				     {p_log, journal, strlen(journal)}};
	if (rb_gitstore_commit(g, ref, files, 3, message, NULL, NULL, oid, err) < 0)
		goto done;
	rc = 0;
done:
	free(md);
	free(json);
	free(journal);
	free(message);
	free(want);
	free(p_md);
	free(p_json);
	free(p_log);
	return rc;
}

/* <git dir>/runbook/journal, without a doubled slash (messages name it). Caller frees. */
static char *journal_dir(rb_gitstore *g)
{
	const char *gd = rb_gitstore_gitdir(g);
	size_t n = strlen(gd);
	while (n > 1 && gd[n - 1] == '/')
		n--;
	return rb_xasprintf("%.*s/runbook/journal", (int)n, gd);
}

/* 1 when the journal ends in the note saying it could not be written further. */
static int journal_cut(const rb_record *rec)
{
	int cut = 0;
	for (size_t i = 0; i < rec->count && !cut; i++) {
		const char *j = rb_event_get(&rec->events[i], "journal");
		cut = !strcmp(rec->events[i].type, "note") && j && !strcmp(j, "cut");
	}
	return cut;
}

/*
 * Commits one interrupted run's journal, holding its lock meanwhile so that
 * two invocations never both commit it. A run whose directory is already on
 * its ref (the kill came after the commit, before the journal's removal) is
 * not committed again: its journal is only removed. 1 when committed.
 */
static int recover_one(rb_gitstore *g, const char *path)
{
	int committed = 0;
	rb_record rec;
	rb_error err = RB_ERROR_INIT;
	struct stat st;
	char oid[41];
	memset(&rec, 0, sizeof rec);
	rec.fd = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto done;
	/* Busy: its run goes on. Unlinked once we hold it: another invocation did it. */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0 || fstat(fd, &st) < 0 || st.st_nlink == 0)
		goto done;
	if (rb_record_load(&rec, path, &err) < 0)
		goto done;
	const char *id = rb_record_get(&rec, "run", NULL, "id");
	const char *ref = rb_record_get(&rec, "run", NULL, "ref");
	const char *run_path = rb_record_get(&rec, "run", NULL, "path");
	if (id && ref && run_path && valid_run_id(id)) {
		char *record = rb_xasprintf("%s/record.json", run_path);
		int there = rb_gitstore_exists(g, ref, record);
		free(record);
		if (there) {
			fprintf(stderr, "runbook: the run %s is already on %s; removed its leftover journal %s\n", id, ref,
				path);
			unlink(path);
			goto done;
		}
	}
	int cut = journal_cut(&rec);
	if (rec.torn) {
		char *text = rb_xasprintf("the run journal was cut: its last line (%zu bytes) is incomplete, so the "
					  "last event is missing", rec.torn);
		rb_record_event(&rec, "note", "text", text, "journal", "torn", NULL);
		free(text);
	}
	if (!rb_record_get(&rec, "finish", NULL, "result"))
		rb_record_event(&rec, "finish", "result", "interrupted", "exit", "none", "end",
				cut ? "unknown: the run journal could not be written" : "unknown: the run was killed",
				NULL);
	if (commit_record(g, &rec, oid, &err) < 0) {
		fprintf(stderr, "runbook: cannot commit the interrupted run in %s: %s\n", path, err.message);
		goto done;
	}
	fprintf(stderr, "runbook: committed the interrupted run %s to %s (%.7s)%s\n", id, ref, oid,
		cut || rec.torn ? "; its journal was cut short" : "");
	unlink(path);
	committed = 1;
done:
	if (fd >= 0)
		close(fd); /* after the unlink: nobody else gets the lock of a journal still there */
	rb_record_close(&rec);
	rb_error_clear(&err);
	return committed;
}

static int recover_in(rb_gitstore *g, rb_error *err)
{
	char *dir = journal_dir(g);
	DIR *d = opendir(dir);
	int count = 0;
	struct dirent *e;
	(void)err;
	while (d && (e = readdir(d)) != NULL) {
		size_t n = strlen(e->d_name);
		if (n < 5 || strcmp(e->d_name + n - 4, ".log"))
			continue;
		char *path = rb_xasprintf("%s/%s", dir, e->d_name);
		count += recover_one(g, path);
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

/* Refuses a repository whose filesystem cannot take a run's record any more. */
static int check_space(rb_gitstore *g, rb_error *err)
{
	unsigned long long free_bytes = 0;
	if (rb_gitstore_free_space(g, &free_bytes, err) < 0)
		return -1;
	if (free_bytes >= RB_AUDIT_MIN_FREE)
		return 0;
	return rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0,
			    "the audit repository %s has %llu KiB free, less than the %d KiB needed to record a "
			    "run; free some space there (or use --audit-repo DIR)",
			    rb_gitstore_gitdir(g), free_bytes / 1024, RB_AUDIT_MIN_FREE / 1024);
}

/* The first n bytes of s at most, not cutting a UTF-8 character. */
static char *utf8_prefix(const char *s, size_t n)
{
	size_t len = strlen(s);
	if (len > n) {
		len = n;
		while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
			len--;
	}
	return rb_xstrndup(s, len);
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
	a->ref = rb_xstrdup(ref_of(rb, NULL));
	/* Everything the commit at the end needs is checked now, before step 1. */
	if (check_space(a->git, err) < 0 ||
	    rb_gitstore_check_ref_lock(a->git, a->ref, RB_AUDIT_LOCK_STALE_S, RB_AUDIT_LOCK_WAIT_MS, err) < 0)
		goto done;
	recover_in(a->git, err);
	rb_error_clear(err);
	if (rb_gitstore_check_writable(a->git, err) < 0)
		goto done;

	char *full = rb_slugify(rb->title);
	slug = utf8_prefix(*full ? full : "runbook", 40);
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
	char *jdir = journal_dir(a->git);
	a->journal = rb_xasprintf("%s/%s.log", jdir, a->id);
	free(jdir);
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
	if (rb_record_failed(&a->rec)) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "%s", rb_record_error(&a->rec));
		unlink(a->journal);
		goto done;
	}
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
	if (rb_record_failed(&a->rec)) {
		/* The journal stopped short; this record, kept in memory, has every event. */
		char *text = rb_xasprintf("%s: the run was stopped; this record was kept in memory",
					  rb_record_error(&a->rec));
		rb_record_event(&a->rec, "note", "text", text, NULL);
		free(text);
	}
	rb_record_event(&a->rec, "finish", "result", result_word(exit_code), "exit", code, "end", end,
			"duration", dur, NULL);
	free(end);
	struct timespec c0, c1;
	clock_gettime(CLOCK_MONOTONIC, &c0);
	if (commit_record(a->git, &a->rec, oid, err) < 0) {
		fprintf(stderr, "runbook: THE AUDIT RECORD COULD NOT BE COMMITTED: %s\n"
				"runbook: the journal %s is kept%s; the next run on this repository commits it\n",
			err->message, a->journal, rb_record_failed(&a->rec) ? " (cut short: see above)" : "");
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &c1);
	const char *pause = getenv("RUNBOOK_TEST_PAUSE_AFTER_COMMIT");
	if (pause && !strcmp(pause, "1")) {
		/* Test-only (audit.h): the moment between the commit and the journal's removal. */
		fprintf(stderr, "runbook: paused after commit\n");
		fflush(stderr);
		sleep(30);
	}
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

/* What a commit of the audit ref says about its run, once checked (read_run). */
typedef struct {
	char *id;
	char *runbook;
	char *result;
} run_info;

static void run_info_free(run_info *r)
{
	free(r->id);
	free(r->runbook);
	free(r->result);
	memset(r, 0, sizeof *r);
}

/*
 * Reads the trailers strictly: only the message's final block (after the
 * last blank line), every line of it "Key: value" with a known key given
 * once, and Run present. 0 and r filled, or -1 (not a record of runbook's).
 */
static int parse_trailers(const char *message, run_info *r)
{
	int rc = -1;
	size_t len = strlen(message);
	const char *block = NULL;
	memset(r, 0, sizeof *r);
	while (len > 0 && message[len - 1] == '\n')
		len--;
	for (size_t i = len; i-- > 1 && !block;)
		if (message[i] == '\n' && message[i - 1] == '\n')
			block = message + i + 1;
	if (!block)
		goto done;
	const char *end = message + len;
	for (const char *p = block; p < end;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		const char *colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon || colon + 2 >= eol || colon[1] != ' ')
			goto done;
		size_t kl = (size_t)(colon - p);
		char **slot = kl == 3 && !strncmp(p, "Run", 3) ? &r->id
			      : kl == 7 && !strncmp(p, "Runbook", 7) ? &r->runbook
			      : kl == 6 && !strncmp(p, "Result", 6) ? &r->result : NULL;
		if (!slot || *slot)
			goto done; /* an unknown key, or one given twice: not runbook's */
		*slot = rb_xstrndup(colon + 2, (size_t)(eol - colon - 2));
		p = eol + 1;
	}
	if (r->id)
		rc = 0;
done:
	if (rc < 0)
		run_info_free(r);
	return rc;
}

/*
 * The run commit c records, or -1: its trailers are read strictly, the id
 * has the shape of a run id, and the run's directory is one c added.
 */
static int read_run(rb_gitstore *g, const rb_gitstore_commit_info *c, run_info *r)
{
	char *dir = NULL, *record = NULL;
	int rc = parse_trailers(c->message, r);
	if (rc < 0)
		goto done;
	dir = run_path_of(r->id);
	record = rb_xasprintf("%s/record.json", dir);
	if (!valid_run_id(r->id) || !rb_gitstore_added(g, c->id, record)) {
		run_info_free(r);
		rc = -1;
	}
done:
	free(dir);
	free(record);
	return rc;
}

/* 1 when run r is one of the runbook whose absolute path is abs. */
static int run_of(const run_info *r, const char *abs)
{
	char *want = rb_record_one_line(abs, TRAILER_MAX);
	int same = r->runbook && !strcmp(r->runbook, want);
	free(want);
	return same;
}

typedef struct {
	rb_gitstore *g;
	const char *runbook_abs;
	int count;
} log_ctx;

static int print_commit(void *ctx, const rb_gitstore_commit_info *c)
{
	log_ctx *l = ctx;
	run_info r;
	if (read_run(l->g, c, &r) < 0)
		return 0;
	if (l->runbook_abs && !run_of(&r, l->runbook_abs)) {
		run_info_free(&r);
		return 0;
	}
	char when[32];
	time_t t = (time_t)c->time;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%SZ", &tm);
	char *first = rb_xstrndup(c->message, strcspn(c->message, "\n"));
	char *subject = rb_record_one_line(first, RB_SUMMARY_MAX + 3);
	char *author = rb_record_one_line(c->author, TRAILER_MAX);
	printf("%s  %s  %s  (%s)\n", when, r.id, subject, author);
	free(first);
	free(subject);
	free(author);
	run_info_free(&r);
	l->count++;
	return 0;
}

int rb_audit_log(const char *repo_opt, const rb_runbook *rb, const char *ref)
{
	rb_gitstore *g = NULL;
	rb_error err = RB_ERROR_INIT;
	if (open_for_reading(rb, repo_opt, &g, &err) < 0) {
		char *m = rb_visible(err.message);
		fprintf(stderr, "runbook log: %s\n", m);
		free(m);
		rb_error_clear(&err);
		return RB_EXIT_ENV;
	}
	char *abs = rb ? realpath(rb->path, NULL) : NULL;
	log_ctx l = {g, abs, 0};
	rb_gitstore_log(g, ref_of(rb, ref), print_commit, &l);
	if (!l.count) {
		char *where = rb_visible(rb_gitstore_gitdir(g)), *r = rb_visible(ref_of(rb, ref));
		printf("no runs recorded on %s in %s\n", r, where);
		free(where);
		free(r);
	}
	free(abs);
	rb_gitstore_free(g);
	return RB_EXIT_OK;
}

typedef struct {
	rb_gitstore *g;
	const char *want;       /* a run id (or prefix), or a commit id (prefix) */
	const char *runbook;    /* or: the newest run of this runbook (absolute path) */
	char *commit;
	char *id;
} find_ctx;

static int find_run(void *ctx, const rb_gitstore_commit_info *c)
{
	find_ctx *f = ctx;
	run_info r;
	int hit;
	if (read_run(f->g, c, &r) < 0)
		return 0;
	if (f->runbook)
		hit = run_of(&r, f->runbook);
	else {
		size_t wl = strlen(f->want);
		hit = (wl && !strncmp(r.id, f->want, wl)) || (wl >= 4 && !strncmp(c->id, f->want, wl));
	}
	if (hit) {
		f->commit = rb_xstrdup(c->id);
		f->id = rb_xstrdup(r.id);
	}
	run_info_free(&r);
	return hit;
}

/* JSON with every hidden character inside its strings as a \uXXXX escape (same value, nothing hidden). */
static void json_visible(const char *text, size_t n, rb_buf *out)
{
	size_t from = 0, len = 0;
	const char *name;
	long at;
	while ((at = rb_visible_next(text, from, &len, &name)) >= 0 && (size_t)at < n) {
		const unsigned char *p = (const unsigned char *)text + at;
		unsigned cp = len == 1 ? p[0] : len == 2 ? (unsigned)(((p[0] & 0x1f) << 6) | (p[1] & 0x3f))
				      : (unsigned)(((p[0] & 0x0f) << 12) | ((p[1] & 0x3f) << 6) | (p[2] & 0x3f));
		rb_buf_add(out, text + from, (size_t)at - from);
		rb_buf_printf(out, "\\u%04x", cp);
		from = (size_t)at + len;
	}
	rb_buf_add(out, text + from, n - from);
}

int rb_audit_show(const char *repo_opt, const char *run, const char *ref, int json)
{
	rb_gitstore *g = NULL;
	rb_error err = RB_ERROR_INIT;
	int rc = RB_EXIT_USAGE;
	find_ctx f = {NULL, run, NULL, NULL, NULL};
	char *data = NULL, *path = NULL, *vrun = rb_visible(run);
	rb_buf shown = RB_BUF_INIT;
	size_t len = 0;
	if (open_for_reading(NULL, repo_opt, &g, &err) < 0) {
		char *m = rb_visible(err.message);
		fprintf(stderr, "runbook show: %s\n", m);
		free(m);
		rc = RB_EXIT_ENV;
		goto done;
	}
	f.g = g;
	if (!rb_gitstore_log(g, ref_of(NULL, ref), find_run, &f)) {
		fprintf(stderr, "runbook show: no run '%s' on %s (see runbook log)\n", vrun, ref_of(NULL, ref));
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
	/* The record quotes the document and its output: shown with nothing hidden. */
	if (json)
		json_visible(data, len, &shown);
	else
		rb_visible_into(data, len, &shown);
	fwrite(rb_buf_cstr(&shown), 1, shown.len, stdout);
	rc = RB_EXIT_OK;
done:
	rb_error_clear(&err);
	rb_buf_free(&shown);
	free(f.commit);
	free(f.id);
	free(data);
	free(path);
	free(vrun);
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
	find_ctx f = {NULL, NULL, abs ? abs : rb->path, NULL, NULL};
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
	f.g = g;
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
