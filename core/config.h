/* core/config.h - the one configuration table.
 *
 * Every setting of every stage is a row of one table (core/config.c) that
 * knows its section, key, type, range or allowed values, default and
 * description. The same table parses INI files (libinih), applies
 * `-o section.key=value` overrides, validates, dumps (`streamrec config
 * --dump`) and writes the effective values into reports. Stages receive
 * their plain sub-struct (e.g. `const struct sr_learner_cfg *`) and never
 * read the environment or files themselves.
 *
 * Adding a key: add the field to its section's struct here and one row to
 * the table in core/config.c; nothing else. */
#ifndef SR_CONFIG_H
#define SR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SR_CFG_STR_MAX  256
#define SR_CFG_PASS_MAX 64 /* pass-through keys ([kafka]) */

enum sr_ingest_format { SR_FMT_AUTO = 0, SR_FMT_CSV, SR_FMT_JSONL, SR_FMT_AVRO };
enum sr_preset {
    SR_PRESET_NONE = 0,
    SR_PRESET_TAOBAO,
    SR_PRESET_YOOCHOOSE,
    SR_PRESET_DIGINETICA,
    SR_PRESET_MOVIELENS
};
enum sr_header { SR_HEADER_AUTO = 0, SR_HEADER_TRUE, SR_HEADER_FALSE };
enum sr_ts_unit { SR_TS_S = 0, SR_TS_MS, SR_TS_US };
enum sr_loss { SR_LOSS_BPR = 0, SR_LOSS_LOGISTIC };

struct sr_log_cfg {
    int level;                  /* enum sr_log_level */
    char debug[SR_CFG_STR_MAX]; /* comma-separated modules with debug lines */
};

struct sr_ingest_cfg {
    int format;                      /* enum sr_ingest_format */
    int preset;                      /* enum sr_preset */
    char delimiter[8];               /* one character; "tab" and "\t" accepted */
    int header;                      /* enum sr_header: first line is a header */
    char columns[SR_CFG_STR_MAX];    /* "user=0,item=1,type=3,ts=4" */
    int ts_unit;                     /* enum sr_ts_unit */
    char type_map[SR_CFG_STR_MAX];   /* "pv=VIEW,buy=PURCHASE" */
    int default_type;                /* enum sr_event_type, when no type column */
    bool sort;                       /* stable sort by event time before replay */
    int64_t max_bad_reported;        /* bad lines reported in full */
    char schema_dir[SR_CFG_STR_MAX]; /* <id>.avsc writer schemas of Kafka messages; "" = none */
    int64_t schema_id;               /* Confluent schema id of the canonical schema */
    int64_t max_message_bytes;       /* longer Kafka messages are rejected (oversized) */
};

struct sr_movielens_cfg {
    double positive_rating; /* ratings >= this are positives */
};

struct sr_features_cfg {
    int64_t max_id_len;               /* user/item id bytes, 1..128 */
    int64_t min_ts_ms;                /* events before this are invalid */
    int64_t max_ts_ms;                /* events after this are invalid */
    int64_t dedup_window_ms;          /* exact repeats within this window are dropped; 0 = off */
    int64_t dedup_capacity;           /* event ids / repeat keys remembered */
    int64_t bot_max_events;           /* more than this many events ... ; 0 = off */
    int64_t bot_window_ms;            /* ... within this window marks a user as a bot */
    int64_t allowed_lateness_ms;      /* events older than watermark - this are late */
    int64_t session_gap_ms;           /* inactivity that ends a session */
    char pop_windows[SR_CFG_STR_MAX]; /* popularity windows, "1h,24h" */
    int64_t covis_window_ms;          /* items this close in time (same user) are co-visited */
    int64_t covis_recent;             /* a user's recent items paired with each new one */
    int64_t covis_topn;               /* neighbours kept per item */
    int64_t covis_half_life_ms;       /* decay of co-visitation scores */
    double weight[5];                 /* per enum sr_event_type; 0 = not a positive */
    int64_t user_ttl_ms;              /* users idle longer (event time) are evicted; 0 = off */
    int64_t item_min_events;          /* events before an item's MF vector learns (1 = at once) */
    /* Keys learner.max_users / learner.max_items (caps of the model), kept
     * here because the feature stage hands out the dense ids they cap. */
    int64_t max_users; /* live users; at the cap the least recently active is evicted; 0 = none */
    int64_t max_items; /* items; at the cap events of new items are skipped; 0 = none */
};

struct sr_learner_cfg {
    int64_t k;          /* latent factors */
    int loss;           /* enum sr_loss */
    int64_t negatives;  /* sampled negatives per positive */
    double lr;          /* base step size */
    double reg;         /* L2 */
    double init_std;    /* initial factor scale */
    double neg_pop_mix; /* share of negatives drawn by popularity (rest uniform) */
    bool adagrad;       /* per-row AdaGrad step sizes */
    bool item_bias;     /* learn a bias per item (scores p.q + b) */
    int64_t seed;       /* RNG seed */
};

struct sr_eval_cfg {
    bool enabled;         /* prequential evaluation in replay */
    double warmup;        /* leading fraction learned but not scored */
    double sample;        /* fraction of positive events scored */
    char pop_window[16];  /* which features.pop_windows entry `popularity` uses */
    int64_t covis_recent; /* user's recent items the covis baseline expands */
};

struct sr_serve_cfg {
    int64_t top_k;               /* list length written/served */
    bool exclude_purchased;      /* never recommend what the user bought */
    bool exclude_seen;           /* leave out items the user interacted with */
    int64_t fallback_min_events; /* users with fewer positives get popularity */
};

