/*
 * fuzz_frontmatter.c - the start of a document through rb_frontmatter_locate
 * and, when a block is found, rb_frontmatter_parse. The input is passed as
 * is (not NUL-terminated), as rb_parse passes it. Checks frontmatter.h: the
 * span lies inside the input, an unclosed block and every -1 come with an
 * error diagnostic, and 0 comes with none.
 */
#include "frontmatter.h"
#include "fuzz.h"
#include "redact.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	rb_diags diags = RB_DIAGS_INIT;
	rb_front_matter fm;
	memset(&fm, 0, sizeof fm);
	fm.timeout_ms = -1;
	const char *src = (const char *)data;

	long span = rb_frontmatter_locate(src, size, "fuzz.md", &diags);
	FUZZ_CHECK(span >= -1 && span <= (long)size, "span %ld of %zu bytes", span, size);
	FUZZ_CHECK(span != -1 || diags.errors == 1, "unclosed without one error");
	FUZZ_CHECK(span == -1 || diags.errors == 0, "located with an error");
	if (span > 0) {
		int rc = rb_frontmatter_parse(src, (size_t)span, "fuzz.md", &fm, &diags);
		FUZZ_CHECK((rc == 0) == (diags.errors == 0), "returned %d with %zu errors", rc,
			   diags.errors);
		FUZZ_CHECK(fm.nenv == 0 || fm.env, "env counted but not stored");
		for (size_t i = 0; i < fm.nenv; i++) {
			FUZZ_CHECK(fm.env[i].key, "env entry %zu without a name", i);
			(void)rb_redact_name_is_secret(fm.env[i].key);
		}
		for (size_t i = 0; i < fm.ndatabases; i++)
			FUZZ_CHECK(fm.databases[i].key, "database %zu without a name", i);
		for (size_t i = 0; i < fm.nsecrets; i++)
			FUZZ_CHECK(fm.secrets[i].value, "secret %zu without a name", i);
		for (size_t i = 0; i < fm.nunknown; i++)
			FUZZ_CHECK(fm.unknown[i].key, "unknown key %zu without a name", i);
	}
	rb_frontmatter_free(&fm);
	rb_diags_free(&diags);
	return 0;
}
