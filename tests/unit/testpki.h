/*
 * testpki.h: a throw-away PKI for the tests, generated at test time with the
 * OpenSSL 3 API, so no test depends on fixtures that expire.
 *
 * testpki_new() builds the test PKI in memory; testpki_write() writes it
 * as files (chainfix-mkpki is a thin wrapper).  The lower-level calls let a
 * test make any other certificate and write it in any format.
 *
 * The PKI (CAs P-256, valid from a day ago for a year unless said):
 *   root      "chainfix test root", self-signed
 *   root-old  "chainfix test old root", self-signed
 *   int1      "chainfix test int1", issued by root
 *   int1-cross       int1's name and key, issued by root-old
 *   int1-expired     int1's name and key, issued by root, expired 30 days ago
 *   int1-decoy       int1's name, another key, issued by root
 *   int2      "chainfix test int2", issued by int1
 *   leaf      CN localhost (RSA-2048; SAN localhost, 127.0.0.1, ::1; AIA
 *             caIssuers http://pki.invalid/int2.cer), issued by int2
 *   leaf2     CN other.test (P-256; SAN other.test, *.other.test), by int2
 *   self      CN localhost (RSA-2048), self-signed
 * Files of testpki_write(dir): NAME.pem and NAME.key for each (no key for
 * int1-cross and int1-expired), leaf-full.pem (leaf, int2, int1), leaf.pfx
 * (root, int1, leaf, int2 in that order; password "secret"), and
 * intermediates/ holding int1.pem, int1-expired.pem, int1-decoy.pem,
 * int2.der, int1-cross.p7b and a README.txt that is no certificate.
 *
 * Every function aborts the test program (a message on stderr, then abort())
 * on an OpenSSL or I/O failure: a test PKI that cannot be made is a broken
 * test, not a case to handle.
 */
#ifndef CHAINFIX_TESTPKI_H
#define CHAINFIX_TESTPKI_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* testpki_key_rsa(bits) / testpki_key_ec(): a new key; EVP_PKEY_free() it. */
EVP_PKEY *testpki_key_rsa(unsigned bits);
EVP_PKEY *testpki_key_ec(void);

/* What testpki_cert() makes. */
struct testpki_certspec {
	const char	*cn;		/* subject CN (the only RDN) */
	const char	*subject;	/* or a full "/O=x/CN=y" name; wins over cn */
	EVP_PKEY	*key;		/* subject's key (required) */
	X509		*issuer;	/* NULL: self-signed */
	EVP_PKEY	*issuer_key;	/* required when issuer is set */
	long		 not_before;	/* seconds from now (e.g. -86400) */
	long		 not_after;	/* seconds from now (e.g. 365 * 86400) */
	int		 ca;		/* basicConstraints CA:TRUE + keyCertSign */
	int		 server;	/* extendedKeyUsage serverAuth */
	const char	*san;		/* "DNS:a,IP:127.0.0.1" or NULL */
	const char	*aia;		/* caIssuers URI or NULL */
	const EVP_MD	*md;		/* NULL: SHA-256 */
	int		 no_keyid;	/* leave out SKI/AKI */
};

#define TESTPKI_DAY	86400L

/* testpki_cert(spec): a new signed certificate; X509_free() it. */
X509 *testpki_cert(const struct testpki_certspec *spec);

/*
 * Writers.  Each creates (or truncates) path.  A NULL-terminated list of
 * certificates is written in the given order.
 */
/* PEM certificates, then the key if key is not NULL (PKCS#8, encrypted
 * with AES-256 if pass is not NULL). */
void testpki_write_pem(const char *path, X509 *const *certs, EVP_PKEY *key,
    const char *pass);
/* The key alone: PEM PKCS#8 (encrypted if pass), or DER PKCS#8 if der. */
void testpki_write_key(const char *path, EVP_PKEY *key, const char *pass,
    int der);
/* The key alone as "traditional" PEM (PKCS#1 for RSA, SEC1 for EC). */
void testpki_write_key_legacy(const char *path, EVP_PKEY *key);
/* One certificate as DER. */
void testpki_write_der(const char *path, X509 *x);
/* PKCS#7 signed-data holding only certificates, DER or PEM. */
void testpki_write_p7(const char *path, X509 *const *certs, int pem);
/*
 * PKCS#12: certs in the given order; the one matching key (if any) gets the
 * key's localKeyID.  AES-256-CBC/PBKDF2 encryption and an HMAC-SHA256 MAC,
 * so the default provider reads it.
 */
