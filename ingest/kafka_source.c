/* ingest/kafka_source.c - consumer-group member and DLQ producer
 * (ingest/kafka_source.h) on librdkafka. */
#include "ingest/kafka_source.h"
#include "core/err.h"
#include "core/log.h"
#include "core/time.h"

#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KS_DLQ_QUEUE_WAIT_MS 5000 /* longest wait for room in a full DLQ producer queue */
#define KS_ERRORS_LOGGED     20   /* consumer errors logged in full; then every 1000th */

/* How far this process has applied one partition. The model lives in this
 * process, so a message below `next` is already in it: after a lost
 * assignment (the session expired while the broker was unreachable) the
 * group restarts the partition at the last committed offset, and the
 * messages applied since that commit come again. */
struct ks_pos {
    char *topic; /* owned */
    int32_t partition;
    int64_t next;     /* first offset not applied yet; -1: none applied */
    uint64_t skipped; /* redelivered messages skipped in the current run of them */
};

struct ks {
    /* settings */
    char dlq_topic[SR_CFG_STR_MAX];
    int64_t commit_interval_ms;

    /* state */
    rd_kafka_t *consumer;
    rd_kafka_t *producer;    /* dead letters */
    rd_kafka_message_t *cur; /* the message handed out last; destroyed by the next poll */
    double last_commit_s;
    bool dirty; /* offsets stored since the last commit */
    bool closed;
    struct ks_pos *pos; /* owned: n_pos partitions ever consumed, cap_pos allocated */
    size_t n_pos, cap_pos;
    struct ks_pos *cur_pos; /* borrowed from pos: the partition of cur */
    struct ks_stats st;
    uint64_t dlq_acked; /* dead letters the broker answered (delivered or failed) */
    /* exact mode (ks_exact) */
    bool exact;
    bool paused;              /* ks_pause(true) */
    int64_t reset_offset;     /* where a partition without a position starts */
    struct ks_offset *commit; /* owned: [n_commit] offsets commits carry */
    size_t n_commit;
};

static struct ks_pos *pos_find(struct ks *k, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < k->n_pos; i++)
        if (k->pos[i].partition == partition && strcmp(k->pos[i].topic, topic) == 0)
            return &k->pos[i];
    return NULL;
}

/* The position record of (topic, partition), created on first sight (a
 * new partition: the only allocation on the message path). NULL when out
 * of memory. Pointers into pos stay valid until the next creation. */
static struct ks_pos *pos_get(struct ks *k, const char *topic, int32_t partition)
{
    struct ks_pos *found = pos_find(k, topic, partition);
    if (found)
        return found;
    if (k->n_pos == k->cap_pos) {
        size_t cap = k->cap_pos ? 2 * k->cap_pos : 16;
        struct ks_pos *p = realloc(k->pos, cap * sizeof *p);
        if (!p)
            return NULL;
        k->pos = p;
        k->cap_pos = cap;
    }
    char *name = strdup(topic);
    if (!name)
        return NULL;
    k->pos[k->n_pos] = (struct ks_pos){.topic = name, .partition = partition, .next = -1};
    return &k->pos[k->n_pos++];
}

/* Keys that only a consumer understands: not given to the DLQ producer,
 * which would otherwise log a warning for each. */
static const char *const consumer_only[] = {
    "group.id",
    "group.instance.id",
    "auto.offset.reset",
    "enable.auto.commit",
    "enable.auto.offset.store",
    "auto.commit.interval.ms",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "partition.assignment.strategy",
    "max.poll.interval.ms",
    "isolation.level",
    "enable.partition.eof",
    "check.crcs",
    "fetch.wait.max.ms",
    "fetch.min.bytes",
    "fetch.max.bytes",
    "fetch.message.max.bytes",
    "max.partition.fetch.bytes",
    "fetch.error.backoff.ms",
    "queued.min.messages",
    "queued.max.messages.kbytes",
    "group.protocol.type",
    "coordinator.query.interval.ms",
};

static bool is_consumer_only(const char *key)
{
    for (size_t i = 0; i < sizeof consumer_only / sizeof consumer_only[0]; i++)
        if (strcmp(key, consumer_only[i]) == 0)
            return true;
    return false;
}

/* The per-message opaque of dead letters: tells them from the metrics
 * records (ks_send) that share the producer. */
static char dlq_tag;

