/*
 * The HTML report of a run (report.h): each step of the document wrapped
 * once with its status, the timeline's bars, a page that stays inert with a
 * hostile runbook and hostile output, output bounded with ANSI sequences
 * stripped, the steps listed without the document, secrets redacted, and a
 * 100-step run with 1 MiB of output rendered fast and small.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gitstore.h"
#include "record.h"
#include "redact.h"
#include "report.h"

/* --- helpers ------------------------------------------------------------------ */

static size_t count(const char *hay, const char *needle)
{
	size_t n = 0, len = strlen(needle);
	for (const char *p = hay; (p = strstr(p, needle)); p += len)
		n++;
	return n;
}

/* Occurrences of needle, case-insensitive (for "<script", "<SCRIPT"). */
static size_t count_nocase(const char *hay, const char *needle)
{
	size_t n = 0, len = strlen(needle);
	for (const char *p = hay; *p; p++) {
		size_t i = 0;
		while (i < len && p[i] && tolower((unsigned char)p[i]) == tolower((unsigned char)needle[i]))
			i++;
		n += i == len;
	}
	return n;
}

/* The part of the page after the timeline: the document and the steps not in it. */
static const char *doc_part(const char *html)
{
	const char *p = strstr(html, "<main id=\"document\"");
	if (!p)
		p = strstr(html, "<section id=\"unplaced\"");
	assert_non_null(p);
	return p;
}

/* The 1-based line of the first line of src that contains needle, as text (static). */
static const char *line_of(const char *src, const char *needle)
{
	static char buf[8][16];
	static int next;
	const char *at = strstr(src, needle);
	int line = 1;
	assert_non_null(at);
	for (const char *p = src; p < at; p++)
		line += *p == '\n';
	char *b = buf[next++ % 8];
	snprintf(b, 16, "%d", line);
	return b;
}

/* Asserts that the document part wraps step id exactly once, with this status. */
static void wrapped_once(const char *html, const char *id, const char *status)
{
	char want[256], any[256];
	snprintf(want, sizeof want, "data-step=\"%s\" data-status=\"%s\"", id, status);
	snprintf(any, sizeof any, "data-step=\"%s\"", id);
	const char *doc = doc_part(html);
	if (count(doc, any) != 1 || count(doc, want) != 1)
		fail_msg("step %s: %zu wrappers, %zu with status %s", id, count(doc, any), count(doc, want), status);
}

static void open_record(rb_record *rec)
{
	rb_error err = RB_ERROR_INIT;
	assert_int_equal(rb_record_open(rec, NULL, NULL, &err), 0);
}

/* The run event; its hash is the source's (NULL: another document's). */
static void run_event(rb_record *rec, const char *title, const char *source)
{
	char hash[41] = "0123456789abcdef0123456789abcdef01234567";
	if (source)
		rb_gitstore_hash(source, strlen(source), hash);
	rb_record_event(rec, "run", "id", "20260101T100000Z-deploy-1", "title", title, "runbook", "deploy.md", "hash",
			hash, "operator", "Ada <ada@example.org>", "host", "db1", "start", "2026-01-01T10:00:00Z",
			"command", "runbook run deploy.md", NULL);
}

static void step_ev(rb_record *rec, const char *id, const char *number, const char *line, const char *role,
		    const char *kind, const char *at)
{
	rb_record_event(rec, "step", "id", id, "number", number, "kind", kind, "lang", "bash", "line", line, "section",
			"Deploy", "role", role, "at", at, NULL);
}

static void end_ev(rb_record *rec, const char *id, const char *status, const char *exit_code, const char *message,
		   const char *duration, const char *output, const char *at)
{
	rb_record_event(rec, "end", "id", id, "status", status, "exit", exit_code, "message", message, "duration",
			duration, "output", output, "at", at, NULL);
}

static char *report(const rb_record *rec, const char *source, const rb_redactor *red)
{
	rb_report_opts o = {source, NULL, red};
	char *html = rb_report_html(rec, &o);
	assert_non_null(html);
	assert_non_null(strstr(html, "<!DOCTYPE html>"));
	assert_non_null(strstr(html, "</html>\n"));
	return html;
}

