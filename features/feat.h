/* features/feat.h - the feature stage: from raw events to clean, interned
 * events, plus the stream statistics the baselines and the ranker read.
 *
 * Two steps per event, so that evaluation can look before learning:
 *
 *     struct sr_event ev;
 *     int r = feat_admit(f, &raw, &ev);   // validate, de-dup, bot filter,
 *     if (r == FEAT_OK) {                 // lateness, intern ids, session
 *         ... score the event (prequential) ...
 *         feat_learn(f, &ev);             // popularity, co-visitation,
 *     }                                   // recent items
 *
 * Memory caps. With learner.max_users a new user at the cap takes over the
 * dense id of a least recently active user (a CLOCK sweep: every admitted
 * event of a returning user sets its reference bit, the hand clears set
 * bits and evicts the first user without one, so no allocation and O(1)
 * amortized; a new user survives at least one turn of the hand, and one-off
 * users go before users who came back); with
 * features.user_ttl a user idle longer than that (event time) is evicted
 * too: a new user may take its id (two ids are probed per new user), and
 * its own next event starts it fresh in place. Either way the event comes
 * out with SR_EV_RECYCLED_USER (core/event.h) and the caller makes every
 * other module forget the id before using it. The stage's own state of the
 * user (sessions, bot window, recent items, counts) is reset here, and the
 * user table reuses the old string's storage. Items are never evicted:
 * with learner.max_items an event of a new item at the cap is skipped
 * (FEAT_SKIP_ITEM_CAP), which keeps item ids, popularity and co-visitation
 * stable. features.item_min_events marks events of items with fewer events
 * SR_EV_ITEM_COLD (the model skips them; everything else here sees them).
 *
 * Learner thread only; nothing here is thread-safe. Arrays returned by
 * accessors are borrowed and valid until the next feat_admit()/feat_learn(). */
#ifndef SR_FEAT_H
#define SR_FEAT_H

#include "core/config.h"
#include "core/event.h"
#include "core/intern.h"

#include <stddef.h>
#include <stdint.h>

/** Why an event was not admitted (0 = admitted). */
enum feat_skip {
    FEAT_OK = 0,
    FEAT_SKIP_BAD_USER,  /* user id empty or longer than features.max_id_len */
    FEAT_SKIP_BAD_ITEM,  /* item id empty or too long */
    FEAT_SKIP_BAD_TIME,  /* outside [min_ts_ms, max_ts_ms] */
    FEAT_SKIP_BAD_TYPE,  /* not a known enum sr_event_type */
    FEAT_SKIP_DUPLICATE, /* same event_id, or exact repeat, within dedup_window */
    FEAT_SKIP_BOT,       /* user exceeded bot_max_events within bot_window */
    FEAT_SKIP_LATE,      /* older than watermark - allowed_lateness */
    FEAT_SKIP_ITEM_CAP,  /* a new item while learner.max_items items are known */
    FEAT_SKIP_COUNT
};

struct feat;
struct ck_writer;
struct ck_file;

/** Counters since feat_new(). */
struct feat_stats {
    uint64_t admitted;
    uint64_t skipped[FEAT_SKIP_COUNT]; /* by reason; [FEAT_OK] unused */
    uint64_t out_of_order;             /* admitted although older than the watermark */
    uint64_t bots;                     /* users flagged as bots */
    uint64_t sessions;                 /* sessions started */
    int64_t watermark_ms;              /* latest event time admitted */
    uint64_t users_evicted;            /* users forgotten (max_users, user_ttl); their ids reused */
    uint64_t cold_events;              /* admitted with SR_EV_ITEM_COLD (not learned by MF) */
    uint64_t items_cold;               /* gauge: items below features.item_min_events */
};

/** Returns a new feature stage, or NULL with errbuf filled. cfg is copied. */
struct feat *feat_new(const struct sr_features_cfg *cfg, char *errbuf, size_t errlen);
/** NULL-safe. */
void feat_free(struct feat *f);

/** Validates raw, filters it and interns its ids. Returns FEAT_OK and fills
 * *ev (weight from features.weight.*; 0 = not a positive), a positive
 * enum feat_skip when the event is dropped (counted), or a negative sr_err
 * (SR_ENOMEM, SR_EFULL) when it cannot continue. ev->flags carries
 * SR_EV_RECYCLED_USER and SR_EV_ITEM_COLD (see above); an event that
 * recycles a user id is always admitted. Updates only the filters'
 * own memory (de-dup, bot rate, watermark, sessions): statistics that
 * evaluation reads are unchanged until feat_learn(). */
