/*
 * process.h - the one place where runbook starts processes.
 *
 * Every child of runbook — shell steps, `bash -n` and shellcheck, initdb and
 * postgres, pg_config, the step watchdog and the Lua evaluator — is made
 * here, from options that are plain data. The protocol, step by step:
 *   1. The parent makes the pipes the options ask for and a status pipe,
 *      all close-on-exec, blocks every signal and vforks (the parent
 *      waits, its page tables are not copied), or forks for a function to
 *      run or a user to switch to.
 *   2. The child, with every signal still blocked: leaves for a new process
 *      group (setpgid(0, 0)) or session (setsid()) when asked, takes the
 *      terminal for its group when asked (tcsetpgrp on fd 0, allowed as
 *      SIGTTOU is blocked), puts each standard stream in place (inherited,
 *      /dev/null, its end of a pipe, or a descriptor of the caller's),
 *      closes every other descriptor when asked (keeping one, as fd 3),
 *      changes directory, switches user; then resets the signal
 *      dispositions (SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGPIPE, SIGTTOU and
 *      every signal runbook handles go back to the default; the options'
 *      ignore_signals are ignored) and unblocks every signal.
 *   3. Then it execs argv (rb_process_start), searched in the PATH of the
 *      environment it is given, or runs fn and _exit()s with its return
 *      value (rb_process_start_fn).
 *   4. A step of 2 or 3 that fails writes the step and errno to the status
 *      pipe and _exit()s. The parent reads the status pipe until end of
 *      file: the exec (close-on-exec) or, for fn, the child itself closes
 *      it once set up. On a failure the parent reaps the child and the
 *      start fails with the reason ("cannot run bash: No such file or
 *      directory", code RB_EXIT_ENV): the caller never sees an exit 126 or
 *      127 that only means "could not start".
 *   5. The parent closes the child's ends of the pipes; its own ends belong
 *      to the rb_process (rb_process_fd) and are closed by
 *      rb_process_close_fd or rb_process_free. A descriptor the caller
 *      passed (RB_STDIO_FD, keep_fd) stays the caller's to close.
 * A process is reaped by rb_process_wait, rb_process_stop or
 * rb_process_reap_group, never by rb_process_free. Exit statuses are those
 * of waitpid; rb_process_exit_code turns one into what a shell reports
 * (the code, or 128 + signo for a death by signal).
 *
 * Not thread-safe (runbook has one thread): the signal mask is the
 * process's, and a vfork child borrows the memory of the whole process.
 */
#ifndef RB_PROCESS_H
#define RB_PROCESS_H

#include <stdint.h>
#include <sys/types.h>

#include "util.h"

/** Where one standard stream of the child goes. */
typedef enum {
	RB_STDIO_INHERIT = 0, /* runbook's own */
	RB_STDIO_NULL,        /* /dev/null */
	RB_STDIO_PIPE,        /* a pipe to the parent: rb_process_fd(p, stream) */
	RB_STDIO_FD,          /* the caller's descriptor `fd` (dup'ed; the caller keeps it) */
	RB_STDIO_STDOUT       /* stderr only: wherever stdout goes (one pipe for both) */
} rb_stdio_kind;

typedef struct {
	rb_stdio_kind kind;
	int fd;               /* RB_STDIO_FD only */
} rb_stdio;

typedef struct {
	char *const *argv;    /* rb_process_start: argv[0] is searched in PATH unless it holds a '/' */
	char *const *envp;    /* NULL: inherit; else the whole environment (its PATH is the one searched) */
	const char *cwd;      /* NULL: inherit */
	int new_pgroup;       /* the child leads a new process group: setpgid(0, 0) */
	int new_session;      /* the child leads a new session: setsid() (no controlling terminal) */
	int take_terminal;    /* with new_pgroup, when fd 0 is a terminal: its group goes to the foreground */
	rb_stdio in, out, err;
	int close_fds;        /* close every descriptor above 2 (but keep_fd) in the child */
	int keep_fd;          /* with close_fds: the descriptor the child keeps, as fd 3; -1: none (set it) */
	int switch_user;      /* drop supplementary groups, then setgid(gid), setuid(uid) */
	uid_t uid;
	gid_t gid;
	const int *ignore_signals; /* 0-terminated; ignored in the child before anything is unblocked */
} rb_process_opts;

typedef struct rb_process rb_process;

/**
 * Starts opts->argv as described above. Returns 0 and *out (owned by the
 * caller: rb_process_free), or -1 with err (RB_EXIT_ENV) when a pipe, the
 * fork, the child's set-up or the exec failed; the child, if any, has then
 * been reaped and nothing is left open.
 */
