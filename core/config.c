/* core/config.c - the configuration table and its parser (libinih). */
#include "core/config.h"
#include "core/err.h"
#include "core/time.h"

#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define F(field) offsetof(struct sr_config, field), sizeof(((struct sr_config *)0)->field)
#define NOLIM    0, 0
#define DAY_MS   86400000.0
#define YEAR_MS  (365.0 * DAY_MS)

/* clang-format off */
static const struct sr_cfg_key keys[] = {
    {"log", "level", SR_CFG_ENUM, F(log.level), "info", NOLIM, "error|warn|info|debug", false,
     "lowest level of log lines written to stderr"},
    {"log", "debug", SR_CFG_STRING, F(log.debug), "", NOLIM, NULL, false,
     "modules with debug lines: comma-separated of core,ingest,features,learner,kernels,serve,app or all"},

    {"ingest", "format", SR_CFG_ENUM, F(ingest.format), "auto", NOLIM, "auto|csv|jsonl|avro", false,
     "file format; auto decides by extension (.avro, .jsonl/.json, else CSV) and content. Kafka messages: auto detects the framing (Confluent, single-object, JSON), jsonl accepts only JSON, avro only the two Avro framings"},
    {"ingest", "preset", SR_CFG_ENUM, F(ingest.preset), "none", NOLIM,
     "none|taobao|yoochoose|diginetica|movielens", false,
     "column mapping and type weights of a known dataset (sets sort=true)"},
    {"ingest", "delimiter", SR_CFG_STRING, F(ingest.delimiter), ",", NOLIM, NULL, false,
     "CSV field separator: one character, or 'tab'"},
    {"ingest", "header", SR_CFG_ENUM, F(ingest.header), "auto", NOLIM, "auto|true|false", false,
     "the first CSV line is a header; auto: it is one when it names user_id and item_id, and then it maps the columns (ts in ms)"},
    {"ingest", "columns", SR_CFG_STRING, F(ingest.columns), "user=0,item=1,type=2,ts=3", NOLIM, NULL,
     false,
     "CSV column mapping, name=index (0-based); names: user,item,type,ts,event_id,session,price,quantity,rating,category,ts_offset (ms added to ts)"},
    {"ingest", "ts_unit", SR_CFG_ENUM, F(ingest.ts_unit), "s", NOLIM, "s|ms|us", false,
     "unit of the CSV ts column (fractions allowed; ISO dates and datetimes are also read)"},
    {"ingest", "type_map", SR_CFG_STRING, F(ingest.type_map), "", NOLIM, NULL, false,
     "extra type names, name=TYPE pairs (pv=VIEW,buy=PURCHASE); canonical names always work"},
    {"ingest", "default_type", SR_CFG_ENUM, F(ingest.default_type), "CLICK", NOLIM,
     "VIEW|CLICK|ADD_TO_CART|FAVORITE|PURCHASE", false, "event type when the input has no type column"},
    {"ingest", "sort", SR_CFG_BOOL, F(ingest.sort), "false", NOLIM, NULL, false,
     "stable-sort a file by event time before replay (needed when it is not time-ordered)"},
    {"ingest", "max_bad_reported", SR_CFG_INT, F(ingest.max_bad_reported), "5", 0, 1e6, NULL, false,
     "bad input lines reported in full; the rest are only counted by reason"},
    {"ingest", "schema_dir", SR_CFG_STRING, F(ingest.schema_dir), "", NOLIM, NULL, false,
     "directory of writer schemas of Kafka messages: <id>.avsc is Confluent schema id <id>, and each is also known by its fingerprint (single-object encoding); empty = only the canonical schema"},
    {"ingest", "schema_id", SR_CFG_INT, F(ingest.schema_id), "1", 0, 2147483647, NULL, false,
     "Confluent schema id of the canonical event schema (always known; what produce writes)"},
    {"ingest", "max_message_bytes", SR_CFG_INT, F(ingest.max_message_bytes), "1048576", 64, 1e9,
     NULL, false, "Kafka messages longer than this are rejected (reason oversized)"},

    {"movielens", "positive_rating", SR_CFG_DOUBLE, F(movielens.positive_rating), "4.0", 0, 5, NULL,
     false, "MovieLens ratings at or above this are positives; lower ones are VIEW (seen only)"},

    {"features", "max_id_len", SR_CFG_INT, F(features.max_id_len), "128", 1, 128, NULL, false,
     "longest accepted user or item id, bytes"},
    {"features", "min_ts_ms", SR_CFG_INT, F(features.min_ts_ms), "1", 0, 9e15, NULL, false,
     "events with an earlier time (Unix ms) are invalid"},
    {"features", "max_ts_ms", SR_CFG_INT, F(features.max_ts_ms), "4102444800000", 0, 9e15, NULL,
     false, "events with a later time (Unix ms) are invalid (default 2100-01-01)"},
    {"features", "dedup_window", SR_CFG_DURATION, F(features.dedup_window_ms), "60s", 0, YEAR_MS,
     NULL, false,
     "an event repeating an earlier one (same event_id, or same user, item, type and time) within this window is dropped; 0 = off"},
    {"features", "dedup_capacity", SR_CFG_INT, F(features.dedup_capacity), "1048576", 1024, 1e9,
     NULL, false, "how many recent events the de-duplication remembers"},
    {"features", "bot_max_events", SR_CFG_INT, F(features.bot_max_events), "300", 0, 1e9, NULL,
     false, "a user with more events than this within bot_window is a bot and dropped; 0 = off"},
    {"features", "bot_window", SR_CFG_DURATION, F(features.bot_window_ms), "60s", 1000, DAY_MS,
     NULL, false, "window of the bot rate limit"},
    {"features", "allowed_lateness", SR_CFG_DURATION, F(features.allowed_lateness_ms), "1h", 0,
     YEAR_MS * 100, NULL, false,
     "events older than the watermark (latest event time) minus this are late: counted, not applied"},
    {"features", "session_gap", SR_CFG_DURATION, F(features.session_gap_ms), "30m", 1000,
     YEAR_MS, NULL, false, "inactivity that ends a user's session"},
    {"features", "pop_windows", SR_CFG_STRING, F(features.pop_windows), "1h,24h", NOLIM, NULL,
     false, "popularity windows kept (decayed counts, half-life = window), comma-separated"},
    {"features", "covis_window", SR_CFG_DURATION, F(features.covis_window_ms), "1h", 1000,
     YEAR_MS, NULL, false,
     "a user's items closer in time than this (or in one session) are co-visited"},
    {"features", "covis_recent", SR_CFG_INT, F(features.covis_recent), "5", 1, 64, NULL, false,
     "a user's most recent items paired with each new positive item"},
    {"features", "covis_topn", SR_CFG_INT, F(features.covis_topn), "20", 1, 256, NULL, false,
     "neighbours kept per item"},
    {"features", "covis_half_life", SR_CFG_DURATION, F(features.covis_half_life_ms), "7d", 60000,
     YEAR_MS * 100, NULL, false, "half-life of co-visitation scores"},
    {"features", "weight.view", SR_CFG_DOUBLE, F(features.weight[0]), "1", 0, 100, NULL, false,
     "learning weight of VIEW events; 0 = not a positive, marks the item seen only"},
    {"features", "weight.click", SR_CFG_DOUBLE, F(features.weight[1]), "1", 0, 100, NULL, false,
     "learning weight of CLICK events"},
    {"features", "weight.add_to_cart", SR_CFG_DOUBLE, F(features.weight[2]), "2", 0, 100, NULL,
     false, "learning weight of ADD_TO_CART events"},
    {"features", "weight.favorite", SR_CFG_DOUBLE, F(features.weight[3]), "2", 0, 100, NULL, false,
     "learning weight of FAVORITE events"},
    {"features", "weight.purchase", SR_CFG_DOUBLE, F(features.weight[4]), "3", 0, 100, NULL, false,
     "learning weight of PURCHASE events"},
    {"features", "user_ttl", SR_CFG_DURATION, F(features.user_ttl_ms), "0", 0, 10 * YEAR_MS, NULL,
     false,
     "users idle longer than this (by event time) are evicted: their next event starts them fresh and their id may be reused for a new user; 0 = never"},
    {"features", "item_min_events", SR_CFG_INT, F(features.item_min_events), "1", 1, 1e9, NULL,
     false,
     "events an item needs (that one included) before the MF model learns from its events; earlier ones still feed popularity, co-visitation and histories (1 = at once)"},

    {"learner", "k", SR_CFG_INT, F(learner.k), "32", 1, 512, NULL, false,
     "latent factors per user and item"},
    {"learner", "loss", SR_CFG_ENUM, F(learner.loss), "bpr", NOLIM, "bpr|logistic", false,
     "pairwise BPR or pointwise logistic loss"},
    {"learner", "negatives", SR_CFG_INT, F(learner.negatives), "4", 1, 256, NULL, false,
     "sampled negative items per positive event"},
    {"learner", "lr", SR_CFG_DOUBLE, F(learner.lr), "0.1", 1e-6, 10, NULL, false,
     "base step size"},
    {"learner", "reg", SR_CFG_DOUBLE, F(learner.reg), "0.01", 0, 10, NULL, false,
     "L2 regularisation"},
    {"learner", "init_std", SR_CFG_DOUBLE, F(learner.init_std), "0.1", 0, 10, NULL, false,
     "scale of the deterministic initial factors"},
    {"learner", "neg_pop_mix", SR_CFG_DOUBLE, F(learner.neg_pop_mix), "0.5", 0, 1, NULL, false,
     "share of negatives drawn in proportion to recent popularity (the rest uniformly)"},
    {"learner", "adagrad", SR_CFG_BOOL, F(learner.adagrad), "true", NOLIM, NULL, false,
     "AdaGrad-style per-row step sizes"},
    {"learner", "item_bias", SR_CFG_BOOL, F(learner.item_bias), "false", NOLIM, NULL, false,
     "learn a bias per item, so scores are p.q + b and an unknown user still gets a ranking"},
    {"learner", "seed", SR_CFG_INT, F(learner.seed), "42", 0, 9e15, NULL, false,
     "seed of every random choice (same input, config and seed give the same model)"},
    {"learner", "max_users", SR_CFG_INT, F(features.max_users), "0", 0, 4e9, NULL, false,
     "users held at most (model rows, features, histories); a new user at the cap evicts the least recently active one (approximate LRU) and reuses its id; 0 = unlimited"},
    {"learner", "max_items", SR_CFG_INT, F(features.max_items), "0", 0, 4e9, NULL, false,
     "items held at most; at the cap events of new items are skipped (counted as item_cap), known items go on; 0 = unlimited"},

    {"eval", "enabled", SR_CFG_BOOL, F(eval.enabled), "true", NOLIM, NULL, false,
     "prequential evaluation (test, then train) in replay"},
    {"eval", "warmup", SR_CFG_DOUBLE, F(eval.warmup), "0", 0, 1, NULL, false,
     "leading fraction of the stream that is learned but not scored"},
    {"eval", "sample", SR_CFG_DOUBLE, F(eval.sample), "1", 0, 1, NULL, false,
     "fraction of positive events scored (chosen by event position: the same events whatever the seed)"},
    {"eval", "pop_window", SR_CFG_STRING, F(eval.pop_window), "24h", NOLIM, NULL, false,
     "which features.pop_windows entry the popularity baseline ranks by"},
    {"eval", "covis_recent", SR_CFG_INT, F(eval.covis_recent), "5", 1, 64, NULL, false,
     "a user's recent items whose neighbours the covis baseline recommends"},

    {"serve", "top_k", SR_CFG_INT, F(serve.top_k), "20", 1, 1000, NULL, false,
     "length of a recommendation list"},
    {"serve", "exclude_purchased", SR_CFG_BOOL, F(serve.exclude_purchased), "true", NOLIM, NULL,
     false, "never recommend an item the user bought"},
    {"serve", "exclude_seen", SR_CFG_BOOL, F(serve.exclude_seen), "true", NOLIM, NULL, false,
     "leave out every item the user interacted with"},
    {"serve", "fallback_min_events", SR_CFG_INT, F(serve.fallback_min_events), "1", 0, 1e6, NULL,
     false, "users with fewer positive events get the popularity list instead of MF"},

    {"redis", "host", SR_CFG_STRING, F(redis.host), "127.0.0.1", NOLIM, NULL, false,
     "Redis server name or address"},
    {"redis", "port", SR_CFG_INT, F(redis.port), "6379", 1, 65535, NULL, false,
     "Redis TCP port"},
    {"redis", "user", SR_CFG_STRING, F(redis.user), "", NOLIM, NULL, false,
     "Redis ACL user (AUTH user password); empty: AUTH with the password alone"},
    {"redis", "password", SR_CFG_STRING, F(redis.password), "", NOLIM, NULL, true,
     "Redis password; empty: no AUTH. Never written to logs, dumps or reports"},
    {"redis", "db", SR_CFG_INT, F(redis.db), "0", 0, 1000, NULL, false,
     "Redis database number (SELECT)"},
    {"redis", "namespace", SR_CFG_STRING, F(redis.namespace), "streamrec", NOLIM, NULL, false,
     "key prefix: <namespace>:rec:<user>, :sim:<item>, :trending:<window>, :model"},
    {"redis", "ttl", SR_CFG_DURATION, F(redis.ttl_ms), "7d", 0, YEAR_MS, NULL, false,
     "expiry of rec and sim keys (whole seconds, rounded up); 0 = none; trending and model keys never expire"},
    {"redis", "connect_timeout", SR_CFG_DURATION, F(redis.connect_timeout_ms), "2s", 10, 60000,
     NULL, false, "time allowed to connect and authenticate"},
    {"redis", "timeout", SR_CFG_DURATION, F(redis.timeout_ms), "5s", 10, 600000, NULL, false,
     "time allowed for one pipelined batch of writes (or one read) before the connection is dropped"},
    {"redis", "backoff_min", SR_CFG_DURATION, F(redis.backoff_min_ms), "100ms", 1, 60000, NULL,
     false, "first delay before reconnecting to an unreachable Redis"},
    {"redis", "backoff_max", SR_CFG_DURATION, F(redis.backoff_max_ms), "5s", 1, 600000, NULL,
     false, "reconnect delays double up to this"},

    {"publish", "interval_ms", SR_CFG_INT, F(publish.interval_ms), "100", 0, 60000, NULL,
     false, "debounce, milliseconds: dirty keys are written at most this often (a key offered many times in between is written once, newest value)"},
    {"publish", "batch", SR_CFG_INT, F(publish.batch), "512", 1, 100000, NULL, false,
     "SET commands per pipelined round trip"},
    {"publish", "max_pending", SR_CFG_INT, F(publish.max_pending), "1000000", 16, 1e9, NULL,
     false, "most distinct keys waiting to be written (memory bound while Redis is down); offers of new keys beyond it are dropped and counted"},

    {"source", "topics", SR_CFG_STRING, F(source.topics), "events", NOLIM, NULL, false,
     "Kafka topics `run` consumes, comma-separated (consumer group: kafka.group.id, default streamrec)"},
    {"source", "dlq_topic", SR_CFG_STRING, F(source.dlq_topic), "streamrec.dlq", NOLIM, NULL, false,
     "dead-letter topic: messages that cannot be decoded or fail validation, original key, value and headers plus streamrec.error* headers"},
    {"source", "commit_interval", SR_CFG_DURATION, F(source.commit_interval_ms), "1s", 10, 3600000,
     NULL, false, "consumer-group offsets of applied events are committed at most this often (after the DLQ producer is flushed) and at shutdown"},

    {"run", "eval_sample", SR_CFG_DOUBLE, F(run.eval_sample), "0.01", 0, 1, NULL, false,
     "fraction of positive events the daemon scores online (prequential HR@20 of served, popularity and covis) before learning them; 0 = off"},
    {"run", "score_batch", SR_CFG_INT, F(run.score_batch), "256", 1, 4096, NULL, false,
     "dirty users scored per sgemm (scratch is score_batch x catalogue floats)"},
    {"run", "trending_interval", SR_CFG_DURATION, F(run.trending_interval_ms), "1s", 10, 3600000,
     NULL, false, "trending lists (<namespace>:trending:<window>) are written at most this often"},
    {"run", "sim_interval", SR_CFG_DURATION, F(run.sim_interval_ms), "5s", 10, 3600000, NULL,
     false, "similar-item lists (<namespace>:sim:<item>) of items whose neighbours changed are written at most this often"},
    {"run", "sim_batch", SR_CFG_INT, F(run.sim_batch), "2000", 1, 1e7, NULL, false,
     "most similar-item lists written per sim_interval (the rest wait for the next round)"},

    {"state", "dir", SR_CFG_STRING, F(state.dir), "", NOLIM, NULL, false,
     "directory of checkpoints (model, features and the next offset of every partition); empty = none: a restarted daemon starts with a fresh model after the committed offsets"},
    {"state", "checkpoint_interval_s", SR_CFG_INT, F(state.checkpoint_interval_s), "60", 0, 86400, NULL, false,
     "a checkpoint at least this often, in seconds (0 = not by time); also at shutdown"},
    {"state", "checkpoint_events", SR_CFG_INT, F(state.checkpoint_events), "1000000", 0, 1e12, NULL, false,
     "a checkpoint after this many messages since the last one (0 = not by count)"},
    {"state", "keep", SR_CFG_INT, F(state.keep), "3", 1, 1000, NULL, false,
     "checkpoints kept in state.dir (older ones are removed after a new one is written)"},

    {"metrics", "topic", SR_CFG_STRING, F(metrics.topic), "streamrec.metrics", NOLIM, NULL, false,
     "topic that streamrec run writes one JSON record per interval to (docs/metrics.md)"},
    {"metrics", "interval", SR_CFG_DURATION, F(metrics.interval_ms), "10s", 100, DAY_MS, NULL,
     false, "time between two metrics records"},
    {"metrics", "instance", SR_CFG_STRING, F(metrics.instance), "", NOLIM, NULL, false,
     "this instance's id in metrics records; empty = host:pid"},
};
/* clang-format on */

