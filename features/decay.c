/* features/decay.c - the reference clock of "inflated" exponentially decayed
 * sums (popularity windows, co-visitation).
 *
 * A decayed sum S(now) = sum_e w_e * 2^-((now - t_e) / h) is kept as
 * V = sum_e w_e * 2^((t_e - t0) / h) = S(now) * 2^((now - t0) / h): every
 * value shares the factor 2^((now - t0) / h), so values compare and rank like
 * the decayed sums at any common "now", and adding an event is one
 * multiply-add whatever its time (older events simply add less). When the
 * newest event is more than FEAT_RENORM_HALF_LIVES half-lives past t0, t0
 * moves forward by a whole number k of half-lives and the owner scales its
 * values by 2^-k, which is exact in binary floating point: results depend on
 * the stream only, never on when a renormalization happened to run. */
#include "features/feat_int.h"

#include <math.h>

/* Beyond this shift every float value is scaled to 0 anyway (2^-149 is the
 * smallest float), so larger shifts need not be told apart. */
#define MAX_SHIFT 1000

int feat_decay_advance(struct feat_decay *d, int64_t ts)
{
    if (!d->started) {
        d->started = true;
        d->t0 = ts;
        return 0;
    }
    if (ts - d->t0 <= (int64_t)FEAT_RENORM_HALF_LIVES * d->half_life)
        return 0;
    int64_t k = (ts - d->t0) / d->half_life;
    d->t0 += k * d->half_life;
    return k > MAX_SHIFT ? MAX_SHIFT : (int)k;
}

double feat_decay_factor(const struct feat_decay *d, int64_t ts)
{
    return exp2((double)(ts - d->t0) / (double)d->half_life);
}
