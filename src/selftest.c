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
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "chain.h"
#include "config.h"
#include "generation.h"
#include "log.h"
#include "probe.h"
#include "selftest.h"
#include "tlsctx.h"

#define SELFTEST_LINE	1536

/* The daemon's background run; joined at exit (selftest_atexit). */
struct selftest_run {
	struct generation *g;		/* our reference */
	pthread_t	 thread;
	int		 cancel[2];	/* pipe: a byte in [1] stops the run */
};

static pthread_mutex_t selftest_lock = PTHREAD_MUTEX_INITIALIZER;
static struct selftest_run *selftest_running;
static int selftest_started;

static void
selftest_report(selftest_report_fn *report, void *arg, enum selftest_kind kind,
    const char *fmt, ...) LOG_PRINTF(4, 5);

static void
selftest_report(selftest_report_fn *report, void *arg, enum selftest_kind kind,
    const char *fmt, ...)
{
	char line[SELFTEST_LINE];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	report(arg, kind, line);
}

/* x's subject in RFC 2253 form, escaped; "?" if it cannot be printed. */
static void
selftest_subject(X509 *x, char *out, size_t outlen)
{
	char raw[1024];
	BIO *b;
	int n;

	snprintf(out, outlen, "?");
	if ((b = BIO_new(BIO_s_mem())) == NULL)
		return;
	if (X509_NAME_print_ex(b, X509_get_subject_name(x), 0,
	    XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (n = BIO_read(b, raw, sizeof(raw) - 1)) > 0) {
		raw[n] = '\0';
		log_escape(raw, out, outlen);
	}
	BIO_free(b);
	ERR_clear_error();
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
	size_t i, off = 0;

	out[0] = '\0';
	for (i = 0; i < 8 && off + 3 <= outlen; i++)
		off += (size_t)snprintf(out + off, outlen - off, "%02x", md[i]);
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
		    site->backend_sni != NULL ? site->backend_sni :
		    site->backends[idx].host);
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

/* 1 if s is an IPv4 or IPv6 address literal (never sent as SNI). */
static int
selftest_is_ip(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, buf) == 1 ||
	    inet_pton(AF_INET6, s, buf) == 1;
}

/*
 * A handshake with backend idx that verifies nothing, only to see its
 * certificate, with the SNI the proxy would send.  The context is ours and
 * caches no session (see the top of the file).  Returns the probe or NULL
 * with the reason in err.
 */
static struct probe *
selftest_peek(const struct config_site *site, size_t idx, const char *sni,
    int cancel_fd, char *err, size_t errlen)
{
	const struct config_hostport *b = &site->backends[idx];
	const char *name;
	struct probe *p;
	SSL_CTX *ctx;
	SSL *ssl = NULL;
	char port[8];

	snprintf(port, sizeof(port), "%u", (unsigned)b->port);
	if ((p = probe_connect_cancel(b->host, port,
	    selftest_ms(site->connect_timeout), cancel_fd, err, errlen)) == NULL)
		return NULL;
	name = site->backend_sni != NULL ? site->backend_sni :
	    sni[0] != '\0' ? sni : b->host;
	if ((ctx = SSL_CTX_new(TLS_client_method())) != NULL) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
		SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF |
		    SSL_OP_NO_TICKET);
		if ((ssl = SSL_new(ctx)) != NULL && !selftest_is_ip(name) &&
		    SSL_set_tlsext_host_name(ssl, name) != 1) {
			SSL_free(ssl);
			ssl = NULL;
		}
	}
	/* The SSL holds its own reference to ctx. */
	SSL_CTX_free(ctx);
	if (probe_handshake(p, ssl, selftest_ms(site->handshake_timeout),
	    err, errlen) == -1) {
		probe_close(p);
		return NULL;
	}
	return p;
}

