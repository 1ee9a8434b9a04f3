/* app/cmd_produce.c - `streamrec produce FILE...`: dataset files to Kafka.
 *
 * Reads any input `replay` reads (ingest/source.h: presets, CSV, JSON
 * lines, Avro files, `streamrec gen` output), encodes each event in one
 * framing (ingest/framing.h) and produces it to a topic keyed by user_id,
 * optionally rate-limited. Delivery reports are counted; the exit code is
 * 1 when any delivery failed (with how many), 2 on a usage error. [kafka]
 * configuration keys go to librdkafka unchanged. */
#include "app/commands.h"
#include "core/err.h"
#include "core/time.h"
#include "ingest/framing.h"
#include "ingest/source.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PRODUCE_FLUSH_MS 30000 /* longest wait for outstanding deliveries at the end */

static void produce_usage(FILE *f)
{
    fprintf(f, "usage: streamrec produce [options] FILE...\n\n"
               "Encodes the events of dataset files and produces them to a Kafka topic, keyed\n"
               "by user_id, in file order (event-time order with a preset or --sort).\n\n"
               "  -b, --brokers LIST  bootstrap servers (kafka.bootstrap.servers;\n"
               "                      default localhost:9092)\n"
               "  -t, --topic NAME    topic (default events)\n"
               "  --format F          confluent, single-object or json (default confluent;\n"
               "                      Confluent uses schema id ingest.schema_id)\n"
               "  --rate N            at most N events per second (default: as fast as possible)\n"
               "  --limit N           stop after N events\n"
               "  --preset NAME       taobao, yoochoose, diginetica or movielens input\n"
               "  --input-format FMT  auto, csv, jsonl or avro input (ingest.format)\n"
               "  --sort              stable-sort the input by event time (ingest.sort)\n"
               "  -c FILE             configuration file (INI; [kafka] keys go to librdkafka)\n"
               "  -o S.K=V            override one configuration key (repeatable)\n"
               "  -q, --quiet         no progress or summary on stderr\n"
               "  -h, --help          this text\n\n"
               "Exits 1 and says how many when any delivery failed.\n");
}

/* ---- delivery reports ------------------------------------------------- */

struct produce_counts {
    uint64_t delivered;
    uint64_t failed;
    char first_error[256];
};

/* librdkafka calls this from rd_kafka_poll()/rd_kafka_flush() in this thread. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct produce_counts *c = opaque;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        c->delivered++;
        return;
    }
    if (c->failed++ == 0)
        snprintf(c->first_error, sizeof c->first_error, "%s", rd_kafka_err2str(m->err));
}

static volatile sig_atomic_t produce_stop;

static void on_signal(int sig)
{
    (void)sig;
    produce_stop = 1;
}

/* ---- options ---------------------------------------------------------- */

struct produce_opts {
    const char *topic;
    enum fr_format format;
    double rate;    /* events per second, 0 = unlimited */
    uint64_t limit; /* 0 = all */
    int quiet;
};

