/*
 * auditsync.h - a team's audit trail: each record signed (git's SSH
 * signatures) and pushed to one shared git remote; the trail verified.
 *
 * The remote is --audit-remote, else the front matter's audit.remote, else
 * RUNBOOK_AUDIT_REMOTE (a remote's name in the audit repository, a path,
 * or a URL; gitsync.h). Signing is the front matter's `audit: {sign: ssh}`
 * or RUNBOOK_AUDIT_SIGN=ssh, with the key audit.key (relative to the
 * runbook, ~ the home), else RUNBOOK_AUDIT_SIGNING_KEY, else the audit
 * repository's git config user.signingkey.
 */
#ifndef RB_AUDITSYNC_H
#define RB_AUDITSYNC_H

#include "gitstore.h"
#include "runbook.h"
#include "util.h"

/**
 * The audit remote for rb (remote_opt: --audit-remote, or NULL; a relative
 * path in the front matter, ./ or ../, is relative to the runbook); NULL:
 * none. Caller frees.
 */
char *rb_auditsync_remote(const rb_runbook *rb, const char *remote_opt);

/** The password of remote's URL (scheme://user:PASSWORD@host/...), or NULL; caller frees. */
char *rb_auditsync_url_password(const char *remote);

/** remote as it may be shown: a password in its URL as *** (caller frees). */
char *rb_auditsync_shown(const char *remote);

/**
 * When rb (or the environment) asks for signed records: finds the key and
 * has g sign every commit with it (sshsig.h). *key gets the key's path
 * (caller frees after g), NULL when nothing is signed. Returns 0, or -1
 * with err (RB_EXIT_ENV: no key, a key that is not a readable file,
 * ssh-keygen missing): the run must not start.
 */
int rb_auditsync_sign_setup(const rb_runbook *rb, rb_gitstore *g, char **key, rb_error *err);

/**
 * Pushes the audit ref to remote after a commit, and says so (a password
 * in the remote's URL shown as ***): one line
 * ("Audit remote: N records pushed to R"), or, when it failed, a warning
 * naming the remote, why, and how many records wait here (they go with the
 * next run's, or with `runbook audit push`). quiet: nothing when all went
 * well. Returns 0, or -1 when the push failed.
 */
int rb_auditsync_push(rb_gitstore *g, const char *remote, const char *ref, int quiet);

/**
 * Fetches remote's audit ref (`log --remote`), in a process of its own as
 * a push is (a deadline, Ctrl-C): *tracking gets the local ref that holds
 * it (caller frees). Returns 0, or -1 with err (a URL's password hidden).
 */
int rb_auditsync_fetch(rb_gitstore *g, const char *remote, const char *ref, char **tracking, rb_error *err);

/**
 * `runbook audit verify`: walks the ref (first parents, newest first) and
 * prints a line a commit: its record, its signature (signed by whom, by a
 * key allowed_signers does not list, a bad one, or none) and every file it
 * changed outside its own record's directory (runs/.../<run>/ or
 * rollouts/.../<id>/). allowed_signers NULL: the signatures' keys are not
 * checked (said once). Returns the number of problems (unsigned, unknown
 * key, bad signature, another record's file changed), or -1 with err.
 */
long rb_auditsync_verify(rb_gitstore *g, const char *ref, const char *allowed_signers, rb_error *err);

#endif
