/*
 * worker.h: an event-loop thread with its own event_base and DNS resolver
 * that runs the sessions handed to it by the main thread.
 */
#ifndef CHAINFIX_WORKER_H
#define CHAINFIX_WORKER_H

#include <sys/socket.h>

#include <stddef.h>

struct gen_listen;
struct generation;
struct worker;

/*
 * worker_start(id):
 * Create the worker's event_base and resolver and start its thread.
 * evthread_use_pthreads() must have been called.  Returns the worker, or
 * NULL (logged).
 */
struct worker *worker_start(unsigned id);

/*
 * worker_submit(w, fd, sa, salen, g, gl):
 * Queue an accepted connection for w (any thread).  Takes ownership of fd
 * and one reference to g in every case.  Returns 0, or -1 (logged; fd
 * closed, reference dropped).
 */
int worker_submit(struct worker *w, int fd, const struct sockaddr *sa,
    socklen_t salen, struct generation *g, struct gen_listen *gl);

/* worker_queued(w): connections queued for w not yet started (any thread). */
size_t worker_queued(struct worker *w);

/*
 * worker_close_all(w, reason):
 * Ask w to end all its sessions now (any thread; asynchronous).
 */
void worker_close_all(struct worker *w, const char *reason);

/*
 * worker_stop(w):
 * End the loop, join the thread, close what is left and free w.  NULL is a
 * no-op.
 */
void worker_stop(struct worker *w);

#endif /* CHAINFIX_WORKER_H */