/* One backend: returns the number of problem and mismatch lines. */
static int
selftest_backend(const struct config_site *site, struct tlsctx_backend *tb,
    size_t idx, const struct chain_cert *leaf, const char *sni,
    int cancel_fd, selftest_report_fn *report, void *arg)
{
	const struct config_hostport *b = &site->backends[idx];
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	char port[8], err[512], verdict[384], subj[300], reason[256];
	char mine[80], theirs[80];
	struct probe *p;
	X509 *peer;
	SSL *ssl;
	long vr;
	int ok, same, problems = 0;

	snprintf(port, sizeof(port), "%u", (unsigned)b->port);
	p = probe_connect_cancel(b->host, port,
	    selftest_ms(site->connect_timeout), cancel_fd, err, sizeof(err));
	if (p == NULL) {
		if (selftest_cancelled(cancel_fd))
			return 0;	/* shutting down: not the backend's fault */
		selftest_report(report, arg, SELFTEST_PROBLEM, "site %s: "
		    "backend %s: unreachable: %s", site->name, b->text, err);
		return 1;
	}
	if (!site->backend_tls) {
		selftest_report(report, arg, SELFTEST_OK, "site %s: backend "
		    "%s: reachable (%s; backend_tls = no: no certificate to "
		    "compare)", site->name, b->text, probe_address(p));
		probe_close(p);
		return 0;
	}

	/* tlsctx_backend_ssl() logs its own failure; probe says why too. */
	ssl = tlsctx_backend_ssl(tb, idx, sni[0] != '\0' ? sni : NULL);
	if (probe_handshake(p, ssl, selftest_ms(site->handshake_timeout),
	    err, sizeof(err)) == 0)
		ok = selftest_verdict(site, tb, idx, probe_ssl(p), verdict,
		    sizeof(verdict));
	else if (selftest_cancelled(cancel_fd)) {
		probe_close(p);
		return 0;
	} else if ((ssl = probe_ssl(p)) == NULL ||
	    site->backend_verify != CONFIG_VERIFY_YES ||
	    (vr = SSL_get_verify_result(ssl)) == X509_V_OK) {
		selftest_report(report, arg, SELFTEST_PROBLEM, "site %s: "
		    "backend %s: reachable (%s), but the TLS handshake failed: "
		    "%s", site->name, b->text, probe_address(p), err);
		probe_close(p);
		return 1;
	} else {
		/* The proxy refuses it; still, which certificate is it? */
		ok = 0;
		snprintf(verdict, sizeof(verdict), "does NOT verify: %s",
		    X509_verify_cert_error_string(vr));
		probe_close(p);
		if ((p = selftest_peek(site, idx, sni, cancel_fd, err,
		    sizeof(err))) == NULL) {
			if (selftest_cancelled(cancel_fd))
				return 0;
			selftest_report(report, arg, SELFTEST_PROBLEM, "site "
			    "%s: backend %s: reachable, %s (and its "
			    "certificate could not be fetched: %s)",
			    site->name, b->text, verdict, err);
			return 1;
		}
	}
	if (!ok)
		problems++;
	ssl = probe_ssl(p);

	if ((peer = SSL_get0_peer_certificate(ssl)) == NULL) {
		selftest_report(report, arg, SELFTEST_PROBLEM, "site %s: "
		    "backend %s: reachable (%s, %s), but it sent no "
		    "certificate", site->name, b->text, probe_address(p),
		    SSL_get_version(ssl));
		probe_close(p);
		return problems + 1;
	}
	selftest_subject(peer, subj, sizeof(subj));
	if (leaf == NULL) {
		selftest_report(report, arg, ok ? SELFTEST_OK :
		    SELFTEST_PROBLEM, "site %s: backend %s: reachable (%s, "
		    "%s), %s, certificate %s (the site's own is unknown)",
		    site->name, b->text, probe_address(p),
		    SSL_get_version(ssl), verdict, subj);
		probe_close(p);
		return problems;
	}
	if (X509_digest(peer, EVP_sha256(), md, &mdlen) != 1 ||
	    mdlen != sizeof(leaf->sha256)) {
		selftest_report(report, arg, SELFTEST_PROBLEM, "site %s: "
		    "backend %s: cannot hash its certificate: %s", site->name,
		    b->text, log_ssl_reason(reason, sizeof(reason)));
		probe_close(p);
		return problems + 1;
	}
	/* The same certificate is the same DER: compare its SHA-256. */
	same = memcmp(md, leaf->sha256, mdlen) == 0;
	selftest_report(report, arg, ok ? SELFTEST_OK : SELFTEST_PROBLEM,
	    "site %s: backend %s: reachable (%s, %s), %s, %s (%s)",
	    site->name, b->text, probe_address(p), SSL_get_version(ssl),
	    verdict, same ? "same certificate as served" :
	    "a different certificate than served", subj);
	if (!same) {
		/* Two certificates may share a subject: show the hashes too. */
		selftest_fpr(md, theirs, sizeof(theirs));
		selftest_fpr(leaf->sha256, mine, sizeof(mine));
		selftest_report(report, arg, SELFTEST_MISMATCH, "backend %s "
		    "presents a different certificate (%s, sha256 %s) than "
		    "site %s serves (%s, sha256 %s): Exchange Extended "
		    "Protection (on by default since Exchange 2019 CU14) only "
		    "supports TLS bridging when the proxy and Exchange present "
		    "the same certificate; Windows logins (NTLM/Kerberos) will "
		    "fail.  Install the site's certificate and key on the "
		    "backend",
		    b->text, subj, theirs, site->name, leaf->subject, mine);
		problems++;
	}
	probe_close(p);
	return problems;
}

