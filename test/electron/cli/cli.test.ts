import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { jpeg, tmpDir } from '../../helpers/images.js';
import { REPO } from '../../helpers/repo.js';

const BIN = path.join(REPO, 'bin', 'shoebox.js');
const dirs: string[] = [];
after(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
const mk = (): string => {
  const d = tmpDir();
  dirs.push(d);
  return d;
};

function run(
  args: string[],
  opts: { killWhen?: () => boolean } = {},
): Promise<{ code: number | null; stdout: string; stderr: string; killed: boolean }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, FORCE_COLOR: '0' } });
    let stdout = '';
    let stderr = '';
    let killed = false;
    const check = (): void => {
      if (!killed && opts.killWhen?.()) {
        killed = true;
        p.kill('SIGKILL');
      }
    };
    const poll = opts.killWhen ? setInterval(check, 10) : null;
    p.on('exit', () => poll && clearInterval(poll));
    p.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      check();
    });
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      check();
    });
    p.on('close', (code) => resolve({ code, stdout, stderr, killed }));
  });
}

describe('shoebox CLI', () => {
  test('organize exits 0 with a summary when only some files fail, and --json has the documented shape', async () => {
    const root = mk();
    await jpeg(path.join(root, 'a.jpg'));
    await jpeg(path.join(root, 'b.jpg'), { seed: 2 });
    fs.writeFileSync(path.join(root, 'broken.jpg'), 'nope');
    const json = path.join(mk(), 'out.json');
    const lib = mk();
    const r = await run(['organize', root, '--library', lib, '--json', json, '--no-train', '--no-objects']);
    assert.equal(r.code, 0, r.stderr);
    const looked = (): number => {
      const db = new Database(path.join(lib, 'library.db'), { readonly: true });
      try {
        return (db.prepare('SELECT COUNT(*) AS n FROM objects_done').get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    assert.equal(looked(), 0, '--no-objects skips the detector');
    assert.match(r.stdout, /2 ok, 1 could not be read/);
    const doc = JSON.parse(fs.readFileSync(json, 'utf8')) as Record<string, unknown> & {
      photos: { path: string; status: string; album: number | null }[];
      errors: { path: string; code: string; message: string }[];
    };
    for (const k of ['photos', 'albums', 'errors', 'device', 'model', 'timings']) assert.ok(k in doc, `json has ${k}`);
    assert.deepEqual(
      doc.photos.map((p) => [p.path, p.status]),
      [
        ['a.jpg', 'ok'],
        ['b.jpg', 'ok'],
        ['broken.jpg', 'error'],
      ],
    );
    assert.equal(doc.errors[0].path, 'broken.jpg');
    assert.equal(doc.errors[0].code, 'DECODE_FAILED');
    const again = await run(['organize', root, '--library', lib, '--no-train']);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(looked(), 2, 'without the flag, the detector looks at both photos');
  });

  test('a folder that does not exist, or is a file, fails with a clear message and non-zero exit', async () => {
    const missing = await run(['organize', '/no/such/folder', '--library', mk()]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /\/no\/such\/folder does not exist/);
    const file = path.join(mk(), 'f.jpg');
    fs.writeFileSync(file, 'x');
    const notDir = await run(['organize', file, '--library', mk()]);
    assert.notEqual(notDir.code, 0);
    assert.match(notDir.stderr, /is not a folder/);
    const usage = await run(['organize']);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /needs a folder/);
    const badDevice = await run(['organize', mk(), '--device', 'tpu']);
    assert.equal(badDevice.code, 2);
    const badEncoder = await run(['organize', mk(), '--library', mk(), '--encoder', 'no_such_encoder']);
    assert.equal(badEncoder.code, 2);
    assert.match(badEncoder.stderr, /--encoder: .*no_such_encoder\.json/);
  });

  test('killed mid-scan, a re-run resumes without redoing finished files', async () => {
    const root = mk();
    const lib = mk();
    const n = 150;
    for (let i = 0; i < n; i++)
      await jpeg(path.join(root, `k${String(i).padStart(3, '0')}.jpg`), { width: 1200, height: 900, seed: i + 1 });
    const dbFile = path.join(lib, 'library.db');
    const countOk = (): number => {
      const db = new Database(dbFile, { readonly: true });
      try {
        return (db.prepare(`SELECT COUNT(*) AS n FROM photos WHERE status = 'ok'`).get() as { n: number }).n;
      } finally {
        db.close();
      }
    };
    // Kill as soon as some rows are committed.
    const committed = (): number => {
      try {
        return fs.existsSync(dbFile) ? countOk() : 0;
      } catch {
        return 0; // database not created yet
      }
    };
    const first = await run(['organize', root, '--library', lib, '--no-train'], { killWhen: () => committed() > 0 });
    const done = countOk();
    if (!first.killed) assert.fail('the first run finished before it could be killed; make the library larger');
    assert.ok(done > 0 && done < n, `killed part-way (${done} of ${n} committed)`);
    const second = await run(['organize', root, '--library', lib, '--no-train']);
    assert.equal(second.code, 0, second.stderr);
    const m = /(\d+) new, (\d+) changed, (\d+) moved, (\d+) missing, (\d+) unchanged/.exec(second.stdout);
    assert.ok(m, second.stdout);
    assert.equal(Number(m[1]), n - done, 'only the files not finished before the kill are read again');
    assert.equal(Number(m[5]), done);
    assert.equal(countOk(), n);
  });
});
