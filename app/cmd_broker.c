/* app/cmd_broker.c - `streamrec broker`: a development Kafka broker.
 *
 * librdkafka's mock cluster (rdkafka_mock.h) in this process: --brokers
 * brokers (default 1) on 127.0.0.1 with the topics streamrec uses (events
 * with --partitions partitions, streamrec.dlq and streamrec.metrics with
 * one each). Prints the bootstrap address list as one stdout line, then
 * serves until SIGTERM or SIGINT and exits 0. Kept in memory only: a
 * partition holds about 5 MB, older messages are dropped (librdkafka's
 * mock log limit); the log belongs to the partition, not to a broker, so
 * moving a leader loses nothing.
 *
 * Fault injection, for tests (the handlers only set flags, the main loop
 * acts on them: the mock calls are not async-signal-safe):
 *   SIGUSR1  every broker down (connections dropped, new ones refused:
 *            rd_kafka_mock_broker_set_down)
 *   SIGUSR2  every broker back up
 *   SIGHUP   leader change: every partition of events moves its leader to
 *            the next broker (1 -> 2 -> ... -> N -> 1), with
 *            rd_kafka_mock_partition_set_leader. The mock API cannot read
 *            a leader back, so the leaders are set explicitly at start
 *            (partition p on broker p mod N + 1) and tracked here; clients
 *            get NOT_LEADER_OR_FOLLOWER and refresh their metadata. With
 *            one broker it is logged and does nothing.
 *
 * Choosing the port. librdkafka 2.0.2's mock broker binds its listener to
 * 127.0.0.1 port 0 (an ephemeral port) and has no setting or call to
 * choose it (newer releases do not add one either). --port is implemented
 * by interposing bind(): while broker_port is armed, the first bind of an
 * IPv4 loopback socket to port 0 gets that port instead, and the call goes
 * on to the C library's bind. The executable's definition wins over libc's
 * for librdkafka's calls (ELF symbol interposition); unarmed, it only
 * forwards. Only this command arms it, around rd_kafka_mock_cluster_new().
 * A proxy on the port would also work, but the broker would then advertise
 * its ephemeral port in metadata and clients would bypass the chosen one. */
#include "app/commands.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *const broker_topics[] = {"events", "streamrec.dlq", "streamrec.metrics"};

/* ---- bind() interposition (see the top of the file) ------------------- */

static volatile int broker_port; /* > 0: the port the next port-0 loopback bind gets */

int bind(int fd, const struct sockaddr *addr, socklen_t len)
{
    static int (*real_bind)(int, const struct sockaddr *, socklen_t);
    if (!real_bind) {
        real_bind = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "bind");
        if (!real_bind) {
            errno = ENOSYS;
            return -1;
        }
    }
    int port = broker_port;
    if (port > 0 && addr && addr->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in sin;
        memcpy(&sin, addr, sizeof sin);
        if (sin.sin_port == 0 && sin.sin_addr.s_addr == htonl(INADDR_LOOPBACK)) {
            broker_port = 0; /* one listener only */
            sin.sin_port = htons((uint16_t)port);
            return real_bind(fd, (const struct sockaddr *)&sin, sizeof sin);
        }
    }
    return real_bind(fd, addr, len);
}

/* ---- the command ------------------------------------------------------ */

/* librdkafka 2.0.2 aborts (an assertion in rd_kafka_mock_cluster_destroy)
 * when the mock broker cannot bind, so a taken port is detected first by
 * binding it here (without SO_REUSEADDR: stricter than the listener). */
static int port_free(int port, char *why, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        snprintf(why, len, "socket: %s", strerror(errno));
        return 0;
    }
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin.sin_port = htons((uint16_t)port);
    int saved = broker_port; /* this probe must not consume the armed port */
    broker_port = 0;
    int ok = bind(fd, (const struct sockaddr *)&sin, sizeof sin) == 0;
    broker_port = saved;
    if (!ok)
        snprintf(why, len, "%s", strerror(errno));
    close(fd);
    return ok;
}

