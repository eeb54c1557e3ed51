// What every browser test of danbao shares: headless Debian Chromium with
// the flags CI runs it with, and a check helper.
import { chromium } from "playwright-core";

// launch starts Chromium: /usr/bin/chromium unless CHROMIUM names another.
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
    ],
  });
}

// check throws when cond is false, naming what was checked.
export function check(cond, what) {
  if (!cond) throw new Error("check failed: " + what);
}