static rd_kafka_t *make_producer(const struct sr_config *cfg, struct produce_counts *counts)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* Defaults first, so [kafka] keys override them. */
    static const char *const defaults[][2] = {
        {"bootstrap.servers", "localhost:9092"},
        {"linger.ms", "5"},
        {"queue.buffering.max.messages", "500000"},
    };
    for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
        rd_kafka_conf_set(conf, defaults[i][0], defaults[i][1], NULL, 0);
    for (size_t i = 0; i < cfg->n_kafka; i++)
        if (rd_kafka_conf_set(conf, cfg->kafka[i].key, cfg->kafka[i].value, errstr,
                              sizeof errstr) != RD_KAFKA_CONF_OK) {
            fprintf(stderr, "streamrec produce: kafka.%s: %s\n", cfg->kafka[i].key, errstr);
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, counts);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) {
        fprintf(stderr, "streamrec produce: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

static void progress(uint64_t n, double secs, const struct produce_counts *c, bool final)
{
    fprintf(stderr,
            "\rproduce: %" PRIu64 " events, %.0f/s, %" PRIu64 " delivered, %" PRIu64 " failed   %s",
            n, secs > 0 ? (double)n / secs : 0.0, c->delivered, c->failed, final ? "\n" : "");
}

/* The produce loop; returns the exit code. */
static int produce_run(struct sr_config *cfg, const char *const *paths, size_t n_paths,
                       const struct produce_opts *po)
{
    char err[1024];
    struct produce_counts counts = {0};
    int ret = 1;
    /* The codec only encodes here: ingest.format names the input files. */
    struct sr_ingest_cfg fcfg = cfg->ingest;
    fcfg.format = SR_FMT_AUTO;
    fcfg.schema_dir[0] = '\0';
    struct fr *codec = fr_new(&fcfg, err, sizeof err);
    if (!codec) {
        fprintf(stderr, "streamrec produce: %s\n", err);
        return 1;
    }
    struct src *src = src_open(paths, n_paths, cfg, err, sizeof err);
    if (!src) {
        fprintf(stderr, "streamrec produce: %s\n", err);
        goto err_free_codec;
    }
    rd_kafka_t *rk = make_producer(cfg, &counts);
    if (!rk)
        goto err_close_src;
    rd_kafka_topic_t *topic = rd_kafka_topic_new(rk, po->topic, NULL);
    if (!topic) {
        fprintf(stderr, "streamrec produce: topic %s: %s\n", po->topic,
                rd_kafka_err2str(rd_kafka_last_error()));
        goto err_destroy_producer;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    bool show = !po->quiet && isatty(STDERR_FILENO);
    uint64_t produced = 0, unencodable = 0;
    double t0 = sr_mono_s(), next_progress = t0 + 0.5;
    struct sr_raw_event ev;
    int rc = 0;
    while (!produce_stop && (po->limit == 0 || produced + unencodable < po->limit) &&
           (rc = src_next(src, &ev)) == 0) {
        const void *msg;
        size_t len;
        if (fr_encode(codec, po->format, &ev, &msg, &len) != 0) {
            unencodable++;
            continue;
        }
        if (po->rate > 0) { /* pace: event i leaves no earlier than t0 + i / rate */
            double due = t0 + (double)produced / po->rate;
            double now;
            while (!produce_stop && (now = sr_mono_s()) < due)
                rd_kafka_poll(rk, (int)ceil((due - now) * 1000.0));
        }
        for (;;) {
            if (rd_kafka_produce(topic, RD_KAFKA_PARTITION_UA, RD_KAFKA_MSG_F_COPY, (void *)msg,
                                 len, ev.user_id.p, ev.user_id.len, NULL) == 0)
                break;
            rd_kafka_resp_err_t e = rd_kafka_last_error();
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                fprintf(stderr, "streamrec produce: %s\n", rd_kafka_err2str(e));
                goto err_destroy_topic;
            }
            rd_kafka_poll(rk, 50); /* the queue drains as deliveries complete */
        }
        produced++;
        rd_kafka_poll(rk, 0);
        if (show && (produced & 1023) == 0) {
            double now = sr_mono_s();
            if (now >= next_progress) {
                progress(produced, now - t0, &counts, false);
                next_progress = now + 0.5;
            }
        }
    }
    if (rc != 0 && rc != SR_EEOF && !produce_stop) {
        fprintf(stderr, "streamrec produce: %s\n", src_error(src));
        goto err_destroy_topic;
    }
    rd_kafka_flush(rk, PRODUCE_FLUSH_MS);
    uint64_t undelivered = (uint64_t)rd_kafka_outq_len(rk);
    double secs = sr_mono_s() - t0;
    if (show)
        progress(produced, secs, &counts, true);
    struct src_stats ss;
    src_stats(src, &ss);
    if (!po->quiet)
        fprintf(stderr,
                "streamrec produce: %" PRIu64 " events to %s (%s) in %.2f s (%.0f/s): %" PRIu64
                " delivered, %" PRIu64 " failed; %" PRIu64 " input records skipped, %" PRIu64
                " events not encodable%s\n",
                produced, po->topic, fr_format_name(po->format), secs,
                secs > 0 ? (double)produced / secs : 0.0, counts.delivered, counts.failed, ss.bad,
                unencodable, produce_stop ? " (interrupted)" : "");
    if (counts.failed || undelivered) {
        fprintf(stderr, "streamrec produce: %" PRIu64 " of %" PRIu64 " deliveries failed (%s)%s\n",
                counts.failed + undelivered, produced,
                counts.failed ? counts.first_error : "timed out",
                undelivered ? ", some still undelivered after 30 s" : "");
        goto err_destroy_topic;
    }
    ret = 0;

err_destroy_topic:
    rd_kafka_topic_destroy(topic);
err_destroy_producer:
    /* Undelivered messages are dropped: purge so destroy does not wait. */
    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_destroy(rk);
err_close_src:
    src_close(src);
err_free_codec:
    fr_free(codec);
    return ret;
}

int cmd_produce(int argc, char **argv)
{
    enum { OPT_FORMAT = 256, OPT_RATE, OPT_LIMIT, OPT_PRESET, OPT_INPUT_FORMAT, OPT_SORT };
    static const struct option opts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"topic", required_argument, NULL, 't'},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"rate", required_argument, NULL, OPT_RATE},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"preset", required_argument, NULL, OPT_PRESET},
        {"input-format", required_argument, NULL, OPT_INPUT_FORMAT},
        {"sort", no_argument, NULL, OPT_SORT},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    struct app_steps steps;
    struct produce_opts po = {.topic = "events", .format = FR_CONFLUENT};
    int c, ret = 2;
    if (app_steps_init(&steps, argc) != 0) {
        fprintf(stderr, "streamrec produce: out of memory\n");
        return 1;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "b:t:c:o:qh", opts, NULL)) != -1) {
        const char *key = NULL, *val = optarg;
        char *end;
        switch (c) {
        case 'c':
        case 'o':
            app_steps_add(&steps, (char)c, optarg);
            continue;
        case 'b':
            key = "kafka.bootstrap.servers";
            break;
        case 't':
            po.topic = optarg;
            continue;
        case OPT_FORMAT:
            if (fr_format_parse(optarg, &po.format) != 0) {
                fprintf(stderr,
                        "streamrec produce: --format: expected confluent, single-object or "
                        "json, got '%s'\n",
                        optarg);
                goto out;
            }
            continue;
        case OPT_RATE:
            errno = 0;
            po.rate = strtod(optarg, &end);
            if (errno || end == optarg || *end || !(po.rate > 0) || !isfinite(po.rate)) {
                fprintf(stderr,
                        "streamrec produce: --rate: expected events per second > 0, got '%s'\n",
                        optarg);
                goto out;
            }
            continue;
        case OPT_LIMIT:
            errno = 0;
            po.limit = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-') {
                fprintf(stderr, "streamrec produce: --limit: not a count: '%s'\n", optarg);
                goto out;
            }
            continue;
        case OPT_PRESET:
            key = "ingest.preset";
            break;
        case OPT_INPUT_FORMAT:
            key = "ingest.format";
            break;
        case OPT_SORT:
            key = "ingest.sort", val = "true";
            break;
        case 'q':
            po.quiet = 1;
            continue;
        case 'h':
            produce_usage(stdout);
            ret = 0;
            goto out;
        default:
            produce_usage(stderr);
            goto out;
        }
        app_steps_set(&steps, key, val);
    }
    if (optind >= argc) {
        fprintf(stderr, "streamrec produce: no input file (streamrec produce --help)\n");
        goto out;
    }

    struct sr_config cfg;
    ret = 1;
    if (app_config_build(&cfg, &steps, "produce"))
        goto out;
    ret = produce_run(&cfg, (const char *const *)argv + optind, (size_t)(argc - optind), &po);
out:
    app_steps_free(&steps);
    return ret;
}
