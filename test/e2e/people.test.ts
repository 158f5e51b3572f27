/**
 * Browser mode, People: after an organize the sidebar lists the people found with a face for each; a person opens
 * their photos; a name given by double-click stays after a reload; a photo dragged with the mouse onto another
 * person moves its face there (still after a reload); a split, undone; the faces mode (face tiles dragged onto
 * another person, "Not this person", the mode kept after a reload, a double-click opening the face's photo, and a
 * person with 3,000 faces rendering only the rows in view); a merge by dropping one person on the other, confirmed;
 * no error logged in the page. Screenshots go to the test artifacts.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import type { ApiResult, FaceInfo, PersonInfo } from '../../electron/core/api/contract.js';
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
  /** Errors the page logged (a CSP violation from the face crops' styles would show here). */
  const consoleErrors: string[] = [];
  const people = () => page.getByRole('region', { name: 'People' });
  const person = (name: RegExp) => people().getByRole('button', { name });
  const countIn = (text: string): number => Number(/(\d+)\s*$/.exec(text)?.[1] ?? NaN);
  const counts = async (): Promise<number[]> => (await people().getByRole('button').allInnerTexts()).map(countIn).sort((a, b) => a - b);
  const countOf = async (name: RegExp): Promise<number> => countIn(await person(name).innerText());
  const facesGrid = (name: string) => page.getByRole('grid', { name: `Faces of ${name}` });
  const modeButton = (mode: 'Photos' | 'Faces') => page.getByRole('group', { name: 'Show' }).getByRole('button', { name: mode });
  /** A contract call from the page (its cookie is the session), to compare the UI with what the core says. */
  const call = <T>(method: string, args: object): Promise<T> =>
    page
      .evaluate(
        async ([m, a]) => {
          const r = await fetch(`/api/${m}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(a) });
          return (await r.json()) as ApiResult<unknown>;
        },
        [method, args] as const,
      )
      .then((r) => {
        if (!r.ok) throw new Error(`${method}: ${r.error.message}`);
        return r.value as T;
      });

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
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
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

  it('shows a person\'s faces: tiles dragged onto another person move, "Not this person" removes one, the mode stays after a reload', async () => {
    await person(/^Unnamed/).click();
    await page.getByRole('heading', { name: 'Unnamed', exact: true }).waitFor();
    await modeButton('Faces').click();
    const tiles = facesGrid('Unnamed').getByRole('gridcell');
    await tiles.nth(3).waitFor();
    assert.equal(await tiles.count(), 4, 'a tile for each of their four faces');
    assert.equal(await modeButton('Faces').getAttribute('aria-pressed'), 'true');
    await until('the face crops to load', () =>
      facesGrid('Unnamed')
        .locator('img')
        .evaluateAll((els) => {
          const imgs = els as unknown as { complete: boolean; naturalWidth: number }[];
          return imgs.length === 4 && imgs.every((i) => i.complete && i.naturalWidth > 0);
        }),
    );
    // The tiles are the core's faces, best first, the low-quality ones marked.
    const unnamed = (await call<PersonInfo[]>('listPeople', {})).find((p) => p.name === null)!;
    const faces = await call<FaceInfo[]>('listFaces', { personId: unnamed.id });
    assert.equal(faces.length, 4);
    assert.ok(faces.every((f) => typeof f.lowQuality === 'boolean'));
    const labels = await tiles.evaluateAll((els) => els.map((e) => e.getAttribute('aria-label') ?? ''));
    assert.deepEqual(
      labels.map((l) => l.includes('low quality')),
      faces.map((f) => f.lowQuality),
    );
    const thumbs = await facesGrid('Unnamed')
      .locator('img')
      .evaluateAll((imgs) => imgs.map((i) => i.getAttribute('src') ?? ''));
    assert.deepEqual(
      thumbs.map((src) => Number(/\/(\d+)(?:\?|$)/.exec(src)?.[1])),
      faces.map((f) => f.photoId),
    );
    await saveArtifact('people-faces-mode.png', await page.screenshot());

    // Click, then Ctrl-click: two faces selected; dragging one of them drags both onto Alex.
    await tiles.nth(0).click();
    await tiles.nth(1).click({ modifiers: ['Control'] });
    await page.getByRole('status').filter({ hasText: '2 faces selected' }).waitFor();
    assert.ok(await mouseDrag(tiles.nth(1), person(/^Alex/)), 'Alex is highlighted as the drop target');
    await until(
      'Alex to have four photos and the other two',
      async () => (await countOf(/^Alex/)) === 4 && (await countOf(/^Unnamed/)) === 2,
    );
    await until('two face tiles left', async () => (await tiles.count()) === 2);

    await tiles.first().click();
    await page.getByRole('button', { name: 'Not this person' }).click();
    await until('one face left', async () => (await countOf(/^Unnamed/)) === 1 && (await tiles.count()) === 1);
    await saveArtifact('people-faces-edited.png', await page.screenshot());

    await page.reload();
    await person(/^Unnamed/).click();
    await tiles.first().waitFor();
    assert.equal(await tiles.count(), 1, 'still in faces mode after a reload, and the face is gone');
    assert.equal(await countOf(/^Alex/), 4);
    assert.equal(await countOf(/^Unnamed/), 1);

    // A double-click opens the lightbox on the face's photo.
    const thumb = (await tiles.first().locator('img').getAttribute('src')) ?? '';
    await tiles.first().dblclick();
    const preview = page.getByRole('dialog').locator('img.preview');
    await preview.waitFor();
    assert.equal((await preview.getAttribute('src'))?.replace('/preview/', '/thumb/'), thumb);
    await page.keyboard.press('Escape');
    await preview.waitFor({ state: 'detached' });
  });

  it('renders only the rows in view of a person with 3,000 faces', async () => {
    // The core's answer is stretched to 3,000 copies of the face, as a person photographed for years would have,
    // every third one low quality (the generated photos have none) to see how those are marked.
    await page.route('**/api/listFaces', async (route) => {
      const r = (await (await route.fetch()).json()) as ApiResult<FaceInfo[]>;
      if (!r.ok) return route.fulfill({ json: r });
      const many = Array.from({ length: 3000 }, (_, i) => ({ ...r.value[i % r.value.length], id: 1_000_000 + i, lowQuality: i % 3 === 2 }));
      return route.fulfill({ json: { ok: true, value: many } });
    });
    try {
      await person(/^Alex/).click();
      const grid = facesGrid('Alex');
      const tiles = grid.getByRole('gridcell');
      await tiles.first().waitFor();
      await page.getByText('3,000 faces').waitFor();
      const rendered = await tiles.count();
      assert.ok(rendered > 0 && rendered < 300, `${rendered} tiles in the DOM`);
      await grid.getByRole('gridcell', { name: 'Face 3 of 3000, low quality' }).waitFor();
      await until('the first face crops to load', () =>
        grid
          .locator('img')
          .first()
          .evaluate((i) => (i as unknown as { complete: boolean }).complete),
      );
      await saveArtifact('people-faces-many.png', await page.screenshot());
      await grid.evaluate((el) => el.scrollTo({ top: el.scrollHeight }));
      await grid.getByRole('gridcell', { name: 'Face 3000 of 3000' }).waitFor();
      assert.ok((await tiles.count()) < 300);
    } finally {
      await page.unroute('**/api/listFaces');
    }
    // Back to photos for the steps below.
    await modeButton('Photos').click();
    await page.getByRole('grid', { name: 'Photos in Alex' }).getByRole('img').first().waitFor();
  });

  it('merges a person dropped onto another, once the confirmation is accepted', async () => {
    await person(/^Unnamed/).click();
    await page.getByRole('heading', { name: 'Unnamed', exact: true }).waitFor();
    const dialog = page.getByRole('dialog', { name: 'Merge people' });
    await mouseDrag(person(/^Alex/), person(/^Unnamed/));
    await dialog.getByRole('heading', { name: 'Merge “Alex” into this person?' }).waitFor();
    assert.match(await dialog.innerText(), /The 4 photos of “Alex” go to this person, who is then called “Alex”\. You can undo this\./);
    await saveArtifact('people-merge-confirm.png', await page.screenshot());
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    assert.deepEqual(await counts(), [1, 4], 'cancelled: nothing merged');

    await mouseDrag(person(/^Alex/), person(/^Unnamed/));
    await dialog.getByRole('button', { name: 'Merge' }).click();
    await until('one person with all five photos', async () => JSON.stringify(await counts()) === '[5]');
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
    await until('Alex to have four photos', async () => JSON.stringify(await counts()) === '[4]');
  });

  it('logged no errors in the page', () => {
    assert.deepEqual(consoleErrors, []);
  });
});