/* --- a run with every status ------------------------------------------------------ */

static const char deploy_md[] =
	"---\n"
	"title: Deploy\n"
	"on_failure: Roll back\n"
	"---\n"
	"# Deploy\n"
	"\n"
	"```bash {name=one}\n"
	"echo one\n"
	"```\n"
	"\n"
	"```text\n"
	"documentation only\n"
	"```\n"
	"\n"
	"```bash {name=two retry=2}\n"
	"exit 1\n"
	"```\n"
	"\n"
	"```bash {name=three}\n"
	"echo never\n"
	"```\n"
	"\n"
	"```bash {name=four skip}\n"
	"echo skipped\n"
	"```\n"
	"\n"
	"## Roll back\n"
	"\n"
	"```bash {name=rollback}\n"
	"echo rolling back\n"
	"```\n";

/* one ok, two failed after 2 attempts, three never reached, four skip, rollback (on_failure) ok. */
static void deploy_record(rb_record *rec, int with_at, const char *hash_of)
{
	open_record(rec);
	run_event(rec, "Deploy", hash_of);
	step_ev(rec, "one", "1", line_of(deploy_md, "name=one"), "main", "shell", with_at ? "2026-01-01T10:00:00.100Z" : NULL);
	end_ev(rec, "one", "ok", "0", NULL, "0.100s", "one\n", with_at ? "2026-01-01T10:00:00.200Z" : NULL);
	step_ev(rec, "two", "2", line_of(deploy_md, "name=two"), "main", "shell", with_at ? "2026-01-01T10:00:00.300Z" : NULL);
	rb_record_event(rec, "end", "id", "two", "status", "failed", "exit", "1", "message", "failed with exit code 1",
			"duration", "0.050s", "attempts", "2", "output", "boom\n", "at",
			with_at ? "2026-01-01T10:00:00.500Z" : NULL, NULL);
	rb_record_event(rec, "note", "text", "the on_failure section ran", NULL);
	step_ev(rec, "rollback", "1", line_of(deploy_md, "name=rollback"), "on_failure", "shell",
		with_at ? "2026-01-01T10:00:00.600Z" : NULL);
	end_ev(rec, "rollback", "ok", "0", NULL, "0.010s", "rolling back\n", with_at ? "2026-01-01T10:00:00.610Z" : NULL);
	rb_record_event(rec, "finish", "result", "failed", "exit", "1", "end", "2026-01-01T10:00:00Z", "duration",
			"0.700s", NULL);
}

static void test_every_status(void **state)
{
	(void)state;
	rb_record rec;
	deploy_record(&rec, 1, deploy_md);
	char *html = report(&rec, deploy_md, NULL);
	assert_null(strstr(html, "class=\"source-changed\""));
	wrapped_once(html, "one", "ok");
	wrapped_once(html, "two", "failed");
	wrapped_once(html, "three", "not-reached");
	wrapped_once(html, "four", "skipped");
	wrapped_once(html, "rollback", "ok");
	assert_int_equal(count(doc_part(html), "<section class=\"step "), 5); /* the text block is not a step */
	assert_non_null(strstr(html, "documentation only"));
	assert_null(strstr(html, "id=\"unplaced\""));
	/* the handler's step is marked as such, in the document and on the timeline */
	assert_non_null(strstr(doc_part(html), "data-step=\"rollback\" data-status=\"ok\" data-kind=\"shell\" "
						 "data-role=\"on_failure\""));
	assert_non_null(strstr(html, "tl-bar tl-role-on_failure"));
	/* one bar per step that ran; the retried one in two segments with its ×2 */
	assert_int_equal(count(html, "class=\"tl-bar "), 3);
	assert_non_null(strstr(html, "data-step=\"two\" data-status=\"failed\" data-role=\"main\" data-kind=\"shell\" "
				     "data-attempts=\"2\""));
	assert_int_equal(count(html, "class=\"tl-try\""), 4);
	assert_non_null(strstr(html, "<span class=\"tl-attempts\""));
	assert_non_null(strstr(html, "data-timed=\"at\""));
	/* bars placed by time: the run's origin is 10:00:00.000 (end 0.610 less 0.700 is earlier), span 610 ms */
	assert_non_null(strstr(html, "data-step=\"one\" data-status=\"ok\" data-role=\"main\" data-kind=\"shell\" "
				     "data-attempts=\"1\" style=\"left:16.393%;width:16.393%\""));
	/* the header: exit code and its meaning, the commit line */
	assert_non_null(strstr(html, "data-result=\"failed\" data-exit=\"1\""));
	assert_non_null(strstr(html, "<code>1</code> — a step failed"));
	assert_non_null(strstr(html, "class=\"run-commit\">the commit that holds this run's record"));
	assert_non_null(strstr(html, "<p class=\"step-message\">failed with exit code 1</p>"));
	assert_non_null(strstr(html, "<details class=\"step-output\" open><summary>Output (1 line, 5 bytes)"));
	assert_non_null(strstr(html, "class=\"step-reason\">skip in the runbook"));
	free(html);
	rb_record_close(&rec);
}

