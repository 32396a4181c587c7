/*
 * test_chain.c: the chain engine on a PKI generated at test time.
 *
 * Every chain built is also checked as a strict client would: the served
 * bundle, written by chain_write_pem(), must verify with only the root
 * trusted (X509_verify_cert, and `openssl verify` for several cases).
 */
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

#include "certload.h"
#include "chain.h"
#include "corpus.h"
#include "log.h"
#include "testpki.h"

#define assert_not_contains(hay, needle) do {				\
	if (strstr((hay), (needle)) != NULL)				\
		fail_msg("\"%s\" unexpectedly in: %s", (needle), (hay));	\
} while (0)

static struct testpki *P;
static char *D;			/* the whole test's temp dir */
static char *pkidir;		/* chainfix-mkpki's files */
static unsigned scen_n;

static char *
pf(const char *name)
{
	return testpki_path(pkidir, name);
}

/* A fresh scenario directory. */
static char *
scen(void)
{
	char name[32];

	snprintf(name, sizeof(name), "s%u", ++scen_n);
	return testpki_mkdir(D, name);
}

/* dir/name as PEM holding the NULL-terminated certificates that follow. */
static char *
put(const char *dir, const char *name, ...)
{
	X509 *certs[16];
	size_t n = 0;
	va_list ap;
	char *path = testpki_path(dir, name);

	va_start(ap, name);
	while (n < 15 && (certs[n] = va_arg(ap, X509 *)) != NULL)
		n++;
	va_end(ap);
	certs[n] = NULL;
	testpki_write_pem(path, certs, NULL, NULL);
	return path;
}

static char *
putpw(const char *dir, const char *pw)
{
	char *path = testpki_path(dir, "pass");

	testpki_write_file(path, pw, strlen(pw));
	return path;
}

/* chain_build(spec) with stderr captured into *log (freed if NULL). */
static struct chain *
build_spec(const struct chain_spec *spec, char **log)
{
	struct chain *c;
	char *out;

	testpki_capture_start();
	c = chain_build(spec);
	out = testpki_capture_end();
	if (log != NULL)
		*log = out;
	else
		free(out);
	assert_int_equal(ERR_peek_error(), 0);
	return c;
}

/* The spec of a site with these pieces and no last resort. */
static void
spec_of(struct chain_spec *spec, const char *cert, const char *key,
    const char *inter, const char *roots)
{
	memset(spec, 0, sizeof(*spec));
	spec->label = "site";
	spec->cert = cert;
	spec->key = key;
	spec->intermediates = inter;
	spec->roots = roots;
}

static struct chain *
build(const char *cert, const char *key, const char *pwfile,
    const char *inter, const char *roots, int send_root, char **log)
{
	struct chain_spec spec;

	spec_of(&spec, cert, key, inter, roots);
	spec.password_file = pwfile;
	spec.send_root = send_root;
	return build_spec(&spec, log);
}

/* The path is exactly the NULL-terminated certificates given. */
static void
expect_path(const struct chain *c, ...)
{
	va_list ap;
	X509 *want;
	size_t i = 0;

	assert_non_null(c);
	va_start(ap, c);
	while ((want = va_arg(ap, X509 *)) != NULL) {
		assert_true(i < chain_length(c));
		if (X509_cmp(chain_get(c, i)->x509, want) != 0) {
			char a[256], b[256];

			X509_NAME_oneline(X509_get_subject_name(want), a,
			    sizeof(a));
			fail_msg("position %zu: \"%s\" from %s, want \"%s\"",
			    i, chain_get(c, i)->subject,
			    chain_get(c, i)->source, a);
			(void)b;
		}
		i++;
	}
	va_end(ap);
	assert_int_equal(i, chain_length(c));
}

/*
 * The strict client: leaf and served bundle as files, only `root` trusted.
 * X509_verify_cert always; `openssl verify` too when rootfile is given.
 */
static void
strict_ok(const struct chain *c, X509 *root, const char *rootfile)
{
	X509 *pool[16];
	char *bundle = testpki_path(D, "served.pem");
	char *leaf = testpki_path(D, "served-leaf.pem");
	X509 *leafv[2] = { chain_get(c, 0)->x509, NULL };
	BIO *b;
	STACK_OF(X509_INFO) *infos;
	X509_INFO *xi;
	size_t n = 0;
	int i;

	assert_non_null(b = BIO_new_file(bundle, "w"));
	assert_int_equal(chain_write_pem(c, b), 0);
	BIO_free(b);
	testpki_write_pem(leaf, leafv, NULL, NULL);

	/* Read back what was written: leaf first, then the served rest. */
	assert_non_null(b = BIO_new_file(bundle, "r"));
	assert_non_null(infos = PEM_X509_INFO_read_bio(b, NULL, NULL, NULL));
	BIO_free(b);
	assert_int_equal(sk_X509_INFO_num(infos), chain_served(c));
	for (i = 0; i < sk_X509_INFO_num(infos); i++) {
		xi = sk_X509_INFO_value(infos, i);
		assert_int_equal(X509_cmp(xi->x509, chain_get(c, i)->x509), 0);
		if (i > 0 && n < 15)
			pool[n++] = xi->x509;
	}
	pool[n] = NULL;
	assert_true(testpki_x509_verify(root, pool, chain_get(c, 0)->x509));
	if (rootfile != NULL)
		assert_int_equal(testpki_openssl_verify(rootfile, bundle, leaf),
		    0);
	sk_X509_INFO_pop_free(infos, X509_INFO_free);
	free(bundle);
	free(leaf);
}

