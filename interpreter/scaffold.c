/*
 * scaffold.c - the templates of `runbook new`: basic (the default: every
 * part of the format once), sql (SQL steps: psql variables, captures,
 * expect= and expect_error=, transactions, lock timeouts, undo) and
 * promotion (a guarded production change: approvals, a maintenance window,
 * a backup gate, the change with its undo, a failure handler). Each is the
 * whole document, written as is; the golden copy of basic is
 * tests/cli/new-templates/basic.md.
 */
#define _POSIX_C_SOURCE 200809L
#include "scaffold.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Every part of the format once: front matter, an approval, a gate, a shell step with a capture, SQL, a rollback. */
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

/*
 * SQL steps on a table it makes itself (so that --ephemeral-db runs it as is):
 * an input spliced raw, a capture with expect=, a transactional change with
 * its undo, CREATE INDEX CONCURRENTLY with transaction=none, an expect_error=.
 */
static const char sql_template[] =
	"---\n"
	"# Front matter: optional YAML. Every key is described in docs/format.md.\n"
	"title: A SQL change\n"
	"# SQL steps connect to --db URL, else to the throwaway server of\n"
	"# --ephemeral-db, else to `database:` here (for example\n"
	"# `database: ${DATABASE_URL}`), else to DATABASE_URL, else to libpq's PG*\n"
	"# variables.\n"
	"env:\n"
	"  # Variables with defaults; override with --set NAME=VALUE. SQL reads them\n"
	"  # as psql does: :'NAME' is a quoted literal, :\"NAME\" a quoted identifier,\n"
	"  # :NAME the raw text.\n"
	"  FLAGGED_STATUS: review\n"
	"# Inputs: from --set NAME=VALUE or the environment, else asked on a terminal\n"
	"# before the first step (Enter takes the default), else the default;\n"
	"# checked against the pattern, and recorded.\n"
	"inputs:\n"
	"  MIN_BALANCE:\n"
	"    description: accounts below this balance are flagged\n"
	"    pattern: \"%d+\"    # digits only, so :MIN_BALANCE can be spliced raw\n"
	"    default: \"10\"\n"
	"# Every SQL statement waits at most this long for a lock, then fails rather\n"
	"# than queue the application behind it (default 5s; a step may say\n"
	"# lock_timeout= too).\n"
	"lock_timeout: 5s\n"
	"timeout: 5m\n"
	"on_failure: Roll back\n"
	"---\n"
	"# A SQL change\n"
	"\n"
	"Flags the accounts whose balance is below `MIN_BALANCE`: a new `status`\n"
	"column, filled in, then indexed without blocking writes. Rehearse it on a\n"
	"throwaway server, which `--ephemeral-db` starts and deletes afterwards:\n"
	"`runbook run --ephemeral-db FILE` (`--set MIN_BALANCE=100` changes the\n"
	"input). `runbook plan FILE` shows what would run and changes nothing.\n"
	"\n"
	"## Set up\n"
	"\n"
	"A throwaway server starts empty: this step makes the table the rest works\n"
	"on. Against your own database the table is there already: delete this\n"
	"section.\n"
	"\n"
	"```sql {name=setup}\n"
	"CREATE TABLE IF NOT EXISTS accounts (id int PRIMARY KEY, balance numeric NOT NULL);\n"
	"INSERT INTO accounts (id, balance) VALUES (1, 5), (2, 50), (3, 500)\n"
	"ON CONFLICT (id) DO NOTHING;\n"
	"```\n"
	"\n"
	"## Look before you change\n"
	"\n"
	"`capture=` keeps the first value of the step's last result in a variable,\n"
	"for later steps, Lua and the audit record. `expect=` is a Lua expression\n"
	"that must hold after the step, else the step fails and the run stops;\n"
	"`steps.ID.rows` holds a SQL step's rows, `vars.NAME` a variable.\n"
	"\n"
	"```sql {name=before capture=ACCOUNTS expect=\"tonumber(vars.ACCOUNTS) > 0\"}\n"
	"SELECT count(*) AS accounts FROM accounts;\n"
	"```\n"
	"\n"
	"## Change\n"
	"\n"
	"A SQL step runs in one transaction (`transaction=single`, the default): if\n"
	"any statement fails, the whole block is rolled back. A statement that waits\n"
	"longer than `lock_timeout` for its lock fails; `retry=` runs the step again,\n"
	"`retry_delay=` apart.\n"
	"\n"
	"The `sql undo` block right after a step undoes it: if a later step fails,\n"
	"the undos of the steps that completed run, newest first, before the Roll\n"
	"back section (`runbook plan FILE --fail-at verify` shows the order).\n"
	"\n"
	"```sql {name=add-status retry=2 retry_delay=10s}\n"
	"ALTER TABLE accounts ADD COLUMN IF NOT EXISTS status text NOT NULL DEFAULT 'ok'\n"
	"  CHECK (status IN ('ok', 'review'));\n"
	"UPDATE accounts SET status = :'FLAGGED_STATUS' WHERE balance < :MIN_BALANCE;\n"
	"```\n"
	"\n"
	"```sql undo\n"
	"ALTER TABLE accounts DROP COLUMN IF EXISTS status;\n"
	"```\n"
	"\n"
	"`CREATE INDEX CONCURRENTLY` does not block writes, but cannot run inside a\n"
	"transaction: `transaction=none` runs each statement on its own\n"
	"(autocommit). It waits for older transactions to end, so this step allows\n"
	"itself a longer lock timeout. `IF NOT EXISTS` makes a second attempt (a\n"
	"retry, `runbook run --resume`) safe.\n"
	"\n"
	"```sql {name=index-status transaction=none lock_timeout=1m}\n"
	"CREATE INDEX CONCURRENTLY IF NOT EXISTS accounts_status ON accounts (status);\n"
	"```\n"
	"\n"
	"```sql undo {transaction=none}\n"
	"DROP INDEX CONCURRENTLY IF EXISTS accounts_status;\n"
	"```\n"
	"\n"
	"## Verify\n"
	"\n"
	"`expect_error=` makes a failure the expected outcome: the step passes only\n"
	"when it fails with that SQLSTATE (`23514`, a CHECK violation; a class such\n"
	"as `23`, or text of the message, work too). This one proves the new\n"
	"constraint refuses a status it does not know. The block's transaction is\n"
	"rolled back either way, so it changes nothing.\n"
	"\n"
	"```sql {name=refuses-bad-status expect_error=23514}\n"
	"UPDATE accounts SET status = 'unknown' WHERE id = 1;\n"
	"```\n"
	"\n"
	"```sql {name=verify expect=\"steps.verify.rows[1].flagged >= 1\"}\n"
	"SELECT count(*) AS flagged FROM accounts WHERE status = :'FLAGGED_STATUS';\n"
	"```\n"
	"\n"
	"## Roll back\n"
	"\n"
	"Runs only after a failure, once the undos have run, with `FAILED_STEP`,\n"
	"`FAILURE_REASON` and `UNDONE_STEPS` (the steps undone, newest first) set.\n"
	"\n"
	"```bash {name=rollback}\n"
	"echo \"stopped at $FAILED_STEP: $FAILURE_REASON\"\n"
	"echo \"undone, newest first: ${UNDONE_STEPS:-nothing}\"\n"
	"```\n";

