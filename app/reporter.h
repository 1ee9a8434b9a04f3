/* app/reporter.h - the metrics reporter of `streamrec run`: one thread
 * that, every metrics.interval, turns the daemon's counters into one JSON
 * record (app/metrics.h, docs/metrics.md) and produces it to metrics.topic,
 * keyed by the instance id. Counts in a record cover its interval. */
#ifndef SR_REPORTER_H
#define SR_REPORTER_H

#include "app/daemon.h"
#include "core/config.h"

#include <stddef.h>

struct reporter;

/** Starts the thread. d is borrowed and must outlive reporter_stop().
 * Returns NULL with errbuf filled. */
struct reporter *reporter_start(struct daemon *d, const struct sr_metrics_cfg *cfg, char *errbuf,
                                size_t errlen);
/** Stops and joins the thread (no further records); NULL-safe. */
void reporter_stop(struct reporter *r);
/** Records sent so far (any thread). */
unsigned long reporter_sent(const struct reporter *r);

#endif
