/*
 * fuzz_config.c: any bytes as a configuration file must load or report
 * errors, never crash or leak.
 */
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include "config.h"
#include "fuzz_memfile.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd;

	log_init("fuzz", LOG_LEVEL_ERR, 0);
	if ((fd = fuzz_memfile(data, size, path, sizeof(path))) == -1)
		return 0;
	config_free(config_load(path));
	close(fd);
	return 0;
}
