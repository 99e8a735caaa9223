/*
 * shell.h - runs one shell step as a process and streams its output.
 *
 * The protocol, step by step:
 *   1. Two pipes are made (stdout, stderr), close-on-exec.
 *   2. The child (started by process.h) puts itself in a new process group
 *      (setpgid(0, 0)), takes the terminal for it when interactive (with
 *      SIGTTOU blocked meanwhile), takes /dev/null as stdin (or the
 *      terminal when interactive), the pipes' write ends as stdout/stderr,
 *      changes to cwd, resets signal dispositions and execs
 *      `bash -e -o pipefail -c SCRIPT LABEL` (`sh -e -c` for sh; each
 *      interpreter's own flags, interp.h). The
 *      parent closes the write ends right after fork, and waits for the
 *      exec: a failure to change directory or to run the shell is an error
 *      of rb_shell_run (RB_EXIT_ENV), never an exit status of the step.
 *   3. The parent polls the read ends, the signal self-pipe (signals.h) and
 *      the clock. Output is handed to opts->sink as it arrives, in chunks,
 *      never accumulated whole; at most opts->keep_max bytes of each stream
 *      are kept in the result (for captures and the audit record).
 *   4. On timeout, interrupt or cancel: SIGTERM to the whole group, SIGKILL
 *      after opts->grace_ms.
 *   5. When the shell itself exits, whatever it left running in its group
 *      (background jobs) is sent SIGTERM, then SIGKILL after the grace, and
 *      reaped: a step never leaves a process behind. A process that must
 *      outlive its step has to leave the group deliberately (setsid).
 *      A process that left the group on purpose (setsid) is not stopped; if
 *      it keeps the pipes open, they are drained for 200 ms more and closed.
 *   6. Both read ends are closed by the parent before returning.
 * A death by signal is reported as 128 + signo, as a shell reports it.
 */
#ifndef RB_SHELL_H
#define RB_SHELL_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

/** Receives output as it arrives: stream 1 (stdout) or 2 (stderr). */
typedef void (*rb_output_sink)(void *ctx, int stream, const char *data, size_t len);

/** Called every poll_every_ms while the step runs; nonzero cancels it. */
typedef int (*rb_cancel_poll)(void *ctx);

typedef struct {
	const char *shell;        /* the interpreter's command (interp.h): "bash" (default), "sh", "zsh", "python3 -u" */
	const char *script;       /* the step's body */
	const char *label;        /* $0 of the script, e.g. "deploy.md:12" */
	const char *cwd;          /* NULL: inherit */
	char *const *envp;        /* NULL: inherit */
	int64_t timeout_ms;       /* <= 0: none */
	int64_t grace_ms;         /* between TERM and KILL; <= 0: 2000 */
	int interactive;          /* inherit stdin/stdout/stderr, keep no output */
	int out_to_stderr;        /* interactive: its stdout is our stderr (our stdout carries data) */
	size_t keep_max;          /* bytes kept per stream in the result */
	rb_output_sink sink;      /* NULL: write to fds 1 and 2 */
	void *sink_ctx;
	rb_cancel_poll poll;      /* NULL: none */
	void *poll_ctx;
	int64_t poll_every_ms;
	/** Called right after the fork with the step's process group id (its pid); NULL: none. */
	void (*on_start)(void *ctx, int pgid);
	void *on_start_ctx;
} rb_shell_opts;

typedef enum {
	RB_END_EXITED = 0,   /* the shell exited on its own (status has its code) */
	RB_END_TIMEOUT,
	RB_END_INTERRUPTED,  /* SIGINT/SIGTERM/SIGHUP reached runbook */
	RB_END_CANCELLED     /* opts->poll asked to stop */
} rb_end_reason;

typedef struct {
	int status;            /* exit code, or 128 + signo */
	rb_end_reason reason;
	char *out;             /* kept stdout (NUL-terminated, owned), at most keep_max bytes */
	size_t out_len;
	size_t out_total;      /* bytes the step wrote in all */
	char *err;
	size_t err_len;
	size_t err_total;
	int64_t duration_ms;
	int leftovers;         /* 1 when background processes had to be stopped */
} rb_shell_result;

/**
 * Runs the step. Returns 0 when the process could be run (whatever its exit
 * status), -1 with err set (RB_EXIT_ENV) when it could not be started: no
 * pipe or fork, cwd missing ("cannot change directory to DIR: No such file
 * or directory"), the shell missing ("cannot run bash: No such file or
 * directory").
 * The result is always initialised (out and err are NULL when the process
 * could not be started); free it with rb_shell_result_free.
 */
int rb_shell_run(const rb_shell_opts *opts, rb_shell_result *res, rb_error *err);

void rb_shell_result_free(rb_shell_result *res);

#endif
