/* tests/unit/test_gen.c - app/gen (synthetic stream) and ingest/writer
 * (CSV, JSON lines, Avro writers): determinism, stream invariants, the
 * structure the model promises, and that each file format reads back. */
#include "app/gen.h"
#include "core/err.h"
#include "core/event.h"
#include "ingest/writer.h"

#include <avro.h>
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Check's ck_assert_* records a mark point on every success (a write to
 * its log), which makes assertions in loops over 10^5 events slow; these
 * call into Check only on failure. */
#define EXPECT(c)                                                                                  \
    do {                                                                                           \
        if (!(c))                                                                                  \
            ck_abort_msg("failed: %s", #c);                                                        \
    } while (0)
#define EXPECT_MSG(c, ...)                                                                         \
    do {                                                                                           \
        if (!(c))                                                                                  \
            ck_abort_msg(__VA_ARGS__);                                                             \
    } while (0)
#define EXPECT_CMP(T, fmt, a, op, b)                                                               \
    do {                                                                                           \
        T a_ = (T)(a), b_ = (T)(b);                                                                \
        if (!(a_ op b_))                                                                           \
            ck_abort_msg("failed: %s %s %s (" fmt " vs " fmt ")", #a, #op, #b, a_, b_);            \
    } while (0)
#define EXPECT_INT(a, op, b)  EXPECT_CMP(long long, "%lld", a, op, b)
#define EXPECT_UINT(a, op, b) EXPECT_CMP(unsigned long long, "%llu", a, op, b)
#define EXPECT_STR_EQ(a, b)                                                                        \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (strcmp(a_, b_) != 0)                                                                   \
            ck_abort_msg("failed: %s == %s ('%s' vs '%s')", #a, #b, a_, b_);                       \
    } while (0)

/* --- helpers ---------------------------------------------------------- */

/* A generated event with its strings copied out of the generator. */
struct tev {
    struct gen_event g;
    char event_id[32], user_id[32], item_id[32], session_id[32];
};

static void small_cfg(struct gen_cfg *c, uint64_t events)
{
    gen_cfg_defaults(c);
    c->events = events;
    c->users = 5000;
    c->items = 2000;
    c->clusters = 20;
    c->seed = 42;
}

static void copy_str(char *dst, size_t cap, struct sr_str s)
{
    EXPECT((s.p) != NULL);
    EXPECT_UINT(s.len, <, cap);
    memcpy(dst, s.p, s.len);
    dst[s.len] = '\0';
}

/* Runs a generator to its end; returns a malloc'ed array of cfg->events. */
static struct tev *gen_all(const struct gen_cfg *cfg, struct gen **keep)
{
    char err[256];
    struct gen *g = gen_new(cfg, err, sizeof err);
    EXPECT_MSG(g != NULL, "gen_new: %s", err);
    struct tev *ev = calloc(cfg->events ? cfg->events : 1, sizeof *ev);
    EXPECT((ev) != NULL);
    for (uint64_t i = 0; i < cfg->events; i++) {
        EXPECT_INT(gen_next(g, &ev[i].g), ==, 0);
        copy_str(ev[i].event_id, sizeof ev[i].event_id, ev[i].g.raw.event_id);
        copy_str(ev[i].user_id, sizeof ev[i].user_id, ev[i].g.raw.user_id);
        copy_str(ev[i].item_id, sizeof ev[i].item_id, ev[i].g.raw.item_id);
        copy_str(ev[i].session_id, sizeof ev[i].session_id, ev[i].g.raw.session_id);
    }
    struct gen_event extra;
    EXPECT_INT(gen_next(g, &extra), ==, SR_EEOF);
    EXPECT_INT(gen_next(g, &extra), ==, SR_EEOF);
    EXPECT_UINT(gen_count(g), ==, cfg->events);
    if (keep)
        *keep = g;
    else
        gen_free(g);
    return ev;
}

static bool same_event(const struct tev *a, const struct tev *b)
{
    return a->g.ts_ms == b->g.ts_ms && a->g.user == b->g.user && a->g.item == b->g.item &&
           a->g.type == b->g.type && a->g.session == b->g.session &&
           a->g.raw.has_price == b->g.raw.has_price && a->g.raw.price == b->g.raw.price &&
           a->g.raw.has_quantity == b->g.raw.has_quantity &&
           a->g.raw.quantity == b->g.raw.quantity && !strcmp(a->event_id, b->event_id) &&
           !strcmp(a->user_id, b->user_id) && !strcmp(a->item_id, b->item_id) &&
           !strcmp(a->session_id, b->session_id);
}

static void tmp_path(char *buf, size_t len, const char *tag)
{
    static int n;
    snprintf(buf, len, "/tmp/sr_test_gen_%d_%d_%s", (int)getpid(), n++, tag);
}

/* Writes events to path in fmt; the writer must succeed. */
static void write_events(const char *path, enum wr_format fmt,
                         const struct sr_raw_event *const *evs, size_t n)
{
    char err[256];
    struct wr *w = wr_open(path, fmt, err, sizeof err);
    EXPECT_MSG(w != NULL, "wr_open: %s", err);
    for (size_t i = 0; i < n; i++)
        EXPECT_INT(wr_write(w, evs[i]), ==, 0);
    EXPECT_UINT(wr_count(w), ==, n);
    EXPECT_MSG(wr_close(w, err, sizeof err) == 0, "wr_close: %s", err);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    EXPECT((f) != NULL);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    EXPECT((buf) != NULL);
    EXPECT_UINT(fread(buf, 1, (size_t)n, f), ==, (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Writes the CSV of a whole generator run to path. */
static void gen_csv(const struct gen_cfg *cfg, const char *path)
{
    char err[256];
    struct gen *g = gen_new(cfg, err, sizeof err);
    EXPECT((g) != NULL);
    struct wr *w = wr_open(path, WR_CSV, err, sizeof err);
    EXPECT((w) != NULL);
    struct gen_event ev;
    while (gen_next(g, &ev) == 0)
        EXPECT_INT(wr_write(w, &ev.raw), ==, 0);
    EXPECT_INT(wr_close(w, err, sizeof err), ==, 0);
    gen_free(g);
}

/* One RFC 4180 record from *p: fields (copied, unquoted) and whether each
 * was empty-unquoted; returns the field count, 0 at the end. */
#define MAXF 12
struct csv_rec {
    int n;
    char f[MAXF][512];
    size_t len[MAXF];
};

static int csv_next(const char **p, const char *end, struct csv_rec *r)
{
    const char *s = *p;
    if (s >= end)
        return 0;
    r->n = 0;
    for (;;) {
        EXPECT_INT(r->n, <, MAXF);
        char *out = r->f[r->n];
        size_t k = 0;
        if (s < end && *s == '"') {
            s++;
            for (;;) {
                EXPECT(s < end);
                if (*s == '"') {
                    if (s + 1 < end && s[1] == '"') {
                        out[k++] = '"';
                        s += 2;
                        continue;
                    }
                    s++;
                    break;
                }
                out[k++] = *s++;
                EXPECT_UINT(k, <, 511);
            }
        } else {
            while (s < end && *s != ',' && *s != '\n') {
                out[k++] = *s++;
                EXPECT_UINT(k, <, 511);
            }
        }
        out[k] = '\0';
        r->len[r->n++] = k;
        EXPECT(s < end); /* every record ends with a newline */
        if (*s == ',') {
            s++;
            continue;
        }
        EXPECT_INT(*s, ==, '\n');
        s++;
        break;
    }
    *p = s;
    return r->n;
}

static bool str_eq(struct sr_str s, const char *c, size_t len)
{
    return s.p ? (s.len == len && memcmp(s.p, c, len) == 0) : len == 0;
}

/* --- the generator ---------------------------------------------------- */

START_TEST(test_same_seed_same_stream)
{
    struct gen_cfg cfg;
    small_cfg(&cfg, 20000);
    struct tev *a = gen_all(&cfg, NULL);
    struct tev *b = gen_all(&cfg, NULL);
    for (uint64_t i = 0; i < cfg.events; i++)
        EXPECT_MSG(same_event(&a[i], &b[i]), "event %llu differs", (unsigned long long)i);
    cfg.seed = 43;
    struct tev *c = gen_all(&cfg, NULL);
    uint64_t differ = 0;
    for (uint64_t i = 0; i < cfg.events; i++)
        differ += !same_event(&a[i], &c[i]);
    EXPECT_MSG(differ > cfg.events / 2, "only %llu of %llu events differ with another seed",
               (unsigned long long)differ, (unsigned long long)cfg.events);
    free(a);
    free(b);
    free(c);
}
END_TEST

START_TEST(test_csv_bytes_deterministic)
{
    struct gen_cfg cfg;
    small_cfg(&cfg, 5000);
    char p1[128], p2[128], p3[128];
    tmp_path(p1, sizeof p1, "a.csv");
    tmp_path(p2, sizeof p2, "b.csv");
    tmp_path(p3, sizeof p3, "c.csv");
    gen_csv(&cfg, p1);
    gen_csv(&cfg, p2);
    cfg.seed++;
    gen_csv(&cfg, p3);
    size_t n1, n2, n3;
    char *b1 = slurp(p1, &n1), *b2 = slurp(p2, &n2), *b3 = slurp(p3, &n3);
    EXPECT_UINT(n1, >, 5000 * 20);
    EXPECT(n1 == n2 && memcmp(b1, b2, n1) == 0);
    EXPECT(n1 != n3 || memcmp(b1, b3, n1) != 0);
    free(b1);
    free(b2);
    free(b3);
    unlink(p1);
    unlink(p2);
    unlink(p3);
}
END_TEST

START_TEST(test_stream_invariants)
{
    struct gen_cfg cfg;
    small_cfg(&cfg, 30000);
    struct tev *ev = gen_all(&cfg, NULL);
    EXPECT_INT(ev[0].g.ts_ms, ==, cfg.start_ms);
    for (uint64_t i = 0; i < cfg.events; i++) {
        const struct gen_event *e = &ev[i].g;
        if (i > 0)
            EXPECT_INT(e->ts_ms, >=, ev[i - 1].g.ts_ms);
        EXPECT_UINT(e->seq, ==, i);
        EXPECT_UINT(e->user, <, cfg.users);
        EXPECT_UINT(e->item, <, cfg.items);
        EXPECT_INT(e->raw.ts_ms, ==, e->ts_ms);
        EXPECT_INT(e->raw.type, ==, e->type);
        /* The string ids name the dense ones. */
        char want[32];
        snprintf(want, sizeof want, "u%u", e->user);
        EXPECT_STR_EQ(ev[i].user_id, want);
        snprintf(want, sizeof want, "i%u", e->item);
        EXPECT_STR_EQ(ev[i].item_id, want);
        snprintf(want, sizeof want, "e%llu", (unsigned long long)i);
        EXPECT_STR_EQ(ev[i].event_id, want);
        snprintf(want, sizeof want, "s%llu", (unsigned long long)e->session);
        EXPECT_STR_EQ(ev[i].session_id, want);
        EXPECT(e->raw.has_price && e->raw.price > 0 && isfinite(e->raw.price));
        bool basket = e->type == SR_ADD_TO_CART || e->type == SR_PURCHASE;
        EXPECT_INT(e->raw.has_quantity, ==, basket);
        if (basket)
            EXPECT(e->raw.quantity >= 1 && e->raw.quantity <= 3);
        EXPECT(e->type == SR_VIEW || basket || e->type == SR_FAVORITE);
    }
    /* An item keeps its price. */
    double *price = calloc(cfg.items, sizeof *price);
    for (uint64_t i = 0; i < cfg.events; i++) {
        const struct gen_event *e = &ev[i].g;
        EXPECT(price[e->item] == 0 || price[e->item] == e->raw.price);
        price[e->item] = e->raw.price;
    }
    free(price);
    free(ev);
}
END_TEST

/* Sessions: one user each, short gaps inside, long gaps between a user's
 * sessions, per-user ordinals counting up. */
START_TEST(test_sessions)
{
    struct gen_cfg cfg;
    small_cfg(&cfg, 30000);
    struct tev *ev = gen_all(&cfg, NULL);
    uint64_t nsess = 0;
    for (uint64_t i = 0; i < cfg.events; i++)
        if (ev[i].g.session + 1 > nsess)
            nsess = ev[i].g.session + 1;
    uint32_t *owner = malloc(nsess * sizeof *owner);
    int64_t *last = malloc(nsess * sizeof *last);
    for (uint64_t s = 0; s < nsess; s++)
        owner[s] = UINT32_MAX;
    /* Per user: the session seen last and its last event time. */
    uint64_t *ucur = malloc(cfg.users * sizeof *ucur);
    int64_t *uend = malloc(cfg.users * sizeof *uend);
    uint32_t *unext = calloc(cfg.users, sizeof *unext);
    for (uint64_t u = 0; u < cfg.users; u++)
        ucur[u] = UINT64_MAX;
    uint64_t multi = 0, between = 0;
    for (uint64_t i = 0; i < cfg.events; i++) {
        const struct gen_event *e = &ev[i].g;
        if (owner[e->session] == UINT32_MAX) {
            owner[e->session] = e->user;
            EXPECT_UINT(e->user_session, ==, unext[e->user]++);
            if (ucur[e->user] != UINT64_MAX) {
                /* The user's previous session is over and long enough ago. */
                EXPECT_INT(e->ts_ms - uend[e->user], >=, cfg.min_user_gap_ms);
                between++;
            }
        } else {
            EXPECT_UINT(owner[e->session], ==, e->user);
            EXPECT_UINT(ucur[e->user], ==, e->session); /* sessions of a user never overlap */
            int64_t gap = e->ts_ms - last[e->session];
            EXPECT_INT(gap, <=, 10 * 60 * 1000);
            multi++;
        }
        ucur[e->user] = e->session;
        uend[e->user] = e->ts_ms;
        last[e->session] = e->ts_ms;
    }
    /* Sessions are bursts (several events each) and users come back. */
    EXPECT_UINT(multi, >, cfg.events / 2);
    EXPECT_UINT(between, >, 100);
    free(owner);
    free(last);
    free(ucur);
    free(uend);
    free(unext);
    free(ev);
}
END_TEST

START_TEST(test_funnel)
{
    struct gen_cfg cfg;
    small_cfg(&cfg, 60000);
    struct tev *ev = gen_all(&cfg, NULL);
    /* Views per (session, item): a cart or purchase must follow one. */
    size_t cap = 1u << 17;
    uint64_t *seen = calloc(cap, sizeof *seen); /* open addressing on (session, item) + 1 */
    uint64_t n_view = 0, n_cart = 0, n_buy = 0;
    for (uint64_t i = 0; i < cfg.events; i++) {
        const struct gen_event *e = &ev[i].g;
        uint64_t key = (e->session << 32 | e->item) + 1;
        size_t h = (size_t)((key * 0x9e3779b97f4a7c15ull) >> 47) & (cap - 1);
        while (seen[h] && seen[h] != key)
            h = (h + 1) & (cap - 1);
        if (e->type == SR_VIEW) {
            seen[h] = key;
            n_view++;
        } else {
            EXPECT_MSG(seen[h] == key, "event %llu (%s of u%u i%u) without an earlier view",
                       (unsigned long long)i, sr_event_type_name(e->type), e->user, e->item);
            n_cart += e->type == SR_ADD_TO_CART;
            n_buy += e->type == SR_PURCHASE;
        }
    }
    /* Rates near the configured ones: the funnel narrows. */
    double cart_rate = (double)n_cart / (double)n_view;
    double buy_rate = (double)n_buy / (double)n_view;
    EXPECT_MSG(fabs(cart_rate - cfg.p_cart) < 0.3 * cfg.p_cart, "cart rate %.4f", cart_rate);
    EXPECT_MSG(fabs(buy_rate - cfg.p_cart * cfg.p_purchase) < 0.3 * cfg.p_cart * cfg.p_purchase,
               "purchase rate %.4f", buy_rate);
    EXPECT_UINT(n_buy, <, n_cart);
    free(seen);
    free(ev);
}
END_TEST

static int cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Share of all events taken by the top `frac` of the n counters. */
static double top_share(uint64_t *cnt, uint64_t n, double frac, uint64_t total)
{
    qsort(cnt, n, sizeof *cnt, cmp_desc);
    uint64_t k = (uint64_t)(frac * (double)n), sum = 0;
    for (uint64_t i = 0; i < k; i++)
        sum += cnt[i];
    return (double)sum / (double)total;
}

static double item_top1_share(const struct gen_cfg *cfg)
{
    struct tev *ev = gen_all(cfg, NULL);
    uint64_t *cnt = calloc(cfg->items, sizeof *cnt);
    for (uint64_t i = 0; i < cfg->events; i++)
        cnt[ev[i].g.item]++;
    double s = top_share(cnt, cfg->items, 0.01, cfg->events);
    free(cnt);
    free(ev);
    return s;
}

static double user_top1_share(const struct gen_cfg *cfg)
{
    struct tev *ev = gen_all(cfg, NULL);
    uint64_t *cnt = calloc(cfg->users, sizeof *cnt);
    for (uint64_t i = 0; i < cfg->events; i++)
        cnt[ev[i].g.user]++;
    double s = top_share(cnt, cfg->users, 0.01, cfg->events);
    free(cnt);
    free(ev);
    return s;
}

START_TEST(test_skew)
{
    struct gen_cfg cfg;
    small_cfg(&cfg, 60000);
    /* Items: the top 1% take many times their uniform 1% (about 0.17 at
     * the defaults); with a flat popularity they do not. */
    double skewed = item_top1_share(&cfg);
    EXPECT_MSG(skewed > 0.08, "top 1%% of items: %.3f of events", skewed);
    cfg.item_zipf = 0.0;
    double flat = item_top1_share(&cfg);
    EXPECT_MSG(flat < 0.04, "top 1%% of items with zipf 0: %.3f", flat);

    /* Users: the most active 1% have several times their uniform share
     * (capped by the gap between a user's sessions, so the stream spans a
     * day and a half here); flat activity does not. */
    small_cfg(&cfg, 60000);
    cfg.events_per_s = 0.5;
    double active = user_top1_share(&cfg);
    cfg.user_zipf = 0.0;
    double even = user_top1_share(&cfg);
    EXPECT_MSG(active > 0.09 && even < 0.07, "top 1%% of users: %.3f (zipf) vs %.3f (flat)", active,
               even);
}
END_TEST

START_TEST(test_taste_clusters)
{
    struct gen_cfg cfg;
    small_cfg(&cfg, 40000);
    struct gen *g;
    struct tev *ev = gen_all(&cfg, &g);
    /* Clusters are balanced and cover every item. */
    uint64_t *size = calloc(cfg.clusters, sizeof *size);
    for (uint32_t i = 0; i < cfg.items; i++) {
        uint32_t k = gen_item_cluster(g, i);
        EXPECT_UINT(k, <, cfg.clusters);
        size[k]++;
    }
    for (uint32_t k = 0; k < cfg.clusters; k++)
        EXPECT(size[k] == cfg.items / cfg.clusters || size[k] == cfg.items / cfg.clusters + 1);
    free(size);
    /* Users have one or two distinct favourites; many have two. */
    uint64_t two = 0;
    for (uint32_t u = 0; u < cfg.users; u++) {
        uint32_t fav[2];
        int n = gen_user_clusters(g, u, fav);
        EXPECT(n == 1 || n == 2);
        EXPECT_UINT(fav[0], <, cfg.clusters);
        if (n == 2) {
            EXPECT_UINT(fav[1], <, cfg.clusters);
            EXPECT_UINT(fav[0], !=, fav[1]);
            two++;
        }
    }
    EXPECT(two > cfg.users / 4 && two < cfg.users * 3 / 4 + cfg.users / 10);
    /* Events fall mostly in the user's favourite clusters; at random they
     * would in at most 2 of 20 clusters, 10%. */
    uint64_t in_fav = 0;
    for (uint64_t i = 0; i < cfg.events; i++) {
        uint32_t fav[2];
        int n = gen_user_clusters(g, ev[i].g.user, fav);
        uint32_t k = gen_item_cluster(g, ev[i].g.item);
        in_fav += k == fav[0] || (n == 2 && k == fav[1]);
    }
    double share = (double)in_fav / (double)cfg.events;
    EXPECT_MSG(share > 0.6, "events in favourite clusters: %.3f", share);
    /* Without taste, only the global popularity remains. */
    gen_free(g);
    free(ev);
    cfg.p_taste = 0.0;
    ev = gen_all(&cfg, &g);
    in_fav = 0;
    for (uint64_t i = 0; i < cfg.events; i++) {
        uint32_t fav[2];
        int n = gen_user_clusters(g, ev[i].g.user, fav);
        uint32_t k = gen_item_cluster(g, ev[i].g.item);
        in_fav += k == fav[0] || (n == 2 && k == fav[1]);
    }
    share = (double)in_fav / (double)cfg.events;
    EXPECT_MSG(share < 0.25, "events in favourite clusters without taste: %.3f", share);
    gen_free(g);
    free(ev);
}
END_TEST

/* Fraction of clusters whose most viewed item differs between the first
 * and the last third of the stream. */
static double hot_item_turnover(const struct gen_cfg *cfg)
{
    struct gen *g;
    struct tev *ev = gen_all(cfg, &g);
    uint64_t *a = calloc(cfg->items, sizeof *a), *b = calloc(cfg->items, sizeof *b);
    for (uint64_t i = 0; i < cfg->events / 3; i++)
        a[ev[i].g.item]++;
    for (uint64_t i = cfg->events - cfg->events / 3; i < cfg->events; i++)
        b[ev[i].g.item]++;
    uint32_t changed = 0;
    for (uint32_t k = 0; k < cfg->clusters; k++) {
        uint32_t ta = UINT32_MAX, tb = UINT32_MAX;
        for (uint32_t i = 0; i < cfg->items; i++) {
            if (gen_item_cluster(g, i) != k)
                continue;
            if (ta == UINT32_MAX || a[i] > a[ta])
                ta = i;
            if (tb == UINT32_MAX || b[i] > b[tb])
                tb = i;
        }
        changed += ta != tb;
    }
    free(a);
    free(b);
    free(ev);
    gen_free(g);
    return (double)changed / cfg->clusters;
}

START_TEST(test_drift)
{
    struct gen_cfg cfg;
    small_cfg(&cfg, 60000);
    cfg.drift_ms = 10 * 60 * 1000; /* many steps over the ~3.5 h stream */
    double drifting = hot_item_turnover(&cfg);
    cfg.drift_ms = 0;
    double still = hot_item_turnover(&cfg);
    EXPECT_MSG(drifting > 0.5 && still < 0.3, "hot item changed in %.2f (drift) vs %.2f (none)",
               drifting, still);
}
END_TEST

START_TEST(test_tiny_and_bad_cfg)
{
    /* Fewer users than concurrent sessions want: still a valid stream. */
    struct gen_cfg cfg;
    gen_cfg_defaults(&cfg);
    cfg.events = 3000;
    cfg.users = 3;
    cfg.items = 5;
    cfg.clusters = 2;
    cfg.events_per_s = 1000;
    struct tev *ev = gen_all(&cfg, NULL);
    for (uint64_t i = 1; i < cfg.events; i++)
        EXPECT_INT(ev[i].g.ts_ms, >=, ev[i - 1].g.ts_ms);
    free(ev);
    cfg.events = 0;
    free(gen_all(&cfg, NULL));

    char err[256];
    gen_cfg_defaults(&cfg);
    cfg.clusters = 30;
    cfg.items = 10;
    err[0] = '\0';
    EXPECT((gen_new(&cfg, err, sizeof err)) == NULL);
    EXPECT((strstr(err, "items")) != NULL);
    gen_cfg_defaults(&cfg);
    cfg.users = 0;
    EXPECT((gen_new(&cfg, err, sizeof err)) == NULL);
    EXPECT((strstr(err, "users")) != NULL);
    gen_cfg_defaults(&cfg);
    cfg.item_zipf = NAN;
    EXPECT((gen_new(&cfg, err, sizeof err)) == NULL);
    gen_cfg_defaults(&cfg);
    cfg.p_cart = 1.5;
    EXPECT((gen_new(&cfg, err, sizeof err)) == NULL);
    gen_free(NULL);
    EXPECT_INT(wr_close(NULL, NULL, 0), ==, 0);
}
END_TEST

/* --- the writers ------------------------------------------------------ */

/* Hand-made events that exercise quoting, escaping and nulls. */
static void special_events(struct sr_raw_event ev[3])
{
    memset(ev, 0, 3 * sizeof *ev);
    ev[0].ts_ms = 1;
    ev[0].user_id = (struct sr_str){"user,with \"quotes\"", 18};
    ev[0].item_id = (struct sr_str){"line\nbreak\r\tand\\back", 20};
    ev[0].type = SR_CLICK;
    ev[0].has_price = true;
    ev[0].price = 0.1 + 0.2; /* needs 17 digits */
    ev[0].has_quantity = true;
    ev[0].quantity = -7;
    ev[1].ts_ms = -5;
    ev[1].event_id = (struct sr_str){"ev\x01id", 5};
    ev[1].user_id = (struct sr_str){"\xc3\xa9l\xc3\xa8ve", 7}; /* UTF-8 */
    ev[1].item_id = (struct sr_str){"i", 1};
    ev[1].session_id = (struct sr_str){"", 0}; /* empty, not null */
    ev[1].type = SR_FAVORITE;
    ev[1].has_price = true;
    ev[1].price = -1234.5;
    ev[2].ts_ms = INT64_MAX;
    ev[2].user_id = (struct sr_str){"u", 1};
    ev[2].item_id = (struct sr_str){"x", 1};
    ev[2].type = SR_PURCHASE;
    ev[2].has_price = true;
    ev[2].price = 1e300;
}

/* First n generated events, plus pointers to them. */
static struct tev *gen_some(uint64_t n, const struct sr_raw_event **ptrs)
{
    struct gen_cfg cfg;
    small_cfg(&cfg, n);
    struct tev *ev = gen_all(&cfg, NULL);
    for (uint64_t i = 0; i < n; i++) {
        /* Re-point the views at the copies (the generator's buffer is gone). */
        ev[i].g.raw.event_id.p = ev[i].event_id;
        ev[i].g.raw.user_id.p = ev[i].user_id;
        ev[i].g.raw.item_id.p = ev[i].item_id;
        ev[i].g.raw.session_id.p = ev[i].session_id;
        ptrs[i] = &ev[i].g.raw;
    }
    return ev;
}

static void check_csv_field_str(const struct csv_rec *r, int k, struct sr_str s)
{
    EXPECT_MSG(str_eq(s, r->f[k], r->len[k]), "field %d: '%s'", k, r->f[k]);
}

START_TEST(test_csv_roundtrip)
{
    enum { N = 2000 };
    const struct sr_raw_event *ptrs[N + 3];
    struct tev *gev = gen_some(N, ptrs);
    struct sr_raw_event sp[3];
    special_events(sp);
    for (int i = 0; i < 3; i++)
        ptrs[N + i] = &sp[i];
    char path[128];
    tmp_path(path, sizeof path, "rt.csv");
    write_events(path, WR_CSV, ptrs, N + 3);

    size_t len;
    char *buf = slurp(path, &len);
    const char *p = buf, *end = buf + len;
    struct csv_rec *r = malloc(sizeof *r);
    EXPECT_INT(csv_next(&p, end, r), ==, 8);
    const char *hdr[] = {"event_id", "ts",    "user_id",  "item_id",
                         "type",     "price", "quantity", "session_id"};
    for (int k = 0; k < 8; k++)
        EXPECT_STR_EQ(r->f[k], hdr[k]);
    for (int i = 0; i < N + 3; i++) {
        const struct sr_raw_event *e = ptrs[i];
        EXPECT_INT(csv_next(&p, end, r), ==, 8);
        check_csv_field_str(r, 0, e->event_id);
        EXPECT_INT(strtoll(r->f[1], NULL, 10), ==, e->ts_ms);
        check_csv_field_str(r, 2, e->user_id);
        check_csv_field_str(r, 3, e->item_id);
        enum sr_event_type t;
        EXPECT_INT(sr_event_type_parse(r->f[4], r->len[4], &t), ==, 0);
        EXPECT_INT(t, ==, e->type);
        if (e->has_price)
            EXPECT(strtod(r->f[5], NULL) == e->price);
        else
            EXPECT_UINT(r->len[5], ==, 0);
        if (i < N) /* cent prices are written short: "12.99", not 17 digits */
            EXPECT_UINT(r->len[5], <=, 6);
        if (e->has_quantity)
            EXPECT_INT(strtol(r->f[6], NULL, 10), ==, e->quantity);
        else
            EXPECT_UINT(r->len[6], ==, 0);
        check_csv_field_str(r, 7, e->session_id);
    }
    EXPECT_INT(csv_next(&p, end, r), ==, 0);
    free(r);
    free(buf);
    free(gev);
    unlink(path);
}
END_TEST

static void check_json_str(json_t *o, const char *key, struct sr_str s)
{
    json_t *v = json_object_get(o, key);
    EXPECT_MSG(v != NULL, "missing %s", key);
    if (!s.p) {
        EXPECT_MSG(json_is_null(v), "%s should be null", key);
        return;
    }
    EXPECT(json_is_string(v));
    EXPECT_UINT(json_string_length(v), ==, s.len);
    EXPECT(memcmp(json_string_value(v), s.p, s.len) == 0);
}

START_TEST(test_jsonl_roundtrip)
{
    enum { N = 2000 };
    const struct sr_raw_event *ptrs[N + 3];
    struct tev *gev = gen_some(N, ptrs);
    struct sr_raw_event sp[3];
    special_events(sp);
    for (int i = 0; i < 3; i++)
        ptrs[N + i] = &sp[i];
    char path[128];
    tmp_path(path, sizeof path, "rt.jsonl");
    write_events(path, WR_JSONL, ptrs, N + 3);

    FILE *f = fopen(path, "r");
    EXPECT((f) != NULL);
    char *line = NULL;
    size_t cap = 0;
    int i = 0;
    while (getline(&line, &cap, f) > 0) {
        EXPECT_INT(i, <, N + 3);
        const struct sr_raw_event *e = ptrs[i++];
        json_error_t jerr;
        json_t *o = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
        EXPECT_MSG(o != NULL, "line %d: %s", i, jerr.text);
        EXPECT(json_is_object(o));
        EXPECT_UINT(json_object_size(o), ==, 8);
        check_json_str(o, "event_id", e->event_id);
        EXPECT(json_is_integer(json_object_get(o, "ts")));
        EXPECT_INT(json_integer_value(json_object_get(o, "ts")), ==, e->ts_ms);
        check_json_str(o, "user_id", e->user_id);
        check_json_str(o, "item_id", e->item_id);
        EXPECT_STR_EQ(json_string_value(json_object_get(o, "type")), sr_event_type_name(e->type));
        json_t *pr = json_object_get(o, "price");
        if (e->has_price)
            EXPECT(json_is_number(pr) && json_number_value(pr) == e->price);
        else
            EXPECT(json_is_null(pr));
        json_t *q = json_object_get(o, "quantity");
        if (e->has_quantity)
            EXPECT(json_is_integer(q) && json_integer_value(q) == e->quantity);
        else
            EXPECT(json_is_null(q));
        check_json_str(o, "session_id", e->session_id);
        json_decref(o);
    }
    EXPECT_INT(i, ==, N + 3);
    free(line);
    fclose(f);
    free(gev);
    unlink(path);
}
END_TEST

static void check_avro_str(avro_value_t *rec, const char *name, struct sr_str s, bool optional)
{
    avro_value_t f, b, *v = &f;
    EXPECT_INT(avro_value_get_by_name(rec, name, &f, NULL), ==, 0);
    if (optional) {
        int disc;
        EXPECT_INT(avro_value_get_discriminant(&f, &disc), ==, 0);
        EXPECT_INT(avro_value_get_current_branch(&f, &b), ==, 0);
        if (!s.p) {
            EXPECT_INT(disc, ==, 0);
            return;
        }
        EXPECT_INT(disc, ==, 1);
        v = &b;
    }
    const char *str;
    size_t size;
    EXPECT_INT(avro_value_get_string(v, &str, &size), ==, 0);
    EXPECT_UINT(size, ==, (size_t)s.len + 1); /* size counts the NUL */
    EXPECT(memcmp(str, s.p, s.len) == 0);
}

START_TEST(test_avro_roundtrip)
{
    enum { N = 3000 };
    const struct sr_raw_event *ptrs[N + 3];
    struct tev *gev = gen_some(N, ptrs);
    struct sr_raw_event sp[3];
    special_events(sp);
    for (int i = 0; i < 3; i++)
        ptrs[N + i] = &sp[i];
    char path[128];
    tmp_path(path, sizeof path, "rt.avro");
    write_events(path, WR_AVRO, ptrs, N + 3);

    avro_file_reader_t rd;
    EXPECT_MSG(avro_file_reader(path, &rd) == 0, "%s", avro_strerror());
    avro_schema_t ws = avro_file_reader_get_writer_schema(rd);
    EXPECT_STR_EQ(avro_schema_type_name(ws), "Event");
    avro_value_iface_t *iface = avro_generic_class_from_schema(ws);
    avro_value_t rec;
    EXPECT_INT(avro_generic_value_new(iface, &rec), ==, 0);
    int i = 0;
    while (avro_file_reader_read_value(rd, &rec) == 0) {
        EXPECT_INT(i, <, N + 3);
        const struct sr_raw_event *e = ptrs[i++];
        avro_value_t f, b;
        check_avro_str(&rec, "event_id", e->event_id, true);
        int64_t ts;
        EXPECT_INT(avro_value_get_by_name(&rec, "ts", &f, NULL), ==, 0);
        EXPECT_INT(avro_value_get_long(&f, &ts), ==, 0);
        EXPECT_INT(ts, ==, e->ts_ms);
        check_avro_str(&rec, "user_id", e->user_id, false);
        check_avro_str(&rec, "item_id", e->item_id, false);
        int t;
        EXPECT_INT(avro_value_get_by_name(&rec, "type", &f, NULL), ==, 0);
        EXPECT_INT(avro_value_get_enum(&f, &t), ==, 0);
        EXPECT_INT(t, ==, e->type);
        int disc;
        EXPECT_INT(avro_value_get_by_name(&rec, "price", &f, NULL), ==, 0);
        EXPECT_INT(avro_value_get_discriminant(&f, &disc), ==, 0);
        EXPECT_INT(disc, ==, e->has_price ? 1 : 0);
        if (e->has_price) {
            double pr;
            EXPECT_INT(avro_value_get_current_branch(&f, &b), ==, 0);
            EXPECT_INT(avro_value_get_double(&b, &pr), ==, 0);
            EXPECT(pr == e->price);
        }
        EXPECT_INT(avro_value_get_by_name(&rec, "quantity", &f, NULL), ==, 0);
        EXPECT_INT(avro_value_get_discriminant(&f, &disc), ==, 0);
        EXPECT_INT(disc, ==, e->has_quantity ? 1 : 0);
        if (e->has_quantity) {
            int32_t q;
            EXPECT_INT(avro_value_get_current_branch(&f, &b), ==, 0);
            EXPECT_INT(avro_value_get_int(&b, &q), ==, 0);
            EXPECT_INT(q, ==, e->quantity);
        }
        check_avro_str(&rec, "session_id", e->session_id, true);
    }
    EXPECT_INT(i, ==, N + 3);
    avro_value_decref(&rec);
    avro_value_iface_decref(iface);
    avro_schema_decref(ws); /* the getter returned a new reference */
    avro_file_reader_close(rd);
    free(gev);
    unlink(path);
}
END_TEST

START_TEST(test_writer_errors)
{
    char err[256];
    err[0] = '\0';
    EXPECT((wr_open("/nonexistent-dir/x.csv", WR_CSV, err, sizeof err)) == NULL);
    EXPECT((strstr(err, "/nonexistent-dir/x.csv")) != NULL);
    err[0] = '\0';
    EXPECT((wr_open("-", WR_AVRO, err, sizeof err)) == NULL);
    EXPECT((strstr(err, "stdout")) != NULL);

    enum wr_format f;
    EXPECT_INT(wr_format_parse("jsonl", &f), ==, 0);
    EXPECT_INT(f, ==, WR_JSONL);
    EXPECT_INT(wr_format_parse("avro", &f), ==, 0);
    EXPECT_INT(f, ==, WR_AVRO);
    EXPECT_INT(wr_format_parse("parquet", &f), ==, SR_EINVAL);
    EXPECT_STR_EQ(wr_format_name(WR_CSV), "csv");

    /* Unrepresentable events are refused, and nothing is written. */
    char path[128];
    tmp_path(path, sizeof path, "bad.jsonl");
    struct wr *w = wr_open(path, WR_JSONL, err, sizeof err);
    EXPECT((w) != NULL);
    struct sr_raw_event sp[3];
    special_events(sp);
    struct sr_raw_event bad = sp[2];
    bad.price = INFINITY;
    EXPECT_INT(wr_write(w, &bad), ==, SR_EINVAL);
    bad = sp[2];
    bad.user_id = (struct sr_str){"\xff\xfe", 2};
    EXPECT_INT(wr_write(w, &bad), ==, SR_EINVAL);
    EXPECT((strstr(wr_error(w), "UTF-8")) != NULL);
    bad = sp[2];
    bad.type = SR_EVENT_TYPE_COUNT;
    EXPECT_INT(wr_write(w, &bad), ==, SR_EINVAL);
    EXPECT_INT(wr_write(w, &sp[2]), ==, 0);
    EXPECT_UINT(wr_count(w), ==, 1);
    EXPECT_INT(wr_close(w, err, sizeof err), ==, 0);
    size_t len;
    char *buf = slurp(path, &len);
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += buf[i] == '\n';
    EXPECT_INT(lines, ==, 1); /* only the good event */
    free(buf);
    unlink(path);

    /* A full disk shows up, at the latest at close, for every format. */
    if (access("/dev/full", W_OK) != 0)
        return;
    for (int fmt = WR_CSV; fmt <= WR_AVRO; fmt++) {
        w = wr_open("/dev/full", (enum wr_format)fmt, err, sizeof err);
        if (!w) { /* the Avro header may already fail */
            EXPECT_INT(fmt, ==, WR_AVRO);
            continue;
        }
        int rc = 0;
        for (int i = 0; i < 20000 && rc == 0; i++)
            rc = wr_write(w, &sp[0]);
        int crc = wr_close(w, err, sizeof err);
        EXPECT_MSG(rc == SR_EIO || crc == SR_EIO, "format %d: no error on /dev/full", fmt);
        if (crc == SR_EIO)
            EXPECT_MSG(err[0] != '\0', "format %d: empty error", fmt);
    }
}
END_TEST

Suite *gen_suite(void)
{
    Suite *s = suite_create("gen");
    TCase *tc = tcase_create("gen");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_same_seed_same_stream);
    tcase_add_test(tc, test_csv_bytes_deterministic);
    tcase_add_test(tc, test_stream_invariants);
    tcase_add_test(tc, test_sessions);
    tcase_add_test(tc, test_funnel);
    tcase_add_test(tc, test_skew);
    tcase_add_test(tc, test_taste_clusters);
    tcase_add_test(tc, test_drift);
    tcase_add_test(tc, test_tiny_and_bad_cfg);
    tcase_add_test(tc, test_csv_roundtrip);
    tcase_add_test(tc, test_jsonl_roundtrip);
    tcase_add_test(tc, test_avro_roundtrip);
    tcase_add_test(tc, test_writer_errors);
    suite_add_tcase(s, tc);
    return s;
}
