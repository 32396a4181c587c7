/*
 * test_metrics.c: the counters and their Prometheus rendering.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include <openssl/crypto.h>

#include "metrics.h"

static const char *const site_names[MS__COUNT] = {
#define SITE_NAME(sym, name, help) [sym] = name,
	METRICS_SITE_COUNTERS(SITE_NAME)
#undef SITE_NAME
};

static const char *const names[M__COUNT] = {
#define NAME(sym, name, type, help) [sym] = name,
	METRICS_COUNTERS(NAME)
#undef NAME
};

static const char *const types[M__COUNT] = {
#define TYPE(sym, name, type, help) [sym] = type,
	METRICS_COUNTERS(TYPE)
#undef TYPE
};

/* metrics_render() into a NUL-terminated string; free() it. */
static char *
render(void)
{
	struct evbuffer *b;
	size_t n;
	char *s;

	assert_non_null(b = evbuffer_new());
	assert_int_equal(metrics_render(b), 0);
	n = evbuffer_get_length(b);
	assert_non_null(s = malloc(n + 1));
	assert_int_equal(evbuffer_remove(b, s, n), (int)n);
	s[n] = '\0';
	evbuffer_free(b);
	return s;
}

/* The value of the sample line "series value" (series may have labels). */
static long long
sample(const char *text, const char *series)
{
	const char *p = text;
	size_t n = strlen(series);
	char *end;
	long long v;

	while ((p = strstr(p, series)) != NULL) {
		if ((p == text || p[-1] == '\n') && p[n] == ' ') {
			v = strtoll(p + n + 1, &end, 10);
			assert_true(*end == '\n');
			return v;
		}
		p += n;
	}
	fail_msg("no sample line for %s", series);
	return -1;
}

static void
test_add_get(void **state)
{
	int64_t before;

	(void)state;
	before = metrics_get(M_ACCEPTED);
	metrics_inc(M_ACCEPTED);
	metrics_add(M_ACCEPTED, 41);
	assert_int_equal(metrics_get(M_ACCEPTED), before + 42);

	/* A gauge goes down as well as up. */
	before = metrics_get(M_ACTIVE);
	metrics_add(M_ACTIVE, 3);
	metrics_add(M_ACTIVE, -2);
	assert_int_equal(metrics_get(M_ACTIVE), before + 1);
	metrics_add(M_ACTIVE, -1);
	assert_int_equal(metrics_get(M_ACTIVE), before);

	/* Out-of-range counters are ignored, not written past the array. */
	metrics_add((enum metrics_counter)M__COUNT, 5);
	assert_int_equal(metrics_get((enum metrics_counter)M__COUNT), 0);
}

/*
 * Every family has its # HELP and # TYPE lines before its first sample,
 * and every other line is "name[{labels}] integer".
 */
static void
test_render_format(void **state)
{
	char *text, *line, *save = NULL, help[128], type[128];
	const char *p;
	size_t i;
	int samples = 0;

	(void)state;
	text = render();
	for (i = 0; i < M__COUNT; i++) {
		(void)snprintf(help, sizeof(help), "# HELP %s ", names[i]);
		(void)snprintf(type, sizeof(type), "# TYPE %s %s\n", names[i],
		    types[i]);
		/* Counters say so in their name, gauges do not. */
		assert_int_equal(strcmp(types[i], "counter") == 0,
		    strstr(names[i], "_total") != NULL);
		assert_non_null(p = strstr(text, help));
		assert_non_null(strstr(text, type));
		assert_true(strstr(text, type) > p);
		(void)sample(text, names[i]);
	}
	for (i = 0; i < MS__COUNT; i++) {
		(void)snprintf(type, sizeof(type), "# TYPE %s counter\n",
		    site_names[i]);
		assert_non_null(strstr(text, type));
	}
	assert_non_null(strstr(text,
	    "# TYPE chainfix_handshake_failures_total counter\n"));
	assert_non_null(strstr(text,
	    "# TYPE chainfix_sessions_closed_total counter\n"));
	assert_int_equal(text[strlen(text) - 1], '\n');

	for (line = strtok_r(text, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# HELP ", 7) == 0 ||
		    strncmp(line, "# TYPE ", 7) == 0)
			continue;
		assert_true(strncmp(line, "chainfix_", 9) == 0);
		p = strrchr(line, ' ');
		assert_non_null(p);
		assert_true(p[1] == '-' || (p[1] >= '0' && p[1] <= '9'));
		assert_int_equal(strspn(p + 2, "0123456789"), strlen(p + 2));
		samples++;
	}
	/*
	 * The counters, one per handshake failure reason, build info; this
	 * runs first, so no site has been seen yet.
	 */
	assert_int_equal(samples, M__COUNT + HSF__COUNT + 1);
	free(text);
}

