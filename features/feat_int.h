/* features/feat_int.h - private to features/: the stage's struct and the
 * pieces each file owns.
 *
 * Files by concern:
 *   validate.c    id lengths, time bounds, type
 *   dedup.c       bounded memory of recent event keys (event_id or exact repeat)
 *   bot.c         per-user event-rate limit
 *   session.c     per-user sessions and the watermark
 *   popularity.c  decayed windowed counts, all-time counts, first-positive order
 *   covis.c       co-visitation neighbour lists and users' recent items
 *   feat.c        the public facade: feat_new/admit/learn/free, stats, accessors,
 *                 applied-event counts
 *   feat_ckpt.c   feat_save/feat_load: the checkpoint sections of all of the above
 *
 * Settings (struct sr_features_cfg plus what feat_new derives from it),
 * learned state and the filters' memory are kept in separate structs. Per-user
 * and per-item arrays grow by doubling (amortized; never one malloc per
 * event). Learner thread only. */
#ifndef SR_FEAT_INT_H
#define SR_FEAT_INT_H

#include "core/chunked.h"
#include "core/config.h"
#include "core/event.h"
#include "core/intern.h"
#include "features/feat.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FEAT_MAX_WINDOWS 8
/* Inflated decayed sums are renormalized once the newest event is this many
 * half-lives past the reference time t0 (2^30 keeps float far from overflow). */
#define FEAT_RENORM_HALF_LIVES 30

/* ---- settings ---------------------------------------------------------- */

/** What feat_new derives from the configuration. */
struct feat_settings {
    struct sr_features_cfg cfg;
    size_t n_windows;
    int64_t window_ms[FEAT_MAX_WINDOWS]; /* [n_windows], pop_windows order */
    float weight[SR_EVENT_TYPE_COUNT];   /* cfg.weight as float */
};

/* ---- decay clock (popularity windows, co-visitation) ------------------- */

/** Reference time of an "inflated" decayed sum: a value v stands for
 * v * 2^-((now - t0) / half_life), one factor common to every value, so adding
 * an event of time t is v += w * 2^((t - t0) / half_life). */
struct feat_decay {
    int64_t t0;        /* reference time, ms */
    int64_t half_life; /* ms, > 0 */
    bool started;      /* t0 set by the first event */
};

/** Moves t0 forward by whole half-lives when ts is more than
 * FEAT_RENORM_HALF_LIVES past it. Returns k >= 0: every value kept against this
 * clock must then be multiplied by 2^-k (exact in float: a power of two). */
int feat_decay_advance(struct feat_decay *d, int64_t ts);
/** 2^((ts - t0) / half_life). */
double feat_decay_factor(const struct feat_decay *d, int64_t ts);

/* ---- validation -------------------------------------------------------- */

/** FEAT_OK or the skip reason of a raw event that fails validation. */
enum feat_skip feat_validate(const struct feat_settings *s, const struct sr_raw_event *raw);

/* ---- de-duplication ---------------------------------------------------- */

/** One remembered event key (64-bit xxhash) and its event time. */
struct feat_dedup_ent {
    uint64_t key;
    int64_t ts;
};

/** Index slot: ring position + 1 (0 = empty) and the key's upper half. */
struct feat_dedup_slot {
    uint32_t pos1;
    uint32_t tag;
};

/** Recent event keys: a FIFO ring of at most dedup_capacity entries with an
 * open-addressing index; keys expire once no admissible event can repeat
 * them (see dedup.c). */
struct feat_dedup {
    int64_t window_ms;             /* 0 = off */
    int64_t keep_ms;               /* window + allowed lateness */
    struct feat_dedup_ent *ring;   /* [size], admission order from head */
    size_t size, cap;              /* ring entries allocated, dedup_capacity */
    size_t head, count;            /* front, live entries */
    struct feat_dedup_slot *index; /* [mask + 1] */
    size_t mask;
};

