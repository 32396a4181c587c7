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
 * TCP keepalive on every client socket accepted from now on: first probe
 * after secs idle, then a few more a minute apart, so a client that
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
 * Say that descriptors were freed (a session closed).  Listeners paused by
 * fd exhaustion resume accepting.  Safe from any thread; costs one atomic
 * load when nothing is paused.
 */
void listener_fd_released(void);

/* listener_free(l): close the sockets; NULL is a no-op. */
void listener_free(struct listener *l);

#endif /* CHAINFIX_LISTENER_H */
