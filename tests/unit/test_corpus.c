/*
 * test_corpus.c: the public intermediates: which file `yes` means, loading
 * the shipped corpus, and reading a downloaded one (a PEM bundle, Mozilla's
 * CSV report) with everything a download can get wrong; the update command
 * from a local file.  (Over HTTPS: tests/integration/t_intermediates_update.)
 */
#include <sys/stat.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certload.h"
#include "corpus.h"
#include "log.h"
#include "testpki.h"

static struct testpki *P;
static char *D;

static int
setup(void **state)
{
	(void)state;
	log_init("chainfix", LOG_LEVEL_INFO, 0);
	P = testpki_new();
	D = testpki_tmpdir();
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	testpki_rmtree(D);
	free(D);
	testpki_free(P);
	return 0;
}

/* x as PEM text, in a new string. */
static char *
pem(X509 *x)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *s;
	long n;

	assert_non_null(b);
	assert_int_equal(PEM_write_bio_X509(b, x), 1);
	n = BIO_get_mem_data(b, &data);
	/* Not strndup(): the BIO's data has no NUL to stop at. */
	assert_non_null(s = malloc((size_t)n + 1));
	memcpy(s, data, (size_t)n);
	s[n] = '\0';
	BIO_free(b);
	return s;
}

static int
parse(const char *text, struct certload_set *set, struct corpus_stats *st,
    char *why, size_t whylen)
{
	int r;

	r = corpus_parse((const unsigned char *)text, strlen(text), "src",
	    set, st, why, whylen);
	assert_int_equal(ERR_peek_error(), 0);
	return r;
}

static void
test_pem_bundle(void **state)
{
	char *i1 = pem(P->int1), *i2 = pem(P->int2), *root = pem(P->root);
	char *leaf = pem(P->leaf), *ex = pem(P->int1_expired), *text, why[256];
	struct certload_set *s = certload_set_new();
	struct corpus_stats st;

	(void)state;
	/* Text around the blocks, a damaged block, a root, a leaf, an
	 * expired intermediate, a duplicate. */
	assert_true(asprintf(&text, "# a comment\n%ssubject=whatever\n%s%s%s"
	    "-----BEGIN CERTIFICATE-----\nnot base64 !!\n"
	    "-----END CERTIFICATE-----\n%s%s", i1, i2, root, leaf, ex, i2) >
	    0);
	assert_int_equal(parse(text, s, &st, why, sizeof(why)), 3);
	assert_int_equal(st.found, 6);
	assert_int_equal(st.kept, 3);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.self_signed, 1);
	assert_int_equal(st.not_ca, 1);
	assert_int_equal(st.bad, 1);
	assert_int_equal(st.duplicates, 1);
	assert_true(testpki_set_has(s, P->int1) && testpki_set_has(s, P->int2) &&
	    testpki_set_has(s, P->int1_expired));
	assert_false(testpki_set_has(s, P->root) || testpki_set_has(s, P->leaf));
	assert_string_equal(certload_set_source(s, 0), "src");
	free(text);

	/* Nothing but a root: no intermediate, not an error for the parser
	 * (the update refuses to write it). */
	certload_set_free(s);
	s = certload_set_new();
	assert_int_equal(parse(root, s, &st, why, sizeof(why)), 0);
	assert_int_equal(st.self_signed, 1);

	/* Nothing at all. */
	assert_int_equal(parse("<html>Service Unavailable</html>\n", s, &st,
	    why, sizeof(why)), -1);
	assert_contains(why, "no certificate");
	assert_int_equal(parse("", s, &st, why, sizeof(why)), -1);
	free(i1);
	free(i2);
	free(root);
	free(leaf);
	free(ex);
	certload_set_free(s);
}

/* A field of Mozilla's report: the PEM in single quotes, in a quoted field. */
static char *
csv_pem(X509 *x, int crlf)
{
	char *p = pem(x), *q, *o, *r;

	assert_non_null(o = r = malloc(strlen(p) * 2 + 8));
	*o++ = '\'';
	for (q = p; *q != '\0'; q++) {
		if (*q == '\n' && q[1] == '\0')
			break;
		if (*q == '\n' && crlf)
			*o++ = '\r';
		*o++ = *q;
	}
	*o++ = '\'';
	*o = '\0';
	free(p);
	return r;
}

