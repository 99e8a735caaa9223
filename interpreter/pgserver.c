/*
 * pgserver.c - initdb, postgres on a private socket, and clean removal.
 */
#define _GNU_SOURCE
#include "pgserver.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <libpq-fe.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 30000
#define STOP_GRACE_MS 5000

struct rb_pgserver {
	char *dir;        /* the temporary directory: data/, the socket, server.log */
	char *datadir;
	char *logfile;
	char *user;
	char *url;
	int port;
	pid_t pid;
	int keep;
	FILE *log;
	uid_t run_uid;    /* who runs the server: postgres when we are root */
	gid_t run_gid;
	int as_other;
};

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
	FILE *p = popen("pg_config --bindir 2>/dev/null", "r");
	if (p) {
		char line[512];
		if (fgets(line, sizeof line, p)) {
			line[strcspn(line, "\n")] = '\0';
			char *initdb = rb_xasprintf("%s/initdb", line);
			rb_buf_printf(looked, "%s", line);
			if (access(initdb, X_OK) == 0)
				best = rb_xstrdup(line);
			free(initdb);
		}
		pclose(p);
	}
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

/* Forks and execs argv as the server's user, output appended to the log. */
static pid_t spawn(const rb_pgserver *s, char *const argv[], int new_session)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	if (new_session)
		setsid();
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	int in = open("/dev/null", O_RDONLY);
	int out = open(s->logfile, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (in >= 0)
		dup2(in, 0);
	if (out >= 0) {
		dup2(out, 1);
		dup2(out, 2);
	}
	if (s->as_other) {
		if (setgroups(0, NULL) < 0 || setgid(s->run_gid) < 0 || setuid(s->run_uid) < 0) {
			dprintf(2, "runbook: cannot switch to the postgres user: %s\n", strerror(errno));
			_exit(126);
		}
	}
	execv(argv[0], argv);
	dprintf(2, "runbook: cannot run %s: %s\n", argv[0], strerror(errno));
	_exit(127);
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

int rb_pgserver_start(const rb_pgserver_opts *opts, rb_pgserver **out, rb_error *err)
{
	int rc = -1;
	rb_buf looked = RB_BUF_INIT;
	char *bindir = find_bindir(&looked);
	rb_pgserver *s = rb_xcalloc(1, sizeof *s);
	char *initdb = NULL, *postgres = NULL, *tmpl = NULL;
	int64_t t0 = rb_now_ms();
	s->log = opts ? opts->log : NULL;
	s->keep = opts ? opts->keep : 0;
	s->pid = -1;

	if (!bindir) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0,
			     "PostgreSQL server binaries not found (looked in %s); install the Debian package 'postgresql'",
			     looked.data ? looked.data : "nothing");
		goto done;
	}
	if (geteuid() == 0) {
		struct passwd *pw = getpwnam("postgres");
		if (!pw) {
			rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0,
				     "running as root, the server must run as the 'postgres' user, which does not exist; "
				     "install the Debian package 'postgresql' or run as an ordinary user");
			goto done;
		}
		s->as_other = 1;
		s->run_uid = pw->pw_uid;
		s->run_gid = pw->pw_gid;
		s->user = rb_xstrdup("postgres");
	} else {
		struct passwd *pw = getpwuid(geteuid());
		s->user = rb_xstrdup(pw && pw->pw_name ? pw->pw_name : "postgres");
	}

	const char *base = opts && opts->base_dir ? opts->base_dir : getenv("TMPDIR");
	tmpl = rb_xasprintf("%s/runbook-pg-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(tmpl)) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot create a directory for the server in %s: %s",
			     base && *base ? base : "/tmp", strerror(errno));
		goto done;
	}
	s->dir = tmpl;
	tmpl = NULL;
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

	initdb = rb_xasprintf("%s/initdb", bindir);
	char *user_opt = rb_xasprintf("--username=%s", s->user);
	char *const init_argv[] = {initdb, "-D", s->datadir, "--auth=trust", user_opt, "--no-sync",
				   "--encoding=UTF8", "--locale=C", "--no-instructions", NULL};
	pid_t ip = spawn(s, init_argv, 0);
	int st = 0;
	if (ip < 0 || waitpid(ip, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		char *tail = log_tail(s->logfile);
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "initdb failed:\n%s", tail);
		free(tail);
		free(user_opt);
		goto done;
	}
	free(user_opt);

	/* A port number only names the socket file, private to our directory. */
	s->port = 5432;
	postgres = rb_xasprintf("%s/postgres", bindir);
	char *sock = rb_xasprintf("unix_socket_directories=%s", s->dir);
	char *port = rb_xasprintf("port=%d", s->port);
	char *const pg_argv[] = {postgres, "-D", s->datadir, "-c", "listen_addresses=", "-c", sock,
				 "-c", port, "-c", "fsync=off", "-c", "full_page_writes=off",
				 "-c", "synchronous_commit=off", "-c", "shared_buffers=16MB",
				 "-c", "max_connections=40", "-c", "logging_collector=off", NULL};
	s->pid = spawn(s, pg_argv, 1);
	free(sock);
	free(port);
	if (s->pid < 0) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot start postgres: %s", strerror(errno));
		goto done;
	}

	rb_buf url = RB_BUF_INIT;
	rb_buf_printf(&url, "postgresql://%s@/postgres?host=", s->user);
	percent_encode(&url, s->dir);
	rb_buf_printf(&url, "&port=%d", s->port);
	s->url = rb_buf_detach(&url);

	/* Ready when it accepts connections. */
	for (;;) {
		if (PQping(s->url) == PQPING_OK)
			break;
		int wst;
		if (waitpid(s->pid, &wst, WNOHANG) == s->pid) {
			s->pid = -1;
			char *tail = log_tail(s->logfile);
			rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "postgres exited during start-up:\n%s", tail);
			free(tail);
			goto done;
		}
		if (rb_now_ms() - t0 > START_TIMEOUT_MS) {
			char *tail = log_tail(s->logfile);
			rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "postgres did not accept connections within %d s:\n%s",
				     START_TIMEOUT_MS / 1000, tail);
			free(tail);
			goto done;
		}
		struct timespec pause = {0, 10 * 1000000L};
		nanosleep(&pause, NULL);
	}
	if (s->log)
		fprintf(s->log, "runbook: throwaway PostgreSQL ready in %.2fs (socket in %s)\n",
			(double)(rb_now_ms() - t0) / 1000.0, s->dir);
	*out = s;
	s = NULL;
	rc = 0;
