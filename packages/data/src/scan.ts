/**
 * The folder scanner: lists the images of a folder (class = subfolder), reads each one's
 * header with sharp (libvips) for its size, and lists the files it cannot read, with why.
 * Nothing is decoded into memory; the streaming loader decodes on the fly.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { writeFileAtomic } from '@ediy/core/node';
import sharp from 'sharp';
import { IMAGE_EXTENSIONS, type SkippedImage } from './image-folder.js';

/** One readable image found by {@link scanImageFolder}. */
export interface ImageEntry {
  /** Path of the file. */
  path: string;
  /** Class index in `[0, numClasses)`, or `-1` when unlabeled. */
  label: number;
  /** Width in pixels, after the EXIF orientation is applied. */
  width: number;
  /** Height in pixels, after the EXIF orientation is applied. */
  height: number;
}

/** What {@link scanImageFolder} found in a folder. */
export interface FolderScan {
  /** The folder scanned. */
  root: string;
  /** Class names (subfolder names, sorted); empty when unlabeled. */
  classNames: readonly string[];
  /** Readable images, in class order then path order. */
  items: readonly ImageEntry[];
  /** Image files that could not be read: the file and the reason. */
  unreadable: readonly SkippedImage[];
  /** Image files found (readable or not). */
  total: number;
}

/** Options of {@link scanImageFolder}. */
export interface ScanOptions {
  /**
   * `subfolders` (default): each immediate subfolder is a class, its images at any depth
   * its items, files directly in the folder ignored. `none`: every image at any depth,
   * unlabeled.
   */
  labeled?: 'subfolders' | 'none';
  /**
   * Class names to use instead of this folder's subfolder names (sorted), so a `val/`
   * folder gets the class indices of its `train/` folder; a subfolder not in the list is
   * an error.
   */
  classNames?: readonly string[];
  /** When true, any unreadable image is an error listing every one (default false: they are listed in `unreadable`). */
  strict?: boolean;
  /**
   * `header` (default): read each file's header (fast; a file cut short after its header
   * is found only when decoded). `decode`: decode every image fully (slow, finds all).
   */
  verify?: 'header' | 'decode';
  /** Files read at once (default 16). */
  concurrency?: number;
  /**
   * A JSON file that keeps what each file's header said (keyed by path, size and
   * modification time), so scanning the same folder again, in this or a later command,
   * reads only new or changed files (200,000 JPEGs: every header read once, then only
   * their sizes and times). Written after every scan; a missing or unreadable cache file is
   * ignored. Default: one file per folder under {@link scanCacheDir}; `false`: no cache file.
   */
  cache?: string | false;
}

type Probe = { width: number; height: number } | { reason: string };

/**
 * Where scans keep their header caches by default: `$EDIY_CACHE_DIR/scans`, else
 * `$XDG_CACHE_HOME/ediy/scans`, else `~/.cache/ediy/scans`.
 */
export function scanCacheDir(): string {
  const env = process.env;
  if (env.EDIY_CACHE_DIR) return join(env.EDIY_CACHE_DIR, 'scans');
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'ediy', 'scans');
}

/** The default header-cache file of a folder: named by a hash of its absolute path and the check's depth. */
export function scanCachePath(dir: string, verify: 'header' | 'decode' = 'header'): string {
  const key = createHash('sha256')
    .update(`${resolve(dir)}\u0000${verify}`)
    .digest('hex');
  return join(scanCacheDir(), `${key.slice(0, 32)}.json`);
}

/**
 * What this process has already read from each file's header (or decoded), keyed by
 * path, size and modification time like the cache file: a command that scans a folder
 * twice (the unreadable-images check, then the train/held-out split) reads each header
 * once. Bounded: cleared when it would pass {@link PROBE_MEMO_LIMIT} files.
 */
const probeMemo = new Map<
  string,
  { size: number; mtimeMs: number; verify: 'header' | 'decode'; probe: Probe }
>();
/** Files {@link probeMemo} holds at most (about 100 bytes each). */
const PROBE_MEMO_LIMIT = 2_000_000;

function memoized(
  path: string,
  size: number,
  mtimeMs: number,
  verify: 'header' | 'decode',
): Probe | undefined {
  const m = probeMemo.get(path);
  // a header-level read cannot answer a full decode check; a decode-level one answers both
  if (
    !m ||
    m.size !== size ||
    m.mtimeMs !== mtimeMs ||
    (verify === 'decode' && m.verify !== 'decode')
  )
    return undefined;
  return m.probe;
}