int feat_dedup_init(struct feat_dedup *d, int64_t window_ms, int64_t lateness_ms, int64_t capacity);
void feat_dedup_free(struct feat_dedup *d);
/** Key of a raw event: its event_id, or (user, item, type, ts) without one. */
uint64_t feat_dedup_key(const struct sr_raw_event *raw);
/** Starts loading key's index slot into the cache (no effect otherwise). */
void feat_dedup_prefetch(const struct feat_dedup *d, uint64_t key);
/** True when key is remembered at an event time within window_ms of ts. */
bool feat_dedup_seen(const struct feat_dedup *d, uint64_t key, int64_t ts);
/** Makes sure feat_dedup_remember() cannot fail; 0 or SR_ENOMEM. */
int feat_dedup_reserve(struct feat_dedup *d);
/** Remembers key at ts (keeps the latest time of a key already there) and
 * forgets keys expired at the new watermark. Call feat_dedup_reserve first. */
void feat_dedup_remember(struct feat_dedup *d, uint64_t key, int64_t ts, int64_t watermark);
size_t feat_dedup_bytes(const struct feat_dedup *d);
/** Refills an empty d (fresh from feat_dedup_init) with n entries in
 * admission order (ents: n packed struct feat_dedup_ent, any alignment) and
 * rebuilds the index. 0, SR_ENOMEM, or SR_ECORRUPT (more than the capacity,
 * entries while de-dup is off, a key twice). */
int feat_dedup_restore(struct feat_dedup *d, const void *ents, size_t n);

/* ---- per-user state ---------------------------------------------------- */

#define FEAT_USER_SEEN 1u /* has an admitted event (session state valid) */
#define FEAT_USER_BOT  2u /* flagged: every later event is dropped */
#define FEAT_USER_REF  4u /* CLOCK reference bit: active since the hand passed (max_users) */

/** Everything kept per user (32 bytes); the user's recent items live in a
 * pool indexed by the same dense user id (struct feat_covis). */
struct feat_user {
    int64_t last_ts;    /* latest admitted event time (sessions) */
    int64_t bot_start;  /* start of the current bot-rate window */
    uint32_t bot_count; /* events counted in it */
    uint32_t session;   /* current session ordinal, 0-based */
    uint32_t positives; /* positives applied by feat_learn */
    uint8_t n_recent;   /* entries used in the block */
    uint8_t flags;      /* FEAT_USER_* */
};

/** Bot rate of one user. Returns true when ev time ts makes the user a bot
 * (state then flagged); otherwise fills *start and *count with the state to
 * commit once the event is admitted. Nothing is changed unless it flags. */
bool feat_bot_check(const struct feat_settings *s, struct feat_user *u, int64_t ts, int64_t *start,
                    uint32_t *count);

/** Assigns the session of an admitted event at ts, updating u; returns true
 * when it starts a new session. */
bool feat_session_assign(const struct feat_settings *s, struct feat_user *u, int64_t ts);

/* ---- popularity -------------------------------------------------------- */

struct feat_pop {
    struct feat_decay clock[FEAT_MAX_WINDOWS]; /* half-life = window */
    float *score[FEAT_MAX_WINDOWS];            /* [n_windows][cap] inflated decayed sums */
    uint32_t *all;                             /* [cap] all-time positive count */
    uint32_t *first_pos;                       /* [cap] first-positive order, UINT32_MAX none */
    uint32_t next_first;                       /* next first-positive order */
    size_t n_windows;
    size_t cap; /* items the arrays hold */
};

int feat_pop_init(struct feat_pop *p, const struct feat_settings *s);
void feat_pop_free(struct feat_pop *p);
/** Makes room for items [0, n); new items start at 0 / UINT32_MAX. */
int feat_pop_reserve(struct feat_pop *p, size_t n);
/** Folds a positive event into every window, the all-time count and the
 * first-positive order. n_items = items currently interned. */
