/*
 * redact.c - secret values replaced in text and in streams.
 */
#include "redact.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

static int contains_ci(const char *s, const char *word)
{
	size_t n = strlen(word);
	for (; *s; s++) {
		size_t i = 0;
		while (i < n && s[i] && toupper((unsigned char)s[i]) == word[i])
			i++;
		if (i == n)
			return 1;
	}
	return 0;
}

static int ends_ci(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n > k && contains_ci(s + n - k, suffix);
}

int rb_redact_name_is_secret(const char *name)
{
	static const char *const inside[] = {"PASSWORD", "PASSWD", "SECRET", "TOKEN", "CREDENTIAL",
					     "APIKEY", "API_KEY", "PRIVATE_KEY", NULL};
	static const char *const ends[] = {"_KEY", "_PASS", "_PWD", NULL};
	for (const char *const *w = inside; *w; w++)
		if (contains_ci(name, *w))
			return 1;
	for (const char *const *w = ends; *w; w++)
		if (ends_ci(name, *w))
			return 1;
	/* PGPASSWORD is caught above; PGPASSFILE names a file, not a secret. */
	return 0;
}

static void add_one(rb_redactor *r, const char *value)
{
	size_t n = strlen(value);
	if (n == 0)
		return;
	for (size_t i = 0; i < r->count; i++)
		if (!strcmp(r->values[i], value))
			return;
	r->values = rb_xrealloc(r->values, (r->count + 1) * sizeof *r->values);
	/* Longest first, so a secret that contains another is replaced whole. */
	size_t at = r->count;
	while (at > 0 && strlen(r->values[at - 1]) < n) {
		r->values[at] = r->values[at - 1];
		at--;
	}
	r->values[at] = rb_xstrdup(value);
	r->count++;
	if (n > r->longest)
		r->longest = n;
}

void rb_redactor_add(rb_redactor *r, const char *value)
{
	if (!value)
		return;
	/* A value read from a file or a command often ends in a newline or
	 * padding that is not part of it anywhere else: hide the bare value. */
	char *bare = rb_trim_dup(value);
	add_one(r, value);
	if (strcmp(bare, value))
		add_one(r, bare);
	free(bare);
}

/* The secret matching at p (at most avail bytes), or 0. */
static size_t match_at(const rb_redactor *r, const char *p, size_t avail)
{
	for (size_t i = 0; i < r->count; i++) {
		size_t n = strlen(r->values[i]);
		if (n <= avail && !memcmp(p, r->values[i], n))
			return n;
	}
	return 0;
}

void rb_redact_into(const rb_redactor *r, const char *text, size_t len, rb_buf *out)
{
	size_t i = 0, run = 0;
	if (!r || !r->count) {
		rb_buf_add(out, text, len);
		return;
	}
	while (i < len) {
		size_t m = match_at(r, text + i, len - i);
		if (m) {
			rb_buf_add(out, text + run, i - run);
			rb_buf_puts(out, "***");
			i += m;
			run = i;
		} else {
			i++;
		}
	}
	rb_buf_add(out, text + run, len - run);
}

char *rb_redact(const rb_redactor *r, const char *text)
{
	rb_buf b = RB_BUF_INIT;
	if (!text)
		return NULL;
	rb_redact_into(r, text, strlen(text), &b);
	return rb_buf_detach(&b);
}

void rb_redactor_free(rb_redactor *r)
{
	for (size_t i = 0; i < r->count; i++)
		free(r->values[i]);
	free(r->values);
	r->values = NULL;
	r->count = r->longest = 0;
}

void rb_redact_stream_init(rb_redact_stream *s, const rb_redactor *r)
{
	s->r = r;
	s->pending.data = NULL;
	s->pending.len = s->pending.cap = 0;
}

/* 1 when text[at..len) is a proper prefix of some secret. */
static int could_begin_secret(const rb_redactor *r, const char *text, size_t at, size_t len)
{
	size_t avail = len - at;
	for (size_t i = 0; i < r->count; i++) {
		size_t n = strlen(r->values[i]);
		if (avail < n && !memcmp(text + at, r->values[i], avail))
			return 1;
	}
	return 0;
}

void rb_redact_stream_feed(rb_redact_stream *s, const char *chunk, size_t len, rb_buf *out)
{
	if (!s->r || !s->r->count) {
		rb_buf_add(out, chunk, len);
		return;
	}
	rb_buf_add(&s->pending, chunk, len);
	const char *t = s->pending.data;
	size_t n = s->pending.len;
	/* Hold back the shortest tail that could still become a secret. */
	size_t keep_from = n;
	size_t lo = n > s->r->longest ? n - s->r->longest + 1 : 0;
	for (size_t at = lo; at < n; at++) {
		if (could_begin_secret(s->r, t, at, n)) {
			keep_from = at;
			break;
		}
	}
	/* A secret that starts before keep_from but ends after it is matched whole below. */
	size_t i = 0, run = 0;
	while (i < keep_from) {
		size_t m = match_at(s->r, t + i, n - i);
		if (m) {
			rb_buf_add(out, t + run, i - run);
			rb_buf_puts(out, "***");
			i += m;
			run = i;
		} else {
			i++;
		}
	}
	if (i > keep_from)
		keep_from = i;
	rb_buf_add(out, t + run, keep_from - run);
	memmove(s->pending.data, t + keep_from, n - keep_from);
	s->pending.len = n - keep_from;
	if (s->pending.data)
		s->pending.data[s->pending.len] = '\0';
}

void rb_redact_stream_flush(rb_redact_stream *s, rb_buf *out)
{
	if (s->pending.len)
		rb_redact_into(s->r, s->pending.data, s->pending.len, out);
	rb_buf_clear(&s->pending);
}

void rb_redact_stream_free(rb_redact_stream *s)
{
	rb_buf_free(&s->pending);
}
