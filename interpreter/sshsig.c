/*
 * sshsig.c - git's SSH signatures through ssh-keygen (see sshsig.h).
 */
#define _GNU_SOURCE
#include "sshsig.h"
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ssh-keygen answers at once; a key behind an agent that went away should not hold a run's end. */
#define SSHSIG_TIMEOUT_MS 20000

/*
 * Writes data to NAME in a new private directory (0700, in TMPDIR): its
 * path (caller frees; remove it with cleanup), or NULL with err. ssh-keygen
 * writes NAME.sig beside it, where nobody else can place a file first.
 */
static char *temp_with(const char *name, const char *data, rb_error *err)
{
	const char *tmp = getenv("TMPDIR");
	char *dir = rb_xasprintf("%s/runbook-sig-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	char *path = NULL;
	int fd = -1, e = 0;
	if (!mkdtemp(dir)) {
		e = errno;
	} else {
		path = rb_xasprintf("%s/%s", dir, name);
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		e = fd < 0 ? errno : rb_write_all(fd, data, strlen(data), NULL);
		if (fd >= 0)
			close(fd);
	}
	if (e) {
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "cannot write a temporary file for ssh-keygen in %s: %s", dir,
			     strerror(e));
		if (path)
			unlink(path);
		rmdir(dir);
		free(path);
		path = NULL;
	}
	free(dir);
	return path;
}

/* Removes the file at path, its .sig, and their private directory. */
static void cleanup(char *path)
{
	char *sig = rb_xasprintf("%s.sig", path);
	unlink(path);
	unlink(sig);
	free(sig);
	char *slash = strrchr(path, '/');
	if (slash) {
		*slash = '\0';
		rmdir(path);
	}
	free(path);
}

/* The first line of text, without its newline (caller frees). */
static char *first_line(const char *text)
{
	return rb_xstrndup(text, strcspn(text, "\n"));
}

int rb_sshsig_sign(const char *key, const char *payload, char **signature, rb_error *err)
{
	int rc = -1, status = 0;
	char *out = NULL, *sigpath = NULL;
	size_t len = 0;
	*signature = NULL;
	char *data = temp_with("commit", payload, err);
	if (!data)
		return -1;
	sigpath = rb_xasprintf("%s.sig", data);
	char *argv[] = {"ssh-keygen", "-q", "-Y", "sign", "-n", "git", "-f", (char *)key, data, NULL};
	if (rb_process_capture(argv, NULL, SSHSIG_TIMEOUT_MS, &out, &status, err) < 0)
		goto done;
	rb_error rerr = RB_ERROR_INIT;
	int unread = status != 0 || rb_read_file(sigpath, signature, &len, &rerr) < 0;
	rb_error_clear(&rerr);
	if (unread) {
		char *why = first_line(out && *out ? out : "no signature written");
		rb_error_set(err, RB_EXIT_ENV, NULL, 0, 0, "ssh-keygen could not sign with %s: %s", key, why);
		free(why);
		free(*signature);
		*signature = NULL;
		goto done;
	}
	rc = 0;
done:
	cleanup(data);
	free(sigpath);
	free(out);
	return rc;
}

int rb_sshsig_verify(const char *allowed_signers, const char *payload, const char *signature, char **who,
		     rb_error *err)
{
	int rc = -1, status = 0;
	char *out = NULL, *principal = NULL;
	*who = NULL;
	char *sig = temp_with("signature", signature, err);
	if (!sig)
		return -1;
	if (allowed_signers) {
		char *find[] = {"ssh-keygen", "-Y", "find-principals", "-s", sig, "-f", (char *)allowed_signers, NULL};
		if (rb_process_capture(find, NULL, SSHSIG_TIMEOUT_MS, &out, &status, err) < 0)
			goto done;
		if (status == 0 && *out)
			principal = first_line(out);
		free(out);
		out = NULL;
	}
	if (principal) {
		char *verify[] = {"ssh-keygen", "-Y", "verify", "-f", (char *)allowed_signers, "-I", principal,
				  "-n", "git", "-s", sig, NULL};
		if (rb_process_capture(verify, payload, SSHSIG_TIMEOUT_MS, &out, &status, err) < 0)
			goto done;
		if (status == 0) {
			*who = principal;
			principal = NULL;
			rc = RB_SSHSIG_GOOD;
			goto done;
		}
		free(out);
		out = NULL;
	}
	/* Not by a listed key (or not valid at all): which key made it, if any did. */
	char *check[] = {"ssh-keygen", "-Y", "check-novalidate", "-n", "git", "-s", sig, NULL};
	if (rb_process_capture(check, payload, SSHSIG_TIMEOUT_MS, &out, &status, err) < 0)
		goto done;
	const char *with = status == 0 ? strstr(out, " signature with ") : NULL;
	if (with) {
		*who = first_line(with + 16);
		rc = RB_SSHSIG_UNKNOWN;
	} else {
		*who = first_line(*out ? out : "not a valid signature");
		rc = RB_SSHSIG_BAD;
	}
done:
	cleanup(sig);
	free(out);
	free(principal);
	return rc;
}
