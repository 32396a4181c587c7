/*
 * check.c: `chainfix check HOST[:PORT]`, a strict client's view of a
 * server's certificate chain.
 *
 * The handshake itself trusts and verifies nothing (SSL_VERIFY_NONE,
 * security level 0): a server with a broken chain must still be reached so
 * that we can say what is broken.  The analysis afterwards is what a strict
 * client does: X509_verify_cert() with only --roots trusted and only the
 * certificates the server sent as the untrusted pool.  No AIA fetching, no
 * cache of intermediates, nothing from earlier connections.  The order of
 * the chain is judged by signatures (chain_issued()), never by names, and
 * the fix is computed by chain_assemble(), the engine behind
 * `chainfix bundle`, so the two commands cannot disagree.  The connection
 * itself (connect, handshake and I/O under deadlines) is probe.c's.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "certinfo.h"
#include "certload.h"
#include "chain.h"
#include "check.h"
#include "log.h"
#include "probe.h"

#define CHECK_DEFAULT_PORT	"443"
#define CHECK_DEFAULT_TIMEOUT	10		/* seconds, each phase */
#define CHECK_DEFAULT_WARN_DAYS	30
#define CHECK_MAX_CERTS		32
#define CHECK_MAX_PROBLEMS	48
#define CHECK_MAX_VERRS		16
#define CHECK_HTTP_MAX		16384

enum check_sev {
	CHECK_SEV_OK,		/* nothing to report */
	CHECK_SEV_WARN,		/* works for strict clients, but fix it */
	CHECK_SEV_CRIT,		/* strict clients fail (or will) */
};

/*
 * Problem codes: the enum, the stable identifier used in --json, the
 * severity and a short title for the verdict line, from one table.
 */
#define CHECK_PROBLEMS(X)						\
	X(P_INCOMPLETE, "incomplete", CHECK_SEV_CRIT,			\
	    "incomplete chain")						\
	X(P_UNTRUSTED, "untrusted_root", CHECK_SEV_CRIT,		\
	    "not trusted")						\
	X(P_VERIFY, "verify_error", CHECK_SEV_CRIT,			\
	    "chain does not verify")					\
	X(P_EXPIRED_CROSS, "expired_cross_sign", CHECK_SEV_CRIT,	\
	    "verifies only through an expired cross-sign")		\
	X(P_INT_EXPIRED, "intermediate_expired", CHECK_SEV_CRIT,	\
	    "expired intermediate")					\
	X(P_ROOT_EXPIRED, "root_expired", CHECK_SEV_CRIT,		\
	    "expired root")						\
	X(P_LEAF_EXPIRED, "leaf_expired", CHECK_SEV_CRIT,		\
	    "certificate expired")					\
	X(P_LEAF_NOT_YET, "leaf_not_yet_valid", CHECK_SEV_CRIT,	\
	    "certificate not yet valid")				\
	X(P_HOSTNAME, "hostname_mismatch", CHECK_SEV_CRIT,		\
	    "hostname not covered")					\
	X(P_LEAF_EXPIRING, "leaf_expiring", CHECK_SEV_WARN,		\
	    "certificate expires soon")					\
	X(P_INT_EXPIRING, "intermediate_expiring", CHECK_SEV_WARN,	\
	    "intermediate expires soon")				\
	X(P_INT_BEFORE_LEAF, "intermediate_expires_before_leaf",	\
	    CHECK_SEV_WARN, "intermediate expires before the leaf")	\
	X(P_EXTRA, "extra_certificates", CHECK_SEV_WARN,		\
	    "extra certificates")					\
	X(P_ORDER, "incorrect_order", CHECK_SEV_WARN,			\
	    "incorrect order")						\
	X(P_ANCHOR, "contains_anchor", CHECK_SEV_WARN,			\
	    "contains anchor")						\
	X(P_SHA1, "weak_signature", CHECK_SEV_WARN,			\
	    "SHA-1 signature")						\
	X(P_WEAK_KEY, "weak_key", CHECK_SEV_WARN, "weak key")		\
	X(P_TOO_LARGE, "chain_too_large", CHECK_SEV_WARN,		\
	    "chain larger than one TCP initial window")			\
	X(P_OLD_TLS, "no_tls12", CHECK_SEV_WARN,			\
	    "neither TLS 1.2 nor TLS 1.3")				\
	X(P_ACTIVESYNC, "activesync", CHECK_SEV_WARN,			\
	    "ActiveSync endpoint not answering as expected")

enum check_code {
#define CHECK_ENUM(sym, id, sev, title) sym,
	CHECK_PROBLEMS(CHECK_ENUM)
#undef CHECK_ENUM
};

static const struct {
	const char	*id;
	enum check_sev	 sev;
	const char	*title;
} check_codes[] = {
#define CHECK_ROW(sym, id, sev, title) [sym] = { id, sev, title },
	CHECK_PROBLEMS(CHECK_ROW)
#undef CHECK_ROW
};

static const char *const check_verdicts[] = {
	[CHECK_SEV_OK] = "OK",
	[CHECK_SEV_WARN] = "WARNING",
	[CHECK_SEV_CRIT] = "CRITICAL",
};

struct check_opts {
	const char	*target;	/* as given */
	char		 host[256];	/* brackets removed */
	char		 port[16];
	const char	*servername;	/* --servername */
	const char	*sni;		/* sent in the handshake; NULL: none */
	const char	*checkname;	/* name (or IP) the leaf must cover */
	int		 name_is_ip;
	const char	*roots;
	const char	*intermediates;
	unsigned	 warn_days;
	int		 timeout_ms;
	int		 json;
	int		 activesync;
};

/* A certificate as the server sent it. */
struct check_cert {
	X509		*x;		/* our own reference */
	char		 subject[256];
	char		 issuer[256];
	char		 key_type[32];
	char		 key_curve[32];
	int		 key_bits;
	int		 weak_key;	/* certinfo_weak_key() */
	char		 sig_alg[64];
	int		 sig_md;	/* NID of the signature's digest */
	time_t		 not_before;
	time_t		 not_after;
	char		 sha256[65];	/* lowercase hex */
	size_t		 der_len;
	int		 self_signed;
	int		 duplicate_of;	/* index of the first copy, or -1 */
	int		 walk_pos;	/* position on the path as sent, -1 */
	const char	*role;
};

struct check_problem {
	enum check_code	 code;
	char		 msg[640];
};

/* One error the verifier reported (the callback lets it go on). */
struct check_verr {
	int		 code;
	int		 depth;
	X509		*cert;		/* our own reference, may be NULL */
};

struct check_report {
	/* connection */
	int		 reachable;
	char		 error[512];
	char		 address[INET6_ADDRSTRLEN + 24];
	char		 protocol[16];
	char		 cipher[64];
	int		 tls12;		/* -1 not tried, 0 failed, 1 ok */
	int		 tls13;

	/* the chain as sent */
	struct check_cert certs[CHECK_MAX_CERTS];
	size_t		 ncerts;
	size_t		 ncerts_received;
	size_t		 msg_size;

	/* what a strict client makes of it */
	int		 verified;
	STACK_OF(X509)	*path;		/* built by the verifier, leaf first */
	int		 path_trusted;	/* top of path is one of the roots */
	struct check_verr verrs[CHECK_MAX_VERRS];
	int		 nverrs;
	char		 missing_subject[256];	/* "" when complete */
	char		 missing_of[256];
	char		 missing_aia[512];
	size_t		 nroots;

	struct check_problem problems[CHECK_MAX_PROBLEMS];
	size_t		 nproblems;

	/* --intermediates */
	int		 fix_tried;
	int		 fix_ok;	/* a chain was assembled */
	int		 fix_trusted;
	int		 fix_same;	/* the server already sends exactly it */
	size_t		 fix_count;
	char		 fix_error[512];
	char		*fix_pem;

	/* --activesync */
	int		 as_tried;
	int		 as_status;	/* -1: no answer */
	char		 as_status_line[256];
	char		 as_versions[512];
	char		 as_server[128];
	char		 as_error[384];
};

static const char check_usage_text[] =
"usage: chainfix check HOST[:PORT] [--servername NAME] [--roots FILE|DIR|system]\n"
"                      [--intermediates DIR] [--warn-days N] [--timeout SECONDS]\n"
"                      [--activesync] [--json]\n"
"\n"
"Connect to HOST (port 443 unless given; IPv6 as [::1]:443) as a strict TLS\n"
"client would: no AIA fetching, no cached intermediates, only --roots trusted\n"
"(default: the system's roots).  Report the chain as sent, its problems (incomplete,\n"
"extra certificates, incorrect order, contains anchor, expired intermediates,\n"
"hostname, expiry within --warn-days (default 30), SHA-1, weak keys, size), the\n"
"negotiated protocol and whether TLS 1.2 and TLS 1.3 work.\n"
"\n"
"  --servername NAME    SNI to send and name the certificate must cover\n"
"                       (default: HOST, unless HOST is an IP address)\n"
"  --roots SPEC         trust anchors: system, a PEM file or a directory\n"
"  --intermediates DIR  also show whether DIR completes the chain, and print the\n"
"                       bundle that would fix it (same engine as chainfix bundle)\n"
"  --warn-days N        warn about certificates expiring within N days\n"
"  --timeout SECONDS    connect, handshake and HTTP timeout, each (default 10)\n"
"  --activesync         send OPTIONS /Microsoft-Server-ActiveSync on the same\n"
"                       connection and report the status and protocol versions\n"
"  --json               machine-readable report on stdout\n"
"\n"
"Exit status: 0 OK, 1 warnings, 2 critical, 3 could not connect or usage error.\n";

