/*
 * fuzz_attrs.c - a fence's info string through rb_info_parse, both as given
 * and wrapped as "sh {INPUT}" so that the fuzzer reaches the pair form
 * (`{key=value}`) and Runme's JSON form (`{"key":"value"}`) from bare text.
 * Checks the contract of attrs.h: on success every string is set and every
 * position lies inside the info string; on failure the result is empty and
 * the error says where.
 */
#include "attrs.h"
#include "fuzz.h"

#define LINE 7
#define COL 4

static void one(const char *info)
{
	rb_info out;
	rb_error err = RB_ERROR_INIT;
	int last = COL + (int)strlen(info);
	if (rb_info_parse(info, "fuzz.md", LINE, COL, &out, &err) == 0) {
		FUZZ_CHECK(out.lang && out.qualifier, "lang or qualifier unset");
		FUZZ_CHECK(!err.message, "success with an error: %s", err.message);
		FUZZ_CHECK(out.brace_col == 0 || (out.brace_col >= COL && out.brace_col < last),
			   "brace column %d outside %d..%d", out.brace_col, COL, last);
		FUZZ_CHECK(out.nattrs == 0 || out.attrs, "attributes counted but not stored");
		for (size_t i = 0; i < out.nattrs; i++) {
			const rb_attr *a = &out.attrs[i];
			FUZZ_CHECK(a->key && a->value, "attribute %zu unset", i);
			FUZZ_CHECK(a->line == LINE && a->col >= COL && a->col <= last,
				   "attribute '%s' at %d:%d", a->key, a->line, a->col);
			for (size_t k = 0; k < i; k++)
				FUZZ_CHECK(strcmp(out.attrs[k].key, a->key), "attribute '%s' twice",
					   a->key);
			const rb_attr_spec *spec = rb_attr_lookup(a->key);
			if (!spec && !rb_attr_is_runme(a->key))
				(void)rb_attr_suggest(a->key);
			int64_t ms;
			(void)rb_parse_flag(a->value);
			(void)rb_parse_duration(a->value, &ms);
		}
		rb_info_free(&out);
	} else {
		FUZZ_CHECK(!out.lang && !out.qualifier && !out.attrs && out.nattrs == 0,
			   "failure left a result behind");
		FUZZ_CHECK(err.message && err.code == RB_EXIT_USAGE, "failure without an error");
		FUZZ_CHECK(err.line == LINE && err.col >= COL && err.col <= last,
			   "error at %d:%d outside the info string (%d..%d): %s", err.line, err.col,
			   COL, last, err.message);
	}
	rb_error_clear(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *info = fuzz_cstr(data, size);
	one(info);
	char *wrapped = rb_xasprintf("sh {%s}", info);
	one(wrapped);
	free(wrapped);
	free(info);
	return 0;
}
