/* app/replay.c - `streamrec replay`: the pipeline over dataset files. */
#include "app/replay.h"
#include "app/serving.h"
#include "app/state.h"
#include "core/err.h"
#include "core/log.h"
#include "core/time.h"
#include "features/feat.h"
#include "ingest/source.h"
#include "kernels/kn.h"
#include "learner/eval.h"
#include "learner/mf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Positive events wait here until the model must be current (before an
 * event is scored, and at the end), then are learned in one
 * mf_update_batch(), which prefetches rows across events and gives the
 * same model as one mf_update() per event. */
#define REPLAY_BATCH 256

/* Everything one run owns; freed together. */
struct run {
    struct src *src;
    struct feat *feat;
    struct mf *mf;
    struct eval *eval;
    struct srv *srv; /* NULL unless recs are dumped */
    struct sr_event pending[REPLAY_BATCH];
    size_t n_pending;
};

static int learn_pending(struct run *r)
{
    int rc = mf_update_batch(r->mf, r->pending, r->n_pending);
    r->n_pending = 0;
    return rc;
}

/* ev.user was recycled (SR_EV_RECYCLED_USER): the old owner's pending
 * events are learned, then every module forgets the id. */
static int forget_user(struct run *r, uint32_t user)
{
    int rc = learn_pending(r);
    mf_forget_user(r->mf, user);
    if (r->eval)
        eval_forget_user(r->eval, user);
    if (r->srv)
        srv_forget_user(r->srv, user);
    return rc;
}

/* The run's stateful parts, fresh: feature stage, model, serving history
 * (with_srv), evaluation (eval.enabled; total: admitted events, for the
 * warm-up). 0, or an sr_err with errbuf filled. */
static int parts_new(struct run *r, const struct sr_config *cfg, bool with_srv, uint64_t total,
                     char *errbuf, size_t errlen)
{
    int64_t pop_ms;
    if (!(r->feat = feat_new(&cfg->features, errbuf, errlen)) ||
        !(r->mf = mf_new(&cfg->learner, errbuf, errlen)))
        return SR_ECONFIG;
    if (sr_parse_duration_ms(cfg->eval.pop_window, &pop_ms) != 0 ||
        feat_pop_find(r->feat, pop_ms) < 0)
        return sr_seterr(errbuf, errlen, SR_ECONFIG, "eval.pop_window '%s' is not one of %s",
                         cfg->eval.pop_window, cfg->features.pop_windows);
    size_t pop_w = (size_t)feat_pop_find(r->feat, pop_ms);
    if (with_srv && !(r->srv = srv_new(cfg, r->mf, pop_w, errbuf, errlen)))
        return SR_ENOMEM;
    if (cfg->eval.enabled &&
        !(r->eval = eval_new(&cfg->eval, &cfg->serve, total, pop_w, errbuf, errlen)))
        return SR_ENOMEM;
    return 0;
}

static void parts_free(struct run *r)
{
    eval_free(r->eval);
    srv_free(r->srv);
    mf_free(r->mf);
    feat_free(r->feat);
    r->eval = NULL;
    r->srv = NULL;
    r->mf = NULL;
    r->feat = NULL;
}

/* Creates state.dir when missing; *seq = the sequence number after its
 * newest checkpoint. */
static int replay_state_dir(const struct sr_config *cfg, uint64_t *seq, char *errbuf, size_t errlen)
{
    struct state_writer *w = state_writer_new(&cfg->state, errbuf, errlen);
    if (!w)
        return SR_EIO;
    state_writer_free(w);
    char **names;
    size_t n;
    if (ck_list(cfg->state.dir, &names, &n) == 0) {
        if (n > 0)
            *seq = (uint64_t)ck_name_seq(names[0]) + 1;
        ck_names_free(names, n);
    }
    return 0;
}

/* One checkpoint of the run after `records` input records, written now
 * (replay is offline: no writer thread). */
