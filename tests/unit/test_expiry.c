/*
 * test_expiry.c: the expiry watch (expiry.h) on generations loaded from the
 * test PKI: the state of a certificate, the warning and error lines, the
 * decision to rebuild, and the replacement line after a rebuild.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "chain.h"
#include "expiry.h"
#include "generation.h"
#include "log.h"
#include "testpki.h"

struct fixture {
	char		*dir;
	char		*inter;
	char		*conf;
	struct testpki	*pki;
};

#define assert_lacks(hay, needle) do {					\
	if (strstr((hay), (needle)) != NULL)				\
		fail_msg("\"%s\" unexpected in:\n%s", (needle), (hay));	\
} while (0)

static int
setup(void **state)
{
	struct fixture *f;
	char *p;

	assert_non_null(f = calloc(1, sizeof(*f)));
	f->dir = testpki_tmpdir();
	f->pki = testpki_new();
	testpki_write(f->pki, f->dir);
	/* Our own directory: int2 and whichever int1 the test wants. */
	f->inter = testpki_mkdir(f->dir, "inter");
	p = testpki_path(f->inter, "int2.der");
	testpki_write_der(p, f->pki->int2);
	free(p);
	f->conf = testpki_path(f->dir, "chainfix.conf");
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	testpki_rmtree(f->dir);
	testpki_free(f->pki);
	free(f->conf);
	free(f->inter);
	free(f->dir);
	free(f);
	return 0;
}

/* Write x into the intermediates directory as name. */
static void
put_int(struct fixture *f, const char *name, X509 *x)
{
	X509 *certs[2] = { x, NULL };
	char *p = testpki_path(f->inter, name);

	testpki_write_pem(p, certs, NULL, NULL);
	free(p);
}

/* int1's subject and key, issued by the root, valid for the given span. */
static X509 *
int1_twin(struct fixture *f, long not_before, long not_after)
{
	struct testpki_certspec s;

	memset(&s, 0, sizeof(s));
	s.cn = "chainfix test int1";
	s.key = f->pki->int1_key;
	s.issuer = f->pki->root;
	s.issuer_key = f->pki->root_key;
	s.not_before = not_before;
	s.not_after = not_after;
	s.ca = 1;
	return testpki_cert(&s);
}

/* One site "s" on the PKI's leaf and our directory, then extra lines. */
static struct generation *
load_ex(struct fixture *f, unsigned warn_days, const char *extra)
{
	struct generation *g;
	char text[4096];

	(void)snprintf(text, sizeof(text),
	    "[global]\n"
	    "expiry_warning_days = %u\n"
	    "[s]\n"
	    "listen = 127.0.0.1:8443\n"
	    "cert = %s/leaf.pem\n"
	    "key = %s/leaf.key\n"
	    "intermediates = %s\n"
	    "roots = %s/root.pem\n"
	    "backend = 127.0.0.1:443\n"
	    "backend_ca = %s/root.pem\n%s",
	    warn_days, f->dir, f->dir, f->inter, f->dir, f->dir, extra);
	testpki_write_file(f->conf, text, strlen(text));
	testpki_capture_start();
	g = generation_load(f->conf, 1);
	free(testpki_capture_end());
	assert_non_null(g);
	return g;
}

static struct generation *
load(struct fixture *f, unsigned warn_days)
{
	return load_ex(f, warn_days, "");
}

static void
test_state(void **state)
{
	struct chain_cert cc;
	time_t now = 1800000000;
	int i;

	(void)state;
	memset(&cc, 0, sizeof(cc));
	cc.not_before = now - 86400;
	cc.not_after = now + 31 * 86400;
	assert_int_equal(chain_cert_validity(&cc, now, 30), CHAIN_VALID);
	cc.not_after = now + 30 * 86400;	/* exactly 30 days: not inside */
	assert_int_equal(chain_cert_validity(&cc, now, 30), CHAIN_VALID);
	cc.not_after = now + 30 * 86400 - 1;
	assert_int_equal(chain_cert_validity(&cc, now, 30), CHAIN_EXPIRING);
	assert_int_equal(chain_cert_validity(&cc, now, 0), CHAIN_VALID);
	cc.not_after = now;			/* valid through its notAfter */
	assert_int_equal(chain_cert_validity(&cc, now, 30), CHAIN_EXPIRING);
	assert_int_equal(chain_cert_validity(&cc, now, 0), CHAIN_VALID);
	cc.not_after = now - 1;
	assert_int_equal(chain_cert_validity(&cc, now, 30), CHAIN_EXPIRED);
	assert_int_equal(chain_cert_validity(&cc, now, 0), CHAIN_EXPIRED);
	cc.not_before = now + 1;
	cc.not_after = now + 365 * 86400;
	assert_int_equal(chain_cert_validity(&cc, now, 30), CHAIN_NOT_YET_VALID);

	assert_string_equal(chain_validity_name(CHAIN_VALID), "valid");
	assert_string_equal(chain_validity_name(CHAIN_EXPIRING), "expiring");
	assert_string_equal(chain_validity_name(CHAIN_EXPIRED), "expired");
	assert_string_equal(chain_validity_name(CHAIN_NOT_YET_VALID),
	    "not yet valid");
	i = 99;
	assert_string_equal(chain_validity_name((enum chain_validity)i), "?");
}

