/*
 * Fuzz target: the wire decoder (src/wire/wire.c). Any bytes, as a TASKS and as
 * a RESULTS message: the readers end cleanly or with MP_EPROTO, every view
 * they hand out lies inside the message, and a message they accept whole
 * re-encodes to the same records; mp__check_tasks / mp__check_results say
 * what reading every record says.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mpool.h"
#include "wire/wire.h"

#define CHECK(c) ((c) ? (void)0 : abort())

/* Checks that [p, p+n) lies inside [lo, hi). */
static void inside(const void *p, size_t n, const uint8_t *lo,
                   const uint8_t *hi)
{
    CHECK((const uint8_t *)p >= lo && (size_t)(hi - (const uint8_t *)p) >= n);
}

/* Decodes data as tasks; if every record was read, encodes them again
   and checks the copy decodes to the same records. */
static void tasks(const uint8_t *data, size_t size)
{
    mp__hdr h;
    mp__reader r, r2;
    mp__msg m;
    uint32_t id, len;
    const void *d;
    int rc;

    if (mp__reader_init(&r, data, size, &h) != 0)
        return;
    int checked = mp__check_tasks(&r);
    CHECK(mp__msg_begin(&m, MP_MSG_TASKS, h.arg, 64) == 0);
    while ((rc = mp__read_task(&r, &id, &d, &len)) == 1) {
        inside(d, len, data, data + size);
        CHECK(mp__msg_put_task(&m, id, d, len) == 0);
    }
    CHECK(rc == 0 || rc == MP_EPROTO);
    CHECK(checked == rc);
    if (rc == 0) {
        memcpy(m.buf + offsetof(mp__hdr, count), &m.count, sizeof m.count);
        CHECK(mp__reader_init(&r, data, size, &h) == 0);
        CHECK(mp__reader_init(&r2, m.buf, m.len, &h) == 0);
        while ((rc = mp__read_task(&r, &id, &d, &len)) == 1) {
            uint32_t id2, len2;
            const void *d2;
            CHECK(mp__read_task(&r2, &id2, &d2, &len2) == 1);
            CHECK(id == id2 && len == len2 && memcmp(d, d2, len) == 0);
        }
        CHECK(rc == 0 && mp__read_task(&r2, &id, &d, &len) == 0);
    }
    mp__msg_discard(&m);
}

/* Decodes data as results and checks every view. */
static void results(const uint8_t *data, size_t size)
{
    mp__hdr h;
    mp__reader r;
    mp__result_view v;
    int rc;

    if (mp__reader_init(&r, data, size, &h) != 0)
        return;
    int checked = mp__check_results(&r);
    while ((rc = mp__read_result(&r, &v)) == 1) {
        if (v.len)
            inside(v.data, v.len, data, data + size);
        if (v.error)
            inside(v.error, strlen(v.error) + 1, data, data + size);
    }
    CHECK(rc == 0 || rc == MP_EPROTO);
    CHECK(checked == rc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tasks(data, size);
    results(data, size);
    return 0;
}
