/* features/feat.c - the feature stage's facade: lifecycle, feat_admit (the
 * filters, in order: validation, lateness, de-duplication, bot rate; then
 * interning and sessions), feat_learn (popularity, co-visitation, recent
 * items) and the accessors. The pieces live in the other files of features/
 * (see feat_int.h). Learner thread only. */
#include "core/err.h"
#include "core/time.h"
#include "features/feat_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Parses "1h,24h" into s->window_ms. */
static int parse_windows(struct feat_settings *s, char *errbuf, size_t errlen)
{
    const char *p = s->cfg.pop_windows;
    s->n_windows = 0;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char item[64];
        while (len && (*p == ' ' || *p == '\t')) {
            p++;
            len--;
        }
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        int64_t ms;
        if (len == 0 || len >= sizeof item)
            return sr_seterr(errbuf, errlen, SR_ECONFIG,
                             "features.pop_windows: invalid value '%s' (allowed: comma-separated "
                             "durations such as 1h,24h)",
                             s->cfg.pop_windows);
        memcpy(item, p, len);
        item[len] = '\0';
        if (sr_parse_duration_ms(item, &ms) != 0 || ms <= 0)
            return sr_seterr(errbuf, errlen, SR_ECONFIG,
                             "features.pop_windows: invalid window '%s' (allowed: durations such "
                             "as 1h,24h)",
                             item);
        if (s->n_windows == FEAT_MAX_WINDOWS)
            return sr_seterr(errbuf, errlen, SR_ECONFIG,
                             "features.pop_windows: at most %d windows allowed", FEAT_MAX_WINDOWS);
        s->window_ms[s->n_windows++] = ms;
        if (!end)
            break;
        p = end + 1;
    }
    if (s->n_windows == 0)
        return sr_seterr(errbuf, errlen, SR_ECONFIG,
                         "features.pop_windows: at least one window required");
    return 0;
}

/* The ranges feat.c relies on (the config table checks the same; a caller
 * that fills the struct by hand gets a sentence instead of a crash). */
static int check_cfg(const struct sr_features_cfg *c, char *errbuf, size_t errlen)
{
    if (c->max_id_len < 1 || c->max_id_len > SR_MAX_ID_LEN)
        return sr_seterr(errbuf, errlen, SR_ECONFIG,
                         "features.max_id_len: %lld out of range (allowed: 1 to %d)",
                         (long long)c->max_id_len, SR_MAX_ID_LEN);
    if (c->min_ts_ms > c->max_ts_ms)
        return sr_seterr(errbuf, errlen, SR_ECONFIG,
                         "features.min_ts_ms must not exceed features.max_ts_ms");
    if (c->dedup_window_ms < 0 || (c->dedup_window_ms > 0 && c->dedup_capacity < 1))
        return sr_seterr(errbuf, errlen, SR_ECONFIG,
                         "features.dedup_window/dedup_capacity: window >= 0 and capacity >= 1 "
                         "required");
    if (c->bot_max_events < 0 || (c->bot_max_events > 0 && c->bot_window_ms <= 0))
        return sr_seterr(errbuf, errlen, SR_ECONFIG,
                         "features.bot_max_events/bot_window: count >= 0 and window > 0 required");
    if (c->allowed_lateness_ms < 0 || c->session_gap_ms < 0 || c->covis_window_ms < 0)
        return sr_seterr(errbuf, errlen, SR_ECONFIG,
                         "features: allowed_lateness, session_gap and covis_window must be >= 0");
    if (c->covis_recent < 1 || c->covis_recent > 64)
        return sr_seterr(errbuf, errlen, SR_ECONFIG,
                         "features.covis_recent: %lld out of range (allowed: 1 to 64)",
                         (long long)c->covis_recent);
    if (c->covis_topn < 1 || c->covis_topn > 256)
        return sr_seterr(errbuf, errlen, SR_ECONFIG,
                         "features.covis_topn: %lld out of range (allowed: 1 to 256)",
                         (long long)c->covis_topn);
    if (c->covis_half_life_ms <= 0)
        return sr_seterr(errbuf, errlen, SR_ECONFIG, "features.covis_half_life must be > 0");
    if (c->user_ttl_ms < 0 || c->item_min_events < 1 || c->max_users < 0 ||
        c->max_users > UINT32_MAX - 1 || c->max_items < 0 || c->max_items > UINT32_MAX - 1)
        return sr_seterr(errbuf, errlen, SR_ECONFIG,
                         "features.user_ttl >= 0, features.item_min_events >= 1 and "
                         "learner.max_users, learner.max_items from 0 to %u required",
                         UINT32_MAX - 1);
    for (int t = 0; t < SR_EVENT_TYPE_COUNT; t++)
        if (!(c->weight[t] >= 0 && c->weight[t] <= 1e6))
            return sr_seterr(errbuf, errlen, SR_ECONFIG,
                             "features.weight.%s: must be a number from 0 to 1e6",
                             sr_event_type_name((enum sr_event_type)t));
    return 0;
}

