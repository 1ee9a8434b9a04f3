/* tests/unit/test_memcaps.c - memory caps: learner.max_users (eviction by
 * dense-id reuse), features.user_ttl, learner.max_items and
 * features.item_min_events. Eviction must keep the user count bounded,
 * approximate LRU (active users survive a flood of new ones), leave no
 * state of an evicted user anywhere (a returning user starts like a new
 * one: initial MF row, empty histories), stay deterministic, and survive a
 * checkpoint bit for bit. The intern table's replace must keep every other
 * id reachable and reuse string storage. */
#include "app/replay.h"
#include "core/rng.h"
#include "core/ckpt.h"
#include "core/config.h"
#include "core/err.h"
#include "core/event.h"
#include "core/intern.h"
#include "features/feat.h"
#include "features/history.h"
#include "learner/mf.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0     1600000000000LL
#define MIN_MS 60000LL
#define HOUR   (60 * MIN_MS)

#define REQUIRE(cond, ...)                                                                         \
    do {                                                                                           \
        if (!(cond))                                                                               \
            ck_abort_msg(__VA_ARGS__);                                                             \
    } while (0)

/* splitmix64 (core/rng.h): a counter stepped by the golden ratio, mixed */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    *s += SR_GOLDEN64;
    return sr_mix64(x);
}

/* Features with no filtering that could drop a test's events. */
static struct sr_features_cfg plain_cfg(void)
{
    struct sr_config c;
    sr_config_defaults(&c);
    struct sr_features_cfg f = c.features;
    f.dedup_window_ms = 0;
    f.bot_max_events = 0;
    return f;
}

static struct feat *make_feat(const struct sr_features_cfg *cfg)
{
    char err[256] = "";
    struct feat *f = feat_new(cfg, err, sizeof err);
    ck_assert_msg(f != NULL, "feat_new: %s", err);
    return f;
}

/* feat_admit of (user, item, CLICK, ts); the result, *ev filled. */
static int admit(struct feat *f, const char *user, const char *item, int64_t ts,
                 struct sr_event *ev)
{
    struct sr_raw_event r;
    memset(&r, 0, sizeof r);
    r.user_id = (struct sr_str){user, (uint32_t)strlen(user)};
    r.item_id = (struct sr_str){item, (uint32_t)strlen(item)};
    r.type = SR_CLICK;
    r.ts_ms = ts;
    memset(ev, 0xff, sizeof *ev); /* flags must be written, not inherited */
    return feat_admit(f, &r, ev);
}

/* admit + feat_learn, which must both succeed. */
static struct sr_event apply(struct feat *f, const char *user, const char *item, int64_t ts)
{
    struct sr_event ev;
    int rc = admit(f, user, item, ts, &ev);
    REQUIRE(rc == FEAT_OK, "%s/%s: admit %d", user, item, rc);
    REQUIRE(feat_learn(f, &ev) == 0, "%s/%s: learn", user, item);
    return ev;
}

static uint32_t user_id(const struct feat *f, const char *s)
{
    uint32_t id = UINT32_MAX;
    sr_intern_find(feat_users(f), s, strlen(s), &id);
    return id;
}

/* ---- intern replace ------------------------------------------------------- */

/* Random replaces against a reference array: every id keeps answering with
 * its current string and every old string is gone (so deletion never cuts
 * a probe chain), and equal-length replaces do not grow memory. */
