/* core/time.c - clocks and duration parsing. */
#include "core/time.h"
#include "core/err.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t sr_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t sr_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

double sr_mono_s(void)
{
    return (double)sr_mono_ns() / 1e9;
}

int sr_parse_duration_ms(const char *s, int64_t *out_ms)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v < 0)
        return SR_EPARSE;
    double mult;
    if (*end == '\0' || strcmp(end, "s") == 0)
        mult = 1000;
    else if (strcmp(end, "ms") == 0)
        mult = 1;
    else if (strcmp(end, "m") == 0)
        mult = 60e3;
    else if (strcmp(end, "h") == 0)
        mult = 3600e3;
    else if (strcmp(end, "d") == 0)
        mult = 86400e3;
    else
        return SR_EPARSE;
    double ms = v * mult;
    if (ms > 9.2e18)
        return SR_EPARSE;
    *out_ms = (int64_t)ms;
    return 0;
}

void sr_format_duration(int64_t ms, char *buf, unsigned len)
{
    if (ms % 86400000 == 0 && ms >= 86400000)
        snprintf(buf, len, "%lldd", (long long)(ms / 86400000));
    else if (ms % 3600000 == 0 && ms >= 3600000)
        snprintf(buf, len, "%lldh", (long long)(ms / 3600000));
    else if (ms % 60000 == 0 && ms >= 60000)
        snprintf(buf, len, "%lldm", (long long)(ms / 60000));
    else if (ms % 1000 == 0)
        snprintf(buf, len, "%llds", (long long)(ms / 1000));
    else
        snprintf(buf, len, "%lldms", (long long)ms);
}
