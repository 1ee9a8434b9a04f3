/* ingest/kafka_source.h - Kafka in: a consumer-group member and the
 * dead-letter producer of `streamrec run`.
 *
 * The source joins the consumer group (kafka.group.id, default
 * "streamrec") on source.topics and hands out one message at a time: its
 * bytes, key, topic, partition and offset. The caller decodes and applies
 * it, then says so with ks_done() (the offset becomes committable) or, when
 * the message is rejected, ks_dlq() first: the message goes to
 * source.dlq_topic with its original key, value and headers plus
 *   streamrec.error            reason code name ("truncated", "bad_time", ...)
 *   streamrec.error.detail     one line
 *   streamrec.source.topic     streamrec.source.partition   streamrec.source.offset
 * Consumption never stops on bad input.
 *
 * Offsets: stored per message after ks_done(), committed by ks_commit() (at
 * most every source.commit_interval, after the DLQ producer was flushed, so
 * a committed offset never covers a dead letter still in flight), on a
 * partition revocation and by ks_close(). Until checkpoints exist (a later
 * issue) the model lives in memory only: a restarted daemon resumes after
 * the committed offsets with a fresh model, so commits bound re-reading,
 * not exactly-once state. Within one process every message is applied at
 * most once: the source remembers, per partition, the offset after the last
 * ks_done() message and skips (stores, counts in `redelivered`, does not
 * hand out) any message below it, such as those the group hands out again
 * from the last commit after an assignment was lost to a broker outage.
 *
 * With checkpoints (ks_exact, below) the model's own positions replace
 * the committed offsets, and every message is applied exactly once, also
 * across crashes.
 *
 * [kafka] configuration keys are passed to librdkafka unchanged (consumer
 * and DLQ producer; consumer-only keys are not given to the producer).
 * Only ingest/ includes librdkafka's header for consuming.
 *
 * One thread: every ks_* call comes from the thread that owns the source
 * (the daemon's learner thread); librdkafka's own threads do the I/O. */
#ifndef SR_KAFKA_SOURCE_H
#define SR_KAFKA_SOURCE_H

#include "core/config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KS_TOPIC_MAX 127 /* bytes of a topic name kept in ks_partition */

/** One consumed message. Every pointer is borrowed from the source and
 * valid until the next ks_poll() or ks_free(). */
struct ks_msg {
    const void *value; /* payload, len bytes (NULL when len is 0) */
    size_t len;
    const void *key; /* key, key_len bytes (NULL: no key) */
    size_t key_len;
    const char *topic;
    int32_t partition;
    int64_t offset;
    int64_t timestamp_ms; /* message timestamp, -1 when absent */
};

/** Position of one assigned partition. */
struct ks_partition {
    char topic[KS_TOPIC_MAX + 1];
    int32_t partition;
    int64_t position; /* next offset to consume; -1 unknown (nothing fetched yet) */
    int64_t high;     /* high watermark last seen in a fetch; -1 unknown */
    int64_t lag;      /* high - position, -1 when either is unknown */
};

/** Counters since ks_new(). */
struct ks_stats {
    uint64_t messages;        /* messages handed out */
    uint64_t bytes;           /* their payload bytes */
    uint64_t dlq_produced;    /* dead letters handed to the producer */
    uint64_t dlq_delivered;   /* acknowledged by the broker */
    uint64_t dlq_failed;      /* delivery failed (after librdkafka's retries) or not queued */
    uint64_t commits;         /* commits that succeeded */
    uint64_t commit_errors;   /* failed commits (nothing to commit is not an error) */
    uint64_t rebalances;      /* assignments and revocations */
    uint64_t consumer_errors; /* errors reported by the consumer (logged, not fatal) */
    uint64_t redelivered;     /* messages below the applied position: skipped, not handed out */
    uint64_t skipped_gone;    /* exact mode: offsets past the model's position the broker no
                                 longer had (retention): never applied */
};

struct ks;

/** Creates the consumer (subscribed to cfg->source.topics) and the DLQ
 * producer. Connecting happens in the background. Both configs are read
 * now (not kept). Returns NULL with one line in errbuf: a [kafka] key
 * librdkafka refuses, or no topic. Free with ks_free(). */
struct ks *ks_new(const struct sr_source_cfg *cfg, const struct sr_pass_kv *kafka, size_t n_kafka,
                  char *errbuf, size_t errlen);