/* librdkafka calls this from rd_kafka_poll(producer) in the owner thread. */
static void on_dlq_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct ks *k = opaque;
    if (m->_private != &dlq_tag)
        return; /* a metrics record: ks_send's caller does not wait for it */
    k->dlq_acked++;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        k->st.dlq_delivered++;
        return;
    }
    k->st.dlq_failed++;
    SR_ERROR(SR_MOD_INGEST, "dead letter from %s [%" PRId32 "] not delivered: %s",
             m->rkt ? rd_kafka_topic_name(m->rkt) : "?", m->partition, rd_kafka_err2str(m->err));
}

/* rd_kafka_commit of the stored offsets, or in exact mode of the newest
 * checkpoint's. */
static rd_kafka_resp_err_t commit_offsets(struct ks *k, bool sync)
{
    if (!k->exact)
        return rd_kafka_commit(k->consumer, NULL, sync ? 0 : 1);
    if (k->n_commit == 0)
        return RD_KAFKA_RESP_ERR__NO_OFFSET;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)k->n_commit);
    for (size_t i = 0; i < k->n_commit; i++)
        rd_kafka_topic_partition_list_add(list, k->commit[i].topic, k->commit[i].partition)
            ->offset = k->commit[i].next;
    rd_kafka_resp_err_t e = rd_kafka_commit(k->consumer, list, sync ? 0 : 1);
    rd_kafka_topic_partition_list_destroy(list);
    return e;
}

/* Dead letters produced and not yet answered by the broker. */
static uint64_t dlq_in_flight(const struct ks *k)
{
    return k->st.dlq_produced - k->dlq_acked;
}

/* Serves delivery reports until no dead letter is in flight, at most
 * timeout_ms (metrics records in the same producer are not waited for). */
static int wait_dlq(struct ks *k, int timeout_ms)
{
    double end = sr_mono_s() + timeout_ms / 1000.0;
    while (dlq_in_flight(k) > 0 && sr_mono_s() < end)
        rd_kafka_poll(k->producer, 10);
    return dlq_in_flight(k) > 0 ? SR_EAGAIN : 0;
}

/* Flushes dead letters, then commits synchronously: before partitions are
 * taken away, and at close. */
static int commit_now(struct ks *k, bool sync, int timeout_ms)
{
    if (wait_dlq(k, timeout_ms) != 0) {
        /* A dead letter still in flight: committing would skip it on a
         * crash. Keep the offsets stored; the next commit tries again. */
        SR_WARN(SR_MOD_INGEST, "%" PRIu64 " dead letters still in flight; commit postponed",
                dlq_in_flight(k));
        return SR_EAGAIN;
    }
    if (!k->dirty)
        return 0;
    rd_kafka_resp_err_t e = commit_offsets(k, sync);
    k->last_commit_s = sr_mono_s();
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR || e == RD_KAFKA_RESP_ERR__NO_OFFSET) {
        k->dirty = false;
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            k->st.commits++;
        return 0;
    }
    k->st.commit_errors++;
    SR_WARN(SR_MOD_INGEST, "offset commit failed: %s", rd_kafka_err2str(e));
    return SR_EIO;
}

/* Rebalances arrive through rd_kafka_consumer_poll() in the owner thread. */
static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct ks *k = opaque;
    bool coop = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    k->st.rebalances++;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
        SR_INFO(SR_MOD_INGEST, "assigned %d partition(s)", parts->cnt);
        for (int i = 0; k->exact && i < parts->cnt; i++) {
            rd_kafka_topic_partition_t *p = &parts->elems[i];
            const struct ks_pos *pos = pos_find(k, p->topic, p->partition);
            if (pos && pos->next >= 0) {
                p->offset = pos->next;
                SR_INFO(SR_MOD_INGEST, "%s [%" PRId32 "]: from offset %" PRId64 " (model state)",
                        p->topic, p->partition, pos->next);
            } else {
                /* Not in the model: a committed offset would belong to a
                 * state this process does not have. */
                p->offset = k->reset_offset;
            }
        }
        if (coop)
            rd_kafka_error_destroy(rd_kafka_incremental_assign(rk, parts));
        else
            rd_kafka_assign(rk, parts);
        if (k->paused)
            rd_kafka_pause_partitions(rk, parts);
        return;
    }
    SR_INFO(SR_MOD_INGEST, "revoked %d partition(s)", parts->cnt);
    if (!rd_kafka_assignment_lost(rk))
        commit_now(k, true, KS_DLQ_QUEUE_WAIT_MS);
    if (coop)
        rd_kafka_error_destroy(rd_kafka_incremental_unassign(rk, parts));
    else
        rd_kafka_assign(rk, NULL);
}

