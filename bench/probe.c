/* bench/probe.c - the timing half of `make bench-e2e` (scripts/bench-e2e.sh
 * does the orchestration). Three modes, each printing `key value` lines on
 * stdout for the script to collect:
 *
 *   probe consume -b BOOT [-t TOPIC] -n N
 *       A plain librdkafka consumer (no group, every partition assigned at
 *       the beginning, payloads touched and dropped): first to last message
 *       of N. The baseline of the daemon's end-to-end rate.
 *
 *   probe watch -p REDIS_PORT -n N [--ns NS] [--timeout S]
 *       Polls HMGET <ns>:model events_applied updated_at every 2 ms until
 *       events_applied reaches N. The rate is taken from the daemon's own
 *       round stamps: (N - a0) / (t1 - t0), where (t0, a0) is the first
 *       round with an event applied and t1 the round that reported N (the
 *       stamps are written every publish.interval_ms, so the duration is
 *       over-estimated by at most one interval). Redis SET calls (INFO
 *       commandstats) are sampled when those two rounds are first seen.
 *       Then it waits for the publisher to finish (no new SET for 1.5 s):
 *       first round to last SET is e2e_published_seconds, the time until
 *       every list is in Redis (users left dirty when the stream ended are
 *       scored publish.batch per round after it).
 *
 *   probe fresh -b BOOT -p REDIS_PORT [-t TOPIC] [--probes N] [--ts MS]
 *       Freshness from outside: N times, produce one JSON event (CLICK) for
 *       a user never seen before and poll GET <ns>:rec:<user> every 1 ms
 *       until it exists (at most 10 s: a timeout); the latency is produce
 *       call -> key visible. Probes go out on a schedule, one every 100 ms
 *       on average, so several may be in flight. Also reports produce ->
 *       the publisher's "t" stamp inside the value (the moment the learner
 *       thread handed the list over), which splits the total into learner
 *       side and publisher side. The gaps are random
 *       (50-150 ms) so the probes do not lock onto the publish rounds.
 *
 * Exit code 0, 1 on a failure (said on stderr), 2 on a usage error. */
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <librdkafka/rdkafka.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROBE_MAX      100000 /* most freshness probes */
#define PROBE_WAIT_S   10.0   /* one probe gives up after this long */
#define WATCH_POLL_US  2000   /* watch: HMGET period */
#define FRESH_POLL_US  1000   /* fresh: GET period */
#define FRESH_GAP_MS   100    /* fresh: mean time between two probes */
#define DRAIN_QUIET_S  1.5    /* watch: no new SET for this long = all published */
#define CONSUME_IDLE_S 10.0   /* consume: give up after this long without a message */
#define METADATA_MS    5000

struct probe_opts {
    const char *brokers; /* borrowed from argv */
    const char *topic;   /* borrowed from argv */
    const char *ns;      /* borrowed from argv */
    int redis_port;
    uint64_t n;         /* consume/watch: events expected */
    int probes;         /* fresh: how many */
    int64_t ts_ms;      /* fresh: event time of the probe events */
    const char *prefix; /* fresh: of the printed keys; borrowed from argv */
    double timeout_s;   /* watch: give up after this long */
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n), n > 0. */
static double percentile(const double *v, size_t n, double p)
{
    size_t r = (size_t)(p / 100.0 * (double)n + 0.999999);
    if (r < 1)
        r = 1;
    return v[(r > n ? n : r) - 1];
}

/* ---- consume ---------------------------------------------------------- */