struct feat *feat_new(const struct sr_features_cfg *cfg, char *errbuf, size_t errlen)
{
    int rc = check_cfg(cfg, errbuf, errlen);
    if (rc)
        return NULL;
    struct feat *f = calloc(1, sizeof *f);
    if (!f) {
        sr_seterr(errbuf, errlen, SR_ENOMEM, "features: out of memory");
        return NULL;
    }
    f->set.cfg = *cfg;
    if (parse_windows(&f->set, errbuf, errlen))
        goto err_free_feat;
    for (int t = 0; t < SR_EVENT_TYPE_COUNT; t++)
        f->set.weight[t] = (float)cfg->weight[t];

    f->users = sr_intern_new(0);
    f->items = sr_intern_new(0);
    if (!f->users || !f->items)
        goto err_nomem;
    if (feat_dedup_init(&f->dedup, cfg->dedup_window_ms, cfg->allowed_lateness_ms,
                        cfg->dedup_capacity))
        goto err_nomem;
    if (feat_pop_init(&f->pop, &f->set) || feat_covis_init(&f->covis, &f->set))
        goto err_nomem;
    /* First blocks up front: accessors never return NULL, even before the
     * first event. */
    if (feat_users_reserve(f, 1) || feat_items_reserve(f, 1))
        goto err_nomem;
    return f;

err_nomem:
    sr_seterr(errbuf, errlen, SR_ENOMEM, "features: out of memory");
err_free_feat:
    feat_free(f);
    return NULL;
}

void feat_free(struct feat *f)
{
    if (!f)
        return;
    feat_covis_free(&f->covis);
    feat_pop_free(&f->pop);
    feat_dedup_free(&f->dedup);
    free(f->user);
    free(f->user_events);
    free(f->item_events);
    sr_intern_free(f->items);
    sr_intern_free(f->users);
    free(f);
}

int feat_users_reserve(struct feat *f, size_t n)
{
    if (n <= f->user_cap)
        return 0;
    size_t cap = f->user_cap ? f->user_cap * 2 : 1024;
    while (cap < n)
        cap *= 2;
    int rc = feat_covis_reserve_users(&f->covis, cap);
    if (rc)
        return rc;
    struct feat_user *u = realloc(f->user, cap * sizeof *u);
    if (!u)
        return SR_ENOMEM;
    memset(u + f->user_cap, 0, (cap - f->user_cap) * sizeof *u);
    f->user = u;
    /* A failure here leaves user[] larger and user_cap unchanged: the next
     * call clears and grows both again. */
    uint32_t *ev = realloc(f->user_events, cap * sizeof *ev);
    if (!ev)
        return SR_ENOMEM;
    memset(ev + f->user_cap, 0, (cap - f->user_cap) * sizeof *ev);
    f->user_events = ev;
    f->user_cap = cap;
    return 0;
}

int feat_items_reserve(struct feat *f, size_t n)
{
    int rc = feat_pop_reserve(&f->pop, n);
    if (rc == 0)
        rc = feat_covis_reserve(&f->covis, n);
    if (rc || n <= f->item_cap)
        return rc;
    size_t cap = f->item_cap ? f->item_cap * 2 : 1024;
    while (cap < n)
        cap *= 2;
    uint32_t *ev = realloc(f->item_events, cap * sizeof *ev);
    if (!ev)
        return SR_ENOMEM;
    memset(ev + f->item_cap, 0, (cap - f->item_cap) * sizeof *ev);
    f->item_events = ev;
    f->item_cap = cap;
    return 0;
}