static volatile sig_atomic_t broker_stop;
static volatile sig_atomic_t broker_want_down; /* SIGUSR1 */
static volatile sig_atomic_t broker_want_up;   /* SIGUSR2 */
static volatile sig_atomic_t broker_want_move; /* SIGHUP */

static void on_signal(int sig)
{
    if (sig == SIGUSR1)
        broker_want_down = 1;
    else if (sig == SIGUSR2)
        broker_want_up = 1;
    else if (sig == SIGHUP)
        broker_want_move = 1;
    else
        broker_stop = 1;
}

/* The leader of every partition of events (broker ids 1..n_brokers). */
struct broker_leaders {
    int n_brokers, partitions;
    int32_t *leader; /* [partitions], owned */
};

/* Partition p of events to broker leader[p]; 0 or the first error. */
static rd_kafka_resp_err_t broker_set_leaders(rd_kafka_mock_cluster_t *mc,
                                              const struct broker_leaders *l)
{
    for (int p = 0; p < l->partitions; p++) {
        rd_kafka_resp_err_t err =
            rd_kafka_mock_partition_set_leader(mc, broker_topics[0], p, l->leader[p]);
        if (err)
            return err;
    }
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* Acts on the SIGUSR1/SIGUSR2/SIGHUP flags (main loop only: the mock
 * cluster calls are not async-signal-safe). Down before up when both
 * arrived. */
static void broker_apply_faults(rd_kafka_mock_cluster_t *mc, struct broker_leaders *l)
{
    if (broker_want_move) {
        broker_want_move = 0;
        if (l->n_brokers < 2) {
            fprintf(stderr,
                    "streamrec broker: leader change (SIGHUP): one broker, nothing to move\n");
        } else {
            for (int p = 0; p < l->partitions; p++)
                l->leader[p] = l->leader[p] % l->n_brokers + 1;
            rd_kafka_resp_err_t err = broker_set_leaders(mc, l);
            fprintf(
                stderr,
                "streamrec broker: leader change (SIGHUP): partition 0 of %s on broker %d%s%s\n",
                broker_topics[0], (int)l->leader[0], err ? ": " : "",
                err ? rd_kafka_err2str(err) : "");
        }
    }
    if (broker_want_down) {
        broker_want_down = 0;
        rd_kafka_resp_err_t err = rd_kafka_mock_broker_set_down(mc, -1);
        fprintf(stderr, "streamrec broker: down (SIGUSR1)%s%s\n", err ? ": " : "",
                err ? rd_kafka_err2str(err) : "");
    }
    if (broker_want_up) {
        broker_want_up = 0;
        rd_kafka_resp_err_t err = rd_kafka_mock_broker_set_up(mc, -1);
        fprintf(stderr, "streamrec broker: up (SIGUSR2)%s%s\n", err ? ": " : "",
                err ? rd_kafka_err2str(err) : "");
    }
}

static void broker_usage(FILE *f)
{
    fprintf(f, "usage: streamrec broker [--port N] [--partitions N] [--brokers N]\n\n"
               "Runs a development Kafka cluster on 127.0.0.1 (librdkafka's mock cluster, in\n"
               "memory) with the topics events, streamrec.dlq and streamrec.metrics, prints\n"
               "its bootstrap addresses (host:port,...) as one line on stdout, and serves\n"
               "until SIGTERM or SIGINT. Each partition keeps about the last 5 MB of\n"
               "messages. For fault tests: SIGUSR1 takes every broker down (connections\n"
               "dropped and refused), SIGUSR2 brings them back up, and SIGHUP moves the\n"
               "leader of every partition of events to the next broker (with --brokers 2\n"
               "or more; partition p starts on broker p mod N + 1).\n\n"
               "  --port N          listening port of the first broker, 0 = any free port\n"
               "                    (default 0; the others always take free ports)\n"
               "  --partitions N    partitions of the events topic, 1..256 (default 4)\n"
               "  --brokers N       brokers in the cluster, 1..16 (default 1)\n"
               "  -h, --help        this text\n");
}

static int parse_int(const char *flag, const char *s, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "streamrec broker: %s: expected an integer from %ld to %ld, got '%s'\n",
                flag, lo, hi, s);
        return 2;
    }
    *out = (int)v;
    return 0;
}

