/* tests/unit/test_features.c - features/: every skip reason, sessions,
 * weights, interning, decayed popularity and co-visitation against
 * brute-force recomputations, and the admit/learn split.
 *
 * FEAT_BENCH=1 makes test_scale replay 1M synthetic events (100k users, 20k
 * Zipf items) and print the admit+learn time per event; without it the same
 * test runs 100k events and checks invariants only. */
#include "core/config.h"
#include "core/err.h"
#include "core/event.h"
#include "core/intern.h"
#include "core/time.h"
#include "features/feat.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MIN_MS  (60 * 1000LL)
#define HOUR_MS (60 * MIN_MS)
#define T0      1600000000000LL /* a plausible event time, ms */

static struct sr_features_cfg default_cfg(void)
{
    struct sr_config c;
    sr_config_defaults(&c);
    return c.features;
}

static struct feat *make(const struct sr_features_cfg *cfg)
{
    char err[256] = "";
    struct feat *f = feat_new(cfg, err, sizeof err);
    ck_assert_msg(f != NULL, "feat_new: %s", err);
    return f;
}

static struct sr_str str_of(const char *s)
{
    struct sr_str r = {s, s ? (uint32_t)strlen(s) : 0};
    return r;
}

static struct sr_raw_event raw_of(const char *user, const char *item, int type, int64_t ts,
                                  const char *event_id)
{
    struct sr_raw_event r;
    memset(&r, 0, sizeof r);
    r.user_id = str_of(user);
    r.item_id = str_of(item);
    r.type = (enum sr_event_type)type;
    r.ts_ms = ts;
    r.event_id = str_of(event_id);
    return r;
}

static int admit(struct feat *f, const char *user, const char *item, int type, int64_t ts,
                 const char *event_id, struct sr_event *ev)
{
    struct sr_raw_event r = raw_of(user, item, type, ts, event_id);
    struct sr_event tmp;
    return feat_admit(f, &r, ev ? ev : &tmp);
}

/* Admits and learns; returns the admit result. */
static int feed(struct feat *f, const char *user, const char *item, int type, int64_t ts,
                struct sr_event *out)
{
    struct sr_event ev;
    int r = admit(f, user, item, type, ts, NULL, &ev);
    if (r == FEAT_OK)
        ck_assert_int_eq(feat_learn(f, &ev), 0);
    if (out)
        *out = ev;
    return r;
}

