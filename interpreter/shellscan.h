/*
 * shellscan.h - what `check` reads in a shell script without running it:
 * the variables it uses and assigns, and placeholder text left in it
 * (<value of ...>, YOUR_..., CHANGEME). A small lexer: quotes, comments,
 * here-document bodies (no expansions are read in a quoted one), no
 * evaluation.
 */
#ifndef RB_SHELLSCAN_H
#define RB_SHELLSCAN_H

#include <stddef.h>

typedef struct {
	char *text;     /* the variable's name, or the placeholder as written */
	int line;       /* 1-based line in the script */
	int col;        /* 1-based byte column */
} rb_shell_ref;

typedef struct {
	rb_shell_ref *uses;      /* $NAME and ${NAME} without a default (${NAME:-x} is not a use) */
	size_t nuses;
	char **assigned;         /* NAME=, read NAME, for NAME in, export/local/declare NAME=, printf -v NAME, ... */
	size_t nassigned;
	rb_shell_ref *placeholders;
	size_t nplaceholders;
	rb_shell_ref *commands;  /* the command word of each simple command, as written plain: not an
				  * assignment, a reserved word, an expansion ($x), a path (a/b) or a function
				  * the script defines */
	size_t ncommands;
} rb_shell_scan;

/** Reads script into out (overwritten); release with rb_shell_scan_free. */
void rb_shell_scan_text(const char *script, rb_shell_scan *out);

/** 1 when name is assigned somewhere in the scanned script. */
int rb_shell_scan_assigns(const rb_shell_scan *s, const char *name);

/** 1 for a command every shell has (a builtin) or every system has (a POSIX utility, coreutils' and the like). */
int rb_shell_command_standard(const char *name);

/** 1 for variables every shell or runbook's environment has (HOME, PATH, PG*, DATABASE_URL, ...). */
int rb_shell_var_standard(const char *name);

void rb_shell_scan_free(rb_shell_scan *s);

#endif
