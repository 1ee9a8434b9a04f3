/* tests/unit/test_replay.c - the replay pipeline and the prequential
 * evaluation, against an independent brute-force implementation of the
 * protocol of DESIGN.md, and for reproducibility. */
#include "app/gen.h"
#include "app/replay.h"
#include "core/config.h"
#include "core/event.h"
#include "ingest/source.h"
#include "ingest/writer.h"

#include <check.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define N_USERS  40
#define N_ITEMS  60
#define N_EVENTS 2500

struct tev {
    int user, item, type;
    long long ts;
};

static uint64_t rng_state;
static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)((rng_state >> 33) % n);
}

/* A random stream with skewed items and repeats; written as CSV with the
 * DESIGN.md header (ts in ms). */
static void make_stream(struct tev *ev, int n, uint64_t seed, const char *path)
{
    rng_state = seed;
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "ts,user_id,item_id,type\n");
    long long ts = 1500000000000ll;
    for (int i = 0; i < n; i++) {
        ev[i].user = (int)rnd(N_USERS);
        /* skew: min of two draws favours low item ids */
        uint32_t a = rnd(N_ITEMS), b = rnd(N_ITEMS);
        ev[i].item = (int)(a < b ? a : b);
        uint32_t t = rnd(10);
        ev[i].type = t < 6 ? SR_VIEW : t < 8 ? SR_CLICK : t < 9 ? SR_ADD_TO_CART : SR_PURCHASE;
        ts += rnd(3) * 1000; /* equal timestamps happen */
        ev[i].ts = ts;
        fprintf(f, "%lld,u%d,i%d,%s\n", ts, ev[i].user, ev[i].item,
                sr_event_type_name((enum sr_event_type)ev[i].type));
    }
    fclose(f);
}

struct ref_metrics {
    double n, hr10, hr20, mrr, ndcg;
};

/* The protocol, written out plainly: popularity_all ranks the catalogue
 * (items with an earlier positive) by all-time positive count, ties by
 * first positive; exclude_seen skips events on seen items and drops seen
 * items from the list. Items are interned in order of first appearance. */
static void reference_pop_all(const struct tev *ev, int n, const double *weight, bool excl,
                              struct ref_metrics *out)
{
    int count[N_ITEMS] = {0};
    long first[N_ITEMS];
    bool seen[N_USERS][N_ITEMS];
    long n_pos = 0;
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < N_ITEMS; i++)
        first[i] = -1;
    memset(out, 0, sizeof *out);
    for (int e = 0; e < n; e++) {
        int u = ev[e].user, it = ev[e].item;
        bool positive = weight[ev[e].type] > 0;
        if (positive && !(excl && seen[u][it])) {
            out->n += 1;
            if (first[it] >= 0) {
                /* rank = 1 + catalogue items (not excluded) that beat it */
                int rank = 1;
                for (int j = 0; j < N_ITEMS; j++) {
                    if (j == it || first[j] < 0 || (excl && seen[u][j]))
                        continue;
                    if (count[j] > count[it] || (count[j] == count[it] && first[j] < first[it]))
                        rank++;
                }
                if (rank <= 20) {
                    out->hr20 += 1;
                    out->hr10 += rank <= 10;
                    out->mrr += 1.0 / rank;
                    out->ndcg += 1.0 / log2(rank + 1.0);
                }
            }
        }
        if (positive) {
            count[it]++;
            if (first[it] < 0)
                first[it] = n_pos++;
        }
        seen[u][it] = true;
    }
}

static json_t *run_replay_recs(const char *path, const char *const *overrides, size_t n_over,
                               const char *dump_recs);

static json_t *run_replay(const char *path, const char *const *overrides, size_t n_over)
{
    return run_replay_recs(path, overrides, n_over, NULL);
}

