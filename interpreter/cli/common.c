/*
 * common.c - helpers of the commands (common.h).
 */
#define _DEFAULT_SOURCE
#include "cli/common.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "output.h"
#include "parse.h"
#include "util.h"

void cli_diags_print(const rb_diags *d, int stream)
{
	rb_buf b = RB_BUF_INIT;
	rb_diags_render(d, &b);
	if (b.len)
		rb_out_write(stream, b.data, b.len);
	rb_buf_free(&b);
}

rb_runbook *cli_runbook_load(const char *path)
{
	rb_diags diags = RB_DIAGS_INIT;
	rb_runbook *rb = rb_parse_file(path, &diags);
	rb_diags_sort(&diags);
	cli_diags_print(&diags, 2);
	if (rb && diags.errors) {
		rb_runbook_free(rb);
		rb = NULL;
	}
	if (!rb && diags.errors > 1)
		rb_out_err("%zu errors\n", diags.errors);
	rb_diags_free(&diags);
	return rb;
}

void cli_scrub_db_arg(char *arg)
{
	/* In place, every form libpq would read as a password (db.h). */
	if (rb_dsn_scrub(arg) > 0)
		rb_out_err("runbook: warning: --db holds a password, which other local users can read "
			   "on the command line; use PGPASSWORD, ~/.pgpass or PGSERVICE\n");
}

/* dir when it can be read, else NULL; frees dir then. */
static char *readable(char *dir)
{
	if (dir && access(dir, R_OK) != 0) {
		free(dir);
		dir = NULL;
	}
	return dir;
}

char *cli_lua_dir(void)
{
	const char *env = getenv("RUNBOOK_LUA_PATH");
	char *dir = NULL;
	char exe[PATH_MAX];
	ssize_t n;
	if (env && *env) {
		dir = rb_xstrdup(env);
		goto done;
	}
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			dir = readable(rb_xasprintf("%s/../share/runbook/lua", exe));
		}
	}
#ifdef RB_LUA_DIR
	if (!dir)
		dir = readable(rb_xstrdup(RB_LUA_DIR));
#endif
#ifdef RB_SOURCE_LUA_DIR
	if (!dir)
		dir = readable(rb_xstrdup(RB_SOURCE_LUA_DIR));
#endif
done:
	return dir;
}
