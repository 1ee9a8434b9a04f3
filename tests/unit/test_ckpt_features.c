/* tests/unit/test_ckpt_features.c - checkpoints of the feature stage, the
 * id maps and the serving history: a run stopped at its midpoint, saved to
 * a file and loaded into a fresh stage must continue exactly like the run
 * that never stopped (same decisions, same state, same saved bytes), the
 * applied-event counts must equal counts computed here from the admitted
 * events, and damaged or mismatched checkpoints must be refused. */
#include "core/rng.h"
#include "core/ckpt.h"
#include "core/config.h"
#include "core/err.h"
#include "core/event.h"
#include "core/intern.h"
#include "features/feat.h"
#include "features/history.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEC_MS  1000LL
#define MIN_MS  (60 * SEC_MS)
#define T0      1600000000000LL
#define N_EV    40000
#define N_USERS 1200 /* generator's user pool (not all admitted) */
#define N_ITEMS 600

/* An assertion for hot loops: ck_assert records every pass (a write each),
 * this one costs nothing until it fails. */
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

static double rng_unit(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) / 9007199254740992.0;
}

/* ---- a synthetic raw stream ------------------------------------------------ */

struct gen_ev {
    int uidx, iidx; /* generator's user / item index; -1 = empty id */
    int type;
    int64_t ts;
    long eid; /* event id number, -1 = none */
    char user[24], item[24], eid_s[32];
};

/* Users and items appear over time, items Zipf-like; about 5% exact repeats
 * (same event id, or same fields without one), 5% out of order (some beyond
 * the allowed lateness), a few invalid events, views (weight 0) and
 * positives, and one burst that makes a bot. */
