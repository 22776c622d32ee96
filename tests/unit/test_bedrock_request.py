"""The InvokeModel body: what Bedrock needs changed, and everything else exactly as Claude Code sent it."""

import copy

import orjson
import pytest

from overspill.bedrock.request import (
    ANTHROPIC_VERSION,
    bedrock_betas,
    drop_path,
    fold_system_messages,
    is_first_party_beta,
    split_betas,
    to_bedrock_body,
)
from tests.support.claude_code_fixtures import load_all

FIXTURES = load_all()
REMINDER = "<system-reminder>\n"


def translate(body, beta_header=None, **kwargs) -> dict:
    return orjson.loads(to_bedrock_body(body, beta_header, **kwargs))


def is_billing_block(block) -> bool:
    return isinstance(block, dict) and block.get("text", "").startswith("x-anthropic-billing-header:")


def assert_roles_alternate_from_user(messages):
    roles = [m["role"] for m in messages]
    assert roles[0] == "user", roles
    assert all(a != b for a, b in zip(roles, roles[1:], strict=False)), roles
    assert set(roles) <= {"user", "assistant"}, roles


def signatures(node) -> list:
    if isinstance(node, dict):
        found = [node["signature"]] if "signature" in node else []
        return found + [s for v in node.values() for s in signatures(v)]
    if isinstance(node, list):
        return [s for v in node for s in signatures(v)]
    return []


# --- every real Claude Code request ------------------------------------------------------------------------


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.name for f in FIXTURES])
def test_claude_code_request_becomes_a_bedrock_body_with_nothing_else_changed(fixture):
    original = orjson.loads(fixture.body)
    header = fixture.headers["anthropic-beta"]
    out = translate(fixture.body, header)

    assert "model" not in out and "stream" not in out
    assert out["anthropic_version"] == ANTHROPIC_VERSION
    assert out["anthropic_beta"] == [b for b in split_betas(header)
                                     if not b.startswith(("claude-code-", "oauth-", "mid-conversation-system-"))]
    # Key order: ours first, then the client's as sent.
    assert list(out) == ["anthropic_version", "anthropic_beta",
                         *[k for k in original if k not in ("model", "stream")]]

    for key in original:
        if key in ("model", "stream", "messages", "system"):
            continue
        # Byte-equal after serialising: tools, metadata, thinking, context_management, output_config, max_tokens.
        assert orjson.dumps(out[key]) == orjson.dumps(original[key]), key
    assert out["system"] == [b for b in original["system"] if not is_billing_block(b)]
    assert len(out["system"]) == len(original["system"]) - 1  # Claude Code's billing line, and only it

    # Messages: the conversation without its system messages is unchanged; each system message's text is
    # now a <system-reminder> block in a user turn; roles alternate.
    assert_roles_alternate_from_user(out["messages"])
    folded = [m for m in original["messages"] if m["role"] == "system"]
    added = [b for m in out["messages"] for b in m["content"]
             if isinstance(b, dict) and b.get("text", "").startswith(REMINDER)
             and not any(b in m0["content"] for m0 in original["messages"] if isinstance(m0["content"], list))]
    assert [b["text"] for b in added] == [f"{REMINDER}{m['content']}\n</system-reminder>" for m in folded]
    without_added = [{**m, "content": [b for b in m["content"] if b not in added]} for m in out["messages"]]
    assert without_added == [m for m in original["messages"] if m["role"] != "system"]
    assert signatures(out) == signatures(original)


def test_the_fixtures_include_a_mid_conversation_system_message():
    # The fold is exercised by real traffic above, not only by the crafted cases below.
    assert any(m["role"] == "system" for f in FIXTURES for m in orjson.loads(f.body)["messages"])


