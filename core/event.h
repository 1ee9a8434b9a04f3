/* core/event.h - the event as it flows through streamrec.
 *
 * Sources (ingest/) produce struct sr_raw_event: opaque string ids borrowed
 * from the source's buffer. The feature stage (features/) validates and
 * interns them into struct sr_event: dense u32 ids and a learning weight.
 * The learner and the evaluation only ever see struct sr_event. */
#ifndef SR_EVENT_H
#define SR_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SR_MAX_ID_LEN 128 /* DESIGN.md: user_id and item_id are 1..128 bytes */

enum sr_event_type {
    SR_VIEW = 0,
    SR_CLICK,
    SR_ADD_TO_CART,
    SR_FAVORITE,
    SR_PURCHASE,
    SR_EVENT_TYPE_COUNT
};

/** A borrowed byte string; len 0 with p NULL means "null"/absent. */
struct sr_str {
    const char *p;
    uint32_t len;
};

/** A decoded event, ids borrowed from the producer's buffer (valid until the
 * producer's next call, as each source documents). */
struct sr_raw_event {
    int64_t ts_ms;            /* event time, Unix milliseconds */
    struct sr_str event_id;   /* optional: producer's unique id */
    struct sr_str user_id;    /* 1..128 bytes after validation */
    struct sr_str item_id;    /* 1..128 bytes after validation */
    struct sr_str session_id; /* optional */
    struct sr_str category;   /* optional: item category (datasets that have one) */
    enum sr_event_type type;
    bool has_price;
    bool has_quantity;
    double price;
    int32_t quantity;
};

/* struct sr_event flags, set by the feature stage (features/feat.h). */
/** ev.user is a recycled id: the user it stood for until now was evicted
 * (learner.max_users, features.user_ttl) and ev's user starts fresh. Before
 * anything else uses the id, the pipeline learns what is pending (events
 * of the old owner) and has every module holding per-user state forget it
 * (mf_forget_user, srv_forget_user, eval_forget_user, ...). */
#define SR_EV_RECYCLED_USER 1u
/** ev's item has fewer than features.item_min_events events (this one
 * included): popularity, co-visitation and histories see the event, the MF
 * model does not learn from it. */
#define SR_EV_ITEM_COLD 2u

/** A validated event with dense ids (see features/feat.h). */
struct sr_event {
    int64_t ts_ms;
    uint32_t user;    /* dense user index */
    uint32_t item;    /* dense item index */
    uint32_t session; /* dense session number of this user (features/) */
    uint8_t type;     /* enum sr_event_type */
    uint8_t flags;    /* SR_EV_* */
    float weight;     /* learning weight; 0 = not a positive (only marks "seen") */
};

/** Canonical symbol of a type: "VIEW", "CLICK", "ADD_TO_CART", "FAVORITE", "PURCHASE". */
const char *sr_event_type_name(enum sr_event_type t);
/** Parses a canonical symbol (case-insensitive); returns 0 or SR_EPARSE. */
int sr_event_type_parse(const char *s, size_t len, enum sr_event_type *out);

#endif