void testpki_write_p12(const char *path, X509 *const *certs, EVP_PKEY *key,
    const char *pass);
/* Arbitrary bytes. */
void testpki_write_file(const char *path, const void *data, size_t len);

/* The PKI above. */
struct testpki {
	EVP_PKEY	*root_key, *root_old_key, *int1_key, *decoy_key;
	EVP_PKEY	*int2_key, *leaf_key, *leaf2_key, *self_key;
	X509		*root, *root_old, *int1, *int1_cross, *int1_expired;
	X509		*int1_decoy, *int2, *leaf, *leaf2, *self;
};

/* testpki_new(): generate it; testpki_free() frees it (NULL is a no-op). */
struct testpki *testpki_new(void);
void testpki_free(struct testpki *pki);

/* testpki_write(pki, dir): create dir if needed and write the files above. */
void testpki_write(const struct testpki *pki, const char *dir);

/*
 * testpki_write_fillers(pki, dir, n): write n more CA certificates into dir
 * (filler-NNNNN.pem), none of them on any path of pki: issued by a
 * "chainfix filler CA" (filler-ca.pem, written too, trusted by nothing),
 * every 100th one named "chainfix test int1" (a decoy).  For tests and
 * benchmarks of a large intermediates directory.
 */
void testpki_write_fillers(const struct testpki *pki, const char *dir,
    size_t n);

/*
 * Test helpers.
 */
/* testpki_tmpdir(): a new directory under $TMPDIR (or /tmp); free() it. */
char *testpki_tmpdir(void);
/* testpki_rmtree(dir): remove dir and everything under it. */
void testpki_rmtree(const char *dir);
/* testpki_path(dir, name): "dir/name" in a new string; free() it. */
char *testpki_path(const char *dir, const char *name);
/* testpki_mkdir(dir, name): create dir/name; returns the path; free() it. */
char *testpki_mkdir(const char *dir, const char *name);

/*
 * testpki_capture_start() / testpki_capture_end(): redirect stderr (fd 2)
 * to a temporary file and back; _end returns what was written (free() it).
 * Not nestable.
 */
void testpki_capture_start(void);
char *testpki_capture_end(void);

/*
 * testpki_openssl_verify(root, untrusted, leaf): run
 * `openssl verify -CAfile root -untrusted untrusted leaf` (untrusted may be
 * NULL); returns its exit status (0 = verified), or -1 if it could not run.
 */
int testpki_openssl_verify(const char *root, const char *untrusted,
    const char *leaf);

/*
 * testpki_http_server(dir, pid): start `python3 -m http.server` serving dir
 * on 127.0.0.1, on a port it picks itself; returns that port and its pid
 * in *pid (stop it with testpki_http_stop()).  Aborts if it cannot start.
 */
#include <sys/types.h>
int testpki_http_server(const char *dir, pid_t *pid);
void testpki_http_stop(pid_t pid);

/*
 * assert_contains(hay, needle): fail the cmocka test, showing both, unless
 * the string hay contains needle.
 */
#define assert_contains(hay, needle) do {				\
	if (strstr((hay), (needle)) == NULL)				\
		fail_msg("\"%s\" not found in:\n%s", (needle), (hay));	\
} while (0)

/* testpki_set_has(set, x): 1 if set holds a certificate equal to x. */
struct certload_set;
int testpki_set_has(const struct certload_set *set, X509 *x);

/*
 * testpki_x509_verify(root, untrusted, leaf): the same with
 * X509_verify_cert(): only root trusted, only untrusted (NULL-terminated,
 * may be NULL) as the pool.  Returns 1 verified, 0 not.
 */
int testpki_x509_verify(X509 *root, X509 *const *untrusted, X509 *leaf);

/*
 * testpki_handshake(c, s): run the TLS handshake of client c and server s
 * over a new BIO pair (each SSL takes its end).  Returns 1 if both ends
 * finished, 0 if either failed.
 */
int testpki_handshake(SSL *c, SSL *s);

#endif /* CHAINFIX_TESTPKI_H */