static uint32_t item_id(const struct feat *f, const char *s)
{
    uint32_t id = UINT32_MAX;
    ck_assert_int_eq(sr_intern_find(feat_items(f), s, strlen(s), &id), 0);
    return id;
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t cpu_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static double rng_unit(uint64_t *s)
{
    return (double)(rng_next(s) >> 11) / 9007199254740992.0;
}

START_TEST(test_skip_names)
{
    ck_assert_str_eq(feat_skip_name(FEAT_SKIP_BAD_USER), "bad_user");
    ck_assert_str_eq(feat_skip_name(FEAT_SKIP_BAD_ITEM), "bad_item");
    ck_assert_str_eq(feat_skip_name(FEAT_SKIP_BAD_TIME), "bad_time");
    ck_assert_str_eq(feat_skip_name(FEAT_SKIP_BAD_TYPE), "bad_type");
    ck_assert_str_eq(feat_skip_name(FEAT_SKIP_DUPLICATE), "duplicate");
    ck_assert_str_eq(feat_skip_name(FEAT_SKIP_BOT), "bot");
    ck_assert_str_eq(feat_skip_name(FEAT_SKIP_LATE), "late");
    /* A bad configuration is refused with a sentence naming the key. */
    struct sr_features_cfg cfg = default_cfg();
    snprintf(cfg.pop_windows, sizeof cfg.pop_windows, "1h,soon");
    char err[256] = "";
    ck_assert_ptr_null(feat_new(&cfg, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "pop_windows"));
    /* Before any event: empty, but every accessor is usable. */
    cfg = default_cfg();
    struct feat *f = make(&cfg);
    ck_assert_uint_eq(feat_n_users(f), 0);
    ck_assert_uint_eq(feat_n_items(f), 0);
    ck_assert_ptr_nonnull(feat_pop_scores(f, 0));
    ck_assert_ptr_nonnull(feat_pop_all(f));
    ck_assert_ptr_nonnull(feat_item_first_pos(f));
    ck_assert_ptr_null(feat_pop_scores(f, feat_pop_n_windows(f)));
    uint32_t got[4];
    ck_assert_uint_eq(feat_covis(f, 0, got, NULL, 4), 0);
    ck_assert_uint_eq(feat_user_recent(f, 0, got, 4), 0);
    ck_assert_uint_eq(feat_user_positives(f, 0), 0);
    struct feat_stats st;
    feat_stats(f, &st);
    ck_assert_uint_eq(st.admitted, 0);
    feat_free(f);
    feat_free(NULL);
}
END_TEST

START_TEST(test_validation)
{
    struct sr_features_cfg cfg = default_cfg();
    cfg.max_id_len = 8;
    cfg.min_ts_ms = 1000;
    cfg.max_ts_ms = 2000;
    struct feat *f = make(&cfg);
    struct sr_raw_event r = raw_of("u", "i", SR_CLICK, 1500, NULL);
    r.user_id.p = NULL;
    r.user_id.len = 0;
    struct sr_event ev;
    ck_assert_int_eq(feat_admit(f, &r, &ev), FEAT_SKIP_BAD_USER);
    ck_assert_int_eq(admit(f, "", "i", SR_CLICK, 1500, NULL, NULL), FEAT_SKIP_BAD_USER);
    ck_assert_int_eq(admit(f, "123456789", "i", SR_CLICK, 1500, NULL, NULL), FEAT_SKIP_BAD_USER);
    ck_assert_int_eq(admit(f, "u", "", SR_CLICK, 1500, NULL, NULL), FEAT_SKIP_BAD_ITEM);
    ck_assert_int_eq(admit(f, "u", "123456789", SR_CLICK, 1500, NULL, NULL), FEAT_SKIP_BAD_ITEM);
    ck_assert_int_eq(admit(f, "u", "i", SR_CLICK, 999, NULL, NULL), FEAT_SKIP_BAD_TIME);
    ck_assert_int_eq(admit(f, "u", "i", SR_CLICK, 2001, NULL, NULL), FEAT_SKIP_BAD_TIME);
    ck_assert_int_eq(admit(f, "u", "i", SR_EVENT_TYPE_COUNT, 1500, NULL, NULL), FEAT_SKIP_BAD_TYPE);
    ck_assert_int_eq(admit(f, "u", "i", -1, 1500, NULL, NULL), FEAT_SKIP_BAD_TYPE);
    /* Nothing invalid was interned. */
    ck_assert_uint_eq(feat_n_users(f), 0);
    ck_assert_uint_eq(feat_n_items(f), 0);
    /* The limits themselves are valid. */
    ck_assert_int_eq(admit(f, "12345678", "12345678", SR_PURCHASE, 1000, NULL, NULL), FEAT_OK);
    ck_assert_int_eq(admit(f, "u", "i", SR_VIEW, 2000, NULL, NULL), FEAT_OK);
    struct feat_stats st;
    feat_stats(f, &st);
    ck_assert_uint_eq(st.admitted, 2);
    ck_assert_uint_eq(st.skipped[FEAT_SKIP_BAD_USER], 3);
    ck_assert_uint_eq(st.skipped[FEAT_SKIP_BAD_ITEM], 2);
    ck_assert_uint_eq(st.skipped[FEAT_SKIP_BAD_TIME], 2);
    ck_assert_uint_eq(st.skipped[FEAT_SKIP_BAD_TYPE], 2);
    ck_assert_uint_eq(st.skipped[FEAT_SKIP_DUPLICATE], 0);
    ck_assert_int_eq(st.watermark_ms, 2000);
    feat_free(f);
}
END_TEST

START_TEST(test_dedup)
{
    struct sr_features_cfg cfg = default_cfg();
    cfg.dedup_window_ms = 60000;
    cfg.allowed_lateness_ms = 10 * HOUR_MS;
    struct feat *f = make(&cfg);
    /* By event_id: whatever else differs. */
    ck_assert_int_eq(admit(f, "u1", "a", SR_CLICK, T0, "e1", NULL), FEAT_OK);
    ck_assert_int_eq(admit(f, "u2", "b", SR_VIEW, T0 + 30000, "e1", NULL), FEAT_SKIP_DUPLICATE);
    ck_assert_int_eq(admit(f, "u1", "a", SR_CLICK, T0 + 59999, "e1", NULL), FEAT_SKIP_DUPLICATE);
    ck_assert_int_eq(admit(f, "u1", "a", SR_CLICK, T0 + 1000, "e2", NULL), FEAT_OK);
    /* Outside the window it is a new event, and it is remembered anew. */
    ck_assert_int_eq(admit(f, "u1", "a", SR_CLICK, T0 + 60001, "e1", NULL), FEAT_OK);
    ck_assert_int_eq(admit(f, "u1", "a", SR_CLICK, T0 + 110000, "e1", NULL), FEAT_SKIP_DUPLICATE);
    /* Earlier in event time (within lateness) counts the same way. */
    ck_assert_int_eq(admit(f, "u1", "a", SR_CLICK, T0 - 59000, "e2", NULL), FEAT_SKIP_DUPLICATE);
    ck_assert_int_eq(admit(f, "u1", "a", SR_CLICK, T0 - 61000, "e2", NULL), FEAT_OK);

    /* Without an event_id: an exact repeat of user, item, type and time. */
    ck_assert_int_eq(admit(f, "u3", "c", SR_CLICK, T0 + 5000, NULL, NULL), FEAT_OK);
    ck_assert_int_eq(admit(f, "u3", "c", SR_CLICK, T0 + 5000, NULL, NULL), FEAT_SKIP_DUPLICATE);
    ck_assert_int_eq(admit(f, "u3", "c", SR_PURCHASE, T0 + 5000, NULL, NULL), FEAT_OK);
    ck_assert_int_eq(admit(f, "u3", "c", SR_CLICK, T0 + 5001, NULL, NULL), FEAT_OK);
    ck_assert_int_eq(admit(f, "u4", "c", SR_CLICK, T0 + 5000, NULL, NULL), FEAT_OK);
    ck_assert_int_eq(admit(f, "u3", "d", SR_CLICK, T0 + 5000, NULL, NULL), FEAT_OK);
    /* The user and item strings are not confused across the boundary. */
    ck_assert_int_eq(admit(f, "u3c", "x", SR_CLICK, T0 + 7000, NULL, NULL), FEAT_OK);
    ck_assert_int_eq(admit(f, "u3", "cx", SR_CLICK, T0 + 7000, NULL, NULL), FEAT_OK);
    struct feat_stats st;
    feat_stats(f, &st);
    ck_assert_uint_eq(st.skipped[FEAT_SKIP_DUPLICATE], 5);
    ck_assert_uint_eq(st.admitted, 11);
    feat_free(f);

    /* Window 0: de-duplication is off. */
    cfg.dedup_window_ms = 0;
    f = make(&cfg);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(admit(f, "u", "i", SR_CLICK, T0, "same", NULL), FEAT_OK);
        ck_assert_int_eq(admit(f, "u", "i", SR_CLICK, T0, NULL, NULL), FEAT_OK);
    }
    feat_free(f);

    /* Bounded memory: with room for 4 keys, the 5th new key forgets the oldest. */
    cfg.dedup_window_ms = HOUR_MS;
    cfg.dedup_capacity = 4;
    f = make(&cfg);
    const char *ids[] = {"k0", "k1", "k2", "k3", "k4"};
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(admit(f, "u", "i", SR_CLICK, T0 + i, ids[i], NULL), FEAT_OK);
    ck_assert_int_eq(admit(f, "u", "i", SR_CLICK, T0 + 10, "k4", NULL), FEAT_SKIP_DUPLICATE);
    ck_assert_int_eq(admit(f, "u", "i", SR_CLICK, T0 + 10, "k1", NULL), FEAT_SKIP_DUPLICATE);
    ck_assert_int_eq(admit(f, "u", "i", SR_CLICK, T0 + 10, "k0", NULL), FEAT_OK);
    feat_free(f);
}
END_TEST

