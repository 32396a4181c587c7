/*
 * tlsload.c: a small TLS load generator for bench/bench.sh.
 *
 * One event loop (epoll, non-blocking sockets, OpenSSL memory-light client
 * SSLs) per process; -j forks several such processes and adds up their
 * counts.  Three modes:
 *
 *   conn  each of -c slots loops: TCP connect, FULL TLS handshake (no
 *         session is ever offered), one "GET PATH" with Connection: close,
 *         read the whole response, close_notify, close.  Counts completed
 *         connections per second over -d seconds.
 *   ka    -c keep-alive connections, each sends the next request as soon
 *         as the previous response is complete.  Counts requests per second.
 *   idle  opens -c connections (at most 64 handshakes in flight), one
 *         request each, then holds them all idle.  Prints "ready ok=N
 *         err=E" once all are up, then waits (up to -H seconds or until
 *         SIGTERM/SIGINT), prints "closed dropped=D" (connections the peer
 *         closed while idle) and exits.
 *
 * Only a response with status 200 and its full body (Content-Length, or up
 * to EOF without one) counts as ok.  Output is one "key=value" line on
 * stdout for conn and ka.  This is a benchmark tool, not product code: it
 * prints errors on stderr (the first few only).
 *
 * Built by CMake with the project's warnings (target tlsload, bench/
 * CMakeLists.txt); bench.sh builds and uses it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

enum mode { M_CONN, M_KA, M_IDLE };
enum state { S_FREE, S_CONNECTING, S_HANDSHAKE, S_WRITE, S_READ, S_IDLE };

struct conn {
	int		 fd;
	SSL		*ssl;
	enum state	 st;
	unsigned	 events;	/* registered epoll events, 0 = none */
	char		 hdr[4096];
	size_t		 hlen;
	int		 hdr_done;
	int		 status;
	long		 clen;		/* -1: until EOF */
	long		 body;
	size_t		 woff;
};

static enum mode	 mode = M_CONN;
static const char	*addr = "127.0.0.1";
static int		 port;
/* Not const: SSL_set_tlsext_host_name() takes it through a (void *). */
static char		 sni_default[] = "localhost";
static char		*sni = sni_default;
static const char	*path = "/";
static const char	*cafile;
static int		 conc = 16;
static double		 secs = 5;
static int		 procs = 1;
static int		 hold = 600;

static SSL_CTX		*ctx;
static int		 ep;
static struct sockaddr_in sa;
static char		 req[512];
static size_t		 reqlen;
static long		 n_ok, n_err, n_dropped;
static int		 inflight, started;
static int		 stopping;
static int		 errs_shown;
static volatile sig_atomic_t got_sig;

