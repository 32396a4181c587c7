/*
 * test_reach.c: where a chain verifies.  On generated PKIs with stores of
 * the test's own (a data directory whose "Android" stores hold the test's
 * roots): an expired root still anchors a chain for old Android but not for
 * the system store, an expired intermediate or leaf never does, order and
 * extra certificates do not matter.  On the shipped data: the stores load,
 * and real public intermediates verify where their roots are (and Let's
 * Encrypt's, under ISRG Root X1, on no Android store).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "certload.h"
#include "corpus.h"
#include "log.h"
#include "reach.h"
#include "testpki.h"

static struct testpki *P;
static char *D, *shipped;

/* An old PKI: its root expired last year, its intermediate still valid. */
static EVP_PKEY *oldroot_key, *oldint_key, *oldleaf_key;
static X509 *oldroot, *oldint, *oldint_expired, *oldleaf, *oldleaf2;

static int
setup(void **state)
{
	struct testpki_certspec s;

	(void)state;
	log_init("chainfix", LOG_LEVEL_INFO, 0);
	P = testpki_new();
	D = testpki_tmpdir();
	shipped = getenv("CHAINFIX_DATADIR") != NULL ?
	    strdup(getenv("CHAINFIX_DATADIR")) : NULL;

	oldroot_key = testpki_key_ec();
	oldint_key = testpki_key_ec();
	oldleaf_key = testpki_key_ec();
	memset(&s, 0, sizeof(s));
	s.ca = 1;
	s.cn = "chainfix test expired root";
	s.key = oldroot_key;
	s.not_before = -800 * TESTPKI_DAY;
	s.not_after = -30 * TESTPKI_DAY;
	oldroot = testpki_cert(&s);
	s.cn = "chainfix test int under the expired root";
	s.key = oldint_key;
	s.issuer = oldroot;
	s.issuer_key = oldroot_key;
	s.not_before = -TESTPKI_DAY;
	s.not_after = 365 * TESTPKI_DAY;
	oldint = testpki_cert(&s);
	s.not_before = -400 * TESTPKI_DAY;
	s.not_after = -TESTPKI_DAY;
	oldint_expired = testpki_cert(&s);
	s.ca = 0;
	s.server = 1;
	s.cn = "old.test";
	s.san = "DNS:old.test";
	s.key = oldleaf_key;
	s.issuer = oldint;
	s.issuer_key = oldint_key;
	s.not_before = -TESTPKI_DAY;
	s.not_after = 90 * TESTPKI_DAY;
	oldleaf = testpki_cert(&s);
	s.issuer = oldint_expired;
	oldleaf2 = testpki_cert(&s);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	if (shipped != NULL)
		setenv("CHAINFIX_DATADIR", shipped, 1);
	free(shipped);
	X509_free(oldroot);
	X509_free(oldint);
	X509_free(oldint_expired);
	X509_free(oldleaf);
	X509_free(oldleaf2);
	EVP_PKEY_free(oldroot_key);
	EVP_PKEY_free(oldint_key);
	EVP_PKEY_free(oldleaf_key);
	testpki_rmtree(D);
	free(D);
	testpki_free(P);
	return 0;
}

/*
 * A data directory of the test's own: Android 2.2 trusts root_old only,
 * 2.3 to 4.4 the expired root and the test root.
 */
static void
fake_datadir(void)
{
	char *dir = testpki_mkdir(D, "data"), *roots, *p;
	X509 *froyo[] = { P->root_old, NULL };
	X509 *later[] = { oldroot, P->root, NULL };
	const char *const files[] = { "gingerbread.pem", "honeycomb.pem",
	    "ics.pem", "kitkat.pem" };
	size_t i;

	roots = testpki_mkdir(dir, REACH_ANDROID_DIR);
	p = testpki_path(roots, "froyo.pem");
	testpki_write_pem(p, froyo, NULL, NULL);
	free(p);
	for (i = 0; i < 4; i++) {
		p = testpki_path(roots, files[i]);
		testpki_write_pem(p, later, NULL, NULL);
		free(p);
	}
	setenv("CHAINFIX_DATADIR", dir, 1);
	free(roots);
	free(dir);
}

