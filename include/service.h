/*
 * service.h: how the daemon fits its host: systemd notifications
 * (sd_notify, a no-op when built without libsystemd or not under systemd)
 * and dropping root after binding.
 */
#ifndef CHAINFIX_SERVICE_H
#define CHAINFIX_SERVICE_H

/* service_ready(): READY=1, once the listeners are bound and chains built. */
void service_ready(void);

/* service_reloading(): RELOADING=1 (with MONOTONIC_USEC) before a reload. */
void service_reloading(void);

/* service_stopping(): STOPPING=1 when the drain starts. */
void service_stopping(void);

/* service_status(fmt, ...): STATUS=<one line>, e.g. sites and sessions. */
void service_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * service_drop_privileges(user, allow_root):
 * If running as root: with user set, switch to that user and its groups
 * (setgroups, setgid, setuid, and check root cannot be regained); without
 * user, refuse (-1, logged) unless allow_root.  Not root: nothing to do.
 * Returns 0 or -1.
 */
int service_drop_privileges(const char *user, int allow_root);

#endif /* CHAINFIX_SERVICE_H */
