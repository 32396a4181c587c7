/*
 * test_probe.c: probe.c's failure paths, each deterministic on loopback:
 * a refused connection, a handshake cut short by the cancel fd, a NULL SSL.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "probe.h"

/* A TCP socket bound to a kernel-chosen 127.0.0.1 port; its port in buf. */
static int
bound_socket(char *port, size_t len)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int fd;

	assert_true((fd = socket(AF_INET, SOCK_STREAM, 0)) != -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
	snprintf(port, len, "%u", (unsigned)ntohs(sin.sin_port));
	return fd;
}

/* Bound but not listening: the kernel refuses the connection. */
static void
test_refused(void **state)
{
	char port[16], err[512], want[64];
	enum probe_fail fail;
	int fd;

	(void)state;
	fd = bound_socket(port, sizeof(port));
	assert_null(probe_connect("127.0.0.1", port, 5000, err, sizeof(err)));
	snprintf(want, sizeof(want), "connect to 127.0.0.1:%s: ", port);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "refused"));
	fail = PROBE_FAIL_NONE;
	assert_null(probe_connect_cancel("127.0.0.1", port, 5000, -1, &fail,
	    err, sizeof(err)));
	assert_int_equal(fail, PROBE_FAIL_REFUSED);
	assert_string_equal(probe_fail_name(fail), "refused");
	close(fd);
}

/*
 * A peer that answers a ClientHello in plain text: the handshake fails
 * with PROBE_FAIL_TLS and OpenSSL's reason (a bad record version), and
 * probe_plain() on a second connection reads the text.
 */
static void
test_plain_peer(void **state)
{
	static const char answer[] = "HTTP/1.0 400 Bad Request\r\n\r\n";
	char port[16], err[512], buf[64];
	struct probe *p;
	SSL_CTX *ctx;
	size_t got;
	int fd, c;

	(void)state;
	fd = bound_socket(port, sizeof(port));
	assert_int_equal(listen(fd, 4), 0);
	assert_non_null(ctx = SSL_CTX_new(TLS_client_method()));

	assert_non_null(p = probe_connect("127.0.0.1", port, 5000, err,
	    sizeof(err)));
	assert_int_equal(probe_failure(p), PROBE_FAIL_NONE);
	assert_true((c = accept(fd, NULL, NULL)) != -1);
	assert_int_equal(write(c, answer, sizeof(answer) - 1),
	    (ssize_t)sizeof(answer) - 1);
	assert_int_equal(probe_handshake(p, SSL_new(ctx), 5000, err,
	    sizeof(err)), -1);
	assert_int_equal(probe_failure(p), PROBE_FAIL_TLS);
	assert_int_equal(ERR_GET_REASON(probe_tls_error(p)),
	    SSL_R_WRONG_VERSION_NUMBER);
	/* A probe that carries TLS cannot speak plain. */
	assert_int_equal(probe_plain(p, "x", 1, buf, sizeof(buf), &got, 1000,
	    err, sizeof(err)), -1);
	probe_close(p);
	close(c);

	assert_non_null(p = probe_connect("127.0.0.1", port, 5000, err,
	    sizeof(err)));
	assert_true((c = accept(fd, NULL, NULL)) != -1);
	assert_int_equal(write(c, answer, sizeof(answer) - 1),
	    (ssize_t)sizeof(answer) - 1);
	assert_int_equal(probe_plain(p, "HEAD / HTTP/1.0\r\n\r\n", 19, buf,
	    sizeof(buf), &got, 5000, err, sizeof(err)), 0);
	assert_true(got > 0 && got <= sizeof(answer) - 1);
	assert_memory_equal(buf, answer, got);
	/* The request arrived. */
	assert_true(read(c, buf, sizeof(buf)) > 0);
	assert_memory_equal(buf, "HEAD / ", 7);
	close(c);
	/* Closed without a word: 0 bytes, no error. */
	assert_int_equal(probe_plain(p, NULL, 0, buf, sizeof(buf), &got, 5000,
	    err, sizeof(err)), 0);
	assert_int_equal(got, 0);
	probe_close(p);

	SSL_CTX_free(ctx);
	close(fd);
}

/*
 * Listening but never accepting: the connection completes from the
 * backlog, the ClientHello goes out, and the wait for the answer ends when
 * the cancel fd turns readable (here: before it even starts).
 */
static void
test_cancelled_handshake(void **state)
{
	char port[16], err[512], want[96];
	struct probe *p;
	SSL_CTX *ctx;
	int fd, cancel[2];

	(void)state;
	fd = bound_socket(port, sizeof(port));
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(pipe(cancel), 0);
	p = probe_connect_cancel("127.0.0.1", port, 5000, cancel[0], NULL, err,
	    sizeof(err));
	assert_non_null(p);
	snprintf(want, sizeof(want), "127.0.0.1:%s", port);
	assert_string_equal(probe_address(p), want);
	assert_null(probe_ssl(p));
	assert_int_equal(write(cancel[1], "x", 1), 1);
	assert_non_null(ctx = SSL_CTX_new(TLS_client_method()));
	/* A 10-minute timeout: only the cancel fd can end this quickly. */
	assert_int_equal(probe_handshake(p, SSL_new(ctx), 600000, err,
	    sizeof(err)), -1);
	snprintf(want, sizeof(want), "TLS handshake with 127.0.0.1:%s: ", port);
	assert_non_null(strstr(err, want));
	assert_non_null(strstr(err, "canceled"));
	assert_int_equal(probe_failure(p), PROBE_FAIL_CANCELLED);
	probe_close(p);
	SSL_CTX_free(ctx);
	close(cancel[0]);
	close(cancel[1]);
	close(fd);
}

/* The caller's SSL_new() failed: a clear error, and nothing leaks. */
static void
test_null_ssl(void **state)
{
	char port[16], err[512];
	struct probe *p;
	int fd;

	(void)state;
	fd = bound_socket(port, sizeof(port));
	assert_int_equal(listen(fd, 4), 0);
	assert_non_null(p = probe_connect("127.0.0.1", port, 5000, err,
	    sizeof(err)));
	assert_int_equal(probe_handshake(p, NULL, 5000, err, sizeof(err)),
	    -1);
	assert_true(strncmp(err, "TLS handshake with 127.0.0.1:", 29) == 0);
	probe_close(p);
	probe_close(NULL);
	close(fd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_cancelled_handshake),
		cmocka_unit_test(test_null_ssl),
		cmocka_unit_test(test_plain_peer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
