/*
 * pgserver.c - a data directory (a copy of the cached template, else
 * initdb), postgres on a private socket, and clean removal, including of
 * the servers of runbook processes that were killed.
 */
#define _GNU_SOURCE
#include "pgserver.h"
#include "process.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <linux/fs.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 30000
#define STOP_GRACE_MS 5000
#define DIR_PREFIX "runbook-pg-"
#define OWNER_FILE "runbook.pid"
#define PG_CONFIG_TIMEOUT_MS 10000
/* A manifest's first line: TEMPLATE_MAGIC and the format's number. */
#define TEMPLATE_MAGIC "runbook pg-template "
#define TEMPLATE_FORMAT TEMPLATE_MAGIC "2"
#define MANIFEST_FILE "manifest"
#define PACK_FILE "data.pack"
/* initdb's arguments besides -D and --username: part of a template's identity. */
#define INITDB_ARGS "--auth=trust", "--no-sync", "--encoding=UTF8", "--locale=C", "--no-instructions"
#define INITDB_ARGS_TEXT "--auth=trust --encoding=UTF8 --locale=C"

struct rb_pgserver {
	char *dir;        /* the temporary directory: data/, the socket, server.log */
	char *datadir;
	char *logfile;
	char *user;
	char *url;
	int port;
	rb_process *server; /* the postmaster; NULL once gone */
	int keep;
	rb_pgserver_say_fn say;   /* progress; NULL: quiet */
	void *say_ctx;
	const int *cancel; /* opts->cancel */
	uid_t run_uid;    /* who runs the server: postgres when we are root */
	gid_t run_gid;
	int as_other;
};

/* A progress message through fn, when there is one. */
__attribute__((format(printf, 3, 4))) static void say(rb_pgserver_say_fn fn, void *ctx, const char *fmt, ...)
{
	if (!fn)
		return;
	rb_buf b = RB_BUF_INIT;
	va_list ap;
	va_start(ap, fmt);
	rb_buf_vprintf(&b, fmt, ap);
	va_end(ap);
	fn(ctx, rb_buf_cstr(&b));
	rb_buf_free(&b);
}

/* The newest PostgreSQL server bindir: pg_config's, else Debian's layout. */
static char *find_bindir(rb_buf *looked)
{
	char *best = NULL;
	const char *forced = getenv("RUNBOOK_PG_BINDIR");
	if (forced && *forced) {
		char *initdb = rb_xasprintf("%s/initdb", forced);
		rb_buf_puts(looked, forced);
		if (access(initdb, X_OK) == 0)
			best = rb_xstrdup(forced);
		free(initdb);
		return best;
	}
	char *const pg_config[] = {"pg_config", "--bindir", NULL};
	char *line = NULL;
	int status = -1;
	rb_error cerr = RB_ERROR_INIT;
	/* Not installed, failing or hanging: the next place is looked at. */
	if (rb_process_capture(pg_config, NULL, PG_CONFIG_TIMEOUT_MS, &line, &status, &cerr) == 0 && status == 0 &&
	    *line) {
		line[strcspn(line, "\n")] = '\0';
		char *initdb = rb_xasprintf("%s/initdb", line);
		rb_buf_printf(looked, "%s", line);
		if (access(initdb, X_OK) == 0)
			best = rb_xstrdup(line);
		free(initdb);
	}
	rb_error_clear(&cerr);
	free(line);
	if (best)
		return best;
	DIR *d = opendir("/usr/lib/postgresql");
	int best_v = -1;
	rb_buf_printf(looked, "%s/usr/lib/postgresql/*/bin", looked->len ? ", " : "");
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		int v = atoi(e->d_name);
		if (v <= 0)
			continue;
		char *initdb = rb_xasprintf("/usr/lib/postgresql/%s/bin/initdb", e->d_name);
		if (access(initdb, X_OK) == 0 && v > best_v) {
			free(best);
			best = rb_xasprintf("/usr/lib/postgresql/%s/bin", e->d_name);
			best_v = v;
		}
		free(initdb);
	}
	if (d)
		closedir(d);
	return best;
}

/*
 * The server's whole environment: PATH, the C locale and UTC, and the
 * library path if one is set. Nothing else of runbook's (its secrets, its
 * PG* variables) reaches initdb or postgres. Caller frees with free_env.
 */
static char **server_env(void)
{
	const char *path = getenv("PATH");
	const char *libs = getenv("LD_LIBRARY_PATH");
	char **env = rb_xcalloc(8, sizeof *env);
	size_t n = 0;
	env[n++] = rb_xasprintf("PATH=%s", path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
	env[n++] = rb_xstrdup("LC_ALL=C");
	env[n++] = rb_xstrdup("LANG=C");
	env[n++] = rb_xstrdup("TZ=UTC");
	if (libs && *libs)
		env[n++] = rb_xasprintf("LD_LIBRARY_PATH=%s", libs);
	env[n] = NULL;
	return env;
}

static void free_env(char **env)
{
	for (size_t i = 0; env && env[i]; i++)
		free(env[i]);
	free(env);
}

/*
 * Starts argv as the server's user, stdin on /dev/null, output appended to
 * the log, with env only; new_session for the postmaster. Returns 0 and
 * *out, or -1 with err.
 */
static int spawn(const rb_pgserver *s, char *const argv[], char *const env[], int new_session, rb_process **out,
		 rb_error *err)
{
	rb_process_opts o;
	memset(&o, 0, sizeof o);
	o.argv = argv;
	o.envp = env;
	o.new_session = new_session;
	o.in.kind = RB_STDIO_NULL;
	int log = open(s->logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (log >= 0) {
		o.out.kind = RB_STDIO_FD;
		o.out.fd = log;
		o.err.kind = RB_STDIO_STDOUT;
	}
	o.switch_user = s->as_other;
	o.uid = s->run_uid;
	o.gid = s->run_gid;
	int rc = rb_process_start(&o, out, err);
	if (log >= 0)
		close(log);
	return rc;
}

/* The last lines of the server log, for error messages. Caller frees. */
static char *log_tail(const char *path)
{
	char *text = NULL;
	size_t len = 0;
	rb_error e = RB_ERROR_INIT;
	if (rb_read_file(path, &text, &len, &e) < 0) {
		rb_error_clear(&e);
		return rb_xstrdup("(no server log)");
	}
	int lines = 0;
	size_t i = len;
	while (i > 0 && lines < 8)
		if (text[--i] == '\n' && i + 1 < len)
			lines++;
	char *tail = rb_xstrdup(text + (i ? i + 1 : 0));
	free(text);
	return tail;
}

static void remove_tree(const char *path)
{
	DIR *d = opendir(path);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char *child = rb_xasprintf("%s/%s", path, e->d_name);
			struct stat st;
			if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
				remove_tree(child);
			else
				unlink(child);
			free(child);
		}
		closedir(d);
	}
	rmdir(path);
}

static void percent_encode(rb_buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.')
			rb_buf_putc(b, (char)c);
		else
			rb_buf_printf(b, "%%%02X", c);
	}
}

/* Field n (1-based, as in proc(5)) of /proc/pid/stat, into out; -1 when unreadable. */
static int proc_stat_field(pid_t pid, int n, char *out, size_t size)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	size_t len = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[len] = '\0';
	char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
	if (!p || n < 3)
		return -1;
	p++;
	for (int field = 3; field <= n; field++) {
		while (*p == ' ')
			p++;
		size_t w = strcspn(p, " \n");
		if (!w)
			return -1;
		if (field == n) {
			snprintf(out, size, "%.*s", (int)w, p);
			return 0;
		}
		p += w;
	}
	return -1;
}

