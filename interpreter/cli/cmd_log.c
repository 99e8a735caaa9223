/*
 * cmd_log.c - `runbook log [FILE]`: the runs on the audit ref, newest
 * first, one a line: time, run id, summary, author (and the run it
 * resumes); -n N the N newest; --json an array of objects, one a run. The
 * library reads and checks them as it walks the ref (rb_audit_runs_walk);
 * this file prints each as it comes, every text from a commit made safe to
 * show, and stops the walk at -n N.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "auditsync.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "json.h"
#include "output.h"
#include "record.h"
#include "util.h"
#include "visible.h"

/* How much of a commit's author is shown (as the trailers are bounded). */
#define AUTHOR_MAX 1024

typedef struct {
	const char *audit_repo;
	const char *max_count;   /* -n N: the N newest runs only */
	int json;
	const char *rollout;     /* --rollout ID: the runs of that rollout only */
	int remote;              /* --remote: the audit remote's records (fetched first) */
	const char *audit_remote; /* --audit-remote REMOTE */
} log_args;

static const cli_opt log_opts[] = {
	{"audit-repo", "DIR", CLI_OPT_STRING, offsetof(log_args, audit_repo), NULL,
	 "the git repository of audit records"},
	{"max-count", "N", CLI_OPT_STRING, offsetof(log_args, max_count), NULL, "the N newest runs only (-n N)"},
	{"json", NULL, CLI_OPT_FLAG, offsetof(log_args, json), NULL,
	 "a JSON array, one object a run: id, commit, time, result, runbook, title, author, resumes, reverts, "
	 "target, rollout"},
	{"rollout", "ID", CLI_OPT_STRING, offsetof(log_args, rollout), NULL,
	 "the runs of that rollout only (run --targets), one a target"},
	{"remote", NULL, CLI_OPT_FLAG, offsetof(log_args, remote), NULL,
	 "fetch the audit remote's records and list those (every machine's)"},
	{"audit-remote", "REMOTE", CLI_OPT_STRING, offsetof(log_args, audit_remote), NULL,
	 "with --remote: the remote (else audit.remote, RUNBOOK_AUDIT_REMOTE)"},
	{NULL, NULL, CLI_OPT_FLAG, 0, NULL, NULL}
};

const cli_spec cmd_log_spec = {
	"log", "runbook log [FILE] [-n N] [--json] [--rollout ID] [--remote] [--audit-repo DIR]",
	"list past runs from the audit ref, newest first (of FILE only, when given)", CLI_OPERAND_OPTIONAL, log_opts
};

static void print_run(const rb_audit_run *r)
{
	char when[32];
	time_t t = (time_t)r->time;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%d %H:%M:%SZ", &tm);
	char *subject = rb_record_one_line(r->subject, RB_SUMMARY_MAX + 3);
	char *author = rb_record_one_line(r->author, AUTHOR_MAX);
	/* A target's run: "[NAME]  " before its summary. */
	char *one = r->target ? rb_record_one_line(r->target, RB_SUMMARY_MAX) : NULL;
	char *target = one ? rb_xasprintf("[%s]  ", one) : rb_xstrdup("");
	if (r->resumes)
		rb_out("%s  %s  %s%s  (%s)  resumes %s\n", when, r->id, target, subject, author, r->resumes);
	else
		rb_out("%s  %s  %s%s  (%s)\n", when, r->id, target, subject, author);
	free(one);
	free(target);
	free(subject);
	free(author);
}

/* A string of a commit, one line and visible, as a JSON value (NULL: null). */
static void json_text(rb_json *j, const char *key, const char *s, size_t max)
{
	char *line = s ? rb_record_one_line(s, max) : NULL;
	rb_json_key(j, key);
	rb_json_string(j, line);
	free(line);
}

/* One run as an object of the JSON array (the result's exit code as its record.json has it). */
static void json_run(rb_json *j, const rb_audit_run *r)
{
	char when[32];
	time_t t = (time_t)r->time;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	rb_json_object_begin(j);
	json_text(j, "id", r->id, RB_SUMMARY_MAX);
	json_text(j, "commit", r->commit, 64);
	json_text(j, "time", when, sizeof when);
	json_text(j, "result", r->result, RB_SUMMARY_MAX);
	json_text(j, "runbook", r->runbook, AUTHOR_MAX);
	json_text(j, "title", r->subject, RB_SUMMARY_MAX + 3);
	json_text(j, "author", r->author, AUTHOR_MAX);
	json_text(j, "resumes", r->resumes, RB_SUMMARY_MAX);
	json_text(j, "reverts", r->reverts, RB_SUMMARY_MAX);
	json_text(j, "target", r->target, RB_SUMMARY_MAX);
	json_text(j, "rollout", r->rollout, RB_SUMMARY_MAX);
	rb_json_end(j, '}');
}

/* What the walk prints into: each run as the walk reaches it, so that `log | head` stops it early. */
typedef struct {
	int json;
	size_t max;        /* -n N; SIZE_MAX: all */
	size_t shown;
	rb_buf buf;        /* --json: what is not written yet */
	rb_json j;
	const char *rollout; /* --rollout ID */
	long long since;   /* with rollout: its start (from its id), less a minute; older commits end the walk */
} log_out;

static void flush_json(log_out *o)
{
	rb_out_write(1, rb_buf_cstr(&o->buf), o->buf.len);
	rb_buf_clear(&o->buf);
}

static int print_one(void *ctx, const rb_audit_run *r)
{
	log_out *o = ctx;
	if (o->rollout && r->time < o->since)
		return 1; /* older than the rollout: none of its runs is further down */
	if (o->rollout && !(r->rollout && !strcmp(r->rollout, o->rollout)))
		return 0;
	if (o->shown >= o->max)
		return 1; /* -n 0: this run only says that the ref holds some */
	if (o->json) {
		json_run(&o->j, r);
		flush_json(o);
	} else {
		print_run(r);
	}
	return ++o->shown >= o->max;
}

