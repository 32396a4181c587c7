/*
 * certinfo.c: certificate facts and policy (certinfo.h).
 *
 * Names, dates and the weak-algorithm rules are OpenSSL's to compute; what
 * is ours is the one choice of flags, formats and thresholds that every
 * caller shares.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certinfo.h"
#include "log.h"

#define CERTINFO_DAY	86400

/*
 * Copy OpenSSL's rendering into buf, escape by escape: a token is "\XX",
 * "\c" or one character, and one that does not fit ends the copy, so a
 * truncated name never ends inside an escape.  A byte outside printable
 * ASCII cannot come out of XN_FLAG_RFC2253 (ESC_CTRL, ESC_MSB); should one
 * anyway, it is written as "\XX" like the rest.
 */
static void
certinfo_copy_name(const char *s, size_t slen, char *buf, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, n = 0, tok;
	char esc[4];

	while (i < slen) {
		if (p[i] < 0x20 || p[i] >= 0x7f) {
			esc[0] = '\\';
			esc[1] = hex[p[i] >> 4];
			esc[2] = hex[p[i] & 0xf];
			if (n + 3 >= len)
				break;
			memcpy(buf + n, esc, 3);
			n += 3;
			i++;
			continue;
		}
		tok = 1;
		if (p[i] == '\\' && i + 1 < slen)
			tok = i + 2 < slen && isxdigit(p[i + 1]) &&
			    isxdigit(p[i + 2]) ? 3 : 2;
		if (n + tok >= len)
			break;
		memcpy(buf + n, s + i, tok);
		n += tok;
		i += tok;
	}
	buf[n] = '\0';
}

char *
certinfo_name(const X509_NAME *name, char *buf, size_t len)
{
	BIO *b;
	char *data;
	long n;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	if (name == NULL || (b = BIO_new(BIO_s_mem())) == NULL) {
		ERR_clear_error();
		return buf;
	}
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0 &&
	    (n = BIO_get_mem_data(b, &data)) > 0)
		certinfo_copy_name(data, (size_t)n, buf, len);
	BIO_free(b);
	ERR_clear_error();
	return buf;
}

char *
certinfo_aia(X509 *x, size_t max, char *buf, size_t len)
{
	AUTHORITY_INFO_ACCESS *aia;
	ACCESS_DESCRIPTION *ad;
	const ASN1_IA5STRING *uri;
	char esc[512];
	size_t off = 0, found = 0;
	int i, r;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	if ((aia = X509_get_ext_d2i(x, NID_info_access, NULL, NULL)) == NULL) {
		ERR_clear_error();
		return buf;
	}
	for (i = 0; i < sk_ACCESS_DESCRIPTION_num(aia) && found < max; i++) {
		ad = sk_ACCESS_DESCRIPTION_value(aia, i);
		if (OBJ_obj2nid(ad->method) != NID_ad_ca_issuers ||
		    ad->location->type != GEN_URI)
			continue;
		uri = ad->location->d.uniformResourceIdentifier;
		/* Its length, not a NUL, ends it: "http://a\0x" shows all. */
		log_escape_mem(ASN1_STRING_get0_data(uri),
		    (size_t)ASN1_STRING_length(uri), esc, sizeof(esc));
		r = snprintf(buf + off, len - off, "%s%s", found ? ", " : "",
		    esc);
		if (r < 0 || (size_t)r >= len - off) {
			buf[off] = '\0';
			break;
		}
		off += (size_t)r;
		found++;
	}
	AUTHORITY_INFO_ACCESS_free(aia);
	return buf;
}

int
certinfo_self_signed(X509 *x)
{
	int rv;

	rv = X509_self_signed(x, 1);
	ERR_clear_error();
	return rv == 1;
}

int
certinfo_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	*out = 0;
	memset(&tm, 0, sizeof(tm));
	if (t == NULL || !ASN1_TIME_to_tm(t, &tm)) {
		ERR_clear_error();
		return -1;
	}
	*out = timegm(&tm);
	return 0;
}

int
certinfo_valid_at(X509 *x, time_t now)
{
	time_t nb, na;

	if (certinfo_time(X509_get0_notBefore(x), &nb) == -1 ||
	    certinfo_time(X509_get0_notAfter(x), &na) == -1)
		return 0;
	return nb <= now && now <= na;
}

long
certinfo_days_left(time_t t, time_t now)
{
	long long d = (long long)t - (long long)now;

	if (d >= 0)
		return (long)(d / CERTINFO_DAY);
	return (long)(-((-d + CERTINFO_DAY - 1) / CERTINFO_DAY));
}

int
certinfo_expires_before(time_t na, time_t leaf_na)
{
	return (long long)na + CERTINFO_DAY < (long long)leaf_na;
}

char *
certinfo_timestr(time_t t, enum certinfo_timefmt fmt, char *buf, size_t len)
{
	struct tm tm;
	size_t n = 0;

	if (len == 0)
		return buf;
	if (gmtime_r(&t, &tm) != NULL) {
		/* A literal format per case, for -Wformat-nonliteral. */
		switch (fmt) {
#define CERTINFO_TIME_CASE(sym, f)					\
		case sym:						\
			n = strftime(buf, len, f, &tm);			\
			break;
		CERTINFO_TIME_FORMATS(CERTINFO_TIME_CASE)
#undef CERTINFO_TIME_CASE
		}
	}
	if (n == 0)
		snprintf(buf, len, "?");
	return buf;
}

int
certinfo_weak_digest(int nid)
{
	return nid == NID_sha1 || nid == NID_md5 || nid == NID_md5_sha1 ||
	    nid == NID_md4 || nid == NID_md2;
}

int
certinfo_weak_key(const EVP_PKEY *pk)
{
	int bits;

	if (pk == NULL)
		return 0;
	bits = EVP_PKEY_get_bits(pk);
	if (EVP_PKEY_is_a(pk, "EC"))
		return bits < 256;
	if (EVP_PKEY_is_a(pk, "RSA") || EVP_PKEY_is_a(pk, "RSA-PSS") ||
	    EVP_PKEY_is_a(pk, "DSA"))
		return bits < 2048;
	return 0;
}

size_t
certinfo_msg_size(size_t ncerts, size_t der_bytes)
{
	return 4 + 3 + 3 * ncerts + der_bytes;
}

char *
certinfo_hex(const unsigned char *p, size_t n, char *buf, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	if (len == 0)
		return buf;
	for (i = 0; i < n && 2 * i + 2 < len; i++) {
		buf[2 * i] = digits[p[i] >> 4];
		buf[2 * i + 1] = digits[p[i] & 0xf];
	}
	buf[2 * i] = '\0';
	return buf;
}

int
certinfo_is_ip(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, buf) == 1 ||
	    inet_pton(AF_INET6, s, buf) == 1;
}

const char *
certinfo_protocol_name(int version)
{
	switch (version) {
#define CERTINFO_PROTOCOL_CASE(v, name) case v: return name;
	CERTINFO_PROTOCOLS(CERTINFO_PROTOCOL_CASE)
#undef CERTINFO_PROTOCOL_CASE
	}
	return "unknown";
}
