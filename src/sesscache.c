/*
 * sesscache.c: the server side's TLS 1.2 session cache in a ring of slots
 * allocated once (sesscache.h).
 *
 * Slots are written in turn, the oldest overwritten, so that a crowd of
 * sessions touches the ring's pages in order and never more of them than
 * it fills.  An index of slot numbers, SESSCACHE_WAYS entries per group
 * and a group per hash of the session id, finds them: a lookup reads one
 * group.  An index entry whose slot has since been given to another
 * session is cleared when the slot is rewritten; a full group gives up
 * the entry of its oldest session.  One mutex for all: it is taken once
 * per TLS 1.2 full handshake and per resumption, for a copy of at most
 * SESSCACHE_MAX bytes.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/ssl.h>

#include "metrics.h"
#include "sesscache.h"

#define SESSCACHE_WAYS	8	/* index entries in a group */

struct sesscache_slot {
	time_t		 expires;	/* 0: empty */
	uintptr_t	 owner;		/* the context that made it */
	unsigned short	 len;
	unsigned char	 idlen;
	unsigned char	 id[SSL_MAX_SSL_SESSION_ID_LENGTH];
	unsigned char	 der[SESSCACHE_MAX];
};

struct sesscache {
	pthread_mutex_t		 lock;
	struct sesscache_slot	*slots;
	size_t			 nslots;
	size_t			 next;		/* the slot written next */
	size_t			 used;		/* slots ever written */
	uint32_t		*index;		/* slot + 1; 0: free */
	size_t			 ngroups;	/* a power of two */
};

static pthread_once_t sesscache_once = PTHREAD_ONCE_INIT;
static int sesscache_idx = -1;		/* SSL_CTX: its sesscache */
static int sesscache_owner_idx = -1;	/* SSL_CTX: its serial number */
static atomic_uintptr_t sesscache_serial;
static pthread_once_t sesscache_process_once = PTHREAD_ONCE_INIT;
static struct sesscache *sesscache_process;

static void
sesscache_init(void)
{
	sesscache_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	sesscache_owner_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
	    NULL);
}

static void
sesscache_process_init(void)
{
	sesscache_process = sesscache_new(SESSCACHE_SLOTS);
}

