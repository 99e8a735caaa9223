/*
 * auditsync.c - signed records, pushed to a shared remote, verified (see
 * auditsync.h).
 */
#define _GNU_SOURCE
#include "auditsync.h"
#include "gitsync.h"
#include "output.h"
#include "process.h"
#include "signals.h"
#include "sshsig.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

char *rb_auditsync_remote(const rb_runbook *rb, const char *remote_opt)
{
	const char *env = getenv("RUNBOOK_AUDIT_REMOTE"), *fm = rb ? rb->fm.audit_remote : NULL;
	if (remote_opt && *remote_opt)
		return rb_xstrdup(remote_opt);
	if (fm && *fm)
		/* A relative path in the runbook is relative to the runbook, as audit.repo is. */
		return (!strncmp(fm, "./", 2) || !strncmp(fm, "../", 3)) ? rb_xasprintf("%s/%s", rb->dir, fm) : rb_xstrdup(fm);
	return env && *env ? rb_xstrdup(env) : NULL;
}

char *rb_auditsync_url_password(const char *remote)
{
	const char *scheme = strstr(remote, "://");
	if (!scheme)
		return NULL;
	const char *user = scheme + 3, *end = user + strcspn(user, "/@");
	const char *colon = memchr(user, ':', (size_t)(end - user));
	return *end == '@' && colon && end > colon + 1 ? rb_xstrndup(colon + 1, (size_t)(end - colon - 1)) : NULL;
}

/* text with the password of remote's URL hidden wherever it appears, for the terminal (caller frees). */
static char *hide_password(const char *text, const char *remote)
{
	rb_redactor r = RB_REDACTOR_INIT;
	char *pw = rb_auditsync_url_password(remote);
	rb_redactor_add(&r, pw);
	char *shown = rb_redact(&r, text);
	rb_redactor_free(&r);
	free(pw);
	return shown;
}

static int sign_with(void *ctx, const char *payload, char **signature, rb_error *err)
{
	return rb_sshsig_sign(ctx, payload, signature, err);
}

/* The signing key's path as rb, the environment or the repository name it (caller frees); NULL: none. */
static char *key_path(const rb_runbook *rb, rb_gitstore *g)
{
	const char *env = getenv("RUNBOOK_AUDIT_SIGNING_KEY"), *home = getenv("HOME");
	const char *k = rb && rb->fm.audit_key ? rb->fm.audit_key : NULL;
	if (k && k[0] == '~' && k[1] == '/' && home)
		return rb_xasprintf("%s%s", home, k + 1);
	if (k)
		return k[0] == '/' || !rb ? rb_xstrdup(k) : rb_xasprintf("%s/%s", rb->dir, k);
	if (env && *env)
		return rb_xstrdup(env);
	char *cfg = rb_gitstore_config(g, "user.signingkey");
	if (cfg && cfg[0] == '~' && cfg[1] == '/' && home) {
		char *full = rb_xasprintf("%s%s", home, cfg + 1);
		free(cfg);
		cfg = full;
	}
	return cfg;
}

int rb_auditsync_sign_setup(const rb_runbook *rb, rb_gitstore *g, char **key, rb_error *err)
{
	const char *env = getenv("RUNBOOK_AUDIT_SIGN");
	int want = (rb && rb->fm.audit_sign) || (env && !strcmp(env, "ssh"));
	char *tool = NULL;
	struct stat st;
	*key = NULL;
	if (!want)
		return 0;
	char *k = key_path(rb, g);
	if (!k) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "audit records are to be signed (audit.sign: ssh) but no key is "
			     "named: audit.key, RUNBOOK_AUDIT_SIGNING_KEY or git config user.signingkey");
	} else if (!strncmp(k, "key::", 5)) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "the signing key is given literally (user.signingkey key::...): "
			     "name a key file instead (a public key file works with the ssh agent)");
	} else if (stat(k, &st) < 0 || !S_ISREG(st.st_mode) || access(k, R_OK) < 0) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "the signing key %s is not a readable file", k);
	} else if (!(tool = rb_process_which("ssh-keygen"))) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "audit records are to be signed but ssh-keygen is not on PATH "
			     "(openssh-client)");
	} else {
		*key = k;
		k = NULL;
		rb_gitstore_set_signer(g, sign_with, *key);
	}
	free(tool);
	free(k);
	return *key ? 0 : -1;
}

/* How long a push may take (RUNBOOK_AUDIT_PUSH_TIMEOUT, seconds; default 60). */
static int64_t push_timeout_ms(void)
{
	const char *v = getenv("RUNBOOK_AUDIT_PUSH_TIMEOUT");
	long s = v && *v ? strtol(v, NULL, 10) : 0;
	return (s > 0 ? s : 60) * 1000;
}

/* The push, or the fetch alone (into the tracking ref), here. */
static int sync_now(rb_gitstore *g, const char *remote, const char *ref, int fetch_only, rb_gitsync_result *res,
		    rb_error *err)
{
	char *tracking = NULL;
	int rc;
	if (!fetch_only)
		return rb_gitsync_push(g, remote, ref, res, err);
	memset(res, 0, sizeof *res);
	rc = rb_gitsync_fetch(g, remote, ref, &tracking, err);
	free(tracking);
	return rc;
}

