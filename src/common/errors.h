/* errors.c's internal half: a result's copy, beside mp_result_clear. */
#ifndef MP_COMMON_ERRORS_H
#define MP_COMMON_ERRORS_H

#include <stddef.h>

#include "mpool.h"

/* Fills r (whatever it held: nothing is freed) with status and copies of
   data (len bytes) and err (NULL: none), which r then owns
   (mp_result_clear). When the data cannot be copied r has none, and a
   success becomes MP_ENOMEM. */
void mp__result_set(mp_result *r, int status, const void *data, size_t len,
                    const char *err);

struct mp__rbuild;
/* The same, with data of up to MP__RB_PIECE bytes cut from rb's block
   (common/rblock.h: mp_result_clear releases the piece); rb NULL: as
   mp__result_set. */
void mp__result_set_in(mp_result *r, struct mp__rbuild *rb, int status,
                       const void *data, size_t len, const char *err);

#endif
