/* ingest/schema.h - the canonical Avro schema of an event (record
 * streamrec.Event), compiled in so the binary needs no schema file at run
 * time. config/schemas/event.avsc is the same text for producers; a unit
 * test keeps the two equal. */
#ifndef SR_SCHEMA_H
#define SR_SCHEMA_H

/** The canonical writer/reader schema as JSON text (static storage). */
const char *ingest_event_schema_json(void);

#endif
