/*
 * checkcache.h - what `check` has already proved about a block: a cache of
 * the tools' clean verdicts (bash -n, sh -n, shellcheck without findings),
 * so that checking an unchanged runbook again does not start a process per
 * shell block.
 *
 * Only a clean verdict is kept: a block with a syntax error or a finding is
 * checked again every time, so its messages are always the tool's own. The
 * key is a hash of the tool's identity (its resolved path, size and
 * modification time: a new bash or shellcheck starts afresh), its arguments
 * and the block's text. Entries are empty files under
 * $RUNBOOK_CACHE_DIR, else $XDG_CACHE_HOME/runbook/check, else
 * ~/.cache/runbook/check; RUNBOOK_CACHE_DIR=off turns the cache off. A
 * cache that cannot be read or written is no cache: nothing fails for it;
 * nor is a directory another user owns or others may write (it could hold
 * forged verdicts).
 *
 * Ownership: an rb_checkcache is the caller's, released with
 * rb_checkcache_free; the strings it is given are copied or hashed at once.
 */
#ifndef RB_CHECKCACHE_H
#define RB_CHECKCACHE_H

typedef struct {
	char *dir;       /* NULL: no cache */
} rb_checkcache;

/** Opens the cache (creating its directory, mode 0700); *c is always usable. */
void rb_checkcache_open(rb_checkcache *c);

/**
 * The key of tool (found in PATH) with argv-like args (NULL-terminated)
 * run on text, in key[41]; 0, or -1 when the tool is not in PATH or there
 * is no cache (then nothing is known of it).
 */
int rb_checkcache_key(const rb_checkcache *c, const char *tool, char *const args[], const char *text, char key[41]);

/** 1 when key's verdict is known clean. */
int rb_checkcache_clean(const rb_checkcache *c, const char key[41]);

/** Remembers key's clean verdict (best effort). */
void rb_checkcache_put(const rb_checkcache *c, const char key[41]);

void rb_checkcache_free(rb_checkcache *c);

#endif