/* An older record without times: bars end to end by duration, the document the same. */
static void test_without_times(void **state)
{
	(void)state;
	rb_record rec;
	deploy_record(&rec, 0, deploy_md);
	char *html = report(&rec, deploy_md, NULL);
	assert_non_null(strstr(html, "data-timed=\"duration\""));
	assert_int_equal(count(html, "class=\"tl-bar "), 3);
	/* 100 + 50 + 10 ms of 700: the second bar starts at 100/700 */
	assert_non_null(strstr(html, "data-attempts=\"2\" style=\"left:14.286%;width:7.143%\""));
	wrapped_once(html, "two", "failed");
	wrapped_once(html, "three", "not-reached");
	free(html);
	rb_record_close(&rec);
}

/* Without the document: every step of the record listed once, nothing else claimed. */
static void test_without_source(void **state)
{
	(void)state;
	rb_record rec;
	deploy_record(&rec, 1, deploy_md);
	char *html = report(&rec, NULL, NULL);
	assert_null(strstr(html, "id=\"document\""));
	assert_non_null(strstr(html, "<section id=\"unplaced\""));
	assert_non_null(strstr(html, "class=\"source-unknown\""));
	wrapped_once(html, "one", "ok");
	wrapped_once(html, "two", "failed");
	wrapped_once(html, "rollback", "ok");
	assert_null(strstr(html, "data-step=\"three\""));
	assert_int_equal(count(html, "class=\"tl-bar "), 3);
	free(html);
	/* no options at all */
	html = rb_report_html(&rec, NULL);
	assert_non_null(strstr(html, "<section id=\"unplaced\""));
	free(html);
	rb_record_close(&rec);
}

/* A document changed since the run: a step whose block is gone is listed after it. */
static void test_changed_document(void **state)
{
	(void)state;
	rb_record rec;
	deploy_record(&rec, 1, NULL);
	rb_record_event(&rec, "step", "id", "gone", "number", "9", "kind", "shell", "line", "99", "role", "main", NULL);
	char *html = report(&rec, deploy_md, NULL);
	assert_non_null(strstr(html, "class=\"source-changed\""));
	const char *unplaced = strstr(html, "<section id=\"unplaced\"");
	assert_non_null(unplaced);
	assert_non_null(strstr(unplaced, "data-step=\"gone\" data-status=\"interrupted\""));
	wrapped_once(html, "gone", "interrupted");
	wrapped_once(html, "one", "ok");
	assert_int_equal(count(html, "class=\"tl-bar "), 4);
	free(html);
	rb_record_close(&rec);
}

