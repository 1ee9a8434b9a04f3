/* ingest/csv.h - CSV/TSV lines to raw events (no I/O).
 *
 * The decoder is fed one line at a time (without its "\n") and maps columns
 * to event fields by ingest.columns ("user=0,item=1,type=3,ts=4"), or, when
 * ingest.header is auto and a file's first line names user_id and item_id,
 * by the DESIGN.md field names of that header (ts then in Unix ms). Fields
 * may be double-quoted ("" is a quote inside); quoted fields cannot span
 * lines. A "rating" column turns into the type: rating >=
 * movielens.positive_rating gives CLICK, lower gives VIEW.
 *
 *     struct csv *c = csv_new(&cfg.ingest, &cfg.movielens, err, sizeof err);
 *     csv_reset(c);                       // at the start of every file
 *     rc = csv_decode(c, line, len, &ev, &why);
 *     csv_free(c);
 */
#ifndef SR_CSV_H
#define SR_CSV_H

#include "core/config.h"
#include "core/event.h"
#include "ingest/source.h"

#include <stddef.h>

/** Mapped columns, 0-based; -1 when the input has no such column. */
struct csv_columns {
    int user, item, type, ts, event_id, session, price, quantity, rating, category, ts_offset;
};

struct csv;

/** Returns a new decoder for the settings (copied), or NULL with a one-line
 * reason in errbuf (bad delimiter, column mapping or type map). Free with
 * csv_free(). */
struct csv *csv_new(const struct sr_ingest_cfg *cfg, const struct sr_movielens_cfg *ml,
                    char *errbuf, size_t errlen);
/** Parses "name=index,..." into *out (names: user,item,type,ts,event_id,
 * session,price,quantity,rating,category,ts_offset; user, item and ts are
 * required). Returns 0 or SR_ECONFIG. */
int csv_parse_columns(const char *spec, struct csv_columns *out, char *errbuf, size_t errlen);
/** The next line is a file's first line again (header handling, configured
 * mapping restored). */
void csv_reset(struct csv *c);
/** Decodes one line. line[0..len) may be modified in place (unquoting).
 * Returns 0 with *ev filled (strings borrowed from line), SR_EAGAIN when the
 * line was a header (nothing to hand out), or SR_EPARSE with *why set. */
int csv_decode(struct csv *c, char *line, size_t len, struct sr_raw_event *ev, enum src_bad *why);
/** NULL-safe. */
void csv_free(struct csv *c);

#endif