static void
test_old_android(void **state)
{
	struct certload_set *sys = certload_set_new();
	struct reach_result res;
	struct reach *r;
	X509 *good[] = { oldleaf, oldint };
	X509 *expired_int[] = { oldleaf2, oldint_expired };
	X509 *test_pki[] = { P->leaf, P->int1, P->int2, P->root };
	char line[256];
	size_t s;

	(void)state;
	fake_datadir();
	assert_int_equal(certload_set_add(sys, oldroot, "sys"), 1);
	assert_int_equal(certload_set_add(sys, P->root, "sys"), 1);
	assert_non_null(r = reach_new(sys));

	/* The expired root: not for the system store, yes for Android
	 * 2.3-4.4 (dates of the anchor ignored), no for 2.2 (not in it). */
	assert_int_equal(reach_check(r, good, 2, &res), 4);
	assert_int_equal(res.verified[REACH_SYSTEM], 0);
	assert_string_equal(res.why[REACH_SYSTEM], "certificate has expired");
	assert_int_equal(res.verified[REACH_ANDROID_2_2], 0);
	assert_string_equal(res.why[REACH_ANDROID_2_2],
	    "unable to get local issuer certificate");
	for (s = REACH_ANDROID_2_3; s <= REACH_ANDROID_4_4; s++)
		assert_int_equal(res.verified[s], 1);

	assert_string_equal(reach_describe(&res, REACH_ANDROID_4_4, NULL, line,
	    sizeof(line)), "Android 4.4: yes");
	assert_string_equal(reach_describe(&res, REACH_SYSTEM, NULL, line,
	    sizeof(line)), "system store: no (certificate has expired)");
	assert_string_equal(reach_describe(&res, REACH_SYSTEM, "roots x.pem",
	    line, sizeof(line)), "roots x.pem: no (certificate has expired)");
	assert_int_equal(reach_no_android(&res, line, sizeof(line)), 0);

	/* An expired intermediate fails everywhere: only the anchor's
	 * dates are ignored. */
	assert_int_equal(reach_check(r, expired_int, 2, &res), 0);
	for (s = 0; s < REACH_NSTORES; s++)
		assert_int_equal(res.verified[s], 0);
	assert_string_equal(res.why[REACH_ANDROID_4_4],
	    "certificate has expired");
	assert_int_equal(reach_no_android(&res, line, sizeof(line)), 1);
	assert_string_equal(line, "Android 2.2, 2.3, 3.x, 4.0 and 4.4");

	/* Leaf alone: nowhere.  The test PKI, misordered with its root and
	 * an extra: system and 2.3-4.4. */
	assert_int_equal(reach_check(r, good, 1, &res), 0);
	assert_int_equal(reach_check(r, test_pki, 4, &res), 4);
	assert_int_equal(res.verified[REACH_SYSTEM], 1);

	/* Without a system store: not available, not "no". */
	reach_free(r);
	assert_non_null(r = reach_new(NULL));
	assert_int_equal(reach_check(r, good, 2, &res), 4);
	assert_int_equal(res.verified[REACH_SYSTEM], -1);

	/* reach_verify() on one set, with and without the Android rule. */
	assert_int_equal(reach_verify(sys, good, 2, 1, res.why[0],
	    sizeof(res.why[0])), 1);
	assert_int_equal(reach_verify(sys, good, 2, 0, res.why[0],
	    sizeof(res.why[0])), 0);
	assert_int_equal(ERR_peek_error(), 0);
	reach_free(r);
	certload_set_free(sys);
}