static int
setup(void **state)
{
	(void)state;
	log_init("chainfix", LOG_LEVEL_INFO, 0);
	P = testpki_new();
	D = testpki_tmpdir();
	pkidir = testpki_mkdir(D, "pki");
	testpki_write(P, pkidir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	testpki_rmtree(D);
	free(pkidir);
	free(D);
	testpki_free(P);
	return 0;
}

/* The mkpki intermediates directory: cross-sign first, expired twin,
 * decoy, DER, PKCS#7 and a README that is no certificate. */
static void
test_leaf_only_full_dir(void **state)
{
	char *cert = pf("leaf.pem"), *key = pf("leaf.key");
	char *inter = pf("intermediates"), *root = pf("root.pem"), *log;
	struct chain *c;

	(void)state;
	c = build(cert, key, NULL, inter, root, 0, &log);
	expect_path(c, P->leaf, P->int2, P->int1, P->root, NULL);
	assert_int_equal(chain_served(c), 3);
	assert_true(chain_trusted(c));
	assert_non_null(chain_key(c));
	assert_false(chain_get(c, 3)->served);
	assert_true(chain_get(c, 2)->served);
	assert_contains(chain_get(c, 1)->source, "int2.der");
	assert_string_equal(chain_get(c, 0)->subject, "CN=localhost");
	assert_string_equal(chain_get(c, 0)->issuer, "CN=chainfix test int2");
	assert_true(chain_get(c, 0)->der_len > 100);
	assert_true(chain_served_size(c) == chain_get(c, 0)->der_len +
	    chain_get(c, 1)->der_len + chain_get(c, 2)->der_len);
	assert_contains(log, "README.txt");
	assert_contains(log, "skipped");
	strict_ok(c, P->root, root);
	chain_free(c);
	free(log);
	free(cert);
	free(key);
	free(inter);
	free(root);
}

/* roots decides the path through the cross-sign, both ways. */
static void
test_cross_sign_roots_decide(void **state)
{
	char *cert = pf("leaf.pem"), *key = pf("leaf.key");
	char *inter = pf("intermediates"), *root = pf("root.pem");
	char *old = pf("root-old.pem");
	struct chain *c;

	(void)state;
	c = build(cert, key, NULL, inter, old, 0, NULL);
	expect_path(c, P->leaf, P->int2, P->int1_cross, P->root_old, NULL);
	assert_true(chain_trusted(c));
	strict_ok(c, P->root_old, old);
	chain_free(c);

	c = build(cert, key, NULL, inter, root, 0, NULL);
	expect_path(c, P->leaf, P->int2, P->int1, P->root, NULL);
	strict_ok(c, P->root, root);
	chain_free(c);

	/* Both roots trusted: the shorter is equal, so any is fine, but
	 * the chain must verify against the root it ends at. */
	{
		char *d = scen(), *both;

		both = put(d, "both.pem", P->root_old, P->root, NULL);
		c = build(cert, key, NULL, inter, both, 0, NULL);
		assert_non_null(c);
		assert_int_equal(chain_length(c), 4);
		strict_ok(c, chain_get(c, 3)->x509, NULL);
		chain_free(c);
		free(both);
		free(d);
	}
	free(cert);
	free(key);
	free(inter);
	free(root);
	free(old);
}

/* The expired twin sorts first, then last: the valid one either way. */
static void
test_expired_twin(void **state)
{
	char *d1 = scen(), *d2 = scen(), *d3 = scen();
	char *cert = pf("leaf.pem"), *root = pf("root.pem"), *log;
	struct chain *c;

	(void)state;
	free(put(d1, "a-expired.pem", P->int1_expired, NULL));
	free(put(d1, "b.pem", P->int1, NULL));
	free(put(d1, "c.pem", P->int2, NULL));
	free(put(d2, "a.pem", P->int1, P->int2, NULL));
	free(put(d2, "z-expired.pem", P->int1_expired, NULL));

	c = build(cert, NULL, NULL, d1, root, 0, NULL);
	expect_path(c, P->leaf, P->int2, P->int1, P->root, NULL);
	strict_ok(c, P->root, root);
	chain_free(c);
	c = build(cert, NULL, NULL, d2, root, 0, NULL);
	expect_path(c, P->leaf, P->int2, P->int1, P->root, NULL);
	strict_ok(c, P->root, NULL);
	chain_free(c);

	/* Only the expired twin: served (nothing better), loudly. */
	free(put(d3, "x.pem", P->int1_expired, P->int2, NULL));
	c = build(cert, NULL, NULL, d3, root, 0, &log);
	expect_path(c, P->leaf, P->int2, P->int1_expired, P->root, NULL);
	assert_contains(log, "expired");
	assert_int_equal(chain_diagnose(c, "site", 0, 0) >= 1, 1);
	chain_free(c);
	free(log);
	free(d1);
	free(d2);
	free(d3);
	free(cert);
	free(root);
}

/* Same name, other key: never chosen; alone, the chain is incomplete
 * and the message points at the decoy. */
static void
test_decoy(void **state)
{
	char *d1 = scen(), *d2 = scen();
	char *cert = pf("leaf.pem"), *root = pf("root.pem"), *log;
	struct chain *c;

	(void)state;
	free(put(d1, "0-decoy.pem", P->int1_decoy, NULL));
	free(put(d1, "1.pem", P->int1, NULL));
	free(put(d1, "2.pem", P->int2, NULL));
	c = build(cert, NULL, NULL, d1, root, 0, NULL);
	expect_path(c, P->leaf, P->int2, P->int1, P->root, NULL);
	strict_ok(c, P->root, root);
	chain_free(c);

	free(put(d2, "0-decoy.pem", P->int1_decoy, NULL));
	free(put(d2, "2.pem", P->int2, NULL));
	c = build(cert, NULL, NULL, d2, root, 0, &log);
	assert_null(c);
	assert_contains(log, "error: site: incomplete chain");
	assert_contains(log, "\"CN=chainfix test int1\"");
	assert_contains(log, "0-decoy.pem has that name but did not sign it");
	free(log);
	free(d1);
	free(d2);
	free(cert);
	free(root);
}

/* A misordered PEM with unrelated extras: the key finds the leaf, the
 * extras are dropped (and said so); without a key, the leaf is the one
 * that issued nothing. */
static void
test_misordered_pem(void **state)
{
	char *d = scen(), *cert, *cert2, *key = pf("leaf.key");
	char *root = pf("root.pem"), *log;
	struct chain *c;

	(void)state;
	cert = put(d, "mixed.pem", P->int1, P->self, P->leaf2, P->leaf,
	    P->int2, NULL);
	c = build(cert, key, NULL, NULL, root, 0, &log);
	expect_path(c, P->leaf, P->int2, P->int1, P->root, NULL);
	assert_contains(log, "dropping \"CN=other.test\"");
	assert_contains(log, "dropping \"CN=localhost\"");	/* self */
	strict_ok(c, P->root, root);
	chain_free(c);
	free(log);

	cert2 = put(d, "nokey.pem", P->int1, P->leaf, P->int2, NULL);
	c = build(cert2, NULL, NULL, NULL, root, 0, NULL);
	expect_path(c, P->leaf, P->int2, P->int1, P->root, NULL);
	assert_null(chain_key(c));
	chain_free(c);

	/* Combined PEM: certificates, then the key, in one file. */
	{
		X509 *certs[] = { P->int2, P->leaf, NULL };
		char *comb = testpki_path(d, "combined.pem");
		char *inter = pf("intermediates");

		testpki_write_pem(comb, certs, P->leaf_key, NULL);
		c = build(comb, NULL, NULL, inter, root, 0, NULL);
		expect_path(c, P->leaf, P->int2, P->int1, P->root, NULL);
		assert_non_null(chain_key(c));
		assert_int_equal(EVP_PKEY_eq(chain_key(c), P->leaf_key), 1);
		chain_free(c);
		free(comb);
		free(inter);
	}
	free(d);
	free(cert);
	free(cert2);
	free(key);
	free(root);
}

static void
test_pfx(void **state)
{
	char *d = scen(), *cert = pf("leaf.pfx"), *root = pf("root.pem");
	char *pw = putpw(d, "secret\n"), *log;
	struct chain *c;

	(void)state;
	c = build(cert, NULL, pw, NULL, root, 0, &log);
	expect_path(c, P->leaf, P->int2, P->int1, P->root, NULL);
	assert_non_null(chain_key(c));
	assert_int_equal(chain_served(c), 3);
	assert_not_contains(log, "dropping");	/* the root is on the path */
	strict_ok(c, P->root, root);
	chain_free(c);
	free(log);
	free(pw);

	pw = putpw(d, "wrong");
	c = build(cert, NULL, pw, NULL, root, 0, &log);
	assert_null(c);
	assert_contains(log, "leaf.pfx: wrong password (PKCS#12 MAC check "
	    "failed)");
	free(log);
	c = build(cert, NULL, NULL, NULL, root, 0, &log);
	assert_null(c);
	assert_contains(log, "leaf.pfx: wrong password");
	free(log);
	free(pw);
	free(d);
	free(cert);
	free(root);
}

/* DER and PKCS#7 (DER and PEM) intermediates. */
static void
test_der_p7(void **state)
{
	char *d = scen(), *p, *cert = pf("leaf.pem"), *root = pf("root.pem");
	X509 *both[] = { P->int2, P->int1, NULL };
	struct chain *c;

	(void)state;
	p = testpki_path(d, "bundle.p7c");
	testpki_write_p7(p, both, 1);
	free(p);
	c = build(cert, NULL, NULL, d, root, 0, NULL);
	expect_path(c, P->leaf, P->int2, P->int1, P->root, NULL);
	chain_free(c);

	p = testpki_path(d, "bundle.p7c");
	testpki_write_p7(p, both, 0);
	free(p);
	c = build(cert, NULL, NULL, d, root, 0, NULL);
	expect_path(c, P->leaf, P->int2, P->int1, P->root, NULL);
	strict_ok(c, P->root, root);
	chain_free(c);
	free(d);
	free(cert);
	free(root);
}

static void
test_missing_intermediate(void **state)
{
	char *d1 = scen(), *d2 = scen(), *cert = pf("leaf.pem");
	char *root = pf("root.pem"), *log;
	struct chain *c;

	(void)state;
	free(put(d1, "int1.pem", P->int1, NULL));
	c = build(cert, NULL, NULL, d1, root, 0, &log);
	assert_null(c);
	assert_contains(log, "no issuer \"CN=chainfix test int2\" found for "
	    "\"CN=localhost\"");
	assert_contains(log, "http://pki.invalid/int2.cer");
	free(log);

	free(put(d2, "int2.pem", P->int2, NULL));
	c = build(cert, NULL, NULL, d2, root, 0, &log);
	assert_null(c);
	assert_contains(log, "no issuer \"CN=chainfix test int1\" found for "
	    "\"CN=chainfix test int2\"");
	assert_contains(log, "leaf caIssuers: http://pki.invalid/int2.cer");
	free(log);

	/* Both roots missing (cross-sign): both are named. */
	{
		char *inter = pf("intermediates"), *self = pf("self.pem");

		c = build(cert, NULL, NULL, inter, self, 0, &log);
		assert_null(c);
		assert_contains(log, "\"CN=chainfix test root\"");
		assert_contains(log, "\"CN=chainfix test old root\"");
		assert_contains(log, "found for \"CN=chainfix test int1\"");
		free(log);
		free(inter);
		free(self);
	}

	/* No intermediates directory at all. */
	c = build(cert, NULL, NULL, NULL, root, 0, &log);
	assert_null(c);
	assert_contains(log, "chainfix test int2");
	free(log);
	free(d1);
	free(d2);
	free(cert);
	free(root);
}

static void
test_key_mismatch(void **state)
{
	char *cert = pf("leaf.pem"), *key = pf("leaf2.key");
	char *inter = pf("intermediates"), *root = pf("root.pem"), *log;
	struct chain *c;
	struct certload_set *pool = certload_set_new(), *roots;
	char err[512];

	(void)state;
	c = build(cert, key, NULL, inter, root, 0, &log);
	assert_null(c);
	assert_contains(log, "leaf2.key matches none of the 1 certificate "
	    "in");
	free(log);

	roots = certload_set_new();
	c = chain_assemble(P->leaf, "leaf", P->leaf2_key, pool, roots, 0, err,
	    sizeof(err));
	assert_null(c);
	assert_contains(err, "does not match");
	certload_set_free(pool);
	certload_set_free(roots);
	free(cert);
	free(key);
	free(inter);
	free(root);
}

/* Corrupt files among the intermediates: skipped, named, the rest works. */
static void
test_corrupt_in_dir(void **state)
{
	char *d = scen(), *p, *cert = pf("leaf.pem"), *root = pf("root.pem");
	char *log;
	static const char badpem[] = "-----BEGIN CERTIFICATE-----\n"
	    "MIIBnotbase64!!!\n-----END CERTIFICATE-----\n";
	static const unsigned char badder[] = { 0x30, 0x82, 0x05, 0x00, 0x01 };
	struct chain *c;

	(void)state;
	free(put(d, "int1.pem", P->int1, NULL));
	free(put(d, "int2.pem", P->int2, NULL));
	p = testpki_path(d, "bad.pem");
	testpki_write_file(p, badpem, sizeof(badpem) - 1);
	free(p);
	p = testpki_path(d, "bad.der");
	testpki_write_file(p, badder, sizeof(badder));
	free(p);
	p = testpki_path(d, "empty.crt");
	testpki_write_file(p, "", 0);
	free(p);
	free(testpki_mkdir(d, "subdir"));	/* not a file: ignored */
	c = build(cert, NULL, NULL, d, root, 0, &log);
	expect_path(c, P->leaf, P->int2, P->int1, P->root, NULL);
	assert_contains(log, "bad.pem: corrupt PEM data (block 1); skipped");
	assert_contains(log, "bad.der: ");
	assert_contains(log, "empty.crt: empty file; skipped");
	assert_not_contains(log, "subdir");
	strict_ok(c, P->root, NULL);
	chain_free(c);
	free(log);
	free(d);
	free(cert);
	free(root);
}

static void
test_encrypted_key(void **state)
{
	char *d = scen(), *key = testpki_path(d, "leaf.key");
	char *cert = pf("leaf.pem"), *inter = pf("intermediates");
	char *root = pf("root.pem"), *pw, *log;
	struct chain *c;

	(void)state;
	testpki_write_key(key, P->leaf_key, "p4ss word", 0);
	pw = putpw(d, "p4ss word\r\n");
	c = build(cert, key, pw, inter, root, 0, NULL);
	expect_path(c, P->leaf, P->int2, P->int1, P->root, NULL);
	assert_int_equal(EVP_PKEY_eq(chain_key(c), P->leaf_key), 1);
	chain_free(c);
	free(pw);

	pw = putpw(d, "nope");
	c = build(cert, key, pw, inter, root, 0, &log);
	assert_null(c);
	assert_contains(log, "leaf.key: wrong password");
	free(log);
	c = build(cert, key, NULL, inter, root, 0, &log);
	assert_null(c);
	assert_contains(log, "leaf.key: the private key is encrypted and no "
	    "password was given");
	free(log);
	free(pw);
	free(d);
	free(key);
	free(cert);
	free(inter);
	free(root);
}

static void
test_send_root(void **state)
{
	char *cert = pf("leaf.pem"), *inter = pf("intermediates");
	char *root = pf("root.pem");
	struct chain *c;

	(void)state;
	c = build(cert, NULL, NULL, inter, root, 1, NULL);
	expect_path(c, P->leaf, P->int2, P->int1, P->root, NULL);
	assert_int_equal(chain_served(c), 4);
	assert_true(chain_get(c, 3)->served);
	strict_ok(c, P->root, root);
	chain_free(c);
	c = build(cert, NULL, NULL, inter, root, 0, NULL);
	assert_int_equal(chain_served(c), 3);
	chain_free(c);
	free(cert);
	free(inter);
	free(root);
}

/* Two CAs that signed each other: the search ends, with or without a
 * way out to the root. */
static void
test_loops(void **state)
{
	struct testpki_certspec s;
	EVP_PKEY *ka = testpki_key_ec(), *kb = testpki_key_ec();
	X509 *a_by_b, *b_by_a, *a_by_root, *b_self, *leaf;
	char *d = scen(), *cert, *root = pf("root.pem"), *log;
	struct chain *c;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.not_before = -TESTPKI_DAY;
	s.not_after = 30 * TESTPKI_DAY;
	s.ca = 1;
	/* B needs a certificate to sign A with: make B self-signed first,
	 * then the pair. */
	s.cn = "loop B";
	s.key = kb;
	b_self = testpki_cert(&s);
	s.cn = "loop A";
	s.key = ka;
	s.issuer = b_self;
	s.issuer_key = kb;
	a_by_b = testpki_cert(&s);
	s.cn = "loop B";
	s.key = kb;
	s.issuer = a_by_b;
	s.issuer_key = ka;
	b_by_a = testpki_cert(&s);
	s.cn = "loop A";
	s.key = ka;
	s.issuer = P->root;
	s.issuer_key = P->root_key;
	a_by_root = testpki_cert(&s);
	s.ca = 0;
	s.cn = "loop leaf";
	s.key = P->leaf2_key;
	s.issuer = a_by_b;
	s.issuer_key = ka;
	leaf = testpki_cert(&s);

	cert = put(d, "leaf.pem", leaf, NULL);
	free(put(d, "ab.pem", a_by_b, b_by_a, NULL));
	c = build(cert, NULL, NULL, d, root, 0, &log);
	assert_null(c);
	assert_contains(log, "incomplete chain");
	assert_contains(log, "loop");
	free(log);

	/* The way out. */
	free(put(d, "out.pem", a_by_root, NULL));
	c = build(cert, NULL, NULL, d, root, 0, NULL);
	expect_path(c, leaf, a_by_root, P->root, NULL);
	strict_ok(c, P->root, NULL);
	chain_free(c);

	/* B's self-signed certificate, untrusted, is a way out too; the
	 * trusted one wins. */
	free(put(d, "bself.pem", b_self, NULL));
	c = build(cert, NULL, NULL, d, root, 0, NULL);
	expect_path(c, leaf, a_by_root, P->root, NULL);
	chain_free(c);

	X509_free(a_by_b);
	X509_free(b_by_a);
	X509_free(a_by_root);
	X509_free(b_self);
	X509_free(leaf);
	EVP_PKEY_free(ka);
	EVP_PKEY_free(kb);
	free(cert);
	free(root);
	free(d);
}

/* A path to a self-signed root that is not in roots: accepted, warned. */
static void
test_untrusted_end(void **state)
{
	char *d = scen(), *cert = pf("leaf.pem"), *old = pf("root-old.pem");
	char *self = pf("self.pem"), *log;
	struct chain *c;

	(void)state;
	free(put(d, "all.pem", P->int1, P->int2, P->root, NULL));
	c = build(cert, NULL, NULL, d, old, 0, &log);
	expect_path(c, P->leaf, P->int2, P->int1, P->root, NULL);
	assert_false(chain_trusted(c));
	assert_int_equal(chain_served(c), 3);
	assert_contains(log, "warning: site: the chain ends at self-signed "
	    "\"CN=chainfix test root\", which is not in roots");
	chain_free(c);
	free(log);

	c = build(cert, NULL, NULL, d, "none", 0, &log);
	expect_path(c, P->leaf, P->int2, P->int1, P->root, NULL);
	assert_false(chain_trusted(c));
	chain_free(c);
	free(log);

	/* A self-signed server certificate is its own chain. */
	c = build(self, NULL, NULL, NULL, "none", 0, &log);
	expect_path(c, P->self, NULL);
	assert_int_equal(chain_served(c), 1);
	assert_false(chain_trusted(c));
	chain_free(c);
	free(log);
	c = build(self, NULL, NULL, NULL, self, 0, NULL);
	expect_path(c, P->self, NULL);
	assert_true(chain_trusted(c));
	chain_free(c);
	free(d);
	free(cert);
	free(old);
	free(self);
}

/* chain_build refuses an expired leaf; chain_assemble (check) does not. */
static void
test_expired_leaf(void **state)
{
	struct testpki_certspec s;
	X509 *old;
	char *d = scen(), *cert, *inter = pf("intermediates");
	char *root = pf("root.pem"), *log, err[512];
	struct certload_set *pool = certload_set_new();
	struct certload_set *roots = certload_set_new();
	struct chain *c;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.cn = "localhost";
	s.key = P->leaf_key;
	s.issuer = P->int2;
	s.issuer_key = P->int2_key;
	s.not_before = -100 * TESTPKI_DAY;
	s.not_after = -TESTPKI_DAY;
	old = testpki_cert(&s);
	cert = put(d, "old.pem", old, NULL);
	c = build(cert, NULL, NULL, inter, root, 0, &log);
	assert_null(c);
	assert_contains(log, "is expired");
	free(log);

	testpki_capture_start();
	assert_true(certload_dir(inter, pool) >= 5);
	free(testpki_capture_end());
	assert_int_equal(certload_roots(root, roots), 1);
	c = chain_assemble(old, "old", NULL, pool, roots, 0, err, sizeof(err));
	expect_path(c, old, P->int2, P->int1, P->root, NULL);
	testpki_capture_start();
	assert_true(chain_diagnose(c, "old", 30, 0) >= 1);
	log = testpki_capture_end();
	assert_contains(log, "\"CN=localhost\" expired on");
	free(log);
	chain_free(c);
	certload_set_free(pool);
	certload_set_free(roots);
	X509_free(old);
	free(d);
	free(cert);
	free(inter);
	free(root);
}

static void
test_diagnose(void **state)
{
	struct testpki_certspec s;
	EVP_PKEY *weak = testpki_key_rsa(1024);
	X509 *sha1int, *leaf;
	char *log, err[512];
	struct certload_set *pool = certload_set_new();
	struct certload_set *roots = certload_set_new();
	struct chain *c;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.ca = 1;
	s.cn = "sha1 int";
	s.key = P->int1_key;
	s.issuer = P->root;
	s.issuer_key = P->root_key;
	s.not_before = -TESTPKI_DAY;
	s.not_after = 5 * TESTPKI_DAY;	/* before the leaf's */
	s.md = EVP_sha1();
	sha1int = testpki_cert(&s);
	s.ca = 0;
	s.md = NULL;
	s.cn = "weak leaf";
	s.key = weak;
	s.issuer = sha1int;
	s.issuer_key = P->int1_key;
	s.not_after = 10 * TESTPKI_DAY;
	leaf = testpki_cert(&s);
	assert_int_equal(certload_set_add(pool, sha1int, "sha1int"), 1);
	assert_int_equal(certload_set_add(pool, sha1int, "again"), 0);
	assert_int_equal(certload_set_add(roots, P->root, "root"), 1);
	c = chain_assemble(leaf, "leaf", weak, pool, roots, 0, err,
	    sizeof(err));
	expect_path(c, leaf, sha1int, P->root, NULL);
	testpki_capture_start();
	assert_int_equal(chain_diagnose(c, "d", 30, 0), 5);
	log = testpki_capture_end();
	assert_contains(log, "\"CN=weak leaf\" expires in");
	assert_contains(log, "\"CN=sha1 int\" expires in");
	assert_contains(log, "intermediate \"CN=sha1 int\" expires");
	assert_contains(log, "SHA1");
	assert_contains(log, "weak RSA-1024 key");
	free(log);
	testpki_capture_start();
	assert_int_equal(chain_diagnose(c, "d", 0, 0), 3);
	free(testpki_capture_end());
	chain_free(c);

	/* The mkpki chain is clean. */
	c = chain_assemble(P->leaf, "leaf", NULL, pool, roots, 0, err,
	    sizeof(err));
	assert_null(c);	/* int2/int1 not in this pool */
	assert_contains(err, "caIssuers: http://pki.invalid/int2.cer");
	assert_int_equal(certload_set_add(pool, P->int2, "int2"), 1);
	assert_int_equal(certload_set_add(pool, P->int1, "int1"), 1);
	c = chain_assemble(P->leaf, "leaf", NULL, pool, roots, 0, err,
	    sizeof(err));
	expect_path(c, P->leaf, P->int2, P->int1, P->root, NULL);
	testpki_capture_start();
	assert_int_equal(chain_diagnose(c, "d", 30, 0), 0);
	free(testpki_capture_end());
	chain_free(c);
	certload_set_free(pool);
	certload_set_free(roots);
	X509_free(sha1int);
	X509_free(leaf);
	EVP_PKEY_free(weak);
}

static void
test_issued(void **state)
{
	(void)state;
	assert_true(chain_issued(P->int2, P->leaf));
	assert_true(chain_issued(P->int1, P->int2));
	assert_true(chain_issued(P->int1_cross, P->int2));
	assert_true(chain_issued(P->int1_expired, P->int2));
	assert_false(chain_issued(P->int1_decoy, P->int2));
	assert_false(chain_issued(P->leaf, P->leaf2));	/* not a CA */
	assert_false(chain_issued(P->root_old, P->int1));
	assert_true(chain_issued(P->root_old, P->int1_cross));
}

/* A cross-sign with a later expiry than the trusted path: trust wins;
 * among trusted paths, the shortest. */
static void
test_shortest_trusted(void **state)
{
	char *d = scen(), *cert = pf("leaf.pem"), *roots;
	struct chain *c;

	(void)state;
	free(put(d, "i.pem", P->int1, P->int2, P->int1_cross, NULL));
	/* int1 is also a trust anchor: the path stops there. */
	roots = put(d, "roots.pem", P->root, P->int1, NULL);
	c = build(cert, NULL, NULL, d, roots, 0, NULL);
	expect_path(c, P->leaf, P->int2, P->int1, NULL);
	assert_true(chain_trusted(c));
	assert_int_equal(chain_served(c), 3);	/* int1 is no root: sent */
	chain_free(c);
	free(d);
	free(cert);
	free(roots);
}

/* 20 twins of int1 and 20 of int2 (400 paths, more than are kept): the
 * pair that expires last is chosen although it is met last. */
static void
test_many_twins(void **state)
{
	struct testpki_certspec s;
	X509 *i1[20], *i2[20];
	char *d = scen(), *cert = pf("leaf.pem"), *root = pf("root.pem");
	char name[32];
	struct chain *c;
	int k;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.ca = 1;
	s.not_before = -TESTPKI_DAY;
	for (k = 0; k < 20; k++) {
		s.cn = "chainfix test int1";
		s.key = P->int1_key;
		s.issuer = P->root;
		s.issuer_key = P->root_key;
		s.not_after = (100 + k) * TESTPKI_DAY;
		i1[k] = testpki_cert(&s);
		s.cn = "chainfix test int2";
		s.key = P->int2_key;
		s.issuer = i1[k];
		s.issuer_key = P->int1_key;
		i2[k] = testpki_cert(&s);
		snprintf(name, sizeof(name), "%02d.pem", k);
		free(put(d, name, i1[k], i2[k], NULL));
	}
	c = build(cert, NULL, NULL, d, root, 0, NULL);
	expect_path(c, P->leaf, i2[19], i1[19], P->root, NULL);
	strict_ok(c, P->root, NULL);
	chain_free(c);
	for (k = 0; k < 20; k++) {
		X509_free(i1[k]);
		X509_free(i2[k]);
	}
	free(d);
	free(cert);
	free(root);
}

/* Old and renewed leaf for one key in one file: the renewed one, in
 * either order; the old one is dropped. */
static void
test_renewed_leaf(void **state)
{
	struct testpki_certspec s;
	X509 *old;
	char *d = scen(), *c1, *c2, *key = pf("leaf.key");
	char *inter = pf("intermediates"), *root = pf("root.pem"), *log;
	struct chain *c;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.cn = "localhost";
	s.key = P->leaf_key;
	s.issuer = P->int2;
	s.issuer_key = P->int2_key;
	s.not_before = -400 * TESTPKI_DAY;
	s.not_after = -2 * TESTPKI_DAY;
	old = testpki_cert(&s);
	c1 = put(d, "a.pem", old, P->leaf, NULL);
	c2 = put(d, "b.pem", P->leaf, old, NULL);
	c = build(c1, key, NULL, inter, root, 0, &log);
	expect_path(c, P->leaf, P->int2, P->int1, P->root, NULL);
	assert_contains(log, "dropping \"CN=localhost\"");
	chain_free(c);
	free(log);
	c = build(c2, key, NULL, inter, root, 0, NULL);
	expect_path(c, P->leaf, P->int2, P->int1, P->root, NULL);
	chain_free(c);
	X509_free(old);
	free(d);
	free(c1);
	free(c2);
	free(key);
	free(inter);
	free(root);
}

/* The same pool in 40 orders gives the same chain, for each roots. */
static void
test_order_independent(void **state)
{
	X509 *certs[] = { P->int1, P->int1_cross, P->int1_expired,
	    P->int1_decoy, P->int2, P->root_old, P->leaf2, P->self };
	const size_t n = sizeof(certs) / sizeof(certs[0]);
	struct certload_set *roots[3], *pool;
	X509 *tmp, *want[3][4];
	uint32_t seed = 777;
	struct chain *c;
	char err[512];
	size_t i, j, k;
	int iter;

	(void)state;
	for (k = 0; k < 3; k++)
		assert_non_null(roots[k] = certload_set_new());
	assert_int_equal(certload_set_add(roots[0], P->root, "r"), 1);
	assert_int_equal(certload_set_add(roots[1], P->root_old, "o"), 1);
	assert_int_equal(certload_set_add(roots[2], P->root_old, "o"), 1);
	assert_int_equal(certload_set_add(roots[2], P->root, "r"), 1);
	for (iter = 0; iter < 40; iter++) {
		for (i = n - 1; i > 0; i--) {
			seed = seed * 1103515245u + 12345u;
			j = (seed >> 8) % (i + 1);
			tmp = certs[i];
			certs[i] = certs[j];
			certs[j] = tmp;
		}
		assert_non_null(pool = certload_set_new());
		for (i = 0; i < n; i++)
			assert_int_equal(certload_set_add(pool, certs[i], "p"),
			    1);
		for (k = 0; k < 3; k++) {
			c = chain_assemble(P->leaf, "leaf", NULL, pool,
			    roots[k], 0, err, sizeof(err));
			assert_non_null(c);
			assert_int_equal(chain_length(c), 4);
			assert_true(chain_trusted(c));
			assert_int_equal(X509_cmp(chain_get(c, 1)->x509,
			    P->int2), 0);
			if (k == 0)
				assert_int_equal(X509_cmp(chain_get(c, 2)->x509,
				    P->int1), 0);
			if (k == 1)
				assert_int_equal(X509_cmp(chain_get(c, 2)->x509,
				    P->int1_cross), 0);
			for (i = 0; i < 4; i++) {
				if (iter == 0)
					want[k][i] = chain_get(c, i)->x509;
				else
					assert_ptr_equal(want[k][i],
					    chain_get(c, i)->x509);
			}
			chain_free(c);
		}
		certload_set_free(pool);
	}
	for (k = 0; k < 3; k++)
		certload_set_free(roots[k]);
}

/*
 * A large intermediates directory (the issuer index): thousands of
 * unrelated CA certificates, decoys named like int1 among them, the
 * intermediates in another order, the root and the leaf themselves in the
 * directory too (each must count once).  The chain is the one a small
 * directory gives, and the roots are still recognised.
 */
static void
test_large_directory(void **state)
{
	char *d = scen(), *cert = pf("leaf.pem"), *key = pf("leaf.key");
	char *root = pf("root.pem"), *log;
	struct chain *c;

	(void)state;
	testpki_write_fillers(P, d, 3000);
	free(put(d, "zz-int1-cross.pem", P->int1_cross, NULL));
	free(put(d, "zz-int2.pem", P->int2, NULL));
	free(put(d, "a-int1.pem", P->int1, P->int1_decoy, P->int1_expired,
	    NULL));
	free(put(d, "m-root.pem", P->root, P->leaf, NULL));
	c = build(cert, key, NULL, d, root, 0, &log);
	expect_path(c, P->leaf, P->int2, P->int1, P->root, NULL);
	assert_true(chain_trusted(c));
	assert_int_equal(chain_served(c), 3);
	strict_ok(c, P->root, NULL);
	chain_free(c);
	free(log);
	/* Trusting the old root: the cross-sign, found among them all. */
	free(root);
	root = pf("root-old.pem");
	c = build(cert, key, NULL, d, root, 0, &log);
	expect_path(c, P->leaf, P->int2, P->int1_cross, P->root_old, NULL);
	chain_free(c);
	free(log);
	free(d);
	free(cert);
	free(key);
	free(root);
}

/* ---- The last resorts: public intermediates, AIA, the legacy chain ---- */

/* A site: the leaf alone, these roots, a corpus file of its own. */
static void
spec_public(struct chain_spec *spec, const char *cert, const char *inter,
    const char *roots, const char *corpus)
{
	spec_of(spec, cert, NULL, inter, roots);
	spec->public_intermediates = corpus;
}

/* The origin of every certificate on c, in order: "CPP-" style. */
static void
expect_origins(const struct chain *c, const char *want)
{
	static const char codes[] = "CAPF";	/* config, cache, public,
						   fetched */
	char got[16];
	size_t i;

	for (i = 0; i < chain_length(c) && i + 1 < sizeof(got); i++)
		got[i] = codes[chain_get(c, i)->origin];
	got[i] = '\0';
	assert_string_equal(got, want);
}

/* A leaf-only certificate, no intermediates directory: the corpus. */
static void
test_public_last_resort(void **state)
{
	char *d = scen(), *cert = pf("leaf.pem"), *root = pf("root.pem");
	char *corpus, *inter, *log, line[1024];
	struct chain_spec spec;
	struct chain *c;

	(void)state;
	/* The corpus of the test's own: an expired twin first, a decoy. */
	corpus = put(d, "corpus.pem", P->int1_expired, P->int1_decoy,
	    P->int2, P->int1, NULL);
	spec_public(&spec, cert, NULL, root, corpus);
	c = build_spec(&spec, &log);
	expect_path(c, P->leaf, P->int2, P->int1, P->root, NULL);
	expect_origins(c, "CPPC");
	strict_ok(c, P->root, root);
	/* The log and configtest's lines say where they came from. */
	assert_contains(log, "\"CN=chainfix test int2\" is a public "
	    "intermediate (from ");
	assert_contains(chain_describe(c, 1, line, sizeof(line)),
	    "corpus.pem  (public intermediate)");
	assert_contains(chain_describe(c, 3, line, sizeof(line)),
	    "(root, not sent)");
	chain_free(c);
	free(log);

	/* Without the corpus: the chain is incomplete, as before. */
	spec.public_intermediates = "no";
	assert_null(build_spec(&spec, &log));
	assert_contains(log, "no issuer \"CN=chainfix test int2\"");
	free(log);

	/* Missing from the corpus too: said so. */
	free(corpus);
	corpus = put(d, "corpus2.pem", P->int1, NULL);
	spec.public_intermediates = corpus;
	assert_null(build_spec(&spec, &log));
	assert_contains(log, "not among the 1 public intermediates either");
	free(log);

	/* A complete, valid chain from the directory: the corpus is not
	 * looked at, even if it has a shorter way. */
	inter = scen();
	free(put(inter, "i.pem", P->int2, P->int1, NULL));
	spec_public(&spec, cert, inter, root, corpus);
	c = build_spec(&spec, &log);
	expect_path(c, P->leaf, P->int2, P->int1, P->root, NULL);
	expect_origins(c, "CCCC");
	assert_not_contains(log, "public intermediate");
	chain_free(c);
	free(log);
	free(inter);
	free(corpus);
	free(d);
	free(cert);
	free(root);
}

/* Expired corpus entries never win over valid ones, wherever they are. */
static void
test_public_expired(void **state)
{
	char *d = scen(), *cert = pf("leaf.pem"), *root = pf("root.pem");
	char *inter = scen(), *corpus, *log;
	struct chain_spec spec;
	struct chain *c;

	(void)state;
	/* The directory holds only the expired twin: the corpus's valid
	 * one replaces it (the directory alone gives no valid path). */
	free(put(inter, "i.pem", P->int2, P->int1_expired, NULL));
	corpus = put(d, "corpus.pem", P->int1, NULL);
	spec_public(&spec, cert, inter, root, corpus);
	c = build_spec(&spec, &log);
	expect_path(c, P->leaf, P->int2, P->int1, P->root, NULL);
	expect_origins(c, "CCPC");
	assert_not_contains(log, "no valid replacement");
	chain_free(c);
	free(log);
	free(corpus);

	/* The corpus holds only the expired twin: the directory's expired
	 * one is served as before (no valid one anywhere), loudly. */
	corpus = put(d, "corpus2.pem", P->int1_expired, NULL);
	spec.public_intermediates = corpus;
	c = build_spec(&spec, &log);
	expect_path(c, P->leaf, P->int2, P->int1_expired, P->root, NULL);
	expect_origins(c, "CCCC");
	assert_contains(log, "no valid replacement");
	chain_free(c);
	free(log);
	free(corpus);
	free(inter);
	free(d);
	free(cert);
	free(root);
}

/*
 * The shipped corpus, on real public certificates.  No test can hold a
 * leaf of a public CA (that needs the CA's key), so a real public
 * intermediate X stands in for the leaf: its issuer I is also a public
 * intermediate, I's issuer a root of the shipped Android 4.4 store, and no
 * root of that store signed X itself.
 * Given X alone, no intermediates directory and that store as roots, the
 * engine must find I in the corpus and end at the root.
 */
static void
test_public_shipped(void **state)
{
	const char *data = getenv("CHAINFIX_DATADIR");
	struct certload_set *corpus, *roots;
	struct chain_pools *pools;
	struct chain_spec spec;
	struct chain *c;
	X509 *x, *iss, *one[2] = { NULL, NULL }, *pool[2] = { NULL, NULL };
	char rootfile[4096], *d = scen(), *cert, *log;
	size_t i, j, k, tried = 0;

	(void)state;
	if (data == NULL)
		skip();
	snprintf(rootfile, sizeof(rootfile), "%s/trusted_roots/kitkat.pem",
	    data);
	assert_non_null(corpus = certload_set_new());
	assert_non_null(roots = certload_set_new());
	assert_int_equal(corpus_load("yes", corpus, NULL, 0), 1238);
	assert_int_equal(certload_file(rootfile, NULL, roots, NULL), 149);
	assert_non_null(pools = chain_pools_new());
	cert = testpki_path(d, "x.pem");
	for (i = 0; i < certload_set_count(corpus) && tried < 3; i++) {
		x = certload_set_cert(corpus, i);
		if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0)
			continue;
		/* X's issuer, a public intermediate issued by a root. */
		for (j = 0, iss = NULL; j < certload_set_count(corpus) &&
		    iss == NULL; j++) {
			iss = certload_set_cert(corpus, j);
			if (iss == x || !chain_issued(iss, x) ||
			    X509_cmp_current_time(X509_get0_notAfter(iss)) <= 0)
				iss = NULL;
		}
		if (iss == NULL)
			continue;
		for (k = 0; k < certload_set_count(roots); k++)
			if (chain_issued(certload_set_cert(roots, k), iss))
				break;
		if (k == certload_set_count(roots))
			continue;
		/* Not one a root signed itself (a cross-signed root's
		 * child): the path must go through the corpus. */
		for (k = 0; k < certload_set_count(roots); k++)
			if (chain_issued(certload_set_cert(roots, k), x))
				break;
		if (k < certload_set_count(roots))
			continue;
		tried++;
		one[0] = x;
		testpki_write_pem(cert, one, NULL, NULL);
		spec_public(&spec, cert, NULL, rootfile, "yes");
		spec.pools = pools;
		c = build_spec(&spec, &log);
		if (c == NULL)
			fail_msg("no chain for a public intermediate: %s", log);
		assert_true(chain_trusted(c));
		assert_true(chain_length(c) >= 3);
		assert_int_equal(chain_get(c, 1)->origin,
		    CHAIN_ORIGIN_PUBLIC);
		assert_contains(chain_get(c, 1)->source, "int-bundle.crt");
		assert_contains(log, "is a public intermediate");
		/* And a strict client with that root alone accepts it. */
		pool[0] = chain_get(c, 1)->x509;
		if (chain_length(c) == 3)
			assert_true(testpki_x509_verify(chain_get(c, 2)->x509,
			    pool, x));
		chain_free(c);
		free(log);

		/* Without the corpus: no chain. */
		spec.public_intermediates = "no";
		assert_null(build_spec(&spec, NULL));
	}
	assert_true(tried >= 1);
	chain_pools_free(pools);
	certload_set_free(corpus);
	certload_set_free(roots);
	free(cert);
	free(d);
}

