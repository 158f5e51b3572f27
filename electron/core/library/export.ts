/**
 * Export photos into a folder the person chose: copies (through a temporary name, so a cancel or crash leaves no
 * half file) or hard links, optionally an XMP sidecar per photo (`IMG_0001.JPG.xmp`, the darktable convention)
 * naming the album. The originals are only read.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ShoeboxError } from '../errors.js';

export interface ExportItem {
  photoId: number;
  sourcePath: string;
  /** File name, extension included. */
  name: string;
  /** Wall-clock capture time read as UTC, ms. */
  takenLocal: number | null;
  size: number;
  mtimeMs: number;
}

export interface ExportOptions {
  folder: string;
  mode: 'copy' | 'link';
  xmp?: { keywords: string[] } | null;
  signal?: AbortSignal;
  onProgress?: (done: number, total: number) => void;
}

export interface ExportResult {
  folder: string;
  exported: number;
  linked: number;
  copied: number;
  /** Already there from an earlier export (same size and modification time, or the same file). */
  skipped: number;
  failed: { photoId: number; name: string; code: string; message: string }[];
}

const xmlEscape = (s: string) => s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);

/** A minimal XMP packet: the keywords as dc:subject, and the capture date when known. */
export function xmpSidecar(keywords: readonly string[], takenLocal: number | null): string {
  const date = takenLocal === null ? null : new Date(takenLocal).toISOString().slice(0, 19);
  const dateAttrs = date ? `\n    xmp:CreateDate="${date}"\n    photoshop:DateCreated="${date}"` : '';
  const items = keywords.map((k) => `      <rdf:li>${xmlEscape(k)}</rdf:li>`).join('\n');
  return `<?xpacket begin="\uFEFF" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:xmp="http://ns.adobe.com/xap/1.0/"
    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/"${dateAttrs}>
   <dc:subject>
    <rdf:Bag>
${items}
    </rdf:Bag>
   </dc:subject>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>
`;
}

/** "IMG_1.JPG" -> "IMG_1 (2).JPG". */
function suffixed(name: string, n: number): string {
  const ext = path.extname(name);
  return `${name.slice(0, name.length - ext.length)} (${n})${ext}`;
}

function sameFile(a: fs.Stats, b: fs.Stats): boolean {
  return (a.ino === b.ino && a.dev === b.dev) || (a.size === b.size && Math.abs(a.mtimeMs - b.mtimeMs) < 2);
}

export async function exportPhotos(items: readonly ExportItem[], opts: ExportOptions): Promise<ExportResult> {
  const folder = path.resolve(opts.folder);
  try {
    const st = fs.statSync(folder);
    if (!st.isDirectory()) throw new ShoeboxError('INVALID_INPUT', `${folder} is a file, not a folder`);
  } catch (e) {
    if (e instanceof ShoeboxError) throw e;
    fs.mkdirSync(folder, { recursive: true });
  }
  const result: ExportResult = { folder, exported: 0, linked: 0, copied: 0, skipped: 0, failed: [] };
  const used = new Set<string>();
  let done = 0;
  for (const item of items) {
    opts.signal?.throwIfAborted();
    let src: fs.Stats;
    try {
      src = fs.statSync(item.sourcePath);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'NOT_FOUND' : 'UNREADABLE';
      result.failed.push({ photoId: item.photoId, name: item.name, code, message: code === 'NOT_FOUND' ? 'The file is gone' : String((e as Error).message) });
      opts.onProgress?.(++done, items.length);
      continue;
    }
    // The first free name, or the one an earlier export of this photo already wrote.
    let name = item.name;
    let skip = false;
    for (let n = 2; ; n++) {
      if (!used.has(name.toLowerCase())) {
        const target = path.join(folder, name);
        let there: fs.Stats | null;
        try {
          there = fs.statSync(target);
        } catch {
          there = null;
        }
        if (there === null) break;
        if (sameFile(there, src)) {
          skip = true;
          break;
        }
      }
      name = suffixed(item.name, n);
    }
    used.add(name.toLowerCase());
    const target = path.join(folder, name);
    if (path.resolve(target) === path.resolve(item.sourcePath)) skip = true;
    if (skip) {
      result.skipped++;
    } else {
      let linked = false;
      if (opts.mode === 'link') {
        try {
          fs.linkSync(item.sourcePath, target);
          linked = true;
        } catch {
          linked = false; // another disk, or links not allowed: copy instead
        }
      }
      if (!linked) {
        const tmp = path.join(folder, `.${name}.shoebox-tmp`);
        try {
          await fs.promises.copyFile(item.sourcePath, tmp);
          await fs.promises.utimes(tmp, src.atime, src.mtime);
          fs.renameSync(tmp, target);
        } catch (e) {
          fs.rmSync(tmp, { force: true });
          result.failed.push({ photoId: item.photoId, name: item.name, code: 'UNREADABLE', message: (e as Error).message });
          opts.onProgress?.(++done, items.length);
          continue;
        }
        result.copied++;
      } else {
        result.linked++;
      }
      result.exported++;
    }
    if (opts.xmp) fs.writeFileSync(`${target}.xmp`, xmpSidecar(opts.xmp.keywords, item.takenLocal));
    opts.onProgress?.(++done, items.length);
  }
  return result;
}
