/*
 * test_certload.c: every format certload reads, and every way it refuses.
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

#include "certload.h"
#include "log.h"
#include "testpki.h"

static struct testpki *P;
static char *D;
static char *pkidir;

static char *
pf(const char *name)
{
	return testpki_path(pkidir, name);
}

static char *
tf(const char *name)
{
	return testpki_path(D, name);
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

/* certload_file() with stderr captured; returns its result. */
static int
load(const char *path, const char *pw, struct certload_set *set,
    EVP_PKEY **key, char **log)
{
	char *out;
	int r;

	testpki_capture_start();
	r = certload_file(path, pw, set, key);
	out = testpki_capture_end();
	if (log != NULL)
		*log = out;
	else
		free(out);
	assert_int_equal(ERR_peek_error(), 0);
	return r;
}

static int
loadkey(const char *path, const char *pw, EVP_PKEY **key, char **log)
{
	char *out;
	int r;

	testpki_capture_start();
	r = certload_key(path, pw, key);
	out = testpki_capture_end();
	if (log != NULL)
		*log = out;
	else
		free(out);
	assert_int_equal(ERR_peek_error(), 0);
	return r;
}

static void
test_set(void **state)
{
	struct certload_set *s = certload_set_new();

	(void)state;
	certload_set_free(NULL);
	assert_int_equal(certload_set_count(s), 0);
	assert_int_equal(certload_set_add(s, P->int1, "a"), 1);
	assert_int_equal(certload_set_add(s, P->int1, "b"), 0);
	/* Same subject and key, other DER: not a duplicate. */
	assert_int_equal(certload_set_add(s, P->int1_cross, "c"), 1);
	assert_int_equal(certload_set_count(s), 2);
	assert_string_equal(certload_set_source(s, 0), "a");
	assert_string_equal(certload_set_source(s, 1), "c");
	assert_ptr_equal(certload_set_cert(s, 0), P->int1);
	assert_null(certload_set_cert(s, 2));
	certload_set_free(s);
}

static void
test_password(void **state)
{
	char *p = tf("pw"), *pw, *log;

	(void)state;
	testpki_write_file(p, "s3cret\r\nsecond line\n", 20);
	assert_int_equal(certload_read_password(p, &pw), 0);
	assert_string_equal(pw, "s3cret");
	certload_password_free(pw);
	testpki_write_file(p, "", 0);
	assert_int_equal(certload_read_password(p, &pw), 0);
	assert_string_equal(pw, "");
	certload_password_free(pw);
	certload_password_free(NULL);
	free(p);

	p = tf("no-such-pw");
	testpki_capture_start();
	assert_int_equal(certload_read_password(p, &pw), -1);
	log = testpki_capture_end();
	assert_null(pw);
	assert_contains(log, "no-such-pw: cannot read password file");
	free(log);
	free(p);
}

/* PEM: several certificates in any order, the key among them, a
 * TRUSTED CERTIFICATE, a PKCS7 block and a block of another kind. */
