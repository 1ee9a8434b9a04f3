/* app/serving.h - the served list of a user: the serving rules applied to
 * the learned state, shared by `streamrec run` (the lists it publishes) and
 * `streamrec replay --dump-recs` (the lists it prints), so that both serve
 * from one implementation.
 *
 * The serving state is each user's history (distinct items touched, items
 * bought), fed with srv_observe() for every admitted event. A ranking round
 * rebuilds the catalogue (items with a positive event, in first-positive
 * order) and its item vectors from the model (srv_catalogue), then ranks
 * users (srv_rank): a user with fewer than serve.fallback_min_events
 * positives, or without an MF row, gets the popularity list of
 * eval.pop_window; the others are scored against the whole catalogue (one
 * sgemm per run.score_batch users). Purchased items are never served; seen
 * items not when serve.exclude_seen.
 *
 *     struct srv *s = srv_new(&cfg, mf, pop_w, err, sizeof err);
 *     ... for every admitted event: srv_observe(s, &ev) ...
 *     srv_catalogue(s, feat, mf, &n_cat);
 *     srv_rank(s, feat, mf, n_cat, users, n, emit, ctx);
 *     srv_free(s);
 *
 * One thread (the learner's). */
#ifndef SR_SERVING_H
#define SR_SERVING_H

#include "core/ckpt.h"
#include "core/config.h"
#include "core/event.h"
#include "features/feat.h"
#include "kernels/topk.h"
#include "learner/mf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct srv;

/** One ranked list: top[0..n) with top[i].item a catalogue index (see
 * srv_cat_items), best first. Borrowed, valid during the call only. */
typedef void (*srv_emit_fn)(void *ctx, uint32_t user, const struct kn_scored *top, size_t n,
                            bool fallback);

/** cfg: serve.*, run.score_batch and learner.item_bias are read (copied);
 * mf: its dimension (not kept); pop_w: features index of the popularity
 * window of fallbacks. NULL with one line in errbuf. */
struct srv *srv_new(const struct sr_config *cfg, const struct mf *mf, size_t pop_w, char *errbuf,
                    size_t errlen);

/** NULL-safe. */
void srv_free(struct srv *s);

/** Records an admitted event in its user's history. 0 or SR_ENOMEM. */
int srv_observe(struct srv *s, const struct sr_event *ev);

/** Forgets the user's history (a recycled id: SR_EV_RECYCLED_USER). */
void srv_forget_user(struct srv *s, uint32_t user);

/** The serving history into section CK_SEC_HISTORY of w (checkpoints).
 * 0 or SR_ENOMEM. */
int srv_save(const struct srv *s, struct ck_writer *w);
/** Restores the history from f into s fresh from srv_new. 0, or
 * SR_ECORRUPT / SR_ENOMEM with the reason in errbuf. */
int srv_load(struct srv *s, const struct ck_file *f, char *errbuf, size_t errlen);

/** True when the user touched the item (any event type). */
bool srv_seen(const struct srv *s, uint32_t user, uint32_t item);

/** Rebuilds the catalogue and its item vectors from the model (call with
 * the model current, before srv_rank / srv_pop_top). *n_cat = its size.
 * 0 or SR_ENOMEM. */
int srv_catalogue(struct srv *s, const struct feat *f, const struct mf *mf, size_t *n_cat);

/** Catalogue index -> item id, valid until the next srv_catalogue. */
const uint32_t *srv_cat_items(const struct srv *s);

/** Top max of popularity window w over the catalogue into out (catalogue
 * indexes). Returns how many. */
size_t srv_pop_top(struct srv *s, const struct feat *f, size_t w, size_t n_cat,
                   struct kn_scored *out, size_t max);

/** Ranks users[0..n) (any order, duplicates allowed) under the serving
 * rules and calls emit once per user: fallbacks first, then MF users in
 * score_batch groups. 0 or SR_ENOMEM (scratch grows with n). */
int srv_rank(struct srv *s, const struct feat *f, const struct mf *mf, size_t n_cat,
             const uint32_t *users, size_t n, srv_emit_fn emit, void *ctx);

#endif
