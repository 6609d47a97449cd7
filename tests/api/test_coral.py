"""POST /v1/coral/moderate: Coral Talk's External Moderation Phase, through the real ASGI app (real policy,
real word lists), with bodies built and signed the way Coral builds and signs them."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from service.api.coral import signature_ok
from tests.support.admin import ADMIN_PASSWORD, login
from tests.support.scorers import FailingScorer, MarkerScorer
from tests.support.settings import make_settings

# Secrets as Coral makes them: a prefix, "_", then 32 to 37 random bytes in hex.
SECRET = "ems_" + "3f" * 34
OLD_SECRET = "ems_" + "a7" * 33
FLAG = {"actionType": "FLAG", "reason": "COMMENT_DETECTED_TOXIC"}
PATH = "/v1/coral/moderate"


def coral_request(body: str, *, role: str = "COMMENTER", action: str = "NEW") -> dict[str, Any]:
    """The request Coral builds for an external phase, its keys in Coral's order."""
    return {
        "action": action,
        "comment": {"body": body, "parentID": None},
        "author": {"id": "user-7f3a", "role": role},
        "story": {"id": "story-2026-11-29-budget", "url": "https://news.example.org/budget"},
        "site": {"id": "site-main"},
        "tenantID": "tenant-1",
        "tenantDomain": "comments.example.org",
    }


def coral_bytes(data: Any) -> bytes:
    # Coral serialises with JSON.stringify(data, null, 2): two-space indentation, ", " never, non-ASCII as is.
    return json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8")


def coral_signature(body: bytes, *secrets: str) -> str:
    # Coral's generateSignatures: one "sha256=<hex>" per active secret, joined with ",".
    return ",".join("sha256=" + hmac.new(s.encode(), body, hashlib.sha256).hexdigest() for s in secrets)


def post(client: Any, data: Any, *secrets: str, raw: bytes | None = None, **headers: str) -> Any:
    body = raw if raw is not None else coral_bytes(data)
    sent = {"Content-Type": "application/json", "User-Agent": "Coral Moderation/9.0.0", **headers}
    if secrets:
        sent["X-Coral-Signature"] = coral_signature(body, *secrets)
    return client.post(PATH, content=body, headers=sent)


def moderate(client: Any, html: str, **kw: Any) -> dict[str, Any]:
    r = post(client, coral_request(html, **kw), SECRET)
    assert r.status_code == 200, r.text
    return r.json()


def html_slice(html: str, start: int, end: int) -> str:
    """html[start:end] with JavaScript's UTF-16 offsets, as Coral would slice the body."""
    units = html.encode("utf-16-le")
    return units[2 * start : 2 * end].decode("utf-16-le")


def _error(r: Any, status: int, code: str, field: str | None = None) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"]["code"] == code and body["error"].get("field") == field
    assert len(r.content) < 300  # Coral reads only the status: a short body


@pytest.fixture
def scorer() -> MarkerScorer:
    return MarkerScorer()


@pytest.fixture
def coral(make_client, scorer):
    return make_client(scorer, CORAL_SECRETS=[SECRET])


# -- the signature ------------------------------------------------------------------------------------------


def test_a_request_signed_as_coral_signs_it_is_answered(coral):
    answer = moderate(coral, "<p>What a thoughtful piece, thank you.</p>")
    assert answer["status"] == "APPROVED" and answer["actions"] == []
    assert "moderationAction" not in answer
    assert answer["moderation"]["verdict"] == "accept" and len(answer["moderation"]["id"]) == 32


