/*
 * process.c - fork, the child's set-up, exec, and the status pipe that
 * brings a failure of any of them back to the parent; see process.h.
 */
#define _GNU_SOURCE
#include "process.h"
#include "signals.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

struct rb_process {
	pid_t pid;
	int group;     /* leads its own process group */
	int fds[3];    /* the parent's ends of the pipes, or -1 */
	int reaped;
	int wstatus;   /* once reaped */
};

/* What the child reports on the status pipe when a step of its set-up fails. */
enum { FAIL_SESSION = 1, FAIL_PGROUP, FAIL_STDIO, FAIL_FDS, FAIL_CHDIR, FAIL_USER, FAIL_EXEC };

typedef struct {
	int stage;
	int errnum;
} child_status;

/* Signals that go back to the default whatever runbook did with them
 * (SIGPIPE is ignored by runbook, and a shell expects it by default). */
static const int default_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGCHLD, SIGPIPE, SIGTTOU, 0};

static void nap_ms(int64_t ms)
{
	struct timespec t = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
	nanosleep(&t, NULL);
}

_Noreturn static void child_fail(int status_fd, int stage)
{
	child_status cs = {stage, errno};
	ssize_t w = write(status_fd, &cs, sizeof cs);
	(void)w;
	_exit(127);
}

/* A copy of fd numbered 3 or more, close-on-exec; fd itself when already there. */
static int above_std(int fd)
{
	return fd >= 0 && fd < 3 ? fcntl(fd, F_DUPFD_CLOEXEC, 3) : fd;
}

static void close_from(int lo, int except)
{
	if (except >= lo) {
		if (except > lo && close_range((unsigned)lo, (unsigned)except - 1, 0) < 0)
			for (int i = lo; i < except; i++)
				close(i);
		lo = except + 1;
	}
	if (close_range((unsigned)lo, ~0U, 0) < 0) {
		long max = sysconf(_SC_OPEN_MAX);
		for (long i = lo; i < (max > 0 && max < 65536 ? max : 65536); i++)
			if (i != except)
				close((int)i);
	}
}

static void reset_signals(const rb_process_opts *o, int all)
{
	struct sigaction dfl, cur;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	/* An exec resets handlers by itself; a function run in the child does not. */
	for (int sig = 1; all && sig < NSIG; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &cur) < 0)
			continue;
		if ((cur.sa_flags & SA_SIGINFO) || (cur.sa_handler != SIG_DFL && cur.sa_handler != SIG_IGN))
			sigaction(sig, &dfl, NULL);
	}
	for (const int *s = default_signals; *s; s++)
		sigaction(*s, &dfl, NULL);
	if (o->ignore_signals) {
		struct sigaction ign = dfl;
		ign.sa_handler = SIG_IGN;
		for (const int *s = o->ignore_signals; *s; s++)
			sigaction(*s, &ign, NULL);
	}
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Everything the child needs, prepared by the parent. */
typedef struct {
	const rb_process_opts *o;
	int (*fn)(void *);
	void *ctx;
	int (*pipes)[2];
	int status[2];
	const char *path;    /* the PATH argv[0] is searched in */
	char *const *envp;   /* the child's whole environment */
} child_plan;

/*
 * execvp with the PATH and environment given rather than the process's:
 * each directory in turn, on to the next when the file is not there or not
 * executable (EACCES is reported if nothing better was found). Only system
 * calls and the stack: safe in a vfork child. Returns with errno set.
 */
static void exec_search(const char *file, char *const argv[], const char *path, char *const envp[])
{
	if (strchr(file, '/')) {
		execve(file, argv, envp);
		return;
	}
	size_t flen = strlen(file);
	int denied = 0;
	char buf[4096];
	for (const char *dir = path;; dir++) {
		const char *end = strchr(dir, ':');
		size_t dlen = end ? (size_t)(end - dir) : strlen(dir);
		if (dlen + flen + 2 <= sizeof buf) {
			size_t n = 0;
			if (dlen) { /* an empty entry is the current directory */
				memcpy(buf, dir, dlen);
				buf[dlen] = '/';
				n = dlen + 1;
			}
			memcpy(buf + n, file, flen + 1);
			execve(buf, argv, envp);
			if (errno == EACCES)
				denied = 1;
			else if (errno != ENOENT && errno != ENOTDIR && errno != ESTALE && errno != ENODEV &&
				 errno != ETIMEDOUT && errno != ELOOP && errno != ENAMETOOLONG)
				return;
		}
		if (!end)
			break;
		dir = end;
	}
	errno = denied ? EACCES : ENOENT;
}