int
selftest_site(const struct config_site *site, struct tlsctx_backend *tb,
    const struct chain *served, int cancel_fd, selftest_report_fn *report,
    void *arg)
{
	struct tlsctx_backend *own = NULL;
	const struct chain_cert *leaf = NULL;
	char sni[256];
	size_t i;
	int problems = 0;

	sni[0] = '\0';
	if (served != NULL && chain_length(served) > 0) {
		leaf = chain_get(served, 0);
		selftest_leaf_name(leaf->x509, sni, sizeof(sni));
	}
	if (site->backend_tls && tb == NULL) {
		if ((own = tlsctx_backend_new(site)) == NULL) {
			selftest_report(report, arg, SELFTEST_PROBLEM, "site %s: "
			    "self-test skipped: cannot set up the backend TLS "
			    "context", site->name);
			return 1;
		}
		tb = own;
	}
	for (i = 0; i < site->nbackends; i++) {
		if (selftest_cancelled(cancel_fd))
			break;
		problems += selftest_backend(site, tb, i, leaf, sni, cancel_fd,
		    report, arg);
	}
	tlsctx_backend_free(own);
	ERR_clear_error();
	return problems;
}

/*
 * The daemon's run.
 */

static void
selftest_log(void *arg, enum selftest_kind kind, const char *line)
{
	(void)arg;
	if (kind == SELFTEST_OK)
		log_info("self-test: %s", line);
	else
		log_warnx("self-test: %s", line);
}

static void *
selftest_main(void *arg)
{
	struct selftest_run *run = arg;
	struct generation *g = run->g;
	size_t i;
	int problems = 0;

	for (i = 0; i < g->nsites && !selftest_cancelled(run->cancel[0]);
	    i++)
		problems += selftest_site(g->sites[i].cfg, g->sites[i].backend,
		    g->sites[i].chain, run->cancel[0], selftest_log, NULL);
	if (selftest_cancelled(run->cancel[0]))
		log_info("self-test: cancelled");
	else
		log_info("self-test: done, %d problem%s", problems,
		    problems == 1 ? "" : "s");
	/* The last reference may be ours if a reload came meanwhile. */
	run->g = NULL;
	generation_unref(g);
	/* OpenSSL keeps per-thread state (the error queue): give it back. */
	OPENSSL_thread_stop();
	return NULL;
}

/*
 * At exit: stop a run that is still going and wait for it, before
 * OpenSSL's own atexit cleanup (registered earlier, so run later) frees
 * what the thread may still be using.
 */
static void
selftest_atexit(void)
{
	struct selftest_run *run;

	pthread_mutex_lock(&selftest_lock);
	run = selftest_running;
	selftest_running = NULL;
	pthread_mutex_unlock(&selftest_lock);
	if (run == NULL)
		return;
	while (write(run->cancel[1], "x", 1) == -1 && errno == EINTR)
		;
	pthread_join(run->thread, NULL);
	close(run->cancel[0]);
	close(run->cancel[1]);
	free(run);
}

int
selftest_start(struct generation *g)
{
	struct selftest_run *run;
	sigset_t all, old;
	int rc;

	pthread_mutex_lock(&selftest_lock);
	if (selftest_started) {
		pthread_mutex_unlock(&selftest_lock);
		return 0;
	}
	selftest_started = 1;
	pthread_mutex_unlock(&selftest_lock);

	if ((run = calloc(1, sizeof(*run))) == NULL) {
		log_warn("self-test");
		return -1;
	}
	if (pipe2(run->cancel, O_CLOEXEC) == -1) {
		log_warn("self-test: pipe");
		free(run);
		return -1;
	}
	if (atexit(selftest_atexit) != 0) {
		log_warnx("self-test: cannot register the exit handler");
		goto err;
	}
	run->g = generation_ref(g);
	log_info("self-test: checking the backends of %zu site%s in the "
	    "background", g->nsites, g->nsites == 1 ? "" : "s");
	/* Signals are the main thread's: block them in ours. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&run->thread, NULL, selftest_main, run);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		log_warnx("self-test: pthread_create: %s", strerror(rc));
		generation_unref(run->g);
		goto err;
	}
	pthread_mutex_lock(&selftest_lock);
	selftest_running = run;
	pthread_mutex_unlock(&selftest_lock);
	return 0;
 err:
	close(run->cancel[0]);
	close(run->cancel[1]);
	free(run);
	return -1;
}