static void
test_csv(void **state)
{
	char *a = csv_pem(P->int1, 0), *b = csv_pem(P->int2, 1);
	char *c = csv_pem(P->root, 0), *text, why[256];
	struct certload_set *s = certload_set_new();
	struct corpus_stats st;

	(void)state;
	assert_true(asprintf(&text,
	    "\xef\xbb\xbf\"CA Owner\",\"Certificate Name\",\"SHA-256\",\"PEM Info\"\r\n"
	    "\"Example, Inc.\",\"int1 \"\"quoted\"\"\",abc,\"%s\"\r\n"
	    "Other,int2,def,\"%s\"\r\n"
	    "Roots Inc,root,ghi,\"%s\"\n"
	    "No PEM,,,\n"
	    "Last,row,without newline,\"%s\"", a, b, c, a) > 0);
	assert_int_equal(parse(text, s, &st, why, sizeof(why)), 2);
	assert_int_equal(st.found, 4);
	assert_int_equal(st.kept, 2);
	assert_int_equal(st.self_signed, 1);
	assert_int_equal(st.duplicates, 1);
	assert_true(testpki_set_has(s, P->int1) && testpki_set_has(s, P->int2));
	free(text);

	/* A quoted field that never ends: the line it started on. */
	assert_true(asprintf(&text, "a,b,PEM\nx,y,z\nx,y,\"%s\n", a) > 0);
	assert_int_equal(parse(text, s, &st, why, sizeof(why)), -1);
	assert_contains(why, "line 3: a quoted field does not end");
	free(text);
	/* Text after a closing quote. */
	assert_int_equal(parse("a,b,PEM\n\"x\"y,z,w\n", s, &st, why,
	    sizeof(why)), -1);
	assert_contains(why, "line 2: text after a closing quote");
	/* Not NUL-terminated (the fuzzer's first find): read within len. */
	assert_non_null(text = malloc(2));
	memcpy(text, "\"C", 2);
	assert_int_equal(corpus_parse((unsigned char *)text, 2, "src", s, &st,
	    why, sizeof(why)), -1);
	free(text);
	/* A report without PEM: say which report has it. */
	assert_int_equal(parse("CA Owner,Name,SHA-256\nA,B,C\n", s, &st,
	    why, sizeof(why)), -1);
	assert_contains(why, "PublicAllIntermediateCertsWithPEMCSV");
	free(a);
	free(b);
	free(c);
	certload_set_free(s);
}