/*
 * The child's side of the protocol (process.h, step 2 and 3), entered with
 * every signal blocked. Never returns. When it execs, it is a vfork child:
 * system calls only, no allocation, no global of the parent's written.
 */
_Noreturn static void child(const child_plan *plan)
{
	const rb_process_opts *o = plan->o;
	int (*pipes)[2] = plan->pipes;
	int (*fn)(void *) = plan->fn;
	int status_fd = plan->status[1];
	const rb_stdio *streams[3] = {&o->in, &o->out, &o->err};
	int src[3] = {-1, -1, -1};
	int mine[3] = {-1, -1, -1}; /* descriptors opened or copied here, to close after use */
	int keep = o->close_fds ? o->keep_fd : -1;

	int moved = above_std(status_fd);
	if (moved < 0)
		child_fail(status_fd, FAIL_FDS);
	status_fd = moved;
	if (o->new_session && setsid() < 0)
		child_fail(status_fd, FAIL_SESSION);
	if (o->new_pgroup && !o->new_session && setpgid(0, 0) < 0)
		child_fail(status_fd, FAIL_PGROUP);
	/* SIGTTOU is blocked: a background group may take the terminal. */
	if (o->new_pgroup && o->take_terminal && isatty(0))
		tcsetpgrp(0, getpid());

	/* Every source is moved above 2 first, so that no dup2 onto 0-2 replaces
	 * another source (runbook may have been started with 0-2 closed). */
	if (keep >= 0 && (keep = above_std(keep)) < 0)
		child_fail(status_fd, FAIL_FDS);
	for (int i = 0; i < 3; i++) {
		switch (streams[i]->kind) {
		case RB_STDIO_NULL:
			src[i] = mine[i] = open("/dev/null", (i == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC);
			break;
		case RB_STDIO_PIPE:
			src[i] = i == 0 ? pipes[0][0] : pipes[i][1];
			break;
		case RB_STDIO_FD:
			src[i] = streams[i]->fd;
			break;
		case RB_STDIO_STDOUT:
			src[i] = i == 2 ? (src[1] >= 0 ? src[1] : 1) : -1;
			break;
		case RB_STDIO_INHERIT:
			break;
		}
		if (streams[i]->kind != RB_STDIO_INHERIT && src[i] < 0)
			child_fail(status_fd, FAIL_STDIO);
		if (src[i] < 3 && src[i] >= 0) {
			int up = above_std(src[i]);
			if (up < 0)
				child_fail(status_fd, FAIL_STDIO);
			if (mine[i] >= 0)
				close(mine[i]);
			src[i] = mine[i] = up;
		}
	}
	for (int i = 0; i < 3; i++)
		if (src[i] >= 0 && dup2(src[i], i) < 0)
			child_fail(status_fd, FAIL_STDIO);
	for (int i = 0; i < 3; i++) {
		if (mine[i] > 2 && mine[i] != status_fd && mine[i] != keep)
			close(mine[i]);
		for (int end = 0; end < 2; end++)
			if (pipes[i][end] > 2 && pipes[i][end] != status_fd && pipes[i][end] != keep)
				close(pipes[i][end]);
	}

	if (o->close_fds) {
		int first = 3;
		if (keep >= 0) {
			if (status_fd == 3) { /* 3 is keep's */
				if ((moved = fcntl(3, F_DUPFD_CLOEXEC, 4)) < 0)
					child_fail(3, FAIL_FDS);
				status_fd = moved;
			}
			if (keep != 3 ? dup2(keep, 3) < 0 : fcntl(3, F_SETFD, 0) < 0)
				child_fail(status_fd, FAIL_FDS);
			first = 4;
		}
		close_from(first, status_fd);
	}
	if (o->cwd && chdir(o->cwd) < 0)
		child_fail(status_fd, FAIL_CHDIR);
	if (o->switch_user && (setgroups(0, NULL) < 0 || setgid(o->gid) < 0 || setuid(o->uid) < 0))
		child_fail(status_fd, FAIL_USER);
	reset_signals(o, fn != NULL);

	if (fn) {
		close(status_fd); /* set up: the parent stops waiting */
		_exit(fn(plan->ctx));
	}
	exec_search(o->argv[0], o->argv, plan->path, plan->envp);
	child_fail(status_fd, FAIL_EXEC);
}

/*
 * Forks for a function, and for a user switch (glibc's setuid is not meant
 * for a child that shares the parent's memory). Else vforks: a fork copies
 * the parent's page tables, most of what starting a process costs, and the
 * exec throws the copy away. The parent resumes once the child has exec'd
 * or exited. Kept apart so that no local of the caller lives across vfork.
 */
__attribute__((noinline)) static pid_t start_child(const child_plan *plan)
{
	pid_t pid = plan->fn || plan->o->switch_user ? fork() : vfork();
	if (pid == 0) {
		close(plan->status[0]);
		child(plan);
	}
	return pid;
}

/* The PATH the child searches: the one of its environment, else the process's. */
static const char *search_path(char *const *envp)
{
	const char *path = NULL;
	if (!envp)
		path = getenv("PATH");
	for (size_t i = 0; envp && envp[i]; i++)
		if (!strncmp(envp[i], "PATH=", 5))
			path = envp[i] + 5;
	return path ? path : "/bin:/usr/bin";
}

char *rb_process_which(const char *tool)
{
	char *found = NULL;
	if (strchr(tool, '/'))
		return access(tool, X_OK) == 0 ? rb_xstrdup(tool) : NULL;
	char *copy = rb_xstrdup(search_path(NULL)), *save = NULL;
	for (char *dir = strtok_r(copy, ":", &save); dir && !found && *tool; dir = strtok_r(NULL, ":", &save)) {
		char *p = rb_xasprintf("%s/%s", *dir ? dir : ".", tool);
		if (access(p, X_OK) == 0)
			found = p;
		else
			free(p);
	}
	free(copy);
	return found;
}

/* The error for a child that reported a failed set-up step. */
static void set_child_error(const rb_process_opts *o, const child_status *cs, rb_error *err)
{
	const char *why = strerror(cs->errnum);
	switch (cs->stage) {
	case FAIL_SESSION:
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot make a new session: %s", why);
		break;
	case FAIL_PGROUP:
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot make a new process group: %s", why);
		break;
	case FAIL_STDIO:
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot set up the standard streams: %s", why);
		break;
	case FAIL_FDS:
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot pass a descriptor: %s", why);
		break;
	case FAIL_CHDIR:
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot change directory to %s: %s", o->cwd, why);
		break;
	case FAIL_USER:
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot switch to user id %u (group %u): %s",
			     (unsigned)o->uid, (unsigned)o->gid, why);
		break;
	case FAIL_EXEC:
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot run %s: %s", o->argv[0], why);
		break;
	default:
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "the child process failed to start");
		break;
	}
}

