/*
 * writefile.c: atomic file replacement (writefile.h).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "writefile.h"

int
writefile_atomic(const char *path, const void *data, size_t len,
    mode_t mode)
{
	const unsigned char *p = data;
	char *tmp = NULL, *dircopy = NULL;
	struct stat st;
	ssize_t w;
	int fd = -1, dfd;

	if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
		tmp = NULL;
		log_errx("%s: out of memory", path);
		goto err;
	}
	if ((fd = mkstemp(tmp)) == -1) {
		log_err("%s: cannot create temporary file", tmp);
		goto err;
	}
	/* A file another service reads through its group stays readable. */
	if (stat(path, &st) == 0 && fchown(fd, (uid_t)-1, st.st_gid) == -1)
		log_warn("%s: cannot keep the group of the old file", path);
	if (fchmod(fd, mode) == -1) {
		log_err("%s: chmod", tmp);
		goto err;
	}
	while (len > 0) {
		if ((w = write(fd, p, len)) == -1) {
			if (errno == EINTR)
				continue;
			log_err("%s: write", tmp);
			goto err;
		}
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) == -1) {
		log_err("%s: fsync", tmp);
		goto err;
	}
	if (close(fd) == -1) {
		fd = -1;
		log_err("%s: write", tmp);
		goto err;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		log_err("rename %s to %s", tmp, path);
		goto err;
	}
	free(tmp);
	/* The rename is durable only once the directory is on disk too. */
	if ((dircopy = strdup(path)) != NULL &&
	    (dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) != -1) {
		(void)fsync(dfd);
		close(dfd);
	}
	free(dircopy);
	return 0;
err:
	if (fd != -1)
		close(fd);
	if (tmp != NULL) {
		unlink(tmp);
		free(tmp);
	}
	return -1;
}