/* A leaf under int2b under int1, each naming its issuer's URL on srv. */
struct aia_pki {
	X509	*int2b, *leaf;
};

static void
aia_pki_new(struct aia_pki *a, int port, const char *leaf_url_path)
{
	struct testpki_certspec s;
	char url[128];

	memset(&s, 0, sizeof(s));
	s.ca = 1;
	s.cn = "chainfix test int2";
	s.key = P->int2_key;
	s.issuer = P->int1;
	s.issuer_key = P->int1_key;
	s.not_before = -TESTPKI_DAY;
	s.not_after = 365 * TESTPKI_DAY;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/int1.p7c", port);
	s.aia = url;
	a->int2b = testpki_cert(&s);
	s.ca = 0;
	s.server = 1;
	s.cn = "aia.test";
	s.key = P->leaf_key;
	s.issuer = a->int2b;
	s.issuer_key = P->int2_key;
	s.not_after = 30 * TESTPKI_DAY;
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/%s", port,
	    leaf_url_path);
	s.aia = url;
	a->leaf = testpki_cert(&s);
}

/* Fetched from a local HTTP server, kept in the cache, then offline. */
static void
test_aia_fetch(void **state)
{
	char *d = scen(), *www, *cache, *cert, *root = pf("root.pem");
	char *f, *log;
	X509 *p7[] = { P->int1, P->root, NULL }, *leafv[] = { NULL, NULL };
	struct chain_spec spec;
	struct aia_pki a;
	struct chain *c;
	pid_t httpd;
	int port;

	(void)state;
	www = testpki_mkdir(d, "www");
	cache = testpki_path(d, "cache");
	port = testpki_http_server(www, &httpd);
	aia_pki_new(&a, port, "int2.der");
	f = testpki_path(www, "int2.der");
	testpki_write_der(f, a.int2b);
	free(f);
	f = testpki_path(www, "int1.p7c");
	testpki_write_p7(f, p7, 0);
	free(f);
	cert = testpki_path(d, "leaf.pem");
	leafv[0] = a.leaf;
	testpki_write_pem(cert, leafv, NULL, NULL);

	/* Without aia_fetch: incomplete, and the message says the fix. */
	spec_of(&spec, cert, NULL, NULL, root);
	assert_null(build_spec(&spec, &log));
	assert_contains(log, "(aia_fetch = yes would fetch it)");
	free(log);

	/* Two levels fetched (DER, then PKCS#7), kept in the cache. */
	spec.aia_fetch = 1;
	spec.aia_cache = cache;
	c = build_spec(&spec, &log);
	expect_path(c, a.leaf, a.int2b, P->int1, P->root, NULL);
	/* The root came in the PKCS#7 too: it is the one from roots. */
	expect_origins(c, "CFFC");
	assert_contains(chain_get(c, 3)->source, "root.pem");
	strict_ok(c, P->root, root);
	assert_contains(log, "was fetched from its caIssuers URL http://"
	    "127.0.0.1:");
	assert_contains(log, "and kept in ");
	chain_free(c);
	free(log);

	/* The server is gone: the cache alone completes the chain, even
	 * with aia_fetch off. */
	testpki_http_stop(httpd);
	spec.aia_fetch = 0;
	c = build_spec(&spec, &log);
	expect_path(c, a.leaf, a.int2b, P->int1, P->root, NULL);
	expect_origins(c, "CAAC");
	chain_free(c);
	free(log);
	X509_free(a.int2b);
	X509_free(a.leaf);
	free(cert);
	free(cache);
	free(www);
	free(root);
	free(d);
}

