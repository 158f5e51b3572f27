/**
 * Browser mode, People: after an organize the sidebar lists the people found with a face for each; a person opens
 * their photos; a name given by double-click stays after a reload; a photo dragged with the mouse onto another
 * person moves its face there (still after a reload); a split, undone; a merge by dropping one person on the other.
 * Screenshots go to the test artifacts.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import {
  CHROMIUM,
  ensureRendererBuilt,
  launchCli,
  mouseDrag as mouseDragOn,
  openBrowserPage,
  saveArtifact,
  until as untilPage,
  type BrowserMode,
} from '../../bench/fixtures/browser.js';
import { facePhoto, sampleCollage } from '../helpers/faces.js';
import { requireModel } from '../helpers/models.js';

const skip = existsSync(CHROMIUM) ? false : `Chromium not installed at ${CHROMIUM} (apt-get install -y chromium)`;

describe('browser mode: people', { skip, timeout: 300_000 }, () => {
  let dir: string;
  let app: BrowserMode;
  let browser: Browser;
  let page: Page;
  const people = () => page.getByRole('region', { name: 'People' });
  const person = (name: RegExp) => people().getByRole('button', { name });
  const counts = async (): Promise<number[]> =>
    (await people().getByRole('button').allInnerTexts()).map((t) => Number(/(\d+)\s*$/.exec(t)?.[1] ?? NaN)).sort((a, b) => a - b);

  const mouseDrag = (source: Locator, target: Locator): Promise<boolean> => mouseDragOn(page, source, target);
  const until = (what: string, check: () => Promise<boolean>): Promise<void> => untilPage(page, what, check);

  before(async () => {
    requireModel('blazeface_back');
    requireModel('faceres');
    dir = await mkdtemp(path.join(tmpdir(), 'shoebox-e2e-people-'));
    const photos = path.join(dir, 'photos');
    await mkdir(photos, { recursive: true });
    await ensureRendererBuilt();
    const collage = sampleCollage();
    for (let i = 0; i < 3; i++) {
      await facePhoto(path.join(photos, `man-${i}.jpg`), collage, i, [{ who: 'man', x: 120 + 150 * i, y: 160, size: 230 }]);
      await facePhoto(path.join(photos, `woman-${i}.jpg`), collage, 10 + i, [{ who: 'woman', x: 480 - 120 * i, y: 140, size: 240 }]);
    }
    app = await launchCli(photos, path.join(dir, 'library'));
    ({ browser, page } = await openBrowserPage());
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("lists the people found, each with a face, and opens a person's photos", async () => {
    await page.goto(app.url);
    const unnamed = people().getByRole('button', { name: /^Unnamed/ });
    await unnamed.nth(1).waitFor({ timeout: 180_000 });
    assert.equal(await unnamed.count(), 2);
    assert.equal(await people().locator('img').count(), 2, 'a face for each');
    await unnamed.first().click();
    await page.getByRole('heading', { name: 'Unnamed', exact: true }).waitFor();
    const cells = page.getByRole('grid').getByRole('img');
    await cells.nth(2).waitFor();
    assert.equal(await cells.count(), 3);
    const names = (await cells.evaluateAll((els) => els.map((e) => e.getAttribute('alt') ?? ''))).map((n) => n.split('-')[0]);
    assert.equal(new Set(names).size, 1, `one person's photos: ${names.join(', ')}`);
    await saveArtifact('people-list.png', await page.screenshot());
  });

  it('names a person by double-click, and the name stays after a reload', async () => {
    await people()
      .getByRole('button', { name: /^Unnamed/ })
      .first()
      .dblclick();
    const input = people().getByRole('textbox', { name: 'Name of this person' });
    await input.fill('Alex');
    await input.press('Enter');
    await people().getByRole('button', { name: /^Alex/ }).waitFor();
    await page.reload();
    await people().getByRole('button', { name: /^Alex/ }).waitFor();
    assert.equal(
      await people()
        .getByRole('button', { name: /^Unnamed/ })
        .count(),
      1,
    );
  });

  it('moves a face by dragging its photo onto another person; it stays there after a reload', async () => {
    await person(/^Alex/).click();
    await page.getByRole('heading', { name: 'Alex', exact: true }).waitFor();
    const photo = page.getByRole('grid').getByRole('img').first();
    await photo.waitFor();
    await mouseDrag(photo, person(/^Unnamed/));
    await until('the counts to become 2 and 4', async () => JSON.stringify(await counts()) === '[2,4]');
    await page.reload();
    await person(/^Alex/).waitFor();
    await until('the moved face to stay after a reload', async () => JSON.stringify(await counts()) === '[2,4]');
    await saveArtifact('people-moved.png', await page.screenshot());
  });

  it('splits a selected photo into a new person, and undoes it', async () => {
    await person(/^Unnamed/).click();
    const photo = page.getByRole('grid').getByRole('img').first();
    await photo.waitFor();
    await photo.click();
    await page.getByRole('button', { name: 'Split into new person' }).click();
    await until('three people', async () => (await counts()).length === 3);
    assert.deepEqual(await counts(), [1, 2, 3]);
    await page.getByRole('button', { name: /^Undo Split 1 face/ }).click();
    await until('two people again', async () => JSON.stringify(await counts()) === '[2,4]');
  });

  it('merges a person dropped onto another', async () => {
    await mouseDrag(person(/^Alex/), person(/^Unnamed/));
    await until('one person with all six photos', async () => JSON.stringify(await counts()) === '[6]');
    await person(/^Alex/).waitFor();
    await page.getByRole('heading', { name: 'Alex', exact: true }).waitFor({ timeout: 5000 }); // the open view follows the name
    await saveArtifact('people-merged.png', await page.screenshot());
  });

  it('shows the face boxes in the lightbox, and "Not Alex" takes the face from them', async () => {
    const photo = page.getByRole('grid').getByRole('img').first();
    await photo.dblclick();
    const box = page.getByRole('dialog').getByRole('button', { name: 'Face: Alex' });
    await box.waitFor();
    await page
      .getByRole('dialog')
      .locator('img.preview')
      .evaluate((img) => (img as unknown as { decode(): Promise<void> }).decode());
    await saveArtifact('people-lightbox.png', await page.screenshot());
    await box.click();
    await page.getByRole('menuitem', { name: 'Not Alex' }).click();
    // The photo leaves Alex's view, so the lightbox moves on to the next of Alex's photos.
    await until('Alex to have five photos', async () => JSON.stringify(await counts()) === '[5]');
  });
});
