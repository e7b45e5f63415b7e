DROP FUNCTION stride_assert_token(uuid, uuid, uuid, text);
DROP FUNCTION stride_token_refusal(uuid, uuid, uuid, text);
