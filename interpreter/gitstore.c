/*
 * gitstore.c - commits through libgit2's object database and refs API.
 */
#define _DEFAULT_SOURCE
#include "gitstore.h"

#include <errno.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define CAS_ATTEMPTS 50

struct rb_gitstore {
	git_repository *repo;
	char *gitdir;
	char *workdir;
};

/*
 * libgit2 is set up once per process and shut down at exit: its set-up
 * loads the system's certificates (milliseconds), which per call made
 * hashing thousands of blocks cost seconds.
 */
static int libgit2_ready;

static void lib_shutdown(void)
{
	git_libgit2_shutdown();
}

static void lib_init(void)
{
	if (!libgit2_ready) {
		libgit2_ready = 1;
		git_libgit2_init();
		atexit(lib_shutdown);
	}
}


/*
 * Call right at the failure, with the errno taken there: the message is that
 * of the call that failed (callers clear the last error before it). Some
 * failures come without a message (a loose object whose write hit a full
 * disk): then the system's reason is given. A nearly full filesystem is
 * said, since it is the likely cause.
 */
static int git_fail(rb_error *err, const rb_gitstore *g, const char *what, int sys)
{
	const git_error *e = git_error_last();
	char space[512] = "";
	struct statvfs vfs;
	if (g && statvfs(g->gitdir, &vfs) == 0) {
		unsigned long long avail = (unsigned long long)vfs.f_bavail * (unsigned long long)vfs.f_frsize;
		if (avail < 1024 * 1024)
			snprintf(space, sizeof space, " (%llu KiB free on the filesystem of %s)", avail / 1024, g->gitdir);
	}
	if (e && e->message && *e->message)
		return rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "%s: %s%s", what, e->message, space);
	/* libgit2 makes many calls that fail harmlessly (ENOENT): only a write error is believed. */
	if (sys != ENOSPC && sys != EDQUOT && sys != EROFS && sys != EIO && sys != EACCES && sys != EPERM &&
	    sys != EFBIG)
		sys = 0;
	return rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "%s: %s%s", what,
			    sys ? strerror(sys) : "libgit2 gave no reason", space);
}

