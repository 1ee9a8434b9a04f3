/* serve/publisher.c - the Redis publisher thread and its dirty map.
 *
 * Locking: one mutex (mu) guards the map, the queue, the payload free list
 * and the model fields; counters are atomics. The learner thread only ever
 * holds mu for a hash lookup and a copy. The publisher thread takes a batch
 * under mu, then builds the JSON and talks to Redis without it.
 *
 * An entry is in the map from its first offer until a write of its newest
 * list succeeds. Its newest list is `payload`; while a write is in flight
 * the publisher owns the list being written and `payload` holds any newer
 * one. The queue (FIFO of entries to write) holds exactly the entries with a
 * payload that are not in flight. */
#include "serve/publisher.h"
#include "core/err.h"
#include "core/log.h"
#include "core/time.h"
#include "serve/rconn.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#define FREE_PAYLOADS_MAX 1024 /* recycled list buffers kept */
#define KEY_MAX           (PUB_ID_MAX + 128)

/* One list: scores then NUL-terminated item ids, in data[]. */
struct pub_payload {
    struct pub_payload *next_free;
    size_t cap; /* bytes of data[] */
    int64_t t_ms;
    uint32_t n;
    char version[PUB_VERSION_MAX + 1];
    char data[]; /* float scores[n] (unaligned: memcpy), then n ids */
};

struct pub_entry {
    struct pub_entry *next;      /* queue link, or free-list link */
    struct pub_payload *payload; /* newest list not yet handed to Redis; owned */
    uint64_t hash;
    bool inflight, queued;
    uint8_t kind;
    uint16_t id_len;
    char id[PUB_ID_MAX + 1];
};

struct pub_field {
    char name[PUB_FIELD_MAX + 1];
    char value[PUB_VALUE_MAX + 1];
};

/* One SET of a batch: the entry and the list being written (owned). */
struct pub_job {
    struct pub_entry *entry;
    struct pub_payload *payload;
};

struct publisher {
    /* settings */
    struct sr_redis_cfg rcfg;
    struct sr_publish_cfg pcfg;

    /* shared state, under mu */
    pthread_mutex_t mu;
    pthread_cond_t wake;      /* publisher thread: work, flush or stop */
    pthread_cond_t drained;   /* flushers: a round ended */
    struct pub_entry **slots; /* [cap], open addressing, linear probing */
    size_t cap, count;
    struct pub_entry *qhead, *qtail;
    size_t inflight;
    struct pub_entry *free_entries;
    struct pub_payload *free_payloads;
    size_t n_free_payloads;
    struct pub_field model[PUB_MODEL_MAX];
    size_t n_model;
    bool model_dirty;
    unsigned flush_waiters;
    bool stop;

    /* counters, any thread */
    _Atomic uint64_t offers, sets, model_writes, errors, connects, reconnects, dropped, pending,
        batches;
    _Atomic bool connected;

    /* publisher thread only */
    pthread_t thread;
    redisContext *c;
    struct pub_job *jobs; /* [pcfg.batch] */
    bool *ok;             /* [pcfg.batch]: which jobs Redis acknowledged */
    bool refused;         /* the last round had error replies (logged once per streak) */
    bool reauth;          /* an error reply asked for AUTH: reconnect */
    struct pub_field model_snap[PUB_MODEL_MAX];
    size_t n_model_snap;
};

/* ---- the dirty map (under mu) ---- */

static uint64_t key_hash(int kind, const char *id, size_t len)
{
    return XXH3_64bits_withSeed(id, len, (uint64_t)kind + 1);
}

static size_t find_slot(const struct publisher *p, uint64_t h, int kind, const char *id, size_t len,
                        bool *found)
{
    size_t mask = p->cap - 1, i = (size_t)h & mask;
    for (;; i = (i + 1) & mask) {
        const struct pub_entry *e = p->slots[i];
        if (!e) {
            *found = false;
            return i;
        }
        if (e->hash == h && e->kind == kind && e->id_len == len && memcmp(e->id, id, len) == 0) {
            *found = true;
            return i;
        }
    }
}