/*
 * Small helpers.
 */

/* Copy len bytes of s, escaping anything that is not printable ASCII. */
static void
check_clean(const char *s, size_t slen, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, o = 0;
	unsigned char c;

	if (len == 0)
		return;
	for (i = 0; i < slen; i++) {
		c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f) {
			if (o + 1 >= len)
				break;
			buf[o++] = (char)c;
		} else {
			if (o + 4 >= len)
				break;
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 0xf];
		}
	}
	buf[o] = '\0';
}

static void check_problem(struct check_report *, enum check_code,
    const char *, ...) __attribute__((format(printf, 3, 4)));

static void
check_problem(struct check_report *r, enum check_code code,
    const char *fmt, ...)
{
	struct check_problem *p;
	va_list ap;

	if (r->nproblems >= CHECK_MAX_PROBLEMS)
		return;
	p = &r->problems[r->nproblems++];
	p->code = code;
	va_start(ap, fmt);
	vsnprintf(p->msg, sizeof(p->msg), fmt, ap);
	va_end(ap);
}

static int
check_has(const struct check_report *r, enum check_code code)
{
	size_t i;

	for (i = 0; i < r->nproblems; i++)
		if (r->problems[i].code == code)
			return 1;
	return 0;
}

static enum check_sev
check_worst(const struct check_report *r)
{
	enum check_sev worst = CHECK_SEV_OK;
	size_t i;

	for (i = 0; i < r->nproblems; i++)
		if (check_codes[r->problems[i].code].sev > worst)
			worst = check_codes[r->problems[i].code].sev;
	return worst;
}

/*
 * Command line.
 */

/*
 * HOST, HOST:PORT, [V6], [V6]:PORT, a bare IPv6 address, or an https:// URL
 * (its path is ignored).  Returns 0 or -1 with a message in err.
 */
static int
check_parse_target(struct check_opts *o, char *err, size_t errlen)
{
	const char *s = o->target, *end, *colon;
	size_t hlen;

	if (strncasecmp(s, "https://", 8) == 0)
		s += 8;
	end = s + strcspn(s, "/?#");
	if (*s == '[') {
		colon = memchr(s, ']', (size_t)(end - s));
		if (colon == NULL) {
			snprintf(err, errlen, "missing ']' in '%s'", o->target);
			return -1;
		}
		hlen = (size_t)(colon - s - 1);
		s++;
		colon++;
		if (colon < end && *colon != ':') {
			snprintf(err, errlen, "junk after ']' in '%s'",
			    o->target);
			return -1;
		}
		if (colon == end)
			colon = NULL;
	} else {
		colon = memchr(s, ':', (size_t)(end - s));
		if (colon != NULL &&
		    memchr(colon + 1, ':', (size_t)(end - colon - 1)) != NULL)
			colon = NULL;	/* a bare IPv6 address */
		hlen = (size_t)((colon != NULL ? colon : end) - s);
	}
	if (hlen == 0 || hlen >= sizeof(o->host)) {
		snprintf(err, errlen, "bad host in '%s'", o->target);
		return -1;
	}
	memcpy(o->host, s, hlen);
	o->host[hlen] = '\0';
	if (colon != NULL) {
		const char *p = colon + 1;
		size_t plen = (size_t)(end - p);
		unsigned long port;
		char *ep;

		if (plen == 0 || plen >= sizeof(o->port)) {
			snprintf(err, errlen, "bad port in '%s'", o->target);
			return -1;
		}
		memcpy(o->port, p, plen);
		o->port[plen] = '\0';
		errno = 0;
		port = strtoul(o->port, &ep, 10);
		if (*ep != '\0' || errno != 0 || port == 0 || port > 65535 ||
		    o->port[0] < '0' || o->port[0] > '9') {
			snprintf(err, errlen, "bad port in '%s'", o->target);
			return -1;
		}
		/* "0443" is a port, not a JSON number: keep the canonical form. */
		snprintf(o->port, sizeof(o->port), "%lu", port);
	} else
		snprintf(o->port, sizeof(o->port), "%s", CHECK_DEFAULT_PORT);
	return 0;
}

/*
 * Names go into the SNI extension and the Host header: letters, digits and
 * ".-_:" (IPv6 addresses, "%" for a scope) only, so nothing can be smuggled.
 */
static int
check_valid_name(const char *s)
{
	if (*s == '\0' || strlen(s) > 253)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr(".-_:%", *s) != NULL))
			return 0;
	return 1;
}

static int
check_number(const char *s, unsigned long max, unsigned long *out)
{
	char *ep;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoul(s, &ep, 10);
	if (*ep != '\0' || errno != 0 || *out > max)
		return -1;
	return 0;
}

/* Returns 0, or -1 after printing why on stderr. */
static int
check_parse_args(int argc, char **argv, struct check_opts *o, int *help)
{
	char err[512];
	unsigned long n;
	int i;

	memset(o, 0, sizeof(*o));
	o->roots = "system";
	o->warn_days = CHECK_DEFAULT_WARN_DAYS;
	o->timeout_ms = CHECK_DEFAULT_TIMEOUT * 1000;
	*help = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			*help = 1;
			return 0;
		} else if (strcmp(a, "--json") == 0) {
			o->json = 1;
		} else if (strcmp(a, "--activesync") == 0) {
			o->activesync = 1;
		} else if (strcmp(a, "--servername") == 0 ||
		    strcmp(a, "--roots") == 0 ||
		    strcmp(a, "--intermediates") == 0 ||
		    strcmp(a, "--warn-days") == 0 ||
		    strcmp(a, "--timeout") == 0) {
			if (v == NULL || *v == '\0') {
				fprintf(stderr, "chainfix check: %s needs a "
				    "value\n", a);
				return -1;
			}
			i++;
			if (strcmp(a, "--servername") == 0)
				o->servername = v;
			else if (strcmp(a, "--roots") == 0)
				o->roots = v;
			else if (strcmp(a, "--intermediates") == 0)
				o->intermediates = v;
			else if (strcmp(a, "--warn-days") == 0) {
				if (check_number(v, 36500, &n) == -1) {
					fprintf(stderr, "chainfix check: "
					    "--warn-days: not a number of days "
					    "(0-36500): '%s'\n",
					    log_escape(v, err, sizeof(err)));
					return -1;
				}
				o->warn_days = (unsigned)n;
			} else {
				if (check_number(v, 3600, &n) == -1 ||
				    n == 0) {
					fprintf(stderr, "chainfix check: "
					    "--timeout: not a number of seconds "
					    "(1-3600): '%s'\n",
					    log_escape(v, err, sizeof(err)));
					return -1;
				}
				o->timeout_ms = (int)n * 1000;
			}
		} else if (a[0] == '-' && a[1] != '\0') {
			fprintf(stderr, "chainfix check: unknown option '%s'\n",
			    log_escape(a, err, sizeof(err)));
			return -1;
		} else if (o->target == NULL) {
			o->target = a;
		} else {
			fprintf(stderr, "chainfix check: more than one HOST "
			    "('%s')\n", log_escape(a, err, sizeof(err)));
			return -1;
		}
	}
	if (o->target == NULL) {
		fprintf(stderr, "chainfix check: HOST[:PORT] is missing\n");
		return -1;
	}
	if (check_parse_target(o, err, sizeof(err)) == -1) {
		char esc[512];

		fprintf(stderr, "chainfix check: %s\n",
		    log_escape(err, esc, sizeof(esc)));
		return -1;
	}
	if (!check_valid_name(o->host) || (o->servername != NULL &&
	    !check_valid_name(o->servername))) {
		fprintf(stderr, "chainfix check: not a host name or address: "
		    "'%s'\n", log_escape(o->servername != NULL &&
		    check_valid_name(o->host) ? o->servername : o->host, err,
		    sizeof(err)));
		return -1;
	}
	/* SNI may not carry an IP address (RFC 6066 section 3). */
	if (o->servername != NULL) {
		o->checkname = o->servername;
		o->name_is_ip = certinfo_is_ip(o->servername);
		o->sni = o->name_is_ip ? NULL : o->servername;
	} else {
		o->checkname = o->host;
		o->name_is_ip = certinfo_is_ip(o->host);
		o->sni = o->name_is_ip ? NULL : o->host;
	}
	return 0;
}