static int run_consume(const struct probe_opts *o)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", o->brokers, NULL, 0);
    rd_kafka_conf_set(conf, "group.id", "streamrec-bench-raw", NULL, 0); /* required, unused */
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", NULL, 0);
    rd_kafka_conf_set(conf, "enable.partition.eof", "true", NULL, 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "probe consume: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    int rc = 1;
    rd_kafka_topic_partition_list_t *parts = NULL;
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, o->topic, NULL);
    rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, rkt, &md, METADATA_MS);
    rd_kafka_topic_destroy(rkt);
    if (err || md->topic_cnt != 1 || md->topics[0].err) {
        fprintf(stderr, "probe consume: metadata of %s: %s\n", o->topic,
                rd_kafka_err2str(err ? err : md->topics[0].err));
        goto err_destroy;
    }
    int n_parts = md->topics[0].partition_cnt;
    parts = rd_kafka_topic_partition_list_new(n_parts);
    for (int i = 0; i < n_parts; i++)
        rd_kafka_topic_partition_list_add(parts, o->topic, md->topics[0].partitions[i].id)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    if ((err = rd_kafka_assign(rk, parts)) != 0) {
        fprintf(stderr, "probe consume: assign: %s\n", rd_kafka_err2str(err));
        goto err_destroy;
    }
    uint64_t n = 0, bytes = 0, sum = 0;
    int eofs = 0;
    double first = 0, last = 0, idle_since = mono_s();
    while (n < o->n && eofs < n_parts) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m) {
            if (mono_s() - idle_since > CONSUME_IDLE_S) {
                fprintf(stderr, "probe consume: nothing for %.0f s after %llu messages\n",
                        CONSUME_IDLE_S, (unsigned long long)n);
                goto err_destroy;
            }
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eofs++;
        } else if (m->err) {
            fprintf(stderr, "probe consume: %s\n", rd_kafka_message_errstr(m));
        } else {
            last = idle_since = mono_s();
            if (n++ == 0)
                first = last;
            bytes += m->len;
            if (m->len) /* touch the payload like a decoder would start to */
                sum += ((const unsigned char *)m->payload)[m->len - 1];
        }
        rd_kafka_message_destroy(m);
    }
    if (n < o->n) {
        fprintf(stderr, "probe consume: the topic holds %llu messages, want %llu\n",
                (unsigned long long)n, (unsigned long long)o->n);
        goto err_destroy;
    }
    double secs = last - first;
    printf("raw_consume_events %llu\n", (unsigned long long)n);
    printf("raw_consume_bytes %llu\n", (unsigned long long)bytes);
    printf("raw_consume_seconds %.4f\n", secs);
    printf("raw_consume_events_per_s %.0f\n", secs > 0 ? (double)(n - 1) / secs : 0.0);
    printf("raw_consume_partitions %d\n", n_parts);
    fprintf(stderr, "probe consume: checksum %llu\n", (unsigned long long)sum);
    rc = 0;
err_destroy:
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}

/* ---- watch ------------------------------------------------------------ */

/* SET calls so far from INFO commandstats; -1 when unknown. */
static long long redis_set_calls(redisContext *c)
{
    redisReply *r = redisCommand(c, "INFO commandstats");
    long long calls = -1;
    if (r && r->type == REDIS_REPLY_STRING) {
        const char *p = strstr(r->str, "cmdstat_set:calls=");
        calls = p ? strtoll(p + strlen("cmdstat_set:calls="), NULL, 10) : 0;
    }
    freeReplyObject(r);
    return calls;
}

static redisContext *redis_open(int port, const char *who)
{
    struct timeval tv = {2, 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);
    if (!c || c->err) {
        fprintf(stderr, "probe %s: redis 127.0.0.1:%d: %s\n", who, port,
                c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    return c;
}

static int run_watch(const struct probe_opts *o)
{
    redisContext *c = redis_open(o->redis_port, "watch");
    if (!c)
        return 1;
    int rc = 1;
    char key[300];
    snprintf(key, sizeof key, "%s:model", o->ns);
    long long a0 = -1, t0 = 0, t1 = 0, sets0 = 0, sets1 = 0;
    double seen0 = 0, seen1 = 0, start = mono_s();
    while (mono_s() - start < o->timeout_s) {
        redisReply *r = redisCommand(c, "HMGET %s events_applied updated_at", key);
        if (!r) {
            fprintf(stderr, "probe watch: %s\n", c->errstr);
            goto err_free;
        }
        long long applied = -1, updated = 0;
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
            r->element[0]->type == REDIS_REPLY_STRING &&
            r->element[1]->type == REDIS_REPLY_STRING) {
            applied = strtoll(r->element[0]->str, NULL, 10);
            updated = strtoll(r->element[1]->str, NULL, 10);
        }
        freeReplyObject(r);
        if (applied > 0 && a0 < 0) {
            a0 = applied;
            t0 = updated;
            seen0 = mono_s();
            sets0 = redis_set_calls(c);
        }
        if (applied >= (long long)o->n) {
            t1 = updated;
            seen1 = mono_s();
            sets1 = redis_set_calls(c);
            break;
        }
        usleep(WATCH_POLL_US);
    }
    if (t1 == 0) {
        fprintf(stderr, "probe watch: events_applied did not reach %llu in %.0f s\n",
                (unsigned long long)o->n, o->timeout_s);
        goto err_free;
    }
    /* Then until the publisher is done: no new SET for DRAIN_QUIET_S. */
    long long sets_end = sets1;
    double last_set = seen1;
    while (mono_s() - last_set < DRAIN_QUIET_S && mono_s() - start < o->timeout_s) {
        usleep(50000);
        long long now_sets = redis_set_calls(c);
        if (now_sets != sets_end) {
            sets_end = now_sets;
            last_set = mono_s();
        }
    }
    double secs = (double)(t1 - t0) / 1000.0;
    double seen = seen1 - seen0;
    double published = last_set - seen0;
    printf("e2e_events %llu\n", (unsigned long long)o->n);
    printf("e2e_first_round_applied %lld\n", a0);
    printf("e2e_seconds %.3f\n", secs);
    printf("e2e_events_per_s %.0f\n", secs > 0 ? (double)((long long)o->n - a0) / secs : 0.0);
    printf("redis_sets %lld\n", sets1 - sets0);
    printf("redis_sets_per_s %.0f\n", seen > 0 ? (double)(sets1 - sets0) / seen : 0.0);
    printf("e2e_published_seconds %.3f\n", published);
    printf("e2e_published_events_per_s %.0f\n",
           published > 0 ? (double)((long long)o->n - a0) / published : 0.0);
    printf("redis_sets_total %lld\n", sets_end - sets0);
    rc = 0;
err_free:
    redisFree(c);
    return rc;
}

/* ---- fresh ----------------------------------------------------------- */

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    if (m->err)
        (*(uint64_t *)opaque)++;
}

