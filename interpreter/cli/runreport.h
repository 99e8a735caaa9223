/*
 * runreport.h - the HTML report of a run (report.h in the library) as
 * run --report FILE and show RUN --html [-o FILE] write it.
 */
#ifndef RB_CLI_RUNREPORT_H
#define RB_CLI_RUNREPORT_H

#include <stdint.h>

#include "record.h"
#include "redact.h"
#include "runbook.h"

/** 0 when FILE can be written; else -1 after saying why (exit RB_EXIT_ENV). */
int cli_report_check(const char *path);

/**
 * A record kept in memory only, for --report without the audit record
 * (--no-audit): its start as the audit would write it, without an id.
 */
void cli_report_memory_open(rb_record *rec, const rb_runbook *rb, const rb_redactor *redactor);
/** Its end, as the audit writes it; started_ms: rb_now_ms() when the run began. */
void cli_report_memory_finish(rb_record *rec, int exit_code, int64_t started_ms);

/**
 * Writes the report of rec to path (NULL or "-": stdout), whole or not at
 * all; source: the runbook's text (NULL: unknown), commit: the audit commit
 * (NULL: none). 0, or -1 after saying why.
 */
int cli_report_write(const char *path, const rb_record *rec, const char *source, const char *commit,
		     const rb_redactor *redactor);

#endif
