/* tests/unit/test_publisher.c - serve/publisher and serve/lookup against a
 * real, throwaway redis-server on a private port.
 *
 * Each test starts its own redis-server (no persistence, in a temp dir) and
 * kills and reaps it in the checked teardown. Under CK_FORK a failed
 * assertion ends the test process without teardown; the server was started
 * with PR_SET_PDEATHSIG, so it dies with it. Tests skip (with a message)
 * when redis-server is not installed. */
#include "core/config.h"
#include "core/err.h"
#include "core/log.h"
#include "serve/lookup.h"
#include "serve/publisher.h"

#include <check.h>
#include <fcntl.h>
#include <hiredis.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- a throwaway redis-server ---- */

static pid_t rs_pid = -1;
static int rs_port;
static char rs_dir[64];

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static bool have_redis(void)
{
    return access("/usr/bin/redis-server", X_OK) == 0 || system("command -v redis-server "
                                                                ">/dev/null 2>&1") == 0;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A connection to the test server (AUTH with password if given). */
static redisContext *rs_admin(const char *password)
{
    struct timeval tv = {1, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", rs_port, tv);
    if (!c || c->err) {
        redisFree(c);
        return NULL;
    }
    if (password) {
        redisReply *r = redisCommand(c, "AUTH %s", password);
        bool ok = r && r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        if (!ok) {
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

/* Starts redis-server on rs_port (picked on the first start, reused after)
 * and waits until PING answers. */
static void rs_start(const char *password)
{
    if (!rs_dir[0]) {
        snprintf(rs_dir, sizeof rs_dir, "/tmp/sr_redis_XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(rs_dir));
    }
    if (rs_port == 0)
        rs_port = free_port();
    ck_assert_int_gt(rs_port, 0);
    char port[16];
    snprintf(port, sizeof port, "%d", rs_port);
    pid_t parent = getpid();
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        if (chdir(rs_dir) != 0)
            _exit(127);
        int devnull = open("/dev/null", O_WRONLY);
        dup2(devnull, 1);
        dup2(devnull, 2);
        const char *argv[16] = {"redis-server", "--port",      port, "--bind",
                                "127.0.0.1",    "--save",      "",   "--appendonly",
                                "no",           "--daemonize", "no"};
        int n = 11;
        if (password) {
            argv[n++] = "--requirepass";
            argv[n++] = password;
        }
        argv[n] = NULL;
        execvp("redis-server", (char *const *)argv);
        _exit(127);
    }
    rs_pid = pid;
    for (int i = 0; i < 300; i++) {
        redisContext *c = rs_admin(password);
        if (c) {
            redisReply *r = redisCommand(c, "PING");
            bool pong = r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0;
            freeReplyObject(r);
            redisFree(c);
            if (pong)
                return;
        }
        sleep_ms(10);
    }
    ck_abort_msg("redis-server on port %d did not answer PING", rs_port);
}

static void rs_kill(void)
{
    if (rs_pid > 0) {
        kill(rs_pid, SIGKILL);
        waitpid(rs_pid, NULL, 0);
        rs_pid = -1;
    }
}

static void rs_setup(void)
{
    rs_pid = -1;
    rs_port = 0;
    rs_dir[0] = '\0';
}

static void rs_teardown(void)
{
    rs_kill();
    if (rs_dir[0])
        rmdir(rs_dir);
}

#define NEED_REDIS()                                                                               \
    do {                                                                                           \
        if (!have_redis()) {                                                                       \
            fprintf(stderr, "test_publisher: redis-server not installed; skipped\n");              \
            return;                                                                                \
        }                                                                                          \
    } while (0)

/* ---- helpers ---- */

static void test_cfg(struct sr_config *cfg)
{
    sr_config_defaults(cfg);
    cfg->redis.port = rs_port;
    cfg->redis.connect_timeout_ms = 500;
    cfg->redis.timeout_ms = 1000;
    cfg->redis.backoff_min_ms = 10;
    cfg->redis.backoff_max_ms = 100;
    cfg->publish.interval_ms = 10;
}

static struct publisher *start_pub(const struct sr_config *cfg)
{
    char err[256];
    struct publisher *p = pub_new(&cfg->redis, &cfg->publish, err, sizeof err);
    ck_assert_msg(p != NULL, "pub_new: %s", err);
    return p;
}

/* The value of a key via lookup_get, parsed; the caller json_decref()s. */
static json_t *get_json(const struct sr_config *cfg, enum pub_kind kind, const char *id,
                        char **raw_out)
{
    char *raw = NULL, err[256];
    int rc = lookup_get(&cfg->redis, kind, id, &raw, NULL, err, sizeof err);
    ck_assert_msg(rc == 0, "lookup %s: %s", id, err);
    json_error_t jerr;
    json_t *v = json_loads(raw, 0, &jerr);
    ck_assert_msg(v != NULL, "value of %s is not JSON: %s", id, raw);
    if (raw_out)
        *raw_out = raw;
    else
        free(raw);
    return v;
}

static long long redis_int(redisContext *c, const char *fmt, const char *arg)
{
    redisReply *r = redisCommand(c, fmt, arg);
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->type, REDIS_REPLY_INTEGER);
    long long v = r->integer;
    freeReplyObject(r);
    return v;
}

/* Calls of SET seen by the server (INFO commandstats), counted independently
 * of the publisher's own counters. */
static long long server_set_calls(redisContext *c)
{
    redisReply *r = redisCommand(c, "INFO commandstats");
    ck_assert_ptr_nonnull(r);
    const char *s = strstr(r->str, "cmdstat_set:calls=");
    long long n = s ? atoll(s + strlen("cmdstat_set:calls=")) : 0;
    freeReplyObject(r);
    return n;
}

/* Redirects stderr to a file; returns the saved descriptor. */
static int capture_stderr(const char *path)
{
    fflush(stderr);
    int saved = dup(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ck_assert_int_ge(fd, 0);
    dup2(fd, 2);
    close(fd);
    return saved;
}

static char *end_capture(int saved, const char *path)
{
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    unlink(path);
    return buf;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

/* ---- tests ---- */

START_TEST(test_offer_rejects_bad_input)
{
    struct sr_config cfg;
    test_cfg(&cfg);
    cfg.redis.port = 1; /* nothing listens; no Redis needed */
    cfg.publish.max_pending = 16;
    sr_log_set_level(SR_LOG_ERROR);
    struct publisher *p = start_pub(&cfg);
    const char *items[] = {"a"};
    float nan_score[] = {NAN}, ok_score[] = {1.0f};
    ck_assert_int_eq(pub_offer(p, PUB_REC, "u", items, nan_score, 1, "v1"), SR_EINVAL);
    ck_assert_int_eq(pub_offer(p, PUB_REC, "", items, ok_score, 1, "v1"), SR_EINVAL);
    ck_assert_int_eq(pub_offer(p, (enum pub_kind)7, "u", items, ok_score, 1, "v1"), SR_EINVAL);
    /* max_pending bounds the distinct keys: the 17th new key is refused,
     * known keys are still replaced. */
    char id[16];
    for (int i = 0; i < 16; i++) {
        snprintf(id, sizeof id, "u%d", i);
        ck_assert_int_eq(pub_offer(p, PUB_REC, id, items, ok_score, 1, "v1"), 0);
    }
    ck_assert_int_eq(pub_offer(p, PUB_REC, "u16", items, ok_score, 1, "v1"), SR_EFULL);
    ck_assert_int_eq(pub_offer(p, PUB_REC, "u3", items, ok_score, 1, "v2"), 0);
    struct pub_stats st;
    pub_stats(p, &st);
    ck_assert_uint_eq(st.pending, 16);
    ck_assert_uint_eq(st.dropped, 1);
    ck_assert(!st.connected);
    ck_assert_int_eq(pub_flush(p, 50), SR_EAGAIN);
    pub_free(p);
    pub_free(NULL);
    sr_log_set_level(SR_LOG_INFO);
}
END_TEST

START_TEST(test_value_shape_and_ttl)
{
    NEED_REDIS();
    rs_start(NULL);
    struct sr_config cfg;
    test_cfg(&cfg);
    snprintf(cfg.redis.namespace, sizeof cfg.redis.namespace, "t1");
    cfg.redis.ttl_ms = 3600 * 1000;
    struct publisher *p = start_pub(&cfg);

    const char *items[] = {"i9", "i\"3\\x", "\xc3\xa9t\xc3\xa9"};
    float scores[] = {0.93f, 0.5f, -1.25f};
    long long before = (long long)time(NULL) * 1000 - 1000;
    ck_assert_int_eq(pub_offer(p, PUB_REC, "user 1", items, scores, 3, "m-42"), 0);
    ck_assert_int_eq(pub_offer(p, PUB_SIM, "i9", items + 1, scores + 1, 2, "m-42"), 0);
    ck_assert_int_eq(pub_offer(p, PUB_TRENDING, "1h", items, scores, 1, "m-42"), 0);
    const char *f[] = {"version", "events_applied"}, *v[] = {"m-42", "12345"};
    ck_assert_int_eq(pub_model_set(p, f, v, 2), 0);
    ck_assert_int_eq(pub_flush(p, 3000), 0);
    long long after = (long long)time(NULL) * 1000 + 1000;

    /* The exact DESIGN.md shape: v, t, items, scores in that order, nothing else. */
    char *raw;
    json_t *o = get_json(&cfg, PUB_REC, "user 1", &raw);
    ck_assert_msg(strncmp(raw, "{\"v\":\"m-42\",\"t\":", 16) == 0, "raw value: %s", raw);
    ck_assert_ptr_null(strstr(raw, ", ")); /* compact */
    const char *want_keys[] = {"v", "t", "items", "scores"};
    size_t k = 0;
    for (void *it = json_object_iter(o); it; it = json_object_iter_next(o, it), k++) {
        ck_assert_uint_lt(k, 4);
        ck_assert_str_eq(json_object_iter_key(it), want_keys[k]);
    }
    ck_assert_uint_eq(k, 4);
    ck_assert_str_eq(json_string_value(json_object_get(o, "v")), "m-42");
    json_int_t t = json_integer_value(json_object_get(o, "t"));
    ck_assert(json_is_integer(json_object_get(o, "t")));
    ck_assert_int_ge(t, before);
    ck_assert_int_le(t, after);
    json_t *ji = json_object_get(o, "items"), *js = json_object_get(o, "scores");
    ck_assert_uint_eq(json_array_size(ji), 3);
    ck_assert_uint_eq(json_array_size(js), 3);
    for (size_t i = 0; i < 3; i++) {
        ck_assert_str_eq(json_string_value(json_array_get(ji, i)), items[i]);
        ck_assert(json_is_real(json_array_get(js, i)));
        ck_assert_double_eq_tol(json_real_value(json_array_get(js, i)), scores[i], 1e-6);
    }
    ck_assert_ptr_nonnull(strstr(raw, "0.93,")); /* scores are short, not float noise */
    free(raw);
    json_decref(o);
    o = get_json(&cfg, PUB_SIM, "i9", NULL);
    ck_assert_uint_eq(json_array_size(json_object_get(o, "items")), 2);
    json_decref(o);

    redisContext *c = rs_admin(NULL);
    ck_assert_ptr_nonnull(c);
    long long ttl = redis_int(c, "TTL %s", "t1:rec:user 1");
    ck_assert_int_gt(ttl, 3590);
    ck_assert_int_le(ttl, 3600);
    ck_assert_int_gt(redis_int(c, "TTL %s", "t1:sim:i9"), 3590);
    ck_assert_int_eq(redis_int(c, "TTL %s", "t1:trending:1h"), -1); /* no expiry */
    redisReply *r = redisCommand(c, "HGET t1:model events_applied");
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
    ck_assert_str_eq(r->str, "12345");
    freeReplyObject(r);
    ck_assert_int_eq(server_set_calls(c), 3);
    redisFree(c);

    char *none;
    char err[256];
    ck_assert_int_eq(lookup_get(&cfg.redis, PUB_REC, "nobody", &none, NULL, err, sizeof err),
                     SR_ENOENT);
    struct pub_stats st;
    pub_stats(p, &st);
    ck_assert_uint_eq(st.sets, 3);
    ck_assert_uint_eq(st.model_writes, 1);
    ck_assert_uint_eq(st.pending, 0);
    ck_assert(st.connected);
    pub_free(p);
}
END_TEST

START_TEST(test_newest_only)
{
    NEED_REDIS();
    rs_start(NULL);
    struct sr_config cfg;
    test_cfg(&cfg);
    cfg.publish.interval_ms = 300;
    struct publisher *p = start_pub(&cfg);
    char item[32];
    const char *items[] = {item};
    for (int i = 0; i < 5000; i++) {
        snprintf(item, sizeof item, "i%d", i);
        float s = (float)i;
        ck_assert_int_eq(pub_offer(p, PUB_REC, "u1", items, &s, 1, "v"), 0);
        struct pub_stats st;
        pub_stats(p, &st);
        ck_assert_uint_le(st.pending, 1);
    }
    ck_assert_int_eq(pub_flush(p, 3000), 0);
    json_t *o = get_json(&cfg, PUB_REC, "u1", NULL);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(o, "items"), 0)), "i4999");
    json_decref(o);
    /* Debounced: the server saw a handful of SETs, not 5000. */
    redisContext *c = rs_admin(NULL);
    ck_assert_ptr_nonnull(c);
    long long calls = server_set_calls(c);
    ck_assert_int_ge(calls, 1);
    ck_assert_int_le(calls, 5);
    redisFree(c);
    pub_free(p);
}
END_TEST

START_TEST(test_pipelining)
{
    NEED_REDIS();
    rs_start(NULL);
    struct sr_config cfg;
    test_cfg(&cfg);
    cfg.publish.batch = 100;
    struct publisher *p = start_pub(&cfg);
    enum { N = 3000 };
    char id[32], item[32];
    const char *items[] = {item};
    for (int i = 0; i < N; i++) {
        snprintf(id, sizeof id, "u%d", i);
        snprintf(item, sizeof item, "item-for-%d", i);
        float s = (float)i / N;
        ck_assert_int_eq(pub_offer(p, PUB_REC, id, items, &s, 1, "v"), 0);
    }
    ck_assert_int_eq(pub_flush(p, 5000), 0);
    struct pub_stats st;
    pub_stats(p, &st);
    ck_assert_uint_eq(st.sets, N);
    /* At most batch SETs per round trip, so at least N/batch of them, and
     * far fewer round trips than keys. */
    ck_assert_uint_ge(st.batches, N / 100);
    ck_assert_uint_le(st.batches, N / 10);
    redisContext *c = rs_admin(NULL);
    ck_assert_ptr_nonnull(c);
    redisReply *r = redisCommand(c, "DBSIZE");
    ck_assert_int_eq(r->integer, N);
    freeReplyObject(r);
    for (int i = 0; i < N; i++)
        redisAppendCommand(c, "GET streamrec:rec:u%d", i);
    for (int i = 0; i < N; i++) {
        ck_assert_int_eq(redisGetReply(c, (void **)&r), REDIS_OK);
        ck_assert_int_eq(r->type, REDIS_REPLY_STRING);
        snprintf(item, sizeof item, "[\"item-for-%d\"]", i);
        ck_assert_msg(strstr(r->str, item), "key u%d holds %s", i, r->str);
        freeReplyObject(r);
    }
    redisFree(c);
    pub_free(p);
}
END_TEST

START_TEST(test_auth)
{
    NEED_REDIS();
    const char *pw = "s3cret-Pw-71";
    rs_start(pw);
    struct sr_config cfg;
    test_cfg(&cfg);
    snprintf(cfg.redis.password, sizeof cfg.redis.password, "%s", pw);
    const char *items[] = {"a"};
    float s = 1;

    /* The right password, no user. */
    struct publisher *p = start_pub(&cfg);
    ck_assert_int_eq(pub_offer(p, PUB_REC, "u1", items, &s, 1, "v"), 0);
    ck_assert_int_eq(pub_flush(p, 3000), 0);
    pub_free(p);
    json_decref(get_json(&cfg, PUB_REC, "u1", NULL));

    /* An ACL user with its own password. */
    redisContext *c = rs_admin(pw);
    ck_assert_ptr_nonnull(c);
    redisReply *r = redisCommand(c, "ACL SETUSER app on >app-Pw-99 ~streamrec:* +@all");
    ck_assert_int_eq(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);
    struct sr_config acfg = cfg;
    snprintf(acfg.redis.user, sizeof acfg.redis.user, "app");
    snprintf(acfg.redis.password, sizeof acfg.redis.password, "app-Pw-99");
    p = start_pub(&acfg);
    ck_assert_int_eq(pub_offer(p, PUB_REC, "u2", items, &s, 1, "v"), 0);
    ck_assert_int_eq(pub_flush(p, 3000), 0);
    pub_free(p);
    ck_assert_int_eq(redis_int(c, "EXISTS %s", "streamrec:rec:u2"), 1);

    /* A wrong password: reported in one line naming the failure, never the
     * password; the key stays pending. */
    struct sr_config bad = cfg;
    const char *wrong = "WrongPass-5150";
    snprintf(bad.redis.password, sizeof bad.redis.password, "%s", wrong);
    char path[] = "/tmp/sr_pub_log_XXXXXX";
    close(mkstemp(path));
    int saved = capture_stderr(path);
    p = start_pub(&bad);
    ck_assert_int_eq(pub_offer(p, PUB_REC, "u3", items, &s, 1, "v"), 0);
    struct pub_stats st;
    for (int i = 0; i < 100; i++) {
        pub_stats(p, &st);
        if (st.errors >= 3)
            break;
        sleep_ms(10);
    }
    char err[512], *val = NULL;
    int lrc = lookup_get(&bad.redis, PUB_REC, "u1", &val, NULL, err, sizeof err);
    pub_free(p);
    char *log = end_capture(saved, path);
    ck_assert_uint_ge(st.errors, 3); /* retried */
    ck_assert(!st.connected);
    ck_assert_uint_eq(st.pending, 1);
    ck_assert_msg(strstr(log, "authentication"), "log: %s", log);
    ck_assert_msg(!strstr(log, wrong), "log shows the password: %s", log);
    ck_assert_int_eq(count_lines(log), 1);
    ck_assert_int_eq(lrc, SR_ECONFIG);
    ck_assert_ptr_nonnull(strstr(err, "authentication"));
    ck_assert_ptr_null(strstr(err, wrong));
    ck_assert_int_eq(redis_int(c, "EXISTS %s", "streamrec:rec:u3"), 0);
    redisFree(c);
}
END_TEST

/* Offers round `round` for keys u<first>, u<first+step>, ... below n_keys;
 * the item name carries the round and the key. */
static void offer_round(struct publisher *p, int first, int step, int n_keys, int round)
{
    char id[32], item[48];
    const char *items[] = {item};
    for (int i = first; i < n_keys; i += step) {
        snprintf(id, sizeof id, "u%d", i);
        snprintf(item, sizeof item, "r%d-u%d", round, i);
        float s = (float)round;
        ck_assert_int_eq(pub_offer(p, PUB_REC, id, items, &s, 1, "v"), 0);
    }
}

static void check_round(int first, int step, int n_keys, int round)
{
    redisContext *c = rs_admin(NULL);
    ck_assert_ptr_nonnull(c);
    for (int i = first; i < n_keys; i += step) {
        redisReply *r = redisCommand(c, "GET streamrec:rec:u%d", i);
        ck_assert_ptr_nonnull(r);
        ck_assert_msg(r->type == REDIS_REPLY_STRING, "key u%d missing", i);
        char want[64];
        snprintf(want, sizeof want, "[\"r%d-u%d\"]", round, i);
        ck_assert_msg(strstr(r->str, want), "key u%d holds %s, want round %d", i, r->str, round);
        freeReplyObject(r);
    }
    redisFree(c);
}

START_TEST(test_redis_restart)
{
    NEED_REDIS();
    rs_start(NULL);
    struct sr_config cfg;
    test_cfg(&cfg);
    cfg.publish.batch = 64;
    enum { K = 200 };
    struct publisher *p = start_pub(&cfg);
    offer_round(p, 0, 1, K, 0);
    ck_assert_int_eq(pub_flush(p, 3000), 0);
    check_round(0, 1, K, 0);

    char path[] = "/tmp/sr_pub_log_XXXXXX";
    close(mkstemp(path));
    int saved = capture_stderr(path);
    /* Killed mid-stream: the publisher still holds its connection, so its
     * next batch fails on the wire. Odd keys get no newer list after that
     * failed write; even keys get many. */
    rs_kill();
    offer_round(p, 0, 1, K, 1);
    struct pub_stats st;
    for (int round = 2; round <= 30; round++) {
        offer_round(p, 0, 2, K, round);
        pub_stats(p, &st);
        ck_assert_uint_le(st.pending, K);
        sleep_ms(5);
    }
    pub_stats(p, &st);
    ck_assert(!st.connected);
    ck_assert_uint_eq(st.pending, K);
    ck_assert_uint_ge(st.errors, 2); /* the lost batch and reconnect attempts */
    ck_assert_int_eq(pub_flush(p, 100), SR_EAGAIN);
    rs_start(NULL); /* same port, empty */
    int rc = pub_flush(p, 5000);
    char *log = end_capture(saved, path);
    ck_assert_int_eq(rc, 0);
    check_round(0, 2, K, 30);
    check_round(1, 2, K, 1);
    pub_stats(p, &st);
    ck_assert_uint_eq(st.pending, 0);
    ck_assert_uint_ge(st.reconnects, 1);
    ck_assert(st.connected);
    /* One line for the outage, one when it is over. */
    ck_assert_msg(strstr(log, "lost the Redis connection"), "log: %s", log);
    ck_assert_int_eq(count_lines(log), 2);
    pub_free(p);
}
END_TEST

START_TEST(test_unreachable_at_start)
{
    NEED_REDIS();
    rs_port = free_port();
    struct sr_config cfg;
    test_cfg(&cfg);
    char path[] = "/tmp/sr_pub_log_XXXXXX";
    close(mkstemp(path));
    int saved = capture_stderr(path);
    struct publisher *p = start_pub(&cfg);
    const char *items[] = {"a"};
    float s = 1;
    ck_assert_int_eq(pub_offer(p, PUB_REC, "early", items, &s, 1, "v"), 0);
    sleep_ms(300); /* several attempts at 10..100 ms backoff */
    struct pub_stats st;
    pub_stats(p, &st);
    rs_start(NULL);
    int rc = pub_flush(p, 3000);
    char *log = end_capture(saved, path);
    ck_assert_uint_ge(st.errors, 2);
    ck_assert_int_eq(rc, 0);
    ck_assert_msg(strstr(log, "unreachable"), "log: %s", log);
    /* One line when it fails, one when it connects; not one per attempt. */
    ck_assert_int_eq(count_lines(log), 2);
    json_decref(get_json(&cfg, PUB_REC, "early", NULL));
    pub_free(p);
}
END_TEST

START_TEST(test_refused_writes)
{
    NEED_REDIS();
    rs_start(NULL);
    struct sr_config cfg;
    test_cfg(&cfg);
    struct publisher *p = start_pub(&cfg);
    redisContext *c = rs_admin(NULL);
    ck_assert_ptr_nonnull(c);
    /* maxmemory 1 with the default noeviction policy: every SET gets -OOM. */
    freeReplyObject(redisCommand(c, "CONFIG SET maxmemory 1"));
    char path[] = "/tmp/sr_pub_log_XXXXXX";
    close(mkstemp(path));
    int saved = capture_stderr(path);
    const char *items[] = {"a"};
    float s = 1;
    ck_assert_int_eq(pub_offer(p, PUB_REC, "u1", items, &s, 1, "v"), 0);
    struct pub_stats st;
    for (int i = 0; i < 200; i++) {
        pub_stats(p, &st);
        if (st.errors >= 3)
            break;
        sleep_ms(5);
    }
    ck_assert_uint_ge(st.errors, 3); /* retried */
    ck_assert_uint_eq(st.pending, 1);
    ck_assert_uint_eq(st.sets, 0);
    freeReplyObject(redisCommand(c, "CONFIG SET maxmemory 0"));
    int rc = pub_flush(p, 3000);
    char *log = end_capture(saved, path);
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(redis_int(c, "EXISTS %s", "streamrec:rec:u1"), 1);
    /* One line when Redis starts refusing, one when it accepts again. */
    ck_assert_msg(strstr(log, "refuses writes"), "log: %s", log);
    ck_assert_int_eq(count_lines(log), 2);
    redisFree(c);
    pub_free(p);
}
END_TEST

Suite *publisher_suite(void)
{
    Suite *s = suite_create("publisher");
    TCase *tc = tcase_create("publisher");
    tcase_add_checked_fixture(tc, rs_setup, rs_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_offer_rejects_bad_input);
    tcase_add_test(tc, test_value_shape_and_ttl);
    tcase_add_test(tc, test_newest_only);
    tcase_add_test(tc, test_pipelining);
    tcase_add_test(tc, test_auth);
    tcase_add_test(tc, test_redis_restart);
    tcase_add_test(tc, test_unreachable_at_start);
    tcase_add_test(tc, test_refused_writes);
    suite_add_tcase(s, tc);
    return s;
}
