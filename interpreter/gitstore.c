/*
 * gitstore.c - commits through libgit2's object database and refs API.
 */
#define _DEFAULT_SOURCE
#include "gitstore.h"

#include <git2.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CAS_ATTEMPTS 50

struct rb_gitstore {
	git_repository *repo;
	char *gitdir;
	char *workdir;
};

static int libgit2_users;

static void lib_init(void)
{
	if (libgit2_users++ == 0)
		git_libgit2_init();
}

static void lib_done(void)
{
	if (--libgit2_users == 0)
		git_libgit2_shutdown();
}

static int git_fail(rb_error *err, const char *what)
{
	const git_error *e = git_error_last();
	return rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "%s: %s", what,
			    e && e->message ? e->message : "unknown libgit2 error");
}

int rb_gitstore_open(const char *dir, int discover, int create, rb_gitstore **out, rb_error *err)
{
	int rc = -1;
	git_repository *repo = NULL;
	rb_gitstore *g = NULL;
	lib_init();
	int r = git_repository_open_ext(&repo, dir, discover ? 0 : GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
	if (r == GIT_ENOTFOUND && create) {
		git_repository_init_options o;
		git_repository_init_options_init(&o, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
		o.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
		r = git_repository_init_ext(&repo, dir, &o);
	}
	if (r < 0) {
		if (r == GIT_ENOTFOUND)
			rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "%s is not a git repository", dir);
		else
			git_fail(err, dir);
		goto done;
	}
	g = rb_xcalloc(1, sizeof *g);
	g->repo = repo;
	g->gitdir = rb_xstrdup(git_repository_path(repo));
	g->workdir = git_repository_workdir(repo) ? rb_xstrdup(git_repository_workdir(repo)) : NULL;
	repo = NULL;
	*out = g;
	g = NULL;
	rc = 0;
done:
	git_repository_free(repo);
	if (rc < 0)
		lib_done();
	return rc;
}

const char *rb_gitstore_gitdir(const rb_gitstore *g)
{
	return g->gitdir;
}

const char *rb_gitstore_workdir(const rb_gitstore *g)
{
	return g->workdir;
}

char *rb_gitstore_config(rb_gitstore *g, const char *key)
{
	git_config *cfg = NULL;
	git_buf buf = {0};
	char *v = NULL;
	if (git_repository_config_snapshot(&cfg, g->repo) == 0 &&
	    git_config_get_string_buf(&buf, cfg, key) == 0 && buf.ptr && *buf.ptr)
		v = rb_xstrdup(buf.ptr);
	git_buf_dispose(&buf);
	git_config_free(cfg);
	return v;
}

/* One attempt: a commit on the ref's current tip; GIT_EMODIFIED/GIT_EEXISTS when it moved. */
static int try_commit(rb_gitstore *g, const char *ref, const git_tree_update *updates, size_t n,
		      const char *message, const git_signature *sig, git_oid *out)
{
	int r;
	git_oid parent_id, tree_id;
	git_commit *parent = NULL;
	git_tree *base = NULL, *tree = NULL;
	git_reference *newref = NULL;
	int have_parent = git_reference_name_to_id(&parent_id, g->repo, ref) == 0;

	if (have_parent) {
		if ((r = git_commit_lookup(&parent, g->repo, &parent_id)) < 0 ||
		    (r = git_commit_tree(&base, parent)) < 0)
			goto done;
	}
	if ((r = git_tree_create_updated(&tree_id, g->repo, base, n, updates)) < 0 ||
	    (r = git_tree_lookup(&tree, g->repo, &tree_id)) < 0)
		goto done;
	const git_commit *parents[1] = {parent};
	if ((r = git_commit_create(out, g->repo, NULL, sig, sig, "UTF-8", message, tree,
				   have_parent ? 1 : 0, parents)) < 0)
		goto done;
	if (have_parent)
		r = git_reference_create_matching(&newref, g->repo, ref, out, 1, &parent_id, message);
	else
		r = git_reference_create(&newref, g->repo, ref, out, 0, message);
done:
	git_reference_free(newref);
	git_tree_free(tree);
	git_tree_free(base);
	git_commit_free(parent);
	return r;
}

int rb_gitstore_commit(rb_gitstore *g, const char *ref, const rb_gitstore_file *files, size_t n,
		       const char *message, const char *name, const char *email, char oid_hex[41],
		       rb_error *err)
{
	int rc = -1;
	git_signature *sig = NULL;
	git_tree_update *updates = rb_xcalloc(n ? n : 1, sizeof *updates);
	char *cfg_name = NULL, *cfg_email = NULL;

	for (size_t i = 0; i < n; i++) {
		if (git_blob_create_from_buffer(&updates[i].id, g->repo, files[i].data, files[i].len) < 0) {
			git_fail(err, "cannot write the audit record");
			goto done;
		}
		updates[i].action = GIT_TREE_UPDATE_UPSERT;
		updates[i].filemode = GIT_FILEMODE_BLOB;
		updates[i].path = files[i].path;
	}
	if (!name)
		name = cfg_name = rb_gitstore_config(g, "user.name");
	if (!email)
		email = cfg_email = rb_gitstore_config(g, "user.email");
	if (git_signature_now(&sig, name ? name : "runbook", email ? email : "runbook@localhost") < 0) {
		git_fail(err, "cannot make the commit signature");
		goto done;
	}
	git_oid id;
	int r = GIT_EMODIFIED;
	for (int attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
		r = try_commit(g, ref, updates, n, message, sig, &id);
		if (r != GIT_EMODIFIED && r != GIT_EEXISTS && r != GIT_ELOCKED)
			break;
		struct timespec pause = {0, (long)(1 + attempt * 2) * 1000000L};
		nanosleep(&pause, NULL);
	}
	if (r < 0) {
		git_fail(err, "cannot commit the audit record");
		goto done;
	}
	git_oid_tostr(oid_hex, 41, &id);
	rc = 0;
done:
	git_signature_free(sig);
	free(updates);
	free(cfg_name);
	free(cfg_email);
	return rc;
}

int rb_gitstore_check_writable(rb_gitstore *g, rb_error *err)
{
	git_oid id;
	char *refs = rb_xasprintf("%s/refs", g->gitdir);
	int rc = -1;
	if (git_blob_create_from_buffer(&id, g->repo, "", 0) < 0) {
		git_fail(err, "the audit repository is not writable");
		goto done;
	}
	if (access(refs, W_OK) != 0) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "the audit repository's refs (%s) are not writable",
			     refs);
		goto done;
	}
	rc = 0;
