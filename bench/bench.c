/* bench/bench.c - `make bench`: the performance table and bench/results.json.
 *
 * Every figure comes with a baseline measured in the same run on the same
 * machine, so ratios mean something when absolute numbers move:
 *   learner  vs a plain loop touching the same random rows (memory limit)
 *   replay   vs decompress + split of the same file (input limit)
 *   scoring  vs peak sgemm GFLOP/s (compute limit)
 *   memory   RSS of 10M distinct users with learner.max_users = 1M vs the
 *            RSS of 1M distinct users without a cap (each in a fresh
 *            child process, so nothing else this run allocated counts)
 * Keys of results.json are an interface: add, never rename. */
#include "app/replay.h"
#include "core/ckpt.h"
#include "core/config.h"
#include "core/err.h"
#include "core/time.h"
#include "features/feat.h"
#include "ingest/reader.h"
#include "ingest/source.h"
#include "kernels/kn.h"
#include "kernels/topk.h"
#include "learner/mf.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#define BENCH_USERS  1000000u
#define BENCH_ITEMS  100000u
#define BENCH_EVENTS 4000000u
#define BENCH_K      32

static uint64_t rng = 0x853c49e6748fea9bull;
static uint64_t next_u64(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Events in memory: every user active, items Zipf(1.0). */
static struct sr_event *make_events(uint32_t n, uint32_t users, uint32_t items)
{
    struct sr_event *ev = malloc((size_t)n * sizeof *ev);
    double *cdf = malloc((size_t)items * sizeof *cdf);
    if (!ev || !cdf) {
        free(ev);
        free(cdf);
        return NULL;
    }
    double s = 0;
    for (uint32_t i = 0; i < items; i++)
        cdf[i] = (s += 1.0 / (i + 1.0));
    for (uint32_t e = 0; e < n; e++) {
        double u = (double)(next_u64() >> 11) * 0x1.0p-53 * s;
        uint32_t lo = 0, hi = items - 1;
        while (lo < hi) {
            uint32_t mid = (lo + hi) / 2;
            if (cdf[mid] < u)
                lo = mid + 1;
            else
                hi = mid;
        }
        /* scatter popular items over the id space like real interning would */
        ev[e] = (struct sr_event){.ts_ms = 1500000000000ll + e,
                                  .user = (uint32_t)(next_u64() % users),
                                  .item = (uint32_t)(((uint64_t)lo * 2654435761u) % items),
                                  .type = SR_CLICK,
                                  .weight = 1.0f};
    }
    free(cdf);
    return ev;
}

/* Arrays shaped like the model's: 2 MiB-aligned, offered huge pages. */
static float *rows_alloc(size_t n_rows, int k)
{
    size_t bytes =
        (n_rows * (size_t)k * sizeof(float) + (2u << 20) - 1) & ~(size_t)((2u << 20) - 1);
    float *p = aligned_alloc(2u << 20, bytes);
    if (p) {
        (void)madvise(p, bytes, MADV_HUGEPAGE);
        memset(p, 0, bytes);
    }
    return p;
}

/* The physical limit of the learner: per event, read and write the same
 * number of random k-float rows (user, positive, negatives) in arrays of
 * the same size, doing nothing else. With prefetch, the rows of event e+8
 * are requested while event e is written: the best the memory system
 * allows. Returns events per second. */
static double limit_loop(const struct sr_event *ev, uint32_t n, int k, int negatives, bool prefetch)
{
    float *U = rows_alloc(BENCH_USERS, k), *V = rows_alloc(BENCH_ITEMS, k);
    uint32_t *negs = malloc((size_t)n * (size_t)negatives * sizeof *negs);
    if (!U || !V || !negs) {
        free(U);
        free(V);
        free(negs);
        return 0;
    }
    for (size_t j = 0; j < (size_t)n * (size_t)negatives; j++)
        negs[j] = (uint32_t)(next_u64() % BENCH_ITEMS);
    const uint32_t D = 8;
    double t0 = sr_mono_s();
    for (uint32_t e = 0; e < n; e++) {
        if (prefetch && e + D < n) {
            const struct sr_event *f = &ev[e + D];
            for (int l = 0; l < k; l += 16) {
                __builtin_prefetch(U + (size_t)f->user * k + l, 1);
                __builtin_prefetch(V + (size_t)f->item * k + l, 1);
                for (int j = 0; j < negatives; j++)
                    __builtin_prefetch(V + (size_t)negs[(size_t)(e + D) * negatives + j] * k + l,
                                       1);
            }
        }
        float *rows[2 + 256];
        int nr = 0;
        rows[nr++] = U + (size_t)ev[e].user * k;
        rows[nr++] = V + (size_t)ev[e].item * k;
        for (int j = 0; j < negatives; j++)
            rows[nr++] = V + (size_t)negs[(size_t)e * negatives + j] * k;
        for (int r = 0; r < nr; r++)
            for (int j = 0; j < k; j++)
                rows[r][j] = rows[r][j] * 0.999f + 0.001f;
    }
    double dt = sr_mono_s() - t0;
    /* keep the stores observable */
    volatile float sink = U[ev[0].user * (size_t)k] + V[ev[0].item * (size_t)k];
    (void)sink;
    free(U);
    free(V);
    free(negs);
    return n / dt;
}

static double replay_rate(const char *path, double *seconds_out)
{
    struct sr_config cfg;
    char err[1024];
    sr_config_defaults(&cfg);
    if (src_apply_preset(&cfg, SR_PRESET_TAOBAO, err, sizeof err) ||
        sr_config_override(&cfg, "eval.enabled=false", err, sizeof err)) {
        fprintf(stderr, "bench: %s\n", err);
        return 0;
    }
    const char *paths[] = {path};
    struct replay_opts o = {.paths = paths, .n_paths = 1};
    json_t *r = replay_run(&cfg, &o, err, sizeof err);
    if (!r) {
        fprintf(stderr, "bench: replay: %s\n", err);
        return 0;
    }
    double rate = json_real_value(json_object_get(r, "events_per_s"));
    *seconds_out = json_real_value(json_object_get(r, "seconds"));
    json_decref(r);
    return rate;
}

static double raw_read_rate(const char *path)
{
    char err[512];
    double t0 = sr_mono_s();
    struct reader *r = reader_open(path, err, sizeof err);
    if (!r) {
        fprintf(stderr, "bench: %s\n", err);
        return 0;
    }
    char *line;
    size_t len;
    uint64_t lines = 0;
    int rc;
    while ((rc = reader_next(r, &line, &len)) != SR_EEOF)
        if (rc == 0)
            lines++;
        else if (rc != SR_ERANGE)
            break;
    reader_close(r);
    return lines / (sr_mono_s() - t0);
}

/* Checkpoint of the learner's model: mf_save into a fresh writer (what the
 * learner thread pauses for; best of 3), writing the file (tmp, fsync,
 * rename), and ck_open + mf_load into a fresh model. Adds the
 * checkpoint_* keys to res; 0 or -1 (message printed). */
static int bench_checkpoint(const struct mf *m, const struct sr_learner_cfg *lc, json_t *res)
{
    char dir[] = "/tmp/sr_bench_ckpt_XXXXXX", err[512], name[96], path[512];
    if (!mkdtemp(dir)) {
        perror("bench: mkdtemp");
        return -1;
    }
    double save_s = INFINITY, write_s = 0, load_s = 0;
    size_t bytes = 0;
    int rc = -1;
    for (int rep = 0; rep < 3; rep++) {
        struct ck_writer *w = ck_writer_new();
        double t0 = sr_mono_s();
        int src = w ? mf_save(m, w) : SR_ENOMEM;
        double dt = sr_mono_s() - t0;
        if (src != 0) {
            fprintf(stderr, "bench: mf_save: %s\n", sr_strerror(src));
            ck_writer_free(w);
            goto out;
        }
        save_s = fmin(save_s, dt);
        bytes = ck_writer_bytes(w);
        if (rep == 0) {
            ck_name(name, sizeof name, 1, 0);
            t0 = sr_mono_s();
            src = ck_write_file(w, dir, name, "bench", 0, err, sizeof err);
            write_s = sr_mono_s() - t0;
            if (src != 0) {
                fprintf(stderr, "bench: %s\n", err);
                ck_writer_free(w);
                goto out;
            }
        }
        ck_writer_free(w);
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct mf *l = mf_new(lc, err, sizeof err);
    double t0 = sr_mono_s();
    struct ck_file *f = l ? ck_open(path, err, sizeof err) : NULL;
    double open_s = sr_mono_s() - t0;
    int lrc = f ? mf_load(l, f, err, sizeof err) : SR_EIO;
    ck_close(f);
    load_s = sr_mono_s() - t0;
    if (lrc != 0 || mf_updates(l) != mf_updates(m) || mf_n_users(l) != mf_n_users(m)) {
        fprintf(stderr, "bench: checkpoint load: %s\n", lrc ? err : "model differs");
        mf_free(l);
        goto out;
    }
    mf_free(l);
    /* Baseline: memcpy of as many bytes into a fresh buffer, as mf_save
     * copies into freshly grown sections (page faults included). */
    double copy_s = INFINITY;
    unsigned char *src = malloc(bytes);
    if (src) {
        memset(src, 1, bytes);
        for (int rep = 0; rep < 3; rep++) {
            unsigned char *dst = malloc(bytes);
            if (!dst)
                break;
            double c0 = sr_mono_s();
            memcpy(dst, src, bytes);
            copy_s = fmin(copy_s, sr_mono_s() - c0);
            volatile unsigned char sink = dst[bytes / 2];
            (void)sink;
            free(dst);
        }
        free(src);
    }
    json_object_set_new(res, "checkpoint_memcpy_mb_per_s",
                        json_real(isfinite(copy_s) ? bytes / 1e6 / copy_s : 0));
    json_object_set_new(res, "checkpoint_bytes", json_integer((json_int_t)bytes));
    json_object_set_new(res, "checkpoint_save_ms", json_real(save_s * 1e3));
    json_object_set_new(res, "checkpoint_save_mb_per_s", json_real(bytes / 1e6 / save_s));
    json_object_set_new(res, "checkpoint_write_ms", json_real(write_s * 1e3));
    json_object_set_new(res, "checkpoint_load_ms", json_real(load_s * 1e3));
    json_object_set_new(res, "checkpoint_open_ms", json_real(open_s * 1e3));
    rc = 0;
out:
    ck_prune(dir, 0);
    rmdir(dir);
    return rc;
}

/* The replay loop over n_users distinct users, in memory: two events per
 * user (its first, and a return 500 users later), items uniform over
 * BENCH_ITEMS, through feat_admit / feat_learn / mf as replay drives them
 * (forgetting recycled ids). Returns 0 and fills *rss (bytes, after) and
 * *evicted, or -1. */
static int rss_run(uint32_t n_users, int64_t max_users, uint64_t *rss, uint64_t *evicted)
{
    struct sr_config cfg;
    char err[512];
    sr_config_defaults(&cfg);
    cfg.learner.k = BENCH_K;
    cfg.features.max_users = max_users;
    struct feat *f = feat_new(&cfg.features, err, sizeof err);
    struct mf *m = mf_new(&cfg.learner, err, sizeof err);
    if (!f || !m) {
        fprintf(stderr, "bench: rss: %s\n", err);
        return -1;
    }
    static struct sr_event pending[256];
    size_t n_pending = 0;
    char user[32], item[32];
    struct sr_raw_event raw;
    memset(&raw, 0, sizeof raw);
    raw.type = SR_CLICK;
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (uint64_t e = 0; e < 2ull * n_users; e++) {
        uint64_t u = e / 2;
        if ((e & 1) && u >= 500)
            u -= 500;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        int ul = snprintf(user, sizeof user, "user-%010llu", (unsigned long long)u);
        int il = snprintf(item, sizeof item, "item-%06llu", (unsigned long long)(x % BENCH_ITEMS));
        raw.user_id = (struct sr_str){user, (uint32_t)ul};
        raw.item_id = (struct sr_str){item, (uint32_t)il};
        raw.ts_ms = 1500000000000ll + (int64_t)e;
        struct sr_event ev;
        int rc = feat_admit(f, &raw, &ev);
        if (rc > 0)
            continue;
        if (rc == 0 && (ev.flags & SR_EV_RECYCLED_USER)) {
            rc = mf_update_batch(m, pending, n_pending);
            n_pending = 0;
            mf_forget_user(m, ev.user);
        }
        if (rc == 0)
            rc = mf_reserve(m, feat_n_users(f), feat_n_items(f));
        if (rc == 0)
            rc = feat_learn(f, &ev);
        if (rc != 0) {
            fprintf(stderr, "bench: rss: event %llu: %s\n", (unsigned long long)e, sr_strerror(rc));
            return -1;
        }
        pending[n_pending++] = ev;
        if (n_pending == 256) {
            mf_update_batch(m, pending, n_pending);
            n_pending = 0;
        }
    }
    mf_update_batch(m, pending, n_pending);
    struct feat_stats st;
    feat_stats(f, &st);
    *evicted = st.users_evicted;
    *rss = replay_rss_bytes();
    feat_free(f);
    mf_free(m);
    return 0;
}

/* rss_run in a child process (its RSS is its own); 0 or -1. */
static int rss_child(uint32_t n_users, int64_t max_users, uint64_t *rss, uint64_t *evicted,
                     double *seconds)
{
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    double t0 = sr_mono_s();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        close(fd[0]);
        uint64_t out[2] = {0, 0};
        int rc = rss_run(n_users, max_users, &out[0], &out[1]);
        ssize_t w = rc == 0 ? write(fd[1], out, sizeof out) : -1;
        _exit(w == (ssize_t)sizeof out ? 0 : 1);
    }
    close(fd[1]);
    uint64_t in[2];
    ssize_t r = read(fd[0], in, sizeof in);
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    *seconds = sr_mono_s() - t0;
    if (r != (ssize_t)sizeof in || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        return -1;
    *rss = in[0];
    *evicted = in[1];
    return 0;
}

/* RSS at 1M distinct users, and at 10M with learner.max_users = 1M. */
static int bench_memory_caps(json_t *res)
{
    uint64_t rss1 = 0, rss10 = 0, ev1 = 0, ev10 = 0;
    double s1 = 0, s10 = 0;
    fprintf(stderr, "bench: RSS of 1M distinct users, then 10M with max_users = 1M...\n");
    if (rss_child(BENCH_USERS, 0, &rss1, &ev1, &s1) != 0 ||
        rss_child(10 * BENCH_USERS, BENCH_USERS, &rss10, &ev10, &s10) != 0) {
        fprintf(stderr, "bench: memory caps run failed\n");
        return -1;
    }
    json_object_set_new(res, "rss_1m_users_bytes", json_integer((json_int_t)rss1));
    json_object_set_new(res, "rss_10m_users_cap_1m_bytes", json_integer((json_int_t)rss10));
    json_object_set_new(res, "rss_cap_ratio", json_real(rss1 ? (double)rss10 / rss1 : 0));
    json_object_set_new(res, "rss_10m_users_evicted", json_integer((json_int_t)ev10));
    json_object_set_new(res, "rss_1m_users_seconds", json_real(s1));
    json_object_set_new(res, "rss_10m_users_seconds", json_real(s10));
    return 0;
}

int main(int argc, char **argv)
{
    const char *out_path = "bench/results.json";
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out_path = argv[++i];
    json_t *res = json_object();
    char err[512];
    kn_set_threads(1);

    /* 0. memory caps (child processes, before this one grows) */
    if (bench_memory_caps(res) != 0)
        return 1;

    /* 1. learner vs its memory limit */
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    cfg.learner.k = BENCH_K;
    fprintf(stderr, "bench: learner (1M users, 100k items, k=%d, %lld negatives)...\n", BENCH_K,
            (long long)cfg.learner.negatives);
    struct sr_event *ev = make_events(BENCH_EVENTS, BENCH_USERS, BENCH_ITEMS);
    struct mf *m = mf_new(&cfg.learner, err, sizeof err);
    if (!ev || !m || mf_reserve(m, BENCH_USERS, BENCH_ITEMS) != 0) {
        fprintf(stderr, "bench: learner setup failed: %s\n", m ? "out of memory" : err);
        return 1;
    }
    double t0 = sr_mono_s();
    mf_update_batch(m, ev, BENCH_EVENTS);
    double learner = BENCH_EVENTS / (sr_mono_s() - t0);
    int rows = 2 + (int)cfg.learner.negatives;
    double limit_plain = limit_loop(ev, BENCH_EVENTS, BENCH_K, (int)cfg.learner.negatives, false);
    double limit_pf = limit_loop(ev, BENCH_EVENTS, BENCH_K, (int)cfg.learner.negatives, true);
    /* learner_vs_limit is against the plain loop the issue defines; the
     * prefetching loop is the stricter bound, reported beside it. */
    double limit = limit_plain;
    json_object_set_new(res, "learner_events_per_s", json_real(learner));
    json_object_set_new(res, "limit_row_updates_per_s", json_real(limit * rows));
    json_object_set_new(res, "limit_events_per_s", json_real(limit));
    json_object_set_new(res, "limit_plain_events_per_s", json_real(limit_plain));
    json_object_set_new(res, "limit_prefetch_events_per_s", json_real(limit_pf));
    json_object_set_new(res, "learner_vs_limit", json_real(learner / limit));
    json_object_set_new(res, "learner_vs_prefetch_limit", json_real(learner / limit_pf));
    json_object_set_new(res, "rows_per_event", json_integer(rows));
    json_object_set_new(res, "bytes_per_user", json_integer((json_int_t)mf_bytes_per_user(m)));
    json_object_set_new(res, "bytes_per_item", json_integer((json_int_t)mf_bytes_per_item(m)));
    json_object_set_new(res, "model_bytes", json_integer((json_int_t)mf_bytes(m)));
    json_object_set_new(res, "rss_bytes_after_learner",
                        json_integer((json_int_t)replay_rss_bytes()));
    fprintf(stderr, "bench: checkpoint of that model (save, write, load)...\n");
    if (bench_checkpoint(m, &cfg.learner, res) != 0)
        return 1;
    mf_free(m);
    free(ev);

    /* 2. replay vs raw read of the Taobao sample */
    const char *data = getenv("SR_DATA");
    char path[1024];
    snprintf(path, sizeof path, "%s/taobao-userbehavior-sample/UserBehavior_sample.csv.gz",
             data ? data : "../shared/data");
    fprintf(stderr, "bench: replay vs raw read (%s)...\n", path);
    double replay = 0, raw = 0, secs = 0;
    for (int rep = 0; rep < 3; rep++) {
        double r = replay_rate(path, &secs), w = raw_read_rate(path);
        replay = fmax(replay, r);
        raw = fmax(raw, w);
    }
    json_object_set_new(res, "replay_events_per_s", json_real(replay));
    json_object_set_new(res, "raw_read_events_per_s", json_real(raw));
    json_object_set_new(res, "replay_vs_raw_read", json_real(raw > 0 ? replay / raw : 0));

    /* 3. batched scoring vs peak sgemm */
    fprintf(stderr, "bench: scoring (top-20 of 100k items, k=32) vs peak sgemm...\n");
    double peak = kn_sgemm_peak_gflops(1, 2.0), gflops = 0;
    double users = kn_score_bench(BENCH_ITEMS, BENCH_K, 20, KN_SCORE_BATCH, 1, 3.0, &gflops);
    json_object_set_new(res, "score_users_per_s", json_real(users));
    json_object_set_new(res, "score_gflops", json_real(gflops));
    json_object_set_new(res, "sgemm_gflops_peak", json_real(peak));
    json_object_set_new(res, "score_vs_peak", json_real(peak > 0 ? gflops / peak : 0));
    json_object_set_new(res, "threads", json_integer(1));

    printf("%-28s %14s   %s\n", "figure", "value", "baseline in the same run");
    printf("%-28s %14.0f   %.0f events/s plain limit loop (%d rows/event): %.2fx; "
           "prefetching loop %.0f: %.2fx\n",
           "learner_events_per_s", learner, limit, rows, learner / limit, limit_pf,
           learner / limit_pf);
    printf("%-28s %14.0f   %.0f events/s raw read: %.2fx\n", "replay_events_per_s", replay, raw,
           raw > 0 ? replay / raw : 0);
    printf("%-28s %14.0f   %.1f GFLOP/s of %.1f peak: %.2fx\n", "score_users_per_s", users, gflops,
           peak, peak > 0 ? gflops / peak : 0);
    printf("%-28s %14.1f   mf_save of %.0f MB: %.0f MB/s vs memcpy to a fresh buffer %.0f MB/s; "
           "file write %.0f ms, ck_open + mf_load %.0f ms\n",
           "checkpoint_save_ms", json_real_value(json_object_get(res, "checkpoint_save_ms")),
           (double)json_integer_value(json_object_get(res, "checkpoint_bytes")) / 1e6,
           json_real_value(json_object_get(res, "checkpoint_save_mb_per_s")),
           json_real_value(json_object_get(res, "checkpoint_memcpy_mb_per_s")),
           json_real_value(json_object_get(res, "checkpoint_write_ms")),
           json_real_value(json_object_get(res, "checkpoint_load_ms")));
    printf("%-28s %14.3f   RSS %.0f MB at 10M users, max_users 1M (%lld evicted, %.1f s) vs "
           "%.0f MB at 1M users (%.1f s); target <= 1.2\n",
           "rss_cap_ratio", json_real_value(json_object_get(res, "rss_cap_ratio")),
           (double)json_integer_value(json_object_get(res, "rss_10m_users_cap_1m_bytes")) / 1e6,
           (long long)json_integer_value(json_object_get(res, "rss_10m_users_evicted")),
           json_real_value(json_object_get(res, "rss_10m_users_seconds")),
           (double)json_integer_value(json_object_get(res, "rss_1m_users_bytes")) / 1e6,
           json_real_value(json_object_get(res, "rss_1m_users_seconds")));
    printf("%-28s %14lld   limit 4k+64 = %d\n", "bytes_per_user",
           (long long)json_integer_value(json_object_get(res, "bytes_per_user")), 4 * BENCH_K + 64);
    printf("%-28s %14lld   limit 4k+128 = %d\n", "bytes_per_item",
           (long long)json_integer_value(json_object_get(res, "bytes_per_item")),
           4 * BENCH_K + 128);
    if (json_dump_file(res, out_path, JSON_INDENT(2) | JSON_SORT_KEYS) != 0) {
        fprintf(stderr, "bench: cannot write %s\n", out_path);
        return 1;
    }
    printf("wrote %s\n", out_path);
    json_decref(res);
    return 0;
}