def test_wrong_secret_missing_or_malformed_signature_is_401(coral, scorer):
    data = coral_request("<p>fine</p>")
    _error(post(coral, data, "ems_" + "00" * 34), 401, "invalid_signature")
    _error(post(coral, data), 401, "missing_signature")
    body = coral_bytes(data)
    good = coral_signature(body, SECRET)
    for header in (good.removeprefix("sha256="), "sha1=" + good[7:], good[:-2], "sha256=", " , "):
        _error(post(coral, data, **{"X-Coral-Signature": header}), 401, "invalid_signature")
    # Any byte may come in a header: one that is not ASCII is a wrong signature, not a server error.
    odd = good[:-1].encode() + b"\xe9"
    _error(post(coral, data, **{"X-Coral-Signature": odd}), 401, "invalid_signature")  # type: ignore[arg-type]
    # The signature is of the bytes: the same JSON spaced otherwise, or changed at all, is not signed.
    compact = json.dumps(data).encode()
    _error(post(coral, data, raw=compact, **{"X-Coral-Signature": good}), 401, "invalid_signature")
    tampered = body.replace(b"fine", b"FINE")
    _error(post(coral, data, raw=tampered, **{"X-Coral-Signature": good}), 401, "invalid_signature")
    assert scorer.texts_scored == 0  # nothing unsigned reached the model


def test_signature_is_checked_before_the_body_is_read_as_json(coral):
    _error(post(coral, None, raw=b"{not json"), 401, "missing_signature")
    _error(post(coral, None, "ems_" + "00" * 34, raw=b"{not json"), 401, "invalid_signature")


def test_rotation_on_our_side_and_on_corals(make_client):
    both = make_client(CORAL_SECRETS=f"{OLD_SECRET}, {SECRET}")
    data = coral_request("<p>fine</p>")
    assert post(both, data, OLD_SECRET).status_code == 200
    assert post(both, data, SECRET).status_code == 200
    # During Coral's own rotation it signs with every active secret, comma-separated.
    assert post(make_client(CORAL_SECRETS=[SECRET]), data, OLD_SECRET, SECRET).status_code == 200
    assert post(make_client(CORAL_SECRETS=[OLD_SECRET]), data, OLD_SECRET, SECRET).status_code == 200
    # The old secret dropped: what it alone signs is refused.
    _error(post(make_client(CORAL_SECRETS=[SECRET]), data, OLD_SECRET), 401, "invalid_signature")


def test_signature_ok_compares_every_candidate():
    body = b"{}"
    assert signature_ok(body, coral_signature(body, SECRET).upper().replace("SHA256=", "sha256="), [SECRET])
    assert not signature_ok(body, coral_signature(body, SECRET), [])
    assert not signature_ok(body, "", [SECRET])


def test_the_door_is_off_without_secrets(client, scorer):
    r = post(client, coral_request("<p>fine</p>"), SECRET)
    _error(r, 404, "coral_off")
    assert "MODERATION_CORAL_SECRETS" in r.json()["error"]["message"]


# -- malformed requests: 400, never 422 or 500 ----------------------------------------------------------


@pytest.mark.parametrize(
    "raw,code,field",
    [
        (b"{not json", "invalid_json", None),
        (b"[1, 2]", "invalid_field", None),
        (b"{}", "invalid_field", "comment"),
        (b'{"comment": {}}', "invalid_field", "comment.body"),
        (b'{"comment": {"body": 42}}', "invalid_field", "comment.body"),
        (b'{"comment": {"body": "x"}, "author": "me"}', "invalid_field", "author"),
        (b'{"comment": {"body": "x"}, "story": {"id": "' + b"s" * 201 + b'"}}', "invalid_field", "story.id"),
        (b'{"comment": {"body": "bad \\ud800 half"}}', "invalid_json", None),
        (b"[" * 50_000, "invalid_json", None),
        (b'{"comment": {"body": "\xff\xfe"}}', "invalid_json", None),
    ],
)
def test_malformed_bodies_are_400(coral, raw, code, field):
    _error(post(coral, None, SECRET, raw=raw), 400, code, field)


def test_a_body_that_is_not_json_is_415(coral):
    body = coral_bytes(coral_request("<p>fine</p>"))
    headers = {"Content-Type": "text/plain", "X-Coral-Signature": coral_signature(body, SECRET)}
    r = coral.post(PATH, content=body, headers=headers)
    _error(r, 415, "unsupported_media_type")


