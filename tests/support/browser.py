"""Debian's Chromium driven by Playwright: headless, no background networking, audio allowed without a
click (the alarm test listens for the tone), and an operator signed in through the real sign-in form."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, Page, Playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-domain-reliability",
    "--disable-sync",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--metrics-recording-only",
    "--disable-breakpad",
    "--autoplay-policy=no-user-gesture-required",
    "--disable-dev-shm-usage",
]


def launch(pw: Playwright) -> Browser:
    if not Path(CHROMIUM).exists():
        raise RuntimeError("Chromium is not installed: run scripts/test.sh (it installs Debian's chromium)")
    return pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)


def sign_in(browser: Browser, base: str, username: str, password: str, lang: str | None = None) -> Page:
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = context.new_page()
    if lang is not None:
        page.add_init_script(f"localStorage.setItem('sharpeyes.lang', {lang!r})")
    page.goto(f"{base}/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/ui/")
    page.wait_for_selector("body[data-ready='1']")
    page.wait_for_selector("#live-status[data-state='live']")
    return page