static int grow(struct publisher *p)
{
    size_t ncap = p->cap * 2;
    struct pub_entry **ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return SR_ENOMEM;
    for (size_t i = 0; i < p->cap; i++) {
        struct pub_entry *e = p->slots[i];
        if (!e)
            continue;
        size_t j = (size_t)e->hash & (ncap - 1);
        while (ns[j])
            j = (j + 1) & (ncap - 1);
        ns[j] = e;
    }
    free(p->slots);
    p->slots = ns;
    p->cap = ncap;
    return 0;
}

/* Removes e from the map (backward-shift deletion) and recycles it. */
static void remove_entry(struct publisher *p, struct pub_entry *e)
{
    size_t mask = p->cap - 1, i = (size_t)e->hash & mask;
    while (p->slots[i] != e)
        i = (i + 1) & mask;
    for (size_t j = (i + 1) & mask; p->slots[j]; j = (j + 1) & mask) {
        size_t home = (size_t)p->slots[j]->hash & mask;
        /* Move slots[j] into the hole at i unless its home lies in (i, j]. */
        bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
        if (!between) {
            p->slots[i] = p->slots[j];
            i = j;
        }
    }
    p->slots[i] = NULL;
    p->count--;
    atomic_store(&p->pending, p->count);
    e->next = p->free_entries;
    p->free_entries = e;
}

static void enqueue(struct publisher *p, struct pub_entry *e)
{
    e->next = NULL;
    e->queued = true;
    if (p->qtail)
        p->qtail->next = e;
    else
        p->qhead = e;
    p->qtail = e;
}

static struct pub_entry *dequeue(struct publisher *p)
{
    struct pub_entry *e = p->qhead;
    if (e) {
        p->qhead = e->next;
        if (!p->qhead)
            p->qtail = NULL;
        e->next = NULL;
        e->queued = false;
    }
    return e;
}

static void payload_release(struct publisher *p, struct pub_payload *pl)
{
    if (!pl)
        return;
    if (p->n_free_payloads < FREE_PAYLOADS_MAX) {
        pl->next_free = p->free_payloads;
        p->free_payloads = pl;
        p->n_free_payloads++;
    } else {
        free(pl);
    }
}

/* A list buffer of at least `need` data bytes: `reuse` if it fits, else a
 * recycled or new one (reuse is then released; on failure it is kept). */
static struct pub_payload *payload_get(struct publisher *p, struct pub_payload *reuse, size_t need)
{
    if (reuse && reuse->cap >= need)
        return reuse;
    struct pub_payload *pl = p->free_payloads;
    if (pl) {
        p->free_payloads = pl->next_free;
        p->n_free_payloads--;
        if (pl->cap < need) {
            free(pl);
            pl = NULL;
        }
    }
    if (!pl) {
        size_t cap = need < 512 ? 512 : (need + 511) & ~(size_t)511;
        pl = malloc(sizeof *pl + cap);
        if (!pl)
            return NULL; /* reuse is left as it was */
        pl->cap = cap;
    }
    payload_release(p, reuse);
    return pl;
}

/* ---- public, any thread ---- */

