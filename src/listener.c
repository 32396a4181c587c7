/*
 * listener.c: listening sockets on the main event_base (listener.h).
 *
 * Accepting survives fd exhaustion: on EMFILE/ENFILE a listener pauses and
 * goes on the paused list; the next session to close anywhere (any worker
 * thread) wakes it through listener_fd_released(), and a timer wakes it
 * anyway in case the descriptors come back some other way.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "config.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"

#define LISTENER_MAX_FDS	8
#define LISTENER_PAUSE_MS	1000	/* after EMFILE/ENFILE, at most */
#define LISTENER_KA_INTERVAL	60	/* seconds between keepalive probes */
#define LISTENER_KA_COUNT	4	/* unanswered probes before reset */
#define LISTENER_KA_MAX		32767	/* TCP_KEEPIDLE's limit, seconds */

struct listener {
	struct event_base	*base;
	struct config_hostport	 addr;	/* host and text copied */
	char			*where;	/* for messages: "FILE:LINE: [site]
					   listen" */
	unsigned		 keepalive;	/* seconds idle; 0: off */
	struct evconnlistener	*evl[LISTENER_MAX_FDS];
	size_t			 nevl;
	uint16_t		 port;	/* bound: the system's pick for 0 */
	struct event		*resume;
	listener_cb		 cb;
	void			*arg;
	size_t			 index;
	struct listener		*next_paused;	/* listener_paused_lock */
	int			 paused;	/* listener_paused_lock */
	int			 borrowed;	/* listener_adopt(): evl[] is
						   not ours, nor counted */
	int			 held;		/* listener_hold(); main
						   thread */
	int			 per_accept;	/* a listening socket refused
						   an option: set each accepted
						   one's (listener_sockopts) */
	struct listener		*next_counted;	/* main thread */
};

/*
 * max_connections.  Every connection a counted listener accepts is one
 * until listener_fd_released() says it is gone (from any thread); at the
 * limit every counted listener stops accepting, so new connections wait in
 * the kernel's listen backlog, and the release that makes room wakes them
 * through an event on the main base.  The list of listeners and the
 * pausing are the main thread's; the count and the flag are atomics, and
 * sequentially consistent, so that a release racing the pause is never
 * lost (the main thread checks the count again after it set the flag).
 */
static atomic_size_t listener_nconn;
static atomic_size_t listener_max;		/* 0: no limit */
static atomic_int listener_full;
static struct event *listener_room;		/* on the main base */
static struct listener *listener_counted;	/* main thread */
static time_t listener_full_logged;		/* main thread */

#define LISTENER_FULL_LOG_SECS	60	/* "max_connections reached", at most */

/*
 * Listeners paused by fd exhaustion.  Workers read the list when a session
 * frees its descriptors; the count lets them skip the lock in the usual
 * case, where nothing is paused.
 */
static pthread_mutex_t listener_paused_lock = PTHREAD_MUTEX_INITIALIZER;
static struct listener *listener_paused;
static atomic_int listener_npaused;

/* Take l off the paused list; 1 if it was on it. */
static int
listener_unpause(struct listener *l)
{
	struct listener **pp;
	int was;

	pthread_mutex_lock(&listener_paused_lock);
	if ((was = l->paused)) {
		for (pp = &listener_paused; *pp != l; pp = &(*pp)->next_paused)
			;
		*pp = l->next_paused;
		l->paused = 0;
		atomic_fetch_sub(&listener_npaused, 1);
	}
	pthread_mutex_unlock(&listener_paused_lock);
	return was;
}

/* Enable l's sockets unless something still holds it paused. */
static void
listener_enable(struct listener *l)
{
	size_t i;
	int paused;

	pthread_mutex_lock(&listener_paused_lock);
	paused = l->paused;
	pthread_mutex_unlock(&listener_paused_lock);
	if (paused || l->held || (!l->borrowed && atomic_load(&listener_full)))
		return;
	for (i = 0; i < l->nevl; i++)
		evconnlistener_enable(l->evl[i]);
}

