/*
 * selftest.c: the backend self-test (selftest.h).
 *
 * The handshake uses the site's own backend context (tlsctx.c), so SNI,
 * the expected name, the CA and the protocol settings are exactly the
 * proxy's, and a backend that the proxy would refuse fails here too.  Only
 * then, to show which certificate such a backend presents, a second
 * handshake without verification runs on a context of our own: a session
 * from it must never reach the proxy's backend session cache, where a
 * worker could resume it and skip verification altogether.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <arpa/inet.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "bgthread.h"
#include "certinfo.h"
#include "certload.h"
#include "chain.h"
#include "config.h"
#include "generation.h"
#include "log.h"
#include "probe.h"
#include "selftest.h"
#include "tlsctx.h"

#define SELFTEST_LINE	1536

/*
 * What the diagnosis handshake offers: every protocol version and cipher
 * OpenSSL has, at security level 0, to learn what an old backend speaks.
 */
#define SELFTEST_ANY_CIPHER	"ALL:@SECLEVEL=0"

/* What the cipher list of a backend context allowing TLS < 1.2 starts as. */
#define SELFTEST_OLD_CIPHERS	"DEFAULT:@SECLEVEL=0"

/* One backend under test, and where its lines go. */
struct selftest_target {
	const struct config_site *site;
	struct tlsctx_backend	*tb;
	size_t			 idx;
	const struct config_hostport *b;	/* site->backends[idx] */
	const struct chain_cert	*leaf;		/* served leaf; NULL: unknown */
	const char		*sni;		/* "" when none */
	int			 cancel_fd;
	selftest_report_fn	*report;
	void			*arg;
};


static void
selftest_vreport(selftest_report_fn *report, void *arg,
    enum selftest_kind kind, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));
static void
selftest_report(selftest_report_fn *report, void *arg, enum selftest_kind kind,
    const char *fmt, ...) LOG_PRINTF(4, 5);

static void
selftest_vreport(selftest_report_fn *report, void *arg,
    enum selftest_kind kind, const char *fmt, va_list ap)
{
	char line[SELFTEST_LINE];

	vsnprintf(line, sizeof(line), fmt, ap);
	report(arg, kind, line);
}

static void
selftest_report(selftest_report_fn *report, void *arg, enum selftest_kind kind,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	selftest_vreport(report, arg, kind, fmt, ap);
	va_end(ap);
}

static void
selftest_fix(const struct selftest_target *t, const char *line,
    const char *fmt, ...) LOG_PRINTF(3, 4);

/*
 * After a problem: what to do about it (SELFTEST_FIX), then the
 * configuration line that does it (SELFTEST_FIX_LINE) if line is not NULL.
 */
static void
selftest_fix(const struct selftest_target *t, const char *line,
    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	selftest_vreport(t->report, t->arg, SELFTEST_FIX, fmt, ap);
	va_end(ap);
	if (line != NULL)
		t->report(t->arg, SELFTEST_FIX_LINE, line);
}

/* Another configuration line for the fix just reported. */
static void
selftest_fix_line(const struct selftest_target *t, const char *line)
{
	t->report(t->arg, SELFTEST_FIX_LINE, line);
}

/* The name the proxy expects in backend idx's certificate. */
static const char *
selftest_expected_name(const struct config_site *site, size_t idx)
{
	return site->backend_sni != NULL ? site->backend_sni :
	    site->backends[idx].host;
}

/*
 * The name a client would ask the site for: its leaf's first DNS name that
 * is not a wildcard, else its CN.  Used as SNI when backend_sni is unset,
 * as the proxy would send the client's.  "" when there is none.
 */
static void
selftest_leaf_name(X509 *leaf, char *out, size_t outlen)
{
	GENERAL_NAMES *gens;
	const GENERAL_NAME *gen;
	const unsigned char *s;
	X509_NAME_ENTRY *e;
	ASN1_STRING *cn;
	int i, n, idx;

	out[0] = '\0';
	gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
	n = gens != NULL ? sk_GENERAL_NAME_num(gens) : 0;
	for (i = 0; i < n && out[0] == '\0'; i++) {
		gen = sk_GENERAL_NAME_value(gens, i);
		if (gen->type != GEN_DNS)
			continue;
		s = ASN1_STRING_get0_data(gen->d.dNSName);
		if (ASN1_STRING_length(gen->d.dNSName) <= 0 ||
		    memchr(s, '\0', (size_t)ASN1_STRING_length(
		    gen->d.dNSName)) != NULL || s[0] == '*')
			continue;
		snprintf(out, outlen, "%.*s", ASN1_STRING_length(
		    gen->d.dNSName), (const char *)s);
	}
	GENERAL_NAMES_free(gens);
	if (out[0] != '\0')
		return;
	idx = X509_NAME_get_index_by_NID(X509_get_subject_name(leaf),
	    NID_commonName, -1);
	if (idx < 0 || (e = X509_NAME_get_entry(X509_get_subject_name(leaf),
	    idx)) == NULL || (cn = X509_NAME_ENTRY_get_data(e)) == NULL)
		return;
	s = ASN1_STRING_get0_data(cn);
	if (ASN1_STRING_length(cn) <= 0 || s[0] == '*' ||
	    memchr(s, '\0', (size_t)ASN1_STRING_length(cn)) != NULL)
		return;
	snprintf(out, outlen, "%.*s", ASN1_STRING_length(cn),
	    (const char *)s);
}

/* The first bytes of a SHA-256 in hex, enough to tell two apart. */
static void
selftest_fpr(const unsigned char *md, char *out, size_t outlen)
{
	size_t off;

	off = strlen(certinfo_hex(md, 8, out, outlen));
	if (off + 4 <= outlen)
		snprintf(out + off, outlen - off, "...");
}

/* Seconds from the configuration to probe's milliseconds. */
static int
selftest_ms(unsigned secs)
{
	if (secs == 0)
		secs = 10;
	return secs > INT_MAX / 1000 ? INT_MAX : (int)secs * 1000;
}

/*
 * How the proxy's verification judges the backend: 1 and a description
 * when it would accept it, 0 and the reason when it would not.
 */
