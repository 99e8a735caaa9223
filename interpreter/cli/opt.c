/*
 * opt.c - parses a command's arguments by its option table, and prints its
 * --help from the same table.
 */
#include "cli/opt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "util.h"

static const cli_opt help_opt = {"help", NULL, CLI_OPT_FLAG, 0, NULL, "show this help"};

/* The option named name[0..len) in spec (--help included), or NULL. */
static const cli_opt *find_opt(const cli_spec *spec, const char *name, size_t len)
{
	const cli_opt *found = NULL;
	for (const cli_opt *o = spec->opts; o->name && !found; o++)
		if (strlen(o->name) == len && !strncmp(o->name, name, len))
			found = o;
	if (!found && len == 4 && !strncmp(name, "help", 4))
		found = &help_opt;
	return found;
}

static int add_operand(const cli_spec *spec, char *arg, cli_parsed *p)
{
	if (spec->operands != CLI_OPERAND_MANY && p->count) {
		rb_out_err("runbook %s: one FILE only (got '%s' and '%s')\n", spec->name, p->operands[0], arg);
		return -1;
	}
	p->operands = rb_xrealloc(p->operands, (p->count + 1) * sizeof *p->operands);
	p->operands[p->count++] = arg;
	return 0;
}

/* Puts o's value (NULL for a flag) where o says. */
static int apply(const cli_spec *spec, const cli_opt *o, char *value, void *args, cli_parsed *p)
{
	int rc = 0;
	if (o == &help_opt)
		p->help = 1;
	else if (o->kind == CLI_OPT_FLAG)
		*(int *)(void *)((char *)args + o->offset) = 1;
	else if (o->kind == CLI_OPT_STRING)
		*(const char **)(void *)((char *)args + o->offset) = value;
	else
		rc = o->call(args, spec->name, value);
	return rc;
}

int cli_parse(const cli_spec *spec, int argc, char **argv, void *args, cli_parsed *p)
{
	int rc = -1;
	memset(p, 0, sizeof *p);
	for (int i = 2; i < argc; i++) {
		char *arg = argv[i];
		static char output_opt[] = "--output", jobs_opt[] = "--jobs";
		if (!strcmp(arg, "-o") && find_opt(spec, "output", 6))
			arg = output_opt; /* -o FILE, as compilers and curl take it */
		else if (!strcmp(arg, "-j") && find_opt(spec, "jobs", 4))
			arg = jobs_opt; /* -j N, as make takes it */
		if (strncmp(arg, "--", 2) != 0 || !arg[2]) {
			if (add_operand(spec, arg, p) < 0)
				goto done;
			continue;
		}
		char *name = arg + 2;
		char *eq = strchr(name, '=');
		size_t len = eq ? (size_t)(eq - name) : strlen(name);
		const cli_opt *o = find_opt(spec, name, len);
		char *value = NULL;
		if (!o) {
			rb_out_err("runbook %s: unknown option '--%.*s' (try runbook %s --help)\n", spec->name, (int)len,
				   name, spec->name);
			goto done;
		}
		if (o->arg && eq) {
			value = eq + 1;
		} else if (o->arg && i + 1 < argc) {
			value = argv[++i];
		} else if (o->arg) {
			rb_out_err("runbook %s: --%s needs a value (%s)\n", spec->name, o->name, o->arg);
			goto done;
		} else if (eq) {
			rb_out_err("runbook %s: --%s takes no value\n", spec->name, o->name);
			goto done;
		}
		if (apply(spec, o, value, args, p) < 0)
			goto done;
	}
	rc = 0;
done:
	return rc;
}

int cli_need_operand(const cli_spec *spec, const cli_parsed *p)
{
	if (p->help || p->count || spec->operands == CLI_OPERAND_OPTIONAL)
		return 0;
	rb_out_err("runbook %s: missing FILE\nUsage: %s\n", spec->name, spec->usage);
	return -1;
}

void cli_parsed_free(cli_parsed *p)
{
	free(p->operands);
	memset(p, 0, sizeof *p);
}

static void help_line(const cli_opt *o)
{
	char left[64];
	snprintf(left, sizeof left, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
	rb_out("  %-20s %s\n", left, o->help);
}

void cli_help(const cli_spec *spec)
{
	rb_out("Usage: %s\n\n%s.\n\nOptions:\n", spec->usage, spec->summary);
	for (const cli_opt *o = spec->opts; o->name; o++)
		help_line(o);
	help_line(&help_opt);
}