#define N_KEYS (sizeof keys / sizeof keys[0])

/* Sections whose keys are not in the table but passed on unchanged. */
static const char *const pass_sections[] = {"kafka"};

const struct sr_cfg_key *sr_config_keys(size_t *n)
{
    *n = N_KEYS;
    return keys;
}

const struct sr_cfg_key *sr_config_find(const char *section, const char *key)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].section, section) == 0 && strcmp(keys[i].key, key) == 0)
            return &keys[i];
    return NULL;
}

static bool is_pass_section(const char *section)
{
    for (size_t i = 0; i < sizeof pass_sections / sizeof pass_sections[0]; i++)
        if (strcmp(section, pass_sections[i]) == 0)
            return true;
    return false;
}

static bool known_section(const char *section)
{
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].section, section) == 0)
            return true;
    return is_pass_section(section);
}

/* "a, b, c" of the keys of a section, or of the sections. */
static void list_allowed(const char *section, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < N_KEYS; i++) {
        const char *name = section ? keys[i].key : keys[i].section;
        if (section && strcmp(keys[i].section, section) != 0)
            continue;
        if (!section && i > 0 && strcmp(keys[i - 1].section, keys[i].section) == 0)
            continue;
        int w = snprintf(buf + used, len - used, "%s%s", used ? ", " : "", name);
        if (w < 0 || (size_t)w >= len - used)
            break;
        used += (size_t)w;
    }
    if (!section)
        for (size_t i = 0; i < sizeof pass_sections / sizeof pass_sections[0]; i++) {
            int w = snprintf(buf + used, len - used, ", %s", pass_sections[i]);
            if (w < 0 || (size_t)w >= len - used)
                break;
            used += (size_t)w;
        }
}

