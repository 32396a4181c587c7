/*
 * ticketkeys.c: session ticket keys (ticketkeys.h).
 *
 * OpenSSL's own ticket keys are made once per SSL_CTX and never change,
 * and each instance has its own: a client that reconnects to another
 * instance of a fleet, or to the same one after a reload, cannot resume.
 * Here every server context gets the same ring through
 * SSL_CTX_set_tlsext_ticket_key_evp_cb(), which OpenSSL 3 calls for TLS 1.2
 * tickets and TLS 1.3 (stateless) resumption tickets alike.  The ticket
 * format stays OpenSSL's: key name, IV, AES-CBC ciphertext, HMAC-SHA256.
 *
 * A key file is shared by a fleet whose instances read a new file at
 * different moments (a copy, a kubelet sync, a reload).  By default its
 * first key encrypts, so for those seconds a ticket made under the fresh
 * key meets instances that do not have it yet.  Staged, the first key
 * only decrypts and the second encrypts: a key is handed out one rotation
 * before it is used, HAProxy's order turned upside down (it encrypts with
 * the next-to-last of its oldest-first file, the last one is staged).
 *
 * The callback only encrypts and decrypts.  Which site a session belongs
 * to is checked by OpenSSL after decryption, against the session id context
 * each site's SSL_CTX sets: a key shared by several sites (or a whole
 * fleet) never lets a session of one site resume on another.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include "certinfo.h"
#include "file.h"
#include "log.h"
#include "ticketkeys.h"
#include "writefile.h"

#define TICKETKEYS_NAME_LEN	16
#define TICKETKEYS_FILE_MAX	65536	/* bytes: 64 keys are ~7 KB */
#define TICKETKEYS_LINE_MAX	200	/* a base64 key is 108 characters */
#define TICKETKEYS_KEEP		3	/* rotate's default --keep */

struct ticketkeys_key {
	unsigned char	 name[TICKETKEYS_NAME_LEN];
	unsigned char	 aes[32];
	unsigned char	 hmac[32];
	size_t		 len;		/* 16 (AES-128) or 32 (AES-256) */
	time_t		 created;	/* monotonic; generated keys only */
};

struct ticketkeys {
	atomic_uint	 refs;
	int		 generated;	/* rotated by ticketkeys_maintain() */
	int		 staged;	/* a file's: the first key only decrypts
					   (with two keys or more); fixed */
	/* Workers share the ring: the lock guards the keys and rotation. */
	pthread_mutex_t	 lock;
	unsigned	 rotation;	/* seconds; generated rings */
	size_t		 n;
	struct ticketkeys_key keys[TICKETKEYS_MAX];
	/* Fetched once: a fetch per handshake contends on a lock. */
	EVP_CIPHER	*aes128, *aes256;
};

static pthread_once_t ticketkeys_once = PTHREAD_ONCE_INIT;
static int ticketkeys_idx = -1;

/* The generated ring; not a reference (cleared when it is freed). */
static pthread_mutex_t ticketkeys_shared_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ticketkeys *ticketkeys_shared_ring;

static char ticketkeys_digest[] = "SHA256";

static const char ticketkeys_usage[] =
"usage: chainfix ticket-keys rotate FILE [--keep N]\n"
"\n"
"Put a fresh session ticket key first in FILE (creating it if needed) and\n"
"keep the N newest keys in all (default 3).  Every instance that shares\n"
"FILE (ticket_keys = FILE) then encrypts new tickets with the new key and\n"
"still accepts tickets made with the older ones.  The file is replaced\n"
"atomically (temporary file, fsync, rename), mode 0600 or the old file's\n"
"mode without access for others; concurrent runs are serialised, so it is\n"
"safe from a timer.  An existing file that is not a valid key file is left\n"
"alone (exit 1).  With watch = yes chainfix notices the new file by itself;\n"
"otherwise reload it (SIGHUP).\n"
"\n"
"With ticket_keys_staged = yes the new key only decrypts until the next\n"
"rotation and the second key encrypts (both are printed), so every\n"
"instance has a key before any encrypts with it; keep 3 or more (next,\n"
"current, previous).\n"
"\n"
"File format: one key per line, the base64 of 80 bytes (16 name, 32 AES\n"
"key, 32 HMAC key; HAProxy's layout, so HAProxy reads the file as it is).\n"
"chainfix also reads '#' comments, 48-byte keys and nginx's binary\n"
"48/80-byte ssl_session_ticket_key files.\n";

