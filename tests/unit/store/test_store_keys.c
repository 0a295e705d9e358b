/* The store's signing keys on every backend: create, the one owner of a key, lookup by public key,
 * list, update and delete. */
#include "store/store.h"
#include "store_test_util.h"

#include <criterion/criterion.h>
#include <string.h>

static store_user_t alice, bob;

static void keys_setup(void)
{
    setup();
    make_user("alice", NULL, &alice);
    make_user("bob", NULL, &bob);
}

static void keys_teardown(void)
{
    store_user_clear(&alice);
    store_user_clear(&bob);
    teardown();
}

TestSuite(store_keys, .init = keys_setup, .fini = keys_teardown);

static int create(const store_user_t *owner, const char *name, const char *public_key,
                  store_signing_key_t *out)
{
    memset(out, 0, sizeof *out);
    memcpy(out->user_id, owner->id, STORE_ID_SIZE);
    memcpy(out->project_id, owner->project_id, STORE_ID_SIZE);
    out->name = strdup(name);
    out->public_key = strdup(public_key);
    return store_signing_key_create(store, out);
}

Test(store_keys, a_key_belongs_to_its_owner)
{
    store_signing_key_t k1, k2, dup, got;
    cr_assert_eq(create(&alice, "first", "PUB-1", &k1), STORE_OK);
    cr_assert_eq(create(&alice, "second", "PUB-2", &k2), STORE_OK);
    cr_assert_eq(create(&bob, "copy", "PUB-1", &dup), STORE_CONFLICT, "a public key is unique");
    cr_assert_gt(k1.created_at_ms, 0);

    cr_assert_eq(store_signing_key_get(store, alice.id, k1.id, &got), STORE_OK);
    cr_assert_str_eq(got.name, "first");
    cr_assert_str_eq(got.public_key, "PUB-1");
    cr_assert_not(got.disabled);
    store_signing_key_clear(&got);
    cr_assert_eq(store_signing_key_get(store, bob.id, k1.id, &got), STORE_NOT_FOUND);
    cr_assert_eq(store_signing_key_find(store, "PUB-2", &got), STORE_OK);
    cr_assert_str_eq(got.id, k2.id);
    cr_assert_str_eq(got.user_id, alice.id);
    store_signing_key_clear(&got);
    cr_assert_eq(store_signing_key_find(store, "PUB-3", &got), STORE_NOT_FOUND);

    store_signing_key_t *list = NULL;
    size_t count = 0;
    cr_assert_eq(store_signing_key_list(store, alice.id, &list, &count), STORE_OK);
    cr_assert_eq(count, 2);
    cr_assert_str_eq(list[0].id, k1.id, "oldest first");
    store_signing_key_list_free(list, count);
    cr_assert_eq(store_signing_key_list(store, bob.id, &list, &count), STORE_OK);
    cr_assert_eq(count, 0);
    store_signing_key_list_free(list, count);

    free(k1.name);
    k1.name = strdup("renamed");
    k1.disabled = true;
    cr_assert_eq(store_signing_key_update(store, &k1), STORE_OK);
    cr_assert_eq(store_signing_key_get(store, alice.id, k1.id, &got), STORE_OK);
    cr_assert_str_eq(got.name, "renamed");
    cr_assert(got.disabled);
    store_signing_key_clear(&got);
    memcpy(k1.user_id, bob.id, STORE_ID_SIZE);
    cr_assert_eq(store_signing_key_update(store, &k1), STORE_NOT_FOUND, "not bob's to change");

    cr_assert_eq(store_signing_key_delete(store, bob.id, k2.id), STORE_NOT_FOUND);
    cr_assert_eq(store_signing_key_delete(store, alice.id, k2.id), STORE_OK);
    cr_assert_eq(store_signing_key_find(store, "PUB-2", &got), STORE_NOT_FOUND);
    cr_assert_eq(store_signing_key_list(store, NULL, &list, &count), STORE_INVALID);
    store_signing_key_clear(&k1);
    store_signing_key_clear(&k2);
    store_signing_key_clear(&dup);
}
