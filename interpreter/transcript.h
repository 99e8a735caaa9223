/*
 * transcript.h - a shell block read line by line: which lines are commands,
 * which belong to the command above them (a backslash, an open quote, a
 * trailing pipe, a here-document), and, in a prompted block, which are the
 * documented output of a command (docs/format.md, "Prompts and console
 * transcripts").
 *
 * A prompted block is one whose first non-blank line starts with "$ " after
 * its indentation: each such line is a command with its prompt removed, the
 * lines that continue it are part of it, and every other line is output, not
 * run. An unprompted block runs as written; a "$ " line in it that starts a
 * command is an error the parser reports (it would run a command named "$").
 *
 * Nothing here runs anything. Reading is a small shell lexer: quotes,
 * backslashes, comments and here-document operators, no expansions.
 */
#ifndef RB_TRANSCRIPT_H
#define RB_TRANSCRIPT_H

#include <stddef.h>

typedef enum {
	RB_TLINE_BLANK = 0,  /* an empty line (or a bare "$" prompt) between commands */
	RB_TLINE_COMMAND,    /* starts a command; in a prompted block, a "$ " line */
	RB_TLINE_CONTINUED,  /* part of the command above: continuation, open quote, here-document */
	RB_TLINE_OUTPUT      /* prompted blocks only: documented output, never run */
} rb_tline_role;

typedef struct {
	rb_tline_role role;
	size_t start;        /* byte offset of the line in the body */
	size_t len;          /* its length, without the newline */
	size_t text;         /* offset of what runs: after "$ " for a prompted command, else start */
} rb_tline;

/** A block as read. Every pointer is owned by it: release with rb_transcript_free. */
typedef struct {
	rb_tline *lines;
	size_t nlines;
	size_t ncommands;    /* lines with role RB_TLINE_COMMAND */
	char *script;        /* prompted: what runs, one line per body line (prompts turned into
			      * spaces, output lines emptied) so line and column numbers stay; else NULL */
	char *output;        /* prompted: the documented output lines, joined; else NULL */
	int stray_line;      /* unprompted: 1-based body line of the first command starting "$ "; 0: none */
	int stray_col;       /* its 1-based column (where the "$" is) */
} rb_transcript;

/** 1 when the body's first non-blank line starts with "$ " (after spaces and tabs). */
int rb_transcript_prompted(const char *body);

/**
 * Reads body. prompted: read it as a transcript (every line that is neither a
 * "$ " command nor part of one is output); else as a script. t is
 * overwritten.
 */
void rb_transcript_read(const char *body, int prompted, rb_transcript *t);

/** Releases what t owns. */
void rb_transcript_free(rb_transcript *t);

#endif