static void
ticketkeys_free_ex(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	(void)parent;
	(void)ad;
	(void)idx;
	(void)argl;
	(void)argp;
	ticketkeys_unref(ptr);
}

static void
ticketkeys_init_once(void)
{
	ticketkeys_idx = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL,
	    ticketkeys_free_ex);
}

static time_t
ticketkeys_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static struct ticketkeys *
ticketkeys_new(int generated)
{
	struct ticketkeys *tk;

	if ((tk = calloc(1, sizeof(*tk))) == NULL) {
		log_warn("ticketkeys_new");
		return NULL;
	}
	if (pthread_mutex_init(&tk->lock, NULL) != 0) {
		log_warnx("ticketkeys_new: cannot create a lock");
		free(tk);
		return NULL;
	}
	atomic_init(&tk->refs, 1);
	tk->generated = generated;
	tk->rotation = TICKETKEYS_ROTATION;
	if ((tk->aes128 = EVP_CIPHER_fetch(NULL, "AES-128-CBC", NULL)) ==
	    NULL || (tk->aes256 = EVP_CIPHER_fetch(NULL, "AES-256-CBC",
	    NULL)) == NULL) {
		log_ssl(LOG_LEVEL_ERR, "session ticket keys: no AES-CBC");
		ticketkeys_unref(tk);
		return NULL;
	}
	return tk;
}

static void
ticketkeys_free(struct ticketkeys *tk)
{
	OPENSSL_cleanse(tk->keys, sizeof(tk->keys));
	EVP_CIPHER_free(tk->aes128);
	EVP_CIPHER_free(tk->aes256);
	pthread_mutex_destroy(&tk->lock);
	free(tk);
}

struct ticketkeys *
ticketkeys_ref(struct ticketkeys *tk)
{
	atomic_fetch_add_explicit(&tk->refs, 1, memory_order_relaxed);
	return tk;
}

void
ticketkeys_unref(struct ticketkeys *tk)
{
	if (tk == NULL)
		return;
	if (tk->generated) {
		/*
		 * Under the shared lock: ticketkeys_shared() must not hand
		 * out the ring while its last reference goes.
		 */
		pthread_mutex_lock(&ticketkeys_shared_lock);
		if (atomic_fetch_sub_explicit(&tk->refs, 1,
		    memory_order_acq_rel) == 1) {
			if (ticketkeys_shared_ring == tk)
				ticketkeys_shared_ring = NULL;
			pthread_mutex_unlock(&ticketkeys_shared_lock);
			ticketkeys_free(tk);
			return;
		}
		pthread_mutex_unlock(&ticketkeys_shared_lock);
		return;
	}
	if (atomic_fetch_sub_explicit(&tk->refs, 1, memory_order_acq_rel) == 1)
		ticketkeys_free(tk);
}

/* A fresh random 80-byte key made at time now. */
static int
ticketkeys_fresh(struct ticketkeys_key *k, time_t now)
{
	if (RAND_bytes(k->name, sizeof(k->name)) != 1 ||
	    RAND_priv_bytes(k->aes, sizeof(k->aes)) != 1 ||
	    RAND_priv_bytes(k->hmac, sizeof(k->hmac)) != 1) {
		log_ssl(LOG_LEVEL_ERR, "cannot make a session ticket key");
		return -1;
	}
	k->len = 32;
	k->created = now;
	return 0;
}

/* Prepend a fresh key, dropping the last one if the ring is full.  Locked. */
static int
ticketkeys_push(struct ticketkeys *tk, time_t now)
{
	struct ticketkeys_key k;

	if (ticketkeys_fresh(&k, now) == -1)
		return -1;
	if (tk->n == TICKETKEYS_MAX)
		tk->n--;
	memmove(&tk->keys[1], &tk->keys[0], tk->n * sizeof(tk->keys[0]));
	tk->keys[0] = k;
	tk->n++;
	OPENSSL_cleanse(&k, sizeof(k));
	return 0;
}

