/*
 * gitsync.c - the audit ref pushed to a git remote and rebuilt on its tip
 * (see gitsync.h).
 */
#define _GNU_SOURCE
#include "gitsync.h"
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Tries of fetch, rebuild, push while the remote keeps moving. */
#define PUSH_ATTEMPTS 12
/* How long a push waits for another one's lock. */
#define LOCK_WAIT_MS 60000

typedef struct {
	int cred_tries;       /* credentials asked for this connection: give up after a few */
	char *rejected;       /* the remote's reason when it refused the ref's update */
} sync_ctx;

static int fail(rb_error *err, const char *what, const char *remote)
{
	const git_error *e = git_error_last();
	return rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "%s %s: %s", what, remote,
			    e && e->message && *e->message ? e->message : "libgit2 gave no reason");
}

char *rb_gitsync_tracking(const char *remote, const char *ref)
{
	char hash[41];
	rb_gitstore_hash(remote, strlen(remote), hash);
	return rb_xasprintf("refs/runbook/remotes/%.12s/%s", hash, strncmp(ref, "refs/", 5) ? ref : ref + 5);
}

/* A username and password from `git credential fill` for url (never a prompt). 0 or -1. */
static int credential_helper(const char *url, char **user, char **pass)
{
	char *out = NULL, *input = rb_xasprintf("url=%s\n\n", url);
	int status = -1;
	rb_error err = RB_ERROR_INIT;
	char *argv[] = {"env", "GIT_TERMINAL_PROMPT=0", "GIT_ASKPASS=", "SSH_ASKPASS=", "git", "credential", "fill", NULL};
	*user = *pass = NULL;
	if (rb_process_capture(argv, input, 10000, &out, &status, &err) == 0 && status == 0)
		for (const char *l = out; *l; l += strcspn(l, "\n") + (l[strcspn(l, "\n")] ? 1 : 0)) {
			size_t n = strcspn(l, "\n");
			if (!strncmp(l, "username=", 9) && !*user)
				*user = rb_xstrndup(l + 9, n - 9);
			else if (!strncmp(l, "password=", 9) && !*pass)
				*pass = rb_xstrndup(l + 9, n - 9);
		}
	if (out)
		explicit_bzero(out, strlen(out));
	free(out);
	free(input);
	rb_error_clear(&err);
	return *pass ? 0 : -1;
}

static int credentials(git_credential **out, const char *url, const char *user_from_url, unsigned int allowed,
		       void *payload)
{
	sync_ctx *c = payload;
	/* ssh://host/path without a user: libgit2 asks for the user first; "git", as git hosts expect. */
	if (allowed & GIT_CREDENTIAL_USERNAME)
		return git_credential_username_new(out, user_from_url ? user_from_url : "git");
	if (c->cred_tries++ >= 2) {
		git_error_set_str(GIT_ERROR_NET, "the remote refused the credentials given (RUNBOOK_AUDIT_TOKEN, git's "
				  "credential helper, the ssh agent's keys)");
		return GIT_EAUTH;
	}
	if (allowed & GIT_CREDENTIAL_SSH_KEY)
		return git_credential_ssh_key_from_agent(out, user_from_url ? user_from_url : "git");
	if (allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) {
		const char *token = getenv("RUNBOOK_AUDIT_TOKEN");
		if (token && *token)
			return git_credential_userpass_plaintext_new(out, user_from_url ? user_from_url : "x-access-token",
								     token);
		char *user = NULL, *pass = NULL;
		int r = GIT_PASSTHROUGH;
		if (credential_helper(url, &user, &pass) == 0)
			r = git_credential_userpass_plaintext_new(out, user ? user : (user_from_url ? user_from_url : ""),
								  pass);
		if (pass)
			explicit_bzero(pass, strlen(pass));
		free(user);
		free(pass);
		if (r == GIT_PASSTHROUGH) {
			git_error_set_str(GIT_ERROR_NET, "the remote asks for a user and password: set RUNBOOK_AUDIT_TOKEN, or "
					  "a git credential helper that knows it");
			r = GIT_EAUTH;
		}
		return r;
	}
	git_error_set_str(GIT_ERROR_NET, "the remote asks for credentials of a kind runbook does not give");
	return GIT_EAUTH;
}

