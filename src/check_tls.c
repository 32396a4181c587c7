/*
 * check_tls.c: the TLS connections of `chainfix check` (check_int.h).
 *
 * The handshake itself trusts and verifies nothing (SSL_VERIFY_NONE,
 * security level 0): a server with a broken chain must still be reached so
 * that we can say what is broken; check_analyze.c judges afterwards.
 * probe.c does the connecting and the waiting; the policy (what to trust,
 * which versions) is ours.
 */
#include <stdio.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "check_int.h"
#include "probe.h"
#include "tlsctx.h"

SSL_CTX *
check_tls_ctx(void)
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

struct probe *
check_tls_handshake(SSL_CTX *ctx, const struct check_opts *o, int version,
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
	    (o->sni != NULL && tlsctx_set_sni(ssl, o->sni) != 1))) {
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

int
check_tls_probe(SSL_CTX *ctx, const struct check_opts *o, int version)
{
	char addr[PROBE_ADDRSTRLEN], err[512];
	struct probe *p;

	p = check_tls_handshake(ctx, o, version, addr, sizeof(addr), err,
	    sizeof(err));
	if (p == NULL)
		return 0;
	probe_close(p);
	return 1;
}

void
check_tls_collect(struct check_report *r, SSL *ssl)
{
	snprintf(r->protocol, sizeof(r->protocol), "%s", SSL_get_version(ssl));
	snprintf(r->cipher, sizeof(r->cipher), "%s",
	    SSL_CIPHER_get_name(SSL_get_current_cipher(ssl)));
	/*
	 * On a client, SSL_get_peer_cert_chain() is the list exactly as the
	 * server sent it, leaf first (SSL_get0_verified_chain() would be
	 * OpenSSL's own rebuilt path).  Borrowed from the SSL: the analysis
	 * takes its own references, the SSL is freed long before the report
	 * is printed.
	 */
	check_analyze_sent(r, SSL_get_peer_cert_chain(ssl));
}
