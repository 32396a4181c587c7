/*
 * writefile.c: atomic file replacement (writefile.h).
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "writefile.h"

int
writefile_atomic(const char *path, const void *data, size_t len,
    mode_t mode)
{
	const unsigned char *p = data;
	char *tmp = NULL;
	ssize_t w;
	int fd = -1;

	if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
		tmp = NULL;
		log_errx("%s: out of memory", path);
		goto err;
	}
	if ((fd = mkstemp(tmp)) == -1) {
		log_err("%s: cannot create temporary file", tmp);
		goto err;
	}
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