/* A step the record says was skipped (an end without a start): its reason shown, no bar. */
static void test_skipped_in_record(void **state)
{
	(void)state;
	rb_record rec;
	open_record(&rec);
	run_event(&rec, "Deploy", deploy_md);
	rb_record_event(&rec, "end", "id", "one", "status", "skipped", "message", "when=false is false", "at",
			"2026-01-01T10:00:00.050Z", NULL);
	step_ev(&rec, "two", "2", line_of(deploy_md, "name=two"), "main", "shell", "2026-01-01T10:00:00.100Z");
	end_ev(&rec, "two", "ok", "0", NULL, "0.100s", NULL, "2026-01-01T10:00:00.200Z");
	char *html = report(&rec, deploy_md, NULL);
	wrapped_once(html, "one", "skipped");
	wrapped_once(html, "two", "ok");
	wrapped_once(html, "three", "not-reached");
	assert_non_null(strstr(html, "<p class=\"step-message\">when=false is false</p>"));
	assert_int_equal(count(html, "class=\"tl-bar "), 1);
	assert_null(strstr(html, "id=\"unplaced\""));
	free(html);
	rb_record_close(&rec);
}

/* --- hostile input ---------------------------------------------------------------- */

static const char hostile_md[] =
	"# Heading <script>alert(1)</script>\n"
	"\n"
	"[click](javascript:alert(2)) [v](vbscript:msgbox) [f](file:///etc/passwd) "
	"[d](data:text/html,<script>alert(3)</script>) ![i](javascript:alert(4))\n"
	"\n"
	"<script>alert(5)</script>\n"
	"\n"
	"<div onclick=\"alert(6)\">raw</div> and <iframe src=\"https://example.org\"></iframe>\n"
	"\n"
	"```bash {name=out}\n"
	"echo '<script>alert(7)</script>'\n"
	"```\n"
	"\n"
	"```lua gate {name=gate}\n"
	"return false, '\"><img src=x onerror=alert(8)>'\n"
	"```\n"
	"\n"
	"```sql {name=query}\n"
	"SELECT '<script>alert(9)</script>' AS x;\n"
	"```\n";

static void test_hostile(void **state)
{
	(void)state;
	rb_record rec;
	open_record(&rec);
	run_event(&rec, "</title><script>alert(10)</script>", hostile_md);
	step_ev(&rec, "out", "1", line_of(hostile_md, "name=out"), "main", "shell", "2026-01-01T10:00:00.100Z");
	end_ev(&rec, "out", "ok", "0", NULL, "0.010s", "<script>alert(7)</script>\n</pre></details><script>x</script>\n",
	       "2026-01-01T10:00:00.110Z");
	step_ev(&rec, "query", "2", line_of(hostile_md, "name=query"), "main", "sql", "2026-01-01T10:00:00.120Z");
	end_ev(&rec, "query", "ok", NULL, NULL, "0.010s",
	       "              x\n-------------------------------\n <script>alert(9)</script>\n(1 row)\n",
	       "2026-01-01T10:00:00.130Z");
	step_ev(&rec, "gate", "3", line_of(hostile_md, "name=gate"), "main", "gate", "2026-01-01T10:00:00.140Z");
	end_ev(&rec, "gate", "failed", NULL, "gate closed: \"><img src=x onerror=alert(8)>", "0.001s",
	       "\"><img src=x onerror=alert(8)>", "2026-01-01T10:00:00.150Z");
	/* a step id, an approval and a note made to break out of attributes */
	step_ev(&rec, "\"><script>alert(11)</script>", "4", "999", "main", "shell", "2026-01-01T10:00:00.160Z");
	rb_record_event(&rec, "approval", "step", "\"><script>alert(11)</script>", "item", "<svg onload=alert(12)>",
			"who", "'><svg onload=alert(13)>", "how", "--yes", "approved", "yes", "at",
			"2026-01-01T10:00:00.161Z", NULL);
	rb_record_event(&rec, "note", "text", "<script>alert(14)</script>", NULL);
	rb_record_event(&rec, "var", "name", "X", "value", "<img src=x onerror=alert(15)>", "source", "--set", NULL);
	rb_record_event(&rec, "finish", "result", "<b>x</b>", "exit", "\"><script>", NULL);
	char *html = report(&rec, hostile_md, NULL);
	/* the page's own script is the only one */
	assert_int_equal(count_nocase(html, "<script"), 1);
	assert_int_equal(count(html, "<script>addEventListener("), 1);
	assert_int_equal(count(html, "<img"), 1); /* the document's image, its source dropped */
	assert_non_null(strstr(html, "<img src=\"\" alt=\"i\" />"));
	assert_null(strstr(html, "<svg"));
	assert_null(strstr(html, "<iframe"));
	assert_null(strstr(html, "<div onclick"));
	assert_null(strstr(html, "<b>x"));
	assert_int_equal(count_nocase(html, "href=\"javascript"), 0);
	assert_int_equal(count_nocase(html, "href=\"vbscript"), 0);
	assert_int_equal(count_nocase(html, "href=\"file"), 0);
	assert_int_equal(count_nocase(html, "href=\"data"), 0);
	assert_int_equal(count_nocase(html, "src=\"javascript"), 0);
	assert_non_null(strstr(html, "<!-- raw HTML omitted -->"));
	/* what was hostile is shown, as text */
	assert_non_null(strstr(html, "&lt;script&gt;alert(7)&lt;/script&gt;"));
	assert_non_null(strstr(html, " &lt;script&gt;alert(9)&lt;/script&gt;\n(1 row)"));
	assert_non_null(strstr(html, "Gate closed: &quot;&gt;&lt;img src=x onerror=alert(8)&gt;"));
	assert_non_null(strstr(html, "data-step=\"&quot;&gt;&lt;script&gt;alert(11)&lt;/script&gt;\""));
	assert_non_null(strstr(html, "&#39;&gt;&lt;svg onload=alert(13)&gt;"));
	assert_non_null(strstr(html, "<title>&lt;/title&gt;&lt;script&gt;alert(10)&lt;/script&gt; — run"));
	assert_non_null(strstr(html, "<h1>Heading <!-- raw HTML omitted -->alert(1)<!-- raw HTML omitted --></h1>"));
	/* nothing fetched: the policy allows no source but inline style, data: images and the page's script */
	assert_non_null(strstr(html, "content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
				     "script-src 'sha256-"));
	wrapped_once(html, "gate", "failed");
	wrapped_once(html, "&quot;&gt;&lt;script&gt;alert(11)&lt;/script&gt;", "interrupted");
	free(html);
	rb_record_close(&rec);
}