int rb_process_start(const rb_process_opts *opts, rb_process **out, rb_error *err);

/**
 * Runs fn(ctx) in a forked child set up from opts (opts->argv unused; NULL
 * opts: everything inherited). The child _exit()s with fn's return value:
 * no atexit handler runs, no stdio buffer of the parent's is flushed twice.
 * Returns as rb_process_start, once the child is set up and about to call fn.
 */
int rb_process_start_fn(int (*fn)(void *ctx), void *ctx, const rb_process_opts *opts, rb_process **out,
		       rb_error *err);

/** The child's pid; with new_pgroup or new_session also its process group id. */
pid_t rb_process_pid(const rb_process *p);

/** The parent's end of stream 0, 1 or 2 (RB_STDIO_PIPE), or -1. Owned by p. */
int rb_process_fd(const rb_process *p, int stream);

/** Closes the parent's end of stream 0, 1 or 2 now (end of input, or enough read). */
void rb_process_close_fd(rb_process *p, int stream);

/**
 * Sends sig to the child, or with group to its whole process group (which
 * it must lead). Nothing is sent to a child already reaped, but a group is
 * signalled as long as it has members. Async-signal-safe. Returns 0, or -1
 * with errno.
 */
int rb_process_signal(const rb_process *p, int sig, int group);

/** 1 while any member of the child's group (which it leads) is left, reaped or not. */
int rb_process_group_alive(const rb_process *p);

/**
 * Reaps, without blocking, every member of the child's group that has
 * ended (those orphaned come back to a child subreaper), the child itself
 * included. Returns 1 once the child has been reaped, by this call or an
 * earlier one, with its wait status in *wstatus (NULL is fine); else 0.
 */
int rb_process_reap_group(rb_process *p, int *wstatus);

/**
 * Waits for the child to end: timeout_ms < 0 forever, 0 just a look.
 * Returns 0 with its wait status in *wstatus (NULL is fine) once reaped (also
 * when it already was), 1 when it still runs at the timeout, -1 with errno.
 */
int rb_process_wait(rb_process *p, int64_t timeout_ms, int *wstatus);

/**
 * Stops the child: SIGTERM, then SIGKILL after grace_ms (<= 0: 2000), each
 * to its whole group when it leads one, else to it alone; reaps it.
 * Returns 0 with its wait status in *wstatus (NULL is fine), or -1.
 */
int rb_process_stop(rb_process *p, int64_t grace_ms, int *wstatus);

/** A wait status as a shell reports it: the exit code, or 128 + the signal. */
int rb_process_exit_code(int wstatus);

/** Closes the parent's pipe ends and frees p; neither stops nor reaps the child. NULL is fine. */
void rb_process_free(rb_process *p);

/**
 * Where tool would be found to run (in PATH, or tool itself when it names a
 * path): a new string the caller frees, or NULL when it is not there.
 */
char *rb_process_which(const char *tool);

/**
 * Runs argv (searched in PATH) in a process group of its own, with input
 * (NULL: /dev/null) on its stdin and its stdout and stderr together in one
 * pipe, and collects that output. Past timeout_ms (<= 0: none), or at an
 * interrupt (signals.h), its group gets SIGTERM, then SIGKILL after a
 * second. Returns 0 with *output (owned by the caller, NUL-terminated) and
 * *status (exit code, or 128 + signo) when it ended by itself; -1 with err
 * when it could not be started (RB_EXIT_ENV), was stopped at the timeout
 * (RB_EXIT_ENV) or by an interrupt (RB_EXIT_INTERRUPTED). *output is set
 * (possibly to "") in every case.
 */
int rb_process_capture(char *const argv[], const char *input, int64_t timeout_ms, char **output, int *status,
		       rb_error *err);

/** One tool of rb_process_capture_all: argv and input are the caller's; the rest is filled. */
typedef struct {
	char *const *argv;
	const char *input;   /* NULL: /dev/null */
	char *output;        /* set in every case, owned by the caller */
	int status;          /* exit code, or 128 + signo; -1 when it did not end by itself */
	rb_error err;        /* code 0: it ended by itself; else as rb_process_capture's (caller clears) */
} rb_capture_job;

/**
 * rb_process_capture for each of n jobs, up to `parallel` of them running
 * at once (check's syntax checks: the wall time of one tool, not of n).
 * Each batch has timeout_ms from its start.
 */
void rb_process_capture_all(rb_capture_job *jobs, size_t n, size_t parallel, int64_t timeout_ms);

#endif
