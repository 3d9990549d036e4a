/**
 * What dataset sources emit before tokenization/packing (DESIGN.md §2). A tokenized dataset
 * gives token ids, a text dataset gives text; `packContext` (or a tokenizer stage) turns
 * either into fixed-size TokenBatches.
 */
export type Document = { tokens: Int32Array } | { text: string };