struct ticketkeys *
ticketkeys_shared(unsigned rotation)
{
	struct ticketkeys *tk;

	pthread_mutex_lock(&ticketkeys_shared_lock);
	if ((tk = ticketkeys_shared_ring) != NULL) {
		atomic_fetch_add_explicit(&tk->refs, 1, memory_order_relaxed);
		pthread_mutex_unlock(&ticketkeys_shared_lock);
		pthread_mutex_lock(&tk->lock);
		tk->rotation = rotation > 0 ? rotation : TICKETKEYS_ROTATION;
		pthread_mutex_unlock(&tk->lock);
		return tk;
	}
	pthread_mutex_unlock(&ticketkeys_shared_lock);

	if ((tk = ticketkeys_new(1)) == NULL)
		return NULL;
	tk->rotation = rotation > 0 ? rotation : TICKETKEYS_ROTATION;
	if (ticketkeys_push(tk, ticketkeys_now()) == -1) {
		ticketkeys_unref(tk);
		return NULL;
	}
	pthread_mutex_lock(&ticketkeys_shared_lock);
	if (ticketkeys_shared_ring != NULL) {
		/* Another thread made one meanwhile: use that one. */
		OPENSSL_cleanse(tk->keys, sizeof(tk->keys));
		tk->generated = 0;
		pthread_mutex_unlock(&ticketkeys_shared_lock);
		ticketkeys_unref(tk);
		return ticketkeys_shared(rotation);
	}
	ticketkeys_shared_ring = tk;
	pthread_mutex_unlock(&ticketkeys_shared_lock);
	return tk;
}

/* Locked.  Keys of a generated ring decrypt for two intervals. */
static int
ticketkeys_maintain_locked(struct ticketkeys *tk, time_t now)
{
	time_t r = (time_t)tk->rotation;
	int added = 0;

	if (!tk->generated)
		return 0;
	if (tk->n == 0 || now - tk->keys[0].created >= r) {
		if (ticketkeys_push(tk, now) == -1)
			return 0;
		added = 1;
	}
	while (tk->n > 1 && now - tk->keys[tk->n - 1].created >= 2 * r) {
		tk->n--;
		OPENSSL_cleanse(&tk->keys[tk->n], sizeof(tk->keys[0]));
	}
	return added;
}

int
ticketkeys_maintain(struct ticketkeys *tk, time_t now)
{
	int added;

	pthread_mutex_lock(&tk->lock);
	added = ticketkeys_maintain_locked(tk, now);
	pthread_mutex_unlock(&tk->lock);
	return added;
}

size_t
ticketkeys_count(struct ticketkeys *tk)
{
	size_t n;

	pthread_mutex_lock(&tk->lock);
	n = tk->n;
	pthread_mutex_unlock(&tk->lock);
	return n;
}

/* Locked.  A staged first key is the next one: the second encrypts. */
static size_t
ticketkeys_enc_locked(const struct ticketkeys *tk)
{
	return tk->staged && tk->n >= 2 ? 1 : 0;
}

size_t
ticketkeys_encrypting(struct ticketkeys *tk)
{
	size_t i;

	pthread_mutex_lock(&tk->lock);
	i = ticketkeys_enc_locked(tk);
	pthread_mutex_unlock(&tk->lock);
	return i;
}

int
ticketkeys_name(struct ticketkeys *tk, size_t i, unsigned char name[16])
{
	int rc = -1;

	pthread_mutex_lock(&tk->lock);
	if (i < tk->n) {
		memcpy(name, tk->keys[i].name, TICKETKEYS_NAME_LEN);
		rc = 0;
	}
	pthread_mutex_unlock(&tk->lock);
	return rc;
}

const char *
ticketkeys_id(struct ticketkeys *tk, size_t i, char *buf, size_t len)
{
	unsigned char name[TICKETKEYS_NAME_LEN], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (len < 17 || ticketkeys_name(tk, i, name) == -1 ||
	    EVP_Digest(name, sizeof(name), md, &mdlen, EVP_sha256(), NULL) !=
	    1 || mdlen < 8) {
		snprintf(buf, len, "-");
		return buf;
	}
	return certinfo_hex(md, 8, buf, len);
}

const char *
ticketkeys_describe(struct ticketkeys *tk, const char *path, char *buf,
    size_t len)
{
	char id[32], next[32];
	size_t n = ticketkeys_count(tk), enc = ticketkeys_encrypting(tk);

	snprintf(buf, len, "%zu key%s from %s, encrypting with key %s%s%s%s",
	    n, n == 1 ? "" : "s", path, ticketkeys_id(tk, enc, id, sizeof(id)),
	    enc > 0 ? ", next key " : "",
	    enc > 0 ? ticketkeys_id(tk, 0, next, sizeof(next)) : "",
	    enc > 0 ? " staged" : "");
	return buf;
}

