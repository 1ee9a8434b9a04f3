/* tests/unit/test_mf.c - learner/mf: determinism, batch == sequential,
 * initialisation, learning a planted structure, scoring, memory. */
#include "core/config.h"
#include "core/err.h"
#include "core/event.h"
#include "learner/mf.h"

#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

static struct sr_learner_cfg t_cfg(void)
{
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    return cfg.learner;
}

static struct mf *t_new(const struct sr_learner_cfg *lc, uint32_t n_users, uint32_t n_items)
{
    char err[256] = "";
    struct mf *m = mf_new(lc, err, sizeof err);
    ck_assert_msg(m != NULL, "mf_new: %s", err);
    ck_assert_int_eq(mf_reserve(m, n_users, n_items), 0);
    return m;
}

/* A skewed random stream: item i drawn as the min of two uniforms (popular
 * low ids), weights from {0, 0.5, 1, 3} so that zero-weight events occur. */
static struct sr_event *t_stream(size_t n, uint32_t n_users, uint32_t n_items, uint64_t seed)
{
    static const float weights[] = {1.0f, 1.0f, 0.0f, 0.5f, 3.0f};
    struct sr_event *evs = calloc(n, sizeof *evs);
    ck_assert_ptr_nonnull(evs);
    t_rng_state = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t e = 0; e < n; e++) {
        uint32_t a = t_rand() % n_items, b = t_rand() % n_items;
        evs[e].ts_ms = (int64_t)e;
        evs[e].user = t_rand() % n_users;
        evs[e].item = a < b ? a : b;
        evs[e].weight = weights[t_rand() % 5];
    }
    return evs;
}

/* Bit-for-bit comparison of every row of two models. */
static bool t_same_model(const struct mf *a, const struct mf *b)
{
    if (mf_k(a) != mf_k(b) || mf_n_users(a) != mf_n_users(b) || mf_n_items(a) != mf_n_items(b) ||
        mf_updates(a) != mf_updates(b))
        return false;
    size_t bytes = mf_k(a) * sizeof(float);
    for (uint32_t u = 0; u < mf_n_users(a); u++)
        if (memcmp(mf_user_vec(a, u), mf_user_vec(b, u), bytes) != 0)
            return false;
    for (uint32_t i = 0; i < mf_n_items(a); i++) {
        if (memcmp(mf_item_vec(a, i), mf_item_vec(b, i), bytes) != 0)
            return false;
        float ba = mf_item_bias(a, i), bb = mf_item_bias(b, i);
        if (memcmp(&ba, &bb, sizeof ba) != 0)
            return false;
    }
    return true;
}

static bool t_all_finite(const struct mf *m)
{
    for (uint32_t u = 0; u < mf_n_users(m); u++)
        for (uint32_t j = 0; j < mf_k(m); j++)
            if (!isfinite(mf_user_vec(m, u)[j]))
                return false;
    for (uint32_t i = 0; i < mf_n_items(m); i++)
        for (uint32_t j = 0; j < mf_k(m); j++)
            if (!isfinite(mf_item_vec(m, i)[j]))
                return false;
    return true;
}

/* ---- determinism ------------------------------------------------------------ */

START_TEST(test_same_seed_same_model)
{
    struct sr_learner_cfg lc = t_cfg();
    struct sr_event *evs = t_stream(20000, 300, 120, 1);
    struct mf *a = t_new(&lc, 300, 120), *b = t_new(&lc, 300, 120);
    for (size_t e = 0; e < 20000; e++) {
        ck_assert_int_eq(mf_update(a, &evs[e]), 0);
        ck_assert_int_eq(mf_update(b, &evs[e]), 0);
    }
    ck_assert(mf_updates(a) > 10000);
    ck_assert(t_all_finite(a));
    ck_assert(t_same_model(a, b));
    mf_free(a);
    mf_free(b);
    free(evs);
}
END_TEST

/* mf_update_batch equals one mf_update per event, bit for bit, for several
 * losses, negative counts and batch splits (including splits that are not
 * multiples of the internal pipeline depth). */