static int replay_checkpoint(struct run *r, const struct sr_config *cfg, uint64_t records,
                             uint64_t *seq, char *errbuf, size_t errlen)
{
    int rc = learn_pending(r);
    if (rc)
        return rc;
    struct feat_stats fs;
    feat_stats(r->feat, &fs);
    char version[CK_VERSION_MAX + 1], meta[256], name[128];
    snprintf(version, sizeof version, "replay-%llu", (unsigned long long)fs.admitted);
    snprintf(meta, sizeof meta,
             "{\"source\":\"file\",\"records\":%llu,\"events_applied\":%llu,"
             "\"model_version\":\"%s\"}",
             (unsigned long long)records, (unsigned long long)fs.admitted, version);
    struct state_parts p = {.feat = r->feat, .mf = r->mf, .srv = r->srv, .eval = r->eval};
    struct ck_writer *w = state_capture(cfg, &p, meta, NULL, 0, errbuf, errlen);
    if (!w)
        return SR_ENOMEM;
    int64_t now = sr_now_ms();
    ck_name(name, sizeof name, (*seq)++, now);
    rc = ck_write_file(w, cfg->state.dir, name, version, now, errbuf, errlen);
    ck_writer_free(w);
    if (rc == 0 && ck_prune(cfg->state.dir, (size_t)cfg->state.keep) < 0)
        SR_WARN(SR_MOD_APP, "checkpoints in %s not pruned", cfg->state.dir);
    return rc;
}

/* --resume: loads the newest valid checkpoint into r; *records gets the
 * records it covers (0 and a note when there is none). */
static int replay_resume(struct run *r, const struct sr_config *cfg, bool with_srv, uint64_t total,
                         uint64_t *records, char *errbuf, size_t errlen)
{
    char path[STATE_PATH_MAX];
    size_t pos = 0;
    *records = 0;
    for (;;) {
        struct ck_file *f = state_open_from(cfg->state.dir, &pos, path, sizeof path);
        if (!f) {
            SR_INFO(SR_MOD_APP, "no valid checkpoint in %s: replaying from the start",
                    cfg->state.dir);
            return 0;
        }
        struct state_parts p = {.feat = r->feat, .mf = r->mf, .srv = r->srv, .eval = r->eval};
        int rc = state_load(f, cfg, &p, errbuf, errlen);
        size_t len = 0;
        const char *meta = rc == 0 ? state_meta(f, &len) : NULL;
        json_t *m = meta ? json_loadb(meta, len, 0, NULL) : NULL;
        json_t *rec = json_object_get(m, "records");
        if (rc == 0 && !json_is_integer(rec))
            rc = sr_seterr(errbuf, errlen, SR_ECORRUPT, "not a replay checkpoint (no records)");
        else if (rc == 0)
            *records = (uint64_t)json_integer_value(rec);
        json_decref(m);
        ck_close(f);
        if (rc == 0) {
            SR_INFO(SR_MOD_APP, "resuming from %s at record %llu", path,
                    (unsigned long long)*records);
            return 0;
        }
        if (rc != SR_ECORRUPT)
            return rc; /* another shape (SR_ECONFIG), out of memory: not for an older one */
        /* Checksums passed but the content does not hold: the parts took
         * part of it; start them afresh and try the next older file. */
        SR_WARN(SR_MOD_APP, "checkpoint skipped: %s: %s", path, errbuf);
        *records = 0;
        parts_free(r);
        if ((rc = parts_new(r, cfg, with_srv, total, errbuf, errlen)) != 0)
            return rc;
    }
}

static void run_free(struct run *r)
{
    parts_free(r);
    src_close(r->src);
}

uint64_t replay_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return 0;
    unsigned long size = 0, resident = 0;
    int n = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    return n == 2 ? (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE) : 0;
}

