/* features/bot.c - the bot filter: a per-user event-rate limit in event time.
 *
 * An exact sliding window would keep bot_max_events timestamps per user; to
 * keep per-user state at two fields, the window is anchored at the user's
 * events instead: it opens at an event, counts every event until one falls
 * bot_window or more after its start, and that event opens the next one. A
 * user is flagged when a window counts more than bot_max_events, so every
 * flagged user really had that many events within bot_window (no false
 * positives); a burst straddling two windows can reach up to twice the rate
 * before it is caught. Events older than the window start (out of order,
 * within the allowed lateness) count in the current window. */
#include "features/feat_int.h"

bool feat_bot_check(const struct feat_settings *s, struct feat_user *u, int64_t ts, int64_t *start,
                    uint32_t *count)
{
    *start = u->bot_start;
    *count = u->bot_count;
    if (s->cfg.bot_max_events <= 0)
        return false;
    if (u->bot_count == 0 || ts - u->bot_start >= s->cfg.bot_window_ms) {
        *start = ts;
        *count = 1;
    } else if (*count < UINT32_MAX) {
        (*count)++;
    }
    if ((int64_t)*count > s->cfg.bot_max_events) {
        u->flags |= FEAT_USER_BOT;
        return true;
    }
    return false;
}
