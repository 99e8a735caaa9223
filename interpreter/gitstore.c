/*
 * gitstore.c - commits through libgit2's object database and refs API.
 */
#define _DEFAULT_SOURCE
#include "gitstore.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#define CAS_ATTEMPTS 50

struct rb_gitstore {
	git_repository *repo;
	char *gitdir;
	char *workdir;
	rb_gitstore_signer sign;  /* signs each commit written; NULL: none */
	void *sign_ctx;
	rb_error sign_err;        /* why the last signing failed */
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

struct git_repository *rb_gitstore_repo(rb_gitstore *g)
{
	return g->repo;
}

void rb_gitstore_set_signer(rb_gitstore *g, rb_gitstore_signer fn, void *ctx)
{
	g->sign = fn;
	g->sign_ctx = ctx;
}

const rb_error *rb_gitstore_sign_error(const rb_gitstore *g)
{
	return &g->sign_err;
}

int rb_gitstore_write_commit(rb_gitstore *g, const git_signature *author, const git_signature *committer,
			     const char *message, const git_tree *tree, size_t nparents, const git_commit **parents,
			     git_oid *out)
{
	if (!g->sign)
		return git_commit_create(out, g->repo, NULL, author, committer, "UTF-8", message, tree, nparents,
					 parents);
	git_buf buf = {0};
	char *signature = NULL;
	int r = git_commit_create_buffer(&buf, g->repo, author, committer, "UTF-8", message, tree, nparents, parents);
	if (r == 0) {
		rb_error_clear(&g->sign_err);
		if (g->sign(g->sign_ctx, buf.ptr, &signature, &g->sign_err) < 0) {
			git_error_set_str(GIT_ERROR_INVALID, g->sign_err.message ? g->sign_err.message : "cannot sign");
			r = GIT_EUSER;
		} else {
			r = git_commit_create_with_signature(out, g->repo, buf.ptr, signature, "gpgsig");
		}
	}
	free(signature);
	git_buf_dispose(&buf);
	return r;
}

/*
 * Makes ref point at id when it does not exist yet. libgit2 looks for the
 * ref before it takes the ref's lock, so two processes making the first
 * commit at once could both "create" it, the second overwriting the first:
 * the creation is done under a lock of the repository's own (its git
 * directory's runbook/create.lock), the ref looked for again under it.
 * GIT_EEXISTS when it exists now (the caller builds on it instead).
 */
static int create_ref(rb_gitstore *g, const char *ref, const git_oid *id, const char *message)
{
	char *dir = rb_xasprintf("%s/runbook", g->gitdir), *path = rb_xasprintf("%s/create.lock", dir);
	git_reference *newref = NULL;
	git_oid now;
	int r, fd;
	mkdir(dir, 0775);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0664);
	if (fd >= 0)
		while (flock(fd, LOCK_EX) < 0 && errno == EINTR)
			;
	if (git_reference_name_to_id(&now, g->repo, ref) == 0) {
		r = GIT_EEXISTS;
	} else {
		git_error_clear();
		r = git_reference_create(&newref, g->repo, ref, id, 0, message);
	}
	git_reference_free(newref);
	if (fd >= 0)
		close(fd);
	free(path);
	free(dir);
	return r;
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
	if ((r = rb_gitstore_write_commit(g, sig, sig, message, tree, have_parent ? 1 : 0, parents, out)) < 0)
		goto done;
	if (have_parent)
		r = git_reference_create_matching(&newref, g->repo, ref, out, 1, &parent_id, message);
	else
		r = create_ref(g, ref, out, message);
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

/* 1 when path is in the tree whose id is hex, else 0 (also when that tree cannot be read). */
static int in_tree(rb_gitstore *g, const char *hex, const char *path)
{
	git_oid id;
	git_tree *tree = NULL;
	git_tree_entry *entry = NULL;
	int found = git_oid_fromstr(&id, hex) == 0 && git_tree_lookup(&tree, g->repo, &id) == 0 &&
		    git_tree_entry_bypath(&entry, tree, path) == 0;
	git_tree_entry_free(entry);
	git_tree_free(tree);
	git_error_clear();
	return found;
}

int rb_gitstore_added_to(rb_gitstore *g, const char *tree, const char *parent_tree, const char *path)
{
	return parent_tree && in_tree(g, tree, path) && (!*parent_tree || !in_tree(g, parent_tree, path));
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

/*
 * The walk of a ref's history: a queue of commits to show, newest commit
 * time last (so popped first), and, once a merge is met, the set of
 * commits queued since, so that none comes twice. On a linear history, the
 * one runbook writes, the queue never holds more than one commit and the
 * walk is the ref's own order; a merge's parents are taken by commit time,
 * as git log does by default.
 *
 * Each commit is one read of the object database, parsed here, and not
 * kept in libgit2's object cache: libgit2's revwalk reads each commit once
 * to sort it and git_commit_lookup again (GIT_SORT_TIME reads the whole
 * history before it returns the first commit), and a cache of ten thousand
 * commits costs more to fill and to free than the walk saves.
 */
typedef struct {
	git_oid id, tree;
	long long time;            /* the committer's */
	git_oid *parents;
	size_t nparents;
	char *message;             /* after the header, leading newlines skipped (as git_commit_message) */
	char *author;              /* "name <email>" */
} walk_commit;

struct rb_gitstore_walk {
	rb_gitstore *g;
	git_odb *odb;
	walk_commit *queue;        /* newest last */
	size_t nqueue, capqueue;
	int merged;                /* a merge was met: commits may be reached twice from now on */
	git_oid *seen;             /* the commits queued since (open addressing, size a power of two;
				    * zero oid: empty) */
	size_t nseen, capseen;
	walk_commit cur;           /* what rb_gitstore_walk_next lent last */
	char hex[41], tree[41], parent_tree[41];
};

static void walk_commit_free(walk_commit *c)
{
	free(c->parents);
	free(c->message);
	free(c->author);
	memset(c, 0, sizeof *c);
}

/* The signature on a header line (line, len: after "author "), parsed as libgit2 parses a commit's. */
static git_signature *header_signature(const char *line, size_t len)
{
	git_signature *sig = NULL;
	char *text = rb_xstrndup(line, len);
	if (git_signature_from_buffer(&sig, text) < 0)
		sig = NULL;
	free(text);
	return sig;
}

/*
 * Reads commit id into *c: its tree, parents, author, committer time and
 * message, from the object's text. 0, or -1 (not a commit, or one libgit2
 * would not parse for want of a tree, an author or a committer).
 */
static int read_commit(git_odb *odb, const git_oid *id, walk_commit *c)
{
	git_odb_object *obj = NULL;
	int have_tree = 0, have_committer = 0, rc = -1;
	memset(c, 0, sizeof *c);
	c->id = *id;
	if (git_odb_read(&obj, odb, id) < 0 || git_odb_object_type(obj) != GIT_OBJECT_COMMIT)
		goto done;
	const char *p = git_odb_object_data(obj), *end = p + git_odb_object_size(obj);
	while (p < end && *p != '\n') {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		size_t len = (size_t)(eol - p);
		if (len == 45 && !strncmp(p, "tree ", 5)) {
			have_tree = git_oid_fromstrn(&c->tree, p + 5, 40) == 0;
		} else if (len == 47 && !strncmp(p, "parent ", 7)) {
			c->parents = rb_xrealloc(c->parents, (c->nparents + 1) * sizeof *c->parents);
			if (git_oid_fromstrn(&c->parents[c->nparents], p + 7, 40) == 0)
				c->nparents++;
		} else if (len > 7 && !strncmp(p, "author ", 7) && !c->author) {
			git_signature *a = header_signature(p + 7, len - 7);
			if (a)
				c->author = rb_xasprintf("%s <%s>", a->name, a->email);
			git_signature_free(a);
		} else if (len > 10 && !strncmp(p, "committer ", 10) && !have_committer) {
			git_signature *m = header_signature(p + 10, len - 10);
			if (m) {
				c->time = (long long)m->when.time;
				have_committer = 1;
			}
			git_signature_free(m);
		}
		p = nl ? nl + 1 : end;
	}
	if (!have_tree || !c->author || !have_committer)
		goto done;
	if (p < end)
		p++; /* the blank line after the header */
	while (p < end && *p == '\n')
		p++;
	c->message = rb_xstrndup(p, strnlen(p, (size_t)(end - p)));
	rc = 0;
done:
	if (rc < 0)
		walk_commit_free(c);
	git_odb_object_free(obj);
	git_error_clear();
	return rc;
}

static size_t oid_slot(const git_oid *id, size_t cap)
{
	size_t h;
	memcpy(&h, id->id, sizeof h);
	return h & (cap - 1);
}

static int oid_is_zero(const git_oid *id)
{
	static const git_oid zero;
	return git_oid_equal(id, &zero);
}

/*
 * Adds id to the set of commits seen: 1 when it was not there yet. Before
 * the first merge the walk is a chain, where no commit comes twice: the
 * set is kept from there on only.
 */
static int walk_see(rb_gitstore_walk *w, const git_oid *id)
{
	if (oid_is_zero(id))
		return 0; /* never a real commit: not kept, not walked */
	if (!w->merged)
		return 1;
	if (2 * (w->nseen + 1) > w->capseen) {
		size_t cap = w->capseen ? 2 * w->capseen : 64;
		git_oid *seen = rb_xcalloc(cap, sizeof *seen);
		for (size_t i = 0; i < w->capseen; i++) {
			if (oid_is_zero(&w->seen[i]))
				continue;
			size_t s = oid_slot(&w->seen[i], cap);
			while (!oid_is_zero(&seen[s]))
				s = (s + 1) & (cap - 1);
			seen[s] = w->seen[i];
		}
		free(w->seen);
		w->seen = seen;
		w->capseen = cap;
	}
	size_t s = oid_slot(id, w->capseen);
	for (; !oid_is_zero(&w->seen[s]); s = (s + 1) & (w->capseen - 1))
		if (git_oid_equal(&w->seen[s], id))
			return 0;
	w->seen[s] = *id;
	w->nseen++;
	return 1;
}

/* Queues commit id (once), by its commit time: the index in the queue, or -1 (seen already, or unreadable). */
static long walk_push(rb_gitstore_walk *w, const git_oid *id)
{
	walk_commit c;
	if (!walk_see(w, id) || read_commit(w->odb, id, &c) < 0)
		return -1;
	if (w->nqueue == w->capqueue) {
		w->capqueue = w->capqueue ? 2 * w->capqueue : 4;
		w->queue = rb_xrealloc(w->queue, w->capqueue * sizeof *w->queue);
	}
	/* Newest last; among equal times the one queued first comes out first. */
	size_t at = w->nqueue;
	while (at > 0 && w->queue[at - 1].time >= c.time)
		at--;
	memmove(w->queue + at + 1, w->queue + at, (w->nqueue - at) * sizeof *w->queue);
	w->queue[at] = c;
	w->nqueue++;
	return (long)at;
}

/* The tree of commit id as hex into out ("" when it cannot be read). */
static void tree_of(rb_gitstore_walk *w, const git_oid *id, char out[41])
{
	walk_commit c;
	*out = '\0';
	if (read_commit(w->odb, id, &c) == 0)
		git_oid_tostr(out, 41, &c.tree);
	walk_commit_free(&c);
}

int rb_gitstore_walk_start(rb_gitstore *g, const char *ref, rb_gitstore_walk **out)
{
	git_oid id;
	*out = NULL;
	rb_gitstore_walk *w = rb_xcalloc(1, sizeof *w);
	w->g = g;
	if (git_reference_name_to_id(&id, g->repo, ref) < 0 || git_repository_odb(&w->odb, g->repo) < 0) {
		git_error_clear();
		rb_gitstore_walk_free(w);
		return 0;
	}
	walk_push(w, &id);
	*out = w;
	return 0;
}

int rb_gitstore_walk_next(rb_gitstore_walk *w, rb_gitstore_commit_info *info)
{
	walk_commit_free(&w->cur);
	if (!w->nqueue)
		return 0;
	w->cur = w->queue[--w->nqueue];
	w->merged |= w->cur.nparents > 1;
	*w->parent_tree = '\0';
	info->parent_tree = w->parent_tree; /* "": a root commit */
	for (size_t i = 0; i < w->cur.nparents; i++) {
		long at = walk_push(w, &w->cur.parents[i]);
		if (i == 0 && at >= 0)
			git_oid_tostr(w->parent_tree, sizeof w->parent_tree, &w->queue[at].tree);
		else if (i == 0)
			tree_of(w, &w->cur.parents[0], w->parent_tree); /* met before, through a merge */
		if (i == 0 && !*w->parent_tree)
			info->parent_tree = NULL; /* it cannot be read */
	}
	git_oid_tostr(w->hex, sizeof w->hex, &w->cur.id);
	git_oid_tostr(w->tree, sizeof w->tree, &w->cur.tree);
	info->id = w->hex;
	info->message = w->cur.message;
	info->author = w->cur.author;
	info->time = w->cur.time;
	info->tree = w->tree;
	return 1;
}

void rb_gitstore_walk_free(rb_gitstore_walk *w)
{
	if (!w)
		return;
	walk_commit_free(&w->cur);
	for (size_t i = 0; i < w->nqueue; i++)
		walk_commit_free(&w->queue[i]);
	free(w->queue);
	free(w->seen);
	git_odb_free(w->odb);
	free(w);
}

int rb_gitstore_log(rb_gitstore *g, const char *ref, int (*fn)(void *ctx, const rb_gitstore_commit_info *c),
		    void *ctx)
{
	rb_gitstore_walk *w = NULL;
	rb_gitstore_commit_info info;
	int rc = 0;
	rb_gitstore_walk_start(g, ref, &w);
	while (!rc && w && rb_gitstore_walk_next(w, &info))
		rc = fn(ctx, &info);
	rb_gitstore_walk_free(w);
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
	rb_error_clear(&g->sign_err);
	free(g->gitdir);
	free(g->workdir);
	free(g);
}