int cmd_broker(int argc, char **argv)
{
    int port = 0, partitions = 4, brokers = 1;
    static const struct option opts[] = {{"port", required_argument, NULL, 'p'},
                                         {"partitions", required_argument, NULL, 'n'},
                                         {"brokers", required_argument, NULL, 'B'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (parse_int("--port", optarg, 0, 65535, &port))
                return 2;
            break;
        case 'n':
            if (parse_int("--partitions", optarg, 1, 256, &partitions))
                return 2;
            break;
        case 'B':
            if (parse_int("--brokers", optarg, 1, 16, &brokers))
                return 2;
            break;
        case 'h':
            broker_usage(stdout);
            return 0;
        default:
            broker_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "streamrec broker: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }

    int rc = 1;
    char errstr[512];
    if (port && !port_free(port, errstr, sizeof errstr)) {
        fprintf(stderr, "streamrec broker: cannot listen on 127.0.0.1:%d: %s\n", port, errstr);
        return 1;
    }
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* The handle only hosts the cluster; it never connects anywhere. */
    if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "streamrec broker: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!rk) { /* conf is still ours on failure */
        fprintf(stderr, "streamrec broker: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    broker_port = port;
    struct broker_leaders leaders = {.n_brokers = brokers, .partitions = partitions};
    if (!(leaders.leader = calloc((size_t)partitions, sizeof *leaders.leader))) {
        fprintf(stderr, "streamrec broker: out of memory\n");
        goto err_destroy_handle;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    int unused_port = broker_port; /* still armed: the listener never bound */
    broker_port = 0;
    if (!mc) {
        if (port)
            fprintf(stderr, "streamrec broker: cannot listen on 127.0.0.1:%d (in use?)\n", port);
        else
            fprintf(stderr, "streamrec broker: cannot create the mock cluster\n");
        goto err_destroy_handle;
    }
    if (unused_port) {
        fprintf(stderr, "streamrec broker: could not apply --port %d\n", port);
        goto err_destroy_cluster;
    }
    for (size_t i = 0; i < sizeof broker_topics / sizeof broker_topics[0]; i++) {
        rd_kafka_resp_err_t err =
            rd_kafka_mock_topic_create(mc, broker_topics[i], i == 0 ? partitions : 1, brokers);
        if (err) {
            fprintf(stderr, "streamrec broker: create topic %s: %s\n", broker_topics[i],
                    rd_kafka_err2str(err));
            goto err_destroy_cluster;
        }
    }
    for (int p = 0; p < partitions; p++)
        leaders.leader[p] = p % brokers + 1;
    rd_kafka_resp_err_t lerr = broker_set_leaders(mc, &leaders);
    if (lerr) {
        fprintf(stderr, "streamrec broker: partition leaders of %s: %s\n", broker_topics[0],
                rd_kafka_err2str(lerr));
        goto err_destroy_cluster;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGUSR2, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);

    printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);
    fprintf(stderr,
            "streamrec broker: serving on %s (%d broker(s); topics events[%d], "
            "streamrec.dlq, streamrec.metrics); SIGTERM or Ctrl-C stops\n",
            rd_kafka_mock_cluster_bootstraps(mc), brokers, partitions);
    while (!broker_stop) {
        broker_apply_faults(mc, &leaders);
        rd_kafka_poll(rk, 100);
    }
    fprintf(stderr, "streamrec broker: stopping\n");
    rc = 0;

err_destroy_cluster:
    rd_kafka_mock_cluster_destroy(mc);
err_destroy_handle:
    free(leaders.leader);
    rd_kafka_destroy(rk);
    return rc;
}