/* The limit is reached: stop every counted listener (main thread). */
static void
listener_pause_full(void)
{
	struct listener *l;
	struct timespec now;
	size_t i;

	if (atomic_exchange(&listener_full, 1))
		return;
	for (l = listener_counted; l != NULL; l = l->next_counted)
		for (i = 0; i < l->nevl; i++)
			evconnlistener_disable(l->evl[i]);
	metrics_inc(M_CONN_LIMIT_PAUSES);
	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	if (listener_full_logged == 0 ||
	    now.tv_sec - listener_full_logged >= LISTENER_FULL_LOG_SECS) {
		listener_full_logged = now.tv_sec;
		log_info("max_connections (%zu) reached: new connections wait "
		    "in the listen backlog until one closes",
		    atomic_load(&listener_max));
	}
	/* A release between the count and the flag would be lost. */
	if (atomic_load(&listener_nconn) < atomic_load(&listener_max))
		event_active(listener_room, EV_TIMEOUT, 1);
}

/* Room again (main thread, woken by a release). */
static void
listener_room_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l;
	size_t max = atomic_load(&listener_max);

	(void)fd;
	(void)what;
	(void)arg;
	if (!atomic_load(&listener_full) ||
	    (max != 0 && atomic_load(&listener_nconn) >= max))
		return;
	atomic_store(&listener_full, 0);
	log_debug("below max_connections again: accepting");
	for (l = listener_counted; l != NULL; l = l->next_counted)
		listener_enable(l);
}

int
listener_set_max(struct event_base *base, size_t max)
{
	if (listener_room == NULL && (listener_room = event_new(base, -1, 0,
	    listener_room_cb, NULL)) == NULL) {
		log_warnx("cannot create the max_connections event");
		return -1;
	}
	atomic_store(&listener_max, max);
	metrics_set(M_CONN_MAX, (int64_t)max);
	/* A raised limit may make room at once; a lowered one waits for
	 * the next accept. */
	if (atomic_load(&listener_full))
		event_active(listener_room, EV_TIMEOUT, 1);
	return 0;
}

size_t
listener_connections(void)
{
	return atomic_load(&listener_nconn);
}

void
listener_limit_free(void)
{
	if (listener_room != NULL)
		event_free(listener_room);
	listener_room = NULL;
}

void
listener_fd_released(void)
{
	struct listener *l;
	size_t n, max;

	n = atomic_fetch_sub(&listener_nconn, 1) - 1;
	metrics_add(M_CONN_OPEN, -1);
	max = atomic_load(&listener_max);
	if (atomic_load(&listener_full) && (max == 0 || n < max) &&
	    listener_room != NULL)
		event_active(listener_room, EV_TIMEOUT, 1);
	if (atomic_load_explicit(&listener_npaused, memory_order_relaxed) == 0)
		return;
	/*
	 * event_active() on another thread's base is safe with libevent's
	 * pthreads locking (evthread_use_pthreads), and wakes that loop.
	 * Holding our lock keeps listener_free() from freeing the event
	 * meanwhile; the callback itself takes the lock only after libevent
	 * has released its own, so the two never wait on each other.
	 */
	pthread_mutex_lock(&listener_paused_lock);
	for (l = listener_paused; l != NULL; l = l->next_paused)
		event_active(l->resume, EV_TIMEOUT, 1);
	pthread_mutex_unlock(&listener_paused_lock);
}

/*
 * The options of every client socket: TCP_NODELAY (interactive
 * request/response traffic: no Nagle delay) and TCP keepalive, so a phone
 * that vanished without a FIN (out of coverage, battery gone) frees its
 * session and its backend connection after keepalive + LISTENER_KA_COUNT
 * probes, not idle_timeout.  Each probe wakes an idle phone's radio: keep
 * the idle time in minutes.  Returns 0, or -1 with errno set.
 */
