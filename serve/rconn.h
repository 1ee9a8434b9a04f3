/* serve/rconn.h - one authenticated Redis connection and the key layout.
 *
 * Private to serve/ (it exposes hiredis types; nothing outside serve/ may
 * include hiredis). rconn_open connects with redis.connect_timeout, sends
 * AUTH (user and password from config) and SELECT, and sets redis.timeout
 * on the socket. Error messages name the host, port and user, never the
 * password. Any thread may call these; they keep no state. */
#ifndef SR_RCONN_H
#define SR_RCONN_H

#include "core/config.h"

#include <hiredis.h>
#include <stddef.h>

/** Name of an enum pub_kind (serve/publisher.h) in keys: "rec", "sim" or
 * "trending"; NULL for an unknown kind. */
const char *rconn_kind_name(int kind);

/** Opens a connection. Returns 0 and *out (a new context; free with
 * redisFree), SR_EIO (unreachable, timeout, reset) or SR_ECONFIG (AUTH or
 * SELECT refused), with a one-line message in errbuf. */
int rconn_open(const struct sr_redis_cfg *cfg, redisContext **out, char *errbuf, size_t errlen);

/** Writes "<namespace>:<kind>:<id>" (or "<namespace>:model" for kind < 0)
 * into buf; returns its length, or SR_ERANGE when it does not fit. id is
 * id_len bytes, not necessarily NUL-terminated. */
int rconn_key(const struct sr_redis_cfg *cfg, int kind, const char *id, size_t id_len, char *buf,
              size_t len);

/** Copies a server message into buf with every occurrence of the configured
 * password replaced by "***" (servers do not echo it; this is a guarantee). */
void rconn_scrub(const struct sr_redis_cfg *cfg, const char *msg, char *buf, size_t len);

#endif