/** Waits up to timeout_ms for the next message. Returns 0 with *out filled,
 * SR_EAGAIN when none came (consumer errors are logged and counted, not
 * returned) or SR_EIO on a fatal librdkafka error (logged). Also serves
 * the DLQ producer's delivery reports and rebalances. */
int ks_poll(struct ks *k, int timeout_ms, struct ks_msg *out);

/** The message was applied (or rejected and dead-lettered): its offset
 * may be committed. m must be the current message. Returns 0, or SR_EINVAL
 * when the partition is no longer assigned (nothing stored). */
int ks_done(struct ks *k, const struct ks_msg *m);

/** Produces the current message m to the dead-letter topic with its key,
 * value and headers plus the streamrec.error* and streamrec.source.*
 * headers. reason: a stable snake_case name; detail: one line (may be
 * empty). Waits (serving delivery reports) while the producer queue is
 * full, up to a few seconds. Returns 0, or SR_EIO (counted in dlq_failed). */
int ks_dlq(struct ks *k, const struct ks_msg *m, const char *reason, const char *detail);

/** Produces one record (value len bytes, key NUL-terminated or NULL) to
 * topic with the DLQ's producer; for the metrics topic. Thread-safe (any
 * thread may call it while the learner thread polls). Never waits: a full
 * queue is an error. Returns 0 or SR_EIO. */
int ks_send(struct ks *k, const char *topic, const char *key, const void *value, size_t len);

/** When force or source.commit_interval has passed since the last one:
 * flushes the DLQ producer (at most timeout_ms) and commits the stored
 * offsets (asynchronously, or synchronously when force). Returns 0 or
 * SR_EIO (logged, counted; the next commit retries). */
int ks_commit(struct ks *k, bool force, int timeout_ms);

/** Fills out[0..max) with the assigned partitions' positions and cached
 * high watermarks (no broker round trip); returns how many. */
size_t ks_partitions(struct ks *k, struct ks_partition *out, size_t max);

void ks_stats(const struct ks *k, struct ks_stats *out);

/* ---- exact mode (checkpoints, app/state.h) ------------------------------
 * The model's position in each partition is part of its checkpoint, so it,
 * not the group's committed offset, says where to read: an assigned
 * partition whose position is known is read from that position, at the
 * first assignment and at every later one. Commits then carry only the
 * offsets of the newest durable checkpoint (ks_set_commit_offsets): they
 * serve lag monitoring and a start without state. */

/** The applied position of one partition: next = first offset not in the
 * model. */
struct ks_offset {
    char topic[KS_TOPIC_MAX + 1];
    int32_t partition;
    int64_t next;
};

/** Switches to exact mode with the checkpoint's positions offs[0..n) (n
 * may be 0: no checkpoint, the group's offsets say where to start). Call
 * before the first ks_poll(). Returns 0 or SR_ENOMEM. */
int ks_exact(struct ks *k, const struct ks_offset *offs, size_t n);

/** Every partition with an applied position (restored or consumed in this
 * process), into out[0..max); returns how many there are (may exceed max). */
size_t ks_offsets(const struct ks *k, struct ks_offset *out, size_t max);

/** Exact mode: the offsets every later commit carries (a copy is kept).
 * Returns 0 or SR_ENOMEM. */
int ks_set_commit_offsets(struct ks *k, const struct ks_offset *offs, size_t n);

/** Pauses (true) or resumes (false) fetching from every assigned
 * partition, also those assigned while paused; ks_poll() keeps serving the
 * group (no message comes while paused). Returns 0 or SR_EIO. */
int ks_pause(struct ks *k, bool pause);

/** Waits up to timeout_ms for dead letters in flight to be acknowledged.
 * Returns 0 when none is left, SR_EAGAIN otherwise. A checkpoint must not
 * cover a dead letter that a crash could still lose. */
int ks_flush_dlq(struct ks *k, int timeout_ms);

/** Shutdown: flushes the DLQ producer (at most timeout_ms), commits the
 * stored offsets synchronously and leaves the group. Returns 0, or SR_EIO
 * when dead letters stayed undelivered or the commit failed (logged).
 * Safe to call once; ks_free() calls it when it was not. */
int ks_close(struct ks *k, int timeout_ms);

/** Closes (when not yet closed) and frees. NULL is a no-op. */
void ks_free(struct ks *k);

#endif