static int
selftest_verdict(const struct config_site *site, struct tlsctx_backend *tb,
    size_t idx, SSL *ssl, char *out, size_t outlen)
{
	char why[256];
	long vr;

	switch (site->backend_verify) {
	case CONFIG_VERIFY_YES:
		if ((vr = SSL_get_verify_result(ssl)) != X509_V_OK) {
			snprintf(out, outlen, "does NOT verify: %s",
			    X509_verify_cert_error_string(vr));
			return 0;
		}
		/* The name tlsctx_backend_ssl() told OpenSSL to expect. */
		snprintf(out, outlen, "verifies (%s%s, name %s)",
		    site->backend_ca != NULL ? "backend_ca " : "system roots",
		    site->backend_ca != NULL ? site->backend_ca : "",
		    selftest_expected_name(site, idx));
		return 1;
	case CONFIG_VERIFY_PIN:
		if (tlsctx_backend_check(tb, ssl, why, sizeof(why)) == -1) {
			snprintf(out, outlen, "does NOT verify: %s", why);
			return 0;
		}
		snprintf(out, outlen, "verifies (matches the sha256 pin)");
		return 1;
	case CONFIG_VERIFY_NO:
		break;
	}
	snprintf(out, outlen, "not verified (backend_verify = no)");
	return 1;
}

/* 1 if a byte waits in cancel_fd. */
static int
selftest_cancelled(int cancel_fd)
{
	struct pollfd pfd;

	if (cancel_fd == -1)
		return 0;
	pfd.fd = cancel_fd;
	pfd.events = POLLIN;
	pfd.revents = 0;
	return poll(&pfd, 1, 0) == 1;
}

/* Connect to backend t->idx as the proxy would; NULL: see fail and err. */
static struct probe *
selftest_connect(const struct selftest_target *t, enum probe_fail *fail,
    char *err, size_t errlen)
{
	char port[8];

	snprintf(port, sizeof(port), "%u", (unsigned)t->b->port);
	return probe_connect_cancel(t->b->host, port,
	    selftest_ms(t->site->connect_timeout), t->cancel_fd, fail, err,
	    errlen);
}

/*
 * A handshake with backend t->idx that verifies nothing and accepts every
 * protocol version and cipher OpenSSL has (security level 0), with the SNI
 * the proxy would send: to see the certificate of a backend the proxy
 * refuses, or to find out what an old backend does speak.  The context is
 * ours and caches no session (see the top of the file).  Returns the probe
 * or NULL with the reason in err.
 */
static struct probe *
selftest_peek(const struct selftest_target *t, char *err, size_t errlen)
{
	const char *name;
	struct probe *p;
	SSL_CTX *ctx;
	SSL *ssl = NULL;

	if ((p = selftest_connect(t, NULL, err, errlen)) == NULL)
		return NULL;
	name = t->site->backend_sni != NULL ? t->site->backend_sni :
	    t->sni[0] != '\0' ? t->sni : t->b->host;
	if ((ctx = SSL_CTX_new(TLS_client_method())) != NULL) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF |
		    SSL_OP_NO_TICKET);
		/* The cipher string's @SECLEVEL sets the security level. */
		if (SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION) != 1 ||
		    SSL_CTX_set_cipher_list(ctx, SELFTEST_ANY_CIPHER) != 1 ||
		    (ssl = SSL_new(ctx)) == NULL ||
		    (!certinfo_is_ip(name) &&
		    tlsctx_set_sni(ssl, name) != 1)) {
			SSL_free(ssl);
			ssl = NULL;
		}
	}
	/* The SSL holds its own reference to ctx. */
	SSL_CTX_free(ctx);
	if (probe_handshake(p, ssl, selftest_ms(t->site->handshake_timeout),
	    err, errlen) == -1) {
		probe_close(p);
		return NULL;
	}
	return p;
}

/* "sha256:" and the 64 hex digits of the DER's SHA-256: a backend_verify pin. */
static int
selftest_pin(X509 *x, char *out, size_t outlen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t off;

	if (X509_digest(x, EVP_sha256(), md, &mdlen) != 1 || mdlen != 32) {
		ERR_clear_error();
		return -1;
	}
	off = (size_t)snprintf(out, outlen, "sha256:");
	if (off < outlen)
		certinfo_hex(md, mdlen, out + off, outlen - off);
	return 0;
}

/*
 * 1 if cipher is among those a backend context allowing protocol v and
 * older uses without backend_ciphers (SELFTEST_OLD_CIPHERS).
 */
static int
selftest_default_cipher(int v, const char *cipher)
{
	STACK_OF(SSL_CIPHER) *sk;
	SSL_CTX *ctx;
	int i, found = 1;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		goto done;
	if (SSL_CTX_set_min_proto_version(ctx, v) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, SELFTEST_OLD_CIPHERS) != 1 ||
	    (sk = SSL_CTX_get_ciphers(ctx)) == NULL)
		goto done;
	found = 0;
	for (i = 0; i < sk_SSL_CIPHER_num(sk) && !found; i++)
		found = strcmp(SSL_CIPHER_get_name(sk_SSL_CIPHER_value(sk, i)),
		    cipher) == 0;
 done:
	/* Unsure (out of memory): say nothing about ciphers. */
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return found;
}

/* 1 if the file at path is PEM (backend_ca must be), 0 if not or unreadable. */
static int
selftest_is_pem(const char *path)
{
	char buf[4096];
	size_t n;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return strstr(buf, "-----BEGIN ") != NULL;
}

/* 1 if x is in the chain the backend sent. */
static int
selftest_in(STACK_OF(X509) *sent, X509 *x)
{
	int i;

	for (i = 0; sent != NULL && i < sk_X509_num(sent); i++)
		if (X509_cmp(sk_X509_value(sent, i), x) == 0)
			return 1;
	return 0;
}

/*
 * An internal CA: when the site's own roots (with its intermediates, for
 * what the backend does not send) make the backend's chain verify, the
 * fix is to trust them for the backend too.  Reports it and returns 1;
 * returns 0 when the site's roots do not help.
 */
