/*
 * cmd_completion.c - `runbook completion bash|zsh|fish`: the shell's
 * completion script, generated from the table of commands (commands.c)
 * and each command's option table, the same tables --help prints: the
 * commands, each command's options, the values some options take (the
 * templates of `new`, --color's), and for --only, --from and --fail-at the
 * step ids of the runbook named on the line (`runbook list FILE`). Files
 * otherwise.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "output.h"
#include "scaffold.h"
#include "util.h"

typedef struct {
	const char *shell;
} completion_args;

static const cli_opt completion_opts[] = {
	{NULL, NULL, CLI_OPT_FLAG, 0, NULL, NULL}
};

const cli_spec cmd_completion_spec = {
	"completion", "runbook completion bash|zsh|fish",
	"print the shell's completion script (bash: source it, or put it in bash-completion's directory)",
	CLI_OPERAND_ONE, completion_opts
};

/* What an option's value is: STEPS (the runbook's step ids), a word list, or files. */
#define STEPS "@steps"
static const struct {
	const char *option;
	const char *values;
} value_hints[] = {
	{"only", STEPS},
	{"from", STEPS},
	{"fail-at", STEPS},
	{"color", "auto always never"},
	{"report", "json"},
	{"events", "-"},
};

/* The words an option's value may be: a hint above, the templates of --template, or NULL (files). */
static const char *values_of(const cli_opt *o, rb_buf *scratch)
{
	if (!strcmp(o->name, "template")) {
		rb_buf_clear(scratch);
		for (const rb_scaffold_template *t = rb_scaffold_templates; t->name; t++)
			rb_buf_printf(scratch, "%s%s", t == rb_scaffold_templates ? "" : " ", t->name);
		return rb_buf_cstr(scratch);
	}
	for (size_t i = 0; i < sizeof value_hints / sizeof *value_hints; i++)
		if (!strcmp(o->name, value_hints[i].option))
			return value_hints[i].values;
	return NULL;
}

/* The words a command takes first: audit's subcommands, completion's shells. */
static const char *first_words(const cli_spec *spec)
{
	return !strcmp(spec->name, "audit") ? "push verify" : !strcmp(spec->name, "completion") ? "bash zsh fish" : NULL;
}

static void bash(rb_buf *b)
{
	rb_buf scratch = RB_BUF_INIT;
	rb_buf_puts(b, "# bash completion for runbook (runbook completion bash)\n"
		       "_runbook_steps() {\n"
		       "  local w file=\n"
		       "  for w in \"${COMP_WORDS[@]:2}\"; do case $w in *.md|*.markdown) file=$w ;; esac; done\n"
		       "  [ -n \"$file\" ] && command \"${COMP_WORDS[0]}\" list \"$file\" 2> /dev/null\n"
		       "}\n"
		       "_runbook() {\n"
		       "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} cmd=${COMP_WORDS[1]}\n"
		       "  local opts= values=\n"
		       "  COMPREPLY=()\n"
		       "  if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
		       "    COMPREPLY=($(compgen -W \"");
	for (const cli_command *c = cli_commands; c->spec; c++)
		rb_buf_printf(b, "%s ", c->spec->name);
	rb_buf_puts(b, "--help --version\" -- \"$cur\"))\n"
		       "    return\n"
		       "  fi\n"
		       "  case $cmd in\n");
	for (const cli_command *c = cli_commands; c->spec; c++) {
		const char *first = first_words(c->spec);
		rb_buf_printf(b, "  %s)\n    opts=\"", c->spec->name);
		for (const cli_opt *o = c->spec->opts; o->name; o++)
			rb_buf_printf(b, "--%s ", o->name);
		rb_buf_puts(b, "--help\"\n");
		if (first)
			rb_buf_printf(b, "    [ \"$COMP_CWORD\" -eq 2 ] && { COMPREPLY=($(compgen -W \"%s\" -- \"$cur\")); return; }\n",
				      first);
		rb_buf_puts(b, "    case $prev in\n");
		for (const cli_opt *o = c->spec->opts; o->name; o++) {
			if (!o->arg)
				continue;
			const char *v = values_of(o, &scratch);
			if (v && !strcmp(v, STEPS))
				rb_buf_printf(b, "    --%s) COMPREPLY=($(compgen -W \"$(_runbook_steps)\" -- \"$cur\")); return ;;\n",
					      o->name);
			else if (v)
				rb_buf_printf(b, "    --%s) COMPREPLY=($(compgen -W \"%s\" -- \"$cur\")); return ;;\n", o->name, v);
			else
				rb_buf_printf(b, "    --%s) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n", o->name);
		}
		rb_buf_puts(b, "    esac\n    ;;\n");
	}
	rb_buf_puts(b, "  esac\n"
		       "  if [[ $cur == -* ]]; then\n"
		       "    COMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
		       "  else\n"
		       "    COMPREPLY=($(compgen -f -- \"$cur\"))\n"
		       "  fi\n"
		       "}\n"
		       "complete -o filenames -F _runbook runbook\n");
	rb_buf_free(&scratch);
}