/* chainfix_build_info names this build's version and libraries. */
static void
test_build_info(void **state)
{
	char *text, want[256];

	(void)state;
	text = render();
	assert_non_null(strstr(text, "# TYPE chainfix_build_info gauge\n"));
	snprintf(want, sizeof(want), "\nchainfix_build_info{version=\"%s\","
	    "openssl=\"%s\",libevent=\"%s\"} 1\n", CHAINFIX_VERSION,
	    OpenSSL_version(OPENSSL_VERSION_STRING), event_get_version());
	assert_non_null(strstr(text, want));
	free(text);
}

static void
test_render_values(void **state)
{
	struct metrics_site *ms;
	char *text;
	long long timeout0, eof0;

	(void)state;
	text = render();
	timeout0 = sample(text,
	    "chainfix_handshake_failures_total{reason=\"timeout\"}");
	eof0 = sample(text, "chainfix_handshake_failures_total{reason=\"eof\"}");
	free(text);

	assert_non_null(ms = metrics_site("vals"));
	metrics_site_add(ms, MS_BYTES_IN, 1000);
	metrics_site_add(NULL, MS_BYTES_IN, 1000);	/* no site: nothing */
	metrics_hs_failure(HSF_TIMEOUT);
	metrics_hs_failure(HSF_TIMEOUT);
	metrics_hs_failure(HSF_EOF);
	/* An unknown reason counts as "other" rather than vanishing. */
	metrics_hs_failure((enum metrics_hs_failure)99);

	text = render();
	assert_int_equal(sample(text,
	    "chainfix_client_bytes_received_total{site=\"vals\"}"), 1000);
	assert_int_equal(metrics_site_get(ms, MS_BYTES_IN), 1000);
	assert_int_equal(metrics_site_get(NULL, MS_BYTES_IN), 0);
	/* Every family has the site from its first sight on, at 0. */
	assert_int_equal(sample(text,
	    "chainfix_backend_verify_failures_total{site=\"vals\"}"), 0);
	assert_int_equal(sample(text,
	    "chainfix_handshake_failures_total{reason=\"timeout\"}"),
	    timeout0 + 2);
	assert_int_equal(sample(text,
	    "chainfix_handshake_failures_total{reason=\"eof\"}"), eof0 + 1);
	assert_true(sample(text,
	    "chainfix_handshake_failures_total{reason=\"other\"}") >= 1);
	assert_int_equal(sample(text,
	    "chainfix_handshake_failures_total{reason=\"protocol\"}"), 0);
	free(text);
}

static const char *const reasons[SR__COUNT] = {
#define REASON(sym, label) [sym] = label,
	METRICS_SESSION_REASONS(REASON)
#undef REASON
};

static long long
closed(const char *text, const char *site, const char *reason)
{
	char series[160];

	snprintf(series, sizeof(series),
	    "chainfix_sessions_closed_total{site=\"%s\",reason=\"%s\"}",
	    site, reason);
	return sample(text, series);
}

/*
 * chainfix_sessions_closed_total: a site's series appear with its first
 * closed session, every reason at once; no site is "-".
 */