static int
selftest_fix_ca(const struct selftest_target *t, X509 *peer,
    STACK_OF(X509) *sent, const char *issuer)
{
	const struct config_site *site = t->site;
	const struct chain_cert *cc;
	struct certload_set *roots = NULL, *pool = NULL;
	struct chain *c = NULL;
	const char *files[8];
	char cmd[1024], line[600], err[256];
	size_t nfiles = 0, i, j, off;
	int k, missing = 0, done = 0;

	if (site->roots == NULL || strcmp(site->roots, "system") == 0 ||
	    strcmp(site->roots, "none") == 0)
		return 0;
	if ((roots = certload_set_new()) == NULL ||
	    certload_roots(site->roots, roots) < 1 ||
	    (pool = certload_set_new()) == NULL)
		goto out;
	for (k = 0; sent != NULL && k < sk_X509_num(sent); k++)
		if (certload_set_add(pool, sk_X509_value(sent, k),
		    "the backend") == -1)
			goto out;
	/* What the backend leaves out may be in the site's directory. */
	if (site->intermediates != NULL)
		(void)certload_dir(site->intermediates, pool);
	/*
	 * chainfix's own engine, not X509_verify_cert() on the pool: a
	 * cross-sign in the directory would lead OpenSSL astray.
	 */
	if ((c = chain_assemble(peer, "the backend", NULL, pool, roots, 1,
	    err, sizeof(err))) == NULL || !chain_trusted(c))
		goto out;
	/* The certificates beyond what was sent, and their files. */
	for (i = 1; i < chain_length(c); i++) {
		cc = chain_get(c, i);
		if (selftest_in(sent, cc->x509))
			continue;
		if (i + 1 < chain_length(c))
			missing++;	/* an intermediate, not the root */
		for (j = 0; j < nfiles && strcmp(files[j], cc->source) != 0;
		    j++)
			;
		if (j == nfiles && nfiles < sizeof(files) / sizeof(files[0]))
			files[nfiles++] = cc->source;
	}
	if (nfiles == 0)
		goto out;
	if (missing > 0)
		selftest_fix(t, NULL, "the backend sends its certificate "
		    "without the intermediate%s it needs: install its complete "
		    "chain there (`chainfix bundle` writes one), or trust them "
		    "here:", missing == 1 ? "" : "s");
	if (nfiles == 1 && selftest_is_pem(files[0])) {
		snprintf(line, sizeof(line), "backend_ca = %s", files[0]);
		selftest_fix(t, line, "the backend's certificate (issuer %s) "
		    "verifies against this site's own roots (%s): trust them "
		    "for its backend too", issuer, site->roots);
	} else {
		/* backend_ca is one PEM file: say how to make it. */
		off = (size_t)snprintf(cmd, sizeof(cmd), "{");
		for (j = 0; j < nfiles && off < sizeof(cmd); j++)
			off += (size_t)snprintf(cmd + off, sizeof(cmd) - off,
			    selftest_is_pem(files[j]) ? " cat %s;" :
			    " openssl x509 -inform DER -in %s;", files[j]);
		if (off < sizeof(cmd))
			snprintf(cmd + off, sizeof(cmd) - off,
			    " } > /etc/chainfix/backend-ca.pem");
		selftest_fix(t, "backend_ca = /etc/chainfix/backend-ca.pem",
		    "the backend's certificate (issuer %s) verifies with this "
		    "site's own roots and intermediates: put them in one PEM "
		    "file for its backend (%s)", issuer, cmd);
	}
	done = 1;
 out:
	chain_free(c);
	certload_set_free(pool);
	certload_set_free(roots);
	ERR_clear_error();
	return done;
}

/* The fix for an unreachable backend: what the failure points at. */
static void
selftest_fix_unreachable(const struct selftest_target *t,
    enum probe_fail fail)
{
	char h[300];

	log_escape(t->b->host, h, sizeof(h));
	switch (fail) {
	case PROBE_FAIL_RESOLVE:
		selftest_fix(t, NULL, "the name %s does not resolve on this "
		    "host: check `backend` in [%s], DNS or /etc/hosts", h,
		    t->site->name);
		break;
	case PROBE_FAIL_REFUSED:
		selftest_fix(t, NULL, "nothing listens on %s: check the port "
		    "in `backend` (Exchange serves HTTPS on 443) and that the "
		    "service runs", t->b->text);
		break;
	case PROBE_FAIL_TIMEOUT:
		selftest_fix(t, NULL, "no answer within connect_timeout "
		    "(%us): a firewall drops the connection, or the address "
		    "is wrong", t->site->connect_timeout);
		break;
	default:
		selftest_fix(t, NULL, "check the address in `backend` and "
		    "the route from this host to %s", t->b->text);
		break;
	}
}

/* 1 if what a peer sent reads as text (a plain protocol), not TLS. */
static int
selftest_is_text(const unsigned char *buf, size_t n)
{
	size_t i;

	/* A TLS record starts with its type: 0x14 to 0x18. */
	if (n == 0 || (buf[0] >= 0x14 && buf[0] <= 0x18))
		return 0;
	for (i = 0; i < n; i++)
		if ((buf[i] < 0x20 || buf[i] >= 0x7f) && buf[i] != '\r' &&
		    buf[i] != '\n' && buf[i] != '\t')
			return 0;
	return 1;
}

/*
 * After a TLS error that looks like a plain-text peer: ask again without
 * TLS.  Returns 1 (and reports) if the backend answers in plain text.
 */
