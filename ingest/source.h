/* ingest/source.h - dataset files as event sources.
 *
 * A source reads one or more files (gzip or plain, decided by content),
 * decodes them with the configured format (CSV/TSV with a column mapping or a
 * preset, JSON lines, Avro object container files) and hands out raw events
 * in file order, or in stable event-time order when ingest.sort is set. A bad
 * line or record is counted by reason and skipped (the first
 * ingest.max_bad_reported are logged with file and line), never fatal.
 *
 *     struct src *s = src_open(paths, n, &cfg, err, sizeof err);
 *     struct sr_raw_event ev;
 *     while ((rc = src_next(s, &ev)) == 0) ...   // rc == SR_EEOF at the end
 *     src_close(s);
 *
 * Single-threaded; the decoders behind it (ingest/csv.h, ingest/jsonl.h)
 * do no I/O and are fed bytes. */
#ifndef SR_SOURCE_H
#define SR_SOURCE_H

#include "core/config.h"
#include "core/event.h"

#include <stddef.h>
#include <stdint.h>

/** Why a line or record was skipped. */
enum src_bad {
    SRC_BAD_FIELDS = 0, /* wrong number of fields / missing mapped column */
    SRC_BAD_TS,         /* timestamp missing or unparsable */
    SRC_BAD_TYPE,       /* event type not in the type map */
    SRC_BAD_ID,         /* user or item id empty */
    SRC_BAD_NUMBER,     /* price, quantity or rating unparsable */
    SRC_BAD_JSON,       /* not a JSON object with the required fields */
    SRC_BAD_AVRO,       /* Avro record could not be decoded or resolved */
    SRC_BAD_TOO_LONG,   /* line longer than the decoder accepts */
    SRC_BAD_COUNT
};

struct src_stats {
    uint64_t records; /* lines or records read, header excluded */
    uint64_t events;  /* events handed out */
    uint64_t bad;     /* records skipped */
    uint64_t bad_by_reason[SRC_BAD_COUNT];
    uint64_t bytes; /* uncompressed bytes read */
};

struct src;

/** Opens paths[0..n) as one stream (in that order; sorted together when
 * cfg->ingest.sort). Reads cfg->ingest and cfg->movielens (copied). Returns
 * NULL with a one-line reason in errbuf (missing or unreadable file, bad
 * column mapping, unknown format). */
struct src *src_open(const char *const *paths, size_t n, const struct sr_config *cfg, char *errbuf,
                     size_t errlen);
/** Pulls the next event: 0 with *ev filled (strings borrowed, valid until
 * the next src_next()), SR_EEOF at the end, SR_EIO on a read error
 * (src_error() says which file). */
int src_next(struct src *s, struct sr_raw_event *ev);
/** Counters so far. */
void src_stats(const struct src *s, struct src_stats *out);
/** Stable name of a skip reason ("bad_fields", "bad_ts", ...), a report key. */
const char *src_bad_name(enum src_bad r);
/** Last error message (read errors), "" when none. */
const char *src_error(const struct src *s);
/** NULL-safe. */
void src_close(struct src *s);

/** Applies a dataset preset to cfg (column mapping, delimiter, header, time
 * unit, type map, sort, type weights) through sr_config_set(), so that keys
 * the user sets afterwards still win. Returns 0 or SR_ECONFIG. */
int src_apply_preset(struct sr_config *cfg, int preset, char *errbuf, size_t errlen);

#endif
