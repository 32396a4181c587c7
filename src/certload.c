/*
 * certload.c: certificates and keys in every format an administrator is
 * handed, recognised by their content.
 *
 * The loaders below fill a short reason string instead of logging, so that
 * one failure gives exactly one line: an error for a file the configuration
 * names, a "skipped" warning for a file found in a directory.
 */
#include <sys/types.h>

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/pkcs7.h>
#include <openssl/provider.h>
#include <openssl/sha.h>
#include <openssl/x509.h>

#include "certload.h"
#include "file.h"
#include "log.h"

/* Nothing an administrator is handed is this big; refuse to slurp more. */
#define CERTLOAD_MAXFILE	(16 * 1024 * 1024)
#define CERTLOAD_MAXPASS	4096

struct certload_entry {
	X509		*x;
	char		*source;
	unsigned char	 md[SHA_DIGEST_LENGTH];	/* X509_cmp()'s digest */
};

/*
 * The entries, and an open-addressing index of them by digest, so adding
 * the ten thousand files of a big intermediates directory (each checked
 * for a duplicate) is not quadratic.
 */
struct certload_set {
	struct certload_entry	*v;
	size_t			 n, cap;
	size_t			*slots;		/* entry index + 1; 0 free */
	size_t			 nslots;	/* a power of two, or 0 */
};

/* What the passphrase callback was asked, to tell "wrong" from "missing". */
struct certload_pw {
	const char	*pw;
	int		 asked;
};

struct certload_set *
certload_set_new(void)
{
	return calloc(1, sizeof(struct certload_set));
}

void
certload_set_free(struct certload_set *set)
{
	size_t i;

	if (set == NULL)
		return;
	for (i = 0; i < set->n; i++) {
		X509_free(set->v[i].x);
		free(set->v[i].source);
	}
	free(set->v);
	free(set->slots);
	free(set);
}

size_t
certload_set_count(const struct certload_set *set)
{
	return set != NULL ? set->n : 0;
}

X509 *
certload_set_cert(const struct certload_set *set, size_t i)
{
	return i < set->n ? set->v[i].x : NULL;
}

const char *
certload_set_source(const struct certload_set *set, size_t i)
{
	return i < set->n ? set->v[i].source : NULL;
}

/* The first slot for digest md: its first bytes are already random. */
static size_t
certload_slot0(const struct certload_set *set, const unsigned char *md)
{
	size_t h;

	memcpy(&h, md, sizeof(h));
	return h & (set->nslots - 1);
}

/* Index every entry again in a table of nslots (a power of two). */
static int
certload_reindex(struct certload_set *set, size_t nslots)
{
	size_t *slots, i, j;

	if ((slots = calloc(nslots, sizeof(*slots))) == NULL)
		return -1;
	free(set->slots);
	set->slots = slots;
	set->nslots = nslots;
	for (i = 0; i < set->n; i++) {
		for (j = certload_slot0(set, set->v[i].md); slots[j] != 0;
		    j = (j + 1) & (nslots - 1))
			;
		slots[j] = i + 1;
	}
	return 0;
}

/* Where x is in set (its digest md), or -1. */
static ssize_t
certload_lookup(const struct certload_set *set, X509 *x,
    const unsigned char *md)
{
	size_t j, e;

	if (set->nslots == 0)
		return -1;
	for (j = certload_slot0(set, md); (e = set->slots[j]) != 0;
	    j = (j + 1) & (set->nslots - 1))
		if (memcmp(set->v[e - 1].md, md, SHA_DIGEST_LENGTH) == 0 &&
		    X509_cmp(set->v[e - 1].x, x) == 0)
			return (ssize_t)(e - 1);
	return -1;
}

/* X509_cmp() compares this digest first (cached in x), then the DER. */
static int
certload_digest(X509 *x, unsigned char *md)
{
	unsigned int len = SHA_DIGEST_LENGTH;

	if (!X509_digest(x, EVP_sha1(), md, &len) || len != SHA_DIGEST_LENGTH) {
		ERR_clear_error();
		return -1;
	}
	return 0;
}

ssize_t
certload_set_find(const struct certload_set *set, X509 *x)
{
	unsigned char md[SHA_DIGEST_LENGTH];

	if (set == NULL || certload_digest(x, md) == -1)
		return -1;
	return certload_lookup(set, x, md);
}

