/*
 * secretsrc.h - the secrets that come from where a team keeps them: the
 * front matter's `secrets: {NAME: {command: CMD} | {file: PATH} | {env:
 * VAR}}`, resolved once, in pre-flight, before any step.
 *
 * A command runs with `sh -c` in the runbook's directory (any secret
 * manager's client: `op read`, `vault kv get -field=...`, `pass show`,
 * `aws ssm get-parameter ...`), its standard input /dev/null, at most
 * RB_SECRET_COMMAND_TIMEOUT_MS: its standard output is the value (one
 * trailing newline removed); exit 0 or it failed, and what it wrote on
 * stderr says why. A file (relative to the runbook) must be a regular file
 * neither group- nor world-readable; its content is the value (one
 * trailing newline removed). A variable of the environment must be set.
 * Each value joins the redactor as soon as it is known, before anything
 * prints; nothing but the source's description (rb_secret_describe) is
 * ever shown or recorded.
 */
#ifndef RB_SECRETSRC_H
#define RB_SECRETSRC_H

#include "redact.h"
#include "runbook.h"
#include "util.h"

#define RB_SECRET_COMMAND_TIMEOUT_MS 30000

/** What a source is, to show and record: "command `op read op://x`", "file /abs/path (0600)", "environment DB". Caller frees. */
char *rb_secret_describe(const rb_runbook *rb, const rb_secret_source *s);

/**
 * The value of one source into value (appended); 0, or -1 with err saying
 * why, not redacted: the caller adds value to its redactor before showing
 * err (`doctor` resolves each source this way, showing none).
 */
int rb_secret_source_value(const rb_runbook *rb, const rb_secret_source *s, rb_buf *value, rb_error *err);

/**
 * Resolves every source of rb's secrets: whose name skip(ctx, name) does
 * not say is given already (the operator's --set-env, say; skip NULL:
 * none is). Each value is added to red, and "NAME=value" appended to
 * *sets (*nsets grows; the caller frees the strings and the array).
 * Returns 0, or -1 with err (RB_EXIT_ENV) at the first that fails: the
 * source and why (the command's stderr, its first lines, redacted by red).
 */
int rb_secret_sources_resolve(const rb_runbook *rb, int (*skip)(void *ctx, const char *name), void *ctx,
			      rb_redactor *red, char ***sets, size_t *nsets, rb_error *err);

#endif