static int
listener_sockopts_fd(int fd, unsigned keepalive)
{
	int one = 1, on = keepalive > 0, idle, intvl, cnt = LISTENER_KA_COUNT;

	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) == -1)
		return -1;
	if (!on)
		return 0;
	/* Linux takes at most 32767 seconds. */
	idle = keepalive > LISTENER_KA_MAX ? LISTENER_KA_MAX : (int)keepalive;
	intvl = idle < LISTENER_KA_INTERVAL ? idle : LISTENER_KA_INTERVAL;
	if (setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle,
	    sizeof(idle)) == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl,
	    sizeof(intvl)) == -1 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt)) == -1)
		return -1;
	return 0;
}

/*
 * Set the client sockets' options on l's listening sockets, once, instead
 * of on every accepted socket: Linux gives a connection the listening
 * socket's TCP_NODELAY and keepalive settings when it is established.
 * That was five setsockopt(2) calls per new connection (0.4 % of the proxy's
 * CPU per new connection in bench/bench.sh's profile).  Connections
 * already established and waiting in the backlog keep what they got.
 * Should a listening socket refuse, every accepted socket gets them as
 * before.
 */
static void
listener_sockopts(struct listener *l)
{
	size_t i;

	for (i = 0; i < l->nevl; i++)
		if (listener_sockopts_fd(evconnlistener_get_fd(l->evl[i]),
		    l->keepalive) == -1) {
			log_debug("listen %s: options on the listening socket: "
			    "%s; set on each connection instead", l->addr.text,
			    strerror(errno));
			l->per_accept = 1;
		}
}

static void
listener_accept(struct evconnlistener *evl, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct listener *l = arg;
	size_t n, max;

	(void)evl;
	/* Inherited from the listening socket, unless it refused. */
	if (l->per_accept && listener_sockopts_fd(fd, l->keepalive) == -1)
		log_debug("listen %s: client socket options: %s", l->addr.text,
		    strerror(errno));
	n = atomic_fetch_add(&listener_nconn, 1) + 1;
	metrics_add(M_CONN_OPEN, 1);
	l->cb(l, fd, sa, (socklen_t)salen, l->arg);
	/* libevent checks after each callback whether we disabled it. */
	max = atomic_load(&listener_max);
	if (max != 0 && n >= max)
		listener_pause_full();
}

static void
listener_resume(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	(void)fd;
	(void)what;
	if (!listener_unpause(l))
		return;		/* already resumed by an earlier wake-up */
	evtimer_del(l->resume);
	log_info("listen %s: accepting again", l->addr.text);
	listener_enable(l);
}

/*
 * libevent calls this when accept() fails with something other than
 * EAGAIN/EINTR.  With EMFILE/ENFILE the pending connection stays in the
 * queue and the socket stays readable: without pausing, the loop would spin.
 */
static void
listener_failed(struct listener *l, int err)
{
	struct timeval tv = { 0, LISTENER_PAUSE_MS * 1000 };
	size_t i;

	if (err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM) {
		log_warnx("listen %s: accept: %s: pausing until a "
		    "connection closes", l->addr.text,
		    evutil_socket_error_to_string(err));
		for (i = 0; i < l->nevl; i++)
			evconnlistener_disable(l->evl[i]);
		pthread_mutex_lock(&listener_paused_lock);
		if (!l->paused) {
			l->paused = 1;
			l->next_paused = listener_paused;
			listener_paused = l;
			atomic_fetch_add(&listener_npaused, 1);
		}
		pthread_mutex_unlock(&listener_paused_lock);
		evtimer_add(l->resume, &tv);
		return;
	}
	log_warnx("listen %s: accept: %s", l->addr.text,
	    evutil_socket_error_to_string(err));
}

static void
listener_error(struct evconnlistener *evl, void *arg)
{
	(void)evl;
	listener_failed(arg, EVUTIL_SOCKET_ERROR());
}

/* Listeners adopted from another module (main thread). */
static struct listener *listener_adopted;

/*
 * An adopted listener's error callback gets its owner's argument (evhttp
 * sets it): find the listener by its evconnlistener.
 */