START_TEST(test_batch_equals_sequential)
{
    static const int negs[] = {1, 4, 7};
    static const size_t splits[] = {1, 3, 17, 1000, 5000};
    const size_t n = 5000;
    struct sr_event *evs = t_stream(n, 200, 90, 2);
    for (int loss = SR_LOSS_BPR; loss <= SR_LOSS_LOGISTIC + 1; loss++) {
        for (size_t ni = 0; ni < sizeof negs / sizeof negs[0]; ni++) {
            struct sr_learner_cfg lc = t_cfg();
            /* the pass after the two losses: BPR with item biases */
            lc.loss = loss > SR_LOSS_LOGISTIC ? SR_LOSS_BPR : loss;
            lc.item_bias = loss > SR_LOSS_LOGISTIC;
            lc.negatives = negs[ni];
            struct mf *seq = t_new(&lc, 200, 90);
            for (size_t e = 0; e < n; e++)
                ck_assert_int_eq(mf_update(seq, &evs[e]), 0);
            for (size_t si = 0; si < sizeof splits / sizeof splits[0]; si++) {
                struct mf *bat = t_new(&lc, 200, 90);
                for (size_t e = 0; e < n; e += splits[si]) {
                    size_t len = n - e < splits[si] ? n - e : splits[si];
                    ck_assert_int_eq(mf_update_batch(bat, evs + e, len), 0);
                }
                ck_assert_msg(t_same_model(seq, bat), "loss %d negatives %d split %zu", loss,
                              negs[ni], splits[si]);
                mf_free(bat);
            }
            mf_free(seq);
        }
    }
    free(evs);
}
END_TEST

START_TEST(test_different_seeds_differ)
{
    struct sr_learner_cfg lc = t_cfg();
    struct mf *a = t_new(&lc, 50, 50);
    lc.seed = 43;
    struct mf *b = t_new(&lc, 50, 50);
    size_t bytes = mf_k(a) * sizeof(float);
    /* Initial rows differ, ... */
    for (uint32_t id = 0; id < 50; id++) {
        ck_assert(memcmp(mf_user_vec(a, id), mf_user_vec(b, id), bytes) != 0);
        ck_assert(memcmp(mf_item_vec(a, id), mf_item_vec(b, id), bytes) != 0);
        /* ... users and items use different hashes, ... */
        ck_assert(memcmp(mf_user_vec(a, id), mf_item_vec(a, id), bytes) != 0);
    }
    /* ... and so do the trained models. */
    struct sr_event *evs = t_stream(2000, 50, 50, 5);
    ck_assert_int_eq(mf_update_batch(a, evs, 2000), 0);
    ck_assert_int_eq(mf_update_batch(b, evs, 2000), 0);
    ck_assert_uint_eq(mf_updates(a), mf_updates(b));
    ck_assert(!t_same_model(a, b));
    free(evs);
    mf_free(a);
    mf_free(b);
}
END_TEST

/* Rows depend on (seed, id) only, not on how the table grew. */
START_TEST(test_init_independent_of_arrival)
{
    struct sr_learner_cfg lc = t_cfg();
    struct mf *a = t_new(&lc, 1000, 700);
    char err[256];
    struct mf *b = mf_new(&lc, err, sizeof err);
    ck_assert_ptr_nonnull(b);
    ck_assert_int_eq(mf_reserve(b, 3, 500), 0);
    ck_assert_int_eq(mf_reserve(b, 999, 2), 0); /* never shrinks */
    ck_assert_uint_eq(mf_n_items(b), 500);
    ck_assert_int_eq(mf_reserve(b, 1000, 700), 0);
    ck_assert(t_same_model(a, b));

    /* Scale: coordinates have mean ~0 and std ~init_std / sqrt(k). */
    double s = 0, s2 = 0;
    size_t cnt = 0;
    for (uint32_t u = 0; u < 1000; u++)
        for (uint32_t j = 0; j < mf_k(a); j++) {
            double v = mf_user_vec(a, u)[j];
            s += v;
            s2 += v * v;
            cnt++;
        }
    double mean = s / cnt, sd = sqrt(s2 / cnt - mean * mean);
    double want = lc.init_std / sqrt((double)lc.k);
    ck_assert_msg(fabs(mean) < 0.05 * want, "mean %g", mean);
    ck_assert_msg(fabs(sd - want) < 0.05 * want, "sd %g, want %g", sd, want);
    mf_free(a);
    mf_free(b);
}
END_TEST

