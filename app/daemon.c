/* app/daemon.c - `streamrec run` (app/daemon.h): the learner loop over a
 * Kafka source, batched scoring of dirty users and hand-off to the Redis
 * publisher. Everything here runs on the learner thread except
 * daemon_stop() and daemon_stats(). */
#include "app/daemon.h"
#include "app/serving.h"
#include "app/state.h"
#include "core/err.h"
#include "core/log.h"
#include "core/time.h"
#include "ingest/kafka_source.h"
#include "kernels/kn.h"
#include "kernels/topk.h"
#include "learner/mf.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Positive events wait here until the model must be current (before an
 * event is scored, before a scoring round, at the end), then are learned in
 * one mf_update_batch(), exactly as in replay (app/replay.c). */
#define DAEMON_LEARN_BATCH 256
#define MAX_POLL_MS        100  /* longest wait in ks_poll: how fast a stop is noticed */
#define DRAIN_S            3.0  /* shutdown: longest time spent publishing dirty users */
#define FLUSH_MS           3000 /* shutdown: publisher and DLQ flush timeouts */
#define MAX_WINDOWS        8
#define CKPT_RETRY_S       1.0     /* a failed checkpoint is tried again this soon */
#define CKPT_MAX_BEHIND    1000000 /* see uncheckpointed_max() */
#define MODEL_FIELDS       12
/* Share of publish.interval_ms a round may spend scoring dirty users (in
 * publish.batch chunks, oldest first): the rest is left to the learner
 * while it has a backlog; when the last poll found nothing, nearly all. */
#define SCORE_SHARE_BUSY 0.5
#define SCORE_SHARE_IDLE 0.9

/* A FIFO of ids with a membership flag per id (dirty users, dirty items). */
struct dirty {
    uint8_t *flag; /* [cap_flag] */
    uint32_t *q;   /* [cap_q], entries [head, n) are waiting */
    size_t head, n, cap_q, cap_flag;
};

struct online {
    uint64_t n, hits; /* cumulative, at the last round */
};

struct daemon {
    /* settings */
    struct sr_config cfg;
    size_t pop_w;                   /* features index of eval.pop_window */
    char win_name[MAX_WINDOWS][32]; /* features.pop_windows as written */
    size_t n_win;
    int64_t started_ms;

    /* stages */
    struct fr *fr;
    struct feat *feat;
    struct mf *mf;
    struct eval *eval; /* NULL when run.eval_sample is 0 */
    struct publisher *pub;
    struct ks *ks;

    struct srv *srv; /* the serving history and rules (app/serving.h) */
    /* Users waiting for a list: first lists go before updates, so a new
     * user is served in the next round even when many known users changed
     * (cold start is where freshness matters most). */
    struct dirty users_new, users, items;
    uint8_t *listed; /* [cap_listed] the user has had a list published */
    size_t cap_listed;

    /* pipeline state */
    struct sr_event pending[DAEMON_LEARN_BATCH];
    size_t n_pending;
    uint64_t decoded, dlq[DAEMON_DLQ_COUNT], dlq_total;
    uint64_t users_scored, fallback_lists, sim_lists, trending_lists;
    uint64_t applied_at_trending, applied_at_model, messages_at_model;
    double next_round, next_trending, next_sim;
    bool idle; /* the last poll found no message */
    struct online prev[EVAL_N_SYS];
    struct daemon_hr last[EVAL_N_SYS];
    char version[PUB_VERSION_MAX + 1];

    /* scratch */
    uint32_t *batch;       /* [publish.batch] users taken this round */
    struct kn_scored *top; /* [top_k] trending and sim lists */
    const char **names;    /* [top_k] */
    float *scores;         /* [top_k] */
    uint32_t *nb;          /* [top_k] covis neighbours */
    uint32_t recent[64];

    /* freshness: when each dirty user's oldest unpublished event arrived */
    double *dirty_since; /* [cap_since] monotonic seconds; 0 = nothing pending */
    uint32_t cap_since;
    struct metrics_hist fresh; /* samples since the last fill_snapshot */

    /* checkpoints (state.dir): NULL writer = none */
    struct state_writer *sw;
    uint64_t messages_base; /* messages applied before this process (checkpoint) */
    uint64_t applied_here;  /* messages through apply_message in this process */
    double created_s;       /* monotonic time at daemon_new */
    double restore_ms;      /* loading the checkpoint at start */
    uint64_t ckpt_messages; /* messages (total) at the last capture */
    double next_ckpt;       /* monotonic time of the next one by time */
    uint64_t ckpt_ok, ckpt_failed, ckpt_bytes;
    uint64_t ckpt_durable_messages; /* messages (total) in the newest durable one */
    double ckpt_capture_ms, ckpt_write_ms;
    int64_t ckpt_durable_ms; /* wall clock of the newest durable one, 0 none */
    bool ckpt_failing;       /* the last capture or write failed */
    bool paused;             /* consumption paused: too far past the last durable one */

    /* shared with other threads */
    atomic_int stop;
    pthread_mutex_t lock; /* guards snap and fresh_shared */
    struct daemon_stats snap;
    struct metrics_hist fresh_shared; /* samples not yet taken by the reporter */
};

static const char *const feat_dlq_names[] = {"bad_user", "bad_item", "bad_time", "bad_type"};

const char *daemon_dlq_name(int reason)
{
    if (reason > 0 && reason < FR_REASON_COUNT)
        return fr_reason_name((enum fr_reason)reason);
    if (reason >= FR_REASON_COUNT && reason < DAEMON_DLQ_COUNT)
        return feat_dlq_names[reason - FR_REASON_COUNT];
    return "?";
}

