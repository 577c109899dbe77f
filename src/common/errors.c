/* The error table: mp_strerror and mp_err_name from MP_ERRNO_MAP; and
   mp_result_clear, which both sides use to free a result and its error
   message, with mp__result_set, the coordinator's one copy of a result
   (errors.h). */
#include <stdlib.h>
#include <string.h>

#include "common/errors.h"
#include "common/rblock.h"
#include "mpool.h"

void mp_result_clear(mp_result *r)
{
    if (!r)
        return;
    if (r->data && !mp__rb_release(r->data)) /* a map's piece, or its own */
        free(r->data);
    free(r->error);
    memset(r, 0, sizeof(*r));
}

void mp__result_set_in(mp_result *r, struct mp__rbuild *rb, int status,
                       const void *data, size_t len, const char *err)
{
    r->status = status;
    r->data = NULL;
    r->len = 0;
    if (len && (r->data = rb && len <= MP__RB_PIECE ? mp__rb_alloc(rb, len)
                                                    : malloc(len))) {
        memcpy(r->data, data, len);
        r->len = len;
    } else if (len && status == 0) {
        r->status = MP_ENOMEM;
    }
    r->error = err ? strdup(err) : NULL;
}

void mp__result_set(mp_result *r, int status, const void *data, size_t len,
                    const char *err)
{
    mp__result_set_in(r, NULL, status, data, len, err);
}

/* Returns the sentence for err; "unknown error" for codes not in the
   table. */
const char *mp_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define XX(name, value, msg) \
    case MP_##name:          \
        return msg;
        MP_ERRNO_MAP(XX)
#undef XX
    default:
        return "unknown error";
    }
}

/* Returns the name of err ("MP_ETIMEDOUT"); "MP_UNKNOWN" for others. */
const char *mp_err_name(int err)
{
    switch (err) {
    case 0:
        return "MP_OK";
#define XX(name, value, msg) \
    case MP_##name:          \
        return "MP_" #name;
        MP_ERRNO_MAP(XX)
#undef XX
    default:
        return "MP_UNKNOWN";
    }
}