def test_a_body_over_the_limit_is_held_unread_not_refused(make_client, scorer):
    # Coral would publish a comment answered 413: markup (a link's href) that Coral's length limit does not
    # count must not carry a comment past moderation.
    coral = make_client(scorer, CORAL_SECRETS=[SECRET], CORAL_MAX_BODY_BYTES=64 * 1024)
    links = '<a href="https://example.org/' + "x" * 1000 + '">fucking link</a>'
    big = coral_bytes(coral_request("<p>" + links * 70 + "</p>"))
    held = {
        "status": "SYSTEM_WITHHELD",
        "actions": [],
        "moderation": {"id": None, "verdict": None, "skipped": "body_too_large", "spans": []},
    }
    for headers in ({"X-Coral-Signature": coral_signature(big, SECRET)}, {}):
        r = post(coral, None, raw=big, **headers)
        assert r.status_code == 200 and r.json() == held
    chunked = coral.post(PATH, content=iter([big]), headers={"Content-Type": "application/json"})
    assert chunked.status_code == 200 and chunked.json() == held
    assert scorer.texts_scored == 0


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
# Coral's keys with values of any JSON type: most are wrong in some part.
coral_shaped = st.fixed_dictionaries(
    {},
    optional={
        "action": json_values,
        "comment": st.fixed_dictionaries({}, optional={"body": json_values, "parentID": json_values}),
        "author": st.fixed_dictionaries(
            {}, optional={"id": json_values, "role": json_values | st.sampled_from(["ADMIN", "COMMENTER"])}
        ),
        "story": json_values,
        "tenantID": json_values,
    },
)


@given(data=json_values | coral_shaped)
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_any_signed_json_is_answered_and_never_a_server_error(coral, data):
    r = post(coral, data, SECRET)
    assert r.status_code in (200, 204, 400), r.text
    if r.status_code == 400:
        assert r.json()["error"]["code"] in ("invalid_field", "invalid_json")
    elif r.status_code == 200:
        assert r.json()["status"] in ("APPROVED", "REJECTED", "SYSTEM_WITHHELD")


# -- HTML: the text is scored, the spans map back into the HTML ---------------------------------------------


def test_tags_and_entities_are_read_as_the_text_they_show(coral, scorer):
    html = "<p>Tom &amp; Jerry&#39;s <b>great</b> show,<br>really&nbsp;&lt;3</p>"
    answer = moderate(coral, html)
    assert answer["status"] == "APPROVED"
    assert scorer.calls[-1] == ["\nTom & Jerry's great show,\nreally\xa0<3\n"]


def test_a_word_split_by_tags_is_still_found_and_its_span_covers_the_tags(coral):
    html = "<p>This is <i>f</i><b>ucking</b> ridiculous &amp; you know it.</p>"
    answer = moderate(coral, html)
    assert answer["status"] == "REJECTED"
    assert answer["moderationAction"] == {"rejectionReason": {"code": "BANNED_WORD"}}
    (span,) = answer["moderation"]["spans"]
    assert html_slice(html, span["start"], span["end"]) == "f</i><b>ucking"
    assert (span["tier"], span["clause"]) == ("reject", "obscene")


def test_spans_are_utf16_offsets_into_the_html_with_entities_and_emoji(coral):
    html = '<div>😀 &#x1F600; caf&eacute; &mdash; <a href="https://x.example/">what</a> a fucking mess</div>'
    answer = moderate(coral, html)
    (span,) = answer["moderation"]["spans"]
    assert html_slice(html, span["start"], span["end"]).lower() == "fucking"
    # Past the emoji, a code-point offset would be one short per emoji: these count UTF-16 code units.
    assert span["start"] == html.index("fucking") + 1


def test_a_word_spelled_with_references_maps_to_the_references(coral):
    html = "<p>what a f&#117;&#x63;king mess</p>"
    answer = moderate(coral, html)
    assert answer["status"] == "REJECTED"
    (span,) = answer["moderation"]["spans"]
    assert html_slice(html, span["start"], span["end"]) == "f&#117;&#x63;king"


def test_link_targets_and_scripts_are_not_text(coral, scorer):
    answer = moderate(coral, '<a href="https://fucking.example/">a link</a><script>fucking()</script>')
    assert answer["status"] == "APPROVED" and scorer.calls[-1] == ["a link"]


