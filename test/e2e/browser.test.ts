/**
 * Browser mode end to end: a generated library of three visually distinct groups is organized, then edited with a
 * real mouse (drag a photo, merge albums), renamed, undone, reloaded; nothing may leave 127.0.0.1.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';
import {
  CHROMIUM,
  CHROMIUM_ARGS,
  ensureRendererBuilt,
  generatePhotos,
  launchCli,
  mouseDrag as mouseDragOn,
  saveArtifact,
  until as untilPage,
  type BrowserMode,
} from '../../bench/fixtures/browser.js';
import { DEFAULT_ENCODER_ID } from '../../electron/core/encoders.js';
import { requireModel } from '../helpers/models.js';

/** The real `shoebox serve` CLI over the real core (the bundled encoder must be built: the test fails otherwise). */
const launch = launchCli;

const PER_GROUP = 80;
const skip = existsSync(CHROMIUM) ? false : `Chromium not installed at ${CHROMIUM} (apt-get install -y chromium)`;

describe('browser mode', { skip, timeout: 480_000 }, () => {
  let dir: string;
  let app: BrowserMode;
  let browser: Browser;
  let page: Page;
  const hosts = new Set<string>();
  const problems: string[] = [];

  before(async () => {
    requireModel();
    dir = await mkdtemp(path.join(tmpdir(), 'shoebox-e2e-'));
    await Promise.all([ensureRendererBuilt(), generatePhotos(path.join(dir, 'photos'), PER_GROUP)]);
    app = await launch(path.join(dir, 'photos'), path.join(dir, 'library'));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await context.newPage();
    page.setDefaultTimeout(20_000);
    page.on('request', (request) => hosts.add(new URL(request.url()).host.replace(/:\d+$/, '')));
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const sidebar = () => page.getByRole('navigation', { name: 'Albums' });
  const albumButton = (name: string) => sidebar().getByRole('button', { name: new RegExp(`^${name}, `) });
  const grid = () => page.getByRole('grid');

  /** Album name -> photo count, read from the accessible names of the sidebar buttons ("Name, 1,234 photos"). */
  async function albumCounts(): Promise<Map<string, number>> {
    const labels = await sidebar()
      .locator('button[aria-label]')
      .evaluateAll((buttons) => buttons.map((b) => b.getAttribute('aria-label') ?? ''));
    const counts = new Map<string, number>();
    for (const label of labels) {
      const match = /^(.*), ([\d,]+) photos?$/.exec(label);
      if (match) counts.set(match[1], Number(match[2].replace(/,/g, '')));
    }
    return counts;
  }

  /** Polls until `check` passes (the UI updates asynchronously after each edit). */
  async function eventually(
    what: string,
    check: (counts: Map<string, number>) => boolean,
    timeoutMs = 20_000,
  ): Promise<Map<string, number>> {
    const deadline = Date.now() + timeoutMs;
    let counts = await albumCounts();
    while (!check(counts)) {
      if (Date.now() > deadline) assert.fail(`${what}: albums are ${JSON.stringify([...counts])}`);
      await page.waitForTimeout(100);
      counts = await albumCounts();
    }
    return counts;
  }

  const until = (what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> => untilPage(page, what, check, timeoutMs);
  const mouseDrag = (source: Locator, target: Locator): Promise<boolean> => mouseDragOn(page, source, target);

  let names: string[] = [];
  const counts = new Map<string, number>();

  it('organizes the library into albums, showing job progress', async (t) => {
    t.diagnostic('browser mode via `shoebox serve` (real core)');
    await page.goto(app.url);
    assert.equal(new URL(page.url()).search, '', 'the token is removed from the address bar');
    await page.getByRole('banner').waitFor();
    const organize = page.getByRole('button', { name: /^(Organize|Re-organize)$/ });
    const jobs = page.getByRole('region', { name: 'Jobs' });
    // `serve` starts organizing by itself; if that job finished before we looked, organizing again still shows
    // progress.
    const enabled = () => organize.isEnabled({ timeout: 100 }).catch(() => false);
    await until('the library to load', async () => (await jobs.isVisible()) || (await enabled()), 60_000);
    if (!(await jobs.isVisible())) await organize.click();

    // A stage may start indeterminate (total not known yet); wait for one with a total.
    const progress = jobs.getByRole('progressbar').first();
    await progress.waitFor();
    const counted = jobs.locator('[role=progressbar][aria-valuemax], progress[aria-valuemax]').first();
    await counted.waitFor();
    assert.ok(Number(await counted.getAttribute('aria-valuemax')) > 0, 'the progress bar has a total');
    assert.ok(Number(await counted.getAttribute('aria-valuenow')) >= 0, 'and a current value');
    // The organize's steps, the current one marked, and the time left in all (not only the stage's).
    const steps = jobs.getByRole('list', { name: 'Steps' });
    await steps.waitFor();
    assert.deepEqual(
      await steps
        .getByRole('listitem')
        .allInnerTexts()
        .then((t) =>
          t.map((x) =>
            x
              .replace(/^[✓–•]\s*/, '')
              .replace(/ \(not needed\)$/, '')
              .trim(),
          ),
        ),
      ['Find photos', 'Look at photos', 'Make albums', 'Refine'],
    );
    assert.equal(await steps.locator('[aria-current=step]').count(), 1, 'one step is the current one');
    assert.match((await jobs.getByLabel('Time left in all').first().textContent()) ?? '', /left in all|Estimating/);
    await saveArtifact('browser-progress-steps.png', await page.screenshot());
    await jobs.getByRole('button', { name: 'Cancel' }).waitFor();
    await jobs.waitFor({ state: 'detached', timeout: 180_000 });

    const organized = await eventually('three albums appear', (c) => [...c.keys()].filter((n) => n !== 'Unsorted').length >= 3);
    names = [...organized.entries()]
      .filter(([name, n]) => name !== 'Unsorted' && n > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([name]) => name);
    for (const [name, n] of organized) counts.set(name, n);
    const total = [...organized.values()].reduce((a, b) => a + b, 0);
    assert.equal(total, 3 * PER_GROUP, 'every photo is in exactly one album');
    await grid().getByRole('img').first().waitFor();
  });

  it('moves a photo to another album by dragging it with the mouse', async () => {
    const [a, b] = names;
    await albumButton(a).click();
    await page.getByRole('heading', { name: a, exact: true }).waitFor();
    const photo = grid().getByRole('img').first();
    await photo.waitFor();
    const fileName = await photo.getAttribute('alt');
    assert.match(fileName ?? '', /^IMG_\d{4}\.jpg$/, 'thumbnails are labelled with their file name');

    const highlighted = await mouseDrag(photo, albumButton(b));
    assert.ok(highlighted, 'the album under the pointer is highlighted as a drop target');
    const after = await eventually(
      'counts change after the drop',
      (c) => c.get(a) === counts.get(a)! - 1 && c.get(b) === counts.get(b)! + 1,
    );
    for (const [name, n] of after) counts.set(name, n);
    // The grid refetches the album's pages after the edit; the photo is gone once its page is back.
    await until(
      'the photo to leave the open album',
      async () => (await grid().getByRole('img', { name: fileName!, exact: true }).count()) === 0,
    );
    await page.getByRole('button', { name: /^Undo Move 1 photo/ }).waitFor();
  });

  it('renames an album in place', async () => {
    const b = names[1];
    await albumButton(b).dblclick();
    const input = sidebar().getByRole('textbox', { name: 'Album name' });
    await input.fill('Holiday');
    await input.press('Escape');
    await albumButton(b).waitFor();
    await albumButton(b).dblclick();
    await sidebar().getByRole('textbox', { name: 'Album name' }).fill('Holiday');
    await sidebar().getByRole('textbox', { name: 'Album name' }).press('Enter');
    await albumButton('Holiday').waitFor();
    counts.set('Holiday', counts.get(b)!);
    counts.delete(b);
    names[1] = 'Holiday';
  });

  it('merges an album into another by dropping it there, after confirming', async () => {
    const [, holiday, c] = names;
    await mouseDrag(albumButton(c), albumButton(holiday));
    const dialog = page.getByRole('dialog', { name: 'Merge albums' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Merge' }).click();
    await eventually('the merged album disappears', (m) => !m.has(c) && m.get(holiday) === counts.get(holiday)! + counts.get(c)!);
  });

  it('undoes the merge with Ctrl+Z and offers redo', async () => {
    const [, holiday, c] = names;
    await page.locator('body').click({ position: { x: 5, y: 795 } });
    await page.keyboard.press('Control+z');
    await eventually('the merge is undone', (m) => m.get(c) === counts.get(c) && m.get(holiday) === counts.get(holiday));
    const redo = page.getByRole('button', { name: /^Redo Merge/ });
    await redo.waitFor();
    assert.ok(await redo.isEnabled());
  });

  it('moves the selection with the keyboard (M)', async () => {
    const [a, , c] = names;
    await albumButton(a).click();
    await page.getByRole('heading', { name: a, exact: true }).waitFor();
    const cells = grid().getByRole('gridcell');
    await cells.nth(1).click();
    await cells.nth(2).click({ modifiers: ['Shift'] });
    await page.getByRole('status').filter({ hasText: '2 photos selected' }).waitFor();
    await page.keyboard.press('m');
    const dialog = page.getByRole('dialog', { name: 'Move to album' });
    // Arrow keys walk the album list; Enter moves the photos into the album that has the focus.
    const list = dialog.getByRole('list', { name: 'Albums' });
    await list.getByRole('button').first().focus();
    const focused = (): Promise<string> => list.locator('button:focus').innerText();
    for (let i = 0; i < 10 && !(await focused()).trim().startsWith(c); i++) await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    const after = await eventually('two photos moved', (m) => m.get(a) === counts.get(a)! - 2 && m.get(c) === counts.get(c)! + 2);
    for (const [name, n] of after) counts.set(name, n);
  });

  it('opens a photo in the lightbox and steps with the arrow keys', async () => {
    const first = grid().getByRole('img').first();
    const name = await first.getAttribute('alt');
    await first.dblclick();
    await page.getByRole('dialog', { name: `Photo ${name}` }).waitFor();
    const lightbox = page.getByRole('dialog');
    await lightbox.getByRole('img', { name: name!, exact: true }).waitFor();
    await lightbox.getByText('Camera', { exact: true }).waitFor();
    await lightbox.getByText(/^1 of /).waitFor();
    await page.keyboard.press('ArrowRight');
    await lightbox.getByText(/^2 of /).waitFor();
    assert.notEqual(await lightbox.getAttribute('aria-label'), `Photo ${name}`, 'the next photo is shown');
    await page.keyboard.press('Escape');
    await page.getByRole('dialog').waitFor({ state: 'detached' });
  });

  it('shows errors from the core in the alert region', async () => {
    await page.route('**/api/renameAlbum', (route) =>
      route.fulfill({
        contentType: 'application/json',
        body: JSON.stringify({ ok: false, error: { code: 'CONFLICT', message: 'Simulated conflict' } }),
      }),
    );
    await albumButton('Holiday').dblclick();
    await sidebar().getByRole('textbox', { name: 'Album name' }).fill('Elsewhere');
    await sidebar().getByRole('textbox', { name: 'Album name' }).press('Enter');
    const alert = page.getByRole('alert');
    await alert.getByText('Simulated conflict').waitFor();
    assert.match(await alert.innerText(), /Could not rename the album/);
    await albumButton('Holiday').waitFor();
    await page.unroute('**/api/renameAlbum');
    await alert.getByRole('button', { name: /^Dismiss/ }).click();
  });

  it('lists the image encoders in Settings and saves the choice', async () => {
    const openSettings = async (): Promise<ReturnType<typeof page.getByRole>> => {
      await page.getByRole('button', { name: 'Settings', exact: true }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByRole('combobox', { name: 'Image encoder' }).waitFor();
      return dialog;
    };
    let dialog = await openSettings();
    const select = dialog.getByRole('combobox', { name: 'Image encoder' });
    const options = await select.locator('option').allInnerTexts();
    assert.ok(options.includes(`Recommended: ${DEFAULT_ENCODER_ID}`), JSON.stringify(options));
    assert.equal(await select.inputValue(), DEFAULT_ENCODER_ID);
    await dialog.getByText(/^Recommended: made to find the things in a photo/).waitFor();
    const other = options.map((o) => o.split(': ')[1]).find((id) => id !== DEFAULT_ENCODER_ID);
    assert.ok(other, `a second encoder is listed: ${JSON.stringify(options)}`);
    // Devices: only what this OS can have, the unavailable ones saying why, and where the last job ran.
    const devices = await dialog.getByRole('combobox', { name: 'Compute device' }).locator('option').allInnerTexts();
    assert.ok(devices.includes('CPU') && devices.some((d) => d.startsWith('Automatic')), JSON.stringify(devices));
    if (process.platform === 'linux') assert.ok(!devices.some((d) => /DirectML|Core ML/.test(d)), JSON.stringify(devices));
    assert.ok(
      devices.filter((d) => d.includes('not available')).every((d) => /\(not available: .+\)$/.test(d)),
      JSON.stringify(devices),
    );
    await dialog.getByText(/^The last job ran on /).waitFor();
    // Folders: each with its photo count and a Remove that asks once more (not confirmed here).
    await dialog
      .getByText(/^\d+ photos$/)
      .first()
      .waitFor();
    await dialog
      .getByRole('button', { name: /^Remove \// })
      .first()
      .click();
    await dialog.getByRole('button', { name: /^Confirm removing \// }).waitFor();
    await dialog.getByText(/the files on disk stay/).waitFor();
    await select.selectOption(other);
    await dialog.getByText(/Switching embeds every photo again/).waitFor();
    await dialog.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    dialog = await openSettings();
    assert.equal(await dialog.getByRole('combobox', { name: 'Image encoder' }).inputValue(), other, 'the choice was saved');
    // Back to the default, so the library stays as the other tests left it.
    await dialog.getByRole('combobox', { name: 'Image encoder' }).selectOption(DEFAULT_ENCODER_ID);
    await dialog.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('dialog').waitFor({ state: 'detached' });
  });

  it('keeps every edit after a reload', async () => {
    await page.reload();
    await albumButton('Holiday').waitFor();
    await eventually('the same albums after reload', (m) => [...counts].every(([name, n]) => m.get(name) === n));
    await grid().getByRole('img').first().waitFor();
    await until('thumbnails loaded', () =>
      grid()
        .getByRole('img')
        .evaluateAll((imgs) => imgs.every((img) => (img as unknown as { complete: boolean }).complete)),
    );
    const file = await saveArtifact('browser-main.png', await page.screenshot());
    assert.ok(existsSync(file));
  });

  it('applies a new number of albums from Settings on Re-organize, keeping the albums the person shaped', async () => {
    await page.getByRole('button', { name: 'Settings', exact: true }).click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('radio', { name: /^Exactly/ }).check();
    await dialog.getByRole('spinbutton', { name: 'Number of albums' }).fill('6');
    await dialog.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('dialog').waitFor({ state: 'detached' });
    await page.getByRole('button', { name: 'Re-organize' }).click();
    const jobs = page.getByRole('region', { name: 'Jobs' });
    await jobs.waitFor({ state: 'detached', timeout: 120_000 });
    // Six clusters; an album the person shaped may end up empty, so five or six of them hold photos (it was three).
    const after = await eventually('six albums', (c) =>
      [5, 6].includes([...c.entries()].filter(([name, n]) => name !== 'Unsorted' && n > 0).length),
    );
    assert.ok(after.has('Holiday'), 'the album the person renamed is still there');
    assert.equal(
      [...after.values()].reduce((a, b) => a + b, 0),
      3 * PER_GROUP,
    );
    await saveArtifact('browser-six-albums.png', await page.screenshot());
  });

  it('never contacts anything but 127.0.0.1 and logs no errors', () => {
    assert.deepEqual([...hosts], ['127.0.0.1']);
    assert.deepEqual(problems, []);
  });
});