/* One probe in flight. */
struct probe_slot {
    char key[160]; /* <ns>:rec:<user> */
    double sent;   /* mono_s() at the produce call */
    int64_t sent_ms;
};

static uint64_t xorshift(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Probes go out on a schedule (one every FRESH_GAP_MS on average, jittered),
 * not one after another, so the phase lasts probes x gap whatever the
 * latency; every FRESH_POLL_US one pipelined round of GETs checks the
 * probes in flight. */
static int run_fresh(const struct probe_opts *o)
{
    char errstr[512];
    int rc = 1;
    double *total = calloc((size_t)o->probes, sizeof *total); /* [probes] ms */
    double *to_offer = calloc((size_t)o->probes, sizeof *to_offer);
    struct probe_slot *fly = calloc((size_t)o->probes, sizeof *fly); /* [probes] in flight */
    redisContext *c = redis_open(o->redis_port, "fresh");
    rd_kafka_t *rk = NULL;
    uint64_t failed = 0;
    if (!total || !to_offer || !fly || !c)
        goto err_free;
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", o->brokers, NULL, 0);
    rd_kafka_conf_set(conf, "linger.ms", "0", NULL, 0); /* send each probe at once */
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &failed);
    if (!(rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr))) {
        fprintf(stderr, "probe fresh: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        goto err_free;
    }
    /* Connect and learn the partitions before the first timed probe. */
    const struct rd_kafka_metadata *md = NULL;
    if (rd_kafka_metadata(rk, 1, NULL, &md, METADATA_MS) == 0)
        rd_kafka_metadata_destroy(md);

    uint64_t rng = 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
    size_t n = 0, n_offer = 0, n_fly = 0;
    int sent = 0, timeouts = 0;
    double next_send = mono_s();
    while (sent < o->probes || n_fly > 0) {
        double now = mono_s();
        if (sent < o->probes && now >= next_send) {
            struct probe_slot *ps = &fly[n_fly];
            char user[96], msg[512];
            snprintf(user, sizeof user, "bench-probe-%d-%lld-%d", (int)getpid(),
                     (long long)wall_ms(), sent);
            snprintf(ps->key, sizeof ps->key, "%s:rec:%s", o->ns, user);
            int len = snprintf(msg, sizeof msg,
                               "{\"user_id\":\"%s\",\"item_id\":\"i%d\",\"ts\":%lld,"
                               "\"type\":\"CLICK\"}",
                               user, 1 + sent % 50, (long long)(o->ts_ms + sent * 1000ll));
            ps->sent_ms = wall_ms();
            ps->sent = mono_s();
            if (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(o->topic),
                                  RD_KAFKA_V_KEY(user, strlen(user)),
                                  RD_KAFKA_V_VALUE(msg, (size_t)len),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) {
                fprintf(stderr, "probe fresh: produce: %s\n",
                        rd_kafka_err2str(rd_kafka_last_error()));
                goto err_free;
            }
            n_fly++;
            sent++;
            /* uniform in [gap/2, 3 gap/2): never in step with the publish rounds */
            next_send +=
                (double)FRESH_GAP_MS / 1000.0 * (0.5 + (double)(xorshift(&rng) >> 11) * 0x1.0p-53);
        }
        rd_kafka_poll(rk, 0); /* delivery reports */
        for (size_t i = 0; i < n_fly; i++)
            redisAppendCommand(c, "GET %s", fly[i].key);
        size_t keep = 0;
        for (size_t i = 0; i < n_fly; i++) {
            redisReply *r = NULL;
            if (redisGetReply(c, (void **)&r) != REDIS_OK) {
                fprintf(stderr, "probe fresh: %s\n", c->errstr);
                goto err_free;
            }
            double seen = mono_s();
            if (r->type == REDIS_REPLY_STRING) {
                total[n++] = (seen - fly[i].sent) * 1000.0;
                const char *t = strstr(r->str, "\"t\":");
                if (t)
                    to_offer[n_offer++] = (double)(strtoll(t + 4, NULL, 10) - fly[i].sent_ms);
            } else if (seen - fly[i].sent > PROBE_WAIT_S) {
                timeouts++;
            } else {
                fly[keep++] = fly[i];
            }
            freeReplyObject(r);
        }
        n_fly = keep;
        usleep(FRESH_POLL_US);
    }
    rd_kafka_flush(rk, 5000);
    if (n == 0) {
        fprintf(stderr, "probe fresh: no probe became visible (%d timeouts)\n", timeouts);
        goto err_free;
    }
    qsort(total, n, sizeof *total, cmp_double);
    qsort(to_offer, n_offer, sizeof *to_offer, cmp_double);
    printf("%sprobes %zu\n", o->prefix, n);
    printf("%stimeouts %d\n", o->prefix, timeouts);
    printf("%sdelivery_failures %llu\n", o->prefix, (unsigned long long)failed);
    printf("%sms_min %.1f\n", o->prefix, total[0]);
    printf("%sms_p50 %.1f\n", o->prefix, percentile(total, n, 50));
    printf("%sms_p90 %.1f\n", o->prefix, percentile(total, n, 90));
    printf("%sms_p99 %.1f\n", o->prefix, percentile(total, n, 99));
    printf("%sms_max %.1f\n", o->prefix, total[n - 1]);
    if (n_offer) {
        printf("%sto_offer_ms_p50 %.0f\n", o->prefix, percentile(to_offer, n_offer, 50));
        printf("%sto_offer_ms_p99 %.0f\n", o->prefix, percentile(to_offer, n_offer, 99));
    }
    rc = 0;
err_free:
    if (rk)
        rd_kafka_destroy(rk);
    redisFree(c);
    free(total);
    free(to_offer);
    free(fly);
    return rc;
}