static int enum_index(const char *values, const char *v)
{
    int idx = 0;
    const char *p = values;
    size_t vl = strlen(v);
    while (*p) {
        size_t n = strcspn(p, "|");
        if (n == vl && strncasecmp(p, v, n) == 0)
            return idx;
        p += n;
        if (*p == '|')
            p++;
        idx++;
    }
    return -1;
}

static void enum_name(const char *values, int idx, char *buf, size_t len)
{
    const char *p = values;
    for (int i = 0; *p; i++) {
        size_t n = strcspn(p, "|");
        if (i == idx) {
            snprintf(buf, len, "%.*s", (int)n, p);
            return;
        }
        p += n;
        if (*p == '|')
            p++;
    }
    snprintf(buf, len, "%d", idx);
}

static void range_text(const struct sr_cfg_key *k, char *buf, size_t len)
{
    if (k->type == SR_CFG_DURATION) {
        char a[32], b[32];
        sr_format_duration((int64_t)k->min, a, sizeof a);
        sr_format_duration((int64_t)k->max, b, sizeof b);
        snprintf(buf, len, "a duration from %s to %s (e.g. 250ms, 30s, 5m, 1h, 7d)", a, b);
    } else if (k->type == SR_CFG_INT) {
        snprintf(buf, len, "an integer from %.0f to %.0f", k->min, k->max);
    } else if (k->type == SR_CFG_DOUBLE) {
        snprintf(buf, len, "a number from %g to %g", k->min, k->max);
    } else if (k->type == SR_CFG_BOOL) {
        snprintf(buf, len, "true or false");
    } else if (k->type == SR_CFG_ENUM) {
        snprintf(buf, len, "one of %s", k->values);
    } else {
        snprintf(buf, len, "text of at most %zu bytes", k->size - 1);
    }
}

