/*
 * fuzz_config: config files, lib/config.c (ini parsing on inih, continuation lines, every
 * value type, origins, the dump with secrets masked) under the relay's and the projector's
 * tables (relay/settings.c; projector/projector_settings.c with its [projection NAME] sections
 * and their sql.<Type> / sqlset.<Type> keys).
 *
 * Input: an ini file (seeds: tests/fixtures/config, projector/examples, compose/demo.d). It is
 * handed to outbox_conf_load() as a file, through a memfd, so the loader reads it exactly as
 * it reads any file; the environment is empty. The table is the relay's for an input of even
 * length, the projector's for odd. Its first line (up to 256 bytes) is also given
 * as one `--set section.key=value`, the way the command line passes them.
 *
 * Checks, beyond no crash, leak or undefined behaviour: a failed load leaves an error message
 * and no handle; a successful one dumps (outbox_conf_dump) without failing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "projector_settings.h"
#include "settings.h"

static void loaded(const outbox_conf *conf, const void *target, int rc, const char *err)
{
    if (rc != 0) {
        if (conf != NULL || err[0] == '\0')
            abort();
        return;
    }
    char *dump = outbox_conf_dump(conf, target);
    if (dump == NULL)
        abort();
    free(dump);
}

static void load_relay(const outbox_conf_sources *src)
{
    relay_settings settings;
    outbox_conf *conf = NULL;
    char err[1024] = "";

    memset(&settings, 0, sizeof settings);
    int rc = outbox_conf_load(&relay_settings_spec, &settings, src, NULL, &conf, err, sizeof err);
    loaded(conf, &settings, rc, err);
    outbox_conf_destroy(conf);
    relay_settings_free(&settings);
}

static void load_projector(const outbox_conf_sources *src)
{
    projector_settings settings;
    outbox_conf *conf = NULL;
    char err[1024] = "";

    memset(&settings, 0, sizeof settings);
    int rc = projector_settings_load(&settings, src, &conf, err, sizeof err);
    loaded(conf, &settings, rc, err);
    outbox_conf_destroy(conf);
    projector_settings_free(&settings);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    static char *const no_env[] = {NULL};
    char set[257];
    const char *sets[1] = {set};

    if (fd < 0) {
        fd = memfd_create("fuzz_config.ini", 0);
        if (fd < 0)
            abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();

    size_t n = 0;
    while (n < size && n < sizeof set - 1 && data[n] != '\n' && data[n] != '\0')
        n++;
    memcpy(set, data, n);
    set[n] = '\0';

    outbox_conf_sources file_only = {.path = path, .envp = no_env};
    outbox_conf_sources with_set = {.path = path, .envp = no_env, .sets = sets, .set_count = 1};
    /* One table per input, by its length's parity: a one-byte mutation moves it to the other. */
    void (*load)(const outbox_conf_sources *) = size % 2 ? load_projector : load_relay;
    load(&file_only);
    if (strchr(set, '=') != NULL)
        load(&with_set);
    return 0;
}