/* ---- small containers ------------------------------------------------- */

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 64;
    while (ncap < need)
        ncap *= 2;
    void *np = realloc(*p, ncap * elem);
    if (!np)
        return SR_ENOMEM;
    memset((char *)np + *cap * elem, 0, (ncap - *cap) * elem);
    *p = np;
    *cap = ncap;
    return 0;
}

static int dirty_mark(struct dirty *s, uint32_t id)
{
    int rc;
    if ((rc = grow((void **)&s->flag, &s->cap_flag, (size_t)id + 1, 1)) != 0)
        return rc;
    if (s->flag[id])
        return 0;
    if (s->n == s->cap_q && s->head > 0) { /* compact before growing */
        memmove(s->q, s->q + s->head, (s->n - s->head) * sizeof *s->q);
        s->n -= s->head;
        s->head = 0;
    }
    if ((rc = grow((void **)&s->q, &s->cap_q, s->n + 1, sizeof *s->q)) != 0)
        return rc;
    s->q[s->n++] = id;
    s->flag[id] = 1;
    return 0;
}

/* Takes up to max ids, oldest first, into out; returns how many. */
static size_t dirty_take(struct dirty *s, uint32_t *out, size_t max)
{
    size_t n = 0;
    while (n < max && s->head < s->n) {
        uint32_t id = s->q[s->head++];
        s->flag[id] = 0;
        out[n++] = id;
    }
    if (s->head == s->n)
        s->head = s->n = 0;
    return n;
}

static size_t dirty_count(const struct dirty *s)
{
    return s->n - s->head;
}

static void dirty_free(struct dirty *s)
{
    free(s->flag);
    free(s->q);
}

static size_t dirty_users(const struct daemon *d)
{
    return dirty_count(&d->users_new) + dirty_count(&d->users);
}

/* ---- lifecycle -------------------------------------------------------- */

static int parse_window_names(struct daemon *d)
{
    const char *p = d->cfg.features.pop_windows;
    d->n_win = 0;
    while (*p && d->n_win < MAX_WINDOWS) {
        size_t n = strcspn(p, ",");
        const char *s = p;
        size_t len = n;
        while (len && (*s == ' ' || *s == '\t'))
            s++, len--;
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        snprintf(d->win_name[d->n_win++], sizeof d->win_name[0], "%.*s", (int)len, s);
        p += n;
        if (*p == ',')
            p++;
    }
    return d->n_win == feat_pop_n_windows(d->feat) ? 0 : SR_ECONFIG;
}

/* ---- the stateful parts -------------------------------------------------- */

/* Feature stage, model, evaluation (run.eval_sample > 0) and serving
 * history, fresh from cfg. 0, or an sr_err with errbuf filled. */
static int parts_new(struct daemon *d, char *errbuf, size_t errlen)
{
    const struct sr_config *cfg = &d->cfg;
    int64_t pop_ms;
    if (!(d->feat = feat_new(&cfg->features, errbuf, errlen)) ||
        !(d->mf = mf_new(&cfg->learner, errbuf, errlen)))
        return SR_ECONFIG;
    if (sr_parse_duration_ms(cfg->eval.pop_window, &pop_ms) != 0 ||
        feat_pop_find(d->feat, pop_ms) < 0 || parse_window_names(d) != 0)
        return sr_seterr(errbuf, errlen, SR_ECONFIG, "eval.pop_window '%s' is not one of %s",
                         cfg->eval.pop_window, cfg->features.pop_windows);
    d->pop_w = (size_t)feat_pop_find(d->feat, pop_ms);
    if (cfg->run.eval_sample > 0) {
        struct sr_eval_cfg ecfg = cfg->eval;
        ecfg.sample = cfg->run.eval_sample;
        ecfg.warmup = 0;
        if (!(d->eval = eval_new(&ecfg, &cfg->serve, 0, d->pop_w, errbuf, errlen)))
            return SR_ENOMEM;
    }
    if (!(d->srv = srv_new(cfg, d->mf, d->pop_w, errbuf, errlen)))
        return SR_ENOMEM;
    return 0;
}

static void parts_free(struct daemon *d)
{
    srv_free(d->srv);
    eval_free(d->eval);
    mf_free(d->mf);
    feat_free(d->feat);
    d->srv = NULL;
    d->eval = NULL;
    d->mf = NULL;
    d->feat = NULL;
}

/* ---- checkpoints ------------------------------------------------------- */

static int learn_pending(struct daemon *d);
static void fill_snapshot(struct daemon *d, bool running, size_t n_cat);

static struct state_parts parts_of(struct daemon *d)
{
    return (struct state_parts){.feat = d->feat, .mf = d->mf, .srv = d->srv, .eval = d->eval};
}

/* The counters a checkpoint carries, as a JSON object (malloc'd text). */
static char *meta_json(struct daemon *d, uint64_t messages)
{
    json_t *o = json_object(), *dlq = json_object();
    struct feat_stats fs;
    feat_stats(d->feat, &fs);
    json_object_set_new(o, "source", json_string("kafka"));
    json_object_set_new(o, "model_version", json_string(d->version));
    json_object_set_new(o, "events_applied", json_integer((json_int_t)fs.admitted));
    json_object_set_new(o, "messages", json_integer((json_int_t)messages));
    json_object_set_new(o, "events_decoded", json_integer((json_int_t)d->decoded));
    json_object_set_new(o, "dead_letters", json_integer((json_int_t)d->dlq_total));
    for (int r = 1; r < DAEMON_DLQ_COUNT; r++)
        if (d->dlq[r])
            json_object_set_new(dlq, daemon_dlq_name(r), json_integer((json_int_t)d->dlq[r]));
    json_object_set_new(o, "dlq", dlq);
    char *text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    return text;
}

static uint64_t meta_u64(json_t *o, const char *key)
{
    json_int_t v = json_integer_value(json_object_get(o, key));
    return v > 0 ? (uint64_t)v : 0;
}

