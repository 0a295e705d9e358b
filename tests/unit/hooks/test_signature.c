/* Unit tests for hooks/signature: RFC 4231's HMAC-SHA256 vectors, the header's form, and the
 * signature a receiver recomputes from the exact body. */
#include "hooks/signature.h"

#include <criterion/criterion.h>
#include <string.h>

Test(signature, rfc4231_test_case_2)
{
    char hex[SIGNATURE_HEX_LEN + 1];
    const char *data = "what do ya want for nothing?";
    cr_assert_eq(signature_hmac_hex("Jefe", data, strlen(data), hex), 0);
    cr_assert_str_eq(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

Test(signature, empty_body_and_key)
{
    char hex[SIGNATURE_HEX_LEN + 1];
    cr_assert_eq(signature_hmac_hex("", "", 0, hex), 0);
    cr_assert_str_eq(hex, "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

Test(signature, header_carries_the_timestamp_unsigned)
{
    char a[SIGNATURE_HEADER_MAX], b[SIGNATURE_HEADER_MAX];
    const char *body = "{\"id\":\"e\"}";
    cr_assert_eq(signature_header("s3cret", body, strlen(body), 1700000000123, a, sizeof a), 0);
    cr_assert_eq(signature_header("s3cret", body, strlen(body), 1700000000999, b, sizeof b), 0);
    cr_assert_eq(strncmp(a, "t=1700000000123,v1=", 19), 0, "%s", a);
    cr_assert_str_eq(a + 19, b + 19, "the timestamp is not part of the signed message");
    cr_assert_eq(strlen(a + 19), SIGNATURE_HEX_LEN);
    char other[SIGNATURE_HEADER_MAX];
    cr_assert_eq(
        signature_header("s3cret", "{\"id\":\"f\"}", 10, 1700000000123, other, sizeof other), 0);
    cr_assert_str_neq(a, other);
    cr_assert_eq(signature_header("s3cret", body, strlen(body), 1, a, 10), -1, "too small");
}