int pub_offer(struct publisher *p, enum pub_kind kind, const char *id, const char *const *items,
              const float *scores, size_t n, const char *model_version)
{
    if ((unsigned)kind >= PUB_KIND_COUNT || !id || !model_version || (n && (!items || !scores)))
        return SR_EINVAL;
    size_t id_len = strlen(id), vlen = strlen(model_version);
    if (id_len == 0 || id_len > PUB_ID_MAX || vlen > PUB_VERSION_MAX || n > UINT32_MAX)
        return SR_EINVAL;
    size_t need = n * sizeof(float);
    for (size_t i = 0; i < n; i++) {
        if (!items[i] || !isfinite(scores[i]))
            return SR_EINVAL;
        need += strlen(items[i]) + 1;
    }
    uint64_t h = key_hash((int)kind, id, id_len);
    int64_t now = sr_now_ms();

    pthread_mutex_lock(&p->mu);
    bool found;
    size_t slot = find_slot(p, h, (int)kind, id, id_len, &found);
    struct pub_entry *e = found ? p->slots[slot] : NULL;
    int rc = 0;
    if (!e) {
        if (p->count >= (size_t)p->pcfg.max_pending) {
            atomic_fetch_add(&p->dropped, 1);
            rc = SR_EFULL;
            goto out_unlock;
        }
        if ((p->count + 1) * 2 > p->cap) {
            if ((rc = grow(p)) != 0)
                goto out_unlock;
            slot = find_slot(p, h, (int)kind, id, id_len, &found);
        }
        e = p->free_entries;
        if (e)
            p->free_entries = e->next;
        else if (!(e = malloc(sizeof *e))) {
            rc = SR_ENOMEM;
            goto out_unlock;
        }
        memset(e, 0, offsetof(struct pub_entry, id));
        e->hash = h;
        e->kind = (uint8_t)kind;
        e->id_len = (uint16_t)id_len;
        memcpy(e->id, id, id_len);
        e->id[id_len] = '\0';
        p->slots[slot] = e;
        p->count++;
        atomic_store(&p->pending, p->count);
    }
    struct pub_payload *pl = payload_get(p, e->payload, need);
    if (!pl) {
        if (!e->payload && !e->inflight)
            remove_entry(p, e); /* a new key with nothing to write: forget it */
        rc = SR_ENOMEM;
        goto out_unlock;
    }
    pl->t_ms = now;
    pl->n = (uint32_t)n;
    memcpy(pl->version, model_version, vlen + 1);
    if (n)
        memcpy(pl->data, scores, n * sizeof(float));
    char *w = pl->data + n * sizeof(float);
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(items[i]) + 1;
        memcpy(w, items[i], l);
        w += l;
    }
    e->payload = pl;
    /* Wake the thread only when it may be idle: with keys already queued
     * it is writing or waiting out the debounce, and looks again anyway
     * (a signal per offer cost ~7% of the learner thread in futex calls). */
    bool was_idle = !p->qhead && !p->model_dirty;
    if (!e->inflight && !e->queued)
        enqueue(p, e);
    atomic_fetch_add(&p->offers, 1);
    if (was_idle)
        pthread_cond_signal(&p->wake);
out_unlock:
    pthread_mutex_unlock(&p->mu);
    return rc;
}

int pub_model_set(struct publisher *p, const char *const *fields, const char *const *values,
                  size_t n)
{
    for (size_t i = 0; i < n; i++) {
        size_t fl = fields[i] ? strlen(fields[i]) : 0;
        if (fl == 0 || fl > PUB_FIELD_MAX || !values[i] || strlen(values[i]) > PUB_VALUE_MAX)
            return SR_EINVAL;
    }
    int rc = 0;
    pthread_mutex_lock(&p->mu);
    /* All or nothing: check room for new fields first. */
    size_t add = 0;
    for (size_t i = 0; i < n; i++) {
        bool known = false;
        for (size_t j = 0; j < p->n_model && !known; j++)
            known = strcmp(p->model[j].name, fields[i]) == 0;
        for (size_t j = 0; j < i && !known; j++)
            known = strcmp(fields[j], fields[i]) == 0;
        add += !known;
    }
    if (p->n_model + add > PUB_MODEL_MAX) {
        rc = SR_EFULL;
        goto out_unlock;
    }
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < p->n_model && strcmp(p->model[j].name, fields[i]) != 0)
            j++;
        if (j == p->n_model)
            snprintf(p->model[p->n_model++].name, sizeof p->model[0].name, "%s", fields[i]);
        snprintf(p->model[j].value, sizeof p->model[j].value, "%s", values[i]);
    }
    if (n) {
        p->model_dirty = true;
        pthread_cond_signal(&p->wake);
    }
