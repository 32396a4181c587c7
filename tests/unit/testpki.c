/*
 * testpki.c: generate the tests' PKI with the OpenSSL 3 API.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <signal.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certload.h"
#include "testpki.h"

static void testpki_die(const char *, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/* A PKI that cannot be made is a broken test: say why and stop. */
static void
testpki_die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "testpki: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	ERR_print_errors_fp(stderr);
	abort();
}

EVP_PKEY *
testpki_key_rsa(unsigned bits)
{
	EVP_PKEY *k;

	if ((k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits)) == NULL)
		testpki_die("RSA-%u keygen", bits);
	return k;
}

EVP_PKEY *
testpki_key_ec(void)
{
	EVP_PKEY *k;

	if ((k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256")) == NULL)
		testpki_die("P-256 keygen");
	return k;
}

static void
testpki_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext;

	if ((ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value)) == NULL)
		testpki_die("extension %s = %s", OBJ_nid2sn(nid), value);
	if (!X509_add_ext(x, ext, -1))
		testpki_die("X509_add_ext");
	X509_EXTENSION_free(ext);
}

/* "/O=a/CN=b" or a bare CN into a new X509_NAME. */
static X509_NAME *
testpki_name(const struct testpki_certspec *s)
{
	X509_NAME *n;
	char *copy, *field, *save = NULL, *eq;

	if ((n = X509_NAME_new()) == NULL)
		testpki_die("X509_NAME_new");
	if (s->subject == NULL) {
		if (!X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8,
		    (const unsigned char *)s->cn, -1, -1, 0))
			testpki_die("CN %s", s->cn);
		return n;
	}
	if ((copy = strdup(s->subject)) == NULL)
		testpki_die("strdup");
	for (field = strtok_r(copy, "/", &save); field != NULL;
	    field = strtok_r(NULL, "/", &save)) {
		if ((eq = strchr(field, '=')) == NULL)
			testpki_die("bad subject %s", s->subject);
		*eq++ = '\0';
		if (!X509_NAME_add_entry_by_txt(n, field, MBSTRING_UTF8,
		    (const unsigned char *)eq, -1, -1, 0))
			testpki_die("subject field %s", field);
	}
	free(copy);
	return n;
}

X509 *
testpki_cert(const struct testpki_certspec *s)
{
	X509 *x;
	X509_NAME *name;
	X509V3_CTX ctx;
	ASN1_INTEGER *serial;
	uint64_t sn;
	EVP_PKEY *signer = s->issuer != NULL ? s->issuer_key : s->key;
	char buf[512];

	if (s->key == NULL || signer == NULL)
		testpki_die("certspec without a key");
	if ((x = X509_new()) == NULL)
		testpki_die("X509_new");
	if (!X509_set_version(x, X509_VERSION_3))
		testpki_die("X509_set_version");
	/* A random positive 63-bit serial: twins must differ. */
	if (RAND_bytes((unsigned char *)&sn, sizeof(sn)) != 1)
		testpki_die("RAND_bytes");
	sn = (sn >> 1) | 1;
	serial = X509_get_serialNumber(x);
	if (!ASN1_INTEGER_set_uint64(serial, sn))
		testpki_die("serial");
	name = testpki_name(s);
	if (!X509_set_subject_name(x, name))
		testpki_die("subject");
	if (!X509_set_issuer_name(x, s->issuer != NULL ?
	    X509_get_subject_name(s->issuer) : name))
		testpki_die("issuer");
	X509_NAME_free(name);
	if (X509_gmtime_adj(X509_getm_notBefore(x), s->not_before) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), s->not_after) == NULL)
		testpki_die("validity");
	if (!X509_set_pubkey(x, s->key))
		testpki_die("X509_set_pubkey");

	X509V3_set_ctx(&ctx, s->issuer != NULL ? s->issuer : x, x, NULL,
	    NULL, 0);
	testpki_ext(x, &ctx, NID_basic_constraints,
	    s->ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	if (s->ca)
		testpki_ext(x, &ctx, NID_key_usage,
		    "critical,keyCertSign,cRLSign,digitalSignature");
	else if (EVP_PKEY_is_a(s->key, "RSA"))
		testpki_ext(x, &ctx, NID_key_usage,
		    "critical,digitalSignature,keyEncipherment");
	else
		testpki_ext(x, &ctx, NID_key_usage,
		    "critical,digitalSignature");
	if (s->server)
		testpki_ext(x, &ctx, NID_ext_key_usage, "serverAuth");
	if (s->san != NULL)
		testpki_ext(x, &ctx, NID_subject_alt_name, s->san);
	if (s->aia != NULL) {
		snprintf(buf, sizeof(buf), "caIssuers;URI:%s", s->aia);
		testpki_ext(x, &ctx, NID_info_access, buf);
	}
	if (!s->no_keyid) {
		testpki_ext(x, &ctx, NID_subject_key_identifier, "hash");
		/* A self-signed root needs no AKI; a child's names its
		 * issuer's SKI, which is what tells twins from decoys. */
		if (s->issuer != NULL)
			testpki_ext(x, &ctx, NID_authority_key_identifier,
			    "keyid:always");
	}
	if (X509_sign(x, signer, s->md != NULL ? s->md : EVP_sha256()) <= 0)
		testpki_die("X509_sign %s", s->cn != NULL ? s->cn : s->subject);
	return x;
}

