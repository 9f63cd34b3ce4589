// Drives the control plane's console page in headless Chromium: log in with the admin
// credential, create a store and see its keys once, reload and see them gone, upgrade the
// plan, delete the store. Prints what the page showed as JSON on success; exits 1 otherwise.
// Usage: node console.mjs <admin API base URL> <admin credential>
import { chromium } from "playwright-core";

const [base, credential] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_BIN || "/usr/bin/chromium",
  args: ["--no-sandbox"],
});
const fail = (message) => { console.error(message); process.exitCode = 1; };
try {
  const page = await browser.newPage();
  page.on("dialog", (dialog) => dialog.accept());
  await page.goto(`${base}/console`);
  await page.fill("#credential", credential);
  await page.click("#login");
  await page.click("#create");
  await page.waitForSelector("#created:not([hidden])");
  const id = await page.textContent("#created-id");
  const rootToken = await page.textContent("#created-root-token");
  const keys = await page.$$eval("#created-keys li", (items) => items.map((li) => li.textContent));
  const row = `tr[data-store="${id}"]`;
  await page.waitForSelector(row);

  await page.reload();
  await page.waitForSelector(row);
  const html = await page.content();
  const shownAfterReload = [rootToken, ...keys].filter((secret) => html.includes(secret));
  const createdHidden = await page.$eval("#created", (el) => el.hidden);

  await page.fill(`${row} .new-plan`, "pro");
  await page.click(`${row} .upgrade`);
  await page.waitForFunction(
    (sel) => document.querySelector(sel)?.children[2].textContent === "pro",
    row,
  );
  await page.click(`${row} .delete`);
  await page.waitForSelector(row, { state: "detached" });
  if (shownAfterReload.length > 0 || !createdHidden) {
    fail("the root token or keys are still shown after a reload");
  }
  console.log(JSON.stringify({ id, root_token: rootToken, keys, shown_after_reload: shownAfterReload.length }));
} catch (e) {
  fail(String(e));
} finally {
  await browser.close();
}
