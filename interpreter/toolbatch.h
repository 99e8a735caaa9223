/*
 * toolbatch.h - one tool run over many texts at once: each text written to
 * its own file in a private temporary directory, the files given to the
 * tool in groups (one process per group, groups side by side), and the
 * tool's gcc-style output ("FILE:LINE:COL: ...") split back by text, FILE
 * written as "-", as if the text had come on stdin alone.
 *
 * For tools that start slowly and check each file on its own (shellcheck):
 * check's cold run over thousands of blocks starts a few processes instead
 * of thousands. The tool must print one finding a line, each starting with
 * the file name it was given, and end with status 0 or 1 when it ran (1:
 * findings); any other end (another status, a signal, the timeout, not
 * started) fails every text of the group.
 *
 * Ownership: argv and the texts stay the caller's; each item's output is
 * set (possibly to "") and the caller frees it; err is the caller's to clear.
 */
#ifndef RB_TOOLBATCH_H
#define RB_TOOLBATCH_H

#include "util.h"

#include <stddef.h>
#include <stdint.h>

typedef struct {
	const char *text;  /* the input */
	char *output;      /* its lines of the tool's output, "FILE" made "-"; owned by the caller */
	rb_error err;      /* code 0: the tool ran on it; else why not (caller clears) */
} rb_toolbatch_item;

/**
 * Runs argv (the tool and its options; the files are added after them) over
 * items[0..n), per_group texts to a process, up to parallel processes at
 * once, each bounded by timeout_ms plus 50 ms a file. Returns 0, or -1 when
 * the temporary files could not be written (every item's err then says so).
 */
int rb_toolbatch_run(char *const *argv, rb_toolbatch_item *items, size_t n, size_t per_group, size_t parallel,
		     int64_t timeout_ms);

#endif
