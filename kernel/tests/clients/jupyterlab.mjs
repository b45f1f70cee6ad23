// Drives JupyterLab in headless Chromium (Playwright) as a user would: open the notebook,
// pick "Rust (paralelo)" in the kernel dialog, Run → Run All Cells, then check the page:
// every code cell has an execution count, the timing tables are HTML <table>s, the progress
// display shows its last value, the speedup charts are SVG, no cell shows an error. Saves
// screenshots for a person.
//
// Usage: node jupyterlab.mjs BASE_URL TOKEN NOTEBOOK EXPECTED_JSON OUT_DIR PROFILE_DIR
// (run by jupyterlab.sh, with NODE_PATH pointing at the node_modules holding playwright-core)
import { createRequire } from "node:module";
import { readFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";

const [base, token, notebook, expectedFile, outDir, profileDir] = process.argv.slice(2);
const require = createRequire(join(process.env.NODE_PATH, "..", "package.json"));
const { chromium } = require("playwright-core");
const expected = JSON.parse(readFileSync(expectedFile, "utf8"));

// Bounds against hangs, not expectations of speed.
const PAGE_TIMEOUT = 120_000;
const RUN_ALL_TIMEOUT = Number(process.env.PARALELO_RUN_ALL_TIMEOUT_MS ?? 600_000);

const failures = [];
function check(ok, what) {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
}

// A fresh profile (Playwright passes it as --user-data-dir).
mkdirSync(profileDir, { recursive: true });
const browser = await chromium.launchPersistentContext(profileDir, {
  executablePath: "/usr/bin/chromium",
  headless: true,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
  viewport: { width: 1400, height: 1600 },
  timeout: PAGE_TIMEOUT,
});
let page;
try {
  page = browser.pages()[0] ?? (await browser.newPage());
  page.setDefaultTimeout(PAGE_TIMEOUT);
  page.on("pageerror", (error) => console.log(`page error: ${error.message}`));

  await page.goto(`${base}/lab/tree/${encodeURIComponent(notebook)}?token=${token}`);

  // The notebook names no kernel or language: JupyterLab asks which kernel to start. (If it
  // started one anyway, Kernel → Change Kernel… opens the same dialog.) Pick ours by name.
  const dialog = page.locator(".jp-Dialog");
  await page.locator(".jp-NotebookPanel").waitFor();
  const asked = await dialog.waitFor({ timeout: 30_000 }).then(() => true, () => false);
  if (!asked) {
    console.log("no kernel dialog: using Kernel → Change Kernel…");
    await page.locator(".lm-MenuBar-item", { hasText: /^Kernel$/ }).click();
    await page.locator(".lm-Menu-item", { has: page.locator(".lm-Menu-itemLabel", { hasText: /^Change Kernel/ }) }).click();
    await dialog.waitFor();
  }
  await dialog.locator("select").selectOption({ label: "Rust (paralelo)" });
  await dialog.locator("button.jp-mod-accept").click();
  await dialog.waitFor({ state: "detached" });
  const kernelName = page.locator(".jp-NotebookPanel-toolbar .jp-Toolbar-kernelName");
  await page.waitForFunction(
    () => document.querySelector(".jp-NotebookPanel-toolbar .jp-Toolbar-kernelName")
      ?.textContent.includes("Rust (paralelo)"),
  );
  check((await kernelName.textContent()).includes("Rust (paralelo)"), "kernel is Rust (paralelo)");

  // The kernel has started (its first reply makes the status idle).
  await page.waitForFunction(
    () => document.querySelector(".jp-NotebookPanel-toolbar .jp-Notebook-ExecutionIndicator, .jp-Notebook-ExecutionIndicator")
      ?.getAttribute("data-status") === "idle",
  );

  // Run → Run All Cells, through the menu bar.
  await page.locator(".lm-MenuBar-item", { hasText: /^Run$/ }).click();
  await page.locator(".lm-Menu-item", { has: page.locator(".lm-Menu-itemLabel", { hasText: /^Run All Cells$/ }) }).click();

  // Done when the kernel is idle with no cell queued ([*]:), and either every code cell shows
  // [n]: or an error is shown (JupyterLab does not run the cells after a failing one).
  await page.waitForFunction(
    (count) => {
      const prompts = [...document.querySelectorAll(".jp-Notebook .jp-CodeCell .jp-InputPrompt")]
        .map((p) => p.textContent.trim());
      const status = document.querySelector(".jp-Notebook-ExecutionIndicator")?.getAttribute("data-status");
      const failed = document.querySelector(
        '.jp-Notebook .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]');
      return status === "idle" && !prompts.includes("[*]:")
        && ((prompts.length === count && prompts.every((p) => /^\[\d+\]:$/.test(p))) || failed !== null);
    },
    expected.codeCells,
    { timeout: RUN_ALL_TIMEOUT, polling: 500 },
  ).catch(async (error) => {
    const shown = await page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt").allTextContents();
    await page.screenshot({ path: join(outDir, "jupyterlab-timeout.png") });
    throw new Error(`Run All did not finish (prompts: ${shown.join(" ")}): ${error.message}`);
  });

  const prompts = await page.locator(".jp-Notebook .jp-CodeCell .jp-InputPrompt").allTextContents();
  const counts = prompts.map((p) => p.trim());
  check(
    counts.length === expected.codeCells && counts.every((p) => /^\[\d+\]:$/.test(p)),
    `every code cell has an execution count: ${counts.join(" ")}`,
  );

  const tables = page.locator('.jp-Notebook .jp-OutputArea-output[data-mime-type="text/html"] table');
  const tableCount = await tables.count();
  check(tableCount === expected.htmlTables,
    `timing tables rendered as HTML <table>s: ${tableCount} of ${expected.htmlTables}`);

  const cells = page.locator(".jp-Notebook .jp-CodeCell");
  for (const { cell, text } of expected.progress) {
    // Read at once: the run is over, so waiting would only delay a failure.
    if (text === null) {
      // paralelo's bar: one HTML display, updated in place until its <progress> is full.
      const bars = cells.nth(cell).locator(".jp-OutputArea-output .paralelo-progress progress");
      const count = await bars.count();
      const [value, max] = count
        ? [await bars.first().getAttribute("value"), await bars.first().getAttribute("max")]
        : [null, null];
      check(count === 1 && value !== null && value === max,
        `progress bar of code cell ${cell + 1}: one bar, ends full (${count} bars, ${value}/${max})`);
      continue;
    }
    const outputs = cells.nth(cell).locator('.jp-OutputArea-output[data-mime-type="text/plain"]');
    const shown = (await outputs.count()) ? await outputs.first().innerText() : "(no output)";
    check(shown.trim() === text.trim(),
      `progress display of code cell ${cell + 1} ends at its last value: ${JSON.stringify(shown.trim())}`);
  }

  // `TimingTable::plot()` as an SVG chart (the kernel preloads paralelo's `plot` feature).
  const plots = page.locator('.jp-Notebook .jp-OutputArea-output[data-mime-type="image/svg+xml"]');
  const plotCount = await plots.count();
  check(plotCount === expected.svgPlots,
    `speedup charts rendered as SVG: ${plotCount} of ${expected.svgPlots}`);

  // Errors and stderr both render as application/vnd.jupyter.stderr; the lesson has neither.
  const errors = page.locator('.jp-Notebook .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]');
  const errorTexts = await errors.allInnerTexts();
  check(errorTexts.length === expected.stderrOutputs,
    `no cell shows an error: ${errorTexts.length} error/stderr outputs` +
    (errorTexts.length ? `\n${errorTexts.join("\n---\n").slice(0, 2000)}` : ""));

  await tables.first().scrollIntoViewIfNeeded();
  await page.screenshot({ path: join(outDir, "jupyterlab.png") });
  // JupyterLab paints cells lazily as they scroll into view (its notebook windowing): a page
  // screenshot right after scrolling can catch them blank, so shoot the cell itself, which
  // waits until it is visible and stable, after two frames have been painted.
  const shoot = async (cell, file) => {
    await cell.scrollIntoViewIfNeeded();
    await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
    await cell.screenshot({ path: join(outDir, file) });
  };
  if (expected.progress.length) await shoot(cells.nth(expected.progress[0].cell), "jupyterlab-progress.png");
  if (plotCount) await shoot(plots.first(), "jupyterlab-plot.png");
  console.log(`screenshots: ${join(outDir, "jupyterlab.png")}, ${join(outDir, "jupyterlab-progress.png")}` +
    (plotCount ? `, ${join(outDir, "jupyterlab-plot.png")}` : ""));
} catch (error) {
  if (page) await page.screenshot({ path: join(outDir, "jupyterlab-failure.png") }).catch(() => {});
  failures.push(String(error?.stack ?? error));
  console.log(`FAIL ${error?.stack ?? error}`);
} finally {
  await browser.close();
}
if (failures.length) {
  console.log(`jupyterlab: ${failures.length} check(s) failed`);
  process.exit(1);
}