static int update_reference(const char *refname, const char *status, void *payload)
{
	sync_ctx *c = payload;
	(void)refname;
	if (status && !c->rejected)
		c->rejected = rb_xstrdup(status);
	return 0;
}

/* The remote named so in the repository, else one made of the URL. */
static int open_remote(git_repository *repo, const char *remote, git_remote **out, rb_error *err)
{
	git_error_clear();
	if (git_remote_lookup(out, repo, remote) == 0)
		return 0;
	git_error_clear();
	if (git_remote_create_anonymous(out, repo, remote) == 0)
		return 0;
	return fail(err, "audit remote", remote);
}

/* Locks path (made if need be), waiting up to LOCK_WAIT_MS: the descriptor, or -1 (errno set). */
static int lock_file(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0664);
	if (fd < 0)
		return -1;
	for (int waited = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; waited += 10) {
		if ((errno != EWOULDBLOCK && errno != EINTR) || waited >= LOCK_WAIT_MS) {
			int e = errno == EWOULDBLOCK ? ETIMEDOUT : errno;
			close(fd);
			errno = e;
			return -1;
		}
		struct timespec pause = {0, 10 * 1000000L};
		nanosleep(&pause, NULL);
	}
	return fd;
}

/* The directory of a remote on this machine (a path, file://), or NULL (caller frees). */
static char *local_dir(const char *url)
{
	struct stat st;
	const char *p = !strncmp(url, "file://", 7) ? url + 7 : strstr(url, "://") || strchr(url, ':') ? NULL : url;
	return p && stat(p, &st) == 0 && S_ISDIR(st.st_mode) ? rb_xstrdup(p) : NULL;
}

/*
 * Fetches the remote's ref into the tracking ref (or removes the tracking
 * ref when the remote has no such ref). *exists and *tip say what the
 * remote has. 0, or -1 with err.
 */
static int fetch_tip(git_repository *repo, git_remote *r, const char *remote, const char *ref, const char *tracking,
		     int *exists, git_oid *tip, rb_error *err)
{
	git_fetch_options fo;
	sync_ctx c = {0, NULL};
	char *spec = rb_xasprintf("+%s:%s", ref, tracking);
	char *specs[] = {spec};
	git_strarray refspecs = {specs, 1};
	const git_remote_head **heads = NULL;
	size_t nheads = 0;
	git_reference *tr = NULL;
	int rc = -1;
	git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	fo.callbacks.credentials = credentials;
	fo.callbacks.payload = &c;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	fo.update_fetchhead = 0;
	*exists = 0;
	git_error_clear();
	if (git_remote_fetch(r, &refspecs, &fo, NULL) < 0 || git_remote_ls(&heads, &nheads, r) < 0) {
		fail(err, "cannot fetch from the audit remote", remote);
		goto done;
	}
	for (size_t i = 0; i < nheads; i++)
		if (!strcmp(heads[i]->name, ref)) {
			*exists = 1;
			git_oid_cpy(tip, &heads[i]->oid);
		}
	git_error_clear();
	if (*exists)
		rc = git_reference_create(&tr, repo, tracking, tip, 1, "runbook: the audit remote's tip") < 0
			     ? fail(err, "cannot keep the tip of the audit remote", remote)
			     : 0;
	else if (git_reference_lookup(&tr, repo, tracking) == 0)
		rc = git_reference_delete(tr) < 0 ? fail(err, "cannot forget the tip of the audit remote", remote) : 0;
	else
		rc = 0;
done:
	git_reference_free(tr);
	free(spec);
	free(c.rejected);
	return rc;
}