interface CacheFile {
  version: 1;
  verify: 'header' | 'decode';
  /** path -> [bytes, mtimeMs, width, height] or [bytes, mtimeMs, reason] */
  entries: Record<string, [number, number, number, number] | [number, number, string]>;
}

async function readCache(
  path: string | undefined,
  verify: 'header' | 'decode',
): Promise<CacheFile['entries']> {
  if (path === undefined) return {};
  try {
    const c = JSON.parse(await readFile(path, 'utf8')) as CacheFile;
    // a header-level cache cannot answer a full decode check; a decode-level one can answer both
    if (c?.version !== 1 || (verify === 'decode' && c.verify !== 'decode')) return {};
    return c.entries ?? {};
  } catch {
    return {};
  }
}

async function listImages(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listImages(path)));
    else if (isImageName(e.name)) out.push(path);
  }
  return out;
}

function isImageName(name: string): boolean {
  const dot = name.lastIndexOf('.');
  return (
    dot >= 0 && (IMAGE_EXTENSIONS as readonly string[]).includes(name.slice(dot).toLowerCase())
  );
}

/** Reads one file's header (or decodes it): its oriented size, or throws why not. */
async function probe(
  path: string,
  verify: 'header' | 'decode',
): Promise<{ width: number; height: number }> {
  if (verify === 'decode') {
    const { info } = await sharp(path).autoOrient().raw().toBuffer({ resolveWithObject: true });
    return { width: info.width, height: info.height };
  }
  const meta = await sharp(path).metadata();
  if (meta.format !== 'jpeg' && meta.format !== 'png') {
    throw new Error(`not a PNG or JPEG (sharp reads it as ${String(meta.format)})`);
  }
  const { width, height } = meta.autoOrient;
  if (!(width > 0 && height > 0)) throw new Error(`bad size ${width}x${height}`);
  return { width, height };
}

function sameEntry(
  a: CacheFile['entries'][string] | undefined,
  b: CacheFile['entries'][string] | undefined,
): boolean {
  return (
    a !== undefined && b !== undefined && a.length === b.length && a.every((v, i) => v === b[i])
  );
}

/** The message of a sharp or file-system error, on one line. */
function reasonOf(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim();
}

/**
 * Lists a folder's images without decoding them (unless `verify: 'decode'`): each
 * readable image with its label and size, and each unreadable one with the reason.
 *
 * @throws naming the folder: missing, not a folder, no subfolders (with `subfolders`), no
 *   image files, every image unreadable; with `strict`, any unreadable image (all listed).
 */