static void
test_pem(void **state)
{
	X509 *certs[] = { P->int1, P->leaf, P->int2, P->int1, NULL };
	char *p = tf("combined.pem"), *log;
	struct certload_set *s = certload_set_new();
	EVP_PKEY *key = NULL;
	BIO *b;

	(void)state;
	testpki_write_pem(p, certs, P->leaf_key, NULL);
	assert_int_equal(load(p, NULL, s, &key, NULL), 4);
	assert_int_equal(certload_set_count(s), 3);
	assert_ptr_not_equal(key, NULL);
	assert_int_equal(EVP_PKEY_eq(key, P->leaf_key), 1);
	assert_string_equal(certload_set_source(s, 0), p);
	EVP_PKEY_free(key);
	/* Without a key pointer the key is ignored. */
	assert_int_equal(load(p, NULL, s, NULL, NULL), 4);
	assert_int_equal(certload_set_count(s), 3);
	certload_set_free(s);

	s = certload_set_new();
	assert_non_null(b = BIO_new_file(p, "w"));
	assert_true(PEM_write_bio_X509_AUX(b, P->root));
	BIO_puts(b, "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n");
	BIO_free(b);
	{
		X509 *p7certs[] = { P->int1, P->int2, NULL };
		char *p7 = tf("chain.p7b.pem");
		BIO *in, *out;
		char buf[8192];
		int n;

		testpki_write_p7(p7, p7certs, 1);
		/* Append the PKCS7 block to the file. */
		assert_non_null(in = BIO_new_file(p7, "r"));
		assert_non_null(out = BIO_new_file(p, "a"));
		while ((n = BIO_read(in, buf, sizeof(buf))) > 0)
			assert_int_equal(BIO_write(out, buf, n), n);
		BIO_free(in);
		BIO_free(out);
		free(p7);
	}
	assert_int_equal(load(p, NULL, s, NULL, NULL), 3);
	assert_true(testpki_set_has(s, P->root));
	assert_true(testpki_set_has(s, P->int1));
	assert_true(testpki_set_has(s, P->int2));
	certload_set_free(s);

	/* A PKCS#7 under a CERTIFICATE header, CRLF line endings and text
	 * around the blocks (as `openssl pkcs12` prints "Bag Attributes"). */
	{
		X509 *p7certs[] = { P->int1, P->int2, NULL };
		char *p7 = tf("p7.der"), *pem;
		unsigned char *der;
		FILE *f;
		long len;
		size_t i, n;

		testpki_write_p7(p7, p7certs, 0);
		assert_non_null(f = fopen(p7, "rb"));
		assert_int_equal(fseek(f, 0, SEEK_END), 0);
		len = ftell(f);
		rewind(f);
		assert_non_null(der = malloc((size_t)len));
		assert_int_equal(fread(der, 1, (size_t)len, f), (size_t)len);
		fclose(f);
		assert_non_null(b = BIO_new_file(p, "w"));
		BIO_puts(b, "Bag Attributes\r\n    friendlyName: x\r\n");
		assert_true(PEM_write_bio(b, "CERTIFICATE", "", der, len));
		BIO_free(b);
		free(der);
		/* To CRLF. */
		assert_non_null(f = fopen(p, "rb"));
		assert_non_null(pem = calloc(1, 65536));
		n = fread(pem, 1, 32768, f);
		fclose(f);
		assert_non_null(f = fopen(p, "wb"));
		for (i = 0; i < n; i++) {
			if (pem[i] == '\n' && (i == 0 || pem[i - 1] != '\r'))
				fputc('\r', f);
			fputc(pem[i], f);
		}
		fclose(f);
		free(pem);
		s = certload_set_new();
		assert_int_equal(load(p, NULL, s, NULL, NULL), 2);
		assert_true(testpki_set_has(s, P->int1) && testpki_set_has(s, P->int2));
		certload_set_free(s);
		free(p7);
	}

	/* A key alone is no certificate file. */
	s = certload_set_new();
	testpki_write_key(p, P->leaf_key, NULL, 0);
	assert_int_equal(load(p, NULL, s, NULL, &log), -1);
	assert_contains(log, "combined.pem: no certificate in the file");
	free(log);
	/* An encrypted key in the cert file without the password. */
	{
		X509 *one[] = { P->leaf, NULL };

		testpki_write_pem(p, one, P->leaf_key, "pw");
		key = NULL;
		assert_int_equal(load(p, NULL, s, &key, &log), -1);
		assert_contains(log, "combined.pem: the private key is "
		    "encrypted and no password was given");
		free(log);
		assert_int_equal(load(p, "pw", s, &key, NULL), 1);
		assert_int_equal(EVP_PKEY_eq(key, P->leaf_key), 1);
		EVP_PKEY_free(key);
	}
	certload_set_free(s);
	free(p);
}

static void
test_der_p7(void **state)
{
	X509 *certs[] = { P->int2, P->int1, NULL };
	char *p = tf("x.cer"), *log;
	struct certload_set *s = certload_set_new();

	(void)state;
	testpki_write_der(p, P->int2);
	assert_int_equal(load(p, NULL, s, NULL, NULL), 1);
	assert_true(testpki_set_has(s, P->int2));
	testpki_write_p7(p, certs, 0);
	assert_int_equal(load(p, NULL, s, NULL, NULL), 2);
	assert_int_equal(certload_set_count(s), 2);
	testpki_write_file(p, "\x30\x03\x02\x01\x01", 5);
	assert_int_equal(load(p, NULL, s, NULL, &log), -1);
	assert_contains(log, "x.cer: not a certificate, PKCS#7 or PKCS#12");
	free(log);
	free(p);

	p = tf("missing.cer");
	assert_int_equal(load(p, NULL, s, NULL, &log), -1);
	assert_contains(log, "missing.cer: cannot open: No such file");
	free(log);
	free(p);
	assert_int_equal(load(D, NULL, s, NULL, &log), -1);
	assert_contains(log, "is a directory, not a regular file");
	free(log);
	certload_set_free(s);
}