static void
test_missing_stores(void **state)
{
	char *empty = testpki_mkdir(D, "empty"), *log, line[256];
	struct reach_result res;
	struct certload_set *set = certload_set_new();
	struct reach *r;
	X509 *good[] = { oldleaf, oldint };
	size_t s;

	(void)state;
	setenv("CHAINFIX_DATADIR", empty, 1);
	testpki_capture_start();
	r = reach_new(NULL);
	log = testpki_capture_end();
	assert_non_null(r);
	/* One warning naming the directory and the way out, not one error
	 * per store file. */
	assert_contains(log, "warning: Android root stores: ");
	assert_contains(log, "/trusted_roots: No such file or directory "
	    "(set CHAINFIX_DATADIR); reach on Android not checked");
	assert_null(strstr(log, "froyo.pem"));
	assert_null(strchr(strchr(log, '\n') + 1, '\n'));
	free(log);
	assert_int_equal(reach_check(r, good, 2, &res), 0);
	for (s = 0; s < REACH_NSTORES; s++)
		assert_int_equal(res.verified[s], -1);
	/* Nothing checked is not "fails everywhere". */
	assert_int_equal(reach_no_android(&res, line, sizeof(line)), 0);
	assert_string_equal(reach_describe(&res, REACH_ANDROID_2_2, NULL, line,
	    sizeof(line)), "Android 2.2: not checked (store not available)");
	testpki_capture_start();
	assert_int_equal(reach_android_roots(set), -1);
	free(testpki_capture_end());
	reach_free(r);
	certload_set_free(set);
	free(empty);
}

/* The shipped stores and corpus (ctest points CHAINFIX_DATADIR there). */
static void
test_shipped(void **state)
{
	static const struct { const char *file; int n; } stores[] = {
		{ "froyo.pem", 56 }, { "gingerbread.pem", 104 },
		{ "honeycomb.pem", 129 }, { "ics.pem", 134 },
		{ "kitkat.pem", 149 },
	};
	struct certload_set *all = certload_set_new(), *corpus, *one;
	struct reach_result res;
	struct reach *r;
	X509 *x;
	char cn[256], path[4096];
	size_t i, s, k44 = 0, le = 0;

	(void)state;
	if (shipped == NULL)
		skip();
	setenv("CHAINFIX_DATADIR", shipped, 1);
	/* The stores as data/PROVENANCE.md counts them. */
	for (i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "%s/%s/%s", shipped,
		    REACH_ANDROID_DIR, stores[i].file);
		assert_non_null(one = certload_set_new());
		assert_int_equal(certload_file(path, NULL, one, NULL),
		    stores[i].n);
		certload_set_free(one);
	}
	/* legacy_roots = android: their union. */
	assert_int_equal(reach_android_roots(all), 160);
	assert_non_null(r = reach_new(NULL));

	/* Every valid public intermediate, alone, as if it were the leaf:
	 * those under a root the old devices have verify there. */
	assert_non_null(corpus = certload_set_new());
	assert_int_equal(corpus_load("yes", corpus, NULL, 0), 1238);
	for (i = 0; i < certload_set_count(corpus); i++) {
		x = certload_set_cert(corpus, i);
		if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0)
			continue;
		(void)reach_check(r, &x, 1, &res);
		if (res.verified[REACH_ANDROID_4_4] == 1)
			k44++;
		cn[0] = '\0';
		X509_NAME_get_text_by_NID(X509_get_issuer_name(x),
		    NID_commonName, cn, sizeof(cn));
		/* ISRG Root X1 is in none of the Android stores. */
		if (strcmp(cn, "ISRG Root X1") == 0) {
			le++;
			for (s = REACH_ANDROID_2_2; s < REACH_NSTORES; s++)
				assert_int_equal(res.verified[s], 0);
		}
	}
	assert_true(le >= 5);		/* R10-R14, E5-E9 */
	assert_true(k44 >= 100);
	assert_int_equal(ERR_peek_error(), 0);
	reach_free(r);
	certload_set_free(corpus);
	certload_set_free(all);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_old_android),
		cmocka_unit_test(test_missing_stores),
		cmocka_unit_test(test_shipped),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
