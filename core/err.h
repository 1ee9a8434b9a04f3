/* core/err.h - the one error convention of streamrec.
 *
 * Functions return 0 on success or a negative enum sr_err. Constructors
 * (x_new) fill a caller's error buffer with a sentence naming what failed.
 * sr_strerror() names a code. Only main() calls exit(). */
#ifndef SR_ERR_H
#define SR_ERR_H

#include <stddef.h>

enum sr_err {
    SR_OK = 0,
    SR_ENOMEM = -1,        /* allocation failed */
    SR_EINVAL = -2,        /* invalid argument or value */
    SR_EIO = -3,           /* read or write failed */
    SR_EPARSE = -4,        /* input could not be parsed */
    SR_ENOENT = -5,        /* no such file, key or id */
    SR_EEOF = -6,          /* end of input: nothing more to pull */
    SR_EAGAIN = -7,        /* need more input before anything can be pulled */
    SR_ERANGE = -8,        /* value outside its allowed range */
    SR_ECONFIG = -9,       /* bad configuration */
    SR_EUNSUPPORTED = -10, /* valid but not supported here */
    SR_EFULL = -11,        /* a fixed capacity is exhausted */
    SR_ECORRUPT = -12,     /* stored data failed its checksum or is malformed */
};

/** Returns a static, human-readable name for an sr_err code. */
const char *sr_strerror(int err);

/** Formats into errbuf (if not NULL) like snprintf; returns err unchanged,
 * so a constructor can `return sr_seterr(errbuf, errlen, SR_EIO, "...")`. */
int sr_seterr(char *errbuf, size_t errlen, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