static void
test_pkcs12(void **state)
{
	char *p = pf("leaf.pfx"), *q = tf("empty.p12"), *log;
	struct certload_set *s = certload_set_new();
	EVP_PKEY *key = NULL;
	X509 *certs[] = { P->int2, P->leaf, NULL };
	unsigned char *buf;
	size_t len;
	FILE *f;

	(void)state;
	assert_int_equal(load(p, "secret", s, &key, NULL), 4);
	assert_int_equal(EVP_PKEY_eq(key, P->leaf_key), 1);
	assert_true(testpki_set_has(s, P->root) && testpki_set_has(s, P->int1) && testpki_set_has(s, P->int2) &&
	    testpki_set_has(s, P->leaf));
	EVP_PKEY_free(key);
	key = NULL;
	assert_int_equal(load(p, "Secret", s, &key, &log), -1);
	assert_null(key);
	assert_contains(log, "error: ");
	assert_contains(log, "leaf.pfx: wrong password (PKCS#12 MAC check "
	    "failed)\n");
	free(log);

	/* An empty password, given as none. */
	testpki_write_p12(q, certs, P->leaf_key, "");
	assert_int_equal(load(q, NULL, s, &key, NULL), 2);
	assert_int_equal(EVP_PKEY_eq(key, P->leaf_key), 1);
	EVP_PKEY_free(key);
	key = NULL;

	/* Truncated. */
	assert_non_null(f = fopen(p, "rb"));
	assert_non_null(buf = malloc(8192));
	len = fread(buf, 1, 8192, f);
	fclose(f);
	testpki_write_file(q, buf, len / 2);
	free(buf);
	assert_int_equal(load(q, "secret", s, &key, &log), -1);
	assert_contains(log, "empty.p12: ");
	free(log);
	certload_set_free(s);
	free(p);
	free(q);
}

/* A Windows-style .pfx (RC2-40): the legacy provider is loaded on
 * demand.  Made with the openssl command; skipped without it. */
static void
test_pkcs12_legacy(void **state)
{
	char *p = tf("legacy.pfx"), *full = pf("leaf-full.pem");
	char *key = pf("leaf.key"), *cmd, *log;
	struct certload_set *s = certload_set_new();
	EVP_PKEY *k = NULL;

	(void)state;
	assert_true(asprintf(&cmd, "openssl pkcs12 -export -legacy -in '%s' "
	    "-inkey '%s' -passout pass:legacy -out '%s'", full, key, p) > 0);
	if (system(cmd) != 0) {
		free(cmd);
		free(p);
		free(full);
		free(key);
		certload_set_free(s);
		skip();
	}
	free(cmd);
	log_setlevel(LOG_LEVEL_DEBUG);
	assert_int_equal(load(p, "legacy", s, &k, &log), 3);
	log_setlevel(LOG_LEVEL_INFO);
	assert_contains(log, "legacy provider");
	free(log);
	assert_int_equal(EVP_PKEY_eq(k, P->leaf_key), 1);
	assert_true(testpki_set_has(s, P->leaf) && testpki_set_has(s, P->int1) && testpki_set_has(s, P->int2));
	EVP_PKEY_free(k);
	certload_set_free(s);
	free(p);
	free(full);
	free(key);
}