/*
 * Connecting: probe.c does the waiting; the policy (what to trust, which
 * versions) is ours.
 */

static SSL_CTX *
check_ctx(void)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		return NULL;
	/*
	 * Verification is ours, after the handshake: OpenSSL's would abort
	 * the very handshakes we are here to diagnose.  Security level 0 and
	 * TLS 1.0 for the same reason: a SHA-1 chain or an RSA-1024 key must
	 * be reported, not make the connection fail.
	 */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_security_level(ctx, 0);
	if (SSL_CTX_set_cipher_list(ctx, "DEFAULT:@SECLEVEL=0") != 1)
		ERR_clear_error();
	SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
	/* Microsoft's stacks often close without close_notify. */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF |
	    SSL_OP_LEGACY_SERVER_CONNECT);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	return ctx;
}

/*
 * Connect and complete a handshake, optionally pinned to one protocol
 * version (0: any).  Returns the probe (free with probe_close()), or NULL
 * with the reason in err.  addr gets the address once connected, even if
 * the handshake then fails.
 */
static struct probe *
check_handshake(SSL_CTX *ctx, const struct check_opts *o, int version,
    char *addr, size_t addrlen, char *err, size_t errlen)
{
	struct probe *p;
	SSL *ssl;

	if ((p = probe_connect(o->host, o->port, o->timeout_ms, err,
	    errlen)) == NULL)
		return NULL;
	snprintf(addr, addrlen, "%s", probe_address(p));
	if ((ssl = SSL_new(ctx)) != NULL && ((version != 0 &&
	    (SSL_set_min_proto_version(ssl, version) != 1 ||
	    SSL_set_max_proto_version(ssl, version) != 1)) ||
	    (o->sni != NULL && SSL_set_tlsext_host_name(ssl, o->sni) != 1))) {
		/* probe_handshake() turns NULL into OpenSSL's reason. */
		SSL_free(ssl);
		ssl = NULL;
	}
	if (probe_handshake(p, ssl, o->timeout_ms, err, errlen) == -1) {
		probe_close(p);
		return NULL;
	}
	return p;
}

/* 1 if a handshake pinned to version succeeds, else 0. */
static int
check_probe(SSL_CTX *ctx, const struct check_opts *o, int version)
{
	char addr[PROBE_ADDRSTRLEN], err[512];
	struct probe *p;

	p = check_handshake(ctx, o, version, addr, sizeof(addr), err,
	    sizeof(err));
	if (p == NULL)
		return 0;
	probe_close(p);
	return 1;
}

/*
 * The chain as sent.
 */

static void
check_describe(struct check_cert *c, X509 *x)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	EVP_PKEY *pk;
	const char *tn;
	int len, mdnid = NID_undef, pknid, secbits;
	uint32_t flags;
	size_t dummy;

	c->x = x;
	c->duplicate_of = -1;
	c->walk_pos = -1;
	certinfo_name(X509_get_subject_name(x), c->subject, sizeof(c->subject));
	certinfo_name(X509_get_issuer_name(x), c->issuer, sizeof(c->issuer));
	snprintf(c->key_type, sizeof(c->key_type), "unknown");
	if ((pk = X509_get0_pubkey(x)) != NULL) {
		if ((tn = EVP_PKEY_get0_type_name(pk)) != NULL)
			snprintf(c->key_type, sizeof(c->key_type), "%s", tn);
		c->key_bits = EVP_PKEY_get_bits(pk);
		c->weak_key = certinfo_weak_key(pk);
		if (EVP_PKEY_get_group_name(pk, c->key_curve,
		    sizeof(c->key_curve), &dummy) != 1)
			c->key_curve[0] = '\0';
	}
	if ((tn = OBJ_nid2ln(X509_get_signature_nid(x))) == NULL)
		tn = "unknown";
	snprintf(c->sig_alg, sizeof(c->sig_alg), "%s", tn);
	if (X509_get_signature_info(x, &mdnid, &pknid, &secbits, &flags) != 1)
		mdnid = NID_undef;
	c->sig_md = mdnid;
	(void)certinfo_time(X509_get0_notBefore(x), &c->not_before);
	(void)certinfo_time(X509_get0_notAfter(x), &c->not_after);
	if (X509_digest(x, EVP_sha256(), md, &mdlen) != 1)
		mdlen = 0;
	for (i = 0; i < mdlen && i < 32; i++)
		snprintf(c->sha256 + 2 * i, 3, "%02x", md[i]);
	len = i2d_X509(x, NULL);
	c->der_len = len > 0 ? (size_t)len : 0;
	c->self_signed = certinfo_self_signed(x);
	ERR_clear_error();
}

static void
check_collect(struct check_report *r, SSL *ssl)
{
	STACK_OF(X509) *sk;
	X509 *x;
	size_t der = 0;
	int i, n, len;

	snprintf(r->protocol, sizeof(r->protocol), "%s", SSL_get_version(ssl));
	snprintf(r->cipher, sizeof(r->cipher), "%s",
	    SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)));
	/*
	 * On a client, SSL_get_peer_cert_chain() is the list exactly as the
	 * server sent it, leaf first (SSL_get0_verified_chain() would be
	 * OpenSSL's own rebuilt path).  Borrowed from the SSL: take our own
	 * references, the SSL is freed long before the report is printed.
	 */
	sk = SSL_get_peer_cert_chain(ssl);
	n = sk != NULL ? sk_X509_num(sk) : 0;
	r->ncerts_received = (size_t)n;
	for (i = 0; i < n; i++) {
		x = sk_X509_value(sk, i);
		if ((len = i2d_X509(x, NULL)) > 0)
			der += (size_t)len;
		if (r->ncerts >= CHECK_MAX_CERTS || X509_up_ref(x) != 1)
			continue;
		check_describe(&r->certs[r->ncerts++], x);
	}
	r->msg_size = certinfo_msg_size((size_t)n, der);
}

/*
 * What a strict client makes of it.
 */

static int
check_verify_cb(int ok, X509_STORE_CTX *ctx)
{
	struct check_report *r = X509_STORE_CTX_get_app_data(ctx);
	struct check_verr *v;
	X509 *cur;
	int code, depth, i;

	if (ok || r == NULL)
		return ok;
	code = X509_STORE_CTX_get_error(ctx);
	depth = X509_STORE_CTX_get_error_depth(ctx);
	for (i = 0; i < r->nverrs; i++)
		if (r->verrs[i].code == code && r->verrs[i].depth == depth)
			return 1;
	if (r->nverrs < CHECK_MAX_VERRS) {
		v = &r->verrs[r->nverrs++];
		v->code = code;
		v->depth = depth;
		cur = X509_STORE_CTX_get_current_cert(ctx);
		v->cert = cur != NULL && X509_up_ref(cur) == 1 ? cur : NULL;
	}
	/* Go on: we want every problem, and the whole path built. */
	return 1;
}

static int
check_in_set(const struct certload_set *set, X509 *x)
{
	size_t i, n = certload_set_count(set);

	for (i = 0; i < n; i++)
		if (X509_cmp(certload_set_cert(set, i), x) == 0)
			return 1;
	return 0;
}

/* Index of x among the certificates sent, or -1. */
static int
check_sent_index(const struct check_report *r, X509 *x)
{
	size_t i;

	for (i = 0; i < r->ncerts; i++)
		if (r->certs[i].duplicate_of == -1 &&
		    X509_cmp(r->certs[i].x, x) == 0)
			return (int)i;
	return -1;
}

static int
check_on_vpath(const struct check_report *r, X509 *x)
{
	int i;

	if (r->path == NULL)
		return 0;
	for (i = 0; i < sk_X509_num(r->path); i++)
		if (X509_cmp(sk_X509_value(r->path, i), x) == 0)
			return 1;
	return 0;
}

/* X509_verify_cert() with only roots trusted and only the sent pool. */
static int
check_verify(struct check_report *r, const struct certload_set *roots)
{
	X509_STORE *store = NULL;
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509) *pool = NULL;
	X509_VERIFY_PARAM *param;
	size_t i, n;
	int rv = -1, vr;

	if ((store = X509_STORE_new()) == NULL ||
	    (ctx = X509_STORE_CTX_new()) == NULL ||
	    (pool = sk_X509_new_null()) == NULL)
		goto done;
	n = certload_set_count(roots);
	for (i = 0; i < n; i++)
		if (X509_STORE_add_cert(store, certload_set_cert(roots, i)) != 1)
			ERR_clear_error();	/* a duplicate root */
	for (i = 1; i < r->ncerts; i++)
		if (sk_X509_push(pool, r->certs[i].x) <= 0)
			goto done;
	if (X509_STORE_CTX_init(ctx, store, r->certs[0].x, pool) != 1)
		goto done;
	X509_STORE_CTX_set_default(ctx, "ssl_server");
	param = X509_STORE_CTX_get0_param(ctx);
	/*
	 * Any certificate in --roots is an anchor, self-signed or not: the
	 * same rule as chain_assemble(), so check and bundle agree.
	 */
	X509_VERIFY_PARAM_set_flags(param, X509_V_FLAG_PARTIAL_CHAIN);
	X509_STORE_CTX_set_app_data(ctx, r);
	X509_STORE_CTX_set_verify_cb(ctx, check_verify_cb);
	vr = X509_verify_cert(ctx);
	ERR_clear_error();
	r->verified = vr == 1 && r->nverrs == 0;
	r->path = X509_STORE_CTX_get1_chain(ctx);
	if (r->path != NULL && sk_X509_num(r->path) > 0)
		r->path_trusted = check_in_set(roots,
		    sk_X509_value(r->path, sk_X509_num(r->path) - 1));
	rv = 0;
 done:
	if (rv == -1) {
		char reason[256];

		snprintf(r->error, sizeof(r->error), "cannot verify: %s",
		    log_ssl_reason(reason, sizeof(reason)));
	}
	sk_X509_free(pool);	/* the certificates are r's */
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return rv;
}

