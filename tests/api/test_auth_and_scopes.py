"""Bearer tokens and scopes, and who is recorded as acting (the contract's Auth)."""

from __future__ import annotations

import uuid

ACCOUNT_BODY = {"email": "scoped@example.com", "name": "Sam", "username": "sam", "kind": "free"}


def test_health_answers_without_a_token_or_any_scope(hub):
    for token in (None, "audit"):
        response = hub.get("/health", token=token)

        body = hub.ok(response)
        assert body["status"] == "ok"
        assert body["store"] == "ok"
        assert set(body["projections"]) == set(hub.container.runners)
        assert all(p["status"] == "live" for p in body["projections"].values())


def test_a_missing_or_unknown_credential_is_401_unauthorized_and_records_nothing(hub):
    secret = hub.secrets["views"]
    head = hub.head()
    credentials = [
        None,
        "Bearer not-a-known-secret",
        f"Bearer {secret[:-1]}",
        f"Basic {secret}",
        "Bearer",
    ]

    for authorization in credentials:
        headers = {} if authorization is None else {"Authorization": authorization}
        read = hub.client.get("/v1/plans", headers=headers)
        write = hub.client.post("/v1/accounts", json=ACCOUNT_BODY, headers=headers)

        for response in (read, write):
            hub.problem(response, 401, "unauthorized")
            assert response.headers["www-authenticate"].lower().startswith("bearer")
    assert hub.head() == head


def test_reads_need_the_views_scope(hub):
    opened = hub.open_account()
    reads = [
        "/v1/plans",
        f"/v1/organisations/{opened['organisation_id']}",
        f"/v1/accounts/{opened['account_id']}",
        f"/v1/organisations/{opened['organisation_id']}/subscriptions",
    ]

    for path in reads:
        hub.problem(hub.get(path, token="audit"), 403, "forbidden")
        assert hub.get(path, token="views").status_code == 200, path


def test_writes_need_the_commands_scope_and_a_refused_write_records_nothing(hub):
    opened = hub.open_account()
    head = hub.head()
    writes = [
        ("POST", "/v1/accounts", ACCOUNT_BODY),
        ("PATCH", f"/v1/accounts/{opened['account_id']}", {"name": "Renamed"}),
        (
            "POST",
            f"/v1/organisations/{opened['organisation_id']}/users",
            {"email": "m@example.com", "name": "M", "username": "m", "user_type": "standard"},
        ),
        ("POST", "/v1/purchases", {"plan": "strategic_research", "account_id": opened["account_id"]}),
    ]

    for method, path, body in writes:
        for token in ("views", "audit"):
            response = hub.request(method, path, body, token=token)
            hub.problem(response, 403, "forbidden")
    assert hub.head() == head
    assert hub.account(opened["account_id"])["name"] != "Renamed"


def test_ops_routes_need_the_ops_scope(hub):
    head = hub.head()
    now = hub.now()

    for token in ("commands", "audit"):
        listed = hub.get("/v1/ops/notifications", token=token)
        advanced = hub.post("/v1/ops/clock/advance", {"to": "2027-03-01T00:00:00Z"}, token=token)
        status = hub.get("/v1/ops/projections", token=token)

        for response in (listed, advanced, status):
            hub.problem(response, 403, "forbidden")
    assert hub.now() == now
    assert hub.head() == head
    assert hub.get("/v1/ops/notifications", token="ops").status_code == 200
    assert hub.get("/v1/ops/projections", token="ops").status_code == 200


def test_audit_routes_need_the_audit_scope(hub):
    for token in ("views", "commands"):
        hub.problem(hub.get("/v1/audit/events", token=token), 403, "forbidden")

    answered = hub.get("/v1/audit/events", token="audit")

    assert answered.status_code not in (401, 403), answered.text


def test_the_token_name_is_recorded_as_the_calling_service(hub):
    for short, name in (("commands", "test-commands"), ("ops", "test-ops")):
        head = hub.head()

        hub.ok(hub.post("/v1/accounts", {**ACCOUNT_BODY, "username": short}, token=short), 201)

        events = hub.events_after(head)
        assert events
        assert {e.meta["service"] for e in events} == {name}


def test_x_actor_is_recorded_as_the_acting_user(hub):
    opened = hub.open_account()
    member = hub.add_user(opened["organisation_id"])
    head = hub.head()

    hub.ok(
        hub.patch(
            f"/v1/accounts/{member['account_id']}", {"name": "Bo Renamed"}, actor=opened["account_id"]
        )
    )

    events = hub.events_after(head)
    assert [e.meta["actor"] for e in events] == [f"user:{opened['account_id']}"]
    assert [e.meta["service"] for e in events] == ["test-commands"]


def test_without_x_actor_no_user_is_recorded(hub):
    head = hub.head()

    hub.open_account()

    events = hub.events_after(head)
    assert events
    assert {e.meta["actor"] for e in events} == {None}


def test_an_x_actor_that_is_not_user_and_an_id_is_refused_without_recording(hub):
    opened = hub.open_account()
    head = hub.head()

    response = hub.patch(
        f"/v1/accounts/{opened['account_id']}",
        {"name": "Nope"},
        headers={"X-Actor": "admin"},
    )

    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert hub.head() == head


def test_an_x_actor_without_an_account_is_403_and_records_nothing(hub):
    opened = hub.open_account()
    head = hub.head()

    response = hub.patch(
        f"/v1/accounts/{opened['account_id']}", {"name": "Ghost"}, actor=str(uuid.uuid4())
    )

    assert response.status_code == 403, response.text
    assert hub.head() == head
    assert hub.account(opened["account_id"])["name"] != "Ghost"
