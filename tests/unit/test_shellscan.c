/*
 * The command words of a shell script (shellscan.h): the first word of each
 * simple command past its assignments and the reserved words before it;
 * not an expansion, a quoted word, a path, a reserved word of its own, or
 * a function the script defines; each at its line and column. And what is
 * standard: builtins and the system's utilities.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "shellscan.h"
#include "util.h"

/* The command words of script, "word@line:col" separated by spaces. */
static char *commands_of(const char *script)
{
	rb_shell_scan sc;
	rb_buf b = RB_BUF_INIT;
	rb_shell_scan_text(script, &sc);
	for (size_t i = 0; i < sc.ncommands; i++)
		rb_buf_printf(&b, "%s%s@%d:%d", i ? " " : "", sc.commands[i].text, sc.commands[i].line, sc.commands[i].col);
	rb_shell_scan_free(&sc);
	return rb_buf_detach(&b);
}

static void expect(const char *script, const char *want)
{
	char *got = commands_of(script);
	assert_string_equal(got ? got : "", want);
	free(got);
}

static void test_pipelines_lists_and_assignments(void **state)
{
	(void)state;
	expect("kubectl get pods | jq .items && X=1 helm list; docker ps\n",
	       "kubectl@1:1 jq@1:20 helm@1:37 docker@1:48");
}

static void test_compound_commands(void **state)
{
	(void)state;
	expect("if aws sts get-caller-identity; then\n  terraform plan\nelse\n  echo no\nfi\n",
	       "aws@1:4 terraform@2:3 echo@4:3");
	expect("for i in a b; do\n  gcloud x \"$i\"\ndone\n", "gcloud@2:3");
	expect("while read -r l; do vault read \"$l\"; done < f\n", "read@1:7 vault@1:21");
	expect("case \"$X\" in\n  a) psql -c x ;;\n  b|c ) redis-cli x | grep y ;;\nesac\n", "psql@2:6 redis-cli@3:9 grep@3:23");
}

static void test_what_is_not_a_command_word(void **state)
{
	(void)state;
	/* Expansions, quoted words, paths, options of what came before, functions defined here. */
	expect("\"$TOOL\" run\n$CMD x\n./deploy.sh\n/usr/bin/env x\n", "");
	expect("deploy() { helm upgrade x; }\ndeploy\nfunction check { true; }\ncheck\n", "helm@1:12 true@3:18");
	expect("# kubectl in a comment\necho 'kubectl in quotes'\n", "echo@2:1");
	expect("cat <<EOF\nkubectl in a here-document\nEOF\nwc -l\n", "cat@1:1 wc@4:1");
	/* Redirection targets, however written, and an array's elements. */
	expect("echo hi &> out.log\necho hi >& b.log\n", "echo@1:1 echo@2:1");
	expect("{ a1; } > result.txt\n( cd x && make ) > build.log\n", "a1@1:3 cd@2:3 make@2:11");
	expect("exec > run.log 2>&1\n> empty.txt\narr=(a b c)\nterraform x 2> err.log < in.txt\n", "terraform@4:1");
	/* A command substitution assigned is no array: what follows is read as ever. */
	expect("s=$(jq -r '.a // \"(none)\"' f)\nkubectl x\n", "jq@1:5 kubectl@2:1");
}

static void test_standard_commands(void **state)
{
	(void)state;
	assert_true(rb_shell_command_standard("echo"));
	assert_true(rb_shell_command_standard("grep"));
	assert_true(rb_shell_command_standard("sed"));
	assert_true(rb_shell_command_standard(":"));
	assert_false(rb_shell_command_standard("kubectl"));
	assert_false(rb_shell_command_standard("psql"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipelines_lists_and_assignments),
		cmocka_unit_test(test_compound_commands),
		cmocka_unit_test(test_what_is_not_a_command_word),
		cmocka_unit_test(test_standard_commands),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
