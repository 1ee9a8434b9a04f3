/* core/log.h - leveled logging with per-module debug switches.
 *
 * SR_LOG checks the level before its arguments are evaluated, so a disabled
 * debug line costs one comparison. Lines go to stderr as
 * "2026-11-24T23:59:59.123Z LEVEL module: message". Library code logs and
 * returns errors; it never exits. */
#ifndef SR_LOG_H
#define SR_LOG_H

#include <stdbool.h>

enum sr_log_level { SR_LOG_ERROR = 0, SR_LOG_WARN, SR_LOG_INFO, SR_LOG_DEBUG };

/** Modules that can have debug output switched on one by one. */
enum sr_log_module {
    SR_MOD_CORE = 0,
    SR_MOD_INGEST,
    SR_MOD_FEATURES,
    SR_MOD_LEARNER,
    SR_MOD_KERNELS,
    SR_MOD_SERVE,
    SR_MOD_APP,
    SR_MOD_COUNT
};

extern enum sr_log_level sr_log_level_current;
extern unsigned sr_log_debug_mask; /* bit per enum sr_log_module */

/** Sets the global level (messages above it are dropped). */
void sr_log_set_level(enum sr_log_level level);
/** Parses "error|warn|info|debug"; returns 0 or SR_EINVAL. */
int sr_log_level_parse(const char *s, enum sr_log_level *out);
/** Enables debug lines for a comma-separated list of module names
 * ("ingest,learner" or "all"); returns 0 or SR_EINVAL naming nothing. */
int sr_log_set_debug(const char *modules);
/** Name of a module, as used in log lines and in sr_log_set_debug(). */
const char *sr_log_module_name(enum sr_log_module m);

bool sr_log_enabled(enum sr_log_level level, enum sr_log_module mod);
void sr_log_write(enum sr_log_level level, enum sr_log_module mod, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define SR_LOG(level, mod, ...)                                                                    \
    do {                                                                                           \
        if (sr_log_enabled((level), (mod)))                                                        \
            sr_log_write((level), (mod), __VA_ARGS__);                                             \
    } while (0)

#define SR_ERROR(mod, ...) SR_LOG(SR_LOG_ERROR, mod, __VA_ARGS__)
#define SR_WARN(mod, ...)  SR_LOG(SR_LOG_WARN, mod, __VA_ARGS__)
#define SR_INFO(mod, ...)  SR_LOG(SR_LOG_INFO, mod, __VA_ARGS__)
#define SR_DEBUG(mod, ...) SR_LOG(SR_LOG_DEBUG, mod, __VA_ARGS__)

#endif
