/*
 * events.h - the run as a stream of typed events, and the sinks that
 * consume it.
 *
 * The engine decides and emits; it prints nothing. Everything that shows or
 * keeps a run is a sink: the terminal (sink_terminal.c), the journal and
 * audit record (sink_journal.c), JSON lines (sink_json.c), JUnit XML
 * (sink_junit.c), GitHub Actions workflow commands (sink_github.c). Adding
 * an output is adding one file with a constructor that returns an rb_sink.
 *
 * An event and every string in it belong to the emitter and live only for
 * the call: a sink copies what it keeps. Every text is already redacted
 * (no secret value of the run is in it) when a sink sees it; step output is
 * redacted as it streams. Sinks see the events in the order they were
 * emitted, each sink in the order the run was given them (the journal
 * first: a step is recorded as started before anything shows it).
 */
#ifndef RB_EVENTS_H
#define RB_EVENTS_H

#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "record.h"
#include "runbook.h"
#include "util.h"

/** The version of the event stream's shape (docs/events.md); bumped when a field changes meaning. */
#define RB_EVENTS_SCHEMA 1

typedef enum {
	RB_EV_RUN_START,     /* text: the runbook's title; total: steps of the main flow; run_id */
	RB_EV_RUN_END,       /* exit_code; counts; text: the summary line ("Done: 3 ok, 0 failed") */
	RB_EV_STEP_START,    /* step, counter, role; the journal has it before anything else runs */
	RB_EV_STEP_OUTPUT,   /* step, stream (1 stdout, 2 stderr), data/len: bytes as the step wrote them */
	RB_EV_STEP_RESULT,   /* step, counter, status, text: what became of it ("ok in 0.2s") */
	RB_EV_STEP_END,      /* step, status, exit_code, sqlstate, duration, attempts, text: the failure,
			      * data: the kept output (bounded), name/value: the capture */
	RB_EV_STEP_SKIPPED,  /* step, counter, text: why (when= is false) */
	RB_EV_RETRY,         /* step, counter, attempt (the next one), attempts, delay_ms */
	RB_EV_GATE,          /* step, status (ok: open, failed: closed), text: the gate's message */
	RB_EV_APPROVAL,      /* step (NULL: --skip-guards/--no-undo), name: the item, value: how, approved, who */
	RB_EV_ABORT_ARMED,   /* step, counter, delay_ms: how often it is checked */
	RB_EV_ABORT_FIRED,   /* step, text: why; the run stops with exit 4 */
	RB_EV_HANDLER_START, /* text: the on_failure section's title */
	RB_EV_HANDLER_END,   /* status (ok, or cancelled: text says what stopped it) */
	RB_EV_CAPTURE,       /* step, name: the variable, value */
	RB_EV_SQL,           /* step, text: one statement as sent (interpolated), file/line: where it is
			      * written; twice: when sent (duration_ms -1), then when done (duration_ms, status
			      * ok or failed, value: its command tag, "INSERT 0 1") */
	RB_EV_ERROR,         /* step (NULL: the run), file:line:col (0: unknown), text */
	RB_EV_MESSAGE,       /* step (NULL: the run), text: a line for people (stream 1 or 2), not recorded */
	RB_EV_NOTE,          /* text, fields: for the record; shown only when show is 1 */
	RB_EV_LOG,           /* step, text: rb.log() of a Lua chunk */
	RB_EV_PROCESS,       /* step, value: "pgid" or "backend", name: its number */
	RB_EV_DATABASE,      /* name: the connection, value: its target (host, port, database, user) */
	RB_EV_VAR,           /* name, value (*** for a secret), fields: source */
	RB_EV__COUNT
} rb_ev_type;

/** How a run ended, counted over the main flow (RB_EV_RUN_END). */
typedef struct {
	size_t ok, failed, skipped, not_run, undone;
} rb_ev_counts;

