/*
 * output.h - the one place that writes to standard output and standard
 * error.
 *
 * Everything runbook says passes through here: messages (redacted, hidden
 * characters made visible: visible.h), errors in one format
 * ("file:line:col: message", rb_error), and step output, which is written
 * as the program wrote it (redacted only). Library modules return errors
 * (rb_error) instead of printing; the engine and the commands print them
 * here. The redactor is the run's; before a run there is none.
 */
#ifndef RB_OUTPUT_H
#define RB_OUTPUT_H

#include <stdarg.h>
#include <stddef.h>

#include "redact.h"
#include "util.h"

/** The secrets to hide from now on (not owned; NULL: none). */
void rb_out_set_redactor(const rb_redactor *r);

/** A message on stdout: redacted, made visible. */
void rb_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void rb_out_v(const char *fmt, va_list ap);

/** A message on stderr (after flushing stdout): redacted, made visible. */
void rb_out_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** "file:line:col: message" (parts unknown are left out) on stderr, with a prefix such as "runbook: " or "". */
void rb_out_error(const char *prefix, const rb_error *err);

/** Bytes as they are (already redacted: step output, rendered plans) to stream 1 or 2. */
void rb_out_write(int stream, const char *data, size_t len);

/** "runbook: out of memory (allocating N bytes)" on stderr, allocating nothing (util.h's rb_oom_report). */
void rb_out_oom(size_t n);

#endif