static int bad_value(const struct sr_cfg_key *k, const char *value, char *errbuf, size_t errlen)
{
    char allowed[256];
    range_text(k, allowed, sizeof allowed);
    return sr_seterr(errbuf, errlen, SR_ECONFIG, "%s.%s: invalid value '%s' (allowed: %s)",
                     k->section, k->key, k->secret ? "***" : value, allowed);
}

static int parse_bool(const char *v, bool *out)
{
    if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on") ||
        !strcmp(v, "1")) {
        *out = true;
        return 0;
    }
    if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off") ||
        !strcmp(v, "0")) {
        *out = false;
        return 0;
    }
    return -1;
}

static int set_row(struct sr_config *cfg, const struct sr_cfg_key *k, const char *value,
                   char *errbuf, size_t errlen)
{
    void *field = (char *)cfg + k->offset;
    char *end;
    switch (k->type) {
    case SR_CFG_INT: {
        errno = 0;
        long long v = strtoll(value, &end, 10);
        if (end == value || *end || errno || (double)v < k->min || (double)v > k->max)
            return bad_value(k, value, errbuf, errlen);
        *(int64_t *)field = v;
        return 0;
    }
    case SR_CFG_DOUBLE: {
        errno = 0;
        double v = strtod(value, &end);
        if (end == value || *end || errno || !isfinite(v) || v < k->min || v > k->max)
            return bad_value(k, value, errbuf, errlen);
        *(double *)field = v;
        return 0;
    }
    case SR_CFG_DURATION: {
        int64_t ms;
        if (sr_parse_duration_ms(value, &ms) != 0 || (double)ms < k->min || (double)ms > k->max)
            return bad_value(k, value, errbuf, errlen);
        *(int64_t *)field = ms;
        return 0;
    }
    case SR_CFG_BOOL:
        if (parse_bool(value, (bool *)field) != 0)
            return bad_value(k, value, errbuf, errlen);
        return 0;
    case SR_CFG_ENUM: {
        int idx = enum_index(k->values, value);
        if (idx < 0)
            return bad_value(k, value, errbuf, errlen);
        *(int *)field = idx;
        return 0;
    }
    case SR_CFG_STRING:
        if (strlen(value) >= k->size)
            return bad_value(k, value, errbuf, errlen);
        memcpy(field, value, strlen(value) + 1);
        return 0;
    }
    return SR_ECONFIG;
}

