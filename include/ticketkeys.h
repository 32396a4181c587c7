/*
 * ticketkeys.h: the keys that encrypt TLS session tickets (TLS 1.2 tickets
 * and TLS 1.3 resumption tickets alike).
 *
 * A ring holds one or more keys: the first encrypts new tickets, every key
 * decrypts (a staged key file: the second encrypts, see ticketkeys_load()).
 * A ring comes from one of two places:
 *  - ticketkeys_shared(): keys generated in memory, one ring per process,
 *    that survives reloads.  A new encrypting key is made every `rotation`
 *    seconds; the previous one still decrypts for one more interval, so a
 *    ticket stays usable for at least one interval (the session lifetime
 *    is one hour, the default interval too).
 *  - ticketkeys_load(): the keys of a file (`ticket_keys = FILE`), shared by
 *    every instance of a fleet so a client resumes on any of them.  The
 *    file is rotated from outside (`chainfix ticket-keys rotate`) and
 *    re-read on reload.  Staged (ticket_keys_staged), the fresh key that
 *    rotate puts first only decrypts until the next rotation: by the time
 *    an instance encrypts with a key, every instance has had it for a
 *    whole rotation, so no instance meets a ticket under a key it lacks.
 *
 * Key file formats (both read; newest key first):
 *  - text: one key per line, the base64 of 80 bytes (16 name, 32 AES-256
 *    key, 32 HMAC-SHA256 key) or 48 bytes (16 name, 16 AES-128 key, 16
 *    HMAC key): HAProxy's tls-ticket-keys layout.  Blank lines and lines
 *    starting with '#' are ignored.  `ticket-keys rotate` writes this.
 *  - binary: exactly 80 bytes (16 name, 32 HMAC key, 32 AES-256 key) or 48
 *    bytes (16 name, 16 AES-128 key, 16 HMAC key): nginx's
 *    ssl_session_ticket_key file, one key.
 * Key material never appears in a log line or an error message.
 *
 * A ring is reference counted and safe to use from every worker thread.
 */
#ifndef CHAINFIX_TICKETKEYS_H
#define CHAINFIX_TICKETKEYS_H

#include <stddef.h>
#include <time.h>

#include <openssl/ssl.h>

#define TICKETKEYS_MAX		64	/* keys in one file */
#define TICKETKEYS_ROTATION	3600	/* default interval, seconds */

struct ticketkeys;

/*
 * ticketkeys_shared(rotation):
 * The process's generated ring (created with one fresh key on first use),
 * with its interval set to rotation seconds (> 0).  Returns a new
 * reference, or NULL (logged).
 */
struct ticketkeys *ticketkeys_shared(unsigned rotation);

/*
 * ticketkeys_load(path, staged):
 * A ring holding the keys of the file at path, in file order.  Every
 * problem is logged naming the file (and line), never the key material; a
 * file readable or writable by others than its owner and group is warned
 * about.  With staged (ticket_keys_staged) and two keys or more, the first
 * key is staged: it only decrypts, being the next key, and the second
 * encrypts.  Staged with a single key, that key encrypts and a warning
 * says staging needs two.  Returns a ring holding one reference, or NULL.
 */
struct ticketkeys *ticketkeys_load(const char *path, int staged);

/*
 * ticketkeys_parse(buf, len, label, why, whylen):
 * The keys in buf (either format above).  label names the source in why.
 * Returns a ring holding one reference, or NULL with the reason in why.
 */
struct ticketkeys *ticketkeys_parse(const unsigned char *buf, size_t len,
    const char *label, char *why, size_t whylen);

/* ticketkeys_ref(tk): take a reference; returns tk. */
struct ticketkeys *ticketkeys_ref(struct ticketkeys *tk);

/* ticketkeys_unref(tk): drop one; the last wipes and frees.  NULL: no-op. */
void ticketkeys_unref(struct ticketkeys *tk);

/*
 * ticketkeys_install(tk, ctx):
 * Make ctx encrypt and decrypt its session tickets with tk (the context
 * takes a reference, dropped when it is freed).  Returns 0 or -1 (logged).
 */
int ticketkeys_install(struct ticketkeys *tk, SSL_CTX *ctx);

/* ticketkeys_count(tk): how many keys tk holds now. */
size_t ticketkeys_count(struct ticketkeys *tk);

/*
 * ticketkeys_encrypting(tk):
 * The index of the key that encrypts new tickets: 1 for a staged ring of
 * two keys or more, else 0.  Keys before it are staged (decrypt only).
 */
size_t ticketkeys_encrypting(struct ticketkeys *tk);

/*
 * ticketkeys_describe(tk, path, buf, len):
 * What a key file's ring holds, for the log and configtest: "N keys from
 * PATH, encrypting with key ID" and, staged, ", next key ID2 staged".
 * Returns buf.
 */
const char *ticketkeys_describe(struct ticketkeys *tk, const char *path,
    char *buf, size_t len);

/*
 * ticketkeys_name(tk, i, name):
 * Copy the 16-byte name of key i (in file order) into name (names are public:
 * they travel in every ticket).  Returns 0, or -1 if there is no key i.
 */
int ticketkeys_name(struct ticketkeys *tk, size_t i, unsigned char name[16]);

/*
 * ticketkeys_id(tk, i, buf, len):
 * A short id of key i for logs and operators (8 bytes of the SHA-256 of
 * its name, in hex; nothing about the key itself): every instance that
 * encrypts with the same key shows the same id.  Returns buf, or "-" if
 * there is no key i.
 */
const char *ticketkeys_id(struct ticketkeys *tk, size_t i, char *buf,
    size_t len);

/*
 * ticketkeys_maintain(tk, now):
 * For a generated ring, at monotonic time now (seconds): add a new
 * encrypting key once the current one is an interval old, and drop keys
 * two intervals old.  The ticket callback calls it with the current time;
 * tests pass their own.  A file's ring never changes.  Returns 1 if a key
 * was added, else 0.
 */
int ticketkeys_maintain(struct ticketkeys *tk, time_t now);

/*
 * ticketkeys_write(path, extra, tk, keep):
 * Write a text key file at path atomically (temporary file in the same
 * directory, fsync, rename, fsync of the directory): first the keys of
 * extra (may be NULL), then those of tk (may be NULL), at most keep in
 * all.  The mode is 0600, or the old file's mode without the bits for
 * others (so 0640 stays 0640), and its group is kept when allowed.
 * Returns 0 or -1 (logged).
 */
int ticketkeys_write(const char *path, struct ticketkeys *extra,
    struct ticketkeys *tk, size_t keep);

/*
 * ticketkeys_generate(n):
 * A file-style ring (never rotated) of n fresh random 80-byte keys.
 * Returns it, or NULL (logged).
 */
struct ticketkeys *ticketkeys_generate(size_t n);

/*
 * ticketkeys_main(argc, argv):
 * `chainfix ticket-keys rotate FILE [--keep N]` (argv[0] "ticket-keys").
 * Returns the process exit code: 0 done, 1 error, 2 usage.
 */
int ticketkeys_main(int argc, char **argv);

#endif /* CHAINFIX_TICKETKEYS_H */