/* An event is applied when feat_learn returns 0 for it: the one call every
 * admitted event goes through, after which it is part of the state (and
 * never counted again). */
static inline void count_applied(struct feat *f, const struct sr_event *ev)
{
    if (f->user_events[ev->user] < UINT32_MAX)
        f->user_events[ev->user]++;
    if (f->item_events[ev->item] < UINT32_MAX &&
        ++f->item_events[ev->item] == (uint64_t)f->set.cfg.item_min_events &&
        f->set.cfg.item_min_events > 1)
        f->st.items_cold--; /* its events are learned from now on */
}

/* ---- memory caps ---------------------------------------------------------- */

/* Has user v been idle past features.user_ttl at event time now? */
static inline bool ttl_expired(const struct feat *f, const struct feat_user *v, int64_t now)
{
    return f->set.cfg.user_ttl_ms > 0 && now - v->last_ts > f->set.cfg.user_ttl_ms;
}

/* The id a new user takes over, or UINT32_MAX for a new id. At
 * learner.max_users: the CLOCK sweep's victim (an expired user at once, else
 * the first without a reference bit, clearing the bits it passes; at most
 * two rounds). Below it, with user_ttl: the first expired user of two probed
 * ids, so expired ids are found faster than new ones are handed out. */
static uint32_t evict_pick(struct feat *f, int64_t now)
{
    uint32_t n = sr_intern_count(f->users);
    if (n == 0)
        return UINT32_MAX;
    if (f->set.cfg.max_users > 0 && n >= (uint64_t)f->set.cfg.max_users) {
        for (;;) {
            uint32_t v = f->clock_hand < n ? f->clock_hand : 0;
            f->clock_hand = v + 1 < n ? v + 1 : 0;
            struct feat_user *u = &f->user[v];
            if (!ttl_expired(f, u, now) && (u->flags & FEAT_USER_REF)) {
                u->flags &= (uint8_t)~FEAT_USER_REF;
                continue;
            }
            return v;
        }
    }
    if (f->set.cfg.user_ttl_ms > 0)
        for (int k = 0; k < 2; k++) {
            uint32_t v = f->ttl_hand < n ? f->ttl_hand : 0;
            f->ttl_hand = v + 1 < n ? v + 1 : 0;
            if (ttl_expired(f, &f->user[v], now))
                return v;
        }
    return UINT32_MAX;
}

/* The stage's own state of user v, back to that of a new user. */
static void forget_user(struct feat *f, uint32_t v)
{
    memset(&f->user[v], 0, sizeof f->user[v]); /* sessions, bot window, recent items */
    f->user_events[v] = 0;
    f->st.users_evicted++;
}

static int skip(struct feat *f, enum feat_skip r)
{
    f->st.skipped[r]++;
    return (int)r;
}

/* Starts loading the item state feat_learn will touch, so its cache misses
 * overlap with each other and with the caller's work in between. */
static void prefetch_learn(const struct feat *f, uint32_t item)
{
    for (size_t w = 0; w < f->pop.n_windows; w++)
        __builtin_prefetch(&f->pop.score[w][item], 1);
    __builtin_prefetch(&f->pop.all[item], 1);
    __builtin_prefetch(&f->pop.first_pos[item], 1);
    __builtin_prefetch(&f->covis.nbrs[item], 1);
}

