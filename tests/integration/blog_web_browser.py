#!/usr/bin/python3
"""Drive the demo's blog page in headless Chromium (Selenium + chromedriver, Debian packages).

  blog_web_browser.py URL MODERATION_SCRIPT SCREENSHOT

Publishes a post through the page's form, comments twice (one mentions oranges), asserts both
comments show as pending at once and then rejected (with the reason) / approved without a
reload; then stops the moderation service (MODERATION_SCRIPT stop), comments, sees it stay
pending, restarts it (MODERATION_SCRIPT start) and sees the comment resolve. Prints one line per
check ("ok: ..." / "FAIL: ...") and exits 1 on the first failure, after a screenshot.
"""
import subprocess
import sys
import time
import uuid

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

URL, MODERATION, SHOT = sys.argv[1], sys.argv[2], sys.argv[3]
PENDING_WITHIN = 5      # seconds: the 202 answer alone shows the comment
RESOLVED_WITHIN = 45    # seconds: relay -> Kafka -> projector -> moderation -> ... -> SSE


def main():
    opts = Options()
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1000,900"):
        opts.add_argument(a)
    opts.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    failed = False
    try:
        run(driver)
    except AssertionError as e:
        print("FAIL: %s" % e, flush=True)
        failed = True
    finally:
        driver.save_screenshot(SHOT)
        print("screenshot: %s" % SHOT, flush=True)
        driver.quit()
    sys.exit(1 if failed else 0)


def ok(what):
    print("ok: %s" % what, flush=True)


def wait(driver, secs, what, cond):
    t0 = time.time()
    try:
        WebDriverWait(driver, secs, poll_frequency=0.1).until(lambda d: cond(d))
    except Exception:
        raise AssertionError("%s: not within %d s" % (what, secs))
    ok("%s (%.1f s)" % (what, time.time() - t0))


def comment(driver, title, text):
    """Fill and submit the post's comment form; again if the post was re-rendered meanwhile."""
    for attempt in range(5):
        try:
            form = post_of(driver, title).find_element(By.CSS_SELECTOR, "form.new-comment")
            form.find_element(By.NAME, "author").send_keys("Browser Test")
            form.find_element(By.NAME, "text").send_keys(text)
            form.find_element(By.TAG_NAME, "button").click()
            return
        except StaleElementReferenceException:
            time.sleep(0.2)
    raise AssertionError("could not submit the comment form (re-rendered each time)")


# Read the page in one script call: the page re-renders a post when the stream says so, so
# element handles go stale between calls.
FIND = """
const [title, text, what] = arguments;
for (const post of document.querySelectorAll('.post')) {
  if (post.querySelector('h2').textContent !== title) continue;
  for (const li of post.querySelectorAll('li.comment'))
    if (li.querySelector('.text').textContent === text) {
      if (what === 'status') return li.dataset.status;
      const r = li.querySelector('.reason');
      return r ? r.textContent : null;
    }
}
return null;
"""


def status_of(driver, title, text):
    return driver.execute_script(FIND, title, text, "status")


def reason_of(driver, title, text):
    return driver.execute_script(FIND, title, text, "reason")


def post_of(driver, title):
    for p in driver.find_elements(By.CSS_SELECTOR, ".post"):
        if p.find_element(By.TAG_NAME, "h2").text == title:
            return p
    raise AssertionError("the post %s is on the page" % title)


def run(driver):
    driver.get(URL)
    wait(driver, 15, "the page is connected to the event stream",
         lambda d: d.find_element(By.ID, "stream").text == "(live)")
    driver.execute_script("window.__notReloaded = true;")
    title = "Browser test " + str(uuid.uuid4())[:8]
    form = driver.find_element(By.ID, "new-post")
    form.find_element(By.NAME, "author").send_keys("Browser Test")
    form.find_element(By.NAME, "title").send_keys(title)
    form.find_element(By.NAME, "body").send_keys("Posted by headless Chromium.")
    form.find_element(By.TAG_NAME, "button").click()
    wait(driver, RESOLVED_WITHIN, "the new post appears when its PostCreated is applied",
         lambda d: any(h.text == title for h in d.find_elements(By.CSS_SELECTOR, ".post h2")))

    orange, nice = "I love oranges, really", "A fine post"
    comment(driver, title, orange)
    wait(driver, PENDING_WITHIN, "the orange comment shows pending at once",
         lambda d: status_of(d, title, orange) == "pending")
    comment(driver, title, nice)
    wait(driver, PENDING_WITHIN, "the other comment shows pending at once",
         lambda d: status_of(d, title, nice) in ("pending", "approved"))
    wait(driver, RESOLVED_WITHIN, "the orange comment turns rejected",
         lambda d: status_of(d, title, orange) == "rejected")
    reason = reason_of(driver, title, orange) or ""
    assert "mentions oranges" in reason, "the rejection shows its reason: %r" % reason
    ok("... with the reason %s" % reason)
    wait(driver, RESOLVED_WITHIN, "the other comment turns approved",
         lambda d: status_of(d, title, nice) == "approved")

    subprocess.run(["bash", MODERATION, "stop"], check=True)
    ok("the moderation service is stopped")
    late = "Written while moderation was down"
    comment(driver, title, late)
    wait(driver, PENDING_WITHIN, "a comment written meanwhile shows pending",
         lambda d: status_of(d, title, late) == "pending")
    time.sleep(3)
    assert status_of(driver, title, late) == "pending", "it stays pending while moderation is down"
    ok("... and stays pending while moderation is down")
    subprocess.run(["bash", MODERATION, "start"], check=True)
    ok("the moderation service is restarted")
    wait(driver, RESOLVED_WITHIN + 30, "the pending comment resolves to approved",
         lambda d: status_of(d, title, late) == "approved")
    assert driver.execute_script("return window.__notReloaded === true;"), "the page was reloaded"
    ok("the page was never reloaded")


if __name__ == "__main__":
    main()
