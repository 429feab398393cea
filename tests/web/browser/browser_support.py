"""Helpers of the browser tests (a module of its own name: the tests directories have no packages)."""

from __future__ import annotations

from typing import Any

LAB_PREFIX = "127.75.200"  # this family's network is 127.75.200.0/21 (tests/README.md)


def login(page, server: Any, username: str) -> None:
    page.goto(f"{server.url}/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(server.passwords[username])
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_load_state("networkidle")
    assert "/login" not in page.url, f"{username} could not log in: {page.content()[:500]}"