static void
test_file(void **state)
{
	char buf[4096], *state_dir = testpki_mkdir(D, "state");
	char *data_dir = testpki_mkdir(D, "data"), *upd, *log, *saved;
	X509 *certs[] = { P->int2, NULL };
	struct certload_set *s = certload_set_new();

	(void)state;
	saved = getenv("CHAINFIX_DATADIR") != NULL ?
	    strdup(getenv("CHAINFIX_DATADIR")) : NULL;
	setenv("CHAINFIX_STATEDIR", state_dir, 1);
	setenv("CHAINFIX_DATADIR", data_dir, 1);
	assert_null(corpus_file(NULL, buf, sizeof(buf)));
	assert_null(corpus_file("no", buf, sizeof(buf)));
	assert_string_equal(corpus_file("/x/y.pem", buf, sizeof(buf)),
	    "/x/y.pem");
	/* No update yet: the shipped file, even if it is missing. */
	snprintf(buf, sizeof(buf), "-");
	assert_non_null(corpus_file("yes", buf, sizeof(buf)));
	assert_true(strstr(buf, "/data/" CORPUS_FILE) != NULL);
	/* Missing with yes: a warning, no certificate, no failure. */
	testpki_capture_start();
	assert_int_equal(corpus_load("yes", s, buf, sizeof(buf)), 0);
	log = testpki_capture_end();
	assert_contains(log, "warning: public intermediates: ");
	assert_contains(log, "No such file");
	free(log);
	/* Missing when named: an error. */
	testpki_capture_start();
	assert_int_equal(corpus_load("/nonexistent.pem", s, NULL, 0), -1);
	free(testpki_capture_end());
	assert_int_equal(corpus_load("no", s, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");

	/* An update in the state directory wins. */
	upd = testpki_path(state_dir, CORPUS_FILE);
	testpki_write_pem(upd, certs, NULL, NULL);
	assert_string_equal(corpus_file("yes", buf, sizeof(buf)), upd);
	assert_int_equal(corpus_load("yes", s, buf, sizeof(buf)), 1);
	assert_string_equal(buf, upd);
	assert_string_equal(certload_set_source(s, 0), upd);
	unsetenv("CHAINFIX_STATEDIR");
	if (saved != NULL)
		setenv("CHAINFIX_DATADIR", saved, 1);
	else
		unsetenv("CHAINFIX_DATADIR");
	free(saved);
	free(upd);
	free(state_dir);
	free(data_dir);
	certload_set_free(s);
}

/* The corpus chainfix ships (ctest points CHAINFIX_DATADIR at data/). */
static void
test_shipped(void **state)
{
	struct certload_set *s = certload_set_new(), *all = certload_set_new();
	char file[4096];
	size_t i;

	(void)state;
	if (getenv("CHAINFIX_DATADIR") == NULL)
		skip();
	/* The file as data/PROVENANCE.md counts it... */
	assert_non_null(corpus_file("yes", file, sizeof(file)));
	assert_int_equal(certload_file(file, NULL, all, NULL), 1263);
	/* ...and the intermediates of it: cfssl's bundle also holds 24
	 * self-signed roots and one certificate that is not a CA. */
	assert_int_equal(corpus_load("yes", s, file, sizeof(file)), 1238);
	assert_true(strstr(file, CORPUS_FILE) != NULL);
	for (i = 0; i < certload_set_count(s); i++) {
		assert_true(X509_check_ca(certload_set_cert(s, i)) != 0);
		assert_true(X509_self_signed(certload_set_cert(s, i), 0) != 1);
	}
	certload_set_free(s);
	certload_set_free(all);
}

/* `intermediates update --from FILE --out FILE`, and what it refuses. */
static void
test_update_local(void **state)
{
	char *in = testpki_path(D, "in.pem"), *out = testpki_path(D, "out.pem");
	char *roots = testpki_path(D, "roots.pem"), *log;
	X509 *certs[] = { P->root, P->int1, P->leaf, P->int2, NULL };
	X509 *only_roots[] = { P->root, P->root_old, NULL };
	char a0[] = "intermediates", a1[] = "update", a2[] = "--from";
	char a4[] = "--out", bogus[] = "--bogus", frob[] = "frobnicate";
	char *argv[] = { a0, a1, a2, in, a4, out, NULL };
	struct certload_set *s = certload_set_new();
	struct stat sb;
	int r;

	(void)state;
	testpki_write_pem(in, certs, NULL, NULL);
	testpki_capture_start();
	r = corpus_main(6, argv);
	free(testpki_capture_end());
	assert_int_equal(r, 0);
	assert_int_equal(stat(out, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0644);
	assert_int_equal(certload_file(out, NULL, s, NULL), 2);
	assert_true(testpki_set_has(s, P->int1) && testpki_set_has(s, P->int2));

	/* Only roots: nothing written, the old file stays. */
	testpki_write_pem(roots, only_roots, NULL, NULL);
	argv[3] = roots;
	testpki_capture_start();
	r = corpus_main(6, argv);
	log = testpki_capture_end();
	assert_int_equal(r, 1);
	assert_contains(log, "no intermediate CA certificate in it; nothing "
	    "written");
	free(log);
	certload_set_free(s);
	s = certload_set_new();
	assert_int_equal(certload_file(out, NULL, s, NULL), 2);

	/* Usage errors. */
	argv[2] = bogus;
	testpki_capture_start();
	r = corpus_main(6, argv);
	free(testpki_capture_end());
	assert_int_equal(r, 2);
	argv[1] = frob;
	testpki_capture_start();
	r = corpus_main(2, argv);
	free(testpki_capture_end());
	assert_int_equal(r, 2);
	free(in);
	free(out);
	free(roots);
	certload_set_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pem_bundle),
		cmocka_unit_test(test_csv),
		cmocka_unit_test(test_file),
		cmocka_unit_test(test_shipped),
		cmocka_unit_test(test_update_local),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