START_TEST(test_dedup_expiry)
{
    /* Keys leave the de-dup memory once no admissible event can repeat them:
     * every repeat that is not late is still caught, and memory stays flat. */
    struct sr_features_cfg cfg = default_cfg();
    cfg.dedup_window_ms = 60000;
    cfg.allowed_lateness_ms = 10 * MIN_MS;
    cfg.bot_max_events = 0;
    struct feat *f = make(&cfg);
    char id[32];
    size_t bytes_early = 0;
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof id, "k%d", i);
        ck_assert_int_eq(admit(f, "u", "i", SR_CLICK, T0 + i * 1000LL, id, NULL), FEAT_OK);
        if (i == 3000)
            bytes_early = feat_bytes(f);
    }
    ck_assert_uint_eq(feat_bytes(f), bytes_early);
    /* Watermark T0 + 19999 s: events from T0 + 19399 s on are admissible. */
    for (int i = 19399; i < 20000; i += 7) {
        snprintf(id, sizeof id, "k%d", i);
        ck_assert_int_eq(admit(f, "u", "i", SR_CLICK, T0 + i * 1000LL, id, NULL),
                         FEAT_SKIP_DUPLICATE);
    }
    /* A repeat of a key remembered 10 min + 60 s ago, at an admissible time
     * within the window of the original, is still a duplicate. */
    ck_assert_int_eq(admit(f, "u", "i", SR_CLICK, T0 + 19399000LL, "k19340", NULL),
                     FEAT_SKIP_DUPLICATE);
    ck_assert_int_eq(admit(f, "u", "i", SR_CLICK, T0 + 19398000LL, "k19340", NULL), FEAT_SKIP_LATE);
    feat_free(f);
}
END_TEST

START_TEST(test_bot)
{
    struct sr_features_cfg cfg = default_cfg();
    cfg.bot_max_events = 3;
    cfg.bot_window_ms = 10000;
    cfg.dedup_window_ms = 0;
    struct feat *f = make(&cfg);
    struct sr_event ev;
    /* Three events in the window are fine, the fourth flags the user. */
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(admit(f, "bot", "i", SR_CLICK, T0 + i * 1000, NULL, NULL), FEAT_OK);
    ck_assert_int_eq(admit(f, "human", "i", SR_CLICK, T0 + 3000, NULL, NULL), FEAT_OK);
    ck_assert_int_eq(admit(f, "bot", "i", SR_CLICK, T0 + 3000, NULL, NULL), FEAT_SKIP_BOT);
    /* ... and stays flagged, however slowly it continues. */
    ck_assert_int_eq(admit(f, "bot", "i", SR_CLICK, T0 + HOUR_MS, NULL, NULL), FEAT_SKIP_BOT);
    ck_assert_int_eq(admit(f, "bot", "j", SR_VIEW, T0 + 2 * HOUR_MS, NULL, NULL), FEAT_SKIP_BOT);
    /* A user at exactly the limit (3 per 10 s, every 4 s) is never flagged. */
    for (int i = 0; i < 40; i++)
        ck_assert_int_eq(admit(f, "steady", "i", SR_CLICK, T0 + 2 * HOUR_MS + i * 4000, NULL, &ev),
                         FEAT_OK);
    struct feat_stats st;
    feat_stats(f, &st);
    ck_assert_uint_eq(st.bots, 1);
    ck_assert_uint_eq(st.skipped[FEAT_SKIP_BOT], 3);
    ck_assert_uint_eq(st.admitted, 44);
    /* The bot's dropped item "j" was never interned. */
    ck_assert_int_eq(sr_intern_find(feat_items(f), "j", 1, &ev.item), SR_ENOENT);
    feat_free(f);

    /* 0 = off. */
    cfg.bot_max_events = 0;
    f = make(&cfg);
    for (int i = 0; i < 500; i++)
        ck_assert_int_eq(admit(f, "fast", "i", SR_CLICK, T0 + i, NULL, NULL), FEAT_OK);
    feat_free(f);
}
END_TEST

START_TEST(test_lateness)
{
    struct sr_features_cfg cfg = default_cfg();
    cfg.allowed_lateness_ms = 10000;
    struct feat *f = make(&cfg);
    ck_assert_int_eq(admit(f, "u", "a", SR_CLICK, T0 + 100000, NULL, NULL), FEAT_OK);
    ck_assert_int_eq(admit(f, "u", "b", SR_CLICK, T0 + 95000, NULL, NULL), FEAT_OK);
    ck_assert_int_eq(admit(f, "u", "c", SR_CLICK, T0 + 90000, NULL, NULL), FEAT_OK);
    ck_assert_int_eq(admit(f, "u", "d", SR_CLICK, T0 + 89999, NULL, NULL), FEAT_SKIP_LATE);
    ck_assert_int_eq(admit(f, "v", "a", SR_CLICK, T0 + 100000, NULL, NULL), FEAT_OK);
    struct feat_stats st;
    feat_stats(f, &st);
    ck_assert_uint_eq(st.skipped[FEAT_SKIP_LATE], 1);
    ck_assert_uint_eq(st.out_of_order, 2);
    ck_assert_int_eq(st.watermark_ms, T0 + 100000);
    /* The watermark moves with the latest admitted event only. */
    ck_assert_int_eq(admit(f, "u", "a", SR_CLICK, T0 + 200000, NULL, NULL), FEAT_OK);
    ck_assert_int_eq(admit(f, "u", "e", SR_CLICK, T0 + 189999, NULL, NULL), FEAT_SKIP_LATE);
    ck_assert_int_eq(admit(f, "u", "e", SR_CLICK, T0 + 190000, NULL, NULL), FEAT_OK);
    feat_stats(f, &st);
    ck_assert_uint_eq(st.skipped[FEAT_SKIP_LATE], 2);
    ck_assert_uint_eq(st.out_of_order, 3);
    ck_assert_int_eq(st.watermark_ms, T0 + 200000);
    feat_free(f);
}
END_TEST