static int
selftest_plain(const struct selftest_target *t)
{
	static const char req[] = "HEAD / HTTP/1.0\r\n\r\n";
	unsigned char buf[120];
	char line[sizeof(buf) + 1], esc[4 * sizeof(buf) + 1], err[256];
	struct probe *p;
	size_t n, i;

	if ((p = selftest_connect(t, NULL, err, sizeof(err))) == NULL)
		return 0;
	/* A banner (SMTP, IMAP) comes first anyway; HTTP needs a request. */
	if (probe_plain(p, req, sizeof(req) - 1, buf, sizeof(buf), &n,
	    selftest_ms(t->site->handshake_timeout), err, sizeof(err)) ==
	    -1 || !selftest_is_text(buf, n)) {
		probe_close(p);
		return 0;
	}
	probe_close(p);
	for (i = 0; i < n && buf[i] != '\r' && buf[i] != '\n'; i++)
		line[i] = (char)buf[i];
	line[i] = '\0';
	selftest_report(t->report, t->arg, SELFTEST_PROBLEM, "site %s: "
	    "backend %s: reachable, but it does not speak TLS: it answers "
	    "in plain text (\"%s\")", t->site->name, t->b->text,
	    log_escape(line, esc, sizeof(esc)));
	if (t->site->mode == CONFIG_MODE_PASSTHROUGH)
		selftest_fix(t, NULL, "a passthrough site hands the client's "
		    "TLS to the backend as it is: point `backend` at its TLS "
		    "port (Exchange: 443), or terminate here (mode = "
		    "terminate, with backend_tls = no)");
	else
		selftest_fix(t, "backend_tls = no", "if %s is a plain (HTTP) "
		    "backend on a network you trust, say so (the traffic to "
		    "it is then NOT encrypted); otherwise point `backend` at "
		    "its TLS port (Exchange: 443)", t->b->text);
	return 1;
}

/*
 * The handshake failed for a reason other than the certificate.  Find out
 * what the backend does speak (plain text, an old protocol, a weak cipher)
 * and report the problem with its fix.
 */
static void
selftest_no_handshake(const struct selftest_target *t, struct probe *p,
    const char *err)
{
	enum probe_fail fail = probe_failure(p);
	unsigned long e = probe_tls_error(p);
	const char *ver, *cipher, *want;
	char perr[256], addr[PROBE_ADDRSTRLEN], line[160];
	struct probe *q;
	SSL *ssl;
	int v;

	snprintf(addr, sizeof(addr), "%s", probe_address(p));
	if (fail == PROBE_FAIL_TIMEOUT) {
		selftest_report(t->report, t->arg, SELFTEST_PROBLEM, "site %s: "
		    "backend %s: reachable (%s), but it did not answer the TLS "
		    "handshake within handshake_timeout (%us)", t->site->name,
		    t->b->text, addr, t->site->handshake_timeout);
		selftest_fix(t, NULL, "the backend accepts connections and "
		    "never answers: a hung service, or not a TLS port "
		    "(Exchange: 443)");
		return;
	}
	/* A plain-text answer to a ClientHello reads as a bad TLS record. */
	if ((fail == PROBE_FAIL_CLOSED || (fail == PROBE_FAIL_TLS &&
	    ERR_GET_LIB(e) == ERR_LIB_SSL &&
	    (ERR_GET_REASON(e) == SSL_R_WRONG_VERSION_NUMBER ||
	    ERR_GET_REASON(e) == SSL_R_PACKET_LENGTH_TOO_LONG ||
	    ERR_GET_REASON(e) == SSL_R_RECORD_LENGTH_MISMATCH ||
	    ERR_GET_REASON(e) == SSL_R_RECORD_TOO_SMALL))) &&
	    selftest_plain(t))
		return;

	selftest_report(t->report, t->arg, SELFTEST_PROBLEM, "site %s: "
	    "backend %s: reachable (%s), but the TLS handshake failed: %s",
	    t->site->name, t->b->text, addr, err);
	if ((q = selftest_peek(t, perr, sizeof(perr))) == NULL) {
		if (selftest_cancelled(t->cancel_fd))
			return;
		selftest_fix(t, NULL, fail == PROBE_FAIL_CLOSED ? "the backend "
		    "closes the connection on a TLS ClientHello, even one "
		    "offering TLS 1.0 and every cipher: is %s a TLS port "
		    "(Exchange: 443)?" : "the backend refuses every TLS "
		    "version and cipher, down to TLS 1.0 and OpenSSL's "
		    "security level 0: check its TLS settings (Schannel "
		    "protocols and cipher suites)", t->b->text);
		return;
	}
	ssl = probe_ssl(q);
	v = SSL_version(ssl);
	ver = certinfo_protocol_name(v);
	cipher = SSL_get_cipher_name(ssl);
	want = certinfo_protocol_name(t->site->backend_min_protocol);
	if (v < t->site->backend_min_protocol) {
		snprintf(line, sizeof(line), "backend_min_protocol = %s", ver);
		selftest_fix(t, line, "the backend speaks nothing newer than "
		    "%s (cipher %s), older than backend_min_protocol (%s): "
		    "allow it for this site's backend connections (chainfix "
		    "then lowers OpenSSL's security level for them, and only "
		    "them)", ver, cipher, want);
		if (!selftest_default_cipher(v, cipher)) {
			snprintf(line, sizeof(line), "backend_ciphers = "
			    "DEFAULT:%s:@SECLEVEL=0", cipher);
			selftest_fix(t, line, "and its only cipher, %s, is not "
			    "among OpenSSL's defaults", cipher);
		}
	} else
		selftest_fix(t, "backend_ciphers = DEFAULT:@SECLEVEL=0", "the "
		    "backend negotiates %s only with what OpenSSL's default "
		    "security level refuses (it chose cipher %s; a short key "
		    "or an old signature algorithm?): allow it for this "
		    "site's backend connections", ver, cipher);
	probe_close(q);
}

/*
 * A verification failure with backend_verify = yes: the fix that fits the
 * reason, given the certificate the backend presents (peer) and the chain
 * it sent (sent, may be NULL).
 */
