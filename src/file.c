/*
 * file.c: the files chainfix reads (file.h).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "file.h"
#include "log.h"

/* What a non-regular file is, for the error. */
static const char *
file_kind(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISSOCK(m))
		return "a socket";
	return "something else";
}

int
file_open(const char *path, struct stat *st, char *why, size_t whylen)
{
	int fd, fl;

	/*
	 * O_NONBLOCK: opening a FIFO for reading blocks until a writer
	 * comes, and a read from it or from a terminal blocks forever.
	 * O_NOCTTY: a terminal must not become ours.
	 */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK |
	    O_NOCTTY)) == -1) {
		snprintf(why, whylen, "cannot open: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, st) == -1) {
		snprintf(why, whylen, "cannot stat: %s", strerror(errno));
		goto err;
	}
	if (!S_ISREG(st->st_mode)) {
		snprintf(why, whylen, "is %s, not a regular file",
		    file_kind(st->st_mode));
		goto err;
	}
	/* A regular file ignores O_NONBLOCK; clear it all the same. */
	if ((fl = fcntl(fd, F_GETFL)) != -1)
		(void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	return fd;
 err:
	close(fd);
	return -1;
}

FILE *
file_fopen(const char *path, struct stat *st, char *why, size_t whylen)
{
	FILE *f;
	int fd;

	if ((fd = file_open(path, st, why, whylen)) == -1)
		return NULL;
	if ((f = fdopen(fd, "r")) == NULL) {
		snprintf(why, whylen, "cannot open: %s", strerror(errno));
		close(fd);
	}
	return f;
}

int
file_warn_exposed(const char *path, const struct stat *st, const char *what,
    int secret)
{
	mode_t m = st->st_mode & (secret ? S_IROTH | S_IWOTH : S_IWOTH);

	if (m == 0)
		return 0;
	/*
	 * Group access is how the README shares a key with the service's
	 * group (root:chainfix 0640); "others" is everyone on the machine.
	 */
	log_warnx("%s %s is %s by others (mode %04o): chmod o-%s %s", what,
	    path, m == (S_IROTH | S_IWOTH) ? "readable and writable" :
	    m == S_IROTH ? "readable" : "writable",
	    (unsigned)(st->st_mode & 07777), secret ? "rwx" : "w", path);
	return 1;
}