json_t *replay_config_json(const struct sr_config *cfg)
{
    json_t *root = json_object();
    size_t n;
    const struct sr_cfg_key *keys = sr_config_keys(&n);
    for (size_t i = 0; i < n; i++) {
        const struct sr_cfg_key *k = &keys[i];
        if (k->secret)
            continue;
        json_t *sec = json_object_get(root, k->section);
        if (!sec) {
            sec = json_object();
            json_object_set_new(root, k->section, sec);
        }
        const void *field = (const char *)cfg + k->offset;
        json_t *v;
        char buf[SR_CFG_STR_MAX + 16];
        switch (k->type) {
        case SR_CFG_INT:
            v = json_integer(*(const int64_t *)field);
            break;
        case SR_CFG_DOUBLE:
            v = json_real(*(const double *)field);
            break;
        case SR_CFG_BOOL:
            v = json_boolean(*(const bool *)field);
            break;
        default:
            sr_config_format(cfg, k, buf, sizeof buf);
            v = json_string(buf);
        }
        json_object_set_new(sec, k->key, v);
    }
    return root;
}

/* Counts the events the feature stage would admit, for the warm-up
 * fraction: a first pass over the same input with a throwaway stage. */
static int count_admitted(const struct sr_config *cfg, const struct replay_opts *o, uint64_t *out,
                          char *errbuf, size_t errlen)
{
    struct src *s = src_open(o->paths, o->n_paths, cfg, errbuf, errlen);
    if (!s)
        return SR_EIO;
    struct feat *f = feat_new(&cfg->features, errbuf, errlen);
    if (!f) {
        src_close(s);
        return SR_ENOMEM;
    }
    struct sr_raw_event raw;
    struct sr_event ev;
    uint64_t n = 0, records = 0;
    int rc;
    while ((rc = src_next(s, &raw)) == 0 && (!o->limit || ++records <= o->limit))
        if (feat_admit(f, &raw, &ev) == FEAT_OK)
            n++;
    feat_free(f);
    src_close(s);
    *out = n;
    return 0;
}

static void progress(uint64_t records, double t0, bool final)
{
    double dt = sr_mono_s() - t0;
    fprintf(stderr, "\r  replay: %llu events, %.0f events/s%s", (unsigned long long)records,
            dt > 0 ? (double)records / dt : 0.0, final ? "\n" : "");
    fflush(stderr);
}

static json_t *metrics_json(const struct eval *e, enum eval_mode mode)
{
    json_t *o = json_object();
    for (int s = 0; s < EVAL_N_SYS; s++) {
        struct eval_metrics m;
        eval_result(e, mode, (enum eval_sys)s, &m);
        json_object_set_new(o, eval_sys_name((enum eval_sys)s),
                            json_pack("{s:f,s:f,s:f,s:f,s:I}", "hr@10", m.hr10, "hr@20", m.hr20,
                                      "mrr@20", m.mrr20, "ndcg@20", m.ndcg20, "n",
                                      (json_int_t)m.n));
    }
    return o;
}

/* srv_emit_fn: one served list into a JSON object (ctx). */
struct dump_ctx {
    const struct srv *srv;
    const struct feat *feat;
    json_t *list; /* set by the call */
};

static void dump_list(void *ctx, uint32_t user, const struct kn_scored *top, size_t n,
                      bool fallback)
{
    (void)user;
    struct dump_ctx *c = ctx;
    const uint32_t *cat = srv_cat_items(c->srv);
    json_t *items = json_array(), *scores = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(
            items, json_string(sr_intern_str(feat_items(c->feat), cat[top[i].item], NULL)));
        json_array_append_new(scores, json_real(isfinite(top[i].score) ? top[i].score : 0.0));
    }
    c->list = json_pack("{s:o,s:o,s:b}", "items", items, "scores", scores, "fallback", fallback);
}

/* The served list of each user of the comma-separated list, as the daemon
 * ranks it with the model as it is now. NULL when out of memory. */