/*
 * The shape of runbooks/ehg-production-promotion.md, small: approvals, a
 * window gate (overridable with a reason), pg_dump and a freshness gate, a
 * confirmed change with its undo, a check, a last approval, a handler that
 * reports, and a manual restore.
 */
static const char promotion_template[] =
	"---\n"
	"# Front matter: optional YAML. Every key is described in docs/format.md.\n"
	"title: Promote a release to production\n"
	"# The SQL steps and the backup's pg_dump both use DATABASE_URL: set it in\n"
	"# the environment rather than giving --db, so that both reach the same\n"
	"# server. A rehearsal with --ephemeral-db sets it to the throwaway server.\n"
	"database: ${DATABASE_URL}\n"
	"env:\n"
	"  # Variables with defaults; override with --set NAME=VALUE.\n"
	"  RELEASE: \"1.4.0\"\n"
	"  FEATURE: new-checkout\n"
	"  # The maintenance window, HH:MM in UTC; it may wrap midnight (22:00 to 02:00).\n"
	"  WINDOW_START: \"02:00\"\n"
	"  WINDOW_END: \"04:00\"\n"
	"  # Outside the window the run stops, unless this says why; the reason is\n"
	"  # kept in the audit record: --set WINDOW_OVERRIDE=\"incident 4711\".\n"
	"  WINDOW_OVERRIDE: \"\"\n"
	"  # Where the backup goes (relative to this file), and how old it may be\n"
	"  # when the change starts.\n"
	"  BACKUP_DIR: backups\n"
	"  BACKUP_MAX_AGE: 15m\n"
	"# Inputs: from --set NAME=VALUE or the environment, else asked on a terminal\n"
	"# before the first step, else the default; checked against the pattern, and\n"
	"# recorded. Without a default or a terminal to ask, the run stops before it\n"
	"# starts (exit 2).\n"
	"inputs:\n"
	"  TICKET:\n"
	"    description: the change ticket that approves this promotion\n"
	"    pattern: \"[A-Z]+%-%d+\"   # a Lua pattern, matched against the whole value\n"
	"  ROLLOUT_PERCENT:\n"
	"    description: the share of users who get the feature, 0 to 100\n"
	"    pattern: \"%d+\"           # digits only, so :ROLLOUT_PERCENT can be spliced raw\n"
	"    default: \"10\"\n"
	"# Every SQL statement waits at most this long for a lock, then fails rather\n"
	"# than queue the application behind it.\n"
	"lock_timeout: 5s\n"
	"timeout: 10m\n"
	"# check refuses a main-flow step with a destructive command (DROP TABLE,\n"
	"# rm -rf, ...) that has no undo.\n"
	"undo: required\n"
	"# The section that runs when anything fails (never in the normal flow), and\n"
	"# sections that are reference only: planned, never run.\n"
	"on_failure: Roll back\n"
	"manual: [Restore from the backup]\n"
	"---\n"
	"# Promote a release to production\n"
	"\n"
	"Promotes release `RELEASE`: turns its feature flag `FEATURE` up to\n"
	"`ROLLOUT_PERCENT` percent of users. In order: people approve; gates check\n"
	"the maintenance window and a fresh backup (a gate that says no stops the\n"
	"run before anything changed); the change runs, its undo written beside it;\n"
	"a check and a last approval confirm it. When anything fails after the\n"
	"change ran, its undo puts it back, then the Roll back section runs. Exit\n"
	"codes: 0 done, 1 a step failed, 3 a gate or an approval said no, 6 an undo\n"
	"failed too (see the restore at the end).\n"
	"\n"
	"```text\n"
	"runbook plan FILE                                   # what would run; changes nothing\n"
	"runbook run --ephemeral-db --yes --confirm PROMOTE \\\n"
	"  --set TICKET=CHG-1 --set WINDOW_OVERRIDE=rehearsal FILE   # a rehearsal\n"
	"DATABASE_URL=postgresql://... runbook run --set TICKET=CHG-1234 FILE\n"
	"```\n"
	"\n"
	"## Before you start\n"
	"\n"
	"A task list is one approval step: on a terminal each unchecked item is\n"
	"asked; without one the run stops (exit 3) unless `--yes` approves them. Who\n"
	"approved what, and how, goes into the audit record.\n"
	"\n"
	"- [ ] The release passed staging\n"
	"- [ ] The change ticket is approved\n"
	"- [ ] Stakeholders know about the maintenance window\n"
	"- [ ] Someone who can roll back is on call\n"
	"\n"
	"## Maintenance window\n"
	"\n"
	"A gate is Lua that returns `ok, message`; false stops the run. `window`\n"
	"is one of runbook's Lua helpers (a `lua/` folder beside this file can hold\n"
	"your own); `env.NAME` reads a variable.\n"
	"\n"
	"```lua gate {name=window}\n"
	"local window = require \"window\"\n"
	"local ok, why = window.inside(env.WINDOW_START, env.WINDOW_END)\n"
	"if ok then return true, why end\n"
	"local reason = (env.WINDOW_OVERRIDE or \"\"):match(\"^%s*(.-)%s*$\")\n"
	"if reason ~= \"\" then\n"
	"  log(\"outside the window, overridden: \" .. reason)\n"
	"  return true, why .. \"; overridden: \" .. reason\n"
	"end\n"
	"return false, why .. \"; to go on anyway, say why with --set WINDOW_OVERRIDE=\\\"reason\\\"\"\n"
	"```\n"
	"\n"
	"## Backup\n"
	"\n"
	"A backup, taken now, then checked: the gate refuses one that is missing,\n"
	"empty or older than `BACKUP_MAX_AGE`. `capture=` keeps the step's output,\n"
	"the file's name, in `BACKUP_FILE` for the gate, the Roll back section and\n"
	"the restore.\n"
	"\n"
	"```bash {name=backup capture=BACKUP_FILE}\n"
	"mkdir -p \"$BACKUP_DIR\"\n"
	"file=\"$BACKUP_DIR/before-$RELEASE-$(date -u +%Y%m%dT%H%M%SZ).dump\"\n"
	"pg_dump --dbname=\"$DATABASE_URL\" --format=custom --lock-wait-timeout=5s --file=\"$file\" >&2\n"
	"echo \"$file\"\n"
	"```\n"
	"\n"
	"```lua gate {name=backup-fresh}\n"
	"local backup = require \"backup\"\n"
	"return backup.fresh(vars.BACKUP_FILE, env.BACKUP_MAX_AGE)\n"
	"```\n"
	"\n"
	"## Promote\n"
	"\n"
	"This template's change turns up a feature flag in a table `feature_flags`,\n"
	"created here when missing so that the template runs as is on a throwaway\n"
	"server. Replace this section with your change, and give each change an\n"
	"undo.\n"
	"\n"
	"```sql {name=flag-before capture=PREVIOUS_PERCENT}\n"
	"CREATE TABLE IF NOT EXISTS feature_flags (\n"
	"  name text PRIMARY KEY,\n"
	"  percent int NOT NULL DEFAULT 0 CHECK (percent BETWEEN 0 AND 100)\n"
	");\n"
	"INSERT INTO feature_flags (name) VALUES (:'FEATURE') ON CONFLICT (name) DO NOTHING;\n"
	"SELECT percent FROM feature_flags WHERE name = :'FEATURE';\n"
	"```\n"
	"\n"
	"`confirm=\"PROMOTE\"` asks for the phrase before the change (without a\n"
	"terminal: `--confirm PROMOTE`). The `sql undo` block right after it runs if\n"
	"a later step fails or a later approval is refused, newest first with the\n"
	"other undos, and `runbook revert RUN` runs it after a run that succeeded.\n"
	"It sees `PREVIOUS_PERCENT` as captured before the change.\n"
	"\n"
	"```sql {name=promote confirm=\"PROMOTE\"}\n"
	"UPDATE feature_flags SET percent = :ROLLOUT_PERCENT WHERE name = :'FEATURE';\n"
	"```\n"
	"\n"
	"```sql undo\n"
	"UPDATE feature_flags SET percent = :PREVIOUS_PERCENT WHERE name = :'FEATURE';\n"
	"```\n"
	"\n"
	"`expect=` must hold after the step, else the step fails and the change is\n"
	"undone.\n"
	"\n"
	"```sql {name=verify expect=\"steps.verify.rows[1].percent == tonumber(vars.ROLLOUT_PERCENT)\"}\n"
	"SELECT name, percent FROM feature_flags WHERE name = :'FEATURE';\n"
	"```\n"
	"\n"
	"## Watch\n"
	"\n"
	"Refusing an item here undoes the change.\n"
	"\n"
	"- [ ] Error rates and latency are normal 15 minutes after the change\n"
	"\n"
	"## Roll back\n"
	"\n"
	"Runs only after a failure (a failed step, a gate or an approval that said\n"
	"no, Ctrl-C), once the undos of the steps that completed ran, with\n"
	"`FAILED_STEP`, `FAILURE_REASON`, `FAILURE_EXIT_CODE` and `UNDONE_STEPS` set.\n"
	"Each of its steps runs even when one fails, and the run keeps the exit code\n"
	"of the failure.\n"
	"\n"
	"```bash {name=rollback-report}\n"
	"echo \"promotion of $RELEASE ($TICKET) stopped at $FAILED_STEP (exit $FAILURE_EXIT_CODE): $FAILURE_REASON\"\n"
	"echo \"undone, newest first: ${UNDONE_STEPS:-nothing}\"\n"
	"echo \"backup taken before the change: ${BACKUP_FILE:-none}\"\n"
	"```\n"
	"\n"
	"`when=` runs a step only when its Lua expression holds: this one only when\n"
	"the flag was read before the change.\n"
	"\n"
	"```sql {name=flag-after-rollback when=\"vars.PREVIOUS_PERCENT ~= nil\"}\n"
	"SELECT name, percent, percent = :PREVIOUS_PERCENT AS rolled_back\n"
	"FROM feature_flags WHERE name = :'FEATURE';\n"
	"```\n"
	"\n"
	"## Restore from the backup\n"
	"\n"
	"Reference only (`manual:` above): planned, never run. For when an undo\n"
	"failed (exit 6) and the database must go back to the backup as a whole;\n"
	"read it before you run it by hand.\n"
	"\n"
	"```bash {name=restore}\n"
	"pg_restore --clean --if-exists --single-transaction --dbname=\"$DATABASE_URL\" \"$BACKUP_FILE\"\n"
	"```\n";