START_TEST(test_intern_replace)
{
    enum { N = 3000, ROUNDS = 60000 };
    struct sr_intern *in = sr_intern_new(0);
    ck_assert_ptr_nonnull(in);
    static char cur[N][40];
    uint64_t s = 5;
    for (uint32_t i = 0; i < N; i++) {
        snprintf(cur[i], sizeof cur[i], "s%u-%llu-pad", i,
                 (unsigned long long)(rng_next(&s) % 1000));
        uint32_t id;
        bool added;
        ck_assert_int_eq(sr_intern_add(in, cur[i], strlen(cur[i]), &id, &added), 0);
        ck_assert_uint_eq(id, i);
    }
    size_t bytes0 = 0;
    for (uint32_t r = 0; r < ROUNDS; r++) {
        uint32_t id = (uint32_t)(rng_next(&s) % N);
        char old[40];
        memcpy(old, cur[id], sizeof old);
        /* Lengths vary in the first half, then stay equal to the old one. */
        if (r < ROUNDS / 2)
            snprintf(cur[id], sizeof cur[id], "r%u-%.*s", r, 5 + (int)(rng_next(&s) % 20),
                     "abcdefghijklmnopqrstuvwxyz");
        else /* unique (r has at most 5 digits, old at least 8 bytes), same length */
            snprintf(cur[id], sizeof cur[id], "q%0*u", (int)strlen(old) - 1, r);
        REQUIRE(sr_intern_replace(in, id, cur[id], strlen(cur[id])) == 0, "replace %u", r);
        uint32_t got;
        REQUIRE(sr_intern_find(in, old, strlen(old), &got) == SR_ENOENT, "old string of %u found",
                id);
        if (r == ROUNDS / 2)
            bytes0 = sr_intern_bytes(in);
    }
    ck_assert_uint_eq(sr_intern_count(in), N);
    for (uint32_t i = 0; i < N; i++) {
        uint32_t got = UINT32_MAX;
        size_t len;
        REQUIRE(sr_intern_find(in, cur[i], strlen(cur[i]), &got) == 0 && got == i,
                "id %u: '%s' finds %u", i, cur[i], got);
        REQUIRE(strcmp(sr_intern_str(in, i, &len), cur[i]) == 0 && len == strlen(cur[i]),
                "id %u: string", i);
    }
    ck_assert_uint_eq(sr_intern_bytes(in), bytes0);
    /* Refused: another id's string, a bad id; replacing with its own is a no-op. */
    ck_assert_int_eq(sr_intern_replace(in, 0, cur[1], strlen(cur[1])), SR_EINVAL);
    ck_assert_int_eq(sr_intern_replace(in, N, "x", 1), SR_EINVAL);
    ck_assert_int_eq(sr_intern_replace(in, 0, cur[0], strlen(cur[0])), 0);
    sr_intern_free(in);
}
END_TEST

/* ---- eviction in the feature stage ------------------------------------- */

START_TEST(test_max_users_bounded_and_fresh)
{
    struct sr_features_cfg cfg = plain_cfg();
    cfg.max_users = 100;
    struct feat *f = make_feat(&cfg);
    char u[32], it[32];
    /* "first" gets history: several positives on several items. */
    for (int k = 0; k < 4; k++) {
        snprintf(it, sizeof it, "i%d", k);
        apply(f, "first", it, T0 + k);
    }
    ck_assert_uint_eq(feat_user_positives(f, user_id(f, "first")), 4);
    size_t recycled = 0;
    for (int k = 0; k < 5000; k++) {
        snprintf(u, sizeof u, "user-%d", k);
        snprintf(it, sizeof it, "i%d", k % 50);
        struct sr_event ev = apply(f, u, it, T0 + 10 + k);
        ck_assert_uint_lt(ev.user, 100);
        REQUIRE((ev.flags & ~SR_EV_RECYCLED_USER) == 0, "event %d: flags %u", k, ev.flags);
        recycled += (ev.flags & SR_EV_RECYCLED_USER) != 0;
        ck_assert_uint_le(feat_n_users(f), 100);
    }
    struct feat_stats st;
    feat_stats(f, &st);
    ck_assert_uint_eq(feat_n_users(f), 100);
    /* Every new user beyond the first 100 took over an id. */
    ck_assert_uint_eq(recycled, 5001 - 100);
    ck_assert_uint_eq(st.users_evicted, recycled);
    /* "first" is gone; coming back, it starts like a new user. */
    ck_assert_uint_eq(user_id(f, "first"), UINT32_MAX);
    struct sr_event ev = apply(f, "first", "i7", T0 + 100000);
    ck_assert(ev.flags & SR_EV_RECYCLED_USER);
    uint32_t items[64];
    ck_assert_uint_eq(feat_user_recent(f, ev.user, items, 64), 1);
    ck_assert_uint_eq(feat_user_positives(f, ev.user), 1);
    ck_assert_uint_eq(feat_user_events(f, ev.user), 1);
    ck_assert_uint_eq(ev.session, 0);
    feat_free(f);
}
END_TEST

/* The sweep approximates LRU: users active in every round survive a flood
 * of one-off users; the one-off users are what gets evicted. */
START_TEST(test_lru_keeps_active_users)
{
    struct sr_features_cfg cfg = plain_cfg();
    cfg.max_users = 100;
    struct feat *f = make_feat(&cfg);
    char u[32];
    int64_t t = T0;
    uint32_t hot_ids[50];
    for (int round = 0; round < 200; round++) {
        for (int h = 0; h < 50; h++) {
            snprintf(u, sizeof u, "hot-%d", h);
            struct sr_event ev = apply(f, u, "i1", t++);
            if (round == 0)
                hot_ids[h] = ev.user;
            REQUIRE(ev.user == hot_ids[h] && !(ev.flags & SR_EV_RECYCLED_USER),
                    "round %d: hot user %d lost its id", round, h);
        }
        for (int c = 0; c < 10; c++) {
            snprintf(u, sizeof u, "cold-%d-%d", round, c);
            apply(f, u, "i2", t++);
        }
    }
    struct feat_stats st;
    feat_stats(f, &st);
    ck_assert_uint_eq(st.users_evicted, 200 * 10 - 50);
    feat_free(f);
}
END_TEST

