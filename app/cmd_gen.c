/* app/cmd_gen.c - `streamrec gen`: writes a synthetic event stream.
 *
 * Flags map onto struct gen_cfg (app/gen.h, where the model is described)
 * and the output onto an ingest/writer.h writer. Exit 0 ok, 1 on an I/O
 * error, 2 on a bad flag. */
#include "app/commands.h"
#include "app/gen.h"
#include "core/err.h"
#include "core/time.h"
#include "ingest/writer.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define GEN_PROGRESS_EVERY (1u << 18) /* events between progress lines */

static void gen_usage(FILE *f)
{
    struct gen_cfg d;
    gen_cfg_defaults(&d);
    fprintf(f,
            "usage: streamrec gen [options]\n\n"
            "Writes a synthetic event stream with realistic structure (Zipf popularity and\n"
            "activity, taste clusters, sessions, a view -> cart -> purchase funnel, drifting\n"
            "popularity), in event-time order. The same options and seed give the same bytes.\n\n"
            "  --events N        events to write (default %" PRIu64 ")\n"
            "  --users U         users u0..u<U-1> (default %" PRIu64 ")\n"
            "  --items I         items i0..i<I-1> (default %" PRIu64 ")\n"
            "  --seed S          random seed (default %" PRIu64 ")\n"
            "  --clusters C      latent taste clusters, 1..min(items,65535) (default %u)\n"
            "  --format F        csv | jsonl | avro (default csv)\n"
            "  --out FILE        output file, - for stdout (default -; avro needs a file)\n"
            "  --start-ts MS     Unix ms of the first event (default %" PRId64 ")\n"
            "  --rate R          mean events per second of event time (default %g)\n"
            "  --item-zipf X     item popularity exponent within a cluster (default %g)\n"
            "  --user-zipf X     user activity exponent (default %g)\n"
            "  --drift D         popularity drift step interval, e.g. 3h; 0 = off (default 3h)\n"
            "  --user-gap D      least gap between two sessions of a user (default 45m)\n"
            "  -h, --help        this text\n\n"
            "CSV columns: event_id,ts,user_id,item_id,type,price,quantity,session_id\n"
            "(ts in Unix ms, empty = null). Progress goes to stderr when it is a terminal.\n",
            d.events, d.users, d.items, d.seed, d.clusters, d.start_ms, d.events_per_s, d.item_zipf,
            d.user_zipf);
}

static int bad_flag(const char *flag, const char *want, const char *got)
{
    fprintf(stderr, "streamrec gen: %s: expected %s, got '%s'\n", flag, want, got);
    return 2;
}

/* A whole-string unsigned decimal in [lo, hi]. */
static int parse_u64(const char *flag, const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char want[96];
    snprintf(want, sizeof want, "an integer from %" PRIu64 " to %" PRIu64, lo, hi);
    char *end;
    errno = 0;
    if (s[0] < '0' || s[0] > '9')
        return bad_flag(flag, want, s);
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return bad_flag(flag, want, s);
    *out = v;
    return 0;
}

static int parse_double(const char *flag, const char *s, double lo, double hi, double *out)
{
    char want[96];
    snprintf(want, sizeof want, "a number from %g to %g", lo, hi);
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return bad_flag(flag, want, s);
    *out = v;
    return 0;
}

static int parse_duration(const char *flag, const char *s, int64_t *out)
{
    if (sr_parse_duration_ms(s, out) != 0 || *out < 0)
        return bad_flag(flag, "a duration like 90s, 30m, 1h or 0", s);
    return 0;
}