def test_words_on_separate_lines_are_not_joined(coral, scorer):
    moderate(coral, "<p>fu</p><p>ck</p>good<br>bye")
    assert scorer.calls[-1] == ["\nfu\n\nck\ngood\nbye"]


# -- statuses and reasons -------------------------------------------------------------------------------------


def test_review_is_system_withheld_with_a_flag(coral):
    by_model = moderate(coral, "<p>meh [[insult=0.6]]</p>")
    by_word = moderate(coral, "<p>what a jackass</p>")
    for answer in (by_model, by_word):
        assert answer["status"] == "SYSTEM_WITHHELD" and answer["actions"] == [FLAG]
        assert "moderationAction" not in answer and answer["moderation"]["verdict"] == "review"
    assert html_slice("<p>what a jackass</p>", **_span(by_word)) == "jackass"


def _span(answer: dict[str, Any]) -> dict[str, int]:
    (span,) = answer["moderation"]["spans"]
    return {"start": span["start"], "end": span["end"]}


@pytest.mark.parametrize(
    "marker,code",
    [
        ("[[identity_attack=0.91]]", "OFFENSIVE"),
        ("[[obscene=0.8]]", "OFFENSIVE"),
        ("[[sexual_explicit=0.75]]", "OFFENSIVE"),
        ("[[insult=0.9]]", "ABUSIVE"),
        ("[[threat=0.7]]", "ABUSIVE"),
        # Two clauses broken: the notice's order names derogatory first.
        ("[[insult=0.9]] [[identity_attack=0.95]]", "OFFENSIVE"),
    ],
)
def test_model_rejections_carry_their_reason(coral, marker, code):
    answer = moderate(coral, f"<p>You people {marker}</p>")
    assert answer["status"] == "REJECTED" and answer["actions"] == [FLAG]
    assert answer["moderationAction"] == {"rejectionReason": {"code": code}}
    assert answer["moderation"]["spans"] == []


def test_a_banned_word_wins_over_model_reasons(coral):
    answer = moderate(coral, "<p>fucking [[insult=0.9]]</p>")
    assert answer["moderationAction"] == {"rejectionReason": {"code": "BANNED_WORD"}}


def test_a_held_comment_without_a_finding_carries_no_flag(make_client):
    coral = make_client(FailingScorer(), CORAL_SECRETS=[SECRET])
    answer = moderate(coral, "<p>a perfectly kind comment</p>")
    assert answer["status"] == "SYSTEM_WITHHELD" and answer["actions"] == []


def test_an_edit_is_scored_like_a_new_comment(coral):
    assert moderate(coral, "<p>fucking</p>", action="EDIT")["status"] == "REJECTED"


# -- staff, empty and long comments ----------------------------------------------------------------------


@pytest.mark.parametrize("role", ["ADMIN", "MODERATOR", "STAFF"])
def test_staff_are_not_moderated(coral, scorer, role):
    r = post(coral, coral_request("<p>fucking [[insult=0.99]]</p>", role=role), SECRET)
    # 204 without a body: Coral's "do not moderate this comment".
    assert r.status_code == 204 and r.content == b""
    assert scorer.texts_scored == 0


def test_commenters_and_members_are_scored(coral):
    for role in ("COMMENTER", "MEMBER"):
        assert moderate(coral, "<p>fucking</p>", role=role)["status"] == "REJECTED"
    data = coral_request("<p>fucking</p>")
    del data["author"]
    assert post(coral, data, SECRET).json()["status"] == "REJECTED"


def test_skipped_roles_are_configurable(make_client):
    only_admins = make_client(CORAL_SECRETS=[SECRET], CORAL_SKIP_ROLES="admin")
    assert moderate(only_admins, "<p>fucking</p>", role="MODERATOR")["status"] == "REJECTED"
    assert post(only_admins, coral_request("<p>fucking</p>", role="ADMIN"), SECRET).status_code == 204
    nobody = make_client(CORAL_SECRETS=[SECRET], CORAL_SKIP_ROLES="none")
    assert moderate(nobody, "<p>fucking</p>", role="ADMIN")["status"] == "REJECTED"