static void
on_sig(int sig)
{
	(void)sig;
	got_sig = 1;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
show_err(const char *what)
{
	unsigned long e;
	char buf[256];

	if (errs_shown++ >= 5)
		return;
	e = ERR_peek_last_error();
	if (e != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		fprintf(stderr, "tlsload: %s: %s\n", what, buf);
	} else
		fprintf(stderr, "tlsload: %s: %s\n", what,
		    errno ? strerror(errno) : "failed");
}

static void
set_events(struct conn *c, unsigned ev)
{
	struct epoll_event e;

	if (c->events == ev)
		return;
	memset(&e, 0, sizeof(e));
	e.events = ev;
	e.data.ptr = c;
	if (c->events == 0)
		epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
	else if (ev == 0)
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	else
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
	c->events = ev;
}

static void
conn_close(struct conn *c, int clean)
{
	if (c->ssl != NULL) {
		if (clean)
			(void)SSL_shutdown(c->ssl);	/* send close_notify, don't wait */
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0) {
		if (c->events != 0)
			epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	c->events = 0;
	c->st = S_FREE;
	ERR_clear_error();
}

static void
reset_parser(struct conn *c)
{
	c->hlen = 0;
	c->hdr_done = 0;
	c->status = 0;
	c->clen = -1;
	c->body = 0;
	c->woff = 0;
}

static int
conn_start(struct conn *c)
{
	int one = 1;

	reset_parser(c);
	c->ssl = NULL;
	c->events = 0;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		show_err("socket");
		return -1;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->st = S_CONNECTING;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 &&
	    errno != EINPROGRESS) {
		show_err("connect");
		close(c->fd);
		c->fd = -1;
		c->st = S_FREE;
		return -1;
	}
	set_events(c, EPOLLOUT);
	inflight++;
	started++;
	return 0;
}

/* Parse what is in c->hdr once the header is complete. */
static void
parse_header(struct conn *c, size_t end)
{
	char *p, *line;

	c->hdr[end] = '\0';
	if (strncmp(c->hdr, "HTTP/1.", 7) == 0 && strlen(c->hdr) > 12)
		c->status = atoi(c->hdr + 9);
	c->clen = -1;
	for (line = c->hdr; (p = strstr(line, "\r\n")) != NULL; line = p + 2) {
		if (strncasecmp(line, "Content-Length:", 15) == 0)
			c->clen = strtol(line + 15, NULL, 10);
	}
	c->hdr_done = 1;
}

/* 1: response complete, 0: need more, -1: error or EOF without response. */
static int
read_response(struct conn *c)
{
	char buf[16384];
	int n, e;

	for (;;) {
		n = SSL_read(c->ssl, buf, sizeof(buf));
		if (n <= 0) {
			e = SSL_get_error(c->ssl, n);
			if (e == SSL_ERROR_WANT_READ) {
				set_events(c, EPOLLIN);
				return 0;
			}
			if (e == SSL_ERROR_WANT_WRITE) {
				set_events(c, EPOLLOUT);
				return 0;
			}
			if ((e == SSL_ERROR_ZERO_RETURN ||
			    e == SSL_ERROR_SYSCALL || e == SSL_ERROR_SSL) &&
			    c->hdr_done && c->clen < 0)
				return c->status == 200 ? 1 : -1;
			show_err("read");
			return -1;
		}
		if (!c->hdr_done) {
			size_t take = (size_t)n;
			char *end;

			if (take > sizeof(c->hdr) - 1 - c->hlen)
				take = sizeof(c->hdr) - 1 - c->hlen;
			memcpy(c->hdr + c->hlen, buf, take);
			c->hlen += take;
			c->hdr[c->hlen] = '\0';
			end = strstr(c->hdr, "\r\n\r\n");
			if (end == NULL) {
				if (c->hlen >= sizeof(c->hdr) - 1)
					return -1;
				continue;
			}
			parse_header(c, (size_t)(end - c->hdr) + 2);
			/* body bytes that came with the header */
			c->body += (long)(c->hlen - ((size_t)(end - c->hdr) + 4));
			if (take < (size_t)n)
				c->body += (long)((size_t)n - take);
		} else
			c->body += n;
		if (c->clen >= 0 && c->body >= c->clen)
			return c->status == 200 ? 1 : -1;
	}
}

static void conn_drive(struct conn *c);

static void
conn_done(struct conn *c, int ok)
{
	if (ok)
		n_ok++;
	else
		n_err++;
	switch (mode) {
	case M_CONN:
		conn_close(c, ok);
		inflight--;
		if (!stopping)
			(void)conn_start(c);
		break;
	case M_KA:
		if (ok && !stopping) {
			reset_parser(c);
			c->st = S_WRITE;
			conn_drive(c);
			return;
		}
		conn_close(c, ok);
		inflight--;
		if (!stopping)
			(void)conn_start(c);
		break;
	case M_IDLE:
		inflight--;
		if (ok) {
			c->st = S_IDLE;
			set_events(c, EPOLLIN);	/* to notice a drop */
		} else
			conn_close(c, 0);
		break;
	}
}

static void
conn_drive(struct conn *c)
{
	int n, e, r;
	socklen_t len;

	for (;;) {
		switch (c->st) {
		case S_FREE:
			return;
		case S_CONNECTING:
			len = sizeof(e);
			if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &e, &len) == -1 ||
			    e != 0) {
				errno = e;
				show_err("connect");
				conn_done(c, 0);
				return;
			}
			if ((c->ssl = SSL_new(ctx)) == NULL ||
			    SSL_set_fd(c->ssl, c->fd) != 1 ||
			    SSL_set_tlsext_host_name(c->ssl, sni) != 1 ||
			    (cafile != NULL && SSL_set1_host(c->ssl, sni) != 1)) {
				show_err("SSL_new");
				conn_done(c, 0);
				return;
			}
			SSL_set_connect_state(c->ssl);
			c->st = S_HANDSHAKE;
			break;
		case S_HANDSHAKE:
			n = SSL_do_handshake(c->ssl);
			if (n == 1) {
				c->st = S_WRITE;
				break;
			}
			e = SSL_get_error(c->ssl, n);
			if (e == SSL_ERROR_WANT_READ) {
				set_events(c, EPOLLIN);
				return;
			}
			if (e == SSL_ERROR_WANT_WRITE) {
				set_events(c, EPOLLOUT);
				return;
			}
			show_err("handshake");
			conn_done(c, 0);
			return;
		case S_WRITE:
			n = SSL_write(c->ssl, req + c->woff, (int)(reqlen - c->woff));
			if (n > 0) {
				c->woff += (size_t)n;
				if (c->woff == reqlen)
					c->st = S_READ;
				break;
			}
			e = SSL_get_error(c->ssl, n);
			if (e == SSL_ERROR_WANT_READ) {
				set_events(c, EPOLLIN);
				return;
			}
			if (e == SSL_ERROR_WANT_WRITE) {
				set_events(c, EPOLLOUT);
				return;
			}
			show_err("write");
			conn_done(c, 0);
			return;
		case S_READ:
			r = read_response(c);
			if (r == 0)
				return;
			conn_done(c, r == 1);
			return;
		case S_IDLE:
			{
				char b[1];

				/* Any readable event on an idle connection is
				 * the peer closing it (or unexpected data). */
				n = (int)recv(c->fd, b, 1, MSG_PEEK);
				if (n == 0 || (n < 0 && errno != EAGAIN)) {
					n_dropped++;
					conn_close(c, 0);
				} else
					set_events(c, 0);	/* TLS ticket etc. */
			}
			return;
		}
	}
}

