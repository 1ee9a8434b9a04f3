/* app/daemon.h - `streamrec run`: Kafka in, Redis out.
 *
 * One learner thread (the caller of daemon_run()) owns every piece of
 * model state and applies messages in order, exactly as replay does:
 *
 *     ks_poll -> fr_decode -> feat_admit -> (online eval on a sample)
 *             -> feat_learn -> MF batch -> mark the user dirty -> ks_done
 *
 * A message fr_decode() rejects, or that the feature stage finds invalid
 * (bad_user, bad_item, bad_time, bad_type), goes to the dead-letter topic
 * and is counted by reason; duplicates, bots and late events are normal
 * stream hygiene, counted only. Every publish.interval_ms the same thread
 * scores up to publish.batch dirty users (one sgemm per run.score_batch
 * users against the catalogue), applies the serving rules (purchased items
 * never, seen items when serve.exclude_seen, popularity for users with
 * fewer than serve.fallback_min_events positives) and hands the finished
 * lists to the publisher thread (serve/publisher.h), which only does Redis
 * I/O; likewise trending:<window> (every run.trending_interval), sim:<item>
 * for items whose co-visitation neighbours changed (every
 * run.sim_interval, at most run.sim_batch) and the model hash.
 *
 *     struct daemon *d = daemon_new(&cfg, err, sizeof err);
 *     ... a signal handler calls daemon_stop(d) ...
 *     rc = daemon_run(d);          // returns after daemon_stop()
 *     daemon_stats(d, &st);        // any thread, any time
 *     daemon_free(d);
 */
#ifndef SR_DAEMON_H
#define SR_DAEMON_H

#include "core/config.h"
#include "features/feat.h"
#include "ingest/framing.h"
#include "learner/eval.h"
#include "app/metrics.h"
#include "serve/publisher.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Dead-letter reasons: the framing's (index = enum fr_reason, 0 unused)
 * followed by the feature stage's invalid-event reasons. */
enum daemon_dlq {
    DAEMON_DLQ_BAD_USER = FR_REASON_COUNT, /* "bad_user" */
    DAEMON_DLQ_BAD_ITEM,                   /* "bad_item" */
    DAEMON_DLQ_BAD_TIME,                   /* "bad_time" */
    DAEMON_DLQ_BAD_TYPE,                   /* "bad_type" */
    DAEMON_DLQ_COUNT
};

#define DAEMON_MAX_PARTITIONS 64 /* partitions reported in daemon_stats */

/** Position of one assigned partition (see ingest/kafka_source.h). */
struct daemon_partition {
    char topic[128];
    int32_t partition;
    int64_t position; /* next offset to consume; -1 unknown */
    int64_t high;     /* high watermark; -1 unknown */
    int64_t lag;      /* high - position; -1 unknown */
};

/** Online prequential figures of one system over an interval. */
struct daemon_hr {
    uint64_t n;  /* events scored */
    double hr20; /* share of them whose item was in the top 20 (exclude_seen) */
};

/** Everything the metrics reporter needs; a copy, taken under one lock.
 * The learner thread refreshes it every publish.interval_ms and at exit,
 * so counters lag by at most one interval. */
struct daemon_stats {
    int64_t started_ms; /* wall clock at daemon_new */
    double uptime_s;
    bool running; /* inside daemon_run */

    uint64_t messages_in;           /* Kafka messages consumed */
    uint64_t bytes_in;              /* their payload bytes */
    uint64_t events_decoded;        /* messages fr_decode accepted */
    uint64_t events_applied;        /* admitted by the feature stage and learned */
    uint64_t dlq[DAEMON_DLQ_COUNT]; /* dead letters by reason (daemon_dlq_name) */
    uint64_t dlq_total;
    uint64_t dlq_delivered, dlq_failed; /* DLQ producer */
    uint64_t
        skipped[FEAT_SKIP_COUNT]; /* admitted or not: duplicate, bot, late ... (feat_skip_name) */
    uint64_t commits, commit_errors, consumer_errors, rebalances;

    size_t n_partitions;
    struct daemon_partition partitions[DAEMON_MAX_PARTITIONS];
    int64_t lag_total; /* sum of the known lags */

    struct pub_stats publisher;
    uint64_t users_scored;   /* lists computed: MF ... */
    uint64_t fallback_lists; /* ... of which popularity fallbacks */
    uint64_t sim_lists, trending_lists;
    uint64_t dirty_users; /* users waiting to be scored */

    /* Online HR@20 (exclude_seen, sampled by run.eval_sample) over the last
     * publish interval with scored events, and since the start. */
    struct daemon_hr served, popularity, covis;
    struct daemon_hr served_all, popularity_all, covis_all;

    uint32_t users, items, catalogue;
    uint64_t model_bytes;

    /* Memory caps (learner.max_users / max_items, features.user_ttl and
     * item_min_events); item-cap rejections are skipped[FEAT_SKIP_ITEM_CAP]. */
    uint64_t users_evicted; /* users forgotten, their ids reused (counter) */
    uint64_t cold_events;   /* events of items below item_min_events (counter) */
    uint64_t items_cold;    /* items below item_min_events (gauge) */

    /* Checkpoints (state.dir; all 0 without one). */
    bool checkpointing;      /* state.dir is set */
    bool consumption_paused; /* checkpoints failing and too far behind: not consuming */
    uint64_t checkpoints, checkpoint_errors;
    double checkpoint_capture_ms; /* learner pause of the last one (the copy) */
    double checkpoint_write_ms;   /* its write + fsync + rename, on the writer thread */
    uint64_t checkpoint_bytes;
    int64_t checkpoint_age_ms;          /* since the newest durable one; -1 none */
    uint64_t messages_since_checkpoint; /* consumed, not in a durable checkpoint yet */
    char version[PUB_VERSION_MAX + 1];  /* "<start unix s>-<events applied>" */
};

struct daemon;

/** Builds every stage (codec, feature stage, model, evaluator, publisher,
 * Kafka source) from cfg (copied). The publisher and the consumer connect
 * in the background. NULL with one line in errbuf. */
struct daemon *daemon_new(const struct sr_config *cfg, char *errbuf, size_t errlen);

/** The learner loop, in the calling thread, until daemon_stop(). Then:
 * stops consuming, learns what is pending, publishes the remaining dirty
 * users (a few seconds at most), flushes the publisher and the DLQ
 * producer, commits offsets and leaves the group. Returns 0, or a negative
 * sr_err when the pipeline could not go on (logged). */
int daemon_run(struct daemon *d);

/** Asks daemon_run() to finish. Async-signal-safe; any thread. */
void daemon_stop(struct daemon *d);

/** Copies the current counters. Any thread. */
void daemon_stats(struct daemon *d, struct daemon_stats *out);

/** Moves the freshness samples gathered since the last call into *out
 * (adding to it): per published user list, the time from consuming the
 * oldest of the user's events it reflects to handing the list to the
 * publisher. Any thread. */
void daemon_take_freshness(struct daemon *d, struct metrics_hist *out);

/** Produces one record to a topic with the daemon's Kafka producer (the
 * metrics topic). Any thread. Returns 0 or SR_EIO. */
int daemon_send(struct daemon *d, const char *topic, const char *key, const void *value,
                size_t len);

/** Stable reason name ("truncated", ..., "bad_time"); "?" out of range. */
const char *daemon_dlq_name(int reason);

/** NULL-safe. Not while daemon_run() runs. */
void daemon_free(struct daemon *d);

#endif