static struct gen_ev *gen_stream(size_t n, uint64_t seed)
{
    struct gen_ev *e = calloc(n, sizeof *e);
    ck_assert_ptr_nonnull(e);
    uint64_t s = seed;
    int64_t t = T0;
    for (size_t i = 0; i < n; i++) {
        struct gen_ev *g = &e[i];
        t += (int64_t)(rng_next(&s) % 3000);
        double r = rng_unit(&s);
        if (i > 100 && r < 0.05) { /* a repeat of a recent event */
            *g = e[i - 1 - rng_next(&s) % 50];
            continue;
        }
        int users_now = 30 + (int)((double)i / n * (N_USERS - 30));
        int items_now = 20 + (int)((double)i / n * (N_ITEMS - 20));
        double u = rng_unit(&s), v = rng_unit(&s);
        g->uidx = (int)(u * users_now);
        g->iidx = (int)(v * v * items_now);
        g->ts = t;
        double q = rng_unit(&s);
        if (q < 0.05) /* out of order, some beyond the allowed lateness (60 s) */
            g->ts = t - (int64_t)(rng_next(&s) % (90 * SEC_MS));
        g->type = (int)(rng_next(&s) % SR_EVENT_TYPE_COUNT);
        if (q > 0.995)
            g->uidx = -1; /* bad user */
        else if (q > 0.99)
            g->type = 9; /* bad type */
        g->eid = rng_next(&s) % 2 ? (long)i : -1;
        if (i >= n / 3 && i < n / 3 + 40) { /* a burst: user 7 becomes a bot */
            g->uidx = 7;
            g->ts = t;
            g->eid = (long)i;
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct gen_ev *g = &e[i];
        if (g->uidx >= 0)
            snprintf(g->user, sizeof g->user, "u%d", g->uidx);
        snprintf(g->item, sizeof g->item, "item-%d", g->iidx);
        if (g->eid >= 0)
            snprintf(g->eid_s, sizeof g->eid_s, "ev%ld", g->eid);
    }
    return e;
}

static struct sr_raw_event raw_of(const struct gen_ev *g)
{
    struct sr_raw_event r;
    memset(&r, 0, sizeof r);
    r.user_id = (struct sr_str){g->user, (uint32_t)strlen(g->user)};
    if (r.user_id.len == 0)
        r.user_id.p = NULL;
    r.item_id = (struct sr_str){g->item, (uint32_t)strlen(g->item)};
    if (g->eid >= 0)
        r.event_id = (struct sr_str){g->eid_s, (uint32_t)strlen(g->eid_s)};
    r.type = (enum sr_event_type)g->type;
    r.ts_ms = g->ts;
    return r;
}

static struct sr_features_cfg test_cfg(void)
{
    struct sr_config c;
    sr_config_defaults(&c);
    struct sr_features_cfg f = c.features;
    f.dedup_window_ms = 5 * MIN_MS;
    f.dedup_capacity = 150; /* below the live set: capacity eviction happens */
    f.allowed_lateness_ms = 60 * SEC_MS;
    f.bot_max_events = 30;
    f.bot_window_ms = 60 * SEC_MS;
    f.session_gap_ms = 10 * MIN_MS;
    snprintf(f.pop_windows, sizeof f.pop_windows, "10m,2h");
    f.covis_window_ms = 20 * MIN_MS;
    f.covis_recent = 4;
    f.covis_topn = 3;                  /* lists of 6 fill: the space-saving rule runs */
    f.covis_half_life_ms = 5 * MIN_MS; /* renormalizes within the stream */
    f.weight[SR_VIEW] = 0;
    return f;
}

static struct feat *make(const struct sr_features_cfg *cfg)
{
    char err[256] = "";
    struct feat *f = feat_new(cfg, err, sizeof err);
    ck_assert_msg(f != NULL, "feat_new: %s", err);
    return f;
}

/* Feeds e[from, to) to f; dec[i] gets the admit result, out[i] the event. */
static void feed(struct feat *f, const struct gen_ev *e, size_t from, size_t to, int *dec,
                 struct sr_event *out)
{
    for (size_t i = from; i < to; i++) {
        struct sr_raw_event r = raw_of(&e[i]);
        struct sr_event ev;
        memset(&ev, 0, sizeof ev);
        int rc = feat_admit(f, &r, &ev);
        REQUIRE(rc >= 0, "event %zu: feat_admit %d", i, rc);
        dec[i] = rc;
        if (rc == FEAT_OK)
            REQUIRE(feat_learn(f, &ev) == 0, "event %zu: feat_learn failed", i);
        out[i] = ev;
    }
}

static char *make_dir(void)
{
    char tmpl[] = "/tmp/sr-ckfeat-XXXXXX";
    char *d = mkdtemp(tmpl);
    ck_assert_ptr_nonnull(d);
    return strdup(d);
}

static void remove_dir(char *dir)
{
    char **names;
    size_t n;
    if (ck_list(dir, &names, &n) == 0) {
        for (size_t i = 0; i < n; i++) {
            char p[512];
            snprintf(p, sizeof p, "%s/%s", dir, names[i]);
            unlink(p);
        }
        ck_names_free(names, n);
    }
    rmdir(dir);
    free(dir);
}

/* Writes w (freed) as dir/name and opens the file again. */
static struct ck_file *write_open(struct ck_writer *w, const char *dir, const char *name)
{
    char err[256] = "";
    ck_assert_msg(ck_write_file(w, dir, name, "test", 1, err, sizeof err) == 0, "%s", err);
    ck_writer_free(w);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct ck_file *file = ck_open(path, err, sizeof err);
    ck_assert_msg(file != NULL, "ck_open: %s", err);
    return file;
}

/* Saves f as dir/name and opens it again. */
static struct ck_file *save_open(const struct feat *f, const char *dir, const char *name)
{
    struct ck_writer *w = ck_writer_new();
    ck_assert_ptr_nonnull(w);
    ck_assert_int_eq(feat_save(f, w), 0);
    return write_open(w, dir, name);
}

static struct feat *load(const struct sr_features_cfg *cfg, const struct ck_file *file)
{
    struct feat *f = make(cfg);
    char err[256] = "";
    int rc = feat_load(f, file, err, sizeof err);
    ck_assert_msg(rc == 0, "feat_load: %d %s", rc, err);
    return f;
}

/* ---- comparing two stages -------------------------------------------------- */

/* Number of differences between a and b (first described in why). */
static size_t diff_feat(const struct feat *a, const struct feat *b, char *why, size_t len)
{
    size_t nd = 0;
#define DIFF(...)                                                                                  \
    do {                                                                                           \
        if (nd++ == 0)                                                                             \
            snprintf(why, len, __VA_ARGS__);                                                       \
    } while (0)
    struct feat_stats sa, sb;
    feat_stats(a, &sa);
    feat_stats(b, &sb);
    if (memcmp(&sa, &sb, sizeof sa) != 0)
        DIFF("feat_stats differ (admitted %llu vs %llu)", (unsigned long long)sa.admitted,
             (unsigned long long)sb.admitted);
    uint32_t nu = feat_n_users(a), ni = feat_n_items(a);
    if (nu != feat_n_users(b) || ni != feat_n_items(b)) {
        DIFF("sizes differ: %u/%u users, %u/%u items", nu, feat_n_users(b), ni, feat_n_items(b));
        return nd;
    }
    for (uint32_t u = 0; u < nu; u++) {
        size_t la, lb;
        const char *x = sr_intern_str(feat_users(a), u, &la);
        const char *y = sr_intern_str(feat_users(b), u, &lb);
        if (la != lb || memcmp(x, y, la) != 0)
            DIFF("user %u string differs", u);
        uint32_t ra[64], rb[64];
        size_t na = feat_user_recent(a, u, ra, 64), nb = feat_user_recent(b, u, rb, 64);
        if (na != nb || memcmp(ra, rb, na * sizeof *ra) != 0)
            DIFF("user %u recent items differ", u);
        if (feat_user_positives(a, u) != feat_user_positives(b, u))
            DIFF("user %u positives differ", u);
        if (feat_user_events(a, u) != feat_user_events(b, u))
            DIFF("user %u applied count differs", u);
    }
    for (uint32_t i = 0; i < ni; i++) {
        size_t la, lb;
        const char *x = sr_intern_str(feat_items(a), i, &la);
        const char *y = sr_intern_str(feat_items(b), i, &lb);
        if (la != lb || memcmp(x, y, la) != 0)
            DIFF("item %u string differs", i);
        uint32_t ia[512], ib[512];
        float fa[512], fb[512];
        size_t na = feat_covis(a, i, ia, fa, 512), nb = feat_covis(b, i, ib, fb, 512);
        if (na != nb || memcmp(ia, ib, na * sizeof *ia) != 0 ||
            memcmp(fa, fb, na * sizeof *fa) != 0)
            DIFF("item %u co-visitation differs", i);
        if (feat_item_events(a, i) != feat_item_events(b, i))
            DIFF("item %u applied count differs", i);
    }
    for (size_t w = 0; w < feat_pop_n_windows(a); w++)
        if (memcmp(feat_pop_scores(a, w), feat_pop_scores(b, w), ni * sizeof(float)) != 0)
            DIFF("popularity window %zu differs", w);
    if (memcmp(feat_pop_all(a), feat_pop_all(b), ni * sizeof(uint32_t)) != 0)
        DIFF("all-time counts differ");
    if (memcmp(feat_item_first_pos(a), feat_item_first_pos(b), ni * sizeof(uint32_t)) != 0)
        DIFF("first-positive order differs");
#undef DIFF
    return nd;
}

static void assert_same(const struct feat *a, const struct feat *b)
{
    char why[256] = "";
    size_t nd = diff_feat(a, b, why, sizeof why);
    ck_assert_msg(nd == 0, "%zu differences, first: %s", nd, why);
}

/* Every section of x and y holds the same bytes. */
static void assert_same_sections(const struct ck_file *x, const struct ck_file *y)
{
    ck_assert_uint_eq(ck_n_sections(x), ck_n_sections(y));
    for (size_t i = 0; i < ck_n_sections(x); i++) {
        struct ck_section_info si;
        ck_section_at(x, i, &si);
        struct ck_rd rx, ry;
        ck_assert_int_eq(ck_find(x, si.id, &rx), 0);
        ck_assert_int_eq(ck_find(y, si.id, &ry), 0);
        ck_assert_msg(ck_rd_left(&rx) == ck_rd_left(&ry) &&
                          memcmp(rx.p, ry.p, ck_rd_left(&rx)) == 0,
                      "section %s differs", si.name);
    }
}

/* ---- the stop-and-resume run ---------------------------------------------- */

START_TEST(test_resume_identical)
{
    struct sr_features_cfg cfg = test_cfg();
    struct gen_ev *e = gen_stream(N_EV, 42);
    int *dec_a = calloc(N_EV, sizeof *dec_a), *dec_b = calloc(N_EV, sizeof *dec_b);
    struct sr_event *ev_a = calloc(N_EV, sizeof *ev_a), *ev_b = calloc(N_EV, sizeof *ev_b);
    ck_assert(dec_a && dec_b && ev_a && ev_b);
    char *dir = make_dir();
    size_t mid = N_EV / 2;

    struct feat *a = make(&cfg);
    feed(a, e, 0, mid, dec_a, ev_a);
    struct ck_file *file = save_open(a, dir, "mid.ckpt");
    struct feat *b = load(&cfg, file);
    assert_same(a, b); /* right after loading */

    /* The watermark came back: on a third copy, an event just beyond the
     * allowed lateness is late and one just within it is out of order. */
    struct feat *w = load(&cfg, file);
    struct feat_stats sw;
    feat_stats(w, &sw);
    struct gen_ev probe = e[mid];
    probe.eid = -1;
    probe.type = SR_CLICK;
    probe.ts = sw.watermark_ms - cfg.allowed_lateness_ms - 1;
    struct sr_raw_event pr = raw_of(&probe);
    struct sr_event pev;
    ck_assert_int_eq(feat_admit(w, &pr, &pev), FEAT_SKIP_LATE);
    pr.ts_ms = probe.ts + 2;
    ck_assert_int_eq(feat_admit(w, &pr, &pev), FEAT_OK);
    struct feat_stats sw2;
    feat_stats(w, &sw2);
    ck_assert_uint_eq(sw2.out_of_order, sw.out_of_order + 1);
    ck_assert_int_eq(sw2.watermark_ms, sw.watermark_ms);
    feat_free(w);

    feed(a, e, mid, N_EV, dec_a, ev_a);
    feed(b, e, mid, N_EV, dec_b, ev_b);
    size_t ok = 0, skips[FEAT_SKIP_COUNT] = {0};
    for (size_t i = mid; i < N_EV; i++) {
        ck_assert_msg(dec_a[i] == dec_b[i], "event %zu: decision %d vs %d", i, dec_a[i], dec_b[i]);
        skips[dec_a[i]]++;
        if (dec_a[i] == FEAT_OK) {
            ok++;
            REQUIRE(ev_a[i].user == ev_b[i].user && ev_a[i].item == ev_b[i].item &&
                        ev_a[i].session == ev_b[i].session && ev_a[i].ts_ms == ev_b[i].ts_ms &&
                        ev_a[i].weight == ev_b[i].weight,
                    "event %zu: admitted events differ", i);
        }
    }
    /* The stream exercised what it should after the checkpoint. */
    ck_assert_uint_gt(ok, N_EV / 4);
    ck_assert_uint_gt(skips[FEAT_SKIP_DUPLICATE], 100);
    ck_assert_uint_gt(skips[FEAT_SKIP_LATE], 10);
    struct feat_stats st;
    feat_stats(a, &st);
    ck_assert_uint_gt(st.out_of_order, 100);
    ck_assert_uint_ge(st.bots, 1);
    assert_same(a, b);

    /* Saving both again gives the same bytes in every section. */
    struct ck_file *fa = save_open(a, dir, "a.ckpt"), *fb = save_open(b, dir, "b.ckpt");
    assert_same_sections(fa, fb);

    /* Applied counts against counts computed here from the decisions (first
     * half from a's run, second half from b's). */
    uint32_t *cu = calloc(N_USERS, sizeof *cu), *ci = calloc(N_ITEMS, sizeof *ci);
    ck_assert(cu && ci);
    uint64_t total = 0;
    for (size_t i = 0; i < N_EV; i++) {
        int d = i < mid ? dec_a[i] : dec_b[i];
        if (d != FEAT_OK)
            continue;
        cu[e[i].uidx]++;
        ci[e[i].iidx]++;
        total++;
    }
    ck_assert_uint_eq(total, st.admitted);
    for (int u = 0; u < N_USERS; u++) {
        char s[24];
        snprintf(s, sizeof s, "u%d", u);
        uint32_t id;
        if (sr_intern_find(feat_users(b), s, strlen(s), &id) == 0)
            REQUIRE(feat_user_events(b, id) == cu[u], "user %s: %u applied, expected %u", s,
                    feat_user_events(b, id), cu[u]);
        else
            REQUIRE(cu[u] == 0, "user %s applied but unknown", s);
    }
    for (int it = 0; it < N_ITEMS; it++) {
        char s[24];
        snprintf(s, sizeof s, "item-%d", it);
        uint32_t id;
        if (sr_intern_find(feat_items(b), s, strlen(s), &id) == 0)
            ck_assert_msg(feat_item_events(b, id) == ci[it], "item %s: %u applied, expected %u", s,
                          feat_item_events(b, id), ci[it]);
        else
            ck_assert_uint_eq(ci[it], 0);
    }
    ck_assert_uint_eq(feat_user_events(b, feat_n_users(b)), 0); /* unknown ids */
    ck_assert_uint_eq(feat_item_events(b, UINT32_MAX), 0);

    ck_close(fa);
    ck_close(fb);
    ck_close(file);
    feat_free(a);
    feat_free(b);
    free(cu);
    free(ci);
    free(dec_a);
    free(dec_b);
    free(ev_a);
    free(ev_b);
    free(e);
    remove_dir(dir);
}
END_TEST

/* The comparisons above can fail: a stage that saw one extra event, or one
 * event fewer, after loading is told apart. */
START_TEST(test_control_detects_divergence)
{
    struct sr_features_cfg cfg = test_cfg();
    struct gen_ev *e = gen_stream(N_EV / 4, 7);
    size_t n = N_EV / 4, mid = n / 2;
    int *dec = calloc(n, sizeof *dec);
    struct sr_event *evs = calloc(n, sizeof *evs);
    char *dir = make_dir();
    struct feat *a = make(&cfg);
    feed(a, e, 0, mid, dec, evs);
    struct ck_file *file = save_open(a, dir, "mid.ckpt");

    /* One extra positive event right after loading. */
    struct feat *c = load(&cfg, file);
    struct gen_ev extra = e[mid - 1];
    extra.type = SR_PURCHASE;
    extra.eid = -1;
    extra.ts += 1;
    struct sr_raw_event r = raw_of(&extra);
    struct sr_event ev;
    ck_assert_int_eq(feat_admit(c, &r, &ev), FEAT_OK);
    ck_assert_int_eq(feat_learn(c, &ev), 0);
    feed(a, e, mid, n, dec, evs);
    feed(c, e, mid, n, dec, evs);
    char why[256] = "";
    ck_assert_uint_gt(diff_feat(a, c, why, sizeof why), 0);

    /* One event fewer: the first admitted one of the second half. */
    struct feat *d = load(&cfg, file);
    size_t skip_at = mid;
    struct feat *ref = load(&cfg, file);
    feed(ref, e, mid, n, dec, evs);
    while (dec[skip_at] != FEAT_OK)
        skip_at++;
    feed(d, e, mid, skip_at, dec, evs);
    feed(d, e, skip_at + 1, n, dec, evs);
    ck_assert_uint_gt(diff_feat(ref, d, why, sizeof why), 0);
    assert_same(a, ref); /* while the faithful resume matches */

    feat_free(a);
    feat_free(c);
    feat_free(d);
    feat_free(ref);
    ck_close(file);
    free(dec);
    free(evs);
    free(e);
    remove_dir(dir);
}
END_TEST

/* ---- damaged and mismatched checkpoints ------------------------------------ */

static const uint32_t feat_ids[] = {CK_SEC_USER_IDS,   CK_SEC_ITEM_IDS,   CK_SEC_FEAT_USERS,
                                    CK_SEC_FEAT_DEDUP, CK_SEC_FEAT_POP,   CK_SEC_FEAT_COVIS,
                                    CK_SEC_FEAT_STATS, CK_SEC_FEAT_COUNTS};

enum tamper { DROP, TRUNCATE, EXTEND, BAD_U32, DUP16 };

/* A copy of file with section id tampered with, written as dir/name;
 * BAD_U32 writes 0xfffffff0 at `at` bytes before the section's end, DUP16
 * copies the 16 bytes at offset `at` over the next 16. */
static struct ck_file *tampered_at(const struct ck_file *file, uint32_t id, enum tamper how,
                                   size_t at, const char *dir, const char *name)
{
    struct ck_writer *w = ck_writer_new();
    ck_assert_ptr_nonnull(w);
    for (size_t i = 0; i < ck_n_sections(file); i++) {
        struct ck_section_info si;
        ck_section_at(file, i, &si);
        if (si.id == id && how == DROP)
            continue;
        struct ck_rd r;
        ck_assert_int_eq(ck_find(file, si.id, &r), 0);
        size_t len = ck_rd_left(&r);
        struct ck_buf *b = ck_section(w, si.id, si.name);
        ck_assert_ptr_nonnull(b);
        if (si.id != id) {
            ck_put(b, r.p, len);
        } else if (how == TRUNCATE) {
            ck_put(b, r.p, len - 1);
        } else if (how == EXTEND) {
            ck_put(b, r.p, len);
            ck_put_u8(b, 0);
        } else if (how == BAD_U32) {
            ck_put(b, r.p, len);
            uint32_t v = 0xfffffff0u;
            memcpy(b->data + len - at, &v, 4);
        } else {
            ck_assert_uint_ge(len, at + 32);
            ck_put(b, r.p, len);
            memcpy(b->data + at + 16, b->data + at, 16);
        }
    }
    return write_open(w, dir, name);
}

static struct ck_file *tampered(const struct ck_file *file, uint32_t id, enum tamper how,
                                const char *dir, const char *name)
{
    return tampered_at(file, id, how, 0, dir, name);
}

static int try_load(const struct sr_features_cfg *cfg, const struct ck_file *file, char *err,
                    size_t len)
{
    struct feat *f = make(cfg);
    int rc = feat_load(f, file, err, len);
    feat_free(f);
    return rc;
}

START_TEST(test_refuses_damaged)
{
    struct sr_features_cfg cfg = test_cfg();
    size_t n = N_EV / 4;
    struct gen_ev *e = gen_stream(n, 3);
    int *dec = calloc(n, sizeof *dec);
    struct sr_event *evs = calloc(n, sizeof *evs);
    char *dir = make_dir();
    struct feat *a = make(&cfg);
    feed(a, e, 0, n, dec, evs);
    struct ck_file *file = save_open(a, dir, "good.ckpt");
    char err[256];

    /* A faithful copy loads (the tampering helper itself is sound). */
    struct ck_file *copy = tampered(file, 0, TRUNCATE, dir, "copy.ckpt");
    ck_assert_int_eq(try_load(&cfg, copy, err, sizeof err), 0);
    ck_close(copy);

    const char *names[] = {"user_ids", "item_ids",   "feat_users", "feat_dedup",
                           "feat_pop", "feat_covis", "feat_stats", "feat_counts"};
    for (size_t s = 0; s < sizeof feat_ids / sizeof feat_ids[0]; s++) {
        for (int how = DROP; how <= EXTEND; how++) {
            struct ck_file *bad = tampered(file, feat_ids[s], (enum tamper)how, dir, "bad.ckpt");
            err[0] = '\0';
            int rc = try_load(&cfg, bad, err, sizeof err);
            ck_assert_msg(rc == SR_ECORRUPT, "section %s, tamper %d: rc %d (%s)", names[s], how, rc,
                          err);
            ck_assert_msg(strstr(err, names[s]) != NULL, "message names the section: %s", err);
            ck_close(bad);
        }
    }
    /* Out-of-range values: the last recent item of feat_users and the last
     * first-positive order of feat_pop. */
    struct ck_file *bad = tampered_at(file, CK_SEC_FEAT_USERS, BAD_U32, 16, dir, "bad.ckpt");
    ck_assert_int_eq(try_load(&cfg, bad, err, sizeof err), SR_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(err, "out of range"));
    ck_close(bad);
    bad = tampered_at(file, CK_SEC_FEAT_POP, BAD_U32, 4, dir, "bad.ckpt");
    ck_assert_int_eq(try_load(&cfg, bad, err, sizeof err), SR_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(err, "out of range"));
    ck_close(bad);
    /* A de-dup key twice (entries start after a 32-byte header). */
    bad = tampered_at(file, CK_SEC_FEAT_DEDUP, DUP16, 32, dir, "bad.ckpt");
    ck_assert_int_eq(try_load(&cfg, bad, err, sizeof err), SR_ECORRUPT);
    ck_assert_ptr_nonnull(strstr(err, "twice"));
    ck_close(bad);

    /* Settings that shape the state differently. */
    struct sr_features_cfg other = cfg;
    snprintf(other.pop_windows, sizeof other.pop_windows, "10m");
    ck_assert_int_eq(try_load(&other, file, err, sizeof err), SR_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err, "feat_pop"));
    other = cfg;
    snprintf(other.pop_windows, sizeof other.pop_windows, "10m,3h");
    ck_assert_int_eq(try_load(&other, file, err, sizeof err), SR_ECONFIG);
    other = cfg;
    other.covis_topn = 4;
    ck_assert_int_eq(try_load(&other, file, err, sizeof err), SR_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err, "feat_covis"));
    other = cfg;
    other.covis_recent = 5;
    ck_assert_int_eq(try_load(&other, file, err, sizeof err), SR_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err, "feat_users"));
    other = cfg;
    other.dedup_capacity = 151;
    ck_assert_int_eq(try_load(&other, file, err, sizeof err), SR_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err, "feat_dedup"));

    /* Only into a fresh stage; saving twice into one writer is refused. */
    ck_assert_int_eq(feat_load(a, file, err, sizeof err), SR_EINVAL);
    struct ck_writer *w = ck_writer_new();
    ck_assert_int_eq(feat_save(a, w), 0);
    ck_assert_int_eq(feat_save(a, w), SR_EINVAL);
    ck_writer_free(w);

    feat_free(a);
    ck_close(file);
    free(dec);
    free(evs);
    free(e);
    remove_dir(dir);
}
END_TEST