out_unlock:
    pthread_mutex_unlock(&p->mu);
    return rc;
}

static bool all_written(const struct publisher *p)
{
    return p->count == 0 && !p->model_dirty;
}

static void deadline_after(struct timespec *ts, int64_t ms)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    ts->tv_sec += (time_t)(ms / 1000);
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

int pub_flush(struct publisher *p, int64_t timeout_ms)
{
    struct timespec until;
    deadline_after(&until, timeout_ms);
    int rc = 0;
    pthread_mutex_lock(&p->mu);
    p->flush_waiters++;
    pthread_cond_signal(&p->wake);
    while (!all_written(p)) {
        if (pthread_cond_timedwait(&p->drained, &p->mu, &until) == ETIMEDOUT) {
            rc = all_written(p) ? 0 : SR_EAGAIN;
            break;
        }
    }
    p->flush_waiters--;
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void pub_stats(const struct publisher *p, struct pub_stats *out)
{
    struct publisher *q = (struct publisher *)p; /* atomics are read-only here */
    out->offers = atomic_load(&q->offers);
    out->sets = atomic_load(&q->sets);
    out->model_writes = atomic_load(&q->model_writes);
    out->errors = atomic_load(&q->errors);
    out->connects = atomic_load(&q->connects);
    out->reconnects = atomic_load(&q->reconnects);
    out->dropped = atomic_load(&q->dropped);
    out->pending = atomic_load(&q->pending);
    out->batches = atomic_load(&q->batches);
    out->connected = atomic_load(&q->connected);
}

/* ---- the publisher thread ---- */

/* {"v":..,"t":..,"items":[..],"scores":[..]} as a new string (free()), or
 * NULL when an id is not UTF-8 or memory ran out. jansson allocates per
 * value; that happens here, on the publisher thread, not the learner's. */
static char *payload_json(const struct pub_payload *pl)
{
    json_t *o = json_object(), *items = json_array(), *scores = json_array();
    char *out = NULL;
    if (!o || !items || !scores)
        goto out_free;
    const char *s = pl->data + (size_t)pl->n * sizeof(float);
    for (uint32_t i = 0; i < pl->n; i++) {
        float f;
        memcpy(&f, pl->data + (size_t)i * sizeof f, sizeof f);
        json_t *js = json_string(s), *jf = json_real((double)f);
        if (!js || !jf) {
            json_decref(js);
            json_decref(jf);
            goto out_free;
        }
        json_array_append_new(items, js);
        json_array_append_new(scores, jf);
        s += strlen(s) + 1;
    }
    json_t *v = json_string(pl->version);
    if (!v)
        goto out_free;
    /* jansson keeps insertion order, which gives DESIGN.md's field order. */
    json_object_set_new(o, "v", v);
    json_object_set_new(o, "t", json_integer(pl->t_ms));
    json_object_set_new(o, "items", items);
    json_object_set_new(o, "scores", scores);
    items = scores = NULL;
    out = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(7));
out_free:
    json_decref(items);
    json_decref(scores);
    json_decref(o);
    return out;
}

static void drop_connection(struct publisher *p)
{
    if (p->c) {
        redisFree(p->c);
        p->c = NULL;
        atomic_store(&p->connected, false);
    }
}

/* Writes jobs[0..n) and, if n_model_snap, the model hash, in one pipeline.
 * ok[i] says which SETs were acknowledged; returns whether the model HSET
 * was. Drops the connection on an I/O error. */