/* The pipes the options ask for and the status pipe, all close-on-exec. 0, or -1 with err. */
static int make_pipes(const rb_process_opts *o, int pipes[3][2], int status[2], rb_error *err)
{
	const rb_stdio *streams[3] = {&o->in, &o->out, &o->err};
	int rc = 0;
	for (int i = 0; i < 3 && rc == 0; i++)
		if (streams[i]->kind == RB_STDIO_PIPE && pipe2(pipes[i], O_CLOEXEC) < 0)
			rc = -1;
	if (rc == 0 && pipe2(status, O_CLOEXEC) < 0)
		rc = -1;
	if (rc < 0)
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot create a pipe: %s", strerror(errno));
	return rc;
}

/* Starts the child of plan with every signal blocked meanwhile (step 1). Its pid, or -1 with err. */
static pid_t fork_child(child_plan *plan, rb_error *err)
{
	const rb_process_opts *o = plan->o;
	/* Output written before the child's goes out first; and no handler of
	 * runbook's may run in the child before its dispositions are reset. */
	fflush(NULL);
	if (!plan->fn) {
		plan->path = search_path(o->envp);
		plan->envp = o->envp ? o->envp : environ;
	}
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid_t pid = start_child(plan);
	int fork_errno = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0)
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "fork failed: %s", strerror(fork_errno));
	return pid;
}

