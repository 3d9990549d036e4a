/**
 * The file names of an SAE folder (SAELens's layout), in a module of their own: code that only
 * names the files (the CLI listing folders) need not load the SAE code and its backend.
 */
export const SAE_CFG_PATH = 'cfg.json';
export const SAE_WEIGHTS_PATH = 'sae_weights.safetensors';
export const SPARSITY_PATH = 'sparsity.safetensors';