void sr_config_defaults(struct sr_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < N_KEYS; i++) {
        int rc = set_row(cfg, &keys[i], keys[i].def, NULL, 0);
        (void)rc; /* the table's own defaults are tested to parse */
    }
}

int sr_config_set(struct sr_config *cfg, const char *section, const char *key, const char *value,
                  char *errbuf, size_t errlen)
{
    if (is_pass_section(section)) {
        size_t i;
        for (i = 0; i < cfg->n_kafka; i++)
            if (strcmp(cfg->kafka[i].key, key) == 0)
                break;
        if (i == SR_CFG_PASS_MAX)
            return sr_seterr(errbuf, errlen, SR_ECONFIG, "[%s]: more than %d keys", section,
                             SR_CFG_PASS_MAX);
        if (strlen(key) >= sizeof cfg->kafka[i].key || strlen(value) >= sizeof cfg->kafka[i].value)
            return sr_seterr(errbuf, errlen, SR_ECONFIG, "%s.%s: key or value too long", section,
                             key);
        snprintf(cfg->kafka[i].key, sizeof cfg->kafka[i].key, "%s", key);
        snprintf(cfg->kafka[i].value, sizeof cfg->kafka[i].value, "%s", value);
        if (i == cfg->n_kafka)
            cfg->n_kafka++;
        return 0;
    }
    const struct sr_cfg_key *k = sr_config_find(section, key);
    if (!k) {
        char allowed[1024];
        if (!known_section(section)) {
            list_allowed(NULL, allowed, sizeof allowed);
            return sr_seterr(errbuf, errlen, SR_ECONFIG,
                             "unknown section [%s] (key '%s'); sections: %s", section, key,
                             allowed);
        }
        list_allowed(section, allowed, sizeof allowed);
        return sr_seterr(errbuf, errlen, SR_ECONFIG, "unknown key '%s.%s' (keys of [%s]: %s)",
                         section, key, section, allowed);
    }
    return set_row(cfg, k, value, errbuf, errlen);
}