static void
run_loop(void)
{
	struct epoll_event evs[256];
	struct conn *cs;
	double t0, deadline, hold_until = 0;
	int i, n, ready_printed = 0;

	ep = epoll_create1(EPOLL_CLOEXEC);
	if ((cs = calloc((size_t)conc, sizeof(*cs))) == NULL) {
		perror("calloc");
		exit(2);
	}
	for (i = 0; i < conc; i++)
		cs[i].fd = -1;
	t0 = now();
	deadline = t0 + secs;
	if (mode != M_IDLE)
		for (i = 0; i < conc; i++)
			(void)conn_start(&cs[i]);
	for (;;) {
		if (mode == M_IDLE) {
			while (started < conc && inflight < 64) {
				if (conn_start(&cs[started]) == -1) {
					n_err++;
					started++;
				}
			}
			if (!ready_printed && started == conc && inflight == 0) {
				printf("ready ok=%ld err=%ld\n", n_ok, n_err);
				fflush(stdout);
				ready_printed = 1;
				hold_until = now() + hold;
			}
			if (got_sig || (ready_printed && now() >= hold_until))
				break;
		} else if (now() >= deadline || got_sig)
			break;
		n = epoll_wait(ep, evs, 256, 100);
		for (i = 0; i < n; i++)
			conn_drive(evs[i].data.ptr);
	}
	if (mode == M_IDLE) {
		printf("closed dropped=%ld\n", n_dropped);
		fflush(stdout);
	}
	t0 = now() - t0;
	stopping = 1;
	if (mode != M_IDLE)
		secs = t0;
	for (i = 0; i < conc; i++)
		if (cs[i].st != S_FREE)
			conn_close(&cs[i], cs[i].st == S_IDLE);
	free(cs);
	close(ep);
}