/* Loads the newest valid checkpoint of state.dir, if any, and puts the
 * source in exact mode at its offsets. */
static int restore(struct daemon *d, char *errbuf, size_t errlen)
{
    if (!(d->sw = state_writer_new(&d->cfg.state, errbuf, errlen)))
        return SR_EIO;
    d->next_ckpt = sr_mono_s() + (double)d->cfg.state.checkpoint_interval_s;
    char path[STATE_PATH_MAX];
    size_t pos = 0;
    struct ck_file *f;
    int rc;
    for (;;) {
        if (!(f = state_open_from(d->cfg.state.dir, &pos, path, sizeof path))) {
            SR_INFO(SR_MOD_APP,
                    "no valid checkpoint in %s: a fresh model, partitions from auto.offset.reset",
                    d->cfg.state.dir);
            return ks_exact(d->ks, NULL, 0);
        }
        struct state_parts p = parts_of(d);
        if ((rc = state_load(f, &d->cfg, &p, errbuf, errlen)) != SR_ECORRUPT)
            break;
        /* Checksums passed but the content does not hold: the parts took
         * part of it; start them afresh and try the next older file. */
        SR_WARN(SR_MOD_APP, "checkpoint skipped: %s: %s", path, errbuf);
        ck_close(f);
        parts_free(d);
        if ((rc = parts_new(d, errbuf, errlen)) != 0)
            return rc;
    }
    struct ks_offset *offs = NULL;
    size_t n_offs = 0, meta_len = 0;
    if (rc == 0 && (rc = state_offsets(f, &offs, &n_offs)) != 0)
        sr_seterr(errbuf, errlen, rc, "%s: offsets section: %s", path, sr_strerror(rc));
    const char *meta = rc == 0 ? state_meta(f, &meta_len) : NULL;
    json_t *m = meta ? json_loadb(meta, meta_len, 0, NULL) : NULL;
    if (m) {
        d->messages_base = meta_u64(m, "messages");
        d->decoded = meta_u64(m, "events_decoded");
        d->dlq_total = meta_u64(m, "dead_letters");
        json_t *dlq = json_object_get(m, "dlq");
        for (int r = 1; r < DAEMON_DLQ_COUNT; r++)
            d->dlq[r] = meta_u64(dlq, daemon_dlq_name(r));
        json_decref(m);
    }
    if (rc == 0) {
        struct feat_stats fs;
        feat_stats(d->feat, &fs);
        SR_INFO(SR_MOD_APP, "restored %s: %" PRIu64 " events applied, %zu partition offsets", path,
                fs.admitted, n_offs);
        d->ckpt_messages = d->ckpt_durable_messages = d->messages_base;
        d->ckpt_durable_ms = ck_created_ms(f);
        rc = ks_exact(d->ks, offs, n_offs);
    } else if (rc == SR_ECONFIG) {
        /* errbuf names the setting; the operator must choose. */
        char why[512];
        snprintf(why, sizeof why, "%s", errbuf);
        sr_seterr(errbuf, errlen, rc,
                  "%s: %s (restore the setting, or point state.dir elsewhere to start afresh)",
                  path, why);
    }
    free(offs);
    ck_close(f);
    return rc;
}

/* Takes in finished checkpoint writes: commits follow durable ones. */
static void checkpoint_results(struct daemon *d)
{
    struct state_result res;
    if (!d->sw || !state_writer_take(d->sw, &res))
        return;
    if (res.ok) {
        d->ckpt_ok++;
        d->ckpt_write_ms = res.write_s * 1000.0;
        d->ckpt_bytes = res.bytes;
        d->ckpt_durable_messages = res.messages;
        d->ckpt_durable_ms = sr_now_ms();
        if (ks_set_commit_offsets(d->ks, res.offs, res.n_offs) != 0)
            SR_WARN(SR_MOD_APP, "checkpoint %s: offsets not committed (out of memory)", res.path);
        SR_INFO(SR_MOD_APP,
                "checkpoint %s: %.1f MB, learner pause %.0f ms (the copy), written in %.0f ms",
                res.path, (double)res.bytes / 1048576.0, d->ckpt_capture_ms, res.write_s * 1000.0);
        d->ckpt_failing = false;
    } else {
        d->ckpt_failed++;
        d->ckpt_failing = true;
        d->next_ckpt = sr_mono_s() + CKPT_RETRY_S;
        SR_ERROR(SR_MOD_APP, "checkpoint not written: %s", res.error);
    }
    free(res.offs);
}

/* Captures the state (the copy, on this thread) and hands it to the writer.
 * SR_EAGAIN: not now (a write in progress or dead letters in flight). */
static int checkpoint(struct daemon *d)
{
    checkpoint_results(d);
    if (state_writer_busy(d->sw))
        return SR_EAGAIN;
    int rc = learn_pending(d);
    if (rc)
        return rc;
    if (ks_flush_dlq(d->ks, FLUSH_MS) != 0) {
        SR_WARN(SR_MOD_APP, "dead letters still in flight: checkpoint postponed");
        return SR_EAGAIN;
    }
    double t0 = sr_mono_s();
    uint64_t messages = d->messages_base + d->applied_here;
    size_t n_offs = ks_offsets(d->ks, NULL, 0);
    struct ks_offset *offs = calloc(n_offs ? n_offs : 1, sizeof *offs);
    char *meta = meta_json(d, messages);
    struct state_parts p = parts_of(d);
    char err[256];
    struct ck_writer *ck = NULL;
    rc = SR_ENOMEM;
    if (offs && meta) {
        ks_offsets(d->ks, offs, n_offs);
        ck = state_capture(&d->cfg, &p, meta, offs, n_offs, err, sizeof err);
    }
    if (ck && (rc = state_writer_submit(d->sw, ck, d->version, offs, n_offs, messages)) != 0)
        ck_writer_free(ck);
    d->next_ckpt = sr_mono_s() + (double)d->cfg.state.checkpoint_interval_s;
    if (rc == 0) {
        d->ckpt_messages = messages;
        d->ckpt_capture_ms = (sr_mono_s() - t0) * 1000.0;
    } else {
        d->ckpt_failed++;
        d->ckpt_failing = true;
        d->next_ckpt = sr_mono_s() + CKPT_RETRY_S;
        SR_ERROR(SR_MOD_APP, "checkpoint not taken: %s", sr_strerror(rc));
    }
    free(offs);
    free(meta);
    return rc == SR_ENOMEM ? 0 : rc; /* out of memory for a copy: the pipeline goes on */
}