static void
listener_adopted_error(struct evconnlistener *evl, void *arg)
{
	struct listener *l;
	int err = EVUTIL_SOCKET_ERROR();

	(void)arg;
	for (l = listener_adopted; l != NULL; l = l->next_counted)
		if (l->evl[0] == evl) {
			listener_failed(l, err);
			return;
		}
}

/* What an administrator can do about a failed bind or listen. */
static const char *
listener_hint(int err, uint16_t port)
{
	switch (err) {
	case EACCES:
	case EPERM:
		if (port < 1024)
			return ": ports below 1024 need root or the "
			    "CAP_NET_BIND_SERVICE capability (the systemd unit "
			    "grants it; in a container, listen above 1023 and "
			    "publish 443 onto that port)";
		return "";
	case EADDRINUSE:
		return ": another process already listens there (ss -ltnp "
		    "shows which), or another site names the same port with "
		    "another address";
	case EADDRNOTAVAIL:
		return ": no interface of this host has that address";
	default:
		return "";
	}
}

/* The port of a bound socket's address, 0 if unknown. */
static uint16_t
listener_sockport(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

static int
listener_bind_one(struct listener *l, const struct addrinfo *ai)
{
	struct evconnlistener *evl;
	char addr[NI_MAXHOST + 8], host[NI_MAXHOST];
	struct sockaddr_storage ss;
	int fd, one = 1, err;

	if (l->nevl == LISTENER_MAX_FDS)
		return 0;
	if (ai->ai_addrlen > sizeof(ss))
		return 0;
	/*
	 * Port 0: the first socket gets a port from the system, and the
	 * others (IPv4 and IPv6 of a wildcard address) take the same one,
	 * so the listener has one port to report.
	 */
	memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
	if (l->port != 0 && ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(l->port);
	else if (l->port != 0 && ss.ss_family == AF_INET6)
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(l->port);
	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, ai->ai_protocol);
	if (fd == -1) {
		log_err("%s %s: socket", l->where, l->addr.text);
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1)
		goto err;
	/* Both families on one port: each socket only its own. */
	if (ai->ai_family == AF_INET6 && setsockopt(fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &one, sizeof(one)) == -1)
		goto err;
	if (bind(fd, (struct sockaddr *)&ss, ai->ai_addrlen) == -1)
		goto err;
	if (l->port == 0 && (l->port = listener_sockport(fd)) == 0)
		goto err;
	/* Before listen(2): every connection inherits them. */
	if (listener_sockopts_fd(fd, l->keepalive) == -1) {
		log_debug("listen %s: options on the listening socket: %s; "
		    "set on each connection instead", l->addr.text,
		    strerror(errno));
		l->per_accept = 1;
	}
	evl = evconnlistener_new(l->base, listener_accept, l,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 1024, fd);
	if (evl == NULL)
		goto err;
	evconnlistener_set_error_cb(evl, listener_error);
	l->evl[l->nevl++] = evl;
	return 0;
 err:
	err = errno;
	/* The address it resolved to: "*:443" may be one of two families. */
	if (getnameinfo(ai->ai_addr, ai->ai_addrlen, host, sizeof(host), NULL,
	    0, NI_NUMERICHOST) != 0)
		snprintf(host, sizeof(host), "?");
	snprintf(addr, sizeof(addr), ai->ai_family == AF_INET6 ? "[%s]:%u" :
	    "%s:%u", host, (unsigned)l->addr.port);
	log_errx("%s %s: cannot listen%s%s: %s%s", l->where, l->addr.text,
	    strcmp(addr, l->addr.text) != 0 ? " on " : "",
	    strcmp(addr, l->addr.text) != 0 ? addr : "", strerror(err),
	    listener_hint(err, l->addr.port));
	close(fd);
	return -1;
}

struct listener *
listener_new(struct event_base *base, const struct config_hostport *hp,
    const char *where, listener_cb cb, void *arg)
{
	struct addrinfo hints, *res = NULL, *ai;
	struct listener *l;
	char port[8];
	size_t i;
	int rc;

	if ((l = calloc(1, sizeof(*l))) == NULL) {
		log_warn("listener_new");
		return NULL;
	}
	l->base = base;
	l->cb = cb;
	l->arg = arg;
	l->addr.port = hp->port;
	l->port = hp->port;
	if ((l->addr.host = strdup(hp->host != NULL ? hp->host : "")) ==
	    NULL || (l->addr.text = strdup(hp->text != NULL ? hp->text :
	    "?")) == NULL || (l->where = strdup(where != NULL ? where :
	    "listen")) == NULL) {
		log_warn("listener_new");
		goto err;
	}
	if ((l->resume = evtimer_new(base, listener_resume, l)) == NULL)
		goto err;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(port, sizeof(port), "%u", (unsigned)hp->port);
	rc = getaddrinfo(*l->addr.host != '\0' ? l->addr.host : NULL, port,
	    &hints, &res);
	if (rc != 0) {
		log_errx("%s %s: cannot resolve %s: %s", l->where, l->addr.text,
		    l->addr.host, gai_strerror(rc));
		goto err;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		if (listener_bind_one(l, ai) == -1)
			goto err;
	}
	if (l->nevl == 0) {
		log_errx("%s %s: no address to bind", l->where, l->addr.text);
		goto err;
	}
	if (hp->port == 0)
		log_info("listen %s: port %u", l->addr.text, (unsigned)l->port);
	freeaddrinfo(res);
	l->next_counted = listener_counted;
	listener_counted = l;
	/* Bound while max_connections holds the others paused. */
	if (atomic_load(&listener_full))
		for (i = 0; i < l->nevl; i++)
			evconnlistener_disable(l->evl[i]);
	return l;
 err:
	if (res != NULL)
		freeaddrinfo(res);
	listener_free(l);
	return NULL;
}

const struct config_hostport *
listener_addr(const struct listener *l)
{
	return &l->addr;
}

uint16_t
listener_port(const struct listener *l)
{
	return l->port;
}

void
listener_set_keepalive(struct listener *l, unsigned secs)
{
	if (l->keepalive == secs)
		return;
	l->keepalive = secs;
	listener_sockopts(l);
}

void
listener_set_index(struct listener *l, size_t i)
{
	l->index = i;
}

size_t
listener_index(const struct listener *l)
{
	return l->index;
}

void
listener_free(struct listener *l)
{
	struct listener **pp;
	size_t i;

	if (l == NULL)
		return;
	(void)listener_unpause(l);
	for (pp = l->borrowed ? &listener_adopted : &listener_counted;
	    *pp != NULL; pp = &(*pp)->next_counted)
		if (*pp == l) {
			*pp = l->next_counted;
			break;
		}
	for (i = 0; i < l->nevl && !l->borrowed; i++)
		evconnlistener_free(l->evl[i]);
	if (l->resume != NULL)
		event_free(l->resume);
	free(l->addr.host);
	free(l->addr.text);
	free(l->where);
	free(l);
}

void
listener_hold(struct listener *l, int hold)
{
	size_t i;

	l->held = hold != 0;
	if (!l->held) {
		listener_enable(l);
		return;
	}
	for (i = 0; i < l->nevl; i++)
		evconnlistener_disable(l->evl[i]);
}

struct listener *
listener_adopt(struct event_base *base, struct evconnlistener *evl,
    const char *text)
{
	struct listener *l;

	if ((l = calloc(1, sizeof(*l))) == NULL ||
	    (l->addr.text = strdup(text)) == NULL ||
	    (l->resume = evtimer_new(base, listener_resume, l)) == NULL) {
		log_warn("listener_adopt");
		if (l != NULL)
			free(l->addr.text);
		free(l);
		return NULL;
	}
	l->base = base;
	l->borrowed = 1;
	l->evl[l->nevl++] = evl;
	/* Not counted toward max_connections: on the adopted list. */
	l->next_counted = listener_adopted;
	listener_adopted = l;
	evconnlistener_set_error_cb(evl, listener_adopted_error);
	return l;
}
