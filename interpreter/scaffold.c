/*
 * scaffold.c - the templates of `runbook new`.
 */
#define _POSIX_C_SOURCE 200809L
#include "scaffold.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

const char *const rb_scaffold_templates[] = {"basic", "sql", "promotion", NULL};

/* Shared by every template: front matter, a gate, an approval, a SQL step, a rollback. */
static const char basic[] =
	"---\n"
	"# Front matter: optional YAML. Every key is described in docs/format.md.\n"
	"title: My procedure\n"
	"env:\n"
	"  # Variables with defaults; override with --set NAME=VALUE.\n"
	"  TARGET_TABLE: notes\n"
	"# Values of these variables are shown and recorded as ***.\n"
	"secrets: [APP_TOKEN]\n"
	"# Asked on a terminal before the first step (else --set NAME=VALUE or the\n"
	"# environment), checked, recorded; a secret is asked without echo.\n"
	"inputs:\n"
	"  TICKET:\n"
	"    description: the change ticket this run belongs to\n"
	"    pattern: \"[A-Z]+%-%d+\"    # a Lua pattern, matched against the whole value\n"
	"    required: false\n"
	"# The section that runs when anything fails (never in the normal flow).\n"
	"on_failure: Roll back\n"
	"timeout: 5m\n"
	"---\n"
	"# My procedure\n"
	"\n"
	"Say what this runbook does, when to run it and who may. Prose is for\n"
	"people; fenced `bash`, `sql` and `lua` blocks are the steps.\n"
	"\n"
	"## Before you start\n"
	"\n"
	"A task list is an approval: asked on a terminal, refused without one unless\n"
	"`--yes`.\n"
	"\n"
	"- [ ] The change is announced\n"
	"\n"
	"A gate is Lua that returns `ok, message`: false stops the run (exit 3).\n"
	"\n"
	"```lua gate {name=tools}\n"
	"local code = sh(\"command -v psql\")\n"
	"return code == 0, \"psql is needed on this machine\"\n"
	"```\n"
	"\n"
	"## Change\n"
	"\n"
	"Shell steps run with `bash -e -o pipefail`; variables arrive as environment\n"
	"variables. `capture=` keeps the trimmed output in a variable.\n"
	"\n"
	"```bash {name=who capture=OPERATOR}\n"
	"echo \"${USER:-operator}\"\n"
	"```\n"
	"\n"
	"SQL steps run over one connection (`--db URL`, `--ephemeral-db`, or the\n"
	"front matter's `database:`), the whole block in one transaction. psql's\n"
	":'VAR' and :\"VAR\" quote variables safely.\n"
	"\n"
	"```sql {name=apply}\n"
	"CREATE TABLE IF NOT EXISTS :\"TARGET_TABLE\" (id serial PRIMARY KEY, note text, by_whom text);\n"
	"INSERT INTO :\"TARGET_TABLE\" (note, by_whom) VALUES ('applied', :'OPERATOR');\n"
	"```\n"
	"\n"
	"`expect=` is a Lua expression that must hold after the step.\n"
	"\n"
	"```sql {name=verify expect=\"steps.verify.rows[1].notes >= 1\"}\n"
	"SELECT count(*) AS notes FROM :\"TARGET_TABLE\";\n"
	"```\n"
	"\n"
	"## Roll back\n"
	"\n"
	"Runs only after a failure, with FAILED_STEP and FAILURE_REASON set.\n"
	"\n"
	"```bash {name=rollback}\n"
	"echo \"rolling back after $FAILED_STEP: $FAILURE_REASON\"\n"
	"```\n";

static const char sql_extra[] =
	"\n"
	"<!-- sql template: statements that cannot run in a transaction need transaction=none. -->\n";

static const char promotion_extra[] =
	"\n"
	"## Promote\n"
	"\n"
	"Each change carries its undo: the block right after it with `undo` after\n"
	"the language. If a later step fails, the undos of the steps that completed\n"
	"run newest first (then the Roll back section); `runbook revert RUN` runs\n"
	"them for a run that succeeded. `runbook plan FILE --fail-at ID` shows the\n"
	"order.\n"
	"\n"
	"<!-- promotion template: confirm=\"PROMOTE\" asks for the phrase before the change;\n"
	"     run with --confirm PROMOTE when there is no terminal. -->\n"
	"\n"
	"```sql {name=promote confirm=\"PROMOTE\"}\n"
	"ALTER TABLE :\"TARGET_TABLE\" ADD COLUMN IF NOT EXISTS promoted_at timestamptz;\n"
	"UPDATE :\"TARGET_TABLE\" SET promoted_at = now();\n"
	"```\n"
	"\n"
	"```sql undo\n"
	"ALTER TABLE :\"TARGET_TABLE\" DROP COLUMN IF EXISTS promoted_at;\n"
	"```\n";

int rb_scaffold_write(const char *path, const char *name, rb_error *err)
{
	int rc = RB_EXIT_ENV;
	const char *extra = NULL;
	if (!strcmp(name, "basic"))
		extra = "";
	else if (!strcmp(name, "sql"))
		extra = sql_extra;
	else if (!strcmp(name, "promotion"))
		extra = promotion_extra;
	if (!extra) {
		rb_error_set(err, RB_EXIT_USAGE, NULL, 0, 0, "no template '%s' (basic, sql, promotion)", name);
		return RB_EXIT_USAGE;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		rb_error_set(err, errno == EEXIST ? RB_EXIT_USAGE : RB_EXIT_ENV, path, 0, 0, "%s%s",
			     strerror(errno), errno == EEXIST ? ": runbook new never overwrites a file" : "");
		return errno == EEXIST ? RB_EXIT_USAGE : RB_EXIT_ENV;
	}
	FILE *f = fdopen(fd, "w");
	if (f && fputs(basic, f) >= 0 && fputs(extra, f) >= 0 && fclose(f) == 0) {
		rc = RB_EXIT_OK;
	} else {
		rb_error_set(err, RB_EXIT_ENV, path, 0, 0, "cannot write: %s", strerror(errno));
		if (!f)
			close(fd);
	}
	return rc;
}