static void
usage(void)
{
	fprintf(stderr, "usage: tlsload -p PORT [-a ADDR] [-s SNI] [-u PATH] "
	    "[-C CAFILE] [-m conn|ka|idle] [-c N] [-d SECS] [-j PROCS] "
	    "[-H HOLDSECS]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct rlimit rl;
	int ch, i, pfd[2];
	long ok = 0, err = 0;
	pid_t *pids;

	while ((ch = getopt(argc, argv, "a:p:s:u:C:m:c:d:j:H:")) != -1) {
		switch (ch) {
		case 'a': addr = optarg; break;
		case 'p': port = atoi(optarg); break;
		case 's': sni = optarg; break;
		case 'u': path = optarg; break;
		case 'C': cafile = optarg; break;
		case 'm':
			if (strcmp(optarg, "conn") == 0)
				mode = M_CONN;
			else if (strcmp(optarg, "ka") == 0)
				mode = M_KA;
			else if (strcmp(optarg, "idle") == 0)
				mode = M_IDLE;
			else
				usage();
			break;
		case 'c': conc = atoi(optarg); break;
		case 'd': secs = atof(optarg); break;
		case 'j': procs = atoi(optarg); break;
		case 'H': hold = atoi(optarg); break;
		default: usage();
		}
	}
	if (port <= 0 || conc <= 0 || procs <= 0 || secs <= 0)
		usage();
	if (mode == M_IDLE)
		procs = 1;
	if (procs > conc)
		procs = conc;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_sig);
	signal(SIGINT, on_sig);

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) {
		fprintf(stderr, "tlsload: %s: not an IPv4 address\n", addr);
		return 2;
	}
	reqlen = (size_t)snprintf(req, sizeof(req),
	    "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: %s\r\n\r\n", path, sni,
	    mode == M_CONN ? "close" : "keep-alive");

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		show_err("SSL_CTX_new");
		return 2;
	}
	/* Every connection must cost a full handshake: no client session
	 * cache, no tickets offered, and SSL_MODE_RELEASE_BUFFERS so that
	 * thousands of idle client SSLs stay small. */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (cafile != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1) {
			show_err(cafile);
			return 2;
		}
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	}

	if (procs == 1) {
		run_loop();
		ok = n_ok;
		err = n_err;
	} else {
		int base = conc / procs, extra = conc % procs;

		if (pipe(pfd) == -1 ||
		    (pids = calloc((size_t)procs, sizeof(*pids))) == NULL) {
			perror("pipe");
			return 2;
		}
		for (i = 0; i < procs; i++) {
			if ((pids[i] = fork()) == -1) {
				perror("fork");
				return 2;
			}
			if (pids[i] == 0) {
				char line[64];
				int len;

				close(pfd[0]);
				conc = base + (i < extra);
				run_loop();
				len = snprintf(line, sizeof(line), "%ld %ld\n",
				    n_ok, n_err);
				if (write(pfd[1], line, (size_t)len) != len)
					_exit(1);
				_exit(0);
			}
		}
		close(pfd[1]);
		{
			FILE *f = fdopen(pfd[0], "r");
			long a, b;

			while (f != NULL && fscanf(f, "%ld %ld", &a, &b) == 2) {
				ok += a;
				err += b;
			}
			if (f != NULL)
				fclose(f);
		}
		for (i = 0; i < procs; i++)
			waitpid(pids[i], NULL, 0);
		free(pids);
	}
	if (mode != M_IDLE)
		printf("mode=%s ok=%ld err=%ld secs=%.2f rate=%.1f\n",
		    mode == M_CONN ? "conn" : "ka", ok, err, secs,
		    secs > 0 ? ok / secs : 0.0);
	SSL_CTX_free(ctx);
	return 0;
}
