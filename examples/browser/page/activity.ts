/**
 * Whether another part of the page was busy with tensors: the toy part counts the tensors it
 * leaves behind only over a stretch when the language-model part made or freed none.
 */
let busy = 0;
let epoch = 0;

/** Runs `f` as tensor work of the page (loading, computing). */
export async function busyWith<T>(f: () => Promise<T>): Promise<T> {
  busy++;
  epoch++;
  try {
    return await f();
  } finally {
    busy--;
    epoch++;
  }
}

export const activityMark = (): number => (busy > 0 ? -1 : epoch);

/** True when no tensor work ran since `mark` was taken (and none was running then). */
export const quietSince = (mark: number): boolean => mark >= 0 && busy === 0 && epoch === mark;