static int set_conf(rd_kafka_conf_t *conf, const char *key, const char *value, char *errbuf,
                    size_t errlen)
{
    char why[512];
    if (rd_kafka_conf_set(conf, key, value, why, sizeof why) != RD_KAFKA_CONF_OK)
        return sr_seterr(errbuf, errlen, SR_ECONFIG, "kafka.%s: %s", key, why);
    return 0;
}

/* A conf with our defaults, then every [kafka] key (the user's win). */
static rd_kafka_conf_t *make_conf(const char *const (*defaults)[2], size_t n_defaults,
                                  const struct sr_pass_kv *kafka, size_t n_kafka, bool producer,
                                  char *errbuf, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    for (size_t i = 0; i < n_defaults; i++)
        if (set_conf(conf, defaults[i][0], defaults[i][1], errbuf, errlen))
            goto err_destroy_conf;
    for (size_t i = 0; i < n_kafka; i++) {
        if (producer && is_consumer_only(kafka[i].key))
            continue;
        if (set_conf(conf, kafka[i].key, kafka[i].value, errbuf, errlen))
            goto err_destroy_conf;
    }
    return conf;

err_destroy_conf:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

static int subscribe(struct ks *k, const char *topics, char *errbuf, size_t errlen)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(4);
    const char *p = topics;
    while (*p) {
        size_t n = strcspn(p, ",");
        char name[256];
        while (n > 0 && (*p == ' ' || *p == '\t'))
            p++, n--;
        while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
            n--;
        if (n > 0 && n < sizeof name) {
            memcpy(name, p, n);
            name[n] = '\0';
            rd_kafka_topic_partition_list_add(list, name, RD_KAFKA_PARTITION_UA);
        }
        p += strcspn(p, ",");
        if (*p == ',')
            p++;
    }
    int rc = 0;
    if (list->cnt == 0) {
        rc = sr_seterr(errbuf, errlen, SR_ECONFIG, "source.topics: no topic in '%s'", topics);
    } else {
        rd_kafka_resp_err_t e = rd_kafka_subscribe(k->consumer, list);
        if (e)
            rc = sr_seterr(errbuf, errlen, SR_EIO, "subscribing to %s: %s", topics,
                           rd_kafka_err2str(e));
    }
    rd_kafka_topic_partition_list_destroy(list);
    return rc;
}

struct ks *ks_new(const struct sr_source_cfg *cfg, const struct sr_pass_kv *kafka, size_t n_kafka,
                  char *errbuf, size_t errlen)
{
    static const char *const consumer_defaults[][2] = {
        {"bootstrap.servers", "localhost:9092"},
        {"group.id", "streamrec"},
        {"auto.offset.reset", "earliest"},
        /* Offsets are stored by ks_done() and committed by ks_commit(). */
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        /* A recommender is judged on freshness: the broker should answer a
         * fetch as soon as there is anything, not hold it for up to the
         * default 500 ms to fill a batch (measured by make bench-e2e:
         * freshness p50 440 ms -> 130 ms at half load). */
        {"fetch.wait.max.ms", "10"},
    };
    static const char *const producer_defaults[][2] = {
        {"bootstrap.servers", "localhost:9092"},
        {"linger.ms", "5"},
    };
    char why[512];
    struct ks *k = calloc(1, sizeof *k);
    if (!k) {
        sr_seterr(errbuf, errlen, SR_ENOMEM, "kafka source: out of memory");
        return NULL;
    }
    snprintf(k->dlq_topic, sizeof k->dlq_topic, "%s", cfg->dlq_topic);
    k->commit_interval_ms = cfg->commit_interval_ms;
    k->last_commit_s = sr_mono_s();
    k->reset_offset = RD_KAFKA_OFFSET_BEGINNING;
    for (size_t i = 0; i < n_kafka; i++)
        if (strcmp(kafka[i].key, "auto.offset.reset") == 0) {
            const char *v = kafka[i].value;
            k->reset_offset =
                strcmp(v, "latest") == 0 || strcmp(v, "largest") == 0 || strcmp(v, "end") == 0
                    ? RD_KAFKA_OFFSET_END
                : strcmp(v, "error") == 0 ? RD_KAFKA_OFFSET_INVALID
                                          : RD_KAFKA_OFFSET_BEGINNING;
        }

    rd_kafka_conf_t *pconf = make_conf(producer_defaults, 2, kafka, n_kafka, true, errbuf, errlen);
    if (!pconf)
        goto err_free;
    rd_kafka_conf_set_dr_msg_cb(pconf, on_dlq_delivery);
    rd_kafka_conf_set_opaque(pconf, k);
    if (!(k->producer = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, why, sizeof why))) {
        rd_kafka_conf_destroy(pconf);
        sr_seterr(errbuf, errlen, SR_ECONFIG, "DLQ producer: %s", why);
        goto err_free;
    }

    rd_kafka_conf_t *cconf =
        make_conf(consumer_defaults, sizeof consumer_defaults / sizeof consumer_defaults[0], kafka,
                  n_kafka, false, errbuf, errlen);
    if (!cconf)
        goto err_destroy_producer;
    rd_kafka_conf_set_rebalance_cb(cconf, on_rebalance);
    rd_kafka_conf_set_opaque(cconf, k);
    if (!(k->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cconf, why, sizeof why))) {
        rd_kafka_conf_destroy(cconf);
        sr_seterr(errbuf, errlen, SR_ECONFIG, "consumer: %s", why);
        goto err_destroy_producer;
    }
    rd_kafka_poll_set_consumer(k->consumer);
    if (subscribe(k, cfg->topics, errbuf, errlen))
        goto err_destroy_consumer;
    return k;