/* ---- main ------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f, "usage: probe consume -b BOOT [-t TOPIC] -n N\n"
               "       probe watch -p REDIS_PORT -n N [--ns NS] [--timeout S]\n"
               "       probe fresh -b BOOT -p REDIS_PORT [-t TOPIC] [--probes N] [--ts MS]\n"
               "       [--ns NS] [--prefix KEY_PREFIX]\n"
               "(scripts/bench-e2e.sh runs these; see bench/probe.c)\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"ns", required_argument, NULL, 'N'},
        {"timeout", required_argument, NULL, 'T'},
        {"probes", required_argument, NULL, 'P'},
        {"ts", required_argument, NULL, 'S'},
        {"prefix", required_argument, NULL, 'X'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *mode = argv[1];
    struct probe_opts o = {.topic = "events",
                           .ns = "streamrec",
                           .probes = 200,
                           .ts_ms = 1717200000000ll,
                           .prefix = "freshness_",
                           .timeout_s = 120};
    int ch;
    optind = 2;
    while ((ch = getopt_long(argc, argv, "b:t:p:n:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'b':
            o.brokers = optarg;
            break;
        case 't':
            o.topic = optarg;
            break;
        case 'p':
            o.redis_port = atoi(optarg);
            break;
        case 'n':
            o.n = strtoull(optarg, NULL, 10);
            break;
        case 'N':
            o.ns = optarg;
            break;
        case 'T':
            o.timeout_s = atof(optarg);
            break;
        case 'P':
            o.probes = atoi(optarg);
            break;
        case 'S':
            o.ts_ms = strtoll(optarg, NULL, 10);
            break;
        case 'X':
            o.prefix = optarg;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!strcmp(mode, "consume") && o.brokers && o.n > 0)
        return run_consume(&o);
    if (!strcmp(mode, "watch") && o.redis_port > 0 && o.n > 0 && o.timeout_s > 0)
        return run_watch(&o);
    if (!strcmp(mode, "fresh") && o.brokers && o.redis_port > 0 && o.probes > 0 &&
        o.probes <= PROBE_MAX)
        return run_fresh(&o);
    usage(stderr);
    return 2;
}