int feat_admit(struct feat *f, const struct sr_raw_event *raw, struct sr_event *ev)
{
    enum feat_skip r = feat_validate(&f->set, raw);
    if (r != FEAT_OK)
        return skip(f, r);
    int64_t ts = raw->ts_ms;
    if (f->has_watermark && ts < f->st.watermark_ms - f->set.cfg.allowed_lateness_ms)
        return skip(f, FEAT_SKIP_LATE);

    /* The de-dup bucket, the user's id and the user's state are independent
     * cache misses on a large stream: start the bucket load, look the user
     * up (without adding: a duplicate must not intern anything), start the
     * state load, and only then read the bucket. */
    uint64_t key = 0;
    if (f->dedup.window_ms > 0) {
        key = feat_dedup_key(raw);
        feat_dedup_prefetch(&f->dedup, key);
    }
    uint32_t user, item;
    bool known = sr_intern_find(f->users, raw->user_id.p, raw->user_id.len, &user) == 0;
    if (known) { /* the user's two cold lines, loaded in parallel */
        __builtin_prefetch(&f->user[user], 1);
        feat_covis_prefetch_user(&f->covis, user);
    }
    if (f->dedup.window_ms > 0 && feat_dedup_seen(&f->dedup, key, ts))
        return skip(f, FEAT_SKIP_DUPLICATE);

    /* Item cap before anything is interned or evicted: from here on, an
     * event that recycles a user id is admitted (a fresh user is never a
     * bot on its first event), so the caller always hears of it. */
    if (f->set.cfg.max_items > 0 && sr_intern_count(f->items) >= (uint64_t)f->set.cfg.max_items &&
        sr_intern_find(f->items, raw->item_id.p, raw->item_id.len, &item) != 0)
        return skip(f, FEAT_SKIP_ITEM_CAP);

    /* The user must exist to carry its bot state; reserve before interning
     * so a failure never leaves an id without state. A new user may take
     * over an evicted user's id; a known one idle past user_ttl starts
     * fresh in place. */
    uint8_t flags = 0;
    int64_t now = f->has_watermark && f->st.watermark_ms > ts ? f->st.watermark_ms : ts;
    if (!known) {
        uint32_t v = evict_pick(f, now);
        int rc;
        if (v != UINT32_MAX) {
            rc = sr_intern_replace(f->users, v, raw->user_id.p, raw->user_id.len);
            if (rc)
                return rc;
            forget_user(f, v);
            user = v;
            flags |= SR_EV_RECYCLED_USER;
        } else {
            rc = feat_users_reserve(f, (size_t)sr_intern_count(f->users) + 1);
            if (rc == 0)
                rc = sr_intern_add(f->users, raw->user_id.p, raw->user_id.len, &user, NULL);
            if (rc)
                return rc;
        }
    } else if ((f->user[user].flags & FEAT_USER_SEEN) && ttl_expired(f, &f->user[user], now)) {
        forget_user(f, user);
        flags |= SR_EV_RECYCLED_USER;
    }
    struct feat_user *u = &f->user[user];
    if (u->flags & FEAT_USER_BOT)
        return skip(f, FEAT_SKIP_BOT);
    int64_t bot_start;
    uint32_t bot_count;
    if (feat_bot_check(&f->set, u, ts, &bot_start, &bot_count)) {
        f->st.bots++;
        return skip(f, FEAT_SKIP_BOT);
    }

    int rc = feat_items_reserve(f, (size_t)sr_intern_count(f->items) + 1);
    if (rc == 0)
        rc = feat_dedup_reserve(&f->dedup);
    bool added = false;
    if (rc == 0)
        rc = sr_intern_add(f->items, raw->item_id.p, raw->item_id.len, &item, &added);
    if (rc)
        return rc;
    prefetch_learn(f, item);
    const int64_t min_events = f->set.cfg.item_min_events;
    if (added && min_events > 1)
        f->st.items_cold++;
    if (min_events > 1 && (int64_t)f->item_events[item] + 1 < min_events) {
        flags |= SR_EV_ITEM_COLD;
        f->st.cold_events++;
    }

    /* Admitted: commit the filters' memory. */
    if (!f->has_watermark || ts > f->st.watermark_ms) {
        f->st.watermark_ms = ts;
        f->has_watermark = true;
    } else if (ts < f->st.watermark_ms) {
        f->st.out_of_order++;
    }
    if (f->dedup.window_ms > 0)
        feat_dedup_remember(&f->dedup, key, ts, f->st.watermark_ms);
    u->bot_start = bot_start;
    u->bot_count = bot_count;
    if (feat_session_assign(&f->set, u, ts))
        f->st.sessions++;
    /* A user's first event leaves the bit clear, so one-off users go at
     * the hand's next pass and users who came back get a second chance. */
    if (f->set.cfg.max_users > 0 && known && !(flags & SR_EV_RECYCLED_USER))
        u->flags |= FEAT_USER_REF;
    f->st.admitted++;

    ev->ts_ms = ts;
    ev->user = user;
    ev->item = item;
    ev->session = u->session;
    ev->type = (uint8_t)raw->type;
    ev->flags = flags;
    ev->weight = f->set.weight[raw->type];
    return FEAT_OK;
}

