/*
 * content.c - the hash of the files a runbook includes (content.h).
 */
#include "content.h"
#include "gitstore.h"
#include "sqlsplit.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 16

static void walk(const rb_runbook *rb, const char *text, const char *file, int depth, rb_buf *list);

/* One included file: its name and blob id into list, then what it includes. */
static void add_file(const rb_runbook *rb, const char *path, int depth, rb_buf *list)
{
	char *text = NULL, hash[41];
	size_t len = 0, dl = strlen(rb->dir);
	rb_error err = RB_ERROR_INIT;
	const char *shown = !strncmp(path, rb->dir, dl) && path[dl] == '/' ? path + dl + 1 : path;
	if (rb_read_file(path, &text, &len, &err) < 0) {
		rb_buf_printf(list, "%s missing\n", shown);
	} else {
		rb_gitstore_hash(text, len, hash);
		rb_buf_printf(list, "%s %s\n", shown, hash);
		if (depth < MAX_DEPTH)
			walk(rb, text, path, depth + 1, list);
	}
	free(text);
	rb_error_clear(&err);
}

/* The \i and \ir of text (written in file), in order. */
static void walk(const rb_runbook *rb, const char *text, const char *file, int depth, rb_buf *list)
{
	rb_sql_item *items = NULL;
	size_t n = 0;
	rb_error err = RB_ERROR_INIT;
	if (rb_sql_split(text, file, 1, 1, &items, &n, &err) == 0) {
		for (size_t i = 0; i < n; i++) {
			if (items[i].kind != RB_SQL_META || (items[i].cmd != RB_SQL_CMD_INCLUDE &&
							      items[i].cmd != RB_SQL_CMD_INCLUDE_RELATIVE))
				continue;
			char *path = rb_sql_include_path(&items[i], file, rb->dir);
			if (path)
				add_file(rb, path, depth, list);
			free(path);
		}
	}
	rb_sql_items_free(items, n);
	rb_error_clear(&err);
}

void rb_content_includes(const rb_runbook *rb, char out[41])
{
	rb_buf list = RB_BUF_INIT;
	for (size_t i = 0; i < rb->nsteps; i++)
		if (rb->steps[i].kind == RB_STEP_SQL)
			walk(rb, rb->steps[i].body, rb->path, 0, &list);
	rb_gitstore_hash(list.data ? list.data : "", list.len, out);
	rb_buf_free(&list);
}