/*
 * The path through the certificates as sent, by signatures: from the
 * leaf, each next certificate is one (not yet used) that really issued the
 * current one.  Among several, the one the verifier chose, then one valid
 * now, then the one sent earliest wins.
 */
static void
check_walk(struct check_report *r, int *walk, size_t *nwalk, time_t now)
{
	size_t i, j, cur = 0;
	int best, score, bestscore;

	*nwalk = 0;
	if (r->ncerts == 0)
		return;
	for (i = 1; i < r->ncerts; i++)
		for (j = 0; j < i; j++)
			if (r->certs[j].duplicate_of == -1 &&
			    X509_cmp(r->certs[i].x, r->certs[j].x) == 0) {
				r->certs[i].duplicate_of = (int)j;
				break;
			}
	walk[(*nwalk)++] = 0;
	r->certs[0].walk_pos = 0;
	while (!r->certs[cur].self_signed && *nwalk < CHECK_MAX_CERTS) {
		best = -1;
		bestscore = -1;
		for (j = 1; j < r->ncerts; j++) {
			struct check_cert *c = &r->certs[j];

			if (c->duplicate_of != -1 || c->walk_pos != -1)
				continue;
			if (!chain_issued(c->x, r->certs[cur].x)) {
				ERR_clear_error();
				continue;
			}
			score = 0;
			if (check_on_vpath(r, c->x))
				score += 2;
			if (c->not_before <= now && now <= c->not_after)
				score += 1;
			if (score > bestscore) {
				best = (int)j;
				bestscore = score;
			}
		}
		if (best == -1)
			break;
		r->certs[best].walk_pos = (int)*nwalk;
		walk[(*nwalk)++] = best;
		cur = (size_t)best;
	}
}

/*
 * A valid certificate with x's subject and key but another DER (a renewed
 * copy or a cross-sign), or NULL.  A copy from x's own issuer wins over a
 * cross-sign: it is the one to send instead.
 */
static int
check_is_twin(X509 *x, X509 *y, time_t now)
{
	if (y == NULL || X509_cmp(x, y) == 0)
		return 0;
	if (X509_NAME_cmp(X509_get_subject_name(x),
	    X509_get_subject_name(y)) != 0)
		return 0;
	if (EVP_PKEY_eq(X509_get0_pubkey(x), X509_get0_pubkey(y)) != 1)
		return 0;
	return certinfo_valid_at(y, now);
}

static X509 *
check_twin(const struct check_report *r, X509 *x,
    const struct certload_set *roots, const struct certload_set *pool,
    time_t now)
{
	const struct certload_set *sets[2] = { roots, pool };
	X509 *y, *best = NULL;
	size_t i, k, n;

	for (k = 0; k < 3; k++) {
		n = k == 0 ? r->ncerts : sets[k - 1] != NULL ?
		    certload_set_count(sets[k - 1]) : 0;
		for (i = 0; i < n; i++) {
			y = k == 0 ? r->certs[i].x :
			    certload_set_cert(sets[k - 1], i);
			if (!check_is_twin(x, y, now))
				continue;
			if (X509_NAME_cmp(X509_get_issuer_name(x),
			    X509_get_issuer_name(y)) == 0)
				return y;
			if (best == NULL)
				best = y;
		}
	}
	ERR_clear_error();
	return best;
}

/* Dates of every certificate above the leaf on the verifier's path. */
static void
check_path_dates(struct check_report *r, const struct check_opts *o,
    const struct certload_set *roots, const struct certload_set *pool,
    time_t now)
{
	char d1[32], d2[32], name[256], tname[256], tiss[256], where[64];
	const char *what, *state;
	time_t nb, na, when;
	X509 *x, *twin;
	int i, n, idx, top;

	if (r->path == NULL || r->ncerts == 0)
		return;
	n = sk_X509_num(r->path);
	for (i = 1; i < n; i++) {
		x = sk_X509_value(r->path, i);
		if (certinfo_time(X509_get0_notBefore(x), &nb) == -1 ||
		    certinfo_time(X509_get0_notAfter(x), &na) == -1)
			continue;
		certinfo_name(X509_get_subject_name(x), name, sizeof(name));
		idx = check_sent_index(r, x);
		top = i == n - 1 && r->path_trusted;
		what = top ? "root" : "intermediate";
		if (idx >= 0)
			snprintf(where, sizeof(where), "sent as #%d", idx);
		else
			snprintf(where, sizeof(where), "from the roots");
		if (na < now || nb > now) {
			state = na < now ? "expired on" : "is not valid before";
			when = na < now ? na : nb;
			certinfo_timestr(when, CERTINFO_TIME_DAY, d1,
			    sizeof(d1));
			twin = top ? NULL : check_twin(r, x, roots, pool, now);
			if (top) {
				check_problem(r, P_ROOT_EXPIRED,
				    "the root \"%s\" (%s) %s %s", name, where,
				    state, d1);
			} else if (twin != NULL &&
			    X509_NAME_cmp(X509_get_issuer_name(twin),
			    X509_get_issuer_name(x)) != 0) {
				certinfo_name(X509_get_issuer_name(x), tiss,
				    sizeof(tiss));
				certinfo_name(X509_get_issuer_name(twin), tname,
				    sizeof(tname));
				check_problem(r, P_EXPIRED_CROSS,
				    "the chain verifies only through the "
				    "cross-sign \"%s\" (%s) issued by \"%s\", "
				    "which %s %s (the same name and key, "
				    "issued by \"%s\", is valid)", name, where,
				    tiss, state, d1, tname);
			} else if (twin != NULL) {
				check_problem(r, P_INT_EXPIRED,
				    "the intermediate \"%s\" (%s) %s %s; a "
				    "valid certificate with the same name and "
				    "key is known: send that one instead", name,
				    where, state, d1);
			} else {
				check_problem(r, P_INT_EXPIRED,
				    "the intermediate \"%s\" (%s) %s %s",
				    name, where, state, d1);
			}
			continue;
		}
		certinfo_timestr(na, CERTINFO_TIME_DAY, d1, sizeof(d1));
		if (certinfo_days_left(na, now) < (long)o->warn_days)
			check_problem(r, P_INT_EXPIRING,
			    "the %s \"%s\" (%s) expires on %s, in %ld days",
			    what, name, where, d1, certinfo_days_left(na, now));
		else if (certinfo_expires_before(na, r->certs[0].not_after))
			check_problem(r, P_INT_BEFORE_LEAF,
			    "the %s \"%s\" (%s) expires on %s, before the "
			    "leaf (%s): the chain stops verifying then", what,
			    name, where, d1, certinfo_timestr(
			    r->certs[0].not_after, CERTINFO_TIME_DAY, d2,
			    sizeof(d2)));
	}
}

static void
check_verify_problems(struct check_report *r)
{
	char name[256];
	int i;

	for (i = 0; i < r->nverrs; i++) {
		struct check_verr *v = &r->verrs[i];

		if (v->cert != NULL)
			certinfo_name(X509_get_subject_name(v->cert), name,
			    sizeof(name));
		else
			snprintf(name, sizeof(name), "?");
		switch (v->code) {
		case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
		case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
		case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
			if (check_has(r, P_INCOMPLETE) || v->cert == NULL)
				break;
			snprintf(r->missing_of, sizeof(r->missing_of), "%s",
			    name);
			certinfo_name(X509_get_issuer_name(v->cert),
			    r->missing_subject, sizeof(r->missing_subject));
			certinfo_aia(v->cert, 1, r->missing_aia,
			    sizeof(r->missing_aia));
			check_problem(r, P_INCOMPLETE,
			    "the issuer of \"%s\", \"%s\", is neither sent by "
			    "the server nor a trusted root%s%s", name,
			    r->missing_subject, r->missing_aia[0] != '\0' ?
			    "; the certificate says it can be fetched from " :
			    " (the certificate names no AIA URL for it)",
			    r->missing_aia);
			break;
		case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
			check_problem(r, P_UNTRUSTED, "the server sends a "
			    "self-signed certificate \"%s\" that is not among "
			    "the trusted roots", name);
			break;
		case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
			check_problem(r, P_UNTRUSTED, "the chain ends at the "
			    "self-signed \"%s\", which is not among the "
			    "trusted roots", name);
			break;
		case X509_V_ERR_CERT_HAS_EXPIRED:
		case X509_V_ERR_CERT_NOT_YET_VALID:
			/* Dates are judged per certificate, below. */
			break;
		default:
			check_problem(r, P_VERIFY, "%s (depth %d, \"%s\")",
			    X509_verify_cert_error_string(v->code), v->depth,
			    name);
			break;
		}
	}
}

