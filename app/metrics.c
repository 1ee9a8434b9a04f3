/* app/metrics.c - the metrics record (docs/metrics.md) and the freshness
 * histogram. */
#include "app/metrics.h"

#include <math.h>
#include <string.h>

static const char *const system_names[METRICS_SYSTEM_COUNT] = {"served", "popularity", "covis",
                                                               "mf"};

const char *metrics_system_name(enum metrics_system s)
{
    return (unsigned)s < METRICS_SYSTEM_COUNT ? system_names[s] : "?";
}

/* ---- the record ------------------------------------------------------- */

static json_t *jint(uint64_t v)
{
    return json_integer(v > (uint64_t)INT64_MAX ? INT64_MAX : (json_int_t)v);
}

/* A number, or null when it is not finite (JSON has no NaN). */
static json_t *jreal(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *jrate(uint64_t count, double seconds)
{
    return json_real(seconds > 0 ? (double)count / seconds : 0.0);
}

/* Sets key to a new value (stolen); any NULL makes the whole build fail. */
static int put(json_t *obj, const char *key, json_t *value)
{
    if (obj == NULL || value == NULL) {
        json_decref(value);
        return -1;
    }
    return json_object_set_new(obj, key, value);
}

/* {"total": N, ["per_s": X,] "by_reason": {name: N, ...}}; repeated names add up. */
static json_t *by_reason(const struct metrics_count *c, size_t n, double seconds, int with_rate)
{
    json_t *o = json_object();
    json_t *reasons = json_object();
    uint64_t total = 0;
    int rc = (o && reasons) ? 0 : -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const char *name = c[i].name ? c[i].name : "";
        json_t *prev = json_object_get(reasons, name);
        uint64_t v = c[i].n + (prev ? (uint64_t)json_integer_value(prev) : 0);
        rc = put(reasons, name, jint(v));
        total += c[i].n;
    }
    if (rc == 0)
        rc = put(o, "total", jint(total));
    if (rc == 0 && with_rate)
        rc = put(o, "per_s", jrate(total, seconds));
    if (rc == 0) {
        rc = put(o, "by_reason", reasons);
        reasons = NULL;
    }
    if (rc != 0) {
        json_decref(reasons);
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *lag_json(const struct metrics_lag *lag, size_t n)
{
    json_t *o = json_object();
    json_t *parts = json_array();
    uint64_t total = 0;
    int rc = (o && parts) ? 0 : -1;
    for (size_t i = 0; i < n && rc == 0; i++) {
        json_t *p = json_object();
        rc = put(p, "topic", json_string(lag[i].topic ? lag[i].topic : ""));
        if (rc == 0)
            rc = put(p, "partition", json_integer(lag[i].partition));
        if (rc == 0)
            rc = put(p, "lag", lag[i].lag >= 0 ? json_integer(lag[i].lag) : json_null());
        if (rc == 0)
            rc = json_array_append_new(parts, p);
        else
            json_decref(p);
        if (lag[i].lag > 0)
            total += (uint64_t)lag[i].lag;
    }
    if (rc == 0)
        rc = put(o, "total", jint(total));
    if (rc == 0) {
        rc = put(o, "partitions", parts);
        parts = NULL;
    }
    if (rc != 0) {
        json_decref(parts);
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *metrics_json(const struct metrics_input *in)
{
    double seconds = in->interval_end_ms > in->interval_start_ms
                         ? (double)(in->interval_end_ms - in->interval_start_ms) / 1000.0
                         : 0.0;
    json_t *rec = json_object();
    int rc = put(rec, "schema_version", json_integer(METRICS_SCHEMA_VERSION));
    if (rc == 0)
        rc = put(rec, "instance", json_string(in->instance ? in->instance : ""));

    json_t *o = json_object();
    if (rc == 0 && o) {
        rc = put(o, "start_ms", json_integer(in->interval_start_ms));
        rc = rc ? rc : put(o, "end_ms", json_integer(in->interval_end_ms));
        rc = rc ? rc : put(o, "seconds", json_real(seconds));
    }
    rc = rc ? (json_decref(o), rc) : put(rec, "interval", o);

    o = json_object();
    if (rc == 0 && o) {
        rc = put(o, "in", jint(in->events_in));
        rc = rc ? rc : put(o, "in_per_s", jrate(in->events_in, seconds));
        rc = rc ? rc : put(o, "applied", jint(in->events_applied));
        rc = rc ? rc : put(o, "applied_per_s", jrate(in->events_applied, seconds));
    }
    rc = rc ? (json_decref(o), rc) : put(rec, "events", o);

    if (rc == 0)
        rc = put(rec, "dlq", by_reason(in->dlq, in->n_dlq, seconds, 1));
    if (rc == 0)
        rc = put(rec, "skipped", by_reason(in->skipped, in->n_skipped, seconds, 0));
    if (rc == 0)
        rc = put(rec, "lag", lag_json(in->lag, in->n_lag));

    o = json_object();
    if (rc == 0 && o) {
        rc = put(o, "sets", jint(in->redis_sets));
        rc = rc ? rc : put(o, "sets_per_s", jrate(in->redis_sets, seconds));
        rc = rc ? rc : put(o, "errors", jint(in->redis_errors));
        rc = rc ? rc : put(o, "reconnects", jint(in->redis_reconnects));
    }
    rc = rc ? (json_decref(o), rc) : put(rec, "redis", o);

    o = json_object();
    if (rc == 0 && o) {
        int none = in->freshness_n == 0;
        rc = put(o, "p50", none ? json_null() : jreal(in->freshness_p50_ms));
        rc = rc ? rc : put(o, "p99", none ? json_null() : jreal(in->freshness_p99_ms));
        rc = rc ? rc : put(o, "n", jint(in->freshness_n));
    }
    rc = rc ? (json_decref(o), rc) : put(rec, "freshness_ms", o);

    o = json_object();
    for (int s = 0; s < METRICS_SYSTEM_COUNT && rc == 0 && o; s++) {
        json_t *h = json_object();
        rc = put(h, "hr@20", in->hr[s].n ? jreal(in->hr[s].hr20) : json_null());
        rc = rc ? rc : put(h, "n", jint(in->hr[s].n));
        rc = rc ? (json_decref(h), rc) : put(o, system_names[s], h);
    }
    rc = rc ? (json_decref(o), rc) : put(rec, "online", o);

    o = json_object();
    if (rc == 0 && o) {
        rc = put(o, "version", json_string(in->model_version ? in->model_version : ""));
        rc = rc ? rc : put(o, "users", jint(in->users));
        rc = rc ? rc : put(o, "items", jint(in->items));
        rc = rc ? rc : put(o, "bytes", jint(in->model_bytes));
    }
    rc = rc ? (json_decref(o), rc) : put(rec, "model", o);

    o = json_object();
    if (rc == 0 && o) {
        rc = put(o, "users_evicted", jint(in->users_evicted));
        rc = rc ? rc : put(o, "item_cap_rejected", jint(in->item_cap_rejected));
        rc = rc ? rc : put(o, "cold_events", jint(in->cold_events));
        rc = rc ? rc : put(o, "items_cold", jint(in->items_cold));
    }
    rc = rc ? (json_decref(o), rc) : put(rec, "caps", o);

    o = in->checkpoints_on ? json_object() : json_null();
    if (rc == 0 && o && in->checkpoints_on) {
        rc = put(o, "written", jint(in->checkpoints));
        rc = rc ? rc : put(o, "errors", jint(in->checkpoint_errors));
        rc =
            rc ? rc
               : put(o, "age_ms",
                     in->checkpoint_age_ms < 0 ? json_null() : json_integer(in->checkpoint_age_ms));
        rc = rc ? rc : put(o, "capture_ms", jreal(in->checkpoint_capture_ms));
        rc = rc ? rc : put(o, "write_ms", jreal(in->checkpoint_write_ms));
        rc = rc ? rc : put(o, "bytes", jint(in->checkpoint_bytes));
        rc = rc ? rc : put(o, "messages_since", jint(in->messages_uncheckpointed));
        rc = rc ? rc : put(o, "paused", json_boolean(in->consumption_paused));
    }
    rc = rc ? (json_decref(o), rc) : put(rec, "checkpoint", o);

    if (rc != 0) {
        json_decref(rec);
        return NULL;
    }
    return rec;
}

/* ---- latency histogram ------------------------------------------------ */

int metrics_hist_bucket(double ms)
{
    if (!(ms >= METRICS_HIST_MIN_MS)) /* NaN and negatives too */
        return 0;
    double x = log2(ms / METRICS_HIST_MIN_MS) * METRICS_HIST_PER_OCT;
    if (x >= METRICS_HIST_PER_OCT * METRICS_HIST_OCTAVES)
        return METRICS_HIST_BUCKETS - 1;
    return 1 + (int)x;
}

/* Lower bound of bucket b >= 1. */
static double bucket_lo(int b)
{
    return METRICS_HIST_MIN_MS * exp2((double)(b - 1) / METRICS_HIST_PER_OCT);
}

void metrics_hist_reset(struct metrics_hist *h)
{
    memset(h, 0, sizeof *h);
}

void metrics_hist_add(struct metrics_hist *h, double ms)
{
    if (!(ms > 0)) /* NaN, negatives */
        ms = 0;
    h->count[metrics_hist_bucket(ms)]++;
    if (h->n == 0 || ms < h->min)
        h->min = ms;
    if (h->n == 0 || ms > h->max)
        h->max = ms;
    h->n++;
    h->sum += ms;
}

void metrics_hist_merge(struct metrics_hist *dst, const struct metrics_hist *src)
{
    if (src->n == 0)
        return;
    for (int b = 0; b < METRICS_HIST_BUCKETS; b++)
        dst->count[b] += src->count[b];
    if (dst->n == 0 || src->min < dst->min)
        dst->min = src->min;
    if (dst->n == 0 || src->max > dst->max)
        dst->max = src->max;
    dst->n += src->n;
    dst->sum += src->sum;
}

double metrics_hist_quantile(const struct metrics_hist *h, double q)
{
    if (h->n == 0)
        return NAN;
    if (!(q > 0))
        return h->min;
    if (q >= 1)
        return h->max;
    uint64_t rank = (uint64_t)ceil(q * (double)h->n);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    int b = 0;
    for (; b < METRICS_HIST_BUCKETS - 1; b++) {
        seen += h->count[b];
        if (seen >= rank)
            break;
    }
    double v;
    if (b == 0)
        v = METRICS_HIST_MIN_MS / 2;
    else if (b == METRICS_HIST_BUCKETS - 1)
        v = h->max;
    else
        v = sqrt(bucket_lo(b) * bucket_lo(b + 1));
    if (v < h->min)
        v = h->min;
    if (v > h->max)
        v = h->max;
    return v;
}
