/* app/cmd_checkpoint.c - `streamrec checkpoint inspect PATH`: what a
 * checkpoint holds (app/state.h), read without the run's configuration:
 * the state-shaping keys are taken from the checkpoint itself. */
#include "app/commands.h"
#include "app/state.h"
#include "core/err.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void checkpoint_usage(FILE *f)
{
    fprintf(f, "usage: streamrec checkpoint inspect [--json] [--counts] PATH\n\n"
               "Verifies a checkpoint (every section's checksum, then loads the feature\n"
               "state and the model) and prints its format and model version, when it was\n"
               "taken, events applied, partition offsets, users, items and bytes per\n"
               "section. PATH is a file or a state.dir (its newest valid checkpoint).\n\n"
               "  --json      one JSON object instead of the table\n"
               "  --counts    add the applied events of every user and item (text: lines\n"
               "              \"user<TAB>id<TAB>n\" and \"item<TAB>id<TAB>n\")\n"
               "  -h, --help  this text\n\n"
               "Exit status: 0 valid, 1 no valid checkpoint (the reason on stderr), 2 usage.\n");
}

struct loaded {
    struct sr_config cfg;
    struct feat *feat;
    struct mf *mf;
};

/* Rebuilds the feature state and the model from f; 0 or an error (said). */
static int load_parts(const struct ck_file *f, const char *path, struct loaded *l)
{
    char err[512];
    sr_config_defaults(&l->cfg);
    int rc = state_config(f, &l->cfg, err, sizeof err);
    if (rc == 0 && !(l->feat = feat_new(&l->cfg.features, err, sizeof err)))
        rc = SR_ECONFIG;
    if (rc == 0 && !(l->mf = mf_new(&l->cfg.learner, err, sizeof err)))
        rc = SR_ECONFIG;
    if (rc == 0 && (rc = feat_load(l->feat, f, err, sizeof err)) == 0)
        rc = mf_load(l->mf, f, err, sizeof err);
    if (rc)
        fprintf(stderr, "streamrec: %s: %s\n", path, err);
    return rc;
}

static json_t *offsets_json(const struct ks_offset *o, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_object();
        json_object_set_new(e, "topic", json_string(o[i].topic));
        json_object_set_new(e, "partition", json_integer(o[i].partition));
        json_object_set_new(e, "next", json_integer((json_int_t)o[i].next));
        json_array_append_new(a, e);
    }
    return a;
}

static json_t *counts_json(const struct feat *feat, bool users)
{
    json_t *o = json_object();
    const struct sr_intern *ids = users ? feat_users(feat) : feat_items(feat);
    uint32_t n = sr_intern_count(ids);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t c = users ? feat_user_events(feat, i) : feat_item_events(feat, i);
        json_object_set_new(o, sr_intern_str(ids, i, NULL), json_integer(c));
    }
    return o;
}

static void print_counts(const struct feat *feat)
{
    for (int u = 1; u >= 0; u--) {
        const struct sr_intern *ids = u ? feat_users(feat) : feat_items(feat);
        uint32_t n = sr_intern_count(ids);
        for (uint32_t i = 0; i < n; i++)
            printf("%s\t%s\t%" PRIu32 "\n", u ? "user" : "item", sr_intern_str(ids, i, NULL),
                   u ? feat_user_events(feat, i) : feat_item_events(feat, i));
    }
}