int sr_config_override(struct sr_config *cfg, const char *assignment, char *errbuf, size_t errlen)
{
    const char *dot = strchr(assignment, '.');
    const char *eq = strchr(assignment, '=');
    if (!dot || !eq || dot > eq || dot == assignment)
        return sr_seterr(errbuf, errlen, SR_ECONFIG,
                         "override '%s' is not of the form section.key=value", assignment);
    char section[64], key[128];
    size_t sl = (size_t)(dot - assignment), kl = (size_t)(eq - dot - 1);
    if (sl >= sizeof section || kl >= sizeof key || kl == 0)
        return sr_seterr(errbuf, errlen, SR_ECONFIG, "override '%s': section or key too long",
                         assignment);
    memcpy(section, assignment, sl);
    section[sl] = '\0';
    memcpy(key, dot + 1, kl);
    key[kl] = '\0';
    return sr_config_set(cfg, section, key, eq + 1, errbuf, errlen);
}

struct ini_ctx {
    struct sr_config *cfg;
    const char *path;
    int rc;
    char msg[1024];
};

/* inih reports the line of the first handler failure as its return value. */
static int on_ini_pair(void *user, const char *section, const char *name, const char *value)
{
    struct ini_ctx *c = user;
    if (c->rc)
        return 1; /* keep only the first error */
    int rc = sr_config_set(c->cfg, section, name, value, c->msg, sizeof c->msg);
    if (rc) {
        c->rc = rc;
        return 0;
    }
    return 1;
}

