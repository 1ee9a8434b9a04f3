/* tests/fuzz/jsonl.c - libFuzzer target: one JSON lines record through
 * jsonl_decode (ingest/jsonl.h) with a type map, as the file source feeds
 * it (the line without its "\n", in a buffer of exactly its length so the
 * sanitizers see any read past it).
 *
 * Oracle besides the sanitizers: a decoded event has a type in range, and
 * every string it hands out is readable for its whole length. */
#include "core/config.h"
#include "core/err.h"
#include "core/event.h"
#include "ingest/jsonl.h"
#include "tests/fuzz/fuzz_common.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static struct jsonl *g_j; /* the decoder under test, built once */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    snprintf(cfg.ingest.type_map, sizeof cfg.ingest.type_map, "%s", FUZZ_TYPE_MAP);
    char err[512];
    if (!(g_j = jsonl_new(&cfg.ingest, err, sizeof err))) {
        fprintf(stderr, "fuzz jsonl: jsonl_new: %s\n", err);
        exit(1);
    }
    return 0;
}

static unsigned touch(struct sr_str s)
{
    unsigned h = 0;
    for (uint32_t i = 0; s.p && i < s.len; i++)
        h = h * 31 + (unsigned char)s.p[i];
    return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size ? size : 1);
    if (!line)
        abort();
    memcpy(line, data, size);
    struct sr_raw_event ev;
    enum src_bad why = SRC_BAD_COUNT;
    int rc = jsonl_decode(g_j, line, size, &ev, &why);
    if (rc == 0) {
        if ((int)ev.type < 0 || ev.type >= SR_EVENT_TYPE_COUNT)
            abort();
        volatile unsigned h = touch(ev.user_id) + touch(ev.item_id) + touch(ev.event_id) +
                              touch(ev.session_id) + touch(ev.category);
        (void)h;
    } else if (rc != SR_EPARSE || (int)why < 0 || why >= SRC_BAD_COUNT) {
        abort();
    }
    free(line);
    return 0;
}