/* 1 while pid runs (a zombie does not). */
static int alive(pid_t pid)
{
	char state[8];
	if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH))
		return 0;
	if (proc_stat_field(pid, 3, state, sizeof state) == 0 && (state[0] == 'Z' || state[0] == 'X'))
		return 0;
	return 1;
}

/* The pid namespace of this process ("pid:[4026531836]"), or "-" where unknown. */
static void pid_namespace(char *out, size_t size)
{
	ssize_t n = readlink("/proc/self/ns/pid", out, size - 1);
	if (n <= 0 || memchr(out, ' ', (size_t)n))
		n = snprintf(out, size, "-");
	out[n] = '\0';
}

/*
 * Writes <dir>/runbook.pid: this process's pid, start time and pid
 * namespace, so that a later run can tell it died (and not mistake a
 * process of another namespace sharing this directory for it).
 */
static void write_owner(const char *dir)
{
	char start[32] = "0", ns[64];
	proc_stat_field(getpid(), 22, start, sizeof start);
	pid_namespace(ns, sizeof ns);
	char *path = rb_xasprintf("%s/" OWNER_FILE, dir);
	FILE *f = fopen(path, "we");
	if (f) {
		fprintf(f, "%d %s %s\n", (int)getpid(), start, ns);
		fclose(f);
	}
	free(path);
}

/*
 * 1 when the runbook that owns dir is gone: its runbook.pid is ours (a
 * regular file owned by our uid) and names a process that no longer runs
 * (or a newer one that got the same pid). 0 when it runs, or when dir is
 * not known to be runbook's (no such file: being created, or kept).
 */
static int owner_gone(const char *dir, pid_t *owner)
{
	char *path = rb_xasprintf("%s/" OWNER_FILE, dir);
	struct stat st;
	int gone = 0, pid = 0;
	char start[32] = "", ns[64] = "", here[64], now[32];
	FILE *f = NULL;
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || !(f = fopen(path, "re")))
		goto done;
	if (fscanf(f, "%d %31s %63s", &pid, start, ns) < 1 || pid <= 0)
		goto done;
	pid_namespace(here, sizeof here);
	if (*ns && strcmp(ns, "-") && strcmp(ns, here))
		goto done; /* a runbook of another pid namespace: its pid means nothing here */
	*owner = (pid_t)pid;
	if (!alive((pid_t)pid))
		gone = 1;
	else if (*start && strcmp(start, "0") && proc_stat_field((pid_t)pid, 22, now, sizeof now) == 0)
		gone = strcmp(now, start) != 0; /* the pid was reused */
done:
	if (f)
		fclose(f);
	free(path);
	return gone;
}

/*
 * The postmaster of the data directory under dir when it still runs as
 * uid: the first line of postmaster.pid, checked against the process's
 * owner and command line (a pid alone may have been reused). 0: none.
 */
static pid_t orphan_postmaster(const char *dir, uid_t uid)
{
	char *pidfile = rb_xasprintf("%s/data/postmaster.pid", dir);
	char *datadir = rb_xasprintf("%s/data", dir);
	char proc[64], cmd[4096];
	struct stat st;
	int pid = 0;
	pid_t found = 0;
	FILE *f = fopen(pidfile, "re");
	if (!f || fscanf(f, "%d", &pid) != 1 || pid <= 0 || !alive((pid_t)pid))
		goto done;
	snprintf(proc, sizeof proc, "/proc/%d", pid);
	if (stat(proc, &st) < 0 || st.st_uid != uid)
		goto done;
	snprintf(proc, sizeof proc, "/proc/%d/cmdline", pid);
	FILE *c = fopen(proc, "re");
	size_t n = c ? fread(cmd, 1, sizeof cmd - 1, c) : 0;
	if (c)
		fclose(c);
	cmd[n] = '\0';
	for (size_t i = 0; i < n; i += strlen(cmd + i) + 1) {
		if (!strcmp(cmd + i, datadir))
			found = (pid_t)pid;
	}
done:
	if (f)
		fclose(f);
	free(pidfile);
	free(datadir);
	return found;
}

/* Sends sig to pid and waits up to ms for it to go. 1 when it went. */
static int signal_and_wait(pid_t pid, int sig, int ms)
{
	kill(pid, sig);
	int64_t deadline = rb_now_ms() + ms;
	while (alive(pid)) {
		if (rb_now_ms() > deadline)
			return 0;
		struct timespec pause = {0, 10 * 1000000L};
		nanosleep(&pause, NULL);
	}
	return 1;
}

/*
 * The orphan in dir, left by runbook pid owner: its postmaster (running as
 * server_uid) stopped, the directory removed, said through say_fn. Returns
 * 1, or 0 when the server would not go (then dir stays).
 */
static int reap_orphan(const char *dir, pid_t owner, uid_t server_uid, rb_pgserver_say_fn say_fn, void *say_ctx)
{
	int done = 0;
	pid_t pm = orphan_postmaster(dir, server_uid);
	/* Immediate shutdown: the data is thrown away anyway. */
	if (pm && !signal_and_wait(pm, SIGQUIT, STOP_GRACE_MS))
		signal_and_wait(pm, SIGKILL, 2000);
	if (!pm || !alive(pm)) {
		char spm[32] = "none running";
		remove_tree(dir);
		if (pm)
			snprintf(spm, sizeof spm, "pid %d, stopped", (int)pm);
		say(say_fn, say_ctx, "runbook: removed the throwaway PostgreSQL left in %s by runbook pid %d, "
			"which is gone (server %s)\n", dir, (int)owner, spm);
		done = 1;
	}
	return done;
}

int rb_pgserver_reap_orphans(const char *tmpdir, rb_pgserver_say_fn say_fn, void *say_ctx)
{
	const char *base = tmpdir && *tmpdir ? tmpdir : getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	uid_t server_uid = geteuid();
	if (geteuid() == 0) {
		struct passwd pwd, *pw = NULL;
		char buf[4096];
		if (getpwnam_r("postgres", &pwd, buf, sizeof buf, &pw) == 0 && pw)
			server_uid = pw->pw_uid;
	}
	int count = 0;
	DIR *d = opendir(base);
	struct dirent *e;
	while (d && (e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, DIR_PREFIX, strlen(DIR_PREFIX)))
			continue;
		char *dir = rb_xasprintf("%s/%s", base, e->d_name);
		struct stat st;
		pid_t owner = 0;
		if (lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && (st.st_uid == geteuid() || st.st_uid == server_uid) &&
		    owner_gone(dir, &owner))
			count += reap_orphan(dir, owner, server_uid, say_fn, say_ctx);
		free(dir);
	}
	if (d)
		closedir(d);
	return count;
}

/*
 * Who runs the server: as root the postgres user (RB_EXIT_ENV when there
 * is none), else we do. 0, or -1 with err.
 */
static int server_user(rb_pgserver *s, rb_error *err)
{
	int rc = 0;
	/* The reentrant lookups: the start may run in a thread of its own (rb_pgserver_start_async). */
	struct passwd pwd, *pw = NULL;
	char buf[4096];
	if (geteuid() == 0) {
		if (getpwnam_r("postgres", &pwd, buf, sizeof buf, &pw) != 0)
			pw = NULL;
		if (!pw) {
			rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0,
				     "running as root, the server must run as the 'postgres' user, which does not exist; "
				     "install the Debian package 'postgresql' or run as an ordinary user");
			rc = -1;
		} else {
			s->as_other = 1;
			s->run_uid = pw->pw_uid;
			s->run_gid = pw->pw_gid;
			s->user = rb_xstrdup("postgres");
		}
	} else {
		if (getpwuid_r(geteuid(), &pwd, buf, sizeof buf, &pw) != 0)
			pw = NULL;
		s->user = rb_xstrdup(pw && pw->pw_name ? pw->pw_name : "postgres");
	}
	return rc;
}