static BIO *
testpki_open(const char *path)
{
	BIO *b;

	if ((b = BIO_new_file(path, "wb")) == NULL)
		testpki_die("cannot write %s", path);
	return b;
}

static void
testpki_close(BIO *b, const char *path)
{
	if (BIO_flush(b) != 1)
		testpki_die("flush %s", path);
	BIO_free(b);
}

static void
testpki_pem_key(BIO *b, EVP_PKEY *key, const char *pass, const char *path)
{
	if (!PEM_write_bio_PKCS8PrivateKey(b, key,
	    pass != NULL ? EVP_aes_256_cbc() : NULL, pass,
	    pass != NULL ? (int)strlen(pass) : 0, NULL, NULL))
		testpki_die("key to %s", path);
}

void
testpki_write_pem(const char *path, X509 *const *certs, EVP_PKEY *key,
    const char *pass)
{
	BIO *b = testpki_open(path);

	for (; certs != NULL && *certs != NULL; certs++)
		if (!PEM_write_bio_X509(b, *certs))
			testpki_die("PEM to %s", path);
	if (key != NULL)
		testpki_pem_key(b, key, pass, path);
	testpki_close(b, path);
}

void
testpki_write_key(const char *path, EVP_PKEY *key, const char *pass, int der)
{
	BIO *b = testpki_open(path);

	if (!der)
		testpki_pem_key(b, key, pass, path);
	else if (!i2d_PKCS8PrivateKey_bio(b, key,
	    pass != NULL ? EVP_aes_256_cbc() : NULL, pass,
	    pass != NULL ? (int)strlen(pass) : 0, NULL, NULL))
		testpki_die("DER key to %s", path);
	testpki_close(b, path);
}

void
testpki_write_key_legacy(const char *path, EVP_PKEY *key)
{
	BIO *b = testpki_open(path);

	if (!PEM_write_bio_PrivateKey_traditional(b, key, NULL, NULL, 0,
	    NULL, NULL))
		testpki_die("traditional key to %s", path);
	testpki_close(b, path);
}

void
testpki_write_der(const char *path, X509 *x)
{
	BIO *b = testpki_open(path);

	if (!i2d_X509_bio(b, x))
		testpki_die("DER to %s", path);
	testpki_close(b, path);
}

void
testpki_write_p7(const char *path, X509 *const *certs, int pem)
{
	PKCS7 *p7;
	BIO *b;

	/* A "degenerate" signed-data: certificates, no signers, which is
	 * what .p7b/.p7c files exported by Windows hold. */
	if ((p7 = PKCS7_new()) == NULL ||
	    !PKCS7_set_type(p7, NID_pkcs7_signed) ||
	    !PKCS7_content_new(p7, NID_pkcs7_data))
		testpki_die("PKCS7 for %s", path);
	for (; certs != NULL && *certs != NULL; certs++)
		if (!PKCS7_add_certificate(p7, *certs))
			testpki_die("PKCS7_add_certificate");
	b = testpki_open(path);
	if (!(pem ? PEM_write_bio_PKCS7(b, p7) : i2d_PKCS7_bio(b, p7)))
		testpki_die("PKCS7 to %s", path);
	testpki_close(b, path);
	PKCS7_free(p7);
}

