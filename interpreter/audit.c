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
#include "auditsync.h"
#include "inventory.h"
#include "content.h"
#include "output.h"
#include "gitstore.h"
#include "parse.h"
#include "report.h"
#include "signals.h"
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

#include <libpq-fe.h>

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
	const rb_runbook *rb;            /* its text goes into the record (runbook.md) and the report */
	const rb_redactor *redactor;
	char oid[41];                    /* the commit, once made */
	char *sign_key;                  /* the key each commit is signed with (auditsync.h); NULL: none */
	char *remote;                    /* where the ref is pushed after the commit; NULL: nowhere */
	int in_rollout;                  /* a rollout's target: the rollout pushes, once, at its end */
};

typedef struct {
	char *dir;
	int discover;
	int create;
	int fallback;      /* the default .runbook-audit/: absent means nothing recorded yet */
} repo_choice;

/*
 * Where the audit repository is (audit.h): outside a git repository the
 * default is .runbook-audit/ beside the runbook, so that the runbook's runs
 * are found from any directory; without a runbook, in the current one.
 */

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
			c->dir = rb && strcmp(rb->dir, ".") ? rb_xasprintf("%s/.runbook-audit", rb->dir)
							    : rb_xstrdup(".runbook-audit");
			c->fallback = 1;
		}
		rb_error_clear(&e);
	}
}

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

static const char *ref_of(const rb_runbook *rb, const char *ref_opt)
{
	if (ref_opt)
		return ref_opt;
	return rb && rb->fm.audit_ref ? rb->fm.audit_ref : DEFAULT_REF;
}

static char *iso_now(void)
{
	char buf[80];
	return rb_xstrdup(rb_format_iso(rb_wall_ms(), 0, buf, sizeof buf));
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

/* The commit message: one summary line, then the trailers (audit.h), each value one line. */
static char *commit_message(const rb_record *rec, const char *id)
{
	char *summary = rb_record_summary(rec);
	const char *abs = rb_record_get(rec, "run", NULL, "runbook_abs");
	const char *result = rb_record_get(rec, "finish", NULL, "result");
	char *runbook = rb_record_one_line(abs ? abs : "?", TRAILER_MAX);
	char *res = rb_record_one_line(result ? result : "interrupted", TRAILER_MAX);
	const char *resumes = rb_record_get(rec, "run", NULL, "resumes");
	const char *reverts = rb_record_get(rec, "run", NULL, "reverts");
	char *link = resumes && valid_run_id(resumes) ? rb_xasprintf("Resumes: %s\n", resumes)
		     : reverts && valid_run_id(reverts) ? rb_xasprintf("Reverts: %s\n", reverts)
							 : rb_xstrdup("");
	const char *target = rb_record_get(rec, "run", NULL, "target");
	const char *rollout = rb_record_get(rec, "run", NULL, "rollout");
	char *t = target && rb_target_name_ok(target) ? rb_xasprintf("Target: %s\n", target) : rb_xstrdup("");
	char *ro = rollout && valid_run_id(rollout) ? rb_xasprintf("Rollout: %s\n", rollout) : rb_xstrdup("");
	char *m = rb_xasprintf("%s\n\nRun: %s\nRunbook: %s\nResult: %s\n%s%s%s", summary, id, runbook, res, link, t, ro);
	free(t);
	free(ro);
	free(link);
	free(summary);
	free(runbook);
	free(res);
	return m;
}

/*
 * Commits a record at its run path; the record's own events say where.
 * With the runbook's text (source, NULL: unknown), the runbook as run
 * (runbook.md, secrets hidden) beside it; and always the report
 * (report.html, report.h).
 */
static int commit_record(rb_gitstore *g, const rb_record *rec, const char *source, const rb_redactor *redactor,
			 char oid[41], rb_error *err)
{
	int rc = -1;
	const char *path = rb_record_get(rec, "run", NULL, "path");
	const char *ref = rb_record_get(rec, "run", NULL, "ref");
	const char *id = rb_record_get(rec, "run", NULL, "id");
	char *md = NULL, *json = NULL, *journal = NULL, *message = NULL, *want = NULL, *html = NULL, *doc = NULL;
	char *p_md = NULL, *p_json = NULL, *p_log = NULL, *p_html = NULL, *p_doc = NULL;
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
	p_html = rb_xasprintf("%s/report.html", path);
	p_doc = rb_xasprintf("%s/runbook.md", path);
	doc = source ? rb_redact(redactor, source) : NULL;
	rb_report_opts ro = {doc, NULL, NULL};
	html = rb_report_html(rec, &ro);
	rb_gitstore_file files[5] = {{p_md, md, strlen(md)}, {p_json, json, strlen(json)},
				     {p_log, journal, strlen(journal)}, {p_html, html, strlen(html)},
				     {p_doc, doc, doc ? strlen(doc) : 0}};
	if (rb_gitstore_commit(g, ref, files, doc ? 5 : 4, message, NULL, NULL, oid, err) < 0)
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
	free(p_html);
	free(p_doc);
	free(html);
	free(doc);
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

/* What recovery adds to a killed run's journal: a note on a torn last line, and the finish. */
static void complete_interrupted(rb_record *rec)
{
	int cut = journal_cut(rec);
	if (rec->torn) {
		char *text = rb_xasprintf("the run journal was cut: its last line (%zu bytes) is incomplete, so the "
					  "last event is missing", rec->torn);
		rb_record_event(rec, "note", "text", text, "journal", "torn", NULL);
		free(text);
	}
	if (!rb_record_get(rec, "finish", NULL, "result"))
		rb_record_event(rec, "finish", "result", "interrupted", "exit", "none", "end",
				cut ? "unknown: the run journal could not be written" : "unknown: the run was killed",
				NULL);
}

/*
 * Notes in a killed run's record what it left running (survivor.h), and
 * says so on stderr: the processes alive now, and the backends its journal
 * names, which cannot be checked without a connection.
 */
static void note_survivors(rb_record *rec, const char *id)
{
	static const char *const kinds[] = {"group", "process", "backend"};
	rb_survivors sv = RB_SURVIVORS_INIT;
	rb_survivors_find(rec, id, 1, &sv);
	for (size_t i = 0; i < sv.count; i++) {
		const rb_survivor *s = &sv.items[i];
		char *what = rb_survivor_describe(s), pid[24];
		char *text = rb_xasprintf("%s: %s", s->kind == RB_SURVIVOR_BACKEND ? "survivor candidate" : "survivor",
					  what);
		snprintf(pid, sizeof pid, "%ld", s->id);
		rb_record_event(rec, "note", "text", text, "survivor", kinds[s->kind], "pid", pid, "step", s->step, NULL);
		rb_out_err("runbook: run %s: %s\n", id, text);
		free(text);
		free(what);
	}
	rb_survivors_free(&sv);
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
			rb_out_err("runbook: the run %s is already on %s; removed its leftover journal %s\n", id, ref, path);
			unlink(path);
			goto done;
		}
	}
	int cut = journal_cut(&rec);
	complete_interrupted(&rec);
	if (id)
		note_survivors(&rec, id);
	/* Without the document: the secrets its run hid are not known here. */
	if (commit_record(g, &rec, NULL, NULL, oid, &err) < 0) {
		rb_out_err("runbook: cannot commit the interrupted run in %s: %s\n", path, err.message);
		goto done;
	}
	rb_out_err("runbook: committed the interrupted run %s to %s (%.7s)%s\n", id, ref, oid,
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

/*
 * A journal is made under a name of its own (JOURNAL.log.XXXXXX) and
 * renamed once locked (record.c): one left so, by a runbook killed in
 * between, is empty and its own creator's alone. Removed when nobody holds
 * it and it is a minute old (its creator may be between making and locking
 * it now).
 */
static void forget_unborn(const char *dir, const char *name)
{
	char *path = rb_xasprintf("%s/%s", dir, name);
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0 &&
	    st.st_mtime < time(NULL) - 60 && flock(fd, LOCK_EX | LOCK_NB) == 0)
		unlink(path);
	if (fd >= 0)
		close(fd);
	free(path);
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
		if (n > 11 && !strncmp(e->d_name + n - 11, ".log.", 5)) {
			forget_unborn(dir, e->d_name);
			continue;
		}
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

char *rb_audit_rollout_id(const rb_runbook *rb)
{
	char *full = rb_slugify(rb->title), *slug = utf8_prefix(*full ? full : "runbook", 40);
	time_t t = time(NULL);
	struct tm tm;
	char stamp[32];
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
	char *id = rb_xasprintf("%s-%s-%d", stamp, slug, (int)getpid());
	free(full);
	free(slug);
	return id;
}

int rb_audit_commit_rollout(const rb_runbook *rb, const char *repo, const char *remote, const char *id,
			    const char *resumes, const char *json, const char *md, const char *result, char oid[41],
			    rb_error *err)
{
	int rc = -1;
	repo_choice c;
	rb_gitstore *g = NULL;
	char *key = NULL;
	int earlier = -1;
	char *abs = realpath(rb->path, NULL);
	char *p_json = NULL, *p_md = NULL, *message = NULL;
	choose_repo(rb, repo, &c);
	if (!valid_run_id(id)) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "a malformed rollout id '%s'", id);
		goto done;
	}
	if (rb_gitstore_open(c.dir, c.discover, c.create, &g, err) < 0) {
		char *m = rb_xasprintf("audit repository %s: %s", c.dir, err->message);
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "%s", m);
		free(m);
		goto done;
	}
	const char *ref = ref_of(rb, NULL);
	if (rb_gitstore_check_ref_lock(g, ref, RB_AUDIT_LOCK_STALE_S, RB_AUDIT_LOCK_WAIT_MS, err) < 0 ||
	    rb_auditsync_sign_setup(rb, g, &key, err) < 0)
		goto done;
	char *where = rb_xasprintf("rollouts/%.4s/%.2s/%.2s/%s", id, id + 4, id + 6, id + 9);
	p_json = rb_xasprintf("%s/rollout.json", where);
	p_md = rb_xasprintf("%s/rollout.md", where);
	free(where);
	char *title = rb_record_one_line(rb->title, TRAILER_MAX), *runbook = rb_record_one_line(abs ? abs : rb->path, TRAILER_MAX);
	message = rb_xasprintf("Rollout of %s: %s\n\nRollout: %s\nRunbook: %s\nResult: %s\n%s%s%s", title, result, id,
			       runbook, result, resumes && valid_run_id(resumes) ? "Resumes: " : "",
			       resumes && valid_run_id(resumes) ? resumes : "", resumes && valid_run_id(resumes) ? "\n" : "");
	free(title);
	free(runbook);
	rb_gitstore_file files[2] = {{p_json, json, strlen(json)}, {p_md, md, strlen(md)}};
	/* A rollout Ctrl-C ended is recorded (signed, pushed) all the same; a new Ctrl-C stops that. */
	earlier = rb_signals_interrupted();
	rb_signals_reset();
	if (rb_gitstore_commit(g, ref, files, 2, message, NULL, NULL, oid, err) < 0)
		goto done;
	/* The targets' records and the rollout's go to the remote together, at its end. */
	char *to = rb_auditsync_remote(rb, remote);
	if (to && strcmp(result, "running"))
		rb_auditsync_push(g, to, ref, 0);
	free(to);
	rc = 0;
