/*
 * sinks.h - the outputs of a run, chosen on the command line: the terminal
 * (--color, --quiet, --verbose), JSON events (--events, --events-output),
 * JUnit XML (--junit), GitHub Actions (--github, or GITHUB_ACTIONS=true).
 * Each is a sink of the run's event stream (events.h), opened before the
 * run and closed after it.
 */
#ifndef RB_CLI_SINKS_H
#define RB_CLI_SINKS_H

#include <stddef.h>

#include "events.h"
#include "redact.h"

/** The output options, as run and revert take them. */
typedef struct {
	const char *color;       /* --color auto|always|never; NULL: auto */
	int quiet;
	int verbose;
	const char *events;      /* --events FILE, "-": stdout */
	int events_output;       /* --events-output: step output chunks in the events */
	int events_append;       /* a rollout's target: its events go to the end of the rollout's file */
	const char *junit;       /* --junit FILE */
	int github;              /* --github */
	const char *report;      /* --report FILE: the HTML report, written when the run ends (cli/report.h) */
} cli_output_opts;

/** The sinks opened for one run. */
typedef struct {
	rb_sink *list[8];
	size_t count;
} cli_sinks;

/** 1 when GitHub Actions workflow commands are wanted: --github, or GITHUB_ACTIONS=true. */
int cli_github_mode(const cli_output_opts *o);

/**
 * Checks the options and opens the sinks (the formats first, the terminal
 * last). redactor: the run's secrets (GitHub masks them). Returns 0, or -1
 * after saying why (exit RB_EXIT_USAGE, or RB_EXIT_ENV in *code when a file
 * cannot be created).
 */
int cli_sinks_open(cli_sinks *s, const cli_output_opts *o, const rb_redactor *redactor, int *code);

/** Closes them all; -1 (after saying why) when one could not write its output. */
int cli_sinks_close(cli_sinks *s);

#endif