static json_t *dump_recs(struct run *r, const char *users)
{
    size_t n_cat;
    if (srv_catalogue(r->srv, r->feat, r->mf, &n_cat) != 0)
        return NULL;
    json_t *out = json_object();
    const char *p = users;
    while (*p) {
        size_t len = strcspn(p, ",");
        char id[256];
        snprintf(id, sizeof id, "%.*s", (int)(len < sizeof id ? len : sizeof id - 1), p);
        uint32_t user;
        struct dump_ctx c = {r->srv, r->feat, NULL};
        if (len > 0 && sr_intern_find(feat_users(r->feat), id, strlen(id), &user) == 0 &&
            srv_rank(r->srv, r->feat, r->mf, n_cat, &user, 1, dump_list, &c) == 0 && c.list)
            json_object_set_new(out, id, c.list);
        else if (len > 0)
            json_object_set_new(out, id, json_null());
        p += len;
        if (*p == ',')
            p++;
    }
    return out;
}

static json_t *dataset_name(const struct replay_opts *o)
{
    char name[1024] = "";
    size_t used = 0;
    for (size_t i = 0; i < o->n_paths && used < sizeof name - 1; i++) {
        const char *base = strrchr(o->paths[i], '/');
        base = base ? base + 1 : o->paths[i];
        int w = snprintf(name + used, sizeof name - used, "%s%s", i ? "+" : "", base);
        if (w < 0)
            break;
        used += (size_t)w;
    }
    return json_string(name);
}