START_TEST(test_sessions)
{
    struct sr_features_cfg cfg = default_cfg();
    cfg.session_gap_ms = 30 * MIN_MS;
    struct feat *f = make(&cfg);
    struct sr_event ev;
    const int64_t t[] = {T0,
                         T0 + 10 * MIN_MS,
                         T0 + 40 * MIN_MS,
                         T0 + 70 * MIN_MS,
                         T0 + 100 * MIN_MS + 1,
                         T0 + 100 * MIN_MS + 2};
    const uint32_t want[] = {0, 0, 0, 0, 1, 1};
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(admit(f, "a", "x", SR_CLICK, t[i], NULL, &ev), FEAT_OK);
        ck_assert_uint_eq(ev.session, want[i]);
    }
    /* An event just after a gap of more than session_gap starts session 2. */
    ck_assert_int_eq(admit(f, "a", "x", SR_CLICK, T0 + 131 * MIN_MS, NULL, &ev), FEAT_OK);
    ck_assert_uint_eq(ev.session, 2);
    /* Out of order within lateness: joins the current session. */
    ck_assert_int_eq(admit(f, "a", "y", SR_CLICK, T0 + 129 * MIN_MS, NULL, &ev), FEAT_OK);
    ck_assert_uint_eq(ev.session, 2);
    /* Another user has its own numbering. */
    ck_assert_int_eq(admit(f, "b", "x", SR_CLICK, T0 + 131 * MIN_MS, NULL, &ev), FEAT_OK);
    ck_assert_uint_eq(ev.session, 0);
    struct feat_stats st;
    feat_stats(f, &st);
    ck_assert_uint_eq(st.sessions, 4); /* a: 0, 1, 2; b: 0 */
    feat_free(f);
}
END_TEST

START_TEST(test_weights_and_interning)
{
    struct sr_features_cfg cfg = default_cfg();
    const double w[SR_EVENT_TYPE_COUNT] = {0, 1.5, 2.25, 4, 8};
    memcpy(cfg.weight, w, sizeof w);
    struct feat *f = make(&cfg);
    struct sr_event ev;
    const char *users[] = {"ub", "ua", "ub", "uc", "ua"};
    const char *items[] = {"i3", "i1", "i2", "i3", "i9"};
    const uint32_t want_user[] = {0, 1, 0, 2, 1};
    const uint32_t want_item[] = {0, 1, 2, 0, 3};
    for (int i = 0; i < 5; i++) {
        /* An invalid event in between must not take an id. */
        ck_assert_int_eq(admit(f, "zz", "zz", SR_CLICK, -5, NULL, NULL), FEAT_SKIP_BAD_TIME);
        int type = i % SR_EVENT_TYPE_COUNT;
        ck_assert_int_eq(admit(f, users[i], items[i], type, T0 + i, NULL, &ev), FEAT_OK);
        ck_assert_uint_eq(ev.user, want_user[i]);
        ck_assert_uint_eq(ev.item, want_item[i]);
        ck_assert_uint_eq(ev.type, type);
        ck_assert_int_eq(ev.ts_ms, T0 + i);
        ck_assert(ev.weight == (float)w[type]);
    }
    ck_assert_uint_eq(feat_n_users(f), 3);
    ck_assert_uint_eq(feat_n_items(f), 4);
    ck_assert_str_eq(sr_intern_str(feat_users(f), 2, NULL), "uc");
    ck_assert_str_eq(sr_intern_str(feat_items(f), 3, NULL), "i9");
    ck_assert_uint_gt(feat_bytes(f), 0);
    feat_free(f);
}
END_TEST

/* ---- popularity against brute force ------------------------------------ */

struct bev {
    int user, item, type;
    int64_t ts;
};

START_TEST(test_popularity_bruteforce)
{
    for (uint64_t seed = 1; seed <= 20; seed++) {
        uint64_t rs = seed * 7919;
        struct sr_features_cfg cfg = default_cfg();
        snprintf(cfg.pop_windows, sizeof cfg.pop_windows, "1m,20m,24h");
        cfg.weight[SR_VIEW] = 0; /* views only mark items seen */
        cfg.allowed_lateness_ms = 10 * MIN_MS;
        cfg.dedup_window_ms = 0;
        struct feat *f = make(&cfg);
        ck_assert_uint_eq(feat_pop_n_windows(f), 3);
        ck_assert_int_eq(feat_pop_window_ms(f, 1), 20 * MIN_MS);
        ck_assert_int_eq(feat_pop_find(f, 24 * HOUR_MS), 2);
        ck_assert_int_eq(feat_pop_find(f, HOUR_MS), -1);

        enum { N = 400, NI = 12 };
        double sum[3][NI] = {{0}};
        int64_t tmax = 0;
        int64_t t = T0;
        struct sr_event evs[N];
        int n = 0;
        for (int i = 0; i < N; i++) {
            /* Mostly forward, sometimes a little back (within lateness);
             * long pauses so the 1m window renormalizes many times. */
            t += (int64_t)(rng_unit(&rs) * (i % 50 == 0 ? 3 * HOUR_MS : 90000));
            int64_t ts = t - (rng_unit(&rs) < 0.2 ? (int64_t)(rng_unit(&rs) * 5 * MIN_MS) : 0);
            char u[16], it[16];
            snprintf(u, sizeof u, "u%d", (int)(rng_next(&rs) % 6));
            /* Skewed items so rankings are not all ties. */
            double x = rng_unit(&rs);
            snprintf(it, sizeof it, "i%d", (int)(x * x * NI));
            int type = (int)(rng_next(&rs) % SR_EVENT_TYPE_COUNT);
            ck_assert_int_eq(feed(f, u, it, type, ts, &evs[n]), FEAT_OK);
            if (ts > tmax)
                tmax = ts;
            n++;
        }
        /* Brute force at the latest event time. */
        for (int w = 0; w < 3; w++) {
            double h = (double)feat_pop_window_ms(f, (size_t)w);
            for (int i = 0; i < n; i++)
                if (evs[i].weight > 0)
                    sum[w][evs[i].item] +=
                        cfg.weight[evs[i].type] * exp(log(2.0) * (double)(evs[i].ts_ms - tmax) / h);
        }
        uint32_t ni = feat_n_items(f);
        ck_assert_uint_le(ni, NI);
        for (int w = 0; w < 3; w++) {
            const float *sc = feat_pop_scores(f, (size_t)w);
            uint32_t top = 0;
            for (uint32_t i = 1; i < ni; i++)
                if (sum[w][i] > sum[w][top])
                    top = i;
            ck_assert(sum[w][top] > 0 && sc[top] > 0);
            double c = sc[top] / sum[w][top]; /* the common factor */
            for (uint32_t i = 0; i < ni; i++) {
                double want = sum[w][i] * c;
                ck_assert_msg(fabs(sc[i] - want) <= 1e-4 * want + 1e-7 * sc[top],
                              "seed %d window %d item %u: %g vs %g", (int)seed, w, i, sc[i], want);
                for (uint32_t j = 0; j < ni; j++)
                    if (sum[w][i] > sum[w][j] * (1 + 1e-3) + 1e-6 * sum[w][top])
                        ck_assert_msg(sc[i] > sc[j], "seed %d window %d: rank %u vs %u", (int)seed,
                                      w, i, j);
            }
        }
        feat_free(f);
    }
}
END_TEST

