/*
 * interp.h - the interpreters a block can run with: each one's program, the
 * flags that make it stop at the first failure where it has them, how it is
 * given a script, and how `check` reads its syntax (docs/format.md,
 * "Interpreters").
 *
 * An interpreter is written as a command: a program name or path, maybe
 * after `env` and followed by options ("python3 -u", "/usr/bin/env zsh").
 * The program's name (without a version suffix: python3.12 is python3's
 * row) selects the row; a program not in the table is refused by the
 * parser, since runbook would not know how to hand it the block.
 */
#ifndef RB_INTERP_H
#define RB_INTERP_H

#include "runbook.h"

typedef struct {
	const char *name;              /* the program ("bash", "python3") */
	const char *const *flags;      /* before the script: {"-e", "-o", "pipefail", "-c", NULL} */
	int shell;                     /* 1: a shell -- "$ " prompts mean commands in its blocks */
	const char *syntax;            /* the flag that only reads the syntax (stdin), NULL: none */
	const char *shellcheck;        /* shellcheck's -s dialect, NULL: shellcheck does not read it */
	const char *fail_fast;         /* what stops it at the first failure, for the documentation */
} rb_interp;

/** The table, terminated by a {NULL} row. */
extern const rb_interp rb_interps[];

/** The row of the command's program, or NULL when runbook does not know it. */
const rb_interp *rb_interp_find(const char *command);

/** The program a fence language names ("zsh", "python" -> "python3", "js" -> "node"), or NULL. */
const char *rb_interp_for_lang(const char *lang);

/** The command a shell step runs with: its own, else the front matter's shell, else "bash". */
const char *rb_step_interpreter(const rb_runbook *rb, const rb_step *s);

/** The program of a command (its first word after `env`), a copy the caller frees. */
char *rb_interp_program(const char *command);

/**
 * The argument vector that runs script with command: its words, the row's
 * flags, the script, and label (what the script sees as its name).
 * NULL-terminated; free with rb_interp_argv_free. NULL for an unknown program.
 */
char **rb_interp_argv(const char *command, const char *script, const char *label);
void rb_interp_argv_free(char **argv);

/** 1 when the command's program can be run (a path that is executable, or a name found on $PATH). */
int rb_interp_installed(const char *command);

/**
 * Before a run: every interpreter a step of the run needs is installed.
 * Returns 0, or -1 with err (RB_EXIT_ENV) naming the first one missing and
 * the step that needs it.
 */
int rb_interp_check_runbook(const rb_runbook *rb, rb_error *err);

#endif
