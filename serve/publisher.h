/* serve/publisher.h - the Redis publisher: newest list per key, debounced,
 * pipelined, surviving Redis restarts.
 *
 * A publisher owns one thread and one Redis connection. The learner thread
 * hands it finished lists with pub_offer(), which copies them and returns
 * at once: it never waits for Redis. Pending lists sit in a dirty map keyed
 * by (kind, id) that keeps only the newest list per key, so memory is
 * bounded by the number of distinct pending keys (and by
 * publish.max_pending), never by the offer rate.
 *
 * The thread writes at most every publish.interval_ms (a key offered many
 * times in between is written once, with its newest list), publish.batch
 * keys per pipelined round trip, each as ONE
 *   SET <ns>:<kind>:<id> {"v":"<version>","t":<ms>,"items":[...],"scores":[...]} [EX ttl]
 * (rec and sim keys expire after redis.ttl; trending keys do not), and the
 * model fields (pub_model_set) as one HSET <ns>:model. Redis unreachable or
 * restarted: it reconnects with exponential backoff from redis.backoff_min
 * up to redis.backoff_max and keeps every pending key; a key whose write
 * failed stays pending with its newest list. One log line per outage (plus
 * one when it is over); the password never appears in any of them. */
#ifndef SR_PUBLISHER_H
#define SR_PUBLISHER_H

#include "core/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Kinds of published keys: <namespace>:<kind name>:<id>. */
enum pub_kind { PUB_REC = 0, PUB_SIM, PUB_TRENDING, PUB_KIND_COUNT };

#define PUB_ID_MAX      255 /* bytes of an id (user, item, window) */
#define PUB_VERSION_MAX 63  /* bytes of a model version string */
#define PUB_MODEL_MAX   64  /* fields of the model hash */
#define PUB_FIELD_MAX   63  /* bytes of a model field name */
#define PUB_VALUE_MAX   255 /* bytes of a model field value */

struct publisher;

/** Counters, readable from any thread (each read is atomic; the set is not a
 * snapshot of one instant). */
struct pub_stats {
    uint64_t offers;       /* lists accepted by pub_offer */
    uint64_t sets;         /* SETs Redis acknowledged */
    uint64_t model_writes; /* model HSETs Redis acknowledged */
    uint64_t errors;       /* failed commands, round trips and connection attempts */
    uint64_t connects;     /* connections established (the first one included) */
    uint64_t reconnects;   /* connections established after a lost or failed one */
    uint64_t dropped;      /* lists refused: max_pending new keys waiting, or not UTF-8 */
    uint64_t pending;      /* distinct keys waiting to be written (in flight included) */
    uint64_t batches;      /* pipelined round trips */
    bool connected;        /* a connection is open now */
};

/** Starts the publisher thread. Both configs are copied. It connects in the
 * background: an unreachable Redis is not an error here (it is logged once
 * and retried). Returns NULL with a message in errbuf when memory or the
 * thread cannot be had. */
struct publisher *pub_new(const struct sr_redis_cfg *redis, const struct sr_publish_cfg *publish,
                          char *errbuf, size_t errlen);

/** Stops the thread (waiting at most one connect or round-trip timeout),
 * closes the connection and frees everything; pending keys not yet written
 * are discarded, so call pub_flush() first to deliver them. NULL is a no-op. */
void pub_free(struct publisher *p);

/** Hands over the newest list for (kind, id): items[0..n) are NUL-terminated
 * ids (borrowed, copied before return), scores[0..n) their scores (finite),
 * model_version a NUL-terminated string (copied). The value is stamped with
 * the current time. Replaces any list still pending for the same key.
 * Returns 0, SR_EINVAL (bad kind, empty or too long id or version, a
 * non-finite score), SR_EFULL (publish.max_pending other keys are pending;
 * counted as dropped) or SR_ENOMEM. Never waits for Redis.
 * Any thread (normally the learner thread). */
int pub_offer(struct publisher *p, enum pub_kind kind, const char *id, const char *const *items,
              const float *scores, size_t n, const char *model_version);

/** Sets fields of the <ns>:model hash (version, updated_at, events_applied,
 * offsets, online metrics ...): fields[i] = values[i] for i < n, both
 * NUL-terminated and copied. Fields keep their newest value; all of them are
 * written with one HSET on the next round. Returns 0, SR_EINVAL (empty or
 * too long) or SR_EFULL (more than PUB_MODEL_MAX distinct fields). Any thread. */
int pub_model_set(struct publisher *p, const char *const *fields, const char *const *values,
                  size_t n);

/** Asks for an immediate write of everything pending (ignoring the debounce
 * interval, not the reconnect backoff) and waits until nothing is pending or
 * timeout_ms has passed. Returns 0 or SR_EAGAIN (still pending at the
 * timeout). Any thread but the publisher's. */
int pub_flush(struct publisher *p, int64_t timeout_ms);

/** Reads the counters. Any thread. */
void pub_stats(const struct publisher *p, struct pub_stats *out);

#endif
