/*
 * versions.h - what runbook runs with: its own version and those of the
 * libraries it is linked with, as each reports itself at run time (cmark,
 * libpq, Lua, libgit2), and the PostgreSQL parser linked in (libpg_query).
 * For --version and `runbook doctor`.
 */
#ifndef RB_VERSIONS_H
#define RB_VERSIONS_H

#include "util.h"

/** One library: its name and version (static strings or the buffer's). */
typedef struct {
	const char *name;
	char version[64];
} rb_version;

/** The libraries' versions into out (at most max); returns how many. */
size_t rb_versions(rb_version *out, size_t max);

/** "runbook X.Y.Z" and a line a library, into b. */
void rb_versions_text(rb_buf *b);

#endif
