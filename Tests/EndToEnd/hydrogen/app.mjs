// The whole Hydrogen web app in the page: its root view model and view (login, session picker, room
// list, rooms) from hydrogen-view-sdk, booted the way a Hydrogen deployment boots it, with the
// homeserver taken from config.json. serve.mjs bundles this file for the browser.
import { Platform, createNavigation, createRouter, RootViewModel, FeatureSet } from "hydrogen-view-sdk";

const assetPaths = {
    downloadSandbox: "assets/download-sandbox.html",
    worker: "assets/main.js",
    olm: { wasm: "olm/olm.wasm", legacyBundle: "olm/olm_legacy.js", wasmBundle: "olm/olm.js" },
    serviceWorker: "sw.js",
};

const platform = new Platform({
    container: document.getElementById("app"),
    assetPaths,
    configURL: "config.json",
    // Development mode adds the console reporter, so Hydrogen's own log ends up in the test's output.
    options: { development: true },
});
const navigation = createNavigation();
platform.setNavigation(navigation);
await platform.init();
const urlRouter = createRouter({ navigation, history: platform.history });
urlRouter.attach();
const features = await FeatureSet.load(platform.settingsStorage);
const root = new RootViewModel({ platform, navigation, urlRouter, features });
await root.load();
platform.createAndMountRootView(root);
