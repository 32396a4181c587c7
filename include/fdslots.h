/*
 * fdslots.h: libevent's per-descriptor bookkeeping of an event_base,
 * allocated in blocks ahead of the descriptors instead of one small block
 * at a time between the sessions that use them.
 *
 * Why: libevent 2.1 keeps one small entry per descriptor number a base has
 * ever watched (evmap_io, 20 bytes with epoll), allocated the first time
 * the number is seen and freed only with the base.  Left to itself it
 * allocates them one by one, in the middle of the memory of the sessions
 * being set up at that moment, so once a crowd of sessions has gone every
 * such entry keeps its page of the freed session memory resident:
 * malloc_trim() can only return whole free pages.  Measured with
 * tests/soak/soak.sh (2 workers): 20,000 entries kept 66 MB of 9,872
 * closed sessions' memory (~3.3 KB each) after trimming.  In blocks, the
 * entries of 1024 descriptors share 8 pages.
 */
#ifndef CHAINFIX_FDSLOTS_H
#define CHAINFIX_FDSLOTS_H

struct event_base;

/* Descriptors whose entries are allocated together. */
#define FDSLOTS_BLOCK	1024

/*
 * fdslots_reserve(base, upto, fd):
 * Make sure base has its entry for every descriptor below fd +
 * FDSLOTS_BLOCK, allocating them a whole block at a time; *upto (0 at
 * first, then left to this function) is how far base is covered.  Call it
 * on the thread that runs base, before the memory of whatever uses fd is
 * allocated.  base must use epoll's changelist
 * (EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST, as the workers' bases do): then no
 * system call is made; without it every descriptor would cost two
 * epoll_ctl() calls, and libevent would warn about each one not open.
 * Events already on base are left as they are.  Out of memory only means
 * the rest are allocated one by one, as without this.
 */
void fdslots_reserve(struct event_base *base, int *upto, int fd);

#endif /* CHAINFIX_FDSLOTS_H */
