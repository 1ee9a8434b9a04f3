/* app/reporter.c - the metrics reporter thread of `streamrec run`. */
#include "app/reporter.h"
#include "app/metrics.h"
#include "core/err.h"
#include "core/log.h"
#include "core/time.h"
#include "features/feat.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct reporter {
    struct daemon *d; /* borrowed */
    struct sr_metrics_cfg cfg;
    char instance[SR_CFG_STR_MAX];
    pthread_t thread;
    pthread_mutex_t lock; /* with wake: lets reporter_stop() cut a sleep short */
    pthread_cond_t wake;
    bool stop;
    atomic_ulong sent;

    /* reporter thread only */
    struct daemon_stats prev; /* counters at the start of the interval */
    int64_t prev_ms;
    struct metrics_hist fresh;
};

/* Hits of a cumulative (n, hr20) pair, so intervals can be differenced. */
static double hits(const struct daemon_hr *h)
{
    return h->hr20 * (double)h->n;
}

static void interval_hr(struct metrics_hr *out, const struct daemon_hr *now,
                        const struct daemon_hr *before)
{
    out->n = now->n >= before->n ? now->n - before->n : 0;
    out->hr20 = out->n ? (hits(now) - hits(before)) / (double)out->n : 0.0;
}

static void report(struct reporter *r)
{
    struct daemon_stats s;
    daemon_stats(r->d, &s);
    int64_t now_ms = sr_now_ms();
    daemon_take_freshness(r->d, &r->fresh);

    struct metrics_count dlq[DAEMON_DLQ_COUNT], skipped[FEAT_SKIP_COUNT];
    size_t n_dlq = 0, n_skipped = 0;
    for (int i = 1; i < DAEMON_DLQ_COUNT; i++)
        if (s.dlq[i] > r->prev.dlq[i])
            dlq[n_dlq++] = (struct metrics_count){daemon_dlq_name(i), s.dlq[i] - r->prev.dlq[i]};
    for (int i = 1; i < FEAT_SKIP_COUNT; i++)
        if (s.skipped[i] > r->prev.skipped[i])
            skipped[n_skipped++] = (struct metrics_count){feat_skip_name((enum feat_skip)i),
                                                          s.skipped[i] - r->prev.skipped[i]};
    struct metrics_lag lag[DAEMON_MAX_PARTITIONS];
    for (size_t i = 0; i < s.n_partitions; i++)
        lag[i] = (struct metrics_lag){s.partitions[i].topic, s.partitions[i].partition,
                                      s.partitions[i].lag};

    struct metrics_input in = {
        .instance = r->instance,
        .interval_start_ms = r->prev_ms,
        .interval_end_ms = now_ms,
        .events_in = s.messages_in - r->prev.messages_in,
        .events_applied = s.events_applied - r->prev.events_applied,
        .dlq = dlq,
        .n_dlq = n_dlq,
        .skipped = skipped,
        .n_skipped = n_skipped,
        .lag = lag,
        .n_lag = s.n_partitions,
        .redis_sets = s.publisher.sets - r->prev.publisher.sets,
        .redis_errors = s.publisher.errors - r->prev.publisher.errors,
        .redis_reconnects = s.publisher.reconnects - r->prev.publisher.reconnects,
        .freshness_n = r->fresh.n,
        .users = s.users,
        .items = s.items,
        .model_bytes = s.model_bytes,
        .users_evicted = s.users_evicted - r->prev.users_evicted,
        .item_cap_rejected = s.skipped[FEAT_SKIP_ITEM_CAP] - r->prev.skipped[FEAT_SKIP_ITEM_CAP],
        .cold_events = s.cold_events - r->prev.cold_events,
        .items_cold = s.items_cold,
        .model_version = s.version,
        .checkpoints_on = s.checkpointing,
        .checkpoints = s.checkpoints,
        .checkpoint_errors = s.checkpoint_errors,
        .checkpoint_age_ms = s.checkpoint_age_ms,
        .checkpoint_capture_ms = s.checkpoint_capture_ms,
        .checkpoint_write_ms = s.checkpoint_write_ms,
        .checkpoint_bytes = s.checkpoint_bytes,
        .messages_uncheckpointed = s.messages_since_checkpoint,
        .consumption_paused = s.consumption_paused,
    };
    if (r->fresh.n) {
        in.freshness_p50_ms = metrics_hist_quantile(&r->fresh, 0.50);
        in.freshness_p99_ms = metrics_hist_quantile(&r->fresh, 0.99);
    }
    interval_hr(&in.hr[METRICS_SERVED], &s.served_all, &r->prev.served_all);
    interval_hr(&in.hr[METRICS_POPULARITY], &s.popularity_all, &r->prev.popularity_all);
    interval_hr(&in.hr[METRICS_COVIS], &s.covis_all, &r->prev.covis_all);
    /* The daemon's online evaluation scores the served list and the
     * baselines; MF alone is only in replay (n = 0: null). */

    json_t *rec = metrics_json(&in);
    char *text = rec ? json_dumps(rec, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
    if (text && daemon_send(r->d, r->cfg.topic, r->instance, text, strlen(text)) == 0)
        atomic_fetch_add(&r->sent, 1);
    free(text);
    json_decref(rec);

    r->prev = s;
    r->prev_ms = now_ms;
    metrics_hist_reset(&r->fresh);
}

static void *reporter_main(void *arg)
{
    struct reporter *r = arg;
    pthread_mutex_lock(&r->lock);
    while (!r->stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        int64_t ns = (int64_t)until.tv_nsec + r->cfg.interval_ms * 1000000;
        until.tv_sec += (time_t)(ns / 1000000000);
        until.tv_nsec = (long)(ns % 1000000000);
        while (!r->stop && pthread_cond_timedwait(&r->wake, &r->lock, &until) != ETIMEDOUT)
            ;
        if (r->stop)
            break;
        pthread_mutex_unlock(&r->lock);
        report(r);
        pthread_mutex_lock(&r->lock);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

struct reporter *reporter_start(struct daemon *d, const struct sr_metrics_cfg *cfg, char *errbuf,
                                size_t errlen)
{
    struct reporter *r = calloc(1, sizeof *r);
    if (!r) {
        sr_seterr(errbuf, errlen, SR_ENOMEM, "metrics reporter: out of memory");
        return NULL;
    }
    r->d = d;
    r->cfg = *cfg;
    if (cfg->instance[0]) {
        snprintf(r->instance, sizeof r->instance, "%s", cfg->instance);
    } else {
        char host[128] = "localhost";
        gethostname(host, sizeof host - 1);
        snprintf(r->instance, sizeof r->instance, "%s:%ld", host, (long)getpid());
    }
    daemon_stats(d, &r->prev);
    r->prev_ms = sr_now_ms();
    metrics_hist_reset(&r->fresh);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    if (pthread_create(&r->thread, NULL, reporter_main, r) != 0) {
        pthread_cond_destroy(&r->wake);
        pthread_mutex_destroy(&r->lock);
        free(r);
        sr_seterr(errbuf, errlen, SR_ENOMEM, "metrics reporter: cannot start its thread");
        return NULL;
    }
    return r;
}

void reporter_stop(struct reporter *r)
{
    if (!r)
        return;
    pthread_mutex_lock(&r->lock);
    r->stop = true;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

unsigned long reporter_sent(const struct reporter *r)
{
    return atomic_load(&((struct reporter *)r)->sent);
}
