/*
 * test_listener.c: every accepted client socket has TCP_NODELAY and the
 * listener's keepalive settings, without a setsockopt(2) of its own.
 *
 * The options are set on the listening socket, which Linux copies into
 * each connection; accepting used to set them on every accepted socket,
 * six system calls per new connection.  Linked with -Wl,--wrap=setsockopt
 * (tests/CMakeLists.txt): every call is recorded with its descriptor, and
 * a listening socket can be made to refuse, so the fallback (each accepted
 * socket gets them) is tested too.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <event2/event.h>

#include "config.h"
#include "listener.h"
#include "log.h"

int __real_setsockopt(int, int, int, const void *, socklen_t);
int __wrap_setsockopt(int, int, int, const void *, socklen_t);

#define MAX_CALLS	64

static int calls_fd[MAX_CALLS];
static size_t ncalls;
static int refuse_all;		/* every setsockopt fails (EINVAL) */

int
__wrap_setsockopt(int fd, int level, int name, const void *val,
    socklen_t len)
{
	if (ncalls < MAX_CALLS)
		calls_fd[ncalls] = fd;
	ncalls++;
	if (refuse_all && !(level == SOL_SOCKET && name == SO_REUSEADDR)) {
		errno = EINVAL;
		return -1;
	}
	return __real_setsockopt(fd, level, name, val, len);
}

struct accepted {
	int	fd;
};

static void
on_accept(struct listener *l, int fd, const struct sockaddr *sa,
    socklen_t salen, void *arg)
{
	struct accepted *a = arg;

	(void)l;
	(void)sa;
	(void)salen;
	a->fd = fd;
}

/* Connect to l and accept: the accepted socket (the client's in *cfd). */
static int
accept_one(struct event_base *base, struct listener *l, int *cfd)
{
	struct sockaddr_in sin;
	struct accepted *a;
	int fd, i;

	a = (struct accepted *)listener_index(l);
	a->fd = -1;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(listener_port(l));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)),
	    0);
	for (i = 0; i < 1000 && a->fd == -1; i++)
		event_base_loop(base, EVLOOP_ONCE);
	assert_true(a->fd >= 0);
	*cfd = fd;
	return a->fd;
}

static int
opt(int fd, int level, int name)
{
	int v = -1;
	socklen_t len = sizeof(v);

	assert_int_equal(getsockopt(fd, level, name, &v, &len), 0);
	return v;
}

/* No setsockopt(2) call since mark was made on fd. */
static int
set_since(size_t mark, int fd)
{
	size_t i, n = 0;

	for (i = mark; i < ncalls && i < MAX_CALLS; i++)
		if (calls_fd[i] == fd)
			n++;
	return (int)n;
}

/* accept_one(), and the accepted socket had no setsockopt(2) of its own. */
static int
accept_quiet(struct event_base *base, struct listener *l, int *cfd)
{
	size_t mark = ncalls;
	int fd;

	fd = accept_one(base, l, cfd);
	assert_int_equal(set_since(mark, fd), 0);
	return fd;
}

static void
hangup(int fd, int cfd)
{
	close(fd);
	close(cfd);
	listener_fd_released();
}

static struct listener *
listen_local(struct event_base *base, struct accepted *a)
{
	char host[] = "127.0.0.1", text[] = "127.0.0.1:0";
	struct config_hostport hp = { .host = host, .port = 0, .text = text };
	struct listener *l;

	l = listener_new(base, &hp, "test", on_accept, a);
	assert_non_null(l);
	/* The callback finds its record through the index. */
	listener_set_index(l, (size_t)a);
	return l;
}

static void
test_inherited(void **state)
{
	struct event_base *base;
	struct listener *l;
	struct accepted a;
	int fd, cfd;

	(void)state;
	refuse_all = 0;
	base = event_base_new();
	assert_non_null(base);
	l = listen_local(base, &a);
	listener_set_keepalive(l, 900);
	fd = accept_quiet(base, l, &cfd);
	assert_int_equal(opt(fd, IPPROTO_TCP, TCP_NODELAY), 1);
	assert_int_equal(opt(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
	assert_int_equal(opt(fd, IPPROTO_TCP, TCP_KEEPIDLE), 900);
	assert_int_equal(opt(fd, IPPROTO_TCP, TCP_KEEPINTVL), 60);
	assert_int_equal(opt(fd, IPPROTO_TCP, TCP_KEEPCNT), 4);
	hangup(fd, cfd);

	/* A reload that changes it: the next connections follow. */
	listener_set_keepalive(l, 30);
	fd = accept_quiet(base, l, &cfd);
	assert_int_equal(opt(fd, IPPROTO_TCP, TCP_KEEPIDLE), 30);
	assert_int_equal(opt(fd, IPPROTO_TCP, TCP_KEEPINTVL), 30);
	hangup(fd, cfd);

	/* 0: off. */
	listener_set_keepalive(l, 0);
	fd = accept_quiet(base, l, &cfd);
	assert_int_equal(opt(fd, SOL_SOCKET, SO_KEEPALIVE), 0);
	assert_int_equal(opt(fd, IPPROTO_TCP, TCP_NODELAY), 1);
	hangup(fd, cfd);

	listener_free(l);
	event_base_free(base);
}

/* A listening socket that refuses: each accepted socket is set instead. */
static void
test_refused_fallback(void **state)
{
	struct event_base *base;
	struct listener *l;
	struct accepted a;
	size_t mark;
	int fd, cfd;

	(void)state;
	base = event_base_new();
	assert_non_null(base);
	refuse_all = 1;
	l = listen_local(base, &a);
	listener_set_keepalive(l, 600);
	refuse_all = 0;

	mark = ncalls;
	fd = accept_one(base, l, &cfd);
	assert_true(set_since(mark, fd) > 0);
	assert_int_equal(opt(fd, IPPROTO_TCP, TCP_NODELAY), 1);
	assert_int_equal(opt(fd, SOL_SOCKET, SO_KEEPALIVE), 1);
	assert_int_equal(opt(fd, IPPROTO_TCP, TCP_KEEPIDLE), 600);
	hangup(fd, cfd);

	listener_free(l);
	event_base_free(base);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_inherited),
		cmocka_unit_test(test_refused_fallback),
	};

	log_init("test_listener", LOG_LEVEL_WARN, 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
