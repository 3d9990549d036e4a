/**
 * The names of an activation cache on disk or in a store, in a module without tensors: the
 * distributed coordinator plans a cache run with them and loads no backend.
 */

/** The cache's commit marker and description: readers ignore a folder without one. */
export const CACHE_MANIFEST = 'manifest.json';
/** `manifest.json`'s `format`. */
export const CACHE_FORMAT = 'sae-rx-activation-cache';
