/* app/cmd_config.c - `streamrec config`: dump the table, check a file. */
#include "app/commands.h"
#include "core/err.h"
#include "core/log.h"
#include "ingest/source.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

int app_config_add_file(struct sr_config *cfg, const char *path)
{
    char err[1024];
    if (sr_config_load_file(cfg, path, err, sizeof err) != 0) {
        fprintf(stderr, "streamrec: %s\n", err);
        return 1;
    }
    return 0;
}

int app_config_add_override(struct sr_config *cfg, const char *assignment)
{
    char err[1024];
    if (sr_config_override(cfg, assignment, err, sizeof err) != 0) {
        fprintf(stderr, "streamrec: %s\n", err);
        return 1;
    }
    return 0;
}

int app_config_finish(struct sr_config *cfg)
{
    char err[1024];
    if (sr_config_validate(cfg, err, sizeof err) != 0) {
        fprintf(stderr, "streamrec: %s\n", err);
        return 1;
    }
    sr_log_set_level((enum sr_log_level)cfg->log.level);
    if (cfg->log.debug[0] && sr_log_set_debug(cfg->log.debug) != 0) {
        fprintf(stderr,
                "streamrec: log.debug: invalid value '%s' (allowed: comma-separated of "
                "core,ingest,features,learner,kernels,serve,app or all)\n",
                cfg->log.debug);
        return 1;
    }
    return 0;
}

int app_steps_init(struct app_steps *s, int argc)
{
    s->n = 0;
    s->v = calloc((size_t)argc + 1, sizeof *s->v);
    s->owned = calloc((size_t)argc + 1, sizeof *s->owned);
    if (!s->v || !s->owned) {
        app_steps_free(s);
        return SR_ENOMEM;
    }
    return 0;
}

void app_steps_free(struct app_steps *s)
{
    free(s->v);
    free(s->owned);
    s->v = NULL;
    s->owned = NULL;
}

void app_steps_add(struct app_steps *s, char kind, const char *arg)
{
    s->v[s->n].kind = kind;
    s->v[s->n++].arg = arg;
}

void app_steps_set(struct app_steps *s, const char *key, const char *value)
{
    snprintf(s->owned[s->n], sizeof s->owned[s->n], "%s=%s", key, value);
    app_steps_add(s, 'o', s->owned[s->n]);
}

static int apply_steps(struct sr_config *cfg, const struct app_steps *s)
{
    for (size_t i = 0; i < s->n; i++) {
        int rc = s->v[i].kind == 'c' ? app_config_add_file(cfg, s->v[i].arg)
                                     : app_config_add_override(cfg, s->v[i].arg);
        if (rc)
            return rc;
    }
    return 0;
}

int app_config_build(struct sr_config *cfg, const struct app_steps *s, const char *who)
{
    /* Pass 1 finds the preset (and reports bad keys); pass 2 builds the
     * configuration on top of the preset's values. */
    sr_config_defaults(cfg);
    if (apply_steps(cfg, s))
        return 1;
    int preset = cfg->ingest.preset;
    char err[1024];
    sr_config_defaults(cfg);
    if (src_apply_preset(cfg, preset, err, sizeof err) != 0) {
        fprintf(stderr, "streamrec %s: %s\n", who, err);
        return 1;
    }
    if (apply_steps(cfg, s) || app_config_finish(cfg))
        return 1;
    return 0;
}

static void config_usage(FILE *f)
{
    fprintf(f, "usage: streamrec config --dump [-c FILE] [-o section.key=value ...]\n"
               "       streamrec config --check -c FILE [-o section.key=value ...]\n\n"
               "  --dump     print every key with its value, default, allowed values and meaning\n"
               "  --check    validate a configuration file and overrides; exit 1 on error\n"
               "  -c FILE    INI configuration file (one [section] per stage)\n"
               "  -o S.K=V   override one key (repeatable, applied in order)\n");
}

int cmd_config(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dump", no_argument, NULL, 'd'},
        {"check", no_argument, NULL, 'k'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    int dump = 0, check = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dump = 1;
            break;
        case 'k':
            check = 1;
            break;
        case 'c':
            if (app_config_add_file(&cfg, optarg))
                return 1;
            break;
        case 'o':
            if (app_config_add_override(&cfg, optarg))
                return 1;
            break;
        case 'h':
            config_usage(stdout);
            return 0;
        default:
            config_usage(stderr);
            return 2;
        }
    }
    if (!dump && !check) {
        config_usage(stderr);
        return 2;
    }
    if (app_config_finish(&cfg))
        return 1;
    if (dump)
        sr_config_dump(&cfg, stdout, true);
    else
        printf("configuration ok\n");
    return 0;
}
