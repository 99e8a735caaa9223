/*
 * checkcache.c - the clean verdicts of check's tools, one empty file each
 * (checkcache.h). Hashing is git's object hash (gitstore.h): any stable
 * hash would do, and this one is already here.
 */
#define _GNU_SOURCE /* realpath, st_mtim, O_CLOEXEC */
#include "checkcache.h"

#include "gitstore.h"
#include "process.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void rb_checkcache_open(rb_checkcache *c)
{
	char *dir;
	c->dir = NULL;
	if (rb_cache_dir("RUNBOOK_CACHE_DIR", "check", &dir) == RB_CACHE_DIR_OK)
		c->dir = dir;
	else
		free(dir);
}

/* tool's resolved path in PATH (symbolic links followed), or NULL; caller frees. */
static char *find_tool(const char *tool)
{
	char *where = rb_process_which(tool);
	char *found = where ? realpath(where, NULL) : NULL;
	free(where);
	return found;
}

int rb_checkcache_key(const rb_checkcache *c, const char *tool, char *const args[], const char *text, char key[41])
{
	int rc = -1;
	struct stat st;
	char *path = c->dir ? find_tool(tool) : NULL;
	rb_buf b = RB_BUF_INIT;
	if (!path || stat(path, &st) < 0)
		goto done;
	/* Fields end with a NUL: none of them holds one. */
	rb_buf_printf(&b, "%s", path);
	rb_buf_add(&b, "", 1);
	rb_buf_printf(&b, "%lld %lld.%09ld", (long long)st.st_size, (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
	rb_buf_add(&b, "", 1);
	for (size_t i = 0; args && args[i]; i++) {
		rb_buf_puts(&b, args[i]);
		rb_buf_add(&b, "", 1);
	}
	rb_buf_puts(&b, text ? text : "");
	rb_gitstore_hash(b.data, b.len, key);
	rc = 0;
done:
	free(path);
	rb_buf_free(&b);
	return rc;
}

int rb_checkcache_clean(const rb_checkcache *c, const char key[41])
{
	if (!c->dir)
		return 0;
	char *p = rb_xasprintf("%s/%.40s", c->dir, key);
	int clean = access(p, F_OK) == 0;
	free(p);
	return clean;
}

void rb_checkcache_put(const rb_checkcache *c, const char key[41])
{
	if (!c->dir)
		return;
	char *p = rb_xasprintf("%s/%.40s", c->dir, key);
	int fd = open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	free(p);
}

void rb_checkcache_free(rb_checkcache *c)
{
	free(c->dir);
	c->dir = NULL;
}
