/* features/history.h - what each user has touched: every distinct item
 * (seen, in first-touch order) and the purchased ones. The evaluation
 * (exclude_seen) and the serving rules (exclude seen / purchased items)
 * read the same record. Owner thread only. */
#ifndef SR_HISTORY_H
#define SR_HISTORY_H

#include "core/event.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hist;
struct ck_buf;
struct ck_rd;

/** Returns an empty history, or NULL when out of memory. */
struct hist *hist_new(void);
/** NULL-safe. */
void hist_free(struct hist *h);
/** Records that ev's user touched ev's item (and bought it, for a
 * PURCHASE). Returns 0 or SR_ENOMEM. */
int hist_add(struct hist *h, const struct sr_event *ev);
/** Forgets everything of user (a recycled id, SR_EV_RECYCLED_USER): its
 * lists and pairs go, the lists' memory is freed. O(items of the user). */
void hist_forget_user(struct hist *h, uint32_t user);
/** Has user touched item before? */
bool hist_seen(const struct hist *h, uint32_t user, uint32_t item);
/** The user's distinct items in first-touch order, *n of them; borrowed,
 * valid until the next hist_add(). */
const uint32_t *hist_items(const struct hist *h, uint32_t user, uint32_t *n);
/** The user's distinct purchased items; borrowed like hist_items(). */
const uint32_t *hist_bought(const struct hist *h, uint32_t user, uint32_t *n);
/** Appends the history to a checkpoint section (core/ckpt.h): u32 users
 * (one past the last user with an item), u64 pairs (total seen items), then
 * per user u32 n_seen, u32 n_bought, seen[n_seen], bought[n_bought] (u32
 * item ids, in their orders). Returns 0 or SR_ENOMEM. */
int hist_save(const struct hist *h, struct ck_buf *b);
/** Reads what hist_save wrote into h, fresh from hist_new: afterwards
 * hist_seen/hist_items/hist_bought answer as before, items in the same
 * order. Returns 0, SR_EINVAL (h not empty), SR_ENOMEM or SR_ECORRUPT (short
 * payload, counts that do not add up, an item twice in a user's seen list,
 * a bought item not seen; r is marked failed). The history must be the
 * last thing in r: every byte is read. On failure h is only fit for
 * hist_free(). */
int hist_load(struct hist *h, struct ck_rd *r);
/** Bytes held. */
size_t hist_bytes(const struct hist *h);

#endif
