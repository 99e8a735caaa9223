/*
 * fuzz_redact.c - the streaming redactor against the whole-text one.
 *
 * Input, byte by byte:
 *   N            number of secrets (N % 5)
 *   N times: L   a secret's length (L % 8), then L bytes (cut at a NUL)
 *   M            number of chunk sizes (M % 16 + 1)
 *   M bytes      chunk sizes (each % 17; 0 is an empty chunk), used in turn
 *   the rest     the text
 * The text is fed to an rb_redact_stream in chunks of those sizes and
 * flushed; the result must equal rb_redact_into of the whole text (and
 * rb_redact of it when it holds no NUL), byte for byte. A difference aborts.
 */
#include "fuzz.h"
#include "redact.h"

typedef struct {
	const uint8_t *p;
	size_t left;
} reader;

static int next_byte(reader *r)
{
	if (!r->left)
		return 0;
	r->left--;
	return *r->p++;
}

static void report(const char *what, const rb_buf *want, const rb_buf *got)
{
	fprintf(stderr, "%s: want %zu bytes \"%.*s\", got %zu bytes \"%.*s\"\n", what, want->len,
		(int)want->len, rb_buf_cstr(want), got->len, (int)got->len, rb_buf_cstr(got));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	reader in = {data, size};
	rb_redactor red = RB_REDACTOR_INIT;
	uint8_t sizes[16];

	int nsecrets = next_byte(&in) % 5;
	for (int i = 0; i < nsecrets; i++) {
		size_t len = (size_t)(next_byte(&in) % 8);
		if (len > in.left)
			len = in.left;
		char *secret = fuzz_cstr(in.p, len);
		rb_redactor_add(&red, secret);
		free(secret);
		in.p += len;
		in.left -= len;
	}
	int nsizes = next_byte(&in) % 16 + 1;
	for (int i = 0; i < nsizes; i++)
		sizes[i] = (uint8_t)(next_byte(&in) % 17);
	int all_empty = 1;
	for (int i = 0; i < nsizes; i++)
		all_empty &= sizes[i] == 0;
	if (all_empty)
		sizes[0] = 1; /* a cycle of empty chunks only would never end */
	const char *text = (const char *)in.p;
	size_t len = in.left;

	rb_buf whole = RB_BUF_INIT, streamed = RB_BUF_INIT;
	rb_redact_into(&red, text, len, &whole);

	rb_redact_stream s;
	rb_redact_stream_init(&s, &red);
	size_t at = 0;
	for (int k = 0; at < len; k = (k + 1) % nsizes) {
		size_t n = sizes[k];
		if (n > len - at)
			n = len - at;
		rb_redact_stream_feed(&s, text + at, n, &streamed);
		at += n;
	}
	rb_redact_stream_feed(&s, text + at, 0, &streamed);
	rb_redact_stream_flush(&s, &streamed);
	rb_redact_stream_free(&s);

	if (streamed.len != whole.len || memcmp(rb_buf_cstr(&streamed), rb_buf_cstr(&whole), whole.len)) {
		report("streamed output differs from the whole text's", &whole, &streamed);
		abort();
	}
	if (!memchr(text, '\0', len)) {
		char *copy = rb_xstrndup(text, len);
		char *once = rb_redact(&red, copy);
		if (strlen(once) != whole.len || memcmp(once, rb_buf_cstr(&whole), whole.len)) {
			rb_buf got = {once, strlen(once), strlen(once) + 1};
			report("rb_redact differs from rb_redact_into", &whole, &got);
			abort();
		}
		free(once);
		free(copy);
	}
	rb_buf_free(&whole);
	rb_buf_free(&streamed);
	rb_redactor_free(&red);
	return 0;
}