/* What the pushing child says. */
typedef struct {
	rb_gitsync_result res;
	int rc;
	char message[1024];
} push_report;

/*
 * rb_gitsync_push (or the fetch) in a child, waited for with a deadline and with Ctrl-C
 * heard: libgit2 cannot be told to give up a connection that hangs (a VPN
 * gone, a host that never answers), and a run's end must not hang on its
 * push. The child is killed then; its locks go with it, and what it did
 * was compare-and-swap (the records wait here, whole).
 */
static int bounded(rb_gitstore *g, const char *remote, const char *ref, int fetch_only, rb_gitsync_result *res,
		   rb_error *err)
{
	int fds[2], rc = -1;
	push_report rep;
	memset(&rep, 0, sizeof rep);
	memset(res, 0, sizeof *res);
	if (pipe2(fds, O_CLOEXEC) < 0)
		return sync_now(g, remote, ref, fetch_only, res, err);
	pid_t pid = fork();
	if (pid == 0) {
		rb_error e = RB_ERROR_INIT;
		close(fds[0]);
		rb_signals_child_defaults(); /* Ctrl-C on the terminal ends the push too */
		signal(SIGPIPE, SIG_IGN);    /* a connection the remote closed is an error, not a death */
		rep.rc = sync_now(g, remote, ref, fetch_only, &rep.res, &e);
		snprintf(rep.message, sizeof rep.message, "%s", e.message ? e.message : "");
		ssize_t w = write(fds[1], &rep, sizeof rep);
		_exit(w == (ssize_t)sizeof rep ? 0 : 1);
	}
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return sync_now(g, remote, ref, fetch_only, res, err);
	}
	int64_t deadline = rb_now_ms() + push_timeout_ms();
	size_t got = 0;
	const char *why = NULL;
	for (;;) {
		int64_t left = deadline - rb_now_ms();
		struct pollfd pf[2] = {{.fd = fds[0], .events = POLLIN}, {.fd = rb_signals_fd(), .events = POLLIN}};
		if (left <= 0) {
			why = "it did not finish in time (RUNBOOK_AUDIT_PUSH_TIMEOUT)";
			break;
		}
		if (poll(pf, 2, (int)(left > 1000 ? 1000 : left)) < 0 && errno != EINTR)
			break;
		if (pf[1].revents)
			rb_signals_drain();
		if (rb_signals_interrupted()) {
			why = "it was interrupted";
			break;
		}
		if (pf[0].revents) {
			ssize_t n = read(fds[0], (char *)&rep + got, sizeof rep - got);
			if (n > 0 && (got += (size_t)n) < sizeof rep)
				continue;
			if (n < 0 && errno == EINTR)
				continue;
			if (got < sizeof rep)
				why = "it ended without a word";
			break;
		}
	}
	close(fds[0]);
	if (why || got < sizeof rep)
		kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	if (got == sizeof rep && !why) {
		*res = rep.res;
		rc = rep.rc;
		if (rc < 0)
			rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "%s", rep.message);
	} else {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "the %s was stopped: %s", fetch_only ? "fetch" : "push",
			     why ? why : "it failed");
		res->waiting = rb_gitsync_waiting(g, remote, ref);
	}
	return rc;
}

int rb_auditsync_fetch(rb_gitstore *g, const char *remote, const char *ref, char **tracking, rb_error *err)
{
	rb_gitsync_result res;
	*tracking = rb_gitsync_tracking(remote, ref);
	int rc = bounded(g, remote, ref, 1, &res, err);
	if (rc < 0 && err->message) {
		char *shown = hide_password(err->message, remote);
		rb_error_set(err, err->code ? err->code : RB_EXIT_ENV, NULL, 0, 0, "%s", shown);
		free(shown);
	}
	return rc;
}

char *rb_auditsync_shown(const char *remote)
{
	return hide_password(remote, remote);
}

int rb_auditsync_push(rb_gitstore *g, const char *remote, const char *ref, int quiet)
{
	rb_gitsync_result res;
	rb_error err = RB_ERROR_INIT;
	int rc = bounded(g, remote, ref, 0, &res, &err);
	char *to = hide_password(remote, remote), *why = hide_password(err.message ? err.message : "", remote);
	if (rc < 0)
		rb_out_err("runbook: warning: the audit record is committed here but not pushed to %s: %s; %zu record%s "
			   "wait%s here (pushed with the next run's, or by `runbook audit push`)\n", to, why,
			   res.waiting, res.waiting == 1 ? "" : "s", res.waiting == 1 ? "s" : "");
	else if (!quiet)
		rb_out("Audit remote: %zu commit%s pushed to %s%s\n", res.pushed, res.pushed == 1 ? "" : "s", to,
		       res.rebuilt ? " (made again on the remote's tip, which had moved)" : "");
	free(to);
	free(why);
	rb_error_clear(&err);
	return rc;
}