/*
 * The changes commit c made to its first parent's tree, as updates of
 * another tree (base): a path c added that base holds with other content is
 * a conflict (-1 with err). 0 with *out and *n (caller frees *out).
 */
static int changes_of(git_repository *repo, git_commit *c, git_tree *base, git_tree_update **out, size_t *n,
		      rb_error *err)
{
	git_commit *parent = NULL;
	git_tree *ptree = NULL, *ctree = NULL;
	git_diff *diff = NULL;
	int rc = -1;
	*out = NULL;
	*n = 0;
	if ((git_commit_parentcount(c) && (git_commit_parent(&parent, c, 0) < 0 || git_commit_tree(&ptree, parent) < 0)) ||
	    git_commit_tree(&ctree, c) < 0 || git_diff_tree_to_tree(&diff, repo, ptree, ctree, NULL) < 0) {
		fail(err, "cannot read the audit commit", git_oid_tostr_s(git_commit_id(c)));
		goto done;
	}
	size_t count = git_diff_num_deltas(diff);
	*out = rb_xcalloc(count ? count : 1, sizeof **out);
	for (size_t i = 0; i < count; i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);
		git_tree_update *u = &(*out)[(*n)++];
		if (d->status == GIT_DELTA_DELETED) {
			u->action = GIT_TREE_UPDATE_REMOVE;
			u->path = d->old_file.path;
			continue;
		}
		u->action = GIT_TREE_UPDATE_UPSERT;
		u->path = d->new_file.path;
		u->id = d->new_file.id;
		u->filemode = d->new_file.mode;
		git_tree_entry *e = NULL;
		if (d->status == GIT_DELTA_ADDED && git_tree_entry_bypath(&e, base, u->path) == 0 &&
		    !git_oid_equal(git_tree_entry_id(e), &u->id)) {
			rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "the audit remote already holds %s, with other content "
				     "(two runs with one id?): not pushed", u->path);
			git_tree_entry_free(e);
			goto done;
		}
		git_tree_entry_free(e);
	}
	/* The paths point into diff: keep them as the caller's. */
	for (size_t i = 0; i < *n; i++)
		(*out)[i].path = rb_xstrdup((*out)[i].path);
	rc = 0;
done:
	if (rc < 0 && *out) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	git_diff_free(diff);
	git_tree_free(ctree);
	git_tree_free(ptree);
	git_commit_free(parent);
	return rc;
}

/* Makes every commit from local back to (not including) base again on top of onto: *out the last. */
static int rebuild(rb_gitstore *g, const git_oid *local, const git_oid *onto, git_oid *out, size_t *count,
		   rb_error *err)
{
	git_repository *repo = rb_gitstore_repo(g);
	git_revwalk *w = NULL;
	git_oid id, cur = *onto;
	int rc = -1;
	*count = 0;
	if (git_revwalk_new(&w, repo) < 0 || git_revwalk_sorting(w, GIT_SORT_TOPOLOGICAL | GIT_SORT_REVERSE) < 0 ||
	    git_revwalk_push(w, local) < 0 || git_revwalk_hide(w, onto) < 0) {
		fail(err, "cannot walk the audit ref", "");
		goto done;
	}
	while (git_revwalk_next(&id, w) == 0) {
		git_commit *c = NULL, *base = NULL;
		git_tree *btree = NULL, *ntree = NULL;
		git_tree_update *updates = NULL;
		size_t n = 0;
		git_oid tid;
		int ok = git_commit_lookup(&c, repo, &id) == 0 && git_commit_lookup(&base, repo, &cur) == 0 &&
			 git_commit_tree(&btree, base) == 0;
		if (!ok)
			fail(err, "cannot read the audit commit", git_oid_tostr_s(&id));
		else if (changes_of(repo, c, btree, &updates, &n, err) < 0)
			ok = 0;
		else {
			const git_commit *parents[1] = {base};
			ok = git_tree_create_updated(&tid, repo, btree, n, updates) == 0 &&
			     git_tree_lookup(&ntree, repo, &tid) == 0 &&
			     rb_gitstore_write_commit(g, git_commit_author(c), git_commit_committer(c),
						      git_commit_message(c), ntree, 1, parents, &cur) == 0;
			if (!ok)
				fail(err, "cannot rebuild the audit commit", git_oid_tostr_s(&id));
		}
		for (size_t i = 0; i < n; i++)
			free((char *)updates[i].path);
		free(updates);
		git_tree_free(ntree);
		git_tree_free(btree);
		git_commit_free(base);
		git_commit_free(c);
		if (!ok)
			goto done;
		(*count)++;
	}
	*out = cur;
	rc = 0;
done:
	git_revwalk_free(w);
	return rc;
}