static bool write_batch(struct publisher *p, size_t n, bool *ok)
{
    char key[KEY_MAX], ttl[24];
    int64_t ttl_s = (p->rcfg.ttl_ms + 999) / 1000;
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_s);
    bool model_ok = false, model_appended = false;
    for (size_t i = 0; i < n; i++) {
        ok[i] = false;
        const struct pub_entry *e = p->jobs[i].entry;
        int kl = rconn_key(&p->rcfg, e->kind, e->id, e->id_len, key, sizeof key);
        char *val = payload_json(p->jobs[i].payload);
        if (kl < 0 || !val) {
            /* Not encodable (an id that is not UTF-8): it never will be. */
            free(val);
            ok[i] = true; /* retire it */
            atomic_fetch_add(&p->dropped, 1);
            SR_DEBUG(SR_MOD_SERVE, "dropped %s list of an id that is not UTF-8",
                     rconn_kind_name(e->kind));
            continue;
        }
        bool expires = e->kind != PUB_TRENDING && ttl_s > 0;
        const char *argv[] = {"SET", key, val, "EX", ttl};
        size_t lens[] = {3, (size_t)kl, strlen(val), 2, strlen(ttl)};
        int rc = redisAppendCommandArgv(p->c, expires ? 5 : 3, argv, lens);
        free(val);
        if (rc != REDIS_OK)
            goto out_io_error;
    }
    if (p->n_model_snap) {
        const char *argv[2 + 2 * PUB_MODEL_MAX];
        size_t lens[2 + 2 * PUB_MODEL_MAX];
        int kl = rconn_key(&p->rcfg, -1, "", 0, key, sizeof key);
        argv[0] = "HSET";
        lens[0] = 4;
        argv[1] = key;
        lens[1] = (size_t)kl;
        for (size_t i = 0; i < p->n_model_snap; i++) {
            argv[2 + 2 * i] = p->model_snap[i].name;
            lens[2 + 2 * i] = strlen(p->model_snap[i].name);
            argv[3 + 2 * i] = p->model_snap[i].value;
            lens[3 + 2 * i] = strlen(p->model_snap[i].value);
        }
        if (redisAppendCommandArgv(p->c, (int)(2 + 2 * p->n_model_snap), argv, lens) != REDIS_OK)
            goto out_io_error;
        model_appended = true;
    }
    atomic_fetch_add(&p->batches, 1);
    bool refused_now = false;
    /* Replies come back in order; skipped (dropped) jobs sent nothing. */
    for (size_t i = 0; i < n + model_appended; i++) {
        if (i < n && ok[i])
            continue;
        redisReply *r = NULL;
        if (redisGetReply(p->c, (void **)&r) != REDIS_OK || !r)
            goto out_io_error;
        bool good = r->type != REDIS_REPLY_ERROR;
        if (!good) {
            char msg[256];
            rconn_scrub(&p->rcfg, r->str ? r->str : "", msg, sizeof msg);
            atomic_fetch_add(&p->errors, 1);
            if (!refused_now)
                SR_LOG(p->refused ? SR_LOG_DEBUG : SR_LOG_WARN, SR_MOD_SERVE,
                       "Redis at %s:%lld refuses writes (%s); keys stay pending and are retried",
                       p->rcfg.host, (long long)p->rcfg.port, msg);
            refused_now = true;
            if (strncmp(msg, "NOAUTH", 6) == 0 || strncmp(msg, "WRONGPASS", 9) == 0)
                p->reauth = true;
        }
        if (i < n) {
            ok[i] = good;
            atomic_fetch_add(&p->sets, good);
        } else {
            model_ok = good;
            atomic_fetch_add(&p->model_writes, good);
        }
        freeReplyObject(r);
    }
    if (p->refused && !refused_now)
        SR_INFO(SR_MOD_SERVE, "Redis at %s:%lld accepts writes again", p->rcfg.host,
                (long long)p->rcfg.port);
    p->refused = refused_now;
    if (p->reauth) {
        p->reauth = false;
        drop_connection(p); /* reconnect, and AUTH again */
    }
    return model_ok;