static void zsh(rb_buf *b)
{
	/* zsh runs bash's completion functions through bashcompinit: one script, one behaviour. */
	rb_buf_puts(b, "#compdef runbook\n# zsh completion for runbook (runbook completion zsh)\n"
		       "autoload -U +X bashcompinit && bashcompinit\n");
	bash(b);
}

static void fish(rb_buf *b)
{
	rb_buf scratch = RB_BUF_INIT;
	rb_buf_puts(b, "# fish completion for runbook (runbook completion fish)\n"
		       "function __runbook_steps\n"
		       "    set -l file (commandline -opc | string match -r '.*\\.(md|markdown)$')[1]\n"
		       "    test -n \"$file\"; and runbook list $file 2>/dev/null\n"
		       "end\n"
		       "complete -c runbook -f\n");
	for (const cli_command *c = cli_commands; c->spec; c++) {
		rb_buf_printf(b, "complete -c runbook -n __fish_use_subcommand -a %s -d '", c->spec->name);
		for (const char *p = c->spec->summary; *p; p++)
			rb_buf_puts(b, *p == '\'' ? "\\'" : (char[]){*p, 0});
		rb_buf_puts(b, "'\n");
		const char *first = first_words(c->spec);
		if (first)
			rb_buf_printf(b, "complete -c runbook -n '__fish_seen_subcommand_from %s' -a '%s'\n", c->spec->name, first);
		for (const cli_opt *o = c->spec->opts; o->name; o++) {
			const char *v = o->arg ? values_of(o, &scratch) : NULL;
			rb_buf_printf(b, "complete -c runbook -n '__fish_seen_subcommand_from %s' -l %s", c->spec->name, o->name);
			if (v && !strcmp(v, STEPS))
				rb_buf_puts(b, " -x -a '(__runbook_steps)'");
			else if (v)
				rb_buf_printf(b, " -x -a '%s'", v);
			else if (o->arg)
				rb_buf_puts(b, " -r -F");
			rb_buf_puts(b, "\n");
		}
		rb_buf_printf(b, "complete -c runbook -n '__fish_seen_subcommand_from %s' -F\n", c->spec->name);
	}
	rb_buf_free(&scratch);
}

int cmd_completion(int argc, char **argv)
{
	completion_args a = {NULL};
	cli_parsed p = {NULL, 0, 0};
	rb_buf b = RB_BUF_INIT;
	int rc = RB_EXIT_USAGE;
	if (cli_parse(&cmd_completion_spec, argc, argv, &a, &p) < 0 || cli_need_operand(&cmd_completion_spec, &p) < 0)
		goto done;
	if (p.help) {
		cli_help(&cmd_completion_spec);
		rc = RB_EXIT_OK;
		goto done;
	}
	const char *shell = p.operands[0];
	if (!strcmp(shell, "bash"))
		bash(&b);
	else if (!strcmp(shell, "zsh"))
		zsh(&b);
	else if (!strcmp(shell, "fish"))
		fish(&b);
	else {
		rb_out_err("runbook completion: bash, zsh or fish, not '%s'\n", shell);
		goto done;
	}
	rb_out_write(1, b.data, b.len);
	rc = RB_EXIT_OK;
done:
	rb_buf_free(&b);
	cli_parsed_free(&p);
	return rc;
}