/* What a caIssuers URL returns is checked like anything else. */
static void
test_aia_wrong_answer(void **state)
{
	char *d = scen(), *www, *cert, *root = pf("root.pem"), *f, *log;
	X509 *leafv[] = { NULL, NULL };
	struct chain_spec spec;
	struct aia_pki a;
	pid_t httpd;
	int port;

	(void)state;
	www = testpki_mkdir(d, "www");
	port = testpki_http_server(www, &httpd);
	/* The leaf's URL serves the decoy: same name as int1, not int2's
	 * issuer, and not int2 either. */
	aia_pki_new(&a, port, "decoy.der");
	f = testpki_path(www, "decoy.der");
	testpki_write_der(f, P->int1_decoy);
	free(f);
	cert = testpki_path(d, "leaf.pem");
	leafv[0] = a.leaf;
	testpki_write_pem(cert, leafv, NULL, NULL);
	spec_of(&spec, cert, NULL, NULL, root);
	spec.aia_fetch = 1;
	assert_null(build_spec(&spec, &log));
	assert_contains(log, "fetched 1 certificate from caIssuers");
	assert_contains(log, "no issuer \"CN=chainfix test int2\" found for "
	    "\"CN=aia.test\"");
	free(log);
	testpki_http_stop(httpd);
	X509_free(a.int2b);
	X509_free(a.leaf);
	free(cert);
	free(www);
	free(root);
	free(d);
}

