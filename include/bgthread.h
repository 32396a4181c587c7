/*
 * bgthread.h: the daemon's background threads (the startup self-test, the
 * active health checks): blocking work that must never run on an event
 * loop, and must stop cleanly at exit.
 */
#ifndef CHAINFIX_BGTHREAD_H
#define CHAINFIX_BGTHREAD_H

/*
 * What a background thread runs: arg as given, and cancel_fd, a descriptor
 * that turns readable when the thread must stop (hand it to
 * probe_connect_cancel(), poll it while waiting).
 */
typedef void bgthread_fn(void *arg, int cancel_fd);

/*
 * bgthread_start(what, fn, fini, arg):
 * Run fn(arg, cancel_fd) in a new thread with every signal blocked (they
 * are the main thread's).  At process exit (one atexit handler for all,
 * registered on the first call, hence run before OpenSSL's own cleanup)
 * every thread still running is told to stop and joined, then fini(arg)
 * is called if fini is not NULL; a thread that already ended is joined
 * then too.  what names the thread in messages.  Returns 0, or -1 (logged)
 * if the thread could not be started (fini is then not called).
 */
int bgthread_start(const char *what, bgthread_fn *fn, void (*fini)(void *),
    void *arg);

#endif /* CHAINFIX_BGTHREAD_H */
