/* tests/unit/test_metrics.c - app/metrics: the record matches
 * docs/metrics.md (example and table), rates, nulls, and the histogram's
 * quantiles against exact ones on random data. */
#include "app/metrics.h"

#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOC "docs/metrics.md"

/* ---- helpers ---------------------------------------------------------- */

static char *read_doc(void)
{
    FILE *f = fopen(DOC, "rb");
    ck_assert_msg(f != NULL, "cannot open %s (run from the repository root)", DOC);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    ck_assert_uint_lt(n, sizeof buf - 1);
    buf[n] = '\0';
    return buf;
}

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "object";
    case JSON_ARRAY:
        return "array";
    case JSON_STRING:
        return "string";
    case JSON_INTEGER:
        return "integer";
    case JSON_REAL:
        return "real";
    case JSON_TRUE:
    case JSON_FALSE:
        return "bool";
    default:
        return "null";
    }
}

/* Collects "path type" lines of every key, into out (one per line). Keys of
 * a by_reason map are data, not schema: they become "*". Array elements
 * share the path "name[]". */
static void flatten(const json_t *v, const char *path, char *out, size_t cap)
{
    size_t len = strlen(out);
    snprintf(out + len, cap - len, "%s %s\n", path, type_name(v));
    char sub[256];
    if (json_is_object(v)) {
        const char *key;
        json_t *child;
        int map = strlen(path) >= 9 && strcmp(path + strlen(path) - 9, "by_reason") == 0;
        json_object_foreach((json_t *)v, key, child)
        {
            snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", map ? "*" : key);
            if (!map || strstr(out, sub) == NULL)
                flatten(child, sub, out, cap);
        }
    } else if (json_is_array(v)) {
        size_t i;
        json_t *child;
        snprintf(sub, sizeof sub, "%s[]", path);
        json_array_foreach(v, i, child)
        {
            if (i == 0)
                flatten(child, sub, out, cap);
        }
    }
}

/* Sorts the lines of s in place (for set comparison). */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sorted_lines(char *s, char *out, size_t cap)
{
    char *lines[512];
    size_t n = 0;
    for (char *p = strtok(s, "\n"); p && n < 512; p = strtok(NULL, "\n"))
        lines[n++] = p;
    qsort(lines, n, sizeof *lines, cmp_str);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strncat(out, lines[i], cap - strlen(out) - 2);
        strcat(out, "\n");
    }
}

static const struct metrics_count dlq[] = {{"bad_json", 7}, {"unknown_schema", 2}, {"bad_json", 1}};
static const struct metrics_count skipped[] = {{"duplicate", 30}, {"late", 5}};
static const struct metrics_lag lag[] = {{"events", 0, 40}, {"events", 1, -1}, {"events", 2, 2}};

/* A full record: every optional figure present. */
static struct metrics_input full_input(void)
{
    struct metrics_input in = {
        .instance = "test:1",
        .interval_start_ms = 1717200000000,
        .interval_end_ms = 1717200002500, /* 2.5 s */
        .events_in = 1234,
        .events_applied = 1000,
        .dlq = dlq,
        .n_dlq = 3,
        .skipped = skipped,
        .n_skipped = 2,
        .lag = lag,
        .n_lag = 3,
        .redis_sets = 500,
        .redis_errors = 3,
        .redis_reconnects = 1,
        .freshness_p50_ms = 12.5,
        .freshness_p99_ms = 99.25,
        .freshness_n = 500,
        .users = 100,
        .items = 50,
        .model_bytes = 12345,
        .model_version = "m-7",
        .checkpoints_on = true,
        .checkpoints = 4,
        .checkpoint_errors = 1,
        .checkpoint_age_ms = 2500,
        .checkpoint_capture_ms = 40.5,
        .checkpoint_write_ms = 120.25,
        .checkpoint_bytes = 99999,
        .messages_uncheckpointed = 777,
    };
    for (int s = 0; s < METRICS_SYSTEM_COUNT; s++)
        in.hr[s] = (struct metrics_hr){.hr20 = 0.1 * (s + 1), .n = 10 + s};
    return in;
}

/* ---- the record ------------------------------------------------------- */