struct sesscache *
sesscache_new(size_t nslots)
{
	struct sesscache *c;

	if (nslots == 0 || nslots > UINT32_MAX - 1 ||
	    (c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->nslots = nslots;
	/* Groups for twice as many sessions as slots: few are ever full. */
	for (c->ngroups = 1; c->ngroups * SESSCACHE_WAYS < 2 * nslots;
	    c->ngroups *= 2)
		;
	/*
	 * calloc() of this size maps fresh zero pages: they cost memory only
	 * once sessions are written into them.
	 */
	if ((c->slots = calloc(nslots, sizeof(*c->slots))) == NULL ||
	    (c->index = calloc(c->ngroups * SESSCACHE_WAYS,
	    sizeof(*c->index))) == NULL ||
	    pthread_mutex_init(&c->lock, NULL) != 0) {
		free(c->slots);
		free(c->index);
		free(c);
		return NULL;
	}
	return c;
}

void
sesscache_free(struct sesscache *c)
{
	if (c == NULL)
		return;
	/* Not the pages never written: that would make them resident. */
	OPENSSL_cleanse(c->slots, c->used * sizeof(*c->slots));
	free(c->slots);
	free(c->index);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* The first index entry of id's group (FNV-1a of the id). */
static uint32_t *
sesscache_group(struct sesscache *c, const unsigned char *id, size_t idlen)
{
	uint32_t h = 2166136261u;
	size_t i;

	for (i = 0; i < idlen; i++)
		h = (h ^ id[i]) * 16777619u;
	return &c->index[(h & (c->ngroups - 1)) * SESSCACHE_WAYS];
}

static int
sesscache_is(const struct sesscache_slot *s, const unsigned char *id,
    size_t idlen)
{
	return s->expires != 0 && s->idlen == idlen &&
	    memcmp(s->id, id, idlen) == 0;
}

/* Empty slot k and clear the index entry that points to it. */
static void
sesscache_drop(struct sesscache *c, size_t k)
{
	struct sesscache_slot *s = &c->slots[k];
	uint32_t *g;
	size_t i;

	if (s->expires == 0)
		return;
	g = sesscache_group(c, s->id, s->idlen);
	for (i = 0; i < SESSCACHE_WAYS; i++)
		if (g[i] == k + 1)
			g[i] = 0;
	/* A master secret: not left lying in freed slots. */
	OPENSSL_cleanse(s, sizeof(*s));
}

/* The index entry of id's session, or NULL. */
static uint32_t *
sesscache_find(struct sesscache *c, const unsigned char *id, size_t idlen)
{
	uint32_t *g = sesscache_group(c, id, idlen);
	size_t i;

	for (i = 0; i < SESSCACHE_WAYS; i++)
		if (g[i] != 0 && sesscache_is(&c->slots[g[i] - 1], id, idlen))
			return &g[i];
	return NULL;
}

int
sesscache_put(struct sesscache *c, uintptr_t owner, const unsigned char *id,
    size_t idlen, const unsigned char *der, size_t len, time_t expires)
{
	struct sesscache_slot *s;
	uint32_t *g, *e;
	size_t k, i;

	if (idlen == 0 || idlen > sizeof(s->id) || len > SESSCACHE_MAX ||
	    expires == 0)
		return -1;
	pthread_mutex_lock(&c->lock);
	if ((e = sesscache_find(c, id, idlen)) != NULL)
		sesscache_drop(c, *e - 1);
	k = c->next;
	c->next = (c->next + 1) % c->nslots;
	if (c->used < c->nslots) {
		c->used++;
		/* Written once, a slot's memory stays: what the cache costs. */
		if (c == sesscache_process)
			metrics_set(M_SESSCACHE_BYTES,
			    (int64_t)(c->used * sizeof(*c->slots)));
	}
	sesscache_drop(c, k);

	/* A free entry in the group, or the one of its oldest session. */
	g = sesscache_group(c, id, idlen);
	e = &g[0];
	for (i = 0; i < SESSCACHE_WAYS; i++) {
		if (g[i] == 0) {
			e = &g[i];
			break;
		}
		if (c->slots[g[i] - 1].expires < c->slots[*e - 1].expires)
			e = &g[i];
	}
	if (*e != 0)
		sesscache_drop(c, *e - 1);

	s = &c->slots[k];
	s->expires = expires;
	s->owner = owner;
	s->len = (unsigned short)len;
	s->idlen = (unsigned char)idlen;
	memcpy(s->id, id, idlen);
	memcpy(s->der, der, len);
	*e = (uint32_t)(k + 1);
	pthread_mutex_unlock(&c->lock);
	return 0;
}

size_t
sesscache_get(struct sesscache *c, uintptr_t owner, const unsigned char *id,
    size_t idlen, time_t now, unsigned char *der, size_t size)
{
	const struct sesscache_slot *s;
	uint32_t *e;
	size_t len = 0;

	pthread_mutex_lock(&c->lock);
	if ((e = sesscache_find(c, id, idlen)) != NULL) {
		s = &c->slots[*e - 1];
		if (s->expires <= now)
			sesscache_drop(c, *e - 1);
		else if (s->owner == owner && s->len <= size) {
			memcpy(der, s->der, s->len);
			len = s->len;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return len;
}

void
sesscache_remove(struct sesscache *c, const unsigned char *id, size_t idlen)
{
	uint32_t *e;

	pthread_mutex_lock(&c->lock);
	if ((e = sesscache_find(c, id, idlen)) != NULL)
		sesscache_drop(c, *e - 1);
	pthread_mutex_unlock(&c->lock);
}

/*
 * OpenSSL's callbacks.  They are those of the context the connection was
 * accepted on, but the ClientHello callback (tlsctx.c) has moved it to its
 * site's context before OpenSSL looks a session up, and at the end of the
 * handshake it is still there: the context a connection is on names the
 * cache and the owner.  A session resumes only on the context that made
 * it: its site, in the generation it was made in (a reload may change a
 * site's ciphers; OpenSSL does not check a resumed session's cipher
 * against them).
 */
static struct sesscache *
sesscache_of(SSL_CTX *ctx, uintptr_t *owner)
{
	*owner = (uintptr_t)SSL_CTX_get_ex_data(ctx, sesscache_owner_idx);
	return SSL_CTX_get_ex_data(ctx, sesscache_idx);
}

/* A new session, at the end of a full handshake.  Returns 0: OpenSSL's
 * reference is not kept. */
static int
sesscache_new_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct sesscache *c;
	unsigned char der[SESSCACHE_MAX], *p = der;
	const unsigned char *id;
	unsigned int idlen;
	uintptr_t owner;
	int len;

	c = sesscache_of(SSL_get_SSL_CTX(ssl), &owner);
	/* TLS 1.3 sessions travel in their ticket. */
	if (c == NULL ||
	    SSL_SESSION_get_protocol_version(sess) >= TLS1_3_VERSION ||
	    !SSL_SESSION_is_resumable(sess))
		return 0;
	id = SSL_SESSION_get_id(sess, &idlen);
	len = i2d_SSL_SESSION(sess, NULL);
	if (len <= 0 || len > SESSCACHE_MAX ||
	    i2d_SSL_SESSION(sess, &p) != len)
		return 0;
	(void)sesscache_put(c, owner, id, idlen, der, (size_t)len,
	    (time_t)(SSL_SESSION_get_time(sess) +
	    SSL_SESSION_get_timeout(sess)));
	OPENSSL_cleanse(der, sizeof(der));
	return 0;
}

/* A client offers a session id.  *copy = 0: the caller takes our
 * reference.  OpenSSL then checks its id context and its age. */
static SSL_SESSION *
sesscache_get_cb(SSL *ssl, const unsigned char *id, int idlen, int *copy)
{
	struct sesscache *c;
	unsigned char der[SESSCACHE_MAX];
	const unsigned char *p = der;
	SSL_SESSION *sess = NULL;
	uintptr_t owner;
	size_t len;

	*copy = 0;
	c = sesscache_of(SSL_get_SSL_CTX(ssl), &owner);
	if (c == NULL || idlen <= 0)
		return NULL;
	if ((len = sesscache_get(c, owner, id, (size_t)idlen, time(NULL),
	    der, sizeof(der))) != 0)
		sess = d2i_SSL_SESSION(NULL, &p, (long)len);
	OPENSSL_cleanse(der, sizeof(der));
	return sess;
}

/* OpenSSL drops a session (a connection that failed with it, say). */
static void
sesscache_remove_cb(SSL_CTX *ctx, SSL_SESSION *sess)
{
	struct sesscache *c;
	const unsigned char *id;
	unsigned int idlen;
	uintptr_t owner;

	if ((c = sesscache_of(ctx, &owner)) == NULL)
		return;
	id = SSL_SESSION_get_id(sess, &idlen);
	sesscache_remove(c, id, idlen);
}

int
sesscache_attach(SSL_CTX *ctx, struct sesscache *c)
{
	uintptr_t serial;

	if (c == NULL || pthread_once(&sesscache_once, sesscache_init) != 0 ||
	    sesscache_idx == -1 || sesscache_owner_idx == -1)
		return -1;
	serial = (uintptr_t)atomic_fetch_add(&sesscache_serial, 1) + 1;
	if (SSL_CTX_set_ex_data(ctx, sesscache_idx, c) != 1 ||
	    SSL_CTX_set_ex_data(ctx, sesscache_owner_idx,
	    (void *)serial) != 1)
		return -1;
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER |
	    SSL_SESS_CACHE_NO_INTERNAL);
	SSL_CTX_sess_set_new_cb(ctx, sesscache_new_cb);
	SSL_CTX_sess_set_get_cb(ctx, sesscache_get_cb);
	SSL_CTX_sess_set_remove_cb(ctx, sesscache_remove_cb);
	return 0;
}

struct sesscache *
sesscache_shared(void)
{
	if (pthread_once(&sesscache_process_once,
	    sesscache_process_init) != 0)
		return NULL;
	return sesscache_process;
}
