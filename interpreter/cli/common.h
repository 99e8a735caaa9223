/*
 * common.h - what several commands do the same way: load a runbook and
 * report its diagnostics, print what a library function prints on a FILE
 * through output.h, hide a password given with --db, find the Lua helpers.
 */
#ifndef RB_CLI_COMMON_H
#define RB_CLI_COMMON_H

#include <stdio.h>

#include "diag.h"
#include "runbook.h"

/**
 * Prints diagnostics compiler-style, errors with their source line and a
 * caret (rb_diags_render), on stream 1 or 2 through output.h.
 */
void cli_diags_print(const rb_diags *d, int stream);

/**
 * Parses the runbook at path and prints its diagnostics on stderr (and
 * "N errors" when more than one). Returns it (rb_runbook_free), or NULL
 * when it has errors: exit RB_EXIT_USAGE.
 */
rb_runbook *cli_runbook_load(const char *path);

/**
 * Warns when the connection string arg (in argv) holds a password, and
 * overwrites the password there with '*' so that ps no longer shows it.
 * Copy the value first.
 */
void cli_scrub_db_arg(char *arg);

/**
 * Where the shipped Lua helpers are: RUNBOOK_LUA_PATH, else next to the
 * binary as installed (bin/../share/runbook/lua), else the configured
 * install directory, else the source tree of a development build; NULL
 * when none is there. Caller frees.
 */
char *cli_lua_dir(void);

#endif