/*
 * Marks dir the top of a directory tree unrelated to its siblings (ext4's
 * FS_TOPDIR_FL, chattr +T), so that the allocator puts a directory made in
 * it in a block group of its own, chosen by the new directory's name (see
 * empty_datadir). Without it each run's ~1,000 files go where the previous
 * run's were just deleted, and on ext4 without a journal the allocator
 * steps over every inode deleted in the last 30 seconds: back-to-back runs
 * copied the template 2-3 times slower. Other filesystems have no such
 * flag; nothing is said.
 */
static void top_of_tree(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC), flags = 0;
	if (fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 && !(flags & FS_TOPDIR_FL)) {
		flags |= FS_TOPDIR_FL;
		if (ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0)
			errno = 0; /* only a hint */
	}
	if (fd >= 0)
		close(fd);
}

/*
 * The server's private directory in base, its runbook.pid written first;
 * it and the server log are handed to the server's user. 0, or -1 with err.
 */
static int make_dir(rb_pgserver *s, const char *base, rb_error *err)
{
	int rc = -1;
	char *tmpl = rb_xasprintf("%s/" DIR_PREFIX "XXXXXX", base);
	if (!mkdtemp(tmpl)) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot create a directory for the server in %s: %s", base,
			     strerror(errno));
		free(tmpl);
		goto done;
	}
	s->dir = tmpl;
	write_owner(s->dir); /* before anything runs there: a kill from now on leaves a reapable orphan */
	top_of_tree(s->dir);
	s->datadir = rb_xasprintf("%s/data", s->dir);
	s->logfile = rb_xasprintf("%s/server.log", s->dir);
	if (s->as_other && chown(s->dir, s->run_uid, s->run_gid) < 0) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot hand %s to the postgres user: %s", s->dir,
			     strerror(errno));
		goto done;
	}
	/* The log is created by us and handed over, so both sides can append. */
	int lf = open(s->logfile, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (lf >= 0) {
		if (s->as_other && fchown(lf, s->run_uid, s->run_gid) < 0)
			rb_error_clear(err);
		close(lf);
	}
	rc = 0;
done:
	return rc;
}

/*
 * s->datadir made empty, 0700, the server user's: under a random name
 * first (the block group of a directory in a top_of_tree one follows its
 * name), then renamed. initdb fills it; so does a copy of the template.
 * 0, or -1 with err.
 */
static int empty_datadir(rb_pgserver *s, rb_error *err)
{
	int rc = -1;
	char *tmp = rb_xasprintf("%s/data-XXXXXX", s->dir);
	if (!mkdtemp(tmp) || (s->as_other && chown(tmp, s->run_uid, s->run_gid) < 0) || rename(tmp, s->datadir) < 0) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot create the data directory %s: %s", s->datadir,
			     strerror(errno));
		rmdir(tmp);
		goto done;
	}
	rc = 0;
done:
	free(tmp);
	return rc;
}

/* initdb of the data directory, waited for. 0, or -1 with err (and the end of the server log). */
static int run_initdb(rb_pgserver *s, const char *bindir, char **env, rb_error *err)
{
	int rc = -1;
	char *initdb = rb_xasprintf("%s/initdb", bindir);
	char *user_opt = rb_xasprintf("--username=%s", s->user);
	char *const init_argv[] = {initdb, "-D", s->datadir, user_opt, INITDB_ARGS, NULL};
	rb_process *ip = NULL;
	rb_error serr = RB_ERROR_INIT;
	int st = 0;
	if (spawn(s, init_argv, env, 0, &ip, &serr) < 0) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "initdb failed: %s", serr.message);
		rb_error_clear(&serr);
		goto done;
	}
	if (rb_process_wait(ip, -1, &st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		char *tail = log_tail(s->logfile);
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "initdb failed:\n%s", tail);
		free(tail);
		goto done;
	}
	rc = 0;
done:
	rb_process_free(ip);
	free(user_opt);
	free(initdb);
	return rc;
}

/* The postmaster, in a session of its own, listening on our directory only. 0, or -1 with err. */
static int start_postgres(rb_pgserver *s, const char *bindir, char **env, rb_error *err)
{
	int rc = 0;
	char *postgres = rb_xasprintf("%s/postgres", bindir);
	char *sock = rb_xasprintf("unix_socket_directories=%s", s->dir);
	char *port = rb_xasprintf("port=%d", s->port);
	/* Throwaway: no durability, no background work, little memory, nothing slow to start or to plan. */
	char *const pg_argv[] = {postgres, "-D", s->datadir, "-c", "listen_addresses=", "-c", sock,
				 "-c", port, "-c", "fsync=off", "-c", "full_page_writes=off",
				 "-c", "synchronous_commit=off", "-c", "wal_init_zero=off",
				 "-c", "autovacuum=off", "-c", "shared_buffers=16MB", "-c", "huge_pages=off",
				 "-c", "max_connections=40", "-c", "jit=off", "-c", "logging_collector=off", NULL};
	rb_error serr = RB_ERROR_INIT;
	if (spawn(s, pg_argv, env, 1, &s->server, &serr) < 0) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot start postgres: %s", serr.message);
		rb_error_clear(&serr);
		rc = -1;
	}
	free(sock);
	free(port);
	free(postgres);
	return rc;
}

/* postgresql://USER@/postgres?host=DIR&port=PORT. Caller frees. */
static char *server_url(const rb_pgserver *s)
{
	return rb_pgserver_url_of(s, "postgres");
}

char *rb_pgserver_url_of(const rb_pgserver *s, const char *dbname)
{
	rb_buf url = RB_BUF_INIT;
	rb_buf_printf(&url, "postgresql://%s@/", s->user);
	percent_encode(&url, dbname);
	rb_buf_puts(&url, "?host=");
	percent_encode(&url, s->dir);
	rb_buf_printf(&url, "&port=%d", s->port);
	return rb_buf_detach(&url);
}

/*
 * 1 once the server's postmaster.pid says it is ready, as `pg_ctl -w`
 * reads it: its first line is our postmaster's pid, its eighth "ready".
 */
static int says_ready(const rb_pgserver *s)
{
	char *path = rb_xasprintf("%s/postmaster.pid", s->datadir);
	char line[256];
	int n = 0, pid = 0, ready = 0;
	FILE *f = fopen(path, "re");
	while (f && fgets(line, sizeof line, f) && ++n <= 8) {
		if (n == 1)
			pid = atoi(line);
		else if (n == 8)
			ready = !strncmp(line, "ready", 5);
	}
	if (f)
		fclose(f);
	free(path);
	return ready && s->server && pid == (int)rb_process_pid(s->server);
}

/* 0, with err set, once the caller has given up the start (rb_pgserver_abandon); else 1. */
static int go_on(const rb_pgserver *s, rb_error *err)
{
	if (s->cancel && __atomic_load_n(s->cancel, __ATOMIC_ACQUIRE)) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "the start was given up");
		return 0;
	}
	return 1;
}

/*
 * Waits until the server, started at t0, accepts connections. 0, or -1
 * with err (and the end of the server log) when it exited or did not
 * answer within START_TIMEOUT_MS.
 */