/* An empty stage round-trips too. */
START_TEST(test_empty_roundtrip)
{
    struct sr_features_cfg cfg = test_cfg();
    char *dir = make_dir();
    struct feat *a = make(&cfg);
    struct ck_file *file = save_open(a, dir, "empty.ckpt");
    struct feat *b = load(&cfg, file);
    assert_same(a, b);
    struct gen_ev *e = gen_stream(2000, 11);
    int dec_a[2000], dec_b[2000];
    struct sr_event *ev = calloc(2000, sizeof *ev);
    feed(a, e, 0, 2000, dec_a, ev);
    feed(b, e, 0, 2000, dec_b, ev);
    ck_assert_mem_eq(dec_a, dec_b, sizeof dec_a);
    assert_same(a, b);
    feat_free(a);
    feat_free(b);
    ck_close(file);
    free(ev);
    free(e);
    remove_dir(dir);
}
END_TEST

/* ---- intern ------------------------------------------------------------- */

static struct ck_rd rd_of(const struct ck_buf *b)
{
    struct ck_rd r = {b->data, b->data + b->len, false};
    return r;
}

START_TEST(test_intern_roundtrip)
{
    enum { N = 200000 };
    struct sr_intern *a = sr_intern_new(0);
    ck_assert_ptr_nonnull(a);
    uint64_t s = 99;
    for (uint32_t i = 0; i < N; i++) {
        /* Any bytes, 1..255 long; the index in front keeps them distinct. */
        unsigned char buf[255];
        size_t len = 4 + rng_next(&s) % 252;
        memcpy(buf, &i, 4);
        for (size_t j = 4; j < len; j++)
            buf[j] = (unsigned char)rng_next(&s);
        if (i % 1000 == 0)
            len = 4;
        uint32_t id;
        bool added;
        REQUIRE(sr_intern_add(a, (const char *)buf, len, &id, &added) == 0 && added && id == i,
                "add %u", i);
    }
    struct ck_buf b = {0};
    ck_put_u32(&b, 0xabcdef); /* the table need not start the section */
    ck_assert_int_eq(sr_intern_save(a, &b), 0);
    struct ck_rd r = rd_of(&b);
    ck_assert_uint_eq(ck_get_u32(&r), 0xabcdef);
    struct sr_intern *c = sr_intern_new(0);
    ck_assert_int_eq(sr_intern_load(c, &r), 0);
    ck_assert(ck_rd_ok(&r));
    ck_assert_uint_eq(sr_intern_count(c), N);
    for (uint32_t i = 0; i < N; i++) {
        size_t la, lc;
        const char *x = sr_intern_str(a, i, &la), *y = sr_intern_str(c, i, &lc);
        REQUIRE(la == lc && memcmp(x, y, la) == 0 && y[lc] == '\0', "id %u: string differs", i);
        uint32_t id = UINT32_MAX;
        REQUIRE(sr_intern_find(c, x, la, &id) == 0 && id == i, "id %u: lookup gives %u", i, id);
    }
    /* New ids continue where the saved table stopped. */
    uint32_t id;
    bool added;
    ck_assert_int_eq(sr_intern_add(c, "brand new", 9, &id, &added), 0);
    ck_assert(added);
    ck_assert_uint_eq(id, N);
    /* Not into a table that has ids. */
    r = rd_of(&b);
    ck_get_u32(&r);
    ck_assert_int_eq(sr_intern_load(c, &r), SR_EINVAL);
    /* Truncated by one byte. */
    b.len--;
    r = rd_of(&b);
    ck_get_u32(&r);
    struct sr_intern *t = sr_intern_new(0);
    ck_assert_int_eq(sr_intern_load(t, &r), SR_ECORRUPT);
    sr_intern_free(t);
    sr_intern_free(a);
    sr_intern_free(c);
    free(b.data);

    /* Hand-made payloads: a repeated string, a zero length, a length past
     * the end, a byte count beyond the strings; and an empty table. */
    static const unsigned char rep[] = {2, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 1, 'a', 1, 'a'};
    static const unsigned char zero[] = {1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 'a'};
    static const unsigned char past[] = {1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 5, 'a'};
    static const unsigned char extra[] = {1, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 'a', 'b'};
    const unsigned char *bad[] = {rep, zero, past, extra};
    size_t bad_len[] = {sizeof rep, sizeof zero, sizeof past, sizeof extra};
    for (size_t k = 0; k < 4; k++) {
        struct ck_rd rr = {bad[k], bad[k] + bad_len[k], false};
        t = sr_intern_new(0);
        ck_assert_int_eq(sr_intern_load(t, &rr), SR_ECORRUPT);
        ck_assert(rr.failed);
        sr_intern_free(t);
    }
    struct ck_buf e = {0};
    t = sr_intern_new(0);
    ck_assert_int_eq(sr_intern_save(t, &e), 0);
    struct sr_intern *t2 = sr_intern_new(0);
    r = rd_of(&e);
    ck_assert_int_eq(sr_intern_load(t2, &r), 0);
    ck_assert(ck_rd_ok(&r));
    ck_assert_uint_eq(sr_intern_count(t2), 0);
    sr_intern_free(t);
    sr_intern_free(t2);
    free(e.data);
}
END_TEST

