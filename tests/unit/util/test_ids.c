/* Unit tests for identifiers and key hashing. */
#include <criterion/criterion.h>
#include <ctype.h>
#include <string.h>

#include "util/ids.h"

static bool all_base36(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (!(isdigit((unsigned char)s[i]) || (s[i] >= 'a' && s[i] <= 'z')))
            return false;
    }
    return true;
}

Test(ids, uuid_v4_format_and_uniqueness)
{
    char a[IDS_UUID_LEN + 1], b[IDS_UUID_LEN + 1];
    cr_assert_eq(ids_uuid_v4(a), 0);
    cr_assert_eq(ids_uuid_v4(b), 0);
    cr_assert(ids_is_uuid(a));
    cr_assert_eq(a[14], '4');
    cr_assert(strchr("89ab", a[19]));
    cr_assert_str_neq(a, b);
}

Test(ids, is_uuid_rejects_malformed)
{
    cr_assert_not(ids_is_uuid(NULL));
    cr_assert_not(ids_is_uuid(""));
    cr_assert_not(ids_is_uuid("7de094b8-0000-4000-8000-00000000000"));
    cr_assert_not(ids_is_uuid("7de094b8-0000-4000-8000-0000000000000"));
    cr_assert_not(ids_is_uuid("7de094b8x0000-4000-8000-000000000000"));
    cr_assert_not(ids_is_uuid("7de094b8-0000-4000-8000-00000000000g"));
    cr_assert(ids_is_uuid("7DE094B8-0000-4000-8000-000000000000"));
}

Test(ids, stream_key_has_shard_prefix_and_groups)
{
    char key[IDS_STREAM_KEY_LEN + 1];
    cr_assert_eq(ids_stream_key("7de094b8-0000-4000-8000-000000000000", key), 0);
    cr_assert_eq(strlen(key), 19);
    cr_assert_eq(strncmp(key, "7de0", 4), 0);
    for (int i = 0; i < 19; i++) {
        if (i % 5 == 4)
            cr_assert_eq(key[i], '-');
        else
            cr_assert(all_base36(key + i, 1));
    }
}

Test(ids, playback_id_is_16_base36_with_prefix_and_differs_from_key)
{
    char playback[IDS_PLAYBACK_ID_LEN + 1], key[IDS_STREAM_KEY_LEN + 1];
    const char *id = "ab12cdef-0000-4000-8000-000000000000";
    cr_assert_eq(ids_playback_id(id, playback), 0);
    cr_assert_eq(ids_stream_key(id, key), 0);
    cr_assert_eq(strlen(playback), 16);
    cr_assert(all_base36(playback, 16));
    cr_assert_eq(strncmp(playback, "ab12", 4), 0);
    char key_without_dashes[17] = {0};
    for (int i = 0, j = 0; key[i]; i++) {
        if (key[i] != '-')
            key_without_dashes[j++] = key[i];
    }
    cr_assert_str_neq(playback, key_without_dashes);
}

Test(ids, short_or_odd_stream_id_gets_a_random_prefix)
{
    char key[IDS_STREAM_KEY_LEN + 1];
    cr_assert_eq(ids_stream_key("ab", key), 0);
    cr_assert(all_base36(key, 4));
    cr_assert_eq(ids_stream_key("a-b_c", key), 0);
    cr_assert(all_base36(key, 4));
    cr_assert_eq(ids_stream_key(NULL, key), 0);
    cr_assert(all_base36(key, 4));
}

Test(ids, sha256_known_vector_and_constant_time_compare)
{
    char hex[IDS_SHA256_HEX_LEN + 1];
    ids_sha256_hex("abc", 3, hex);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    cr_assert(ids_equal_constant_time("abcd", "abcd", 4));
    cr_assert_not(ids_equal_constant_time("abcd", "abce", 4));
}