/* A cross-signed intermediate toward an older root: two chains. */
static void
test_legacy_chain(void **state)
{
	char *cert = pf("leaf.pem"), *root = pf("root.pem");
	char *old = pf("root-old.pem"), *d = scen(), *inter = scen();
	char *corpus, *log;
	struct chain_spec spec;
	struct chain *c;
	const struct chain *l;

	(void)state;
	free(put(inter, "i.pem", P->int2, P->int1, P->int1_cross, NULL));
	spec_of(&spec, cert, NULL, inter, root);
	spec.legacy_roots = old;
	c = build_spec(&spec, &log);
	expect_path(c, P->leaf, P->int2, P->int1, P->root, NULL);
	assert_non_null(l = chain_legacy(c));
	expect_path(l, P->leaf, P->int2, P->int1_cross, P->root_old, NULL);
	assert_true(chain_trusted(l));
	assert_int_equal(chain_served(l), 3);
	strict_ok(l, P->root_old, old);
	strict_ok(c, P->root, root);
	chain_free(c);
	free(log);

	/* The preferred chain already reaches legacy_roots: one chain. */
	spec.legacy_roots = root;
	c = build_spec(&spec, &log);
	assert_null(chain_legacy(c));
	assert_contains(log, "also verifies with legacy_roots");
	chain_free(c);
	free(log);

	/* The cross-sign only in the corpus: found there for legacy. */
	free(inter);
	inter = scen();
	free(put(inter, "i.pem", P->int2, P->int1, NULL));
	corpus = put(d, "corpus.pem", P->int1_cross, NULL);
	spec_public(&spec, cert, inter, root, corpus);
	spec.legacy_roots = old;
	c = build_spec(&spec, &log);
	expect_origins(c, "CCCC");
	assert_non_null(l = chain_legacy(c));
	expect_path(l, P->leaf, P->int2, P->int1_cross, P->root_old, NULL);
	expect_origins(l, "CCPC");
	assert_contains(log, "legacy chain: \"CN=chainfix test int1\" is a "
	    "public intermediate");
	chain_free(c);
	free(log);

	/* No path to legacy_roots at all: a warning, one chain. */
	spec.public_intermediates = NULL;
	c = build_spec(&spec, &log);
	assert_non_null(c);
	assert_null(chain_legacy(c));
	assert_contains(log, "no valid chain to legacy_roots");
	chain_free(c);
	free(log);
	free(corpus);
	free(inter);
	free(d);
	free(cert);
	free(root);
	free(old);
}