/* The parent closes the write end of the status pipe and the child's ends of the pipes (step 5). */
static void close_child_ends(int pipes[3][2], int status[2])
{
	close(status[1]);
	status[1] = -1;
	for (int i = 0; i < 3; i++) {
		int *theirs = i == 0 ? &pipes[0][0] : &pipes[i][1];
		if (*theirs >= 0) {
			close(*theirs);
			*theirs = -1;
		}
	}
}

/*
 * Reads the status pipe until end of file: the exec (or the child, for fn)
 * closed it (step 4). Returns 0 then; -1 with err when the child reported a
 * failed step, or could not be heard, and has been reaped.
 */
static int await_setup(const rb_process_opts *o, pid_t pid, int status_fd, rb_error *err)
{
	child_status cs;
	size_t got = 0;
	int rc = 0;
	while (got < sizeof cs) {
		ssize_t n = read(status_fd, (char *)&cs + got, sizeof cs - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			cs.stage = 0;
			got = sizeof cs;
			kill(pid, SIGKILL);
			break;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got > 0) {
		int st;
		if (got < sizeof cs)
			cs.stage = 0;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		set_child_error(o, &cs, err);
		rc = -1;
	}
	return rc;
}

/* The rb_process of a child that is set up: it takes the parent's ends of the pipes. */
static rb_process *adopt(const rb_process_opts *o, pid_t pid, int pipes[3][2])
{
	rb_process *p = rb_xcalloc(1, sizeof *p);
	p->pid = pid;
	p->group = o->new_pgroup || o->new_session;
	for (int i = 0; i < 3; i++) {
		int *ours = i == 0 ? &pipes[0][1] : &pipes[i][0];
		p->fds[i] = *ours;
		*ours = -1;
	}
	return p;
}

static int spawn(int (*fn)(void *), void *ctx, const rb_process_opts *opts, rb_process **out, rb_error *err)
{
	static const rb_process_opts inherit;
	const rb_process_opts *o = opts ? opts : &inherit;
	int rc = -1;
	int pipes[3][2] = {{-1, -1}, {-1, -1}, {-1, -1}};
	child_plan plan = {o, fn, ctx, pipes, {-1, -1}, NULL, NULL};
	int *status = plan.status;
	pid_t pid = -1;
	*out = NULL;

	if (!fn && (!o->argv || !o->argv[0])) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "no program to run");
		goto done;
	}
	if (make_pipes(o, pipes, status, err) < 0)
		goto done;
	if ((pid = fork_child(&plan, err)) < 0)
		goto done;
	close_child_ends(pipes, status);
	if (await_setup(o, pid, status[0], err) < 0)
		goto done;
	*out = adopt(o, pid, pipes);
	rc = 0;
done:
	for (int i = 0; i < 3; i++)
		for (int end = 0; end < 2; end++)
			if (pipes[i][end] >= 0)
				close(pipes[i][end]);
	for (int end = 0; end < 2; end++)
		if (status[end] >= 0)
			close(status[end]);
	return rc;
}

int rb_process_start(const rb_process_opts *opts, rb_process **out, rb_error *err)
{
	return spawn(NULL, NULL, opts, out, err);
}

int rb_process_start_fn(int (*fn)(void *ctx), void *ctx, const rb_process_opts *opts, rb_process **out,
		       rb_error *err)
{
	return spawn(fn, ctx, opts, out, err);
}

pid_t rb_process_pid(const rb_process *p)
{
	return p->pid;
}

int rb_process_fd(const rb_process *p, int stream)
{
	return stream >= 0 && stream < 3 ? p->fds[stream] : -1;
}

