/* tests/unit/test_ckpt_learner.c - checkpoints of learner/mf and
 * learner/eval: a model saved half-way, written to a file, loaded into a
 * fresh model and taught the second half equals, bit for bit, the model
 * that never stopped; shape mismatches and damaged sections are refused;
 * the prequential evaluation continues exactly after a load. */
#include "core/ckpt.h"
#include "core/config.h"
#include "core/err.h"
#include "core/event.h"
#include "features/feat.h"
#include "features/history.h"
#include "learner/eval.h"
#include "learner/mf.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- helpers ------------------------------------------------------------- */

static uint64_t t_rng_state;

static uint32_t t_rand(void)
{
    /* xorshift64*: the test's own stream, unrelated to the model's RNG */
    t_rng_state ^= t_rng_state >> 12;
    t_rng_state ^= t_rng_state << 25;
    t_rng_state ^= t_rng_state >> 27;
    return (uint32_t)((t_rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

/* A temporary directory for checkpoint files, removed by t_rmdir. */
static void t_mkdir(char *dir, size_t len)
{
    snprintf(dir, len, "/tmp/sr_ckl_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void t_rmdir(const char *dir)
{
    ck_assert_int_ge(ck_prune(dir, 0), 0);
    ck_assert_int_eq(rmdir(dir), 0);
}

static struct sr_learner_cfg t_cfg(int64_t k)
{
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    cfg.learner.k = k;
    cfg.learner.adagrad = true;
    cfg.learner.item_bias = true;
    cfg.learner.seed = 42;
    return cfg.learner;
}

static struct mf *t_new(int64_t k)
{
    struct sr_learner_cfg lc = t_cfg(k);
    char err[256] = "";
    struct mf *m = mf_new(&lc, err, sizeof err);
    ck_assert_msg(m != NULL, "mf_new: %s", err);
    return m;
}

/* A stream where users and items keep appearing: event e draws its user
 * from the first 10 + e/20 ids and its item (skewed to low ids) from the
 * first 5 + e/40; weights from {0, 0.5, 1, 3}. */
static struct sr_event *t_stream(size_t n, uint64_t seed)
{
    static const float weights[] = {1.0f, 1.0f, 0.0f, 0.5f, 3.0f};
    struct sr_event *evs = calloc(n, sizeof *evs);
    ck_assert_ptr_nonnull(evs);
    t_rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t e = 0; e < n; e++) {
        uint32_t n_users = 10 + (uint32_t)(e / 20), n_items = 5 + (uint32_t)(e / 40);
        uint32_t a = t_rand() % n_items, b = t_rand() % n_items;
        evs[e].ts_ms = (int64_t)e;
        evs[e].user = t_rand() % n_users;
        evs[e].item = a < b ? a : b;
        evs[e].weight = weights[t_rand() % 5];
    }
    return evs;
}

/* Teaches m events [from, to) in runs of 37, reserving rows as ids appear;
 * alternate runs go through mf_update_batch and mf_update. */
static void t_feed(struct mf *m, const struct sr_event *evs, size_t from, size_t to)
{
    for (size_t s = from; s < to; s += 37) {
        size_t end = s + 37 < to ? s + 37 : to;
        uint32_t nu = mf_n_users(m), ni = mf_n_items(m);
        for (size_t e = s; e < end; e++) {
            if (evs[e].user >= nu)
                nu = evs[e].user + 1;
            if (evs[e].item >= ni)
                ni = evs[e].item + 1;
        }
        ck_assert_int_eq(mf_reserve(m, nu, ni), 0);
        if ((s / 37) % 2)
            ck_assert_int_eq(mf_update_batch(m, evs + s, end - s), 0);
        else
            for (size_t e = s; e < end; e++)
                ck_assert_int_eq(mf_update(m, &evs[e]), 0);
    }
}

/* Rows, item biases and counters through the public API, bit for bit. */
static bool t_same_rows(const struct mf *a, const struct mf *b)
{
    if (mf_k(a) != mf_k(b) || mf_n_users(a) != mf_n_users(b) || mf_n_items(a) != mf_n_items(b) ||
        mf_updates(a) != mf_updates(b))
        return false;
    size_t bytes = mf_k(a) * sizeof(float);
    for (uint32_t u = 0; u < mf_n_users(a); u++)
        if (memcmp(mf_user_vec(a, u), mf_user_vec(b, u), bytes) != 0)
            return false;
    for (uint32_t i = 0; i < mf_n_items(a); i++) {
        float ba = mf_item_bias(a, i), bb = mf_item_bias(b, i);
        if (memcmp(mf_item_vec(a, i), mf_item_vec(b, i), bytes) != 0 ||
            memcmp(&ba, &bb, sizeof ba) != 0)
            return false;
    }
    return true;
}

static uint64_t t_seq;

/* Writes w as a new checkpoint in dir; its path goes to path. */
static void t_write(const struct ck_writer *w, const char *dir, char *path, size_t len)
{
    char name[96], err[512] = "";
    ck_name(name, sizeof name, ++t_seq, 1700000000000ll);
    ck_assert_msg(ck_write_file(w, dir, name, "test", 1700000000000ll, err, sizeof err) == 0,
                  "ck_write_file: %s", err);
    snprintf(path, len, "%s/%s", dir, name);
}

/* mf_save(m) written to a file in dir and opened again. */
static struct ck_file *t_save_open(const struct mf *m, const char *dir)
{
    struct ck_writer *w = ck_writer_new();
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(mf_save(m, w), 0);
    char path[512], err[512] = "";
    t_write(w, dir, path, sizeof path);
    ck_writer_free(w);
    struct ck_file *f = ck_open(path, err, sizeof err);
    ck_assert_msg(f != NULL, "ck_open: %s", err);
    return f;
}

/* Every mf section of two models' checkpoints, byte for byte: covers what
 * the public API does not show (accumulators, RNG, ring). */
static bool t_same_sections(const struct mf *a, const struct mf *b, const char *dir)
{
    static const uint32_t ids[] = {CK_SEC_MF_STATE, CK_SEC_MF_USERS, CK_SEC_MF_ITEMS,
                                   CK_SEC_MF_OPT};
    struct ck_file *fa = t_save_open(a, dir), *fb = t_save_open(b, dir);
    bool same = true;
    for (size_t s = 0; s < sizeof ids / sizeof ids[0]; s++) {
        struct ck_rd ra, rb;
        ck_assert_int_eq(ck_find(fa, ids[s], &ra), 0);
        ck_assert_int_eq(ck_find(fb, ids[s], &rb), 0);
        if (ck_rd_left(&ra) != ck_rd_left(&rb) || memcmp(ra.p, rb.p, ck_rd_left(&ra)) != 0)
            same = false;
    }
    ck_close(fa);
    ck_close(fb);
    return same;
}

/* A fresh model of width k loaded from f; asserts the load succeeds. */
static struct mf *t_load(int64_t k, const struct ck_file *f)
{
    struct mf *m = t_new(k);
    char err[512] = "";
    int rc = mf_load(m, f, err, sizeof err);
    ck_assert_msg(rc == 0, "mf_load: %s (%s)", sr_strerror(rc), err);
    return m;
}

/* ---- (a) save half-way, load, continue: bit-identical --------------------- */

/* Loop 0: k=32 over 80k events (the 32768-slot negative ring has wrapped by
 * the save); loop 1: k=12 (rows padded to 16 floats) over 6000 events. */
START_TEST(test_mf_resume_identical)
{
    const int64_t k = _i == 0 ? 32 : 12;
    const size_t n = _i == 0 ? 80000 : 6000, half = n / 2;
    char dir[64];
    t_mkdir(dir, sizeof dir);
    struct sr_event *evs = t_stream(n, 7 + (uint64_t)_i);

    struct mf *orig = t_new(k);
    t_feed(orig, evs, 0, half);
    uint32_t users_at_save = mf_n_users(orig), items_at_save = mf_n_items(orig);
    struct ck_file *f = t_save_open(orig, dir);
    struct mf *loaded = t_load(k, f);
    ck_close(f); /* the model must not borrow from the file */
    ck_assert(t_same_rows(orig, loaded));

    t_feed(orig, evs, half, n);
    t_feed(loaded, evs, half, n);
    /* The second half brought new users and items and learned something. */
    ck_assert_uint_gt(mf_n_users(orig), users_at_save);
    ck_assert_uint_gt(mf_n_items(orig), items_at_save);
    ck_assert_uint_gt(mf_updates(orig), (uint64_t)half / 2);
    ck_assert(t_same_rows(orig, loaded));
    ck_assert(t_same_sections(orig, loaded, dir));

    /* Control: the comparisons can fail. One extra event on the loaded
     * model shows up in both. */
    struct sr_event extra = {.user = 0, .item = 1, .weight = 1.0f};
    ck_assert_int_eq(mf_update(loaded, &extra), 0);
    ck_assert(!t_same_rows(orig, loaded));
    ck_assert(!t_same_sections(orig, loaded, dir));
    /* A model that skipped the load and learned only the second half differs. */
    struct mf *fresh = t_new(k);
    t_feed(fresh, evs, half, n);
    ck_assert(!t_same_rows(orig, fresh));

    mf_free(fresh);
    mf_free(loaded);
    mf_free(orig);
    free(evs);
    t_rmdir(dir);
}
END_TEST

/* A model that learned nothing saves and loads (empty sections). */
START_TEST(test_mf_empty)
{
    char dir[64];
    t_mkdir(dir, sizeof dir);
    struct mf *orig = t_new(16);
    struct ck_file *f = t_save_open(orig, dir);
    struct mf *loaded = t_load(16, f);
    ck_close(f);
    ck_assert_uint_eq(mf_n_users(loaded), 0);
    struct sr_event *evs = t_stream(500, 3);
    t_feed(orig, evs, 0, 500);
    t_feed(loaded, evs, 0, 500);
    ck_assert(t_same_rows(orig, loaded));
    mf_free(loaded);
    mf_free(orig);
    free(evs);
    t_rmdir(dir);
}
END_TEST

/* ---- (b) refusals ------------------------------------------------------- */

START_TEST(test_mf_k_mismatch)
{
    char dir[64];
    t_mkdir(dir, sizeof dir);
    struct sr_event *evs = t_stream(1000, 5);
    struct mf *orig = t_new(12);
    t_feed(orig, evs, 0, 1000);
    struct ck_file *f = t_save_open(orig, dir);
    /* k=16 has the same 16-float rows as k=12: the guard is on k itself. */
    const int64_t other[] = {16, 32};
    for (size_t t = 0; t < 2; t++) {
        struct mf *m = t_new(other[t]);
        char err[512] = "";
        ck_assert_int_eq(mf_load(m, f, err, sizeof err), SR_ECONFIG);
        ck_assert_msg(strstr(err, "mf_state") && strstr(err, "k=12"), "message: %s", err);
        ck_assert_uint_eq(mf_n_users(m), 0);
        mf_free(m);
    }
    ck_close(f);
    mf_free(orig);
    free(evs);
    t_rmdir(dir);
}
END_TEST

enum t_damage { T_NONE = 0, T_SHORTEN, T_DROP, T_APPEND };

/* Copies every section of src into a new checkpoint in dir, damaging
 * section id as told (cut the last `bytes`, leave it out, or append
 * `bytes` zero bytes), and opens it. */
static struct ck_file *t_copy_damaged(const struct ck_file *src, const char *dir, uint32_t id,
                                      enum t_damage how, size_t bytes)
{
    struct ck_writer *w = ck_writer_new();
    ck_assert_ptr_nonnull(w);
    for (size_t s = 0; s < ck_n_sections(src); s++) {
        struct ck_section_info info;
        ck_section_at(src, s, &info);
        if (info.id == id && how == T_DROP)
            continue;
        struct ck_rd r;
        ck_assert_int_eq(ck_find(src, info.id, &r), 0);
        struct ck_buf *b = ck_section(w, info.id, info.name);
        ck_assert_ptr_nonnull(b);
        ck_put(b, r.p, ck_rd_left(&r));
        if (info.id == id && how == T_SHORTEN) {
            ck_assert_uint_ge(b->len, bytes);
            b->len -= bytes;
        }
        if (info.id == id && how == T_APPEND)
            for (size_t i = 0; i < bytes; i++)
                ck_put_u8(b, 0);
    }
    char path[512], err[512] = "";
    t_write(w, dir, path, sizeof path);
    ck_writer_free(w);
    struct ck_file *f = ck_open(path, err, sizeof err);
    ck_assert_msg(f != NULL, "ck_open: %s", err);
    return f;
}

START_TEST(test_mf_damaged_sections)
{
    static const struct {
        uint32_t id;
        enum t_damage how;
        size_t bytes;
        const char *name; /* the message must name the section */
    } cases[] = {
        {CK_SEC_MF_ITEMS, T_SHORTEN, 4, "mf_items"},      /* part of a row */
        {CK_SEC_MF_ITEMS, T_SHORTEN, 64, "mf_items"},     /* a whole k=16 row */
        {CK_SEC_MF_USERS, T_SHORTEN, 4, "mf_users"},      /* part of a row */
        {CK_SEC_MF_OPT, T_SHORTEN, 8, "mf_opt"},          /* an item's accumulator and bias */
        {CK_SEC_MF_STATE, T_SHORTEN, 4, "mf_state"},      /* a ring slot */
        {CK_SEC_MF_STATE, T_APPEND, 1, "mf_state"},       /* leftover byte */
        {CK_SEC_MF_USERS, T_APPEND, 64, "mf_users"},      /* an extra row */
        {CK_SEC_MF_OPT, T_APPEND, 4, "mf_opt"},           /* leftover accumulator */
        {CK_SEC_MF_OPT, T_DROP, 0, "mf_opt"},             /* missing */
        {CK_SEC_MF_STATE, T_DROP, 0, "mf_state"},         /* missing */
        {CK_SEC_MF_ITEMS, T_SHORTEN, 100000, "mf_items"}, /* down to nothing */
    };
    char dir[64];
    t_mkdir(dir, sizeof dir);
    struct sr_event *evs = t_stream(3000, 11);
    struct mf *orig = t_new(16);
    t_feed(orig, evs, 0, 3000);
    struct ck_file *good = t_save_open(orig, dir);

    /* Control: an undamaged copy loads and equals the original. */
    struct ck_file *copy = t_copy_damaged(good, dir, 0, T_NONE, 0);
    struct mf *m = t_load(16, copy);
    ck_assert(t_same_rows(orig, m));
    mf_free(m);
    ck_close(copy);

    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t bytes = cases[c].bytes;
        if (cases[c].how == T_SHORTEN && bytes == 100000) {
            struct ck_rd r;
            ck_assert_int_eq(ck_find(good, cases[c].id, &r), 0);
            bytes = ck_rd_left(&r);
        }
        struct ck_file *bad = t_copy_damaged(good, dir, cases[c].id, cases[c].how, bytes);
        m = t_new(16);
        char err[512] = "";
        ck_assert_msg(mf_load(m, bad, err, sizeof err) == SR_ECORRUPT, "case %zu not refused", c);
        ck_assert_msg(strstr(err, cases[c].name) != NULL, "case %zu: message '%s' lacks %s", c, err,
                      cases[c].name);
        /* Still a fresh model: a good load afterwards works. */
        ck_assert_uint_eq(mf_n_users(m), 0);
        ck_assert_uint_eq(mf_updates(m), 0);
        ck_assert_int_eq(mf_load(m, good, err, sizeof err), 0);
        ck_assert(t_same_rows(orig, m));
        mf_free(m);
        /* And a half-loaded model is freed cleanly (ASan checks this). */
        m = t_new(16);
        ck_assert_int_eq(mf_load(m, bad, err, sizeof err), SR_ECORRUPT);
        mf_free(m);
        ck_close(bad);
    }
    ck_close(good);
    mf_free(orig);
    free(evs);
    t_rmdir(dir);
}
END_TEST

/* ---- (c) the prequential evaluation -------------------------------------- */

/* One event of a synthetic shop: ids as strings, a purchase now and then. */
struct t_raw {
    char user[16], item[16];
    struct sr_raw_event raw;
};

static void t_raw_event(struct t_raw *t, size_t e)
{
    static const enum sr_event_type types[] = {SR_VIEW,  SR_VIEW,        SR_CLICK,   SR_VIEW,
                                               SR_CLICK, SR_ADD_TO_CART, SR_PURCHASE};
    uint32_t n_users = 8 + (uint32_t)(e / 25), n_items = 6 + (uint32_t)(e / 30);
    uint32_t a = t_rand() % n_items, b = t_rand() % n_items;
    snprintf(t->user, sizeof t->user, "u%u", t_rand() % n_users);
    snprintf(t->item, sizeof t->item, "i%u", a < b ? a : b);
    memset(&t->raw, 0, sizeof t->raw);
    t->raw.user_id = (struct sr_str){t->user, (uint32_t)strlen(t->user)};
    t->raw.item_id = (struct sr_str){t->item, (uint32_t)strlen(t->item)};
    t->raw.type = types[t_rand() % 7];
    t->raw.ts_ms = 1600000000000ll + (int64_t)e * 7000;
}

static struct eval *t_eval_new(const struct sr_config *cfg, uint64_t total, size_t pop_w)
{
    char err[256] = "";
    struct eval *e = eval_new(&cfg->eval, &cfg->serve, total, pop_w, err, sizeof err);
    ck_assert_msg(e != NULL, "eval_new: %s", err);
    return e;
}

/* Events [from, to) through the replay order: every evaluator in evs[]
 * scores the event before anything learns it, then it is learned and
 * observed. */
static void t_eval_feed(struct feat *f, struct mf *m, struct eval **ev, size_t n_ev, size_t from,
                        size_t to)
{
    for (size_t e = from; e < to; e++) {
        struct t_raw t;
        t_raw_event(&t, e);
        struct sr_event x;
        if (feat_admit(f, &t.raw, &x) != FEAT_OK)
            continue;
        ck_assert_int_eq(mf_reserve(m, feat_n_users(f), feat_n_items(f)), 0);
        for (size_t i = 0; i < n_ev; i++)
            ck_assert_int_eq(eval_step(ev[i], &x, f, m), 0);
        ck_assert_int_eq(feat_learn(f, &x), 0);
        ck_assert_int_eq(mf_update(m, &x), 0);
        for (size_t i = 0; i < n_ev; i++)
            ck_assert_int_eq(eval_observe(ev[i], &x), 0);
    }
}

/* eval_result of every mode and system, bit for bit, and the counter. */
static bool t_same_eval(const struct eval *a, const struct eval *b)
{
    if (eval_events(a) != eval_events(b))
        return false;
    for (int mode = 0; mode < EVAL_N_MODES; mode++)
        for (int s = 0; s < EVAL_N_SYS; s++) {
            struct eval_metrics ma, mb;
            memset(&ma, 0, sizeof ma);
            memset(&mb, 0, sizeof mb);
            eval_result(a, (enum eval_mode)mode, (enum eval_sys)s, &ma);
            eval_result(b, (enum eval_mode)mode, (enum eval_sys)s, &mb);
            if (ma.n != mb.n || memcmp(&ma.hr10, &mb.hr10, sizeof ma.hr10) ||
                memcmp(&ma.hr20, &mb.hr20, sizeof ma.hr20) ||
                memcmp(&ma.mrr20, &mb.mrr20, sizeof ma.mrr20) ||
                memcmp(&ma.ndcg20, &mb.ndcg20, sizeof ma.ndcg20))
                return false;
        }
    return true;
}

START_TEST(test_eval_resume_identical)
{
    const size_t n = 4000, half = n / 2;
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    cfg.learner.k = 8;
    cfg.eval.warmup = 0.1;
    cfg.eval.sample = 0.7; /* sampled by event index: the counter must survive */
    char err[512] = "";
    struct feat *f = feat_new(&cfg.features, err, sizeof err);
    ck_assert_msg(f != NULL, "feat_new: %s", err);
    struct mf *m = mf_new(&cfg.learner, err, sizeof err);
    ck_assert_ptr_nonnull(m);
    int pop_w = feat_pop_find(f, 24 * 3600 * 1000LL);
    ck_assert_int_ge(pop_w, 0);
    char dir[64];
    t_mkdir(dir, sizeof dir);

    struct eval *orig = t_eval_new(&cfg, n, (size_t)pop_w);
    t_rng_state = 99;
    t_eval_feed(f, m, &orig, 1, 0, half);
    struct eval_metrics at_save;
    eval_result(orig, EVAL_EXCLUDE_SEEN, EVAL_MF, &at_save);
    ck_assert_uint_gt(at_save.n, 100);

    struct ck_writer *w = ck_writer_new();
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(eval_save(orig, w), 0);
    char path[512];
    t_write(w, dir, path, sizeof path);
    ck_writer_free(w);
    struct ck_file *file = ck_open(path, err, sizeof err);
    ck_assert_msg(file != NULL, "ck_open: %s", err);
    struct eval *loaded = t_eval_new(&cfg, n, (size_t)pop_w);
    int rc = eval_load(loaded, file, err, sizeof err);
    ck_assert_msg(rc == 0, "eval_load: %s", err);
    ck_assert(t_same_eval(orig, loaded));
    /* A second load into a used evaluator is refused. */
    ck_assert_int_eq(eval_load(loaded, file, err, sizeof err), SR_EINVAL);
    ck_close(file);

    /* Control: an evaluator that starts fresh at the second half. */
    struct eval *fresh = t_eval_new(&cfg, n, (size_t)pop_w);
    struct eval *all[] = {orig, loaded, fresh};
    t_eval_feed(f, m, all, 3, half, n);

    struct eval_metrics after;
    eval_result(orig, EVAL_EXCLUDE_SEEN, EVAL_MF, &after);
    ck_assert_uint_gt(after.n, at_save.n + 100);
    ck_assert(t_same_eval(orig, loaded));
    ck_assert(!t_same_eval(orig, fresh));

    eval_free(fresh);
    eval_free(loaded);
    eval_free(orig);
    mf_free(m);
    feat_free(f);
    t_rmdir(dir);
}
END_TEST

START_TEST(test_eval_refusals)
{
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    char err[512] = "", dir[64], path[512];
    t_mkdir(dir, sizeof dir);
    struct eval *e = t_eval_new(&cfg, 0, 0);
    struct sr_event x = {.user = 3, .item = 5, .type = SR_PURCHASE, .weight = 1.0f};
    ck_assert_int_eq(eval_observe(e, &x), 0);
    struct ck_writer *w = ck_writer_new();
    ck_assert_int_eq(eval_save(e, w), 0);
    t_write(w, dir, path, sizeof path);
    ck_writer_free(w);
    struct ck_file *good = ck_open(path, err, sizeof err);
    ck_assert_ptr_nonnull(good);

    /* Missing, cut by one byte, one byte too many: refused, freed cleanly. */
    const enum t_damage how[] = {T_DROP, T_SHORTEN, T_APPEND};
    for (size_t t = 0; t < 3; t++) {
        struct ck_file *bad = t_copy_damaged(good, dir, CK_SEC_EVAL, how[t], 1);
        struct eval *l = t_eval_new(&cfg, 0, 0);
        ck_assert_int_eq(eval_load(l, bad, err, sizeof err), SR_ECORRUPT);
        ck_assert_msg(strstr(err, "eval") != NULL, "message: %s", err);
        eval_free(l);
        ck_close(bad);
    }
    struct eval *l = t_eval_new(&cfg, 0, 0);
    ck_assert_int_eq(eval_load(l, good, err, sizeof err), 0);
    eval_free(l);
    ck_close(good);
    eval_free(e);
    t_rmdir(dir);
}
END_TEST

/* hist_save/hist_load (the evaluation's history) round trip. */
START_TEST(test_hist_round_trip)
{
    struct hist *h = hist_new();
    ck_assert_ptr_nonnull(h);
    t_rng_state = 5;
    for (int e = 0; e < 3000; e++) {
        struct sr_event x = {.user = t_rand() % 60,
                             .item = t_rand() % 90,
                             .type = (uint8_t)(t_rand() % 5 == 0 ? SR_PURCHASE : SR_VIEW)};
        ck_assert_int_eq(hist_add(h, &x), 0);
    }
    struct ck_buf b = {0};
    ck_assert_int_eq(hist_save(h, &b), 0);
    struct hist *g = hist_new();
    struct ck_rd r = {b.data, b.data + b.len, false};
    ck_assert_int_eq(hist_load(g, &r), 0);
    ck_assert(ck_rd_ok(&r));
    for (uint32_t u = 0; u < 62; u++) {
        uint32_t na, nb;
        const uint32_t *a = hist_items(h, u, &na), *c = hist_items(g, u, &nb);
        ck_assert_uint_eq(na, nb);
        ck_assert(na == 0 || memcmp(a, c, na * sizeof *a) == 0);
        a = hist_bought(h, u, &na);
        c = hist_bought(g, u, &nb);
        ck_assert_uint_eq(na, nb);
        ck_assert(na == 0 || memcmp(a, c, na * sizeof *a) == 0);
        for (uint32_t i = 0; i < 92; i++)
            ck_assert(hist_seen(h, u, i) == hist_seen(g, u, i));
    }
    /* Truncated: refused, and the half-loaded history frees cleanly. */
    struct hist *t = hist_new();
    struct ck_rd rt = {b.data, b.data + b.len / 2, false};
    ck_assert_int_ne(hist_load(t, &rt), 0);
    hist_free(t);
    hist_free(g);
    hist_free(h);
    free(b.data);
}
END_TEST

Suite *ckpt_learner_suite(void)
{
    Suite *s = suite_create("ckpt_learner");
    TCase *tc = tcase_create("ckpt_learner");
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_mf_resume_identical, 0, 2);
    tcase_add_test(tc, test_mf_empty);
    tcase_add_test(tc, test_mf_k_mismatch);
    tcase_add_test(tc, test_mf_damaged_sections);
    tcase_add_test(tc, test_eval_resume_identical);
    tcase_add_test(tc, test_eval_refusals);
    tcase_add_test(tc, test_hist_round_trip);
    suite_add_tcase(s, tc);
    return s;
}
