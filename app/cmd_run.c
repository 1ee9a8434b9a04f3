/* app/cmd_run.c - `streamrec run -c FILE`: the daemon (app/daemon.h).
 *
 * Options become configuration steps applied in command-line order; then
 * the daemon runs in this thread until SIGTERM or SIGINT, and a one-line
 * summary goes to stderr. Exit code 0 after a clean stop, 1 when the
 * pipeline failed, 2 on a usage error. */
#include "app/commands.h"
#include "app/daemon.h"
#include "app/reporter.h"
#include "core/err.h"

#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct daemon *run_daemon; /* for the signal handler */

static void on_signal(int sig)
{
    (void)sig;
    if (run_daemon)
        daemon_stop(run_daemon);
}

static void run_usage(FILE *f)
{
    fprintf(f, "usage: streamrec run [-c FILE] [-o section.key=value ...]\n\n"
               "The daemon: consumes events from Kafka (source.topics, consumer group\n"
               "kafka.group.id, default streamrec), learns from every one as `replay` does,\n"
               "and keeps recommendations in Redis (<namespace>:rec:<user>, :sim:<item>,\n"
               ":trending:<window>, :model). Messages that cannot be decoded or are invalid go\n"
               "to source.dlq_topic with the reason in headers. Runs until SIGTERM or Ctrl-C,\n"
               "then publishes what is pending, commits offsets and exits 0.\n\n"
               "  -c FILE          configuration file (INI; [kafka] keys go to librdkafka)\n"
               "  -o S.K=V         override one configuration key (repeatable)\n"
               "  -b, --brokers L  bootstrap servers (kafka.bootstrap.servers)\n"
               "  -h, --help       this text\n\n"
               "streamrec config --dump lists every configuration key.\n");
}

static void print_summary(const struct daemon_stats *s, FILE *f)
{
    fprintf(f,
            "streamrec run: %" PRIu64 " messages, %" PRIu64 " events applied, %" PRIu64
            " dead letters",
            s->messages_in, s->events_applied, s->dlq_total);
    const char *sep = " (";
    for (int r = 1; r < DAEMON_DLQ_COUNT; r++)
        if (s->dlq[r]) {
            fprintf(f, "%s%s=%" PRIu64, sep, daemon_dlq_name(r), s->dlq[r]);
            sep = " ";
        }
    fprintf(f, "%s", sep[0] == ' ' && sep[1] == '\0' ? ")" : "");
    sep = ", skipped (";
    for (int r = 1; r < FEAT_SKIP_COUNT; r++)
        if (s->skipped[r] && r > FEAT_SKIP_BAD_TYPE) {
            fprintf(f, "%s%s=%" PRIu64, sep, feat_skip_name((enum feat_skip)r), s->skipped[r]);
            sep = " ";
        }
    fprintf(f, "%s", sep[0] == ' ' && sep[1] == '\0' ? ")" : "");
    fprintf(f,
            ", %" PRIu64 " lists (%" PRIu64 " popularity fallbacks), %" PRIu64 " Redis SETs, "
            "model %s\n",
            s->users_scored, s->fallback_lists, s->publisher.sets, s->version);
}

int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"brokers", required_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    char owned[SR_CFG_STR_MAX + 64];
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:o:b:h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            if (app_config_add_file(&cfg, optarg))
                return 1;
            break;
        case 'o':
            if (app_config_add_override(&cfg, optarg))
                return 1;
            break;
        case 'b':
            snprintf(owned, sizeof owned, "kafka.bootstrap.servers=%s", optarg);
            if (app_config_add_override(&cfg, owned))
                return 1;
            break;
        case 'h':
            run_usage(stdout);
            return 0;
        default:
            run_usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "streamrec run: unexpected argument '%s' (streamrec run --help)\n",
                argv[optind]);
        return 2;
    }
    if (app_config_finish(&cfg))
        return 1;

    char err[1024];
    struct daemon *d = daemon_new(&cfg, err, sizeof err);
    if (!d) {
        fprintf(stderr, "streamrec run: %s\n", err);
        return 1;
    }
    run_daemon = d;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND; /* a second signal ends the process at once */
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    struct reporter *rep = reporter_start(d, &cfg.metrics, err, sizeof err);
    if (!rep) {
        fprintf(stderr, "streamrec run: %s\n", err);
        daemon_free(d);
        return 1;
    }
    int rc = daemon_run(d);
    reporter_stop(rep);
    struct daemon_stats st;
    daemon_stats(d, &st);
    print_summary(&st, stderr);
    if (rc)
        fprintf(stderr, "streamrec run: stopped: %s\n", sr_strerror(rc));
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    run_daemon = NULL;
    daemon_free(d);
    return rc ? 1 : 0;
}