int
certload_set_add(struct certload_set *set, X509 *x, const char *source)
{
	struct certload_entry *nv;
	unsigned char md[SHA_DIGEST_LENGTH];
	size_t ncap, j;
	char *src;

	if (certload_digest(x, md) == -1)
		return -1;
	if (certload_lookup(set, x, md) >= 0)
		return 0;
	if (set->n == set->cap) {
		ncap = set->cap ? set->cap * 2 : 16;
		if ((nv = reallocarray(set->v, ncap, sizeof(*nv))) == NULL)
			return -1;
		set->v = nv;
		set->cap = ncap;
	}
	/* At most half full, so a probe ends soon. */
	if ((set->n + 1) * 2 > set->nslots &&
	    certload_reindex(set, set->nslots ? set->nslots * 2 : 32) == -1)
		return -1;
	if ((src = strdup(source != NULL ? source : "-")) == NULL)
		return -1;
	if (!X509_up_ref(x)) {
		free(src);
		return -1;
	}
	set->v[set->n].x = x;
	set->v[set->n].source = src;
	memcpy(set->v[set->n].md, md, sizeof(md));
	for (j = certload_slot0(set, md); set->slots[j] != 0;
	    j = (j + 1) & (set->nslots - 1))
		;
	set->slots[j] = set->n + 1;
	set->n++;
	return 1;
}

