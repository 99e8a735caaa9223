/*
 * report.h - the HTML report of a run: the runbook as executed.
 *
 * One self-contained page (inline CSS, no script needed, nothing fetched):
 * a header (title, run id, operator, host, start, end, duration, exit code
 * and its meaning, the audit commit, the runbook's content hash), a
 * timeline of the steps on a time axis, then the runbook's own Markdown
 * rendered by cmark in safe mode (raw HTML from the document is not passed
 * through, unsafe link schemes are dropped) with each executable block
 * decorated in place: its status, duration, attempts, exit code or
 * SQLSTATE, its kept output (bounded, ANSI sequences stripped), gate and
 * abort messages, approval decisions; steps that did not run greyed.
 *
 * Everything comes from the run's record (record.h), which is already
 * redacted, and from the runbook's text; every text from either is
 * HTML-escaped, so a hostile document or step output cannot run script in
 * the page. A Content-Security-Policy in the page allows no fetch and no
 * script but its own (a few lines that open the <details> for printing).
 *
 * The page's classes and data- attributes (what tests and style sheets
 * may rely on) are listed at the top of report.c.
 */
#ifndef RB_REPORT_H
#define RB_REPORT_H

#include "record.h"
#include "redact.h"

/**
 * Bytes of markup shown of one step's output: its head and its tail, and
 * between them a note of what was left out (the record keeps it all).
 */
#define RB_REPORT_OUTPUT_SHOWN 8192

typedef struct {
	const char *source;           /* the runbook's Markdown as it was run, front matter included;
				       * NULL: unknown (the steps are listed without the document) */
	const char *commit;           /* the audit commit that holds the record; NULL: not known (the copy
				       * committed with the record itself) */
	const rb_redactor *redactor;  /* hides the run's secrets in source once more; NULL: none */
} rb_report_opts;

/** The report of the run rec records, as one HTML page. Caller frees. */
char *rb_report_html(const rb_record *rec, const rb_report_opts *o);

#endif
