/*
 * gitsync.h - the audit ref shared through a git remote, by libgit2: the
 * local commits pushed, rebuilt on the remote's tip when it moved.
 *
 * A remote is the name of a remote of the repository, or a URL: a path or
 * file:// (a bare repository), ssh:// or user@host:path (the ssh agent's
 * keys), https:// (a token from RUNBOOK_AUDIT_TOKEN, else git's credential
 * helper, `git credential fill`, which never prompts here).
 *
 * What the remote holds of the ref is kept locally in a tracking ref,
 * refs/runbook/remotes/<12 hex of the remote's hash>/<ref without refs/>:
 * the commits of the ref not on it are "waiting". A push fetches the
 * remote's ref first; when the remote moved (another machine's records),
 * every waiting commit is made again on the remote's tip — same tree
 * changes (records live in paths of their own), author, committer and
 * message, signed again when the store signs — the local ref moves to the
 * result by compare-and-swap, and the push is tried again, with a growing
 * pause, a few times. Only one push of a repository runs at once (a lock
 * in its git directory); for a remote on this machine (a path, file://)
 * pushes from every repository take a lock in the remote's directory too,
 * because libgit2's local transport updates the remote's ref without
 * checking what it was (a server's receive-pack does check).
 */
#ifndef RB_GITSYNC_H
#define RB_GITSYNC_H

#include <stddef.h>

#include "gitstore.h"
#include "util.h"

typedef struct {
	size_t pushed;   /* commits the remote did not have before */
	size_t rebuilt;  /* waiting commits made again on the remote's tip */
	size_t waiting;  /* commits of the ref still not on the remote (after a failure: all that wait) */
} rb_gitsync_result;

/**
 * Pushes ref to remote (see above). Returns 0 (res filled), or -1 with err
 * (RB_EXIT_ENV: the remote unreachable, a rejection, a conflict, libgit2's
 * message) and res->waiting counting what is not on the remote.
 */
int rb_gitsync_push(rb_gitstore *g, const char *remote, const char *ref, rb_gitsync_result *res, rb_error *err);

/**
 * Fetches remote's ref into its tracking ref: *tracking gets the tracking
 * ref's name (caller frees; the ref does not exist when the remote has no
 * such ref). Returns 0, or -1 with err.
 */
int rb_gitsync_fetch(rb_gitstore *g, const char *remote, const char *ref, char **tracking, rb_error *err);

/** The tracking ref of remote's ref (caller frees). */
char *rb_gitsync_tracking(const char *remote, const char *ref);

/** How many commits of ref are not on remote, as last seen (its tracking ref). */
size_t rb_gitsync_waiting(rb_gitstore *g, const char *remote, const char *ref);

#endif