/*
 * OpenSSL's ticket key callback.  enc = 1: fill in the key name and the IV
 * and set up both contexts; return 1 (0 would mean "issue no ticket").
 * enc = 0: find the key by name; 0 makes a full handshake (unknown or
 * retired key), 1 resumes, 2 resumes and asks OpenSSL to issue a new
 * ticket under the current key: for a ticket under an older key, not one
 * under the staged key, which is newer than the current one.
 */
static int
ticketkeys_cb(SSL *ssl, unsigned char *name, unsigned char *iv,
    EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
	struct ticketkeys *tk;
	struct ticketkeys_key k;
	const EVP_CIPHER *cipher;
	OSSL_PARAM params[3];
	time_t now = ticketkeys_now();
	size_t i;
	int rc = 1, ivlen;

	tk = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ticketkeys_idx);
	if (tk == NULL)
		return enc ? -1 : 0;

	pthread_mutex_lock(&tk->lock);
	if (enc) {
		(void)ticketkeys_maintain_locked(tk, now);
		i = ticketkeys_enc_locked(tk);
	} else {
		for (i = 0; i < tk->n; i++)
			if (memcmp(tk->keys[i].name, name,
			    TICKETKEYS_NAME_LEN) == 0)
				break;
		/* A generated key retires two intervals after it was made. */
		if (i < tk->n && tk->generated &&
		    now - tk->keys[i].created >= 2 * (time_t)tk->rotation)
			i = tk->n;
		rc = i <= ticketkeys_enc_locked(tk) ? 1 : 2;
	}
	if (i >= tk->n) {
		pthread_mutex_unlock(&tk->lock);
		return enc ? -1 : 0;
	}
	k = tk->keys[i];
	pthread_mutex_unlock(&tk->lock);

	cipher = k.len == 16 ? tk->aes128 : tk->aes256;
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY,
	    k.hmac, k.len);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    ticketkeys_digest, 0);
	params[2] = OSSL_PARAM_construct_end();
	if (enc) {
		ivlen = EVP_CIPHER_get_iv_length(cipher);
		memcpy(name, k.name, TICKETKEYS_NAME_LEN);
		if (ivlen <= 0 || RAND_bytes(iv, ivlen) != 1 ||
		    EVP_EncryptInit_ex2(cctx, cipher, k.aes, iv, NULL) != 1)
			rc = -1;
	} else if (EVP_DecryptInit_ex2(cctx, cipher, k.aes, iv, NULL) != 1)
		rc = -1;
	if (rc != -1 && EVP_MAC_CTX_set_params(hctx, params) != 1)
		rc = -1;
	OPENSSL_cleanse(&k, sizeof(k));
	if (rc == -1)
		log_ssl(LOG_LEVEL_WARN, "session ticket %s failed",
		    enc ? "encryption" : "decryption");
	return rc;
}

int
ticketkeys_install(struct ticketkeys *tk, SSL_CTX *ctx)
{
	if (pthread_once(&ticketkeys_once, ticketkeys_init_once) != 0 ||
	    ticketkeys_idx < 0) {
		log_ssl(LOG_LEVEL_ERR, "cannot allocate OpenSSL ex_data");
		return -1;
	}
	if (SSL_CTX_set_ex_data(ctx, ticketkeys_idx, ticketkeys_ref(tk)) != 1) {
		ticketkeys_unref(tk);
		log_ssl(LOG_LEVEL_ERR, "cannot attach the ticket keys");
		return -1;
	}
	if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticketkeys_cb) != 1) {
		log_ssl(LOG_LEVEL_ERR, "cannot install the ticket key callback");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Key files */

/* Add a key from its decoded bytes in the given layout (room checked). */
static void
ticketkeys_add(struct ticketkeys *tk, const unsigned char *b, size_t len,
    int nginx)
{
	struct ticketkeys_key *k = &tk->keys[tk->n];
	size_t kl = len == 48 ? 16 : 32;

	memcpy(k->name, b, TICKETKEYS_NAME_LEN);
	k->len = kl;
	if (nginx && len == 80) {
		/* nginx's 80-byte file: name, HMAC key, AES key. */
		memcpy(k->hmac, b + 16, kl);
		memcpy(k->aes, b + 16 + kl, kl);
	} else {
		/* HAProxy, and nginx's 48-byte file: name, AES, HMAC. */
		memcpy(k->aes, b + 16, kl);
		memcpy(k->hmac, b + 16 + kl, kl);
	}
	tk->n++;
}

static int
ticketkeys_b64char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
}