static int inspect(const char *path, bool as_json, bool counts)
{
    struct stat sb;
    char file[STATE_PATH_MAX], err[512];
    struct ck_file *f;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        if (!(f = state_open_newest(path, file, sizeof file))) {
            fprintf(stderr, "streamrec: no valid checkpoint in %s\n", path);
            return 1;
        }
    } else {
        snprintf(file, sizeof file, "%s", path);
        if (!(f = ck_open(path, err, sizeof err))) {
            fprintf(stderr, "streamrec: %s\n", err);
            return 1;
        }
    }
    struct loaded l = {0};
    struct ks_offset *offs = NULL;
    size_t n_offs = 0, meta_len = 0;
    int rc = load_parts(f, file, &l);
    if (rc == 0 && (rc = state_offsets(f, &offs, &n_offs)) != 0)
        fprintf(stderr, "streamrec: %s: offsets section: %s\n", file, sr_strerror(rc));
    if (rc) {
        feat_free(l.feat);
        mf_free(l.mf);
        ck_close(f);
        return 1;
    }
    const char *meta = state_meta(f, &meta_len);
    json_t *m = meta ? json_loadb(meta, meta_len, 0, NULL) : NULL;
    struct feat_stats fs;
    feat_stats(l.feat, &fs);

    json_t *o = json_object();
    json_object_set_new(o, "path", json_string(file));
    json_object_set_new(o, "format", json_integer(ck_format(f)));
    json_object_set_new(o, "model_version", json_string(ck_model_version(f)));
    json_object_set_new(o, "created_ms", json_integer(ck_created_ms(f)));
    json_object_set_new(o, "bytes", json_integer((json_int_t)ck_file_bytes(f)));
    json_object_set_new(o, "events_applied", json_integer((json_int_t)fs.admitted));
    json_object_set_new(o, "users", json_integer(feat_n_users(l.feat)));
    json_object_set_new(o, "items", json_integer(feat_n_items(l.feat)));
    json_object_set_new(o, "model_updates", json_integer((json_int_t)mf_updates(l.mf)));
    json_object_set_new(o, "meta", m ? m : json_object());
    json_object_set_new(o, "offsets", offsets_json(offs, n_offs));
    json_t *secs = json_array();
    for (size_t i = 0; i < ck_n_sections(f); i++) {
        struct ck_section_info s;
        char hex[17];
        ck_section_at(f, i, &s);
        snprintf(hex, sizeof hex, "%016" PRIx64, s.xxh64);
        json_t *e = json_object();
        json_object_set_new(e, "id", json_integer(s.id));
        json_object_set_new(e, "name", json_string(s.name));
        json_object_set_new(e, "bytes", json_integer((json_int_t)s.length));
        json_object_set_new(e, "xxh64", json_string(hex));
        json_array_append_new(secs, e);
    }
    json_object_set_new(o, "sections", secs);

    if (as_json) {
        if (counts) {
            json_t *c = json_object();
            json_object_set_new(c, "users", counts_json(l.feat, true));
            json_object_set_new(c, "items", counts_json(l.feat, false));
            json_object_set_new(o, "counts", c);
        }
        json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("\n");
    } else {
        printf("checkpoint  %s\nformat      %" PRIu32 "\nmodel       %s\ncreated_ms  %" PRId64
               "\nevents      %" PRIu64 " applied (%" PRIu64 " model updates)\n"
               "users       %" PRIu32 "\nitems       %" PRIu32 "\n",
               file, ck_format(f), ck_model_version(f), ck_created_ms(f), fs.admitted,
               mf_updates(l.mf), feat_n_users(l.feat), feat_n_items(l.feat));
        if (m) {
            char *t = json_dumps(m, JSON_COMPACT);
            printf("meta        %s\n", t ? t : "");
            free(t);
        }
        printf("offsets    ");
        for (size_t i = 0; i < n_offs; i++)
            printf(" %s/%" PRId32 ":%" PRId64, offs[i].topic, offs[i].partition, offs[i].next);
        printf("%s\n%-4s %-16s %12s  %s\n", n_offs ? "" : " (none)", "id", "section", "bytes",
               "xxh64");
        json_t *e;
        size_t i;
        json_array_foreach(secs, i, e)
        {
            printf("%-4" JSON_INTEGER_FORMAT " %-16s %12" JSON_INTEGER_FORMAT "  %s\n",
                   json_integer_value(json_object_get(e, "id")),
                   json_string_value(json_object_get(e, "name")),
                   json_integer_value(json_object_get(e, "bytes")),
                   json_string_value(json_object_get(e, "xxh64")));
        }
        if (counts)
            print_counts(l.feat);
    }
    json_decref(o);
    free(offs);
    feat_free(l.feat);
    mf_free(l.mf);
    ck_close(f);
    return 0;
}

int cmd_checkpoint(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"counts", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    if (argc < 2 || strcmp(argv[1], "inspect") != 0) {
        if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
            checkpoint_usage(stdout);
            return 0;
        }
        checkpoint_usage(stderr);
        return 2;
    }
    bool as_json = false, counts = false;
    int c;
    argc--, argv++;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            as_json = true;
            break;
        case 'n':
            counts = true;
            break;
        case 'h':
            checkpoint_usage(stdout);
            return 0;
        default:
            checkpoint_usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "streamrec checkpoint inspect: one PATH expected\n");
        return 2;
    }
    return inspect(argv[optind], as_json, counts);
}
