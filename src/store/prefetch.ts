/**
 * Reads with bounded prefetch: the next `ahead` reads are in flight while the caller works on
 * the current one, never more (a slow consumer holds at most `ahead + 1` results in memory).
 */
export async function* prefetched<T>(reads: Iterable<() => Promise<T>>, ahead = 1): AsyncGenerator<T> {
  const it = reads[Symbol.iterator]();
  const inFlight: Promise<T>[] = [];
  const fill = () => {
    while (inFlight.length < Math.max(1, ahead)) {
      const n = it.next();
      if (n.done) break;
      const p = n.value();
      p.catch(() => {}); // observed when its turn comes; no unhandled rejection meanwhile
      inFlight.push(p);
    }
  };
  try {
    fill();
    while (inFlight.length > 0) {
      const v = await inFlight.shift()!;
      fill();
      yield v;
    }
  } finally {
    inFlight.length = 0;
  }
}
