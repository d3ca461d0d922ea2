// matrix-js-sdk 43 targets Node 22. On Node 20 it needs Promise.withResolvers, or its sync loop stops
// after the first sync without a word. Import this module before matrix-js-sdk.
if (!Promise.withResolvers) {
  Promise.withResolvers = function () {
    let resolve, reject;
    const promise = new Promise((a, b) => { resolve = a; reject = b; });
    return { promise, resolve, reject };
  };
}