done:
	if (earlier >= 0)
		rb_signals_restore(earlier);
	rb_gitstore_free(g);
	free(key);
	free(c.dir);
	free(abs);
	free(p_json);
	free(p_md);
	free(message);
	return rc;
}

int rb_audit_begin(const rb_runbook *rb, const rb_audit_opts *opts, rb_audit **out, rb_error *err)
{
	int rc = -1;
	repo_choice c;
	rb_audit *a = rb_xcalloc(1, sizeof *a);
	char *slug = NULL, *when = NULL, *who = NULL, *cmd = NULL, *head = NULL, *abs = NULL;
	a->rec.fd = -1;
	a->start_ms = rb_now_ms();
	a->rb = rb;
	a->redactor = opts->redactor;
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
	/* Signed records: the key is checked now; the journals recovered below are signed too. */
	if (rb_auditsync_sign_setup(rb, a->git, &a->sign_key, err) < 0)
		goto done;
	a->remote = rb_auditsync_remote(rb, opts->remote);
	a->in_rollout = opts->rollout != NULL;
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

	char hash[41], includes[41], host[256] = "";
	rb_gitstore_hash(rb->source, rb->source_len, hash);
	rb_content_includes(rb, includes);
	gethostname(host, sizeof host - 1);
	when = iso_now();
	who = operator_of(a->git);
	cmd = join_argv(opts->argc, opts->argv);
	head = rb_gitstore_head_of(rb->dir);
	abs = realpath(rb->path, NULL);
	rb_record_event(&a->rec, "run", "id", a->id, "path", a->path, "ref", a->ref, "title", rb->title,
			"runbook", rb->path, "runbook_abs", abs ? abs : rb->path, "hash", hash, "includes", includes,
			"commit", head, "operator", who, "host", host, "start", when, "command", cmd, "resumes", opts->resumes,
			"reverts", opts->reverts,
			"chain", opts->resumes ? opts->chain : NULL, "target", opts->target, "rollout", opts->rollout, NULL);
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

const char *rb_audit_commit(const rb_audit *a)
{
	return a->oid[0] ? a->oid : NULL;
}

const char *rb_audit_result_word(int code)
{
	switch (code) {
	case RB_EXIT_OK: return "succeeded";
	case RB_EXIT_STEP: return "failed";
	case RB_EXIT_GATE: return "stopped by a gate or approval";
	case RB_EXIT_ABORT: return "aborted";
	case RB_EXIT_ENV: return "failed (environment)";
	case RB_EXIT_UNDO: return "undo incomplete";
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
	rb_record_event(&a->rec, "finish", "result", rb_audit_result_word(exit_code), "exit", code, "end", end,
			"duration", dur, NULL);
	free(end);
	struct timespec c0, c1;
	clock_gettime(CLOCK_MONOTONIC, &c0);
	/* The Ctrl-C that ended the run does not stop its record (a signature's ssh-keygen, the push): a new one does. */
	int earlier = rb_signals_interrupted();
	rb_signals_reset();
	if (commit_record(a->git, &a->rec, a->rb->source, a->redactor, oid, err) < 0) {
		rb_out_err("runbook: THE AUDIT RECORD COULD NOT BE COMMITTED: %s\n"
			   "runbook: the journal %s is kept%s; the next run on this repository commits it\n",
			   err->message, a->journal, rb_record_failed(&a->rec) ? " (cut short: see above)" : "");
		rb_signals_restore(earlier);
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &c1);
	const char *pause = getenv("RUNBOOK_TEST_PAUSE_AFTER_COMMIT");
	if (pause && !strcmp(pause, "1")) {
		/* Test-only (audit.h): the moment between the commit and the journal's removal. */
		rb_out_err("runbook: paused after commit\n");
		sleep(30);
	}
	unlink(a->journal);
	memcpy(a->oid, oid, sizeof a->oid);
	rb_out("Audit: %s %.7s in %s (%s/record.md), committed in %.1f ms\n", a->ref, oid,
	       rb_gitstore_gitdir(a->git), a->path,
	       (double)(c1.tv_sec - c0.tv_sec) * 1e3 + (double)(c1.tv_nsec - c0.tv_nsec) / 1e6);
	/* Shared: a push that fails leaves the record here, the exit code as it is, and a warning. */
	if (a->remote && !a->in_rollout)
		rb_auditsync_push(a->git, a->remote, a->ref, 0);
	rb_signals_restore(earlier);
	return 0;
}

void rb_audit_free(rb_audit *a)
{
	if (!a)
		return;
	rb_record_close(&a->rec);
	rb_gitstore_free(a->git);
	free(a->sign_key);
	free(a->remote);
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
	char *remote = rb_auditsync_remote(rb, NULL), *shown = remote ? rb_auditsync_shown(remote) : NULL;
	const char *sign = getenv("RUNBOOK_AUDIT_SIGN");
	char *d = rb_xasprintf("%s of %s%s, under runs/YYYY/MM/DD/%s%s%s", ref_of(rb, NULL), c.dir,
			       c.create ? " (created if missing)" : "", shown ? ", pushed to " : "", shown ? shown : "",
			       (rb && rb->fm.audit_sign) || (sign && !strcmp(sign, "ssh")) ? ", signed (ssh)" : "");
	free(remote);
	free(shown);
	free(c.dir);
	return d;
}

/*
 * Opens the audit repository to read it. 0; 1 when it is the default
 * .runbook-audit/ and does not exist yet (nothing recorded: *g NULL, *where
 * says where it would be); or -1 with err (RB_EXIT_ENV) naming it. *where
 * is the directory chosen (caller frees), NULL on -1.
 */
static int open_for_reading(const rb_runbook *rb, const char *repo_opt, rb_gitstore **g, char **where,
			    rb_error *err)
{
	repo_choice c;
	struct stat st;
	int r = 0;
	*g = NULL;
	choose_repo(rb, repo_opt, &c);
	if (c.fallback && stat(c.dir, &st) < 0 && errno == ENOENT) {
		r = 1;
	} else if (rb_gitstore_open(c.dir, 1, 0, g, err) < 0) {
		char *why = rb_xstrdup(err->message ? err->message : "cannot be opened");
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "audit repository %s: %s (use --audit-repo DIR)", c.dir,
			     why);
		free(why);
		r = -1;
	}
	*where = r < 0 ? NULL : c.dir;
	if (r < 0)
		free(c.dir);
	return r;
}

int rb_audit_store(const rb_runbook *rb, const char *repo_opt, rb_gitstore **g, char **where, rb_error *err)
{
	return open_for_reading(rb, repo_opt, g, where, err);
}

const char *rb_audit_ref(const rb_runbook *rb)
{
	return ref_of(rb, NULL);
}

/* What a commit of the audit ref says about its run (parse_run). */
typedef struct {
	char *id;
	char *runbook;
	char *result;
	char *resumes;     /* the run this one continues, or NULL */
	char *reverts;     /* the run this one reverts, or NULL */
	char *target;      /* the inventory target it ran for, or NULL */
	char *rollout;     /* the rollout it belongs to, or NULL */
} run_info;

static void run_info_free(run_info *r)
{
	free(r->id);
	free(r->runbook);
	free(r->result);
	free(r->resumes);
	free(r->reverts);
	free(r->target);
	free(r->rollout);
	memset(r, 0, sizeof *r);
}

/*
 * Reads the trailers strictly: only the message's final block (after the
 * last blank line), every line of it "Key: value" with a known key given
 * once (Run, Runbook, Result; Resumes for a resumed run), and Run present.
 * 0 and r filled, or -1 (not a record of runbook's).
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
			      : kl == 6 && !strncmp(p, "Result", 6) ? &r->result
			      : kl == 7 && !strncmp(p, "Resumes", 7) ? &r->resumes
			      : kl == 7 && !strncmp(p, "Reverts", 7) ? &r->reverts
			      : kl == 6 && !strncmp(p, "Target", 6) ? &r->target
			      : kl == 7 && !strncmp(p, "Rollout", 7) ? &r->rollout : NULL;
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
 * What a message says of its run, from its text alone: the trailers read
 * strictly, and the ids of the shape of a run id. 0 and r filled, or -1.
 * Only a commit that also added the run's directory (run_added) is a run:
 * the cheap test goes first, the tree lookups only for what a caller uses.
 */
static int parse_run(const char *message, run_info *r)
{
	if (parse_trailers(message, r) < 0)
		return -1;
	if (!valid_run_id(r->id) || (r->resumes && !valid_run_id(r->resumes)) ||
	    (r->reverts && !valid_run_id(r->reverts)) || (r->rollout && !valid_run_id(r->rollout)) ||
	    (r->target && !rb_target_name_ok(r->target))) {
		run_info_free(r);
		return -1;
	}
	return 0;
}

/*
 * 1 when the commit whose tree and first parent's tree these are (as the
 * walk gives them: rb_gitstore_commit_info) added the directory of run id
 * (its record.json): a few tree lookups, no commit read.
 */
static int run_added(rb_gitstore *g, const char *tree, const char *parent_tree, const char *id)
{
	char *dir = run_path_of(id);
	char *record = rb_xasprintf("%s/record.json", dir);
	int added = rb_gitstore_added_to(g, tree, parent_tree, record);
	free(dir);
	free(record);
	return added;
}

int rb_audit_runs_walk(const char *repo_opt, const rb_runbook *rb, const char *ref, rb_audit_runs *out,
		       int (*fn)(void *ctx, const rb_audit_run *run), void *ctx, rb_error *err)
{
	rb_gitstore *g = NULL;
	rb_gitstore_walk *w = NULL;
	rb_gitstore_commit_info c;
	char *abs = NULL, *mine = NULL, *where = NULL;
	int rc = -1;
	memset(out, 0, sizeof *out);
	int found = open_for_reading(rb, repo_opt, &g, &where, err);
	if (found < 0)
		goto done;
	abs = rb ? realpath(rb->path, NULL) : NULL;
	mine = abs ? rb_record_one_line(abs, TRAILER_MAX) : NULL; /* the Runbook trailer of rb's runs */
	out->repo = rb_xstrdup(g ? rb_gitstore_gitdir(g) : where); /* not there yet: no runs */
	out->ref = rb_xstrdup(ref_of(rb, ref));
	if (g)
		rb_gitstore_walk_start(g, out->ref, &w);
	while (w && rb_gitstore_walk_next(w, &c)) {
		run_info r;
		if (parse_run(c.message, &r) < 0)
			continue;
		if ((mine && !(r.runbook && !strcmp(r.runbook, mine))) || !run_added(g, c.tree, c.parent_tree, r.id)) {
			run_info_free(&r);
			continue;
		}
		rb_audit_run e = {rb_xstrdup(c.id), c.time, r.id, r.runbook, r.result, r.resumes, r.reverts,
				  rb_xstrndup(c.message, strcspn(c.message, "\n")), rb_xstrdup(c.author ? c.author : ""),
				  r.target, r.rollout};
		out->count++;
		int stop = fn(ctx, &e);
		free(e.commit);
		free(e.subject);
		free(e.author);
		run_info_free(&r);
		if (stop)
			break;
	}
	rc = 0;
done:
	rb_gitstore_walk_free(w);
	free(abs);
	free(mine);
	free(where);
	rb_gitstore_free(g);
	return rc;
}

void rb_audit_runs_free(rb_audit_runs *runs)
{
	free(runs->repo);
	free(runs->ref);
	memset(runs, 0, sizeof *runs);
}

/* --- the runs on the ref, read as far as needed, and resume chains -------- */

/*
 * A commit of the ref whose message reads as a run's (parse_run), or (in a
 * preview) a killed run's journal not committed yet. Whether the commit
 * also added the run's directory is checked when the entry is used
 * (run_entry_believed), not when it is read: a caller looking for one run
 * checks the runs that match, not every commit it passes.
 */
typedef struct {
	char *id;          /* Run */
	char *runbook;     /* Runbook, in the trailer's form; NULL: none */
	char *resumes;     /* Resumes: the run it continues, as its trailer says; NULL: none */
	char *reverts;     /* Reverts: the run it undid; NULL: none */
	char *target;      /* Target: the inventory target it ran for; NULL: none */
	char *commit;      /* NULL: pending */
	char *journal;     /* pending: the journal file */
	long long time;    /* the commit's time */
	char tree[41];     /* the commit's tree, and its first parent's ("": a root commit) */
	char parent_tree[41];
	int orphan;        /* its first parent cannot be read */
	int checked;       /* 0: not yet; 1: a run (its commit added its directory); -1: not a run */
	rb_record rec;
	int state;         /* 0: not read yet, 1: read, -1: unreadable */
} run_entry;

/*
 * The ref's history as far as it has been read, newest first. Every walk
 * of it starts at the ref's tip and stops when its answer is known: the
 * newest run, a run by its id, the runs newer than a given one.
 */
typedef struct {
	rb_gitstore *g;
	rb_gitstore_walk *walk;   /* the commits not read yet; NULL: none left */
	run_entry *items;         /* newest first */
	size_t count, cap;
	int by_target;            /* only the runs for target count (--resume of a target's run) */
	const char *target;       /* with by_target: the target; NULL: runs for no target */
} run_list;

static void run_list_open(run_list *l, rb_gitstore *g, const char *ref)
{
	memset(l, 0, sizeof *l);
	l->g = g;
	rb_gitstore_walk_start(g, ref, &l->walk);
}

static run_entry *run_list_add(run_list *l, const char *id, const char *commit, const char *journal)
{
	if (l->count == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 16;
		l->items = rb_xrealloc(l->items, l->cap * sizeof *l->items);
	}
	run_entry *e = &l->items[l->count++];
	memset(e, 0, sizeof *e);
	e->rec.fd = -1;
	e->id = rb_xstrdup(id);
	e->commit = commit ? rb_xstrdup(commit) : NULL;
	e->journal = journal ? rb_xstrdup(journal) : NULL;
	return e;
}

/* Reads commits until one reads as a run, and adds it: 1; 0 once the history is read through. */
static int run_list_more(run_list *l)
{
	rb_gitstore_commit_info c;
	run_info r;
	while (l->walk && rb_gitstore_walk_next(l->walk, &c)) {
		if (parse_run(c.message, &r) < 0)
			continue;
		run_entry *e = run_list_add(l, r.id, c.id, NULL);
		e->time = c.time;
		snprintf(e->tree, sizeof e->tree, "%s", c.tree);
		snprintf(e->parent_tree, sizeof e->parent_tree, "%s", c.parent_tree ? c.parent_tree : "");
		e->orphan = !c.parent_tree;
		e->runbook = r.runbook;
		e->resumes = r.resumes;
		e->reverts = r.reverts;
		e->target = r.target;
		r.runbook = r.resumes = r.reverts = r.target = NULL;
		run_info_free(&r);
		return 1;
	}
	rb_gitstore_walk_free(l->walk);
	l->walk = NULL;
	return 0;
}

/* Entry i, reading on as far as it (NULL: the history has fewer). The array may move. */
static run_entry *run_list_at(run_list *l, size_t i)
{
	while (i >= l->count && run_list_more(l))
		;
	return i < l->count ? &l->items[i] : NULL;
}

/* 1 when e is a run: pending, or its commit added its directory (checked once). */
static int run_entry_believed(run_list *l, run_entry *e)
{
	if (!e->checked)
		e->checked = !e->commit || run_added(l->g, e->tree, e->orphan ? NULL : e->parent_tree, e->id) ? 1 : -1;
	return e->checked > 0;
}

/* 1 when target names the same target as the list's (both none, or equal). */
static int same_target(const run_list *l, const char *target)
{
	return !l->by_target || (!l->target && !target) || (l->target && target && !strcmp(l->target, target));
}

/* 1 when e is a run of runbook (its Runbook trailer; NULL: of any), and of the list's target when it has one. */
static int run_entry_of(const run_list *l, const run_entry *e, const char *runbook)
{
	return (!runbook || (e->runbook && !strcmp(e->runbook, runbook))) && same_target(l, e->target);
}

/*
 * The index of the newest run at from or older, of runbook (NULL: any) and
 * with run id id (NULL: any); -1 when none. Reads on only as far as it;
 * checks only the entries that match.
 */
static long run_list_next(run_list *l, size_t from, const char *runbook, const char *id)
{
	run_entry *e;
	for (size_t i = from; (e = run_list_at(l, i)) != NULL; i++)
		if (run_entry_of(l, e, runbook) && (!id || !strcmp(e->id, id)) && run_entry_believed(l, e))
			return (long)i;
	return -1;
}

static void run_list_free(run_list *l)
{
	for (size_t i = 0; i < l->count; i++) {
		free(l->items[i].id);
		free(l->items[i].runbook);
		free(l->items[i].resumes);
		free(l->items[i].reverts);
		free(l->items[i].target);
		free(l->items[i].commit);
		free(l->items[i].journal);
		rb_record_close(&l->items[i].rec);
	}
	free(l->items);
	rb_gitstore_walk_free(l->walk);
	memset(l, 0, sizeof *l);
}

/* Reads e's journal once (a pending one completed as recovery would): 0, or -1 when it cannot be read. */
static int run_entry_load(run_list *l, run_entry *e)
{
	char *data = NULL, *dir = NULL, *path = NULL;
	size_t len = 0;
	rb_error err = RB_ERROR_INIT;
	if (e->state)
		goto done;
	e->state = -1;
	if (e->commit) {
		dir = run_path_of(e->id);
		path = rb_xasprintf("%s/journal.log", dir);
		if (rb_gitstore_read(l->g, e->commit, path, &data, &len) == 0) {
			rb_record_parse(&e->rec, data, len);
			e->state = 1;
		}
	} else if (rb_record_load(&e->rec, e->journal, &err) == 0) {
		complete_interrupted(&e->rec);
		e->state = 1;
	}
done:
	free(data);
	free(dir);
	free(path);
	rb_error_clear(&err);
	return e->state > 0 ? 0 : -1;
}

/*
 * What RUN names (rb_audit_load_opts): "latest" or NULL (the newest run),
 * HEAD~N (the Nth before it; HEAD, HEAD~ and HEAD^ as git reads them) set
 * nth; a run's directory as the Audit line prints it (runs/YYYY/MM/DD/NAME,
 * a file of it too) becomes its run id (*own, caller frees); anything else
 * is matched as it is.
 */
typedef struct {
	const char *want;       /* a run id (or prefix), its directory's name, or a commit id (prefix) */
	long nth;               /* >= 0: the nth run, newest first (latest, HEAD~N); -1: by want */
} run_name;

static void want_of(const char *run, run_name *f, char **own)
{
	char *end = NULL;
	size_t n;
	*own = NULL;
	f->nth = -1;
	f->want = run ? run : "";
	if (!run || !strcmp(run, "latest") || !strcmp(run, "HEAD")) {
		f->nth = 0;
	} else if (!strcmp(run, "HEAD~") || !strcmp(run, "HEAD^")) {
		f->nth = 1;
	} else if (!strncmp(run, "HEAD~", 5) && isdigit((unsigned char)run[5])) {
		errno = 0;
		long k = strtol(run + 5, &end, 10);
		f->nth = *end || errno ? LONG_MAX : k; /* HEAD~junk names no run */
	} else if (!strncmp(run, "runs/", 5) && strlen(run) > 16 && run[9] == '/' && run[12] == '/' &&
		   run[15] == '/' && all_digits(run + 5, 4) && all_digits(run + 10, 2) && all_digits(run + 13, 2)) {
		n = strcspn(run + 16, "/");
		*own = rb_xasprintf("%.4s%.2s%.2sT%.*s", run + 5, run + 10, run + 13, (int)n, run + 16);
		f->want = *own;
	}
}

/* 1 when f names e by its run id (or its start), its directory's name or its commit (prefix). */
static int names(const run_name *f, const run_entry *e)
{
	size_t wl = strlen(f->want);
	return (wl && !strncmp(e->id, f->want, wl)) || (wl >= 4 && e->commit && !strncmp(e->commit, f->want, wl)) ||
	       (wl >= 7 && strlen(e->id) > 9 && !strncmp(e->id + 9, f->want, wl));
}

/*
 * The index in l of the newest run f names, or -1. By name, the walk reads
 * the messages of the commits it passes and checks only those that match;
 * by position (HEAD~N), it checks the N+1 newest. *runs: with nth, how many
 * runs the ref holds when it has fewer (for the message).
 */
static long find_named(run_list *l, const run_name *f, long *runs)
{
	run_entry *e;
	*runs = 0;
	for (size_t i = 0; (e = run_list_at(l, i)) != NULL; i++) {
		if ((f->nth < 0 && !names(f, e)) || !run_entry_believed(l, e))
			continue;
		if (f->nth < 0 || (*runs)++ == f->nth)
			return (long)i;
	}
	return -1;
}

/* The run rec continues: its run event's resumes, or (runs made before chains) its "resumed run" note's run. */
static const char *resumes_of(const rb_record *rec)
{
	const char *r = rb_record_get(rec, "run", NULL, "resumes");
	for (size_t i = 0; !r && i < rec->count; i++) {
		const rb_event *e = &rec->events[i];
		const char *text = rb_event_get(e, "text");
		if (!strcmp(e->type, "note") && text && !strcmp(text, "resumed run"))
			r = rb_event_get(e, "run");
	}
	return r && valid_run_id(r) ? r : NULL;
}

static int by_id_newest_first(const void *a, const void *b)
{
	return strcmp(((const run_entry *)b)->id, ((const run_entry *)a)->id);
}

/*
 * Looks at the journals left in the repository for runs of runbook (the
 * Runbook trailer's form): one still locked is a run still going
 * (*running: its id); with pending, one not locked and not on ref yet (a
 * killed run that a preview must not commit) goes first in l, as the
 * newest.
 */
static void add_journals(run_list *l, const char *runbook, const char *ref, int pending, char **running)
{
	char *dir = journal_dir(l->g);
	DIR *d = opendir(dir);
	struct dirent *de;
	run_list found;
	memset(&found, 0, sizeof found);
	while (d && (de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		if (n < 5 || strcmp(de->d_name + n - 4, ".log"))
			continue;
		char *path = rb_xasprintf("%s/%s", dir, de->d_name);
		rb_record rec;
		rb_error err = RB_ERROR_INIT;
		if (rb_record_load(&rec, path, &err) == 0) {
			const char *id = rb_record_get(&rec, "run", NULL, "id");
			const char *abs = rb_record_get(&rec, "run", NULL, "runbook_abs");
			char *mine = abs ? rb_record_one_line(abs, TRAILER_MAX) : NULL;
			if (id && valid_run_id(id) && mine && !strcmp(mine, runbook) &&
			    same_target(l, rb_record_get(&rec, "run", NULL, "target"))) {
				char *run_dir = run_path_of(id);
				char *record = rb_xasprintf("%s/record.json", run_dir);
				if (rb_record_journal_busy(path)) {
					free(*running);
					*running = rb_xstrdup(id);
				} else if (pending && !rb_gitstore_exists(l->g, ref, record)) {
					run_entry *e = run_list_add(&found, id, NULL, path);
					e->runbook = rb_xstrdup(runbook);
					const char *t = rb_record_get(&rec, "run", NULL, "target");
					e->target = t ? rb_xstrdup(t) : NULL;
					e->checked = 1;
				}
				free(run_dir);
				free(record);
			}
			free(mine);
		}
		rb_record_close(&rec);
		rb_error_clear(&err);
		free(path);
	}
	if (d)
		closedir(d);
	free(dir);
	if (found.count) {
		qsort(found.items, found.count, sizeof *found.items, by_id_newest_first);
		if (l->count + found.count > l->cap) {
			l->cap = l->count + found.count;
			l->items = rb_xrealloc(l->items, l->cap * sizeof *l->items);
		}
		memmove(l->items + found.count, l->items, l->count * sizeof *l->items);
		memcpy(l->items, found.items, found.count * sizeof *found.items);
		l->count += found.count;
	}
	free(found.items);
}

/*
 * The chain ending at l->items[last], as indexes into l, first run first
 * (*out, *n; caller frees): each run's journal names the one before, a run
 * of the same runbook (its Runbook trailer) and older, so the walk of the
 * ref goes no further back than the chain's first run. A link to a run not
 * on the ref, or a journal that cannot be read, is an error with strict
 * (naming the runbook at path), else the chain starts after it.
 */
static int chain_of(run_list *l, size_t last, int strict, const char *path, const char *runbook, size_t **out,
		    size_t *n, rb_error *err)
{
	int rc = -1;
	size_t *c = NULL, count = 0, at = last;
	for (;;) {
		run_entry *e = &l->items[at];
		if (run_entry_load(l, e) < 0) {
			if (strict || !count) {
				rb_error_set(err, RB_EXIT_USAGE, path, 0, 0, "--resume: the journal of run %s cannot be "
					     "read: resume step by step with --from ID", e->id);
				goto done;
			}
			break;
		}
		int seen = 0;
		for (size_t k = 0; k < count; k++)
			seen |= c[k] == at;
		if (seen)
			break; /* a loop: only a hand-made record could say so */
		c = rb_xrealloc(c, (count + 1) * sizeof *c);
		c[count++] = at;
		const char *prev = resumes_of(&e->rec);
		long p = prev ? run_list_next(l, 0, runbook, prev) : -1; /* l->items may move: e is stale */
		if (prev && p < 0 && strict) {
			rb_error_set(err, RB_EXIT_USAGE, path, 0, 0, "--resume: run %s continues run %s, which is not on "
				     "the audit ref: resume step by step with --from ID", l->items[at].id, prev);
			goto done;
		}
		if (p < 0)
			break;
		at = (size_t)p;
	}
	for (size_t k = 0; k < count / 2; k++) {
		size_t t = c[k];
		c[k] = c[count - 1 - k];
		c[count - 1 - k] = t;
	}
	*out = c;
	*n = count;
	c = NULL;
	rc = 0;
done:
	free(c);
	return rc;
}

/* The role step id had in rec ("main", "on_failure"), or NULL. */
static const char *role_in(const rb_record *rec, const char *id)
{
	for (size_t i = 0; i < rec->count; i++) {
		const rb_event *e = &rec->events[i];
		const char *eid = rb_event_get(e, "id");
		if (!strcmp(e->type, "step") && eid && !strcmp(eid, id))
			return rb_event_get(e, "role");
	}
	return NULL;
}

/* 1 when step id ended ok in rec. */
static int succeeded_in(const rb_record *rec, const char *id)
{
	for (size_t i = 0; i < rec->count; i++) {
		const rb_event *e = &rec->events[i];
		const char *eid = rb_event_get(e, "id"), *st = rb_event_get(e, "status");
		if (!strcmp(e->type, "end") && eid && st && !strcmp(eid, id) && !strcmp(st, "ok"))
			return 1;
	}
	return 0;
}

/* Sets NAME=value in rp's restored values, replacing an earlier one: later runs win. */
static void restore(rb_resume_point *rp, const char *name, const char *value, size_t run, const char *step)
{
	size_t n = strlen(name), i;
	for (i = 0; i < rp->ncaptures; i++)
		if (!strncmp(rp->captures[i], name, n) && rp->captures[i][n] == '=')
			break;
	if (i == rp->ncaptures) {
		rp->captures = rb_xrealloc(rp->captures, (rp->ncaptures + 1) * sizeof *rp->captures);
		rp->origins = rb_xrealloc(rp->origins, (rp->ncaptures + 1) * sizeof *rp->origins);
		rp->ncaptures++;
	} else {
		free(rp->captures[i]);
		free(rp->origins[i].step);
	}
	rp->captures[i] = rb_xasprintf("%s=%s", name, value);
	rp->origins[i].run = run;
	rp->origins[i].step = step ? rb_xstrdup(step) : NULL;
}

/*
 * Fills rp->done and rp->from: the first step of the main flow after the
 * last one (in document order) that succeeded in any run of the chain. The
 * steps before it count as done, whether they succeeded (then in which run
 * first) or were passed: skipped by when=, failed with continue_on_error,
 * or before the step the chain's first run started at.
 */
static void find_from(const rb_runbook *rb, run_list *l, const size_t *chain, size_t n, rb_resume_point *rp)
{
	size_t *first = rb_xcalloc(rb->nsteps ? rb->nsteps : 1, sizeof *first);
	size_t start = 0;
	for (size_t i = 0; i < rb->nsteps; i++) {
		const rb_step *s = &rb->steps[i];
		first[i] = SIZE_MAX;
		if (s->role != RB_ROLE_MAIN || !rb_step_runnable(s) || !s->id)
			continue;
		for (size_t k = 0; k < n && first[i] == SIZE_MAX; k++)
			if (succeeded_in(&l->items[chain[k]].rec, s->id))
				first[i] = k;
		if (first[i] != SIZE_MAX)
			start = i + 1;
	}
	for (size_t i = start; i < rb->nsteps && !rp->from; i++) {
		const rb_step *s = &rb->steps[i];
		if (s->role == RB_ROLE_MAIN && rb_step_runnable(s) && s->kind != RB_STEP_ABORT && s->id)
			rp->from = rb_xstrdup(s->id);
	}
	for (size_t i = 0; rp->from && i < rb->nsteps; i++) {
		const rb_step *s = &rb->steps[i];
		if (s->id && !strcmp(s->id, rp->from))
			break;
		if (s->role != RB_ROLE_MAIN || !rb_step_runnable(s) || s->kind == RB_STEP_ABORT || !s->id)
			continue;
		rp->done = rb_xrealloc(rp->done, (rp->ndone + 1) * sizeof *rp->done);
		rp->done[rp->ndone].step = rb_xstrdup(s->id);
		rp->done[rp->ndone].succeeded = first[i] != SIZE_MAX;
		rp->done[rp->ndone].run = first[i] != SIZE_MAX ? first[i] : 0;
		rp->ndone++;
	}
	free(first);
}

/*
 * The chain's undo stack (undo.h). A last run whose undo was cut short is
 * continued (undo_only); one whose undo ran to its end leaves nothing to
 * resume.
 */
static int find_undo(const rb_runbook *rb, run_list *l, const size_t *chain, size_t n, rb_resume_point *rp,
		     rb_error *err)
{
	const rb_record **recs = rb_xcalloc(n ? n : 1, sizeof *recs);
	int rc = 0;
	for (size_t k = 0; k < n; k++)
		recs[k] = &l->items[chain[k]].rec;
	rb_undo_stack_read(rb, recs, n, &rp->undo);
	const char *state = rp->undo.state;
	if (state && (!strcmp(state, RB_UNDO_FINISHED) || !strcmp(state, RB_UNDO_INCOMPLETE)))
		rc = rb_error_set(err, RB_EXIT_USAGE, rb->path, 0, 0, "--resume: the last run (%s) failed and was "
				  "undone%s: nothing to resume (run it again without --resume)", rp->run,
				  !strcmp(state, RB_UNDO_INCOMPLETE) ? ", incompletely (see runbook show)" : "");
	else if (state && (!strcmp(state, RB_UNDO_START) || !strcmp(state, RB_UNDO_INTERRUPTED)))
		rp->undo_only = 1;
	free(recs);
	return rc;
}

/* Every capture and --set value along the chain, later runs' winning (a handler's or an undo's captures are not restored). */
static void find_restores(run_list *l, const size_t *chain, size_t n, rb_resume_point *rp)
{
	for (size_t k = 0; k < n; k++) {
		const rb_record *rec = &l->items[chain[k]].rec;
		for (size_t i = 0; i < rec->count; i++) {
			const rb_event *e = &rec->events[i];
			const char *value = rb_event_get(e, "value");
			if (!strcmp(e->type, "var")) {
				const char *name = rb_event_get(e, "name");
				if (name && value && !strcmp(or_empty(rb_event_get(e, "source")), "--set"))
					restore(rp, name, value, k, NULL);
			} else if (!strcmp(e->type, "end")) {
				const char *name = rb_event_get(e, "capture"), *id = rb_event_get(e, "id");
				if (name && value && id && !strcmp(or_empty(rb_event_get(e, "status")), "ok") &&
				    strcmp(or_empty(role_in(rec, id)), "on_failure") &&
				    strcmp(or_empty(role_in(rec, id)), "undo"))
					restore(rp, name, value, k, id);
			}
		}
	}
}

/* Each connection's target as the chain first recorded it ("database" events). */
static void find_targets(run_list *l, const size_t *chain, size_t n, rb_resume_point *rp)
{
	for (size_t k = 0; k < n; k++) {
		const rb_record *rec = &l->items[chain[k]].rec;
		for (size_t i = 0; i < rec->count; i++) {
			const rb_event *e = &rec->events[i];
			const char *name = or_empty(rb_event_get(e, "name")), *target = rb_event_get(e, "target");
			int known = 0;
			if (!strcmp(name, "default"))
				name = ""; /* the engine names the default connection so */
			if (strcmp(e->type, "database") || !target)
				continue;
			for (size_t t = 0; t < rp->ntargets && !known; t++)
				known = !strcmp(rp->targets[t].name, name);
			if (known)
				continue;
			rp->targets = rb_xrealloc(rp->targets, (rp->ntargets + 1) * sizeof *rp->targets);
			rp->targets[rp->ntargets].name = rb_xstrdup(name);
			rp->targets[rp->ntargets].target = rb_xstrdup(target);
			rp->targets[rp->ntargets].run = k;
			rp->ntargets++;
		}
	}
}

/* The value of key in parsed conninfo opts, or NULL when not given. */
static const char *conninfo_get(const PQconninfoOption *opts, const char *key)
{
	for (const PQconninfoOption *o = opts; o && o->keyword; o++)
		if (!strcmp(o->keyword, key) && o->val && *o->val && strcmp(o->val, "(socket)"))
			return o->val;
	return NULL;
}

/*
 * Compares a recorded target with the connection string a new run would
 * use, on what both state (host, port, dbname, user): NULL when nothing
 * differs as far as they say, else the string's side, "dbname=staging"
 * (caller frees). Strings libpq cannot parse, or that take ${VAR}s, say
 * nothing.
 */
static char *target_differs(const char *recorded, const char *dsn)
{
	static const char *const keys[] = {"host", "port", "dbname", "user", NULL};
	char *e1 = NULL, *e2 = NULL;
	PQconninfoOption *then = PQconninfoParse(recorded, &e1);
	PQconninfoOption *now = strstr(dsn, "${") ? NULL : PQconninfoParse(dsn, &e2);
	rb_buf b = RB_BUF_INIT;
	int differs = 0;
	for (int k = 0; then && now && keys[k]; k++) {
		const char *a = conninfo_get(then, keys[k]), *v = conninfo_get(now, keys[k]);
		if (!v)
			continue;
		rb_buf_printf(&b, "%s%s=%s", b.len ? " " : "", keys[k], v);
		differs |= a && strcmp(a, v);
	}
	PQconninfoFree(then);
	PQconninfoFree(now);
	PQfreemem(e1);
	PQfreemem(e2);
	if (!differs)
		rb_buf_free(&b);
	return differs ? rb_buf_detach(&b) : NULL;
}

/*
 * What --force lifts. Each check returns 0, or the exit code of its refusal
 * with *why (what is wrong) and *todo (what to do), both one line, malloc'd.
 */

/*
 * The first connection whose database the new run would reach is not the
 * chain's, as far as its connection string (--db, the front matter,
 * DATABASE_URL) says before the run. RB_EXIT_ENV.
 */
static int check_targets(const rb_runbook *rb, const rb_resume_opts *o, const rb_resume_point *rp, char **why,
			 char **todo)
{
	for (size_t t = 0; t < rp->ntargets; t++) {
		const rb_chain_target *ct = &rp->targets[t];
		const char *dsn = NULL, *how = NULL;
		char *now = NULL;
		if (!*ct->name && o->ephemeral_db) {
			now = rb_xstrdup("a throwaway server (--ephemeral-db), a new and empty database");
		} else if (!*ct->name) {
			dsn = o->db_url ? o->db_url : rb->fm.database.value ? rb->fm.database.value : getenv("DATABASE_URL");
			how = o->db_url ? "--db" : rb->fm.database.value ? "the front matter's database" : "DATABASE_URL";
		} else {
			for (size_t i = 0; i < rb->fm.ndatabases && !dsn; i++)
				if (!strcmp(rb->fm.databases[i].key, ct->name)) {
					dsn = rb->fm.databases[i].value;
					how = "the front matter";
				}
		}
		char *side = dsn ? target_differs(ct->target, dsn) : NULL;
		if (side)
			now = rb_xasprintf("%s (%s)", side, how);
		free(side);
		if (!now)
			continue;
		char *want = rb_record_one_line(ct->target, 300), *got = rb_record_one_line(now, 300);
		*why = rb_xasprintf("run %zu of the chain (%s) used %s for the %s%s%s connection, and this run would "
				    "use %s", ct->run + 1, rp->chain[ct->run].id, want, *ct->name ? "'" : "",
				    *ct->name ? ct->name : "default", *ct->name ? "'" : "", got);
		*todo = rb_xstrdup("resume against the chain's database, or anyway with --force");
		free(want);
		free(got);
		free(now);
		return RB_EXIT_ENV;
	}
	return 0;
}

/* Processes the chain left running (survivor.h). RB_EXIT_ENV. */
static int check_survivors(const rb_resume_point *rp, char **why, char **todo)
{
	size_t alive = rb_survivors_alive(&rp->survivors);
	for (size_t i = 0; i < rp->survivors.count; i++) {
		const rb_survivor *s = &rp->survivors.items[i];
		if (s->kind == RB_SURVIVOR_BACKEND)
			continue;
		char *what = rb_survivor_describe(s);
		char more[96] = "";
		if (alive > 1)
			snprintf(more, sizeof more, " (and %zu more: runbook plan --resume lists them)", alive - 1);
		*why = rb_xasprintf("%s, left by run %s%s", what, s->run, more);
		*todo = rb_xasprintf("stop it (kill %s%ld) and resume again, or resume anyway with --force",
				     s->kind == RB_SURVIVOR_GROUP ? "-- -" : "", s->id);
		free(what);
		return RB_EXIT_ENV;
	}
	return 0;
}

/* A runbook changed since the chain's first run. RB_EXIT_USAGE. */
static int check_content(const rb_resume_point *rp, char **why, char **todo)
{
	if (!strcmp(rp->hash, rp->current_hash) && rp->includes && strcmp(rp->includes, rp->current_includes)) {
		*why = rb_xasprintf("the files the runbook includes (\\i, \\ir) changed since run %s started this chain "
				    "(includes %.7s, now %.7s)", rp->first, rp->includes, rp->current_includes);
		*todo = rb_xstrdup("check the edits to the included SQL files, then resume anyway with --force");
		return RB_EXIT_USAGE;
	}
	if (!strcmp(rp->hash, rp->current_hash))
		return 0;
	*why = rb_xasprintf("the runbook changed since run %s started this chain (content %.7s, now %.7s)", rp->first,
			    rp->hash, rp->current_hash);
	*todo = rb_xstrdup("check the edits (runbook plan --resume lists them), then resume anyway with --force");
	return RB_EXIT_USAGE;
}

int rb_resume_check_target(const rb_resume_point *rp, const char *name, const char *target, char **why)
{
	const char *n = !name || !strcmp(name, "default") ? "" : name;
	*why = NULL;
	for (size_t t = 0; t < rp->ntargets; t++) {
		const rb_chain_target *ct = &rp->targets[t];
		char *side = strcmp(ct->name, n) ? NULL : target_differs(ct->target, target);
		if (!side)
			continue;
		char *want = rb_record_one_line(ct->target, 300), *got = rb_record_one_line(side, 300);
		*why = rb_xasprintf("run %zu of the chain (%s) used %s for the %s%s%s connection, and this run reached %s",
				    ct->run + 1, rp->chain[ct->run].id, want, *n ? "'" : "", *n ? n : "default",
				    *n ? "'" : "", got);
		free(want);
		free(got);
		free(side);
		return -1;
	}
	return 0;
}

/* A failure handler that ran may have undone what the chain did: continuing after it is not resuming. */
static int check_handler(const rb_resume_point *rp, char **why, char **todo)
{
	if (!rp->handler_step || rp->undo_only)
		return 0;
	*why = rb_xasprintf("the failure handler ran in run %s (step '%s'), and may have undone what the runs "
			    "before it did", rp->run, rp->handler_step);
	*todo = rb_xstrdup("start a new run (without --resume), or, having checked what the handler did (runbook "
			   "show), resume anyway with --force");
	return RB_EXIT_USAGE;
}

/* The first on_failure step of rec that started, or NULL. */
static const char *handler_ran(const rb_record *rec)
{
	for (size_t i = 0; i < rec->count; i++) {
		const rb_event *e = &rec->events[i];
		const char *id = rb_event_get(e, "id"), *role = id ? role_in(rec, id) : NULL;
		if (strcmp(e->type, "step") && role && !strcmp(role, "on_failure"))
			return id;
	}
	return NULL;
}

/*
 * Runs every check --force lifts: the first refusal goes to rp->refusal,
 * and with force what each overrides to rp->forced.
 */
static void check_refusals(const rb_runbook *rb, const rb_resume_opts *o, rb_resume_point *rp)
{
	rb_buf forced = RB_BUF_INIT;
	for (int c = 0; c < 4; c++) {
		char *why = NULL, *todo = NULL;
		int code = c == 0   ? check_survivors(rp, &why, &todo)
			   : c == 1 ? check_targets(rb, o, rp, &why, &todo)
			   : c == 2 ? check_content(rp, &why, &todo)
				    : check_handler(rp, &why, &todo);
		if (code && !rp->refusal.code)
			rb_error_set(&rp->refusal, code, rb->path, 0, 0, "--resume: %s: %s", why, todo);
		if (code)
			rb_buf_printf(&forced, "%s%s", forced.len ? "; " : "", why);
		free(why);
		free(todo);
	}
	if (o->force && forced.len)
		rp->forced = rb_buf_detach(&forced);
	rb_buf_free(&forced);
}

/*
 * The audit repository of rb's runs, for --resume: 0, or -1 with err naming
 * the runbook (RB_EXIT_ENV: it cannot be opened; RB_EXIT_USAGE: there is
 * none yet, so no earlier run).
 */
static int open_for_resume(const rb_runbook *rb, const char *repo_opt, rb_gitstore **g, rb_error *err)
{
	char *where = NULL, *why = NULL;
	int found = open_for_reading(rb, repo_opt, g, &where, err);
	if (found < 0) {
		why = rb_xstrdup(err->message);
		rb_error_set(err, RB_EXIT_ENV, rb->path, 0, 0, "--resume: %s", why);
	} else if (found > 0) {
		rb_error_set(err, RB_EXIT_USAGE, rb->path, 0, 0, "--resume: no earlier run of this runbook (no audit "
			     "repository at %s yet): run it without --resume", where);
	}
	free(where);
	free(why);
	return found ? -1 : 0;
}

int rb_audit_resume_point(const rb_runbook *rb, const rb_resume_opts *o, rb_resume_point *rp, rb_error *err)
{
	int rc = -1;
	rb_gitstore *g = NULL;
	run_list l;
	size_t *chain = NULL, n = 0;
	char *abs = realpath(rb->path, NULL);
	char *runbook = rb_record_one_line(abs ? abs : rb->path, TRAILER_MAX);
	char *running = NULL, hash[41];
	const char *ref = ref_of(rb, NULL);
	memset(rp, 0, sizeof *rp);
	memset(&l, 0, sizeof l);
	if (open_for_resume(rb, o->repo, &g, err) < 0)
		goto done;
	if (!o->preview) {
		recover_in(g, err); /* the killed runs of the chain become records first */
		rb_error_clear(err);
	}
	/* The ref is read from its tip back to the chain's first run, no further. */
	run_list_open(&l, g, ref);
	l.by_target = 1; /* a target's runs resume that target's; a run for no target, such a run */
	l.target = o->target;
	add_journals(&l, runbook, ref, o->preview, &running);
	if (running) {
		rb_error_set(err, RB_EXIT_ENV, rb->path, 0, 0, "--resume: run %s of this runbook is still going (its "
			     "journal is in use): let it end, or stop it, before resuming", running);
		goto done;
	}
	long newest = run_list_next(&l, 0, runbook, NULL);
	if (newest < 0) {
		rb_error_set(err, RB_EXIT_USAGE, rb->path, 0, 0, "--resume: no earlier run of this runbook on %s: run "
			     "it without --resume", ref);
		goto done;
	}
	if (chain_of(&l, (size_t)newest, 1, rb->path, runbook, &chain, &n, err) < 0)
		goto done;
	const run_entry *last = &l.items[chain[n - 1]];
	const char *result = rb_record_get(&last->rec, "finish", NULL, "result");
	if (result && !strcmp(result, "succeeded")) {
		rb_error_set(err, RB_EXIT_USAGE, rb->path, 0, 0, "--resume: the last run (%s) succeeded: nothing to "
			     "resume (run it again without --resume)", last->id);
		goto done;
	}
	rp->run = rb_xstrdup(last->id);
	rp->first = rb_xstrdup(l.items[chain[0]].id);
	rp->chain = rb_xcalloc(n, sizeof *rp->chain);
	rp->nchain = n;
	for (size_t k = 0; k < n; k++) {
		const run_entry *e = &l.items[chain[k]];
		const char *h = rb_record_get(&e->rec, "run", NULL, "hash");
		rp->chain[k].id = rb_xstrdup(e->id);
		rp->chain[k].outcome = rb_record_outcome(&e->rec);
		rp->chain[k].hash = h ? rb_xstrdup(h) : NULL;
		rp->chain[k].pending = !e->commit;
	}
	find_from(rb, &l, chain, n, rp);
	const char *handler = handler_ran(&last->rec);
	rp->handler_step = handler ? rb_xstrdup(handler) : NULL;
	if (find_undo(rb, &l, chain, n, rp, err) < 0)
		goto done;
	if (!rp->from && !rp->undo_only) {
		rb_error_set(err, RB_EXIT_USAGE, rb->path, 0, 0, "--resume: every step succeeded in the runs up to %s: "
			     "nothing to resume (run it again without --resume)", last->id);
		goto done;
	}
	find_restores(&l, chain, n, rp);
	find_targets(&l, chain, n, rp);
	rb_gitstore_hash(rb->source, rb->source_len, hash);
	rp->current_hash = rb_xstrdup(hash);
	rp->hash = rb_xstrdup(rp->chain[0].hash ? rp->chain[0].hash : hash);
	/* The files it includes, as the chain's first run recorded them (older runs did not). */
	const char *inc = rb_record_get(&l.items[chain[0]].rec, "run", NULL, "includes");
	rb_content_includes(rb, hash);
	rp->current_includes = rb_xstrdup(hash);
	rp->includes = inc ? rb_xstrdup(inc) : NULL;
	for (size_t k = 0; k < n; k++) {
		const rb_record *rec = &l.items[chain[k]].rec;
		const char *res = rb_record_get(rec, "finish", NULL, "result");
		rb_survivors_find(rec, rp->chain[k].id, !res || !strcmp(res, "interrupted"), &rp->survivors);
	}
	/* What --force lifts: a run stops here; a preview, or a forced run, is told. */
	check_refusals(rb, o, rp);
	if (rp->refusal.code && !o->preview && !o->force) {
		*err = rp->refusal;
		memset(&rp->refusal, 0, sizeof rp->refusal);
		goto done;
	}
	rc = 0;
done:
	if (rc < 0)
		rb_resume_point_free(rp);
	run_list_free(&l);
	rb_gitstore_free(g);
	free(chain);
	free(abs);
	free(runbook);
	free(running);
	return rc;
}

/* "NAME=value" of a restored value, shown on one line, bounded. */
static char *shown_value(const char *kv)
{
	return rb_record_one_line(kv, 120);
}

char *rb_resume_point_describe(const rb_resume_point *rp)
{
	rb_buf b = RB_BUF_INIT;
	size_t width = 0;
	rb_buf_puts(&b, "  chain, first run first:\n");
	for (size_t k = 0; k < rp->nchain; k++)
		rb_buf_printf(&b, "    run %zu  %s  %s%s\n", k + 1, rp->chain[k].id, rp->chain[k].outcome,
			      rp->chain[k].pending ? " (killed; not committed yet: the next run commits it)" : "");
	for (size_t i = 0; i < rp->ndone; i++)
		if (strlen(rp->done[i].step) > width)
			width = strlen(rp->done[i].step);
	rb_buf_puts(&b, rp->ndone ? "  done:\n" : "  done: nothing\n");
	for (size_t i = 0; i < rp->ndone; i++) {
		const rb_done_step *d = &rp->done[i];
		if (d->succeeded)
			rb_buf_printf(&b, "    %-*s  ok in run %zu\n", (int)width, d->step, d->run + 1);
		else
			rb_buf_printf(&b, "    %-*s  not run in this chain (passed: a later step succeeded)\n", (int)width,
				      d->step);
	}
	if (rp->undo_only) {
		rb_buf_puts(&b, "  runs: no step of the main flow; the undos not run yet, newest first:");
		for (size_t i = rp->undo.count; i-- > 0;)
			rb_buf_printf(&b, " %s", rp->undo.items[i].step);
		rb_buf_puts(&b, rp->undo.count ? "\n" : " none\n");
		for (size_t i = 0; i < rp->undo.ninterrupted; i++)
			rb_buf_printf(&b, "  not run again: the undo of %s (started, never ended)\n",
				      rp->undo.interrupted[i]);
	} else {
		rb_buf_printf(&b, "  runs first: %s\n", rp->from);
	}
	rb_buf_puts(&b, rp->ncaptures ? "  restores:\n" : "  restores: nothing\n");
	for (size_t i = 0; i < rp->ncaptures; i++) {
		char *v = shown_value(rp->captures[i]);
		if (rp->origins[i].step)
			rb_buf_printf(&b, "    %s  (captured by step '%s' in run %zu)\n", v, rp->origins[i].step,
				      rp->origins[i].run + 1);
		else
			rb_buf_printf(&b, "    %s  (given with --set to run %zu)\n", v, rp->origins[i].run + 1);
		free(v);
	}
	/* The runbook's content along the chain: each distinct hash with the runs that had it. */
	rb_buf_puts(&b, "  content:");
	for (size_t k = 0; k < rp->nchain; k++) {
		const char *h = rp->chain[k].hash ? rp->chain[k].hash : "unknown";
		int seen = 0;
		for (size_t j = 0; j < k && !seen; j++)
			seen = !strcmp(rp->chain[j].hash ? rp->chain[j].hash : "unknown", h);
		if (seen)
			continue;
		rb_buf_printf(&b, "%s %.7s in run", k ? ";" : "", h);
		const char *sep = " ";
		for (size_t j = k; j < rp->nchain; j++)
			if (!strcmp(rp->chain[j].hash ? rp->chain[j].hash : "unknown", h)) {
				rb_buf_printf(&b, "%s%zu", sep, j + 1);
				sep = ", ";
			}
	}
	rb_buf_printf(&b, "; now %.7s%s\n", rp->current_hash,
		      strcmp(rp->hash, rp->current_hash) ? " (changed since the chain's first run)" : " (unchanged)");
	for (size_t t = 0; t < rp->ntargets; t++) {
		char *target = rb_record_one_line(rp->targets[t].target, 300);
		rb_buf_printf(&b, "  database%s%s: %s (run %zu)\n", *rp->targets[t].name ? " " : "",
			      rp->targets[t].name, target, rp->targets[t].run + 1);
		free(target);
	}
	if (!rp->survivors.count)
		rb_buf_puts(&b, "  survivors: none found\n");
	for (size_t i = 0; i < rp->survivors.count; i++) {
		const rb_survivor *s = &rp->survivors.items[i];
		char *what = rb_survivor_describe(s);
		size_t k = 0;
		while (k < rp->nchain && strcmp(rp->chain[k].id, s->run))
			k++;
		rb_buf_printf(&b, "  %s: %s, left by run %zu\n", s->kind == RB_SURVIVOR_BACKEND ? "to check" : "survivor",
			      what, k + 1);
		free(what);
	}
	char *shown = rb_visible(rb_buf_cstr(&b));
	rb_buf_free(&b);
	return shown;
}

void rb_resume_point_free(rb_resume_point *rp)
{
	free(rp->run);
	free(rp->first);
	free(rp->from);
	free(rp->hash);
	free(rp->current_hash);
	free(rp->includes);
	free(rp->handler_step);
	free(rp->current_includes);
	for (size_t i = 0; i < rp->ncaptures; i++) {
		free(rp->captures[i]);
		free(rp->origins[i].step);
	}
	free(rp->captures);
	free(rp->origins);
	for (size_t k = 0; k < rp->nchain; k++) {
		free(rp->chain[k].id);
		free(rp->chain[k].outcome);
		free(rp->chain[k].hash);
	}
	free(rp->chain);
	for (size_t i = 0; i < rp->ndone; i++)
		free(rp->done[i].step);
	free(rp->done);
	for (size_t t = 0; t < rp->ntargets; t++) {
		free(rp->targets[t].name);
		free(rp->targets[t].target);
	}
	free(rp->targets);
	rb_survivors_free(&rp->survivors);
	rb_undo_stack_free(&rp->undo);
	rb_error_clear(&rp->refusal);
	free(rp->forced);
	memset(rp, 0, sizeof *rp);
}

/*
 * The "## Resume chain" section of the record of run l->items[me] when it
 * belongs to one: the runs it continues (older: its journal names each),
 * and the later runs that continue it. NULL when it stands alone. Caller
 * frees.
 *
 * A later run that continues a run names it in its Resumes trailer, so the
 * runs newer than this one are matched on their trailers, and only those
 * that match are checked and their journals read. Runs recorded before
 * resume chains carried no such trailer; one of those may continue a run
 * when it is the next run of the runbook after it (--resume took the
 * runbook's last run), so that one's journal is read too.
 */
static char *chain_section(run_list *l, size_t me)
{
	rb_error err = RB_ERROR_INIT;
	size_t *chain = NULL, n = 0;
	char *md = NULL;
	rb_chain_entry *entries = NULL;
	const char *runbook = l->items[me].runbook; /* the string stays where it is when l->items moves */
	if (!runbook || chain_of(l, me, 0, NULL, runbook, &chain, &n, &err) < 0)
		goto done;
	size_t current = n - 1;
	int next = 1; /* no run of the runbook between the chain's last and this one */
	for (size_t i = me; i-- > 0;) {
		/* newer runs, oldest first: those continuing the chain's last run extend it */
		run_entry *e = &l->items[i];
		const char *last = l->items[chain[n - 1]].id;
		if (!run_entry_of(l, e, runbook))
			continue;
		int named = e->resumes ? !strcmp(e->resumes, last) : next;
		if (!named)
			next = 0;
		if (!named || !run_entry_believed(l, e))
			continue;
		const char *prev = run_entry_load(l, e) == 0 ? resumes_of(&e->rec) : NULL;
		next = prev && !strcmp(prev, last);
		if (next) {
			chain = rb_xrealloc(chain, (n + 1) * sizeof *chain);
			chain[n++] = i;
		}
	}
	if (n < 2)
		goto done;
	entries = rb_xcalloc(n, sizeof *entries);
	for (size_t k = 0; k < n; k++) {
		entries[k].id = l->items[chain[k]].id;
		entries[k].rec = &l->items[chain[k]].rec;
	}
	md = rb_record_chain_markdown(entries, n, current);
done:
	free(entries);
	free(chain);
	rb_error_clear(&err);
	return md;
}

/* The error for a run that o->run does not name, on ref in the repository at where (l: its runs, or NULL). */
static void no_such_run(const rb_audit_load_opts *o, const run_name *f, long runs, run_list *l, const char *ref,
			const char *where, rb_error *err)
{
	const char *run = o->run ? o->run : "latest";
	if (f->nth < 0 && l)
		runs = run_list_next(l, 0, NULL, NULL) >= 0; /* is there any run at all */
	if (!runs)
		rb_error_set(err, RB_EXIT_USAGE, NULL, 0, 0, "no runs recorded on %s in %s yet (a run of a runbook "
			     "records one; see runbook log)", ref, where);
	else if (f->nth >= 0)
		rb_error_set(err, RB_EXIT_USAGE, NULL, 0, 0, "no run '%s' on %s in %s: it holds %ld run%s "
			     "(see runbook log)", run, ref, where, runs, runs == 1 ? "" : "s");
	else
		rb_error_set(err, RB_EXIT_USAGE, NULL, 0, 0, "no run '%s' on %s in %s (see runbook log)", run, ref,
			     where);
}

int rb_audit_load_run(const rb_audit_load_opts *o, rb_audit_loaded *out, rb_error *err)
{
	rb_gitstore *g = NULL;
	int rc = -1;
	const char *ref = ref_of(NULL, o->ref);
	char *own = NULL, *where = NULL;
	run_name f;
	run_list l;
	long runs = 0;
	memset(out, 0, sizeof *out);
	memset(&l, 0, sizeof l);
	want_of(o->run, &f, &own);
	int found = open_for_reading(NULL, o->repo, &g, &where, err);
	if (found < 0)
		goto done;
	if (g)
		run_list_open(&l, g, ref);
	long at = g ? find_named(&l, &f, &runs) : -1;
	if (at < 0) {
		no_such_run(o, &f, runs, g ? &l : NULL, ref, g ? rb_gitstore_gitdir(g) : where, err);
		goto done;
	}
	const run_entry *me = &l.items[at];
	char *dir = run_path_of(me->id);
	out->path = rb_xasprintf("%s/%s", dir, o->file ? o->file : o->json ? "record.json" : "record.md");
	free(dir);
	if (rb_gitstore_read(g, me->commit, out->path, &out->data, &out->len) < 0) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "commit %.7s has no %s", me->commit, out->path);
		goto done;
	}
	out->commit = rb_xstrdup(me->commit);
	out->id = rb_xstrdup(me->id);
	out->runbook = rb_xstrdup(me->runbook ? me->runbook : "");
	/* Who reverted it: newer runs, all read already, checked only when their Reverts trailer names it. */
	for (size_t i = 0; i < (size_t)at; i++) {
		run_entry *e = &l.items[i];
		if (e->reverts && !strcmp(e->reverts, out->id) && run_entry_believed(&l, e)) {
			out->reverted_by = rb_xrealloc(out->reverted_by, (out->nreverted_by + 1) * sizeof *out->reverted_by);
			out->reverted_by[out->nreverted_by++] = rb_xstrdup(e->id);
		}
	}
	if (!o->json && !o->file)
		out->chain = chain_section(&l, (size_t)at);
	rc = 0;
done:
	if (rc < 0)
		rb_audit_loaded_free(out);
	run_list_free(&l);
	free(own);
	free(where);
	rb_gitstore_free(g);
	return rc;
}

