"""Redaction shows at most a third of a secret, never more than three characters (issue 7
item 12: '12345' showed as '123***', most of it)."""

import pytest

from camaudit.model import Credential, redact


@pytest.mark.parametrize("secret, shown", [
    ("", "(empty)"), ("a", "***"), ("ab", "***"), ("123", "1***"), ("1234", "1***"),
    ("12345", "1***"), ("123456", "12***"), ("admin123", "ad***"), ("admin12345", "adm***"),
    ("a-very-long-passphrase", "a-v***"),
])
def test_at_most_a_third_is_shown(secret, shown):
    assert redact(secret) == shown
    visible = len(shown) - 3 if shown != "(empty)" else 0
    assert visible * 3 <= len(secret) and visible <= 3


def test_credential_redacted_form():
    assert Credential("http", 80, "admin", "12345").redacted() == "admin:1***"