START_TEST(test_all_time_and_first_positive)
{
    struct sr_features_cfg cfg = default_cfg();
    cfg.weight[SR_VIEW] = 0;
    cfg.dedup_window_ms = 0;
    struct feat *f = make(&cfg);
    /* Item order of first sight: a, b, c, d. */
    feed(f, "u1", "a", SR_VIEW, T0, NULL);
    feed(f, "u1", "b", SR_CLICK, T0 + 1, NULL);
    feed(f, "u2", "a", SR_PURCHASE, T0 + 2, NULL);
    feed(f, "u2", "c", SR_VIEW, T0 + 3, NULL);
    feed(f, "u3", "b", SR_CLICK, T0 + 4, NULL);
    feed(f, "u3", "b", SR_ADD_TO_CART, T0 + 5, NULL);
    feed(f, "u3", "d", SR_FAVORITE, T0 + 6, NULL);
    uint32_t a = item_id(f, "a"), b = item_id(f, "b"), c = item_id(f, "c"), d = item_id(f, "d");
    const uint32_t *all = feat_pop_all(f);
    ck_assert_uint_eq(all[a], 1);
    ck_assert_uint_eq(all[b], 3); /* unweighted: a cart counts 1 */
    ck_assert_uint_eq(all[c], 0);
    ck_assert_uint_eq(all[d], 1);
    const uint32_t *first = feat_item_first_pos(f);
    ck_assert_uint_eq(first[b], 0);
    ck_assert_uint_eq(first[a], 1);
    ck_assert_uint_eq(first[c], UINT32_MAX);
    ck_assert_uint_eq(first[d], 2);
    ck_assert_uint_eq(feat_user_positives(f, 0), 1);
    ck_assert_uint_eq(feat_user_positives(f, 2), 3);
    feat_free(f);
}
END_TEST

/* ---- co-visitation against brute force --------------------------------- */

START_TEST(test_covis_bruteforce)
{
    enum { NU = 5, NI = 10, N = 300, R = 3 };
    for (uint64_t seed = 1; seed <= 10; seed++) {
        uint64_t rs = seed * 104729;
        struct sr_features_cfg cfg = default_cfg();
        cfg.weight[SR_VIEW] = 0;
        cfg.covis_recent = R;
        cfg.covis_topn = 64; /* lists never overflow */
        cfg.covis_window_ms = 10 * MIN_MS;
        cfg.session_gap_ms = 5 * MIN_MS;
        cfg.covis_half_life_ms = 10 * MIN_MS; /* ~60 half-lives: renormalizes */
        cfg.dedup_window_ms = 0;
        struct feat *f = make(&cfg);

        /* Brute force, from the definitions: users' sessions by gap, recent
         * distinct positives (item, ts, session), decayed pair sums. */
        double pair[NI][NI] = {{0}};
        int rec_item[NU][R], rec_n[NU] = {0};
        int64_t rec_ts[NU][R], last_ts[NU];
        int rec_sess[NU][R], sess[NU];
        for (int u = 0; u < NU; u++)
            sess[u] = -1;
        int map_item[NI]; /* brute item -> feat id */
        for (int i = 0; i < NI; i++)
            map_item[i] = -1;
        int64_t t = T0;
        for (int e = 0; e < N; e++) {
            t += (int64_t)(rng_unit(&rs) * 4 * MIN_MS);
            int u = (int)(rng_next(&rs) % NU);
            int it = (int)(rng_next(&rs) % NI);
            int type = (int)(rng_next(&rs) % SR_EVENT_TYPE_COUNT);
            char us[16], is[16];
            snprintf(us, sizeof us, "u%d", u);
            snprintf(is, sizeof is, "i%d", it);
            struct sr_event ev;
            ck_assert_int_eq(feed(f, us, is, type, t, &ev), FEAT_OK);
            map_item[it] = (int)ev.item;
            if (sess[u] < 0 || t - last_ts[u] > cfg.session_gap_ms)
                sess[u]++;
            last_ts[u] = t;
            ck_assert_uint_eq(ev.session, (uint32_t)sess[u]);
            double w = cfg.weight[type];
            if (w <= 0)
                continue;
            int pos = rec_n[u];
            for (int k = 0; k < rec_n[u]; k++) {
                if (rec_item[u][k] == it) {
                    pos = k;
                    continue;
                }
                if (rec_sess[u][k] == sess[u] || t - rec_ts[u][k] <= cfg.covis_window_ms) {
                    double add =
                        w * exp(log(2.0) * (double)(t - T0) / (double)cfg.covis_half_life_ms);
                    pair[rec_item[u][k]][it] += add;
                    pair[it][rec_item[u][k]] += add;
                }
            }
            if (pos == rec_n[u] && rec_n[u] < R)
                rec_n[u]++;
            if (pos == R)
                pos = R - 1;
            for (int k = pos; k > 0; k--) {
                rec_item[u][k] = rec_item[u][k - 1];
                rec_ts[u][k] = rec_ts[u][k - 1];
                rec_sess[u][k] = rec_sess[u][k - 1];
            }
            rec_item[u][0] = it;
            rec_ts[u][0] = t;
            rec_sess[u][0] = sess[u];
        }

        /* One common factor relates feat's scores to the brute-force sums. */
        double c = 0;
        for (int a = 0; a < NI; a++) {
            if (map_item[a] < 0)
                continue;
            uint32_t got[NI];
            float gsc[NI];
            size_t n = feat_covis(f, (uint32_t)map_item[a], got, gsc, NI);
            int want_n = 0;
            for (int b = 0; b < NI; b++)
                want_n += pair[a][b] > 0;
            ck_assert_int_eq((int)n, want_n);
            for (size_t k = 0; k < n; k++) {
                int b = -1;
                for (int j = 0; j < NI; j++)
                    if (map_item[j] == (int)got[k])
                        b = j;
                ck_assert_int_ge(b, 0);
                ck_assert(pair[a][b] > 0);
                if (c == 0)
                    c = gsc[k] / pair[a][b];
                ck_assert_msg(fabs(gsc[k] - c * pair[a][b]) <= 1e-4 * c * pair[a][b],
                              "seed %d pair %d-%d: %g vs %g", (int)seed, a, b, gsc[k],
                              c * pair[a][b]);
                /* Best first; ties by lower id. */
                if (k > 0)
                    ck_assert(gsc[k - 1] > gsc[k] || (gsc[k - 1] == gsc[k] && got[k - 1] < got[k]));
                /* Symmetric. */
                uint32_t back[NI];
                float bsc[NI];
                size_t nb = feat_covis(f, got[k], back, bsc, NI);
                bool found = false;
                for (size_t j = 0; j < nb; j++)
                    if (back[j] == (uint32_t)map_item[a]) {
                        found = true;
                        ck_assert(fabs(bsc[j] - gsc[k]) <= 1e-5 * gsc[k]);
                    }
                ck_assert(found);
            }
        }
        /* Recent items, most recent first. */
        for (int u = 0; u < NU; u++) {
            char us[16];
            snprintf(us, sizeof us, "u%d", u);
            uint32_t uid;
            if (sr_intern_find(feat_users(f), us, strlen(us), &uid) != 0)
                continue;
            uint32_t got[8];
            size_t n = feat_user_recent(f, uid, got, 8);
            ck_assert_int_eq((int)n, rec_n[u]);
            for (size_t k = 0; k < n; k++)
                ck_assert_uint_eq(got[k], (uint32_t)map_item[rec_item[u][k]]);
        }
        feat_free(f);
    }
}
END_TEST