err_destroy_consumer:
    rd_kafka_destroy(k->consumer);
err_destroy_producer:
    rd_kafka_destroy(k->producer);
err_free:
    free(k);
    return NULL;
}

int ks_poll(struct ks *k, int timeout_ms, struct ks_msg *out)
{
    if (k->cur) {
        rd_kafka_message_destroy(k->cur);
        k->cur = NULL;
    }
    rd_kafka_poll(k->producer, 0); /* delivery reports of dead letters */
    rd_kafka_message_t *m = rd_kafka_consumer_poll(k->consumer, timeout_ms);
    if (!m)
        return SR_EAGAIN;
    if (m->err) {
        char fatal[256];
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            rd_kafka_message_destroy(m);
            return SR_EAGAIN;
        }
        uint64_t n = k->st.consumer_errors++;
        if (n < KS_ERRORS_LOGGED || n % 1000 == 0)
            SR_WARN(SR_MOD_INGEST, "consumer: %s%s", rd_kafka_message_errstr(m),
                    n == KS_ERRORS_LOGGED - 1 ? " (further errors: every 1000th)" : "");
        rd_kafka_message_destroy(m);
        if (rd_kafka_fatal_error(k->consumer, fatal, sizeof fatal)) {
            SR_ERROR(SR_MOD_INGEST, "consumer: fatal: %s", fatal);
            return SR_EIO;
        }
        return SR_EAGAIN;
    }
    struct ks_pos *pos = pos_get(k, rd_kafka_topic_name(m->rkt), m->partition);
    if (!pos) {
        rd_kafka_message_destroy(m);
        SR_ERROR(SR_MOD_INGEST, "consumer: out of memory");
        return SR_ENOMEM;
    }
    if (m->offset < pos->next) {
        /* Applied already (see struct ks_pos): skipped, its offset stored
         * so the commit moves past it. */
        if (pos->skipped++ == 0)
            SR_WARN(SR_MOD_INGEST,
                    "%s [%" PRId32 "] redelivered from offset %" PRId64 " (offsets below %" PRId64
                    " are applied already): skipping them",
                    rd_kafka_topic_name(m->rkt), m->partition, m->offset, pos->next);
        k->st.redelivered++;
        if (!k->exact &&
            rd_kafka_offset_store(m->rkt, m->partition, m->offset) == RD_KAFKA_RESP_ERR_NO_ERROR)
            k->dirty = true;
        rd_kafka_message_destroy(m);
        return SR_EAGAIN;
    }
    if (pos->skipped) {
        SR_INFO(SR_MOD_INGEST, "%s [%" PRId32 "]: %" PRIu64 " redelivered messages skipped",
                rd_kafka_topic_name(m->rkt), m->partition, pos->skipped);
        pos->skipped = 0;
    }
    if (k->exact && pos->next >= 0 && m->offset > pos->next) {
        /* The model's position is gone from the broker (retention ran
         * ahead of a stopped consumer): librdkafka reset to the earliest
         * offset it has. Those messages were never applied. */
        SR_ERROR(SR_MOD_INGEST,
                 "%s [%" PRId32 "]: offsets %" PRId64 "..%" PRId64
                 " are no longer on the broker: %" PRId64 " messages were never applied",
                 rd_kafka_topic_name(m->rkt), m->partition, pos->next, m->offset - 1,
                 m->offset - pos->next);
        k->st.skipped_gone += (uint64_t)(m->offset - pos->next);
    }
    k->cur = m;
    k->cur_pos = pos;
    out->value = m->len ? m->payload : NULL;
    out->len = m->len;
    out->key = m->key;
    out->key_len = m->key ? m->key_len : 0;
    out->topic = rd_kafka_topic_name(m->rkt);
    out->partition = m->partition;
    out->offset = m->offset;
    out->timestamp_ms = rd_kafka_message_timestamp(m, NULL);
    k->st.messages++;
    k->st.bytes += m->len;
    return 0;
}