def test_a_comment_longer_than_max_chars_is_held_unscored(make_client, scorer):
    coral = make_client(scorer, CORAL_SECRETS=[SECRET], MAX_CHARS=50)
    answer = moderate(coral, "<p>" + "a" * 51 + "</p>")
    assert answer["status"] == "SYSTEM_WITHHELD" and answer["moderation"]["skipped"] == "text_too_long"
    # The limit counts the text, not its markup.
    assert moderate(coral, "<p><b>" + "a</b><b>" * 40 + "</b></p>")["moderation"]["verdict"] == "accept"
    assert scorer.texts_scored == 1


def test_a_comment_without_text_is_not_moderated(coral, scorer):
    r = post(coral, coral_request("<p> <br> </p>"), SECRET)
    assert r.status_code == 204 and r.content == b""
    assert scorer.texts_scored == 0


def test_a_phase_sending_plain_text_is_scored_as_sent(make_client, scorer):
    coral = make_client(scorer, CORAL_SECRETS=[SECRET], CORAL_BODY_FORMAT="PLAIN_TEXT")
    text = "you <fucking> idiot & co"
    answer = moderate(coral, text)
    assert scorer.calls[-1] == [text]
    (span,) = answer["moderation"]["spans"]
    assert text[span["start"] : span["end"]] == "fucking"


# -- recorded like every door -----------------------------------------------------------------------------


def test_the_decision_is_recorded_with_the_text_story_and_author(make_client, redis_url, key_prefix):
    coral = make_client(
        CORAL_SECRETS=[SECRET], REDIS_URL=redis_url, REDIS_PREFIX=key_prefix, ADMIN_PASSWORD=ADMIN_PASSWORD
    )
    held = moderate(coral, "<p>what a <b>jackass</b> &amp; a fool</p>")
    login(coral)
    (entry,) = coral.get("/v1/review/log").json()["entries"]
    assert entry["comment_id"] == held["moderation"]["id"]
    assert entry["text"] == "\nwhat a jackass & a fool\n"
    assert (entry["article_id"], entry["author_id"]) == ("story-2026-11-29-budget", "user-7f3a")
    # Recorded under MODERATION_CORAL_SITE (default "coral"), never a site the request names.
    assert entry["site"] == "coral"
    assert [
        e["comment_id"] for e in coral.get("/v1/review/log", params={"site": "coral"}).json()["entries"]
    ] == [held["moderation"]["id"]]
    (match,) = entry["matches"]
    assert entry["text"][match["start"] : match["end"]] == "jackass"  # the log's spans index its text
    queue = coral.get("/v1/review").json()["items"]
    assert [item["comment_id"] for item in queue] == [held["moderation"]["id"]]


def test_the_same_comment_again_is_answered_from_the_cache(coral, scorer):
    first = moderate(coral, "<p>fucking</p>")
    again = moderate(coral, "<p>fucking</p>")
    assert again["status"] == first["status"] == "REJECTED"
    assert again["moderation"]["id"] != first["moderation"]["id"]
    assert scorer.texts_scored == 1


# -- settings ---------------------------------------------------------------------------------------------


def test_settings_read_coral_lists_from_the_environment(monkeypatch):
    monkeypatch.setenv("MODERATION_CORAL_SECRETS", f" {OLD_SECRET} ,{SECRET},")
    monkeypatch.setenv("MODERATION_CORAL_SKIP_ROLES", "admin, Staff")
    s = make_settings()
    assert s.CORAL_SECRETS == [OLD_SECRET, SECRET] and s.CORAL_SKIP_ROLES == ["ADMIN", "STAFF"]
    assert make_settings(CORAL_SKIP_ROLES="NONE").CORAL_SKIP_ROLES == []
    assert make_settings().CORAL_SITE == "coral"


def test_production_refuses_a_short_coral_secret():
    with pytest.raises(ValidationError, match="MODERATION_CORAL_SECRETS"):
        make_settings(ENVIRONMENT="production", CORAL_SECRETS=[SECRET, "short"])
    assert make_settings(ENVIRONMENT="production", CORAL_SECRETS=[SECRET]).CORAL_SECRETS == [SECRET]
    assert make_settings(CORAL_SECRETS=["short"]).CORAL_SECRETS == ["short"]  # development