static void
check_leaf(struct check_report *r, const struct check_opts *o, time_t now)
{
	struct check_cert *leaf = &r->certs[0];
	char d[32], name[300];
	int rv;

	log_escape(o->checkname, name, sizeof(name));
	if (o->name_is_ip)
		rv = X509_check_ip_asc(leaf->x, o->checkname, 0);
	else
		/*
		 * As browsers, Go and Python do: the SAN alone counts (no
		 * fallback to the subject CN), no partial wildcards.
		 */
		rv = X509_check_host(leaf->x, o->checkname, 0,
		    X509_CHECK_FLAG_NEVER_CHECK_SUBJECT |
		    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL);
	ERR_clear_error();
	if (rv != 1)
		check_problem(r, P_HOSTNAME, "the certificate \"%s\" does not "
		    "cover %s%s (subjectAltName)", leaf->subject,
		    o->name_is_ip ? "the address " : "", name);
	if (leaf->not_after < now)
		check_problem(r, P_LEAF_EXPIRED, "the certificate \"%s\" "
		    "expired on %s", leaf->subject,
		    certinfo_timestr(leaf->not_after, CERTINFO_TIME_ISO8601,
		    d, sizeof(d)));
	else if (leaf->not_before > now)
		check_problem(r, P_LEAF_NOT_YET, "the certificate \"%s\" is "
		    "not valid before %s", leaf->subject,
		    certinfo_timestr(leaf->not_before, CERTINFO_TIME_ISO8601,
		    d, sizeof(d)));
	else if (certinfo_days_left(leaf->not_after, now) < (long)o->warn_days)
		check_problem(r, P_LEAF_EXPIRING, "the certificate \"%s\" "
		    "expires on %s, in %ld days", leaf->subject,
		    certinfo_timestr(leaf->not_after, CERTINFO_TIME_ISO8601,
		    d, sizeof(d)),
		    certinfo_days_left(leaf->not_after, now));
}