out_io_error:
    /* Anything without a reply has ok[i] false and stays pending. */
    atomic_fetch_add(&p->errors, 1);
    {
        char msg[256];
        rconn_scrub(&p->rcfg, p->c->errstr, msg, sizeof msg);
        SR_WARN(SR_MOD_SERVE,
                "lost the Redis connection to %s:%lld (%s); %llu keys pending, "
                "reconnecting",
                p->rcfg.host, (long long)p->rcfg.port, msg[0] ? msg : "I/O error",
                (unsigned long long)atomic_load(&p->pending));
    }
    drop_connection(p);
    return false;
}

/* Puts the results of a batch back into the map (under mu). */
static void complete_batch(struct publisher *p, size_t n, const bool *ok, bool model_ok)
{
    for (size_t i = 0; i < n; i++) {
        struct pub_entry *e = p->jobs[i].entry;
        struct pub_payload *written = p->jobs[i].payload;
        e->inflight = false;
        if (ok[i]) {
            payload_release(p, written);
            if (e->payload)
                enqueue(p, e); /* a newer list arrived meanwhile */
            else
                remove_entry(p, e);
        } else {
            if (e->payload)
                payload_release(p, written); /* the newer list wins */
            else
                e->payload = written;
            enqueue(p, e);
        }
    }
    p->inflight -= n;
    if (p->n_model_snap && !model_ok)
        p->model_dirty = true;
}

static int64_t mono_ms(void)
{
    return (int64_t)(sr_mono_ns() / 1000000u);
}

/* Connects (without mu). Logs one line per outage. */
static void try_connect(struct publisher *p, int *failures, int64_t *backoff_ms,
                        int64_t *next_try_ms, bool *ever)
{
    char err[512];
    int rc = rconn_open(&p->rcfg, &p->c, err, sizeof err);
    if (rc == 0) {
        atomic_fetch_add(&p->connects, 1);
        if (*ever || *failures)
            atomic_fetch_add(&p->reconnects, 1);
        atomic_store(&p->connected, true);
        if (*failures)
            SR_INFO(SR_MOD_SERVE, "connected to Redis at %s:%lld (after %d failed attempts)",
                    p->rcfg.host, (long long)p->rcfg.port, *failures);
        else
            SR_DEBUG(SR_MOD_SERVE, "connected to Redis at %s:%lld", p->rcfg.host,
                     (long long)p->rcfg.port);
        *ever = true;
        *failures = 0;
        *backoff_ms = p->rcfg.backoff_min_ms;
        return;
    }
    atomic_fetch_add(&p->errors, 1);
    if (*failures == 0)
        SR_WARN(SR_MOD_SERVE, "%s; retrying every %lld ms to %lld ms, keeping pending keys", err,
                (long long)p->rcfg.backoff_min_ms, (long long)p->rcfg.backoff_max_ms);
    else
        SR_DEBUG(SR_MOD_SERVE, "%s (attempt %d)", err, *failures + 1);
    (*failures)++;
    *next_try_ms = mono_ms() + *backoff_ms;
    *backoff_ms =
        *backoff_ms * 2 > p->rcfg.backoff_max_ms ? p->rcfg.backoff_max_ms : *backoff_ms * 2;
}