static json_t *run_replay_recs(const char *path, const char *const *overrides, size_t n_over,
                               const char *dump_recs)
{
    struct sr_config cfg;
    char err[1024];
    sr_config_defaults(&cfg);
    /* No filtering in these tests: every event is applied. */
    ck_assert_int_eq(sr_config_override(&cfg, "features.bot_max_events=0", err, sizeof err), 0);
    ck_assert_int_eq(sr_config_override(&cfg, "features.dedup_window=0", err, sizeof err), 0);
    for (size_t i = 0; i < n_over; i++)
        ck_assert_msg(sr_config_override(&cfg, overrides[i], err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(sr_config_validate(&cfg, err, sizeof err), 0);
    const char *paths[] = {path};
    struct replay_opts o = {.paths = paths, .n_paths = 1, .dump_recs = dump_recs};
    json_t *r = replay_run(&cfg, &o, err, sizeof err);
    ck_assert_msg(r != NULL, "replay failed: %s", err);
    return r;
}

static double metric(json_t *r, const char *mode, const char *sys, const char *key)
{
    json_t *v = json_object_get(json_object_get(json_object_get(r, mode), sys), key);
    ck_assert_msg(v != NULL, "missing %s.%s.%s", mode, sys, key);
    return json_number_value(v);
}

static void check_against_reference(const struct tev *ev, const char *path, const double *w,
                                    const char *const *over, size_t n_over)
{
    json_t *r = run_replay(path, over, n_over);
    ck_assert_int_eq(json_integer_value(json_object_get(r, "applied")), N_EVENTS);
    for (int m = 0; m < 2; m++) {
        const char *mode = m ? "include_seen" : "exclude_seen";
        struct ref_metrics ref;
        reference_pop_all(ev, N_EVENTS, w, m == 0, &ref);
        ck_assert_double_eq(metric(r, mode, "popularity_all", "n"), ref.n);
        ck_assert_double_eq_tol(metric(r, mode, "popularity_all", "hr@10"), ref.hr10 / ref.n,
                                1e-12);
        ck_assert_double_eq_tol(metric(r, mode, "popularity_all", "hr@20"), ref.hr20 / ref.n,
                                1e-12);
        ck_assert_double_eq_tol(metric(r, mode, "popularity_all", "mrr@20"), ref.mrr / ref.n,
                                1e-12);
        ck_assert_double_eq_tol(metric(r, mode, "popularity_all", "ndcg@20"), ref.ndcg / ref.n,
                                1e-12);
        /* Every system scores the same events in a mode. */
        ck_assert_double_eq(metric(r, mode, "mf", "n"), ref.n);
        ck_assert_double_eq(metric(r, mode, "served", "n"), ref.n);
    }
    json_decref(r);
}

START_TEST(test_pop_all_matches_protocol)
{
    char path[] = "/tmp/sr_replay_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    static struct tev ev[N_EVENTS];
    make_stream(ev, N_EVENTS, 12345, path);
    double w_all[SR_EVENT_TYPE_COUNT] = {1, 1, 2, 2, 3};
    check_against_reference(ev, path, w_all, NULL, 0);
    /* Views only mark items seen (as MovieLens's low ratings do). */
    double w_noview[SR_EVENT_TYPE_COUNT] = {0, 1, 2, 2, 3};
    const char *over[] = {"features.weight.view=0"};
    check_against_reference(ev, path, w_noview, over, 1);
    unlink(path);
}
END_TEST

/* The report without the fields that measure the machine. */
static json_t *stable_part(json_t *r)
{
    json_t *c = json_deep_copy(r);
    json_object_del(c, "seconds");
    json_object_del(c, "events_per_s");
    json_object_del(json_object_get(c, "memory"), "rss_bytes");
    return c;
}

START_TEST(test_reproducible)
{
    char path[] = "/tmp/sr_replay_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    static struct tev ev[N_EVENTS];
    make_stream(ev, N_EVENTS, 777, path);
    const char *over[] = {"eval.sample=0.7", "eval.warmup=0.1"};
    json_t *a = run_replay(path, over, 2), *b = run_replay(path, over, 2);
    json_t *sa = stable_part(a), *sb = stable_part(b);
    char *ta = json_dumps(sa, JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    char *tb = json_dumps(sb, JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    ck_assert_str_eq(ta, tb);
    /* Warm-up and sampling took effect: fewer scored than positives. */
    ck_assert_int_lt(
        json_integer_value(json_object_get(a, "scored")),
        json_integer_value(json_object_get(json_object_get(a, "stream"), "positives")));

    const char *over2[] = {"eval.sample=0.7", "eval.warmup=0.1", "learner.seed=43"};
    json_t *c = run_replay(path, over2, 3);
    ck_assert(metric(c, "include_seen", "mf", "mrr@20") !=
              metric(a, "include_seen", "mf", "mrr@20"));
    /* The baselines do not depend on the learner's seed, and sampling is
     * by event index, so the same events are scored. */
    ck_assert_double_eq(metric(c, "include_seen", "popularity", "mrr@20"),
                        metric(a, "include_seen", "popularity", "mrr@20"));
    free(ta);
    free(tb);
    json_decref(sa);
    json_decref(sb);
    json_decref(a);
    json_decref(b);
    json_decref(c);
    unlink(path);
}
END_TEST

/* Evaluation only looks: the model learned, and so the lists served after
 * the stream, are the same whatever is scored (evaluation forces learning
 * in smaller batches before each scored event). */
START_TEST(test_eval_does_not_change_model)
{
    char path[] = "/tmp/sr_replay_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    static struct tev ev[N_EVENTS];
    make_stream(ev, N_EVENTS, 4242, path);
    static const char *const users = "u0,u1,u2,u3,u5,u8,u13,u21,u34";
    const char *all[] = {"eval.sample=1"}, *some[] = {"eval.sample=0.2"},
               *none[] = {"eval.enabled=false"};
    json_t *a = run_replay_recs(path, all, 1, users), *b = run_replay_recs(path, some, 1, users),
           *c = run_replay_recs(path, none, 1, users);
    char *ta = json_dumps(json_object_get(a, "recs"), JSON_SORT_KEYS | JSON_REAL_PRECISION(9));
    char *tb = json_dumps(json_object_get(b, "recs"), JSON_SORT_KEYS | JSON_REAL_PRECISION(9));
    char *tc = json_dumps(json_object_get(c, "recs"), JSON_SORT_KEYS | JSON_REAL_PRECISION(9));
    ck_assert_ptr_nonnull(ta);
    ck_assert_ptr_nonnull(strstr(ta, "items"));
    ck_assert_str_eq(ta, tb);
    ck_assert_str_eq(ta, tc);
    free(ta);
    free(tb);
    free(tc);
    json_decref(a);
    json_decref(b);
    json_decref(c);
    unlink(path);
}
END_TEST

START_TEST(test_report_shape)
{
    char path[] = "/tmp/sr_replay_XXXXXX";
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    static struct tev ev[N_EVENTS];
    make_stream(ev, N_EVENTS, 99, path);
    json_t *r = run_replay(path, NULL, 0);
    static const char *const top[] = {"dataset",      "events",       "applied",      "skipped",
                                      "scored",       "seconds",      "events_per_s", "config",
                                      "exclude_seen", "include_seen", "memory"};
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
        ck_assert_msg(json_object_get(r, top[i]) != NULL, "report lacks %s", top[i]);
    static const char *const sys[] = {"popularity", "covis", "mf", "served"};
    static const char *const keys[] = {"hr@10", "hr@20", "mrr@20", "ndcg@20"};
    for (size_t s = 0; s < 4; s++)
        for (size_t k = 0; k < 4; k++) {
            double v = metric(r, "exclude_seen", sys[s], keys[k]);
            ck_assert(v >= 0 && v <= 1);
        }
    static const char *const mem[] = {"users", "items", "rss_bytes", "bytes_per_user",
                                      "bytes_per_item"};
    for (size_t i = 0; i < 5; i++)
        ck_assert_ptr_nonnull(json_object_get(json_object_get(r, "memory"), mem[i]));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(r, "memory"), "users")),
                     N_USERS);
    /* The effective configuration is in the report. */
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_object_get(json_object_get(r, "config"), "learner"), "k")),
                     32);
    json_decref(r);
    unlink(path);
}
END_TEST

