/*
 * cmd_log.c - `runbook log [FILE]`: the runs on the audit ref, newest
 * first, one a line: time, run id, summary, author (and the run it
 * resumes). The library reads and checks them (rb_audit_runs_read); this
 * file only prints, every text from a commit made safe to show.
 */
#define _DEFAULT_SOURCE
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "output.h"
#include "record.h"
#include "util.h"
#include "visible.h"

/* How much of a commit's author is shown (as the trailers are bounded). */
#define AUTHOR_MAX 1024

typedef struct {
	const char *audit_repo;
} log_args;

static const cli_opt log_opts[] = {
	{"audit-repo", "DIR", CLI_OPT_STRING, offsetof(log_args, audit_repo), NULL,
	 "the git repository of audit records"},
	{NULL, NULL, CLI_OPT_FLAG, 0, NULL, NULL}
};

const cli_spec cmd_log_spec = {
	"log", "runbook log [FILE] [--audit-repo DIR]",
	"list past runs from the audit ref (of FILE only, when given)", CLI_OPERAND_OPTIONAL, log_opts
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
	if (r->resumes)
		rb_out("%s  %s  %s  (%s)  resumes %s\n", when, r->id, subject, author, r->resumes);
	else
		rb_out("%s  %s  %s  (%s)\n", when, r->id, subject, author);
	free(subject);
	free(author);
}

/* The runs of rb (NULL: of every runbook). Returns the exit code. */
static int print_log(const char *audit_repo, const rb_runbook *rb)
{
	rb_audit_runs runs;
	rb_error err = RB_ERROR_INIT;
	int rc = RB_EXIT_OK;
	if (rb_audit_runs_read(audit_repo, rb, NULL, &runs, &err) < 0) {
		rb_out_err("runbook log: %s\n", err.message);
		rc = err.code;
		goto done;
	}
	for (size_t i = 0; i < runs.count; i++)
		print_run(&runs.items[i]);
	if (!runs.count)
		rb_out("no runs recorded on %s in %s\n", runs.ref, runs.repo);
	rb_audit_runs_free(&runs);
done:
	rb_error_clear(&err);
	return rc;
}

int cmd_log(int argc, char **argv)
{
	int rc = RB_EXIT_USAGE;
	log_args a = {NULL};
	cli_parsed p;
	rb_runbook *rb = NULL;
	if (cli_parse(&cmd_log_spec, argc, argv, &a, &p) < 0 || cli_need_operand(&cmd_log_spec, &p) < 0)
		goto done;
	if (p.help) {
		cli_help(&cmd_log_spec);
		rc = RB_EXIT_OK;
		goto done;
	}
	if (p.count && !(rb = cli_runbook_load(p.operands[0])))
		goto done;
	rc = print_log(a.audit_repo, rb);
done:
	rb_runbook_free(rb);
	cli_parsed_free(&p);
	return rc;
}