static void
check_shape(struct check_report *r, const struct certload_set *roots,
    const int *walk, size_t nwalk)
{
	char order[256], sent[256];
	size_t i, j, len;
	int sorted[CHECK_MAX_CERTS], t, misordered = 0, gap;

	for (i = 0; i < r->ncerts; i++) {
		struct check_cert *c = &r->certs[i];

		if (c->duplicate_of != -1)
			c->role = "duplicate";
		else if (c->walk_pos == 0)
			c->role = "leaf";
		else if (c->walk_pos > 0 && (c->self_signed ||
		    check_in_set(roots, c->x)))
			c->role = "anchor";
		else if (c->walk_pos > 0)
			c->role = "intermediate";
		else
			c->role = "extra";
	}
	/* The path as sent stops short of any root: something is missing. */
	gap = nwalk > 0 && !r->certs[walk[nwalk - 1]].self_signed &&
	    !check_in_set(roots, r->certs[walk[nwalk - 1]].x) &&
	    check_has(r, P_INCOMPLETE);
	for (i = 1; i < r->ncerts; i++) {
		struct check_cert *c = &r->certs[i];

		if (c->duplicate_of != -1)
			check_problem(r, P_EXTRA, "#%zu \"%s\" is a duplicate "
			    "of #%d", i, c->subject, c->duplicate_of);
		else if (c->walk_pos == -1 && gap)
			check_problem(r, P_EXTRA, "#%zu \"%s\" is not "
			    "connected to the leaf: it signed none of the "
			    "certificates on the chain, which breaks before it "
			    "(see incomplete)", i, c->subject);
		else if (c->walk_pos == -1)
			check_problem(r, P_EXTRA, "#%zu \"%s\" is not on the "
			    "leaf's chain: it signed none of the certificates "
			    "on it", i, c->subject);
		if (c->duplicate_of == -1 && (strcmp(c->role, "anchor") == 0 ||
		    c->self_signed))
			check_problem(r, P_ANCHOR, "#%zu \"%s\" is a root: "
			    "clients must already have it, sending it only "
			    "costs %zu bytes", i, c->subject, c->der_len);
	}
	if (r->ncerts_received > r->ncerts)
		check_problem(r, P_EXTRA, "the server sent %zu certificates; "
		    "only the first %zu were examined", r->ncerts_received,
		    r->ncerts);
	/* The path's certificates must appear in path order. */
	for (i = 0; i < nwalk; i++)
		sorted[i] = walk[i];
	for (i = 1; i < nwalk; i++) {
		if (walk[i] < walk[i - 1])
			misordered = 1;
		for (j = i; j > 0 && sorted[j] < sorted[j - 1]; j--) {
			t = sorted[j];
			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	}
	if (!misordered)
		return;
	order[0] = sent[0] = '\0';
	for (i = 0; i < nwalk; i++) {
		len = strlen(order);
		snprintf(order + len, sizeof(order) - len, "%s#%d",
		    i ? " " : "", walk[i]);
		len = strlen(sent);
		snprintf(sent + len, sizeof(sent) - len, "%s#%d",
		    i ? " " : "", sorted[i]);
	}
	check_problem(r, P_ORDER, "the server sends %s, but by signatures the "
	    "order is %s: each certificate must be followed by the one that "
	    "signed it", sent, order);
}

static void
check_analyze(struct check_report *r, const struct check_opts *o,
    const struct certload_set *roots, const struct certload_set *pool)
{
	int walk[CHECK_MAX_CERTS];
	size_t i, nwalk;
	time_t now = time(NULL);

	if (r->ncerts == 0) {
		check_problem(r, P_INCOMPLETE, "the server sent no "
		    "certificate at all");
		return;
	}
	if (check_verify(r, roots) == -1) {
		check_problem(r, P_VERIFY, "%s", r->error);
		return;
	}
	check_walk(r, walk, &nwalk, now);
	check_verify_problems(r);
	check_leaf(r, o, now);
	check_path_dates(r, o, roots, pool, now);
	check_shape(r, roots, walk, nwalk);
	for (i = 0; i < r->ncerts; i++) {
		struct check_cert *c = &r->certs[i];
		char d[32];

		if (c->duplicate_of != -1)
			continue;
		/*
		 * An expired certificate the client did not need (an old
		 * cross-sign kept "for compatibility"): dead weight, and a
		 * trap for clients that pick it.
		 */
		if (i > 0 && r->verified && c->walk_pos > 0 &&
		    !check_on_vpath(r, c->x) && c->not_after < now)
			check_problem(r, P_EXTRA, "#%zu \"%s\" expired on %s "
			    "and is not on the path a strict client builds: "
			    "drop it", i, c->subject,
			    certinfo_timestr(c->not_after, CERTINFO_TIME_DAY,
			    d, sizeof(d)));
		/* A root's own signature is never checked by anyone. */
		if (!c->self_signed && certinfo_weak_digest(c->sig_md))
			check_problem(r, P_SHA1, "#%zu \"%s\" is signed with "
			    "%s", i, c->subject, c->sig_alg);
		if (c->weak_key)
			check_problem(r, P_WEAK_KEY, "#%zu \"%s\" has a weak "
			    "key: %s %d bits", i, c->subject, c->key_type,
			    c->key_bits);
	}
	if (r->msg_size > CERTINFO_INITIAL_WINDOW)
		check_problem(r, P_TOO_LARGE, "the Certificate message is "
		    "%zu bytes, more than one TCP initial window (~%d bytes): "
		    "the handshake needs an extra round trip", r->msg_size,
		    CERTINFO_INITIAL_WINDOW);
	if (r->tls12 == 0 && r->tls13 == 0)
		check_problem(r, P_OLD_TLS, "the server negotiates only %s: "
		    "neither TLS 1.2 nor TLS 1.3 succeeded", r->protocol);
}

/*
 * The fix: what chain_assemble() (the engine behind `chainfix bundle`)
 * makes of the leaf, the certificates sent and the --intermediates
 * directory.
 */
static void
check_fix(struct check_report *r, const struct certload_set *roots,
    const struct certload_set *pool)
{
	const struct chain_cert *cc;
	struct chain *c;
	BIO *b = NULL;
	char *data;
	long n;
	size_t i;

	r->fix_tried = 1;
	if (r->ncerts == 0) {
		snprintf(r->fix_error, sizeof(r->fix_error), "no leaf");
		return;
	}
	c = chain_assemble(r->certs[0].x, "the server's leaf", NULL, pool,
	    roots, 0, r->fix_error, sizeof(r->fix_error));
	if (c == NULL) {
		if (r->fix_error[0] == '\0')
			snprintf(r->fix_error, sizeof(r->fix_error),
			    "the chain cannot be completed");
		return;
	}
	r->fix_error[0] = '\0';
	r->fix_ok = 1;
	r->fix_trusted = chain_trusted(c);
	r->fix_count = chain_served(c);
	r->fix_same = r->fix_count == r->ncerts;
	for (i = 0; r->fix_same && i < r->fix_count; i++) {
		cc = chain_get(c, i);
		if (cc == NULL || X509_cmp(cc->x509, r->certs[i].x) != 0)
			r->fix_same = 0;
	}
	if ((b = BIO_new(BIO_s_mem())) == NULL || chain_write_pem(c, b) == -1 ||
	    (n = BIO_get_mem_data(b, &data)) <= 0 ||
	    (r->fix_pem = malloc((size_t)n + 1)) == NULL) {
		snprintf(r->fix_error, sizeof(r->fix_error), "cannot write the "
		    "bundle");
		r->fix_ok = 0;
		ERR_clear_error();
	} else {
		memcpy(r->fix_pem, data, (size_t)n);
		r->fix_pem[n] = '\0';
	}
	BIO_free(b);
	chain_free(c);
}

/*
 * --activesync: what a phone sends first, on the connection whose chain we
 * just looked at.
 */
static void
check_header(const char *line, size_t len, const char *name, char *out,
    size_t outlen)
{
	size_t nlen = strlen(name);

	if (len <= nlen || strncasecmp(line, name, nlen) != 0 ||
	    line[nlen] != ':')
		return;
	line += nlen + 1;
	len -= nlen + 1;
	while (len > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		len--;
	}
	while (len > 0 && (line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	check_clean(line, len, out, outlen);
}

static void
check_activesync(struct check_report *r, const struct check_opts *o,
    struct probe *pr)
{
	char req[1024], hosthdr[300], *buf = NULL, *eol, *p, *end;
	size_t have = 0, done, off;
	long long deadline = probe_now_ms() + o->timeout_ms;
	int rv;

	r->as_tried = 1;
	r->as_status = -1;
	if (o->sni != NULL)
		snprintf(hosthdr, sizeof(hosthdr), "%s", o->sni);
	else if (strchr(o->host, ':') != NULL)
		snprintf(hosthdr, sizeof(hosthdr), "[%s]", o->host);
	else
		snprintf(hosthdr, sizeof(hosthdr), "%s", o->host);
	if (strcmp(o->port, "443") != 0) {
		off = strlen(hosthdr);
		snprintf(hosthdr + off, sizeof(hosthdr) - off, ":%s", o->port);
	}
	snprintf(req, sizeof(req),
	    "OPTIONS /Microsoft-Server-ActiveSync HTTP/1.1\r\n"
	    "Host: %s\r\n"
	    "User-Agent: chainfix-check/%s\r\n"
	    "Accept: */*\r\n"
	    "Content-Length: 0\r\n"
	    "Connection: close\r\n"
	    "\r\n", hosthdr, CHAINFIX_VERSION);
	for (off = 0; off < strlen(req); off += done) {
		if (probe_write(pr, req + off, strlen(req) - off, &done,
		    deadline, "sending the request", r->as_error,
		    sizeof(r->as_error)) != 1) {
			if (r->as_error[0] == '\0')
				snprintf(r->as_error, sizeof(r->as_error),
				    "the server closed the connection");
			return;
		}
	}
	if ((buf = malloc(CHECK_HTTP_MAX + 1)) == NULL) {
		snprintf(r->as_error, sizeof(r->as_error), "out of memory");
		return;
	}
	/* Only the head matters; stop at the blank line or the limit. */
	while (have < CHECK_HTTP_MAX) {
		rv = probe_read(pr, buf + have, CHECK_HTTP_MAX - have, &done,
		    deadline, "reading the response", r->as_error,
		    sizeof(r->as_error));
		if (rv == -1)
			break;
		have += done;
		buf[have] = '\0';
		if (rv == 0 || memmem(buf, have, "\r\n\r\n", 4) != NULL)
			break;
	}
	buf[have] = '\0';
	if (have == 0) {
		if (r->as_error[0] == '\0')
			snprintf(r->as_error, sizeof(r->as_error), "the server "
			    "closed the connection without an answer");
		goto out;
	}
	r->as_error[0] = '\0';
	end = buf + have;
	eol = memmem(buf, have, "\r\n", 2);
	if (eol == NULL)
		eol = end;
	check_clean(buf, (size_t)(eol - buf), r->as_status_line,
	    sizeof(r->as_status_line));
	if (strncmp(buf, "HTTP/", 5) != 0 || (p = memchr(buf, ' ',
	    (size_t)(eol - buf))) == NULL || eol - p < 4 ||
	    p[1] < '1' || p[1] > '5' || p[2] < '0' || p[2] > '9' ||
	    p[3] < '0' || p[3] > '9') {
		snprintf(r->as_error, sizeof(r->as_error), "not an HTTP "
		    "answer: \"%s\"", r->as_status_line);
		goto out;
	}
	r->as_status = (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
	for (p = eol; p < end && p + 2 <= end; p = eol) {
		p += 2;
		if ((eol = memmem(p, (size_t)(end - p), "\r\n", 2)) == NULL)
			eol = end;
		if (eol == p)
			break;		/* end of the head */
		check_header(p, (size_t)(eol - p), "MS-ASProtocolVersions",
		    r->as_versions, sizeof(r->as_versions));
		check_header(p, (size_t)(eol - p), "MS-Server-ActiveSync",
		    r->as_server, sizeof(r->as_server));
	}
 out:
	free(buf);
	ERR_clear_error();
}

static void
check_activesync_problem(struct check_report *r)
{
	if (!r->as_tried)
		return;
	if (r->as_status == -1)
		check_problem(r, P_ACTIVESYNC, "OPTIONS "
		    "/Microsoft-Server-ActiveSync got no HTTP answer: %s",
		    r->as_error);
	else if (r->as_status == 401)
		;	/* Exchange wants credentials: the normal answer. */
	else if (r->as_status != 200)
		check_problem(r, P_ACTIVESYNC, "OPTIONS "
		    "/Microsoft-Server-ActiveSync answered \"%s\"",
		    r->as_status_line);
	else if (r->as_versions[0] == '\0')
		check_problem(r, P_ACTIVESYNC, "OPTIONS "
		    "/Microsoft-Server-ActiveSync answered 200 without an "
		    "MS-ASProtocolVersions header: not an ActiveSync endpoint");
}

/*
 * Output.
 */

static void
check_json_str(FILE *f, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char c;

	if (s == NULL) {
		fputs("null", f);
		return;
	}
	putc('"', f);
	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			putc('\\', f);
			putc(c, f);
		} else if (c == '\n')
			fputs("\\n", f);
		else if (c < 0x20 || c >= 0x7f) {
			/* Bytes, not UTF-8: keep the document valid JSON. */
			fputs("\\u00", f);
			putc(hex[c >> 4], f);
			putc(hex[c & 0xf], f);
		} else
			putc(c, f);
	}
	putc('"', f);
}

static const char *
check_bool(int v)
{
	return v > 0 ? "true" : v == 0 ? "false" : "null";
}

static const char *
check_opt(const char *s)
{
	return s != NULL && *s != '\0' ? s : NULL;
}

static void
check_print_json(FILE *f, const struct check_report *r,
    const struct check_opts *o, enum check_sev worst, int code)
{
	char d[32];
	size_t i, ncrit = 0, nwarn = 0;
	int j, n, idx;
	time_t now = time(NULL);

	fputs("{\n  \"schema\": 1,\n  \"version\": ", f);
	check_json_str(f, CHAINFIX_VERSION);
	fputs(",\n  \"target\": {\"host\": ", f);
	check_json_str(f, o->host);
	fprintf(f, ", \"port\": %s, \"servername\": ", o->port);
	check_json_str(f, o->sni);
	fputs(", \"checked_name\": ", f);
	check_json_str(f, o->checkname);
	fputs(", \"address\": ", f);
	check_json_str(f, check_opt(r->address));
	fputs(", \"roots\": ", f);
	check_json_str(f, o->roots);
	fprintf(f, ", \"roots_count\": %zu},\n  \"verdict\": ", r->nroots);
	check_json_str(f, r->reachable ? check_verdicts[worst] :
	    "UNREACHABLE");
	fprintf(f, ",\n  \"exit_code\": %d,\n  \"error\": ", code);
	check_json_str(f, check_opt(r->error));
	if (!r->reachable) {
		fputs(",\n  \"tls\": null,\n  \"chain\": null,\n"
		    "  \"problems\": [],\n"
		    "  \"summary\": {\"critical\": 0, \"warnings\": 0},\n"
		    "  \"fix\": null,\n  \"activesync\": null\n}\n", f);
		return;
	}
	fputs(",\n  \"tls\": {\"protocol\": ", f);
	check_json_str(f, r->protocol);
	fputs(", \"cipher\": ", f);
	check_json_str(f, r->cipher);
	fprintf(f, ", \"tls1_2\": %s, \"tls1_3\": %s},\n", check_bool(r->tls12),
	    check_bool(r->tls13));

	fprintf(f, "  \"chain\": {\n    \"count\": %zu,\n"
	    "    \"certificate_message_size\": %zu,\n"
	    "    \"initial_window\": %d,\n"
	    "    \"verified\": %s,\n    \"trusted\": %s,\n"
	    "    \"sent\": [", r->ncerts, r->msg_size, CERTINFO_INITIAL_WINDOW,
	    check_bool(r->verified), check_bool(r->verified &&
	    r->path_trusted));
	for (i = 0; i < r->ncerts; i++) {
		const struct check_cert *c = &r->certs[i];

		fprintf(f, "%s\n      {\"index\": %zu, \"role\": ",
		    i ? "," : "", i);
		check_json_str(f, c->role);
		fputs(", \"subject\": ", f);
		check_json_str(f, c->subject);
		fputs(", \"issuer\": ", f);
		check_json_str(f, c->issuer);
		fputs(", \"key_type\": ", f);
		check_json_str(f, c->key_type);
		fprintf(f, ", \"key_bits\": %d, \"key_curve\": ", c->key_bits);
		check_json_str(f, check_opt(c->key_curve));
		fputs(", \"signature_algorithm\": ", f);
		check_json_str(f, c->sig_alg);
		fputs(", \"not_before\": ", f);
		check_json_str(f, certinfo_timestr(c->not_before,
		    CERTINFO_TIME_ISO8601, d, sizeof(d)));
		fputs(", \"not_after\": ", f);
		check_json_str(f, certinfo_timestr(c->not_after,
		    CERTINFO_TIME_ISO8601, d, sizeof(d)));
		fprintf(f, ", \"days_left\": %ld, \"sha256\": ",
		    certinfo_days_left(c->not_after, now));
		check_json_str(f, c->sha256);
		fprintf(f, ", \"der_size\": %zu, \"self_signed\": %s, "
		    "\"duplicate_of\": ", c->der_len,
		    check_bool(c->self_signed));
		if (c->duplicate_of >= 0)
			fprintf(f, "%d}", c->duplicate_of);
		else
			fputs("null}", f);
	}
	fputs("\n    ],\n    \"path\": [", f);
	n = r->path != NULL ? sk_X509_num(r->path) : 0;
	for (j = 0; j < n; j++) {
		X509 *x = sk_X509_value(r->path, j);
		char name[256];

		certinfo_name(X509_get_subject_name(x), name, sizeof(name));
		idx = check_sent_index(r, x);
		fprintf(f, "%s\n      {\"subject\": ", j ? "," : "");
		check_json_str(f, name);
		if (idx >= 0)
			fprintf(f, ", \"sent_index\": %d, ", idx);
		else
			fputs(", \"sent_index\": null, ", f);
		fprintf(f, "\"from_roots\": %s}", check_bool(idx < 0 ||
		    (j == n - 1 && r->path_trusted)));
	}
	fputs("\n    ],\n    \"missing_issuer\": ", f);
	if (r->missing_subject[0] != '\0') {
		fputs("{\"subject\": ", f);
		check_json_str(f, r->missing_subject);
		fputs(", \"issuer_of\": ", f);
		check_json_str(f, r->missing_of);
		fputs(", \"aia_url\": ", f);
		check_json_str(f, check_opt(r->missing_aia));
		fputs("}", f);
	} else
		fputs("null", f);
	fputs("\n  },\n  \"problems\": [", f);
	for (i = 0; i < r->nproblems; i++) {
		const struct check_problem *p = &r->problems[i];

		if (check_codes[p->code].sev == CHECK_SEV_CRIT)
			ncrit++;
		else
			nwarn++;
		fprintf(f, "%s\n    {\"code\": ", i ? "," : "");
		check_json_str(f, check_codes[p->code].id);
		fputs(", \"severity\": ", f);
		check_json_str(f, check_codes[p->code].sev == CHECK_SEV_CRIT ?
		    "critical" : "warning");
		fputs(", \"message\": ", f);
		check_json_str(f, p->msg);
		fputs("}", f);
	}
	fprintf(f, "%s],\n  \"summary\": {\"critical\": %zu, \"warnings\": "
	    "%zu},\n  \"fix\": ", r->nproblems ? "\n  " : "", ncrit, nwarn);
	if (r->fix_tried) {
		fputs("{\"intermediates\": ", f);
		check_json_str(f, o->intermediates);
		fprintf(f, ", \"complete\": %s, \"trusted\": %s, "
		    "\"already_sent\": %s, \"count\": %zu, \"error\": ",
		    check_bool(r->fix_ok), check_bool(r->fix_ok &&
		    r->fix_trusted), check_bool(r->fix_ok && r->fix_same),
		    r->fix_count);
		check_json_str(f, check_opt(r->fix_error));
		fputs(", \"bundle\": ", f);
		check_json_str(f, r->fix_ok ? r->fix_pem : NULL);
		fputs("}", f);
	} else
		fputs("null", f);
	fputs(",\n  \"activesync\": ", f);
	if (r->as_tried) {
		fputs("{\"status\": ", f);
		if (r->as_status >= 0)
			fprintf(f, "%d", r->as_status);
		else
			fputs("null", f);
		fputs(", \"status_line\": ", f);
		check_json_str(f, check_opt(r->as_status_line));
		fputs(", \"protocol_versions\": ", f);
		check_json_str(f, check_opt(r->as_versions));
		fputs(", \"server_version\": ", f);
		check_json_str(f, check_opt(r->as_server));
		fputs(", \"error\": ", f);
		check_json_str(f, check_opt(r->as_error));
		fputs("}", f);
	} else
		fputs("null", f);
	fputs("\n}\n", f);
}

static void
check_print_human(FILE *f, const struct check_report *r,
    const struct check_opts *o, enum check_sev worst)
{
	char d1[32], d2[32], name[256], target[300], esc[300];
	size_t i, k;
	int j, n, idx, first;
	time_t now = time(NULL);

	log_escape(o->target, target, sizeof(target));
	if (!r->reachable) {
		fprintf(f, "UNREACHABLE %s: %s\n", target, r->error);
		return;
	}
	/* The verdict line: distinct problem titles, worst first. */
	fprintf(f, "%s %s: ", check_verdicts[worst], target);
	first = 1;
	for (k = 0; k < 2; k++) {
		enum check_sev want = k == 0 ? CHECK_SEV_CRIT : CHECK_SEV_WARN;

		for (i = 0; i < r->nproblems; i++) {
			enum check_code c = r->problems[i].code;
			size_t m;
			int seen = 0;

			if (check_codes[c].sev != want)
				continue;
			for (m = 0; m < i; m++)
				if (r->problems[m].code == c)
					seen = 1;
			if (seen)
				continue;
			fprintf(f, "%s%s", first ? "" : "; ",
			    check_codes[c].title);
			first = 0;
		}
	}
	if (first)
		fputs("the chain is complete and valid", f);
	fputs("\n\n", f);

	fprintf(f, "Connected to %s", r->address);
	if (o->sni != NULL)
		fprintf(f, " (SNI %s)", o->sni);
	fprintf(f, ": %s, %s\n", r->protocol, r->cipher);
	fprintf(f, "TLS 1.2: %s   TLS 1.3: %s\n\n",
	    r->tls12 > 0 ? "yes" : r->tls12 == 0 ? "no" : "not tried",
	    r->tls13 > 0 ? "yes" : r->tls13 == 0 ? "no" : "not tried");

	fprintf(f, "Chain as sent: %zu certificate%s, %zu bytes in the "
	    "Certificate message (one TCP initial window is ~%d)\n",
	    r->ncerts, r->ncerts == 1 ? "" : "s", r->msg_size,
	    CERTINFO_INITIAL_WINDOW);
	for (i = 0; i < r->ncerts; i++) {
		const struct check_cert *c = &r->certs[i];

		fprintf(f, "  #%zu %s\n", i, c->role);
		fprintf(f, "     subject:   %s\n", c->subject);
		fprintf(f, "     issuer:    %s\n", c->issuer);
		fprintf(f, "     key:       %s %d bits%s%s, signed with %s\n",
		    c->key_type, c->key_bits, c->key_curve[0] ? " " : "",
		    c->key_curve, c->sig_alg);
		fprintf(f, "     valid:     %s to %s (%ld days left)\n",
		    certinfo_timestr(c->not_before, CERTINFO_TIME_ISO8601, d1,
		    sizeof(d1)),
		    certinfo_timestr(c->not_after, CERTINFO_TIME_ISO8601, d2,
		    sizeof(d2)),
		    certinfo_days_left(c->not_after, now));
		fputs("     sha256:    ", f);
		for (k = 0; k + 1 < sizeof(c->sha256) && c->sha256[k]; k += 2)
			fprintf(f, "%s%c%c", k ? ":" : "",
			    c->sha256[k] >= 'a' ? c->sha256[k] - 32 :
			    c->sha256[k], c->sha256[k + 1] >= 'a' ?
			    c->sha256[k + 1] - 32 : c->sha256[k + 1]);
		fprintf(f, "\n     size:      %zu bytes\n", c->der_len);
	}

	log_escape(o->roots, name, sizeof(name));
	fprintf(f, "\nPath a strict client builds (roots: %s, %zu certificate%s):\n",
	    name, r->nroots, r->nroots == 1 ? "" : "s");
	n = r->path != NULL ? sk_X509_num(r->path) : 0;
	for (j = 0; j < n; j++) {
		X509 *x = sk_X509_value(r->path, j);

		certinfo_name(X509_get_subject_name(x), name, sizeof(name));
		idx = check_sent_index(r, x);
		if (j == n - 1 && r->path_trusted)
			fprintf(f, "  %s (trusted root%s)\n", name, idx >= 0 ?
			    ", also sent" : "");
		else if (idx >= 0)
			fprintf(f, "  %s (sent as #%d)\n", name, idx);
		else
			fprintf(f, "  %s\n", name);
	}
	if (r->missing_subject[0] != '\0')
		fprintf(f, "  ?? missing: %s%s%s%s\n", r->missing_subject,
		    r->missing_aia[0] ? " (AIA: " : "",
		    r->missing_aia[0] ? r->missing_aia : "",
		    r->missing_aia[0] ? ")" : "");
	fprintf(f, "  => %s\n", r->verified ? "verifies" :
	    "does NOT verify");

	fputs("\nProblems:\n", f);
	if (r->nproblems == 0)
		fputs("  none\n", f);
	for (i = 0; i < r->nproblems; i++)
		fprintf(f, "  %-8s %s: %s\n",
		    check_codes[r->problems[i].code].sev == CHECK_SEV_CRIT ?
		    "CRITICAL" : "WARNING", check_codes[r->problems[i].code].id,
		    r->problems[i].msg);

	if (r->fix_tried) {
		log_escape(o->intermediates, name, sizeof(name));
		fprintf(f, "\nFix from %s:\n", name);
		if (!r->fix_ok)
			fprintf(f, "  the directory does not complete the "
			    "chain: %s\n", r->fix_error);
		else if (r->fix_same)
			fprintf(f, "  the server already sends the chain "
			    "chainfix would build (%zu certificates)\n",
			    r->fix_count);
		else {
			fprintf(f, "  serve these %zu certificates, leaf "
			    "first%s:\n", r->fix_count, r->fix_trusted ? "" :
			    " (NOTE: the chain does not end at a trusted "
			    "root)");
			fputs(r->fix_pem, f);
			fprintf(f, "  (`chainfix bundle --cert LEAF "
			    "--intermediates %s --roots %s` writes the same "
			    "bundle from the leaf's file, or let chainfix serve "
			    "it)\n", name, log_escape(o->roots, esc,
			    sizeof(esc)));
		}
	} else if (check_has(r, P_INCOMPLETE) || check_has(r, P_ORDER) ||
	    check_has(r, P_EXTRA) || check_has(r, P_INT_EXPIRED) ||
	    check_has(r, P_EXPIRED_CROSS)) {
		fprintf(f, "\nFix: collect the intermediates in a directory%s%s%s, "
		    "then\n  chainfix check %s%s%s --intermediates DIR   "
		    "shows the bundle to serve,\n  chainfix bundle --cert "
		    "LEAF --intermediates DIR%s%s   writes it\n",
		    r->missing_aia[0] ? " (the missing one: " : "",
		    r->missing_aia, r->missing_aia[0] ? ")" : "", target,
		    strcmp(o->roots, "system") ? " --roots " : "",
		    strcmp(o->roots, "system") ? log_escape(o->roots, esc,
		    sizeof(esc)) : "", strcmp(o->roots, "system") ?
		    " --roots " : "", strcmp(o->roots, "system") ? esc : "");
	}

	if (r->as_tried) {
		fputs("\nActiveSync (OPTIONS /Microsoft-Server-ActiveSync):\n",
		    f);
		if (r->as_status < 0)
			fprintf(f, "  no answer: %s\n", r->as_error);
		else {
			fprintf(f, "  %s\n", r->as_status_line);
			fprintf(f, "  MS-ASProtocolVersions: %s\n",
			    r->as_versions[0] ? r->as_versions : "(none)");
			if (r->as_server[0])
				fprintf(f, "  MS-Server-ActiveSync: %s\n",
				    r->as_server);
			if (r->as_status == 401)
				fputs("  (401: authentication required, which "
				    "is Exchange's answer without "
				    "credentials)\n", f);
		}
	}
}

/*
 * The command.
 */

static void
check_report_free(struct check_report *r)
{
	size_t i;
	int j;

	for (i = 0; i < r->ncerts; i++)
		X509_free(r->certs[i].x);
	for (j = 0; j < r->nverrs; j++)
		X509_free(r->verrs[j].cert);
	if (r->path != NULL)
		sk_X509_pop_free(r->path, X509_free);
	free(r->fix_pem);
}

int
check_main(int argc, char **argv)
{
	struct check_opts o;
	struct check_report *r = NULL;
	struct certload_set *roots = NULL, *pool = NULL;
	SSL_CTX *ctx = NULL;
	struct probe *p;
	enum check_sev worst;
	char esc[512];
	size_t i;
	int help, code = 3, v;

	if (check_parse_args(argc, argv, &o, &help) == -1) {
		fputs(check_usage_text, stderr);
		return 3;
	}
	if (help) {
		fputs(check_usage_text, stdout);
		return 0;
	}
	/* A peer that closes early must not kill us with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (roots = certload_set_new()) == NULL ||
	    (pool = certload_set_new()) == NULL) {
		fprintf(stderr, "chainfix check: out of memory\n");
		goto out;
	}
	r->tls12 = r->tls13 = -1;
	if (certload_roots(o.roots, roots) == -1) {
		fprintf(stderr, "chainfix check: cannot load the roots '%s'\n",
		    log_escape(o.roots, esc, sizeof(esc)));
		goto out;
	}
	r->nroots = certload_set_count(roots);
	if (o.intermediates != NULL &&
	    certload_dir(o.intermediates, pool) == -1) {
		fprintf(stderr, "chainfix check: cannot read the "
		    "intermediates directory '%s'\n",
		    log_escape(o.intermediates, esc, sizeof(esc)));
		goto out;
	}
	if ((ctx = check_ctx()) == NULL) {
		log_ssl(LOG_LEVEL_ERR, "chainfix check: cannot create a TLS "
		    "context");
		goto out;
	}

	p = check_handshake(ctx, &o, 0, r->address, sizeof(r->address),
	    r->error, sizeof(r->error));
	if (p != NULL) {
		r->reachable = 1;
		check_collect(r, probe_ssl(p));
		v = SSL_version(probe_ssl(p));
		if (v == TLS1_3_VERSION)
			r->tls13 = 1;
		if (v == TLS1_2_VERSION)
			r->tls12 = 1;
		if (o.activesync)
			check_activesync(r, &o, p);
		probe_close(p);
		if (r->tls12 == -1)
			r->tls12 = check_probe(ctx, &o, TLS1_2_VERSION);
		if (r->tls13 == -1)
			r->tls13 = check_probe(ctx, &o, TLS1_3_VERSION);
		/* The sent certificates are candidates for the fix too. */
		if (o.intermediates != NULL)
			for (i = 1; i < r->ncerts; i++)
				if (certload_set_add(pool, r->certs[i].x,
				    "sent by the server") == -1)
					break;
		check_analyze(r, &o, roots, pool);
		check_activesync_problem(r);
		if (o.intermediates != NULL)
			check_fix(r, roots, pool);
	}

	worst = check_worst(r);
	if (!r->reachable)
		code = 3;
	else
		code = worst == CHECK_SEV_CRIT ? 2 : worst == CHECK_SEV_WARN ?
		    1 : 0;
	if (o.json)
		check_print_json(stdout, r, &o, worst, code);
	else
		check_print_human(stdout, r, &o, worst);
	if (fflush(stdout) == EOF) {
		fprintf(stderr, "chainfix check: writing the report: %s\n",
		    strerror(errno));
		code = 3;
	}
 out:
	SSL_CTX_free(ctx);
	certload_set_free(pool);
	certload_set_free(roots);
	if (r != NULL)
		check_report_free(r);
	free(r);
	return code;
}
