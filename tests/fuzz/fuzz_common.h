/* tests/fuzz/fuzz_common.h - what the libFuzzer targets and the seed corpus
 * generator (tests/fuzz/mkcorpus.c) share: the writer schemas that differ
 * from the canonical one, the ids they are registered under, and the
 * settings the targets decode with. Header-only (each target is its own
 * program). */
#ifndef SR_FUZZ_COMMON_H
#define SR_FUZZ_COMMON_H

#include "core/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Confluent ids of the two writer schemas in the fuzz schema dir (the
 * canonical schema is ingest.schema_id = 1). */
#define FUZZ_ID_EXTRA   7
#define FUZZ_ID_MISSING 8

/* Fields reordered, two extra fields (one optional), enum symbols reordered. */
static const char fuzz_schema_extra[] =
    "{\"type\":\"record\",\"name\":\"Event\",\"namespace\":\"streamrec\",\"fields\":["
    "{\"name\":\"user_id\",\"type\":\"string\"},"
    "{\"name\":\"campaign\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"type\",\"type\":{\"type\":\"enum\",\"name\":\"EventType\",\"symbols\":"
    "[\"PURCHASE\",\"FAVORITE\",\"VIEW\",\"CLICK\",\"ADD_TO_CART\"]}},"
    "{\"name\":\"item_id\",\"type\":\"string\"},"
    "{\"name\":\"session_id\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"score\",\"type\":\"double\"},"
    "{\"name\":\"ts\",\"type\":\"long\"},"
    "{\"name\":\"quantity\",\"type\":[\"null\",\"int\"],\"default\":null},"
    "{\"name\":\"event_id\",\"type\":[\"null\",\"string\"],\"default\":null},"
    "{\"name\":\"price\",\"type\":[\"null\",\"double\"],\"default\":null}]}";

/* Optional fields left out (price, session_id, event_id, category);
 * required ones reordered. */
static const char fuzz_schema_missing[] =
    "{\"type\":\"record\",\"name\":\"Event\",\"namespace\":\"streamrec\",\"fields\":["
    "{\"name\":\"ts\",\"type\":\"long\"},"
    "{\"name\":\"type\",\"type\":{\"type\":\"enum\",\"name\":\"EventType\",\"symbols\":"
    "[\"VIEW\",\"CLICK\",\"ADD_TO_CART\",\"FAVORITE\",\"PURCHASE\"]}},"
    "{\"name\":\"item_id\",\"type\":\"string\"},"
    "{\"name\":\"user_id\",\"type\":\"string\"},"
    "{\"name\":\"quantity\",\"type\":[\"null\",\"int\"],\"default\":null}]}";

/* The type map the JSON decoders are given (symbols mapped besides the
 * canonical ones). */
#define FUZZ_TYPE_MAP "pv=VIEW,cart=ADD_TO_CART,fav=FAVORITE,buy=PURCHASE"

/* Writes text to dir/name; 0 or -1. */
static inline int fuzz_write_file(const char *dir, const char *name, const void *p, size_t n)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
        return -1;
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(p, 1, n, f);
    return (fclose(f) == 0 && w == n) ? 0 : -1;
}

/* Creates a schema dir in /tmp holding both writer schemas (and a file
 * that is no schema, which fr_new ignores) and points cfg at it. Exits on
 * failure: a target without its schemas would fuzz less than it claims. */
static inline void fuzz_schema_dir(struct sr_ingest_cfg *cfg)
{
    char dir[] = "/tmp/sr_fuzz_schemas_XXXXXX";
    if (!mkdtemp(dir) ||
        fuzz_write_file(dir, "7.avsc", fuzz_schema_extra, strlen(fuzz_schema_extra)) != 0 ||
        fuzz_write_file(dir, "8.avsc", fuzz_schema_missing, strlen(fuzz_schema_missing)) != 0 ||
        fuzz_write_file(dir, "README.txt", "not a schema\n", 13) != 0) {
        fprintf(stderr, "fuzz: cannot create a schema dir in /tmp\n");
        exit(1);
    }
    snprintf(cfg->schema_dir, sizeof cfg->schema_dir, "%s", dir);
}

#endif