int rb_gitstore_open(const char *dir, int discover, int create, rb_gitstore **out, rb_error *err)
{
	int rc = -1;
	git_repository *repo = NULL;
	rb_gitstore *g = NULL;
	lib_init();
	git_error_clear();
	errno = 0;
	int r = git_repository_open_ext(&repo, dir, discover ? 0 : GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
	if (r == GIT_ENOTFOUND && create) {
		git_repository_init_options o;
		git_repository_init_options_init(&o, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
		o.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
		git_error_clear();
		errno = 0;
		r = git_repository_init_ext(&repo, dir, &o);
	}
	if (r < 0) {
		if (r == GIT_ENOTFOUND)
			rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "%s is not a git repository", dir);
		else
			git_fail(err, NULL, dir, errno);
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
	git_error_clear(); /* a ref not there yet is no error */

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
		git_error_clear();
		errno = 0;
		if (git_blob_create_from_buffer(&updates[i].id, g->repo, files[i].data, files[i].len) < 0) {
			git_fail(err, g, "cannot write the audit record", errno);
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
	git_error_clear();
	if (git_signature_now(&sig, name ? name : "runbook", email ? email : "runbook@localhost") < 0) {
		git_fail(err, NULL, "cannot make the commit signature", 0);
		goto done;
	}
	git_oid id;
	int r = GIT_EMODIFIED;
	int sys = 0;
	for (int attempt = 0; attempt < CAS_ATTEMPTS; attempt++) {
		git_error_clear();
		errno = 0;
		r = try_commit(g, ref, updates, n, message, sig, &id);
		sys = errno;
		if (r != GIT_EMODIFIED && r != GIT_EEXISTS && r != GIT_ELOCKED)
			break;
		struct timespec pause = {0, (long)(1 + attempt * 2) * 1000000L};
		nanosleep(&pause, NULL);
	}
	if (r == GIT_ELOCKED) {
		char *lock = rb_xasprintf("%s%s.lock", git_repository_commondir(g->repo), ref);
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0,
			     "cannot commit the audit record: %s is locked by %s; if no git process is running, "
			     "remove that file", ref, lock);
		free(lock);
		goto done;
	}
	if (r < 0) {
		git_fail(err, g, "cannot commit the audit record", sys);
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
	git_error_clear();
	errno = 0;
	if (git_blob_create_from_buffer(&id, g->repo, "", 0) < 0) {
		git_fail(err, g, "the audit repository is not writable", errno);
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

int rb_gitstore_check_ref_lock(rb_gitstore *g, const char *ref, int stale_s, int wait_ms, rb_error *err)
{
	int rc = -1;
	char *lock = rb_xasprintf("%s%s.lock", git_repository_commondir(g->repo), ref);
	int64_t deadline = rb_now_ms() + wait_ms;
	struct stat st;
	for (;;) {
		if (stat(lock, &st) < 0) {
			if (errno == ENOENT)
				break;
			rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot check the lock of %s (%s): %s", ref, lock,
				     strerror(errno));
			goto done;
		}
		long long age = (long long)(time(NULL) - st.st_mtime);
		if (age >= stale_s) {
			rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0,
				     "the audit ref %s is locked by %s, left %lld s ago by a process that did not "
				     "finish; if no git process is running, remove that file",
				     ref, lock, age);
			goto done;
		}
		if (rb_now_ms() >= deadline) {
			rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0,
				     "the audit ref %s is still locked by %s after %d ms; if no git process is "
				     "running, remove that file", ref, lock, wait_ms);
			goto done;
		}
		struct timespec pause = {0, 50 * 1000000L};
		nanosleep(&pause, NULL);
	}
	rc = 0;
done:
	free(lock);
	return rc;
}

int rb_gitstore_free_space(rb_gitstore *g, unsigned long long *bytes, rb_error *err)
{
	struct statvfs vfs;
	if (statvfs(g->gitdir, &vfs) < 0)
		return rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot tell the free space of %s: %s", g->gitdir,
				    strerror(errno));
	*bytes = (unsigned long long)vfs.f_bavail * (unsigned long long)vfs.f_frsize;
	return 0;
}

/* The tree entry at path in the tree of commit c; NULL when absent. Caller frees. */
static git_tree_entry *entry_of(git_commit *c, const char *path)
{
	git_tree *tree = NULL;
	git_tree_entry *entry = NULL;
	if (git_commit_tree(&tree, c) == 0 && git_tree_entry_bypath(&entry, tree, path) < 0)
		entry = NULL;
	git_tree_free(tree);
	return entry;
}

int rb_gitstore_exists(rb_gitstore *g, const char *commit, const char *path)
{
	git_object *obj = NULL;
	git_commit *c = NULL;
	git_tree_entry *entry = NULL;
	if (git_revparse_single(&obj, g->repo, commit) == 0 &&
	    git_commit_lookup(&c, g->repo, git_object_id(obj)) == 0)
		entry = entry_of(c, path);
	int found = entry != NULL;
	git_tree_entry_free(entry);
	git_commit_free(c);
	git_object_free(obj);
	git_error_clear();
	return found;
}

int rb_gitstore_added(rb_gitstore *g, const char *commit, const char *path)
{
	git_oid id;
	git_commit *c = NULL, *parent = NULL;
	git_tree_entry *here = NULL, *before = NULL;
	int added = 0;
	if (git_oid_fromstr(&id, commit) < 0 || git_commit_lookup(&c, g->repo, &id) < 0)
		goto done;
	if (!(here = entry_of(c, path)))
		goto done;
	if (git_commit_parentcount(c) == 0) {
		added = 1;
		goto done;
	}
	if (git_commit_parent(&parent, c, 0) < 0)
		goto done;
	before = entry_of(parent, path);
	added = before == NULL;
done:
	git_tree_entry_free(here);
	git_tree_entry_free(before);
	git_commit_free(parent);
	git_commit_free(c);
	git_error_clear();
	return added;
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
}

int rb_gitstore_hash_file(const char *path, char out[41])
{
	git_oid id;
	lib_init();
	int rc = git_odb_hashfile(&id, path, GIT_OBJECT_BLOB) == 0 ? 0 : -1;
	if (rc == 0)
		git_oid_tostr(out, 41, &id);
	return rc;
}

void rb_gitstore_free(rb_gitstore *g)
{
	if (!g)
		return;
	git_repository_free(g->repo);
	free(g->gitdir);
	free(g->workdir);
	free(g);
}