json_t *replay_run(const struct sr_config *cfg, const struct replay_opts *o, char *errbuf,
                   size_t errlen)
{
    struct run r = {0};
    json_t *report = NULL;
    uint64_t total = 0;

    /* One BLAS thread: the learner thread owns the model, and the figures
     * must not depend on the machine's core count. */
    kn_set_threads(1);
    if (cfg->eval.enabled && cfg->eval.warmup > 0 &&
        count_admitted(cfg, o, &total, errbuf, errlen) != 0)
        return NULL;
    if (!(r.src = src_open(o->paths, o->n_paths, cfg, errbuf, errlen)))
        goto err;
    bool ckpt = o->checkpoint_every > 0 || o->resume;
    if (ckpt && !cfg->state.dir[0]) {
        sr_seterr(errbuf, errlen, SR_ECONFIG,
                  "--checkpoint-every and --resume need a directory: state.dir");
        goto err;
    }
    /* Checkpoints carry the serving history, so a daemon can start from one. */
    bool with_srv = o->dump_recs || ckpt;
    if (parts_new(&r, cfg, with_srv, total, errbuf, errlen) != 0)
        goto err;

    uint64_t skip = 0, seq = 1;
    if (ckpt && replay_state_dir(cfg, &seq, errbuf, errlen) != 0)
        goto err;
    if (o->resume && replay_resume(&r, cfg, with_srv, total, &skip, errbuf, errlen) != 0)
        goto err;
    double t0 = sr_mono_s();
    struct sr_raw_event raw;
    struct sr_event ev;
    uint64_t records = 0;
    int rc;
    while ((rc = src_next(r.src, &raw)) == 0) {
        if (o->limit && records >= o->limit)
            break;
        records++;
        if (records <= skip)
            continue; /* in the checkpoint already */
        if (o->checkpoint_every && records > skip + 1 && (records - 1) % o->checkpoint_every == 0 &&
            (rc = replay_checkpoint(&r, cfg, records - 1, &seq, errbuf, errlen)) != 0)
            goto err;
        if (o->progress && (records & 0xffff) == 0)
            progress(records, t0, false);
        rc = feat_admit(r.feat, &raw, &ev);
        if (rc > 0)
            continue; /* skipped: counted by reason in the feature stage */
        if (rc < 0 || ((ev.flags & SR_EV_RECYCLED_USER) && (rc = forget_user(&r, ev.user)) != 0) ||
            (rc = mf_reserve(r.mf, feat_n_users(r.feat), feat_n_items(r.feat))) != 0)
            break;
        if (r.eval && eval_will_score(r.eval, &ev) && (rc = learn_pending(&r)) != 0)
            break;
        if (r.eval && (rc = eval_step(r.eval, &ev, r.feat, r.mf)) != 0)
            break;
        if ((rc = feat_learn(r.feat, &ev)) != 0)
            break;
        if (ev.weight > 0) {
            r.pending[r.n_pending++] = ev;
            if (r.n_pending == REPLAY_BATCH && (rc = learn_pending(&r)) != 0)
                break;
        }
        if (r.eval && (rc = eval_observe(r.eval, &ev)) != 0)
            break;
        if (r.srv && (rc = srv_observe(r.srv, &ev)) != 0)
            break;
    }
    if (rc == SR_EEOF || rc == 0) {
        int lrc = learn_pending(&r);
        if (lrc)
            rc = lrc;
    }
    if ((rc == SR_EEOF || rc == 0) && ckpt && records > skip &&
        (rc = replay_checkpoint(&r, cfg, records, &seq, errbuf, errlen)) != 0)
        goto err;
    if (rc != SR_EEOF && rc != 0) {
        const char *why = rc == SR_EIO ? src_error(r.src) : sr_strerror(rc);
        sr_seterr(errbuf, errlen, rc, "replay stopped after %llu events: %s",
                  (unsigned long long)records, why);
        goto err;
    }
    double seconds = sr_mono_s() - t0;
    if (o->progress)
        progress(records, t0, true);

    struct src_stats ss;
    struct feat_stats fs;
    src_stats(r.src, &ss);
    feat_stats(r.feat, &fs);
    /* Records cut off by --limit were read but never offered. */
    uint64_t events = records + ss.bad;
    json_t *skipped = json_object();
    for (int b = 0; b < SRC_BAD_COUNT; b++)
        if (ss.bad_by_reason[b])
            json_object_set_new(skipped, src_bad_name((enum src_bad)b),
                                json_integer((json_int_t)ss.bad_by_reason[b]));
    for (int s = 1; s < FEAT_SKIP_COUNT; s++)
        if (fs.skipped[s])
            json_object_set_new(skipped, feat_skip_name((enum feat_skip)s),
                                json_integer((json_int_t)fs.skipped[s]));

    uint32_t users = feat_n_users(r.feat), items = feat_n_items(r.feat);
    uint64_t scored = 0;
    if (r.eval) {
        struct eval_metrics m;
        eval_result(r.eval, EVAL_INCLUDE_SEEN, EVAL_MF, &m);
        scored = m.n;
    }
    report = json_pack(
        "{s:o,s:o,s:I,s:I,s:o,s:I,s:f,s:f,s:o}", "dataset", dataset_name(o), "files", json_array(),
        "events", (json_int_t)events, "applied", (json_int_t)fs.admitted, "skipped", skipped,
        "scored", (json_int_t)scored, "seconds", seconds, "events_per_s",
        seconds > 0 ? (double)events / seconds : 0.0, "config", replay_config_json(cfg));
    for (size_t i = 0; i < o->n_paths; i++)
        json_array_append_new(json_object_get(report, "files"), json_string(o->paths[i]));
    if (o->resume)
        json_object_set_new(report, "resumed_at_record", json_integer((json_int_t)skip));
    if (r.eval) {
        json_object_set_new(report, "exclude_seen", metrics_json(r.eval, EVAL_EXCLUDE_SEEN));
        json_object_set_new(report, "include_seen", metrics_json(r.eval, EVAL_INCLUDE_SEEN));
    }
    json_object_set_new(report, "stream",
                        json_pack("{s:I,s:I,s:I,s:I,s:I}", "positives",
                                  (json_int_t)mf_updates(r.mf), "out_of_order",
                                  (json_int_t)fs.out_of_order, "sessions", (json_int_t)fs.sessions,
                                  "bots", (json_int_t)fs.bots, "bytes_read", (json_int_t)ss.bytes));
    json_object_set_new(
        report, "caps",
        json_pack("{s:I,s:I,s:I,s:I}", "users_evicted", (json_int_t)fs.users_evicted,
                  "item_cap_rejected", (json_int_t)fs.skipped[FEAT_SKIP_ITEM_CAP], "items_cold",
                  (json_int_t)fs.items_cold, "cold_events", (json_int_t)fs.cold_events));
    json_object_set_new(
        report, "memory",
        json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "users", (json_int_t)users, "items",
                  (json_int_t)items, "rss_bytes", (json_int_t)replay_rss_bytes(), "bytes_per_user",
                  (json_int_t)mf_bytes_per_user(r.mf), "bytes_per_item",
                  (json_int_t)mf_bytes_per_item(r.mf), "model_bytes", (json_int_t)mf_bytes(r.mf),
                  "feature_bytes", (json_int_t)feat_bytes(r.feat), "eval_bytes",
                  (json_int_t)(r.eval ? eval_bytes(r.eval) : 0)));
    if (r.srv && o->dump_recs) { /* srv also exists for checkpoints */
        json_t *recs = dump_recs(&r, o->dump_recs);
        if (!recs) {
            json_decref(report);
            sr_seterr(errbuf, errlen, SR_ENOMEM, "replay: out of memory serving the users");
            goto err;
        }
        json_object_set_new(report, "recs", recs);
    }
    run_free(&r);
    return report;

