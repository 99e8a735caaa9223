/*
 * record.h - what happened in a run, as a list of events that is at once
 * the crash-safe journal and the source of the audit record.
 *
 * Each event (run started, variable, step started, a step's process group
 * or database backend, a connection's target, step ended, approval, abort,
 * note, run finished) is appended to the journal file and fsync'd before
 * the run goes on, so a run killed at any point leaves everything known up
 * to the kill. The journal is plain text, one event a line: a type and
 * key=value fields separated by tabs, with '%', tab, newline and CR
 * percent-encoded. Reading it back (rb_record_load) gives the same record,
 * which renders as Markdown (for people) and JSON (for tools).
 *
 * Every value is redacted before it is stored (redact.h): nothing secret is
 * ever written to the journal, and so never reaches a git object.
 *
 * Every write and fsync of the journal is checked. The first failure (a full
 * disk, an I/O error) is remembered for good: later events are kept in
 * memory only, and rb_record_failed() tells the engine to stop before the
 * next step, since a change must not go on unrecorded. Where the filesystem
 * can allocate ahead (fallocate), RB_JOURNAL_RESERVE bytes beyond the last
 * event are always allocated, so that when no more space can be had the
 * last lines still fit: the event that did not, its long values (a step's
 * output) shortened, and a note with journal=cut saying so. Elsewhere a
 * failed write may leave a torn last line, which rb_record_parse counts
 * (torn) and recovery reports.
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
	char *type;        /* "run", "var", "step", "process", "database", "end", "approval", "abort",
			    * "note", "finish" */
	rb_field *fields;
	size_t nfields;
} rb_event;

/** Bytes kept allocated beyond the journal's end, for the lines that say it was cut. */
#define RB_JOURNAL_RESERVE 4096

/** The longest title in a summary (bytes, before "..."); the whole summary is bounded too. */
#define RB_SUMMARY_TITLE_MAX 120
#define RB_SUMMARY_MAX 240

typedef struct {
	rb_event *events;
	size_t count;
	size_t cap;
	int fd;                      /* journal, -1 when none */
	char *journal_path;
	const rb_redactor *redactor; /* not owned; NULL: nothing to hide */
	int failed;                  /* errno of the first failed journal write or fsync; 0: none */
	char *error;                 /* what failed, naming the journal; NULL when nothing did */
	uint64_t size;               /* bytes of the journal written so far */
	uint64_t reserved;           /* bytes allocated ahead (fallocate); 0 when unsupported */
	int can_reserve;             /* the filesystem allocates ahead */
	size_t torn;                 /* rb_record_parse: bytes of an incomplete last line dropped */
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
 * value is skipped). Values are redacted, then journaled and fsync'd. When
 * the journal cannot be written the event is still kept in memory, and the
 * record fails (rb_record_failed): nothing more is written to the journal.
 */
void rb_record_event(rb_record *rec, const char *type, ...);
/** The same, the pairs in an array: key, value, ..., NULL (a NULL value is skipped). */
void rb_record_fields(rb_record *rec, const char *type, const char *const *kv);

/**
 * The errno of the first journal write or fsync that failed, or 0 while
 * every event reached the journal. Sticky: once set it stays. The engine
 * checks it before each step and stops the run (RB_EXIT_ENV) when set.
 */
int rb_record_failed(const rb_record *rec);

/**
 * What failed, naming the journal file: "cannot write the run journal
 * /repo/.git/runbook/journal/<run>.log: No space left on device"; NULL when
 * nothing failed. Owned by the record.
 */
const char *rb_record_error(const rb_record *rec);

/** The value of key in the last event of type (optionally with id=...), or NULL. */
const char *rb_record_get(const rb_record *rec, const char *type, const char *id, const char *key);

/** The value of key in event e, or NULL. */
const char *rb_event_get(const rb_event *e, const char *key);

/**
 * Reads a journal back into rec (no journal is attached). Returns 0, or -1
 * with err when the file cannot be read. A torn last line is left out and
 * its length kept in rec->torn.
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

/**
 * The commit summary: "<title>: succeeded (12 steps, 3.2s)" or "... failed at
 * <step> (exit 1)". Always one line of at most RB_SUMMARY_MAX bytes (plus
 * "..."), made by rb_record_one_line. Caller frees.
 */
char *rb_record_summary(const rb_record *rec);

/**
 * How the run ended, without its title: "succeeded (12 steps, 3.2s)",
 * "failed at migrate (exit 1)", "interrupted at load (exit none)". One
 * line, bounded like the summary. Caller frees.
 */
char *rb_record_outcome(const rb_record *rec);

/** One run of a resume chain (audit.h), for rb_record_chain_markdown. */
typedef struct {
	const char *id;         /* the run id */
	const rb_record *rec;   /* its journal, read back */
} rb_chain_entry;

/**
 * The "## Resume chain" section `runbook show` adds to a record: one row per
 * run of the chain, first to last, with its id (the one at index current
 * marked "this run"), its outcome, and the steps it ran with their status;
 * steps run again only as guards before its first selected step are marked
 * "checked again". Caller frees.
 */
char *rb_record_chain_markdown(const rb_chain_entry *runs, size_t n, size_t current);

/**
 * text (NULL: "") as one line that is safe to show and to put in a commit
 * message: tabs, line and page breaks become spaces (runs of spaces become
 * one, none at either end), other hidden characters become visible escapes
 * (visible.h: ESC as \e), and more than max bytes are cut at a character
 * boundary and end in "...". Caller frees.
 */
char *rb_record_one_line(const char *text, size_t max);

/** Closes the journal (keeping the file) and frees the events. */
void rb_record_close(rb_record *rec);

#endif