def test_tool_result_followup_folds_system_text_into_the_user_turn_before_it():
    fixture = next(f for f in FIXTURES if f.name == "tool-result-followup")
    original = orjson.loads(fixture.body)["messages"]
    out = translate(fixture.body, fixture.headers["anthropic-beta"])["messages"]
    assert [m["role"] for m in out] == ["user", "assistant", "user"]
    assert out[0]["content"][:-1] == original[0]["content"]
    assert out[0]["content"][-1] == {"type": "text", "text": f"{REMINDER}{original[1]['content']}\n</system-reminder>"}
    assert out[1:] == original[2:]  # tool_use and tool_result (with its cache_control) untouched


# --- fidelity of everything Bedrock accepts as is ----------------------------------------------------------

RICH_BODY = {
    "model": "claude-opus-4-8",
    "max_tokens": 64000,
    "system": [{"type": "text", "text": "You are Claude Code.", "cache_control": {"type": "ephemeral", "ttl": "1h"}}],
    "messages": [
        {"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
            {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"},
             "title": "spec.pdf", "citations": {"enabled": True}},
            {"type": "text", "text": "Read these, then list files \u00e9\u4e2d\U0001f600"},
        ]},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "Let me look.", "signature": "EqQBCkYIBxgCKkAx+/==sig1"},
            {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlx"},
            {"type": "text", "text": "Listing."},
            {"type": "tool_use", "id": "toolu_01", "name": "Bash", "input": {"command": "ls", "n": 1.5e-7}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_01", "content": [{"type": "text", "text": "a\nb"}],
             "is_error": False, "cache_control": {"type": "ephemeral"}},
        ]},
    ],
    "tools": [{"name": "Bash", "description": "Run", "input_schema": {"type": "object", "properties": {}},
               "cache_control": {"type": "ephemeral"}}],
    "tool_choice": {"type": "auto"},
    "metadata": {"user_id": '{"device_id":"abc","session_id":"s"}'},
    "thinking": {"type": "enabled", "budget_tokens": 31999},
    "temperature": 1,
    "stream": True,
}


def test_thinking_signatures_images_documents_and_cache_control_pass_byte_for_byte():
    out = translate(orjson.dumps(RICH_BODY), "interleaved-thinking-2025-05-14")
    for key in RICH_BODY:
        if key not in ("model", "stream"):
            assert orjson.dumps(out[key]) == orjson.dumps(RICH_BODY[key]), key
    assert signatures(out) == ["EqQBCkYIBxgCKkAx+/==sig1"]


def test_a_dict_body_is_not_modified():
    body = copy.deepcopy(RICH_BODY)
    body["messages"].insert(1, {"role": "system", "content": "Be brief."})
    before = copy.deepcopy(body)
    translate(body, "claude-code-20250219", drop_fields={"tools.*.cache_control", "thinking"})
    assert body == before


def test_body_must_be_a_json_object():
    with pytest.raises(ValueError):
        to_bedrock_body(b"[1, 2]", None)


# --- betas ----------------------------------------------------------------------------------------------------


def test_split_betas_trims_and_skips_empty_values():
    assert split_betas(" a-1 ,b-2,, c-3 ,") == ["a-1", "b-2", "c-3"]
    assert split_betas("") == [] and split_betas(None) == []


@pytest.mark.parametrize("beta, first_party", [
    ("oauth-2025-04-20", True),
    ("claude-code-20250219", True),
    ("claude-code-20270101", True),          # a future date of the same family
    ("mid-conversation-system-2026-04-07", True),
    ("interleaved-thinking-2025-05-14", False),
    ("context-1m-2025-08-07", False),
    ("context-management-2025-06-27", False),
    ("effort-2025-11-24", False),
    ("prompt-caching-scope-2026-01-05", False),
])
def test_first_party_betas_are_recognised_by_family(beta, first_party):
    assert is_first_party_beta(beta) is first_party


def test_subscription_login_betas_never_reach_bedrock():
    out = translate(orjson.dumps(RICH_BODY), "oauth-2025-04-20,claude-code-20250219,interleaved-thinking-2025-05-14")
    assert out["anthropic_beta"] == ["interleaved-thinking-2025-05-14"]