/* The policy's hash is the script's (openssl computes it, when there is one). */
static void test_script_hash(void **state)
{
	(void)state;
	rb_record rec;
	open_record(&rec);
	char *html = report(&rec, NULL, NULL);
	const char *s = strstr(html, "<script>"), *e = s ? strstr(s, "</script>") : NULL;
	const char *h = strstr(html, "'sha256-");
	assert_non_null(e);
	assert_non_null(h);
	char path[] = "/tmp/test_report_XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fwrite(s + 8, 1, (size_t)(e - s - 8), f);
	fclose(f);
	char cmd[256], got[128] = "";
	snprintf(cmd, sizeof cmd, "openssl dgst -sha256 -binary %s 2>/dev/null | base64 2>/dev/null", path);
	FILE *p = popen(cmd, "r");
	int have = p && fgets(got, sizeof got, p) && strlen(got) > 40;
	if (p)
		pclose(p);
	remove(path);
	if (have) {
		got[strcspn(got, "\n")] = '\0';
		assert_memory_equal(h + 8, got, strlen(got));
		assert_int_equal(h[8 + strlen(got)], '\'');
	}
	free(html);
	rb_record_close(&rec);
	if (!have)
		skip();
}

/* --- output ------------------------------------------------------------------------ */

static void test_output_bounded(void **state)
{
	(void)state;
	rb_buf out = RB_BUF_INIT, angles = RB_BUF_INIT;
	rb_buf_puts(&out, "FIRSTLINE\r\n");
	for (int i = 0; i < 5000; i++)
		rb_buf_printf(&out, "line %d \x1b[31mred\x1b[0m \x1b]0;title\x07tab\there \x01 bell\x07\n", i);
	rb_buf_puts(&out, "LASTLINE\n");
	for (int i = 0; i < 20000; i++)
		rb_buf_putc(&angles, '<');
	rb_record rec;
	open_record(&rec);
	run_event(&rec, "Output", NULL);
	step_ev(&rec, "big", "1", "1", "main", "shell", "2026-01-01T10:00:00.100Z");
	end_ev(&rec, "big", "ok", "0", NULL, "1s", out.data, "2026-01-01T10:00:01.100Z");
	step_ev(&rec, "angles", "2", "2", "main", "shell", "2026-01-01T10:00:01.100Z");
	end_ev(&rec, "angles", "ok", "0", NULL, "1s", angles.data, "2026-01-01T10:00:02.100Z");
	char *html = report(&rec, NULL, NULL);
	assert_null(strchr(html, '\x1b'));
	assert_null(strchr(html, '\x07'));
	assert_null(strchr(html, '\x01'));
	assert_null(strchr(html, '\r'));
	assert_null(strstr(html, "[31m"));
	assert_null(strstr(html, "0;title"));
	assert_non_null(strstr(html, "FIRSTLINE\nline 0 red tab\there \\x01 bell\\x07\n"));
	assert_non_null(strstr(html, "line 4999 red tab\there \\x01 bell\\x07\nLASTLINE\n"));
	assert_null(strstr(html, "line 2500 "));
	assert_int_equal(count(html, "<span class=\"output-cut\">"), 2);
	/* what a step shows is bounded in bytes of markup, whatever the escaping costs */
	for (const char *p = html; (p = strstr(p, "<pre class=\"output\">")); p++) {
		const char *end = strstr(p, "</pre>");
		assert_non_null(end);
		assert_true((size_t)(end - p) < 8192 + 200);
	}
	assert_true(strlen(html) < 48 * 1024);
	free(html);
	rb_buf_free(&out);
	rb_buf_free(&angles);
	rb_record_close(&rec);
}

