/* ingest/writer.h - writes events in the file formats the sources read.
 *
 * The counterpart of ingest/source.h, used by `streamrec gen` and by tests
 * that need dataset files:
 *   WR_CSV    header `event_id,ts,user_id,item_id,type,price,quantity,session_id`;
 *             ts in Unix ms, type as its symbol (sr_event_type_name), an
 *             empty field is null; fields holding , " CR or LF are quoted
 *             RFC 4180 style ("" for a quote).
 *   WR_JSONL  one JSON object per line with the DESIGN.md field names;
 *             absent optional fields are null.
 *   WR_AVRO   Avro object container file with the canonical schema
 *             (ingest_event_schema_json()), null codec.
 * Prices are written so that they parse back to the same double.
 *
 *     struct wr *w = wr_open("out.csv", WR_CSV, err, sizeof err);
 *     while (...) if (wr_write(w, &ev)) ...
 *     if (wr_close(w, err, sizeof err)) ...   // reports buffered write errors too
 *
 * Single-threaded. Does no allocation per event. */
#ifndef SR_WRITER_H
#define SR_WRITER_H

#include "core/event.h"

#include <stddef.h>

enum wr_format { WR_CSV = 0, WR_JSONL, WR_AVRO };

struct wr;

/** Parses "csv", "jsonl" (or "json") and "avro"; returns 0 or SR_EINVAL. */
int wr_format_parse(const char *s, enum wr_format *out);
/** The canonical name of a format ("csv", "jsonl", "avro"). */
const char *wr_format_name(enum wr_format f);

/** Creates (truncates) path, or writes to stdout when path is "-" (CSV and
 * JSON lines only: Avro needs a file). Writes the CSV header or the Avro
 * file header. path is borrowed for the call. Returns NULL with a one-line
 * reason in errbuf. */
struct wr *wr_open(const char *path, enum wr_format fmt, char *errbuf, size_t errlen);

/** Appends one event (ev borrowed for the call). Returns 0; SR_EINVAL when
 * the event cannot be represented (a non-finite price; for JSON, ids that
 * are not valid UTF-8) and nothing is written; SR_EIO on a write error
 * (wr_error() says what). */
int wr_write(struct wr *w, const struct sr_raw_event *ev);

/** Events written so far. */
unsigned long long wr_count(const struct wr *w);

/** Last error message, "" when none (valid until wr_close()). */
const char *wr_error(const struct wr *w);

/** Flushes and closes (stdout is flushed, not closed) and frees w: 0, or
 * SR_EIO when any write failed, including ones buffered until now, with
 * the reason in errbuf (may be NULL). NULL-safe (returns 0). */
int wr_close(struct wr *w, char *errbuf, size_t errlen);

#endif
