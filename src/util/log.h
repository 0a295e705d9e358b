/* Logging: one line per event on stderr, with a level a user can filter.
 * Thread-safe: any thread may log; the level is set once at start-up before threads exist. */
#ifndef STREAMD_UTIL_LOG_H
#define STREAMD_UTIL_LOG_H

typedef enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 } log_level_t;

/* Parses "debug", "info", "warn" or "error"; returns the level or -1 when unknown. */
int log_level_parse(const char *name);

/* Sets the minimum level written; call before starting threads. */
void log_set_level(log_level_t level);

/* Writes one line "TIME LEVEL [module] message" when level is at or above the minimum. */
void log_write(log_level_t level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(module, ...) log_write(LOG_DEBUG, module, __VA_ARGS__)
#define log_info(module, ...) log_write(LOG_INFO, module, __VA_ARGS__)
#define log_warn(module, ...) log_write(LOG_WARN, module, __VA_ARGS__)
#define log_error(module, ...) log_write(LOG_ERROR, module, __VA_ARGS__)

#endif