static void
selftest_fix_verify(const struct selftest_target *t, long vr, X509 *peer,
    STACK_OF(X509) *sent)
{
	char pin[80], pinline[100], subj[300], issuer[300], name[256];
	char line[400];

	if (selftest_pin(peer, pin, sizeof(pin)) == -1)
		return;
	snprintf(pinline, sizeof(pinline), "backend_verify = %s", pin);
	certinfo_name(X509_get_subject_name(peer), subj, sizeof(subj));
	switch (vr) {
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		selftest_fix(t, pinline, "the backend presents a self-signed "
		    "certificate (%s; Exchange's default certificate is one): "
		    "pin it (compare the fingerprint with the certificate on "
		    "the backend first: openssl x509 -in cert.pem -outform DER "
		    "| sha256sum)", subj);
		return;
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		certinfo_name(X509_get_issuer_name(peer), issuer,
		    sizeof(issuer));
		if (selftest_fix_ca(t, peer, sent, issuer))
			return;
		selftest_fix(t, NULL, "the backend's certificate (%s) comes "
		    "from a CA that %s does not hold (issuer %s): an internal "
		    "CA (AD CS)?  Export that CA's certificate as PEM (on the "
		    "CA: certutil -ca.cert ca.cer, then openssl x509 -inform "
		    "DER -in ca.cer -out corp-ca.pem) and name it in [%s], or "
		    "pin the backend's certificate:", subj,
		    t->site->backend_ca != NULL ? t->site->backend_ca :
		    "the system trust store", issuer, t->site->name);
		selftest_fix_line(t, "backend_ca = /etc/chainfix/corp-ca.pem");
		selftest_fix_line(t, pinline);
		return;
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		selftest_leaf_name(peer, name, sizeof(name));
		if (name[0] == '\0') {
			selftest_fix(t, pinline, "the backend's certificate "
			    "(%s) is not for %s and names no host: pin it",
			    subj, selftest_expected_name(t->site, t->idx));
			return;
		}
		snprintf(line, sizeof(line), "backend_sni = %s", name);
		selftest_fix(t, line, "the backend's certificate (%s) is not "
		    "for %s: name the host it is for (sent as SNI and "
		    "checked in the certificate)", subj,
		    selftest_expected_name(t->site, t->idx));
		return;
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		selftest_fix(t, pinline, "renew the backend's certificate "
		    "(%s); meanwhile a pin accepts it as it is", subj);
		return;
	default:
		selftest_fix(t, pinline, "if you trust this certificate "
		    "(%s), pin it", subj);
		return;
	}
}

/*
 * The pin of a backend whose certificate is not the pinned one: the fix,
 * if it was replaced on purpose.
 */
static void
selftest_fix_pin(const struct selftest_target *t, X509 *peer)
{
	char pin[80], line[100];

	if (selftest_pin(peer, pin, sizeof(pin)) == -1)
		return;
	snprintf(line, sizeof(line), "backend_verify = %s", pin);
	selftest_fix(t, line, "if the backend's certificate was replaced on "
	    "purpose (compare the fingerprint on the backend first), pin the "
	    "new one");
}

/* The connect failed: 1 problem, reported with what to check; 0 if
   the test was cancelled (shutting down is not the backend's fault). */
static int
selftest_unreachable(const struct selftest_target *t, enum probe_fail fail,
    const char *err)
{
	if (selftest_cancelled(t->cancel_fd))
		return 0;
	selftest_report(t->report, t->arg, SELFTEST_PROBLEM, "site %s: "
	    "backend %s: unreachable: %s", t->site->name, t->b->text, err);
	selftest_fix_unreachable(t, fail);
	return 1;
}

/*
 * A passthrough site's backend: reachable, and answering a ClientHello
 * (any protocol, not verified: that is the client's to do, end to end).
 * Returns the number of problem lines.
 */
static int
selftest_passthrough(const struct selftest_target *t)
{
	char err[512], subj[300];
	struct probe *p;
	X509 *peer;
	SSL *ssl;

	if ((p = selftest_peek(t, err, sizeof(err))) == NULL) {
		if (selftest_cancelled(t->cancel_fd))
			return 0;
		if (selftest_plain(t))
			return 1;
		selftest_report(t->report, t->arg, SELFTEST_PROBLEM, "site %s: "
		    "backend %s: reachable, but no TLS handshake: %s",
		    t->site->name, t->b->text, err);
		selftest_fix(t, NULL, "a passthrough site hands the client's "
		    "TLS to the backend as it is: %s must answer it (is it "
		    "the TLS port?)", t->b->text);
		return 1;
	}
	ssl = probe_ssl(p);
	snprintf(subj, sizeof(subj), "no certificate");
	if ((peer = SSL_get0_peer_certificate(ssl)) != NULL)
		certinfo_name(X509_get_subject_name(peer), subj, sizeof(subj));
	selftest_report(t->report, t->arg, SELFTEST_OK, "site %s: backend %s: "
	    "reachable (%s, %s), passthrough: its certificate (%s) is the "
	    "client's to check", t->site->name, t->b->text, probe_address(p),
	    SSL_get_version(ssl), subj);
	probe_close(p);
	return 0;
}