/* The same synthetic stream written as CSV, JSON lines and Avro replays to
 * the same report: the formats differ only in the decoder. */
START_TEST(test_formats_agree)
{
    static const enum wr_format fmts[] = {WR_CSV, WR_JSONL, WR_AVRO};
    static const char *const ext[] = {"csv", "jsonl", "avro"};
    char paths[3][64];
    char err[512];
    for (int f = 0; f < 3; f++) {
        snprintf(paths[f], sizeof paths[f], "/tmp/sr_fmt_%d.%s", (int)getpid(), ext[f]);
        struct gen_cfg gc;
        gen_cfg_defaults(&gc);
        gc.events = 20000;
        gc.users = 500;
        gc.items = 800;
        gc.seed = 5;
        struct gen *g = gen_new(&gc, err, sizeof err);
        ck_assert_msg(g != NULL, "%s", err);
        struct wr *w = wr_open(paths[f], fmts[f], err, sizeof err);
        ck_assert_msg(w != NULL, "%s", err);
        struct gen_event ev;
        while (gen_next(g, &ev) == 0)
            ck_assert_int_eq(wr_write(w, &ev.raw), 0);
        ck_assert_int_eq(wr_close(w, err, sizeof err), 0);
        gen_free(g);
    }
    char *text[3];
    for (int f = 0; f < 3; f++) {
        json_t *r = run_replay(paths[f], NULL, 0);
        ck_assert_int_eq(json_integer_value(json_object_get(r, "events")), 20000);
        ck_assert_int_eq(json_integer_value(json_object_get(r, "applied")), 20000);
        ck_assert_int_gt(json_integer_value(json_object_get(r, "scored")), 1000);
        json_t *st = stable_part(r);
        json_object_del(st, "dataset");
        json_object_del(st, "files");
        json_object_del(json_object_get(st, "stream"), "bytes_read");
        json_object_del(json_object_get(json_object_get(st, "config"), "ingest"), "format");
        text[f] = json_dumps(st, JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
        json_decref(st);
        json_decref(r);
        unlink(paths[f]);
    }
    ck_assert_str_eq(text[0], text[1]);
    ck_assert_str_eq(text[0], text[2]);
    for (int f = 0; f < 3; f++)
        free(text[f]);
}
END_TEST

/* A real dataset through the presets: every rating applied, and with
 * exclude_seen the learned model finds more than the popularity baseline. */
START_TEST(test_movielens_learns)
{
    const char *data = getenv("SR_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/movielens-latest-small/ratings.csv.gz", data ? data : "");
    if (!data || access(path, R_OK) != 0) {
        fprintf(stderr, "test_movielens_learns: skipped, %s not found\n", path);
        return;
    }
    struct sr_config cfg;
    char err[1024];
    sr_config_defaults(&cfg);
    ck_assert_int_eq(src_apply_preset(&cfg, SR_PRESET_MOVIELENS, err, sizeof err), 0);
    ck_assert_int_eq(sr_config_override(&cfg, "eval.sample=0.3", err, sizeof err), 0);
    const char *paths[] = {path};
    struct replay_opts o = {.paths = paths, .n_paths = 1};
    json_t *r = replay_run(&cfg, &o, err, sizeof err);
    ck_assert_msg(r != NULL, "%s", err);
    ck_assert_int_eq(json_integer_value(json_object_get(r, "events")), 100836);
    ck_assert_int_eq(json_integer_value(json_object_get(r, "applied")), 100836);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(r, "memory"), "users")),
                     610);
    double pop = metric(r, "exclude_seen", "popularity", "hr@20");
    double mf = metric(r, "exclude_seen", "mf", "hr@20");
    double served = metric(r, "exclude_seen", "served", "hr@20");
    ck_assert_msg(mf > pop && served > pop, "mf %.4f served %.4f popularity %.4f", mf, served, pop);
    json_decref(r);
}
END_TEST

Suite *replay_suite(void)
{
    Suite *s = suite_create("replay");
    TCase *tc = tcase_create("replay");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_pop_all_matches_protocol);
    tcase_add_test(tc, test_reproducible);
    tcase_add_test(tc, test_report_shape);
    tcase_add_test(tc, test_eval_does_not_change_model);
    tcase_add_test(tc, test_formats_agree);
    tcase_add_test(tc, test_movielens_learns);
    suite_add_tcase(s, tc);
    return s;
}