def test_no_betas_left_means_no_anthropic_beta_key():
    assert "anthropic_beta" not in translate(orjson.dumps(RICH_BODY), "oauth-2025-04-20,claude-code-20250219")
    assert "anthropic_beta" not in translate(orjson.dumps(RICH_BODY), None)


def test_extra_betas_are_added_once_and_dropped_betas_removed():
    assert bedrock_betas("a-2025-01-01,context-1m-2025-08-07", ["context-1m-2025-08-07", "b-2025-01-01"]) == [
        "a-2025-01-01", "context-1m-2025-08-07", "b-2025-01-01"]
    assert bedrock_betas("a-2025-01-01,b-2025-01-01", drop_betas={"a-2025-01-01"}) == ["b-2025-01-01"]
    assert bedrock_betas("mcp-servers-2025-12-04,b-2025-01-01", drop_betas={"mcp-servers-*"}) == ["b-2025-01-01"]
    assert bedrock_betas("a-2025-01-01", ["context-1m-2025-08-07"], drop_betas={"*"}) == []


def test_betas_in_the_body_are_merged_with_the_header():
    body = {**RICH_BODY, "anthropic_beta": ["x-2025-01-01", "claude-code-20250219"]}
    out = translate(body, "x-2025-01-01,y-2025-01-01", extra_betas=("context-1m-2025-08-07",))
    assert out["anthropic_beta"] == ["x-2025-01-01", "y-2025-01-01", "context-1m-2025-08-07"]
    assert list(out).count("anthropic_beta") == 1


# --- dropped fields -------------------------------------------------------------------------------------------


def test_drop_fields_removes_top_level_keys_and_dotted_paths():
    fixture = next(f for f in FIXTURES if f.name == "opus-default-stream")
    body = orjson.loads(fixture.body)
    body["tools"][0]["defer_loading"] = True
    body["tools"][3]["defer_loading"] = False
    out = translate(body, fixture.headers["anthropic-beta"],
                    drop_fields={"context_management", "tools.*.custom.defer_loading", "output_config.effort"})
    assert "context_management" not in out
    assert not any("defer_loading" in tool for tool in out["tools"])
    assert out["output_config"] == {}
    assert out["tools"][1] == body["tools"][1]


def test_drop_path_understands_pydantic_union_tags_and_leaves_unmatched_paths_alone():
    messages = [{"role": "user", "content": [
        {"type": "text", "text": "hi", "citations": [{"type": "char_location"}]},
        {"type": "image", "source": {"type": "base64", "data": "x"}, "citations": "keep"},
    ]}]
    body = {"messages": messages}
    out = drop_path(body, "messages.*.content.*.text.citations")
    assert out["messages"][0]["content"][0] == {"type": "text", "text": "hi"}
    assert out["messages"][0]["content"][1]["citations"] == "keep"  # the tag names text blocks only
    assert drop_path(body, "messages.*.content.0.text.citations")["messages"][0]["content"][0] == {
        "type": "text", "text": "hi"}
    assert body["messages"][0]["content"][0]["citations"]  # copy-on-write
    assert drop_path(body, "nothing.here") is body
    assert drop_path(body, "messages.7.content") is body
    assert drop_path(body, "messages.*") is body  # whole list elements are never removed


def test_dropping_anthropic_beta_itself_removes_the_key():
    assert "anthropic_beta" not in translate(RICH_BODY, "x-2025-01-01", drop_fields={"anthropic_beta"})


# --- Claude Code's billing line ---------------------------------------------------------------------------