/* One backend: returns the number of problem lines reported. */
static int
selftest_backend(const struct selftest_target *t)
{
	const struct config_site *site = t->site;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char err[512], verdict[384], subj[300], reason[256];
	char mine[80], theirs[80];
	enum probe_fail fail;
	struct probe *p;
	X509 *peer;
	SSL *ssl;
	long vr = X509_V_OK;
	int ok, same;

	if ((p = selftest_connect(t, &fail, err, sizeof(err))) == NULL)
		return selftest_unreachable(t, fail, err);
	if (site->mode == CONFIG_MODE_PASSTHROUGH) {
		probe_close(p);
		return selftest_passthrough(t);
	}
	if (!site->backend_tls) {
		selftest_report(t->report, t->arg, SELFTEST_OK, "site %s: "
		    "backend %s: reachable (%s; backend_tls = no: no "
		    "certificate to compare)", site->name, t->b->text,
		    probe_address(p));
		probe_close(p);
		return 0;
	}

	/* tlsctx_backend_ssl() logs its own failure; probe says why too. */
	ssl = tlsctx_backend_ssl(t->tb, t->idx, t->sni[0] != '\0' ? t->sni :
	    NULL);
	if (probe_handshake(p, ssl, selftest_ms(site->handshake_timeout),
	    err, sizeof(err)) == 0)
		ok = selftest_verdict(site, t->tb, t->idx, probe_ssl(p),
		    verdict, sizeof(verdict));
	else if (selftest_cancelled(t->cancel_fd)) {
		probe_close(p);
		return 0;
	} else if (probe_ssl(p) == NULL) {
		selftest_report(t->report, t->arg, SELFTEST_PROBLEM, "site %s: "
		    "backend %s: %s", site->name, t->b->text, err);
		probe_close(p);
		return 1;
	} else if (site->backend_verify != CONFIG_VERIFY_YES ||
	    (vr = SSL_get_verify_result(probe_ssl(p))) == X509_V_OK) {
		selftest_no_handshake(t, p, err);
		probe_close(p);
		return 1;
	} else {
		/* The proxy refuses it; still, which certificate is it? */
		ok = 0;
		snprintf(verdict, sizeof(verdict), "does NOT verify: %s",
		    X509_verify_cert_error_string(vr));
		probe_close(p);
		if ((p = selftest_peek(t, err, sizeof(err))) == NULL) {
			if (selftest_cancelled(t->cancel_fd))
				return 0;
			selftest_report(t->report, t->arg, SELFTEST_PROBLEM,
			    "site %s: backend %s: reachable, %s (and its "
			    "certificate could not be fetched: %s)",
			    site->name, t->b->text, verdict, err);
			return 1;
		}
	}
	ssl = probe_ssl(p);

	if ((peer = SSL_get0_peer_certificate(ssl)) == NULL) {
		selftest_report(t->report, t->arg, SELFTEST_PROBLEM, "site %s: "
		    "backend %s: reachable (%s, %s), but it sent no "
		    "certificate", site->name, t->b->text, probe_address(p),
		    SSL_get_version(ssl));
		probe_close(p);
		return 1;
	}
	certinfo_name(X509_get_subject_name(peer), subj, sizeof(subj));
	if (t->leaf == NULL) {
		selftest_report(t->report, t->arg, ok ? SELFTEST_OK :
		    SELFTEST_PROBLEM, "site %s: backend %s: reachable (%s, "
		    "%s), %s, certificate %s (the site's own is unknown)",
		    site->name, t->b->text, probe_address(p),
		    SSL_get_version(ssl), verdict, subj);
		same = 1;
	} else if (X509_digest(peer, EVP_sha256(), md, &mdlen) != 1 ||
	    mdlen != sizeof(t->leaf->sha256)) {
		selftest_report(t->report, t->arg, SELFTEST_PROBLEM, "site %s: "
		    "backend %s: cannot hash its certificate: %s", site->name,
		    t->b->text, log_ssl_reason(reason, sizeof(reason)));
		probe_close(p);
		return 1;
	} else {
		/* The same certificate is the same DER: compare its SHA-256. */
		same = memcmp(md, t->leaf->sha256, mdlen) == 0;
		selftest_report(t->report, t->arg, ok ? SELFTEST_OK :
		    SELFTEST_PROBLEM, "site %s: backend %s: reachable (%s, %s), "
		    "%s, %s (%s)", site->name, t->b->text, probe_address(p),
		    SSL_get_version(ssl), verdict, same ?
		    "same certificate as served" :
		    "a different certificate than served", subj);
	}
	if (!ok && site->backend_verify == CONFIG_VERIFY_PIN)
		selftest_fix_pin(t, peer);
	else if (!ok)
		selftest_fix_verify(t, vr, peer, SSL_get_peer_cert_chain(ssl));
	if (!same) {
		/* Two certificates may share a subject: show the hashes too. */
		selftest_fpr(md, theirs, sizeof(theirs));
		selftest_fpr(t->leaf->sha256, mine, sizeof(mine));
		selftest_report(t->report, t->arg, SELFTEST_MISMATCH, "backend "
		    "%s presents a different certificate (%s, sha256 %s) than "
		    "site %s serves (%s, sha256 %s): Exchange Extended "
		    "Protection (on by default since Exchange 2019 CU14) only "
		    "supports TLS bridging when the proxy and Exchange present "
		    "the same certificate; Windows logins (NTLM/Kerberos) will "
		    "fail.  Install the site's certificate and key on the "
		    "backend",
		    t->b->text, subj, theirs, site->name, t->leaf->subject,
		    mine);
	}
	probe_close(p);
	return ok ? 0 : 1;
}

/*
 * The run: a queue of backends (and the caller's items) in configuration
 * order.  Each backend is tested on a short-lived thread of its own, at
 * most SELFTEST_MAX at once, as the health checks are (healthcheck.c):
 * a hung backend holds only its own test.  A test's lines (and what it
 * logs) are held in its job and reported on the caller's thread, each
 * backend's together: in order (configtest) once every earlier item is
 * out, so they read as they did when the tests ran one after the other,
 * or as soon as the test is over (the daemon, whose lines each name their
 * site and backend).  A thread touches only its own job, except for done
 * and changed, under the lock.  What the tests share is shared read-only:
 * the configuration, the served chain, the site's backend context (as the
 * workers share it: its session slots have a lock of their own, tlsctx.c);
 * the diagnosis handshakes make contexts of their own.  The cancel fd is
 * every probe's: a byte there ends them all at once, and no test starts
 * after it.
 */

/* Tests in progress at once, at most (threads and sockets). */
#define SELFTEST_MAX	16

/* What the backends of one site share. */
struct selftest_site {
	const struct config_site *site;
	struct tlsctx_backend	*tb;
	struct tlsctx_backend	*own;		/* made here; freed at the end */
	const struct chain_cert	*leaf;
	char			 sni[256];
};

/* A line held back until its turn. */
struct selftest_line {
	enum selftest_kind	 kind;
	int			 logged;	/* a log line, for stderr */
	char			*text;
};

/* An item of the queue: a backend's test, or a call of the caller's. */
struct selftest_job {
	struct selftest		*st;
	struct selftest_target	 t;
	int			 test;		/* 0: nothing to run */
	selftest_call_fn	*call;		/* NULL: none */
	void			*call_arg;
	pthread_t		 thread;
	int			 threaded;	/* a thread not joined yet */
	int			 reported;
	int			 done;		/* st->lock */
	int			 problems;
	int			 lost;		/* lines lost: no memory */
	struct selftest_line	*lines;
	size_t			 nlines;
};