/* Pairs item x with item y once, through a fresh user who has a positive on
 * x then on y at the same time (no decay between pairs). */
static void pair_once(struct feat *f, const char *x, const char *y, int *user_no)
{
    char u[16];
    snprintf(u, sizeof u, "p%d", (*user_no)++);
    ck_assert_int_eq(feed(f, u, x, SR_CLICK, T0, NULL), FEAT_OK);
    ck_assert_int_eq(feed(f, u, y, SR_CLICK, T0, NULL), FEAT_OK);
}

START_TEST(test_covis_ranking_and_capacity)
{
    struct sr_features_cfg cfg = default_cfg();
    cfg.covis_topn = 2; /* lists keep 4 */
    cfg.dedup_window_ms = 0;
    cfg.weight[SR_CLICK] = 1;
    struct feat *f = make(&cfg);
    int un = 0;
    /* x's neighbours: y x15, w x2, and v, z once each (v interned before z). */
    for (int i = 0; i < 15; i++)
        pair_once(f, "x", "y", &un);
    pair_once(f, "v", "x", &un);
    pair_once(f, "x", "w", &un);
    pair_once(f, "w", "x", &un);
    pair_once(f, "x", "z", &un);
    uint32_t x = item_id(f, "x"), y = item_id(f, "y"), w = item_id(f, "w");
    uint32_t v = item_id(f, "v"), z = item_id(f, "z");
    ck_assert_uint_lt(v, z);
    uint32_t got[8];
    float sc[8];
    size_t n = feat_covis(f, x, got, sc, 8);
    ck_assert_uint_eq(n, 4);
    ck_assert_uint_eq(got[0], y);
    ck_assert_uint_eq(got[1], w);
    ck_assert_uint_eq(got[2], v); /* tie with z: lower id first */
    ck_assert_uint_eq(got[3], z);
    ck_assert_float_eq_tol(sc[0] / sc[3], 15.0f, 1e-5f);
    ck_assert_float_eq_tol(sc[1] / sc[3], 2.0f, 1e-5f);
    ck_assert_float_eq(sc[2], sc[3]);
    const float unit = sc[3]; /* the score of one pairing */
    /* max truncates to the best. */
    ck_assert_uint_eq(feat_covis(f, x, got, sc, 2), 2);
    ck_assert_uint_eq(got[0], y);
    ck_assert_uint_eq(got[1], w);
    ck_assert_uint_eq(feat_covis(f, x, got, sc, 0), 0);
    ck_assert_uint_eq(feat_covis(f, 999, got, sc, 8), 0);
    /* Overflow: one-off neighbours replace the weakest and inherit its score
     * (space-saving), so y, with more than (all pair weight) / (list size) =
     * (15 + 2 + 1 + 1 + 20) / 4, can never be pushed out; the list never
     * grows past 2 x covis_topn. */
    char name[16];
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof name, "n%d", i);
        pair_once(f, "x", name, &un);
    }
    n = feat_covis(f, x, got, sc, 8);
    ck_assert_uint_eq(n, 4);
    ck_assert_uint_eq(got[0], y);
    /* Space-saving keeps the sum of the counters equal to all weight seen,
     * and the newest neighbour is always in the list. */
    double total = 0;
    bool newest = false;
    for (size_t k = 0; k < n; k++) {
        total += sc[k] / unit;
        newest |= got[k] == item_id(f, "n19");
    }
    ck_assert_double_eq_tol(total, 15 + 2 + 1 + 1 + 20, 1e-3);
    ck_assert(newest);
    feat_free(f);
}
END_TEST

