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
/** Has user touched item before? */
bool hist_seen(const struct hist *h, uint32_t user, uint32_t item);
/** The user's distinct items in first-touch order, *n of them; borrowed,
 * valid until the next hist_add(). */
const uint32_t *hist_items(const struct hist *h, uint32_t user, uint32_t *n);
/** The user's distinct purchased items; borrowed like hist_items(). */
const uint32_t *hist_bought(const struct hist *h, uint32_t user, uint32_t *n);
/** Bytes held. */
size_t hist_bytes(const struct hist *h);
/** Appends every user's items and purchases to a checkpoint buffer; 0 or SR_ENOMEM. */
int hist_save(const struct hist *h, struct ck_buf *b);
/** Reads what hist_save() wrote into an empty h; 0, SR_ECORRUPT (r marked failed) or SR_ENOMEM. */
int hist_load(struct hist *h, struct ck_rd *r);

#endif