static void
test_keys(void **state)
{
	char *p = tf("k"), *log;
	EVP_PKEY *k = NULL;

	(void)state;
	testpki_write_key(p, P->leaf_key, NULL, 0);		/* PKCS#8 */
	assert_int_equal(loadkey(p, NULL, &k, NULL), 0);
	assert_int_equal(EVP_PKEY_eq(k, P->leaf_key), 1);
	EVP_PKEY_free(k);
	testpki_write_key_legacy(p, P->leaf_key);		/* PKCS#1 */
	assert_int_equal(loadkey(p, NULL, &k, NULL), 0);
	assert_int_equal(EVP_PKEY_eq(k, P->leaf_key), 1);
	EVP_PKEY_free(k);
	testpki_write_key_legacy(p, P->int1_key);		/* SEC1 */
	assert_int_equal(loadkey(p, NULL, &k, NULL), 0);
	assert_int_equal(EVP_PKEY_eq(k, P->int1_key), 1);
	EVP_PKEY_free(k);
	testpki_write_key(p, P->int1_key, NULL, 1);		/* DER */
	assert_int_equal(loadkey(p, NULL, &k, NULL), 0);
	assert_int_equal(EVP_PKEY_eq(k, P->int1_key), 1);
	EVP_PKEY_free(k);
	testpki_write_key(p, P->leaf_key, "pw", 1);		/* DER, enc */
	assert_int_equal(loadkey(p, "pw", &k, NULL), 0);
	assert_int_equal(EVP_PKEY_eq(k, P->leaf_key), 1);
	EVP_PKEY_free(k);
	assert_int_equal(loadkey(p, "bad", &k, &log), -1);
	assert_null(k);
	assert_contains(log, "/k: wrong password for the private key");
	free(log);

	testpki_write_key(p, P->leaf_key, "pw", 0);		/* PEM, enc */
	assert_int_equal(loadkey(p, "pw", &k, NULL), 0);
	EVP_PKEY_free(k);
	assert_int_equal(loadkey(p, "bad", &k, &log), -1);
	assert_contains(log, "wrong password for the private key");
	free(log);
	assert_int_equal(loadkey(p, NULL, &k, &log), -1);
	assert_contains(log, "encrypted and no password was given");
	free(log);
	free(p);

	p = pf("leaf.pem");
	assert_int_equal(loadkey(p, NULL, &k, &log), -1);
	assert_contains(log, "leaf.pem: no private key found");
	free(log);
	free(p);
}

static void
test_dir(void **state)
{
	char *inter = pf("intermediates"), *log, *d, *p;
	struct certload_set *s = certload_set_new();

	(void)state;
	testpki_capture_start();
	assert_int_equal(certload_dir(inter, s), 5);
	log = testpki_capture_end();
	assert_contains(log, "warning: ");
	assert_contains(log, "README.txt: not a certificate");
	assert_contains(log, "skipped");
	assert_true(testpki_set_has(s, P->int1_cross) && testpki_set_has(s, P->int2) &&
	    testpki_set_has(s, P->int1_decoy) && testpki_set_has(s, P->int1_expired) &&
	    testpki_set_has(s, P->int1));
	free(log);
	/* Again: all duplicates, none added. */
	testpki_capture_start();
	assert_int_equal(certload_dir(inter, s), 0);
	free(testpki_capture_end());
	certload_set_free(s);

	s = certload_set_new();
	d = testpki_mkdir(D, "dots");
	p = testpki_path(d, ".hidden.pem");
	testpki_write_file(p, "junk", 4);
	free(p);
	testpki_capture_start();
	assert_int_equal(certload_dir(d, s), 0);
	log = testpki_capture_end();
	assert_string_equal(log, "");
	free(log);
	free(d);

	d = tf("no-such-dir");
	testpki_capture_start();
	assert_int_equal(certload_dir(d, s), -1);
	log = testpki_capture_end();
	assert_contains(log, "no-such-dir: cannot read directory");
	free(log);
	free(d);
	certload_set_free(s);
	free(inter);
}

static void
test_roots(void **state)
{
	char *root = pf("root.pem"), *d, *p, *log;
	struct certload_set *s = certload_set_new();
	char *oldfile = getenv("SSL_CERT_FILE"), *olddir;

	(void)state;
	assert_int_equal(certload_roots("none", s), 0);
	assert_int_equal(certload_roots(root, s), 1);
	assert_int_equal(certload_roots(root, s), 0);
	certload_set_free(s);

	s = certload_set_new();
	d = testpki_mkdir(D, "roots");
	free(testpki_path(d, "x"));
	p = testpki_path(d, "a.pem");
	{
		X509 *two[] = { P->root, P->root_old, NULL };

		testpki_write_pem(p, two, NULL, NULL);
	}
	assert_int_equal(certload_roots(d, s), 2);
	certload_set_free(s);

	/* "system" honours SSL_CERT_FILE, then SSL_CERT_DIR. */
	oldfile = oldfile != NULL ? strdup(oldfile) : NULL;
	olddir = getenv("SSL_CERT_DIR");
	olddir = olddir != NULL ? strdup(olddir) : NULL;
	s = certload_set_new();
	setenv("SSL_CERT_FILE", root, 1);
	assert_int_equal(certload_roots("system", s), 1);
	assert_int_equal(certload_roots(NULL, s), 0);
	certload_set_free(s);
	s = certload_set_new();
	setenv("SSL_CERT_FILE", "/nonexistent/chainfix.pem", 1);
	setenv("SSL_CERT_DIR", d, 1);
	assert_int_equal(certload_roots("system", s), 2);
	certload_set_free(s);
	if (oldfile != NULL)
		setenv("SSL_CERT_FILE", oldfile, 1);
	else
		unsetenv("SSL_CERT_FILE");
	if (olddir != NULL)
		setenv("SSL_CERT_DIR", olddir, 1);
	else
		unsetenv("SSL_CERT_DIR");
	free(oldfile);
	free(olddir);

	s = certload_set_new();
	testpki_capture_start();
	assert_int_equal(certload_roots("/nonexistent/roots.pem", s), -1);
	log = testpki_capture_end();
	assert_contains(log, "/nonexistent/roots.pem");
	free(log);
	certload_set_free(s);
	free(p);
	free(d);
	free(root);
}

