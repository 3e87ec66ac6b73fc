/**
 * The promise's outcome, or `onTimeout()`'s error once `ms` have passed first. The promise itself
 * runs on (nothing cancels it); its late outcome is observed, so a late rejection is not unhandled.
 * The timer does not keep the process alive.
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(onTimeout()), ms);
    timer.unref();
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}