START_TEST(test_user_ttl)
{
    struct sr_features_cfg cfg = plain_cfg();
    cfg.user_ttl_ms = HOUR;
    struct feat *f = make_feat(&cfg);
    char u[32];
    for (int k = 0; k < 10; k++) {
        snprintf(u, sizeof u, "old-%d", k);
        apply(f, u, "a", T0 + k);
        apply(f, u, "b", T0 + k + 1);
    }
    /* Within the TTL nothing happens. */
    struct sr_event ev = apply(f, "old-3", "c", T0 + HOUR);
    ck_assert(!(ev.flags & SR_EV_RECYCLED_USER));
    ck_assert_uint_eq(feat_user_positives(f, ev.user), 3);
    /* old-3 is idle past the TTL at T0 + 3h: it starts fresh, same id. */
    uint32_t id3 = ev.user;
    ev = apply(f, "old-3", "d", T0 + 3 * HOUR);
    ck_assert(ev.flags & SR_EV_RECYCLED_USER);
    ck_assert_uint_eq(ev.user, id3);
    ck_assert_uint_eq(feat_user_positives(f, id3), 1);
    uint32_t items[8];
    ck_assert_uint_eq(feat_user_recent(f, id3, items, 8), 1);
    /* New users take over the expired ids instead of growing the table. */
    for (int k = 0; k < 9; k++) {
        snprintf(u, sizeof u, "new-%d", k);
        ev = apply(f, u, "e", T0 + 3 * HOUR + 1 + k);
        ck_assert(ev.flags & SR_EV_RECYCLED_USER);
    }
    ck_assert_uint_eq(feat_n_users(f), 10);
    struct feat_stats st;
    feat_stats(f, &st);
    ck_assert_uint_eq(st.users_evicted, 10);
    ck_assert_uint_eq(user_id(f, "old-3"), id3); /* active again, kept */
    /* All ids are live now: the next new user gets a new one. */
    ev = apply(f, "new-9", "e", T0 + 3 * HOUR + 20);
    ck_assert(!(ev.flags & SR_EV_RECYCLED_USER));
    ck_assert_uint_eq(feat_n_users(f), 11);
    feat_free(f);
}
END_TEST

START_TEST(test_item_cap)
{
    struct sr_features_cfg cfg = plain_cfg();
    cfg.max_items = 5;
    struct feat *f = make_feat(&cfg);
    char it[32];
    struct sr_event ev;
    for (int k = 0; k < 5; k++) {
        snprintf(it, sizeof it, "i%d", k);
        apply(f, "u0", it, T0 + k);
    }
    uint32_t users = feat_n_users(f);
    for (int k = 5; k < 12; k++) {
        snprintf(it, sizeof it, "i%d", k);
        ck_assert_int_eq(admit(f, "u0", it, T0 + 10 + k, &ev), FEAT_SKIP_ITEM_CAP);
        /* A new user's event on a new item interns nothing. */
        ck_assert_int_eq(admit(f, "newcomer", it, T0 + 10 + k, &ev), FEAT_SKIP_ITEM_CAP);
    }
    ck_assert_uint_eq(feat_n_items(f), 5);
    ck_assert_uint_eq(feat_n_users(f), users);
    apply(f, "newcomer", "i2", T0 + 100); /* known items go on */
    struct feat_stats st;
    feat_stats(f, &st);
    ck_assert_uint_eq(st.skipped[FEAT_SKIP_ITEM_CAP], 14);
    ck_assert_str_eq(feat_skip_name(FEAT_SKIP_ITEM_CAP), "item_cap");
    feat_free(f);
}
END_TEST

/* ---- item admission to the model --------------------------------------- */

static struct mf *make_mf(void)
{
    struct sr_config c;
    sr_config_defaults(&c);
    c.learner.k = 8;
    char err[256] = "";
    struct mf *m = mf_new(&c.learner, err, sizeof err);
    ck_assert_msg(m != NULL, "mf_new: %s", err);
    return m;
}

