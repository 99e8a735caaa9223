/*
 * cli.h - the commands of the runbook program, one a file (cmd_NAME.c).
 *
 * main.c dispatches on argv[1] through its table of these. Each command
 * parses its own arguments by its own option table (opt.h), which also
 * prints its --help; its spec gives the top-level help its usage line and
 * summary. A command returns its exit code (RB_EXIT_*) and says everything
 * through output.h.
 *
 * To add a command: cmd_NAME.c with its spec and function, declared here,
 * and a line in commands.c's table (which also drives --help and the shell
 * completions). To add an option: a line in the command's
 * option table, and the field it sets in the command's args struct.
 */
#ifndef RB_CLI_H
#define RB_CLI_H

#include "cli/opt.h"

/*
 * Every command takes the whole command line: argv[0] is the program,
 * argv[1] the command's name, the options and operands follow. run records
 * it as it is (secrets scrubbed) in the audit record.
 */

/** A command: its spec (usage, options) and what runs it. */
typedef struct {
	const cli_spec *spec;
	int (*fn)(int argc, char **argv);
} cli_command;

/** Every command, in the order of the top-level help; ends with {NULL, NULL} (commands.c). */
extern const cli_command cli_commands[];

/** run FILE: run a runbook (run --dry-run is plan). */
extern const cli_spec cmd_run_spec;
int cmd_run(int argc, char **argv);

/** plan FILE: what a run would do, touching nothing. */
extern const cli_spec cmd_plan_spec;
int cmd_plan(int argc, char **argv);

/** check FILE...: the linter's findings, compiler-style or JSON. */
extern const cli_spec cmd_check_spec;
int cmd_check(int argc, char **argv);

/** new FILE: writes a scaffold runbook. */
extern const cli_spec cmd_new_spec;
int cmd_new(int argc, char **argv);

/** list FILE: the step ids, one a line. */
extern const cli_spec cmd_list_spec;
int cmd_list(int argc, char **argv);

/** log [FILE]: the runs on the audit ref, newest first. */
extern const cli_spec cmd_log_spec;
int cmd_log(int argc, char **argv);

/** show RUN: the record of one run. */
extern const cli_spec cmd_show_spec;
int cmd_show(int argc, char **argv);

/** audit push|verify [FILE]: the audit trail shared and checked (auditsync.h). */
extern const cli_spec cmd_audit_spec;
int cmd_audit(int argc, char **argv);

/** doctor [FILE]: this machine's set-up checked, one line each with a fix. */
extern const cli_spec cmd_doctor_spec;
int cmd_doctor(int argc, char **argv);

/** completion bash|zsh|fish: the shell's completion script, from the commands' option tables. */
extern const cli_spec cmd_completion_spec;
int cmd_completion(int argc, char **argv);

/* cmd_revert.c */
extern const cli_spec cmd_revert_spec;
int cmd_revert(int argc, char **argv);
/** revert with spec's options; dry_run: only show it (plan --revert). Returns the exit code. */
int cli_revert_command(const cli_spec *spec, int argc, char **argv, int dry_run);

#endif