int
certload_read_password(const char *path, char **pw)
{
	struct stat st;
	char why[256];
	FILE *f;
	char *buf;
	size_t n;

	*pw = NULL;
	if ((f = file_fopen(path, &st, why, sizeof(why))) == NULL) {
		log_errx("%s: cannot read password file: %s", path, why);
		return -1;
	}
	(void)file_warn_exposed(path, &st, "password file", 1);
	if ((buf = calloc(1, CERTLOAD_MAXPASS + 1)) == NULL) {
		fclose(f);
		log_errx("%s: out of memory", path);
		return -1;
	}
	if (fgets(buf, CERTLOAD_MAXPASS + 1, f) == NULL && ferror(f)) {
		log_err("%s: cannot read password file", path);
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	*pw = buf;
	return 0;
}

void
certload_password_free(char *pw)
{
	if (pw == NULL)
		return;
	OPENSSL_cleanse(pw, strlen(pw));
	free(pw);
}

/*
 * Read the whole file (a regular file only: a FIFO would block); its mode
 * in *st.  On failure a reason in why.
 */
static unsigned char *
certload_slurp(const char *path, size_t *lenp, struct stat *st, char *why,
    size_t whylen)
{
	FILE *f;
	unsigned char *buf = NULL;
	size_t n;

	if ((f = file_fopen(path, st, why, whylen)) == NULL)
		return NULL;
	if (st->st_size > CERTLOAD_MAXFILE) {
		snprintf(why, whylen, "too large (%lld bytes) for a "
		    "certificate file", (long long)st->st_size);
		goto err;
	}
	if ((buf = malloc((size_t)st->st_size + 1)) == NULL) {
		snprintf(why, whylen, "out of memory");
		goto err;
	}
	n = fread(buf, 1, (size_t)st->st_size, f);
	if (ferror(f)) {
		snprintf(why, whylen, "cannot read: %s", strerror(errno));
		goto err;
	}
	if (n == 0) {
		snprintf(why, whylen, "empty file");
		goto err;
	}
	buf[n] = '\0';
	*lenp = n;
	fclose(f);
	return buf;
err:
	free(buf);
	fclose(f);
	return NULL;
}

static int
certload_pwcb(char *buf, int size, int rwflag, void *u)
{
	struct certload_pw *p = u;
	size_t len;

	(void)rwflag;
	p->asked = 1;
	/* Never fall back to prompting on a terminal: a daemon has none. */
	if (p->pw == NULL)
		return -1;
	len = strlen(p->pw);
	if (len > (size_t)size)
		return -1;
	memcpy(buf, p->pw, len);
	return (int)len;
}

/*
 * Decode a private key from buf (PEM, possibly among other PEM blocks, or
 * DER; PKCS#1, PKCS#8 or SEC1; maybe encrypted).  0, or -1 with why.
 */
static int
certload_key_mem(const unsigned char *buf, size_t len, int pem,
    const char *password, EVP_PKEY **key, char *why, size_t whylen)
{
	struct certload_pw pw = { password, 0 };
	OSSL_DECODER_CTX *dctx;
	EVP_PKEY *k = NULL;
	const unsigned char *p = buf;
	size_t left = len;
	BIO *b;

	if (pem) {
		if ((b = BIO_new_mem_buf(buf, (int)len)) == NULL) {
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		/* Skips the certificate blocks before the key. */
		k = PEM_read_bio_PrivateKey(b, NULL, certload_pwcb, &pw);
		BIO_free(b);
	} else {
		dctx = OSSL_DECODER_CTX_new_for_pkey(&k, "DER", NULL, NULL,
		    EVP_PKEY_KEYPAIR, NULL, NULL);
		if (dctx == NULL) {
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		if (!OSSL_DECODER_CTX_set_pem_password_cb(dctx,
		    certload_pwcb, &pw) ||
		    !OSSL_DECODER_from_data(dctx, &p, &left)) {
			EVP_PKEY_free(k);
			k = NULL;
		}
		OSSL_DECODER_CTX_free(dctx);
	}
	if (k == NULL) {
		ERR_clear_error();
		if (pw.asked && password == NULL)
			snprintf(why, whylen, "the private key is encrypted "
			    "and no password was given");
		else if (pw.asked)
			snprintf(why, whylen, "wrong password for the "
			    "private key");
		else
			snprintf(why, whylen, "no private key found (or the "
			    "key is corrupt)");
		return -1;
	}
	*key = k;
	return 0;
}

static int
certload_add_stack(struct certload_set *set, STACK_OF(X509) *sk,
    const char *path, int *found)
{
	int i;

	for (i = 0; i < sk_X509_num(sk); i++) {
		if (certload_set_add(set, sk_X509_value(sk, i), path) < 0)
			return -1;
		(*found)++;
	}
	return 0;
}

/* Certificates of a PKCS#7 signed-data (a .p7b/.p7c). */
static int
certload_p7(PKCS7 *p7, struct certload_set *set, const char *path,
    int *found, char *why, size_t whylen)
{
	STACK_OF(X509) *sk = NULL;

	/*
	 * The content of a ContentInfo is OPTIONAL in ASN.1: a SignedData
	 * without it decodes fine, with the type set and d.ptr NULL.
	 */
	if (p7->d.ptr == NULL) {
		snprintf(why, whylen, "PKCS#7 %s without its content",
		    PKCS7_type_is_signed(p7) ? "signed-data" : "structure");
		return -1;
	}
	if (PKCS7_type_is_signed(p7))
		sk = p7->d.sign->cert;
	else if (PKCS7_type_is_signedAndEnveloped(p7))
		sk = p7->d.signed_and_enveloped->cert;
	if (sk == NULL) {
		snprintf(why, whylen, "PKCS#7 structure without "
		    "certificates");
		return -1;
	}
	if (certload_add_stack(set, sk, path, found) == -1) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	return 0;
}

static pthread_once_t certload_legacy_once = PTHREAD_ONCE_INIT;
static OSSL_PROVIDER *certload_legacy;

static void
certload_legacy_load(void)
{
	/* retain_fallbacks = 1: loading a provider explicitly would
	 * otherwise stop the default one from being loaded on demand. */
	certload_legacy = OSSL_PROVIDER_try_load(NULL, "legacy", 1);
	if (certload_legacy == NULL)
		ERR_clear_error();
	else
		log_debug("loaded the OpenSSL legacy provider for PKCS#12");
}

static int
certload_p12(PKCS12 *p12, const char *password, struct certload_set *set,
    EVP_PKEY **key, const char *path, int *found, char *why, size_t whylen)
{
	const char *pw = password != NULL ? password : "";
	EVP_PKEY *pkey = NULL;
	X509 *cert = NULL;
	STACK_OF(X509) *ca = NULL;
	int ret = -1;

	/*
	 * Check the MAC first so that a wrong password is reported as such
	 * rather than as a decryption failure.  An empty password is
	 * encoded either as no password or as "" depending on the tool that
	 * wrote the file, so try both, as PKCS12_parse() does.
	 */
	if (PKCS12_mac_present(p12)) {
		if (*pw == '\0') {
			if (PKCS12_verify_mac(p12, NULL, 0))
				pw = NULL;
			else if (!PKCS12_verify_mac(p12, "", 0)) {
				snprintf(why, whylen, "wrong password "
				    "(PKCS#12 MAC check failed)%s",
				    password == NULL ? "; no password given" :
				    "");
				goto out;
			}
		} else if (!PKCS12_verify_mac(p12, pw, -1)) {
			snprintf(why, whylen, "wrong password (PKCS#12 MAC "
			    "check failed)");
			goto out;
		}
	}
	if (!PKCS12_parse(p12, pw, &pkey, &cert, &ca)) {
		/*
		 * Windows (and openssl pkcs12 before 3.0) export .pfx files
		 * encrypted with RC2-40 or 3DES/RC4, which OpenSSL 3 keeps in
		 * its "legacy" provider.  Load it only when such a file is
		 * met, once for the process, and try again.
		 */
		ERR_clear_error();
		pthread_once(&certload_legacy_once, certload_legacy_load);
		if (certload_legacy == NULL ||
		    !PKCS12_parse(p12, pw, &pkey, &cert, &ca)) {
			ERR_clear_error();
			snprintf(why, whylen, "cannot decrypt the PKCS#12 "
			    "contents (%s)", certload_legacy == NULL ?
			    "unsupported algorithm? the OpenSSL legacy "
			    "provider is not available" : PKCS12_mac_present(
			    p12) ? "unsupported algorithm" : "wrong password "
			    "or unsupported algorithm");
			goto out;
		}
	}
	if (cert != NULL) {
		if (certload_set_add(set, cert, path) < 0)
			goto oom;
		(*found)++;
	}
	if (ca != NULL && certload_add_stack(set, ca, path, found) == -1)
		goto oom;
	if (pkey != NULL && key != NULL && *key == NULL) {
		*key = pkey;
		pkey = NULL;
	}
	ret = 0;
	goto out;
oom:
	snprintf(why, whylen, "out of memory");
out:
	EVP_PKEY_free(pkey);
	X509_free(cert);
	sk_X509_pop_free(ca, X509_free);
	return ret;
}

static int
certload_pem(const unsigned char *buf, size_t len, const char *password,
    struct certload_set *set, EVP_PKEY **key, const char *path, int *found,
    char *why, size_t whylen)
{
	BIO *b;
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	const unsigned char *p;
	long dlen;
	unsigned long e;
	int nblock = 0, haskey = 0, ret = -1;
	X509 *x;
	PKCS7 *p7;

	if ((b = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	for (;;) {
		if (!PEM_read_bio(b, &name, &header, &data, &dlen)) {
			e = ERR_peek_last_error();
			ERR_clear_error();
			if (ERR_GET_LIB(e) == ERR_LIB_PEM &&
			    ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
				break;	/* no more blocks */
			snprintf(why, whylen, "corrupt PEM data (block %d)",
			    nblock + 1);
			goto out;
		}
		nblock++;
		p = data;
		if (strcmp(name, PEM_STRING_X509) == 0 ||
		    strcmp(name, PEM_STRING_X509_OLD) == 0 ||
		    strcmp(name, PEM_STRING_X509_TRUSTED) == 0) {
			/* TRUSTED CERTIFICATE carries trust settings after
			 * the certificate; d2i_X509_AUX reads both. */
			if (strcmp(name, PEM_STRING_X509_TRUSTED) == 0)
				x = d2i_X509_AUX(NULL, &p, dlen);
			else
				x = d2i_X509(NULL, &p, dlen);
			if (x == NULL) {
				ERR_clear_error();
				/* Some CAs hand out a .p7b under a
				 * CERTIFICATE header. */
				p = data;
				if ((p7 = d2i_PKCS7(NULL, &p, dlen)) != NULL)
					goto pkcs7;
				ERR_clear_error();
				snprintf(why, whylen, "corrupt certificate "
				    "(PEM block %d)", nblock);
				goto out;
			}
			if (certload_set_add(set, x, path) < 0) {
				X509_free(x);
				snprintf(why, whylen, "out of memory");
				goto out;
			}
			X509_free(x);
			(*found)++;
		} else if (strcmp(name, PEM_STRING_PKCS7) == 0 ||
		    strcmp(name, PEM_STRING_PKCS7_SIGNED) == 0) {
			if ((p7 = d2i_PKCS7(NULL, &p, dlen)) == NULL) {
				ERR_clear_error();
				snprintf(why, whylen, "corrupt PKCS#7 "
				    "(PEM block %d)", nblock);
				goto out;
			}
pkcs7:
			if (certload_p7(p7, set, path, found, why,
			    whylen) == -1) {
				PKCS7_free(p7);
				goto out;
			}
			PKCS7_free(p7);
		} else if (strstr(name, "PRIVATE KEY") != NULL)
			haskey = 1;
		else
			log_debug("%s: ignoring PEM block %d (%s)", path,
			    nblock, name);
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		name = header = NULL;
		data = NULL;
	}
	if (nblock == 0) {
		snprintf(why, whylen, "no PEM block in the file");
		goto out;
	}
	if (haskey && key != NULL && *key == NULL &&
	    certload_key_mem(buf, len, 1, password, key, why, whylen) == -1)
		goto out;
	ret = 0;
out:
	OPENSSL_free(name);
	OPENSSL_free(header);
	OPENSSL_free(data);
	BIO_free(b);
	return ret;
}

/* DER: one certificate, a PKCS#7 or a PKCS#12. */
static int
certload_der(const unsigned char *buf, size_t len, const char *password,
    struct certload_set *set, EVP_PKEY **key, const char *path, int *found,
    char *why, size_t whylen)
{
	const unsigned char *p;
	X509 *x;
	PKCS7 *p7;
	PKCS12 *p12;
	int r;

	p = buf;
	if ((x = d2i_X509(NULL, &p, (long)len)) != NULL) {
		r = certload_set_add(set, x, path);
		X509_free(x);
		if (r < 0) {
			snprintf(why, whylen, "out of memory");
			return -1;
		}
		(*found)++;
		return 0;
	}
	ERR_clear_error();
	p = buf;
	if ((p7 = d2i_PKCS7(NULL, &p, (long)len)) != NULL) {
		r = certload_p7(p7, set, path, found, why, whylen);
		PKCS7_free(p7);
		return r;
	}
	ERR_clear_error();
	p = buf;
	if ((p12 = d2i_PKCS12(NULL, &p, (long)len)) != NULL) {
		r = certload_p12(p12, password, set, key, path, found, why,
		    whylen);
		PKCS12_free(p12);
		return r;
	}
	ERR_clear_error();
	snprintf(why, whylen, "not a certificate, PKCS#7 or PKCS#12 file "
	    "(PEM or DER)");
	return -1;
}

/* The contents of a file (or an answer), PEM or DER: found, or -1. */
static int
certload_buf(const unsigned char *buf, size_t len, const char *password,
    struct certload_set *set, EVP_PKEY **key, const char *source,
    const char *what, char *why, size_t whylen)
{
	int found = 0, r;

	if (memmem(buf, len, "-----BEGIN ", 11) != NULL)
		r = certload_pem(buf, len, password, set, key, source, &found,
		    why, whylen);
	else
		r = certload_der(buf, len, password, set, key, source, &found,
		    why, whylen);
	if (r == 0 && found == 0) {
		snprintf(why, whylen, "no certificate in %s", what);
		r = -1;
	}
	return r == 0 ? found : -1;
}

/* certload_file() without the logging: 0 or more found, or -1 and why. */
static int
certload_file_why(const char *path, const char *password,
    struct certload_set *set, EVP_PKEY **key, char *why, size_t whylen)
{
	EVP_PKEY *had = key != NULL ? *key : NULL;
	struct stat st;
	unsigned char *buf;
	size_t len;
	int r;

	if ((buf = certload_slurp(path, &len, &st, why, whylen)) == NULL)
		return -1;
	r = certload_buf(buf, len, password, set, key, path, "the file", why,
	    whylen);
	OPENSSL_cleanse(buf, len);	/* it may have held a key */
	free(buf);
	if (r >= 0 && key != NULL && had == NULL && *key != NULL)
		(void)file_warn_exposed(path, &st, "file with a private key",
		    1);
	return r;
}

int
certload_file(const char *path, const char *password,
    struct certload_set *set, EVP_PKEY **key)
{
	char why[256];
	int r;

	if ((r = certload_file_why(path, password, set, key, why,
	    sizeof(why))) == -1)
		log_errx("%s: %s", path, why);
	return r;
}

int
certload_mem(const unsigned char *buf, size_t len, const char *source,
    struct certload_set *set, char *why, size_t whylen)
{
	if (len == 0) {
		snprintf(why, whylen, "empty");
		return -1;
	}
	if (len > CERTLOAD_MAXFILE || len > INT_MAX) {
		snprintf(why, whylen, "too large (%zu bytes)", len);
		return -1;
	}
	return certload_buf(buf, len, NULL, set, NULL, source, "it", why,
	    whylen);
}

int
certload_key(const char *path, const char *password, EVP_PKEY **key)
{
	struct stat st;
	unsigned char *buf;
	size_t len;
	char why[256];
	int r;

	*key = NULL;
	if ((buf = certload_slurp(path, &len, &st, why, sizeof(why))) ==
	    NULL) {
		log_errx("%s: %s", path, why);
		return -1;
	}
	r = certload_key_mem(buf, len,
	    memmem(buf, len, "-----BEGIN ", 11) != NULL, password, key, why,
	    sizeof(why));
	OPENSSL_cleanse(buf, len);
	free(buf);
	if (r == -1)
		log_errx("%s: %s", path, why);
	else
		(void)file_warn_exposed(path, &st, "private key", 1);
	return r;
}

static int
certload_dir_filter(const struct dirent *d)
{
	/* Hidden files (.gitkeep, editor droppings) are not candidates. */
	return d->d_name[0] != '.';
}

int
certload_dir(const char *dir, struct certload_set *set)
{
	struct dirent **names;
	struct stat st;
	char path[PATH_MAX], why[256];
	size_t before = certload_set_count(set);
	int n, i;

	if ((n = scandir(dir, &names, certload_dir_filter, alphasort)) == -1) {
		log_err("%s: cannot read directory", dir);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
		    names[i]->d_name) >= sizeof(path)) {
			log_warnx("%s/%s: path too long; skipped", dir,
			    names[i]->d_name);
			continue;
		}
		/* stat, not lstat: /etc/ssl/certs is mostly symlinks. */
		if (stat(path, &st) == -1) {
			log_warn("%s: skipped", path);
			continue;
		}
		/* Subdirectories are not candidates; a FIFO or a device
		 * is refused by certload_slurp() with a warning. */
		if (S_ISDIR(st.st_mode))
			continue;
		if (certload_file_why(path, NULL, set, NULL, why,
		    sizeof(why)) == -1)
			log_warnx("%s: %s; skipped", path, why);
	}
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return (int)(certload_set_count(set) - before);
}

int
certload_roots(const char *spec, struct certload_set *set)
{
	const char *file, *dirs;
	char *copy, *d, *save = NULL;
	struct stat st;
	size_t before = certload_set_count(set);
	int r;

	if (spec == NULL || strcmp(spec, "system") == 0) {
		/* X509_get_default_cert_file() is the compiled-in path; the
		 * SSL_CERT_FILE/SSL_CERT_DIR overrides are ours to honour. */
		if ((file = getenv(X509_get_default_cert_file_env())) == NULL)
			file = X509_get_default_cert_file();
		if (stat(file, &st) == 0 && S_ISREG(st.st_mode) &&
		    certload_file(file, NULL, set, NULL) > 0)
			return (int)(certload_set_count(set) - before);
		if ((dirs = getenv(X509_get_default_cert_dir_env())) == NULL)
			dirs = X509_get_default_cert_dir();
		if ((copy = strdup(dirs)) == NULL) {
			log_warnx("out of memory");
			return -1;
		}
		for (d = strtok_r(copy, ":", &save); d != NULL;
		    d = strtok_r(NULL, ":", &save))
			if (stat(d, &st) == 0 && S_ISDIR(st.st_mode))
				(void)certload_dir(d, set);
		free(copy);
		r = (int)(certload_set_count(set) - before);
		if (r == 0)
			log_warnx("roots = system: no certificate in %s or %s",
			    file, dirs);
		return r;
	}
	if (strcmp(spec, "none") == 0)
		return 0;
	if (stat(spec, &st) == -1) {
		log_err("roots %s", spec);
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		return certload_dir(spec, set);
	if (certload_file(spec, NULL, set, NULL) == -1)
		return -1;
	return (int)(certload_set_count(set) - before);
}