done:
	free(refs);
	return rc;
}

char *rb_gitstore_head_of(const char *dir)
{
	git_repository *repo = NULL;
	git_oid id;
	char hex[41];
	char *out = NULL;
	lib_init();
	if (git_repository_open_ext(&repo, dir, 0, NULL) == 0 &&
	    git_reference_name_to_id(&id, repo, "HEAD") == 0) {
		git_oid_tostr(hex, sizeof hex, &id);
		out = rb_xstrdup(hex);
	}
	git_repository_free(repo);
	lib_done();
	return out;
}

int rb_gitstore_log(rb_gitstore *g, const char *ref, int (*fn)(void *ctx, const rb_gitstore_commit_info *c),
		    void *ctx)
{
	git_revwalk *walk = NULL;
	git_oid id;
	int rc = 0;
	if (git_reference_name_to_id(&id, g->repo, ref) < 0)
		return 0;
	if (git_revwalk_new(&walk, g->repo) < 0 || git_revwalk_push(walk, &id) < 0)
		goto done;
	git_revwalk_sorting(walk, GIT_SORT_TIME);
	git_oid cur;
	while (!rc && git_revwalk_next(&cur, walk) == 0) {
		git_commit *c = NULL;
		if (git_commit_lookup(&c, g->repo, &cur) < 0)
			continue;
		char hex[41];
		git_oid_tostr(hex, sizeof hex, &cur);
		const git_signature *a = git_commit_author(c);
		char *who = rb_xasprintf("%s <%s>", a->name, a->email);
		rb_gitstore_commit_info info = {hex, git_commit_message(c), who, (long long)git_commit_time(c)};
		rc = fn(ctx, &info);
		free(who);
		git_commit_free(c);
	}
done:
	git_revwalk_free(walk);
	return rc;
}

int rb_gitstore_read(rb_gitstore *g, const char *commit, const char *path, char **data, size_t *len)
{
	git_object *obj = NULL;
	git_commit *c = NULL;
	git_tree *tree = NULL;
	git_tree_entry *entry = NULL;
	git_blob *blob = NULL;
	int rc = -1;
	if (git_revparse_single(&obj, g->repo, commit) < 0 ||
	    git_commit_lookup(&c, g->repo, git_object_id(obj)) < 0 || git_commit_tree(&tree, c) < 0 ||
	    git_tree_entry_bypath(&entry, tree, path) < 0 ||
	    git_blob_lookup(&blob, g->repo, git_tree_entry_id(entry)) < 0)
		goto done;
	*len = (size_t)git_blob_rawsize(blob);
	*data = rb_xstrndup(git_blob_rawcontent(blob), *len);
	rc = 0;
done:
	git_blob_free(blob);
	git_tree_entry_free(entry);
	git_tree_free(tree);
	git_commit_free(c);
	git_object_free(obj);
	return rc;
}

void rb_gitstore_hash(const char *data, size_t len, char out[41])
{
	git_oid id;
	lib_init();
	git_odb_hash(&id, data, len, GIT_OBJECT_BLOB);
	git_oid_tostr(out, 41, &id);
	lib_done();
}

void rb_gitstore_free(rb_gitstore *g)
{
	if (!g)
		return;
	git_repository_free(g->repo);
	free(g->gitdir);
	free(g->workdir);
	free(g);
	lib_done();
}
