/*
 * sesscache.h: the server side's TLS 1.2 session cache, in memory taken
 * once, in place of OpenSSL's internal one.
 *
 * Why: OpenSSL's internal cache allocates each session (some ten blocks)
 * at the end of its handshake, in the middle of the memory of the
 * connections being set up then, and keeps it for the session's lifetime
 * (an hour).  After a crowd of TLS 1.2 clients has gone those sessions
 * keep the pages of the freed connections around them resident: 2,000
 * TLS 1.2 clients left chainfix 19.6 MB above its baseline after
 * malloc_trim(), against 3.8 MB for as many TLS 1.3 clients (measured, see
 * tests/soak/README).  Here a session is stored encoded (i2d_SSL_SESSION)
 * in one slot of a ring allocated at startup, like HAProxy's and nginx's
 * fixed-size shared caches: the cache costs its slots and nothing between
 * the connections, and its memory is touched only as sessions fill it.
 *
 * TLS 1.3 sessions are not kept (they resume from their ticket).  A
 * session resumes only on the context that made it, and OpenSSL still
 * checks its id context on what the cache returns.  Safe from any thread.
 */
#ifndef CHAINFIX_SESSCACHE_H
#define CHAINFIX_SESSCACHE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/ssl.h>

/* Sessions kept (OpenSSL's cache held as many), and one's size at most. */
#define SESSCACHE_SLOTS		20000
#define SESSCACHE_MAX		512

struct sesscache;

/*
 * sesscache_new(nslots): an empty cache of nslots sessions (the oldest
 * goes when a new one needs its slot).  Returns NULL on out of memory.
 */
struct sesscache *sesscache_new(size_t nslots);

/* sesscache_free(c): free c (NULL is a no-op). */
void sesscache_free(struct sesscache *c);

/*
 * sesscache_put(c, owner, id, idlen, der, len, expires):
 * Keep the encoded session der (len bytes) made by owner (any number: the
 * context's) under its session id until expires.  Returns 0, or -1 if it
 * is larger than SESSCACHE_MAX or the id is empty or too long (not kept).
 */
int sesscache_put(struct sesscache *c, uintptr_t owner,
    const unsigned char *id, size_t idlen, const unsigned char *der,
    size_t len, time_t expires);

/*
 * sesscache_get(c, owner, id, idlen, now, der, size):
 * Copy the session owner keeps under id, if it has not expired at now,
 * into der (size bytes, SESSCACHE_MAX is enough).  Returns its length, or
 * 0.
 */
size_t sesscache_get(struct sesscache *c, uintptr_t owner,
    const unsigned char *id, size_t idlen, time_t now, unsigned char *der,
    size_t size);

/* sesscache_remove(c, id, idlen): forget the session kept under id. */
void sesscache_remove(struct sesscache *c, const unsigned char *id,
    size_t idlen);

/*
 * sesscache_attach(ctx, c):
 * Make c the session cache of server context ctx (OpenSSL's own is turned
 * off); c must outlive ctx.  Sessions resume only on the context that made
 * them.  Returns 0, or -1.
 */
int sesscache_attach(SSL_CTX *ctx, struct sesscache *c);

/*
 * sesscache_shared(): the process's cache, made on the first call, for
 * every server context (a reload keeps its sessions); NULL on out of
 * memory.  Kept for the life of the process.
 */
struct sesscache *sesscache_shared(void);

#endif /* CHAINFIX_SESSCACHE_H */