int ks_done(struct ks *k, const struct ks_msg *m)
{
    if (!k->cur || k->cur->offset != m->offset || k->cur->partition != m->partition)
        return SR_EINVAL;
    k->cur_pos->next = m->offset + 1; /* in the model now, whatever the assignment */
    if (k->exact)
        return 0; /* committed with the checkpoint that contains it */
    if (rd_kafka_offset_store(k->cur->rkt, m->partition, m->offset) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return SR_EINVAL; /* revoked meanwhile: its new owner re-reads it */
    k->dirty = true;
    return 0;
}

int ks_dlq(struct ks *k, const struct ks_msg *m, const char *reason, const char *detail)
{
    if (!k->cur || k->cur->offset != m->offset || k->cur->partition != m->partition)
        return SR_EINVAL;
    rd_kafka_headers_t *orig = NULL, *h;
    if (rd_kafka_message_headers(k->cur, &orig) == RD_KAFKA_RESP_ERR_NO_ERROR && orig)
        h = rd_kafka_headers_copy(orig);
    else
        h = rd_kafka_headers_new(5);
    char part[16], off[32];
    snprintf(part, sizeof part, "%" PRId32, m->partition);
    snprintf(off, sizeof off, "%" PRId64, m->offset);
    rd_kafka_header_add(h, "streamrec.error", -1, reason, -1);
    rd_kafka_header_add(h, "streamrec.error.detail", -1, detail ? detail : "", -1);
    rd_kafka_header_add(h, "streamrec.source.topic", -1, m->topic, -1);
    rd_kafka_header_add(h, "streamrec.source.partition", -1, part, -1);
    rd_kafka_header_add(h, "streamrec.source.offset", -1, off, -1);

    double deadline = sr_mono_s() + KS_DLQ_QUEUE_WAIT_MS / 1000.0;
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            k->producer, RD_KAFKA_V_TOPIC(k->dlq_topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_VALUE((void *)m->value, m->len), RD_KAFKA_V_KEY(m->key, m->key_len),
            RD_KAFKA_V_HEADERS(h), RD_KAFKA_V_OPAQUE(&dlq_tag), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) { /* h now belongs to the message */
            k->st.dlq_produced++;
            return 0;
        }
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL || sr_mono_s() > deadline) {
            rd_kafka_headers_destroy(h);
            k->st.dlq_failed++;
            SR_ERROR(SR_MOD_INGEST, "dead letter from %s [%" PRId32 "] @%" PRId64 " lost: %s",
                     m->topic, m->partition, m->offset, rd_kafka_err2str(e));
            return SR_EIO;
        }
        rd_kafka_poll(k->producer, 50); /* the queue drains as deliveries complete */
    }
}

int ks_send(struct ks *k, const char *topic, const char *key, const void *value, size_t len)
{
    rd_kafka_resp_err_t e = rd_kafka_producev(
        k->producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE((void *)value, len), RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
        RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
        SR_WARN(SR_MOD_INGEST, "record for %s not sent: %s", topic, rd_kafka_err2str(e));
        return SR_EIO;
    }
    return 0;
}

int ks_commit(struct ks *k, bool force, int timeout_ms)
{
    if (!force && (sr_mono_s() - k->last_commit_s) * 1000.0 < (double)k->commit_interval_ms)
        return 0;
    int rc = commit_now(k, force, timeout_ms);
    k->last_commit_s = sr_mono_s();
    return rc == SR_EAGAIN ? 0 : rc;
}

