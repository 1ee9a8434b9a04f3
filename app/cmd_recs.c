/* app/cmd_recs.c - `streamrec recs USER`: one user's recommendations, read
 * from Redis with one GET, as a storefront would see them. */
#include "app/commands.h"
#include "core/err.h"
#include "core/time.h"
#include "serve/lookup.h"

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void recs_usage(FILE *f)
{
    fprintf(f, "usage: streamrec recs [options] USER\n\n"
               "Reads USER's recommendations from Redis (<redis.namespace>:rec:USER, one GET)\n"
               "and prints them as a table with the model version and their age.\n\n"
               "  --json      print the stored JSON value unchanged\n"
               "  -c FILE     configuration file (INI); [redis] says where Redis is\n"
               "  -o S.K=V    override one configuration key (repeatable), e.g.\n"
               "              -o redis.port=6380\n"
               "  -h, --help  this text\n\n"
               "Exit status: 0 printed, 1 no such key or Redis unreachable, 2 usage error.\n");
}

/* Prints the table; returns 0, or 1 when the value is not a list. */
static int print_table(const char *user, const char *raw)
{
    json_error_t jerr;
    json_t *o = json_loads(raw, 0, &jerr);
    json_t *items = json_object_get(o, "items"), *scores = json_object_get(o, "scores");
    if (!json_is_array(items) || !json_is_array(scores) ||
        json_array_size(items) != json_array_size(scores)) {
        fprintf(stderr,
                "streamrec: the value for user '%s' is not a recommendation list "
                "(--json prints it)\n",
                user);
        json_decref(o);
        return 1;
    }
    const char *version = json_string_value(json_object_get(o, "v"));
    json_t *t = json_object_get(o, "t");
    printf("user %s: %zu items, model %s", user, json_array_size(items),
           version ? version : "(unknown)");
    if (json_is_integer(t)) {
        double age = (double)(sr_now_ms() - (int64_t)json_integer_value(t)) / 1000.0;
        printf(", computed %.1f s ago", age < 0 ? 0 : age);
    }
    printf("\n%4s  %-32s %10s\n", "rank", "item", "score");
    for (size_t i = 0; i < json_array_size(items); i++) {
        const char *item = json_string_value(json_array_get(items, i));
        printf("%4zu  %-32s %10.4f\n", i + 1, item ? item : "?",
               json_number_value(json_array_get(scores, i)));
    }
    json_decref(o);
    return 0;
}

int cmd_recs(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    struct sr_config cfg;
    sr_config_defaults(&cfg);
    bool as_json = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'j':
            as_json = true;
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
            recs_usage(stdout);
            return 0;
        default:
            recs_usage(stderr);
            return 2;
        }
    }
    if (optind != argc - 1 || argv[optind][0] == '\0') {
        recs_usage(stderr);
        return 2;
    }
    if (app_config_finish(&cfg))
        return 1;
    const char *user = argv[optind];
    char *raw = NULL, err[512];
    int rc = lookup_get(&cfg.redis, PUB_REC, user, &raw, NULL, err, sizeof err);
    if (rc == SR_ENOENT) {
        fprintf(stderr,
                "streamrec: no recommendations for user '%s' (%s:rec:%s does not exist "
                "or has expired)\n",
                user, cfg.redis.namespace, user);
        return 1;
    }
    if (rc != 0) {
        fprintf(stderr, "streamrec: %s\n", err);
        return 1;
    }
    int status = 0;
    if (as_json)
        printf("%s\n", raw);
    else
        status = print_table(user, raw);
    free(raw);
    return status;
}