void feat_pop_add(struct feat_pop *p, const struct sr_event *ev, size_t n_items);
size_t feat_pop_bytes(const struct feat_pop *p);

/* ---- co-visitation ----------------------------------------------------- */

/** One item's neighbours: items[] then scores[] in one allocation. */
struct feat_nbrs {
    uint32_t *items; /* [cap] neighbour ids; scores at (float *)(items + cap) */
    uint16_t n;      /* used */
    uint16_t cap;    /* allocated, doubles up to the list capacity */
};

static inline float *feat_nbrs_scores(const struct feat_nbrs *l)
{
    return (float *)(l->items + l->cap);
}

/** One of a user's recent positive items. */
struct feat_recent {
    uint32_t item;
    uint32_t session; /* user's session ordinal of that positive */
    int64_t ts;       /* its event time */
};

struct feat_covis {
    struct feat_decay clock;  /* half-life = covis_half_life */
    struct feat_nbrs *nbrs;   /* [cap] per item */
    size_t cap;               /* items nbrs holds */
    size_t list_max;          /* neighbours kept per item (2 x covis_topn) */
    size_t n_recent_max;      /* covis_recent */
    struct sr_chunked recent; /* [n_users][n_recent_max] struct feat_recent */
    size_t list_bytes;        /* bytes held by neighbour lists */
};

int feat_covis_init(struct feat_covis *c, const struct feat_settings *s);
void feat_covis_free(struct feat_covis *c);
int feat_covis_reserve(struct feat_covis *c, size_t n_items);
/** Makes room for the recent items of users [0, n_users). */
int feat_covis_reserve_users(struct feat_covis *c, size_t n_users);
/** Starts loading a user's recent items into the cache. */
void feat_covis_prefetch_user(const struct feat_covis *c, uint32_t user);
/** Pairs a positive event with the user's recent items and makes its item
 * the user's most recent. Returns 0 or SR_ENOMEM (then nothing changed:
 * memory is reserved before any score moves). */
int feat_covis_add(struct feat_covis *c, const struct feat_settings *s, struct feat_user *u,
                   const struct sr_event *ev);
size_t feat_covis_query(const struct feat_covis *c, uint32_t item, uint32_t *items, float *scores,
                        size_t max);
size_t feat_covis_recent(const struct feat_covis *c, const struct feat_user *u, uint32_t user,
                         uint32_t *items, size_t max);
size_t feat_covis_bytes(const struct feat_covis *c);
/** Sets the empty list of item (< c->cap) to n neighbours (items, scores:
 * packed u32 / float arrays, any alignment) in a list of capacity cap
 * (n <= cap <= list_max, checked by the caller). 0 or SR_ENOMEM. */
int feat_covis_set_list(struct feat_covis *c, uint32_t item, const void *items, const void *scores,
                        size_t n, size_t cap);

/* ---- the stage --------------------------------------------------------- */

struct feat;
/** Room for users [0, n) in every per-user array; new entries zeroed. */
int feat_users_reserve(struct feat *f, size_t n);
/** Room for items [0, n) in every per-item array. */
int feat_items_reserve(struct feat *f, size_t n);

struct feat {
    struct feat_settings set; /* settings */

    /* Filters' memory and interning (feat_admit). */
    struct sr_intern *users;
    struct sr_intern *items;
    struct feat_user *user; /* [user_cap], zero = fresh */
    size_t user_cap;
    uint32_t *user_events; /* [user_cap] events applied per user (feat_learn) */
    uint32_t *item_events; /* [item_cap] events applied per item */
    size_t item_cap;
    struct feat_dedup dedup;
    struct feat_stats st;
    bool has_watermark;
    uint32_t clock_hand; /* next user the eviction sweep looks at (max_users) */
    uint32_t ttl_hand;   /* next user probed for user_ttl below the cap */

    /* Statistics (feat_learn). */
    struct feat_pop pop;
    struct feat_covis covis;
};

#endif
