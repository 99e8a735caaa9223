/*
 * commands.c - the table of commands: main.c dispatches on it, the
 * top-level help and the shell completions (cmd_completion.c) list it.
 */
#include "cli/cli.h"

/* In the order of the top-level help. */
const cli_command cli_commands[] = {
	{&cmd_run_spec, cmd_run},
	{&cmd_plan_spec, cmd_plan},
	{&cmd_check_spec, cmd_check},
	{&cmd_new_spec, cmd_new},
	{&cmd_list_spec, cmd_list},
	{&cmd_log_spec, cmd_log},
	{&cmd_show_spec, cmd_show},
	{&cmd_revert_spec, cmd_revert},
	{&cmd_audit_spec, cmd_audit},
	{&cmd_doctor_spec, cmd_doctor},
	{&cmd_completion_spec, cmd_completion},
	{NULL, NULL}
};