err:
    run_free(&r);
    return NULL;
}

void replay_print_table(const json_t *report, FILE *f)
{
    fprintf(f, "dataset  %s\n", json_string_value(json_object_get(report, "dataset")));
    fprintf(f, "events   %lld read, %lld applied, %lld scored, %.2f s, %.0f events/s\n",
            (long long)json_integer_value(json_object_get(report, "events")),
            (long long)json_integer_value(json_object_get(report, "applied")),
            (long long)json_integer_value(json_object_get(report, "scored")),
            json_real_value(json_object_get(report, "seconds")),
            json_real_value(json_object_get(report, "events_per_s")));
    const char *reason;
    json_t *v;
    json_t *skipped = json_object_get(report, "skipped");
    if (json_object_size(skipped)) {
        fprintf(f, "skipped ");
        json_object_foreach(skipped, reason, v)
        {
            fprintf(f, " %s=%lld", reason, (long long)json_integer_value(v));
        }
        fprintf(f, "\n");
    }
    json_t *mem = json_object_get(report, "memory");
    fprintf(f, "model    %lld users, %lld items, %lld B/user, %lld B/item, RSS %.1f MiB\n",
            (long long)json_integer_value(json_object_get(mem, "users")),
            (long long)json_integer_value(json_object_get(mem, "items")),
            (long long)json_integer_value(json_object_get(mem, "bytes_per_user")),
            (long long)json_integer_value(json_object_get(mem, "bytes_per_item")),
            (double)json_integer_value(json_object_get(mem, "rss_bytes")) / 1048576.0);
    static const char *const modes[] = {"exclude_seen", "include_seen"};
    for (int m = 0; m < 2; m++) {
        json_t *mode = json_object_get(report, modes[m]);
        if (!mode)
            continue;
        fprintf(f, "\n%-16s %8s %8s %8s %8s %8s\n", modes[m], "HR@10", "HR@20", "MRR@20", "NDCG@20",
                "scored");
        const char *sys;
        json_object_foreach(mode, sys, v)
        {
            fprintf(f, "  %-14s %8.4f %8.4f %8.4f %8.4f %8lld\n", sys,
                    json_real_value(json_object_get(v, "hr@10")),
                    json_real_value(json_object_get(v, "hr@20")),
                    json_real_value(json_object_get(v, "mrr@20")),
                    json_real_value(json_object_get(v, "ndcg@20")),
                    (long long)json_integer_value(json_object_get(v, "n")));
        }
    }
}
