// Serves the Hydrogen app as static files on a loopback port of its own, so the browser meets the
// homeserver as another origin (the CORS path a real deployment takes).
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { build } from "esbuild";

const here = path.dirname(fileURLToPath(import.meta.url));
const sdkAssets = path.join(here, "node_modules", "hydrogen-view-sdk", "asset-build", "assets");
const olm = path.join(here, "node_modules", "@matrix-org", "olm");
// Hydrogen's service worker: it hands the access token to authenticated media requests, and the
// client's session start-up expects it to be there.
const serviceWorker = path.join(here, "node_modules", "hydrogen-view-sdk", "lib-build", "sw.js");

const types = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript", ".mjs": "text/javascript",
    ".css": "text/css", ".json": "application/json", ".wasm": "application/wasm", ".svg": "image/svg+xml",
    ".woff": "font/woff", ".woff2": "font/woff2",
};

const indexHtml = `<!DOCTYPE html>
<html>
<head>
  <meta charset="utf-8">
  <title>Hydrogen</title>
  <link rel="stylesheet" href="assets/theme-element-light.css">
</head>
<body class="hydrogen">
  <div id="app" class="hydrogen"></div>
  <script type="module" src="app.js"></script>
</body>
</html>`;

async function bundleApp() {
    const result = await build({
        entryPoints: [path.join(here, "app.mjs")],
        bundle: true,
        format: "esm",
        platform: "browser",
        target: "chrome120",
        write: false,
        logLevel: "silent",
        // Olm's Emscripten loader names Node's modules on a branch a browser never takes.
        external: ["fs", "path", "crypto"],
    });
    return result.outputFiles[0].contents;
}

/** Starts the server on 127.0.0.1 and a free port; resolves to its origin and a close function. */
export async function serveHydrogen(homeserverUrl) {
    const appJs = await bundleApp();
    const config = JSON.stringify({ defaultHomeServer: homeserverUrl });
    const server = createServer(async (request, response) => {
        const url = new URL(request.url, "http://127.0.0.1");
        const send = (status, type, body) => {
            response.writeHead(status, { "Content-Type": type, "Cache-Control": "no-store" });
            response.end(body);
        };
        try {
            if (url.pathname === "/" || url.pathname === "/index.html") return send(200, types[".html"], indexHtml);
            if (url.pathname === "/app.js") return send(200, types[".js"], appJs);
            if (url.pathname === "/config.json") return send(200, types[".json"], config);
            if (url.pathname === "/sw.js") return send(200, types[".js"], await readFile(serviceWorker));
            const file = staticFile(url.pathname);
            if (!file) return send(404, "text/plain", "not found");
            send(200, types[path.extname(file)] ?? "application/octet-stream", await readFile(file));
        } catch {
            send(404, "text/plain", "not found");
        }
    });
    await new Promise((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
    const origin = `http://127.0.0.1:${server.address().port}`;
    return { origin, close: () => new Promise(resolve => server.close(resolve)) };
}

/** /assets/* from the SDK's built assets and /olm/* from Olm; nothing outside those folders. */
function staticFile(pathname) {
    for (const [prefix, folder] of [["/assets/", sdkAssets], ["/olm/", olm]]) {
        if (!pathname.startsWith(prefix)) continue;
        const file = path.resolve(folder, decodeURIComponent(pathname.slice(prefix.length)));
        return file.startsWith(folder + path.sep) ? file : null;
    }
    return null;
}
