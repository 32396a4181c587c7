/*
 * fuzz_certload.c: any bytes as a certificate file (PEM, DER, PKCS#12,
 * PKCS#7, with or without a key) and as a key file must give certificates
 * or a logged error, never a crash or a leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "certload.h"
#include "fuzz_memfile.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct certload_set *set;
	EVP_PKEY *key = NULL;
	char path[64];
	int fd;

	log_init("fuzz", LOG_LEVEL_ERR, 0);
	if ((fd = fuzz_memfile(data, size, path, sizeof(path))) == -1)
		return 0;
	if ((set = certload_set_new()) != NULL) {
		(void)certload_file(path, "secret", set, &key);
		EVP_PKEY_free(key);
		key = NULL;
		certload_set_free(set);
	}
	if (certload_key(path, "secret", &key) == 0)
		EVP_PKEY_free(key);
	close(fd);
	return 0;
}
