/*
 * runreport.c - writing a run's HTML report (cli/runreport.h).
 */
#define _DEFAULT_SOURCE
#include "cli/runreport.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit.h"
#include "gitstore.h"
#include "output.h"
#include "report.h"
#include "util.h"

int cli_report_check(const char *path)
{
	rb_error err = RB_ERROR_INIT;
	int rc = rb_check_creatable(path, &err);
	if (rc < 0)
		rb_out_err("runbook run: --report %s: %s\n", path, err.message);
	rb_error_clear(&err);
	return rc;
}

void cli_report_memory_open(rb_record *rec, const rb_runbook *rb, const rb_redactor *redactor)
{
	rb_error err = RB_ERROR_INIT;
	char hash[41], host[256] = "", start[32];
	rb_record_open(rec, NULL, redactor, &err); /* in memory: cannot fail */
	rb_error_clear(&err);
	rb_gitstore_hash(rb->source, rb->source_len, hash);
	gethostname(host, sizeof host - 1);
	rb_format_iso(rb_wall_ms(), 0, start, sizeof start);
	const char *who = getenv("USER");
	rb_record_event(rec, "run", "title", rb->title, "runbook", rb->path, "hash", hash, "operator",
			who && *who ? who : "unknown", "host", host, "start", start, NULL);
	rb_record_event(rec, "note", "text", "not recorded (--no-audit): this report is all that is kept", NULL);
}

void cli_report_memory_finish(rb_record *rec, int exit_code, int64_t started_ms)
{
	char code[16], end[32], dur[32];
	snprintf(code, sizeof code, "%d", exit_code);
	rb_format_iso(rb_wall_ms(), 0, end, sizeof end);
	rb_format_duration(rb_now_ms() - started_ms, dur, sizeof dur);
	rb_record_event(rec, "finish", "result", rb_audit_result_word(exit_code), "exit", code, "end", end,
			"duration", dur, NULL);
}

int cli_report_write(const char *path, const rb_record *rec, const char *source, const char *commit,
		     const rb_redactor *redactor)
{
	rb_error err = RB_ERROR_INIT;
	int rc = 0;
	char *doc = source ? rb_redact(redactor, source) : NULL;
	rb_report_opts ro = {doc, commit, NULL};
	char *html = rb_report_html(rec, &ro);
	if (!path || !strcmp(path, "-"))
		rb_out_write(1, html, strlen(html));
	else if ((rc = rb_write_file_atomic(path, html, strlen(html), &err)) < 0)
		rb_out_err("runbook: the report: %s\n", err.message);
	free(html);
	free(doc);
	rb_error_clear(&err);
	return rc;
}