size_t ks_partitions(struct ks *k, struct ks_partition *out, size_t max)
{
    rd_kafka_topic_partition_list_t *list = NULL;
    if (rd_kafka_assignment(k->consumer, &list) != RD_KAFKA_RESP_ERR_NO_ERROR || !list)
        return 0;
    rd_kafka_position(k->consumer, list);
    size_t n = 0;
    for (int i = 0; i < list->cnt && n < max; i++) {
        const rd_kafka_topic_partition_t *p = &list->elems[i];
        struct ks_partition *o = &out[n++];
        int64_t lo = -1, hi = -1;
        snprintf(o->topic, sizeof o->topic, "%s", p->topic);
        o->partition = p->partition;
        o->position = p->offset >= 0 ? p->offset : -1;
        if (rd_kafka_get_watermark_offsets(k->consumer, p->topic, p->partition, &lo, &hi) !=
                RD_KAFKA_RESP_ERR_NO_ERROR ||
            hi < 0)
            hi = -1;
        o->high = hi;
        o->lag = o->position >= 0 && hi >= 0 ? (hi > o->position ? hi - o->position : 0) : -1;
    }
    rd_kafka_topic_partition_list_destroy(list);
    return n;
}

void ks_stats(const struct ks *k, struct ks_stats *out)
{
    *out = k->st;
}

int ks_close(struct ks *k, int timeout_ms)
{
    if (k->closed)
        return 0;
    k->closed = true;
    if (k->cur) {
        rd_kafka_message_destroy(k->cur);
        k->cur = NULL;
    }
    int rc = 0;
    rd_kafka_flush(k->producer, timeout_ms); /* dead letters and the last metrics */
    if (dlq_in_flight(k) > 0) {
        SR_ERROR(SR_MOD_INGEST, "%" PRIu64 " dead letters undelivered at shutdown",
                 dlq_in_flight(k));
        rc = SR_EIO;
    } else if (k->dirty) {
        rd_kafka_resp_err_t e = commit_offsets(k, true);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
            k->st.commits++;
            k->dirty = false;
        } else if (e != RD_KAFKA_RESP_ERR__NO_OFFSET) {
            k->st.commit_errors++;
            SR_ERROR(SR_MOD_INGEST, "final offset commit failed: %s", rd_kafka_err2str(e));
            rc = SR_EIO;
        }
    }
    rd_kafka_consumer_close(k->consumer);
    return rc;
}

void ks_free(struct ks *k)
{
    if (!k)
        return;
    ks_close(k, KS_DLQ_QUEUE_WAIT_MS);
    rd_kafka_destroy(k->consumer);
    /* Anything still queued was reported by ks_close; do not wait again. */
    rd_kafka_purge(k->producer, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_destroy(k->producer);
    for (size_t i = 0; i < k->n_pos; i++)
        free(k->pos[i].topic);
    free(k->pos);
    free(k->commit);
    free(k);
}

/* ---- exact mode ---------------------------------------------------------- */

int ks_exact(struct ks *k, const struct ks_offset *offs, size_t n)
{
    k->exact = true;
    for (size_t i = 0; i < n; i++) {
        struct ks_pos *pos = pos_get(k, offs[i].topic, offs[i].partition);
        if (!pos)
            return SR_ENOMEM;
        pos->next = offs[i].next;
    }
    return ks_set_commit_offsets(k, offs, n);
}

size_t ks_offsets(const struct ks *k, struct ks_offset *out, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < k->n_pos; i++) {
        if (k->pos[i].next < 0)
            continue;
        if (n < max) {
            snprintf(out[n].topic, sizeof out[n].topic, "%s", k->pos[i].topic);
            out[n].partition = k->pos[i].partition;
            out[n].next = k->pos[i].next;
        }
        n++;
    }
    return n;
}

int ks_set_commit_offsets(struct ks *k, const struct ks_offset *offs, size_t n)
{
    struct ks_offset *c = NULL;
    if (n > 0) {
        if (!(c = malloc(n * sizeof *c)))
            return SR_ENOMEM;
        memcpy(c, offs, n * sizeof *c);
    }
    free(k->commit);
    k->commit = c;
    k->n_commit = n;
    k->dirty = n > 0;
    return 0;
}

int ks_pause(struct ks *k, bool pause)
{
    if (k->paused == pause)
        return 0;
    rd_kafka_topic_partition_list_t *list = NULL;
    if (rd_kafka_assignment(k->consumer, &list) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return SR_EIO;
    rd_kafka_resp_err_t e = pause ? rd_kafka_pause_partitions(k->consumer, list)
                                  : rd_kafka_resume_partitions(k->consumer, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        return SR_EIO;
    k->paused = pause;
    SR_WARN(SR_MOD_INGEST, "consumption %s", pause ? "paused" : "resumed");
    return 0;
}

int ks_flush_dlq(struct ks *k, int timeout_ms)
{
    return wait_dlq(k, timeout_ms);
}