void rb_process_close_fd(rb_process *p, int stream)
{
	if (stream >= 0 && stream < 3 && p->fds[stream] >= 0) {
		close(p->fds[stream]);
		p->fds[stream] = -1;
	}
}

int rb_process_signal(const rb_process *p, int sig, int group)
{
	if (group && !p->group) {
		errno = EINVAL;
		return -1;
	}
	if (!group && p->reaped) {
		errno = ESRCH; /* its pid may be another process's by now */
		return -1;
	}
	return kill(group ? -p->pid : p->pid, sig);
}

int rb_process_group_alive(const rb_process *p)
{
	return p->group && kill(-p->pid, 0) == 0;
}

static void reaped(rb_process *p, int st)
{
	p->reaped = 1;
	p->wstatus = st;
}

int rb_process_reap_group(rb_process *p, int *wstatus)
{
	int st;
	pid_t w;
	if (p->group) {
		while ((w = waitpid(-p->pid, &st, WNOHANG)) != 0) {
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				break;
			if (w == p->pid)
				reaped(p, st);
		}
	} else if (!p->reaped && waitpid(p->pid, &st, WNOHANG) == p->pid) {
		reaped(p, st);
	}
	if (p->reaped && wstatus)
		*wstatus = p->wstatus;
	return p->reaped;
}