void
testpki_write_p12(const char *path, X509 *const *certs, EVP_PKEY *key,
    const char *pass)
{
	STACK_OF(PKCS12_SAFEBAG) *certbags = NULL, *keybags = NULL;
	STACK_OF(PKCS7) *safes = NULL;
	PKCS12_SAFEBAG *bag;
	PKCS12 *p12;
	unsigned char keyid[EVP_MAX_MD_SIZE];
	unsigned int keyidlen = 0;
	BIO *b;

	/* Built bag by bag rather than with PKCS12_create() so the
	 * certificates keep the caller's (possibly shuffled) order. */
	for (; certs != NULL && *certs != NULL; certs++) {
		if ((bag = PKCS12_add_cert(&certbags, *certs)) == NULL)
			testpki_die("PKCS12_add_cert");
		if (key != NULL && X509_check_private_key(*certs, key)) {
			if (!X509_digest(*certs, EVP_sha256(), keyid,
			    &keyidlen) ||
			    !PKCS12_add_localkeyid(bag, keyid, (int)keyidlen))
				testpki_die("localKeyID");
		}
	}
	ERR_clear_error();	/* X509_check_private_key() mismatches */
	if (certbags != NULL && !PKCS12_add_safe(&safes, certbags,
	    NID_aes_256_cbc, PKCS12_DEFAULT_ITER, pass))
		testpki_die("PKCS12_add_safe certs");
	if (key != NULL) {
		if ((bag = PKCS12_add_key(&keybags, key, 0,
		    PKCS12_DEFAULT_ITER, NID_aes_256_cbc, pass)) == NULL)
			testpki_die("PKCS12_add_key");
		if (keyidlen > 0 &&
		    !PKCS12_add_localkeyid(bag, keyid, (int)keyidlen))
			testpki_die("localKeyID");
		if (!PKCS12_add_safe(&safes, keybags, -1, 0, NULL))
			testpki_die("PKCS12_add_safe key");
	}
	if ((p12 = PKCS12_add_safes(safes, 0)) == NULL)
		testpki_die("PKCS12_add_safes");
	/* HMAC-SHA256 rather than the SHA-1 default. */
	if (!PKCS12_set_mac(p12, pass, -1, NULL, 0, PKCS12_DEFAULT_ITER,
	    EVP_sha256()))
		testpki_die("PKCS12_set_mac");
	b = testpki_open(path);
	if (!i2d_PKCS12_bio(b, p12))
		testpki_die("PKCS12 to %s", path);
	testpki_close(b, path);
	PKCS12_free(p12);
	sk_PKCS7_pop_free(safes, PKCS7_free);
	sk_PKCS12_SAFEBAG_pop_free(certbags, PKCS12_SAFEBAG_free);
	sk_PKCS12_SAFEBAG_pop_free(keybags, PKCS12_SAFEBAG_free);
}

void
testpki_write_file(const char *path, const void *data, size_t len)
{
	FILE *f;

	if ((f = fopen(path, "wb")) == NULL)
		testpki_die("cannot write %s: %s", path, strerror(errno));
	if (len > 0 && fwrite(data, 1, len, f) != len)
		testpki_die("write %s", path);
	if (fclose(f) != 0)
		testpki_die("close %s", path);
}

struct testpki *
testpki_new(void)
{
	struct testpki *p;
	struct testpki_certspec s;
	const long year = 365 * TESTPKI_DAY;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		testpki_die("calloc");
	/* P-256 for the CAs (fast to make), RSA-2048 for the servers. */
	p->root_key = testpki_key_ec();
	p->root_old_key = testpki_key_ec();
	p->int1_key = testpki_key_ec();
	p->decoy_key = testpki_key_ec();
	p->int2_key = testpki_key_ec();
	p->leaf_key = testpki_key_rsa(2048);
	p->leaf2_key = testpki_key_ec();
	p->self_key = testpki_key_rsa(2048);

	memset(&s, 0, sizeof(s));
	s.not_before = -TESTPKI_DAY;
	s.not_after = year;
	s.ca = 1;
	s.cn = "chainfix test root";
	s.key = p->root_key;
	p->root = testpki_cert(&s);

	s.cn = "chainfix test old root";
	s.key = p->root_old_key;
	p->root_old = testpki_cert(&s);

	s.cn = "chainfix test int1";
	s.key = p->int1_key;
	s.issuer = p->root;
	s.issuer_key = p->root_key;
	p->int1 = testpki_cert(&s);

	s.issuer = p->root_old;
	s.issuer_key = p->root_old_key;
	p->int1_cross = testpki_cert(&s);

	s.issuer = p->root;
	s.issuer_key = p->root_key;
	s.not_before = -400 * TESTPKI_DAY;
	s.not_after = -30 * TESTPKI_DAY;
	p->int1_expired = testpki_cert(&s);
	s.not_before = -TESTPKI_DAY;
	s.not_after = year;

	s.key = p->decoy_key;
	p->int1_decoy = testpki_cert(&s);

	s.cn = "chainfix test int2";
	s.key = p->int2_key;
	s.issuer = p->int1;
	s.issuer_key = p->int1_key;
	p->int2 = testpki_cert(&s);

	s.ca = 0;
	s.server = 1;
	s.cn = "localhost";
	s.key = p->leaf_key;
	s.issuer = p->int2;
	s.issuer_key = p->int2_key;
	s.san = "DNS:localhost,IP:127.0.0.1,IP:::1";
	s.aia = "http://pki.invalid/int2.cer";
	p->leaf = testpki_cert(&s);

	s.cn = "other.test";
	s.key = p->leaf2_key;
	s.san = "DNS:other.test,DNS:*.other.test";
	s.aia = NULL;
	p->leaf2 = testpki_cert(&s);

	s.cn = "localhost";
	s.key = p->self_key;
	s.issuer = NULL;
	s.issuer_key = NULL;
	s.san = "DNS:localhost,IP:127.0.0.1";
	p->self = testpki_cert(&s);
	return p;
}

