// Waiting for what a client sees, with a deadline and a message that says what never came.

/** Resolves with the arguments of the first `event` from `emitter` that satisfies `predicate`. */
export function waitFor(emitter, event, predicate, what, ms = 30000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    const handler = (...args) => {
      if (predicate(...args)) {
        clearTimeout(timer);
        emitter.off(event, handler);
        resolve(args);
      }
    };
    emitter.on(event, handler);
  });
}

/** Polls `check` (which may be async) every 200 ms until it holds. */
export async function until(check, what, ms = 30000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}`);
}