static void
test_expiring(void **state)
{
	struct fixture *f = *state;
	struct generation *g;
	X509 *soon;
	char *out, date[16];
	struct tm tm;
	time_t na;

	soon = int1_twin(f, -TESTPKI_DAY, 10 * TESTPKI_DAY);
	put_int(f, "int1-soon.pem", soon);
	X509_free(soon);

	g = load(f, 30);
	na = chain_get(g->sites[0].chain, 2)->not_after;
	gmtime_r(&na, &tm);
	strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	testpki_capture_start();
	assert_int_equal(expiry_check(g, time(NULL)), 0);
	out = testpki_capture_end();
	assert_contains(out, "warning: site s: certificate depth 2 "
	    "\"CN=chainfix test int1\" expires in ");
	assert_contains(out, date);
	assert_lacks(out, "depth 0");
	assert_lacks(out, "depth 1");
	assert_lacks(out, "error");
	free(out);
	/* Nothing is invalid: no rebuild is even tried. */
	testpki_capture_start();
	assert_int_equal(expiry_rebuild_helps(g, time(NULL)), 0);
	out = testpki_capture_end();
	assert_string_equal(out, "");
	free(out);
	generation_unref(g);

	/* A 5-day window: nothing to say. */
	g = load(f, 5);
	testpki_capture_start();
	assert_int_equal(expiry_check(g, time(NULL)), 0);
	out = testpki_capture_end();
	assert_string_equal(out, "");
	free(out);
	generation_unref(g);
}

/* The legacy chain is served too: its certificates are watched. */
static void
test_legacy_expiring(void **state)
{
	struct fixture *f = *state;
	struct generation *g;
	struct testpki_certspec s;
	X509 *cross;
	char extra[512], *out;

	put_int(f, "int1.pem", f->pki->int1);
	memset(&s, 0, sizeof(s));
	s.cn = "chainfix test int1";
	s.key = f->pki->int1_key;
	s.issuer = f->pki->root_old;
	s.issuer_key = f->pki->root_old_key;
	s.not_before = -TESTPKI_DAY;
	s.not_after = 10 * TESTPKI_DAY;
	s.ca = 1;
	cross = testpki_cert(&s);
	put_int(f, "int1-cross-soon.pem", cross);
	X509_free(cross);
	snprintf(extra, sizeof(extra), "legacy_roots = %s/root-old.pem\n",
	    f->dir);

	g = load_ex(f, 30, extra);
	assert_non_null(chain_legacy(g->sites[0].chain));
	testpki_capture_start();
	assert_int_equal(expiry_check(g, time(NULL)), 0);
	out = testpki_capture_end();
	assert_contains(out, "warning: site s: legacy chain: certificate "
	    "depth 2 \"CN=chainfix test int1\" expires in ");
	/* The preferred chain's int1 is valid for a year. */
	assert_lacks(out, "site s: certificate depth");
	free(out);
	generation_unref(g);
}

static void
test_expired_replaced(void **state)
{
	struct fixture *f = *state;
	struct generation *g1, *g2;
	time_t now;
	char *out;

	put_int(f, "int1-expired.pem", f->pki->int1_expired);
	g1 = load(f, 30);
	now = time(NULL);

	testpki_capture_start();
	assert_int_equal(expiry_check(g1, now), 1);
	out = testpki_capture_end();
	assert_contains(out, "error: site s: certificate depth 2 "
	    "\"CN=chainfix test int1\" has expired (");
	free(out);

	/* Nothing better on disk: no reload is worth it. */
	testpki_capture_start();
	assert_int_equal(expiry_rebuild_helps(g1, now), 0);
	out = testpki_capture_end();
	assert_contains(out, "site s: no valid replacement for the expired "
	    "certificate in ");
	free(out);

	/* The renewal appears: a rebuild would serve it. */
	put_int(f, "int1-renewed.pem", f->pki->int1);
	testpki_capture_start();
	assert_int_equal(expiry_rebuild_helps(g1, now), 1);
	out = testpki_capture_end();
	assert_contains(out, "site s: a valid replacement for an expired "
	    "certificate is available");
	free(out);

	g2 = load(f, 30);
	testpki_capture_start();
	assert_int_equal(expiry_check(g2, now), 0);
	assert_int_equal(expiry_log_replaced(g1, g2, now), 1);
	/* Nothing was invalid in g2: nothing to report the other way. */
	assert_int_equal(expiry_log_replaced(g2, g1, now), 0);
	assert_int_equal(expiry_log_replaced(g2, g2, now), 0);
	out = testpki_capture_end();
	assert_contains(out, "info: site s: expired intermediate "
	    "\"CN=chainfix test int1\" replaced by \"CN=chainfix test int1\" "
	    "(notAfter ");
	assert_contains(out, "/inter/int1-renewed.pem) without a restart");
	assert_lacks(out, "has expired");
	free(out);
	generation_unref(g2);
	generation_unref(g1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state),
		cmocka_unit_test_setup_teardown(test_expiring, setup, teardown),
		cmocka_unit_test_setup_teardown(test_legacy_expiring, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_expired_replaced, setup,
		    teardown),
	};

	log_init("test_expiry", LOG_LEVEL_DEBUG, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