void
testpki_free(struct testpki *p)
{
	if (p == NULL)
		return;
	EVP_PKEY_free(p->root_key);
	EVP_PKEY_free(p->root_old_key);
	EVP_PKEY_free(p->int1_key);
	EVP_PKEY_free(p->decoy_key);
	EVP_PKEY_free(p->int2_key);
	EVP_PKEY_free(p->leaf_key);
	EVP_PKEY_free(p->leaf2_key);
	EVP_PKEY_free(p->self_key);
	X509_free(p->root);
	X509_free(p->root_old);
	X509_free(p->int1);
	X509_free(p->int1_cross);
	X509_free(p->int1_expired);
	X509_free(p->int1_decoy);
	X509_free(p->int2);
	X509_free(p->leaf);
	X509_free(p->leaf2);
	X509_free(p->self);
	free(p);
}

char *
testpki_path(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0)
		testpki_die("asprintf");
	return p;
}

char *
testpki_mkdir(const char *dir, const char *name)
{
	char *p = testpki_path(dir, name);

	if (mkdir(p, 0755) == -1 && errno != EEXIST)
		testpki_die("mkdir %s: %s", p, strerror(errno));
	return p;
}

/* Write one certificate as PEM into dir/name. */
static void
testpki_put1(const char *dir, const char *name, X509 *x)
{
	X509 *certs[2] = { x, NULL };
	char *path = testpki_path(dir, name);

	testpki_write_pem(path, certs, NULL, NULL);
	free(path);
}

static void
testpki_putkey(const char *dir, const char *name, EVP_PKEY *k)
{
	char *path = testpki_path(dir, name);

	testpki_write_key(path, k, NULL, 0);
	free(path);
}

void
testpki_write(const struct testpki *p, const char *dir)
{
	static const char readme[] =
	    "These are the intermediates of the chainfix test PKI.\n";
	char *sub, *path;

	if (mkdir(dir, 0755) == -1 && errno != EEXIST)
		testpki_die("mkdir %s: %s", dir, strerror(errno));
	testpki_put1(dir, "root.pem", p->root);
	testpki_putkey(dir, "root.key", p->root_key);
	testpki_put1(dir, "root-old.pem", p->root_old);
	testpki_putkey(dir, "root-old.key", p->root_old_key);
	testpki_put1(dir, "int1.pem", p->int1);
	testpki_putkey(dir, "int1.key", p->int1_key);
	testpki_put1(dir, "int1-cross.pem", p->int1_cross);
	testpki_put1(dir, "int1-expired.pem", p->int1_expired);
	testpki_put1(dir, "int1-decoy.pem", p->int1_decoy);
	testpki_putkey(dir, "int1-decoy.key", p->decoy_key);
	testpki_put1(dir, "int2.pem", p->int2);
	testpki_putkey(dir, "int2.key", p->int2_key);
	testpki_put1(dir, "leaf.pem", p->leaf);
	testpki_putkey(dir, "leaf.key", p->leaf_key);
	testpki_put1(dir, "leaf2.pem", p->leaf2);
	testpki_putkey(dir, "leaf2.key", p->leaf2_key);
	testpki_put1(dir, "self.pem", p->self);
	testpki_putkey(dir, "self.key", p->self_key);
	{
		X509 *full[] = { p->leaf, p->int2, p->int1, NULL };
		X509 *pfx[] = { p->root, p->int1, p->leaf, p->int2, NULL };

		path = testpki_path(dir, "leaf-full.pem");
		testpki_write_pem(path, full, NULL, NULL);
		free(path);
		path = testpki_path(dir, "leaf.pfx");
		testpki_write_p12(path, pfx, p->leaf_key, "secret");
		free(path);
	}

	sub = testpki_mkdir(dir, "intermediates");
	testpki_put1(sub, "int1.pem", p->int1);
	testpki_put1(sub, "int1-expired.pem", p->int1_expired);
	testpki_put1(sub, "int1-decoy.pem", p->int1_decoy);
	path = testpki_path(sub, "int2.der");
	testpki_write_der(path, p->int2);
	free(path);
	{
		X509 *cross[] = { p->int1_cross, NULL };

		path = testpki_path(sub, "int1-cross.p7b");
		testpki_write_p7(path, cross, 0);
		free(path);
	}
	path = testpki_path(sub, "README.txt");
	testpki_write_file(path, readme, sizeof(readme) - 1);
	free(path);
	free(sub);
}

