/* core/err.c - error names and the error-buffer helper. */
#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>

const char *sr_strerror(int err)
{
    switch (err) {
    case SR_OK:
        return "success";
    case SR_ENOMEM:
        return "out of memory";
    case SR_EINVAL:
        return "invalid argument";
    case SR_EIO:
        return "input/output error";
    case SR_EPARSE:
        return "parse error";
    case SR_ENOENT:
        return "not found";
    case SR_EEOF:
        return "end of input";
    case SR_EAGAIN:
        return "more input needed";
    case SR_ERANGE:
        return "value out of range";
    case SR_ECONFIG:
        return "configuration error";
    case SR_EUNSUPPORTED:
        return "not supported";
    case SR_EFULL:
        return "capacity exhausted";
    case SR_ECORRUPT:
        return "corrupt data";
    }
    return "unknown error";
}

int sr_seterr(char *errbuf, size_t errlen, int err, const char *fmt, ...)
{
    if (errbuf && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return err;
}