/* --remote: fetches the audit remote's ref; *tracking the local ref that now holds it. 0, or -1 after saying why. */
static int remote_ref(const log_args *a, const rb_runbook *rb, char **tracking)
{
	char *remote = rb_auditsync_remote(rb, a->audit_remote);
	rb_gitstore *g = NULL;
	char *where = NULL;
	rb_error err = RB_ERROR_INIT;
	int rc = -1, r;
	if (!remote)
		rb_out_err("runbook log --remote: no audit remote: --audit-remote, the front matter's audit.remote, or "
			   "RUNBOOK_AUDIT_REMOTE\n");
	else if ((r = rb_audit_store(rb, a->audit_repo, &g, &where, &err)) != 0)
		rb_out_err("runbook log --remote: %s\n", r < 0 ? err.message : "no audit repository here to fetch into "
			   "(use --audit-repo DIR)");
	else if (rb_auditsync_fetch(g, remote, rb_audit_ref(rb), tracking, &err) < 0)
		rb_out_err("runbook log --remote: %s\n", err.message);
	else
		rc = 0;
	rb_gitstore_free(g);
	free(where);
	free(remote);
	rb_error_clear(&err);
	return rc;
}

/* The n newest runs of rb (NULL: of every runbook), printed as they are read. Returns the exit code. */
static int print_log(const log_args *a, const rb_runbook *rb, size_t n)
{
	char *tracking = NULL;
	rb_audit_runs runs;
	rb_error err = RB_ERROR_INIT;
	int rc = RB_EXIT_OK;
	log_out o = {a->json, n, 0, RB_BUF_INIT, {0}, a->rollout, 0};
	if (a->rollout) {
		struct tm tm;
		memset(&tm, 0, sizeof tm);
		if (strlen(a->rollout) < 16 || !strptime(a->rollout, "%Y%m%dT%H%M%SZ", &tm)) {
			rb_out_err("runbook log: --rollout %s: not a rollout id (as the rollout printed it)\n", a->rollout);
			return RB_EXIT_USAGE;
		}
		o.since = (long long)timegm(&tm) - 60;
	}
	/*
	 * A reader that went away (`log | head`) ends the walk as it ends git
	 * log: the next write raises SIGPIPE, whose default kills quietly. It
	 * is made the default here in case the parent ignored it, as git turns
	 * EPIPE into SIGPIPE.
	 */
	signal(SIGPIPE, SIG_DFL);
	if (a->remote && remote_ref(a, rb, &tracking) < 0) {
		rc = RB_EXIT_ENV;
		goto done;
	}
	if (a->json) {
		rb_json_init(&o.j, &o.buf, 1);
		rb_json_array_begin(&o.j);
	}
	if (rb_audit_runs_walk(a->audit_repo, rb, tracking, &runs, print_one, &o, &err) < 0) {
		rb_out_err("runbook log: %s\n", err.message);
		rc = err.code;
		goto done;
	}
	if (a->json) {
		rb_json_end(&o.j, ']');
		rb_buf_puts(&o.buf, "\n");
		flush_json(&o);
	} else if (a->rollout && !o.shown) {
		rb_out("no runs of rollout %s on %s in %s\n", a->rollout, runs.ref, runs.repo);
	} else if (!runs.count) {
		rb_out("no runs recorded on %s in %s\n", runs.ref, runs.repo);
	}
	rb_audit_runs_free(&runs);
done:
	rb_buf_free(&o.buf);
	free(tracking);
	rb_error_clear(&err);
	return rc;
}

/* -n N as --max-count N (the one short option of log, as git log takes it); caller frees the array. */
static char **short_opts(int argc, char **argv)
{
	static char max_count[] = "--max-count";
	char **v = rb_xcalloc((size_t)argc + 1, sizeof *v);
	for (int i = 0; i < argc; i++)
		v[i] = i >= 2 && !strcmp(argv[i], "-n") ? max_count : argv[i];
	return v;
}

/* N of -n N into *n (SIZE_MAX: no -n). Returns 0, or -1 after saying why. */
static int count_of(const char *s, size_t *n)
{
	char *end = NULL;
	unsigned long long v = 0;
	*n = SIZE_MAX;
	if (!s)
		return 0;
	errno = 0;
	if (*s >= '0' && *s <= '9')
		v = strtoull(s, &end, 10);
	if (!end || *end || errno || v > SIZE_MAX) {
		rb_out_err("runbook log: -n needs a number of runs, not '%s'\n", s);
		return -1;
	}
	*n = (size_t)v;
	return 0;
}

int cmd_log(int argc, char **argv)
{
	int rc = RB_EXIT_USAGE;
	log_args a = {NULL, NULL, 0, NULL, 0, NULL};
	cli_parsed p;
	rb_runbook *rb = NULL;
	size_t n;
	char **args = short_opts(argc, argv);
	if (cli_parse(&cmd_log_spec, argc, args, &a, &p) < 0 || cli_need_operand(&cmd_log_spec, &p) < 0)
		goto done;
	if (p.help) {
		cli_help(&cmd_log_spec);
		rc = RB_EXIT_OK;
		goto done;
	}
	if (count_of(a.max_count, &n) < 0)
		goto done;
	if (p.count && !(rb = cli_runbook_load(p.operands[0])))
		goto done;
	rc = print_log(&a, rb, n);
done:
	rb_runbook_free(rb);
	cli_parsed_free(&p);
	free(args);
	return rc;
}