START_TEST(test_item_min_events)
{
    struct sr_features_cfg cfg = plain_cfg();
    cfg.item_min_events = 3;
    struct feat *f = make_feat(&cfg);
    struct mf *m = make_mf();
    const char *users[] = {"a", "b", "c", "d"};
    struct feat_stats st;
    for (int k = 0; k < 4; k++) {
        struct sr_event ev;
        ck_assert_int_eq(admit(f, users[k], "x", T0 + k, &ev), FEAT_OK);
        ck_assert_int_eq(mf_reserve(m, feat_n_users(f), feat_n_items(f)), 0);
        ck_assert_int_eq(feat_learn(f, &ev), 0);
        uint64_t before = mf_updates(m);
        ck_assert_int_eq(mf_update(m, &ev), 0);
        feat_stats(f, &st);
        /* Events 1 and 2 of x are cold: not learned, but counted by popularity. */
        ck_assert_uint_eq(!!(ev.flags & SR_EV_ITEM_COLD), k < 2);
        ck_assert_uint_eq(mf_updates(m) - before, k < 2 ? 0 : 1);
        ck_assert_uint_eq(st.items_cold, k < 2 ? 1 : 0);
        ck_assert_uint_eq(feat_pop_all(f)[ev.item], (uint32_t)k + 1);
    }
    ck_assert_uint_eq(st.cold_events, 2);
    /* Co-visitation saw the cold events: a's pair (y, x) was made while x was cold. */
    struct sr_event ev = apply(f, "a", "y", T0 + 10);
    ck_assert(ev.flags & SR_EV_ITEM_COLD); /* y's first event */
    uint32_t nb[8];
    float sc[8];
    ck_assert_uint_ge(feat_covis(f, ev.item, nb, sc, 8), 1);
    feat_free(f);
    mf_free(m);
}
END_TEST

/* ---- forgetting in the other modules ----------------------------------- */

START_TEST(test_mf_forget_user)
{
    struct mf *m = make_mf(), *fresh = make_mf();
    ck_assert_int_eq(mf_reserve(m, 10, 10), 0);
    ck_assert_int_eq(mf_reserve(fresh, 10, 10), 0);
    for (int k = 0; k < 200; k++) {
        struct sr_event ev = {.user = (uint32_t)(k % 3), .item = (uint32_t)(k % 7), .weight = 1};
        ck_assert_int_eq(mf_update(m, &ev), 0);
    }
    size_t bytes = mf_k(m) * sizeof(float);
    ck_assert(memcmp(mf_user_vec(m, 1), mf_user_vec(fresh, 1), bytes) != 0);
    mf_forget_user(m, 1);
    ck_assert_mem_eq(mf_user_vec(m, 1), mf_user_vec(fresh, 1), bytes);
    ck_assert(memcmp(mf_user_vec(m, 2), mf_user_vec(fresh, 2), bytes) != 0); /* others kept */
    /* The accumulator is back at its start too: one more step from the
     * forgotten row equals the same step from a fresh row. */
    struct sr_event ev = {.user = 1, .item = 4, .weight = 1};
    struct mf *g = make_mf();
    ck_assert_int_eq(mf_reserve(g, 10, 10), 0);
    for (int k = 0; k < 200; k++) { /* same history for items, rng */
        struct sr_event e2 = {.user = (uint32_t)(k % 3), .item = (uint32_t)(k % 7), .weight = 1};
        ck_assert_int_eq(mf_update(g, &e2), 0);
    }
    mf_forget_user(g, 1);
    ck_assert_int_eq(mf_update(m, &ev), 0);
    ck_assert_int_eq(mf_update(g, &ev), 0);
    ck_assert_mem_eq(mf_user_vec(m, 1), mf_user_vec(g, 1), bytes);
    mf_forget_user(m, 99); /* no row: no-op */
    mf_free(m);
    mf_free(fresh);
    mf_free(g);
}
END_TEST

START_TEST(test_hist_forget_user)
{
    struct hist *h = hist_new();
    ck_assert_ptr_nonnull(h);
    /* Many users over few items: long probe chains in the pair set. */
    for (uint32_t u = 0; u < 400; u++)
        for (uint32_t i = 0; i < 1 + u % 13; i++) {
            struct sr_event ev = {
                .user = u, .item = (i * 7 + u) % 50, .type = i % 3 ? SR_CLICK : SR_PURCHASE};
            ck_assert_int_eq(hist_add(h, &ev), 0);
        }
    for (uint32_t u = 0; u < 400; u += 3)
        hist_forget_user(h, u);
    for (uint32_t u = 0; u < 400; u++) {
        uint32_t n, nb;
        hist_items(h, u, &n);
        hist_bought(h, u, &nb);
        bool gone = u % 3 == 0;
        REQUIRE(n == (gone ? 0 : 1 + u % 13), "user %u: %u items", u, n);
        for (uint32_t i = 0; i < 1 + u % 13; i++)
            REQUIRE(hist_seen(h, u, (i * 7 + u) % 50) == !gone, "user %u item %u", u, i);
        if (gone)
            REQUIRE(nb == 0, "user %u: bought kept", u);
    }
    hist_forget_user(h, 100000); /* unknown: no-op */
    hist_free(h);
}
END_TEST