/* ---- learning -------------------------------------------------------------- */

enum { PL_USERS = 240, PL_ITEMS = 96, PL_CLUSTERS = 4, PL_EVENTS = 40000 };

/* Mean over users of the AUC of in-cluster items against out-of-cluster
 * items (ties count half). Cluster of user u and item i: id % PL_CLUSTERS. */
static double t_planted_auc(const struct mf *m)
{
    float scores[PL_ITEMS];
    double total = 0;
    for (uint32_t u = 0; u < PL_USERS; u++) {
        mf_score_all(m, u, scores, PL_ITEMS);
        double good = 0, pairs = 0;
        for (uint32_t i = 0; i < PL_ITEMS; i++) {
            if (i % PL_CLUSTERS != u % PL_CLUSTERS)
                continue;
            for (uint32_t j = 0; j < PL_ITEMS; j++) {
                if (j % PL_CLUSTERS == u % PL_CLUSTERS)
                    continue;
                good += scores[i] > scores[j] ? 1.0 : scores[i] == scores[j] ? 0.5 : 0.0;
                pairs++;
            }
        }
        total += good / pairs;
    }
    return total / PL_USERS;
}

/* Users of cluster c only interact with cluster-c items; after training the
 * model must rank a user's cluster above the rest. */
static void t_planted(int loss, int64_t k)
{
    struct sr_learner_cfg lc = t_cfg();
    lc.loss = loss;
    lc.k = k;
    struct mf *m = t_new(&lc, PL_USERS, PL_ITEMS);
    double before = t_planted_auc(m);
    ck_assert_msg(before < 0.7, "untrained AUC %.3f: the test could not fail", before);

    struct sr_event *evs = calloc(PL_EVENTS, sizeof *evs);
    ck_assert_ptr_nonnull(evs);
    t_rng_state = 77;
    for (size_t e = 0; e < PL_EVENTS; e++) {
        uint32_t u = t_rand() % PL_USERS;
        evs[e].user = u;
        evs[e].item = (t_rand() % (PL_ITEMS / PL_CLUSTERS)) * PL_CLUSTERS + u % PL_CLUSTERS;
        evs[e].weight = 1.0f;
    }
    ck_assert_int_eq(mf_update_batch(m, evs, PL_EVENTS), 0);
    ck_assert_uint_eq(mf_updates(m), PL_EVENTS);
    ck_assert(t_all_finite(m));
    double after = t_planted_auc(m);
    ck_assert_msg(after > 0.9, "loss %d k %lld: AUC %.3f after training (%.3f before)", loss,
                  (long long)k, after, before);
    mf_free(m);
    free(evs);
}

START_TEST(test_planted_bpr)
{
    t_planted(SR_LOSS_BPR, 32);
}
END_TEST

START_TEST(test_planted_logistic)
{
    t_planted(SR_LOSS_LOGISTIC, 32);
}
END_TEST

START_TEST(test_planted_k64)
{
    t_planted(SR_LOSS_BPR, 64);
}
END_TEST

/* Weight 0 changes nothing: no row, no counter, and not the RNG or the
 * negative ring either (later training matches a model that never saw it). */
START_TEST(test_weight_zero_noop)
{
    struct sr_learner_cfg lc = t_cfg();
    struct mf *a = t_new(&lc, 60, 40), *b = t_new(&lc, 60, 40);
    struct sr_event ev = {.user = 5, .item = 9, .weight = 0.0f};
    ck_assert_int_eq(mf_update(a, &ev), 0);
    ck_assert_int_eq(mf_update_batch(a, &ev, 1), 0);
    ck_assert_uint_eq(mf_updates(a), 0);
    ck_assert(t_same_model(a, b));

    struct sr_event *evs = t_stream(3000, 60, 40, 3);
    for (size_t e = 0; e < 3000; e++) {
        mf_update(a, &evs[e]);
        if (evs[e].weight > 0)
            mf_update(b, &evs[e]);
        else
            mf_update(a, &ev); /* extra zero-weight noise only in a */
    }
    ck_assert(mf_updates(a) > 0);
    ck_assert(t_same_model(a, b));
    free(evs);
    mf_free(a);
    mf_free(b);
}
END_TEST

/* One positive event moves the user, the item and at most `negatives` other
 * items; nothing else. */
