/**
 * Browser mode, People: after an organize the sidebar lists the people found with a face for each; a person opens
 * their photos; a name given by double-click stays after a reload. A screenshot goes to the test artifacts.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, ensureRendererBuilt, launchCli, saveArtifact, type BrowserMode } from '../../bench/fixtures/browser.js';
import { facePhoto, sampleCollage } from '../helpers/faces.js';
import { requireModel } from '../helpers/models.js';

const skip = existsSync(CHROMIUM) ? false : `Chromium not installed at ${CHROMIUM} (apt-get install -y chromium)`;

describe('browser mode: people', { skip, timeout: 300_000 }, () => {
  let dir: string;
  let app: BrowserMode;
  let browser: Browser;
  let page: Page;
  const people = () => page.getByRole('region', { name: 'People' });

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
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    page.setDefaultTimeout(20_000);
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
});
