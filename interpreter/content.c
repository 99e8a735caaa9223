/*
 * content.c - the hash of the files a runbook includes (content.h). Files
 * are hashed and read item by item (sqlsplit.h's reader), never whole, so
 * an included file of any size costs bounded memory.
 */
#include "content.h"
#include "gitstore.h"
#include "sqlsplit.h"

#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 16

static void walk(const rb_runbook *rb, rb_sql_reader *r, const char *file, int depth, rb_buf *list);

/* One included file: its name and blob id into list, then what it includes. */
static void add_file(const rb_runbook *rb, const char *path, int depth, rb_buf *list)
{
	char hash[41];
	size_t dl = strlen(rb->dir);
	rb_error err = RB_ERROR_INIT;
	rb_sql_reader *r = NULL;
	const char *shown = !strncmp(path, rb->dir, dl) && path[dl] == '/' ? path + dl + 1 : path;
	if (rb_gitstore_hash_file(path, hash) < 0 || rb_sql_reader_file(path, 1, &r, &err) < 0) {
		rb_buf_printf(list, "%s missing\n", shown);
	} else {
		rb_buf_printf(list, "%s %s\n", shown, hash);
		if (depth < MAX_DEPTH)
			walk(rb, r, path, depth + 1, list);
	}
	rb_sql_reader_free(r);
	rb_error_clear(&err);
}

/* The \i and \ir of what r reads (written in file), in order. */
static void walk(const rb_runbook *rb, rb_sql_reader *r, const char *file, int depth, rb_buf *list)
{
	rb_sql_item it;
	rb_error err = RB_ERROR_INIT;
	while (rb_sql_reader_next(r, &it, &err) > 0) {
		if (it.kind == RB_SQL_META &&
		    (it.cmd == RB_SQL_CMD_INCLUDE || it.cmd == RB_SQL_CMD_INCLUDE_RELATIVE)) {
			char *path = rb_sql_include_path(&it, file, rb->dir);
			if (path)
				add_file(rb, path, depth, list);
			free(path);
		}
		rb_sql_item_clear(&it);
	}
	rb_error_clear(&err);
}

void rb_content_includes(const rb_runbook *rb, char out[41])
{
	rb_buf list = RB_BUF_INIT;
	for (size_t i = 0; i < rb->nsteps; i++) {
		if (rb->steps[i].kind != RB_STEP_SQL)
			continue;
		rb_sql_reader *r = rb_sql_reader_string(rb->steps[i].body, rb->path, 1, 1);
		walk(rb, r, rb->path, 0, &list);
		rb_sql_reader_free(r);
	}
	rb_gitstore_hash(list.data ? list.data : "", list.len, out);
	rb_buf_free(&list);
}