/*
 * A directory NAME holding int2 and BAD (data, or a FIFO if data is NULL):
 * certload_dir() adds int2 to s and skips BAD with a warning saying want.
 */
static void
skipped_in_dir(struct certload_set *s, const char *name, const char *bad,
    const void *data, size_t len, const char *want)
{
	char *d = testpki_mkdir(D, name), *q, *log;

	q = testpki_path(d, bad);
	if (data == NULL)
		assert_int_equal(mkfifo(q, 0600), 0);
	else
		testpki_write_file(q, data, len);
	free(q);
	q = testpki_path(d, "int2.der");
	testpki_write_der(q, P->int2);
	free(q);
	testpki_capture_start();
	assert_int_equal(certload_dir(d, s), 1);
	log = testpki_capture_end();
	assert_contains(log, want);
	assert_true(testpki_set_has(s, P->int2));
	assert_int_equal(ERR_peek_error(), 0);
	free(log);
	free(d);
}

/*
 * Only regular files: a FIFO given as a certificate, key or password file
 * (or found among the intermediates) is refused at once, never read; keys
 * and passwords others may read are warned about, naming the file.
 */
static void
test_not_regular(void **state)
{
	char *fifo = tf("fifo"), *key = tf("open.key"), *full = tf("open.pem");
	char *pw = tf("open.pass"), *log, *pass = NULL;
	X509 *chain[] = { P->leaf, NULL };
	struct certload_set *s = certload_set_new();
	EVP_PKEY *k = NULL;

	(void)state;
	assert_int_equal(mkfifo(fifo, 0600), 0);
	assert_int_equal(load(fifo, NULL, s, &k, &log), -1);
	assert_contains(log, "fifo: is a FIFO, not a regular file");
	free(log);
	assert_int_equal(loadkey(fifo, NULL, &k, &log), -1);
	assert_contains(log, "fifo: is a FIFO, not a regular file");
	free(log);
	testpki_capture_start();
	assert_int_equal(certload_read_password(fifo, &pass), -1);
	log = testpki_capture_end();
	assert_contains(log, "fifo: cannot read password file: is a FIFO, "
	    "not a regular file");
	free(log);
	assert_null(pass);

	skipped_in_dir(s, "fifodir", "a-fifo.pem", NULL, 0,
	    "a-fifo.pem: is a FIFO, not a regular file; skipped");

	/* Modes: 0644 keys and passwords are pointed out, 0640 are not. */
	testpki_write_key(key, P->leaf_key, NULL, 0);
	testpki_write_pem(full, chain, P->leaf_key, NULL);
	testpki_write_file(pw, "secret\n", 7);
	assert_int_equal(chmod(key, 0644) | chmod(full, 0604) |
	    chmod(pw, 0606), 0);
	assert_int_equal(loadkey(key, NULL, &k, &log), 0);
	assert_contains(log, "warning: private key ");
	assert_contains(log, "open.key is readable by others (mode 0644)");
	free(log);
	EVP_PKEY_free(k);
	k = NULL;
	assert_int_equal(load(full, NULL, s, &k, &log), 1);
	assert_contains(log, "warning: file with a private key ");
	assert_contains(log, "open.pem is readable by others (mode 0604)");
	free(log);
	/* The same file read for its certificates only: no key, no word. */
	assert_int_equal(load(full, NULL, s, NULL, &log), 1);
	assert_string_equal(log, "");
	free(log);
	testpki_capture_start();
	assert_int_equal(certload_read_password(pw, &pass), 0);
	log = testpki_capture_end();
	assert_contains(log, "open.pass is readable and writable by others "
	    "(mode 0606)");
	free(log);
	certload_password_free(pass);
	EVP_PKEY_free(k);
	k = NULL;
	assert_int_equal(chmod(key, 0640) | chmod(full, 0600), 0);
	assert_int_equal(loadkey(key, NULL, &k, &log), 0);
	assert_string_equal(log, "");
	free(log);
	EVP_PKEY_free(k);
	k = NULL;
	assert_int_equal(load(full, NULL, s, &k, &log), 1);
	assert_string_equal(log, "");
	free(log);
	EVP_PKEY_free(k);
	certload_set_free(s);
	free(fifo);
	free(key);
	free(full);
	free(pw);
}

