/* learner/mf.h - online implicit matrix factorization.
 *
 * Every positive event (weight > 0) is one SGD step: the user's vector and
 * the item's vector move towards each other and away from sampled negative
 * items (BPR or logistic loss, L2, AdaGrad-style per-row step sizes).
 * Negatives are drawn partly by recent popularity (a ring of recent positive
 * items) and partly uniformly over known items, with the model's own RNG.
 * New users and items get deterministic initial vectors from (seed, id), so
 * the same events, config and seed give a bit-identical model.
 *
 * Settings (struct sr_learner_cfg, copied), learned state (factor rows,
 * AdaGrad accumulators, RNG, negative ring) and scratch are kept apart; rows
 * live in chunked arrays (core/chunked.h) so they never move and the update
 * path never allocates. Learner thread only, except where noted. */
#ifndef SR_MF_H
#define SR_MF_H

#include "core/config.h"
#include "core/event.h"

#include <stddef.h>
#include <stdint.h>

struct mf;
struct ck_writer;
struct ck_file;

/** Returns a new model, or NULL with errbuf filled. */
struct mf *mf_new(const struct sr_learner_cfg *cfg, char *errbuf, size_t errlen);
/** NULL-safe. */
void mf_free(struct mf *m);

/** Makes sure rows exist for users [0, n_users) and items [0, n_items),
 * initialising new ones. Returns 0, SR_ENOMEM or SR_EFULL. */
int mf_reserve(struct mf *m, uint32_t n_users, uint32_t n_items);
/** The user's row (factors and AdaGrad accumulator) back to its initial
 * value: the same deterministic function of (seed, user id) a fresh row
 * gets, so a recycled dense id (SR_EV_RECYCLED_USER) starts exactly like a
 * new user would with that id. Learn pending events of the old owner
 * first. No-op for a user without a row. */
void mf_forget_user(struct mf *m, uint32_t user);
/** One learning step for a positive event (ev->weight > 0 scales the step;
 * weight 0, and an event flagged SR_EV_ITEM_COLD, is a no-op). Rows must exist (mf_reserve).
 * Returns 0, or SR_ERANGE (nothing learned) when the user's or item's row is missing. */
int mf_update(struct mf *m, const struct sr_event *ev);
/** The same as calling mf_update() on each of evs[0..n) in order, with
 * memory prefetching across events; gives bit-identical results. Returns 0,
 * or SR_ERANGE with nothing learned when any positive event lacks a row. */
int mf_update_batch(struct mf *m, const struct sr_event *evs, size_t n);

/** scores[i] = user . item_i for items [0, n_items) (one gemv per chunk).
 * A pair without a row (user or item not reserved) scores 0. */
void mf_score_all(const struct mf *m, uint32_t user, float *scores, uint32_t n_items);
/** Score of one (user, item) pair. */
float mf_score(const struct mf *m, uint32_t user, uint32_t item);
/** Borrowed row pointers ([k] floats), valid for the model's life; NULL
 * when the row does not exist. */
const float *mf_user_vec(const struct mf *m, uint32_t user);
const float *mf_item_vec(const struct mf *m, uint32_t item);

/** Learned bias of an item (0 when learner.item_bias is off or no row). */
float mf_item_bias(const struct mf *m, uint32_t item);

uint32_t mf_k(const struct mf *m);
uint32_t mf_n_users(const struct mf *m);
uint32_t mf_n_items(const struct mf *m);
/** Positive events learned. */
uint64_t mf_updates(const struct mf *m);
/** Model bytes per user row and per item row (factors + optimizer state). */
size_t mf_bytes_per_user(const struct mf *m);
size_t mf_bytes_per_item(const struct mf *m);
/** Bytes held by all rows (allocated chunks) and the negative ring. */
size_t mf_bytes(const struct mf *m);

/* ---- checkpoints (core/ckpt.h) -------------------------------------------
 * Sections, all counts u32 and floats raw IEEE bits (rows are kp floats,
 * padding included):
 *   mf_state  k, kp, ring size, n_users, n_items, n_sample_items, updates
 *             (u64), RNG (4 x u64), ring_pushed (u64), then the filled ring
 *             slots (min(ring_pushed, ring size) x u32, slot order)
 *   mf_users  n_users, kp, then n_users rows
 *   mf_items  n_items, kp, then n_items rows
 *   mf_opt    n_users, n_items, user AdaGrad accumulators [n_users] f32,
 *             then [n_items] x (AdaGrad accumulator f32, item bias f32)
 * Settings other than k are not stored: the app's config section guards
 * them. */

/** Adds the four mf_* sections to w: a copy of the learned state (rows are
 * copied a chunk at a time). Returns 0, or SR_ENOMEM (a section could not
 * be added or grown; w may then hold part of them). */
int mf_save(const struct mf *m, struct ck_writer *w);
/** Restores the learned state saved by mf_save() into m, which must be
 * fresh from mf_new() with the learner settings of the saving run: learning
 * on from here gives, bit for bit, the model of a run that never stopped.
 * Returns 0; SR_ECONFIG when k (or the row or ring layout) differs from
 * m's; SR_ECORRUPT when a section is missing, a length does not match its
 * counts, bytes are left over or a value is impossible; SR_ENOMEM; SR_EINVAL
 * when m is not fresh. errbuf names the section and the problem. On failure
 * m holds no loaded rows and is still safe to free (or to learn from as a
 * fresh model). */
int mf_load(struct mf *m, const struct ck_file *f, char *errbuf, size_t errlen);

#endif
