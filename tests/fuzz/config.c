/* tests/fuzz/config.c - libFuzzer target: the configuration parser
 * (core/config.h): an INI text through sr_config_load_file (libinih, every
 * key's type, range and enum checks), then "-o section.key=value"
 * overrides, then validation, formatting of every key and the dump.
 *
 * Input layout: the INI text up to the first NUL byte; after it, one
 * override per "\n"-separated line. The text reaches the loader through a
 * memfd opened by its /proc/self/fd path (the loader reads files only).
 *
 * Oracle besides the sanitizers: return codes stay in the documented set,
 * error messages are NUL-terminated, and every formatted value is a
 * NUL-terminated string that sets its key again. */
#include "core/config.h"
#include "core/err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static int g_fd = -1;   /* memfd holding the INI text */
static char g_path[64]; /* its /proc/self/fd path */
static FILE *g_devnull; /* sink of sr_config_dump */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    g_fd = memfd_create("sr_fuzz_config", MFD_CLOEXEC);
    g_devnull = fopen("/dev/null", "w");
    if (g_fd < 0 || !g_devnull) {
        perror("fuzz config: memfd_create or /dev/null");
        exit(1);
    }
    snprintf(g_path, sizeof g_path, "/proc/self/fd/%d", g_fd);
    return 0;
}

static void check_msg(const char *err, size_t cap)
{
    if (!memchr(err, '\0', cap))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, '\0', size);
    size_t ini_len = nul ? (size_t)(nul - data) : size;
    if (ftruncate(g_fd, 0) != 0 || pwrite(g_fd, data, ini_len, 0) != (ssize_t)ini_len)
        abort();

    static struct sr_config cfg; /* large: keep it off the stack */
    sr_config_defaults(&cfg);
    char err[1024];
    memset(err, 'x', sizeof err);
    int rc = sr_config_load_file(&cfg, g_path, err, sizeof err);
    if (rc != 0 && rc != SR_ECONFIG)
        abort();
    if (rc != 0)
        check_msg(err, sizeof err);

    const char *p = nul ? (const char *)nul + 1 : (const char *)data + size;
    const char *end = (const char *)data + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        char *o = malloc(n + 1);
        if (!o)
            abort();
        memcpy(o, p, n);
        o[n] = '\0';
        memset(err, 'x', sizeof err);
        rc = sr_config_override(&cfg, o, err, sizeof err);
        if (rc != 0 && rc != SR_ECONFIG)
            abort();
        if (rc != 0)
            check_msg(err, sizeof err);
        free(o);
        p = nl ? nl + 1 : end;
    }

    memset(err, 'x', sizeof err);
    rc = sr_config_validate(&cfg, err, sizeof err);
    if (rc != 0 && rc != SR_ECONFIG)
        abort();
    if (rc != 0)
        check_msg(err, sizeof err);

    /* Values format to text that is accepted back for their key: a few
     * keys per input, picked from its bytes (every key is covered over a
     * run; all of them each time made the oracle 90% of the cost). */
    size_t nkeys;
    const struct sr_cfg_key *keys = sr_config_keys(&nkeys);
    static struct sr_config again;
    again = cfg;
    uint32_t pick = size ? (uint32_t)data[size - 1] * 2654435761u : 0;
    for (size_t j = 0; j < 4; j++) {
        size_t i = (pick + j * 7919u + (size_t)size) % nkeys;
        char buf[2 * SR_CFG_STR_MAX];
        memset(buf, 'x', sizeof buf);
        sr_config_format(&cfg, &keys[i], buf, sizeof buf);
        check_msg(buf, sizeof buf);
        if (keys[i].secret)
            continue;
        if (sr_config_set(&again, keys[i].section, keys[i].key, buf, err, sizeof err) != 0) {
            fprintf(stderr, "%s.%s: formatted value '%s' refused: %s\n", keys[i].section,
                    keys[i].key, buf, err);
            abort();
        }
    }
    if (pick % 8 == 0) /* the whole dump: every key formatted */
        sr_config_dump(&cfg, g_devnull, false);
    return 0;
}