static int await_ready(rb_pgserver *s, int64_t t0, rb_error *err)
{
	int rc = -1;
	/* Each ping is a backend the postmaster forks: pinged when it says it is ready, and every 100 ms anyway. */
	for (int round = 0;; round++) {
		if ((says_ready(s) || round % 20 == 19) && PQping(s->url) == PQPING_OK) {
			rc = 0;
			break;
		}
		if (rb_process_wait(s->server, 0, NULL) == 0) {
			rb_process *gone = s->server;
			s->server = NULL; /* first: rb_pgserver_kill_async may run in a handler */
			rb_process_free(gone);
			char *tail = log_tail(s->logfile);
			rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "postgres exited during start-up:\n%s", tail);
			free(tail);
			break;
		}
		if (!go_on(s, err))
			break;
		if (rb_now_ms() - t0 > START_TIMEOUT_MS) {
			char *tail = log_tail(s->logfile);
			rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "postgres did not accept connections within %d s:\n%s",
				     START_TIMEOUT_MS / 1000, tail);
			free(tail);
			break;
		}
		struct timespec pause = {0, 5 * 1000000L};
		nanosleep(&pause, NULL);
	}
	return rc;
}

/*
 * The template cache. A template is a directory <root>/<slot> holding two
 * files: data.pack, the files of a data directory as initdb left it, one
 * after another at 4 KiB boundaries (blocks of zeros left as holes), and
 * manifest, written last: what made it, the size of data.pack, and every
 * entry of the data directory in the order of a walk, "d MODE PATH" for a
 * directory (its contents follow it) and "f MODE SIZE OFFSET PATH" for a
 * file whose SIZE bytes are at OFFSET in data.pack. One file rather than a
 * tree because creating a file costs far more than writing it: the run
 * that makes the template would otherwise create a data directory's ~1,000
 * files twice. The slot hashes what a data directory depends on besides
 * the server's build (the bindir, the superuser, initdb's arguments); the
 * build is the manifest's "postgres" line (the binary's size, modification
 * time and inode), so that a new build in the same bindir makes the
 * template stale without running `postgres --version` on every start. A
 * template is made in a temporary sibling (.new-XXXXXX, holding a
 * runbook.pid as a run's directory does) and renamed into place: racing
 * runbooks each make one, the first rename wins and the others throw
 * theirs away. One that is stale or damaged is renamed aside (.old-XXXXXX)
 * and removed before it is made again.
 */
typedef struct {
	char *root;     /* the templates' directory */
	char *dir;      /* root/<slot> */
	char *header;   /* the manifest's first lines, as this server's are */
	char *postgres; /* the manifest's "postgres ..." line, for the binary as it is now */
} tcache;

#define PACK_ALIGN 4096

/* Making a template: a data directory's files into data.pack, listed as they go. */
typedef struct {
	int pack;       /* data.pack, open for writing */
	off_t end;      /* where the next file goes: a multiple of PACK_ALIGN */
	rb_buf listing; /* the manifest's "d" and "f" lines, names in strcmp order */
	char *why;      /* the first failure; the maker's to free */
} packer;

/* Copying a template: data.pack's files into a new data directory. */
typedef struct {
	int pack;       /* data.pack, open for reading */
	off_t size;     /* its size, as the manifest says */
	int hand_over;  /* chown every entry to uid/gid */
	uid_t uid;
	gid_t gid;
	int no_range;   /* copy_file_range failed once: read and write */
	int dst_failed; /* the failure was the destination's (no space, say), not the template's */
	char *why;      /* the first failure; the copier's to free */
} unpacker;

