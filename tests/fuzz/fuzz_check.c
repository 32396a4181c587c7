/*
 * fuzz_check.c: `chainfix check` reads whatever certificates a server sends.
 * Any such list must give a report (analysis, fix, both printers), never a
 * crash, a hang or a leak.
 *
 * Input: one byte of flags, then the certificate list as a TLS 1.2
 * Certificate message carries it, each entry a 3-byte big-endian length and
 * that many bytes of DER.  An entry that is not a certificate is skipped, as
 * OpenSSL would have refused the handshake over it; a short tail ends the
 * list.  Flags:
 *   0x01  the last certificate is also the trusted root
 *   0x02  --intermediates: the fix is computed, the sent ones as its pool
 *   0x04  the name checked is the address 127.0.0.1 (not "localhost")
 *   0x08  --warn-days 36500: everything is "expiring"
 *   0x10  the server also spoke TLS 1.3
 * tests/fuzz/check_seeds.sh writes seeds in this format from the test PKI.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "certload.h"
#include "check_int.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static STACK_OF(X509) *
fuzz_check_list(const uint8_t *p, size_t n)
{
	STACK_OF(X509) *sk;
	const unsigned char *der;
	size_t len;
	X509 *x;

	if ((sk = sk_X509_new_null()) == NULL)
		return NULL;
	while (n >= 3) {
		len = (size_t)p[0] << 16 | (size_t)p[1] << 8 | p[2];
		p += 3;
		n -= 3;
		if (len > n)
			break;
		der = p;
		x = d2i_X509(NULL, &der, (long)len);
		if (x != NULL && sk_X509_push(sk, x) <= 0)
			X509_free(x);
		p += len;
		n -= len;
	}
	ERR_clear_error();
	return sk;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *devnull;
	struct certload_set *roots = NULL, *pool = NULL;
	struct check_report *r = NULL;
	STACK_OF(X509) *sk = NULL;
	struct check_opts o;
	unsigned flags;
	int i, n;

	log_init("fuzz", LOG_LEVEL_ERR, 0);
	if (size < 1)
		return 0;
	if (devnull == NULL && (devnull = fopen("/dev/null", "w")) == NULL)
		return 0;
	flags = data[0];
	if ((sk = fuzz_check_list(data + 1, size - 1)) == NULL ||
	    (r = calloc(1, sizeof(*r))) == NULL ||
	    (roots = certload_set_new()) == NULL ||
	    (pool = certload_set_new()) == NULL)
		goto out;
	memset(&o, 0, sizeof(o));
	o.target = "localhost:443";
	snprintf(o.host, sizeof(o.host), "localhost");
	snprintf(o.port, sizeof(o.port), "443");
	o.roots = "fuzz";
	o.warn_days = flags & 0x08 ? 36500 : 30;
	o.name_is_ip = (flags & 0x04) != 0;
	o.checkname = o.name_is_ip ? "127.0.0.1" : "localhost";
	o.sni = o.name_is_ip ? NULL : "localhost";
	o.intermediates = flags & 0x02 ? "fuzz" : NULL;
	o.fix = o.intermediates != NULL;
	/* No corpus to read at every input: the fix's own pool only. */
	o.public_intermediates = "no";

	n = sk_X509_num(sk);
	if ((flags & 0x01) && n > 0 &&
	    certload_set_add(roots, sk_X509_value(sk, n - 1), "root") == -1)
		goto out;
	if (flags & 0x02)
		for (i = 1; i < n; i++)
			if (certload_set_add(pool, sk_X509_value(sk, i),
			    "sent") == -1)
				goto out;
	r->reachable = 1;
	r->tls12 = 1;
	r->tls13 = flags & 0x10 ? 1 : 0;
	r->nroots = certload_set_count(roots);
	snprintf(r->address, sizeof(r->address), "127.0.0.1:443");
	snprintf(r->protocol, sizeof(r->protocol), "TLSv1.2");
	snprintf(r->cipher, sizeof(r->cipher), "ECDHE-RSA-AES128-GCM-SHA256");

	/* What check_main() does once connected. */
	check_analyze_sent(r, sk);
	check_analyze_run(r, &o, roots, pool);
	if (o.fix)
		check_analyze_fix(r, &o, roots, pool);
	check_print_human(devnull, r, &o, check_analyze_worst(r));
	check_print_json(devnull, r, &o, check_analyze_worst(r), 1);
 out:
	if (r != NULL)
		check_analyze_free(r);
	free(r);
	certload_set_free(pool);
	certload_set_free(roots);
	sk_X509_pop_free(sk, X509_free);
	ERR_clear_error();
	return 0;
}
