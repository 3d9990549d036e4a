/**
 * The hook points of a model (TransformerLens names) and their activation shapes, from its
 * config alone: what `HookedTransformer.hookShapes` returns, without loading any weights (the
 * `hooks` CLI lists a hub model's hooks from its config.json).
 */
import type { HookedTransformerConfig } from './ModelConfig.js';

/** The shape of each hook point's activation for a `[batch, pos]` input, in forward order. */
export function hookShapesFor(c: HookedTransformerConfig, batch = 1, pos = 1): Record<string, number[]> {
  const s: Record<string, number[]> = {};
  const resid = [batch, pos, c.dModel];
  const norm = (p: string) => {
    s[`${p}.hook_scale`] = [batch, pos, 1];
    s[`${p}.hook_normalized`] = resid;
  };
  s['hook_embed'] = resid;
  if (c.positionalEmbedding === 'standard') s['hook_pos_embed'] = resid;
  for (let l = 0; l < c.nLayers; l++) {
    const b = `blocks.${l}`;
    s[`${b}.hook_resid_pre`] = resid;
    norm(`${b}.ln1`);
    s[`${b}.attn.hook_q`] = [batch, pos, c.nHeads, c.dHead];
    s[`${b}.attn.hook_k`] = [batch, pos, c.nKvHeads, c.dHead];
    s[`${b}.attn.hook_v`] = [batch, pos, c.nKvHeads, c.dHead];
    if (c.positionalEmbedding === 'rotary') {
      s[`${b}.attn.hook_rot_q`] = [batch, pos, c.nHeads, c.dHead];
      s[`${b}.attn.hook_rot_k`] = [batch, pos, c.nKvHeads, c.dHead];
    }
    s[`${b}.attn.hook_attn_scores`] = [batch, c.nHeads, pos, pos];
    s[`${b}.attn.hook_pattern`] = [batch, c.nHeads, pos, pos];
    s[`${b}.attn.hook_z`] = [batch, pos, c.nHeads, c.dHead];
    s[`${b}.hook_attn_out`] = resid;
    if (!c.parallelAttnMlp) s[`${b}.hook_resid_mid`] = resid;
    norm(`${b}.ln2`);
    s[`${b}.mlp.hook_pre`] = [batch, pos, c.dMlp];
    if (c.gatedMlp) s[`${b}.mlp.hook_pre_linear`] = [batch, pos, c.dMlp];
    s[`${b}.mlp.hook_post`] = [batch, pos, c.dMlp];
    s[`${b}.hook_mlp_out`] = resid;
    s[`${b}.hook_resid_post`] = resid;
  }
  norm('ln_final');
  return s;
}