/* ---- the pipeline: determinism and checkpoints ------------------------- */

/* feat + mf as replay drives them (pending batch, forget on recycle). */
struct pipe {
    struct feat *f;
    struct mf *m;
    struct sr_event pending[64];
    size_t n;
};

static void pipe_flush(struct pipe *p)
{
    ck_assert_int_eq(mf_update_batch(p->m, p->pending, p->n), 0);
    p->n = 0;
}

static struct sr_features_cfg pipe_cfg(void)
{
    struct sr_features_cfg cfg = plain_cfg();
    cfg.max_users = 60;
    cfg.max_items = 150;
    cfg.user_ttl_ms = 20 * MIN_MS;
    cfg.item_min_events = 2;
    return cfg;
}

static void pipe_open(struct pipe *p)
{
    struct sr_features_cfg cfg = pipe_cfg();
    memset(p, 0, sizeof *p);
    p->f = make_feat(&cfg);
    p->m = make_mf();
}

static void pipe_close(struct pipe *p)
{
    feat_free(p->f);
    mf_free(p->m);
}

/* Event k of a stream of 300 users (some come back), 200 items. */
static void stream_event(uint64_t k, char *u, char *it, int64_t *ts)
{
    uint64_t s = k * 7919 + 1;
    uint64_t r = rng_next(&s);
    snprintf(u, 32, "u%llu", (unsigned long long)(r % 300));
    snprintf(it, 32, "i%llu", (unsigned long long)((r >> 20) % 200 * ((r >> 40) % 2)));
    *ts = T0 + (int64_t)k * 1000 + (int64_t)((r >> 50) % 500) * (k % 97 == 0 ? 200 : 1);
}

static void pipe_run(struct pipe *p, uint64_t from, uint64_t to)
{
    for (uint64_t k = from; k < to; k++) {
        char u[32], it[32];
        int64_t ts;
        stream_event(k, u, it, &ts);
        struct sr_event ev;
        int rc = admit(p->f, u, it, ts, &ev);
        REQUIRE(rc >= 0, "event %llu: %d", (unsigned long long)k, rc);
        if (rc != FEAT_OK)
            continue;
        if (ev.flags & SR_EV_RECYCLED_USER) {
            pipe_flush(p);
            mf_forget_user(p->m, ev.user);
        }
        ck_assert_int_eq(mf_reserve(p->m, feat_n_users(p->f), feat_n_items(p->f)), 0);
        REQUIRE(feat_learn(p->f, &ev) == 0, "learn %llu", (unsigned long long)k);
        p->pending[p->n++] = ev;
        if (p->n == 64)
            pipe_flush(p);
    }
    pipe_flush(p);
}

static struct ck_file *pipe_save(const struct pipe *p, const char *dir, const char *name)
{
    struct ck_writer *w = ck_writer_new();
    ck_assert_int_eq(feat_save(p->f, w), 0);
    ck_assert_int_eq(mf_save(p->m, w), 0);
    char err[256] = "", path[512];
    ck_assert_msg(ck_write_file(w, dir, name, "test", 1, err, sizeof err) == 0, "%s", err);
    ck_writer_free(w);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct ck_file *file = ck_open(path, err, sizeof err);
    ck_assert_msg(file != NULL, "%s", err);
    return file;
}

/* Number of sections whose bytes differ. */
static int sections_differ(const struct ck_file *x, const struct ck_file *y)
{
    int nd = 0;
    ck_assert_uint_eq(ck_n_sections(x), ck_n_sections(y));
    for (size_t i = 0; i < ck_n_sections(x); i++) {
        struct ck_section_info si;
        ck_section_at(x, i, &si);
        struct ck_rd rx, ry;
        ck_assert_int_eq(ck_find(x, si.id, &rx), 0);
        ck_assert_int_eq(ck_find(y, si.id, &ry), 0);
        nd += !(ck_rd_left(&rx) == ck_rd_left(&ry) && memcmp(rx.p, ry.p, ck_rd_left(&rx)) == 0);
    }
    return nd;
}