START_TEST(test_update_is_local)
{
    struct sr_learner_cfg lc = t_cfg();
    struct mf *m = t_new(&lc, 30, 200), *ref = t_new(&lc, 30, 200);
    struct sr_event ev = {.user = 3, .item = 17, .weight = 1.0f};
    ck_assert_int_eq(mf_update(m, &ev), 0);
    size_t bytes = mf_k(m) * sizeof(float);
    for (uint32_t u = 0; u < 30; u++) {
        bool same = memcmp(mf_user_vec(m, u), mf_user_vec(ref, u), bytes) == 0;
        ck_assert_msg(same == (u != 3), "user %u", u);
    }
    int moved = 0;
    for (uint32_t i = 0; i < 200; i++)
        if (i != 17 && memcmp(mf_item_vec(m, i), mf_item_vec(ref, i), bytes) != 0)
            moved++;
    ck_assert(memcmp(mf_item_vec(m, 17), mf_item_vec(ref, 17), bytes) != 0);
    ck_assert_int_ge(moved, 1);
    ck_assert_int_le(moved, lc.negatives);
    /* The positive pair's score went up. */
    ck_assert(mf_score(m, 3, 17) > mf_score(ref, 3, 17));
    mf_free(m);
    mf_free(ref);
}
END_TEST

/* A one-item catalogue has no negative j != i: no endless loop, no crash. */
START_TEST(test_single_item)
{
    for (int loss = SR_LOSS_BPR; loss <= SR_LOSS_LOGISTIC; loss++) {
        struct sr_learner_cfg lc = t_cfg();
        lc.loss = loss;
        struct mf *m = t_new(&lc, 2, 1);
        struct sr_event ev = {.user = 1, .item = 0, .weight = 1.0f};
        for (int r = 0; r < 100; r++)
            ck_assert_int_eq(mf_update(m, &ev), 0);
        ck_assert(t_all_finite(m));
        mf_free(m);
    }
}
END_TEST

/* ---- scoring, memory, errors ----------------------------------------------- */

START_TEST(test_score_all_matches_score)
{
    /* Enough items for several chunks (16384 rows per chunk at k = 32). */
    const uint32_t n_items = 40000;
    struct sr_learner_cfg lc = t_cfg();
    lc.item_bias = _i == 1;
    struct mf *m = t_new(&lc, 20, n_items);
    struct sr_event *evs = t_stream(20000, 20, n_items, 4);
    ck_assert_int_eq(mf_update_batch(m, evs, 20000), 0);
    float *scores = malloc((n_items + 10) * sizeof *scores);
    ck_assert_ptr_nonnull(scores);
    for (uint32_t u = 0; u < 20; u += 7) {
        mf_score_all(m, u, scores, n_items + 10);
        for (uint32_t i = 0; i < n_items; i++) {
            float one = mf_score(m, u, i);
            /* A plain double-precision dot product as the yardstick. */
            double ref = mf_item_bias(m, i);
            if (!lc.item_bias)
                ck_assert(mf_item_bias(m, i) == 0.0f);
            for (uint32_t j = 0; j < mf_k(m); j++)
                ref += (double)mf_user_vec(m, u)[j] * mf_item_vec(m, i)[j];
            ck_assert_msg(fabs(scores[i] - one) <= 1e-5 * (1 + fabs(ref)), "u %u i %u", u, i);
            ck_assert_msg(fabs(one - ref) <= 1e-5 * (1 + fabs(ref)), "u %u i %u", u, i);
        }
        for (uint32_t i = n_items; i < n_items + 10; i++)
            ck_assert(scores[i] == 0.0f); /* no row: 0 */
    }
    free(scores);
    free(evs);
    mf_free(m);
}
END_TEST

/* With item biases and uniform negatives the biases learn popularity: the
 * most frequent items end with higher biases than the rarest. */
