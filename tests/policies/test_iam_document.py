"""The policy-document evaluator (iam_document.py): inclusion of glob languages, principals and
conditions, checked against the meaning of IAM's matching rules."""

from __future__ import annotations

import pytest

from policies.tradesense_rules import iam_document as d


@pytest.mark.parametrize("pattern,target,expected", [
    ("*", d.EVERY_ARN, True),
    ("arn:*", d.EVERY_ARN, True),
    ("arn:*:*:*:*:*", d.EVERY_ARN, True),
    ("arn:aws:*", "arn:aws:%:%:%:*", True),
    ("arn:aws:*", d.EVERY_ARN, False),  # other partitions
    ("arn:aws:iam::*:*", "arn:aws:iam::%:*", True),
    ("arn:aws:iam::*:role/*", "arn:aws:iam::%:role/*", True),
    ("arn:aws:iam::*:role/app-*", "arn:aws:iam::%:role/*", False),
    ("arn:aws:s3:::logs*", d.EVERY_ARN, False),
    ("arn:aws:*:*:*:*/*", "arn:aws:%:%:%:*", False),  # misses resources without a '/'
    ("arn:aws:?*", "arn:aws:%:%:%:*", True),
])
def test_arn_coverage_is_language_inclusion(pattern, target, expected):
    assert d.covers(pattern, target) is expected


@pytest.mark.parametrize("pattern,target,expected", [
    ("*", d.EVERY_ACTION, True), ("*:*", d.EVERY_ACTION, True), ("IAM:*", "iam:%", True), ("i?m:*", "iam:%", True),
    ("iam:Pass*", "iam:%", False), ("iam:Pass*", "iam:passrole", True), ("*Role", "iam:passrole", True), ("s3:*", "iam:passrole", False),
])
def test_action_coverage_is_case_insensitive(pattern, target, expected):
    assert d.action_covers(pattern, target) is expected


def test_principals():
    assert d.everyone("*") and d.everyone({"AWS": "*"}) and d.everyone({"AWS": ["arn:aws:iam::1:root", "*"]})
    assert not d.everyone({"AWS": "arn:aws:iam::1:root"}) and not d.everyone({"Service": "*"}) and not d.everyone(None)


@pytest.mark.parametrize("condition,expected", [
    (None, False),
    ({"StringEquals": {"aws:PrincipalOrgID": "o-1"}}, True),
    ({"StringLike": {"aws:SourceArn": "*"}}, False),
    ({"StringLike": {"aws:SourceArn": "arn:aws:sns:*"}}, False),  # a wildcard does not pin the caller
    ({"Bool": {"aws:SecureTransport": ["true", "false"]}}, False),
    ({"StringEqualsIfExists": {"aws:SourceVpce": "vpce-1"}}, False),
    ({"ForAllValues:StringEquals": {"aws:PrincipalOrgID": ["o-1"]}}, False),
    ({"StringNotEquals": {"aws:PrincipalAccount": "1"}}, False),
    ({"IpAddress": {"aws:SourceIp": ["0.0.0.0/1", "128.0.0.0/1"]}}, False),
    ({"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}, True),
    ({"Null": {"aws:SourceVpce": ["true", "false"]}}, False),
    ({"StringEquals": {"s3:prefix": "x"}}, False),  # not a caller-identifying key
])
def test_narrowing_conditions(condition, expected):
    assert d.narrowing(condition) is expected


def test_statements_parse_every_shape():
    (single,) = d.parse('{"Statement": {"Effect": "Allow", "Action": "s3:*", "NotResource": "arn:aws:s3:::x"}}')
    assert single.not_resources == ("arn:aws:s3:::x",) and single.on_every(d.EVERY_ARN)
    assert d.parse("not json") == [] and d.parse({"Statement": [1, "x"]}) == []