static void *pub_main(void *arg)
{
    struct publisher *p = arg;
    bool *ok = p->ok;
    int failures = 0;
    bool ever = false;
    int64_t backoff_ms = p->rcfg.backoff_min_ms, next_try_ms = 0, next_round_ms = 0;

    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        bool work = p->qhead || p->model_dirty;
        if (!work && p->c) {
            pthread_cond_broadcast(&p->drained);
            pthread_cond_wait(&p->wake, &p->mu);
            continue;
        }
        /* Disconnected: (re)connect even when idle, so an unreachable Redis
         * is reported at start; the backoff applies, flush or not. */
        int64_t now = mono_ms();
        int64_t due = !p->c ? next_try_ms : p->flush_waiters ? now : next_round_ms;
        if (now < due) {
            struct timespec until;
            deadline_after(&until, due - now);
            pthread_cond_timedwait(&p->wake, &p->mu, &until);
            continue;
        }
        if (!p->c) {
            pthread_mutex_unlock(&p->mu);
            try_connect(p, &failures, &backoff_ms, &next_try_ms, &ever);
            pthread_mutex_lock(&p->mu);
            pthread_cond_broadcast(&p->drained);
            continue;
        }
        /* Take a batch and the model fields. */
        size_t n = 0;
        while (n < (size_t)p->pcfg.batch && p->qhead) {
            struct pub_entry *e = dequeue(p);
            e->inflight = true;
            p->jobs[n].entry = e;
            p->jobs[n].payload = e->payload;
            e->payload = NULL;
            n++;
        }
        p->inflight += n;
        p->n_model_snap = 0;
        if (p->model_dirty) {
            memcpy(p->model_snap, p->model, p->n_model * sizeof p->model[0]);
            p->n_model_snap = p->n_model;
            p->model_dirty = false;
        }
        bool more = p->qhead != NULL;
        pthread_mutex_unlock(&p->mu);

        bool model_ok = write_batch(p, n, ok);

        pthread_mutex_lock(&p->mu);
        complete_batch(p, n, ok, model_ok);
        if (!p->c) {
            next_try_ms = mono_ms() + backoff_ms; /* lost it: back off before reconnecting */
            failures = 1;                         /* already reported */
        } else if (p->refused) {
            /* Error replies: do not retry faster than the reconnect backoff. */
            next_round_ms =
                now + (p->pcfg.interval_ms > p->rcfg.backoff_min_ms ? p->pcfg.interval_ms
                                                                    : p->rcfg.backoff_min_ms);
        } else if (!more) {
            /* Debounce: the next round starts one interval after this one. */
            next_round_ms = now + p->pcfg.interval_ms;
        }
        pthread_cond_broadcast(&p->drained);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---- lifecycle ---- */

struct publisher *pub_new(const struct sr_redis_cfg *redis, const struct sr_publish_cfg *publish,
                          char *errbuf, size_t errlen)
{
    struct publisher *p = calloc(1, sizeof *p);
    if (!p) {
        sr_seterr(errbuf, errlen, SR_ENOMEM, "publisher: out of memory");
        return NULL;
    }
    p->rcfg = *redis;
    p->pcfg = *publish;
    if (p->pcfg.batch < 1)
        p->pcfg.batch = 1;
    p->cap = 1024;
    p->slots = calloc(p->cap, sizeof *p->slots);
    p->jobs = calloc((size_t)p->pcfg.batch, sizeof *p->jobs);
    p->ok = calloc((size_t)p->pcfg.batch, sizeof *p->ok);
    if (!p->slots || !p->jobs || !p->ok) {
        sr_seterr(errbuf, errlen, SR_ENOMEM, "publisher: out of memory");
        goto err_free_arrays;
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, &ca);
    pthread_cond_init(&p->drained, &ca);
    pthread_condattr_destroy(&ca);
    int rc = pthread_create(&p->thread, NULL, pub_main, p);
    if (rc != 0) {
        sr_seterr(errbuf, errlen, SR_ENOMEM, "publisher: cannot start its thread: %s",
                  strerror(rc));
        goto err_destroy_sync;
    }
    return p;

err_destroy_sync:
    pthread_cond_destroy(&p->drained);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
err_free_arrays:
    free(p->ok);
    free(p->jobs);
    free(p->slots);
    free(p);
    return NULL;
}

void pub_free(struct publisher *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    drop_connection(p);
    for (size_t i = 0; i < p->cap; i++)
        if (p->slots[i]) {
            free(p->slots[i]->payload);
            free(p->slots[i]);
        }
    for (struct pub_entry *e = p->free_entries, *next; e; e = next) {
        next = e->next;
        free(e);
    }
    for (struct pub_payload *pl = p->free_payloads, *next; pl; pl = next) {
        next = pl->next_free;
        free(pl);
    }
    pthread_cond_destroy(&p->drained);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p->ok);
    free(p->jobs);
    free(p->slots);
    free(p);
}