/* The directory of the record a commit makes, from its trailers: *run says whether it is a run's. NULL: none. */
static char *own_dir(const char *message, int *run)
{
	const char *t = strstr(message, "\nRun: ");
	*run = t != NULL;
	if (!t)
		t = strstr(message, "\nRollout: ");
	if (!t)
		return NULL;
	t = strchr(t, ':') + 2;
	size_t n = strcspn(t, "\n");
	if (n < 17 || t[8] != 'T')
		return NULL;
	return rb_xasprintf("%s/%.4s/%.2s/%.2s/%.*s/", *run ? "runs" : "rollouts", t, t + 4, t + 6, (int)(n - 9), t + 9);
}

/*
 * The files commit c changed that are not its own record's: a run's commit
 * adds files in its run's directory and nothing else; a rollout's adds or
 * rewrites (its record at its start, then at its end) its own. Each is
 * printed; returns how many.
 */
static long foreign_changes(git_repository *repo, git_commit *c, const char *dir, int run)
{
	git_commit *parent = NULL;
	git_tree *ptree = NULL, *ctree = NULL;
	git_diff *diff = NULL;
	long bad = 0;
	if ((git_commit_parentcount(c) && (git_commit_parent(&parent, c, 0) < 0 || git_commit_tree(&ptree, parent) < 0)) ||
	    git_commit_tree(&ctree, c) < 0 || git_diff_tree_to_tree(&diff, repo, ptree, ctree, NULL) < 0) {
		rb_out("    cannot read what it changed\n");
		bad = 1;
		goto done;
	}
	for (size_t i = 0; i < git_diff_num_deltas(diff); i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);
		const char *path = d->status == GIT_DELTA_DELETED ? d->old_file.path : d->new_file.path;
		int mine = dir && !strncmp(path, dir, strlen(dir));
		if (mine && (!run || d->status == GIT_DELTA_ADDED))
			continue;
		bad++;
		rb_out("    %s %s%s\n", d->status == GIT_DELTA_ADDED ? "adds" : d->status == GIT_DELTA_DELETED ? "deletes" : "rewrites",
		       path, d->status == GIT_DELTA_ADDED ? " (not its own record's)" : " (an earlier record's file)");
	}
done:
	git_diff_free(diff);
	git_tree_free(ctree);
	git_tree_free(ptree);
	git_commit_free(parent);
	return bad;
}

long rb_auditsync_verify(rb_gitstore *g, const char *ref, const char *allowed_signers, rb_error *err)
{
	git_repository *repo = rb_gitstore_repo(g);
	git_revwalk *w = NULL;
	git_oid id;
	long problems = 0, commits = 0;
	git_error_clear();
	if (git_reference_name_to_id(&id, repo, ref) < 0) {
		rb_out("no records on %s in %s\n", ref, rb_gitstore_gitdir(g));
		return 0;
	}
	if (git_revwalk_new(&w, repo) < 0 || git_revwalk_simplify_first_parent(w) < 0 || git_revwalk_push(w, &id) < 0) {
		const git_error *e = git_error_last();
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot walk %s: %s", ref, e ? e->message : "libgit2 gave no reason");
		git_revwalk_free(w);
		return -1;
	}
	if (!allowed_signers)
		rb_out("(no allowed-signers file: the keys that signed are shown, not checked)\n");
	while (git_revwalk_next(&id, w) == 0) {
		git_commit *c = NULL;
		git_buf sig = {0}, data = {0};
		char *who = NULL;
		int run = 0;
		if (git_commit_lookup(&c, repo, &id) < 0)
			continue;
		commits++;
		const char *msg = git_commit_message(c);
		char *dir = own_dir(msg, &run);
		char line[80];
		snprintf(line, sizeof line, "%.*s", (int)strcspn(msg, "\n"), msg);
		rb_out("%.7s  %s\n", git_oid_tostr_s(&id), line);
		int s = git_commit_extract_signature(&sig, &data, repo, &id, NULL);
		int v = s < 0 ? -2 : rb_sshsig_verify(allowed_signers, data.ptr, sig.ptr, &who, err);
		if (v == -1) {
			problems = -1;
			free(dir);
			git_buf_dispose(&sig);
			git_buf_dispose(&data);
			git_commit_free(c);
			break;
		}
		if (v == -2) {
			rb_out("    UNSIGNED\n");
			problems++;
		} else if (v == RB_SSHSIG_GOOD) {
			rb_out("    signed by %s\n", who);
		} else if (v == RB_SSHSIG_UNKNOWN) {
			rb_out("    signed by %s%s\n", who, allowed_signers ? ", a key the allowed signers do not list" : "");
			problems += allowed_signers != NULL;
		} else {
			rb_out("    BAD SIGNATURE: %s\n", who);
			problems++;
		}
		if (!dir)
			rb_out("    not a record (no Run: or Rollout: trailer)\n");
		problems += foreign_changes(repo, c, dir, run);
		free(who);
		free(dir);
		git_buf_dispose(&sig);
		git_buf_dispose(&data);
		git_commit_free(c);
	}
	git_revwalk_free(w);
	if (problems >= 0)
		rb_out("%ld commit%s on %s: %s\n", commits, commits == 1 ? "" : "s", ref,
		       problems ? "problems found (above)" : "every one signed and changing only its own record");
	return problems;
}