done:
	if (s) {
		s->keep = 0;
		s->log = NULL;
		rb_pgserver_stop(s);
	}
	rb_buf_free(&looked);
	free(bindir);
	free(initdb);
	free(postgres);
	free(tmpl);
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
	if (s && s->pid > 0)
		kill(s->pid, SIGQUIT);
}

void rb_pgserver_stop(rb_pgserver *s)
{
	if (!s)
		return;
	if (s->pid > 0 && !s->keep) {
		/* Fast shutdown: roll back open transactions, disconnect, stop. */
		kill(s->pid, SIGINT);
		int64_t deadline = rb_now_ms() + STOP_GRACE_MS;
		int st;
		while (waitpid(s->pid, &st, WNOHANG) == 0) {
			if (rb_now_ms() > deadline) {
				kill(s->pid, SIGKILL);
				waitpid(s->pid, &st, 0);
				break;
			}
			struct timespec pause = {0, 5 * 1000000L};
			nanosleep(&pause, NULL);
		}
	}
	if (s->keep && s->pid > 0 && s->log)
		fprintf(s->log, "runbook: the throwaway PostgreSQL keeps running (pid %d):\n"
				"  psql '%s'\n"
				"  stop it with: kill %d && rm -rf %s\n",
			(int)s->pid, s->url, (int)s->pid, s->dir);
	if (!s->keep && s->dir)
		remove_tree(s->dir);
	free(s->dir);
	free(s->datadir);
	free(s->logfile);
	free(s->user);
	free(s->url);
	free(s);
}