/*
 * Could buf be a text key file: only base64, blanks and comments?  With
 * loose, any printable text will do (a text file with a bad line gets an
 * error naming the line; a binary file, one for the whole file).
 */
static int
ticketkeys_is_text(const unsigned char *buf, size_t len, int loose)
{
	size_t i;
	int comment = 0;

	for (i = 0; i < len; i++) {
		if (buf[i] == '\n') {
			comment = 0;
			continue;
		}
		if (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r')
			continue;
		if (loose) {
			if (buf[i] < 0x20 || buf[i] >= 0x7f)
				return 0;
			continue;
		}
		if (comment)
			continue;
		if (buf[i] == '#')
			comment = 1;
		else if (!ticketkeys_b64char(buf[i]))
			return 0;
	}
	return 1;
}

/* Decode one base64 line (no blanks inside).  Returns the length or -1. */
static int
ticketkeys_b64line(const char *s, size_t len, unsigned char *out)
{
	size_t pad = 0;
	int n;

	if (len == 0 || len % 4 != 0 || len > TICKETKEYS_LINE_MAX)
		return -1;
	while (pad < 2 && s[len - 1 - pad] == '=')
		pad++;
	if ((n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)len)) < 0)
		return -1;
	return n - (int)pad;
}

struct ticketkeys *
ticketkeys_parse(const unsigned char *buf, size_t len, const char *label,
    char *why, size_t whylen)
{
	unsigned char raw[TICKETKEYS_LINE_MAX];
	struct ticketkeys *tk;
	const char *p, *end, *eol, *s, *e;
	size_t i;
	int line = 0, n;

	if ((tk = ticketkeys_new(0)) == NULL) {
		snprintf(why, whylen, "%s: out of memory", label);
		return NULL;
	}
	if ((len == 48 || len == 80) && !ticketkeys_is_text(buf, len, 0)) {
		ticketkeys_add(tk, buf, len, 1);
		return tk;
	}
	if (!ticketkeys_is_text(buf, len, 1)) {
		snprintf(why, whylen, "%s: not a ticket key file: neither "
		    "base64 lines nor a 48- or 80-byte binary key (%zu bytes)",
		    label, len);
		goto err;
	}
	p = (const char *)buf;
	end = p + len;
	for (; p < end; p = eol + 1) {
		line++;
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		for (s = p; s < eol && (*s == ' ' || *s == '\t'); s++)
			;
		for (e = eol; e > s && (e[-1] == ' ' || e[-1] == '\t' ||
		    e[-1] == '\r'); e--)
			;
		if (s == e || *s == '#')
			continue;
		n = ticketkeys_b64line(s, (size_t)(e - s), raw);
		if (n != 48 && n != 80) {
			snprintf(why, whylen, "%s:%d: not a ticket key: the "
			    "base64 of 48 or 80 bytes expected", label, line);
			goto err;
		}
		if (tk->n == TICKETKEYS_MAX) {
			snprintf(why, whylen, "%s:%d: more than %d keys", label,
			    line, TICKETKEYS_MAX);
			goto err;
		}
		for (i = 0; i < tk->n; i++) {
			if (memcmp(tk->keys[i].name, raw,
			    TICKETKEYS_NAME_LEN) == 0) {
				snprintf(why, whylen, "%s:%d: the same key "
				    "name as key %zu: each key needs its own",
				    label, line, i + 1);
				goto err;
			}
		}
		ticketkeys_add(tk, raw, (size_t)n, 0);
	}
	if (tk->n == 0) {
		snprintf(why, whylen, "%s: no ticket key in the file", label);
		goto err;
	}
	OPENSSL_cleanse(raw, sizeof(raw));
	return tk;
 err:
	OPENSSL_cleanse(raw, sizeof(raw));
	ticketkeys_unref(tk);
	return NULL;
}