/* Commits of ref's tip local not reachable from the remote's tip (all of them when it has none). */
static size_t ahead_of(git_repository *repo, const git_oid *local, const git_oid *remote_tip)
{
	size_t ahead = 0, behind = 0;
	if (remote_tip) {
		git_graph_ahead_behind(&ahead, &behind, repo, local, remote_tip);
		return ahead;
	}
	git_revwalk *w = NULL;
	git_oid id;
	if (git_revwalk_new(&w, repo) == 0 && git_revwalk_push(w, local) == 0)
		while (git_revwalk_next(&id, w) == 0)
			ahead++;
	git_revwalk_free(w);
	return ahead;
}

int rb_gitsync_push(rb_gitstore *g, const char *remote, const char *ref, rb_gitsync_result *res, rb_error *err)
{
	git_repository *repo = rb_gitstore_repo(g);
	git_remote *r = NULL;
	char *tracking = rb_gitsync_tracking(remote, ref), *lock_path = NULL, *rdir = NULL, *rlock_path = NULL;
	int rc = -1, lock = -1, rlock = -1;
	char *ref_spec = rb_xasprintf("%s:%s", ref, ref);
	char *specs[] = {ref_spec};
	git_strarray refspecs = {specs, 1};
	memset(res, 0, sizeof *res);
	char *dir = rb_xasprintf("%s/runbook", rb_gitstore_gitdir(g));
	mkdir(dir, 0775);
	lock_path = rb_xasprintf("%s/push.lock", dir);
	free(dir);
	if ((lock = lock_file(lock_path)) < 0) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot take %s: %s", lock_path, strerror(errno));
		goto done;
	}
	if (open_remote(repo, remote, &r, err) < 0)
		goto done;
	/* libgit2 moves a local remote's ref without looking at what it was: pushers take turns. */
	if ((rdir = local_dir(git_remote_url(r))) != NULL) {
		rlock_path = rb_xasprintf("%s/runbook-push.lock", rdir);
		/* Without it another pusher could overwrite the ref; only a read-only remote (whose push fails
		   below, harmlessly) goes on without it. */
		if ((rlock = lock_file(rlock_path)) < 0 && errno != EROFS) {
			rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot take %s: %s", rlock_path, strerror(errno));
			goto done;
		}
	}
	srand((unsigned)getpid() ^ (unsigned)time(NULL)); /* pushers pause for different times */
	for (int attempt = 0; attempt < PUSH_ATTEMPTS; attempt++) {
		int exists = 0;
		git_oid tip, local, to_push;
		git_reference *moved = NULL;
		if (fetch_tip(repo, r, remote, ref, tracking, &exists, &tip, err) < 0)
			goto done;
		git_error_clear();
		if (git_reference_name_to_id(&local, repo, ref) < 0) {
			rc = 0; /* nothing recorded here yet */
			goto done;
		}
		if (exists && (git_oid_equal(&local, &tip) || git_graph_descendant_of(repo, &tip, &local) == 1)) {
			/* Nothing waits; the remote may have more: the ref catches up when nothing moved it meanwhile. */
			if (!git_oid_equal(&local, &tip))
				git_reference_create_matching(&moved, repo, ref, &tip, 1, &local, "runbook: the audit remote's tip");
			git_reference_free(moved);
			rc = 0;
			goto done;
		}
		to_push = local;
		if (exists && git_graph_descendant_of(repo, &local, &tip) != 1) {
			size_t n = 0;
			if (rebuild(g, &local, &tip, &to_push, &n, err) < 0)
				goto done;
			git_error_clear();
			if (git_reference_create_matching(&moved, repo, ref, &to_push, 1, &local,
							  "runbook: rebuilt on the audit remote's tip") < 0) {
				git_reference_free(moved);
				if (attempt == PUSH_ATTEMPTS - 1)
					rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "the local audit ref kept moving (runs here "
						     "committing) while its records were made again on %s's tip", remote);
				continue; /* a run here committed meanwhile: again, with it */
			}
			git_reference_free(moved);
			res->rebuilt += n;
		}
		size_t ahead = ahead_of(repo, &to_push, exists ? &tip : NULL);
		git_push_options po;
		sync_ctx c = {0, NULL};
		git_push_options_init(&po, GIT_PUSH_OPTIONS_VERSION);
		po.callbacks.credentials = credentials;
		po.callbacks.push_update_reference = update_reference;
		po.callbacks.payload = &c;
		git_error_clear();
		int pr = git_remote_push(r, &refspecs, &po);
		if (pr == 0 && !c.rejected) {
			git_reference *tr = NULL;
			git_reference_create(&tr, repo, tracking, &to_push, 1, "runbook: pushed");
			git_reference_free(tr);
			res->pushed = ahead;
			rc = 0;
			goto done;
		}
		if (pr < 0 && pr != GIT_ENONFASTFORWARD) {
			fail(err, "cannot push to the audit remote", remote);
			free(c.rejected);
			goto done;
		}
		if (attempt == PUSH_ATTEMPTS - 1)
			rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "the audit remote %s refused the push: %s", remote,
				     c.rejected ? c.rejected : "its ref kept moving");
		free(c.rejected);
		/* The remote moved under us: a pause that grows, with some jitter, then all again. */
		struct timespec pause = {0, (long)((5 << (attempt < 7 ? attempt : 7)) + rand() % 10) * 1000000L};
		nanosleep(&pause, NULL);
	}