int sr_config_load_file(struct sr_config *cfg, const char *path, char *errbuf, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return sr_seterr(errbuf, errlen, SR_ENOENT, "cannot open config file %s: %s", path,
                         strerror(errno));
    struct ini_ctx c = {.cfg = cfg, .path = path};
    int line = ini_parse_file(f, on_ini_pair, &c);
    fclose(f);
    if (c.rc)
        return sr_seterr(errbuf, errlen, c.rc, "%s:%d: %s", path, line, c.msg);
    if (line != 0)
        return sr_seterr(errbuf, errlen, SR_ECONFIG,
                         "%s:%d: syntax error (expected [section] or key = value)", path, line);
    return 0;
}

int sr_config_validate(const struct sr_config *cfg, char *errbuf, size_t errlen)
{
    /* eval.pop_window must name one of features.pop_windows. */
    const char *p = cfg->features.pop_windows;
    int64_t want;
    if (sr_parse_duration_ms(cfg->eval.pop_window, &want) != 0)
        return sr_seterr(
            errbuf, errlen, SR_ECONFIG,
            "eval.pop_window: invalid value '%s' (allowed: one of features.pop_windows: %s)",
            cfg->eval.pop_window, cfg->features.pop_windows);
    bool found = false;
    int n = 0;
    while (*p) {
        char item[32];
        size_t len = strcspn(p, ",");
        int64_t ms;
        if (len == 0 || len >= sizeof item)
            return sr_seterr(errbuf, errlen, SR_ECONFIG,
                             "features.pop_windows: invalid value '%s' (allowed: comma-separated "
                             "durations such as 1h,24h)",
                             cfg->features.pop_windows);
        memcpy(item, p, len);
        item[len] = '\0';
        if (sr_parse_duration_ms(item, &ms) != 0 || ms <= 0)
            return sr_seterr(
                errbuf, errlen, SR_ECONFIG,
                "features.pop_windows: invalid window '%s' (allowed: durations such as 1h,24h)",
                item);
        if (ms == want)
            found = true;
        n++;
        p += len;
        if (*p == ',')
            p++;
    }
    if (n == 0 || n > 8)
        return sr_seterr(errbuf, errlen, SR_ECONFIG,
                         "features.pop_windows: between 1 and 8 windows allowed, got %d", n);
    if (!found)
        return sr_seterr(errbuf, errlen, SR_ECONFIG,
                         "eval.pop_window: '%s' is not one of features.pop_windows (%s)",
                         cfg->eval.pop_window, cfg->features.pop_windows);
    if (cfg->redis.backoff_min_ms > cfg->redis.backoff_max_ms)
        return sr_seterr(errbuf, errlen, SR_ECONFIG,
                         "redis.backoff_min (%lld ms) is larger than redis.backoff_max (%lld ms)",
                         (long long)cfg->redis.backoff_min_ms,
                         (long long)cfg->redis.backoff_max_ms);
    if (cfg->redis.namespace[0] == '\0' || cfg->redis.host[0] == '\0')
        return sr_seterr(errbuf, errlen, SR_ECONFIG, "redis.%s: must not be empty",
                         cfg->redis.host[0] ? "namespace" : "host");
    if (cfg->source.topics[0] == '\0' || cfg->source.dlq_topic[0] == '\0')
        return sr_seterr(errbuf, errlen, SR_ECONFIG, "source.%s: must not be empty",
                         cfg->source.topics[0] ? "dlq_topic" : "topics");
    if (cfg->ingest.delimiter[0] == '\0' ||
        (strlen(cfg->ingest.delimiter) > 1 && strcmp(cfg->ingest.delimiter, "tab") != 0 &&
         strcmp(cfg->ingest.delimiter, "\\t") != 0))
        return sr_seterr(errbuf, errlen, SR_ECONFIG,
                         "ingest.delimiter: invalid value '%s' (allowed: one character, or 'tab')",
                         cfg->ingest.delimiter);
    return 0;
}