/* ---- history ------------------------------------------------------------ */

static void assert_same_hist(const struct hist *a, const struct hist *b, uint32_t n_users,
                             uint32_t n_items)
{
    for (uint32_t u = 0; u < n_users; u++) {
        uint32_t na, nb;
        const uint32_t *x = hist_items(a, u, &na), *y = hist_items(b, u, &nb);
        REQUIRE(na == nb && (na == 0 || memcmp(x, y, na * sizeof *x) == 0), "user %u: items differ",
                u);
        x = hist_bought(a, u, &na);
        y = hist_bought(b, u, &nb);
        REQUIRE(na == nb && (na == 0 || memcmp(x, y, na * sizeof *x) == 0),
                "user %u: bought items differ", u);
        for (uint32_t i = 0; i < n_items; i++)
            REQUIRE(hist_seen(a, u, i) == hist_seen(b, u, i), "user %u item %u: seen differs", u,
                    i);
    }
}

START_TEST(test_hist_roundtrip)
{
    enum { USERS = 3000, ITEMS = 300, EVENTS = 60000 };
    struct hist *a = hist_new();
    uint64_t s = 5;
    size_t seen_pairs = 0;
    for (int k = 0; k < EVENTS; k++) {
        struct sr_event ev = {.user = (uint32_t)(rng_next(&s) % (USERS - 10)),
                              .item = (uint32_t)(rng_next(&s) % ITEMS),
                              .type = (uint8_t)(rng_next(&s) % SR_EVENT_TYPE_COUNT),
                              .weight = 1};
        seen_pairs += !hist_seen(a, ev.user, ev.item);
        REQUIRE(hist_add(a, &ev) == 0, "hist_add");
    }
    ck_assert_uint_gt(seen_pairs, 10000); /* enough to grow the pair table */
    struct ck_buf b = {0};
    ck_assert_int_eq(hist_save(a, &b), 0);
    struct ck_rd r = rd_of(&b);
    struct hist *c = hist_new();
    ck_assert_int_eq(hist_load(c, &r), 0);
    ck_assert(ck_rd_ok(&r));
    assert_same_hist(a, c, USERS, ITEMS);
    /* Both continue alike, including users beyond the saved ones. */
    for (int k = 0; k < EVENTS / 4; k++) {
        struct sr_event ev = {.user = (uint32_t)(rng_next(&s) % USERS),
                              .item = (uint32_t)(rng_next(&s) % ITEMS),
                              .type = (uint8_t)(rng_next(&s) % SR_EVENT_TYPE_COUNT),
                              .weight = 1};
        REQUIRE(hist_add(a, &ev) == 0 && hist_add(c, &ev) == 0, "hist_add");
    }
    assert_same_hist(a, c, USERS, ITEMS);
    ck_assert_int_eq(hist_load(c, &r), SR_EINVAL);

    /* Truncated: refused, and the partial history frees cleanly. */
    for (size_t cut = 1; cut < 64; cut += 7) {
        struct ck_rd t = {b.data, b.data + b.len - cut, false};
        struct hist *h = hist_new();
        ck_assert_int_eq(hist_load(h, &t), SR_ECORRUPT);
        hist_free(h);
    }
    /* An item twice in a user's list; a bought item never seen. */
    /* u32 users, u64 pairs, then u32 n_seen, u32 n_bought, items */
    static const uint32_t twice[] = {1, 2, 0, 2, 0, 5, 5};
    static const uint32_t unseen[] = {1, 1, 0, 1, 1, 5, 6};
    const uint32_t *bad[] = {twice, unseen};
    for (size_t k = 0; k < 2; k++) {
        struct ck_rd t = {(const unsigned char *)bad[k], (const unsigned char *)(bad[k] + 7),
                          false};
        struct hist *h = hist_new();
        ck_assert_int_eq(hist_load(h, &t), SR_ECORRUPT);
        hist_free(h);
    }
    hist_free(a);
    hist_free(c);
    free(b.data);
}
END_TEST

Suite *ckpt_features_suite(void)
{
    Suite *s = suite_create("ckpt_features");
    TCase *tc = tcase_create("ckpt_features");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_resume_identical);
    tcase_add_test(tc, test_control_detects_divergence);
    tcase_add_test(tc, test_refuses_damaged);
    tcase_add_test(tc, test_empty_roundtrip);
    tcase_add_test(tc, test_intern_roundtrip);
    tcase_add_test(tc, test_hist_roundtrip);
    suite_add_tcase(s, tc);
    return s;
}
