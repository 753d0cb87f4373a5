"""Helpers shared by the browser tests (no fixtures here: see conftest.py)."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from educompte.demo.services import DEMO_PASSWORD


def sign_in(page: Page, username: str, password: str = DEMO_PASSWORD) -> None:
    page.goto("/portail/")
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Se connecter").click()
    expect(page.get_by_role("heading", name="Portail des personnels")).to_be_visible()
