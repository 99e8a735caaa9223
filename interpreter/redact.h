/*
 * redact.h - secrets replaced by "***" everywhere runbook writes: the
 * terminal, the journal and the audit record.
 *
 * A secret is the value of a variable named in the front matter's
 * `secrets:`, of a variable whose name looks secret (any case: *PASSWORD*,
 * *PASSWD*, *SECRET*, *TOKEN*, *CREDENTIAL*, *APIKEY*, *API_KEY*, *_KEY,
 * *_PASS, *_PWD), or the password inside a connection string. Streams are
 * redacted across chunk boundaries: a stream holds back the few bytes that
 * could be the start of a secret until the next chunk shows they are not.
 */
#ifndef RB_REDACT_H
#define RB_REDACT_H

#include <stddef.h>

#include "util.h"

typedef struct {
	char **values;      /* owned; longest first */
	size_t count;
	size_t longest;
} rb_redactor;

#define RB_REDACTOR_INIT {NULL, 0, 0}

/** 1 when a variable name looks like it holds a secret. */
int rb_redact_name_is_secret(const char *name);

/**
 * Adds a secret value (copied), and the value without surrounding white
 * space when that differs. Secrets of any length are hidden (a short one
 * hides every occurrence of those characters: the pre-flight warns about
 * it). NULL and "" are ignored.
 */
void rb_redactor_add(rb_redactor *r, const char *value);

/** A copy of text with every secret replaced by "***"; caller frees. */
char *rb_redact(const rb_redactor *r, const char *text);

/** Appends text[0..len) to out with secrets replaced. */
void rb_redact_into(const rb_redactor *r, const char *text, size_t len, rb_buf *out);

void rb_redactor_free(rb_redactor *r);

/**
 * A stream being redacted: feed chunks, get redacted bytes out. Bytes that
 * might begin a secret are held in `pending` until the next chunk.
 */
typedef struct {
	const rb_redactor *r;   /* not owned */
	rb_buf pending;
} rb_redact_stream;

void rb_redact_stream_init(rb_redact_stream *s, const rb_redactor *r);
/** Redacts what can be decided of pending + chunk, appending it to out. */
void rb_redact_stream_feed(rb_redact_stream *s, const char *chunk, size_t len, rb_buf *out);
/** Redacts and appends whatever is still held back (end of the stream). */
void rb_redact_stream_flush(rb_redact_stream *s, rb_buf *out);
void rb_redact_stream_free(rb_redact_stream *s);

#endif