int cmd_gen(int argc, char **argv)
{
    enum {
        O_EVENTS = 256,
        O_USERS,
        O_ITEMS,
        O_SEED,
        O_CLUSTERS,
        O_FORMAT,
        O_OUT,
        O_START,
        O_RATE,
        O_IZIPF,
        O_UZIPF,
        O_DRIFT,
        O_GAP
    };
    static const struct option opts[] = {
        {"events", required_argument, NULL, O_EVENTS},
        {"users", required_argument, NULL, O_USERS},
        {"items", required_argument, NULL, O_ITEMS},
        {"seed", required_argument, NULL, O_SEED},
        {"clusters", required_argument, NULL, O_CLUSTERS},
        {"format", required_argument, NULL, O_FORMAT},
        {"out", required_argument, NULL, O_OUT},
        {"start-ts", required_argument, NULL, O_START},
        {"rate", required_argument, NULL, O_RATE},
        {"item-zipf", required_argument, NULL, O_IZIPF},
        {"user-zipf", required_argument, NULL, O_UZIPF},
        {"drift", required_argument, NULL, O_DRIFT},
        {"user-gap", required_argument, NULL, O_GAP},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    struct gen_cfg cfg;
    gen_cfg_defaults(&cfg);
    enum wr_format fmt = WR_CSV;
    const char *out = "-";
    uint64_t v;
    int c, rc;

    optind = 1;
    opterr = 0; /* we print our own one-line errors */
    while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
        const char *flag = optind > 0 && optind <= argc ? argv[optind - 1] : "?";
        switch (c) {
        case O_EVENTS:
            if ((rc = parse_u64("--events", optarg, 0, UINT64_MAX, &cfg.events)))
                return rc;
            break;
        case O_USERS:
            if ((rc = parse_u64("--users", optarg, 1, UINT32_MAX, &cfg.users)))
                return rc;
            break;
        case O_ITEMS:
            if ((rc = parse_u64("--items", optarg, 1, UINT32_MAX, &cfg.items)))
                return rc;
            break;
        case O_SEED:
            if ((rc = parse_u64("--seed", optarg, 0, UINT64_MAX, &cfg.seed)))
                return rc;
            break;
        case O_CLUSTERS:
            if ((rc = parse_u64("--clusters", optarg, 1, 65535, &v)))
                return rc;
            cfg.clusters = (uint32_t)v;
            break;
        case O_FORMAT:
            if (wr_format_parse(optarg, &fmt) != 0)
                return bad_flag("--format", "csv, jsonl or avro", optarg);
            break;
        case O_OUT:
            out = optarg;
            break;
        case O_START:
            if ((rc = parse_u64("--start-ts", optarg, 0, (uint64_t)1 << 52, &v)))
                return rc;
            cfg.start_ms = (int64_t)v;
            break;
        case O_RATE:
            if ((rc = parse_double("--rate", optarg, 1e-6, 1e9, &cfg.events_per_s)))
                return rc;
            break;
        case O_IZIPF:
            if ((rc = parse_double("--item-zipf", optarg, 0, 5, &cfg.item_zipf)))
                return rc;
            break;
        case O_UZIPF:
            if ((rc = parse_double("--user-zipf", optarg, 0, 5, &cfg.user_zipf)))
                return rc;
            break;
        case O_DRIFT:
            if ((rc = parse_duration("--drift", optarg, &cfg.drift_ms)))
                return rc;
            break;
        case O_GAP:
            if ((rc = parse_duration("--user-gap", optarg, &cfg.min_user_gap_ms)))
                return rc;
            break;
        case 'h':
            gen_usage(stdout);
            return 0;
        case ':':
            fprintf(stderr, "streamrec gen: %s needs a value (see --help)\n", flag);
            return 2;
        default:
            fprintf(stderr, "streamrec gen: unknown option '%s' (see --help)\n", flag);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "streamrec gen: unexpected argument '%s' (see --help)\n", argv[optind]);
        return 2;
    }

    char err[512];
    struct gen *g = gen_new(&cfg, err, sizeof err);
    if (!g) {
        fprintf(stderr, "streamrec %s\n", err); /* err starts "gen: " */
        return 2;                               /* settings out of range: a usage error */
    }
    struct wr *w = wr_open(out, fmt, err, sizeof err);
    if (!w) {
        fprintf(stderr, "streamrec gen: %s\n", err);
        gen_free(g);
        return strcmp(out, "-") == 0 ? 2 : 1; /* avro to stdout is a usage error */
    }

    int progress = isatty(STDERR_FILENO);
    double t0 = sr_mono_s();
    int status = 0;
    struct gen_event ev;
    while (gen_next(g, &ev) == 0) {
        if ((rc = wr_write(w, &ev.raw)) != 0) {
            fprintf(stderr, "streamrec gen: %s: %s\n", strcmp(out, "-") ? out : "stdout",
                    wr_error(w));
            status = 1;
            break;
        }
        if (progress && (ev.seq + 1) % GEN_PROGRESS_EVERY == 0)
            fprintf(stderr, "\r\033[Kstreamrec gen: %" PRIu64 " / %" PRIu64 " events (%.0f%%)",
                    ev.seq + 1, cfg.events, 100.0 * (double)(ev.seq + 1) / (double)cfg.events);
    }
    if (wr_close(w, err, sizeof err) != 0 && status == 0) {
        fprintf(stderr, "streamrec gen: %s: %s\n", strcmp(out, "-") ? out : "stdout", err);
        status = 1;
    }
    if (progress) {
        double dt = sr_mono_s() - t0;
        fprintf(stderr, "\r\033[Kstreamrec gen: %" PRIu64 " events in %.2f s (%.2f M events/s)\n",
                gen_count(g), dt, dt > 0 ? (double)gen_count(g) / dt / 1e6 : 0.0);
    }
    gen_free(g);
    return status;
}