START_TEST(test_doc_example_matches_record)
{
    char *doc = read_doc();
    char *start = strstr(doc, "```json\n");
    ck_assert_msg(start != NULL, "no ```json block in " DOC);
    start += 8;
    char *end = strstr(start, "```");
    ck_assert_ptr_nonnull(end);
    json_error_t jerr;
    json_t *example = json_loadb(start, (size_t)(end - start), 0, &jerr);
    ck_assert_msg(example != NULL, DOC " example: %s (line %d)", jerr.text, jerr.line);

    struct metrics_input in = full_input();
    json_t *rec = metrics_json(&in);
    ck_assert_ptr_nonnull(rec);

    static char a[16384], b[16384], sa[16384], sb[16384];
    a[0] = b[0] = '\0';
    flatten(example, "", a, sizeof a);
    flatten(rec, "", b, sizeof b);
    sorted_lines(a, sa, sizeof sa);
    sorted_lines(b, sb, sizeof sb);
    ck_assert_msg(strcmp(sa, sb) == 0, "keys/types differ:\n-- " DOC " example:\n%s-- record:\n%s",
                  sa, sb);
    json_decref(example);
    json_decref(rec);
}
END_TEST

START_TEST(test_doc_table_matches_record)
{
    char *doc = read_doc();
    struct metrics_input in = full_input();
    json_t *rec = metrics_json(&in);
    static char keys[16384], sorted[16384];
    keys[0] = '\0';
    flatten(rec, "", keys, sizeof keys);
    sorted_lines(keys, sorted, sizeof sorted);

    /* Every key of the record (but by_reason's data keys) has a table row. */
    int n_rec = 0;
    for (char *line = strtok(sorted, "\n"); line; line = strtok(NULL, "\n")) {
        char *sp = strchr(line, ' ');
        *sp = '\0';
        if (*line == '\0' || strstr(line, "*") || line[strlen(line) - 1] == ']')
            continue;
        char row[300];
        snprintf(row, sizeof row, "| `%s` |", line);
        ck_assert_msg(strstr(doc, row) != NULL, "%s is not documented in " DOC, line);
        n_rec++;
    }
    /* Every table row names a key of the record. */
    keys[0] = '\0'; /* strtok ate the copy; rebuild */
    flatten(rec, "", keys, sizeof keys);
    int n_doc = 0;
    for (char *p = strstr(doc, "\n| `"); p; p = strstr(p + 1, "\n| `")) {
        char key[256];
        ck_assert_int_eq(sscanf(p, "\n| `%255[^`]`", key), 1);
        char want[300];
        snprintf(want, sizeof want, "\n%s ", key);
        char hay[16400];
        snprintf(hay, sizeof hay, "\n%s", keys);
        ck_assert_msg(strstr(hay, want) != NULL, DOC " documents %s, which the record lacks", key);
        n_doc++;
    }
    ck_assert_int_eq(n_doc, n_rec);
    ck_assert_int_gt(n_doc, 40);
    json_decref(rec);
}
END_TEST

static double real_at(const json_t *rec, const char *obj, const char *key)
{
    json_t *v = json_object_get(json_object_get(rec, obj), key);
    ck_assert_msg(json_is_real(v), "%s.%s is not a real", obj, key);
    return json_real_value(v);
}

static long long int_at(const json_t *rec, const char *obj, const char *key)
{
    json_t *v = json_object_get(json_object_get(rec, obj), key);
    ck_assert_msg(json_is_integer(v), "%s.%s is not an integer", obj, key);
    return json_integer_value(v);
}

