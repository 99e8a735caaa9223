/*
 * record.h - what happened in a run, as a list of events that is at once
 * the crash-safe journal and the source of the audit record.
 *
 * Each event (run started, variable, step started, step ended, approval,
 * abort, run finished) is appended to the journal file and fsync'd before
 * the run goes on, so a run killed at any point leaves everything known up
 * to the kill. The journal is plain text, one event a line: a type and
 * key=value fields separated by tabs, with '%', tab, newline and CR
 * percent-encoded. Reading it back (rb_record_load) gives the same record,
 * which renders as Markdown (for people) and JSON (for tools).
 *
 * Every value is redacted before it is stored (redact.h): nothing secret is
 * ever written to the journal, and so never reaches a git object.
 */
#ifndef RB_RECORD_H
#define RB_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "redact.h"
#include "util.h"

typedef struct {
	char *key;
	char *value;
} rb_field;

typedef struct {
	char *type;        /* "run", "var", "step", "end", "approval", "abort", "note", "finish" */
	rb_field *fields;
	size_t nfields;
} rb_event;

typedef struct {
	rb_event *events;
	size_t count;
	size_t cap;
	int fd;                      /* journal, -1 when none */
	char *journal_path;
	const rb_redactor *redactor; /* not owned; NULL: nothing to hide */
} rb_record;

/**
 * Starts a record; with journal_path, creates that file (and its directory),
 * takes an exclusive lock on it for as long as the record is open, and
 * writes every event to it. Returns 0, or -1 with err (RB_EXIT_ENV).
 */
int rb_record_open(rb_record *rec, const char *journal_path, const rb_redactor *redactor,
		   rb_error *err);

/**
 * Appends an event: type, then NULL-terminated key, value pairs (a NULL
 * value is skipped). Values are redacted, then journaled and fsync'd.
 */
void rb_record_event(rb_record *rec, const char *type, ...);

/** The value of key in the last event of type (optionally with id=...), or NULL. */
const char *rb_record_get(const rb_record *rec, const char *type, const char *id, const char *key);

/** The value of key in event e, or NULL. */
const char *rb_event_get(const rb_event *e, const char *key);

/**
 * Reads a journal back into rec (no journal is attached). Returns 0, or -1
 * with err when the file cannot be read. A torn last line is ignored.
 */
int rb_record_load(rb_record *rec, const char *journal_path, rb_error *err);

/** Like rb_record_load, from text in memory (a journal read back from git). */
void rb_record_parse(rb_record *rec, const char *text, size_t len);

/** The journal's text (every event as written). Caller frees. */
char *rb_record_text(const rb_record *rec);

/** 1 when another live process holds the journal's lock. */
int rb_record_journal_busy(const char *journal_path);

/** Renders the human record. Caller frees. */
char *rb_record_markdown(const rb_record *rec);

/** Renders the machine record. Caller frees. */
char *rb_record_json(const rb_record *rec);

/** The commit message: "<title>: succeeded (12 steps, 3.2s)" or "... failed at <step> (exit 1)". */
char *rb_record_summary(const rb_record *rec);

/** Closes the journal (keeping the file) and frees the events. */
void rb_record_close(rb_record *rec);

#endif
