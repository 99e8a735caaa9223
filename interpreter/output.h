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
 *
 * On a terminal the run's renderer (sink_terminal.c) may keep a live
 * status line at the bottom: drawn here, and erased here before anything
 * else is written, so that no writer needs to know about it. Colour is the
 * renderer's: rb_out_styled takes a line it coloured around words it made
 * visible itself.
 */
#ifndef RB_OUTPUT_H
#define RB_OUTPUT_H

#include <stdarg.h>
#include <stddef.h>

#include "redact.h"
#include "util.h"

/** The secrets to hide from now on (not owned; NULL: none). */
void rb_out_set_redactor(const rb_redactor *r);

/**
 * From now on rb_out's messages go to stderr (on: 1) or stdout (0): stdout
 * carries data (the JSON events of --events -). rb_out_write's streams
 * are as given.
 */
void rb_out_messages_to_stderr(int on);

/** A message on stdout (stderr, see above): redacted, made visible. */
void rb_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void rb_out_v(const char *fmt, va_list ap);

/** A message on stderr (after flushing stdout): redacted, made visible. */
void rb_out_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** "file:line:col: message" (parts unknown are left out) on stderr, with a prefix such as "runbook: " or "". */
void rb_out_error(const char *prefix, const rb_error *err);

/** Bytes as they are (already redacted: step output, rendered plans) to stream 1 or 2. */
void rb_out_write(int stream, const char *data, size_t len);

/**
 * A line the caller coloured: styled is plain with SGR sequences
 * (ESC[...m) around words the caller made visible (rb_visible). styled is
 * written when plain holds no secret of the run; else plain, redacted and
 * made visible, as rb_out writes it. stream 1 or 2.
 */
void rb_out_styled(int stream, const char *plain, const char *styled);

/**
 * Draws the live status line (one line of text, redacted, made visible and
 * cut to the terminal's width here) on stream, which must be a terminal,
 * in place of the one drawn before; on a line of its own when the last
 * byte written there was not a newline. Every other write erases it first.
 */
void rb_out_status(int stream, const char *text);

/** Erases the status line (nothing when none is drawn). */
void rb_out_status_clear(void);

/**
 * 1 when the last byte written to stream (or to the other stream, when both
 * are the same terminal) was a newline, or nothing was written yet.
 */
int rb_out_at_line_start(int stream);

/**
 * The terminal is at the start of a line though the last byte written was
 * not a newline: a person answered a prompt with Enter, which the terminal
 * echoed itself. The next status line starts there, not a line lower.
 */
void rb_out_line_ended(void);

/** "runbook: out of memory (allocating N bytes)" on stderr, allocating nothing (util.h's rb_oom_report). */
void rb_out_oom(size_t n);

/**
 * In a child forked without exec that will run as a runbook of its own:
 * forgets what the parent's output knew (its terminal, its status line,
 * its redactor, where messages go).
 */
void rb_out_forget(void);

#endif