START_TEST(test_rates_and_values)
{
    struct metrics_input in = full_input();
    json_t *rec = metrics_json(&in);
    ck_assert_ptr_nonnull(rec);
    ck_assert_double_eq_tol(real_at(rec, "interval", "seconds"), 2.5, 1e-12);
    ck_assert_double_eq_tol(real_at(rec, "events", "in_per_s"), 1234 / 2.5, 1e-9);
    ck_assert_double_eq_tol(real_at(rec, "events", "applied_per_s"), 400.0, 1e-9);
    ck_assert_double_eq_tol(real_at(rec, "redis", "sets_per_s"), 200.0, 1e-9);
    ck_assert_double_eq_tol(real_at(rec, "dlq", "per_s"), 10 / 2.5, 1e-9);
    ck_assert_int_eq(int_at(rec, "events", "in"), 1234);
    ck_assert_int_eq(int_at(rec, "redis", "errors"), 3);
    ck_assert_int_eq(int_at(rec, "redis", "reconnects"), 1);

    /* A repeated reason adds up; totals are the sums. */
    ck_assert_int_eq(int_at(rec, "dlq", "total"), 10);
    json_t *br = json_object_get(json_object_get(rec, "dlq"), "by_reason");
    ck_assert_int_eq(json_object_size(br), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(br, "bad_json")), 8);
    ck_assert_int_eq(json_integer_value(json_object_get(br, "unknown_schema")), 2);
    ck_assert_int_eq(int_at(rec, "skipped", "total"), 35);

    /* Unknown lag is null and not in the total. */
    ck_assert_int_eq(int_at(rec, "lag", "total"), 42);
    json_t *parts = json_object_get(json_object_get(rec, "lag"), "partitions");
    ck_assert_int_eq(json_array_size(parts), 3);
    ck_assert(json_is_null(json_object_get(json_array_get(parts, 1), "lag")));
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(parts, 2), "partition")), 2);

    ck_assert_double_eq(real_at(rec, "freshness_ms", "p99"), 99.25);
    for (int s = 0; s < METRICS_SYSTEM_COUNT; s++) {
        json_t *h = json_object_get(json_object_get(rec, "online"), metrics_system_name(s));
        ck_assert_double_eq_tol(json_real_value(json_object_get(h, "hr@20")), 0.1 * (s + 1), 1e-12);
        ck_assert_int_eq(json_integer_value(json_object_get(h, "n")), 10 + s);
    }
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(rec, "model"), "version")),
                     "m-7");
    ck_assert_int_eq(int_at(rec, "model", "bytes"), 12345);
    ck_assert_int_eq(int_at(rec, "checkpoint", "written"), 4);
    ck_assert_int_eq(int_at(rec, "checkpoint", "age_ms"), 2500);
    ck_assert_int_eq(int_at(rec, "checkpoint", "messages_since"), 777);
    ck_assert_double_eq(real_at(rec, "checkpoint", "write_ms"), 120.25);
    json_decref(rec);
}
END_TEST

START_TEST(test_empty_interval_and_nulls)
{
    struct metrics_input in = {.interval_start_ms = 5000,
                               .interval_end_ms = 5000,
                               .events_in = 10,
                               .freshness_p50_ms = 3,
                               .freshness_n = 0};
    in.hr[METRICS_MF] = (struct metrics_hr){.hr20 = NAN, .n = 4};
    json_t *rec = metrics_json(&in);
    ck_assert_ptr_nonnull(rec);
    /* No time elapsed: rates are 0, not inf. */
    ck_assert_double_eq(real_at(rec, "events", "in_per_s"), 0.0);
    ck_assert_double_eq(real_at(rec, "interval", "seconds"), 0.0);
    /* No samples: null, not a stale value. */
    ck_assert(json_is_null(json_object_get(json_object_get(rec, "freshness_ms"), "p50")));
    json_t *online = json_object_get(rec, "online");
    ck_assert(json_is_null(json_object_get(json_object_get(online, "served"), "hr@20")));
    /* Non-finite becomes null (JSON has no NaN). */
    ck_assert(json_is_null(json_object_get(json_object_get(online, "mf"), "hr@20")));
    ck_assert_str_eq(json_string_value(json_object_get(rec, "instance")), "");
    ck_assert_int_eq(json_array_size(json_object_get(json_object_get(rec, "lag"), "partitions")),
                     0);
    /* No state.dir: no checkpoint figures at all. */
    ck_assert(json_is_null(json_object_get(rec, "checkpoint")));
    /* With one but none written yet: the age is null. */
    in.checkpoints_on = true;
    in.checkpoint_age_ms = -1;
    json_t *rec2 = metrics_json(&in);
    ck_assert(json_is_null(json_object_get(json_object_get(rec2, "checkpoint"), "age_ms")));
    json_decref(rec2);
    /* It serialises. */
    char *s = json_dumps(rec, JSON_COMPACT);
    ck_assert_ptr_nonnull(s);
    free(s);
    json_decref(rec);
}
END_TEST

