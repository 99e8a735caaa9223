/*
 * pgserver.c - initdb, postgres on a private socket, and clean removal,
 * including of the servers of runbook processes that were killed.
 */
#define _GNU_SOURCE
#include "pgserver.h"
#include "process.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 30000
#define STOP_GRACE_MS 5000
#define DIR_PREFIX "runbook-pg-"
#define OWNER_FILE "runbook.pid"
#define PG_CONFIG_TIMEOUT_MS 10000

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
		struct passwd *pw = getpwnam("postgres");
		if (pw)
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
	if (geteuid() == 0) {
		struct passwd *pw = getpwnam("postgres");
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
		struct passwd *pw = getpwuid(geteuid());
		s->user = rb_xstrdup(pw && pw->pw_name ? pw->pw_name : "postgres");
	}
	return rc;
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

/* initdb of the data directory, waited for. 0, or -1 with err (and the end of the server log). */
static int run_initdb(rb_pgserver *s, const char *bindir, char **env, rb_error *err)
{
	int rc = -1;
	char *initdb = rb_xasprintf("%s/initdb", bindir);
	char *user_opt = rb_xasprintf("--username=%s", s->user);
	char *const init_argv[] = {initdb, "-D", s->datadir, "--auth=trust", user_opt, "--no-sync",
				   "--encoding=UTF8", "--locale=C", "--no-instructions", NULL};
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
	/* A port number only names the socket file, private to our directory. */
	s->port = 5432;
	char *postgres = rb_xasprintf("%s/postgres", bindir);
	char *sock = rb_xasprintf("unix_socket_directories=%s", s->dir);
	char *port = rb_xasprintf("port=%d", s->port);
	char *const pg_argv[] = {postgres, "-D", s->datadir, "-c", "listen_addresses=", "-c", sock,
				 "-c", port, "-c", "fsync=off", "-c", "full_page_writes=off",
				 "-c", "synchronous_commit=off", "-c", "shared_buffers=16MB",
				 "-c", "max_connections=40", "-c", "logging_collector=off", NULL};
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
	rb_buf url = RB_BUF_INIT;
	rb_buf_printf(&url, "postgresql://%s@/postgres?host=", s->user);
	percent_encode(&url, s->dir);
	rb_buf_printf(&url, "&port=%d", s->port);
	return rb_buf_detach(&url);
}

/*
 * Waits until the server, started at t0, accepts connections. 0, or -1
 * with err (and the end of the server log) when it exited or did not
 * answer within START_TIMEOUT_MS.
 */
static int await_ready(rb_pgserver *s, int64_t t0, rb_error *err)
{
	int rc = -1;
	for (;;) {
		if (PQping(s->url) == PQPING_OK) {
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
		if (rb_now_ms() - t0 > START_TIMEOUT_MS) {
			char *tail = log_tail(s->logfile);
			rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "postgres did not accept connections within %d s:\n%s",
				     START_TIMEOUT_MS / 1000, tail);
			free(tail);
			break;
		}
		struct timespec pause = {0, 10 * 1000000L};
		nanosleep(&pause, NULL);
	}
	return rc;
}

int rb_pgserver_start(const rb_pgserver_opts *opts, rb_pgserver **out, rb_error *err)
{
	int rc = -1;
	rb_buf looked = RB_BUF_INIT;
	char *bindir = find_bindir(&looked);
	rb_pgserver *s = rb_xcalloc(1, sizeof *s);
	char **env = server_env();
	int64_t t0 = rb_now_ms();
	s->say = opts ? opts->say : NULL;
	s->say_ctx = opts ? opts->say_ctx : NULL;
	s->keep = opts ? opts->keep : 0;

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
	if (make_dir(s, base && *base ? base : "/tmp", err) < 0 || run_initdb(s, bindir, env, err) < 0 ||
	    start_postgres(s, bindir, env, err) < 0)
		goto done;
	s->url = server_url(s);
	if (await_ready(s, t0, err) < 0)
		goto done;
	say(s->say, s->say_ctx, "runbook: throwaway PostgreSQL ready in %.2fs (socket in %s)\n",
	    (double)(rb_now_ms() - t0) / 1000.0, s->dir);
	*out = s;
	s = NULL;
	rc = 0;
done:
	if (s) {
		s->keep = 0;
		s->say = NULL;
		rb_pgserver_stop(s);
	}
	rb_buf_free(&looked);
	free_env(env);
	free(bindir);
	return rc;
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
		/* Fast shutdown: roll back open transactions, disconnect, stop. */
		rb_process_signal(s->server, SIGINT, 0);
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
