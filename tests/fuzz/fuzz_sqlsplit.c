/*
 * fuzz_sqlsplit.c - a sql step's body through rb_sql_split, then every
 * statement (and every meta-command's arguments) through rb_sql_interpolate.
 *
 * Input: the first byte's low bit is standard_conforming_strings, the rest
 * up to a NUL is the body. The lookup defines some names (with values that
 * need quoting, are empty, hold ';' or are not UTF-8) and leaves the others
 * undefined. Checks sqlsplit.h: positions inside the body, the result or
 * the error but never both, and text without ':' or '\' kept byte for byte.
 */
#include "fuzz.h"
#include "sqlsplit.h"

#define FIRST_LINE 10

static const char *lookup(void *ctx, const char *name)
{
	static const struct {
		const char *name, *value;
	} known[] = {
		{"q", "it's"},
		{"b", "back\\slash 'x'"},
		{"bad", "\xff\xfe"},
		{"e", ""},
		{"semi", "; DROP TABLE x; --"},
		{"id", "a\"b"},
		{"colon", ":q :'q'"},
	};
	(void)ctx;
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (!strcmp(name, known[i].name))
			return known[i].value;
	if (name[0] == 'u' || strlen(name) % 4 == 3)
		return NULL;
	return name;
}

/* Runbook lines the body spans: "\r\n", "\n" and a lone "\r" each end one. */
static int last_line(const char *body)
{
	int line = FIRST_LINE;
	for (const char *p = body; *p; p++)
		if (*p == '\n' || (*p == '\r' && p[1] != '\n'))
			line++;
	return line;
}

static void interpolate(const char *text, int line, int col, int std_strings)
{
	char *out = (char *)&out; /* must be set by the callee */
	rb_error err = RB_ERROR_INIT;
	if (rb_sql_interpolate(text, "fuzz.md", line, col, std_strings, lookup, NULL, &out, &err) ==
	    0) {
		FUZZ_CHECK(out && !err.message, "success without text or with an error");
		if (!strchr(text, ':') && !strchr(text, '\\'))
			FUZZ_CHECK(!strcmp(out, text), "nothing to replace, yet '%s' became '%s'",
				   text, out);
		free(out);
	} else {
		FUZZ_CHECK(!out, "failure left text behind");
		FUZZ_CHECK(err.message && err.code == RB_EXIT_USAGE, "failure without an error");
		FUZZ_CHECK(err.line >= line && err.col >= 1, "error at %d:%d before the text at %d:%d",
			   err.line, err.col, line, col);
	}
	rb_error_clear(&err);
}

/*
 * A statement split again is that one statement, unchanged: the splitter
 * agrees with itself on where statements end. Only checked for bodies
 * without meta-commands: one inside a statement becomes spaces, which can
 * join a string before it and one starting the next line into a continued
 * string ('a' <newline> 'b'), as they are for the server when psql sends
 * the same text.
 */
static void resplit(const rb_sql_item *it, int std_strings)
{
	rb_sql_item *items = NULL;
	size_t count = 0;
	rb_error err = RB_ERROR_INIT;
	int rc = rb_sql_split(it->text, "fuzz.md", it->line, std_strings, &items, &count, &err);
	FUZZ_CHECK(rc == 0, "statement '%s' no longer splits: %s", it->text,
		   err.message ? err.message : "?");
	FUZZ_CHECK(count == 1 && items[0].kind == RB_SQL_STATEMENT, "statement '%s' splits into %zu items",
		   it->text, count);
	FUZZ_CHECK(!strcmp(items[0].text, it->text), "statement '%s' splits into '%s'", it->text,
		   items[0].text);
	FUZZ_CHECK(items[0].is_txn_control == it->is_txn_control &&
			   items[0].no_txn_block == it->no_txn_block,
		   "statement '%s' classified differently alone", it->text);
	rb_sql_items_free(items, count);
	rb_error_clear(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	int std_strings = data[0] & 1;
	char *body = fuzz_cstr(data + 1, size - 1);
	int last = last_line(body);
	rb_sql_item *items = (rb_sql_item *)&items; /* must be reset by the callee */
	size_t count = 99;
	rb_error err = RB_ERROR_INIT;

	if (rb_sql_split(body, "fuzz.md", FIRST_LINE, std_strings, &items, &count, &err) == 0) {
		FUZZ_CHECK(!err.message, "success with an error: %s", err.message);
		FUZZ_CHECK((count == 0) == (items == NULL), "%zu items at %p", count, (void *)items);
		int has_meta = 0;
		for (size_t i = 0; i < count; i++)
			has_meta |= items[i].kind == RB_SQL_META;
		for (size_t i = 0; i < count; i++) {
			const rb_sql_item *it = &items[i];
			FUZZ_CHECK(it->text, "item %zu without text", i);
			FUZZ_CHECK(it->line >= FIRST_LINE && it->line <= last && it->col >= 1,
				   "item %zu at %d:%d outside lines %d..%d", i, it->line, it->col,
				   FIRST_LINE, last);
			if (it->kind == RB_SQL_META) {
				FUZZ_CHECK(it->command && it->args && it->text[0] == '\\',
					   "meta-command %zu malformed", i);
				FUZZ_CHECK(it->args_col >= it->col, "arguments at %d before the command at %d",
					   it->args_col, it->col);
				interpolate(it->args, it->line, it->args_col, std_strings);
			} else {
				FUZZ_CHECK(it->kind == RB_SQL_STATEMENT && !it->command && !it->args,
					   "statement %zu malformed", i);
				FUZZ_CHECK(it->text[0] != '\0', "empty statement %zu", i);
				if (!has_meta)
					resplit(it, std_strings);
				interpolate(it->text, it->line, it->col, std_strings);
			}
		}
		(void)rb_sql_has_txn_control(items, count);
		rb_sql_items_free(items, count);
	} else {
		FUZZ_CHECK(items == NULL && count == 0, "failure left items behind");
		FUZZ_CHECK(err.message && err.code == RB_EXIT_USAGE, "failure without an error");
		FUZZ_CHECK(err.line >= FIRST_LINE && err.line <= last && err.col >= 1,
			   "error at %d:%d outside lines %d..%d", err.line, err.col, FIRST_LINE, last);
	}
	rb_error_clear(&err);
	free(body);
	return 0;
}
