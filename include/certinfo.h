/*
 * certinfo.h: the one home for certificate facts and the policy chainfix
 * applies to them.  The chain engine (and through it bundle, configtest,
 * the daemon's logs, /chains and /metrics), `chainfix check`, the backend
 * self-test and the TLS contexts all ask here, so a certificate is named,
 * dated and judged the same way wherever it shows up.
 *
 * Names: one rendering, RFC 2253 (RFC 4514) as OpenSSL prints it with
 * XN_FLAG_RFC2253: the most specific RDN first, "," between RDNs, "+"
 * inside a multi-valued one, short attribute names ("CN", "O"), and values
 * escaped so the result is printable ASCII and can be read back:
 *  - the RFC's specials take a backslash: "CN=a\,b", "O=R\\D", "\"", "\+",
 *    "\;", "\<", "\>", a leading "#" or space, a trailing space;
 *  - a control character and every byte of a non-ASCII character (as
 *    UTF-8) is a backslash and two upper-case hex digits: "Caf\C3\A9",
 *    "\0A" for a newline;
 *  - a value of an unknown string type is dumped as "#" and its DER in hex.
 * Such a name can go into a log line, a terminal or a JSON string (which
 * escapes the backslashes once more) without being able to forge anything.
 *
 * Nothing here logs; every function is safe on any thread.
 */
#ifndef CHAINFIX_CERTINFO_H
#define CHAINFIX_CERTINFO_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* A buffer that holds any name certinfo_name() writes in full in practice. */
#define CERTINFO_NAMELEN	256

/*
 * certinfo_name(name, buf, len):
 * name rendered by the rule above into buf, truncated (never inside an
 * escape) to fit len.  The empty name gives "".  Returns buf.
 */
char *certinfo_name(const X509_NAME *name, char *buf, size_t len);

/*
 * certinfo_aia(x, max, buf, len):
 * The first max caIssuers URLs of x's Authority Information Access, ", "
 * between them, escaped as log_escape() does; "" if there is none.
 * Returns buf.
 */
char *certinfo_aia(X509 *x, size_t max, char *buf, size_t len);

/* certinfo_self_signed(x): 1 if x is issued by itself and its own key
 * verifies its signature (what ends a path), else 0. */
int certinfo_self_signed(X509 *x);

/*
 * Times.  A certificate is valid from its notBefore through its notAfter,
 * both included.
 */

/* certinfo_time(t, out): an ASN1_TIME as a time_t.  Returns 0, or -1 for
 * a missing or malformed time (*out is then 0). */
int certinfo_time(const ASN1_TIME *t, time_t *out);

/* certinfo_valid_at(x, now): 1 if x is valid at now, else 0 (also for
 * malformed dates). */
int certinfo_valid_at(X509 *x, time_t now);

/* certinfo_days_left(t, now): whole days from now to t, rounded down (a
 * time past gives a negative number). */
long certinfo_days_left(time_t t, time_t now);

/*
 * certinfo_expires_before(na, leaf_na):
 * 1 if an issuer's notAfter na comes before its leaf's leaf_na by more
 * than a day.  CAs routinely cap a leaf at its issuer's notAfter, and
 * certificates made one after the other differ by a second or two: that
 * is not worth a warning.
 */
int certinfo_expires_before(time_t na, time_t leaf_na);

/* The ways a time is written; X-macro: the formats cannot drift. */
#define CERTINFO_TIME_FORMATS(X)					\
	X(CERTINFO_TIME_ISO8601, "%Y-%m-%dT%H:%M:%SZ")	/* JSON, check */ \
	X(CERTINFO_TIME_DAY,	 "%Y-%m-%d")		/* in a sentence */ \
	X(CERTINFO_TIME_UTC,	 "%Y-%m-%d %H:%M:%S UTC") /* log lines */ \
	X(CERTINFO_TIME_LIST,	 "%Y-%m-%d %H:%M:%SZ")	/* chain listings */

enum certinfo_timefmt {
#define CERTINFO_TIME_ENUM(sym, fmt) sym,
	CERTINFO_TIME_FORMATS(CERTINFO_TIME_ENUM)
#undef CERTINFO_TIME_ENUM
};

/* certinfo_timestr(t, fmt, buf, len): t (UTC) written as fmt says; "?" if
 * it cannot be.  Returns buf. */
char *certinfo_timestr(time_t t, enum certinfo_timefmt fmt, char *buf,
    size_t len);

/*
 * Policy: what is weak.  Clients reject these, or soon will; they are
 * warnings wherever a chain is judged (bundle, configtest, check).
 */

/* certinfo_weak_digest(nid): 1 for a signature digest clients reject
 * (MD2, MD4, MD5, MD5-SHA1, SHA-1). */
int certinfo_weak_digest(int nid);

/* certinfo_weak_key(pk): 1 for a key weaker than RSA-2048 (RSA, RSA-PSS,
 * DSA) or P-256 (EC); 0 otherwise and for NULL. */
int certinfo_weak_key(const EVP_PKEY *pk);

/*
 * The initial-window rule.  A server's Certificate message larger than one
 * TCP initial window (10 segments of 1460 bytes, RFC 6928) costs the client
 * an extra round trip before it can even start verifying.
 */
#define CERTINFO_INITIAL_WINDOW	14600

/* certinfo_msg_size(ncerts, der_bytes): the size of the TLS 1.2
 * Certificate message carrying ncerts certificates of der_bytes DER in
 * all: 4 (handshake header) + 3 (list length) + 3 per certificate. */
size_t certinfo_msg_size(size_t ncerts, size_t der_bytes);

/* certinfo_hex(p, n, buf, len): p[0..n) in lowercase hex, as many whole
 * bytes as fit in buf (len - 1 digits), NUL-terminated; returns buf.  The
 * one spelling of fingerprints, pins and digests in chainfix's output. */
char *certinfo_hex(const unsigned char *p, size_t n, char *buf, size_t len);

/* certinfo_is_ip(s): 1 if s is an IPv4 or IPv6 address literal, which is
 * matched against iPAddress names and never sent as SNI (RFC 6066). */
int certinfo_is_ip(const char *s);

/* TLS protocol versions and their names (min_protocol, logs, reports);
 * X-macro: one table. */
#define CERTINFO_PROTOCOLS(X)						\
	X(TLS1_VERSION,		"TLSv1")				\
	X(TLS1_1_VERSION,	"TLSv1.1")				\
	X(TLS1_2_VERSION,	"TLSv1.2")				\
	X(TLS1_3_VERSION,	"TLSv1.3")

/* certinfo_protocol_name(version): "TLSv1.2" for TLS1_2_VERSION, ...;
 * "unknown" for anything else.  Static storage. */
const char *certinfo_protocol_name(int version);

#endif /* CHAINFIX_CERTINFO_H */
