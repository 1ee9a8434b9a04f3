/* features/session.c - per-user sessions in event time.
 *
 * A user's first admitted event opens session 0; an event more than
 * session_gap after the user's latest event opens the next one. An event
 * older than the user's latest (out of order, within the allowed lateness)
 * joins the current session and does not move the user's latest time. */
#include "features/feat_int.h"

bool feat_session_assign(const struct feat_settings *s, struct feat_user *u, int64_t ts)
{
    if (!(u->flags & FEAT_USER_SEEN)) {
        u->flags |= FEAT_USER_SEEN;
        u->session = 0;
        u->last_ts = ts;
        return true;
    }
    if (ts <= u->last_ts)
        return false;
    bool fresh = ts - u->last_ts > s->cfg.session_gap_ms;
    if (fresh && u->session < UINT32_MAX)
        u->session++;
    u->last_ts = ts;
    return fresh;
}