int feat_admit(struct feat *f, const struct sr_raw_event *raw, struct sr_event *ev);
/** Folds an admitted event into popularity (all windows and all-time),
 * co-visitation, the item's first-positive order and the user's recent
 * items. Events with weight 0 only mark items seen (not popularity, not
 * co-visitation). Returns 0 or SR_ENOMEM. */
int feat_learn(struct feat *f, const struct sr_event *ev);

/** Stable name of a skip reason, used as a report and metrics key:
 * "bad_user", "bad_item", "bad_time", "bad_type", "duplicate", "bot", "late",
 * "item_cap". */
const char *feat_skip_name(enum feat_skip r);
void feat_stats(const struct feat *f, struct feat_stats *out);

/** Borrowed interners (valid for the stage's life). */
const struct sr_intern *feat_users(const struct feat *f);
const struct sr_intern *feat_items(const struct feat *f);
uint32_t feat_n_users(const struct feat *f);
uint32_t feat_n_items(const struct feat *f);

/** Popularity windows, in features.pop_windows order. */
size_t feat_pop_n_windows(const struct feat *f);
int64_t feat_pop_window_ms(const struct feat *f, size_t w);
/** Index of the window of that length, or -1. */
int feat_pop_find(const struct feat *f, int64_t window_ms);
/** Decayed popularity of every item in window w, [feat_n_items()]: a
 * weighted count with half-life = window, all scaled by one common factor,
 * so the values rank items correctly at the latest event time but are not
 * absolute counts. */
const float *feat_pop_scores(const struct feat *f, size_t w);
/** All-time unweighted count of positive events per item, [feat_n_items()]. */
const uint32_t *feat_pop_all(const struct feat *f);
/** Order of each item's first positive event (0, 1, 2, ...), UINT32_MAX for
 * items without one yet, [feat_n_items()]. Ties in rankings are broken by it
 * (earlier first) and items without one are not in the catalogue. */
const uint32_t *feat_item_first_pos(const struct feat *f);

/** Co-visitation neighbours of item, best first: fills up to max of items[]
 * and scores[] (decayed pair weights, comparable across items); returns the
 * count. */
size_t feat_covis(const struct feat *f, uint32_t item, uint32_t *items, float *scores, size_t max);
/** A user's most recent distinct positive items, most recent first; fills up
 * to max, returns the count (at most features.covis_recent are kept). */
size_t feat_user_recent(const struct feat *f, uint32_t user, uint32_t *items, size_t max);
/** Positive events applied for this user so far. */
uint32_t feat_user_positives(const struct feat *f, uint32_t user);

/** Events applied so far for this user / item: events for which feat_learn
 * returned 0 (every admitted event, positive or not, once). 0 for an
 * unknown id. Saturates at UINT32_MAX. Checked against the input by the
 * crash test and shown by `streamrec checkpoint inspect --counts`. */
uint32_t feat_user_events(const struct feat *f, uint32_t user);
uint32_t feat_item_events(const struct feat *f, uint32_t item);

/** Adds the stage's checkpoint sections to w (core/ckpt.h): CK_SEC_USER_IDS,
 * CK_SEC_ITEM_IDS, CK_SEC_FEAT_USERS, _DEDUP, _POP, _COVIS, _STATS, _COUNTS
 * and _EVICT. A copy of the state (bulk memcpy where the layout allows), on the
 * learner thread. Returns 0, SR_ENOMEM (w is then unfit to write), or
 * SR_EINVAL when w already holds one of these sections. */
int feat_save(const struct feat *f, struct ck_writer *w);
/** Restores the sections feat_save wrote into f, fresh from feat_new with
 * the same features configuration: continuing then gives bit-identical
 * state and the same admit/skip decisions as a run that never stopped.
 * Returns 0, SR_EINVAL (f has seen events), SR_ENOMEM, SR_ECONFIG (the
 * checkpoint was taken with other state-shaping settings: popularity
 * windows, covis_recent, covis_topn, covis_half_life, dedup settings) or
 * SR_ECORRUPT (a section missing, short, too long, or holding values out of
 * range), with a sentence naming the section and the problem in errbuf.
 * On failure f is only fit for feat_free(). */
int feat_load(struct feat *f, const struct ck_file *file, char *errbuf, size_t errlen);

/** Bytes held by per-user and per-item feature state (memory reports). */
size_t feat_bytes(const struct feat *f);

#endif
