/* serve/lookup.h - read one published value back from Redis, as a
 * storefront would (one GET). Used by `streamrec recs` and by tests. */
#ifndef SR_LOOKUP_H
#define SR_LOOKUP_H

#include "core/config.h"
#include "serve/publisher.h"

#include <stddef.h>

/** GETs <namespace>:<kind>:<id> on a new connection (closed before return).
 * Returns 0 with *value_out a new NUL-terminated string (free with free())
 * and *len_out its length (may be NULL), SR_ENOENT (no such key), SR_EIO
 * (unreachable, timeout), SR_ECONFIG (AUTH refused) or SR_EPARSE (the key
 * holds something other than a string); errbuf gets one line naming the
 * server but never the password. Any thread. */
int lookup_get(const struct sr_redis_cfg *cfg, enum pub_kind kind, const char *id, char **value_out,
               size_t *len_out, char *errbuf, size_t errlen);

#endif
