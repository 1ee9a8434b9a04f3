/* ingest/framing.h - Kafka message payloads to and from events (no I/O).
 *
 * Three framings of one event (DESIGN.md, Events):
 *   FR_CONFLUENT      0x00, big-endian int32 schema id, Avro binary record
 *   FR_SINGLE_OBJECT  0xC3 0x01, little-endian CRC-64-AVRO fingerprint of
 *                     the writer schema (ingest/avro_fp.h), Avro binary
 *   FR_JSON           one JSON object with the DESIGN.md field names
 *
 * Encoding always writes the canonical schema (ingest.schema_id for
 * Confluent). Decoding detects the framing by its first byte
 * (ingest.format=auto; jsonl accepts only JSON, avro only the two Avro
 * framings), looks the writer schema up (Confluent ids: the canonical one
 * plus ingest.schema_dir/<id>.avsc; fingerprints: the same schemas) and
 * reads the record through Avro schema resolution against the canonical
 * reader schema (ingest/avro_event.h), by field name, never by position.
 * JSON is read like a JSON lines record (ingest/jsonl.h).
 *
 * A message that cannot be decoded gives a reason with a stable snake_case
 * name (the DLQ header streamrec.error) and a one-line detail
 * (streamrec.error.detail); any byte string is safe to decode.
 *
 *     struct fr *f = fr_new(&cfg.ingest, err, sizeof err);
 *     rc = fr_encode(f, FR_CONFLUENT, &ev, &bytes, &len);
 *     rc = fr_decode(f, bytes, len, &ev, &st);   // st.reason, st.detail on failure
 *     fr_free(f);
 *
 * Single-threaded: one struct fr per thread. Encoding and decoding do not
 * allocate once buffers have grown to the largest message. */
#ifndef SR_FRAMING_H
#define SR_FRAMING_H

#include "core/config.h"
#include "core/event.h"

#include <stddef.h>
#include <stdint.h>

enum fr_format { FR_CONFLUENT = 0, FR_SINGLE_OBJECT, FR_JSON, FR_FORMAT_COUNT };

/** Why a message could not be decoded. Names are stable (DLQ headers,
 * metrics keys): add new ones at the end, never rename. */
enum fr_reason {
    FR_OK = 0,
    FR_TRUNCATED,           /* "truncated": shorter than its header, or the record ends early */
    FR_BAD_MAGIC,           /* "bad_magic": first bytes are no framing accepted */
    FR_UNKNOWN_SCHEMA_ID,   /* "unknown_schema_id": Confluent id without a writer schema */
    FR_UNKNOWN_FINGERPRINT, /* "unknown_fingerprint": single-object fingerprint not known */
    FR_BAD_AVRO, /* "bad_avro": Avro body unreadable with the writer schema, or bytes left over */
    FR_BAD_JSON, /* "bad_json": not a JSON object */
    FR_INVALID_FIELD, /* "invalid_field": a field missing, of the wrong type or out of range */
    FR_OVERSIZED,     /* "oversized": longer than ingest.max_message_bytes */
    FR_REASON_COUNT
};

#define FR_DETAIL_MAX 160

/** What fr_decode() found. */
struct fr_status {
    enum fr_format framing;     /* detected framing (meaningful once the magic was read) */
    enum fr_reason reason;      /* FR_OK on success */
    int32_t schema_id;          /* Confluent id read, else -1 */
    uint64_t fingerprint;       /* single-object fingerprint read, else 0 */
    char detail[FR_DETAIL_MAX]; /* one line, "" on success */
};

struct fr;

/** Parses "confluent", "single-object" and "json"; returns 0 or SR_EINVAL. */
int fr_format_parse(const char *s, enum fr_format *out);
/** "confluent", "single-object", "json". */
const char *fr_format_name(enum fr_format f);
/** Stable name of a reason ("ok", "truncated", "bad_magic", ...). */
const char *fr_reason_name(enum fr_reason r);

/** Returns a new codec for the settings in cfg (copied): format,
 * schema_dir (every <id>.avsc file in it is read now; the only I/O here),
 * schema_id, max_message_bytes, type_map and default_type (JSON). NULL with
 * a one-line reason in errbuf: format csv, an unreadable or invalid schema
 * file, a writer schema that does not resolve to streamrec.Event, or a file
 * for ingest.schema_id that is not the canonical schema. Free with
 * fr_free(). */
struct fr *fr_new(const struct sr_ingest_cfg *cfg, char *errbuf, size_t errlen);

/** Adds writer schema json[0..len) (borrowed for the call) under Confluent
 * id (>= 0; -1 = known by fingerprint only). Returns 0, or SR_EINVAL with
 * a reason in errbuf (invalid schema, unresolvable, id already taken by
 * another schema). Adding a schema already known is a no-op. */
int fr_add_schema(struct fr *f, int32_t id, const char *json, size_t len, char *errbuf,
                  size_t errlen);

/** CRC-64-AVRO fingerprint of the canonical schema (what single-object
 * encoding writes). */
uint64_t fr_canonical_fingerprint(const struct fr *f);

/** Encodes ev (borrowed for the call) with the canonical schema in framing
 * fmt. Returns 0 with *out and *len set (borrowed from f, valid until the next
 * fr_encode() or fr_free()); SR_EINVAL when the event cannot be represented
 * (an id longer than SR_MAX_ID_LEN or empty, a non-finite price, a type out
 * of range; JSON: a string that is not UTF-8 or holds a NUL byte); SR_ENOMEM. */
int fr_encode(struct fr *f, enum fr_format fmt, const struct sr_raw_event *ev, const void **out,
              size_t *len);

/** Decodes buf[0..len) (borrowed for the call). Returns 0 with *ev filled
 * (strings borrowed from f, valid until the next fr_decode() or fr_free())
 * and st->reason FR_OK, or SR_EPARSE with st->reason and st->detail set
 * (SR_ENOMEM when memory ran out, reason bad_avro). st is always filled. */
int fr_decode(struct fr *f, const void *buf, size_t len, struct sr_raw_event *ev,
              struct fr_status *st);

/** NULL-safe. */
void fr_free(struct fr *f);

#endif
