/*
 * aia.c: missing issuers from their caIssuers URLs, and the cache of what
 * was fetched (aia.h).
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "aia.h"
#include "certinfo.h"
#include "certload.h"
#include "fetch.h"
#include "log.h"
#include "writefile.h"

#define AIA_DEFAULT_TIMEOUT	5
#define AIA_DEFAULT_MAX		(256 * 1024)

size_t
aia_urls(X509 *x, char urls[][AIA_URL_MAX], size_t max)
{
	AUTHORITY_INFO_ACCESS *aia;
	ACCESS_DESCRIPTION *ad;
	const unsigned char *uri;
	size_t n = 0;
	int i, len;

	if ((aia = X509_get_ext_d2i(x, NID_info_access, NULL, NULL)) == NULL) {
		ERR_clear_error();
		return 0;
	}
	for (i = 0; i < sk_ACCESS_DESCRIPTION_num(aia) && n < max; i++) {
		ad = sk_ACCESS_DESCRIPTION_value(aia, i);
		if (OBJ_obj2nid(ad->method) != NID_ad_ca_issuers ||
		    ad->location->type != GEN_URI)
			continue;
		uri = ASN1_STRING_get0_data(
		    ad->location->d.uniformResourceIdentifier);
		len = ASN1_STRING_length(
		    ad->location->d.uniformResourceIdentifier);
		/* An IA5String may hold a NUL: such a URI is no URL. */
		if (len <= 0 || len >= AIA_URL_MAX ||
		    memchr(uri, '\0', (size_t)len) != NULL)
			continue;
		memcpy(urls[n], uri, (size_t)len);
		urls[n][len] = '\0';
		n++;
	}
	AUTHORITY_INFO_ACCESS_free(aia);
	return n;
}

int
aia_fetch(X509 *child, const struct aia_opts *opts, const char *label,
    struct certload_set *out)
{
	char urls[AIA_MAX_URLS][AIA_URL_MAX], esc[256], why[512];
	struct fetch_opts fo;
	unsigned char *body;
	size_t n, i, len;
	int added = 0, r;

	memset(&fo, 0, sizeof(fo));
	fo.timeout = opts->timeout != 0 ? opts->timeout : AIA_DEFAULT_TIMEOUT;
	fo.max_size = opts->max_size != 0 ? opts->max_size : AIA_DEFAULT_MAX;
	/* The answer is checked by signature, not by where it came from:
	 * plain http is what CAs publish, and a redirect to it is fine. */
	fo.max_redirects = 3;
	n = aia_urls(child, urls, AIA_MAX_URLS);
	for (i = 0; i < n; i++) {
		log_escape(urls[i], esc, sizeof(esc));
		if (strncasecmp(urls[i], "http://", 7) != 0 &&
		    strncasecmp(urls[i], "https://", 8) != 0) {
			log_warnx("%s: caIssuers %s skipped: only http and "
			    "https URLs are fetched", label, esc);
			continue;
		}
		if (fetch_get(urls[i], &fo, &body, &len, why,
		    sizeof(why)) == -1) {
			log_warnx("%s: cannot fetch caIssuers %s: %s", label,
			    esc, why);
			continue;
		}
		r = certload_mem(body, len, urls[i], out, why, sizeof(why));
		free(body);
		ERR_clear_error();
		if (r == -1) {
			log_warnx("%s: caIssuers %s: %s", label, esc, why);
			continue;
		}
		log_info("%s: fetched %d certificate%s from caIssuers %s",
		    label, r, r == 1 ? "" : "s", esc);
		added += r;
	}
	return added;
}

int
aia_cache_load(const char *dir, struct certload_set *set)
{
	struct stat st;

	if (stat(dir, &st) == -1 && errno == ENOENT)
		return 0;
	return certload_dir(dir, set);
}

int
aia_cache_store(const char *dir, X509 *x, const char *label)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char name[2 * EVP_MAX_MD_SIZE + 1], path[4096], *data;
	BIO *b = NULL;
	long len;
	int rc = -1;

	if (mkdir(dir, 0755) == -1 && errno != EEXIST) {
		log_warn("%s: cannot create aia_cache %s", label, dir);
		return -1;
	}
	if (!X509_digest(x, EVP_sha256(), md, &mdlen))
		goto ssl;
	certinfo_hex(md, mdlen, name, sizeof(name));
	if ((size_t)snprintf(path, sizeof(path), "%s/%s.pem", dir, name) >=
	    sizeof(path)) {
		log_warnx("%s: aia_cache %s: path too long", label, dir);
		return -1;
	}
	if ((b = BIO_new(BIO_s_mem())) == NULL || !PEM_write_bio_X509(b, x) ||
	    (len = BIO_get_mem_data(b, &data)) <= 0)
		goto ssl;
	/* writefile logs at error level; a cache that cannot be written
	 * costs a fetch next time, nothing more. */
	if (writefile_atomic(path, data, (size_t)len, 0644) == -1)
		log_warnx("%s: the fetched issuer is not kept; the next start "
		    "will fetch it again", label);
	else
		rc = 0;
	BIO_free(b);
	return rc;
ssl:
	log_ssl(LOG_LEVEL_WARN, "%s: cannot keep a fetched issuer in %s",
	    label, dir);
	BIO_free(b);
	return -1;
}