struct selftest {
	int			 cancel_fd;
	int			 in_order;	/* 0: each as it ends */
	selftest_report_fn	*report;
	void			*arg;
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	int			 changed;	/* lock: a test ended */
	struct selftest_job	**jobs;
	size_t			 njobs;
	size_t			 next_start;	/* the first not started */
	size_t			 next_emit;	/* the first not reported */
	size_t			 nrunning;	/* threads not joined */
	struct selftest_site	**sites;
	size_t			 nsites;
	int			 problems;
};

/* Keep a line of j's for its turn. */
static void
selftest_keep(struct selftest_job *j, enum selftest_kind kind, int logged,
    const char *line, size_t len)
{
	struct selftest_line *v;

	if ((v = reallocarray(j->lines, j->nlines + 1, sizeof(*v))) == NULL) {
		j->lost = 1;
		return;
	}
	j->lines = v;
	if ((v[j->nlines].text = strndup(line, len)) == NULL) {
		j->lost = 1;
		return;
	}
	v[j->nlines].kind = kind;
	v[j->nlines++].logged = logged;
}

/* A test's report callback. */
static void
selftest_hold(void *arg, enum selftest_kind kind, const char *line)
{
	selftest_keep(arg, kind, 0, line, strlen(line));
}

/*
 * What a test logs on the way (a backend context that cannot be set up, a
 * file skipped in the site's intermediates): held with its lines too.
 */
static void
selftest_hold_log(void *arg, const char *line, size_t len)
{
	selftest_keep(arg, SELFTEST_OK, 1, line, len);
}

/* Mark j over and wake the caller's thread. */
static void
selftest_done(struct selftest_job *j)
{
	pthread_mutex_lock(&j->st->lock);
	j->done = 1;
	j->st->changed = 1;
	pthread_cond_signal(&j->st->cond);
	pthread_mutex_unlock(&j->st->lock);
}

static int
selftest_is_done(struct selftest_job *j)
{
	int done;

	pthread_mutex_lock(&j->st->lock);
	done = j->done;
	pthread_mutex_unlock(&j->st->lock);
	return done;
}

/* One backend's test, on a thread of its own. */
static void *
selftest_thread(void *arg)
{
	struct selftest_job *j = arg;

	log_capture(selftest_hold_log, j);
	j->problems = selftest_backend(&j->t);
	log_capture(NULL, NULL);
	ERR_clear_error();
	/* OpenSSL keeps per-thread state (the error queue): give it back. */
	OPENSSL_thread_stop();
	selftest_done(j);
	return NULL;
}

/* A new item at the end of the queue; NULL (logged) without memory. */
static struct selftest_job *
selftest_job_new(struct selftest *st)
{
	struct selftest_job **v, *j;

	if ((j = calloc(1, sizeof(*j))) == NULL ||
	    (v = reallocarray(st->jobs, st->njobs + 1, sizeof(*v))) == NULL) {
		log_warn("self-test");
		free(j);
		return NULL;
	}
	st->jobs = v;
	j->st = st;
	st->jobs[st->njobs++] = j;
	return j;
}

/* Join the threads of the tests that ended. */
static void
selftest_reap(struct selftest *st)
{
	struct selftest_job *j;
	size_t i;

	for (i = st->next_emit; i < st->next_start; i++) {
		j = st->jobs[i];
		if (j->threaded && selftest_is_done(j)) {
			pthread_join(j->thread, NULL);
			j->threaded = 0;
			st->nrunning--;
		}
	}
}

/* Start the next tests in the queue, as far as SELFTEST_MAX allows. */
static void
selftest_launch(struct selftest *st)
{
	struct selftest_job *j;
	int rc;

	while (st->next_start < st->njobs && st->nrunning < SELFTEST_MAX) {
		j = st->jobs[st->next_start++];
		if (!j->test)
			continue;	/* done already */
		if (selftest_cancelled(st->cancel_fd)) {
			/* Not tested: shutting down. */
			selftest_done(j);
			continue;
		}
		if ((rc = pthread_create(&j->thread, NULL, selftest_thread,
		    j)) == 0) {
			j->threaded = 1;
			st->nrunning++;
			continue;
		}
		/* No thread: test it here, as before, rather than not at all. */
		log_warnx("self-test: cannot start a thread: %s", strerror(rc));
		j->problems = selftest_backend(&j->t);
		ERR_clear_error();
		selftest_done(j);
	}
}

/* 1 if j is over, joined and not reported yet. */
static int
selftest_ready(struct selftest_job *j)
{
	return !j->reported && !j->threaded && selftest_is_done(j);
}

/* Report the lines of j, or call its call. */
static void
selftest_report_job(struct selftest *st, struct selftest_job *j)
{
	size_t i;

	for (i = 0; i < j->nlines; i++) {
		if (!j->lines[i].logged)
			st->report(st->arg, j->lines[i].kind,
			    j->lines[i].text);
		else if (write(STDERR_FILENO, j->lines[i].text,
		    strlen(j->lines[i].text)) < 0) {
			/* Nothing useful can be done if stderr is gone. */
		}
	}
	if (j->lost)
		log_warnx("self-test: out of memory: lines lost");
	if (j->call != NULL)
		j->call(j->call_arg);
	st->problems += j->problems;
	j->reported = 1;
}

/* Report the items whose turn has come; block: until all are out. */
static void
selftest_pump(struct selftest *st, int block)
{
	size_t i;

	for (;;) {
		selftest_reap(st);
		selftest_launch(st);
		for (i = st->next_emit; i < st->next_start; i++) {
			if (selftest_ready(st->jobs[i]))
				selftest_report_job(st, st->jobs[i]);
			else if (st->in_order)
				break;
		}
		while (st->next_emit < st->next_start &&
		    st->jobs[st->next_emit]->reported)
			st->next_emit++;
		if (!block || st->next_emit == st->njobs)
			return;
		if (st->next_emit < st->next_start) {
			/* The next one is in progress: wait for a test. */
			pthread_mutex_lock(&st->lock);
			while (!st->changed)
				pthread_cond_wait(&st->cond, &st->lock);
			st->changed = 0;
			pthread_mutex_unlock(&st->lock);
		}
	}
}