done:
	if (rc < 0)
		res->waiting = rb_gitsync_waiting(g, remote, ref);
	if (rlock >= 0)
		close(rlock);
	if (lock >= 0)
		close(lock);
	git_remote_free(r);
	free(rlock_path);
	free(rdir);
	free(lock_path);
	free(ref_spec);
	free(tracking);
	return rc;
}

int rb_gitsync_fetch(rb_gitstore *g, const char *remote, const char *ref, char **tracking, rb_error *err)
{
	git_remote *r = NULL;
	git_oid tip;
	int exists = 0, rc = -1;
	*tracking = rb_gitsync_tracking(remote, ref);
	if (open_remote(rb_gitstore_repo(g), remote, &r, err) == 0)
		rc = fetch_tip(rb_gitstore_repo(g), r, remote, ref, *tracking, &exists, &tip, err);
	git_remote_free(r);
	return rc;
}

size_t rb_gitsync_waiting(rb_gitstore *g, const char *remote, const char *ref)
{
	git_repository *repo = rb_gitstore_repo(g);
	char *tracking = rb_gitsync_tracking(remote, ref);
	git_oid local, tip;
	size_t n = 0;
	if (git_reference_name_to_id(&local, repo, ref) == 0)
		n = ahead_of(repo, &local, git_reference_name_to_id(&tip, repo, tracking) == 0 ? &tip : NULL);
	git_error_clear();
	free(tracking);
	return n;
}