char *
testpki_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *p;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	if (asprintf(&p, "%s/chainfix-test.XXXXXX", base) < 0)
		testpki_die("asprintf");
	if (mkdtemp(p) == NULL)
		testpki_die("mkdtemp %s: %s", p, strerror(errno));
	return p;
}

static int
testpki_rm1(const char *path, const struct stat *st, int flag,
    struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	if (remove(path) == -1)
		fprintf(stderr, "testpki: remove %s: %s\n", path,
		    strerror(errno));
	return 0;
}

void
testpki_rmtree(const char *dir)
{
	if (dir != NULL)
		nftw(dir, testpki_rm1, 16, FTW_DEPTH | FTW_PHYS);
}

static int capture_saved = -1;
static int capture_fd = -1;

void
testpki_capture_start(void)
{
	char *path = testpki_tmpdir();
	char *file = testpki_path(path, "stderr");

	fflush(stderr);
	if ((capture_fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1)
		testpki_die("open %s: %s", file, strerror(errno));
	/* The file lives on through the descriptor only. */
	unlink(file);
	rmdir(path);
	free(file);
	free(path);
	if ((capture_saved = dup(STDERR_FILENO)) == -1 ||
	    dup2(capture_fd, STDERR_FILENO) == -1)
		testpki_die("dup2: %s", strerror(errno));
}

char *
testpki_capture_end(void)
{
	char *buf;
	off_t len;
	ssize_t n;

	fflush(stderr);
	if (dup2(capture_saved, STDERR_FILENO) == -1)
		testpki_die("dup2: %s", strerror(errno));
	close(capture_saved);
	capture_saved = -1;
	if ((len = lseek(capture_fd, 0, SEEK_END)) == -1)
		testpki_die("lseek: %s", strerror(errno));
	if ((buf = malloc((size_t)len + 1)) == NULL)
		testpki_die("malloc");
	n = pread(capture_fd, buf, (size_t)len, 0);
	buf[n > 0 ? n : 0] = '\0';
	close(capture_fd);
	capture_fd = -1;
	/* Echo it so a failing test's log shows what was said. */
	fputs(buf, stderr);
	return buf;
}

int
testpki_openssl_verify(const char *root, const char *untrusted,
    const char *leaf)
{
	char *cmd;
	int r;

	/* Paths come from mkdtemp() and fixed names: no quotes in them. */
	if (untrusted != NULL)
		r = asprintf(&cmd, "openssl verify -CAfile '%s' "
		    "-untrusted '%s' '%s' 1>&2", root, untrusted, leaf);
	else
		r = asprintf(&cmd, "openssl verify -CAfile '%s' '%s' 1>&2",
		    root, leaf);
	if (r < 0)
		testpki_die("asprintf");
	fflush(stderr);
	r = system(cmd);
	free(cmd);
	if (r == -1 || !WIFEXITED(r))
		return -1;
	return WEXITSTATUS(r);
}

int
testpki_x509_verify(X509 *root, X509 *const *untrusted, X509 *leaf)
{
	X509_STORE *store;
	X509_STORE_CTX *ctx;
	STACK_OF(X509) *pool;
	int ok;

	if ((store = X509_STORE_new()) == NULL ||
	    !X509_STORE_add_cert(store, root) ||
	    (pool = sk_X509_new_null()) == NULL ||
	    (ctx = X509_STORE_CTX_new()) == NULL)
		testpki_die("X509_STORE");
	for (; untrusted != NULL && *untrusted != NULL; untrusted++)
		if (!sk_X509_push(pool, *untrusted))
			testpki_die("sk_X509_push");
	if (!X509_STORE_CTX_init(ctx, store, leaf, pool))
		testpki_die("X509_STORE_CTX_init");
	ok = X509_verify_cert(ctx) == 1;
	if (!ok)
		fprintf(stderr, "testpki: X509_verify_cert: %s\n",
		    X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(ctx)));
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	sk_X509_free(pool);
	X509_STORE_free(store);
	return ok;
}

