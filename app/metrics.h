/* app/metrics.h - the metrics record the daemon produces to
 * streamrec.metrics once per interval per instance, and a small streaming
 * latency histogram for freshness.
 *
 * metrics_json() turns plain values gathered over one interval (counts, not
 * rates) into the documented JSON object (docs/metrics.md, schema_version
 * METRICS_SCHEMA_VERSION); it does no I/O and keeps no state, so the caller
 * decides which thread builds and produces the record.
 *
 * struct metrics_hist is a value: fixed log-spaced buckets, no allocation,
 * O(1) add. It is not thread-safe; give each thread its own and merge them
 * (metrics_hist_merge) in the thread that reports. */
#ifndef SR_METRICS_H
#define SR_METRICS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Bumped when a key changes meaning or is removed (added keys do not bump it). */
#define METRICS_SCHEMA_VERSION 1

/** Systems whose online prequential HR@20 the record carries, in this order. */
enum metrics_system {
    METRICS_SERVED = 0,
    METRICS_POPULARITY,
    METRICS_COVIS,
    METRICS_MF,
    METRICS_SYSTEM_COUNT
};

/** Returns the JSON key of a system ("served", "popularity", "covis", "mf"). */
const char *metrics_system_name(enum metrics_system s);

/** One (reason, count) pair of a by-reason breakdown. */
struct metrics_count {
    const char *name; /* borrowed; NUL-terminated; a repeated name adds up */
    uint64_t n;       /* count within the interval */
};

/** Consumer lag of one assigned partition at the end of the interval. */
struct metrics_lag {
    const char *topic; /* borrowed; NUL-terminated */
    int32_t partition;
    int64_t lag; /* messages behind the high watermark; negative = unknown (null) */
};

/** Online prequential accuracy of one system over the interval. */
struct metrics_hr {
    double hr20; /* hits / scored; ignored (null) when scored == 0 */
    uint64_t n;  /* events scored in the interval */
};

/** Everything one record says. Counts are for the interval
 * [interval_start_ms, interval_end_ms); gauges (lag, users, items, model)
 * are their values at the end of it. All pointers are borrowed for the
 * duration of metrics_json() only. */
struct metrics_input {
    const char *instance;      /* borrowed; this process's id (host:pid or configured) */
    int64_t interval_start_ms; /* Unix ms */
    int64_t interval_end_ms;   /* Unix ms; <= start gives rates of 0 */

    uint64_t events_in;      /* messages consumed from the input topics */
    uint64_t events_applied; /* events the learner applied */

    const struct metrics_count *dlq; /* borrowed, [n_dlq]: messages sent to the DLQ by reason */
    size_t n_dlq;
    const struct metrics_count *skipped; /* borrowed, [n_skipped]: decoded events not applied
                                            (duplicate, bot, late, ...) by reason */
    size_t n_skipped;
    const struct metrics_lag *lag; /* borrowed, [n_lag]: one per assigned partition */
    size_t n_lag;

    uint64_t redis_sets;       /* SETs Redis acknowledged */
    uint64_t redis_errors;     /* failed commands, round trips and connection attempts */
    uint64_t redis_reconnects; /* connections re-established */

    double freshness_p50_ms; /* event consumed -> its user's list to the publisher; ignored when */
    double freshness_p99_ms; /* freshness_n == 0 (null) */
    uint64_t freshness_n;    /* freshness samples in the interval */

    struct metrics_hr hr[METRICS_SYSTEM_COUNT]; /* indexed by enum metrics_system */

    uint64_t users;            /* users known to the model */
    uint64_t items;            /* items known to the model */
    uint64_t model_bytes;      /* bytes of model state (factors, optimizer state, biases) */
    const char *model_version; /* borrowed; the version stamped on published lists; NULL = "" */

    uint64_t users_evicted;     /* users evicted (max_users, user_ttl), ids reused */
    uint64_t item_cap_rejected; /* events of new items skipped at learner.max_items */
    uint64_t cold_events;       /* events of items below item_min_events (not learned by MF) */
    uint64_t items_cold;        /* gauge: items below item_min_events */

    bool checkpoints_on;              /* state.dir set; else "checkpoint" is null */
    uint64_t checkpoints;             /* durable checkpoints written since the start */
    uint64_t checkpoint_errors;       /* captures or writes that failed */
    int64_t checkpoint_age_ms;        /* since the newest durable one; < 0 = none (null) */
    double checkpoint_capture_ms;     /* learner pause of the last one */
    double checkpoint_write_ms;       /* its write + fsync + rename */
    uint64_t checkpoint_bytes;        /* its size */
    uint64_t messages_uncheckpointed; /* consumed, not yet in a durable checkpoint */
    bool consumption_paused;          /* checkpoints failing: consuming paused */
};

/** Builds the record. Returns a new reference (free with json_decref), or
 * NULL when memory runs out. Non-finite numbers become null. */
json_t *metrics_json(const struct metrics_input *in);

/* ---- latency histogram ------------------------------------------------ */

#define METRICS_HIST_MIN_MS  0.01 /* bucket 0 holds [0, 0.01 ms) */
#define METRICS_HIST_PER_OCT 8    /* buckets per doubling: bounds 2^(1/8) = 9% apart */
#define METRICS_HIST_OCTAVES 30   /* up to 0.01 ms * 2^30, about 3 hours */
/* bucket 0: [0, MIN); buckets 1..PER_OCT*OCTAVES: log-spaced; last: the rest */
#define METRICS_HIST_BUCKETS (METRICS_HIST_PER_OCT * METRICS_HIST_OCTAVES + 2)

/** A streaming histogram of non-negative values in milliseconds. A plain
 * value: zero it with metrics_hist_reset(); copy it by assignment. */
struct metrics_hist {
    uint64_t count[METRICS_HIST_BUCKETS]; /* samples per bucket */
    uint64_t n;                           /* samples in all */
    double min, max;                      /* exact extremes (valid when n > 0) */
    double sum;                           /* for the mean */
};

/** Empties h. */
void metrics_hist_reset(struct metrics_hist *h);

/** Adds one sample (negative and NaN count as 0). O(1), no allocation. */
void metrics_hist_add(struct metrics_hist *h, double ms);

/** Adds every sample of src to dst. */
void metrics_hist_merge(struct metrics_hist *dst, const struct metrics_hist *src);

/** Returns the q-quantile (0 <= q <= 1, nearest rank: the smallest sample
 * with at least ceil(q*n) samples at or below it) as the geometric middle of
 * its bucket, clamped to [min, max]; within one bucket (9%) of the exact
 * value. NAN when h is empty. */
double metrics_hist_quantile(const struct metrics_hist *h, double q);

/** Returns the bucket index of a value (exposed for tests and merges). */
int metrics_hist_bucket(double ms);

#endif