export async function scanImageFolder(dir: string, options: ScanOptions = {}): Promise<FolderScan> {
  const labeled = options.labeled ?? 'subfolders';
  if (labeled !== 'subfolders' && labeled !== 'none') {
    throw new RangeError(
      `scanImageFolder: labeled must be 'subfolders' or 'none', got ${String(labeled)}`,
    );
  }
  const verify = options.verify ?? 'header';
  if (verify !== 'header' && verify !== 'decode') {
    throw new RangeError(
      `scanImageFolder: verify must be 'header' or 'decode', got ${String(verify)}`,
    );
  }
  const concurrency = options.concurrency ?? 16;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(
      `scanImageFolder: concurrency must be an integer >= 1, got ${String(concurrency)}`,
    );
  }
  const info = await stat(dir).catch((err: unknown) => {
    const code = (err as NodeJS.ErrnoException).code;
    const what = code === 'ENOENT' ? 'folder not found' : `cannot read folder (${reasonOf(err)})`;
    throw new Error(`${dir}: ${what} (expected a folder of PNG/JPEG images)`, { cause: err });
  });
  if (!info.isDirectory())
    throw new Error(`${dir}: not a folder (expected a folder of PNG/JPEG images)`);

  const files: { path: string; label: number }[] = [];
  let classNames: string[] = [];
  if (labeled === 'subfolders') {
    const found = (await readdir(dir, { withFileTypes: true }))
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    if (found.length === 0) {
      throw new Error(
        `${dir}: no subfolders; labeled: 'subfolders' expects one subfolder per class (or use labeled: 'none')`,
      );
    }
    classNames = options.classNames ? [...options.classNames] : found;
    const extra = found.filter((c) => !classNames.includes(c));
    if (extra.length > 0) {
      throw new Error(
        `${dir}: subfolder(s) ${extra.join(', ')} are not among the expected classes (${classNames.join(', ')})`,
      );
    }
    for (const cls of found) {
      const label = classNames.indexOf(cls);
      for (const path of await listImages(join(dir, cls))) files.push({ path, label });
    }
    files.sort((a, b) => a.label - b.label);
  } else {
    for (const path of await listImages(dir)) files.push({ path, label: -1 });
  }
  if (files.length === 0) {
    throw new Error(
      `${dir}: no image files found (expected files ending in ${IMAGE_EXTENSIONS.join(', ')})`,
    );
  }

  if (
    options.cache !== undefined &&
    options.cache !== false &&
    (typeof options.cache !== 'string' || options.cache === '')
  ) {
    throw new TypeError(
      `scanImageFolder: cache must be a file path or false, got ${JSON.stringify(options.cache)}`,
    );
  }
  const cacheFile =
    options.cache === false ? undefined : (options.cache ?? scanCachePath(dir, verify));
  const cached = await readCache(cacheFile, verify);
  const fresh: CacheFile['entries'] = {};
  const results: Probe[] = new Array(files.length);
  let next = 0;
  const work = async (): Promise<void> => {
    while (next < files.length) {
      const k = next++;
      const path = (files[k] as { path: string }).path;
      let key: [number, number] | undefined;
      try {
        const st = await stat(path);
        key = [st.size, st.mtimeMs];
        const hit = cached[path];
        if (hit && hit[0] === st.size && hit[1] === st.mtimeMs) {
          results[k] = hit.length === 4 ? { width: hit[2], height: hit[3] } : { reason: hit[2] };
        } else {
          const known = memoized(path, st.size, st.mtimeMs, verify);
          const read = known ?? (await probe(path, verify));
          if (!known) {
            if (probeMemo.size >= PROBE_MEMO_LIMIT) probeMemo.clear();
            probeMemo.set(path, { size: st.size, mtimeMs: st.mtimeMs, verify, probe: read });
          }
          results[k] = read;
        }
      } catch (err) {
        results[k] = { reason: reasonOf(err) };
      }
      const r = results[k] as Probe;
      if (key) fresh[path] = 'reason' in r ? [...key, r.reason] : [...key, r.width, r.height];
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, work));
  if (cacheFile !== undefined && Object.keys(fresh).some((k) => !sameEntry(cached[k], fresh[k]))) {
    const body: CacheFile = { version: 1, verify, entries: { ...cached, ...fresh } };
    try {
      writeFileAtomic(cacheFile, JSON.stringify(body));
    } catch (err) {
      // an explicit cache file must be written; the default one is only a speed-up
      if (options.cache !== undefined)
        throw new Error(`${cacheFile}: cannot write the scan cache (${reasonOf(err)})`, {
          cause: err,
        });
    }
  }

  const items: ImageEntry[] = [];
  const unreadable: SkippedImage[] = [];
  for (const [k, f] of files.entries()) {
    const r = results[k] as Probe;
    if ('reason' in r) unreadable.push({ path: f.path, reason: r.reason });
    else items.push({ path: f.path, label: f.label, width: r.width, height: r.height });
  }
  const scan: FolderScan = { root: dir, classNames, items, unreadable, total: files.length };
  if (unreadable.length > 0 && options.strict) {
    throw new Error(`${formatUnreadable(scan)}\n(strict: unreadable images are errors)`);
  }
  if (items.length === 0) throw new Error(`${dir}: all ${files.length} images are unreadable`);
  return scan;
}

/**
 * A report of a scan's unreadable images, for the start of a command: a count line, then
 * one line per file (relative to the folder) with its reason; `''` when there are none.
 * @param max - most files listed (default all); the rest are counted.
 */
export function formatUnreadable(scan: FolderScan, max = Infinity): string {
  const n = scan.unreadable.length;
  if (n === 0) return '';
  const lines = scan.unreadable
    .slice(0, max)
    .map((s) => `  ${relative(scan.root, s.path)}: ${s.reason}`);
  if (n > max) lines.push(`  ... and ${n - max} more`);
  return `${scan.root}: ${n} of ${scan.total} images are unreadable:\n${lines.join('\n')}`;
}
