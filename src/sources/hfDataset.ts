/**
 * Documents of a Hugging Face dataset, read from its parquet files row group by row group.
 *
 * The revision is pinned to one commit at subscription, so a long run reads one consistent
 * snapshot. The split's files are found by the hub's naming conventions
 * (`data/train-00000-of-00004.parquet`, `train/0000.parquet`, `default/train/0000.parquet`,
 * `plain_text/train-….parquet`); a repo without parquet files at `main` is read from the
 * hub's automatic conversion branch `refs/convert/parquet`. Each parquet file is downloaded
 * into the hub cache (reused by later runs and by Python) before it is read; one row group of
 * one column is decoded at a time, and only when the consumer asks (fromPull pacing).
 * `HF_HUB_OFFLINE=1` reads what the cache holds.
 */
import type { Observable } from 'rxjs';
import { ConfigError, HubError } from '../errors.js';
import { type HubConfig, toHubConfig } from '../hub/config.js';
import { writeCachedRef } from '../hub/cache.js';
import { downloadHubFile, listHubFiles, openHubFileRange, resolveHubRevision } from '../hub/download.js';
import { type Document } from '../stream/Document.js';
import { parquetDocuments } from './documents.js';
import { seededRandom, seededShuffle } from '../stream/rng.js';
import { type DocumentCursor, cursorMismatch } from './documentCursor.js';
import { fromPull } from './fromPull.js';

export interface HfDatasetOptions {
  /** dataset repo id, `owner/name` */
  path: string;
  /** branch, tag or commit (default `main`, falling back to `refs/convert/parquet`) */
  revision?: string;
  /** split name (default `train`; if no file is named for any split, all parquet files) */
  split?: string;
  /** column to read (default: tokens, input_ids, then text) */
  column?: string;
  /** seeded random order of files and row groups (default: name order) */
  shuffleSeed?: number;
  /**
   * `true` (default): download each parquet file into the hub cache, then read it.
   * `false`: stream, reading the row groups over HTTP range requests without caching
   * (like SAELens's `streaming=True`); not available offline.
   */
  download?: boolean;
  /** hub settings (default: from the environment) */
  hub?: Partial<HubConfig>;
  /**
   * Resume just after the document this cursor was taken from (`documentEnd` of a document of
   * the same dataset, revision and split; not with `shuffleSeed`): the files and row groups
   * before it are not read.
   */
  from?: DocumentCursor;
}

const CONVERT_BRANCH = 'refs/convert/parquet';

/** Whether a parquet file path belongs to `split` under the hub's naming conventions. */
export function parquetFileInSplit(file: string, split: string): boolean {
  const segs = file.split('/');
  const name = segs[segs.length - 1]!;
  const esc = split.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  if (segs.slice(0, -1).includes(split)) return true; // train/0000.parquet, default/train/0000.parquet
  // train-00000-of-00002.parquet, train.parquet, train_0.parquet, owner--dataset-train.parquet
  return new RegExp(`(^|[-_.])${esc}([-_.]\\d|-\\d|\\.parquet$)`).test(name) || name === `${split}.parquet`;
}

const SPLIT_WORDS = ['train', 'test', 'validation', 'valid', 'dev', 'eval'];

/** The parquet files of `split` among `files` (sorted), or all parquet files if none names a split. */
export function selectSplitFiles(files: string[], split: string | undefined): string[] {
  const parquet = files.filter((f) => f.toLowerCase().endsWith('.parquet')).sort();
  const want = split ?? 'train';
  const chosen = parquet.filter((f) => parquetFileInSplit(f, want));
  if (chosen.length > 0 || split !== undefined) return chosen;
  // no split named in any file: a single-split dataset
  const named = parquet.some((f) => SPLIT_WORDS.some((s) => parquetFileInSplit(f, s)));
  return named ? [] : parquet;
}

/** A cold Observable of the dataset's documents; each subscription starts from the beginning. */
export function hfDataset(opts: HfDatasetOptions): Observable<Document> {
  if (!opts.path || typeof opts.path !== 'string') throw new ConfigError('hfDataset: path (the dataset repo id "owner/name") is required');
  const cfg = toHubConfig(opts.hub);
  if (opts.from && opts.shuffleSeed !== undefined) throw new ConfigError('hfDataset: from (a cursor) cannot resume a shuffled order (shuffleSeed)');
  return fromPull(async function* () {
    const repo = opts.path;
    if (opts.download === false && cfg.offline) {
      throw new HubError(`hfDataset: dataset "${repo}": streaming (download: false) needs the network but offline mode is on (HF_HUB_OFFLINE); read it from the cache with download: true`);
    }
    let revision = opts.revision ?? 'main';
    let commit = await resolveHubRevision({ repo, type: 'dataset', revision }, cfg);
    let all = await listHubFiles({ repo, type: 'dataset', revision: commit }, cfg);
    let files = selectSplitFiles(all.filter((e) => e.type === 'file').map((e) => e.path), opts.split);
    if (files.length === 0 && opts.revision === undefined && !all.some((e) => e.path.endsWith('.parquet'))) {
      // no parquet at main: the hub's parquet conversion branch
      try {
        const c = await resolveHubRevision({ repo, type: 'dataset', revision: CONVERT_BRANCH }, cfg);
        revision = CONVERT_BRANCH;
        commit = c;
        all = await listHubFiles({ repo, type: 'dataset', revision: commit }, cfg);
        files = selectSplitFiles(all.filter((e) => e.type === 'file').map((e) => e.path), opts.split);
      } catch (e) {
        if (!(e instanceof HubError)) throw e;
      }
    }
    if (files.length === 0) {
      const parquet = all.filter((e) => e.path.endsWith('.parquet')).map((e) => e.path);
      throw new HubError(
        `hfDataset: dataset "${repo}" at revision "${revision}" has no parquet files for split "${opts.split ?? 'train'}"` +
          (parquet.length ? ` (parquet files: ${parquet.slice(0, 10).join(', ')}${parquet.length > 10 ? ', …' : ''})` : ` (files: ${all.slice(0, 10).map((e) => e.path).join(', ') || 'none'})`),
      );
    }
    // remember revision → commit in the cache so HF_HUB_OFFLINE=1 finds this snapshot later
    if (!cfg.offline) await writeCachedRef(cfg, 'dataset', repo, revision, commit);
    const rand = opts.shuffleSeed !== undefined ? seededRandom(opts.shuffleSeed) : undefined;
    if (rand) files = seededShuffle(files, rand);
    const stream = opts.download === false;
    const from = opts.from;
    if (from && files[from.file] !== from.name) throw cursorMismatch(`hfDataset ${repo}@${commit.slice(0, 8)}`, from, files[from.file]);
    for (let k = from?.file ?? 0; k < files.length; k++) {
      const f = files[k]!;
      const ref = { repo, type: 'dataset' as const, path: f, revision: commit };
      const source = stream ? await openHubFileRange(ref, cfg) : await downloadHubFile(ref, cfg);
      yield* parquetDocuments(source, {
        label: `${repo}/${f}@${commit.slice(0, 8)}`,
        ...(opts.column ? { column: opts.column } : {}),
        ...(rand ? { rand } : { place: { file: k, name: f } }),
        ...(from && k === from.file ? { from } : {}),
      });
    }
  });
}
