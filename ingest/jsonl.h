/* ingest/jsonl.h - JSON lines to raw events (no I/O), with jansson.
 *
 * One JSON object per line with the DESIGN.md field names: event_id, ts
 * (Unix ms as a number, or an ISO date/datetime string), user_id, item_id
 * (strings, or integers taken as their decimal text), type (symbol, also
 * through ingest.type_map; absent or null gives ingest.default_type), price,
 * quantity, session_id, category (all optional, null allowed). Unknown fields
 * are ignored.
 *
 *     struct jsonl *j = jsonl_new(&cfg.ingest, err, sizeof err);
 *     rc = jsonl_decode(j, line, len, &ev, &why);
 *     jsonl_free(j);
 */
#ifndef SR_JSONL_H
#define SR_JSONL_H

#include "core/config.h"
#include "core/event.h"
#include "ingest/source.h"

#include <stddef.h>

struct jsonl;

/** Returns a new decoder (settings copied) or NULL with a reason in errbuf
 * (bad type map). Free with jsonl_free(). */
struct jsonl *jsonl_new(const struct sr_ingest_cfg *cfg, char *errbuf, size_t errlen);
/** Decodes one line. Returns 0 with *ev filled (strings borrowed from the
 * decoder, valid until its next jsonl_decode() or jsonl_free()), or
 * SR_EPARSE with *why set. */
int jsonl_decode(struct jsonl *j, const char *line, size_t len, struct sr_raw_event *ev,
                 enum src_bad *why);
/** NULL-safe. */
void jsonl_free(struct jsonl *j);

#endif