/* Read a whole small regular file (file_open: a FIFO does not block). */
static unsigned char *
ticketkeys_read(const char *path, size_t *lenp)
{
	unsigned char *buf = NULL;
	struct stat st;
	char why[256];
	size_t len = 0;
	ssize_t r;
	int fd;

	if ((fd = file_open(path, &st, why, sizeof(why))) == -1) {
		log_errx("%s: the ticket key file %s", path, why);
		return NULL;
	}
	(void)file_warn_exposed(path, &st, "session ticket key file", 1);
	if (st.st_size > TICKETKEYS_FILE_MAX) {
		log_errx("%s: too large for a ticket key file (%lld bytes)",
		    path, (long long)st.st_size);
		goto err;
	}
	if ((buf = malloc(TICKETKEYS_FILE_MAX + 1)) == NULL) {
		log_warn("%s", path);
		goto err;
	}
	while ((r = read(fd, buf + len, TICKETKEYS_FILE_MAX + 1 - len)) > 0)
		len += (size_t)r;
	if (r == -1 || len > TICKETKEYS_FILE_MAX) {
		log_errx("%s: cannot read the ticket keys: %s", path,
		    r == -1 ? strerror(errno) : "file grew while read");
		goto err;
	}
	close(fd);
	*lenp = len;
	return buf;
 err:
	if (buf != NULL) {
		OPENSSL_cleanse(buf, TICKETKEYS_FILE_MAX + 1);
		free(buf);
	}
	close(fd);
	return NULL;
}

struct ticketkeys *
ticketkeys_load(const char *path, int staged)
{
	struct ticketkeys *tk;
	unsigned char *buf;
	char why[512];
	size_t len = 0;

	if ((buf = ticketkeys_read(path, &len)) == NULL)
		return NULL;
	why[0] = '\0';
	tk = ticketkeys_parse(buf, len, path, why, sizeof(why));
	OPENSSL_cleanse(buf, TICKETKEYS_FILE_MAX + 1);
	free(buf);
	if (tk == NULL) {
		log_errx("%s", why);
		return NULL;
	}
	/* Set before any context shares the ring: never changes after. */
	tk->staged = staged;
	if (staged && tk->n < 2)
		log_warnx("%s: ticket_keys_staged needs 2 keys or more: its "
		    "only key encrypts (rotate once more to stage one)", path);
	return tk;
}