START_TEST(test_resume_with_evictions)
{
    enum { N = 12000, MID = 5000 };
    char tmpl[] = "/tmp/sr-memcaps-XXXXXX";
    char *dir = mkdtemp(tmpl);
    ck_assert_ptr_nonnull(dir);
    struct pipe a, b;
    pipe_open(&a);
    pipe_run(&a, 0, MID);
    struct feat_stats st_mid;
    feat_stats(a.f, &st_mid);
    struct ck_file *mid = pipe_save(&a, dir, "mid.ckpt");
    pipe_open(&b);
    char err[256] = "";
    ck_assert_msg(feat_load(b.f, mid, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(mf_load(b.m, mid, err, sizeof err) == 0, "%s", err);
    pipe_run(&a, MID, N);
    pipe_run(&b, MID, N);
    struct feat_stats sa, sb;
    feat_stats(a.f, &sa);
    feat_stats(b.f, &sb);
    /* Both halves evicted (by the cap and by the TTL) and rejected items. */
    ck_assert_uint_gt(st_mid.users_evicted, 100);
    ck_assert_uint_gt(sa.users_evicted, st_mid.users_evicted + 100);
    ck_assert_uint_gt(sa.skipped[FEAT_SKIP_ITEM_CAP], st_mid.skipped[FEAT_SKIP_ITEM_CAP]);
    ck_assert_uint_gt(sa.cold_events, 0);
    ck_assert_mem_eq(&sa, &sb, sizeof sa);
    struct ck_file *fa = pipe_save(&a, dir, "a.ckpt"), *fb = pipe_save(&b, dir, "b.ckpt");
    ck_assert_int_eq(sections_differ(fa, fb), 0);

    /* Control: the comparison can fail (a resumed run missing one event). */
    struct pipe c;
    pipe_open(&c);
    ck_assert_int_eq(feat_load(c.f, mid, err, sizeof err), 0);
    ck_assert_int_eq(mf_load(c.m, mid, err, sizeof err), 0);
    pipe_run(&c, MID + 1, N);
    struct ck_file *fc = pipe_save(&c, dir, "c.ckpt");
    ck_assert_int_gt(sections_differ(fa, fc), 0);
    ck_close(fc);
    pipe_close(&c);

    ck_close(mid);
    ck_close(fa);
    ck_close(fb);
    pipe_close(&a);
    pipe_close(&b);
    const char *names[] = {"mid.ckpt", "a.ckpt", "b.ckpt", "c.ckpt"};
    for (int i = 0; i < 4; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}
END_TEST

/* ---- replay ------------------------------------------------------------ */

/* A CSV of n events over many users (each seen a few times), 80 items. */
static void write_stream(const char *path, int n)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "ts,user_id,item_id,type\n");
    uint64_t s = 3;
    for (int k = 0; k < n; k++) {
        uint64_t r = rng_next(&s);
        int user = k / 4 + (int)(r % 3) * 7; /* users come and go */
        int item = (int)((r >> 8) % 80);
        static const char *const types[] = {"VIEW", "CLICK", "PURCHASE"};
        fprintf(f, "%lld,user%d,i%d,%s\n", (long long)(T0 + k * 1000LL), user, item,
                types[(r >> 30) % 3]);
    }
    fclose(f);
}

static json_t *replay_with(const char *path, const char *state_dir, uint64_t limit, bool resume,
                           const char *const *caps, size_t n_caps)
{
    struct sr_config cfg;
    char err[1024];
    sr_config_defaults(&cfg);
    const char *over[] = {"features.bot_max_events=0", "features.dedup_window=0", "learner.k=8"};
    for (size_t i = 0; i < sizeof over / sizeof over[0]; i++)
        ck_assert_msg(sr_config_override(&cfg, over[i], err, sizeof err) == 0, "%s", err);
    for (size_t i = 0; i < n_caps; i++)
        ck_assert_msg(sr_config_override(&cfg, caps[i], err, sizeof err) == 0, "%s", err);
    if (state_dir)
        snprintf(cfg.state.dir, sizeof cfg.state.dir, "%s", state_dir);
    const char *paths[] = {path};
    struct replay_opts o = {.paths = paths,
                            .n_paths = 1,
                            .limit = limit,
                            .checkpoint_every = state_dir ? 1000 : 0,
                            .resume = resume};
    json_t *r = replay_run(&cfg, &o, err, sizeof err);
    ck_assert_msg(r != NULL, "replay: %s", err);
    return r;
}

static json_t *replay(const char *path, const char *state_dir, uint64_t limit, bool resume)
{
    const char *caps[] = {"learner.max_users=40", "features.item_min_events=3"};
    return replay_with(path, state_dir, limit, resume, caps, 2);
}

static char *dumps_stable(json_t *r)
{
    json_t *c = json_deep_copy(r);
    json_object_del(c, "seconds");
    json_object_del(c, "events_per_s");
    json_object_del(json_object_get(c, "memory"), "rss_bytes");
    char *t = json_dumps(c, JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    json_decref(c);
    return t;
}

START_TEST(test_replay_deterministic_with_evictions)
{
    char path[] = "/tmp/sr_memcaps_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    write_stream(path, 6000);
    json_t *a = replay(path, NULL, 0, false), *b = replay(path, NULL, 0, false);
    json_t *caps = json_object_get(a, "caps");
    ck_assert_int_gt(json_integer_value(json_object_get(caps, "users_evicted")), 500);
    ck_assert_int_gt(json_integer_value(json_object_get(caps, "cold_events")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(caps, "item_cap_rejected")), 0);
    ck_assert_int_le(json_integer_value(json_object_get(json_object_get(a, "memory"), "users")),
                     40);
    char *ta = dumps_stable(a), *tb = dumps_stable(b);
    ck_assert_str_eq(ta, tb);
    free(ta);
    free(tb);
    json_decref(a);
    json_decref(b);
    unlink(path);
}
END_TEST

/* Users that never come back once evicted: the evaluation of the
 * baselines that read histories and recent items (popularity with
 * exclude_seen, co-visitation) must be that of a run without a cap, so no
 * state of an earlier owner reaches a recycled id (the model's rows are
 * another matter: a recycled id's initial vector is that of its number). */
START_TEST(test_replay_recycled_ids_start_clean)
{
    char path[] = "/tmp/sr_memcaps_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "ts,user_id,item_id,type\n");
    uint64_t s = 11;
    for (int k = 0; k < 6000; k++) { /* user k/6's events are contiguous */
        uint64_t r = rng_next(&s);
        uint32_t a = (uint32_t)(r % 40), b = (uint32_t)((r >> 20) % 40);
        fprintf(f, "%lld,user%d,i%u,%s\n", (long long)(T0 + k * 1000LL), k / 6, a < b ? a : b,
                (r >> 40) % 4 ? "CLICK" : "PURCHASE");
    }
    fclose(f);
    const char *capped[] = {"learner.max_users=20"};
    json_t *a = replay_with(path, NULL, 0, false, NULL, 0);
    json_t *b = replay_with(path, NULL, 0, false, capped, 1);
    ck_assert_int_gt(
        json_integer_value(json_object_get(json_object_get(b, "caps"), "users_evicted")), 900);
    static const char *const modes[] = {"exclude_seen", "include_seen"};
    static const char *const systems[] = {"popularity", "popularity_all", "covis"};
    for (int m = 0; m < 2; m++)
        for (int y = 0; y < 3; y++) {
            json_t *x = json_object_get(json_object_get(a, modes[m]), systems[y]);
            json_t *z = json_object_get(json_object_get(b, modes[m]), systems[y]);
            ck_assert_msg(x && json_equal(x, z), "%s %s differs with evictions", modes[m],
                          systems[y]);
        }
    json_decref(a);
    json_decref(b);
    unlink(path);
}
END_TEST

/* Stopped at record 2500 and resumed from its checkpoint, replay ends with
 * the same checkpoint as a run that never stopped: features, model, the
 * serving history and the evaluation, evictions on both sides. */
START_TEST(test_replay_resume_with_evictions)
{
    char path[] = "/tmp/sr_memcaps_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    write_stream(path, 6000);
    char ta[] = "/tmp/sr-memcaps-a-XXXXXX", tb[] = "/tmp/sr-memcaps-b-XXXXXX";
    char *da = mkdtemp(ta), *db = mkdtemp(tb);
    ck_assert(da && db);
    json_t *full = replay(path, da, 0, false);
    json_decref(replay(path, db, 2500, false));
    json_t *resumed = replay(path, db, 0, true);
    ck_assert_int_eq(json_integer_value(json_object_get(resumed, "resumed_at_record")), 2500);
    ck_assert_int_gt(
        json_integer_value(json_object_get(json_object_get(resumed, "caps"), "users_evicted")),
        json_integer_value(json_object_get(json_object_get(full, "caps"), "users_evicted")) / 3);
    /* The reports agree on everything learned and scored. */
    ck_assert(json_equal(json_object_get(full, "caps"), json_object_get(resumed, "caps")));
    ck_assert(json_equal(json_object_get(full, "exclude_seen"),
                         json_object_get(resumed, "exclude_seen")));
    char err[512], pa[600], pb[600];
    char **na, **nb;
    size_t n_a, n_b;
    ck_assert_int_eq(ck_list(da, &na, &n_a), 0);
    ck_assert_int_eq(ck_list(db, &nb, &n_b), 0);
    snprintf(pa, sizeof pa, "%s/%s", da, na[0]); /* newest first */
    snprintf(pb, sizeof pb, "%s/%s", db, nb[0]);
    struct ck_file *fa = ck_open(pa, err, sizeof err), *fb = ck_open(pb, err, sizeof err);
    ck_assert(fa && fb);
    ck_assert_int_eq(sections_differ(fa, fb), 0);
    struct ck_rd r;
    ck_assert_int_eq(ck_find(fa, CK_SEC_FEAT_EVICT, &r), 0);
    ck_close(fa);
    ck_close(fb);
    ck_names_free(na, n_a);
    ck_names_free(nb, n_b);
    ck_prune(da, 0);
    ck_prune(db, 0);
    rmdir(da);
    rmdir(db);
    json_decref(full);
    json_decref(resumed);
    unlink(path);
}
END_TEST

/* The newest checkpoint passes its checksums but one section's content does
 * not hold (rewritten with valid checksums, feat_counts a value short):
 * --resume warns, starts the parts afresh and resumes from the next older
 * one, ending where a run that never stopped ends. */
START_TEST(test_replay_resume_skips_invalid_content)
{
    char path[] = "/tmp/sr_memcaps_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    write_stream(path, 6000);
    char tb[] = "/tmp/sr-memcaps-c-XXXXXX";
    char *db = mkdtemp(tb);
    ck_assert_ptr_nonnull(db);
    json_t *full = replay(path, NULL, 0, false);
    json_decref(replay(path, db, 4500, false)); /* checkpoints at 3000, 4000, 4500 kept */
    char **names, err[512], p[600];
    size_t n;
    ck_assert_int_eq(ck_list(db, &names, &n), 0);
    ck_assert_uint_eq(n, 3);
    snprintf(p, sizeof p, "%s/%s", db, names[0]);
    struct ck_file *f = ck_open(p, err, sizeof err);
    ck_assert_msg(f != NULL, "%s", err);
    struct ck_writer *w = ck_writer_new();
    for (size_t i = 0; i < ck_n_sections(f); i++) {
        struct ck_section_info info;
        struct ck_rd r;
        ck_section_at(f, i, &info);
        ck_assert_int_eq(ck_find(f, info.id, &r), 0);
        size_t len = ck_rd_left(&r) - (info.id == CK_SEC_FEAT_COUNTS ? 4 : 0);
        ck_put(ck_section(w, info.id, info.name), ck_take(&r, len), len);
    }
    ck_assert_int_eq(
        ck_write_file(w, db, names[0], ck_model_version(f), ck_created_ms(f), err, sizeof err), 0);
    ck_writer_free(w);
    ck_close(f);
    /* the damage is past the checksums: the file still opens */
    f = ck_open(p, err, sizeof err);
    ck_assert_msg(f != NULL, "%s", err);
    ck_close(f);

    json_t *resumed = replay(path, db, 0, true);
    ck_assert_int_eq(json_integer_value(json_object_get(resumed, "resumed_at_record")), 4000);
    ck_assert(json_equal(json_object_get(full, "exclude_seen"),
                         json_object_get(resumed, "exclude_seen")));
    ck_assert(json_equal(json_object_get(full, "caps"), json_object_get(resumed, "caps")));
    ck_assert_int_eq(json_integer_value(json_object_get(resumed, "applied")),
                     json_integer_value(json_object_get(full, "applied")));
    ck_names_free(names, n);
    ck_prune(db, 0);
    rmdir(db);
    json_decref(full);
    json_decref(resumed);
    unlink(path);
}
END_TEST

Suite *memcaps_suite(void)
{
    Suite *s = suite_create("memcaps");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_intern_replace);
    tcase_add_test(tc, test_max_users_bounded_and_fresh);
    tcase_add_test(tc, test_lru_keeps_active_users);
    tcase_add_test(tc, test_user_ttl);
    tcase_add_test(tc, test_item_cap);
    tcase_add_test(tc, test_item_min_events);
    tcase_add_test(tc, test_mf_forget_user);
    tcase_add_test(tc, test_hist_forget_user);
    tcase_add_test(tc, test_resume_with_evictions);
    tcase_add_test(tc, test_replay_deterministic_with_evictions);
    tcase_add_test(tc, test_replay_resume_with_evictions);
    tcase_add_test(tc, test_replay_resume_skips_invalid_content);
    tcase_add_test(tc, test_replay_recycled_ids_start_clean);
    suite_add_tcase(s, tc);
    return s;
}