/* Waits up to ms for the child to end, without reaping it. */
static void await_exit(const rb_process *p, int64_t ms)
{
	int64_t deadline = rb_now_ms() + ms;
	/* A pidfd becomes readable the moment the child ends; naps where there is none. */
#ifdef SYS_pidfd_open
	int fd = (int)syscall(SYS_pidfd_open, p->pid, 0);
#else
	int fd = -1;
#endif
	int64_t nap = 1;
	for (;;) {
		int64_t left = deadline - rb_now_ms();
		if (left <= 0)
			break;
		if (fd >= 0) {
			struct pollfd pf = {fd, POLLIN, 0};
			int r = poll(&pf, 1, left > 1000 ? 1000 : (int)left);
			if (r > 0 || (r < 0 && errno != EINTR))
				break;
			continue;
		}
		siginfo_t si;
		si.si_pid = 0;
		if (waitid(P_PID, (id_t)p->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0 || si.si_pid)
			break;
		nap_ms(nap < left ? nap : left);
		nap = nap * 2 > 10 ? 10 : nap * 2;
	}
	if (fd >= 0)
		close(fd);
}

int rb_process_wait(rb_process *p, int64_t timeout_ms, int *wstatus)
{
	int waited = 0;
	while (!p->reaped) {
		int st;
		pid_t w = waitpid(p->pid, &st, timeout_ms < 0 ? 0 : WNOHANG);
		if (w == p->pid) {
			reaped(p, st);
			break;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		if (timeout_ms == 0 || waited)
			return 1;
		await_exit(p, timeout_ms);
		waited = 1;
	}
	if (wstatus)
		*wstatus = p->wstatus;
	return 0;
}

int rb_process_stop(rb_process *p, int64_t grace_ms, int *wstatus)
{
	int64_t grace = grace_ms > 0 ? grace_ms : 2000;
	int64_t deadline = rb_now_ms() + grace;
	int killed = 0;
	rb_process_signal(p, SIGTERM, p->group);
	for (;;) {
		int ended = p->group ? rb_process_reap_group(p, NULL) : rb_process_wait(p, 0, NULL) == 0;
		if (ended && !rb_process_group_alive(p))
			break;
		if (rb_now_ms() >= deadline) {
			if (killed)
				break; /* leftovers that even SIGKILL does not end soon: leave them */
			rb_process_signal(p, SIGKILL, p->group);
			killed = 1;
			deadline = rb_now_ms() + grace;
		}
		nap_ms(5);
	}
	return rb_process_wait(p, -1, wstatus) == 0 ? 0 : -1;
}

int rb_process_exit_code(int wstatus)
{
	if (WIFEXITED(wstatus))
		return WEXITSTATUS(wstatus);
	if (WIFSIGNALED(wstatus))
		return 128 + WTERMSIG(wstatus);
	return -1;
}

void rb_process_free(rb_process *p)
{
	if (!p)
		return;
	for (int i = 0; i < 3; i++)
		rb_process_close_fd(p, i);
	free(p);
}

/* What rb_process_capture's pieces share: the tool, its input still to write, its output so far. */
typedef struct {
	rb_process *p;
	const char *input;    /* NULL: none */
	size_t len, off;      /* input's length, and how much of it is written */
	rb_buf out;
	int64_t deadline;     /* INT64_MAX: none */
	int sigfd;            /* the signal self-pipe (signals.h), or -1 */
} capture;

/* argv in a group of its own, its input on a pipe (else /dev/null), stdout and stderr on one pipe. */
static int capture_start(char *const argv[], capture *c, rb_error *err)
{
	rb_process_opts o;
	memset(&o, 0, sizeof o);
	o.argv = argv;
	o.new_pgroup = 1;
	o.in.kind = c->input ? RB_STDIO_PIPE : RB_STDIO_NULL;
	o.out.kind = RB_STDIO_PIPE;
	o.err.kind = RB_STDIO_STDOUT;
	return rb_process_start(&o, &c->p, err);
}

/*
 * Waits up to a second (at most until the deadline) for the tool, then
 * writes what of the input it takes and reads what it wrote. Returns 0, or
 * -1 with err when poll failed (the tool has been stopped).
 */
static int capture_poll(capture *c, int64_t now, rb_error *err)
{
	char chunk[4096];
	struct pollfd pf[3];
	int nf = 0, io_in = -1;
	pf[nf].fd = rb_process_fd(c->p, 1);
	pf[nf++].events = POLLIN;
	if (rb_process_fd(c->p, 0) >= 0) {
		pf[nf].fd = rb_process_fd(c->p, 0);
		pf[nf].events = POLLOUT;
		io_in = nf++;
	}
	if (c->sigfd >= 0) {
		pf[nf].fd = c->sigfd;
		pf[nf++].events = POLLIN;
	}
	int64_t wait = c->deadline - now < 1000 ? c->deadline - now : 1000;
	int pr = poll(pf, (nfds_t)nf, (int)wait);
	if (pr < 0 && errno != EINTR) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "poll failed: %s", strerror(errno));
		rb_process_stop(c->p, 1000, NULL);
		return -1;
	}
	if (pr <= 0)
		return 0;
	if (c->sigfd >= 0 && (pf[nf - 1].revents & POLLIN))
		rb_signals_drain();
	if (io_in >= 0 && pf[io_in].revents) {
		ssize_t w = write(pf[io_in].fd, c->input + c->off, c->len - c->off);
		if (w > 0)
			c->off += (size_t)w;
		if (c->off == c->len || (w < 0 && errno != EAGAIN && errno != EINTR))
			rb_process_close_fd(c->p, 0); /* all written, or the tool stopped reading */
	}
	if (pf[0].revents) {
		ssize_t n = read(pf[0].fd, chunk, sizeof chunk);
		if (n > 0)
			rb_buf_add(&c->out, chunk, (size_t)n);
		else if (n == 0 || (errno != EINTR && errno != EAGAIN))
			rb_process_close_fd(c->p, 1);
	}
	return 0;
}

/*
 * Feeds and reads the tool until it closes its output. Returns 0 then;
 * RB_EXIT_INTERRUPTED or RB_EXIT_ENV (the deadline) when it is to be
 * stopped; -1 with err when poll failed.
 */
static int capture_collect(capture *c, rb_error *err)
{
	int stopped = 0;
	while (!stopped && rb_process_fd(c->p, 1) >= 0) {
		int64_t now = rb_now_ms();
		if (rb_signals_interrupted())
			stopped = RB_EXIT_INTERRUPTED;
		else if (now >= c->deadline)
			stopped = RB_EXIT_ENV;
		else if (capture_poll(c, now, err) < 0)
			stopped = -1;
	}
	return stopped;
}