struct ticketkeys *
ticketkeys_generate(size_t n)
{
	struct ticketkeys *tk;
	size_t i;

	if (n > TICKETKEYS_MAX || (tk = ticketkeys_new(0)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		if (ticketkeys_push(tk, 0) == -1) {
			ticketkeys_unref(tk);
			return NULL;
		}
	}
	return tk;
}

/* One key as a text line (HAProxy's layout), into line (>= 110 bytes). */
static void
ticketkeys_format(const struct ticketkeys_key *k, char *line)
{
	unsigned char raw[80];
	int n;

	memcpy(raw, k->name, TICKETKEYS_NAME_LEN);
	memcpy(raw + 16, k->aes, k->len);
	memcpy(raw + 16 + k->len, k->hmac, k->len);
	n = EVP_EncodeBlock((unsigned char *)line, raw, (int)(16 + 2 * k->len));
	line[n] = '\n';
	line[n + 1] = '\0';
	OPENSSL_cleanse(raw, sizeof(raw));
}

/* Append the keys of tk (up to *left of them) to the text buf holds. */
static void
ticketkeys_format_ring(struct ticketkeys *tk, char *buf, size_t *len,
    size_t *left)
{
	size_t i;

	if (tk == NULL)
		return;
	pthread_mutex_lock(&tk->lock);
	for (i = 0; i < tk->n && *left > 0; i++, (*left)--) {
		ticketkeys_format(&tk->keys[i], buf + *len);
		*len += strlen(buf + *len);
	}
	pthread_mutex_unlock(&tk->lock);
}

int
ticketkeys_write(const char *path, struct ticketkeys *extra,
    struct ticketkeys *tk, size_t keep)
{
	/*
	 * Key lines, no comment: HAProxy takes every line of a
	 * tls-ticket-keys file for a key, so a file shared with it can have
	 * nothing else.
	 */
	const size_t size = 2 * TICKETKEYS_MAX * TICKETKEYS_LINE_MAX;
	struct stat st;
	mode_t mode = 0600;
	size_t len = 0;
	char *buf;
	int rc;

	/* The old file's mode without the bits for others: 0640 stays. */
	if (stat(path, &st) == 0)
		mode = (st.st_mode & 0770) | 0600;
	if ((buf = malloc(size)) == NULL) {
		log_errx("%s: out of memory", path);
		return -1;
	}
	ticketkeys_format_ring(extra, buf, &len, &keep);
	ticketkeys_format_ring(tk, buf, &len, &keep);
	rc = writefile_atomic(path, buf, len, mode);
	OPENSSL_cleanse(buf, size);
	free(buf);
	return rc;
}

/* `ticket-keys rotate FILE [--keep N]` */
static int
ticketkeys_rotate(const char *path, size_t keep)
{
	struct ticketkeys *old = NULL, *fresh = NULL;
	char *dircopy = NULL, id[32];
	int dfd = -1, rc = 1;
	size_t had = 0, kept;

	/*
	 * Serialise concurrent rotations of files in this directory (a
	 * timer and an administrator): each reads what the other wrote.
	 * The file itself cannot carry the lock, rename replaces it.
	 */
	if ((dircopy = strdup(path)) == NULL) {
		log_warn("ticket-keys");
		goto out;
	}
	if ((dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY |
	    O_CLOEXEC)) == -1) {
		log_err("%s: cannot open its directory", path);
		goto out;
	}
	if (flock(dfd, LOCK_EX) == -1) {
		log_err("%s: cannot lock its directory", path);
		goto out;
	}
	if (access(path, F_OK) == 0) {
		if ((old = ticketkeys_load(path, 0)) == NULL) {
			log_errx("%s: not rotated: the file is not a valid "
			    "ticket key file (left as it is)", path);
			goto out;
		}
		had = ticketkeys_count(old);
	} else if (errno != ENOENT) {
		log_err("%s", path);
		goto out;
	}
	if ((fresh = ticketkeys_generate(1)) == NULL ||
	    ticketkeys_write(path, fresh, old, keep) == -1)
		goto out;
	kept = had + 1 < keep ? had + 1 : keep;
	printf("%s: new encrypting key %s; %zu key%s in the file (%zu "
	    "dropped)\n", path, ticketkeys_id(fresh, 0, id, sizeof(id)),
	    kept, kept == 1 ? "" : "s", had + 1 - kept);
	/* Staged, the second key encrypts: the previous first one. */
	if (kept >= 2)
		printf("%s: with ticket_keys_staged = yes: encrypting key %s, "
		    "the new key staged\n", path,
		    ticketkeys_id(old, 0, id, sizeof(id)));
	rc = 0;
 out:
	if (dfd != -1)
		close(dfd);	/* releases the lock */
	free(dircopy);
	ticketkeys_unref(old);
	ticketkeys_unref(fresh);
	return rc;
}

int
ticketkeys_main(int argc, char **argv)
{
	const char *path = NULL;
	unsigned long keep = TICKETKEYS_KEEP;
	char *end;
	int i;

	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		fputs(ticketkeys_usage, stdout);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "rotate") != 0) {
		fputs(ticketkeys_usage, stderr);
		return 2;
	}
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			fputs(ticketkeys_usage, stdout);
			return 0;
		}
		if (strcmp(argv[i], "--keep") == 0) {
			if (i + 1 >= argc) {
				fprintf(stderr, "chainfix ticket-keys: --keep "
				    "needs a number\n");
				return 2;
			}
			errno = 0;
			keep = strtoul(argv[++i], &end, 10);
			if (errno != 0 || *end != '\0' || end == argv[i] ||
			    argv[i][0] == '-' || keep < 1 ||
			    keep > TICKETKEYS_MAX) {
				fprintf(stderr, "chainfix ticket-keys: --keep "
				    "%s: not a number from 1 to %d\n", argv[i],
				    TICKETKEYS_MAX);
				return 2;
			}
		} else if (argv[i][0] == '-' || path != NULL) {
			fprintf(stderr, "chainfix ticket-keys: unexpected "
			    "argument '%s'\n\n%s", argv[i], ticketkeys_usage);
			return 2;
		} else
			path = argv[i];
	}
	if (path == NULL) {
		fputs(ticketkeys_usage, stderr);
		return 2;
	}
	return ticketkeys_rotate(path, (size_t)keep);
}
