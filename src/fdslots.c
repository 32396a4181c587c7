/*
 * fdslots.c: libevent's per-descriptor entries allocated in blocks
 * (fdslots.h).
 *
 * libevent has no call to allocate them, but evmap_io_add_() allocates a
 * descriptor's entry (and grows the table that points to them) before it
 * asks the backend to watch it, and keeps it when the event is deleted.
 * So adding a throwaway read event on each descriptor of the block and
 * deleting it at once leaves the entries behind.  With epoll's changelist
 * (the workers' bases) the add and the delete cancel out in the changelist
 * and epoll is never asked; without it epoll_ctl() refuses descriptors
 * that are not open (the entry stays all the same) and briefly watches
 * those that are.  Adding a second read event on a descriptor that already
 * has one, and deleting it, does not change the first.
 */
#include <limits.h>

#include <event2/event.h>

#include "fdslots.h"

static void
fdslots_never(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

void
fdslots_reserve(struct event_base *base, int *upto, int fd)
{
	struct event *ev;
	int end, i;

	if (fd < 0 || fd > INT_MAX - 2 * FDSLOTS_BLOCK ||
	    fd + FDSLOTS_BLOCK <= *upto)
		return;
	end = (fd + FDSLOTS_BLOCK + FDSLOTS_BLOCK - 1) / FDSLOTS_BLOCK *
	    FDSLOTS_BLOCK;
	if ((ev = event_new(base, -1, EV_READ, fdslots_never, NULL)) == NULL)
		return;
	for (i = *upto; i < end; i++) {
		if (event_assign(ev, base, i, EV_READ, fdslots_never,
		    NULL) == -1)
			break;
		if (event_add(ev, NULL) == 0)
			(void)event_del(ev);
	}
	event_free(ev);
	*upto = i;
}
