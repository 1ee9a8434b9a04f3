/* learner/eval.h - prequential ("test, then train") evaluation.
 *
 * For each positive event (u, i) on a sampled subset past the warm-up, and
 * before anything learns from it, every system ranks the whole catalogue for
 * u as a storefront would see it, and the rank of i gives HR@10, HR@20,
 * MRR@20 and NDCG@20 (DESIGN.md, Evaluation protocol). The catalogue is the
 * items with an earlier positive event; ties go to the item whose first
 * positive came first. Both modes are kept: include_seen (nothing excluded)
 * and exclude_seen (events on an item the user already touched are not
 * scored; the user's earlier items are left out of the lists).
 *
 *     for each admitted event ev:
 *         eval_step(e, &ev, feat, mf);   // score with the state before ev
 *         feat_learn(feat, &ev); mf_update(mf, &ev);
 *         eval_observe(e, &ev);          // ev joins the user's history
 *
 * Ranks are computed by counting the catalogue items that beat the target,
 * not by building lists: a list's top-K contains the target at rank r exactly
 * when r - 1 items beat it. Learner thread only. */
#ifndef SR_EVAL_H
#define SR_EVAL_H

#include "core/config.h"
#include "core/event.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct feat;
struct mf;
struct ck_writer;
struct ck_file;

/** The systems scored side by side. */
enum eval_sys {
    EVAL_POPULARITY = 0, /* decayed popularity in eval.pop_window */
    EVAL_POPULARITY_ALL, /* all-time count of positive events */
    EVAL_COVIS,          /* neighbours of the user's recent items */
    EVAL_MF,             /* the MF model's scores */
    EVAL_SERVED,         /* MF, popularity for users with too few events, serving rules */
    EVAL_N_SYS
};

enum eval_mode { EVAL_EXCLUDE_SEEN = 0, EVAL_INCLUDE_SEEN, EVAL_N_MODES };

struct eval_metrics {
    uint64_t n; /* events scored */
    double hr10, hr20, mrr20, ndcg20;
};

struct eval;

/** Returns a new evaluator, or NULL with errbuf filled. total_events is the
 * stream's length for the warm-up fraction (0 = unknown: no warm-up);
 * pop_window_idx is the feature stage's index of eval.pop_window. */
struct eval *eval_new(const struct sr_eval_cfg *cfg, const struct sr_serve_cfg *serve,
                      uint64_t total_events, size_t pop_window_idx, char *errbuf, size_t errlen);
/** NULL-safe. */
void eval_free(struct eval *e);

/** Scores ev (when it is a positive past warm-up and sampled) against the
 * state of f and m, which must not yet have learned ev; m must have rows
 * for ev's user and every item of f. Counts the event either way.
 * Returns 0 or SR_ENOMEM. */
int eval_step(struct eval *e, const struct sr_event *ev, const struct feat *f, const struct mf *m);
/** Will the next eval_step(e, ev) score ev (so it needs the model up to
 * date)? Pure; for callers that batch learning between scored events. */
bool eval_will_score(const struct eval *e, const struct sr_event *ev);
/** Adds ev to its user's history (seen items, purchases). Returns 0 or SR_ENOMEM. */
int eval_observe(struct eval *e, const struct sr_event *ev);

/** Forgets the user's history (a recycled id: SR_EV_RECYCLED_USER), so its
 * next events are scored as a new user's. */
void eval_forget_user(struct eval *e, uint32_t user);

/** Averages so far for one system in one mode. */
void eval_result(const struct eval *e, enum eval_mode mode, enum eval_sys sys,
                 struct eval_metrics *out);
/** Report keys: "popularity", "popularity_all", "covis", "mf", "served";
 * "exclude_seen", "include_seen". */
const char *eval_sys_name(enum eval_sys s);
const char *eval_mode_name(enum eval_mode m);
/** Events seen by eval_step (admitted events, positive or not). */
uint64_t eval_events(const struct eval *e);
/** Bytes held by histories and scratch. */
size_t eval_bytes(const struct eval *e);

/** Adds section CK_SEC_EVAL ("eval") to w: the number of modes and systems
 * (u32 each, a shape guard), the events counter (u64), every accumulator
 * (per mode, per system: n, hits@10, hits@20 as u64, MRR and NDCG sums as
 * f64) and the users' histories (hist_save). Returns 0 or SR_ENOMEM. */
int eval_save(const struct eval *e, struct ck_writer *w);
/** Restores what eval_save() wrote into e, fresh from eval_new() with the
 * saving run's settings, so that evaluation continues exactly. Returns 0;
 * SR_ECONFIG when the modes or systems differ from this build's;
 * SR_ECORRUPT (section missing, truncated, bytes left over, impossible
 * counts); SR_ENOMEM; SR_EINVAL when e is not fresh. errbuf says what
 * failed. On failure e is safe to free. */
int eval_load(struct eval *e, const struct ck_file *f, char *errbuf, size_t errlen);

#endif
