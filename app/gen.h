/* app/gen.h - a synthetic event stream with realistic, learnable structure.
 *
 * The generator behind `streamrec gen`, the scale tests and the benchmarks:
 * Zipf item popularity and user activity, latent taste clusters, sessions,
 * a view -> cart -> purchase funnel, drifting popularity, event times
 * non-decreasing. The model is described at the top of app/gen.c. The same
 * configuration (seed included) always gives the same event sequence.
 *
 *     struct gen_cfg cfg;
 *     gen_cfg_defaults(&cfg);
 *     cfg.events = 1000000; cfg.seed = 7;
 *     struct gen *g = gen_new(&cfg, err, sizeof err);
 *     struct gen_event ev;
 *     while (gen_next(g, &ev) == 0) ...       // SR_EEOF after cfg.events
 *     gen_free(g);
 *
 * Single-threaded; gen_next() never allocates (everything is sized in
 * gen_new()). */
#ifndef SR_GEN_H
#define SR_GEN_H

#include "core/event.h"

#include <stddef.h>
#include <stdint.h>

/** Settings. gen_cfg_defaults() fills every field; gen_new() validates. */
struct gen_cfg {
    uint64_t events;          /* events to generate, >= 0 */
    uint64_t users;           /* user ids u0 .. u<users-1>, 1 .. 2^32-1 */
    uint64_t items;           /* item ids i0 .. i<items-1>, clusters .. 2^32-1 */
    uint64_t seed;            /* any value; same seed -> same stream */
    uint32_t clusters;        /* latent taste clusters, 1 .. min(items, 65535) */
    double item_zipf;         /* exponent of item popularity within a cluster, 0 .. 5 */
    double user_zipf;         /* exponent of user activity, 0 .. 5 */
    int64_t start_ms;         /* Unix ms of the first session start, >= 0 */
    double events_per_s;      /* mean global event rate (event time), > 0 */
    double views_per_session; /* mean views in a session, >= 1 */
    double p_cart;            /* P(a view is followed by ADD_TO_CART of that item), 0 .. 1 */
    double p_purchase;        /* P(a carted item is bought at checkout), 0 .. 1 */
    double p_favorite;        /* P(a view not carted is followed by FAVORITE), 0 .. 1 */
    double p_taste;           /* P(a fresh view comes from the user's favourite clusters), 0 .. 1 */
    double p_repeat;          /* P(a view re-views an item seen earlier in the session), 0 .. 1 */
    int64_t min_user_gap_ms;  /* least gap between two sessions of one user (best effort), >= 0 */
    int64_t drift_ms;         /* event time between popularity drift steps; 0 = no drift */
};

/** One generated event: dense ids plus a string view of the same event. */
struct gen_event {
    int64_t ts_ms;           /* event time, Unix ms, non-decreasing across calls */
    uint32_t user;           /* dense user index; user_id "u<user>" */
    uint32_t item;           /* dense item index; item_id "i<item>" */
    enum sr_event_type type; /* VIEW, ADD_TO_CART, FAVORITE or PURCHASE */
    uint64_t seq;            /* 0-based event number; event_id "e<seq>" */
    uint64_t session;        /* global session number; session_id "s<session>" */
    uint32_t user_session;   /* this user's session ordinal (0 = first) */
    /** The same event with string ids. Strings borrowed from the generator,
     * valid until the next gen_next() or gen_free(). price is always set
     * (the item's price), quantity only on ADD_TO_CART and PURCHASE. */
    struct sr_raw_event raw;
};

struct gen;

/** Fills every setting with its default (1,000,000 events, 100,000 users,
 * 20,000 items, seed 1, 20 clusters, ...). */
void gen_cfg_defaults(struct gen_cfg *cfg);

/** Builds a generator (copies cfg). Returns NULL with a one-line reason in
 * errbuf when a setting is out of range or memory runs out. Memory is about
 * 24 bytes per user and 16 per item. */
struct gen *gen_new(const struct gen_cfg *cfg, char *errbuf, size_t errlen);

/** Produces the next event into *ev: 0, or SR_EEOF after cfg.events
 * events. ev->raw's strings are valid until the next call. */
int gen_next(struct gen *g, struct gen_event *ev);

/** Events produced so far. */
uint64_t gen_count(const struct gen *g);

/** The latent cluster of an item (0 .. clusters-1), fixed for the run;
 * for tests and diagnostics. item < cfg.items. */
uint32_t gen_item_cluster(const struct gen *g, uint32_t item);

/** The favourite clusters of a user into out[0..n), n (1 or 2) returned;
 * out[0] is the main one. user < cfg.users. */
int gen_user_clusters(const struct gen *g, uint32_t user, uint32_t out[2]);

/** NULL-safe. */
void gen_free(struct gen *g);

#endif