void
testpki_write_fillers(const struct testpki *p, const char *dir, size_t n)
{
	struct testpki_certspec s;
	EVP_PKEY *k = testpki_key_ec();
	X509 *ca, *x;
	char cn[64], name[64];
	size_t i;

	(void)p;
	memset(&s, 0, sizeof(s));
	s.cn = "chainfix filler CA";
	s.key = k;
	s.not_before = -TESTPKI_DAY;
	s.not_after = 365 * TESTPKI_DAY;
	s.ca = 1;
	ca = testpki_cert(&s);
	testpki_put1(dir, "filler-ca.pem", ca);
	s.issuer = ca;
	s.issuer_key = k;
	for (i = 0; i < n; i++) {
		/* Every 100th one a decoy: int1's name, another key. */
		if (i % 100 == 99)
			snprintf(cn, sizeof(cn), "chainfix test int1");
		else
			snprintf(cn, sizeof(cn), "chainfix filler %zu", i);
		s.cn = cn;
		x = testpki_cert(&s);
		snprintf(name, sizeof(name), "filler-%05zu.pem", i);
		testpki_put1(dir, name, x);
		X509_free(x);
	}
	X509_free(ca);
	EVP_PKEY_free(k);
}

int
testpki_set_has(const struct certload_set *set, X509 *x)
{
	size_t i;

	for (i = 0; i < certload_set_count(set); i++)
		if (X509_cmp(certload_set_cert(set, i), x) == 0)
			return 1;
	return 0;
}

int
testpki_http_server(const char *dir, pid_t *pid)
{
	char line[512];
	const char *p;
	FILE *f;
	int fds[2], port = 0;

	if (pipe(fds) == -1)
		testpki_die("pipe");
	if ((*pid = fork()) == -1)
		testpki_die("fork");
	if (*pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(fds[1], 1);
		if (null != -1)
			dup2(null, 2);	/* its request log */
		close(fds[0]);
		close(fds[1]);
		/* -u: the "Serving HTTP on ... port N" line must not sit in a
		 * buffer; port 0: the kernel picks a free one. */
		execlp("python3", "python3", "-u", "-m", "http.server", "0",
		    "--bind", "127.0.0.1", "--directory", dir, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	if ((f = fdopen(fds[0], "r")) == NULL)
		testpki_die("fdopen");
	while (fgets(line, sizeof(line), f) != NULL)
		if ((p = strstr(line, " port ")) != NULL) {
			port = atoi(p + 6);
			break;
		}
	/* The server keeps writing its log to the pipe: leave it open to
	 * it, closed here (its writes then fail quietly, EPIPE). */
	fclose(f);
	if (port <= 0)
		testpki_die("python3 -m http.server did not start");
	return port;
}

void
testpki_http_stop(pid_t pid)
{
	int st;

	kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
}

int
testpki_handshake(SSL *c, SSL *s)
{
	BIO *cb, *sb;
	int i, cr = 0, sr = 0;

	if (BIO_new_bio_pair(&cb, 0, &sb, 0) != 1)
		return 0;
	SSL_set_bio(c, cb, cb);
	SSL_set_bio(s, sb, sb);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	/* Each side until it waits for the other, a bounded number of turns. */
	for (i = 0; i < 100 && (cr != 1 || sr != 1); i++) {
		if (cr != 1 && (cr = SSL_do_handshake(c)) != 1 &&
		    SSL_get_error(c, cr) != SSL_ERROR_WANT_READ)
			break;
		if (sr != 1 && (sr = SSL_do_handshake(s)) != 1 &&
		    SSL_get_error(s, sr) != SSL_ERROR_WANT_READ)
			break;
	}
	return cr == 1 && sr == 1;
}
