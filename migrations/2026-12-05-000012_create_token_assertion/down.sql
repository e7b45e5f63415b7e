DROP FUNCTION stride_assert_token(uuid, uuid, uuid, text);