/* --- approvals, captures, interruption, secrets ------------------------------------------- */

static const char approvals_md[] =
	"# Release\n"
	"\n"
	"- [x] The ticket is approved\n"
	"- [ ] On-call is told\n"
	"\n"
	"```bash {name=ship confirm}\n"
	"echo hunter2 shipped\n"
	"```\n"
	"\n"
	"```bash {name=after}\n"
	"true\n"
	"```\n";

static void test_approvals_and_interruption(void **state)
{
	(void)state;
	rb_record rec;
	rb_redactor red = RB_REDACTOR_INIT;
	rb_redactor_add(&red, "hunter2");
	open_record(&rec);
	run_event(&rec, "Release", approvals_md);
	rb_record_event(&rec, "step", "id", "release-1", "number", "1", "kind", "approval", "lang", "tasks", "line",
			line_of(approvals_md, "- [x]"), "role", "main", "at", "2026-01-01T10:00:00.100Z", NULL);
	rb_record_event(&rec, "approval", "step", "release-1", "item", "The ticket is approved", "who", "Ada", "how",
			"checked in the runbook", "approved", "yes", "at", "2026-01-01T10:00:00.100Z", NULL);
	rb_record_event(&rec, "approval", "step", "release-1", "item", "On-call is told", "who", "Ada", "how",
			"terminal", "approved", "yes", "at", "2026-01-01T10:00:02.000Z", NULL);
	end_ev(&rec, "release-1", "ok", NULL, NULL, "1.9s", NULL, "2026-01-01T10:00:02.000Z");
	step_ev(&rec, "ship", "2", line_of(approvals_md, "name=ship"), "main", "shell", "2026-01-01T10:00:02.100Z");
	rb_record_event(&rec, "approval", "step", "ship", "item", "run this step", "who", "Ada", "how", "--yes",
			"approved", "yes", "at", "2026-01-01T10:00:02.100Z", NULL);
	/* killed while it ran: no end, no finish */
	char *html = report(&rec, approvals_md, &red);
	wrapped_once(html, "release-1", "ok");
	wrapped_once(html, "ship", "interrupted");
	wrapped_once(html, "after", "not-reached");
	/* the task list is inside its step's wrapper */
	const char *w = strstr(doc_part(html), "data-step=\"release-1\"");
	const char *li = w ? strstr(w, "<li>[x] The ticket is approved</li>") : NULL, *end = w ? strstr(w, "</section>") : NULL;
	assert_non_null(li);
	assert_non_null(end);
	assert_true(li < end);
	assert_non_null(strstr(html, "<li class=\"approval\" data-approved=\"yes\"><span class=\"approval-mark\">approved"
				     "</span> <span class=\"approval-item\">On-call is told</span> — by <span "
				     "class=\"approval-who\">Ada</span>, how: <span class=\"approval-how\">terminal</span>"));
	assert_int_equal(count(html, "class=\"tl-approval\" data-approved=\"yes\""), 3);
	assert_non_null(strstr(html, "data-result=\"interrupted\" data-exit=\"none\""));
	assert_non_null(strstr(html, "class=\"run-end\">never: the run was interrupted"));
	assert_non_null(strstr(html, "tl-bar tl-role-main st-interrupted"));
	assert_null(strstr(html, "hunter2"));
	assert_non_null(strstr(html, "echo *** shipped"));
	free(html);
	rb_redactor_free(&red);
	rb_record_close(&rec);
}

