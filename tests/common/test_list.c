/* src/common/list.h: order, removal during a walk, the empty list. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "common/list.h"

struct item {
    int id;
    mp__list_node link;
};

static int ids(mp__list *l, int *out, int cap)
{
    int n = 0;
    MP__LIST_EACH(it, l) {
        if (n < cap)
            out[n] = MP__LIST_ENTRY(it, struct item, link)->id;
        n++;
    }
    return n;
}

static void order_and_removal(void **state)
{
    (void)state;
    mp__list l;
    mp__list_init(&l);
    assert_true(mp__list_empty(&l));
    assert_null(mp__list_first(&l));
    assert_null(mp__list_last(&l));
    assert_null(mp__list_pop_front(&l));
    struct item it[4] = {{0, {0}}, {1, {0}}, {2, {0}}, {3, {0}}};
    assert_false(mp__list_linked(&it[0].link));
    mp__list_push_back(&l, &it[1].link);
    mp__list_push_back(&l, &it[2].link);
    mp__list_push_front(&l, &it[0].link);
    mp__list_push_back(&l, &it[3].link);
    int got[4];
    assert_int_equal(ids(&l, got, 4), 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(got[i], i);
    assert_ptr_equal(mp__list_first(&l), &it[0].link);
    assert_ptr_equal(mp__list_last(&l), &it[3].link);
    /* Removing the node being walked is allowed. */
    MP__LIST_EACH(n, &l) {
        struct item *x = MP__LIST_ENTRY(n, struct item, link);
        if (x->id % 2)
            mp__list_remove(n);
    }
    assert_false(mp__list_linked(&it[1].link));
    assert_true(mp__list_linked(&it[2].link));
    assert_int_equal(ids(&l, got, 4), 2);
    assert_int_equal(got[0], 0);
    assert_int_equal(got[1], 2);
    mp__list_node *n = mp__list_pop_front(&l);
    assert_ptr_equal(n, &it[0].link);
    mp__list_remove(&it[2].link);
    assert_true(mp__list_empty(&l));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(order_and_removal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
