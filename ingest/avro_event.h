/* ingest/avro_event.h - Avro records of streamrec.Event to raw events (no I/O).
 *
 * Reading always goes through Avro schema resolution against the canonical
 * reader schema (ingest_event_schema_json()), never by field position: a
 * writer schema may order fields differently, add fields (ignored) or leave
 * out optional ones (read as null). Avro C's resolver does not fill reader
 * defaults, so the decoder resolves against the canonical schema restricted
 * to the fields the writer has; a missing field without a default (ts,
 * user_id, item_id, type) makes the writer schema unusable.
 *
 * One decoder serves one writer schema (an object container file's, or a
 * Kafka message's looked up by schema id):
 *
 *     struct avro_event *d = avro_event_new(writer_schema, err, sizeof err);
 *     avro_file_reader_read_value(file, avro_event_input(d));   // or
 *     rc = avro_event_decode(d, payload, len, &ev, &why);      // binary record
 *     rc = avro_event_get(d, &ev, &why);
 *     avro_event_free(d);
 */
#ifndef SR_AVRO_EVENT_H
#define SR_AVRO_EVENT_H

#include "core/event.h"
#include "ingest/source.h"

#include <avro.h>
#include <stddef.h>

struct avro_event;

/** Returns a new decoder for records written with writer (borrowed, only
 * used during the call; NULL means the canonical schema), or NULL with a
 * one-line reason in errbuf (writer is not a record, lacks a required field,
 * or cannot be resolved). Free with avro_event_free(). */
struct avro_event *avro_event_new(avro_schema_t writer, char *errbuf, size_t errlen);
/** The value a writer record is read into (avro_file_reader_read_value(),
 * avro_value_read()). Borrowed, valid for the decoder's life. */
avro_value_t *avro_event_input(struct avro_event *d);
/** Converts the record last read into the input. Returns 0 with *ev filled
 * (strings borrowed from the decoder, valid until the next read into it), or
 * SR_EPARSE with *why set (SRC_BAD_ID for an empty id, SRC_BAD_AVRO else). */
int avro_event_get(struct avro_event *d, struct sr_raw_event *ev, enum src_bad *why);
/** Reads one Avro binary-encoded record (no framing) from buf[0..len) and
 * converts it like avro_event_get(); a record that cannot be read gives
 * SRC_BAD_AVRO (bytes after the record are not detected: Avro C's memory
 * reader does not report its position). buf is borrowed during the call. */
int avro_event_decode(struct avro_event *d, const void *buf, size_t len, struct sr_raw_event *ev,
                      enum src_bad *why);
/** NULL-safe. */
void avro_event_free(struct avro_event *d);

#endif
