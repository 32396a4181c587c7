/*
 * fuzz_memfile.h: hand a fuzzer's bytes to code that reads a path, through
 * an in-memory file (memfd) named /proc/self/fd/N: no disk churn.
 */
#ifndef CHAINFIX_FUZZ_MEMFILE_H
#define CHAINFIX_FUZZ_MEMFILE_H

#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

static inline int
fuzz_memfile(const unsigned char *data, size_t size, char *path, size_t len)
{
	int fd;

	if ((fd = memfd_create("fuzz", 0)) == -1)
		return -1;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return -1;
	}
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

#endif