/* The tool's end, within what is left before the deadline: 0 with *ws, or RB_EXIT_ENV when it still runs. */
static int capture_wait(capture *c, int *ws)
{
	int64_t left = c->deadline == INT64_MAX ? -1 : c->deadline - rb_now_ms();
	if (c->deadline != INT64_MAX && left < 0)
		left = 0;
	return rb_process_wait(c->p, left, ws) != 0 ? RB_EXIT_ENV : 0;
}

/* Starts job's tool and writes what of its input the pipe takes at once (the rest while collecting). */
static void capture_begin(rb_capture_job *job, capture *c, int64_t deadline)
{
	memset(c, 0, sizeof *c);
	c->input = job->input;
	c->len = job->input ? strlen(job->input) : 0;
	c->deadline = deadline;
	c->sigfd = rb_signals_fd();
	job->status = -1;
	if (rb_signals_interrupted()) {
		rb_error_set(&job->err, RB_EXIT_INTERRUPTED, NULL, 0, 0, "%s: interrupted", job->argv[0]);
		return;
	}
	if (capture_start(job->argv, c, &job->err) < 0 || rb_process_fd(c->p, 0) < 0)
		return;
	int fd = rb_process_fd(c->p, 0);
	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (c->off < c->len) {
		ssize_t w = write(fd, c->input + c->off, c->len - c->off);
		if (w <= 0)
			break; /* full (EAGAIN), or the tool stopped reading: capture_poll goes on */
		c->off += (size_t)w;
	}
	if (c->off == c->len)
		rb_process_close_fd(c->p, 0);
}

/* Reads job's tool to its end (or stops it): job's output, status and err. */
static void capture_end(rb_capture_job *job, capture *c, int64_t timeout_ms)
{
	int stopped = 0, ws = 0;
	if (!c->p)
		goto done;
	if ((stopped = capture_collect(c, &job->err)) < 0)
		goto done;
	rb_process_close_fd(c->p, 0);
	if (!stopped)
		stopped = capture_wait(c, &ws);
	if (stopped) {
		rb_process_stop(c->p, 1000, &ws);
		job->status = rb_process_exit_code(ws);
		if (stopped == RB_EXIT_INTERRUPTED)
			rb_error_set(&job->err, stopped, NULL, 0, 0, "%s: interrupted", job->argv[0]);
		else
			rb_error_set(&job->err, stopped, NULL, 0, 0, "%s did not finish within %lld ms: stopped",
				     job->argv[0], (long long)timeout_ms);
		goto done;
	}
	job->status = rb_process_exit_code(ws);
done:
	job->output = rb_buf_detach(&c->out);
	rb_process_free(c->p);
	c->p = NULL;
}

void rb_process_capture_all(rb_capture_job *jobs, size_t n, size_t parallel, int64_t timeout_ms)
{
	capture *c = rb_xcalloc(parallel ? parallel : 1, sizeof *c);
	struct sigaction ign, old_pipe;
	int pipe_saved;
	/* A tool that stops reading its input must not take runbook down. */
	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	pipe_saved = sigaction(SIGPIPE, &ign, &old_pipe) == 0;
	if (!parallel)
		parallel = 1;
	for (size_t from = 0; from < n; from += parallel) {
		size_t batch = n - from < parallel ? n - from : parallel;
		int64_t deadline = timeout_ms > 0 ? rb_now_ms() + timeout_ms : INT64_MAX;
		for (size_t i = 0; i < batch; i++)
			capture_begin(&jobs[from + i], &c[i], deadline);
		for (size_t i = 0; i < batch; i++)
			capture_end(&jobs[from + i], &c[i], timeout_ms);
	}
	if (pipe_saved)
		sigaction(SIGPIPE, &old_pipe, NULL);
	free(c);
}

int rb_process_capture(char *const argv[], const char *input, int64_t timeout_ms, char **output, int *status,
		       rb_error *err)
{
	rb_capture_job job;
	memset(&job, 0, sizeof job);
	job.argv = argv;
	job.input = input;
	rb_process_capture_all(&job, 1, 1, timeout_ms);
	*output = job.output;
	*status = job.status;
	if (!job.err.code)
		return 0;
	rb_error_clear(err);
	*err = job.err;
	return -1;
}
