"""Operations over HTTP: the outgoing messages, reads that wait for a log position,
the manual clock, projection status and health."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

DAY = timedelta(days=1)


def z(instant: datetime) -> str:
    return instant.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def notifications(hub, **params):
    return hub.get("/v1/ops/notifications", token="ops", params=params)


# --- notifications ----------------------------------------------------------------------------


def test_notifications_are_listed_oldest_first_with_their_fields(hub):
    start = hub.now()
    first = hub.start_new_buyer()
    hub.advance(start + DAY)
    second = hub.start_new_buyer()

    listed = hub.notifications()

    assert [(m["recipient"], m["kind"]) for m in listed] == [
        (first["email"], "email_verification"),
        (second["email"], "email_verification"),
    ]
    assert [m["created_at"] for m in listed] == [z(start), z(start + DAY)]
    for message in listed:
        assert set(message) >= {"kind", "recipient", "subject", "body", "data", "created_at"}
        assert message["subject"] and message["body"]
        assert isinstance(message["data"], dict)


def test_notifications_can_be_listed_for_one_recipient(hub):
    wanted = hub.buy_new()
    other = hub.buy_new()

    listed = hub.notifications(recipient=wanted["email"])

    assert [m["kind"] for m in listed] == ["email_verification", "purchase_confirmation"]
    assert {m["recipient"] for m in listed} == {wanted["email"]}
    assert other["email"] not in {m["recipient"] for m in listed}


def test_a_read_waits_for_the_position_a_command_answered(hub):
    started = hub.start_new_buyer()

    response = notifications(hub, recipient=started["email"], min_position=started["position"])

    assert response.status_code == 200
    assert [m["kind"] for m in response.json()] == ["email_verification"]


def test_a_position_the_log_has_not_reached_is_503_projection_behind_with_retry_after(
    make_container, make_hub
):
    hub = make_hub(make_container(read_wait_seconds=0.2))
    hub.start_new_buyer()

    response = notifications(hub, min_position=hub.head() + 100)

    hub.problem(response, 503, "projection-behind")
    assert int(response.headers["retry-after"]) >= 0


def test_a_view_that_has_not_caught_up_is_503_until_it_has(make_container, make_hub):
    container = make_container(read_wait_seconds=0.2)
    hub = make_hub(container, run_background=False)
    started = hub.start_new_buyer()

    behind = notifications(hub, recipient=started["email"], min_position=started["position"])
    container.runners["notifications"].catch_up()
    caught_up = notifications(hub, recipient=started["email"], min_position=started["position"])

    hub.problem(behind, 503, "projection-behind")
    assert "retry-after" in behind.headers
    assert caught_up.status_code == 200
    assert [m["kind"] for m in caught_up.json()] == ["email_verification"]


def test_a_query_parameter_out_of_its_range_is_422_invalid_request(hub):
    for params in ({"min_position": -1}, {"min_position": "soon"}, {"recipient": "a\u0000b@example.com"}):
        hub.problem(notifications(hub, **params), 422, "invalid-request")


# --- the manual clock -----------------------------------------------------------------------------


def test_advancing_the_clock_answers_the_new_now_and_the_log_position(hub):
    to = hub.now() + timedelta(days=3, hours=2)

    answer = hub.advance(to)

    assert answer["now"] == z(to)
    assert answer["position"] == hub.head()
    assert hub.now() == to


def test_the_clock_may_be_advanced_to_an_instant_given_in_another_offset(hub):
    to = hub.now() + DAY
    offset = to.astimezone(timezone(timedelta(hours=-5)))

    answer = hub.advance(offset.isoformat())

    assert answer["now"] == z(to)
    assert hub.now() == to


def test_advancing_to_now_is_allowed_and_changes_nothing(hub):
    head = hub.head()
    now = hub.now()

    answer = hub.advance(now)

    assert answer["now"] == z(now)
    assert hub.head() == head


def test_moving_the_clock_backwards_is_422_clock_backwards_and_it_stays(hub):
    now = hub.now()

    response = hub.post("/v1/ops/clock/advance", {"to": z(now - timedelta(seconds=1))}, token="ops")

    hub.problem(response, 422, "clock-backwards")
    assert hub.now() == now


def test_advance_to_anything_but_an_instant_with_its_offset_is_422_invalid_request(hub):
    now = hub.now()
    naive = (now + DAY).replace(tzinfo=None).isoformat()

    for body in ({"to": naive}, {}, {"to": "tomorrow"}):
        response = hub.post("/v1/ops/clock/advance", body, token="ops")

        hub.problem(response, 422, "invalid-request")
    assert hub.now() == now


def test_the_system_clock_cannot_be_advanced_409_clock_not_manual(make_container, make_hub):
    container = make_container(clock="system")
    hub = make_hub(container, run_background=False)
    before = container.services.clock.now()

    response = hub.post("/v1/ops/clock/advance", {"to": z(before + timedelta(days=400))}, token="ops")

    hub.problem(response, 409, "clock-not-manual")
    assert container.services.clock.now() < before + DAY


def test_advancing_does_the_due_work_at_its_own_instant(hub):
    done = hub.subscriber()
    reminder_at = datetime(2028, 1, 1, 9, 0, tzinfo=timezone.utc)

    hub.advance(datetime(2028, 3, 1, tzinfo=timezone.utc))

    listed = hub.notifications(recipient=done["email"])
    stamped = {m["kind"]: m["created_at"] for m in listed}
    assert stamped["renewal_reminder"] == z(reminder_at)
    assert stamped["renewal_receipt"] == z(datetime(2028, 1, 31, 9, 0, tzinfo=timezone.utc))


# --- projections and health -------------------------------------------------------------------------


def test_projection_status_shows_each_projection_caught_up_with_the_log(hub):
    hub.buy_new()
    head = hub.head()
    for runner in hub.container.runners.values():
        runner.catch_up()

    response = hub.get("/v1/ops/projections", token="ops")

    assert response.status_code == 200
    rows = {row["name"]: row for row in response.json()}
    assert set(rows) == set(hub.container.runners)
    for row in rows.values():
        assert (row["position"], row["head"], row["lag"]) == (head, head, 0)
        assert row["status"] == "live"


def test_projection_status_shows_the_lag_of_a_projection_left_behind(make_container, make_hub):
    container = make_container()
    hub = make_hub(container, run_background=False)
    hub.start_new_buyer()
    head = hub.head()

    rows = {row["name"]: row for row in hub.get("/v1/ops/projections", token="ops").json()}

    assert rows["notifications"]["head"] == head
    assert rows["notifications"]["lag"] == head - rows["notifications"]["position"] > 0
