/*
 * test_log.c: log_enabled() agrees with what the log functions write.
 *
 * stderr is sent to a pipe for each case, so what was written can be read
 * back and compared with what log_enabled() said beforehand.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

/* Log one line at level with stderr on a pipe: what was written, in buf. */
static size_t
captured(enum log_level level, char *buf, size_t len)
{
	int p[2], saved;
	ssize_t n;

	assert_int_equal(pipe(p), 0);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_int_not_equal(dup2(p[1], STDERR_FILENO), -1);
	close(p[1]);
	switch (level) {
	case LOG_LEVEL_ERR:
		log_errx("line at %s", "error");
		break;
	case LOG_LEVEL_WARN:
		log_warnx("line at %s", "warning");
		break;
	case LOG_LEVEL_INFO:
		log_info("line at %s", "info");
		break;
	case LOG_LEVEL_DEBUG:
		log_debug("line at %s", "debug");
		break;
	}
	assert_int_not_equal(dup2(saved, STDERR_FILENO), -1);
	close(saved);
	n = read(p[0], buf, len - 1);
	close(p[0]);
	buf[n > 0 ? n : 0] = '\0';
	return n > 0 ? (size_t)n : 0;
}

static void
test_enabled_matches_written(void **state)
{
	static const enum log_level levels[] = {
		LOG_LEVEL_ERR, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG
	};
	char buf[512];
	size_t max, i;

	(void)state;
	for (max = 0; max < 4; max++) {
		log_init("test_log", levels[max], 0);
		for (i = 0; i < 4; i++) {
			assert_int_equal(log_enabled(levels[i]), i <= max);
			assert_int_equal(captured(levels[i], buf,
			    sizeof(buf)) > 0, i <= max);
			if (i <= max)
				assert_non_null(strstr(buf, "line at"));
		}
	}
	/* log_setlevel() moves it too. */
	log_setlevel(LOG_LEVEL_WARN);
	assert_false(log_enabled(LOG_LEVEL_INFO));
	assert_true(log_enabled(LOG_LEVEL_WARN));
	log_setlevel(LOG_LEVEL_DEBUG);
	assert_true(log_enabled(LOG_LEVEL_DEBUG));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_enabled_matches_written),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
