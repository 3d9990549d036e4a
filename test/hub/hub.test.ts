import test from 'ava';
import { titled } from '../helpers/skip.js';
import { existsSync, mkdirSync, promises as fsp, readlinkSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { inspect } from 'node:util';
import { fileURLToPath } from 'node:url';
import { HubError } from '../../src/errors.js';
import { SafetensorsFile } from '../../src/io/safetensors.js';
import {
  downloadHubFile,
  hubConfig,
  hubFileExists,
  hubToken,
  listHubFiles,
  openHubFileRange,
  redactSecret,
  repoCacheFolder,
  resolveHubRevision,
  type HubConfig,
} from '../../src/hub/index.js';
import { FakeHub } from '../helpers/fakeHub.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const shared = path.resolve(here, '..', '..', '..', 'shared');
const gpt2Dir = path.join(shared, 'models', 'tiny-gpt2-sotu');
const haveShared = existsSync(gpt2Dir);
const TOKEN = 'hf_SeCrEtToKeN1234567890abcdef';

let tmp: string;
let hub: FakeHub;
let smallDir: string;

test.before(async () => {
  tmp = await fsp.mkdtemp(path.join(os.tmpdir(), 'sae-rx-hub-'));
  smallDir = path.join(tmp, 'small-repo');
  mkdirSync(path.join(smallDir, 'sub', 'deep'), { recursive: true });
  writeFileSync(path.join(smallDir, 'config.json'), '{"d_model": 8}\n');
  writeFileSync(path.join(smallDir, 'sub', 'a.txt'), 'alpha');
  writeFileSync(path.join(smallDir, 'sub', 'deep', 'b.txt'), 'beta');
  writeFileSync(path.join(smallDir, 'empty.txt'), '');
  const other = path.join(tmp, 'other-rev');
  mkdirSync(other);
  writeFileSync(path.join(other, 'config.json'), '{"d_model": 16}\n');
  hub = await FakeHub.start({
    ...(haveShared ? { 'models/sae-rx/tiny-gpt2-sotu': gpt2Dir } : {}),
    'models/owner/small': { dir: smallDir, revisions: { 'v2.0': other } },
    'models/owner/gated': { dir: smallDir, token: TOKEN, gated: true },
    'models/owner/private': { dir: smallDir, token: TOKEN },
    'datasets/owner/data': smallDir,
  });
});
test.after.always(async () => {
  await hub?.close();
  await fsp.rm(tmp, { recursive: true, force: true });
});

let n = 0;
/** A config against the fake hub with a fresh cache; env-free so the runner's env does not leak in. */
function cfg(extra: Partial<HubConfig> = {}): HubConfig {
  const cacheDir = path.join(tmp, `cache-${n++}`);
  return hubConfig({ endpoint: hub.url, cacheDir, hfHome: path.join(tmp, 'home'), token: undefined, retryBaseMs: 1, ...extra }, {});
}

(haveShared ? test.serial : test.serial.skip)(titled('downloads tiny-gpt2 through the real client into the standard cache layout, then works offline', haveShared ? undefined : `${gpt2Dir} absent (needs ../shared)`), async (t) => {
  const c = cfg();
  const repo = 'sae-rx/tiny-gpt2-sotu';
  const sha = hub.commit('models/sae-rx/tiny-gpt2-sotu');
  const files = ['config.json', 'tokenizer.json', 'model.safetensors'];
  const local: string[] = [];
  for (const f of files) local.push(await downloadHubFile({ repo, path: f }, c));
  const folder = repoCacheFolder(c.cacheDir, 'model', repo);
  t.is(folder, path.join(c.cacheDir, 'models--sae-rx--tiny-gpt2-sotu'));
  t.is(local[0], path.join(folder, 'snapshots', sha, 'config.json'));
  t.is((await fsp.readFile(path.join(folder, 'refs', 'main'), 'utf8')).trim(), sha);
  // snapshot entries are relative symlinks into blobs/ (as the Python hub makes them)
  t.regex(readlinkSync(local[2]!), /^\.\.\/\.\.\/blobs\/[0-9a-f]{64}$/);
  for (let i = 0; i < files.length; i++) {
    t.true((await fsp.readFile(local[i]!)).equals(await fsp.readFile(path.join(gpt2Dir, files[i]!))), files[i]);
  }
  const st = await SafetensorsFile.open(local[2]!);
  t.deepEqual(st.info('transformer.h.0.attn.c_attn.weight').shape, [128, 384]);
  await st.close();

  // again online: only the revision is resolved, nothing is downloaded
  hub.clearLog();
  t.is(await downloadHubFile({ repo, path: 'model.safetensors' }, c), local[2]);
  t.false(hub.requests.some((r) => r.url.includes('/resolve/')), JSON.stringify(hub.requests));

  // offline (HF_HUB_OFFLINE=1 in the environment): no request at all
  hub.clearLog();
  const off = hubConfig({ endpoint: hub.url }, { HF_HUB_OFFLINE: '1', HF_HUB_CACHE: c.cacheDir });
  t.true(off.offline);
  for (let i = 0; i < files.length; i++) t.is(await downloadHubFile({ repo, path: files[i]! }, off), local[i]);
  t.is(await resolveHubRevision({ repo }, off), sha);
  t.deepEqual((await listHubFiles({ repo }, off)).map((e) => e.path), ['config.json', 'model.safetensors', 'tokenizer.json']);
  t.deepEqual(hub.requests, []);
  const miss = await t.throwsAsync(downloadHubFile({ repo, path: 'greedy.json' }, off), { instanceOf: HubError });
  t.regex(miss!.message, /file "greedy\.json" of model repo "sae-rx\/tiny-gpt2-sotu" at revision "main" is not in the hub cache .* offline mode is on \(HF_HUB_OFFLINE\)/);
  await t.throwsAsync(downloadHubFile({ repo: 'sae-rx/never', path: 'x' }, off), { instanceOf: HubError, message: /not in the hub cache/ });
});

test.serial('reuses a cache laid out by the Python hub (refs + snapshots + blobs) without downloading', async (t) => {
  const c = cfg();
  const sha = 'a'.repeat(40);
  const folder = repoCacheFolder(c.cacheDir, 'model', 'py/model');
  mkdirSync(path.join(folder, 'blobs'), { recursive: true });
  mkdirSync(path.join(folder, 'snapshots', sha, 'sub'), { recursive: true });
  mkdirSync(path.join(folder, 'refs'), { recursive: true });
  writeFileSync(path.join(folder, 'blobs', 'deadbeef'), 'from python');
  await fsp.symlink('../../../blobs/deadbeef', path.join(folder, 'snapshots', sha, 'sub', 'w.txt'));
  writeFileSync(path.join(folder, 'refs', 'main'), sha);
  hub.clearLog();
  const off = { ...c, offline: true };
  const p = await downloadHubFile({ repo: 'py/model', path: 'sub/w.txt' }, off);
  t.is(await fsp.readFile(p, 'utf8'), 'from python');
  // online with the commit pinned: served from the cache, no network
  const p2 = await downloadHubFile({ repo: 'py/model', path: 'sub/w.txt', revision: sha }, c);
  t.is(p2, p);
  t.false(hub.requests.some((r) => r.url.includes('py/model')));
});

test.serial('revision pinning: a tag and a commit hash get their own snapshots; refs/<tag> is written', async (t) => {
  const c = cfg();
  const repo = 'owner/small';
  const pMain = await downloadHubFile({ repo, path: 'config.json' }, c);
  const pTag = await downloadHubFile({ repo, path: 'config.json', revision: 'v2.0' }, c);
  t.is(await fsp.readFile(pMain, 'utf8'), '{"d_model": 8}\n');
  t.is(await fsp.readFile(pTag, 'utf8'), '{"d_model": 16}\n');
  const tagSha = hub.commit('models/owner/small', 'v2.0');
  t.true(pTag.includes(path.join('snapshots', tagSha)));
  const folder = repoCacheFolder(c.cacheDir, 'model', repo);
  t.is((await fsp.readFile(path.join(folder, 'refs', 'v2.0'), 'utf8')).trim(), tagSha);
  const mainSha = await resolveHubRevision({ repo }, c);
  t.is(mainSha, hub.commit('models/owner/small'));
  t.is(await downloadHubFile({ repo, path: 'config.json', revision: mainSha }, c), pMain);
  // nested and empty files
  t.is(await fsp.readFile(await downloadHubFile({ repo, path: 'sub/deep/b.txt' }, c), 'utf8'), 'beta');
  t.is(await fsp.readFile(await downloadHubFile({ repo, path: 'empty.txt' }, c), 'utf8'), '');
  // datasets live under datasets--owner--name
  const pd = await downloadHubFile({ repo: 'owner/data', type: 'dataset', path: 'sub/a.txt' }, c);
  t.true(pd.startsWith(path.join(c.cacheDir, 'datasets--owner--data', 'snapshots')));
});

test.serial('concurrent requests for one file download it once', async (t) => {
  const c = cfg();
  hub.clearLog();
  const paths = await Promise.all([1, 2, 3].map(() => downloadHubFile({ repo: 'owner/small', path: 'sub/a.txt' }, c)));
  t.is(new Set(paths).size, 1);
  t.is(await fsp.readFile(paths[0]!, 'utf8'), 'alpha');
  t.is(hub.requests.filter((r) => r.url.includes('/resolve/') && !r.range).length, 1);
});

test.serial('missing repo, file and revision are clear HubErrors and are not retried', async (t) => {
  const c = cfg();
  hub.clearLog();
  await t.throwsAsync(downloadHubFile({ repo: 'owner/nope', path: 'config.json' }, c), {
    instanceOf: HubError,
    message: /file "config\.json" in model repo "owner\/nope" at revision "main": repository not found \(HTTP 404\)/,
  });
  t.is(hub.requests.length, 1, 'a 404 is not retried');
  await t.throwsAsync(downloadHubFile({ repo: 'owner/small', path: 'missing.bin' }, c), {
    instanceOf: HubError,
    message: /file "missing\.bin" in model repo "owner\/small" at revision "main": file not found in the repo/,
  });
  await t.throwsAsync(downloadHubFile({ repo: 'owner/small', path: 'config.json', revision: 'nope' }, c), {
    instanceOf: HubError,
    message: /revision "nope" not found/,
  });
  t.false(await hubFileExists({ repo: 'owner/small', path: 'missing.bin' }, c));
  t.true(await hubFileExists({ repo: 'owner/small', path: 'sub/a.txt' }, c));
  await t.throwsAsync(hubFileExists({ repo: 'owner/nope', path: 'x' }, c), { instanceOf: HubError, message: /repository not found/ });
  await t.throwsAsync(downloadHubFile({ repo: 'owner/small', path: '../etc/passwd' }, c), { instanceOf: HubError, message: /invalid file path/ });
  await t.throwsAsync(downloadHubFile({ repo: 'not a repo', path: 'x' }, c), { instanceOf: HubError, message: /invalid repo id/ });
});

test.serial('gated and private repos: errors say what to do, the token is sent but never shown', async (t) => {
  const noTok = cfg();
  const e1 = await t.throwsAsync(downloadHubFile({ repo: 'owner/gated', path: 'config.json' }, noTok), { instanceOf: HubError });
  t.regex(e1!.message, /access denied \(HTTP 401 GatedRepo\): the repo is gated or private and no token is set: set HF_TOKEN/);
  const e2 = await t.throwsAsync(downloadHubFile({ repo: 'owner/private', path: 'config.json' }, noTok), { instanceOf: HubError });
  t.regex(e2!.message, /repository not found \(HTTP 401\); if it is private or gated, set HF_TOKEN/);

  const wrong = cfg({ token: 'hf_wrongtoken0000000000000' });
  const e3 = await t.throwsAsync(downloadHubFile({ repo: 'owner/gated', path: 'config.json' }, wrong), { instanceOf: HubError });
  t.regex(e3!.message, /HTTP 403 GatedRepo.*does not grant access/);
  t.false(e3!.message.includes('hf_wrongtoken0000000000000'));

  const ok = cfg({ token: TOKEN });
  hub.clearLog();
  const p = await downloadHubFile({ repo: 'owner/gated', path: 'sub/a.txt' }, ok);
  t.is(await fsp.readFile(p, 'utf8'), 'alpha');
  t.true(hub.requests.length > 0 && hub.requests.every((r) => r.authorization === `Bearer ${TOKEN}`));
  t.deepEqual((await listHubFiles({ repo: 'owner/private', recursive: false }, ok)).map((e) => e.path), ['sub', 'config.json', 'empty.txt']);

  // the token is never printed with the config or in an error
  t.false(JSON.stringify(ok).includes(TOKEN));
  t.false(inspect(ok).includes(TOKEN));
  t.is(ok.token, TOKEN);
  // a spread copy keeps the token (hidden), an explicit token: undefined drops it
  const copy = { ...ok, offline: false };
  t.false(JSON.stringify(copy).includes(TOKEN));
  t.false(inspect(copy).includes(TOKEN));
  t.is(hubToken(copy), TOKEN);
  t.is(hubToken({ ...ok, token: undefined }), undefined);
  t.is(await fsp.readFile(await downloadHubFile({ repo: 'owner/gated', path: 'config.json' }, copy), 'utf8'), '{"d_model": 8}\n');
  const e4 = await t.throwsAsync(downloadHubFile({ repo: 'owner/small', path: 'missing.bin' }, ok));
  t.false(e4!.message.includes(TOKEN));
  t.is(redactSecret(`Bearer ${TOKEN} failed`, TOKEN), 'Bearer *** failed');
  t.is(redactSecret('token hf_abcdefghijklmnop leaked'), 'token hf_*** leaked');
});

test.serial('transient failures (503, connection reset) are retried with backoff; exhausted retries fall back to the cache', async (t) => {
  const c = cfg();
  const repo = 'owner/small';
  hub.clearLog();
  hub.failNext(2, { status: 503 }, /\/resolve\//);
  hub.failNext(1, { reset: true }, /\/revision\//);
  hub.failNext(1, { status: 502 }, /paths-info/);
  const p = await downloadHubFile({ repo, path: 'sub/a.txt' }, c);
  t.is(await fsp.readFile(p, 'utf8'), 'alpha');
  t.is(hub.requests.filter((r) => r.status === 503).length, 2);
  t.is(hub.requests.filter((r) => r.status === 502).length, 1);
  t.is(hub.requests.filter((r) => r.status === 0).length, 1);

  // hub down for longer than the retries: the cached copy is used, with a warning
  const warnings: string[] = [];
  const c2 = { ...c, maxRetries: 2, warn: (m: string) => warnings.push(m) };
  hub.failNext(3, { status: 500 });
  t.is(await downloadHubFile({ repo, path: 'sub/a.txt' }, c2), p);
  t.is(warnings.length, 1);
  t.regex(warnings[0]!, /hub unreachable, using the cached/);
  // and without a cached copy, a clear error
  hub.failNext(3, { status: 500 });
  await t.throwsAsync(downloadHubFile({ repo, path: 'sub/deep/b.txt' }, c2), {
    instanceOf: HubError,
    message: /hub http:\/\/127\.0\.0\.1:\d+ unreachable after 2 retries \(HTTP 500\)/,
  });
  hub.failNext(0, { status: 500 });
});

test.serial('listHubFiles: recursive, under a folder, paginated, and for datasets', async (t) => {
  const c = cfg();
  hub.pageSize = 2;
  try {
    const all = await listHubFiles({ repo: 'owner/small' }, c);
    t.deepEqual(all.filter((e) => e.type === 'file').map((e) => e.path).sort(), ['config.json', 'empty.txt', 'sub/a.txt', 'sub/deep/b.txt']);
    t.deepEqual(all.filter((e) => e.type === 'directory').map((e) => e.path), ['sub', 'sub/deep']);
    t.true(hub.requests.some((r) => r.url.includes('cursor=')), 'followed Link pagination');
  } finally {
    hub.pageSize = 0;
  }
  const sub = await listHubFiles({ repo: 'owner/small', path: 'sub', recursive: false }, c);
  t.deepEqual(sub.map((e) => [e.path, e.type]), [['sub/deep', 'directory'], ['sub/a.txt', 'file']]);
  const tag = await listHubFiles({ repo: 'owner/small', revision: 'v2.0' }, c);
  t.deepEqual(tag.map((e) => e.path), ['config.json']);
  const ds = await listHubFiles({ repo: 'owner/data', type: 'dataset', path: 'sub' }, c);
  t.is(ds.find((e) => e.path === 'sub/a.txt')?.size, 5);
  await t.throwsAsync(listHubFiles({ repo: 'owner/nope' }, c), { instanceOf: HubError, message: /repository not found/ });
});

test.serial('openHubFileRange reads byte ranges without downloading; errors like downloads', async (t) => {
  const c = cfg({ token: TOKEN });
  const f = await openHubFileRange({ repo: 'owner/gated', path: 'sub/deep/b.txt' }, c);
  t.is(f.byteLength, 4);
  t.is(Buffer.from(await f.slice(1, 3)).toString(), 'et');
  t.is(Buffer.from(await f.slice(0)).toString(), 'beta');
  t.is((await f.slice(3, 3)).byteLength, 0);
  t.false(existsSync(c.cacheDir));
  await t.throwsAsync(openHubFileRange({ repo: 'owner/small', path: 'nope.bin' }, c), { instanceOf: HubError, message: /file "nope\.bin" .*file not found/ });
  await t.throwsAsync(openHubFileRange({ repo: 'owner/gated', path: 'config.json' }, cfg()), { instanceOf: HubError, message: /access denied/ });
});

test.serial('hubConfig reads the environment like the Python hub', (t) => {
  const home = path.join(tmp, 'envhome');
  mkdirSync(home, { recursive: true });
  writeFileSync(path.join(home, 'token'), 'hf_fromfile1234567890\n');
  const a = hubConfig({}, { HF_HOME: home, HF_ENDPOINT: 'http://mirror.local:8080/', HF_HUB_OFFLINE: 'TRUE' });
  t.is(a.endpoint, 'http://mirror.local:8080');
  t.is(a.token, 'hf_fromfile1234567890');
  t.true(a.offline);
  t.is(a.cacheDir, path.join(home, 'hub'));
  const b = hubConfig({}, { HF_HOME: home, HF_TOKEN: 'hf_env0000000000', HF_HUB_CACHE: '/x/cache', HF_HUB_OFFLINE: '0' });
  t.is(b.token, 'hf_env0000000000');
  t.is(b.cacheDir, '/x/cache');
  t.false(b.offline);
  const d = hubConfig({}, { XDG_CACHE_HOME: '/xdg' });
  t.is(d.hfHome, path.join('/xdg', 'huggingface'));
  t.is(d.cacheDir, path.join('/xdg', 'huggingface', 'hub'));
  t.is(d.endpoint, 'https://huggingface.co');
  t.is(hubConfig({ token: undefined }, { HF_TOKEN: 'hf_x123456789' }).token, undefined);
  t.throws(() => hubConfig({}, { HF_ENDPOINT: 'ftp://x' }), { message: /HF_ENDPOINT/ });
});