/*
 * A PKCS#7 ContentInfo whose OPTIONAL content is absent: the type says
 * signed-data (or signed-and-enveloped) but there is no SignedData at all.
 * It decodes, and used to be dereferenced as if it had one.
 */
static const unsigned char p7_signed_empty[] = {
	0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
	0x07, 0x02
};
static const unsigned char p7_sigenv_empty[] = {
	0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01,
	0x07, 0x04
};

static void
test_p7_no_content(void **state)
{
	static const char pem_p7[] = "-----BEGIN PKCS7-----\n"
	    "MAsGCSqGSIb3DQEHAg==\n-----END PKCS7-----\n";
	static const char pem_cert[] = "-----BEGIN CERTIFICATE-----\n"
	    "MAsGCSqGSIb3DQEHAg==\n-----END CERTIFICATE-----\n";
	char *p = tf("empty.p7b"), *log;
	struct certload_set *s = certload_set_new();
	EVP_PKEY *key = NULL;

	(void)state;
	testpki_write_file(p, p7_signed_empty, sizeof(p7_signed_empty));
	assert_int_equal(load(p, NULL, s, &key, &log), -1);
	assert_contains(log, "empty.p7b: PKCS#7 signed-data without its "
	    "content");
	free(log);
	testpki_write_file(p, p7_sigenv_empty, sizeof(p7_sigenv_empty));
	assert_int_equal(load(p, NULL, s, &key, &log), -1);
	assert_contains(log, "empty.p7b: PKCS#7 structure without its "
	    "content");
	free(log);
	testpki_write_file(p, pem_p7, sizeof(pem_p7) - 1);
	assert_int_equal(load(p, NULL, s, &key, &log), -1);
	assert_contains(log, "without its content");
	free(log);
	/* A .p7b under a CERTIFICATE header takes the same path. */
	testpki_write_file(p, pem_cert, sizeof(pem_cert) - 1);
	assert_int_equal(load(p, NULL, s, &key, &log), -1);
	assert_contains(log, "without its content");
	free(log);
	assert_int_equal(certload_set_count(s), 0);
	assert_null(key);

	/* In a directory: skipped with a warning, the others still read. */
	skipped_in_dir(s, "p7dir", "empty.p7b", p7_signed_empty,
	    sizeof(p7_signed_empty), "empty.p7b: PKCS#7 signed-data without "
	    "its content; skipped");
	free(p);
	certload_set_free(s);
}

/*
 * Damaged files never crash, leak (ASan/LSan builds) or leave the OpenSSL
 * error queue dirty; a refusal is exactly one line naming the file.
 * Deterministic: a fixed-seed generator picks the damage.
 */
