/* tests/fuzz/csv.c - libFuzzer target: CSV/TSV lines through csv_decode
 * (ingest/csv.h) with a column mapping.
 *
 * Input layout: byte 0 picks the settings: (b % 5) a dataset preset (none,
 * taobao, yoochoose, diginetica, movielens: their delimiters, mappings,
 * type maps and header modes), bit 0x80 takes the first line as
 * ingest.columns instead (csv_parse_columns), bits 0x60 the header mode
 * (preset's, auto, true, false). The rest is split at "\n"; each line is
 * decoded in a buffer of exactly its length (csv_decode unquotes in place),
 * as one file (csv_reset once).
 *
 * Oracle besides the sanitizers: return codes and reasons stay in their
 * documented sets, and handed-out strings lie inside the line. */
#include "core/config.h"
#include "core/err.h"
#include "core/event.h"
#include "ingest/csv.h"
#include "ingest/source.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const header_modes[] = {NULL, "auto", "true", "false"};

static void check_str(struct sr_str s, const char *line, size_t len)
{
    if (!s.p)
        return;
    if (s.p < line || s.p + s.len > line + len)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned sel = data[0];
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    char err[512];
    if (src_apply_preset(&cfg, (int)(sel % 5), err, sizeof err) != 0)
        abort(); /* the presets are fixed: they always apply */
    if (header_modes[(sel >> 5) & 3] &&
        sr_config_set(&cfg, "ingest", "header", header_modes[(sel >> 5) & 3], err, sizeof err))
        abort();
    if (sel & 0x80) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        if (n >= sizeof cfg.ingest.columns)
            return 0;
        memcpy(cfg.ingest.columns, p, n);
        cfg.ingest.columns[n] = '\0';
        if (memchr(cfg.ingest.columns, '\0', n))
            return 0; /* a config value never holds a NUL */
        p = nl ? nl + 1 : end;
    }
    struct csv *c = csv_new(&cfg.ingest, &cfg.movielens, err, sizeof err);
    if (!c)
        return 0; /* a column spec csv_parse_columns refused */
    csv_reset(c);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        char *line = malloc(n ? n : 1);
        if (!line)
            abort();
        memcpy(line, p, n);
        struct sr_raw_event ev;
        enum src_bad why = SRC_BAD_COUNT;
        int rc = csv_decode(c, line, n, &ev, &why);
        if (rc == 0) {
            if ((int)ev.type < 0 || ev.type >= SR_EVENT_TYPE_COUNT)
                abort();
            check_str(ev.user_id, line, n);
            check_str(ev.item_id, line, n);
            check_str(ev.event_id, line, n);
            check_str(ev.session_id, line, n);
            check_str(ev.category, line, n);
        } else if (rc == SR_EPARSE) {
            if ((int)why < 0 || why >= SRC_BAD_COUNT)
                abort();
        } else if (rc != SR_EAGAIN) {
            abort();
        }
        free(line);
        p = nl ? nl + 1 : end;
    }
    csv_free(c);
    return 0;
}
