/*
 * gitstore.h - writes files as a commit on a ref of a git repository through
 * libgit2, without touching any work tree, index or HEAD.
 *
 * Blobs and trees are written straight into the object database, the new
 * tree is the ref's current tree with the files added (only the trees on
 * the files' paths are read and written again, however long the history
 * and however many other directories the tree holds), and the ref moves by
 * compare-and-swap: when another process moved it meanwhile, the commit is
 * rebuilt on the new tip and tried again, so concurrent writers all land.
 *
 * Errors carry libgit2's message of the call that failed: the last error is
 * cleared before each call and read right at the failure, so that a message
 * left over from an earlier, harmless failure is never reported.
 */
#ifndef RB_GITSTORE_H
#define RB_GITSTORE_H

#include <stddef.h>

#include "util.h"

typedef struct rb_gitstore rb_gitstore;

/** One file of a commit: path inside the tree ("runs/2026/11/21/x/record.md"). */
typedef struct {
	const char *path;
	const char *data;
	size_t len;
} rb_gitstore_file;

/**
 * Opens the repository at dir: a work tree, a bare repository, or (discover=1)
 * any directory inside one. With create=1 and no repository there, makes a
 * bare one at dir. Returns 0, or -1 with err set (RB_EXIT_ENV).
 */
int rb_gitstore_open(const char *dir, int discover, int create, rb_gitstore **out, rb_error *err);

/** The repository's git directory; owned by the store. */
const char *rb_gitstore_gitdir(const rb_gitstore *g);

/** The repository's work tree, or NULL for a bare one; owned by the store. */
const char *rb_gitstore_workdir(const rb_gitstore *g);

/**
 * Commits files on ref with message, by name <email> (NULL: the repository's
 * user.name/user.email, else "runbook"). Writes the new commit's id (40 hex
 * characters and a NUL) to oid_hex. Returns 0, or -1 with err set.
 */
int rb_gitstore_commit(rb_gitstore *g, const char *ref, const rb_gitstore_file *files, size_t n,
		       const char *message, const char *name, const char *email, char oid_hex[41],
		       rb_error *err);

/**
 * Checks that objects and refs can be written (a probe object is written
 * and the refs directory is checked for write access). 0, or -1 with err.
 */
int rb_gitstore_check_writable(rb_gitstore *g, rb_error *err);

/**
 * Checks that nothing holds ref's lock file (<common git dir>/<ref>.lock),
 * which would make the commit at the end of a run fail. A lock older than
 * stale_s seconds is left by a process that died: -1 at once, err naming
 * the file and saying to remove it if no git process is running. A newer
 * one is waited for, up to wait_ms; -1 if it is still there then. 0 when
 * there is no lock (any more).
 */
int rb_gitstore_check_ref_lock(rb_gitstore *g, const char *ref, int stale_s, int wait_ms, rb_error *err);

/**
 * Free space for an unprivileged writer on the filesystem of the git
 * directory, in bytes, into *bytes. 0, or -1 with err (statvfs failed).
 */
int rb_gitstore_free_space(rb_gitstore *g, unsigned long long *bytes, rb_error *err);

/** 1 when path (a file or a directory) is in the tree of commit (hex id or ref), else 0. */
int rb_gitstore_exists(rb_gitstore *g, const char *commit, const char *path);

/**
 * 1 when the commit (hex id) added path: it is in the commit's tree and not
 * in its first parent's (any tree for a root commit), else 0.
 */
int rb_gitstore_added(rb_gitstore *g, const char *commit, const char *path);

/**
 * The same from the trees a walk gives (rb_gitstore_commit_info: tree,
 * parent_tree), without reading a commit: 1 when path is in tree and not in
 * parent_tree ("": a root commit's, so any path is added; NULL: a parent
 * that cannot be read, so none is), else 0. A few tree lookups.
 */
int rb_gitstore_added_to(rb_gitstore *g, const char *tree, const char *parent_tree, const char *path);

