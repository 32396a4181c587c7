/*
 * test_health.c: the backends' shared health state: passive marking,
 * active check results, what new sessions may use, the readiness query,
 * the log lines (once per change, once per refusal cause), the metric,
 * state shared across reloads, and many threads at once.
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

#include "config.h"
#include "health.h"
#include "log.h"
#include "testpki.h"

static struct config_hostport backends[2] = {
	{ (char *)(uintptr_t)"exch1.corp", 443,
	    (char *)(uintptr_t)"exch1.corp:443" },
	{ (char *)(uintptr_t)"exch2.corp", 443,
	    (char *)(uintptr_t)"exch2.corp:443" },
};

static void
site_init(struct config_site *cs, const char *name, enum config_check check)
{
	memset(cs, 0, sizeof(*cs));
	cs->name = (char *)(uintptr_t)name;
	cs->backends = backends;
	cs->nbackends = 2;
	cs->backend_retry = 3600;	/* never passes during a test */
	cs->backend_check = check;
	cs->backend_check_interval = 10;
}

static int
count(const char *s, const char *needle)
{
	int n = 0;

	while ((s = strstr(s, needle)) != NULL) {
		n++;
		s += strlen(needle);
	}
	return n;
}

/* What the metric says, as rendered. */
static char *
render(const struct health_site *hs)
{
	struct evbuffer *b;
	size_t n;
	char *s;

	assert_non_null(b = evbuffer_new());
	assert_int_equal(health_render_header(b), 0);
	assert_int_equal(health_render(hs, b), 0);
	n = evbuffer_get_length(b);
	assert_non_null(s = malloc(n + 1));
	assert_int_equal(evbuffer_remove(b, s, n), (int)n);
	s[n] = '\0';
	evbuffer_free(b);
	return s;
}

/* Passive: a failure marks down (logged once), a success marks up. */
static void
test_passive(void **state)
{
	struct config_site cs;
	struct health_site *hs;
	char *out, why[256];

	(void)state;
	site_init(&cs, "mail", CONFIG_CHECK_NONE);
	assert_non_null(hs = health_site_new(&cs));
	assert_true(health_usable(hs, 0));
	assert_true(health_usable(hs, 1));
	assert_false(health_usable(hs, 2));
	out = render(hs);
	assert_non_null(strstr(out, "# TYPE chainfix_backend_up gauge\n"));
	assert_non_null(strstr(out, "chainfix_backend_up{site=\"mail\","
	    "backend=\"exch1.corp:443\"} 1\n"));
	free(out);

	testpki_capture_start();
	health_failed(hs, 0, "connect: Connection refused");
	health_failed(hs, 0, "connect: timeout");
	out = testpki_capture_end();
	assert_int_equal(count(out, "is down"), 1);
	assert_non_null(strstr(out, "warning: site mail: backend "
	    "exch1.corp:443 is down: connect: Connection refused; new "
	    "sessions skip it for 3600s"));
	free(out);
	assert_false(health_usable(hs, 0));
	assert_true(health_usable(hs, 1));
	assert_true(health_any_usable(hs));
	assert_int_equal(health_site_up(hs, why, sizeof(why)), 1);
	out = render(hs);
	assert_non_null(strstr(out, "backend=\"exch1.corp:443\"} 0\n"));
	assert_non_null(strstr(out, "backend=\"exch2.corp:443\"} 1\n"));
	free(out);

	health_failed(hs, 1, "TLS handshake: closed");
	assert_false(health_any_usable(hs));
	assert_int_equal(health_site_up(hs, why, sizeof(why)), 0);
	assert_string_equal(why, "site mail: every backend is down: "
	    "exch1.corp:443, exch2.corp:443");

	testpki_capture_start();
	health_ok(hs, 0);
	health_ok(hs, 0);
	out = testpki_capture_end();
	assert_int_equal(count(out, "is up again"), 1);
	assert_non_null(strstr(out, "info: site mail: backend exch1.corp:443 "
	    "is up again (a session got through"));
	free(out);
	assert_true(health_usable(hs, 0));
	assert_int_equal(health_site_up(hs, why, sizeof(why)), 1);
	health_ok(hs, 1);
	health_site_free(hs);
	health_site_free(NULL);
}

/*
 * Active checks decide: a session getting through does not bring a
 * backend back, a passed check does; a session failing on it does not cut
 * the check's verdict short.
 */
static void
test_checked(void **state)
{
	struct config_site cs;
	struct health_site *hs;
	char *out;

	(void)state;
	site_init(&cs, "owa", CONFIG_CHECK_GET);
	assert_non_null(hs = health_site_new(&cs));
	assert_int_equal(health_check_at(hs, 0), 0);
	health_check_next(hs, 0, 12345);
	assert_int_equal(health_check_at(hs, 0), 12345);

	testpki_capture_start();
	health_checked(hs, 0, 0, "GET /owa/healthcheck.htm: HTTP/1.1 503");
	health_checked(hs, 0, 0, "GET /owa/healthcheck.htm: HTTP/1.1 503");
	health_ok(hs, 0);
	out = testpki_capture_end();
	assert_int_equal(count(out, "is down"), 1);
	assert_non_null(strstr(out, "site owa: backend exch1.corp:443 is "
	    "down: check failed: GET /owa/healthcheck.htm: HTTP/1.1 503; new "
	    "sessions skip it until a check passes"));
	assert_null(strstr(out, "up again"));
	free(out);
	assert_false(health_usable(hs, 0));
	health_failed(hs, 0, "connect: refused");
	assert_false(health_usable(hs, 0));

	testpki_capture_start();
	health_checked(hs, 0, 1, "");
	out = testpki_capture_end();
	assert_non_null(strstr(out, "backend exch1.corp:443 is up again "
	    "(check passed"));
	free(out);
	assert_true(health_usable(hs, 0));
	health_site_free(hs);
}