/* A checkpoint when one is due by count or time. */
static int maybe_checkpoint(struct daemon *d, double now, uint64_t messages)
{
    const struct sr_state_cfg *c = &d->cfg.state;
    bool by_count =
        c->checkpoint_events > 0 && messages - d->ckpt_messages >= (uint64_t)c->checkpoint_events;
    bool by_time = c->checkpoint_interval_s > 0 && now >= d->next_ckpt;
    if (!by_count && !by_time)
        return 0;
    int rc = checkpoint(d);
    return rc == SR_EAGAIN ? 0 : rc;
}

/* While checkpoints fail, consumption goes on only until this many
 * messages are past the newest durable one (what a crash would re-read),
 * then pauses until a checkpoint succeeds again. */
static uint64_t uncheckpointed_max(const struct daemon *d)
{
    return d->cfg.state.checkpoint_events > 0 ? (uint64_t)d->cfg.state.checkpoint_events
                                              : CKPT_MAX_BEHIND;
}

/* Top of the loop: retries a failed checkpoint, pauses or resumes. */
static int checkpoint_guard(struct daemon *d, double now)
{
    checkpoint_results(d);
    if (!d->ckpt_failing && !d->paused)
        return 0;
    if (d->ckpt_failing && now >= d->next_ckpt) {
        int rc = checkpoint(d);
        if (rc != 0 && rc != SR_EAGAIN)
            return rc;
    }
    uint64_t behind = d->messages_base + d->applied_here - d->ckpt_durable_messages;
    bool pause = d->ckpt_failing && behind >= uncheckpointed_max(d);
    if (pause != d->paused && ks_pause(d->ks, pause) == 0) {
        d->paused = pause;
        if (pause)
            SR_ERROR(SR_MOD_APP,
                     "%" PRIu64 " messages past the last checkpoint and checkpoints to "
                     "state.dir %s failing: consuming paused until one succeeds",
                     behind, d->cfg.state.dir);
    }
    return 0;
}

/* Shutdown: one last checkpoint, written before the final commit. */
static int final_checkpoint(struct daemon *d)
{
    if (!d->sw)
        return 0;
    int rc = SR_EAGAIN;
    double end = sr_mono_s() + 30.0;
    while (rc == SR_EAGAIN && sr_mono_s() < end) {
        state_writer_wait(d->sw, 1.0);
        rc = checkpoint(d);
    }
    if (rc != 0) {
        SR_ERROR(SR_MOD_APP, "no checkpoint at shutdown: %s", sr_strerror(rc));
        return rc;
    }
    if (!state_writer_wait(d->sw, 60.0))
        SR_ERROR(SR_MOD_APP, "checkpoint still being written after 60 s");
    uint64_t failed = d->ckpt_failed;
    checkpoint_results(d);
    return d->ckpt_failed > failed ? SR_EIO : 0;
}

struct daemon *daemon_new(const struct sr_config *cfg, char *errbuf, size_t errlen)
{
    struct daemon *d = calloc(1, sizeof *d);
    if (!d) {
        sr_seterr(errbuf, errlen, SR_ENOMEM, "daemon: out of memory");
        return NULL;
    }
    metrics_hist_reset(&d->fresh);
    metrics_hist_reset(&d->fresh_shared);
    d->cfg = *cfg;
    d->started_ms = sr_now_ms();
    atomic_init(&d->stop, 0);
    pthread_mutex_init(&d->lock, NULL);
    snprintf(d->version, sizeof d->version, "%lld-0", (long long)(d->started_ms / 1000));

    /* One BLAS thread: the learner thread owns the model; the other core
     * serves librdkafka and the publisher. */
    kn_set_threads(1);
    size_t k = (size_t)cfg->serve.top_k;
    if (!(d->fr = fr_new(&cfg->ingest, errbuf, errlen)))
        goto err;
    if (parts_new(d, errbuf, errlen) != 0)
        goto err;
    d->batch = calloc((size_t)cfg->publish.batch, sizeof *d->batch);
    d->top = calloc(k, sizeof *d->top);
    d->names = calloc(k, sizeof *d->names);
    d->scores = calloc(k, sizeof *d->scores);
    d->nb = calloc(k, sizeof *d->nb);
    if (!d->batch || !d->top || !d->names || !d->scores || !d->nb) {
        sr_seterr(errbuf, errlen, SR_ENOMEM, "daemon: out of memory");
        goto err;
    }
    if (!(d->pub = pub_new(&cfg->redis, &cfg->publish, errbuf, errlen)))
        goto err;
    if (!(d->ks = ks_new(&cfg->source, cfg->kafka, cfg->n_kafka, errbuf, errlen)))
        goto err;
    d->created_s = sr_mono_s();
    if (cfg->state.dir[0] && restore(d, errbuf, errlen) != 0)
        goto err;
    d->restore_ms = (sr_mono_s() - d->created_s) * 1000.0;
    /* Counters restored from a checkpoint are the baseline of the first
     * metrics interval, not events of it. */
    fill_snapshot(d, false, 0);
    d->snap.started_ms = d->started_ms;
    snprintf(d->snap.version, sizeof d->snap.version, "%s", d->version);
    return d;

err:
    daemon_free(d);
    return NULL;
}