/** The configured user.name and user.email, or NULL; caller frees. */
char *rb_gitstore_config(rb_gitstore *g, const char *key);

/** The commit HEAD points at in the repository containing dir, as hex; NULL when none. Caller frees. */
char *rb_gitstore_head_of(const char *dir);

/** One commit of a ref's history, newest first (see rb_gitstore_log). Strings are borrowed. */
typedef struct {
	const char *id;        /* 40 hex characters */
	const char *message;   /* the whole message (as git_commit_message gives it) */
	const char *author;    /* "name <email>" */
	long long time;        /* the committer's time, seconds since the epoch */
	const char *tree;      /* the commit's tree, 40 hex characters */
	const char *parent_tree; /* its first parent's tree; "": a root commit; NULL: that parent cannot be read */
} rb_gitstore_commit_info;

/**
 * Calls fn for each commit reachable from ref, newest first, until fn
 * returns nonzero (which is then returned). 0 when the ref does not exist.
 * Newest first is the ref's own order on a linear history (every parent
 * after its child, whatever the commit times say); a merge's parents are
 * taken by commit time, as git log does. The walk streams: each commit is
 * read when it is reached, once, so stopping early costs only the commits
 * passed.
 */
int rb_gitstore_log(rb_gitstore *g, const char *ref, int (*fn)(void *ctx, const rb_gitstore_commit_info *c),
		    void *ctx);

/** The same walk, one commit at a time (for readers that stop and go on). */
typedef struct rb_gitstore_walk rb_gitstore_walk;

/** Starts a walk of ref's history: *out, or NULL when the ref does not exist. Returns 0. */
int rb_gitstore_walk_start(rb_gitstore *g, const char *ref, rb_gitstore_walk **out);

/** The next commit into *c (its strings lent until the next call): 1, or 0 at the end. */
int rb_gitstore_walk_next(rb_gitstore_walk *w, rb_gitstore_commit_info *c);

void rb_gitstore_walk_free(rb_gitstore_walk *w);

/**
 * Reads path from the tree of commit (hex id, or a ref name). Returns 0 and
 * a NUL-terminated copy the caller frees, or -1 when absent.
 */
int rb_gitstore_read(rb_gitstore *g, const char *commit, const char *path, char **data, size_t *len);

/** The git blob id of data (what `git hash-object` prints), as hex into out. */
void rb_gitstore_hash(const char *data, size_t len, char out[41]);

/** The blob id of the file at path, read in pieces (never whole). 0, or -1 when it cannot be read. */
int rb_gitstore_hash_file(const char *path, char out[41]);

/**
 * Signs every commit the store writes from now on: fn gets the commit as it
 * would be written and returns 0 and the armored signature (caller of fn
 * frees), stored in the commit's "gpgsig" header; or -1 with err, and the
 * commit is not made (rb_gitstore_sign_error says why).
 */
typedef int (*rb_gitstore_signer)(void *ctx, const char *payload, char **signature, rb_error *err);
void rb_gitstore_set_signer(rb_gitstore *g, rb_gitstore_signer fn, void *ctx);
/** Why the signer last failed (code 0: it did not). Owned by the store. */
const rb_error *rb_gitstore_sign_error(const rb_gitstore *g);

/*
 * For gitsync.c, the store's other half (a remote): libgit2's repository
 * and the one way commits are written (signed when a signer is set).
 */
struct git_repository;
struct git_signature;
struct git_tree;
struct git_commit;
struct git_oid;
struct git_repository *rb_gitstore_repo(rb_gitstore *g);
/** Writes a commit object (no ref moves). libgit2's return code. */
int rb_gitstore_write_commit(rb_gitstore *g, const struct git_signature *author, const struct git_signature *committer,
			     const char *message, const struct git_tree *tree, size_t nparents,
			     const struct git_commit **parents, struct git_oid *out);

void rb_gitstore_free(rb_gitstore *g);

#endif
