/*
 * cmd_audit.c - `runbook audit push|verify [FILE]`: the audit trail beyond
 * this machine (auditsync.h). push sends the records that wait to the audit
 * remote (exit 5 when it cannot); verify walks the audit ref and reports
 * each record's signature and any commit that is unsigned, signed by a key
 * the allowed signers do not list, or changes another record's files (exit
 * 1 when it finds one).
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "auditsync.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "gitstore.h"
#include "output.h"
#include "util.h"

typedef struct {
	const char *audit_repo;
	const char *audit_remote;
	const char *allowed_signers;
} audit_args;

static const cli_opt push_opts[] = {
	{"audit-repo", "DIR", CLI_OPT_STRING, offsetof(audit_args, audit_repo), NULL, "the git repository of audit records"},
	{"audit-remote", "REMOTE", CLI_OPT_STRING, offsetof(audit_args, audit_remote), NULL,
	 "where to push: a remote's name, a path or a URL (else audit.remote, RUNBOOK_AUDIT_REMOTE)"},
	{NULL, NULL, CLI_OPT_FLAG, 0, NULL, NULL}
};

static const cli_opt verify_opts[] = {
	{"audit-repo", "DIR", CLI_OPT_STRING, offsetof(audit_args, audit_repo), NULL, "the git repository of audit records"},
	{"allowed-signers", "FILE", CLI_OPT_STRING, offsetof(audit_args, allowed_signers), NULL,
	 "the keys allowed to sign, as git's gpg.ssh.allowedSignersFile (else that setting of the repository)"},
	{NULL, NULL, CLI_OPT_FLAG, 0, NULL, NULL}
};

static const cli_spec push_spec = {
	"audit push", "runbook audit push [FILE] [--audit-remote REMOTE] [--audit-repo DIR]",
	"push the audit records that wait here to the audit remote", CLI_OPERAND_OPTIONAL, push_opts
};

static const cli_spec verify_spec = {
	"audit verify", "runbook audit verify [FILE] [--allowed-signers FILE] [--audit-repo DIR]",
	"check every record's signature, and that no commit changed another record", CLI_OPERAND_OPTIONAL, verify_opts
};

/* Every option of the subcommands: for the top-level help and the shell completions. */
static const cli_opt all_opts[] = {
	{"audit-repo", "DIR", CLI_OPT_STRING, offsetof(audit_args, audit_repo), NULL, "the git repository of audit records"},
	{"audit-remote", "REMOTE", CLI_OPT_STRING, offsetof(audit_args, audit_remote), NULL, "push: where to push"},
	{"allowed-signers", "FILE", CLI_OPT_STRING, offsetof(audit_args, allowed_signers), NULL,
	 "verify: the keys allowed to sign"},
	{NULL, NULL, CLI_OPT_FLAG, 0, NULL, NULL}
};

const cli_spec cmd_audit_spec = {
	"audit", "runbook audit push|verify [FILE] ...",
	"the audit trail: push the records that wait (push), check signatures and history (verify)",
	CLI_OPERAND_OPTIONAL, all_opts
};

/* The audit repository (of FILE's runbook when given) into *g; 0, or the exit code after saying why. */
static int open_store(const char *name, const audit_args *a, const rb_runbook *rb, rb_gitstore **g)
{
	char *where = NULL;
	rb_error err = RB_ERROR_INIT;
	int r = rb_audit_store(rb, a->audit_repo, g, &where, &err), rc = 0;
	if (r < 0) {
		rb_out_err("runbook %s: %s\n", name, err.message);
		rc = err.code;
	} else if (r > 0) {
		rb_out_err("runbook %s: no audit repository at %s (use --audit-repo DIR)\n", name, where);
		rc = RB_EXIT_ENV;
	}
	free(where);
	rb_error_clear(&err);
	return rc;
}

static int audit_push(const audit_args *a, const rb_runbook *rb)
{
	rb_gitstore *g = NULL;
	char *key = NULL;
	rb_error err = RB_ERROR_INIT;
	char *remote = rb_auditsync_remote(rb, a->audit_remote);
	int rc = RB_EXIT_USAGE;
	if (!remote) {
		rb_out_err("runbook audit push: no audit remote: --audit-remote, the front matter's audit.remote, or "
			   "RUNBOOK_AUDIT_REMOTE\n");
		goto done;
	}
	if ((rc = open_store("audit push", a, rb, &g)) != 0)
		goto done;
	/* Records made again on the remote's tip are signed again. */
	if (rb_auditsync_sign_setup(rb, g, &key, &err) < 0) {
		rb_out_err("runbook audit push: %s\n", err.message);
		rc = err.code;
		goto done;
	}
	rc = rb_auditsync_push(g, remote, rb_audit_ref(rb), 0) < 0 ? RB_EXIT_ENV : RB_EXIT_OK;
done:
	rb_gitstore_free(g);
	free(key);
	free(remote);
	rb_error_clear(&err);
	return rc;
}

static int audit_verify(const audit_args *a, const rb_runbook *rb)
{
	rb_gitstore *g = NULL;
	char *cfg = NULL;
	rb_error err = RB_ERROR_INIT;
	int rc = open_store("audit verify", a, rb, &g);
	if (rc)
		goto done;
	const char *allowed = a->allowed_signers ? a->allowed_signers
			      : (cfg = rb_gitstore_config(g, "gpg.ssh.allowedSignersFile"));
	long problems = rb_auditsync_verify(g, rb_audit_ref(rb), allowed, &err);
	if (problems < 0) {
		rb_out_err("runbook audit verify: %s\n", err.message);
		rc = err.code ? err.code : RB_EXIT_ENV;
	} else {
		rc = problems ? RB_EXIT_STEP : RB_EXIT_OK;
	}
done:
	rb_gitstore_free(g);
	free(cfg);
	rb_error_clear(&err);
	return rc;
}

int cmd_audit(int argc, char **argv)
{
	const char *sub = argc > 2 ? argv[2] : "";
	const cli_spec *spec = !strcmp(sub, "push") ? &push_spec : !strcmp(sub, "verify") ? &verify_spec : NULL;
	audit_args a = {NULL, NULL, NULL};
	cli_parsed p = {NULL, 0, 0};
	rb_runbook *rb = NULL;
	int rc = RB_EXIT_USAGE;
	if (!spec) {
		if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
			cli_help(&push_spec);
			rb_out("\n");
			cli_help(&verify_spec);
			return RB_EXIT_OK;
		}
		rb_out_err("runbook audit: say push or verify (runbook audit push --help)\n");
		return RB_EXIT_USAGE;
	}
	/* argv[1] is then the subcommand, as if it were the command. */
	if (cli_parse(spec, argc - 1, argv + 1, &a, &p) < 0)
		goto done;
	if (p.help) {
		cli_help(spec);
		rc = RB_EXIT_OK;
		goto done;
	}
	if (p.count && !(rb = cli_runbook_load(p.operands[0])))
		goto done;
	rc = spec == &push_spec ? audit_push(&a, rb) : audit_verify(&a, rb);
done:
	rb_runbook_free(rb);
	cli_parsed_free(&p);
	return rc;
}