typedef struct {
	rb_ev_type type;
	int64_t time_ms;            /* wall clock, ms since the epoch (set by the emitter) */
	const rb_runbook *runbook;
	const char *run_id;         /* NULL: the run is not recorded (--no-audit) */
	const char *target;         /* the inventory target the run is for (--target); NULL: none */
	const char *rollout;        /* the rollout it belongs to; NULL: none */
	const rb_step *step;        /* NULL: the run itself */
	const char *counter;        /* "[3/12]", "[on failure 1/2]", "[undo 2/3]" */
	rb_status status;
	int exit_code;              /* -1: none (not a process) */
	const char *sqlstate;       /* NULL or "" : none */
	int64_t duration_ms;
	int attempt, attempts;
	int64_t delay_ms;
	size_t total;
	int stream;                 /* 1 stdout, 2 stderr */
	const char *data;           /* output bytes (not NUL-terminated: len) */
	size_t len;
	const char *text;
	const char *name, *value;
	const char *who;
	int approved;
	int show;                   /* RB_EV_NOTE: shown to people too; RB_EV_MESSAGE: --quiet shows it too */
	const char *file;           /* NULL: the runbook */
	int line, col;
	const char *const *fields;  /* NULL-terminated key, value pairs (a NULL value is skipped) */
	const rb_ev_counts *counts;
} rb_ev;

/** "run_start", "step_end", ...: the event's name in JSON and the docs. */
const char *rb_ev_name(rb_ev_type type);

/** What a sink asks for besides the events every sink gets. */
enum {
	RB_SINK_OUTPUT = 1 << 0, /* RB_EV_STEP_OUTPUT chunks */
	RB_SINK_TICKS = 1 << 1,  /* tick() while a step runs */
};

typedef struct rb_sink rb_sink;

/**
 * A consumer of the event stream. A sink file exports a constructor that
 * returns one (its own state after this struct); the run only calls these.
 */
struct rb_sink {
	const char *name;
	unsigned wants;                                  /* RB_SINK_* */
	void (*event)(rb_sink *self, const rb_ev *ev);
	void (*tick)(rb_sink *self, int64_t now_ms);     /* NULL: none; about ten times a second */
	/** Finishes (flushes, writes the file) and frees. -1 with err when its output could not be written. */
	int (*close)(rb_sink *self, rb_error *err);
};

/** Closes a sink (NULL: nothing); 0 or -1 with err. */
int rb_sink_close(rb_sink *s, rb_error *err);

/* --- the sinks ----------------------------------------------------------- */

/** How the terminal shows a run (sink_terminal.c). */
typedef enum { RB_COLOR_AUTO = 0, RB_COLOR_ALWAYS, RB_COLOR_NEVER } rb_color_mode;

typedef struct {
	rb_color_mode color;
	int quiet;           /* failures, gates that said no, the summary */
	int verbose;         /* each SQL statement as sent, with its time */
	int to_stderr;       /* --events -: people's output goes to stderr */
	int plain;           /* no status line, no summary table (GitHub mode writes its own) */
} rb_terminal_opts;

/** People's output: stdout and stderr through output.c, coloured and live on a terminal. */
rb_sink *rb_sink_terminal_new(const rb_terminal_opts *o);

/** The journal and audit record (record.h): every event that keeps the run. rec is not owned. */
rb_sink *rb_sink_journal_new(rb_record *rec);

/**
 * JSON lines (sink_json.c, docs/events.md): one object an event, to path
 * ("-": stdout, through output.c); with_output: step output chunks too;
 * append: added to the end of path, not truncated (a rollout's targets
 * share one file: each line goes in one write, which O_APPEND keeps whole).
 * NULL with err (RB_EXIT_ENV) when path cannot be created.
 */
rb_sink *rb_sink_json_new(const char *path, int with_output, int append, rb_error *err);

/**
 * JUnit XML (sink_junit.c): one testsuite for the run, one testcase a step,
 * written to path when the run ends. NULL with err (RB_EXIT_ENV) when path
 * cannot be created.
 */
rb_sink *rb_sink_junit_new(const char *path, rb_error *err);

/** GitHub Actions (sink_github.c). */
typedef struct {
	const char *workspace;        /* GITHUB_WORKSPACE: annotation paths relative to it; NULL: as given */
	const char *step_summary;     /* GITHUB_STEP_SUMMARY: a Markdown table appended at the end; NULL: none */
	const rb_redactor *redactor;  /* the run's secrets: each masked (::add-mask::) before anything else, and
				       * those found later as soon as they are known; not owned */
} rb_github_opts;

/** Workflow commands on stdout: ::group:: per step, ::error:: annotations, masks, the step summary. */
rb_sink *rb_sink_github_new(const rb_github_opts *o);

#endif
