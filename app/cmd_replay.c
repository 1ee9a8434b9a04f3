/* app/cmd_replay.c - `streamrec replay FILE...`: options, report, table. */
#include "app/commands.h"
#include "app/replay.h"
#include "core/err.h"
#include "ingest/source.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void replay_usage(FILE *f)
{
    fprintf(
        f,
        "usage: streamrec replay [options] FILE...\n\n"
        "Runs the pipeline (features, learner) over dataset files as one stream, with\n"
        "prequential evaluation (test, then train), and prints a report.\n\n"
        "  --preset NAME    taobao, yoochoose, diginetica or movielens: column mapping,\n"
        "                   type weights and time sorting of that dataset\n"
        "  --report FILE    write the JSON report to FILE\n"
        "  --sort           stable-sort the input by event time first (ingest.sort)\n"
        "  --no-sort        keep file order even when the preset sorts\n"
        "  --format FMT     auto, csv, jsonl or avro (ingest.format)\n"
        "  --warmup X       leading fraction learned but not scored (eval.warmup)\n"
        "  --sample X       fraction of positive events scored (eval.sample)\n"
        "  --seed N         seed of every random choice (learner.seed)\n"
        "  --no-eval        learn only (eval.enabled=false)\n"
        "  --limit N        stop after N input events\n"
        "  --dump-recs U,U  after the run, print the listed users' served top-K (the\n"
        "                   daemon's serving code) as one JSON object on stdout:\n"
        "                   {\"user\": {\"items\": [...], \"scores\": [...], \"fallback\": b}},\n"
        "                   null for an unknown user; replaces the table\n"
        "  --checkpoint-every N\n"
        "                   a checkpoint of the whole state in state.dir every N input\n"
        "                   records and at the end (the record number is its offset)\n"
        "  --resume         start from the newest valid checkpoint in state.dir,\n"
        "                   skipping the records it covers\n"
        "  -c FILE          configuration file (INI)\n"
        "  -o S.K=V         override one configuration key (repeatable)\n"
        "  -q, --quiet      no table on stdout, no progress on stderr\n"
        "  -h, --help       this text\n\n"
        "streamrec config --dump lists every configuration key.\n");
}

int cmd_replay(int argc, char **argv)
{
    enum {
        OPT_PRESET = 256,
        OPT_REPORT,
        OPT_SORT,
        OPT_NO_SORT,
        OPT_FORMAT,
        OPT_WARMUP,
        OPT_SAMPLE,
        OPT_SEED,
        OPT_NO_EVAL,
        OPT_LIMIT,
        OPT_DUMP_RECS,
        OPT_CKPT_EVERY,
        OPT_RESUME
    };
    static const struct option opts[] = {
        {"preset", required_argument, NULL, OPT_PRESET},
        {"report", required_argument, NULL, OPT_REPORT},
        {"sort", no_argument, NULL, OPT_SORT},
        {"no-sort", no_argument, NULL, OPT_NO_SORT},
        {"format", required_argument, NULL, OPT_FORMAT},
        {"warmup", required_argument, NULL, OPT_WARMUP},
        {"sample", required_argument, NULL, OPT_SAMPLE},
        {"seed", required_argument, NULL, OPT_SEED},
        {"no-eval", no_argument, NULL, OPT_NO_EVAL},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"dump-recs", required_argument, NULL, OPT_DUMP_RECS},
        {"checkpoint-every", required_argument, NULL, OPT_CKPT_EVERY},
        {"resume", no_argument, NULL, OPT_RESUME},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    /* Every option that sets a key becomes an override, so that the order
     * "defaults, preset, files and overrides in command-line order" holds. */
    struct app_steps steps;
    const char *report_path = NULL, *dump = NULL;
    uint64_t limit = 0, every = 0;
    int quiet = 0, resume = 0, c, ret = 2;
    if (app_steps_init(&steps, argc) != 0) {
        fprintf(stderr, "streamrec replay: out of memory\n");
        return 1;
    }
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:o:qh", opts, NULL)) != -1) {
        const char *key = NULL, *val = optarg;
        switch (c) {
        case 'c':
        case 'o':
            app_steps_add(&steps, (char)c, optarg);
            continue;
        case OPT_PRESET:
            key = "ingest.preset";
            break;
        case OPT_REPORT:
            report_path = optarg;
            continue;
        case OPT_DUMP_RECS:
            dump = optarg;
            continue;
        case OPT_SORT:
            key = "ingest.sort", val = "true";
            break;
        case OPT_NO_SORT:
            key = "ingest.sort", val = "false";
            break;
        case OPT_FORMAT:
            key = "ingest.format";
            break;
        case OPT_WARMUP:
            key = "eval.warmup";
            break;
        case OPT_SAMPLE:
            key = "eval.sample";
            break;
        case OPT_SEED:
            key = "learner.seed";
            break;
        case OPT_NO_EVAL:
            key = "eval.enabled", val = "false";
            break;
        case OPT_LIMIT: {
            char *end;
            limit = strtoull(optarg, &end, 10);
            if (*end || end == optarg) {
                fprintf(stderr, "streamrec replay: --limit: not a count: '%s'\n", optarg);
                goto out;
            }
            continue;
        }
        case OPT_CKPT_EVERY: {
            char *end;
            every = strtoull(optarg, &end, 10);
            if (*end || end == optarg || every == 0) {
                fprintf(stderr, "streamrec replay: --checkpoint-every: not a count > 0: '%s'\n",
                        optarg);
                goto out;
            }
            continue;
        }
        case OPT_RESUME:
            resume = 1;
            continue;
        case 'q':
            quiet = 1;
            continue;
        case 'h':
            replay_usage(stdout);
            ret = 0;
            goto out;
        default:
            replay_usage(stderr);
            goto out;
        }
        app_steps_set(&steps, key, val);
    }
    if (optind >= argc) {
        fprintf(stderr, "streamrec replay: no input file (streamrec replay --help)\n");
        goto out;
    }

    struct sr_config cfg;
    char err[1024];
    ret = 1;
    if (app_config_build(&cfg, &steps, "replay"))
        goto out;

    struct replay_opts ro = {
        .paths = (const char *const *)argv + optind,
        .n_paths = (size_t)(argc - optind),
        .progress = !quiet && isatty(STDERR_FILENO),
        .limit = limit,
        .dump_recs = dump,
        .checkpoint_every = every,
        .resume = resume,
    };
    json_t *report = replay_run(&cfg, &ro, err, sizeof err);
    if (!report) {
        fprintf(stderr, "streamrec replay: %s\n", err);
        goto out;
    }
    if (dump) {
        json_dumpf(json_object_get(report, "recs"), stdout, JSON_REAL_PRECISION(9));
        fputc('\n', stdout);
    } else if (!quiet)
        replay_print_table(report, stdout);
    if (report_path &&
        json_dump_file(report, report_path, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) != 0) {
        fprintf(stderr, "streamrec replay: cannot write report %s\n", report_path);
        json_decref(report);
        goto out;
    }
    json_decref(report);
    ret = 0;
out:
    app_steps_free(&steps);
    return ret;
}