/* A refused certificate: a warning per backend and cause, not per call. */
static void
test_refused(void **state)
{
	struct config_site cs;
	struct health_site *hs;
	char *out;

	(void)state;
	site_init(&cs, "pin", CONFIG_CHECK_NONE);
	assert_non_null(hs = health_site_new(&cs));
	testpki_capture_start();
	health_refused(hs, 0, "self-signed certificate");
	health_refused(hs, 0, "self-signed certificate");
	health_refused(hs, 1, "self-signed certificate");
	health_refused(hs, 0, "certificate has expired");
	health_refused(hs, 0, "certificate has expired");
	out = testpki_capture_end();
	assert_int_equal(count(out, "certificate refused"), 3);
	assert_int_equal(count(out, "backend exch1.corp:443: certificate "
	    "refused: self-signed certificate"), 1);
	assert_int_equal(count(out, "backend exch2.corp:443: certificate "
	    "refused: self-signed certificate"), 1);
	assert_int_equal(count(out, "backend exch1.corp:443: certificate "
	    "refused: certificate has expired"), 1);
	free(out);
	health_site_free(hs);
}

/*
 * A reload: the new configuration's site of the same name shares the
 * state of the backends it keeps (and the old one's sessions report into
 * it); a backend it adds starts up; one no generation names is forgotten.
 */
static void
test_shared_across_reloads(void **state)
{
	struct config_hostport three[2] = {
		backends[1],
		{ (char *)(uintptr_t)"exch3.corp", 443,
		    (char *)(uintptr_t)"exch3.corp:443" },
	};
	struct config_site old, new;
	struct health_site *ho, *hn;
	char *out;

	(void)state;
	site_init(&old, "web", CONFIG_CHECK_NONE);
	assert_non_null(ho = health_site_new(&old));
	testpki_capture_start();
	health_failed(ho, 1, "refused");
	health_failed(ho, 0, "refused");

	site_init(&new, "web", CONFIG_CHECK_NONE);
	new.backends = three;
	assert_non_null(hn = health_site_new(&new));
	assert_false(health_usable(hn, 0));	/* exch2, down before */
	assert_true(health_usable(hn, 1));	/* exch3, new */
	/* A session of the old generation gets through to exch2. */
	health_ok(ho, 1);
	assert_true(health_usable(hn, 0));
	health_site_free(ho);
	/* exch1 is gone with the old generation: a new one starts up. */
	site_init(&old, "web", CONFIG_CHECK_NONE);
	assert_non_null(ho = health_site_new(&old));
	assert_true(health_usable(ho, 0));
	out = testpki_capture_end();
	free(out);
	/* Another site's backend of the same name is another backend. */
	site_init(&new, "other", CONFIG_CHECK_NONE);
	health_failed(ho, 1, "refused");
	health_site_free(hn);
	assert_non_null(hn = health_site_new(&new));
	assert_true(health_usable(hn, 1));
	health_site_free(hn);
	health_site_free(ho);
}

struct racer {
	struct health_site	*hs;
	int			 ok;
};

static void *
race(void *arg)
{
	struct racer *r = arg;
	int i;

	for (i = 0; i < 2000; i++) {
		if (r->ok)
			health_ok(r->hs, 0);
		else
			health_failed(r->hs, 0, "refused");
		(void)health_usable(r->hs, 0);
	}
	return NULL;
}

/* Workers at once: no lost state, and each line logged whole. */
static void
test_threads(void **state)
{
	struct config_site cs;
	struct racer r[4];
	pthread_t t[4];
	char *out;
	int i, downs, ups;

	(void)state;
	site_init(&cs, "busy", CONFIG_CHECK_NONE);
	testpki_capture_start();
	for (i = 0; i < 4; i++) {
		r[i].ok = i % 2;
		assert_non_null(r[i].hs = health_site_new(&cs));
	}
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	/* Settle: down, then up; each change logged exactly once. */
	health_failed(r[0].hs, 0, "refused");
	health_ok(r[1].hs, 0);
	out = testpki_capture_end();
	downs = count(out, "busy: backend exch1.corp:443 is down");
	ups = count(out, "busy: backend exch1.corp:443 is up again");
	/* Changes alternate, starting with down. */
	assert_true(downs >= 1);
	assert_int_equal(ups, downs);
	assert_int_equal(count(out, "\n"), downs + ups);
	free(out);
	assert_true(health_usable(r[2].hs, 0));
	for (i = 0; i < 4; i++)
		health_site_free(r[i].hs);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_passive),
		cmocka_unit_test(test_checked),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_shared_across_reloads),
		cmocka_unit_test(test_threads),
	};

	log_init("test_health", LOG_LEVEL_DEBUG, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
