"""One headless Chromium session, driven by a plan, run inside a lab client's network namespace.

The browser must be that client (the portal names a client by its address), and chromedriver talks
to Chromium over a local port, so the whole session runs in the namespace:

    ip netns exec NS python -m tests.browser.session PLAN.json   # prints one JSON list of results

A plan: {"lang": "en-US", "width": 390, "height": 844, "mobile": false, "steps": [...]}, each step one of
    {"get": url}                          open a URL
    {"fill": css, "text": s}              type into a field (cleared first)
    {"click": css}                        click (then {"accept": true} for a confirm dialog)
    {"accept": true}                      accept the open dialog
    {"wait": css, "text": s?, "timeout": s?}   until the element (with that text) is there
    {"text": css}                         the element's text
    {"count": css}                        how many elements match
    {"url": true}                         the current URL
    {"eval": js}                          the value of a script's `return`
    {"shot": path}                        a PNG screenshot of the whole page
Results are in the order of the steps (null for those that return nothing). A failing step stops the
plan: its error is the last result, as {"error": "..."}, with a screenshot next to the plan file.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-quic", "--no-default-browser-check", "--hide-scrollbars"]


def driver(lang: str, width: int, height: int, profile: str) -> webdriver.Chrome:
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for flag in FLAGS + [f"--user-data-dir={profile}", f"--window-size={width},{height}", f"--lang={lang}"]:
        opts.add_argument(flag)
    opts.add_experimental_option("prefs", {"intl.accept_languages": lang})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)


def shot(d: webdriver.Chrome, path: str, mobile: bool = False) -> None:
    height = d.execute_script("return Math.max(document.body.scrollHeight, window.innerHeight)")
    width = d.execute_script("return window.innerWidth")
    if mobile:
        d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
            "width": width, "height": min(int(height) + 40, 4000), "deviceScaleFactor": 1, "mobile": True})
    else:
        d.set_window_size(width, min(int(height) + 120, 4000))
    time.sleep(0.2)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    d.save_screenshot(path)


def step(d: webdriver.Chrome, s: dict, mobile: bool = False):
    timeout = s.get("timeout", 10)
    if "get" in s:
        d.get(s["get"])
    elif "fill" in s:
        el = WebDriverWait(d, timeout).until(ec.element_to_be_clickable((By.CSS_SELECTOR, s["fill"])))
        el.clear()
        el.send_keys(s["text"])
    elif "click" in s:
        WebDriverWait(d, timeout).until(ec.element_to_be_clickable((By.CSS_SELECTOR, s["click"]))).click()
    elif "accept" in s:
        WebDriverWait(d, timeout).until(ec.alert_is_present()).accept()
    elif "wait" in s:
        # A page that is replaced while it is read (a form's redirect, the page's own refresh) answers
        # "node does not belong to the document" once: look again until the timeout.
        wait = WebDriverWait(d, timeout, ignored_exceptions=(WebDriverException,))
        if "text" in s:
            wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, s["wait"]), s["text"]))
        else:
            wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, s["wait"])))
    elif "text" in s:
        return d.find_element(By.CSS_SELECTOR, s["text"]).text
    elif "count" in s:
        return len(d.find_elements(By.CSS_SELECTOR, s["count"]))
    elif "url" in s:
        return d.current_url
    elif "eval" in s:
        return d.execute_script(s["eval"])
    elif "shot" in s:
        shot(d, s["shot"], mobile)
    else:
        raise ValueError(f"unknown step {s}")
    return None


def run(plan_path: str) -> list:
    plan = json.loads(Path(plan_path).read_text())
    results: list = []
    with tempfile.TemporaryDirectory(prefix="hs-chromium-") as profile:
        d = driver(plan.get("lang", "en-US"), plan.get("width", 390), plan.get("height", 844), profile)
        if plan.get("mobile"):  # a phone's screen, for CSS that asks the device's width
            d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
                "width": plan["width"], "height": plan["height"], "deviceScaleFactor": 1, "mobile": True})
        try:
            for s in plan["steps"]:
                try:
                    results.append(step(d, s, plan.get("mobile", False)))
                except Exception as e:  # the test reads the error; the screenshot shows the page
                    first = (str(e).splitlines() or [""])[0]
                    results.append({"error": f"{s}: {type(e).__name__}: {first}"})
                    try:
                        shot(d, str(Path(plan_path).with_suffix(".failed.png")))
                    except Exception:
                        pass
                    break
        finally:
            d.quit()
    return results


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1])))
