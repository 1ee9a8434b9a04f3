/* ingest/fields.h - field conversions shared by the ingest decoders.
 *
 * Timestamps (numbers in s/ms/us with an optional fraction, or ISO dates and
 * datetimes), numbers from unterminated byte ranges, and the event type map
 * ("pv=VIEW,buy=PURCHASE" plus the canonical names). Pure functions, no I/O,
 * no allocation. */
#ifndef SR_FIELDS_H
#define SR_FIELDS_H

#include "core/event.h"

#include <stddef.h>
#include <stdint.h>

#define FIELDS_TYPEMAP_MAX  32
#define FIELDS_TYPENAME_MAX 32

/** Extra type names on top of the canonical ones (value type, copy freely). */
struct fields_typemap {
    size_t n;
    struct {
        char name[FIELDS_TYPENAME_MAX];
        size_t len;
        enum sr_event_type type;
    } e[FIELDS_TYPEMAP_MAX];
};

/** Parses "name=TYPE,..." (TYPE a canonical name, case-insensitive; spaces
 * around items allowed; "" gives an empty map). Returns 0 or SR_ECONFIG. */
int fields_typemap_parse(struct fields_typemap *m, const char *spec, char *errbuf, size_t errlen);
/** Maps s[0..len) through the map (exact, then case-insensitive), else as a
 * canonical name. Returns 0 or SR_EPARSE. */
int fields_type_lookup(const struct fields_typemap *m, const char *s, size_t len,
                       enum sr_event_type *out);

/** Parses a timestamp into Unix ms: a number in unit (enum sr_ts_unit; a
 * fraction is allowed and truncated to the millisecond) or an ISO date
 * "YYYY-MM-DD" / datetime "YYYY-MM-DD[T ]HH:MM[:SS[.fff]][Z|+HH:MM]" (UTC
 * unless an offset is given). Surrounding spaces are ignored. Returns 0 or
 * SR_EPARSE. */
int fields_parse_ts(const char *s, size_t len, int unit, int64_t *ms);
/** Parses a decimal integer (optional sign, spaces around). 0 or SR_EPARSE/SR_ERANGE. */
int fields_parse_i64(const char *s, size_t len, int64_t *out);
/** Parses a finite floating-point number. 0 or SR_EPARSE. */
int fields_parse_double(const char *s, size_t len, double *out);
/** Days since 1970-01-01 of a civil date (proleptic Gregorian). */
int64_t fields_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