static void
test_damaged(void **state)
{
	static const char *const names[] = { "leaf.pfx", "leaf-full.pem",
	    "intermediates/int2.der", "intermediates/int1-cross.p7b",
	    "leaf.key" };
	uint32_t seed = 12345;
	unsigned char *orig, *buf;
	size_t len, i, n, nl;
	char *src, *dst = tf("damaged"), *log;
	struct certload_set *s;
	EVP_PKEY *key;
	FILE *f;
	int iter, r;

	(void)state;
	assert_non_null(orig = malloc(65536));
	assert_non_null(buf = malloc(65536));
	for (n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
		src = pf(names[n]);
		assert_non_null(f = fopen(src, "rb"));
		len = fread(orig, 1, 65536, f);
		fclose(f);
		free(src);
		for (iter = 0; iter < 60; iter++) {
			memcpy(buf, orig, len);
			/* 1-4 byte flips, sometimes a truncation. */
			for (i = 0; i < 1 + (size_t)iter % 4; i++) {
				seed = seed * 1103515245u + 12345u;
				buf[(seed >> 8) % len] ^= (unsigned char)
				    (1u << ((seed >> 4) % 8));
			}
			seed = seed * 1103515245u + 12345u;
			testpki_write_file(dst, buf, iter % 5 == 4 ?
			    (seed >> 8) % len : len);
			s = certload_set_new();
			key = NULL;
			r = load(dst, iter % 2 ? "secret" : NULL, s, &key,
			    &log);
			if (r == -1) {
				for (i = 0, nl = 0; log[i] != '\0'; i++)
					nl += log[i] == '\n';
				assert_int_equal(nl, 1);
				assert_contains(log, "damaged: ");
			} else
				assert_int_equal(certload_set_count(s) > 0, 1);
			free(log);
			EVP_PKEY_free(key);
			certload_set_free(s);
			key = NULL;
			testpki_capture_start();
			(void)certload_key(dst, iter % 2 ? "secret" : NULL,
			    &key);
			free(testpki_capture_end());
			assert_int_equal(ERR_peek_error(), 0);
			EVP_PKEY_free(key);
		}
	}
	free(orig);
	free(buf);
	free(dst);
}

/* certload_mem(): what an AIA answer may be, from memory, never logged. */
static void
test_mem(void **state)
{
	X509 *certs[] = { P->int2, P->int1, NULL };
	struct certload_set *s = certload_set_new();
	unsigned char *der = NULL, *buf;
	char why[256], *path = tf("mem.p7c"), *log;
	size_t len;
	FILE *f;
	BIO *b;
	int dlen;

	(void)state;
	/* DER certificate. */
	assert_true((dlen = i2d_X509(P->int2, &der)) > 0);
	testpki_capture_start();
	assert_int_equal(certload_mem(der, (size_t)dlen, "http://x/int2.cer",
	    s, why, sizeof(why)), 1);
	log = testpki_capture_end();
	assert_string_equal(log, "");
	free(log);
	assert_true(testpki_set_has(s, P->int2));
	assert_string_equal(certload_set_source(s, 0), "http://x/int2.cer");
	/* Truncated DER: a reason, no certificate. */
	assert_int_equal(certload_mem(der, (size_t)dlen / 2, "t", s, why,
	    sizeof(why)), -1);
	assert_contains(why, "not a certificate, PKCS#7");
	OPENSSL_free(der);

	/* PEM. */
	assert_non_null(b = BIO_new(BIO_s_mem()));
	assert_int_equal(PEM_write_bio_X509(b, P->int1), 1);
	len = (size_t)BIO_get_mem_data(b, (char **)&buf);
	assert_int_equal(certload_mem(buf, len, "p", s, why, sizeof(why)), 1);
	assert_true(testpki_set_has(s, P->int1));
	BIO_free(b);

	/* PKCS#7 (DER), as CAs publish .p7c files. */
	testpki_write_p7(path, certs, 0);
	assert_non_null(f = fopen(path, "rb"));
	assert_non_null(buf = malloc(65536));
	len = fread(buf, 1, 65536, f);
	fclose(f);
	certload_set_free(s);
	s = certload_set_new();
	assert_int_equal(certload_mem(buf, len, "p7", s, why, sizeof(why)), 2);
	assert_int_equal(certload_set_count(s), 2);

	/* Nothing, or an HTML error page. */
	assert_int_equal(certload_mem(buf, 0, "e", s, why, sizeof(why)), -1);
	assert_contains(why, "empty");
	memcpy(buf, "<html>-----BEGIN nothing", 24);
	assert_int_equal(certload_mem(buf, 24, "h", s, why, sizeof(why)), -1);
	assert_int_equal(ERR_peek_error(), 0);
	free(buf);
	free(path);
	certload_set_free(s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_set),
		cmocka_unit_test(test_password),
		cmocka_unit_test(test_pem),
		cmocka_unit_test(test_der_p7),
		cmocka_unit_test(test_pkcs12),
		cmocka_unit_test(test_pkcs12_legacy),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_dir),
		cmocka_unit_test(test_roots),
		cmocka_unit_test(test_not_regular),
		cmocka_unit_test(test_p7_no_content),
		cmocka_unit_test(test_damaged),
		cmocka_unit_test(test_mem),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
