def test_operator_login_and_list(stack):
    token = stack.operator_token()
    answer = stack.call("GET", "/api/instances", token)
    assert answer.status == 200, answer
    assert answer.json == {"instances": [], "next_cursor": None}