START_TEST(test_recent_items)
{
    struct sr_features_cfg cfg = default_cfg();
    cfg.covis_recent = 3;
    cfg.weight[SR_VIEW] = 0;
    cfg.dedup_window_ms = 0;
    struct feat *f = make(&cfg);
    const char *seq[] = {"a", "b", "c", "a", "d"};
    for (int i = 0; i < 5; i++)
        feed(f, "u", seq[i], SR_CLICK, T0 + i, NULL);
    feed(f, "u", "e", SR_VIEW, T0 + 10, NULL); /* not a positive */
    uint32_t got[8];
    ck_assert_uint_eq(feat_user_recent(f, 0, got, 8), 3);
    ck_assert_uint_eq(got[0], item_id(f, "d"));
    ck_assert_uint_eq(got[1], item_id(f, "a"));
    ck_assert_uint_eq(got[2], item_id(f, "c"));
    ck_assert_uint_eq(feat_user_recent(f, 0, got, 1), 1);
    ck_assert_uint_eq(got[0], item_id(f, "d"));
    ck_assert_uint_eq(feat_user_recent(f, 7, got, 8), 0);
    feat_free(f);
}
END_TEST

/* ---- what feat_admit and weight-0 events leave alone -------------------- */

struct snapshot {
    uint32_t n_items;
    float pop[2][64];
    uint32_t all[64], first[64];
    uint32_t cv_items[64][16];
    float cv_scores[64][16];
    size_t cv_n[64];
    uint32_t recent[8][8];
    size_t recent_n[8];
    uint32_t positives[8];
};

static void snap(const struct feat *f, struct snapshot *s)
{
    memset(s, 0, sizeof *s);
    s->n_items = feat_n_items(f);
    ck_assert_uint_le(s->n_items, 64);
    for (size_t w = 0; w < 2; w++)
        memcpy(s->pop[w], feat_pop_scores(f, w), s->n_items * sizeof(float));
    memcpy(s->all, feat_pop_all(f), s->n_items * sizeof(uint32_t));
    memcpy(s->first, feat_item_first_pos(f), s->n_items * sizeof(uint32_t));
    for (uint32_t i = 0; i < s->n_items; i++)
        s->cv_n[i] = feat_covis(f, i, s->cv_items[i], s->cv_scores[i], 16);
    for (uint32_t u = 0; u < 8 && u < feat_n_users(f); u++) {
        s->recent_n[u] = feat_user_recent(f, u, s->recent[u], 8);
        s->positives[u] = feat_user_positives(f, u);
    }
}

/* Every statistic of the items in before is unchanged in after, and items
 * added since have none. */
static void assert_same_stats(const struct snapshot *a, const struct snapshot *b)
{
    ck_assert_uint_ge(b->n_items, a->n_items);
    for (uint32_t i = 0; i < b->n_items; i++) {
        bool old = i < a->n_items;
        for (int w = 0; w < 2; w++)
            ck_assert(b->pop[w][i] == (old ? a->pop[w][i] : 0.0f));
        ck_assert_uint_eq(b->all[i], old ? a->all[i] : 0);
        ck_assert_uint_eq(b->first[i], old ? a->first[i] : UINT32_MAX);
        ck_assert_uint_eq(b->cv_n[i], old ? a->cv_n[i] : 0);
        for (size_t k = 0; old && k < a->cv_n[i]; k++) {
            ck_assert_uint_eq(b->cv_items[i][k], a->cv_items[i][k]);
            ck_assert(b->cv_scores[i][k] == a->cv_scores[i][k]);
        }
    }
    for (int u = 0; u < 8; u++) {
        ck_assert_uint_eq(b->recent_n[u], a->recent_n[u]);
        ck_assert_uint_eq(b->positives[u], a->positives[u]);
        for (size_t k = 0; k < a->recent_n[u]; k++)
            ck_assert_uint_eq(b->recent[u][k], a->recent[u][k]);
    }
}

static struct feat *warm_stage(void)
{
    struct sr_features_cfg cfg = default_cfg();
    snprintf(cfg.pop_windows, sizeof cfg.pop_windows, "1h,24h");
    cfg.weight[SR_VIEW] = 0;
    cfg.dedup_window_ms = 0;
    struct feat *f = make(&cfg);
    uint64_t rs = 42;
    for (int e = 0; e < 200; e++) {
        char u[16], it[16];
        snprintf(u, sizeof u, "u%d", (int)(rng_next(&rs) % 6));
        snprintf(it, sizeof it, "i%d", (int)(rng_next(&rs) % 30));
        int type = 1 + (int)(rng_next(&rs) % 4); /* positives only */
        ck_assert_int_eq(feed(f, u, it, type, T0 + e * 20000, NULL), FEAT_OK);
    }
    return f;
}

START_TEST(test_weight0_changes_nothing)
{
    struct feat *f = warm_stage();
    struct snapshot *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    snap(f, a);
    ck_assert_uint_gt(a->all[0] + a->all[1] + a->all[2], 0);
    /* Views (weight 0) by known and new users, on known and new items,
     * admitted and learned, later in time. */
    char u[16], it[16];
    for (int e = 0; e < 50; e++) {
        snprintf(u, sizeof u, "u%d", e % 7);
        snprintf(it, sizeof it, "i%d", e % 35);
        struct sr_event ev;
        ck_assert_int_eq(feed(f, u, it, SR_VIEW, T0 + 5000000 + e * 1000, &ev), FEAT_OK);
        ck_assert(ev.weight == 0.0f);
    }
    ck_assert_uint_gt(feat_n_items(f), a->n_items);
    snap(f, b);
    assert_same_stats(a, b);
    /* The same stream with a positive does change them (the test can fail). */
    feed(f, "u1", "i3", SR_CLICK, T0 + 9000000, NULL);
    snap(f, b);
    ck_assert_uint_eq(b->all[item_id(f, "i3")], a->all[item_id(f, "i3")] + 1);
    free(a);
    free(b);
    feat_free(f);
}
END_TEST

