/*
 * The one table from transfer failure kinds to MP_E* codes (see
 * http_fail.h), for every HTTP engine.
 */
#include "http/shared/http_fail.h"

int mp__http_fail_code(mp__http_fail kind)
{
    switch (kind) {
#define MP__XX(name, code, when)                                            \
    case MP__HF_##name: return code;
        MP__HTTP_FAIL_MAP(MP__XX)
#undef MP__XX
    default: return MP_EHTTP;
    }
}
