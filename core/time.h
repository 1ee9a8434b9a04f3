/* core/time.h - clocks and time helpers. */
#ifndef SR_TIME_H
#define SR_TIME_H

#include <stdint.h>

/** Wall-clock time, Unix milliseconds. */
int64_t sr_now_ms(void);
/** Monotonic clock in nanoseconds, for measuring durations. */
uint64_t sr_mono_ns(void);
/** Monotonic clock in seconds as a double. */
double sr_mono_s(void);
/** Parses a duration "250ms", "30s", "5m", "1h", "2d" or a bare number of
 * seconds into milliseconds; returns 0 or SR_EPARSE. */
int sr_parse_duration_ms(const char *s, int64_t *out_ms);
/** Formats a duration in ms compactly ("1h", "90s", "250ms") into buf. */
void sr_format_duration(int64_t ms, char *buf, unsigned len);

#endif
