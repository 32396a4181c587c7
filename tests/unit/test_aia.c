/*
 * test_aia.c: fetching issuers from caIssuers URLs that point at a local
 * `python3 -m http.server` (on a port it picks itself), in every form CAs
 * publish them (DER, PEM, PKCS#7), with ldap: URLs skipped, and what goes
 * wrong (404, an HTML page, nobody listening) reported; the cache directory.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <dirent.h>
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

#include "aia.h"
#include "certload.h"
#include "log.h"
#include "testpki.h"

static struct testpki *P;
static char *D, *www;
static pid_t httpd;
static int port;

static int
setup(void **state)
{
	X509 *p7[3] = { NULL, NULL, NULL };
	char *f;

	(void)state;
	log_init("chainfix", LOG_LEVEL_INFO, 0);
	P = testpki_new();
	D = testpki_tmpdir();
	www = testpki_mkdir(D, "www");
	f = testpki_path(www, "int2.der");
	testpki_write_der(f, P->int2);
	free(f);
	f = testpki_path(www, "int1.p7c");
	p7[0] = P->int1;
	p7[1] = P->int1_cross;
	testpki_write_p7(f, p7, 0);
	free(f);
	f = testpki_path(www, "int1.pem");
	p7[1] = NULL;
	testpki_write_pem(f, p7, NULL, NULL);
	free(f);
	f = testpki_path(www, "page.html");
	testpki_write_file(f, "<html>moved</html>\n", 19);
	free(f);
	port = testpki_http_server(www, &httpd);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	testpki_http_stop(httpd);
	testpki_rmtree(D);
	free(www);
	free(D);
	testpki_free(P);
	return 0;
}

/*
 * A leaf under int2 whose caIssuers is aia (testpki_cert() writes
 * "caIssuers;URI:" before it: more URLs join with ",caIssuers;URI:").
 */
static X509 *
leaf_with(const char *aia)
{
	struct testpki_certspec s;

	memset(&s, 0, sizeof(s));
	s.cn = "aia.test";
	s.key = P->leaf_key;
	s.issuer = P->int2;
	s.issuer_key = P->int2_key;
	s.not_before = -TESTPKI_DAY;
	s.not_after = 30 * TESTPKI_DAY;
	s.server = 1;
	s.aia = aia;
	return testpki_cert(&s);
}

static int
fetch(X509 *x, struct certload_set *set, char **log)
{
	struct aia_opts o = { 5, 0 };
	int r;

	testpki_capture_start();
	r = aia_fetch(x, &o, "site", set);
	*log = testpki_capture_end();
	assert_int_equal(ERR_peek_error(), 0);
	return r;
}

static void
test_urls(void **state)
{
	char urls[AIA_MAX_URLS][AIA_URL_MAX];

	(void)state;
	/* The test PKI's leaf names one. */
	assert_int_equal(aia_urls(P->leaf, urls, AIA_MAX_URLS), 1);
	assert_string_equal(urls[0], "http://pki.invalid/int2.cer");
	assert_int_equal(aia_urls(P->int2, urls, AIA_MAX_URLS), 0);
	assert_int_equal(aia_urls(P->leaf, urls, 0), 0);
}

static void
test_fetch_forms(void **state)
{
	struct certload_set *set = certload_set_new();
	char aia[512], *log;
	X509 *x;

	(void)state;
	/* DER, after an ldap: URL that is reported and skipped. */
	snprintf(aia, sizeof(aia), "ldap://ldap.invalid/cn=int2?cACertificate,"
	    "caIssuers;URI:http://127.0.0.1:%d/int2.der", port);
	x = leaf_with(aia);
	assert_int_equal(fetch(x, set, &log), 1);
	assert_contains(log, "caIssuers ldap://ldap.invalid/cn=int2?"
	    "cACertificate skipped");
	assert_contains(log, "fetched 1 certificate from caIssuers http://");
	assert_true(testpki_set_has(set, P->int2));
	assert_contains(certload_set_source(set, 0), "/int2.der");
	free(log);
	X509_free(x);

	/* PKCS#7 (two certificates) and PEM. */
	snprintf(aia, sizeof(aia), "http://127.0.0.1:%d/int1.p7c,"
	    "caIssuers;URI:http://127.0.0.1:%d/int1.pem", port, port);
	x = leaf_with(aia);
	assert_int_equal(fetch(x, set, &log), 3);
	assert_true(testpki_set_has(set, P->int1) &&
	    testpki_set_has(set, P->int1_cross));
	assert_int_equal(certload_set_count(set), 3);	/* int1 once */
	free(log);
	X509_free(x);
	certload_set_free(set);
}

static void
test_fetch_failures(void **state)
{
	struct certload_set *set = certload_set_new();
	char aia[512], *log;
	X509 *x;

	(void)state;
	snprintf(aia, sizeof(aia), "http://127.0.0.1:%d/missing.der,"
	    "caIssuers;URI:http://127.0.0.1:%d/page.html,"
	    "caIssuers;URI:ftp://127.0.0.1/x.der", port, port);
	x = leaf_with(aia);
	assert_int_equal(fetch(x, set, &log), 0);
	assert_contains(log, "cannot fetch caIssuers http://127.0.0.1:");
	assert_contains(log, "HTTP 404");
	assert_contains(log, "/page.html: ");
	assert_contains(log, "caIssuers ftp://127.0.0.1/x.der skipped");
	assert_int_equal(certload_set_count(set), 0);
	free(log);
	X509_free(x);
	/* No AIA at all: nothing, silently. */
	assert_int_equal(fetch(P->int2, set, &log), 0);
	assert_string_equal(log, "");
	free(log);
	certload_set_free(set);
}

static void
test_cache(void **state)
{
	char *dir = testpki_path(D, "cache"), *log;
	struct certload_set *set = certload_set_new();
	struct dirent *e;
	DIR *d;
	int files = 0;

	(void)state;
	/* Nothing kept yet: an empty cache, not an error. */
	assert_int_equal(aia_cache_load(dir, set), 0);
	assert_int_equal(aia_cache_store(dir, P->int2, "site"), 0);
	assert_int_equal(aia_cache_store(dir, P->int1, "site"), 0);
	assert_int_equal(aia_cache_store(dir, P->int2, "site"), 0);
	assert_non_null(d = opendir(dir));
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.') {
			/* sha256 hex + ".pem" */
			assert_int_equal(strlen(e->d_name), 64 + 4);
			files++;
		}
	closedir(d);
	assert_int_equal(files, 2);
	assert_int_equal(aia_cache_load(dir, set), 2);
	assert_true(testpki_set_has(set, P->int1) &&
	    testpki_set_has(set, P->int2));

	/* A cache that cannot be written: a warning, not a failure. */
	testpki_capture_start();
	assert_int_equal(aia_cache_store("/proc/chainfix-no", P->int2,
	    "site"), -1);
	log = testpki_capture_end();
	assert_contains(log, "site: cannot create aia_cache /proc/chainfix-no");
	free(log);
	free(dir);
	certload_set_free(set);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_fetch_forms),
		cmocka_unit_test(test_fetch_failures),
		cmocka_unit_test(test_cache),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
