/* core/event.c - event type names. */
#include "core/event.h"
#include "core/err.h"

#include <strings.h>

static const char *const type_names[SR_EVENT_TYPE_COUNT] = {
    "VIEW", "CLICK", "ADD_TO_CART", "FAVORITE", "PURCHASE",
};

const char *sr_event_type_name(enum sr_event_type t)
{
    return (unsigned)t < SR_EVENT_TYPE_COUNT ? type_names[t] : "UNKNOWN";
}

int sr_event_type_parse(const char *s, size_t len, enum sr_event_type *out)
{
    for (int t = 0; t < SR_EVENT_TYPE_COUNT; t++) {
        const char *n = type_names[t];
        size_t i = 0;
        while (i < len && n[i] && (s[i] | 0x20) == (n[i] | 0x20))
            i++;
        if (i == len && n[i] == '\0') {
            *out = (enum sr_event_type)t;
            return 0;
        }
    }
    return SR_EPARSE;
}
