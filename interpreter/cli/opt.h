/*
 * opt.h - a command's options as data.
 *
 * Each command (cmd_*.c) describes itself once in a cli_spec: its usage
 * line, its summary and a table of its options (name, the value's name,
 * help, where the value goes). The one table drives both the parsing of
 * its arguments and its --help, so that the two cannot disagree; the
 * top-level help (main.c) prints each spec's usage and summary.
 *
 * Arguments are long options: --name, --name VALUE or --name=VALUE,
 * anywhere on the line; -o is --output and -j is --jobs where a command has them. Every other
 * argument ("-" and "--" included) is an operand (FILE, RUN). --help is every command's: it is not in the tables.
 */
#ifndef RB_CLI_OPT_H
#define RB_CLI_OPT_H

#include <stddef.h>

typedef enum {
	CLI_OPT_FLAG,    /* --name: sets the int at offset to 1 */
	CLI_OPT_STRING,  /* --name VALUE: sets the const char * at offset to VALUE (borrowed from argv) */
	CLI_OPT_CALL     /* --name VALUE: call(args, command, VALUE) */
} cli_opt_kind;

/**
 * Takes the value of a CLI_OPT_CALL option into args. value points into
 * argv (it may be overwritten, to hide a secret from ps). Returns 0, or -1
 * after saying why on stderr (output.h) as "runbook COMMAND: ...".
 */
typedef int (*cli_opt_fn)(void *args, const char *command, char *value);

/** One option. A table ends with an entry whose name is NULL. */
typedef struct {
	const char *name;    /* the long name, without "--" */
	const char *arg;     /* the value's name in help ("URL"); NULL: a flag, which takes no value */
	cli_opt_kind kind;
	size_t offset;       /* FLAG, STRING: where the value goes in the command's args struct */
	cli_opt_fn call;     /* CALL: what takes the value */
	const char *help;    /* one line, for --help */
} cli_opt;

/** How many operands a command takes. */
typedef enum {
	CLI_OPERAND_ONE,       /* exactly one (FILE; show: RUN) */
	CLI_OPERAND_OPTIONAL,  /* at most one (log [FILE]) */
	CLI_OPERAND_MANY       /* one or more (check FILE...) */
} cli_operands;

/** A command as its --help and the top-level help describe it. */
typedef struct {
	const char *name;      /* "run" */
	const char *usage;     /* "runbook run FILE [--dry-run] ..." */
	const char *summary;   /* one line, no final period */
	cli_operands operands;
	const cli_opt *opts;
} cli_spec;

/** What is left of the command line once its options went into args. */
typedef struct {
	char **operands;       /* in order, borrowed from argv; the array is owned (cli_parsed_free) */
	size_t count;
	int help;              /* --help was given */
} cli_parsed;

/**
 * Parses argv[2..argc) (argv[0] is the program, argv[1] the command) by
 * spec, in order: each option's value goes into args as its table entry
 * says, the operands into p. Stops at the first thing wrong (an unknown
 * option, a value missing or given to a flag, a second operand for a
 * command that takes one, an option's call refusing), which it says on
 * stderr (output.h). Returns 0, or -1: exit RB_EXIT_USAGE. p is to be
 * freed (cli_parsed_free) either way. A missing operand is not checked
 * here (cli_need_operand): a command checks its options together first.
 */
int cli_parse(const cli_spec *spec, int argc, char **argv, void *args, cli_parsed *p);

/** 0 when the command got its operand (or needs none, or --help was given); else says so: -1. */
int cli_need_operand(const cli_spec *spec, const cli_parsed *p);

void cli_parsed_free(cli_parsed *p);

/** `runbook COMMAND --help`: usage, summary and the options with their help, on stdout. */
void cli_help(const cli_spec *spec);

#endif