void rb_audit_loaded_free(rb_audit_loaded *l)
{
	free(l->commit);
	free(l->id);
	free(l->runbook);
	free(l->path);
	free(l->data);
	free(l->chain);
	for (size_t i = 0; i < l->nreverted_by; i++)
		free(l->reverted_by[i]);
	free(l->reverted_by);
	memset(l, 0, sizeof *l);
}

int rb_audit_rollout_load(const rb_runbook *rb, const char *repo, const char *id, char **json, rb_error *err)
{
	int rc = -1;
	rb_gitstore *g = NULL;
	rb_gitstore_walk *w = NULL;
	rb_gitstore_commit_info c;
	char *where = NULL, *trailer = NULL, *path = NULL, *resumed = NULL;
	size_t len = 0;
	struct tm tm;
	*json = NULL;
	memset(&tm, 0, sizeof tm);
	if (!valid_run_id(id) || !strptime(id, "%Y%m%dT%H%M%SZ", &tm)) {
		rb_error_set(err, RB_EXIT_USAGE, NULL, 0, 0, "'%s' is not a rollout id (as the rollout printed it)", id);
		goto done;
	}
	long long since = (long long)timegm(&tm) - 60;
	int found = open_for_reading(rb, repo, &g, &where, err);
	if (found) {
		if (found > 0)
			rb_error_set(err, RB_EXIT_USAGE, NULL, 0, 0, "no rollout %s: no audit repository at %s", id, where);
		goto done;
	}
	trailer = rb_xasprintf("\nRollout: %s\n", id);
	resumed = rb_xasprintf("\nResumes: %s\n", id);
	path = rb_xasprintf("rollouts/%.4s/%.2s/%.2s/%s/rollout.json", id, id + 4, id + 6, id + 9);
	rb_gitstore_walk_start(g, ref_of(rb, NULL), &w);
	while (w && rb_gitstore_walk_next(w, &c) && c.time >= since) {
		/* The rollout's own commit: its trailer, no Run: (the runs of the rollout have both). */
		if (strncmp(c.message, "Rollout of ", 11) || strstr(c.message, "\nRun: "))
			continue;
		const char *later = strstr(c.message, resumed) ? strstr(c.message, "\nRollout: ") : NULL;
		if (later) {
			char *newer = rb_xstrndup(later + 10, strcspn(later + 10, "\n"));
			rb_error_set(err, RB_EXIT_USAGE, NULL, 0, 0, "rollout %s was resumed already, by rollout %s: resume "
				     "that one", id, newer);
			free(newer);
			goto done;
		}
		if (!strstr(c.message, trailer))
			continue;
		if (rb_gitstore_read(g, c.id, path, json, &len) == 0) {
			/* The record of its start alone (it never ended): the journals its targets' killed runs left
			   are committed now, as a run's start would, so that their runs say how each ended. */
			if (strstr(c.message, "\nResult: running\n")) {
				recover_in(g, err);
				rb_error_clear(err);
			}
			rc = 0;
			goto done;
		}
	}
	rb_error_set(err, RB_EXIT_USAGE, NULL, 0, 0, "no rollout %s on %s (runbook log --rollout ID lists a rollout's runs)",
		     id, ref_of(rb, NULL));
done:
	free(resumed);
	rb_gitstore_walk_free(w);
	rb_gitstore_free(g);
	free(where);
	free(trailer);
	free(path);
	return rc;
}