/* --- size and time ------------------------------------------------------------------- */

static void test_hundred_steps(void **state)
{
	(void)state;
	rb_buf src = RB_BUF_INIT, out = RB_BUF_INIT;
	rb_record rec;
	open_record(&rec);
	run_event(&rec, "Hundred", NULL);
	rb_buf_puts(&src, "# Hundred\n\n");
	while (out.len < 10486)
		rb_buf_puts(&out, "a line of output from a step, and more\n"); /* 10 KiB and a bit */
	for (int i = 0; i < 100; i++) {
		char id[32], line[16], num[16], at0[64], at1[64];
		snprintf(id, sizeof id, "step-%d", i);
		snprintf(num, sizeof num, "%d", i + 1);
		rb_buf_printf(&src, "Step %d does something.\n\n", i);
		int l = 1;
		for (size_t k = 0; k < src.len; k++)
			l += src.data[k] == '\n';
		snprintf(line, sizeof line, "%d", l);
		rb_buf_printf(&src, "```bash {name=%s}\necho %d\n```\n\n", id, i);
		snprintf(at0, sizeof at0, "2026-01-01T10:%02d:%02d.000Z", i / 60, i % 60);
		snprintf(at1, sizeof at1, "2026-01-01T10:%02d:%02d.500Z", i / 60, i % 60);
		step_ev(&rec, id, num, line, "main", "shell", at0);
		end_ev(&rec, id, "ok", "0", NULL, "0.500s", out.data, at1);
	}
	rb_record_event(&rec, "finish", "result", "succeeded", "exit", "0", "end", "2026-01-01T10:01:40Z", "duration",
			"100.000s", NULL);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	char *html = report(&rec, src.data, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	size_t size = strlen(html);
	print_message("100 steps, %zu KiB of output: %.1f ms, %zu KiB of HTML\n", 100 * out.len / 1024, ms, size / 1024);
	assert_true(100 * out.len >= 1024 * 1024);
	assert_true(size < 2 * 1024 * 1024);
	if (!getenv("RB_NO_TIMING")) /* valgrind is 50x slower */
		assert_true(ms < 1500);  /* about 10 ms on a laptop: a generous bound for a loaded machine */
	assert_int_equal(count(html, "class=\"tl-bar "), 100);
	assert_int_equal(count(doc_part(html), "<section class=\"step st-ok\""), 100);
	wrapped_once(html, "step-0", "ok");
	wrapped_once(html, "step-99", "ok");
	free(html);
	rb_buf_free(&src);
	rb_buf_free(&out);
	rb_record_close(&rec);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_status),
		cmocka_unit_test(test_without_times),
		cmocka_unit_test(test_without_source),
		cmocka_unit_test(test_changed_document),
		cmocka_unit_test(test_skipped_in_record),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_script_hash),
		cmocka_unit_test(test_output_bounded),
		cmocka_unit_test(test_approvals_and_interruption),
		cmocka_unit_test(test_hundred_steps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
