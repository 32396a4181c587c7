/*
 * certload.h: read certificates and private keys in every format an
 * administrator is handed: PEM (any number of certificates in any order,
 * maybe with the key), DER (.cer/.crt/.der), PKCS#12 (.pfx/.p12) and PKCS#7
 * (.p7b/.p7c, PEM or DER); keys in PEM or DER as PKCS#1, PKCS#8 or SEC1,
 * encrypted or not.  The format is detected from the content, not the name.
 *
 * Every failure is logged once, naming the file and what is wrong with it
 * (unreadable, not a regular file, corrupt, wrong password, no certificate
 * in it).  Only regular files are read, opened so that a FIFO or a device
 * never blocks (file.h); a file holding a private key or a password that
 * others may read or write is warned about, naming it.
 */
#ifndef CHAINFIX_CERTLOAD_H
#define CHAINFIX_CERTLOAD_H

#include <sys/types.h>

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* An ordered set of certificates, each remembered with its source file. */
struct certload_set;

/* certload_set_new(): an empty set, or NULL on out of memory. */
struct certload_set *certload_set_new(void);

/* certload_set_free(set): drop every reference; NULL is a no-op. */
void certload_set_free(struct certload_set *set);

/* certload_set_count(set): how many certificates the set holds. */
size_t certload_set_count(const struct certload_set *set);

/* certload_set_cert(set, i): the i-th certificate, borrowed from the set. */
X509 *certload_set_cert(const struct certload_set *set, size_t i);

/* certload_set_source(set, i): the file the i-th certificate came from. */
const char *certload_set_source(const struct certload_set *set, size_t i);

/*
 * certload_set_add(set, x, source):
 * Add x (the set takes its own reference) unless a certificate with the same
 * DER is already there.  Returns 1 added, 0 duplicate, -1 out of memory.
 */
int certload_set_add(struct certload_set *set, X509 *x, const char *source);

/*
 * certload_set_find(set, x):
 * The index of the certificate in set with x's DER, or -1.  Constant time
 * on average (the set is indexed by digest).
 */
ssize_t certload_set_find(const struct certload_set *set, X509 *x);

/*
 * certload_read_password(path, pw):
 * Read the first line of path (without its line ending) into a new string
 * *pw; an empty file gives "".  Free with certload_password_free().
 * Returns 0, or -1 (logged, naming the file).
 */
int certload_read_password(const char *path, char **pw);

/* certload_password_free(pw): wipe and free; NULL is a no-op. */
void certload_password_free(char *pw);

/*
 * certload_file(path, password, set, key):
 * Add every certificate in path to set.  If key is not NULL, *key is NULL and
 * the file also holds a private key (combined PEM, PKCS#12), *key receives it
 * (owned by the caller).  password (may be NULL) opens PKCS#12 files and
 * encrypted PEM keys; an empty PKCS#12 password is tried when it is NULL.
 * Returns the number of certificates found (duplicates included), or -1.
 */
int certload_file(const char *path, const char *password,
    struct certload_set *set, EVP_PKEY **key);

/*
 * certload_mem(buf, len, source, set, why, whylen):
 * Add every certificate in buf (PEM, DER or PKCS#7, read as certload_file()
 * reads them, with no password; keys are ignored) to set, remembered as
 * coming from source.
 * For data that arrives over the network (an AIA answer).  Returns the
 * number of certificates found, or -1 with a reason in why; nothing is
 * logged.
 */
int certload_mem(const unsigned char *buf, size_t len, const char *source,
    struct certload_set *set, char *why, size_t whylen);

/*
 * certload_key(path, password, key):
 * Read the private key in path into *key (owned by the caller).
 * Returns 0, or -1 (logged: unreadable, no key, wrong password).
 */
int certload_key(const char *path, const char *password, EVP_PKEY **key);

/*
 * certload_dir(dir, set):
 * Add the certificates of every regular file in dir, in name order.  A file
 * that cannot be read or parsed, or is not a regular file (a FIFO, a
 * device), is skipped with a warning naming it; subdirectories are ignored.
 * Returns the number of certificates added, or -1 if dir cannot be read.
 */
int certload_dir(const char *dir, struct certload_set *set);

/*
 * certload_roots(spec, set):
 * Add the trust anchors named by spec: "system" (OpenSSL's default CA file,
 * else its default directory), "none" (nothing), a file or a directory.
 * Returns the number added, or -1.
 */
int certload_roots(const char *spec, struct certload_set *set);

#endif /* CHAINFIX_CERTLOAD_H */