/* ---- histogram -------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static double urand(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return ((rng_state >> 11) + 0.5) / 9007199254740992.0;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

START_TEST(test_hist_quantiles_random)
{
    enum { N = 20000 };
    static double v[N];
    static struct metrics_hist h;
    const double qs[] = {0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999};
    for (int round = 0; round < 4; round++) {
        metrics_hist_reset(&h);
        int n = round == 3 ? 7 : N; /* and a tiny sample */
        for (int i = 0; i < n; i++) {
            /* Log-normal latencies around 50 ms, spread over ~5 decades, plus
             * a few exact zeros and sub-minimum values. */
            double z = sqrt(-2 * log(urand())) * cos(2 * M_PI * urand());
            v[i] = round == 1 ? urand() * 1000.0 : 50.0 * exp(2.0 * z);
            if (round == 2 && i % 50 == 0)
                v[i] = (i % 100 == 0) ? 0.0 : 0.004;
            metrics_hist_add(&h, v[i]);
        }
        qsort(v, n, sizeof *v, cmp_double);
        ck_assert_uint_eq(h.n, n);
        ck_assert_double_eq(h.min, v[0]);
        ck_assert_double_eq(h.max, v[n - 1]);
        for (size_t k = 0; k < sizeof qs / sizeof *qs; k++) {
            size_t rank = (size_t)ceil(qs[k] * n);
            double exact = v[rank ? rank - 1 : 0];
            double est = metrics_hist_quantile(&h, qs[k]);
            int be = metrics_hist_bucket(exact), bq = metrics_hist_bucket(est);
            ck_assert_msg(abs(be - bq) <= 1, "round %d q=%g: exact %g (bucket %d), est %g (%d)",
                          round, qs[k], exact, be, est, bq);
            if (exact >= METRICS_HIST_MIN_MS)
                ck_assert_msg(fabs(est / exact - 1) <= 0.19, "q=%g: %g vs %g", qs[k], est, exact);
        }
        ck_assert_double_eq(metrics_hist_quantile(&h, 0), v[0]);
        ck_assert_double_eq(metrics_hist_quantile(&h, 1), v[n - 1]);
    }
}
END_TEST

START_TEST(test_hist_merge_reset_edges)
{
    static struct metrics_hist a, b, all;
    metrics_hist_reset(&a);
    metrics_hist_reset(&b);
    metrics_hist_reset(&all);
    ck_assert(isnan(metrics_hist_quantile(&a, 0.5)));
    for (int i = 0; i < 3000; i++) {
        double x = urand() * urand() * 5000;
        metrics_hist_add(i % 3 ? &a : &b, x);
        metrics_hist_add(&all, x);
    }
    metrics_hist_merge(&a, &b);
    ck_assert_uint_eq(a.n, all.n);
    ck_assert_int_eq(memcmp(a.count, all.count, sizeof a.count), 0);
    ck_assert_double_eq(a.min, all.min);
    ck_assert_double_eq(a.max, all.max);
    ck_assert_double_eq_tol(a.sum, all.sum, 1e-6 * all.sum);
    ck_assert_double_eq(metrics_hist_quantile(&a, 0.99), metrics_hist_quantile(&all, 0.99));
    /* Merging into an empty one copies it; merging an empty one changes nothing. */
    metrics_hist_reset(&b);
    metrics_hist_merge(&b, &all);
    ck_assert_double_eq(b.min, all.min);
    metrics_hist_reset(&a);
    metrics_hist_merge(&b, &a);
    ck_assert_uint_eq(b.n, all.n);

    /* Buckets are monotonic and cover everything; odd inputs land in bucket 0. */
    int prev = 0;
    for (double x = 0.001; x < 1e9; x *= 1.01) {
        int bk = metrics_hist_bucket(x);
        ck_assert_int_ge(bk, prev);
        ck_assert_int_lt(bk, METRICS_HIST_BUCKETS);
        prev = bk;
    }
    ck_assert_int_eq(prev, METRICS_HIST_BUCKETS - 1);
    ck_assert_int_eq(metrics_hist_bucket(-5), 0);
    ck_assert_int_eq(metrics_hist_bucket(NAN), 0);
    metrics_hist_reset(&a);
    metrics_hist_add(&a, NAN);
    metrics_hist_add(&a, -3);
    metrics_hist_add(&a, 1e12); /* overflow bucket: the quantile is the exact max */
    ck_assert_double_eq(a.min, 0.0);
    ck_assert_double_eq(metrics_hist_quantile(&a, 0.9), 1e12);
    ck_assert_double_lt(metrics_hist_quantile(&a, 0.5), METRICS_HIST_MIN_MS);
}
END_TEST

Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, test_doc_example_matches_record);
    tcase_add_test(tc, test_doc_table_matches_record);
    tcase_add_test(tc, test_rates_and_values);
    tcase_add_test(tc, test_empty_interval_and_nulls);
    tcase_add_test(tc, test_hist_quantiles_random);
    tcase_add_test(tc, test_hist_merge_reset_edges);
    suite_add_tcase(s, tc);
    return s;
}