def test_billing_line_is_removed_but_text_sharing_its_block_is_kept():
    line = "x-anthropic-billing-header: cc_version=2.1.197.123; cc_entrypoint=sdk-cli;"
    body = {**RICH_BODY, "system": [{"type": "text", "text": f"{line}\nYou are Claude.",
                                     "cache_control": {"type": "ephemeral"}}]}
    assert translate(body)["system"] == [{"type": "text", "text": "You are Claude.",
                                          "cache_control": {"type": "ephemeral"}}]
    assert translate({**RICH_BODY, "system": f"{line}\nBe kind."})["system"] == "Be kind."
    assert "system" not in translate({**RICH_BODY, "system": line})
    assert "system" not in translate({**RICH_BODY, "system": [{"type": "text", "text": line}]})
    assert translate({**RICH_BODY, "system": "Mentions x-anthropic-billing-header: later"})["system"] == (
        "Mentions x-anthropic-billing-header: later")


# --- mid-conversation system messages -----------------------------------------------------------------------


def reminder(text: str) -> dict:
    return {"type": "text", "text": f"{REMINDER}{text}\n</system-reminder>"}


def user(*content) -> dict:
    return {"role": "user", "content": list(content)}


def assistant(*content) -> dict:
    return {"role": "assistant", "content": list(content)}


def system(content) -> dict:
    return {"role": "system", "content": content}


TEXT = {"type": "text", "text": "hello"}
ANSWER = {"type": "text", "text": "hi there"}
TOOL_USE = {"type": "tool_use", "id": "toolu_9", "name": "Read", "input": {}}
TOOL_RESULT = {"type": "tool_result", "tool_use_id": "toolu_9", "content": "ok", "cache_control": {"type": "ephemeral"}}


@pytest.mark.parametrize("messages, expected", [
    pytest.param([user(TEXT), system("S")], [user(TEXT, reminder("S"))], id="at-the-end-after-user"),
    pytest.param([system("S"), user(TEXT)], [user(reminder("S"), TEXT)], id="at-the-start"),
    pytest.param([user(TEXT), system("S"), assistant(ANSWER)], [user(TEXT, reminder("S")), assistant(ANSWER)],
                 id="between-user-and-assistant"),
    pytest.param([user(TEXT), assistant(TOOL_USE), system("S"), user(TOOL_RESULT, TEXT)],
                 [user(TEXT), assistant(TOOL_USE), user(TOOL_RESULT, reminder("S"), TEXT)],
                 id="before-a-tool-result-turn-goes-after-the-results"),
    pytest.param([user(TEXT), assistant(ANSWER), system("S")],
                 [user(TEXT), assistant(ANSWER), user(reminder("S"))], id="at-the-end-after-assistant"),
    pytest.param([user(TEXT), assistant(ANSWER), system("S"), assistant(ANSWER)],
                 [user(TEXT), assistant(ANSWER), user(reminder("S")), assistant(ANSWER)],
                 id="between-two-assistant-turns"),
    pytest.param([system("A"), system("B"), assistant(ANSWER)], [user(reminder("A"), reminder("B")),
                                                                 assistant(ANSWER)], id="only-system-then-assistant"),
    pytest.param([user(TEXT), system("A"), system("B")], [user(TEXT, reminder("A"), reminder("B"))],
                 id="consecutive-system-messages-keep-their-order"),
    pytest.param([{"role": "user", "content": "plain"}, system("S")],
                 [user({"type": "text", "text": "plain"}, reminder("S"))], id="string-user-content"),
    pytest.param([user(TEXT), system([{"type": "text", "text": "S", "cache_control": {"type": "ephemeral"}}])],
                 [user(TEXT, {**reminder("S"), "cache_control": {"type": "ephemeral"}})],
                 id="block-content-keeps-cache-control"),
    pytest.param([user(TEXT), system(""), assistant(ANSWER)], [user(TEXT), assistant(ANSWER)], id="empty"),
])
def test_mid_conversation_system_messages_fold_into_a_user_turn(messages, expected):
    before = copy.deepcopy(messages)
    assert fold_system_messages(messages) == expected
    assert messages == before
    assert_roles_alternate_from_user(expected)


def test_conversation_without_system_messages_is_the_same_list():
    messages = [user(TEXT), assistant(ANSWER)]
    assert fold_system_messages(messages) is messages