const rb_scaffold_template rb_scaffold_templates[] = {
	{"basic", "every part once: front matter, an approval, a gate, shell and SQL steps, a rollback section", basic,
	 "--ephemeral-db --yes"},
	{"sql", "SQL steps: psql variables, capture=, expect=, expect_error=, transactions, lock timeouts, undo",
	 sql_template, "--ephemeral-db"},
	{"promotion", "a guarded production change: approvals, a maintenance window, a backup gate, undo, rollback",
	 promotion_template, "--ephemeral-db --yes --confirm PROMOTE --set TICKET=CHG-1 --set WINDOW_OVERRIDE=rehearsal"},
	{NULL, NULL, NULL, NULL}
};

const rb_scaffold_template *rb_scaffold_find(const char *name)
{
	for (const rb_scaffold_template *t = rb_scaffold_templates; t->name; t++)
		if (!strcmp(t->name, name))
			return t;
	return NULL;
}

void rb_scaffold_names(rb_buf *b)
{
	for (const rb_scaffold_template *t = rb_scaffold_templates; t->name; t++)
		rb_buf_printf(b, "%s%s", t == rb_scaffold_templates ? "" : ", ", t->name);
}

int rb_scaffold_write(const char *path, const char *name, rb_error *err)
{
	const rb_scaffold_template *t = rb_scaffold_find(name);
	if (!t) {
		rb_buf names = RB_BUF_INIT;
		rb_scaffold_names(&names);
		rb_error_set(err, RB_EXIT_USAGE, NULL, 0, 0, "no template '%s': the templates are %s", name,
			     rb_buf_cstr(&names));
		rb_buf_free(&names);
		return RB_EXIT_USAGE;
	}
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		int e = errno;
		int code = e == EEXIST ? RB_EXIT_USAGE : RB_EXIT_ENV;
		rb_error_set(err, code, path, 0, 0, "%s%s", strerror(e),
			     e == EEXIST ? ": runbook new never overwrites a file" : "");
		return code;
	}
	FILE *f = fdopen(fd, "w");
	if (!f) {
		int e = errno;
		close(fd);
		unlink(path);
		rb_error_set(err, RB_EXIT_ENV, path, 0, 0, "cannot write: %s", strerror(e));
		return RB_EXIT_ENV;
	}
	int ok = fputs(t->text, f) >= 0;
	int e = errno;
	if (fclose(f) != 0 && ok) {
		ok = 0;
		e = errno;
	}
	if (!ok) {
		unlink(path);
		rb_error_set(err, RB_EXIT_ENV, path, 0, 0, "cannot write: %s", strerror(e));
		return RB_EXIT_ENV;
	}
	return RB_EXIT_OK;
}