/* 64-bit FNV-1a: names a slot (the manifest's header is compared in full). */
static uint64_t fnv1a(const char *s)
{
	uint64_t h = 14695981039346656037ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int name_order(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Keeps the first failure in *why. Returns -1. */
__attribute__((format(printf, 2, 3))) static int keep_why(char **why, const char *fmt, ...)
{
	if (!*why) {
		rb_buf b = RB_BUF_INIT;
		va_list ap;
		va_start(ap, fmt);
		rb_buf_vprintf(&b, fmt, ap);
		va_end(ap);
		*why = rb_buf_detach(&b);
	}
	return -1;
}

/* n bytes of p to fd at off. 0, or -1 with errno. */
static int pwrite_all(int fd, const char *p, size_t n, off_t off)
{
	while (n > 0) {
		ssize_t w = pwrite(fd, p, n, off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

/* 1 when the n bytes at p are all zero. */
static int all_zero(const char *p, size_t n)
{
	return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/*
 * size bytes of in to out at at, each 4 KiB block of zeros left a hole: a
 * fresh data directory's WAL segment is mostly zeros, and holes cost
 * nothing to copy again. 0, or -1 (errno 0: in was shorter).
 */
static int copy_sparse(int in, int out, off_t at, off_t size)
{
	static char buf[1 << 16];
	const ssize_t block = PACK_ALIGN;
	for (off_t off = 0; off < size;) {
		ssize_t n = pread(in, buf, (size_t)(size - off) < sizeof buf ? (size_t)(size - off) : sizeof buf, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = 0;
			return -1;
		}
		ssize_t i = 0;
		while (i < n) {
			ssize_t j = i;
			while (j < n && !all_zero(buf + j, (size_t)(n - j < block ? n - j : block)))
				j += n - j < block ? n - j : block;
			if (j > i && pwrite_all(out, buf + i, (size_t)(j - i), at + off + i) < 0)
				return -1;
			i = j < n ? j + (n - j < block ? n - j : block) : j; /* past the block of zeros */
		}
		off += n;
	}
	return 0;
}

/* The regular file src (rel in the listing) into the pack. 0, or -1 with p->why. */
static int pack_file(packer *p, const char *src, const char *rel)
{
	int rc = -1;
	struct stat st;
	int in = open(src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0 || fstat(in, &st) < 0) {
		keep_why(&p->why, "%s: %s", src, strerror(errno));
		goto done;
	}
	rb_buf_printf(&p->listing, "f %o %lld %lld %s\n", (unsigned)(st.st_mode & 07777), (long long)st.st_size,
		      (long long)p->end, rel);
	if (copy_sparse(in, p->pack, p->end, st.st_size) < 0) {
		keep_why(&p->why, "copying %s: %s", src, errno ? strerror(errno) : "it changed meanwhile");
		goto done;
	}
	p->end += (st.st_size + PACK_ALIGN - 1) / PACK_ALIGN * PACK_ALIGN;
	rc = 0;
done:
	if (in >= 0)
		close(in);
	return rc;
}

/*
 * The directory src (rel in the listing: "." at the top) and everything in
 * it into the pack. Anything but directories and regular files is a
 * failure. 0, or -1 with p->why.
 */
static int pack_tree(packer *p, const char *src, const char *rel)
{
	int rc = -1, n = -1;
	struct dirent **names = NULL;
	struct stat st;
	if (lstat(src, &st) < 0) {
		keep_why(&p->why, "%s: %s", src, strerror(errno));
		goto done;
	}
	if (!S_ISDIR(st.st_mode)) {
		keep_why(&p->why, "%s is not a directory", src);
		goto done;
	}
	rb_buf_printf(&p->listing, "d %o %s\n", (unsigned)(st.st_mode & 07777), rel);
	if ((n = scandir(src, &names, NULL, name_order)) < 0) {
		keep_why(&p->why, "%s: %s", src, strerror(errno));
		goto done;
	}
	rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		const char *name = names[i]->d_name;
		if (!strcmp(name, ".") || !strcmp(name, ".."))
			continue;
		char *s = rb_xasprintf("%s/%s", src, name);
		char *r = strcmp(rel, ".") ? rb_xasprintf("%s/%s", rel, name) : rb_xstrdup(name);
		struct stat cst;
		if (lstat(s, &cst) < 0)
			rc = keep_why(&p->why, "%s: %s", s, strerror(errno));
		else if (S_ISDIR(cst.st_mode))
			rc = pack_tree(p, s, r);
		else if (S_ISREG(cst.st_mode))
			rc = pack_file(p, s, r);
		else
			rc = keep_why(&p->why, "%s is neither a file nor a directory", s);
		free(s);
		free(r);
	}
done:
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

/* Bytes [from, to) of the pack to out at from - delta: copy_file_range, else read and write. 0, or -1. */
static int unpack_range(unpacker *u, int out, off_t from, off_t to, off_t delta)
{
	static char buf[1 << 16];
	while (!u->no_range && from < to) {
		loff_t a = from, b = from - delta;
		ssize_t n = copy_file_range(u->pack, &a, out, &b, (size_t)(to - from), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP || errno == EINVAL))
			u->no_range = 1;
		else if (n <= 0)
			return -1; /* 0: the pack is shorter than it was */
		else
			from += n;
	}
	while (from < to) {
		size_t want = (size_t)(to - from) < sizeof buf ? (size_t)(to - from) : sizeof buf;
		ssize_t n = pread(u->pack, buf, want, from);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || pwrite_all(out, buf, (size_t)n, from - delta) < 0)
			return -1;
		from += n;
	}
	return 0;
}

/* size bytes at off in the pack to out, its holes left holes. 0, or -1 with errno. */
static int unpack_data(unpacker *u, int out, off_t off, off_t size)
{
	off_t at = off, end = off + size;
	while (at < end) {
		off_t data = lseek(u->pack, at, SEEK_DATA), hole = end;
		if (data < 0 && errno == ENXIO)
			break; /* a hole to the pack's end */
		if (data < 0)
			data = at; /* SEEK_DATA unsupported: all of it */
		else if ((hole = lseek(u->pack, data, SEEK_HOLE)) < 0 || hole > end)
			hole = end;
		if (data >= end)
			break;
		if (unpack_range(u, out, data, hole, off) < 0)
			return -1;
		at = hole;
	}
	return ftruncate(out, size); /* holes at the end */
}

/* 1 when rel is a path inside the data directory: relative, no empty, "." or ".." part. */
static int inside(const char *rel)
{
	const char *p = rel;
	if (!strcmp(rel, "."))
		return 1;
	for (;;) {
		size_t n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return 0;
		if (!p[n])
			return 1;
		p += n + 1;
	}
}

/*
 * One manifest line ("d MODE PATH" or "f MODE SIZE OFFSET PATH") made in
 * dst, the new data directory. 0, or -1 with u->why.
 */
static int unpack_entry(unpacker *u, const char *line, const char *dst)
{
	int rc = -1, out = -1;
	char kind = 0, *path = NULL, *rel = NULL;
	unsigned mode = 0;
	long long size = 0, off = 0;
	int used = 0;
	if (sscanf(line, "%c %o %n", &kind, &mode, &used) == 2 && kind == 'd' && inside(line + used))
		rel = rb_xstrdup(line + used);
	else if (sscanf(line, "%c %o %lld %lld %n", &kind, &mode, &size, &off, &used) == 4 && kind == 'f' &&
		 size >= 0 && off >= 0 && off % PACK_ALIGN == 0 && off <= u->size && size <= u->size - off &&
		 strcmp(line + used, ".") && inside(line + used))
		rel = rb_xstrdup(line + used);
	if (!rel || (mode & ~07777u)) {
		keep_why(&u->why, "its manifest has a line that is not an entry: %.60s", line);
		goto done;
	}
	path = strcmp(rel, ".") ? rb_xasprintf("%s/%s", dst, rel) : rb_xstrdup(dst);
	if (kind == 'd') {
		/* The top one is there already, empty (empty_datadir). */
		if ((strcmp(rel, ".") && mkdir(path, 0700) < 0) || chmod(path, mode) < 0 ||
		    (u->hand_over && chown(path, u->uid, u->gid) < 0)) {
			u->dst_failed = errno != ENOENT && errno != EEXIST;
			keep_why(&u->why, "%s: %s", path, strerror(errno));
			goto done;
		}
	} else {
		out = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (out < 0 || fchmod(out, mode) < 0 || (u->hand_over && fchown(out, u->uid, u->gid) < 0)) {
			u->dst_failed = errno != ENOENT && errno != EEXIST;
			keep_why(&u->why, "%s: %s", path, strerror(errno));
			goto done;
		}
		errno = 0;
		if (unpack_data(u, out, off, size) < 0) {
			u->dst_failed = errno == ENOSPC || errno == EDQUOT || errno == EROFS || errno == EFBIG;
			keep_why(&u->why, "copying %s: %s", path, errno ? strerror(errno) : "data.pack is shorter than it was");
			goto done;
		}
	}
	rc = 0;
done:
	if (out >= 0)
		close(out);
	free(path);
	free(rel);
	return rc;
}

/*
 * This user's templates' directory (made when missing), or NULL: turned
 * off, none to be found, or not ours alone (said through say_fn).
 * Caller frees.
 */
static char *cache_root(rb_pgserver_say_fn say_fn, void *say_ctx)
{
	char *dir;
	switch (rb_cache_dir("RUNBOOK_PG_CACHE", "pg-templates", &dir)) {
	case RB_CACHE_DIR_OK:
	case RB_CACHE_DIR_OFF:
		break;
	case RB_CACHE_DIR_NOT_ABSOLUTE:
		say(say_fn, say_ctx, "runbook: RUNBOOK_PG_CACHE=%s is not an absolute path: initdb this time\n", dir);
		free(dir);
		dir = NULL;
		break;
	case RB_CACHE_DIR_NOT_OURS:
		say(say_fn, say_ctx, "runbook: the PostgreSQL template cache %s is not usable (%s): initdb this time\n",
		    dir, errno ? strerror(errno) : "another user's, or writable by others");
		free(dir);
		dir = NULL;
		break;
	}
	return dir;
}

/* The "postgres ..." manifest line of bindir's server binary (its build); NULL when there is none. */
static char *binary_line(const char *bindir)
{
	char *path = rb_xasprintf("%s/postgres", bindir);
	struct stat st;
	char *line = NULL;
	if (stat(path, &st) == 0)
		line = rb_xasprintf("postgres %s %lld %lld.%09ld %llu\n", path, (long long)st.st_size,
				    (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec, (unsigned long long)st.st_ino);
	free(path);
	return line;
}

static void tcache_free(tcache *t)
{
	if (t) {
		free(t->root);
		free(t->dir);
		free(t->header);
		free(t->postgres);
		free(t);
	}
}

/* What runbooks killed while making or discarding a template left in the cache. */
static void template_leftovers(const tcache *t)
{
	DIR *d = opendir(t->root);
	struct dirent *e;
	pid_t owner = 0;
	while (d && (e = readdir(d)) != NULL) {
		int old = !strncmp(e->d_name, ".old-", 5), made = !strncmp(e->d_name, ".new-", 5);
		char *path = old || made ? rb_xasprintf("%s/%s", t->root, e->d_name) : NULL;
		/* .old-*: nobody's any more; .new-*: its maker's until that runbook is gone. */
		if (old || (made && owner_gone(path, &owner)))
			remove_tree(path);
		free(path);
	}
	if (d)
		closedir(d);
}

/* The template cache for s's server (its user set), or NULL when there is none to use. */
static tcache *tcache_open(const rb_pgserver *s, const char *bindir)
{
	char *root = cache_root(s->say, s->say_ctx);
	char *postgres = root ? binary_line(bindir) : NULL;
	tcache *t = NULL;
	if (postgres) {
		t = rb_xcalloc(1, sizeof *t);
		t->root = root;
		t->postgres = postgres;
		t->header = rb_xasprintf(TEMPLATE_FORMAT "\nbindir %s\nuser %s\ninitdb " INITDB_ARGS_TEXT "\n",
					 bindir, s->user);
		/* The slot leaves the format out: a template of another format is found there, and replaced. */
		t->dir = rb_xasprintf("%s/%016llx", root,
				      (unsigned long long)fnv1a(t->header + strlen(TEMPLATE_FORMAT "\n")));
		root = postgres = NULL;
		template_leftovers(t);
	}
	free(root);
	free(postgres);
	return t;
}

/* A small regular file of ours (not a link) into *text (caller frees). 0, or -1 with errno. */
static int read_own(const char *path, char **text)
{
	int rc = -1, e = 0;
	rb_buf b = RB_BUF_INIT;
	struct stat st;
	char chunk[8192];
	ssize_t n = 0;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		e = errno;
		goto done;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		e = EPERM;
		goto done;
	}
	while ((n = read(fd, chunk, sizeof chunk)) > 0 || (n < 0 && errno == EINTR))
		if (n > 0)
			rb_buf_add(&b, chunk, (size_t)n);
	if (n < 0) {
		e = errno;
		goto done;
	}
	*text = rb_xstrdup(rb_buf_cstr(&b));
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	rb_buf_free(&b);
	errno = e;
	return rc;
}

/* The major version in `postgres --version`'s words: "15", or "9.6" before 10. Caller frees. */
static char *major_of(const char *version)
{
	const char *p = strstr(version, "(PostgreSQL) ");
	size_t n = 0;
	if (p) {
		p += strlen("(PostgreSQL) ");
		n = strspn(p, "0123456789");
		if (atoi(p) < 10 && p[n] == '.')
			n += 1 + strspn(p + n + 1, "0123456789");
	}
	return p && n ? rb_xstrndup(p, n) : rb_xstrdup("?");
}

/*
 * Copies the template into s->datadir (handed to the server's user) once
 * it is found sound: its manifest this server's, complete, made by the
 * binary as it is now; data.pack ours alone and of the size it lists; the
 * copy's PG_VERSION that version's. 0: copied; 1: there is none; 2: stale
 * or damaged; -1: the copy could not be written (no space, say). With 2
 * and -1, *why says why (caller frees) and nothing is left in s->datadir.
 */
static int template_copy(const tcache *t, rb_pgserver *s, char **why)
{
	int rc = 2;
	char *mpath = rb_xasprintf("%s/" MANIFEST_FILE, t->dir);
	char *ppath = rb_xasprintf("%s/" PACK_FILE, t->dir);
	char *pgv_path = rb_xasprintf("%s/PG_VERSION", s->datadir);
	char *manifest = NULL, *version = NULL, *major = NULL, *pgv = NULL;
	unpacker u = {.pack = -1, .hand_over = s->as_other, .uid = s->run_uid, .gid = s->run_gid};
	rb_error err = RB_ERROR_INIT;
	size_t pgv_len = 0;
	struct stat st;
	long long size = -1;
	int used = 0;
	if (read_own(mpath, &manifest) < 0) {
		if (errno == ENOENT && lstat(t->dir, &st) < 0 && errno == ENOENT)
			rc = 1;
		else
			*why = rb_xasprintf("%s: %s", mpath, strerror(errno));
		goto done;
	}
	size_t hlen = strlen(t->header), plen = strlen(t->postgres), mlen = strlen(manifest);
	if (strncmp(manifest, t->header, hlen)) {
		*why = rb_xasprintf(strncmp(manifest, TEMPLATE_MAGIC, strlen(TEMPLATE_MAGIC))
				    ? "its manifest is not this server's" : "its format is another runbook's");
		goto done;
	}
	const char *was = strstr(manifest, "\nversion ");
	const char *pack_line = was ? strchr(was + 1, '\n') : NULL;
	if (!pack_line || mlen < 5 || strcmp(manifest + mlen - 5, "\nend\n") ||
	    sscanf(pack_line + 1, PACK_FILE " %lld\n%n", &size, &used) != 1 || !used || size < 0) {
		*why = rb_xasprintf("its manifest is incomplete");
		goto done;
	}
	version = rb_xstrndup(was + 9, strcspn(was + 9, "\n"));
	if (strncmp(manifest + hlen, t->postgres, plen) || was != manifest + hlen + plen - 1) {
		*why = rb_xasprintf("made by %s; the server binary has changed since", version);
		goto done;
	}
	u.pack = open(ppath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (u.pack < 0 || fstat(u.pack, &st) < 0) {
		*why = rb_xasprintf("%s: %s", ppath, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & (S_IWGRP | S_IWOTH))) {
		*why = rb_xasprintf("%s is another user's or writable by others", ppath);
		goto done;
	}
	if (st.st_size != size) {
		*why = rb_xasprintf("its " PACK_FILE " is %lld bytes, its manifest says %lld", (long long)st.st_size, size);
		goto done;
	}
	u.size = size;
	char *listing = rb_xstrndup(pack_line + 1 + used, mlen - 5 - (size_t)(pack_line + 1 + used - manifest) + 1);
	int ok = 1;
	for (char *line = listing, *nl; ok && *line; line = nl + 1) {
		nl = strchr(line, '\n');
		*nl = '\0';
		ok = unpack_entry(&u, line, s->datadir) == 0;
	}
	free(listing);
	if (!ok) {
		*why = u.why;
		u.why = NULL;
		rc = u.dst_failed ? -1 : 2;
		goto done;
	}
	major = major_of(version);
	if (rb_read_file(pgv_path, &pgv, &pgv_len, &err) < 0 || strncmp(pgv, major, strlen(major)) ||
	    strcmp(pgv + strlen(major), "\n")) {
		*why = rb_xasprintf("its PG_VERSION is not %s", major);
		goto done;
	}
	rc = 0;
done:
	if (rc == 2 || rc == -1)
		remove_tree(s->datadir);
	if (u.pack >= 0)
		close(u.pack);
	free(u.why);
	rb_error_clear(&err);
	free(manifest);
	free(version);
	free(major);
	free(pgv);
	free(pgv_path);
	free(ppath);
	free(mpath);
	return rc;
}

/* The stale or damaged template out of the way: renamed aside, then removed. */
static void template_discard(const tcache *t)
{
	char *old = rb_xasprintf("%s/.old-XXXXXX", t->root);
	/* rename(2) replaces an empty directory: the name is ours alone. */
	if (mkdtemp(old))
		rename(t->dir, old);
	remove_tree(old);
	free(old);
}

/*
 * Keeps s->datadir, just made by initdb, as the template (version: what
 * `postgres --version` said). A failure is said and otherwise harmless:
 * the run goes on, the next one makes the template again.
 */
static void template_save(const tcache *t, const rb_pgserver *s, const char *version)
{
	char *tmp = rb_xasprintf("%s/.new-XXXXXX", t->root);
	char *ppath = NULL, *mpath = NULL, *owner = NULL, *why = NULL;
	packer p = {.pack = -1, .listing = RB_BUF_INIT};
	rb_buf m = RB_BUF_INIT;
	int made = 0, fd = -1, e;
	char *major = major_of(version), *pgv = NULL, *pgv_path = NULL;
	rb_error err = RB_ERROR_INIT;
	size_t pgv_len = 0;
	if (!strcmp(major, "?")) {
		why = rb_xasprintf("`postgres --version` said \"%s\"", version);
		goto done;
	}
	pgv_path = rb_xasprintf("%s/PG_VERSION", s->datadir);
	if (rb_read_file(pgv_path, &pgv, &pgv_len, &err) < 0 || strncmp(pgv, major, strlen(major)) ||
	    strcmp(pgv + strlen(major), "\n")) {
		why = rb_xasprintf("initdb's PG_VERSION is not %s's", version);
		goto done;
	}
	if (!mkdtemp(tmp)) {
		why = rb_xasprintf("%s: %s", tmp, strerror(errno));
		goto done;
	}
	made = 1;
	write_owner(tmp);
	ppath = rb_xasprintf("%s/" PACK_FILE, tmp);
	p.pack = open(ppath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (p.pack < 0) {
		why = rb_xasprintf("%s: %s", ppath, strerror(errno));
		goto done;
	}
	if (pack_tree(&p, s->datadir, ".") < 0) {
		why = p.why;
		p.why = NULL;
		goto done;
	}
	if (ftruncate(p.pack, p.end) < 0) { /* the last file's holes */
		why = rb_xasprintf("%s: %s", ppath, strerror(errno));
		goto done;
	}
	rb_buf_printf(&m, "%s%sversion %s\n" PACK_FILE " %lld\n%send\n", t->header, t->postgres, version,
		      (long long)p.end, rb_buf_cstr(&p.listing));
	mpath = rb_xasprintf("%s/" MANIFEST_FILE, tmp);
	fd = open(mpath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || (e = rb_write_all(fd, m.data, m.len, NULL)) != 0) {
		why = rb_xasprintf("%s: %s", mpath, strerror(fd < 0 ? errno : e));
		goto done;
	}
	owner = rb_xasprintf("%s/" OWNER_FILE, tmp);
	unlink(owner);
	/* The first runbook to get here wins; a later one finds the slot taken and throws its copy away. */
	if (rename(tmp, t->dir) == 0)
		made = 0;
	else if (errno != EEXIST && errno != ENOTEMPTY)
		why = rb_xasprintf("%s: %s", t->dir, strerror(errno));
done:
	if (fd >= 0)
		close(fd);
	if (p.pack >= 0)
		close(p.pack);
	if (why)
		say(s->say, s->say_ctx, "runbook: could not keep the PostgreSQL template in %s (%s); "
			"the next run makes it again\n", t->dir, why);
	if (made)
		remove_tree(tmp);
	rb_buf_free(&p.listing);
	rb_buf_free(&m);
	free(p.why);
	free(why);
	free(major);
	free(pgv);
	free(pgv_path);
	rb_error_clear(&err);
	free(owner);
	free(mpath);
	free(ppath);
	free(tmp);
}

/* `postgres --version` started, its output in a pipe (read by version_end); NULL when it cannot start. */
static rb_process *version_start(const char *bindir, char **env)
{
	char *postgres = rb_xasprintf("%s/postgres", bindir);
	char *const argv[] = {postgres, "--version", NULL};
	rb_process_opts o;
	rb_process *p = NULL;
	rb_error err = RB_ERROR_INIT;
	memset(&o, 0, sizeof o);
	o.argv = argv;
	o.envp = env;
	o.in.kind = RB_STDIO_NULL;
	o.out.kind = RB_STDIO_PIPE;
	o.err.kind = RB_STDIO_NULL;
	if (rb_process_start(&o, &p, &err) < 0)
		p = NULL;
	rb_error_clear(&err);
	free(postgres);
	return p;
}

/* What the `postgres --version` of version_start said ("unknown" when nothing); frees p. Caller frees. */
static char *version_end(rb_process *p)
{
	rb_buf b = RB_BUF_INIT;
	char chunk[512];
	ssize_t n;
	int fd = p ? rb_process_fd(p, 1) : -1;
	while (fd >= 0 && b.len < 4096 && ((n = read(fd, chunk, sizeof chunk)) > 0 || (n < 0 && errno == EINTR)))
		if (n > 0)
			rb_buf_add(&b, chunk, (size_t)n);
	if (p) {
		rb_process_close_fd(p, 1);
		rb_process_wait(p, -1, NULL);
		rb_process_free(p);
	}
	char *text = rb_trim_dup(rb_buf_cstr(&b));
	rb_buf_free(&b);
	if (!*text || strchr(text, '\n')) {
		free(text);
		text = rb_xstrdup("unknown");
	}
	return text;
}

/*
 * s->datadir: a copy of the template (*from_template set), else initdb's,
 * then kept as the template when there is a cache (t). 0, or -1 with err.
 */
static int make_data(rb_pgserver *s, const tcache *t, const char *bindir, char **env, int *from_template,
		     rb_error *err)
{
	int rc = -1;
	char *why = NULL, *version = NULL;
	rb_process *vp = NULL;
	*from_template = 0;
	if (empty_datadir(s, err) < 0)
		goto done;
	if (t) {
		int found = template_copy(t, s, &why);
		if (found == 0) {
			*from_template = 1;
			rc = 0;
			goto done;
		}
		if (found < 0) {
			rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot copy the PostgreSQL template: %s", why);
			goto done;
		}
		if (found == 1)
			say(s->say, s->say_ctx, "runbook: creating the PostgreSQL template in %s (initdb once; later "
				"runs copy it)\n", t->dir);
		else
			say(s->say, s->say_ctx, "runbook: the PostgreSQL template in %s cannot be used (%s): "
				"rebuilding it\n", t->dir, why);
		if (found == 2)
			template_discard(t);
		vp = version_start(bindir, env); /* side by side with initdb */
	}
	if (run_initdb(s, bindir, env, err) < 0)
		goto done;
	if (t) {
		version = version_end(vp);
		vp = NULL;
		template_save(t, s, version);
	}
	rc = 0;
done:
	if (vp)
		free(version_end(vp));
	free(version);
	free(why);
	return rc;
}

int rb_pgserver_start(const rb_pgserver_opts *opts, rb_pgserver **out, rb_error *err)
{
	int rc = -1, from_template = 0;
	rb_buf looked = RB_BUF_INIT;
	char *bindir = find_bindir(&looked);
	rb_pgserver *s = rb_xcalloc(1, sizeof *s);
	char **env = server_env();
	tcache *t = NULL;
	int64_t t0 = rb_now_ms();
	s->say = opts ? opts->say : NULL;
	s->say_ctx = opts ? opts->say_ctx : NULL;
	s->keep = opts ? opts->keep : 0;
	s->cancel = opts ? opts->cancel : NULL;

	if (!bindir) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0,
			     "PostgreSQL server binaries not found (looked in %s); install the Debian package 'postgresql'",
			     looked.data ? looked.data : "nothing");
		goto done;
	}
	if (server_user(s, err) < 0)
		goto done;
	const char *base = opts && opts->base_dir ? opts->base_dir : getenv("TMPDIR");
	rb_pgserver_reap_orphans(base, s->say, s->say_ctx);
	if (make_dir(s, base && *base ? base : "/tmp", err) < 0)
		goto done;
	/* A port number only names the socket file, private to our directory. */
	s->port = 5432;
	s->url = server_url(s);
	t = opts && opts->no_cache ? NULL : tcache_open(s, bindir);
	int started = make_data(s, t, bindir, env, &from_template, err) == 0 && go_on(s, err) &&
		      start_postgres(s, bindir, env, err) == 0;
	int ready = started && await_ready(s, t0, err) == 0;
	if (!ready && started && from_template && !s->server && !(s->cancel && __atomic_load_n(s->cancel, __ATOMIC_ACQUIRE))) {
		/* It exited during start-up: the template is damaged in a way its manifest cannot show. */
		say(s->say, s->say_ctx, "runbook: the server did not start from the PostgreSQL template in %s: "
			"rebuilding it\n", t->dir);
		rb_error_clear(err);
		template_discard(t);
		remove_tree(s->datadir);
		int64_t again = rb_now_ms();
		ready = make_data(s, t, bindir, env, &from_template, err) == 0 &&
			start_postgres(s, bindir, env, err) == 0 && await_ready(s, again, err) == 0;
	}
	if (!ready)
		goto done;
	say(s->say, s->say_ctx, "runbook: throwaway PostgreSQL ready in %.2fs (%s; socket in %s)\n",
	    (double)(rb_now_ms() - t0) / 1000.0, from_template ? "a copy of the cached template" : "initdb", s->dir);
	*out = s;
	s = NULL;
	rc = 0;
done:
	if (s) {
		s->keep = 0;
		s->say = NULL;
		rb_pgserver_stop(s);
	}
	tcache_free(t);
	rb_buf_free(&looked);
	free_env(env);
	free(bindir);
	return rc;
}

/*
 * A start in a thread of its own. The thread blocks every signal (the
 * process's handlers run in the caller's thread) and hands what the start
 * says to the queue, from which rb_pgserver_finish passes it on as it comes.
 */
struct rb_pgserver_job {
	rb_pgserver_opts opts; /* say: job_say; base_dir: a copy */
	pthread_t thread;
	int threaded;          /* the thread runs; else the start is rb_pgserver_finish's */
	int cancel;            /* read by the start through opts.cancel */
	pthread_mutex_t lock;  /* guards what follows */
	pthread_cond_t moved;  /* a message queued, or done */
	char **said;           /* messages not passed on yet, in order */
	size_t nsaid, said_cap;
	int done;
	int rc;                /* rb_pgserver_start's */
	rb_pgserver *server;
	rb_error err;
};

static void job_say(void *ctx, const char *text)
{
	rb_pgserver_job *j = ctx;
	pthread_mutex_lock(&j->lock);
	if (j->nsaid == j->said_cap) {
		j->said_cap = j->said_cap ? 2 * j->said_cap : 8;
		j->said = rb_xrealloc(j->said, j->said_cap * sizeof *j->said);
	}
	j->said[j->nsaid++] = rb_xstrdup(text);
	pthread_cond_signal(&j->moved);
	pthread_mutex_unlock(&j->lock);
}

static void *job_main(void *arg)
{
	rb_pgserver_job *j = arg;
	rb_pgserver *server = NULL;
	rb_error err = RB_ERROR_INIT;
	int rc = rb_pgserver_start(&j->opts, &server, &err);
	pthread_mutex_lock(&j->lock);
	j->rc = rc;
	j->server = server;
	j->err = err;
	j->done = 1;
	pthread_cond_signal(&j->moved);
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

rb_pgserver_job *rb_pgserver_start_async(const rb_pgserver_opts *opts)
{
	rb_pgserver_job *j = rb_xcalloc(1, sizeof *j);
	sigset_t all, old;
	if (opts)
		j->opts = *opts;
	j->opts.base_dir = opts && opts->base_dir ? rb_xstrdup(opts->base_dir) : NULL;
	j->opts.say = job_say;
	j->opts.say_ctx = j;
	j->opts.cancel = &j->cancel;
	j->err = (rb_error)RB_ERROR_INIT;
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->moved, NULL);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old); /* the thread starts with them blocked */
	j->threaded = pthread_create(&j->thread, NULL, job_main, j) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return j;
}

/* Waits for the thread, passing on what it says through fn (NULL: dropped). */
static void job_wait(rb_pgserver_job *j, rb_pgserver_say_fn fn, void *ctx)
{
	pthread_mutex_lock(&j->lock);
	for (;;) {
		while (j->nsaid) {
			char *text = j->said[0];
			memmove(j->said, j->said + 1, --j->nsaid * sizeof *j->said);
			pthread_mutex_unlock(&j->lock);
			if (fn)
				fn(ctx, text);
			free(text);
			pthread_mutex_lock(&j->lock);
		}
		if (j->done)
			break;
		pthread_cond_wait(&j->moved, &j->lock);
	}
	pthread_mutex_unlock(&j->lock);
	pthread_join(j->thread, NULL);
}

static void job_free(rb_pgserver_job *j)
{
	for (size_t i = 0; i < j->nsaid; i++)
		free(j->said[i]);
	free(j->said);
	free((char *)j->opts.base_dir);
	rb_error_clear(&j->err);
	pthread_mutex_destroy(&j->lock);
	pthread_cond_destroy(&j->moved);
	free(j);
}

int rb_pgserver_finish(rb_pgserver_job *j, rb_pgserver_say_fn say_fn, void *say_ctx, rb_pgserver **out,
		       rb_error *err)
{
	int rc;
	if (j->threaded) {
		job_wait(j, say_fn, say_ctx);
		rc = j->rc;
		if (rc == 0) {
			*out = j->server;
			(*out)->say = say_fn; /* the job's say goes with the job */
			(*out)->say_ctx = say_ctx;
			(*out)->cancel = NULL;
		} else {
			*err = j->err;
			j->err = (rb_error)RB_ERROR_INIT;
		}
	} else {
		rb_pgserver_opts o = j->opts;
		o.say = say_fn;
		o.say_ctx = say_ctx;
		o.cancel = NULL;
		rc = rb_pgserver_start(&o, out, err);
	}
	job_free(j);
	return rc;
}

void rb_pgserver_abandon(rb_pgserver_job *j)
{
	if (!j)
		return;
	if (j->threaded) {
		__atomic_store_n(&j->cancel, 1, __ATOMIC_RELEASE);
		job_wait(j, NULL, NULL);
		if (j->server) {
			j->server->keep = 0;
			j->server->say = NULL;
			rb_pgserver_stop(j->server);
		}
	}
	job_free(j);
}


const char *rb_pgserver_host(const rb_pgserver *s) { return s->dir; }
int rb_pgserver_port(const rb_pgserver *s) { return s->port; }
const char *rb_pgserver_user(const rb_pgserver *s) { return s->user; }
const char *rb_pgserver_dbname(const rb_pgserver *s) { (void)s; return "postgres"; }
const char *rb_pgserver_url(const rb_pgserver *s) { return s->url; }
const char *rb_pgserver_datadir(const rb_pgserver *s) { return s->datadir; }

int rb_pgserver_export_env(const rb_pgserver *s)
{
	char port[16];
	snprintf(port, sizeof port, "%d", s->port);
	setenv("PGHOST", s->dir, 1);
	setenv("PGPORT", port, 1);
	setenv("PGUSER", s->user, 1);
	setenv("PGDATABASE", "postgres", 1);
	setenv("DATABASE_URL", s->url, 1);
	unsetenv("PGPASSWORD");
	unsetenv("PGSERVICE");
	unsetenv("PGHOSTADDR");
	return 0;
}

void rb_pgserver_kill_async(const rb_pgserver *s)
{
	if (s && s->server)
		rb_process_signal(s->server, SIGQUIT, 0);
}

void rb_pgserver_stop(rb_pgserver *s)
{
	if (!s)
		return;
	if (s->server && !s->keep) {
		/* Immediate shutdown: no shutdown checkpoint, the data is removed anyway. */
		rb_process_signal(s->server, SIGQUIT, 0);
		if (rb_process_wait(s->server, STOP_GRACE_MS, NULL) == 1) {
			rb_process_signal(s->server, SIGKILL, 0);
			rb_process_wait(s->server, -1, NULL);
		}
	}
	if (s->keep && s->dir) {
		/* A server kept on purpose is no orphan: later runs leave it alone. */
		char *owner = rb_xasprintf("%s/" OWNER_FILE, s->dir);
		unlink(owner);
		free(owner);
	}
	if (s->keep && s->server)
		say(s->say, s->say_ctx, "runbook: the throwaway PostgreSQL keeps running (pid %d):\n"
					"  psql '%s'\n"
					"  stop it with: kill %d && rm -rf %s\n",
		    (int)rb_process_pid(s->server), s->url, (int)rb_process_pid(s->server), s->dir);
	if (!s->keep && s->dir)
		remove_tree(s->dir);
	free(s->dir);
	free(s->datadir);
	free(s->logfile);
	free(s->user);
	free(s->url);
	rb_process *server = s->server;
	s->server = NULL;
	rb_process_free(server); /* when kept, it runs on after runbook, unreaped */
	free(s);
}