void sr_config_format(const struct sr_config *cfg, const struct sr_cfg_key *k, char *buf,
                      size_t len)
{
    const void *field = (const char *)cfg + k->offset;
    if (k->secret) {
        snprintf(buf, len, "***");
        return;
    }
    switch (k->type) {
    case SR_CFG_INT:
        snprintf(buf, len, "%lld", (long long)*(const int64_t *)field);
        break;
    case SR_CFG_DOUBLE: {
        /* The shortest text that reads back as the same double. */
        double v = *(const double *)field;
        for (int prec = 6; prec <= 17; prec++) {
            snprintf(buf, len, "%.*g", prec, v);
            if (strtod(buf, NULL) == v)
                break;
        }
        break;
    }
    case SR_CFG_DURATION:
        sr_format_duration(*(const int64_t *)field, buf, (unsigned)len);
        break;
    case SR_CFG_BOOL:
        snprintf(buf, len, "%s", *(const bool *)field ? "true" : "false");
        break;
    case SR_CFG_ENUM:
        enum_name(k->values, *(const int *)field, buf, len);
        break;
    case SR_CFG_STRING:
        snprintf(buf, len, "%s", (const char *)field);
        break;
    }
}

void sr_config_dump(const struct sr_config *cfg, void *file, bool with_docs)
{
    FILE *f = file;
    const char *section = "";
    for (size_t i = 0; i < N_KEYS; i++) {
        const struct sr_cfg_key *k = &keys[i];
        if (strcmp(section, k->section) != 0) {
            fprintf(f, "%s[%s]\n", i ? "\n" : "", k->section);
            section = k->section;
        }
        char val[SR_CFG_STR_MAX + 16], allowed[256];
        sr_config_format(cfg, k, val, sizeof val);
        if (with_docs) {
            range_text(k, allowed, sizeof allowed);
            fprintf(f, "# %s\n#   %s; default: %s\n", k->desc, allowed,
                    k->def[0] ? k->def : "(empty)");
        }
        fprintf(f, "%s = %s\n", k->key, val);
    }
    fprintf(f, "\n[kafka]\n");
    if (with_docs)
        fprintf(f, "# every key here is passed to librdkafka unchanged (bootstrap.servers, ...)\n");
    for (size_t i = 0; i < cfg->n_kafka; i++) {
        bool secret = strstr(cfg->kafka[i].key, "password") || strstr(cfg->kafka[i].key, "secret");
        fprintf(f, "%s = %s\n", cfg->kafka[i].key, secret ? "***" : cfg->kafka[i].value);
    }
}