START_TEST(test_item_bias_learns_popularity)
{
    struct sr_learner_cfg lc = t_cfg();
    lc.item_bias = true;
    lc.neg_pop_mix = 0;
    const uint32_t n_items = 200;
    struct mf *m = t_new(&lc, 300, n_items);
    struct sr_event *evs = t_stream(40000, 300, n_items, 9);
    uint32_t count[200] = {0};
    for (size_t e = 0; e < 40000; e++)
        if (evs[e].weight > 0)
            count[evs[e].item]++;
    ck_assert_int_eq(mf_update_batch(m, evs, 40000), 0);
    /* t_stream favours low ids: items 0..19 are the most frequent. */
    double top = 0, tail = 0;
    for (uint32_t i = 0; i < 20; i++) {
        ck_assert_uint_gt(count[i], count[n_items - 1 - i]);
        top += mf_item_bias(m, i);
        tail += mf_item_bias(m, n_items - 1 - i);
    }
    ck_assert_msg(top > tail + 1.0, "bias top %.3f tail %.3f", top / 20, tail / 20);
    free(evs);
    mf_free(m);
}
END_TEST

START_TEST(test_bytes)
{
    static const int64_t ks[] = {1, 7, 8, 32, 33, 64, 100, 512};
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        struct sr_learner_cfg lc = t_cfg();
        lc.k = ks[i];
        struct mf *m = t_new(&lc, 10, 10);
        ck_assert_uint_eq(mf_k(m), ks[i]);
        size_t k = (size_t)ks[i];
        ck_assert_uint_ge(mf_bytes_per_user(m), 4 * k);
        ck_assert_uint_le(mf_bytes_per_user(m), 4 * k + 64);
        ck_assert_uint_ge(mf_bytes_per_item(m), 4 * k);
        ck_assert_uint_le(mf_bytes_per_item(m), 4 * k + 128);
        size_t before = mf_bytes(m);
        ck_assert_uint_ge(before, 10 * (mf_bytes_per_user(m) + mf_bytes_per_item(m)));
        ck_assert_int_eq(mf_reserve(m, 100000, 10), 0);
        ck_assert_uint_ge(mf_bytes(m), 100000 * mf_bytes_per_user(m));
        ck_assert_uint_gt(mf_bytes(m), before);
        mf_free(m);
    }
}
END_TEST

START_TEST(test_errors)
{
    char err[256] = "";
    struct sr_learner_cfg lc = t_cfg();
    lc.k = 0;
    ck_assert_ptr_null(mf_new(&lc, err, sizeof err));
    ck_assert(err[0] != '\0');
    mf_free(NULL);

    lc = t_cfg();
    struct mf *m = t_new(&lc, 10, 10), *ref = t_new(&lc, 10, 10);
    struct sr_event bad = {.user = 10, .item = 0, .weight = 1.0f};
    ck_assert_int_eq(mf_update(m, &bad), SR_ERANGE);
    bad.user = 0;
    bad.item = 10;
    ck_assert_int_eq(mf_update(m, &bad), SR_ERANGE);
    /* A batch with a missing row in the middle is refused whole. */
    struct sr_event evs[3] = {{.user = 1, .item = 2, .weight = 1.0f},
                              {.user = 1, .item = 99, .weight = 1.0f},
                              {.user = 2, .item = 3, .weight = 1.0f}};
    ck_assert_int_eq(mf_update_batch(m, evs, 3), SR_ERANGE);
    ck_assert(t_same_model(m, ref));
    ck_assert_ptr_null(mf_user_vec(m, 10));
    ck_assert_ptr_null(mf_item_vec(m, 10));
    ck_assert(mf_score(m, 10, 0) == 0.0f);
    mf_free(m);
    mf_free(ref);
}
END_TEST

Suite *mf_suite(void)
{
    Suite *s = suite_create("mf");
    TCase *tc = tcase_create("mf");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_same_seed_same_model);
    tcase_add_test(tc, test_batch_equals_sequential);
    tcase_add_test(tc, test_different_seeds_differ);
    tcase_add_test(tc, test_init_independent_of_arrival);
    tcase_add_test(tc, test_planted_bpr);
    tcase_add_test(tc, test_planted_logistic);
    tcase_add_test(tc, test_planted_k64);
    tcase_add_test(tc, test_weight_zero_noop);
    tcase_add_test(tc, test_update_is_local);
    tcase_add_test(tc, test_single_item);
    tcase_add_loop_test(tc, test_score_all_matches_score, 0, 2);
    tcase_add_test(tc, test_item_bias_learns_popularity);
    tcase_add_test(tc, test_bytes);
    tcase_add_test(tc, test_errors);
    suite_add_tcase(s, tc);
    return s;
}
