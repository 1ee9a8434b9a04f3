/* core/log.c - leveled logging to stderr. */
#include "core/log.h"
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum sr_log_level sr_log_level_current = SR_LOG_INFO;
unsigned sr_log_debug_mask = 0;

static const char *const module_names[SR_MOD_COUNT] = {
    "core", "ingest", "features", "learner", "kernels", "serve", "app",
};
static const char *const level_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void sr_log_set_level(enum sr_log_level level)
{
    sr_log_level_current = level;
}

int sr_log_level_parse(const char *s, enum sr_log_level *out)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, names[i]) == 0) {
            *out = (enum sr_log_level)i;
            return 0;
        }
    }
    return SR_EINVAL;
}

const char *sr_log_module_name(enum sr_log_module m)
{
    return (unsigned)m < SR_MOD_COUNT ? module_names[m] : "?";
}

int sr_log_set_debug(const char *modules)
{
    unsigned mask = 0;
    const char *p = modules;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n == 3 && strncmp(p, "all", 3) == 0) {
            mask = ~0u;
        } else if (n > 0) {
            int found = 0;
            for (int m = 0; m < SR_MOD_COUNT; m++) {
                if (strlen(module_names[m]) == n && strncmp(p, module_names[m], n) == 0) {
                    mask |= 1u << m;
                    found = 1;
                }
            }
            if (!found)
                return SR_EINVAL;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    sr_log_debug_mask = mask;
    return 0;
}

bool sr_log_enabled(enum sr_log_level level, enum sr_log_module mod)
{
    if (level == SR_LOG_DEBUG)
        return (sr_log_debug_mask >> mod) & 1u;
    return level <= sr_log_level_current;
}

void sr_log_write(enum sr_log_level level, enum sr_log_module mod, const char *fmt, ...)
{
    struct timespec ts;
    struct tm tm;
    char stamp[32];
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);

    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s.%03ldZ %s %s: %s\n", stamp, ts.tv_nsec / 1000000L, level_names[level],
            sr_log_module_name(mod), line);
}
