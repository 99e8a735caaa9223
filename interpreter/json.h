/*
 * json.h - a streaming JSON writer into an rb_buf, with indentation.
 *
 * The writer tracks commas and nesting itself, so callers write values in
 * order: rb_json_object_begin, rb_json_key + a value, ..., rb_json_end.
 * It only writes; runbook reads no JSON of its own.
 */
#ifndef RB_JSON_H
#define RB_JSON_H

#include <stdint.h>

#include "util.h"

typedef struct {
	rb_buf *out;       /* not owned */
	int depth;
	int first[64];     /* per depth: nothing written yet at this level */
	int after_key;
	int pretty;
} rb_json;

/** Starts writing into out (which the caller owns). */
void rb_json_init(rb_json *j, rb_buf *out, int pretty);
void rb_json_object_begin(rb_json *j);
void rb_json_array_begin(rb_json *j);
/** Ends the innermost object or array. */
void rb_json_end(rb_json *j, char close);
void rb_json_key(rb_json *j, const char *key);
/** A string value; NULL writes null. */
void rb_json_string(rb_json *j, const char *s);
void rb_json_int(rb_json *j, int64_t v);
void rb_json_bool(rb_json *j, int v);
void rb_json_null(rb_json *j);
/** Appends s as a quoted, escaped JSON string to b. */
void rb_json_quote(rb_buf *b, const char *s);

#endif
