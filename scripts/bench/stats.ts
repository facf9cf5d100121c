// The bench's arithmetic: medians of repeated runs, and timing one.
export const REPEATS = 3;

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
export const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
export const round = (x: number) => Math.round(x);

export async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t = performance.now();
  const value = await fn();
  return [value, performance.now() - t];
}