void daemon_free(struct daemon *d)
{
    if (!d)
        return;
    state_writer_free(d->sw);
    ks_free(d->ks);
    pub_free(d->pub);
    parts_free(d);
    fr_free(d->fr);
    free(d->dirty_since);
    dirty_free(&d->users_new);
    dirty_free(&d->users);
    free(d->listed);
    dirty_free(&d->items);
    free(d->batch);
    free(d->top);
    free(d->names);
    free(d->scores);
    free(d->nb);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

void daemon_stop(struct daemon *d)
{
    atomic_store(&d->stop, 1);
}

/* ---- applying events -------------------------------------------------- */

static int learn_pending(struct daemon *d)
{
    int rc = mf_update_batch(d->mf, d->pending, d->n_pending);
    d->n_pending = 0;
    return rc;
}

static int dead_letter(struct daemon *d, const struct ks_msg *m, int reason, const char *detail)
{
    d->dlq[reason]++;
    d->dlq_total++;
    if (d->dlq_total <= (uint64_t)d->cfg.ingest.max_bad_reported)
        SR_WARN(SR_MOD_APP, "dead letter: %s [%" PRId32 "] @%" PRId64 ": %s%s%s", m->topic,
                m->partition, m->offset, daemon_dlq_name(reason), detail[0] ? ": " : "", detail);
    return ks_dlq(d->ks, m, daemon_dlq_name(reason), detail);
}

/* One message through the pipeline. Returns 0, or a negative sr_err when
 * the pipeline cannot go on. */
/* Remembers when the user's oldest unpublished event arrived. */
static int mark_since(struct daemon *d, uint32_t user)
{
    if (user >= d->cap_since) {
        size_t cap = d->cap_since;
        int rc = grow((void **)&d->dirty_since, &cap, (size_t)user + 1, sizeof *d->dirty_since);
        if (rc)
            return rc;
        d->cap_since = (uint32_t)cap;
    }
    if (d->dirty_since[user] == 0)
        d->dirty_since[user] = sr_mono_s();
    return 0;
}

/* A list for the user is on its way to Redis: one freshness sample. */
static void published(struct daemon *d, uint32_t user)
{
    if (user < d->cap_since && d->dirty_since[user] > 0) {
        metrics_hist_add(&d->fresh, (sr_mono_s() - d->dirty_since[user]) * 1000.0);
        d->dirty_since[user] = 0;
    }
}

/* ev.user was recycled (SR_EV_RECYCLED_USER): the old owner's pending
 * events are learned, then every module forgets the id. A list of the old
 * owner still waiting in the dirty queue goes out under the new owner, who
 * is about to change it anyway. */
static int forget_user(struct daemon *d, uint32_t user)
{
    int rc = learn_pending(d);
    mf_forget_user(d->mf, user);
    if (d->eval)
        eval_forget_user(d->eval, user);
    srv_forget_user(d->srv, user);
    if (user < d->cap_listed)
        d->listed[user] = 0;
    if (user < d->cap_since)
        d->dirty_since[user] = 0;
    return rc;
}

static int apply_message(struct daemon *d, const struct ks_msg *m)
{
    struct sr_raw_event raw;
    struct fr_status st;
    struct sr_event ev;
    int rc = fr_decode(d->fr, m->value, m->len, &raw, &st);
    if (rc == SR_ENOMEM)
        return rc;
    if (rc != 0) {
        dead_letter(d, m, (int)st.reason, st.detail);
        ks_done(d->ks, m);
        return 0;
    }
    d->decoded++;
    rc = feat_admit(d->feat, &raw, &ev);
    if (rc < 0)
        return rc;
    if (rc > 0) {
        if (rc <= FEAT_SKIP_BAD_TYPE) { /* invalid, not mere stream hygiene */
            char detail[FR_DETAIL_MAX];
            switch (rc) {
            case FEAT_SKIP_BAD_USER:
                snprintf(detail, sizeof detail, "user_id of %u bytes (allowed 1..%lld)",
                         raw.user_id.len, (long long)d->cfg.features.max_id_len);
                break;
            case FEAT_SKIP_BAD_ITEM:
                snprintf(detail, sizeof detail, "item_id of %u bytes (allowed 1..%lld)",
                         raw.item_id.len, (long long)d->cfg.features.max_id_len);
                break;
            case FEAT_SKIP_BAD_TIME:
                snprintf(detail, sizeof detail, "ts %lld outside [%lld, %lld]",
                         (long long)raw.ts_ms, (long long)d->cfg.features.min_ts_ms,
                         (long long)d->cfg.features.max_ts_ms);
                break;
            default:
                snprintf(detail, sizeof detail, "event type %d unknown", (int)raw.type);
            }
            dead_letter(d, m, FR_REASON_COUNT + rc - FEAT_SKIP_BAD_USER, detail);
        }
        ks_done(d->ks, m);
        return 0;
    }
    if ((ev.flags & SR_EV_RECYCLED_USER) && (rc = forget_user(d, ev.user)) != 0)
        return rc;
    if ((rc = mf_reserve(d->mf, feat_n_users(d->feat), feat_n_items(d->feat))) != 0)
        return rc;
    if (d->eval && eval_will_score(d->eval, &ev) && (rc = learn_pending(d)) != 0)
        return rc;
    if (d->eval && (rc = eval_step(d->eval, &ev, d->feat, d->mf)) != 0)
        return rc;
    if ((rc = feat_learn(d->feat, &ev)) != 0)
        return rc;
    if (ev.weight > 0) {
        d->pending[d->n_pending++] = ev;
        if (d->n_pending == DAEMON_LEARN_BATCH && (rc = learn_pending(d)) != 0)
            return rc;
    }
    if (d->eval && (rc = eval_observe(d->eval, &ev)) != 0)
        return rc;
    bool listed = ev.user < d->cap_listed && d->listed[ev.user];
    if ((rc = srv_observe(d->srv, &ev)) != 0 ||
        (rc = dirty_mark(listed ? &d->users : &d->users_new, ev.user)) != 0 ||
        (rc = mark_since(d, ev.user)) != 0)
        return rc;
    if (ev.weight > 0) {
        /* The new item and the user's recent items were paired: their
         * neighbour lists changed. */
        size_t n =
            feat_user_recent(d->feat, ev.user, d->recent, sizeof d->recent / sizeof d->recent[0]);
        for (size_t i = 0; i < n; i++)
            if ((rc = dirty_mark(&d->items, d->recent[i])) != 0)
                return rc;
        if ((rc = dirty_mark(&d->items, ev.item)) != 0)
            return rc;
    }
    ks_done(d->ks, m);
    return 0;
}

/* ---- scoring and publishing ------------------------------------------- */

/* Hands a ranked list to the publisher; cat_index: items are catalogue
 * indexes (srv_cat_items), else item ids. */
static void offer(struct daemon *d, enum pub_kind kind, const char *id, const struct kn_scored *l,
                  size_t n, bool cat_index)
{
    const uint32_t *cat = srv_cat_items(d->srv);
    for (size_t i = 0; i < n; i++) {
        uint32_t item = cat_index ? cat[l[i].item] : l[i].item;
        d->names[i] = sr_intern_str(feat_items(d->feat), item, NULL);
        d->scores[i] = isfinite(l[i].score) ? l[i].score : 0.0f;
    }
    pub_offer(d->pub, kind, id, d->names, d->scores, n, d->version);
}

/* srv_emit_fn: one user's served list to the publisher. */
static void offer_user(void *ctx, uint32_t user, const struct kn_scored *top, size_t n,
                       bool fallback)
{
    struct daemon *d = ctx;
    offer(d, PUB_REC, sr_intern_str(feat_users(d->feat), user, NULL), top, n, true);
    published(d, user);
    /* Out of memory only costs the user its place: it stays "new". */
    if (grow((void **)&d->listed, &d->cap_listed, (size_t)user + 1, 1) == 0)
        d->listed[user] = 1;
    d->users_scored++;
    if (fallback)
        d->fallback_lists++;
}

/* Scores dirty users, longest waiting first, publish.batch at a time,
 * until none is left or the round has used its share of the interval (at
 * least one batch). The model does not change within a round. */
static int publish_users(struct daemon *d, size_t n_cat)
{
    double share = d->idle ? SCORE_SHARE_IDLE : SCORE_SHARE_BUSY;
    double end = sr_mono_s() + share * (double)d->cfg.publish.interval_ms / 1000.0;
    int rc = 0;
    do {
        size_t max = (size_t)d->cfg.publish.batch;
        size_t n = dirty_take(&d->users_new, d->batch, max);
        n += dirty_take(&d->users, d->batch + n, max - n);
        rc = srv_rank(d->srv, d->feat, d->mf, n_cat, d->batch, n, offer_user, d);
    } while (!rc && dirty_users(d) > 0 && sr_mono_s() < end);
    return rc;
}

static void publish_trending(struct daemon *d, size_t n_cat)
{
    for (size_t w = 0; w < d->n_win; w++) {
        size_t n = srv_pop_top(d->srv, d->feat, w, n_cat, d->top, (size_t)d->cfg.serve.top_k);
        offer(d, PUB_TRENDING, d->win_name[w], d->top, n, true);
        d->trending_lists++;
    }
}

static void publish_sims(struct daemon *d)
{
    size_t budget = (size_t)d->cfg.run.sim_batch, top_k = (size_t)d->cfg.serve.top_k;
    uint32_t item;
    while (budget-- > 0 && dirty_take(&d->items, &item, 1) == 1) {
        size_t n = feat_covis(d->feat, item, d->nb, d->scores, top_k);
        if (n == 0)
            continue;
        for (size_t i = 0; i < n; i++) {
            d->top[i].item = d->nb[i];
            d->top[i].score = d->scores[i];
        }
        offer(d, PUB_SIM, sr_intern_str(feat_items(d->feat), item, NULL), d->top, n, false);
        d->sim_lists++;
    }
}

/* Online HR@20 of the interval since the last round (exclude_seen). */
static void update_online(struct daemon *d)
{
    if (!d->eval)
        return;
    for (int s = 0; s < EVAL_N_SYS; s++) {
        struct eval_metrics m;
        eval_result(d->eval, EVAL_EXCLUDE_SEEN, (enum eval_sys)s, &m);
        uint64_t hits = (uint64_t)llround(m.hr20 * (double)m.n);
        if (m.n > d->prev[s].n) {
            uint64_t dn = m.n - d->prev[s].n, dh = hits - d->prev[s].hits;
            d->last[s].n = dn;
            d->last[s].hr20 = (double)dh / (double)dn;
        }
        d->prev[s].n = m.n;
        d->prev[s].hits = hits;
    }
}

static void fill_snapshot(struct daemon *d, bool running, size_t n_cat)
{
    struct daemon_stats s;
    struct ks_stats ks;
    struct feat_stats fs;
    memset(&s, 0, sizeof s);
    ks_stats(d->ks, &ks);
    feat_stats(d->feat, &fs);
    s.started_ms = d->started_ms;
    s.running = running;
    s.messages_in = ks.messages;
    s.bytes_in = ks.bytes;
    s.events_decoded = d->decoded;
    s.events_applied = fs.admitted;
    memcpy(s.dlq, d->dlq, sizeof s.dlq);
    s.dlq_total = d->dlq_total;
    s.dlq_delivered = ks.dlq_delivered;
    s.dlq_failed = ks.dlq_failed;
    memcpy(s.skipped, fs.skipped, sizeof s.skipped);
    s.commits = ks.commits;
    s.commit_errors = ks.commit_errors;
    s.consumer_errors = ks.consumer_errors;
    s.rebalances = ks.rebalances;
    struct ks_partition parts[DAEMON_MAX_PARTITIONS];
    s.n_partitions = ks_partitions(d->ks, parts, DAEMON_MAX_PARTITIONS);
    for (size_t i = 0; i < s.n_partitions; i++) {
        struct daemon_partition *p = &s.partitions[i];
        _Static_assert(sizeof p->topic == sizeof parts[i].topic, "topic buffers differ");
        memcpy(p->topic, parts[i].topic, sizeof p->topic);
        p->partition = parts[i].partition;
        p->position = parts[i].position;
        p->high = parts[i].high;
        p->lag = parts[i].lag;
        if (p->lag > 0)
            s.lag_total += p->lag;
    }
    s.users_scored = d->users_scored;
    s.fallback_lists = d->fallback_lists;
    s.sim_lists = d->sim_lists;
    s.trending_lists = d->trending_lists;
    s.dirty_users = dirty_users(d);
    s.served = d->last[EVAL_SERVED];
    s.popularity = d->last[EVAL_POPULARITY];
    s.covis = d->last[EVAL_COVIS];
    if (d->eval) {
        struct daemon_hr *all[] = {&s.served_all, &s.popularity_all, &s.covis_all};
        enum eval_sys sys[] = {EVAL_SERVED, EVAL_POPULARITY, EVAL_COVIS};
        for (int i = 0; i < 3; i++) {
            struct eval_metrics m;
            eval_result(d->eval, EVAL_EXCLUDE_SEEN, sys[i], &m);
            all[i]->n = m.n;
            all[i]->hr20 = m.hr20;
        }
    }
    s.users = feat_n_users(d->feat);
    s.items = feat_n_items(d->feat);
    s.catalogue = (uint32_t)n_cat;
    s.model_bytes = mf_bytes(d->mf);
    s.users_evicted = fs.users_evicted;
    s.cold_events = fs.cold_events;
    s.items_cold = fs.items_cold;
    checkpoint_results(d);
    s.checkpointing = d->sw != NULL;
    s.consumption_paused = d->paused;
    s.checkpoints = d->ckpt_ok;
    s.checkpoint_errors = d->ckpt_failed;
    s.checkpoint_capture_ms = d->ckpt_capture_ms;
    s.checkpoint_write_ms = d->ckpt_write_ms;
    s.checkpoint_bytes = d->ckpt_bytes;
    s.checkpoint_age_ms = d->ckpt_durable_ms ? sr_now_ms() - d->ckpt_durable_ms : -1;
    s.messages_since_checkpoint = d->messages_base + d->applied_here - d->ckpt_durable_messages;
    snprintf(s.version, sizeof s.version, "%s", d->version);
    pthread_mutex_lock(&d->lock);
    d->snap = s;
    metrics_hist_merge(&d->fresh_shared, &d->fresh);
    pthread_mutex_unlock(&d->lock);
    metrics_hist_reset(&d->fresh);
}

void daemon_take_freshness(struct daemon *d, struct metrics_hist *out)
{
    pthread_mutex_lock(&d->lock);
    metrics_hist_merge(out, &d->fresh_shared);
    metrics_hist_reset(&d->fresh_shared);
    pthread_mutex_unlock(&d->lock);
}

int daemon_send(struct daemon *d, const char *topic, const char *key, const void *value, size_t len)
{
    return ks_send(d->ks, topic, key, value, len);
}

/* The model hash: version, counters, offsets, online figures. */
static void publish_model(struct daemon *d, const struct daemon_stats *s)
{
    char vals[MODEL_FIELDS][PUB_VALUE_MAX + 1];
    const char *fields[MODEL_FIELDS], *values[MODEL_FIELDS];
    size_t n = 0;
#define FIELD(name, ...)                                                                           \
    do {                                                                                           \
        fields[n] = name;                                                                          \
        snprintf(vals[n], sizeof vals[n], __VA_ARGS__);                                            \
        values[n] = vals[n];                                                                       \
        n++;                                                                                       \
    } while (0)
    FIELD("version", "%s", s->version);
    FIELD("updated_at", "%lld", (long long)sr_now_ms());
    FIELD("started_at", "%lld", (long long)s->started_ms);
    FIELD("events_applied", "%" PRIu64, s->events_applied);
    FIELD("messages_in", "%" PRIu64, s->messages_in);
    FIELD("dead_letters", "%" PRIu64, s->dlq_total);
    FIELD("users", "%" PRIu32, s->users);
    FIELD("items", "%" PRIu32, s->items);
    FIELD("hr20_served", "%.4f", s->served_all.hr20);
    FIELD("hr20_popularity", "%.4f", s->popularity_all.hr20);
    FIELD("hr20_covis", "%.4f", s->covis_all.hr20);
#undef FIELD
    /* offsets: "topic/partition:next,..." (truncated to the field size) */
    size_t used = 0;
    char *o = vals[n];
    o[0] = '\0';
    for (size_t i = 0; i < s->n_partitions && used < PUB_VALUE_MAX; i++) {
        int w = snprintf(o + used, PUB_VALUE_MAX + 1 - used, "%s%s/%d:%lld", i ? "," : "",
                         s->partitions[i].topic, (int)s->partitions[i].partition,
                         (long long)s->partitions[i].position);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    fields[n] = "offsets";
    values[n] = o;
    n++;
    pub_model_set(d->pub, fields, values, n);
}

/* One publish round on the learner thread. force: trending, sim and model
 * regardless of their intervals (shutdown). */
static int round_publish(struct daemon *d, bool force)
{
    int rc = learn_pending(d);
    if (rc)
        return rc;
    struct feat_stats fs;
    feat_stats(d->feat, &fs);
    snprintf(d->version, sizeof d->version, "%lld-%" PRIu64, (long long)(d->started_ms / 1000),
             fs.admitted);
    size_t n_cat = 0;
    if ((rc = srv_catalogue(d->srv, d->feat, d->mf, &n_cat)) != 0)
        return rc;
    double now = sr_mono_s();
    if (n_cat > 0) {
        if ((rc = publish_users(d, n_cat)) != 0)
            return rc;
        if ((force || now >= d->next_trending) && fs.admitted != d->applied_at_trending) {
            publish_trending(d, n_cat);
            d->applied_at_trending = fs.admitted;
            d->next_trending = now + (double)d->cfg.run.trending_interval_ms / 1000.0;
        }
    }
    if (force || now >= d->next_sim) {
        publish_sims(d);
        d->next_sim = now + (double)d->cfg.run.sim_interval_ms / 1000.0;
    }
    update_online(d);
    fill_snapshot(d, !force, n_cat);
    struct ks_stats ks;
    ks_stats(d->ks, &ks);
    if (force || fs.admitted != d->applied_at_model || ks.messages != d->messages_at_model) {
        struct daemon_stats s;
        daemon_stats(d, &s);
        publish_model(d, &s);
        d->applied_at_model = fs.admitted;
        d->messages_at_model = ks.messages;
    }
    return 0;
}

/* ---- the loop --------------------------------------------------------- */

int daemon_run(struct daemon *d)
{
    int rc = 0;
    double interval =
        (double)(d->cfg.publish.interval_ms > 0 ? d->cfg.publish.interval_ms : 1) / 1000.0;
    d->next_round = sr_mono_s() + interval;
    pthread_mutex_lock(&d->lock);
    d->snap.running = true;
    pthread_mutex_unlock(&d->lock);
    SR_INFO(SR_MOD_APP, "consuming %s (dead letters to %s), model version %s", d->cfg.source.topics,
            d->cfg.source.dlq_topic, d->version);

    while (!atomic_load(&d->stop)) {
        double now = sr_mono_s();
        /* At the bound, a write that failed meanwhile must be seen now, not
         * at the next publish round: the guard takes in its result. */
        if (d->sw &&
            (d->ckpt_failing || d->paused ||
             d->messages_base + d->applied_here - d->ckpt_durable_messages >=
                 uncheckpointed_max(d)) &&
            (rc = checkpoint_guard(d, now)) != 0)
            break;
        if (now >= d->next_round) {
            if ((rc = round_publish(d, false)) != 0)
                break;
            d->next_round = now + interval;
        }
        int wait = (int)((d->next_round - now) * 1000.0);
        wait = wait < 0 ? 0 : wait > MAX_POLL_MS ? MAX_POLL_MS : wait;
        struct ks_msg m;
        int prc = ks_poll(d->ks, wait, &m);
        d->idle = prc == SR_EAGAIN;
        if (prc == SR_EAGAIN) {
            /* Idle: what was applied since the last capture is still due
             * by time (else it, and the commit that follows, wait for the
             * next message). */
            uint64_t msgs = d->messages_base + d->applied_here;
            if (d->sw && msgs != d->ckpt_messages && (rc = maybe_checkpoint(d, now, msgs)) != 0)
                break;
            continue;
        }
        if (prc < 0) {
            rc = prc;
            break;
        }
        if ((rc = apply_message(d, &m)) != 0) {
            SR_ERROR(SR_MOD_APP, "cannot apply %s [%" PRId32 "] @%" PRId64 ": %s", m.topic,
                     m.partition, m.offset, sr_strerror(rc));
            break;
        }
        if (++d->applied_here == 1)
            SR_INFO(SR_MOD_APP,
                    "first message applied %.0f ms after start (checkpoint restore %.0f ms)",
                    (sr_mono_s() - d->created_s) * 1000.0, d->restore_ms);
        if (d->sw && (rc = maybe_checkpoint(d, now, d->messages_base + d->applied_here)) != 0)
            break;
        ks_commit(d->ks, false, 1000);
    }

    /* Shutdown: nothing more is consumed. Learn, publish what is dirty,
     * flush Redis writes and dead letters, commit. */
    SR_INFO(SR_MOD_APP, "stopping: publishing %zu dirty users", dirty_users(d));
    double deadline = sr_mono_s() + DRAIN_S;
    int frc = 0;
    do {
        frc = round_publish(d, true);
    } while (!frc && dirty_users(d) > 0 && sr_mono_s() < deadline);
    if (!rc)
        rc = frc;
    frc = final_checkpoint(d);
    if (!rc)
        rc = frc;
    if (pub_flush(d->pub, FLUSH_MS) != 0)
        SR_WARN(SR_MOD_APP, "Redis writes still pending after %d ms; dropped", FLUSH_MS);
    int crc = ks_close(d->ks, FLUSH_MS);
    if (!rc)
        rc = crc;
    fill_snapshot(d, false, d->snap.catalogue);
    return rc;
}

void daemon_stats(struct daemon *d, struct daemon_stats *out)
{
    pthread_mutex_lock(&d->lock);
    *out = d->snap;
    pthread_mutex_unlock(&d->lock);
    out->uptime_s = (double)(sr_now_ms() - out->started_ms) / 1000.0;
    if (d->pub)
        pub_stats(d->pub, &out->publisher);
}