/* Old clients ignore their root's dates, not an intermediate's. */
static void
test_legacy_expired(void **state)
{
	char *cert = pf("leaf.pem"), *root = pf("root.pem"), *d = scen();
	char *inter = scen(), *oldfile, *log;
	struct testpki_certspec s;
	struct chain_spec spec;
	struct chain *c;
	const struct chain *l;
	EVP_PKEY *k = testpki_key_ec();
	X509 *expired_root, *cross, *cross_expired;

	(void)state;
	/* An old root, expired (like DST Root CA X3), cross-signing int1
	 * with a valid certificate, and with an expired one. */
	memset(&s, 0, sizeof(s));
	s.ca = 1;
	s.cn = "chainfix test expired old root";
	s.key = k;
	s.not_before = -900 * TESTPKI_DAY;
	s.not_after = -10 * TESTPKI_DAY;
	expired_root = testpki_cert(&s);
	s.cn = "chainfix test int1";
	s.key = P->int1_key;
	s.issuer = expired_root;
	s.issuer_key = k;
	s.not_before = -TESTPKI_DAY;
	s.not_after = 200 * TESTPKI_DAY;
	cross = testpki_cert(&s);
	s.not_before = -400 * TESTPKI_DAY;
	s.not_after = -5 * TESTPKI_DAY;
	cross_expired = testpki_cert(&s);
	oldfile = put(d, "old.pem", expired_root, NULL);

	free(put(inter, "i.pem", P->int2, P->int1, cross, NULL));
	spec_of(&spec, cert, NULL, inter, root);
	spec.legacy_roots = oldfile;
	c = build_spec(&spec, &log);
	assert_non_null(l = chain_legacy(c));
	expect_path(l, P->leaf, P->int2, cross, expired_root, NULL);
	chain_free(c);
	free(log);

	/* Only an expired cross-sign: no legacy chain. */
	free(inter);
	inter = scen();
	free(put(inter, "i.pem", P->int2, P->int1, cross_expired, NULL));
	spec.intermediates = inter;
	c = build_spec(&spec, &log);
	assert_null(chain_legacy(c));
	assert_contains(log, "no valid chain to legacy_roots");
	chain_free(c);
	free(log);
	X509_free(expired_root);
	X509_free(cross);
	X509_free(cross_expired);
	EVP_PKEY_free(k);
	free(oldfile);
	free(inter);
	free(d);
	free(cert);
	free(root);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_issued),
		cmocka_unit_test(test_leaf_only_full_dir),
		cmocka_unit_test(test_cross_sign_roots_decide),
		cmocka_unit_test(test_expired_twin),
		cmocka_unit_test(test_decoy),
		cmocka_unit_test(test_misordered_pem),
		cmocka_unit_test(test_pfx),
		cmocka_unit_test(test_der_p7),
		cmocka_unit_test(test_missing_intermediate),
		cmocka_unit_test(test_key_mismatch),
		cmocka_unit_test(test_corrupt_in_dir),
		cmocka_unit_test(test_encrypted_key),
		cmocka_unit_test(test_send_root),
		cmocka_unit_test(test_loops),
		cmocka_unit_test(test_untrusted_end),
		cmocka_unit_test(test_expired_leaf),
		cmocka_unit_test(test_diagnose),
		cmocka_unit_test(test_shortest_trusted),
		cmocka_unit_test(test_many_twins),
		cmocka_unit_test(test_renewed_leaf),
		cmocka_unit_test(test_order_independent),
		cmocka_unit_test(test_large_directory),
		cmocka_unit_test(test_public_last_resort),
		cmocka_unit_test(test_public_expired),
		cmocka_unit_test(test_public_shipped),
		cmocka_unit_test(test_aia_fetch),
		cmocka_unit_test(test_aia_wrong_answer),
		cmocka_unit_test(test_legacy_chain),
		cmocka_unit_test(test_legacy_expired),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
