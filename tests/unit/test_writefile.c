/*
 * test_writefile.c: a replaced file is whole, has the mode asked for and
 * keeps its group; a failed write leaves the old file and no temporary
 * file behind, and says which file.
 */
#include <sys/stat.h>

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "testpki.h"
#include "writefile.h"

static char *D;

static int
setup(void **state)
{
	(void)state;
	log_init("chainfix", LOG_LEVEL_INFO, 0);
	D = testpki_tmpdir();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	testpki_rmtree(D);
	free(D);
	return 0;
}

/* What path holds, as a string (the files here are small text). */
static char *
slurp(const char *path)
{
	char *buf;
	FILE *f;
	size_t n;

	assert_non_null(f = fopen(path, "r"));
	assert_non_null(buf = calloc(1, 4096));
	n = fread(buf, 1, 4095, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* The names in D: only what a test put there, no "NAME.XXXXXX" left. */
static int
entries(void)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	assert_non_null(d = opendir(D));
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
test_replace(void **state)
{
	char *path = testpki_path(D, "bundle.pem"), *got;
	struct stat st;

	(void)state;
	assert_int_equal(writefile_atomic(path, "first\n", 6, 0644), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	got = slurp(path);
	assert_string_equal(got, "first\n");
	free(got);

	assert_int_equal(writefile_atomic(path, "second, longer\n", 15, 0600),
	    0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	got = slurp(path);
	assert_string_equal(got, "second, longer\n");
	free(got);
	assert_int_equal(entries(), 1);
	unlink(path);
	free(path);
}

/* A file another service reads through its group stays in that group. */
static void
test_group_kept(void **state)
{
	char *path = testpki_path(D, "keys");
	struct stat st;
	gid_t other = 1;	/* "daemon" on Debian; any group but ours */

	(void)state;
	if (geteuid() != 0) {
		free(path);
		skip();		/* only root can give a file to another group */
	}
	assert_int_equal(writefile_atomic(path, "k\n", 2, 0640), 0);
	assert_int_equal(chown(path, (uid_t)-1, other), 0);
	assert_int_equal(writefile_atomic(path, "k2\n", 3, 0640), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_gid, other);
	assert_int_equal(st.st_mode & 07777, 0640);
	unlink(path);
	free(path);
}

/* A write that cannot be made leaves the old file as it was. */
static void
test_failure(void **state)
{
	char *path = testpki_path(D, "kept"), *bad, *got, *out;

	(void)state;
	assert_int_equal(writefile_atomic(path, "old\n", 4, 0644), 0);
	bad = testpki_path(D, "no-such-dir/file");
	testpki_capture_start();
	assert_int_equal(writefile_atomic(bad, "x", 1, 0644), -1);
	out = testpki_capture_end();
	assert_contains(out, "no-such-dir/file.");
	assert_contains(out, "cannot create temporary file");
	free(out);

	free(bad);

	/* A directory in the way of the rename: the temporary file goes. */
	bad = testpki_path(D, "a-dir");
	assert_int_equal(mkdir(bad, 0700), 0);
	testpki_capture_start();
	assert_int_equal(writefile_atomic(bad, "x", 1, 0644), -1);
	out = testpki_capture_end();
	assert_contains(out, "rename");
	assert_contains(out, bad);
	free(out);
	assert_int_equal(entries(), 2);		/* kept, a-dir */
	got = slurp(path);
	assert_string_equal(got, "old\n");
	free(got);
	rmdir(bad);
	unlink(path);
	free(bad);
	free(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_group_kept),
		cmocka_unit_test(test_failure),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
