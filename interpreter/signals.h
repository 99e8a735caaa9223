/*
 * signals.h - SIGINT, SIGTERM, SIGHUP and SIGCHLD turned into readable events.
 *
 * The handlers only record the signal and write one byte to a self-pipe, so
 * the executors can wait on child output, the clock and signals with one
 * poll(). This is the one piece of process-wide state in the interpreter.
 */
#ifndef RB_SIGNALS_H
#define RB_SIGNALS_H

/** Installs the handlers and ignores SIGPIPE. Idempotent. Returns 0 or -1. */
int rb_signals_install(void);

/** The read end of the self-pipe (non-blocking), for poll(). -1 before install. */
int rb_signals_fd(void);

/** Empties the self-pipe. */
void rb_signals_drain(void);

/** The first SIGINT/SIGTERM/SIGHUP received, or 0. Sticky until reset. */
int rb_signals_interrupted(void);

/** Forgets a recorded interrupt (tests; and around work that must be done whatever came before). */
void rb_signals_reset(void);

/**
 * Puts back an interrupt that rb_signals_interrupted() returned before a
 * rb_signals_reset(), unless a new one came since: recording a run that a
 * Ctrl-C ended (its commit, its signature, its push) is not itself
 * interrupted by that Ctrl-C, only by a new one.
 */
void rb_signals_restore(int sig);

/** Restores default dispositions: for a child between fork and exec. */
void rb_signals_child_defaults(void);

/**
 * In a child forked without exec that will run as a runbook of its own
 * (a rollout's target): forgets the parent's self-pipe (so that
 * rb_signals_install makes the child's), the signal seen, and puts the
 * dispositions and the mask back to their defaults.
 */
void rb_signals_forget(void);

#endif