static void
test_sessions_closed(void **state)
{
	char *text;
	size_t i;

	(void)state;
	metrics_session_closed("alpha", SR_CLIENT_CLOSED);
	metrics_session_closed("alpha", SR_CLIENT_CLOSED);
	metrics_session_closed("alpha", SR_IDLE_TIMEOUT);
	metrics_session_closed(NULL, SR_HANDSHAKE_TIMEOUT);
	/* An unknown reason is dropped, and makes no series. */
	metrics_session_closed("beta", (enum metrics_session_reason)SR__COUNT);

	text = render();
	assert_int_equal(closed(text, "alpha", "client_closed"), 2);
	assert_int_equal(closed(text, "alpha", "idle_timeout"), 1);
	assert_int_equal(closed(text, "-", "handshake_timeout"), 1);
	for (i = 0; i < SR__COUNT; i++) {
		(void)closed(text, "alpha", reasons[i]);
		(void)closed(text, "-", reasons[i]);
	}
	assert_int_equal(closed(text, "alpha", "backend_error"), 0);
	assert_null(strstr(text, "site=\"beta\""));
	assert_string_equal(metrics_session_reason_label(SR_IDLE_TIMEOUT),
	    "idle_timeout");
	assert_string_equal(metrics_session_reason_label(
	    (enum metrics_session_reason)SR__COUNT), "?");
	free(text);
}

#define THREADS	4
#define ROUNDS	200000

static void *
hammer(void *arg)
{
	struct metrics_site *ms;
	int i;

	(void)arg;
	assert_non_null(ms = metrics_site("hammered"));
	for (i = 0; i < ROUNDS; i++) {
		metrics_inc(M_ACCEPTED);
		metrics_site_add(ms, MS_BYTES_OUT, 3);
	}
	return NULL;
}

static void *
closer(void *arg)
{
	char site[16];
	int i;

	snprintf(site, sizeof(site), "t%d", (int)(intptr_t)arg);
	for (i = 0; i < ROUNDS / 10; i++) {
		/* The same new site from every thread at once, and its own. */
		metrics_session_closed("shared", SR_BACKEND_CLOSED);
		metrics_session_closed(site, SR_CLIENT_ERROR);
	}
	return NULL;
}

/* Sites first seen on several threads at once: one series, exact counts. */
static void
test_sessions_closed_threads(void **state)
{
	pthread_t t[THREADS];
	char *text, site[16];
	const char *p;
	int i, n = 0;

	(void)state;
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, closer,
		    (void *)(intptr_t)i), 0);
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	text = render();
	assert_int_equal(closed(text, "shared", "backend_closed"),
	    (long long)THREADS * (ROUNDS / 10));
	for (i = 0; i < THREADS; i++) {
		snprintf(site, sizeof(site), "t%d", i);
		assert_int_equal(closed(text, site, "client_error"),
		    ROUNDS / 10);
	}
	for (p = text; (p = strstr(p, "{site=\"shared\",reason=\"shutdown\"}"))
	    != NULL; p++)
		n++;
	assert_int_equal(n, 1);
	free(text);
}

/* Concurrent updates from several threads lose nothing. */
static void
test_threads(void **state)
{
	pthread_t t[THREADS];
	int64_t hs0, out0;
	int i;

	(void)state;
	hs0 = metrics_get(M_ACCEPTED);
	out0 = metrics_site_get(metrics_site("hammered"), MS_BYTES_OUT);
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, NULL), 0);
	for (i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	assert_int_equal(metrics_get(M_ACCEPTED),
	    hs0 + (int64_t)THREADS * ROUNDS);
	assert_int_equal(metrics_site_get(metrics_site("hammered"),
	    MS_BYTES_OUT), out0 + (int64_t)THREADS * ROUNDS * 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_get),
		cmocka_unit_test(test_render_format),
		cmocka_unit_test(test_build_info),
		cmocka_unit_test(test_render_values),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_sessions_closed),
		cmocka_unit_test(test_sessions_closed_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
