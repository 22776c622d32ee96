"""The benchmark's cost model and DynamoDB unit arithmetic, against figures worked out by hand."""

import pytest

from bench import cost_model
from bench.aws_calls import item_size, read_units, write_units
from bench.cost_model import Inputs, PathCost

INPUTS = Inputs(
    requests=1_000_000, memory_mb=1024, answer_s=15.0, gateway_s=0.010, cold_start_fraction=0.01, init_s=1.0,
    fallback_fraction=0.1, plan=PathCost(0.5, 2, 3), bedrock=PathCost(0.0, 2, 3, kms_calls=0.01),
    rollup_plan_write_units=17, rollup_bedrock_write_units=20, rollup_memory_mb=256, rollup_s_per_event=0.02,
    rollup_events_per_invocation=2, secrets_calls_per_cold_start=1, log_bytes=1600, platform_log_bytes=400,
    stored_bytes=2400, request_body_bytes=150_000, answer_bytes=20_000,
)

# By hand, per million requests:
HAND = {
    "proxy duration (the answer streams through it)": 1e6 * 15.010 * 1 * 0.0000133334,      # 200.134334
    "proxy cold starts (init is billed)": 10_000 * 1.0 * 1 * 0.0000133334,                   # 0.133334
    "requests: proxy + rollup": 1_500_000 * 0.20 / 1e6,                                      # 0.30
    "rollup duration": 1e6 * 0.020 * 0.25 * 0.0000133334,                                    # 0.066667
    "proxy writes (usage event + its indexes, key last-used)": 5_000_000 * 0.625 / 1e6,      # 3.125
    "rollup writes (one transaction per event + index)": 17_300_000 * 0.625 / 1e6,           # 10.8125
    "proxy reads (key, user, breaker re-reads)": 450_000 * 0.125 / 1e6,                       # 0.05625
    "Decrypt of stored Bedrock credentials": 1_000 * 0.03 / 10_000,                           # 0.003
    "the pepper, once per instance": 10_000 * 0.05 / 10_000,                                  # 0.05
    "logs ingested (request log + EMF metrics + Lambda's lines)": 2e9 / 2**30 * 0.50,         # 0.931323
    "out to the internet: bodies to Anthropic, answers to developers": 1.7e11 / 2**30 * 0.09,  # 14.249230
}


def test_each_line_item_matches_the_hand_computed_dollars():
    items = {item.what: item.usd for item in cost_model.line_items(INPUTS)}
    assert items.keys() == HAND.keys()
    for what, usd in HAND.items():
        assert items[what] == pytest.approx(usd, rel=1e-9), what


def test_total_is_the_sum_of_the_items():
    assert cost_model.total(cost_model.line_items(INPUTS)) == pytest.approx(229.861638, abs=1e-5)


def test_lambda_duration_scales_with_memory_and_answer_time():
    half = cost_model.line_items(Inputs(memory_mb=512, answer_s=15.0))[0]
    assert half.usd == pytest.approx(1e6 * 15.0 * 0.5 * 0.0000133334)
    assert "1,000,000 × (15 s + 0.0 ms) × 0.5 GB = 7,500,000 GB-s" in half.formula


def test_formulas_show_the_numbers_they_multiply():
    items = {item.what: item for item in cost_model.line_items(INPUTS)}
    assert items["proxy writes (usage event + its indexes, key last-used)"].formula == (
        "1,000,000 × (0.9 × 5 + 0.1 × 5) WRU = 5,000,000 WRU × $0.625/M")
    assert items["rollup writes (one transaction per event + index)"].formula == (
        "1,000,000 × (0.9 × 17 + 0.1 × 20) WRU = 17,300,000 WRU × $0.625/M")


def test_storage_of_a_million_events_per_month():
    assert cost_model.stored_bytes(1000, 1100) == 2400  # the item, its index copies, 100 bytes overhead each
    storage = cost_model.storage_per_month(INPUTS)
    assert storage.usd == pytest.approx(1e6 * 2400 / 2**30 * 0.25)  # 0.558794


def test_rendered_table_has_every_item_and_the_total():
    text = "\n".join(cost_model.render(INPUTS))
    assert text.count("\n| ") == len(HAND) + 2  # the header, the items, the total
    assert "**$229.86**" in text and cost_model.PRICES_AS_OF in text


def test_dynamodb_item_sizes_follow_its_rules():
    assert item_size({"a": {"S": "hello"}}) == 6              # name + UTF-8 bytes
    assert item_size({"n": {"N": "123.45"}}) == 1 + 4         # 5 significant digits: ceil(5/2) + 1
    assert item_size({"n": {"N": "1000"}}) == 1 + 2           # trailing zeros do not count
    assert item_size({"flag": {"BOOL": True}}) == 4 + 1
    assert item_size({"m": {"M": {"k": {"S": "v"}}}}) == 1 + 3 + (1 + 1 + 1)
    assert item_size({"b": {"B": b"\x00\x01\x02"}}) == 1 + 3


def test_request_units():
    assert write_units(1024) == 1 and write_units(1025) == 2
    assert write_units(1025, transactional=True) == 4
    assert write_units(0) == 1                               # every write costs at least one unit
    assert read_units(4096, consistent=False) == 0.5
    assert read_units(4097, consistent=True) == 2.0
    assert read_units(0, consistent=False) == 0.5            # a miss is still read
