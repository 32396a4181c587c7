/*
 * test_file.c: only regular files are opened, without blocking on a FIFO
 * or a device; secrets others may read, and files others may change, are
 * pointed out.
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "file.h"
#include "log.h"
#include "testpki.h"

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

static void
test_open(void **state)
{
	char why[256], buf[8];
	char *reg = testpki_path(D, "reg"), *fifo = testpki_path(D, "fifo");
	struct stat st;
	FILE *f;
	int fd;

	(void)state;
	testpki_write_file(reg, "hello", 5);
	assert_true((fd = file_open(reg, &st, why, sizeof(why))) >= 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(read(fd, buf, sizeof(buf)), 5);
	close(fd);
	assert_non_null(f = file_fopen(reg, &st, why, sizeof(why)));
	assert_non_null(fgets(buf, sizeof(buf), f));
	assert_string_equal(buf, "hello");
	fclose(f);

	/* No writer: a blocking open would never return. */
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(file_open(fifo, &st, why, sizeof(why)), -1);
	assert_string_equal(why, "is a FIFO, not a regular file");
	assert_null(file_fopen(fifo, &st, why, sizeof(why)));
	assert_string_equal(why, "is a FIFO, not a regular file");
	assert_int_equal(file_open("/dev/null", &st, why, sizeof(why)), -1);
	assert_string_equal(why, "is a character device, not a regular file");
	assert_int_equal(file_open(D, &st, why, sizeof(why)), -1);
	assert_string_equal(why, "is a directory, not a regular file");
	unlink(reg);
	assert_int_equal(file_open(reg, &st, why, sizeof(why)), -1);
	assert_string_equal(why, "cannot open: No such file or directory");
	free(reg);
	free(fifo);
}

/* The warning for a file of the given mode, "" if none; free() it. */
static char *
exposed(mode_t mode, const char *what, int secret, int *warned)
{
	struct stat st;

	memset(&st, 0, sizeof(st));
	st.st_mode = S_IFREG | mode;
	testpki_capture_start();
	*warned = file_warn_exposed("/etc/x", &st, what, secret);
	return testpki_capture_end();
}

static void
test_exposed(void **state)
{
	static const struct {
		mode_t		 mode;
		int		 secret;
		const char	*want;	/* NULL: no warning */
	} cases[] = {
		{ 0600, 1, NULL },
		{ 0640, 1, NULL },	/* root:chainfix, as the README says */
		{ 0660, 1, NULL },
		{ 0644, 1, "warning: private key /etc/x is readable by others "
		    "(mode 0644): chmod o-rwx /etc/x\n" },
		{ 0602, 1, "warning: private key /etc/x is writable by others "
		    "(mode 0602): chmod o-rwx /etc/x\n" },
		{ 0666, 1, "warning: private key /etc/x is readable and "
		    "writable by others (mode 0666): chmod o-rwx /etc/x\n" },
		/* Not a secret: reading is fine, changing is not. */
		{ 0644, 0, NULL },
		{ 0646, 0, "warning: private key /etc/x is writable by others "
		    "(mode 0646): chmod o-w /etc/x\n" },
	};
	size_t i;
	char *out;
	int warned;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		out = exposed(cases[i].mode, "private key", cases[i].secret,
		    &warned);
		assert_int_equal(warned, cases[i].want != NULL);
		if (cases[i].want == NULL)
			assert_string_equal(out, "");
		else if (strstr(out, cases[i].want) == NULL)
			fail_msg("mode %04o: got \"%s\"", (unsigned)cases[i].mode,
			    out);
		free(out);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_open),
		cmocka_unit_test(test_exposed),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