struct sr_redis_cfg {
    char host[SR_CFG_STR_MAX];     /* server name or address */
    int64_t port;                  /* TCP port */
    char user[128];                /* ACL user; empty = AUTH with the password only */
    char password[SR_CFG_STR_MAX]; /* secret: never logged or dumped; empty = no AUTH */
    int64_t db;                    /* SELECTed database */
    char namespace[64];            /* key prefix: <namespace>:rec:<user> ... */
    int64_t ttl_ms;                /* expiry of rec/sim keys; 0 = none */
    int64_t connect_timeout_ms;    /* connect and AUTH */
    int64_t timeout_ms;            /* one pipelined round trip */
    int64_t backoff_min_ms;        /* first reconnect delay ... */
    int64_t backoff_max_ms;        /* ... doubled up to this */
};

struct sr_publish_cfg {
    int64_t interval_ms; /* debounce: dirty keys are written at most this often */
    int64_t batch;       /* SETs per pipelined round trip */
    int64_t max_pending; /* distinct dirty keys kept; offers of new keys beyond are dropped */
};

struct sr_source_cfg {
    char topics[SR_CFG_STR_MAX];    /* input topics of `run`, comma-separated */
    char dlq_topic[SR_CFG_STR_MAX]; /* rejected messages go here */
    int64_t commit_interval_ms;     /* consumer-group commits at most this often */
};

struct sr_run_cfg {
    double eval_sample;           /* fraction of positive events scored online */
    int64_t score_batch;          /* users per sgemm when scoring dirty users */
    int64_t trending_interval_ms; /* trending lists written at most this often */
    int64_t sim_interval_ms;      /* similar-item lists written at most this often */
    int64_t sim_batch;            /* items whose neighbours changed, written per sim round */
};

struct sr_state_cfg {
    char dir[SR_CFG_STR_MAX];      /* checkpoint directory; "" = no checkpoints */
    int64_t checkpoint_interval_s; /* a checkpoint at least this often (0 = not by time) */
    int64_t checkpoint_events;     /* ... and after this many applied messages (0 = not by count) */
    int64_t keep;                  /* checkpoints kept */
};

struct sr_metrics_cfg {
    char topic[SR_CFG_STR_MAX];    /* metrics topic */
    int64_t interval_ms;           /* one record per interval */
    char instance[SR_CFG_STR_MAX]; /* instance id; "" = host:pid */
};

struct sr_pass_kv {
    char key[128];
    char value[SR_CFG_STR_MAX];
};

struct sr_config {
    struct sr_log_cfg log;
    struct sr_ingest_cfg ingest;
    struct sr_movielens_cfg movielens;
    struct sr_features_cfg features;
    struct sr_learner_cfg learner;
    struct sr_eval_cfg eval;
    struct sr_serve_cfg serve;
    struct sr_redis_cfg redis;
    struct sr_publish_cfg publish;
    struct sr_source_cfg source;
    struct sr_run_cfg run;
    struct sr_metrics_cfg metrics;
    struct sr_state_cfg state;
    struct sr_pass_kv kafka[SR_CFG_PASS_MAX]; /* [kafka] keys, passed to librdkafka unchanged */
    size_t n_kafka;
};

enum sr_cfg_type {
    SR_CFG_INT = 0,
    SR_CFG_DOUBLE,
    SR_CFG_BOOL,
    SR_CFG_STRING,
    SR_CFG_ENUM,
    SR_CFG_DURATION, /* stored as int64 ms; "250ms", "30s", "5m", "1h", "7d" */
};

/** One row of the table. */
struct sr_cfg_key {
    const char *section;
    const char *key;
    enum sr_cfg_type type;
    size_t offset;      /* into struct sr_config */
    size_t size;        /* of the field (strings: buffer size) */
    const char *def;    /* default, as it would be written in a file */
    double min, max;    /* inclusive range for INT, DOUBLE, DURATION (ms) */
    const char *values; /* ENUM: "a|b|c", index = stored int */
    bool secret;        /* never printed in dumps or reports */
    const char *desc;
};

/** Fills cfg with every default. */
void sr_config_defaults(struct sr_config *cfg);
/** Reads an INI file on top of cfg. Errors name the file, line, key and what
 * is allowed. Returns 0, SR_ENOENT (file) or SR_ECONFIG. */
int sr_config_load_file(struct sr_config *cfg, const char *path, char *errbuf, size_t errlen);
/** Applies one "section.key=value" override. Returns 0 or SR_ECONFIG. */
int sr_config_override(struct sr_config *cfg, const char *assignment, char *errbuf, size_t errlen);
/** Sets one key from its text form. Returns 0 or SR_ECONFIG with a message
 * naming the key and the allowed values. */
int sr_config_set(struct sr_config *cfg, const char *section, const char *key, const char *value,
                  char *errbuf, size_t errlen);
/** Checks relations between keys (after all sets). Returns 0 or SR_ECONFIG. */
int sr_config_validate(const struct sr_config *cfg, char *errbuf, size_t errlen);

/** The table: *n gets its row count. */
const struct sr_cfg_key *sr_config_keys(size_t *n);
/** Looks a row up; NULL when unknown. */
const struct sr_cfg_key *sr_config_find(const char *section, const char *key);
/** Writes the current value of a row in file syntax into buf ("***" for secrets). */
void sr_config_format(const struct sr_config *cfg, const struct sr_cfg_key *k, char *buf,
                      size_t len);
/** Prints every key with its default, type, range and description. */
void sr_config_dump(const struct sr_config *cfg, void *file /* FILE * */, bool with_docs);

#endif