struct selftest *
selftest_new(int cancel_fd, int in_order, selftest_report_fn *report,
    void *arg)
{
	struct selftest *st;

	if ((st = calloc(1, sizeof(*st))) == NULL) {
		log_warn("self-test");
		return NULL;
	}
	st->cancel_fd = cancel_fd;
	st->in_order = in_order;
	st->report = report;
	st->arg = arg;
	pthread_mutex_init(&st->lock, NULL);
	pthread_cond_init(&st->cond, NULL);
	return st;
}

int
selftest_add(struct selftest *st, const struct config_site *site,
    struct tlsctx_backend *tb, const struct chain *served)
{
	struct selftest_site *ss, **v;
	struct selftest_job *j;
	size_t i;

	if ((ss = calloc(1, sizeof(*ss))) == NULL ||
	    (v = reallocarray(st->sites, st->nsites + 1, sizeof(*v))) ==
	    NULL) {
		log_warn("self-test");
		free(ss);
		return -1;
	}
	st->sites = v;
	st->sites[st->nsites++] = ss;
	ss->site = site;
	if (served != NULL && chain_length(served) > 0) {
		ss->leaf = chain_get(served, 0);
		selftest_leaf_name(ss->leaf->x509, ss->sni, sizeof(ss->sni));
	}
	/* Passthrough: a name the site answers, as a client would ask. */
	for (i = 0; site->mode == CONFIG_MODE_PASSTHROUGH && i < site->nnames &&
	    ss->sni[0] == '\0'; i++)
		if (site->names[i][0] != '*')
			snprintf(ss->sni, sizeof(ss->sni), "%s", site->names[i]);
	if (site->backend_tls && site->mode != CONFIG_MODE_PASSTHROUGH &&
	    tb == NULL) {
		if ((ss->own = tlsctx_backend_new(site)) == NULL) {
			ERR_clear_error();
			if ((j = selftest_job_new(st)) == NULL)
				return -1;
			/* Reported in its turn, as a test that is over. */
			j->problems = 1;
			selftest_report(selftest_hold, j, SELFTEST_PROBLEM,
			    "site %s: self-test skipped: cannot set up the "
			    "backend TLS context", site->name);
			selftest_done(j);
			return 0;
		}
		tb = ss->own;
	}
	ss->tb = tb;
	for (i = 0; i < site->nbackends; i++) {
		if ((j = selftest_job_new(st)) == NULL)
			return -1;
		j->test = 1;
		j->t.site = site;
		j->t.tb = tb;
		j->t.idx = i;
		j->t.b = &site->backends[i];
		j->t.leaf = ss->leaf;
		j->t.sni = ss->sni;
		j->t.cancel_fd = st->cancel_fd;
		j->t.report = selftest_hold;
		j->t.arg = j;
	}
	selftest_launch(st);
	return 0;
}

int
selftest_add_call(struct selftest *st, selftest_call_fn *fn, void *arg)
{
	struct selftest_job *j;

	if ((j = selftest_job_new(st)) == NULL)
		return -1;
	j->call = fn;
	j->call_arg = arg;
	selftest_done(j);
	return 0;
}

void
selftest_flush(struct selftest *st)
{
	selftest_pump(st, 0);
}

int
selftest_wait(struct selftest *st)
{
	selftest_pump(st, 1);
	return st->problems;
}

void
selftest_free(struct selftest *st)
{
	struct selftest_job *j;
	size_t i, k;

	if (st == NULL)
		return;
	/* No thread may outlive what it reads. */
	for (i = 0; i < st->njobs; i++) {
		j = st->jobs[i];
		if (j->threaded)
			pthread_join(j->thread, NULL);
		for (k = 0; k < j->nlines; k++)
			free(j->lines[k].text);
		free(j->lines);
		free(j);
	}
	free(st->jobs);
	for (i = 0; i < st->nsites; i++) {
		tlsctx_backend_free(st->sites[i]->own);
		free(st->sites[i]);
	}
	free(st->sites);
	pthread_cond_destroy(&st->cond);
	pthread_mutex_destroy(&st->lock);
	free(st);
	ERR_clear_error();
}

/*
 * The daemon's run.
 */

static void
selftest_log(void *arg, enum selftest_kind kind, const char *line)
{
	(void)arg;
	switch (kind) {
	case SELFTEST_OK:
		log_info("self-test: %s", line);
		break;
	case SELFTEST_FIX:
		log_warnx("self-test: fix: %s", line);
		break;
	case SELFTEST_FIX_LINE:
		log_warnx("self-test: fix:     %s", line);
		break;
	case SELFTEST_PROBLEM:
	case SELFTEST_MISMATCH:
		log_warnx("self-test: %s", line);
		break;
	}
}

/* The thread: arg holds its own reference to the generation. */
static void
selftest_main(void *arg, int cancel_fd)
{
	struct generation *g = arg;
	struct selftest *st;
	size_t i;
	int problems = 0;

	/*
	 * Every backend of every site side by side.  Each line names its site
	 * and backend: a backend's lines are logged together as soon as its
	 * test is over, not after a hung one's before it.
	 */
	if ((st = selftest_new(cancel_fd, 0, selftest_log, NULL)) != NULL) {
		for (i = 0; i < g->nsites; i++)
			(void)selftest_add(st, g->sites[i].cfg,
			    g->sites[i].backend, g->sites[i].chain);
		problems = selftest_wait(st);
		selftest_free(st);
	}
	if (selftest_cancelled(cancel_fd))
		log_info("self-test: cancelled");
	else
		log_info("self-test: done, %d problem%s", problems,
		    problems == 1 ? "" : "s");
	/* The last reference may be ours if a reload came meanwhile. */
	generation_unref(g);
}

int
selftest_start(struct generation *g)
{
	static atomic_int started;

	if (atomic_exchange(&started, 1))
		return 0;
	log_info("self-test: checking the backends of %zu site%s in the "
	    "background", g->nsites, g->nsites == 1 ? "" : "s");
	if (bgthread_start("self-test", selftest_main, NULL,
	    generation_ref(g)) == -1) {
		generation_unref(g);
		return -1;
	}
	return 0;
}