START_TEST(test_admit_alone_changes_no_statistics)
{
    struct feat *f = warm_stage();
    struct snapshot *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    snap(f, a);
    struct feat_stats st0, st1;
    feat_stats(f, &st0);
    char u[16], it[16];
    for (int e = 0; e < 100; e++) {
        snprintf(u, sizeof u, "u%d", e % 7);
        snprintf(it, sizeof it, "i%d", e % 40);
        struct sr_event ev;
        ck_assert_int_eq(admit(f, u, it, SR_PURCHASE, T0 + 5000000 + e * 1000, NULL, &ev), FEAT_OK);
        ck_assert(ev.weight > 0);
    }
    feat_stats(f, &st1);
    ck_assert_uint_eq(st1.admitted, st0.admitted + 100);
    snap(f, b);
    assert_same_stats(a, b);
    free(a);
    free(b);
    feat_free(f);
}
END_TEST

/* ---- scale: invariants on a synthetic stream, timing with FEAT_BENCH ---- */

START_TEST(test_scale)
{
    const char *bench = getenv("FEAT_BENCH");
    const bool timing = bench && *bench && strcmp(bench, "0") != 0;
    const size_t n_events = timing ? 1000000 : 100000;
    enum { NU = 100000, NI = 20000 };
    char(*uname)[16] = malloc(NU * sizeof *uname);
    char(*iname)[16] = malloc(NI * sizeof *iname);
    double *cdf = malloc(NI * sizeof *cdf);
    struct sr_raw_event *raw = malloc(n_events * sizeof *raw);
    char *idbuf = malloc(n_events * 24), *bp = idbuf;
    ck_assert(uname && iname && cdf && raw && idbuf);
    for (int i = 0; i < NU; i++)
        snprintf(uname[i], sizeof uname[i], "u%d", i);
    double z = 0;
    for (int i = 0; i < NI; i++) {
        snprintf(iname[i], sizeof iname[i], "i%d", i);
        z += 1.0 / pow(i + 1, 1.0); /* Zipf, s = 1 */
        cdf[i] = z;
    }
    uint64_t rs = 7;
    int64_t t = T0;
    for (size_t e = 0; e < n_events; e++) {
        t += (int64_t)(rng_next(&rs) % 1600); /* ~9 days per 1M events */
        double x = rng_unit(&rs) * z;
        int lo = 0, hi = NI - 1;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (cdf[mid] < x)
                lo = mid + 1;
            else
                hi = mid;
        }
        int u = (int)(rng_next(&rs) % NU);
        unsigned tp = (unsigned)(rng_next(&rs) % 100);
        int type = tp < 85 ? SR_VIEW : tp < 95 ? SR_CLICK : tp < 98 ? SR_ADD_TO_CART : SR_PURCHASE;
        /* Ids in a per-event buffer, as a decoder hands them over. */
        size_t ul = strlen(uname[u]), il = strlen(iname[lo]);
        memcpy(bp, uname[u], ul);
        memcpy(bp + ul, iname[lo], il);
        raw[e] = raw_of(NULL, NULL, type, t, NULL);
        raw[e].user_id.p = bp;
        raw[e].user_id.len = (uint32_t)ul;
        raw[e].item_id.p = bp + ul;
        raw[e].item_id.len = (uint32_t)il;
        bp += ul + il;
    }
    struct sr_features_cfg cfg = default_cfg();
    struct feat *f = make(&cfg);
    uint64_t positives = 0;
    uint64_t t_start = sr_mono_ns(), c_start = cpu_ns();
    for (size_t e = 0; e < n_events; e++) {
        struct sr_event ev;
        if (feat_admit(f, &raw[e], &ev) == FEAT_OK) {
            feat_learn(f, &ev);
            positives += ev.weight > 0;
        }
    }
    uint64_t ns = sr_mono_ns() - t_start, cns = cpu_ns() - c_start;
    struct feat_stats st;
    feat_stats(f, &st);
    ck_assert_uint_eq(st.admitted + st.skipped[FEAT_SKIP_DUPLICATE] + st.skipped[FEAT_SKIP_BOT],
                      n_events);
    uint64_t sum = 0;
    uint32_t ni = feat_n_items(f), with_first = 0;
    const uint32_t *all = feat_pop_all(f), *first = feat_item_first_pos(f);
    for (uint32_t i = 0; i < ni; i++) {
        sum += all[i];
        if (first[i] != UINT32_MAX) {
            ck_assert_uint_lt(first[i], ni);
            with_first++;
        }
        ck_assert((all[i] > 0) == (first[i] != UINT32_MAX));
        uint32_t nb[600];
        float nsc[600];
        ck_assert_uint_le(feat_covis(f, i, nb, nsc, 600), 2 * (size_t)cfg.covis_topn);
    }
    ck_assert_uint_eq(sum, positives);
    ck_assert_uint_le(feat_n_users(f), NU);
    ck_assert_uint_le(ni, NI);
    if (timing)
        printf("features bench: %zu events, %u users, %u items: %.1f ns/event admit+learn "
               "(%.1f ns of thread CPU time), %zu bytes (%.1f MiB) of feature state\n",
               n_events, feat_n_users(f), ni, (double)ns / (double)n_events,
               (double)cns / (double)n_events, feat_bytes(f), (double)feat_bytes(f) / (1 << 20));
    feat_free(f);
    free(raw);
    free(idbuf);
    free(cdf);
    free(iname);
    free(uname);
}
END_TEST

Suite *features_suite(void)
{
    Suite *s = suite_create("features");
    TCase *tc = tcase_create("features");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_skip_names);
    tcase_add_test(tc, test_validation);
    tcase_add_test(tc, test_dedup);
    tcase_add_test(tc, test_dedup_expiry);
    tcase_add_test(tc, test_bot);
    tcase_add_test(tc, test_lateness);
    tcase_add_test(tc, test_sessions);
    tcase_add_test(tc, test_weights_and_interning);
    tcase_add_test(tc, test_popularity_bruteforce);
    tcase_add_test(tc, test_all_time_and_first_positive);
    tcase_add_test(tc, test_covis_bruteforce);
    tcase_add_test(tc, test_covis_ranking_and_capacity);
    tcase_add_test(tc, test_recent_items);
    tcase_add_test(tc, test_weight0_changes_nothing);
    tcase_add_test(tc, test_admit_alone_changes_no_statistics);
    tcase_add_test(tc, test_scale);
    suite_add_tcase(s, tc);
    return s;
}