int feat_learn(struct feat *f, const struct sr_event *ev)
{
    if (ev->user >= sr_intern_count(f->users) || ev->item >= sr_intern_count(f->items))
        return SR_EINVAL;
    if (!(ev->weight > 0)) {
        count_applied(f, ev);
        return 0; /* not a positive: the item is already interned, i.e. seen */
    }
    struct feat_user *u = &f->user[ev->user];
    /* Co-visitation first: it is the only part that can fail. */
    int rc = feat_covis_add(&f->covis, &f->set, u, ev);
    if (rc)
        return rc;
    feat_pop_add(&f->pop, ev, sr_intern_count(f->items));
    if (u->positives < UINT32_MAX)
        u->positives++;
    count_applied(f, ev);
    return 0;
}

const char *feat_skip_name(enum feat_skip r)
{
    static const char *const names[FEAT_SKIP_COUNT] = {
        [FEAT_OK] = "ok",
        [FEAT_SKIP_BAD_USER] = "bad_user",
        [FEAT_SKIP_BAD_ITEM] = "bad_item",
        [FEAT_SKIP_BAD_TIME] = "bad_time",
        [FEAT_SKIP_BAD_TYPE] = "bad_type",
        [FEAT_SKIP_DUPLICATE] = "duplicate",
        [FEAT_SKIP_BOT] = "bot",
        [FEAT_SKIP_LATE] = "late",
        [FEAT_SKIP_ITEM_CAP] = "item_cap",
    };
    return (unsigned)r < FEAT_SKIP_COUNT ? names[r] : "unknown";
}

void feat_stats(const struct feat *f, struct feat_stats *out)
{
    *out = f->st;
}

const struct sr_intern *feat_users(const struct feat *f)
{
    return f->users;
}

const struct sr_intern *feat_items(const struct feat *f)
{
    return f->items;
}

uint32_t feat_n_users(const struct feat *f)
{
    return sr_intern_count(f->users);
}

uint32_t feat_n_items(const struct feat *f)
{
    return sr_intern_count(f->items);
}

size_t feat_pop_n_windows(const struct feat *f)
{
    return f->set.n_windows;
}

int64_t feat_pop_window_ms(const struct feat *f, size_t w)
{
    return w < f->set.n_windows ? f->set.window_ms[w] : 0;
}

int feat_pop_find(const struct feat *f, int64_t window_ms)
{
    for (size_t w = 0; w < f->set.n_windows; w++)
        if (f->set.window_ms[w] == window_ms)
            return (int)w;
    return -1;
}

const float *feat_pop_scores(const struct feat *f, size_t w)
{
    return w < f->pop.n_windows ? f->pop.score[w] : NULL;
}

const uint32_t *feat_pop_all(const struct feat *f)
{
    return f->pop.all;
}

const uint32_t *feat_item_first_pos(const struct feat *f)
{
    return f->pop.first_pos;
}

size_t feat_covis(const struct feat *f, uint32_t item, uint32_t *items, float *scores, size_t max)
{
    if (item >= sr_intern_count(f->items))
        return 0;
    return feat_covis_query(&f->covis, item, items, scores, max);
}

size_t feat_user_recent(const struct feat *f, uint32_t user, uint32_t *items, size_t max)
{
    if (user >= sr_intern_count(f->users))
        return 0;
    return feat_covis_recent(&f->covis, &f->user[user], user, items, max);
}

uint32_t feat_user_positives(const struct feat *f, uint32_t user)
{
    return user < sr_intern_count(f->users) ? f->user[user].positives : 0;
}

uint32_t feat_user_events(const struct feat *f, uint32_t user)
{
    return user < sr_intern_count(f->users) ? f->user_events[user] : 0;
}

uint32_t feat_item_events(const struct feat *f, uint32_t item)
{
    return item < sr_intern_count(f->items) ? f->item_events[item] : 0;
}

size_t feat_bytes(const struct feat *f)
{
    return f->user_cap * (sizeof(struct feat_user) + sizeof(uint32_t)) +
           f->item_cap * sizeof(uint32_t) + sr_intern_bytes(f->users) + sr_intern_bytes(f->items) +
           feat_dedup_bytes(&f->dedup) + feat_pop_bytes(&f->pop) + feat_covis_bytes(&f->covis);
}
