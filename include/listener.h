/*
 * listener.h: the listening sockets of one listen address, accepting on the
 * main event_base (libevent evconnlistener).  An address with an empty host
 * binds every IPv4 and IPv6 address; port 0 binds a port the system picks.
 * When accept() fails for lack of file descriptors the listener pauses
 * instead of spinning, and resumes shortly after.
 */
#ifndef CHAINFIX_LISTENER_H
#define CHAINFIX_LISTENER_H

#include <sys/socket.h>

#include <stddef.h>
#include <stdint.h>

struct config_hostport;
struct event_base;
struct evconnlistener;
struct listener;

/*
 * The accept callback: fd (TCP_NODELAY set, non-blocking) now belongs to
 * the callee.
 */
typedef void (*listener_cb)(struct listener *l, int fd,
    const struct sockaddr *sa, socklen_t salen, void *arg);

/*
 * listener_new(base, hp, where, cb, arg):
 * Bind and listen on hp (SO_REUSEADDR) and accept on base.  hp is copied.
 * where names it in messages ("FILE:LINE: [site] listen"; NULL: "listen").
 * Returns the listener (free with listener_free()) or NULL, logged as an
 * error naming where, the address and what to do about the likely causes
 * (a port below 1024 without the privilege, an address in use, one that
 * is not this host's).
 */
struct listener *listener_new(struct event_base *base,
    const struct config_hostport *hp, const char *where, listener_cb cb,
    void *arg);

/*
 * listener_set_keepalive(l, secs):
 * TCP keepalive on every client connection established from now on
 * (set on the listening sockets, which the connections inherit): first
 * probe after secs idle, then a few more a minute apart, so a client that
 * vanished without a FIN frees its session.  0 turns it off (the default).
 */
void listener_set_keepalive(struct listener *l, unsigned secs);

/* listener_addr(l): the address it was made for (its own copy). */
const struct config_hostport *listener_addr(const struct listener *l);

/*
 * listener_port(l): the port its sockets are bound to; where the address
 * asked for port 0, the one the system picked (the same on every socket of
 * the address).
 */
uint16_t listener_port(const struct listener *l);

/* listener_set_index(l, i) / listener_index(l): the caller's tag. */
void listener_set_index(struct listener *l, size_t i);
size_t listener_index(const struct listener *l);

/*
 * listener_fd_released():
 * Say that an accepted connection is gone, its descriptors closed (a
 * session closed, or one that never started); once for each.  Listeners
 * paused by fd exhaustion or max_connections resume accepting.  Safe from
 * any thread; a few atomic operations when nothing is paused.
 */
void listener_fd_released(void);

/*
 * listener_set_max(base, max):
 * At most max connections at once (0: no limit), counted from accept
 * until listener_fd_released().  At the limit every listener stops
 * accepting (new connections wait in the kernel's listen backlog) and
 * starts again when one is released.  base is the listeners' (main) base.
 * Call at startup and on reload.  Returns 0, or -1 (logged).
 */
int listener_set_max(struct event_base *base, size_t max);

/* listener_connections(): connections accepted and not yet released. */
size_t listener_connections(void);

/* listener_limit_free(): at exit, after the last listener_fd_released(). */
void listener_limit_free(void);

/*
 * listener_adopt(base, evl, text):
 * Give another module's evconnlistener (evhttp's, for the admin endpoint)
 * the same pause and resume on fd exhaustion as ours, named text in the
 * logs.  It is not counted toward max_connections and is not freed by
 * listener_free().  Returns the listener or NULL (logged).
 */
struct listener *listener_adopt(struct event_base *base,
    struct evconnlistener *evl, const char *text);

/*
 * listener_hold(l, hold):
 * Stop accepting on l while hold is non-zero (its owner's own limit:
 * new connections wait in the listen backlog), start again when it is
 * zero unless fd exhaustion or max_connections still pause l.  Main
 * thread.
 */
void listener_hold(struct listener *l, int hold);

/* listener_free(l): close the sockets; NULL is a no-op. */
void listener_free(struct listener *l);

#endif /* CHAINFIX_LISTENER_H */
