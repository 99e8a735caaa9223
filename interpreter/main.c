/*
 * main.c - the runbook program: the top-level help, --version,
 * --list-keys, and a table that hands argv to the command it names.
 *
 * Each command is a file of cli/ (cli.h) that parses its own options and
 * prints its own --help; their specs give the top-level help its lines.
 */
#include <stddef.h>
#include <string.h>

#include "attrs.h"
#include "cli/cli.h"
#include "frontmatter.h"
#include "output.h"
#include "versions.h"
#include "util.h"

#ifndef RB_VERSION
#define RB_VERSION "0.0.0"
#endif

/* The top-level help, on stream 1 (--help) or 2 (no command). */
static void usage_all(int stream)
{
	rb_buf b = RB_BUF_INIT;
	rb_buf_printf(&b, "runbook %s - execute Markdown runbooks\n\nUsage:\n", RB_VERSION);
	for (const cli_command *c = cli_commands; c->spec; c++)
		rb_buf_printf(&b, "  %-44s %s\n", c->spec->usage, c->spec->summary);
	rb_buf_puts(&b, "  runbook --help | --version\n\n"
			"`runbook COMMAND --help` lists a command's options.\n\nExit codes:\n");
	for (const rb_exit_doc *e = rb_exit_codes; e->code; e++)
		rb_buf_printf(&b, "  %-6s %s\n", e->code, e->meaning);
	rb_out_write(stream, b.data, b.len);
	rb_buf_free(&b);
}

/* Every attribute and front matter key the parser accepts (for the docs test). */
static void list_keys(void)
{
	for (const rb_attr_spec *sp = rb_attr_specs; sp->name; sp++)
		rb_out("%s\n", sp->name);
	for (const char *const *k = rb_runme_attrs; *k; k++)
		rb_out("%s\n", *k);
	for (const char *const *k = rb_frontmatter_keys; *k; k++)
		rb_out("%s\n", *k);
}

int main(int argc, char **argv)
{
	int rc = RB_EXIT_USAGE;
	const cli_command *c = cli_commands;
	rb_oom_report = rb_out_oom;
	if (argc < 2) {
		usage_all(2);
	} else if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage_all(1);
		rc = RB_EXIT_OK;
	} else if (!strcmp(argv[1], "--list-keys")) {
		list_keys();
		rc = RB_EXIT_OK;
	} else if (!strcmp(argv[1], "--version")) {
		rb_buf b = RB_BUF_INIT;
		rb_versions_text(&b); /* its own, and the libraries' it runs with */
		rb_out("%s", rb_buf_cstr(&b));
		rb_buf_free(&b);
		rc = RB_EXIT_OK;
	} else {
		while (c->spec && strcmp(argv[1], c->spec->name))
			c++;
		if (c->spec)
			rc = c->fn(argc, argv);
		else
			rb_out_err("runbook: unknown command '%s' (try runbook --help)\n", argv[1]);
	}
	return rc;
}
