/**
 * Browser mode over a library whose photos carry EXIF dates and GPS: album names with places and dates, the
 * timeline with month headers, the lightbox's details and "more like this", search, and export. Screenshots go to
 * the test artifacts.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { CHROMIUM, ensureRendererBuilt, launchCli, openBrowserPage, saveArtifact, type BrowserMode } from '../../bench/fixtures/browser.js';
import { scenePhoto, withMeta } from '../helpers/images.js';
import { requireModel } from '../helpers/models.js';

const skip = existsSync(CHROMIUM) ? false : `Chromium not installed at ${CHROMIUM} (apt-get install -y chromium)`;

describe('browser mode: names, dates, places, timeline, more like this, search, export', { skip, timeout: 300_000 }, () => {
  let dir: string;
  let app: BrowserMode;
  let browser: Browser;
  let page: Page;
  const sidebar = () => page.getByRole('navigation', { name: 'Albums' });

  before(async () => {
    requireModel();
    dir = await mkdtemp(path.join(tmpdir(), 'shoebox-e2e-app-'));
    const photos = path.join(dir, 'photos');
    await mkdir(photos, { recursive: true });
    await ensureRendererBuilt();
    for (let i = 0; i < 10; i++) {
      const trip = path.join(photos, `lisbon-${i}.jpg`);
      await scenePhoto(trip, 0, i, 320);
      await withMeta(trip, {
        date: `2024:06:0${3 + (i % 7)} 1${i % 10}:00:00`,
        offset: '+01:00',
        gps: { lat: 38.72, lon: -9.14 },
        make: 'Canon',
        model: 'Canon EOS R6',
      });
      const paris = path.join(photos, `paris-${i}.jpg`);
      await scenePhoto(paris, 1, 100 + i, 320);
      await withMeta(paris, { date: `2023:0${7 + (i % 2)}:1${i % 9} 09:00:00`, gps: { lat: 48.857, lon: 2.352 } });
      const home = path.join(photos, `home-${i}.jpg`);
      await scenePhoto(home, 2, 200 + i, 320);
      await withMeta(home, { date: `2022:12:2${i % 9} 18:00:00` });
    }
    app = await launchCli(photos, path.join(dir, 'library'));
    ({ browser, page } = await openBrowserPage());
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('names albums by place and time, with the reason in a tooltip', async () => {
    await page.goto(app.url);
    const lisbon = sidebar().getByText(/^Lisbon, .*June 2024$/);
    await lisbon.waitFor({ timeout: 180_000 });
    assert.match((await lisbon.getAttribute('title')) ?? '', /taken near Lisbon/);
    await sidebar()
      .getByText(/^Paris, (Jul|Summer)/)
      .waitFor();
    await sidebar()
      .getByText(/^2\d\u2013\d+ December 2022$|^December 2022$/)
      .waitFor();
    await saveArtifact('photo-app-names.png', await page.screenshot());
  });

  it('shows every photo by month in All photos, with a scrubber by year', async () => {
    await sidebar().getByRole('button', { name: 'All photos' }).click();
    await page.getByRole('heading', { name: 'All photos', exact: true }).waitFor();
    // Headers are virtualized like the rows: the first months are on screen, the later ones after a jump.
    await page.getByRole('heading', { name: 'December 2022', exact: true }).waitFor();
    const scrubber = page.getByRole('navigation', { name: 'Jump to a year' });
    assert.deepEqual(await scrubber.getByRole('button').allInnerTexts(), ['2022', '2023', '2024']);
    await saveArtifact('photo-app-timeline.png', await page.screenshot());
    await scrubber.getByRole('button', { name: '2024' }).click();
    await page.getByRole('heading', { name: 'June 2024', exact: true }).waitFor();
  });

  it('shows the date, camera and place in the lightbox, and finds more like this', async () => {
    const img = page.getByRole('grid').getByRole('img', { name: 'lisbon-0.jpg', exact: true });
    await img.dblclick();
    const lightbox = page.getByRole('dialog', { name: 'Photo lisbon-0.jpg' });
    await lightbox.getByText('3 June 2024, 10:00').waitFor();
    await lightbox.getByText('Canon EOS R6').waitFor();
    await lightbox.getByText('Lisbon, Portugal').waitFor();
    await saveArtifact('photo-app-lightbox.png', await page.screenshot());
    await lightbox.getByRole('button', { name: 'More like this' }).click();
    await page.getByRole('heading', { name: 'More like this photo', exact: true }).waitFor();
    const first = await page.getByRole('grid').getByRole('img').first().getAttribute('alt');
    assert.match(first ?? '', /^lisbon-/, 'the nearest photo is from the same trip');
    await saveArtifact('photo-app-more-like-this.png', await page.screenshot());
  });

  it('searches places and dates, grouped by kind', async () => {
    const box = page.getByRole('searchbox', { name: 'Search' });
    await box.fill('paris');
    const results = page.getByRole('region', { name: 'Search results' });
    await results.getByRole('heading', { name: 'Places' }).waitFor();
    await saveArtifact('photo-app-search.png', await page.screenshot());
    await results.getByRole('button', { name: /^Paris, France/ }).click();
    await page.getByRole('heading', { name: 'Paris, France', exact: true }).waitFor();
    // The heading can come before the first page (the faces stage may still be running in the background).
    await page.getByRole('grid').getByRole('img').nth(9).waitFor();
    assert.equal(await page.getByRole('grid').getByRole('img').count(), 10);
    await box.fill('2022');
    await results.getByRole('heading', { name: 'Dates' }).waitFor();
  });

  it('exports an album into a folder', async () => {
    await sidebar()
      .getByText(/^Lisbon, /)
      .click();
    await page.getByRole('button', { name: 'Export…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Export album' });
    const out = path.join(dir, 'exported');
    await dialog.getByRole('textbox', { name: 'Folder (its full path)' }).fill(out);
    await dialog.getByRole('checkbox', { name: /XMP sidecars/ }).check();
    await saveArtifact('photo-app-export.png', await page.screenshot());
    await dialog.getByRole('button', { name: 'Export' }).click();
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && !(existsSync(out) && readdirSync(out).filter((f) => f.endsWith('.jpg')).length === 10))
      await new Promise((r) => setTimeout(r, 200));
    const files = readdirSync(out);
    assert.equal(files.filter((f) => f.endsWith('.jpg')).length, 10);
    assert.equal(files.filter((f) => f.endsWith('.xmp')).length, 10);
  });
});
