/* features/validate.c - is a raw event well-formed: ids 1..max_id_len bytes,
 * time within [min_ts_ms, max_ts_ms], a known type. Pure: no state. */
#include "features/feat_int.h"

static bool id_ok(struct sr_str id, int64_t max_len)
{
    return id.p != NULL && id.len >= 1 && (int64_t)id.len <= max_len;
}

enum feat_skip feat_validate(const struct feat_settings *s, const struct sr_raw_event *raw)
{
    if (!id_ok(raw->user_id, s->cfg.max_id_len))
        return FEAT_SKIP_BAD_USER;
    if (!id_ok(raw->item_id, s->cfg.max_id_len))
        return FEAT_SKIP_BAD_ITEM;
    if (raw->ts_ms < s->cfg.min_ts_ms || raw->ts_ms > s->cfg.max_ts_ms)
        return FEAT_SKIP_BAD_TIME;
    /* An enum read from a decoder may hold anything: compare as unsigned. */
    if ((unsigned)raw->type >= (unsigned)SR_EVENT_TYPE_COUNT)
        return FEAT_SKIP_BAD_TYPE;
    return FEAT_OK;
}
